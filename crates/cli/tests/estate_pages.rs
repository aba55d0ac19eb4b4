//! The estate's pages and the agents page as the desk reads them: hostile text imported into
//! every field they show comes back escaped (askama's templates, issue 32), and the words are
//! plain (issue 28): columns named as people say them, dates written out, plurals right, and a
//! refused filter shown on the page rather than as the API's JSON. Every address a person's
//! browser reaches with a value that names nothing or is not one — a record's page, the cheat
//! sheet, the triage wizard, an escalation packet, the findings' and triage's forms — answers a
//! page with the NHS.UK error summary and what was typed kept (issue 28, item 7), accessible and
//! fitting a phone in Chromium (item 9).

mod common;

use common::{
    assert_accessible_and_fits, body_json, cardwatch, csrf_of, get_as, ok, refusal_spec,
    refusals_in_chromium, request, scratch_db, serve_demo_signed_in, shown, stop,
};

/// Text that breaks out of an element, out of a double- and a single-quoted attribute, and
/// carries an entity that must stay literal.
const HOSTILE: &str = "<script>alert(1)</script> \"onmouseover=\"x &amp; O'Brien";

/// The same without spaces, for the fields that refuse them (an EMIS user name).
const HOSTILE_WORD: &str = "<script>alert(1)</script>\"onmouseover=\"x&amp;O'Brien";

/// A CSV cell holding `text`, quoted.
fn cell(text: &str) -> String {
    format!("\"{}\"", text.replace('"', "\"\""))
}

/// Writes estate files (name, contents) into `dir` and imports them all at once.
fn import_files(db: &str, dir: &std::path::Path, files: &[(&str, String)]) {
    let mut args = vec!["import".to_owned()];
    for (name, text) in files {
        let path = dir.join(name);
        std::fs::write(&path, text).expect("write");
        args.push(path.display().to_string());
    }
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    ok(&cardwatch(db, &args));
}

/// Nothing hostile reached the page as markup, and the text is there, escaped.
fn escaped(path: &str, page: &str) {
    assert!(!page.contains("<script>alert"), "{path}: {page}");
    assert!(!page.contains("\"onmouseover="), "{path}: {page}");
    assert!(!page.contains("O'Brien"), "{path}: a bare quote: {page}");
    assert!(
        !page.contains("x &amp; O") && !page.contains("x&amp;O"),
        "{path}: the entity went out unescaped: {page}"
    );
    assert!(
        shown(
            page,
            "<script>alert(1)</script> \"onmouseover=\"x &amp; O'Brien"
        ) || shown(page, HOSTILE_WORD),
        "{path}: the text is shown, escaped: {page}"
    );
}

