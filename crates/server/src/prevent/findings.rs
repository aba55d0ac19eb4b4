//! The findings of the health checks as a work queue: `GET /api/v1/findings` (JSON, paged by
//! `limit` and an opaque `cursor`, or CSV) and the page `/findings`, both grouped by what to do
//! and who does it, the most urgent first, with the filters of `cardwatch check` and an owner.
//! Each page is cut from what the cached check keeps ([`queue_index`]): a page of the whole
//! estate's queue is read from its index in what a page costs, a scoped caller's from a pass over
//! their own findings — never a sort or a copy of them.

use std::collections::HashMap;
use std::sync::Arc;

use askama::Template;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use cardwatch_core::access::{Permission, Scope};
use cardwatch_core::health::{
    action, rules_with_actions, Filter, Group, Noted, Owner, QueuePage, Severity, CSV_COLUMNS,
};
use serde_json::json;

use crate::prevent::check::{all_findings, Check};
use crate::prevent::columns::{self, column_order, SORTABLE};
use crate::prevent::queue_index;
use crate::web::auth::Caller;
use crate::web::scope::SiteNames;
use crate::web::scope::{viewer, Viewer};
use crate::web::{bad_request, enc, sites};
use crate::AppState;

/// The most findings one API page returns.
pub(crate) const MAX_LIMIT: usize = 10_000;

/// The furthest a page may start (far beyond any estate: a bound the API document can state).
pub(crate) const MAX_OFFSET: usize = 1_000_000_000;

/// What [`cursor`] writes, as the API document states it: "after N" in hex.
pub(crate) const CURSOR_PATTERN: &str = "^616674657220(3[0-9]){1,10}$";

/// Findings a page shows unless asked otherwise.
const DEFAULT_LIMIT: usize = 50;

/// The query parameters both views accept, validated.
#[derive(Clone, Debug)]
pub(crate) struct Params {
    pub(crate) filter: Filter,
    /// Only findings for this kind of person to act on.
    pub(crate) owner: Option<Owner>,
    csv: bool,
    pub(crate) offset: usize,
    pub(crate) limit: usize,
    /// A column to sort by and whether descending; none keeps the queue's order.
    pub(crate) sort: Option<(&'static str, bool)>,
}

/// A refused parameter: which, and why in words.
#[derive(Debug)]
pub(crate) struct Refused {
    pub(crate) field: &'static str,
    pub(crate) message: String,
}

fn refused(field: &'static str, message: String) -> Refused {
    Refused { field, message }
}

/// Which view reads the parameters: each has a few of its own.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum View {
    Api,
    Page,
}

/// An API page's cursor: opaque to callers, the position of the next page's first finding.
fn cursor(offset: usize) -> String {
    hex::encode(format!("after {offset}"))
}

fn read_cursor(c: &str) -> Option<usize> {
    let bytes = hex::decode(c).ok()?;
    let n = std::str::from_utf8(&bytes).ok()?.strip_prefix("after ")?;
    // Only what `cursor` writes (and CURSOR_PATTERN states): 1 to 10 digits.
    ((1..=10).contains(&n.len()) && n.bytes().all(|b| b.is_ascii_digit()))
        .then(|| n.parse().ok())
        .flatten()
}

