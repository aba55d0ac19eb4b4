//! Every parser of outside input in the core, fed arbitrary text and bytes and near-valid input
//! (a valid line, file or record with one field replaced, cut, padded, given a byte order mark,
//! a carriage return, an unbalanced quote, a huge number or a damaged byte): none panics, a
//! refusal says where (line and column, the column's name, the block or the field's path), and
//! what is taken reads back as itself.
//!
//! Case counts are set per test so the whole file runs in a few seconds in a debug build.

use cardwatch_core::catalogue::Catalogue;
use cardwatch_core::cim::{CimMapping, MappingError};
use cardwatch_core::date::{Date, Timestamp};
use cardwatch_core::demo::{generate, DemoConfig};
use cardwatch_core::ods::{parse_line, parse_ord, Extract};
use cardwatch_core::records::{Kind, Record, Value};
use cardwatch_core::triage::KnowledgeBase;
use cardwatch_core::x509::parse_file;
use proptest::prelude::*;
use proptest::test_runner::Config;

/// One way a field goes wrong on its way from the source to Cardwatch.
#[derive(Clone, Debug)]
enum Mutation {
    /// Replaced by anything at all.
    Any(String),
    /// Cut after this many characters.
    Cut(usize),
    /// One bit of one byte flipped, read back as UTF-8 would be (damaged bytes replaced).
    Flip(usize, u8),
    /// A byte order mark before it.
    Bom,
    /// A carriage return after it (a CRLF file split on LF).
    Cr,
    /// A quote left open.
    Quote,
    /// A number too big for any integer.
    Huge,
    /// Spaces around it.
    Padded,
    /// Emptied.
    Empty,
    /// Far longer than any real value.
    Long,
}

fn mutation() -> impl Strategy<Value = Mutation> {
    prop_oneof![
        3 => any::<String>().prop_map(Mutation::Any),
        1 => (0usize..40).prop_map(Mutation::Cut),
        2 => (any::<usize>(), 0u8..8).prop_map(|(i, b)| Mutation::Flip(i, b)),
        1 => Just(Mutation::Bom),
        1 => Just(Mutation::Cr),
        1 => Just(Mutation::Quote),
        1 => Just(Mutation::Huge),
        1 => Just(Mutation::Padded),
        1 => Just(Mutation::Empty),
        1 => Just(Mutation::Long),
    ]
}

fn apply(m: &Mutation, field: &str) -> String {
    match m {
        Mutation::Any(s) => s.clone(),
        Mutation::Cut(n) => field.chars().take(*n).collect(),
        Mutation::Flip(i, bit) => {
            let mut b = field.as_bytes().to_vec();
            if b.is_empty() {
                b.push(0);
            }
            let at = i % b.len();
            b[at] ^= 1 << bit;
            String::from_utf8_lossy(&b).into_owned()
        }
        Mutation::Bom => format!("\u{feff}{field}"),
        Mutation::Cr => format!("{field}\r"),
        Mutation::Quote => format!("\"{field}"),
        Mutation::Huge => "99999999999999999999999999999999999999".to_owned(),
        Mutation::Padded => format!("  {field}\t"),
        Mutation::Empty => String::new(),
        Mutation::Long => field.repeat(300 / field.len().max(1) + 1),
    }
}

/// Applies a mutation to the character at an offset of a whole text (for the TOML files): the
/// text is cut there, or the mutated piece put in place of the line's remainder.
fn mutate_text(text: &str, at: usize, m: &Mutation) -> String {
    let mut cut = at % (text.len() + 1);
    while !text.is_char_boundary(cut) {
        cut -= 1;
    }
    let (head, tail) = text.split_at(cut);
    let (line, rest) = tail.split_once('\n').unwrap_or((tail, ""));
    match m {
        Mutation::Cut(_) => head.to_owned(),
        _ => format!("{head}{}\n{rest}", apply(m, line)),
    }
}

