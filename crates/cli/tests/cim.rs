//! `cardwatch import` with Care Identity Management report exports and an operator's mapping.

mod common;

use std::path::{Path, PathBuf};

use common::*;

/// The store's CIM fixtures: exports as Excel saves them (byte-order mark, CRLF).
fn fixture(name: &str) -> String {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../store/tests/data/cim")
        .join(name);
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn write(dir: &Path, name: &str, text: &str) -> String {
    let path: PathBuf = dir.join(name);
    std::fs::write(&path, text).expect("write");
    path.display().to_string()
}

/// A bad mapping file exits 2 naming its line, and nothing is imported; a good one lays its
/// header names over the shipped ones, the report says what each export was read as and which
/// columns were ignored, and importing the same files again changes nothing.
#[test]
fn cim_exports_import_with_an_operators_mapping() {
    let (tmp, db) = scratch_db();
    let dir = tmp.path();
    let orgs = write(
        dir,
        "organisations.csv",
        "ods_code,name,type,parent_ods\nA81001,Riverside Surgery,gp_practice,\n",
    );
    let sites = write(
        dir,
        "sites.csv",
        "site_ods,organisation_ods,name,core_hours\nA81001,A81001,Riverside Surgery,\n",
    );
    ok(&cardwatch(&db, &["import", &orgs, &sites]));
    let users = write(dir, "Users report.csv", &fixture("users.csv"));
    let cards = write(
        dir,
        "Smartcards report.csv",
        &fixture("smartcards.csv").replace("Smartcard serial number", "Card No"),
    );

    let bad = write(
        dir,
        "bad.toml",
        "[[report]]\nname = \"Logins\"\nkind = \"logins\"\n",
    );
    let out = cardwatch(&db, &["import", "--mapping", &bad, &users, &cards]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out.stderr));
    let err = text(&out.stderr);
    assert!(err.contains(&format!("{bad}:3:")), "{err}");
    assert!(err.contains("not a Cardwatch kind"), "{err}");
    assert_eq!(
        ok(&cardwatch(&db, &["export", "people"])).lines().count(),
        1
    );

    let mine = write(
        dir,
        "mine.toml",
        "[[report]]\nname = \"Smartcards\"\n[report.columns]\ncard_serial = [\"Card No\"]\n",
    );
    let out = ok(&cardwatch(
        &db,
        &["import", "--mapping", &mine, &cards, &users],
    ));
    assert!(
        out.contains("read as Care Identity Management's Smartcards report"),
        "{out}"
    );
    assert!(
        out.contains("columns ignored: Date of expiry, Type, Organisation"),
        "{out}"
    );
    assert!(
        out.contains("columns ignored: User status, Workgroups"),
        "{out}"
    );
    let exported = ok(&cardwatch(&db, &["export", "cards"]));
    assert!(
        exported.contains("0912345601,555123456791,9,active,2024-12-05,"),
        "{exported}"
    );
    let again = ok(&cardwatch(
        &db,
        &["import", "--mapping", &mine, &cards, &users],
    ));
    assert!(
        !again.contains(" 1 new") && !again.contains("1 changed"),
        "{again}"
    );
}

/// `[import] mapping` in the configuration file is the mapping imports use when no `--mapping`
/// is given; a path that cannot be read, or a file that is not a mapping, is refused when the
/// configuration is read, naming the key and the file, and nothing is imported.
#[test]
fn the_configurations_import_mapping_is_used_without_mapping_and_checked_when_read() {
    let (tmp, db) = scratch_db();
    let dir = tmp.path();
    let orgs = write(
        dir,
        "organisations.csv",
        "ods_code,name,type,parent_ods\nA81001,Riverside Surgery,gp_practice,\n",
    );
    let sites = write(
        dir,
        "sites.csv",
        "site_ods,organisation_ods,name,core_hours\nA81001,A81001,Riverside Surgery,\n",
    );
    ok(&cardwatch(&db, &["import", &orgs, &sites]));
    let users = write(dir, "Users report.csv", &fixture("users.csv"));
    let cards = write(
        dir,
        "Smartcards report.csv",
        &fixture("smartcards.csv").replace("Smartcard serial number", "Card No"),
    );
    let config = |mapping: &str| {
        write(
            dir,
            "cardwatch.toml",
            &format!("[import]\nmapping = \"{mapping}\"\n"),
        )
    };
    let import = |cfg: &str| cardwatch(&db, &["--config", cfg, "import", &cards, &users]);
    let people = || ok(&cardwatch(&db, &["export", "people"])).lines().count();

    let missing = dir.join("no-such-mapping.toml").display().to_string();
    let out = import(&config(&missing));
    assert!(!out.status.success());
    let err = text(&out.stderr);
    assert!(
        err.contains("import.mapping") && err.contains(&missing) && err.contains("cardwatch.toml"),
        "{err}"
    );
    let bad = write(
        dir,
        "bad.toml",
        "[[report]]\nname = \"Logins\"\nkind = \"logins\"\n",
    );
    let out = import(&config(&bad));
    assert!(!out.status.success());
    let err = text(&out.stderr);
    assert!(
        err.contains("import.mapping") && err.contains(&format!("{bad}:3:")),
        "{err}"
    );
    assert_eq!(people(), 1, "nothing imported");

    // Without the operator's mapping the renamed column is not recognised; with it in the
    // configuration, it is.
    let shipped_only = cardwatch(&db, &["import", &cards, &users]);
    assert!(!shipped_only.status.success());
    let mine = write(
        dir,
        "mine.toml",
        "[[report]]\nname = \"Smartcards\"\n[report.columns]\ncard_serial = [\"Card No\"]\n",
    );
    let out = ok(&import(&config(&mine)));
    assert!(
        out.contains("read as Care Identity Management's Smartcards report"),
        "{out}"
    );
    let exported = ok(&cardwatch(&db, &["export", "cards"]));
    assert!(
        exported.contains("0912345601,555123456791,9,active,2024-12-05,"),
        "{exported}"
    );
}
