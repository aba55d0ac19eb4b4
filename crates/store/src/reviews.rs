//! Access reviews (SPEC "Govern": who has which role, and why; attest keep or remove): the
//! positions in force at the caller's sites with each one's latest decision, and decisions
//! recorded — audited, in the same transaction. Written once for both backends.

use std::collections::BTreeMap;

use cardwatch_core::audit::AuditRecord;
use cardwatch_core::date::Timestamp;
use cardwatch_core::health::RECHECK_MAX_RECORDS;
pub use cardwatch_core::reviews::ReviewCounts;
use cardwatch_core::reviews::{after_keeps, bearing, Placed, PositionKey};
use serde::Serialize;

use crate::exec::{with_exec, with_read, Entry, P, V};
use crate::{Change, Store, StoreError};

/// What a reviewer decided.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Decision {
    /// The holder still needs the role.
    Keep,
    /// The role is taken away.
    Remove,
}

impl Decision {
    /// Its stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            Decision::Keep => "keep",
            Decision::Remove => "remove",
        }
    }

    /// `keep` or `remove`.
    pub fn parse(s: &str) -> Result<Decision, String> {
        match s.trim() {
            "keep" => Ok(Decision::Keep),
            "remove" => Ok(Decision::Remove),
            other => Err(format!("decision {other:?}: use keep or remove")),
        }
    }
}

/// The latest decision on a position.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Decided {
    /// When.
    pub at: Timestamp,
    /// Who (`web:USERNAME`).
    pub reviewer: String,
    /// `keep` or `remove`.
    pub decision: String,
    /// Why.
    pub reason: String,
}

/// A position in force, to review.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct ToReview {
    /// The holder's UUID.
    pub holder_uuid: String,
    /// The holder's name.
    pub name: String,
    /// The holder's site.
    pub site_ods: String,
    /// Where the role is held.
    pub ods_code: String,
    /// The role's code.
    pub role_code: String,
    /// The role's name.
    pub role_name: String,
    /// Its activity codes, space-separated.
    pub activity_codes: String,
    /// When it was approved (ISO date), if recorded.
    pub approved_on: Option<String>,
    /// The latest review, if any.
    pub last: Option<Decided>,
}

/// Which positions to list.
#[derive(Clone, Debug)]
pub struct ReviewQuery {
    /// The holders' sites the caller sees; `None` for every site.
    pub sites: Option<Vec<String>>,
    /// Only those not reviewed since this moment (due); `None` for all.
    pub not_since: Option<Timestamp>,
    /// Skip this many.
    pub offset: usize,
    /// At most this many.
    pub limit: usize,
}

/// The positions in force that a query asks for, in the list's order (see [`reviews_page`]):
/// (how many in all, the page). Counts on every call; the pages count once per change through
/// [`review_counts`].
pub fn to_review(store: &dyn Store, q: &ReviewQuery) -> Result<(u64, Vec<ToReview>), StoreError> {
    let counts = review_counts(
        store,
        q.sites.as_deref(),
        q.not_since.unwrap_or(Timestamp::from_unix(i64::MIN)),
    )?;
    let page = reviews_page(
        store,
        &ReviewsQuery {
            sites: q.sites.clone(),
            not_since: q.not_since,
            from: ReviewsFrom::Offset(q.offset),
            limit: q.limit,
        },
    )?;
    let total = if q.not_since.is_some() {
        counts.due
    } else {
        counts.in_force
    };
    Ok((total, page.positions))
}

/// A place in the reviews list: a position in force by its holder's site, the holder's name
/// (compared in lower case, A–Z folded, as the list orders it), the holder, and where and which
/// role. Any values name a place, whether or not a position is there.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ReviewPlace {
    /// The holder's site.
    pub site_ods: String,
    /// The holder's name.
    pub name: String,
    /// The holder's UUID.
    pub holder_uuid: String,
    /// Where the role is held.
    pub ods_code: String,
    /// The role's code.
    pub role_code: String,
}

impl ToReview {
    /// This position's place in the list.
    pub fn place(&self) -> ReviewPlace {
        ReviewPlace {
            site_ods: self.site_ods.clone(),
            name: self.name.clone(),
            holder_uuid: self.holder_uuid.clone(),
            ods_code: self.ods_code.clone(),
            role_code: self.role_code.clone(),
        }
    }
}

