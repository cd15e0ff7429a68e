//! Greenlets for Rust: gevent's model on stackful coroutines.
//!
//! Many greenlets run on **one** OS thread, one at a time. When a greenlet
//! would block (it sleeps, waits on a channel, joins another greenlet, or
//! waits for a socket), the thread's *hub* switches to another one that is
//! ready. Switching is invisible to the kernel (no syscall, no preemption),
//! so the order in which greenlets run is deterministic and greenlets of one
//! hub need no locks between them.
//!
//! ```
//! use std::time::Duration;
//!
//! green::run(|| {
//!     let a = green::spawn(|| {
//!         green::sleep(Duration::from_millis(20));
//!         "slow"
//!     });
//!     let b = green::spawn(|| "fast");
//!     // both run while main waits in join
//!     assert_eq!(b.join().unwrap(), "fast");
//!     assert_eq!(a.join().unwrap(), "slow");
//! });
//! ```
//!
//! # The seed example
//!
//! gevent's classic demonstration, ported (`cargo run --example seed`):
//!
//! ```
//! fn func(n: u32) {
//!     for i in 0..n {
//!         println!("{:?} {i}", green::current());
//!     }
//! }
//!
//! fn io_func(n: u32) {
//!     for i in 0..n {
//!         println!("{:?} {i}", green::current());
//!         green::sleep(std::time::Duration::ZERO); // yield, like gevent.sleep(0)
//!     }
//! }
//!
//! green::run(|| {
//!     for n in 2..4 {
//!         let name = format!("func({n})");
//!         green::Builder::new().name(name).spawn(move || func(n)).unwrap().join().unwrap();
//!     }
//!     println!("{}", "*".repeat(20));
//!     let handles = (2..4).map(|n| {
//!         let name = format!("IO_func({n})");
//!         green::Builder::new().name(name).spawn(move || io_func(n)).unwrap()
//!     });
//!     green::joinall(handles.collect::<Vec<_>>());
//! });
//! ```
//!
//! prints, exactly as gevent does (with our ids for its addresses):
//!
//! ```text
//! <Greenlet 1 "func(2)"> 0
//! <Greenlet 1 "func(2)"> 1
//! <Greenlet 2 "func(3)"> 0
//! <Greenlet 2 "func(3)"> 1
//! <Greenlet 2 "func(3)"> 2
//! ********************
//! <Greenlet 3 "IO_func(2)"> 0
//! <Greenlet 4 "IO_func(3)"> 0
//! <Greenlet 3 "IO_func(2)"> 1
//! <Greenlet 4 "IO_func(3)"> 1
//! <Greenlet 4 "IO_func(3)"> 2
//! ```
//!
//! # What runs when
//!
//! - [`run`](run()) makes a hub for the calling thread and runs its
//!   closure as the *main greenlet* (id 0). When it returns, the greenlets still alive are
//!   killed, and `run` returns its value.
//! - [`spawn`] queues a new greenlet at the back of the FIFO run queue; it
//!   runs when the current greenlet next switches. [`yield_now`] goes to the
//!   back of the queue. One hub iteration runs the greenlets that were ready
//!   when it began, fires due timers, then polls for IO.
//! - [`sleep`](sleep()) and timeouts never return early; equal deadlines
//!   fire in the order they were set.
//!
//! # Failure is loud and contained
//!
//! - A panicking greenlet is reported once, by name (`greenlet <Greenlet 3
//!   "worker"> panicked at …`), and its payload goes to [`JoinHandle::join`];
//!   the hub and the other greenlets carry on. A panic of the main greenlet
//!   comes out of [`run`](run()).
//! - [`JoinHandle::kill`] unwinds a greenlet where it is suspended, running
//!   its destructors.
//! - When every greenlet is blocked and nothing could ever wake one, the main
//!   greenlet panics with `all greenlets are blocked`, listing what each one
//!   waits on (gevent's `LoopExit`).
//! - A greenlet that overflows its stack hits a guard page; the process
//!   aborts with a message naming the greenlet. Stacks are 256 KiB by
//!   default ([`Builder::stack_size`], [`set_default_stack_size`],
//!   `GREEN_STACK_SIZE`); only touched pages use memory.
//!
//! # Threads
//!
//! Greenlets never leave their hub's thread, so [`spawn`] needs no `Send`.
//! Other threads reach a greenlet through [`Greenlet::unpark`], through the
//! [`channel`]s (which are `Send` when their values are), and
//! [`unblock`](unblock()) runs blocking work on a thread pool.
//!
//! # Known traps
//!
//! - Blocking the thread (a `std::sync::Mutex` held across a switch, a
//!   blocking call from a crate that uses std directly, a long computation)
//!   blocks every greenlet of the hub. Use `green-std`, or
//!   [`unblock`](unblock()). To find such calls, turn on the blocking
//!   detector ([`set_max_blocking_time`], or `GREEN_MAX_BLOCKING_TIME=100`
//!   for 100 ms): a thread then reports on stderr each greenlet that keeps
//!   its hub from switching for longer than that (gevent's monitor thread).
//! - A greenlet that blocks *while unwinding* (a destructor that sleeps or
//!   does green IO during a panic or a kill) lets other greenlets run while
//!   `std::thread::panicking()` is true for the thread. A `std::sync::Mutex`
//!   guard dropped by one of them then poisons its mutex, and one taken
//!   meanwhile does not poison when its own holder panics later. The locks
//!   of [`sync`] ask the hub whether the holding greenlet unwinds, so they
//!   poison as std's do between threads, with two exceptions while another
//!   greenlet is suspended mid-unwind (the thread's panic count then mixes
//!   theirs, so the hub goes by what it saw): a greenlet that panics while
//!   holding a guard and catches the panic with `catch_unwind` still counts
//!   as unwinding, so dropping that guard afterwards poisons its lock; and
//!   a panic hook set after the process's first `run` started (green's own
//!   goes in then) that does not call the hook it replaced hides the start
//!   of a greenlet's panic, so its guards do not poison.

