//! A page's form that arrives in a shape Cardwatch cannot read — a name sent twice, a field
//! missing, a body that is not a web form, or no body at all — is answered with a page in the
//! layout, its NHS.UK error summary saying what went wrong and how to send it again, with status
//! 400, never axum's plain-text rejection; and nothing is changed. The import page's upload, sent
//! as anything but an upload, gets the import page again with its error summary.

mod common;

use common::{csrf_of, get_as, request, scratch_db, send_with, serve_demo_signed_in, stop};

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
