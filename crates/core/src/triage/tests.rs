use super::*;

fn kb() -> KnowledgeBase {
    KnowledgeBase::shipped()
}

fn sym(kb: &KnowledgeBase, id: &str) -> usize {
    kb.symptom(id).unwrap_or_else(|| panic!("no symptom {id}"))
}

fn advise(kb: &KnowledgeBase, id: &str, observations: &[(&str, &str)]) -> Advice {
    advise_told(kb, id, None, observations)
}

/// Advice after the problem was described in `words` (if any) and the observations made.
fn advise_told(
    kb: &KnowledgeBase,
    id: &str,
    words: Option<&str>,
    observations: &[(&str, &str)],
) -> Advice {
    let case = Case {
        words: words.map(str::to_owned),
        observations: observations
            .iter()
            .map(|(a, b)| ((*a).to_owned(), (*b).to_owned()))
            .collect(),
        ..Case::default()
    };
    kb.advise(sym(kb, id), &case).unwrap()
}

fn fact(key: &str, value: &str) -> Fact {
    Fact {
        key: key.into(),
        value: value.into(),
        because: format!("the estate says {key} is {value}"),
    }
}

/// The shipped files plus one more, for loader tests.
fn with_extra(text: &str) -> Result<KnowledgeBase, KbError> {
    let mut files = SHIPPED.to_vec();
    files.push(("extra.toml", text));
    KnowledgeBase::load(&files)
}

#[test]
fn shipped_base_has_every_symptom_the_issue_names() {
    let kb = kb();
    assert!(kb.symptoms.len() >= 12, "{}", kb.symptoms.len());
    for id in [
        "card-not-recognised",
        "pin-rejected",
        "card-locked",
        "cannot-sign",
        "limited-functionality",
        "spine-timeouts",
        "after-update",
        "renewal-prompt",
        "err1002",
        "auth-failure",
        "auth-failure-400-645",
        "error-1000",
        "inf1014-err5022",
        "no-signing-certificate",
        "pr30007",
        "credentials-not-valid",
        "smartcard-blocked",
        "onboarding-ods-missing",
        "onboarding-emis-sign-in",
        "onboarding-emis-cdb",
        "onboarding-permission",
        "onboarding-systmone-profile",
    ] {
        sym(&kb, id);
    }
    // Seed 002's figures: middleware about 8 in 10, the three common causes about 19 in 20 (the
    // signing certificate's share is one not refreshed and one expired).
    let s = &kb.symptoms[sym(&kb, "cannot-sign")];
    let p = |c: &str| s.causes.iter().find(|x| kb.causes[x.0].id == c).unwrap().1;
    assert!((p("middleware-outdated") - 0.8).abs() < 1e-9);
    let three = p("middleware-outdated")
        + p("signing-cert-not-refreshed")
        + p("signing-cert-expired")
        + p("reader-firmware-old");
    assert!((three - 0.95).abs() < 1e-9, "{three}");
    // Every fact has a source.
    assert!(kb.causes.iter().all(|c| !c.source.is_empty()));
    assert!(kb.checks.iter().all(|c| !c.source.is_empty()));
    assert!(kb.fixes.iter().all(|f| !f.source.is_empty()));
}

#[test]
fn error_texts_resolve_to_their_symptoms() {
    let kb = kb();
    let cases = [
        ("ERR1002 : Unable to read the card", "err1002"),
        ("  err1002  ", "err1002"),
        ("Error 1002", "err1002"),
        ("Smartcard Authentication Failure 500_123", "auth-failure"),
        ("400_301", "auth-failure"),
        (
            "Smartcard Authentication Failure (400_645)",
            "auth-failure-400-645",
        ),
        ("error 1000", "error-1000"),
        (
            "Error: INF1014:Scanning for Smartcard ERR5022: Operation cannot be completed",
            "inf1014-err5022",
        ),
        (
            "0x53494705 No X.509 Signing certificate found",
            "no-signing-certificate",
        ),
        (
            "no x.509 signing certificate found",
            "no-signing-certificate",
        ),
        ("PR30007 Unable to find CM process", "pr30007"),
        (
            "The user credentials presented are not valid.",
            "credentials-not-valid",
        ),
        (
            "THE USER CREDENTIALS   PRESENTED ARE NOT VALID",
            "credentials-not-valid",
        ),
        ("Your Smartcard is blocked", "smartcard-blocked"),
        (
            "There was a problem reading your Smartcard. Please restart the Identity Agent.",
            "card-not-recognised",
        ),
        ("PIN works to log in but not to sign", "cannot-sign"),
        ("signing failed on a prescription", "cannot-sign"),
        (
            "ODS code not present on smartcard Identity Agent",
            "onboarding-ods-missing",
        ),
        ("Sign in to EMIS failed", "onboarding-emis-sign-in"),
        ("EMIS CDB did not match set up", "onboarding-emis-cdb"),
        (
            "Insufficient permission to perform registrations",
            "onboarding-permission",
        ),
        ("SystmOne profile error", "onboarding-systmone-profile"),
        ("cannot-sign", "cannot-sign"),
        // Part of a message: the user typed only the start of it.
        ("unable to find cm", "pr30007"),
    ];
    for (text, want) in cases {
        let m =
            matching::find_symptom(&kb, text).unwrap_or_else(|| panic!("{text:?} matched nothing"));
        assert_eq!(
            kb.symptoms[m.symptom].id, want,
            "{text:?} (pattern {:?})",
            m.pattern
        );
    }
    assert!(matching::find_symptom(&kb, "").is_none());
    assert!(matching::find_symptom(&kb, "the printer is out of toner").is_none());
    // Codes match whole words only: a longer number is another code.
    assert!(matching::find_symptom(&kb, "err10025").is_none());
}

#[test]
fn first_steps_per_symptom() {
    let kb = kb();
    // (symptom, kind, id) with nothing known: the cheapest likely step first.
    let expected = [
        ("card-not-recognised", StepKind::Check, "ia-window"),
        ("pin-rejected", StepKind::Check, "pin-sure"),
        // Three in four are the card locked: resetting the PIN at once beats looking first.
        ("card-locked", StepKind::Fix, "pin-reset"),
        ("cannot-sign", StepKind::Check, "middleware-version"),
        ("limited-functionality", StepKind::Check, "roles-shown"),
        ("spine-timeouts", StepKind::Check, "other-sites-open"),
        ("after-update", StepKind::Check, "ia-version"),
        // The prompt itself says renew; most are inside their window: renew first.
        // Self-renewal waits until the certificate is known to be inside its window.
        ("renewal-prompt", StepKind::Check, "auth-cert-status"),
        ("err1002", StepKind::Check, "cis-domains-open"),
        ("auth-failure", StepKind::Check, "roles-shown"),
        ("auth-failure-400-645", StepKind::Check, "cm-status"),
        ("error-1000", StepKind::Check, "ia-window"),
        ("inf1014-err5022", StepKind::Check, "cis-domains-open"),
        // The certificate's two causes, not refreshed and expired, together likelier than old
        // middleware, and its lookup tells them from everything else.
        (
            "no-signing-certificate",
            StepKind::Check,
            "signing-cert-status",
        ),
        ("pr30007", StepKind::Fix, "start-cm"),
        ("credentials-not-valid", StepKind::Check, "roles-shown"),
        ("smartcard-blocked", StepKind::Check, "card-status"),
        (
            "onboarding-ods-missing",
            StepKind::Check,
            "position-approved",
        ),
        (
            "onboarding-emis-sign-in",
            StepKind::Check,
            "emis-account-exists",
        ),
        ("onboarding-emis-cdb", StepKind::Fix, "correct-emis-cdb"),
        ("onboarding-permission", StepKind::Check, "role-kind"),
        (
            "onboarding-systmone-profile",
            StepKind::Fix,
            "correct-systmone-profile",
        ),
        ("no-pin-prompt", StepKind::Check, "reader-light"),
        (
            "still-signed-in-after-removal",
            StepKind::Fix,
            "explain-smartcard-connect",
        ),
    ];
    assert_eq!(
        expected.len(),
        kb.symptoms.len(),
        "a scenario for every symptom"
    );
    for (s, kind, id) in expected {
        let a = advise(&kb, s, &[]);
        assert_eq!(
            (a.next.kind, a.next.id.as_str()),
            (kind, id),
            "{s}: {}",
            a.next.reason
        );
        assert!(!a.escalate, "{s}");
        assert!(
            a.next.reason.starts_with("Most likely: "),
            "{}",
            a.next.reason
        );
        assert!(a.next.cost_minutes > 0.0);
    }
}