/// A place in a text as an error gives it: the line must be one of the text's (or just after
/// its end), the column one of that line's characters (or just after).
fn place_is_in(text: &str, line: usize, column: usize) -> Result<(), TestCaseError> {
    let lines: Vec<&str> = text.split('\n').collect();
    prop_assert!(
        line >= 1 && line <= lines.len(),
        "line {line} of {}",
        lines.len()
    );
    let width = lines[line - 1].chars().count();
    prop_assert!(
        column >= 1 && column <= width + 1,
        "column {column} of line {line} ({width} characters)"
    );
    Ok(())
}

fn config(cases: u32) -> Config {
    Config {
        cases,
        // A failure is shrunk enough to read, not for minutes.
        max_shrink_iters: 200,
        ..Config::default()
    }
}

/// One record of each kind from a small demo estate, as the CSV fields a file would hold.
fn samples() -> Vec<(Kind, Vec<String>)> {
    let mut out: Vec<(Kind, Vec<String>)> = Vec::new();
    let cfg = DemoConfig {
        practices: 1,
        holders: None,
        seed: 7,
        today: Date::from_ymd(2026, 11, 22).expect("a date"),
    };
    generate(&cfg, |r| {
        if !out.iter().any(|(k, _)| *k == r.kind()) {
            out.push((r.kind(), r.values().iter().map(Value::to_csv).collect()));
        }
    });
    // The demo estate has no integrations: one of each as conformance.rs imports them.
    let row = |k: Kind, text: &str| (k, text.split(',').map(str::to_owned).collect());
    out.push(row(
        Kind::Integrations,
        "ht1-a81001,Healthtech-1 Digital Assistant,A81001,emis,R8008,,01234,01243,,",
    ));
    out.push(row(
        Kind::IntegrationCards,
        "ht1-a81001,CS000001,a81001.assist1",
    ));
    out.sort_by_key(|(k, _)| *k);
    out
}

fn fields_of(v: &[String]) -> Vec<&str> {
    v.iter().map(String::as_str).collect()
}

/// A row of a kind taken or refused: taken, it reads back as itself from its own CSV; refused,
/// each problem names one of the kind's columns and the value as it was written there.
fn row_taken_or_named(kind: Kind, fields: &[String]) -> Result<(), TestCaseError> {
    match Record::parse(kind, &fields_of(fields)) {
        Ok(rec) => {
            let again: Vec<String> = rec.values().iter().map(Value::to_csv).collect();
            prop_assert_eq!(
                Record::parse(kind, &fields_of(&again)),
                Ok(rec),
                "{} row read back differently",
                kind
            );
        }
        Err(errors) => {
            prop_assert!(!errors.is_empty());
            for e in errors {
                let i = kind.columns().iter().position(|c| c.name == e.column);
                prop_assert!(i.is_some(), "{kind}: no column {:?}", e.column);
                prop_assert_eq!(&e.value, &fields[i.unwrap_or(0)]);
                prop_assert!(e.message.len() > 10, "{kind}.{}: {:?}", e.column, e.message);
            }
        }
    }
    Ok(())
}

#[test]
fn every_demo_record_reads_back_as_itself() {
    let samples = samples();
    let kinds: Vec<Kind> = samples.iter().map(|(k, _)| *k).collect();
    assert_eq!(kinds, Kind::ALL, "a sample of every kind");
    for (kind, fields) in &samples {
        let rec = Record::parse(*kind, &fields_of(fields)).expect("a valid sample");
        let again: Vec<String> = rec.values().iter().map(Value::to_csv).collect();
        assert_eq!(&again, fields, "{kind}");
    }
}

proptest! {
    #![proptest_config(config(1000))]

    /// records.rs: a valid row of any kind with one field damaged.
    #[test]
    fn a_row_with_one_field_damaged_is_taken_whole_or_refused_by_column(
        which in 0usize..Kind::ALL.len(),
        column in any::<prop::sample::Index>(),
        m in mutation(),
    ) {
        let samples = samples();
        let (kind, mut fields) = samples[which].clone();
        let c = column.index(fields.len());
        fields[c] = apply(&m, &fields[c]);
        row_taken_or_named(kind, &fields)?;
    }
}

