//! `GET /api/v1/plan/migration`: the move of the caller's workstations from a retiring
//! authentication client to its successor (the JSON twin of `cardwatch plan migration`). The
//! plan is made for the whole estate, so that a daily limit is shared as the IT team would
//! share it, and then shown for the caller's sites only.

use std::collections::HashMap;

use axum::extract::{Query, State};
use axum::response::{IntoResponse, Response};
use cardwatch_core::access::Permission;
use cardwatch_core::date::Date;
use cardwatch_core::migration::{plan, MigrationPlan, Settings, SitePlan, State as Stands, Totals};
use cardwatch_store::load_workstations;
use serde_json::json;

use crate::web::auth::Caller;
use crate::web::counted;
use crate::web::scope::viewer;
use crate::web::{bad_request, blocking, sites, BadParam};
use crate::AppState;

/// The query parameters, validated.
struct Params {
    from: Option<Date>,
    per_day: Option<u32>,
    margin_days: i32,
}

fn params(q: &HashMap<String, String>) -> Result<Params, BadParam> {
    const KNOWN: [&str; 3] = ["from", "per_day", "margin_days"];
    if let Some(k) = q.keys().find(|k| !KNOWN.contains(&k.as_str())) {
        return Err(bad_request(
            k,
            format!("unknown parameter {k:?} — use {}", KNOWN.join(", ")),
        ));
    }
    let get = |k: &str| q.get(k).map(|v| v.trim()).filter(|v| !v.is_empty());
    let number = |k: &str, range: std::ops::RangeInclusive<i64>| {
        get(k)
            .map(|v| match v.parse::<i64>() {
                Ok(n) if range.contains(&n) => Ok(n),
                _ => Err(bad_request(
                    k,
                    format!(
                        "{k} {v:?} must be a whole number from {} to {}",
                        range.start(),
                        range.end()
                    ),
                )),
            })
            .transpose()
    };
    Ok(Params {
        from: get("from")
            .map(|v| Date::parse(v).map_err(|e| bad_request("from", format!("from {v:?}: {e}"))))
            .transpose()?,
        per_day: number("per_day", 1..=100_000)?.map(|n| n as u32),
        margin_days: number("margin_days", 0..=90)?.unwrap_or(14) as i32,
    })
}

/// `GET /api/v1/plan/migration`.
pub(crate) async fn api(
    State(state): State<AppState>,
    caller: Caller,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    let viewer = match viewer(&state, caller, Permission::ViewEstate, true).await {
        Ok(v) => v,
        Err(r) => return r,
    };
    let p = match params(&q) {
        Ok(p) => p,
        Err(e) => return e.into_response(),
    };
    let estate = match blocking(&state, load_workstations).await {
        Ok(e) => e,
        Err(f) => return f.into_response(),
    };
    let checks = &state.checks;
    let settings = Settings {
        from: p.from.unwrap_or_else(|| (state.now)().date()),
        calendar: &checks.calendar,
        per_day: p.per_day,
        margin_days: p.margin_days,
    };
    let Some(mut plan) = plan(&estate, &checks.catalogue, &settings) else {
        return axum::Json(json!({"plan": null, "totals": Totals::default()})).into_response();
    };
    plan.sites.retain(|s| viewer.sees_site(&s.site));
    let totals = plan.totals();
    axum::Json(json!({"plan": plan, "totals": totals})).into_response()
}

#[derive(askama::Template)]
#[template(path = "plan_migration.html")]
struct Page {
    problem: Option<(String, String)>,
    per_day: String,
    plan: Option<Shown>,
    pages: crate::web::layout::Pager,
}

