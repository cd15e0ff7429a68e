//! [`Epoll`]: the kernel's readiness API, edge-triggered, plus an eventfd
//! that lets other threads wake a hub blocked in a wait. The only place in
//! green-core that makes these syscalls.
//!
//! Why not the `polling` crate (which green used before): its `wait` re-arms
//! a timerfd and its notifier on every call, four syscalls on top of
//! `epoll_wait` each time the hub polls (one poll per dozen round trips in
//! an echo server at 100 connections, measured with perf). Here a wait is
//! one `epoll_pwait2` (nanosecond timeouts, Linux 5.11) or, where the kernel
//! lacks it, one `epoll_wait` with the timeout rounded up to a millisecond;
//! the eventfd is read only after another thread has written it.

use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

/// The `data` of the eventfd's registration: not a valid fd number.
const WAKE_KEY: u64 = u64::MAX;

/// Interest in both directions, edge-triggered, with peer hang-ups and
/// urgent data (`EPOLLPRI`: see [`Ready::held_back`]).
const INTEREST: u32 =
    (libc::EPOLLIN | libc::EPOLLOUT | libc::EPOLLRDHUP | libc::EPOLLPRI | libc::EPOLLET) as u32;

/// One readiness report.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Ready {
    pub(crate) fd: RawFd,
    pub(crate) readable: bool,
    pub(crate) writable: bool,
    /// Its read side hung up or failed, or urgent data came (`EPOLLRDHUP`,
    /// `EPOLLHUP`, `EPOLLERR`, `EPOLLPRI`): a read may stop short of what is
    /// queued (at an end of file or an error, at the urgent mark), and no
    /// later edge announces the rest.
    pub(crate) held_back: bool,
}

impl Ready {
    /// The report for `fd` that epoll's `flags` make.
    fn from_flags(fd: RawFd, flags: u32) -> Ready {
        let hup = flags & (libc::EPOLLHUP | libc::EPOLLERR) as u32 != 0;
        let read_hup = hup || flags & libc::EPOLLRDHUP as u32 != 0;
        Ready {
            fd,
            readable: read_hup || flags & libc::EPOLLIN as u32 != 0,
            writable: hup || flags & libc::EPOLLOUT as u32 != 0,
            held_back: read_hup || flags & libc::EPOLLPRI as u32 != 0,
        }
    }
}

/// `fd`, or a copy of it numbered 3 or above if it took the number of a
/// standard stream the program had closed (0, 1 or 2): a write to closed
/// stdout (std's `println!`, whose `EBADF` std takes as success) must not
/// reach the hub's epoll instance or eventfd. Costs a syscall only then.
fn above_stdio(fd: OwnedFd) -> io::Result<OwnedFd> {
    if fd.as_raw_fd() > 2 {
        return Ok(fd);
    }
    // SAFETY: F_DUPFD_CLOEXEC takes an open fd (borrowed for the call) and
    // the lowest number the copy may have; it returns a new fd or -1.
    let copy = check(unsafe { libc::fcntl(fd.as_raw_fd(), libc::F_DUPFD_CLOEXEC, 3) })?;
    // SAFETY: `copy` is a new descriptor that nothing else owns; `fd` is
    // closed as it drops here, freeing the stream's number again.
    Ok(unsafe { OwnedFd::from_raw_fd(copy) })
}

/// An epoll instance and the eventfd that wakes it.
#[derive(Debug)]
pub(crate) struct Epoll {
    epfd: OwnedFd,
    wake: OwnedFd,
    /// Whether `epoll_pwait2` is missing (then `epoll_wait` it is).
    no_pwait2: AtomicBool,
}

