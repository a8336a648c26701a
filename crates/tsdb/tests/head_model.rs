//! Property test: the head against a naive `BTreeMap` model.
//!
//! Random batches of appends (in order, out of order, duplicates, stale NaNs, with
//! and without an out-of-order window, committed or rolled back) followed by random
//! selects, `label_names` and `label_values`; results must be identical.

use std::collections::{BTreeMap, BTreeSet};

use proptest::prelude::*;
use wk_model::{Labels, MatchOp, Matcher, STALE_NAN, Sample};
use wk_storage::{AppendError, Appender, Querier};
use wk_tsdb::{Head, HeadOptions};

type Model = BTreeMap<Labels, BTreeMap<i64, u64>>;

fn series_pool() -> Vec<Labels> {
    let mut out = Vec::new();
    for name in ["up", "cpu"] {
        for job in ["node", "api"] {
            for inst in ["", "a", "b"] {
                out.push(Labels::from_pairs([("__name__", name), ("job", job), ("inst", inst)]).unwrap());
            }
        }
    }
    out
}

fn values() -> Vec<f64> {
    vec![1.0, 2.0, STALE_NAN, f64::NAN, -0.0, 0.0]
}

fn model_append(s: &mut BTreeMap<i64, u64>, t: i64, v: f64, window: i64) -> Result<bool, AppendError> {
    let bits = v.to_bits();
    let same = |b: u64| {
        if b == bits { Ok(false) } else { Err(AppendError::DuplicateSampleDifferentValue) }
    };
    if let Some((&lt, &lv)) = s.last_key_value() {
        if t == lt {
            return same(lv);
        }
        if t < lt {
            if window == 0 {
                return Err(AppendError::OutOfOrder);
            }
            if t < lt - window {
                return Err(AppendError::TooOld);
            }
            if let Some(&b) = s.get(&t) {
                return same(b);
            }
        }
    }
    s.insert(t, bits);
    Ok(true)
}

fn matcher_pool() -> Vec<Matcher> {
    use MatchOp::*;
    [
        (Eq, "__name__", "up"),
        (Neq, "job", "api"),
        (Re, "inst", "a|b"),
        (Re, "inst", ".*"),
        (Nre, "inst", "a"),
        (Eq, "inst", ""),
        (Re, "job", "n.*"),
        (Re, "__name__", ".+u"),
        (Eq, "missing", ""),
        (Neq, "missing", "x"),
        (Eq, "job", "nope"),
    ]
    .into_iter()
    .map(|(op, n, v)| Matcher::new(op, n, v).unwrap())
    .collect()
}

#[derive(Debug, Clone)]
struct Batch {
    samples: Vec<(usize, i64, usize)>,
    commit: bool,
}

fn batches() -> impl Strategy<Value = Vec<Batch>> {
    let sample = (0usize..12, 0i64..60, 0usize..6);
    let batch = (prop::collection::vec(sample, 1..6), prop::bool::weighted(0.85))
        .prop_map(|(samples, commit)| Batch { samples, commit });
    prop::collection::vec(batch, 1..40)
}

fn queries() -> impl Strategy<Value = Vec<(Vec<usize>, i64, i64)>> {
    prop::collection::vec((prop::collection::vec(0usize..11, 0..3), -5i64..65, -5i64..65), 1..12)
}

fn check_queries(head: &Head, model: &Model, created: &BTreeSet<Labels>, qs: &[(Vec<usize>, i64, i64)]) {
    let pool = matcher_pool();
    let q = head.querier();
    for (ms, mint, maxt) in qs {
        let ms: Vec<Matcher> = ms.iter().map(|&i| pool[i].clone()).collect();
        let sel = |l: &Labels| ms.iter().all(|m| m.matches(l.get(m.name()).unwrap_or("")));
        let want: Vec<(Labels, Vec<(i64, u64)>)> = model
            .iter()
            .filter(|(l, _)| sel(l))
            .map(|(l, s)| {
                (
                    l.clone(),
                    s.iter().filter(|(t, _)| (*mint..=*maxt).contains(*t)).map(|(&t, &v)| (t, v)).collect::<Vec<_>>(),
                )
            })
            .filter(|(_, s)| !s.is_empty())
            .collect();
        let got: Vec<(Labels, Vec<(i64, u64)>)> = q
            .select(&ms, *mint, *maxt)
            .unwrap()
            .map(|s| {
                let s = s.unwrap();
                let samples = s.samples.iter().map(|x: &Sample| (x.t, x.v.to_bits())).collect();
                (s.labels, samples)
            })
            .collect();
        assert_eq!(got, want, "select {ms:?} [{mint}, {maxt}]");

        let matching: Vec<&Labels> = created.iter().filter(|l| sel(l)).collect();
        let names: BTreeSet<String> = matching.iter().flat_map(|l| l.iter().map(|(n, _)| n.to_owned())).collect();
        let want_names: Vec<String> = if ms.is_empty() {
            created
                .iter()
                .flat_map(|l| l.iter().map(|(n, _)| n.to_owned()))
                .collect::<BTreeSet<_>>()
                .into_iter()
                .collect()
        } else {
            names.into_iter().collect()
        };
        assert_eq!(q.label_names(&ms).unwrap(), want_names, "label_names {ms:?}");
        let values: BTreeSet<String> = matching.iter().filter_map(|l| l.get("inst").map(str::to_owned)).collect();
        assert_eq!(q.label_values("inst", &ms).unwrap(), values.into_iter().collect::<Vec<_>>(), "label_values {ms:?}");
    }
}

fn run(window: i64, batches: &[Batch], qs: &[(Vec<usize>, i64, i64)]) {
    let head = Head::new(HeadOptions { chunk_samples: 4, ooo_window_ms: window, ..HeadOptions::default() }).unwrap();
    let pool = series_pool();
    let vals = values();
    let mut model = Model::new();
    let mut created = BTreeSet::new();
    let mut app = head.appender();
    for batch in batches {
        let mut staged = model.clone();
        let (mut model_rejected, mut got_rejected, mut model_appended) = (0u64, 0u64, 0u64);
        for &(si, t, vi) in &batch.samples {
            let (labels, v) = (&pool[si], vals[vi]);
            created.insert(labels.clone());
            let want = model_append(staged.entry(labels.clone()).or_default(), t, v, window);
            let got = app.append(None, labels, Sample::new(t, v));
            match &want {
                Ok(true) => model_appended += 1,
                Ok(false) => {}
                Err(_) => model_rejected += 1,
            }
            if let Err(e) = &got {
                got_rejected += 1;
                assert_eq!(Err(e), want.as_ref().map(|_| ()), "append-time rejection must agree with the model");
            }
            if batch.samples.len() == 1 {
                assert_eq!(got.is_ok(), want.is_ok());
            }
        }
        if batch.commit {
            let summary = app.commit().unwrap();
            got_rejected += summary.rejected.iter().map(|(_, n)| n).sum::<u64>();
            assert_eq!(summary.appended, model_appended);
            assert_eq!(got_rejected, model_rejected);
            staged.retain(|_, s| !s.is_empty());
            model = staged;
        } else {
            app.rollback();
        }
    }
    check_queries(&head, &model, &created, qs);
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(300))]

    #[test]
    fn head_matches_model_without_window(b in batches(), q in queries()) {
        run(0, &b, &q);
    }

    #[test]
    fn head_matches_model_with_window(b in batches(), q in queries()) {
        run(10, &b, &q);
    }
}
