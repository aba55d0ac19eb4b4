//! Bringing a kept list of renewals up to date after a change, without reading the estate again.
//!
//! A renewal is decided by its card, the card's certificates, its holder (their site, and
//! whether a position of theirs prescribes), the site's organisation and that organisation's
//! parent. Each is filed under its holder's site, so the sites a change touched
//! ([`crate::health::reach`], placed on sites by the store) hold every renewal the change can
//! add, remove or alter: a card or certificate touches its holder's site, a position its
//! holder's, a person who moved the site they left and the one they joined, a site its own. A
//! change to an organisation is not placed on sites, and the list is read again in full. The
//! renewals of the touched sites, read again, therefore replace theirs to give exactly the list
//! a full read gives.

use std::cmp::Ordering;

use super::Renewal;
use crate::fasthash::{FastMap, FastSet};

/// The order of the estate's renewals: by card, then authentication before signing (as
/// [`crate::health::renewals`] lists them). A card's renewals share a holder, hence a site.
pub fn renewal_order(a: &Renewal, b: &Renewal) -> Ordering {
    (a.card_serial.as_str(), a.purpose).cmp(&(b.card_serial.as_str(), b.purpose))
}

/// Each renewal's site as a number, kept beside a list of renewals in the same order: the update
/// after a change finds the touched sites' renewals by comparing two million numbers rather
/// than looking up two million site names in a set (about 60 ms at national size). A site keeps
/// its number while the list is kept, even once none of its renewals is left.
#[derive(Clone, Debug, Default)]
pub struct SiteNumbers {
    /// Each site's number.
    numbers: FastMap<String, u32>,
    /// Each renewal's site's number, in the list's order.
    of: Vec<u32>,
}

impl SiteNumbers {
    /// The sites of `all`, numbered.
    pub fn new(all: &[Renewal]) -> SiteNumbers {
        let mut n = SiteNumbers {
            of: Vec::with_capacity(all.len()),
            ..SiteNumbers::default()
        };
        for r in all {
            let k = n.number(&r.site);
            n.of.push(k);
        }
        n
    }

    /// The site's number, given one if it has none.
    fn number(&mut self, site: &str) -> u32 {
        if let Some(&k) = self.numbers.get(site) {
            return k;
        }
        let k = self.numbers.len() as u32;
        self.numbers.insert(site.to_owned(), k);
        k
    }

    /// Whether these are the numbers of `all`'s sites, renewal by renewal.
    pub fn matches(&self, all: &[Renewal]) -> bool {
        self.of.len() == all.len()
            && all
                .iter()
                .zip(&self.of)
                .all(|(r, &k)| self.numbers.get(r.site.as_str()) == Some(&k))
    }
}

/// Replaces, in `all` (in [`renewal_order`]), the renewals filed under `sites` with `fresh`:
/// those sites' renewals read again, in any order (any filed elsewhere are ignored). Every
/// other renewal stays as it was and where it was relative to the rest; the result is in
/// [`renewal_order`]. At national size the list holds two million renewals, so the common
/// changes move none of them: a fresh renewal of a card and purpose already listed under one of
/// the sites (a certificate renewed, a holder moved between the sites, a position that now
/// prescribes) takes its place. Only renewals that come or go (a card cancelled or new) make one
/// pass that moves what follows them.
///
/// The fresh renewals are read after the sites were worked out, so a holder who moved from a
/// site outside `sites` into one of them in between is read fresh under the new site while the
/// list still has them under the old one (which the next change's sites will hold): the fresh
/// renewal wins, and the one listed elsewhere goes, so no card and purpose is ever listed twice.
///
/// The sites are numbered for the one update: a caller keeping the list between updates keeps
/// its [`SiteNumbers`] beside it and calls [`replace_sites_numbered`].
pub fn replace_sites(all: &mut Vec<Renewal>, sites: &FastSet<&str>, fresh: Vec<Renewal>) {
    let mut numbers = SiteNumbers::new(all);
    replace_sites_numbered(all, &mut numbers, sites, fresh);
}

