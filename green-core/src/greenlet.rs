//! Greenlet identity: [`GreenletId`], the [`Greenlet`] handle returned by
//! [`current`], and the hub's private record of each greenlet ([`Core`]).

use std::cell::{Cell, OnceCell, Ref, RefCell, RefMut};
use std::fmt;
use std::rc::Rc;
use std::sync::Arc;

use crate::coroutine::Coroutine;
use crate::hub::{self, Remote};

/// A greenlet's identifier: small and sequential within its hub, like
/// gevent's `minimal_ident`.
///
/// The main greenlet that [`run`](crate::run()) starts is number 0; spawned
/// greenlets are numbered 1, 2, 3, … in spawn order. Identifiers of different
/// hubs never compare equal, even when their numbers match; `Display` shows
/// the number, `Debug` the hub too (`GreenletId { hub: 1, seq: 3 }`), so
/// distinct identifiers never print the same.
///
/// # Examples
///
/// ```
/// green::run(|| {
///     assert_eq!(green::current().id().as_u64(), 0);
///     let h = green::spawn(|| green::current().id());
///     let id = h.id();
///     assert_eq!(h.join().unwrap(), id);
///     assert_eq!(id.as_u64(), 1);
/// });
/// ```
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct GreenletId {
    hub: u64,
    seq: u64,
}

impl GreenletId {
    pub(crate) fn new(hub: u64, seq: u64) -> Self {
        GreenletId { hub, seq }
    }

    /// The greenlet's number within its hub (0 for the main greenlet).
    pub fn as_u64(&self) -> u64 {
        self.seq
    }

    pub(crate) fn hub(&self) -> u64 {
        self.hub
    }
}

impl fmt::Debug for GreenletId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("GreenletId")
            .field("hub", &self.hub)
            .field("seq", &self.seq)
            .finish()
    }
}

impl fmt::Display for GreenletId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&self.seq, f)
    }
}

/// A handle to a greenlet, like [`std::thread::Thread`] is to a thread.
///
/// Obtained with [`current`] or [`JoinHandle::greenlet`](crate::JoinHandle::greenlet).
/// It is `Send` and `Sync`: [`unpark`](Greenlet::unpark) works from any
/// thread, which is how other OS threads wake a greenlet.
///
/// Its `Debug` output reads like gevent's repr: `<Greenlet 3 "name">`.
#[derive(Clone)]
pub struct Greenlet {
    inner: Arc<Identity>,
}

struct Identity {
    id: GreenletId,
    name: Option<Box<str>>,
    /// Where the hub keeps this greenlet's [`Core`] while it is alive.
    slot: u32,
    /// The hub's inbox, for wake-ups from other threads; `None` when the
    /// handle was made after the hub was gone (the greenlet has finished,
    /// so there is nothing to wake).
    remote: Option<Arc<Remote>>,
}

impl Greenlet {
    fn new(id: GreenletId, name: Option<Box<str>>, slot: u32, remote: Option<Arc<Remote>>) -> Self {
        Greenlet {
            inner: Arc::new(Identity {
                id,
                name,
                slot,
                remote,
            }),
        }
    }

    /// The greenlet's identifier.
    ///
    /// # Examples
    ///
    /// ```
    /// green::run(|| {
    ///     let me = green::current();
    ///     assert_eq!(me.id(), green::current().id());
    /// });
    /// ```
    pub fn id(&self) -> GreenletId {
        self.inner.id
    }

    /// The greenlet's name, if it was given one with
    /// [`Builder::name`](crate::Builder::name). The main greenlet of a hub
    /// is named like the thread that runs the hub (`"main"` on the main
    /// thread, none on an unnamed one), as [`std::thread::Thread::name`].
    ///
    /// # Examples
    ///
    /// ```
    /// green::run(|| {
    ///     assert_eq!(green::current().name(), Some("main")); // the main thread
    ///     let h = green::Builder::new()
    ///         .name("worker".into())
    ///         .spawn(|| green::current().name().map(String::from))
    ///         .unwrap();
    ///     assert_eq!(h.join().unwrap().as_deref(), Some("worker"));
    /// });
    /// ```
    pub fn name(&self) -> Option<&str> {
        self.inner.name.as_deref()
    }

