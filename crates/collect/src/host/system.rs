//! `node_uname_info` and `node_time_seconds`.

use crate::family::{MetricFamily, MetricKind};

/// The kernel's identity, as `uname(2)` reports it.
pub(crate) fn uname() -> MetricFamily {
    let u = rustix::system::uname();
    let text = |s: &std::ffi::CStr| s.to_string_lossy().into_owned();
    MetricFamily::new(
        "node_uname_info",
        "Labeled system information as provided by the uname system call.",
        MetricKind::Gauge,
    )
    .with(
        vec![
            ("domainname", text(u.domainname())),
            ("machine", text(u.machine())),
            ("nodename", text(u.nodename())),
            ("release", text(u.release())),
            ("sysname", text(u.sysname())),
            ("version", text(u.version())),
        ],
        1.0,
    )
}

/// The system clock, in seconds since the epoch.
pub(crate) fn time() -> Vec<MetricFamily> {
    let now =
        std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_secs_f64()).unwrap_or(0.0);
    vec![
        MetricFamily::new("node_time_seconds", "System time in seconds since epoch (1970).", MetricKind::Gauge)
            .with(Vec::new(), now),
    ]
}
