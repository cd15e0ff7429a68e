// 100 workers bump a counter behind a Mutex, and log under an RwLock.

use sys::sync::{Arc, Mutex, RwLock};
use sys::thread;

pub fn main() -> String {
    let counter = Arc::new(Mutex::new(0u64));
    let seen = Arc::new(RwLock::new(Vec::new()));
    let handles: Vec<_> = (0..100)
        .map(|w| {
            let counter = Arc::clone(&counter);
            let seen = Arc::clone(&seen);
            thread::spawn(move || {
                let _t = crate::probe::task();
                for _ in 0..100 {
                    let mut n = counter.lock().unwrap();
                    *n += 1;
                }
                thread::yield_now();
                seen.write().unwrap().push(w);
                seen.read().unwrap().len()
            })
        })
        .collect();
    let mut max_len = 0;
    for h in handles {
        max_len = max_len.max(h.join().unwrap());
    }
    let mut seen = seen.read().unwrap().clone();
    seen.sort();
    format!(
        "counter {} workers {} max {} poisoned {}",
        *counter.lock().unwrap(),
        seen.len(),
        max_len,
        counter.is_poisoned()
    )
}
