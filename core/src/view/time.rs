//! Event time: the instants the event view carries (`@timestamp`, Sysmon's `UtcTime`, EVTX's
//! `TimeCreated`), parsed from their text without allocating.
//!
//! # Accepted text
//! What Elasticsearch's default `date` mapping (`strict_date_optional_time||epoch_millis`)
//! accepts for these fields, plus Sysmon's space-separated form:
//! - `YYYY`, `YYYY-MM` or `YYYY-MM-DD`, the last optionally followed by `T` (or a space, as Sysmon writes `UtcTime`) and
//!   `HH:MM`, `HH:MM:SS` or `HH:MM:SS.f…` (1 to 9 fraction digits are kept, further digits
//!   are read and dropped, as EVTX's 7-digit `SystemTime` needs no rounding);
//! - then `Z`, `±HH:MM`, `±HHMM`, `±HH`, or nothing (UTC, Elasticsearch's default zone);
//! - or an integer of other than four digits: milliseconds since the Unix epoch (a JSON
//!   number in `@timestamp`; four digits are a year, as Elasticsearch tries the date form
//!   first).
//!
//! Anything else (a month 13, a 25th hour, trailing text) is no timestamp: `None`, never a
//! panic. Instants are `i64` nanoseconds, so only 1677-09-21 to 2262-04-11 are represented
//! (Elasticsearch's `date_nanos` range); a date outside is `None`. Leap seconds are not
//! representable (`:60` is refused).

use std::fmt;

/// An instant, as nanoseconds since 1970-01-01T00:00:00Z (UTC, no leap seconds), from
/// 1677-09-21 to 2262-04-11. Ordered, copied freely.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Timestamp(i64);

const NANOS_PER_SECOND: i64 = 1_000_000_000;
const SECONDS_PER_DAY: i64 = 86_400;

impl Timestamp {
    /// The instant `nanos` nanoseconds after the Unix epoch.
    pub const fn from_unix_nanos(nanos: i64) -> Timestamp {
        Timestamp(nanos)
    }

    /// Nanoseconds since the Unix epoch.
    pub const fn unix_nanos(self) -> i64 {
        self.0
    }

    /// Milliseconds since the Unix epoch (rounded towards minus infinity).
    pub const fn unix_millis(self) -> i64 {
        self.0.div_euclid(1_000_000)
    }

    /// Parses a timestamp's text (see the [module](self) for the forms). O(length), no
    /// allocation.
    pub fn parse(text: &str) -> Option<Timestamp> {
        let b = text.as_bytes();
        let all_digits = b.iter().enumerate().all(|(i, c)| c.is_ascii_digit() || (i == 0 && *c == b'-'));
        if all_digits && b.len() != 4 {
            let millis: i64 = text.parse().ok()?;
            return millis.checked_mul(1_000_000).map(Timestamp);
        }
        let mut p = Parser { b, at: 0 };
        let year = p.digits(4)?;
        let (mut month, mut day) = (1, 1);
        let mut full_date = false;
        if p.peek() == Some(b'-') {
            p.at += 1;
            month = p.digits(2)?;
            if p.peek() == Some(b'-') {
                p.at += 1;
                day = p.digits(2)?;
                full_date = true;
            }
        }
        if !(1..=12).contains(&month) || day < 1 || day > days_in_month(year, month) {
            return None;
        }
        let (mut hour, mut minute, mut second, mut nanos) = (0, 0, 0, 0);
        if full_date && matches!(p.peek(), Some(b'T' | b't' | b' ')) {
            p.at += 1;
            hour = p.digits(2)?;
            p.expect(b':')?;
            minute = p.digits(2)?;
            if p.peek() == Some(b':') {
                p.at += 1;
                second = p.digits(2)?;
                if matches!(p.peek(), Some(b'.' | b',')) {
                    p.at += 1;
                    nanos = p.fraction()?;
                }
            }
            if hour > 23 || minute > 59 || second > 59 {
                return None;
            }
        }
        let offset = p.zone()?;
        if p.at != b.len() {
            return None;
        }
        let days = days_from_civil(year, month, day);
        let seconds = days * SECONDS_PER_DAY + hour * 3600 + minute * 60 + second - offset;
        let nanos = i128::from(seconds) * i128::from(NANOS_PER_SECOND) + i128::from(nanos);
        i64::try_from(nanos).ok().map(Timestamp)
    }
}

