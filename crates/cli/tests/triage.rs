//! `cardwatch triage` and `POST /api/v1/triage/next` as users and scripts drive them.

mod common;

use std::io::Write;
use std::process::{Command, Stdio};

use common::*;

fn triage(args: &[&str]) -> std::process::Output {
    let tmp = tempfile::tempdir().expect("tmp");
    let db = tmp.path().join("t.sqlite").display().to_string();
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
    assert_eq!(v["next"]["kind"], "fix");
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
fn an_operators_folder_overrides_and_a_bad_one_is_refused_by_line() {
    let tmp = tempfile::tempdir().expect("tmp");
    let dir = tmp.path().join("kb");
    std::fs::create_dir(&dir).expect("dir");
    std::fs::write(
        dir.join("local.toml"),
        "[[fix]]\nid = \"update-middleware\"\nprompt = \"Run the practice's one-click middleware installer.\"\nwho = \"reception\"\ncost_minutes = 4\nsource = \"our IT\"\n[fix.repairs]\nmiddleware-outdated = 0.97\n",
    )
    .expect("write");
    let db = tmp.path().join("t.sqlite").display().to_string();
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
    let tmp = tempfile::tempdir().expect("tmp");
    let mut child = Command::new(env!("CARGO_BIN_EXE_cardwatch"))
        .env("RUST_LOG", "warn")
        .args(["--database-url"])
        .arg(tmp.path().join("t.sqlite"))
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
    assert!(s.contains("matches no known symptom"), "{s}");
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
    let out = triage(&["simulate", "--n", "0"]);
    assert_eq!(out.status.code(), Some(2));
}

#[test]
fn next_step_api() {
    let tmp = tempfile::tempdir().expect("tmp");
    let db = tmp.path().join("demo.sqlite").display().to_string();
    let (child, addr) = serve_demo(&db, "1");
    let first = post_json(
        &addr,
        "/api/v1/triage/next",
        r#"{"error_text": "Smartcard Authentication Failure 400_645"}"#,
    );
    let later = post_json(
        &addr,
        "/api/v1/triage/next",
        r#"{"symptom": "cannot-sign", "observations": {"update-middleware": "not-fixed"}, "facts": {"cert.signing": "expired"}}"#,
    );
    let unknown = post_json(&addr, "/api/v1/triage/next", r#"{"symptom": "nope"}"#);
    let bad_obs = post_json(
        &addr,
        "/api/v1/triage/next",
        r#"{"symptom": "cannot-sign", "observations": {"middleware-version": "blue"}}"#,
    );
    let bad_field = post_json(
        &addr,
        "/api/v1/triage/next",
        r#"{"symptom": "cannot-sign", "pin": "123456"}"#,
    );
    let not_json = post_json(&addr, "/api/v1/triage/next", "symptom=cannot-sign");
    stop(child);

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
