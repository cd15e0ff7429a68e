//! [`Runtime`]: one hub per core. Starts N hubs, each on its own OS thread,
//! runs a main greenlet on each, and joins them.
//!
//! Greenlets never migrate: each stays on the hub that spawned it, so its
//! thread-locals, `Rc`s and `RefCell`s stay sound. Hubs talk through the
//! `Send` types ([`channel`](crate::channel)s, [`sync`](crate::sync) locks,
//! [`Greenlet::unpark`](crate::Greenlet::unpark)), and a server spreads its
//! connections by binding the same address on every hub with
//! `SO_REUSEPORT` (green-net's `ListenOptions::reuse_port`): the kernel
//! balances incoming connections among the listeners. With
//! [`Runtime::pin_to_cores`], each hub keeps to one CPU, and a listener can
//! ask for the connections whose packets that CPU handles (green-net's
//! `ListenOptions::incoming_cpu` with [`pinned_cpu`](crate::pinned_cpu)).

use std::io;
use std::num::NonZeroUsize;
use std::panic;
use std::sync::{Condvar, Mutex, PoisonError};

use crate::affinity;

/// Builds and runs a set of hubs, one per OS thread.
///
/// # Examples
///
/// Every hub runs the same main; results come back in hub order:
///
/// ```
/// use green::Runtime;
///
/// let sums = Runtime::new().hubs(2).run(|hub| {
///     let handles: Vec<_> = (0..100).map(|i| green::spawn(move || i)).collect();
///     let total: u64 = green::joinall(handles).into_iter().map(Result::unwrap).sum();
///     (hub, total)
/// });
/// assert_eq!(sums, [(0, 4950), (1, 4950)]);
/// ```
///
/// Hubs exchange work through channels:
///
/// ```
/// let (tx, rx) = green::channel::bounded::<u32>(16);
/// let got = green::Runtime::new().hubs(2).run(move |hub| {
///     if hub == 0 {
///         for i in 0..1000 {
///             tx.send(i).unwrap();
///         }
///         0
///     } else {
///         rx.iter().take(1000).sum::<u32>()
///     }
/// });
/// assert_eq!(got[1], 499_500);
/// ```
#[derive(Debug, Clone)]
pub struct Runtime {
    hubs: Option<usize>,
    name: String,
    stack_size: Option<usize>,
    pin: bool,
}

impl Runtime {
    /// A runtime with one hub per available core
    /// ([`std::thread::available_parallelism`]).
    ///
    /// # Examples
    ///
    /// ```
    /// let rt = green::Runtime::new();
    /// assert!(rt.hub_count() >= 1);
    /// ```
    pub fn new() -> Runtime {
        Runtime {
            hubs: None,
            name: "green-hub".to_string(),
            stack_size: None,
            pin: false,
        }
    }

    /// Sets the number of hubs.
    ///
    /// # Panics
    ///
    /// Panics if `n` is 0.
    ///
    /// # Examples
    ///
    /// ```
    /// assert_eq!(green::Runtime::new().hubs(3).hub_count(), 3);
    /// ```
    pub fn hubs(mut self, n: usize) -> Runtime {
        assert!(n > 0, "green::Runtime::hubs: at least one hub");
        self.hubs = Some(n);
        self
    }

    /// Names the hub threads `{prefix}-0`, `{prefix}-1`… (default
    /// `green-hub`); hub 0 runs on the calling thread and keeps its name.
    /// A prefix with a NUL byte makes [`try_run`](Self::try_run) fail with
    /// [`InvalidInput`](io::ErrorKind::InvalidInput) (and [`run`](Self::run)
    /// panic) before any hub runs.
    ///
    /// # Examples
    ///
    /// ```
    /// let names = green::Runtime::new().hubs(2).thread_name("worker").run(|_| {
    ///     std::thread::current().name().map(String::from)
    /// });
    /// assert_eq!(names[1].as_deref(), Some("worker-1"));
    /// ```
    pub fn thread_name(mut self, prefix: impl Into<String>) -> Runtime {
        self.name = prefix.into();
        self
    }

    /// Sets the OS stack size of the hub threads (not of greenlets: see
    /// [`set_default_stack_size`](crate::set_default_stack_size)).
    ///
    /// # Examples
    ///
    /// ```
    /// green::Runtime::new().hubs(2).thread_stack_size(1 << 20).run(|_| ());
    /// ```
    pub fn thread_stack_size(mut self, bytes: usize) -> Runtime {
        self.stack_size = Some(bytes);
        self
    }

