//! `std::io`, green where it would block: the standard streams and pipes.
//!
//! [`stdin`], [`stdout`] and [`stderr`] never block the hub: inside
//! [`green::run`] a greenlet waiting for input, or writing to a pipe its
//! reader has not drained, parks while the others run (see [`Stdout`] for
//! how, without making the shared descriptors non-blocking). [`pipe`](pipe())'s
//! ends, like `process`'s child pipes, wait for readiness like sockets.
//!
//! Everything else is std's, and works with green types through the
//! traits: [`Read`], [`Write`], [`BufRead`], [`Seek`], [`BufReader`],
//! [`BufWriter`], [`LineWriter`], [`copy`], [`read_to_string`], [`Cursor`],
//! [`Error`], [`ErrorKind`], [`empty`], [`sink`], [`repeat`]…
//!
//! `println!` and friends are std's macros and write through std's stdout,
//! which blocks the thread while a pipe is full; `use green_std::{print,
//! println, eprint, eprintln};` swaps in green ones (same output, same
//! buffer).
//!
//! # Examples
//!
//! ```
//! use green_std::io::{self, BufRead, BufReader, Write};
//! use green_std::process::{Command, Stdio};
//!
//! green::run(|| {
//!     let mut child = Command::new("cat").stdin(Stdio::piped()).stdout(Stdio::piped()).spawn().unwrap();
//!     let mut input = child.stdin.take().unwrap();
//!     let writer = green::spawn(move || writeln!(input, "one\ntwo").unwrap());
//!     let lines: Vec<String> = BufReader::new(child.stdout.take().unwrap())
//!         .lines()
//!         .map(Result::unwrap)
//!         .collect();
//!     assert_eq!(lines, ["one", "two"]);
//!     writer.join().unwrap();
//!     child.wait().unwrap();
//! });
//! ```

pub use std::io::*;

mod gate;
pub(crate) mod pipe;
mod stdio;

pub use pipe::{pipe, PipeReader, PipeWriter};
#[doc(hidden)]
pub use stdio::{_eprint, _print};
pub use stdio::{stderr, stdin, stdout, Stderr, StderrLock, Stdin, StdinLock, Stdout, StdoutLock};
