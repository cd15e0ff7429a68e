//! Channels: every flavour, ordering, disconnection, timeouts, kills,
//! select, threads and hubs.

use std::cell::RefCell;
use std::rc::Rc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use green::channel::{
    self, RecvError, RecvTimeoutError, Select, SendTimeoutError, TryRecvError, TrySendError,
};

mod util;

type Log = Rc<RefCell<Vec<String>>>;

fn log() -> Log {
    Rc::new(RefCell::new(Vec::new()))
}

fn push(log: &Log, s: impl Into<String>) {
    log.borrow_mut().push(s.into());
}

fn lines(log: &Log) -> Vec<String> {
    log.borrow().clone()
}

/// Counts drops, to see values being released.
struct Counted(Arc<AtomicUsize>);

impl Drop for Counted {
    fn drop(&mut self) {
        self.0.fetch_add(1, Ordering::SeqCst);
    }
}

#[test]
fn rendezvous_send_waits_for_the_receiver() {
    let log = log();
    green::run(|| {
        let (tx, rx) = channel::channel();
        let l = log.clone();
        let sender = green::spawn(move || {
            for i in 0..3 {
                push(&l, format!("send {i}"));
                tx.send(i).unwrap();
                push(&l, format!("sent {i}"));
            }
        });
        let l = log.clone();
        let receiver = green::spawn(move || {
            while let Ok(i) = rx.recv() {
                push(&l, format!("recv {i}"));
            }
            push(&l, "closed");
        });
        sender.join().unwrap();
        receiver.join().unwrap();
    });
    // The sender runs first and blocks in `send 0`; the receiver takes 0
    // and blocks in its next recv; the sender, woken, finds the receiver
    // waiting, so `send 1` completes at once (the value goes straight to
    // the receiver, which becomes ready) and `send 2` blocks; and so on.
    assert_eq!(
        lines(&log),
        [
            "send 0", "recv 0", "sent 0", "send 1", "sent 1", "send 2", "recv 1", "recv 2",
            "sent 2", "closed"
        ]
    );
}

#[test]
fn rendezvous_receiver_first_gets_the_value_directly() {
    let log = log();
    green::run(|| {
        let (tx, rx) = channel::channel::<&str>();
        let l = log.clone();
        let receiver = green::spawn(move || {
            push(&l, "waiting");
            let v = rx.recv().unwrap();
            push(&l, format!("got {v}"));
        });
        green::yield_now();
        push(&log, "sending");
        tx.send("x").unwrap(); // a receiver waits: returns at once
        push(&log, "sent");
        receiver.join().unwrap();
    });
    assert_eq!(lines(&log), ["waiting", "sending", "sent", "got x"]);
}

#[test]
fn rendezvous_try_send_needs_a_waiting_receiver() {
    green::run(|| {
        let (tx, rx) = channel::channel();
        assert_eq!(tx.try_send(1), Err(TrySendError::Full(1)));
        assert!(tx.is_full());
        assert_eq!(tx.capacity(), Some(0));
        let r = green::spawn(move || rx.recv());
        green::yield_now(); // r waits in recv
        assert_eq!(tx.try_send(2), Ok(()));
        assert_eq!(r.join().unwrap(), Ok(2));
        assert_eq!(tx.try_send(3), Err(TrySendError::Disconnected(3)));
    });
}

#[test]
fn bounded_send_waits_while_full_and_keeps_order() {
    let log = log();
    green::run(|| {
        let (tx, rx) = channel::bounded(2);
        let l = log.clone();
        let producer = green::spawn(move || {
            for i in 0..5 {
                tx.send(i).unwrap();
                push(&l, format!("sent {i}"));
            }
        });
        green::yield_now(); // producer fills the channel and blocks on 2
        push(&log, format!("len {}", rx.len()));
        let got: Vec<i32> = rx.iter().collect();
        assert_eq!(got, [0, 1, 2, 3, 4]);
        producer.join().unwrap();
    });
    assert_eq!(
        lines(&log),
        ["sent 0", "sent 1", "len 2", "sent 2", "sent 3", "sent 4"]
    );
}

