//! Sources: what a file holds (by its content, never its name) and which files a scan reads.
//!
//! * [`detect`] recognises a file's format by its first bytes: gzip (`1f 8b`), EVTX
//!   (`ElfFile\0`), Parquet (`PAR1`), else NDJSON. Every door (Rust's [`scan_path`], Python's
//!   `Rule.scan`, the command line) asks this one function, so a Parquet file named `.json`
//!   is read as Parquet, and an EVTX file named `.log` as EVTX.
//! * [`Inputs`] turns paths given by a user (files, or directories walked recursively in
//!   sorted order) into the files to scan, each [`Opened`] and recognised, and names what it
//!   skips ([`Input::Skipped`]): inside a directory, a file whose content is none of the
//!   formats (a README, a binary), one that cannot be opened or read, or a special file.
//!   A file named explicitly is always scanned (unrecognised content as NDJSON, whose lines
//!   are then rejected one by one with their reasons). Directory symlinks are followed, each
//!   directory is walked once, so a symlink loop ends.
//! * [`scan_opened`] scans an opened file in its format. A format whose support is not built
//!   in (the `evtx` or `parquet` feature) is a [`ScanError`] whose I/O error has kind
//!   `Unsupported` and wraps an [`UnsupportedFormat`], never NDJSON garbage.
//!

use std::collections::HashSet;
use std::fmt;
use std::fs::{self, File};
use std::io::{self, BufReader, Read, Seek, SeekFrom};
use std::ops::ControlFlow;
use std::path::{Path, PathBuf};

use crate::rule::Rule;
use crate::scan::{Found, ScanError, ScanOptions, Stats};

/// Bytes read from the start of a file to recognise it.
pub const SNIFF_BYTES: usize = 512;

/// What a file holds, recognised by its first bytes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Format {
    /// Newline-delimited JSON (anything that is not one of the other formats).
    Ndjson,
    /// gzip-compressed NDJSON (`1f 8b`; concatenated members are read as one stream).
    Gzip,
    /// A Windows event log file (`ElfFile\0`; feature `evtx`).
    Evtx,
    /// A Parquet file (`PAR1`; feature `parquet`).
    Parquet,
}

impl Format {
    /// The format's name as messages use it: `NDJSON`, `gzip`, `EVTX`, `Parquet`.
    pub fn name(self) -> &'static str {
        match self {
            Format::Ndjson => "NDJSON",
            Format::Gzip => "gzip",
            Format::Evtx => "EVTX",
            Format::Parquet => "Parquet",
        }
    }

    /// Whether this build can read the format (EVTX and Parquet are cargo features).
    pub fn supported(self) -> bool {
        match self {
            Format::Ndjson | Format::Gzip => true,
            Format::Evtx => cfg!(feature = "evtx"),
            Format::Parquet => cfg!(feature = "parquet"),
        }
    }

    /// The cargo feature that reads the format, if one is needed.
    pub fn feature(self) -> Option<&'static str> {
        match self {
            Format::Ndjson | Format::Gzip => None,
            Format::Evtx => Some("evtx"),
            Format::Parquet => Some("parquet"),
        }
    }
}

impl fmt::Display for Format {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// The format of data that starts with `start` (at least 8 bytes unless the data is shorter).
///
/// ```
/// use dcom_detect_core::source::{detect, Format};
/// assert_eq!(detect(b"ElfFile\0..."), Format::Evtx);
/// assert_eq!(detect(b"PAR1\x15\x04"), Format::Parquet);
/// assert_eq!(detect(&[0x1f, 0x8b, 8, 0]), Format::Gzip);
/// assert_eq!(detect(b"{\"a\":1}\n"), Format::Ndjson);
/// ```
pub fn detect(start: &[u8]) -> Format {
    if start.starts_with(&[0x1f, 0x8b]) {
        Format::Gzip
    } else if start.starts_with(b"ElfFile\0") {
        Format::Evtx
    } else if start.starts_with(b"PAR1") {
        Format::Parquet
    } else {
        Format::Ndjson
    }
}

/// Whether `start` (the first bytes of an NDJSON stream) looks like records: after an optional
/// UTF-8 byte order mark and whitespace, the first byte is `{`. Empty or blank data counts
/// (there is nothing to misread).
pub fn looks_like_ndjson(start: &[u8]) -> bool {
    let start = start.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(start);
    match start.iter().find(|&&b| !crate::view::json::is_whitespace(b)) {
        None => true,
        Some(&b) => b == b'{',
    }
}

/// A format this build cannot read (its cargo feature is off); wrapped in the
/// `io::Error` (kind `Unsupported`) of a [`ScanError`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct UnsupportedFormat {
    /// The format the file holds.
    pub format: Format,
}

