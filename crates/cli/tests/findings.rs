//! The findings work queue over HTTP: grouped and counted, paged by cursor and by page with the
//! filters kept, a refused filter shown on the page, bulk acknowledgement audited finding by
//! finding, each finding's own page (every finding's, in and out of a scoped operator's reach),
//! a scoped operator's reach, and the page in Chromium at a phone's and a desktop's width.

mod common;

use std::collections::HashSet;
use std::io::Write;
use std::process::{Command, Output, Stdio};

use common::*;

const PW: &str = "riverside surgery reception";
const PM: &str = "pm@nhs.net";

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
        let _ = child
            .stdin
            .take()
            .expect("stdin")
            .write_all(format!("{p}\n").as_bytes());
    }
    child.wait_with_output().expect("wait")
}

/// A practice manager at A10000, signed in.
fn pm(db: &str, addr: &str) -> String {
    ok(&user(
        db,
        &[
            "add",
            PM,
            "--name",
            "Pat",
            "--role",
            "practice_manager",
            "--org",
            "A10000",
        ],
        Some(PW),
    ));
    let r = request(
        addr,
        "POST",
        "/login",
        None,
        Some(&form(&[("username", PM), ("password", PW)])),
    );
    assert_eq!(r.0, 303, "{}", r.1);
    format!(
        "cw_session={}",
        set_cookie(&r.1, "cw_session").expect("cookie")
    )
}

fn ids(v: &serde_json::Value) -> Vec<String> {
    v["findings"]
        .as_array()
        .expect("findings")
        .iter()
        .map(|f| f["id"].as_str().expect("id").to_owned())
        .collect()
}

fn group_sum(v: &serde_json::Value) -> u64 {
    v["groups"]
        .as_array()
        .expect("groups")
        .iter()
        .map(|g| g["count"].as_u64().expect("count"))
        .sum()
}

/// The values of the page's ticked-row checkboxes, in order.
fn ticks(page: &str) -> Vec<String> {
    page.split("name=\"id\" value=\"")
        .skip(1)
        .map(|r| {
            r.split('"')
                .next()
                .expect("value")
                .replace("&#x2f;", "/")
                .replace("&#47;", "/")
        })
        .collect()
}

