//! A zero-copy parser for one line of InfluxDB line protocol.
//!
//! ```text
//! measurement[,tag_key=tag_value...] field_key=field_value[,field_key=field_value...] [timestamp]
//! ```
//!
//! Escapes follow the InfluxDB reference: in the measurement a backslash escapes a
//! comma or a space; in tag keys, tag values and field keys it escapes a comma, an
//! equals sign or a space; in string field values it escapes a double quote or a
//! backslash. A backslash before any other character is kept literally. Names
//! without escapes are borrowed from the input; only escaped names are allocated.

use std::borrow::Cow;

/// A field value, typed as the suffix or syntax says.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum FieldValue {
    /// `1.5`, `-2`, `1e3`.
    Float(f64),
    /// `3i`.
    Int(i64),
    /// `3u`.
    Uint(u64),
    /// `t`, `true`, `F`, `FALSE`…
    Bool(bool),
    /// `"text"`; the text is not kept, it has no numeric value.
    String,
}

/// One parsed line; the vectors are reused from line to line.
#[derive(Debug, Default)]
pub struct Line<'a> {
    /// The measurement name, unescaped.
    pub measurement: Cow<'a, str>,
    /// Tag pairs in the order written, unescaped.
    pub tags: Vec<(Cow<'a, str>, Cow<'a, str>)>,
    /// Field pairs in the order written.
    pub fields: Vec<(Cow<'a, str>, FieldValue)>,
    /// The timestamp in the request's precision, if present.
    pub timestamp: Option<i64>,
}

/// A parse failure: 0-based byte offset in the line and a reason.
#[derive(Debug, PartialEq, Eq)]
pub struct ParseError {
    /// 0-based byte offset in the line.
    pub offset: usize,
    /// What is wrong.
    pub reason: String,
}

type PResult<T> = Result<T, ParseError>;

fn err<T>(offset: usize, reason: impl Into<String>) -> PResult<T> {
    Err(ParseError { offset, reason: reason.into() })
}

/// Which characters a backslash escapes, and which end the token.
#[derive(Clone, Copy)]
enum Context {
    Measurement,
    TagKey,
    TagValue,
    FieldKey,
}

impl Context {
    fn escapable(self, b: u8) -> bool {
        match self {
            Context::Measurement => b == b',' || b == b' ',
            _ => b == b',' || b == b' ' || b == b'=',
        }
    }

    fn terminates(self, b: u8) -> bool {
        match self {
            Context::Measurement | Context::TagValue => b == b',' || b == b' ',
            Context::TagKey | Context::FieldKey => b == b',' || b == b' ' || b == b'=',
        }
    }

    fn what(self) -> &'static str {
        match self {
            Context::Measurement => "measurement",
            Context::TagKey => "tag key",
            Context::TagValue => "tag value",
            Context::FieldKey => "field key",
        }
    }
}

/// Parses `line` (no newline, not a comment, not blank) into `out`.
pub fn parse_line<'a>(line: &'a str, out: &mut Line<'a>) -> PResult<()> {
    let b = line.as_bytes();
    out.tags.clear();
    out.fields.clear();
    out.timestamp = None;
    let (measurement, mut pos) = token(line, 0, Context::Measurement)?;
    out.measurement = measurement;
    while b.get(pos) == Some(&b',') {
        let (key, p) = token(line, pos + 1, Context::TagKey)?;
        pos = expect_equals(b, p, "tag key")?;
        let (value, p) = token(line, pos, Context::TagValue)?;
        out.tags.push((key, value));
        pos = p;
    }
    pos = skip_spaces(b, pos);
    if pos >= b.len() {
        return err(pos, "missing fields: expected at least one field_key=value after the measurement and tags");
    }
    loop {
        let (key, p) = token(line, pos, Context::FieldKey)?;
        pos = expect_equals(b, p, "field key")?;
        let (value, p) = field_value(line, pos)?;
        out.fields.push((key, value));
        pos = p;
        if b.get(pos) == Some(&b',') {
            pos += 1;
        } else {
            break;
        }
    }
    pos = skip_spaces(b, pos);
    if pos < b.len() {
        let end = b[pos..].iter().position(|&c| c == b' ').map_or(b.len(), |n| pos + n);
        let text = &line[pos..end];
        let ts =
            text.parse::<i64>().or_else(|_| err(pos, format!("invalid timestamp {text:?}: expected an integer")))?;
        out.timestamp = Some(ts);
        pos = skip_spaces(b, end);
        if pos < b.len() {
            return err(pos, "unexpected text after the timestamp");
        }
    }
    Ok(())
}

fn skip_spaces(b: &[u8], mut pos: usize) -> usize {
    while b.get(pos) == Some(&b' ') || b.get(pos) == Some(&b'\t') {
        pos += 1;
    }
    pos
}

fn expect_equals(b: &[u8], pos: usize, after: &str) -> PResult<usize> {
    match b.get(pos) {
        Some(b'=') => Ok(pos + 1),
        _ => err(pos, format!("expected '=' after the {after}")),
    }
}

