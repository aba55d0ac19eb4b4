//! The scheduler's page for administrators (`/admin/jobs`) and its JSON twin (`/api/v1/jobs`):
//! each job's schedule, the newest runs, the outbox by state and the messages that failed. Only
//! administrators: the outbox names recipients.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use axum::extract::State;
use axum::response::{IntoResponse, Response};
use axum::Json;
use cardwatch_core::access::Permission;
use cardwatch_store::notify::{self, JobRun, Outgoing};
use serde_json::json;

use crate::notify::jobs::Job;
use crate::web::auth::Caller;
use crate::web::scope::viewer;
use crate::web::{blocking, escape, layout};
use crate::AppState;

struct View {
    runs: Vec<JobRun>,
    outbox: BTreeMap<String, i64>,
    failed: Vec<Outgoing>,
}

async fn load(state: &AppState, caller: Caller, api: bool) -> Result<(Caller, View), Response> {
    let v = viewer(state, caller, Permission::ManageUsers, api).await?;
    let view = blocking(state, |s| {
        Ok(View {
            runs: notify::job_runs(s, None, 50)?,
            outbox: notify::outbox_counts(s)?.into_iter().collect(),
            failed: notify::outbox(s, Some("failed"), 50)?,
        })
    })
    .await
    .map_err(IntoResponse::into_response)?;
    Ok((v.caller, view))
}

fn schedule(state: &AppState) -> Vec<(Job, String)> {
    Job::ALL
        .iter()
        .map(|j| (*j, state.checks.notify.schedule_text(*j)))
        .collect()
}

/// `GET /api/v1/jobs`
pub(crate) async fn api(State(state): State<AppState>, caller: Caller) -> Response {
    let (_, v) = match load(&state, caller, true).await {
        Ok(x) => x,
        Err(r) => return r,
    };
    let schedule: Vec<_> = schedule(&state)
        .into_iter()
        .map(|(j, s)| json!({"job": j.name(), "schedule": s, "about": j.about()}))
        .collect();
    let failed: Vec<_> = v
        .failed
        .iter()
        .map(|o| {
            json!({"key": o.key, "channel": o.channel, "recipient": o.recipient,
                   "subject": o.subject, "attempts": o.attempts, "last_error": o.last_error})
        })
        .collect();
    Json(json!({
        "schedule": schedule, "runs": v.runs, "outbox": v.outbox, "failed": failed,
        "smtp": state.checks.notify.smtp.as_ref().map(ToString::to_string),
    }))
    .into_response()
}

/// `GET /admin/jobs`
pub(crate) async fn page(State(state): State<AppState>, caller: Caller) -> Response {
    let (caller, v) = match load(&state, caller, false).await {
        Ok(x) => x,
        Err(r) => return r,
    };
    let cell = |s: &str| format!("<td class=\"nhsuk-table__cell\">{}</td>", escape(s));
    let head = |cols: &[&str]| {
        cols.iter()
            .map(|c| format!("<th class=\"nhsuk-table__header\" scope=\"col\">{c}</th>"))
            .collect::<String>()
    };
    let mut jobs = String::new();
    for (j, s) in schedule(&state) {
        let _ = write!(
            jobs,
            "<tr class=\"nhsuk-table__row\">{}{}{}</tr>",
            cell(j.name()),
            cell(&s),
            cell(j.about())
        );
    }
    let mut runs = String::new();
    for r in &v.runs {
        let _ = write!(
            runs,
            "<tr class=\"nhsuk-table__row\">{}{}{}{}{}{}</tr>",
            cell(&r.job),
            cell(&r.slot.to_string()),
            cell(&r.state),
            cell(&r.attempts.to_string()),
            cell(&r.owner),
            cell(r.detail.as_deref().unwrap_or(""))
        );
    }
    let mut failed = String::new();
    for o in &v.failed {
        let _ = write!(
            failed,
            "<tr class=\"nhsuk-table__row\">{}{}{}{}</tr>",
            cell(&o.subject),
            cell(&o.recipient),
            cell(&o.attempts.to_string()),
            cell(o.last_error.as_deref().unwrap_or(""))
        );
    }
    let outbox = if v.outbox.is_empty() {
        "empty".to_owned()
    } else {
        v.outbox
            .iter()
            .map(|(s, n)| format!("{n} {s}"))
            .collect::<Vec<_>>()
            .join(", ")
    };
    let relay = state.checks.notify.smtp.as_ref().map_or_else(
        || "No SMTP relay is configured: email waits in the outbox (set smtp_url).".to_owned(),
        |r| format!("Email goes through {r}."),
    );
    let failed_table = if failed.is_empty() {
        "<p class=\"nhsuk-body\">No message has failed.</p>".to_owned()
    } else {
        format!(
            "<table class=\"nhsuk-table\"><thead class=\"nhsuk-table__head\"><tr class=\"nhsuk-table__row\">{}</tr></thead><tbody class=\"nhsuk-table__body\">{failed}</tbody></table>",
            head(&["Message", "To", "Tries", "Last error"])
        )
    };
    let body = format!(
        r#"<h1 class="nhsuk-heading-l">Scheduled jobs</h1>
<p class="nhsuk-body">Each scheduled moment runs once across every server sharing this database. Schedules are in UTC. {relay}</p>
<table class="nhsuk-table"><caption class="nhsuk-table__caption">Jobs</caption><thead class="nhsuk-table__head"><tr class="nhsuk-table__row">{}</tr></thead><tbody class="nhsuk-table__body">{jobs}</tbody></table>
<h2 class="nhsuk-heading-m">Outbox</h2><p class="nhsuk-body">{}</p>
<h2 class="nhsuk-heading-m">Failed messages</h2>{failed_table}
<table class="nhsuk-table"><caption class="nhsuk-table__caption">Newest runs</caption><thead class="nhsuk-table__head"><tr class="nhsuk-table__row">{}</tr></thead><tbody class="nhsuk-table__body">{runs}</tbody></table>"#,
        head(&["Job", "Schedule", "What it does"]),
        escape(&outbox),
        head(&["Job", "Moment", "State", "Starts", "Server", "Outcome"]),
    );
    layout::page("Scheduled jobs", Some(&caller), &body).into_response()
}
