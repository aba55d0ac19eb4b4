//! The governance, administration and account pages as operators read them: hostile text typed
//! into an operator's name, a site's contact, a review's reason, a feed's name and every filter
//! comes back escaped by askama's templates (issue 32), never as markup.

mod common;

use common::{
    cardwatch, csrf_of, get_as, ok, request, scratch_db, serve_demo_signed_in, set_cookie, shown,
    stop,
};

/// Text that breaks out of an element, out of a double- and a single-quoted attribute, and
/// carries an entity that must stay literal.
const HOSTILE: &str = "<script>alert(1)</script> \"onmouseover=\"x &amp; O'Brien";

/// HOSTILE, form-encoded, as a browser sends it typed.
const HOSTILE_SENT: &str =
    "%3Cscript%3Ealert(1)%3C%2Fscript%3E+%22onmouseover%3D%22x+%26amp%3B+O%27Brien";

/// A form body: HOSTILE as a browser sends it, other values as `common::form` writes them.
fn form(pairs: &[(&str, &str)]) -> String {
    pairs
        .iter()
        .map(|(k, v)| {
            if *v == HOSTILE {
                format!("{k}={HOSTILE_SENT}")
            } else {
                common::form(&[(k, v)])
            }
        })
        .collect::<Vec<_>>()
        .join("&")
}

/// Nothing hostile reached the page as markup, and the text is there, escaped.
fn escaped(what: &str, page: &str) {
    assert!(!page.contains("<script>alert"), "{what}: {page}");
    assert!(!page.contains("\"onmouseover="), "{what}: {page}");
    assert!(!page.contains("O'Brien"), "{what}: a bare quote: {page}");
    assert!(
        !page.contains("x &amp; O"),
        "{what}: the entity went out unescaped: {page}"
    );
    assert!(
        shown(page, HOSTILE),
        "{what}: the text is shown, escaped: {page}"
    );
}

/// Someone at `site`, from the store's export.
fn person_at(db: &str, site: &str) -> String {
    ok(&cardwatch(db, &["export", "people"]))
        .lines()
        .skip(1)
        .find(|l| l.split(',').nth(4) == Some(site))
        .and_then(|l| l.split(',').next())
        .unwrap_or_else(|| panic!("no one at {site}"))
        .to_owned()
}