#[test]
fn blocked_senders_are_served_in_arrival_order() {
    green::run(|| {
        let (tx, rx) = channel::bounded(1);
        tx.send(0).unwrap();
        let senders: Vec<_> = (1..=4)
            .map(|i| {
                let tx = tx.clone();
                green::spawn(move || tx.send(i).unwrap())
            })
            .collect();
        drop(tx);
        green::yield_now(); // all four block, in spawn order
        let got: Vec<i32> = rx.iter().collect();
        assert_eq!(got, [0, 1, 2, 3, 4]);
        green::joinall(senders);
    });
}

#[test]
fn blocked_receivers_are_served_in_arrival_order() {
    let log = log();
    green::run(|| {
        let (tx, rx) = channel::unbounded();
        let receivers: Vec<_> = (0..4)
            .map(|id| {
                let rx = rx.clone();
                let l = log.clone();
                green::spawn(move || {
                    let v: i32 = rx.recv().unwrap();
                    push(&l, format!("r{id} got {v}"));
                })
            })
            .collect();
        green::yield_now(); // all four wait
        for v in [10, 11, 12, 13] {
            tx.send(v).unwrap();
        }
        green::joinall(receivers);
    });
    assert_eq!(
        lines(&log),
        ["r0 got 10", "r1 got 11", "r2 got 12", "r3 got 13"]
    );
}

#[test]
fn unbounded_never_waits() {
    green::run(|| {
        let (tx, rx) = channel::unbounded();
        for i in 0..10_000 {
            tx.send(i).unwrap();
        }
        assert_eq!(tx.len(), 10_000);
        assert!(!tx.is_full());
        assert_eq!(rx.capacity(), None);
        drop(tx);
        assert_eq!(rx.iter().count(), 10_000);
    });
}

#[test]
fn try_recv_and_try_iter() {
    let (tx, rx) = channel::bounded(3);
    assert_eq!(rx.try_recv(), Err(TryRecvError::Empty));
    tx.send(1).unwrap();
    tx.send(2).unwrap();
    assert_eq!(rx.try_iter().collect::<Vec<_>>(), [1, 2]);
    tx.send(3).unwrap();
    drop(tx);
    assert_eq!(rx.try_recv(), Ok(3));
    assert_eq!(rx.try_recv(), Err(TryRecvError::Disconnected));
}

#[test]
fn dropping_the_last_sender_wakes_blocked_receivers() {
    green::run(|| {
        let (tx, rx) = channel::unbounded::<u8>();
        let waiters: Vec<_> = (0..3)
            .map(|_| {
                let rx = rx.clone();
                green::spawn(move || rx.recv())
            })
            .collect();
        green::yield_now();
        let tx2 = tx.clone();
        drop(tx);
        green::yield_now();
        assert!(
            waiters.iter().all(|w| !w.is_finished()),
            "one sender is left"
        );
        drop(tx2);
        for w in waiters {
            assert_eq!(w.join().unwrap(), Err(RecvError));
        }
    });
}

#[test]
fn dropping_the_last_receiver_returns_values_to_blocked_senders() {
    let dropped = Arc::new(AtomicUsize::new(0));
    green::run(|| {
        let (tx, rx) = channel::bounded(1);
        tx.send(Counted(dropped.clone())).unwrap(); // queued
        let sender = {
            let tx = tx.clone();
            let d = dropped.clone();
            green::spawn(move || match tx.send(Counted(d)) {
                Err(err) => {
                    let _value_back: Counted = err.0;
                    "returned"
                }
                Ok(()) => "sent",
            })
        };
        green::yield_now(); // sender blocks: the channel is full
        drop(rx);
        // The queued value is dropped with the last receiver.
        assert_eq!(dropped.load(Ordering::SeqCst), 1);
        assert_eq!(sender.join().unwrap(), "returned");
        assert_eq!(dropped.load(Ordering::SeqCst), 2);
        assert!(tx.send(Counted(dropped.clone())).is_err());
    });
    assert_eq!(dropped.load(Ordering::SeqCst), 3);
}

