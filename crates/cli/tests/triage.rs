//! `cardwatch triage` and `POST /api/v1/triage/next` as users and scripts drive them.

mod common;

use std::io::Write;
use std::process::{Command, Stdio};

use common::*;

fn triage(args: &[&str]) -> std::process::Output {
    let (_tmp, db) = scratch_db();
    let mut all = vec!["triage"];
    all.extend_from_slice(args);
    cardwatch(&db, &all)
}

fn json(out: &std::process::Output) -> serde_json::Value {
    serde_json::from_str(&ok(out)).expect("json")
}

#[test]
fn scripted_json_has_the_documented_shape() {
    let v = json(&triage(&[
        "--error-text",
        "  pin works to log in BUT not to sign ",
        "--json",
    ]));
    assert_eq!(v["symptom"]["id"], "cannot-sign");
    assert!(v["symptom"]["name"]
        .as_str()
        .expect("name")
        .contains("cannot sign"));
    assert_eq!(v["next"]["kind"], "check");
    assert_eq!(v["next"]["id"], "middleware-version");
    assert!(v["next"]["reason"]
        .as_str()
        .expect("reason")
        .starts_with("Most likely: Smartcard middleware out of date, 80%"));
    assert!(v["next"]["cost_minutes"].as_f64().expect("cost") > 0.0);
    assert!((v["posterior"]["middleware-outdated"].as_f64().expect("p") - 0.8).abs() < 1e-9);
    assert_eq!(v["escalate"], false);
    assert!(v["guardrail"]
        .as_str()
        .expect("guardrail")
        .contains("Never use another person's card"));

    // Observations move it along, in order.
    let v = json(&triage(&[
        "--symptom",
        "cannot-sign",
        "--observe",
        "middleware-version=current",
        "--observe",
        "signing-cert-status=expired",
        "--json",
    ]));
    assert_eq!(v["most_likely"]["id"], "signing-cert-expired");
    // An expired certificate does not refresh itself: the RA renews it in person.
    assert_eq!(v["next"]["kind"], "fix");
    assert_eq!(v["next"]["id"], "ra-renew");
    assert_eq!(v["minutes_spent"], 6.0);

    // Time is up: escalate.
    let v = json(&triage(&[
        "--symptom",
        "err1002",
        "--elapsed",
        "25",
        "--json",
    ]));
    assert_eq!(v["escalate"], true);
    assert_eq!(v["next"]["kind"], "escalate");
}

#[test]
fn scripted_text_and_list() {
    let out = ok(&triage(&[
        "--error-text",
        "ERR1002 : Unable to read the card",
    ]));
    assert!(out.contains("Symptom: ERR1002"), "{out}");
    assert!(out.contains("why: Most likely:"), "{out}");
    assert!(out.contains("read-only"), "{out}");
    let out = ok(&triage(&["--list"]));
    assert!(out.lines().count() >= 12, "{out}");
    assert!(out.contains("onboarding-systmone-profile"), "{out}");
}