    /// Wakes the greenlet if it is blocked in [`park`](crate::park()), or makes
    /// its next `park` return at once, exactly like
    /// [`Thread::unpark`](std::thread::Thread::unpark).
    ///
    /// May be called from any thread. From another OS thread the wake-up goes
    /// through the hub's poller notification. Unparking a greenlet that has
    /// finished does nothing.
    ///
    /// # Examples
    ///
    /// ```
    /// green::run(|| {
    ///     let main = green::current();
    ///     let t = std::thread::spawn(move || main.unpark());
    ///     green::park(); // returns once the thread has unparked us
    ///     t.join().unwrap();
    /// });
    /// ```
    pub fn unpark(&self) {
        self.wake_by(WaitKind::Token);
    }

    /// Ends the greenlet's `WaitKind::Signal` wait (or makes its next one
    /// return at once), from any thread: [`unpark`](Self::unpark) for the
    /// crate's own waits, which leaves the park token alone.
    pub(crate) fn signal(&self) {
        self.wake_by(WaitKind::Signal);
    }

    /// [`signal`](Self::signal) if the greenlet belongs to this thread's
    /// hub; `false` (and nothing done) otherwise.
    pub(crate) fn signal_local(&self) -> bool {
        let i = &*self.inner;
        hub::unpark_local(i.id, i.slot, WaitKind::Signal)
    }

    fn wake_by(&self, kind: WaitKind) {
        let i = &*self.inner;
        if !hub::unpark_local(i.id, i.slot, kind) {
            if let Some(remote) = &i.remote {
                remote.push(i.slot, i.id, kind);
            }
        }
    }

    pub(crate) fn slot(&self) -> u32 {
        self.inner.slot
    }
}

impl PartialEq for Greenlet {
    fn eq(&self, other: &Self) -> bool {
        self.inner.id == other.inner.id
    }
}

impl Eq for Greenlet {}

impl fmt::Debug for Greenlet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt_greenlet(f, self.inner.id, self.name())
    }
}

/// gevent's repr, for [`Greenlet`] and [`Core`] alike.
fn fmt_greenlet(f: &mut fmt::Formatter<'_>, id: GreenletId, name: Option<&str>) -> fmt::Result {
    match name {
        Some(name) => write!(f, "<Greenlet {} {:?}>", id.seq, name),
        None => write!(f, "<Greenlet {}>", id.seq),
    }
}

/// Returns a handle to the greenlet that calls it.
///
/// # Panics
///
/// Panics outside [`run`](crate::run()).
///
/// # Examples
///
/// ```
/// green::run(|| {
///     let h = green::Builder::new()
///         .name("func(2)".into())
///         .spawn(|| format!("{:?}", green::current()))
///         .unwrap();
///     assert_eq!(h.join().unwrap(), r#"<Greenlet 1 "func(2)">"#);
/// });
/// ```
#[doc(alias = "getcurrent")]
pub fn current() -> Greenlet {
    hub::with(|hub| hub.current_core().handle().clone())
}

/// Where a greenlet is in its life.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum State {
    /// In the run queue.
    Ready,
    /// Executing on its stack right now.
    Running,
    /// Suspended until something wakes it (or not started yet and waiting
    /// for its `spawn_later` timer).
    Parked,
    /// Killed before it started: whoever killed it is dropping its closure,
    /// whose destructors may switch. Never resumed, and not finished until
    /// the captures are gone (a scope may wait for them: they may borrow
    /// from it).
    Discarding,
    /// Done: its body returned, panicked, was killed or was discarded.
    Finished,
}

