//! Label functions: `label_replace`, `label_join` and the ordering of
//! `sort_by_label`.

use std::cmp::Ordering;

use promql_parser::parser::Expr;
use regex::Regex;
use wk_model::labels::is_valid_label_name;
use wk_model::{LabelsBuilder, METRIC_NAME};

use crate::error::eval_err;
use crate::eval::{Evaluator, StepValue};
use crate::{Result, Vector};

fn string_arg(ev: &mut Evaluator<'_>, e: &Expr, ts: i64) -> Result<String> {
    match ev.eval(e, ts)? {
        StepValue::String(s) => Ok(s),
        _ => eval_err("expected string argument"),
    }
}

/// `label_replace(v, dst, replacement, src, regex)`.
pub(crate) fn label_replace(ev: &mut Evaluator<'_>, args: &[&Expr], ts: i64) -> Result<Vector> {
    let dst = string_arg(ev, args[1], ts)?;
    let repl = string_arg(ev, args[2], ts)?;
    let src = string_arg(ev, args[3], ts)?;
    let pattern = string_arg(ev, args[4], ts)?;
    let re = Regex::new(&format!("^(?s:{pattern})$"))
        .map_err(|e| crate::PromqlError::Eval(format!("invalid regular expression in label_replace(): {e}")))?;
    if !is_valid_label_name(&dst) {
        return eval_err(format!("invalid destination label name in label_replace(): {dst}"));
    }
    let mut vec = ev.eval_vector(args[0], ts)?;
    for s in &mut vec {
        let value = s.metric.get(&src).unwrap_or("");
        if let Some(caps) = re.captures(value) {
            let mut res = String::new();
            caps.expand(&repl, &mut res);
            let mut b = LabelsBuilder::from_labels(&s.metric);
            b.set(&dst, &res);
            s.metric = b.build().map_err(|e| crate::PromqlError::Eval(e.to_string()))?;
            if dst == METRIC_NAME {
                s.drop_name = false;
            }
        }
        s.t = ts;
    }
    Ok(vec)
}

/// `label_join(v, dst, separator, src...)`.
pub(crate) fn label_join(ev: &mut Evaluator<'_>, args: &[&Expr], ts: i64) -> Result<Vector> {
    let dst = string_arg(ev, args[1], ts)?;
    let sep = string_arg(ev, args[2], ts)?;
    let mut srcs = Vec::new();
    for a in &args[3..] {
        let l = string_arg(ev, a, ts)?;
        if !is_valid_label_name(&l) {
            return eval_err(format!("invalid source label name in label_join(): {l}"));
        }
        srcs.push(l);
    }
    if !is_valid_label_name(&dst) {
        return eval_err(format!("invalid destination label name in label_join(): {dst}"));
    }
    let mut vec = ev.eval_vector(args[0], ts)?;
    for s in &mut vec {
        let joined: Vec<&str> = srcs.iter().map(|l| s.metric.get(l).unwrap_or("")).collect();
        let mut b = LabelsBuilder::from_labels(&s.metric);
        b.set(&dst, &joined.join(&sep));
        s.metric = b.build().map_err(|e| crate::PromqlError::Eval(e.to_string()))?;
        if dst == METRIC_NAME {
            s.drop_name = false;
        }
        s.t = ts;
    }
    Ok(vec)
}

/// Sorts by the values of `names` in natural order (digit runs compare as
/// numbers), then by the whole label set.
pub(crate) fn sort_by_label(vec: &mut Vector, names: &[String], desc: bool) {
    vec.sort_by(|a, b| {
        for n in names {
            let (x, y) = (a.metric.get(n).unwrap_or(""), b.metric.get(n).unwrap_or(""));
            let o = natural_cmp(x, y);
            if o != Ordering::Equal {
                return if desc { o.reverse() } else { o };
            }
        }
        let o = a.metric.cmp(&b.metric);
        if desc { o.reverse() } else { o }
    });
}

/// Compares strings so that embedded numbers sort by value ("a2" < "a10").
fn natural_cmp(a: &str, b: &str) -> Ordering {
    let (mut a, mut b) = (a.as_bytes(), b.as_bytes());
    loop {
        match (a.first(), b.first()) {
            (None, None) => return Ordering::Equal,
            (None, Some(_)) => return Ordering::Less,
            (Some(_), None) => return Ordering::Greater,
            (Some(x), Some(y)) if x.is_ascii_digit() && y.is_ascii_digit() => {
                let na = a.iter().take_while(|c| c.is_ascii_digit()).count();
                let nb = b.iter().take_while(|c| c.is_ascii_digit()).count();
                let (da, db) = (trim_zeros(&a[..na]), trim_zeros(&b[..nb]));
                let o = da.len().cmp(&db.len()).then_with(|| da.cmp(db));
                if o != Ordering::Equal {
                    return o;
                }
                (a, b) = (&a[na..], &b[nb..]);
            }
            (Some(x), Some(y)) => {
                if x != y {
                    return x.cmp(y);
                }
                (a, b) = (&a[1..], &b[1..]);
            }
        }
    }
}

fn trim_zeros(d: &[u8]) -> &[u8] {
    let n = d.iter().take_while(|&&c| c == b'0').count();
    &d[n..]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn natural_order() {
        assert_eq!(natural_cmp("a2", "a10"), Ordering::Less);
        assert_eq!(natural_cmp("b", "a10"), Ordering::Greater);
        assert_eq!(natural_cmp("x", "x"), Ordering::Equal);
    }
}
