//! `GET /api/v1/plan`: the renewal plan with the options of `cardwatch plan`; `GET /plan`: the
//! same plan as a page that opens with its answer.

use std::collections::HashMap;

use askama::Template;
use axum::extract::{Query, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use cardwatch_core::access::Permission;
use cardwatch_core::chart::{Bar, BarChart};
use cardwatch_core::date::{Date, Timestamp};
use cardwatch_core::planner::{plan_teams_kept, Settings, TeamPlan, CSV_COLUMNS};
use serde_json::json;

use crate::prevent::overview::thousands;
use crate::web::auth::Caller;
use crate::web::blocking;
use crate::web::scope::viewer;
use crate::web::{bad_request, BadParam};
use crate::AppState;

pub(crate) mod cache;

struct Params {
    capacity: Option<u32>,
    from: Option<Date>,
    site: Option<String>,
    wait_days: i32,
    format: &'static str,
    offset: usize,
    limit: usize,
}

fn params(q: &HashMap<String, String>) -> Result<Params, BadParam> {
    const KNOWN: [&str; 7] = [
        "capacity",
        "from",
        "site",
        "wait_days",
        "format",
        "offset",
        "limit",
    ];
    if let Some(k) = q.keys().find(|k| !KNOWN.contains(&k.as_str())) {
        return Err(bad_request(
            k,
            format!("unknown parameter {k:?} — use {}", KNOWN.join(", ")),
        ));
    }
    let get = |k: &str| q.get(k).map(|v| v.trim()).filter(|v| !v.is_empty());
    let number = |k: &str, default: Option<u64>, range: std::ops::RangeInclusive<u64>| {
        let v = match (get(k), default) {
            (Some(v), _) => v
                .parse::<u64>()
                .map_err(|_| bad_request(k, format!("{k} {v:?} is not a whole number")))?,
            (None, Some(d)) => d,
            (None, None) => {
                return Err(bad_request(
                    k,
                    format!("{k} is required (renewals a working day)"),
                ))
            }
        };
        if range.contains(&v) {
            Ok(Some(v))
        } else {
            Err(bad_request(
                k,
                format!("{k} must be {} to {}", range.start(), range.end()),
            ))
        }
    };
    Ok(Params {
        capacity: number("capacity", None, 1..=1_000_000)?.map(|c| c as u32),
        from: get("from")
            .map(|v| Date::parse(v).map_err(|e| bad_request("from", format!("from {v:?}: {e}"))))
            .transpose()?,
        site: get("site")
            .map(|v| {
                cardwatch_core::ids::OdsCode::parse(v)
                    .map(|o| o.as_str().to_owned())
                    .map_err(|e| bad_request("site", format!("site {v:?}: {e}")))
            })
            .transpose()?,
        wait_days: number("wait_days", Some(30), 1..=90)?.unwrap_or(30) as i32,
        format: match get("format") {
            None | Some("json") => "json",
            Some("csv") => "csv",
            Some("ics") => "ics",
            Some(v) => {
                return Err(bad_request(
                    "format",
                    format!("format {v:?}: use json, csv or ics"),
                ))
            }
        },
        offset: number("offset", Some(0), 0..=u64::MAX)?.unwrap_or(0) as usize,
        limit: number("limit", Some(1_000), 1..=10_000)?.unwrap_or(1_000) as usize,
    })
}

/// Plans every RA team's renewals from `from` over the estate at `version`: the plans, or the
/// parameter that cannot be planned with (the server's own failure as its response).
async fn compute(
    state: &AppState,
    p: &Params,
    from: Date,
    version: i64,
) -> Result<Result<Vec<TeamPlan>, BadParam>, Response> {
    let checks = state.checks.clone();
    if p.capacity.is_none() && checks.teams.is_empty() {
        return Ok(Err(bad_request(
            "capacity",
            "capacity is required (renewals a working day): no RA teams are configured".into(),
        )));
    }
    let (rest, wait_days) = (p.capacity, p.wait_days);
    let (due, jobs) = cache::renewals(state, version)
        .await
        .map_err(IntoResponse::into_response)?;
    match blocking(state, move |_| {
        let settings = Settings {
            from,
            capacity: 1,
            window_days: checks.thresholds.renewal_window_days,
            calendar: &checks.calendar,
        };
        Ok(plan_teams_kept(
            due,
            &jobs,
            &checks.teams,
            rest,
            &settings,
            wait_days,
        ))
    })
    .await
    {
        Ok(Ok(plans)) => Ok(Ok(plans)),
        Ok(Err(unserved)) => Ok(Err(bad_request("capacity", unserved.to_string()))),
        Err(f) => Err(f.into_response()),
    }
}

/// `GET /api/v1/plan?capacity=N&from=&site=&wait_days=&format=json|csv|ics&offset=&limit=`
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
    let today = (state.now)().date();
    let from = p.from.unwrap_or(today);
    let version = match crate::prevent::check::facts_version(&state, viewer.version).await {
        Ok(v) => v,
        Err(r) => return r,
    };
    // The same question on the same estate and day has the same answer: the sites the caller
    // sees are part of the question.
    let visible = viewer.visible_sites();
    let key = (p.format == "json").then(|| format!("api {visible:?} {}", p_query(&q)));
    if let Some(answer) = key
        .as_deref()
        .and_then(|k| cache::answered(&state, k, version, today))
    {
        return json_text(answer.as_str().to_owned());
    }
    let plans = match compute(&state, &p, from, version).await {
        Ok(Ok(plans)) => plans,
        Ok(Err(bad)) => return bad.into_response(),
        Err(r) => return r,
    };
    let site = p.site.as_deref();
    // Every shown renewal as (team, index into its report), read as needed: a page of JSON
    // needs only its own rows and the count.
    let shown = || {
        plans
            .iter()
            .flat_map(|t| (0..t.report.renewals.len()).map(move |i| (t, i)))
            .filter(|&(t, i)| {
                let r = &t.report.renewals[i];
                site.is_none_or(|s| r.site.eq_ignore_ascii_case(s)) && viewer.sees_site(&r.site)
            })
    };
    let response = match p.format {
        "csv" => crate::web::csv_download(
            "renewal-plan.csv",
            &CSV_COLUMNS,
            shown()
                .map(|(t, i)| t.report.renewals[i].csv_fields(&t.report.plan.targets[i], &t.team)),
        ),
        "ics" => {
            let events: Vec<_> = shown()
                .map(|(t, i)| t.report.renewals[i].event(&t.report.plan.targets[i]))
                .collect();
            let now = Timestamp::start_of((state.now)().date());
            (
                [(header::CONTENT_TYPE, "text/calendar; charset=utf-8")],
                cardwatch_core::ics::calendar("Smartcard renewals", &events, now),
            )
                .into_response()
        }
        _ => {
            let teams: Vec<_> = plans
                .iter()
                .map(|t| {
                    json!({
                        "team": t.team,
                        "capacity": t.capacity,
                        "plan": t.report.plan.outcome,
                        "wait_for_prompt": t.report.wait,
                        "capacity_for_no_lapses": t.report.plan.capacity_for_no_lapses,
                        "weeks": t.report.plan.weeks,
                    })
                })
                .collect();
            let row = |(t, i): (&TeamPlan, usize)| {
                let mut row = t.report.json_row(i);
                row["ra_team"] = t.team.clone().into();
                row
            };
            // A caller who sees every site, asking for no one site, is shown every renewal: the
            // count is the teams' and the page is read by place, rather than looking at each of
            // two million renewals' sites.
            let (total, renewals): (usize, Vec<_>) = if site.is_none() && visible.is_none() {
                let every = plans
                    .iter()
                    .flat_map(|t| (0..t.report.renewals.len()).map(move |i| (t, i)));
                (
                    plans.iter().map(|t| t.report.renewals.len()).sum(),
                    every.skip(p.offset).take(p.limit).map(row).collect(),
                )
            } else {
                let mut total = 0usize;
                let mut renewals = Vec::new();
                for shown in shown() {
                    if total >= p.offset && renewals.len() < p.limit {
                        renewals.push(row(shown));
                    }
                    total += 1;
                }
                (total, renewals)
            };
            let answer = json!({
                "from": from,
                "teams": teams,
                "total": total,
                "offset": p.offset,
                "limit": p.limit,
                "renewals": renewals,
            })
            .to_string();
            if let Some(key) = key {
                cache::keep(
                    &state,
                    key,
                    version,
                    today,
                    std::sync::Arc::new(answer.clone()),
                );
            }
            json_text(answer)
        }
    };
    response
}