#[test]
fn the_api_pages_by_cursor_keeps_filters_and_counts_groups() {
    let (_tmp, db) = scratch_db();
    let (child, addr, admin) = serve_demo_signed_in(&db, "3");
    let everything = body_json(&get_as(&addr, "/api/v1/findings?limit=10000", &admin).1);
    // A walk by cursor, seven at a time.
    let mut walked = Vec::new();
    let mut path = "/api/v1/findings?limit=7".to_owned();
    let mut pages = 0;
    loop {
        let v = body_json(&get_as(&addr, &path, &admin).1);
        walked.extend(ids(&v));
        pages += 1;
        match v["next_cursor"].as_str() {
            Some(c) => path = format!("/api/v1/findings?limit=7&cursor={c}"),
            None => break,
        }
        assert!(pages < 10_000, "the walk ends");
    }
    let by_offset = body_json(&get_as(&addr, "/api/v1/findings?limit=7&offset=7", &admin).1);
    let second = {
        let first = body_json(&get_as(&addr, "/api/v1/findings?limit=7", &admin).1);
        let c = first["next_cursor"]
            .as_str()
            .expect("a second page")
            .to_owned();
        body_json(
            &get_as(
                &addr,
                &format!("/api/v1/findings?limit=7&cursor={c}"),
                &admin,
            )
            .1,
        )
    };
    // Filters kept from page to page.
    let filtered = "owner=holder&rule=cert-&limit=2";
    let f1 = body_json(&get_as(&addr, &format!("/api/v1/findings?{filtered}"), &admin).1);
    let c = f1["next_cursor"].as_str().expect("more than 2").to_owned();
    let f2 = body_json(
        &get_as(
            &addr,
            &format!("/api/v1/findings?{filtered}&cursor={c}"),
            &admin,
        )
        .1,
    );
    let default = body_json(&get_as(&addr, "/api/v1/findings", &admin).1);
    let bad_cursor = get_as(&addr, "/api/v1/findings?cursor=zz", &admin);
    // An offset with a cursor skips that many more (the cursor is "after 2").
    let both = get_as(
        &addr,
        &format!("/api/v1/findings?cursor={c}&offset=3&limit=7"),
        &admin,
    );
    let bad_owner = get_as(&addr, "/api/v1/findings?owner=boss", &admin);
    stop(child);

    let all = ids(&everything);
    let total = everything["total"].as_u64().expect("total") as usize;
    assert_eq!(all.len(), total);
    assert_eq!(walked, all, "the cursor walk is the whole queue in order");
    let distinct: HashSet<&String> = walked.iter().collect();
    assert_eq!(distinct.len(), total, "every finding exactly once");
    assert_eq!(ids(&by_offset), ids(&second), "offset still pages");
    assert_eq!(group_sum(&everything), total as u64, "the groups add up");
    assert_eq!(default["limit"], 50);
    assert_eq!(ids(&default).len(), 50.min(total));
    for v in [&f1, &f2] {
        assert_eq!(group_sum(v), v["total"].as_u64().expect("total"));
        for f in v["findings"].as_array().expect("findings") {
            assert_eq!(f["owner"], "holder", "{f}");
            assert!(
                f["rule"].as_str().is_some_and(|r| r.starts_with("cert-")),
                "{f}"
            );
        }
    }
    assert_eq!(f1["total"], f2["total"]);
    assert!(ids(&f1).iter().all(|i| !ids(&f2).contains(i)));
    // The queue's first group is its most serious.
    let groups = everything["groups"].as_array().expect("groups");
    let rank = |s: &str| {
        ["info", "warning", "urgent", "critical"]
            .iter()
            .position(|x| *x == s)
    };
    let worst: Vec<_> = groups
        .iter()
        .map(|g| rank(g["worst"].as_str().expect("worst")))
        .collect();
    assert_eq!(worst.first(), worst.iter().max(), "{groups:?}");
    assert!(groups
        .iter()
        .all(|g| g["action"].as_str().is_some_and(|a| !a.is_empty())));
    assert_eq!(both.0, 200, "{}", both.1);
    assert_eq!(ids(&body_json(&both.1)), all[5..12].to_vec());
    for (r, field) in [(&bad_cursor, "cursor"), (&bad_owner, "owner")] {
        assert_eq!(r.0, 400, "{}", r.1);
        assert!(r.1.contains(&format!("\"field\":\"{field}\"")), "{}", r.1);
    }
}

