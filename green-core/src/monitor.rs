//! The blocking detector: one thread per process that notices a hub stuck
//! in one greenlet (gevent's monitor thread and its `max_blocking_time`).
//!
//! A greenlet that blocks its thread (`std::thread::sleep`, a std socket
//! read, a long computation) freezes every greenlet of its hub, and the hub
//! cannot notice, since it is not running. With a max blocking time set
//! ([`set_max_blocking_time`], or `GREEN_MAX_BLOCKING_TIME` in
//! milliseconds), each hub started afterwards is watched by the
//! `green-monitor` thread, started with the first of them; off by default.
//!
//! # What a watched hub publishes ([`Watch`])
//!
//! - `progress`, bumped when the hub starts a batch of ready greenlets and
//!   when it comes back from waiting in its poller: not per switch;
//! - `polling`, set while it waits in its poller (idle, not blocked);
//! - `running`, the number of the greenlet it resumed last, stored at
//!   every resume (the one relaxed store per switch a watched hub pays);
//! - the names of its named greenlets, for the report: by slab slot, under
//!   a lock taken only when a named greenlet starts (the report finds the
//!   running greenlet's by its number).
//!
//! Only the hub's thread writes them. The flag is cleared with `Release`
//! after the bump that ends a wait, and read with `Acquire` before the
//! counter: the monitor that sees the hub out of its poller sees the bump.
//! A hub that is not watched pays the test of an `Option` at each batch
//! start, each resume and each suspend to the loop (which then polls or
//! blocks: hundreds of times the test's cost), nothing at a spawn or a
//! greenlet's end.
//!
//! # What the monitor does
//!
//! Every half max blocking time it looks at every watched hub. A hub that
//! was out of its poller, with its counter unmoved, at every look for more
//! than the max has not started a batch nor waited since: it is blocked,
//! and the monitor says so on stderr, naming the greenlet, the thread and
//! the time (once per episode); when it moves again, the monitor says how
//! long it lasted, and so does the hub itself if it ends first. Times are
//! counted from the monitor's own looks: a report comes one to one and a
//! half max after the block began (plus the monitor's own scheduling
//! delays), and the times it gives are lower bounds, within half a max. Reports are written with one `write(2)`
//! each, outside any lock: the blocked greenlet may hold std's stderr lock.
//!
//! A hub that runs one long batch of greenlets, each short, is reported as
//! well, with the greenlet it resumed last before the monitor looked: the
//! hub polled no IO and fired no timer for that long. So is a thread the
//! OS did not schedule for that long.
//!
//! # Where the blocked greenlet went on
//!
//! A report asks the hub for the blocked greenlet's stack ([`Watch::trace`]
//! holds its number). The monitor cannot take another thread's stack, so
//! the hub takes it at the greenlet's first switch after the report, on
//! the greenlet's own stack ([`Watch::wants_trace_of`], tested only by a
//! watched hub as it marks the next greenlet running, or as a greenlet
//! suspends to the loop), as a `Backtrace` left unresolved; the monitor
//! resolves and prints it at its next look: the frames of the function
//! that made the blocking call, from the green call it made next, and
//! every caller up to the greenlet's start. A greenlet with less than
//! [`TRACE_MIN_LEFT`] of its stack left below the switch is not traced
//! (taking the trace needs stack of its own, 8–12 KiB measured), nor one
//! that ends without switching again.

use std::backtrace::Backtrace;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, OnceLock, PoisonError};
use std::time::{Duration, Instant};

/// The setting in nanoseconds; [`UNSET`]: read `GREEN_MAX_BLOCKING_TIME`;
/// [`OFF`]: set to `None`.
static SETTING: AtomicU64 = AtomicU64::new(UNSET);
const UNSET: u64 = u64::MAX;
const OFF: u64 = 0;

/// The monitor thread exists (for `deadlock::alone_in_process`: it never
/// wakes a greenlet).
static THREAD_STARTED: AtomicBool = AtomicBool::new(false);