#[test]
fn values_queued_before_disconnection_are_still_received() {
    let (tx, rx) = channel::unbounded();
    tx.send("a").unwrap();
    tx.send("b").unwrap();
    drop(tx);
    assert!(rx.is_disconnected());
    assert_eq!(rx.recv(), Ok("a"));
    assert_eq!(rx.recv(), Ok("b"));
    assert_eq!(rx.recv(), Err(RecvError));
}

#[test]
fn timeouts_fire_and_never_early() {
    green::run(|| {
        let (tx, rx) = channel::channel::<u32>();
        for ms in [1u64, 5, 20] {
            let d = Duration::from_millis(ms);
            let start = Instant::now();
            assert_eq!(rx.recv_timeout(d), Err(RecvTimeoutError::Timeout));
            assert!(start.elapsed() >= d, "recv_timeout returned early");
            let start = Instant::now();
            assert_eq!(tx.send_timeout(7, d), Err(SendTimeoutError::Timeout(7)));
            assert!(start.elapsed() >= d, "send_timeout returned early");
        }
        // A timed-out wait leaves nothing behind: the channel works after.
        let t = green::spawn(move || tx.send(1));
        assert_eq!(rx.recv_timeout(Duration::from_secs(10)), Ok(1));
        assert_eq!(t.join().unwrap(), Ok(()));
        assert_eq!(
            rx.recv_timeout(Duration::from_millis(1)),
            Err(RecvTimeoutError::Disconnected)
        );
    });
}

#[test]
fn other_greenlets_run_while_one_waits_with_a_timeout() {
    green::run(|| {
        let (tx, rx) = channel::channel();
        let ticker = green::spawn(move || {
            for i in 0..3 {
                green::sleep(Duration::from_millis(1));
                tx.send(i).unwrap();
            }
        });
        let got: Vec<i32> =
            std::iter::from_fn(|| rx.recv_timeout(Duration::from_secs(10)).ok()).collect();
        assert_eq!(got, [0, 1, 2]);
        ticker.join().unwrap();
    });
}

#[test]
fn killing_a_blocked_receiver_releases_it_and_loses_nothing() {
    let dropped = Arc::new(AtomicUsize::new(0));
    green::run(|| {
        let (tx, rx) = channel::unbounded();
        let guard_ran = Rc::new(RefCell::new(false));
        let g = guard_ran.clone();
        let victim = {
            let rx = rx.clone();
            let d = dropped.clone();
            green::spawn(move || {
                let _guard = Counted(d);
                let _set = scopeguard(g);
                rx.recv()
            })
        };
        green::yield_now(); // victim waits in recv
        victim.kill();
        assert!(victim.join().unwrap_err().is_killed());
        assert!(*guard_ran.borrow());
        assert_eq!(dropped.load(Ordering::SeqCst), 1);
        // Its registration is gone: the next value goes to main.
        tx.send(5).unwrap();
        assert_eq!(rx.try_recv(), Ok(5));
    });
}

/// Sets the flag when dropped.
fn scopeguard(flag: Rc<RefCell<bool>>) -> impl Drop {
    struct Set(Rc<RefCell<bool>>);
    impl Drop for Set {
        fn drop(&mut self) {
            *self.0.borrow_mut() = true;
        }
    }
    Set(flag)
}

#[test]
fn a_value_handed_to_a_killed_receiver_goes_back_to_the_channel() {
    green::run(|| {
        let (tx, rx) = channel::unbounded();
        let victim = {
            let rx = rx.clone();
            green::spawn(move || rx.recv())
        };
        green::yield_now(); // victim waits in recv
                            // The sender is queued before the kill reaches the victim: it hands
                            // the value to the victim's registration, then the victim unwinds.
        let sender = green::spawn(move || tx.send("precious").unwrap());
        victim.kill();
        assert!(victim.join().unwrap_err().is_killed());
        sender.join().unwrap();
        assert_eq!(rx.try_recv(), Ok("precious"));
    });
}