#![doc(test(attr(deny(warnings))))]

mod affinity;
mod builder;
pub mod channel;
mod coroutine;
mod deadlock;
mod env;
pub mod event;
mod greenlet;
mod hub;
pub mod io;
mod join;
mod kill;
mod local;
pub mod lock;
mod monitor;
mod park;
pub mod pool;
pub mod queue;
mod run;
mod runtime;
mod scope;
mod sleep;
mod stderr;
pub mod sync;
mod timeout;
mod unblock;
mod wait;

pub use affinity::pinned_cpu;
pub use builder::{spawn, spawn_later, Builder};
pub use greenlet::{current, Greenlet, GreenletId};
pub use join::{joinall, JoinError, JoinHandle};
pub use local::LocalKey;
pub use park::{park, park_timeout};
pub use run::run;
pub use runtime::Runtime;
pub use scope::{scope, Scope, ScopedJoinHandle, ScopedSendJoinHandle};
pub use sleep::{sleep, sleep_until, yield_now};
pub use timeout::{timeout, timeout_at, Elapsed, Timeout};
pub use unblock::unblock;
pub use wait::{iwait, killall, wait_any, IWait};

use std::time::Duration;

/// Sets the process-wide default stack size of new greenlets, in bytes.
///
/// Rounded up to whole pages and to at least 16 KiB. Without a call, the
/// default is 256 KiB, or the `GREEN_STACK_SIZE` environment variable when
/// set (a number of bytes; anything else is a panic at the first spawn).
/// [`Builder::stack_size`] overrides it per greenlet.
///
/// # Examples
///
/// ```
/// green::set_default_stack_size(128 * 1024);
/// assert_eq!(green::default_stack_size(), 128 * 1024);
/// # green::set_default_stack_size(256 * 1024);
/// ```
pub fn set_default_stack_size(bytes: usize) {
    coroutine::stack::set_default_size(bytes);
}

/// The process-wide default stack size of new greenlets, in bytes.
pub fn default_stack_size() -> usize {
    coroutine::stack::default_size()
}

