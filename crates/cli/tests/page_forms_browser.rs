//! A form sent with a value typed wrong, in real Chromium at a desk's 1280 px and a phone's
//! 390 px: its own page comes back in the error state — the error summary, the field in red with
//! its message — and axe finds nothing serious or critical, nothing scrolls sideways, and what
//! was typed is in its box. The forms are posted by the browser itself
//! (`tests/browser/refusals.mjs`, shared with the estate pages' refusals).

mod common;

use common::{
    active_card, assert_accessible_and_fits, csrf_of, get_as, refusal_spec, refusals_in_chromium,
    scratch_db, serve_demo_signed_in, stop,
};

/// One form sent wrong: a label, where, the fields (none for a GET), the box that keeps what was
/// typed and what that is.
struct Sent {
    label: &'static str,
    path: String,
    fields: Option<Vec<(&'static str, String)>>,
    box_id: &'static str,
    typed: &'static str,
}

#[test]
fn forms_sent_wrong_are_accessible_and_fit_a_phone_in_chromium() {
    let (_tmp, db) = scratch_db();
    let (child, addr, cookie) = serve_demo_signed_in(&db, "1");
    let card = active_card(&db);
    let csrf = csrf_of(&get_as(&addr, "/account", &cookie).1);
    let c = || ("csrf", csrf.clone());
    let sent = vec![
        Sent {
            label: "agent token for hours as words",
            path: "/admin/agents/token".into(),
            fields: Some(vec![
                c(),
                ("site", "A10000".into()),
                ("hours", "a day".into()),
            ]),
            box_id: "hours",
            typed: "a day",
        },
        Sent {
            label: "card status without a reason",
            path: format!("/cards/{card}/status"),
            fields: Some(vec![
                c(),
                ("status", "locked".into()),
                ("reason", " ".into()),
            ]),
            box_id: "reason",
            typed: " ",
        },
        Sent {
            label: "digest with quiet hours as a word",
            path: "/account/digest".into(),
            fields: Some(vec![
                c(),
                ("email", "pat@nhs.net".into()),
                ("frequency", "daily".into()),
                ("min_severity", "urgent".into()),
                ("quiet", "tomorrow".into()),
            ]),
            box_id: "digest-quiet",
            typed: "tomorrow",
        },
        Sent {
            label: "operator with an organisation code wrong",
            path: "/admin/users/add".into(),
            fields: Some(vec![
                c(),
                ("username", "pat.jones@nhs.net".into()),
                ("name", "Pat Jones".into()),
                ("role", "practice_manager".into()),
                ("organisations", "A1-0000".into()),
            ]),
            box_id: "organisations",
            typed: "A1-0000",
        },
        Sent {
            label: "incidents at a site code with a space",
            path: "/incidents?site=A1+0000".into(),
            fields: None,
            box_id: "site",
            typed: "A1 0000",
        },
        Sent {
            label: "triage at a site code with a slash",
            path: "/triage?text=card+will+not+sign&site=A1%2F0000".into(),
            fields: None,
            box_id: "site",
            typed: "A1/0000",
        },
    ];
    let specs: Vec<serde_json::Value> = sent
        .iter()
        .map(|s| refusal_spec(s.label, &s.path, s.fields.as_ref()))
        .collect();
    let reports = refusals_in_chromium(&addr, &cookie, &specs);
    stop(child);
    for (width, report) in &reports {
        for s in &sent {
            let label = s.label;
            let got = &report[label];
            assert_eq!(got["status"], 400, "{label} at {width} px: {got}");
            assert_accessible_and_fits(label, *width, got);
            assert!(
                got["summary"]
                    .as_str()
                    .is_some_and(|t| t.contains("There is a problem") || t.contains("Check")),
                "{label} at {width} px: the error summary: {got}"
            );
            assert_eq!(
                got["typed"][s.box_id], s.typed,
                "{label} at {width} px: {got}"
            );
        }
    }
}
