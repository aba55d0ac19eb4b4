//! Certificates on a card through a real PKCS#11 module: SoftHSM2 tokens holding certificates
//! made by openssl and written with pkcs11-tool (scripts/test installs softhsm2 and opensc).

use std::path::Path;
use std::process::{Command, Output};

const SOFTHSM: &str = "/usr/lib/x86_64-linux-gnu/softhsm/libsofthsm2.so";

fn run(cmd: &mut Command) -> Output {
    let out = cmd.output().expect("run");
    assert!(
        out.status.success(),
        "{cmd:?}: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

/// A SoftHSM2 configuration with its tokens in `dir`.
fn softhsm(dir: &Path) -> String {
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

/// A card: a token holding a certificate per (label, key usage, days, digest).
fn card(dir: &Path, conf: &str, label: &str, certs: &[(&str, &str, u32, &str)]) {
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
fn key(dir: &Path, conf: &str, label: &str, name: &str, id: &str) {
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

/// The agent with `input` on its standard input (the PIN, as a script would give it).
fn agent_with(conf: &str, args: &[&str], input: &str) -> Output {
    use std::io::Write;
    let mut child = Command::new(env!("CARGO_BIN_EXE_cardwatch-agent"))
        .env("SOFTHSM2_CONF", conf)
        .args(args)
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("spawn");
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(input.as_bytes())
        .expect("write");
    child.wait_with_output().expect("wait")
}

fn agent(conf: &str, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_cardwatch-agent"))
        .env("SOFTHSM2_CONF", conf)
        .env_remove("CARDWATCH_PKCS11_MODULE")
        .args(args)
        .output()
        .expect("run cardwatch-agent")
}

#[test]
fn each_cards_certificates_are_told_apart_with_validity_and_hash() {
    let tmp = tempfile::tempdir().expect("tmp");
    let conf = softhsm(tmp.path());
    card(
        tmp.path(),
        &conf,
        "CARD-CS0001",
        &[
            ("auth", "digitalSignature", 30, "sha256"),
            ("sign", "nonRepudiation", 400, "sha1"),
        ],
    );
    card(
        tmp.path(),
        &conf,
        "CARD-CS0002",
        &[("auth", "digitalSignature", 5, "sha256")],
    );
    let out = agent(&conf, &["certificates", "--module", SOFTHSM, "--json"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let certs: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json");
    let find = |token: &str, label: &str| -> serde_json::Value {
        certs
            .as_array()
            .expect("array")
            .iter()
            .find(|c| c["token"] == token && c["label"] == label)
            .unwrap_or_else(|| panic!("{token}/{label} in {certs}"))
            .clone()
    };
    assert_eq!(
        certs.as_array().map(Vec::len),
        Some(3),
        "the blank slot is skipped: {certs}"
    );
    let auth = find("CARD-CS0001", "auth");
    assert_eq!(auth["purpose"], "authentication");
    assert_eq!(auth["hash_algorithm"], "sha256");
    assert_eq!(auth["subject"], "CN=Asha Patel, O=NHS");
    let sign = find("CARD-CS0001", "sign");
    assert_eq!(sign["purpose"], "signing");
    assert_eq!(
        sign["hash_algorithm"], "sha1",
        "a SHA-1 signing certificate is seen as such"
    );
    // Validity as the certificate says: 30 days and 5 days from now.
    let days = |c: &serde_json::Value| {
        let t = |k: &str| {
            cardwatch_core::date::Timestamp::parse(c[k].as_str().expect("time"))
                .expect("timestamp")
                .unix()
        };
        (t("not_after") - t("not_before")) / 86_400
    };
    assert_eq!(days(&auth), 30);
    assert_eq!(days(&find("CARD-CS0002", "auth")), 5);
    let text =
        String::from_utf8_lossy(&agent(&conf, &["certificates", "--module", SOFTHSM]).stdout)
            .into_owned();
    assert!(text.contains("CARD-CS0001 \"sign\": signing"), "{text}");
}

#[test]
fn a_missing_or_wrong_module_is_a_clear_error() {
    let tmp = tempfile::tempdir().expect("tmp");
    let conf = softhsm(tmp.path());
    let missing = agent(
        &conf,
        &["certificates", "--module", "/nonexistent/pkcs11.so"],
    );
    let err = String::from_utf8_lossy(&missing.stderr);
    assert!(!missing.status.success());
    assert!(
        err.contains("no PKCS#11 module at /nonexistent/pkcs11.so") && err.contains("--module"),
        "{err}"
    );
    // A file that is not a PKCS#11 module.
    let not = tmp.path().join("not-a-module.so");
    std::fs::write(&not, b"not a library").expect("write");
    let wrong = agent(
        &conf,
        &["certificates", "--module", &not.display().to_string()],
    );
    let err = String::from_utf8_lossy(&wrong.stderr);
    assert!(!wrong.status.success());
    assert!(err.contains("cannot load the PKCS#11 module"), "{err}");
}

#[test]
fn the_signing_self_test_signs_with_the_card_and_never_retries_a_pin() {
    let tmp = tempfile::tempdir().expect("tmp");
    let conf = softhsm(tmp.path());
    card(
        tmp.path(),
        &conf,
        "CARD-CS0001",
        &[
            ("auth", "digitalSignature", 30, "sha256"),
            ("sign", "nonRepudiation", 400, "sha256"),
        ],
    );
    key(tmp.path(), &conf, "CARD-CS0001", "sign", "02");
    let test = ["diagnose", "--sign-test", "--module", SOFTHSM];
    let good = agent_with(&conf, &test, "123456\n");
    let out = String::from_utf8_lossy(&good.stdout);
    assert!(
        good.status.success(),
        "{out}{}",
        String::from_utf8_lossy(&good.stderr)
    );
    assert!(
        out.contains("signing self-test passed: card CARD-CS0001"),
        "{out}"
    );
    assert!(!out.contains("123456"), "the PIN is never shown");

    let wrong = agent_with(&conf, &test, "000000\n");
    let err = String::from_utf8_lossy(&wrong.stderr);
    assert!(!wrong.status.success());
    assert!(
        err.contains("did not accept the PIN") && err.contains("will not be tried again"),
        "{err}"
    );
    assert!(!err.contains("000000") && !String::from_utf8_lossy(&wrong.stdout).contains("000000"));
    // The holder's real PIN still works: the agent spent one try, not three.
    assert!(agent_with(&conf, &test, "123456\n").status.success());

    let empty = agent_with(&conf, &test, "\n");
    assert!(String::from_utf8_lossy(&empty.stderr).contains("no PIN was given"));

    // A key that does not belong to the signing certificate: the card signs, the check fails.
    card(
        tmp.path(),
        &conf,
        "CARD-CS0002",
        &[
            ("sign", "nonRepudiation", 400, "sha256"),
            ("other", "digitalSignature", 30, "sha256"),
        ],
    );
    key(tmp.path(), &conf, "CARD-CS0002", "other", "01");
    let two = [
        "diagnose",
        "--sign-test",
        "--module",
        SOFTHSM,
        "--token",
        "CARD-CS0002",
    ];
    let bad = agent_with(&conf, &two, "123456\n");
    let err = String::from_utf8_lossy(&bad.stderr);
    assert!(
        err.contains("does not match its signing certificate"),
        "{err}"
    );
    // Two cards in: the test asks which.
    let which = agent_with(&conf, &test, "123456\n");
    assert!(String::from_utf8_lossy(&which.stderr).contains("2 cards are inserted"));

    // A card that cannot sign says so before any PIN reaches it.
    let tmp2 = tempfile::tempdir().expect("tmp");
    let conf2 = softhsm(tmp2.path());
    card(
        tmp2.path(),
        &conf2,
        "CARD-CS0003",
        &[("auth", "digitalSignature", 30, "sha256")],
    );
    let no = agent_with(&conf2, &test, "123456\n");
    assert!(String::from_utf8_lossy(&no.stderr).contains("has no signing certificate"));
}
