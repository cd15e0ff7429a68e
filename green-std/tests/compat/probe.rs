//! Which OS threads the tasks of a program ran on, and how many were alive
//! at once. Always std: it observes, it is not part of the program.

use std::collections::HashSet;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;
use std::thread::ThreadId;

static ALIVE: AtomicUsize = AtomicUsize::new(0);
static MAX_ALIVE: AtomicUsize = AtomicUsize::new(0);
static THREADS: Mutex<Option<HashSet<ThreadId>>> = Mutex::new(None);

/// What a run of a program did.
#[derive(Debug)]
pub struct Report {
    pub os_threads: usize,
    pub max_alive: usize,
    /// All tasks ran on the thread that called `take`.
    pub on_caller: bool,
}

/// A task is alive while its guard is.
pub struct Task(());

impl Drop for Task {
    fn drop(&mut self) {
        ALIVE.fetch_sub(1, Ordering::SeqCst);
    }
}

/// Called first thing in every thread body of a program.
pub fn task() -> Task {
    let alive = ALIVE.fetch_add(1, Ordering::SeqCst) + 1;
    MAX_ALIVE.fetch_max(alive, Ordering::SeqCst);
    THREADS
        .lock()
        .unwrap()
        .get_or_insert_with(HashSet::new)
        .insert(std::thread::current().id());
    Task(())
}

pub fn reset() {
    ALIVE.store(0, Ordering::SeqCst);
    MAX_ALIVE.store(0, Ordering::SeqCst);
    *THREADS.lock().unwrap() = None;
}

pub fn take() -> Report {
    let threads = THREADS.lock().unwrap().take().unwrap_or_default();
    Report {
        os_threads: threads.len(),
        max_alive: MAX_ALIVE.load(Ordering::SeqCst),
        on_caller: threads.len() == 1 && threads.contains(&std::thread::current().id()),
    }
}
