//! The overview of the caller's organisations — certificates expired, to renew urgently and in
//! the 90-day window, urgent and critical findings, open incidents, sites short of spare readers,
//! supplies to reorder and required software updates — each tile a link to the list it counts.
//! A tile's number is that list's own count: the findings tiles run their link's filters through
//! the findings queue of the cached check (a pass over its compact items, no new check), once
//! per check for each set of sites callers see ([`CachedCounts`]), the
//! incidents tile counts the incidents list's query. `GET /api/v1/overview` answers the same
//! figures from the same function ([`figures`]), so the page and the API cannot differ.

use std::collections::HashMap;
use std::sync::Arc;

use askama::Template;
use axum::extract::State;
use axum::response::{IntoResponse, Response};
use cardwatch_core::access::Permission;
use cardwatch_core::catalogue::Catalogue;
use cardwatch_core::date::Date;
use cardwatch_core::renewal::Window;
use cardwatch_core::triage::IncidentStatus;
use cardwatch_store::{incident_page, incident_tally, IncidentQuery, IncidentTally};

use crate::prevent::check::{all_findings, count, Check};
use crate::prevent::findings::{listing, params, View};
use crate::web::auth::Caller;
use crate::web::blocking;
use crate::web::scope::{viewer, Viewer};
use crate::web::sites;
use crate::AppState;

/// `GET /api/v1/overview`: each tile's number under its name, the workstations to move and
/// those held up, and under `lists` the list each number counts.
pub(crate) async fn api(State(state): State<AppState>, caller: Caller) -> Response {
    let v = match viewer(&state, caller, Permission::ViewEstate, true).await {
        Ok(v) => v,
        Err(r) => return r,
    };
    let f = match figures(&state, &v).await {
        Ok((_, f)) => f,
        Err(r) => return r,
    };
    let mut body = serde_json::Map::new();
    let mut lists = serde_json::Map::new();
    for t in &f.tiles {
        body.insert(t.name.into(), t.count.into());
        lists.insert(t.name.into(), t.href.into());
    }
    body.insert("workstations_to_move".into(), f.to_move.into());
    body.insert("workstations_held_up".into(), f.held_up.into());
    lists.insert("workstations_to_move".into(), TO_MOVE.into());
    body.insert("lists".into(), lists.into());
    axum::Json(body).into_response()
}

/// The findings tiles: their name in the API, words for one and for many, and the list they
/// count. The filters say what the words say: only expired certificates are the RA's, the
/// holder renews the rest (the rules in `health.rs`), and urgent is within 7 days or a
/// prescriber's signing certificate within 30.
const FINDING_TILES: [(&str, &str, &str, &str); 7] = [
    (
        "certificates_expired",
        "certificate expired",
        "certificates expired",
        "/findings?rule=cert-&owner=ra",
    ),
    (
        "certificates_to_renew_this_week",
        "certificate to renew urgently",
        "certificates to renew urgently",
        "/findings?rule=cert-&owner=holder&min_severity=urgent",
    ),
    (
        "certificates_in_renewal_window",
        "certificate in its 90-day renewal window",
        "certificates in their 90-day renewal window",
        "/findings?rule=cert-&owner=holder",
    ),
    (
        "urgent_findings",
        "urgent or critical finding",
        "urgent or critical findings",
        "/findings?min_severity=urgent",
    ),
    (
        "sites_short_of_spare_readers",
        "site short of spare card readers",
        "sites short of spare card readers",
        "/findings?rule=spare-readers-low",
    ),
    (
        "supplies_to_reorder",
        "supply to reorder",
        "supplies to reorder",
        "/findings?rule=stock-below-minimum",
    ),
    (
        "required_software_updates",
        "required software update",
        "required software updates",
        "/findings?rule=software-below-mandatory",
    ),
];

/// The list of open incidents the tile opens.
const OPEN_INCIDENTS: &str = "/incidents?status=open";

/// Where the line about a retiring sign-in client links.
const TO_MOVE: &str = "/findings?rule=auth-client-retiring";

/// One tile: its number, its words, and the list it opens.
struct Tile {
    count: String,
    label: &'static str,
    href: &'static str,
}

/// One of the overview's numbers: its name in the API, its words for one and for many, and the
/// list it counts.
struct Figure {
    name: &'static str,
    count: usize,
    one: &'static str,
    many: &'static str,
    href: &'static str,
}

/// The overview's numbers, in the tiles' order, and the workstations that must move from a
/// retiring sign-in client (and of those, the ones held up).
struct Figures {
    tiles: Vec<Figure>,
    to_move: usize,
    held_up: usize,
}