#[test]
fn the_page_groups_pages_with_filters_and_names_a_bad_filter() {
    let (_tmp, db) = scratch_db();
    let (child, addr, admin) = serve_demo_signed_in(&db, "3");
    let page = get_as(&addr, "/findings?owner=holder&limit=5", &admin);
    let next = get_as(&addr, "/findings?owner=holder&limit=5&offset=5", &admin);
    let bad = get_as(
        &addr,
        "/findings?min_severity=abc&site=A10000&owner=ra",
        &admin,
    );
    let id = ticks(&page.1).first().cloned().expect("a row");
    let (rule, subject) = id.split_once('/').expect("an id");
    let own = get_as(&addr, &format!("/findings/{rule}/{subject}"), &admin);
    let missing = get_as(&addr, "/findings/cert-signing-7d/NOSUCHCARD", &admin);
    let past_the_end = get_as(&addr, "/findings?owner=holder&offset=99999", &admin);
    stop(child);

    // An address past the list's end says so and leads back to its start.
    assert!(
        past_the_end
            .1
            .contains("This page starts after the last of the")
            && past_the_end
                .1
                .contains("href=\"/findings?owner=holder\">Go to the first page</a>"),
        "{}",
        past_the_end.1
    );
    assert_eq!(page.0, 200);
    let body = &page.1;
    assert!(body.contains("What to do, and who does it"), "{body}");
    assert!(body.contains("Card holder") && !body.contains(">holder<"));
    assert!(
        body.contains("href=\"/findings?owner=holder&#38;limit=5&#38;offset=5\" rel=\"next\""),
        "the next page keeps the filters: {body}"
    );
    assert!(body.contains("Showing 1 to 5 of"));
    assert_eq!(ticks(body).len(), 5);
    assert!(next.1.contains("Showing 6 to 10 of") && next.1.contains("rel=\"prev\""));
    assert!(ticks(&next.1).iter().all(|i| !ticks(body).contains(i)));
    // Dates in words, severities as tags.
    assert!(body.contains("class=\"nhsuk-tag "));
    assert!(
        !body.contains(">2026-") && !body.contains(">2027-"),
        "no ISO dates shown"
    );

    assert_eq!(bad.0, 400);
    assert!(
        bad.1.contains("<!DOCTYPE html>"),
        "a page, not JSON: {}",
        bad.1
    );
    assert!(bad.1.contains("nhsuk-error-summary") && bad.1.contains("href=\"#min_severity\""));
    assert!(bad.1.contains("nhsuk-select--error"));
    assert!(
        bad.1.contains("id=\"min_severity-error\"")
            && bad.1.contains("aria-describedby=\"min_severity-error\""),
        "the field's own message, named by the control"
    );
    assert!(bad.1.contains("value=\"A10000\""), "the typed site is kept");
    assert!(
        bad.1.contains("<option value=\"abc\" selected>"),
        "the typed severity is kept"
    );
    assert!(
        bad.1.contains("<option value=\"ra\" selected>"),
        "the chosen owner is kept"
    );

    assert_eq!(own.0, 200, "{}", own.1);
    assert!(own.1.contains("nhsuk-summary-list") && own.1.contains("Why it matters"));
    assert!(own.1.contains("Card holder") && own.1.contains("action=\"/findings/note\""));
    assert_eq!(missing.0, 404);
}

