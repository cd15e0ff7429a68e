//! Pinning hub threads to CPUs, for
//! [`Runtime::pin_to_cores`](crate::Runtime::pin_to_cores): the one module
//! that reads or changes a thread's CPU mask (`sched_getaffinity`,
//! `sched_setaffinity`), and [`pinned_cpu`], which tells a hub where it runs.
//!
//! A thread starts with the mask of the thread that started it, so threads
//! started from a pinned hub would run on the hub's CPU alone. The blocking
//! pool's workers, which any hub may start, put back the mask the hub had
//! before it was pinned ([`free_new_thread`]).

use std::cell::RefCell;
use std::io;

/// Largest mask tried, in 64-bit words (the kernel's `NR_CPUS` tops out at
/// 8,192 CPUs).
const MAX_WORDS: usize = 8192 / 64;

thread_local! {
    /// While this thread is pinned by a runtime: its CPU, and its mask
    /// from before.
    static PINNED: RefCell<Option<(usize, Mask)>> = const { RefCell::new(None) };
}

/// The CPU the calling hub is pinned to, when its [`Runtime`] was built with
/// [`pin_to_cores(true)`](crate::Runtime::pin_to_cores); `None` otherwise
/// (and outside a runtime).
///
/// A server uses it to ask the kernel for the connections that arrive on
/// that CPU (green-net's `ListenOptions::incoming_cpu`), so that a
/// connection's packets and its greenlet share a core. (Should the
/// process's cpuset change during the run, the kernel may move the thread
/// off that CPU; this still names the CPU it was pinned to.)
///
/// [`Runtime`]: crate::Runtime
///
/// # Examples
///
/// ```
/// let cpus = green::Runtime::new().hubs(2).pin_to_cores(true).run(|_| green::pinned_cpu());
/// assert!(cpus.iter().all(Option::is_some));
/// assert_eq!(green::pinned_cpu(), None, "the calling thread is let go afterwards");
/// ```
pub fn pinned_cpu() -> Option<usize> {
    PINNED.with(|p| p.borrow().as_ref().map(|(cpu, _)| *cpu))
}

/// A thread's CPU mask, one bit per CPU, as many 64-bit words as the
/// kernel wants.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Mask(Vec<u64>);

impl Mask {
    /// The calling thread's mask.
    pub(crate) fn current() -> io::Result<Mask> {
        let mut words = 1024 / 64;
        loop {
            let mut mask = Mask(vec![0; words]);
            // SAFETY: the kernel writes at most the given number of bytes,
            // the size of the buffer we own; pid 0 is the calling thread.
            let rc =
                unsafe { libc::sched_getaffinity(0, mask.bytes(), mask.0.as_mut_ptr().cast()) };
            if rc == 0 {
                return Ok(mask);
            }
            let e = io::Error::last_os_error();
            // EINVAL: the buffer is smaller than the kernel's CPU count.
            if e.raw_os_error() != Some(libc::EINVAL) || words >= MAX_WORDS {
                return Err(e);
            }
            words *= 2;
        }
    }

    /// The mask of `cpu` alone.
    fn only(cpu: usize) -> io::Result<Mask> {
        if cpu >= MAX_WORDS * 64 {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                format!(
                    "CPU {cpu} is beyond the largest CPU mask ({} CPUs)",
                    MAX_WORDS * 64
                ),
            ));
        }
        let mut words = vec![0; (cpu / 64 + 1).max(1024 / 64)];
        words[cpu / 64] |= 1 << (cpu % 64);
        Ok(Mask(words))
    }

    /// Every CPU (the kernel keeps those the process may use).
    fn all() -> Mask {
        Mask(vec![u64::MAX; MAX_WORDS])
    }

    fn bytes(&self) -> usize {
        self.0.len() * 8
    }

    /// The CPUs in the mask, in increasing order.
    pub(crate) fn cpus(&self) -> Vec<usize> {
        (0..self.0.len() * 64)
            .filter(|&cpu| self.0[cpu / 64] & (1 << (cpu % 64)) != 0)
            .collect()
    }

    /// Makes it the calling thread's mask.
    fn apply(&self) -> io::Result<()> {
        // SAFETY: sched_setaffinity only reads the given number of bytes of
        // the buffer we own; pid 0 is the calling thread.
        let rc = unsafe { libc::sched_setaffinity(0, self.bytes(), self.0.as_ptr().cast()) };
        if rc != 0 {
            return Err(io::Error::last_os_error());
        }
        Ok(())
    }
}

/// Pins the calling thread to `cpu` and records it for [`pinned_cpu`].
pub(crate) fn pin(cpu: usize) -> io::Result<()> {
    let before = Mask::current()?;
    Mask::only(cpu)?.apply()?;
    PINNED.with(|p| *p.borrow_mut() = Some((cpu, before)));
    Ok(())
}

/// Gives the calling thread, if pinned, its mask from before [`pin`]; if
/// the process's cpuset no longer allows that, every CPU it allows.
pub(crate) fn unpin() {
    let Some((_, before)) = PINNED.with(|p| p.borrow_mut().take()) else {
        return;
    };
    if before.apply().is_err() {
        // Only CPUs the cpuset allows remain of "all", and it allows one.
        let _ = Mask::all().apply();
    }
}

/// The mask a thread started by the calling one should put back first:
/// the caller's mask from before it was pinned, if it is pinned.
pub(crate) fn mask_for_new_thread() -> Option<Mask> {
    PINNED.with(|p| p.borrow().as_ref().map(|(_, before)| before.clone()))
}

/// In a new thread, puts back `mask` (from [`mask_for_new_thread`] in the
/// thread that started it), best effort.
pub(crate) fn free_new_thread(mask: Option<Mask>) {
    if let Some(mask) = mask {
        if mask.apply().is_err() {
            let _ = Mask::all().apply();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pins_and_gives_the_mask_back() {
        std::thread::spawn(|| {
            let before = Mask::current().unwrap();
            let cpus = before.cpus();
            assert!(!cpus.is_empty());
            let last = *cpus.last().unwrap();
            pin(last).unwrap();
            assert_eq!(pinned_cpu(), Some(last));
            assert_eq!(Mask::current().unwrap().cpus(), [last]);
            // A thread started now runs on `last` unless it frees itself.
            let handed = mask_for_new_thread();
            let child = std::thread::spawn(move || {
                let inherited = Mask::current().unwrap().cpus();
                free_new_thread(handed);
                (inherited, Mask::current().unwrap().cpus(), pinned_cpu())
            })
            .join()
            .unwrap();
            assert_eq!(child, (vec![last], cpus.clone(), None));
            unpin();
            assert_eq!(pinned_cpu(), None);
            assert_eq!(Mask::current().unwrap().cpus(), cpus);
        })
        .join()
        .unwrap();
    }

    #[test]
    fn a_cpu_out_of_range_is_an_error() {
        let e = pin(MAX_WORDS * 64).unwrap_err();
        assert_eq!(e.kind(), io::ErrorKind::InvalidInput);
        assert_eq!(pinned_cpu(), None);
    }

    #[test]
    fn masks_list_their_cpus() {
        assert_eq!(Mask::only(0).unwrap().cpus(), [0]);
        assert_eq!(Mask::only(1000).unwrap().cpus(), [1000]);
        assert_eq!(Mask::all().cpus().len(), MAX_WORDS * 64);
    }
}
