//! The hub: one per OS thread, created by [`run`](crate::run()).
//!
//! The hub owns the run queue ([`ready`]), the timers ([`timers`]), the
//! poller and fd table ([`io`]), the inbox for wake-ups from other threads
//! ([`remote`]), and a slab of the greenlets alive on it. The hub loop runs on
//! the thread's own stack; every greenlet, the main one included, runs on a
//! coroutine stack. A greenlet that suspends switches straight to the next
//! ready one, and does what the loop does between two iterations when none
//! of it needs the loop's stack; otherwise it suspends back to the loop (see
//! [`switch`]). Either way, what runs and in which order is what the
//! iteration below says.
//!
//! # One loop iteration, in order
//!
//! 1. Drain the remote inbox: wake the greenlets other threads unparked.
//! 2. Run every greenlet that was ready when the iteration began, in FIFO
//!    order (see [`ready`] for the ordering contract).
//! 3. Fire every timer whose deadline is `<= Instant::now()`, in deadline
//!    order: the greenlets go to the back of the run queue.
//! 4. Poll for IO: without blocking when greenlets are ready (and only every
//!    [`turn::POLL_EVERY`] iterations, so yield-heavy code does not pay a syscall
//!    per switch; up to 1,024 events), otherwise blocking until the next
//!    timer deadline, an IO event or a notification from another thread (up
//!    to 128 events: see `EVENTS_PER_WAIT` in [`io`]).
//! 5. If nothing is ready and nothing can ever make anything ready (no live
//!    timer, no fd waiter, no blocking job out, no possible wake-up from
//!    another thread), the main greenlet is woken with a deadlock panic:
//!    gevent's `LoopExit`.
//!
//! # Re-entrancy
//!
//! Hub state lives in `Cell`s and `RefCell`s. No borrow is ever held across
//! a switch into a greenlet: a greenlet may call back into the hub freely.
//! Hub code runs on greenlet stacks too (a greenlet that suspends does the
//! hub's bookkeeping, and may start the next batch), under the same rule.

mod epoll;
pub(crate) mod io;
mod park;
pub(crate) mod ready;
pub(crate) mod remote;
mod switch;
pub(crate) mod timers;
mod turn;
mod waiters;

use std::cell::{Cell, RefCell};
use std::rc::Rc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Instant;

use crate::coroutine::Coroutine;
use crate::greenlet::{Core, Greenlet, GreenletId, State, WaitKind, Wake};
use crate::kill::raise_exit;
use crate::monitor::Watch;

pub(crate) use self::io::Direction;
use self::io::Io;
pub(crate) use self::park::Cut;
use self::ready::ReadyQueue;
pub(crate) use self::remote::Remote;
use self::timers::Timers;

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

/// How many records of finished greenlets a hub keeps for reuse (as many as
/// the stack pool keeps hot stacks): about 330 KiB.
const MAX_SPARE_CORES: usize = 1024;

