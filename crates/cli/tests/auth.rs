//! Operators and sign-in, as an administrator and a browser use them.

mod common;

use std::io::Write;
use std::process::{Command, Output, Stdio};

use common::*;

/// `cardwatch user …` with a password on standard input.
fn user(db: &str, args: &[&str], password: Option<&str>) -> Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_cardwatch"))
        .env("RUST_LOG", "warn")
        .args(["--database-url", db, "user"])
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn");
    if let Some(p) = password {
        // A command refused on its arguments may exit before it reads: a closed pipe is fine.
        let _ = child
            .stdin
            .take()
            .expect("stdin")
            .write_all(format!("{p}\n").as_bytes());
    }
    child.wait_with_output().expect("wait")
}

const PW: &str = "riverside surgery reception";

#[test]
fn operators_are_added_listed_disabled_and_reset() {
    let (_tmp, db) = scratch_db();
    let out = ok(&user(
        &db,
        &[
            "add",
            "Asha.Patel@nhs.net",
            "--name",
            "Asha Patel",
            "--role",
            "practice-manager",
            "--org",
            "a81001",
        ],
        Some(PW),
    ));
    assert!(
        out.contains("added asha.patel@nhs.net (practice_manager)"),
        "{out}"
    );
    assert!(!out.contains(PW), "a password from stdin is not echoed");
    let list = ok(&user(&db, &["list"], None));
    assert!(
        list.contains("asha.patel@nhs.net") && list.contains("A81001") && list.contains("active"),
        "{list}"
    );

    for (args, pw, want) in [
        (
            vec![
                "add", "x", "--name", "X", "--role", "support", "--org", "A1",
            ],
            Some(PW),
            "not a user name",
        ),
        (
            vec![
                "add", "bob", "--name", "Bob", "--role", "king", "--org", "A1",
            ],
            Some(PW),
            "not a role",
        ),
        (
            vec!["add", "bob", "--name", "Bob", "--role", "support"],
            Some(PW),
            "at least one --org",
        ),
        (
            vec![
                "add", "bob", "--name", "Bob", "--role", "support", "--org", "A!",
            ],
            Some(PW),
            "--org",
        ),
        (
            vec![
                "add", "bob", "--name", "Bob", "--role", "support", "--org", "A1",
            ],
            Some("short"),
            "at least 12",
        ),
        (
            vec![
                "add",
                "asha.patel@nhs.net",
                "--name",
                "Asha",
                "--role",
                "auditor",
            ],
            Some(PW),
            "already an operator",
        ),
        (vec!["disable", "nobody"], None, "no operator nobody"),
    ] {
        let out = user(&db, &args, pw);
        assert_eq!(
            out.status.code(),
            Some(2),
            "{args:?}: {}",
            text(&out.stdout)
        );
        assert!(
            text(&out.stderr).contains(want),
            "{args:?}: {}",
            text(&out.stderr)
        );
    }
    ok(&user(&db, &["disable", "asha.patel@nhs.net"], None));
    assert!(ok(&user(&db, &["list"], None)).contains("disabled"));
    ok(&user(&db, &["enable", "asha.patel@nhs.net"], None));
    let out = ok(&user(
        &db,
        &["reset-password", "asha.patel@nhs.net"],
        Some("a brand new passphrase"),
    ));
    assert!(out.contains("sessions have ended"), "{out}");
    ok(&cardwatch(&db, &["audit", "verify"]));
    let audit = ok(&cardwatch(&db, &["audit", "show"]));
    assert!(audit.contains("\"entity_kind\":\"user\""), "{audit}");
    assert!(
        !audit.contains("argon2"),
        "no password hash in the audit log"
    );
}

#[test]
fn sign_in_session_csrf_and_sign_out() {
    let (_tmp, db) = scratch_db();
    add_pm(&db);
    let (child, addr) = serve_demo(&db, "1");

    let anonymous = request(&addr, "GET", "/account", None, None);
    let api = request(&addr, "GET", "/api/v1/me", None, None);
    let wrong = request(
        &addr,
        "POST",
        "/login",
        None,
        Some(&form(&[
            ("username", "pm@nhs.net"),
            ("password", "not it at all"),
            ("next", "/account"),
        ])),
    );
    let unknown = request(
        &addr,
        "POST",
        "/login",
        None,
        Some(&form(&[("username", "ghost@nhs.net"), ("password", PW)])),
    );
    let good = request(
        &addr,
        "POST",
        "/login",
        None,
        Some(&form(&[
            ("username", "PM@nhs.net"),
            ("password", PW),
            ("next", "/account"),
        ])),
    );
    let open_redirect = request(
        &addr,
        "POST",
        "/login",
        None,
        Some(&form(&[
            ("username", "pm@nhs.net"),
            ("password", PW),
            ("next", "//evil.example/"),
        ])),
    );
    // The known ways round a check that only looks at the first characters, read as a browser
    // reads them: each lands on the home page.
    for next in [
        "/\\evil.example",
        "/\t/evil.example",
        "\\/evil.example",
        "https:evil.example",
        "/\n/evil.example",
        "/%2F%2Fevil.example",
        "/%5Cevil.example",
    ] {
        let (status, response) = request(
            &addr,
            "POST",
            "/login",
            None,
            Some(&form(&[
                ("username", "pm@nhs.net"),
                ("password", PW),
                ("next", next),
            ])),
        );
        assert_eq!(status, 303, "{next:?}: {response}");
        assert!(response.contains("location: /\r\n"), "{next:?}: {response}");
    }
    let token = set_cookie(&good.1, "cw_session").expect("a session cookie");
    let cookie = format!("cw_session={token}");
    let account = request(&addr, "GET", "/account", Some(&cookie), None);
    let me = request(&addr, "GET", "/api/v1/me", Some(&cookie), None);
    let csrf = csrf_of(&account.1);
    let forged = request(&addr, "POST", "/logout", Some(&cookie), Some("csrf=0000"));
    let still = request(&addr, "GET", "/account", Some(&cookie), None);
    let out = request(
        &addr,
        "POST",
        "/logout",
        Some(&cookie),
        Some(&format!("csrf={csrf}")),
    );
    let after = request(&addr, "GET", "/account", Some(&cookie), None);
    let me_after = request(&addr, "GET", "/api/v1/me", Some(&cookie), None);
    stop(child);
    assert_eq!(me_after.0, 401, "{}", me_after.1);

    assert_eq!(anonymous.0, 303, "{}", anonymous.1);
    assert!(
        anonymous.1.contains("location: /login?next=%2Faccount"),
        "{}",
        anonymous.1
    );
    assert_eq!(api.0, 401, "{}", api.1);
    assert!(api.1.contains("\"code\":\"not_signed_in\""), "{}", api.1);
    assert_eq!(me.0, 200, "{}", me.1);
    let v = body_json(&me.1);
    assert_eq!(v["username"], "pm@nhs.net");
    assert_eq!(v["role"], "practice_manager");
    assert_eq!(v["organisations"][0], "A10000");
    assert_eq!(wrong.0, 401, "{}", wrong.1);
    assert!(wrong.1.contains("The user name or password is wrong."));
    assert_eq!(unknown.0, 401);
    assert!(
        unknown.1.contains("The user name or password is wrong."),
        "the same words for an unknown name"
    );
    assert_eq!(good.0, 303, "{}", good.1);
    assert!(good.1.contains("location: /account"), "{}", good.1);
    let set = good
        .1
        .lines()
        .find(|l| l.to_ascii_lowercase().starts_with("set-cookie"))
        .expect("set-cookie");
    assert!(
        set.contains("HttpOnly") && set.contains("SameSite=Lax"),
        "{set}"
    );
    assert!(
        open_redirect.1.contains("location: /\r\n"),
        "{}",
        open_redirect.1
    );
    assert_eq!(account.0, 200, "{}", account.1);
    assert!(
        account.1.contains("Pat Manager") && account.1.contains("A10000"),
        "{}",
        account.1
    );
    assert_eq!(forged.0, 403, "{}", forged.1);
    assert_eq!(still.0, 200, "a forged sign-out does nothing");
    assert_eq!(out.0, 303);
    assert!(out.1.contains("Max-Age=0"), "{}", out.1);
    assert_eq!(after.0, 303, "the session has ended");
}

#[test]
fn failures_slow_the_address_they_come_from_and_a_disabled_one_cannot_sign_in() {
    let (_tmp, db) = scratch_db();
    ok(&user(
        &db,
        &[
            "add",
            "ra@nhs.net",
            "--name",
            "Ravi Agent",
            "--role",
            "registration_authority",
            "--org",
            "QOP",
        ],
        Some(PW),
    ));
    ok(&user(
        &db,
        &[
            "add",
            "gone@nhs.net",
            "--name",
            "Left Already",
            "--role",
            "auditor",
        ],
        Some(PW),
    ));
    ok(&user(&db, &["disable", "gone@nhs.net"], None));
    let (child, addr) = serve_demo(&db, "1");
    let bad = form(&[
        ("username", "ra@nhs.net"),
        ("password", "wrong wrong wrong"),
    ]);
    // Five failures are let through, then this address waits 1 s, 2 s… between tries: after
    // seven tries sent at once at least the last waits (crates/cli/tests/throttle.rs shows that
    // another address is not slowed, and the figures).
    let fails: Vec<u16> = (0..7)
        .map(|_| request(&addr, "POST", "/login", None, Some(&bad)).0)
        .collect();
    let locked = request(
        &addr,
        "POST",
        "/login",
        None,
        Some(&form(&[("username", "ra@nhs.net"), ("password", PW)])),
    );
    let disabled = request(
        &addr,
        "POST",
        "/login",
        None,
        Some(&form(&[("username", "gone@nhs.net"), ("password", PW)])),
    );
    stop(child);
    assert_eq!(fails[..5], [401; 5]);
    assert!(fails[5..].contains(&429), "{fails:?}");
    assert_eq!(locked.0, 429, "{}", locked.1);
    assert!(locked.1.contains("Retry-After") || locked.1.contains("retry-after"));
    assert!(
        locked.1.contains("Too many failed sign-ins"),
        "{}",
        locked.1
    );
    assert_eq!(disabled.0, 401);
    assert!(disabled.1.contains("disabled"), "{}", disabled.1);
    // An administrator's reset password works.
    ok(&user(
        &db,
        &["reset-password", "ra@nhs.net"],
        Some("another long passphrase"),
    ));
    let (child, addr) = serve_demo(&db, "1");
    let back = request(
        &addr,
        "POST",
        "/login",
        None,
        Some(&form(&[
            ("username", "ra@nhs.net"),
            ("password", "another long passphrase"),
        ])),
    );
    stop(child);
    assert_eq!(back.0, 303, "{}", back.1);
}

#[test]
fn password_change_needs_the_current_one_and_a_good_new_one() {
    let (_tmp, db) = scratch_db();
    ok(&user(
        &db,
        &[
            "add",
            "it@nhs.net",
            "--name",
            "IT Support",
            "--role",
            "support",
            "--org",
            "QOP",
        ],
        Some(PW),
    ));
    let (child, addr) = serve_demo(&db, "1");
    let good = request(
        &addr,
        "POST",
        "/login",
        None,
        Some(&form(&[("username", "it@nhs.net"), ("password", PW)])),
    );
    let cookie = format!(
        "cw_session={}",
        set_cookie(&good.1, "cw_session").expect("cookie")
    );
    let csrf = csrf_of(&request(&addr, "GET", "/account", Some(&cookie), None).1);
    let wrong_current = request(
        &addr,
        "POST",
        "/account/password",
        Some(&cookie),
        Some(&form(&[
            ("csrf", &csrf),
            ("current", "nope"),
            ("new", "a perfectly long one"),
        ])),
    );
    let too_short = request(
        &addr,
        "POST",
        "/account/password",
        Some(&cookie),
        Some(&form(&[("csrf", &csrf), ("current", PW), ("new", "short")])),
    );
    let changed = request(
        &addr,
        "POST",
        "/account/password",
        Some(&cookie),
        Some(&form(&[
            ("csrf", &csrf),
            ("current", PW),
            ("new", "a perfectly long one"),
        ])),
    );
    let old_session = request(&addr, "GET", "/account", Some(&cookie), None);
    let new_cookie = format!(
        "cw_session={}",
        set_cookie(&changed.1, "cw_session").expect("a fresh session")
    );
    let new_session = request(&addr, "GET", "/account", Some(&new_cookie), None);
    let old_pw = request(
        &addr,
        "POST",
        "/login",
        None,
        Some(&form(&[("username", "it@nhs.net"), ("password", PW)])),
    );
    let new_pw = request(
        &addr,
        "POST",
        "/login",
        None,
        Some(&form(&[
            ("username", "it@nhs.net"),
            ("password", "a perfectly long one"),
        ])),
    );
    stop(child);
    assert_eq!(wrong_current.0, 400);
    assert!(
        wrong_current.1.contains("current password is wrong"),
        "{}",
        wrong_current.1
    );
    assert_eq!(too_short.0, 400);
    assert!(too_short.1.contains("at least 12"), "{}", too_short.1);
    assert_eq!(changed.0, 303, "{}", changed.1);
    assert_eq!(
        old_session.0, 303,
        "the old session ended with the old password"
    );
    assert_eq!(new_session.0, 200);
    assert_eq!(old_pw.0, 401);
    assert_eq!(new_pw.0, 303);
}