#[test]
fn killing_a_blocked_sender_withdraws_its_value() {
    let dropped = Arc::new(AtomicUsize::new(0));
    green::run(|| {
        let (tx, rx) = channel::channel();
        let victim = {
            let d = dropped.clone();
            green::spawn(move || tx.send(Counted(d)))
        };
        green::yield_now(); // victim waits in send
        victim.kill();
        assert!(victim.join().unwrap_err().is_killed());
        assert_eq!(
            dropped.load(Ordering::SeqCst),
            1,
            "the unsent value is dropped"
        );
        assert!(matches!(rx.try_recv(), Err(TryRecvError::Disconnected)));
    });
}

#[test]
fn select_takes_the_first_ready_operation_in_order() {
    green::run(|| {
        let (tx1, rx1) = channel::unbounded();
        let (tx2, rx2) = channel::unbounded();
        tx1.send(1).unwrap();
        tx2.send(2).unwrap();
        let got = Select::new()
            .recv(&rx2, |r| r.unwrap())
            .recv(&rx1, |r| r.unwrap())
            .wait();
        assert_eq!(got, 2, "both ready: the first added wins");
        assert_eq!(rx1.len(), 1, "the other was not received");
    });
}

#[test]
fn select_waits_for_whichever_comes_first() {
    green::run(|| {
        let (tx_a, rx_a) = channel::channel::<&str>();
        let (tx_b, rx_b) = channel::channel::<&str>();
        let a = green::spawn(move || {
            green::sleep(Duration::from_millis(30));
            tx_a.send_timeout("a", Duration::from_millis(1)).is_ok()
        });
        let b = green::spawn(move || {
            green::sleep(Duration::from_millis(1));
            tx_b.send("b").unwrap();
        });
        let got = Select::new()
            .recv(&rx_a, |r| r.unwrap())
            .recv(&rx_b, |r| r.unwrap())
            .wait();
        assert_eq!(got, "b");
        b.join().unwrap();
        assert!(!a.join().unwrap(), "nobody received from a");
    });
}

#[test]
fn select_send_and_recv_cases() {
    green::run(|| {
        let (tx_in, rx_in) = channel::channel::<i32>();
        let (tx_out, rx_out) = channel::channel::<i32>();
        // A greenlet that only receives on `out`.
        let consumer = green::spawn(move || rx_out.recv().unwrap());
        green::yield_now();
        let which = Select::new()
            .recv(&rx_in, |_| "recv")
            .send(&tx_out, 42, |r| {
                r.unwrap();
                "send"
            })
            .wait();
        assert_eq!(which, "send");
        assert_eq!(consumer.join().unwrap(), 42);
        drop(tx_in);
    });
}

#[test]
fn selects_on_both_sides_of_a_rendezvous_meet() {
    green::run(|| {
        let (tx, rx) = channel::channel::<u32>();
        let (_tx_idle, rx_idle) = channel::channel::<u32>();
        let receiver = green::spawn(move || {
            Select::new()
                .recv(&rx_idle, |_| 0)
                .recv(&rx, |r| r.unwrap())
                .wait()
        });
        green::yield_now(); // the receiver's select is registered
        let sent = Select::new()
            .send(&tx, 77, |r| r.is_ok())
            .timeout(Duration::from_secs(10), || false)
            .wait();
        assert!(sent);
        assert_eq!(receiver.join().unwrap(), 77);
    });
}

#[test]
fn a_select_does_not_meet_itself() {
    green::run(|| {
        let (tx, rx) = channel::channel::<u8>();
        let got = Select::new()
            .send(&tx, 1, |_| "sent")
            .recv(&rx, |_| "received")
            .timeout(Duration::from_millis(5), || "timed out")
            .wait();
        assert_eq!(got, "timed out");
    });
}