/// The overview's tiles, and above them, while a client is retiring, how many of the caller's
/// workstations must move to its successor and by when (the catalogue's date).
#[derive(Template)]
#[template(path = "overview_panel.html")]
struct Panel<'a> {
    deadline: Option<Deadline<'a>>,
    tiles: Vec<Tile>,
}

struct Deadline<'a> {
    to_move: usize,
    held_up: usize,
    href: &'static str,
    old: &'a str,
    new: &'a str,
    date: String,
}

/// The home page: the panel, then the certificates expiring soonest.
#[derive(Template)]
#[template(path = "overview.html")]
struct Home {
    panel: String,
    today: String,
    rows: Vec<Row>,
    empty: bool,
}

struct Row {
    class: &'static str,
    serial: String,
    href: String,
    purpose: &'static str,
    last_day: String,
    left: String,
    site: String,
}

/// `n` with commas between thousands, as people write it.
pub(crate) fn thousands(n: impl std::fmt::Display) -> String {
    let digits = n.to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// How many findings the findings page shows for a link's filters: the same parameters, read by
/// the same function, counted by the same listing.
fn findings_at(check: &Check, v: &Viewer, href: &str) -> usize {
    let query: HashMap<String, String> = href
        .split_once('?')
        .map(|(_, q)| {
            url::form_urlencoded::parse(q.as_bytes())
                .into_owned()
                .collect()
        })
        .unwrap_or_default();
    match params(&query, View::Page) {
        Ok(mut p) => {
            // Counting needs no rows.
            p.offset = 0;
            p.limit = 0;
            listing(check, v, &p).total
        }
        // The links are constants the tiles test follows: a refused one would show there.
        Err(_) => 0,
    }
}

/// The incidents the list at [`OPEN_INCIDENTS`] shows the viewer: what the incidents page asks
/// the store (`fix::incidents::seen_by`, above this module, so restated here) with status open;
/// `sites` are the viewer's [`Viewer::visible_sites`].
fn open_incidents_query(v: &Viewer, sites: Option<Vec<String>>) -> IncidentQuery {
    let me = &v.caller.user.user;
    IncidentQuery {
        sites,
        siteless: me.role.sees_everything(),
        reporter: format!("web:{}", me.username),
        status: Some(IncidentStatus::Open),
        limit: Some(0),
        ..IncidentQuery::everything()
    }
}

/// The findings tiles' counts, the workstations to move and those held up, for one scope.
#[derive(Clone, Copy, Debug)]
struct Counted {
    tiles: [usize; FINDING_TILES.len()],
    to_move: usize,
    held_up: usize,
}

/// The findings tiles' counts of one check by the sites a viewer sees (`None`: every site), so
/// that the whole estate's — a pass over every finding per tile — is counted once per check, not
/// per request. A weak reference to the check's findings keeps their allocation's address from
/// being reused, so a new check can never be mistaken for the one counted, without holding the
/// findings themselves: a re-check takes them over in place only when no one else holds them.
#[derive(Debug, Default)]
pub(crate) struct CachedCounts {
    check: Option<std::sync::Weak<Vec<cardwatch_core::health::Noted>>>,
    by_scope: HashMap<Option<Vec<String>>, Counted>,
    /// The open incidents tile's counts at one length of the audit chain, by what the
    /// incidents list filters on (the reporter, whether site-less ones show, the sites).
    incidents: Option<(i64, HashMap<IncidentScope, usize>)>,
    /// The incidents list's figures over every match (how many, the charts' tally) at one
    /// length of the audit chain, by the list's query without its order and page.
    incident_lists: Option<(i64, HashMap<IncidentMatch, Arc<IncidentTally>>)>,
}

/// What the incidents list's figures over every match depend on: who sees what (the reporter,
/// whether site-less ones show, the sites) and the filters (status, site, card).
type IncidentMatch = (
    String,
    bool,
    Option<Vec<String>>,
    Option<&'static str>,
    Option<String>,
    Option<String>,
);

/// How many incidents a list's query matches and its charts' tally, counted once per length of
/// the audit chain for each scope and filter, not on every page: as for the open incidents tile
/// ([`open_incidents`]), every change to an incident adds to the chain, and `length` is read
/// before the count, so a kept tally is never older than the chain it is kept for.
pub(crate) async fn incidents_tallied(
    state: &AppState,
    q: &IncidentQuery,
    length: i64,
) -> Result<Arc<IncidentTally>, Response> {
    let key: IncidentMatch = (
        q.reporter.clone(),
        q.siteless,
        q.sites.clone(),
        q.status.map(IncidentStatus::as_str),
        q.site.clone(),
        q.card_serial.clone(),
    );
    {
        let cache = state.overview.lock().unwrap_or_else(|e| e.into_inner());
        if let Some((at, kept)) = &cache.incident_lists {
            if *at == length {
                if let Some(t) = kept.get(&key) {
                    return Ok(t.clone());
                }
            }
        }
    }
    let asked = q.clone();
    let t = match blocking(state, move |s| incident_tally(s, &asked)).await {
        Ok(t) => Arc::new(t),
        Err(f) => return Err(f.into_response()),
    };
    let mut cache = state.overview.lock().unwrap_or_else(|e| e.into_inner());
    match &mut cache.incident_lists {
        Some((at, kept)) if *at == length && kept.len() < SCOPES_KEPT => {
            kept.insert(key, t.clone());
        }
        // An older chain's tallies give way; a newer one's are kept (this tally may be older).
        Some((at, _)) if *at > length => {}
        kept => *kept = Some((length, HashMap::from([(key, t.clone())]))),
    }
    Ok(t)
}

/// What the open incidents' count depends on besides the incidents: the viewer's
/// [`open_incidents_query`] without its fixed parts.
type IncidentScope = (String, bool, Option<Vec<String>>);

/// Scopes kept per check: every unscoped caller shares one, each practice or ICB its own.
const SCOPES_KEPT: usize = 1_024;

/// The findings tiles' counts for a viewer, from the cache when this check was counted for the
/// same sites (`scope`, the viewer's [`Viewer::visible_sites`]).
fn counted(state: &AppState, check: &Check, v: &Viewer, scope: Option<Vec<String>>) -> Counted {
    {
        let cache = state.overview.lock().unwrap_or_else(|e| e.into_inner());
        if cache
            .check
            .as_ref()
            .is_some_and(|c| std::ptr::eq(c.as_ptr(), Arc::as_ptr(&check.all)))
        {
            if let Some(c) = cache.by_scope.get(&scope) {
                return *c;
            }
        }
    }
    let c = Counted {
        tiles: FINDING_TILES.map(|(_, _, _, href)| findings_at(check, v, href)),
        to_move: findings_at(check, v, TO_MOVE),
        held_up: count(check, v).workstations_held_up,
    };
    let mut cache = state.overview.lock().unwrap_or_else(|e| e.into_inner());
    if !cache
        .check
        .as_ref()
        .is_some_and(|c| std::ptr::eq(c.as_ptr(), Arc::as_ptr(&check.all)))
        || cache.by_scope.len() >= SCOPES_KEPT
    {
        cache.check = Some(Arc::downgrade(&check.all));
        cache.by_scope = HashMap::new();
    }
    cache.by_scope.insert(scope, c);
    c
}

/// How many incidents the list at [`OPEN_INCIDENTS`] shows the viewer, counted by the incidents
/// list's own query once per length of the audit chain for each scope: every change to an
/// incident (opened, a step, closed, a batch recorded) adds to the chain, and the length is read
/// before the count, so a kept count is never older than the chain it is kept for.
async fn open_incidents(
    state: &AppState,
    v: &Viewer,
    sites: Option<Vec<String>>,
    length: i64,
) -> Result<usize, Response> {
    let asked = open_incidents_query(v, sites);
    let key: IncidentScope = (asked.reporter.clone(), asked.siteless, asked.sites.clone());
    {
        let cache = state.overview.lock().unwrap_or_else(|e| e.into_inner());
        if let Some((at, counts)) = &cache.incidents {
            if *at == length {
                if let Some(n) = counts.get(&key) {
                    return Ok(*n);
                }
            }
        }
    }
    let n = match blocking(state, move |s| incident_page(s, &asked)).await {
        Ok((n, _)) => n as usize,
        Err(f) => return Err(f.into_response()),
    };
    let mut cache = state.overview.lock().unwrap_or_else(|e| e.into_inner());
    match &mut cache.incidents {
        Some((at, counts)) if *at == length && counts.len() < SCOPES_KEPT => {
            counts.insert(key, n);
        }
        // An older chain's counts give way; a newer one's are kept (this count may be older).
        Some((at, _)) if *at > length => {}
        kept => *kept = Some((length, HashMap::from([(key, n)]))),
    }
    Ok(n)
}

/// The overview's numbers for a viewer, and the check they were counted from: what the page
/// shows and the API answers. Each findings tile is its link's count, the incidents tile the
/// incidents list's.
async fn figures(state: &AppState, v: &Viewer) -> Result<(Check, Figures), Response> {
    // The chain's length, read once for the check and the incidents (a scoped viewer's was read
    // with its sites).
    let length = match v.version {
        Some(l) => l,
        None => crate::web::version(state).await?,
    };
    let check = all_findings(state, Some(length)).await?;
    // Every site of the estate asked whether the viewer sees it: once per request.
    let scope = v.visible_sites();
    let open_incidents = open_incidents(state, v, scope.clone(), length).await?;
    let counts = counted(state, &check, v, scope);
    let mut tiles: Vec<Figure> = FINDING_TILES
        .iter()
        .zip(counts.tiles)
        .map(|(&(name, one, many, href), count)| Figure {
            name,
            count,
            one,
            many,
            href,
        })
        .collect();
    tiles.insert(
        4,
        Figure {
            name: "open_incidents",
            count: open_incidents,
            one: "open incident",
            many: "open incidents",
            href: OPEN_INCIDENTS,
        },
    );
    let figures = Figures {
        tiles,
        to_move: counts.to_move,
        held_up: counts.held_up,
    };
    Ok((check, figures))
}

/// The overview's panel, from its figures.
fn panel(f: &Figures, catalogue: &Catalogue) -> String {
    let deadline = catalogue
        .retiring()
        .filter(|_| f.to_move > 0)
        .map(|(old, new, end)| Deadline {
            to_move: f.to_move,
            held_up: f.held_up,
            href: TO_MOVE,
            old: &old.name,
            new: &new.name,
            date: end.long(),
        });
    let tiles: Vec<Tile> = f
        .tiles
        .iter()
        .map(|t| Tile {
            count: thousands(t.count),
            label: if t.count == 1 { t.one } else { t.many },
            href: t.href,
        })
        .collect();
    Panel { deadline, tiles }
        .render()
        // Rendering into a String cannot fail.
        .unwrap_or_default()
}

/// Time left to a certificate's last valid day, in words.
fn time_left(days: i32) -> String {
    match days {
        d if d < -1 => format!("Expired {} days ago", -d),
        -1 => "Expired yesterday".to_owned(),
        0 => "Last valid day today".to_owned(),
        1 => "1 day".to_owned(),
        d => format!("{d} days"),
    }
}

/// A certificate's purpose in words.
fn purpose(p: &str) -> &'static str {
    match p {
        "authentication" => "Sign-in",
        "signing" => "Signing",
        _ => "Other",
    }
}

