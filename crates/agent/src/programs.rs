//! The installed programs the agent reports (`programs` in its inventory): what the server
//! recognises the catalogue's applications by (EMIS Web, SystmOne…). The Windows uninstall keys
//! are read in `probes`; this module decides what of them is sent, in plain code tested
//! everywhere: the programs a person sees in "Apps and features", each once, trimmed and
//! bounded, and nothing that names a person.
//!
//! A list that could not be read, or that is longer than the agent sends, is reported as
//! absent, never cut short or empty: the server removes an application a list no longer names,
//! so a partial list would remove applications still installed.

use std::path::Path;

use cardwatch_core::inventory::Program;

/// The most programs an inventory carries. A Windows workstation lists a few hundred; a list
/// longer than this is not sent rather than sent in part. With the names and versions cut to
/// their limits, the largest list stays well inside what the server reads in one request.
pub const MAX_PROGRAMS: usize = 1500;
/// The longest name kept, in characters; a longer one is cut (the catalogue matches by text
/// the name contains, and its names are short).
pub const MAX_NAME_CHARS: usize = 200;
/// The longest version kept, in characters.
pub const MAX_VERSION_CHARS: usize = 64;

/// What one uninstall entry says, as the registry holds it.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct UninstallEntry {
    /// `DisplayName`.
    pub name: Option<String>,
    /// `DisplayVersion`.
    pub version: Option<String>,
    /// `SystemComponent` = 1: hidden from "Apps and features" (a part of another program).
    pub system_component: bool,
    /// `ParentKeyName` is set: an update or add-on of another entry.
    pub has_parent: bool,
    /// `ReleaseType` ("Update", "Hotfix", "Security Update"…), when given.
    pub release_type: Option<String>,
}

/// The programs to report from the uninstall entries, sorted by name: those "Apps and features"
/// shows (not system components, updates or hotfixes), with a name; names and versions trimmed,
/// control characters made spaces, cut to [`MAX_NAME_CHARS`] and [`MAX_VERSION_CHARS`]; each
/// (name, version) once; an entry naming a user's profile folder or an email address left out.
/// More than [`MAX_PROGRAMS`] is an error saying so: the list is then not sent at all.
pub fn keep(entries: impl IntoIterator<Item = UninstallEntry>) -> Result<Vec<Program>, String> {
    let mut out: Vec<Program> = Vec::new();
    for e in entries {
        if e.system_component || e.has_parent || e.release_type.as_deref().is_some_and(is_update) {
            continue;
        }
        let Some(name) = e.name.as_deref().map(|n| clean(n, MAX_NAME_CHARS)) else {
            continue;
        };
        let version = e
            .version
            .as_deref()
            .map_or(String::new(), |v| clean(v, MAX_VERSION_CHARS));
        if name.is_empty() || names_a_person(&name) || names_a_person(&version) {
            continue;
        }
        let p = Program { name, version };
        if !out.contains(&p) {
            out.push(p);
        }
    }
    if out.len() > MAX_PROGRAMS {
        return Err(format!(
            "programs: {} installed programs listed, more than the {MAX_PROGRAMS} an inventory carries — none sent, so no application is taken as removed",
            out.len()
        ));
    }
    out.sort_by(|a, b| {
        a.name
            .to_lowercase()
            .cmp(&b.name.to_lowercase())
            .then_with(|| a.version.cmp(&b.version))
    });
    Ok(out)
}

/// Release types of entries that update another program rather than being one.
fn is_update(release_type: &str) -> bool {
    let t = release_type.trim().to_lowercase();
    ["update", "hotfix", "service pack"]
        .iter()
        .any(|u| t.contains(u))
}

/// `text` trimmed, control characters as spaces, at most `max` characters.
fn clean(text: &str, max: usize) -> String {
    let spaced: String = text
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect();
    spaced
        .trim()
        .chars()
        .take(max)
        .collect::<String>()
        .trim_end()
        .to_owned()
}

