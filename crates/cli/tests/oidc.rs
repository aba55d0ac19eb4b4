//! Single sign-on end to end: a real OpenID Connect provider (panva's `oidc-provider` from npm,
//! tests/browser/oidc-provider.mjs) started per test, `cardwatch serve` configured for it, and
//! the authorization code flow walked by an HTTP client that keeps cookies, through the
//! provider's own login and consent forms.

mod common;

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::Path;
use std::process::{Child, Command, Stdio};

use common::*;

const SECRET: &str = "a-test-client-secret";

/// A process stopped when the test ends, however it ends.
struct Running(Option<Child>);

impl Drop for Running {
    fn drop(&mut self) {
        if let Some(mut c) = self.0.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

/// The provider, listening on a free port; returns it and its issuer URL. `auth_method`, when
/// given, is the only way it takes the client secret (its discovery document lists only that).
fn provider(redirect: &str, auth_method: Option<&str>) -> (Running, String) {
    let script =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/browser/oidc-provider.mjs");
    let mut node = Command::new("node");
    if let Some(m) = auth_method {
        node.env("AUTH_METHOD", m);
    }
    let mut child = node
        .arg(script)
        .env("REDIRECT", redirect)
        .env("SECRET", SECRET)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("node (scripts/test installs the browser tests' npm packages)");
    let mut line = String::new();
    let mut out = BufReader::new(child.stdout.take().expect("stdout"));
    out.read_line(&mut line).expect("the provider's issuer");
    // The rest is drained, so that a line the provider writes later never meets a closed pipe
    // (which would stop it).
    std::thread::spawn(move || std::io::copy(&mut out, &mut std::io::sink()));
    let issuer = line.trim().to_owned();
    assert!(
        issuer.starts_with("http://127.0.0.1:"),
        "the provider did not start: {line:?}"
    );
    (Running(Some(child)), issuer)
}

/// A free port on loopback for Cardwatch, whose address the provider must know first.
fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .expect("bind")
        .local_addr()
        .expect("addr")
        .port()
}

/// `cardwatch serve` with `config` on `addr`; returns once it answers.
fn serve(db: &str, dir: &Path, addr: &str, config: &str) -> Running {
    let file = dir.join("cardwatch.toml");
    std::fs::write(&file, config).expect("write the configuration");
    let mut child = command(db, None)
        .arg("--config")
        .arg(&file)
        .args(["serve", "--bind", addr])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn cardwatch");
    let mut line = String::new();
    let mut reader = BufReader::new(child.stdout.take().expect("stdout"));
    reader.read_line(&mut line).expect("read");
    child.stdout = Some(reader.into_inner());
    if line.is_empty() {
        let mut err = String::new();
        child
            .stderr
            .take()
            .expect("stderr")
            .read_to_string(&mut err)
            .expect("read");
        panic!("cardwatch serve did not start: {err}");
    }
    // Drained, so that the server never writes into a closed or full pipe.
    let mut out = child.stdout.take().expect("stdout");
    let mut err = child.stderr.take().expect("stderr");
    std::thread::spawn(move || std::io::copy(&mut out, &mut std::io::sink()));
    std::thread::spawn(move || std::io::copy(&mut err, &mut std::io::sink()));
    Running(Some(child))
}

fn config(issuer: &str, addr: &str, extra: &str) -> String {
    format!(
        "[notify]\npublic_url = \"http://{addr}\"\n\n[oidc]\nissuer = \"{issuer}\"\n\
         client_id = \"cardwatch\"\nclient_secret = \"{SECRET}\"\nname = \"NHSmail\"\n{extra}"
    )
}

/// Adds an operator with a password.
fn add_operator(db: &str, username: &str, name: &str, password: &str) {
    let mut add = command(db, None);
    add.args(["user", "add", username, "--name", name]).args([
        "--role",
        "practice_manager",
        "--org",
        "A81001",
    ]);
    ok(&run_with_input(add, &format!("{password}\n")));
}

/// An HTTP/1.1 client over plain TCP that keeps each host's cookies (by name, with their
/// paths), as a browser would for these two servers.
#[derive(Default)]
struct Browser {
    jar: HashMap<(String, String), (String, String)>,
}

/// One answer: status, headers (names in lower case) and body.
#[derive(Debug)]
struct Answer {
    status: u16,
    headers: Vec<(String, String)>,
    body: String,
}

impl Answer {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    fn sets_cookie(&self, name: &str) -> bool {
        self.headers.iter().any(|(k, v)| {
            k == "set-cookie"
                && v.split_once('=').is_some_and(|(n, rest)| {
                    n == name && !rest.split(';').next().unwrap_or("").is_empty()
                })
        })
    }
}

/// Splits `http://host:port/path?query` into the host and the rest.
fn split(url: &str) -> (String, String) {
    let rest = url.strip_prefix("http://").expect("an http:// URL");
    match rest.find('/') {
        Some(i) => (rest[..i].to_owned(), rest[i..].to_owned()),
        None => (rest.to_owned(), "/".to_owned()),
    }
}

impl Browser {
    fn request(&mut self, method: &str, url: &str, form: Option<&str>) -> Answer {
        let (host, path) = split(url);
        let mut s = TcpStream::connect(&host).expect("connect");
        let cookies: Vec<String> = self
            .jar
            .iter()
            .filter(|((h, _), (_, p))| *h == host && path.starts_with(p.as_str()))
            .map(|((_, n), (v, _))| format!("{n}={v}"))
            .collect();
        let mut head = format!("{method} {path} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n");
        if !cookies.is_empty() {
            head.push_str(&format!("Cookie: {}\r\n", cookies.join("; ")));
        }
        let body = form.unwrap_or("");
        if form.is_some() {
            head.push_str(&format!(
                "Content-Type: application/x-www-form-urlencoded\r\nContent-Length: {}\r\n",
                body.len()
            ));
        }
        write!(s, "{head}\r\n{body}").expect("send");
        let mut raw = Vec::new();
        s.read_to_end(&mut raw).expect("read");
        let raw = String::from_utf8_lossy(&raw).into_owned();
        let (top, body) = raw.split_once("\r\n\r\n").unwrap_or((&raw, ""));
        let mut lines = top.lines();
        let status = lines
            .next()
            .and_then(|l| l.split_whitespace().nth(1))
            .and_then(|c| c.parse().ok())
            .unwrap_or(0);
        let headers: Vec<(String, String)> = lines
            .filter_map(|l| l.split_once(':'))
            .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_owned()))
            .collect();
        for (_, v) in headers.iter().filter(|(k, _)| k == "set-cookie") {
            let mut parts = v.split(';');
            let Some((name, value)) = parts.next().and_then(|p| p.split_once('=')) else {
                continue;
            };
            let mut cookie_path = "/".to_owned();
            let mut gone = value.is_empty();
            for attr in parts {
                let (k, val) = attr.trim().split_once('=').unwrap_or((attr.trim(), ""));
                match k.to_ascii_lowercase().as_str() {
                    "path" => cookie_path = val.to_owned(),
                    "max-age" if val == "0" => gone = true,
                    "expires" if val.contains("1970") => gone = true,
                    _ => {}
                }
            }
            let key = (host.clone(), name.trim().to_owned());
            if gone {
                self.jar.remove(&key);
            } else {
                self.jar.insert(key, (value.to_owned(), cookie_path));
            }
        }
        // Chunked bodies (the provider's) are read whole; only their text matters here.
        Answer {
            status,
            headers,
            body: body.to_owned(),
        }
    }

    fn get(&mut self, url: &str) -> Answer {
        self.request("GET", url, None)
    }

    /// Where an answer redirects to, as an absolute URL.
    fn location(answer: &Answer, from: &str) -> String {
        let to = answer
            .header("location")
            .unwrap_or_else(|| panic!("no redirect: {answer:?}"));
        if to.starts_with("http://") {
            to.to_owned()
        } else {
            format!("http://{}{to}", split(from).0)
        }
    }

    /// Follows redirects from `url` until an answer that is not one, or one that leaves for
    /// `stop_at`'s host; returns the last URL asked and its answer.
    fn follow(&mut self, mut url: String, stop_at: Option<&str>) -> (String, Answer) {
        for _ in 0..10 {
            let a = self.get(&url);
            if !(300..400).contains(&a.status) {
                return (url, a);
            }
            let next = Browser::location(&a, &url);
            if stop_at.is_some_and(|h| split(&next).0 == h) {
                return (next, a);
            }
            url = next;
        }
        panic!("too many redirects from {url}");
    }

    /// At the provider, from the authorization URL: its login form as `login`, then its
    /// consent form; returns the URL the provider sends the browser back to Cardwatch with.
    fn at_provider(&mut self, auth_url: &str, login: &str, cardwatch: &str) -> String {
        let (interaction, page) = self.follow(auth_url.to_owned(), Some(cardwatch));
        assert_eq!(page.status, 200, "the provider's login form: {page:?}");
        let a = self.request(
            "POST",
            &interaction,
            Some(&form(&[
                ("prompt", "login"),
                ("login", login),
                ("password", "any"),
            ])),
        );
        assert_eq!(a.status, 303, "the provider's login: {a:?}");
        let (consent, page) = self.follow(Browser::location(&a, &interaction), Some(cardwatch));
        assert_eq!(page.status, 200, "the provider's consent form: {page:?}");
        let a = self.request("POST", &consent, Some("prompt=consent"));
        assert_eq!(a.status, 303, "the provider's consent: {a:?}");
        let (back, _) = self.follow(Browser::location(&a, &consent), Some(cardwatch));
        assert_eq!(
            split(&back).0,
            cardwatch,
            "the provider sends the browser back"
        );
        back
    }
}

