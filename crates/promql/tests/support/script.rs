//! Parser of the PromQL test-script format (`load`, `clear`, `eval ...` with
//! `expect ...` lines and expected results), as Prometheus's `promqltest` reads it:
//! comment lines count as blank lines, and a blank line ends a block.

use regex::Regex;
use wk_model::Labels;

use super::series_desc::{self, DescError, SeqValue};

/// An expectation on the query's error or annotations, with its message check.
#[derive(Debug, Clone, PartialEq)]
pub enum Check {
    /// Anything (present).
    Any,
    /// Equal to this text.
    Msg(String),
    /// Matching this regex.
    Regex(String),
}

/// What the annotations of one kind must look like.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct AnnoExpect {
    /// `expect no_warn` / `expect no_info`.
    pub none: bool,
    /// `expect warn ...` lines.
    pub checks: Vec<Check>,
}

/// The expected result of an evaluation.
#[derive(Debug, Clone, PartialEq)]
pub enum Expected {
    /// Series lines (possibly none: an empty result).
    Series(Vec<(Labels, Vec<SeqValue>)>),
    /// A bare number.
    Scalar(f64),
    /// `expect string "..."`.
    String(String),
}

/// How the query runs.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum EvalKind {
    /// `eval instant at t`.
    Instant(i64),
    /// `eval range from start to end step s`.
    Range(i64, i64, i64),
}

/// One `eval` command.
#[derive(Debug, Clone)]
pub struct EvalCase {
    /// 1-based line of the `eval` command.
    pub line: usize,
    /// The query text.
    pub query: String,
    /// Instant or range.
    pub kind: EvalKind,
    /// `expect fail ...` (or `eval_fail`).
    pub fail: Option<Check>,
    /// `expect ordered` (or `eval_ordered`).
    pub ordered: bool,
    /// Warning expectations.
    pub warn: AnnoExpect,
    /// Info expectations.
    pub info: AnnoExpect,
    /// `expect range vector from a to b step s` for an instant query.
    pub range_vector: Option<(i64, i64, i64)>,
    /// The expected result.
    pub expected: Expected,
    /// Why this case cannot run here, if it cannot.
    pub unsupported: Option<String>,
}

/// One command of a script.
#[derive(Debug, Clone)]
pub enum Command {
    /// `load` / `load_with_nhcb`.
    Load {
        /// Step between samples, milliseconds.
        interval: i64,
        /// Series and their values.
        series: Vec<(Labels, Vec<SeqValue>)>,
        /// Series this runner could not load (labels, if readable), and why.
        skipped: Vec<(Option<Labels>, String)>,
        /// Set for `load_with_nhcb`.
        nhcb: bool,
    },
    /// `clear`.
    Clear,
    /// `eval ...`.
    Eval(Box<EvalCase>),
}

/// Parses a Prometheus duration (`1h30m`, `10s53ms`, `0`); a bare number is
/// seconds.
pub fn parse_duration(s: &str) -> Option<i64> {
    if let Ok(v) = s.parse::<f64>() {
        return Some((v * 1000.0).round() as i64);
    }
    let re = Regex::new(r"^(?:(\d+)(ms|s|m|h|d|w|y))+$").ok()?;
    if !re.is_match(s) {
        return None;
    }
    let part = Regex::new(r"(\d+)(ms|s|m|h|d|w|y)").ok()?;
    let mut total = 0i64;
    for c in part.captures_iter(s) {
        let n: i64 = c[1].parse().ok()?;
        let unit = match &c[2] {
            "ms" => 1,
            "s" => 1000,
            "m" => 60_000,
            "h" => 3_600_000,
            "d" => 86_400_000,
            "w" => 604_800_000,
            _ => 31_536_000_000,
        };
        total += n * unit;
    }
    Some(total)
}

fn parse_check(rest: &str) -> Check {
    let rest = rest.trim();
    if let Some(m) = rest.strip_prefix("msg:") {
        Check::Msg(m.trim().to_owned())
    } else if let Some(r) = rest.strip_prefix("regex:") {
        Check::Regex(r.trim().to_owned())
    } else {
        Check::Any
    }
}

