//! The running greenlet's side of the hub: parking, yielding, waiting on
//! fds and on other greenlets.
//!
//! Every wait is a *park*: the greenlet records why and until when it waits,
//! bumps its park sequence number (so that stale timers and waiter entries
//! can be told from live ones), and suspends to the hub. Whoever wakes it
//! sets the reason ([`Wake`]) and queues it. A pending kill is raised when a
//! park begins and when the wake was a kill, never after a wake that
//! delivered something, so no value handed to a greenlet is lost. A
//! channel's send parks with [`Hub::park_cut`], so that a send the other
//! side completed just as its timeout fired (the value taken by a receiver
//! that ran first, or by another thread's) returns as sent, and the
//! timeout waits for the next switch point: a value received cannot be
//! given back, so reporting `Elapsed` would say it was not sent.
//!
//! Nothing is raised in a greenlet that is unwinding already (a destructor
//! that waits during a panic or a kill): a panic out of such a destructor
//! aborts the process. A kill stays pending and the wait returns early; a
//! timeout waits for a later switch point; a deadlock, which no wait can
//! outlast, aborts with its report. [`Hub::unwinding`] tells which greenlet
//! unwinds, since `std::thread::panicking()` answers for the whole thread.
//! The one exception is a timeout that `green::timeout` started in the
//! destructor itself, with no other unwind begun since (`Extras::in_unwind`):
//! its `Elapsed` is caught inside the destructor, so it is raised.

use std::rc::Rc;
use std::time::Instant;

use super::{Direction, Hub};
use crate::greenlet::{Core, State, WaitKind, Wake};
use crate::kill::raise_exit;

/// What ended a [`Hub::park_cut`]: nothing to raise, or a kill or a fired
/// timeout, still pending.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Cut {
    No,
    Kill,
    Timeout,
}

impl Hub {
    /// Parks the running greenlet until it is woken (or `deadline` passes).
    /// It suspends even when `deadline` has passed: until the hub's next
    /// turn, when its timer fires.
    ///
    /// A `Token` or `Signal` park consumes its kind's pending flag (the
    /// unpark token, or a signal) and returns at once if it was set. A
    /// pending kill is raised here, before parking, and when the wake was a
    /// kill (unless the greenlet is unwinding already, see the module docs).
    /// Returns `Wake::Unparked` or `Wake::TimedOut`.
    pub(crate) fn park(
        &self,
        kind: WaitKind,
        reason: &'static str,
        deadline: Option<Instant>,
    ) -> Wake {
        let g = self.current_core();
        let parked = self.park_with(&g, kind, reason, deadline, false, |_, _| {
            Ok::<_, std::convert::Infallible>(true)
        });
        match parked {
            Ok(wake) => wake,
            Err(never) => match never {},
        }
    }

    /// A `Signal` [`park`](Self::park) that does not raise a kill or a fired
    /// timeout: it says which one cut it, still pending, instead, for a
    /// caller whose operation may have completed meanwhile (a channel's
    /// receiver took its value) to look first. Then it returns as
    /// completed, and the kill or the timeout is raised at its next switch
    /// point, as after any wake that delivered something; otherwise it
    /// calls [`raise_pending`](Self::raise_pending).
    pub(crate) fn park_cut(&self, reason: &'static str, deadline: Option<Instant>) -> Cut {
        let g = self.current_core();
        let parked = self.park_with(&g, WaitKind::Signal, reason, deadline, true, |_, _| {
            Ok::<_, std::convert::Infallible>(true)
        });
        match parked {
            Ok(Wake::Killed) => Cut::Kill,
            Ok(Wake::Interrupted) => Cut::Timeout,
            Ok(_) => Cut::No,
            Err(never) => match never {},
        }
    }

    /// Raises the running greenlet's pending kill or fired timeout, if one
    /// is due now (see [`park_cut`](Self::park_cut)).
    pub(crate) fn raise_pending(&self) {
        let g = self.current_core();
        if g.kill.get() && !self.unwinding(&g) {
            g.kill.set(false);
            exit(&g);
        }
        self.raise_interrupt(&g);
    }

    /// Whether [`raise_interrupt`](Self::raise_interrupt) would raise a
    /// timeout now (it may also just drop stale ones).
    fn interrupt_due(&self, g: &Core) -> bool {
        g.interrupt.get().is_some() && (!self.unwinding(g) || g.has_interrupt_in_unwind())
    }

