//! Gives the shared library a versioned soname on ELF platforms, as C libraries have:
//! `libdcom_detect.so.MAJOR` (today `.so.0`), so a program linked against it names that file
//! and a later incompatible major version can be installed beside it. `make install` installs
//! `libdcom_detect.so.VERSION` with the `.so.MAJOR` and `.so` symlinks.

fn main() {
    println!("cargo:rerun-if-changed=build.rs");
    let os = std::env::var("CARGO_CFG_TARGET_OS").unwrap_or_default();
    // macOS (install names) and Windows (DLLs) have their own conventions.
    if matches!(
        os.as_str(),
        "linux" | "android" | "freebsd" | "netbsd" | "openbsd" | "dragonfly" | "illumos" | "solaris"
    ) {
        let major = std::env::var("CARGO_PKG_VERSION_MAJOR").expect("cargo sets CARGO_PKG_VERSION_MAJOR");
        println!("cargo:rustc-cdylib-link-arg=-Wl,-soname,libdcom_detect.so.{major}");
    }
}