/// Where a page of the reviews list starts.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ReviewsFrom {
    /// After skipping this many (0: the first page). Each skipped row is read: a deep offset
    /// costs what it skips, where a place costs what the first page does.
    Offset(usize),
    /// The positions after this place.
    After(ReviewPlace),
    /// The positions before this place (the previous page).
    Before(ReviewPlace),
}

/// One page of the reviews list to read.
#[derive(Clone, Debug)]
pub struct ReviewsQuery {
    /// The holders' sites the caller sees; `None` for every site.
    pub sites: Option<Vec<String>>,
    /// Only those not reviewed since this moment (due); `None` for all.
    pub not_since: Option<Timestamp>,
    /// Where the page starts.
    pub from: ReviewsFrom,
    /// At most this many.
    pub limit: usize,
}

/// One page of the reviews list.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ReviewsPage {
    /// The positions, in the list's order.
    pub positions: Vec<ToReview>,
    /// Whether there are more beyond the page in the direction read (after its last reading
    /// forward or by offset, before its first reading back).
    pub more: bool,
}

/// The columns of a listed position, `p` a position, `pe` its holder and `r` its newest decision.
const COLUMNS: &str = "p.holder_uuid, pe.name, pe.site_ods, p.ods_code, p.role_code, p.role_name, \
     p.activity_codes, CAST(p.approved_on AS TEXT), r.decided_at, r.reviewer, r.decision, r.reason";

/// The holders, then their positions in force: written as a CROSS JOIN, which SQLite joins in the
/// order written (it keeps no statistics to choose by, and otherwise reads every position to sort
/// them), so that a page walks the holders in the list's order and stops; PostgreSQL chooses that
/// order itself for a page and is free to choose another for a count.
const HOLDERS_THEN_POSITIONS: &str = "people pe CROSS JOIN positions p";

/// Each position's newest decision, if any: one entry of the decisions' key from its end.
const NEWEST_DECISION: &str = "(SELECT MAX(r2.decided_at) FROM access_reviews r2 \
     WHERE r2.holder_uuid = p.holder_uuid AND r2.ods_code = p.ods_code \
     AND r2.role_code = p.role_code)";

/// The conditions every read of the list shares: positions in force, of holders at `sites`
/// (`None`: every site); no sites, no rows.
fn in_force<'a>(sites: Option<&'a [String]>, params: &mut Vec<P<'a>>) -> String {
    let mut filter = String::from("p.holder_uuid = pe.uuid AND p.status = 'active'");
    match sites {
        Some([]) => filter.push_str(" AND 1 = 0"),
        Some(sites) => {
            let within = crate::exec::in_list("pe.site_ods", sites, params);
            filter.push_str(&format!(" AND {within}"));
        }
        None => {}
    }
    filter
}