/// [`Watch::trace`] when no trace is wanted: no greenlet has this number.
const NO_TRACE: u64 = u64::MAX;

/// The least stack a greenlet must have left below its switch for a trace
/// to be taken there: unwinding and capturing the frames takes some KiB of
/// it (a trace taken with 8 KiB left overflowed a 64 KiB stack).
pub(crate) const TRACE_MIN_LEFT: usize = 32 * 1024;

/// The process-wide max blocking time (see [`crate::max_blocking_time`]).
///
/// # Panics
///
/// If `GREEN_MAX_BLOCKING_TIME` is read here and is not a number of
/// milliseconds (at least 1).
pub(crate) fn max_blocking_time() -> Option<Duration> {
    match SETTING.load(Ordering::Relaxed) {
        UNSET => {
            static FROM_ENV: OnceLock<Option<Duration>> = OnceLock::new();
            *FROM_ENV.get_or_init(|| {
                crate::env::number("GREEN_MAX_BLOCKING_TIME", "milliseconds", 1)
                    .map(|ms| Duration::from_millis(ms as u64))
            })
        }
        OFF => None,
        nanos => Some(Duration::from_nanos(nanos)),
    }
}

/// Sets the process-wide max blocking time (see
/// [`crate::set_max_blocking_time`]).
#[track_caller]
pub(crate) fn set_max_blocking_time(max: Option<Duration>) {
    let nanos = match max {
        None => OFF,
        Some(max) => {
            assert!(
                !max.is_zero(),
                "green::set_max_blocking_time: a max of zero; use None to turn the detector off"
            );
            // At least 1 ns; at most 584 years, below UNSET.
            u64::try_from(max.as_nanos()).map_or(UNSET - 1, |n| n.clamp(1, UNSET - 1))
        }
    };
    SETTING.store(nanos, Ordering::Relaxed);
    // The monitor's period follows the setting; it may also be waiting for
    // the detector to be turned back on.
    if let Some(monitor) = MONITOR.get() {
        drop(monitor.lock());
        monitor.wake.notify_all();
    }
}

/// Whether the monitor thread exists: `1` once started, else `0`.
pub(crate) fn threads() -> usize {
    usize::from(THREAD_STARTED.load(Ordering::Acquire))
}

/// What a watched hub publishes for the monitor (see the module docs).
pub(crate) struct Watch {
    progress: AtomicU64,
    polling: AtomicBool,
    running: AtomicU64,
    thread: Box<str>,
    /// By slot: the number and name of the last named greenlet started in
    /// it (a name stays until another named greenlet starts in the slot,
    /// so a greenlet's end costs nothing; the number tells a stale name).
    names: Mutex<Vec<Option<Named>>>,
    /// The number of the greenlet whose stack the monitor wants, or
    /// [`NO_TRACE`]: set by the monitor as it reports a block, taken back
    /// by the hub as it takes the trace.
    trace: AtomicU64,
    /// The trace taken, with the greenlet it is of, for the monitor.
    traced: Mutex<Option<(String, Backtrace)>>,
}

impl Watch {
    /// The hub starts a batch of ready greenlets.
    #[inline]
    pub(crate) fn progressed(&self) {
        // Only the hub's thread writes it: no read-modify-write needed.
        let n = self.progress.load(Ordering::Relaxed);
        self.progress.store(n.wrapping_add(1), Ordering::Relaxed);
    }

    /// The hub resumes greenlet number `seq`, in slot `slot` of its slab,
    /// with its name if it starts.
    #[inline]
    pub(crate) fn resumed(&self, seq: u64, slot: u32, starts_named: Option<&str>) {
        self.running.store(seq, Ordering::Relaxed);
        if let Some(name) = starts_named {
            self.named(seq, slot, name);
        }
    }

