//! Drop-in replacements for `std::net` sockets that yield to the green hub
//! instead of blocking the thread.
//!
//! This crate is being built (see the project's issue 3): for now it only
//! re-exports green-core's readiness waits, which its sockets are built on.

pub use green::io::{deregister, wait_readable, wait_writable};