/// At most `limit` positions in force from a place in the list, or from an offset. The list's
/// order is the holder's site, the holder's name in lower case (A–Z folded, as the people list
/// sorts names), the holder's UUID, then where and which role: the order of the people index
/// `people_site_name_list` (migration 0020), so that a page walks that index from its place —
/// a practice's holders, or every holder for the whole estate — and each holder's positions
/// by their key, and stops when the page is full; only a holder's few positions are sorted.
/// The name in lower case rather than as written so that the holders' own index serves the
/// list, where an index of names as written would be one more for a national import of people
/// to build. A position's newest decision is read from the end of its decisions' key (which
/// migration 0026 makes comparable with the positions' on PostgreSQL). Due positions (not
/// reviewed since `not_since`) are those of the holders walked: a page costs the holders read
/// to fill it.
pub fn reviews_page(store: &dyn Store, q: &ReviewsQuery) -> Result<ReviewsPage, StoreError> {
    let mut params: Vec<P> = Vec::new();
    let mut filter = in_force(q.sites.as_deref(), &mut params);
    if let Some(t) = q.not_since {
        params.push(P::I(t.unix()));
        filter.push_str(&format!(
            " AND (r.decided_at IS NULL OR r.decided_at < ${})",
            params.len()
        ));
    }
    // The place's name folded as lower() folds it on both stores (A–Z only), here rather than
    // by lower() on a parameter, whose collation would be the database's.
    let folded;
    let (before, offset) = match &q.from {
        ReviewsFrom::Offset(n) => (false, *n),
        ReviewsFrom::After(at) | ReviewsFrom::Before(at) => {
            let before = matches!(q.from, ReviewsFrom::Before(_));
            folded = at.name.to_ascii_lowercase();
            let n = params.len();
            params.extend([
                P::T(&at.site_ods),
                P::T(&folded),
                P::T(&at.holder_uuid),
                P::T(&at.ods_code),
                P::T(&at.role_code),
            ]);
            let (or_same, beyond) = if before { ("<=", "<") } else { (">=", ">") };
            // The bound on the site alone starts SQLite's walk of the index at the place's site
            // (it reads no range from a row value over an expression's index); the holder's row
            // value starts PostgreSQL's at the holder itself; the whole row value drops the
            // holder's positions on the wrong side of the place.
            filter.push_str(&format!(
                " AND pe.site_ods {or_same} ${s} \
                 AND (pe.site_ods, lower(pe.name), pe.uuid) {or_same} (${s}, ${l}, ${u}) \
                 AND (pe.site_ods, lower(pe.name), pe.uuid, p.ods_code, p.role_code) \
                 {beyond} (${s}, ${l}, ${u}, ${o}, ${r})",
                s = n + 1,
                l = n + 2,
                u = n + 3,
                o = n + 4,
                r = n + 5,
            ));
            (before, 0)
        }
    };
    // Reading back is reading the reversed order forward.
    let direction = if before { " DESC" } else { "" };
    let order = [
        "pe.site_ods",
        "lower(pe.name)",
        "pe.uuid",
        "p.ods_code",
        "p.role_code",
    ]
    .map(|c| format!("{c}{direction}"))
    .join(", ");
    let take = q.limit.min(i64::MAX as usize - 1) as i64 + 1;
    params.push(P::I(take));
    params.push(P::I(offset.min(i64::MAX as usize) as i64));
    let sql = format!(
        "SELECT {COLUMNS} FROM {HOLDERS_THEN_POSITIONS} \
         LEFT JOIN access_reviews r ON r.holder_uuid = p.holder_uuid AND r.ods_code = p.ods_code \
         AND r.role_code = p.role_code AND r.decided_at = {NEWEST_DECISION} \
         WHERE {filter} ORDER BY {order} LIMIT ${} OFFSET ${}",
        params.len() - 1,
        params.len()
    );
    with_read(store, |x| {
        let mut rows = x.rows(&sql, &params)?;
        let more = rows.len() > q.limit;
        rows.truncate(q.limit);
        if before {
            rows.reverse();
        }
        Ok(ReviewsPage {
            positions: rows.into_iter().map(to_review_row).collect(),
            more,
        })
    })
}

fn to_review_row(mut r: Vec<V>) -> ToReview {
    let mut take = |i: usize| std::mem::replace(&mut r[i], V::Null);
    ToReview {
        holder_uuid: take(0).into_text(),
        name: take(1).into_text(),
        site_ods: take(2).into_text(),
        ods_code: take(3).into_text(),
        role_code: take(4).into_text(),
        role_name: take(5).into_text(),
        activity_codes: take(6).into_text(),
        approved_on: take(7).opt_text().map(str::to_owned),
        last: take(8).opt_int().map(|at| Decided {
            at: Timestamp::from_unix(at),
            reviewer: take(9).into_text(),
            decision: take(10).into_text(),
            reason: take(11).into_text(),
        }),
    }
}

/// The positions in force at `sites` (`None`: every site), those of them not reviewed since
/// `not_since`, and when the next falls due: one pass over the scope's positions. Callers that
/// keep the answer use [`review_counts_at`], which says at which length of the audit chain it
/// was counted.
pub fn review_counts(
    store: &dyn Store,
    sites: Option<&[String]>,
    not_since: Timestamp,
) -> Result<ReviewCounts, StoreError> {
    Ok(review_counts_at(store, sites, not_since)?.counts)
}

/// Counts and the audit chain's head they were counted at.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CountedAt {
    /// The chain's length.
    pub length: i64,
    /// Its last record's hash: a chain replaced since (a restore) is told apart by it.
    pub hash: String,
    /// The counts.
    pub counts: ReviewCounts,
}

