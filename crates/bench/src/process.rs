//! The server's CPU time and peak memory, read from `/proc/PID/stat` and
//! `/proc/PID/status` (Linux only).

use anyhow::{Context, Result, bail};

/// CPU seconds (user + system) the process has used since it started.
pub fn cpu_seconds(pid: u32) -> Result<f64> {
    let path = format!("/proc/{pid}/stat");
    let stat = std::fs::read_to_string(&path).with_context(|| format!("reading {path}"))?;
    let ticks = parse_stat_ticks(&stat).with_context(|| format!("parsing {path}"))?;
    Ok(ticks as f64 / rustix::param::clock_ticks_per_second() as f64)
}

/// The process's peak resident set size (`VmHWM`), in bytes.
pub fn peak_rss_bytes(pid: u32) -> Result<u64> {
    let path = format!("/proc/{pid}/status");
    let status = std::fs::read_to_string(&path).with_context(|| format!("reading {path}"))?;
    parse_vm_hwm(&status).with_context(|| format!("parsing {path}"))
}

/// `utime + stime` in clock ticks. The command name (field 2) is in parentheses and
/// may hold spaces or `)`, so fields are counted from the last `)`.
fn parse_stat_ticks(stat: &str) -> Result<u64> {
    let Some((_, rest)) = stat.rsplit_once(')') else { bail!("no ')' after the command name") };
    // After the name: state is field 3, utime field 14 and stime field 15.
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let field = |n: usize| -> Result<u64> {
        let s = fields.get(n - 3).with_context(|| format!("field {n} missing"))?;
        s.parse().with_context(|| format!("field {n} is not a number: {s:?}"))
    };
    Ok(field(14)? + field(15)?)
}

fn parse_vm_hwm(status: &str) -> Result<u64> {
    let line = status.lines().find(|l| l.starts_with("VmHWM:")).context("no VmHWM line")?;
    let kib: u64 = line["VmHWM:".len()..]
        .trim()
        .trim_end_matches("kB")
        .trim()
        .parse()
        .with_context(|| format!("bad VmHWM line {line:?}"))?;
    Ok(kib * 1024)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stat_with_spaces_and_parens_in_the_name() {
        let stat = "4242 (we ird) name) S 1 4242 4242 0 -1 4194560 100 0 0 0 250 75 0 0 20 0 8 0 12345 0 0";
        assert_eq!(parse_stat_ticks(stat).unwrap(), 325);
    }

    #[test]
    fn vm_hwm() {
        let status = "Name:\twatchkeeper\nVmPeak:\t  999 kB\nVmHWM:\t  123456 kB\nVmRSS:\t 1000 kB\n";
        assert_eq!(parse_vm_hwm(status).unwrap(), 123_456 * 1024);
    }

    #[test]
    fn own_process() {
        let pid = std::process::id();
        assert!(cpu_seconds(pid).unwrap() >= 0.0);
        assert!(peak_rss_bytes(pid).unwrap() > 0);
    }
}
