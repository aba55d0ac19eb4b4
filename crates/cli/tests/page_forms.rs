//! A page's form that arrives in a shape Cardwatch cannot read — a name sent twice, a field
//! missing, a body that is not a web form, or no body at all — is answered with a page in the
//! layout, its NHS.UK error summary saying what went wrong and how to send it again, with status
//! 400, never axum's plain-text rejection; and nothing is changed. The import page's upload, sent
//! as anything but an upload, gets the import page again with its error summary.
//!
//! A form read well but holding a value a person typed wrong — a number as words, an unknown
//! site code, an empty reason, a password too short — gets its own page again with status 400:
//! the error summary linking to the field, the field's own error message named in its
//! aria-describedby, everything typed kept (never a password), and nothing changed or audited.

mod common;

use common::{
    active_card, body_json, csrf_of, get_as, request, scratch_db, send_with, serve_demo_signed_in,
    shown, stop,
};

/// The response's body.
fn body(response: &str) -> &str {
    response.split_once("\r\n\r\n").map_or("", |(_, b)| b)
}

/// The response is a page in the layout: HTML, with the NHS.UK header and the error summary
/// saying `says`.
fn refused_page(what: &str, status: u16, response: &str, says: &str) {
    assert_eq!(status, 400, "{what}: {response}");
    let head = response.split("\r\n\r\n").next().unwrap_or_default();
    assert!(
        head.to_ascii_lowercase()
            .contains("content-type: text/html; charset=utf-8"),
        "{what}: not a page: {head}"
    );
    let page = body(response);
    assert!(
        page.contains("nhsuk-header"),
        "{what}: not in the layout: {page}"
    );
    assert!(
        page.contains("nhsuk-error-summary") && page.contains("There is a problem"),
        "{what}: no error summary: {page}"
    );
    assert!(page.contains(says), "{what}: does not say {says:?}: {page}");
}

#[test]
fn bad_forms_answer_a_page_and_change_nothing() {
    let (_dir, db) = scratch_db();
    let (child, addr, cookie) = serve_demo_signed_in(&db, "1");
    let (status, users) = get_as(&addr, "/admin/users", &cookie);
    assert_eq!(status, 200, "{users}");
    let c = csrf_of(&users);

    // Signing out with the token sent twice: refused, and the session still signs in.
    let (status, r) = request(
        &addr,
        "POST",
        "/logout",
        Some(&cookie),
        Some(&format!("csrf={c}&csrf={c}")),
    );
    refused_page(
        "sign out, csrf twice",
        status,
        &r,
        "The form sent “csrf” more than once",
    );
    assert!(
        body(&r).contains("Sign out"),
        "signed in as the caller: {r}"
    );
    assert_eq!(get_as(&addr, "/account", &cookie).0, 200, "still signed in");

    // Disabling an operator named twice (the two names differ): neither is disabled. The page
    // links back to where the form came from.
    let (status, r) = send_with(
        &addr,
        "POST",
        "/admin/users/disable",
        &[
            ("Cookie", cookie.as_str()),
            ("Referer", &format!("http://{addr}/admin/users")),
        ],
        Some((
            "application/x-www-form-urlencoded",
            &format!("csrf={c}&username=demo&username=someone"),
        )),
    );
    refused_page(
        "disable, username twice",
        status,
        &r,
        "The form sent “username” more than once",
    );
    assert!(
        body(&r).contains("href=\"/admin/users\""),
        "a link back to the page: {r}"
    );
    assert_eq!(
        get_as(&addr, "/admin/users", &cookie).0,
        200,
        "demo not disabled"
    );

    // A password change sent as JSON: not a form.
    let (status, r) = send_with(
        &addr,
        "POST",
        "/account/password",
        &[("Cookie", cookie.as_str())],
        Some((
            "application/json",
            &format!(r#"{{"csrf":"{c}","current":"x","new":"y"}}"#),
        )),
    );
    refused_page(
        "password as JSON",
        status,
        &r,
        "The form arrived as “application/json”, not as a web form",
    );

    // A token revoked with no body at all.
    let (status, r) = send_with(
        &addr,
        "POST",
        "/admin/agents/revoke",
        &[("Cookie", cookie.as_str())],
        None,
    );
    refused_page(
        "revoke, no body",
        status,
        &r,
        "The form arrived with nothing to say what it holds",
    );

    // Signing in without a password: the page, for someone not signed in.
    let (status, r) = request(&addr, "POST", "/login", None, Some("username=demo"));
    refused_page(
        "sign in, no password",
        status,
        &r,
        "The form arrived without its “password” field",
    );
    assert!(!body(&r).contains("Sign out"), "nobody is signed in: {r}");

    stop(child);
}

#[test]
fn import_without_an_upload_answers_the_import_page() {
    let (_dir, db) = scratch_db();
    let (child, addr, cookie) = serve_demo_signed_in(&db, "1");
    let (status, page) = get_as(&addr, "/admin/import", &cookie);
    assert_eq!(status, 200, "{page}");
    let c = csrf_of(&page);

    for (what, sent) in [
        (
            "a plain form",
            Some((
                "application/x-www-form-urlencoded",
                format!("csrf={c}&check=yes&files=practices.csv"),
            )),
        ),
        ("no body", None),
    ] {
        let (status, r) = send_with(
            &addr,
            "POST",
            "/admin/import",
            &[("Cookie", cookie.as_str())],
            sent.as_ref().map(|(k, b)| (*k, b.as_str())),
        );
        refused_page(
            what,
            status,
            &r,
            "Nothing was imported: the files did not arrive as an upload.",
        );
        let page = body(&r);
        assert!(
            page.contains("Choose one or more files here and select Import"),
            "{what}: says what to do: {page}"
        );
        // The import page itself, its error linked to the files box and the form there.
        assert!(page.contains("href=\"#files\""), "{what}: {page}");
        assert!(page.contains("action=\"/admin/import\""), "{what}: {page}");
        assert!(page.contains("nhsuk-form-group--error"), "{what}: {page}");
        assert!(!page.contains("Imported, and recorded"), "{what}: {page}");
    }
    stop(child);
}

/// A form body, every value percent-encoded.
fn encoded(pairs: &[(&str, &str)]) -> String {
    pairs
        .iter()
        .map(|(k, v)| {
            let v: String = v
                .bytes()
                .map(|b| match b {
                    b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' => {
                        (b as char).to_string()
                    }
                    _ => format!("%{b:02X}"),
                })
                .collect();
            format!("{k}={v}")
        })
        .collect::<Vec<_>>()
        .join("&")
}