/// RFC 3339 in UTC with nanoseconds: `2019-05-14T01:28:10.123456700Z`.
impl fmt::Display for Timestamp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let seconds = self.0.div_euclid(NANOS_PER_SECOND);
        let nanos = self.0.rem_euclid(NANOS_PER_SECOND);
        let (days, time) = (seconds.div_euclid(SECONDS_PER_DAY), seconds.rem_euclid(SECONDS_PER_DAY));
        let (year, month, day) = civil_from_days(days);
        write!(f, "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}.{nanos:09}Z", time / 3600, time / 60 % 60, time % 60)
    }
}

struct Parser<'a> {
    b: &'a [u8],
    at: usize,
}

impl Parser<'_> {
    fn peek(&self) -> Option<u8> {
        self.b.get(self.at).copied()
    }

    fn expect(&mut self, c: u8) -> Option<()> {
        (self.peek()? == c).then(|| self.at += 1)
    }

    /// Exactly `n` ASCII digits.
    fn digits(&mut self, n: usize) -> Option<i64> {
        let part = self.b.get(self.at..self.at + n)?;
        let mut value = 0;
        for &c in part {
            if !c.is_ascii_digit() {
                return None;
            }
            value = value * 10 + i64::from(c - b'0');
        }
        self.at += n;
        Some(value)
    }

    /// One or more fraction digits, as nanoseconds (the tenth digit on is dropped).
    fn fraction(&mut self) -> Option<i64> {
        let start = self.at;
        let mut nanos = 0;
        while let Some(c @ b'0'..=b'9') = self.peek() {
            if self.at - start < 9 {
                nanos = nanos * 10 + i64::from(c - b'0');
            }
            self.at += 1;
        }
        let n = self.at - start;
        if n == 0 {
            return None;
        }
        Some(nanos * 10_i64.pow(9 - n.min(9) as u32))
    }

    /// The zone's offset east of UTC, in seconds (0 when absent).
    fn zone(&mut self) -> Option<i64> {
        let sign = match self.peek() {
            None => return Some(0),
            Some(b'Z' | b'z') => {
                self.at += 1;
                return Some(0);
            }
            Some(b'+') => 1,
            Some(b'-') => -1,
            Some(_) => return None,
        };
        self.at += 1;
        let hours = self.digits(2)?;
        let minutes = match self.peek() {
            Some(b':') => {
                self.at += 1;
                self.digits(2)?
            }
            Some(b'0'..=b'9') => self.digits(2)?,
            _ => 0,
        };
        if hours > 23 || minutes > 59 {
            return None;
        }
        Some(sign * (hours * 3600 + minutes * 60))
    }
}

fn is_leap(year: i64) -> bool {
    year % 4 == 0 && (year % 100 != 0 || year % 400 == 0)
}