/// A JSON answer already written out.
fn json_text(body: String) -> Response {
    ([(header::CONTENT_TYPE, "application/json")], body).into_response()
}

/// One RA team's part of the page.
struct TeamView {
    /// Its name, when there are several to tell apart.
    heading: Option<String>,
    sentence: String,
    /// The chart and its figures as a table (markup from `cardwatch_core::chart`, escaped there).
    chart: String,
}

#[derive(Template)]
#[template(path = "plan.html")]
struct PlanPage {
    /// The refused field's id in the form and what is wrong, in words.
    error: Option<(&'static str, String)>,
    /// The capacity as typed, kept when refused.
    typed: String,
    /// The capacity the plan uses for sites no RA team serves, in words.
    capacity: String,
    /// Whether that is the configured capacity (nothing typed).
    configured: bool,
    /// The configured capacity, in words.
    configured_capacity: String,
    /// Whether RA teams are configured (each plans at its own capacity).
    teams_configured: bool,
    /// Days before expiry people wait for the prompt in the comparison.
    wait_days: i32,
    summary: String,
    expired: Option<String>,
    /// For a caller who sees only some sites: their holders' part of the plan, in words.
    yours: Option<Yours>,
    /// Whether the caller can change the configuration (an administrator).
    configures: bool,
    teams: Vec<TeamView>,
    csv: String,
    ics: String,
}

/// A practice's own renewals in the plan, in words.
struct Yours {
    /// What is due and what the plan does with it.
    sentence: String,
    /// Those already expired, who need an RA in person.
    expired: Option<String>,
    /// Their certificates expiring and renewals booked each week (markup from
    /// `cardwatch_core::chart`, escaped there); none when the plan holds none of theirs.
    chart: Option<String>,
}

/// The caller's sites' renewals in the teams' plans: how many, how many already expired, how
/// many the plan books after expiry, and the first booked.
fn yours(plans: &[TeamPlan], viewer: &crate::web::scope::Viewer, from: Date) -> Yours {
    let (mut due, mut expired, mut late) = (0usize, 0usize, 0usize);
    let mut first: Option<Date> = None;
    // The same 52 weeks as the teams' charts, each team's plan starting on the same Monday.
    let weeks: Vec<Date> = plans
        .first()
        .map(|t| {
            t.report
                .plan
                .weeks
                .iter()
                .take(52)
                .map(|w| w.starts)
                .collect()
        })
        .unwrap_or_default();
    let mut counts = vec![[0.0f64; 2]; weeks.len()];
    let mut count = |date: Date, series: usize| {
        let Some(start) = weeks.first() else { return };
        let week = start.days_until(date).div_euclid(7);
        if let Some(c) = usize::try_from(week).ok().and_then(|w| counts.get_mut(w)) {
            c[series] += 1.0;
        }
    };
    for t in plans {
        for (r, target) in t.report.renewals.iter().zip(&t.report.plan.targets) {
            if !viewer.sees_site(&r.site) {
                continue;
            }
            due += 1;
            count(r.expiry, 0);
            count(target.date, 1);
            if r.expiry < from {
                expired += 1;
            } else {
                if target.lapsed_days > 0 {
                    late += 1;
                }
                first = Some(first.map_or(target.date, |f| f.min(target.date)));
            }
        }
    }
    let mut sentence = format!("Your sites have {} in the plan.", certificates(due));
    if let Some(first) = first {
        sentence.push_str(&match late {
            0 => format!(
                " It books {} before it expires, the first on {}.",
                if expired == 0 { "each" } else { "each still in time" },
                first.long()
            ),
            n => format!(
                " It books the first on {}; at this capacity the RA team cannot reach {} before {} expire{}.",
                first.long(),
                thousands(n),
                if n == 1 { "it" } else { "they" },
                if n == 1 { "s" } else { "" },
            ),
        });
    }
    let chart = (due > 0).then(|| {
        BarChart {
            title: "Your sites: certificates expiring and renewals booked each week".into(),
            series: vec!["Certificates expiring".into(), "Renewals booked".into()],
            bars: weeks
                .iter()
                .zip(&counts)
                .map(|(starts, c)| Bar {
                    label: starts.short(),
                    values: c.to_vec(),
                })
                .collect(),
            limit: None,
        }
        .figure(900.0, 220.0)
    });
    Yours {
        sentence,
        chart,
        expired: (expired > 0).then(|| {
            format!(
                "{} had already expired on {}: {} to see an RA in person.",
                certificates(expired),
                from.long(),
                if expired == 1 {
                    "its holder needs"
                } else {
                    "their holders need"
                },
            )
        }),
    }
}

/// "1 certificate", "1,240 certificates".
fn certificates(n: usize) -> String {
    format!(
        "{} {}",
        thousands(n),
        if n == 1 {
            "certificate"
        } else {
            "certificates"
        }
    )
}

/// "1 renewal a working day", "300 renewals a working day".
fn per_day(n: u32) -> String {
    format!(
        "{} {} a working day",
        thousands(n as usize),
        if n == 1 { "renewal" } else { "renewals" }
    )
}

/// The answer in one sentence: lapses waiting for the prompt, then with the plan.
fn sentence(wait: usize, planned: usize, at: &str) -> String {
    format!(
        "Without a plan, {} would lapse before {} renewed; with this plan, {} {at}.",
        certificates(wait),
        if wait == 1 { "it is" } else { "they are" },
        match planned {
            1 => "1 lapses".to_owned(),
            n => format!("{} lapse", thousands(n)),
        },
    )
}

/// A team's chart of its next 52 weeks: certificates expiring and renewals planned, against
/// its capacity.
fn chart(t: &TeamPlan, named: bool) -> String {
    let weeks: Vec<_> = t.report.plan.weeks.iter().take(52).collect();
    let what = "certificates expiring and renewals planned each week, against capacity";
    BarChart {
        title: if named {
            format!("{}: {what}", team_name(&t.team))
        } else {
            let mut c = what.chars();
            c.next()
                .map(|f| f.to_uppercase().chain(c).collect())
                .unwrap_or_default()
        },
        series: vec!["Certificates expiring".into(), "Renewals planned".into()],
        bars: weeks
            .iter()
            .map(|w| Bar {
                label: w.starts.short(),
                values: vec![f64::from(w.expiring), f64::from(w.planned)],
            })
            .collect(),
        limit: Some((
            "Capacity".into(),
            weeks.iter().map(|w| f64::from(w.capacity)).collect(),
        )),
    }
    .figure(900.0, 280.0)
}

/// A team's name as people read it (the planner's own names for the sites no team serves).
fn team_name(team: &str) -> String {
    match team {
        "all" => "Every site".into(),
        "everyone else" => "Sites no RA team serves".into(),
        t => t.to_owned(),
    }
}

/// The capacity field's value, or why it cannot be used, in words.
fn typed_capacity(v: &str) -> Result<u32, String> {
    v.trim()
        .parse::<u32>()
        .ok()
        .filter(|n| (1..=1_000_000).contains(n))
        .ok_or_else(|| {
            "Enter the renewals the RA team can do a working day as a whole number from 1 to 1,000,000, like 50".to_owned()
        })
}

/// `GET /plan?capacity=N&from=…`: each RA team's next 52 weeks — certificates expiring, renewals
/// planned, and capacity — as a chart with its table, and the lapses with and without the plan
/// in one sentence. With no capacity typed it plans at the configured one (`[notify]
/// ra_capacity`, which the renewal reminders use too), so the first visit has its answer; a
/// refused value shows the page again with the NHS.UK error summary and what was typed.
pub(crate) async fn page(
    State(state): State<AppState>,
    caller: Caller,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    let viewer = match viewer(&state, caller, Permission::ViewEstate, false).await {
        Ok(v) => v,
        Err(r) => return r,
    };
    let configured = state.checks.notify.ra_capacity;
    let typed = q.get("capacity").cloned().unwrap_or_default();
    let mut out = PlanPage {
        error: None,
        typed: typed.clone(),
        capacity: per_day(configured),
        configured: typed.trim().is_empty(),
        configured_capacity: per_day(configured),
        teams_configured: !state.checks.teams.is_empty(),
        wait_days: 30,
        summary: String::new(),
        expired: None,
        yours: None,
        configures: viewer.visible_sites().is_none(),
        teams: Vec::new(),
        csv: String::new(),
        ics: String::new(),
    };
    let refuse = |mut out: PlanPage, field: &str, message: String| {
        out.error = Some((
            if field == "capacity" {
                "capacity"
            } else {
                "plan-form"
            },
            message,
        ));
        (StatusCode::BAD_REQUEST, render(&out, &viewer)).into_response()
    };
    let capacity = if out.configured {
        configured
    } else {
        match typed_capacity(&typed) {
            Ok(n) => n,
            Err(m) => return refuse(out, "capacity", m),
        }
    };
    let mut asked = q.clone();
    asked.insert("capacity".into(), capacity.to_string());
    let p = match params(&asked) {
        Ok(p) => p,
        Err(e) => {
            let (field, message) = e.parts();
            return refuse(out, &field, message);
        }
    };
    out.capacity = per_day(capacity);
    out.wait_days = p.wait_days;
    let today = (state.now)().date();
    let from = p.from.unwrap_or(today);
    let version = match crate::prevent::check::facts_version(&state, viewer.version).await {
        Ok(v) => v,
        Err(r) => return r,
    };
    // The teams' plans are the same whoever asks; a practice's own part is not, so the sites the
    // caller sees are part of the question.
    let visible = viewer.visible_sites();
    let key = format!("page {visible:?} {}", p_query(&q));
    if let Some(body) = cache::answered(&state, &key, version, today) {
        return crate::web::layout::page("Renewal plan", Some(&viewer.caller), &body)
            .into_response();
    }
    let plans = match compute(&state, &p, from, version).await {
        Ok(Ok(plans)) => plans,
        Ok(Err(e)) => {
            let (field, message) = e.parts();
            return refuse(out, &field, message);
        }
        Err(r) => return r,
    };
    let (wait, planned, expired) = plans.iter().fold((0, 0, 0), |(w, p, e), t| {
        (
            w + t.report.wait.lapsed,
            p + t.report.plan.outcome.lapsed,
            e + t.report.plan.outcome.already_expired,
        )
    });
    if visible.is_some() {
        out.yours = Some(yours(&plans, &viewer, from));
    }
    let named = plans.len() > 1;
    out.summary = sentence(
        wait,
        planned,
        &if named {
            "with each RA team at its own capacity".to_owned()
        } else {
            format!(
                "at {}",
                per_day(plans.first().map_or(capacity, |t| t.capacity))
            )
        },
    );
    if expired > 0 {
        out.expired = Some(format!(
            "{} of these had already expired on {}: {} to see an RA in person whatever the plan.",
            thousands(expired),
            from.long(),
            if expired == 1 {
                "its holder needs"
            } else {
                "their holders need"
            },
        ));
    }
    out.teams = plans
        .iter()
        .map(|t| {
            let o = &t.report.plan.outcome;
            let mut sentence = if named {
                sentence(
                    t.report.wait.lapsed,
                    o.lapsed,
                    &format!("at {}", per_day(t.capacity)),
                )
            } else {
                String::new()
            };
            if o.lapsed > o.already_expired {
                if !sentence.is_empty() {
                    sentence.push(' ');
                }
                sentence.push_str(&format!(
                    "At {}, no certificate that can still be renewed in time would lapse.",
                    per_day(t.report.plan.capacity_for_no_lapses),
                ));
            }
            TeamView {
                heading: named.then(|| team_name(&t.team)),
                sentence,
                chart: chart(t, named),
            }
        })
        .collect();
    let query = p_query(&asked);
    out.csv = format!("/api/v1/plan?{query}&format=csv");
    out.ics = format!("/api/v1/plan?{query}&format=ics");
    // Rendering only fails on a formatter error writing into a String, which cannot happen.
    let body = out.render().unwrap_or_default();
    let page = crate::web::layout::page("Renewal plan", Some(&viewer.caller), &body);
    cache::keep(&state, key, version, today, std::sync::Arc::new(body));
    page.into_response()
}

fn render(out: &PlanPage, viewer: &crate::web::scope::Viewer) -> axum::response::Html<String> {
    // Rendering only fails on a formatter error writing into a String, which cannot happen.
    let body = out.render().unwrap_or_default();
    crate::web::layout::page("Renewal plan", Some(&viewer.caller), &body)
}

/// The page's query again, for its download links (the keys are known ones: `params` refuses
/// others); the template escapes it.
fn p_query(q: &HashMap<String, String>) -> String {
    let mut keys: Vec<_> = q.iter().filter(|(k, _)| k.as_str() != "format").collect();
    keys.sort();
    keys.iter()
        .map(|(k, v)| format!("{k}={}", crate::web::enc(v)))
        .collect::<Vec<_>>()
        .join("&")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_answer_reads_as_a_sentence() {
        assert_eq!(
            sentence(1_240, 0, &format!("at {}", per_day(300))),
            "Without a plan, 1,240 certificates would lapse before they are renewed; with this plan, 0 lapse at 300 renewals a working day."
        );
        assert_eq!(
            sentence(1, 1, &format!("at {}", per_day(1))),
            "Without a plan, 1 certificate would lapse before it is renewed; with this plan, 1 lapses at 1 renewal a working day."
        );
        assert!(typed_capacity(" 12 ").is_ok());
        for bad in ["abc", "-1", "0", "1.5", "1000001"] {
            assert!(typed_capacity(bad).is_err(), "{bad}");
        }
    }
}
