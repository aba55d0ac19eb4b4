//! The fixture of the tests that change an estate under a running server and compare what it
//! shows with a fresh server's view of the same store (the re-check, the plan after a change):
//! the demo estate imported into a scratch store, a server on it logging to a file, and fresh
//! servers started on the same store to compare with.

use std::path::{Path, PathBuf};
use std::process::Child;

use super::*;

/// The running server over the demo estate, and the store it serves.
pub struct Changed {
    /// The scratch folder (the store's, the demo's files under `csv`, the logs).
    tmp: Scratch,
    /// The store's URL.
    pub db: String,
    server: Option<Child>,
    /// The running server's address.
    pub addr: String,
    /// Its session cookie, signed in as an administrator.
    pub cookie: String,
    /// Its log, at info.
    pub log: PathBuf,
    fresh: u32,
}

impl Changed {
    /// The demo estate imported, and a server on it signed in as `user`.
    pub fn start(user: &str) -> Changed {
        let (tmp, db) = scratch_db();
        let csv = tmp.path().join("csv");
        std::fs::create_dir_all(&csv).expect("dir");
        ok(&import_all(&db, &demo_files(&csv)));
        let log = tmp.path().join("serve.log");
        let (child, addr, cookie) = serve_logging_to(&db, user, &log);
        Changed {
            tmp,
            db,
            server: Some(child),
            addr,
            cookie,
            log,
            fresh: 0,
        }
    }

    /// The scratch folder, for the files a test imports.
    pub fn dir(&self) -> &Path {
        self.tmp.path()
    }

    /// How many times the running server has logged `what`.
    pub fn logged(&self, what: &str) -> usize {
        std::fs::read_to_string(&self.log)
            .unwrap_or_default()
            .matches(what)
            .count()
    }

    /// What `shown` (given an address and a session cookie) sees on a fresh server of the same
    /// store, which is stopped afterwards; its log is kept beside the running server's.
    pub fn on_a_fresh_server<T>(&mut self, shown: impl FnOnce(&str, &str) -> T) -> T {
        self.fresh += 1;
        let log = self.dir().join(format!("fresh-{}.log", self.fresh));
        let (child, addr, cookie) =
            serve_logging_to(&self.db, &format!("fresh{}", self.fresh), &log);
        let seen = shown(&addr, &cookie);
        stop(child);
        seen
    }

    /// Stops the running server.
    pub fn stop(mut self) {
        if let Some(child) = self.server.take() {
            stop(child);
        }
    }
}

impl Drop for Changed {
    fn drop(&mut self) {
        if let Some(mut child) = self.server.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// A response's body.
pub fn body_of(response: &str) -> String {
    response
        .split_once("\r\n\r\n")
        .map(|(_, b)| b.to_owned())
        .unwrap_or_default()
}

/// The bodies of the answers to some GET requests made as the operator of `cookie`, each
/// checked to be 200.
pub fn answers(addr: &str, cookie: &str, paths: &[&str]) -> Vec<String> {
    paths
        .iter()
        .map(|path| {
            let (status, response) = get_as(addr, path, cookie);
            assert_eq!(status, 200, "{path}: {response}");
            body_of(&response)
        })
        .collect()
}