    /// Pins hub `i` to the `i`-th CPU this thread may run on (wrapping
    /// around when there are more hubs than CPUs), for as long as it runs;
    /// off by default. Hub 0 runs on the calling thread, which gets its CPU
    /// mask back when [`run`](Self::run) returns. Inside, [`pinned_cpu`]
    /// names the hub's CPU.
    ///
    /// A pinned hub keeps its greenlets' data in one core's caches, and a
    /// server can have the kernel hand each hub the connections whose
    /// packets its CPU handles (green-net's `ListenOptions::incoming_cpu`).
    /// In the bench's scale workload (1,000 echo clients inside the
    /// process, each hub running its share), two pinned hubs that steer so
    /// made 1.13× the round trips of two hubs that got their connections by
    /// hash, where about half the clients were served by the other hub
    /// (the median of ten paired runs).
    ///
    /// A thread started from a pinned hub starts on the hub's CPU alone, as
    /// any thread inherits its starter's mask; green's blocking pool
    /// ([`unblock`](crate::unblock())) puts back the mask the hub had before.
    ///
    /// [`pinned_cpu`]: crate::pinned_cpu
    ///
    /// # Examples
    ///
    /// ```
    /// let cpus = green::Runtime::new().hubs(2).pin_to_cores(true).run(|_| green::pinned_cpu());
    /// let allowed = std::thread::available_parallelism().unwrap().get();
    /// if allowed >= 2 {
    ///     assert_ne!(cpus[0], cpus[1]);
    /// }
    /// ```
    pub fn pin_to_cores(mut self, on: bool) -> Runtime {
        self.pin = on;
        self
    }

    /// The number of hubs it will start.
    ///
    /// # Examples
    ///
    /// ```
    /// assert_eq!(green::Runtime::new().hubs(2).hub_count(), 2);
    /// ```
    pub fn hub_count(&self) -> usize {
        self.hubs.unwrap_or_else(|| {
            std::thread::available_parallelism()
                .map(NonZeroUsize::get)
                .unwrap_or(1)
        })
    }

    /// Runs `main(hub_index)` as the main greenlet of every hub (hub 0 on
    /// the calling thread), waits for all of them, and returns their
    /// results in hub order.
    ///
    /// Each hub ends as [`run`](crate::run()) does: when its main greenlet
    /// returns, the hub kills its greenlets still alive, whatever the other
    /// hubs are doing. Hubs that share a port (`SO_REUSEPORT`) serve each
    /// other's clients, so a main whose hub must go on serving until some
    /// work elsewhere is done waits for that work before it returns.
    ///
    /// # Panics
    ///
    /// If a hub's main panics, the panic continues here once every hub has
    /// finished; panics if a hub thread cannot be started or pinned (use
    /// [`try_run`](Self::try_run) to handle that), or if called inside
    /// [`run`](crate::run()).
    ///
    /// # Examples
    ///
    /// See the type's examples.
    pub fn run<F, T>(self, main: F) -> Vec<T>
    where
        F: Fn(usize) -> T + Sync,
        T: Send,
    {
        self.try_run(main)
            .unwrap_or_else(|e| panic!("green::Runtime: cannot start the hubs: {e}"))
    }

