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
use crate::fasthash::FastSet;

/// The order of the estate's renewals: by card, then authentication before signing (as
/// [`crate::health::renewals`] lists them). A card's renewals share a holder, hence a site.
pub fn renewal_order(a: &Renewal, b: &Renewal) -> Ordering {
    (a.card_serial.as_str(), a.purpose).cmp(&(b.card_serial.as_str(), b.purpose))
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
pub fn replace_sites(all: &mut Vec<Renewal>, sites: &FastSet<&str>, mut fresh: Vec<Renewal>) {
    fresh.retain(|r| sites.contains(r.site.as_str()));
    fresh.sort_unstable_by(renewal_order);
    // The listed renewals of the sites, in order; each fresh one with the same card and purpose
    // replaces its listed one in place.
    let listed: Vec<usize> = (0..all.len())
        .filter(|&i| sites.contains(all[i].site.as_str()))
        .collect();
    // The same card and purpose listed under another site: found by halving the list (in
    // order, one renewal a key), a few dozen comparisons for each of the few fresh renewals
    // rather than a look-up for each of the two million listed.
    let mut gone: Vec<usize> = fresh
        .iter()
        .filter_map(|f| {
            let i = all.binary_search_by(|r| renewal_order(r, f)).ok()?;
            (!sites.contains(all[i].site.as_str())).then_some(i)
        })
        .collect();
    let elsewhere = gone.len();
    let mut added: Vec<Renewal> = Vec::new();
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
        match old.peek() {
            Some(&i) if renewal_order(&all[i], &f) == Ordering::Equal => {
                all[i] = f;
                old.next();
            }
            _ => added.push(f),
        }
    }
    gone.extend(old);
    if gone.is_empty() && added.is_empty() {
        return;
    }
    if elsewhere > 0 {
        gone.sort_unstable();
    }
    // Those that went, out in one pass.
    if !gone.is_empty() {
        let mut at = 0usize;
        let mut next = gone.iter().copied().peekable();
        all.retain(|_| {
            let keep = next.peek() != Some(&at);
            if !keep {
                next.next();
            }
            at += 1;
            keep
        });
    }
    if added.is_empty() {
        return;
    }
    // Those that came, merged from the back: the listed renewals move up into the room the new
    // ones need, each at most once. Positions from `i` to `w` are free (holding stand-ins or
    // renewals already moved), as many as new renewals are left to place.
    let kept = all.len();
    all.extend(added.iter().cloned());
    let mut i = kept; // listed renewals not yet placed: all[..i]
    let mut w = all.len(); // free places: all[i..w]
    while let Some(next) = added.pop() {
        while i > 0 && renewal_order(&all[i - 1], &next) == Ordering::Greater {
            all.swap(i - 1, w - 1);
            i -= 1;
            w -= 1;
        }
        all[w - 1] = next;
        w -= 1;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::date::Date;
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
                    replace_sites(&mut all, &set, fresh);
                    assert_eq!(all, expected, "n {n}, seed {seed}, sites {touched:?}");
                }
            }
        }
    }
}
