//! The configuration reference (docs/operations/CONFIGURATION.md), written from
//! [`super::REFERENCE`] by `cardwatch config reference`. The tests below hold it to the parser:
//! serde names every field of every table's struct, so a key the parser accepts cannot be
//! missing from the reference, a row cannot name a key the parser refuses, and the file in
//! `docs/` cannot differ from what the command prints.

use serde::de::{self, Deserialize, Deserializer, Visitor};

use cardwatch_server::notify::jobs::Job;

/// How the field names of a table's struct are found.
pub(crate) type Fields = fn() -> &'static [&'static str];

/// One key of the configuration file.
pub(crate) struct Key {
    /// Its path: `notify.smtp_url`; a key of a `[[table]]` entry is `table[].key`.
    pub path: &'static str,
    /// The values it takes.
    pub kind: &'static str,
    /// Its default as TOML, or `none` when unset means "not used".
    pub default: fn() -> String,
    /// What it does.
    pub meaning: &'static str,
}

/// A row of the reference.
pub(crate) const fn key(
    path: &'static str,
    kind: &'static str,
    default: fn() -> String,
    meaning: &'static str,
) -> Key {
    Key {
        path,
        kind,
        default,
        meaning,
    }
}

/// The default of a key whose absence means "not used".
pub(crate) fn none() -> String {
    "none".to_owned()
}

/// A list of texts as TOML.
pub(crate) fn list(items: &[String]) -> String {
    let quoted: Vec<String> = items.iter().map(|s| format!("{s:?}")).collect();
    format!("[{}]", quoted.join(", "))
}

/// The field names serde reads for `T`: a deserializer that only listens to the struct's
/// description and stops there.
pub(crate) fn fields<T: for<'de> Deserialize<'de>>() -> &'static [&'static str] {
    struct Listen<'a>(&'a mut &'static [&'static str]);

    impl<'de> Deserializer<'de> for Listen<'_> {
        type Error = de::value::Error;

        fn deserialize_any<V: Visitor<'de>>(self, _: V) -> Result<V::Value, Self::Error> {
            Err(de::Error::custom("not a struct"))
        }

        fn deserialize_struct<V: Visitor<'de>>(
            self,
            _: &'static str,
            fields: &'static [&'static str],
            _: V,
        ) -> Result<V::Value, Self::Error> {
            *self.0 = fields;
            Err(de::Error::custom("listened"))
        }

        serde::forward_to_deserialize_any! {
            bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string bytes byte_buf
            option unit unit_struct newtype_struct seq tuple tuple_struct map enum identifier
            ignored_any
        }
    }

    let mut found: &'static [&'static str] = &[];
    let _ = T::deserialize(Listen(&mut found));
    found
}

/// A table's heading: `[notify]`, `[[planner.teams]]`, or the file's top level.
fn heading(table: &str) -> String {
    match table.strip_suffix("[]") {
        _ if table.is_empty() => "Top level".to_owned(),
        Some(array) => format!("`[[{array}]]` (one entry each)"),
        None => format!("`[{table}]`"),
    }
}

fn cell(text: &str) -> String {
    text.replace('|', "\\|")
}