    /// [`park`](Self::park) with a hook that registers the park elsewhere
    /// (an fd waiter list) once its sequence number is known. The hook may
    /// decline to park (`Ok(false)`) or fail.
    pub(crate) fn park_with<E>(
        &self,
        g: &Rc<Core>,
        kind: WaitKind,
        reason: &'static str,
        deadline: Option<Instant>,
        defer: bool,
        register: impl FnOnce(&Rc<Core>, u64) -> Result<bool, E>,
    ) -> Result<Wake, E> {
        if g.kill.get() && !self.unwinding(g) {
            if defer {
                return Ok(Wake::Killed);
            }
            g.kill.set(false);
            exit(g);
        }
        if defer && self.interrupt_due(g) {
            return Ok(Wake::Interrupted);
        }
        self.raise_interrupt(g);
        if kind != WaitKind::Local && g.pending(kind).replace(false) {
            return Ok(Wake::Unparked);
        }
        let seq = g.park_seq.get() + 1;
        g.park_seq.set(seq);
        if !register(g, seq)? {
            return Ok(Wake::Unparked);
        }
        if let Some(at) = deadline {
            // A deadline that has passed already still suspends: its timer
            // fires on the hub's next turn. So a wait always lets the others
            // run, like gevent's, and a loop of zero-timeout waits cannot
            // starve them. (A sleeper the OS held up past its deadline
            // before it could park did not switch at all before this.)
            g.timer_armed.set(true);
            self.timers.borrow_mut().insert(at, g.clone(), seq);
        }
        if kind != WaitKind::Local {
            self.remote_waits.set(self.remote_waits.get() + 1);
        }
        g.wait_kind.set(kind);
        g.reason.set(reason);
        g.state.set(State::Parked);
        self.suspend_running(g, false);
        match g.wake.replace(Wake::None) {
            // Already unwinding (in a destructor): the kill stays pending and
            // the wait returns early, as if woken spuriously; the greenlet
            // is on its way out anyway.
            Wake::Killed if self.unwinding(g) => Ok(Wake::Unparked),
            Wake::Killed if defer => Ok(Wake::Killed),
            Wake::Killed => {
                g.kill.set(false);
                exit(g)
            }
            Wake::Deadlock if self.unwinding(g) => {
                // A destructor waits for what can never come, and a panic
                // out of it would abort with a message that hides why.
                eprintln!(
                    "{}\ngreen: the main greenlet is unwinding (a destructor is waiting), so \
                     this deadlock cannot be raised as a panic; aborting",
                    self.deadlock_report()
                );
                std::process::abort()
            }
            Wake::Deadlock => {
                g.unwind_begins();
                panic!("{}", self.deadlock_report())
            }
            Wake::Interrupted if defer && self.interrupt_due(g) => Ok(Wake::Interrupted),
            Wake::Interrupted => {
                self.raise_interrupt(g);
                Ok(Wake::Unparked) // its timeout was dropped meanwhile
            }
            Wake::None => Ok(Wake::Unparked),
            w => Ok(w),
        }
    }

    /// Moves the running greenlet to the back of the run queue: it suspends
    /// `Ready`, and `suspend_running` queues it. Always inlined, like
    /// everything on the way to the switch (see [`switch`](super::switch)).
    #[inline(always)]
    pub(crate) fn yield_now(&self) {
        let g = self.current_ref();
        g.state.set(State::Ready);
        self.suspend_running(g, true);
        if g.kill.get() && !self.unwinding(g) {
            g.kill.set(false);
            exit(g);
        }
        self.raise_interrupt(g);
    }

