//! `green_std::thread::scope`: one program body, run outside `green::run`
//! (std's scoped OS threads) and inside it (scoped greenlets on the test's
//! own OS thread), gives the same results.

use std::any::Any;
use std::collections::HashSet;
use std::fmt::Debug;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;

use green_std::thread;

/// The OS threads the scoped threads of a run ran on.
type Threads = Mutex<HashSet<std::thread::ThreadId>>;

/// Runs `program` outside `run` and inside it; both must give the same
/// result. Returns it, with the OS threads each run recorded.
fn both_ways<R: PartialEq + Debug>(program: impl Fn(&Threads) -> R) -> (R, Threads, Threads) {
    let os = Threads::default();
    let outside = program(&os);
    let green = Threads::default();
    let inside = green::run(|| program(&green));
    assert_eq!(outside, inside);
    (outside, os, green)
}

fn record(threads: &Threads) {
    threads.lock().unwrap().insert(std::thread::current().id());
}

/// The message of a panic payload.
fn message(payload: Box<dyn Any + Send>) -> String {
    payload
        .downcast_ref::<String>()
        .cloned()
        .or_else(|| payload.downcast_ref::<&str>().map(|s| s.to_string()))
        .unwrap_or_default()
}

/// Sums a borrowed slice in 100 chunks, one scoped thread each.
fn chunked_sum(data: &[u64], threads: &Threads) -> u64 {
    thread::scope(|s| {
        let handles: Vec<_> = data
            .chunks(data.len().div_ceil(100))
            .map(|chunk| {
                s.spawn(move || {
                    record(threads);
                    thread::yield_now();
                    chunk.iter().sum::<u64>()
                })
            })
            .collect();
        assert_eq!(handles.len(), 100);
        handles.into_iter().map(|h| h.join().unwrap()).sum()
    })
}

#[test]
fn a_hundred_scoped_spawns_sum_a_borrowed_slice_both_ways() {
    let data: Vec<u64> = (1..=10_000).collect();
    let (sum, os, green) = both_ways(|threads| chunked_sum(&data, threads));
    assert_eq!(sum, 10_000 * 10_001 / 2);
    let expected: u64 = std::thread::scope(|s| {
        let handles: Vec<_> = data
            .chunks(100)
            .map(|c| s.spawn(move || c.iter().sum::<u64>()))
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).sum()
    });
    assert_eq!(sum, expected, "std::thread::scope agrees");

    let here = std::thread::current().id();
    let os = os.into_inner().unwrap();
    assert_eq!(os.len(), 100, "outside run: 100 distinct OS threads");
    assert!(!os.contains(&here));
    let green = green.into_inner().unwrap();
    assert_eq!(
        green,
        HashSet::from([here]),
        "inside run: all on this thread"
    );
}

#[test]
fn scoped_threads_mutate_borrowed_chunks_both_ways() {
    let (doubled, _, _) = both_ways(|_| {
        let mut data: Vec<u32> = (0..100).collect();
        let mut count = 0;
        thread::scope(|s| {
            for chunk in data.chunks_mut(10) {
                s.spawn(move || chunk.iter_mut().for_each(|x| *x *= 2));
            }
            s.spawn(|| count += 1);
        });
        (data, count)
    });
    assert_eq!(doubled.0, (0..100).map(|x| x * 2).collect::<Vec<u32>>());
    assert_eq!(doubled.1, 1);
}

#[test]
fn an_unjoined_panic_panics_the_scope_after_all_are_joined() {
    let finished = AtomicUsize::new(0);
    let run = || {
        catch_unwind(AssertUnwindSafe(|| {
            thread::scope(|s| {
                s.spawn(|| panic!("child fails"));
                for _ in 0..3 {
                    s.spawn(|| {
                        thread::yield_now();
                        finished.fetch_add(1, Ordering::Relaxed);
                    });
                }
            })
        }))
        .map_err(message)
    };
    assert_eq!(run(), Err("a scoped thread panicked".to_string()));
    assert_eq!(finished.swap(0, Ordering::Relaxed), 3);
    assert_eq!(
        green::run(run),
        Err("a scoped greenlet panicked".to_string())
    );
    assert_eq!(finished.load(Ordering::Relaxed), 3);
}