/// The reference as Markdown: one table per configuration table, in the order the parser's
/// tables are listed, `[schedule]` last.
pub fn markdown() -> String {
    let mut out = String::from(
        "# Configuration reference\n\n\
         <!-- Written by `cardwatch config reference` from crates/cli/src/config.rs; do not edit \
         by hand: a test fails when this file and the code differ. -->\n\n\
         `cardwatch --config FILE` (or `CARDWATCH_CONFIG=FILE`) reads one TOML file when a command \
         starts. Every key may be left out. An unknown key, a value of the wrong type or one out of \
         range is refused with the file, the line and what to fix, and the command does not run. \
         `none` as a default means the setting is not used until it is set.\n",
    );
    for &(table, _) in super::TABLES {
        let rows: Vec<&Key> = super::REFERENCE
            .iter()
            .filter(|k| k.path.rsplit_once('.').map_or("", |(t, _)| t) == table)
            .collect();
        if rows.is_empty() {
            continue;
        }
        out.push_str(&format!(
            "\n## {}\n\n| key | type | default | meaning |\n|---|---|---|---|\n",
            heading(table)
        ));
        for k in rows {
            let name = k.path.rsplit_once('.').map_or(k.path, |(_, n)| n);
            out.push_str(&format!(
                "| `{name}` | {} | `{}` | {} |\n",
                cell(k.kind),
                cell(&(k.default)()),
                cell(k.meaning)
            ));
        }
    }
    out.push_str(
        "\n## `[schedule]`\n\nEach job of the scheduler, by name: when it runs, as six fields \
         (second minute hour day-of-month month day-of-week, UTC, `*/N` and ranges allowed), or \
         `\"off\"` to stop it.\n\n| key | type | default | meaning |\n|---|---|---|---|\n",
    );
    for job in Job::ALL {
        out.push_str(&format!(
            "| `{}` | schedule or `\"off\"` | `{:?}` | {} |\n",
            job.name(),
            job.default_schedule(),
            cell(job.about())
        ));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    const DOC: &str = "docs/operations/CONFIGURATION.md";

    /// Whether `path` is a table of the parser (or `[schedule]`, whose keys are the jobs).
    fn is_table(path: &str) -> bool {
        path == "schedule"
            || super::super::TABLES
                .iter()
                .any(|(t, _)| *t == path || t.strip_suffix("[]") == Some(path))
    }

    #[test]
    fn every_key_the_parser_reads_has_a_row_and_every_row_a_key() {
        let rows: Vec<&str> = super::super::REFERENCE.iter().map(|k| k.path).collect();
        let mut missing = Vec::new();
        let mut known = Vec::new();
        for &(table, fields) in super::super::TABLES {
            let names = fields();
            assert!(
                !names.is_empty(),
                "table {table:?}: serde described no fields — is its struct a struct?"
            );
            for name in names {
                let path = if table.is_empty() {
                    (*name).to_owned()
                } else {
                    format!("{table}.{name}")
                };
                if !is_table(&path) && !rows.contains(&path.as_str()) {
                    missing.push(path.clone());
                }
                known.push(path);
            }
        }
        assert!(
            missing.is_empty(),
            "configuration keys the parser reads but REFERENCE in crates/cli/src/config.rs does \
             not list: {missing:?} — add a row for each (a new table also needs a line in TABLES)"
        );
        let stray: Vec<&&str> = rows
            .iter()
            .filter(|r| !known.iter().any(|k| k == *r))
            .collect();
        assert!(
            stray.is_empty(),
            "rows of REFERENCE that name no key the parser reads: {stray:?} — fix or remove them"
        );
        let mut sorted = rows.clone();
        sorted.sort_unstable();
        sorted.dedup();
        assert_eq!(
            sorted.len(),
            rows.len(),
            "a key is listed twice in REFERENCE"
        );
    }

    #[test]
    fn every_default_in_the_reference_is_accepted_by_the_parser() {
        // Each plain table's keys at their documented defaults, written as a file and read by
        // `load`: a default the parser would refuse, or a key it does not know, fails here.
        let dir = tempfile::tempdir().unwrap();
        let mut text = String::new();
        let mut table = "";
        for k in super::super::REFERENCE {
            let (t, name) = k.path.rsplit_once('.').unwrap_or(("", k.path));
            let value = (k.default)();
            if t.ends_with("[]") || value == "none" {
                continue;
            }
            if t != table {
                text.push_str(&format!("[{t}]\n"));
                table = t;
                if t == "backup" {
                    // `keep` is refused without the folder it keeps copies in.
                    text.push_str(&format!("dir = {:?}\n", dir.path().display().to_string()));
                }
                if t == "oidc" {
                    // Single sign-on is refused without a provider and a client to be there.
                    text.push_str("issuer = \"https://id.example\"\nclient_id = \"c\"\nclient_secret = \"s\"\n");
                }
            }
            text.push_str(&format!("{name} = {value}\n"));
        }
        for job in Job::ALL {
            if table != "schedule" {
                text.push_str("[schedule]\n");
                table = "schedule";
            }
            text.push_str(&format!("{} = {:?}\n", job.name(), job.default_schedule()));
        }
        let file = dir.path().join("defaults.toml");
        std::fs::write(&file, &text).unwrap();
        let settings = super::super::load(Some(&file), None)
            .unwrap_or_else(|e| panic!("the documented defaults are refused: {e:#}\n{text}"));
        assert_eq!(
            settings.thresholds,
            cardwatch_core::health::Thresholds::default()
        );
        assert!(text.contains("soon_days = 30\n"), "{text}");
    }

    #[test]
    fn the_reference_in_docs_is_what_the_code_says() {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../..")
            .join(DOC);
        let written = std::fs::read_to_string(&path).unwrap_or_default();
        assert!(
            written == markdown(),
            "{DOC} differs from the configuration's code — write it again with\n  \
             cargo run -q -p cardwatch -- config reference > {DOC}"
        );
    }
}
