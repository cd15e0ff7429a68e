//! IO readiness: the hub's [`Epoll`] and its table of watched fds, indexed
//! by fd number.
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
//!
//! # Drained fds
//!
//! A caller whose read has just emptied an fd's receive queue (a plain TCP
//! socket's read that came back short) may
//! [`note_drained`](Io::note_drained) it. The mark stays until a read-side
//! edge comes: data that arrives later makes one, whoever then takes the
//! ready bit (a peek, a user's own wait), so while the mark stands
//! ([`is_drained`](Io::is_drained)) a read would find nothing and the
//! caller may wait before it tries (one `recv` per request instead of two,
//! as tokio's and netty's servers make). What no later edge announces
//! turns the marks off for good (until the fd is re-armed): a read-side
//! hang-up or error (the end of file or the error is queued behind the
//! data) and urgent data (a TCP read stops short at its mark, data still
//! queued). Waits themselves are unchanged by all this. The limits are
//! `crate::io::note_drained`'s.
//!
//! # Numbers deregistered elsewhere
//!
//! `deregister` only reaches the hub of the thread that calls it, but a
//! socket waited on in one hub may be dropped (deregistered, then closed) on
//! another thread. The kernel forgets the closed file, the first hub's entry
//! stays, and once a new file gets the same number, a wait on it would find
//! the entry and never arm the poller for the new file. So every
//! `deregister`, on any thread, counts in [`DEREGISTERED`]; an entry records
//! the count it was armed at, and a wait that finds the count moved re-arms
//! the fd first (one `epoll_ctl`: `MOD`, or `ADD` if the old registration
//! died with its file) and drops the old file's ready bits. Other waits pay
//! an atomic load, no syscall.

use std::io;
use std::os::fd::RawFd;
use std::rc::Rc;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Arc;
use std::time::Duration;

use super::epoll::Epoll;
use super::waiters::{Waiter, Waiters};
use crate::greenlet::Core;

/// Events taken from the kernel per wait when no greenlet is ready, at
/// most; the kernel keeps the others ready for the next waits, in order.
///
/// Few enough that the sockets the kernel looks at to report them (its
/// `tcp_poll` of each) are still in cache when their greenlets read and
/// write them right after. With 1,024 a server at 1,000 connections and
/// more took all its connections' events in one wait, and the first of
/// them were out of cache again by the time their turn came. Measured (2
/// vCPU KVM guest, server and load pinned to a core each, four to six
/// rounds in turns): with 128 instead of 1,024, echo at 1,000 connections
/// made 8–9% more round trips from an external load (64 and 128 alike; 32:
/// 6%) and 4–5% in process (1,000 and 4,000 clients on the server's hub),
/// HTTP at 1,000 connections 6%; at 100 connections, where a wait took up
/// to 100 events anyway, 64 cost HTTP 1.3% in extra waits and 128
/// nothing; at 10,000, 2% more.
///
/// Two other ways were slower. Taking 1,024 and waking their greenlets 32
/// at a time (no extra waits): 1.5–2% below 1,024 woken at once, so what
/// must stay close to the greenlets' use is the kernel's look at their
/// sockets, not the wake. Polling, as tokio does, every 64 greenlets run
/// (batches of at most 64) and taking everything ready each time: the
/// kernel's ready list then stays short and its look at each socket finds
/// it in cache (the epoll time per event halved, to tokio's), but the
/// greenlets run about a thousand places later, by which time their
/// sockets are cold again: level in process, 3–6% fewer round trips from
/// an external load at 1,000 and 10,000 connections.
const EVENTS_PER_WAIT: usize = 128;

/// Events taken per wait while greenlets are ready, at most. The hub polls
/// then only every [`POLL_EVERY`](super::turn::POLL_EVERY) turns of its
/// loop (greenlets that keep yielding), so a wait takes more at once, for
/// IO not to fall behind.
const EVENTS_PER_BUSY_WAIT: usize = 1024;

/// Which way a greenlet waits on an fd.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Direction {
    Read,
    Write,
}

/// How many times each fd number was deregistered, on any thread, indexed by
/// the number modulo the table's length (see the module docs). Zeroed, so it
/// costs no memory until touched: a page per 1,024 numbers in use.
static DEREGISTERED: [AtomicU32; 1 << 16] = [const { AtomicU32::new(0) }; 1 << 16];

fn deregistered(fd: RawFd) -> &'static AtomicU32 {
    &DEREGISTERED[fd as usize % DEREGISTERED.len()]
}