impl Epoll {
    pub(crate) fn new() -> io::Result<Self> {
        // SAFETY: epoll_create1 takes a flags word and returns a new fd or -1.
        let epfd = check(unsafe { libc::epoll_create1(libc::EPOLL_CLOEXEC) })?;
        // SAFETY: `epfd` is a new descriptor that nothing else owns.
        let epfd = above_stdio(unsafe { OwnedFd::from_raw_fd(epfd) })?;
        // SAFETY: eventfd takes an initial count and flags, returns an fd or -1.
        let wake = check(unsafe { libc::eventfd(0, libc::EFD_CLOEXEC | libc::EFD_NONBLOCK) })?;
        // SAFETY: `wake` is a new descriptor that nothing else owns.
        let wake = above_stdio(unsafe { OwnedFd::from_raw_fd(wake) })?;
        let epoll = Epoll {
            epfd,
            wake,
            no_pwait2: AtomicBool::new(false),
        };
        epoll.ctl(
            libc::EPOLL_CTL_ADD,
            epoll.wake.as_raw_fd(),
            (libc::EPOLLIN | libc::EPOLLET) as u32,
            WAKE_KEY,
        )?;
        Ok(epoll)
    }

    /// Watches `fd` in both directions, edge-triggered. `EEXIST` if it is
    /// watched already.
    pub(crate) fn add(&self, fd: RawFd) -> io::Result<()> {
        self.ctl(libc::EPOLL_CTL_ADD, fd, INTEREST, key(fd))
    }

    /// Re-arms `fd` (an edge is reported if it is ready now). `ENOENT` if
    /// it is not watched.
    pub(crate) fn modify(&self, fd: RawFd) -> io::Result<()> {
        self.ctl(libc::EPOLL_CTL_MOD, fd, INTEREST, key(fd))
    }

    /// Stops watching `fd`.
    pub(crate) fn delete(&self, fd: RawFd) -> io::Result<()> {
        self.ctl(libc::EPOLL_CTL_DEL, fd, 0, 0)
    }

    fn ctl(&self, op: libc::c_int, fd: RawFd, events: u32, data: u64) -> io::Result<()> {
        let mut ev = libc::epoll_event { events, u64: data };
        // SAFETY: `ev` is a valid epoll_event for the call; a bad `fd` is an
        // error return (EBADF, ENOENT…), never memory unsafety: epoll only
        // records the number and the file behind it.
        check(unsafe { libc::epoll_ctl(self.epfd.as_raw_fd(), op, fd, &mut ev) }).map(drop)
    }

    /// Waits for events (at most `timeout`, forever when `None`) and passes
    /// each fd's report to `each`, for at most `max` events (and at most
    /// `buf`'s capacity); the kernel keeps the others ready for the next
    /// wait. A wake-up from [`notify`](Self::notify) ends the wait without
    /// a report.
    pub(crate) fn wait(
        &self,
        buf: &mut Vec<libc::epoll_event>,
        max: usize,
        timeout: Option<Duration>,
        mut each: impl FnMut(Ready),
    ) -> io::Result<()> {
        buf.clear();
        let n = self.wait_raw(buf, max, timeout)?;
        // SAFETY: the kernel initialised the first `n` entries, `n` is at
        // most the capacity it was given.
        unsafe { buf.set_len(n) };
        for ev in buf.iter() {
            let (flags, data) = (ev.events, ev.u64);
            if data == WAKE_KEY {
                self.drain_wake();
                continue;
            }
            each(Ready::from_flags(data as RawFd, flags));
        }
        Ok(())
    }