proptest! {
    #![proptest_config(config(300))]

    /// records.rs: rows of nothing but arbitrary text.
    #[test]
    fn a_row_of_arbitrary_text_is_refused_by_column(
        which in 0usize..Kind::ALL.len(),
        texts in prop::collection::vec(any::<String>(), 20),
    ) {
        let kind = Kind::ALL[which];
        let fields: Vec<String> = texts.into_iter().take(kind.columns().len()).collect();
        row_taken_or_named(kind, &fields)?;
    }

    /// records.rs: any header is a kind's or none, without a panic.
    #[test]
    fn any_header_is_some_kind_or_none(header in prop::collection::vec(any::<String>(), 0..12)) {
        let _ = Kind::from_header(&header);
    }
}

proptest! {
    #![proptest_config(config(1000))]

    /// date.rs: any text is a date or refused; a date reads back as itself.
    #[test]
    fn any_text_is_a_date_that_reads_back_or_refused(s in any::<String>(), near in "[0-9/ :T\\-Z.+]{0,24}") {
        for s in [s, near] {
            if let Ok(d) = Date::parse(&s) {
                prop_assert_eq!(Date::parse(&d.to_string()), Ok(d));
            }
            if let Ok(t) = Timestamp::parse(&s) {
                prop_assert_eq!(Timestamp::parse(&t.to_string()), Ok(t));
            }
        }
    }
}

/// A valid practice line of NHS England's epraccur extract (27 fields).
fn practice_line() -> Vec<String> {
    let mut f = vec![String::new(); 27];
    for (i, v) in [
        (0, "A81001"),
        (1, "THE DENSHAM SURGERY"),
        (2, "Y56"),
        (3, "QE1"),
        (4, "THE HEALTH CENTRE"),
        (9, "TS18 1HU"),
        (10, "19740401"),
        (12, "A"),
        (13, "B"),
        (14, "16C"),
        (25, "4"),
    ] {
        f[i] = v.to_owned();
    }
    f
}

/// An ODS line's refusal names the line or one of the extract's 27 columns, with the value as
/// written.
fn ods_refusal_named(
    fields: &[String],
    errors: &[cardwatch_core::ods::OdsError],
) -> Result<(), TestCaseError> {
    prop_assert!(!errors.is_empty());
    for e in errors {
        if e.column == "line" {
            prop_assert!(e.message.contains("fields"), "{}", e.message);
            continue;
        }
        let n: Option<usize> = e
            .column
            .strip_prefix("column ")
            .and_then(|r| r.split(' ').next())
            .and_then(|n| n.parse().ok());
        prop_assert!(matches!(n, Some(1..=27)), "column {:?}", e.column);
        prop_assert_eq!(&e.value, &fields[n.unwrap_or(1) - 1]);
        prop_assert!(!e.message.is_empty());
    }
    Ok(())
}

proptest! {
    #![proptest_config(config(1000))]

    /// ods.rs: a practice or branch line with one field damaged, or fields dropped or added.
    #[test]
    fn an_extract_line_with_a_field_damaged_is_taken_or_refused_by_column(
        branch in any::<bool>(),
        column in 0usize..27,
        m in mutation(),
        resize in prop_oneof![4 => Just(27usize), 1 => 0usize..40],
    ) {
        let mut fields = practice_line();
        let extract = if branch {
            fields[0] = "A81001001".into();
            fields[14] = "A81001".into();
            Extract::Branches
        } else {
            Extract::Practices
        };
        fields[column] = apply(&m, &fields[column]);
        fields.resize(resize, String::new());
        match parse_line(extract, &fields_of(&fields)) {
            Ok(org) => {
                // What is taken is what the line says: its code, as NHS England writes codes.
                prop_assert_eq!(org.code.to_string(), fields[0].trim().to_ascii_uppercase());
                let _ = org.organisations();
                let _ = org.site();
            }
            Err(errors) => ods_refusal_named(&fields, &errors)?,
        }
    }
}