#[test]
fn a_certificates_recorded_dates_outweigh_a_symptoms_usual_causes() {
    let kb = kb();
    let top = |a: &Advice| kb.causes[a.posterior[0].0].id.clone();
    // A signing certificate past its date cannot sign whatever else is wrong: it is the
    // likeliest cause of "cannot sign", even on a series 10 card, over old middleware.
    let a = advise(&kb, "cannot-sign", &[("signing-cert-status", "expired")]);
    assert_eq!(top(&a), "signing-cert-expired", "{:?}", a.posterior);
    assert!(a.posterior[0].1 > 0.75, "{:?}", a.posterior);
    let a = advise(
        &kb,
        "cannot-sign",
        &[
            ("signing-cert-status", "expired"),
            ("card-series", "series-10"),
        ],
    );
    assert_eq!(top(&a), "signing-cert-expired", "{:?}", a.posterior);
    // An authentication certificate whose record runs on is not the expired one.
    let a = advise(
        &kb,
        "credentials-not-valid",
        &[("auth-cert-status", "in-window")],
    );
    assert_ne!(top(&a), "auth-cert-expired", "{:?}", a.posterior);
}

#[test]
fn others_at_the_site_do_not_hand_over_a_fault_the_cards_own_record_explains() {
    let kb = kb();
    let s = sym(&kb, "cannot-sign");
    let case = |facts: Vec<Fact>| Case {
        facts,
        others_affected: 1,
        ..Case::default()
    };
    // Nothing known of this card: two people at the site point to a shared fault.
    let a = kb.advise(s, &case(Vec::new())).unwrap();
    assert!(a.escalate, "{}", a.next.reason);
    assert_eq!(a.aside, None);
    // This card's signing certificate is past its date: another person's report does not make
    // that the site's fault, so the step is the holder's own (an RA renewal), not a hand-over.
    let a = kb
        .advise(s, &case(vec![fact("cert.signing", "expired")]))
        .unwrap();
    assert!(!a.escalate, "{:?}", a.escalate_because);
    assert_eq!(kb.causes[a.posterior[0].0].id, "signing-cert-expired");
    let aside = a.aside.as_deref().unwrap_or_default();
    assert!(aside.contains("2 people at this site"), "{aside}");
    assert!(a.next.reason.ends_with(aside), "{}", a.next.reason);
    // A shared cause made likely by the record (old middleware on the computer) still goes over
    // as the site's.
    let a = kb
        .advise(
            s,
            &case(vec![fact("software.oberthur-middleware", "outdated")]),
        )
        .unwrap();
    assert!(a.escalate, "{}", a.next.reason);
    // Every personal cause is one a card or a person's record can hold; none of the site's
    // shared ones (network, Spine, domains, software) is marked.
    for id in [
        "network-down",
        "spine-outage",
        "domains-blocked",
        "middleware-outdated",
    ] {
        let c = kb.causes.iter().find(|c| c.id == id).unwrap();
        assert!(!c.personal, "{id}");
    }
}

#[test]
fn cannot_sign_follows_seed_002_and_reissues_last() {
    let kb = kb();
    // Middleware confirmed out of date: update it.
    let a = advise(&kb, "cannot-sign", &[("middleware-version", "outdated")]);
    assert_eq!(a.next.id, "update-middleware", "{}", a.next.reason);
    assert_eq!(kb.causes[a.posterior[0].0].id, "middleware-outdated");
    assert!(a.posterior[0].1 > 0.95);
    // Middleware current: the signing certificate is next in line.
    let a = advise(&kb, "cannot-sign", &[("middleware-version", "current")]);
    let top = &kb.causes[a.posterior[0].0].id;
    assert!(
        top == "signing-cert-not-refreshed" || top == "reader-firmware-old",
        "{top}"
    );
    // Walk the whole way with every fix failing: re-issue comes after the other fixes.
    let mut obs: Vec<(String, String)> = Vec::new();
    let mut fixes = Vec::new();
    for _ in 0..20 {
        let case = Case {
            observations: obs.clone(),
            ..Case::default()
        };
        let a = kb.advise(sym(&kb, "cannot-sign"), &case).unwrap();
        match a.next.kind {
            StepKind::Check => obs.push((a.next.id.clone(), a.next.results[0].clone())),
            StepKind::Fix => {
                fixes.push(a.next.id.clone());
                obs.push((a.next.id.clone(), NOT_FIXED.into()));
            }
            StepKind::Escalate => {
                assert!(a.escalate);
                break;
            }
            StepKind::Done => unreachable!(),
        }
    }
    if let Some(i) = fixes.iter().position(|f| f == "reissue-card") {
        assert_eq!(i, fixes.len() - 1, "{fixes:?}");
        assert!(fixes.contains(&"update-middleware".to_owned()), "{fixes:?}");
    }
}

/// Under NHS Smartcard Connect no PIN box appears when the card goes in and taking it out does
/// not sign out: said plainly, not treated as a fault, when the estate knows the client; on an
/// Identity Agent workstation the same words lead to the usual checks.
#[test]
fn smartcard_connect_behaviour_is_explained_not_fixed() {
    let kb = kb();
    let on = |client: &str| Case {
        facts: vec![fact("workstation.auth-client", client)],
        ..Case::default()
    };
    for symptom in ["no-pin-prompt", "still-signed-in-after-removal"] {
        let a = kb
            .advise(sym(&kb, symptom), &on("smartcard-connect"))
            .unwrap();
        assert_eq!(a.next.id, "explain-smartcard-connect", "{symptom}");
        assert!(
            a.next.prompt.starts_with("Nothing needs fixing"),
            "{}",
            a.next.prompt
        );
        assert_eq!(a.known[0].check, "auth-client");
        let a = kb.advise(sym(&kb, symptom), &on("identity-agent")).unwrap();
        assert_ne!(a.next.id, "explain-smartcard-connect", "{symptom}");
        assert!(
            !a.posterior
                .iter()
                .any(|(c, p)| kb.causes[*c].id == "smartcard-connect-expected" && *p > 0.0),
            "{symptom}: {:?}",
            a.posterior
        );
    }
    // What reception types finds the symptom; without Smartcard Connect named, a missing PIN
    // box is a card that is not picked up.
    for (text, want) in [
        (
            "since smartcard connect dr says no pin box comes up when she puts her card in",
            "no-pin-prompt",
        ),
        (
            "dr says no pin box comes up when she puts her card in",
            "card-not-recognised",
        ),
        (
            "still logged in after taking my card out",
            "still-signed-in-after-removal",
        ),
        // Credential Management's port message told from memory, the software named as the
        // newer client: the message, not the client, is what it is.
        (
            "smartcard connect says running on port but not connected",
            "error-1000",
        ),
    ] {
        let matching::Recognised::Symptom(m) = matching::recognise(&kb, text) else {
            panic!("{text:?}")
        };
        assert_eq!(kb.symptoms[m.symptom].id, want, "{text:?}");
    }
}