    fn wait_raw(
        &self,
        buf: &mut Vec<libc::epoll_event>,
        max: usize,
        timeout: Option<Duration>,
    ) -> io::Result<usize> {
        debug_assert!(max > 0, "epoll_wait takes at least one event");
        let cap = i32::try_from(max.min(buf.capacity())).unwrap_or(i32::MAX);
        if !self.no_pwait2.load(Ordering::Relaxed) {
            let ts = timeout.map(|t| libc::timespec {
                tv_sec: libc::time_t::try_from(t.as_secs()).unwrap_or(libc::time_t::MAX),
                tv_nsec: t.subsec_nanos().into(),
            });
            let ts_ptr = ts.as_ref().map_or(std::ptr::null(), |t| t as *const _);
            // SAFETY: `buf` has room for `cap` events, `ts_ptr` is null or
            // points at a timespec alive for the call, and a null sigmask
            // leaves the mask alone.
            let n = unsafe {
                libc::syscall(
                    libc::SYS_epoll_pwait2,
                    self.epfd.as_raw_fd(),
                    buf.as_mut_ptr(),
                    cap,
                    ts_ptr,
                    std::ptr::null::<libc::sigset_t>(),
                    0usize,
                )
            };
            match n {
                -1 => {
                    let err = io::Error::last_os_error();
                    match err.raw_os_error() {
                        Some(libc::EINTR) => return Ok(0),
                        Some(libc::ENOSYS | libc::EPERM) => {
                            self.no_pwait2.store(true, Ordering::Relaxed);
                        }
                        _ => return Err(err),
                    }
                }
                n => return Ok(usize::try_from(n).unwrap_or(0)),
            }
        }
        let ms = match timeout {
            None => -1,
            // rounded up: waking before a timer is due would spin
            Some(t) => i32::try_from(t.as_nanos().div_ceil(1_000_000)).unwrap_or(i32::MAX),
        };
        // SAFETY: `buf` has room for `cap` events.
        let n = unsafe { libc::epoll_wait(self.epfd.as_raw_fd(), buf.as_mut_ptr(), cap, ms) };
        match n {
            -1 if io::Error::last_os_error().raw_os_error() == Some(libc::EINTR) => Ok(0),
            -1 => Err(io::Error::last_os_error()),
            n => Ok(usize::try_from(n).unwrap_or(0)),
        }
    }

    /// Wakes a thread blocked in [`wait`](Self::wait) (or makes its next
    /// wait return at once). Callable from any thread.
    pub(crate) fn notify(&self) -> io::Result<()> {
        let one: u64 = 1;
        // SAFETY: writes the 8 bytes of `one` to the eventfd; a full counter
        // (EAGAIN) still leaves it readable, which is all we need. A raw
        // system call, not libc's `write`: a libc-level patch
        // (docs/libc-patch.md) must never see green's own wake-ups.
        let n = unsafe {
            libc::syscall(
                libc::SYS_write,
                self.wake.as_raw_fd(),
                (&raw const one).cast::<libc::c_void>(),
                8usize,
            )
        };
        if n == -1 {
            let err = io::Error::last_os_error();
            if err.raw_os_error() != Some(libc::EAGAIN) {
                return Err(err);
            }
        }
        Ok(())
    }

    /// Resets the eventfd's count, so the next write makes a new edge.
    fn drain_wake(&self) {
        let mut count: u64 = 0;
        // SAFETY: reads at most 8 bytes into `count`; the fd is
        // non-blocking, so an empty counter returns EAGAIN at once. Raw, as
        // in `notify`.
        let _ = unsafe {
            libc::syscall(
                libc::SYS_read,
                self.wake.as_raw_fd(),
                (&raw mut count).cast::<libc::c_void>(),
                8usize,
            )
        };
    }
}

fn key(fd: RawFd) -> u64 {
    u64::try_from(fd).expect("callers reject negative fds")
}

fn check(ret: libc::c_int) -> io::Result<libc::c_int> {
    if ret == -1 {
        Err(io::Error::last_os_error())
    } else {
        Ok(ret)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_flag_makes_its_report() {
        let report = |flags: libc::c_int| {
            let r = Ready::from_flags(3, flags as u32);
            (r.readable, r.writable, r.held_back)
        };
        assert_eq!(report(libc::EPOLLIN), (true, false, false));
        assert_eq!(report(libc::EPOLLOUT), (false, true, false));
        assert_eq!(report(libc::EPOLLIN | libc::EPOLLOUT), (true, true, false));
        // A read-side hang-up: an end of file may be queued behind data.
        assert_eq!(report(libc::EPOLLRDHUP), (true, false, true));
        // A hang-up or an error: both sides end, a read may stop short of it.
        assert_eq!(report(libc::EPOLLHUP), (true, true, true));
        assert_eq!(report(libc::EPOLLERR), (true, true, true));
        // Urgent data alone wakes no reader (the byte is out of band), but
        // a read stops short at its mark from now on.
        assert_eq!(report(libc::EPOLLPRI), (false, false, true));
        assert_eq!(report(libc::EPOLLIN | libc::EPOLLPRI), (true, false, true));
    }
}
