//! The scheduler's page for administrators (`/admin/jobs`) and its JSON twin (`/api/v1/jobs`):
//! each job's schedule, the newest runs, the outbox by state and the messages that failed. Only
//! administrators: the outbox names recipients.

use axum::extract::State;
use axum::response::{IntoResponse, Response};
use axum::Json;
use cardwatch_core::access::Permission;
use cardwatch_store::notify::{self, JobRun, Outgoing};
use serde_json::json;
use std::collections::BTreeMap;

use crate::notify::jobs::Job;
use crate::web::auth::Caller;
use crate::web::counted;
use crate::web::scope::viewer;
use crate::web::{blocking, layout};
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

#[derive(askama::Template)]
#[template(path = "jobs.html")]
struct JobsPage {
    relay: String,
    jobs: Vec<JobRow>,
    outbox: String,
    failed: Vec<FailedRow>,
    runs: Vec<RunRow>,
}

struct JobRow {
    name: &'static str,
    when: String,
    about: &'static str,
}

struct FailedRow {
    subject: String,
    recipient: String,
    attempts: i64,
    error: String,
}

struct RunRow {
    job: String,
    slot: String,
    state: String,
    attempts: i64,
    owner: String,
    detail: String,
}

/// A job's name as an administrator says it.
fn job_name(j: Job) -> &'static str {
    match j {
        Job::Findings => "Check the estate",
        Job::Digest => "Email digests",
        Job::Reminders => "Renewal reminders",
        Job::Stock => "Spare stock alerts",
        Job::Deliver => "Send messages",
        Job::Purge => "Clear out old messages",
        Job::Retention => "Erase leavers' personal data",
        Job::Backup => "Back up the store",
    }
}

const WEEKDAYS: [&str; 7] = [
    "Sunday",
    "Monday",
    "Tuesday",
    "Wednesday",
    "Thursday",
    "Friday",
    "Saturday",
];

/// A schedule (six-field cron: second, minute, hour, day of month, month, weekday) in words —
/// "every day at 07:00", "Monday to Friday at 08:00", "every 15 minutes" — or, for one the page
/// cannot say simply, the expression itself, named as such.
pub(crate) fn in_words(cron: &str) -> String {
    let raw = || format!("on the schedule “{cron}” (second, minute, hour, day, month, weekday)");
    if cron == "off" {
        return "Never (turned off)".into();
    }
    let f: Vec<&str> = cron.split_whitespace().collect();
    let [sec, min, hour, dom, month, dow] = f[..] else {
        return raw();
    };
    if dom != "*" || month != "*" {
        return raw();
    }
    let number = |s: &str, max: u32| s.parse::<u32>().ok().filter(|n| *n <= max);
    let every = |s: &str| s.strip_prefix("*/").and_then(|n| n.parse::<u32>().ok());
    let day = |d: &str| number(d, 7).map(|n| WEEKDAYS[(n % 7) as usize]);
    let days = match dow {
        "*" => Some("every day".to_owned()),
        d => match d.split_once('-') {
            Some((a, b)) => day(a).zip(day(b)).map(|(a, b)| format!("{a} to {b}")),
            None => day(d).map(|d| format!("every {d}")),
        },
    };
    let Some(days) = days else {
        return raw();
    };
    let plural = |n: u32, one: &str, many: &str| {
        if n == 1 {
            format!("every {one}")
        } else {
            format!("every {n} {many}")
        }
    };
    let often = match (every(sec), sec, every(min), min, every(hour), hour) {
        (Some(n), _, _, "*", _, "*") => Some(plural(n, "second", "seconds")),
        (_, "0", Some(n), _, _, "*") => Some(plural(n, "minute", "minutes")),
        (_, "0", _, "*", _, "*") => Some("every minute".to_owned()),
        (_, "0", _, m, Some(n), _) => {
            number(m, 59).map(|m| format!("{} at {m} minutes past", plural(n, "hour", "hours")))
        }
        (_, s, _, m, _, h) => match (number(s, 59), number(m, 59), number(h, 23)) {
            (Some(0), Some(m), Some(h)) => return format!("{days} at {h:02}:{m:02}"),
            (Some(s), Some(m), Some(h)) => return format!("{days} at {h:02}:{m:02}:{s:02}"),
            _ => None,
        },
    };
    match often {
        Some(o) if dow == "*" => o,
        Some(o) => format!("{o}, {days}"),
        None => raw(),
    }
}

/// An outbox or run state in words.
fn state_words(s: &str) -> String {
    match s {
        "pending" => "waiting to be sent",
        "sent" => "sent",
        "failed" => "failed",
        "running" => "Running",
        "done" => "Done",
        other => other,
    }
    .to_owned()
}

/// `GET /admin/jobs`
pub(crate) async fn page(State(state): State<AppState>, caller: Caller) -> Response {
    let (caller, v) = match load(&state, caller, false).await {
        Ok(x) => x,
        Err(r) => return r,
    };
    let jobs = schedule(&state)
        .into_iter()
        .map(|(j, s)| JobRow {
            name: job_name(j),
            when: in_words(&s),
            about: j.about(),
        })
        .collect();
    let runs = v
        .runs
        .iter()
        .map(|r| RunRow {
            job: Job::parse(&r.job).map_or_else(|_| r.job.clone(), |j| job_name(j).to_owned()),
            slot: r.slot.long(),
            state: match r.state.as_str() {
                "failed" => "Failed".to_owned(),
                s => state_words(s),
            },
            attempts: r.attempts,
            owner: r.owner.clone(),
            detail: r.detail.clone().unwrap_or_default(),
        })
        .collect();
    let failed = v
        .failed
        .iter()
        .map(|o| FailedRow {
            subject: o.subject.clone(),
            recipient: o.recipient.clone(),
            attempts: o.attempts,
            error: o.last_error.clone().unwrap_or_default(),
        })
        .collect();
    let outbox = if v.outbox.is_empty() {
        "No messages: the outbox is empty.".to_owned()
    } else {
        let parts: Vec<String> = v
            .outbox
            .iter()
            .map(|(s, n)| format!("{} {}", counted(*n, "message", "messages"), state_words(s)))
            .collect();
        format!("{}.", parts.join(", "))
    };
    let relay = state.checks.notify.smtp.as_ref().map_or_else(
        || "No email server is set (smtp_url): email waits in the outbox until one is.".to_owned(),
        |r| format!("Email goes through {r}."),
    );
    let page = JobsPage {
        relay,
        jobs,
        outbox,
        failed,
        runs,
    };
    // Rendering only fails on a formatter error writing into a String, which cannot happen.
    let body = askama::Template::render(&page).unwrap_or_default();
    layout::page("Scheduled jobs", Some(&caller), &body).into_response()
}

#[cfg(test)]
mod tests {
    use super::in_words;

    #[test]
    fn schedules_in_words() {
        for (cron, words) in [
            ("0 0 7 * * *", "every day at 07:00"),
            ("0 30 6 * * *", "every day at 06:30"),
            ("0 0 8 * * 1-5", "Monday to Friday at 08:00"),
            ("0 0 9 * * 1", "every Monday at 09:00"),
            ("0 */15 * * * *", "every 15 minutes"),
            ("*/10 * * * * *", "every 10 seconds"),
            ("0 5 */2 * * *", "every 2 hours at 5 minutes past"),
            ("off", "Never (turned off)"),
        ] {
            assert_eq!(in_words(cron), words, "{cron}");
        }
        assert!(in_words("0 0 7 1 * *").contains("“0 0 7 1 * *”"));
    }
}
