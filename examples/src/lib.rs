//! The engines of the examples, as a library so that tests can drive them;
//! each `examples/NAME.rs` is a thin command line over one module here.

pub mod chat;
pub mod crawler;
pub mod echo_summary;
pub mod http;
pub mod redis;
pub mod showcase;
pub mod tls;
pub mod ws;