pub(crate) fn params(q: &HashMap<String, String>, view: View) -> Result<Params, Refused> {
    const KNOWN: [&str; 10] = [
        "site",
        "owner",
        "min_severity",
        "rule",
        "all",
        "format",
        "offset",
        "limit",
        "sort",
        "order",
    ];
    let own: &[&str] = match view {
        View::Api => &["cursor"],
        View::Page => &["done", "count"],
    };
    if let Some(k) = q
        .keys()
        .find(|k| !KNOWN.contains(&k.as_str()) && !own.contains(&k.as_str()))
    {
        return Err(refused(
            "query",
            format!(
                "unknown parameter {k:?} — use {}, {}",
                KNOWN.join(", "),
                own.join(", ")
            ),
        ));
    }
    let get = |k: &str| q.get(k).map(|v| v.trim()).filter(|v| !v.is_empty());
    let number = |k: &'static str, default: usize| match get(k) {
        None => Ok(default),
        Some(v) => v.parse::<usize>().map_err(|_| {
            refused(
                k,
                format!("{k} {v:?} is not a whole number (0 to {MAX_OFFSET})"),
            )
        }),
    };
    let min_severity = get("min_severity")
        .map(|v| {
            Severity::parse(v).map_err(|_| {
                refused(
                    "min_severity",
                    format!("Severity {v:?} is not one of: info, warning, urgent, critical"),
                )
            })
        })
        .transpose()?;
    let owner = get("owner")
        .map(|v| {
            Owner::ALL
                .iter()
                .copied()
                .find(|o| o.as_str().eq_ignore_ascii_case(v) || o.label().eq_ignore_ascii_case(v))
                .ok_or_else(|| {
                    refused(
                        "owner",
                        format!("Who acts {v:?} is not one of: holder, practice_manager, it, ra"),
                    )
                })
        })
        .transpose()?;
    let all = match get("all") {
        None | Some("false" | "no" | "0") => false,
        Some("true" | "yes" | "1") => true,
        Some(v) => return Err(refused("all", format!("all {v:?}: use true or false"))),
    };
    let csv = match get("format") {
        None | Some("json") => false,
        Some("csv") => true,
        Some(v) => return Err(refused("format", format!("format {v:?}: use json or csv"))),
    };
    let descending = match get("order") {
        None | Some("asc") => false,
        Some("desc") => true,
        Some(v) => return Err(refused("order", format!("order {v:?}: use asc or desc"))),
    };
    let sort = match get("sort") {
        None => None,
        Some(v) => Some((
            SORTABLE.iter().copied().find(|c| *c == v).ok_or_else(|| {
                refused(
                    "sort",
                    format!("sort {v:?}: use one of {}", SORTABLE.join(", ")),
                )
            })?,
            descending,
        )),
    };
    let limit = number("limit", DEFAULT_LIMIT)?;
    if limit == 0 || limit > MAX_LIMIT {
        return Err(refused("limit", format!("limit must be 1 to {MAX_LIMIT}")));
    }
    // An offset with a cursor skips that many more after the cursor's position.
    let skip = number("offset", 0)?;
    if skip > MAX_OFFSET {
        return Err(refused(
            "offset",
            format!("offset must be 0 to {MAX_OFFSET}"),
        ));
    }
    let from = match get("cursor") {
        Some(c) => read_cursor(c).ok_or_else(|| {
            refused(
                "cursor",
                "cursor is not one this server gave — start again without it".into(),
            )
        })?,
        None => 0,
    };
    let offset = from.saturating_add(skip);
    let site = get("site")
        .map(|v| {
            cardwatch_core::ids::OdsCode::parse(v)
                .map(|o| o.as_str().to_owned())
                .map_err(|e| refused("site", format!("site {v:?}: {e}")))
        })
        .transpose()?;
    Ok(Params {
        filter: Filter {
            site,
            min_severity,
            include_snoozed: all,
            rule: get("rule").map(str::to_owned),
        },
        owner,
        csv,
        offset,
        limit,
        sort,
    })
}

impl Params {
    /// Whether a finding passes the filters.
    pub(crate) fn keep(&self, n: &Noted) -> bool {
        self.filter.keep(n) && self.owner.is_none_or(|o| n.finding.owner == o)
    }

    /// The page's address with these filters, at another sort or offset.
    pub(crate) fn href(&self, sort: Option<(&str, bool)>, offset: usize) -> String {
        let mut q: Vec<String> = Vec::new();
        let mut add = |k: &str, v: &str| {
            if !v.is_empty() {
                q.push(format!("{k}={}", enc(v)));
            }
        };
        add("site", self.filter.site.as_deref().unwrap_or(""));
        add("owner", self.owner.map_or("", |o| o.as_str()));
        add(
            "min_severity",
            self.filter.min_severity.map_or("", |s| s.as_str()),
        );
        add("rule", self.filter.rule.as_deref().unwrap_or(""));
        if self.filter.include_snoozed {
            add("all", "yes");
        }
        if let Some((by, desc)) = sort {
            add("sort", by);
            add("order", if desc { "desc" } else { "asc" });
        }
        if self.limit != DEFAULT_LIMIT {
            add("limit", &self.limit.to_string());
        }
        if offset > 0 {
            add("offset", &offset.to_string());
        }
        if q.is_empty() {
            "/findings".into()
        } else {
            format!("/findings?{}", q.join("&"))
        }
    }
}

