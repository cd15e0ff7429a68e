//! IO readiness: the hub's [`Poller`] and its table of watched fds.
//!
//! Each fd is registered once, edge-triggered for both directions, the first
//! time a greenlet waits on it, and stays registered until
//! [`deregister`](crate::io::deregister) (which green-net calls before it
//! closes a socket). Every fd has its own list of reader and writer waiters,
//! so one greenlet can wait to read a socket while another waits to write it;
//! several waiters in one direction are all woken by an edge and re-check.
//!
//! An edge that arrives while nobody waits in its direction is remembered as a
//! *ready bit*; the next wait in that direction consumes the bit and returns
//! at once. A wait therefore never misses readiness that arrived before it,
//! at the cost of an occasional spurious return: callers retry their
//! operation and wait again on `WouldBlock`.

use std::collections::HashMap;
use std::io;
use std::num::NonZeroUsize;
use std::os::fd::{BorrowedFd, RawFd};
use std::rc::Rc;
use std::sync::Arc;
use std::time::Duration;

use polling::{Event, Events, PollMode, Poller};

use crate::greenlet::Core;

/// Which way a greenlet waits on an fd.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Direction {
    Read,
    Write,
}

#[derive(Default)]
struct FdState {
    readable: bool,
    writable: bool,
    readers: Vec<(Rc<Core>, u64)>,
    writers: Vec<(Rc<Core>, u64)>,
}

impl FdState {
    fn side(&mut self, dir: Direction) -> (&mut bool, &mut Vec<(Rc<Core>, u64)>) {
        match dir {
            Direction::Read => (&mut self.readable, &mut self.readers),
            Direction::Write => (&mut self.writable, &mut self.writers),
        }
    }
}

pub(crate) struct Io {
    poller: Arc<Poller>,
    events: Events,
    fds: HashMap<RawFd, FdState>,
    waiters: usize,
}

impl Io {
    pub(crate) fn new() -> io::Result<Self> {
        let poller = Poller::new()?;
        if !poller.supports_edge() {
            return Err(io::Error::new(
                io::ErrorKind::Unsupported,
                "green needs an edge-triggered poller (epoll or kqueue)",
            ));
        }
        Ok(Io {
            poller: Arc::new(poller),
            events: Events::with_capacity(NonZeroUsize::new(1024).expect("non-zero")),
            fds: HashMap::new(),
            waiters: 0,
        })
    }

    pub(crate) fn poller(&self) -> &Arc<Poller> {
        &self.poller
    }

    /// Greenlets waiting on fds right now.
    pub(crate) fn waiters(&self) -> usize {
        self.waiters
    }

    /// Whether any fd is registered (and so worth polling for).
    pub(crate) fn has_fds(&self) -> bool {
        !self.fds.is_empty()
    }

    /// Prepares `g` to wait on `fd`. Returns `Ok(false)` when a remembered
    /// edge means the caller need not park at all.
    pub(crate) fn add_waiter(
        &mut self,
        fd: RawFd,
        dir: Direction,
        g: &Rc<Core>,
        park_seq: u64,
    ) -> io::Result<bool> {
        if fd < 0 {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                format!("cannot wait on a negative file descriptor ({fd})"),
            ));
        }
        if !self.fds.contains_key(&fd) {
            self.register(fd)?;
            self.fds.insert(fd, FdState::default());
        }
        let state = self.fds.get_mut(&fd).expect("just inserted");
        let (ready, waiters) = state.side(dir);
        if std::mem::take(ready) {
            return Ok(false);
        }
        waiters.push((g.clone(), park_seq));
        self.waiters += 1;
        Ok(true)
    }

    fn register(&self, fd: RawFd) -> io::Result<()> {
        // SAFETY: polling requires the fd to be deleted from the poller
        // before it is closed. Our contract with callers (documented on
        // `crate::io::wait_readable`) is that they call `deregister` before
        // closing an fd they waited on; an fd closed without it is removed by
        // the kernel from the epoll set when its last duplicate closes, so the
        // worst outcome of a broken contract is a stale table entry, never
        // memory unsafety.
        let fd = unsafe { BorrowedFd::borrow_raw(fd) };
        // SAFETY: see above: deletion before close is the caller's contract.
        match unsafe {
            self.poller
                .add_with_mode(&fd, Event::all(key(fd_raw(&fd))), PollMode::Edge)
        } {
            Ok(()) => Ok(()),
            Err(e) if e.raw_os_error() == Some(libc::EEXIST) => {
                // Registered by a previous owner of this fd number that was
                // closed without `deregister`: take it over.
                self.poller
                    .modify_with_mode(fd, Event::all(key(fd_raw(&fd))), PollMode::Edge)
            }
            Err(e) => Err(e),
        }
    }

    /// Removes `g`'s waiter entry for `fd` (after it woke, for any reason).
    pub(crate) fn remove_waiter(&mut self, fd: RawFd, dir: Direction, g: &Rc<Core>) {
        if let Some(state) = self.fds.get_mut(&fd) {
            let (_, waiters) = state.side(dir);
            if let Some(i) = waiters.iter().position(|(w, _)| Rc::ptr_eq(w, g)) {
                waiters.swap_remove(i);
                self.waiters -= 1;
            }
        }
    }

    /// Forgets `fd` and removes it from the poller; returns the greenlets
    /// that were waiting on it, so they can be woken to see the fd gone.
    pub(crate) fn deregister(&mut self, fd: RawFd) -> Vec<(Rc<Core>, u64)> {
        let Some(mut state) = self.fds.remove(&fd) else {
            return Vec::new();
        };
        // SAFETY: the fd is still open: callers deregister before closing.
        let borrowed = unsafe { BorrowedFd::borrow_raw(fd) };
        // Fails harmlessly if the fd was already closed.
        let _ = self.poller.delete(borrowed);
        let mut woken = std::mem::take(&mut state.readers);
        woken.append(&mut state.writers);
        self.waiters -= woken.len();
        woken
    }

    /// Waits for IO events (at most `timeout`, forever when `None`) and
    /// passes every waiter that became ready to `wake`.
    pub(crate) fn poll(
        &mut self,
        timeout: Option<Duration>,
        mut wake: impl FnMut(Rc<Core>, u64),
    ) -> io::Result<()> {
        self.events.clear();
        self.poller.wait(&mut self.events, timeout)?;
        for ev in self.events.iter() {
            let Some(state) = self.fds.get_mut(&(ev.key as RawFd)) else {
                continue;
            };
            if ev.readable {
                if state.readers.is_empty() {
                    state.readable = true;
                }
                for (g, seq) in state.readers.drain(..) {
                    self.waiters -= 1;
                    wake(g, seq);
                }
            }
            if ev.writable {
                if state.writers.is_empty() {
                    state.writable = true;
                }
                for (g, seq) in state.writers.drain(..) {
                    self.waiters -= 1;
                    wake(g, seq);
                }
            }
        }
        Ok(())
    }

    /// Removes every registration (the hub is going away).
    pub(crate) fn clear(&mut self) {
        for fd in self.fds.keys().copied().collect::<Vec<_>>() {
            drop(self.deregister(fd));
        }
    }
}

fn fd_raw(fd: &BorrowedFd<'_>) -> RawFd {
    use std::os::fd::AsRawFd;
    fd.as_raw_fd()
}

fn key(fd: RawFd) -> usize {
    fd as usize
}
