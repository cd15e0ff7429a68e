//! [`stdin`](stdin()), [`stdout`](stdout()), [`stderr`](stderr()): the
//! process's standard streams, which never block the hub.
//!
//! The streams' descriptors are shared with the parent process (a shell, a
//! pipeline), so they are never switched to non-blocking mode: that flag
//! would change them for every process holding them. Inside `green::run` a
//! read or write first asks `poll(2)`, with a zero timeout, whether the
//! stream is ready; if it is not, the greenlet parks until the hub's poller
//! says it is, and asks again. A write goes out in pieces of at most
//! [`CHUNK`] bytes, which a pipe reported writable always has room for, so
//! the write itself cannot block; one `write` call waits for the first
//! piece only, then sends more while the stream is ready right now, so it
//! takes the whole buffer while the pipe has room, as std's does, and a
//! kill or a `green::timeout` can only cut short a write that has written
//! nothing. Outside `run` every call is std's.
//!
//! Stdout and stderr write through std's own handles, so their output
//! interleaves correctly with `println!` and std flushes stdout at exit.
//! Stdin keeps its own buffer (std's is private, and reading it when empty
//! would block): mixing `std::io::stdin()` and this one in one program
//! splits the input between them.

use std::io;
use std::os::fd::BorrowedFd;

use crate::sys::fd::{self, Want};

mod stdin;
mod stdout;

pub use stdin::{stdin, Stdin, StdinLock};
pub use stdout::{_eprint, _print, stderr, stdout, Stderr, StderrLock, Stdout, StdoutLock};

/// Bytes handed to std's stdout or stderr per write inside `run`: with the
/// up to 1 KiB std's stdout may still hold, less than the 4 KiB page a
/// writable pipe has free.
pub(super) const CHUNK: usize = 2048;

/// Waits, inside `run`, until `fd` is ready for `want`. A regular file never
/// waits; a stale readiness report from the hub is re-checked.
pub(super) fn wait_ready(fd: BorrowedFd<'_>, want: Want, regular_file: bool) -> io::Result<()> {
    if regular_file || !green::is_running() {
        return Ok(());
    }
    while !fd::ready_now(fd, want)? {
        match want {
            Want::Read => green::io::wait_readable(fd, None)?,
            Want::Write => green::io::wait_writable(fd, None)?,
        }
    }
    Ok(())
}
