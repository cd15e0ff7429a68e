// thread::scope over a borrowed slice: 100 scoped threads each sum a chunk
// and write their result into a borrowed vector of slots.

use sys::sync::Mutex;
use sys::thread;

pub fn main() -> String {
    let data: Vec<u64> = (1..=10_000).collect();
    let partial = Mutex::new(vec![0u64; 100]);
    let total: u64 = thread::scope(|s| {
        let handles: Vec<_> = data
            .chunks(100)
            .enumerate()
            .map(|(i, chunk)| {
                let partial = &partial;
                s.spawn(move || {
                    let _t = crate::probe::task();
                    let sum: u64 = chunk.iter().sum();
                    thread::yield_now();
                    partial.lock().unwrap()[i] = sum;
                    sum
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).sum()
    });
    let slots = partial.into_inner().unwrap();
    format!(
        "total {total}, slots sum {}, first {}",
        slots.iter().sum::<u64>(),
        slots[0]
    )
}
