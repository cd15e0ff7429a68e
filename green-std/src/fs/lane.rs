//! A file's lane: its operations in program order, even when a greenlet
//! is unwound (killed, or a timeout fired) while its job runs on, and what
//! such a job *cut short* leaves for the operations after it.
//!
//! A job cut short runs to its end on the pool. Until then, every later
//! operation on the file (or a clone: they share one lane, as they share
//! one cursor) waits for it, parking inside `run`, blocking outside. On a
//! file without a cursor (a pipe, FIFO, socket, tty), reads and the rest
//! are two independent streams, as with std's file on two threads: an
//! operation waits only for the jobs of its own stream (see [`Stream`]),
//! so a write goes through while a read cut short waits for data, and a
//! read drains what a write cut short waits to add. Conversions into
//! std's types wait for every job. When it ends, a job cut short leaves
//! what the program never saw:
//!
//! - a read, the bytes it read (with the bytes its call had already taken,
//!   for a `read_exact` in several jobs): the next reads return them first.
//!   The next operation of any other kind first seeks back over those not
//!   yet read, on its job, and drops them, so the cursor is std's (just
//!   after the bytes handed out) and they are read again from the file;
//!   where the file has no cursor, they stay for the reads.
//! - a write, its error: the next write, flush or sync returns it.
//!
//! The greenlet and its job part at an unknown moment: the job may end
//! before the unwind (its result then dies with the greenlet's wait) or
//! after. Both sides hold the job's ticket; each records its half of the
//! parting under it, and whichever comes second hands the leftovers on.
//! Until the job's half is in, the lane is busy and operations wait.
//!
//! Whether the file has a cursor is asked once, when the lane first
//! records a greenlet unwound (`greenlet_gone`, on the hub's thread,
//! before anything is pending), from the file's type, without waiting:
//! see `sys::fd::has_cursor`.
//!
//! The common path touches none of it: an operation reads one flag, a job
//! takes a ticket (an uncontended atomic add), and the result's taker
//! disarms both halves without a lock.

use std::collections::VecDeque;
use std::io::{self, Seek, SeekFrom};
use std::mem;
use std::os::fd::AsFd;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, OnceLock, PoisonError};

use green::event::Event;

use crate::sys::fd::has_cursor;

/// Which stream an operation (or its job) belongs to: what it waits for on
/// a file without a cursor. On a file with one, every operation waits for
/// every job cut short: they all move or depend on the one cursor.
///
/// Without a cursor, reads and writes are independent, as with std's file
/// on two threads: a write goes through while a read waits for data (which
/// the write may be the one to bring), and a read drains what a blocked
/// write waits to add. Only the order within a stream matters: reads hand
/// on their bytes in order, writes must not swap.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(super) enum Stream {
    /// `read`, `read_exact`, `read_to_end`…: without a cursor, they wait
    /// for reads only.
    Reads,
    /// Everything else that acts on the file (writes, flushes, syncs,
    /// `set_len`, seeks, locks, metadata…): without a cursor, it waits for
    /// these only, not for reads.
    Rest,
    /// Positioned reads and writes: without a cursor they fail at once
    /// (`ESPIPE`, as std's do), so there they wait for nothing and take
    /// nothing (neither bytes nor a write's error), and only conversions
    /// wait for them.
    Apart,
    /// Conversions into std's types: they wait for everything.
    All,
}

impl Stream {
    /// Whether an operation of this stream waits for a job of `job`'s.
    /// (`Apart` without a cursor waits for nothing: `settle` returns before
    /// it asks.)
    fn waits_for(self, job: Stream, cursor: bool) -> bool {
        cursor || self == Stream::All || self == job
    }
}

/// What a job cut short leaves: bytes read, or a write's error.
#[derive(Default)]
pub(super) struct Left {
    pub(super) bytes: Vec<u8>,
    pub(super) error: Option<io::Error>,
}

impl Left {
    /// Nothing: what most jobs leave.
    pub(super) fn nothing<R>(_: R) -> Left {
        Left::default()
    }

