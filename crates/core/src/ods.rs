//! The organisation files NHS England publishes, read as they are: the ODS extracts
//! `epraccur.csv` (GP practices) and `ebranchs.csv` (branch surgeries) — 27 quoted fields, no
//! header, dates `YYYYMMDD` — and the ORD API's JSON record of one organisation. Each becomes
//! ordinary organisation and site rows, which the import then validates, writes and audits like
//! any file's. Pure: the store reads the bytes.

use crate::date::Date;
use crate::ids::OdsCode;
use crate::records::Kind;
use crate::vocab::OrgStatus;

/// Which extract a file is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Extract {
    /// `epraccur.csv`: GP practices (and other prescribing cost centres).
    Practices,
    /// `ebranchs.csv`: branch surgeries, each under its parent practice.
    Branches,
    /// The ORD API's JSON record of one organisation.
    Ord,
}

/// Fields on every line of an ODS extract.
pub const FIELDS: usize = 27;

/// Prescribing setting (column 26) of a GP practice; other settings (walk-in centres,
/// out-of-hours services, hospitals…) share the file but are not practices.
const GP_PRACTICE_SETTING: &str = "4";

/// The ORD role of a GP practice (a prescribing cost centre's non-primary role).
const ORD_GP_PRACTICE: &str = "RO76";
/// ORD primary roles of a sub-ICB location (formerly a CCG), and of an ICB (an STP code kept).
const ORD_SUB_ICB: &str = "RO98";
const ORD_ICB: [&str; 2] = ["RO261", "RO318"];

impl Extract {
    /// The extract a file's name says it is (`epraccur.csv`, `ebranchs-2026-12.csv`, any case,
    /// in any folder): only a name is not enough, see [`looks_like`].
    pub fn from_name(name: &str) -> Option<Extract> {
        let file = name.rsplit(['/', '\\']).next().unwrap_or(name);
        let file = file.to_ascii_lowercase();
        if !file.ends_with(".csv") {
            return None;
        }
        if file.starts_with("epraccur") {
            Some(Extract::Practices)
        } else if file.starts_with("ebranchs") {
            Some(Extract::Branches)
        } else {
            None
        }
    }

    /// How the extract is named in messages.
    pub const fn describe(self) -> &'static str {
        match self {
            Extract::Practices => "an ODS practices extract (epraccur)",
            Extract::Branches => "an ODS branch surgeries extract (ebranchs)",
            Extract::Ord => "an ORD API organisation record",
        }
    }

    /// The order in which the files of one kind are applied within an import: Cardwatch's own
    /// files first (0), then the published extracts over them, practices before the branches
    /// that name them as parents. The published names and statuses thus win for the fields an
    /// extract carries, and a record the operator's file describes in full (a site's core hours,
    /// an ICB's name) is not first made half-empty by the extract and then changed again.
    pub const fn rank(self) -> u8 {
        match self {
            Extract::Branches => 2,
            _ => 1,
        }
    }
}

/// Whether a file's first line has an extract's shape: 27 fields, the first an ODS code.
pub fn looks_like(first: &[&str]) -> bool {
    first.len() == FIELDS && OdsCode::parse(first[0]).is_ok()
}

/// One thing wrong with a line of an extract.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OdsError {
    /// The column, as `column 13 (status)`.
    pub column: String,
    /// The value as written.
    pub value: String,
    /// What is wrong — what to do.
    pub message: String,
}

/// An organisation as an extract line (or an ORD record) describes it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OdsOrganisation {
    /// Which file it came from.
    pub extract: Extract,
    /// ODS code.
    pub code: OdsCode,
    /// Name.
    pub name: String,
    /// The ICB (high-level health geography), when given.
    pub icb: Option<OdsCode>,
    /// The commissioner: a practice's sub-ICB location; a branch's parent practice.
    pub commissioner: Option<OdsCode>,
    /// Open, closed, dormant or proposed.
    pub status: OrgStatus,
    /// When it closed.
    pub closed_on: Option<Date>,
    /// A GP practice (prescribing setting 4); other settings are left out of the estate.
    pub gp_practice: bool,
}

/// A row for the import: fields in the kind's canonical column order, and the columns (bit per
/// column) whose values count only for a new record — the extract says nothing about them, so a
/// stored record keeps its own.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OdsRow {
    /// Organisations or sites.
    pub kind: Kind,
    /// The fields.
    pub fields: Vec<String>,
    /// Columns kept as stored.
    pub keep: u32,
}