#[test]
fn hostile_text_in_every_estate_field_is_escaped_on_every_estate_page() {
    let (tmp, db) = scratch_db();
    let (child, addr, admin) = serve_demo_signed_in(&db, "1");
    let h = cell(HOSTILE);
    import_files(
        &db,
        tmp.path(),
        &[
            (
                "people.csv",
                format!("uuid,name,email,staff_role,site_ods,employment_end,local_admin,ra_roles\n009990000001,{h},,{h},A10000,2027-03-31,no,\n"),
            ),
            (
                "cards.csv",
                "card_serial,holder_uuid,series,status,issued_on,last_used_on\nCS0999999991,009990000001,9,active,2024-03-02,2026-11-28\n".into(),
            ),
            (
                "certificates.csv",
                format!("card_serial,purpose,serial_number,issuer,not_before,not_after,hash_algorithm\nCS0999999991,authentication,4EDF50621A885D90,{h},2024-08-15,2027-01-11,sha256\nCS0999999991,signing,A9AFC6F6942C6360,{h},2026-01-13,2028-05-09,sha1\n"),
            ),
            (
                "positions.csv",
                format!("holder_uuid,ods_code,role_code,role_name,activity_codes,status,requested_on,approved_on\n009990000001,A10000,R8000,{h},B0068,active,2023-07-25,2023-07-31\n"),
            ),
            (
                "workstations.csv",
                format!("hostname,site_ods,os,os_build,update_ring,last_seen,update_window,applications\na10000-ws901,A10000,{h},{h},pilot,2026-12-03T01:38:40Z,,\n"),
            ),
            (
                "software.csv",
                format!("hostname,component,version\na10000-ws901,identity-agent,{h}\n"),
            ),
            (
                "readers.csv",
                format!("reader_serial,vendor,model,firmware,hostname,site_ods,status\nRD-00000-9999,{h},{h},{h},a10000-ws901,A10000,in_service\n"),
            ),
            (
                "integrations.csv",
                format!("integration,service,site_ods,clinical_system,required_roles,required_activity_codes,emis_cdb,service_emis_cdb,systmone_profile,service_systmone_profile\nt9-a10000,{h},A10000,emis,,,11111,11112,,\n"),
            ),
            (
                "integration_cards.csv",
                format!(
                    "integration,card_serial,emis_username\nt9-a10000,CS0999999991,{}\n",
                    cell(HOSTILE_WORD)
                ),
            ),
        ],
    );
    // A reason kept in the audit log reaches the card's status history.
    ok(&cardwatch(
        &db,
        &[
            "card",
            "set-status",
            "CS0999999991",
            "locked",
            "--reason",
            HOSTILE,
        ],
    ));
    let pages = [
        "/estate/people",
        "/estate/workstations",
        "/estate/readers",
        "/estate/integrations",
        "/people/009990000001",
        "/cards/CS0999999991",
        "/workstations/a10000-ws901",
        "/integrations/t9-a10000",
    ];
    let seen: Vec<(&str, (u16, String))> = pages
        .iter()
        .map(|p| (*p, get_as(&addr, p, &admin)))
        .collect();
    let agents = get_as(&addr, "/admin/agents", &admin);
    // The filter matches the start of a name, in any case.
    let filtered = get_as(&addr, "/estate/people?q=%3CSCRIPT%3Ealert", &admin);
    // HOSTILE, form-encoded, as a browser sends the filter typed.
    let typed = "q=%3Cscript%3Ealert(1)%3C%2Fscript%3E+%22onmouseover%3D%22x+%26amp%3B+O%27Brien&sort=salary";
    let refused = get_as(&addr, &format!("/estate/people?{typed}"), &admin);
    let refused_api = get_as(&addr, "/api/v1/estate/people?sort=salary", &admin);
    let no_such = get_as(&addr, "/estate/secrets", &admin);
    stop(child);

    for (path, (status, page)) in &seen {
        assert_eq!(*status, 200, "{path}: {page}");
        escaped(path, page);
    }
    let page = |path: &str| &seen.iter().find(|(p, _)| *p == path).expect("visited").1 .1;
    // The agents page shows no imported text, and nothing injected.
    assert_eq!(agents.0, 200, "{}", agents.1);
    assert!(!agents.1.contains("<script>alert") && !agents.1.contains("\"onmouseover="));
    // Each page still does its job.
    assert!(page("/estate/people").contains("href=\"/people/009990000001\""));
    assert!(page("/people/009990000001").contains("href=\"/cards/CS0999999991\""));
    assert!(page("/cards/CS0999999991").contains("Status history"));
    assert!(page("/workstations/a10000-ws901").contains("against the catalogue"));
    assert!(page("/integrations/t9-a10000").contains("href=\"/cards/CS0999999991\""));

    // Plain words: columns as people say them, dates written out, plurals right.
    let people = page("/estate/people");
    assert!(people.contains(">Site code"), "{people}");
    assert!(!people.contains("site ods") && !people.contains("site_ods<"));
    assert!(people.contains("31 March 2027"), "{people}");
    assert!(page("/estate/workstations").contains(">Windows version"));
    assert!(page("/estate/workstations").contains("3 December 2026 at 01:38"));
    let person = page("/people/009990000001");
    assert!(person.contains("1 card."), "{person}");
    assert!(person.contains("11 January 2027"), "{person}");
    assert!(page("/workstations/a10000-ws901").contains("1 reader."));
    assert!(page("/integrations/t9-a10000").contains("1 card."));
    assert!(page("/cards/CS0999999991").contains("Locked"));
    assert!(filtered.1.contains("1 person."), "{}", filtered.1);

    // A refused sort on the page: the error summary linking to the field, what was typed kept,
    // never JSON; the API's twin keeps its JSON error.
    assert_eq!(refused.0, 400, "{}", refused.1);
    assert!(refused.1.contains("nhsuk-error-summary"), "{}", refused.1);
    assert!(refused.1.contains("href=\"#sort\""), "{}", refused.1);
    assert!(shown(&refused.1, "no column \"salary\""), "{}", refused.1);
    assert!(
        !refused.1.contains("\"invalid_parameter\""),
        "{}",
        refused.1
    );
    assert!(!refused.1.contains("<script>alert") && !refused.1.contains("\"onmouseover="));
    // The filter typed is kept in its box (the box's value is the whole text, escaped).
    let kept = refused
        .1
        .split("id=\"q\" name=\"q\" type=\"text\" value=\"")
        .nth(1)
        .and_then(|r| r.split('"').next())
        .unwrap_or("");
    assert!(
        shown(kept, HOSTILE) && !kept.is_empty(),
        "the filter typed is kept: {}",
        refused.1
    );
    assert_eq!(refused_api.0, 400);
    let error = &body_json(&refused_api.1)["error"];
    assert_eq!(error["field"], "sort");
    assert_eq!(error["code"], "invalid_parameter");
    assert_eq!(no_such.0, 404, "{}", no_such.1);
    assert!(
        no_such.1.contains("nhsuk-error-summary") && no_such.1.contains("href=\"/estate/people\"")
    );
}