/// Parses a whole script into commands.
pub fn parse_script(text: &str) -> Result<Vec<Command>, String> {
    let lines: Vec<String> = text
        .lines()
        .map(|l| {
            let t = l.trim();
            if t.starts_with('#') { String::new() } else { t.to_owned() }
        })
        .collect();
    let eval_instant = Regex::new(r"^eval(?:_(fail|warn|ordered|info))?\s+instant\s+at\s+(\S+)\s+(.+)$").unwrap();
    let eval_range =
        Regex::new(r"^eval(?:_(fail|warn|ordered|info))?\s+range\s+from\s+(\S+)\s+to\s+(\S+)\s+step\s+(\S+)\s+(.+)$")
            .unwrap();
    let mut cmds = Vec::new();
    let mut i = 0;
    while i < lines.len() {
        let line = &lines[i];
        let lineno = i + 1;
        i += 1;
        if line.is_empty() {
            continue;
        }
        let block_end = (i..lines.len()).find(|&j| lines[j].is_empty()).unwrap_or(lines.len());
        let block = &lines[i..block_end];
        if line == "clear" {
            cmds.push(Command::Clear);
        } else if let Some(rest) = line.strip_prefix("load") {
            let (nhcb, rest) = match rest.strip_prefix("_with_nhcb") {
                Some(r) => (true, r),
                None => (false, rest),
            };
            let interval =
                parse_duration(rest.trim()).ok_or_else(|| format!("line {lineno}: bad load interval {rest:?}"))?;
            let mut series = Vec::new();
            let mut skipped = Vec::new();
            for l in block {
                match series_desc::parse_series_line(l) {
                    Ok(s) => series.push(s),
                    Err(DescError::Unsupported(why) | DescError::Invalid(why)) => {
                        let labels = series_desc::parse_labels(l).ok().map(|(l, _)| l);
                        skipped.push((labels, why));
                    }
                }
            }
            cmds.push(Command::Load { interval, series, skipped, nhcb });
            i = block_end;
        } else if let Some(c) = eval_instant.captures(line) {
            let t = parse_duration(&c[2]).ok_or_else(|| format!("line {lineno}: bad time"))?;
            let case = parse_eval(lineno, c.get(1).map(|m| m.as_str()), EvalKind::Instant(t), &c[3], block)?;
            cmds.push(Command::Eval(Box::new(case)));
            i = block_end;
        } else if let Some(c) = eval_range.captures(line) {
            let d = |k: usize| parse_duration(&c[k]).ok_or_else(|| format!("line {lineno}: bad time"));
            let kind = EvalKind::Range(d(2)?, d(3)?, d(4)?);
            let case = parse_eval(lineno, c.get(1).map(|m| m.as_str()), kind, &c[5], block)?;
            cmds.push(Command::Eval(Box::new(case)));
            i = block_end;
        } else {
            return Err(format!("line {lineno}: unknown command {line:?}"));
        }
    }
    Ok(cmds)
}

fn parse_eval(
    line: usize,
    legacy: Option<&str>,
    kind: EvalKind,
    query: &str,
    block: &[String],
) -> Result<EvalCase, String> {
    let mut case = EvalCase {
        line,
        query: query.to_owned(),
        kind,
        fail: None,
        ordered: false,
        warn: AnnoExpect::default(),
        info: AnnoExpect::default(),
        range_vector: None,
        expected: Expected::Series(Vec::new()),
        unsupported: None,
    };
    match legacy {
        Some("fail") => case.fail = Some(Check::Any),
        Some("ordered") => case.ordered = true,
        Some("warn") => case.warn.checks.push(Check::Any),
        Some("info") => case.info.checks.push(Check::Any),
        _ => {}
    }
    let mut series = Vec::new();
    for l in block {
        if let Some(rest) = l.strip_prefix("expect ") {
            let rest = rest.trim();
            if let Some(r) = rest.strip_prefix("fail") {
                case.fail = Some(parse_check(r));
            } else if rest == "ordered" {
                case.ordered = true;
            } else if rest == "no_warn" {
                case.warn.none = true;
            } else if rest == "no_info" {
                case.info.none = true;
            } else if let Some(r) = rest.strip_prefix("warn") {
                case.warn.checks.push(parse_check(r));
            } else if let Some(r) = rest.strip_prefix("info") {
                case.info.checks.push(parse_check(r));
            } else if let Some(r) = rest.strip_prefix("string") {
                let (s, _) = series_desc::parse_quoted(r.trim()).map_err(|e| format!("line {line}: {e:?}"))?;
                case.expected = Expected::String(s);
            } else if let Some(r) = rest.strip_prefix("range vector from ") {
                let p: Vec<&str> = r.split_whitespace().collect();
                let d = |s: &str| parse_duration(s).ok_or_else(|| format!("line {line}: bad range vector"));
                if p.len() != 5 || p[1] != "to" || p[3] != "step" {
                    return Err(format!("line {line}: bad range vector expectation"));
                }
                case.range_vector = Some((d(p[0])?, d(p[2])?, d(p[4])?));
            } else {
                case.unsupported = Some(format!("expectation `expect {rest}`"));
            }
            continue;
        }
        if l.contains("{{") {
            case.unsupported = Some("native histograms: the expected result holds `{{...}}` samples".into());
            continue;
        }
        if let Some(v) = series_desc::parse_float(l) {
            case.expected = Expected::Scalar(v);
            continue;
        }
        match series_desc::parse_series_line(l) {
            Ok(s) => series.push(s),
            Err(DescError::Unsupported(e)) => case.unsupported = Some(e),
            Err(DescError::Invalid(e)) => return Err(format!("line {line}: {e}")),
        }
    }
    if !series.is_empty() {
        case.expected = Expected::Series(series);
    }
    Ok(case)
}
