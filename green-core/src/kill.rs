//! Killing greenlets: the `GreenletExit` unwind payload, and the panic hook
//! that reports greenlet panics once, by greenlet, and keeps quiet about
//! kills.

use std::any::Any;
use std::panic::{self, PanicHookInfo};
use std::sync::Once;

/// The payload a killed greenlet unwinds with (gevent's `GreenletExit`).
///
/// It is raised with [`panic::resume_unwind`], which does not run the panic
/// hook: a kill prints nothing. User code that catches it with
/// `catch_unwind` may carry on, as in gevent; the greenlet then finishes with
/// whatever it returns.
#[derive(Debug)]
pub(crate) struct GreenletExit;

/// Unwinds the running greenlet with [`GreenletExit`].
pub(crate) fn raise_exit() -> ! {
    panic::resume_unwind(Box::new(GreenletExit))
}

/// Whether a caught panic payload means "killed" rather than "panicked".
pub(crate) fn is_exit(payload: &(dyn Any + Send)) -> bool {
    payload.is::<GreenletExit>() || crate::coroutine::is_control_payload(payload)
}

/// Installs, once per process, a panic hook in front of the current one.
///
/// Inside a greenlet it prints `greenlet <Greenlet 3 "name"> panicked at
/// …` (plus the backtrace when `RUST_BACKTRACE` asks for it); everywhere else
/// it hands the panic to the previous hook unchanged.
pub(crate) fn install_hook() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        let previous = panic::take_hook();
        panic::set_hook(Box::new(move |info| hook(info, &*previous)));
    });
}

type Hook = dyn Fn(&PanicHookInfo<'_>) + Sync + Send + 'static;

fn hook(info: &PanicHookInfo<'_>, previous: &Hook) {
    // The hub's `current` names the greenlet whose stack runs, also one
    // cancelled at a hand-off, which panics before it `arrive`s.
    let core = crate::hub::try_with(|hub| hub.current_core_opt()).flatten();
    if let Some(g) = &core {
        // This greenlet starts unwinding (see `Hub::unwinding`).
        g.unwind_begins();
    }
    if crate::coroutine::is_quiet() || is_exit(info.payload()) {
        return;
    }
    let greenlet = core.map(|g| format!("{g:?}"));
    let Some(greenlet) = greenlet else {
        previous(info);
        return;
    };
    let msg = info.payload_as_str().unwrap_or("Box<dyn Any>");
    let location = info
        .location()
        .map_or_else(String::new, |l| format!(" at {l}"));
    let thread = std::thread::current();
    let thread = thread.name().unwrap_or("<unnamed>");
    let backtrace = std::backtrace::Backtrace::capture();
    match backtrace.status() {
        std::backtrace::BacktraceStatus::Captured => eprintln!(
            "greenlet {greenlet} (thread '{thread}') panicked{location}:\n{msg}\nstack backtrace:\n{backtrace}"
        ),
        _ => eprintln!(
            "greenlet {greenlet} (thread '{thread}') panicked{location}:\n{msg}\n\
             note: run with `RUST_BACKTRACE=1` environment variable to display a backtrace"
        ),
    }
}
