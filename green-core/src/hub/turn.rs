//! One turn of the hub loop after another (the order is in the [`hub`](super)
//! module docs): run the ready greenlets, fire timers, poll, detect deadlock.

use std::fmt::Write as _;
use std::rc::Rc;
use std::time::{Duration, Instant};

use super::{is_live, is_live_timeout, Hub};
use crate::coroutine::Coroutine;
use crate::greenlet::{Core, State, Wake};

/// With greenlets ready, poll for IO only every this many loop iterations.
pub(super) const POLL_EVERY: u32 = 61;

/// When everything waits on wake-ups other threads might send, re-check for
/// a deadlock this often.
const RECHECK_BLOCKED: Duration = Duration::from_millis(500);

impl Hub {
    /// Runs greenlets until the main greenlet has finished.
    ///
    /// A greenlet that overflows its stack aborts the process, with a
    /// message naming it ([`overflowed`](Self::overflowed)).
    pub(crate) fn run_until_main_finished(&self) {
        let main = self.main.borrow().clone().expect("main greenlet set");
        while !main.is_finished() {
            self.drain_remote();
            self.start_batch();
            // Usually one round: the greenlets switch from one to the next
            // themselves (`suspend_running`), also into later batches, and
            // the last one comes back here.
            while let Some(g) = self.next_ready() {
                self.prefetch_upcoming(std::ptr::null());
                self.switch_to(g);
            }
            if main.is_finished() {
                break;
            }
            self.fire_timers();
            self.poll_or_block(&main);
        }
    }

    /// `g`'s stack overflowed: reports it and aborts. Allocates nothing and
    /// takes no lock (the message is formatted on the stack and written
    /// with one `write`): the overflow may have struck inside the
    /// allocator, whose lock the abandoned frames then hold forever.
    #[cold]
    pub(super) fn overflowed(&self, g: &Core) -> ! {
        let bytes =
            g.co.try_borrow()
                .ok()
                .and_then(|co| co.as_ref().map(Coroutine::stack_bytes))
                .unwrap_or(0);
        let mut msg = StackMessage::new();
        let _ = writeln!(
            msg,
            "green: greenlet {g:?} overflowed its stack of {bytes} bytes and hit the guard \
             page; aborting. Give it a larger stack with green::Builder::stack_size, or raise \
             the default with green::set_default_stack_size or the GREEN_STACK_SIZE \
             environment variable."
        );
        msg.write_to_stderr();
        std::process::abort();
    }

    fn drain_remote(&self) {
        if !self.remote.has_pending() {
            return;
        }
        let mut inbox = std::mem::take(&mut *self.inbox.borrow_mut());
        let jobs_done = self.remote.drain(&mut inbox);
        self.jobs_out.set(self.jobs_out.get() - jobs_done);
        for (slot, id, kind) in inbox.drain(..) {
            self.unpark_slot(slot, id, kind);
        }
        *self.inbox.borrow_mut() = inbox;
    }

    /// Whether a timer or a timeout is armed (live or not yet reaped).
    #[inline]
    fn timers_pending(&self) -> bool {
        self.timers.borrow().len() != 0 || self.deadlines.borrow().len() != 0
    }

    /// Whether loop iteration number `iterations`, with greenlets ready,
    /// polls for IO (see [`POLL_EVERY`]).
    #[inline]
    fn poll_due(&self, iterations: u32) -> bool {
        iterations.is_multiple_of(POLL_EVERY) && self.io.borrow().has_fds()
    }

    fn fire_timers(&self) {
        if !self.timers_pending() {
            return;
        }
        let now = Instant::now();
        loop {
            let next = self.timers.borrow_mut().pop_expired(now, is_live);
            let Some((g, seq)) = next else { break };
            g.timer_armed.set(false);
            self.wake(&g, seq, Wake::TimedOut);
        }
        loop {
            let next = self
                .deadlines
                .borrow_mut()
                .pop_expired(now, is_live_timeout);
            let Some((g, id)) = next else { break };
            self.fire_timeout(&g, id);
        }
    }

    /// What the loop does between two batches, done by the greenlet that
    /// suspends at the end of one (see `switch`), when none of it needs the
    /// hub's own stack: the next batch starts. Returns `false` when the loop
    /// must take over: the main greenlet has finished, a timer or timeout is
    /// pending (the loop fires them), nothing is ready (the loop blocks or
    /// finds a deadlock), an IO poll is due, or another thread woke a
    /// greenlet.
    ///
    /// Firing due timers here as well was tried: the hub's turn could then
    /// be skipped with sleepers around too, but a million sleepers took 30 s
    /// instead of 22–24 s (cause not found; see issue 7's notes), and the
    /// timer heap's work would run on greenlet stacks.
    #[inline]
    pub(super) fn start_next_batch_here(&self) -> bool {
        if self.main_finished.get() || self.timers_pending() {
            return false;
        }
        let iterations = self.iterations.get().wrapping_add(1);
        if self.poll_due(iterations) || self.ready.borrow().is_empty() || self.remote.has_pending()
        {
            return false;
        }
        // What `fire_timers`, `poll_or_block` and `drain_remote` would have
        // done: nothing but count the iteration.
        self.iterations.set(iterations);
        self.start_batch();
        true
    }