/// As [`review_counts`], with the audit chain's head read by the same statement, so that the
/// counts are exactly those of the estate at that length: every change to a position, a holder
/// or a decision is audited in the transaction that makes it. For callers that keep the counts
/// and move them on with [`carried`] as the chain grows, until the moment passes
/// [`ReviewCounts::next_due`].
pub fn review_counts_at(
    store: &dyn Store,
    sites: Option<&[String]>,
    not_since: Timestamp,
) -> Result<CountedAt, StoreError> {
    let mut params: Vec<P> = Vec::new();
    let filter = in_force(sites, &mut params);
    params.push(P::I(not_since.unix()));
    let t = params.len();
    // The head as scalar subqueries, read once, so that the count's plan is the count's alone.
    let sql = format!(
        "SELECT COUNT(*), CAST(COALESCE(SUM(CASE WHEN newest IS NULL OR newest < ${t} THEN 1 \
         ELSE 0 END), 0) AS BIGINT), MIN(CASE WHEN newest >= ${t} THEN newest END), \
         (SELECT seq FROM audit_head WHERE id = 1), (SELECT hash FROM audit_head WHERE id = 1) \
         FROM (SELECT {NEWEST_DECISION} AS newest FROM {HOLDERS_THEN_POSITIONS} \
         WHERE {filter}) AS listed"
    );
    with_read(store, |x| {
        let row = x
            .rows(&sql, &params)?
            .into_iter()
            .next()
            .unwrap_or_default();
        let at = |i: usize| row.get(i).cloned().unwrap_or(V::Null);
        Ok(CountedAt {
            length: at(3).int(),
            hash: at(4).into_text(),
            counts: ReviewCounts {
                in_force: u64::try_from(at(0).int()).unwrap_or(0),
                due: u64::try_from(at(1).int()).unwrap_or(0),
                next_due: at(2).opt_int().map(Timestamp::from_unix),
            },
        })
    })
}

/// The most positions kept in one run of the chain that [`carried`] looks up, one read each;
/// past that (a backlog of reviews recorded at once) a recount costs less.
pub const CARRY_MAX_POSITIONS: usize = 1_000;

/// `kept` (counts of `sites` for the moment `not_since`) carried to the audit chain's head, from
/// the records written since they were counted: unchanged when none of them can change them
/// (incidents, cards, findings' notes, sign-ins…), moved by the "keep" decisions among them,
/// each position kept read by its key; or why they cannot be (a removal, a change to people or
/// positions, more records than [`RECHECK_MAX_RECORDS`], a chain that is not the one counted
/// on), for a recount. The head is read again after the positions: if it moved, what was read
/// may be of a later estate, and the answer is a recount.
pub fn carried(
    store: &dyn Store,
    sites: Option<&[String]>,
    not_since: Timestamp,
    kept: &CountedAt,
) -> Result<Result<CountedAt, String>, StoreError> {
    with_read(store, |x| {
        let head = read_head(x)?;
        if head.0 < kept.length {
            return Ok(Err(format!(
                "the audit chain holds {} records, fewer than the {} counted at",
                head.0, kept.length
            )));
        }
        let wanted = head.0 - kept.length;
        if wanted > RECHECK_MAX_RECORDS as i64 {
            return Ok(Err(format!("{wanted} audit records to read")));
        }
        let records = x.rows(
            "SELECT seq, at, actor, action, entity_kind, entity_key, note, before, after, hash \
             FROM audit_log WHERE seq >= $1 AND seq <= $2 ORDER BY seq",
            &[P::I(kept.length), P::I(head.0)],
        )?;
        // The record counted at is still the chain's (none when the chain was empty).
        let counted_on = records
            .first()
            .filter(|r| r[0].int() == kept.length)
            .map(|r| r[9].text().to_owned());
        if kept.length > 0 && counted_on.as_deref() != Some(kept.hash.as_str()) {
            return Ok(Err("the audit chain is not the one counted on".into()));
        }
        let records: Vec<AuditRecord> = records
            .into_iter()
            .filter(|r| r[0].int() > kept.length)
            .map(audit_record)
            .collect();
        if records.len() as i64 != wanted {
            return Ok(Err(format!(
                "{} audit records read of {wanted}",
                records.len()
            )));
        }
        let keeps = match bearing(&records) {
            Ok(k) => k,
            Err(why) => return Ok(Err(why)),
        };
        let mut placed: BTreeMap<PositionKey, Option<Placed>> = BTreeMap::new();
        for k in &keeps {
            if placed.contains_key(&k.position) {
                continue;
            }
            if placed.len() == CARRY_MAX_POSITIONS {
                return Ok(Err(format!(
                    "more than {CARRY_MAX_POSITIONS} positions kept"
                )));
            }
            placed.insert(k.position.clone(), place(x, &k.position)?);
        }
        if read_head(x)? != head {
            return Ok(Err("the audit chain moved while the keeps were read".into()));
        }
        let counts = match after_keeps(kept.counts, not_since, sites, &keeps, &placed) {
            Ok(c) => c,
            Err(why) => return Ok(Err(why)),
        };
        Ok(Ok(CountedAt {
            length: head.0,
            hash: head.1,
            counts,
        }))
    })
}