pub(crate) struct Hub {
    id: u64,
    ready: RefCell<ReadyQueue>,
    timers: RefCell<Timers<Rc<Core>>>,
    /// Deadlines of [`Timeout`](crate::Timeout)s: the entry's `u64` is the
    /// timeout's id, not a park sequence.
    deadlines: RefCell<Timers<Rc<Core>>>,
    next_timeout: Cell<u64>,
    io: RefCell<Io>,
    remote: Arc<Remote>,
    /// Live greenlets by slot. Slots are reused; identities are not.
    slab: RefCell<Vec<Option<Rc<Core>>>>,
    free_slots: RefCell<Vec<u32>>,
    /// Records of finished greenlets that nothing refers to any more, for
    /// the next spawns (see [`Hub::recycle_core`]).
    spare_cores: RefCell<Vec<Rc<Core>>>,
    next_seq: Cell<u64>,
    /// The record of the greenlet whose stack the thread runs on, or null
    /// on the hub's own stack.
    ///
    /// # Invariant
    /// A greenlet puts itself here as soon as it continues ([`Hub::arrive`])
    /// and stays here while it suspends, until the next one arrives or the
    /// loop takes it back ([`Hub::came_back`]); `shutdown` sets it around a
    /// forced unwind. So wherever a greenlet's code can run (and its stack
    /// overflow), `current` names it, which the overflow report and the
    /// panic hook rely on. The field owns no count: the slab keeps the
    /// `Core` alive until [`Hub::finish`], which runs only once its body is
    /// over (and `shutdown` holds a clone around a forced unwind), so a
    /// `&Core` taken while the body runs stays valid across its suspends,
    /// and a count may be added from this pointer at any time. Whether its
    /// own `Rc` is in `held` does not matter to that.
    current: Cell<*const Core>,
    /// The `Rc` of `current`, turned into a pointer (`Rc::into_raw`) and
    /// owned by this field; null on the hub's own stack, and from the
    /// moment the running greenlet yields: its `Rc` then goes into the run
    /// queue as it is, and the next greenlet's `Rc` comes out of the queue
    /// into `incoming` and then here, so a yield that hands the thread on
    /// or goes on in place neither adds nor drops a count (the two were a
    /// tenth of a yield). A yield to the loop adds one in `take_current`
    /// and drops it again.
    ///
    /// # Invariant
    /// When non-null it equals `current` and owns one count. It may be null
    /// while a greenlet runs (after a yield, or an unwind in between): code
    /// that needs an `Rc` of the running greenlet then adds a count from
    /// `current` (see its invariant).
    held: Cell<*const Core>,
    /// The greenlet about to continue, set by whoever resumes it (the loop,
    /// or a greenlet handing the thread on) and taken by it in
    /// [`Hub::arrive`] as soon as it continues; null otherwise. Still set
    /// when the resume comes back means that it overflowed its stack before
    /// it got that far.
    ///
    /// # Invariant
    /// When non-null it is an `Rc<Core>` turned into a pointer
    /// (`Rc::into_raw`), owned by this field.
    incoming: Cell<*const Core>,
    main: RefCell<Option<Rc<Core>>>,
    /// The main greenlet has finished (read between batches, where a
    /// borrow of `main` would cost more than the rest of the check).
    main_finished: Cell<bool>,
    /// Greenlets parked in a `WaitKind::Token` or `WaitKind::Signal` wait
    /// (one that another thread may end).
    remote_waits: Cell<usize>,
    /// Suspended greenlets whose `unwinding` is set: while there are any,
    /// `std::thread::panicking()` is true for every greenlet of the thread
    /// (the panic count is the thread's), so it no longer tells whether the
    /// running greenlet itself unwinds (see [`Hub::unwinding`]).
    suspended_unwinding: Cell<usize>,
    iterations: Cell<u32>,
    inbox: RefCell<Vec<(u32, GreenletId, WaitKind)>>,
    /// Blocking jobs (see `unblock`) started by this hub's greenlets whose
    /// end (see [`Remote::job_done`]) the hub has not taken in yet: while
    /// any is out, the hub is not deadlocked.
    jobs_out: Cell<usize>,
    /// What the blocking detector's thread watches (see [`crate::monitor`]),
    /// when it watches this hub: the batches started, the waits in the
    /// poller, the greenlet resumed last.
    watch: Option<Arc<Watch>>,
}

/// Runs `f` with this thread's hub.
///
/// # Panics
///
/// Panics outside [`run`](crate::run()), with a message that says what to do.
#[track_caller]
#[inline]
pub(crate) fn with<R>(f: impl FnOnce(&Hub) -> R) -> R {
    let hub = HUB.get();
    if hub.is_null() {
        outside_run();
    }
    // SAFETY: by HUB's invariant a non-null pointer is the hub of the `run`
    // executing on this thread, alive until `run` clears the pointer.
    f(unsafe { &*hub })
}

/// [`Hub::yield_now`] on this thread's hub: [`with`] unrolled, because a
/// closure handed to it is not inlined into a caller that yields from two
/// places, and that call's register saves cost a tenth of a yield.
///
/// # Panics
///
/// Panics outside [`run`](crate::run()), like [`with`].
#[track_caller]
#[inline(always)]
pub(crate) fn yield_now() {
    let hub = HUB.get();
    if hub.is_null() {
        outside_run();
    }
    // SAFETY: as in `with`.
    unsafe { &*hub }.yield_now();
}

