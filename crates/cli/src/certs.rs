//! `cardwatch certs scan PATH…`: the certificates in PEM and DER files and folders, with the
//! same parser the agent uses on cards — subject, purpose, validity, days left, hash.

use std::path::{Path, PathBuf};

use anyhow::Result;
use cardwatch_core::date::Timestamp;
use cardwatch_core::x509::{parse_file, CertificateInfo};
use clap::Subcommand;
use serde::Serialize;

use crate::Exit;

#[derive(Subcommand, Debug)]
pub enum CertsCommand {
    /// Read certificates from PEM and DER files, and from the certificate files in folders
    /// (.pem .crt .cer .der .cert, searched recursively).
    Scan {
        /// Files and folders.
        #[arg(required = true)]
        paths: Vec<PathBuf>,
        /// One JSON array of `{file, subject, purpose, …, days_left}`.
        #[arg(long)]
        json: bool,
    },
}

/// File names a folder search takes for certificates.
const EXTENSIONS: &[&str] = &["pem", "crt", "cer", "der", "cert"];

#[derive(Serialize)]
struct Found<'a> {
    file: &'a str,
    #[serde(flatten)]
    cert: &'a CertificateInfo,
    days_left: i64,
}

/// Every file to read, with whether it was named (a named file must hold a certificate; a key
/// file met in a folder is passed over): those named, and the certificate files under the
/// folders named, in name order so runs compare.
fn files(paths: &[PathBuf], problems: &mut Vec<String>) -> Vec<(PathBuf, bool)> {
    let mut out = Vec::new();
    for p in paths {
        if p.is_dir() {
            walk(p, &mut out, problems);
        } else if p.exists() {
            out.push((p.clone(), true));
        } else {
            problems.push(format!(
                "{}: no such file or folder — check the path",
                p.display()
            ));
        }
    }
    out
}

fn walk(dir: &Path, out: &mut Vec<(PathBuf, bool)>, problems: &mut Vec<String>) {
    let entries = match std::fs::read_dir(dir) {
        Ok(e) => e,
        Err(e) => {
            problems.push(format!("{}: cannot read the folder: {e}", dir.display()));
            return;
        }
    };
    let mut paths: Vec<PathBuf> = entries.filter_map(|e| e.ok().map(|e| e.path())).collect();
    paths.sort();
    for p in paths {
        if p.is_dir() {
            walk(&p, out, problems);
        } else if p
            .extension()
            .and_then(|e| e.to_str())
            .is_some_and(|e| EXTENSIONS.contains(&e.to_ascii_lowercase().as_str()))
        {
            out.push((p, false));
        }
    }
}

/// Runs `cardwatch certs …`; exits 1 when any file could not be read as certificates (the
/// others are still listed).
pub fn run(command: CertsCommand, now: Timestamp) -> Result<()> {
    let CertsCommand::Scan { paths, json } = command;
    let mut problems = Vec::new();
    let mut found = Vec::new();
    for (file, named) in files(&paths, &mut problems) {
        let name = file.display().to_string();
        match std::fs::read(&file) {
            Err(e) => problems.push(format!("{name}: cannot read: {e}")),
            Ok(bytes) => match parse_file(&bytes) {
                Ok(certs) if certs.is_empty() && named => {
                    problems.push(format!(
                        "{name}: holds no certificate, only other PEM blocks"
                    ));
                }
                Ok(certs) => found.extend(certs.into_iter().map(|c| (name.clone(), c))),
                Err(e) => problems.push(format!("{name}: {e}")),
            },
        }
    }
    if json {
        let rows: Vec<Found> = found
            .iter()
            .map(|(file, cert)| Found {
                file,
                cert,
                days_left: cert.days_left(now),
            })
            .collect();
        outln!("{}", serde_json::to_string(&rows)?);
    } else {
        for (file, c) in &found {
            let days = c.days_left(now);
            let left = if days < 0 {
                format!("EXPIRED {} days ago", -days)
            } else {
                format!("{days} days left")
            };
            outln!(
                "{file}: {} — {}; valid {} to {} ({left}); {}; issued by {}",
                c.subject,
                c.purpose.as_str(),
                c.not_before,
                c.not_after,
                c.hash_algorithm,
                c.issuer
            );
        }
        if found.is_empty() && problems.is_empty() {
            outln!("no certificate files found");
        }
    }
    for p in &problems {
        eprintln!("cardwatch: {p}");
    }
    if problems.is_empty() {
        Ok(())
    } else {
        Err(Exit(1).into())
    }
}
