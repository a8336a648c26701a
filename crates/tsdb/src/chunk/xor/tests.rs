use proptest::prelude::*;
use wk_model::{STALE_NAN, Sample};

use super::*;

fn encode(samples: &[Sample]) -> Box<[u8]> {
    let mut a = XorAppender::new();
    for s in samples {
        a.append(s.t, s.v);
    }
    a.finish()
}

fn decode(bytes: &[u8]) -> Result<Vec<Sample>, TsdbError> {
    XorIter::new(bytes)?.collect()
}

fn assert_bit_eq(got: &[Sample], want: &[Sample]) {
    assert_eq!(got.len(), want.len());
    for (g, w) in got.iter().zip(want) {
        assert!(g.bit_eq(w), "got {g:?}, want {w:?}");
    }
}

#[test]
fn special_values_round_trip_bit_exactly() {
    let values = [
        0.0,
        -0.0,
        f64::INFINITY,
        f64::NEG_INFINITY,
        STALE_NAN,
        f64::NAN,
        f64::from_bits(0x7ff8_dead_beef_0001),
        f64::MIN_POSITIVE,
        1.5,
        1.5,
    ];
    let samples: Vec<_> = values.iter().enumerate().map(|(i, &v)| Sample::new(i as i64 * 15_000 - 30_000, v)).collect();
    assert_bit_eq(&decode(&encode(&samples)).unwrap(), &samples);
}

#[test]
fn regular_scrapes_compress_well() {
    let samples: Vec<_> =
        (0..120).map(|i| Sample::new(1_700_000_000_000 + i * 15_000, 1000.0 + (i / 4) as f64)).collect();
    let bytes = encode(&samples);
    assert!(bytes.len() < 120, "{} bytes for 120 samples", bytes.len());
    assert_bit_eq(&decode(&bytes).unwrap(), &samples);
}

#[test]
fn truncated_chunks_fail_cleanly() {
    let samples: Vec<_> = (0..50).map(|i| Sample::new(i * 1000, i as f64 * 0.1)).collect();
    let bytes = encode(&samples);
    for cut in 0..bytes.len() {
        let got: Vec<_> = match XorIter::new(&bytes[..cut]) {
            Ok(it) => it.collect(),
            Err(_) => continue,
        };
        assert!(got.last().is_some_and(Result::is_err), "cut at {cut} did not fail");
    }
}

fn any_value() -> impl Strategy<Value = f64> {
    prop_oneof![
        any::<f64>(),
        any::<u64>().prop_map(f64::from_bits),
        Just(STALE_NAN),
        Just(-0.0),
        Just(f64::INFINITY),
        Just(f64::NEG_INFINITY),
        (0u32..1000).prop_map(|x| f64::from(x) * 0.25),
    ]
}

fn any_timestamp_step() -> impl Strategy<Value = i64> {
    prop_oneof![Just(15_000i64), 0i64..100, -100i64..100, any::<i64>(), (1i64 << 40)..(1i64 << 50),]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(500))]

    #[test]
    fn round_trip(start in any::<i64>(), steps in prop::collection::vec((any_timestamp_step(), any_value()), 0..300)) {
        let mut t = start;
        let samples: Vec<_> = steps.iter().map(|&(step, v)| { t = t.wrapping_add(step); Sample::new(t, v) }).collect();
        let got = decode(&encode(&samples)).unwrap();
        prop_assert_eq!(got.len(), samples.len());
        for (g, w) in got.iter().zip(&samples) {
            prop_assert!(g.bit_eq(w), "got {:?}, want {:?}", g, w);
        }
    }

    #[test]
    fn random_bytes_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..400)) {
        if let Ok(it) = XorIter::new(&bytes) {
            let n = it.len_hint();
            let mut seen = 0;
            for item in it {
                seen += 1;
                if item.is_err() { break; }
            }
            prop_assert!(seen <= n);
        }
    }

    #[test]
    fn mutated_chunks_never_panic(seed in prop::collection::vec((any::<u64>(), any_value()), 1..130), flips in prop::collection::vec((any::<usize>(), any::<u8>()), 1..8)) {
        let samples: Vec<_> = seed.iter().map(|&(t, v)| Sample::new(t as i64, v)).collect();
        let mut bytes = encode(&samples).into_vec();
        for (pos, b) in flips {
            let i = pos % bytes.len();
            bytes[i] ^= b;
        }
        if let Ok(it) = XorIter::new(&bytes) {
            for item in it { if item.is_err() { break; } }
        }
    }
}
