//! Output piped into a reader that closes early (`cardwatch audit verify | head -1`): the
//! command ends quietly — no panic, no message — with status 0, whichever way it prints.

mod common;

use std::process::Stdio;

use common::*;

/// `args` run with standard output a pipe whose reader is already closed, so the first write
/// meets a closed pipe however fast the reader would have been: (status code, standard error).
fn into_a_closed_pipe(db: &str, args: &[&str]) -> (Option<i32>, String) {
    let (reader, writer) = std::io::pipe().expect("a pipe");
    drop(reader);
    let mut c = command(db, None);
    c.args(args)
        .stdin(Stdio::null())
        .stdout(writer)
        .stderr(Stdio::piped());
    let out = c.output().expect("run cardwatch");
    (out.status.code(), text(&out.stderr))
}

#[test]
fn output_into_a_closed_pipe_ends_quietly_with_success() {
    let (tmp, db) = scratch_db();
    ok(&import_all(
        &db,
        &demo_files_of(&tmp.path().join("demo"), "1"),
    ));
    // Printed line by line (`audit verify`), and written by a writer that returns its errors
    // (`export`, `audit show`).
    for args in [
        &["audit", "verify"][..],
        &["export", "cards"],
        &["audit", "show", "--limit", "5"],
    ] {
        let (code, stderr) = into_a_closed_pipe(&db, args);
        assert!(
            !stderr.contains("panicked") && !stderr.contains("Broken pipe"),
            "cardwatch {args:?}: {stderr}"
        );
        assert_eq!(code, Some(0), "cardwatch {args:?}: {stderr}");
    }
    // The same, the way a shell runs it: `head -1` reads a line and goes.
    let out = std::process::Command::new("sh")
        .arg("-c")
        .arg(format!(
            "'{}' --database-url '{db}' audit verify | head -1",
            env!("CARGO_BIN_EXE_cardwatch")
        ))
        .output()
        .expect("sh");
    let stderr = text(&out.stderr);
    assert!(!stderr.contains("panicked"), "{stderr}");
    assert!(text(&out.stdout).starts_with("audit chain intact"));
}
