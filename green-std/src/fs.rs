//! `std::fs`, green where it would block (being built).

pub use std::fs::*;