#[test]
fn a_joined_panic_is_the_joiners_both_ways() {
    let (msg, _, _) = both_ways(|_| {
        thread::scope(|s| {
            let h = s.spawn(|| -> u8 { panic!("handled") });
            h.join().map_err(message)
        })
    });
    assert_eq!(msg, Err("handled".to_string()));
}

#[test]
fn scoped_threads_spawn_more_in_the_same_scope_both_ways() {
    let (total, os, green) = both_ways(|threads| {
        let total = AtomicUsize::new(0);
        thread::scope(|s| {
            for i in 1..=3 {
                let total = &total;
                s.spawn(move || {
                    for j in 1..=3 {
                        s.spawn(move || {
                            record(threads);
                            total.fetch_add(i * j, Ordering::Relaxed);
                        });
                    }
                });
            }
        });
        total.into_inner()
    });
    assert_eq!(total, 36);
    assert_eq!(os.into_inner().unwrap().len(), 9);
    assert_eq!(green.into_inner().unwrap().len(), 1);
}

#[test]
fn the_builder_names_scoped_threads_both_ways() {
    both_ways(|_| {
        thread::scope(|s| {
            let h = thread::Builder::new()
                .name("worker".into())
                .stack_size(256 * 1024)
                .spawn_scoped(s, || {
                    let me = thread::current();
                    (me.id(), me.name().map(String::from))
                })
                .unwrap();
            assert_eq!(h.thread().name(), Some("worker"));
            let expected = h.thread().id();
            let (id, name) = h.join().unwrap();
            assert_eq!(id, expected);
            assert_ne!(id, thread::current().id());
            name
        })
    });
}

#[test]
fn is_finished_turns_true_both_ways() {
    both_ways(|_| {
        thread::scope(|s| {
            let h = s.spawn(|| 5);
            while !h.is_finished() {
                thread::yield_now();
            }
            h.join().unwrap()
        })
    });
}

#[test]
fn scope_is_send_and_sync() {
    fn assert_send_sync<T: Send + Sync>(_: &T) {}
    both_ways(|_| thread::scope(|s| assert_send_sync(s)));
}

/// `{:?}` of a scope with one child still running: std's fields. Outside
/// `run` the children are OS threads and the text is std's own; inside, the
/// scope's maker is a greenlet, printed as green prints one.
#[test]
fn a_scope_prints_std_s_fields() {
    let std_text = std::thread::scope(|s| {
        let (go, wait) = std::sync::mpsc::channel::<()>();
        s.spawn(move || wait.recv());
        let text = format!("{s:?}");
        go.send(()).unwrap();
        text
    });
    let green_text = thread::scope(|s| {
        let (go, wait) = std::sync::mpsc::channel::<()>();
        s.spawn(move || wait.recv());
        let text = format!("{s:?}");
        go.send(()).unwrap();
        text
    });
    assert_eq!(green_text, std_text);
    assert!(
        std_text.starts_with(
            "Scope { num_running_threads: 1, a_thread_panicked: false, main_thread: Thread {"
        ),
        "{std_text}"
    );

    let inside = green::run(|| {
        thread::scope(|s| {
            s.spawn(|| ());
            let running = format!("{s:?}");
            thread::yield_now(); // the child runs and ends
            (running, format!("{s:?}"))
        })
    });
    let maker = r#"main_thread: <Greenlet 0 "a_scope_prints_std_s_fields">"#;
    assert_eq!(
        inside,
        (
            format!("Scope {{ num_running_threads: 1, a_thread_panicked: false, {maker}, .. }}"),
            format!("Scope {{ num_running_threads: 0, a_thread_panicked: false, {maker}, .. }}"),
        )
    );
}