    /// Whether the monitor wants the stack of greenlet `seq`, which runs
    /// on the calling stack: the hub then calls [`take_trace`](Self::take_trace).
    #[inline]
    pub(crate) fn wants_trace_of(&self, seq: u64) -> bool {
        self.trace.load(Ordering::Relaxed) == seq
    }

    /// Takes the calling greenlet's stack for the monitor (see the module
    /// docs), unless less than [`TRACE_MIN_LEFT`] of it is left below this
    /// call: what is left counts, not the stack's size, for a greenlet
    /// deep in a stack of any size may have too little left.
    #[cold]
    #[inline(never)]
    pub(crate) fn take_trace(&self, seq: u64) {
        self.trace.store(NO_TRACE, Ordering::Relaxed);
        if crate::coroutine::stack_left().is_none_or(|left| left < TRACE_MIN_LEFT) {
            return;
        }
        let greenlet = self.greenlet_named(seq);
        let trace = Backtrace::force_capture();
        *self.traced.lock().unwrap_or_else(PoisonError::into_inner) = Some((greenlet, trace));
    }

    /// The hub is about to wait in its poller.
    pub(crate) fn waiting(&self) {
        self.polling.store(true, Ordering::Relaxed);
    }

    /// The hub is back from its poller.
    pub(crate) fn woke(&self) {
        self.progressed();
        self.polling.store(false, Ordering::Release);
    }

    /// Greenlet `seq`, in slot `slot`, named `name`, starts.
    #[cold]
    #[inline(never)]
    fn named(&self, seq: u64, slot: u32, name: &str) {
        let mut names = self.names();
        let slot = slot as usize;
        if names.len() <= slot {
            names.resize_with(slot + 1, || None);
        }
        names[slot] = Some((seq, name.into()));
    }

    fn names(&self) -> MutexGuard<'_, Vec<Option<Named>>> {
        self.names.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The greenlet resumed last, as its `Debug` prints it: its name is in
    /// the slot of the last named greenlet that started with its number.
    fn greenlet(&self) -> (u64, String) {
        let seq = self.running.load(Ordering::Relaxed);
        (seq, self.greenlet_named(seq))
    }

    /// Greenlet `seq`, as its `Debug` prints it (see [`greenlet`](Self::greenlet)).
    fn greenlet_named(&self, seq: u64) -> String {
        let names = self.names();
        match names.iter().flatten().find(|(named, _)| *named == seq) {
            Some((_, name)) => format!("<Greenlet {seq} {name:?}>"),
            None => format!("<Greenlet {seq}>"),
        }
    }
}

/// A named greenlet's number and name.
type Named = (u64, Box<str>);

/// Watches this thread's hub until dropped; `None` when the detector is
/// off. The hub publishes into [`Registration::watch`].
///
/// # Panics
///
/// If `GREEN_MAX_BLOCKING_TIME` is not a number of milliseconds.
pub(crate) fn watch_this_thread() -> Option<Registration> {
    max_blocking_time()?;
    let thread = std::thread::current();
    let watch = Arc::new(Watch {
        progress: AtomicU64::new(0),
        polling: AtomicBool::new(false),
        running: AtomicU64::new(0),
        thread: thread.name().unwrap_or("<unnamed>").into(),
        names: Mutex::default(),
        trace: AtomicU64::new(NO_TRACE),
        traced: Mutex::default(),
    });
    let monitor = monitor();
    monitor.lock().push(Watched {
        watch: watch.clone(),
        seen: 0,
        since: Instant::now(),
        episode: None,
    });
    monitor.wake.notify_all();
    Some(Registration(watch))
}

/// A hub being watched; dropping it (as `run` ends, or unwinds) ends the
/// watch.
pub(crate) struct Registration(Arc<Watch>);

impl Registration {
    pub(crate) fn watch(&self) -> Arc<Watch> {
        self.0.clone()
    }
}

