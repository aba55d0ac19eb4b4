//! Importing estate files from the browser (`/admin/import`): the same validated, all-or-nothing,
//! audited import as `cardwatch import`, for administrators (an import can touch any
//! organisation's records, so only those who see every organisation run one). "Check only"
//! validates without writing. A refused file lists every bad row with its line and column.

use std::fmt::Write as _;

use axum::extract::{Multipart, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use cardwatch_core::access::Permission;
use cardwatch_store::{ImportInput, ImportOptions, ImportReport, StoreError};

use crate::web::auth::Caller;
use crate::web::change;
use crate::web::scope::viewer;
use crate::web::{blocking, escape, layout};
use crate::AppState;

/// The largest upload the page takes; bigger estates go through `cardwatch import`.
pub(crate) const MAX_UPLOAD_BYTES: usize = 32 << 20;

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
        Ok(c) => render(&c, StatusCode::OK, ""),
        Err(r) => r,
    }
}

fn render(caller: &Caller, status: StatusCode, outcome: &str) -> Response {
    let body = format!(
        r#"<h1 class="nhsuk-heading-l">Import estate files</h1>{outcome}
<p class="nhsuk-body">CSV or JSON files as <code>docs/IMPORT.md</code> describes them (organisations, sites, people, cards, certificates, positions, workstations, software, readers, stock, lockouts), each known by its header; and NHS England's ODS extracts <code>epraccur.csv</code> and <code>ebranchs.csv</code> as published, or an ORD API record of one practice. All of them go in, or — if any row is bad — none, and every bad row is listed. Importing the same file again changes nothing. Up to {} MB here; larger estates with <code>cardwatch import</code>.</p>
<form method="post" action="/admin/import" enctype="multipart/form-data" novalidate><input type="hidden" name="csrf" value="{}">
<div class="nhsuk-form-group"><label class="nhsuk-label" for="files">Files</label><input class="nhsuk-file-upload" id="files" name="files" type="file" multiple accept=".csv,.json,text/csv,application/json"></div>
<div class="nhsuk-checkboxes__item nhsuk-u-margin-bottom-4"><input class="nhsuk-checkboxes__input" id="check" name="check" type="checkbox" value="yes"><label class="nhsuk-label nhsuk-checkboxes__label" for="check">Check only: write nothing</label></div>
<button class="nhsuk-button" type="submit">Import</button></form>"#,
        MAX_UPLOAD_BYTES >> 20,
        escape(&caller.csrf)
    );
    (
        status,
        layout::page("Import estate files", Some(caller), &body),
    )
        .into_response()
}

/// What an import did, as a table.
fn report(r: &ImportReport) -> String {
    let mut rows = String::new();
    for f in &r.files {
        let _ = write!(
            rows,
            "<tr class=\"nhsuk-table__row\"><td class=\"nhsuk-table__cell\">{}</td><td class=\"nhsuk-table__cell\">{}</td><td class=\"nhsuk-table__cell\">{}</td><td class=\"nhsuk-table__cell\">{}</td><td class=\"nhsuk-table__cell\">{}</td><td class=\"nhsuk-table__cell\">{}</td></tr>",
            escape(&f.file),
            f.kind.name(),
            f.rows,
            f.created,
            f.updated,
            f.unchanged
        );
    }
    let said = if r.checked_only {
        "Checked: every row is valid. Nothing was written."
    } else {
        "Imported, and recorded in the audit log."
    };
    format!(
        "<div class=\"nhsuk-inset-text\" role=\"alert\"><p class=\"nhsuk-body\">{said}</p></div>\
         <table class=\"nhsuk-table\"><thead class=\"nhsuk-table__head\"><tr class=\"nhsuk-table__row\">\
         <th class=\"nhsuk-table__header\" scope=\"col\">File</th><th class=\"nhsuk-table__header\" scope=\"col\">Kind</th>\
         <th class=\"nhsuk-table__header\" scope=\"col\">Rows</th><th class=\"nhsuk-table__header\" scope=\"col\">New</th>\
         <th class=\"nhsuk-table__header\" scope=\"col\">Changed</th><th class=\"nhsuk-table__header\" scope=\"col\">Unchanged</th></tr></thead>\
         <tbody class=\"nhsuk-table__body\">{rows}</tbody></table>"
    )
}

/// Why an import was refused, as an error summary listing each problem.
fn refusal(message: &str, problems: &[String]) -> String {
    let items: String = problems
        .iter()
        .map(|p| format!("<li>{}</li>", escape(p)))
        .collect();
    format!(
        "<div class=\"nhsuk-error-summary\" role=\"alert\"><h2 class=\"nhsuk-error-summary__title\">{}</h2>\
         <div class=\"nhsuk-error-summary__body\"><ul class=\"nhsuk-list nhsuk-error-summary__list\">{items}</ul></div></div>",
        escape(message)
    )
}

/// `POST /admin/import` (multipart: `csrf`, `check`, `files`).
pub(crate) async fn import(
    State(state): State<AppState>,
    caller: Caller,
    mut form: Multipart,
) -> Response {
    let caller = match admin(&state, caller).await {
        Ok(c) => c,
        Err(r) => return r,
    };
    let (mut csrf, mut check, mut inputs) = (String::new(), false, Vec::new());
    loop {
        let field = match form.next_field().await {
            Ok(Some(f)) => f,
            Ok(None) => break,
            Err(e) => {
                let m = refusal(
                    "The upload could not be read",
                    &[format!(
                        "{} — files here are limited to {} MB",
                        e.body_text(),
                        MAX_UPLOAD_BYTES >> 20
                    )],
                );
                return render(&caller, e.status(), &m);
            }
        };
        let name = field.name().unwrap_or_default().to_owned();
        let file = field.file_name().map(str::to_owned);
        let bytes = match field.bytes().await {
            Ok(b) => b,
            Err(e) => {
                let m = refusal("The upload could not be read", &[e.body_text()]);
                return render(&caller, e.status(), &m);
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
        let m = refusal("Choose at least one file", &["no file was sent".to_owned()]);
        return render(&caller, StatusCode::BAD_REQUEST, &m);
    }
    let change = change(&caller, &state);
    let options = ImportOptions {
        check_only: check,
        ..ImportOptions::default()
    };
    let done = blocking(&state, move |s| Ok(s.import(&inputs, &options, &change))).await;
    match done {
        Ok(Ok(r)) => render(&caller, StatusCode::OK, &report(&r)),
        Ok(Err(StoreError::Rejected(problems))) => {
            let list: Vec<String> = problems.iter().map(ToString::to_string).collect();
            let m = refusal(
                &format!(
                    "{} problem(s): nothing was imported — correct the rows and import again",
                    list.len()
                ),
                &list,
            );
            render(&caller, StatusCode::BAD_REQUEST, &m)
        }
        Ok(Err(e @ (StoreError::Invalid(_) | StoreError::Url(_)))) => render(
            &caller,
            StatusCode::BAD_REQUEST,
            &refusal("The import was refused", &[e.to_string()]),
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
