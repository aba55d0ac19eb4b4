//! One finding's page (`/findings/{rule}/{subject}`: why, the fix, who acts, its note, and the
//! form to acknowledge, snooze or reopen it) and the changes to findings: one at a time
//! (`POST /findings/note`) or the ticked rows of the work queue together (`POST
//! /findings/bulk`), each with a reason, each finding audited on its own by the store.

use std::collections::HashMap;

use askama::Template;
use axum::extract::{Path, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use cardwatch_core::access::Permission;
use cardwatch_core::date::dates_in_words;
use cardwatch_core::health::{action, FindingNote, NoteState, Noted, Severity, SubjectKind};
use cardwatch_core::records::{Kind, Record};

use crate::prevent::check::{all_findings, Check};
use crate::prevent::findings::{
    finding_href, list_page, params, state_words, tag, BulkTyped, View,
};
use crate::prevent::queue_index;
use crate::web::auth::Caller;
use crate::web::scope::{not_found, refuse, viewer, Viewer};
use crate::web::{blocking, sentence_case};
use crate::AppState;

/// The most findings one bulk change takes (a page is 50; a longer page up to this).
const MAX_BULK: usize = 500;

/// The viewer's finding with this id (snoozed ones included), if it is among their sites today.
async fn find<'a>(check: &'a Check, viewer: &Viewer, id: &str) -> Option<&'a Noted> {
    find_all(check, viewer, &[id]).await.pop().flatten()
}

/// The viewer's findings with these ids, each the first in the check's order with its id:
/// looked up by id in what the check keeps (a bulk change names up to [`MAX_BULK`]).
async fn find_all<'a>(check: &'a Check, viewer: &Viewer, ids: &[&str]) -> Vec<Option<&'a Noted>> {
    queue_index::ids_ready(check).await;
    queue_index::kept(check).find(check, viewer, ids)
}

#[derive(Template)]
#[template(path = "findings_finding.html")]
struct FindingPage<'a> {
    n: &'a Noted,
    what: String,
    /// Why it matters and the fix, their dates in words.
    why: String,
    fix: String,
    who: &'static str,
    severity: Severity,
    tag: &'static str,
    kind: &'static str,
    due: String,
    state: String,
    noted_by: String,
    can_act: bool,
    csrf: &'a str,
    /// The site by name and code.
    site: String,
    /// What the finding is about, in words.
    about: String,
    list: String,
    /// The page of what the finding is about (a card's, a person's, a computer's), or the list
    /// that finds it (a reader, a site).
    subject_page: Option<String>,
    /// The action ticked: the one sent, or acknowledging.
    chosen: &'static str,
    /// The note form's field at fault and what to do.
    problem: Option<(&'static str, String)>,
    /// The reason typed, kept.
    reason: String,
}

impl FindingPage<'_> {
    /// The problem's message when `field` is the one at fault.
    fn error_on(&self, field: &str) -> Option<&str> {
        self.problem
            .as_ref()
            .filter(|p| p.0 == field)
            .map(|p| p.1.as_str())
    }
}

/// `GET /findings/{rule}/{subject}`: one finding in full, with its note form.
pub(crate) async fn page(
    State(state): State<AppState>,
    caller: Caller,
    Path((rule, subject)): Path<(String, String)>,
) -> Response {
    let viewer = match viewer(&state, caller, Permission::ViewEstate, false).await {
        Ok(v) => v,
        Err(r) => return r,
    };
    let check = match all_findings(&state, viewer.version).await {
        Ok(c) => c,
        Err(r) => return r,
    };
    let id = format!("{rule}/{subject}");
    let Some(n) = find(&check, &viewer, &id).await else {
        return not_found(
            false,
            &viewer.caller,
            "No such finding among your sites today — a fixed condition closes its finding by itself.",
        );
    };
    let shown = shown(&state, &viewer, n).await;
    render(&viewer, n, &shown, NoteTyped::default())
}

/// What a finding's page names in words rather than codes: its person, its site, its software.
struct Shown {
    holder: Option<String>,
    site: String,
    checks: std::sync::Arc<crate::Checks>,
}

async fn shown(state: &AppState, viewer: &Viewer, n: &Noted) -> Shown {
    let names = crate::web::sites::names(state, viewer).await;
    Shown {
        holder: holder_name(state, viewer, n).await,
        site: crate::web::sites::named(&n.finding.site, &names),
        checks: state.checks.clone(),
    }
}