fn days_in_month(year: i64, month: i64) -> i64 {
    match month {
        2 if is_leap(year) => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

/// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's algorithm).
fn days_from_civil(year: i64, month: i64, day: i64) -> i64 {
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (month + 9) % 12;
    let doy = (153 * mp + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// The inverse of [`days_from_civil`]: (year, month, day) of a day count since 1970-01-01.
pub(crate) fn civil_from_days(days: i64) -> (i64, i64, i64) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    (yoe + era * 400 + i64::from(month <= 2), month, day)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(text: &str) -> Option<String> {
        Timestamp::parse(text).map(|t| t.to_string())
    }

    #[test]
    fn the_forms_the_sources_write() {
        // ECS @timestamp (Elastic Defend, Winlogbeat), EVTX SystemTime, Sysmon UtcTime.
        assert_eq!(at("2024-05-01T12:34:56.789Z").unwrap(), "2024-05-01T12:34:56.789000000Z");
        assert_eq!(at("2019-05-14T01:28:10.1234567Z").unwrap(), "2019-05-14T01:28:10.123456700Z");
        assert_eq!(at("2019-03-19 17:15:16.129").unwrap(), "2019-03-19T17:15:16.129000000Z");
        assert_eq!(at("2020-10-20T03:00:00+02:00").unwrap(), "2020-10-20T01:00:00.000000000Z");
        assert_eq!(at("2020-10-20T03:00:00-0130").unwrap(), "2020-10-20T04:30:00.000000000Z");
        assert_eq!(at("2020-10-20T03:00+01").unwrap(), "2020-10-20T02:00:00.000000000Z");
        assert_eq!(at("2020-02-29").unwrap(), "2020-02-29T00:00:00.000000000Z");
        assert_eq!(at("1970-01-01T00:00:00.0000000001Z").unwrap(), "1970-01-01T00:00:00.000000000Z");
        // epoch_millis, as a JSON number's text.
        assert_eq!(at("1557797290123").unwrap(), "2019-05-14T01:28:10.123000000Z");
        assert_eq!(at("-1").unwrap(), "1969-12-31T23:59:59.999000000Z");
    }

    #[test]
    fn agrees_with_the_calendar() {
        assert_eq!(Timestamp::parse("1970-01-01T00:00:00Z").unwrap().unix_nanos(), 0);
        assert_eq!(Timestamp::parse("2000-03-01T00:00:00Z").unwrap().unix_millis(), 951_868_800_000);
        assert_eq!(Timestamp::parse("2262-04-11T23:47:16.854775807Z").unwrap().unix_nanos(), i64::MAX);
        assert_eq!(Timestamp::parse("1677-09-21T00:12:43.145224192Z").unwrap().unix_nanos(), i64::MIN);
        assert_eq!(Timestamp::parse("2262-04-11T23:47:16.854775808Z"), None, "out of range");
        assert_eq!(Timestamp::parse("0000-01-01"), None, "out of range");
        assert_eq!(Timestamp::parse("2019").unwrap().to_string(), "2019-01-01T00:00:00.000000000Z");
        assert_eq!(Timestamp::parse("2019-05").unwrap().to_string(), "2019-05-01T00:00:00.000000000Z");
        for days in [-719_528, -1, 0, 59, 60, 365, 10_957, 11_016, 2_932_896] {
            let (y, m, d) = civil_from_days(days);
            assert_eq!(days_from_civil(y, m, d), days, "{y}-{m}-{d}");
        }
    }

    #[test]
    fn refuses_what_is_no_date() {
        for bad in [
            "",
            "-",
            "2019-",
            "2019-05T12:00",
            "2019-13-01",
            "2019-02-29",
            "2019-04-31",
            "2019-00-10",
            "2019-01-00",
            "2019-01-01T24:00:00Z",
            "2019-01-01T23:60:00Z",
            "2019-01-01T23:59:60Z",
            "2019-01-01T12",
            "2019-01-01T12:00:00.Z",
            "2019-01-01T12:00:00Zjunk",
            "2019-01-01T12:00:00+2400",
            "2019-01-01X12:00:00",
            "١٢٣",
            "99999999999999999999",
            "2019-1-01",
            "+2019-01-01",
        ] {
            assert_eq!(Timestamp::parse(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn orders_by_instant() {
        let a = Timestamp::parse("2020-10-20T03:00:00+02:00").unwrap();
        let b = Timestamp::parse("2020-10-20T01:00:00.5Z").unwrap();
        assert!(a < b);
        assert_eq!(b.unix_nanos() - a.unix_nanos(), 500_000_000);
    }
}
