//! Certificates on a card through a real PKCS#11 module: SoftHSM2 tokens holding certificates
//! made by openssl and written with pkcs11-tool (scripts/test installs softhsm2 and opensc).

mod softhsm;

use std::path::Path;
use std::process::{Command, Output};

use softhsm::{card, key, login_counter, logins, openssl_time, softhsm, SOFTHSM};

/// The agent with `input` on its standard input (the PIN, as a script would give it).
fn agent_with(conf: &str, args: &[&str], input: &str) -> Output {
    agent_with_env(conf, &[], args, input)
}

fn agent_with_env(conf: &str, env: &[(&str, String)], args: &[&str], input: &str) -> Output {
    use std::io::Write;
    let mut child = Command::new(env!("CARGO_BIN_EXE_cardwatch-agent"))
        .env("SOFTHSM2_CONF", conf)
        .envs(env.iter().map(|(k, v)| (k, v)))
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

    // A wrong PIN, through a module that counts the logins: SoftHSM2 itself never locks a
    // token, so only the count shows the agent spent one of the holder's three tries.
    let count = tmp.path().join("logins");
    let (counting, env) = login_counter(tmp.path(), &count);
    let counted = ["diagnose", "--sign-test", "--module", &counting];
    let wrong = agent_with_env(&conf, &env, &counted, "000000\n");
    let err = String::from_utf8_lossy(&wrong.stderr);
    assert_eq!(
        logins(&count),
        1,
        "one try of the PIN, never a retry: {err}"
    );
    assert!(!wrong.status.success());
    assert!(
        err.contains("did not accept the passcode") && err.contains("will not be tried again"),
        "{err}"
    );
    assert!(!err.contains("000000") && !String::from_utf8_lossy(&wrong.stdout).contains("000000"));
    // The holder's real PIN still works, with one more login.
    assert!(agent_with_env(&conf, &env, &counted, "123456\n")
        .status
        .success());
    assert_eq!(logins(&count), 2);

    let empty = agent_with(&conf, &test, "\n");
    assert!(String::from_utf8_lossy(&empty.stderr).contains("no passcode was given"));

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

/// Probes for the tests: the middleware and the Identity Agent through version files at their
/// current versions, OpenSC through the package manager (a real installed package, outside the
/// catalogue), Credential Management on a port nothing listens on.
fn probes(dir: &Path) -> String {
    let closed = std::net::TcpListener::bind("127.0.0.1:0")
        .expect("bind")
        .local_addr()
        .expect("addr")
        .port();
    std::fs::write(dir.join("ia-version.txt"), "2.4.10.0\n").expect("version");
    std::fs::write(dir.join("oberthur.txt"), "Version 6.2.0.4\n").expect("version");
    let path = dir.join("probes.toml");
    std::fs::write(
        &path,
        format!(
            "[[software]]\ncomponent = \"oberthur-middleware\"\nfile = \"{}\"\n\n\
             [[software]]\ncomponent = \"identity-agent\"\nfile = \"{}\"\n\n\
             [[software]]\ncomponent = \"opensc\"\npackage = \"opensc\"\n\n\
             [credential_management]\nports = [{closed}]\n",
            dir.join("oberthur.txt").display(),
            dir.join("ia-version.txt").display()
        ),
    )
    .expect("probes");
    path.display().to_string()
}

#[test]
fn diagnose_says_a_card_that_logs_in_cannot_sign_when_its_signing_certificate_expired() {
    let tmp = tempfile::tempdir().expect("tmp");
    let conf = softhsm(tmp.path());
    card(
        tmp.path(),
        &conf,
        "CARD-CS0001",
        &[
            ("auth", "digitalSignature", 300, "sha256"),
            ("sign", "nonRepudiation", -10, "sha256"),
        ],
    );
    let probes = probes(tmp.path());
    let state = tmp.path().join("state").display().to_string();
    let args = [
        "diagnose",
        "--symptom",
        "cannot-sign",
        "--module",
        SOFTHSM,
        "--probes",
        &probes,
        "--state-dir",
        &state,
        "--hostname",
        "GP-A81001-03",
    ];
    let out = agent(&conf, &args);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{text}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let day = openssl_time(-10);
    let day = format!("{}-{}-{}", &day[..4], &day[4..6], &day[6..8]);
    for want in [
        format!("card CARD-CS0001: logs in, cannot sign: signing certificate expired on {day}"),
        "For \"Logs in but cannot sign".to_owned(),
        "→ expired (not asked: the agent on GP-A81001-03 found the signing certificate".to_owned(),
        "Most likely: Signing certificate expired (past its end date)".to_owned(),
        "identity-agent 2.4.10.0 (file: ".to_owned(),
        "oberthur-middleware 6.2.0.4 (file: ".to_owned(),
        "opensc 0.".to_owned(),
        "Credential Management does not answer on its local ports".to_owned(),
        "- hostname: GP-A81001-03".to_owned(),
    ] {
        assert!(text.contains(&want), "{want:?} in\n{text}");
    }

    // The same as JSON, with the facts a server triage would use.
    let mut json_args = args.to_vec();
    json_args.push("--json");
    let out = agent(&conf, &json_args);
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json");
    let fact = |k: &str| {
        v["facts"]
            .as_array()
            .expect("facts")
            .iter()
            .find(|f| f["key"] == k)
            .map(|f| f["value"].as_str().unwrap_or_default().to_owned())
    };
    assert_eq!(fact("cert.signing").as_deref(), Some("expired"));
    assert_eq!(fact("cert.authentication").as_deref(), Some("valid"));
    assert_eq!(fact("software.identity-agent").as_deref(), Some("current"));
    assert_eq!(
        fact("agent.credential-management-running").as_deref(),
        Some("not-running")
    );
    assert_eq!(v["diagnosis"]["symptom"], "cannot-sign");

    // Both valid: said so.
    let tmp2 = tempfile::tempdir().expect("tmp");
    let conf2 = softhsm(tmp2.path());
    card(
        tmp2.path(),
        &conf2,
        "CARD-CS0002",
        &[
            ("auth", "digitalSignature", 300, "sha256"),
            ("sign", "nonRepudiation", 300, "sha256"),
        ],
    );
    let out = agent(&conf2, &args);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("card CARD-CS0002: both certificates valid"),
        "{text}"
    );

    // An unknown symptom is refused with the ones there are; the user's error text works.
    let bad = agent(
        &conf,
        &["diagnose", "--symptom", "purple", "--state-dir", &state],
    );
    let err = String::from_utf8_lossy(&bad.stderr);
    assert!(
        !bad.status.success() && err.contains("cannot-sign"),
        "{err}"
    );
    let typed = agent(
        &conf,
        &[
            "diagnose",
            "--symptom",
            "Your Smartcard is blocked",
            "--module",
            SOFTHSM,
            "--probes",
            &probes,
            "--state-dir",
            &state,
        ],
    );
    assert!(
        String::from_utf8_lossy(&typed.stdout).contains("For \"'Your Smartcard is blocked'\""),
        "{}",
        String::from_utf8_lossy(&typed.stdout)
    );
}