#[test]
fn known_facts_are_used_not_asked() {
    let kb = kb();
    let case = Case {
        facts: vec![fact("software.oberthur-middleware", "outdated")],
        ..Case::default()
    };
    let a = kb.advise(sym(&kb, "cannot-sign"), &case).unwrap();
    assert_eq!(a.next.id, "update-middleware");
    assert_eq!(a.known.len(), 1);
    assert_eq!(a.known[0].check, "middleware-version");
    assert!(a.known[0].because.starts_with("not asked: the estate says"));
    // The middleware is current and the signing certificate expired: neither question asked, and
    // no refresh, which an expired certificate does not take.
    let case = Case {
        facts: vec![
            fact("software.oberthur-middleware", "current"),
            fact("cert.signing", "expired"),
        ],
        ..Case::default()
    };
    let a = kb.advise(sym(&kb, "cannot-sign"), &case).unwrap();
    assert_ne!(a.next.id, "refresh-signing-cert", "{}", a.next.reason);
    assert_eq!(kb.causes[a.posterior[0].0].id, "signing-cert-expired");
    assert_eq!(a.known.len(), 2);
    assert!(a.minutes_spent == 0.0, "facts cost nothing");
    // A fact with a value the check does not know is no evidence.
    let case = Case {
        facts: vec![fact("software.oberthur-middleware", "purple")],
        ..Case::default()
    };
    let a = kb.advise(sym(&kb, "cannot-sign"), &case).unwrap();
    assert!(a.known.is_empty());
    // An answer given by a person wins over a fact.
    let case = Case {
        observations: vec![("middleware-version".into(), "current".into())],
        facts: vec![fact("software.oberthur-middleware", "outdated")],
        ..Case::default()
    };
    let a = kb.advise(sym(&kb, "cannot-sign"), &case).unwrap();
    assert!(a.known.is_empty());
    assert_ne!(a.next.id, "update-middleware");
}

fn described(kb: &KnowledgeBase, id: &str, words: &str, observations: &[(&str, &str)]) -> Advice {
    advise_told(kb, id, Some(words), observations)
}

/// The checks a description answered, as `check=result`.
fn answered(a: &Advice) -> Vec<String> {
    a.known
        .iter()
        .map(|k| format!("{}={}", k.check, k.result))
        .collect()
}

#[test]
fn what_was_said_is_not_asked_again() {
    let kb = kb();
    // Someone who said the light is off is not asked whether it is on; the answer weighs as if
    // given, and costs nothing.
    let a = described(&kb, "card-not-recognised", "the reader light is off", &[]);
    assert_eq!(answered(&a), ["reader-light=no"]);
    assert_ne!(a.next.id, "reader-light");
    assert!(
        a.known[0].because.contains("the reader light is off"),
        "{}",
        a.known[0].because
    );
    assert!(a.minutes_spent == 0.0, "words cost nothing");
    let asked = advise(&kb, "card-not-recognised", &[("reader-light", "no")]);
    assert_eq!(a.posterior, asked.posterior);
    // An answer given since wins over the words.
    let a = described(
        &kb,
        "card-not-recognised",
        "the reader light is off",
        &[("reader-light", "yes")],
    );
    assert!(a.known.is_empty());
    assert_eq!(
        a.posterior,
        advise(&kb, "card-not-recognised", &[("reader-light", "yes")]).posterior
    );
    // Words that fit two answers leave the check to be asked.
    let a = described(
        &kb,
        "card-not-recognised",
        "the light is on then goes off",
        &[],
    );
    assert!(a.known.is_empty(), "{:?}", answered(&a));
    // Only the symptom's own checks are answered: whether others are hit does not tell a
    // reader's causes apart.
    let a = described(
        &kb,
        "card-not-recognised",
        "everyone's card is not recognised",
        &[],
    );
    assert!(a.known.is_empty(), "{:?}", answered(&a));
    // The words win over the estate's facts, as any person's answer does.
    let case = Case {
        words: Some("she says her card is locked".into()),
        facts: vec![fact("card.status", "active")],
        ..Case::default()
    };
    let a = kb.advise(sym(&kb, "pin-rejected"), &case).unwrap();
    assert_eq!(
        answered(&a),
        ["screen-says-locked=yes", "card-status=active"]
    );
}

#[test]
fn descriptions_answer_the_checks_they_settle_and_no_others() {
    let kb = kb();
    for (symptom, words, expected) in [
        (
            "card-not-recognised",
            "the reader light is off",
            "reader-light=no",
        ),
        (
            "card-not-recognised",
            "the light isn't on",
            "reader-light=no",
        ),
        (
            "card-not-recognised",
            "no lights on the reader at all",
            "reader-light=no",
        ),
        (
            "card-not-recognised",
            "the light flashes but nothing happens",
            "reader-light=yes",
        ),
        // "On" as where the light is, not whether it is lit.
        (
            "card-not-recognised",
            "the light on the reader is off",
            "reader-light=no",
        ),
        (
            "card-not-recognised",
            "the light is on but it doesn't read the card",
            "reader-light=yes",
        ),
        (
            "card-not-recognised",
            "the pin box doesn't come up",
            "ia-window=no",
        ),
        (
            "card-not-recognised",
            "it doesn't ask for her pin when the card goes in",
            "ia-window=no",
        ),
        (
            "card-not-recognised",
            "the pin box comes up then says problem reading",
            "ia-window=yes",
        ),
        (
            "card-not-recognised",
            "works fine on the pc next door",
            "other-workstation=yes",
        ),
        (
            "card-not-recognised",
            "doesn't work on other computers either",
            "other-workstation=no",
        ),
        (
            "spine-timeouts",
            "everyone at the surgery keeps timing out",
            "others-affected=yes",
        ),
        (
            "spine-timeouts",
            "no one else has the timeouts",
            "others-affected=no",
        ),
        // A failure near the update denies no update.
        (
            "after-update",
            "stopped working after the windows update",
            "recent-update=yes",
        ),
        (
            "after-update",
            "card stopped working, there have been no updates",
            "recent-update=no",
        ),
        (
            "pin-rejected",
            "her pin is definitely right but it says wrong",
            "pin-sure=sure",
        ),
        (
            "pin-rejected",
            "pin refused, the card is not locked",
            "screen-says-locked=no",
        ),
        (
            "limited-functionality",
            "she can't see her prescribing role",
            "roles-shown=some-missing",
        ),
        (
            "no-pin-prompt",
            "we moved to smartcard connect and there is no pin box",
            "auth-client=smartcard-connect",
        ),
    ] {
        let a = described(&kb, symptom, words, &[]);
        assert_eq!(answered(&a), [expected], "{words:?}");
        assert_ne!(a.next.id, expected.split('=').next().unwrap(), "{words:?}");
    }
    // Descriptions that say nothing a check asks.
    for (symptom, words) in [
        ("card-not-recognised", "card not recognised"),
        ("card-not-recognised", "the card reader is not reading"),
        // Questions tell nothing.
        (
            "card-not-recognised",
            "is the light supposed to be on? the card isn't read",
        ),
        ("cannot-sign", "she can log in but can't sign"),
        ("pin-rejected", "not sure if the pin is right"),
        ("after-update", "did an update break it"),
    ] {
        let a = described(&kb, symptom, words, &[]);
        assert!(a.known.is_empty(), "{words:?}: {:?}", answered(&a));
    }
}

