//! The headers every answer carries, on every route the server has: a real server (plain HTTP,
//! behind a TLS proxy, and serving TLS itself), every `.route(…)` found in the server crate's
//! source requested with GET and POST, signed out, as an administrator and as a practice
//! manager, refusals included. A route added later is requested without touching this file.
//! Whether an answer counts as over TLS (HSTS, `Secure` cookies) is decided by the server, never
//! by what a client says: `X-Forwarded-Proto` counts only from a proxy in `trusted_proxies`.

mod common;

use std::collections::BTreeSet;
use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::Child;
use std::sync::Arc;
use std::time::Duration;

use common::*;
use rustls_pki_types::ServerName;
use tokio_rustls::rustls;

const ADMIN: &str = "admin@nhs.net";
const PM: &str = "pm@nhs.net";
const PW: &str = "headers test passphrase long enough";

/// Every path the server routes, read from its source: `.route("…", …)`, `.route(CONST, …)`
/// with the constant's value, and the API table's `path: "…"` rows (mounted by
/// `.route(e.path, …)`), with an address only the fallback answers. A way of adding routes this does not know fails the test rather than
/// leaving routes out.
fn routes_from_source() -> BTreeSet<String> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../server/src");
    let mut files = Vec::new();
    rust_files(&root, &mut files);
    let sources: Vec<(PathBuf, String)> = files
        .into_iter()
        .map(|f| {
            let s = std::fs::read_to_string(&f).expect("server source");
            (f, s)
        })
        .collect();
    let mut routes = BTreeSet::new();
    for (file, src) in &sources {
        for other in [".nest(", ".nest_service(", ".route_service("] {
            assert!(
                !src.contains(other),
                "{}: `{other}` mounts routes this test does not read; teach it",
                file.display()
            );
        }
        // The fallback answers every address no route has: a page's and the API's.
        if src.contains(".fallback(") {
            routes.insert("/no-such-page".to_owned());
            routes.insert("/api/v1/no-such-address".to_owned());
        }
        for (at, _) in src.match_indices(".route(") {
            let arg = src[at + ".route(".len()..].trim_start();
            if let Some(lit) = arg.strip_prefix('"') {
                routes.insert(lit[..lit.find('"').expect("a closed string")].to_owned());
                continue;
            }
            let name: String = arg
                .chars()
                .take_while(|c| c.is_alphanumeric() || matches!(c, '_' | ':' | '.'))
                .collect();
            if name == "e.path" {
                // The API's table: each row's path.
                for (p, _) in src.match_indices("path: \"") {
                    let lit = &src[p + "path: \"".len()..];
                    routes.insert(lit[..lit.find('"').expect("a closed string")].to_owned());
                }
                continue;
            }
            let constant = name.rsplit("::").next().unwrap_or(&name);
            let needle = format!("const {constant}: &str = \"");
            let value = sources.iter().find_map(|(_, s)| {
                let v = &s[s.find(&needle)? + needle.len()..];
                Some(v[..v.find('"')?].to_owned())
            });
            let value = value.unwrap_or_else(|| {
                panic!(
                    "{}: `.route({name}` is neither a string nor a `const … : &str`; teach this test",
                    file.display()
                )
            });
            routes.insert(value);
        }
    }
    routes
}

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for e in std::fs::read_dir(dir).expect("a source folder") {
        let p = e.expect("an entry").path();
        if p.is_dir() {
            rust_files(&p, out);
        } else if p.extension().is_some_and(|x| x == "rs") {
            out.push(p);
        }
    }
}

/// A route's path with a sample for each `{param}` and `{*rest}`.
fn sample(route: &str) -> String {
    route
        .split('/')
        .map(
            |seg| match seg.strip_prefix('{').and_then(|s| s.strip_suffix('}')) {
                Some("kind") => "people",
                Some(_) => "sample",
                None => seg,
            },
        )
        .collect::<Vec<_>>()
        .join("/")
}

