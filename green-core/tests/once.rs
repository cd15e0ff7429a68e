//! green::sync: Once, OnceLock, LazyLock: one initializer across greenlets
//! of several hubs and plain threads, waiters that park, panics and
//! poisoning as std's, kills and timeouts, re-entrancy, Debug.

use std::cell::RefCell;
use std::panic::{catch_unwind, AssertUnwindSafe, RefUnwindSafe, UnwindSafe};
use std::rc::Rc;
use std::sync::atomic::{AtomicU32, AtomicUsize, Ordering};
use std::sync::{mpsc, Arc, Mutex};
use std::time::Duration;

use green::event::Event;
use green::sync::{LazyLock, Once, OnceLock, OnceState};

mod util;

use util::{panic_message, panic_of};

/// The initializer that a crowd races for: counts its runs, lets the rest
/// of the crowd go, then sleeps (the greenlet parks: std's cells would
/// block the hub here when a second greenlet of it arrives).
struct Stage {
    runs: AtomicUsize,
    release: Mutex<Vec<mpsc::Sender<()>>>,
}

impl Stage {
    const fn new() -> Stage {
        Stage {
            runs: AtomicUsize::new(0),
            release: Mutex::new(Vec::new()),
        }
    }

    fn init(&self) -> u32 {
        self.runs.fetch_add(1, Ordering::SeqCst);
        for go in self.release.lock().unwrap().drain(..) {
            let _ = go.send(());
        }
        green::sleep(Duration::from_millis(50));
        42
    }

    /// A receiver that `init` lets go.
    fn gate(&self) -> mpsc::Receiver<()> {
        let (go, gate) = mpsc::channel();
        self.release.lock().unwrap().push(go);
        gate
    }
}

/// The first greenlet of hub A reaches the cell and runs `stage`'s
/// initializer; meanwhile 20 more greenlets of hub A, 10 greenlets of hub B
/// and 4 plain threads reach it. Returns what each one saw.
fn crowd(stage: &'static Stage, reach: fn() -> u32) -> Vec<u32> {
    let _watchdog = util::watchdog();
    let threads: Vec<_> = (0..4)
        .map(|_| {
            let gate = stage.gate();
            std::thread::spawn(move || {
                gate.recv().unwrap();
                reach()
            })
        })
        .collect();
    let gate = stage.gate();
    let hub_b = std::thread::spawn(move || {
        green::run(move || {
            gate.recv().unwrap(); // nothing else runs on this hub yet
            let hs: Vec<_> = (0..10).map(|_| green::spawn(reach)).collect();
            green::joinall(hs)
                .into_iter()
                .map(Result::unwrap)
                .collect::<Vec<_>>()
        })
    });
    let mut seen = green::run(move || {
        let first = green::spawn(reach);
        let rest: Vec<_> = (0..20).map(|_| green::spawn(reach)).collect();
        let mut seen = vec![first.join().unwrap()];
        seen.extend(green::joinall(rest).into_iter().map(Result::unwrap));
        seen
    });
    seen.extend(hub_b.join().unwrap());
    seen.extend(threads.into_iter().map(|t| t.join().unwrap()));
    seen
}

#[test]
fn a_once_lock_shared_by_two_hubs_and_threads_runs_one_initializer() {
    static STAGE: Stage = Stage::new();
    static CELL: OnceLock<u32> = OnceLock::new();
    let seen = crowd(&STAGE, || *CELL.get_or_init(|| STAGE.init()));
    assert_eq!(seen, [42; 35]);
    assert_eq!(STAGE.runs.load(Ordering::SeqCst), 1);
}

#[test]
fn a_lazy_lock_shared_by_two_hubs_and_threads_runs_one_initializer() {
    static STAGE: Stage = Stage::new();
    static LAZY: LazyLock<u32> = LazyLock::new(|| STAGE.init());
    let seen = crowd(&STAGE, || *LAZY);
    assert_eq!(seen, [42; 35]);
    assert_eq!(STAGE.runs.load(Ordering::SeqCst), 1);
}

