//! Turning foreign names (OTLP metric and attribute names, line protocol
//! measurements, fields and tags) into classic Prometheus names.
//!
//! Metric names keep `[a-zA-Z0-9_:]`; label names keep `[a-zA-Z0-9_]`. Every other
//! character becomes `_`, runs of `_` collapse to one in metric names, a metric name
//! that starts with a digit gets a `_` prefix and a label name that starts with a
//! digit gets a `key_` prefix, as the OpenTelemetry-to-Prometheus compatibility
//! specification says. Names that need no change are returned without allocating
//! a second time.

/// Sanitizes a metric name into a `[a-zA-Z_:][a-zA-Z0-9_:]*` name.
pub fn sanitize_metric_name(name: &str) -> String {
    let ok = |c: char| c.is_ascii_alphanumeric() || c == '_' || c == ':';
    if !name.is_empty() && name.chars().all(ok) && !name.contains("__") && !starts_with_digit(name) {
        return name.to_owned();
    }
    let mut out = String::with_capacity(name.len() + 1);
    if starts_with_digit(name) {
        out.push('_');
    }
    for c in name.chars() {
        let c = if ok(c) { c } else { '_' };
        if c == '_' && out.ends_with('_') {
            continue;
        }
        out.push(c);
    }
    if out.is_empty() {
        out.push('_');
    }
    out
}

/// Sanitizes a label name into a `[a-zA-Z_][a-zA-Z0-9_]*` name. Names starting with
/// `__` are kept as they are (reserved names such as `__name__`).
pub fn sanitize_label_name(name: &str) -> String {
    let ok = |c: char| c.is_ascii_alphanumeric() || c == '_';
    if !name.is_empty() && name.chars().all(ok) && !starts_with_digit(name) {
        return name.to_owned();
    }
    let mut out = String::with_capacity(name.len() + 4);
    if starts_with_digit(name) {
        out.push_str("key_");
    }
    // Copy runs of valid characters whole; one `_` per invalid character.
    let mut run = 0;
    for (i, c) in name.char_indices() {
        if !ok(c) {
            out.push_str(&name[run..i]);
            out.push('_');
            run = i + c.len_utf8();
        }
    }
    out.push_str(&name[run..]);
    if out.is_empty() {
        out.push('_');
    }
    out
}

fn starts_with_digit(s: &str) -> bool {
    s.as_bytes().first().is_some_and(u8::is_ascii_digit)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn metric_names() {
        let cases = [
            ("http.server.duration", "http_server_duration"),
            ("ok_name:sub", "ok_name:sub"),
            ("2xx.count", "_2xx_count"),
            ("a..b__c", "a_b_c"),
            ("température", "temp_rature"),
            ("", "_"),
        ];
        for (input, want) in cases {
            assert_eq!(sanitize_metric_name(input), want, "{input}");
        }
    }

    #[test]
    fn label_names() {
        let cases = [
            ("service.name", "service_name"),
            ("0day", "key_0day"),
            ("__name__", "__name__"),
            ("a-b c", "a_b_c"),
            ("", "_"),
        ];
        for (input, want) in cases {
            assert_eq!(sanitize_label_name(input), want, "{input}");
        }
    }
}
