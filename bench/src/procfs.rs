//! What the kernel says about this process and its limits, from `/proc`.

use std::fs;
use std::io;

/// A kernel setting under `/proc/sys` that holds one number.
#[derive(Clone, Copy, Debug)]
pub struct Sysctl(&'static str);

/// The kernel's `vm.max_map_count`.
pub const MAX_MAP_COUNT: Sysctl = Sysctl("vm/max_map_count");

/// The kernel's cap on a listener's accept queue, `net.core.somaxconn`.
pub const SOMAXCONN: Sysctl = Sysctl("net/core/somaxconn");

impl Sysctl {
    /// Its name as `sysctl` spells it (`vm.max_map_count`).
    pub fn name(self) -> String {
        self.0.replace('/', ".")
    }

    fn path(self) -> String {
        format!("/proc/sys/{}", self.0)
    }

    /// Its value, if it can be read.
    pub fn get(self) -> Option<usize> {
        fs::read_to_string(self.path()).ok()?.trim().parse().ok()
    }

    /// Sets it (root only).
    pub fn set(self, value: usize) -> io::Result<()> {
        fs::write(self.path(), value.to_string())
    }

    /// Sets it to `value` until the returned guard is dropped, which
    /// writes `old` (its value now) back.
    pub fn set_for_now(self, value: usize, old: usize) -> io::Result<Restore> {
        self.set(value)?;
        Ok(Restore { sysctl: self, old })
    }
}

/// Writes a setting's earlier value back when dropped (see
/// [`Sysctl::set_for_now`]).
#[derive(Debug)]
pub struct Restore {
    sysctl: Sysctl,
    old: usize,
}

impl Drop for Restore {
    fn drop(&mut self) {
        if let Err(e) = self.sysctl.set(self.old) {
            eprintln!(
                "warning: could not restore {} to {}: {e}",
                self.sysctl.name(),
                self.old
            );
        }
    }
}

/// This process's memory, at one moment, in bytes.
#[derive(Clone, Copy, Debug)]
pub struct Memory {
    /// Resident anonymous memory (`RssAnon`): heap, stacks, anonymous maps;
    /// not the binary's pages.
    pub rss_anon: u64,
    /// Resident memory of every kind (`VmRSS`).
    pub rss: u64,
    /// Kernel memory of this process's page tables (`VmPTE`).
    pub page_tables: u64,
}

impl Memory {
    /// Reads `/proc/self/status` now.
    pub fn now() -> io::Result<Memory> {
        let status = fs::read_to_string("/proc/self/status")?;
        Ok(Memory {
            rss_anon: status_kib(&status, "RssAnon:")? * 1024,
            rss: status_kib(&status, "VmRSS:")? * 1024,
            page_tables: status_kib(&status, "VmPTE:")? * 1024,
        })
    }
}

/// The value of a `Name:   123 kB` line of `/proc/self/status`.
fn status_kib(status: &str, name: &str) -> io::Result<u64> {
    status
        .lines()
        .find_map(|line| line.strip_prefix(name))
        .and_then(|rest| rest.trim().trim_end_matches("kB").trim().parse().ok())
        .ok_or_else(|| {
            io::Error::new(
                io::ErrorKind::InvalidData,
                format!("no `{name}` line in /proc/self/status"),
            )
        })
}

/// Whether this process runs with effective user id 0.
pub fn is_root() -> bool {
    fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|status| {
            let ids = status.lines().find_map(|l| l.strip_prefix("Uid:"))?;
            // real, effective, saved, filesystem
            ids.split_whitespace().nth(1).map(|euid| euid == "0")
        })
        .unwrap_or(false)
}

/// CPU time (user + system, every thread) a process has used so far, in
/// clock ticks ([`sys::ticks_per_second`](crate::sys::ticks_per_second));
/// 0 if it cannot be read.
pub fn cpu_ticks(pid: u32) -> u64 {
    let Ok(stat) = fs::read_to_string(format!("/proc/{pid}/stat")) else {
        return 0;
    };
    stat_cpu_ticks(&stat).unwrap_or(0)
}

/// utime + stime from the text of `/proc/<pid>/stat`.
fn stat_cpu_ticks(stat: &str) -> Option<u64> {
    // The command may contain spaces and parentheses: skip past the last `)`.
    let rest = &stat[stat.rfind(')')? + 1..];
    let fields: Vec<&str> = rest.split_whitespace().collect();
    // After the command, the state is field 0; utime and stime are 11 and 12.
    let get = |i: usize| fields.get(i)?.parse::<u64>().ok();
    Some(get(11)? + get(12)?)
}

/// The peak resident memory (`VmHWM`) of a process, in KiB; `None` if it
/// cannot be read (no such process, or a zombie, which has no memory).
pub fn peak_rss_kib(pid: u32) -> Option<u64> {
    fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|s| status_kib(&s, "VmHWM:").ok())
}

/// The load average over the last minute (`/proc/loadavg`).
pub fn load_average() -> Option<f64> {
    fs::read_to_string("/proc/loadavg")
        .ok()?
        .split_whitespace()
        .next()?
        .parse()
        .ok()
}

/// This process's scheduling policy, by name, when it is not the default
/// (`SCHED_OTHER`): a run under `chrt` says so in its output.
pub fn sched_policy() -> Option<&'static str> {
    let sched = fs::read_to_string("/proc/self/sched").ok()?;
    let policy = sched
        .lines()
        .find_map(|l| l.strip_prefix("policy"))?
        .trim_start_matches([' ', ':'])
        .trim();
    match policy {
        "1" => Some("SCHED_FIFO"),
        "2" => Some("SCHED_RR"),
        "3" => Some("SCHED_BATCH"),
        "5" => Some("SCHED_IDLE"),
        _ => None,
    }
}

/// The CPU's model name, from `/proc/cpuinfo`.
pub fn cpu_model() -> Option<String> {
    fs::read_to_string("/proc/cpuinfo")
        .ok()?
        .lines()
        .find_map(|l| l.strip_prefix("model name"))
        .and_then(|rest| rest.split_once(':'))
        .map(|(_, name)| name.trim().to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_status_lines() {
        let status = "Name:\tx\nVmRSS:\t    2048 kB\nRssAnon:\t     512 kB\n";
        assert_eq!(status_kib(status, "RssAnon:").unwrap(), 512);
        assert_eq!(status_kib(status, "VmRSS:").unwrap(), 2048);
        assert!(status_kib(status, "VmPTE:").is_err());
    }

    #[test]
    fn parses_cpu_ticks() {
        let stat = "42 (a (b) c) S 1 2 3 4 5 6 7 8 9 10 300 45 0 0";
        assert_eq!(stat_cpu_ticks(stat), Some(345));
    }

    #[test]
    fn reads_this_process() {
        let m = Memory::now().unwrap();
        assert!(m.rss >= m.rss_anon);
    }
}
