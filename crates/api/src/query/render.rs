//! JSON as Prometheus writes it: the success/error envelope, sample values as strings
//! (`"NaN"`, `"+Inf"`), timestamps as float seconds.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::{Map, Value as Json, json};
use wk_model::Labels;
use wk_promql::{Annotations, PromqlError, Value, format_float};

/// Prometheus's `errorType` values.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum ErrorType {
    BadData,
    Execution,
    Timeout,
    Canceled,
    Internal,
    Unavailable,
}

impl ErrorType {
    fn name(self) -> &'static str {
        match self {
            Self::BadData => "bad_data",
            Self::Execution => "execution",
            Self::Timeout => "timeout",
            Self::Canceled => "canceled",
            Self::Internal => "internal",
            Self::Unavailable => "unavailable",
        }
    }

    fn status(self) -> StatusCode {
        match self {
            Self::BadData => StatusCode::BAD_REQUEST,
            Self::Execution => StatusCode::UNPROCESSABLE_ENTITY,
            Self::Timeout | Self::Unavailable => StatusCode::SERVICE_UNAVAILABLE,
            Self::Canceled => StatusCode::from_u16(499).unwrap_or(StatusCode::BAD_REQUEST),
            Self::Internal => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }
}

/// A `{"status":"error",...}` answer, kept small until it is turned into a response.
#[derive(Debug)]
pub(crate) struct ApiError {
    kind: ErrorType,
    message: String,
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = json!({ "status": "error", "errorType": self.kind.name(), "error": self.message });
        (self.kind.status(), axum::Json(body)).into_response()
    }
}

/// An error of `kind` saying `message`.
pub(crate) fn error(kind: ErrorType, message: impl Into<String>) -> ApiError {
    ApiError { kind, message: message.into() }
}

/// Maps an engine error to Prometheus's error type.
pub(crate) fn engine_error(e: &PromqlError) -> ApiError {
    let kind = match e {
        PromqlError::Parse(_) => ErrorType::BadData,
        PromqlError::Eval(_) | PromqlError::TooManySamples => ErrorType::Execution,
        PromqlError::Timeout => ErrorType::Timeout,
        PromqlError::Canceled => ErrorType::Canceled,
        PromqlError::Storage(_) if e.is_retryable() => ErrorType::Unavailable,
        PromqlError::Storage(_) => ErrorType::Internal,
    };
    let message = match e {
        PromqlError::Parse(m) => format!("invalid parameter \"query\": {m}"),
        other => other.to_string(),
    };
    error(kind, message)
}

/// A `{"status":"success","data":...}` answer, with warnings and infos when present.
pub(crate) fn success(data: Json, annotations: Option<&Annotations>) -> Response {
    let mut body = Map::new();
    body.insert("status".into(), json!("success"));
    body.insert("data".into(), data);
    if let Some(a) = annotations {
        if !a.warnings.is_empty() {
            body.insert("warnings".into(), json!(a.warnings));
        }
        if !a.infos.is_empty() {
            body.insert("infos".into(), json!(a.infos));
        }
    }
    axum::Json(Json::Object(body)).into_response()
}

/// A label set as a JSON object; `__name__` left out when the engine dropped it.
pub(crate) fn labels(labels: &Labels, drop_name: bool) -> Json {
    let mut map = Map::new();
    for (name, value) in labels.iter() {
        if drop_name && name == "__name__" {
            continue;
        }
        map.insert(name.to_owned(), json!(value));
    }
    Json::Object(map)
}

