//! Reading the estate for the health checks: only the columns the rules use, each kind on its
//! own connection and thread, so the database's work overlaps the building of the facts; only
//! the certificates of the cards the certificate rules can find something on; and for those
//! rules alone, only those cards, their holders and positions.

use cardwatch_core::date::Date;
use cardwatch_core::health::{
    certificate_reach, check_noted, fact_columns, renewals, Context, Estate, Family, FindingNote,
    Noted, Thresholds, LEAN_POSITION_COLUMNS,
};
use cardwatch_core::planner::Renewal;
use cardwatch_core::records::{Cell, Kind};

use crate::{Store, StoreError};

/// A card the certificate rules can judge ([`Store::cards_with_certificates_due`]).
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct DueCard {
    pub serial: String,
    /// Whether one of the certificates that made it due is a signing certificate. Only then can
    /// who prescribes change what the rules find on the card (a prescriber's signing
    /// certificate is judged a level higher; SHA-1 matters only for prescribers' signing).
    pub signing: bool,
}

impl DueCard {
    /// The due cards from (serial, signing) pairs in any order, repeats allowed: sorted, each
    /// card once, signing if any of its pairs is.
    pub(crate) fn from_pairs(mut pairs: Vec<(String, bool)>) -> Vec<DueCard> {
        // Sorting here costs less than making the server do it.
        pairs.sort_unstable();
        let mut due: Vec<DueCard> = Vec::with_capacity(pairs.len());
        for (serial, signing) in pairs {
            match due.last_mut() {
                Some(last) if last.serial == serial => last.signing |= signing,
                _ => due.push(DueCard { serial, signing }),
            }
        }
        due
    }
}