#[test]
fn bad_requests_are_refused_with_what_and_where() {
    let out = triage(&["--symptom", "broken-toaster"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        text(&out.stderr).contains("symptom: no symptom \"broken-toaster\""),
        "{}",
        text(&out.stderr)
    );
    let out = triage(&["--error-text", "the printer is jammed"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        text(&out.stderr).contains("error_text"),
        "{}",
        text(&out.stderr)
    );
    let out = triage(&[
        "--symptom",
        "cannot-sign",
        "--observe",
        "middleware-version=purple",
    ]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        text(&out.stderr).contains("current, outdated, missing"),
        "{}",
        text(&out.stderr)
    );
    let out = triage(&[
        "--symptom",
        "cannot-sign",
        "--observe",
        "middleware-version",
    ]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        text(&out.stderr).contains("CHECK=RESULT"),
        "{}",
        text(&out.stderr)
    );
}

#[test]
fn what_is_happening_in_plain_words_reaches_a_first_step_or_one_question() {
    let v = json(&triage(&[
        "dr says her card logs her in fine but wont let her sign the scripts",
        "--json",
    ]));
    assert_eq!(v["symptom"]["id"], "cannot-sign", "{v}");
    assert_eq!(v["next"]["id"], "middleware-version", "{v}");
    // A misspelt message still finds its code's symptom.
    let v = json(&triage(&["eror 1002 for dr shah", "--json"]));
    assert_eq!(v["symptom"]["id"], "err1002", "{v}");
    // Words that fit two symptoms equally name both, with how to choose.
    let out = triage(&["the reader light is off and it timed out"]);
    assert_eq!(out.status.code(), Some(2));
    let err = text(&out.stderr);
    assert!(
        err.contains("card-not-recognised") && err.contains("spine-timeouts"),
        "{err}"
    );
    // Nothing about a smartcard: said so, not guessed.
    let out = triage(&["the kettle in the staff room has broken"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        text(&out.stderr).contains("does not sound like a smartcard problem"),
        "{}",
        text(&out.stderr)
    );
    // The words and --symptom cannot both be given.
    let out = triage(&["cant sign", "--symptom", "cannot-sign"]);
    assert_eq!(out.status.code(), Some(2));
}

#[test]
fn what_the_desk_typed_is_not_asked_again() {
    // The command line: the PIN box that never came up is known, and not asked.
    let v = json(&triage(&[
        "the pin box doesnt come up when she puts her card in",
        "--json",
    ]));
    assert_eq!(v["symptom"]["id"], "card-not-recognised", "{v}");
    assert_eq!(v["known"][0]["check"], "ia-window", "{v}");
    assert_eq!(v["known"][0]["result"], "no", "{v}");
    assert!(
        v["known"][0]["because"]
            .as_str()
            .is_some_and(|b| b.contains("the pin box doesnt come up")),
        "{v}"
    );
    assert_ne!(v["next"]["id"], "ia-window", "{v}");
    // The API and the page, from the words alone.
    let (_tmp, db) = scratch_db();
    let (child, addr, cookie) = serve_demo_signed_in(&db, "1");
    let api = get_as(
        &addr,
        "/api/v1/triage/next?text=the+reader+light+is+off",
        &cookie,
    );
    let page = get_as(
        &addr,
        "/triage?text=the+reader+light+is+off&site=A10000",
        &cookie,
    );
    let answered_since = get_as(
        &addr,
        "/triage?text=the+reader+light+is+off&symptom=card-not-recognised&obs=reader-light%3Ayes",
        &cookie,
    );
    stop(child);
    assert_eq!(api.0, 200, "{}", api.1);
    let v = body_json(&api.1);
    assert_eq!(v["known"][0]["check"], "reader-light", "{v}");
    assert_eq!(v["known"][0]["result"], "no", "{v}");
    assert_ne!(v["next"]["id"], "reader-light", "{v}");
    assert_eq!(page.0, 200, "{}", page.1);
    let p = &page.1;
    assert!(p.contains("Cardwatch already knows:"), "{p}");
    assert!(
        p.contains("Is the reader&#39;s light on, and does it flicker when the card goes in? No (not asked: the problem was described as"),
        "{p}"
    );
    assert!(!p.contains("value=\"reader-light:yes\""), "{p}");
    // An answer given since wins over the words.
    assert_eq!(answered_since.0, 200, "{}", answered_since.1);
    assert!(
        !answered_since.1.contains("Cardwatch already knows:"),
        "{}",
        answered_since.1
    );
}

#[test]
fn a_site_that_is_not_yours_is_asked_again_with_what_was_typed() {
    let (_tmp, db) = scratch_db();
    let (child, addr, _admin) = serve_demo_signed_in(&db, "2");
    let pm = practice_manager(
        &db,
        &addr,
        "pm@nhs.net",
        "A10000",
        "riverside surgery reception",
    );
    let other = get_as(&addr, "/triage?text=cant+sign&site=A10001", &pm);
    let own = get_as(&addr, "/triage?text=cant+sign&site=A10000", &pm);
    // A card or computer no organisation has is asked again as another's is, not ignored.
    let no_card = get_as(&addr, "/triage?text=cant+sign&card_serial=CS9999", &pm);
    let no_host = get_as(&addr, "/triage?text=cant+sign&hostname=nowhere-pc", &pm);
    stop(child);
    assert_eq!(no_card.0, 403, "{}", no_card.1);
    assert!(
        no_card
            .1
            .contains("Card CS9999 is not among your organisations&#39; cards")
            && no_card
                .1
                .contains("href=\"#card_serial\">Check the card number"),
        "{}",
        no_card.1
    );
    assert_eq!(no_host.0, 403, "{}", no_host.1);
    assert!(
        no_host
            .1
            .contains("nowhere-pc is not at one of your organisations&#39; sites"),
        "{}",
        no_host.1
    );
    assert_eq!(other.0, 403, "{}", other.1);
    let o = &other.1;
    assert!(
        o.contains("nhsuk-error-summary")
            && o.contains("href=\"#site\">Enter one of your practices&#39; ODS codes"),
        "{o}"
    );
    assert!(o.contains(">cant sign</textarea>"), "{o}");
    assert!(o.contains("value=\"A10001\""), "{o}");
    assert!(
        !o.contains("name=\"obs\""),
        "no step for another's site: {o}"
    );
    assert_eq!(own.0, 200, "{}", own.1);
    assert!(own.1.contains("name=\"obs\""), "{}", own.1);
}

#[test]
fn an_operators_folder_overrides_and_a_bad_one_is_refused_by_line() {
    let tmp = tempfile::tempdir().expect("tmp");
    let dir = tmp.path().join("kb");
    std::fs::create_dir(&dir).expect("dir");
    std::fs::write(
        dir.join("local.toml"),
        "[[fix]]\nid = \"update-middleware\"\nprompt = \"Run the practice's one-click middleware installer.\"\nwho = \"reception\"\ncost_minutes = 4\nsource = \"our IT\"\n[fix.repairs]\nmiddleware-outdated = 0.97\n",
    )
    .expect("write");
    let (_store, db) = store_in(tmp.path());
    let kb = dir.display().to_string();
    let v = json(&cardwatch(
        &db,
        &[
            "--triage-kb",
            &kb,
            "triage",
            "--symptom",
            "cannot-sign",
            "--json",
        ],
    ));
    assert_eq!(
        v["next"]["id"], "update-middleware",
        "cheaper locally: no check first"
    );
    assert!(v["next"]["prompt"]
        .as_str()
        .expect("prompt")
        .contains("one-click"));

    std::fs::write(dir.join("local.toml"), "[[symptom]]\nid = \"x\"\nname = \"X\"\nsource = \"s\"\n[symptom.causes]\nmiddleware-outdated = 2\n").expect("write");
    let out = cardwatch(
        &db,
        &["--triage-kb", &kb, "triage", "--symptom", "cannot-sign"],
    );
    assert_eq!(out.status.code(), Some(2));
    let err = text(&out.stderr);
    assert!(err.contains("local.toml:6:"), "{err}");
    assert!(err.contains("not a probability"), "{err}");
}

#[test]
fn wizard_asks_one_step_at_a_time() {
    let (_tmp, db) = scratch_db();
    let mut child = command(&db, None)
        .arg("triage")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("spawn");
    // A text that matches nothing, then the real one; a wrong answer, then the right ones.
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(
            b"my coffee is cold\nPR30007 Unable to find CM process\nperhaps\nnot-fixed\nrunning\n",
        )
        .expect("write");
    let out = child.wait_with_output().expect("wait");
    let s = ok(&out);
    assert!(s.contains("does not sound like a smartcard problem"), "{s}");
    assert!(s.contains("Symptom: PR30007"), "{s}");
    assert!(
        s.contains("\"perhaps\" is not one of: fixed, not-fixed"),
        "{s}"
    );
    assert!(s.contains("Next, a fix (start-cm)"), "{s}");
    assert!(s.matches("Next, ").count() >= 2, "{s}");
}

#[test]
fn simulate_reports_engine_fixed_order_oracle_and_learning() {
    let v = json(&triage(&[
        "simulate", "--n", "300", "--seed", "3", "--json",
    ]));
    for k in ["engine", "fixed_order", "oracle"] {
        assert!(v[k]["mean"].as_f64().expect("mean") > 0.0, "{v}");
        assert!(v[k]["p95"].as_f64().expect("p95") >= v[k]["mean"].as_f64().expect("mean"));
    }
    assert!(
        v["engine"]["mean"].as_f64() < v["fixed_order"]["mean"].as_f64(),
        "{v}"
    );
    assert!(
        v["learning"]["after_200"].as_f64() < v["learning"]["before"].as_f64(),
        "{v}"
    );
    let out = ok(&triage(&[
        "simulate",
        "--n",
        "200",
        "--symptom",
        "cannot-sign",
    ]));
    assert!(out.contains("oracle (knows the cause)"), "{out}");
    // The exact figures, one row for each of what the engine may know, the best possible
    // strategy only when searched for.
    let exact = v["exact"].as_array().expect("exact");
    let settings: Vec<&str> = exact
        .iter()
        .map(|r| r["answered"].as_str().expect("answered"))
        .collect();
    assert_eq!(settings, ["nothing", "estate", "estate-and-agent"], "{v}");
    for r in exact {
        assert!(
            r["engine_over_oracle"].as_f64().expect("ratio") >= 1.0,
            "{r}"
        );
        assert!(r["best"].is_null(), "{r}");
    }
    let out = ok(&triage(&[
        "simulate",
        "--n",
        "100",
        "--symptom",
        "card-locked",
        "--best",
    ]));
    assert!(
        out.contains("the estate and the workstation agent answering"),
        "{out}"
    );
    assert!(
        !out.contains('—'),
        "every best figure given with --best: {out}"
    );
    let out = triage(&["simulate", "--n", "0"]);
    assert_eq!(out.status.code(), Some(2));
}

#[test]
fn next_step_api() {
    let (_tmp, db) = scratch_db();
    let (child, addr, cookie) = serve_demo_signed_in(&db, "1");
    let first = post_json(
        &addr,
        "/api/v1/triage/next",
        &cookie,
        r#"{"error_text": "Smartcard Authentication Failure 400_645"}"#,
    );
    let later = post_json(
        &addr,
        "/api/v1/triage/next",
        &cookie,
        r#"{"symptom": "cannot-sign", "observations": {"update-middleware": "not-fixed"}, "facts": {"cert.signing": "expired"}}"#,
    );
    let unknown = post_json(
        &addr,
        "/api/v1/triage/next",
        &cookie,
        r#"{"symptom": "nope"}"#,
    );
    let bad_obs = post_json(
        &addr,
        "/api/v1/triage/next",
        &cookie,
        r#"{"symptom": "cannot-sign", "observations": {"middleware-version": "blue"}}"#,
    );
    let bad_field = post_json(
        &addr,
        "/api/v1/triage/next",
        &cookie,
        r#"{"symptom": "cannot-sign", "pin": "123456"}"#,
    );
    let not_json = post_json(&addr, "/api/v1/triage/next", &cookie, "symptom=cannot-sign");
    let with_estate = post_json(
        &addr,
        "/api/v1/triage/next",
        &cookie,
        r#"{"symptom": "cannot-sign", "card_serial": "cs0000000001", "hostname": "A10000-WS001"}"#,
    );
    let bad_card = post_json(
        &addr,
        "/api/v1/triage/next",
        &cookie,
        r#"{"symptom": "cannot-sign", "card_serial": "CS 1!"}"#,
    );
    stop(child);
    assert_eq!(with_estate.0, 200, "{}", with_estate.1);
    let v = body_json(&with_estate.1);
    let known: Vec<&str> = v["known"]
        .as_array()
        .expect("known")
        .iter()
        .map(|k| k["check"].as_str().expect("check"))
        .collect();
    assert!(known.contains(&"signing-cert-status"), "{v}");
    assert!(known.contains(&"middleware-version"), "{v}");
    assert_eq!(bad_card.0, 400, "{}", bad_card.1);
    assert_eq!(body_json(&bad_card.1)["error"]["field"], "card_serial");

    assert_eq!(first.0, 200, "{}", first.1);
    let v = body_json(&first.1);
    assert_eq!(v["symptom"]["id"], "auth-failure-400-645");
    assert_eq!(v["symptom"]["matched_text"], "400_645");
    assert_eq!(v["next"]["id"], "cm-status");

    assert_eq!(later.0, 200, "{}", later.1);
    let v = body_json(&later.1);
    assert_eq!(v["known"][0]["check"], "signing-cert-status");
    assert_eq!(v["most_likely"]["id"], "signing-cert-expired");

    for (r, field) in [
        (&unknown, "symptom"),
        (&bad_obs, "observations.middleware-version"),
        (&bad_field, "body"),
        (&not_json, "body"),
    ] {
        assert_eq!(r.0, 400, "{}", r.1);
        let v = body_json(&r.1);
        assert_eq!(v["error"]["field"], field, "{}", r.1);
        assert!(!v["error"]["message"].as_str().expect("message").is_empty());
    }
    // A PIN sent by mistake is refused, never echoed back.
    assert!(!bad_field.1.contains("123456"), "{}", bad_field.1);
}

#[test]
fn the_first_step_api_reads_plain_words() {
    let (_tmp, db) = scratch_db();
    let (child, addr, cookie) = serve_demo_signed_in(&db, "1");
    let ask = |q: &str| get_as(&addr, &format!("/api/v1/triage/next?{q}"), &cookie);
    let plain =
        ask("text=the%20pin%20box%20never%20comes%20up%20when%20she%20puts%20her%20card%20in");
    let chosen = ask("text=the+reader+light+is+off+and+it+timed+out&symptom=spine-timeouts");
    let tie = ask("text=the+reader+light+is+off+and+it+timed+out");
    let nothing = ask("text=the+printer+is+jammed");
    let empty = ask("text=");
    let unknown = ask("words=cant+sign");
    let anonymous = get(&addr, "/api/v1/triage/next?text=cant+sign");
    stop(child);
    assert_eq!(plain.0, 200, "{}", plain.1);
    let v = body_json(&plain.1);
    assert_eq!(v["symptom"]["id"], "card-not-recognised", "{v}");
    assert!(v["next"]["id"].is_string(), "{v}");
    assert_eq!(chosen.0, 200, "{}", chosen.1);
    assert_eq!(body_json(&chosen.1)["symptom"]["id"], "spine-timeouts");
    assert_eq!(tie.0, 200, "{}", tie.1);
    let v = body_json(&tie.1);
    assert_eq!(
        v["question"], "Which is closer to what is happening?",
        "{v}"
    );
    let ids: Vec<&str> = v["choices"]
        .as_array()
        .expect("choices")
        .iter()
        .map(|c| c["id"].as_str().expect("id"))
        .collect();
    assert_eq!(ids, ["card-not-recognised", "spine-timeouts"], "{v}");
    assert!(v["choices"][0]["plain"].as_str().expect("plain").len() > 10);
    for (r, field) in [
        (&nothing, "error_text"),
        (&empty, "text"),
        (&unknown, "words"),
    ] {
        assert_eq!(r.0, 400, "{}", r.1);
        assert_eq!(body_json(&r.1)["error"]["field"], field, "{}", r.1);
    }
    assert_eq!(anonymous.0, 401, "{}", anonymous.1);
}

/// A demo estate for `DAY` in a fresh SQLite file: (tmp dir, database path). Every command on
/// it runs on that day's clock (`cardwatch_on`, `wizard`).
fn demo_db() -> (Scratch, String) {
    let (tmp, db) = scratch_db();
    ok(&cardwatch(
        &db,
        &["demo", "--practices", "2", "--seed", "3", "--today", DAY],
    ));
    (tmp, db)
}

fn wizard(db: &str, args: &[&str], answers: &str) -> String {
    let mut child = command(db, Some(DAY))
        .env("USER", "reception")
        .arg("triage")
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn");
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(answers.as_bytes())
        .expect("write");
    ok(&child.wait_with_output().expect("wait"))
}

#[test]
fn the_wizard_records_an_incident_and_uses_the_estate() {
    let (_tmp, db) = demo_db();
    // Card CS0000000001 is series 8 with a valid signing certificate; a10000-ws001 has current
    // middleware and reader firmware: none of that is asked.
    let s = wizard(
        &db,
        &[
            "--card",
            "cs0000000001",
            "--hostname",
            "A10000-WS001",
            "--application",
            "EMIS Web",
            "--doing",
            "signing a prescription",
        ],
        // With the middleware current and the signing certificate valid, whether the card works
        // elsewhere first; it does, so the workstation's middleware update.
        "PIN works to log in but not to sign\nyes\nfixed\n",
    );
    assert!(s.contains("Incident 1 opened."), "{s}");
    assert!(
        s.contains("known: middleware-version = current (not asked: the estate records"),
        "{s}"
    );
    assert!(s.contains("known: signing-cert-status = valid"), "{s}");
    assert!(s.contains("Incident 1 resolved"), "{s}");
    let list: serde_json::Value = serde_json::from_str(&ok(&cardwatch_on(
        DAY,
        &db,
        &["incident", "list", "--json"],
    )))
    .expect("json");
    let i = &list[0];
    assert_eq!(i["id"], 1);
    assert_eq!(i["status"], "resolved");
    assert_eq!(i["symptom"], "cannot-sign");
    assert_eq!(i["card_serial"], "CS0000000001");
    assert_eq!(i["hostname"], "a10000-ws001");
    assert_eq!(i["site"], "A10000", "no --site given: the workstation's");
    assert_eq!(i["application"], "emis-web");
    assert_eq!(i["error_text"], "PIN works to log in but not to sign");
    assert_eq!(i["reporter"], "cli:reception");
    let steps = i["steps"].as_array().expect("steps");
    assert_eq!(steps.len(), 2, "{i}");
    assert!(steps[0]["at"].as_str().expect("at").ends_with('Z'));
    assert_eq!(steps[0]["id"], "other-workstation");
    assert_eq!(steps[1]["result"], "fixed");
    assert!(i["confirmed_cause"].is_string(), "{i}");
    assert!(i["minutes_to_fix"].as_f64().is_some());
    let shown: serde_json::Value =
        serde_json::from_str(&ok(&cardwatch_on(DAY, &db, &["incident", "show", "1"])))
            .expect("json");
    assert_eq!(shown, *i);
    // The audit chain holds the incident's every step.
    ok(&cardwatch_on(DAY, &db, &["audit", "verify"]));
    let audit = ok(&cardwatch_on(
        DAY,
        &db,
        &["audit", "show", "--limit", "1000"],
    ));
    assert!(
        audit.matches("\"entity_kind\":\"incident\"").count() >= 4,
        "open, two steps, resolved"
    );
    // Bad ids.
    let out = cardwatch_on(DAY, &db, &["incident", "show", "99"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        text(&out.stderr).contains("no incident 99"),
        "{}",
        text(&out.stderr)
    );
    let err = wizard_refused(&db, &["--card", "not a serial!"]);
    assert!(err.contains("card_serial"), "{err}");
}

fn wizard_refused(db: &str, args: &[&str]) -> String {
    let mut all = vec!["triage"];
    all.extend_from_slice(args);
    let out = cardwatch_on(DAY, db, &all);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out.stdout));
    text(&out.stderr)
}

#[test]
fn escalation_prints_the_packet() {
    let (_tmp, db) = demo_db();
    let s = wizard(
        &db,
        &["--card", "CS0000000001", "--hostname", "a10000-ws001", "--application", "eps", "--doing", "signing a prescription"],
        "0x53494705 No X.509 Signing certificate found\nnot-fixed\nno\nnot-fixed\nnot-fixed\nnot-fixed\nnot-fixed\nnot-fixed\nnot-fixed\n",
    );
    assert!(s.contains("SMARTCARD ESCALATION — incident 1"), "{s}");
    for want in [
        "User ID printed on the card (UUID): 005550000005",
        "What was reported, as typed: 0x53494705 No X.509 Signing certificate found",
        "Windows version: Windows",
        "System in use: Electronic Prescription Service (EPS)",
        "What they were doing: signing a prescription",
        "Card readers: Thales IDBridge CT40 firmware",
        "Smartcard software: ",
        "Oberthur (IDEMIA) smartcard middleware 6.2.0.4",
        "Reported: 22 November 2026 at ",
        "by reception, at Cardwatch's command line",
        "WHAT CARDWATCH'S RECORDS ANSWERED (nobody was asked)",
        "   Answer: No, still not working",
        "   Answer: No",
        "WHAT TO TELL THE CLINICIAN MEANWHILE",
        "Never use another person's card",
    ] {
        assert!(s.contains(want), "{want:?} missing:\n{s}");
    }
    // Each step as its question and answer in words, not its id and code; no ISO dates.
    let packet = &s[s.find("SMARTCARD ESCALATION").expect("packet")..];
    for raw in [
        "check other-workstation",
        "not-fixed",
        ": eps",
        "oberthur-middleware",
        "identity-agent",
    ] {
        assert!(!packet.contains(raw), "{raw:?} in {packet}");
    }
    assert_eq!(iso_date_in(packet), None, "{packet}");
    let p: serde_json::Value = serde_json::from_str(&ok(&cardwatch_on(
        DAY,
        &db,
        &["incident", "packet", "1", "--format", "json"],
    )))
    .expect("json");
    assert_eq!(p["incident"], 1);
    assert_eq!(p["card_uuid"], "005550000005");
    assert!(p["person"].is_string());
    let steps = p["steps"].as_array().expect("steps");
    assert!(!steps.is_empty());
    // The JSON keeps the ids and codes beside the words.
    assert!(steps
        .iter()
        .any(|s| s["id"] == "other-workstation" && s["result"] == "no" && s["answer"] == "No"));
    assert_eq!(p["application"], "eps");
    assert_eq!(
        p["application_name"],
        "Electronic Prescription Service (EPS)"
    );
    assert!(!p["escalate_because"].as_array().expect("why").is_empty());
    let list: serde_json::Value = serde_json::from_str(&ok(&cardwatch_on(
        DAY,
        &db,
        &["incident", "list", "--json"],
    )))
    .expect("json");
    assert_eq!(list[0]["status"], "escalated");
}

#[test]
fn two_reports_at_a_site_within_the_hour_escalate() {
    let (_tmp, db) = demo_db();
    // The first report: the wizard stops before any answer, the incident stays open.
    let s = wizard(&db, &["--site", "A10000"], "ERR1002\n");
    assert!(s.contains("stays open"), "{s}");
    let v = json(&cardwatch_on(
        DAY,
        &db,
        &[
            "triage",
            "--symptom",
            "err1002",
            "--site",
            "a10000",
            "--json",
        ],
    ));
    assert_eq!(v["escalate"], true, "{v}");
    assert!(
        v["escalate_because"][0]
            .as_str()
            .expect("why")
            .contains("2 people"),
        "{v}"
    );
    // Another site, or another symptom: no cluster.
    let v = json(&cardwatch_on(
        DAY,
        &db,
        &[
            "triage",
            "--symptom",
            "err1002",
            "--site",
            "A10001",
            "--json",
        ],
    ));
    assert_eq!(v["escalate"], false, "{v}");
    let v = json(&cardwatch_on(
        DAY,
        &db,
        &[
            "triage",
            "--symptom",
            "cannot-sign",
            "--site",
            "A10000",
            "--json",
        ],
    ));
    assert_eq!(v["escalate"], false, "{v}");
}

#[test]
fn resolved_incidents_teach_the_site() {
    use cardwatch_core::date::Timestamp;
    use cardwatch_core::triage::{IncidentStatus, NewIncident};
    use cardwatch_store::Change;

    let (_tmp, db) = demo_db();
    let before = json(&cardwatch_on(
        DAY,
        &db,
        &[
            "triage",
            "--symptom",
            "cannot-sign",
            "--site",
            "A10000",
            "--json",
        ],
    ));
    let shipped = before["posterior"]["reader-firmware-old"]
        .as_f64()
        .expect("p");
    {
        let store = cardwatch_store::open(&db).expect("open");
        let change = Change {
            actor: "test".into(),
            at: Timestamp::parse("2026-11-01T10:00:00Z").expect("time"),
        };
        for _ in 0..30 {
            let id = store
                .open_incident(
                    &NewIncident {
                        reporter: "test".into(),
                        site: Some("A10000".into()),
                        symptom: "cannot-sign".into(),
                        ..NewIncident::default()
                    },
                    &change,
                )
                .expect("open");
            store
                .close_incident(
                    id,
                    IncidentStatus::Resolved,
                    Some("reader-firmware-old"),
                    &change,
                )
                .expect("close");
        }
    }
    let here = json(&cardwatch_on(
        DAY,
        &db,
        &[
            "triage",
            "--symptom",
            "cannot-sign",
            "--site",
            "A10000",
            "--json",
        ],
    ));
    let learned = here["posterior"]["reader-firmware-old"]
        .as_f64()
        .expect("p");
    assert!(learned > 0.5, "{shipped} → {learned}");
    // Another site learns from the estate too, less.
    let there = json(&cardwatch_on(
        DAY,
        &db,
        &[
            "triage",
            "--symptom",
            "cannot-sign",
            "--site",
            "A10001",
            "--json",
        ],
    ));
    let estate = there["posterior"]["reader-firmware-old"]
        .as_f64()
        .expect("p");
    assert!(
        estate > shipped && estate < learned,
        "{shipped} < {estate} < {learned}"
    );
}

#[test]
fn cheat_sheet_for_a_site_with_its_contacts() {
    let (tmp, db) = demo_db();
    let cfg = tmp.path().join("cardwatch.toml");
    std::fs::write(
        &cfg,
        "[[contacts]]\nrole = \"IT service desk\"\nname = \"Riverside IT\"\nphone = \"0161 000 0000\"\nserves = [\"a10000\"]\n\n[[contacts]]\nrole = \"IT\"\nname = \"Other IT\"\nemail = \"it@example.nhs.uk\"\nserves = [\"B99999\"]\n",
    )
    .expect("write");
    let cfg = cfg.display().to_string();
    let text = ok(&cardwatch_on(
        DAY,
        &db,
        &["--config", &cfg, "cheatsheet", "--site", "A10000"],
    ));
    assert!(text.starts_with("When a smartcard fails — "), "{text}");
    assert!(text.contains("(A10000)"), "{text}");
    assert!(
        text.contains("IT service desk: Riverside IT, 0161 000 0000"),
        "{text}"
    );
    // A10000's computers are all on the Identity Agent; A10001 has some on Smartcard Connect,
    // and its sheet says what is new there.
    assert!(!text.contains("Since Smartcard Connect"), "{text}");
    let connect = ok(&cardwatch_on(DAY, &db, &["cheatsheet", "--site", "A10001"]));
    assert!(
        connect.contains("Since Smartcard Connect, no passcode box when the card goes in")
            && connect.contains("Nothing needs fixing: this computer uses NHS Smartcard Connect"),
        "{connect}"
    );
    assert!(!text.contains("Other IT"), "{text}");
    assert!(text.contains("Logs in but cannot sign"), "{text}");
    let html = ok(&cardwatch_on(
        DAY,
        &db,
        &[
            "--config",
            &cfg,
            "cheatsheet",
            "--site",
            "A10000",
            "--format",
            "html",
        ],
    ));
    assert!(
        html.starts_with("<!DOCTYPE html>") && html.contains("size: A4"),
        "{html}"
    );

    let out = cardwatch_on(DAY, &db, &["cheatsheet", "--site", "not an ods!"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(text_of(&out).contains("--site"), "{}", text_of(&out));
    std::fs::write(
        &cfg,
        "[[contacts]]\nrole = \"IT\"\nname = \"No way to reach\"\n",
    )
    .expect("write");
    let out = cardwatch_on(
        DAY,
        &db,
        &["--config", &cfg, "cheatsheet", "--site", "A10000"],
    );
    assert!(!out.status.success());
    assert!(
        text_of(&out).contains("needs a phone or an email"),
        "{}",
        text_of(&out)
    );
}

fn text_of(out: &std::process::Output) -> String {
    text(&out.stderr)
}

#[test]
fn cheat_sheet_page() {
    let (_tmp, db) = scratch_db();
    let (child, addr, cookie) = serve_demo_signed_in(&db, "1");
    let page = get_as(&addr, "/cheatsheet?site=A10000", &cookie);
    let missing = get_as(&addr, "/cheatsheet", &cookie);
    let bad = get_as(&addr, "/cheatsheet?site=%21%21", &cookie);
    stop(child);
    assert_eq!(page.0, 200, "{}", page.1);
    assert!(
        page.1.contains("text/html") && page.1.contains("When a smartcard fails"),
        "{}",
        page.1
    );
    // Served, the page links its print stylesheet (the CSP refuses inline styles) and fits a phone.
    assert!(
        page.1
            .contains("<link rel=\"stylesheet\" href=\"/assets/print.css\">")
            && page.1.contains("name=\"viewport\"")
            && !page.1.contains("<style>"),
        "{}",
        page.1
    );
    // No site, or a code that is not one: the page asks for it again, never the API's JSON.
    assert_eq!(missing.0, 400);
    assert!(
        missing.1.contains("nhsuk-error-summary") && missing.1.contains("href=\"#site\""),
        "{}",
        missing.1
    );
    assert_eq!(bad.0, 400);
    assert!(bad.1.contains("value=\"!!\""), "{}", bad.1);
}

#[test]
fn web_wizard_one_question_per_page() {
    let (_tmp, db) = scratch_db();
    let (child, addr, cookie) = serve_demo_signed_in(&db, "1");
    let page = |q: &str| get_as(&addr, &format!("/triage{q}"), &cookie);
    let start = page("");
    let first = page("?text=PIN+works+to+log+in%2C+but+not+to+sign&site=A10000");
    let second = page("?symptom=cannot-sign&text=PIN+works+to+log+in&site=A10000&obs=middleware-version%3Aoutdated");
    // Continue with nothing chosen; Back to the first question, and Back again to the box.
    let unanswered =
        page("?symptom=cannot-sign&text=PIN+works+to+log+in&site=A10000&step=middleware-version");
    let undone = page("?symptom=cannot-sign&text=PIN+works+to+log+in&site=A10000&was=middleware-version%3Aoutdated");
    let again = page("?text=PIN+works+to+log+in%2C+but+not+to+sign&site=A10000&again=1");
    let skipped = page("?symptom=cannot-sign&obs=middleware-version%3Acannot");
    let old_link = page("?error_text=cant+sign");
    let unknown = page("?text=my+coffee+is+cold&site=A10000");
    let empty = page("?text=");
    let tie = page("?text=the+reader+light+is+off+and+it+timed+out");
    let bad_site = page("?text=cant+sign&site=not+a+code");
    let bad = page("?symptom=cannot-sign&obs=nonsense");
    // The clock starts at the first step and travels on; 25 minutes later it escalates, an
    // address a day old does not.
    let opened: i64 = first
        .1
        .split("name=\"opened\" value=\"")
        .nth(1)
        .and_then(|r| r.split('"').next())
        .and_then(|v| v.parse().ok())
        .expect("the first step carries its clock");
    let late = page(&format!("?symptom=cannot-sign&opened={}", opened - 25 * 60));
    let stale = page(&format!(
        "?symptom=cannot-sign&opened={}",
        opened - 2 * 86_400
    ));
    let escalated = page("?symptom=err1002&obs=card-seated%3Ayes&card_serial=CS0000000001&site=A10000&obs=cis-domains-open%3Ano&obs=allow-domains%3Anot-fixed&obs=reseat-card%3Anot-fixed&obs=remove-extra-card%3Anot-fixed");
    stop(child);
    assert_eq!(start.0, 200);
    assert!(start.1.contains("What is happening?"), "{}", start.1);
    assert!(
        start
            .1
            .contains("<textarea class=\"nhsuk-textarea\" id=\"text\" name=\"text\""),
        "{}",
        start.1
    );

    // One submit reaches a first concrete step, asked in radios with a plain reason.
    assert_eq!(first.0, 200, "{}", first.1);
    let f = &first.1;
    assert!(f.contains("The card logs in but will not sign"), "{f}");
    assert!(
        f.contains("name=\"obs\" type=\"radio\" value=\"middleware-version:current\""),
        "{f}"
    );
    assert!(f.contains("I can&#39;t check this"), "{f}");
    // Nothing is ticked for the desk: Continue alone must not answer for them.
    assert!(!f.contains(" checked>"), "{f}");
    assert!(
        f.contains("<input type=\"hidden\" name=\"step\" value=\"middleware-version\">"),
        "{f}"
    );
    assert!(
        f.contains("The likeliest cause: Smartcard middleware out of date (about 8 in 10)."),
        "{f}"
    );
    assert!(f.contains("Never use another person"), "{f}");
    assert!(f.contains("How Cardwatch chose this step"), "{f}");
    assert!(f.contains("Pass this to support now"), "{f}");
    // What was typed and where travel on in the form.
    assert!(
        f.contains("name=\"text\" value=\"PIN works to log in, but not to sign\""),
        "{f}"
    );
    assert!(f.contains("name=\"site\" value=\"A10000\""), "{f}");
    // Back from the first step returns to the box with the words kept.
    assert!(f.contains("class=\"nhsuk-back-link\" href=\"/triage?text=PIN+works+to+log+in%2C+but+not+to+sign&#38;site=A10000&#38;again=1\""), "{f}");
    assert_eq!(again.0, 200, "{}", again.1);
    assert!(
        again
            .1
            .contains(">PIN works to log in, but not to sign</textarea>")
            && !again.1.contains("name=\"obs\""),
        "{}",
        again.1
    );
    // Continue with nothing chosen: the same question, with the error summary.
    assert_eq!(unanswered.0, 400, "{}", unanswered.1);
    let u = &unanswered.1;
    assert!(
        u.contains("nhsuk-error-summary") && u.contains("Choose an answer, or"),
        "{u}"
    );
    assert!(u.contains("value=\"middleware-version:current\""), "{u}");
    assert!(u.contains("nhsuk-form-group--error"), "{u}");

    assert_eq!(second.0, 200, "{}", second.1);
    assert_ne!(first.1, second.1);
    // Back undoes the last answer.
    assert!(
        second.1.contains(
            "href=\"/triage?symptom=cannot-sign&#38;text=PIN+works+to+log+in&#38;site=A10000&#38;opened="
        ) && second.1.contains("&#38;was=middleware-version%3Aoutdated\""),
        "{}",
        second.1
    );
    // The question Back returns to shows the answer it undid, and only that one, ticked.
    assert_eq!(undone.0, 200, "{}", undone.1);
    assert!(
        undone
            .1
            .contains("value=\"middleware-version:outdated\" checked>"),
        "{}",
        undone.1
    );
    assert_eq!(undone.1.matches(" checked>").count(), 1, "{}", undone.1);
    assert_eq!(skipped.0, 200, "{}", skipped.1);
    assert!(
        !skipped.1.contains("value=\"middleware-version:current\""),
        "{}",
        skipped.1
    );
    assert_eq!(old_link.0, 200, "{}", old_link.1);
    assert!(
        old_link.1.contains("The card logs in but will not sign"),
        "{}",
        old_link.1
    );

    // Words it does not know: the error summary, the words kept, and the problems to choose from.
    assert_eq!(unknown.0, 200);
    let u = &unknown.1;
    assert!(
        u.contains("nhsuk-error-summary") && u.contains("could not tell what the problem is"),
        "{u}"
    );
    assert!(u.contains(">my coffee is cold</textarea>"), "{u}");
    assert!(
        u.contains(
            "href=\"/triage?symptom=cannot-sign&#38;text=my+coffee+is+cold&#38;site=A10000\""
        ),
        "{u}"
    );
    assert!(empty.1.contains("Nothing was typed"), "{}", empty.1);
    // Two problems equally likely: one plain question.
    assert!(
        tie.1.contains("Which is closer to what is happening?"),
        "{}",
        tie.1
    );
    assert!(tie.1.contains("value=\"spine-timeouts\""), "{}", tie.1);
    assert!(
        bad_site.1.contains("Check where it is happening")
            && bad_site.1.contains("value=\"not a code\""),
        "{}",
        bad_site.1
    );
    assert_eq!(bad.0, 400, "{}", bad.1);
    assert!(
        late.1
            .contains("25 minutes have gone since the fault was reported"),
        "{}",
        late.1
    );
    assert!(
        late.1.contains("Record it and open the escalation packet"),
        "{}",
        late.1
    );
    assert!(!stale.1.contains("minutes have gone"), "{}", stale.1);
    assert_eq!(escalated.0, 200, "{}", escalated.1);
    assert!(
        escalated.1.contains("Pass this to support now"),
        "{}",
        escalated.1
    );
    assert!(
        escalated
            .1
            .contains("Record it and open the escalation packet"),
        "{}",
        escalated.1
    );
}

#[test]
fn cheat_sheet_prints_on_one_a4_page_in_chromium() {
    let (tmp, db) = demo_db();
    let html = tmp.path().join("sheet.html");
    let pdf = tmp.path().join("sheet.pdf");
    std::fs::write(
        &html,
        ok(&cardwatch_on(
            DAY,
            &db,
            // The longer sheet: a site with computers on Smartcard Connect.
            &["cheatsheet", "--site", "A10001", "--format", "html"],
        )),
    )
    .expect("write");
    let out = Command::new("chromium")
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--no-pdf-header-footer",
        ])
        .arg(format!(
            "--user-data-dir={}",
            tmp.path().join("chromium").display()
        ))
        .arg(format!("--print-to-pdf={}", pdf.display()))
        .arg(format!("file://{}", html.display()))
        .output()
        .expect("chromium (scripts/test installs it)");
    assert!(
        pdf.exists(),
        "chromium printed nothing: {}",
        text(&out.stderr)
    );
    let bytes = std::fs::read(&pdf).expect("pdf");
    let s = String::from_utf8_lossy(&bytes);
    let pages = s.matches("/Type /Page").count() - s.matches("/Type /Pages").count();
    assert_eq!(pages, 1, "the cheat sheet must print on one page");
    let media = s
        .split("/MediaBox [")
        .nth(1)
        .and_then(|r| r.split(']').next())
        .expect("a media box");
    let dims: Vec<f64> = media
        .split_whitespace()
        .map(|x| x.parse().expect("number"))
        .collect();
    assert!(
        (dims[2] - 595.0).abs() < 2.0 && (dims[3] - 842.0).abs() < 2.0,
        "A4, not {media}"
    );
}

/// A form value percent-encoded in full (the test's own, independent of the server's encoder).
fn encoded(v: &str) -> String {
    v.bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}

/// A percent-encoded text decoded (the test's own decoder, so the server's encoding is checked
/// against an independent reading of RFC 3986).
fn decoded(v: &str) -> String {
    let b = v.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%' {
            let hex = std::str::from_utf8(&b[i + 1..i + 3]).expect("hex");
            out.push(u8::from_str_radix(hex, 16).expect("hex"));
            i += 3;
        } else {
            out.push(b[i]);
            i += 1;
        }
    }
    String::from_utf8(out).expect("utf-8")
}