/// The name of the person a finding is about, for a caller who may see people: the page is
/// titled by who it is, not by a 12-digit number.
async fn holder_name(state: &AppState, viewer: &Viewer, n: &Noted) -> Option<String> {
    let f = &n.finding;
    if f.subject_kind != SubjectKind::Person
        || !viewer.caller.user.user.role.can(Permission::ViewPeople)
    {
        return None;
    }
    let uuid = f.subject.split('/').next()?.to_owned();
    let found = blocking(state, move |s| {
        cardwatch_store::records_of(s, Kind::People, "uuid", &uuid)
    })
    .await
    .ok()?;
    found.into_iter().find_map(|r| match r {
        Record::Person(p) => Some(p.name),
        _ => None,
    })
}

/// What was sent in the note form, kept when the page shows it again with a problem.
#[derive(Default)]
struct NoteTyped {
    /// The field at fault (its id) and what to do.
    problem: Option<(&'static str, String)>,
    action: String,
    reason: String,
}

/// The finding's page, with the note form's problem and what was typed when there is one.
fn render(viewer: &Viewer, n: &Noted, shown: &Shown, typed: NoteTyped) -> Response {
    let f = &n.finding;
    let status = if typed.problem.is_some() {
        StatusCode::BAD_REQUEST
    } else {
        StatusCode::OK
    };
    let body = FindingPage {
        n,
        what: action(f.rule).into_owned(),
        why: sentence_case(&dates_in_words(&f.why)),
        fix: sentence_case(&dates_in_words(&f.fix)),
        who: f.owner.label(),
        severity: f.severity,
        tag: tag(&f.severity),
        kind: f.subject_kind.label(),
        due: f.due.long(),
        state: state_words(n),
        noted_by: n.note.as_ref().map_or(String::new(), |x| {
            format!(
                "{}, {}",
                x.actor.trim_start_matches("web:"),
                x.noted_at.date().long()
            )
        }),
        can_act: viewer.caller.user.user.role.can(Permission::ActOnFindings),
        csrf: &viewer.caller.csrf,
        site: shown.site.clone(),
        about: f
            .subject_kind
            .subject_words(&f.subject, &shown.checks.catalogue),
        list: format!("/findings?site={}", crate::web::enc(&f.site)),
        subject_page: subject_page(f.subject_kind, &f.subject),
        chosen: match typed.action.as_str() {
            "snoozed" => "snoozed",
            "reopen" if n.note.is_some() => "reopen",
            _ => "acknowledged",
        },
        problem: typed.problem,
        reason: typed.reason,
    }
    .render()
    .unwrap_or_default();
    (
        status,
        crate::web::layout::page(&body_title(n, shown), Some(&viewer.caller), &body),
    )
        .into_response()
}

/// Where what a finding is about is shown: its own page for a card (`CS…`), a person
/// (`holder/site/role`), a workstation (`hostname` or `hostname/component`) or an integration;
/// the list filtered to it for a reader or a site, which have no page of their own.
fn subject_page(kind: SubjectKind, subject: &str) -> Option<String> {
    use crate::web::page_of;
    let first = subject.split('/').next().filter(|s| !s.is_empty())?;
    let listed = |kind: &str| format!("/estate/{kind}?q={}", crate::web::enc(first));
    Some(match kind {
        SubjectKind::Card => page_of("cards", first),
        SubjectKind::Person => page_of("people", first),
        SubjectKind::Workstation => page_of("workstations", first),
        SubjectKind::Integration => page_of("integrations", first),
        SubjectKind::Reader => listed("readers"),
        SubjectKind::Site => listed("sites"),
    })
}

/// "Person Jane Smith (role R8000 at A10000)" when the holder's name is known, otherwise their
/// number in its place.
fn body_title(n: &Noted, shown: &Shown) -> String {
    let f = &n.finding;
    let words = f
        .subject_kind
        .subject_words(&f.subject, &shown.checks.catalogue);
    let words = match (shown.holder.as_deref(), f.subject.split('/').next()) {
        (Some(name), Some(uuid)) => words.replacen(uuid, name, 1),
        _ => words,
    };
    format!("{} {words}", f.subject_kind.label())
}

fn see_other(to: &str) -> Response {
    (StatusCode::SEE_OTHER, [(header::LOCATION, to.to_owned())]).into_response()
}

/// Acknowledged for 30 days or snoozed for 7, or none for another action.
fn how_long(action: &str) -> Option<(NoteState, i32)> {
    match action {
        "acknowledged" => Some((NoteState::Acknowledged, 30)),
        "snoozed" => Some((NoteState::Snoozed, 7)),
        _ => None,
    }
}

/// The note form's fields.
#[derive(Default)]
pub(crate) struct NoteForm {
    csrf: String,
    id: String,
    action: String,
    reason: String,
}

impl NoteForm {
    /// The fields of a form body, read as a browser sends them: unknown names ignored and a name
    /// sent twice taking its last value, so no body is answered with the extractor's plain-text
    /// refusal instead of the page.
    fn from_body(body: &[u8]) -> NoteForm {
        let mut f = NoteForm::default();
        for (k, v) in url::form_urlencoded::parse(body) {
            let v = v.into_owned();
            match &*k {
                "csrf" => f.csrf = v,
                "id" => f.id = v,
                "action" => f.action = v,
                "reason" => f.reason = v,
                _ => {}
            }
        }
        f
    }
}

/// `POST /findings/note`: acknowledge (30 days), snooze (7 days) or reopen a finding of the
/// caller's sites, with a reason; audited. Back to the finding's page.
pub(crate) async fn note(
    State(state): State<AppState>,
    caller: Caller,
    body: axum::body::Bytes,
) -> Response {
    let f = NoteForm::from_body(&body);
    let viewer = match viewer(&state, caller, Permission::ActOnFindings, false).await {
        Ok(v) => v,
        Err(r) => return r,
    };
    if let Err(r) = viewer.caller.check_csrf(&f.csrf) {
        return r.into_response();
    }
    let check = match all_findings(&state, viewer.version).await {
        Ok(c) => c,
        Err(r) => return r,
    };
    let Some(found) = find(&check, &viewer, &f.id).await else {
        let message = if f.id.trim().is_empty() {
            "The form did not say which finding it was about. Open the finding from the list and try again."
        } else {
            "That finding is not among your sites today — a fixed condition closes its finding by itself. Open it again from the list of findings."
        };
        let status = if f.id.trim().is_empty() {
            StatusCode::BAD_REQUEST
        } else {
            StatusCode::FORBIDDEN
        };
        return crate::web::lookup::plain(
            &viewer.caller,
            status,
            "Findings",
            message,
            ("/findings", "Back to the findings"),
        );
    };
    let back = finding_href(found);
    let now = (state.now)();
    let change = crate::web::change(&viewer.caller, &state);
    let id = f.id.clone();
    let shown = shown(&state, &viewer, found).await;
    // A field sent wrong: the finding's page again, the problem shown and what was typed kept.
    let again = |field: &'static str, message: String| {
        render(
            &viewer,
            found,
            &shown,
            NoteTyped {
                problem: Some((field, message)),
                action: f.action.clone(),
                reason: f.reason.clone(),
            },
        )
    };
    let note = match (how_long(&f.action), f.action.as_str()) {
        (Some((kind, _)), _) if f.reason.trim().is_empty() => {
            let doing = if kind == NoteState::Snoozed {
                "Snoozing"
            } else {
                "Acknowledging"
            };
            return again(
                "reason",
                format!(
                    "{doing} needs a reason — say why, for example “renewal booked for 3 December”"
                ),
            );
        }
        (Some((kind, days)), _) => {
            match FindingNote::new(
                &id,
                kind,
                &f.reason,
                now.date().add_days(days),
                &change.actor,
                now,
            ) {
                Ok(n) => Some(n),
                Err(e) => return again("reason", sentence_case(&e)),
            }
        }
        (None, "reopen") if f.reason.trim().is_empty() => {
            return again(
                "reason",
                "Reopening needs a reason — say why, for example “booking cancelled”".into(),
            )
        }
        (None, "reopen") if found.note.is_none() => {
            return again(
                "action-acknowledged",
                "This finding is open already — choose to acknowledge or snooze it".into(),
            )
        }
        (None, "reopen") => None,
        (None, _) => {
            return again(
                "action-acknowledged",
                "Choose what you are doing about it: acknowledge, snooze or reopen".into(),
            )
        }
    };
    let reason = f.reason.clone();
    let done = blocking(&state, move |s| match note {
        Some(n) => s.note_finding(&n, &change),
        None => s.reopen_finding(&id, &reason, &change).map(|_| ()),
    })
    .await;
    match done {
        Ok(()) => see_other(&back),
        Err(f) => f.into_response(),
    }
}