/// Column names in messages, 1-based as NHS England documents them.
fn column(n: usize) -> String {
    let name = match n {
        1 => "organisation code",
        2 => "name",
        4 => "high-level health geography (ICB)",
        11 => "open date",
        12 => "close date",
        13 => "status",
        15 => "commissioner",
        26 => "prescribing setting",
        _ => "",
    };
    if name.is_empty() {
        format!("column {n}")
    } else {
        format!("column {n} ({name})")
    }
}

/// Parses one line of an extract. Every bad field is reported.
pub fn parse_line(extract: Extract, fields: &[&str]) -> Result<OdsOrganisation, Vec<OdsError>> {
    if fields.len() != FIELDS {
        return Err(vec![OdsError {
            column: "line".into(),
            value: String::new(),
            message: format!(
                "the line has {} fields; every line of {} has {FIELDS} — the file is damaged: \
                 download it again from NHS England's ODS pages",
                fields.len(),
                extract.describe()
            ),
        }]);
    }
    let mut errors = Vec::new();
    let fail = |errors: &mut Vec<OdsError>, n: usize, message: String| {
        errors.push(OdsError {
            column: column(n),
            value: fields[n - 1].to_owned(),
            message,
        });
    };
    const DAMAGED: &str = "the line is damaged: download the extract again";
    let f = |n: usize| fields[n - 1].trim();
    let code = OdsCode::parse(f(1))
        .map_err(|e| fail(&mut errors, 1, format!("{e} — {DAMAGED}")))
        .ok();
    let name = f(2).to_owned();
    if name.is_empty() {
        fail(&mut errors, 2, format!("the name is empty — {DAMAGED}"));
    }
    let code_at = |errors: &mut Vec<OdsError>, n: usize| -> Option<OdsCode> {
        if f(n).is_empty() {
            return None;
        }
        OdsCode::parse(f(n))
            .map_err(|e| fail(errors, n, format!("{e} — {DAMAGED}")))
            .ok()
    };
    let icb = code_at(&mut errors, 4);
    let commissioner = code_at(&mut errors, 15);
    let date_at = |errors: &mut Vec<OdsError>, n: usize| -> Option<Date> {
        if f(n).is_empty() {
            return None;
        }
        parse_yyyymmdd(f(n))
            .map_err(|e| fail(errors, n, format!("{e} — {DAMAGED}")))
            .ok()
    };
    // Checked for damage, though not kept.
    let _opened = date_at(&mut errors, 11);
    let closed_on = date_at(&mut errors, 12);
    let status = parse_status(f(13))
        .map_err(|e| fail(&mut errors, 13, e))
        .ok();
    let setting = f(26);
    if !setting.is_empty() && !setting.bytes().all(|b| b.is_ascii_digit()) {
        let message =
            format!("not a prescribing setting (a number: 4 is a GP practice) — {DAMAGED}");
        fail(&mut errors, 26, message);
    }
    if extract == Extract::Branches && commissioner.is_none() && errors.is_empty() {
        let message = format!("a branch surgery names its parent practice here — {DAMAGED}");
        fail(&mut errors, 15, message);
    }
    match (code, status) {
        (Some(code), Some(status)) if errors.is_empty() => Ok(OdsOrganisation {
            extract,
            code,
            name,
            icb,
            commissioner,
            status,
            closed_on,
            // An empty setting (branches may leave it so) is taken as a practice's.
            gp_practice: setting.is_empty() || setting == GP_PRACTICE_SETTING,
        }),
        _ => Err(errors),
    }
}

/// `YYYYMMDD`.
fn parse_yyyymmdd(s: &str) -> Result<Date, String> {
    let bad = || format!("{s:?} is not a date as YYYYMMDD");
    if s.len() != 8 || !s.bytes().all(|b| b.is_ascii_digit()) {
        return Err(bad());
    }
    let n = |r: std::ops::Range<usize>| s[r].parse::<u32>().map_err(|_| bad());
    Date::from_ymd(n(0..4)? as i32, n(4..6)?, n(6..8)?).map_err(|e| format!("{s:?}: {e}"))
}

/// A: active, C: closed, D: dormant, P: proposed — or the words, as newer files spell them.
fn parse_status(s: &str) -> Result<OrgStatus, String> {
    match s.to_ascii_uppercase().as_str() {
        "A" | "ACTIVE" => Ok(OrgStatus::Active),
        "C" | "CLOSED" | "INACTIVE" => Ok(OrgStatus::Closed),
        "D" | "DORMANT" => Ok(OrgStatus::Dormant),
        "P" | "PROPOSED" => Ok(OrgStatus::Proposed),
        _ => Err(format!(
            "{s:?} is not a status: A (active), C (closed), D (dormant) or P (proposed) — the \
             line is damaged: download the extract again"
        )),
    }
}