    /// The bytes a read job returns.
    pub(super) fn bytes(bytes: Vec<u8>) -> Left {
        Left { bytes, error: None }
    }

    /// A write's error, if it failed (an interrupted write is not one).
    pub(super) fn error<T>(result: io::Result<T>) -> Left {
        Left {
            bytes: Vec::new(),
            error: result
                .err()
                .filter(|e| e.kind() != io::ErrorKind::Interrupted),
        }
    }
}

/// The order of one open file's operations; shared by its clones.
pub(super) struct Lane {
    /// Whether `state` holds anything. Set and cleared under its lock; the
    /// common path reads only this.
    busy: AtomicBool,
    /// The next job's ticket.
    tickets: AtomicU64,
    /// Whether the file has a cursor: known from the first greenlet
    /// unwound, before anything is pending.
    cursor: OnceLock<bool>,
    state: Mutex<State>,
}

#[derive(Default)]
struct State {
    /// Jobs cut short whose two halves are not both in yet.
    parting: Vec<Parting>,
    /// Set (and dropped) when a job cut short ends; exists while one runs.
    ended: Option<Arc<Event>>,
    /// Bytes read by jobs cut short and not handed out yet.
    bytes: VecDeque<u8>,
    /// The error of a write cut short, not reported yet.
    error: Option<io::Error>,
}

/// One half of a parting, waiting for the other.
enum Parting {
    /// The greenlet was unwound, with the bytes its call had taken; the
    /// job, of this stream, still runs.
    Gone(u64, Stream, Vec<u8>),
    /// The job ended, leaving this, while its greenlet still waited (it is
    /// being unwound: its half comes next).
    Ended(u64, Left),
}

impl Parting {
    fn ticket(&self) -> u64 {
        match self {
            Parting::Gone(ticket, ..) | Parting::Ended(ticket, _) => *ticket,
        }
    }
}

/// What the operation that waited finds (see [`Lane::settle`]).
pub(super) struct Found<'a> {
    state: MutexGuard<'a, State>,
    cursor: bool,
}

impl Found<'_> {
    /// Takes the error of a write cut short.
    pub(super) fn error(&mut self) -> Option<io::Error> {
        self.state.error.take()
    }

    /// The bytes that reads cut short left, first in line for the next reads.
    pub(super) fn bytes(&mut self) -> &mut VecDeque<u8> {
        &mut self.state.bytes
    }

    /// Whether bytes are left to seek back over: never without a cursor,
    /// where they stay for the reads.
    pub(super) fn has_bytes(&self) -> bool {
        self.cursor && !self.state.bytes.is_empty()
    }
}

impl Lane {
    pub(super) fn new() -> Arc<Lane> {
        Arc::new(Lane {
            busy: AtomicBool::new(false),
            tickets: AtomicU64::new(0),
            cursor: OnceLock::new(),
            state: Mutex::new(State::default()),
        })
    }

    /// Whether anything is pending; a hint for conversions.
    pub(super) fn is_busy(&self) -> bool {
        self.busy.load(Ordering::Acquire)
    }