/// `POST /findings/bulk` (form: csrf, id repeated, action, reason, back): the ticked findings
/// acknowledged or snoozed with one reason — all or none: each must be the caller's and open to
/// the change. Every note is written and audited as one acknowledgement would be.
pub(crate) async fn bulk(
    State(state): State<AppState>,
    caller: Caller,
    body: axum::body::Bytes,
) -> Response {
    let viewer = match viewer(&state, caller, Permission::ActOnFindings, false).await {
        Ok(v) => v,
        Err(r) => return r,
    };
    let (mut csrf, mut ids, mut act, mut reason, mut back) = (
        String::new(),
        Vec::new(),
        String::new(),
        String::new(),
        String::new(),
    );
    for (k, v) in url::form_urlencoded::parse(&body) {
        match &*k {
            "csrf" => csrf = v.into_owned(),
            "id" => ids.push(v.into_owned()),
            "action" => act = v.into_owned(),
            "reason" => reason = v.into_owned(),
            "back" => back = v.into_owned(),
            _ => {}
        }
    }
    if let Err(r) = viewer.caller.check_csrf(&csrf) {
        return r.into_response();
    }
    // Back to the same filters and page: rebuilt from the validated filters, never taken as
    // given, so it can only lead to the findings page.
    let sent: HashMap<String, String> = url::Url::parse(&format!("http://x{back}"))
        .ok()
        .filter(|u| u.path() == "/findings")
        .map(|u| u.query_pairs().into_owned().collect())
        .unwrap_or_default();
    let filters = params(&sent, View::Page).ok();
    let back = filters
        .as_ref()
        .map_or("/findings".to_owned(), |p| p.href(p.sort, p.offset));
    ids.sort();
    ids.dedup();
    // A form that cannot be saved comes back as it was sent, on the same list (its filters when
    // they were valid), saying why.
    let query = if filters.is_some() {
        sent
    } else {
        HashMap::new()
    };
    let again = |field: &'static str, message: String| {
        let typed = BulkTyped {
            ticked: ids.clone(),
            action: act.clone(),
            reason: reason.clone(),
            field,
            message,
        };
        list_page(&state, &viewer, &query, Some(typed))
    };
    if ids.is_empty() {
        return again(
            "pick-0",
            "Tick at least one finding, then choose what to do with them".into(),
        )
        .await;
    }
    if ids.len() > MAX_BULK {
        return again(
            "pick-0",
            format!("Tick at most {MAX_BULK} findings at a time"),
        )
        .await;
    }
    let Some((kind, days)) = how_long(&act) else {
        return again(
            "bulk-acknowledged",
            "Choose to acknowledge or snooze the ticked findings".into(),
        )
        .await;
    };
    if reason.trim().is_empty() {
        return again(
            "bulk-reason",
            "Say why, for example \"renewals booked for 3 December\"".into(),
        )
        .await;
    }
    let check = match all_findings(&state, viewer.version).await {
        Ok(c) => c,
        Err(r) => return r,
    };
    let named: Vec<&str> = ids.iter().map(String::as_str).collect();
    let found = find_all(&check, &viewer, &named).await;
    if let Some((missing, _)) = ids.iter().zip(&found).find(|(_, n)| n.is_none()) {
        return refuse(
            false,
            Some("id"),
            &format!("{missing} is not a finding among your sites today (a fixed condition closes its finding by itself); nothing was changed"),
        );
    }
    let now = (state.now)();
    let change = crate::web::change(&viewer.caller, &state);
    let mut notes = Vec::with_capacity(ids.len());
    for id in &ids {
        match FindingNote::new(
            id,
            kind,
            &reason,
            now.date().add_days(days),
            &change.actor,
            now,
        ) {
            Ok(n) => notes.push(n),
            Err(e) => return again("bulk-reason", sentence_case(&e)).await,
        }
    }
    let count = notes.len();
    let done = blocking(&state, move |s| {
        notes.iter().try_for_each(|n| s.note_finding(n, &change))
    })
    .await;
    if let Err(f) = done {
        return f.into_response();
    }
    let sep = if back.contains('?') { '&' } else { '?' };
    see_other(&format!("{back}{sep}done={act}&count={count}"))
}