/// Why a parked greenlet was made ready.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Wake {
    /// Nothing yet (or the wake was consumed).
    None,
    /// Woken by what it waited for (or spuriously: callers re-check).
    Unparked,
    /// Its deadline passed.
    TimedOut,
    /// [`JoinHandle::kill`](crate::JoinHandle::kill): unwind now.
    Killed,
    /// Nothing can ever wake any greenlet: the main greenlet panics.
    Deadlock,
    /// A [`Timeout`](crate::Timeout) of its fired: unwind with
    /// [`Elapsed`](crate::Elapsed) (see `Core::interrupt`).
    Interrupted,
}

/// What a parked greenlet waits for, for wake-up rules and deadlock reports.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum WaitKind {
    /// Woken only by this hub (join, timers, fds).
    Local,
    /// Woken by [`Greenlet::unpark`], possibly from another thread.
    Token,
    /// Woken by the crate's own signal ([`Greenlet::signal`]: locks,
    /// condition variables, channels, pool jobs), possibly from another
    /// thread. It leaves the park token alone, as std's locks leave a
    /// thread's: an `unpark` that comes during such a wait is kept for the
    /// greenlet's own `park`.
    Signal,
}

/// The hub's record of one greenlet. Lives in an `Rc` owned by the hub's
/// slab while the greenlet is alive, and by the `JoinHandle`.
pub(crate) struct Core {
    id: GreenletId,
    /// Where the hub's slab keeps it while it is alive.
    slot: u32,
    name: Option<Box<str>>,
    /// Its [`Greenlet`] handle, made on first use: most greenlets never
    /// need one, and it is a shared allocation of its own.
    handle: OnceCell<Greenlet>,
    /// Taken out only to be recycled; borrowed mutably while it runs.
    pub(crate) co: RefCell<Option<Coroutine>>,
    pub(crate) state: Cell<State>,
    pub(crate) started: Cell<bool>,
    /// Bumped at every park, so that stale timers and waiters can be told
    /// from live ones.
    pub(crate) park_seq: Cell<u64>,
    pub(crate) wait_kind: Cell<WaitKind>,
    /// What it is parked on, for the deadlock report.
    pub(crate) reason: Cell<&'static str>,
    /// The greenlet it waits for, when parked in `join` or `kill`.
    pub(crate) waits_for: Cell<Option<GreenletId>>,
    pub(crate) wake: Cell<Wake>,
    /// The unpark token of [`Greenlet::unpark`].
    pub(crate) token: Cell<bool>,
    /// A [`Greenlet::signal`] that came while it was not in a
    /// `WaitKind::Signal` wait: its next one returns at once.
    pub(crate) signal: Cell<bool>,
    /// A kill is pending: raise `GreenletExit` at the next switch point.
    pub(crate) kill: Cell<bool>,
    /// Its own frames are unwinding (a panic or a kill is on its way out), as
    /// last seen by `Hub::unwinding` (in `hub/park.rs`): a kill,
    /// a timeout or a deadlock is then not raised, since unwinding out of a
    /// destructor that runs for an unwind aborts the process. Changes only
    /// while it runs.
    pub(crate) unwinding: Cell<bool>,
    /// A timer entry for the current park is in the heap.
    pub(crate) timer_armed: Cell<bool>,
    /// A fired timeout to raise at the next switch point.
    pub(crate) interrupt: Cell<Option<u64>>,
    /// What few greenlets need, made on first use ([`extras_mut`]).
    ///
    /// [`extras_mut`]: Core::extras_mut
    extras: RefCell<Option<Box<Extras>>>,
}

