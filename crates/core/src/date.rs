//! Calendar dates and UTC timestamps.
//!
//! Our own small types rather than a date crate: imports parse millions of dates, UK
//! (`dd/mm/yyyy`) and ISO (`yyyy-mm-dd`) forms both appear in the same estate, and the planner
//! needs cheap day arithmetic. Days are counted from 1970-01-01 (proleptic Gregorian).

use std::fmt;

/// A calendar date, stored as days since 1970-01-01.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Date(i32);

/// Why a date could not be read.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum DateError {
    /// The text is not in either accepted layout.
    #[error("not a date — write it as yyyy-mm-dd (ISO) or dd/mm/yyyy (UK)")]
    Layout,
    /// The layout is right but the day does not exist.
    #[error("no such day ({0}) — check the day and month")]
    NoSuchDay(String),
    /// Outside the years Cardwatch handles.
    #[error("year {0} is out of range (1900–2199) — check the year")]
    Year(i32),
    /// A time of day that does not exist.
    #[error("not a time — write it as hh:mm or hh:mm:ss (24-hour clock)")]
    Time,
}

const fn is_leap(y: i32) -> bool {
    (y % 4 == 0 && y % 100 != 0) || y % 400 == 0
}

/// Days in month `m` (1–12) of year `y`.
pub const fn days_in_month(y: i32, m: u32) -> u32 {
    match m {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        2 if is_leap(y) => 29,
        2 => 28,
        _ => 0,
    }
}

fn digits(s: &[u8]) -> Option<u32> {
    if s.is_empty() {
        return None;
    }
    s.iter().try_fold(0u32, |acc, &b| {
        b.is_ascii_digit().then(|| acc * 10 + u32::from(b - b'0'))
    })
}

impl Date {
    /// Builds a date from year, month (1–12) and day, refusing days that do not exist.
    pub fn from_ymd(y: i32, m: u32, d: u32) -> Result<Date, DateError> {
        if !(1900..=2199).contains(&y) {
            return Err(DateError::Year(y));
        }
        if !(1..=12).contains(&m) || d == 0 || d > days_in_month(y, m) {
            return Err(DateError::NoSuchDay(format!("{y:04}-{m:02}-{d:02}")));
        }
        Ok(Date(days_from_civil(y, m, d)))
    }

    /// The date `days` after 1970-01-01.
    pub const fn from_days(days: i32) -> Date {
        Date(days)
    }

    /// Days since 1970-01-01.
    pub const fn days(self) -> i32 {
        self.0
    }

    /// Year, month, day.
    pub fn ymd(self) -> (i32, u32, u32) {
        civil_from_days(self.0)
    }

    /// This date moved by `n` days (negative moves back).
    pub const fn add_days(self, n: i32) -> Date {
        Date(self.0 + n)
    }

    /// Days from `self` to `later` (negative when `later` is earlier).
    pub const fn days_until(self, later: Date) -> i32 {
        later.0 - self.0
    }

    /// The date as people write it: "28 February 2027".
    pub fn long(self) -> String {
        const MONTHS: [&str; 12] = [
            "January",
            "February",
            "March",
            "April",
            "May",
            "June",
            "July",
            "August",
            "September",
            "October",
            "November",
            "December",
        ];
        let (y, m, d) = self.ymd();
        format!("{d} {} {y}", MONTHS[(m - 1) as usize])
    }

    /// The date as a chart's axis writes it, its month cut to three letters: "5 Dec 2026".
    pub fn short(self) -> String {
        let long = self.long();
        let mut parts = long.splitn(3, ' ');
        match (parts.next(), parts.next(), parts.next()) {
            (Some(day), Some(month), Some(year)) => format!("{day} {} {year}", &month[..3]),
            _ => long,
        }
    }

    /// Day of the week, 0 = Monday … 6 = Sunday.
    pub const fn weekday(self) -> u32 {
        // 1970-01-01 was a Thursday (3).
        (self.0 + 3).rem_euclid(7) as u32
    }

