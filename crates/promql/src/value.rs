//! Query results: scalars, strings, instant vectors, range vectors and matrices.

use std::fmt;

use wk_model::{Labels, Sample};

/// One element of an instant vector: a series' labels and one float value.
#[derive(Debug, Clone, PartialEq)]
pub struct InstantSample {
    /// The series' labels. While a query runs, `__name__` may still be present on a
    /// sample that has [`drop_name`](Self::drop_name) set; it is removed before the
    /// result is returned (Prometheus 3's delayed name removal).
    pub metric: Labels,
    /// Timestamp in milliseconds: the sample's own for a raw selector, otherwise
    /// the evaluation time.
    pub t: i64,
    /// The value.
    pub f: f64,
    /// True when a function or operator consumed the value, so the metric name must
    /// be dropped at the end of the query.
    pub drop_name: bool,
}

/// An instant vector: at most one sample per label set.
pub type Vector = Vec<InstantSample>;

/// One series of a range vector or of a range query's result.
#[derive(Debug, Clone, PartialEq)]
pub struct Series {
    /// The series' labels (see [`InstantSample::metric`] for `__name__`).
    pub metric: Labels,
    /// Points in ascending time order.
    pub points: Vec<Sample>,
    /// See [`InstantSample::drop_name`].
    pub drop_name: bool,
}

/// A set of series with points; the result type of range queries and of range
/// selectors in instant queries.
pub type Matrix = Vec<Series>;

/// The value of a PromQL expression.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    /// A number at an evaluation time (milliseconds).
    Scalar {
        /// Evaluation time in milliseconds.
        t: i64,
        /// The number.
        v: f64,
    },
    /// A string literal at an evaluation time (milliseconds).
    String {
        /// Evaluation time in milliseconds.
        t: i64,
        /// The string.
        s: String,
    },
    /// The result of an instant query over an instant-vector expression.
    Vector(Vector),
    /// The result of a range query, or of an instant query over a range selector
    /// (a range vector); series sorted by labels.
    Matrix(Matrix),
}

impl Value {
    /// Returns the PromQL type name, as Prometheus's API reports it.
    pub fn type_name(&self) -> &'static str {
        match self {
            Value::Scalar { .. } => "scalar",
            Value::String { .. } => "string",
            Value::Vector(_) => "vector",
            Value::Matrix(_) => "matrix",
        }
    }
}

/// Formats a float the way Prometheus prints values and label values
/// (Go's `strconv.FormatFloat(f, 'f', -1, 64)` with `+Inf`, `-Inf`, `NaN`).
pub fn format_float(f: f64) -> String {
    if f.is_nan() {
        "NaN".into()
    } else if f == f64::INFINITY {
        "+Inf".into()
    } else if f == f64::NEG_INFINITY {
        "-Inf".into()
    } else {
        format!("{f}")
    }
}

impl fmt::Display for Value {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Value::Scalar { v, .. } => write!(f, "scalar: {}", format_float(*v)),
            Value::String { s, .. } => write!(f, "string: {s:?}"),
            Value::Vector(vec) => {
                for s in vec {
                    writeln!(f, "{} => {} @{}", s.metric, format_float(s.f), s.t)?;
                }
                Ok(())
            }
            Value::Matrix(m) => {
                for s in m {
                    write!(f, "{} =>", s.metric)?;
                    for p in &s.points {
                        write!(f, " {} @{}", format_float(p.v), p.t)?;
                    }
                    writeln!(f)?;
                }
                Ok(())
            }
        }
    }
}
