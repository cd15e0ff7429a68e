//! The hub: one per OS thread, created by [`run`](crate::run).
//!
//! The hub owns the run queue ([`ready`]), the timers ([`timers`]), the
//! poller and fd table ([`io`]), the inbox for wake-ups from other threads
//! ([`remote`]), and a slab of the greenlets alive on it. The hub loop runs on
//! the thread's own stack; every greenlet, the main one included, runs on a
//! coroutine stack and suspends back to the loop.
//!
//! # One loop iteration, in order
//!
//! 1. Drain the remote inbox: wake the greenlets other threads unparked.
//! 2. Run every greenlet that was ready when the iteration began, in FIFO
//!    order (see [`ready`] for the ordering contract).
//! 3. Fire every timer whose deadline is `<= Instant::now()`, in deadline
//!    order: the greenlets go to the back of the run queue.
//! 4. Poll for IO: without blocking when greenlets are ready (and only every
//!    [`POLL_EVERY`] iterations, so yield-heavy code does not pay a syscall
//!    per switch), otherwise blocking until the next timer deadline, an IO
//!    event or a notification from another thread.
//! 5. If nothing is ready and nothing can ever make anything ready (no live
//!    timer, no fd waiter, no blocking job out, no possible wake-up from
//!    another thread), the main greenlet is woken with a deadlock panic:
//!    gevent's `LoopExit`.
//!
//! # Re-entrancy
//!
//! Hub state lives in `Cell`s and `RefCell`s. No borrow is ever held across
//! a switch into a greenlet: a greenlet may call back into the hub freely.

pub(crate) mod io;
pub(crate) mod ready;
pub(crate) mod remote;
pub(crate) mod timers;

use std::cell::{Cell, RefCell};
use std::fmt::Write as _;
use std::rc::Rc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::coroutine::{Coroutine, Resumed};
use crate::greenlet::{Core, Greenlet, GreenletId, State, WaitKind, Wake};
use crate::kill::raise_exit;

pub(crate) use self::io::Direction;
use self::io::Io;
use self::ready::ReadyQueue;
pub(crate) use self::remote::Remote;
use self::timers::Timers;

/// With greenlets ready, poll for IO only every this many loop iterations.
const POLL_EVERY: u32 = 61;

/// When everything waits on wake-ups other threads might send, re-check for
/// a deadlock this often.
const RECHECK_BLOCKED: Duration = Duration::from_millis(500);

thread_local! {
    /// The hub of this thread, or null outside `run`.
    ///
    /// # Invariant
    /// When non-null it points at the `Hub` owned by the `run` call that is
    /// executing on this thread; `run` sets it after creating the hub and
    /// clears it (through a drop guard, so also on unwind) before the hub is
    /// dropped.
    static HUB: Cell<*const Hub> = const { Cell::new(std::ptr::null()) };
}

static NEXT_HUB_ID: AtomicU64 = AtomicU64::new(1);

pub(crate) struct Hub {
    id: u64,
    ready: RefCell<ReadyQueue>,
    timers: RefCell<Timers<Rc<Core>>>,
    io: RefCell<Io>,
    remote: Arc<Remote>,
    /// Live greenlets by slot. Slots are reused; identities are not.
    slab: RefCell<Vec<Option<Rc<Core>>>>,
    free_slots: RefCell<Vec<u32>>,
    next_seq: Cell<u64>,
    current: RefCell<Option<Rc<Core>>>,
    main: RefCell<Option<Rc<Core>>>,
    /// Greenlets parked in a `WaitKind::Token` wait.
    token_waits: Cell<usize>,
    iterations: Cell<u32>,
    inbox: RefCell<Vec<(u32, GreenletId)>>,
}

/// Runs `f` with this thread's hub.
///
/// # Panics
///
/// Panics outside [`run`](crate::run), with a message that says what to do.
#[track_caller]
pub(crate) fn with<R>(f: impl FnOnce(&Hub) -> R) -> R {
    let hub = HUB.get();
    if hub.is_null() {
        outside_run();
    }
    // SAFETY: by HUB's invariant a non-null pointer is the hub of the `run`
    // executing on this thread, alive until `run` clears the pointer.
    f(unsafe { &*hub })
}

/// Like [`with`], but `None` outside `run`.
pub(crate) fn try_with<R>(f: impl FnOnce(&Hub) -> R) -> Option<R> {
    let hub = HUB.get();
    if hub.is_null() {
        return None;
    }
    // SAFETY: as in `with`.
    Some(f(unsafe { &*hub }))
}

/// Whether this thread is inside `run`.
pub(crate) fn is_running() -> bool {
    !HUB.get().is_null()
}

