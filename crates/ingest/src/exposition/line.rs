//! One line of an exposition: a comment with metadata, or a sample.

use std::borrow::Cow;
use std::fmt;

use super::{Entry, Exemplar, Format, Label, MetricType, Sample};

/// A malformed line: where it is and what is wrong.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub struct ParseError {
    /// 1-based line number.
    pub line: usize,
    /// 1-based column (in characters) where the problem starts.
    pub column: usize,
    /// What is wrong.
    pub message: String,
}

impl ParseError {
    pub(crate) fn new(line: usize, column: usize, message: impl Into<String>) -> Self {
        Self { line, column, message: message.into() }
    }
}

impl fmt::Display for ParseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "line {}, column {}: {}", self.line, self.column, self.message)
    }
}

pub(crate) enum Line<'a> {
    Entry(Entry<'a>),
    Eof,
    Nothing,
}

/// A cursor over one line.
struct Cursor<'a> {
    text: &'a str,
    pos: usize,
    line: usize,
}

impl<'a> Cursor<'a> {
    fn error(&self, message: impl Into<String>) -> ParseError {
        let column = self.text[..self.pos.min(self.text.len())].chars().count() + 1;
        ParseError::new(self.line, column, message)
    }

    fn peek(&self) -> Option<u8> {
        self.text.as_bytes().get(self.pos).copied()
    }

    fn at_end(&self) -> bool {
        self.pos >= self.text.len()
    }

    fn skip_blanks(&mut self) -> usize {
        let start = self.pos;
        while matches!(self.peek(), Some(b' ' | b'\t')) {
            self.pos += 1;
        }
        self.pos - start
    }

    fn expect(&mut self, byte: u8, what: &str) -> Result<(), ParseError> {
        if self.peek() == Some(byte) {
            self.pos += 1;
            Ok(())
        } else {
            Err(self.error(format!("expected {what}, found {}", self.describe_next())))
        }
    }

    fn describe_next(&self) -> String {
        match self.text[self.pos.min(self.text.len())..].chars().next() {
            None => "end of line".to_owned(),
            Some(c) => format!("{c:?}"),
        }
    }

    /// A legacy name: `[a-zA-Z_:][a-zA-Z0-9_:]*` (colons allowed for metric names only).
    fn legacy_name(&mut self, colons: bool) -> Option<&'a str> {
        let bytes = self.text.as_bytes();
        let start = self.pos;
        let ok_first = |b: u8| b.is_ascii_alphabetic() || b == b'_' || (colons && b == b':');
        if !bytes.get(self.pos).copied().is_some_and(ok_first) {
            return None;
        }
        self.pos += 1;
        while bytes.get(self.pos).copied().is_some_and(|b| ok_first(b) || b.is_ascii_digit()) {
            self.pos += 1;
        }
        Some(&self.text[start..self.pos])
    }

    /// A double-quoted string with `\\`, `\"` and `\n` escapes; other escapes are kept
    /// as written, as Prometheus does.
    fn quoted(&mut self) -> Result<Cow<'a, str>, ParseError> {
        self.expect(b'"', "'\"'")?;
        let start = self.pos;
        let bytes = self.text.as_bytes();
        let mut escaped = false;
        loop {
            match bytes.get(self.pos) {
                None => return Err(self.error("unterminated quoted string")),
                Some(b'"') => break,
                Some(b'\\') => {
                    escaped = true;
                    self.pos += 2;
                }
                Some(_) => self.pos += 1,
            }
        }
        if self.pos > self.text.len() {
            return Err(self.error("unterminated quoted string"));
        }
        let raw = &self.text[start..self.pos];
        self.pos += 1;
        Ok(if escaped { Cow::Owned(unescape(raw, true)) } else { Cow::Borrowed(raw) })
    }

    /// The next token up to a blank or the end of the line.
    fn token(&mut self) -> &'a str {
        let start = self.pos;
        while !matches!(self.peek(), None | Some(b' ' | b'\t')) {
            self.pos += 1;
        }
        &self.text[start..self.pos]
    }
}

fn unescape(raw: &str, quotes: bool) -> String {
    let mut out = String::with_capacity(raw.len());
    let mut chars = raw.chars();
    while let Some(c) = chars.next() {
        if c != '\\' {
            out.push(c);
            continue;
        }
        match chars.next() {
            Some('\\') => out.push('\\'),
            Some('n') => out.push('\n'),
            Some('"') if quotes => out.push('"'),
            Some(other) => {
                out.push('\\');
                out.push(other);
            }
            None => out.push('\\'),
        }
    }
    out
}