/// How the test reaches a server: plain TCP, or TLS trusting only the test's certificate.
enum Link {
    Plain,
    Tls(Arc<rustls::ClientConfig>),
}

impl Link {
    fn tls(ca: &Path) -> Link {
        Link::Tls(client_trusting(ca))
    }

    /// One request (a form body when given); the status and the answer's head, lower-cased.
    fn send(
        &self,
        addr: &str,
        method: &str,
        path: &str,
        headers: &[(&str, &str)],
        form: Option<&str>,
    ) -> (u16, String) {
        let mut raw = format!("{method} {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n");
        for (k, v) in headers {
            raw.push_str(&format!("{k}: {v}\r\n"));
        }
        if let Some(f) = form {
            raw.push_str(&format!(
                "Content-Type: application/x-www-form-urlencoded\r\nContent-Length: {}\r\n",
                f.len()
            ));
        }
        raw.push_str("\r\n");
        raw.push_str(form.unwrap_or(""));
        let tcp = TcpStream::connect(addr).expect("connect");
        tcp.set_read_timeout(Some(Duration::from_secs(120)))
            .expect("timeout");
        let mut out = Vec::new();
        match self {
            Link::Plain => {
                (&tcp).write_all(raw.as_bytes()).expect("send");
                let _ = (&tcp).read_to_end(&mut out);
            }
            Link::Tls(config) => {
                let name = ServerName::try_from("127.0.0.1").expect("name");
                let conn = rustls::ClientConnection::new(config.clone(), name).expect("client");
                let mut s = rustls::StreamOwned::new(conn, tcp);
                s.write_all(raw.as_bytes()).expect("send");
                // The server may close without a TLS close_notify: what arrived is the answer.
                let _ = s.read_to_end(&mut out);
            }
        }
        let answer = String::from_utf8_lossy(&out).into_owned();
        let head = answer
            .split("\r\n\r\n")
            .next()
            .unwrap_or("")
            .to_ascii_lowercase();
        let status = head
            .split_whitespace()
            .nth(1)
            .and_then(|c| c.parse().ok())
            .unwrap_or(0);
        (status, head)
    }
}

/// A running `cardwatch serve`, stopped when dropped (a failed assertion included).
struct Server {
    child: Option<Child>,
    addr: String,
    link: Link,
}

impl Drop for Server {
    fn drop(&mut self) {
        if let Some(c) = self.child.take() {
            stop(c);
        }
    }
}

/// `cardwatch serve` over `db` with `config`, over TLS with a fresh certificate when `tls`.
fn serve(dir: &Path, db: &str, config: &str, tls: bool) -> Server {
    let mut serve = serve_configured(db, dir, config);
    let link = if tls {
        let (cert, key) = certificate(dir);
        serve
            .arg("--tls-cert")
            .arg(&cert)
            .arg("--tls-key")
            .arg(&key);
        Link::tls(&cert)
    } else {
        Link::Plain
    };
    let (child, addr, _) = spawn_serving(serve);
    Server {
        child: Some(child),
        addr,
        link,
    }
}

/// A one-practice demo estate with an administrator and a practice manager at A10000.
fn estate(db: &str) {
    ok(&cardwatch(db, &["demo", "--practices", "1"]));
    add_administrator(db, ADMIN, PW);
    let mut add = command(db, None);
    add.args(["user", "add", PM, "--name", "Pat Manager"])
        .args(["--role", "practice_manager", "--org", "A10000"]);
    ok(&run_with_input(add, &format!("{PW}\n")));
}

/// The values of a header in a lower-cased head.
fn values<'a>(head: &'a str, name: &str) -> Vec<&'a str> {
    head.lines()
        .filter_map(|l| l.split_once(':'))
        .filter(|(k, _)| k.trim() == name)
        .map(|(_, v)| v.trim())
        .collect()
}

