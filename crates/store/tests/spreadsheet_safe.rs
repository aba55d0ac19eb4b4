//! CSV exports are safe to open in a spreadsheet (OWASP's CSV injection guidance) and still
//! import back to identical values: a real export from one SQLite store, imported into another.

mod common;

use cardwatch_core::records::Kind;
use cardwatch_store::{Format, ImportInput};
use common::{import, TestDb};

const ORGS: &str = "ods_code,name,type,parent_ods
A81001,Riverside Surgery,gp_practice,Q0001
Q0001,NHS Test ICB,icb,
";
const SITES: &str = "site_ods,organisation_ods,name,core_hours
A81001,A81001,Riverside Surgery,Mon-Fri 08:00-18:30
";

/// Names a spreadsheet would run as formulas, and names with apostrophes that must not change.
const NAMES: [&str; 9] = [
    "=HYPERLINK(\"http://evil.example\",\"x\")",
    "+44 20 7946 0000",
    "-5",
    "@SUM(A1)",
    "=1+1, \"quoted\"",
    "O'Brien",
    "'quoted",
    // Already written the way an export guards a formula: kept as it is, not taken for a guard.
    "'=not a guard",
    "''-two quotes",
];

fn export(db: &TestDb, kind: Kind, format: Format) -> String {
    let mut out = Vec::new();
    cardwatch_store::export(&*db.store, kind, format, &mut out).expect("export");
    String::from_utf8(out).expect("utf-8")
}

fn with_people(people: ImportInput) -> TestDb {
    let db = TestDb::sqlite();
    import(
        &db,
        &[
            ImportInput::bytes("organisations.csv", ORGS),
            ImportInput::bytes("sites.csv", SITES),
            people,
        ],
    );
    db
}

#[test]
fn a_csv_export_runs_no_formula_and_imports_back_to_identical_values() {
    // The values go in through JSON, which is taken exactly as written, so the test starts
    // from the very text an operator typed.
    let items: Vec<serde_json::Value> = NAMES
        .iter()
        .enumerate()
        .map(|(i, name)| {
            serde_json::json!({
                "uuid": format!("5551234567{i:02}"),
                "name": name,
                "email": "",
                "staff_role": "-GP",
                "site_ods": "A81001",
                "local_admin": false,
                "ra_roles": "",
            })
        })
        .collect();
    let json = serde_json::to_vec(&items).expect("json");
    let first = with_people(ImportInput::bytes("people.json", json));

    let csv = export(&first, Kind::People, Format::Csv);
    // No cell of the download starts a formula.
    let mut rdr = csv::ReaderBuilder::new().from_reader(csv.as_bytes());
    let mut rows = 0;
    for rec in rdr.records() {
        let rec = rec.expect("csv");
        for cell in rec.iter() {
            assert!(
                !cell.starts_with(['=', '+', '-', '@', '\t', '\r']),
                "{cell:?} would run as a formula in\n{csv}"
            );
        }
        rows += 1;
    }
    assert_eq!(rows, NAMES.len());
    assert!(
        csv.contains("\"'=HYPERLINK(\"\"http://evil.example\"\",\"\"x\"\")\""),
        "{csv}"
    );
    assert!(csv.contains(",'-5,"), "{csv}");
    assert!(
        csv.contains(",O'Brien,") && csv.contains(",'quoted,"),
        "{csv}"
    );
    assert!(csv.contains(",''=not a guard,"), "{csv}");

    // Imported into another store, the export gives back the same records.
    let second = with_people(ImportInput::bytes("people.csv", csv.clone()));
    assert_eq!(
        export(&second, Kind::People, Format::Json),
        export(&first, Kind::People, Format::Json)
    );
    assert_eq!(export(&second, Kind::People, Format::Csv), csv);
    let json = export(&second, Kind::People, Format::Json);
    for name in NAMES {
        let quoted = serde_json::to_string(name).expect("json");
        assert!(
            json.contains(&format!("\"name\":{quoted}")),
            "{name:?} in {json}"
        );
    }
}
