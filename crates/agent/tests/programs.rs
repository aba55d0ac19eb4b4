//! The installed programs in the agent's inventory (`programs`), as `diagnose --json` shows the
//! inventory it would report: absent where there is no list (Linux without a programs file), the
//! kept list from a programs file, and absent with the reason when the file cannot be read.

use std::path::Path;
use std::process::Command;

/// `cardwatch-agent diagnose --json` with the probes in `probes`, not enrolled (nothing sent).
fn inventory(dir: &Path, probes: &str) -> serde_json::Value {
    let path = dir.join("probes.toml");
    std::fs::write(&path, probes).expect("probes");
    let out = Command::new(env!("CARGO_BIN_EXE_cardwatch-agent"))
        .env_remove("CARDWATCH_AGENT_STATE")
        .env_remove("CARDWATCH_PKCS11_MODULE")
        .arg("diagnose")
        .arg("--json")
        .arg("--probes")
        .arg(&path)
        .arg("--state-dir")
        .arg(dir.join("state"))
        .args(["--hostname", "test-ws-01"])
        .output()
        .expect("run cardwatch-agent");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json");
    v["diagnosis"]["inventory"].clone()
}

fn problems(inv: &serde_json::Value) -> Vec<String> {
    inv["problems"]
        .as_array()
        .expect("problems")
        .iter()
        .map(|p| p.as_str().expect("text").to_owned())
        .collect()
}

#[test]
fn the_inventory_carries_the_installed_programs_only_where_there_is_a_list() {
    let dir = tempfile::tempdir().expect("tmp");
    // No uninstall keys here and no programs file: no list, and no problem either — the server
    // then removes no application.
    let none = inventory(dir.path(), "");
    assert!(
        none.as_object().expect("object").get("programs").is_none(),
        "absent, not empty: {none}"
    );
    assert!(
        !problems(&none).iter().any(|p| p.starts_with("programs")),
        "{none}"
    );

    // A programs file: what is kept of it, sorted, once, nothing naming a person.
    let list = dir.path().join("programs.txt");
    std::fs::write(
        &list,
        "SystmOne Client\t45.1.0\r\n\
         EMIS Web Health Care System\t9.12.4\r\n\
         EMIS Web Health Care System\t9.12.4\r\n\
         Zoom (C:\\Users\\jane.smith\\AppData\\Roaming)\t6.2\r\n\
         NHSmail Outlook add-in\r\n",
    )
    .expect("list");
    let probes = format!("[programs]\nfile = {:?}\n", list.display().to_string());
    let listed = inventory(dir.path(), &probes);
    assert_eq!(
        listed["programs"],
        serde_json::json!([
            {"name": "EMIS Web Health Care System", "version": "9.12.4"},
            {"name": "NHSmail Outlook add-in", "version": ""},
            {"name": "SystmOne Client", "version": "45.1.0"},
        ]),
        "{listed}"
    );
    assert!(!listed.to_string().contains("jane"), "{listed}");

    // A file that cannot be read: no list, and the reason.
    std::fs::remove_file(&list).expect("remove");
    let unread = inventory(dir.path(), &probes);
    assert!(
        unread
            .as_object()
            .expect("object")
            .get("programs")
            .is_none(),
        "{unread}"
    );
    assert!(
        problems(&unread)
            .iter()
            .any(|p| p.starts_with("programs: cannot read") && p.contains("programs.txt")),
        "{unread}"
    );

    // A probes file naming something else under [programs] is refused, as any unknown field.
    let path = dir.path().join("probes.toml");
    std::fs::write(&path, "[programs]\npath = \"x\"\n").expect("probes");
    let bad = Command::new(env!("CARGO_BIN_EXE_cardwatch-agent"))
        .env_remove("CARDWATCH_AGENT_STATE")
        .arg("diagnose")
        .arg("--probes")
        .arg(&path)
        .arg("--state-dir")
        .arg(dir.path().join("state"))
        .output()
        .expect("run cardwatch-agent");
    assert!(!bad.status.success());
    assert!(
        String::from_utf8_lossy(&bad.stderr).contains("unknown field"),
        "{}",
        String::from_utf8_lossy(&bad.stderr)
    );
}
