//! Pinning hub threads to CPUs, for
//! [`Runtime::pin_to_cores`](crate::Runtime::pin_to_cores): the one module
//! that reads or changes a thread's CPU mask (`sched_getaffinity`,
//! `sched_setaffinity`), and [`pinned_cpu`], which tells a hub where it runs.

use std::cell::Cell;
use std::io;

thread_local! {
    /// The CPU this thread was pinned to by a runtime, while it is.
    static PINNED: Cell<Option<usize>> = const { Cell::new(None) };
}

/// The CPU the calling hub is pinned to, when its [`Runtime`] was built with
/// [`pin_to_cores(true)`](crate::Runtime::pin_to_cores); `None` otherwise
/// (and outside a runtime).
///
/// A server uses it to ask the kernel for the connections that arrive on
/// that CPU (green-net's `ListenOptions::incoming_cpu`), so that a
/// connection's packets and its greenlet share a core.
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
    PINNED.with(Cell::get)
}

/// A thread's CPU mask.
#[derive(Clone, Copy)]
pub(crate) struct Mask(libc::cpu_set_t);

impl Mask {
    /// The calling thread's mask.
    pub(crate) fn current() -> io::Result<Mask> {
        // SAFETY: a zeroed `cpu_set_t` is an empty set, a valid value.
        let mut set: libc::cpu_set_t = unsafe { std::mem::zeroed() };
        // SAFETY: sched_getaffinity writes at most `size_of` bytes into the
        // set we own; pid 0 is the calling thread.
        let rc = unsafe { libc::sched_getaffinity(0, std::mem::size_of_val(&set), &mut set) };
        if rc != 0 {
            return Err(io::Error::last_os_error());
        }
        Ok(Mask(set))
    }

    /// The mask of `cpu` alone.
    fn only(cpu: usize) -> io::Result<Mask> {
        if cpu >= libc::CPU_SETSIZE as usize {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                format!("CPU {cpu} is beyond the largest CPU set"),
            ));
        }
        // SAFETY: as in `current`.
        let mut set: libc::cpu_set_t = unsafe { std::mem::zeroed() };
        // SAFETY: `cpu` is below CPU_SETSIZE (checked above), so the bit is
        // inside the set we own.
        unsafe { libc::CPU_SET(cpu, &mut set) };
        Ok(Mask(set))
    }

    /// The CPUs in the mask, in increasing order.
    pub(crate) fn cpus(&self) -> Vec<usize> {
        (0..libc::CPU_SETSIZE as usize)
            // SAFETY: every `cpu` is below CPU_SETSIZE, inside the set.
            .filter(|&cpu| unsafe { libc::CPU_ISSET(cpu, &self.0) })
            .collect()
    }

    /// Makes it the calling thread's mask.
    fn apply(&self) -> io::Result<()> {
        // SAFETY: sched_setaffinity only reads the set we own; pid 0 is the
        // calling thread.
        let rc = unsafe { libc::sched_setaffinity(0, std::mem::size_of_val(&self.0), &self.0) };
        if rc != 0 {
            return Err(io::Error::last_os_error());
        }
        Ok(())
    }
}

/// Pins the calling thread to `cpu` and records it for [`pinned_cpu`].
pub(crate) fn pin(cpu: usize) -> io::Result<()> {
    Mask::only(cpu)?.apply()?;
    PINNED.with(|p| p.set(Some(cpu)));
    Ok(())
}

/// Gives the calling thread `saved` back (its mask before [`pin`]).
pub(crate) fn unpin(saved: &Mask) -> io::Result<()> {
    PINNED.with(|p| p.set(None));
    saved.apply()
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
            unpin(&before).unwrap();
            assert_eq!(pinned_cpu(), None);
            assert_eq!(Mask::current().unwrap().cpus(), cpus);
        })
        .join()
        .unwrap();
    }

    #[test]
    fn a_cpu_out_of_range_is_an_error() {
        let e = pin(libc::CPU_SETSIZE as usize).unwrap_err();
        assert_eq!(e.kind(), io::ErrorKind::InvalidInput);
        assert_eq!(pinned_cpu(), None);
    }
}
