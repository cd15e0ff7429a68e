//! One hub per core: hubs on their own threads, cross-hub channels and
//! wake-ups under load, and no greenlet ever changes thread.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use green::channel;

#[test]
fn a_ring_of_hubs_passes_messages_under_load() {
    const HUBS: usize = 4;
    const GREENLETS: u64 = 50;
    const MESSAGES: u64 = 200;
    // hub i sends to hub (i + 1) % HUBS
    let channels: Vec<_> = (0..HUBS).map(|_| channel::bounded::<u64>(8)).collect();
    let senders: Vec<_> = channels.iter().map(|(tx, _)| tx.clone()).collect();
    let receivers: Vec<_> = channels.iter().map(|(_, rx)| rx.clone()).collect();
    drop(channels);
    let sums = green::Runtime::new().hubs(HUBS).run(|hub| {
        let tx = senders[(hub + 1) % HUBS].clone();
        let rx = receivers[hub].clone();
        let hub_thread = std::thread::current().id();
        let producers: Vec<_> = (0..GREENLETS)
            .map(|g| {
                let tx = tx.clone();
                green::spawn(move || {
                    for m in 0..MESSAGES {
                        tx.send(g * MESSAGES + m).unwrap();
                        assert_eq!(std::thread::current().id(), hub_thread, "migrated");
                    }
                })
            })
            .collect();
        let consumer = green::spawn(move || {
            let mut sum = 0;
            for _ in 0..GREENLETS * MESSAGES {
                sum += rx.recv().unwrap();
                assert_eq!(std::thread::current().id(), hub_thread, "migrated");
            }
            sum
        });
        green::joinall(producers);
        consumer.join().unwrap()
    });
    let n = GREENLETS * MESSAGES;
    assert_eq!(sums, vec![n * (n - 1) / 2; HUBS]);
}

#[test]
fn greenlets_woken_from_other_hubs_many_times() {
    const ROUNDS: u64 = 2_000;
    // Hub 0's greenlet parks; hub 1's greenlet unparks it, and back.
    // handles[i] carries hub i's greenlet handle to the other hub
    let handles: Vec<_> = (0..2)
        .map(|_| channel::bounded::<green::Greenlet>(1))
        .collect();
    let turn = Arc::new(AtomicU64::new(0));
    let results = green::Runtime::new().hubs(2).run(|hub| {
        handles[hub].0.send(green::current()).unwrap();
        let other = handles[1 - hub].1.recv().unwrap();
        let mine = hub as u64; // hub 0 moves on even turns, hub 1 on odd
        let mut woken = 0;
        for _ in 0..ROUNDS {
            while turn.load(Ordering::Acquire) % 2 != mine {
                green::park();
                woken += 1;
            }
            turn.fetch_add(1, Ordering::AcqRel);
            other.unpark();
        }
        woken
    });
    assert!(results.iter().all(|&w| w > 0));
    assert_eq!(turn.load(Ordering::Acquire), 2 * ROUNDS);
}

#[test]
fn a_panic_in_one_hub_comes_out_after_all_finished() {
    let finished = Arc::new(AtomicU64::new(0));
    let f = finished.clone();
    let r = std::panic::catch_unwind(move || {
        green::Runtime::new().hubs(3).run(|hub| {
            green::sleep(std::time::Duration::from_millis(5));
            f.fetch_add(1, Ordering::SeqCst);
            assert_ne!(hub, 1, "hub 1 fails");
        })
    });
    assert!(r.is_err());
    assert_eq!(finished.load(Ordering::SeqCst), 3);
}

/// The CPUs the calling thread may run on.
fn allowed_cpus() -> Vec<usize> {
    // SAFETY: a zeroed cpu_set_t is an empty set; sched_getaffinity writes
    // at most its size into the set we own, and CPU_ISSET reads bits below
    // CPU_SETSIZE.
    unsafe {
        let mut set: libc::cpu_set_t = std::mem::zeroed();
        assert_eq!(
            libc::sched_getaffinity(0, std::mem::size_of_val(&set), &mut set),
            0
        );
        (0..libc::CPU_SETSIZE as usize)
            .filter(|&c| libc::CPU_ISSET(c, &set))
            .collect()
    }
}

#[test]
fn pinned_hubs_keep_to_their_cpus_and_the_caller_is_let_go() {
    let before = allowed_cpus();
    let hubs = before.len().clamp(2, 4);
    let seen = green::Runtime::new()
        .hubs(hubs)
        .pin_to_cores(true)
        .run(|_| {
            // Greenlets see it too, before and after switches.
            let g = green::spawn(|| {
                green::yield_now();
                (green::pinned_cpu(), allowed_cpus())
            });
            let mine = (green::pinned_cpu(), allowed_cpus());
            assert_eq!(g.join().unwrap(), mine);
            // The blocking pool's threads are not held to the hub's CPU.
            assert_eq!(green::unblock(allowed_cpus), before);
            mine
        });
    for (hub, (cpu, mask)) in seen.iter().enumerate() {
        let expected = before[hub % before.len()];
        assert_eq!(*cpu, Some(expected), "hub {hub}");
        assert_eq!(*mask, [expected], "hub {hub}'s thread runs on its CPU only");
    }
    assert_eq!(green::pinned_cpu(), None);
    assert_eq!(
        allowed_cpus(),
        before,
        "the calling thread gets its mask back"
    );
    // Unpinned hubs run wherever the caller may.
    let free = green::Runtime::new()
        .hubs(2)
        .run(|_| (green::pinned_cpu(), allowed_cpus()));
    assert!(free
        .iter()
        .all(|(cpu, mask)| cpu.is_none() && *mask == before));
}

#[test]
fn hubs_that_cannot_all_start_run_nothing_and_say_why() {
    use std::sync::atomic::AtomicUsize;
    let ran = AtomicUsize::new(0);
    // No thread gets a stack this large: hub 1 cannot start, so hub 0 (the
    // caller) must not run its main either.
    let result = green::Runtime::new()
        .hubs(2)
        .thread_stack_size(usize::MAX / 4)
        .try_run(|_| ran.fetch_add(1, Ordering::SeqCst));
    assert!(result.is_err(), "{result:?}");
    assert_eq!(ran.load(Ordering::SeqCst), 0);
}

#[test]
fn a_thread_name_with_a_nul_byte_is_an_error_before_any_hub_runs() {
    use std::sync::atomic::AtomicUsize;
    let ran = AtomicUsize::new(0);
    let result = green::Runtime::new()
        .hubs(2)
        .thread_name("hub\0x")
        .try_run(|_| ran.fetch_add(1, Ordering::SeqCst));
    let err = result.expect_err("a NUL byte in a thread name");
    assert_eq!(err.kind(), std::io::ErrorKind::InvalidInput, "{err}");
    assert!(err.to_string().contains("NUL"), "{err}");
    assert_eq!(ran.load(Ordering::SeqCst), 0);
    // One hub runs on the calling thread, which keeps its name: nothing to
    // refuse.
    let one = green::Runtime::new()
        .hubs(1)
        .thread_name("hub\0x")
        .try_run(|hub| hub);
    assert_eq!(one.unwrap(), [0]);
}