#[test]
fn a_once_shared_by_two_hubs_and_threads_runs_one_closure() {
    static STAGE: Stage = Stage::new();
    static ONCE: Once = Once::new();
    static VALUE: AtomicU32 = AtomicU32::new(0);
    let seen = crowd(&STAGE, || {
        ONCE.call_once(|| VALUE.store(STAGE.init(), Ordering::Relaxed));
        VALUE.load(Ordering::Relaxed)
    });
    assert_eq!(seen, [42; 35]);
    assert_eq!(STAGE.runs.load(Ordering::SeqCst), 1);
}

#[test]
fn waiters_park_while_the_initializer_switches() {
    let _watchdog = util::watchdog();
    let log = Rc::new(RefCell::new(Vec::new()));
    green::run(|| {
        let cell = Rc::new(OnceLock::new());
        let hs: Vec<_> = (0..3)
            .map(|i| {
                let (cell, log) = (cell.clone(), log.clone());
                green::spawn(move || {
                    log.borrow_mut().push(format!("{i} reaches"));
                    let v = *cell.get_or_init(|| {
                        green::yield_now();
                        log.borrow_mut().push(format!("{i} initializes"));
                        i
                    });
                    log.borrow_mut().push(format!("{i} sees {v}"));
                })
            })
            .collect();
        green::joinall(hs);
    });
    assert_eq!(
        *log.borrow(),
        [
            "0 reaches",
            "1 reaches",
            "2 reaches",
            "0 initializes",
            "0 sees 0",
            "1 sees 0",
            "2 sees 0"
        ]
    );
}

/// Every behaviour a program can see of the three types, around panicking
/// initializers: the same code against std's types and green's.
macro_rules! story {
    ($($sys:ident)::+) => {{
        use $($sys)::+::{LazyLock, Once, OnceLock};
        let mut log: Vec<String> = Vec::new();
        let mut outcome = |what: &str, r: Result<String, Box<dyn std::any::Any + Send>>| {
            log.push(match r {
                Ok(v) => format!("{what}: {v}"),
                Err(p) => format!("{what}: panicked: {}", panic_message(&*p)),
            })
        };
        macro_rules! try_ {
            ($what:expr, $e:expr) => {
                outcome($what, catch_unwind(AssertUnwindSafe(|| format!("{:?}", $e))))
            };
        }

        let once = Once::new();
        try_!("once new", &once);
        try_!("once panics", once.call_once(|| panic!("boom")));
        try_!("once completed", once.is_completed());
        try_!("once again", once.call_once(|| {}));
        try_!("once wait", once.wait());
        try_!("force panics", once.call_once_force(|s| panic!("bang {}", s.is_poisoned())));
        try_!("force", {
            let mut seen = String::new();
            once.call_once_force(|s| seen = format!("{s:?} {s:#?} {}", s.is_poisoned()));
            seen
        });
        try_!("once completed", once.is_completed());
        try_!("once done", &once);
        try_!("once wait", once.wait());
        try_!("once wait_force", once.wait_force());
        try_!("once later", once.call_once(|| panic!("not run")));

        let cell: OnceLock<String> = OnceLock::new();
        try_!("cell new", &cell);
        try_!("cell panics", cell.get_or_init(|| panic!("cell boom")));
        try_!("cell after", &cell);
        try_!("cell get", cell.get());
        try_!("cell inits", cell.get_or_init(|| "a\"b".to_string()));
        try_!("cell set", cell.set("c".to_string()));
        try_!("cell wait", cell.wait());
        try_!("cell clone", cell.clone());
        try_!("cell eq", cell == OnceLock::from("a\"b".to_string()));
        try_!("cell ne", cell == OnceLock::new());
        try_!("cell {:#?}", format!("{cell:#?}"));
        let mut cell = cell;
        try_!("cell get_mut", cell.get_mut().map(|s| s.push('!')));
        try_!("cell take", cell.take());
        try_!("cell taken", &cell);
        try_!("cell set", cell.set("d".to_string()));
        try_!("cell into_inner", cell.into_inner());
        try_!("default", OnceLock::<u8>::default());

        let lazy: LazyLock<u32> = LazyLock::new(|| panic!("lazy boom"));
        try_!("lazy new", &lazy);
        try_!("lazy panics", *lazy);
        try_!("lazy poisoned", &lazy);
        try_!("lazy again", *lazy);
        try_!("lazy force", LazyLock::force(&lazy));
        try_!("lazy get", LazyLock::get(&lazy));
        let mut lazy = lazy;
        try_!("lazy get_mut", LazyLock::get_mut(&mut lazy));
        try_!("lazy force_mut", LazyLock::force_mut(&mut lazy));
        try_!("lazy deref_mut", {
            *lazy = 1;
        });
        let mut lazy2: LazyLock<u32> = LazyLock::new(|| panic!("lazy2 boom"));
        try_!("lazy2 force_mut panics", LazyLock::force_mut(&mut lazy2));
        try_!("lazy2 after", *lazy2);
        try_!("lazy2 debug", &lazy2);
        let mut lazy3 = LazyLock::new(|| vec![7]);
        try_!("lazy3 get", LazyLock::get(&lazy3));
        try_!("lazy3 deref_mut", {
            lazy3.push(8);
        });
        try_!("lazy3", &lazy3);
        try_!("lazy3 {:#?}", format!("{lazy3:#?}"));
        try_!("lazy default", *LazyLock::<String>::default());
        log
    }};
}

