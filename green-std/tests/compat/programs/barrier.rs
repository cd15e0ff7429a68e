// 50 threads meet at a Barrier three times; one leader per round.

use sys::sync::{Arc, Barrier, Mutex};
use sys::thread;

pub fn main() -> String {
    let barrier = Arc::new(Barrier::new(50));
    let log = Arc::new(Mutex::new(Vec::new()));
    let handles: Vec<_> = (0..50)
        .map(|_| {
            let (barrier, log) = (Arc::clone(&barrier), Arc::clone(&log));
            thread::spawn(move || {
                let _t = crate::probe::task();
                let mut leader = 0;
                for round in 0..3 {
                    log.lock().unwrap().push(round);
                    if barrier.wait().is_leader() {
                        leader += 1;
                    }
                }
                leader
            })
        })
        .collect();
    let leaders: u32 = handles.into_iter().map(|h| h.join().unwrap()).sum();
    let log = log.lock().unwrap();
    let ordered = log.windows(2).all(|w| w[0] <= w[1]);
    format!("leaders {leaders}, arrivals {}, rounds in order {ordered}", log.len())
}