/// Whether a `Set-Cookie` value carries the `Secure` attribute.
fn secure(cookie: &str) -> bool {
    cookie
        .split(';')
        .skip(1)
        .any(|a| a.trim().eq_ignore_ascii_case("secure"))
}

/// Asserts the headers every answer carries, HSTS and `Secure` cookies exactly when `tls`.
fn assert_headers(what: &str, path: &str, head: &str, tls: bool) {
    for (name, want) in [
        (
            "content-security-policy",
            "default-src 'self'; script-src 'self';",
        ),
        ("content-security-policy", "frame-ancestors 'none'"),
        ("x-frame-options", "deny"),
        ("x-content-type-options", "nosniff"),
        ("referrer-policy", "same-origin"),
    ] {
        assert!(
            values(head, name).iter().any(|v| v.contains(want)),
            "{what} lacks {name}: {want:?}:\n{head}"
        );
    }
    let no_store = values(head, "cache-control").contains(&"no-store");
    assert_eq!(
        no_store,
        !path.starts_with("/assets/"),
        "{what}: Cache-Control no-store on everything but the assets:\n{head}"
    );
    assert_eq!(
        values(head, "strict-transport-security"),
        if tls {
            vec!["max-age=31536000"]
        } else {
            vec![]
        },
        "{what}: HSTS exactly when over TLS ({tls}):\n{head}"
    );
    for c in values(head, "set-cookie") {
        assert_eq!(
            secure(c),
            tls,
            "{what}: cookie Secure exactly when over TLS ({tls}): {c}"
        );
    }
}

/// Signs `name` in, sending `extra` headers: the session cookie, after asserting the answer's
/// headers and that the cookie is `Secure` exactly when `tls`.
fn sign_in_over(s: &Server, name: &str, extra: &[(&str, &str)], tls: bool) -> String {
    let (status, head) = s.link.send(
        &s.addr,
        "POST",
        "/login",
        extra,
        Some(&form(&[("username", name), ("password", PW)])),
    );
    assert_eq!(status, 303, "signing in as {name}:\n{head}");
    assert_headers(&format!("POST /login as {name}"), "/login", &head, tls);
    let cookie = values(&head, "set-cookie")
        .into_iter()
        .find(|c| c.starts_with("cw_session="))
        .unwrap_or_else(|| panic!("no session cookie:\n{head}"));
    assert_eq!(secure(cookie), tls, "{cookie}");
    cookie.split(';').next().expect("a cookie").to_owned()
}

/// Every route, GET and POST, signed out, as an administrator and as a practice manager, each
/// request carrying `extra`: every answer has the headers, HSTS and `Secure` exactly when `tls`;
/// the answers include pages and each kind of refusal.
fn every_route(config: &str, direct_tls: bool, extra: &[(&str, &str)], tls: bool) {
    let (tmp, db) = scratch_db();
    estate(&db);
    let s = serve(tmp.path(), &db, config, direct_tls);
    let admin = sign_in_over(&s, ADMIN, extra, tls);
    let pm = sign_in_over(&s, PM, extra, tls);
    let routes = routes_from_source();
    assert!(
        routes.len() >= 40 && routes.contains("/login") && routes.contains("/api/v1/me"),
        "the routes read from the source: {routes:?}"
    );
    let mut statuses = BTreeSet::new();
    for route in &routes {
        let path = sample(route);
        for method in ["GET", "POST"] {
            for (who, cookie) in [("nobody", None), ("admin", Some(&admin)), ("pm", Some(&pm))] {
                let mut headers = extra.to_vec();
                let c;
                if let Some(cookie) = cookie {
                    c = cookie.clone();
                    headers.push(("Cookie", &c));
                }
                let body = (method == "POST").then_some("");
                let (status, head) = s.link.send(&s.addr, method, &path, &headers, body);
                assert_ne!(status, 0, "{method} {path} as {who}: no answer");
                statuses.insert(status);
                assert_headers(
                    &format!("{method} {path} ({route}) as {who}: {status}"),
                    &path,
                    &head,
                    tls,
                );
            }
        }
    }
    for want in [200, 303, 400, 401, 403, 404, 405] {
        assert!(
            statuses.contains(&want),
            "no {want} among the answers {statuses:?}: the refusals are not all covered"
        );
    }
}