/// Every byte but letters, digits and `-._~` percent-encoded, as a browser sends a path segment.
fn pct(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// A form body (or query) with every name and value percent-encoded.
fn form_encoded(pairs: &[(&str, &str)]) -> String {
    pairs
        .iter()
        .map(|(k, v)| format!("{}={}", pct(k), pct(v)))
        .collect::<Vec<_>>()
        .join("&")
}

/// One refused address: what the test calls it, the path, the form posted (none for a GET), the
/// status, the box the error summary links to (none for a refusal the page cannot put right)
/// and what was typed that the page must show back.
struct Refusal {
    label: &'static str,
    path: String,
    fields: Option<Vec<(String, String)>>,
    status: u16,
    field: Option<&'static str>,
    typed: Option<&'static str>,
    /// The box that keeps what was typed, when it is not the one at fault.
    kept_in: Option<&'static str>,
}

impl Refusal {
    /// What was typed is kept in box `id` (not the one the summary links to).
    fn kept_in(mut self, id: &'static str) -> Refusal {
        self.kept_in = Some(id);
        self
    }

    /// The box that keeps what was typed.
    fn keeper(&self) -> Option<&'static str> {
        self.kept_in.or(self.field)
    }
}

fn get_refusal(
    label: &'static str,
    path: String,
    status: u16,
    field: Option<&'static str>,
    typed: Option<&'static str>,
) -> Refusal {
    Refusal {
        label,
        path,
        fields: None,
        status,
        field,
        typed,
        kept_in: None,
    }
}

fn post_refusal(
    label: &'static str,
    path: &str,
    fields: &[(&str, &str)],
    status: u16,
    field: Option<&'static str>,
    typed: Option<&'static str>,
) -> Refusal {
    Refusal {
        label,
        path: path.to_owned(),
        fields: Some(
            fields
                .iter()
                .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
                .collect(),
        ),
        status,
        field,
        typed,
        kept_in: None,
    }
}

