//! What the kernel says about this process and its limits, from `/proc`.

use std::fs;
use std::io;

/// The kernel's `vm.max_map_count`.
pub const MAX_MAP_COUNT: &str = "/proc/sys/vm/max_map_count";

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

/// The kernel's `vm.max_map_count`, if it can be read.
pub fn max_map_count() -> Option<usize> {
    fs::read_to_string(MAX_MAP_COUNT).ok()?.trim().parse().ok()
}

/// Sets the kernel's `vm.max_map_count` (root only).
pub fn set_max_map_count(value: usize) -> io::Result<()> {
    fs::write(MAX_MAP_COUNT, value.to_string())
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
    fn reads_this_process() {
        let m = Memory::now().unwrap();
        assert!(m.rss >= m.rss_anon);
    }
}