const ORD: &str = r#"{"Organisation": {
    "Name": "THE DENSHAM SURGERY", "Status": "Active",
    "Date": [{"Type": "Legal", "Start": "1974-04-01"},
             {"Type": "Operational", "Start": "1974-04-01", "End": "2025-03-31"}],
    "OrgId": {"root": "2.16.840.1.113883.2.1.3.2.4.18.48", "extension": "A81001"},
    "Roles": {"Role": [{"id": "RO177", "primaryRole": true}, {"id": "RO76"}]},
    "Rels": {"Rel": [
        {"id": "RE4", "Status": "Active", "Target": {"OrgId": {"extension": "16C"}, "PrimaryRoleId": {"id": "RO98"}}},
        {"id": "RE5", "Status": "Active", "Target": {"OrgId": {"extension": "QE1"}, "PrimaryRoleId": {"id": "RO261"}}}
    ]}}}"#;

/// The paths of the ORD record's values, for replacing one.
const ORD_PATHS: [&str; 12] = [
    "/Organisation",
    "/Organisation/Name",
    "/Organisation/Status",
    "/Organisation/Date",
    "/Organisation/Date/1/End",
    "/Organisation/OrgId",
    "/Organisation/OrgId/extension",
    "/Organisation/Roles/Role",
    "/Organisation/Roles/Role/1/id",
    "/Organisation/Rels/Rel",
    "/Organisation/Rels/Rel/0/Target/OrgId/extension",
    "/Organisation/Rels/Rel/1/Target/PrimaryRoleId",
];

fn json_value() -> impl Strategy<Value = serde_json::Value> {
    use serde_json::Value as J;
    let leaf = prop_oneof![
        Just(J::Null),
        any::<bool>().prop_map(J::Bool),
        any::<i64>().prop_map(J::from),
        any::<f64>().prop_map(J::from),
        any::<String>().prop_map(J::String),
        "[A-Z][0-9A-Z]{2,8}".prop_map(J::String),
    ];
    leaf.prop_recursive(4, 32, 6, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..6).prop_map(J::Array),
            prop::collection::btree_map("[A-Za-z]{1,12}", inner, 0..6)
                .prop_map(|m| J::Object(m.into_iter().collect())),
        ]
    })
}

proptest! {
    #![proptest_config(config(600))]

    /// ods.rs: an ORD API record with one value replaced by any JSON, or removed.
    #[test]
    fn an_ord_record_with_a_value_replaced_is_taken_or_refused_by_field(
        path in 0usize..ORD_PATHS.len(),
        replacement in prop::option::of(json_value()),
    ) {
        let mut doc: serde_json::Value = serde_json::from_str(ORD).expect("the sample");
        let path = ORD_PATHS[path];
        match replacement {
            Some(v) => {
                if let Some(slot) = doc.pointer_mut(path) {
                    *slot = v;
                }
            }
            None => {
                let (parent, key) = path.rsplit_once('/').expect("a path");
                match doc.pointer_mut(parent) {
                    Some(serde_json::Value::Object(m)) => {
                        m.remove(key);
                    }
                    Some(serde_json::Value::Array(a)) => {
                        let i: usize = key.parse().expect("an index");
                        if i < a.len() {
                            a.remove(i);
                        }
                    }
                    _ => {}
                }
            }
        }
        match parse_ord(&doc) {
            Ok(org) => prop_assert!(!org.name.is_empty()),
            Err(e) => {
                let named = ["Organisation", "OrgId.extension", "Name", "Status", "Date.End", "Rels.Rel", "roles"];
                prop_assert!(named.iter().any(|n| e.contains(n)), "{e}");
            }
        }
    }

    /// ods.rs: any JSON document at all.
    #[test]
    fn any_json_is_an_ord_record_or_refused_by_field(doc in json_value()) {
        if let Err(e) = parse_ord(&doc) {
            prop_assert!(!e.is_empty());
        }
    }
}

/// A TOML file's refusal: its own file's name and a place inside the text.
fn toml_refusal(file: &str, text: &str, e: &MappingError) -> Result<(), TestCaseError> {
    prop_assert_eq!(&e.file, file);
    prop_assert!(!e.message.is_empty());
    place_is_in(text, e.line, e.column)
}

