//! A mirror of `std` where only the `use` lines change.
//!
//! This crate is being built (see the project's issue 4): for now it
//! re-exports std unchanged.

pub use std::*;
