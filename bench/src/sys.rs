//! The few libc calls the benchmark needs: CPU pinning, the open-file
//! limit, the clock tick. Every `unsafe` of the crate besides `may`'s spawn
//! is here.

use std::io;

/// The number of CPUs this process may use.
pub fn cpus() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get())
}

/// The CPU the load generator (and `wrk`) run on: the last one.
pub fn load_cpu() -> usize {
    cpus() - 1
}

/// Pins the calling thread (and the threads and processes it starts
/// afterwards) to `cpu`. Does nothing on a one-CPU machine, where there is
/// nothing to separate.
pub fn pin_to_cpu(cpu: usize) {
    if cpus() < 2 {
        return;
    }
    // SAFETY: CPU_ZERO/CPU_SET write into the zeroed set we own (`cpu` is
    // below the CPU count, far below CPU_SETSIZE), and sched_setaffinity
    // only reads it.
    unsafe {
        let mut set: libc::cpu_set_t = std::mem::zeroed();
        libc::CPU_ZERO(&mut set);
        libc::CPU_SET(cpu, &mut set);
        libc::sched_setaffinity(0, std::mem::size_of::<libc::cpu_set_t>(), &set);
    }
}

/// Makes the calling thread a real-time one (`SCHED_FIFO`, the lowest
/// priority) whose new threads start as ordinary ones
/// (`SCHED_RESET_ON_FORK`): it runs as soon as it is ready, ahead of every
/// ordinary thread, and the threads it starts do not. Needs root (or
/// `CAP_SYS_NICE`, or an `RLIMIT_RTPRIO` of 1 or more); the error says when
/// it is refused.
pub fn realtime_thread() -> io::Result<()> {
    let param = libc::sched_param { sched_priority: 1 };
    // SAFETY: sched_setscheduler only reads `param`, which we own; pid 0 is
    // the calling thread.
    let r = unsafe {
        libc::sched_setscheduler(0, libc::SCHED_FIFO | libc::SCHED_RESET_ON_FORK, &param)
    };
    if r == 0 {
        Ok(())
    } else {
        Err(io::Error::last_os_error())
    }
}

/// Raises this process's open-file limit (`RLIMIT_NOFILE`) to at least
/// `wanted` if it can: the soft limit up to the hard one, and the hard one
/// too when running as root. Returns the soft limit in force afterwards;
/// children started later inherit it.
pub fn raise_nofile(wanted: u64) -> io::Result<u64> {
    let mut lim = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit writes one `rlimit` into the struct we own.
    if unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim) } != 0 {
        return Err(io::Error::last_os_error());
    }
    if lim.rlim_cur >= wanted {
        return Ok(lim.rlim_cur);
    }
    let raised = libc::rlimit {
        rlim_cur: wanted,
        rlim_max: lim.rlim_max.max(wanted),
    };
    // SAFETY: setrlimit only reads the struct we own. Raising the hard limit
    // fails with EPERM unless we are root; then we fall back below.
    if unsafe { libc::setrlimit(libc::RLIMIT_NOFILE, &raised) } == 0 {
        return Ok(wanted);
    }
    let soft_only = libc::rlimit {
        rlim_cur: lim.rlim_max,
        rlim_max: lim.rlim_max,
    };
    // SAFETY: as above; raising the soft limit up to the hard one is always
    // allowed.
    if unsafe { libc::setrlimit(libc::RLIMIT_NOFILE, &soft_only) } != 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(lim.rlim_max)
}

/// Clock ticks per second, the unit of the CPU times in `/proc/<pid>/stat`.
pub fn ticks_per_second() -> f64 {
    // SAFETY: sysconf has no memory-safety preconditions.
    let hz = unsafe { libc::sysconf(libc::_SC_CLK_TCK) };
    if hz > 0 {
        hz as f64
    } else {
        100.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The calling thread's scheduling policy, `SCHED_RESET_ON_FORK` left out.
    fn policy() -> i32 {
        // SAFETY: sched_getscheduler has no preconditions; pid 0 is the
        // calling thread.
        unsafe { libc::sched_getscheduler(0) & !libc::SCHED_RESET_ON_FORK }
    }

    /// A real-time thread's new threads are ordinary ones: std's acceptor
    /// must not hand its priority to its connection threads.
    #[test]
    fn a_realtime_threads_children_are_ordinary() {
        std::thread::spawn(|| {
            match realtime_thread() {
                Ok(()) => {}
                Err(e) if e.raw_os_error() == Some(libc::EPERM) => {
                    eprintln!("skipped: not allowed to make a real-time thread ({e})");
                    return;
                }
                Err(e) => panic!("sched_setscheduler: {e}"),
            }
            assert_eq!(policy(), libc::SCHED_FIFO);
            let child = std::thread::spawn(policy).join().unwrap();
            assert_eq!(child, libc::SCHED_OTHER, "the child is an ordinary thread");
        })
        .join()
        .unwrap();
    }
}
