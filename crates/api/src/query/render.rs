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
    let mut out = Vec::with_capacity(256);
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
fn write_time(out: &mut Vec<u8>, t: i64) {
    let _ = serde_json::to_writer(&mut *out, &(t as f64 / 1000.0));
}

fn write_point(out: &mut Vec<u8>, t: i64, v: f64) {
    out.push(b'[');
    write_time(out, t);
    out.push(b',');
    write_str(out, &format_float(v));
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