    /// Like [`run`](Self::run), but returns an error if a hub thread cannot
    /// be started or pinned. No hub runs its main until every hub has
    /// started (and is pinned), so then none has run it.
    ///
    /// # Errors
    ///
    /// The OS error of the thread that could not be spawned, or, with
    /// [`pin_to_cores`](Self::pin_to_cores), of reading the calling
    /// thread's CPU mask or of pinning a hub (its message names the hub
    /// and the CPU).
    ///
    /// # Examples
    ///
    /// ```
    /// let r = green::Runtime::new().hubs(2).try_run(|hub| hub * 10).unwrap();
    /// assert_eq!(r, [0, 10]);
    /// ```
    pub fn try_run<F, T>(self, main: F) -> io::Result<Vec<T>>
    where
        F: Fn(usize) -> T + Sync,
        T: Send,
    {
        assert!(
            !crate::is_running(),
            "green::Runtime::run inside green::run: start the runtime from a plain thread"
        );
        let n = self.hub_count();
        if n > 1 && self.name.contains('\0') {
            // std's `Builder::spawn` panics on such a name; this call's
            // contract is an error, given before any hub runs.
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                "green::Runtime: a hub thread's name may not contain a NUL byte",
            ));
        }
        let cpus = match self.pin {
            true => Some(affinity::Mask::current()?.cpus()),
            false => None,
        };
        let start = Start::new(n);
        let main = &main;
        // Runs hub `i` once every hub has started (and is pinned).
        let hub = |i: usize| -> Option<T> {
            let pinned = match &cpus {
                Some(cpus) => {
                    let cpu = cpus[i % cpus.len()];
                    affinity::pin(cpu).map_err(|e| {
                        io::Error::new(e.kind(), format!("cannot pin hub {i} to CPU {cpu}: {e}"))
                    })
                }
                None => Ok(()),
            };
            start.arrive(pinned).then(|| crate::run(|| main(i)))
        };
        let hub = &hub;
        // Hub 0's thread is the caller's: pinned for the run, then let go.
        let _unpin = Unpin;
        std::thread::scope(|s| {
            let mut others = Vec::with_capacity(n - 1);
            for i in 1..n {
                let mut b = std::thread::Builder::new().name(format!("{}-{i}", self.name));
                if let Some(size) = self.stack_size {
                    b = b.stack_size(size);
                }
                match b.spawn_scoped(s, move || hub(i)) {
                    Ok(h) => others.push(h),
                    Err(e) => {
                        start.fail(e);
                        break;
                    }
                }
            }
            let first = panic::catch_unwind(panic::AssertUnwindSafe(|| hub(0)));
            let rest: Vec<std::thread::Result<Option<T>>> =
                others.into_iter().map(|h| h.join()).collect();
            if let Some(e) = start.error() {
                return Err(e);
            }
            let mut results = Vec::with_capacity(n);
            for r in std::iter::once(first).chain(rest) {
                match r {
                    Ok(Some(v)) => results.push(v),
                    Ok(None) => unreachable!("every hub runs unless one could not start"),
                    Err(payload) => panic::resume_unwind(payload),
                }
            }
            Ok(results)
        })
    }
}

/// Holds every hub back until all have started (and are pinned): a hub
/// that could not start, or could not be pinned, must not leave the others
/// running a main that waits for it.
struct Start {
    hubs: usize,
    /// Hubs arrived, and the first failure.
    state: Mutex<(usize, Option<io::Error>)>,
    all: Condvar,
}

impl Start {
    fn new(hubs: usize) -> Start {
        Start {
            hubs,
            state: Mutex::new((0, None)),
            all: Condvar::new(),
        }
    }

    /// A hub arrives with how its start went; waits for the others, and
    /// returns whether every hub started.
    fn arrive(&self, result: io::Result<()>) -> bool {
        let mut state = self.state.lock().unwrap_or_else(PoisonError::into_inner);
        state.0 += 1;
        if let Err(e) = result {
            state.1.get_or_insert(e);
        }
        self.all.notify_all();
        while state.0 < self.hubs && state.1.is_none() {
            state = self.all.wait(state).unwrap_or_else(PoisonError::into_inner);
        }
        state.1.is_none()
    }

    /// A hub's thread could not be started.
    fn fail(&self, e: io::Error) {
        let mut state = self.state.lock().unwrap_or_else(PoisonError::into_inner);
        state.1.get_or_insert(e);
        self.all.notify_all();
    }

    /// The first failure, once every thread is done with it.
    fn error(&self) -> Option<io::Error> {
        self.state
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .1
            .take()
    }
}

/// Gives the calling thread its CPU mask back when the run ends, however it
/// ends (nothing to do if it was not pinned).
struct Unpin;

impl Drop for Unpin {
    fn drop(&mut self) {
        affinity::unpin();
    }
}

impl Default for Runtime {
    fn default() -> Runtime {
        Runtime::new()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn no_hub_goes_on_when_one_could_not_start() {
        let start = Start::new(3);
        std::thread::scope(|s| {
            let ok = s.spawn(|| start.arrive(Ok(())));
            let pin_failed = s.spawn(|| start.arrive(Err(io::Error::other("no CPU"))));
            assert!(!ok.join().unwrap());
            assert!(!pin_failed.join().unwrap());
        });
        assert_eq!(start.error().unwrap().to_string(), "no CPU");
        // A thread that could not be spawned releases those that wait.
        let start = Start::new(2);
        std::thread::scope(|s| {
            let waiting = s.spawn(|| start.arrive(Ok(())));
            start.fail(io::Error::other("no thread"));
            assert!(!waiting.join().unwrap());
        });
        // All arrived, all well.
        let start = Start::new(2);
        std::thread::scope(|s| {
            let other = s.spawn(|| start.arrive(Ok(())));
            assert!(start.arrive(Ok(())));
            assert!(other.join().unwrap());
        });
        assert!(start.error().is_none());
    }
}