/// The refused addresses of a one-practice demo: each record page with a value that is not one
/// and with one that names nothing, the cheat sheet, the wizard, the packet and the two forms.
fn refusals(addr: &str, cookie: &str) -> Vec<Refusal> {
    let h = pct(HOSTILE);
    let q = form_encoded(&[("site", HOSTILE)]);
    let finding = body_json(&get_as(addr, "/api/v1/findings?limit=1", cookie).1)["findings"][0]
        ["id"]
        .as_str()
        .expect("the demo has a finding")
        .to_owned();
    let csrf = csrf_of(&get_as(addr, "/account", cookie).1);
    let step = form_encoded(&[("symptom", "cannot-sign"), ("text", HOSTILE)]);
    let c = csrf.as_str();
    vec![
        get_refusal(
            "card not a number",
            format!("/cards/{h}"),
            400,
            Some("serial"),
            Some(HOSTILE),
        ),
        get_refusal(
            "card search empty",
            "/cards?serial=".into(),
            400,
            Some("serial"),
            None,
        ),
        get_refusal(
            "card unknown",
            "/cards/CS0999999999".into(),
            404,
            Some("serial"),
            Some("CS0999999999"),
        ),
        get_refusal(
            "person not a UUID",
            format!("/people/{h}"),
            400,
            Some("q"),
            Some(HOSTILE),
        ),
        get_refusal(
            "person unknown",
            "/people/009999999999".into(),
            404,
            Some("q"),
            Some("009999999999"),
        ),
        get_refusal(
            "workstation not a name",
            format!("/workstations/{h}"),
            400,
            Some("q"),
            Some(HOSTILE),
        ),
        get_refusal(
            "workstation unknown",
            "/workstations/zz-nowhere-01".into(),
            404,
            Some("q"),
            Some("zz-nowhere-01"),
        ),
        get_refusal(
            "integration not a name",
            format!("/integrations/{h}"),
            400,
            Some("q"),
            Some(HOSTILE),
        ),
        get_refusal(
            "integration unknown",
            "/integrations/zz-none".into(),
            404,
            Some("q"),
            Some("zz-none"),
        ),
        get_refusal(
            "cheat sheet no site",
            "/cheatsheet".into(),
            400,
            Some("site"),
            None,
        ),
        get_refusal(
            "cheat sheet not a site",
            format!("/cheatsheet?{q}"),
            400,
            Some("site"),
            Some(HOSTILE),
        ),
        get_refusal(
            "cheat sheet unknown site",
            "/cheatsheet?site=Z99999".into(),
            404,
            Some("site"),
            Some("Z99999"),
        ),
        get_refusal(
            "triage unknown symptom",
            format!("/triage?symptom={h}"),
            400,
            Some("text"),
            None,
        ),
        get_refusal(
            "triage link cut short",
            "/triage?symptom=cannot-sign&obs=middleware-version".into(),
            400,
            None,
            None,
        ),
        get_refusal(
            "packet not a number",
            format!("/incidents/{h}/packet"),
            400,
            None,
            None,
        ),
        get_refusal(
            "packet unknown",
            "/incidents/999999/packet".into(),
            404,
            None,
            None,
        ),
        post_refusal(
            "note without a reason",
            "/findings/note",
            &[
                ("csrf", c),
                ("id", &finding),
                ("action", "acknowledged"),
                ("reason", ""),
            ],
            400,
            Some("reason"),
            None,
        ),
        post_refusal(
            "note with no such action",
            "/findings/note",
            &[
                ("csrf", c),
                ("id", &finding),
                ("action", HOSTILE),
                ("reason", HOSTILE),
            ],
            400,
            Some("action-acknowledged"),
            Some(HOSTILE),
        )
        .kept_in("reason"),
        // A name sent twice takes its last value, as a browser's form means it: the page, never
        // the form extractor's plain-text refusal.
        post_refusal(
            "note with the reason sent twice",
            "/findings/note",
            &[
                ("csrf", c),
                ("id", &finding),
                ("action", "snoozed"),
                ("reason", "renewal booked"),
                ("reason", ""),
            ],
            400,
            Some("reason"),
            None,
        ),
        post_refusal(
            "note on no finding",
            "/findings/note",
            &[
                ("csrf", c),
                ("id", HOSTILE),
                ("action", "snoozed"),
                ("reason", "on it"),
            ],
            403,
            None,
            None,
        ),
        post_refusal(
            "record with no such system",
            "/triage/record",
            &[
                ("csrf", c),
                ("query", &step),
                ("outcome", "escalated"),
                ("application", HOSTILE),
                ("doing", HOSTILE),
            ],
            400,
            Some("application"),
            Some(HOSTILE),
        )
        // The system is chosen from a list, which cannot show a value not on it; what they
        // were doing is kept.
        .kept_in("doing"),
        post_refusal(
            "record with a changed link",
            "/triage/record",
            &[
                ("csrf", c),
                ("query", "obs=nothing"),
                ("outcome", "escalated"),
            ],
            400,
            None,
            None,
        ),
        post_refusal(
            "record with the outcome sent twice",
            "/triage/record",
            &[
                ("csrf", c),
                ("query", &step),
                ("outcome", "escalated"),
                ("outcome", HOSTILE),
            ],
            400,
            None,
            None,
        ),
        post_refusal(
            "record with no outcome",
            "/triage/record",
            &[("csrf", c), ("query", &step), ("outcome", HOSTILE)],
            400,
            None,
            None,
        ),
    ]
}

