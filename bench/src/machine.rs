//! The machine a benchmark runs on, read from /proc: its description for the report header, and
//! the CPU and memory use of this process, of the server and of everything else meanwhile.

use std::{collections::BTreeMap, process::Command, sync::OnceLock};

/// What the report header says about the machine.
pub struct Machine {
    /// Logical CPUs this process may use.
    pub cpus: usize,
    /// `MemTotal`, GiB.
    pub mem_gib: f64,
    /// `PRETTY_NAME` from /etc/os-release.
    pub os: String,
}

impl Machine {
    /// Reads the machine's CPUs, memory and OS name (zeros and empty where unreadable).
    pub fn read() -> Machine {
        let mem_gib = std::fs::read_to_string("/proc/meminfo")
            .ok()
            .and_then(|t| {
                t.lines()
                    .next()
                    .and_then(|l| l.split_whitespace().nth(1))
                    .and_then(|kb| kb.parse::<u64>().ok())
            })
            .map_or(0.0, |kb| kb as f64 / 1048576.0);
        let os = std::fs::read_to_string("/etc/os-release")
            .ok()
            .and_then(|t| {
                t.lines().find_map(|l| l.strip_prefix("PRETTY_NAME=")).map(|s| s.trim_matches('"').to_owned())
            })
            .unwrap_or_default();
        Machine { cpus: cpus(), mem_gib, os }
    }
}

impl std::fmt::Display for Machine {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} CPUs, {:.1} GiB RAM, {}", self.cpus, self.mem_gib, self.os)
    }
}

/// Logical CPUs this process may use (0 when unknown).
pub fn cpus() -> usize {
    std::thread::available_parallelism().map_or(0, usize::from)
}

/// The 1, 5 and 15 minute load averages, as /proc/loadavg writes them.
pub fn load_average() -> String {
    let load = std::fs::read_to_string("/proc/loadavg").unwrap_or_default();
    load.split_whitespace().take(3).collect::<Vec<_>>().join(" ")
}

/// A process's resident memory now and at its peak, bytes.
pub struct ProcStatus {
    /// `VmHWM`: peak resident set.
    pub hwm: u64,
    /// `VmRSS`: resident set now.
    pub rss: u64,
}

impl ProcStatus {
    /// Reads `/proc/<pid>/status`.
    pub fn read(pid: u32) -> anyhow::Result<ProcStatus> {
        let text = std::fs::read_to_string(format!("/proc/{pid}/status"))?;
        let field = |name: &str| -> u64 {
            text.lines()
                .find_map(|l| l.strip_prefix(name))
                .and_then(|v| v.split_whitespace().next())
                .and_then(|kb| kb.parse::<u64>().ok())
                .map_or(0, |kb| kb * 1024)
        };
        Ok(ProcStatus { hwm: field("VmHWM:"), rss: field("VmRSS:") })
    }
}

/// Bytes as GiB.
pub fn gib(bytes: u64) -> f64 {
    bytes as f64 / (1024.0 * 1024.0 * 1024.0)
}

/// Clock ticks per second of /proc's CPU times (`getconf CLK_TCK`, asked once so that sampling
/// spawns no process while it measures; 100 when it cannot be asked).
fn clock_ticks() -> f64 {
    static TICKS: OnceLock<f64> = OnceLock::new();
    *TICKS.get_or_init(|| {
        Command::new("getconf")
            .arg("CLK_TCK")
            .output()
            .ok()
            .and_then(|o| String::from_utf8_lossy(&o.stdout).trim().parse::<f64>().ok())
            .unwrap_or(100.0)
    })
}

/// (comm, user+system seconds) from a /proc stat file.
fn stat_cpu(path: &str, ticks: f64) -> Option<(String, f64)> {
    let text = std::fs::read_to_string(path).ok()?;
    let open = text.find('(')?;
    let close = text.rfind(')')?;
    let comm = text[open + 1..close].to_owned();
    let fields: Vec<&str> = text[close + 2..].split_whitespace().collect();
    // After "pid (comm) ": state is field 0, utime field 11, stime field 12.
    let utime: f64 = fields.get(11)?.parse().ok()?;
    let stime: f64 = fields.get(12)?.parse().ok()?;
    Some((comm, (utime + stime) / ticks))
}

/// CPU seconds (user + system) this process has used.
pub fn self_cpu_secs() -> f64 {
    stat_cpu("/proc/self/stat", clock_ticks()).map_or(0.0, |(_, s)| s)
}

/// CPU seconds per thread name of process `pid` (threads of the same name summed).
pub fn thread_cpu(pid: u32) -> BTreeMap<String, f64> {
    let ticks = clock_ticks();
    let mut out = BTreeMap::new();
    if let Ok(entries) = std::fs::read_dir(format!("/proc/{pid}/task")) {
        for entry in entries.flatten() {
            let path = format!("{}/stat", entry.path().display());
            if let Some((comm, secs)) = stat_cpu(&path, ticks) {
                *out.entry(comm).or_insert(0.0) += secs;
            }
        }
    }
    out
}

/// Busy (non-idle, non-iowait) CPU seconds of the whole machine since boot, all CPUs, from
/// /proc/stat.
pub fn machine_busy_secs() -> f64 {
    let ticks = clock_ticks();
    std::fs::read_to_string("/proc/stat")
        .ok()
        .and_then(|t| {
            let fields: Vec<f64> =
                t.lines().next()?.split_whitespace().skip(1).filter_map(|f| f.parse().ok()).collect();
            // user nice system idle iowait irq softirq steal ...
            let total: f64 = fields.iter().take(8).sum();
            Some((total - fields.get(3)? - fields.get(4)?) / ticks)
        })
        .unwrap_or(0.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn this_process_is_visible() {
        let status = ProcStatus::read(std::process::id()).unwrap();
        assert!(status.rss > 0 && status.hwm >= status.rss);
        assert!(!thread_cpu(std::process::id()).is_empty());
        assert!(machine_busy_secs() > 0.0);
        assert!(self_cpu_secs() >= 0.0);
    }
}
