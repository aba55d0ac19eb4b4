//! Triage incidents: what a backend's transaction must do with them, and the operations written
//! once on top (open, record a step, close), each audited in the same transaction — and a whole
//! history of them recorded at once (the demo's past), audited as those operations audit them.

use cardwatch_core::date::Timestamp;
use cardwatch_core::triage::{Incident, IncidentStatus, IncidentStep, NewIncident};

use cardwatch_core::audit::AuditRecord;

use crate::lists::Position;
use crate::tx::{AuditChain, Tx};
use crate::{Change, StoreError};

/// The columns both backends read an incident from, in [`from_columns`] order.
pub(crate) const COLUMNS: &str = "id, opened_at, reporter, site, card_serial, hostname, \
    application, doing, symptom, error_text, steps, status, confirmed_cause, minutes_to_fix, closed_at";

/// An incident's stored columns.
pub(crate) type Columns = (
    i64,
    i64,
    String,
    Option<String>,
    Option<String>,
    Option<String>,
    Option<String>,
    Option<String>,
    String,
    Option<String>,
    String,
    String,
    Option<String>,
    Option<f64>,
    Option<i64>,
);

/// An incident from its stored columns.
pub(crate) fn from_columns(c: Columns) -> Result<Incident, StoreError> {
    let (id, opened_at, reporter, site, card_serial, hostname, application, doing, symptom) =
        (c.0, c.1, c.2, c.3, c.4, c.5, c.6, c.7, c.8);
    let bad = |what: String| StoreError::Database(format!("incident {id}: {what}"));
    Ok(Incident {
        id,
        opened_at: Timestamp::from_unix(opened_at),
        opened: NewIncident {
            reporter,
            site,
            card_serial,
            hostname,
            application,
            doing,
            symptom,
            error_text: c.9,
        },
        steps: serde_json::from_str(&c.10).map_err(|e| bad(format!("steps: {e}")))?,
        status: IncidentStatus::parse(&c.11).map_err(bad)?,
        confirmed_cause: c.12,
        minutes_to_fix: c.13,
        closed_at: c.14.map(Timestamp::from_unix),
    })
}

/// What a backend's transaction does with incidents.
pub(crate) trait IncidentTx {
    /// The same transaction, for the audit chain.
    fn as_tx(&mut self) -> &mut dyn Tx;
    /// Inserts a new open incident; returns its number.
    fn insert_incident(&mut self, at: Timestamp, n: &NewIncident) -> Result<i64, StoreError>;
    /// An incident, locked until the transaction ends.
    fn incident_for_update(&mut self, id: i64) -> Result<Option<Incident>, StoreError>;
    /// Writes an incident's steps and outcome.
    fn put_incident(&mut self, i: &Incident) -> Result<(), StoreError>;
    /// Inserts whole incidents (their `id`s ignored) in a few multi-row statements; returns
    /// their new numbers, in order.
    fn insert_incidents(&mut self, list: &[Incident]) -> Result<Vec<i64>, StoreError>;
}

/// How many incidents one multi-row insert carries: 14 parameters each stays well inside both
/// backends' limits on parameters (SQLite 32,766, PostgreSQL 65,535).
pub(crate) const INSERT_ROWS: usize = 500;

/// The incidents' numbers from a multi-row insert's `RETURNING id`, in the order of its rows:
/// each row draws the next number as it is inserted, so ascending numbers are the rows' order
/// whatever order the database returns them in.
pub(crate) fn in_row_order(mut ids: Vec<i64>) -> Vec<i64> {
    ids.sort_unstable();
    ids
}

/// Appends audit records to the chain in this transaction, in order.
fn audit(tx: &mut dyn Tx, records: Vec<AuditRecord>) -> Result<(), StoreError> {
    let (seq, hash) = tx.audit_head()?;
    let mut chain = AuditChain { seq, hash };
    chain.append(tx, records)?;
    tx.set_audit_head(chain.seq, &chain.hash)
}