fn std_story() -> Vec<String> {
    story!(std::sync)
}

fn green_story() -> Vec<String> {
    story!(green::sync)
}

#[test]
fn panicking_initializers_behave_as_std_s_outside_run() {
    let std = std_story();
    assert_eq!(green_story(), std);
    // What std does, spelt out once.
    for line in [
        "once again: panicked: Once instance has previously been poisoned",
        "once wait: panicked: Once instance has previously been poisoned",
        "force: \"OnceState { poisoned: true } OnceState {\\n    poisoned: true,\\n} true\"",
        "once done: Once { .. }",
        "cell after: OnceLock(<uninit>)",
        "cell inits: \"a\\\"b\"",
        "lazy poisoned: LazyLock(<uninit>)",
        "lazy again: panicked: LazyLock instance has previously been poisoned",
        "lazy force_mut: panicked: LazyLock instance has previously been poisoned",
    ] {
        assert!(std.iter().any(|l| l == line), "{line:?} not in {std:#?}");
    }
}

#[test]
fn panicking_initializers_behave_as_std_s_inside_run() {
    let std = std_story();
    assert_eq!(green::run(green_story), std);
}

#[test]
fn a_killed_waiter_leaves_and_the_initializer_finishes() {
    let _watchdog = util::watchdog();
    let drops = util::Drops::new();
    green::run(|| {
        let cell = Rc::new(OnceLock::new());
        let go = Rc::new(Event::new());
        let (c, g) = (cell.clone(), go.clone());
        let init = green::spawn(move || {
            *c.get_or_init(|| {
                g.wait();
                1
            })
        });
        let (c, guard) = (cell.clone(), drops.guard());
        let waiter = green::spawn(move || {
            let _guard = guard;
            *c.get_or_init(|| 2)
        });
        green::yield_now(); // init runs its initializer, waiter waits
        waiter.kill();
        assert!(waiter.join().unwrap_err().is_killed());
        assert_eq!(drops.count(), 1, "the waiter unwound");
        assert_eq!(cell.get(), None, "still initializing");
        go.set();
        assert_eq!(init.join().unwrap(), 1);
        assert_eq!(cell.get(), Some(&1));
    });
}