#[test]
fn an_agents_report_answers_the_checks_it_can_see() {
    use crate::catalogue::Catalogue;
    use crate::date::Timestamp;
    use crate::inventory::{Installed, Inventory, Probes};
    use crate::reader::{CardCertificate, Firmware, Reader, Readers};
    use crate::x509::{CertPurpose, CertificateInfo};
    let kb = kb();
    let now = Timestamp::from_unix(1_800_000_000);
    let cert = |purpose: CertPurpose, days: i64| CardCertificate {
        token: "CARD-1".into(),
        token_serial: "SC0001".into(),
        label: purpose.as_str().into(),
        cert: CertificateInfo {
            purpose,
            subject: "CN=Asha Patel".into(),
            issuer: "CN=NHS".into(),
            serial_number: "01".into(),
            not_before: Timestamp::from_unix(0),
            not_after: Timestamp::from_unix(now.unix() + days * 86_400),
            hash_algorithm: "sha256".into(),
        },
    };
    let reader = |card: bool| Reader {
        name: "OMNIKEY 3121 00 00".into(),
        vendor: Some("HID Global".into()),
        model: None,
        firmware: Firmware::Unsupported,
        card_present: card,
        atr: None,
    };
    let mut inv = Inventory {
        hostname: "GP-A81001-03".into(),
        agent_version: "0.1.0".into(),
        os: None,
        readers: Some(Readers::new(vec![reader(true)])),
        certificates: Some(vec![
            cert(CertPurpose::Authentication, 300),
            cert(CertPurpose::Signing, -2),
        ]),
        software: vec![Installed {
            component: "oberthur-middleware".into(),
            version: "99.0".into(),
            source: "test".into(),
        }],
        probed: vec!["oberthur-middleware".into()],
        problems: vec![],
        clock_offset_seconds: None,
        programs: None,
    };
    let probes = Probes {
        credential_management_ports: vec![(43487, false)],
        ..Probes::default()
    };
    let facts = agent_facts(&inv, Some(&probes), &Catalogue::shipped(), now);
    let value = |facts: &[Fact], k: &str| {
        facts
            .iter()
            .find(|f| f.key == k)
            .map(|f| f.value.clone())
            .unwrap_or_default()
    };
    assert_eq!(value(&facts, "cert.signing"), "expired");
    assert_eq!(value(&facts, "cert.authentication"), "valid");
    assert_eq!(value(&facts, "agent.card-seated"), "yes");
    assert_eq!(value(&facts, "agent.reader-driver-ok"), "yes");
    assert_eq!(value(&facts, "software.oberthur-middleware"), "current");
    assert_eq!(value(&facts, "software.identity-agent"), "missing");
    assert_eq!(
        value(&facts, "agent.credential-management-running"),
        "not-running"
    );
    assert!(
        facts
            .iter()
            .all(|f| f.because.starts_with("the agent") && f.because.contains("GP-A81001-03")),
        "{facts:?}"
    );
    // Nothing asked that the agent answered: the expired signing certificate is the cause.
    let case = Case {
        facts,
        ..Case::default()
    };
    let a = kb.advise(sym(&kb, "cannot-sign"), &case).unwrap();
    assert_eq!(kb.causes[a.posterior[0].0].id, "signing-cert-expired");
    assert!(a.known.iter().any(|k| k.check == "signing-cert-status"));
    // Two cards attached is seen, not asked; no reader at all says the driver is missing; an
    // unreadable part gives no fact at all.
    inv.readers = Some(Readers::new(vec![reader(true), reader(true)]));
    inv.certificates = None;
    let facts = agent_facts(&inv, None, &Catalogue::shipped(), now);
    assert_eq!(value(&facts, "agent.card-seated"), "two-cards");
    assert_eq!(value(&facts, "cert.signing"), "");
    assert_eq!(value(&facts, "agent.credential-management-running"), "");
    inv.readers = Some(Readers::new(vec![]));
    let facts = agent_facts(&inv, None, &Catalogue::shipped(), now);
    assert_eq!(value(&facts, "agent.reader-driver-ok"), "no");
    assert_eq!(value(&facts, "agent.card-seated"), "not-inserted");
}

#[test]
fn escalation_triggers() {
    let kb = kb();
    let s = sym(&kb, "card-not-recognised");
    // Time: 20 minutes by default.
    let case = Case {
        elapsed_minutes: Some(20.0),
        ..Case::default()
    };
    let a = kb.advise(s, &case).unwrap();
    assert!(a.escalate);
    assert_eq!(a.next.kind, StepKind::Escalate);
    assert!(
        a.escalate_because[0].contains("20 minutes"),
        "{:?}",
        a.escalate_because
    );
    let case = Case {
        elapsed_minutes: Some(19.0),
        ..Case::default()
    };
    assert!(!kb.advise(s, &case).unwrap().escalate);
    // The steps' own minutes count when no clock is given.
    let a = advise(
        &kb,
        "cannot-sign",
        &[
            ("update-middleware", NOT_FIXED),
            ("refresh-signing-cert", NOT_FIXED),
        ],
    );
    assert!(a.minutes_spent >= 25.0);
    assert!(a.escalate, "{:?}", a.escalate_because);
    // A cluster: one other person at the site.
    let case = Case {
        others_affected: 1,
        ..Case::default()
    };
    let a = kb.advise(s, &case).unwrap();
    assert!(
        a.escalate_because.iter().any(|b| b.contains("2 people")),
        "{:?}",
        a.escalate_because
    );
    let case = Case {
        others_affected: 0,
        ..Case::default()
    };
    assert!(!kb.advise(s, &case).unwrap().escalate);
    // Exhausted: the only fix failed.
    let a = advise(
        &kb,
        "onboarding-emis-cdb",
        &[("correct-emis-cdb", NOT_FIXED)],
    );
    assert!(a.escalate);
    assert!(
        a.escalate_because.iter().any(|b| b.contains("every fix")),
        "{:?}",
        a.escalate_because
    );
    // Answers that no cause makes likely still give a usable advice: a proper distribution
    // over the causes, and a step that is not one of the checks already answered.
    let answered = ["card-series", "card-status", "screen-says-locked"];
    let a = advise(
        &kb,
        "card-locked",
        &[
            ("card-series", "series-10"),
            ("card-status", "active"),
            ("screen-says-locked", "no"),
        ],
    );
    let total: f64 = a.posterior.iter().map(|(_, p)| p).sum();
    assert!(
        (total - 1.0).abs() < 1e-9 && a.posterior.iter().all(|(_, p)| p.is_finite()),
        "{:?}",
        a.posterior
    );
    assert!(!answered.contains(&a.next.id.as_str()), "{:?}", a.next);
    let a = advise(
        &kb,
        "onboarding-permission",
        &[("role-kind", "service-role")],
    );
    assert!(!a.escalate);
}

#[test]
fn a_fix_that_works_closes_with_its_cause() {
    let kb = kb();
    let a = advise(
        &kb,
        "cannot-sign",
        &[
            ("middleware-version", "outdated"),
            ("update-middleware", FIXED),
        ],
    );
    assert_eq!(a.next.kind, StepKind::Done);
    assert_eq!(
        kb.causes[a.confirmed_cause.unwrap()].id,
        "middleware-outdated"
    );
    assert!((a.minutes_spent - 18.0).abs() < 1e-9, "{}", a.minutes_spent);
}

#[test]
fn bad_observations_are_named() {
    let kb = kb();
    let s = sym(&kb, "cannot-sign");
    let case = |id: &str, r: &str| Case {
        observations: vec![(id.into(), r.into())],
        ..Case::default()
    };
    let e = kb.advise(s, &case("no-such-check", "yes")).unwrap_err();
    assert_eq!(e.step_id(), Some("no-such-check"));
    let e = kb
        .advise(s, &case("middleware-version", "maybe"))
        .unwrap_err();
    assert!(e.to_string().contains("current, outdated, missing"), "{e}");
    let e = kb.advise(s, &case("update-middleware", "yes")).unwrap_err();
    assert!(e.to_string().contains("fixed, not-fixed"), "{e}");
    let bad = Case {
        priors: Some(vec![0.5, 0.5]),
        ..Case::default()
    };
    assert!(matches!(
        kb.advise(s, &bad),
        Err(CaseError::BadPriors { .. })
    ));
}

#[test]
fn guardrails_in_every_path() {
    let kb = kb();
    for (i, _) in kb.symptoms.iter().enumerate() {
        for case in [
            Case::default(),
            Case {
                elapsed_minutes: Some(60.0),
                ..Case::default()
            },
        ] {
            let a = kb.advise(i, &case).unwrap();
            assert!(a.guardrail.contains("Never use another person's card"));
            assert!(a.guardrail.contains("read-only"));
            assert!(!suggests_sharing(&a.next.prompt), "{}", a.next.prompt);
        }
    }
    assert!(suggests_sharing("Borrow a colleague's card for now"));
    assert!(suggests_sharing("Ask someone to sign on their behalf"));
    assert!(suggests_sharing("Share the card until the new one arrives"));
    assert!(!suggests_sharing("Swap in a spare reader"));
    let e = with_extra(
        "[[fix]]\nid = \"lend-card\"\nprompt = \"Let them use a colleague's card until the RA visits.\"\nwho = \"reception\"\ncost_minutes = 1\nsource = \"no\"\n[fix.repairs]\ncard-faulty = 1.0\n",
    )
    .unwrap_err();
    assert_eq!((e.file.as_str(), e.line), ("extra.toml", 1), "{e}");
    assert!(e.message.contains("never advises"), "{e}");
}