/// One audit record about incident `id`.
fn record(
    change: &Change,
    action: &str,
    id: i64,
    note: &str,
    after: Option<String>,
) -> AuditRecord {
    AuditRecord {
        seq: 0,
        at: change.at,
        actor: change.actor.clone(),
        action: action.to_owned(),
        entity_kind: "incident".to_owned(),
        entity_key: id.to_string(),
        note: note.trim().to_owned(),
        before: None,
        after,
    }
}

/// The audit record of an incident's opening.
fn opened_record(id: i64, n: &NewIncident, change: &Change) -> AuditRecord {
    let after = serde_json::to_string(n).unwrap_or_default();
    record(change, "open", id, &n.symptom, Some(after))
}

/// The audit record of a step.
fn step_record(id: i64, step: &IncidentStep, change: &Change) -> AuditRecord {
    let after = serde_json::to_string(step).unwrap_or_default();
    record(change, "step", id, "", Some(after))
}

/// The audit record of an incident's closing.
fn closed_record(i: &Incident, change: &Change) -> AuditRecord {
    let cause = i.confirmed_cause.as_deref();
    let after = serde_json::json!({
        "status": i.status.as_str(),
        "confirmed_cause": cause,
        "minutes_to_fix": i.minutes_to_fix,
    });
    record(
        change,
        i.status.as_str(),
        i.id,
        cause.unwrap_or(""),
        Some(after.to_string()),
    )
}

fn text(what: &str, v: &Option<String>, max: usize) -> Result<(), StoreError> {
    match v {
        Some(s) if s.trim().is_empty() => Err(StoreError::Invalid(format!(
            "{what} is empty — leave it out or fill it in"
        ))),
        Some(s) if s.chars().count() > max => Err(StoreError::Invalid(format!(
            "{what} is longer than {max} characters — shorten it"
        ))),
        _ => Ok(()),
    }
}

/// Refuses a new incident whose fields are empty or too long.
fn check_new(n: &NewIncident) -> Result<(), StoreError> {
    text("the reporter", &Some(n.reporter.clone()), 200)?;
    text("the symptom", &Some(n.symptom.clone()), 100)?;
    for (what, v) in [
        ("the site", &n.site),
        ("the card serial", &n.card_serial),
        ("the hostname", &n.hostname),
        ("the application", &n.application),
    ] {
        text(what, v, 100)?;
    }
    text("what the user was doing", &n.doing, 2000)?;
    text("the error text", &n.error_text, 2000)
}

/// Opens an incident, audited.
pub(crate) fn open(
    tx: &mut dyn IncidentTx,
    n: &NewIncident,
    change: &Change,
) -> Result<i64, StoreError> {
    check_new(n)?;
    let id = tx.insert_incident(change.at, n)?;
    audit(tx.as_tx(), vec![opened_record(id, n, change)])?;
    Ok(id)
}

fn open_one(tx: &mut dyn IncidentTx, id: i64) -> Result<Incident, StoreError> {
    let i = tx
        .incident_for_update(id)?
        .ok_or_else(|| StoreError::Invalid(format!("there is no incident {id}")))?;
    if i.status != IncidentStatus::Open {
        return Err(StoreError::Invalid(format!(
            "incident {id} is already {} — open a new one",
            i.status.as_str()
        )));
    }
    Ok(i)
}

/// Appends a step to an open incident, audited.
pub(crate) fn record_step(
    tx: &mut dyn IncidentTx,
    id: i64,
    step: &IncidentStep,
    change: &Change,
) -> Result<(), StoreError> {
    let mut i = open_one(tx, id)?;
    i.steps.push(step.clone());
    tx.put_incident(&i)?;
    audit(tx.as_tx(), vec![step_record(id, step, change)])
}

