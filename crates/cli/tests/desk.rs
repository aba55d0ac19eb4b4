//! The desk in real Chromium, as its people use it: reception types what the clinician said on a
//! phone and reaches a first step in one submit; a practice manager sees on one screen what to
//! do and for whom, and snoozes several findings with one reason; a wide table keeps its first
//! column in view as it scrolls; and the pages the overall axe walk (`auth.rs`) does not visit
//! pass axe at both widths too.

mod common;

use common::*;

const PM: &str = "pm@nhs.net";
const PW: &str = "riverside surgery reception";

/// What a receptionist types, as the clinician said it.
const SAID: &str = "dr says her card logs her in fine but wont let her sign the scripts";

#[test]
fn reception_reaches_a_first_step_in_one_submit_and_a_manager_snoozes_two_findings_on_a_phone() {
    let (_tmp, db) = scratch_db();
    let (child, addr, _admin) = serve_demo_signed_in(&db, "3");
    let pm = practice_manager(&db, &addr, PM, "A10000", PW);
    let script =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/browser/desk.mjs");
    let out = browser()
        .arg(&script)
        .arg(format!("http://{addr}"))
        .arg(&pm)
        .arg(SAID)
        .output()
        .expect("node (scripts/test installs the browser tests' packages)");
    stop(child);
    let seen: serde_json::Value =
        serde_json::from_str(&ok(&out)).unwrap_or_else(|e| panic!("{e}: {}", text(&out.stderr)));

    assert_eq!(
        seen["moreMarked"], "4px",
        "the phone's More holds the current page and says so: {seen}"
    );
    let triage = &seen["triage"];
    assert_eq!(triage["status"], 200, "{seen}");
    assert_accessible_and_fits("the triage step", 390, triage);
    assert_eq!(triage["symptomLinks"], 0, "no symptom list: {seen}");
    let step = triage["step"].as_str().expect("a question");
    assert!(step.ends_with('?'), "a question to answer: {step}");
    let answers: Vec<&str> = triage["answers"]
        .as_array()
        .expect("answers")
        .iter()
        .filter_map(|a| a.as_str())
        .collect();
    assert!(answers.len() >= 2, "choices to answer: {answers:?}");
    assert!(answers.contains(&"I can't check this"), "{answers:?}");
    assert_eq!(triage["ticked"], 0, "no answer chosen for the desk: {seen}");
    let unanswered = &seen["unanswered"];
    assert_eq!(unanswered["status"], 400, "{seen}");
    assert_accessible_and_fits("the question asked again", 390, unanswered);
    assert!(
        unanswered["summary"]
            .as_str()
            .is_some_and(|s| s.contains("Choose an answer")),
        "{unanswered}"
    );
    assert_eq!(unanswered["step"], triage["step"], "the same question");

    let findings = &seen["findings"];
    assert_eq!(findings["status"], 200, "{seen}");
    assert_accessible_and_fits("the findings", 390, findings);
    let groups = findings["groups"].as_array().expect("groups");
    assert!(!groups.is_empty(), "{seen}");
    for g in groups {
        let cells: Vec<&str> = g
            .as_array()
            .expect("cells")
            .iter()
            .filter_map(|c| c.as_str())
            .collect();
        assert_eq!(cells.len(), 5, "what, who, how many, worst, due: {cells:?}");
        assert!(!cells[0].is_empty() && !cells[1].is_empty(), "{cells:?}");
        assert!(cells[2].parse::<u32>().is_ok_and(|n| n > 0), "{cells:?}");
    }
    assert_eq!(findings["ticked"], true, "two findings to tick: {seen}");
    let after = findings["after"].as_str().expect("the page after");
    assert!(after.contains("2 findings snoozed for 7 days"), "{after}");
    let refused = &seen["refused"];
    assert_eq!(refused["status"], 400, "{seen}");
    assert_accessible_and_fits("the refused findings form", 390, refused);
    assert!(
        refused["summary"]
            .as_str()
            .is_some_and(|s| s.contains("Say why")),
        "{refused}"
    );
    assert_eq!(refused["ticked"], 1, "the tick kept: {refused}");
    let plan = &seen["plan"];
    assert_eq!(plan["status"], 200, "{seen}");
    assert_accessible_and_fits("the renewal plan", 390, plan);
    let yours = plan["yours"].as_str().expect("her sites' part of the plan");
    assert!(yours.starts_with("Your sites have "), "{yours}");
    assert_eq!(
        plan["settings"], false,
        "no configuration file for a practice manager"
    );
    assert!(
        plan["chart"]["width"].as_f64() >= Some(600.0),
        "readable: {plan}"
    );
    assert_eq!(plan["chart"]["scrolls"], true, "in its own box: {plan}");
    assert!(
        plan["charts"][0]
            .as_str()
            .is_some_and(|c| c.starts_with("Your sites:")),
        "her sites' own chart first: {plan}"
    );
    assert_eq!(
        plan["current"],
        serde_json::json!([["Renewal plan", "page"]]),
        "the header marks the page: {plan}"
    );
    let wide = &seen["wide"];
    assert_eq!(
        wide["scrolls"], true,
        "the workstations scroll in their box: {wide}"
    );
    assert!(wide["scrolled"].as_f64() > Some(0.0), "{wide}");
    assert_eq!(
        wide["firstMoved"].as_f64(),
        Some(0.0),
        "the first column stays: {wide}"
    );
    assert!(
        wide["secondMoved"].as_f64() < Some(-50.0),
        "the rest slide: {wide}"
    );

    let audit = ok(&cardwatch(&db, &["audit", "show", "--limit", "100000"]));
    let snoozed: Vec<&str> = audit
        .lines()
        .filter(|l| l.contains("\"action\":\"snoozed\"") && l.contains("web:pm@nhs.net"))
        .collect();
    assert_eq!(snoozed.len(), 2, "each finding audited: {snoozed:?}");
    assert!(
        snoozed
            .iter()
            .all(|l| l.contains("\"note\":\"cards ordered for both\"")),
        "with its reason: {snoozed:?}"
    );
}

#[test]
fn the_pages_the_overall_walk_leaves_out_pass_axe_and_fit_a_phone() {
    let (_tmp, db) = scratch_db();
    let (child, addr, admin) = serve_demo_signed_in(&db, "2");
    let pages = [
        "/cheatsheet?site=A10000".to_owned(),
        "/estate/organisations".into(),
        "/estate/sites".into(),
        "/estate/workstations".into(),
        "/estate/readers".into(),
        "/estate/stock".into(),
        "/reviews".into(),
    ];
    let reports = axe_in_chromium(&addr, &admin, &pages);
    stop(child);
    for (width, report) in &reports {
        for p in &pages {
            let r = &report[p];
            assert_eq!(r["status"], 200, "{p} at {width} px: {r}");
            assert_accessible_and_fits(p, *width, r);
            assert_eq!(r["offsite"], serde_json::json!([]), "{p} at {width} px");
            // The cheat sheet is a page to print, with no header to fold.
            if *width == 390 && !p.starts_with("/cheatsheet") {
                assert_eq!(r["menu"], true, "{p}: the header's menu folds on a phone");
            }
        }
    }
}