#[test]
fn bulk_acknowledgement_audits_each_finding_and_stays_in_scope() {
    let (_tmp, db) = scratch_db();
    let (child, addr, admin) = serve_demo_signed_in(&db, "3");
    let pm = pm(&db, &addr);
    let page = get_as(&addr, "/findings?owner=practice_manager", &pm);
    let csrf = csrf_of(&page.1);
    let chosen: Vec<String> = ticks(&page.1).into_iter().take(3).collect();
    assert_eq!(chosen.len(), 3, "{}", page.1);
    let theirs = body_json(&get_as(&addr, "/api/v1/findings?site=A10001", &admin).1);
    let other = ids(&theirs).first().cloned().expect("a finding at A10001");
    let post = |pairs: &[(&str, &str)]| {
        request(
            &addr,
            "POST",
            "/findings/bulk",
            Some(&pm),
            Some(&form(pairs)),
        )
    };
    let mut pairs: Vec<(&str, &str)> = vec![
        ("csrf", &csrf),
        ("action", "acknowledged"),
        ("reason", "readers ordered"),
        ("back", "/findings?owner=practice_manager"),
    ];
    pairs.extend(chosen.iter().map(|i| ("id", i.as_str())));
    let mut with_other = pairs.clone();
    with_other.push(("id", &other));
    let out_of_scope = post(&with_other);
    let no_reason = post(&[
        ("csrf", &csrf),
        ("action", "snoozed"),
        ("reason", ""),
        ("id", &chosen[0]),
        ("back", "/findings?owner=practice_manager"),
    ]);
    let none_ticked = post(&[("csrf", &csrf), ("action", "snoozed"), ("reason", "x")]);
    let forged = post(&[
        ("csrf", "x"),
        ("action", "snoozed"),
        ("reason", "x"),
        ("id", &chosen[0]),
    ]);
    let done = post(&pairs);
    let after = get_as(
        &addr,
        "/findings?owner=practice_manager&done=acknowledged&count=3",
        &pm,
    );
    let mine = body_json(&get_as(&addr, "/api/v1/findings?limit=10000", &pm).1);
    let estate = body_json(&get_as(&addr, "/api/v1/findings?limit=10000", &admin).1);
    stop(child);

    assert_eq!(
        out_of_scope.0, 403,
        "another organisation's finding: {}",
        out_of_scope.1
    );
    // No reason: the same list again, saying why, with the tick, the choice and the filters kept.
    assert_eq!(no_reason.0, 400);
    let n = &no_reason.1;
    assert!(
        n.contains("nhsuk-error-summary") && n.contains("href=\"#bulk-reason\">Say why"),
        "{n}"
    );
    assert!(n.contains("nhsuk-input--error"), "{n}");
    assert!(
        n.contains(&format!(
            "value=\"{}\" type=\"checkbox\" checked>",
            chosen[0]
        )),
        "{n}"
    );
    assert_eq!(n.matches("type=\"checkbox\" checked>").count(), 1, "{n}");
    assert!(n.contains("value=\"snoozed\" checked>"), "{n}");
    assert!(
        n.contains("<option value=\"practice_manager\" selected>"),
        "{n}"
    );
    assert_eq!(none_ticked.0, 400);
    assert!(none_ticked.1.contains("Tick at least one finding"));
    assert_eq!(forged.0, 403);
    assert_eq!(done.0, 303, "{}", done.1);
    assert!(
        done.1
            .contains("location: /findings?owner=practice_manager&done=acknowledged&count=3"),
        "back to the same filters: {}",
        done.1
    );
    assert!(after.1.contains("3 findings acknowledged for 30 days"));
    let noted: Vec<&serde_json::Value> = mine["findings"]
        .as_array()
        .expect("findings")
        .iter()
        .filter(|f| f["note"]["reason"] == "readers ordered")
        .collect();
    assert_eq!(noted.len(), 3, "{mine}");
    let audit = ok(&cardwatch(&db, &["audit", "show", "--limit", "1000"]));
    for id in &chosen {
        let lines = audit
            .lines()
            .filter(|l| l.contains("\"action\":\"acknowledged\"") && l.contains(id.as_str()))
            .count();
        assert_eq!(lines, 1, "{id} audited once: {audit}");
        assert!(audit.contains("web:pm@nhs.net"));
    }
    assert!(
        !audit.contains(&other),
        "nothing written for a refused batch"
    );
    // A scoped operator sees only their sites' findings, counted the same way.
    let total = mine["total"].as_u64().expect("total");
    assert!(total > 0 && total < estate["total"].as_u64().expect("total"));
    assert_eq!(group_sum(&mine), total);
    for f in mine["findings"].as_array().expect("findings") {
        assert!(
            f["site"].as_str().is_some_and(|s| s.starts_with("A10000")),
            "{f}"
        );
    }
}

/// A path segment with every byte but the unreserved ones percent-encoded.
/// Whether the text holds a date as `2026-10-09`.
fn has_iso_date(text: &str) -> bool {
    text.as_bytes().windows(10).any(|w| {
        let digits = |r: std::ops::Range<usize>| w[r].iter().all(u8::is_ascii_digit);
        digits(0..4) && w[4] == b'-' && digits(5..7) && w[7] == b'-' && digits(8..10)
    })
}

