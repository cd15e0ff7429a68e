//! `Select` under races: selects on hubs and on plain threads completed
//! from other threads, microsecond timeouts, kills. Every value is counted
//! by its destructor and by the sum of what was received, so a lost value
//! or a duplicated one shows. (The behaviour one case at a time is in
//! tests/channel.rs.)

use std::cell::RefCell;
use std::collections::HashSet;
use std::rc::Rc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use green::channel::{self, Receiver, Select, SendTimeoutError, Sender};

mod util;

use util::{DropCounter, Drops};

/// A value that counts its drops: each one made must be dropped once.
struct Tracked {
    v: u64,
    _drop: DropCounter,
}

/// The values made, and their drops.
#[derive(Clone, Default)]
struct Counts {
    made: Arc<AtomicUsize>,
    drops: Drops,
}

impl Counts {
    fn make(&self, v: u64) -> Tracked {
        self.made.fetch_add(1, Ordering::SeqCst);
        Tracked {
            v,
            _drop: self.drops.guard(),
        }
    }

    fn made(&self) -> usize {
        self.made.load(Ordering::SeqCst)
    }
}

/// What a receiving select got.
enum Got {
    Value(u64),
    Closed(usize),
    Nothing,
}

/// Receives on `rxs` through selects with `timeout` (none: wait), until
/// every channel is disconnected; the count and the sum of the values.
fn select_until_closed(rxs: &[Receiver<Tracked>], timeout: Option<Duration>) -> (u64, u64) {
    let mut open = vec![true; rxs.len()];
    let (mut count, mut sum) = (0, 0);
    while open.contains(&true) {
        let mut select = Select::new();
        for (i, rx) in rxs.iter().enumerate().filter(|(i, _)| open[*i]) {
            select = select.recv(rx, move |r| match r {
                Ok(t) => Got::Value(t.v),
                Err(_) => Got::Closed(i),
            });
        }
        if let Some(t) = timeout {
            select = select.timeout(t, || Got::Nothing);
        }
        match select.wait() {
            Got::Value(v) => {
                count += 1;
                sum += v;
            }
            Got::Closed(i) => open[i] = false,
            Got::Nothing => {}
        }
    }
    (count, sum)
}

/// Sends `values` on `txs` in turns, each through a select over every
/// channel with a timeout `tiny` (a timed-out select drops its offers: a
/// fresh one is made for the retry).
fn select_send_all(
    txs: &[Sender<Tracked>],
    values: std::ops::Range<u64>,
    counts: &Counts,
    tiny: Duration,
) {
    for v in values {
        loop {
            let mut select = Select::new();
            for tx in txs {
                select = select.send(tx, counts.make(v), |r| {
                    r.unwrap_or_else(|_| panic!("receivers gone"));
                    true
                });
            }
            if select.timeout(tiny, || false).wait() {
                break;
            }
        }
    }
}

