//! Filesystems: mounts from `/proc/1/mounts` (or `/proc/mounts`), sizes from
//! `statvfs`, as node_exporter's `filesystem` collector reports them, with its default
//! exclusions of pseudo filesystems and system mount points.

use regex::Regex;

use crate::family::{MetricFamily, MetricKind};

/// One mounted filesystem.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Mount {
    /// The device (`/dev/vda1`, `tmpfs`).
    pub device: String,
    /// Where it is mounted.
    pub mountpoint: String,
    /// The filesystem type.
    pub fstype: String,
    /// Mounted read-only.
    pub read_only: bool,
}

/// Which mounts to report.
#[derive(Clone, Debug)]
pub struct MountFilter {
    exclude_mountpoints: Regex,
    exclude_fstypes: Regex,
}

impl Default for MountFilter {
    fn default() -> Self {
        // node_exporter 1.x defaults (--collector.filesystem.{mount-points,fs-types}-exclude).
        Self {
            exclude_mountpoints: Regex::new(r"^/(dev|proc|run/credentials/.+|sys|var/lib/docker/.+|var/lib/containers/storage/.+)($|/)")
                .expect("valid regex"),
            exclude_fstypes: Regex::new(
                r"^(autofs|binfmt_misc|bpf|cgroup2?|configfs|debugfs|devpts|devtmpfs|fusectl|hugetlbfs|iso9660|mqueue|nsfs|overlay|proc|procfs|pstore|rpc_pipefs|securityfs|selinuxfs|squashfs|erofs|sysfs|tracefs)$",
            )
            .expect("valid regex"),
        }
    }
}

/// Parses a mounts table, keeping the mounts the filter admits, each mount point once.
pub fn parse_mounts(text: &str, filter: &MountFilter) -> Vec<Mount> {
    let mut mounts: Vec<Mount> = Vec::new();
    for line in text.lines() {
        let fields: Vec<&str> = line.split_whitespace().collect();
        if fields.len() < 4 {
            continue;
        }
        let mountpoint = unescape(fields[1]);
        if filter.exclude_mountpoints.is_match(&mountpoint) || filter.exclude_fstypes.is_match(fields[2]) {
            continue;
        }
        if mounts.iter().any(|m| m.mountpoint == mountpoint) {
            continue;
        }
        mounts.push(Mount {
            device: unescape(fields[0]),
            mountpoint,
            fstype: fields[2].to_owned(),
            read_only: fields[3].split(',').any(|o| o == "ro"),
        });
    }
    mounts
}

/// The kernel escapes space, tab, newline and backslash in mount tables as `\ooo`.
fn unescape(field: &str) -> String {
    let bytes = field.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'\\' && i + 3 < bytes.len() && bytes[i + 1..i + 4].iter().all(|b| (b'0'..=b'7').contains(b)) {
            let code = (bytes[i + 1] - b'0') * 64 + (bytes[i + 2] - b'0') * 8 + (bytes[i + 3] - b'0');
            out.push(code);
            i += 4;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// `statvfs` on each mount. A mount that cannot be read is reported with
/// `node_filesystem_device_error` 1 and no sizes, as node_exporter does.
pub(crate) fn stat_mounts(mounts: &[Mount]) -> Vec<MetricFamily> {
    let gauge = |name: &str, help: &str| MetricFamily::new(name, help, MetricKind::Gauge);
    let mut size = gauge("node_filesystem_size_bytes", "Filesystem size in bytes.");
    let mut free = gauge("node_filesystem_free_bytes", "Filesystem free space in bytes.");
    let mut avail = gauge("node_filesystem_avail_bytes", "Filesystem space available to non-root users in bytes.");
    let mut files = gauge("node_filesystem_files", "Filesystem total file nodes.");
    let mut files_free = gauge("node_filesystem_files_free", "Filesystem total free file nodes.");
    let mut read_only = gauge("node_filesystem_readonly", "Filesystem read-only status.");
    let mut device_error = gauge(
        "node_filesystem_device_error",
        "Whether an error occurred while getting statistics for the given device.",
    );
    for mount in mounts {
        let labels = vec![
            ("device", mount.device.clone()),
            ("fstype", mount.fstype.clone()),
            ("mountpoint", mount.mountpoint.clone()),
        ];
        match rustix::fs::statvfs(mount.mountpoint.as_str()) {
            Ok(st) => {
                let block = st.f_frsize as f64;
                size.push(labels.clone(), st.f_blocks as f64 * block);
                free.push(labels.clone(), st.f_bfree as f64 * block);
                avail.push(labels.clone(), st.f_bavail as f64 * block);
                files.push(labels.clone(), st.f_files as f64);
                files_free.push(labels.clone(), st.f_ffree as f64);
                device_error.push(labels.clone(), 0.0);
            }
            Err(e) => {
                tracing::debug!(mountpoint = %mount.mountpoint, error = %e, "statvfs failed");
                device_error.push(labels.clone(), 1.0);
            }
        }
        read_only.push(labels, if mount.read_only { 1.0 } else { 0.0 });
    }
    vec![size, free, avail, files, files_free, read_only, device_error]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn filters_and_unescapes_mounts() {
        let text = "proc /proc proc rw 0 0\n/dev/vda1 / ext4 rw,relatime 0 0\ntmpfs /run tmpfs rw 0 0\n/dev/vdb /mnt/my\\040disk xfs ro 0 0\n/dev/vda1 / ext4 rw 0 0\ncgroup2 /sys/fs/cgroup cgroup2 rw 0 0\n";
        let mounts = parse_mounts(text, &MountFilter::default());
        let points: Vec<&str> = mounts.iter().map(|m| m.mountpoint.as_str()).collect();
        assert_eq!(points, vec!["/", "/run", "/mnt/my disk"]);
        assert!(mounts[2].read_only);
        assert!(!mounts[0].read_only);
    }
}
