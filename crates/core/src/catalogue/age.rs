//! How long ago each catalogue fact was checked against its source. A fact that moved after it
//! was written down (a deadline brought forward, a new mandatory version) is judged by the old
//! value with no sign anything is wrong; the one thing Cardwatch can see is the age of each
//! fact's `as_of`, so it warns when that passes a limit.

use super::{Catalogue, Source};
use crate::date::Date;

/// A catalogue fact last checked too long ago.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AgedFact {
    /// What the fact is about, as `catalogue show` names it (`software Identity Agent`).
    pub what: String,
    /// When it was last read from its source.
    pub as_of: Date,
    /// Days from then to the day judged.
    pub days: i32,
}

impl Catalogue {
    /// Every fact whose `as_of` is more than `max_age_days` before `today`, oldest first.
    pub fn facts_older_than(&self, today: Date, max_age_days: i32) -> Vec<AgedFact> {
        let named = |kind: &str, name: String, s: &Source| (format!("{kind} {name}"), s.as_of);
        let mut facts: Vec<(String, Date)> = Vec::new();
        facts.extend(
            self.software
                .iter()
                .map(|e| named("software", e.name.clone(), &e.source)),
        );
        facts.extend(
            self.clients
                .iter()
                .map(|e| named("client", e.name.clone(), &e.source)),
        );
        facts.extend(
            self.series
                .iter()
                .map(|e| named("card series", e.series.to_string(), &e.source)),
        );
        facts.extend(
            self.readers
                .iter()
                .map(|e| named("reader", format!("{} {}", e.vendor, e.model), &e.source)),
        );
        facts.extend(
            self.applications
                .iter()
                .map(|e| named("application", e.name.clone(), &e.source)),
        );
        let mut aged: Vec<AgedFact> = facts
            .into_iter()
            .filter_map(|(what, as_of)| {
                let days = as_of.days_until(today);
                (days > max_age_days).then_some(AgedFact { what, as_of, days })
            })
            .collect();
        aged.sort_by(|a, b| a.as_of.cmp(&b.as_of).then_with(|| a.what.cmp(&b.what)));
        aged
    }
}

/// The warning for facts older than `max_age_days` (none when there are none): how many, the
/// oldest, and what to do.
pub fn age_warning(aged: &[AgedFact], max_age_days: i32) -> Option<String> {
    let oldest = aged.first()?;
    let more = match aged.len() {
        1 => String::new(),
        n => format!(" and {} more", n - 1),
    };
    Some(format!(
        "{} catalogue fact{} last checked more than {max_age_days} days ago: {} as of {} ({} days){more} \
         — check each against its source (`cardwatch catalogue show` lists them) and update the \
         catalogue file, or raise health.catalogue_max_age_days",
        aged.len(),
        if aged.len() == 1 { "" } else { "s" },
        oldest.what,
        oldest.as_of,
        oldest.days,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn day(s: &str) -> Date {
        Date::parse(s).unwrap()
    }

    #[test]
    fn facts_past_the_limit_are_named_oldest_first_and_fresh_ones_are_not() {
        let text = "[[series]]\nseries = 9\nmaker = \"X\"\nauthenticate = true\nsign = true\nsha256 = true\nsource = \"s\"\nas_of = 2026-01-01\n\n\
                    [[readers]]\nvendor = \"Acme\"\nmodel = \"K1\"\ncurrent_firmware = \"1.0\"\nsource = \"v\"\nas_of = 2025-06-01\n\n\
                    [[readers]]\nvendor = \"Acme\"\nmodel = \"K2\"\ncurrent_firmware = \"1.0\"\nsource = \"v\"\nas_of = 2026-06-30\n";
        let cat = Catalogue::parse("over.toml", text).unwrap();
        let today = day("2026-12-30");
        let aged = cat.facts_older_than(today, 183);
        let named: Vec<(&str, i32)> = aged.iter().map(|a| (a.what.as_str(), a.days)).collect();
        assert_eq!(named, [("reader Acme K1", 577), ("card series 9", 363)]);
        // The edge: exactly the limit is still fresh, a day more is not.
        assert!(cat
            .facts_older_than(day("2026-12-30"), 183)
            .iter()
            .all(|a| a.what != "reader Acme K2"));
        assert_eq!(cat.facts_older_than(day("2026-12-30"), 183).len(), 2);
        assert_eq!(cat.facts_older_than(day("2026-12-31"), 183).len(), 3);
        assert!(cat.facts_older_than(day("2025-06-02"), 183).is_empty());

        let w = age_warning(&aged, 183).unwrap();
        assert!(
            w.starts_with("2 catalogue facts last checked more than 183 days ago: reader Acme K1 as of 2025-06-01 (577 days) and 1 more"),
            "{w}"
        );
        assert!(w.contains("update the catalogue file"), "{w}");
        assert_eq!(age_warning(&[], 183), None);
    }

    #[test]
    fn the_shipped_catalogue_ages_like_any_other() {
        let shipped = Catalogue::shipped();
        let newest = shipped
            .facts_older_than(Date::from_days(i32::MAX / 2), 0)
            .last()
            .map(|a| a.as_of)
            .expect("the shipped catalogue has facts");
        assert!(
            shipped.facts_older_than(newest, 0).len()
                < shipped.facts_older_than(newest.add_days(1), 0).len()
        );
        assert!(!shipped
            .facts_older_than(newest.add_days(400), 365)
            .is_empty());
    }
}