/// A card held by someone at `site`, from the store's export.
fn card_at(db: &str, site: &str) -> String {
    let people = ok(&cardwatch(db, &["export", "people"]));
    let at: Vec<&str> = people
        .lines()
        .skip(1)
        .filter(|l| l.split(',').nth(4) == Some(site))
        .filter_map(|l| l.split(',').next())
        .collect();
    let cards = ok(&cardwatch(db, &["export", "cards"]));
    cards
        .lines()
        .skip(1)
        .find(|l| l.split(',').nth(1).is_some_and(|h| at.contains(&h)))
        .and_then(|l| l.split(',').next())
        .unwrap_or_else(|| panic!("no card at {site}"))
        .to_owned()
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

/// Writes estate files (name, contents) into `dir` and imports them all at once.
fn import_files(db: &str, dir: &std::path::Path, files: &[(&str, String)]) {
    let mut args = vec!["import".to_owned()];
    for (name, text) in files {
        let path = dir.join(name);
        std::fs::write(&path, text).expect("write");
        args.push(path.display().to_string());
    }
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    ok(&cardwatch(db, &args));
}

/// Gives the site a service acting with one of its cards, set up with two onboarding errors:
/// the EMIS CDB it holds is mistyped and the card has no EMIS account. Returns the card.
fn integration_at(db: &str, dir: &std::path::Path, site: &str) -> String {
    let card = card_at(db, site);
    import_files(
        db,
        dir,
        &[
            (
                "integrations.csv",
                format!(
                    "integration,service,site_ods,clinical_system,required_roles,required_activity_codes,emis_cdb,service_emis_cdb,systmone_profile,service_systmone_profile\n\
                     t1-{site},Test Assistant,{site},emis,,,11111,11112,,\n"
                ),
            ),
            (
                "integration_cards.csv",
                format!("integration,card_serial,emis_username\nt1-{site},{card},\n"),
            ),
        ],
    );
    card
}

fn signed_in(addr: &str, name: &str) -> String {
    let r = request(
        addr,
        "POST",
        "/login",
        None,
        Some(&form(&[("username", name), ("password", PW)])),
    );
    assert_eq!(r.0, 303, "{}", r.1);
    format!(
        "cw_session={}",
        set_cookie(&r.1, "cw_session").expect("cookie")
    )
}

#[test]
fn every_route_is_scoped_to_the_callers_organisations() {
    let (_tmp, db) = scratch_db();
    let (child, addr, _) = serve_demo_signed_in(&db, "2");
    add_pm(&db);
    add_auditor(&db);
    let theirs = card_at(&db, "A10001");
    let mine = card_at(&db, "A10000");
    let pm = signed_in(&addr, "pm@nhs.net");
    let auditor = signed_in(&addr, "audit@nhs.net");

    let findings = get_as(&addr, "/api/v1/findings?limit=10000", &pm);
    let plan = get_as(&addr, "/api/v1/plan?capacity=10&limit=10000", &pm);
    let home = get_as(&addr, "/", &pm);
    let own_sheet = get_as(&addr, "/cheatsheet?site=A10000", &pm);
    let sheet_json = get_as(&addr, "/api/v1/cheatsheet?site=A10000", &pm);
    let other_sheet = get_as(&addr, "/cheatsheet?site=A10001", &pm);
    let own_card = post_json(
        &addr,
        "/api/v1/triage/next",
        &pm,
        &format!(r#"{{"symptom": "cannot-sign", "card_serial": "{mine}"}}"#),
    );
    let other_card = post_json(
        &addr,
        "/api/v1/triage/next",
        &pm,
        &format!(r#"{{"symptom": "cannot-sign", "card_serial": "{theirs}"}}"#),
    );
    let other_site = post_json(
        &addr,
        "/api/v1/triage/next",
        &pm,
        r#"{"symptom": "err1002", "site": "A10001"}"#,
    );
    let other_wizard = get_as(
        &addr,
        &format!("/triage?symptom=cannot-sign&card_serial={theirs}"),
        &pm,
    );
    let audit_findings = get_as(&addr, "/api/v1/findings?limit=10000", &auditor);
    let audit_triage = post_json(
        &addr,
        "/api/v1/triage/next",
        &auditor,
        r#"{"symptom": "err1002"}"#,
    );
    let anonymous: Vec<(u16, String)> = [
        "/",
        "/findings",
        "/api/v1/findings",
        "/api/v1/plan?capacity=10",
        "/triage",
        "/cheatsheet?site=A10000",
        "/api/v1/me",
    ]
    .iter()
    .map(|p| get(&addr, p))
    .collect();
    let anonymous_triage = request(&addr, "POST", "/api/v1/triage/next", None, Some("{}"));
    stop(child);

    let v = body_json(&findings.1);
    let sites: std::collections::BTreeSet<&str> = v["findings"]
        .as_array()
        .expect("findings")
        .iter()
        .map(|f| f["site"].as_str().expect("site"))
        .collect();
    assert_eq!(
        sites.into_iter().collect::<Vec<_>>(),
        vec!["A10000"],
        "{}",
        findings.1
    );
    let v = body_json(&plan.1);
    assert!(
        v["renewals"]
            .as_array()
            .expect("renewals")
            .iter()
            .all(|r| r["site"] == "A10000"),
        "{}",
        plan.1
    );
    assert!(v["total"].as_u64().expect("total") > 0);
    assert_eq!(home.0, 200);
    assert!(home.1.contains(" (A10000)</td>"), "{}", home.1);
    assert!(!home.1.contains("(A10001)"), "{}", home.1);
    assert_eq!(own_sheet.0, 200);
    assert_eq!(other_sheet.0, 403);
    let sheet = body_json(&sheet_json.1);
    assert_eq!(sheet["site"], "A10000", "{sheet}");
    assert!(
        !sheet["sections"].as_array().expect("sections").is_empty()
            && sheet["sections"][0]["steps"].is_array(),
        "the JSON twin holds what the printed sheet does: {sheet}"
    );
    assert_eq!(own_card.0, 200, "{}", own_card.1);
    assert!(!body_json(&own_card.1)["known"]
        .as_array()
        .expect("known")
        .is_empty());
    assert_eq!(other_card.0, 403, "{}", other_card.1);
    assert_eq!(body_json(&other_card.1)["error"]["field"], "card_serial");
    assert!(
        !other_card.1.contains("signing certificate"),
        "nothing about the card leaks: {}",
        other_card.1
    );
    assert_eq!(other_site.0, 403);
    assert_eq!(other_wizard.0, 403);
    assert_eq!(audit_findings.0, 200);
    let v = body_json(&audit_findings.1);
    let sites: std::collections::BTreeSet<&str> = v["findings"]
        .as_array()
        .expect("findings")
        .iter()
        .map(|f| f["site"].as_str().expect("site"))
        .collect();
    assert!(
        sites.contains("A10000") && sites.contains("A10001"),
        "an auditor reads everything"
    );
    assert_eq!(audit_triage.0, 403, "{}", audit_triage.1);
    for ((status, response), path) in anonymous.iter().zip([
        "/",
        "/findings",
        "/api/v1/findings",
        "/api/v1/plan",
        "/triage",
        "/cheatsheet",
        "/api/v1/me",
    ]) {
        let want = if path.starts_with("/api/") { 401 } else { 303 };
        assert_eq!(*status, want, "{path}: {response}");
        assert!(!response.contains("CS0"), "{path} leaks a card: {response}");
    }
    assert_eq!(anonymous_triage.0, 401);
}

fn token(db: &str, args: &[&str]) -> String {
    let mut all = vec!["token"];
    all.extend_from_slice(args);
    ok(&cardwatch(db, &all))
}

#[test]
fn api_tokens_sign_scripts_in_until_revoked() {
    let (_tmp, db) = scratch_db();
    let (child, addr, _) = serve_demo_signed_in(&db, "2");
    ok(&user(
        &db,
        &[
            "add",
            "robot@nhs.net",
            "--name",
            "Monitoring",
            "--role",
            "support",
            "--org",
            "A10000",
        ],
        Some(PW),
    ));
    let out = token(&db, &["add", "--user", "robot@nhs.net", "--name", "nagios"]);
    let secret = out
        .split("secret: ")
        .nth(1)
        .and_then(|r| r.split_whitespace().next())
        .expect("secret")
        .to_owned();
    let id = out.split_whitespace().nth(1).expect("id").to_owned();
    let bearer = |path: &str, secret: &str| {
        let mut s = std::net::TcpStream::connect(&addr).expect("connect");
        use std::io::Read;
        write!(s, "GET {path} HTTP/1.1\r\nHost: {addr}\r\nAuthorization: Bearer {secret}\r\nConnection: close\r\n\r\n").expect("send");
        let mut r = String::new();
        s.read_to_string(&mut r).expect("read");
        r
    };
    let me = bearer("/api/v1/me", &secret);
    let findings = bearer("/api/v1/findings?limit=10000", &secret);
    let page = bearer("/findings", &secret);
    let forged = bearer("/api/v1/me", &format!("cwt_{}", "0".repeat(64)));
    token(&db, &["revoke", &id]);
    let revoked = bearer("/api/v1/me", &secret);
    stop(child);
    assert!(me.starts_with("HTTP/1.1 200"), "{me}");
    assert_eq!(body_json(&me)["username"], "robot@nhs.net");
    let v = body_json(&findings);
    assert!(
        v["findings"]
            .as_array()
            .expect("findings")
            .iter()
            .all(|f| f["site"] == "A10000"),
        "scoped like its owner"
    );
    assert!(
        page.starts_with("HTTP/1.1 303"),
        "a token opens the API only: {page}"
    );
    assert!(forged.starts_with("HTTP/1.1 401"), "{forged}");
    assert!(revoked.starts_with("HTTP/1.1 401"), "{revoked}");
    let list = token(&db, &["list"]);
    assert!(list.contains(&id) && list.contains("revoked"), "{list}");
    assert!(!list.contains(&secret));
    let out = cardwatch(&db, &["token", "revoke", "nothing"]);
    assert_eq!(out.status.code(), Some(2));
}

#[test]
fn calendar_feed_parses_with_an_independent_parser() {
    let (tmp, db) = scratch_db();
    let (child, addr, _) = serve_demo_signed_in(&db, "2");
    add_pm(&db);
    let out = token(
        &db,
        &[
            "add",
            "--user",
            "pm@nhs.net",
            "--name",
            "practice calendar",
            "--calendar",
        ],
    );
    let path = out
        .split("feed: ")
        .nth(1)
        .and_then(|r| r.split_whitespace().next())
        .expect("feed")
        .to_owned();
    let id = out.split_whitespace().nth(1).expect("id").to_owned();
    // A site outside the owner's organisations is refused, as their account page refuses it;
    // a site of theirs is taken.
    let other_site = cardwatch(
        &db,
        &[
            "token",
            "add",
            "--user",
            "pm@nhs.net",
            "--name",
            "other site",
            "--calendar",
            "--site",
            "A10001",
        ],
    );
    let own_site = token(
        &db,
        &[
            "add",
            "--user",
            "pm@nhs.net",
            "--name",
            "own site",
            "--calendar",
            "--site",
            "a10000",
        ],
    );
    let feed = get(&addr, &path);
    let junk = get(&addr, "/feeds/nonsense.ics");
    token(&db, &["revoke", &id]);
    let revoked = get(&addr, &path);
    stop(child);
    assert_eq!(feed.0, 200, "{}", feed.1);
    assert!(feed.1.contains("text/calendar"));
    let body = feed.1.split("\r\n\r\n").nth(1).expect("body").to_owned();
    let file = tmp.path().join("feed.ics");
    std::fs::write(&file, &body).expect("write");
    let script = r#"
import sys, icalendar
cal = icalendar.Calendar.from_ical(open(sys.argv[1], 'rb').read())
events = [c for c in cal.walk() if c.name == 'VEVENT']
alarms = [c for c in cal.walk() if c.name == 'VALARM']
sites = sorted({str(e.get('summary')).split('site ')[-1].rstrip(')') for e in events})
assert all(e.get('dtstart') is not None and e.get('uid') for e in events)
print(len(events), len(alarms), ','.join(sites))
"#;
    let out = Command::new("/usr/bin/python3")
        .arg("-c")
        .arg(script)
        .arg(&file)
        .output()
        .expect("python3 (scripts/test installs python3-icalendar)");
    let parsed = ok(&out);
    let mut parts = parsed.split_whitespace();
    let events: usize = parts.next().expect("events").parse().expect("n");
    let alarms: usize = parts.next().expect("alarms").parse().expect("n");
    assert!(events > 0, "{parsed}");
    assert_eq!(alarms, events, "every event has its reminder");
    assert_eq!(
        parts.next(),
        Some("A10000"),
        "only the practice's own site: {parsed}"
    );
    assert_eq!(other_site.status.code(), Some(2), "{other_site:?}");
    assert!(
        text(&other_site.stderr)
            .contains("--site A10001: outside pm@nhs.net's organisations (A10000)"),
        "{}",
        text(&other_site.stderr)
    );
    assert!(own_site.contains("(calendar)"), "{own_site}");
    let list = token(&db, &["list"]);
    assert!(
        list.contains("own site") && !list.contains("other site"),
        "no feed made outside: {list}"
    );
    assert_eq!(junk.0, 404);
    assert_eq!(revoked.0, 404);
}

#[test]
fn the_audit_log_is_for_auditors_and_administrators() {
    let (_tmp, db) = scratch_db();
    let (child, addr, admin) = serve_demo_signed_in(&db, "1");
    add_auditor(&db);
    add_pm(&db);
    let auditor = signed_in(&addr, "audit@nhs.net");
    let pm = signed_in(&addr, "pm@nhs.net");
    let page = get_as(&addr, "/audit?entity=user", &auditor);
    let api = get_as(&addr, "/api/v1/audit?entity=user&limit=1", &admin);
    let csv = get_as(&addr, "/api/v1/audit?format=csv", &auditor);
    let denied = get_as(&addr, "/audit", &pm);
    let denied_api = get_as(&addr, "/api/v1/audit", &pm);
    let bad = get_as(&addr, "/api/v1/audit?limit=0", &admin);
    stop(child);
    assert_eq!(page.0, 200, "{}", page.1);
    assert!(
        page.1.contains("audit@nhs.net") && page.1.contains("pm@nhs.net"),
        "{}",
        page.1
    );
    assert!(
        page.1.contains(
            "<a class=\"nhsuk-header__navigation-link\" href=\"/audit\" aria-current=\"page\"><strong class=\"nhsuk-header__navigation-item-current-fallback\">Audit log</strong></a>"
        ),
        "the menu offers it to an auditor, marked as the page shown"
    );
    assert!(
        !page.1.contains(">import<"),
        "filtered to users: {}",
        page.1
    );
    let v = body_json(&api.1);
    assert_eq!(v["records"].as_array().expect("records").len(), 1);
    assert_eq!(v["records"][0]["entity_key"], "pm@nhs.net", "newest first");
    assert!(
        v["older"].as_str().expect("older").contains("before="),
        "{v}"
    );
    assert_eq!(csv.0, 200);
    assert!(
        csv.1
            .contains("seq,at,actor,action,entity_kind,entity_key,note"),
        "{}",
        csv.1
    );
    assert_eq!(denied.0, 403);
    assert!(!denied.1.contains(">Audit log</a>"));
    assert_eq!(denied_api.0, 403);
    assert_eq!(body_json(&denied_api.1)["error"]["code"], "forbidden");
    assert_eq!(bad.0, 400);
    assert_eq!(body_json(&bad.1)["error"]["field"], "limit");
}

#[test]
fn incidents_and_packets_stay_within_the_callers_organisations() {
    use cardwatch_core::date::Timestamp;
    use cardwatch_core::triage::NewIncident;
    use cardwatch_store::Change;

    let (_tmp, db) = scratch_db();
    let (child, addr, _) = serve_demo_signed_in(&db, "2");
    add_pm(&db);
    add_auditor(&db);
    let ids: Vec<i64> = {
        let store = cardwatch_store::open(&db).expect("open");
        let change = Change {
            actor: "test".into(),
            at: Timestamp::parse("2026-11-20T10:00:00Z").expect("time"),
        };
        let ids: Vec<i64> = [Some("A10000"), Some("A10001"), None]
            .iter()
            .map(|site| {
                store
                    .open_incident(
                        &NewIncident {
                            reporter: "reception".into(),
                            site: site.map(str::to_owned),
                            symptom: "cannot-sign".into(),
                            error_text: Some("signing failed".into()),
                            ..NewIncident::default()
                        },
                        &change,
                    )
                    .expect("open")
            })
            .collect();
        let closed = Change {
            actor: "test".into(),
            at: Timestamp::parse("2026-11-20T10:18:00Z").expect("time"),
        };
        store
            .close_incident(
                ids[0],
                cardwatch_core::triage::IncidentStatus::Resolved,
                Some("middleware-outdated"),
                &closed,
            )
            .expect("close");
        ids
    };
    let pm = signed_in(&addr, "pm@nhs.net");
    let auditor = signed_in(&addr, "audit@nhs.net");
    let mine = get_as(&addr, "/api/v1/incidents", &pm);
    let page = get_as(&addr, "/incidents", &pm);
    let own_packet = get_as(&addr, &format!("/incidents/{}/packet", ids[0]), &pm);
    let other_packet = get_as(&addr, &format!("/incidents/{}/packet", ids[1]), &pm);
    let all = get_as(&addr, "/api/v1/incidents", &auditor);
    let auditor_packet = get_as(&addr, &format!("/incidents/{}/packet", ids[1]), &auditor);
    let bad = get_as(&addr, "/api/v1/incidents?limit=none", &pm);
    let resolved = get_as(&addr, "/api/v1/incidents?status=resolved", &auditor);
    let by_site = get_as(&addr, "/api/v1/incidents?site=a10001&sort=id", &auditor);
    let by_site_ok = get_as(&addr, "/api/v1/incidents?site=a10001", &auditor);
    let oldest = get_as(
        &addr,
        "/api/v1/incidents?sort=opened&order=asc&limit=1&offset=1",
        &auditor,
    );
    let csv = get_as(&addr, "/api/v1/incidents?format=csv&status=resolved", &pm);
    let sorted_page = get_as(&addr, "/incidents?sort=minutes&order=desc", &auditor);
    let bad_status = get_as(&addr, "/api/v1/incidents?status=closed", &pm);
    let bad_status_page = get_as(&addr, "/incidents?status=closed&site=A10000", &pm);
    stop(child);
    let listed = |r: &(u16, String)| -> Vec<i64> {
        body_json(&r.1)["incidents"]
            .as_array()
            .expect("incidents")
            .iter()
            .map(|i| i["id"].as_i64().expect("id"))
            .collect()
    };
    // The demo's own incidents are there too: the practice manager sees A10000's (the test's
    // first among them) and nothing else.
    let sites_of = |r: &(u16, String)| -> Vec<String> {
        body_json(&r.1)["incidents"]
            .as_array()
            .expect("incidents")
            .iter()
            .map(|i| i["site"].as_str().unwrap_or("").to_owned())
            .collect()
    };
    assert!(listed(&mine).contains(&ids[0]), "{}", mine.1);
    assert!(!listed(&mine).contains(&ids[1]) && !listed(&mine).contains(&ids[2]));
    assert!(sites_of(&mine).iter().all(|s| s == "A10000"), "{}", mine.1);
    assert!(
        page.1.contains(&format!("/incidents/{}/packet", ids[0])),
        "{}",
        page.1
    );
    assert!(
        !page.1.contains(&format!("/incidents/{}/packet", ids[1])),
        "{}",
        page.1
    );
    assert_eq!(own_packet.0, 200, "{}", own_packet.1);
    assert!(
        own_packet.1.contains("SMARTCARD ESCALATION")
            && own_packet
                .1
                .contains("<link rel=\"stylesheet\" href=\"/assets/print.css\">"),
        "{}",
        own_packet.1
    );
    assert_eq!(other_packet.0, 404, "{}", other_packet.1);
    let every = listed(&all);
    assert!(
        ids.iter().all(|id| every.contains(id)),
        "an auditor sees every incident"
    );
    assert_eq!(
        body_json(&all.1)["total"].as_u64(),
        Some(every.len() as u64)
    );
    assert_eq!(
        every.len(),
        cardwatch_store::open(&db)
            .expect("open")
            .incidents(100_000)
            .expect("incidents")
            .len(),
        "an auditor sees every incident"
    );
    assert_eq!(auditor_packet.0, 200);
    assert_eq!(bad.0, 400);
    assert!(listed(&resolved).contains(&ids[0]));
    assert!(!listed(&resolved).contains(&ids[1]) && !listed(&resolved).contains(&ids[2]));
    assert!(body_json(&resolved.1)["incidents"]
        .as_array()
        .expect("incidents")
        .iter()
        .all(|i| i["status"] == "resolved"));
    assert_eq!(by_site.0, 400, "sort by an unknown column");
    assert!(by_site.1.contains("\"field\":\"sort\""), "{}", by_site.1);
    assert!(listed(&by_site_ok).contains(&ids[1]));
    assert!(sites_of(&by_site_ok).iter().all(|s| s == "A10001"));
    // The second oldest of every incident the auditor sees.
    let mut by_opened: Vec<(String, i64)> = body_json(&all.1)["incidents"]
        .as_array()
        .expect("incidents")
        .iter()
        .map(|i| {
            (
                i["opened_at"].as_str().unwrap_or("").to_owned(),
                i["id"].as_i64().expect("id"),
            )
        })
        .collect();
    by_opened.sort();
    assert_eq!(listed(&oldest), vec![by_opened[1].1], "the second oldest");
    assert_eq!(
        body_json(&oldest.1)["total"].as_u64(),
        Some(every.len() as u64)
    );
    assert_eq!(csv.0, 200);
    assert!(csv.1.contains(
        "id,opened_at,site,symptom,application,status,minutes_to_fix,confirmed_cause,closed_at"
    ));
    assert!(csv.1.contains(&format!("\n{},", ids[0])) && csv.1.contains("middleware-outdated"));
    assert!(
        sorted_page.1.contains("aria-sort=\"descending\""),
        "{}",
        sorted_page.1
    );
    assert!(sorted_page.1.contains("Download these incidents (CSV)"));
    // A refused filter on the page: the error summary, in the page, not the API's JSON.
    assert_eq!(bad_status_page.0, 400, "{}", bad_status_page.1);
    assert!(
        bad_status_page.1.contains("nhsuk-error-summary")
            && bad_status_page.1.contains("href=\"#status\"")
            && !bad_status_page.1.contains("\"code\":"),
        "{}",
        bad_status_page.1
    );
    assert_eq!(bad_status.0, 400);
    assert!(
        bad_status.1.contains("\"field\":\"status\""),
        "{}",
        bad_status.1
    );
}

#[test]
fn the_openapi_document_matches_the_routes_and_validates() {
    let (tmp, db) = scratch_db();
    let (child, addr, admin) = serve_demo_signed_in(&db, "1");
    let doc = get(&addr, "/api/v1/openapi.json");
    assert_eq!(doc.0, 200, "{}", doc.1);
    let v = body_json(&doc.1);
    assert_eq!(v["openapi"], "3.1.0");
    let paths = v["paths"].as_object().expect("paths");
    assert!(paths.len() >= 6, "{paths:?}");
    // Every documented route is served: never a 404.
    let mut answers = Vec::new();
    for (path, ops) in paths {
        for method in ops.as_object().expect("ops").keys() {
            let r = match method.as_str() {
                "get" => get_as(&addr, path, &admin),
                "post" => post_json(&addr, path, &admin, "{}"),
                other => panic!("{other}"),
            };
            answers.push((path.clone(), r.0));
        }
    }
    stop(child);
    for (path, status) in &answers {
        // An agent's operations want an agent's credential, not an operator's session.
        let agents_only = path.starts_with("/api/v1/agents/") && *status == 401;
        assert!(
            [200, 400].contains(status) || agents_only,
            "{path} answered {status}"
        );
    }
    // An independent validator agrees it is OpenAPI 3.1.
    let file = tmp.path().join("openapi.json");
    std::fs::write(&file, doc.1.split("\r\n\r\n").nth(1).expect("body")).expect("write");
    let out = Command::new("python3")
        .args(["-c", "import sys, json; from openapi_spec_validator import validate; validate(json.load(open(sys.argv[1]))); print('valid')"])
        .arg(&file)
        .output()
        .expect("python3 with openapi-spec-validator (scripts/test installs it)");
    assert!(ok(&out).contains("valid"));
}

#[test]
fn estate_lists_filter_sort_page_and_stay_in_scope() {
    let (_tmp, db) = scratch_db();
    let (child, addr, admin) = serve_demo_signed_in(&db, "2");
    add_pm(&db);
    let pm = signed_in(&addr, PM);
    let sites = get_as(&addr, "/api/v1/estate/sites", &pm);
    let all_sites = get_as(&addr, "/api/v1/estate/sites", &admin);
    let people = get_as(
        &addr,
        "/api/v1/estate/people?sort=name&order=desc&limit=3",
        &pm,
    );
    let cursor = body_json(&people.1)["next_cursor"]
        .as_str()
        .expect("a next page")
        .to_owned();
    let second = get_as(
        &addr,
        &format!("/api/v1/estate/people?sort=name&order=desc&limit=3&cursor={cursor}"),
        &pm,
    );
    let filtered = get_as(&addr, "/api/v1/estate/workstations?q=A10000-WS001", &pm);
    let csv = get_as(&addr, "/api/v1/estate/readers?format=csv", &pm);
    let page = get_as(&addr, "/estate/people?sort=name", &pm);
    let ascending = get_as(&addr, "/api/v1/estate/people?sort=name&limit=3", &pm);
    let after = body_json(&ascending.1)["next_cursor"]
        .as_str()
        .expect("a next page")
        .to_owned();
    let paged = get_as(
        &addr,
        &format!("/estate/people?sort=name&limit=3&cursor={after}"),
        &pm,
    );
    let bad_kind = get_as(&addr, "/api/v1/estate/secrets", &pm);
    let bad_sort = get_as(&addr, "/api/v1/estate/people?sort=salary", &pm);
    stop(child);
    let items = |r: &(u16, String)| body_json(&r.1)["items"].as_array().expect("items").clone();
    let mine = items(&sites);
    assert_eq!(mine.len(), 1, "{}", sites.1);
    assert_eq!(mine[0]["site_ods"], "A10000");
    assert!(items(&all_sites).len() >= 2);
    let names: Vec<String> = items(&people)
        .iter()
        .map(|p| p["name"].as_str().expect("name").to_owned())
        .collect();
    assert_eq!(names.len(), 3);
    assert!(
        names.windows(2).all(|w| w[0] >= w[1]),
        "descending: {names:?}"
    );
    assert!(items(&people).iter().all(|p| p["site_ods"] == "A10000"));
    let next: Vec<String> = items(&second)
        .iter()
        .map(|p| p["name"].as_str().expect("name").to_owned())
        .collect();
    assert!(next.first() <= names.last(), "the next page follows on");
    assert!(body_json(&people.1)["total"].as_u64().expect("total") > 3);
    let ws = items(&filtered);
    assert!(
        !ws.is_empty()
            && ws
                .iter()
                .all(|w| w["hostname"].as_str().expect("host").contains("ws001")),
        "{}",
        filtered.1
    );
    assert!(
        csv.1
            .contains("reader_serial,vendor,model,firmware,hostname,site_ods,status"),
        "{}",
        csv.1
    );
    assert!(!csv.1.contains(",A10001,"), "scoped CSV too");
    assert_eq!(page.0, 200);
    assert!(page.1.contains("aria-sort=\"ascending\""), "{}", page.1);
    // The NHS.UK pagination either side of the second page, its cursor links escaped by the
    // template, the sort kept.
    assert!(
        paged.1.contains("&#38;limit=3\" rel=\"prev\"")
            && paged.1.contains("&#38;limit=3\" rel=\"next\"")
            && paged
                .1
                .matches("sort=name&#38;order=asc&#38;cursor=")
                .count()
                >= 2
            && paged
                .1
                .contains("<span class=\"nhsuk-pagination__page\">The 3 people before these")
            && paged
                .1
                .contains("<span class=\"nhsuk-pagination__page\">Up to 3 more people"),
        "{}",
        paged.1
    );
    assert_eq!(bad_kind.0, 400);
    assert_eq!(body_json(&bad_kind.1)["error"]["field"], "kind");
    assert_eq!(bad_sort.0, 400);
    assert!(body_json(&bad_sort.1)["error"]["message"]
        .as_str()
        .expect("message")
        .contains("no column \"salary\""));
}

#[test]
fn a_cards_page_shows_its_certificates_history_and_incidents_in_scope() {
    let (_tmp, db) = scratch_db();
    let (child, addr, admin) = serve_demo_signed_in(&db, "2");
    add_pm(&db);
    let mine = card_at(&db, "A10000");
    let theirs = card_at(&db, "A10001");
    ok(&cardwatch(
        &db,
        &[
            "card",
            "set-status",
            &mine,
            "locked",
            "--reason",
            "three wrong passcodes",
        ],
    ));
    let pm = signed_in(&addr, "pm@nhs.net");
    let page = get_as(&addr, &format!("/cards/{mine}"), &pm);
    let api = get_as(
        &addr,
        &format!("/api/v1/cards/{}", mine.to_lowercase()),
        &pm,
    );
    let other = get_as(&addr, &format!("/api/v1/cards/{theirs}"), &pm);
    let other_page = get_as(&addr, &format!("/cards/{theirs}"), &pm);
    let admin_other = get_as(&addr, &format!("/api/v1/cards/{theirs}"), &admin);
    let bad = get_as(&addr, "/api/v1/cards/not%20a%20card", &pm);
    stop(child);
    assert_eq!(page.0, 200, "{}", page.1);
    assert!(
        page.1.contains("Status history") && page.1.contains("three wrong passcodes"),
        "{}",
        page.1
    );
    let v = body_json(&api.1);
    assert_eq!(v["card"]["card_serial"], mine.as_str());
    assert_eq!(v["certificates"].as_array().expect("certs").len(), 2);
    assert!(v["certificates"][0]["state"].is_string());
    assert_eq!(v["holder"]["site"], "A10000");
    assert_eq!(v["status_history"][0]["action"], "status");
    assert_eq!(other.0, 404, "{}", other.1);
    assert!(
        !other.1.contains("certificates"),
        "nothing about another organisation's card"
    );
    assert_eq!(other_page.0, 404);
    assert_eq!(admin_other.0, 200);
    assert_eq!(bad.0, 400);
}

/// Every route × every role, on the caller's own organisation's objects and another's:
/// exactly the expected status, and nothing from the other organisation in a refusal.
#[test]
fn authorisation_matrix() {
    let (tmp, db) = scratch_db();
    let (child, addr, admin) = serve_demo_signed_in(&db, "2");
    for (name, role) in [
        ("support@nhs.net", "support"),
        ("pm@nhs.net", "practice_manager"),
        ("ra@nhs.net", "registration_authority"),
    ] {
        ok(&user(
            &db,
            &[
                "add", name, "--name", role, "--role", role, "--org", "A10000",
            ],
            Some(PW),
        ));
    }
    ok(&user(
        &db,
        &[
            "add",
            "audit@nhs.net",
            "--name",
            "Auditor",
            "--role",
            "auditor",
        ],
        Some(PW),
    ));
    let mine = card_at(&db, "A10000");
    let theirs = card_at(&db, "A10001");
    integration_at(&db, tmp.path(), "A10001");
    let my_person = person_at(&db, "A10000");
    let their_person = person_at(&db, "A10001");
    let callers: Vec<(&str, Option<String>)> = vec![
        ("anonymous", None),
        ("administrator", Some(admin)),
        ("support", Some(signed_in(&addr, "support@nhs.net"))),
        ("practice_manager", Some(signed_in(&addr, "pm@nhs.net"))),
        (
            "registration_authority",
            Some(signed_in(&addr, "ra@nhs.net")),
        ),
        ("auditor", Some(signed_in(&addr, "audit@nhs.net"))),
    ];
    // (method, path, body, expected status for: anonymous, administrator, support,
    // practice manager, RA, auditor).
    let own_triage = format!(r#"{{"symptom": "cannot-sign", "card_serial": "{mine}"}}"#);
    let other_triage = format!(r#"{{"symptom": "cannot-sign", "card_serial": "{theirs}"}}"#);
    let routes: Vec<(&str, String, String, [u16; 6])> = vec![
        (
            "GET",
            "/".into(),
            String::new(),
            [303, 200, 200, 200, 200, 200],
        ),
        (
            "GET",
            "/findings".into(),
            String::new(),
            [303, 200, 200, 200, 200, 200],
        ),
        (
            "GET",
            "/api/v1/findings".into(),
            String::new(),
            [401, 200, 200, 200, 200, 200],
        ),
        (
            "GET",
            "/plan?capacity=5".into(),
            String::new(),
            [303, 200, 200, 200, 200, 200],
        ),
        (
            "GET",
            "/api/v1/plan?capacity=5".into(),
            String::new(),
            [401, 200, 200, 200, 200, 200],
        ),
        (
            "GET",
            "/estate/people".into(),
            String::new(),
            [303, 200, 200, 200, 200, 200],
        ),
        (
            "GET",
            "/api/v1/estate/sites".into(),
            String::new(),
            [401, 200, 200, 200, 200, 200],
        ),
        (
            "GET",
            format!("/cards/{mine}"),
            String::new(),
            [303, 200, 200, 200, 200, 200],
        ),
        (
            "GET",
            format!("/api/v1/cards/{theirs}"),
            String::new(),
            [401, 200, 404, 404, 404, 200],
        ),
        (
            "GET",
            format!("/cards/{theirs}"),
            String::new(),
            [303, 200, 404, 404, 404, 200],
        ),
        (
            "GET",
            "/api/v1/retention".into(),
            String::new(),
            [401, 200, 403, 403, 403, 403],
        ),
        (
            "GET",
            "/api/v1/reports".into(),
            String::new(),
            [401, 200, 200, 200, 200, 200],
        ),
        (
            "GET",
            "/integrations/t1-a10001".into(),
            String::new(),
            [303, 200, 404, 404, 404, 200],
        ),
        (
            "GET",
            "/api/v1/integrations/t1-a10001".into(),
            String::new(),
            [401, 200, 404, 404, 404, 200],
        ),
        (
            "GET",
            format!("/people/{their_person}"),
            String::new(),
            [303, 200, 404, 404, 404, 200],
        ),
        (
            "GET",
            format!("/api/v1/people/{my_person}"),
            String::new(),
            [401, 200, 200, 200, 200, 200],
        ),
        (
            "GET",
            "/triage?symptom=err1002".into(),
            String::new(),
            [303, 200, 200, 200, 200, 403],
        ),
        (
            "POST",
            "/api/v1/triage/next".into(),
            own_triage,
            [401, 200, 200, 200, 200, 403],
        ),
        (
            "POST",
            "/api/v1/triage/next".into(),
            other_triage,
            [401, 200, 403, 403, 403, 403],
        ),
        (
            "GET",
            "/cheatsheet?site=A10000".into(),
            String::new(),
            [303, 200, 200, 200, 200, 200],
        ),
        (
            "GET",
            "/cheatsheet?site=A10001".into(),
            String::new(),
            [303, 200, 403, 403, 403, 200],
        ),
        (
            "GET",
            "/api/v1/cheatsheet?site=A10000".into(),
            String::new(),
            [401, 200, 200, 200, 200, 200],
        ),
        (
            "GET",
            "/api/v1/cheatsheet?site=A10001".into(),
            String::new(),
            [401, 200, 403, 403, 403, 200],
        ),
        (
            "GET",
            "/api/v1/users".into(),
            String::new(),
            [401, 200, 403, 403, 403, 403],
        ),
        (
            "GET",
            "/incidents".into(),
            String::new(),
            [303, 200, 200, 200, 200, 200],
        ),
        (
            "GET",
            "/api/v1/incidents".into(),
            String::new(),
            [401, 200, 200, 200, 200, 200],
        ),
        (
            "GET",
            "/audit".into(),
            String::new(),
            [303, 200, 403, 403, 403, 200],
        ),
        (
            "GET",
            "/api/v1/audit".into(),
            String::new(),
            [401, 200, 403, 403, 403, 200],
        ),
        (
            "GET",
            "/admin/sites".into(),
            String::new(),
            [303, 200, 200, 403, 403, 403],
        ),
        (
            "GET",
            "/admin/sites?site=A10000".into(),
            String::new(),
            [303, 200, 200, 403, 403, 403],
        ),
        (
            "GET",
            "/admin/sites?site=A10001".into(),
            String::new(),
            [303, 200, 404, 403, 403, 403],
        ),
        (
            "GET",
            "/admin/jobs".into(),
            String::new(),
            [303, 200, 403, 403, 403, 403],
        ),
        (
            "GET",
            "/api/v1/jobs".into(),
            String::new(),
            [401, 200, 403, 403, 403, 403],
        ),
        (
            "GET",
            "/admin/agents".into(),
            String::new(),
            [303, 200, 403, 403, 403, 403],
        ),
        (
            "GET",
            "/reviews".into(),
            String::new(),
            [303, 200, 200, 200, 200, 200],
        ),
        (
            "GET",
            "/api/v1/reviews?show=all".into(),
            String::new(),
            [401, 200, 200, 200, 200, 200],
        ),
        (
            "GET",
            "/api/v1/agents".into(),
            String::new(),
            [401, 200, 403, 403, 403, 403],
        ),
        (
            "GET",
            "/account".into(),
            String::new(),
            [303, 200, 200, 200, 200, 200],
        ),
        (
            "GET",
            "/api/v1/me".into(),
            String::new(),
            [401, 200, 200, 200, 200, 200],
        ),
        (
            "GET",
            "/healthz".into(),
            String::new(),
            [200, 200, 200, 200, 200, 200],
        ),
        (
            "GET",
            "/api/v1/openapi.json".into(),
            String::new(),
            [200, 200, 200, 200, 200, 200],
        ),
    ];
    let mut wrong = Vec::new();
    for (method, path, body, expected) in &routes {
        for ((role, cookie), want) in callers.iter().zip(expected) {
            let r = match (*method, cookie) {
                ("GET", c) => request(&addr, "GET", path, c.as_deref(), None),
                ("POST", Some(c)) => post_json(&addr, path, c, body),
                ("POST", None) => request(&addr, "POST", path, None, Some(body)),
                _ => unreachable!(),
            };
            if r.0 != *want {
                wrong.push(format!(
                    "{method} {path} as {role}: {} (expected {want})",
                    r.0
                ));
            }
            if r.0 >= 300
                && r.1.contains(&theirs)
                && !path.contains(&theirs)
                && !body.contains(&theirs)
            {
                wrong.push(format!(
                    "{method} {path} as {role}: a refusal names the other card"
                ));
            }
            if r.0 >= 400 && (r.1.contains("A10001") && !path.contains("A10001")) {
                wrong.push(format!(
                    "{method} {path} as {role}: a refusal names the other site"
                ));
            }
        }
    }
    stop(child);
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
}

#[test]
fn administrators_manage_operators_in_the_browser() {
    let (_tmp, db) = scratch_db();
    let (child, addr, admin) = serve_demo_signed_in(&db, "1");
    let page = get_as(&addr, "/admin/users", &admin);
    let csrf = csrf_of(&page.1);
    let post = |path: &str, pairs: &[(&str, &str)]| {
        request(&addr, "POST", path, Some(&admin), Some(&form(pairs)))
    };
    let added = post(
        "/admin/users/add",
        &[
            ("csrf", &csrf),
            ("username", "new.pm@nhs.net"),
            ("name", "New PM"),
            ("role", "practice_manager"),
            ("organisations", "A10000"),
        ],
    );
    let password = added
        .1
        .split("shown only now: ")
        .nth(1)
        .and_then(|r| r.split(' ').next())
        .expect("a password")
        .to_owned();
    let first = request(
        &addr,
        "POST",
        "/login",
        None,
        Some(&form(&[
            ("username", "new.pm@nhs.net"),
            ("password", &password),
        ])),
    );
    let refused = post(
        "/admin/users/add",
        &[
            ("csrf", &csrf),
            ("username", "x2@nhs.net"),
            ("name", "X"),
            ("role", "emperor"),
            ("organisations", "A10000"),
        ],
    );
    let no_role = post(
        "/admin/users/add",
        &[
            ("csrf", &csrf),
            ("username", "x5@nhs.net"),
            ("name", "X"),
            ("role", ""),
            ("organisations", "A10000"),
        ],
    );
    let no_org = post(
        "/admin/users/add",
        &[
            ("csrf", &csrf),
            ("username", "x3@nhs.net"),
            ("name", "X"),
            ("role", "support"),
            ("organisations", ""),
        ],
    );
    let unknown_org = post(
        "/admin/users/add",
        &[
            ("csrf", &csrf),
            ("username", "x5@nhs.net"),
            ("name", "X"),
            ("role", "practice_manager"),
            ("organisations", "A10000 ZZZ99"),
        ],
    );
    let forged = post(
        "/admin/users/add",
        &[
            ("csrf", "nope"),
            ("username", "x4@nhs.net"),
            ("name", "X"),
            ("role", "auditor"),
        ],
    );
    let myself = post(
        "/admin/users/disable",
        &[("csrf", &csrf), ("username", "demo")],
    );
    let disabled = post(
        "/admin/users/disable",
        &[("csrf", &csrf), ("username", "new.pm@nhs.net")],
    );
    let after_disable = request(
        &addr,
        "POST",
        "/login",
        None,
        Some(&form(&[
            ("username", "new.pm@nhs.net"),
            ("password", &password),
        ])),
    );
    post(
        "/admin/users/enable",
        &[("csrf", &csrf), ("username", "new.pm@nhs.net")],
    );
    let reset = post(
        "/admin/users/reset",
        &[("csrf", &csrf), ("username", "new.pm@nhs.net")],
    );
    let fresh = reset
        .1
        .split("shown only now: ")
        .nth(1)
        .and_then(|r| r.split(' ').next())
        .expect("a new password")
        .to_owned();
    let old = request(
        &addr,
        "POST",
        "/login",
        None,
        Some(&form(&[
            ("username", "new.pm@nhs.net"),
            ("password", &password),
        ])),
    );
    let new = request(
        &addr,
        "POST",
        "/login",
        None,
        Some(&form(&[
            ("username", "new.pm@nhs.net"),
            ("password", &fresh),
        ])),
    );
    let pm = format!(
        "cw_session={}",
        set_cookie(&new.1, "cw_session").expect("cookie")
    );
    let pm_page = get_as(&addr, "/admin/users", &pm);
    stop(child);
    assert_eq!(page.0, 200);
    assert!(
        page.1.contains("aria-current=\"page\"><strong class=\"nhsuk-header__navigation-item-current-fallback\">Administration</strong></a>")
            && page.1.contains("href=\"/admin/agents\"")
            && page.1.contains("href=\"/admin/import\"")
            && page.1.contains("demo"),
        "{}",
        page.1
    );
    assert_eq!(added.0, 200, "{}", added.1);
    assert_eq!(first.0, 303, "the new operator signs in: {}", first.1);
    assert_eq!(refused.0, 400);
    assert!(refused.1.contains("is not a role"), "{}", refused.1);
    assert_eq!(no_role.0, 400, "{}", no_role.1);
    assert!(
        no_role
            .1
            .contains("<a href=\"#role\">Choose the operator&#39;s role</a>")
            && no_role
                .1
                .contains("<option value=\"\" selected>Choose a role</option>"),
        "nobody is made an administrator by default: {}",
        no_role.1
    );
    assert!(
        page.1
            .contains("<option value=\"\" selected>Choose a role</option>"),
        "the list starts unchosen: {}",
        page.1
    );
    assert_eq!(no_org.0, 400);
    assert!(no_org.1.contains("at least one ODS code"));
    assert_eq!(unknown_org.0, 400, "{}", unknown_org.1);
    assert!(
        unknown_org
            .1
            .contains("There is no organisation, site or ICB ZZZ99 in the estate")
            && unknown_org.1.contains("value=\"A10000 ZZZ99\""),
        "refused, what was typed kept: {}",
        unknown_org.1
    );
    assert_eq!(forged.0, 403);
    assert!(myself.1.contains("cannot disable yourself"));
    assert!(disabled.1.contains("Disabled new.pm@nhs.net"));
    assert_eq!(after_disable.0, 401);
    assert_eq!(old.0, 401, "the old password no longer works");
    assert_eq!(new.0, 303);
    assert_eq!(pm_page.0, 403);
    assert!(!pm_page.1.contains(">Administration</a>"));
    let audit = ok(&cardwatch(&db, &["audit", "show", "--limit", "1000"]));
    assert!(
        audit.contains("\"actor\":\"web:demo\""),
        "changes made in the browser are audited"
    );
}

/// Every page, signed in, in real Chromium at a phone's width (390 px) and a desktop's (1280 px):
/// no serious or critical axe violation, no sideways scroll of the page (wide tables scroll in
/// their own box), the header's links folded into its "More" menu on the phone, and not one
/// request to a host other than the server — nor, in the page's HTML, another host's address.
#[test]
fn every_page_passes_axe_in_chromium() {
    let (tmp, db) = scratch_db();
    let (child, addr, admin) = serve_demo_signed_in(&db, "2");
    let card = card_at(&db, "A10000");
    integration_at(&db, tmp.path(), "A10000");
    let pages = [
        "/".to_owned(),
        "/findings".into(),
        "/plan?capacity=3".into(),
        "/plan/migration".into(),
        "/plan".into(),
        "/plan?capacity=abc".into(),
        "/triage".into(),
        "/triage?symptom=cannot-sign".into(),
        "/triage?text=my+coffee+is+cold".into(),
        "/triage?text=the+reader+light+is+off+and+it+timed+out".into(),
        "/triage?symptom=cannot-sign&obs=middleware-version%3Aoutdated&obs=update-middleware%3Anot-fixed".into(),
        "/incidents".into(),
        "/audit".into(),
        "/account".into(),
        "/estate/people".into(),
        "/admin/users".into(),
        "/admin/jobs".into(),
        "/admin/agents".into(),
        "/admin/import".into(),
        "/reviews?show=all".into(),
        "/admin/sites".into(),
        "/admin/sites?site=A10000".into(),
        format!("/cards/{card}"),
        format!("/people/{}", person_at(&db, "A10000")),
        "/workstations/a10000-ws001".into(),
        "/integrations/t1-a10000".into(),
        "/estate/integrations".into(),
        "/reports".into(),
        "/admin/retention".into(),
        "/login".into(),
        "/incidents/1/packet".into(),
    ];
    let html: Vec<(&String, String)> = pages
        .iter()
        .map(|p| (p, get_as(&addr, p, &admin).1))
        .collect();
    let reports = axe_in_chromium(&addr, &admin, &pages);
    stop(child);
    for (p, page) in &html {
        let elsewhere = other_hosts(page, &addr);
        assert!(elsewhere.is_empty(), "{p} names {elsewhere:?}");
    }
    for (width, report) in &reports {
        for p in &pages {
            let r = &report[p];
            // A refused value is shown on its page, with the status that says so.
            let status = if p.as_str() == "/plan?capacity=abc" {
                400
            } else {
                200
            };
            assert_eq!(r["status"], status, "{p} at {width} px: {r}");
            assert_accessible_and_fits(p, *width, r);
            assert_eq!(r["offsite"], serde_json::json!([]), "{p} at {width} px");
            // The packet is a page to print and pass on, with no header.
            if *width == 390 && p != "/login" && !p.ends_with("/packet") {
                assert_eq!(r["menu"], true, "{p}: the header's menu folds on a phone");
            }
        }
    }
}

/// The addresses in a page or asset other than the server's own (`addr`) and the SVG namespace
/// (a name in `xmlns`, never fetched).
fn other_hosts(text: &str, addr: &str) -> Vec<String> {
    let own = [
        format!("http://{addr}"),
        "http://www.w3.org/2000/svg".to_owned(),
    ];
    let mut found = Vec::new();
    for scheme in ["https://", "http://"] {
        for (at, _) in text.match_indices(scheme) {
            let rest = &text[at..];
            if !own.iter().any(|o| rest.starts_with(o.as_str())) {
                found.push(rest.chars().take(60).collect());
            }
        }
    }
    found
}

/// What the server sends for its own assets (stylesheets, scripts, icons) names no other host: a
/// stylesheet's font or a script's import from elsewhere would make every page wait on it.
#[test]
fn no_asset_names_another_host() {
    let (_tmp, db) = scratch_db();
    let (child, addr, _) = serve_demo_signed_in(&db, "1");
    let assets: Vec<(&str, (u16, String))> = [
        "/assets/nhsuk-frontend.min.css",
        "/assets/nhsuk-frontend.min.js",
        "/assets/cardwatch.css",
        "/assets/cardwatch.js",
        "/assets/js-enabled.js",
        "/assets/images/favicon.svg",
        "/assets/images/nhsuk-icon-arrow-down.svg",
        "/assets/images/nhsuk-icon-arrow-up-down.svg",
        "/assets/images/nhsuk-icon-arrow-up.svg",
        "/assets/images/nhsuk-icon-cross.svg",
        "/assets/images/nhsuk-icon-mask.svg",
    ]
    .into_iter()
    .map(|a| (a, get(&addr, a)))
    .collect();
    stop(child);
    for (path, (status, response)) in &assets {
        assert_eq!(*status, 200, "{path}");
        let elsewhere = other_hosts(response, &addr);
        assert!(elsewhere.is_empty(), "{path} names {elsewhere:?}");
    }
    let css = &assets[0].1 .1;
    assert!(
        !css.contains("@font-face") && css.contains("font-family:Frutiger W01,arial,sans-serif"),
        "the NHS.UK stylesheet keeps its font stack without loading a font"
    );
}

#[test]
fn findings_are_acknowledged_and_reopened_in_the_browser() {
    let (_tmp, db) = scratch_db();
    let (child, addr, _) = serve_demo_signed_in(&db, "2");
    add_pm(&db);
    add_auditor(&db);
    let pm = signed_in(&addr, "pm@nhs.net");
    let auditor = signed_in(&addr, "audit@nhs.net");
    let page = get_as(&addr, "/findings", &pm);
    let csrf = csrf_of(&page.1);
    let id = page
        .1
        .split("name=\"id\" value=\"")
        .nth(1)
        .and_then(|r| r.split('"').next())
        .expect("a finding's form")
        .replace("&amp;", "&");
    let theirs = ok(&cardwatch(
        &db,
        &["check", "--site", "A10001", "--format", "csv"],
    ));
    let other_id = theirs
        .lines()
        .nth(1)
        .and_then(|l| l.split(',').next())
        .expect("a finding at A10001")
        .to_owned();
    let post = |cookie: &str, pairs: &[(&str, &str)]| {
        request(
            &addr,
            "POST",
            "/findings/note",
            Some(cookie),
            Some(&form(pairs)),
        )
    };
    let no_reason = post(
        &pm,
        &[
            ("csrf", &csrf),
            ("id", &id),
            ("action", "acknowledged"),
            ("reason", ""),
        ],
    );
    let forged = post(
        &pm,
        &[
            ("csrf", "x"),
            ("id", &id),
            ("action", "acknowledged"),
            ("reason", "on it"),
        ],
    );
    let other = post(
        &pm,
        &[
            ("csrf", &csrf),
            ("id", &other_id),
            ("action", "acknowledged"),
            ("reason", "on it"),
        ],
    );
    let acked = post(
        &pm,
        &[
            ("csrf", &csrf),
            ("id", &id),
            ("action", "acknowledged"),
            ("reason", "renewal booked"),
        ],
    );
    let after = get_as(&addr, "/api/v1/findings?limit=10000", &pm);
    let reopened = post(
        &pm,
        &[
            ("csrf", &csrf),
            ("id", &id),
            ("action", "reopen"),
            ("reason", "booking cancelled"),
        ],
    );
    let audit_page = get_as(&addr, "/findings", &auditor);
    let audit_try = request(
        &addr,
        "POST",
        "/findings/note",
        Some(&auditor),
        Some(&form(&[
            ("csrf", "x"),
            ("id", &id),
            ("action", "snoozed"),
            ("reason", "x"),
        ])),
    );
    stop(child);
    assert_eq!(no_reason.0, 400, "{}", no_reason.1);
    assert!(no_reason.1.contains("needs a reason"));
    assert_eq!(forged.0, 403);
    assert_eq!(other.0, 403, "another organisation's finding");
    assert_eq!(acked.0, 303, "{}", acked.1);
    let v = body_json(&after.1);
    let noted = v["findings"]
        .as_array()
        .expect("findings")
        .iter()
        .find(|f| f["note"]["reason"] == "renewal booked");
    assert!(noted.is_some(), "the note shows: {}", after.1);
    assert_eq!(reopened.0, 303);
    assert!(
        !audit_page.1.contains("/findings/note"),
        "no forms for a read-only auditor"
    );
    assert_eq!(audit_try.0, 403);
    let audit = ok(&cardwatch(&db, &["audit", "show", "--limit", "1000"]));
    assert!(
        audit.contains("\"action\":\"acknowledged\"")
            && audit.contains("\"actor\":\"web:pm@nhs.net\""),
        "audited"
    );
}

#[test]
fn schemathesis_finds_the_api_keeps_its_document() {
    let (tmp, db) = scratch_db();
    let (child, addr, _) = serve_demo_signed_in(&db, "2");
    ok(&user(
        &db,
        &[
            "add",
            "robot@nhs.net",
            "--name",
            "Fuzzer",
            "--role",
            "administrator",
        ],
        Some(PW),
    ));
    let out = token(
        &db,
        &["add", "--user", "robot@nhs.net", "--name", "schemathesis"],
    );
    let secret = out
        .split("secret: ")
        .nth(1)
        .and_then(|r| r.split_whitespace().next())
        .expect("secret")
        .to_owned();
    // An enrolled agent, so the agents' own operations are tried past their credential.
    let enrolment = ok(&cardwatch(&db, &["agent", "token"]))
        .lines()
        .last()
        .expect("an enrolment token")
        .trim()
        .to_owned();
    let enrolled = send_with(
        &addr,
        "POST",
        "/api/v1/agents/enrol",
        &[],
        Some((
            "application/json",
            &format!(r#"{{"token": "{enrolment}", "hostname": "fuzz-ws", "version": "0.1.0"}}"#),
        )),
    );
    assert_eq!(enrolled.0, 201, "{}", enrolled.1);
    let credential = body_json(&enrolled.1)["credential"]
        .as_str()
        .expect("credential")
        .to_owned();
    // Every conformance check schemathesis 4.32 has but the stateful ones (which need links
    // the document does not declare) and ignored_auth (the anonymous run below covers it, and
    // asserts more: 401 on every operation).
    let checks = "not_a_server_error,status_code_conformance,content_type_conformance,\
                  response_headers_conformance,response_schema_conformance,\
                  negative_data_rejection,positive_data_acceptance,missing_required_header,\
                  unsupported_method";
    let document = format!("http://{addr}/api/v1/openapi.json");
    let run = |name: &str, args: &[String]| {
        let started = std::time::Instant::now();
        // Run in the temporary folder, with no example database: nothing lands in the tree.
        let out = Command::new("schemathesis")
            .current_dir(tmp.path())
            .args(["run", &document, "--checks", checks])
            .args(["--max-examples", "100", "--seed", "7"])
            .args(["--generation-database", "none", "--no-color"])
            // Generating the triage body (every check's results) is slow on a loaded machine:
            // that says nothing about the API, and no example is dropped for it.
            .args(["--suppress-health-check", "too_slow"])
            .args(args)
            .output()
            .expect("schemathesis (scripts/test installs it)");
        let said = format!("{}\n{}", text(&out.stdout), text(&out.stderr));
        eprintln!(
            "schemathesis {name}: {:.1} s, {}",
            started.elapsed().as_secs_f64(),
            said.lines()
                .find(|l| l.contains("generated"))
                .unwrap_or("")
                .trim()
        );
        (out.status.success(), said)
    };
    let operator = run(
        "with a token",
        &["-H".into(), format!("Authorization: Bearer {secret}")],
    );
    let agent = run(
        "as an agent",
        &[
            "-H".into(),
            format!("Authorization: Agent {credential}"),
            "--include-path-regex".into(),
            "/agents/(heartbeat|events)$".into(),
        ],
    );
    let har = tmp.path().join("anonymous.har");
    let anonymous = run(
        "anonymously",
        &[
            "--report".into(),
            "har".into(),
            "--report-har-path".into(),
            har.display().to_string(),
        ],
    );
    let doc = body_json(&get(&addr, "/api/v1/openapi.json").1);
    stop(child);
    for (name, (passed, said)) in [
        ("with a token", &operator),
        ("as an agent", &agent),
        ("anonymously", &anonymous),
    ] {
        assert!(
            *passed && said.contains(" passed") && !said.contains("failures"),
            "schemathesis {name} found the API breaking its document:\n{said}"
        );
    }
    // Anonymously, every documented operation answers 401 to every request; only a method the
    // document does not list gets 405 first.
    let har: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&har).expect("the HAR report")).expect("HAR");
    let documented: Vec<(String, String)> = doc["paths"]
        .as_object()
        .expect("paths")
        .iter()
        .flat_map(|(path, ops)| {
            let ops = ops.as_object().expect("operations");
            ops.keys()
                .map(|m| (m.to_uppercase(), path.clone()))
                .collect::<Vec<_>>()
        })
        .collect();
    let matches = |method: &str, url: &str, (m, path): &(String, String)| {
        let url_path = url.split('?').next().unwrap_or(url);
        let url_path = &url_path[url_path.find("/api/").unwrap_or(0)..];
        let segments: Vec<&str> = url_path.split('/').collect();
        let pattern: Vec<&str> = path.split('/').collect();
        m == method
            && segments.len() == pattern.len()
            && segments
                .iter()
                .zip(&pattern)
                .all(|(s, p)| p.starts_with('{') || s == p)
    };
    let mut answered: std::collections::HashMap<&(String, String), usize> = Default::default();
    let entries = har["log"]["entries"].as_array().expect("entries");
    for e in entries {
        let (method, url) = (
            e["request"]["method"].as_str().expect("method"),
            e["request"]["url"].as_str().expect("url"),
        );
        let status = e["response"]["status"].as_u64().expect("status");
        match documented.iter().find(|op| matches(method, url, op)) {
            Some(op) => {
                assert_eq!(
                    status, 401,
                    "{method} {url} answered an anonymous caller {status}"
                );
                *answered.entry(op).or_default() += 1;
            }
            None => assert_eq!(status, 405, "{method} {url}: {status}"),
        }
    }
    for op in &documented {
        assert!(
            answered.get(op).copied().unwrap_or(0) > 0,
            "{op:?} was never tried anonymously"
        );
    }
    assert!(documented.len() >= 25, "{documented:?}");
}

#[test]
fn a_person_in_chromium_signs_in_opens_a_card_acknowledges_and_escalates() {
    let (tmp, db) = scratch_db();
    let (child, addr, _) = serve_demo_signed_in(&db, "2");
    add_pm(&db);
    integration_at(&db, tmp.path(), "A10000");
    // Screenshots are kept as the test's artefacts; an earlier run's are cleared first, so
    // that each one found below was made by this run.
    let out = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../target/screenshots");
    match std::fs::remove_dir_all(&out) {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => panic!("{}: {e}", out.display()),
        _ => {}
    }
    let script =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/browser/flow.mjs");
    let run = browser()
        .arg(&script)
        .arg(format!("http://{addr}"))
        .args([PM, PW])
        .arg(&out)
        .output()
        .expect("node (scripts/test installs the browser tests' packages)");
    stop(child);
    let seen: serde_json::Value =
        serde_json::from_str(&ok(&run)).unwrap_or_else(|e| panic!("{e}: {}", text(&run.stderr)));
    assert_eq!(seen["redirectedToSignIn"], true, "{seen}");
    assert!(
        seen["overview"].as_str().expect("h1").contains("Overview"),
        "{seen}"
    );
    assert!(
        seen["card"].as_str().expect("h1").starts_with("Card CS"),
        "{seen}"
    );
    assert_eq!(seen["acknowledged"], true, "{seen}");
    assert_eq!(seen["escalated"], true, "{seen}");
    assert_eq!(seen["packet"], true, "{seen}");
    assert_eq!(seen["reports"], true, "{seen}");
    assert_eq!(seen["integration"], "Integration t1-a10000", "{seen}");
    assert_eq!(seen["integrationNotReady"], true, "{seen}");
    for f in [
        "1-overview.png",
        "2-card.png",
        "3-findings.png",
        "4-triage.png",
        "5-escalate.png",
        "6-packet.png",
        "packet.pdf",
        "7-reports.png",
        "8-integration.png",
    ] {
        let bytes = std::fs::read(out.join(f)).unwrap_or_else(|e| panic!("{f} was not saved: {e}"));
        let magic: &[u8] = if f.ends_with(".pdf") {
            b"%PDF"
        } else {
            b"\x89PNG"
        };
        assert!(
            bytes.starts_with(magic) && bytes.len() > 1000,
            "{f} is not a picture"
        );
    }
    let list = ok(&cardwatch(&db, &["incident", "list", "--json"]));
    assert!(
        list.contains("\"status\": \"escalated\"") && list.contains("web:pm@nhs.net"),
        "{list}"
    );
}

#[test]
fn operators_make_and_revoke_their_own_calendar_feeds() {
    let (_tmp, db) = scratch_db();
    let (child, addr, _) = serve_demo_signed_in(&db, "2");
    add_pm(&db);
    let pm = signed_in(&addr, PM);
    let csrf = csrf_of(&get_as(&addr, "/account", &pm).1);
    let post = |path: &str, pairs: &[(&str, &str)]| {
        request(&addr, "POST", path, Some(&pm), Some(&form(pairs)))
    };
    let made = post(
        "/account/feeds",
        &[
            ("csrf", &csrf),
            ("name", "practice calendar"),
            ("site", "A10000"),
        ],
    );
    // The whole address, the server's configured one in front, to copy as it is.
    let address = made
        .1
        .split("shown only now: ")
        .nth(1)
        .and_then(|r| r.split(' ').next())
        .expect("the address");
    assert!(address.starts_with("http"), "{address}");
    let feed = address[address.find("/feeds/").expect("a feed's path")..].to_owned();
    let calendar = get(&addr, &feed);
    let other_site = post(
        "/account/feeds",
        &[("csrf", &csrf), ("name", "theirs"), ("site", "A10001")],
    );
    let forged = post("/account/feeds", &[("csrf", "x"), ("name", "x")]);
    let id = made
        .1
        .split("name=\"id\" value=\"")
        .nth(1)
        .and_then(|r| r.split('"').next())
        .expect("the feed's id")
        .to_owned();
    let revoked = post("/account/feeds/revoke", &[("csrf", &csrf), ("id", &id)]);
    let after = get(&addr, &feed);
    let someone_elses = post(
        "/account/feeds/revoke",
        &[("csrf", &csrf), ("id", "000000000000")],
    );
    stop(child);
    assert_eq!(made.0, 200, "{}", made.1);
    assert!(
        made.1.contains("practice calendar") && made.1.contains("A10000"),
        "{}",
        made.1
    );
    assert_eq!(calendar.0, 200);
    assert!(calendar.1.contains("BEGIN:VCALENDAR"));
    // Refused on the form, with what was typed kept.
    assert_eq!(other_site.0, 400, "{}", other_site.1);
    assert!(
        other_site.1.contains("A10001 is not one of your sites")
            && other_site.1.contains("value=\"theirs\"")
            && other_site.1.contains("value=\"A10001\""),
        "{}",
        other_site.1
    );
    assert_eq!(forged.0, 403);
    assert_eq!(revoked.0, 200);
    assert!(revoked.1.contains("revoked"), "{}", revoked.1);
    assert_eq!(after.0, 404, "a revoked feed is gone");
    assert_eq!(someone_elses.0, 400);
}

#[test]
fn the_overview_counts_the_callers_sites_and_follows_every_change() {
    let (_tmp, db) = scratch_db();
    let (child, addr, admin) = serve_demo_signed_in(&db, "2");
    add_pm(&db);
    let pm = signed_in(&addr, PM);
    let mine = body_json(&get_as(&addr, "/api/v1/overview", &pm).1);
    let all = body_json(&get_as(&addr, "/api/v1/overview", &admin).1);
    let findings = body_json(&get_as(&addr, "/api/v1/findings?limit=10000", &pm).1);
    let migration = body_json(&get_as(&addr, "/api/v1/plan/migration", &pm).1);
    let list = findings["findings"].as_array().expect("findings");
    let rules = |suffix: &str| {
        list.iter()
            .filter(|f| {
                f["rule"]
                    .as_str()
                    .is_some_and(|r| r.starts_with("cert-") && r.ends_with(suffix))
            })
            .count() as u64
    };
    assert_eq!(
        mine["certificates_expired"].as_u64(),
        Some(rules("-expired")),
        "{mine}"
    );
    assert_eq!(
        mine["certificates_in_renewal_window"].as_u64(),
        Some(rules("-7d") + rules("-30d") + rules("-90d")),
        "{mine}"
    );
    let urgent = list
        .iter()
        .filter(|f| matches!(f["severity"].as_str(), Some("urgent" | "critical")))
        .count() as u64;
    assert_eq!(mine["urgent_findings"].as_u64(), Some(urgent));
    assert!(
        all["certificates_in_renewal_window"].as_u64()
            >= mine["certificates_in_renewal_window"].as_u64()
    );
    assert!(
        all["urgent_findings"].as_u64() > mine["urgent_findings"].as_u64(),
        "the administrator sees both practices"
    );
    let home = get_as(&addr, "/", &pm);
    assert!(home.1.contains("urgent or critical findings"), "{}", home.1);
    // One line says how many of the practice's workstations must move before CIS1 retires.
    let to_move = list
        .iter()
        .filter(|f| f["rule"] == "auth-client-retiring")
        .count() as u64;
    assert!(to_move > 0);
    assert_eq!(
        mine["workstations_to_move"].as_u64(),
        Some(to_move),
        "{mine}"
    );
    // The migration plan the line links to counts the same machines, and the same held up.
    let machines: Vec<&serde_json::Value> = migration["plan"]["sites"]
        .as_array()
        .expect("sites")
        .iter()
        .flat_map(|s| s["machines"].as_array().expect("machines"))
        .collect();
    let state = |st: &str| machines.iter().filter(|m| m["state"] == st).count() as u64;
    assert_eq!(
        Some(machines.len() as u64 - state("moved")),
        mine["workstations_to_move"].as_u64(),
        "{migration}"
    );
    assert_eq!(
        Some(state("blocked")),
        mine["workstations_held_up"].as_u64(),
        "{migration}"
    );
    assert!(
        home.1.contains(&format!(
            "{to_move} workstations</a> sign in with NHS Identity Agent (CIS1 authentication) and must move to NHS Smartcard Connect (CIS2 authentication) before 28 February 2027"
        )),
        "{}",
        home.1
    );
    // A change made elsewhere (the CLI) shows at once: the cached check follows the audit chain.
    let id = list
        .iter()
        .find(|f| f["note"].is_null())
        .and_then(|f| f["id"].as_str())
        .expect("an open finding")
        .to_owned();
    ok(&cardwatch(
        &db,
        &["finding", "snooze", &id, "--reason", "waiting for stock"],
    ));
    let after = body_json(&get_as(&addr, "/api/v1/findings?limit=10000", &pm).1);
    stop(child);
    assert!(
        !after["findings"]
            .as_array()
            .expect("findings")
            .iter()
            .any(|f| f["id"] == id.as_str()),
        "snoozed: hidden"
    );
}

#[test]
fn a_persons_page_shows_positions_cards_and_both_certificates_in_scope() {
    let (_tmp, db) = scratch_db();
    let (child, addr, _) = serve_demo_signed_in(&db, "2");
    add_pm(&db);
    let pm = signed_in(&addr, PM);
    let card = card_at(&db, "A10000");
    let holder = ok(&cardwatch(&db, &["export", "cards"]))
        .lines()
        .find(|l| l.starts_with(&card))
        .and_then(|l| l.split(',').nth(1))
        .expect("holder")
        .to_owned();
    let api = get_as(&addr, &format!("/api/v1/people/{holder}"), &pm);
    let page = get_as(&addr, &format!("/people/{holder}"), &pm);
    let other = get_as(
        &addr,
        &format!("/api/v1/people/{}", person_at(&db, "A10001")),
        &pm,
    );
    let bad = get_as(&addr, "/api/v1/people/1.23457E%2B11", &pm);
    let list = get_as(&addr, "/estate/people", &pm);
    stop(child);
    assert_eq!(api.0, 200, "{}", api.1);
    let v = body_json(&api.1);
    assert_eq!(v["person"]["uuid"], holder.as_str());
    let cards = v["cards"].as_array().expect("cards");
    let this = cards
        .iter()
        .find(|c| c["card"]["card_serial"] == card.as_str())
        .expect("the card");
    assert_eq!(
        this["certificates"].as_array().expect("certs").len(),
        2,
        "both certificates"
    );
    assert!(this["certificates"][0]["state"].is_string());
    assert_eq!(page.0, 200);
    assert!(
        page.1.contains(&format!("/cards/{card}")) && page.1.contains("Positions"),
        "{}",
        page.1
    );
    assert_eq!(other.0, 404);
    assert_eq!(bad.0, 400, "a spreadsheet-mangled UUID is named: {}", bad.1);
    assert!(
        list.1.contains("<a href=\"/people/"),
        "the list links each person"
    );
}

#[test]
fn a_workstations_page_judges_its_software_against_the_catalogue() {
    let (_tmp, db) = scratch_db();
    let (child, addr, _) = serve_demo_signed_in(&db, "2");
    add_pm(&db);
    let pm = signed_in(&addr, PM);
    let api = get_as(&addr, "/api/v1/workstations/A10000-WS001", &pm);
    let page = get_as(&addr, "/workstations/a10000-ws001", &pm);
    let other = get_as(&addr, "/api/v1/workstations/a10001-ws001", &pm);
    let bad = get_as(&addr, "/api/v1/workstations/not%20a%20host", &pm);
    let list = get_as(&addr, "/estate/workstations", &pm);
    stop(child);
    assert_eq!(api.0, 200, "{}", api.1);
    let v = body_json(&api.1);
    assert_eq!(v["workstation"]["hostname"], "a10000-ws001");
    let sw = v["software"].as_array().expect("software");
    let ia = sw
        .iter()
        .find(|s| s["component"] == "identity-agent")
        .expect("identity agent judged");
    assert!(
        ["current", "outdated", "missing"].contains(&ia["verdict"].as_str().expect("verdict")),
        "{ia}"
    );
    assert!(
        sw.iter().any(|s| s["component"] == "gemalto-middleware"),
        "software to remove is judged too"
    );
    assert!(!v["readers"].as_array().expect("readers").is_empty());
    assert_eq!(page.0, 200);
    assert!(page.1.contains("against the catalogue"), "{}", page.1);
    // Each verdict in what to do, each component by the catalogue's name.
    let said = |verdict: &str| match verdict {
        "current" => "Up to date",
        "outdated" => "Out of date: update it",
        "missing" => "Not installed: install it",
        "present" => "Installed: remove it",
        _ => "Not installed, as it should be",
    };
    for s in sw {
        let verdict = s["verdict"].as_str().expect("verdict");
        assert!(page.1.contains(said(verdict)), "{verdict}: {}", page.1);
    }
    assert!(page.1.contains("NHS Identity Agent"), "{}", page.1);
    assert_eq!(other.0, 404);
    assert_eq!(bad.0, 400);
    assert!(
        list.1.contains("<a href=\"/workstations/"),
        "the list links each workstation"
    );
}

#[test]
fn an_integrations_page_says_what_would_stop_its_synchronisation() {
    let (tmp, db) = scratch_db();
    let (child, addr, _) = serve_demo_signed_in(&db, "2");
    let card = integration_at(&db, tmp.path(), "A10000");
    integration_at(&db, tmp.path(), "A10001");
    add_pm(&db);
    let pm = signed_in(&addr, PM);
    let api = get_as(&addr, "/api/v1/integrations/T1-A10000", &pm);
    let page = get_as(&addr, "/integrations/t1-a10000", &pm);
    let other = get_as(&addr, "/api/v1/integrations/t1-a10001", &pm);
    let bad = get_as(&addr, "/api/v1/integrations/not%20an%20id", &pm);
    let list = get_as(&addr, "/estate/integrations", &pm);
    let listed = get_as(&addr, "/api/v1/estate/integrations", &pm);
    let readiness = get_as(&addr, "/api/v1/findings?rule=integration-", &pm);
    let filtered_page = get_as(&addr, "/findings?rule=integration-emis", &pm);
    stop(child);
    let found = body_json(&readiness.1);
    let rules: Vec<&str> = found["findings"]
        .as_array()
        .expect("findings")
        .iter()
        .map(|f| f["rule"].as_str().unwrap_or(""))
        .collect();
    assert!(rules.contains(&"integration-emis-cdb"), "{rules:?}");
    assert!(
        rules.iter().all(|r| r.starts_with("integration-")),
        "{rules:?}"
    );
    assert!(filtered_page.1.contains("value=\"integration-emis\""));
    assert_eq!(api.0, 200, "{}", api.1);
    let v = body_json(&api.1);
    assert_eq!(v["integration"]["service_emis_cdb"], "11112");
    assert_eq!(v["ready"], false);
    let rules = |findings: &serde_json::Value| -> Vec<String> {
        findings
            .as_array()
            .expect("findings")
            .iter()
            .map(|f| f["rule"].as_str().unwrap_or("").to_owned())
            .collect()
    };
    assert_eq!(rules(&v["findings"]), ["integration-emis-cdb"]);
    assert_eq!(v["cards"][0]["card_serial"], card.as_str());
    assert!(
        rules(&v["cards"][0]["findings"]).contains(&"integration-emis-account".to_owned()),
        "{}",
        v["cards"]
    );
    assert_eq!(page.0, 200);
    assert!(page.1.contains("Not ready"), "{}", page.1);
    assert!(page.1.contains("&quot;11112&quot;") || page.1.contains("11112"));
    assert!(page.1.contains(&format!("href=\"/cards/{card}\"")));
    assert_eq!(other.0, 404, "another organisation's profile is not found");
    assert_eq!(bad.0, 400, "{}", bad.1);
    assert!(
        list.1.contains("<a href=\"/integrations/t1-a10000\">"),
        "the list links each profile"
    );
    let items = body_json(&listed.1);
    assert_eq!(items["total"], 1, "only the caller's organisation: {items}");
}

#[test]
fn reports_show_time_lost_and_failure_rates_for_the_callers_sites_only() {
    let (_tmp, db) = scratch_db();
    let (child, addr, admin) = serve_demo_signed_in(&db, "2");
    add_pm(&db);
    let pm = signed_in(&addr, PM);
    let mine = get_as(&addr, "/api/v1/reports?days=30", &pm);
    let all = get_as(&addr, "/api/v1/reports", &admin);
    let page = get_as(&addr, "/reports?days=30", &pm);
    let bad: Vec<u16> = ["days=0", "days=731", "days=soon", "weeks=2"]
        .iter()
        .map(|q| get_as(&addr, &format!("/api/v1/reports?{q}"), &pm).0)
        .collect();
    stop(child);
    let machines = |body: &str| -> u64 {
        body_json(body)["versions"]
            .as_array()
            .expect("versions")
            .iter()
            .filter(|v| v["component"] == "identity-agent")
            .map(|v| v["machines"].as_u64().unwrap_or(0))
            .sum()
    };
    assert_eq!(mine.0, 200, "{}", mine.1);
    let v = body_json(&mine.1);
    assert_eq!(v["days"], 30);
    assert!(v["staff_time_lost"]["holder_minutes"].is_number(), "{v}");
    assert!(
        machines(&mine.1) > 0,
        "the practice's workstations are counted"
    );
    assert!(
        machines(&mine.1) < machines(&all.1),
        "a practice manager sees their own workstations only"
    );
    assert_eq!(page.0, 200);
    assert!(
        page.1.contains("Failure rate by software version"),
        "{}",
        page.1
    );
    assert_eq!(bad, [400, 400, 400, 400]);
}

#[test]
fn administrators_erase_leavers_past_the_retention_period() {
    let (tmp, db) = scratch_db();
    let (child, addr, admin) = serve_demo_signed_in(&db, "2");
    // Someone who left long ago, with no card and no position: due for erasure.
    import_files(
        &db,
        tmp.path(),
        &[(
            "people.csv",
            "uuid,name,email,staff_role,site_ods,employment_end,local_admin,ra_roles\n\
             555999999999,Olive Leaver,olive.leaver@nhs.net,Receptionist,A10000,2010-01-31,no,\n"
                .to_owned(),
        )],
    );
    add_pm(&db);
    let pm = signed_in(&addr, PM);
    let listed = get_as(&addr, "/api/v1/retention", &admin);
    let refused = get_as(&addr, "/admin/retention", &pm);
    let operators = get_as(&addr, "/api/v1/users", &admin);
    let (_, page) = get_as(&addr, "/admin/retention", &admin);
    let csrf = csrf_of(&page);
    let post = |pairs: &[(&str, &str)]| {
        request(
            &addr,
            "POST",
            "/admin/retention",
            Some(&admin),
            Some(&form(pairs)),
        )
    };
    let forged = post(&[("csrf", "nope")]);
    let before = get_as(&addr, "/api/v1/people/555999999999", &admin);
    let erased = post(&[("csrf", &csrf)]);
    let after = get_as(&addr, "/api/v1/people/555999999999", &admin);
    let again = get_as(&addr, "/api/v1/retention", &admin);
    stop(child);
    assert_eq!(listed.0, 200, "{}", listed.1);
    let due: Vec<String> = body_json(&listed.1)["due"]
        .as_array()
        .expect("due")
        .iter()
        .map(|d| d["uuid"].as_str().unwrap_or("").to_owned())
        .collect();
    assert_eq!(due, ["555999999999"], "only the long-gone leaver");
    assert_eq!(refused.0, 403);
    let users = body_json(&operators.1);
    let pm_row = users["users"]
        .as_array()
        .expect("users")
        .iter()
        .find(|u| u["username"] == PM)
        .expect("the practice manager is listed");
    assert_eq!(
        (pm_row["role"].as_str(), pm_row["organisations"][0].as_str()),
        (Some("practice_manager"), Some("A10000"))
    );
    assert!(!operators.1.contains("argon2"), "never a password hash");
    assert!(page.contains("555999999999"), "{page}");
    assert_eq!(forged.0, 403);
    assert!(before.1.contains("Olive Leaver"), "{}", before.1);
    assert_eq!(erased.0, 200);
    assert!(
        erased
            .1
            .contains("Erased the name, email and staff role of 1 leaver"),
        "{}",
        erased.1
    );
    assert!(
        !after.1.contains("Olive") && after.1.contains("(erased)"),
        "{}",
        after.1
    );
    assert!(!after.1.contains("olive.leaver@nhs.net"));
    assert!(body_json(&again.1)["due"]
        .as_array()
        .expect("due")
        .is_empty());
    let audit = ok(&cardwatch(&db, &["audit", "show", "--limit", "100000"]));
    let erase = audit
        .lines()
        .find(|l| l.contains("\"erase\""))
        .expect("an erase record");
    assert!(!erase.contains("Olive"), "{erase}");
}

#[test]
fn reports_name_a_version_failures_follow_and_hold_its_rollout() {
    use cardwatch_core::date::Timestamp;
    use cardwatch_core::triage::NewIncident;
    use cardwatch_store::Change;

    let (tmp, db) = scratch_db();
    let (child, addr, admin) = serve_demo_signed_in(&db, "2");
    // Three machines (the canary and both pilots of A10000) take a new middleware release, and
    // each then has an incident; no other machine does.
    let hosts = ["a10000-ws001", "a10000-ws002", "a10000-ws003"];
    let software: String = hosts
        .iter()
        .map(|h| format!("{h},oberthur-middleware,6.3.0.1\n"))
        .collect();
    import_files(
        &db,
        tmp.path(),
        &[(
            "software.csv",
            format!("hostname,component,version\n{software}"),
        )],
    );
    {
        let store = cardwatch_store::open(&db).expect("open");
        let secs = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .expect("clock")
            .as_secs() as i64;
        let change = Change {
            actor: "test".into(),
            at: Timestamp::from_unix(secs - 3600),
        };
        for h in hosts {
            let opened = NewIncident {
                reporter: "reception".into(),
                site: Some("A10000".into()),
                card_serial: None,
                hostname: Some(h.into()),
                application: Some("emis-web".into()),
                doing: None,
                symptom: "cannot-sign".into(),
                error_text: None,
            };
            store.open_incident(&opened, &change).expect("incident");
        }
    }
    let api = get_as(&addr, "/api/v1/reports", &admin);
    let page = get_as(&addr, "/reports", &admin);
    stop(child);
    let v = body_json(&api.1);
    let first = &v["versions"][0];
    assert_eq!(
        (first["component"].as_str(), first["version"].as_str()),
        (Some("oberthur-middleware"), Some("6.3.0.1")),
        "the suspect comes first: {v}"
    );
    assert_eq!(first["suspect"], true);
    assert_eq!(first["affected"], 3);
    assert_eq!(first["affected_hosts"], serde_json::json!(hosts));
    assert_eq!(
        first["rollout"],
        serde_json::json!({"action": "hold", "reached": "pilot"})
    );
    assert!(page.1.contains("Failures follow a version"), "{}", page.1);
    assert!(page.1.contains("Hold its rollout"), "{}", page.1);
    assert!(page.1.contains("href=\"/workstations/a10000-ws002\""));
}

#[test]
fn operators_set_their_digest_on_the_account_page() {
    let (_tmp, db) = scratch_db();
    let (child, addr, cookie) = serve_demo_signed_in(&db, "2");
    let page = get_as(&addr, "/account", &cookie);
    assert!(page.1.contains("Digest by email"), "{}", page.1);
    let csrf = csrf_of(&page.1);
    let save = |fields: &[(&str, &str)]| {
        request(
            &addr,
            "POST",
            "/account/digest",
            Some(&cookie),
            Some(&form(fields)),
        )
    };
    // No CSRF token: refused, nothing saved.
    let forged = save(&[
        ("email", "demo@nhs.net"),
        ("frequency", "daily"),
        ("min_severity", "urgent"),
    ]);
    assert_eq!(forged.0, 403, "{}", forged.1);
    for (field, value, says) in [
        ("email", "not-an-address", "is not an email address"),
        ("frequency", "hourly", "not daily, weekly or off"),
        ("min_severity", "dire", "is not one of"),
        ("quiet", "22-06", "HH:MM-HH:MM"),
    ] {
        let mut fields = vec![
            ("csrf", csrf.as_str()),
            ("email", "demo@nhs.net"),
            ("frequency", "daily"),
            ("min_severity", "urgent"),
            ("quiet", ""),
        ];
        fields.retain(|(k, _)| *k != field);
        fields.push((field, value));
        let r = save(&fields);
        assert_eq!(r.0, 400, "{field}: {}", r.1);
        assert!(
            r.1.contains(says) && r.1.contains(field),
            "{field}: {}",
            r.1
        );
    }
    assert!(
        !ok(&cardwatch(&db, &["notify", "list"])).contains("demo"),
        "nothing half-saved"
    );
    let r = save(&[
        ("csrf", &csrf),
        ("email", "demo@nhs.net"),
        ("frequency", "weekly"),
        ("min_severity", "warning"),
        ("quiet", "20:00-07:00"),
    ]);
    assert_eq!(r.0, 200, "{}", r.1);
    assert!(r.1.contains("Digest settings saved") && r.1.contains("value=\"20:00-07:00\""));
    assert!(
        r.1.contains("<option value=\"weekly\" selected>"),
        "{}",
        r.1
    );
    stop(child);
    let list = ok(&cardwatch(&db, &["notify", "list"]));
    assert!(
        list.contains("demo@nhs.net") && list.contains("weekly") && list.contains("20:00-07:00"),
        "{list}"
    );
    let audit = ok(&cardwatch(&db, &["audit", "verify"]));
    assert!(audit.contains("intact"), "{audit}");
}

#[test]
fn sites_core_hours_and_contacts_are_administered_in_the_browser() {
    let (_tmp, db) = scratch_db();
    let (child, addr, admin) = serve_demo_signed_in(&db, "2");
    ok(&user(
        &db,
        &[
            "add",
            "support@nhs.net",
            "--name",
            "Sam Support",
            "--role",
            "support",
            "--org",
            "A10000",
        ],
        Some(PW),
    ));
    let support = signed_in(&addr, "support@nhs.net");
    let page = get_as(&addr, "/admin/sites?site=A10000", &support);
    assert_eq!(page.0, 200, "{}", page.1);
    let csrf = csrf_of(&page.1);
    let post = |path: &str, fields: &[(&str, &str)]| {
        request(&addr, "POST", path, Some(&support), Some(&form(fields)))
    };
    // Bad hours: refused with the import's own words; nothing changes.
    let before = ok(&cardwatch(&db, &["export", "sites"]));
    let bad = post(
        "/admin/sites/hours",
        &[
            ("csrf", &csrf),
            ("site", "A10000"),
            ("core_hours", "Mon-Fri 25:00-18:30"),
        ],
    );
    assert_eq!(bad.0, 400);
    assert!(
        bad.1.contains("There is a problem")
            && bad.1.contains("Nothing was saved")
            && bad.1.contains("href=\"#core_hours\"")
            && bad.1.contains("value=\"Mon-Fri 25:00-18:30\""),
        "refused in the error summary, linking to the hours, what was typed kept: {}",
        bad.1
    );
    assert_eq!(
        ok(&cardwatch(&db, &["export", "sites"])),
        before,
        "nothing half-written"
    );
    let good = post(
        "/admin/sites/hours",
        &[
            ("csrf", &csrf),
            ("site", "A10000"),
            ("core_hours", "Mon-Fri 07:30-19:00"),
        ],
    );
    assert!(good.1.contains("Core hours saved"), "{}", good.1);
    // The audit log says where the change was made, not the one-record file it went through.
    let log = get_as(&addr, "/audit?entity=sites&key=A10000", &admin);
    assert!(
        log.1.contains("saved on a site&#39;s page") && !log.1.contains("sites.json"),
        "{}",
        log.1
    );
    assert!(ok(&cardwatch(&db, &["export", "sites"])).contains("A10000,A10000,"));
    assert!(ok(&cardwatch(&db, &["export", "sites"])).contains("Mon-Fri 07:30-19:00"));
    // Another organisation's site is not there for this operator; no token, no change.
    let other = post(
        "/admin/sites/hours",
        &[
            ("csrf", &csrf),
            ("site", "A10001"),
            ("core_hours", "Mon-Fri 07:30-19:00"),
        ],
    );
    assert_eq!(other.0, 404, "{}", other.1);
    assert!(!other.1.contains("Riverside Medical Practice 2"));
    let forged = post(
        "/admin/sites/hours",
        &[
            ("csrf", "nope"),
            ("site", "A10000"),
            ("core_hours", "Mon-Fri 09:00-17:00"),
        ],
    );
    assert_eq!(forged.0, 403);
    // Contacts: refused without a way to reach them; added; on the cheat sheet; removed.
    let unreachable = post(
        "/admin/sites/contacts",
        &[
            ("csrf", &csrf),
            ("site", "A10000"),
            ("role", "IT service desk"),
            ("name", "Riverside IT"),
        ],
    );
    assert!(
        unreachable.1.contains("give a phone number or an email")
            && unreachable.1.contains("href=\"#c-phone\"")
            && unreachable.1.contains("value=\"Riverside IT\""),
        "{}",
        unreachable.1
    );
    let added = post(
        "/admin/sites/contacts",
        &[
            ("csrf", &csrf),
            ("site", "A10000"),
            ("role", "IT service desk"),
            ("name", "Riverside IT"),
            ("phone", "0161 496 0000"),
        ],
    );
    assert!(
        added.1.contains("Contact added") && added.1.contains("0161 496 0000"),
        "{}",
        added.1
    );
    let sheet = get_as(&addr, "/cheatsheet?site=A10000", &support);
    assert!(
        sheet.1.contains("Riverside IT") && sheet.1.contains("0161 496 0000"),
        "{}",
        sheet.1
    );
    let removed = post(
        "/admin/sites/contacts/remove",
        &[
            ("csrf", &csrf),
            ("site", "A10000"),
            ("role", "IT service desk"),
            ("name", "Riverside IT"),
        ],
    );
    assert!(removed.1.contains("Contact removed"), "{}", removed.1);

    // Spare stock: counted and its reorder level set through the import; a bad count refused.
    let stock = |quantity: &str, minimum: &str| {
        post(
            "/admin/sites/stock",
            &[
                ("csrf", &csrf),
                ("site", "A10000"),
                ("item", "Reader"),
                ("quantity", quantity),
                ("minimum", minimum),
            ],
        )
    };
    let saved = stock("5", "2");
    assert!(saved.1.contains("Spare reader saved"), "{}", saved.1);
    assert!(
        ok(&cardwatch(&db, &["export", "stock"])).contains("A10000,reader,5,2"),
        "the count is in the estate"
    );
    let bad = stock("lots", "2");
    assert_eq!(bad.0, 400);
    assert!(
        bad.1.contains("Nothing was saved")
            && bad.1.contains("Spare now “lots”")
            && bad.1.contains("href=\"#s-quantity\"")
            && bad.1.contains("value=\"lots\""),
        "refused in the error summary, linking to the count, what was typed kept: {}",
        bad.1
    );
    assert!(ok(&cardwatch(&db, &["export", "stock"])).contains("A10000,reader,5,2"));
    let elsewhere = post(
        "/admin/sites/stock",
        &[
            ("csrf", &csrf),
            ("site", "A10001"),
            ("item", "reader"),
            ("quantity", "9"),
            ("minimum", "2"),
        ],
    );
    assert_eq!(elsewhere.0, 404, "another organisation's site");
    stop(child);
    let audit = ok(&cardwatch(&db, &["audit", "verify"]));
    assert!(audit.contains("intact"), "{audit}");
    let trail: Vec<serde_json::Value> =
        ok(&cardwatch(&db, &["audit", "show", "--limit", "100000"]))
            .lines()
            .map(|l| serde_json::from_str(l).expect("json"))
            .filter(|r: &serde_json::Value| {
                r["entity_kind"] == "site_contact" || r["entity_kind"] == "sites"
            })
            .collect();
    let actions: Vec<&str> = trail.iter().filter_map(|r| r["action"].as_str()).collect();
    assert!(
        actions.contains(&"create") && actions.contains(&"delete"),
        "{trail:?}"
    );
    assert!(
        trail
            .iter()
            .any(|r| r["actor"] == "web:support@nhs.net" && r["entity_kind"] == "sites"),
        "the hours change: {trail:?}"
    );
}

#[test]
fn registration_authorities_change_a_cards_status_in_the_browser() {
    let (_tmp, db) = scratch_db();
    let (child, addr, _) = serve_demo_signed_in(&db, "2");
    add_ra_and_pm(&db);
    let (ra, pm) = (signed_in(&addr, RA), signed_in(&addr, PM));
    let (mine, theirs) = (card_at(&db, "A10000"), card_at(&db, "A10001"));
    let path = format!("/cards/{mine}");
    let (status, page) = get_as(&addr, &path, &ra);
    assert_eq!(status, 200);
    assert!(
        page.contains("Change status") && page.contains("value=\"locked\""),
        "{page}"
    );
    let csrf = csrf_of(&page);
    let post = |cookie: &str, card: &str, pairs: &[(&str, &str)]| {
        request(
            &addr,
            "POST",
            &format!("/cards/{card}/status"),
            Some(cookie),
            Some(&form(pairs)),
        )
    };
    let send = |cookie: &str, card: &str, (status, reason): (&str, &str)| {
        post(
            cookie,
            card,
            &[("csrf", &csrf), ("status", status), ("reason", reason)],
        )
    };
    let to = |status: &'static str, reason: &'static str| (status, reason);

    let locked = send(
        &ra,
        &mine,
        to("locked", "three wrong passcodes at reception"),
    );
    assert!(locked.1.contains("The card is now locked."), "{}", locked.1);
    let lost = send(&ra, &mine, to("lost", "left on the bus"));
    assert!(lost.1.contains("The card is now lost."), "{}", lost.1);
    // The state machine holds: a lost card never becomes active again.
    let back = send(&ra, &mine, to("active", "found it"));
    assert!(back.1.contains("never trusted again"), "{}", back.1);
    let (_, page) = get_as(&addr, &path, &ra);
    assert!(!page.contains("value=\"active\""), "not offered either");
    let no_reason = send(&ra, &mine, to("cancelled", "  "));
    assert!(no_reason.1.contains("Say why"), "{}", no_reason.1);
    let nonsense = send(&ra, &mine, to("purple", "because"));
    assert!(nonsense.1.contains("purple"), "{}", nonsense.1);

    // Not theirs to change, not their card, not without the form's token.
    let pm_page = get_as(&addr, &path, &pm).1;
    assert!(
        !pm_page.contains("Change status"),
        "practice managers see no form"
    );
    let pm_csrf = csrf_of(&get_as(&addr, "/account", &pm).1);
    let refused = post(
        &pm,
        &mine,
        &[("csrf", &pm_csrf), ("status", "cancelled"), ("reason", "x")],
    );
    assert_eq!(refused.0, 403);
    let other = send(&ra, &theirs, to("locked", "not mine"));
    assert_eq!(other.0, 404);
    let forged = post(
        &ra,
        &mine,
        &[("csrf", "nope"), ("status", "cancelled"), ("reason", "x")],
    );
    assert_eq!(forged.0, 403);
    stop(child);

    // Each change is in the audit log with its reason, and the chain holds.
    let cards = ok(&cardwatch(&db, &["export", "cards"]));
    assert!(
        cards
            .lines()
            .any(|l| l.starts_with(&format!("{mine},")) && l.contains(",lost,")),
        "{cards}"
    );
    let audit = ok(&cardwatch(&db, &["audit", "show", "--limit", "100000"]));
    let changes: Vec<serde_json::Value> = audit
        .lines()
        .map(|l| serde_json::from_str(l).expect("json"))
        .filter(|r: &serde_json::Value| r["entity_kind"] == "cards" && r["action"] == "status")
        .collect();
    // The two changes made (locked, then lost), each once, by the RA, with the reason given.
    let notes: Vec<&str> = changes.iter().filter_map(|c| c["note"].as_str()).collect();
    assert_eq!(
        notes,
        ["three wrong passcodes at reception", "left on the bus"],
        "{changes:?}"
    );
    for c in &changes {
        assert_eq!(c["entity_key"], mine.as_str());
        assert_eq!(c["actor"], format!("web:{RA}"));
    }
    let last = &changes[1];
    assert!(last["before"]
        .as_str()
        .expect("before")
        .contains("\"status\":\"locked\""));
    assert!(last["after"]
        .as_str()
        .expect("after")
        .contains("\"status\":\"lost\""));
    assert!(ok(&cardwatch(&db, &["audit", "verify"])).contains("intact"));
}

/// A multipart form: text fields, then files as (name, content).
fn multipart(fields: &[(&str, &str)], files: &[(&str, &str)]) -> (String, String) {
    let boundary = "cardwatch-test-boundary";
    let mut body = String::new();
    for (k, v) in fields {
        body.push_str(&format!(
            "--{boundary}\r\nContent-Disposition: form-data; name=\"{k}\"\r\n\r\n{v}\r\n"
        ));
    }
    for (name, content) in files {
        body.push_str(&format!(
            "--{boundary}\r\nContent-Disposition: form-data; name=\"files\"; filename=\"{name}\"\r\nContent-Type: text/csv\r\n\r\n{content}\r\n"
        ));
    }
    body.push_str(&format!("--{boundary}--\r\n"));
    (format!("multipart/form-data; boundary={boundary}"), body)
}

#[test]
fn administrators_import_estate_files_in_the_browser() {
    let (_tmp, db) = scratch_db();
    let (child, addr, admin) = serve_demo_signed_in(&db, "1");
    ok(&user(
        &db,
        &[
            "add",
            "support@nhs.net",
            "--name",
            "Sue",
            "--role",
            "support",
            "--org",
            "A10000",
        ],
        Some(PW),
    ));
    let support = signed_in(&addr, "support@nhs.net");
    let (status, page) = get_as(&addr, "/admin/import", &admin);
    assert_eq!(status, 200);
    let csrf = csrf_of(&page);
    let upload = |cookie: &str, fields: &[(&str, &str)], files: &[(&str, &str)]| {
        let (kind, body) = multipart(fields, files);
        common::send_with(
            &addr,
            "POST",
            "/admin/import",
            &[("Cookie", cookie)],
            Some((&kind, &body)),
        )
    };
    let site = "site_ods,organisation_ods,name,core_hours\r\nA10009,A10000,Riverside Branch Surgery,Mon-Fri 08:00-18:30\r\n";
    let sites = || ok(&cardwatch(&db, &["export", "sites"]));

    let checked = upload(
        &admin,
        &[("csrf", &csrf), ("check", "yes")],
        &[("sites.csv", site)],
    );
    assert_eq!(checked.0, 200, "{}", checked.1);
    assert!(
        checked.1.contains("Nothing was written")
            && checked
                .1
                .contains("<td class=\"nhsuk-table__cell\">1 to add</td>"),
        "{}",
        checked.1
    );
    assert!(!sites().contains("A10009"));
    let done = upload(&admin, &[("csrf", &csrf)], &[("sites.csv", site)]);
    assert!(
        done.1.contains("Imported, and recorded in the audit log")
            && done
                .1
                .contains("<td class=\"nhsuk-table__cell\">1 added</td>"),
        "{}",
        done.1
    );
    assert!(sites().contains("A10009,A10000,Riverside Branch Surgery"));
    let again = upload(&admin, &[("csrf", &csrf)], &[("sites.csv", site)]);
    assert!(
        again
            .1
            .contains("<td class=\"nhsuk-table__cell\">1 site</td>")
            && again
                .1
                .contains("<td class=\"nhsuk-table__cell\">1 already up to date</td>"),
        "the same file again changes nothing: {}",
        again.1
    );

    // A bad row refuses every file, each problem named by file, line and column.
    let people = "uuid,name,email,staff_role,site_ods,employment_end,local_admin,ra_roles\r\n1.23457E+11,Ann Bad,ann@nhs.net,GP,A10000,,no,\r\n";
    let more = "site_ods,organisation_ods,name,core_hours\r\nA10008,A10000,Another Branch,Mon-Fri 08:00-18:30\r\n";
    let bad = upload(
        &admin,
        &[("csrf", &csrf)],
        &[("people.csv", people), ("more-sites.csv", more)],
    );
    assert_eq!(bad.0, 400, "{}", bad.1);
    assert!(
        bad.1
            .contains("1 problem: nothing was imported — correct the row and import again")
            && bad.1.contains("people.csv:2: uuid: 1.23457E+11")
            && bad.1.contains("href=\"#files\""),
        "{}",
        bad.1
    );
    assert!(!sites().contains("A10008"), "nothing half-imported");
    // A header naming no kind's columns is the file's to correct, not a row's.
    let unknown = upload(
        &admin,
        &[("csrf", &csrf)],
        &[("mystery.csv", "colour,flavour\r\nred,lemon\r\n")],
    );
    assert_eq!(unknown.0, 400, "{}", unknown.1);
    assert!(
        unknown.1.contains("correct the file and import again"),
        "{}",
        unknown.1
    );
    let none = upload(&admin, &[("csrf", &csrf)], &[]);
    assert_eq!(none.0, 400);
    assert!(none.1.contains("Choose at least one file"));
    // NHS England's ODS extracts, as published (no header, 27 quoted fields, CRLF).
    let ods = |fields: &[(usize, &str)]| {
        let mut f = vec![String::new(); 27];
        for &(n, v) in fields {
            f[n - 1] = v.to_owned();
        }
        let quoted: Vec<String> = f.iter().map(|v| format!("\"{v}\"")).collect();
        format!("{}\r\n", quoted.join(","))
    };
    let epraccur = [
        ods(&[
            (1, "B82001"),
            (2, "MOOR LANE SURGERY"),
            (4, "QOQ"),
            (11, "19740401"),
            (13, "A"),
            (15, "02Y"),
            (26, "4"),
        ]),
        ods(&[
            (1, "B82002"),
            (2, "OLD MILL SURGERY"),
            (4, "QOQ"),
            (11, "19740401"),
            (12, "20250331"),
            (13, "C"),
            (15, "02Y"),
            (26, "4"),
        ]),
        ods(&[
            (1, "Y02001"),
            (2, "TOWN WALK-IN CENTRE"),
            (4, "QOQ"),
            (13, "A"),
            (15, "02Y"),
            (26, "1"),
        ]),
    ]
    .concat();
    let ebranchs = ods(&[
        (1, "B82001001"),
        (2, "MOOR LANE BRANCH"),
        (4, "QOQ"),
        (13, "A"),
        (15, "B82001"),
    ]);
    let done = upload(
        &admin,
        &[("csrf", &csrf)],
        &[("ebranchs.csv", &ebranchs), ("epraccur.csv", &epraccur)],
    );
    assert!(
        done.1.contains("Imported, and recorded in the audit log"),
        "{}",
        done.1
    );
    assert!(sites().contains("B82001001,B82001,MOOR LANE BRANCH"));
    let orgs = ok(&cardwatch(&db, &["export", "organisations"]));
    assert!(
        orgs.contains("B82002,OLD MILL SURGERY,gp_practice,QOQ,closed,2025-03-31"),
        "{orgs}"
    );
    assert!(
        !orgs.contains("Y02001"),
        "a walk-in centre is not a practice"
    );
    let damaged = epraccur.replace("\"20250331\"", "\"2025-03-31\"");
    let bad = upload(&admin, &[("csrf", &csrf)], &[("epraccur.csv", &damaged)]);
    assert_eq!(bad.0, 400, "{}", bad.1);
    assert!(
        bad.1
            .contains("epraccur.csv:2: column 12 (close date): 2025-03-31"),
        "{}",
        bad.1
    );
    let forged = upload(&admin, &[("csrf", "nope")], &[("sites.csv", site)]);
    assert_eq!(forged.0, 403);
    // Only those who see every organisation import.
    assert_eq!(get_as(&addr, "/admin/import", &support).0, 403);
    let theirs = upload(&support, &[("csrf", &csrf)], &[("sites.csv", site)]);
    assert_eq!(theirs.0, 403);
    stop(child);
    assert!(ok(&cardwatch(&db, &["audit", "verify"])).contains("intact"));
}

#[test]
fn registration_authorities_approve_and_remove_positions_in_the_browser() {
    let (tmp, db) = scratch_db();
    let (child, addr, _) = serve_demo_signed_in(&db, "2");
    add_ra_and_pm(&db);
    // A sponsor's request, waiting for the RA.
    let (mine, theirs) = (person_at(&db, "A10000"), person_at(&db, "A10001"));
    import_files(&db, tmp.path(), &[("positions.csv", format!("holder_uuid,ods_code,role_code,role_name,activity_codes,status,requested_on,approved_on\n{mine},A10000,R8003,Health Professional Access Role,B0570,requested,2026-11-20,\n{mine},A10001,R8004,Health Professional Access Role,B0570,requested,2026-11-20,\n"))]);
    let (ra, pm) = (signed_in(&addr, RA), signed_in(&addr, PM));
    let path = format!("/people/{mine}");
    let page = get_as(&addr, &path, &ra).1;
    assert!(
        page.contains("id=\"to-A10000-R8003\"") && page.contains("value=\"approved\""),
        "{page}"
    );
    let csrf = csrf_of(&page);
    let send = |cookie: &str, who: &str, status: &str, csrf: &str| {
        request(
            &addr,
            "POST",
            &format!("/people/{who}/positions"),
            Some(cookie),
            Some(&form(&[
                ("csrf", csrf),
                ("ods_code", "A10000"),
                ("role_code", "R8003"),
                ("status", status),
            ])),
        )
    };
    let position = || {
        ok(&cardwatch(&db, &["export", "positions"]))
            .lines()
            .find(|l| l.starts_with(&format!("{mine},A10000,R8003,")))
            .expect("the position")
            .to_owned()
    };
    let approved = send(&ra, &mine, "approved", &csrf);
    assert!(
        approved.1.contains("was requested; it is now approved"),
        "{}",
        approved.1
    );
    let today = ok(&cardwatch(&db, &["export", "positions"]));
    assert!(position().contains(",approved,2026-11-20,"), "{today}");
    assert!(
        !position().ends_with(','),
        "the approval is dated: {}",
        position()
    );
    let back = send(&ra, &mine, "requested", &csrf);
    assert!(
        back.1
            .contains("can become active or removed — not requested"),
        "{}",
        back.1
    );
    assert!(send(&ra, &mine, "active", &csrf)
        .1
        .contains("it is now active"));
    assert!(send(&ra, &mine, "removed", &csrf)
        .1
        .contains("it is now removed"));
    assert!(position().contains(",removed,"));
    let again = send(&ra, &mine, "active", &csrf);
    assert!(
        again.1.contains("ask for it again as a new request"),
        "{}",
        again.1
    );
    assert!(
        !get_as(&addr, &path, &ra)
            .1
            .contains("id=\"to-A10000-R8003\""),
        "no form once removed"
    );

    // Not theirs to change, not their person, not without the form's token, not a made-up one.
    assert!(!get_as(&addr, &path, &pm).1.contains(">Change<"));
    let pm_csrf = csrf_of(&get_as(&addr, "/account", &pm).1);
    assert_eq!(send(&pm, &mine, "approved", &pm_csrf).0, 403);
    assert_eq!(send(&ra, &theirs, "approved", &csrf).0, 404);
    assert_eq!(send(&ra, &mine, "approved", "nope").0, 403);
    let none = request(
        &addr,
        "POST",
        &format!("/people/{mine}/positions"),
        Some(&ra),
        Some(&form(&[
            ("csrf", &csrf),
            ("ods_code", "A10000"),
            ("role_code", "R9999"),
            ("status", "approved"),
        ])),
    );
    assert!(
        none.1.contains("holds no position R9999 at A10000"),
        "{}",
        none.1
    );
    // The same person's role at another organisation is out of this RA's reach.
    let other_org = request(
        &addr,
        "POST",
        &format!("/people/{mine}/positions"),
        Some(&ra),
        Some(&form(&[
            ("csrf", &csrf),
            ("ods_code", "A10001"),
            ("role_code", "R8004"),
            ("status", "approved"),
        ])),
    );
    assert_eq!(other_org.0, 404, "{}", other_org.1);
    stop(child);
    assert!(ok(&cardwatch(&db, &["audit", "verify"])).contains("intact"));
}

#[test]
fn access_reviews_keep_and_remove_positions_in_scope() {
    let (tmp, db) = scratch_db();
    let (child, addr, _) = serve_demo_signed_in(&db, "2");
    add_ra_and_pm(&db);
    let (mine, theirs) = (person_at(&db, "A10000"), person_at(&db, "A10001"));
    import_files(&db, tmp.path(), &[("positions.csv", format!("holder_uuid,ods_code,role_code,role_name,activity_codes,status,requested_on,approved_on\n{mine},A10000,R8003,Health Professional Access Role,B0570,active,2024-01-02,2024-01-05\n{theirs},A10001,R8003,Health Professional Access Role,B0570,active,2024-01-02,2024-01-05\n"))]);
    let (ra, pm) = (signed_in(&addr, RA), signed_in(&addr, PM));
    let (status, page) = get_as(&addr, "/reviews", &ra);
    assert_eq!(status, 200);
    assert!(page.contains(&format!("href=\"/people/{mine}\"")), "{page}");
    assert!(
        !page.contains(&theirs),
        "another organisation's holder is not listed"
    );
    assert!(page.contains(">Decide<"));
    let csrf = csrf_of(&page);
    let decide = |cookie: &str, who: &str, decision: &str, reason: &str, csrf: &str| {
        request(
            &addr,
            "POST",
            "/reviews",
            Some(cookie),
            Some(&form(&[
                ("csrf", csrf),
                ("holder_uuid", who),
                ("ods_code", "A10000"),
                ("role_code", "R8003"),
                ("decision", decision),
                ("reason", reason),
            ])),
        )
    };
    let kept = decide(&ra, &mine, "keep", "still prescribes here", &csrf);
    assert!(kept.1.contains("Kept: R8003 at A10000"), "{}", kept.1);
    // Reviewed now: no longer due, but listed with everything.
    let reviewed = |show: &str| {
        let path = format!("/api/v1/reviews?show={show}&limit=5000");
        let v = body_json(&get_as(&addr, &path, &ra).1);
        v["positions"]
            .as_array()
            .and_then(|a| {
                a.iter()
                    .find(|r| r["holder_uuid"] == mine.as_str() && r["role_code"] == "R8003")
            })
            .cloned()
    };
    assert!(reviewed("due").is_none(), "reviewed now: not due");
    let row = reviewed("all").expect("the reviewed position");
    assert_eq!(row["last"]["decision"], "keep");
    assert_eq!(row["last"]["reason"], "still prescribes here");
    assert_eq!(row["last"]["reviewer"], "web:ra@nhs.net");
    let bad = get_as(&addr, "/api/v1/reviews?show=some", &ra);
    assert_eq!(bad.0, 400, "{}", bad.1);

    let no_reason = decide(&ra, &mine, "keep", " ", &csrf);
    assert!(no_reason.1.contains("Say why"), "{}", no_reason.1);
    let odd = decide(&ra, &mine, "maybe", "hmm", &csrf);
    assert!(odd.1.contains("use keep or remove"), "{}", odd.1);
    let removed = decide(&ra, &mine, "remove", "left the practice", &csrf);
    assert!(
        removed.1.contains("Removed: R8003 at A10000"),
        "{}",
        removed.1
    );
    assert!(
        ok(&cardwatch(&db, &["export", "positions"])).contains(&format!(
            "{mine},A10000,R8003,Health Professional Access Role,B0570,removed"
        ))
    );
    let gone = decide(&ra, &mine, "keep", "again", &csrf);
    assert!(
        gone.1
            .contains("holds no position R8003 at A10000 in force"),
        "{}",
        gone.1
    );

    // A practice manager sees the list but decides nothing; no one decides for another
    // organisation's holder or without the form's token.
    let pm_page = get_as(&addr, "/reviews?show=all", &pm).1;
    assert!(!pm_page.contains(">Decide<"));
    assert!(
        pm_page.contains("Your Registration Authority (RA) reviews each one")
            && !pm_page.contains("Keep records that the role was reviewed"),
        "a practice manager is told who decides: {pm_page}"
    );
    let pm_csrf = csrf_of(&get_as(&addr, "/account", &pm).1);
    assert_eq!(decide(&pm, &mine, "keep", "fine", &pm_csrf).0, 403);
    assert_eq!(decide(&ra, &theirs, "keep", "fine", &csrf).0, 404);
    assert_eq!(decide(&ra, &mine, "keep", "fine", "nope").0, 403);
    stop(child);
    assert!(ok(&cardwatch(&db, &["audit", "verify"])).contains("intact"));
}

#[test]
fn everything_held_about_a_person_exports_for_a_subject_access_request() {
    let (_tmp, db) = scratch_db();
    let (child, addr, admin) = serve_demo_signed_in(&db, "1");
    ok(&user(
        &db,
        &[
            "add",
            "pm@nhs.net",
            "--name",
            "Pat",
            "--role",
            "practice_manager",
            "--org",
            "A10000",
        ],
        Some(PW),
    ));
    let pm = signed_in(&addr, "pm@nhs.net");
    let card = card_at(&db, "A10000");
    let holder = ok(&cardwatch(&db, &["export", "cards"]))
        .lines()
        .find(|l| l.starts_with(&format!("{card},")))
        .and_then(|l| l.split(',').nth(1))
        .expect("holder")
        .to_owned();
    // Something about the card in the audit log: a status change.
    ok(&cardwatch(
        &db,
        &[
            "card",
            "set-status",
            &card,
            "locked",
            "--reason",
            "three wrong PINs",
        ],
    ));
    let page = get_as(&addr, &format!("/people/{holder}"), &admin).1;
    assert!(
        page.contains(&format!("href=\"/people/{holder}/export\"")),
        "{page}"
    );
    let (status, response) = get_as(&addr, &format!("/people/{holder}/export"), &admin);
    assert_eq!(status, 200);
    assert!(
        response.contains(&format!("filename=\"person-{holder}.json\"")),
        "{response}"
    );
    let v = body_json(&response);
    assert_eq!(v["person"]["uuid"], holder.as_str());
    assert!(v["cards"]
        .as_array()
        .is_some_and(|c| c.iter().any(|c| c["card"]["card_serial"] == card.as_str())));
    let audit = v["audit"].as_array().expect("audit");
    assert!(
        audit
            .iter()
            .any(|a| a["entity_key"] == card.as_str() && a["note"] == "three wrong PINs"),
        "{audit:?}"
    );
    // Not for a practice manager; not for a person who does not exist.
    assert!(!get_as(&addr, &format!("/people/{holder}"), &pm)
        .1
        .contains("/export\""));
    assert_eq!(
        get_as(&addr, &format!("/people/{holder}/export"), &pm).0,
        403
    );
    assert_eq!(get_as(&addr, "/people/999999999999/export", &admin).0, 404);
    stop(child);
}

/// The plan of the move to Smartcard Connect over the API: made for the whole estate, shown for
/// the caller's sites, with its parameters checked.
#[test]
fn the_migration_plan_api_shows_the_callers_sites() {
    let (_tmp, db) = scratch_db();
    let (child, addr, admin) = serve_demo_signed_in(&db, "3");
    add_pm(&db);
    let pm = signed_in(&addr, PM);
    let all = body_json(&get_as(&addr, "/api/v1/plan/migration?per_day=5", &admin).1);
    let mine = body_json(&get_as(&addr, "/api/v1/plan/migration", &pm).1);
    let bad = get_as(&addr, "/api/v1/plan/migration?per_day=0", &admin);
    let unknown = get_as(&addr, "/api/v1/plan/migration?capacity=3", &admin);
    let page_all = get_as(&addr, "/plan/migration?per_day=5", &admin);
    let page_mine = get_as(&addr, "/plan/migration", &pm);
    let page_bad = get_as(&addr, "/plan/migration?per_day=abc", &admin);
    stop(child);
    // The page: the deadline in words, the counts, every site's machines, scoped like the API.
    assert_eq!(page_all.0, 200, "{}", page_all.1);
    assert!(
        page_all.1.contains("stops working after 28 February 2027")
            && page_all.1.contains("days from today")
            && page_all.1.contains("planned in time")
            && page_all.1.contains("A10001"),
        "{}",
        page_all.1
    );
    assert!(
        page_mine.1.contains("A10000") && !page_mine.1.contains("A10001"),
        "{}",
        page_mine.1
    );
    // A refused value: the error summary on the page, what was typed kept, no JSON.
    assert_eq!(page_bad.0, 400, "{}", page_bad.1);
    assert!(
        page_bad.1.contains("nhsuk-error-summary")
            && page_bad.1.contains("href=\"#per_day\"")
            && page_bad.1.contains("value=\"abc\"")
            && !page_bad.1.contains("\"code\":"),
        "{}",
        page_bad.1
    );
    let sites = |v: &serde_json::Value| -> Vec<String> {
        v["plan"]["sites"]
            .as_array()
            .expect("sites")
            .iter()
            .map(|s| s["site"].as_str().expect("site").to_owned())
            .collect()
    };
    assert_eq!(all["plan"]["works_until"], "2027-02-28", "{all}");
    assert!(sites(&all).iter().any(|s| s.starts_with("A10001")), "{all}");
    let own = sites(&mine);
    assert!(
        !own.is_empty() && own.iter().all(|s| s.starts_with("A10000")),
        "{own:?}"
    );
    let planned: u64 = all["totals"]["planned"].as_u64().unwrap_or(0)
        + all["totals"]["late"].as_u64().unwrap_or(0);
    assert!(planned > 0, "{all}");
    assert_eq!(bad.0, 400, "{}", bad.1);
    assert_eq!(body_json(&bad.1)["error"]["field"], "per_day");
    assert_eq!(unknown.0, 400, "{}", unknown.1);
}

const RA: &str = "ra@nhs.net";
const PM: &str = "pm@nhs.net";

/// Adds `audit@nhs.net`, an auditor: sees every organisation, changes nothing.
fn add_auditor(db: &str) {
    ok(&user(
        db,
        &[
            "add",
            "audit@nhs.net",
            "--name",
            "Ann Auditor",
            "--role",
            "auditor",
        ],
        Some(PW),
    ));
}

/// A practice manager at A10000 (sign in with `PM`).
fn add_pm(db: &str) {
    ok(&user(
        db,
        &[
            "add",
            PM,
            "--name",
            "Pat Manager",
            "--role",
            "practice_manager",
            "--org",
            "A10000",
        ],
        Some(PW),
    ));
}

/// A registration authority and a practice manager at A10000 (sign them in with `RA`, `PM`).
fn add_ra_and_pm(db: &str) {
    for (name, role) in [(RA, "registration_authority"), (PM, "practice_manager")] {
        ok(&user(
            db,
            &[
                "add", name, "--name", "Op", "--role", role, "--org", "A10000",
            ],
            Some(PW),
        ));
    }
}