/// The opening tag of the control whose id is `id` (input, select or textarea).
fn control<'a>(page: &'a str, id: &str) -> &'a str {
    let at = page
        .find(&format!(" id=\"{id}\""))
        .unwrap_or_else(|| panic!("no control {id}: {page}"));
    let start = page[..at].rfind('<').expect("a tag");
    let end = at + page[at..].find('>').expect("the tag's end");
    &page[start..=end]
}

/// The answer is the form's own page refusing the field `id`: status 400, the error summary
/// (an alert) linking to the field and saying `says`, the field's own error message, the control
/// marked in red and described by its message. Returns the page.
fn refused_field(what: &str, (status, response): (u16, String), id: &str, says: &str) -> String {
    assert_eq!(status, 400, "{what}: {response}");
    let page = body(&response).to_owned();
    assert!(
        page.contains("nhsuk-header"),
        "{what}: not in the layout: {page}"
    );
    let summary = page
        .split("class=\"nhsuk-error-summary\"")
        .nth(1)
        .unwrap_or_else(|| panic!("{what}: no error summary: {page}"));
    let summary = &summary[..summary.find("</div>\n</div>").unwrap_or(summary.len())];
    assert!(
        summary.contains("role=\"alert\"") && summary.contains("nhsuk-error-summary__title"),
        "{what}: the summary is not an alert: {summary}"
    );
    assert!(
        summary.contains(&format!("href=\"#{id}\"")) && shown(summary, says),
        "{what}: the summary does not link {id} saying {says:?}: {summary}"
    );
    let error = page
        .split(&format!("class=\"nhsuk-error-message\" id=\"{id}-error\">"))
        .nth(1)
        .unwrap_or_else(|| panic!("{what}: no error message on {id}: {page}"));
    let error = &error[..error.find("</span>\n").unwrap_or(error.len())];
    assert!(
        shown(error, says),
        "{what}: the field's message does not say {says:?}: {error}"
    );
    let tag = control(&page, id);
    assert!(tag.contains("--error\""), "{what}: {id} not marked: {tag}");
    let described = tag
        .split("aria-describedby=\"")
        .nth(1)
        .and_then(|r| r.split('"').next())
        .unwrap_or_else(|| panic!("{what}: {id} not described: {tag}"));
    assert!(
        described.split(' ').any(|d| d == format!("{id}-error")),
        "{what}: {id} not described by its message: {tag}"
    );
    assert!(
        page.contains("class=\"nhsuk-form-group nhsuk-form-group--error\""),
        "{what}: no group in red: {page}"
    );
    page
}