/// Sorts findings by a column (ties keep the order they came in).
fn sort(found: &mut [&Noted], by: &str, descending: bool) {
    found.sort_by(|a, b| column_order(a, b, by, descending));
}

/// One page of the caller's findings: the groups of all that pass the filters, their total,
/// and the page's findings with their group (none when sorted by a column).
pub(crate) struct Listing<'a> {
    pub(crate) groups: Vec<Group>,
    pub(crate) total: usize,
    pub(crate) rows: Vec<(Option<usize>, &'a Noted)>,
}

pub(crate) fn listing<'a>(check: &'a Check, viewer: &Viewer, p: &Params) -> Listing<'a> {
    listing_from(check, viewer, p, None)
}

/// The listing, its sorted rows read from `first` when given: the start of the column's order
/// among the findings the page keeps, picked by [`index_ready`] while the column's orders are
/// being built.
fn listing_from<'a>(
    check: &'a Check,
    viewer: &Viewer,
    p: &Params,
    first: Option<Vec<u32>>,
) -> Listing<'a> {
    let kept = queue_index::kept(check);
    let mine = kept.places(check, viewer);
    listing_of(check, &kept, mine, p, first.as_deref())
}

/// The listing of the findings at `mine` (their places in the queue; none: the whole estate's).
/// A sorted listing of the whole estate's reads its rows from `first` when given (see
/// [`listing_from`]), else from the column's orders kept with the check.
fn listing_of<'a>(
    check: &'a Check,
    kept: &queue_index::Kept,
    mine: Option<Arc<Vec<u32>>>,
    p: &Params,
    first: Option<&[u32]>,
) -> Listing<'a> {
    let all: &[Noted] = &check.all;
    match p.sort {
        None => {
            let q = queue_page(
                check,
                kept,
                mine.as_ref().map(|m| m.as_slice()),
                p,
                p.offset,
                p.limit,
            );
            Listing {
                groups: q.groups,
                total: q.total,
                rows: q
                    .rows
                    .into_iter()
                    .map(|(g, i)| (Some(g), &all[i as usize]))
                    .collect(),
            }
        }
        Some((by, descending)) => {
            // Sorting by a column is asked for, not the default: it sorts the caller's findings.
            let q = queue_page(check, kept, mine.as_ref().map(|m| m.as_slice()), p, 0, 0);
            let Some(places) = &mine else {
                let rows = match first {
                    // The start of the order, the page's filters applied.
                    Some(first) => first
                        .iter()
                        .skip(p.offset)
                        .take(p.limit)
                        .map(|&i| (None, &all[i as usize]))
                        .collect(),
                    // The whole estate's, in the column's order kept with the check: a page
                    // reads from its start until it has its findings.
                    None => kept
                        .sorted(check, by, descending)
                        .iter()
                        .map(|&i| &all[i as usize])
                        .filter(|n| p.keep(n))
                        .skip(p.offset)
                        .take(p.limit)
                        .map(|n| (None, n))
                        .collect(),
                };
                return Listing {
                    groups: q.groups,
                    total: q.total,
                    rows,
                };
            };
            let mut idx: Vec<u32> = places
                .iter()
                .map(|&at| check.queue.order()[at as usize])
                .collect();
            idx.sort_unstable();
            let mut found: Vec<&Noted> = idx
                .iter()
                .map(|&i| &all[i as usize])
                .filter(|n| p.keep(n))
                .collect();
            sort(&mut found, by, descending);
            Listing {
                groups: q.groups,
                total: q.total,
                rows: found
                    .into_iter()
                    .skip(p.offset)
                    .take(p.limit)
                    .map(|n| (None, n))
                    .collect(),
            }
        }
    }
}

/// The page `[offset, offset + limit)` of the queue for the viewer's findings (`mine`: their
/// places; none: the whole estate's). The whole estate's, unfiltered by site, is read from the
/// check's index in what a page costs; a site's or a scoped viewer's findings are few and are
/// passed over.
fn queue_page(
    check: &Check,
    kept: &queue_index::Kept,
    mine: Option<&[u32]>,
    p: &Params,
    offset: usize,
    limit: usize,
) -> QueuePage {
    let wanted = || check.queue.wanted(&p.filter, p.owner);
    match (mine, p.filter.site.as_deref()) {
        (Some(places), _) => check.queue.page(Some(places), &wanted(), offset, limit),
        // One site of the whole estate: its findings from the check's index by site.
        (None, Some(site)) => {
            let places = check.queue.places(
                check
                    .sites
                    .iter()
                    .filter(|(s, _)| s.eq_ignore_ascii_case(site))
                    .flat_map(|(_, (i, _))| i.iter().copied()),
            );
            check.queue.page(Some(&places), &wanted(), offset, limit)
        }
        (None, None) => match kept.index(check) {
            Some(index) => index.page(check.queue.order(), &p.filter, p.owner, offset, limit),
            None => check.queue.page(None, &wanted(), offset, limit),
        },
    }
}