impl Drop for Registration {
    fn drop(&mut self) {
        let monitor = monitor();
        let mut hubs = monitor.lock();
        let Some(i) = hubs.iter().position(|h| Arc::ptr_eq(&h.watch, &self.0)) else {
            return;
        };
        let gone = hubs.swap_remove(i);
        drop(hubs);
        // The hub ends: whatever blocked it is over.
        if let Some(episode) = gone.episode {
            write_stderr(&episode.end(&gone.watch, gone.since.elapsed()));
        }
        if let Some(trace) = gone.watch.take_traced() {
            trace.write();
        }
    }
}

/// The monitor's state, shared with the hubs that come and go.
struct Monitor {
    hubs: Mutex<Vec<Watched>>,
    /// Hubs came, or the setting changed.
    wake: Condvar,
}

impl Monitor {
    fn lock(&self) -> MutexGuard<'_, Vec<Watched>> {
        self.hubs.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

static MONITOR: OnceLock<Monitor> = OnceLock::new();

/// The monitor, its thread started on first use.
fn monitor() -> &'static Monitor {
    MONITOR.get_or_init(|| {
        // Not on a pinned hub's CPU alone: it watches every hub.
        let mask = crate::affinity::mask_for_new_thread();
        let spawned = std::thread::Builder::new()
            .name("green-monitor".into())
            // Resolving a trace's symbols takes more than 64 KiB.
            .stack_size(1024 * 1024)
            .spawn(move || {
                crate::affinity::free_new_thread(mask);
                watch_hubs(MONITOR.wait());
            });
        match spawned {
            // Counted once it exists: counted too early, another thread
            // could pass for it.
            Ok(_) => THREAD_STARTED.store(true, Ordering::Release),
            Err(e) => write_stderr(&format!(
                "green: cannot start the blocking detector's thread ({e}); \
                 blocking calls go unreported\n"
            )),
        }
        Monitor {
            hubs: Mutex::default(),
            wake: Condvar::new(),
        }
    })
}

/// A hub as the monitor follows it.
struct Watched {
    watch: Arc<Watch>,
    /// Its counter at the monitor's last look that saw it move or wait.
    seen: u64,
    /// When that look was.
    since: Instant,
    /// The episode reported and not yet over.
    episode: Option<Episode>,
}

/// A block reported: the greenlet named, for the message that ends it.
struct Episode {
    greenlet: String,
}

impl Episode {
    fn end(&self, watch: &Watch, lasted: Duration) -> String {
        format!(
            "green: the hub of thread '{}' runs again: greenlet {} blocked it for {} or more\n",
            watch.thread,
            self.greenlet,
            millis(lasted)
        )
    }
}

impl Watch {
    /// A trace the hub has taken, if there is one, still unresolved.
    fn take_traced(&self) -> Option<Report> {
        let (greenlet, trace) = self
            .traced
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take()?;
        Some(Report::Trace {
            greenlet,
            thread: self.thread.clone(),
            trace,
        })
    }
}

/// What the monitor writes on stderr: a line, or a trace, which is
/// resolved as it is written, outside the monitor's lock (resolving the
/// first one reads the binary's debug information: tens of milliseconds,
/// during which hubs starting and ending must not wait for the lock).
enum Report {
    Line(String),
    Trace {
        greenlet: String,
        thread: Box<str>,
        trace: Backtrace,
    },
}

impl Report {
    fn write(self) {
        match self {
            Report::Line(line) => write_stderr(&line),
            Report::Trace {
                greenlet,
                thread,
                trace,
            } => write_stderr(&format!(
                "green: greenlet {greenlet}, reported blocking the hub of thread '{thread}', \
                 went on from here (its first switch after the report):\n{}",
                user_frames(&trace.to_string())
            )),
        }
    }
}

