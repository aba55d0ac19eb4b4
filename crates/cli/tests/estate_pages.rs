//! The estate's pages and the agents page as the desk reads them: hostile text imported into
//! every field they show comes back escaped (askama's templates, issue 32), and the words are
//! plain (issue 28): columns named as people say them, dates written out, plurals right, and a
//! refused filter shown on the page rather than as the API's JSON.

mod common;

use common::{body_json, cardwatch, get_as, ok, scratch_db, serve_demo_signed_in, shown, stop};

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
