//! What collectors produce: metric families with help text, a type and samples.

/// The Prometheus metric type of a family.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MetricKind {
    /// A monotonically increasing count (name ends in `_total`).
    Counter,
    /// A value that goes up and down.
    Gauge,
}

impl MetricKind {
    /// The type as written in the exposition format.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Counter => "counter",
            Self::Gauge => "gauge",
        }
    }
}

/// One sample of a family: its labels (beyond the family name) and value.
#[derive(Clone, Debug, PartialEq)]
pub struct Sample {
    /// Label pairs in a fixed order, names first-class like node_exporter's.
    pub labels: Vec<(&'static str, String)>,
    /// The value, in the family's base unit.
    pub value: f64,
}

/// A metric family: every sample of one metric name.
#[derive(Clone, Debug, PartialEq)]
pub struct MetricFamily {
    /// The metric name, e.g. `node_cpu_seconds_total`.
    pub name: String,
    /// The help text.
    pub help: String,
    /// Counter or gauge.
    pub kind: MetricKind,
    /// The samples.
    pub samples: Vec<Sample>,
}

impl MetricFamily {
    /// An empty family.
    pub fn new(name: impl Into<String>, help: impl Into<String>, kind: MetricKind) -> Self {
        Self { name: name.into(), help: help.into(), kind, samples: Vec::new() }
    }

    /// Adds a sample and returns the family, for building in one expression.
    pub fn with(mut self, labels: Vec<(&'static str, String)>, value: f64) -> Self {
        self.samples.push(Sample { labels, value });
        self
    }

    /// Adds a sample.
    pub fn push(&mut self, labels: Vec<(&'static str, String)>, value: f64) {
        self.samples.push(Sample { labels, value });
    }

    /// Writes the family in the Prometheus text format 0.0.4 (used by tests and by a
    /// future `/metrics` of the agent).
    pub fn write_text(&self, out: &mut String) {
        use std::fmt::Write;
        let _ = writeln!(out, "# HELP {} {}", self.name, escape_help(&self.help));
        let _ = writeln!(out, "# TYPE {} {}", self.name, self.kind.as_str());
        for sample in &self.samples {
            out.push_str(&self.name);
            if !sample.labels.is_empty() {
                out.push('{');
                for (i, (name, value)) in sample.labels.iter().enumerate() {
                    if i > 0 {
                        out.push(',');
                    }
                    let _ = write!(out, "{name}=\"{}\"", escape_label_value(value));
                }
                out.push('}');
            }
            let _ = writeln!(out, " {}", format_value(sample.value));
        }
    }
}

fn escape_help(text: &str) -> String {
    text.replace('\\', "\\\\").replace('\n', "\\n")
}

fn escape_label_value(text: &str) -> String {
    text.replace('\\', "\\\\").replace('\n', "\\n").replace('"', "\\\"")
}

fn format_value(v: f64) -> String {
    if v.is_nan() {
        "NaN".to_owned()
    } else if v == f64::INFINITY {
        "+Inf".to_owned()
    } else if v == f64::NEG_INFINITY {
        "-Inf".to_owned()
    } else {
        v.to_string()
    }
}