/// The frames of a trace taken by [`Watch::take_trace`] that are the
/// greenlet's own, from the green call it switched in: without the hub's
/// frames above them (taking the trace, switching) and the greenlet's start
/// below them (everything from
/// `green::coroutine::enter` down, where `green::builder` catches its
/// panics). `trace` is a `Backtrace`'s text: each frame a line `N: symbol`,
/// then its `at file:line` lines, if any. Symbols are matched by their
/// path, as either mangling scheme prints it (see [`symbol_path`]).
fn user_frames(trace: &str) -> String {
    let mut frames: Vec<(&str, String)> = Vec::new();
    for line in trace.lines() {
        let symbol = line
            .trim_start()
            .split_once(": ")
            .filter(|(n, _)| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()))
            .map(|(_, symbol)| symbol);
        match (symbol, frames.last_mut()) {
            (Some(symbol), _) => frames.push((symbol_path(symbol), format!("{line}\n"))),
            (None, Some((_, text))) => {
                text.push_str(line);
                text.push('\n');
            }
            (None, None) => {}
        }
    }
    let start = frames
        .iter()
        .position(|(symbol, _)| {
            !symbol.starts_with("green::hub::") && !symbol.starts_with("green::monitor::")
        })
        .unwrap_or(0);
    let end = frames
        .iter()
        .skip(start)
        .position(|(symbol, _)| {
            symbol.starts_with("green::builder::ended")
                || symbol.starts_with("green::coroutine::enter")
        })
        .map_or(frames.len(), |n| start + n);
    frames[start..end]
        .iter()
        .map(|(_, text)| text.as_str())
        .collect()
}

/// A demangled `symbol`'s path: v0 mangling (`-C
/// symbol-mangling-version=v0`, meant to become rustc's default) prints a
/// method as `<green::hub::Hub>::yield_now` and a trait method as
/// `<green::X as Trait>::f`, where legacy mangling prints
/// `green::hub::Hub::yield_now`; without the `<`, both start with the
/// crate's path.
fn symbol_path(symbol: &str) -> &str {
    symbol.strip_prefix('<').unwrap_or(symbol)
}

impl Watched {
    /// Looks at the hub at `now`; adds to `reports` what to report: the
    /// end of a block, a block, a trace taken.
    fn look(&mut self, now: Instant, max: Duration, reports: &mut Vec<Report>) {
        reports.extend(self.look_for_block(now, max).map(Report::Line));
        reports.extend(self.watch.take_traced());
    }

    /// The block or end of a block to report at `now`, if any.
    fn look_for_block(&mut self, now: Instant, max: Duration) -> Option<String> {
        // Out of the poller (Acquire): its last bump is visible.
        let polling = self.watch.polling.load(Ordering::Acquire);
        let progress = self.watch.progress.load(Ordering::Relaxed);
        if polling || progress != self.seen {
            let lasted = now - self.since;
            self.seen = progress;
            self.since = now;
            return self.episode.take().map(|e| e.end(&self.watch, lasted));
        }
        let blocked = now - self.since;
        if blocked <= max || self.episode.is_some() {
            return None;
        }
        let (seq, greenlet) = self.watch.greenlet();
        self.watch.trace.store(seq, Ordering::Relaxed);
        let report = format!(
            "green: greenlet {greenlet} has blocked the hub of thread '{}' for {} (more than \
             the {} max blocking time): a call that blocks the thread, not the greenlet? Use \
             green-std's types, or green::unblock for blocking calls and long computations.\n",
            self.watch.thread,
            millis(blocked),
            millis(max)
        );
        self.episode = Some(Episode { greenlet });
        Some(report)
    }
}

/// The monitor thread: looks at every hub each half max, while the
/// detector is on and hubs are watched.
fn watch_hubs(monitor: &Monitor) -> ! {
    let mut reports = Vec::new();
    let mut hubs = monitor.lock();
    loop {
        // Read at registration already: no panic here.
        let max = max_blocking_time();
        match max {
            Some(max) if !hubs.is_empty() => {
                let now = Instant::now();
                for h in hubs.iter_mut() {
                    h.look(now, max, &mut reports);
                }
                if !reports.is_empty() {
                    drop(hubs);
                    for r in reports.drain(..) {
                        r.write();
                    }
                    hubs = monitor.lock();
                }
                let tick = (max / 2).max(Duration::from_millis(1));
                hubs = monitor
                    .wake
                    .wait_timeout(hubs, tick)
                    .unwrap_or_else(PoisonError::into_inner)
                    .0;
            }
            _ => {
                hubs = monitor
                    .wake
                    .wait(hubs)
                    .unwrap_or_else(PoisonError::into_inner)
            }
        }
    }
}

