//! `std::io`, green where it would block (being built).

pub use std::io::*;