/// The wizard's clock on its first step page (Unix seconds): the server's now.
fn wizard_clock(page: &str) -> i64 {
    page.split("name=\"opened\" value=\"")
        .nth(1)
        .and_then(|r| r.split('"').next())
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(|| panic!("the first step carries its clock: {page}"))
}

/// A date and time as the packet writes it ("22 November 2026 at 09:41").
fn long(unix: i64) -> String {
    cardwatch_core::date::Timestamp::from_unix(unix).long()
}

#[test]
fn a_web_escalation_carries_what_the_desk_typed_and_the_estate_knows() {
    let (_tmp, db) = scratch_db();
    let (child, addr, cookie) = serve_demo_signed_in(&db, "1");
    let step = get_as(
        &addr,
        "/triage?text=cant+sign+scripts&site=A10000&card_serial=CS0000000001&hostname=A10000-WS001",
        &cookie,
    );
    let csrf = csrf_of(&step.1);
    let now = wizard_clock(&step.1);
    // The fault reached the desk 25 minutes ago; the middleware was checked 5 minutes in.
    let (opened, answered) = (now - 25 * 60, now - 20 * 60);
    // The next page stamps the answer just given with its time, and carries it on.
    let next = get_as(
        &addr,
        &format!("/triage?symptom=cannot-sign&opened={opened}&obs=middleware-version%3Acurrent"),
        &cookie,
    );
    let query = |opened: i64, answered: i64| {
        encoded(&format!(
            "symptom=cannot-sign&text=cant+sign+scripts&site=A10000&card_serial=CS0000000001&hostname=A10000-WS001&opened={opened}&obs=middleware-version%3Acurrent&answered={answered}"
        ))
    };
    let record = |query: &str| {
        request(
            &addr,
            "POST",
            "/triage/record",
            Some(&cookie),
            Some(&format!(
                "csrf={csrf}&query={query}&outcome=escalated&application=emis-web&doing=signing+repeats"
            )),
        )
    };
    let recorded = record(&query(opened, answered));
    // Recorded as fixed: the list says so.
    let fixed = request(
        &addr,
        "POST",
        "/triage/record",
        Some(&cookie),
        Some(&format!(
            "csrf={csrf}&query={}&outcome=resolved&application=emis-web&doing=signing",
            encoded(&format!(
                "symptom=cannot-sign&site=A10000&opened={opened}&obs=middleware-version%3Aoutdated&obs=update-middleware%3Afixed"
            ))
        )),
    );
    let fixed_at = location(&fixed);
    let fixed_list = get_as(&addr, &fixed_at, &cookie);
    // What a forged or stale address says about time is refused, and nothing is recorded.
    let too_old = record(&query(now - 2 * 86_400, now - 2 * 86_400 + 60));
    let future = record(&query(now + 3600, now + 3660));
    let out_of_order = record(&query(opened, opened - 60));
    // The record form with the system chosen from a list: a value not on it is refused, and a
    // refusal keeps what was chosen and typed.
    let form = |application: &str, doing: &str| {
        request(
            &addr,
            "POST",
            "/triage/record",
            Some(&cookie),
            Some(&format!(
                "csrf={csrf}&query={}&outcome=escalated&application={}&doing={}",
                query(opened, answered),
                encoded(application),
                encoded(doing)
            )),
        )
    };
    let unknown = form("not-a-system", "signing repeats");
    let typed_name = form("EMIS Web", "signing repeats");
    let chosen_kept = form("systmone", &"x".repeat(2001));
    // What the estate answered, as the question and the answer in words: smartcard software by
    // its name, not the check's id and the component's.
    let which = get_as(
        &addr,
        "/triage?symptom=no-pin-prompt&site=A10000&hostname=a10000-ws001",
        &cookie,
    );
    let packet_at = location(&recorded);
    assert!(!packet_at.is_empty(), "no packet: {}", recorded.1);
    let packet = get_as(&addr, &packet_at, &cookie);
    // Passed on before the system was asked: the system the description names is recorded (at
    // no site, so the site's count of reports above stays as it is).
    let named = request(
        &addr,
        "POST",
        "/triage/record",
        Some(&cookie),
        Some(&format!(
            "csrf={csrf}&query={}&outcome=escalated&application=&doing=",
            encoded(&format!(
                "symptom=cannot-sign&text=EPS+signing+greyed+out+in+emis&opened={opened}"
            ))
        )),
    );
    let named_at = location(&named);
    assert!(!named_at.is_empty(), "no packet: {}", named.1);
    let named_packet = get_as(&addr, &named_at, &cookie);
    stop(child);
    assert!(
        named_packet.1.contains("System in use: EMIS Web"),
        "{}",
        named_packet.1
    );
    assert_eq!(fixed.0, 303, "{}", fixed.1);
    assert!(fixed_at.starts_with("/incidents?recorded="), "{}", fixed.1);
    assert_eq!(fixed_list.0, 200, "{}", fixed_list.1);
    assert!(
        fixed_list.1.contains(&format!(
            "Incident {} is recorded as fixed.",
            fixed_at.trim_start_matches("/incidents?recorded=")
        )),
        "{}",
        fixed_list.1
    );
    assert!(
        next.1
            .contains("obs=middleware-version%3Acurrent&#38;answered="),
        "the answer's time travels on: {}",
        next.1
    );
    assert_eq!(recorded.0, 303, "{}", recorded.1);
    assert_eq!(packet.0, 200, "{}", packet.1);
    let systems = [
        ("", "Not known"),
        ("emis-web", "EMIS Web"),
        ("systmone", "SystmOne"),
        ("vision", "Vision"),
        ("eps", "Electronic Prescription Service (EPS)"),
        ("care-identity", "Care Identity Management"),
        ("nhsmail", "NHSmail"),
        ("other", "Another system"),
    ];
    for (what, r) in [
        ("an unknown system", &unknown),
        ("a name typed", &typed_name),
    ] {
        assert_eq!(r.0, 400, "{what}: {}", r.1);
        let page = &r.1;
        assert!(
            page.contains("<a href=\"#application\">Choose the system from the list, or leave it as Not known</a>"),
            "{what}: the error summary in words: {page}"
        );
        assert!(
            page.contains("<select class=\"nhsuk-select nhsuk-select--error\" id=\"application\" name=\"application\" aria-describedby=\"application-error\">"),
            "{what}: {page}"
        );
        // Every system by its name, none chosen, and no codes to copy.
        for (value, name) in systems {
            assert!(
                page.contains(&format!("<option value=\"{value}\">{name}</option>")),
                "{what}: {name}: {page}"
            );
        }
        assert!(!page.contains(" selected>"), "{what}: {page}");
        assert!(!page.contains("emis-web, systmone"), "{what}: {page}");
        assert!(
            page.contains("id=\"doing\" name=\"doing\" type=\"text\" value=\"signing repeats\""),
            "{what}: what they were doing is kept: {page}"
        );
    }
    assert_eq!(which.0, 200, "{}", which.1);
    let known = which
        .1
        .split("<li>Which smartcard software does this computer use?")
        .nth(1)
        .and_then(|r| r.split("</li>").next())
        .unwrap_or_else(|| panic!("the records answer which software: {}", which.1));
    assert!(
        known.contains("? NHS Identity Agent (not asked: the estate records NHS Identity Agent"),
        "{known}"
    );
    assert!(!which.1.contains("auth client:"), "{}", which.1);
    // Refused for another field, the system chosen stays chosen.
    assert_eq!(chosen_kept.0, 400, "{}", chosen_kept.1);
    assert!(
        chosen_kept
            .1
            .contains("<option value=\"systmone\" selected>SystmOne</option>"),
        "{}",
        chosen_kept.1
    );
    assert!(
        chosen_kept.1.contains("at most 2000 characters"),
        "{}",
        chosen_kept.1
    );
    for (what, r, says) in [
        ("a day-old start", &too_old, "more than 24 hours ago"),
        ("a start in the future", &future, "later than now"),
        (
            "answers out of order",
            &out_of_order,
            "not ones Cardwatch gave",
        ),
    ] {
        assert_eq!(r.0, 400, "{what}: {}", r.1);
        assert!(r.1.contains(says), "{what}: {}", r.1);
        assert!(r.1.contains("Start the triage again"), "{what}: {}", r.1);
    }
    let id = packet_at
        .trim_start_matches("/incidents/")
        .trim_end_matches("/packet")
        .to_owned();
    let listed: serde_json::Value =
        serde_json::from_str(&ok(&cardwatch(&db, &["incident", "list", "--json"]))).expect("json");
    let ours: Vec<&serde_json::Value> = listed
        .as_array()
        .expect("list")
        .iter()
        .filter(|i| i["error_text"] == "cant sign scripts")
        .collect();
    assert_eq!(ours.len(), 1, "the refused ones are not recorded: {listed}");
    // Opened when the wizard began, the step when it was answered.
    let stored = ours[0];
    assert_eq!(stored["id"].to_string(), id);
    assert_eq!(
        stored["opened_at"],
        cardwatch_core::date::Timestamp::from_unix(opened).to_string()
    );
    assert_eq!(
        stored["steps"][0]["at"],
        cardwatch_core::date::Timestamp::from_unix(answered).to_string()
    );

    let page = &packet.1;
    // The copy control, hidden until the page's own script shows it, and the email link.
    assert!(
        page.contains("id=\"packet-copy\" data-copy=\"packet-text\"")
            && page.contains("<script type=\"module\" src=\"/assets/cardwatch.js\"></script>"),
        "{page}"
    );
    assert!(
        page.contains("<pre class=\"packet-text\" id=\"packet-text\">SMARTCARD ESCALATION"),
        "the text is on the page without JavaScript: {page}"
    );
    let href = page
        .split("href=\"mailto:")
        .nth(1)
        .and_then(|r| r.split('"').next())
        .unwrap_or_else(|| panic!("no email link: {page}"))
        .replace("&#38;", "&")
        .replace("&#39;", "'");
    assert!(page.contains(">Email it</a>"), "{page}");
    let (subject, body) = href
        .strip_prefix("?subject=")
        .and_then(|r| r.split_once("&body="))
        .unwrap_or_else(|| panic!("mailto:{href}"));
    assert!(
        !body.contains([' ', '\n', '&', '+', '=']),
        "the body is encoded: {body}"
    );
    assert_eq!(
        decoded(subject),
        format!("SMARTCARD ESCALATION — incident {id}")
    );
    // The email's body is the packet's text, line for line (CRLF as RFC 6068 asks).
    let text = decoded(body).replace("\r\n", "\n");
    let cli = ok(&cardwatch(&db, &["incident", "packet", &id]));
    assert_eq!(text, cli);

    for (label, want) in [
        ("Site", "Riverside Medical Practice 1 (ODS code A10000)"),
        ("Card serial number", "CS0000000001"),
        ("System in use", "EMIS Web"),
        ("What they were doing", "signing repeats"),
        ("What was reported, as typed", "cant sign scripts"),
        ("Computer name", "a10000-ws001"),
        (
            "Smartcard software",
            "Oberthur (IDEMIA) smartcard middleware 6.2.0.4",
        ),
        ("Reported", &long(opened)),
    ] {
        let line = text
            .lines()
            .find(|l| l.starts_with(&format!("{label}: ")))
            .unwrap_or_else(|| panic!("no {label} line: {text}"));
        assert!(line.contains(want), "{label}: {line}");
    }
    // What the estate knows about the card and the workstation is filled in, not "not known".
    for label in [
        "Person",
        "User ID printed on the card (UUID)",
        "Windows version",
        "Card readers",
        "Smartcard software",
    ] {
        let line = text
            .lines()
            .find(|l| l.starts_with(&format!("{label}: ")))
            .unwrap_or_else(|| panic!("no {label} line: {text}"));
        assert!(!line.contains("not known"), "{line}");
    }
    // The step as its question and the answer in words, with when it was answered.
    assert!(
        text.contains(
            "1. In Settings → Apps, is the smartcard middleware (Oberthur/IDEMIA) at the current version in the catalogue?\n   Answer: Current (answered "
        ) && text.contains(&format!("(answered {})", long(answered))),
        "{text}"
    );
    // Real minutes, the same everywhere they are said.
    assert!(
        text.contains("25 minutes after it was reported")
            && text.contains("25 minutes have gone since the fault was reported"),
        "{text}"
    );
    assert!(!text.contains(" 0 minutes"), "{text}");
    // No codes, ids or ISO times where words belong.
    for raw in [
        "emis-web",
        "oberthur-middleware",
        "identity-agent",
        "smartcard-connect",
        "check middleware-version",
        "middleware-version:",
        "not-fixed",
    ] {
        assert!(!text.contains(raw), "{raw:?} in {text}");
    }
    assert_eq!(iso_date_in(&text), None, "{text}");
}

