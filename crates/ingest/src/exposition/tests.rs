//! Parser tests: the upstream corpora, a golden dump for the small ones, malformed
//! input naming its line and column, and properties over random input.

use std::fmt::Write;
use std::path::{Path, PathBuf};

use proptest::prelude::*;

use super::*;

fn parse_all(text: &str, format: Format) -> Result<Vec<Entry<'_>>, ParseError> {
    Parser::from_str(text, format).collect()
}

fn sample<'a>(entries: &'a [Entry<'a>], index: usize) -> &'a Sample<'a> {
    entries
        .iter()
        .filter_map(|e| match e {
            Entry::Sample(s) => Some(s),
            _ => None,
        })
        .nth(index)
        .expect("sample")
}

/// One line per entry, for golden files.
fn dump(entries: &[Entry<'_>]) -> String {
    let mut out = String::new();
    for entry in entries {
        match entry {
            Entry::Help { name, text } => writeln!(out, "HELP {name} {text:?}"),
            Entry::Type { name, kind } => writeln!(out, "TYPE {name} {kind:?}"),
            Entry::Unit { name, unit } => writeln!(out, "UNIT {name} {unit}"),
            Entry::Sample(s) => {
                let labels: Vec<String> = s.labels.iter().map(|(n, v)| format!("{n}={v:?}")).collect();
                let mut line = format!("SAMPLE {}{{{}}} {:?}", s.name, labels.join(","), s.value);
                if let Some(ts) = s.timestamp_ms {
                    let _ = write!(line, " @{ts}");
                }
                if let Some(ex) = &s.exemplar {
                    let labels: Vec<String> = ex.labels.iter().map(|(n, v)| format!("{n}={v:?}")).collect();
                    let _ = write!(line, " # {{{}}} {:?} {:?}", labels.join(","), ex.value, ex.timestamp_ms);
                }
                writeln!(out, "{line}")
            }
        }
        .unwrap();
    }
    out
}

fn upstream(rel: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/testdata/prometheus").join(rel)
}

fn format_of(path: &Path) -> Format {
    let name = path.to_string_lossy();
    if name.contains(".om.") || name.contains("openmetrics") { Format::OpenMetrics } else { Format::PrometheusText }
}

#[test]
fn upstream_corpora_parse_completely() {
    let files = [
        ("textparse/alltypes.237mfs.prom.txt", 237),
        ("textparse/alltypes.237mfs.nometa.prom.txt", 0),
        ("textparse/alltypes.5mfs.om.txt", 5),
        ("textparse/1histogram.om.txt", 1),
        ("promtool/metrics-test.prom", 0),
        ("promtool/dump-test-1.prom", 0),
        ("promtool/dump-openmetrics-test.prom", 0),
    ];
    for (rel, families) in files {
        let path = upstream(rel);
        let body = std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        let entries: Vec<Entry<'_>> = Parser::new(&body, format_of(&path))
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap_or_else(|e| panic!("{rel}: {e}"));
        let types = entries.iter().filter(|e| matches!(e, Entry::Type { .. })).count();
        let samples = entries.iter().filter(|e| matches!(e, Entry::Sample(_))).count();
        assert!(samples > 0, "{rel}: no samples");
        if families > 0 {
            assert_eq!(types, families, "{rel}: TYPE lines");
        }
    }
}

#[test]
fn small_corpora_match_their_golden_dumps() {
    for rel in ["textparse/alltypes.5mfs.om.txt", "promtool/dump-test-1.prom", "promtool/dump-openmetrics-test.prom"] {
        let path = upstream(rel);
        let text = std::fs::read_to_string(&path).unwrap();
        let printed = dump(&parse_all(&text, format_of(&path)).unwrap());
        let name = rel.replace('/', "_");
        let golden = Path::new(env!("CARGO_MANIFEST_DIR")).join("testdata/exposition").join(format!("{name}.golden"));
        if std::env::var_os("WK_BLESS").is_some() {
            std::fs::write(&golden, &printed).unwrap();
        }
        let expected =
            std::fs::read_to_string(&golden).unwrap_or_else(|_| panic!("{} missing: WK_BLESS=1", golden.display()));
        assert_eq!(printed, expected, "{rel}");
    }
}

#[test]
fn text_format_essentials() {
    let text = "# HELP http_requests_total The total.\\nSecond line with \\\\ backslash.\n\
# TYPE http_requests_total counter\n\
http_requests_total{method=\"post\",code=\"200\"} 1027 1395066363000\n\
http_requests_total{method=\"post\",code=\"400\",} 3 1395066363000\n\
msdos_file_access_time_seconds{path=\"C:\\\\DIR\\\\FILE.TXT\",error=\"Cannot find file:\\n\\\"FILE.TXT\\\"\"} 1.458255915e9\n\
metric_without_timestamp_and_labels 12.47\n\
something_weird{problem=\"division by zero\"} +Inf -3982045\n\
  indented\t{a=\"b\"}\t-Inf\n\
not_a_number NaN\n\
# A plain comment\n\
\n";
    let entries = parse_all(text, Format::PrometheusText).unwrap();
    assert_eq!(
        entries[0],
        Entry::Help { name: "http_requests_total".into(), text: "The total.\nSecond line with \\ backslash.".into() }
    );
    assert_eq!(entries[1], Entry::Type { name: "http_requests_total".into(), kind: MetricType::Counter });
    let s = sample(&entries, 0);
    assert_eq!(s.labels, vec![("method".into(), "post".into()), ("code".into(), "200".into())]);
    assert_eq!((s.value, s.timestamp_ms), (1027.0, Some(1395066363000)));
    assert_eq!(sample(&entries, 1).labels.len(), 2, "trailing comma allowed");
    let msdos = sample(&entries, 2);
    assert_eq!(msdos.labels[0].1, "C:\\DIR\\FILE.TXT");
    assert_eq!(msdos.labels[1].1, "Cannot find file:\n\"FILE.TXT\"");
    assert_eq!(sample(&entries, 3).timestamp_ms, None);
    assert_eq!(sample(&entries, 4).value, f64::INFINITY);
    assert_eq!(sample(&entries, 4).timestamp_ms, Some(-3982045));
    assert_eq!(sample(&entries, 5).value, f64::NEG_INFINITY);
    assert!(sample(&entries, 6).value.is_nan());
}

#[test]
fn utf8_quoted_names() {
    let text = "# TYPE \"my.metric\" gauge\n{\"my.metric\", \"service.name\"=\"api\", plain=\"x\"} 1\n";
    let entries = parse_all(text, Format::PrometheusText).unwrap();
    assert_eq!(entries[0], Entry::Type { name: "my.metric".into(), kind: MetricType::Gauge });
    let dump_form = parse_all("{__name__=\"m\", a=\"b\"} 5 0\n", Format::PrometheusText).unwrap();
    assert_eq!(sample(&dump_form, 0).name, "m");
    assert_eq!(sample(&dump_form, 0).labels, vec![("a".into(), "b".into())]);
    let s = sample(&entries, 0);
    assert_eq!(s.name, "my.metric");
    assert_eq!(s.labels, vec![("service.name".into(), "api".into()), ("plain".into(), "x".into())]);
}

#[test]
fn openmetrics_timestamps_exemplars_and_eof() {
    let text = "# TYPE foo counter\n# UNIT foo seconds\n# HELP foo Help.\nfoo_total 17.0 1520879607.789 # {trace_id=\"KOO5S4vxi0o\"} 0.67 1520879607.0\nfoo_created 1520872607.123\n# EOF\n";
    let entries = parse_all(text, Format::OpenMetrics).unwrap();
    assert_eq!(entries[1], Entry::Unit { name: "foo".into(), unit: "seconds".into() });
    let s = sample(&entries, 0);
    assert_eq!(s.timestamp_ms, Some(1520879607789));
    let ex = s.exemplar.as_ref().unwrap();
    assert_eq!(ex.labels, vec![("trace_id".into(), "KOO5S4vxi0o".into())]);
    assert_eq!((ex.value, ex.timestamp_ms), (0.67, Some(1520879607000)));

    let missing = parse_all("foo 1\n", Format::OpenMetrics).unwrap_err();
    assert_eq!(missing.message, "OpenMetrics input must end with # EOF");
    let after = parse_all("foo 1\n# EOF\nbar 2\n", Format::OpenMetrics).unwrap_err();
    assert_eq!((after.line, after.message.as_str()), (3, "unexpected content after # EOF"));
    // In the text format, `# EOF` is only a comment.
    assert_eq!(parse_all("# EOF\nfoo 1\n", Format::PrometheusText).unwrap().len(), 1);
}

#[test]
fn malformed_lines_name_line_and_column() {
    let cases: &[(&str, usize, usize, &str)] = &[
        ("ok 1\nbad{a=\"b\" 1\n", 2, 11, "expected ',' or '}' in labels"),
        ("m{a=\"unterminated} 1\n", 1, 21, "unterminated quoted string"),
        ("m{a=b} 1\n", 1, 5, "expected '\"'"),
        ("m{1a=\"b\"} 1\n", 1, 3, "invalid label name"),
        ("m{a=\"1\",a=\"2\"} 1\n", 1, 14, "duplicate label name"),
        ("m 1 2 3\n", 1, 7, "unexpected '3' after the sample"),
        ("m one\n", 1, 3, "invalid value \"one\""),
        ("m\n", 1, 2, "expected a blank before the value"),
        ("m 1 12.5\n", 1, 5, "invalid timestamp \"12.5\""),
        ("# TYPE m gauges\n", 1, 10, "invalid metric type \"gauges\""),
        ("# TYPE\n", 1, 7, "expected a metric name after # TYPE"),
        ("9m 1\n", 1, 1, "invalid metric name"),
        ("m 1 # {a=\"b\"} 1\n", 1, 5, "exemplars are only allowed in OpenMetrics"),
        ("{a=\"b\"} 1\n", 1, 9, "sample has no metric name"),
    ];
    for (text, line, column, message) in cases {
        let err = parse_all(text, Format::PrometheusText).unwrap_err();
        assert_eq!((err.line, err.column), (*line, *column), "{text:?}: {err}");
        assert!(err.message.starts_with(message), "{text:?}: {err}");
    }
}

#[test]
fn invalid_utf8_is_reported_at_its_line() {
    let err = Parser::new(b"ok 1\nbad{a=\"\xff\"} 1\n", Format::PrometheusText).unwrap_err();
    assert_eq!((err.line, err.column, err.message.as_str()), (2, 8, "invalid UTF-8"));
}

#[test]
fn parsing_stops_at_the_first_error() {
    let mut parser = Parser::from_str("a 1\nb x\nc 3\n", Format::PrometheusText);
    assert!(parser.next().unwrap().is_ok());
    assert!(parser.next().unwrap().is_err());
    assert!(parser.next().is_none(), "nothing after an error");
}

fn arb_name() -> impl Strategy<Value = String> {
    "[a-zA-Z_:][a-zA-Z0-9_:]{0,12}"
}

fn arb_value() -> impl Strategy<Value = f64> {
    prop_oneof![any::<f64>().prop_filter("finite", |v| v.is_finite()), Just(f64::INFINITY), Just(f64::NEG_INFINITY)]
}

proptest! {
    #[test]
    fn random_bytes_never_panic(body in proptest::collection::vec(any::<u8>(), 0..300)) {
        for format in [Format::PrometheusText, Format::OpenMetrics] {
            if let Ok(parser) = Parser::new(&body, format) {
                for _ in parser {}
            }
        }
    }

    #[test]
    fn random_text_lines_never_panic(text in "[a-z{}=\",# \\\\\n0-9.+-]{0,200}") {
        for _ in Parser::from_str(&text, Format::OpenMetrics) {}
        for _ in Parser::from_str(&text, Format::PrometheusText) {}
    }

    #[test]
    fn written_samples_read_back(
        name in arb_name(),
        labels in proptest::collection::btree_map("[a-zA-Z_][a-zA-Z0-9_]{0,8}", "\\PC{0,10}", 0..5),
        value in arb_value(),
        ts in proptest::option::of(any::<i64>()),
    ) {
        let escape = |v: &str| v.replace('\\', "\\\\").replace('"', "\\\"").replace('\n', "\\n");
        let pairs: Vec<String> = labels.iter().map(|(n, v)| format!("{n}=\"{}\"", escape(v))).collect();
        let mut line = format!("{name}{{{}}} {value:?}", pairs.join(","));
        if let Some(ts) = ts {
            line.push_str(&format!(" {ts}"));
        }
        let entries = parse_all(&line, Format::PrometheusText).unwrap();
        let s = sample(&entries, 0);
        prop_assert_eq!(&s.name, &name);
        let got: Vec<(String, String)> = s.labels.iter().map(|(n, v)| (n.to_string(), v.to_string())).collect();
        let want: Vec<(String, String)> = labels.into_iter().collect();
        prop_assert_eq!(got, want);
        prop_assert_eq!(s.value, value);
        prop_assert_eq!(s.timestamp_ms, ts);
    }
}