/// Whether `text` holds what could name a person: a path into a user's profile (per-user
/// installers sometimes put it in the name) or an email address.
fn names_a_person(text: &str) -> bool {
    let t = text.to_lowercase().replace('/', "\\");
    let profile = [
        "\\users\\",
        "\\documents and settings\\",
        "\\home\\",
        "%userprofile%",
        "appdata\\",
    ]
    .iter()
    .any(|p| t.contains(p));
    let email = t.split_whitespace().any(|w| {
        w.split_once('@')
            .is_some_and(|(user, domain)| !user.is_empty() && domain.contains('.'))
    });
    profile || email
}

/// The uninstall entries a programs file lists: one program a line, its name, then a tab and its
/// version (optional). Blank lines and lines starting with `#` are passed over. Refused, with the
/// file and line, when a line is not valid UTF-8 text.
pub fn read_file(path: &Path) -> Result<Vec<UninstallEntry>, String> {
    let bytes = std::fs::read(path)
        .map_err(|e| format!("programs: cannot read {}: {e}", path.display()))?;
    let text = String::from_utf8(bytes).map_err(|e| {
        let line = e.as_bytes()[..e.utf8_error().valid_up_to()]
            .iter()
            .filter(|&&b| b == b'\n')
            .count()
            + 1;
        format!(
            "programs: {}:{line}: not UTF-8 text — save the list as UTF-8",
            path.display()
        )
    })?;
    Ok(text
        .lines()
        .map(|l| l.strip_prefix('\u{feff}').unwrap_or(l))
        .filter(|l| !l.trim().is_empty() && !l.trim_start().starts_with('#'))
        .map(|l| {
            let (name, version) = l.split_once('\t').unwrap_or((l, ""));
            UninstallEntry {
                name: Some(name.to_owned()),
                version: Some(version.to_owned()),
                ..UninstallEntry::default()
            }
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(name: &str, version: &str) -> UninstallEntry {
        UninstallEntry {
            name: Some(name.into()),
            version: Some(version.into()),
            ..UninstallEntry::default()
        }
    }

    fn names(programs: &[Program]) -> Vec<(&str, &str)> {
        programs
            .iter()
            .map(|p| (p.name.as_str(), p.version.as_str()))
            .collect()
    }

    #[test]
    fn the_programs_apps_and_features_shows_are_kept_once_and_sorted() {
        let kept = keep(vec![
            entry("  SystmOne Client ", " 45.1.0 "),
            entry("EMIS Web Health Care System", "9.12.4"),
            // The same program in the 64- and 32-bit views.
            entry("EMIS Web Health Care System", "9.12.4"),
            // Two versions side by side are two programs.
            entry(
                "Microsoft Visual C++ 2015-2022 Redistributable (x64)",
                "14.40.33810",
            ),
            entry(
                "Microsoft Visual C++ 2015-2022 Redistributable (x64)",
                "14.38.33135",
            ),
            // A program that registers no version is still installed.
            UninstallEntry {
                name: Some("NHSmail Outlook add-in".into()),
                ..UninstallEntry::default()
            },
        ])
        .expect("kept");
        assert_eq!(
            names(&kept),
            vec![
                ("EMIS Web Health Care System", "9.12.4"),
                (
                    "Microsoft Visual C++ 2015-2022 Redistributable (x64)",
                    "14.38.33135"
                ),
                (
                    "Microsoft Visual C++ 2015-2022 Redistributable (x64)",
                    "14.40.33810"
                ),
                ("NHSmail Outlook add-in", ""),
                ("SystmOne Client", "45.1.0"),
            ]
        );
    }

    #[test]
    fn components_updates_and_nameless_entries_are_passed_over() {
        let kept = keep(vec![
            UninstallEntry {
                system_component: true,
                ..entry("Microsoft Edge WebView2 Runtime component", "131.0")
            },
            UninstallEntry {
                has_parent: true,
                ..entry("Update for Microsoft Office (KB5002623)", "")
            },
            UninstallEntry {
                release_type: Some("Security Update".into()),
                ..entry("Security Update for Windows", "1")
            },
            UninstallEntry {
                release_type: Some("Hotfix".into()),
                ..entry("Hotfix for .NET", "1")
            },
            UninstallEntry {
                name: None,
                version: Some("1.0".into()),
                ..UninstallEntry::default()
            },
            entry(" \t ", "1.0"),
            // A release type that is not an update is kept.
            UninstallEntry {
                release_type: Some("Application".into()),
                ..entry("SCR Viewer", "2.1")
            },
        ])
        .expect("kept");
        assert_eq!(names(&kept), vec![("SCR Viewer", "2.1")]);
    }

    #[test]
    fn nothing_that_names_a_person_is_sent() {
        let kept = keep(vec![
            entry(r"Zoom (C:\Users\jane.smith\AppData\Roaming\Zoom)", "6.2"),
            entry("Tool in /home/jsmith/bin", "1"),
            entry(r"Launcher %USERPROFILE%\tools", "1"),
            entry("Licensed to jane.smith@nhs.net", "1"),
            entry("Reporting tool", r"1.0 C:\Users\jane\x"),
            // An @ that is not an address is not a person.
            entry("Notes @ Work", "3.0"),
            entry("EMIS Web Health Care System", "9.12.4"),
        ])
        .expect("kept");
        assert_eq!(
            names(&kept),
            vec![
                ("EMIS Web Health Care System", "9.12.4"),
                ("Notes @ Work", "3.0"),
            ]
        );
    }

    #[test]
    fn long_texts_are_cut_and_control_characters_become_spaces() {
        let long = "N".repeat(MAX_NAME_CHARS + 50);
        let version = "9".repeat(MAX_VERSION_CHARS + 1);
        let kept = keep(vec![
            entry(&long, &version),
            entry("EMIS\u{0}Web\r\n", "9.12\t4"),
            // Cut inside multi-byte characters stays valid text.
            entry(&"é".repeat(MAX_NAME_CHARS + 1), "1"),
        ])
        .expect("kept");
        assert_eq!(kept[0].name, "EMIS Web");
        assert_eq!(kept[0].version, "9.12 4");
        assert_eq!(kept[1].name.chars().count(), MAX_NAME_CHARS);
        assert_eq!(kept[1].version.chars().count(), MAX_VERSION_CHARS);
        assert_eq!(kept[2].name.chars().count(), MAX_NAME_CHARS);
    }

    #[test]
    fn a_list_longer_than_an_inventory_carries_is_not_sent_in_part() {
        let at_most: Vec<UninstallEntry> = (0..MAX_PROGRAMS)
            .map(|n| entry(&format!("Program {n}"), "1"))
            .collect();
        assert_eq!(
            keep(at_most.clone()).expect("at the limit").len(),
            MAX_PROGRAMS
        );
        // Duplicates do not count towards the limit.
        let mut doubled = at_most.clone();
        doubled.extend(at_most.clone());
        assert_eq!(keep(doubled).expect("duplicates").len(), MAX_PROGRAMS);
        let mut over = at_most;
        over.push(entry("One more", "1"));
        let err = keep(over).unwrap_err();
        assert!(
            err.contains(&format!("{} installed programs", MAX_PROGRAMS + 1))
                && err.contains("none sent"),
            "{err}"
        );
    }

    #[test]
    fn a_programs_file_lists_a_name_and_a_version_a_line() {
        let dir = tempfile::tempdir().expect("tmp");
        let path = dir.path().join("programs.txt");
        std::fs::write(
            &path,
            "\u{feff}# exported list\r\nEMIS Web Health Care System\t9.12.4\r\n\r\nNHSmail Outlook add-in\r\n",
        )
        .expect("write");
        let kept = keep(read_file(&path).expect("read")).expect("kept");
        assert_eq!(
            names(&kept),
            vec![
                ("EMIS Web Health Care System", "9.12.4"),
                ("NHSmail Outlook add-in", ""),
            ]
        );
        std::fs::write(&path, b"EMIS Web\t9\nbad \xff name\t1\n").expect("write");
        let err = read_file(&path).unwrap_err();
        assert!(err.contains("programs.txt:2: not UTF-8"), "{err}");
        let missing = read_file(&dir.path().join("nope.txt")).unwrap_err();
        assert!(missing.contains("cannot read"), "{missing}");
    }
}