#[test]
fn a_timed_out_waiter_leaves_and_the_initializer_finishes() {
    let _watchdog = util::watchdog();
    green::run(|| {
        let lazy = Rc::new(LazyLock::new(|| {
            green::sleep(Duration::from_millis(100));
            5
        }));
        let l = lazy.clone();
        let init = green::spawn(move || *LazyLock::force(&l));
        green::yield_now(); // it runs the initializer
        let waited = green::timeout(Duration::from_millis(1), || *LazyLock::force(&lazy));
        assert!(waited.is_err(), "timed out while the initializer sleeps");
        assert_eq!(LazyLock::get(&lazy), None);
        assert_eq!(init.join().unwrap(), 5);
        assert_eq!(*LazyLock::force(&lazy), 5);
    });
}

#[test]
fn a_timed_out_once_wait_leaves() {
    let _watchdog = util::watchdog();
    green::run(|| {
        let once = Once::new();
        assert!(green::timeout(Duration::from_millis(1), || once.wait()).is_err());
        once.call_once(|| {});
        once.wait();
    });
}

#[test]
fn a_killed_once_lock_initializer_leaves_the_cell_to_a_waiter() {
    let _watchdog = util::watchdog();
    green::run(|| {
        let cell = Arc::new(OnceLock::new());
        let c = cell.clone();
        let init = green::spawn(move || {
            *c.get_or_init(|| {
                green::sleep(Duration::from_secs(3600));
                1
            })
        });
        green::yield_now(); // init sleeps in its initializer
        let c = cell.clone();
        let greenlet = green::spawn(move || *c.get_or_init(|| 2));
        let c = cell.clone();
        let thread = std::thread::spawn(move || *c.get_or_init(|| 3));
        green::yield_now(); // the greenlet waits
        init.kill();
        assert!(init.join().unwrap_err().is_killed());
        let (g, t) = (
            greenlet.join().unwrap(),
            green::unblock(|| thread.join().unwrap()),
        );
        assert_eq!(g, t, "both waiters see the one value");
        assert!(g == 2 || g == 3, "a waiter initialized it: {g}");
    });
}

#[test]
fn a_killed_once_closure_poisons_it_and_wakes_the_waiters() {
    let _watchdog = util::watchdog();
    green::run(|| {
        let once = Arc::new(Once::new());
        let o = once.clone();
        let init = green::spawn(move || o.call_once(|| green::sleep(Duration::from_secs(3600))));
        green::yield_now();
        let o = once.clone();
        let plain = green::spawn(move || o.call_once(|| {}));
        let o = once.clone();
        let forced = green::spawn(move || {
            let mut poisoned = None;
            o.call_once_force(|s| poisoned = Some(s.is_poisoned()));
            poisoned
        });
        let o = once.clone();
        let thread = std::thread::spawn(move || o.wait_force());
        green::yield_now(); // both greenlets wait
        init.kill();
        assert!(init.join().unwrap_err().is_killed());
        let err = plain.join().unwrap_err().into_panic();
        assert_eq!(
            panic_message(&*err),
            "Once instance has previously been poisoned"
        );
        assert_eq!(forced.join().unwrap(), Some(true));
        green::unblock(|| thread.join().unwrap());
        assert!(once.is_completed());
    });
}

#[test]
fn a_killed_lazy_lock_initializer_poisons_it_and_wakes_the_waiters() {
    let _watchdog = util::watchdog();
    green::run(|| {
        let lazy = Arc::new(LazyLock::new(|| {
            green::sleep(Duration::from_secs(3600));
            1
        }));
        let l = lazy.clone();
        let init = green::spawn(move || *LazyLock::force(&l));
        green::yield_now();
        let l = lazy.clone();
        let waiter = green::spawn(move || *LazyLock::force(&l));
        let l = lazy.clone();
        let thread = std::thread::spawn(move || panic_of(|| *LazyLock::force(&l)));
        green::yield_now();
        init.kill();
        assert!(init.join().unwrap_err().is_killed());
        let err = waiter.join().unwrap_err().into_panic();
        let poisoned = "LazyLock instance has previously been poisoned";
        assert_eq!(panic_message(&*err), poisoned);
        assert_eq!(green::unblock(|| thread.join().unwrap()), poisoned);
        assert_eq!(panic_of(|| *LazyLock::force(&lazy)), poisoned);
    });
}