/// The text box `id` holds `typed`, escaped.
fn kept(what: &str, page: &str, id: &str, typed: &str) {
    let tag = control(page, id);
    let value = tag
        .split(" value=\"")
        .nth(1)
        .and_then(|r| r.split('"').next())
        .unwrap_or_else(|| panic!("{what}: {id} has no value: {tag}"));
    assert!(
        shown(value, typed) && (value.len() >= typed.len()),
        "{what}: {id} does not keep {typed:?}: {tag}"
    );
}

/// The changes the demo's operator has made, as the audit log counts them.
fn changes_by_demo(addr: &str, cookie: &str) -> usize {
    let (status, r) = get_as(addr, "/api/v1/audit?actor=web:demo&limit=1000", cookie);
    assert_eq!(status, 200, "{r}");
    body_json(&r)["records"].as_array().map_or(0, Vec::len)
}

/// POSTs a form with the session.
fn post(addr: &str, cookie: &str, path: &str, pairs: &[(&str, &str)]) -> (u16, String) {
    request(addr, "POST", path, Some(cookie), Some(&encoded(pairs)))
}

#[test]
fn agent_token_form_keeps_what_was_typed() {
    let (_dir, db) = scratch_db();
    let (child, addr, cookie) = serve_demo_signed_in(&db, "1");
    let (_, page) = get_as(&addr, "/admin/agents", &cookie);
    let c = csrf_of(&page);
    let before = changes_by_demo(&addr, &cookie);
    let token = |site: &str, hours: &str| {
        post(
            &addr,
            &cookie,
            "/admin/agents/token",
            &[("csrf", &c), ("site", site), ("hours", hours)],
        )
    };
    let page = refused_field(
        "hours as words",
        token("A10000", "a day"),
        "hours",
        "Enter the hours until the token expires as a whole number from 1 to 720, like 24",
    );
    kept("hours as words", &page, "hours", "a day");
    kept("hours as words", &page, "site", "A10000");
    assert!(!page.contains("shown only now"), "no token: {page}");
    let page = refused_field(
        "a site code with spaces",
        token("A1 <b>", "48"),
        "site",
        "Enter the site code (ODS code) as 1 to 9 letters and numbers, like A81001",
    );
    kept("a site code with spaces", &page, "site", "A1 <b>");
    kept("a site code with spaces", &page, "hours", "48");
    let page = refused_field(
        "a site Cardwatch does not know",
        token("Z99999", "48"),
        "site",
        "There is no site Z99999 in Cardwatch",
    );
    kept("a site Cardwatch does not know", &page, "site", "Z99999");
    assert_eq!(changes_by_demo(&addr, &cookie), before, "no token made");
    stop(child);
}

#[test]
fn account_forms_keep_what_was_typed_but_never_a_password() {
    let (_dir, db) = scratch_db();
    let (child, addr, cookie) = serve_demo_signed_in(&db, "1");
    let (_, page) = get_as(&addr, "/account", &cookie);
    let c = csrf_of(&page);
    let before = changes_by_demo(&addr, &cookie);

    let page = refused_field(
        "the current password wrong",
        post(
            &addr,
            &cookie,
            "/account/password",
            &[
                ("csrf", &c),
                ("current", "not-my-pass"),
                ("new", "a long new passphrase"),
            ],
        ),
        "current",
        "The current password is wrong",
    );
    assert!(
        !page.contains("not-my-pass") && !page.contains("a long new passphrase"),
        "a password is never shown again: {page}"
    );
    assert!(
        !control(&page, "current").contains("value=") && !control(&page, "new").contains("value="),
        "{page}"
    );

    let page = refused_field(
        "a feed for a site code with a space",
        post(
            &addr,
            &cookie,
            "/account/feeds",
            &[
                ("csrf", &c),
                ("name", "Reception's calendar"),
                ("site", "A1 0000"),
            ],
        ),
        "feed-site",
        "Enter the site code (ODS code) as 1 to 9 letters and numbers, like A81001",
    );
    kept("feed", &page, "feed-site", "A1 0000");
    kept("feed", &page, "feed-name", "Reception's calendar");
    assert!(!page.contains("shown only now"), "no feed: {page}");

    let page = refused_field(
        "a digest to half an address",
        post(
            &addr,
            &cookie,
            "/account/digest",
            &[
                ("csrf", &c),
                ("email", "pat@"),
                ("frequency", "weekly"),
                ("min_severity", "urgent"),
                ("quiet", "20:00-07:00"),
            ],
        ),
        "digest-email",
        "is not an email address: enter one like pat.jones@nhs.net",
    );
    kept("digest email", &page, "digest-email", "pat@");
    refused_field(
        "a digest to no address",
        post(
            &addr,
            &cookie,
            "/account/digest",
            &[
                ("csrf", &c),
                ("email", ""),
                ("frequency", "weekly"),
                ("min_severity", "urgent"),
            ],
        ),
        "digest-email",
        "Enter the email address the digest goes to, like pat.jones@nhs.net",
    );
    kept("digest email", &page, "digest-quiet", "20:00-07:00");
    assert!(
        page.contains("<option value=\"weekly\" selected>"),
        "the frequency chosen is kept: {page}"
    );
    let page = refused_field(
        "quiet hours as a word",
        post(
            &addr,
            &cookie,
            "/account/digest",
            &[
                ("csrf", &c),
                ("email", "pat@nhs.net"),
                ("frequency", "daily"),
                ("min_severity", "urgent"),
                ("quiet", "tomorrow"),
            ],
        ),
        "digest-quiet",
        "Enter the quiet hours as two times of day, HH:MM-HH:MM, like 20:00-07:00",
    );
    kept("quiet hours", &page, "digest-quiet", "tomorrow");
    kept("quiet hours", &page, "digest-email", "pat@nhs.net");
    assert_eq!(changes_by_demo(&addr, &cookie), before, "nothing changed");
    stop(child);
}