#[test]
fn loader_refuses_inconsistent_bases_with_file_and_line() {
    // A probability out of range, at its line.
    let e = with_extra("[[symptom]]\nid = \"x\"\nname = \"X\"\nsource = \"s\"\n[symptom.causes]\ncard-faulty = 1.5\n").unwrap_err();
    assert_eq!((e.file.as_str(), e.line), ("extra.toml", 6), "{e}");
    assert!(e.message.contains("not a probability"), "{e}");
    // Priors that do not add up to one.
    let e = with_extra("[[symptom]]\nid = \"x\"\nname = \"X\"\nsource = \"s\"\n[symptom.causes]\ncard-faulty = 0.5\nwrong-pin = 0.2\n").unwrap_err();
    assert!(e.message.contains("add up to 0.700"), "{e}");
    // An unknown cause.
    let e = with_extra(
        "[[symptom]]\nid = \"x\"\nname = \"X\"\nsource = \"s\"\n[symptom.causes]\nbad-luck = 1.0\n",
    )
    .unwrap_err();
    assert_eq!(e.line, 6, "{e}");
    assert!(
        e.message.contains("\"bad-luck\", which no file defines"),
        "{e}"
    );
    // A symptom with no causes.
    let e = with_extra("[[symptom]]\nid = \"x\"\nname = \"X\"\nsource = \"s\"\ncauses = {}\n")
        .unwrap_err();
    assert_eq!(e.line, 5, "{e}");
    assert!(e.message.contains("has no causes"), "{e}");
    // A check's result that is not one of its results.
    let e = with_extra("[[check]]\nid = \"c\"\nkind = \"question\"\nprompt = \"?\"\nwho = \"reception\"\ncost_minutes = 1\nresults = [\"yes\", \"no\"]\nsource = \"s\"\n[check.likelihood]\ncard-faulty = { perhaps = 0.5 }\notherwise = { yes = 0.5 }\n").unwrap_err();
    assert_eq!(e.line, 10, "{e}");
    assert!(e.message.contains("not one of"), "{e}");
    // A check row that does not add up.
    let e = with_extra("[[check]]\nid = \"c\"\nkind = \"question\"\nprompt = \"?\"\nwho = \"reception\"\ncost_minutes = 1\nresults = [\"yes\", \"no\"]\nsource = \"s\"\n[check.likelihood]\ncard-faulty = { yes = 0.5, no = 0.4 }\notherwise = { yes = 0.5 }\n").unwrap_err();
    assert!(e.message.contains("add up to 0.900"), "{e}");
    // A fix naming an unknown cause, a negative cost, a mistyped field, an id twice in a file.
    let e = with_extra("[[fix]]\nid = \"f\"\nprompt = \"p\"\nwho = \"it\"\ncost_minutes = 5\nsource = \"s\"\n[fix.repairs]\nghosts = 0.5\n").unwrap_err();
    assert_eq!(e.line, 8, "{e}");
    let e = with_extra("[[fix]]\nid = \"f\"\nprompt = \"p\"\nwho = \"it\"\ncost_minutes = -5\nsource = \"s\"\n[fix.repairs]\ncard-faulty = 0.5\n").unwrap_err();
    assert_eq!(e.line, 5, "{e}");
    let e = with_extra("[[cause]]\nid = \"a\"\nname = \"A\"\nsauce = \"s\"\n").unwrap_err();
    assert!(e.message.contains("sauce"), "{e}");
    let e = with_extra("[[cause]]\nid = \"a\"\nname = \"A\"\nsource = \"s\"\n\n[[cause]]\nid = \"a\"\nname = \"B\"\nsource = \"s\"\n").unwrap_err();
    assert_eq!(e.line, 7, "{e}");
    let e = with_extra("[[cause]]\nid = \"Bad Id\"\nname = \"A\"\nsource = \"s\"\n").unwrap_err();
    assert!(e.message.contains("lower-case"), "{e}");
    // A cause no fix repairs cannot be a symptom's cause.
    let e = with_extra("[[cause]]\nid = \"gremlins\"\nname = \"G\"\nsource = \"s\"\n[[symptom]]\nid = \"x\"\nname = \"X\"\nsource = \"s\"\n[symptom.causes]\ngremlins = 1.0\n").unwrap_err();
    assert!(e.message.contains("no fix repairs"), "{e}");
    // What a description says must name one of the check's results, and say it plainly.
    let e = with_extra("[[check]]\nid = \"c\"\nkind = \"question\"\nprompt = \"?\"\nwho = \"reception\"\ncost_minutes = 1\nresults = [\"yes\", \"no\"]\nsource = \"s\"\nsaid = { perhaps = [\"light\"] }\n[check.likelihood]\ncard-faulty = { yes = 0.5 }\notherwise = { yes = 0.2 }\n").unwrap_err();
    assert_eq!((e.file.as_str(), e.line), ("extra.toml", 9), "{e}");
    assert!(
        e.message.contains("said names the result \"perhaps\""),
        "{e}"
    );
    let e = with_extra("[[check]]\nid = \"c\"\nkind = \"question\"\nprompt = \"?\"\nwho = \"reception\"\ncost_minutes = 1\nresults = [\"yes\", \"no\"]\nsource = \"s\"\nsaid = { no = [\"light fail?\"] }\n[check.likelihood]\ncard-faulty = { yes = 0.5 }\notherwise = { yes = 0.2 }\n").unwrap_err();
    assert!(e.message.contains("says so plainly"), "{e}");
    // Settings out of range.
    let e = with_extra("[settings]\nescalate_after_minutes = 0\nescalation_minutes = 60\ncluster_people = 2\ncluster_window_minutes = 60\nprior_strength = 20\nguardrail = \"g\"\nsource = \"s\"\n").unwrap_err();
    assert!(e.message.contains("15 to 20"), "{e}");
}

#[test]
fn an_override_replaces_by_id() {
    let kb = with_extra("[[fix]]\nid = \"update-middleware\"\nprompt = \"Run the practice's middleware installer.\"\nwho = \"it\"\ncost_minutes = 5\nsource = \"local\"\n[fix.repairs]\nmiddleware-outdated = 0.99\n").unwrap();
    let f = &kb.fixes[kb.fix("update-middleware").unwrap()];
    assert_eq!(f.cost_minutes, 5.0);
    assert_eq!(kb.fixes.len(), KnowledgeBase::shipped().fixes.len());
    // Cheaper now: straight to it, no check first.
    let a = kb
        .advise(sym(&kb, "cannot-sign"), &Case::default())
        .unwrap();
    assert_eq!(a.next.id, "update-middleware");
}

#[test]
fn learning_nudges_then_dominates() {
    let kb = kb();
    let s = sym(&kb, "cannot-sign");
    let firmware = kb.cause("reader-firmware-old").unwrap();
    let k = kb.symptoms[s]
        .causes
        .iter()
        .position(|c| c.0 == firmware)
        .unwrap();
    let shipped = kb.symptoms[s].causes[k].1;
    let mut site = Tally::new();
    site.add(&kb, s, firmware, 5.0);
    let nudged = learned_priors(&kb, s, &Tally::new(), Some(&site))[k];
    assert!(nudged > shipped && nudged < 0.5, "{shipped} → {nudged}");
    site.add(&kb, s, firmware, 295.0);
    let dominated = learned_priors(&kb, s, &Tally::new(), Some(&site))[k];
    assert!(dominated > 0.9, "{dominated}");
    // The site's counts do not move the estate's priors, and the estate's move the site's.
    let mut estate = Tally::new();
    estate.add_by_id(&kb, "cannot-sign", "signing-cert-expired", 100.0);
    let p = learned_priors(&kb, s, &estate, None);
    assert!((p.iter().sum::<f64>() - 1.0).abs() < 1e-9);
    let cert = kb.symptoms[s]
        .causes
        .iter()
        .position(|c| kb.causes[c.0].id == "signing-cert-expired")
        .unwrap();
    assert!(p[cert] > 0.8);
    // Unknown ids are ignored.
    estate.add_by_id(&kb, "cannot-sign", "no-such-cause", 9.0);
    assert_eq!(estate.total(s), 100.0);
    // Learned priors change the first step.
    let case = Case {
        priors: Some(learned_priors(&kb, s, &Tally::new(), Some(&site))),
        ..Case::default()
    };
    let a = kb.advise(s, &case).unwrap();
    assert_ne!(a.next.id, "middleware-version");
}