/// The furthest a sorted page may end (its offset and limit) to be picked from the findings
/// while its column's orders are being built: a cursor followed 400 pages of 50 in, or two of
/// the API's largest pages. A page further in waits for the orders.
const FIRST_MOST: usize = 20_000;

/// Builds what a page of the whole estate reads (the check's index, or its orders by the column
/// asked for) off the request threads, so the first request after a check does not hold up the
/// server's others while it is built; and starts building the rest of what the check's pages
/// read (every column's orders, the findings by id) in the background, at the lowest priority
/// and never waited for ([`queue_index::Kept::warm`]).
///
/// A sorted page near the start whose column's orders are not built yet does not wait for them:
/// its start of the order — the first `offset + limit` findings the page keeps, in the column's
/// order — is picked in one pass over what the queue keeps of each finding ([`columns::first`])
/// and returned for [`listing_from`].
async fn index_ready(check: &Check, viewer: &Viewer, p: &Params) -> Option<Vec<u32>> {
    let whole = matches!(viewer.caller.user.scope(), Scope::All);
    let kept = queue_index::kept(check);
    kept.warm(check, whole);
    if !whole {
        return None;
    }
    let unbuilt = p.sort.filter(|(by, _)| !kept.sorted_built(by));
    if kept.built() && unbuilt.is_none() {
        return None;
    }
    let k = p.offset.saturating_add(p.limit);
    // The check's first page of the whole estate builds the subjects' heads beside its index:
    // a page sorted by subject asked next reads them, and the background build, behind every
    // request, would come to them last.
    let heads = (!kept.built()).then(|| {
        let (kept, check) = (kept.clone(), check.clone());
        tokio::task::spawn_blocking(move || {
            kept.subject_heads(&check);
        })
    });
    let (check, p) = (check.clone(), p.clone());
    let first = tokio::task::spawn_blocking(move || {
        kept.index(&check);
        let (by, descending) = unbuilt?;
        if k > FIRST_MOST {
            kept.sorted(&check, by, descending);
            return None;
        }
        if kept.sorted_built(by) {
            return None;
        }
        let wanted = check.queue.wanted(&p.filter, p.owner);
        Some(columns::first(
            &check.all,
            &check.queue,
            || kept.subject_heads(&check),
            by,
            descending,
            &wanted,
            k,
        ))
    })
    .await
    .ok()
    .flatten();
    if let Some(heads) = heads {
        let _ = heads.await;
    }
    first
}

/// A site filter names a site the caller sees: "nothing to do" for a site that is not theirs,
/// or not in the estate, would read as all being well there.
fn known_site(p: &Params, viewer: &Viewer, names: &SiteNames) -> Result<(), Refused> {
    let Some(site) = p.filter.site.as_deref() else {
        return Ok(());
    };
    let code = site.to_ascii_uppercase();
    if !viewer.sees_site(&code) {
        return Err(refused(
            "site",
            format!("{code} is not one of your sites: enter one of yours, or leave it empty for all of them"),
        ));
    }
    if !names.contains_key(&code) {
        return Err(refused(
            "site",
            format!("There is no site {code} in the estate: check the code, or leave it empty for every site"),
        ));
    }
    Ok(())
}