struct Shown {
    from_client: String,
    works_until: String,
    lead: String,
    tiles: Vec<(usize, &'static str)>,
    sites_heading: String,
    sites: Vec<SiteShown>,
    api: String,
}

struct SiteShown {
    site: String,
    summary: String,
    machines: Vec<MachineShown>,
}

struct MachineShown {
    hostname: String,
    when: String,
}

/// Sites a page shows.
const SITES_PER_PAGE: usize = 50;

/// Where a machine stands, in words.
fn when(state: &Stands) -> String {
    match state {
        Stands::Moved => "already on Smartcard Connect".into(),
        Stands::Planned {
            day,
            step,
            after,
            late,
        } => format!(
            "{}{}, {}{}",
            day.long(),
            after
                .as_ref()
                // The core says it whole ("after 18:30").
                .map_or(String::new(), |a| format!(" {a}")),
            step.as_str(),
            if *late {
                " — later than it should be"
            } else {
                ""
            }
        ),
        Stands::Blocked { by } => format!("held up by {}", by.join(", ")),
    }
}

/// A site's line: what is left and when.
fn site_summary(s: &SitePlan) -> String {
    let t = s.totals();
    let left = t.planned + t.late + t.blocked;
    if left == 0 {
        return format!("all {} moved", counted(t.moved, "computer", "computers"));
    }
    let mut parts = vec![format!(
        "{} to move",
        counted(left, "computer", "computers")
    )];
    let days: Vec<_> = s
        .machines
        .iter()
        .filter_map(|m| match &m.state {
            Stands::Planned { day, .. } => Some(*day),
            _ => None,
        })
        .collect();
    if let (Some(first), Some(last)) = (days.iter().min(), days.iter().max()) {
        parts.push(if first == last {
            format!("on {}", first.long())
        } else {
            format!("from {} to {}", first.long(), last.long())
        });
    }
    if t.blocked > 0 {
        parts.push(format!("{} held up", t.blocked));
    }
    if t.late > 0 {
        parts.push(format!("{} late", t.late));
    }
    parts.join(", ")
}

fn shown(plan: &MigrationPlan, today: Date, per_day: Option<u32>, offset: usize) -> Shown {
    let t = plan.totals();
    let left = t.planned + t.late + t.blocked;
    let days = plan.works_until.days() - today.days();
    let lead = if left == 0 {
        format!("Every computer at your sites is on {}.", plan.to_client)
    } else {
        format!(
            "{} at your sites still {} in with {}, which stops working after {} ({} from today). Move {} to {} by {}{}.",
            counted(left, "computer", "computers"),
            if left == 1 { "signs" } else { "sign" },
            plan.from_client,
            plan.works_until.long(),
            counted(days.max(0) as usize, "day", "days"),
            if left == 1 { "it" } else { "them" },
            plan.to_client,
            plan.move_by.long(),
            if t.late > 0 {
                format!(
                    "; at this pace {} would move later than that",
                    counted(t.late, "computer", "computers")
                )
            } else {
                String::new()
            }
        )
    };
    // Sites with work left first, then those done; each in the plan's order.
    let mut order: Vec<&SitePlan> = plan.sites.iter().collect();
    order.sort_by_key(|s| {
        let t = s.totals();
        t.planned + t.late + t.blocked == 0
    });
    let mut query = url::form_urlencoded::Serializer::new(String::new());
    if let Some(n) = per_day {
        query.append_pair("per_day", &n.to_string());
    }
    Shown {
        from_client: plan.from_client.clone(),
        works_until: plan.works_until.long(),
        lead,
        tiles: vec![
            (t.moved, "already moved"),
            (t.planned, "planned in time"),
            (t.late, "planned too late"),
            (t.blocked, "held up by an application"),
        ],
        sites_heading: format!(
            "{}, in the order the plan moves them (those with nothing left to move last)",
            counted(plan.sites.len(), "site", "sites")
        ),
        sites: order
            .into_iter()
            .skip(offset)
            .take(SITES_PER_PAGE)
            .map(|s| SiteShown {
                site: s.site.clone(),
                summary: site_summary(s),
                machines: s
                    .machines
                    .iter()
                    .map(|m| MachineShown {
                        hostname: m.hostname.clone(),
                        when: when(&m.state),
                    })
                    .collect(),
            })
            .collect(),
        api: format!("/api/v1/plan/migration?{}", query.finish()),
    }
}

/// `GET /plan/migration`: the move to Smartcard Connect for the caller's sites, as a page.
pub(crate) async fn page(
    State(state): State<AppState>,
    caller: Caller,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    let viewer = match viewer(&state, caller, Permission::ViewEstate, false).await {
        Ok(v) => v,
        Err(r) => return r,
    };
    let typed = q.get("per_day").cloned().unwrap_or_default();
    let offset: usize = q.get("offset").and_then(|o| o.parse().ok()).unwrap_or(0);
    let mut wanted: HashMap<String, String> = q
        .iter()
        .filter(|(k, _)| k.as_str() == "per_day")
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    // A refused value is shown on the page with what was typed; the plan is made without it.
    let (problem, p) = match params(&wanted) {
        Ok(p) => (None, p),
        Err(e) => {
            wanted.clear();
            let (field, _) = e.parts();
            let m = "Enter the computers IT can move in a working day as a whole number from 1 to 100000, like 20, or leave it empty for no limit";
            (
                Some((field, m.to_owned())),
                params(&wanted).unwrap_or(Params {
                    from: None,
                    per_day: None,
                    margin_days: 14,
                }),
            )
        }
    };
    let estate = match blocking(&state, load_workstations).await {
        Ok(e) => e,
        Err(f) => return f.into_response(),
    };
    let today = (state.now)().date();
    let checks = &state.checks;
    let settings = Settings {
        from: today,
        calendar: &checks.calendar,
        per_day: p.per_day,
        margin_days: p.margin_days,
    };
    let made = plan(&estate, &checks.catalogue, &settings).map(|mut plan| {
        plan.sites.retain(|s| viewer.sees_site(&s.site));
        plan
    });
    let pages = made.as_ref().map_or_else(Default::default, |plan| {
        crate::web::layout::pager(offset, SITES_PER_PAGE, plan.sites.len(), |o| {
            let mut query = url::form_urlencoded::Serializer::new(String::new());
            if let Some(n) = p.per_day {
                query.append_pair("per_day", &n.to_string());
            }
            query.append_pair("offset", &o.to_string());
            format!("/plan/migration?{}", query.finish())
        })
    });
    let mut plan_shown = made
        .as_ref()
        .map(|plan| shown(plan, today, p.per_day, offset));
    if let Some(s) = plan_shown.as_mut() {
        let names = sites::names(&state, &viewer).await;
        for x in &mut s.sites {
            x.site = sites::named(&x.site, &names);
        }
    }
    let page = Page {
        per_day: typed,
        plan: plan_shown,
        pages,
        problem,
    };
    let status = if page.problem.is_some() {
        axum::http::StatusCode::BAD_REQUEST
    } else {
        axum::http::StatusCode::OK
    };
    // Rendering only fails on a formatter error writing into a String, which cannot happen.
    let body = askama::Template::render(&page).unwrap_or_default();
    (
        status,
        crate::web::layout::page("Move to Smartcard Connect", Some(&viewer.caller), &body),
    )
        .into_response()
}
