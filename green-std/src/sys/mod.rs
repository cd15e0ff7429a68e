//! The few syscalls std does not expose, one small module per concern
//! (the other `unsafe` of this crate forwards std's own unsafe APIs).

pub(crate) mod fd;
pub(crate) mod pidfd;