/// Starts a sign-in at Cardwatch and walks it at the provider as `login`; returns the URL the
/// provider sends the browser back to Cardwatch with.
fn through_provider(b: &mut Browser, addr: &str, login: &str, next: &str) -> String {
    let start = b.get(&format!("http://{addr}/login/oidc?next={next}"));
    assert_eq!(start.status, 303, "{start:?}");
    let auth = Browser::location(&start, &format!("http://{addr}/"));
    for part in [
        "response_type=code",
        "code_challenge_method=S256",
        "code_challenge=",
        "state=",
        "nonce=",
        "scope=openid+email+profile",
    ] {
        assert!(auth.contains(part), "{part} missing from {auth}");
    }
    b.at_provider(&auth, login, addr)
}

/// The audit records, as `cardwatch audit show` prints them.
fn audit(db: &str) -> Vec<serde_json::Value> {
    ok(&cardwatch(db, &["audit", "show", "--limit", "1000"]))
        .lines()
        .map(|l| serde_json::from_str(l).expect("a JSON line"))
        .collect()
}

fn refusals_of(db: &str, name: &str) -> usize {
    audit(db)
        .iter()
        .filter(|r| {
            let s = r.to_string();
            s.contains("\"refuse\"") && s.contains("sign_in") && s.contains(name)
        })
        .count()
}

