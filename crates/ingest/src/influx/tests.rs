use super::*;
use crate::batch::RejectReason;

const NOW: i64 = 1_700_000_000_000;

fn run(body: &str, precision: Precision) -> Result<Batch> {
    decode(body.as_bytes(), precision, &Limits::default(), NOW)
}

fn render(batch: &Batch) -> Vec<String> {
    batch
        .series
        .iter()
        .map(|s| {
            let labels: Vec<String> = s.labels.iter().map(|(n, v)| format!("{n}={v:?}")).collect();
            format!("{{{}}} {} @{}", labels.join(","), s.samples[0].v, s.samples[0].t_ms)
        })
        .collect()
}

#[test]
fn golden_telegraf_style_body() {
    let body = "# comment\n\
        cpu,cpu=cpu0,host=web-1 usage_idle=97.5,usage_user=1.25 1700000000000000000\n\
        \n\
        mem,host=web-1 used=123456i,free=42u,swap_on=true,note=\"x y\" 1700000000500000000\r\n\
        disk.io,host=web-1,dev\\ name=sda reads=3i\n";
    let batch = run(body, Precision::Nanoseconds).unwrap();
    assert_eq!(
        render(&batch),
        [
            r#"{__name__="cpu_usage_idle",cpu="cpu0",host="web-1"} 97.5 @1700000000000"#,
            r#"{__name__="cpu_usage_user",cpu="cpu0",host="web-1"} 1.25 @1700000000000"#,
            r#"{__name__="mem_used",host="web-1"} 123456 @1700000000500"#,
            r#"{__name__="mem_free",host="web-1"} 42 @1700000000500"#,
            r#"{__name__="mem_swap_on",host="web-1"} 1 @1700000000500"#,
            r#"{__name__="disk_io_reads",dev_name="sda",host="web-1"} 3 @1700000000000"#,
        ]
    );
    assert_eq!(batch.stats.string_fields_skipped, 1);
}

#[test]
fn precisions() {
    let cases = [
        (Precision::Nanoseconds, "1700000000123456789", 1_700_000_000_123),
        (Precision::Microseconds, "1700000000123456", 1_700_000_000_123),
        (Precision::Milliseconds, "1700000000123", 1_700_000_000_123),
        (Precision::Seconds, "1700000000", 1_700_000_000_000),
        (Precision::Minutes, "28333333", 1_699_999_980_000),
        (Precision::Hours, "472222", 1_699_999_200_000),
        (Precision::Nanoseconds, "-1", -1),
    ];
    for (precision, ts, want) in cases {
        let batch = run(&format!("m v=1 {ts}"), precision).unwrap();
        assert_eq!(batch.series[0].samples[0].t_ms, want, "{precision:?}");
    }
    assert_eq!(Precision::from_v2(Some("us")).unwrap(), Precision::Microseconds);
    assert_eq!(Precision::from_v1(Some("h")).unwrap(), Precision::Hours);
    assert_eq!(Precision::from_v1(None).unwrap(), Precision::Nanoseconds);
    let err = Precision::from_v2(Some("h")).unwrap_err();
    assert_eq!(err.to_string(), r#"unknown precision "h"; expected one of ns, us, ms, s"#);
}

#[test]
fn missing_timestamp_uses_now() {
    assert_eq!(run("m v=1", Precision::Seconds).unwrap().series[0].samples[0].t_ms, NOW);
}

#[test]
fn errors_name_line_and_column() {
    let err = run("ok v=1\nok v=2\nbad v=oops\n", Precision::Nanoseconds).unwrap_err();
    assert_eq!(
        err.to_string(),
        "line protocol line 3, column 7: invalid field value \"oops\": expected a float, an integer (3i), \
         an unsigned (3u), a boolean or a quoted string"
    );
    assert_eq!(err.http_status(), 400);
    let err = run("m v=1 9999999999999999", Precision::Hours).unwrap_err();
    assert!(matches!(err, Error::LineProtocol { line: 1, column: 7, .. }), "{err}");
    let err = decode(b"m v=1\nm\xff v=1", Precision::Nanoseconds, &Limits::default(), NOW).unwrap_err();
    assert!(matches!(err, Error::LineProtocol { line: 2, column: 2, .. }), "{err}");
}

#[test]
fn empty_body_is_valid() {
    assert!(run("", Precision::Nanoseconds).unwrap().is_empty());
    assert!(run("\n\n# only comments\n", Precision::Nanoseconds).unwrap().is_empty());
}

#[test]
fn limits_and_rejections() {
    let limits = Limits { max_series_per_request: 2, ..Limits::default() };
    let err = decode(b"m a=1,b=2,c=3", Precision::Nanoseconds, &limits, NOW).unwrap_err();
    assert_eq!(err.http_status(), 413);
    let huge = "x".repeat(5000);
    let batch = run(&format!("m,t={huge} v=1\nm,t=ok v=2"), Precision::Nanoseconds).unwrap();
    assert_eq!(batch.series.len(), 1);
    assert_eq!((batch.rejections[0].index, batch.rejections[0].reason), (1, RejectReason::LabelValueTooLong));
}

#[test]
fn special_values() {
    let batch =
        run("m a=-0.0,b=1e308,c=-9223372036854775808i,d=18446744073709551615u,e=F", Precision::Nanoseconds).unwrap();
    let values: Vec<f64> = batch.series.iter().map(|s| s.samples[0].v).collect();
    assert_eq!(values, [-0.0, 1e308, -9.223372036854776e18, 1.8446744073709552e19, 0.0]);
}