/// The audit chain's head: its length and its last record's hash.
fn read_head(x: &mut dyn crate::exec::Exec) -> Result<(i64, String), StoreError> {
    let row = x
        .rows("SELECT seq, hash FROM audit_head WHERE id = 1", &[])?
        .into_iter()
        .next()
        .ok_or_else(|| StoreError::Database("the audit chain has no head".into()))?;
    Ok((row[0].int(), row[1].text().to_owned()))
}

/// An audit record from its columns (seq, at, actor, action, entity_kind, entity_key, note,
/// before, after).
fn audit_record(mut r: Vec<V>) -> AuditRecord {
    let mut take = |i: usize| std::mem::replace(&mut r[i], V::Null);
    AuditRecord {
        seq: take(0).int(),
        at: Timestamp::from_unix(take(1).int()),
        actor: take(2).into_text(),
        action: take(3).into_text(),
        entity_kind: take(4).into_text(),
        entity_key: take(5).into_text(),
        note: take(6).into_text(),
        before: take(7).opt_text().map(str::to_owned),
        after: take(8).opt_text().map(str::to_owned),
    }
}

/// A position as the counts see it: its holder's site, whether it is in force, and the moments
/// of its decisions; `None` when it or its holder is not in the estate. By the positions' and
/// the decisions' keys.
fn place(
    x: &mut dyn crate::exec::Exec,
    (holder, ods, role): &PositionKey,
) -> Result<Option<Placed>, StoreError> {
    let keys = [P::T(holder), P::T(ods), P::T(role)];
    let Some(row) = x
        .rows(
            "SELECT pe.site_ods, p.status FROM positions p JOIN people pe \
             ON pe.uuid = p.holder_uuid \
             WHERE p.holder_uuid = $1 AND p.ods_code = $2 AND p.role_code = $3",
            &keys,
        )?
        .into_iter()
        .next()
    else {
        return Ok(None);
    };
    let decided = x
        .rows(
            "SELECT decided_at FROM access_reviews \
             WHERE holder_uuid = $1 AND ods_code = $2 AND role_code = $3",
            &keys,
        )?
        .into_iter()
        .map(|r| Timestamp::from_unix(r[0].int()))
        .collect();
    Ok(Some(Placed {
        site_ods: row[0].text().to_owned(),
        in_force: row[1].text() == "active",
        decided,
    }))
}

/// Decides on a holder's position in force (audited as `access_review`): keep attests it; remove
/// takes it away through its lifecycle first. A position not in force is refused.
pub fn decide(
    store: &dyn Store,
    holder: &str,
    ods: &str,
    role: &str,
    decision: Decision,
    reason: &str,
    change: &Change,
) -> Result<(), StoreError> {
    if decision == Decision::Remove {
        crate::positions::set_position_status(
            store,
            holder,
            ods,
            role,
            cardwatch_core::vocab::PositionStatus::Removed,
            change.at.date(),
            change,
        )?;
    }
    with_exec(store, |x| {
        if decision == Decision::Keep {
            keep(x, holder, ods, role, reason, change)
        } else {
            record(x, holder, ods, role, decision, reason, change)
        }
    })
}

/// Records a "keep", refused unless the position is in force.
fn keep(
    x: &mut dyn crate::exec::Exec,
    holder: &str,
    ods: &str,
    role: &str,
    reason: &str,
    change: &Change,
) -> Result<(), StoreError> {
    if x.rows(
        "SELECT 1 FROM positions WHERE holder_uuid = $1 AND ods_code = $2 \
         AND role_code = $3 AND status = 'active'",
        &[holder.into(), ods.into(), role.into()],
    )?
    .is_empty()
    {
        return Err(StoreError::Invalid(format!(
            "{holder} holds no position {role} at {ods} in force"
        )));
    }
    record(x, holder, ods, role, Decision::Keep, reason, change)
}

