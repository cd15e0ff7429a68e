//! [`EchoSummary`]: what an echo demo (`tls`, `ws`) did, and how it prints.

use std::fmt;
use std::io;
use std::time::Duration;

/// What an echo demo did: clients that passed and failed, what they echoed.
#[derive(Debug, Clone)]
pub struct EchoSummary {
    /// What the clients were, for the first line (`"TLS clients"`).
    pub clients: &'static str,
    /// What "echoed" means here (`"byte-exact"`).
    pub check: &'static str,
    /// Clients whose every message came back as sent and whose connection
    /// closed cleanly.
    pub ok: usize,
    /// Clients that failed.
    pub failed: usize,
    /// The first failure, if any.
    pub first_error: Option<String>,
    /// Messages echoed.
    pub messages: u64,
    /// Payload bytes echoed (each way).
    pub bytes: u64,
    /// From the first connection to the last close.
    pub elapsed: Duration,
}

impl EchoSummary {
    /// An empty summary for `clients` whose echoes are checked as `check`.
    ///
    /// # Examples
    ///
    /// ```
    /// let s = green_examples::echo_summary::EchoSummary::new("TLS clients", "byte-exact");
    /// assert_eq!((s.ok, s.failed), (0, 0));
    /// ```
    pub fn new(clients: &'static str, check: &'static str) -> Self {
        EchoSummary {
            clients,
            check,
            ok: 0,
            failed: 0,
            first_error: None,
            messages: 0,
            bytes: 0,
            elapsed: Duration::ZERO,
        }
    }
}

impl EchoSummary {
    /// Counts one client: how its greenlet ended, with the messages and
    /// bytes it had echoed when it succeeded.
    ///
    /// # Examples
    ///
    /// ```
    /// use green_examples::echo_summary::EchoSummary;
    ///
    /// green::run(|| {
    ///     let mut s = EchoSummary::new("clients", "byte-exact");
    ///     s.tally(green::spawn(|| Ok((2, 10))).join());
    ///     s.tally(green::spawn(|| Err(std::io::Error::other("reset"))).join());
    ///     assert_eq!((s.ok, s.failed, s.messages, s.bytes), (1, 1, 2, 10));
    ///     assert_eq!(s.first_error.as_deref(), Some("reset"));
    /// });
    /// ```
    pub fn tally(&mut self, joined: Result<io::Result<(u64, u64)>, green::JoinError>) {
        let failure = match joined {
            Ok(Ok((messages, bytes))) => {
                self.ok += 1;
                self.messages += messages;
                self.bytes += bytes;
                return;
            }
            Ok(Err(e)) => e.to_string(),
            Err(e) => e.to_string(),
        };
        self.failed += 1;
        self.first_error.get_or_insert(failure);
    }
}

impl fmt::Display for EchoSummary {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "summary:")?;
        writeln!(
            f,
            "  {:<17} {} ok, {} failed",
            self.clients, self.ok, self.failed
        )?;
        writeln!(
            f,
            "  messages echoed   {} ({:.1} MiB each way), {}",
            self.messages,
            self.bytes as f64 / (1024.0 * 1024.0),
            self.check
        )?;
        write!(
            f,
            "  time              {:.2?} on one OS thread",
            self.elapsed
        )?;
        if let Some(e) = &self.first_error {
            write!(f, "\n  first error       {e}")?;
        }
        Ok(())
    }
}
