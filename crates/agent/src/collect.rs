//! Gathering this workstation's inventory and running the automatic checks. A part that cannot
//! be read (PC/SC stopped, no PKCS#11 module) is left out with the reason, never reported empty.

use std::path::Path;

use anyhow::{anyhow, Result};
use cardwatch_core::date::Timestamp;
use cardwatch_core::inventory::{Diagnosis, Inventory, Probes};

use crate::{pcsc_readers, pkcs11_certs, probes, server};

/// This workstation's name: the one given, else the system's.
pub fn hostname(given: Option<String>) -> Result<String> {
    if let Some(h) = given {
        return Ok(h);
    }
    std::env::var("COMPUTERNAME")
        .ok()
        .or_else(|| std::fs::read_to_string("/etc/hostname").ok())
        .or_else(|| std::fs::read_to_string("/proc/sys/kernel/hostname").ok())
        .map(|h| h.trim().to_owned())
        .filter(|h| !h.is_empty())
        .ok_or_else(|| anyhow!("cannot tell this workstation's name — give --hostname"))
}

/// The name to report as: the one given, else the one enrolled with, else the system's.
pub fn this_host(given: Option<String>, enrolled: Option<&server::Enrolled>) -> Result<String> {
    hostname(given.or_else(|| {
        enrolled
            .map(|e| e.hostname.clone())
            .filter(|h| !h.is_empty())
    }))
}

/// The inventory now; `module` is the PKCS#11 module asked for, if any.
pub fn inventory(hostname: &str, module: Option<&Path>, config: &probes::Config) -> Inventory {
    let mut problems = Vec::new();
    let readers = pcsc_readers::readers()
        .map_err(|e| problems.push(format!("readers: {e:#}")))
        .ok();
    let certificates = pkcs11_certs::module(module)
        .and_then(|m| pkcs11_certs::certificates(&m))
        .map_err(|e| problems.push(format!("card certificates: {e:#}")))
        .ok();
    let uninstall = probes::uninstall_entries();
    let (programs, unlisted) = probes::programs(config, uninstall.as_deref());
    problems.extend(unlisted);
    Inventory {
        hostname: hostname.to_owned(),
        agent_version: server::VERSION.to_owned(),
        os: probes::os(),
        readers,
        certificates,
        software: probes::software(config, uninstall.as_deref()),
        probed: config
            .software
            .iter()
            .map(|p| p.component.clone())
            .collect(),
        problems,
        // Asked of the server only with a heartbeat: it would make every inventory differ.
        clock_offset_seconds: None,
        // None where there is no list (not Windows, no programs file) or it could not be had:
        // the server then takes no application as removed.
        programs,
    }
}

/// This clock minus the server's, in seconds, if the server answers.
pub fn clock_offset(e: &server::Enrolled) -> Option<i64> {
    let t = server::heartbeat(e).ok()?;
    let server_time = Timestamp::parse(&t).ok()?;
    Some(crate::now().unix() - server_time.unix())
}

/// A diagnosis now: the inventory and every automatic check; the clock against the server's
/// when this agent is enrolled.
pub fn diagnosis(
    symptom: Option<String>,
    inventory: Inventory,
    config: &probes::Config,
    enrolled: Option<&server::Enrolled>,
    now: Timestamp,
) -> (Diagnosis, Vec<String>) {
    let mut problems = Vec::new();
    let endpoints = probes::endpoints(&config.endpoints).unwrap_or_else(|e| {
        problems.push(format!("endpoints: {e:#}"));
        Vec::new()
    });
    let clock_offset_seconds = enrolled.and_then(|e| {
        let offset = clock_offset(e);
        if offset.is_none() {
            problems.push("clock: the server did not answer".to_owned());
        }
        offset
    });
    let probes = Probes {
        credential_management_ports: probes::ports(&config.credential_management.ports),
        endpoints,
        clock_offset_seconds,
    };
    (
        Diagnosis {
            symptom,
            at: now,
            inventory,
            probes,
        },
        problems,
    )
}