#[test]
fn simulation_beats_the_fixed_order_and_learns() {
    let kb = kb();
    let r = simulate(
        &kb,
        &SimConfig {
            n: 600,
            seed: 7,
            symptom: None,
            best: false,
        },
    );
    assert!(r.engine.mean < r.fixed_order.mean, "{r:?}");
    assert!(r.engine_with_estate.mean <= r.engine.mean, "{r:?}");
    assert!(r.oracle.mean <= r.engine.mean, "{r:?}");
    assert!(r.engine.p95 >= r.engine.mean);
    assert!(r.learning.after_200 < r.learning.before, "{:?}", r.learning);
    assert_eq!(r.learning.symptom, "cannot-sign");
    // Deterministic for a seed.
    let again = simulate(
        &kb,
        &SimConfig {
            n: 600,
            seed: 7,
            symptom: None,
            best: false,
        },
    );
    assert_eq!(r, again);
    // One symptom only.
    let s = sym(&kb, "onboarding-emis-cdb");
    let r = simulate(
        &kb,
        &SimConfig {
            n: 200,
            seed: 1,
            symptom: Some(s),
            best: false,
        },
    );
    assert_eq!(
        r.engine.mean, r.oracle.mean,
        "a single cause leaves nothing to find out"
    );
}

fn record(kind: crate::records::Kind, csv: &str) -> crate::records::Record {
    let fields: Vec<&str> = csv.split(',').collect();
    crate::records::Record::parse(kind, &fields).unwrap_or_else(|e| panic!("{csv}: {e:?}"))
}

fn context() -> TriageContext {
    use crate::records::{Kind, Record};
    let Record::Card(card) = record(Kind::Cards, "CS000001,555123456789,9,active,2024-01-10,")
    else {
        unreachable!()
    };
    let cert = |csv| match record(Kind::Certificates, csv) {
        Record::Certificate(c) => c,
        _ => unreachable!(),
    };
    let Record::Position(pos) = record(
        Kind::Positions,
        "555123456789,A81001,R8000,Clinical Practitioner,B0420 B0068,active,,2024-01-02",
    ) else {
        unreachable!()
    };
    let sw = |csv| match record(Kind::Software, csv) {
        Record::Software(s) => s,
        _ => unreachable!(),
    };
    let Record::Reader(reader) = record(
        Kind::Readers,
        "RD1,HID Omnikey,3121,1.0,GP-A81001-01,A81001,in_service",
    ) else {
        unreachable!()
    };
    TriageContext {
        site: Some("A81001".into()),
        site_name: Some("Riverside Surgery".into()),
        card: Some(card),
        certificates: vec![
            cert("CS000001,authentication,01,NHS,2024-01-10,2027-06-30,sha256"),
            cert("CS000001,signing,02,NHS,2024-01-10,2026-11-01,sha256"),
        ],
        positions: vec![pos],
        holder_name: Some("Dr Asha Patel".into()),
        holder_site: Some("A81001".into()),
        workstation: None,
        hostname: Some("GP-A81001-01".into()),
        software: vec![
            sw("GP-A81001-01,oberthur-middleware,6.0.0.1"),
            sw("GP-A81001-01,identity-agent,2.4.10.0"),
            sw("GP-A81001-01,gemalto-middleware,7.1"),
        ],
        readers: vec![reader],
        integrations: vec![],
        last_signing: None,
    }
}

#[test]
fn the_estate_answers_lookups() {
    let kb = kb();
    let catalogue = crate::catalogue::Catalogue::shipped();
    let today = crate::date::Date::parse("2026-11-22").unwrap();
    let prescribing = vec!["B0420".to_owned()];
    let facts = estate_facts(&context(), &catalogue, today, &prescribing);
    let get = |k: &str| {
        facts
            .iter()
            .find(|f| f.key == k)
            .map(|f| f.value.as_str())
            .unwrap_or_else(|| panic!("no fact {k}: {facts:?}"))
    };
    assert_eq!(get("card.status"), "active");
    assert_eq!(get("card.series"), "other");
    assert_eq!(get("cert.signing"), "expired");
    assert_eq!(get("cert.authentication"), "valid");
    assert_eq!(get("position.status"), "active");
    assert_eq!(get("position.at-site"), "yes");
    assert_eq!(get("position.activity-codes"), "yes");
    assert_eq!(get("software.oberthur-middleware"), "outdated");
    assert_eq!(get("software.identity-agent"), "current");
    assert_eq!(get("software.credential-management"), "missing");
    assert_eq!(get("software.gemalto-middleware"), "present");
    assert_eq!(get("reader.firmware"), "outdated");
    assert!(facts.iter().all(|f| !f.because.is_empty()));
    let sign = facts.iter().find(|f| f.key == "cert.signing").unwrap();
    // In the words the step page shows to reception: a date as people write it.
    assert!(
        sign.because.ends_with("valid until 1 November 2026"),
        "{}",
        sign.because
    );

    // With them, "cannot sign" asks none of the lookups the estate answered.
    let case = Case {
        facts: facts.clone(),
        ..Case::default()
    };
    let a = kb.advise(sym(&kb, "cannot-sign"), &case).unwrap();
    let known: Vec<&str> = a.known.iter().map(|k| k.check.as_str()).collect();
    for c in [
        "middleware-version",
        "signing-cert-status",
        "reader-firmware",
        "card-series",
    ] {
        assert!(known.contains(&c), "{c} not used: {known:?}");
    }
    assert_eq!(a.next.kind, StepKind::Fix, "{}", a.next.reason);

    // Near misses: a signing certificate 31 days out is valid, 30 expiring; nothing about an
    // unknown workstation.
    let mut cx = context();
    cx.certificates[1].not_after = today.add_days(31);
    cx.hostname = None;
    let facts = estate_facts(&cx, &catalogue, today, &prescribing);
    assert!(facts
        .iter()
        .any(|f| f.key == "cert.signing" && f.value == "valid"));
    assert!(!facts.iter().any(|f| f.key.starts_with("software.")));
    cx.certificates[1].not_after = today.add_days(30);
    let facts = estate_facts(&cx, &catalogue, today, &prescribing);
    assert!(facts
        .iter()
        .any(|f| f.key == "cert.signing" && f.value == "expiring"));
}

#[test]
fn the_integration_profile_answers_onboarding_checks() {
    use crate::records::{Kind, Record};
    let kb = kb();
    let catalogue = crate::catalogue::Catalogue::shipped();
    let today = crate::date::Date::parse("2026-11-22").unwrap();
    let mut cx = context();
    let Record::Integration(i) = record(
        Kind::Integrations,
        "ht1-a81001,Healthtech-1,A81001,emis,R8000,,12345,12354,,",
    ) else {
        unreachable!()
    };
    let Record::IntegrationCard(link) = record(Kind::IntegrationCards, "ht1-a81001,CS000001,")
    else {
        unreachable!()
    };
    cx.integrations.push((i, link));
    let facts = estate_facts(&cx, &catalogue, today, &[]);
    let get = |k: &str| facts.iter().find(|f| f.key == k).map(|f| f.value.as_str());
    assert_eq!(get("integration.emis-cdb"), Some("no"));
    assert_eq!(get("integration.emis-account"), Some("no"));
    assert!(get("integration.systmone-profile").is_none());
    let case = Case {
        facts: facts.clone(),
        ..Case::default()
    };
    // "Sign in to EMIS failed": the profile says the card has no EMIS account, so nobody is
    // asked and the first step is to create one.
    let a = kb
        .advise(sym(&kb, "onboarding-emis-sign-in"), &case)
        .unwrap();
    let known: Vec<&str> = a.known.iter().map(|k| k.check.as_str()).collect();
    assert_eq!(known, ["emis-account-exists"]);
    assert_eq!(a.next.id, "create-emis-account", "{}", a.next.reason);
    // The profile of another site says nothing about this one.
    cx.site = Some("B82002".into());
    let facts = estate_facts(&cx, &catalogue, today, &[]);
    assert!(!facts.iter().any(|f| f.key.starts_with("integration.")));
}

