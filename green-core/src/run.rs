//! [`run`]: create this thread's hub, run the main greenlet, clean up.

use std::cell::RefCell;
use std::mem::ManuallyDrop;
use std::panic::{self, AssertUnwindSafe};
use std::rc::Rc;

use crate::coroutine::{stack, Coroutine};
use crate::hub::{self, Hub, Installed};
use crate::kill;
use crate::monitor;

/// Runs `f` as the main greenlet of a new hub on this thread and returns its
/// value: the entry point of every green program.
///
/// `f` runs on a coroutine stack of 8 MiB (like a main thread); it may spawn
/// greenlets, which run whenever it blocks, sleeps or yields. When `f`
/// returns, every greenlet still alive is killed (unwound, so destructors
/// run) before `run` returns.
///
/// If `f` panics, the other greenlets are killed as well and the panic
/// continues out of `run`. If every greenlet blocks with nothing left that
/// could wake one (no timer, no fd, no blocking job, no other thread that
/// could unpark), the main greenlet panics with a message listing what each
/// greenlet waits on (gevent's `LoopExit`).
///
/// # Panics
///
/// Panics when called inside `run` (a thread has one hub), when the hub's
/// poller cannot be created, when `GREEN_MAX_BLOCKING_TIME` is set to
/// anything but a number of milliseconds (see
/// [`set_max_blocking_time`](crate::set_max_blocking_time)), and with `f`'s
/// panic.
///
/// # Examples
///
/// ```
/// let total = green::run(|| {
///     let handles: Vec<_> = (1..=3).map(|n| green::spawn(move || n * n)).collect();
///     green::joinall(handles).into_iter().map(Result::unwrap).sum::<u32>()
/// });
/// assert_eq!(total, 14);
/// ```
pub fn run<F, T>(f: F) -> T
where
    F: FnOnce() -> T,
{
    assert!(
        !hub::is_running(),
        "green::run called inside green::run: a thread has one hub; spawn a greenlet with \
         green::spawn instead, or call green::run from another OS thread"
    );
    kill::install_hook();
    let result: RefCell<Option<std::thread::Result<T>>> = RefCell::new(None);
    // Watched by the blocking detector, if it is on, until `run` returns or
    // unwinds (dropped after the hub: declared before it).
    let watched = monitor::watch_this_thread();
    // Dropped only once every greenlet is done with (see the SAFETY below).
    let hub = ManuallyDrop::new(
        Hub::new(watched.as_ref().map(monitor::Registration::watch))
            .unwrap_or_else(|e| panic!("green::run: cannot create the hub: {e}")),
    );
    let installed = Installed::new(&hub);

    let body = || {
        // The main greenlet's locals are dropped after the others are
        // killed, as they may still use them.
        let outcome = crate::builder::ended(|| {
            let value = panic::catch_unwind(AssertUnwindSafe(f));
            let cleanup = panic::catch_unwind(kill_others);
            match (value, cleanup) {
                (Ok(value), Ok(())) => value,
                (Err(payload), _) | (Ok(_), Err(payload)) => panic::resume_unwind(payload),
            }
        });
        *result.borrow_mut() = Some(outcome);
    };
    // SAFETY: `body` borrows `f` and `result` from this frame. The hub loop
    // below runs until the main greenlet is finished, so the body completes
    // before `run` returns. If the loop itself unwinds (a bug, or a poller
    // failure), the hub is leaked: no coroutine is resumed or dropped again,
    // so no frame of any greenlet, this body included, runs after this
    // frame is gone, and every stack stays mapped for what borrows from it.
    let co = unsafe { Coroutine::new_unchecked(stack::MAIN_STACK_SIZE, body) }
        .unwrap_or_else(|e| panic!("green::run: cannot allocate the main greenlet: {e}"));
    // Named like the thread, as std's main thread is "main".
    let name = std::thread::current().name().map(String::from);
    let main = hub.spawn_core(name, co, None);
    hub.set_main(main);
    hub.run_until_main_finished();
    hub.shutdown();
    drop(installed);
    drop(ManuallyDrop::into_inner(hub));
    drop(watched);

    match result.into_inner() {
        Some(Ok(value)) => value,
        Some(Err(payload)) => panic::resume_unwind(payload),
        None => unreachable!("the main greenlet finished without a result"),
    }
}

/// Kills every greenlet but the caller, including those that dying
/// greenlets spawn, in spawn order.
fn kill_others() {
    hub::with(|hub| {
        let me = hub.current_core();
        loop {
            let others: Vec<Rc<_>> = hub.live_greenlets(&me);
            if others.is_empty() {
                break;
            }
            for g in others {
                hub.kill(&g);
            }
        }
    });
}
