// A work queue: a Mutex<VecDeque> and a Condvar, 4 workers, a poison pill.

use std::collections::VecDeque;
use sys::sync::{Arc, Condvar, Mutex};
use sys::thread;

pub fn main() -> String {
    let queue = Arc::new((Mutex::new(VecDeque::<Option<u64>>::new()), Condvar::new()));
    let workers: Vec<_> = (0..4)
        .map(|_| {
            let queue = Arc::clone(&queue);
            thread::spawn(move || {
                let _t = crate::probe::task();
                let (lock, cvar) = &*queue;
                let mut done = Vec::new();
                loop {
                    let mut q = cvar.wait_while(lock.lock().unwrap(), |q| q.is_empty()).unwrap();
                    match q.pop_front().unwrap() {
                        Some(job) => {
                            drop(q);
                            done.push(job * job);
                        }
                        None => return done,
                    }
                }
            })
        })
        .collect();
    let (lock, cvar) = &*queue;
    for job in 1..=200 {
        lock.lock().unwrap().push_back(Some(job));
        cvar.notify_one();
    }
    for _ in 0..4 {
        lock.lock().unwrap().push_back(None);
        cvar.notify_all();
    }
    let mut all: Vec<u64> = workers.into_iter().flat_map(|w| w.join().unwrap()).collect();
    all.sort();
    format!("{} jobs, sum {}", all.len(), all.iter().sum::<u64>())
}