/// Closes an open incident as resolved (with the cause a fix confirmed) or escalated, audited.
pub(crate) fn close(
    tx: &mut dyn IncidentTx,
    id: i64,
    status: IncidentStatus,
    cause: Option<&str>,
    change: &Change,
) -> Result<Incident, StoreError> {
    if status == IncidentStatus::Open {
        return Err(StoreError::Invalid(
            "an incident is closed as resolved or escalated".into(),
        ));
    }
    let mut i = open_one(tx, id)?;
    closing(&mut i, status, cause, change)?;
    tx.put_incident(&i)?;
    audit(tx.as_tx(), vec![closed_record(&i, change)])?;
    Ok(i)
}

/// An open incident closed at `change.at`: its status, cause and minutes to fix (counted from its
/// opening).
fn closing(
    i: &mut Incident,
    status: IncidentStatus,
    cause: Option<&str>,
    change: &Change,
) -> Result<(), StoreError> {
    if status == IncidentStatus::Open {
        return Err(StoreError::Invalid(
            "an incident is closed as resolved or escalated".into(),
        ));
    }
    i.status = status;
    i.confirmed_cause = cause.map(str::to_owned);
    i.closed_at = Some(change.at);
    i.minutes_to_fix = Some((change.at.unix() - i.opened_at.unix()).max(0) as f64 / 60.0);
    Ok(())
}

/// An incident's whole run as a batch records it: its opening, each step and, unless it is still
/// open, its closing — each with who did it and when.
#[derive(Clone, Debug)]
pub struct RecordedIncident {
    /// What was known when it was opened.
    pub opened: NewIncident,
    /// Who opened it, and when.
    pub opened_by: Change,
    /// The checks answered and fixes tried, in order, each with who recorded it and when.
    pub steps: Vec<(IncidentStep, Change)>,
    /// Resolved (with the cause the working fix confirmed) or escalated, by whom and when;
    /// `None` for one still open.
    pub closed: Option<(IncidentStatus, Option<String>, Change)>,
}

/// Records many incidents' whole runs in one transaction: the incidents in multi-row inserts,
/// then their audit records — each the one [`open`], [`record_step`] and [`close`] would append,
/// in the order those calls would append them (an incident's opening, its steps, its closing,
/// then the next incident) — so the history and the chain come out as if each had been recorded
/// as it happened, for a commit or two rather than one for each. Any bad incident refuses the
/// lot. Returns the incidents' numbers, in order.
pub(crate) fn record_all(
    tx: &mut dyn IncidentTx,
    list: &[RecordedIncident],
) -> Result<Vec<i64>, StoreError> {
    let mut whole = Vec::with_capacity(list.len());
    for r in list {
        check_new(&r.opened)?;
        let mut i = Incident {
            id: 0,
            opened_at: r.opened_by.at,
            opened: r.opened.clone(),
            steps: r.steps.iter().map(|(s, _)| s.clone()).collect(),
            status: IncidentStatus::Open,
            confirmed_cause: None,
            minutes_to_fix: None,
            closed_at: None,
        };
        if let Some((status, cause, change)) = &r.closed {
            closing(&mut i, *status, cause.as_deref(), change)?;
        }
        whole.push(i);
    }
    let ids = tx.insert_incidents(&whole)?;
    if ids.len() != whole.len() {
        return Err(StoreError::Database(format!(
            "{} incidents inserted, {} numbers returned",
            whole.len(),
            ids.len()
        )));
    }
    let mut records = Vec::new();
    for ((r, i), &id) in list.iter().zip(&mut whole).zip(&ids) {
        i.id = id;
        records.push(opened_record(id, &r.opened, &r.opened_by));
        records.extend(r.steps.iter().map(|(s, c)| step_record(id, s, c)));
        if let Some((_, _, change)) = &r.closed {
            records.push(closed_record(i, change));
        }
    }
    audit(tx.as_tx(), records)?;
    Ok(ids)
}

/// What a list of incidents sorts by.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum IncidentSort {
    /// When opened.
    Opened,
    /// The site.
    Site,
    /// The symptom.
    Symptom,
    /// The status.
    Status,
    /// Minutes to fix (unfixed last).
    Minutes,
    /// The confirmed cause.
    Cause,
}

