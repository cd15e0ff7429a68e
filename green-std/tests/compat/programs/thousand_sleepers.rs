// 1,000 threads alive at once: each waits at a barrier, sleeps, reports.

use std::time::Duration;
use sys::sync::{mpsc, Arc, Barrier};
use sys::thread;

pub fn main() -> String {
    let barrier = Arc::new(Barrier::new(1000));
    let (tx, rx) = mpsc::channel();
    for i in 0..1000u64 {
        let (barrier, tx) = (Arc::clone(&barrier), tx.clone());
        thread::Builder::new()
            .stack_size(64 * 1024)
            .spawn(move || {
                let _t = crate::probe::task();
                barrier.wait(); // all 1,000 are alive here
                thread::sleep(Duration::from_millis(1 + i % 5));
                tx.send(i).unwrap();
            })
            .unwrap();
    }
    drop(tx);
    let total: u64 = rx.iter().sum();
    format!("sum {total}")
}