#[test]
fn single_sign_on_signs_in_the_operator_the_provider_names_and_no_one_else() {
    let (tmp, db) = scratch_db();
    let addr = format!("127.0.0.1:{}", free_port());
    let (_op, issuer) = provider(&format!("http://{addr}/login/oidc/callback"), None);
    add_operator(
        &db,
        "asha.patel@nhs.net",
        "Asha Patel",
        "Correct-horse-battery-9",
    );
    add_operator(
        &db,
        "left.early@nhs.net",
        "Left Early",
        "Correct-horse-battery-9",
    );
    ok(&cardwatch(&db, &["user", "disable", "left.early@nhs.net"]));
    let _cw = serve(&db, tmp.path(), &addr, &config(&issuer, &addr, ""));

    // The sign-in page offers the provider and, with local passwords on, the password form.
    let mut b = Browser::default();
    let page = b.get(&format!("http://{addr}/login?next=/account"));
    assert_eq!(page.status, 200);
    assert!(page.body.contains("Sign in with NHSmail"), "{}", page.body);
    assert!(page.body.contains("href=\"/login/oidc?next=%2Faccount\""));
    assert!(page.body.contains("name=\"password\""));

    // The provider knows her as Asha.Patel@NHS.net: matched to asha.patel@nhs.net whatever
    // the case, signed in, and sent on to the page she asked for.
    let back = through_provider(&mut b, &addr, "Asha.Patel@NHS.net", "/account");
    let done = b.get(&back);
    assert_eq!(done.status, 303, "{done:?}");
    assert_eq!(done.header("location"), Some("/account"));
    assert!(done.sets_cookie("cw_session"));
    let account = b.get(&format!("http://{addr}/account"));
    assert_eq!(account.status, 200, "{account:?}");
    assert!(account.body.contains("Asha Patel"), "{}", account.body);
    let me = b.get(&format!("http://{addr}/api/v1/me"));
    assert!(
        me.body.contains("\"username\":\"asha.patel@nhs.net\""),
        "{}",
        me.body
    );
    // The answer from the provider is used once: the same URL again signs no one in.
    let mut replay = Browser {
        jar: b
            .jar
            .iter()
            .filter(|((_, n), _)| n != "cw_session")
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect(),
    };
    assert!(!replay.get(&back).sets_cookie("cw_session"));

    // Someone the provider knows but Cardwatch does not: refused, audited, no session.
    let mut b = Browser::default();
    let back = through_provider(&mut b, &addr, "Nobody.Here@NHS.net", "/");
    let refused = b.get(&back);
    assert_eq!(refused.status, 403, "{refused:?}");
    assert!(
        refused.body.contains(
            "Your NHSmail account (Nobody.Here@NHS.net) is not set up in Cardwatch; ask your administrator"
        ),
        "{}",
        refused.body
    );
    assert!(!refused.sets_cookie("cw_session"));
    assert_eq!(refusals_of(&db, "nobody.here@nhs.net"), 1);

    // A disabled operator: refused and audited too.
    let mut b = Browser::default();
    let back = through_provider(&mut b, &addr, "left.early@nhs.net", "/");
    let refused = b.get(&back);
    assert_eq!(refused.status, 403, "{refused:?}");
    assert!(refused.body.contains("is disabled"), "{}", refused.body);
    assert!(!refused.sets_cookie("cw_session"));
    assert_eq!(refusals_of(&db, "left.early@nhs.net"), 1);

    // An answer whose state was changed on the way: refused before the code is used, and the
    // sign-in it belonged to cannot be finished afterwards either.
    let mut b = Browser::default();
    let back = through_provider(&mut b, &addr, "asha.patel@nhs.net", "/");
    let state = back
        .split(['?', '&'])
        .find_map(|kv| kv.strip_prefix("state="))
        .expect("a state")
        .to_owned();
    let tampered = back.replace(&format!("state={state}"), "state=forged-by-someone");
    let refused = b.get(&tampered);
    assert_eq!(refused.status, 400, "{refused:?}");
    assert!(refused.body.contains("does not belong to this sign-in"));
    assert!(!refused.sets_cookie("cw_session"));
    assert!(!b.get(&back).sets_cookie("cw_session"));
    // Nor does an answer reach a browser that never started a sign-in.
    let mut stranger = Browser::default();
    let refused = stranger.get(&format!(
        "http://{addr}/login/oidc/callback?code=x&state={state}"
    ));
    assert_eq!(refused.status, 400);
    assert!(!refused.sets_cookie("cw_session"));

    assert!(
        ok(&cardwatch(&db, &["audit", "verify"])).contains("intact"),
        "the audit chain stays whole"
    );
}

