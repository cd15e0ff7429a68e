//! `std::process`, green where it would block (being built).

pub use std::process::*;
