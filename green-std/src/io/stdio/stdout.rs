//! [`stdout`] and [`stderr`]: std's handles, written in pieces after a
//! readiness check (see the parent module), behind a re-entrant [`Gate`].

use std::fmt;
use std::io::{self, Write};
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd, RawFd};
use std::sync::OnceLock;

use super::{wait_ready, CHUNK};
use crate::io::gate::{Gate, GateGuard};
use crate::sys::fd::{self, Want};

/// What differs between stdout and stderr.
trait Stream {
    type StdLock: Write;
    fn std_lock() -> Self::StdLock;
    fn fd() -> BorrowedFd<'static>;
    fn gate() -> &'static Gate;
    fn regular_file() -> bool;
}

/// The green write path shared by stdout and stderr (the caller holds the
/// gate). Inside `run` it waits, parked, until the stream is ready for the
/// first piece; the pieces after it go out while the stream is ready right
/// now, so one write takes the whole buffer while the pipe has room, as
/// std's does. It never parks once a piece went out: a kill or a
/// [`green::timeout`] unwinds only a write that has written nothing, so a
/// caller that retries a write cut short sends nothing twice, and a count
/// returned is what went out (std's write cannot be cut short at all). A
/// full pipe after some pieces, or an error, ends it with their count, as
/// the kernel's write ends short.
fn write_green<S: Stream>(buf: &[u8]) -> io::Result<usize> {
    if !green::is_running() || buf.is_empty() {
        // an empty write never waits, on a full pipe either
        return S::std_lock().write(buf);
    }
    wait_ready(S::fd(), Want::Write, S::regular_file())?;
    let mut written = 0;
    loop {
        let rest = &buf[written..];
        let piece = &rest[..rest.len().min(CHUNK)];
        let n = match S::std_lock().write(piece) {
            Ok(n) => n,
            Err(e) if written == 0 => return Err(e),
            Err(_) => break,
        };
        written += n;
        if n < piece.len() || written == buf.len() {
            break;
        }
        match ready_without_waiting::<S>() {
            Ok(true) => {}
            Ok(false) | Err(_) => break,
        }
    }
    Ok(written)
}

/// Whether the stream takes another piece without blocking the thread.
fn ready_without_waiting<S: Stream>() -> io::Result<bool> {
    if S::regular_file() {
        return Ok(true);
    }
    fd::ready_now(S::fd(), Want::Write)
}

fn flush_green<S: Stream>() -> io::Result<()> {
    wait_ready(S::fd(), Want::Write, S::regular_file())?;
    S::std_lock().flush()
}