/// `GET /api/v1/findings?site=&owner=&min_severity=&rule=&all=&format=json|csv&limit=&cursor=`
pub(crate) async fn api(
    State(state): State<AppState>,
    caller: Caller,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    let viewer = match viewer(&state, caller, Permission::ViewEstate, true).await {
        Ok(v) => v,
        Err(r) => return r,
    };
    let mut p = match params(&q, View::Api) {
        Ok(p) => p,
        Err(e) => return bad_request(e.field, e.message).into_response(),
    };
    let check = match all_findings(&state, viewer.version).await {
        Ok(c) => c,
        Err(r) => return r,
    };
    if p.csv {
        // The export is every finding that passes, in the same order, written as it is sent: a
        // national check's is half a gigabyte.
        p.offset = 0;
        p.limit = usize::MAX;
    }
    let first = index_ready(&check, &viewer, &p).await;
    if p.csv {
        let kept = queue_index::kept(&check);
        let mine = kept.places(&check, &viewer);
        return crate::web::csv_streamed(
            &state,
            "findings.csv".into(),
            CSV_COLUMNS.to_vec(),
            move |_, out| {
                let list = listing_of(&check, &kept, mine, &p, None);
                list.rows
                    .iter()
                    .try_for_each(|(_, n)| out.row(n.csv_fields()))
            },
        );
    }
    let list = listing_from(&check, &viewer, &p, first);
    let next = p.offset + list.rows.len();
    let groups: Vec<_> = list
        .groups
        .iter()
        .map(|g| {
            json!({
                "owner": g.owner,
                "rule": g.rule,
                "action": action(g.rule),
                "count": g.count,
                "worst": g.worst,
                "first_due": g.first_due,
            })
        })
        .collect();
    let findings: Vec<&Noted> = list.rows.iter().map(|(_, n)| *n).collect();
    axum::Json(json!({
        "today": (state.now)().date(),
        "total": list.total,
        "offset": p.offset,
        "limit": p.limit,
        "next_cursor": (next < list.total).then(|| cursor(next)),
        "groups": groups,
        "findings": findings,
    }))
    .into_response()
}

/// What the filter form shows: what was typed, kept even when refused.
#[derive(Default)]
struct Typed {
    site: String,
    owner: String,
    min_severity: String,
    rule: String,
}

/// A choice in a select: its value, its words, whether chosen.
struct Choice {
    value: String,
    label: String,
    selected: bool,
}

/// A select's choices, with what was typed kept as a choice of its own when it is none of them.
/// The choices of a filter, the typed value kept as a choice of its own when it is none of them
/// (labelled by `label`).
fn choices(
    known: Vec<(String, String)>,
    typed: &str,
    label: impl Fn(&str) -> String,
) -> Vec<Choice> {
    let mut out: Vec<Choice> = known
        .into_iter()
        .map(|(value, label)| Choice {
            selected: !typed.is_empty() && value.eq_ignore_ascii_case(typed),
            value,
            label,
        })
        .collect();
    if !typed.is_empty() && !out.iter().any(|c| c.selected) {
        out.push(Choice {
            value: typed.to_owned(),
            label: label(typed),
            selected: true,
        });
    }
    out
}

struct GroupRow {
    who: &'static str,
    what: String,
    count: usize,
    worst: Severity,
    tag: &'static str,
    first_due: String,
    href: String,
}

struct Row {
    n: usize,
    id: String,
    href: String,
    severity: Severity,
    tag: &'static str,
    kind: &'static str,
    subject: String,
    site: String,
    due: String,
    state: String,
}

struct Section {
    heading: String,
    fix: String,
    count: usize,
    rows: Vec<Row>,
}

struct Header {
    label: &'static str,
    href: String,
    aria: &'static str,
    mark: &'static str,
}

/// A numbered page link, or a gap.
struct PageLink {
    number: usize,
    href: String,
    current: bool,
}

#[derive(Template)]
#[template(path = "findings.html")]
struct ListPage {
    error: Option<Refused>,
    /// The bulk form refused, as it was sent.
    bulk: Option<BulkTyped>,
    done: Option<String>,
    typed: Typed,
    owners: Vec<Choice>,
    severities: Vec<Choice>,
    rules: Vec<Choice>,
    include_snoozed: bool,
    total: usize,
    first: usize,
    last: usize,
    groups: Vec<GroupRow>,
    sections: Vec<Section>,
    header: Vec<Header>,
    can_act: bool,
    csrf: String,
    back: String,
    /// The first page of the same list, for an address past its end.
    start: String,
    previous: Option<String>,
    next: Option<String>,
    pages: Vec<Option<PageLink>>,
    csv: String,
}

impl ListPage {
    /// Whether the refused parameter is this form field.
    /// The refused filter as the `field.html` macros read it.
    fn problem(&self) -> Option<(&'static str, &str)> {
        self.error.as_ref().map(|e| (e.field, e.message.as_str()))
    }