impl IncidentSort {
    /// Its SQL ordering expression (constant text: never from the caller).
    fn sql(self) -> &'static str {
        match self {
            IncidentSort::Opened => "opened_at",
            IncidentSort::Site => "site",
            IncidentSort::Symptom => "symptom",
            IncidentSort::Status => "status",
            // Unfixed ones count as taking forever.
            IncidentSort::Minutes => "COALESCE(minutes_to_fix, 1e18)",
            IncidentSort::Cause => "confirmed_cause",
        }
    }
}

/// Which incidents a caller may see and wants, sorted and paged.
#[derive(Clone, Debug)]
pub struct IncidentQuery {
    /// The sites the caller sees; `None` for every site.
    pub sites: Option<Vec<String>>,
    /// Whether incidents recorded without a site are seen (callers who see everything).
    pub siteless: bool,
    /// Whoever recorded an incident sees it, whatever its site (`web:USERNAME`).
    pub reporter: String,
    /// Only this status.
    pub status: Option<IncidentStatus>,
    /// Only this site.
    pub site: Option<String>,
    /// Only this card's.
    pub card_serial: Option<String>,
    /// The order.
    pub sort: IncidentSort,
    /// Newest (or largest) first.
    pub descending: bool,
    /// Skip this many.
    pub offset: usize,
    /// At most this many; `None` for all.
    pub limit: Option<usize>,
}

impl IncidentQuery {
    /// Every incident, whoever recorded it, oldest first and unpaged: the base the narrower
    /// queries are built on.
    pub fn everything() -> IncidentQuery {
        IncidentQuery {
            sites: None,
            siteless: true,
            reporter: String::new(),
            status: None,
            site: None,
            card_serial: None,
            sort: IncidentSort::Opened,
            descending: false,
            offset: 0,
            limit: None,
        }
    }

    /// Every incident about one card, whoever recorded it, oldest first and unpaged: for pages
    /// that have already decided the caller may see the card.
    pub fn of_card(serial: &str) -> IncidentQuery {
        IncidentQuery {
            card_serial: Some(serial.to_owned()),
            ..IncidentQuery::everything()
        }
    }
}

/// The WHERE clause of a query, with its parameters (`$1`…). A caller who sees every incident
/// (every site, and those without one) is not limited at all: a condition every row meets would
/// only stand between the planner and the list's indexes.
pub(crate) fn filter(q: &IncidentQuery) -> (String, Vec<crate::exec::P<'_>>) {
    use crate::exec::P;
    let mut params: Vec<P> = Vec::new();
    let mut terms: Vec<String> = Vec::new();
    if q.sites.is_some() || !q.siteless {
        // Seen: recorded by the caller, or at a site they see, or site-less for those who see
        // all.
        params.push(P::T(&q.reporter));
        let mut seen = format!("(reporter = ${}", params.len());
        if q.siteless {
            seen.push_str(" OR site IS NULL");
        }
        match &q.sites {
            None => seen.push_str(" OR site IS NOT NULL"),
            Some(sites) if sites.is_empty() => {}
            Some(sites) => {
                let within = crate::exec::in_list("site", sites, &mut params);
                seen.push_str(&format!(" OR {within}"));
            }
        }
        seen.push(')');
        terms.push(seen);
    }
    if let Some(status) = q.status {
        params.push(P::T(status.as_str()));
        terms.push(format!("status = ${}", params.len()));
    }
    if let Some(site) = &q.site {
        params.push(P::T(site));
        terms.push(format!("site = ${}", params.len()));
    }
    if let Some(card) = &q.card_serial {
        params.push(P::T(card));
        terms.push(format!("card_serial = ${}", params.len()));
    }
    if terms.is_empty() {
        terms.push("1 = 1".into());
    }
    (terms.join(" AND "), params)
}