#[test]
fn select_default_timeout_and_disconnection() {
    green::run(|| {
        let (tx, rx) = channel::unbounded::<()>();
        let got = Select::new().recv(&rx, |_| 1).default(|| 2).wait();
        assert_eq!(got, 2);
        let start = Instant::now();
        let got = Select::new()
            .recv(&rx, |_| 1)
            .timeout(Duration::from_millis(10), || 2)
            .wait();
        assert_eq!(got, 2);
        assert!(start.elapsed() >= Duration::from_millis(10));
        drop(tx);
        let got = Select::new().recv(&rx, |r| r.is_err()).wait();
        assert!(got, "a disconnected channel is ready with its error");
    });
}

#[test]
fn select_with_nothing_panics_clearly() {
    let err = std::panic::catch_unwind(|| Select::<()>::new().wait()).unwrap_err();
    let msg = err.downcast_ref::<&str>().copied().unwrap_or_default();
    assert!(msg.contains("would wait forever"), "{msg}");
}

#[test]
fn killing_a_greenlet_in_select_releases_every_registration() {
    green::run(|| {
        let (tx1, rx1) = channel::unbounded::<i32>();
        let (tx2, rx2) = channel::channel::<i32>();
        let victim = {
            let (rx1, rx2) = (rx1.clone(), rx2.clone());
            green::spawn(move || Select::new().recv(&rx1, |_| ()).recv(&rx2, |_| ()).wait())
        };
        green::yield_now();
        victim.kill();
        assert!(victim.join().unwrap_err().is_killed());
        tx1.send(1).unwrap();
        assert_eq!(rx1.try_recv(), Ok(1));
        assert_eq!(
            tx2.try_send(2),
            Err(TrySendError::Full(2)),
            "no stale receiver"
        );
    });
}

#[test]
fn many_producers_and_consumers_on_one_hub() {
    green::run(|| {
        let (tx, rx) = channel::bounded(8);
        let (done_tx, done_rx) = channel::unbounded();
        for p in 0..50u64 {
            let tx = tx.clone();
            green::spawn(move || {
                for i in 0..200u64 {
                    tx.send(p * 1000 + i).unwrap();
                }
            });
        }
        drop(tx);
        for _ in 0..20 {
            let rx = rx.clone();
            let done_tx = done_tx.clone();
            green::spawn(move || {
                let (mut n, mut sum) = (0u64, 0u64);
                for v in rx.iter() {
                    n += 1;
                    sum += v;
                }
                done_tx.send((n, sum)).unwrap();
            });
        }
        drop(done_tx);
        let (n, sum) = done_rx
            .iter()
            .fold((0, 0), |(n, s), (dn, ds)| (n + dn, s + ds));
        assert_eq!(n, 10_000);
        let expected: u64 = (0..50u64)
            .map(|p| (0..200u64).map(|i| p * 1000 + i).sum::<u64>())
            .sum();
        assert_eq!(sum, expected);
    });
}

#[test]
fn threads_feed_a_greenlet_and_a_greenlet_feeds_a_thread() {
    green::run(|| {
        let (tx, rx) = channel::bounded::<u64>(4);
        let producers: Vec<_> = (0..4u64)
            .map(|t| {
                let tx = tx.clone();
                std::thread::spawn(move || {
                    for i in 0..2_000 {
                        tx.send(t * 10_000 + i).unwrap();
                    }
                })
            })
            .collect();
        drop(tx);
        // Meanwhile, other greenlets keep running on the hub.
        let ticks = Rc::new(RefCell::new(0));
        let t = ticks.clone();
        let (stop_tx, stop_rx) = channel::unbounded::<()>();
        let ticker = green::spawn(move || {
            while stop_rx.try_recv().is_err() {
                *t.borrow_mut() += 1;
                green::sleep(Duration::from_micros(100));
            }
        });
        let (n, sum) = rx.iter().fold((0u64, 0u64), |(n, s), v| (n + 1, s + v));
        assert_eq!(n, 8_000);
        let expected: u64 = (0..4u64)
            .map(|t| (0..2_000u64).map(|i| t * 10_000 + i).sum::<u64>())
            .sum();
        assert_eq!(sum, expected);
        for p in producers {
            p.join().unwrap();
        }
        stop_tx.send(()).unwrap();
        ticker.join().unwrap();

        // The other way: a greenlet sends, a thread receives.
        let (tx, rx) = channel::channel::<u32>();
        let consumer = std::thread::spawn(move || rx.iter().sum::<u32>());
        for i in 1..=100 {
            tx.send(i).unwrap(); // rendezvous with a thread
        }
        drop(tx);
        assert_eq!(consumer.join().unwrap(), 5050);
    });
}