#[test]
fn a_timed_out_initializer_is_like_a_panic() {
    let _watchdog = util::watchdog();
    green::run(|| {
        let cell = OnceLock::new();
        let r = green::timeout(Duration::from_millis(1), || {
            *cell.get_or_init(|| {
                green::sleep(Duration::from_secs(3600));
                1
            })
        });
        assert!(r.is_err());
        assert_eq!(
            *cell.get_or_init(|| 2),
            2,
            "left empty: the next initializes"
        );
    });
}

const REENTRANT_ONCE: &str =
    "reentrant init of a Once: its initialization closure reached the same \
     Once, and would wait for itself forever";
const REENTRANT_ONCE_LOCK: &str = "reentrant init of a OnceLock: its initialization closure \
     reached the same OnceLock, and would wait for itself forever";
const REENTRANT_LAZY_LOCK: &str = "reentrant init of a LazyLock: its initialization closure \
     reached the same LazyLock, and would wait for itself forever";

/// The re-entrant calls of each type, each in a fresh cell: the panic
/// message of each.
fn reentrant_calls() -> Vec<String> {
    let mut messages = Vec::new();
    let once = Once::new();
    messages.push(panic_of(|| once.call_once(|| once.call_once(|| {}))));
    let once = Once::new();
    messages.push(panic_of(|| once.call_once(|| once.wait())));
    let once = Once::new();
    messages.push(panic_of(|| once.call_once_force(|_| once.wait_force())));
    let cell = OnceLock::new();
    messages.push(panic_of(|| *cell.get_or_init(|| *cell.get_or_init(|| 1))));
    let cell = OnceLock::new();
    messages.push(panic_of(|| {
        cell.get_or_init(|| {
            let _ = cell.set(1);
            2
        })
    }));
    let cell: OnceLock<u32> = OnceLock::new();
    messages.push(panic_of(|| *cell.get_or_init(|| *cell.wait())));
    assert_eq!(cell.get_or_init(|| 3), &3, "it unwound: empty, not stuck");
    static LAZY: LazyLock<u32> = LazyLock::new(|| *LAZY + 1);
    // The first access unwinds with the re-entrancy panic and poisons it.
    let first = panic_of(|| *LAZY);
    messages.push(first);
    messages
}

#[test]
fn reentrant_initialization_panics_outside_run() {
    let _watchdog = util::watchdog();
    let messages = std::thread::spawn(reentrant_calls).join().unwrap();
    let mut expected = vec![REENTRANT_ONCE; 3];
    expected.extend([REENTRANT_ONCE_LOCK; 3]);
    expected.push(REENTRANT_LAZY_LOCK);
    assert_eq!(messages, expected);
}

#[test]
fn reentrant_initialization_panics_inside_run() {
    let _watchdog = util::watchdog();
    // LAZY above is used once per process: a copy for this test.
    static LAZY: LazyLock<u32> = LazyLock::new(|| *LAZY + 1);
    green::run(|| {
        let once = Once::new();
        assert_eq!(
            panic_of(|| once.call_once(|| once.call_once(|| {}))),
            REENTRANT_ONCE
        );
        let cell = OnceLock::new();
        assert_eq!(
            panic_of(|| *cell.get_or_init(|| {
                green::yield_now();
                *cell.get_or_init(|| 1)
            })),
            REENTRANT_ONCE_LOCK
        );
        assert_eq!(panic_of(|| *LAZY), REENTRANT_LAZY_LOCK);
        assert_eq!(
            panic_of(|| *LAZY),
            "LazyLock instance has previously been poisoned"
        );
    });
}

#[test]
fn another_greenlet_of_the_initializer_s_hub_waits_for_it() {
    // Not re-entrancy: the initializer's own greenlet is not the one
    // waiting.
    let _watchdog = util::watchdog();
    green::run(|| {
        let cell = Rc::new(OnceLock::new());
        let c = cell.clone();
        let v = *cell.get_or_init(move || {
            let helper = green::spawn(move || *c.get_or_init(|| 2));
            green::yield_now(); // the helper waits for us
            assert!(!helper.is_finished());
            1
        });
        assert_eq!(v, 1);
    });
}

