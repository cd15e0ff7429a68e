//! Other OS threads: `Greenlet::unpark` from any thread, and hubs on
//! several threads at once.

mod util;

use std::cell::Cell;
use std::rc::Rc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{mpsc, Arc};
use std::time::Duration;

use util::Log;

#[test]
fn greenlet_handles_are_send_and_sync() {
    fn send_sync<T: Send + Sync + 'static>() {}
    send_sync::<green::Greenlet>();
    send_sync::<green::GreenletId>();
}

#[test]
fn a_thread_unparks_a_greenlet() {
    let _w = util::watchdog();
    let log = Log::new();
    green::run(|| {
        let flag = Arc::new(AtomicBool::new(false));
        let (f, me) = (flag.clone(), green::current());
        let (go, wait_for_go) = mpsc::channel::<()>();
        // the thread wakes main only once the ticker has run, which it can
        // only do while main is parked
        let thread = std::thread::spawn(move || {
            wait_for_go.recv().unwrap();
            f.store(true, Ordering::Release);
            me.unpark();
        });
        let l = log.clone();
        let ticker = green::spawn(move || {
            l.push("ticker runs while main is parked");
            go.send(()).unwrap();
        });
        while !flag.load(Ordering::Acquire) {
            green::park();
        }
        log.push("main woken by the thread");
        assert!(ticker.is_finished());
        thread.join().unwrap();
    });
    assert_eq!(
        log.lines(),
        [
            "ticker runs while main is parked",
            "main woken by the thread"
        ]
    );
}

#[test]
fn a_thread_unparks_a_spawned_greenlet_many_times() {
    let _w = util::watchdog();
    const ROUNDS: u64 = 1_000;
    green::run(|| {
        // Ping-pong: the greenlet moves on even turns, the thread on odd
        // ones; each wakes the other after its move.
        let turn = Arc::new(AtomicU64::new(0));
        let (to_thread, from_greenlet) = mpsc::channel::<green::Greenlet>();
        let t = turn.clone();
        let thread = std::thread::spawn(move || {
            let greenlet = from_greenlet.recv().unwrap();
            for _ in 0..ROUNDS {
                while t.load(Ordering::Acquire).is_multiple_of(2) {
                    std::thread::park();
                }
                t.fetch_add(1, Ordering::AcqRel);
                greenlet.unpark();
            }
        });
        let waiter = thread.thread().clone();
        let t = turn.clone();
        let pinger = green::spawn(move || {
            to_thread.send(green::current()).unwrap();
            for _ in 0..ROUNDS {
                while t.load(Ordering::Acquire) % 2 == 1 {
                    green::park();
                }
                t.fetch_add(1, Ordering::AcqRel);
                waiter.unpark();
            }
        });
        pinger.join().unwrap();
        // the last move is the thread's
        green::unblock(move || thread.join().unwrap());
        assert_eq!(turn.load(Ordering::Acquire), 2 * ROUNDS);
    });
}

#[test]
fn an_unpark_from_a_thread_before_the_park_is_kept() {
    let _w = util::watchdog();
    green::run(|| {
        let me = green::current();
        std::thread::spawn(move || me.unpark()).join().unwrap();
        green::park(); // the token is waiting in the hub's inbox
    });
}

#[test]
fn unparking_a_finished_greenlet_or_a_gone_hub_does_nothing() {
    let _w = util::watchdog();
    let (finished, main) = green::run(|| {
        let h = green::spawn(green::current);
        let finished = h.join().unwrap();
        finished.unpark(); // same thread, finished greenlet
        let f = finished.clone();
        std::thread::spawn(move || f.unpark()).join().unwrap();
        green::yield_now();
        (finished, green::current())
    });
    // the hub is gone: from this thread and from another one
    main.unpark();
    finished.unpark();
    std::thread::spawn(move || main.unpark()).join().unwrap();
    // and a new hub on this thread is not confused by the old handles
    green::run(|| {
        finished.unpark();
        let me = green::current();
        assert_ne!(me.id(), finished.id());
        green::park_timeout(Duration::from_millis(1));
    });
}

#[test]
fn two_hubs_run_at_once_and_wake_each_other() {
    let _w = util::watchdog();
    const ROUNDS: u64 = 200;
    let turn = Arc::new(AtomicU64::new(0));
    let (to_a, from_b) = mpsc::channel::<green::Greenlet>();
    let (to_b, from_a) = mpsc::channel::<green::Greenlet>();

    // Each hub: a ticker greenlet that keeps yielding (proof that the hub
    // runs its own greenlets concurrently with the other hub), and a player
    // that parks until the other hub's player unparks it.
    let play = move |me: u64,
                     turn: Arc<AtomicU64>,
                     send: mpsc::Sender<green::Greenlet>,
                     recv: mpsc::Receiver<green::Greenlet>| {
        green::run(move || {
            let ticks = Rc::new(Cell::new(0u64));
            let stop = Rc::new(Cell::new(false));
            let (t, s) = (ticks.clone(), stop.clone());
            let ticker = green::spawn(move || {
                while !s.get() {
                    t.set(t.get() + 1);
                    green::yield_now();
                }
            });
            let player = green::spawn(move || {
                send.send(green::current()).unwrap();
                let other = green::unblock(move || recv.recv().unwrap());
                for _ in 0..ROUNDS {
                    while turn.load(Ordering::Acquire) % 2 != me {
                        green::park();
                    }
                    turn.fetch_add(1, Ordering::AcqRel);
                    other.unpark();
                }
                other
            });
            let other = player.join().unwrap();
            stop.set(true);
            ticker.join().unwrap();
            assert!(ticks.get() > 0);
            (green::current().id(), other.id())
        })
    };
    let t = turn.clone();
    let b = std::thread::spawn(move || play(1, t, to_a, from_a));
    let (a_main, b_player_seen_by_a) = play(0, turn.clone(), to_b, from_b);
    let (b_main, a_player_seen_by_b) = b.join().unwrap();
    assert_eq!(turn.load(Ordering::Acquire), 2 * ROUNDS);
    // same numbers on both hubs, different identities
    assert_eq!(a_main.as_u64(), 0);
    assert_eq!(b_main.as_u64(), 0);
    assert_ne!(a_main, b_main);
    assert_eq!(a_player_seen_by_b.as_u64(), b_player_seen_by_a.as_u64());
    assert_ne!(a_player_seen_by_b, b_player_seen_by_a);
}

#[test]
fn each_thread_has_its_own_hub() {
    let _w = util::watchdog();
    green::run(|| {
        let thread = std::thread::spawn(|| {
            assert!(!green::is_running());
            green::run(|| {
                assert!(green::is_running());
                green::spawn(|| green::current().id().as_u64())
                    .join()
                    .unwrap()
            })
        });
        // meanwhile this hub runs its own greenlets
        let mine = green::spawn(|| green::current().id().as_u64());
        assert_eq!(mine.join().unwrap(), 1);
        assert_eq!(green::unblock(move || thread.join().unwrap()), 1);
    });
}