/// The body of a response: after its headers.
fn body(response: &str) -> &str {
    response.split_once("\r\n\r\n").map_or("", |(_, b)| b)
}

#[test]
fn every_refused_address_answers_a_page_with_the_error_summary_and_what_was_typed() {
    let (_tmp, db) = scratch_db();
    let (child, addr, cookie) = serve_demo_signed_in(&db, "1");
    let cases = refusals(&addr, &cookie);
    let answered: Vec<(u16, String)> = cases
        .iter()
        .map(|r| match &r.fields {
            None => get_as(&addr, &r.path, &cookie),
            Some(f) => {
                let pairs: Vec<(&str, &str)> =
                    f.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
                request(
                    &addr,
                    "POST",
                    &r.path,
                    Some(&cookie),
                    Some(&form_encoded(&pairs)),
                )
            }
        })
        .collect();
    // The card box's search goes to the card's page.
    let found = get_as(&addr, "/cards?serial=+CS0999999999", &cookie);
    // The API's twins keep their JSON errors.
    let api_bad = get_as(&addr, &format!("/api/v1/cards/{}", pct(HOSTILE)), &cookie);
    let api_unknown = get_as(&addr, "/api/v1/people/009999999999", &cookie);
    let api_sheet = get_as(&addr, "/api/v1/cheatsheet", &cookie);
    stop(child);

    for (r, (status, response)) in cases.iter().zip(&answered) {
        let label = r.label;
        let page = body(response);
        assert_eq!(*status, r.status, "{label}: {response}");
        assert!(
            response
                .to_ascii_lowercase()
                .contains("content-type: text/html"),
            "{label}: a page, not JSON or plain text: {response}"
        );
        assert!(page.starts_with("<!DOCTYPE html>"), "{label}: {page}");
        assert!(!page.contains("\"error\":"), "{label}: {page}");
        assert!(
            page.contains("nhsuk-error-summary") && page.contains("There is a problem")
                || page.contains("nhsuk-error-summary__title"),
            "{label}: the error summary: {page}"
        );
        if let Some(field) = r.field {
            assert!(
                page.contains(&format!("href=\"#{field}\""))
                    && page.contains(&format!("id=\"{field}\"")),
                "{label}: the summary links to the box #{field}: {page}"
            );
        } else {
            // Nothing to put right on the page: a link on instead.
            assert!(
                page.contains("class=\"nhsuk-link\" href=\"/"),
                "{label}: a way on: {page}"
            );
        }
        // Nothing typed reached the page as markup; what was typed is shown back, escaped, in
        // its box.
        assert!(
            !page.contains("<script>alert") && !page.contains("\"onmouseover="),
            "{label}: {page}"
        );
        if let Some(typed) = r.typed {
            let field = r.keeper().expect("a box");
            let value = page
                .split(&format!("id=\"{field}\""))
                .nth(1)
                .and_then(|rest| rest.split("value=\"").nth(1))
                .and_then(|rest| rest.split('"').next())
                .unwrap_or("");
            assert!(
                shown(value, typed) || value == typed,
                "{label}: the box #{field} keeps {typed:?}, got {value:?}: {page}"
            );
        }
    }
    let page = |label: &str| {
        let i = cases.iter().position(|r| r.label == label).expect("a case");
        body(&answered[i].1).to_owned()
    };
    // Plain words, with the way back to the list and a search of it.
    let card = page("card unknown");
    assert!(
        card.contains("check the number on the back of the card"),
        "{card}"
    );
    assert!(card.contains("href=\"/estate/people\"") && card.contains("action=\"/cards\""));
    assert!(page("person not a UUID").contains("is not a UUID"));
    assert!(page("cheat sheet unknown site").contains("No site with the code Z99999"));
    assert!(page("triage unknown symptom").contains("Or choose the problem"));
    assert!(page("packet unknown").contains("href=\"/incidents\""));
    let record = page("record with no such system");
    assert!(
        record.contains("Choose the system from the list, or leave it as Not known"),
        "{record}"
    );
    // What they were doing is kept too.
    let doing = record
        .split("id=\"doing\"")
        .nth(1)
        .and_then(|rest| rest.split("value=\"").nth(1))
        .and_then(|rest| rest.split('"').next())
        .unwrap_or("");
    assert!(shown(doing, HOSTILE), "{record}");
    assert!(page("note without a reason").contains("Acknowledging needs a reason"));

    assert_eq!(found.0, 303, "{}", found.1);
    assert!(
        found.1.contains("location: /cards/CS0999999999\r\n"),
        "{}",
        found.1
    );
    assert_eq!(api_bad.0, 400, "{}", api_bad.1);
    assert_eq!(body_json(&api_bad.1)["error"]["code"], "invalid_parameter");
    assert_eq!(api_unknown.0, 404, "{}", api_unknown.1);
    assert_eq!(body_json(&api_unknown.1)["error"]["code"], "not_found");
    assert_eq!(api_sheet.0, 400, "{}", api_sheet.1);
    assert_eq!(body_json(&api_sheet.1)["error"]["field"], "site");
}