/// An incident from a row of [`COLUMNS`].
fn incident_of_row(mut r: Vec<crate::exec::V>) -> Result<Incident, StoreError> {
    use crate::exec::V;
    let mut take = |i: usize| std::mem::replace(&mut r[i], V::Null);
    from_columns((
        take(0).int(),
        take(1).int(),
        take(2).into_text(),
        take(3).opt_text().map(str::to_owned),
        take(4).opt_text().map(str::to_owned),
        take(5).opt_text().map(str::to_owned),
        take(6).opt_text().map(str::to_owned),
        take(7).opt_text().map(str::to_owned),
        take(8).into_text(),
        take(9).opt_text().map(str::to_owned),
        take(10).into_text(),
        take(11).into_text(),
        take(12).opt_text().map(str::to_owned),
        take(13).opt_real(),
        take(14).opt_int(),
    ))
}

/// The incidents a query asks for, filtered, sorted and paged in the database: (how many match
/// in all, the page).
pub fn page(
    store: &dyn crate::Store,
    q: &IncidentQuery,
) -> Result<(u64, Vec<Incident>), StoreError> {
    use crate::exec::{counted_page, with_read};
    let (filter, params) = filter(q);
    let dir = if q.descending { "DESC" } else { "ASC" };
    // NULLs sort as the smallest in both orders on both backends.
    let order = format!(
        "CASE WHEN {0} IS NULL THEN 0 ELSE 1 END {dir}, {0} {dir}, id {dir}",
        q.sort.sql()
    );
    with_read(store, |x| {
        let (total, rows) = counted_page(
            x,
            COLUMNS,
            &format!("incidents WHERE {filter}"),
            &order,
            &params,
            q.limit,
            q.offset,
        )?;
        let list = rows
            .into_iter()
            .map(incident_of_row)
            .collect::<Result<Vec<Incident>, StoreError>>()?;
        Ok((total, list))
    })
}

/// Where a sort puts a position's value: NULL (before every value), a value, or past every
/// value (a cursor's value that is no number in a list sorted by a number).
#[derive(Clone, Debug, PartialEq)]
enum At {
    Null,
    Int(i64),
    /// Text, or a real as [`real_text`] writes it.
    Text(String),
    Past,
}

/// A real as a position carries it: the shortest text that reads back as the same number.
fn real_text(x: f64) -> String {
    format!("{x:e}")
}

impl IncidentSort {
    /// Whether the sort column holds NULLs (the minutes' expression never does).
    fn nullable(self) -> bool {
        matches!(self, IncidentSort::Site | IncidentSort::Cause)
    }

    /// An incident's value in this sort's column, as a position carries it.
    fn value_of(self, i: &Incident) -> Option<String> {
        match self {
            IncidentSort::Opened => Some(i.opened_at.unix().to_string()),
            IncidentSort::Site => i.opened.site.clone(),
            IncidentSort::Symptom => Some(i.opened.symptom.clone()),
            IncidentSort::Status => Some(i.status.as_str().to_owned()),
            IncidentSort::Minutes => Some(real_text(i.minutes_to_fix.unwrap_or(1e18))),
            IncidentSort::Cause => i.confirmed_cause.clone(),
        }
    }

    /// A position's value read as this sort's column holds it.
    fn at(self, value: Option<&str>) -> At {
        let Some(v) = value else { return At::Null };
        match self {
            IncidentSort::Opened => v.parse().map_or(At::Past, At::Int),
            IncidentSort::Minutes => match v.parse::<f64>() {
                Ok(x) if x.is_finite() => At::Text(real_text(x)),
                _ => At::Past,
            },
            _ => At::Text(v.to_owned()),
        }
    }
}

impl IncidentQuery {
    /// The position of an incident in this query's order, for a page to start after it (or,
    /// `before`, to end before it): its value in the sort column, then its number — only its
    /// number when that value is NULL.
    pub fn position_of(&self, i: &Incident, before: bool) -> Position {
        Position {
            before,
            values: self
                .sort
                .value_of(i)
                .into_iter()
                .chain([i.id.to_string()])
                .collect(),
        }
    }