impl fmt::Display for UnsupportedFormat {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.format.feature() {
            Some(feature) => write!(
                f,
                "{} file: this build of dcom-detect cannot read {} (the `{feature}` feature of dcom-detect-core is off)",
                self.format, self.format
            ),
            None => write!(f, "{} file: not supported", self.format),
        }
    }
}

impl std::error::Error for UnsupportedFormat {}

impl UnsupportedFormat {
    /// The I/O error (kind `Unsupported`) that carries it.
    pub fn into_io(self) -> io::Error {
        io::Error::new(io::ErrorKind::Unsupported, self)
    }

    /// The `UnsupportedFormat` inside an I/O error, if that is what it is.
    pub fn of(error: &io::Error) -> Option<UnsupportedFormat> {
        error.get_ref().and_then(|e| e.downcast_ref::<UnsupportedFormat>()).copied()
    }
}

/// A file opened for scanning, its format recognised. The bytes read to recognise it are
/// kept, so a pipe or FIFO (which cannot be rewound) loses nothing.
#[derive(Debug)]
pub struct Opened {
    /// The path, as given or as found by walking a directory.
    pub path: PathBuf,
    /// What it holds.
    pub format: Format,
    file: File,
    /// The first bytes, when the file could not be rewound after reading them.
    head: Vec<u8>,
    /// The first bytes, for [`Opened::looks_like_records`].
    sniffed: Vec<u8>,
}

impl Opened {
    /// Opens `path` and recognises its format.
    pub fn open(path: &Path) -> io::Result<Opened> {
        let mut file = File::open(path)?;
        if file.metadata()?.is_dir() {
            // `ErrorKind::IsADirectory` needs Rust 1.83; the workspace supports 1.75.
            return Err(io::Error::other("is a directory"));
        }
        let mut sniffed = vec![0u8; SNIFF_BYTES];
        let n = read_up_to(&mut file, &mut sniffed)?;
        sniffed.truncate(n);
        // A regular file is rewound; a pipe keeps what was read in front of the rest.
        let head = match file.seek(SeekFrom::Start(0)) {
            Ok(_) => Vec::new(),
            Err(_) => sniffed.clone(),
        };
        Ok(Opened { path: path.to_path_buf(), format: detect(&sniffed), file, head, sniffed })
    }

    /// Whether the content is one of the formats: gzip, EVTX or Parquet by their magic, or
    /// NDJSON that starts like a JSON object (see [`looks_like_ndjson`]; for gzip, the
    /// decompressed start is checked). Directory walks skip files for which this is false.
    pub fn looks_like_records(&self) -> bool {
        match self.format {
            Format::Evtx | Format::Parquet => true,
            Format::Ndjson => looks_like_ndjson(&self.sniffed),
            Format::Gzip => {
                // Decompress the start of a fresh handle: the file itself stays at its start.
                let Ok(file) = File::open(&self.path) else { return false };
                let mut start = vec![0u8; SNIFF_BYTES];
                let mut gz = flate2::read::MultiGzDecoder::new(io::BufReader::new(file));
                match read_up_to(&mut gz, &mut start) {
                    Ok(n) => looks_like_ndjson(&start[..n]),
                    Err(_) => false,
                }
            }
        }
    }

    /// The file's size in bytes as stored, when known.
    pub fn len(&self) -> Option<u64> {
        self.file.metadata().ok().filter(|m| m.is_file()).map(|m| m.len())
    }

    /// Whether the file is known to be empty.
    pub fn is_empty(&self) -> bool {
        self.len() == Some(0)
    }

    /// The file's bytes as stored, from the start (gzip not decompressed).
    pub fn into_raw(self) -> io::Chain<io::Cursor<Vec<u8>>, File> {
        io::Cursor::new(self.head).chain(self.file)
    }

    /// The file, rewound (for formats that need random access). Fails for a pipe.
    pub fn into_file(self) -> io::Result<File> {
        if !self.head.is_empty() {
            return Err(io::Error::new(
                io::ErrorKind::Unsupported,
                format!("{} needs random access: give a regular file, not a pipe", self.format),
            ));
        }
        Ok(self.file)
    }
}