/// [`Hub::arrive`] on this thread's hub: the first thing every greenlet
/// body does (`builder::ended`).
///
/// # Panics
///
/// Panics outside [`run`](crate::run()), like [`with`].
pub(crate) fn arrive() {
    with(Hub::arrive);
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

/// How many records of finished greenlets this thread's hub keeps for
/// later spawns (see `Hub::recycle_core`).
#[cfg(test)]
pub(crate) fn spare_cores() -> usize {
    with(Hub::spare_cores)
}

/// Whether this thread is inside `run`.
pub(crate) fn is_running() -> bool {
    !HUB.get().is_null()
}

/// The identity of this thread's hub, or `None` outside `run`. No two hubs
/// of a process share one.
pub(crate) fn current_id() -> Option<u64> {
    try_with(|hub| hub.id)
}

#[cold]
#[track_caller]
fn called_from_hub() -> ! {
    panic!("green: called from the hub itself, not from a greenlet")
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

/// The inbox of hub `hub_id` if it is this thread's hub (what a `Greenlet`
/// handle made now needs: a greenlet's record lives on its hub's thread, and
/// once that hub is gone the greenlet has finished).
pub(crate) fn remote_of(hub_id: u64) -> Option<Arc<Remote>> {
    try_with(|hub| (hub.id == hub_id).then(|| hub.remote.clone())).flatten()
}

/// The running greenlet's handle (made now if nobody asked before), if a
/// greenlet of this thread's hub is running; borrowed, without touching its
/// reference count. The handle lives in the greenlet's `Core`, which the
/// hub's slab keeps alive (and in place) for as long as the greenlet is, so
/// the pointer is valid at least while the greenlet's own frames are: a
/// record in one of them may keep it.
pub(crate) fn current_handle() -> Option<std::ptr::NonNull<Greenlet>> {
    try_with(|hub| {
        hub.in_greenlet()
            .then(|| std::ptr::NonNull::from(hub.current_ref().handle()))
    })
    .flatten()
}

/// Wakes a greenlet of this thread's hub from a `Greenlet` handle, from a
/// wait of `kind`. Returns `false` when the greenlet does not belong to this
/// thread's hub.
pub(crate) fn unpark_local(id: GreenletId, slot: u32, kind: WaitKind) -> bool {
    try_with(|hub| {
        if hub.id != id.hub() {
            return false;
        }
        hub.unpark_slot(slot, id, kind);
        true
    })
    .unwrap_or(false)
}

impl Hub {
    /// A hub, watched by the blocking detector when `watch` is given.
    pub(crate) fn new(watch: Option<Arc<Watch>>) -> std::io::Result<Self> {
        let io = Io::new()?;
        let remote = Arc::new(Remote::new(io.poller().clone()));
        Ok(Hub {
            id: NEXT_HUB_ID.fetch_add(1, Ordering::Relaxed),
            ready: RefCell::default(),
            timers: RefCell::default(),
            deadlines: RefCell::default(),
            next_timeout: Cell::new(0),
            io: RefCell::new(io),
            remote,
            slab: RefCell::default(),
            free_slots: RefCell::default(),
            spare_cores: RefCell::default(),
            next_seq: Cell::new(0),
            current: Cell::new(std::ptr::null()),
            held: Cell::new(std::ptr::null()),
            incoming: Cell::new(std::ptr::null()),
            main: RefCell::new(None),
            main_finished: Cell::new(false),
            remote_waits: Cell::new(0),
            suspended_unwinding: Cell::new(0),
            iterations: Cell::new(0),
            inbox: RefCell::default(),
            jobs_out: Cell::new(0),
            watch,
        })
    }

    pub(crate) fn remote(&self) -> &Arc<Remote> {
        &self.remote
    }

    /// A greenlet of this hub hands a job to another thread, which ends it
    /// with [`Remote::job_done`].
    pub(crate) fn job_started(&self) {
        self.jobs_out.set(self.jobs_out.get() + 1);
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
        let core = Core::new(GreenletId::new(self.id, seq), name, slot, co);
        let spare = self.spare_cores.borrow_mut().pop();
        let core = match spare {
            Some(mut spare) => {
                // The old record's fields are dropped here, with no borrow
                // of the hub held.
                *Rc::get_mut(&mut spare).expect("a spare record is unshared") = core;
                spare
            }
            None => Rc::new(core),
        };
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

    /// The record of `g` while it is alive on this hub; `None` once it has
    /// finished, or when it belongs to another hub.
    pub(crate) fn core_of(&self, g: &Greenlet) -> Option<Rc<Core>> {
        if g.id().hub() != self.id {
            return None;
        }
        match self.slab.borrow().get(g.slot() as usize) {
            Some(Some(core)) if core.id() == g.id() => Some(core.clone()),
            _ => None,
        }
    }

    /// The running greenlet.
    ///
    /// # Panics
    ///
    /// Panics when called from the hub's own stack.
    #[inline]
    pub(crate) fn current_core(&self) -> Rc<Core> {
        match self.current_core_opt() {
            Some(g) => g,
            None => called_from_hub(),
        }
    }

    /// The running greenlet, if a greenlet is running.
    #[inline]
    pub(crate) fn current_core_opt(&self) -> Option<Rc<Core>> {
        let p = self.current.get();
        if p.is_null() {
            return None;
        }
        // SAFETY: by `current`'s invariant a non-null pointer came from
        // `Rc::into_raw` (by way of `incoming`, or `enter`) and names a
        // `Core` that the slab (or `shutdown`'s clone) keeps alive while it
        // is here, so adding one count and taking it as a new `Rc` is sound.
        unsafe {
            Rc::increment_strong_count(p);
            Some(Rc::from_raw(p))
        }
    }

    /// Whether a greenlet is running (not the hub's own stack).
    #[inline]
    pub(crate) fn in_greenlet(&self) -> bool {
        !self.current.get().is_null()
    }

    /// The running greenlet's record, borrowed without touching its
    /// reference count (the hot path of [`yield_now`](Self::yield_now)).
    ///
    /// # Panics
    ///
    /// Panics when called from the hub's own stack.
    #[inline]
    pub(super) fn current_ref(&self) -> &Core {
        let p = self.current.get();
        if p.is_null() {
            called_from_hub();
        }
        // SAFETY: by `current`'s invariant the `Core` stays alive for as long
        // as the running greenlet's body runs, and this borrow is used only
        // by that body (the greenlet calling in); it is tied to `&self`, and
        // callers keep it within the call that asked for it, but for one:
        // `current_handle` lets a pointer to the `Core`'s handle out into the
        // greenlet's own frames, valid while they are (`FrameWaiter`'s
        // invariant: the slab keeps the `Core` until the body is over).
        unsafe { &*p }
    }

    /// Makes `g` the greenlet whose stack runs, for `shutdown`'s forced
    /// unwind (see `current`'s invariant).
    fn enter(&self, g: Rc<Core>) {
        debug_assert!(self.current.get().is_null());
        let p = Rc::into_raw(g);
        self.current.set(p);
        self.held.set(p);
    }

    /// Takes the running greenlet out of `current` (and `held`), which are
    /// left null.
    ///
    /// # Panics
    ///
    /// Panics when no greenlet runs.
    #[inline]
    pub(super) fn leave(&self) -> Rc<Core> {
        match self.take_current() {
            Some(g) => g,
            None => called_from_hub(),
        }
    }

    /// [`leave`](Self::leave), or `None` when no greenlet runs.
    #[inline]
    fn take_current(&self) -> Option<Rc<Core>> {
        let held = self.held.replace(std::ptr::null());
        let g = if held.is_null() {
            // Its `Rc` was lent to the run queue (it yielded to the loop,
            // maybe during `shutdown`'s forced unwind) or lost to an unwind
            // in between, or no greenlet runs.
            self.current_core_opt()
        } else {
            debug_assert!(std::ptr::eq(held, self.current.get()));
            // SAFETY: by `held`'s invariant, an `Rc` it owned and no longer
            // has.
            Some(unsafe { Rc::from_raw(held) })
        };
        self.current.set(std::ptr::null());
        g
    }

    /// The running greenlet's `Rc`, taken out of `held` to go into the run
    /// queue as the greenlet yields (see `held`). Put it back with
    /// [`hold`](Self::hold) if the greenlet goes on after all.
    #[inline(always)]
    pub(super) fn lend_current(&self) -> Rc<Core> {
        let held = self.held.replace(std::ptr::null());
        if held.is_null() {
            return self.current_core();
        }
        debug_assert!(std::ptr::eq(held, self.current.get()));
        // SAFETY: by `held`'s invariant, an `Rc` it owned and no longer has.
        unsafe { Rc::from_raw(held) }
    }

    /// Gives the running greenlet's `Rc` back to `held`, which
    /// [`lend_current`](Self::lend_current) left null (nothing in between
    /// runs a greenlet).
    #[inline(always)]
    pub(super) fn hold(&self, g: Rc<Core>) {
        debug_assert!(std::ptr::eq(Rc::as_ptr(&g), self.current.get()));
        debug_assert!(self.held.get().is_null());
        self.held.set(Rc::into_raw(g));
    }

    /// Names `g` as the greenlet about to continue (see `incoming`).
    #[inline(always)]
    pub(super) fn set_incoming(&self, g: Rc<Core>) {
        debug_assert!(self.incoming.get().is_null());
        self.incoming.set(Rc::into_raw(g));
    }

    /// Called by a greenlet as soon as it continues (when it starts, and
    /// after each suspend): it becomes `current` and its `Rc` goes from
    /// `incoming` to `held`, and the one whose place it takes (the greenlet
    /// that handed it the thread, if any) lets go of its `Rc` unless it
    /// lent it to the run queue.
    #[inline(always)]
    pub(super) fn arrive(&self) {
        let g = self.incoming.replace(std::ptr::null());
        debug_assert!(!g.is_null(), "a greenlet continued unannounced");
        self.current.set(g);
        let before = self.held.replace(g);
        if !before.is_null() {
            // SAFETY: by `held`'s invariant, an `Rc` it owned and no longer
            // has. Not the last one: the greenlet is alive (it just
            // suspended), so the slab has one too.
            drop(unsafe { Rc::from_raw(before) });
        }
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
    pub(super) fn make_ready(&self, g: &Rc<Core>, wake: Wake) {
        debug_assert_eq!(g.state.get(), State::Parked);
        if g.timer_armed.replace(false) && wake != Wake::TimedOut {
            self.timers.borrow_mut().cancelled(is_live);
        }
        if g.wait_kind.replace(WaitKind::Local) != WaitKind::Local {
            self.remote_waits.set(self.remote_waits.get() - 1);
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

    /// [`Greenlet::unpark`] (`kind` `Token`) or [`Greenlet::signal`]
    /// (`Signal`) for a greenlet of this hub.
    pub(super) fn unpark_slot(&self, slot: u32, id: GreenletId, kind: WaitKind) {
        let g = match self.slab.borrow().get(slot as usize) {
            Some(Some(g)) if g.id() == id => g.clone(),
            _ => return, // finished: nothing to do
        };
        if g.state.get() == State::Parked && g.wait_kind.get() == kind {
            self.make_ready(&g, Wake::Unparked);
        } else {
            g.pending(kind).set(true);
        }
    }

    // ----- timeouts --------------------------------------------------------------

    /// Arms a timeout for the running greenlet; returns its id. `caught`:
    /// `green::timeout` runs it, and catches its `Elapsed`; then also
    /// whether the greenlet unwinds already (false when not `caught`).
    pub(crate) fn start_timeout(&self, at: Instant, caught: bool) -> (Rc<Core>, u64, bool) {
        let g = self.current_core();
        let id = self.next_timeout.get();
        self.next_timeout.set(id + 1);
        let unwinding = caught && self.unwinding(&g);
        {
            let mut e = g.extras_mut();
            e.timeouts.push(id);
            if unwinding {
                let at = e.unwinds;
                e.in_unwind.push((id, at));
            }
        }
        self.deadlines.borrow_mut().insert(at, g.clone(), id);
        (g, id, unwinding)
    }

    /// Disarms timeout `id` of `g`, and forgets it if it fired unraised.
    pub(crate) fn cancel_timeout(&self, g: &Rc<Core>, id: u64) {
        let removed = {
            let mut e = g.extras_mut();
            let before = e.timeouts.len();
            e.timeouts.retain(|&t| t != id);
            e.fired.retain(|&t| t != id);
            e.in_unwind.retain(|&(t, _)| t != id);
            e.timeouts.len() != before
        };
        if g.interrupt.get() == Some(id) {
            g.interrupt.set(None);
            g.next_interrupt();
        }
        if removed {
            self.deadlines.borrow_mut().cancelled(is_live_timeout);
        }
    }

    /// A timeout fired: interrupt its greenlet at its wait, or at its next
    /// one. An earlier interrupt still pending goes first; this one waits in
    /// `Extras::fired` for its turn.
    pub(super) fn fire_timeout(&self, g: &Rc<Core>, id: u64) {
        match g.interrupt.get() {
            None => g.interrupt.set(Some(id)),
            Some(pending) if pending != id => g.extras_mut().fired.push(id),
            Some(_) => {}
        }
        if g.state.get() == State::Parked && g.started.get() {
            self.make_ready(g, Wake::Interrupted);
        }
    }

    /// The earliest live deadline of a timer or a timeout.
    pub(super) fn next_deadline(&self) -> Option<Instant> {
        let timer = self.timers.borrow_mut().next_deadline(is_live);
        let timeout = self.deadlines.borrow_mut().next_deadline(is_live_timeout);
        match (timer, timeout) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    // ----- kill and finish ------------------------------------------------------

    /// Kills `target` (see `JoinHandle::kill`) and, when called from a
    /// greenlet, waits until it has finished.
    pub(crate) fn kill(&self, target: &Rc<Core>) {
        if target.state.get() == State::Running {
            if self.unwinding(target) {
                // Killing itself from a destructor while it unwinds: it is
                // dying already, and a second unwind would abort.
                target.kill.set(true);
                return;
            }
            target.unwind_begins();
            raise_exit();
        }
        self.mark_killed(target);
        if !target.is_finished() {
            self.wait_finished(target, "kill");
        }
    }

    /// Starts killing `target` (not the running greenlet) without waiting.
    pub(crate) fn mark_killed(&self, target: &Rc<Core>) {
        match target.state.get() {
            State::Finished | State::Running | State::Discarding => {}
            _ if !target.started.get() => self.discard(target),
            State::Parked => {
                target.kill.set(true);
                self.make_ready(target, Wake::Killed);
            }
            State::Ready => target.kill.set(true),
        }
    }

    /// Parks the running greenlet until `target` has finished (see
    /// `park_until_finished`).
    pub(crate) fn wait_finished(&self, target: &Rc<Core>, reason: &'static str) {
        let me = self.current_core();
        assert!(
            !Rc::ptr_eq(&me, target),
            "green: a greenlet cannot wait for itself to finish ({target:?} joined itself)"
        );
        self.park_until_finished(&me, target, None, reason);
    }

    /// Parks the running greenlet until `target` has finished or
    /// `deadline` has passed (`None`: never); returns whether it finished
    /// (see `park_until_finished`).
    pub(crate) fn wait_finished_until(
        &self,
        target: &Rc<Core>,
        deadline: Option<Instant>,
        reason: &'static str,
    ) -> bool {
        let me = self.current_core();
        assert!(
            !Rc::ptr_eq(&me, target),
            "green: a greenlet cannot wait for itself to finish ({target:?} waited for \
             itself in {reason})"
        );
        self.park_until_finished(&me, target, deadline, reason)
    }

    /// Parks `me`, the running greenlet (not `target`), until `target` has
    /// finished or `deadline` has passed; returns whether it finished.
    /// Even a deadline already past suspends it once, until the hub's next
    /// turn (see `park_with`). It leaves `target`'s joiners when it gives
    /// up or unwinds, so that a loop of short waits on a long greenlet does
    /// not pile up entries there (`Group::join`, which a `join_timeout`
    /// cuts short, waits here too); a wait that sees `target` finish has
    /// nothing to leave (the end took every joiner).
    fn park_until_finished(
        &self,
        me: &Rc<Core>,
        target: &Rc<Core>,
        deadline: Option<Instant>,
        reason: &'static str,
    ) -> bool {
        /// Takes the waiter out of `target`'s joiners unless it finished
        /// (which took them all), however the wait ends.
        struct Leave<'a> {
            me: &'a Rc<Core>,
            target: &'a Rc<Core>,
        }
        impl Drop for Leave<'_> {
            fn drop(&mut self) {
                self.me.waits_for.set(None);
                if !self.target.is_finished() {
                    let me = self.me;
                    let mut extras = self.target.extras_mut();
                    extras.joiners.retain(|(j, _)| !Rc::ptr_eq(j, me));
                }
            }
        }
        me.waits_for.set(Some(target.id()));
        let _leave = Leave { me, target };
        loop {
            if target.is_finished() {
                return true;
            }
            let wake = self.park_with(me, WaitKind::Local, reason, deadline, false, |me, seq| {
                target.extras_mut().joiners.push((me.clone(), seq));
                Ok::<_, std::convert::Infallible>(true)
            });
            if matches!(wake, Ok(Wake::TimedOut)) {
                return target.is_finished();
            }
        }
    }

    /// Parks the running greenlet until one of `targets` has finished;
    /// returns the index of the first finished one.
    /// It leaves the joiners of the targets still running however the wait
    /// ends, as `park_until_finished` does: a loop of `wait_any` on a
    /// long-lived greenlet and short ones would otherwise pile up entries
    /// on the long one.
    pub(crate) fn wait_any(&self, targets: &[Rc<Core>]) -> usize {
        /// Takes the waiter out of the joiners of every target that has not
        /// finished (a finished one took them all), however the wait ends.
        struct Leave<'a> {
            me: &'a Rc<Core>,
            targets: &'a [Rc<Core>],
        }
        impl Drop for Leave<'_> {
            fn drop(&mut self) {
                // A target with no extras has no joiners to leave.
                for t in self.targets.iter() {
                    if !t.is_finished() && t.extras().is_some() {
                        t.extras_mut()
                            .joiners
                            .retain(|(j, _)| !Rc::ptr_eq(j, self.me));
                    }
                }
            }
        }
        let me = self.current_core();
        let _leave = Leave { me: &me, targets };
        loop {
            if let Some(i) = targets.iter().position(|t| t.is_finished()) {
                return i;
            }
            assert!(
                !targets.iter().any(|t| Rc::ptr_eq(t, &me)),
                "green: a greenlet cannot wait for itself to finish"
            );
            let _ = self.park_with(&me, WaitKind::Local, "wait_any", None, false, |me, seq| {
                for t in targets {
                    t.extras_mut().joiners.push((me.clone(), seq));
                }
                Ok::<_, std::convert::Infallible>(true)
            });
        }
    }

    /// Finishes a greenlet that never started: its body is dropped unrun, on
    /// the caller's stack.
    pub(super) fn discard(&self, target: &Rc<Core>) {
        if target.state.get() == State::Parked {
            // waiting for its spawn_later timer
            if target.timer_armed.replace(false) {
                self.timers.borrow_mut().cancelled(is_live);
            }
        }
        let co = target.co.borrow_mut().take();
        if let Some(mut co) = co {
            // Out of reach of the loop before any capture is dropped (a
            // destructor may switch; if Ready, it is still queued, and the
            // loop skips it), finished once they all are, however that ends.
            target.state.set(State::Discarding);
            struct Finish<'a>(&'a Hub, &'a Rc<Core>);
            impl Drop for Finish<'_> {
                fn drop(&mut self) {
                    self.0.finish(self.1, None);
                }
            }
            let finish = Finish(self, target);
            co.discard_unstarted();
            drop(finish);
            co.recycle();
        }
    }

    /// Keeps the record of a finished greenlet for a later spawn, if nothing
    /// else refers to it any more (its `JoinHandle` was joined or dropped,
    /// no timer entry is left): a spawn then reuses it instead of
    /// allocating one. A thousand records of one size freed at once fall out
    /// of glibc's per-thread cache, so `malloc` and `free` took its slow
    /// paths in batches of spawns.
    pub(crate) fn recycle_core(&self, core: Rc<Core>) {
        let unshared = Rc::strong_count(&core) == 1 && Rc::weak_count(&core) == 0;
        let mut spare = self.spare_cores.borrow_mut();
        if core.is_finished() && unshared && spare.len() < MAX_SPARE_CORES {
            spare.push(core);
        } else {
            // Dropped with no borrow of the hub held.
            drop(spare);
            drop(core);
        }
    }

    /// How many records [`recycle_core`](Self::recycle_core) keeps.
    #[cfg(test)]
    fn spare_cores(&self) -> usize {
        self.spare_cores.borrow().len()
    }

    /// Marks `g` finished, wakes its joiners and releases its slot and stack.
    pub(super) fn finish(&self, g: &Rc<Core>, co: Option<Coroutine>) {
        g.state.set(State::Finished);
        if self
            .main
            .borrow()
            .as_ref()
            .is_some_and(|m| Rc::ptr_eq(m, g))
        {
            self.main_finished.set(true);
        }
        let slot = g.slot();
        self.slab.borrow_mut()[slot as usize] = None;
        self.free_slots.borrow_mut().push(slot);
        if let Some(co) = co {
            co.recycle();
        }
        let joiners = g.take_joiners();
        for (j, seq) in joiners {
            self.wake(&j, seq, Wake::Unparked);
        }
    }

    /// Called by `run` once the main greenlet is done: any greenlet still
    /// suspended ignored its kill; unwind it through generator's cancel so
    /// that its destructors still run, then release everything.
    ///
    /// Newest first: a scoped greenlet is always newer than the greenlet
    /// whose stack it borrows from (its scope's owner, or an owner further
    /// up), so it is gone before those frames unwind. Greenlets spawned
    /// meanwhile (by destructors) are handled in a further round.
    pub(crate) fn shutdown(&self) {
        // Nothing can hand the thread on from here (`suspend_running`): the
        // loop ran its last batch to the end.
        debug_assert!(self.ready.borrow().batch_done());
        loop {
            let mut leftovers: Vec<Rc<Core>> =
                self.slab.borrow().iter().flatten().cloned().collect();
            if leftovers.is_empty() {
                break;
            }
            leftovers.sort_by_key(|g| std::cmp::Reverse(g.id()));
            for g in leftovers {
                let co = g.co.borrow_mut().take();
                match co {
                    Some(co) if co.is_done() => self.finish(&g, Some(co)),
                    Some(co) => {
                        self.resuming(&g);
                        let started = g.started.get();
                        // Its code runs: `current` must name it (it does
                        // not `arrive`: it continues by unwinding).
                        self.enter(g.clone());
                        if co.force_unwind(started) {
                            // Its frames never unwound, and its stack stays:
                            // so does its record, which they may point to
                            // (a blocked channel operation's node borrows
                            // the greenlet's handle, `park::FrameWaiter`).
                            std::mem::forget(g.clone());
                        }
                        // Empty if it suspended again on its way out (it
                        // did its own bookkeeping then).
                        drop(self.take_current());
                        self.finish(&g, None);
                    }
                    // Finished meanwhile (a destructor killed it), or on its
                    // way there.
                    None if !g.is_finished() => self.finish(&g, None),
                    None => {}
                }
            }
        }
        self.remote.close();
        self.io.borrow_mut().clear();
        *self.main.borrow_mut() = None;
        *self.timers.borrow_mut() = Timers::default();
        *self.deadlines.borrow_mut() = Timers::default();
        *self.ready.borrow_mut() = ReadyQueue::default();
    }
}

/// Whether a deadline entry's timeout is still alive.
pub(super) fn is_live_timeout(g: &Rc<Core>, id: u64) -> bool {
    g.state.get() != State::Finished && g.has_timeout(id)
}

/// Whether a timer entry for `g` with park sequence `seq` can still fire.
pub(super) fn is_live(g: &Rc<Core>, seq: u64) -> bool {
    g.state.get() == State::Parked && g.park_seq.get() == seq && g.timer_armed.get()
}