/// [`replace_sites`] with the list's sites numbered (`numbers`, brought up to date with it).
/// When no renewal came or went, the places of those replaced (whether or not they changed),
/// for what is kept beside the list by place ([`super::Jobs::replaced`]); `None` when the list
/// changed shape.
pub fn replace_sites_numbered(
    all: &mut Vec<Renewal>,
    numbers: &mut SiteNumbers,
    sites: &FastSet<&str>,
    mut fresh: Vec<Renewal>,
) -> Option<Vec<usize>> {
    debug_assert_eq!(numbers.of.len(), all.len(), "numbers kept beside the list");
    fresh.retain(|r| sites.contains(r.site.as_str()));
    fresh.sort_unstable_by(renewal_order);
    // The touched sites by number (a site never listed has none, and no renewal to find).
    let mut touched = vec![false; numbers.numbers.len()];
    for s in sites {
        if let Some(&k) = numbers.numbers.get(*s) {
            touched[k as usize] = true;
        }
    }
    let of = &numbers.of;
    let is_touched = |i: usize| touched[of[i] as usize];
    // The listed renewals of the sites, in order; each fresh one with the same card and purpose
    // replaces its listed one in place.
    let listed: Vec<usize> = (0..all.len()).filter(|&i| is_touched(i)).collect();
    // The same card and purpose listed under another site: found by halving the list (in
    // order, one renewal a key), a few dozen comparisons for each of the few fresh renewals
    // rather than a look-up for each of the two million listed.
    let mut gone: Vec<usize> = fresh
        .iter()
        .filter_map(|f| {
            let i = all.binary_search_by(|r| renewal_order(r, f)).ok()?;
            (!is_touched(i)).then_some(i)
        })
        .collect();
    let elsewhere = gone.len();
    let mut added: Vec<(Renewal, u32)> = Vec::new();
    let mut replaced: Vec<usize> = Vec::new();
    let mut old = listed.into_iter().peekable();
    for f in fresh {
        while let Some(&i) = old.peek() {
            if renewal_order(&all[i], &f) == Ordering::Less {
                gone.push(i);
                old.next();
            } else {
                break;
            }
        }
        // A fresh renewal may be filed under another of the touched sites (its holder moved).
        let k = numbers.number(&f.site);
        match old.peek() {
            Some(&i) if renewal_order(&all[i], &f) == Ordering::Equal => {
                all[i] = f;
                numbers.of[i] = k;
                replaced.push(i);
                old.next();
            }
            _ => added.push((f, k)),
        }
    }
    gone.extend(old);
    if gone.is_empty() && added.is_empty() {
        return Some(replaced);
    }
    if elsewhere > 0 {
        gone.sort_unstable();
    }
    // Those that went, out in one pass (from the numbers too).
    if !gone.is_empty() {
        remove_at(all, &gone);
        remove_at(&mut numbers.of, &gone);
    }
    if added.is_empty() {
        return None;
    }
    // Those that came, merged from the back: the listed renewals move up into the room the new
    // ones need, each at most once. Positions from `i` to `w` are free (holding stand-ins or
    // renewals already moved), as many as new renewals are left to place.
    let kept = all.len();
    all.extend(added.iter().map(|(r, _)| r.clone()));
    numbers.of.extend(added.iter().map(|&(_, k)| k));
    let of = &mut numbers.of;
    let mut i = kept; // listed renewals not yet placed: all[..i]
    let mut w = all.len(); // free places: all[i..w]
    while let Some((next, k)) = added.pop() {
        while i > 0 && renewal_order(&all[i - 1], &next) == Ordering::Greater {
            all.swap(i - 1, w - 1);
            of.swap(i - 1, w - 1);
            i -= 1;
            w -= 1;
        }
        all[w - 1] = next;
        of[w - 1] = k;
        w -= 1;
    }
    None
}