/// Counts a `deregister` of `fd`, whichever thread calls it; the caller
/// closes the fd afterwards.
pub(crate) fn note_deregistered(fd: RawFd) {
    // Release, and Acquire in `add_waiter`: the close that follows, and the
    // reuse of the number it allows, come after this in the kernel's order;
    // a wait on the new file reads the count after obtaining the file.
    deregistered(fd).fetch_add(1, Ordering::Release);
}

#[derive(Default)]
struct FdState {
    /// The fd's count in [`DEREGISTERED`] when it was last armed.
    armed_at: u32,
    readable: bool,
    writable: bool,
    /// A read emptied the receive queue and no read-side edge came since
    /// (see the module docs).
    drained: bool,
    /// A hang-up, an error or urgent data was reported: a short read proves
    /// nothing any more (see the module docs).
    held_back: bool,
    readers: Waiters,
    writers: Waiters,
}

impl FdState {
    fn side(&mut self, dir: Direction) -> (&mut bool, &mut Waiters) {
        match dir {
            Direction::Read => (&mut self.readable, &mut self.readers),
            Direction::Write => (&mut self.writable, &mut self.writers),
        }
    }
}

pub(crate) struct Io {
    poller: Arc<Epoll>,
    events: Vec<libc::epoll_event>,
    /// Indexed by fd number: `Some` while the fd is registered.
    fds: Vec<Option<FdState>>,
    /// How many entries of `fds` are `Some`.
    registered: usize,
    waiters: usize,
}

impl Io {
    pub(crate) fn new() -> io::Result<Self> {
        Ok(Io {
            poller: Arc::new(Epoll::new()?),
            events: Vec::with_capacity(EVENTS_PER_BUSY_WAIT),
            fds: Vec::new(),
            registered: 0,
            waiters: 0,
        })
    }

    pub(crate) fn poller(&self) -> &Arc<Epoll> {
        &self.poller
    }

    fn entry(&mut self, fd: RawFd) -> Option<&mut FdState> {
        self.fds.get_mut(usize::try_from(fd).ok()?)?.as_mut()
    }

    /// Greenlets waiting on fds right now.
    pub(crate) fn waiters(&self) -> usize {
        self.waiters
    }

    /// Whether any fd is registered (and so worth polling for).
    pub(crate) fn has_fds(&self) -> bool {
        self.registered > 0
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
        // Read before arming: a deregister after this is seen next time.
        let count = deregistered(fd).load(Ordering::Acquire);
        let index = usize::try_from(fd).expect("checked above");
        if index >= self.fds.len() {
            self.fds.resize_with(index + 1, || None);
        }
        let slot = &mut self.fds[index];
        let state = match slot {
            Some(state) if state.armed_at == count => state,
            Some(state) => {
                // Deregistered elsewhere since it was armed: the entry may
                // stand for a closed file. Arm the file that has the number
                // now; what the entry remembered was the old file's.
                if !arm_or_always_ready(&self.poller, fd, true)? {
                    return Ok(false);
                }
                state.armed_at = count;
                state.readable = false;
                state.writable = false;
                state.drained = false;
                state.held_back = false;
                state
            }
            None => {
                if !arm_or_always_ready(&self.poller, fd, false)? {
                    return Ok(false);
                }
                self.registered += 1;
                slot.insert(FdState {
                    armed_at: count,
                    ..FdState::default()
                })
            }
        };
        let (ready, waiters) = state.side(dir);
        if std::mem::take(ready) {
            return Ok(false);
        }
        waiters.push((g.clone(), park_seq));
        self.waiters += 1;
        Ok(true)
    }

    /// `fd`'s entry, if it stands for the file that has the number now (not
    /// deregistered anywhere since it was armed).
    fn armed_entry(&mut self, fd: RawFd) -> Option<&mut FdState> {
        let count = deregistered(fd).load(Ordering::Acquire);
        self.entry(fd).filter(|state| state.armed_at == count)
    }

    /// Marks `fd` drained: a read has just emptied its receive queue (see
    /// the module docs). Nothing happens for an fd this hub has not armed.
    pub(crate) fn note_drained(&mut self, fd: RawFd) {
        if let Some(state) = self.armed_entry(fd) {
            state.drained = true;
        }
    }

    /// Whether `fd` is marked drained, with no read-side edge since and
    /// nothing held back: a read now would find nothing.
    pub(crate) fn is_drained(&mut self, fd: RawFd) -> bool {
        self.armed_entry(fd)
            .is_some_and(|state| state.drained && !state.held_back)
    }

    /// Removes `g`'s waiter entry for `fd` (after it woke, for any reason).
    pub(crate) fn remove_waiter(&mut self, fd: RawFd, dir: Direction, g: &Rc<Core>) {
        if let Some(state) = self.entry(fd) {
            let (_, waiters) = state.side(dir);
            if waiters.remove(g) {
                self.waiters -= 1;
            }
        }
    }