#[test]
fn debug_prints_as_std_s_while_initializing() {
    let _watchdog = util::watchdog();
    // std's, from a thread while another runs the initializer.
    let (std_once, std_cell, std_lazy) = {
        let (once, cell) = (std::sync::Once::new(), std::sync::OnceLock::<u32>::new());
        let lazy = std::sync::LazyLock::new(|| 1);
        let (started, start) = mpsc::channel();
        let (finish, finished) = mpsc::channel::<()>();
        std::thread::scope(|s| {
            let (once, cell) = (&once, &cell);
            s.spawn(move || {
                once.call_once(|| {
                    cell.get_or_init(|| {
                        started.send(()).unwrap();
                        finished.recv().unwrap();
                        1
                    });
                });
            });
            start.recv().unwrap();
            let printed = (
                format!("{once:?}"),
                format!("{cell:?}"),
                format!("{lazy:?}"),
            );
            finish.send(()).unwrap();
            printed
        })
    };
    green::run(|| {
        let once = Rc::new(Once::new());
        let cell = Rc::new(OnceLock::<u32>::new());
        let lazy = Rc::new(LazyLock::new(|| {
            green::yield_now();
            1
        }));
        let (o, c, l) = (once.clone(), cell.clone(), lazy.clone());
        let h = green::spawn(move || {
            o.call_once(|| {
                c.get_or_init(|| {
                    let _ = *LazyLock::force(&l);
                    green::yield_now();
                    1
                });
            });
        });
        green::yield_now(); // all three are initializing
        assert_eq!(format!("{once:?}"), std_once);
        assert_eq!(format!("{cell:?}"), std_cell);
        assert_eq!(format!("{lazy:?}"), std_lazy);
        assert_eq!(format!("{:?}", LazyLock::new(|| 1)), "LazyLock(<uninit>)");
        h.join().unwrap();
        assert_eq!(format!("{cell:?}"), "OnceLock(1)");
        assert_eq!(format!("{lazy:?}"), "LazyLock(1)");
    });
}

#[test]
fn statics_of_each_type_work_outside_and_inside_run() {
    #[allow(deprecated)]
    static OLD: Once = green::sync::ONCE_INIT;
    static ONCE: Once = Once::new();
    static CELL: OnceLock<Vec<u8>> = OnceLock::new();
    static LAZY: LazyLock<String> = LazyLock::new(|| "lazy".to_string());
    ONCE.call_once(|| {});
    OLD.call_once(|| {});
    assert!(OLD.is_completed());
    assert_eq!(CELL.get_or_init(|| vec![1]), &[1]);
    assert_eq!(&*LAZY, "lazy");
    green::run(|| {
        ONCE.call_once(|| unreachable!());
        assert_eq!(CELL.get_or_init(|| unreachable!()), &[1]);
        assert_eq!(LAZY.len(), 4);
    });
}

#[test]
fn a_thread_waits_for_a_greenlet_s_initializer() {
    let _watchdog = util::watchdog();
    let cell = Arc::new(OnceLock::new());
    let (started, start) = mpsc::channel();
    let c = cell.clone();
    let thread = std::thread::spawn(move || {
        start.recv().unwrap();
        *c.wait()
    });
    green::run(|| {
        cell.get_or_init(|| {
            started.send(()).unwrap();
            green::sleep(Duration::from_millis(20));
            9
        });
    });
    assert_eq!(thread.join().unwrap(), 9);
}