#[test]
fn selects_racing_threads_with_microsecond_timeouts_lose_and_duplicate_nothing() {
    const PER_SENDER: u64 = 2_000;
    let _w = util::watchdog();
    let counts = Counts::default();
    let tiny = Duration::from_micros(2);
    let (tx_a, rx_a) = channel::channel::<Tracked>();
    let (tx_b, rx_b) = channel::bounded::<Tracked>(1);
    // Two senders: one through selects over both channels, one with plain
    // timed sends on each in turn, both timing out all the time.
    let select_sender = {
        let txs = [tx_a.clone(), tx_b.clone()];
        let counts = counts.clone();
        std::thread::spawn(move || select_send_all(&txs, 0..PER_SENDER, &counts, tiny))
    };
    let plain_sender = {
        let txs = [tx_a, tx_b];
        let counts = counts.clone();
        std::thread::spawn(move || {
            for v in PER_SENDER..2 * PER_SENDER {
                let mut value = counts.make(v);
                for tx in txs.iter().cycle() {
                    match tx.send_timeout(value, tiny) {
                        Ok(()) => break,
                        Err(SendTimeoutError::Timeout(back)) => value = back,
                        Err(SendTimeoutError::Disconnected(_)) => panic!("receivers gone"),
                    }
                }
            }
        })
    };
    // Receivers: selects with timeouts on a thread and on a hub, plus a
    // greenlet of that hub with plain timed receives.
    let thread = {
        let rxs = [rx_a.clone(), rx_b.clone()];
        std::thread::spawn(move || select_until_closed(&rxs, Some(tiny)))
    };
    let hub = std::thread::spawn(move || {
        green::run(move || {
            let plain = {
                let rxs = [rx_a.clone(), rx_b.clone()];
                green::spawn(move || {
                    let (mut count, mut sum) = (0, 0);
                    let mut open = [true, true];
                    while open.contains(&true) {
                        for (i, rx) in rxs.iter().enumerate() {
                            if !open[i] {
                                continue;
                            }
                            match rx.recv_timeout(tiny) {
                                Ok(t) => {
                                    count += 1;
                                    sum += t.v;
                                }
                                Err(channel::RecvTimeoutError::Timeout) => {}
                                Err(channel::RecvTimeoutError::Disconnected) => open[i] = false,
                            }
                        }
                    }
                    (count, sum)
                })
            };
            let (c, s) = select_until_closed(&[rx_a, rx_b], Some(tiny));
            let (pc, ps) = plain.join().unwrap();
            (c + pc, s + ps)
        })
    });
    select_sender.join().unwrap();
    plain_sender.join().unwrap();
    let (c1, s1) = thread.join().unwrap();
    let (c2, s2) = hub.join().unwrap();
    let n = 2 * PER_SENDER;
    assert_eq!(c1 + c2, n, "values received");
    assert_eq!(s1 + s2, n * (n - 1) / 2, "each value once");
    // The offers of timed-out selects were dropped with them; nothing else.
    assert_eq!(
        counts.drops.count(),
        counts.made(),
        "every value made dropped once"
    );
}

#[test]
fn killed_selecting_receivers_lose_and_duplicate_nothing() {
    const PER_SENDER: u64 = 2_000;
    const RECEIVERS: usize = 4;
    let _w = util::watchdog();
    let counts = Counts::default();
    let (tx_a, rx_a) = channel::channel::<Tracked>();
    let (tx_b, rx_b) = channel::channel::<Tracked>();
    // Sender threads with plain sends: a value handed to a selecting
    // greenlet that is killed before it takes it goes back to the channel.
    let senders: Vec<_> = (0..2)
        .map(|s| {
            let txs = [tx_a.clone(), tx_b.clone()];
            let counts = counts.clone();
            std::thread::spawn(move || {
                for i in 0..PER_SENDER {
                    let value = counts.make(s * PER_SENDER + i);
                    if txs[(i % 2) as usize].send(value).is_err() {
                        panic!("receivers gone");
                    }
                }
            })
        })
        .collect();
    drop((tx_a, tx_b));
    let hub = std::thread::spawn(move || {
        green::run(move || {
            let got = Rc::new(RefCell::new((0u64, 0u64)));
            let spawn_receiver = || {
                let (rxs, got) = ([rx_a.clone(), rx_b.clone()], got.clone());
                green::spawn(move || {
                    // Counts as it goes, so a kill keeps what came before.
                    let mut open = [true, true];
                    while open.contains(&true) {
                        let mut select = Select::new();
                        for (i, rx) in rxs.iter().enumerate().filter(|(i, _)| open[*i]) {
                            select = select.recv(rx, move |r| r.map(|t| t.v).map_err(|_| i));
                        }
                        match select.wait() {
                            Ok(v) => {
                                let mut got = got.borrow_mut();
                                got.0 += 1;
                                got.1 += v;
                            }
                            Err(i) => open[i] = false,
                        }
                    }
                })
            };
            let mut receivers: Vec<_> = (0..RECEIVERS).map(|_| spawn_receiver()).collect();
            for round in 0..2_000 {
                green::yield_now();
                let victim = std::mem::replace(&mut receivers[round % RECEIVERS], spawn_receiver());
                victim.kill();
            }
            drop((rx_a, rx_b));
            for r in receivers {
                r.join().unwrap();
            }
            let got = *got.borrow();
            got
        })
    });
    for s in senders {
        s.join().unwrap();
    }
    let (count, sum) = hub.join().unwrap();
    let n = 2 * PER_SENDER;
    assert_eq!(count, n, "values received");
    assert_eq!(sum, n * (n - 1) / 2, "each value once");
    assert_eq!(counts.made() as u64, n);
    assert_eq!(counts.drops.count() as u64, n, "every value dropped once");
}

