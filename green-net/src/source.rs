//! [`Source`]: a std socket owned in non-blocking mode, and the one retry
//! loop every blocking-style operation of this crate goes through.
//!
//! The socket is always non-blocking underneath. An operation is tried; on
//! `WouldBlock` the caller waits for readiness with
//! [`green::io::wait_readable`]/[`wait_writable`](green::io::wait_writable)
//! (which park the greenlet inside `green::run` and block the thread in
//! `poll(2)` outside it), then tries again. So one code path gives std's
//! blocking behaviour in both places.
//!
//! The timeouts and the user's own non-blocking flag live in [`Settings`],
//! in atomics, because std's sockets are `Sync` (`&TcpStream` may be read
//! from one thread while another sets its timeout), and behind an `Arc`
//! because in std they belong to the socket, not to the handle: clones made
//! with `try_clone` share them. Timeouts are also written to the kernel
//! (`SO_RCVTIMEO`/`SO_SNDTIMEO`, inert while the socket is non-blocking), so
//! a socket converted back into a std type keeps them.

use std::io;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, RawFd};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// A socket in non-blocking mode plus std's blocking-mode settings.
#[derive(Debug)]
pub(crate) struct Source<T: AsFd> {
    /// `Some` until [`into_inner`](Source::into_inner) takes it.
    io: Option<T>,
    settings: Arc<Settings>,
}

/// What std keeps per socket and we must emulate.
#[derive(Debug, Default)]
struct Settings {
    /// Nanoseconds; 0 means "no timeout" (std rejects a zero timeout).
    read_timeout: AtomicU64,
    write_timeout: AtomicU64,
    /// The user called `set_nonblocking(true)`: return `WouldBlock` as is.
    nonblocking: AtomicBool,
}

/// Which readiness an operation waits for.
#[derive(Clone, Copy, Debug)]
pub(crate) enum Interest {
    Read,
    Write,
}

impl<T: AsFd> Source<T> {
    /// Takes ownership of `io` and switches it to non-blocking mode, keeping
    /// the blocking mode and timeouts it had as std settings.
    pub(crate) fn new(io: T) -> io::Result<Self> {
        let sock = socket2::SockRef::from(&io);
        let settings = Settings::default();
        settings
            .nonblocking
            .store(sock.nonblocking()?, Ordering::Relaxed);
        // Not every socket type reports timeouts; those start without one.
        store(&settings.read_timeout, sock.read_timeout().unwrap_or(None))?;
        store(
            &settings.write_timeout,
            sock.write_timeout().unwrap_or(None),
        )?;
        sock.set_nonblocking(true)?;
        Ok(Source {
            io: Some(io),
            settings: Arc::new(settings),
        })
    }

    /// Takes ownership of a socket this crate has just created or accepted,
    /// so in std's default mode (blocking, no timeouts): one syscall instead
    /// of asking the kernel.
    pub(crate) fn fresh(io: T) -> io::Result<Self> {
        socket2::SockRef::from(&io).set_nonblocking(true)?;
        Ok(Source {
            io: Some(io),
            settings: Arc::new(Settings::default()),
        })
    }

    /// Wraps a duplicate of this source's socket (`try_clone`): the two
    /// share their settings, as std's clones do.
    pub(crate) fn sibling(&self, io: T) -> Self {
        Source {
            io: Some(io),
            settings: self.settings.clone(),
        }
    }

    /// The socket, for operations that never block.
    pub(crate) fn get_ref(&self) -> &T {
        self.io
            .as_ref()
            .expect("a Source holds its socket until into_inner")
    }

    /// Gives the socket back in the blocking mode the user last asked for,
    /// as std would hand it over.
    pub(crate) fn into_inner(mut self) -> io::Result<T> {
        let io = self
            .io
            .take()
            .expect("a Source holds its socket until into_inner");
        green::io::deregister(&io);
        let nonblocking = self.settings.nonblocking.load(Ordering::Relaxed);
        socket2::SockRef::from(&io).set_nonblocking(nonblocking)?;
        Ok(io)
    }

    /// Runs `op` until it does not fail with `WouldBlock`, waiting to read
    /// in between, within the read timeout.
    pub(crate) fn read_with<R>(&self, op: impl FnMut(&T) -> io::Result<R>) -> io::Result<R> {
        let timeout = load(&self.settings.read_timeout);
        self.retry(Interest::Read, timeout, op)
    }

    /// Runs `op` until it does not fail with `WouldBlock`, waiting to write
    /// in between, within the write timeout.
    pub(crate) fn write_with<R>(&self, op: impl FnMut(&T) -> io::Result<R>) -> io::Result<R> {
        let timeout = load(&self.settings.write_timeout);
        self.retry(Interest::Write, timeout, op)
    }