#[test]
fn with_local_passwords_off_only_single_sign_on_signs_in() {
    let (tmp, db) = scratch_db();
    let addr = format!("127.0.0.1:{}", free_port());
    // The secret in the token request's body, as Microsoft Entra ID's discovery lists it.
    let (_op, issuer) = provider(
        &format!("http://{addr}/login/oidc/callback"),
        Some("client_secret_post"),
    );
    add_operator(
        &db,
        "asha.patel@nhs.net",
        "Asha Patel",
        "Correct-horse-battery-9",
    );
    let _cw = serve(
        &db,
        tmp.path(),
        &addr,
        &config(&issuer, &addr, "local_passwords = false\n"),
    );
    let mut b = Browser::default();
    let page = b.get(&format!("http://{addr}/login"));
    assert_eq!(page.status, 200);
    assert!(page.body.contains("Sign in with NHSmail"), "{}", page.body);
    assert!(!page.body.contains("name=\"password\""), "{}", page.body);
    assert!(!page.body.contains("action=\"/login\""), "{}", page.body);

    // The right password is refused before it is checked.
    let tried = b.request(
        "POST",
        &format!("http://{addr}/login"),
        Some(&form(&[
            ("username", "asha.patel@nhs.net"),
            ("password", "Correct-horse-battery-9"),
        ])),
    );
    assert_eq!(tried.status, 403, "{tried:?}");
    assert!(!tried.sets_cookie("cw_session"));
    assert!(
        tried.body.contains("through NHSmail only"),
        "{}",
        tried.body
    );
    // Refused and audited as the other refused sign-ins are, naming why; a name that is no
    // operator's is kept as `unknown`, and the password is in no record.
    let stranger = b.request(
        "POST",
        &format!("http://{addr}/login"),
        Some(&form(&[
            ("username", "someone.else@nhs.net"),
            ("password", "Another-secret-77"),
        ])),
    );
    assert_eq!(stranger.status, 403, "{stranger:?}");
    let records = audit(&db);
    let failed: Vec<String> = records
        .iter()
        .filter(|r| r.to_string().contains("\"sign_in_failed\""))
        .map(|r| r.to_string())
        .collect();
    assert_eq!(failed.len(), 2, "{failed:?}");
    assert!(
        failed
            .iter()
            .all(|r| r.contains("local passwords are turned off")),
        "{failed:?}"
    );
    assert!(
        failed.iter().any(|r| r.contains("asha.patel@nhs.net")),
        "{failed:?}"
    );
    assert!(
        failed.iter().any(|r| r.contains("\"unknown\"")),
        "{failed:?}"
    );
    assert!(
        !failed.iter().any(|r| r.contains("someone.else")),
        "{failed:?}"
    );
    let all = records.iter().map(|r| r.to_string()).collect::<String>();
    assert!(
        !all.contains("Correct-horse-battery-9") && !all.contains("Another-secret-77"),
        "no password in the audit log"
    );

    // Through the provider she signs in.
    let back = through_provider(&mut b, &addr, "asha.patel@nhs.net", "/account");
    let done = b.get(&back);
    assert_eq!(done.status, 303, "{done:?}");
    assert!(done.sets_cookie("cw_session"));
    assert!(b
        .get(&format!("http://{addr}/account"))
        .body
        .contains("Asha Patel"));
}