const NAME: u32 = 1 << 1;
const PARENT: u32 = 1 << 3;
const STATUS: u32 = 1 << 4;
const CLOSED_ON: u32 = 1 << 5;
const CORE_HOURS: u32 = 1 << 3;

fn opt(code: &Option<OdsCode>) -> String {
    code.as_ref().map(ToString::to_string).unwrap_or_default()
}

impl OdsOrganisation {
    /// The organisation rows: for a practice, its ICB and sub-ICB location (named by code
    /// until a file names them, and then kept as named), then the practice under its ICB; for a
    /// branch surgery, the branch under its parent practice.
    pub fn organisations(&self) -> Vec<OdsRow> {
        let org = |fields: [String; 6], keep: u32| OdsRow {
            kind: Kind::Organisations,
            fields: fields.into(),
            keep,
        };
        let own = [
            self.code.to_string(),
            self.name.clone(),
            String::new(),
            String::new(),
            self.status.as_str().to_owned(),
            self.closed_on.map(|d| d.to_string()).unwrap_or_default(),
        ];
        match self.extract {
            Extract::Branches => {
                let mut f = own;
                f[2] = "branch".into();
                f[3] = opt(&self.commissioner);
                vec![org(f, 0)]
            }
            Extract::Practices | Extract::Ord => {
                let mut rows = Vec::new();
                // Neither file gives the ICB's or sub-ICB location's own name, status or parent:
                // a new one is named by its code, a known one keeps what the store says.
                if let Some(icb) = &self.icb {
                    let f = [
                        icb.to_string(),
                        format!("ICB {icb}"),
                        "icb".into(),
                        String::new(),
                        String::new(),
                        String::new(),
                    ];
                    rows.push(org(f, NAME | PARENT | STATUS | CLOSED_ON));
                }
                if let Some(sub) = &self.commissioner {
                    let f = [
                        sub.to_string(),
                        format!("Sub-ICB location {sub}"),
                        "sub_icb".into(),
                        opt(&self.icb),
                        String::new(),
                        String::new(),
                    ];
                    let keep =
                        NAME | STATUS | CLOSED_ON | if self.icb.is_none() { PARENT } else { 0 };
                    rows.push(org(f, keep));
                }
                let mut f = own;
                f[2] = "gp_practice".into();
                f[3] = opt(&self.icb);
                // Without an ICB the record says nothing about the practice's parent.
                rows.push(org(f, if self.icb.is_none() { PARENT } else { 0 }));
                rows
            }
        }
    }

    /// The site: a practice's main surgery (its own code), or a branch surgery as a site of its
    /// parent practice. Core hours are not in the files: a known site keeps its own.
    pub fn site(&self) -> OdsRow {
        let organisation = match self.extract {
            Extract::Branches => opt(&self.commissioner),
            _ => self.code.to_string(),
        };
        OdsRow {
            kind: Kind::Sites,
            fields: vec![
                self.code.to_string(),
                organisation,
                self.name.clone(),
                String::new(),
            ],
            keep: CORE_HOURS,
        }
    }
}