#[cold]
#[track_caller]
fn outside_run() -> ! {
    panic!(
        "green: this function must be called from a greenlet, inside green::run; \
         wrap your program in `green::run(|| ...)` (or use the std equivalent outside it)"
    )
}

/// Installs `hub` as this thread's hub until the guard drops.
pub(crate) struct Installed(());

impl Installed {
    pub(crate) fn new(hub: &Hub) -> Installed {
        assert!(
            HUB.get().is_null(),
            "green::run called inside green::run: a thread has one hub; spawn a greenlet \
             with green::spawn instead, or call green::run from another OS thread"
        );
        HUB.set(hub);
        Installed(())
    }
}

impl Drop for Installed {
    fn drop(&mut self) {
        HUB.set(std::ptr::null());
    }
}

/// Wakes a greenlet of this thread's hub from a `Greenlet` handle. Returns
/// `false` when the greenlet does not belong to this thread's hub.
pub(crate) fn unpark_local(id: GreenletId, slot: u32) -> bool {
    try_with(|hub| {
        if hub.id != id.hub() {
            return false;
        }
        hub.unpark_slot(slot, id);
        true
    })
    .unwrap_or(false)
}

impl Hub {
    pub(crate) fn new() -> std::io::Result<Self> {
        let io = Io::new()?;
        let remote = Arc::new(Remote::new(io.poller().clone()));
        Ok(Hub {
            id: NEXT_HUB_ID.fetch_add(1, Ordering::Relaxed),
            ready: RefCell::default(),
            timers: RefCell::default(),
            io: RefCell::new(io),
            remote,
            slab: RefCell::default(),
            free_slots: RefCell::default(),
            next_seq: Cell::new(0),
            current: RefCell::new(None),
            main: RefCell::new(None),
            token_waits: Cell::new(0),
            iterations: Cell::new(0),
            inbox: RefCell::default(),
        })
    }

    pub(crate) fn remote(&self) -> &Arc<Remote> {
        &self.remote
    }

    // ----- greenlet creation and lookup -------------------------------------

    /// Registers a new greenlet running `co`. It starts at once (run queue)
    /// or when `start_at` passes.
    pub(crate) fn spawn_core(
        &self,
        name: Option<String>,
        co: Coroutine,
        start_at: Option<Instant>,
    ) -> Rc<Core> {
        let seq = self.next_seq.get();
        self.next_seq.set(seq + 1);
        let slot = match self.free_slots.borrow_mut().pop() {
            Some(slot) => slot,
            None => {
                let mut slab = self.slab.borrow_mut();
                slab.push(None);
                u32::try_from(slab.len() - 1).expect("more than 4 billion greenlets")
            }
        };
        let handle = Greenlet::new(
            GreenletId::new(self.id, seq),
            name,
            slot,
            self.remote.clone(),
        );
        let core = Rc::new(Core::new(handle, co));
        self.slab.borrow_mut()[slot as usize] = Some(core.clone());
        match start_at {
            None => self.ready.borrow_mut().push(core.clone()),
            Some(at) => {
                core.state.set(State::Parked);
                core.reason.set("spawn_later");
                core.timer_armed.set(true);
                self.timers.borrow_mut().insert(at, core.clone(), 0);
            }
        }
        core
    }

    pub(crate) fn set_main(&self, core: Rc<Core>) {
        *self.main.borrow_mut() = Some(core);
    }

    /// The running greenlet.
    ///
    /// # Panics
    ///
    /// Panics when called from the hub's own stack.
    pub(crate) fn current_core(&self) -> Rc<Core> {
        match &*self.current.borrow() {
            Some(g) => g.clone(),
            None => panic!("green: called from the hub itself, not from a greenlet"),
        }
    }

    /// The running greenlet, if a greenlet is running.
    pub(crate) fn current_core_opt(&self) -> Option<Rc<Core>> {
        self.current.try_borrow().ok()?.clone()
    }

    /// Live greenlets other than `except`, in spawn order.
    pub(crate) fn live_greenlets(&self, except: &Rc<Core>) -> Vec<Rc<Core>> {
        let mut all: Vec<Rc<Core>> = self
            .slab
            .borrow()
            .iter()
            .flatten()
            .filter(|g| !Rc::ptr_eq(g, except))
            .cloned()
            .collect();
        all.sort_by_key(|g| g.id());
        all
    }

    // ----- waking -----------------------------------------------------------