/// Declares one output stream: its handle, its lock, the constructor, and
/// their `Write` impls.
macro_rules! output_stream {
    (
        $(#[$handle_doc:meta])* $handle:ident,
        $(#[$lock_doc:meta])* $lock:ident,
        $(#[$ctor_doc:meta])* $ctor:ident,
        $std_ctor:path, $fd:expr, $name:literal
    ) => {
        $(#[$handle_doc])*
        pub struct $handle {
            _private: (),
        }

        $(#[$lock_doc])*
        pub struct $lock<'a> {
            /// std's own lock, held as long as this one: it keeps std's
            /// writers on other threads out, as std's lock does, and is
            /// re-entrant, so this thread's own writes (through the gate)
            /// go on.
            _std: <$handle as Stream>::StdLock,
            /// `None` for a thread outside `run` that found the gate held
            /// by a task waiting for std's lock (see `lock`).
            _gate: Option<GateGuard<'a>>,
        }

        $(#[$ctor_doc])*
        pub fn $ctor() -> $handle {
            $handle { _private: () }
        }

        impl Stream for $handle {
            type StdLock = <$handle as StdStream>::Lock;
            fn std_lock() -> Self::StdLock {
                <$handle as StdStream>::lock()
            }
            /// A duplicate of the stream's descriptor, taken at first use:
            /// the hub watches it for good, so a program that closes fd 1
            /// or 2 and reuses the number leaves the hub's table right.
            fn fd() -> BorrowedFd<'static> {
                static WATCHED: OnceLock<Option<OwnedFd>> = OnceLock::new();
                let dup = WATCHED
                    .get_or_init(|| <$handle as StdStream>::fd().try_clone_to_owned().ok());
                match dup {
                    Some(fd) => fd.as_fd(),
                    None => <$handle as StdStream>::fd(),
                }
            }
            fn gate() -> &'static Gate {
                static GATE: Gate = Gate::new();
                &GATE
            }
            fn regular_file() -> bool {
                static REGULAR: OnceLock<bool> = OnceLock::new();
                *REGULAR.get_or_init(|| fd::is_regular_file(<$handle as StdStream>::fd()))
            }
        }

        impl $handle {
            #[doc = concat!("Locks ", $name, " for this greenlet (or thread, outside `run`) until the")]
            /// lock drops; re-entrant, as std's is.
            ///
            /// # Examples
            ///
            /// ```
            /// use green_std::io::Write;
            ///
            #[doc = concat!("let mut out = green_std::io::", stringify!($ctor), "().lock();")]
            /// writeln!(out, "two lines that no other greenlet").unwrap();
            /// writeln!(out, "can split").unwrap();
            /// ```
            pub fn lock(&self) -> $lock<'static> {
                if !green::is_running() {
                    // A thread outside `run` takes std's lock first, then
                    // the gate only if it is free (or its own): every other
                    // holder of the gate holds std's lock too, or waits for
                    // it right after entering, so this thread excludes them
                    // all by std's lock alone. Waiting at the gate while
                    // holding std's lock (this thread may already hold it,
                    // re-entrant) would deadlock with a greenlet in the
                    // gate waiting for std's lock.
                    let std = <$handle as Stream>::std_lock();
                    return $lock {
                        _std: std,
                        _gate: <$handle as Stream>::gate().try_enter(),
                    };
                }
                // The gate first: a greenlet waits there, parked, rather
                // than on std's lock, which would block the hub's thread.
                let gate = <$handle as Stream>::gate().enter();
                $lock {
                    _std: <$handle as Stream>::std_lock(),
                    _gate: Some(gate),
                }
            }

            #[doc = concat!("Whether ", $name, " is a terminal (std's [`io::IsTerminal`], which only")]
            /// std's types may implement).
            ///
            /// # Examples
            ///
            /// ```
            #[doc = concat!("let _tty = green_std::io::", stringify!($ctor), "().is_terminal();")]
            /// ```
            pub fn is_terminal(&self) -> bool {
                io::IsTerminal::is_terminal(&$std_ctor())
            }
        }

        impl $lock<'_> {
            #[doc = concat!("Whether ", $name, " is a terminal.")]
            ///
            /// # Examples
            ///
            /// ```
            #[doc = concat!("let _tty = green_std::io::", stringify!($ctor), "().lock().is_terminal();")]
            /// ```
            pub fn is_terminal(&self) -> bool {
                io::IsTerminal::is_terminal(&$std_ctor())
            }
        }

        /// std's `Debug`: the name alone.
        impl fmt::Debug for $handle {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.pad(concat!(stringify!($handle), " { .. }"))
            }
        }

        /// std's `Debug`: the name alone.
        impl fmt::Debug for $lock<'_> {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.pad(concat!(stringify!($lock), " { .. }"))
            }
        }

        impl Write for $lock<'_> {
            fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
                write_green::<$handle>(buf)
            }
            fn flush(&mut self) -> io::Result<()> {
                flush_green::<$handle>()
            }
        }

        impl Write for $handle {
            fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
                (&*self).write(buf)
            }
            fn flush(&mut self) -> io::Result<()> {
                (&*self).flush()
            }
            fn write_all(&mut self, buf: &[u8]) -> io::Result<()> {
                (&*self).write_all(buf)
            }
            fn write_fmt(&mut self, args: fmt::Arguments<'_>) -> io::Result<()> {
                (&*self).write_fmt(args)
            }
        }

        impl Write for &$handle {
            fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
                self.lock().write(buf)
            }
            fn flush(&mut self) -> io::Result<()> {
                self.lock().flush()
            }
            fn write_all(&mut self, buf: &[u8]) -> io::Result<()> {
                self.lock().write_all(buf)
            }
            fn write_fmt(&mut self, args: fmt::Arguments<'_>) -> io::Result<()> {
                self.lock().write_fmt(args)
            }
        }

        impl AsFd for $handle {
            fn as_fd(&self) -> BorrowedFd<'_> {
                <$handle as StdStream>::fd()
            }
        }

        impl AsRawFd for $handle {
            fn as_raw_fd(&self) -> RawFd {
                $fd
            }
        }

        impl AsFd for $lock<'_> {
            fn as_fd(&self) -> BorrowedFd<'_> {
                <$handle as StdStream>::fd()
            }
        }

        impl AsRawFd for $lock<'_> {
            fn as_raw_fd(&self) -> RawFd {
                $fd
            }
        }
    };
}