    /// Waits until no job cut short that an operation of `stream` waits
    /// for runs any more (parking inside `run`, blocking outside), then
    /// calls `f` with what they left. `None`, at the cost of one atomic
    /// load, when nothing is pending, and for positioned IO on a file
    /// without a cursor.
    pub(super) fn settle<T>(
        &self,
        stream: Stream,
        f: impl FnOnce(&mut Found<'_>) -> T,
    ) -> Option<T> {
        if !self.is_busy() {
            return None;
        }
        // Known once anything is pending: the first greenlet unwound asked.
        // Unknown only between a job's half and its greenlet's, as seen from
        // another hub's thread: then everything waits, as with a cursor.
        let cursor = self.cursor.get().copied().unwrap_or(true);
        if stream == Stream::Apart && !cursor {
            return None;
        }
        loop {
            let state = self.lock();
            if state.runs(stream, cursor) {
                let ended = state.ended.clone().expect("a job cut short runs");
                drop(state);
                ended.wait();
                continue;
            }
            let mut found = Found { state, cursor };
            let out = f(&mut found);
            self.update(&found.state);
            return Some(out);
        }
    }

    /// The ticket of a new job.
    pub(super) fn ticket(&self) -> u64 {
        self.tickets.fetch_add(1, Ordering::Relaxed)
    }

    /// Seeks `file` back over the bytes left, and drops them, if it can
    /// (run on a job, or on the calling thread outside `run`); they stay
    /// for the reads where it cannot.
    pub(super) fn seek_back(&self, file: &std::fs::File) {
        let bytes = mem::take(&mut self.lock().bytes);
        let Ok(back) = i64::try_from(bytes.len()) else {
            return self.put_back(bytes);
        };
        if back > 0 && (&*file).seek(SeekFrom::Current(-back)).is_err() {
            self.put_back(bytes);
        } else {
            self.update(&self.lock());
        }
    }

    /// Puts bytes taken back in front of any left meanwhile.
    fn put_back(&self, mut bytes: VecDeque<u8>) {
        let mut state = self.lock();
        bytes.append(&mut state.bytes);
        state.bytes = bytes;
        self.update(&state);
    }

    /// The greenlet's half: it was unwound while job `ticket`, of
    /// `stream`, ran on `file`, after its call took `taken` (bytes it read
    /// and can no longer hand out). The first one asks whether the file
    /// has a cursor, without waiting (it is on the hub's thread).
    pub(super) fn greenlet_gone(
        &self,
        file: &std::fs::File,
        ticket: u64,
        stream: Stream,
        taken: &[u8],
    ) {
        self.cursor.get_or_init(|| has_cursor(file.as_fd()));
        let mut state = self.lock();
        match state.parting.iter().position(|p| p.ticket() == ticket) {
            Some(i) => {
                let Parting::Ended(_, left) = state.parting.swap_remove(i) else {
                    unreachable!("a greenlet is unwound once");
                };
                state.hand_on(taken.to_vec(), left);
            }
            None => {
                state
                    .parting
                    .push(Parting::Gone(ticket, stream, taken.to_vec()));
                state.ended.get_or_insert_with(|| Arc::new(Event::new()));
            }
        }
        self.update(&state);
    }

    /// The job's half: job `ticket` ended and its greenlet will not take
    /// its result, which leaves `left`.
    pub(super) fn job_ended(&self, ticket: u64, left: Left) {
        let mut state = self.lock();
        match state.parting.iter().position(|p| p.ticket() == ticket) {
            Some(i) => {
                let Parting::Gone(_, _, taken) = state.parting.swap_remove(i) else {
                    unreachable!("a job ends once");
                };
                state.hand_on(taken, left);
                // Wake every operation waiting: each looks again whether a
                // job it waits for still runs (and waits on a new event).
                if let Some(ended) = state.ended.take() {
                    ended.set();
                }
                let running = state.parting.iter().any(|p| matches!(p, Parting::Gone(..)));
                if running {
                    state.ended = Some(Arc::new(Event::new()));
                }
            }
            None => state.parting.push(Parting::Ended(ticket, left)),
        }
        self.update(&state);
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Sets `busy` from the state, under its lock.
    fn update(&self, state: &State) {
        let busy = !state.parting.is_empty() || !state.bytes.is_empty() || state.error.is_some();
        self.busy.store(busy, Ordering::Release);
    }
}

impl State {
    /// Whether a job cut short that an operation of `stream` waits for
    /// still runs.
    fn runs(&self, stream: Stream, cursor: bool) -> bool {
        self.parting.iter().any(|p| match p {
            Parting::Gone(_, job, _) => stream.waits_for(*job, cursor),
            Parting::Ended(..) => false,
        })
    }

    /// Hands on what a parted job left: the bytes its call took, then
    /// those it read, and its error unless one is already waiting.
    fn hand_on(&mut self, taken: Vec<u8>, left: Left) {
        if self.bytes.is_empty() && taken.is_empty() {
            self.bytes = left.bytes.into(); // moved, not copied
        } else {
            self.bytes.extend(taken);
            self.bytes.extend(left.bytes);
        }
        if self.error.is_none() {
            self.error = left.error;
        }
    }
}