    /// Waits until `fd` is ready in direction `dir` (see [`io`](super::io)).
    pub(crate) fn wait_fd(
        &self,
        fd: std::os::fd::RawFd,
        dir: Direction,
        deadline: Option<Instant>,
    ) -> std::io::Result<()> {
        let g = self.current_core();
        let reason = match dir {
            Direction::Read => "fd readable",
            Direction::Write => "fd writable",
        };
        struct Unregister<'a>(&'a Hub, std::os::fd::RawFd, Direction, &'a Rc<Core>);
        impl Drop for Unregister<'_> {
            fn drop(&mut self) {
                self.0.io.borrow_mut().remove_waiter(self.1, self.2, self.3);
            }
        }
        let _unregister = Unregister(self, fd, dir, &g);
        let wake = self.park_with(&g, WaitKind::Local, reason, deadline, false, |g, seq| {
            self.io.borrow_mut().add_waiter(fd, dir, g, seq)
        })?;
        match wake {
            Wake::TimedOut => Err(std::io::Error::new(
                std::io::ErrorKind::TimedOut,
                "timed out waiting for the file descriptor",
            )),
            _ => Ok(()),
        }
    }

    /// [`Io::note_drained`](super::io::Io::note_drained) on this hub's table.
    pub(crate) fn io_note_drained(&self, fd: std::os::fd::RawFd) {
        self.io.borrow_mut().note_drained(fd);
    }

    /// [`Io::is_drained`](super::io::Io::is_drained) on this hub's table.
    pub(crate) fn io_is_drained(&self, fd: std::os::fd::RawFd) -> bool {
        self.io.borrow_mut().is_drained(fd)
    }

    /// Forgets `fd`; greenlets waiting on it wake up and retry.
    pub(crate) fn deregister_fd(&self, fd: std::os::fd::RawFd) {
        let woken = self.io.borrow_mut().deregister(fd);
        for (g, seq) in woken {
            self.wake(&g, seq, Wake::Unparked);
        }
    }

    /// Whether the greenlet `g` is unwinding; records the answer in
    /// `g.unwinding`. Called before anything is raised in it, and by
    /// `suspend_running` right before it suspends (the hub counts suspended
    /// greenlets that unwind; it still runs, so the answer is its own).
    ///
    /// `std::thread::panicking()` counts the panics of the whole thread, and
    /// a greenlet suspended in a destructor while it unwinds keeps its panic
    /// counted while the others run. So it is the greenlet's own answer only
    /// when no other suspended greenlet unwinds. Otherwise the greenlet's
    /// last known state decides: set when a panic or a kill starts in it
    /// (`Core::unwind_begins`: `exit`, `raise_interrupt`, the panic hook), cleared whenever the
    /// thread is seen not panicking. That guess misses an unwind begun with a
    /// bare `resume_unwind` (a kill raised in its destructors then aborts,
    /// as it always did), and outlives an unwind the greenlet caught (its
    /// kill is then deferred to a switch point where it is unambiguous),
    /// but for the `Elapsed` that [`timeout`](crate::timeout()) catches,
    /// which puts back the state it found.
    #[inline]
    pub(super) fn unwinding(&self, g: &Core) -> bool {
        let unwinding =
            std::thread::panicking() && (self.suspended_unwinding.get() == 0 || g.unwinding.get());
        g.unwinding.set(unwinding);
        unwinding
    }

    /// Whether the code running now unwinds: the running greenlet, as
    /// [`unwinding`](Self::unwinding) tells; on the hub's own stack, the
    /// thread, unless a suspended greenlet's unwind is what it counts.
    pub(crate) fn running_unwinds(&self) -> bool {
        if self.in_greenlet() {
            self.unwinding(self.current_ref())
        } else {
            std::thread::panicking() && self.suspended_unwinding.get() == 0
        }
    }

    /// The hub is about to resume `g`: it no longer counts as a suspended
    /// greenlet that unwinds.
    #[inline]
    pub(super) fn resuming(&self, g: &Core) {
        if g.unwinding.get() {
            self.suspended_unwinding
                .set(self.suspended_unwinding.get() - 1);
        }
    }

    /// Unwinds with [`Elapsed`](crate::Elapsed) if one of the greenlet's live
    /// timeouts fired (not while it is already unwinding: like a kill, the
    /// interrupt then waits for its next switch point).
    #[inline]
    fn raise_interrupt(&self, g: &Core) {
        if g.interrupt.get().is_some() {
            self.raise_interrupt_slow(g);
        }
    }

    #[cold]
    fn raise_interrupt_slow(&self, g: &Core) {
        if self.unwinding(g) {
            // But one that `green::timeout` started in the destructor that
            // runs now: it catches its own `Elapsed` there.
            if let Some(id) = g.take_interrupt_in_unwind() {
                g.unwind_begins();
                crate::timeout::raise_elapsed(id);
            }
            return;
        }
        while let Some(id) = g.interrupt.take() {
            // One fired meanwhile waits for the next switch point.
            g.next_interrupt();
            if g.has_timeout(id) {
                g.unwind_begins();
                crate::timeout::raise_elapsed(id);
            }
        }
    }
}

/// Unwinds the running greenlet `g` with `GreenletExit`.
fn exit(g: &Core) -> ! {
    g.unwind_begins();
    raise_exit()
}