/// Reads until `buf` is full or the input ends (a pipe may return less per read); the
/// number of bytes read.
pub(crate) fn read_up_to(reader: &mut impl Read, buf: &mut [u8]) -> io::Result<usize> {
    let mut n = 0;
    while n < buf.len() {
        match reader.read(&mut buf[n..]) {
            Ok(0) => break,
            Ok(k) => n += k,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(n)
}

/// Scans an opened file in its format, calling `sink` for every match, suppressed match and
/// rejected record in input order; Parquet columns are read by their ECS paths.
pub fn scan_opened<F>(rule: &Rule, options: &ScanOptions, opened: Opened, sink: F) -> Result<Stats, ScanError>
where
    F: FnMut(Found<'_>) -> ControlFlow<()>,
{
    #[cfg(feature = "parquet")]
    {
        scan_opened_with(rule, options, &crate::source::arrow::ColumnMap::default(), opened, sink)
    }
    #[cfg(not(feature = "parquet"))]
    {
        dispatch(rule, options, opened, sink)
    }
}

/// [`scan_opened`], reading Parquet fields from the columns `columns` names.
#[cfg(feature = "parquet")]
pub fn scan_opened_with<F>(
    rule: &Rule,
    options: &ScanOptions,
    columns: &crate::source::arrow::ColumnMap,
    opened: Opened,
    sink: F,
) -> Result<Stats, ScanError>
where
    F: FnMut(Found<'_>) -> ControlFlow<()>,
{
    dispatch(rule, options, columns, opened, sink)
}

fn dispatch<F>(
    rule: &Rule,
    options: &ScanOptions,
    #[cfg(feature = "parquet")] columns: &crate::source::arrow::ColumnMap,
    opened: Opened,
    sink: F,
) -> Result<Stats, ScanError>
where
    F: FnMut(Found<'_>) -> ControlFlow<()>,
{
    let failed = |error| ScanError { error, stats: Stats::default() };
    if !opened.format.supported() {
        return Err(failed(UnsupportedFormat { format: opened.format }.into_io()));
    }
    match opened.format {
        Format::Ndjson | Format::Gzip => {
            let reader = maybe_gzip(opened.into_raw()).map_err(failed)?;
            crate::scan::scan_ndjson(rule, options, reader, sink)
        }
        #[cfg(feature = "evtx")]
        Format::Evtx => crate::source::evtx::scan_evtx_reader(rule, options, opened.into_file().map_err(failed)?, sink),
        #[cfg(feature = "parquet")]
        Format::Parquet => {
            let file = opened.into_file().map_err(failed)?;
            match options.profile {
                profile if profile.correlates() => {
                    crate::source::parquet::scan_parquet_observing(rule, columns, profile, file, sink)
                }
                _ => crate::source::parquet::scan_parquet(rule, columns, file, sink),
            }
        }
        #[allow(unreachable_patterns)]
        format => Err(failed(UnsupportedFormat { format }.into_io())),
    }
}

/// Why [`Inputs`] skipped a file.
#[derive(Debug)]
pub enum SkipReason {
    /// Inside a directory: the content is none of the formats (see
    /// [`Opened::looks_like_records`]).
    Unrecognised,
    /// The format's support is not built in.
    Unsupported(Format),
    /// Inside a directory: not a regular file or directory (a socket, a FIFO, a device).
    NotAFile,
    /// A directory already walked (reached again through a symlink).
    AlreadyWalked,
    /// The file or directory could not be opened or read.
    Unreadable(io::Error),
}

impl SkipReason {
    /// Whether the file was skipped because it could not be read (an error a caller may
    /// want to report as such), rather than by choice.
    pub fn is_unreadable(&self) -> bool {
        matches!(self, SkipReason::Unreadable(_))
    }
}

impl fmt::Display for SkipReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SkipReason::Unrecognised => f.write_str("not NDJSON, gzip, EVTX or Parquet"),
            SkipReason::Unsupported(format) => UnsupportedFormat { format: *format }.fmt(f),
            SkipReason::NotAFile => f.write_str("not a regular file"),
            SkipReason::AlreadyWalked => f.write_str("directory already walked (symlink loop)"),
            SkipReason::Unreadable(error) => write!(f, "unreadable: {error}"),
        }
    }
}

/// One item of [`Inputs`].
#[derive(Debug)]
pub enum Input {
    /// A file to scan.
    File(Opened),
    /// A file or directory not scanned, and why.
    Skipped {
        /// Its path.
        path: PathBuf,
        /// Why.
        reason: SkipReason,
    },
}

/// The files to scan for a list of paths: each path in the order given; a directory is
/// walked recursively, its entries in sorted (byte) order, depth first. Lazy: a directory is
/// listed when the walk reaches it, a file opened when it is yielded.
///
/// ```no_run
/// use dcom_detect_core::source::{Input, Inputs};
/// for input in Inputs::new(["logs/", "extra.evtx"]) {
///     match input {
///         Input::File(opened) => println!("{}: {}", opened.path.display(), opened.format),
///         Input::Skipped { path, reason } => eprintln!("skipped {}: {reason}", path.display()),
///     }
/// }
/// ```
#[derive(Debug)]
pub struct Inputs {
    /// Paths still to visit, last first, with whether they were given explicitly.
    pending: Vec<(PathBuf, bool)>,
    /// Directories walked, by identity (canonical path).
    walked: HashSet<PathBuf>,
}

impl Inputs {
    /// The inputs for `paths`, in order.
    pub fn new<I, P>(paths: I) -> Inputs
    where
        I: IntoIterator<Item = P>,
        P: Into<PathBuf>,
    {
        let mut pending: Vec<(PathBuf, bool)> = paths.into_iter().map(|p| (p.into(), true)).collect();
        pending.reverse();
        Inputs { pending, walked: HashSet::new() }
    }

    fn skipped(path: PathBuf, reason: SkipReason) -> Input {
        Input::Skipped { path, reason }
    }

    fn visit(&mut self, path: PathBuf, explicit: bool) -> Option<Input> {
        // Follows symlinks: a link to a directory is walked like the directory.
        let metadata = match fs::metadata(&path) {
            Ok(m) => m,
            Err(e) => return Some(Self::skipped(path, SkipReason::Unreadable(e))),
        };
        if metadata.is_dir() {
            let identity = fs::canonicalize(&path).unwrap_or_else(|_| path.clone());
            if !self.walked.insert(identity) {
                return Some(Self::skipped(path, SkipReason::AlreadyWalked));
            }
            let entries = match fs::read_dir(&path) {
                Ok(entries) => entries,
                Err(e) => return Some(Self::skipped(path, SkipReason::Unreadable(e))),
            };
            let mut children = Vec::new();
            for entry in entries {
                match entry {
                    Ok(entry) => children.push(entry.path()),
                    Err(e) => return Some(Self::skipped(path, SkipReason::Unreadable(e))),
                }
            }
            children.sort();
            self.pending.extend(children.into_iter().rev().map(|p| (p, false)));
            return None;
        }
        if !explicit && !metadata.is_file() {
            // Opening a FIFO found in a folder would wait for a writer.
            return Some(Self::skipped(path, SkipReason::NotAFile));
        }
        let opened = match Opened::open(&path) {
            Ok(o) => o,
            Err(e) => return Some(Self::skipped(path, SkipReason::Unreadable(e))),
        };
        if !opened.format.supported() {
            return Some(Self::skipped(path, SkipReason::Unsupported(opened.format)));
        }
        if !explicit && !opened.looks_like_records() {
            return Some(Self::skipped(path, SkipReason::Unrecognised));
        }
        Some(Input::File(opened))
    }
}

impl Iterator for Inputs {
    type Item = Input;

    fn next(&mut self) -> Option<Input> {
        while let Some((path, explicit)) = self.pending.pop() {
            if let Some(input) = self.visit(path, explicit) {
                return Some(input);
            }
        }
        None
    }
}

/// Opens a file for scanning, decompressing it if it is gzip (detected by its magic bytes,
/// not its name). Reads the file once from its start, so a pipe or FIFO works too.
pub fn open(path: &Path) -> io::Result<Box<dyn Read + Send>> {
    maybe_gzip(std::fs::File::open(path)?)
}

/// Wraps any reader, decompressing gzip (detected by magic bytes).
pub fn maybe_gzip<R: Read + Send + 'static>(mut reader: R) -> io::Result<Box<dyn Read + Send>> {
    let mut magic = [0u8; 2];
    let n = read_up_to(&mut reader, &mut magic)?;
    let stream = io::Cursor::new(magic[..n].to_vec()).chain(reader);
    if n == 2 && magic == [0x1f, 0x8b] {
        Ok(Box::new(flate2::read::MultiGzDecoder::new(BufReader::with_capacity(1 << 16, stream))))
    } else {
        Ok(Box::new(stream))
    }
}

/// Scans a file of any supported kind, recognised by its content ([`detect`]):
/// NDJSON (plain or gzip), EVTX or Parquet (fields read by their ECS paths). A format whose
/// cargo feature is off fails with an `Unsupported` error wrapping
/// [`UnsupportedFormat`]. The file is read once from its start, so a pipe or
/// FIFO of NDJSON works too.
pub fn scan_path<F>(rule: &Rule, options: &ScanOptions, path: &Path, sink: F) -> Result<Stats, ScanError>
where
    F: FnMut(Found<'_>) -> ControlFlow<()>,
{
    let opened = Opened::open(path).map_err(|error| ScanError { error, stats: Stats::default() })?;
    scan_opened(rule, options, opened, sink)
}