    /// THE retry loop: try, on `WouldBlock` wait for `interest` until the
    /// deadline, try again. A timeout ends with the error std reports on
    /// Unix for an expired socket timeout (`EAGAIN`, kind `WouldBlock`).
    pub(crate) fn retry<R>(
        &self,
        interest: Interest,
        timeout: Option<Duration>,
        mut op: impl FnMut(&T) -> io::Result<R>,
    ) -> io::Result<R> {
        let mut deadline: Option<Instant> = None;
        loop {
            match op(self.get_ref()) {
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
                result => return result,
            }
            if self.settings.nonblocking.load(Ordering::Relaxed) {
                return Err(io::ErrorKind::WouldBlock.into());
            }
            // The clock starts at the first wait, as a blocking syscall's
            // timeout starts when it blocks.
            if deadline.is_none() {
                deadline = timeout.and_then(|t| Instant::now().checked_add(t));
            } else if deadline.is_some_and(|at| Instant::now() >= at) {
                // A wait may return at once (a remembered readiness edge)
                // while the operation keeps failing: the deadline still
                // holds.
                return Err(io::Error::from_raw_os_error(libc::EAGAIN));
            }
            match self.wait(interest, deadline) {
                Err(e) if e.kind() == io::ErrorKind::TimedOut => {
                    return Err(io::Error::from_raw_os_error(libc::EAGAIN));
                }
                Err(e) => return Err(e),
                Ok(()) => {}
            }
        }
    }

    /// Waits once for `interest` (may return spuriously).
    pub(crate) fn wait(&self, interest: Interest, deadline: Option<Instant>) -> io::Result<()> {
        match interest {
            Interest::Read => green::io::wait_readable(self.get_ref(), deadline),
            Interest::Write => green::io::wait_writable(self.get_ref(), deadline),
        }
    }

    pub(crate) fn set_read_timeout(&self, dur: Option<Duration>) -> io::Result<()> {
        store(&self.settings.read_timeout, dur)?;
        socket2::SockRef::from(self.get_ref()).set_read_timeout(dur)
    }

    pub(crate) fn set_write_timeout(&self, dur: Option<Duration>) -> io::Result<()> {
        store(&self.settings.write_timeout, dur)?;
        socket2::SockRef::from(self.get_ref()).set_write_timeout(dur)
    }

    pub(crate) fn read_timeout(&self) -> Option<Duration> {
        load(&self.settings.read_timeout)
    }

    pub(crate) fn write_timeout(&self) -> Option<Duration> {
        load(&self.settings.write_timeout)
    }

    /// std's `set_nonblocking`: the socket stays non-blocking underneath;
    /// this only decides whether `WouldBlock` reaches the caller.
    pub(crate) fn set_nonblocking(&self, nonblocking: bool) {
        self.settings
            .nonblocking
            .store(nonblocking, Ordering::Relaxed);
    }
}

impl<T: AsFd> Drop for Source<T> {
    fn drop(&mut self) {
        // Before the socket closes: a new fd may reuse the number.
        if let Some(io) = &self.io {
            green::io::deregister(io);
        }
    }
}

impl<T: AsFd> AsFd for Source<T> {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.get_ref().as_fd()
    }
}

impl<T: AsFd> AsRawFd for Source<T> {
    fn as_raw_fd(&self) -> RawFd {
        self.get_ref().as_fd().as_raw_fd()
    }
}

/// std's rule for socket timeouts: `Some(0)` is an error.
fn store(cell: &AtomicU64, dur: Option<Duration>) -> io::Result<()> {
    let nanos = match dur {
        None => 0,
        Some(d) if d.is_zero() => {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                "cannot set a 0 duration timeout",
            ));
        }
        // saturate: u64 nanoseconds is 584 years
        Some(d) => u64::try_from(d.as_nanos()).unwrap_or(u64::MAX).max(1),
    };
    cell.store(nanos, Ordering::Relaxed);
    Ok(())
}

fn load(cell: &AtomicU64) -> Option<Duration> {
    match cell.load(Ordering::Relaxed) {
        0 => None,
        n => Some(Duration::from_nanos(n)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timeouts_follow_std_rules() {
        let cell = AtomicU64::new(0);
        assert_eq!(load(&cell), None);
        let err = store(&cell, Some(Duration::ZERO)).unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::InvalidInput);
        store(&cell, Some(Duration::from_millis(1500))).unwrap();
        assert_eq!(load(&cell), Some(Duration::from_millis(1500)));
        store(&cell, Some(Duration::MAX)).unwrap();
        assert!(load(&cell).unwrap() > Duration::from_secs(100 * 365 * 24 * 3600));
        store(&cell, None).unwrap();
        assert_eq!(load(&cell), None);
    }
}