    /// One page of the incidents this query matches, read by keyset: the `limit` after `from`
    /// (or before it, going back; the first when `None`) in the query's order, which is
    /// [`page`]'s — by the sort column then the number, NULLs first going up and last going
    /// down. `offset` is not used. Returns the page in the list's order, and whether there are
    /// more beyond it in the direction read.
    ///
    /// A page is a short range of the list's indexes (migration 0025) in either direction,
    /// never a sort of every match: the rows without a value in a nullable sort column (the
    /// site, the cause) are read apart from those with one, each range in index order.
    /// A position is [`position_of`](Self::position_of)'s: the sort column's value (absent for
    /// NULL), then the number; a value that is no number where the sort is by one (when opened,
    /// minutes) stands past every value.
    pub fn keyset_page(
        &self,
        store: &dyn crate::Store,
        from: Option<&Position>,
    ) -> Result<(Vec<Incident>, bool), StoreError> {
        use crate::exec::P;
        let at = match from.map(|f| f.values.as_slice()) {
            None => None,
            Some([id]) => Some((At::Null, id)),
            Some([value, id]) => Some((self.sort.at(Some(value)), id)),
            Some(v) => {
                return Err(StoreError::Invalid(format!(
                    "a position in the incidents has 1 or 2 values, not {}",
                    v.len()
                )))
            }
        };
        let at = match at {
            None => None,
            Some((value, id)) => Some((
                value,
                id.parse::<i64>().map_err(|_| {
                    StoreError::Invalid(format!("{id:?} is not an incident's number"))
                })?,
            )),
        };
        let before = from.is_some_and(|f| f.before);
        // Reading back is reading the reversed order forward.
        let desc = self.descending != before;
        let limit = self.limit.unwrap_or(usize::MAX).min(i64::MAX as usize - 1);
        let take = limit + 1;
        // What to read, in the order read: the NULLs' range (`true`) or the values' range, each
        // from the position when it lies there.
        type Range = (bool, Option<(At, i64)>);
        let nulls = |bound| (true, bound);
        let values = |bound| (false, bound);
        let reads: Vec<Range> = match (desc, at) {
            (false, None) => vec![nulls(None), values(None)],
            (false, Some((At::Null, id))) => vec![nulls(Some((At::Null, id))), values(None)],
            (false, Some((At::Past, _))) => vec![],
            (false, Some(v)) => vec![values(Some(v))],
            (true, None | Some((At::Past, _))) => vec![values(None), nulls(None)],
            (true, Some((At::Null, id))) => vec![nulls(Some((At::Null, id)))],
            (true, Some(v)) => vec![values(Some(v)), nulls(None)],
        };
        let (filter, params) = filter(self);
        let x = self.sort.sql();
        let (dir, past, past_or_at) = if desc {
            ("DESC", "<", "<=")
        } else {
            ("ASC", ">", ">=")
        };
        crate::exec::with_read(store, |db| {
            let mut rows = Vec::new();
            for (null, bound) in &reads {
                if rows.len() >= take {
                    break;
                }
                if *null && !self.sort.nullable() {
                    continue;
                }
                let mut params = params.clone();
                let mut sql = format!("SELECT {COLUMNS} FROM incidents WHERE {filter}");
                let order = if *null {
                    sql.push_str(&format!(" AND {x} IS NULL"));
                    format!("id {dir}")
                } else {
                    if self.sort.nullable() {
                        sql.push_str(&format!(" AND {x} IS NOT NULL"));
                    }
                    format!("{x} {dir}, id {dir}")
                };
                match bound {
                    None => {}
                    Some((At::Null, id)) => {
                        params.push(P::I(*id));
                        sql.push_str(&format!(" AND id {past} ${}", params.len()));
                    }
                    Some((value, id)) => {
                        let mark = match value {
                            At::Int(n) => {
                                params.push(P::I(*n));
                                format!("${}", params.len())
                            }
                            At::Text(t) => {
                                params.push(P::T(t));
                                if self.sort == IncidentSort::Minutes {
                                    format!("CAST(${} AS DOUBLE PRECISION)", params.len())
                                } else {
                                    format!("${}", params.len())
                                }
                            }
                            At::Null | At::Past => unreachable!("handled above"),
                        };
                        params.push(P::I(*id));
                        // The bound on the column alone is what starts the index's range at
                        // the position; the other term drops the same value's incidents on the
                        // wrong side of it.
                        sql.push_str(&format!(
                            " AND {x} {past_or_at} {mark} AND ({x} {past} {mark} OR id {past} ${})",
                            params.len()
                        ));
                    }
                }
                params.push(P::I((take - rows.len()) as i64));
                sql.push_str(&format!(" ORDER BY {order} LIMIT ${}", params.len()));
                rows.extend(db.rows(&sql, &params)?);
            }
            let more = rows.len() > limit;
            rows.truncate(limit);
            if before {
                rows.reverse();
            }
            let list = rows
                .into_iter()
                .map(incident_of_row)
                .collect::<Result<Vec<Incident>, StoreError>>()?;
            Ok((list, more))
        })
    }
}