/// Reads the ORD API's record of one organisation (`{"Organisation": {…}}`), which must be a
/// GP practice (role RO76).
pub fn parse_ord(doc: &serde_json::Value) -> Result<OdsOrganisation, String> {
    let org = doc
        .get("Organisation")
        .ok_or("not an ORD record: no \"Organisation\" — save the API's answer for one organisation (…/ORD/2-0-0/organisations/CODE)")?;
    fn text(v: Option<&serde_json::Value>) -> Option<&str> {
        v.and_then(|v| v.as_str()).map(str::trim)
    }
    let code = text(org.pointer("/OrgId/extension"))
        .ok_or("OrgId.extension (the ODS code) is missing — save the whole record the API gives")?;
    let code = OdsCode::parse(code).map_err(|e| format!("OrgId.extension: {e}"))?;
    let name = text(org.get("Name"))
        .filter(|n| !n.is_empty())
        .ok_or("Name is missing — save the whole record the API gives")?
        .to_owned();
    let status = match text(org.get("Status")).unwrap_or("") {
        s if s.eq_ignore_ascii_case("active") => OrgStatus::Active,
        s if s.eq_ignore_ascii_case("inactive") => OrgStatus::Closed,
        s => return Err(format!("Status {s:?} is neither Active nor Inactive")),
    };
    let list = |v: Option<&serde_json::Value>| -> Vec<serde_json::Value> {
        match v {
            Some(serde_json::Value::Array(a)) => a.clone(),
            Some(one @ serde_json::Value::Object(_)) => vec![one.clone()],
            _ => Vec::new(),
        }
    };
    let roles = list(org.pointer("/Roles/Role"));
    let role_ids: Vec<&str> = roles
        .iter()
        .filter_map(|r| r.get("id").and_then(|v| v.as_str()))
        .collect();
    if !role_ids.contains(&ORD_GP_PRACTICE) {
        return Err(format!(
            "{code} is not a GP practice: its roles are {} (a GP practice has {ORD_GP_PRACTICE}) \
             — Cardwatch takes the ORD records of GP practices",
            if role_ids.is_empty() {
                "none".to_owned()
            } else {
                role_ids.join(", ")
            }
        ));
    }
    // The day it stopped operating, when it has.
    let closed_on = list(org.get("Date"))
        .iter()
        .find(|d| d.get("Type").and_then(|t| t.as_str()) == Some("Operational"))
        .and_then(|d| d.get("End").and_then(|e| e.as_str()).map(str::to_owned))
        .map(|end| Date::parse(&end).map_err(|e| format!("Date.End {end:?}: {e}")))
        .transpose()?;
    let mut icb = None;
    let mut commissioner = None;
    for rel in list(org.pointer("/Rels/Rel")) {
        if rel.get("Status").and_then(|s| s.as_str()) == Some("Inactive") {
            continue;
        }
        let target = text(rel.pointer("/Target/OrgId/extension"));
        let role = text(rel.pointer("/Target/PrimaryRoleId/id")).unwrap_or("");
        let Some(target) = target else { continue };
        let target =
            OdsCode::parse(target).map_err(|e| format!("Rels.Rel Target.OrgId.extension: {e}"))?;
        if role == ORD_SUB_ICB && rel.get("id").and_then(|i| i.as_str()) == Some("RE4") {
            commissioner = Some(target);
        } else if ORD_ICB.contains(&role) {
            icb = Some(target);
        }
    }
    Ok(OdsOrganisation {
        extract: Extract::Ord,
        code,
        name,
        icb,
        commissioner,
        status,
        closed_on,
        gp_practice: true,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn line(code: &str, status: &str, close: &str, setting: &str) -> Vec<String> {
        let mut f = vec![String::new(); FIELDS];
        f[0] = code.into();
        f[1] = "THE SURGERY".into();
        f[2] = "Y56".into();
        f[3] = "QE1".into();
        f[9] = "LS1 1AA".into();
        f[10] = "19740401".into();
        f[11] = close.into();
        f[12] = status.into();
        f[13] = "B".into();
        f[14] = "15N".into();
        f[25] = setting.into();
        f
    }

    fn parse(extract: Extract, f: &[String]) -> Result<OdsOrganisation, Vec<OdsError>> {
        let fields: Vec<&str> = f.iter().map(String::as_str).collect();
        parse_line(extract, &fields)
    }

    #[test]
    fn files_are_known_by_name() {
        assert_eq!(
            Extract::from_name("data/EPRACCUR.CSV"),
            Some(Extract::Practices)
        );
        assert_eq!(
            Extract::from_name("ebranchs-2026.csv"),
            Some(Extract::Branches)
        );
        assert_eq!(Extract::from_name("epraccur.zip"), None);
        assert_eq!(Extract::from_name("organisations.csv"), None);
        let f = line("A81001", "A", "", "4");
        let fields: Vec<&str> = f.iter().map(String::as_str).collect();
        assert!(looks_like(&fields));
        assert!(!looks_like(&fields[..26]));
        assert!(!looks_like(&["ods_code"; FIELDS]));
    }

    #[test]
    fn a_practice_becomes_its_icb_sub_icb_practice_and_site() {
        let p = parse(Extract::Practices, &line("a81001", "A", "", "4")).unwrap();
        assert!(p.gp_practice);
        let rows = p.organisations();
        let codes: Vec<(&str, &str, &str)> = rows
            .iter()
            .map(|r| (&*r.fields[0], &*r.fields[2], &*r.fields[3]))
            .collect();
        assert_eq!(
            codes,
            [
                ("QE1", "icb", ""),
                ("15N", "sub_icb", "QE1"),
                ("A81001", "gp_practice", "QE1")
            ]
        );
        assert_eq!(rows[0].keep, NAME | PARENT | STATUS | CLOSED_ON);
        assert_eq!(rows[2].keep, 0);
        assert_eq!(p.site().fields, ["A81001", "A81001", "THE SURGERY", ""]);
    }

    #[test]
    fn closed_and_spelled_out_statuses() {
        let p = parse(
            Extract::Practices,
            &line("A81002", "CLOSED", "20250331", "4"),
        )
        .unwrap();
        assert_eq!(p.status, OrgStatus::Closed);
        assert_eq!(p.closed_on, Some(Date::from_ymd(2025, 3, 31).unwrap()));
        assert_eq!(p.organisations()[2].fields[4..], ["closed", "2025-03-31"]);
        let d = parse(Extract::Practices, &line("A81003", "d", "", "4")).unwrap();
        assert_eq!(d.status, OrgStatus::Dormant);
    }

    #[test]
    fn other_settings_are_not_practices() {
        let p = parse(Extract::Practices, &line("Y00001", "A", "", "1")).unwrap();
        assert!(!p.gp_practice);
        let p = parse(Extract::Practices, &line("Y00002", "A", "", "4")).unwrap();
        assert!(p.gp_practice, "the near miss");
    }

    #[test]
    fn a_branch_is_a_site_of_its_parent_practice() {
        let mut f = line("A81001001", "A", "", "");
        f[14] = "A81001".into();
        let b = parse(Extract::Branches, &f).unwrap();
        let rows = b.organisations();
        assert_eq!(rows.len(), 1);
        assert_eq!(
            rows[0].fields[..4],
            ["A81001001", "THE SURGERY", "branch", "A81001"]
        );
        assert_eq!(b.site().fields[..2], ["A81001001", "A81001"]);
        f[14] = String::new();
        let e = parse(Extract::Branches, &f).unwrap_err();
        assert_eq!(e[0].column, "column 15 (commissioner)");
    }

    #[test]
    fn a_damaged_line_names_every_bad_field() {
        let e = parse(Extract::Practices, &line("A81001", "X", "2025033", "four")).unwrap_err();
        let cols: Vec<&str> = e.iter().map(|e| e.column.as_str()).collect();
        assert_eq!(
            cols,
            [
                "column 12 (close date)",
                "column 13 (status)",
                "column 26 (prescribing setting)"
            ]
        );
        assert!(
            e[1].message.contains("A (active), C (closed)"),
            "{}",
            e[1].message
        );
        let short = line("A81001", "A", "", "4");
        let e = parse(Extract::Practices, &short[..20]).unwrap_err();
        assert!(e[0].message.contains("has 20 fields"), "{}", e[0].message);
        let e = parse(Extract::Practices, &line("A81001", "A", "20250230", "4")).unwrap_err();
        assert_eq!(e[0].column, "column 12 (close date)");
    }

    #[test]
    fn an_ord_record_of_a_practice() {
        let doc: serde_json::Value = serde_json::from_str(
            r#"{"Organisation": {
                "Name": "THE DENSHAM SURGERY", "Status": "Inactive",
                "Date": [{"Type": "Legal", "Start": "1974-04-01"},
                         {"Type": "Operational", "Start": "1974-04-01", "End": "2025-03-31"}],
                "OrgId": {"root": "2.16.840.1.113883.2.1.3.2.4.18.48", "assigningAuthorityName": "HSCIC", "extension": "A81001"},
                "Roles": {"Role": [{"id": "RO177", "primaryRole": true, "Status": "Active"},
                                   {"id": "RO76", "Status": "Active"}]},
                "Rels": {"Rel": [
                    {"id": "RE4", "Status": "Active", "Target": {"OrgId": {"extension": "16C"}, "PrimaryRoleId": {"id": "RO98"}}},
                    {"id": "RE4", "Status": "Inactive", "Target": {"OrgId": {"extension": "00K"}, "PrimaryRoleId": {"id": "RO98"}}}
                ]}}}"#,
        )
        .unwrap();
        let p = parse_ord(&doc).unwrap();
        assert_eq!(p.code.to_string(), "A81001");
        assert_eq!(
            (p.status, p.closed_on),
            (
                OrgStatus::Closed,
                Some(Date::from_ymd(2025, 3, 31).unwrap())
            )
        );
        assert_eq!(
            p.commissioner.as_ref().map(ToString::to_string).as_deref(),
            Some("16C")
        );
        // No ICB in the record: the practice's parent stays as stored.
        let rows = p.organisations();
        assert_eq!(rows.last().unwrap().keep, PARENT);
        let mut other = doc.clone();
        other["Organisation"]["Roles"]["Role"] = serde_json::json!([{"id": "RO197"}]);
        let e = parse_ord(&other).unwrap_err();
        assert!(e.contains("not a GP practice: its roles are RO197"), "{e}");
    }
}