    /// Makes a parked greenlet ready with `wake` as the reason.
    fn make_ready(&self, g: &Rc<Core>, wake: Wake) {
        debug_assert_eq!(g.state.get(), State::Parked);
        if g.timer_armed.replace(false) && wake != Wake::TimedOut {
            self.timers.borrow_mut().cancelled(is_live);
        }
        if g.wait_kind.replace(WaitKind::Local) == WaitKind::Token {
            self.token_waits.set(self.token_waits.get() - 1);
        }
        g.wake.set(wake);
        g.state.set(State::Ready);
        self.ready.borrow_mut().push(g.clone());
    }

    /// Wakes `g` if it is still in the park numbered `park_seq`.
    pub(crate) fn wake(&self, g: &Rc<Core>, park_seq: u64, wake: Wake) {
        if g.state.get() == State::Parked && g.park_seq.get() == park_seq {
            self.make_ready(g, wake);
        }
    }

    /// [`Greenlet::unpark`] for a greenlet of this hub.
    fn unpark_slot(&self, slot: u32, id: GreenletId) {
        let g = match self.slab.borrow().get(slot as usize) {
            Some(Some(g)) if g.id() == id => g.clone(),
            _ => return, // finished: nothing to do
        };
        if g.state.get() == State::Parked && g.wait_kind.get() == WaitKind::Token {
            self.make_ready(&g, Wake::Unparked);
        } else {
            g.token.set(true);
        }
    }

