//! SoftHSM2 tokens standing in for smartcards, with certificates made by openssl and written
//! with pkcs11-tool (scripts/test installs softhsm2, opensc and openssl). Shared by the agent's
//! tests and the server's end-to-end agent tests.
#![allow(dead_code)]

use std::path::Path;
use std::process::{Command, Output};

/// Where Debian installs SoftHSM2's PKCS#11 module.
pub const SOFTHSM: &str = "/usr/lib/x86_64-linux-gnu/softhsm/libsofthsm2.so";

pub fn run(cmd: &mut Command) -> Output {
    let out = cmd.output().expect("run");
    assert!(
        out.status.success(),
        "{cmd:?}: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

/// A PKCS#11 module in `dir` that passes every call to SoftHSM2 and writes a line to `count`
/// for each `C_Login` (login_counter.c beside this file; built with the system's C compiler
/// and p11-kit's PKCS#11 header).
pub fn login_counter(dir: &Path, count: &Path) -> (String, [(&'static str, String); 2]) {
    let source = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/softhsm/login_counter.c");
    let module = dir.join("liblogincount.so");
    run(Command::new("cc")
        .args([
            "-shared",
            "-fPIC",
            "-Wall",
            "-Werror",
            "-I/usr/include/p11-kit-1",
            "-o",
        ])
        .arg(&module)
        .arg(&source)
        .arg("-ldl"));
    (
        module.display().to_string(),
        [
            ("REAL_PKCS11_MODULE", SOFTHSM.to_owned()),
            ("LOGIN_COUNT_FILE", count.display().to_string()),
        ],
    )
}

/// The `C_Login` calls a `login_counter` module has seen.
pub fn logins(count: &Path) -> usize {
    std::fs::read_to_string(count).map_or(0, |s| s.lines().count())
}

/// A SoftHSM2 configuration with its tokens in `dir`.
pub fn softhsm(dir: &Path) -> String {
    std::fs::create_dir_all(dir.join("tokens")).expect("tokens");
    let conf = dir.join("softhsm2.conf");
    std::fs::write(
        &conf,
        format!(
            "directories.tokendir = {}\nobjectstore.backend = file\n",
            dir.join("tokens").display()
        ),
    )
    .expect("conf");
    conf.display().to_string()
}

/// `now` moved by `days`, as openssl's `YYYYMMDDHHMMSSZ`.
pub fn openssl_time(days: i64) -> String {
    let secs = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("clock")
        .as_secs() as i64;
    cardwatch_core::date::Timestamp::from_unix(secs + days * 86_400)
        .to_string()
        .replace(['-', ':', 'T'], "")
}

/// An expired self-signed certificate (`openssl req` in OpenSSL 3.0 cannot backdate; `openssl
/// ca` can): valid from 400 days ago until `days` (negative) from now.
fn expired(dir: &Path, stem: &str, usage: &str, days: i64, digest: &str) {
    std::fs::write(
        dir.join("ca.cnf"),
        format!(
            "[ca]\ndefault_ca = own\n[own]\ndatabase = index.txt\nnew_certs_dir = .\nserial = serial\n\
             default_md = {digest}\npolicy = any\ncopy_extensions = copy\nunique_subject = no\n\
             [any]\ncommonName = supplied\norganizationName = optional\n"
        ),
    )
    .expect("ca.cnf");
    std::fs::write(dir.join("index.txt"), "").expect("index");
    std::fs::write(dir.join("serial"), "1000\n").expect("serial");
    run(Command::new("openssl")
        .current_dir(dir)
        .args(["req", "-new", "-newkey", "rsa:2048", "-nodes", "-keyout"])
        .arg(format!("{stem}.key"))
        .arg("-out")
        .arg(format!("{stem}.csr"))
        .args(["-subj", "/CN=Asha Patel/O=NHS", "-addext"])
        .arg(format!("keyUsage=critical,{usage}")));
    run(Command::new("openssl")
        .current_dir(dir)
        .args(["ca", "-batch", "-config", "ca.cnf", "-selfsign", "-keyfile"])
        .arg(format!("{stem}.key"))
        .arg("-in")
        .arg(format!("{stem}.csr"))
        .args([
            "-startdate",
            &openssl_time(-400),
            "-enddate",
            &openssl_time(days),
        ])
        .arg("-out")
        .arg(format!("{stem}.pem")));
}

/// A card: a token holding a certificate per (label, key usage, days, digest); negative days
/// make a certificate that expired that many days ago.
pub fn card(dir: &Path, conf: &str, label: &str, certs: &[(&str, &str, i64, &str)]) {
    run(Command::new("softhsm2-util")
        .env("SOFTHSM2_CONF", conf)
        .args([
            "--init-token",
            "--free",
            "--label",
            label,
            "--pin",
            "123456",
            "--so-pin",
            "12345678",
        ]));
    for (i, (name, usage, days, digest)) in certs.iter().enumerate() {
        let pem = dir.join(format!("{label}-{name}.pem"));
        let der = dir.join(format!("{label}-{name}.der"));
        if *days < 0 {
            expired(dir, &format!("{label}-{name}"), usage, *days, digest);
        } else {
            run(Command::new("openssl")
                .args(["req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout"])
                .arg(dir.join(format!("{label}-{name}.key")))
                .arg("-out")
                .arg(&pem)
                .args(["-days", &days.to_string(), "-subj", "/CN=Asha Patel/O=NHS"])
                .args([
                    "-addext",
                    &format!("keyUsage=critical,{usage}"),
                    &format!("-{digest}"),
                ]));
        }
        run(Command::new("openssl")
            .args(["x509", "-outform", "der", "-in"])
            .arg(&pem)
            .arg("-out")
            .arg(&der));
        run(Command::new("pkcs11-tool")
            .env("SOFTHSM2_CONF", conf)
            .args([
                "--module",
                SOFTHSM,
                "--token-label",
                label,
                "--login",
                "--pin",
                "123456",
            ])
            .arg("--write-object")
            .arg(&der)
            .args([
                "--type",
                "cert",
                "--id",
                &format!("{:02}", i + 1),
                "--label",
                name,
            ]));
    }
}

/// Puts the private key made with a certificate onto the card under `id` (as middleware pairs
/// them: same CKA_ID).
pub fn key(dir: &Path, conf: &str, label: &str, name: &str, id: &str) {
    let p8 = dir.join(format!("{label}-{name}.p8"));
    run(Command::new("openssl")
        .args(["pkcs8", "-topk8", "-nocrypt", "-in"])
        .arg(dir.join(format!("{label}-{name}.key")))
        .arg("-out")
        .arg(&p8));
    run(Command::new("softhsm2-util")
        .env("SOFTHSM2_CONF", conf)
        .arg("--import")
        .arg(&p8)
        .args([
            "--token", label, "--label", name, "--id", id, "--pin", "123456",
        ]));
}