/// std's side of a stream: its lock and its descriptor.
trait StdStream {
    type Lock: Write;
    fn lock() -> Self::Lock;
    fn fd() -> BorrowedFd<'static>;
}

impl StdStream for Stdout {
    type Lock = io::StdoutLock<'static>;
    fn lock() -> Self::Lock {
        io::stdout().lock()
    }
    fn fd() -> BorrowedFd<'static> {
        static STD: OnceLock<io::Stdout> = OnceLock::new();
        STD.get_or_init(io::stdout).as_fd()
    }
}

impl StdStream for Stderr {
    type Lock = io::StderrLock<'static>;
    fn lock() -> Self::Lock {
        io::stderr().lock()
    }
    fn fd() -> BorrowedFd<'static> {
        static STD: OnceLock<io::Stderr> = OnceLock::new();
        STD.get_or_init(io::stderr).as_fd()
    }
}

output_stream! {
    /// A handle to the standard output of the process; std's
    /// [`Stdout`](std::io::Stdout), green: a greenlet writing to a pipe
    /// its reader has not drained lets the others run. It writes through
    /// std's own stdout, so it shares std's line buffer and `println!`'s
    /// output stays in order.
    ///
    /// # Examples
    ///
    /// ```
    /// use green_std::io::{self, Write};
    ///
    /// green::run(|| {
    ///     io::stdout().write_all(b"hello\n").unwrap();
    /// });
    /// ```
    Stdout,
    /// A locked reference to [`Stdout`]; std's
    /// [`StdoutLock`](std::io::StdoutLock). Other greenlets writing through
    /// green-std wait until it drops.
    ///
    /// # Examples
    ///
    /// ```
    /// use green_std::io::{self, Write};
    ///
    /// let mut out = io::stdout().lock();
    /// writeln!(out, "a line").unwrap();
    /// ```
    StdoutLock,
    /// Returns a handle to the standard output of the current process;
    /// std's [`stdout`](std::io::stdout), green.
    ///
    /// # Examples
    ///
    /// ```
    /// use green_std::io::{self, Write};
    ///
    /// io::stdout().write_all(b"hello, world\n").unwrap();
    /// io::stdout().flush().unwrap();
    /// ```
    stdout,
    io::stdout, 1, "stdout"
}

output_stream! {
    /// A handle to the standard error of the process; std's
    /// [`Stderr`](std::io::Stderr), green, unbuffered like std's.
    ///
    /// # Examples
    ///
    /// ```
    /// use green_std::io::{self, Write};
    ///
    /// green::run(|| {
    ///     io::stderr().write_all(b"warning\n").unwrap();
    /// });
    /// ```
    Stderr,
    /// A locked reference to [`Stderr`]; std's
    /// [`StderrLock`](std::io::StderrLock).
    ///
    /// # Examples
    ///
    /// ```
    /// use green_std::io::{self, Write};
    ///
    /// let mut err = io::stderr().lock();
    /// writeln!(err, "an error").unwrap();
    /// ```
    StderrLock,
    /// Returns a handle to the standard error of the current process; std's
    /// [`stderr`](std::io::stderr), green.
    ///
    /// # Examples
    ///
    /// ```
    /// use green_std::io::{self, Write};
    ///
    /// writeln!(io::stderr(), "an error").unwrap();
    /// ```
    stderr,
    io::stderr, 2, "stderr"
}

/// The body of green-std's `print!` and `println!`.
#[doc(hidden)]
pub fn _print(args: fmt::Arguments<'_>) {
    if let Err(e) = stdout().write_fmt(args) {
        panic!("failed printing to stdout: {e}");
    }
}

/// The body of green-std's `eprint!` and `eprintln!`.
#[doc(hidden)]
pub fn _eprint(args: fmt::Arguments<'_>) {
    if let Err(e) = stderr().write_fmt(args) {
        panic!("failed printing to stderr: {e}");
    }
}