pub(crate) fn parse_line(text: &str, line: usize, format: Format) -> Result<Line<'_>, ParseError> {
    let mut cursor = Cursor { text, pos: 0, line };
    cursor.skip_blanks();
    match cursor.peek() {
        None => Ok(Line::Nothing),
        Some(b'#') => parse_comment(cursor, format),
        Some(_) => parse_sample(&mut cursor, format).map(|s| Line::Entry(Entry::Sample(s))),
    }
}

fn parse_comment(mut cursor: Cursor<'_>, format: Format) -> Result<Line<'_>, ParseError> {
    cursor.pos += 1;
    if cursor.skip_blanks() == 0 {
        return Ok(Line::Nothing);
    }
    let keyword = cursor.token();
    if keyword == "EOF" && format == Format::OpenMetrics {
        return Ok(Line::Eof);
    }
    if !matches!(keyword, "HELP" | "TYPE" | "UNIT") {
        return Ok(Line::Nothing);
    }
    if cursor.skip_blanks() == 0 {
        return Err(cursor.error(format!("expected a metric name after # {keyword}")));
    }
    let name = metric_name(&mut cursor)?;
    let blanks = cursor.skip_blanks();
    let rest = &cursor.text[cursor.pos..];
    match keyword {
        "HELP" => {
            let text = if rest.contains('\\') { Cow::Owned(unescape(rest, false)) } else { Cow::Borrowed(rest) };
            Ok(Line::Entry(Entry::Help { name, text }))
        }
        "TYPE" => {
            let word = rest.trim_end();
            if blanks == 0 && !word.is_empty() {
                return Err(cursor.error("expected a blank after the metric name"));
            }
            let kind = MetricType::parse(word).ok_or_else(|| cursor.error(format!("invalid metric type {word:?}")))?;
            Ok(Line::Entry(Entry::Type { name, kind }))
        }
        _ => Ok(Line::Entry(Entry::Unit { name, unit: Cow::Borrowed(rest.trim_end()) })),
    }
}

fn metric_name<'a>(cursor: &mut Cursor<'a>) -> Result<Cow<'a, str>, ParseError> {
    if cursor.peek() == Some(b'"') {
        return cursor.quoted();
    }
    cursor.legacy_name(true).map(Cow::Borrowed).ok_or_else(|| {
        cursor.error(format!("invalid metric name: expected [a-zA-Z_:], found {}", cursor.describe_next()))
    })
}

fn parse_sample<'a>(cursor: &mut Cursor<'a>, format: Format) -> Result<Sample<'a>, ParseError> {
    let mut name = if cursor.peek() == Some(b'{') { None } else { Some(metric_name(cursor)?) };
    let mut blanks = cursor.skip_blanks();
    let mut labels = Vec::new();
    if cursor.peek() == Some(b'{') {
        cursor.pos += 1;
        parse_labels(cursor, &mut name, &mut labels)?;
        blanks = cursor.skip_blanks();
    }
    if name.is_none()
        && let Some(i) = labels.iter().position(|(n, _)| n == "__name__")
    {
        // promtool's dump format writes the name as a label: `{__name__="m", a="b"}`.
        name = Some(labels.remove(i).1);
    }
    let name = name.ok_or_else(|| cursor.error("sample has no metric name"))?;
    if blanks == 0 {
        return Err(cursor.error(format!("expected a blank before the value, found {}", cursor.describe_next())));
    }
    let value = parse_value(cursor)?;
    cursor.skip_blanks();
    let mut timestamp_ms = None;
    if !cursor.at_end() && cursor.peek() != Some(b'#') {
        timestamp_ms = Some(parse_timestamp(cursor, format)?);
        cursor.skip_blanks();
    }
    let mut exemplar = None;
    if cursor.peek() == Some(b'#') {
        if format != Format::OpenMetrics {
            return Err(cursor.error("exemplars are only allowed in OpenMetrics"));
        }
        exemplar = Some(parse_exemplar(cursor)?);
        cursor.skip_blanks();
    }
    if !cursor.at_end() {
        return Err(cursor.error(format!("unexpected {} after the sample", cursor.describe_next())));
    }
    Ok(Sample { name, labels, value, timestamp_ms, exemplar })
}

