//! The hostile-text sweep in a real browser (issue 32): hostile text stored in every field that
//! reaches a page — names, sites, notes, reasons, incident text, relay, webhook, feed and token
//! names, imported files — then every page the server routes opened in Debian's headless
//! Chromium, signed in as an administrator: nothing injected ran, appeared as an element or a
//! `javascript:` link, or was blocked by the Content-Security-Policy (tests/browser/hostile.mjs).
//! The pages come from the server's own router, so a page added later cannot be missed.

mod common;

use std::collections::BTreeSet;
use std::process::{Child, Stdio};

use common::{
    body_json, browser, cardwatch_on, command, csrf_of, get_as, ok, request, scratch_db,
    set_cookie, spawn_serving, stop, text, DAY,
};

/// Breaks out of an element, a double- and a single-quoted attribute and a textarea, and carries
/// a template expression: each part sets `window.__pwned` if it ever runs.
const HOSTILE: &str =
    "<script>window.__pwned=1</script> \"><img src=x onerror=\"window.__pwned=1\"> \
' onmouseover='window.__pwned=1 </textarea><svg onload=window.__pwned=1> Z{{7*7}}Z";

/// HOSTILE's parts, each looked for as text on the pages that show it.
const MARKERS: [&str; 5] = [
    "<script>window.__pwned=1</script>",
    "<img src=x onerror=\"window.__pwned=1\">",
    "' onmouseover='window.__pwned=1",
    "</textarea><svg onload=window.__pwned=1>",
    "Z{{7*7}}Z",
];

/// The same without spaces, for fields that refuse them: an SMTP relay's host, a workstation's name.
const HOSTILE_WORD: &str =
    "<script>window.__pwned=1</script>\"><img/src=x/onerror=window.__pwned=1>'onmouseover='window.__pwned=1";

/// An EMIS user name: no spaces, at most 64 characters.
const HOSTILE_EMIS: &str = "\"><img/src=x/onerror=window.__pwned=1>'onmouseover='x";

/// A file's name sent from the import page: no `/` (a browser keeps only the name's last part)
/// and no `"` (a browser escapes it in the form's header).
const HOSTILE_FILE: &str = "<svg onload=window.__pwned=1>' onmouseover='x.csv";

/// A link that runs script when followed.
const LINK: &str = "javascript:window.__pwned=1";

/// The hostile person, their card, workstation and integration.
const UUID: &str = "009990000001";
const CARD: &str = "CS0999999991";
const HOST: &str = "a10000-ws901";
const INTEGRATION: &str = "t9-a10000";

/// How the sweep treats each GET route of the router.
#[derive(Clone, Copy, Debug, PartialEq)]
enum Route {
    /// An HTML page: opened in Chromium at the addresses `visits` gives.
    Page,
    /// Not HTML (stylesheets, scripts, images, calendar feeds, JSON, metrics): fetched once to
    /// show it is not a page.
    NotHtml,
}

/// Every GET route `crates/server/src/lib.rs` serves, as its router spells it.
const ROUTES: &[(&str, Route)] = &[
    ("/", Route::Page),
    ("/findings", Route::Page),
    ("/findings/{rule}/{*subject}", Route::Page),
    ("/cheatsheet", Route::Page),
    ("/triage", Route::Page),
    ("/login", Route::Page),
    ("/login/oidc", Route::Page),
    ("/login/oidc/callback", Route::Page),
    ("/account", Route::Page),
    ("/feeds/{file}", Route::NotHtml),
    ("/unsubscribe/{secret}", Route::Page),
    ("/audit", Route::Page),
    ("/reviews", Route::Page),
    ("/plan", Route::Page),
    ("/plan/migration", Route::Page),
    ("/estate/{kind}", Route::Page),
    ("/admin/users", Route::Page),
    ("/admin/jobs", Route::Page),
    ("/admin/import", Route::Page),
    ("/admin/agents", Route::Page),
    ("/admin/sites", Route::Page),
    ("/cards", Route::Page),
    ("/cards/{serial}", Route::Page),
    ("/people/{uuid}", Route::Page),
    ("/people/{uuid}/export", Route::NotHtml),
    ("/workstations/{hostname}", Route::Page),
    ("/integrations/{id}", Route::Page),
    ("/reports", Route::Page),
    ("/admin/retention", Route::Page),
    ("/incidents", Route::Page),
    ("/incidents/{id}/packet", Route::Page),
    ("/assets/nhsuk-frontend.min.css", Route::NotHtml),
    ("/assets/nhsuk-frontend.min.js", Route::NotHtml),
    ("/assets/js-enabled.js", Route::NotHtml),
    ("/assets/cardwatch.css", Route::NotHtml),
    ("/assets/cardwatch.js", Route::NotHtml),
    ("/assets/print.css", Route::NotHtml),
    ("/assets/images/{name}", Route::NotHtml),
    ("/healthz", Route::NotHtml),
    ("/metrics", Route::NotHtml),
];

