//! Care Identity Management exports uploaded at `/admin/import` are read with the configuration's
//! `[import] mapping`, as `cardwatch import` reads them; the page says which mapping is in use.

mod common;

use std::path::Path;
use std::process::Stdio;
use std::time::{Duration, Instant};

use common::*;

/// The store's CIM fixtures: exports as Excel saves them (byte-order mark, CRLF).
fn fixture(name: &str) -> String {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../store/tests/data/cim")
        .join(name);
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn write(dir: &Path, name: &str, text: &str) -> String {
    let path = dir.join(name);
    std::fs::write(&path, text).expect("write");
    path.display().to_string()
}

/// `serve --demo` (serving the estate already there) with the configuration file `config`, if
/// any, signed in as the demo administrator: the process, its address and the session cookie.
fn serve_with(db: &str, config: Option<&str>) -> (std::process::Child, String, String) {
    let mut serve = command(db, None);
    if let Some(c) = config {
        serve.args(["--config", c]);
    }
    serve.args([
        "serve",
        "--demo",
        "--practices",
        "1",
        "--bind",
        "127.0.0.1:0",
    ]);
    let (child, addr, banner) = spawn_serving(serve);
    let cookie = sign_in_demo(&addr, &banner);
    (child, addr, cookie)
}

/// The import form posted with `files` (name, content).
fn upload(addr: &str, cookie: &str, csrf: &str, files: &[(&str, &str)]) -> (u16, String) {
    let boundary = "cardwatch-test-boundary";
    let mut body =
        format!("--{boundary}\r\nContent-Disposition: form-data; name=\"csrf\"\r\n\r\n{csrf}\r\n");
    for (name, content) in files {
        body.push_str(&format!(
            "--{boundary}\r\nContent-Disposition: form-data; name=\"files\"; filename=\"{name}\"\r\nContent-Type: text/csv\r\n\r\n{content}\r\n"
        ));
    }
    body.push_str(&format!("--{boundary}--\r\n"));
    send_with(
        addr,
        "POST",
        "/admin/import",
        &[("Cookie", cookie)],
        Some((&format!("multipart/form-data; boundary={boundary}"), &body)),
    )
}

/// Without `[import] mapping` the page says the shipped mapping is in use and an export whose
/// card serial header is the RA team's own ("Card No") is refused, naming that column, with
/// nothing written; with the mapping configured the page names its file and the same upload
/// imports, read as the Smartcards report. A mapping path that cannot be read stops `serve`
/// before it listens, naming the key and the file.
#[test]
fn admin_uploads_of_cim_exports_use_the_configured_mapping() {
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
    let users = fixture("users.csv");
    let cards = fixture("smartcards.csv").replace("Smartcard serial number", "Card No");
    let files = [
        ("Smartcards report.csv", cards.as_str()),
        ("Users report.csv", users.as_str()),
    ];
    let mine = write(
        dir,
        "mine.toml",
        "[[report]]\nname = \"Smartcards\"\n[report.columns]\ncard_serial = [\"Card No\"]\n",
    );
    let config = write(
        dir,
        "cardwatch.toml",
        &format!("[import]\nmapping = {mine:?}\n"),
    );
    let exported_cards = || ok(&cardwatch(&db, &["export", "cards"]));

    // The shipped mapping alone.
    let (child, addr, cookie) = serve_with(&db, None);
    let (status, page) = get_as(&addr, "/admin/import", &cookie);
    assert_eq!(status, 200, "{page}");
    assert!(
        page.contains("read with the shipped mapping (knowledge/cim-mapping.toml)"),
        "{page}"
    );
    let refused = upload(&addr, &cookie, &csrf_of(&page), &files);
    assert_eq!(refused.0, 400, "{}", refused.1);
    assert!(
        shown(&refused.1, "Smartcards report.csv") && refused.1.to_lowercase().contains("card no"),
        "the unknown column is named: {}",
        refused.1
    );
    assert!(!exported_cards().contains("0912345601"), "nothing written");
    stop(child);

    // The configured mapping.
    let (child, addr, cookie) = serve_with(&db, Some(&config));
    let (_, page) = get_as(&addr, "/admin/import", &cookie);
    assert!(
        shown(
            &page,
            &format!("read with the mapping in {mine} (the configuration's [import] mapping)")
        ),
        "{page}"
    );
    let done = upload(&addr, &cookie, &csrf_of(&page), &files);
    assert_eq!(done.0, 200, "{}", done.1);
    assert!(
        done.1.contains("Imported, and recorded in the audit log")
            && shown(
                &done.1,
                "Read as Care Identity Management's “Smartcards” report."
            ),
        "{}",
        done.1
    );
    assert!(
        exported_cards().contains("0912345601,555123456791,9,active,2024-12-05,"),
        "{}",
        exported_cards()
    );
    stop(child);

    // A mapping that cannot be read: the server does not start.
    let missing = dir.join("no-such-mapping.toml").display().to_string();
    let bad = write(
        dir,
        "bad.toml",
        &format!("[import]\nmapping = {missing:?}\n"),
    );
    let mut serve = command(&db, None)
        .args(["--config", &bad, "serve", "--bind", "127.0.0.1:0"])
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("serve");
    let deadline = Instant::now() + Duration::from_secs(30);
    let status = loop {
        if let Some(s) = serve.try_wait().expect("wait") {
            break s;
        }
        if Instant::now() > deadline {
            stop(serve);
            panic!("serve started with a mapping that cannot be read");
        }
        std::thread::sleep(Duration::from_millis(100));
    };
    let mut err = String::new();
    std::io::Read::read_to_string(&mut serve.stderr.take().expect("stderr"), &mut err)
        .expect("stderr");
    assert!(!status.success());
    assert!(
        err.contains("import.mapping") && err.contains(&missing) && err.contains("bad.toml"),
        "{err}"
    );
    assert!(ok(&cardwatch(&db, &["audit", "verify"])).contains("intact"));
}