/// What came out of the selects of a test: values sent (by a `send` case
/// chosen) and received, counted and summed; the values received, and the
/// offers of selects unwound (killed, or cut short by a `green::timeout`)
/// before they could tell whether their value was sent.
#[derive(Clone, Default)]
struct Ledger {
    sent: Arc<(AtomicU64, AtomicU64)>,
    received: Arc<(AtomicU64, AtomicU64)>,
    received_values: Arc<Mutex<HashSet<u64>>>,
    unwound: Arc<Mutex<Vec<u64>>>,
}

impl Ledger {
    fn sent(&self, v: u64) {
        self.sent.0.fetch_add(1, Ordering::SeqCst);
        self.sent.1.fetch_add(v, Ordering::SeqCst);
    }

    fn received(&self, t: Tracked) {
        self.received.0.fetch_add(1, Ordering::SeqCst);
        self.received.1.fetch_add(t.v, Ordering::SeqCst);
        let new = self.received_values.lock().unwrap().insert(t.v);
        assert!(new, "{} received twice", t.v);
    }

    /// (count, sum) of the unwound selects' offers that were received: a
    /// select unwound after a receiver took its value sent it (a kill or a
    /// timeout does not undo a send), without telling its caller.
    fn unwound_and_received(&self) -> (u64, u64) {
        let received = self.received_values.lock().unwrap();
        let unwound = self.unwound.lock().unwrap();
        let taken = unwound.iter().filter(|v| received.contains(v));
        taken.fold((0, 0), |(n, sum), v| (n + 1, sum + v))
    }

    /// (count, sum) sent and received.
    fn totals(&self) -> ((u64, u64), (u64, u64)) {
        let load =
            |p: &(AtomicU64, AtomicU64)| (p.0.load(Ordering::SeqCst), p.1.load(Ordering::SeqCst));
        (load(&self.sent), load(&self.received))
    }
}

/// One select that offers `v` on `tx` and receives on `rx` and `rx1`
/// (`tx` and `rx` the two ends of one channel), with `timeout` if any.
fn trade(
    (tx, rx, rx1): (&Sender<Tracked>, &Receiver<Tracked>, &Receiver<Tracked>),
    counts: &Counts,
    ledger: &Ledger,
    v: u64,
    timeout: Option<Duration>,
) {
    let received = |r: Result<Tracked, channel::RecvError>| {
        ledger.received(r.expect("senders are alive"));
        false
    };
    let mut select = Select::new()
        .send(tx, counts.make(v), |r| {
            r.unwrap_or_else(|_| panic!("receivers are alive"));
            true
        })
        .recv(rx, received)
        .recv(rx1, received);
    if let Some(t) = timeout {
        select = select.timeout(t, || false);
    }
    /// Notes the offer if the select is unwound.
    struct Offer<'a>(&'a Ledger, u64);
    impl Drop for Offer<'_> {
        fn drop(&mut self) {
            self.0.unwound.lock().unwrap().push(self.1);
        }
    }
    let offer = Offer(ledger, v);
    let sent = select.wait();
    std::mem::forget(offer);
    if sent {
        ledger.sent(v);
    }
}