#[test]
fn two_hubs_ping_pong() {
    let (ping_tx, ping_rx) = channel::channel::<u32>();
    let (pong_tx, pong_rx) = channel::channel::<u32>();
    let other = std::thread::spawn(move || {
        green::run(move || {
            for v in ping_rx.iter() {
                pong_tx.send(v + 1).unwrap();
            }
        })
    });
    green::run(move || {
        let mut v = 0;
        for _ in 0..1_000 {
            ping_tx.send(v).unwrap();
            v = pong_rx.recv().unwrap();
        }
        assert_eq!(v, 1_000);
    });
    other.join().unwrap();
}

#[test]
fn outside_run_channels_behave_like_mpsc() {
    let (tx, rx) = channel::channel::<String>();
    // Measured from before the spawn: the receiver sleeps 20 ms from there,
    // while the thread may start late.
    let start = Instant::now();
    let t = std::thread::spawn(move || {
        tx.send("hello".to_string()).unwrap(); // blocks until received
        start.elapsed()
    });
    std::thread::sleep(Duration::from_millis(20));
    assert_eq!(rx.recv().unwrap(), "hello");
    assert!(t.join().unwrap() >= Duration::from_millis(20));
    assert_eq!(rx.recv(), Err(RecvError));
}

/// What the child of `a_thread_local_destructor_can_wait_on_channels` does:
/// a thread whose thread-local (made before its first wait on a channel,
/// so dropped after green's own at its exit) waits on channels in its
/// destructor: a `recv_timeout`, a select that times out, and a send on a
/// rendezvous channel that the test's thread receives.
fn waits_in_a_thread_local_destructor() {
    struct WaitsOnDrop(channel::Sender<&'static str>);
    impl Drop for WaitsOnDrop {
        fn drop(&mut self) {
            let (_tx, rx) = channel::unbounded::<()>();
            let timed_out = rx.recv_timeout(Duration::from_millis(2));
            let selected = Select::new()
                .recv(&rx, |_| "value")
                .timeout(Duration::from_millis(2), || "timed out")
                .wait();
            self.0.send(selected).unwrap();
            eprintln!("the destructor's waits returned: {timed_out:?}, {selected}");
        }
    }
    thread_local! {
        static WAITS: RefCell<Option<WaitsOnDrop>> = const { RefCell::new(None) };
    }
    let (tx, rx) = channel::channel::<&'static str>();
    let t = std::thread::spawn(move || {
        WAITS.with(|w| *w.borrow_mut() = Some(WaitsOnDrop(tx)));
        // The thread's first wait that blocks: green's thread-locals come
        // after `WAITS`, so they are dropped before it.
        let (_idle_tx, idle) = channel::unbounded::<()>();
        let _ = idle.recv_timeout(Duration::from_millis(1));
    });
    assert_eq!(rx.recv(), Ok("timed out"));
    t.join().unwrap();
}

/// A wait on a channel in a thread-local's destructor at the thread's exit
/// works, as crossbeam's does (its thread_locals test): green's thread
/// parker, dropped first, was looked up with `with`, which panicked there,
/// and a panic in a thread-local's destructor aborts the process.
#[test]
fn a_thread_local_destructor_can_wait_on_channels() {
    let _w = util::watchdog();
    util::in_child_ok(
        "a_thread_local_destructor_can_wait_on_channels",
        waits_in_a_thread_local_destructor,
        &["the destructor's waits returned: Err(Timeout), timed out"],
    );
}

#[test]
fn ends_are_send_and_sync_when_values_are_send() {
    fn send_sync<T: Send + Sync>() {}
    send_sync::<channel::Sender<String>>();
    send_sync::<channel::Receiver<String>>();
    // !Send values work inside one hub.
    green::run(|| {
        let (tx, rx) = channel::unbounded::<Rc<u8>>();
        green::spawn(move || tx.send(Rc::new(3)).unwrap());
        assert_eq!(*rx.recv().unwrap(), 3);
    });
}

#[test]
fn an_unpark_during_a_receive_is_kept_for_park() {
    let _w = util::watchdog();
    green::run(|| {
        let (tx, rx) = green::channel::unbounded::<u32>();
        let main = green::current();
        let sender = green::spawn(move || {
            main.unpark(); // comes while main waits to receive
            green::yield_now();
            tx.send(7).unwrap();
        });
        assert_eq!(rx.recv().unwrap(), 7);
        sender.join().unwrap();
        green::park(); // the unpark came before: returns at once
    });
}

/// Sends `value` on `tx` from an OS thread, drops `tx` there, and waits for
/// the thread without switching: a receiver greenlet the value was handed to
/// stays parked (its wake-up waits in the hub's inbox), so a kill now still
/// unwinds it before it can take the value.
fn send_from_a_thread_without_switching<T: Send + 'static>(tx: channel::Sender<T>, value: T) {
    let done = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let d = done.clone();
    let t = std::thread::spawn(move || {
        tx.send(value).map_err(drop).unwrap();
        drop(tx);
        d.store(true, Ordering::SeqCst);
    });
    while !done.load(Ordering::SeqCst) {
        std::hint::spin_loop();
    }
    t.join().unwrap();
}