/// The first ISO date (`2026-11-22`) in a text, if any.
fn iso_date_in(text: &str) -> Option<&str> {
    let b = text.as_bytes();
    (0..b.len().saturating_sub(9)).find_map(|i| {
        let w = &b[i..i + 10];
        let digits = |r: std::ops::Range<usize>| w[r].iter().all(u8::is_ascii_digit);
        (digits(0..4) && w[4] == b'-' && digits(5..7) && w[7] == b'-' && digits(8..10))
            .then(|| &text[i..i + 10])
    })
}

/// A step only the Registration Authority can take (an expired certificate renewed in person)
/// is not offered as a fix to try at the desk and answer "No, still not working": the desk books
/// it and passes the incident on, and the packet says why.
#[test]
fn an_ra_step_is_passed_on_not_tried_at_the_desk() {
    let (_tmp, db) = scratch_db();
    let (child, addr, cookie) = serve_demo_signed_in(&db, "1");
    let step = get_as(
        &addr,
        "/triage?symptom=cannot-sign&obs=middleware-version%3Acurrent&obs=signing-cert-status%3Aexpired",
        &cookie,
    );
    let query = step
        .1
        .split("name=\"query\" value=\"")
        .nth(1)
        .and_then(|r| r.split('"').next())
        .expect("the record form's query")
        .replace("&#38;", "&");
    let recorded = request(
        &addr,
        "POST",
        "/triage/record",
        Some(&cookie),
        Some(&format!(
            "csrf={}&query={}&outcome=escalated&application=&doing=",
            csrf_of(&step.1),
            encoded(&query)
        )),
    );
    let packet_at = location(&recorded);
    assert!(!packet_at.is_empty(), "no packet: {}", recorded.1);
    let packet = get_as(&addr, &packet_at, &cookie);
    stop(child);
    assert_eq!(step.0, 200, "{}", step.1);
    let page = &step.1;
    assert!(
        page.contains("For the Registration Authority")
            && page.contains(
                "Book the Registration Authority: an expired certificate is renewed in person"
            )
            && page.contains("Passed to the RA: record it and open the packet"),
        "{page}"
    );
    assert!(
        !page.contains("No, still not working") && !page.contains("name=\"obs\" type=\"radio\""),
        "nothing to answer at the desk: {page}"
    );
    assert_eq!(packet.0, 200, "{}", packet.1);
    assert!(
        packet
            .1
            .contains("Why now: the next step is the Registration Authority&#39;s, in person: Book the Registration Authority"),
        "{}",
        packet.1
    );
}

/// Where a redirecting answer sends the browser (its `location` header), or "" when it does not.
fn location(answer: &(u16, String)) -> String {
    answer
        .1
        .lines()
        .find_map(|l| l.strip_prefix("location: "))
        .map(str::trim)
        .unwrap_or_default()
        .to_owned()
}