/// `d` in milliseconds: `100 ms` when whole, else `180.4 ms` (`0.250 ms`
/// below one).
fn millis(d: Duration) -> String {
    let ms = d.as_secs_f64() * 1e3;
    if d.subsec_nanos().is_multiple_of(1_000_000) {
        format!("{} ms", d.as_millis())
    } else if ms < 1.0 {
        format!("{ms:.3} ms")
    } else {
        format!("{ms:.1} ms")
    }
}

/// Writes `msg` to stderr past std's lock on it, which the blocked
/// greenlet may hold.
fn write_stderr(msg: &str) {
    crate::stderr::write(msg.as_bytes());
}

#[cfg(test)]
mod tests {
    use super::user_frames;

    /// The frames of a trace taken at a yield, as `Backtrace` prints them
    /// (debug build), with legacy or v0 symbols: the hub's frames at the
    /// top, the greenlet's start at the bottom.
    fn trace(legacy: bool) -> String {
        let symbols: [(&str, &str); 12] = [
            (
                "green::monitor::Watch::take_trace",
                "<green::monitor::Watch>::take_trace",
            ),
            (
                "green::hub::switch::<impl green::hub::Hub>::trace_for_monitor",
                "<green::hub::Hub>::trace_for_monitor",
            ),
            (
                "green::hub::switch::<impl green::hub::Hub>::mark_running",
                "<green::hub::Hub>::mark_running",
            ),
            (
                "green::hub::switch::<impl green::hub::Hub>::suspend_running",
                "<green::hub::Hub>::suspend_running",
            ),
            (
                "green::hub::park::<impl green::hub::Hub>::yield_now",
                "<green::hub::Hub>::yield_now",
            ),
            ("green::hub::yield_now", "green::hub::yield_now"),
            ("green::sleep::yield_now", "green::sleep::yield_now"),
            ("app::handler", "app::handler"),
            (
                "core::ops::function::FnOnce::call_once",
                "<fn() as core::ops::function::FnOnce<()>>::call_once",
            ),
            (
                "green::builder::ended::{{closure}}",
                "green::builder::ended::{closure#0}",
            ),
            ("green::builder::ended", "green::builder::ended::<fn()>"),
            ("green::coroutine::enter", "green::coroutine::enter::<_>"),
        ];
        let mut text = String::new();
        for (n, (old, v0)) in symbols.iter().enumerate() {
            let symbol = if legacy { old } else { v0 };
            text.push_str(&format!(
                "{n:4}: {symbol}\n             at ./src/f.rs:{n}:5\n"
            ));
        }
        text
    }

    #[test]
    fn the_hub_s_frames_and_the_start_are_left_out_with_either_mangling() {
        for legacy in [true, false] {
            let frames = user_frames(&trace(legacy));
            let first = frames.lines().next().unwrap_or_default();
            assert!(
                first.ends_with(": green::sleep::yield_now"),
                "legacy {legacy}:\n{frames}"
            );
            assert!(
                frames.contains(": app::handler\n"),
                "legacy {legacy}:\n{frames}"
            );
            for left_out in [
                "green::hub::",
                "green::monitor::",
                "green::builder::",
                "green::coroutine::",
            ] {
                assert!(
                    !frames.contains(left_out),
                    "{left_out}, legacy {legacy}:\n{frames}"
                );
            }
            assert_eq!(frames.lines().count(), 6, "legacy {legacy}:\n{frames}");
        }
    }
}
