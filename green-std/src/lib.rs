//! A mirror of `std` where only the `use` lines change.
//!
//! Take a program written for std threads and blocking IO, replace `std::`
//! with `green_std::` in its `use` lines, wrap `main` in [`green::run`], and
//! it runs as greenlets on one OS thread: every call that would block the
//! thread (a socket read, `thread::sleep`, a `Mutex`, a file read) parks the
//! calling greenlet instead, and the hub runs the others.
//!
//! Each module re-exports its std twin and shadows the items that would
//! block with green versions of the same name and signature. Modules not
//! listed below are std's, re-exported unchanged, so
//! `green_std::collections::HashMap` works too.
//!
//! Outside `green::run`, every item behaves exactly like std's.

pub use std::*;

pub mod fs;
pub mod io;
pub mod net;
pub mod os;
pub mod process;
pub mod sync;
pub mod thread;
