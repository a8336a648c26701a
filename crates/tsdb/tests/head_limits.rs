//! Limits reject only new series, with typed, counted errors.

use wk_model::{Labels, Sample};
use wk_storage::{AppendError, Appender, LimitReason};
use wk_tsdb::{Head, HeadOptions, Limits};

fn l(name: &str, i: u32) -> Labels {
    Labels::from_pairs([("__name__", name), ("i", &i.to_string())]).unwrap()
}

#[test]
fn series_limits_spare_existing_series() {
    let limits = Limits { max_series: 3, max_series_per_metric: 2, ..Limits::default() };
    let head = Head::new(HeadOptions { limits, ..HeadOptions::default() }).unwrap();
    let mut app = head.appender();
    app.append(None, &l("a", 0), Sample::new(1, 1.0)).unwrap();
    app.append(None, &l("a", 1), Sample::new(1, 1.0)).unwrap();
    let err = app.append(None, &l("a", 2), Sample::new(1, 1.0)).unwrap_err();
    assert_eq!(err, AppendError::SeriesLimit { reason: LimitReason::MaxSeriesPerMetric, limit: 2 });
    app.append(None, &l("b", 0), Sample::new(1, 1.0)).unwrap();
    let err = app.append(None, &l("c", 0), Sample::new(1, 1.0)).unwrap_err();
    assert_eq!(err, AppendError::SeriesLimit { reason: LimitReason::MaxSeries, limit: 3 });
    // Existing series still take samples.
    app.append(None, &l("a", 0), Sample::new(2, 1.0)).unwrap();
    assert_eq!(app.commit().unwrap().appended, 4);
    assert_eq!(head.stats().rejected_for("max_series"), 1);
    assert_eq!(head.stats().rejected_for("max_series_per_metric"), 1);
    assert_eq!(head.num_series(), 3);
}

#[test]
fn label_shape_limits() {
    let limits =
        Limits { max_labels_per_series: 2, max_label_name_len: 4, max_label_value_len: 5, ..Limits::default() };
    let head = Head::new(HeadOptions { limits, ..HeadOptions::default() }).unwrap();
    let mut app = head.appender();
    let s = Sample::new(1, 1.0);
    let three = Labels::from_pairs([("a", "1"), ("b", "1"), ("c", "1")]).unwrap();
    assert!(matches!(app.append(None, &three, s), Err(AppendError::TooManyLabels { count: 3, limit: 2 })));
    let long_name = Labels::from_pairs([("abcde", "1")]).unwrap();
    assert!(matches!(app.append(None, &long_name, s), Err(AppendError::LabelLimit { which: "name", .. })));
    let long_value = Labels::from_pairs([("a", "123456")]).unwrap();
    let err = app.append(None, &long_value, s).unwrap_err();
    assert_eq!(err.reason(), "max_label_value_length");
    assert!(matches!(app.append(None, &Labels::empty(), s), Err(AppendError::InvalidLabels { .. })));
    let bad = Labels::from_sorted([("a-b", "1")]);
    assert!(matches!(app.append(None, &bad, s), Err(AppendError::InvalidLabels { .. })));
    assert_eq!(head.stats().rejected_for("max_labels_per_series"), 1);
    assert_eq!(head.stats().rejected_for("invalid_labels"), 2);
}

#[test]
fn per_target_limit_counts_job_and_instance_pairs() {
    let limits = Limits { max_series_per_target: 2, ..Limits::default() };
    let head = Head::new(HeadOptions { limits, ..HeadOptions::default() }).unwrap();
    let mut app = head.appender();
    let t = |job: &str, instance: &str, i: u32| {
        Labels::from_pairs([("__name__", "m"), ("job", job), ("instance", instance), ("i", &i.to_string())]).unwrap()
    };
    let s = Sample::new(1, 1.0);
    app.append(None, &t("node", "a:9100", 0), s).unwrap();
    app.append(None, &t("node", "a:9100", 1), s).unwrap();
    let err = app.append(None, &t("node", "a:9100", 2), s).unwrap_err();
    assert_eq!(err, AppendError::SeriesLimit { reason: LimitReason::MaxSeriesPerTarget, limit: 2 });
    assert_eq!(err.to_string(), "per-target series limit of 2 exceeded, rejecting new series");
    // Other targets, and series without a target, are not affected.
    app.append(None, &t("node", "b:9100", 0), s).unwrap();
    app.append(None, &t("api", "a:9100", 0), s).unwrap();
    for i in 0..5 {
        app.append(None, &l("no_target", i), s).unwrap();
    }
    // Existing series of the full target still take samples.
    app.append(None, &t("node", "a:9100", 1), Sample::new(2, 2.0)).unwrap();
    assert_eq!(app.commit().unwrap().appended, 10);
    assert_eq!(head.stats().rejected_for("max_series_per_target"), 1);
}
