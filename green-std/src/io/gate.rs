//! [`Gate`]: the re-entrant lock behind `Stdout::lock` and `Stderr::lock`.
//!
//! std's stdout and stderr locks are re-entrant per thread, so a thread
//! holding `stdout().lock()` can still `println!`. Ours are re-entrant per
//! task: per greenlet inside `green::run` (greenlets of one hub share the
//! thread, yet must exclude each other while one waits for a full pipe), per
//! thread outside it. A thread that took the lock before it entered `run`
//! holds it for its greenlets too, as std's lock does. Waiting to enter
//! parks the greenlet, or blocks the thread outside `run`.

use std::sync::Mutex;
use std::thread::ThreadId;

use green::lock::Semaphore;
use green::GreenletId;

/// Who holds the gate: a greenlet (its id names its hub too; with its
/// hub's thread), or a thread outside `green::run`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Task {
    Greenlet(GreenletId, ThreadId),
    Thread(ThreadId),
}

/// A re-entrant lock without data.
#[derive(Debug)]
pub(crate) struct Gate {
    permit: Semaphore,
    /// The holder and how many times it has entered.
    owner: Mutex<Option<(Task, usize)>>,
}

/// Proof of having entered a [`Gate`]; leaving releases it when the holder's
/// count reaches zero, whatever order its guards drop in.
#[derive(Debug)]
pub(crate) struct GateGuard<'a> {
    gate: &'a Gate,
}

impl Gate {
    pub(crate) const fn new() -> Gate {
        Gate {
            permit: Semaphore::new(1),
            owner: Mutex::new(None),
        }
    }

    pub(crate) fn enter(&self) -> GateGuard<'_> {
        self.enter_if(true).expect("a wait always enters")
    }

    /// Enters if the gate is free or this task's already, without waiting.
    pub(crate) fn try_enter(&self) -> Option<GateGuard<'_>> {
        self.enter_if(false)
    }

    fn enter_if(&self, wait: bool) -> Option<GateGuard<'_>> {
        let me = task();
        {
            let mut owner = self.owner.lock().unwrap_or_else(|e| e.into_inner());
            if let Some((holder, count)) = owner.as_mut() {
                if *holder == me || same_thread_across_run(*holder, me) {
                    *count += 1;
                    return Some(GateGuard { gate: self });
                }
            }
        }
        let permit = if wait {
            self.permit.acquire()
        } else {
            self.permit.try_acquire()?
        };
        // Released by the last guard's drop, not by this permit's.
        permit.forget();
        *self.owner.lock().unwrap_or_else(|e| e.into_inner()) = Some((me, 1));
        Some(GateGuard { gate: self })
    }
}

impl Drop for GateGuard<'_> {
    fn drop(&mut self) {
        let mut owner = self.gate.owner.lock().unwrap_or_else(|e| e.into_inner());
        let (_, count) = owner.as_mut().expect("a guard exists, so the gate is held");
        *count -= 1;
        if *count == 0 {
            *owner = None;
            drop(owner);
            self.gate.permit.add_permits(1);
        }
    }
}

/// Whether `me` re-enters a gate that `holder` took because both are this
/// very thread on either side of `green::run`, as far as
/// std's re-entrant lock is concerned: the thread took it before `run` and
/// one of its greenlets asks (rather than wait for a release that can only
/// come once `run` returns), or a greenlet took it and kept its lock past
/// `run`, and the thread asks.
fn same_thread_across_run(holder: Task, me: Task) -> bool {
    match (holder, me) {
        (Task::Thread(held), Task::Greenlet(_, here))
        | (Task::Greenlet(_, held), Task::Thread(here)) => held == here,
        _ => false,
    }
}

fn task() -> Task {
    if green::is_running() {
        Task::Greenlet(green::current().id(), std::thread::current().id())
    } else {
        Task::Thread(std::thread::current().id())
    }
}

#[cfg(test)]
mod tests {
    use super::Gate;

    #[test]
    fn reentrant_and_exclusive_between_greenlets() {
        static GATE: Gate = Gate::new();
        green::run(|| {
            let outer = GATE.enter();
            let inner = GATE.enter(); // the same greenlet: no deadlock
            let other = green::spawn(|| {
                let _g = GATE.enter();
                "entered"
            });
            green::yield_now();
            assert!(!other.is_finished(), "the gate let a second greenlet in");
            drop(outer); // out of order: still held through `inner`
            green::yield_now();
            assert!(!other.is_finished(), "released while a guard remained");
            drop(inner);
            assert_eq!(other.join().unwrap(), "entered");
        });
    }
}
