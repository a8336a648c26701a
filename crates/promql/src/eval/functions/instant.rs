//! Functions over an instant vector, element by element: math, trigonometry,
//! `clamp*`, `round`, and the calendar functions (`hour`, `month`, ...) in UTC.

use promql_parser::parser::Expr;
use wk_model::Labels;

use super::stats::{go_max, go_min};
use super::{map_vector, sample};
use crate::Result;
use crate::eval::{Evaluator, StepValue};

/// Evaluates `name` if it is an element-wise function; `None` otherwise.
pub(crate) fn call(ev: &mut Evaluator<'_>, name: &str, args: &[&Expr], ts: i64) -> Result<Option<StepValue>> {
    if let Some(f) = math_fn(name) {
        let vec = ev.eval_vector(args[0], ts)?;
        return Ok(Some(StepValue::Vector(map_vector(vec, ts, f))));
    }
    if let Some(part) = calendar_fn(name) {
        let vec = match args.first() {
            Some(a) => ev.eval_vector(a, ts)?,
            None => vec![sample(Labels::empty(), ts, ts as f64 / 1000.0, false)],
        };
        return Ok(Some(StepValue::Vector(map_vector(vec, ts, |v| {
            if v.is_nan() || v.is_infinite() {
                return f64::NAN;
            }
            part(civil(v.floor() as i64))
        }))));
    }
    let out = match name {
        "clamp" => {
            let vec = ev.eval_vector(args[0], ts)?;
            let lo = ev.eval_scalar(args[1], ts)?;
            let hi = ev.eval_scalar(args[2], ts)?;
            if hi < lo { Vec::new() } else { map_vector(vec, ts, |v| go_max(lo, go_min(hi, v))) }
        }
        "clamp_min" => {
            let vec = ev.eval_vector(args[0], ts)?;
            let lo = ev.eval_scalar(args[1], ts)?;
            map_vector(vec, ts, |v| go_max(lo, v))
        }
        "clamp_max" => {
            let vec = ev.eval_vector(args[0], ts)?;
            let hi = ev.eval_scalar(args[1], ts)?;
            map_vector(vec, ts, |v| go_min(hi, v))
        }
        "round" => {
            let vec = ev.eval_vector(args[0], ts)?;
            let to = match args.get(1) {
                Some(a) => ev.eval_scalar(a, ts)?,
                None => 1.0,
            };
            let inv = 1.0 / to;
            map_vector(vec, ts, |v| (v * inv + 0.5).floor() / inv)
        }
        _ => return Ok(None),
    };
    Ok(Some(StepValue::Vector(out)))
}

fn math_fn(name: &str) -> Option<fn(f64) -> f64> {
    Some(match name {
        "abs" => f64::abs,
        "ceil" => f64::ceil,
        "floor" => f64::floor,
        "exp" => f64::exp,
        "ln" => f64::ln,
        "log2" => f64::log2,
        "log10" => f64::log10,
        "sqrt" => f64::sqrt,
        "sgn" => |v: f64| {
            if v < 0.0 {
                -1.0
            } else if v > 0.0 {
                1.0
            } else {
                v
            }
        },
        "sin" => f64::sin,
        "cos" => f64::cos,
        "tan" => f64::tan,
        "asin" => f64::asin,
        "acos" => f64::acos,
        "atan" => f64::atan,
        "sinh" => f64::sinh,
        "cosh" => f64::cosh,
        "tanh" => f64::tanh,
        "asinh" => f64::asinh,
        "acosh" => f64::acosh,
        "atanh" => f64::atanh,
        "deg" => |v: f64| v * 180.0 / std::f64::consts::PI,
        "rad" => |v: f64| v * std::f64::consts::PI / 180.0,
        _ => return None,
    })
}

/// A UTC calendar breakdown of a Unix time in seconds.
#[derive(Debug, Clone, Copy)]
struct Civil {
    year: i64,
    month: u32,
    day: u32,
    hour: i64,
    minute: i64,
    weekday: i64,
    yday: i64,
}

fn calendar_fn(name: &str) -> Option<fn(Civil) -> f64> {
    Some(match name {
        "minute" => |c: Civil| c.minute as f64,
        "hour" => |c: Civil| c.hour as f64,
        "day_of_month" => |c: Civil| c.day as f64,
        "day_of_week" => |c: Civil| c.weekday as f64,
        "day_of_year" => |c: Civil| c.yday as f64,
        "days_in_month" => |c: Civil| days_in_month(c.year, c.month) as f64,
        "month" => |c: Civil| c.month as f64,
        "year" => |c: Civil| c.year as f64,
        _ => return None,
    })
}

fn is_leap(y: i64) -> bool {
    (y % 4 == 0 && y % 100 != 0) || y % 400 == 0
}

fn days_in_month(y: i64, m: u32) -> u32 {
    match m {
        2 if is_leap(y) => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

/// Converts Unix seconds to a UTC calendar date (Howard Hinnant's algorithm).
fn civil(secs: i64) -> Civil {
    let days = secs.div_euclid(86_400);
    let rem = secs.rem_euclid(86_400);
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let month = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let year = yoe + era * 400 + i64::from(month <= 2);
    let cum = [0, 31, 59, 90, 120, 151, 181, 212, 243, 273, 304, 334];
    let yday = cum[month as usize - 1] + day as i64 + i64::from(month > 2 && is_leap(year));
    Civil { year, month, day, hour: rem / 3600, minute: rem % 3600 / 60, weekday: (days + 4).rem_euclid(7), yday }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn civil_dates() {
        let c = civil(0);
        assert_eq!((c.year, c.month, c.day, c.weekday, c.yday), (1970, 1, 1, 4, 1));
        // 2024-02-29 12:34:00 UTC, a Thursday.
        let c = civil(1_709_210_040);
        assert_eq!((c.year, c.month, c.day, c.hour, c.minute), (2024, 2, 29, 12, 34));
        assert_eq!((c.weekday, c.yday), (4, 60));
        let c = civil(-1);
        assert_eq!((c.year, c.month, c.day, c.hour), (1969, 12, 31, 23));
    }
}
