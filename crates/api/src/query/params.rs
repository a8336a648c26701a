//! Request parameters as Prometheus reads them: times as RFC 3339 or Unix seconds
//! (with fractions), durations as Prometheus durations or float seconds, and
//! parameters from the query string and a form body alike.

use axum::body::Bytes;
use axum::http::{HeaderMap, Method, Uri, header};

/// All parameters of a request: the query string, then a form body on POST, in order;
/// repeated names (`match[]`) keep every value.
pub fn collect(method: &Method, uri: &Uri, headers: &HeaderMap, body: &Bytes) -> Vec<(String, String)> {
    let mut out = decode_form(uri.query().unwrap_or_default());
    let is_form = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|ct| ct.starts_with("application/x-www-form-urlencoded"));
    if *method == Method::POST && is_form {
        out.extend(decode_form(&String::from_utf8_lossy(body)));
    }
    out
}

/// The last value of a parameter.
pub fn one<'a>(params: &'a [(String, String)], name: &str) -> Option<&'a str> {
    params.iter().rev().find(|(n, _)| n == name).map(|(_, v)| v.as_str())
}

/// Every value of a repeated parameter.
pub fn all<'a>(params: &'a [(String, String)], name: &str) -> Vec<&'a str> {
    params.iter().filter(|(n, _)| n == name).map(|(_, v)| v.as_str()).collect()
}

fn decode_form(text: &str) -> Vec<(String, String)> {
    text.split('&')
        .filter(|p| !p.is_empty())
        .map(|pair| {
            let (name, value) = pair.split_once('=').unwrap_or((pair, ""));
            (percent_decode(name), percent_decode(value))
        })
        .collect()
}

fn percent_decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => out.push(b' '),
            b'%' if i + 2 < bytes.len() => {
                let hex = std::str::from_utf8(&bytes[i + 1..i + 3]).ok().and_then(|h| u8::from_str_radix(h, 16).ok());
                match hex {
                    Some(b) => {
                        out.push(b);
                        i += 2;
                    }
                    None => out.push(b'%'),
                }
            }
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// A time parameter in milliseconds: Unix seconds (`1700000000.123`) or RFC 3339
/// (`2023-11-14T22:13:20.123Z`). The error says what was expected.
pub fn parse_time_param(text: &str) -> Result<i64, String> {
    if let Ok(seconds) = text.parse::<f64>() {
        if !seconds.is_finite() {
            return Err(format!("cannot parse {text:?} to a valid timestamp"));
        }
        return Ok((seconds * 1000.0).round() as i64);
    }
    parse_rfc3339(text).ok_or_else(|| format!("cannot parse {text:?} to a valid timestamp"))
}

/// A duration parameter in milliseconds: float seconds (`15`, `0.5`) or a Prometheus
/// duration (`1m30s`).
pub fn parse_duration_param(text: &str) -> Result<i64, String> {
    if let Ok(seconds) = text.parse::<f64>() {
        if !seconds.is_finite() || seconds < 0.0 {
            return Err(format!("cannot parse {text:?} to a valid duration"));
        }
        return Ok((seconds * 1000.0).round() as i64);
    }
    wk_config::PromDuration::parse(text)
        .map(|d| d.get().as_millis() as i64)
        .map_err(|_| format!("cannot parse {text:?} to a valid duration"))
}

fn parse_rfc3339(text: &str) -> Option<i64> {
    let b = text.as_bytes();
    if b.len() < 20
        || b[4] != b'-'
        || b[7] != b'-'
        || !matches!(b[10], b'T' | b't' | b' ')
        || b[13] != b':'
        || b[16] != b':'
    {
        return None;
    }
    let num = |range: std::ops::Range<usize>| text.get(range)?.parse::<i64>().ok();
    let (year, month, day) = (num(0..4)?, num(5..7)?, num(8..10)?);
    let (hour, minute, second) = (num(11..13)?, num(14..16)?, num(17..19)?);
    let mut rest = &text[19..];
    let mut millis = 0i64;
    if let Some(frac) = rest.strip_prefix('.') {
        let digits: String = frac.chars().take_while(char::is_ascii_digit).collect();
        if digits.is_empty() {
            return None;
        }
        let padded = format!("{:0<3}", &digits[..digits.len().min(3)]);
        millis = padded.parse().ok()?;
        rest = &frac[digits.len()..];
    }
    let offset_minutes = match rest {
        "Z" | "z" => 0,
        tz if tz.len() == 6 && (tz.starts_with('+') || tz.starts_with('-')) => {
            let sign = if tz.starts_with('-') { -1 } else { 1 };
            sign * (tz.get(1..3)?.parse::<i64>().ok()? * 60 + tz.get(4..6)?.parse::<i64>().ok()?)
        }
        _ => return None,
    };
    if !(1..=12).contains(&month) || !(1..=31).contains(&day) || hour > 23 || minute > 59 || second > 60 {
        return None;
    }
    let days = days_from_civil(year, month, day);
    Some(((days * 86_400 + hour * 3600 + minute * 60 + second - offset_minutes * 60) * 1000) + millis)
}

fn days_from_civil(year: i64, month: i64, day: i64) -> i64 {
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let doy = (153 * ((month + 9) % 12) + 2) / 5 + day - 1;
    era * 146_097 + yoe * 365 + yoe / 4 - yoe / 100 + doy - 719_468
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_and_durations() {
        assert_eq!(parse_time_param("1700000000.123"), Ok(1_700_000_000_123));
        assert_eq!(parse_time_param("2023-11-14T22:13:20.123Z"), Ok(1_700_000_000_123));
        assert_eq!(parse_time_param("2023-11-14T23:13:20+01:00"), Ok(1_700_000_000_000));
        assert!(parse_time_param("yesterday").unwrap_err().contains("valid timestamp"));
        assert_eq!(parse_duration_param("15"), Ok(15_000));
        assert_eq!(parse_duration_param("0.5"), Ok(500));
        assert_eq!(parse_duration_param("1m30s"), Ok(90_000));
        assert!(parse_duration_param("-1").is_err());
        assert!(parse_duration_param("soon").is_err());
    }

    #[test]
    fn form_decoding() {
        let params = decode_form("query=sum%28rate%28x%5B5m%5D%29%29&match%5B%5D=up&match%5B%5D=a+b");
        assert_eq!(one(&params, "query"), Some("sum(rate(x[5m]))"));
        assert_eq!(all(&params, "match[]"), vec!["up", "a b"]);
        assert_eq!(percent_decode("100%"), "100%");
        assert_eq!(percent_decode("%zz"), "%zz");
    }
}