/// Removes the items at `gone` (ascending positions) in one pass.
fn remove_at<T>(items: &mut Vec<T>, gone: &[usize]) {
    let mut at = 0usize;
    let mut next = gone.iter().copied().peekable();
    items.retain(|_| {
        let keep = next.peek() != Some(&at);
        if !keep {
            next.next();
        }
        at += 1;
        keep
    });
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::date::Date;
    use crate::planner::Jobs;
    use crate::vocab::Purpose;

    fn renewal(card: &str, purpose: Purpose, site: &str, day: u32) -> Renewal {
        Renewal {
            card_serial: card.into(),
            purpose,
            holder_uuid: format!("holder-of-{card}"),
            site: site.into(),
            expiry: Date::parse("2027-01-01").unwrap().add_days(day as i32),
            prescriber_signing: false,
            organisations: [None, None],
        }
    }

    /// Brings kept jobs up to date with `all` as their keeper does (in place when the list kept
    /// its shape, else again), and checks them against jobs built afresh.
    fn kept_jobs(jobs: &mut Jobs, all: &[Renewal], changed: Option<Vec<usize>>) {
        match changed {
            Some(changed) => jobs.replaced(all, &changed),
            None => *jobs = Jobs::new(all),
        }
        assert!(jobs.matches(all), "the kept jobs are the list's");
    }

    /// Each site's renewals replaced, on lists of every shape, equal the list built whole.
    #[test]
    fn replacing_a_sites_renewals_equals_the_list_built_again() {
        let sites = ["A", "B", "C", "D"];
        // A deterministic spread of cards over sites, both purposes on most cards.
        let estate = |seed: u32, n: u32| -> Vec<Renewal> {
            let mut out = Vec::new();
            for c in 0..n {
                let x = c.wrapping_mul(2_654_435_761).wrapping_add(seed);
                let site = sites[(x % 4) as usize];
                let card = format!("C{:05}", c * 3 + (x % 3));
                if x % 5 != 0 {
                    out.push(renewal(&card, Purpose::Authentication, site, x % 97));
                }
                if x % 7 != 0 {
                    out.push(renewal(&card, Purpose::Signing, site, x % 89));
                }
            }
            out.sort_by(renewal_order);
            out
        };
        for n in [0, 1, 2, 5, 40, 300] {
            for seed in 0..6 {
                let before = estate(seed, n);
                let after = estate(seed + 1, n);
                for touched in [&["A"][..], &["B", "D"], &["A", "B", "C", "D"], &[]] {
                    let set: FastSet<&str> = touched.iter().copied().collect();
                    // The old list agrees with the new one outside the touched sites: built
                    // from the new list there and the old one elsewhere.
                    let mut expected: Vec<Renewal> = before
                        .iter()
                        .filter(|r| !set.contains(r.site.as_str()))
                        .chain(after.iter().filter(|r| set.contains(r.site.as_str())))
                        .cloned()
                        .collect();
                    expected.sort_by(renewal_order);
                    let mut fresh: Vec<Renewal> = after.clone();
                    fresh.reverse(); // any order
                    let mut all = before.clone();
                    replace_sites(&mut all, &set, fresh.clone());
                    assert_eq!(all, expected, "n {n}, seed {seed}, sites {touched:?}");
                    // The same with the sites' numbers kept beside the list.
                    let mut all = before.clone();
                    let mut numbers = SiteNumbers::new(&all);
                    let mut jobs = Jobs::new(&all);
                    let changed = replace_sites_numbered(&mut all, &mut numbers, &set, fresh);
                    assert_eq!(all, expected, "n {n}, seed {seed}, sites {touched:?}");
                    assert!(
                        numbers.matches(&all),
                        "n {n}, seed {seed}, sites {touched:?}"
                    );
                    kept_jobs(&mut jobs, &all, changed);
                }
            }
        }
    }

    /// One list and its sites' numbers kept over a run of updates, sites coming and going (one
    /// numbered only once its first renewal arrives), equal the list built whole each time.
    #[test]
    fn site_numbers_kept_over_updates_stay_the_lists() {
        let names = ["A", "B", "C", "D", "E"];
        // Site E holds renewals only in some estates; B none in others.
        let estate = |seed: u32| -> Vec<Renewal> {
            let mut out = Vec::new();
            for c in 0..200u32 {
                let x = c
                    .wrapping_mul(2_654_435_761)
                    .wrapping_add(seed.wrapping_mul(40_503));
                let mut site = names[(x % 5) as usize];
                if (site == "E" && seed.is_multiple_of(3)) || (site == "B" && seed % 4 == 1) {
                    site = "C";
                }
                if x.is_multiple_of(11) {
                    continue; // a card not listed in this estate
                }
                let card = format!("C{c:05}");
                out.push(renewal(&card, Purpose::Authentication, site, (x >> 3) % 97));
                if !x.is_multiple_of(3) {
                    out.push(renewal(&card, Purpose::Signing, site, (x >> 5) % 89));
                }
            }
            out.sort_by(renewal_order);
            out
        };
        let mut all = estate(0);
        let mut numbers = SiteNumbers::new(&all);
        let mut jobs = Jobs::new(&all);
        for seed in 1..24u32 {
            let after = estate(seed);
            let touched: Vec<&str> = names
                .iter()
                .enumerate()
                .filter(|(k, _)| (seed >> (k % 3)) & 1 == 1 || seed.is_multiple_of(5))
                .map(|(_, s)| *s)
                .collect();
            let set: FastSet<&str> = touched.iter().copied().collect();
            let mut expected: Vec<Renewal> = all
                .iter()
                .filter(|r| !set.contains(r.site.as_str()))
                .chain(after.iter().filter(|r| set.contains(r.site.as_str())))
                .cloned()
                .collect();
            expected.sort_by(renewal_order);
            // A card listed twice (moved between a touched site and another) keeps the fresh one.
            expected.dedup_by(|b, a| {
                renewal_order(a, b) == Ordering::Equal && {
                    if !set.contains(a.site.as_str()) {
                        std::mem::swap(a, b);
                    }
                    true
                }
            });
            let changed = replace_sites_numbered(&mut all, &mut numbers, &set, after.clone());
            assert_eq!(all, expected, "seed {seed}, sites {touched:?}");
            assert!(numbers.matches(&all), "seed {seed}, sites {touched:?}");
            kept_jobs(&mut jobs, &all, changed);
        }
    }
}