/// The home page: the overview's counts, then the certificates of cards in use that expire
/// soonest. Holders are shown by card and site only.
pub(crate) async fn page(State(state): State<AppState>, caller: Caller) -> Response {
    let viewer = match viewer(&state, caller, Permission::ViewEstate, false).await {
        Ok(v) => v,
        Err(r) => return r,
    };
    // The counts and the table come with the cached check; the open incidents are one count.
    let (check, figures) = match figures(&state, &viewer).await {
        Ok(f) => f,
        Err(r) => return r,
    };
    let panel = panel(&figures, &state.checks.catalogue);
    let today: Date = (state.now)().date();
    let names = sites::names(&state, &viewer).await;
    let rows: Vec<Row> = check
        .expiring
        .iter()
        .filter(|c| viewer.sees_site(&c.site_ods))
        .map(|c| Row {
            class: match Window::of(today, c.not_after) {
                Window::Expired => "expired",
                Window::Urgent => "soon",
                Window::Renewable => "window",
                Window::Valid => "",
            },
            href: format!("/cards/{}", crate::web::enc(&c.card_serial)),
            serial: c.card_serial.clone(),
            purpose: purpose(&c.purpose),
            last_day: c.not_after.long(),
            left: time_left(today.days_until(c.not_after)),
            site: sites::named(&c.site_ods, &names),
        })
        .collect();
    let home = Home {
        panel,
        today: today.long(),
        empty: check.expiring.is_empty(),
        rows,
    };
    // Rendering into a String cannot fail.
    let body = home.render().unwrap_or_default();
    crate::web::layout::page("Overview", Some(&viewer.caller), &body).into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_and_days_read_as_people_write_them() {
        assert_eq!(thousands(0), "0");
        assert_eq!(thousands(999), "999");
        assert_eq!(thousands(1_240), "1,240");
        assert_eq!(thousands(280_000), "280,000");
        assert_eq!(thousands(1_000_000), "1,000,000");
        assert_eq!(time_left(1), "1 day");
        assert_eq!(time_left(2), "2 days");
        assert_eq!(time_left(-1), "Expired yesterday");
        assert_eq!(time_left(-3), "Expired 3 days ago");
    }
}