/// Each refusal page in real Chromium at a desk's 1280 px and a phone's 390 px: axe finds nothing
/// serious or critical, nothing scrolls sideways, the error summary is there and what was typed
/// is in its box (forms posted by the browser itself).
#[test]
fn every_refusal_page_is_accessible_and_fits_a_phone_in_chromium() {
    let (_tmp, db) = scratch_db();
    let (child, addr, cookie) = serve_demo_signed_in(&db, "1");
    let cases = refusals(&addr, &cookie);
    let specs: Vec<serde_json::Value> = cases
        .iter()
        .map(|r| refusal_spec(r.label, &r.path, r.fields.as_ref()))
        .collect();
    let reports = refusals_in_chromium(&addr, &cookie, &specs);
    stop(child);
    for (width, report) in &reports {
        for r in &cases {
            let label = r.label;
            let got = &report[label];
            assert_eq!(got["status"], r.status, "{label} at {width} px: {got}");
            assert_accessible_and_fits(label, *width, got);
            assert!(
                got["summary"].as_str().is_some_and(|s| !s.is_empty()),
                "{label} at {width} px: the error summary: {got}"
            );
            if let (Some(field), Some(typed)) = (r.keeper(), r.typed) {
                assert_eq!(got["typed"][field], typed, "{label} at {width} px: {got}");
            }
        }
    }
}

/// The text of every table cell on a page, in order (`<td …>text</td>`, a link's text as its).
fn cells(page: &str) -> Vec<String> {
    page.split("<td class=\"nhsuk-table__cell\">")
        .skip(1)
        .map(|c| {
            let text = c.split("</td>").next().unwrap_or("");
            let text = text.strip_prefix("<a href=\"").map_or(text, |linked| {
                linked
                    .split_once("\">")
                    .map_or("", |(_, t)| t)
                    .trim_end_matches("</a>")
            });
            text.to_owned()
        })
        .collect()
}