/// Reads `name="value", …}` (the opening brace is consumed). A quoted string alone as
/// the first item is the metric name (Prometheus 3 UTF-8 syntax).
fn parse_labels<'a>(
    cursor: &mut Cursor<'a>,
    name: &mut Option<Cow<'a, str>>,
    labels: &mut Vec<Label<'a>>,
) -> Result<(), ParseError> {
    loop {
        cursor.skip_blanks();
        if cursor.peek() == Some(b'}') {
            cursor.pos += 1;
            return Ok(());
        }
        let start = cursor.pos;
        let label = if cursor.peek() == Some(b'"') {
            cursor.quoted()?
        } else {
            Cow::Borrowed(cursor.legacy_name(false).ok_or_else(|| {
                cursor.error(format!("invalid label name: expected [a-zA-Z_], found {}", cursor.describe_next()))
            })?)
        };
        cursor.skip_blanks();
        if cursor.peek() != Some(b'=') {
            let quoted_alone = cursor.text.as_bytes()[start] == b'"' && matches!(cursor.peek(), Some(b',' | b'}'));
            if quoted_alone && name.is_none() && labels.is_empty() {
                *name = Some(label);
            } else {
                return Err(cursor.error(format!("expected '=' after label name, found {}", cursor.describe_next())));
            }
        } else {
            cursor.pos += 1;
            cursor.skip_blanks();
            let value = cursor.quoted()?;
            if labels.iter().any(|(n, _)| *n == label) {
                return Err(cursor.error(format!("duplicate label name {label:?}")));
            }
            labels.push((label, value));
        }
        cursor.skip_blanks();
        match cursor.peek() {
            Some(b',') => cursor.pos += 1,
            Some(b'}') => {}
            _ => return Err(cursor.error(format!("expected ',' or '}}' in labels, found {}", cursor.describe_next()))),
        }
    }
}

fn parse_value(cursor: &mut Cursor<'_>) -> Result<f64, ParseError> {
    let column_cursor = cursor.pos;
    let token = cursor.token();
    parse_float(token).ok_or_else(|| {
        let mut at = Cursor { text: cursor.text, pos: column_cursor, line: cursor.line };
        at.pos = column_cursor;
        at.error(if token.is_empty() { "missing value".to_owned() } else { format!("invalid value {token:?}") })
    })
}

/// Go's `strconv.ParseFloat` forms that appear in expositions: decimal and exponent
/// forms, `NaN`, `Inf`, `+Inf`, `-Inf` (any case).
fn parse_float(token: &str) -> Option<f64> {
    let unsigned = token.trim_start_matches(['+', '-']);
    if unsigned.eq_ignore_ascii_case("nan") {
        return (token.len() == 3).then_some(f64::NAN);
    }
    if unsigned.eq_ignore_ascii_case("inf") || unsigned.eq_ignore_ascii_case("infinity") {
        if token.len() - unsigned.len() > 1 {
            return None;
        }
        return Some(if token.starts_with('-') { f64::NEG_INFINITY } else { f64::INFINITY });
    }
    if !token.bytes().all(|b| b.is_ascii_digit() || matches!(b, b'.' | b'e' | b'E' | b'+' | b'-')) {
        return None;
    }
    token.parse().ok()
}

fn parse_timestamp(cursor: &mut Cursor<'_>, format: Format) -> Result<i64, ParseError> {
    let start = cursor.pos;
    let token = cursor.token();
    let bad = |c: &Cursor<'_>| {
        let at = Cursor { text: c.text, pos: start, line: c.line };
        at.error(format!("invalid timestamp {token:?}"))
    };
    match format {
        Format::PrometheusText => token.parse::<i64>().map_err(|_| bad(cursor)),
        Format::OpenMetrics => {
            let seconds = parse_float(token).filter(|s| s.is_finite()).ok_or_else(|| bad(cursor))?;
            let millis = (seconds * 1000.0).round();
            if millis.abs() > i64::MAX as f64 {
                return Err(bad(cursor));
            }
            Ok(millis as i64)
        }
    }
}

fn parse_exemplar<'a>(cursor: &mut Cursor<'a>) -> Result<Exemplar<'a>, ParseError> {
    cursor.pos += 1;
    if cursor.skip_blanks() == 0 {
        return Err(cursor.error("expected a blank after '#' of an exemplar"));
    }
    cursor.expect(b'{', "'{' starting the exemplar's labels")?;
    let mut labels = Vec::new();
    let mut no_name = None;
    parse_labels(cursor, &mut no_name, &mut labels)?;
    if no_name.is_some() {
        return Err(cursor.error("an exemplar has no metric name"));
    }
    if cursor.skip_blanks() == 0 {
        return Err(cursor.error("expected a blank before the exemplar's value"));
    }
    let value = parse_value(cursor)?;
    cursor.skip_blanks();
    let timestamp_ms = if cursor.at_end() { None } else { Some(parse_timestamp(cursor, Format::OpenMetrics)?) };
    Ok(Exemplar { labels, value, timestamp_ms })
}