    /// Parses `yyyy-mm-dd` or `dd/mm/yyyy` (single-digit day and month accepted in the UK form,
    /// as spreadsheets write them).
    pub fn parse(s: &str) -> Result<Date, DateError> {
        let b = s.trim().as_bytes();
        if b.len() == 10 && b[4] == b'-' && b[7] == b'-' {
            let (y, m, d) = (digits(&b[0..4]), digits(&b[5..7]), digits(&b[8..10]));
            if let (Some(y), Some(m), Some(d)) = (y, m, d) {
                return Date::from_ymd(y as i32, m, d);
            }
            return Err(DateError::Layout);
        }
        let mut parts = b.split(|&c| c == b'/');
        let (d, m, y) = (parts.next(), parts.next(), parts.next());
        if parts.next().is_none() {
            if let (Some(d), Some(m), Some(y)) = (d, m, y) {
                if (1..=2).contains(&d.len()) && (1..=2).contains(&m.len()) && y.len() == 4 {
                    if let (Some(d), Some(m), Some(y)) = (digits(d), digits(m), digits(y)) {
                        return Date::from_ymd(y as i32, m, d);
                    }
                }
            }
        }
        Err(DateError::Layout)
    }

    /// The ISO form `yyyy-mm-dd` as bytes. Bulk import and export print millions of dates; this
    /// is several times faster than the formatting machinery.
    pub fn iso(self) -> [u8; 10] {
        let (y, m, d) = self.ymd();
        let (y, m, d) = (y as u32, m, d);
        let digit = |n: u32| b'0' + (n % 10) as u8;
        [
            digit(y / 1000),
            digit(y / 100),
            digit(y / 10),
            digit(y),
            b'-',
            digit(m / 10),
            digit(m),
            b'-',
            digit(d / 10),
            digit(d),
        ]
    }
}

/// A sentence with its ISO dates (`2027-01-03`, as the estate's facts give them) written as
/// people write them ("3 January 2027").
pub fn dates_in_words(text: &str) -> String {
    let b = text.as_bytes();
    let mut out = String::with_capacity(text.len());
    let mut from = 0;
    let mut i = 0;
    while i + 10 <= b.len() {
        let w = &b[i..i + 10];
        let digits = |r: std::ops::Range<usize>| w[r].iter().all(u8::is_ascii_digit);
        let bounded = (i == 0 || !b[i - 1].is_ascii_alphanumeric())
            && b.get(i + 10).is_none_or(|c| !c.is_ascii_alphanumeric());
        if bounded && digits(0..4) && w[4] == b'-' && digits(5..7) && w[7] == b'-' && digits(8..10)
        {
            if let Ok(d) = Date::parse(&text[i..i + 10]) {
                out.push_str(&text[from..i]);
                out.push_str(&d.long());
                i += 10;
                from = i;
                continue;
            }
        }
        i += 1;
    }
    out.push_str(&text[from..]);
    out
}

impl fmt::Display for Date {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let iso = self.iso();
        // Every byte is an ASCII digit or '-'.
        f.pad(std::str::from_utf8(&iso).map_err(|_| fmt::Error)?)
    }
}

impl serde::Serialize for Date {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

/// A moment in UTC, in whole seconds since 1970-01-01T00:00:00Z.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Timestamp(i64);

impl Timestamp {
    /// From seconds since the Unix epoch.
    pub const fn from_unix(secs: i64) -> Timestamp {
        Timestamp(secs)
    }

    /// Seconds since the Unix epoch.
    pub const fn unix(self) -> i64 {
        self.0
    }

    /// As people write it: "5 December 2026 at 09:41" (UTC, as stored).
    pub fn long(self) -> String {
        let minute = self.0.rem_euclid(86_400) / 60;
        format!(
            "{} at {:02}:{:02}",
            self.date().long(),
            minute / 60,
            minute % 60
        )
    }

    /// The calendar date (UTC) this moment falls on.
    pub const fn date(self) -> Date {
        Date(self.0.div_euclid(86_400) as i32)
    }

    /// Midnight UTC at the start of `date`.
    pub const fn start_of(date: Date) -> Timestamp {
        Timestamp(date.0 as i64 * 86_400)
    }

