//! Workload **echo**: TCP echo on loopback, 64-byte messages, at 100, 1,000
//! and 10,000 connections: round trips per second, p50 and p99 latency, the
//! server's and the client's CPU use, round trips per busy server core,
//! and the server's peak resident memory.
//!
//! Every contender runs the same per-connection code
//! ([`Proto::serve`](crate::protocol::Proto::serve), or its async twin for
//! tokio) in a server process of its own, loaded by the one shared load
//! generator (see [`load`](crate::load)) in another process on another
//! core. The machinery is in [`net`].

use crate::contender::Contender;
use crate::net::{self, Sweep};
use crate::protocol::Proto;
use crate::Plan;

/// Runs the sweep; returns it (for the plots) and its markdown section.
pub fn run(plan: &Plan, contenders: &[Contender]) -> (Sweep, String) {
    let sweep = net::sweep(Proto::Echo, plan, contenders);
    let text = net::render(
        &sweep,
        &format!(
            "Echo, 64-byte round trips on loopback ({:?} window after {:?} warm-up)",
            plan.net_window, plan.net_warmup
        ),
        "round trips",
    );
    (sweep, text)
}