#[test]
fn a_provider_that_cannot_be_found_stops_the_server_starting_and_names_the_issuer() {
    let (tmp, db) = scratch_db();
    // A port nothing listens on.
    let port = free_port();
    let file = tmp.path().join("cardwatch.toml");
    std::fs::write(
        &file,
        config(
            &format!("http://127.0.0.1:{port}/tenant"),
            "127.0.0.1:8080",
            "",
        ),
    )
    .expect("write");
    let out = command(&db, None)
        .arg("--config")
        .arg(&file)
        .args(["serve", "--bind", "127.0.0.1:0"])
        .output()
        .expect("run");
    assert!(!out.status.success());
    let err = text(&out.stderr);
    assert!(
        err.contains(&format!(
            "http://127.0.0.1:{port}/tenant/.well-known/openid-configuration"
        )) && err.contains("check oidc.issuer"),
        "{err}"
    );
    assert!(text(&out.stdout).is_empty(), "nothing was served");
}

/// Single sign-on in Debian's headless Chromium: the sign-in page passes axe at desktop and phone
/// widths; its single sign-on button leads to the provider's own login page, and signing in
/// there lands back at Cardwatch signed in as the operator the provider named.
#[test]
fn in_chromium_the_single_sign_on_button_signs_the_operator_in_through_the_provider() {
    let (tmp, db) = scratch_db();
    let addr = format!("127.0.0.1:{}", free_port());
    let (_op, issuer) = provider(&format!("http://{addr}/login/oidc/callback"), None);
    add_operator(
        &db,
        "asha.patel@nhs.net",
        "Asha Patel",
        "Correct-horse-battery-9",
    );
    let _cw = serve(&db, tmp.path(), &addr, &config(&issuer, &addr, ""));
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/browser/sso.mjs");
    let run = browser()
        .arg(&script)
        .arg(format!("http://{addr}"))
        // The provider's name for her, in another case: matched case-insensitively.
        .arg("Asha.Patel@NHS.net")
        .output()
        .expect("node (scripts/test installs the browser tests' packages)");
    let seen: serde_json::Value =
        serde_json::from_str(&ok(&run)).unwrap_or_else(|e| panic!("{e}: {}", text(&run.stderr)));
    for width in ["1280", "390"] {
        assert_eq!(
            seen["axe"][width],
            serde_json::json!([]),
            "axe on /login at {width} px: {seen}"
        );
    }
    assert_eq!(seen["atProvider"], true, "{seen}");
    assert_eq!(seen["landed"], "/", "{seen}");
    assert_eq!(seen["session"], true, "{seen}");
    let account = seen["account"].as_str().unwrap_or("");
    assert!(
        account.contains("Asha Patel") && account.contains("asha.patel@nhs.net"),
        "{seen}"
    );
    let signed_in = audit(&db)
        .iter()
        .filter(|r| {
            let s = r.to_string();
            s.contains("\"sign_in\"") && s.contains("openid_connect") && s.contains("asha.patel")
        })
        .count();
    assert_eq!(signed_in, 1, "the sign-in is audited once");
}