/// The parts of a greenlet's record that most greenlets never use, in an
/// allocation of their own made on first use: the record is then 160
/// bytes instead of 240, and an idle greenlet's heap share 80 bytes smaller
/// (`malloc` chunks of 192 bytes instead of 272).
#[derive(Default)]
pub(crate) struct Extras {
    /// Greenlets waiting in `join`/`kill` for this one to finish.
    pub(crate) joiners: Vec<(Rc<Core>, u64)>,
    /// Ids of its live [`Timeout`](crate::Timeout)s, innermost last.
    pub(crate) timeouts: Vec<u64>,
    /// Timeouts that fired while another's interrupt was pending (in
    /// `Core::interrupt`), in firing order: each takes the slot once it is
    /// free, so that none is lost (an inner one raised and caught, an outer
    /// one fired meanwhile).
    pub(crate) fired: Vec<u64>,
    /// Unwinds begun in it since these extras were made (panics, kills,
    /// timeouts raised): see [`in_unwind`](Self::in_unwind).
    pub(crate) unwinds: u64,
    /// Timeouts started by `green::timeout` (which catches its own) while it
    /// was unwinding already, in a destructor, with [`unwinds`](Self::unwinds)
    /// then. Such a timeout may be raised while that unwind goes on, as long
    /// as no other unwind began since: its catch is inside the destructor,
    /// and no destructor of a later unwind lies between.
    pub(crate) in_unwind: Vec<(u64, u64)>,
    /// Its [`local!`](crate::local!) values, by key address.
    pub(crate) locals: Vec<(usize, Rc<dyn std::any::Any>)>,
    /// The keys whose values were dropped as it ended: a destructor may not
    /// bring them back (`local::clear_current`).
    pub(crate) destroyed: Vec<usize>,
}

impl Extras {
    /// Whether the fired timeout `id` may be raised while the greenlet
    /// unwinds: `green::timeout` started it in that unwind, and no other
    /// unwind began since (see [`in_unwind`](Self::in_unwind)).
    fn raisable_in_unwind(&self, id: u64) -> bool {
        self.in_unwind
            .iter()
            .any(|&(t, at)| t == id && at == self.unwinds)
    }
}

impl Core {
    /// The flag that remembers a wake-up of `kind` that came while the
    /// greenlet was not in such a wait.
    pub(crate) fn pending(&self, kind: WaitKind) -> &Cell<bool> {
        match kind {
            WaitKind::Token => &self.token,
            WaitKind::Signal => &self.signal,
            WaitKind::Local => unreachable!("a local wait has no pending flag"),
        }
    }

    pub(crate) fn new(id: GreenletId, name: Option<String>, slot: u32, co: Coroutine) -> Self {
        Core {
            id,
            slot,
            name: name.map(String::into_boxed_str),
            handle: OnceCell::new(),
            co: RefCell::new(Some(co)),
            state: Cell::new(State::Ready),
            started: Cell::new(false),
            park_seq: Cell::new(0),
            wait_kind: Cell::new(WaitKind::Local),
            reason: Cell::new(""),
            waits_for: Cell::new(None),
            wake: Cell::new(Wake::None),
            token: Cell::new(false),
            signal: Cell::new(false),
            kill: Cell::new(false),
            unwinding: Cell::new(false),
            timer_armed: Cell::new(false),
            interrupt: Cell::new(None),
            extras: RefCell::new(None),
        }
    }

    pub(crate) fn id(&self) -> GreenletId {
        self.id
    }

