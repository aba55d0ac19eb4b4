//! Importing estate files from the browser (`/admin/import`): the same validated, all-or-nothing,
//! audited import as `cardwatch import`, for administrators (an import can touch any
//! organisation's records, so only those who see every organisation run one). "Check only"
//! validates without writing. A refused file lists every bad row with its line and column.

use std::sync::Arc;

use axum::extract::multipart::MultipartRejection;
use axum::extract::{Multipart, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use cardwatch_core::access::Permission;
use cardwatch_core::cim::CimMapping;
use cardwatch_core::records::Kind;
use cardwatch_store::{ImportInput, ImportOptions, ImportReport, StoreError};

use crate::web::auth::Caller;
use crate::web::change;
use crate::web::counted;
use crate::web::scope::viewer;
use crate::web::{blocking, layout};
use crate::AppState;

/// The largest upload the page takes; bigger estates go through `cardwatch import`.
pub(crate) const MAX_UPLOAD_BYTES: usize = 32 << 20;

/// An operator's Care Identity Management mapping, laid over the shipped one, and the file it
/// was read from (checked when the configuration is read, so a server never starts with a bad
/// one).
#[derive(Clone, Debug)]
pub struct Mapping {
    /// The mapping file, as the configuration names it.
    pub file: String,
    /// The shipped mapping with the file laid over it.
    pub mapping: Arc<CimMapping>,
}

/// Which mapping the page reads Care Identity Management exports with, in a sentence.
fn mapping_in_use(mapping: Option<&Mapping>) -> String {
    match mapping {
        Some(m) => format!(
            "Care Identity Management exports are read with the mapping in {} (the configuration's [import] mapping), laid over the shipped one.",
            m.file
        ),
        None => "Care Identity Management exports are read with the shipped mapping (knowledge/cim-mapping.toml), whose header names are unconfirmed: if your exports' headers differ, name a mapping file in the configuration's [import] mapping (docs/IMPORT.md).".to_owned(),
    }
}

async fn admin(state: &AppState, caller: Caller) -> Result<Caller, Response> {
    let v = viewer(state, caller, Permission::EditEstate, false).await?;
    if !v.caller.user.user.role.sees_everything() {
        return Err((
            StatusCode::FORBIDDEN,
            "an import can change any organisation's records: an administrator runs it\n",
        )
            .into_response());
    }
    Ok(v.caller)
}

/// `GET /admin/import`
pub(crate) async fn page(State(state): State<AppState>, caller: Caller) -> Response {
    match admin(&state, caller).await {
        Ok(c) => render(&state, &c, StatusCode::OK, Outcome::default()),
        Err(r) => r,
    }
}

#[derive(askama::Template)]
#[template(path = "admin_import.html")]
struct ImportPage<'a> {
    csrf: &'a str,
    max_mb: usize,
    mapping: String,
    check: bool,
    refused: String,
    problems: Vec<String>,
    report: Option<Report>,
}

/// What the page says after a POST: what an import did, or why it was refused (in its error
/// summary), and whether "Check only" was ticked, so it stays ticked.
#[derive(Default)]
struct Outcome {
    check: bool,
    refused: String,
    problems: Vec<String>,
    report: Option<Report>,
}

struct Report {
    said: &'static str,
    caption: String,
    checked_only: bool,
    files: Vec<FileRow>,
}

struct FileRow {
    file: String,
    held: String,
    outcome: String,
    notes: Vec<String>,
}

fn render(state: &AppState, caller: &Caller, status: StatusCode, outcome: Outcome) -> Response {
    let page = ImportPage {
        csrf: &caller.csrf,
        max_mb: MAX_UPLOAD_BYTES >> 20,
        mapping: mapping_in_use(state.checks.import_mapping.as_ref()),
        check: outcome.check,
        refused: outcome.refused,
        problems: outcome.problems,
        report: outcome.report,
    };
    // Rendering only fails on a formatter error writing into a String, which cannot happen.
    let body = askama::Template::render(&page).unwrap_or_default();
    (
        status,
        layout::page("Import estate files", Some(caller), &body),
    )
        .into_response()
}

/// What a kind of record is called, one and many.
fn record_words(kind: Kind) -> (&'static str, &'static str) {
    match kind {
        Kind::Organisations => ("organisation", "organisations"),
        Kind::Sites => ("site", "sites"),
        Kind::People => ("person", "people"),
        Kind::Cards => ("card", "cards"),
        Kind::Certificates => ("certificate", "certificates"),
        Kind::Positions => ("role held", "roles held"),
        Kind::Workstations => ("workstation", "workstations"),
        Kind::Software => ("software version", "software versions"),
        Kind::Readers => ("card reader", "card readers"),
        Kind::Stock => ("spare stock count", "spare stock counts"),
        Kind::Lockouts => ("lockout", "lockouts"),
        Kind::Integrations => ("integration", "integrations"),
        Kind::IntegrationCards => ("integration's card", "integrations' cards"),
    }
}

/// "a", "a and b", "a, b and c".
fn and_list(parts: &[String]) -> String {
    match parts {
        [] => String::new(),
        [one] => one.clone(),
        [rest @ .., last] => format!("{} and {last}", rest.join(", ")),
    }
}