#[test]
fn cheat_sheet_for_a_site() {
    let kb = kb();
    let contacts = vec![
        Contact {
            role: "IT service desk".into(),
            name: "Riverside IT".into(),
            phone: Some("0161 000 0000".into()),
            email: None,
            serves: vec!["A81001".into()],
        },
        Contact {
            role: "Registration Authority".into(),
            name: "ICB RA team".into(),
            phone: None,
            email: Some("ra@example.nhs.uk".into()),
            serves: vec![],
        },
        Contact {
            role: "IT".into(),
            name: "Elsewhere IT".into(),
            phone: None,
            email: None,
            serves: vec!["B82002".into()],
        },
    ];
    let sheet = kb.cheat_sheet(
        "A81001",
        Some("Riverside Surgery"),
        |_| None,
        &contacts,
        None,
    );
    assert_eq!(sheet.sections.len(), kb.settings.cheat_sheet.len());
    for s in &sheet.sections {
        assert!(!s.steps.is_empty() && s.steps.len() <= 4, "{s:?}");
        for step in &s.steps {
            let who = kb
                .checks
                .iter()
                .map(|c| (&c.prompt, c.who))
                .chain(kb.fixes.iter().map(|f| (&f.prompt, f.who)))
                .find(|(p, _)| *p == step)
                .map(|x| x.1)
                .unwrap();
            assert!(who.at_the_desk(), "{step} needs {who:?}");
        }
    }
    assert_eq!(
        sheet.contacts.len(),
        2,
        "the other site's contact is left off"
    );
    let text = sheet.to_text();
    assert!(text.contains("Riverside Surgery (A81001)"));
    assert!(text.contains("within 20 minutes"));
    assert!(text.contains("Never use another person's card"));
    assert!(
        sheet
            .contacts
            .iter()
            .any(|c| CheatSheet::contact_line(c) == "IT service desk: Riverside IT, 0161 000 0000"),
        "{:?}",
        sheet.contacts
    );
    // The order follows the site's own history.
    let s = sym(&kb, "cannot-sign");
    let firmware = kb.cause("reader-firmware-old").unwrap();
    let mut site = Tally::new();
    site.add(&kb, s, firmware, 200.0);
    let learned = learned_priors(&kb, s, &Tally::new(), Some(&site));
    let shipped_steps = kb.desk_steps(s, None, Vec::new());
    let local_steps = kb.desk_steps(s, Some(learned), Vec::new());
    assert_ne!(
        shipped_steps.first(),
        local_steps.first(),
        "{shipped_steps:?}"
    );
}

#[test]
fn exact_expectations_bound_the_engine_between_the_oracle_and_the_best_strategy() {
    let kb = kb();
    for id in [
        "cannot-sign",
        "pin-rejected",
        "card-locked",
        "renewal-prompt",
        "onboarding-ods-missing",
    ] {
        let s = sym(&kb, id);
        let mut last_best = f64::INFINITY;
        for a in Answered::ALL {
            let x = expected(&kb, s, None, a, true).unwrap();
            let best = x.best.unwrap();
            // The search includes the engine's own strategy, and nothing beats knowing the cause.
            assert!(best <= x.engine + 1e-9, "{id} {a:?}: {x:?}");
            assert!(x.oracle <= best + 1e-9, "{id} {a:?}: {x:?}");
            // Knowing more never makes the best strategy slower.
            assert!(best <= last_best + 1e-9, "{id} {a:?}: {x:?}");
            last_best = best;
        }
    }
    // One cause leaves nothing to find out: all three agree.
    let x = expected(
        &kb,
        sym(&kb, "onboarding-emis-cdb"),
        None,
        Answered::Nothing,
        true,
    )
    .unwrap();
    assert!(
        (x.engine - x.oracle).abs() < 1e-9 && x.best == Some(x.engine),
        "{x:?}"
    );
    // Without the search the best is not given; priors of the wrong shape are refused.
    let s = sym(&kb, "cannot-sign");
    assert_eq!(
        expected(&kb, s, None, Answered::Nothing, false)
            .unwrap()
            .best,
        None
    );
    assert!(expected(&kb, s, Some(&[1.0]), Answered::Nothing, false).is_none());
}

#[test]
fn exact_expectations_match_the_sampled_simulation() {
    // The exact figures and the simulation are two ways to the same number: the sampled means
    // must fall within a few standard errors of the exact ones.
    let kb = kb();
    let s = sym(&kb, "cannot-sign");
    let n = 20_000;
    let r = simulate(
        &kb,
        &SimConfig {
            n,
            seed: 3,
            symptom: Some(s),
            best: false,
        },
    );
    let close = |sampled: f64, exact: f64, what: &str| {
        // Minutes to fix here are under 300, so 300/sqrt(n) bounds three standard errors.
        let tolerance = 300.0 / (n as f64).sqrt();
        assert!(
            (sampled - exact).abs() < tolerance,
            "{what}: sampled {sampled}, exact {exact}"
        );
    };
    for (row, sampled) in r.exact.iter().zip([
        r.engine.mean,
        r.engine_with_estate.mean,
        r.engine_with_agent.mean,
    ]) {
        close(sampled, row.engine, row.answered.describe());
        close(r.oracle.mean, row.oracle, "oracle");
    }
    assert!(r.engine_with_agent.mean <= r.engine_with_estate.mean + 1e-9);
}

#[test]
fn the_packet_names_the_workstations_last_successful_signing() {
    let kb = kb();
    use crate::date::Timestamp;
    let at = Timestamp::parse("2026-11-20T10:00:00Z").unwrap();
    let inc = Incident {
        id: 7,
        opened_at: at,
        opened: NewIncident {
            reporter: "cli:root".into(),
            card_serial: Some("CS000001".into()),
            hostname: Some("GP-A81001-01".into()),
            symptom: "cannot-sign".into(),
            ..NewIncident::default()
        },
        steps: Vec::new(),
        status: IncidentStatus::Escalated,
        confirmed_cause: None,
        minutes_to_fix: None,
        closed_at: None,
    };
    let s = sym(&kb, "cannot-sign");
    let advice = kb.advise(s, &Case::default()).unwrap();
    let mut cx = context();
    let catalogue = crate::catalogue::Catalogue::shipped();
    let packet = kb.packet(&inc, &advice, &cx, &catalogue, at);
    assert_eq!(
        packet.last_successful_signing, None,
        "no agent has seen one"
    );
    cx.last_signing = Some((
        Timestamp::parse("2026-11-19T16:05:00Z").unwrap(),
        "CS000001".into(),
    ));
    let text = kb.packet(&inc, &advice, &cx, &catalogue, at).to_text();
    assert!(
        text.contains(
            "Last signing that worked: 19 November 2026 at 16:05: card CS000001, the \
             workstation agent's signing self-test"
        ),
        "{text}"
    );
}