#[test]
fn card_status_form_keeps_the_reason_and_changes_nothing() {
    let (_dir, db) = scratch_db();
    let (child, addr, cookie) = serve_demo_signed_in(&db, "1");
    let card = active_card(&db);
    let path = format!("/cards/{card}");
    let (_, page) = get_as(&addr, &path, &cookie);
    let c = csrf_of(&page);
    let before = changes_by_demo(&addr, &cookie);
    let change = |reason: &str| {
        post(
            &addr,
            &cookie,
            &format!("{path}/status"),
            &[("csrf", &c), ("status", "locked"), ("reason", reason)],
        )
    };
    let page = refused_field(
        "no reason",
        change("   "),
        "reason",
        "Say why the status changes, in 1 to 200 characters",
    );
    assert!(
        page.contains("<option value=\"locked\" selected>"),
        "the status chosen is kept: {page}"
    );
    let long = "left on the bus & not found ".repeat(8);
    let page = refused_field(
        "a reason too long",
        change(&long),
        "reason",
        "Say why the status changes, in 1 to 200 characters",
    );
    kept("a reason too long", &page, "reason", &long);
    assert_eq!(changes_by_demo(&addr, &cookie), before, "nothing changed");
    let (_, page) = get_as(&addr, &path, &cookie);
    assert!(!page.contains("The card is now locked"), "{page}");
    stop(child);
}

#[test]
fn access_review_decision_keeps_the_reason_on_its_row() {
    let (_dir, db) = scratch_db();
    let (child, addr, cookie) = serve_demo_signed_in(&db, "1");
    let (status, page) = get_as(&addr, "/reviews?show=all", &cookie);
    assert_eq!(status, 200, "{page}");
    let hidden = |name: &str| {
        page.split(&format!("name=\"{name}\" value=\""))
            .nth(1)
            .and_then(|r| r.split('"').next())
            .unwrap_or_else(|| panic!("no {name}: {page}"))
            .to_owned()
    };
    let (c, holder, ods, role) = (
        csrf_of(&page),
        hidden("holder_uuid"),
        hidden("ods_code"),
        hidden("role_code"),
    );
    let before = changes_by_demo(&addr, &cookie);
    let long = "x".repeat(201);
    let r = post(
        &addr,
        &cookie,
        "/reviews",
        &[
            ("csrf", &c),
            ("holder_uuid", &holder),
            ("ods_code", &ods),
            ("role_code", &role),
            ("decision", "remove"),
            ("reason", &long),
        ],
    );
    let id = body(&r.1)
        .split("href=\"#why-")
        .nth(1)
        .and_then(|r| r.split('"').next())
        .map(|n| format!("why-{n}"))
        .unwrap_or_else(|| panic!("the summary links the row's reason: {}", r.1));
    let page = refused_field(
        "a reason too long",
        r,
        &id,
        "Say why you keep or remove this role, in 1 to 200 characters",
    );
    kept("a reason too long", &page, &id, &long);
    assert_eq!(changes_by_demo(&addr, &cookie), before, "nothing changed");
    stop(child);
}