/// Turns on the blocking detector (gevent's monitor thread and its
/// `max_blocking_time`): a greenlet that keeps its hub from switching to
/// another greenlet for longer than `max` is reported on stderr; `None`
/// turns it off.
///
/// A greenlet that blocks its thread (`std::thread::sleep`, a std socket
/// read, a crate's blocking call) or computes for long freezes every
/// greenlet of its hub. With the detector on, one thread of the process,
/// `green-monitor`, looks at every hub each `max / 2`; a hub that has
/// neither started a batch of ready greenlets nor waited for IO or timers
/// for longer than `max` is reported once, with the greenlet it runs, its
/// thread and how long it has been blocked so far; a second line says how
/// long it lasted once the hub runs again:
///
/// ```text
/// green: greenlet <Greenlet 3 "stuck"> has blocked the hub of thread 'main' for 62 ms (more than the 50 ms max blocking time): a call that blocks the thread, not the greenlet? Use green-std's types, or green::unblock for blocking calls and long computations.
/// green: the hub of thread 'main' runs again: greenlet <Greenlet 3 "stuck"> blocked it for 387 ms or more
/// green: greenlet <Greenlet 3 "stuck">, reported blocking the hub of thread 'main', went on from here (its first switch after the report):
///    7: green::sleep::yield_now
///              at ./green-core/src/sleep.rs:34:5
///    8: server::handle_client
///              at ./src/server.rs:42:9
/// ```
///
/// The last report is the reported greenlet's stack, as gevent's monitor
/// prints it, but taken at the greenlet's first switch after the block
/// (the monitor thread cannot take another thread's stack): the function
/// that made the blocking call and its callers. None is taken from a
/// greenlet with less than 32 KiB of its stack left at that switch, or one
/// that ends without switching again. When the time went elsewhere (a long
/// batch of short greenlets, reported with the one resumed last; a thread
/// the OS did not schedule), the trace shows where the named greenlet next
/// switched, which is not where the time went.
///
/// Times come from the monitor's looks: a block is reported between `max`
/// and `1.5 × max` after it began, and the times given are lower bounds.
/// A hub waiting in its poller (every greenlet sleeping or waiting for IO)
/// is idle, never reported. A greenlet that legitimately computes for long
/// is reported too, as gevent's monitor does: run such work on the
/// blocking pool with [`unblock`](unblock()), or yield now and then with
/// [`yield_now`]. So is a hub whose thread the OS left unscheduled that
/// long.
///
/// Off by default. Without a call, the `GREEN_MAX_BLOCKING_TIME`
/// environment variable sets it, in milliseconds (read once; empty means
/// unset). The setting applies to hubs started after it ([`run`](run()),
/// each hub of a [`Runtime`]); turning it off silences the reports of
/// hubs already watched at once. A hub not watched pays the test of an
/// `Option` per switch and per batch: a yield between two greenlets
/// measured about 1% slower (10.4 ns against 10.5), within the noise of
/// single runs, as was spawn + join; a watched one also stores which
/// greenlet it resumes, for the report: about 0.7 ns more per yield
/// (10.2 ns against 10.9) with the two stores it first made, 1–2% more per
/// spawn + join.
///
/// # Panics
///
/// Panics if `max` is zero (use `None` to turn the detector off).
///
/// # Examples
///
/// ```
/// use std::time::Duration;
///
/// green::set_max_blocking_time(Some(Duration::from_millis(100)));
/// assert_eq!(green::max_blocking_time(), Some(Duration::from_millis(100)));
/// green::run(|| {
///     // Waiting the green way is never reported...
///     green::sleep(Duration::from_millis(150));
///     // ...and neither is blocking work sent to the blocking pool.
///     green::unblock(|| std::thread::sleep(Duration::from_millis(150)));
///     // `std::thread::sleep(Duration::from_millis(150))` here would be.
/// });
/// green::set_max_blocking_time(None);
/// assert_eq!(green::max_blocking_time(), None);
/// ```
#[track_caller]
pub fn set_max_blocking_time(max: Option<Duration>) {
    monitor::set_max_blocking_time(max);
}

/// The max blocking time of the blocking detector, or `None` when it is
/// off (the default): see [`set_max_blocking_time`].
///
/// # Panics
///
/// Panics if nothing set it and the `GREEN_MAX_BLOCKING_TIME` environment
/// variable is set to anything but a whole number of milliseconds, at
/// least 1 (so does [`run`](run())).
///
/// # Examples
///
/// ```
/// # green::set_max_blocking_time(None);
/// assert_eq!(green::max_blocking_time(), None);
/// ```
pub fn max_blocking_time() -> Option<Duration> {
    monitor::max_blocking_time()
}

/// Whether the calling thread is inside [`run`](run()).
///
/// Libraries that work both ways (green-std's types block the thread outside
/// `run`, like std, and park the greenlet inside it) use this to choose.
///
/// # Examples
///
/// ```
/// assert!(!green::is_running());
/// green::run(|| assert!(green::is_running()));
/// ```
pub fn is_running() -> bool {
    hub::is_running()
}