    // ----- the running greenlet's side ----------------------------------------

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
            Wake::None => Ok(Wake::Unparked),
            w => Ok(w),
        }
    }

    /// Moves the running greenlet to the back of the run queue.
    pub(crate) fn yield_now(&self) {
        let g = self.current_core();
        g.state.set(State::Ready);
        self.ready.borrow_mut().push(g.clone());
        crate::coroutine::suspend();
        g.wake.set(Wake::None);
        if g.kill.get() && !std::thread::panicking() {
            g.kill.set(false);
            raise_exit();
        }
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

    // ----- kill and finish ------------------------------------------------------

    /// Kills `target` (see `JoinHandle::kill`) and, when called from a
    /// greenlet, waits until it has finished.
    pub(crate) fn kill(&self, target: &Rc<Core>) {
        match target.state.get() {
            State::Finished => return,
            State::Running => raise_exit(),
            _ if !target.started.get() => self.discard(target),
            State::Parked => {
                target.kill.set(true);
                self.make_ready(target, Wake::Killed);
            }
            State::Ready => target.kill.set(true),
        }
        self.wait_finished(target, "kill");
    }

    /// Parks the running greenlet until `target` has finished.
    pub(crate) fn wait_finished(&self, target: &Rc<Core>, reason: &'static str) {
        let me = self.current_core();
        assert!(
            !Rc::ptr_eq(&me, target),
            "green: a greenlet cannot wait for itself to finish ({target:?} joined itself)"
        );
        me.waits_for.set(Some(target.id()));
        while !target.is_finished() {
            let _ = self.park_with(&me, WaitKind::Local, reason, None, |me, seq| {
                target.joiners.borrow_mut().push((me.clone(), seq));
                Ok::<_, std::convert::Infallible>(true)
            });
        }
        me.waits_for.set(None);
    }

    /// Finishes a greenlet that never started: its body is dropped unrun.
    fn discard(&self, target: &Rc<Core>) {
        if target.state.get() == State::Parked {
            // waiting for its spawn_later timer
            if target.timer_armed.replace(false) {
                self.timers.borrow_mut().cancelled(is_live);
            }
        }
        // Still queued if Ready: the loop skips finished greenlets.
        let co = target.co.borrow_mut().take();
        if let Some(mut co) = co {
            co.discard_unstarted();
            self.finish(target, Some(co));
        }
    }

    /// Marks `g` finished, wakes its joiners and releases its slot and stack.
    fn finish(&self, g: &Rc<Core>, co: Option<Coroutine>) {
        g.state.set(State::Finished);
        let slot = g.handle.slot();
        self.slab.borrow_mut()[slot as usize] = None;
        self.free_slots.borrow_mut().push(slot);
        if let Some(co) = co {
            co.recycle();
        }
        let joiners = std::mem::take(&mut *g.joiners.borrow_mut());
        for (j, seq) in joiners {
            self.wake(&j, seq, Wake::Unparked);
        }
    }

    // ----- the loop ---------------------------------------------------------------

    /// Runs greenlets until the main greenlet has finished.
    pub(crate) fn run_until_main_finished(&self) {
        let main = self.main.borrow().clone().expect("main greenlet set");
        while !main.is_finished() {
            self.drain_remote();
            let batch = self.ready.borrow().len();
            for _ in 0..batch {
                let Some(g) = self.ready.borrow_mut().pop() else {
                    break;
                };
                if g.state.get() == State::Ready {
                    self.switch_to(g);
                }
            }
            if main.is_finished() {
                break;
            }
            self.fire_timers();
            self.poll_or_block(&main);
        }
    }

    /// Resumes `g` until it suspends or finishes.
    fn switch_to(&self, g: Rc<Core>) {
        g.state.set(State::Running);
        g.started.set(true);
        *self.current.borrow_mut() = Some(g.clone());
        let resumed = {
            let mut co = g.co.borrow_mut();
            co.as_mut()
                .expect("a ready greenlet has a coroutine")
                .resume()
        };
        *self.current.borrow_mut() = None;
        match resumed {
            Resumed::Suspended => {}
            Resumed::Done => {
                let co = g.co.borrow_mut().take();
                self.finish(&g, co);
            }
            Resumed::Overflowed => {
                let bytes = g.co.borrow().as_ref().map_or(0, Coroutine::stack_bytes);
                eprintln!(
                    "green: greenlet {g:?} overflowed its stack of {bytes} bytes and hit the \
                     guard page; aborting. Give it a larger stack with \
                     green::Builder::stack_size, or raise the default with \
                     green::set_default_stack_size or the GREEN_STACK_SIZE environment variable."
                );
                std::process::abort();
            }
        }
    }

    fn drain_remote(&self) {
        if !self.remote.has_pending() {
            return;
        }
        let mut inbox = std::mem::take(&mut *self.inbox.borrow_mut());
        self.remote.drain(&mut inbox);
        for (slot, id) in inbox.drain(..) {
            self.unpark_slot(slot, id);
        }
        *self.inbox.borrow_mut() = inbox;
    }

    fn fire_timers(&self) {
        if self.timers.borrow().len() == 0 {
            return;
        }
        let now = Instant::now();
        loop {
            let next = self.timers.borrow_mut().pop_expired(now, is_live);
            let Some((g, seq)) = next else { break };
            g.timer_armed.set(false);
            self.wake(&g, seq, Wake::TimedOut);
        }
    }

    fn poll_or_block(&self, main: &Rc<Core>) {
        let iterations = self.iterations.get().wrapping_add(1);
        self.iterations.set(iterations);
        let timeout = if !self.ready.borrow().is_empty() {
            if !iterations.is_multiple_of(POLL_EVERY) || !self.io.borrow().has_fds() {
                return;
            }
            Some(Duration::ZERO)
        } else if self.remote.has_pending() {
            Some(Duration::ZERO)
        } else if let Some(at) = self.timers.borrow_mut().next_deadline(is_live) {
            Some(at.saturating_duration_since(Instant::now()))
        } else if self.io.borrow().waiters() > 0 || self.remote.jobs() > 0 {
            None
        } else if self.token_waits.get() > 0 && !crate::deadlock::alone_in_process() {
            // Another thread might unpark one of them: wait for it, but look
            // again now and then, in case those threads go away.
            Some(RECHECK_BLOCKED)
        } else {
            if main.state.get() == State::Parked {
                self.make_ready(main, Wake::Deadlock);
            }
            return;
        };
        let result = self.io.borrow_mut().poll(timeout, |g, seq| {
            self.wake(&g, seq, Wake::Unparked);
        });
        if let Err(e) = result {
            panic!("green: the hub's poller failed: {e}");
        }
    }

    /// The message of the deadlock panic: every greenlet and what it waits on.
    fn deadlock_report(&self) -> String {
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

    /// Called by `run` once the main greenlet is done: any greenlet still
    /// suspended ignored its kill; unwind it through generator's cancel so
    /// that its destructors still run, then release everything.
    pub(crate) fn shutdown(&self) {
        let leftovers: Vec<Rc<Core>> = self.slab.borrow().iter().flatten().cloned().collect();
        for g in leftovers {
            let co = g.co.borrow_mut().take();
            if let Some(co) = co {
                if co.is_done() {
                    self.finish(&g, Some(co));
                } else {
                    *self.current.borrow_mut() = Some(g.clone());
                    co.force_unwind();
                    *self.current.borrow_mut() = None;
                    self.finish(&g, None);
                }
            }
        }
        self.remote.close();
        self.io.borrow_mut().clear();
        *self.main.borrow_mut() = None;
        *self.timers.borrow_mut() = Timers::default();
        *self.ready.borrow_mut() = ReadyQueue::default();
    }
}

/// Whether a timer entry for `g` with park sequence `seq` can still fire.
fn is_live(g: &Rc<Core>, seq: u64) -> bool {
    g.state.get() == State::Parked && g.park_seq.get() == seq && g.timer_armed.get()
}
