//! Working days: Monday to Friday, less bank holidays (England and Wales, shipped in
//! `knowledge/bank-holidays.toml`) and any closures the operator adds.

use std::collections::BTreeSet;

use serde::Deserialize;

use crate::date::Date;

/// The shipped bank holidays.
pub const SHIPPED: &str = include_str!("../../../knowledge/bank-holidays.toml");

/// Which days an RA team works.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Calendar {
    closed: BTreeSet<Date>,
}

#[derive(Deserialize)]
struct File {
    #[allow(dead_code)]
    source: String,
    #[allow(dead_code)]
    as_of: toml::value::Datetime,
    days: Vec<toml::value::Datetime>,
}

impl Calendar {
    /// Weekends and the shipped bank holidays off.
    pub fn england_and_wales() -> Calendar {
        let file: File = toml::from_str(SHIPPED)
            .unwrap_or_else(|e| panic!("the shipped bank holidays are invalid: {e}"));
        let closed = file
            .days
            .iter()
            .map(|d| {
                Date::parse(&d.to_string())
                    .unwrap_or_else(|e| panic!("shipped bank holiday {d}: {e}"))
            })
            .collect();
        Calendar { closed }
    }

    /// Weekends off only.
    pub fn weekends_only() -> Calendar {
        Calendar::default()
    }

    /// This calendar with more days closed.
    pub fn with_closed(mut self, days: impl IntoIterator<Item = Date>) -> Calendar {
        self.closed.extend(days);
        self
    }

    /// Whether the team works on `d`.
    pub fn is_working(&self, d: Date) -> bool {
        d.weekday() < 5 && !self.closed.contains(&d)
    }

    /// Working days after `from` up to and including `to` (0 when `to` is not after `from`).
    pub fn working_days_between(&self, from: Date, to: Date) -> i32 {
        let mut n = 0;
        let mut d = from;
        while d < to {
            d = d.add_days(1);
            n += i32::from(self.is_working(d));
        }
        n
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(s: &str) -> Date {
        Date::parse(s).unwrap()
    }

    #[test]
    fn weekends_and_bank_holidays_are_off() {
        let c = Calendar::england_and_wales();
        assert!(c.is_working(d("2026-12-24")));
        assert!(!c.is_working(d("2026-12-25")));
        assert!(!c.is_working(d("2026-12-26")), "Saturday");
        assert!(!c.is_working(d("2026-12-28")), "Boxing Day substitute");
        assert!(c.is_working(d("2026-12-29")));
        // Thu 24 Dec 2026 to Tue 5 Jan 2027: 29, 30, 31 Dec, 4, 5 Jan.
        assert_eq!(c.working_days_between(d("2026-12-24"), d("2027-01-05")), 5);
        assert_eq!(
            Calendar::weekends_only().working_days_between(d("2026-12-24"), d("2027-01-05")),
            8
        );
        assert!(!c
            .clone()
            .with_closed([d("2026-12-29")])
            .is_working(d("2026-12-29")));
    }
}