/// What the charts of a list need over every incident that matches (not just one page).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct IncidentTally {
    /// How many incidents match.
    pub matched: u64,
    /// Confirmed causes and how many incidents each.
    pub causes: Vec<(String, u64)>,
    /// Weeks (counted from Monday 1970-01-05) with the incidents fixed in them: (week, total
    /// minutes to fix, how many).
    pub weeks: Vec<(i64, f64, u64)>,
}

/// How many incidents a query matches, their causes and their minutes to fix by week, read
/// together (one read transaction, so they agree).
pub fn tally(store: &dyn crate::Store, q: &IncidentQuery) -> Result<IncidentTally, StoreError> {
    let (filter, params) = filter(q);
    crate::exec::with_read(store, |x| {
        let matched = x
            .rows(
                &format!("SELECT COUNT(*) FROM incidents WHERE {filter}"),
                &params,
            )?
            .first()
            .map_or(0, |r| r[0].int()) as u64;
        let causes = x
            .rows(
                &format!(
                    "SELECT confirmed_cause, COUNT(*) FROM incidents WHERE {filter} \
                     AND confirmed_cause IS NOT NULL GROUP BY confirmed_cause"
                ),
                &params,
            )?
            .into_iter()
            .map(|r| (r[0].text().to_owned(), r[1].int() as u64))
            .collect();
        // Days since 1970-01-01 less four, in whole weeks: the same integer division on both.
        let weeks = x
            .rows(
                &format!(
                    "SELECT (opened_at / 86400 - 4) / 7 AS week, \
                     SUM(minutes_to_fix), COUNT(*) FROM incidents \
                     WHERE {filter} AND minutes_to_fix IS NOT NULL GROUP BY week ORDER BY week"
                ),
                &params,
            )?
            .into_iter()
            .map(|r| {
                (
                    r[0].int(),
                    r[1].opt_real().unwrap_or(0.0),
                    r[2].int() as u64,
                )
            })
            .collect();
        Ok(IncidentTally {
            matched,
            causes,
            weeks,
        })
    })
}

/// How many incidents are open at each site (`None`: recorded without one).
pub fn open_by_site(store: &dyn crate::Store) -> Result<Vec<(Option<String>, usize)>, StoreError> {
    crate::exec::with_read(store, |x| {
        Ok(x.rows(
            "SELECT site, COUNT(*) FROM incidents WHERE status = 'open' GROUP BY site",
            &[],
        )?
        .into_iter()
        .map(|r| (r[0].opt_text().map(str::to_owned), r[1].int() as usize))
        .collect())
    })
}