proptest! {
    #![proptest_config(config(400))]

    /// cim.rs: the shipped mapping with one line damaged, or cut short, laid over the shipped one.
    #[test]
    fn a_damaged_cim_mapping_is_taken_or_refused_at_its_line(at in any::<usize>(), m in mutation()) {
        let text = mutate_text(cardwatch_core::cim::SHIPPED, at, &m);
        if let Err(e) = CimMapping::shipped().with_file("mine.toml", &text) {
            toml_refusal("mine.toml", &text, &e)?;
        }
    }

    /// cim.rs: a mapping file of arbitrary text.
    #[test]
    fn any_text_is_a_cim_mapping_or_refused_at_its_line(text in any::<String>()) {
        if let Err(e) = CimMapping::shipped().with_file("mine.toml", &text) {
            toml_refusal("mine.toml", &text, &e)?;
        }
    }

    /// cim.rs: a Care Identity Management export's header with one header damaged, and a row of
    /// arbitrary fields read through whatever report it is taken for.
    #[test]
    fn a_cim_header_is_recognised_or_not_and_any_row_reads(
        which in 0usize..3,
        column in any::<prop::sample::Index>(),
        m in mutation(),
        row in prop::collection::vec(any::<String>(), 0..12),
    ) {
        let headers = [
            "UUID,Forename,Surname,Email address,Organisation code,User status,Workgroups",
            "Smartcard serial number,UUID,Status,Date of issue,Date of expiry,Type,Organisation",
            "UUID,Name,Organisation code,Position name,Role code,Activities,Start date,End date",
        ];
        let mut header: Vec<String> = headers[which].split(',').map(str::to_owned).collect();
        let c = column.index(header.len());
        header[c] = apply(&m, &header[c]);
        let mapping = CimMapping::shipped();
        match mapping.recognise(&header, None) {
            Ok(Some(matched)) => {
                let out = matched.row(&fields_of(&row));
                prop_assert_eq!(out.len(), matched.kind.columns().len());
                let _ = matched.missing(mapping);
            }
            Ok(None) => {}
            Err(e) => prop_assert!(!e.is_empty()),
        }
    }
}

proptest! {
    #![proptest_config(config(300))]

    /// catalogue.rs: the shipped catalogue with one line damaged or cut, as an operator's file.
    #[test]
    fn a_damaged_catalogue_is_taken_or_refused_at_its_line(at in any::<usize>(), m in mutation()) {
        let text = mutate_text(cardwatch_core::catalogue::SHIPPED, at, &m);
        match Catalogue::shipped().with_file("mine.toml", &text) {
            Ok(_) => {}
            Err(e) => {
                prop_assert_eq!(&e.file, "mine.toml");
                prop_assert!(!e.message.is_empty());
                place_is_in(&text, e.line, e.column)?;
            }
        }
    }

    /// catalogue.rs: a catalogue file of arbitrary text.
    #[test]
    fn any_text_is_a_catalogue_or_refused_at_its_line(text in any::<String>()) {
        if let Err(e) = Catalogue::parse("mine.toml", &text) {
            prop_assert_eq!(&e.file, "mine.toml");
            place_is_in(&text, e.line, e.column)?;
        }
    }
}

proptest! {
    #![proptest_config(config(100))]

    /// triage/kb: one of the knowledge base's files with one line damaged or cut, loaded with the
    /// rest.
    #[test]
    fn a_damaged_knowledge_base_file_is_taken_or_refused_at_its_line(
        file in any::<prop::sample::Index>(),
        at in any::<usize>(),
        m in mutation(),
    ) {
        let shipped = cardwatch_core::triage::SHIPPED;
        let f = file.index(shipped.len());
        let text = mutate_text(shipped[f].1, at, &m);
        let mut files: Vec<(&str, &str)> = shipped.to_vec();
        files[f].1 = &text;
        if let Err(e) = KnowledgeBase::load(&files) {
            let in_file = files.iter().find(|(name, _)| *name == e.file);
            prop_assert!(in_file.is_some(), "no file {:?}", e.file);
            prop_assert!(!e.message.is_empty());
            place_is_in(in_file.map_or("", |f| f.1), e.line, e.column)?;
        }
    }
}

