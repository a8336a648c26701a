//! InfluxDB line protocol (`/api/v2/write`, `/write`) into Prometheus series.
//!
//! Each numeric field of a line becomes one series named `measurement_field`
//! (sanitized, see [`names`](crate::names)) with the line's tags as labels and one
//! sample. Integers and unsigned integers become floats (large values lose
//! precision, as in every Prometheus-compatible store), booleans become 0 or 1,
//! string fields are skipped and counted in
//! [`DecodeStats::string_fields_skipped`](crate::DecodeStats::string_fields_skipped).
//! A line without a timestamp gets `now`.
//!
//! A syntax error fails the whole request with [`Error::LineProtocol`] naming the
//! line and column: such a body is a client bug that retrying cannot fix. Lines
//! are separated by `\n` (a trailing `\r` is ignored); blank lines and `#` comments
//! are skipped.

pub mod parser;

use std::borrow::Cow;

use crate::batch::{Batch, METRIC_NAME_LABEL, Sample, Series};
use crate::error::{Error, Result};
use crate::limits::Limits;
use crate::names::{sanitize_label_name, sanitize_metric_name};
use parser::{FieldValue, Line, parse_line};

/// The unit of line protocol timestamps, from the `precision` query parameter.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Precision {
    /// Nanoseconds (the default).
    #[default]
    Nanoseconds,
    /// Microseconds.
    Microseconds,
    /// Milliseconds.
    Milliseconds,
    /// Seconds.
    Seconds,
    /// Minutes (InfluxDB 1.x only).
    Minutes,
    /// Hours (InfluxDB 1.x only).
    Hours,
}

impl Precision {
    /// Parses the `precision` parameter of the InfluxDB 2.x API (`ns`, `us`, `ms`, `s`);
    /// absent or empty means nanoseconds.
    pub fn from_v2(param: Option<&str>) -> Result<Self> {
        match param.unwrap_or("") {
            "" | "ns" => Ok(Precision::Nanoseconds),
            "us" => Ok(Precision::Microseconds),
            "ms" => Ok(Precision::Milliseconds),
            "s" => Ok(Precision::Seconds),
            other => Err(Error::InvalidPrecision { precision: other.to_owned(), expected: "ns, us, ms, s" }),
        }
    }

    /// Parses the `precision` parameter of the InfluxDB 1.x API (`n`, `u`, `ms`, `s`,
    /// `m`, `h`, and the 2.x spellings `ns` and `us`); absent or empty means nanoseconds.
    pub fn from_v1(param: Option<&str>) -> Result<Self> {
        match param.unwrap_or("") {
            "" | "n" | "ns" => Ok(Precision::Nanoseconds),
            "u" | "us" | "µ" => Ok(Precision::Microseconds),
            "ms" => Ok(Precision::Milliseconds),
            "s" => Ok(Precision::Seconds),
            "m" => Ok(Precision::Minutes),
            "h" => Ok(Precision::Hours),
            other => Err(Error::InvalidPrecision { precision: other.to_owned(), expected: "n, u, ms, s, m, h" }),
        }
    }

    /// Converts a timestamp in this precision to milliseconds, rounding down;
    /// `None` if it does not fit in an `i64`.
    pub fn to_millis(self, ts: i64) -> Option<i64> {
        match self {
            Precision::Nanoseconds => Some(ts.div_euclid(1_000_000)),
            Precision::Microseconds => Some(ts.div_euclid(1_000)),
            Precision::Milliseconds => Some(ts),
            Precision::Seconds => ts.checked_mul(1_000),
            Precision::Minutes => ts.checked_mul(60_000),
            Precision::Hours => ts.checked_mul(3_600_000),
        }
    }
}

/// Decodes an uncompressed line protocol body.
///
/// Fails on the first malformed line (with its 1-based line and column), on
/// invalid UTF-8, or when the request passes a series or sample limit (each
/// numeric field counts as one series and one sample). Series with invalid labels
/// or a future timestamp are rejections with the line number as index.
pub fn decode(body: &[u8], precision: Precision, limits: &Limits, now_ms: i64) -> Result<Batch> {
    limits.check_body(body.len())?;
    let text = std::str::from_utf8(body).map_err(|e| {
        let line = body[..e.valid_up_to()].iter().filter(|&&c| c == b'\n').count() + 1;
        let start = body[..e.valid_up_to()].iter().rposition(|&c| c == b'\n').map_or(0, |p| p + 1);
        Error::LineProtocol { line, column: e.valid_up_to() - start + 1, reason: "invalid UTF-8".to_owned() }
    })?;
    let mut batch = Batch::default();
    let mut parsed = Line::default();
    let mut name = String::new();
    for (number, raw) in text.split('\n').enumerate().map(|(i, l)| (i + 1, l)) {
        let line = raw.strip_suffix('\r').unwrap_or(raw);
        let trimmed = line.trim_start_matches([' ', '\t']);
        if trimmed.is_empty() || trimmed.starts_with('#') {
            continue;
        }
        let indent = line.len() - trimmed.len();
        let at =
            |offset: usize, reason: String| Error::LineProtocol { line: number, column: indent + offset + 1, reason };
        parse_line(trimmed, &mut parsed).map_err(|e| at(e.offset, e.reason))?;
        let t_ms = match parsed.timestamp {
            None => now_ms,
            Some(ts) => precision.to_millis(ts).ok_or_else(|| {
                let offset = trimmed.rfind(' ').map_or(0, |p| p + 1);
                at(offset, format!("timestamp {ts} overflows milliseconds in precision {precision:?}"))
            })?,
        };
        emit_line(&parsed, t_ms, number, &mut name, &mut batch, limits, now_ms)?;
    }
    Ok(batch)
}

/// Turns the numeric fields of one parsed line into series.
fn emit_line(
    line: &Line<'_>,
    t_ms: i64,
    number: usize,
    name: &mut String,
    batch: &mut Batch,
    limits: &Limits,
    now_ms: i64,
) -> Result<()> {
    let measurement = sanitize_metric_name(&line.measurement);
    let tags: Vec<(String, String)> =
        line.tags.iter().map(|(k, v)| (sanitize_label_name(k), Cow::into_owned(v.clone()))).collect();
    for (field, value) in &line.fields {
        let v = match *value {
            FieldValue::Float(f) => f,
            FieldValue::Int(i) => i as f64,
            FieldValue::Uint(u) => u as f64,
            FieldValue::Bool(b) => f64::from(u8::from(b)),
            FieldValue::String => {
                batch.stats.string_fields_skipped += 1;
                continue;
            }
        };
        let seen = batch.series.len() + batch.rejections.len() + 1;
        limits.check_series_count(seen)?;
        limits.check_sample_count(seen)?;
        name.clear();
        name.push_str(&measurement);
        name.push('_');
        name.push_str(field);
        let mut labels = Vec::with_capacity(tags.len() + 1);
        labels.push((METRIC_NAME_LABEL.to_owned(), sanitize_metric_name(name)));
        labels.extend(tags.iter().cloned());
        limits.admit(batch, number, Series { labels, samples: vec![Sample { t_ms, v }] }, now_ms);
    }
    Ok(())
}

#[cfg(test)]
mod tests;