    /// Makes every ready greenlet the batch to run, and tells the blocking
    /// detector, if it watches, that the hub got this far.
    #[inline]
    fn start_batch(&self) {
        self.ready.borrow_mut().start_batch();
        if let Some(watch) = &self.watch {
            watch.progressed();
        }
    }

    fn poll_or_block(&self, main: &Rc<Core>) {
        let iterations = self.iterations.get().wrapping_add(1);
        self.iterations.set(iterations);
        let wakeups = self.remote.has_pending();
        let busy = !self.ready.borrow().is_empty();
        let timeout = if busy {
            if !self.poll_due(iterations) {
                return;
            }
            Some(Duration::ZERO)
        } else if wakeups {
            Some(Duration::ZERO)
        } else if let Some(at) = self.next_deadline() {
            Some(at.saturating_duration_since(Instant::now()))
        } else if self.io.borrow().waiters() > 0 || self.jobs_out.get() > 0 {
            // A job out has not delivered its end yet, and it notifies the
            // poller when it does (see `remote`).
            None
        } else if self.remote_waits.get() > 0 && !crate::deadlock::alone_in_process() {
            // Another thread might unpark one of them: wait for it, but look
            // again now and then, in case those threads go away.
            Some(RECHECK_BLOCKED)
        } else if self.remote.has_pending() {
            // A thread woke a greenlet and exited (or a pool worker finished
            // another hub's job and went idle) after `wakeups` was read: gone
            // from the count, its wake-up must be in the inbox now. Read in
            // this order (who could still act, then what they left),
            // nothing is missed. (Linux lowers a
            // process's thread count at a thread's exit under the lock
            // that /proc/self/stat reads it under, so the exited thread's
            // stores are visible once the count shows it gone; a worker
            // goes idle under the pool's mutex.)
            Some(Duration::ZERO)
        } else {
            if main.state.get() == State::Parked {
                self.make_ready(main, Wake::Deadlock);
            }
            return;
        };
        // Waiting here is the hub idle, not blocked (see `monitor`).
        let watch = self
            .watch
            .as_ref()
            .filter(|_| timeout != Some(Duration::ZERO));
        if let Some(watch) = watch {
            watch.waiting();
        }
        let result = self.io.borrow_mut().poll(timeout, busy, |g, seq| {
            self.wake(&g, seq, Wake::Unparked);
        });
        if let Some(watch) = watch {
            watch.woke();
        }
        if let Err(e) = result {
            panic!("green: the hub's poller failed: {e}");
        }
    }

    /// The message of the deadlock panic: every greenlet and what it waits on.
    pub(super) fn deadlock_report(&self) -> String {
        let mut msg = String::from(
            "green: all greenlets are blocked and nothing can wake them \
             (gevent's LoopExit: this operation would block forever):",
        );
        let mut all: Vec<Rc<Core>> = self.slab.borrow().iter().flatten().cloned().collect();
        all.sort_by_key(|g| g.id());
        for g in all {
            // The main greenlet is running (it is the one panicking), but its
            // reason still says what it was parked on.
            let _ = write!(msg, "\n  {g:?} waiting in {}", g.reason.get());
            if let Some(id) = g.waits_for.get() {
                let _ = write!(msg, " of greenlet {id}");
            }
        }
        msg
    }
}

/// A message formatted into a buffer on the stack (cut short if it does not
/// fit), for reports that must not allocate.
struct StackMessage {
    buf: [u8; 1024],
    len: usize,
}

impl StackMessage {
    fn new() -> StackMessage {
        StackMessage {
            buf: [0; 1024],
            len: 0,
        }
    }

    fn write_to_stderr(&self) {
        crate::stderr::write(&self.buf[..self.len]);
    }
}

impl std::fmt::Write for StackMessage {
    fn write_str(&mut self, s: &str) -> std::fmt::Result {
        let room = self.buf.len() - self.len;
        let n = s.len().min(room);
        self.buf[self.len..self.len + n].copy_from_slice(&s.as_bytes()[..n]);
        self.len += n;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    /// A thread unparks the main greenlet and exits after the hub looked at
    /// its inbox and while it counts threads: the hub, alone again, must
    /// still find the wake-up (a channel doctest was declared deadlocked
    /// this way once in CI). The thread runs once the count is taken, so
    /// the test fails both without the second look at the inbox and with
    /// it before the count.
    #[test]
    fn a_thread_that_wakes_and_exits_while_the_hub_counts_is_not_a_deadlock() {
        crate::run(|| {
            let main = crate::current();
            crate::deadlock::pretend_alone_then(move || {
                std::thread::spawn(move || main.unpark()).join().unwrap();
            });
            crate::park();
        });
    }

    /// Alone with nothing in the inbox is still a deadlock: the second look
    /// does not hide one.
    #[test]
    fn alone_with_no_wake_up_is_still_a_deadlock() {
        let result = std::panic::catch_unwind(|| {
            crate::run(|| {
                crate::deadlock::pretend_alone_then(|| {});
                crate::park();
            })
        });
        let err = result.expect_err("a deadlock");
        let msg = err
            .downcast_ref::<String>()
            .map(String::as_str)
            .unwrap_or_default();
        assert!(msg.contains("all greenlets are blocked"), "{msg}");
    }
}
