// A park/unpark handshake between two threads, ten round trips.

use std::sync::atomic::{AtomicU32, Ordering};
use sys::sync::Arc;
use sys::thread;

pub fn main() -> String {
    let turn = Arc::new(AtomicU32::new(0));
    let main_thread = thread::current();
    let t = Arc::clone(&turn);
    let ponger = thread::spawn(move || {
        let _t = crate::probe::task();
        for i in 0..10 {
            while t.load(Ordering::Acquire) != 2 * i + 1 {
                thread::park();
            }
            t.store(2 * i + 2, Ordering::Release);
            main_thread.unpark();
        }
    });
    let _t = crate::probe::task();
    let mut trace = Vec::new();
    for i in 0..10 {
        turn.store(2 * i + 1, Ordering::Release);
        ponger.thread().unpark();
        while turn.load(Ordering::Acquire) != 2 * i + 2 {
            thread::park();
        }
        trace.push(turn.load(Ordering::Acquire));
    }
    ponger.join().unwrap();
    format!("{trace:?}")
}