    /// Parses a date alone (midnight UTC) or a date and time: `yyyy-mm-ddThh:mm[:ss][Z]`,
    /// `yyyy-mm-dd hh:mm[:ss]`, `dd/mm/yyyy hh:mm[:ss]`. Times without a zone are taken as UTC.
    pub fn parse(s: &str) -> Result<Timestamp, DateError> {
        let s = s.trim();
        let (date, time) = match s.find(['T', ' ']) {
            Some(i) => (&s[..i], Some(s[i + 1..].trim_end_matches('Z'))),
            None => (s, None),
        };
        let day = Timestamp::start_of(Date::parse(date)?);
        let Some(time) = time else { return Ok(day) };
        let b = time.as_bytes();
        let field = |r: std::ops::Range<usize>| b.get(r).and_then(digits);
        let (h, m, sec) = match b.len() {
            5 if b[2] == b':' => (field(0..2), field(3..5), Some(0)),
            8 if b[2] == b':' && b[5] == b':' => (field(0..2), field(3..5), field(6..8)),
            _ => return Err(DateError::Time),
        };
        match (h, m, sec) {
            (Some(h), Some(m), Some(sec)) if h < 24 && m < 60 && sec < 60 => {
                Ok(Timestamp(day.0 + i64::from(h * 3600 + m * 60 + sec)))
            }
            _ => Err(DateError::Time),
        }
    }
}

impl fmt::Display for Timestamp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let secs = self.0.rem_euclid(86_400);
        write!(
            f,
            "{}T{:02}:{:02}:{:02}Z",
            self.date(),
            secs / 3600,
            secs / 60 % 60,
            secs % 60
        )
    }
}

impl serde::Serialize for Timestamp {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> serde::Deserialize<'de> for Timestamp {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = <String as serde::Deserialize>::deserialize(d)?;
        Timestamp::parse(&s).map_err(|e| serde::de::Error::custom(format!("{s:?}: {e}")))
    }
}

// Howard Hinnant's civil-date algorithms (public domain), exact for the whole i32 range we use.
fn days_from_civil(y: i32, m: u32, d: u32) -> i32 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let m = m as i32;
    let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + d as i32 - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

fn civil_from_days(z: i32) -> (i32, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (yoe + era * 400 + i32::from(m <= 2), m, d)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn iso_and_uk_forms_agree() {
        let a = Date::parse("2026-02-28").unwrap();
        assert_eq!(Date::parse("28/02/2026").unwrap(), a);
        assert_eq!(Date::parse("1/3/2026").unwrap(), a.add_days(1));
        assert_eq!(a.to_string(), "2026-02-28");
    }

    #[test]
    fn impossible_days_are_refused() {
        assert!(matches!(
            Date::parse("29/02/2026"),
            Err(DateError::NoSuchDay(_))
        ));
        assert!(Date::parse("29/02/2024").is_ok());
        assert_eq!(
            Date::parse("2026-13-01"),
            Err(DateError::NoSuchDay("2026-13-01".into()))
        );
        assert_eq!(Date::parse("2026/01/01"), Err(DateError::Layout));
        assert_eq!(Date::parse("01-01-2026"), Err(DateError::Layout));
        assert_eq!(Date::parse(""), Err(DateError::Layout));
    }

    #[test]
    fn long_form_for_people() {
        assert_eq!(
            Date::parse("2027-02-28").unwrap().long(),
            "28 February 2027"
        );
        assert_eq!(Date::parse("2026-12-05").unwrap().long(), "5 December 2026");
        assert_eq!(Date::parse("2026-12-05").unwrap().short(), "5 Dec 2026");
        assert_eq!(Date::parse("2027-05-31").unwrap().short(), "31 May 2027");
    }

    #[test]
    fn weekday_and_epoch() {
        assert_eq!(Date::from_days(0).to_string(), "1970-01-01");
        // 2022-06-27 (the 140,000-renewal Monday) was a Monday.
        assert_eq!(Date::parse("2022-06-27").unwrap().weekday(), 0);
    }

    #[test]
    fn timestamps_round_trip() {
        let t = Timestamp::parse("2026-11-21T09:05:07Z").unwrap();
        assert_eq!(t.to_string(), "2026-11-21T09:05:07Z");
        assert_eq!(
            Timestamp::parse("21/11/2026 09:05").unwrap().to_string(),
            "2026-11-21T09:05:00Z"
        );
        assert_eq!(
            Timestamp::parse("2026-11-21").unwrap().to_string(),
            "2026-11-21T00:00:00Z"
        );
        assert_eq!(Timestamp::parse("2026-11-21T25:00"), Err(DateError::Time));
    }

    proptest::proptest! {
        #[test]
        fn civil_round_trip(days in -25_000i32..83_000) {
            let d = Date::from_days(days);
            let (y, m, dd) = d.ymd();
            proptest::prop_assert_eq!(Date::from_ymd(y, m, dd).unwrap(), d);
            proptest::prop_assert_eq!(Date::parse(&d.to_string()).unwrap(), d);
        }
    }
}