/// The GET routes of the router in `lib.rs`: each `.route(PATH, …)` whose method router has a
/// `get(`, PATH a string or a constant of the server's (`account::oidc::CALLBACK_PATH`). The JSON
/// API's routes come from `api::ENDPOINTS` and are not pages.
fn routed_pages() -> BTreeSet<String> {
    let server = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../server/src");
    let source = std::fs::read_to_string(server.join("lib.rs")).expect("the server's lib.rs");
    let router = source
        .split("pub fn router(")
        .nth(1)
        .expect("lib.rs has `pub fn router(`");
    let router = router.split("\n}\n").next().unwrap_or(router);
    router
        .split(".route(")
        .skip(1)
        .filter_map(|r| {
            let r = r.split(".layer(").next().unwrap_or(r);
            let (path, rest) = r.split_once(',')?;
            let path = path.trim();
            let path = match path.strip_prefix('"') {
                Some(p) => p.trim_end_matches('"').to_owned(),
                None => constant(&server, path),
            };
            rest.contains("get(").then_some(path)
        })
        .collect()
}

/// The value of a `&str` constant of the server's, named as the router names it.
fn constant(server: &std::path::Path, expr: &str) -> String {
    let name = expr.rsplit("::").next().unwrap_or(expr);
    let wanted = format!("const {name}: &str = \"");
    let mut folders = vec![server.to_path_buf()];
    while let Some(dir) = folders.pop() {
        for entry in std::fs::read_dir(&dir).expect("read the server's sources") {
            let path = entry.expect("an entry").path();
            if path.is_dir() {
                folders.push(path);
            } else if path.extension().is_some_and(|e| e == "rs") {
                let text = std::fs::read_to_string(&path).expect("read a source file");
                if let Some(v) = text.split(&wanted).nth(1).and_then(|r| r.split('"').next()) {
                    return v.to_owned();
                }
            }
        }
    }
    panic!("the router's path {expr} is not a &str constant in crates/server/src")
}

/// Percent-encodes everything but letters, digits and `-._~`, for a path segment or a query value.
fn enc(s: &str) -> String {
    s.bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}

/// A form body, every value percent-encoded.
fn form(pairs: &[(&str, &str)]) -> String {
    pairs
        .iter()
        .map(|(k, v)| format!("{k}={}", enc(v)))
        .collect::<Vec<_>>()
        .join("&")
}

/// A CSV cell holding `text`, quoted.
fn cell(text: &str) -> String {
    format!("\"{}\"", text.replace('"', "\"\""))
}

/// A CSV line split into cells, honouring quotes (the store's own exports).
fn cells(line: &str) -> Vec<String> {
    let mut out = vec![String::new()];
    let mut quoted = false;
    let mut chars = line.chars().peekable();
    while let Some(c) = chars.next() {
        match (c, quoted) {
            ('"', true) if chars.peek() == Some(&'"') => {
                chars.next();
                out.last_mut().expect("a cell").push('"');
            }
            ('"', _) => quoted = !quoted,
            (',', false) => out.push(String::new()),
            (c, _) => out.last_mut().expect("a cell").push(c),
        }
    }
    out
}

/// `serve --demo` on the tests' day with a configuration file; signed in as its administrator.
/// Returns the process, its address and the session cookie.
fn serve(db: &str, config: &std::path::Path) -> (Child, String, String) {
    let mut serve = command(db, Some(DAY));
    serve.arg("--config").arg(config).args([
        "serve",
        "--demo",
        "--practices",
        "1",
        "--bind",
        "127.0.0.1:0",
    ]);
    let (child, addr, banner) = spawn_serving(serve);
    let password = banner
        .split("password ")
        .nth(1)
        .map(str::trim)
        .unwrap_or_else(|| panic!("no demo password in {banner:?}"));
    let (status, response) = request(
        &addr,
        "POST",
        "/login",
        None,
        Some(&format!("username=demo&password={password}")),
    );
    assert_eq!(status, 303, "{response}");
    let token = set_cookie(&response, "cw_session").expect("a session cookie");
    (child, addr, format!("cw_session={token}"))
}

