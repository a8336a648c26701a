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

fn point(t: i64, v: f64) -> Json {
    json!([t as f64 / 1000.0, format_float(v)])
}

/// `{"resultType": ..., "result": ...}` for a query result.
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