/// Reads a name or tag value starting at `start`; returns it unescaped and the
/// offset of the terminating character (or the end of the line).
fn token(line: &str, start: usize, ctx: Context) -> PResult<(Cow<'_, str>, usize)> {
    let b = line.as_bytes();
    let mut pos = start;
    let mut escaped = false;
    while pos < b.len() {
        let c = b[pos];
        if c == b'\\' && pos + 1 < b.len() && ctx.escapable(b[pos + 1]) {
            escaped = true;
            pos += 2;
            continue;
        }
        if ctx.terminates(c) {
            break;
        }
        pos += 1;
    }
    if pos == start {
        return err(start, format!("empty {}", ctx.what()));
    }
    let raw = &line[start..pos];
    if !escaped {
        return Ok((Cow::Borrowed(raw), pos));
    }
    let mut s = String::with_capacity(raw.len());
    let mut chars = raw.chars().peekable();
    while let Some(c) = chars.next() {
        if c == '\\'
            && let Some(&next) = chars.peek()
            && next.is_ascii()
            && ctx.escapable(next as u8)
        {
            s.push(next);
            chars.next();
            continue;
        }
        s.push(c);
    }
    Ok((Cow::Owned(s), pos))
}

/// Reads a field value at `start`; returns it and the offset after it.
fn field_value(line: &str, start: usize) -> PResult<(FieldValue, usize)> {
    let b = line.as_bytes();
    if b.get(start) == Some(&b'"') {
        let mut pos = start + 1;
        while pos < b.len() {
            match b[pos] {
                b'\\' if pos + 1 < b.len() => pos += 2,
                b'"' => return Ok((FieldValue::String, pos + 1)),
                _ => pos += 1,
            }
        }
        return err(start, "unterminated string field value: missing closing '\"'");
    }
    let end = b[start..].iter().position(|&c| c == b',' || c == b' ').map_or(b.len(), |n| start + n);
    let text = &line[start..end];
    let value = parse_scalar(text).ok_or_else(|| ParseError {
        offset: start,
        reason: if text.is_empty() {
            "missing field value".to_owned()
        } else {
            format!("invalid field value {text:?}: expected a float, an integer (3i), an unsigned (3u), a boolean or a quoted string")
        },
    })?;
    Ok((value, end))
}

fn parse_scalar(text: &str) -> Option<FieldValue> {
    match text {
        "t" | "T" | "true" | "True" | "TRUE" => return Some(FieldValue::Bool(true)),
        "f" | "F" | "false" | "False" | "FALSE" => return Some(FieldValue::Bool(false)),
        _ => {}
    }
    if let Some(int) = text.strip_suffix('i') {
        return int.parse().ok().map(FieldValue::Int);
    }
    if let Some(uint) = text.strip_suffix('u') {
        return uint.parse().ok().map(FieldValue::Uint);
    }
    // Rust also accepts "inf" and "NaN"; line protocol does not.
    if !text.bytes().all(|c| c.is_ascii_digit() || matches!(c, b'.' | b'-' | b'+' | b'e' | b'E')) {
        return None;
    }
    text.parse().ok().map(FieldValue::Float)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(line: &str) -> PResult<Line<'_>> {
        let mut out = Line::default();
        parse_line(line, &mut out).map(|()| out)
    }

    #[test]
    fn all_field_types() {
        let l = parse(r#"weather,loc=us-west temp=82.5,count=3i,big=7u,ok=true,note="hi, there" 1465839830100400200"#)
            .unwrap();
        assert_eq!(l.measurement, "weather");
        assert_eq!(l.tags, [("loc".into(), "us-west".into())]);
        let values: Vec<_> = l.fields.iter().map(|f| f.1).collect();
        assert_eq!(
            values,
            [
                FieldValue::Float(82.5),
                FieldValue::Int(3),
                FieldValue::Uint(7),
                FieldValue::Bool(true),
                FieldValue::String
            ]
        );
        assert_eq!(l.timestamp, Some(1465839830100400200));
    }

    #[test]
    fn escapes() {
        let l = parse(r#"my\ meas\,ure,ta\=g\ k=v\,a\ l\=ue f\,k\=\ x="q\"uote\\" -5"#).unwrap();
        assert_eq!(l.measurement, "my meas,ure");
        assert_eq!(l.tags, [("ta=g k".into(), "v,a l=ue".into())]);
        assert_eq!(l.fields[0].0, "f,k= x");
        assert_eq!(l.timestamp, Some(-5));
        // A backslash before an ordinary character is literal.
        assert_eq!(parse(r"a\b v=1").unwrap().measurement, r"a\b");
    }

    #[test]
    fn errors_have_offsets() {
        let cases = [
            ("m", 1, "missing fields"),
            ("m,t v=1", 3, "expected '='"),
            ("m v=", 4, "missing field value"),
            ("m v=abc", 4, "invalid field value"),
            ("m v=1,", 6, "empty field key"),
            (r#"m v="open"#, 4, "unterminated"),
            ("m v=1 12x", 6, "invalid timestamp"),
            ("m v=1 1 2", 8, "unexpected text"),
            (",t=1 v=1", 0, "empty measurement"),
            ("m v=inf", 4, "invalid field value"),
            ("m v=1i2", 4, "invalid field value"),
        ];
        for (line, offset, reason) in cases {
            let e = parse(line).unwrap_err();
            assert_eq!(e.offset, offset, "{line}: {e:?}");
            assert!(e.reason.contains(reason), "{line}: {e:?}");
        }
    }
}
