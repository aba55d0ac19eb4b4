//! `cardwatch certs scan` over certificate files made by openssl: PEM (one and a chain), DER,
//! an expired signing certificate, folders searched with key files passed over, and every bad
//! path or file named while the good ones are still listed.

mod common;

use std::path::Path;
use std::process::Command;

use common::{ok, text};

fn openssl(dir: &Path, args: &[&str]) {
    let out = Command::new("openssl")
        .current_dir(dir)
        .args(args)
        .output()
        .expect("run openssl");
    assert!(
        out.status.success(),
        "openssl {args:?}: {}",
        text(&out.stderr)
    );
}

/// A self-signed certificate valid for `days` from now.
fn fresh(dir: &Path, name: &str, usage: &str, days: u32) {
    openssl(
        dir,
        &[
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-keyout",
            &format!("{name}.key"),
            "-out",
            &format!("{name}.pem"),
            "-days",
            &days.to_string(),
            "-subj",
            &format!("/CN={name}/O=NHS"),
            "-addext",
            &format!("keyUsage=critical,{usage}"),
        ],
    );
}

/// A self-signed certificate valid between two moments (`YYYYMMDDHHMMSSZ`): `openssl req` in
/// OpenSSL 3.0 cannot backdate, `openssl ca` can.
fn dated(dir: &Path, name: &str, usage: &str, start: &str, end: &str) {
    std::fs::write(
        dir.join("ca.cnf"),
        "[ca]\ndefault_ca = own\n[own]\ndatabase = index.txt\nnew_certs_dir = .\nserial = serial\n\
         default_md = sha1\npolicy = any\ncopy_extensions = copy\nunique_subject = no\n\
         [any]\ncommonName = supplied\norganizationName = optional\n",
    )
    .expect("ca.cnf");
    std::fs::write(dir.join("index.txt"), "").expect("index");
    std::fs::write(dir.join("serial"), "1000\n").expect("serial");
    openssl(
        dir,
        &[
            "req",
            "-new",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-keyout",
            &format!("{name}.key"),
            "-out",
            &format!("{name}.csr"),
            "-subj",
            &format!("/CN={name}/O=NHS"),
            "-addext",
            &format!("keyUsage=critical,{usage}"),
        ],
    );
    openssl(
        dir,
        &[
            "ca",
            "-batch",
            "-config",
            "ca.cnf",
            "-selfsign",
            "-keyfile",
            &format!("{name}.key"),
            "-in",
            &format!("{name}.csr"),
            "-startdate",
            start,
            "-enddate",
            end,
            "-out",
            &format!("{name}.pem"),
        ],
    );
}

fn scan(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_cardwatch"))
        .env("RUST_LOG", "warn")
        .args(["certs", "scan"])
        .args(args)
        .output()
        .expect("run cardwatch")
}

#[test]
fn pem_der_chains_and_folders_give_purpose_validity_days_left_and_hash() {
    let tmp = tempfile::tempdir().expect("tmp");
    let dir = tmp.path();
    fresh(dir, "auth", "digitalSignature", 30);
    dated(
        dir,
        "sign",
        "nonRepudiation",
        "20250101000000Z",
        "20251101120000Z",
    );
    // The same authentication certificate as DER, deeper in the tree, and a two-certificate
    // chain: each certificate is one row.
    std::fs::create_dir(dir.join("deeper")).expect("mkdir");
    openssl(
        dir,
        &[
            "x509",
            "-in",
            "auth.pem",
            "-outform",
            "DER",
            "-out",
            "deeper/auth.der",
        ],
    );
    let chain = [
        std::fs::read_to_string(dir.join("auth.pem")).expect("auth"),
        std::fs::read_to_string(dir.join("sign.pem")).expect("sign"),
    ]
    .concat();
    std::fs::write(dir.join("deeper/chain.crt"), chain).expect("chain");
    // Not looked at in a folder: a note; passed over: key files (PEM, no certificate).
    std::fs::write(dir.join("notes.txt"), "not a certificate").expect("notes");
    std::fs::rename(dir.join("auth.key"), dir.join("auth-key.pem")).expect("rename");
    // `openssl ca` also leaves a copy named by serial (1000.pem): six certificate rows in all.
    let out = scan(&[dir.to_str().expect("utf-8"), "--json"]);
    let rows: serde_json::Value = serde_json::from_str(&ok(&out)).expect("json");
    let rows = rows.as_array().expect("array");
    assert_eq!(rows.len(), 6, "{rows:?}");
    let sign = rows
        .iter()
        .find(|r| r["file"].as_str().is_some_and(|f| f.ends_with("/sign.pem")))
        .expect("sign.pem");
    assert_eq!(sign["purpose"], "signing");
    assert_eq!(sign["hash_algorithm"], "sha1");
    assert_eq!(sign["subject"], "CN=sign, O=NHS");
    assert_eq!(sign["not_after"], "2025-11-01T12:00:00Z");
    assert!(sign["days_left"].as_i64().expect("days") < -300, "{sign}");
    let der = rows
        .iter()
        .find(|r| r["file"].as_str().is_some_and(|f| f.ends_with("auth.der")))
        .expect("auth.der");
    assert_eq!(der["purpose"], "authentication");
    assert_eq!(der["hash_algorithm"], "sha256");
    assert!(matches!(der["days_left"].as_i64(), Some(29 | 30)), "{der}");
    let in_chain = rows
        .iter()
        .filter(|r| r["file"].as_str().is_some_and(|f| f.ends_with("chain.crt")))
        .count();
    assert_eq!(in_chain, 2);

    // The table says the same in words.
    let table = ok(&scan(&[dir.join("sign.pem").to_str().expect("utf-8")]));
    assert!(
        table.contains("CN=sign, O=NHS — signing")
            && table.contains("to 2025-11-01T12:00:00Z (EXPIRED")
            && table.contains("sha1"),
        "{table}"
    );
}

#[test]
fn bad_files_and_paths_are_named_and_the_good_ones_still_listed() {
    let tmp = tempfile::tempdir().expect("tmp");
    let dir = tmp.path();
    fresh(dir, "good", "digitalSignature", 10);
    std::fs::write(dir.join("broken.crt"), "hello").expect("broken");
    std::fs::write(
        dir.join("cut.pem"),
        "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n",
    )
    .expect("cut");
    let out = scan(&[
        dir.to_str().expect("utf-8"),
        dir.join("good.key").to_str().expect("utf-8"),
        "/no/such/place.pem",
    ]);
    assert_eq!(out.status.code(), Some(1));
    let (stdout, stderr) = (text(&out.stdout), text(&out.stderr));
    assert!(
        stdout.contains("good.pem: CN=good, O=NHS — authentication"),
        "{stdout}"
    );
    for want in [
        "broken.crt: neither a DER certificate nor PEM text",
        "cut.pem: PEM block 1",
        "good.key: holds no certificate",
        "/no/such/place.pem: no such file or folder",
    ] {
        assert!(stderr.contains(want), "{want} in {stderr}");
    }
}
