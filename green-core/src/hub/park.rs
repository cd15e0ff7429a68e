//! The running greenlet's side of the hub: parking, yielding, waiting on
//! fds and on other greenlets.
//!
//! Every wait is a *park*: the greenlet records why and until when it waits,
//! bumps its park sequence number (so that stale timers and waiter entries
//! can be told from live ones), and suspends to the hub. Whoever wakes it
//! sets the reason ([`Wake`]) and queues it. A pending kill is raised when a
//! park begins and when the wake was a kill, never after a wake that
//! delivered something, so no value handed to a greenlet is lost.

use std::rc::Rc;
use std::time::Instant;

use super::{Direction, Hub};
use crate::greenlet::{Core, State, WaitKind, Wake};
use crate::kill::raise_exit;

impl Hub {
    /// Parks the running greenlet until it is woken (or `deadline` passes).
    ///
    /// A `Token` park consumes the unpark token and returns at once if it was
    /// set. A pending kill is raised here, before parking, and when the wake
    /// was a kill. Returns `Wake::Unparked` or `Wake::TimedOut`.
    pub(crate) fn park(
        &self,
        kind: WaitKind,
        reason: &'static str,
        deadline: Option<Instant>,
    ) -> Wake {
        let g = self.current_core();
        let parked = self.park_with(&g, kind, reason, deadline, |_, _| {
            Ok::<_, std::convert::Infallible>(true)
        });
        match parked {
            Ok(wake) => wake,
            Err(never) => match never {},
        }
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
        register: impl FnOnce(&Rc<Core>, u64) -> Result<bool, E>,
    ) -> Result<Wake, E> {
        if g.kill.get() && !std::thread::panicking() {
            g.kill.set(false);
            raise_exit();
        }
        raise_interrupt(g);
        if kind == WaitKind::Token && g.token.replace(false) {
            return Ok(Wake::Unparked);
        }
        let seq = g.park_seq.get() + 1;
        g.park_seq.set(seq);
        if !register(g, seq)? {
            return Ok(Wake::Unparked);
        }
        if let Some(at) = deadline {
            if at <= Instant::now() {
                return Ok(Wake::TimedOut);
            }
            g.timer_armed.set(true);
            self.timers.borrow_mut().insert(at, g.clone(), seq);
        }
        if kind == WaitKind::Token {
            self.token_waits.set(self.token_waits.get() + 1);
        }
        g.wait_kind.set(kind);
        g.reason.set(reason);
        g.state.set(State::Parked);
        crate::coroutine::suspend();
        match g.wake.replace(Wake::None) {
            Wake::Killed => {
                g.kill.set(false);
                raise_exit()
            }
            Wake::Deadlock => panic!("{}", self.deadlock_report()),
            Wake::Interrupted => {
                raise_interrupt(g);
                Ok(Wake::Unparked) // its timeout was dropped meanwhile
            }
            Wake::None => Ok(Wake::Unparked),
            w => Ok(w),
        }
    }

    /// Moves the running greenlet to the back of the run queue.
    #[inline]
    pub(crate) fn yield_now(&self) {
        let g = self.current_core();
        g.state.set(State::Ready);
        self.ready.borrow_mut().push(Rc::clone(&g));
        crate::coroutine::suspend();
        g.wake.set(Wake::None);
        if g.kill.get() && !std::thread::panicking() {
            g.kill.set(false);
            raise_exit();
        }
        raise_interrupt(&g);
    }

    /// Waits until `fd` is ready in direction `dir` (see [`io`]).
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
        let wake = self.park_with(&g, WaitKind::Local, reason, deadline, |g, seq| {
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

    /// Forgets `fd`; greenlets waiting on it wake up and retry.
    pub(crate) fn deregister_fd(&self, fd: std::os::fd::RawFd) {
        let woken = self.io.borrow_mut().deregister(fd);
        for (g, seq) in woken {
            self.wake(&g, seq, Wake::Unparked);
        }
    }
}

/// Unwinds with [`Elapsed`](crate::Elapsed) if one of the greenlet's live
/// timeouts fired (not while it is already unwinding: like a kill, the
/// interrupt then waits for its next switch point).
fn raise_interrupt(g: &Core) {
    if std::thread::panicking() {
        return;
    }
    if let Some(id) = g.interrupt.take() {
        if g.timeouts.borrow().contains(&id) {
            crate::timeout::raise_elapsed(id);
        }
    }
}