#[test]
fn the_packet_names_smartcard_software_as_the_catalogue_does() {
    let kb = kb();
    use crate::date::Timestamp;
    let at = Timestamp::parse("2026-11-20T10:00:00Z").unwrap();
    let inc = Incident {
        id: 8,
        opened_at: at,
        opened: NewIncident {
            reporter: "web:reception".into(),
            hostname: Some("GP-A81001-01".into()),
            application: Some("emis-web".into()),
            symptom: "no-pin-prompt".into(),
            ..NewIncident::default()
        },
        steps: vec![IncidentStep {
            at,
            id: "auth-client".into(),
            result: "smartcard-connect".into(),
        }],
        status: IncidentStatus::Escalated,
        confirmed_cause: None,
        minutes_to_fix: None,
        closed_at: None,
    };
    let s = sym(&kb, &inc.opened.symptom);
    let advice = kb.advise(s, &inc.case(at)).unwrap();
    let mut cx = context();
    // A component the catalogue does not list keeps its id.
    let sw = match record(
        crate::records::Kind::Software,
        "GP-A81001-01,acme-helper,1.2",
    ) {
        crate::records::Record::Software(s) => s,
        _ => unreachable!(),
    };
    cx.software.push(sw);
    let catalogue = crate::catalogue::Catalogue::shipped();
    let p = kb.packet(&inc, &advice, &cx, &catalogue, at);
    assert_eq!(
        p.software_names,
        [
            "Oberthur (IDEMIA) smartcard middleware 6.0.0.1",
            "NHS Identity Agent 2.4.10.0",
            "Gemalto (Thales) smartcard middleware 7.1",
            "acme-helper 1.2",
        ]
    );
    // The JSON keeps the ids beside the names.
    assert_eq!(p.software[0], "oberthur-middleware 6.0.0.1");
    assert_eq!(p.application_name.as_deref(), Some("EMIS Web"));
    // An answer that is a component is given by its name, in the steps and the text.
    assert_eq!(
        p.steps[0].answer,
        "NHS Smartcard Connect (with NHS Credential Management 4.1)"
    );
    assert_eq!(p.steps[0].result, "smartcard-connect");
    let text = p.to_text();
    assert!(
        text.contains(
            "Smartcard software: Oberthur (IDEMIA) smartcard middleware 6.0.0.1; NHS Identity \
             Agent 2.4.10.0; Gemalto (Thales) smartcard middleware 7.1; acme-helper 1.2\n"
        ),
        "{text}"
    );
    assert!(
        text.contains("Answer: NHS Smartcard Connect (with NHS Credential Management 4.1)"),
        "{text}"
    );
    for id in ["oberthur-middleware", "identity-agent", "smartcard-connect"] {
        assert!(!text.contains(id), "{id:?} in {text}");
    }
    // With no catalogue to name them, every component keeps its id.
    let bare = kb.packet(
        &inc,
        &advice,
        &cx,
        &crate::catalogue::Catalogue::default(),
        at,
    );
    assert_eq!(bare.software_names, bare.software);
}

#[test]
fn a_step_that_cannot_be_made_teaches_nothing_and_is_not_offered_again() {
    let kb = kb();
    let s = sym(&kb, "cannot-sign");
    let first = kb.advise(s, &Case::default()).unwrap();
    let case = Case {
        observations: vec![(first.next.id.clone(), CANNOT.to_owned())],
        ..Case::default()
    };
    let after = kb.advise(s, &case).unwrap();
    assert_ne!(after.next.id, first.next.id);
    assert_eq!(after.posterior, first.posterior, "nothing was learnt");
    let unknown = Case {
        observations: vec![("no-such-step".into(), CANNOT.to_owned())],
        ..Case::default()
    };
    assert!(kb.advise(s, &unknown).is_err());
}

/// Every state the two certificates can be in, for each symptom that is about them: triage never
/// proposes that the holder renews an expired certificate themselves, and an expired
/// authentication certificate reaches the RA renewal before any hand-over.
#[test]
fn an_expired_certificate_is_never_sent_to_self_renewal() {
    let kb = kb();
    for symptom in [
        "renewal-prompt",
        "credentials-not-valid",
        "cannot-sign",
        "no-signing-certificate",
    ] {
        let s = sym(&kb, symptom);
        for auth in ["valid", "in-window", "expired", "unknown"] {
            for signing in ["valid", "expiring", "expired", "unknown"] {
                let mut facts = Vec::new();
                if auth != "unknown" {
                    facts.push(fact("cert.authentication", auth));
                }
                if signing != "unknown" {
                    facts.push(fact("cert.signing", signing));
                }
                // Answer every check "as the certificates are", every fix "not fixed", and
                // follow the engine to the end.
                let mut case = Case {
                    facts,
                    ..Case::default()
                };
                let mut proposed = Vec::new();
                for _ in 0..30 {
                    let a = kb.advise(s, &case).unwrap();
                    if matches!(a.next.kind, StepKind::Escalate | StepKind::Done) {
                        break;
                    }
                    proposed.push(a.next.id.clone());
                    let answer = match a.next.id.as_str() {
                        "auth-cert-status" if auth != "unknown" => auth.to_owned(),
                        "auth-cert-status" => "expired".to_owned(),
                        "signing-cert-status" if signing != "unknown" => signing.to_owned(),
                        "signing-cert-status" => "expired".to_owned(),
                        _ if kb.fix(&a.next.id).is_some() => NOT_FIXED.to_owned(),
                        _ => a.next.results[0].clone(),
                    };
                    case.observations.push((a.next.id.clone(), answer));
                }
                let state = format!("{symptom}, authentication {auth}, signing {signing}");
                let first_renewal = proposed.iter().position(|p| p == "self-renew");
                let expired = auth == "expired"
                    || (auth == "unknown" && proposed.iter().any(|p| p == "auth-cert-status"));
                if expired {
                    assert_eq!(first_renewal, None, "{state}: {proposed:?}");
                }
                if let Some(at) = first_renewal {
                    // Only once the certificate was seen inside its window.
                    let seen = auth == "in-window"
                        || case.observations[..at]
                            .iter()
                            .any(|(c, r)| c == "auth-cert-status" && r == "in-window");
                    assert!(
                        seen,
                        "{state}: self-renewal before the window was confirmed: {proposed:?}"
                    );
                }
                // Nor is an expired signing certificate sent to refresh itself, from the moment
                // it is known to have expired.
                let signing_known = match signing {
                    "expired" => Some(0),
                    "unknown" => proposed
                        .iter()
                        .position(|p| p == "signing-cert-status")
                        .map(|at| at + 1),
                    _ => None,
                };
                if let Some(from) = signing_known {
                    assert!(
                        !proposed[from..].iter().any(|p| p == "refresh-signing-cert"),
                        "{state}: an expired signing certificate sent to refresh: {proposed:?}"
                    );
                }
                if !["cannot-sign", "no-signing-certificate"].contains(&symptom)
                    && auth == "expired"
                {
                    assert!(
                        proposed.iter().any(|p| p == "ra-renew"),
                        "{state}: no RA renewal before the hand-over: {proposed:?}"
                    );
                }
            }
        }
    }
}

/// A site with computers on Smartcard Connect: its sheet says plainly that no PIN box when the
/// card goes in, and staying signed in when it comes out, are how the new client works.
#[test]
fn a_sheet_for_a_smartcard_connect_site_explains_what_is_new() {
    let kb = kb();
    let plain = kb.cheat_sheet("A81001", None, |_| None, &[], None);
    let connect = kb.cheat_sheet("A81001", None, |_| None, &[], Some("smartcard-connect"));
    assert_eq!(connect.sections.len(), plain.sections.len() + 1);
    let explain = &kb.fixes[kb.fix("explain-smartcard-connect").unwrap()].prompt;
    let new = connect.sections.last().unwrap();
    assert_eq!(new.steps, vec![explain.clone()], "{}", new.symptom);
    assert!(
        new.symptom.contains("no passcode box") && new.symptom.contains("does not sign out"),
        "{}",
        new.symptom
    );
}

#[test]
fn a_description_that_names_one_system_gives_the_incidents_application() {
    let kb = kb();
    for (text, want) in [
        ("EPS signing greyed out in emis", Some("emis-web")),
        ("cant get into emis web, card not read", Some("emis-web")),
        ("s1 keeps logging her out", Some("systmone")),
        ("works in emis but not in systmone", None),
        ("the card logs in but wont sign", None),
    ] {
        assert_eq!(application_said(&kb, text), want, "{text:?}");
    }
}

#[test]
fn a_contact_is_refused_without_a_dialable_number_or_with_an_overlong_name() {
    let contact = |name: &str, phone: &str| Contact {
        role: "IT service desk".into(),
        name: name.into(),
        phone: Some(phone.into()),
        email: None,
        serves: Vec::new(),
    };
    for phone in [
        "0113 496 0000",
        "+44 (0)113 496-0000",
        "0113 496 0000 ext 214",
        "01632960000x12",
    ] {
        assert_eq!(contact("Riverside IT", phone).problem(), None, "{phone}");
    }
    for phone in [
        "call me maybe",
        "12345",
        "0113 496 0000 or 0114",
        "<script>",
    ] {
        let p = contact("Riverside IT", phone).problem().unwrap_or_default();
        assert!(p.contains("is not a phone number"), "{phone}: {p}");
    }
    let p = contact(&"x".repeat(201), "0113 496 0000")
        .problem()
        .unwrap_or_default();
    assert!(p.contains("at most 200 characters"), "{p}");
}
