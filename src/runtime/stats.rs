//! A running container's resource use, as `docker stats` shows it, read from its cgroup
//! (v2 files, or v1's cpuacct/memory/pids/blkio controllers) and its network namespace.

use super::state::ContainerRecord;
use std::path::{Path, PathBuf};

/// One reading. Fields are `None` where the host does not say (rootless on cgroup v1 has no
/// cgroups of its own).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Sample {
    /// CPU time used since the start, nanoseconds.
    pub cpu_ns: Option<u64>,
    /// Memory in use without the page cache docker leaves out (inactive file pages), bytes.
    pub memory: Option<u64>,
    /// The memory limit (the host's memory when there is none), bytes.
    pub memory_limit: Option<u64>,
    pub pids: Option<u64>,
    /// (received, sent) bytes on the container's interfaces but `lo`.
    pub net: Option<(u64, u64)>,
    /// (read, written) bytes of block I/O.
    pub block: Option<(u64, u64)>,
}

fn read_u64(path: &Path) -> Option<u64> {
    std::fs::read_to_string(path).ok()?.trim().parse().ok()
}

/// `key value` lines (memory.stat, cpu.stat).
fn keyed(path: &Path, key: &str) -> Option<u64> {
    std::fs::read_to_string(path).ok()?.lines().find_map(|l| l.strip_prefix(key)?.strip_prefix(' ')?.trim().parse().ok())
}

fn host_memory() -> Option<u64> {
    let info = std::fs::read_to_string("/proc/meminfo").ok()?;
    let kb: u64 = info.lines().find_map(|l| l.strip_prefix("MemTotal:"))?.trim().trim_end_matches("kB").trim().parse().ok()?;
    Some(kb * 1024)
}

/// Reads the container's cgroup and network counters now; `init`: its init's host pid.
pub fn sample(record: &ContainerRecord, init: i32) -> Sample {
    let relative = record.spec.cgroups_path.trim_start_matches('/');
    let v2 = Path::new("/sys/fs/cgroup").join(relative);
    let mut s = if v2.join("cgroup.controllers").exists() { v2_sample(&v2) } else { v1_sample(relative) };
    let host = host_memory();
    s.memory_limit = match s.memory_limit {
        Some(limit) if host.is_some_and(|h| limit < h) => Some(limit),
        _ => host,
    };
    s.net = net_dev(init);
    s
}

fn v2_sample(dir: &Path) -> Sample {
    let memory = read_u64(&dir.join("memory.current")).map(|m| m.saturating_sub(keyed(&dir.join("memory.stat"), "inactive_file").unwrap_or(0)));
    let io = std::fs::read_to_string(dir.join("io.stat")).ok().map(|text| {
        let field = |name: &str| text.split_whitespace().filter_map(|w| w.strip_prefix(name)?.parse::<u64>().ok()).sum::<u64>();
        (field("rbytes="), field("wbytes="))
    });
    Sample {
        cpu_ns: keyed(&dir.join("cpu.stat"), "usage_usec").map(|us| us * 1000),
        memory,
        memory_limit: read_u64(&dir.join("memory.max")),
        pids: read_u64(&dir.join("pids.current")),
        net: None,
        block: io,
    }
}

fn v1_sample(relative: &str) -> Sample {
    let controller = |name: &str| -> PathBuf { Path::new("/sys/fs/cgroup").join(name).join(relative) };
    let memory = controller("memory");
    let usage =
        read_u64(&memory.join("memory.usage_in_bytes")).map(|m| m.saturating_sub(keyed(&memory.join("memory.stat"), "total_inactive_file").unwrap_or(0)));
    let block = std::fs::read_to_string(controller("blkio").join("blkio.throttle.io_service_bytes")).ok().map(|text| {
        let total = |op: &str| {
            text.lines().filter_map(|l| l.split_whitespace().collect::<Vec<_>>().get(1..3).filter(|p| p[0] == op).and_then(|p| p[1].parse::<u64>().ok())).sum()
        };
        (total("Read"), total("Write"))
    });
    Sample {
        cpu_ns: read_u64(&controller("cpuacct").join("cpuacct.usage")),
        memory: usage,
        memory_limit: read_u64(&memory.join("memory.limit_in_bytes")),
        pids: read_u64(&controller("pids").join("pids.current")),
        net: None,
        block,
    }
}

/// (received, sent) bytes over the namespace's interfaces but `lo` (/proc/PID/net/dev).
fn net_dev(pid: i32) -> Option<(u64, u64)> {
    parse_net_dev(&std::fs::read_to_string(format!("/proc/{pid}/net/dev")).ok()?)
}

fn parse_net_dev(text: &str) -> Option<(u64, u64)> {
    let mut total = (0, 0);
    for line in text.lines().skip(2) {
        let (name, counters) = line.split_once(':')?;
        if name.trim() == "lo" {
            continue;
        }
        let fields: Vec<u64> = counters.split_whitespace().filter_map(|f| f.parse().ok()).collect();
        total.0 += fields.first().copied().unwrap_or(0);
        total.1 += fields.get(8).copied().unwrap_or(0);
    }
    Some(total)
}

/// CPU use between two readings `interval_ns` apart, in percent of one CPU (docker's way: 100%
/// per busy core).
pub fn cpu_percent(before: &Sample, after: &Sample, interval_ns: u64) -> Option<f64> {
    let used = after.cpu_ns?.checked_sub(before.cpu_ns?)?;
    (interval_ns > 0).then(|| used as f64 * 100.0 / interval_ns as f64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn network_counters_leave_out_loopback() {
        let text = "Inter-|   Receive                                                |  Transmit\n face |bytes    packets errs drop fifo frame compressed multicast|bytes    packets errs drop fifo colls carrier compressed\n    lo:    1000      10    0    0    0     0          0         0     1000      10    0    0    0     0       0          0\n  eth0:    2048      20    0    0    0     0          0         0      512       5    0    0    0     0       0          0\n";
        assert_eq!(parse_net_dev(text), Some((2048, 512)));
    }

    #[test]
    fn cpu_percent_is_per_core() {
        let (a, b) = (Sample { cpu_ns: Some(1_000_000_000), ..Default::default() }, Sample { cpu_ns: Some(1_500_000_000), ..Default::default() });
        assert_eq!(cpu_percent(&a, &b, 1_000_000_000), Some(50.0));
        assert_eq!(cpu_percent(&a, &Sample::default(), 1), None);
    }
}