/// A rendezvous channel and a greenlet (the holder) waiting in `recv` on a
/// clone of its receiver.
fn a_holder_waiting_in_recv() -> (
    channel::Sender<u32>,
    channel::Receiver<u32>,
    green::JoinHandle<Result<u32, channel::RecvError>>,
) {
    let (tx, rx) = channel::channel::<u32>();
    let holder = {
        let rx = rx.clone();
        green::spawn(move || rx.recv())
    };
    green::yield_now(); // the holder waits in recv
    (tx, rx, holder)
}

/// A value handed to a blocked receiver that is killed before it takes it
/// comes back to the channel: until then, with every sender gone, the other
/// receivers must not be told `Disconnected` (mpsc's contract: no value
/// comes after it), or a consumer that stops there loses the value.
#[test]
fn no_value_comes_back_after_a_disconnection_was_reported() {
    let _w = util::watchdog();
    green::run(|| {
        let (tx, rx, holder) = a_holder_waiting_in_recv();
        // Handed to the holder, which has not taken it: the value is in
        // flight.
        send_from_a_thread_without_switching(tx, 42);
        assert_eq!(rx.try_recv(), Err(TryRecvError::Empty));
        assert_eq!(
            rx.recv_timeout(Duration::ZERO),
            Err(RecvTimeoutError::Timeout)
        );
        let got = Select::new()
            .recv(&rx, |r| format!("{r:?}"))
            .default(|| "nothing yet".to_string())
            .wait();
        assert_eq!(got, "nothing yet");
        holder.kill(); // it never took the value: it comes back
        assert!(holder.join().unwrap_err().is_killed());
        assert_eq!(
            rx.try_recv(),
            Ok(42),
            "back at the head of a rendezvous channel"
        );
        assert_eq!(rx.try_recv(), Err(TryRecvError::Disconnected));
    });
}

