//! The contenders of the server workloads (echo, http) and of timers: each
//! runtime in the configuration it is measured in, with the short key used
//! on the command line, in progress lines and in child-process arguments.

use crate::sys;

/// One runtime configuration.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Contender {
    /// green, one hub (`green::run`), pinned to one core.
    Green1,
    /// green, one hub per core (`green::Runtime`), each hub with its own
    /// `SO_REUSEPORT` listener on the same address.
    GreenN,
    /// tokio's current-thread runtime, pinned to one core.
    TokioCt,
    /// tokio's multi-thread runtime, one worker per core.
    TokioMt,
    /// may with one worker, pinned to one core.
    May1,
    /// may with one worker per core.
    MayN,
    /// std: one OS thread per connection, pinned to one core.
    Std,
}

impl Contender {
    /// Every server contender, in table order.
    pub const SERVERS: [Contender; 7] = [
        Contender::Green1,
        Contender::GreenN,
        Contender::TokioCt,
        Contender::TokioMt,
        Contender::May1,
        Contender::MayN,
        Contender::Std,
    ];

    /// The contenders of the timers workload (one core each).
    pub const TIMERS: [Contender; 3] = [Contender::Green1, Contender::TokioCt, Contender::May1];

    /// The short name: `green-1`, `tokio-mt`…
    pub fn key(self) -> &'static str {
        match self {
            Contender::Green1 => "green-1",
            Contender::GreenN => "green-n",
            Contender::TokioCt => "tokio-ct",
            Contender::TokioMt => "tokio-mt",
            Contender::May1 => "may-1",
            Contender::MayN => "may-n",
            Contender::Std => "std",
        }
    }

    /// The contender named `key`, if any.
    pub fn from_key(key: &str) -> Option<Contender> {
        Contender::SERVERS.into_iter().find(|c| c.key() == key)
    }

    /// The name in tables, with the number of hubs or workers.
    pub fn label(self) -> String {
        let n = sys::cpus();
        match self {
            Contender::Green1 => "green, 1 hub".into(),
            Contender::GreenN => format!("green, {n} hubs"),
            Contender::TokioCt => "tokio current_thread".into(),
            Contender::TokioMt => format!("tokio multi_thread, {n} workers"),
            Contender::May1 => "may, 1 worker".into(),
            Contender::MayN => format!("may, {n} workers"),
            Contender::Std => "std, thread per connection".into(),
        }
    }

    /// Whether it uses every core (so it is not pinned, and shares a core
    /// with the load generator on a small machine).
    pub fn multi_core(self) -> bool {
        matches!(
            self,
            Contender::GreenN | Contender::TokioMt | Contender::MayN
        )
    }

    /// Echo round trips/s at 100, 1,000 and 10,000 connections measured on
    /// the target machine (issue 7), where known.
    pub fn echo_reference(self) -> Option<[f64; 3]> {
        match self {
            Contender::TokioCt => Some([317e3, 274e3, 155e3]),
            Contender::May1 => Some([287e3, 207e3, 129e3]),
            Contender::Std => Some([176e3, 98e3, 55e3]),
            _ => None,
        }
    }

    /// HTTP requests per busy server core under `wrk -t1 -c100` on the
    /// target machine (issue 7), where known.
    pub fn wrk_reference(self) -> Option<f64> {
        match self {
            Contender::TokioCt => Some(273e3),
            Contender::May1 => Some(256e3),
            _ => None,
        }
    }
}

/// `green-1,tokio-ct` → those contenders; `Err` names an unknown one.
pub fn parse_list(list: &str) -> Result<Vec<Contender>, String> {
    list.split(',')
        .map(|k| Contender::from_key(k.trim()).ok_or_else(|| format!("unknown contender {k:?}")))
        .collect()
}