    /// Forgets `fd` and removes it from the poller ([`crate::io::deregister`]
    /// on this hub's thread); returns the greenlets that were waiting on it,
    /// so they can be woken to see the fd gone.
    pub(crate) fn deregister(&mut self, fd: RawFd) -> Vec<Waiter> {
        let taken = usize::try_from(fd)
            .ok()
            .and_then(|i| self.fds.get_mut(i))
            .and_then(Option::take);
        let Some(mut state) = taken else {
            return Vec::new();
        };
        self.registered -= 1;
        // Fails (harmlessly) only if the poller no longer has it: the entry
        // was stale (see the module docs).
        let _ = self.poller.delete(fd);
        let woken: Vec<Waiter> = state.readers.take().chain(state.writers.take()).collect();
        self.waiters -= woken.len();
        woken
    }

    /// Waits for IO events (at most `timeout`, forever when `None`) and
    /// passes every waiter that became ready to `wake`; `busy` says that
    /// greenlets are ready (see [`EVENTS_PER_BUSY_WAIT`]).
    pub(crate) fn poll(
        &mut self,
        timeout: Option<Duration>,
        busy: bool,
        mut wake: impl FnMut(Rc<Core>, u64),
    ) -> io::Result<()> {
        let max = if busy {
            EVENTS_PER_BUSY_WAIT
        } else {
            EVENTS_PER_WAIT
        };
        let Io {
            poller,
            events,
            fds,
            waiters,
            ..
        } = self;
        poller.wait(events, max, timeout, |ev| {
            let entry = usize::try_from(ev.fd).ok().and_then(|i| fds.get_mut(i));
            let Some(Some(state)) = entry else {
                return;
            };
            // Urgent data alone is not `readable`, but it turns the marks
            // off for good.
            state.drained &= !ev.readable;
            state.held_back |= ev.held_back;
            for (dir, ready) in [
                (Direction::Read, ev.readable),
                (Direction::Write, ev.writable),
            ] {
                if !ready {
                    continue;
                }
                let (edge, list) = state.side(dir);
                if list.is_empty() {
                    *edge = true; // nobody waits: remembered for the next wait
                }
                for (g, seq) in list.take() {
                    *waiters -= 1;
                    wake(g, seq);
                }
            }
        })
    }

    /// Forgets every fd (the hub is going away), without a syscall.
    ///
    /// The registrations are left to the poller: nothing waits on it any
    /// more, the kernel drops a file from the epoll set by itself when the
    /// file closes, and the whole set goes when the poller closes (with the
    /// hub, or with the last handle of another thread that could wake it).
    /// Deleting them fd by fd would have to borrow numbers that may be
    /// closed by now, or reused by another file.
    pub(crate) fn clear(&mut self) {
        self.fds.clear();
        self.registered = 0;
        self.waiters = 0;
    }
}

/// [`arm`]s `fd`; `false` if epoll refuses it with `EPERM`, as it does a
/// regular file or a device such as `/dev/null`. `poll(2)` reports those
/// always ready, so a wait on one returns at once, as it does outside `run`
/// (and in gevent's loop); it stays out of the table and tries again at
/// its next wait.
fn arm_or_always_ready(poller: &Epoll, fd: RawFd, known: bool) -> io::Result<bool> {
    match arm(poller, fd, known) {
        Ok(()) => Ok(true),
        Err(e) if e.raw_os_error() == Some(libc::EPERM) => Ok(false),
        Err(e) => Err(e),
    }
}

/// Registers `fd` with `poller`, edge-triggered for both directions, or
/// re-arms it: `known` says whether the poller probably has it already.
///
/// Adding fails with `EEXIST` when the poller watches the file under that
/// number already (it was never deregistered here), modifying with `ENOENT`
/// when it does not (the registration died with a closed file, or belongs to
/// another file); each falls back on the other.
///
/// Callers deregister an fd before closing it (the contract documented in
/// `crate::io`). An fd closed without it is dropped from the epoll set by
/// the kernel when its last duplicate closes, but its table entry stays and
/// is taken for armed: a wait on a new file that reuses the number is never
/// armed, until a `deregister` of the number (on any thread) clears it.
/// Finding out at each wait would take a syscall per wait.
fn arm(poller: &Epoll, fd: RawFd, known: bool) -> io::Result<()> {
    if known {
        match poller.modify(fd) {
            Err(e) if e.raw_os_error() == Some(libc::ENOENT) => poller.add(fd),
            result => result,
        }
    } else {
        match poller.add(fd) {
            Err(e) if e.raw_os_error() == Some(libc::EEXIST) => poller.modify(fd),
            result => result,
        }
    }
}
