//! Measurement 4, the parent side: resident memory per idle task.
//!
//! Every implementation runs in a fresh child process (this binary,
//! re-executed with `--child <workload> <count>`, see [`idle`](crate::idle)), because
//! allocators and stack pools keep what they got: a measurement made after
//! another one in the same process would be skewed by its leftovers.
//!
//! A guarded coroutine stack of `may` or the raw generator costs two kernel
//! mappings (the stack and its guard page), and the kernel caps a process at
//! `vm.max_map_count` of them, 65,530 by default (green's default-size
//! stacks come from slabs of 64, one mapping each on Linux 6.13 and later,
//! two a stack before). When that is too low for the wanted count, the
//! parent raises it if it runs as root (and puts it back afterwards), or
//! else measures fewer tasks; the table says which.

use std::process::Command;

use crate::idle::{Idle, Report};
use crate::procfs;
use crate::table::{Aim, Row, Table, Unit};
use crate::Plan;

/// What the parent writes to `vm.max_map_count` when it is too low.
const RAISED_MAP_COUNT: usize = 262_144;

/// Mappings a process needs besides its coroutine stacks (binary,
/// libraries, heap arenas, thread stacks), with room to spare.
const OTHER_MAPPINGS: usize = 5_000;

/// Runs every workload in its own child process and returns the table.
pub fn run(plan: &Plan) -> Table {
    let budget = Budget::new(plan.idle_count);
    let count = budget.count;
    let rows = Idle::ALL
        .into_iter()
        .map(|idle| {
            eprintln!("memory: {} {count} tasks ...", idle.key());
            let row = match in_child(idle, count) {
                Ok(r) => Row::new(idle.label(), idle.kind(), r.rss_anon as f64 / count as f64)
                    .note(format!(
                        "{}; +{:.0} B kernel page tables",
                        idle.note(),
                        r.page_tables as f64 / count as f64
                    )),
                Err(why) => Row::failed(idle.label(), idle.kind(), why),
            };
            match idle.reference() {
                Some(r) => row.reference(r),
                None => row,
            }
        })
        .collect();
    drop(budget.restore);
    let mut footnotes = vec![format!(
        "{count} tasks per row, each row in a fresh child process: growth of `RssAnon` \
         (/proc/self/status) from just before the first spawn to when all are suspended, \
         task handles included, ÷ {count}. Page tables (`VmPTE`) are kernel memory, \
         outside RSS."
    )];
    footnotes.extend(budget.notes);
    Table {
        title: format!("4. Resident memory per idle task ({count} tasks)"),
        figure: "RssAnon per task",
        unit: Unit::Bytes,
        rows,
        aim: Some(Aim {
            limit: 8_264.0,
            inclusive: true,
        }),
        footnotes,
        scale: None,
    }
}

/// How many tasks the machine lets us start, and what was done about it.
pub struct Budget {
    /// Tasks to start: the wanted count, or fewer if the mappings cannot be
    /// had.
    pub count: usize,
    /// What was done, for under the table.
    pub notes: Vec<String>,
    /// Puts `vm.max_map_count` back when dropped, if it was raised.
    pub restore: Option<procfs::Restore>,
}

impl Budget {
    /// Makes room for `wanted` guarded stacks, as far as it can.
    pub fn new(wanted: usize) -> Budget {
        let needed = 2 * wanted + OTHER_MAPPINGS;
        let mut budget = Budget {
            count: wanted,
            notes: Vec::new(),
            restore: None,
        };
        let Some(limit) = procfs::MAX_MAP_COUNT.get() else {
            budget.notes.push(format!(
                "Note: cannot read {}; trying {wanted} tasks anyway.",
                procfs::MAX_MAP_COUNT.name()
            ));
            return budget;
        };
        if limit >= needed {
            return budget;
        }
        let raise_error = if procfs::is_root() {
            match procfs::MAX_MAP_COUNT.set_for_now(RAISED_MAP_COUNT.max(needed), limit) {
                Ok(restore) => {
                    budget.notes.push(format!(
                        "Note: vm.max_map_count was {limit}, too low for {wanted} guarded stacks \
                         (2 mappings each); running as root, this benchmark raised it to {} for \
                         the measurement and put {limit} back afterwards.",
                        RAISED_MAP_COUNT.max(needed)
                    ));
                    budget.restore = Some(restore);
                    return budget;
                }
                Err(e) => format!("raising it as root failed: {e}"),
            }
        } else {
            "not running as root, so it cannot be raised".to_string()
        };
        let fits = (limit.saturating_sub(OTHER_MAPPINGS) / 2) / 1_000 * 1_000;
        budget.count = fits.max(1_000);
        budget.notes.push(format!(
            "Note: vm.max_map_count is {limit}, too low for {wanted} guarded stacks (2 mappings \
             each) and {raise_error}; measured {} tasks instead. For the full count: \
             `sysctl -w vm.max_map_count={RAISED_MAP_COUNT}`.",
            budget.count
        ));
        budget
    }
}

/// Runs one workload in a child process and parses its report.
fn in_child(idle: Idle, count: usize) -> Result<Report, String> {
    let exe = std::env::current_exe().map_err(|e| format!("cannot find this binary: {e}"))?;
    let out = Command::new(exe)
        .args(["--child", idle.key(), &count.to_string()])
        .output()
        .map_err(|e| format!("cannot start child: {e}"))?;
    let stdout = String::from_utf8_lossy(&out.stdout);
    match Report::parse(&stdout) {
        Some(r) if out.status.success() && r.count == count => Ok(r),
        _ => {
            let stderr = String::from_utf8_lossy(&out.stderr);
            let last = stderr.lines().rfind(|l| !l.trim().is_empty());
            Err(format!(
                "child {}: {}",
                out.status,
                last.unwrap_or("no output")
            ))
        }
    }
}
