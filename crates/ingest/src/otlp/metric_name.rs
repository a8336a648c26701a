//! Prometheus metric names for OTLP metrics, following the OpenTelemetry to
//! Prometheus compatibility specification (as Prometheus' `otlptranslator` does
//! with its default "underscore escaping with suffixes" strategy).
//!
//! The OTLP name is split into words at every character outside `[a-zA-Z0-9:]`;
//! the unit's Prometheus word (`s` → `seconds`, `By` → `bytes`, `m/s` →
//! `meters_per_second`, `{request}` → nothing) is appended unless the name already
//! holds it; gauges with unit `1` get `ratio`; monotonic cumulative sums get a
//! single trailing `total`. Words are joined with `_`, and a leading digit gets a
//! `_` prefix.

/// What the name is for: it decides the `ratio` and `total` suffixes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    /// A gauge or a non-monotonic sum.
    Gauge,
    /// A monotonic sum: gets `_total`.
    Counter,
    /// A histogram or summary: unit suffix only.
    Distribution,
}

/// Builds the Prometheus name of an OTLP metric.
pub fn build(name: &str, unit: &str, kind: Kind) -> String {
    let mut words: Vec<&str> =
        name.split(|c: char| !(c.is_ascii_alphanumeric() || c == ':')).filter(|w| !w.is_empty()).collect();
    if kind == Kind::Counter {
        words.retain(|w| *w != "total");
    }
    let (main, per) = split_unit(unit);
    let mut unit_words: Vec<String> = Vec::new();
    if let Some(main) = main.filter(|m| !words.contains(m)) {
        unit_words.push(main.to_owned());
    }
    if let Some(per) = per {
        let suffix = format!("per_{per}");
        if !name.contains(&suffix) {
            unit_words.push(suffix);
        }
    }
    if kind == Kind::Gauge && unit == "1" && !words.contains(&"ratio") {
        unit_words.push("ratio".to_owned());
    }
    let mut out = String::with_capacity(name.len() + 16);
    let all = words.iter().copied().chain(unit_words.iter().map(String::as_str));
    for word in all.chain((kind == Kind::Counter).then_some("total")) {
        if !out.is_empty() {
            out.push('_');
        }
        out.push_str(word);
    }
    if out.is_empty() || out.as_bytes()[0].is_ascii_digit() {
        out.insert(0, '_');
    }
    out
}

/// Splits a UCUM unit into its Prometheus main word and per-unit word.
fn split_unit(unit: &str) -> (Option<&str>, Option<&str>) {
    let (main, per) = match unit.split_once('/') {
        Some((m, p)) => (m.trim(), Some(p.trim())),
        None => (unit.trim(), None),
    };
    let main = main_unit(main);
    let per = per.and_then(per_unit);
    (main, per)
}

fn is_annotation(u: &str) -> bool {
    u.is_empty() || (u.starts_with('{') && u.ends_with('}'))
}

fn main_unit(u: &str) -> Option<&str> {
    if is_annotation(u) || u == "1" {
        return None;
    }
    Some(match u {
        "d" => "days",
        "h" => "hours",
        "min" => "minutes",
        "s" => "seconds",
        "ms" => "milliseconds",
        "us" => "microseconds",
        "ns" => "nanoseconds",
        "By" => "bytes",
        "KiBy" => "kibibytes",
        "MiBy" => "mebibytes",
        "GiBy" => "gibibytes",
        "TiBy" => "tibibytes",
        "KBy" => "kilobytes",
        "MBy" => "megabytes",
        "GBy" => "gigabytes",
        "TBy" => "terabytes",
        "m" => "meters",
        "V" => "volts",
        "A" => "amperes",
        "J" => "joules",
        "W" => "watts",
        "g" => "grams",
        "Cel" => "celsius",
        "Hz" => "hertz",
        "%" => "percent",
        other if other.bytes().all(|c| c.is_ascii_alphanumeric() || c == b'_') => other,
        _ => return None,
    })
}

fn per_unit(u: &str) -> Option<&str> {
    if is_annotation(u) {
        return None;
    }
    Some(match u {
        "s" => "second",
        "m" => "minute",
        "h" => "hour",
        "d" => "day",
        "w" => "week",
        "mo" => "month",
        "y" => "year",
        other if other.bytes().all(|c| c.is_ascii_alphanumeric() || c == b'_') => other,
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_follow_the_compatibility_spec() {
        let cases = [
            ("http.server.request.duration", "s", Kind::Distribution, "http_server_request_duration_seconds"),
            ("system.memory.usage", "By", Kind::Gauge, "system_memory_usage_bytes"),
            ("system.cpu.utilization", "1", Kind::Gauge, "system_cpu_utilization_ratio"),
            ("http.server.requests", "{request}", Kind::Counter, "http_server_requests_total"),
            ("requests.total", "1", Kind::Counter, "requests_total"),
            ("process.cpu.time", "s", Kind::Counter, "process_cpu_time_seconds_total"),
            ("throughput", "By/s", Kind::Gauge, "throughput_bytes_per_second"),
            ("latency_seconds", "s", Kind::Gauge, "latency_seconds"),
            ("queue-size", "items", Kind::Gauge, "queue_size_items"),
            ("2xx", "", Kind::Gauge, "_2xx"),
            ("temp", "Cel", Kind::Gauge, "temp_celsius"),
            ("weird", "m³", Kind::Gauge, "weird"),
        ];
        for (name, unit, kind, want) in cases {
            assert_eq!(build(name, unit, kind), want, "{name} {unit}");
        }
    }
}