/// Plain HTTP, every request claiming `X-Forwarded-Proto: https` from a client that is no
/// listed proxy: no HSTS and no `Secure` cookie anywhere.
#[test]
fn every_route_over_plain_http_has_the_headers_whatever_the_client_claims() {
    every_route(
        "[server]\ntrusted_proxies = [\"10.0.0.0/8\"]\n",
        false,
        &[("X-Forwarded-Proto", "https")],
        false,
    );
}

/// Behind a TLS proxy (`behind_tls_proxy = true`): HSTS and `Secure` everywhere, even on
/// requests saying `X-Forwarded-Proto: http`.
#[test]
fn every_route_behind_a_tls_proxy_has_the_headers_and_hsts() {
    every_route(
        "[server]\nbehind_tls_proxy = true\n",
        false,
        &[("X-Forwarded-Proto", "http")],
        true,
    );
}

/// Serving TLS itself: HSTS and `Secure` everywhere, whatever `X-Forwarded-Proto` says.
#[test]
fn every_route_over_direct_tls_has_the_headers_and_hsts() {
    every_route("", true, &[("X-Forwarded-Proto", "http")], true);
}

/// `X-Forwarded-Proto` is believed from a listed proxy only, and its last value (the nearest
/// proxy's) counts; without a listed proxy, or from an address outside the list, it is ignored.
#[test]
fn x_forwarded_proto_counts_only_from_a_trusted_proxy() {
    let (tmp, db) = scratch_db();
    estate(&db);
    let trusted = serve(
        tmp.path(),
        &db,
        "[server]\ntrusted_proxies = [\"127.0.0.1\"]\n",
        false,
    );
    for (proto, tls) in [
        (Some("https"), true),
        (Some("HTTPS"), true),
        (Some("http, https"), true),
        (Some("https, http"), false),
        (Some("http"), false),
        (None, false),
    ] {
        let extra: Vec<(&str, &str)> = proto
            .map(|p| ("X-Forwarded-Proto", p))
            .into_iter()
            .collect();
        sign_in_over(&trusted, ADMIN, &extra, tls);
        let (status, head) = trusted
            .link
            .send(&trusted.addr, "GET", "/login", &extra, None);
        assert_eq!(status, 200, "{head}");
        assert_headers(&format!("GET /login with {proto:?}"), "/login", &head, tls);
    }
    drop(trusted);
    for config in [
        "",
        "[server]\ntrusted_proxies = [\"10.0.0.0/8\", \"::1\"]\n",
    ] {
        let untrusted = serve(tmp.path(), &db, config, false);
        let claim = [("X-Forwarded-Proto", "https")];
        sign_in_over(&untrusted, ADMIN, &claim, false);
        let (_, head) = untrusted
            .link
            .send(&untrusted.addr, "GET", "/", &claim, None);
        assert_headers(&format!("GET / under {config:?}"), "/", &head, false);
    }
}

/// A `behind_tls_proxy` that is not true or false stops `serve` with the key named.
#[test]
fn a_bad_behind_tls_proxy_is_refused_naming_the_key() {
    for (value, said) in [
        ("\"yes\"", "\"yes\""),
        ("1", "1"),
        ("[true]", "a value of type array"),
    ] {
        let err = serve_refused(&format!("[server]\nbehind_tls_proxy = {value}\n"));
        assert!(
            err.contains(&format!(
                "server.behind_tls_proxy: {said} must be true or false"
            )),
            "{value}: {err}"
        );
    }
}
