//! The snapshot's text read back: every renewal as it was written (a holder with no site, a
//! site without organisations, codes with the CSV's own characters), and lines that do not
//! parse refused even when their checksum matches (what was written was already wrong).

use std::sync::Arc;

use cardwatch_core::date::Date;
use cardwatch_core::planner::Renewal;
use cardwatch_core::vocab::Purpose;

use super::{checksum, decode, encode, places};

fn renewal(card: &str, site: &str, orgs: [Option<&str>; 2]) -> Renewal {
    Renewal {
        card_serial: card.to_owned(),
        purpose: Purpose::Signing,
        holder_uuid: format!("holder-of-{card}"),
        site: site.to_owned(),
        expiry: Date::parse("2027-02-28").expect("a day"),
        prescriber_signing: card.ends_with('1'),
        organisations: orgs.map(|o| o.map(Arc::from)),
    }
}

/// The text of `all` as written, and read back.
fn round_trip(all: &[Renewal]) -> Result<Vec<Renewal>, String> {
    let (text, rows) = places(all);
    let parts: Vec<(i64, String, String)> = all
        .chunks(2)
        .enumerate()
        .map(|(n, part)| {
            let body = encode(part, &rows[n * 2..n * 2 + part.len()]).expect("encoded");
            (n as i64, checksum(&body), body)
        })
        .collect();
    decode(&text, &parts, 2, all.len())
}

#[test]
fn every_renewal_reads_back_as_written() {
    let mut all = vec![
        renewal("C1", "A81001", [Some("QE1"), Some("Y60")]),
        renewal("C2", "A81001", [Some("QE1"), Some("Y60")]),
        renewal("C3", "", [None, None]),
        renewal("C4", "B1", [Some("ORG"), None]),
        renewal("C5", "B1", [Some(""), None]),
        renewal("C,\"6\"", "S,\"x\"", [Some("-"), Some("=o,\"")]),
        renewal("C7", "-", [None, Some("P")]),
    ];
    all[1].purpose = Purpose::Authentication;
    let back = round_trip(&all).expect("read back");
    assert_eq!(back, all);
    // An organisation shared by several renewals is one value, as a read of the estate gives.
    assert!(Arc::ptr_eq(
        back[0].organisations[0].as_ref().expect("an organisation"),
        back[1].organisations[0].as_ref().expect("an organisation")
    ));
    assert_eq!(round_trip(&[]).expect("none"), Vec::<Renewal>::new());
}

#[test]
fn lines_that_do_not_parse_are_refused() {
    let places = "A81001,=QE1,=Y60\n";
    for (body, why) in [
        ("C1,s,H1,0,2027-02-28\n", "wrong length"),
        ("C1,x,H1,0,2027-02-28,0\n", "purpose"),
        ("C1,s,H1,1,2027-02-28,0\n", "place"),
        ("C1,s,H1,-1,2027-02-28,0\n", "place"),
        ("C1,s,H1,0,2027-02-30,0\n", "expiry"),
        ("C1,s,H1,0,2027-02-28,yes\n", "prescriber"),
        ("C1,s,H1,0,2027-02-28,0,\n", "wrong length"),
        ("C1,s,H1,0,2027-02-28", "wrong length"),
        ("C1\n", "wrong length"),
        ("C1,s,H1,0,2027-02-28,0\nC2", "wrong length"),
        // Read by the CSV reader (a quoted field) rather than split in place.
        ("\"C,1\",s,H1,0,2027-02-28\n", "wrong length"),
        ("\"C,1\",x,H1,0,2027-02-28,0\n", "purpose"),
        ("\"C,1\",s,H1,1,2027-02-28,0\n", "place"),
        ("\"C,1\",s,H1,0,2027-02-28,yes\n", "prescriber"),
    ] {
        let parts = [(0, checksum(body), body.to_owned())];
        let err = decode(places, &parts, 1, 1).expect_err(body);
        assert!(err.contains(why), "{body}: {err}");
    }
    for body in [
        "C1,s,H1,0,2027-02-28,0\n",
        "C1,s,H1,0,2027-02-28,0",
        "\n\nC1,s,H1,0,2027-02-28,0\n\n",
        "\"C,1\",s,H1,0,2027-02-28,0\n",
    ] {
        let parts = [(0, checksum(body), body.to_owned())];
        assert!(decode(places, &parts, 1, 1).is_ok(), "{body}");
    }
    let body = "C1,s,H1,0,2027-02-28,0\n";
    let err = decode(places, &[(0, checksum("other"), body.to_owned())], 1, 1).expect_err("sum");
    assert!(err.contains("checksum"), "{err}");
    let err = decode("A81001,QE1,=Y60\n", &[], 1, 0).expect_err("a code without its mark");
    assert!(err.contains("place code"), "{err}");
}

/// Each part holds as many renewals as it was written with (all but the last a whole part): a
/// part with a line more or less, or a part missing or added, is refused.
#[test]
fn parts_of_another_length_are_refused() {
    let places = "A81001,=QE1,=Y60\n";
    let line = "C1,s,H1,0,2027-02-28,0\n";
    let part = |lines: usize| {
        let body = line.repeat(lines);
        (0, checksum(&body), body)
    };
    let parts = |sizes: &[usize]| -> Vec<(i64, String, String)> {
        sizes
            .iter()
            .enumerate()
            .map(|(n, s)| (n as i64, part(*s).1, part(*s).2))
            .collect()
    };
    assert_eq!(
        decode(places, &parts(&[3, 3, 1]), 3, 7).map(|a| a.len()),
        Ok(7)
    );
    for (sizes, count, why) in [
        (&[3, 2, 2][..], 7, "fewer renewals"),
        (&[3, 4, 0][..], 7, "more renewals"),
        (&[3, 3][..], 7, "renewals, not 3"),
        (&[3, 3, 1, 1][..], 7, "renewals, not 3"),
        (&[][..], 7, "renewals, not 3"),
    ] {
        let err = decode(places, &parts(sizes), 3, count).expect_err(why);
        assert!(err.contains(why), "{sizes:?}: {err}");
    }
}