/// What `serve` says when it refuses a configuration whose relay is `smtp_url`.
fn refused_config(db: &str, config: &std::path::Path, smtp_url: &str) -> String {
    let toml = smtp_url.replace('\\', "\\\\").replace('"', "\\\"");
    std::fs::write(config, format!("[notify]\nsmtp_url = \"{toml}\"\n"))
        .expect("write the configuration");
    let mut child = command(db, Some(DAY))
        .arg("--config")
        .arg(config)
        .args(["serve", "--bind", "127.0.0.1:0"])
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn");
    let started = std::time::Instant::now();
    while child.try_wait().expect("wait").is_none() {
        if started.elapsed() > std::time::Duration::from_secs(20) {
            stop(child);
            panic!("serve started with smtp_url = {smtp_url:?}");
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    let out = child.wait_with_output().expect("output");
    assert!(!out.status.success(), "smtp_url = {smtp_url:?} accepted");
    text(&out.stderr)
}

/// `cardwatch` on the tests' day, which must succeed.
fn run(db: &str, args: &[&str]) -> String {
    ok(&cardwatch_on(DAY, db, args))
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
    run(db, &args);
}

/// One of the store's records of `kind` whose first cell is `key`, as cells.
fn exported(db: &str, kind: &str, key: impl Fn(&[String]) -> bool) -> (String, Vec<String>) {
    let csv = run(db, &["export", kind]);
    let header = csv.lines().next().expect("a header").to_owned();
    let row = csv
        .lines()
        .skip(1)
        .map(cells)
        .find(|c| key(c))
        .unwrap_or_else(|| panic!("no such {kind} in {csv}"));
    (header, row)
}

/// The record again with the named columns set to HOSTILE, as a file to import.
fn hostile_copy(header: &str, row: &[String], columns: &[&str]) -> String {
    let names = cells(header);
    let line: Vec<String> = names
        .iter()
        .zip(row)
        .map(|(n, v)| {
            if columns.contains(&n.as_str()) {
                cell(HOSTILE)
            } else {
                cell(v)
            }
        })
        .collect();
    format!("{header}\n{}\n", line.join(","))
}

/// What the estate holds once hostile text is stored everywhere it can be, and the addresses it
/// made (finding ids, the incident's packet, a calendar feed).
struct Fixture {
    findings: Vec<String>,
    packet: String,
    feed: String,
    csrf: String,
}

/// Stores hostile text in every field that reaches a page: through the CLI's import and
/// commands, and through the web forms an operator uses.
fn store_hostile_text(db: &str, dir: &std::path::Path, addr: &str, admin: &str) -> Fixture {
    let h = cell(HOSTILE);
    // The demo's own site and organisation renamed: their names are on most pages.
    let (site_header, site) = exported(db, "sites", |c| c[0] == "A10000");
    let (org_header, org) = exported(db, "organisations", |c| c[0] == site[1]);
    import_files(
        db,
        dir,
        &[
            (
                "organisations.csv",
                hostile_copy(&org_header, &org, &["name"]),
            ),
            ("sites.csv", hostile_copy(&site_header, &site, &["name"])),
            (
                "people.csv",
                format!("uuid,name,email,staff_role,site_ods,employment_end,local_admin,ra_roles\n{UUID},{h},,{h},A10000,2027-03-31,no,\n"),
            ),
            (
                "cards.csv",
                format!("card_serial,holder_uuid,series,status,issued_on,last_used_on\n{CARD},{UUID},9,active,2024-03-02,2026-11-20\n"),
            ),
            (
                "certificates.csv",
                format!("card_serial,purpose,serial_number,issuer,not_before,not_after,hash_algorithm\n{CARD},authentication,4EDF50621A885D90,{h},2024-08-15,2026-12-11,sha256\n{CARD},signing,A9AFC6F6942C6360,{h},2026-01-13,2028-05-09,sha1\n"),
            ),
            (
                "positions.csv",
                format!("holder_uuid,ods_code,role_code,role_name,activity_codes,status,requested_on,approved_on\n{UUID},A10000,R8000,{h},B0068,active,2023-07-25,2023-07-31\n"),
            ),
            (
                "workstations.csv",
                format!("hostname,site_ods,os,os_build,update_ring,last_seen,update_window,applications\n{HOST},A10000,{h},{h},pilot,2026-11-21T01:38:40Z,,\n"),
            ),
            (
                "software.csv",
                format!("hostname,component,version\n{HOST},identity-agent,{h}\n"),
            ),
            (
                "readers.csv",
                format!("reader_serial,vendor,model,firmware,hostname,site_ods,status\nRD-00000-9999,{h},{h},{h},{HOST},A10000,in_service\n"),
            ),
            (
                "integrations.csv",
                format!("integration,service,site_ods,clinical_system,required_roles,required_activity_codes,emis_cdb,service_emis_cdb,systmone_profile,service_systmone_profile\n{INTEGRATION},{h},A10000,emis,,,11111,11112,,\n"),
            ),
            (
                "integration_cards.csv",
                format!(
                    "integration,card_serial,emis_username\n{INTEGRATION},{CARD},{}\n",
                    cell(HOSTILE_EMIS)
                ),
            ),
        ],
    );
    // A card's status changed with a hostile reason (its status history).
    run(
        db,
        &["card", "set-status", CARD, "locked", "--reason", HOSTILE],
    );
    // Findings about the hostile records acknowledged and snoozed with hostile reasons.
    let listed = body_json(&get_as(addr, "/api/v1/findings?limit=10000", admin).1);
    let ours: Vec<String> = listed["findings"]
        .as_array()
        .expect("findings")
        .iter()
        .filter_map(|f| f["id"].as_str())
        .filter(|id| id.contains(CARD) || id.contains(HOST) || id.contains("A10000"))
        .map(str::to_owned)
        .collect();
    assert!(
        ours.len() >= 2,
        "findings about the hostile records: {listed}"
    );
    let findings = vec![ours[0].clone(), ours[1].clone()];
    run(db, &["finding", "ack", &findings[0], "--reason", HOSTILE]);
    run(
        db,
        &["finding", "snooze", &findings[1], "--reason", HOSTILE],
    );
    // A webhook's name that is markup, and an address that would run script, are refused
    // before they are stored; a hostile address on this machine is kept (the audit log names
    // it), and so is an API token's hostile name.
    for (name, url, why) in [
        (HOSTILE, "http://127.0.0.1:9/", "use letters, digits"),
        ("desk-alerts", LINK, "must start with https:// or http://"),
    ] {
        let refused = cardwatch_on(DAY, db, &["webhook", "add", name, "--url", url]);
        assert_eq!(refused.status.code(), Some(2), "{}", text(&refused.stderr));
        assert!(
            text(&refused.stderr).contains(why),
            "{}",
            text(&refused.stderr)
        );
    }
    run(
        db,
        &[
            "webhook",
            "add",
            "desk-alerts",
            "--url",
            &format!("http://127.0.0.1:9/{}", enc(HOSTILE)),
        ],
    );
    run(db, &["token", "add", "--user", "demo", "--name", HOSTILE]);

    // The web forms: an operator's name, a site's contact, a review's reason, a feed's name, an
    // incident recorded from the wizard with a hostile error text and what the user was doing.
    let csrf = csrf_of(&get_as(addr, "/account", admin).1);
    let post = |path: &str, pairs: &[(&str, &str)]| {
        request(addr, "POST", path, Some(admin), Some(&form(pairs)))
    };
    let added = post(
        "/admin/users/add",
        &[
            ("csrf", &csrf),
            ("username", "hostile@nhs.net"),
            ("name", HOSTILE),
            ("role", "practice_manager"),
            ("organisations", "A10000"),
        ],
    );
    assert_eq!(added.0, 200, "{}", added.1);
    let contact = post(
        "/admin/sites/contacts",
        &[
            ("csrf", &csrf),
            ("site", "A10000"),
            ("role", HOSTILE),
            ("name", HOSTILE),
            ("phone", "01632 960000"),
        ],
    );
    assert_eq!(contact.0, 200, "{}", contact.1);
    let kept = post(
        "/reviews",
        &[
            ("csrf", &csrf),
            ("holder_uuid", UUID),
            ("ods_code", "A10000"),
            ("role_code", "R8000"),
            ("decision", "keep"),
            ("reason", HOSTILE),
        ],
    );
    assert_eq!(kept.0, 200, "{}", kept.1);
    let feed = post(
        "/account/feeds",
        &[("csrf", &csrf), ("name", HOSTILE), ("site", "")],
    );
    assert_eq!(feed.0, 200, "{}", feed.1);
    let feed = feed
        .1
        .split("/feeds/")
        .nth(1)
        .and_then(|r| r.split(['"', '<', ' ']).next())
        .map(|f| format!("/feeds/{f}"))
        .unwrap_or_else(|| panic!("no feed address in {}", feed.1));
    let query = form(&[
        ("symptom", "cannot-sign"),
        ("text", HOSTILE),
        ("site", "A10000"),
        ("card_serial", CARD),
        ("hostname", HOST),
    ]);
    let recorded = post(
        "/triage/record",
        &[
            ("csrf", &csrf),
            ("query", &query),
            ("outcome", "escalated"),
            ("application", "emis-web"),
            ("doing", HOSTILE),
        ],
    );
    assert_eq!(recorded.0, 303, "{}", recorded.1);
    let packet = recorded
        .1
        .lines()
        .find_map(|l| l.strip_prefix("location: "))
        .map(|l| l.trim().to_owned())
        .unwrap_or_else(|| panic!("no packet: {}", recorded.1));
    Fixture {
        findings,
        packet,
        feed,
        csrf,
    }
}

/// The addresses at which the sweep opens a routed page: the hostile records' own pages, the
/// lists that show them, and every filter and path with hostile text typed into it.
fn visits(route: &str, fx: &Fixture) -> Vec<String> {
    let e = enc(HOSTILE);
    let all = |v: &[&str]| v.iter().map(|s| (*s).to_owned()).collect::<Vec<_>>();
    match route {
        "/" => all(&["/"]),
        "/findings" => vec![
            "/findings".into(),
            format!("/findings?site={e}"),
            format!("/findings?q={e}&sort={e}"),
        ],
        "/findings/{rule}/{*subject}" => {
            let mut v: Vec<String> = fx.findings.iter().map(|f| format!("/findings/{f}")).collect();
            v.push(format!("/findings/{e}/{e}"));
            v
        }
        "/cheatsheet" => vec!["/cheatsheet?site=A10000".into(), format!("/cheatsheet?site={e}")],
        "/triage" => vec![
            "/triage".into(),
            format!("/triage?text={e}"),
            format!("/triage?symptom=cannot-sign&text={e}&site=A10000&card_serial={CARD}&hostname={HOST}"),
            format!("/triage?symptom=cannot-sign&text={e}&obs={e}"),
            format!("/triage?symptom={e}"),
            format!("/triage?symptom=cannot-sign&site={e}&card_serial={e}&hostname={e}"),
        ],
        "/login" => vec!["/login".into(), format!("/login?next={}", enc(LINK))],
        "/login/oidc" => vec![format!("/login/oidc?next={}", enc(LINK))],
        "/login/oidc/callback" => vec![format!(
            "/login/oidc/callback?state={e}&code={e}&error={e}&error_description={e}"
        )],
        "/account" => all(&["/account"]),
        "/unsubscribe/{secret}" => vec![format!("/unsubscribe/{e}")],
        "/audit" => vec!["/audit".into(), format!("/audit?entity={e}")],
        "/reviews" => vec!["/reviews?show=all".into(), format!("/reviews?show={e}")],
        "/plan" => vec!["/plan".into(), format!("/plan?capacity={e}")],
        "/plan/migration" => vec!["/plan/migration".into(), format!("/plan/migration?per_day={e}")],
        "/estate/{kind}" => {
            let mut v: Vec<String> = [
                "organisations",
                "sites",
                "people",
                "workstations",
                "readers",
                "stock",
                "integrations",
            ]
            .iter()
            .map(|k| format!("/estate/{k}"))
            .collect();
            v.push(format!("/estate/people?q={e}&sort={e}"));
            v.push(format!("/estate/{e}"));
            v
        }
        "/admin/users" | "/admin/jobs" | "/admin/import" | "/admin/agents"
        | "/admin/retention" => vec![route.to_owned()],
        "/admin/sites" => vec![
            "/admin/sites".into(),
            "/admin/sites?site=A10000".into(),
            format!("/admin/sites?site={e}"),
        ],
        "/cards" => vec!["/cards".into(), format!("/cards?serial={e}")],
        "/cards/{serial}" => vec![format!("/cards/{CARD}"), format!("/cards/{e}")],
        "/people/{uuid}" => vec![format!("/people/{UUID}"), format!("/people/{e}")],
        "/workstations/{hostname}" => vec![format!("/workstations/{HOST}"), format!("/workstations/{e}")],
        "/integrations/{id}" => vec![format!("/integrations/{INTEGRATION}"), format!("/integrations/{e}")],
        "/reports" => vec!["/reports".into(), format!("/reports?days={e}")],
        "/incidents" => vec!["/incidents".into(), format!("/incidents?site={e}&sort={e}")],
        "/incidents/{id}/packet" => vec![fx.packet.clone(), format!("/incidents/{e}/packet")],
        // Not pages: one real address each, to show what it answers is not HTML.
        "/feeds/{file}" => vec![fx.feed.clone()],
        "/people/{uuid}/export" => vec![format!("/people/{UUID}/export")],
        "/assets/images/{name}" => all(&["/assets/images/favicon.svg"]),
        other if !other.contains('{') => vec![other.to_owned()],
        _ => vec![],
    }
}

/// A form the browser posts: the sweep's label for its answer, its action and its fields.
struct Posted {
    label: String,
    path: String,
    fields: Vec<(String, String)>,
}

/// Forms posted from the browser whose refusals show what was typed (nothing is stored, so each
/// mode of the sweep posts them again).
fn refused_forms(fx: &Fixture) -> Vec<Posted> {
    let c = |pairs: &[(&str, &str)]| -> Vec<(String, String)> {
        std::iter::once(("csrf".to_owned(), fx.csrf.clone()))
            .chain(
                pairs
                    .iter()
                    .map(|(k, v)| ((*k).to_owned(), (*v).to_owned())),
            )
            .collect()
    };
    let query = form(&[("symptom", "cannot-sign"), ("text", HOSTILE)]);
    [
        (
            "/admin/users/add",
            c(&[
                ("username", HOSTILE),
                ("name", HOSTILE),
                ("role", "practice_manager"),
                ("organisations", HOSTILE),
            ]),
        ),
        (
            "/account/digest",
            c(&[
                ("email", "pm@nhs.net"),
                ("frequency", "daily"),
                ("min_severity", "urgent"),
                ("quiet", HOSTILE),
            ]),
        ),
        (
            "/reviews",
            c(&[
                ("holder_uuid", UUID),
                ("ods_code", "A10000"),
                ("role_code", "R8000"),
                ("decision", HOSTILE),
                ("reason", HOSTILE),
            ]),
        ),
        (
            "/admin/sites/hours",
            c(&[("site", "A10000"), ("core_hours", HOSTILE)]),
        ),
        (
            "/admin/sites/stock",
            c(&[
                ("site", "A10000"),
                ("item", HOSTILE),
                ("quantity", HOSTILE),
                ("minimum", HOSTILE),
            ]),
        ),
        (
            "/admin/sites/contacts",
            c(&[
                ("site", "A10000"),
                ("role", HOSTILE),
                ("name", ""),
                ("phone", HOSTILE),
                ("email", LINK),
            ]),
        ),
        (
            &format!("/cards/{CARD}/status"),
            c(&[("status", HOSTILE), ("reason", HOSTILE)]),
        ),
        (
            &format!("/people/{UUID}/positions"),
            c(&[
                ("ods_code", "A10000"),
                ("role_code", HOSTILE),
                ("status", HOSTILE),
                ("reason", HOSTILE),
            ]),
        ),
        (
            "/findings/note",
            c(&[
                ("id", &fx.findings[0]),
                ("action", HOSTILE),
                ("reason", HOSTILE),
            ]),
        ),
        (
            "/triage/record",
            c(&[
                ("query", &query),
                ("outcome", "escalated"),
                ("application", HOSTILE),
                ("doing", HOSTILE),
            ]),
        ),
        (
            "/admin/agents/token",
            c(&[("site", HOSTILE), ("hours", HOSTILE)]),
        ),
        ("/admin/agents/revoke", c(&[("id", HOSTILE)])),
        ("/admin/users/disable", c(&[("username", HOSTILE)])),
        (
            "/admin/sites/contacts/remove",
            c(&[("site", "A10000"), ("id", HOSTILE)]),
        ),
        ("/account/feeds/revoke", c(&[("id", HOSTILE)])),
        (
            "/account/password",
            c(&[("current", HOSTILE), ("new", HOSTILE)]),
        ),
        ("/login", c(&[("username", HOSTILE), ("password", HOSTILE)])),
        (&format!("/unsubscribe/{}", enc(HOSTILE)), c(&[])),
    ]
    .into_iter()
    .map(|(path, fields)| Posted {
        label: format!("POST {path}"),
        path: path.to_owned(),
        fields,
    })
    .collect()
}

/// Files sent from the import page: one imported (its name and a new person's name hostile),
/// the same checked only, and one refused with hostile values in its bad rows. (label, file
/// name, text, check only)
fn uploads() -> Vec<(&'static str, String, String, bool)> {
    let h = cell(HOSTILE);
    let people = format!(
        "uuid,name,email,staff_role,site_ods,employment_end,local_admin,ra_roles\n009990000002,{h},,{h},A10000,,no,\n"
    );
    let refused = format!(
        "hostname,site_ods,os,os_build,update_ring,last_seen,update_window,applications\n{},{h},{h},{h},{h},{h},{h},{h}\n",
        cell(HOSTILE_WORD)
    );
    let name = HOSTILE_FILE.to_owned();
    vec![
        (
            "import: a hostile file",
            name.clone(),
            people.clone(),
            false,
        ),
        ("import: checked only", name.clone(), people, true),
        ("import: refused", name, refused, false),
    ]
}

#[test]
fn hostile_text_in_every_field_injects_nothing_on_any_page_in_chromium() {
    // Every GET route of the router is either opened as a page or shown not to be one.
    let routed = routed_pages();
    let known: BTreeSet<String> = ROUTES.iter().map(|(r, _)| (*r).to_owned()).collect();
    let missing: Vec<_> = routed.difference(&known).collect();
    assert!(
        missing.is_empty(),
        "GET routes in crates/server/src/lib.rs the hostile-text sweep does not open: {missing:?} \
         — add each to ROUTES and `visits` in crates/cli/tests/hostile_browser.rs"
    );
    // A route listed but not served (yet) is still opened: it answers "not found".
    let unrouted: Vec<_> = known.difference(&routed).collect();
    if !unrouted.is_empty() {
        eprintln!("listed in ROUTES, not served by lib.rs: {unrouted:?}");
    }

    let (tmp, db) = scratch_db();
    // The SMTP relay's host is printed on the jobs page: one that is markup or a script link is
    // refused when the server starts, before any page could show it.
    let config = tmp.path().join("cardwatch.toml");
    for relay in [format!("smtp://{HOSTILE_WORD}:2525"), LINK.to_owned()] {
        let said = refused_config(&db, &config, &relay);
        assert!(said.contains("smtp_url"), "{relay}: {said}");
    }
    std::fs::write(&config, "[notify]\nsmtp_url = \"smtp://127.0.0.1:9\"\n")
        .expect("write the configuration");
    let (child, addr, admin) = serve(&db, &config);
    let fx = store_hostile_text(&db, tmp.path(), &addr, &admin);

    let mut pages = Vec::new();
    let mut not_html = Vec::new();
    // The addresses of routes listed but not served: Chromium shows nothing for their empty 404.
    let mut not_served = BTreeSet::new();
    for (route, kind) in ROUTES {
        let at = visits(route, &fx);
        assert!(!at.is_empty(), "no address to open {route} at");
        if !routed.contains(*route) {
            not_served.extend(at.iter().cloned());
        }
        match kind {
            Route::Page => pages.extend(at),
            Route::NotHtml => not_html.extend(at),
        }
    }
    let not_html: Vec<(String, (u16, String))> = not_html
        .into_iter()
        .map(|p| {
            let got = get_as(&addr, &p, &admin);
            (p, got)
        })
        .collect();
    let forms: Vec<serde_json::Value> = refused_forms(&fx)
        .into_iter()
        .map(|f| {
            let fields: Vec<[&String; 2]> = f.fields.iter().map(|(k, v)| [k, v]).collect();
            serde_json::json!({"label": f.label, "path": f.path, "fields": fields})
        })
        .collect();
    let files: Vec<serde_json::Value> = uploads()
        .into_iter()
        .map(|(label, name, text, check)| {
            serde_json::json!({"label": label, "name": name, "text": text, "check": check})
        })
        .collect();
    let spec = serde_json::json!({
        "base": format!("http://{addr}"),
        "cookie": admin,
        "markers": MARKERS.iter().chain([&HOSTILE_FILE]).collect::<Vec<_>>(),
        "pages": pages,
        "forms": forms,
        "uploads": files,
    });
    let spec_file = tmp.path().join("hostile.json");
    std::fs::write(&spec_file, spec.to_string()).expect("write the sweep's plan");
    let script =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/browser/hostile.mjs");
    let started = std::time::Instant::now();
    let out = browser()
        .arg(&script)
        .arg(&spec_file)
        .output()
        .expect("node (scripts/test installs the browser tests' packages)");
    let took = started.elapsed();
    stop(child);
    let report: serde_json::Value = serde_json::from_str(&ok(&out)).expect("json");
    eprintln!(
        "hostile-text sweep: {} pages, {} forms, {} uploads, twice each, in {:.1} s",
        pages.len(),
        forms.len(),
        files.len(),
        took.as_secs_f64()
    );

    for (path, (status, response)) in &not_html {
        let head = response
            .split("\r\n\r\n")
            .next()
            .unwrap_or("")
            .to_ascii_lowercase();
        assert_eq!(*status, 200, "{path}: {response}");
        assert!(
            !head.contains("content-type: text/html"),
            "{path} answers HTML: open it in the sweep as a page\n{head}"
        );
    }

    let labels: Vec<String> = pages
        .iter()
        .cloned()
        .chain(refused_forms(&fx).into_iter().map(|f| f.label))
        .chain(uploads().into_iter().map(|(l, ..)| l.to_owned()))
        .collect();
    let mut injections = Vec::new();
    let mut json = BTreeSet::new();
    for label in &labels {
        for mode in ["escaping", "csp"] {
            let seen = &report[label][mode];
            assert!(
                seen.is_object(),
                "{label} was not opened in {mode} mode: {report}"
            );
            if seen["failed"].is_string() {
                assert!(
                    not_served.contains(label),
                    "{label} ({mode}) did not open: {seen}"
                );
                continue;
            }
            let status = seen["status"].as_u64().unwrap_or(0);
            let kind = seen["type"].as_str().unwrap_or("");
            if !kind.starts_with("text/html") {
                json.insert(label.as_str());
            }
            for (what, bad) in [
                // A refusal is 400, 401, 403 or 404; anything else (a 500) hides what the page
                // would show.
                (
                    "an unexpected status",
                    ![200, 400, 401, 403, 404].contains(&status),
                ),
                // JSON and plain text are never read as markup (every answer carries nosniff);
                // HTML is swept.
                (
                    "neither HTML, JSON nor plain text",
                    !["text/html", "application/json", "text/plain"]
                        .iter()
                        .any(|t| kind.starts_with(t)),
                ),
                ("window.__pwned was set", seen["pwned"] == true),
                ("a template evaluated {{7*7}}", seen["ssti"] == true),
                (
                    "markup was injected",
                    seen["injected"] != serde_json::json!([]),
                ),
                ("a dialog opened", seen["dialogs"] != serde_json::json!([])),
                ("a console error", seen["errors"] != serde_json::json!([])),
                (
                    "a policy violation",
                    seen["violations"] != serde_json::json!([]),
                ),
            ] {
                if bad {
                    injections.push(format!("{label} ({mode}): {what}: {seen}"));
                }
            }
        }
    }
    assert!(
        injections.is_empty(),
        "{} problems:\n{}",
        injections.len(),
        injections.join("\n")
    );
    if !json.is_empty() {
        eprintln!("answered with JSON or plain text rather than a page: {json:?}");
    }

    // The sweep saw the hostile text where it is stored: every part of it, as text (or the
    // uploaded file's name).
    let found = |label: &str| -> Vec<u64> {
        report[label]["escaping"]["shown"]
            .as_array()
            .map(|a| a.iter().filter_map(serde_json::Value::as_u64).collect())
            .unwrap_or_default()
    };
    let whole = |label: &str| (0..MARKERS.len() as u64).all(|i| found(label).contains(&i));
    let file = |label: &str| found(label).contains(&(MARKERS.len() as u64));
    let e = enc(HOSTILE);
    let expected: Vec<String> = [
        "/estate/people",
        "/estate/sites",
        "/estate/organisations",
        "/estate/workstations",
        "/estate/readers",
        "/estate/integrations",
        "/admin/users",
        "/admin/sites?site=A10000",
        "/account",
        "/audit",
        "/reviews?show=all",
        "/cheatsheet?site=A10000",
    ]
    .iter()
    .map(|s| (*s).to_owned())
    .chain([
        format!("/cards/{CARD}"),
        format!("/people/{UUID}"),
        format!("/workstations/{HOST}"),
        format!("/integrations/{INTEGRATION}"),
        format!("/findings/{}", fx.findings[0]),
        format!("/findings/{}", fx.findings[1]),
        fx.packet.clone(),
        format!("/triage?text={e}"),
        format!("/estate/people?q={e}&sort={e}"),
    ])
    .collect();
    let unseen: Vec<String> = expected
        .iter()
        .filter(|l| !whole(l))
        .map(|l| format!("{l}: {:?}", found(l)))
        .chain(
            [
                "import: a hostile file",
                "import: checked only",
                "import: refused",
            ]
            .iter()
            .filter(|l| !file(l))
            .map(|l| format!("{l}: {:?} (the file's name)", found(l))),
        )
        .collect();
    assert!(
        unseen.is_empty(),
        "pages that should show the hostile text as text do not: {unseen:?}"
    );
    let shown_anywhere = labels.iter().filter(|l| !found(l).is_empty()).count();
    eprintln!(
        "hostile text shown as text on {shown_anywhere} of {} pages; 0 injections",
        labels.len()
    );
}