/// Which records of a kind to read.
#[derive(Clone, Copy)]
enum Records<'a> {
    /// Every record.
    All,
    /// Every record of a kind with one per organisation or site, read beside a few sites'
    /// records ([`Store::scan_reference`]).
    Reference,
    /// Those whose first key column is one of these.
    Keyed(&'a [&'a str]),
    /// Those whose named column is one of these.
    By(&'a str, &'a [&'a str]),
    /// Those of the cards with a certificate expiring by this day or signing with SHA-1: the
    /// only cards the certificate rules can find something on ([`certificate_reach`]).
    OfCardsDue(Date),
}

/// Reads the facts of one kind.
fn read_kind(
    store: &dyn Store,
    kind: Kind,
    lean: bool,
    records: Records<'_>,
) -> Result<Estate, StoreError> {
    let started = std::time::Instant::now();
    let mut part = Estate::default();
    let mut bad = None;
    // The rules sort what they merge, and a sorted list costs one pass to check: no need to
    // make the database sort.
    let columns = if lean && kind == Kind::Positions {
        LEAN_POSITION_COLUMNS
    } else {
        fact_columns(kind)
    };
    let mut each = |values: &[Cell<'_>]| {
        if let Err(e) = part.push_values(kind, values) {
            bad.get_or_insert(e);
        }
        Ok(())
    };
    let rows = match records {
        Records::All => store.scan(kind, columns, false, &mut each)?,
        Records::Reference => store.scan_reference(kind, columns, &mut each)?,
        Records::Keyed(keys) => store.scan_keyed(kind, columns, keys, &mut each)?,
        Records::By(column, keys) => store.scan_by(kind, columns, column, keys, &mut each)?,
        Records::OfCardsDue(by) => store.scan_of_cards_due(kind, columns, by, &mut each)?,
    };
    tracing::debug!(%kind, rows, took = ?started.elapsed(), "read");
    match bad {
        Some(message) => Err(StoreError::Database(message)),
        None => Ok(part),
    }
}

/// Reads every kind the health checks use.
pub fn load_estate(store: &dyn Store) -> Result<Estate, StoreError> {
    // Every kind but organisations, which no rule judges; and the agents' clocks.
    let kinds: Vec<(Kind, Records)> = Kind::ALL[1..].iter().map(|&k| (k, Records::All)).collect();
    let mut estate = load_kinds(store, &kinds, false)?;
    estate.clocks = crate::agents::clocks(store)?;
    estate.refreshes = crate::refreshes::site_refreshes(store)?;
    Ok(estate)
}

/// The sites, workstations and their software: what the move between authentication clients is
/// planned from.
pub fn load_workstations(store: &dyn Store) -> Result<Estate, StoreError> {
    let kinds = [Kind::Sites, Kind::Workstations, Kind::Software].map(|k| (k, Records::All));
    load_kinds(store, &kinds, true)
}

/// Reads the facts of some kinds, each whole or only some records (the other kinds are left
/// empty), as many at once as the store reads large results at once
/// ([`Store::large_reads_at_once`]), starting them in the list's order. With `lean`, positions
/// are read only for whether they prescribe.
fn load_kinds(
    store: &dyn Store,
    kinds: &[(Kind, Records<'_>)],
    lean: bool,
) -> Result<Estate, StoreError> {
    // A reader thread's log lines belong to the request or job that asked: its span goes along.
    let span = &tracing::Span::current();
    // Each reader takes the next kind of the list when its last is read: a thread per kind
    // would queue for the store's connections in no set order, and a long read could start last.
    let next = &std::sync::atomic::AtomicUsize::new(0);
    let readers = store.large_reads_at_once().clamp(1, kinds.len().max(1));
    let parts: Vec<Result<Vec<Estate>, StoreError>> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..readers)
            .map(|_| {
                s.spawn(move || {
                    span.in_scope(|| {
                        let mut read = Vec::new();
                        while let Some(&(kind, records)) =
                            kinds.get(next.fetch_add(1, std::sync::atomic::Ordering::Relaxed))
                        {
                            read.push(read_kind(store, kind, lean, records)?);
                        }
                        Ok(read)
                    })
                })
            })
            .collect();
        handles.into_iter().map(joined).collect()
    });
    // Each part holds one kind; moving its list in is free.
    let mut estate = Estate::default();
    for p in parts
        .into_iter()
        .collect::<Result<Vec<_>, _>>()?
        .into_iter()
        .flatten()
    {
        macro_rules! take {
            ($($f:ident),+) => { $( if !p.$f.is_empty() { estate.$f = p.$f; } )+ };
        }
        take!(
            organisations,
            sites,
            people,
            cards,
            certificates,
            positions,
            workstations,
            software,
            readers,
            stock,
            lockouts,
            integrations,
            integration_cards
        );
    }
    Ok(estate)
}

fn joined<T>(
    reader: std::thread::ScopedJoinHandle<'_, Result<T, StoreError>>,
) -> Result<T, StoreError> {
    reader
        .join()
        .unwrap_or_else(|_| Err(StoreError::Database("a reader thread panicked".into())))
}