/// As above with a blocking receive: `recv` (and so `iter`) waits while the
/// value is in flight, and gets it when its holder is killed.
#[test]
fn recv_waits_for_a_value_in_flight_to_a_receiver_that_is_killed() {
    let _w = util::watchdog();
    green::run(|| {
        let (tx, rx, holder) = a_holder_waiting_in_recv();
        // One batch of the hub, which takes in no wake-up from another
        // thread until it ends: the consumer hands the value to the holder
        // from a thread and waits in recv, then the killer kills the holder,
        // still parked.
        let consumer = green::spawn(move || {
            send_from_a_thread_without_switching(tx, 42);
            rx.iter().collect::<Vec<u32>>()
        });
        let killer = green::spawn(move || {
            holder.kill();
            holder.join().unwrap_err().is_killed()
        });
        assert_eq!(
            consumer.join().unwrap(),
            [42],
            "the value handed to the killed holder"
        );
        assert!(killer.join().unwrap(), "the holder was killed");
    });
}

/// The other side of the wait above: when the holder takes its value, the
/// receivers waiting for it are woken to see the disconnection (no hang).
/// (Passed before the fix too: they saw it at once.)
#[test]
fn receivers_waiting_on_a_value_in_flight_see_the_disconnection_once_it_is_taken() {
    let _w = util::watchdog();
    green::run(|| {
        let (tx, rx, holder) = a_holder_waiting_in_recv();
        tx.send(42).unwrap(); // handed to the holder, which is ready
        drop(tx);
        let other = {
            let rx = rx.clone();
            green::spawn(move || {
                Select::new()
                    .recv(&rx, |r| r)
                    .timeout(Duration::from_secs(10), || Ok(0))
                    .wait()
            })
        };
        assert_eq!(rx.recv(), Err(RecvError));
        assert_eq!(holder.join().unwrap(), Ok(42));
        assert_eq!(other.join().unwrap(), Err(RecvError));
    });
}

/// Plain sends and receives give up (time out) while the other side, on
/// another thread, completes them: each race ends one way or the other,
/// and every value sent is received exactly once. Two sender threads retry
/// timed-out sends; two greenlets of a hub and a plain thread receive with
/// short timeouts until the channel disconnects.
#[test]
fn timed_out_waits_racing_other_threads_lose_and_duplicate_nothing() {
    const PER_SENDER: u64 = 2_000;
    let _w = util::watchdog();
    let (tx, rx) = channel::channel::<u64>();
    let tiny = Duration::from_micros(2);
    let receive = move |rx: channel::Receiver<u64>| {
        let (mut count, mut sum) = (0u64, 0u64);
        loop {
            match rx.recv_timeout(tiny) {
                Ok(v) => {
                    count += 1;
                    sum += v;
                }
                Err(RecvTimeoutError::Timeout) => {}
                Err(RecvTimeoutError::Disconnected) => return (count, sum),
            }
        }
    };
    let senders: Vec<_> = (0..2)
        .map(|s| {
            let tx = tx.clone();
            std::thread::spawn(move || {
                for i in 0..PER_SENDER {
                    let mut v = s * PER_SENDER + i;
                    loop {
                        match tx.send_timeout(v, tiny) {
                            Ok(()) => break,
                            Err(SendTimeoutError::Timeout(back)) => v = back,
                            Err(SendTimeoutError::Disconnected(_)) => panic!("receivers gone"),
                        }
                    }
                }
            })
        })
        .collect();
    drop(tx);
    let thread_rx = rx.clone();
    let thread = std::thread::spawn(move || receive(thread_rx));
    let hub = std::thread::spawn(move || {
        green::run(move || {
            let other = rx.clone();
            let a = green::spawn(move || receive(other));
            let b = receive(rx);
            let a = a.join().unwrap();
            (a.0 + b.0, a.1 + b.1)
        })
    });
    for s in senders {
        s.join().unwrap();
    }
    let (c1, s1) = thread.join().unwrap();
    let (c2, s2) = hub.join().unwrap();
    let n = 2 * PER_SENDER;
    assert_eq!(c1 + c2, n, "values received");
    assert_eq!(s1 + s2, n * (n - 1) / 2, "each value once");
}