/// A self-signed test certificate (`openssl req -x509 -newkey ec`), made for these tests.
const CERT: &str = "-----BEGIN CERTIFICATE-----
MIIBpjCCAUygAwIBAgIUdBJRI7nuQ2QG3cGl/SeUadkicGUwCgYIKoZIzj0EAwIw
IjEgMB4GA1UEAwwXQ2FyZHdhdGNoIHByb3BlcnR5IHRlc3QwHhcNMjYxMjA2MTIx
ODE5WhcNMzYxMjAzMTIxODE5WjAiMSAwHgYDVQQDDBdDYXJkd2F0Y2ggcHJvcGVy
dHkgdGVzdDBZMBMGByqGSM49AgEGCCqGSM49AwEHA0IABMV+t3DqefV9ibGRjD7J
iR8gCfLFE/YL/EuX3Cy8n/PESQ+TKw6qdBMbiUW84MWYHWHbRdBBBhfxpYloBpd2
ZzajYDBeMB0GA1UdDgQWBBQuoyOIsvGgqTGaRjW+4zdSH/0SITAfBgNVHSMEGDAW
gBQuoyOIsvGgqTGaRjW+4zdSH/0SITAPBgNVHRMBAf8EBTADAQH/MAsGA1UdDwQE
AwIHgDAKBggqhkjOPQQDAgNIADBFAiEAg0uMDw4boHo0NJCwmiDq42D+v+4EsKt6
ewByhKECxZQCIAoSEDHS+3Tghwk+sHqR8dKfBTkF6eq1mTBgtalXUhaH
-----END CERTIFICATE-----
";

fn cert_der() -> Vec<u8> {
    let (_, pem) = x509_parser::pem::parse_x509_pem(CERT.as_bytes()).expect("the test certificate");
    pem.contents
}

/// A certificate file's refusal names the PEM block, or says the bytes are no certificate.
fn cert_refusal_named(e: &str) -> Result<(), TestCaseError> {
    let named = e.starts_with("PEM block ")
        || e.starts_with("not a certificate")
        || e.starts_with("neither a DER certificate nor PEM text");
    prop_assert!(named, "{e}");
    Ok(())
}

#[test]
fn the_test_certificate_reads_as_der_and_as_pem() {
    let pem = parse_file(CERT.as_bytes()).expect("PEM");
    let der = parse_file(&cert_der()).expect("DER");
    assert_eq!(pem, der);
    assert_eq!(pem[0].subject, "CN=Cardwatch property test");
}

proptest! {
    #![proptest_config(config(800))]

    /// x509.rs: any bytes, and bytes that start as DER does.
    #[test]
    fn any_bytes_are_certificates_or_refused_with_the_reason(
        mut bytes in prop::collection::vec(any::<u8>(), 0..600),
        der in any::<bool>(),
    ) {
        if der && !bytes.is_empty() {
            bytes[0] = 0x30;
        }
        if let Err(e) = parse_file(&bytes) {
            cert_refusal_named(&e)?;
        }
    }

    /// x509.rs: the test certificate with a byte flipped or cut short, as DER and as PEM.
    #[test]
    fn a_damaged_certificate_is_read_whole_or_refused_with_the_reason(
        at in any::<prop::sample::Index>(),
        bit in 0u8..8,
        cut in any::<bool>(),
        pem in any::<bool>(),
    ) {
        let mut bytes = if pem { CERT.as_bytes().to_vec() } else { cert_der() };
        let i = at.index(bytes.len());
        if cut {
            bytes.truncate(i);
        } else {
            bytes[i] ^= 1 << bit;
        }
        match parse_file(&bytes) {
            Ok(certs) => {
                // A damaged file may still hold a certificate (a flipped bit in the signature,
                // or a PEM line's damage a base64 reader passes over), never more than one.
                prop_assert!(certs.len() <= 1);
            }
            Err(e) => cert_refusal_named(&e)?,
        }
    }
}
