use proptest::prelude::*;

use super::*;

/// A response to a query for `_m._tcp.x.` SRV with one SRV answer whose target is
/// compressed against the question, one A record in the additional section.
fn srv_response() -> Vec<u8> {
    let mut m = vec![0x12, 0x34, 0x81, 0x80, 0, 1, 0, 1, 0, 0, 0, 1];
    // question at byte 12: _m._tcp.x. SRV IN
    m.extend_from_slice(b"\x02_m\x04_tcp\x01x\x00");
    m.extend_from_slice(&[0, 33, 0, 1]);
    // answer: pointer to the question name, SRV IN ttl 60
    m.extend_from_slice(&[0xc0, 12, 0, 33, 0, 1, 0, 0, 0, 60]);
    let rdata_target = b"\x04host\xc0\x14"; // "host" + pointer to "x." (byte 20)
    m.extend_from_slice(&(6 + rdata_target.len() as u16).to_be_bytes());
    m.extend_from_slice(&[0, 10, 0, 5, 0x23, 0x8c]); // priority 10, weight 5, port 9100
    m.extend_from_slice(rdata_target);
    // additional: host.x. A 127.0.0.1, name by pointer to the SRV target
    let host_at = (m.len() - rdata_target.len()) as u8;
    m.extend_from_slice(&[0xc0, host_at, 0, 1, 0, 1, 0, 0, 0, 60, 0, 4, 127, 0, 0, 1]);
    m
}

#[test]
fn decodes_a_compressed_srv_response() {
    let m = decode(&srv_response()).unwrap();
    assert_eq!(m.id, 0x1234);
    assert!(m.response && !m.truncated);
    assert_eq!(m.rcode(), Rcode::NOERROR);
    assert_eq!(m.questions, vec![Question { name: "_m._tcp.x.".into(), qtype: RecordType::SRV, class: 1 }]);
    assert_eq!(m.answers.len(), 1);
    assert_eq!(m.answers[0].name, "_m._tcp.x.");
    assert_eq!(m.answers[0].ttl, 60);
    assert_eq!(m.answers[0].data, RData::Srv { priority: 10, weight: 5, port: 9100, target: "host.x.".into() });
    assert_eq!(m.additional[0].name, "host.x.");
    assert_eq!(m.additional[0].data, RData::A(Ipv4Addr::LOCALHOST));
}

#[test]
fn query_round_trips_through_the_decoder() {
    let q = encode_query(7, "db.example.com", RecordType::AAAA, true).unwrap();
    let m = decode(&q).unwrap();
    assert_eq!(m.id, 7);
    assert!(!m.response);
    assert_eq!(m.questions[0].name, "db.example.com.");
    assert_eq!(m.questions[0].qtype, RecordType::AAAA);
    assert_eq!(m.additional[0].rtype, RecordType::OPT);
    assert_eq!(m.additional[0].class, EDNS_UDP_SIZE);
    assert_eq!(q[2], 0x01, "RD bit set");
    assert_eq!(decode(&encode_query(1, ".", RecordType::NS, false).unwrap()).unwrap().questions[0].name, ".");
}

#[test]
fn names_dns_cannot_carry_are_refused() {
    let long_label = "a".repeat(64);
    let long_name = vec!["abcdefghi"; 30].join(".");
    for (name, problem) in [("a..b", "empty label"), (long_label.as_str(), "63 bytes"), (&long_name, "255 bytes")] {
        let err = encode_query(1, name, RecordType::A, true).unwrap_err().to_string();
        assert!(err.contains(problem), "{name}: {err}");
    }
}

#[test]
fn malformed_messages_name_the_problem() {
    let good = srv_response();
    let cases: Vec<(Vec<u8>, &str)> = vec![
        (good[..5].to_vec(), "truncated: it ends at byte 5 while reading the header"),
        (good[..good.len() - 2].to_vec(), "while reading record data"),
        (
            {
                let mut m = good.clone();
                m[28] = 27; // the answer's name pointer now points at itself
                m
            },
            "does not point backwards",
        ),
        (
            {
                let mut m = good.clone();
                m[12] = 0x40; // extended label type
                m
            },
            "unsupported label type 0x40",
        ),
        (
            {
                let mut m = good.clone();
                let len = m.len();
                m[len - 5] = 3; // A record with 3 bytes of data
                m.truncate(len - 1);
                m
            },
            "A record at byte",
        ),
    ];
    for (bytes, want) in cases {
        let err = decode(&bytes).unwrap_err().to_string();
        assert!(err.contains(want), "want {want:?} in {err:?}");
    }
}

#[test]
fn srv_data_shorter_than_its_length_is_an_error() {
    let mut m = srv_response();
    // Grow the SRV rdlength by one and add a byte: the fields no longer fill the data.
    let rdlen_at = 12 + 15 + 10;
    m[rdlen_at + 1] += 1;
    let end = rdlen_at + 2 + usize::from(m[rdlen_at + 1]) - 1;
    m.insert(end, 0);
    let err = decode(&m).unwrap_err().to_string();
    assert!(err.contains("SRV record at byte 39"), "{err}");
    assert!(err.contains("fields take 13"), "{err}");
}

#[test]
fn labels_are_escaped() {
    let mut m = vec![0, 0, 0x80, 0, 0, 1, 0, 0, 0, 0, 0, 0];
    m.extend_from_slice(b"\x03a.b\x02\x00\\\x00\x00\x01\x00\x01");
    assert_eq!(decode(&m).unwrap().questions[0].name, "a\\.b.\\000\\\\.");
}

#[test]
fn type_and_rcode_names() {
    assert_eq!(RecordType::from_name("srv"), Some(RecordType::SRV));
    assert_eq!(RecordType::from_name("BOGUS"), None);
    assert_eq!(RecordType(99).to_string(), "TYPE99");
    assert_eq!(Rcode::from_name("nxdomain"), Some(Rcode::NXDOMAIN));
    assert_eq!(Rcode(3).to_string(), "NXDOMAIN");
    assert_eq!(Rcode(15).to_string(), "RCODE15");
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    /// Arbitrary bytes never panic the decoder; a failure always names a byte offset.
    #[test]
    fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..600)) {
        if let Err(e) = decode(&bytes) {
            prop_assert!(e.to_string().contains("byte"), "{e}");
        }
    }

    /// A real response with bytes flipped or cut never panics the decoder either.
    #[test]
    fn mutated_responses_never_panic(
        flips in proptest::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 0..8),
        cut in any::<prop::sample::Index>(),
    ) {
        let mut bytes = srv_response();
        for (at, value) in flips {
            let i = at.index(bytes.len());
            bytes[i] = value;
        }
        bytes.truncate(cut.index(bytes.len() + 1));
        if let Err(e) = decode(&bytes) {
            prop_assert!(e.to_string().contains("byte"), "{e}");
        }
    }

    /// Every name the encoder accepts decodes back to itself (fully qualified).
    #[test]
    fn names_round_trip(labels in proptest::collection::vec("[a-z0-9_-]{1,20}", 1..6)) {
        let name = labels.join(".");
        let query = encode_query(9, &name, RecordType::A, true).unwrap();
        let decoded = decode(&query).unwrap();
        prop_assert_eq!(&decoded.questions[0].name, &format!("{name}."));
    }
}