#[test]
fn selects_sending_and_receiving_on_one_rendezvous_channel_lose_and_duplicate_nothing() {
    const ROUNDS: u64 = 3_000;
    let _w = util::watchdog();
    let (counts, ledger) = (Counts::default(), Ledger::default());
    let (tx, rx) = channel::channel::<Tracked>();
    let (tx1, rx1) = channel::bounded::<Tracked>(1);
    // Each select offers a value on the rendezvous channel and receives on
    // it and on the one-slot channel (whose only sender is the hubs' main
    // greenlets): two threads with 3 us timeouts, and on two hubs four
    // greenlets each (2 or 200 us timeouts, every fifth inside a 5 us
    // green::timeout), plus greenlets that select without a timeout and
    // are killed 20 us later, 500 per hub.
    let mut threads = Vec::new();
    for t in 0..2 {
        let (ends, counts, ledger) = (
            (tx.clone(), rx.clone(), rx1.clone()),
            counts.clone(),
            ledger.clone(),
        );
        threads.push(std::thread::spawn(move || {
            for i in 0..ROUNDS {
                let v = (t + 1) * 1_000_000 + i;
                trade(
                    (&ends.0, &ends.1, &ends.2),
                    &counts,
                    &ledger,
                    v,
                    Some(Duration::from_micros(3)),
                );
            }
        }));
    }
    for h in 0..2 {
        let (tx, rx, tx1, rx1) = (tx.clone(), rx.clone(), tx1.clone(), rx1.clone());
        let (counts, ledger) = (counts.clone(), ledger.clone());
        threads.push(std::thread::spawn(move || {
            green::run(move || {
                let traders: Vec<_> = (0..4)
                    .map(|g| {
                        let ends = (tx.clone(), rx.clone(), rx1.clone());
                        let (counts, ledger) = (counts.clone(), ledger.clone());
                        green::spawn(move || {
                            let ends = (&ends.0, &ends.1, &ends.2);
                            for i in 0..ROUNDS {
                                let v = (10 + h * 4 + g) * 1_000_000 + i;
                                let t = Duration::from_micros(if i % 3 == 0 { 200 } else { 2 });
                                if i % 5 == 0 {
                                    let _ = green::timeout(Duration::from_micros(5), || {
                                        trade(ends, &counts, &ledger, v, Some(t))
                                    });
                                } else {
                                    trade(ends, &counts, &ledger, v, Some(t));
                                }
                            }
                        })
                    })
                    .collect();
                for round in 0..500 {
                    let ends = (tx.clone(), rx.clone(), rx1.clone());
                    let (c, l) = (counts.clone(), ledger.clone());
                    let victim = green::spawn(move || {
                        // Each value its own, as everywhere else here.
                        for k in 0.. {
                            let v = (20 + h) * 1_000_000_000 + round * 1_000_000 + k;
                            trade((&ends.0, &ends.1, &ends.2), &c, &l, v, None);
                        }
                    });
                    green::sleep(Duration::from_micros(20));
                    victim.kill();
                    let v = (30 + h) * 1_000_000 + round;
                    if tx1.try_send(counts.make(v)).is_ok() {
                        ledger.sent(v);
                    }
                }
                for t in traders {
                    t.join().unwrap();
                }
            })
        }));
    }
    for t in threads {
        t.join().unwrap();
    }
    // Values given back by killed receivers wait at the head of a channel.
    drop((tx, tx1));
    for rx in [&rx, &rx1] {
        while let Ok(t) = rx.try_recv() {
            ledger.received(t);
        }
    }
    let ((n, sum), received) = ledger.totals();
    let (unwound_n, unwound_sum) = ledger.unwound_and_received();
    assert_eq!(
        (n + unwound_n, sum + unwound_sum),
        received,
        "every value sent received once, and no other: (count, sum)"
    );
    drop((rx, rx1));
    assert_eq!(
        counts.drops.count(),
        counts.made(),
        "every value made dropped once"
    );
}

