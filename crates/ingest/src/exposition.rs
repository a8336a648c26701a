//! The Prometheus text exposition format (0.0.4) and OpenMetrics 1.0 text, as scraped
//! from `/metrics` endpoints.
//!
//! [`Parser`] is an iterator of [`Entry`] values borrowed from the input: metadata
//! (`HELP`, `TYPE`, `UNIT`) and samples. Names and label values are borrowed unless
//! they contain escapes. The first malformed line ends the iteration with a
//! [`ParseError`] naming its line and column: a scrape with a broken exposition is
//! failed as a whole, as Prometheus does, never half-stored silently.
//!
//! Both formats share one grammar here, with these differences chosen by [`Format`]:
//! OpenMetrics timestamps are seconds (floats) and are converted to milliseconds, the
//! input must end with `# EOF`, and exemplars (`# {labels} value [ts]`) after a sample
//! are parsed. Prometheus 3's quoted UTF-8 names (`{"my.metric", "a.b"="c"}`) are
//! accepted in both.

mod line;

use std::borrow::Cow;

pub use line::ParseError;

/// Which exposition format a body is in.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    /// `text/plain; version=0.0.4` (also the fallback for unknown content types).
    PrometheusText,
    /// `application/openmetrics-text`.
    OpenMetrics,
}

impl Format {
    /// The format named by a `Content-Type` header; Prometheus text when unknown.
    pub fn from_content_type(content_type: &str) -> Self {
        if content_type.trim_start().to_ascii_lowercase().starts_with("application/openmetrics-text") {
            Self::OpenMetrics
        } else {
            Self::PrometheusText
        }
    }
}

/// A metric family's declared type.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MetricType {
    /// `counter`.
    Counter,
    /// `gauge`.
    Gauge,
    /// `histogram`.
    Histogram,
    /// `gaugehistogram` (OpenMetrics).
    GaugeHistogram,
    /// `summary`.
    Summary,
    /// `info` (OpenMetrics).
    Info,
    /// `stateset` (OpenMetrics).
    StateSet,
    /// `untyped` (text) or `unknown` (OpenMetrics).
    Unknown,
}

impl MetricType {
    fn parse(text: &str) -> Option<Self> {
        Some(match text {
            "counter" => Self::Counter,
            "gauge" => Self::Gauge,
            "histogram" => Self::Histogram,
            "gaugehistogram" => Self::GaugeHistogram,
            "summary" => Self::Summary,
            "info" => Self::Info,
            "stateset" => Self::StateSet,
            "untyped" | "unknown" => Self::Unknown,
            _ => return None,
        })
    }
}

/// A label pair, borrowed from the input unless it had escapes.
pub type Label<'a> = (Cow<'a, str>, Cow<'a, str>);

/// An exemplar attached to a sample (OpenMetrics).
#[derive(Clone, Debug, PartialEq)]
pub struct Exemplar<'a> {
    /// The exemplar's labels (`trace_id`, …).
    pub labels: Vec<Label<'a>>,
    /// Its value.
    pub value: f64,
    /// Its timestamp in milliseconds, if given.
    pub timestamp_ms: Option<i64>,
}

/// One sample line.
#[derive(Clone, Debug, PartialEq)]
pub struct Sample<'a> {
    /// The metric name (`http_requests_total`, or a quoted UTF-8 name).
    pub name: Cow<'a, str>,
    /// Labels in the order written; names are unique.
    pub labels: Vec<Label<'a>>,
    /// The value; `NaN` and `±Inf` are valid.
    pub value: f64,
    /// The sample's own timestamp in milliseconds, if it has one.
    pub timestamp_ms: Option<i64>,
    /// An exemplar, if one followed the sample.
    pub exemplar: Option<Exemplar<'a>>,
}

/// One meaningful line of an exposition.
#[derive(Clone, Debug, PartialEq)]
pub enum Entry<'a> {
    /// `# HELP name text`.
    Help {
        /// The family name.
        name: Cow<'a, str>,
        /// The help text, unescaped.
        text: Cow<'a, str>,
    },
    /// `# TYPE name type`.
    Type {
        /// The family name.
        name: Cow<'a, str>,
        /// The declared type.
        kind: MetricType,
    },
    /// `# UNIT name unit` (OpenMetrics).
    Unit {
        /// The family name.
        name: Cow<'a, str>,
        /// The unit.
        unit: Cow<'a, str>,
    },
    /// A sample.
    Sample(Sample<'a>),
}

/// Parses an exposition body, line by line.
#[derive(Debug)]
pub struct Parser<'a> {
    text: &'a str,
    pos: usize,
    line: usize,
    format: Format,
    eof_seen: bool,
    done: bool,
}

impl<'a> Parser<'a> {
    /// A parser over `body`. Bytes that are not UTF-8 are an error at their line.
    pub fn new(body: &'a [u8], format: Format) -> Result<Self, ParseError> {
        let text = std::str::from_utf8(body).map_err(|e| {
            let before = &body[..e.valid_up_to()];
            let line = before.iter().filter(|b| **b == b'\n').count() + 1;
            let column = before.len() - before.iter().rposition(|b| *b == b'\n').map_or(0, |p| p + 1) + 1;
            ParseError::new(line, column, "invalid UTF-8")
        })?;
        Ok(Self::from_str(text, format))
    }

    /// A parser over text already known to be UTF-8.
    pub fn from_str(text: &'a str, format: Format) -> Self {
        Self { text, pos: 0, line: 0, format, eof_seen: false, done: false }
    }

    fn next_line(&mut self) -> Option<&'a str> {
        if self.pos >= self.text.len() {
            return None;
        }
        let rest = &self.text[self.pos..];
        let end = rest.find('\n').unwrap_or(rest.len());
        self.pos += end + 1;
        self.line += 1;
        Some(rest[..end].strip_suffix('\r').unwrap_or(&rest[..end]))
    }

    fn fail(&mut self, error: ParseError) -> Option<Result<Entry<'a>, ParseError>> {
        self.done = true;
        Some(Err(error))
    }
}

impl<'a> Iterator for Parser<'a> {
    type Item = Result<Entry<'a>, ParseError>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.done {
            return None;
        }
        loop {
            let Some(text) = self.next_line() else {
                self.done = true;
                if self.format == Format::OpenMetrics && !self.eof_seen {
                    return Some(Err(ParseError::new(self.line + 1, 1, "OpenMetrics input must end with # EOF")));
                }
                return None;
            };
            if self.eof_seen {
                if text.trim().is_empty() && self.pos >= self.text.len() {
                    continue;
                }
                let error = ParseError::new(self.line, 1, "unexpected content after # EOF");
                return self.fail(error);
            }
            let parsed = line::parse_line(text, self.line, self.format);
            match parsed {
                Ok(line::Line::Entry(entry)) => return Some(Ok(entry)),
                Ok(line::Line::Eof) => self.eof_seen = true,
                Ok(line::Line::Nothing) => {}
                Err(e) => return self.fail(e),
            }
        }
    }
}

#[cfg(test)]
mod tests;
