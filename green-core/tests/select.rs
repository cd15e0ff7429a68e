//! `Select` under races: selects on hubs and on plain threads completed
//! from other threads, microsecond timeouts, kills. Every value is counted
//! by its destructor and by the sum of what was received, so a lost value
//! or a duplicated one shows. (The behaviour one case at a time is in
//! tests/channel.rs.)

use std::cell::RefCell;
use std::rc::Rc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
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