#[test]
fn add_operator_form_keeps_what_was_typed() {
    let (_dir, db) = scratch_db();
    let (child, addr, cookie) = serve_demo_signed_in(&db, "1");
    let (_, page) = get_as(&addr, "/admin/users", &cookie);
    let c = csrf_of(&page);
    let before = changes_by_demo(&addr, &cookie);
    let page = refused_field(
        "an organisation code with punctuation",
        post(
            &addr,
            &cookie,
            "/admin/users/add",
            &[
                ("csrf", &c),
                ("username", "pat.jones@nhs.net"),
                ("name", "Pat O'Neill"),
                ("role", "practice_manager"),
                ("organisations", "A10000 B8-2001"),
            ],
        ),
        "organisations",
        "“B8-2001” is not an ODS code",
    );
    kept("organisations", &page, "organisations", "A10000 B8-2001");
    kept("organisations", &page, "username", "pat.jones@nhs.net");
    kept("organisations", &page, "name", "Pat O'Neill");
    assert!(
        page.contains("<option value=\"practice_manager\" selected>"),
        "the role chosen is kept: {page}"
    );
    assert!(
        !page.contains("pat.jones@nhs.net</td>"),
        "not added: {page}"
    );
    assert_eq!(changes_by_demo(&addr, &cookie), before, "nothing changed");
    stop(child);
}

/// A filter asked for wrong: what it is, the address, the box refused and what it says, and
/// every box kept as typed.
type FilterCase = (
    &'static str,
    &'static str,
    &'static str,
    &'static str,
    &'static [(&'static str, &'static str)],
);

#[test]
fn filter_forms_answer_their_page_with_what_was_typed() {
    let (_dir, db) = scratch_db();
    let (child, addr, cookie) = serve_demo_signed_in(&db, "1");
    let before = changes_by_demo(&addr, &cookie);
    let cases: [FilterCase; 6] = [
        (
            "incidents at a site code with a space",
            "/incidents?status=resolved&site=A1+0000",
            "site",
            "Enter the practice or site code (ODS code) as 1 to 9 letters and numbers, like A81001",
            &[("site", "A1 0000")],
        ),
        (
            "people sorted by a column that is not there",
            "/estate/people?q=Smi&sort=shoe_size",
            "sort",
            "sort by one of",
            &[("q", "Smi")],
        ),
        (
            "the audit log with an invisible character",
            "/audit?entity=cards&actor=de%00mo",
            "actor",
            "Changed by holds an invisible character (NUL)",
            &[("entity", "cards")],
        ),
        (
            "reports for days as words",
            "/reports?days=a+month",
            "days",
            "Enter how many days back from today as a whole number from 1 to 730, like 90",
            &[("days", "a month")],
        ),
        (
            "the migration plan with a fraction",
            "/plan/migration?per_day=2.5",
            "per_day",
            "Enter the computers IT can move in a working day as a whole number from 1 to 100000, like 20",
            &[("per_day", "2.5")],
        ),
        (
            "the renewal plan with a capacity as words",
            "/plan?capacity=abc",
            "capacity",
            "Enter the renewals the RA team can do a working day as a whole number",
            &[("capacity", "abc")],
        ),
    ];
    for (what, path, id, says, boxes) in cases {
        let page = refused_field(what, get_as(&addr, path, &cookie), id, says);
        for (box_id, typed) in boxes {
            kept(what, &page, box_id, typed);
        }
        if path.starts_with("/incidents") {
            assert!(
                page.contains("<option value=\"resolved\" selected>"),
                "the outcome chosen is kept: {page}"
            );
        }
    }
    assert_eq!(changes_by_demo(&addr, &cookie), before, "nothing changed");
    stop(child);
}

#[test]
fn triage_forms_keep_what_was_typed() {
    let (_dir, db) = scratch_db();
    let (child, addr, cookie) = serve_demo_signed_in(&db, "1");
    let before = changes_by_demo(&addr, &cookie);
    let page = refused_field(
        "nothing typed",
        get_as(&addr, "/triage?text=+&site=A10000", &cookie),
        "text",
        "Say what is happening, in the clinician",
    );
    kept("nothing typed", &page, "site", "A10000");
    let page = refused_field(
        "a site code with punctuation",
        get_as(
            &addr,
            "/triage?text=card+will+not+sign&site=A1%2F0000&hostname=RECEPTION-1",
            &cookie,
        ),
        "site",
        "Enter the practice",
    );
    kept("site", &page, "site", "A1/0000");
    kept("site", &page, "hostname", "RECEPTION-1");
    assert!(
        page.contains("card will not sign</textarea>"),
        "the description is kept: {page}"
    );
    assert!(
        page.contains("<details class=\"nhsuk-details\" open>"),
        "where it is happening is shown open: {page}"
    );
    assert_eq!(changes_by_demo(&addr, &cookie), before, "nothing changed");
    stop(child);
}