#[test]
fn hostile_text_typed_by_operators_is_escaped_on_every_page_that_shows_it() {
    let (tmp, db) = scratch_db();
    let (child, addr, admin) = serve_demo_signed_in(&db, "1");
    let holder = person_at(&db, "A10000");
    let positions = tmp.path().join("positions.csv");
    std::fs::write(
        &positions,
        format!(
            "holder_uuid,ods_code,role_code,role_name,activity_codes,status,requested_on,approved_on\n\
             {holder},A10000,R8003,Health Professional Access Role,B0570,active,2024-01-02,2024-01-05\n"
        ),
    )
    .expect("write");
    ok(&cardwatch(
        &db,
        &["import", &positions.display().to_string()],
    ));
    let csrf = csrf_of(&get_as(&addr, "/account", &admin).1);
    let post = |cookie: &str, path: &str, pairs: &[(&str, &str)]| {
        request(&addr, "POST", path, Some(cookie), Some(&form(pairs)))
    };

    // An operator whose name is hostile, added from the operators' page; they sign in.
    let added = post(
        &admin,
        "/admin/users/add",
        &[
            ("csrf", &csrf),
            ("username", "hostile@nhs.net"),
            ("name", HOSTILE),
            ("role", "practice_manager"),
            ("organisations", "A10000"),
        ],
    );
    assert_eq!(added.0, 200, "{}", added.1);
    escaped("the operator added", &added.1);
    let password = added
        .1
        .split("shown only now: ")
        .nth(1)
        .and_then(|r| r.split(' ').next())
        .expect("the new password")
        .to_owned();
    let signed = request(
        &addr,
        "POST",
        "/login",
        None,
        Some(&form(&[
            ("username", "hostile@nhs.net"),
            ("password", &password),
        ])),
    );
    assert_eq!(signed.0, 303, "{}", signed.1);
    let hostile = format!(
        "cw_session={}",
        set_cookie(&signed.1, "cw_session").expect("cookie")
    );
    // A user name typed at sign-in is kept on the refusal, escaped.
    let refused_sign_in = request(
        &addr,
        "POST",
        "/login",
        None,
        Some(&form(&[("username", HOSTILE), ("password", "wrong")])),
    );
    assert_eq!(refused_sign_in.0, 401);
    escaped("sign-in refused", &refused_sign_in.1);
    let refused_user = post(
        &admin,
        "/admin/users/add",
        &[
            ("csrf", &csrf),
            ("username", "x@nhs.net"),
            ("name", "x"),
            ("role", "practice_manager"),
            ("organisations", HOSTILE),
        ],
    );
    assert_eq!(refused_user.0, 400, "{}", refused_user.1);
    assert!(
        !refused_user.1.contains("<script>alert"),
        "{}",
        refused_user.1
    );
    assert!(
        !refused_user.1.contains("\"onmouseover="),
        "{}",
        refused_user.1
    );

    // A site's contact, a review's reason, a feed's name.
    let contact = post(
        &admin,
        "/admin/sites/contacts",
        &[
            ("csrf", &csrf),
            ("site", "A10000"),
            ("role", HOSTILE),
            ("name", HOSTILE),
            ("phone", "01632 960000"),
        ],
    );
    assert_eq!(contact.0, 200, "{}", contact.1);
    let kept = post(
        &admin,
        "/reviews",
        &[
            ("csrf", &csrf),
            ("holder_uuid", &holder),
            ("ods_code", "A10000"),
            ("role_code", "R8003"),
            ("decision", "keep"),
            ("reason", HOSTILE),
        ],
    );
    assert_eq!(kept.0, 200, "{}", kept.1);
    let odd = post(
        &admin,
        "/reviews",
        &[
            ("csrf", &csrf),
            ("holder_uuid", &holder),
            ("ods_code", "A10000"),
            ("role_code", "R8003"),
            ("decision", "maybe"),
            ("reason", HOSTILE),
        ],
    );
    let hostile_csrf = csrf_of(&get_as(&addr, "/account", &hostile).1);
    let feed = post(
        &hostile,
        "/account/feeds",
        &[("csrf", &hostile_csrf), ("name", HOSTILE), ("site", "")],
    );
    assert_eq!(feed.0, 200, "{}", feed.1);
    let bad_digest = post(
        &hostile,
        "/account/digest",
        &[
            ("csrf", &hostile_csrf),
            ("email", "pm@nhs.net"),
            ("frequency", "daily"),
            ("min_severity", "urgent"),
            ("quiet", HOSTILE),
        ],
    );

    // Every page that shows them, and every filter typed back.
    let typed: String = form(&[("entity", HOSTILE)]);
    let pages = [
        ("/admin/users", get_as(&addr, "/admin/users", &admin)),
        ("/account (theirs)", get_as(&addr, "/account", &hostile)),
        (
            "/admin/sites?site=A10000",
            get_as(&addr, "/admin/sites?site=A10000", &admin),
        ),
        (
            "/reviews?show=all",
            get_as(&addr, "/reviews?show=all", &admin),
        ),
        ("a refused decision", odd.clone()),
        ("a refused digest", bad_digest.clone()),
        (
            "/audit (typed)",
            get_as(&addr, &format!("/audit?{typed}"), &admin),
        ),
        (
            "/reports (refused)",
            get_as(
                &addr,
                &format!("/reports?{}", form(&[("days", HOSTILE)])),
                &admin,
            ),
        ),
    ];
    // A refused page position has no field to keep it in: only its message names it.
    let audit_refused = get_as(
        &addr,
        &format!("/audit?{}", form(&[("before", HOSTILE)])),
        &admin,
    );
    stop(child);
    assert_eq!(audit_refused.0, 400, "{}", audit_refused.1);
    assert!(
        !audit_refused.1.contains("<script>alert") && !audit_refused.1.contains("\"onmouseover="),
        "{}",
        audit_refused.1
    );
    assert!(
        audit_refused.1.contains("There is a problem"),
        "{}",
        audit_refused.1
    );
    for (what, (status, page)) in &pages {
        assert!([200, 400].contains(status), "{what}: {status} {page}");
        escaped(what, page);
    }
    assert_eq!(odd.0, 400, "{}", odd.1);
    assert_eq!(bad_digest.0, 400, "{}", bad_digest.1);
    assert!(
        bad_digest.1.contains("There is a problem")
            && bad_digest.1.contains("href=\"#digest-quiet\""),
        "the error summary links to the field: {}",
        bad_digest.1
    );
    assert!(
        odd.1.contains("href=\"#why-"),
        "the refused decision links to its reason: {}",
        odd.1
    );
}