/// The answer of an instant or range query, written straight into the body in
/// Prometheus's key order: a `serde_json::Value` tree with an array and a string
/// per point cost more than evaluating a large range query.
pub(crate) fn query_success(value: &Value, annotations: &Annotations) -> Response {
    // About 30 bytes per point and 200 per label set, so the body is not
    // copied over and over as it grows.
    let size = match value {
        Value::Vector(v) => v.len() * 230,
        Value::Matrix(m) => m.iter().map(|s| 200 + s.points.len() * 30).sum(),
        _ => 0,
    };
    let mut out = Vec::with_capacity(256 + size);
    out.extend_from_slice(br#"{"status":"success","data":{"resultType":"#);
    write_str(&mut out, value.type_name());
    out.extend_from_slice(br#","result":"#);
    match value {
        Value::Scalar { t, v } => write_point(&mut out, *t, *v),
        Value::String { t, s } => {
            out.push(b'[');
            write_time(&mut out, *t);
            out.push(b',');
            write_str(&mut out, s);
            out.push(b']');
        }
        Value::Vector(samples) => write_list(&mut out, samples, |out, s| {
            out.extend_from_slice(br#"{"metric":"#);
            write_labels(out, &s.metric, s.drop_name);
            out.extend_from_slice(br#","value":"#);
            write_point(out, s.t, s.f);
            out.push(b'}');
        }),
        Value::Matrix(series) => write_list(&mut out, series, |out, s| {
            out.extend_from_slice(br#"{"metric":"#);
            write_labels(out, &s.metric, s.drop_name);
            out.extend_from_slice(br#","values":"#);
            write_list(out, &s.points, |out, p| write_point(out, p.t, p.v));
            out.push(b'}');
        }),
    }
    out.push(b'}');
    for (key, list) in [("warnings", &annotations.warnings), ("infos", &annotations.infos)] {
        if !list.is_empty() {
            out.extend_from_slice(format!(r#","{key}":"#).as_bytes());
            write_list(&mut out, list, |out, a| write_str(out, a));
        }
    }
    out.push(b'}');
    ([(axum::http::header::CONTENT_TYPE, "application/json")], out).into_response()
}

fn write_list<T>(out: &mut Vec<u8>, items: impl IntoIterator<Item = T>, mut each: impl FnMut(&mut Vec<u8>, T)) {
    out.push(b'[');
    for (i, item) in items.into_iter().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        each(out, item);
    }
    out.push(b']');
}

/// A JSON string, escaped by `serde_json` (writing to a `Vec` cannot fail).
fn write_str(out: &mut Vec<u8>, s: &str) {
    let _ = serde_json::to_writer(&mut *out, s);
}

/// Milliseconds as float seconds, formatted as `serde_json` formats an `f64`.
///
/// Below 2^43 ms (the year 2248) a double's spacing is finer than a
/// millisecond, so the shortest decimal that reads back as `t / 1000.0` is the
/// decimal of `t` itself with at most three fraction digits: written here with
/// integer arithmetic, the same bytes (`1.5`, `2.0`) without a float formatter.
fn write_time(out: &mut Vec<u8>, t: i64) {
    const EXACT: i64 = 1 << 43;
    if !(-EXACT..EXACT).contains(&t) {
        let _ = serde_json::to_writer(&mut *out, &(t as f64 / 1000.0));
        return;
    }
    if t < 0 {
        out.push(b'-');
    }
    let (mut secs, millis) = (t.unsigned_abs() / 1000, t.unsigned_abs() % 1000);
    let mut digits = [0u8; 20];
    let mut at = digits.len();
    loop {
        at -= 1;
        digits[at] = b'0' + (secs % 10) as u8;
        secs /= 10;
        if secs == 0 {
            break;
        }
    }
    out.extend_from_slice(&digits[at..]);
    out.push(b'.');
    let fraction = [b'0' + (millis / 100) as u8, b'0' + (millis / 10 % 10) as u8, b'0' + (millis % 10) as u8];
    let keep = fraction.iter().rposition(|&d| d != b'0').map_or(1, |i| i + 1);
    out.extend_from_slice(&fraction[..keep]);
}

/// A sample value as a JSON string (`"1.5"`, `"NaN"`, `"+Inf"`), formatted by
/// [`format_float`]'s rules straight into the body.
///
/// Both write the shortest decimal that reads back as `v`; `zmij` finds those
/// digits several times faster than `core::fmt` (which took a third of a raw
/// selector's answer time), and writes them as `1.0` or `1e16` where Go's
/// `'f'` format, and `format_float`, write `1` and `10000000000000000`: the
/// `.0` is cut, and the rare exponent form is left to `format_float`. When two
/// shortest decimals are equally near (`…691.25` as `.2` or `.3`), `zmij`
/// takes the even digit, as Go's `strconv` does, where `core::fmt` rounds up.
fn write_value(out: &mut Vec<u8>, v: f64) {
    out.push(b'"');
    let mut buf = zmij::Buffer::new();
    let digits = if v.is_finite() { buf.format_finite(v) } else { "e" };
    if digits.contains('e') {
        out.extend_from_slice(format_float(v).as_bytes());
    } else {
        out.extend_from_slice(digits.strip_suffix(".0").unwrap_or(digits).as_bytes());
    }
    out.push(b'"');
}

fn write_point(out: &mut Vec<u8>, t: i64, v: f64) {
    out.push(b'[');
    write_time(out, t);
    out.push(b',');
    write_value(out, v);
    out.push(b']');
}

fn write_labels(out: &mut Vec<u8>, labels: &Labels, drop_name: bool) {
    out.push(b'{');
    let mut first = true;
    for (name, value) in labels.iter() {
        if drop_name && name == "__name__" {
            continue;
        }
        if !first {
            out.push(b',');
        }
        first = false;
        write_str(out, name);
        out.push(b':');
        write_str(out, value);
    }
    out.push(b'}');
}

#[cfg(test)]
fn point(t: i64, v: f64) -> Json {
    json!([t as f64 / 1000.0, format_float(v)])
}

/// `{"resultType": ..., "result": ...}` for a query result, as a JSON tree: the
/// reference [`query_success`] is tested against.
#[cfg(test)]
pub(crate) fn value(value: &Value) -> Json {
    let result = match value {
        Value::Scalar { t, v } => point(*t, *v),
        Value::String { t, s } => json!([*t as f64 / 1000.0, s]),
        Value::Vector(samples) => Json::Array(
            samples
                .iter()
                .map(|s| json!({ "metric": labels(&s.metric, s.drop_name), "value": point(s.t, s.f) }))
                .collect(),
        ),
        Value::Matrix(series) => Json::Array(
            series
                .iter()
                .map(|s| {
                    let values: Vec<Json> = s.points.iter().map(|p| point(p.t, p.v)).collect();
                    json!({ "metric": labels(&s.metric, s.drop_name), "values": values })
                })
                .collect(),
        ),
    };
    json!({ "resultType": value.type_name(), "result": result })
}

#[cfg(test)]
mod tests {
    use wk_model::{Labels, Sample};
    use wk_promql::{Annotations, InstantSample, Series, Value};

    use super::*;

    async fn body(r: Response) -> Json {
        let bytes = axum::body::to_bytes(r.into_body(), usize::MAX).await.unwrap();
        serde_json::from_slice(&bytes).unwrap()
    }

    #[test]
    fn times_and_values_are_written_as_serde_json_and_format_float_write_them() {
        let mut times = vec![0, 1, -1, 999, -999, 1000, -1000, 1_500, -2_001, 10, 100, 120, 1_732_630_000_000];
        times.extend([1_732_630_000_001, 1_732_630_012_340, (1 << 43) - 1, -(1 << 43), 1 << 43, i64::MAX, i64::MIN]);
        let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
        for _ in 0..10_000 {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            times.push((x >> 20) as i64 - (1 << 43));
        }
        for t in times {
            let mut out = Vec::new();
            write_time(&mut out, t);
            assert_eq!(String::from_utf8(out).unwrap(), serde_json::to_string(&(t as f64 / 1000.0)).unwrap(), "{t}");
        }
        let mut values = vec![0.0, -0.0, 1.5, 1e300, -2e-300, 0.1 + 0.2, f64::NAN, f64::INFINITY, f64::NEG_INFINITY];
        values.extend([123456789.0, 1e15, 1e16, 1e-5, 1e-7, 5e-324, f64::MAX, f64::MIN_POSITIVE, -12.25, 100.0]);
        for _ in 0..100_000 {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            values.push(f64::from_bits(x));
            values.push((x >> 11) as f64 / 1e3);
            values.push((x % 1_000_000) as f64 / 100.0);
        }
        for v in values {
            let mut out = Vec::new();
            write_value(&mut out, v);
            let (got, want) = (String::from_utf8(out).unwrap(), format!("\"{}\"", format_float(v)));
            let read = |s: &str| match s.trim_matches('"') {
                "NaN" => f64::NAN.to_bits(),
                "+Inf" => f64::INFINITY.to_bits(),
                "-Inf" => f64::NEG_INFINITY.to_bits(),
                s => s.parse::<f64>().unwrap().to_bits(),
            };
            // The same float in as many characters, without an exponent;
            // equal but for the last digit of a tie.
            assert_eq!((read(&got), got.len()), (read(&want), want.len()), "{v:e}: {got} vs {want}");
            assert!(!got.contains('e') && got[..got.len() - 2] == want[..want.len() - 2], "{got} vs {want}");
        }
    }

    #[tokio::test]
    async fn query_answers_equal_the_json_tree() {
        let l = Labels::from_pairs([("__name__", "up"), ("job", "a\"b\\"), ("zone", "é\n")]).unwrap();
        let series = |drop_name| Series {
            metric: l.clone(),
            points: vec![Sample::new(1_500, 1.0), Sample::new(-2_001, f64::NAN), Sample::new(3, f64::INFINITY)],
            drop_name,
        };
        let mut notes = Annotations::default();
        notes.warn("w \"1\"");
        notes.info("i");
        let values = [
            Value::Scalar { t: 1_000, v: -0.5 },
            Value::String { t: 7, s: "x\"y".into() },
            Value::Vector(vec![
                InstantSample { metric: l.clone(), t: 12, f: 2e300, drop_name: true },
                InstantSample { metric: Labels::empty(), t: 0, f: f64::NEG_INFINITY, drop_name: false },
            ]),
            Value::Vector(Vec::new()),
            Value::Matrix(vec![series(false), series(true)]),
            Value::Matrix(Vec::new()),
        ];
        for v in &values {
            for a in [&Annotations::default(), &notes] {
                let want = body(success(value(v), Some(a))).await;
                assert_eq!(body(query_success(v, a)).await, want, "{v:?}");
            }
        }
    }
}