#[test]
fn a_single_value_is_received_once_by_selects_killed_or_seeing_the_disconnection() {
    let _w = util::watchdog();
    let hub = std::thread::spawn(|| {
        green::run(|| {
            for round in 0..3_000u64 {
                let (counts, ledger) = (Counts::default(), Ledger::default());
                let (tx, rx) = if round % 2 == 0 {
                    channel::channel::<Tracked>()
                } else {
                    channel::bounded::<Tracked>(1)
                };
                let (_idle_tx, idle) = channel::channel::<Tracked>();
                let value = counts.make(round);
                // One value from a thread that then leaves; receivers
                // select until they see the disconnection: a thread with
                // two receives of the channel, three greenlets with the
                // channel after an idle one, one or two of them killed.
                let sender = std::thread::spawn(move || tx.send(value).is_ok());
                let got = |ledger: &Ledger, r: Result<Tracked, _>| match r {
                    Ok(t) => {
                        ledger.received(t);
                        false
                    }
                    Err(channel::RecvError) => true,
                };
                let thread = {
                    let (rx, ledger) = (rx.clone(), ledger.clone());
                    std::thread::spawn(move || {
                        while !Select::new()
                            .recv(&rx, |r| got(&ledger, r))
                            .recv(&rx, |r| got(&ledger, r))
                            .wait()
                        {}
                    })
                };
                let greenlets: Vec<_> = (0..3)
                    .map(|_| {
                        let (rx, idle, ledger) = (rx.clone(), idle.clone(), ledger.clone());
                        green::spawn(move || {
                            while !Select::new()
                                .recv(&idle, |_| false)
                                .recv(&rx, |r| got(&ledger, r))
                                .wait()
                            {}
                        })
                    })
                    .collect();
                drop(rx);
                for _ in 0..round % 4 {
                    green::yield_now();
                }
                greenlets[(round % 3) as usize].kill();
                if round % 5 == 0 {
                    std::thread::sleep(Duration::from_micros(10));
                    greenlets[((round + 1) % 3) as usize].kill();
                }
                for g in greenlets {
                    let _ = g.join();
                }
                assert!(sender.join().unwrap(), "round {round}: not sent");
                thread.join().unwrap();
                let (_, received) = ledger.totals();
                assert_eq!(received, (1, round), "round {round}: received once");
                assert_eq!(counts.drops.count(), 1, "round {round}: dropped once");
            }
        })
    });
    hub.join().unwrap();
}

/// Selects (with no timeout) in its destructor, logging before and after.
struct SelectsOnDrop {
    rx_a: Receiver<u64>,
    rx_b: Receiver<u64>,
    tx_c: Sender<u64>,
}

impl Drop for SelectsOnDrop {
    fn drop(&mut self) {
        eprintln!("the destructor selects");
        Select::new()
            .recv(&self.rx_a, |_| ())
            .recv(&self.rx_b, |_| ())
            .send(&self.tx_c, 5, |_| ())
            .wait();
        eprintln!("the destructor's select returned");
    }
}

/// What the child of `a_select_in_a_leaked_stack_is_completed_by_a_thread_after_run`
/// does, five times, each on a new thread: a greenlet that selects in a
/// destructor during the hub's forced unwind (its stack is leaked, its
/// packets stay queued), then a thread that completes that select after
/// `run` returned and its thread is gone.
fn leaked_select_scenario() {
    for round in 0..5 {
        let (tx_a, rx_a) = channel::channel::<u64>();
        let (tx_b, rx_b) = channel::bounded::<u64>(1);
        let (tx_c, rx_c) = channel::channel::<u64>();
        util::leak_a_stack_dropping(SelectsOnDrop { rx_a, rx_b, tx_c });
        let sent = tx_a.send_timeout(1, Duration::from_secs(5)).is_ok();
        drop((tx_b, rx_c));
        eprintln!("round {round}: the leaked select received: {sent}");
    }
}

#[test]
fn a_select_in_a_leaked_stack_is_completed_by_a_thread_after_run() {
    let _w = util::watchdog();
    let out = util::in_child_ok(
        "a_select_in_a_leaked_stack_is_completed_by_a_thread_after_run",
        leaked_select_scenario,
        &["round 4: the leaked select received: true"],
    );
    assert!(
        !out.stderr.contains("the destructor's select returned"),
        "{}",
        out.describe()
    );
}