/// Writes a decision and its audit record. A decision on the same position at the same moment
/// (second) is replaced, and the record's `before` holds it: what the reviews list's kept counts
/// read to tell a decision the record wrote from one that was there before it.
fn record(
    x: &mut dyn crate::exec::Exec,
    holder: &str,
    ods: &str,
    role: &str,
    decision: Decision,
    reason: &str,
    change: &Change,
) -> Result<(), StoreError> {
    let row = [
        holder.into(),
        ods.into(),
        role.into(),
        change.at.unix().into(),
        change.actor.as_str().into(),
        decision.as_str().into(),
        reason.into(),
    ];
    // Inserted unless one is there (waiting for a writer of the same key to finish), so that
    // whether one was replaced is known for certain.
    let inserted = x.exec(
        "INSERT INTO access_reviews (holder_uuid, ods_code, role_code, decided_at, reviewer, \
         decision, reason) VALUES ($1, $2, $3, $4, $5, $6, $7) \
         ON CONFLICT (holder_uuid, ods_code, role_code, decided_at) DO NOTHING",
        &row,
    )?;
    let before = if inserted == 1 {
        None
    } else {
        let replaced = x
            .rows(
                "SELECT reviewer, decision, reason FROM access_reviews WHERE holder_uuid = $1 \
                 AND ods_code = $2 AND role_code = $3 AND decided_at = $4",
                &row[..4],
            )?
            .into_iter()
            .next()
            .map(|r| {
                serde_json::json!({
                    "reviewer": r[0].text(), "decision": r[1].text(), "reason": r[2].text(),
                })
            })
            .unwrap_or_default();
        x.exec(
            "UPDATE access_reviews SET reviewer = $5, decision = $6, reason = $7 \
             WHERE holder_uuid = $1 AND ods_code = $2 AND role_code = $3 AND decided_at = $4",
            &row,
        )?;
        Some(replaced.to_string())
    };
    x.audit(
        change,
        &Entry {
            action: decision.as_str(),
            kind: "access_review",
            key: &format!("{holder}\u{1f}{ods}\u{1f}{role}"),
            before,
            after: Some(serde_json::json!({ "reason": reason }).to_string()),
        },
    )
}

/// A position in force attested as kept: its holder, where, the role, why, and who and when.
#[derive(Clone, Debug)]
pub struct Kept<'a> {
    /// The holder's UUID.
    pub holder: &'a str,
    /// Where the role is held.
    pub ods: &'a str,
    /// The role's code.
    pub role: &'a str,
    /// Why it was kept.
    pub reason: &'a str,
    /// Who decided, and when.
    pub change: Change,
}

/// Records many "keep" decisions in one transaction, each checked and audited as [`decide`]
/// records one: for a backlog of reviews written at once (the demo's past), where a transaction
/// each would cost a commit each. Any position not in force refuses the lot.
pub fn keep_all(store: &dyn Store, kept: &[Kept<'_>]) -> Result<(), StoreError> {
    with_exec(store, |x| {
        for k in kept {
            keep(x, k.holder, k.ods, k.role, k.reason, &k.change)?;
        }
        Ok(())
    })
}

/// Every decision on a holder's positions, newest first: (organisation, role, the decision).
pub fn decisions_of(
    store: &dyn Store,
    holder: &str,
) -> Result<Vec<(String, String, Decided)>, StoreError> {
    with_read(store, |x| {
        Ok(x.rows(
            "SELECT ods_code, role_code, decided_at, reviewer, decision, reason \
                 FROM access_reviews WHERE holder_uuid = $1 ORDER BY decided_at DESC",
            &[holder.into()],
        )?
        .into_iter()
        .map(|mut r| {
            let mut take = |i: usize| std::mem::replace(&mut r[i], V::Null);
            (
                take(0).into_text(),
                take(1).into_text(),
                Decided {
                    at: Timestamp::from_unix(take(2).int()),
                    reviewer: take(3).into_text(),
                    decision: take(4).into_text(),
                    reason: take(5).into_text(),
                },
            )
        })
        .collect())
    })
}