    /// Whether the refused bulk form had this finding ticked.
    fn ticked(&self, id: &str) -> bool {
        self.bulk
            .as_ref()
            .is_some_and(|b| b.ticked.iter().any(|t| t == id))
    }

    /// Whether the refused bulk form chose to snooze.
    fn snoozing(&self) -> bool {
        self.bulk.as_ref().is_some_and(|b| b.action == "snoozed")
    }

    /// The refused bulk form's reason, kept.
    fn bulk_reason(&self) -> &str {
        self.bulk.as_ref().map_or("", |b| b.reason.as_str())
    }

    /// The refused bulk form's field at fault and what to do.
    fn bulk_problem(&self, field: &str) -> Option<&str> {
        self.bulk
            .as_ref()
            .filter(|b| b.field == field)
            .map(|b| b.message.as_str())
    }

    /// Where the error summary's link goes: the field, or the form when it is not one of its.
    fn anchor(&self) -> &'static str {
        match self.error.as_ref().map(|e| e.field) {
            Some(f @ ("site" | "owner" | "min_severity" | "rule")) => f,
            _ => "filters",
        }
    }
}

/// The tag colour of a severity (NHS.UK tags).
pub(crate) fn tag(s: &Severity) -> &'static str {
    match s {
        Severity::Critical => "nhsuk-tag--red",
        Severity::Urgent => "nhsuk-tag--orange",
        Severity::Warning => "nhsuk-tag--yellow",
        Severity::Info => "nhsuk-tag--blue",
    }
}

/// A finding's own page.
pub(crate) fn finding_href(n: &Noted) -> String {
    format!(
        "/findings/{}/{}",
        enc(n.finding.rule),
        enc(&n.finding.subject)
    )
}

/// A finding's state in words.
pub(crate) fn state_words(n: &Noted) -> String {
    match &n.note {
        None => "Open".into(),
        Some(x) => format!(
            "{} until {}",
            if x.state == cardwatch_core::health::NoteState::Snoozed {
                "Snoozed"
            } else {
                "Acknowledged"
            },
            x.until.long()
        ),
    }
}

/// Page numbers around the current one, the first and the last, with gaps (`None`) between.
fn page_numbers(p: &Params, total: usize) -> Vec<Option<PageLink>> {
    let pages = total.div_ceil(p.limit);
    if pages <= 1 {
        return Vec::new();
    }
    let current = p.offset / p.limit + 1;
    let mut out = Vec::new();
    let mut last_shown = 0;
    for n in 1..=pages {
        let near = n == 1 || n == pages || n.abs_diff(current) <= 1;
        if !near {
            continue;
        }
        if n > last_shown + 1 {
            out.push(None);
        }
        out.push(Some(PageLink {
            number: n,
            href: p.href(p.sort, (n - 1) * p.limit),
            current: n == current,
        }));
        last_shown = n;
    }
    out
}

/// `GET /findings`: the work queue — what to do and who does it, counted, then a page of the
/// findings grouped the same way, with filters, paging and (for those who may act) a choice of
/// findings to acknowledge or snooze together.
pub(crate) async fn page(
    State(state): State<AppState>,
    caller: Caller,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    let viewer = match viewer(&state, caller, Permission::ViewEstate, false).await {
        Ok(v) => v,
        Err(r) => return r,
    };
    list_page(&state, &viewer, &q, None).await
}

/// The bulk form as it was sent, when it was refused: the list again with the problem named,
/// the same findings ticked, the same choice and reason.
pub(crate) struct BulkTyped {
    pub ticked: Vec<String>,
    pub action: String,
    pub reason: String,
    /// The form field at fault (`bulk-reason`, `bulk-acknowledged`, or `pick-0` for the ticks).
    pub field: &'static str,
    pub message: String,
}

