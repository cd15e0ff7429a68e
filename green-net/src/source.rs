//! [`Source`]: a std socket plus std's blocking-mode settings, and the one
//! retry loop every blocking-style operation of this crate goes through.
//!
//! An operation is tried without blocking; on `WouldBlock` the caller waits
//! for readiness with
//! [`green::io::wait_readable`]/[`wait_writable`](green::io::wait_writable)
//! (which park the greenlet inside `green::run` and block the thread in
//! `poll(2)` outside it), then tries again. So one code path gives std's
//! blocking behaviour in both places (outside `run` too, rather than std's
//! blocking syscall: the waits are the same, timeouts included).
//!
//! # Who owns `O_NONBLOCK`
//!
//! The kernel's non-blocking flag belongs to the socket's open file
//! description, which every handle of it shares: `try_clone`s, duplicated
//! fds, a std socket the user kept or converted a clone into. So green
//! leaves it to the user wherever it can:
//!
//! - A stream or datagram socket's flag is always the user's own choice,
//!   std's state exactly (`set_nonblocking` sets it). Every operation green
//!   makes on it is non-blocking per call instead ([`crate::sys`]:
//!   `MSG_DONTWAIT`), so no other handle can make a green one block, and
//!   green never makes another handle non-blocking. Only a connect, on a
//!   fresh socket nothing shares yet, sets the flag for its duration.
//! - A listener has no per-call non-blocking accept, so it is non-blocking
//!   in the kernel while green owns it, and gets the user's mode back when
//!   converted to a std type (see [`Source::into_inner`]). The user's mode
//!   lives in its settings, which every green handle of the socket shares,
//!   found by the socket's inode however the handle was made
//!   ([`listeners`]).
//!
//! The timeouts and the user's own non-blocking flag live in [`Settings`],
//! in atomics, because std's sockets are `Sync` (`&TcpStream` may be read
//! from one thread while another sets its timeout), and behind an `Arc`
//! because in std they belong to the socket, not to the handle: clones made
//! with `try_clone` share them. Timeouts are also written to the kernel
//! (`SO_RCVTIMEO`/`SO_SNDTIMEO`), and what is kept is what the kernel read
//! back, as std's getters return it (whole jiffies), so the waits match
//! std's and a socket converted back into a std type keeps them.