fn segment(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => {
                char::from(b).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// Each finding's own page is found by its id: for every finding of the estate (snoozed ones
/// too) the administrator's page shows that finding, and a practice manager's shows it when it
/// is one of theirs; every other id is answered as before — not found on the page, refused by
/// the note form, nothing written.
#[test]
fn each_findings_own_page_is_that_finding_and_only_in_scope() {
    let (_tmp, db) = scratch_db();
    let (child, addr, admin) = serve_demo_signed_in(&db, "4");
    let pm = pm(&db, &addr);
    let every = "/api/v1/findings?all=true&limit=10000";
    let estate = body_json(&get_as(&addr, every, &admin).1);
    let mine: HashSet<String> = ids(&body_json(&get_as(&addr, every, &pm).1))
        .into_iter()
        .collect();
    let findings = estate["findings"].as_array().expect("findings").clone();
    let pages: Vec<_> = findings
        .iter()
        .map(|f| {
            let path = format!(
                "/findings/{}/{}",
                f["rule"].as_str().expect("rule"),
                segment(f["subject"].as_str().expect("subject"))
            );
            (get_as(&addr, &path, &admin), get_as(&addr, &path, &pm))
        })
        .collect();
    let outside: Vec<String> = ids(&estate)
        .into_iter()
        .filter(|i| !mine.contains(i))
        .take(3)
        .collect();
    let csrf = csrf_of(&get_as(&addr, "/findings", &pm).1);
    let notes: Vec<_> = outside
        .iter()
        .map(|id| {
            let body = form(&[
                ("csrf", &csrf),
                ("id", id),
                ("action", "acknowledged"),
                ("reason", "not mine"),
            ]);
            request(&addr, "POST", "/findings/note", Some(&pm), Some(&body))
        })
        .collect();
    let none_such = [
        get_as(&addr, "/findings/cert-signing-7d/NOSUCHCARD", &admin),
        get_as(&addr, "/findings/none-such-rule/A10000", &pm),
    ];
    // Each finding's "About" opens what it is about: the first of each kind of page is there.
    let about = |page: &str| -> Option<String> {
        let cell = page.split("About</dt>").nth(1)?.split("</dd>").next()?;
        let href = cell.split("<a class=\"nhsuk-link\" href=\"").nth(1)?;
        Some(
            href[..href.find('"')?]
                .replace("&#38;", "&")
                .replace("&amp;", "&"),
        )
    };
    let mut opened: Vec<(String, u16)> = Vec::new();
    for ((by_admin, _), f) in pages.iter().zip(&findings) {
        let href = about(&by_admin.1)
            .unwrap_or_else(|| panic!("{}: no link to what it is about: {}", f["id"], by_admin.1));
        let kind = href.split(['/', '?']).nth(1).unwrap_or_default().to_owned();
        if !opened
            .iter()
            .any(|(h, _)| h.split(['/', '?']).nth(1) == Some(kind.as_str()))
        {
            let status = get_as(&addr, &href, &admin).0;
            opened.push((href, status));
        }
    }
    stop(child);
    assert!(
        opened.len() >= 4,
        "cards, people, workstations, sites at least: {opened:?}"
    );
    assert!(opened.iter().all(|(_, s)| *s == 200), "{opened:?}");

    let all = ids(&estate);
    assert_eq!(all.len() as u64, estate["total"].as_u64().expect("total"));
    assert_eq!(
        all.iter().collect::<HashSet<_>>().len(),
        all.len(),
        "one finding per id, so each page has one finding to show"
    );
    let (mut theirs, mut others) = (0, 0);
    for (f, (by_admin, by_pm)) in findings.iter().zip(&pages) {
        let id = f["id"].as_str().expect("id");
        let site = f["site"].as_str().expect("site");
        assert_eq!(by_admin.0, 200, "{id}: {}", by_admin.1);
        assert_eq!(ticks(&by_admin.1), [id], "{id}: the page is its finding");
        // The site by its name, its code beside it.
        let site_row = format!(" ({site})</dd>");
        let site_cell = by_admin
            .1
            .split("Site</dt><dd class=\"nhsuk-summary-list__value\">")
            .nth(1)
            .and_then(|c| c.split("</dd>").next())
            .unwrap_or_default();
        assert!(
            site_cell.ends_with(&format!(" ({site})")) && site_cell.len() > site.len() + 3,
            "{id} at {site}: {site_cell:?}"
        );
        // A person's finding is titled by their name, not their number.
        if f["subject_kind"] == "person" {
            let uuid = f["subject"]
                .as_str()
                .and_then(|s| s.split('/').next())
                .expect("a holder");
            let h1 = by_admin
                .1
                .split("<h1 class=\"nhsuk-heading-l\">")
                .nth(1)
                .and_then(|r| r.split("</h1>").next())
                .unwrap_or_default();
            assert!(
                h1.starts_with("Person ") && !h1.contains(uuid),
                "{id}: {h1}"
            );
        }
        // Dates in words, plurals right: what a practice manager reads between clinics.
        for key in ["Why it matters", "Fix"] {
            let cell = by_admin
                .1
                .split(&format!(
                    "{key}</dt><dd class=\"nhsuk-summary-list__value\">"
                ))
                .nth(1)
                .and_then(|r| r.split("</dd>").next())
                .unwrap_or_default();
            assert!(!cell.is_empty(), "{id}: {key}");
            assert!(!has_iso_date(cell), "{id}: {key}: {cell}");
            assert!(!cell.contains("(s)"), "{id}: {key}: {cell}");
            assert!(
                !cell.contains("(1 days)") && !cell.contains(" 1 more spare readers"),
                "{id}: {key}: {cell}"
            );
        }
        if mine.contains(id) {
            theirs += 1;
            assert_eq!(by_pm.0, 200, "{id}: {}", by_pm.1);
            assert_eq!(ticks(&by_pm.1), [id], "{id}: the page is its finding");
            assert!(by_pm.1.contains(&site_row), "{id} at {site}");
        } else {
            others += 1;
            assert_eq!(by_pm.0, 404, "{id} is not the practice's: {}", by_pm.1);
            assert!(
                by_pm.1.contains("No such finding among your sites today"),
                "{}",
                by_pm.1
            );
            assert!(!by_pm.1.contains(&site_row), "nothing of it shown");
        }
    }
    assert!(theirs > 0 && others > 0, "{theirs} theirs, {others} others");
    assert_eq!(notes.len(), 3);
    for (id, r) in outside.iter().zip(&notes) {
        assert_eq!(r.0, 403, "{id}: {}", r.1);
        assert!(r.1.contains("not among your sites today"), "{}", r.1);
    }
    let audit = ok(&cardwatch(&db, &["audit", "show", "--limit", "1000"]));
    assert!(!audit.contains("not mine"), "nothing written: {audit}");
    for r in &none_such {
        assert_eq!(r.0, 404, "{}", r.1);
    }
}

/// The findings page in Chromium at 390 and 1280 pixels wide: the page never scrolls sideways,
/// axe finds nothing serious or critical, and ticking two rows acknowledges both.
#[test]
fn the_findings_page_fits_a_phone_and_a_desktop_in_chromium() {
    let (_tmp, db) = scratch_db();
    let (child, addr, admin) = serve_demo_signed_in(&db, "3");
    let script =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/browser/findings.mjs");
    let out = browser()
        .arg(&script)
        .arg(format!("http://{addr}"))
        .arg(&admin)
        .output()
        .expect("node (scripts/test installs the browser tests' packages)");
    stop(child);
    let report: serde_json::Value = serde_json::from_str(&ok(&out)).expect("json");
    for width in ["390", "1280"] {
        for page in ["queue", "finding", "refused"] {
            let r = &report[width][page];
            assert!(r["status"].as_u64().is_some(), "{width} {page}: {report}");
            assert!(
                r["scrollWidth"].as_u64() <= r["clientWidth"].as_u64(),
                "{width} px, {page}: the page scrolls sideways: {report}"
            );
            assert_eq!(
                r["violations"],
                serde_json::json!([]),
                "{width} {page}: {report}"
            );
        }
    }
    assert_eq!(report["acknowledged"], 2, "{report}");
}