/// The findings page for a query, with the refused bulk form shown again when there is one.
pub(crate) async fn list_page(
    state: &AppState,
    viewer: &Viewer,
    q: &HashMap<String, String>,
    bulk: Option<BulkTyped>,
) -> Response {
    let typed = Typed {
        site: q.get("site").cloned().unwrap_or_default(),
        owner: q.get("owner").cloned().unwrap_or_default(),
        min_severity: q.get("min_severity").cloned().unwrap_or_default(),
        rule: q.get("rule").cloned().unwrap_or_default(),
    };
    let owners = choices(
        Owner::ALL
            .iter()
            .map(|o| (o.as_str().to_owned(), o.label().to_owned()))
            .collect(),
        &typed.owner,
        str::to_owned,
    );
    let severities = choices(
        Severity::ALL
            .iter()
            .rev()
            .map(|s| (s.as_str().to_owned(), format!("{} or worse", s.label())))
            .collect(),
        &typed.min_severity,
        str::to_owned,
    );
    let rules = choices(
        rules_with_actions()
            .map(|(r, a)| (r.to_owned(), a.to_owned()))
            .collect(),
        &typed.rule,
        cardwatch_core::health::filter_label,
    );
    let can_act = viewer.caller.user.user.role.can(Permission::ActOnFindings);
    let mut out = ListPage {
        error: None,
        bulk,
        done: None,
        typed,
        owners,
        severities,
        rules,
        include_snoozed: false,
        total: 0,
        first: 0,
        last: 0,
        groups: Vec::new(),
        sections: Vec::new(),
        header: Vec::new(),
        can_act,
        csrf: viewer.caller.csrf.clone(),
        back: String::new(),
        start: String::new(),
        previous: None,
        next: None,
        pages: Vec::new(),
        csv: String::new(),
    };
    let names = sites::names(state, viewer).await;
    let p = match params(q, View::Page).and_then(|p| known_site(&p, viewer, &names).map(|()| p)) {
        Ok(p) => p,
        Err(e) => {
            // The page again with the problem named and what was typed kept.
            out.error = Some(e);
            return (StatusCode::BAD_REQUEST, render(&out, viewer)).into_response();
        }
    };
    let check = match all_findings(state, viewer.version).await {
        Ok(c) => c,
        Err(r) => return r,
    };
    let first = index_ready(&check, viewer, &p).await;
    let list = listing_from(&check, viewer, &p, first);
    out.done = done(q);
    out.include_snoozed = p.filter.include_snoozed;
    out.total = list.total;
    out.first = (p.offset + 1).min(list.total);
    out.last = p.offset + list.rows.len();
    out.back = p.href(p.sort, p.offset);
    out.start = p.href(p.sort, 0);
    out.csv = p.href(None, 0).replacen("/findings", "/api/v1/findings", 1);
    out.csv.push(if out.csv.contains('?') { '&' } else { '?' });
    out.csv.push_str("format=csv");
    out.groups = list
        .groups
        .iter()
        .map(|g| GroupRow {
            who: g.owner.label(),
            what: action(g.rule).into_owned(),
            count: g.count,
            worst: g.worst,
            tag: tag(&g.worst),
            first_due: g.first_due.long(),
            href: Params {
                owner: Some(g.owner),
                filter: Filter {
                    rule: Some(g.rule.to_owned()),
                    ..p.filter.clone()
                },
                offset: 0,
                sort: None,
                ..p.clone()
            }
            .href(None, 0),
        })
        .collect();
    for (i, (g, n)) in list.rows.iter().enumerate() {
        let f = &n.finding;
        let row = Row {
            n: i,
            id: f.id(),
            href: finding_href(n),
            severity: f.severity,
            tag: tag(&f.severity),
            kind: f.subject_kind.label(),
            subject: f
                .subject_kind
                .subject_words(&f.subject, &state.checks.catalogue),
            site: sites::named(&f.site, &names),
            due: f.due.long(),
            state: state_words(n),
        };
        let heading = match g {
            Some(g) => {
                let g = &list.groups[*g];
                format!("{}: {}", g.owner.label(), action(g.rule))
            }
            None => match p.sort {
                Some((by, _)) => format!("Sorted by {by}"),
                None => String::new(),
            },
        };
        match out.sections.last_mut() {
            Some(s) if s.heading == heading => s.rows.push(row),
            _ => out.sections.push(Section {
                count: g.map_or(list.total, |g| list.groups[g].count),
                fix: if g.is_some() {
                    cardwatch_core::date::dates_in_words(&f.fix)
                } else {
                    String::new()
                },
                heading,
                rows: vec![row],
            }),
        }
    }
    let (by, desc) = p.sort.unwrap_or(("", false));
    out.header = [
        ("Severity", "severity"),
        ("About", "subject"),
        ("Site", "site"),
        ("Due", "due"),
    ]
    .into_iter()
    .map(|(label, key)| {
        let (aria, mark) = match (key == by, desc) {
            (true, false) => ("ascending", " ▲"),
            (true, true) => ("descending", " ▼"),
            _ => ("", ""),
        };
        Header {
            label,
            href: p.href(Some((key, key == by && !desc)), 0),
            aria,
            mark,
        }
    })
    .collect();
    if p.offset > 0 {
        out.previous = Some(p.href(p.sort, p.offset.saturating_sub(p.limit)));
    }
    if p.offset + p.limit < list.total {
        out.next = Some(p.href(p.sort, p.offset + p.limit));
    }
    out.pages = page_numbers(&p, list.total);
    let status = if out.bulk.is_some() {
        StatusCode::BAD_REQUEST
    } else {
        StatusCode::OK
    };
    (status, render(&out, viewer)).into_response()
}

