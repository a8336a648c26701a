//! Series descriptions of the PromQL test format: `name{label="value"} 1+2x3 _ stale`.

use wk_model::{Labels, STALE_NAN};

/// One value of an expanded sequence.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum SeqValue {
    /// A float (may be the staleness marker).
    Float(f64),
    /// `_`: no sample at this step.
    Omitted,
}

/// Why a line could not be used.
#[derive(Debug, Clone, PartialEq)]
pub enum DescError {
    /// The line uses a feature this runner does not support (native histograms).
    Unsupported(String),
    /// The line is malformed.
    Invalid(String),
}

/// Parses `name{a="b"} values...` into labels and the expanded values.
pub fn parse_series_line(line: &str) -> Result<(Labels, Vec<SeqValue>), DescError> {
    let (labels, rest) = parse_labels(line)?;
    Ok((labels, parse_values(rest)?))
}

/// Parses the metric part of a line and returns the rest.
pub fn parse_labels(line: &str) -> Result<(Labels, &str), DescError> {
    let line = line.trim_start();
    let name_end = line.find(|c: char| !(c.is_ascii_alphanumeric() || c == '_' || c == ':')).unwrap_or(line.len());
    let name = &line[..name_end];
    let mut rest = &line[name_end..];
    let mut pairs: Vec<(String, String)> = Vec::new();
    if !name.is_empty() {
        pairs.push(("__name__".into(), name.into()));
    }
    if let Some(r) = rest.strip_prefix('{') {
        rest = r;
        loop {
            rest = rest.trim_start_matches([' ', ',', '\t']);
            if let Some(r) = rest.strip_prefix('}') {
                rest = r;
                break;
            }
            let (n, r) = if rest.starts_with(['"', '\'', '`']) {
                let (s, r) = parse_quoted(rest)?;
                (s, r)
            } else {
                let end = rest
                    .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
                    .ok_or_else(|| DescError::Invalid(format!("bad label in {line:?}")))?;
                (rest[..end].to_owned(), &rest[end..])
            };
            let r = r.trim_start();
            if let Some(r) = r.strip_prefix('=') {
                let (v, r) = parse_quoted(r.trim_start())?;
                pairs.push((n, v));
                rest = r;
            } else {
                // A quoted metric name inside the braces.
                pairs.push(("__name__".into(), n));
                rest = r;
            }
        }
    }
    let labels = Labels::from_pairs(pairs.iter().map(|(n, v)| (n.as_str(), v.as_str())))
        .map_err(|e| DescError::Unsupported(format!("labels: {e}")))?;
    Ok((labels, rest))
}

/// Parses a Go-style quoted string and returns it unescaped, with the rest.
pub fn parse_quoted(s: &str) -> Result<(String, &str), DescError> {
    let q = s.chars().next().ok_or_else(|| DescError::Invalid("expected string".into()))?;
    let mut out = String::new();
    let mut chars = s[1..].char_indices();
    while let Some((i, c)) = chars.next() {
        if c == q {
            return Ok((out, &s[1 + i + 1..]));
        }
        if c == '\\' && q != '`' {
            let (_, e) = chars.next().ok_or_else(|| DescError::Invalid("bad escape".into()))?;
            match e {
                'n' => out.push('\n'),
                't' => out.push('\t'),
                'r' => out.push('\r'),
                '\\' | '"' | '\'' => out.push(e),
                'x' => {
                    let h: String = (0..2).filter_map(|_| chars.next().map(|x| x.1)).collect();
                    let b = u8::from_str_radix(&h, 16).map_err(|e| DescError::Invalid(e.to_string()))?;
                    out.push(char::from(b));
                }
                'u' => {
                    let h: String = (0..4).filter_map(|_| chars.next().map(|x| x.1)).collect();
                    let cp = u32::from_str_radix(&h, 16).map_err(|e| DescError::Invalid(e.to_string()))?;
                    out.push(char::from_u32(cp).unwrap_or('\u{fffd}'));
                }
                other => {
                    out.push('\\');
                    out.push(other);
                }
            }
        } else {
            out.push(c);
        }
    }
    Err(DescError::Invalid(format!("unterminated string in {s:?}")))
}

/// Parses a float as the test format writes it.
pub fn parse_float(s: &str) -> Option<f64> {
    match s {
        "Inf" | "+Inf" | "inf" | "+inf" => Some(f64::INFINITY),
        "-Inf" | "-inf" => Some(f64::NEG_INFINITY),
        "NaN" | "nan" => Some(f64::NAN),
        "stale" => Some(STALE_NAN),
        _ => s.parse().ok(),
    }
}

/// Expands the value notation: `a`, `a+bxN`, `a-bxN`, `axN`, `_`, `_xN`, `stale`.
pub fn parse_values(s: &str) -> Result<Vec<SeqValue>, DescError> {
    if s.contains("{{") {
        return Err(DescError::Unsupported("native histograms: the query selects `{{...}}` series".into()));
    }
    let mut out = Vec::new();
    for item in s.split_whitespace() {
        if item == "_" {
            out.push(SeqValue::Omitted);
            continue;
        }
        if let Some(n) = item.strip_prefix("_x") {
            let n: usize = n.parse().map_err(|_| DescError::Invalid(item.into()))?;
            out.extend(std::iter::repeat_n(SeqValue::Omitted, n));
            continue;
        }
        if let Some(v) = parse_float(item) {
            out.push(SeqValue::Float(v));
            continue;
        }
        if item.contains('@') {
            return Err(DescError::Unsupported("start timestamps (`@st`)".into()));
        }
        let (base, times) = item.rsplit_once('x').ok_or_else(|| DescError::Invalid(format!("bad value {item:?}")))?;
        let n: usize = times.parse().map_err(|_| DescError::Invalid(format!("bad repeat in {item:?}")))?;
        let (start, delta) = split_delta(base).ok_or_else(|| DescError::Invalid(item.into()))?;
        if start.to_bits() == STALE_NAN.to_bits() {
            out.extend(std::iter::repeat_n(SeqValue::Float(STALE_NAN), n + 1));
            continue;
        }
        for i in 0..=n {
            out.push(SeqValue::Float(start + delta * i as f64));
        }
    }
    Ok(out)
}

/// Splits `a+b` / `a-b` / `a` into start and step (the sign after the first
/// character separates them, so `-1-2` is start -1, step -2).
fn split_delta(s: &str) -> Option<(f64, f64)> {
    for (i, c) in s.char_indices().skip(1) {
        if (c == '+' || c == '-') && !s[..i].ends_with(['e', 'E']) {
            let a = parse_float(&s[..i])?;
            let b = parse_float(&s[i + 1..])?;
            return Some((a, if c == '-' { -b } else { b }));
        }
    }
    Some((parse_float(s)?, 0.0))
}