#[test]
fn estate_lists_show_stored_codes_in_words_and_keep_the_codes_for_machines() {
    let (tmp, db) = scratch_db();
    let (child, addr, admin) = serve_demo_signed_in(&db, "2");
    import_files(
        &db,
        tmp.path(),
        &[
            (
                "people.csv",
                "uuid,name,email,staff_role,site_ods,employment_end,local_admin,ra_roles\n009990000002,Ada Admin,,Practice manager,A10000,,yes,local_smartcard_administrator ra_agent\n".into(),
            ),
            (
                "workstations.csv",
                "hostname,site_ods,os,os_build,update_ring,last_seen,update_window,applications\na10000-ws902,A10000,Windows 11,26100,canary,,,care-identity e-rs emis-web\na10000-ws903,A10000,Windows 11,26100,pilot,,,\na10000-ws904,A10000,Windows 11,26100,broad,,,\n".into(),
            ),
            (
                "integrations.csv",
                "integration,service,site_ods,clinical_system,required_roles,required_activity_codes,emis_cdb,service_emis_cdb,systmone_profile,service_systmone_profile\nt8-a10000,Assistant,A10000,emis,,,11111,11111,,\nt9-a10000,Assistant,A10000,systmone,,,,,Assistant,Assistant\n".into(),
            ),
        ],
    );
    let pages = [
        "/estate/organisations",
        "/estate/people?q=009990000002",
        "/estate/workstations?q=a10000-ws90",
        "/estate/readers",
        "/estate/stock",
        "/estate/integrations?q=t",
    ];
    let seen: Vec<(&str, (u16, String))> = pages
        .iter()
        .map(|p| (*p, get_as(&addr, p, &admin)))
        .collect();
    let api = get_as(&addr, "/api/v1/estate/readers", &admin);
    let csv = get_as(&addr, "/api/v1/estate/organisations?format=csv", &admin);
    // The filter finds what the page shows, as well as the stored code's start.
    let by_words: Vec<(&str, (u16, String))> = [
        "/estate/stock?q=Smart",
        "/estate/readers?q=in%20serv",
        "/estate/workstations?q=updates%20first",
        "/estate/organisations?q=gp%20pract",
        "/api/v1/estate/stock?q=smartcard%20READER",
    ]
    .iter()
    .map(|p| (*p, get_as(&addr, p, &admin)))
    .collect();
    let sorted = get_as(
        &addr,
        "/estate/workstations?q=a10000-ws90&sort=update_ring&order=asc",
        &admin,
    );
    stop(child);

    // Each list shows its codes in words, and no cell holds a bare code.
    let expect: [(&str, &[&str], &[&str]); 6] = [
        (
            "/estate/organisations",
            &["GP practice", "Active", "Integrated care board"],
            &["gp_practice", "active", "icb"],
        ),
        (
            "/estate/people?q=009990000002",
            &["RA agent, Local smartcard administrator"],
            &["local_smartcard_administrator ra_agent"],
        ),
        (
            "/estate/workstations?q=a10000-ws90",
            &[
                "Canary (updates first)",
                "Pilot (updates next)",
                "Broad (updates last)",
                "Care Identity Management, NHS e-Referral Service, EMIS Web",
            ],
            &["canary", "pilot", "broad", "care-identity e-rs emis-web"],
        ),
        ("/estate/readers", &["In service"], &["in_service"]),
        (
            "/estate/stock",
            &["Smartcard", "Smartcard reader"],
            &["card", "reader"],
        ),
        (
            "/estate/integrations?q=t",
            &["EMIS Web", "SystmOne"],
            &["emis", "systmone"],
        ),
    ];
    for (path, words, codes) in expect {
        let (status, page) = &seen.iter().find(|(p, _)| *p == path).expect("visited").1;
        assert_eq!(*status, 200, "{path}: {page}");
        let shown_cells = cells(page);
        for w in words {
            assert!(
                shown_cells.iter().any(|c| c == w),
                "{path}: no cell reads {w:?}: {shown_cells:?}"
            );
        }
        for c in codes {
            assert!(
                !page.contains(&format!(">{c}<")),
                "{path}: the code {c:?} is shown: {shown_cells:?}"
            );
        }
    }
    let found = |path: &str| {
        let (status, page) = &by_words.iter().find(|(p, _)| *p == path).expect("asked").1;
        assert_eq!(*status, 200, "{path}: {page}");
        cells(page)
    };
    let stock = found("/estate/stock?q=Smart");
    assert!(
        stock.iter().any(|c| c == "Smartcard") && stock.iter().any(|c| c == "Smartcard reader"),
        "{stock:?}"
    );
    for (path, shown, not) in [
        (
            "/estate/readers?q=in%20serv",
            "In service",
            ["Spare", "Faulty"],
        ),
        (
            "/estate/workstations?q=updates%20first",
            "Canary (updates first)",
            ["Pilot (updates next)", "Broad (updates last)"],
        ),
        (
            "/estate/organisations?q=gp%20pract",
            "GP practice",
            ["Integrated care board", "PCN (primary care network)"],
        ),
    ] {
        let c = found(path);
        assert!(c.iter().any(|c| c == shown), "{path}: {c:?}");
        assert!(
            !c.iter().any(|c| not.contains(&c.as_str())),
            "{path}: {c:?}"
        );
    }
    let (status, body) = &by_words[4].1;
    assert_eq!(*status, 200, "{body}");
    let items: Vec<String> = body_json(body)["items"]
        .as_array()
        .expect("items")
        .iter()
        .map(|i| i["item"].as_str().unwrap_or_default().to_owned())
        .collect();
    assert!(
        !items.is_empty() && items.iter().all(|i| i == "reader"),
        "{items:?}"
    );
    // The sort goes by the stored code, whose order is the words' (broad, canary, pilot), and
    // the filter by the start of a hostname.
    assert_eq!(sorted.0, 200, "{}", sorted.1);
    let rings: Vec<String> = cells(&sorted.1)
        .into_iter()
        .filter(|c| c.contains("(updates"))
        .collect();
    assert_eq!(
        rings,
        [
            "Broad (updates last)",
            "Canary (updates first)",
            "Pilot (updates next)"
        ]
    );
    // Machines keep the codes: the JSON and the CSV download are as stored.
    assert_eq!(api.0, 200, "{}", api.1);
    let json = body_json(&api.1);
    let statuses: Vec<&str> = json["items"]
        .as_array()
        .expect("items")
        .iter()
        .filter_map(|i| i["status"].as_str())
        .collect();
    assert!(statuses.contains(&"in_service"), "{statuses:?}");
    assert!(!statuses.contains(&"In service"), "{statuses:?}");
    assert_eq!(csv.0, 200, "{}", csv.1);
    assert!(csv.1.contains(",gp_practice,"), "{}", csv.1);
    assert!(!csv.1.contains("GP practice"), "{}", csv.1);
}

