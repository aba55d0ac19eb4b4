//! A CSV downloaded from the running server cannot run as a spreadsheet formula (OWASP's CSV
//! injection guidance), and the same file imports back to the very values stored.

mod common;

use common::{cardwatch, get_as, ok, scratch_db, serve_demo_signed_in, stop};

const HOSTILE: &str = "=HYPERLINK(\"http://evil.example\",\"Open\")";

#[test]
fn a_downloaded_estate_list_runs_no_formula_and_imports_back() {
    let (dir, db) = scratch_db();
    let (server, addr, cookie) = serve_demo_signed_in(&db, "1");
    let sites = ok(&cardwatch(&db, &["export", "sites"]));
    let site = sites
        .lines()
        .nth(1)
        .and_then(|l| l.split(',').next())
        .expect("a demo site")
        .to_owned();
    let people = dir.path().join("people.json");
    std::fs::write(
        &people,
        serde_json::json!([
            {"uuid": "555000000001", "name": HOSTILE, "site_ods": &site, "local_admin": false},
            {"uuid": "555000000002", "name": "@SUM(A1)", "site_ods": &site, "local_admin": false},
        ])
        .to_string(),
    )
    .expect("write people");
    ok(&cardwatch(&db, &["import", people.to_str().expect("path")]));

    let (status, csv) = get_as(&addr, "/api/v1/estate/people?format=csv", &cookie);
    stop(server);
    assert_eq!(status, 200, "{csv}");
    let body = csv.split("\r\n\r\n").nth(1).expect("a body");
    let mut rows = csv::Reader::from_reader(body.as_bytes());
    let at = rows
        .headers()
        .expect("a header")
        .iter()
        .position(|h| h == "name")
        .expect("a name column");
    let names: Vec<String> = rows
        .records()
        .map(|r| r.expect("csv")[at].to_owned())
        .collect();
    assert!(names.len() > 2, "{body}");
    for name in &names {
        assert!(
            !name.starts_with(['=', '+', '-', '@', '\t', '\r']),
            "{name:?} would run as a formula"
        );
    }
    assert!(names.contains(&format!("'{HOSTILE}")), "{names:?}");
    assert!(names.contains(&"'@SUM(A1)".to_owned()), "{names:?}");

    // The download, imported again, changes nothing: its values are the stored ones.
    let back = dir.path().join("people.csv");
    std::fs::write(&back, body).expect("write download");
    let report = ok(&cardwatch(&db, &["import", back.to_str().expect("path")]));
    let json = ok(&cardwatch(&db, &["export", "people", "--format", "json"]));
    assert!(
        json.contains(&serde_json::to_string(HOSTILE).expect("json")),
        "{report}"
    );
    assert!(!json.contains("'=HYPERLINK"), "{json}");
    assert!(!json.contains("'@SUM"), "{json}");
}