/// The records of some sites, of the kinds wanted (the others are left empty): every
/// organisation, those sites, their people and the cards those people hold with the cards'
/// certificates, lockouts and positions, their workstations with their software, readers and
/// stock. Read in three rounds, each kind of a round at once: a round's keys are the records
/// the round before found (people for cards and positions, workstations for software, cards for
/// certificates and lockouts). With `lean`, positions are read only for whether they prescribe.
fn load_sites(
    store: &dyn Store,
    sites: &[&str],
    kinds: &[Kind],
    lean: bool,
) -> Result<Estate, StoreError> {
    let wants = |k: Kind| kinds.contains(&k);
    // A round reads the kinds wanted of its list, and the next round's keys come from them.
    let round = |list: &[(Kind, Records<'_>)]| {
        let wanted: Vec<(Kind, Records<'_>)> =
            list.iter().copied().filter(|(k, _)| wants(*k)).collect();
        load_kinds(store, &wanted, lean)
    };
    let mut estate = round(&[
        (Kind::Organisations, Records::Reference),
        (Kind::Sites, Records::Keyed(sites)),
        (Kind::People, Records::By("site_ods", sites)),
        (Kind::Workstations, Records::By("site_ods", sites)),
        (Kind::Readers, Records::By("site_ods", sites)),
        (Kind::Stock, Records::Keyed(sites)),
    ])?;
    let people: Vec<&str> = estate.people.iter().map(|p| p.uuid.as_str()).collect();
    let hosts: Vec<&str> = estate
        .workstations
        .iter()
        .map(|w| w.hostname.as_str())
        .collect();
    let second = round(&[
        (Kind::Cards, Records::By("holder_uuid", &people)),
        (Kind::Positions, Records::Keyed(&people)),
        (Kind::Software, Records::Keyed(&hosts)),
    ])?;
    let cards: Vec<&str> = second
        .cards
        .iter()
        .map(|c| c.card_serial.as_str())
        .collect();
    let third = round(&[
        (Kind::Certificates, Records::Keyed(&cards)),
        (Kind::Lockouts, Records::Keyed(&cards)),
    ])?;
    estate.cards = second.cards;
    estate.positions = second.positions;
    estate.software = second.software;
    estate.certificates = third.certificates;
    estate.lockouts = third.lockouts;
    Ok(estate)
}

/// What the certificate rules read, of only the cards they can find something on
/// ([`certificate_reach`]): those cards and their certificates, the cards' holders, and the
/// positions of the holders of cards due for a signing certificate.
fn load_certificate_reach(store: &dyn Store, cx: &Context<'_>) -> Result<Estate, StoreError> {
    let started = std::time::Instant::now();
    let due = store.cards_with_certificates_due(certificate_reach(cx))?;
    let serials: Vec<&str> = due.iter().map(|d| d.serial.as_str()).collect();
    let found = started.elapsed();
    let span = tracing::Span::current();
    let (certificates, estate) = std::thread::scope(|s| {
        let certificates = s.spawn(|| {
            span.in_scope(|| read_kind(store, Kind::Certificates, true, Records::Keyed(&serials)))
        });
        let cards_and_holders = || {
            let cards = read_kind(store, Kind::Cards, true, Records::Keyed(&serials))?;
            let mut holders: Vec<&str> =
                cards.cards.iter().map(|c| c.holder_uuid.as_str()).collect();
            // Who prescribes matters only to signing certificates: a holder whose cards are due
            // for authentication alone is judged the same either way, so their positions (about
            // half of those holders' at national size) are not read.
            let mut signers: Vec<&str> = cards
                .cards
                .iter()
                .filter(|c| {
                    serials
                        .binary_search(&c.card_serial.as_str())
                        .is_ok_and(|i| due[i].signing)
                })
                .map(|c| c.holder_uuid.as_str())
                .collect();
            for list in [&mut holders, &mut signers] {
                list.sort_unstable();
                list.dedup();
            }
            let mut estate = load_kinds(
                store,
                &[
                    (Kind::People, Records::Keyed(&holders)),
                    (Kind::Positions, Records::Keyed(&signers)),
                ],
                true,
            )?;
            estate.cards = cards.cards;
            Ok::<_, StoreError>(estate)
        };
        // The holders are known once the cards are in: read them while the certificates
        // are still streaming.
        let estate = cards_and_holders();
        (joined(certificates), estate)
    });
    let mut estate = estate?;
    estate.certificates = certificates?.certificates;
    tracing::debug!(?found, read = ?started.elapsed(), cards = serials.len(), "cards the certificate rules can judge");
    Ok(estate)
}

/// The findings of a health check (of every family, or some), each with the note that still
/// applies to it.
pub fn current_findings(
    store: &dyn Store,
    cx: &Context<'_>,
    families: &[Family],
) -> Result<Vec<Noted>, StoreError> {
    Ok(findings_of(store, cx, families, false)?.0)
}

/// [`current_findings`] and the facts they were found in, for a caller that ends soon after
/// and need not spend a core on freeing them meanwhile (`cardwatch check`).
pub fn current_findings_keeping_facts(
    store: &dyn Store,
    cx: &Context<'_>,
    families: &[Family],
) -> Result<(Vec<Noted>, Estate), StoreError> {
    let (noted, facts) = findings_of(store, cx, families, true)?;
    Ok((noted, facts.unwrap_or_default()))
}

/// The order a health check of every card starts its reads in, the longest first. On
/// PostgreSQL a dozen reads queue for a few connections, and one started last would run alone
/// at the end with a core idle. The certificates of the due cards come first: the longest read
/// (a million rows and the server's join of the due cards). The rest by their rows and columns
/// at national size (a million rows each of software, cards, positions and people; a third of
/// that of readers and workstations).
const FULL_READ_ORDER: [Kind; 13] = [
    Kind::Certificates,
    Kind::Cards,
    Kind::Positions,
    Kind::People,
    Kind::Software,
    Kind::Readers,
    Kind::Workstations,
    Kind::Lockouts,
    Kind::Stock,
    Kind::Organisations,
    Kind::Sites,
    Kind::IntegrationCards,
    Kind::Integrations,
];

/// The findings, and with `keep` the facts; without, the facts are freed on another thread.
fn findings_of(
    store: &dyn Store,
    cx: &Context<'_>,
    families: &[Family],
    keep: bool,
) -> Result<(Vec<Noted>, Option<Estate>), StoreError> {
    let started = std::time::Instant::now();
    let mut estate = if families == [Family::Certificates] {
        load_certificate_reach(store, cx)?
    } else {
        // The certificate rules are the only ones that read certificates.
        let due = Records::OfCardsDue(certificate_reach(cx));
        let mut kinds: Vec<(Kind, Records)> = families
            .iter()
            .flat_map(|f| f.kinds())
            .map(|&k| {
                (
                    k,
                    if k == Kind::Certificates {
                        due
                    } else {
                        Records::All
                    },
                )
            })
            .collect();
        kinds.sort_by_key(|k| k.0);
        kinds.dedup_by_key(|k| k.0);
        kinds.sort_by_key(|k| FULL_READ_ORDER.iter().position(|&o| o == k.0));
        let lean = !families.iter().any(|f| f.reads_position_roles());
        load_kinds(store, &kinds, lean)?
    };
    if families.contains(&Family::Workstations) {
        estate.clocks = crate::agents::clocks(store)?;
    }
    if families.contains(&Family::Sites) {
        estate.refreshes = crate::refreshes::site_refreshes(store)?;
    }
    let loaded = started.elapsed();
    let notes = store.finding_notes()?;
    let noted = check_noted(&mut estate, cx, families, &notes);
    let checked = started.elapsed();
    // Freeing millions of small strings takes a while: let another thread do it while the
    // findings are printed.
    let kept = if keep {
        Some(estate)
    } else {
        std::thread::spawn(move || drop(estate));
        None
    };
    tracing::debug!(?loaded, ?checked, total = ?started.elapsed(), findings = noted.len(), "health check");
    Ok((noted, kept))
}

/// The findings of some sites, each with the note that still applies to it: the rules of
/// [`Family::LOCAL`] over those sites' records alone (their people, the cards those people hold
/// with the cards' certificates, lockouts and positions, their workstations with their software,
/// readers and stock; every organisation), keeping the findings filed under those sites. For a
/// re-check ([`cardwatch_core::health::reach`] says why these are the same findings a full check
/// gives those sites).
pub fn site_findings(
    store: &dyn Store,
    cx: &Context<'_>,
    sites: &[&str],
    notes: &[FindingNote],
) -> Result<Vec<Noted>, StoreError> {
    let started = std::time::Instant::now();
    let wanted: std::collections::BTreeSet<&str> = sites.iter().copied().collect();
    let kinds: Vec<Kind> = Family::LOCAL
        .iter()
        .flat_map(|f| f.kinds())
        .copied()
        .collect();
    let mut estate = load_sites(store, sites, &kinds, false)?;
    let mut refreshes = crate::refreshes::site_refreshes(store)?;
    refreshes.retain(|r| wanted.contains(r.site_ods.as_str()));
    estate.clocks = crate::agents::clocks(store)?;
    estate.refreshes = refreshes;
    let loaded = started.elapsed();
    let mut findings = check_noted(&mut estate, cx, Family::LOCAL, notes);
    findings.retain(|n| wanted.contains(n.finding.site.as_str()));
    tracing::debug!(sites = sites.len(), ?loaded, total = ?started.elapsed(), findings = findings.len(), "sites re-checked");
    Ok(findings)
}

/// The findings of every integration, each with the note that still applies to it: the
/// integration rules over the integrations, their cards, those cards' holders' positions and the
/// sites (for each one's organisation), and nothing else.
pub fn integration_findings(
    store: &dyn Store,
    cx: &Context<'_>,
    notes: &[FindingNote],
) -> Result<Vec<Noted>, StoreError> {
    let mut estate = load_kinds(
        store,
        &[
            (Kind::Sites, Records::All),
            (Kind::Integrations, Records::All),
            (Kind::IntegrationCards, Records::All),
        ],
        false,
    )?;
    let mut serials: Vec<&str> = estate
        .integration_cards
        .iter()
        .map(|c| c.card_serial.as_str())
        .collect();
    serials.sort_unstable();
    serials.dedup();
    let cards = read_kind(store, Kind::Cards, false, Records::Keyed(&serials))?;
    let mut holders: Vec<&str> = cards.cards.iter().map(|c| c.holder_uuid.as_str()).collect();
    holders.sort_unstable();
    holders.dedup();
    let positions = read_kind(store, Kind::Positions, false, Records::Keyed(&holders))?;
    estate.cards = cards.cards;
    estate.positions = positions.positions;
    Ok(check_noted(&mut estate, cx, &[Family::Integrations], notes))
}

/// What a renewal is decided by: its card and certificates, the holder and their positions, the
/// site and the organisations above it.
const RENEWAL_KINDS: [Kind; 6] = [
    Kind::Organisations,
    Kind::Sites,
    Kind::People,
    Kind::Cards,
    Kind::Certificates,
    Kind::Positions,
];

/// Whether the store holds any card: an estate to plan renewals for.
pub fn holds_cards(store: &dyn Store) -> Result<bool, StoreError> {
    crate::exec::with_read(store, |x| {
        Ok(!x.rows("SELECT 1 FROM cards LIMIT 1", &[])?.is_empty())
    })
}

/// Every certificate the renewal planner places (the newest of each purpose on each card in use).
pub fn renewals_due(store: &dyn Store, t: &Thresholds) -> Result<Vec<Renewal>, StoreError> {
    let kinds = RENEWAL_KINDS.map(|k| (k, Records::All));
    let mut estate = load_kinds(store, &kinds, true)?;
    Ok(renewals(&mut estate, t))
}

/// The renewals filed under some sites (their holders' sites), as [`renewals_due`] gives them,
/// reading only those sites' people, the cards they hold with the cards' certificates, their
/// positions, the sites and every organisation: what a renewal of theirs is decided by
/// (`cardwatch_core::planner::replace_sites` says why). In card and purpose order.
pub fn renewals_of_sites(
    store: &dyn Store,
    t: &Thresholds,
    sites: &[&str],
) -> Result<Vec<Renewal>, StoreError> {
    if sites.is_empty() {
        return Ok(Vec::new());
    }
    let mut estate = load_sites(store, sites, &RENEWAL_KINDS, true)?;
    Ok(renewals(&mut estate, t))
}