    /// Its [`Extras`], made on first use.
    pub(crate) fn extras_mut(&self) -> RefMut<'_, Extras> {
        RefMut::map(self.extras.borrow_mut(), |e| {
            &mut **e.get_or_insert_with(Box::default)
        })
    }

    /// Its [`Extras`], if they were ever made.
    pub(crate) fn extras(&self) -> Option<Ref<'_, Extras>> {
        Ref::filter_map(self.extras.borrow(), |e| e.as_deref()).ok()
    }

    /// Whether its timeout `id` is live (armed and not cancelled).
    pub(crate) fn has_timeout(&self, id: u64) -> bool {
        self.extras().is_some_and(|e| e.timeouts.contains(&id))
    }

    /// Records that an unwind begins in it (a panic, a kill, a timeout
    /// raised): sets `unwinding` and counts it in [`Extras::unwinds`], if
    /// the extras exist (no timeout can have counted on them otherwise).
    pub(crate) fn unwind_begins(&self) {
        self.unwinding.set(true);
        if let Ok(mut extras) = self.extras.try_borrow_mut() {
            if let Some(e) = extras.as_deref_mut() {
                e.unwinds += 1;
            }
        }
    }

    /// Whether a fired timeout may be raised although it unwinds (see
    /// [`take_interrupt_in_unwind`](Self::take_interrupt_in_unwind)).
    pub(crate) fn has_interrupt_in_unwind(&self) -> bool {
        let extras = self.extras.borrow();
        let Some(e) = extras.as_deref() else {
            return false;
        };
        self.interrupt
            .get()
            .is_some_and(|id| e.raisable_in_unwind(id))
            || e.fired.iter().any(|&id| e.raisable_in_unwind(id))
    }

    /// A fired timeout that may be raised although it unwinds (see
    /// [`Extras::in_unwind`]), taken out of the interrupt slot or of
    /// [`Extras::fired`].
    pub(crate) fn take_interrupt_in_unwind(&self) -> Option<u64> {
        let id = {
            let mut extras = self.extras.borrow_mut();
            let e = extras.as_deref_mut()?;
            match self.interrupt.get() {
                Some(id) if e.raisable_in_unwind(id) => {
                    self.interrupt.set(None);
                    id
                }
                _ => {
                    let i = e.fired.iter().position(|&id| e.raisable_in_unwind(id))?;
                    return Some(e.fired.remove(i));
                }
            }
        };
        self.next_interrupt();
        Some(id)
    }

    /// Puts the first timeout of [`Extras::fired`] still live into the
    /// empty interrupt slot, to be raised at the next switch point.
    pub(crate) fn next_interrupt(&self) {
        let mut extras = self.extras.borrow_mut();
        let Some(e) = extras.as_deref_mut() else {
            return;
        };
        while !e.fired.is_empty() {
            let id = e.fired.remove(0);
            if e.timeouts.contains(&id) {
                self.interrupt.set(Some(id));
                return;
            }
        }
    }

    /// Takes its joiners (it finished), making no [`Extras`].
    pub(crate) fn take_joiners(&self) -> Vec<(Rc<Core>, u64)> {
        let mut extras = self.extras.borrow_mut();
        extras
            .as_mut()
            .map(|e| std::mem::take(&mut e.joiners))
            .unwrap_or_default()
    }

    /// Takes its last local value (its body ended), making no [`Extras`].
    pub(crate) fn pop_local(&self) -> Option<(usize, Rc<dyn std::any::Any>)> {
        self.extras.borrow_mut().as_mut()?.locals.pop()
    }

    pub(crate) fn slot(&self) -> u32 {
        self.slot
    }

    pub(crate) fn name(&self) -> Option<&str> {
        self.name.as_deref()
    }

    /// Its [`Greenlet`] handle (made now if nobody asked before).
    pub(crate) fn handle(&self) -> &Greenlet {
        self.handle.get_or_init(|| {
            Greenlet::new(
                self.id,
                self.name.clone(),
                self.slot,
                hub::remote_of(self.id.hub()),
            )
        })
    }

    pub(crate) fn is_finished(&self) -> bool {
        self.state.get() == State::Finished
    }
}

impl fmt::Debug for Core {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt_greenlet(f, self.id, self.name())
    }
}

/// `n` records of finished greenlets (they may be dropped), for unit tests
/// of the structures that hold records.
#[cfg(test)]
pub(crate) fn finished_cores(n: u32) -> Vec<std::rc::Rc<Core>> {
    (0..n)
        .map(|i| {
            let mut co = Coroutine::new(64 * 1024, || {}).unwrap();
            co.resume_alone(); // done: a record that may be dropped
            std::rc::Rc::new(Core::new(GreenletId::new(0, i.into()), None, i, co))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    #[test]
    fn a_record_fits_a_192_byte_malloc_chunk() {
        // `Rc<Core>`: two counts, then the record; glibc adds 8 bytes and
        // rounds to 16. Rarely used parts live in `Extras`.
        let rc = 2 * std::mem::size_of::<usize>() + std::mem::size_of::<super::Core>();
        assert!(
            (rc + 8).next_multiple_of(16) <= 192,
            "Rc<Core> is {rc} bytes"
        );
    }
}