use std::io;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, RawFd};
use std::sync::atomic::{AtomicBool, AtomicI32, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

mod listeners;

/// A socket plus std's blocking-mode settings.
#[derive(Debug)]
pub(crate) struct Source<T: AsFd> {
    /// `Some` until [`into_inner`](Source::into_inner) takes it.
    io: Option<T>,
    settings: Arc<Settings>,
    /// A read that fills less than its buffer empties the receive queue (a
    /// TCP socket; see [`read_stream`](Source::read_stream)).
    short_reads_drain: bool,
}

/// The std socket types a [`Source`] wraps, and what green must know of
/// their kind.
pub(crate) trait Socket: AsFd {
    /// The kernel may shut the socket's sending side without a readiness
    /// event: a Unix socket's poll reports it writable by its send buffer
    /// alone, so neither its own `shutdown(Write)` (through any handle) nor
    /// its stream peer's `shutdown(Read)` wakes a writer waiting for room,
    /// where the kernel's blocking send wakes with `EPIPE`. A write of such
    /// a socket that waits for room tries again now and then ([`Recheck`]);
    /// TCP's poll reports a shut send side as writable, so its writes need
    /// not.
    const SEND_SHUTDOWN_UNANNOUNCED: bool = false;
}

impl Socket for std::net::TcpStream {}
impl Socket for std::net::TcpListener {}
impl Socket for std::net::UdpSocket {}
impl Socket for std::os::unix::net::UnixListener {}
impl Socket for std::os::unix::net::UnixStream {
    const SEND_SHUTDOWN_UNANNOUNCED: bool = true;
}
impl Socket for std::os::unix::net::UnixDatagram {
    const SEND_SHUTDOWN_UNANNOUNCED: bool = true;
}

/// What std keeps per socket and we must emulate.
#[derive(Debug, Default)]
struct Settings {
    /// Nanoseconds; 0 means "no timeout" (std rejects a zero timeout).
    read_timeout: AtomicU64,
    write_timeout: AtomicU64,
    /// The user called `set_nonblocking(true)`: return `WouldBlock` as is.
    nonblocking: AtomicBool,
    /// The socket's pending error (`SO_ERROR`, an `errno`; 0 for none)
    /// that a send of a blocking [write](Source::write_stream) took after
    /// the write had sent some bytes. The write returns their count, as the
    /// kernel's does, and the kernel's leaves the error pending for the
    /// next call on the socket (so the next write gets `ECONNRESET`, not
    /// `EPIPE`, and a read too, not end of file); green hands it to the
    /// next call instead ([`Source::or_kept_error`]). Here, with the other
    /// settings, it is shared by `try_clone`s, as the kernel's is; a handle
    /// made otherwise (a duplicated fd wrapped again, a conversion to std)
    /// does not see it.
    error: AtomicI32,
    /// The socket's receiving side was found shut
    /// ([`Source::receive_shut`]), or shut by a handle of ours
    /// ([`Source::note_receive_shut`]).
    receive_shut: AtomicBool,
    /// A listener's entry in [`listeners`] (every green handle of the
    /// socket shares these settings, however it was made), removed when
    /// they are dropped; `None` for any other socket. A listener is
    /// non-blocking in the kernel while green owns it; any other socket is
    /// in the user's mode, and green's operations on it are non-blocking
    /// per call.
    listener: Option<listeners::Entry>,
}

impl Settings {
    /// The settings `io` has in the kernel: its blocking mode and timeouts.
    fn of(io: impl AsFd) -> io::Result<Settings> {
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
        Ok(settings)
    }
}

/// Which readiness an operation waits for.
#[derive(Clone, Copy, Debug)]
pub(crate) enum Interest {
    Read,
    Write,
}

impl<T: Socket> Source<T> {
    /// Takes ownership of a stream or datagram socket, keeping the blocking
    /// mode and timeouts it has (in the kernel, where they stay) as std
    /// settings.
    pub(crate) fn new(io: T) -> io::Result<Self> {
        Ok(Source {
            settings: Arc::new(Settings::of(&io)?),
            io: Some(io),
            short_reads_drain: false,
        })
    }

    /// Takes ownership of a listener and switches it to non-blocking mode.
    /// If green owns the socket already (this is a duplicate of a green
    /// listener's fd), the new handle shares the settings of the others,
    /// as a `try_clone` does: the kernel's flag is green's then, not the
    /// user's. Otherwise the mode and timeouts it has are kept as std
    /// settings, as [`new`](Self::new) does.
    pub(crate) fn new_listener(io: T) -> io::Result<Self> {
        let id = listeners::id(&io)?;
        // Under the lock, so that no conversion back to std (`into_inner`)
        // restores the blocking mode between the two.
        let (settings, switched) = {
            let mut map = listeners::lock();
            let settings = listeners::share_or_insert(&mut map, id, || {
                // The kernel first: an entry dropped on its error would take
                // the lock held here.
                let kernel = Settings::of(&io)?;
                Ok(Settings {
                    listener: Some(listeners::Entry(id)),
                    ..kernel
                })
            })?;
            (settings, socket2::SockRef::from(&io).set_nonblocking(true))
        };
        switched?;
        Ok(Source {
            io: Some(io),
            settings,
            short_reads_drain: false,
        })
    }

    /// Takes ownership of a stream or datagram socket this crate has just
    /// created, so in std's default mode (blocking, no timeouts): no
    /// syscall.
    pub(crate) fn fresh(io: T) -> Self {
        Source {
            io: Some(io),
            settings: Arc::new(Settings::default()),
            short_reads_drain: false,
        }
    }

    /// Takes ownership of a listener this crate has just created (std's
    /// default mode), switches it to non-blocking mode and enters it in
    /// [`listeners`] (an `fstat`).
    pub(crate) fn fresh_listener(io: T) -> io::Result<Self> {
        socket2::SockRef::from(&io).set_nonblocking(true)?;
        let id = listeners::id(&io)?;
        let settings = Arc::new(Settings {
            listener: Some(listeners::Entry(id)),
            ..Settings::default()
        });
        // Over any entry an earlier socket with this inode left.
        listeners::lock().insert(id, Arc::downgrade(&settings));
        Ok(Source {
            io: Some(io),
            settings,
            short_reads_drain: false,
        })
    }

    /// Wraps a TCP stream this listener's source has just accepted: in
    /// std's default mode (blocking), with the timeouts the listener's
    /// settings hold, which Linux copies to the TCP sockets it accepts
    /// (`sk_clone_lock`). No syscall.
    pub(crate) fn accepted<S: Socket>(&self, io: S) -> Source<S> {
        let settings = Settings::default();
        for (to, from) in [
            (&settings.read_timeout, &self.settings.read_timeout),
            (&settings.write_timeout, &self.settings.write_timeout),
        ] {
            to.store(from.load(Ordering::Relaxed), Ordering::Relaxed);
        }
        Source {
            io: Some(io),
            settings: Arc::new(settings),
            short_reads_drain: self.short_reads_drain,
        }
    }

    /// Says whether a stream read that fills less than its buffer leaves the
    /// socket's receive queue empty, as a plain TCP socket's does (epoll(7),
    /// question 9): then [`read_stream`](Self::read_stream) may wait before
    /// the next read instead of trying it. Not so for a Unix stream socket,
    /// which stops short at a boundary between writers or at passed
    /// descriptors with data still queued, nor for kernel TLS, which stops
    /// at a control record.
    pub(crate) fn short_reads_drain(mut self, yes: bool) -> Self {
        self.short_reads_drain = yes;
        self
    }

    /// Wraps a duplicate of this source's socket (`try_clone`): the two
    /// share their settings, as std's clones do.
    pub(crate) fn sibling(&self, io: T) -> Self {
        Source {
            io: Some(io),
            settings: self.settings.clone(),
            short_reads_drain: self.short_reads_drain,
        }
    }

    /// Whether the socket is a listener (see [`Settings::listener`]).
    fn is_listener(&self) -> bool {
        self.settings.listener.is_some()
    }

    /// The socket, for operations that never block.
    pub(crate) fn get_ref(&self) -> &T {
        self.io
            .as_ref()
            .expect("a Source holds its socket until into_inner")
    }

    /// Gives the socket back in the blocking mode the user last asked for,
    /// as std would hand it over.
    ///
    /// A stream or datagram socket is in that mode already. A listener is
    /// switched back to it, unless other green handles of it (`try_clone`s,
    /// duplicates wrapped again) are still alive: they share its
    /// `O_NONBLOCK`, and a blocking listener would block their accepts, and
    /// with them the hub. Then it stays non-blocking, so a std `accept` on
    /// it returns `WouldBlock` instead of waiting.
    pub(crate) fn into_inner(mut self) -> io::Result<T> {
        let io = self
            .io
            .take()
            .expect("a Source holds its socket until into_inner");
        green::io::deregister(&io);
        if self.is_listener() {
            // No handle joins the others meanwhile (`new_listener`).
            let _map = listeners::lock();
            if Arc::strong_count(&self.settings) == 1 {
                let nonblocking = self.settings.nonblocking.load(Ordering::Relaxed);
                socket2::SockRef::from(&io).set_nonblocking(nonblocking)?;
            }
        }
        Ok(io)
    }

    /// Runs `op` until it does not fail with `WouldBlock`, waiting to read
    /// in between, within the read timeout.
    pub(crate) fn read_with<R>(&self, op: impl FnMut(&T) -> io::Result<R>) -> io::Result<R> {
        let timeout = load(&self.settings.read_timeout);
        self.retry(Interest::Read, timeout, op)
    }

    /// [`read_with`](Self::read_with) for a read of a stream socket into
    /// `len` bytes of buffer (0 for a read whose fill proves nothing). When a
    /// read comes back short on a socket whose
    /// [short reads drain](Self::short_reads_drain) the queue, it marks the
    /// fd drained in the hub ([`green::io::note_drained`]); a read that
    /// finds the mark still standing (no readiness since) waits before it
    /// tries, since a `recv` would fail with `WouldBlock`. A
    /// request-response server then makes one `recv` per request instead of
    /// two, as tokio's and netty's do.
    ///
    /// Where the kernel stops a TCP read short with more queued and no edge
    /// to come, the hub turns the marks off (an end of file, an error,
    /// urgent data), except in two cases a read then waits for the next
    /// edge, as a tokio read does: urgent data whose byte the user took with
    /// `MSG_OOB` through the raw fd before the hub saw it (`SO_OOBINLINE`
    /// avoids it), and a `SO_RCVLOWAT` above the bytes queued, which the
    /// kernel announces only once it is reached (std's blocking read of a
    /// smaller buffer returns the bytes at once).
    ///
    /// Where the kernel's read would report the socket's pending error, it
    /// returns the one a write kept ([`or_kept_error`](Self::or_kept_error)).
    #[inline]
    pub(crate) fn read_stream(
        &self,
        len: usize,
        op: impl FnMut(&T) -> io::Result<usize>,
    ) -> io::Result<usize> {
        if !self.short_reads_drain {
            return self.or_kept_error(self.read_with(op));
        }
        let timeout = load(&self.settings.read_timeout);
        let wait_first = !self.settings.nonblocking.load(Ordering::Relaxed)
            && green::io::is_drained(self.get_ref());
        let n = self.or_kept_error(self.retry_from(
            Interest::Read,
            timeout,
            &mut None,
            op,
            !wait_first,
        ))?;
        if n > 0 && n < len {
            green::io::note_drained(self.get_ref());
        }
        Ok(n)
    }

    /// [`read_with`](Self::read_with) for a datagram socket's receive,
    /// ending with `shut()` where std's blocking receive returns at once
    /// because the socket's receiving side is shut: the
    /// kernel's non-blocking receive, which green makes, keeps failing with
    /// `EAGAIN` there (while poll reports the socket readable), so a receive
    /// that has waited and still finds nothing asks
    /// ([`receive_shut`](Self::receive_shut)). A shutdown through any handle
    /// counts, green's or not, before or during the wait.
    pub(crate) fn receive_with<R>(
        &self,
        op: impl FnMut(&T) -> io::Result<R>,
        shut: impl Fn() -> io::Result<R>,
    ) -> io::Result<R> {
        self.read_with(self.until_receive_shut(op, shut))
    }

    /// `op` for a retry loop ([`read_with`](Self::read_with),
    /// [`accept_with`](Self::accept_with)), but for a blocking socket's
    /// `WouldBlock` once [`receive_shut`](Self::receive_shut) says the
    /// receiving side is shut: then `shut()`, std's outcome there.
    pub(crate) fn until_receive_shut<'a, R>(
        &'a self,
        mut op: impl FnMut(&T) -> io::Result<R> + 'a,
        shut: impl Fn() -> io::Result<R> + 'a,
    ) -> impl FnMut(&T) -> io::Result<R> + 'a {
        let mut waited = false;
        move |s| match op(s) {
            Err(e)
                if e.kind() == io::ErrorKind::WouldBlock
                    && !self.is_nonblocking()
                    && self.receive_shut(waited) =>
            {
                shut()
            }
            result => {
                waited = true;
                result
            }
        }
    }

    /// Whether the socket's receiving side is shut, for an operation that
    /// just failed with `WouldBlock` where std's blocking one would return
    /// at once ([`receive_with`](Self::receive_with), a Unix listener's
    /// accept). Known for good once seen (a shutdown is never undone), so
    /// that operation fails as std's at once from then on, though the
    /// readiness edge that announced the shutdown was consumed; until then
    /// asked of poll ([`poll_receive_shut`]) after a wait (`waited`) only,
    /// so that a receive that waits pays nothing for it: the shutdown
    /// itself is an edge, which ends the wait.
    pub(crate) fn receive_shut(&self, waited: bool) -> bool {
        let seen = &self.settings.receive_shut;
        if seen.load(Ordering::Acquire) {
            return true;
        }
        if waited && poll_receive_shut(self.get_ref()) {
            seen.store(true, Ordering::Relaxed);
            return true;
        }
        false
    }

    /// Notes that a `shutdown` through this socket's own handles is about
    /// to shut its receiving side: from then on
    /// [`receive_shut`](Self::receive_shut) says so at once, without a
    /// poll. Called before the syscall, so that a receiver it wakes sees it.
    pub(crate) fn note_receive_shut(&self) {
        self.settings.receive_shut.store(true, Ordering::Release);
    }

    /// A listener's `accept` through [`read_with`](Self::read_with); after
    /// an error the other greenlets run before it is returned
    /// ([`crate::accept::after_error`]), but for `WouldBlock`: in
    /// non-blocking mode it returns at once, as any socket's does
    /// ([`user_would_block`]).
    pub(crate) fn accept_with<R>(&self, op: impl FnMut(&T) -> io::Result<R>) -> io::Result<R> {
        let accepted = self.read_with(op);
        if let Err(e) = &accepted {
            crate::accept::after_error(e);
        }
        accepted
    }

    /// Runs `op` until it does not fail with `WouldBlock`, waiting to write
    /// in between, within the write timeout.
    pub(crate) fn write_with<R>(&self, op: impl FnMut(&T) -> io::Result<R>) -> io::Result<R> {
        let timeout = load(&self.settings.write_timeout);
        self.retry(Interest::Write, timeout, op)
    }

    /// std's blocking `write` of a stream socket, which the kernel ends
    /// only once all `len` bytes are queued: `op(socket, sent)` sends what
    /// follows the first `sent` bytes, and is called again (waiting for
    /// room in between) until all are sent. As the kernel's, a write that
    /// got some bytes out and then fails or reaches its write timeout
    /// returns their count; in non-blocking mode one send is all. A write
    /// that goes out whole in one send is one syscall.
    ///
    /// The kernel's write that returns a count leaves the socket's pending
    /// error, if it met one, for the next call; a send of this loop takes
    /// it, so it is kept ([`Settings::error`]) and returned by the next
    /// call that would fail or return 0 (this write too, if it would).
    #[inline]
    pub(crate) fn write_stream(
        &self,
        len: usize,
        mut op: impl FnMut(&T, usize) -> io::Result<usize>,
    ) -> io::Result<usize> {
        let timeout = load(&self.settings.write_timeout);
        // One clock for the whole write, as the kernel's timeout is one
        // budget for all its waits.
        let mut deadline = None;
        let mut sent = 0;
        loop {
            match self.retry_from(
                Interest::Write,
                timeout,
                &mut deadline,
                |s| op(s, sent),
                true,
            ) {
                Ok(0) => return self.or_kept_error(Ok(sent)),
                Ok(n) => sent += n,
                Err(e) if sent > 0 => {
                    self.keep_error(&e);
                    return Ok(sent);
                }
                Err(e) => return self.or_kept_error(Err(e)),
            }
            if sent >= len || self.settings.nonblocking.load(Ordering::Relaxed) {
                return Ok(sent);
            }
        }
    }

    /// After a write that sent some bytes failed with `e`: keeps `e` for
    /// the next call ([`Settings::error`]) if it is one the send took from
    /// the socket's pending error (a reset, an unreachable host, a
    /// keepalive's timeout…), which the kernel's write would have left
    /// there. Others are not the socket's to report again: `EAGAIN` (the
    /// write timeout), a want of memory, or an error of the wait itself.
    ///
    /// After `EPIPE` the socket's pending error is dropped: the kernel's
    /// own write takes it as it waits for room, before it sees the peer
    /// gone (a Unix stream whose peer closed with bytes unread: std's next
    /// read sees end of file, not `ECONNRESET`). TCP reports a pending
    /// error before `EPIPE`, so there is none to drop.
    #[cold]
    fn keep_error(&self, e: &io::Error) {
        match e.raw_os_error() {
            Some(libc::EPIPE) => {
                let _ = socket2::SockRef::from(self.get_ref()).take_error();
            }
            Some(
                code @ (libc::ECONNRESET
                | libc::ECONNREFUSED
                | libc::ECONNABORTED
                | libc::ETIMEDOUT
                | libc::EHOSTUNREACH
                | libc::EHOSTDOWN
                | libc::ENETUNREACH
                | libc::ENETDOWN
                | libc::EPROTO),
            ) => self.settings.error.store(code, Ordering::Relaxed),
            _ => {}
        }
    }

    /// `result`, the end of a read or write of a stream socket, unless it
    /// is an error or 0 and a write kept the socket's pending error for the
    /// next call ([`Settings::error`]): then that error, once, as the
    /// kernel reports a pending error before an end of file or another
    /// error (and after queued bytes). Only a relaxed load unless a write
    /// kept one.
    #[inline]
    pub(crate) fn or_kept_error(&self, result: io::Result<usize>) -> io::Result<usize> {
        match result {
            Ok(n) if n > 0 => result,
            _ => self.take_kept_error().map_or(result, Err),
        }
    }

    /// std's `take_error` for a stream: the socket's pending error a write
    /// kept ([`Settings::error`]) first, else the kernel's.
    pub(crate) fn take_error(&self) -> io::Result<Option<io::Error>> {
        match self.take_kept_error() {
            Some(e) => Ok(Some(e)),
            None => socket2::SockRef::from(self.get_ref()).take_error(),
        }
    }

    /// The socket's pending error a write kept ([`Settings::error`]), taken.
    #[inline]
    fn take_kept_error(&self) -> Option<io::Error> {
        let error = &self.settings.error;
        if error.load(Ordering::Relaxed) == 0 {
            return None;
        }
        match error.swap(0, Ordering::Relaxed) {
            0 => None,
            code => Some(io::Error::from_raw_os_error(code)),
        }
    }

    /// THE retry loop: try, on `WouldBlock` wait for `interest` until the
    /// deadline, try again. A timeout ends with the error std reports on
    /// Unix for an expired socket timeout (`EAGAIN`, kind `WouldBlock`).
    pub(crate) fn retry<R>(
        &self,
        interest: Interest,
        timeout: Option<Duration>,
        op: impl FnMut(&T) -> io::Result<R>,
    ) -> io::Result<R> {
        self.retry_from(interest, timeout, &mut None, op, true)
    }

    /// [`retry`](Self::retry), starting with a wait unless `try_first`;
    /// `deadline` is set at the first wait (`timeout` from then), and kept
    /// by a caller that retries several operations under one timeout.
    #[inline]
    fn retry_from<R>(
        &self,
        interest: Interest,
        timeout: Option<Duration>,
        deadline: &mut Option<Instant>,
        mut op: impl FnMut(&T) -> io::Result<R>,
        try_first: bool,
    ) -> io::Result<R> {
        let mut try_now = try_first;
        let mut recheck = Recheck::FIRST;
        loop {
            if try_now {
                match op(self.get_ref()) {
                    Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
                    result => return result,
                }
            }
            try_now = true;
            if self.settings.nonblocking.load(Ordering::Relaxed) {
                return Err(user_would_block());
            }
            // The clock starts at the first wait, as a blocking syscall's
            // timeout starts when it blocks.
            if deadline.is_none() {
                *deadline = timeout.and_then(|t| Instant::now().checked_add(t));
            } else if deadline.is_some_and(|at| Instant::now() >= at) {
                // A wait may return at once (a remembered readiness edge)
                // while the operation keeps failing: the deadline still
                // holds.
                return Err(io::Error::from_raw_os_error(libc::EAGAIN));
            }
            let until = match interest {
                Interest::Write if T::SEND_SHUTDOWN_UNANNOUNCED => recheck.until(*deadline),
                _ => *deadline,
            };
            match self.wait(interest, until) {
                // Not a recheck's end (the operation is tried again then).
                Err(e) if e.kind() == io::ErrorKind::TimedOut && until == *deadline => {
                    return Err(io::Error::from_raw_os_error(libc::EAGAIN));
                }
                Err(e) if e.kind() == io::ErrorKind::TimedOut => {}
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

    /// std's `set_read_timeout`: `set` is the std type's own (so the kernel
    /// gets what std gives it, and a zero is std's own error), then this
    /// keeps what the kernel kept (std's getter reads it back: whole
    /// jiffies, and none for a timeout too long to keep), so the getter and
    /// the wait match std's.
    pub(crate) fn set_read_timeout(
        &self,
        dur: Option<Duration>,
        set: fn(&T, Option<Duration>) -> io::Result<()>,
    ) -> io::Result<()> {
        set(self.get_ref(), dur)?;
        let kept = socket2::SockRef::from(self.get_ref()).read_timeout()?;
        store(&self.settings.read_timeout, kept)
    }

    /// std's `set_write_timeout`, as [`set_read_timeout`](Self::set_read_timeout).
    pub(crate) fn set_write_timeout(
        &self,
        dur: Option<Duration>,
        set: fn(&T, Option<Duration>) -> io::Result<()>,
    ) -> io::Result<()> {
        set(self.get_ref(), dur)?;
        let kept = socket2::SockRef::from(self.get_ref()).write_timeout()?;
        store(&self.settings.write_timeout, kept)
    }

    pub(crate) fn read_timeout(&self) -> Option<Duration> {
        load(&self.settings.read_timeout)
    }

    pub(crate) fn write_timeout(&self) -> Option<Duration> {
        load(&self.settings.write_timeout)
    }

    /// std's `set_nonblocking`: sets the kernel's flag (std's state, which
    /// every handle of the socket sees), and decides whether `WouldBlock`
    /// reaches the caller of a green operation. A listener stays
    /// non-blocking in the kernel while green owns it.
    pub(crate) fn set_nonblocking(&self, nonblocking: bool) -> io::Result<()> {
        if !self.is_listener() {
            socket2::SockRef::from(self.get_ref()).set_nonblocking(nonblocking)?;
        }
        self.settings
            .nonblocking
            .store(nonblocking, Ordering::Relaxed);
        Ok(())
    }

    /// Whether the user asked for non-blocking mode.
    pub(crate) fn is_nonblocking(&self) -> bool {
        self.settings.nonblocking.load(Ordering::Relaxed)
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

impl<T: Socket> AsFd for Source<T> {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.get_ref().as_fd()
    }
}

impl<T: Socket> AsRawFd for Source<T> {
    fn as_raw_fd(&self) -> RawFd {
        self.get_ref().as_fd().as_raw_fd()
    }
}

/// How long a write waiting for room on a socket whose send side may be
/// shut without a readiness event
/// ([`Socket::SEND_SHUTDOWN_UNANNOUNCED`]) waits before it tries again: 16
/// ms, doubling up to 128 ms. So such a shutdown ends the write within
/// about 128 ms (std's at once), a writer that waits long on a slow reader
/// wakes about eight times a second, and one whose reader makes room
/// within 16 ms (the readiness event ends its wait) never does.
struct Recheck(Duration);

impl Recheck {
    const FIRST: Recheck = Recheck(Duration::from_millis(16));
    const MAX: Duration = Duration::from_millis(128);

    /// The end of the next wait, no later than `deadline`.
    fn until(&mut self, deadline: Option<Instant>) -> Option<Instant> {
        let next = Instant::now().checked_add(self.0);
        self.0 = (self.0 * 2).min(Recheck::MAX);
        match (next, deadline) {
            (Some(next), Some(at)) if at <= next => Some(at),
            (Some(next), _) => Some(next),
            (None, at) => at,
        }
    }
}

/// Whether the receiving side of socket `fd` is shut (`shutdown(2)`
/// through any handle), as poll reports it (`POLLRDHUP`): where the
/// kernel's blocking receive or accept then returns at once (a datagram
/// socket's 0, a Unix listener's `EINVAL`), its non-blocking one keeps
/// failing with `EAGAIN`. For sockets with no stream peer, whose `RDHUP`
/// only `shutdown` sets; one poll that does not wait. See
/// [`Source::receive_shut`].
#[cold]
fn poll_receive_shut(fd: impl AsFd) -> bool {
    let mut pollfd = libc::pollfd {
        fd: fd.as_fd().as_raw_fd(),
        events: libc::POLLRDHUP,
        revents: 0,
    };
    // SAFETY: `pollfd` is one valid pollfd for the call, which does not
    // wait.
    let n = unsafe { libc::poll(&mut pollfd, 1, 0) };
    n == 1 && pollfd.revents & libc::POLLRDHUP != 0
}

/// The `WouldBlock` of a socket the user set non-blocking: the kernel's
/// (`EAGAIN`), as std's. Returned at once, without a switch: as with std
/// and gevent, a non-blocking call never lets other greenlets run, so a
/// greenlet may hold a borrow across it (a loop that retries on it spins
/// the hub: a known trap).
#[cold]
fn user_would_block() -> io::Error {
    io::Error::from_raw_os_error(libc::EAGAIN)
}

/// An error like std's for a zero timeout (for `store`, which only ever
/// gets what the kernel kept, never zero).
fn zero_timeout() -> io::Error {
    io::Error::new(
        io::ErrorKind::InvalidInput,
        "cannot set a 0 duration timeout",
    )
}

/// std's rule for socket timeouts: `Some(0)` is an error.
fn store(cell: &AtomicU64, dur: Option<Duration>) -> io::Result<()> {
    let nanos = match dur {
        None => 0,
        Some(d) if d.is_zero() => return Err(zero_timeout()),
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
mod tests;