#[test]
fn an_address_no_page_has_answers_a_page_saying_so_with_the_way_back() {
    let (_tmp, db) = scratch_db();
    let (child, addr, admin) = serve_demo_signed_in(&db, "1");
    let pages: Vec<(u16, String)> = ["/nonexistent", "/estate", "/incidents/1"]
        .iter()
        .map(|p| get_as(&addr, p, &admin))
        .collect();
    let signed_out = request(&addr, "GET", "/nonexistent", None, None);
    let api = get_as(&addr, "/api/v1/nonexistent", &admin);
    stop(child);
    for (status, page) in &pages {
        assert_eq!(*status, 404, "{page}");
        assert!(
            page.contains("<title>Page not found – Cardwatch</title>")
                && page.contains("There is no page at this address.")
                && page.contains("<a href=\"/\">Go to the overview</a>")
                && page.contains("nhsuk-header__navigation-link"),
            "{page}"
        );
    }
    assert_eq!(signed_out.0, 404, "{}", signed_out.1);
    assert!(
        signed_out.1.contains("Page not found")
            && !signed_out.1.contains("nhsuk-header__navigation-link"),
        "no menu for someone not signed in: {}",
        signed_out.1
    );
    assert_eq!(api.0, 404, "{}", api.1);
    assert_eq!(body_json(&api.1)["error"]["code"], "not_found", "{}", api.1);
}
