// Producers and a consumer over mpsc channels, bounded and unbounded.

use sys::sync::mpsc;
use sys::thread;

pub fn main() -> String {
    let (tx, rx) = mpsc::sync_channel::<(u32, u32)>(4);
    let producers: Vec<_> = (0..6)
        .map(|p| {
            let tx = tx.clone();
            thread::spawn(move || {
                let _t = crate::probe::task();
                for i in 0..50 {
                    tx.send((p, i)).unwrap();
                }
            })
        })
        .collect();
    drop(tx);
    let (sum_tx, sum_rx) = mpsc::channel();
    let consumer = thread::spawn(move || {
        let _t = crate::probe::task();
        let mut per_producer = [0u32; 6];
        let mut last = [None::<u32>; 6];
        for (p, i) in rx {
            // each producer's values arrive in its order
            assert!(last[p as usize].is_none_or(|l| l < i));
            last[p as usize] = Some(i);
            per_producer[p as usize] += i;
        }
        sum_tx.send(per_producer).unwrap();
    });
    for p in producers {
        p.join().unwrap();
    }
    consumer.join().unwrap();
    format!("{:?}", sum_rx.recv().unwrap())
}