#[test]
fn drops_as_std_s() {
    let drops = util::Drops::new();
    {
        let cell = OnceLock::new();
        let _ = cell.set(drops.guard());
        let lazy = LazyLock::new({
            let g = drops.guard();
            move || g
        });
        let _ = LazyLock::force(&lazy); // the closure moves into the value
        let unforced = LazyLock::new({
            let g = drops.guard();
            move || g
        });
        drop(unforced); // drops the closure
        assert_eq!(drops.count(), 1);
    }
    assert_eq!(drops.count(), 3);
    let poisoned: LazyLock<(), _> = LazyLock::new({
        let g = drops.guard();
        move || {
            let _g = g;
            panic!("unwinds, dropping the closure's guard")
        }
    });
    let _ = catch_unwind(AssertUnwindSafe(|| *poisoned));
    assert_eq!(drops.count(), 4);
    drop(poisoned);
    assert_eq!(drops.count(), 4, "nothing more to drop");
    let mut cell = OnceLock::from(drops.guard());
    drop(cell.take());
    assert_eq!(drops.count(), 5);
    drop(cell);
    assert_eq!(drops.count(), 5);
}

#[test]
fn auto_traits_are_std_s() {
    fn send_sync<T: Send + Sync>() {}
    fn unwind_safe<T: UnwindSafe + RefUnwindSafe>() {}
    fn send_unwind_safe<T: Send + UnwindSafe>() {}
    send_sync::<Once>();
    unwind_safe::<Once>();
    send_unwind_safe::<OnceState>();
    send_sync::<OnceLock<u8>>();
    unwind_safe::<OnceLock<u8>>();
    send_sync::<LazyLock<u8>>();
    unwind_safe::<LazyLock<u8>>();
    // `F` need only be `Send` for a `Sync` lock, as std's.
    send_sync::<LazyLock<u8, Box<dyn FnOnce() -> u8 + Send>>>();
    fn send<T: Send>() {}
    send::<OnceLock<std::cell::Cell<u8>>>();
}

#[test]
fn racing_hubs_and_threads_never_lose_a_wake_up() {
    let _watchdog = util::watchdog();
    fn reach(cell: &OnceLock<usize>, runs: &AtomicUsize, who: usize) -> usize {
        *cell.get_or_init(|| {
            runs.fetch_add(1, Ordering::SeqCst);
            if green::is_running() {
                green::yield_now();
            } else {
                std::thread::yield_now();
            }
            who
        })
    }
    fn greenlets(cell: &Arc<OnceLock<usize>>, runs: &Arc<AtomicUsize>, base: usize) -> Vec<usize> {
        green::run(|| {
            let hs: Vec<_> = (0..3)
                .map(|i| {
                    let (cell, runs) = (cell.clone(), runs.clone());
                    green::spawn(move || reach(&cell, &runs, base + i))
                })
                .collect();
            green::joinall(hs).into_iter().map(Result::unwrap).collect()
        })
    }
    for _ in 0..200 {
        let cell = Arc::new(OnceLock::new());
        let runs = Arc::new(AtomicUsize::new(0));
        let mut others: Vec<std::thread::JoinHandle<Vec<usize>>> = (0..2)
            .map(|t| {
                let (cell, runs) = (cell.clone(), runs.clone());
                std::thread::spawn(move || vec![reach(&cell, &runs, 100 + t)])
            })
            .collect();
        let (c, r) = (cell.clone(), runs.clone());
        others.push(std::thread::spawn(move || greenlets(&c, &r, 200)));
        let mut seen = greenlets(&cell, &runs, 300);
        for t in others {
            seen.extend(t.join().unwrap());
        }
        assert_eq!(runs.load(Ordering::SeqCst), 1);
        let winner = *cell.get().unwrap();
        assert_eq!(seen, vec![winner; 8]);
    }
}

#[test]
fn a_once_lock_may_hold_a_borrow_that_dies_just_before_it() {
    // Compiles with std's `OnceLock` (its `Drop` is `#[may_dangle]`): `s`
    // is dropped before `cell`, which only borrows it.
    let cell = OnceLock::new();
    let s = String::from("x");
    cell.set(&s).unwrap();
    assert_eq!(format!("{cell:?}"), "OnceLock(\"x\")");
}