/// What the page says after a bulk change (`done=acknowledged&count=3`).
fn done(q: &HashMap<String, String>) -> Option<String> {
    let count: usize = q.get("count")?.parse().ok()?;
    let (what, days) = match q.get("done")?.as_str() {
        "acknowledged" => ("acknowledged", 30),
        "snoozed" => ("snoozed", 7),
        _ => return None,
    };
    Some(format!(
        "{count} {} {what} for {days} days. Each is in the audit log.",
        if count == 1 { "finding" } else { "findings" }
    ))
}

fn render(out: &ListPage, viewer: &Viewer) -> axum::response::Html<String> {
    // Rendering only fails on a formatter error writing into a String, which cannot happen.
    let body = out.render().unwrap_or_default();
    crate::web::layout::page("Findings", Some(&viewer.caller), &body)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::prevent::queue_index::tests::{awkward, check_of};

    /// A sorted page of the whole estate picked from the findings (as one asked for while its
    /// column's orders are being built is) has the rows the built orders give: every column
    /// both ways, with each filter, and the API's cursor followed page after page.
    #[test]
    fn findings_sorted_picked_before_the_orders_equal_the_orders_page() {
        let check = check_of(awkward(6_000, 23));
        let kept = queue_index::kept(&check);
        let queries: [&[(&str, &str)]; 9] = [
            &[],
            &[("all", "yes")],
            &[("min_severity", "urgent")],
            &[("rule", "cert-"), ("all", "yes")],
            &[("owner", "it")],
            &[("site", "A81002")],
            &[("limit", "7")],
            &[("limit", "1000"), ("all", "yes")],
            &[("offset", "5980"), ("all", "yes")],
        ];
        let (mut pages, mut rows, mut short) = (0, 0, 0);
        for by in SORTABLE {
            for order in ["asc", "desc"] {
                for q in queries {
                    let mut query: HashMap<String, String> = q
                        .iter()
                        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
                        .collect();
                    query.insert("sort".into(), by.into());
                    query.insert("order".into(), order.into());
                    for _ in 0..4 {
                        let p = params(&query, View::Api).expect("params");
                        let wanted = check.queue.wanted(&p.filter, p.owner);
                        let first = columns::first(
                            &check.all,
                            &check.queue,
                            || kept.subject_heads(&check),
                            by,
                            order == "desc",
                            &wanted,
                            p.offset + p.limit,
                        );
                        let picked = listing_of(&check, &kept, None, &p, Some(&first));
                        let built = listing_of(&check, &kept, None, &p, None);
                        let at = (by, order, q, p.offset);
                        assert_eq!(picked.total, built.total, "{at:?}");
                        assert_eq!(picked.groups, built.groups, "{at:?}");
                        let ptr = |l: &Listing| -> Vec<*const Noted> {
                            l.rows.iter().map(|(_, n)| *n as *const Noted).collect()
                        };
                        assert_eq!(ptr(&picked), ptr(&built), "{at:?}");
                        pages += 1;
                        rows += built.rows.len();
                        short += usize::from(built.rows.len() < p.limit);
                        let next = p.offset + built.rows.len();
                        if next >= built.total {
                            break;
                        }
                        query.remove("offset");
                        query.insert("cursor".into(), cursor(next));
                    }
                }
            }
        }
        // Full pages, cut ones at the end, and pages reached by a cursor.
        assert!(
            pages > 300 && rows > 50_000 && short >= 12,
            "{pages} {rows} {short}"
        );
    }
}