/// What an import did (or, checked only, would do), a row per file in words.
fn report(r: &ImportReport) -> Report {
    let files = r
        .files
        .iter()
        .map(|f| {
            let (one, many) = record_words(f.kind);
            let (added, changed) = if r.checked_only {
                ("to add", "to change")
            } else {
                ("added", "changed")
            };
            let parts: Vec<String> = [
                (f.created, added),
                (f.updated, changed),
                (f.unchanged, "already up to date"),
            ]
            .into_iter()
            .filter(|(n, _)| *n > 0)
            .map(|(n, what)| format!("{n} {what}"))
            .collect();
            let mut notes = Vec::new();
            if let Some(cim) = &f.cim_report {
                notes.push(format!(
                    "Read as Care Identity Management's “{cim}” report."
                ));
            }
            if !f.ignored.is_empty() {
                notes.push(format!("Columns not used: {}.", f.ignored.join(", ")));
            }
            FileRow {
                file: f.file.clone(),
                held: counted(f.rows, one, many),
                outcome: if parts.is_empty() {
                    "Nothing".to_owned()
                } else {
                    and_list(&parts)
                },
                notes,
            }
        })
        .collect::<Vec<_>>();
    let n = files.len() as u64;
    Report {
        said: if r.checked_only {
            "Checked: every row is valid. Nothing was written."
        } else {
            "Imported, and recorded in the audit log."
        },
        caption: if r.checked_only {
            format!("{} checked", counted(n, "file", "files"))
        } else {
            format!("{} imported", counted(n, "file", "files"))
        },
        checked_only: r.checked_only,
        files,
    }
}

/// Why an import was refused: a sentence and each problem, for the error summary.
fn refusal(check: bool, message: String, problems: Vec<String>) -> Outcome {
    Outcome {
        check,
        refused: message,
        problems,
        report: None,
    }
}

/// Why a request that carried no upload was refused: the files are sent by the page's own form.
fn not_an_upload() -> Outcome {
    refusal(
        false,
        "Nothing was imported: the files did not arrive as an upload.".into(),
        vec![
            "Choose one or more files here and select Import — the request came without any files (it was not sent by this page's form)".to_owned(),
        ],
    )
}

/// `POST /admin/import` (multipart: `csrf`, `check`, `files`).
pub(crate) async fn import(
    State(state): State<AppState>,
    caller: Caller,
    form: Result<Multipart, MultipartRejection>,
) -> Response {
    let caller = match admin(&state, caller).await {
        Ok(c) => c,
        Err(r) => return r,
    };
    // A body that is no upload at all (a plain form, or nothing) has no files and no "Check
    // only" to read: the page again, saying so, with nothing written.
    let mut form = match form {
        Ok(f) => f,
        Err(_) => return render(&state, &caller, StatusCode::BAD_REQUEST, not_an_upload()),
    };
    let (mut csrf, mut check, mut inputs) = (String::new(), false, Vec::new());
    loop {
        let field = match form.next_field().await {
            Ok(Some(f)) => f,
            Ok(None) => break,
            Err(e) => {
                let m = refusal(
                    check,
                    "The upload could not be read.".into(),
                    vec![format!(
                        "{} — files here are limited to {} MB",
                        e.body_text(),
                        MAX_UPLOAD_BYTES >> 20
                    )],
                );
                return render(&state, &caller, e.status(), m);
            }
        };
        let name = field.name().unwrap_or_default().to_owned();
        let file = field.file_name().map(str::to_owned);
        let bytes = match field.bytes().await {
            Ok(b) => b,
            Err(e) => {
                let m = refusal(
                    check,
                    "The upload could not be read.".into(),
                    vec![e.body_text()],
                );
                return render(&state, &caller, e.status(), m);
            }
        };
        match (name.as_str(), file) {
            ("csrf", _) => csrf = String::from_utf8_lossy(&bytes).into_owned(),
            ("check", _) => check = !bytes.is_empty(),
            // A form sent with no file chosen carries one empty, nameless part.
            ("files", Some(f)) if !f.is_empty() => {
                inputs.push(ImportInput::bytes(f, bytes.to_vec()))
            }
            _ => {}
        }
    }
    if let Err(r) = caller.check_csrf(&csrf) {
        return r.into_response();
    }
    if inputs.is_empty() {
        let m = refusal(
            check,
            "Choose at least one file.".into(),
            vec!["No file was sent: choose one or more files to import".to_owned()],
        );
        return render(&state, &caller, StatusCode::BAD_REQUEST, m);
    }
    let change = change(&caller, &state);
    let options = ImportOptions {
        check_only: check,
        mapping: state
            .checks
            .import_mapping
            .as_ref()
            .map(|m| Arc::clone(&m.mapping)),
        ..ImportOptions::default()
    };
    let done = blocking(&state, move |s| Ok(s.import(&inputs, &options, &change))).await;
    match done {
        Ok(Ok(r)) => {
            let done = Outcome {
                check,
                report: Some(report(&r)),
                ..Outcome::default()
            };
            render(&state, &caller, StatusCode::OK, done)
        }
        Ok(Err(StoreError::Rejected(problems))) => {
            let list: Vec<String> = problems.iter().map(ToString::to_string).collect();
            let n = list.len() as u64;
            // A problem with the file as a whole (its header, its kind) is no row's to correct.
            let whole = problems
                .iter()
                .all(|p| matches!(p.at, cardwatch_store::import::Location::File));
            let what = match (whole, n) {
                (true, _) => "file",
                (false, 1) => "row",
                (false, _) => "rows",
            };
            let message = format!(
                "{}: nothing was imported — correct the {what} and import again.",
                counted(n, "problem", "problems"),
            );
            let m = refusal(check, message, list);
            render(&state, &caller, StatusCode::BAD_REQUEST, m)
        }
        Ok(Err(e @ (StoreError::Invalid(_) | StoreError::Url(_)))) => render(
            &state,
            &caller,
            StatusCode::BAD_REQUEST,
            refusal(check, "The import was refused.".into(), vec![e.to_string()]),
        ),
        Ok(Err(e)) => {
            tracing::error!(error = %e, "import from the browser failed");
            (
                StatusCode::SERVICE_UNAVAILABLE,
                "the database is not answering — see the server log\n",
            )
                .into_response()
        }
        Err(f) => f.into_response(),
    }
}
