//! `std::process`, green where it would block: [`Command`] and [`Child`]
//! whose waits and pipes park the greenlet inside [`green::run`].
//!
//! Spawning is std's (it returns once the child has exec'd). Waiting for a
//! child inside `run` watches a pidfd (Linux 5.3 and later) with the hub's
//! poller, or else polls `try_wait` with a growing sleep; the child's
//! stdin, stdout and stderr pipes are owned in non-blocking mode and wait
//! for readiness like sockets. [`Command::output`] and
//! [`Child::wait_with_output`] read stdout and stderr side by side, as
//! std's do, so a child filling one pipe never deadlocks on the other.
//! Outside `run` every call blocks the thread, as std's.
//!
//! Everything else ([`Stdio`], [`Output`], [`ExitStatus`], [`exit`],
//! [`abort`], [`id`], …) is std's.
//!
//! # Examples
//!
//! ```
//! use green_std::process::Command;
//!
//! green::run(|| {
//!     // two children at once: each greenlet parks while its child runs
//!     let a = green::spawn(|| Command::new("sh").args(["-c", "sleep 0.1; echo a"]).output());
//!     let b = green::spawn(|| Command::new("sh").args(["-c", "sleep 0.1; echo b"]).output());
//!     assert_eq!(a.join().unwrap().unwrap().stdout, b"a\n");
//!     assert_eq!(b.join().unwrap().unwrap().stdout, b"b\n");
//! });
//! ```

pub use std::process::*;

mod child;
mod command;
mod pipes;
pub(crate) mod unix;

pub use child::Child;
pub use command::Command;
pub use pipes::{ChildStderr, ChildStdin, ChildStdout};
