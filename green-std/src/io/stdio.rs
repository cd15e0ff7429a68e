//! [`stdin`], [`stdout`], [`stderr`]: the process's standard streams, which
//! never block the hub.
//!
//! The streams' descriptors are shared with the parent process (a shell, a
//! pipeline), so they are never switched to non-blocking mode: that flag
//! would change them for every process holding them. Inside `green::run` a
//! read or write first asks `poll(2)`, with a zero timeout, whether the
//! stream is ready; if it is not, the greenlet parks until the hub's poller
//! says it is, and asks again. A write goes out in pieces of at most
//! [`CHUNK`] bytes, which a pipe reported writable always has room for, so
//! the write itself cannot block. Outside `run` every call is std's.
//!
//! Stdout and stderr write through std's own handles, so their output
//! interleaves correctly with `println!` and std flushes stdout at exit.
//! Stdin keeps its own buffer (std's is private, and reading it when empty
//! would block): mixing `std::io::stdin()` and this one in one program
//! splits the input between them.

use std::fmt;
use std::fs::File;
use std::io::{self, BufRead, BufReader, IoSliceMut, Read, Write};
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd, RawFd};
use std::sync::{LazyLock, OnceLock};

use green::sync::{Mutex, MutexGuard};

use super::gate::{Gate, GateGuard};
use crate::sys::fd::{self, Want};

/// Bytes handed to std's stdout or stderr per write inside `run`: with the
/// up to 1 KiB std's stdout may still hold, less than the 4 KiB page a
/// writable pipe has free.
pub(crate) const CHUNK: usize = 2048;

/// Waits, inside `run`, until `fd` is ready for `want`. A regular file never
/// waits; a stale readiness report from the hub is re-checked.
fn wait_ready(fd: BorrowedFd<'_>, want: Want, regular_file: bool) -> io::Result<()> {
    if regular_file || !green::is_running() {
        return Ok(());
    }
    while !fd::ready_now(fd, want)? {
        match want {
            Want::Read => green::io::wait_readable(fd, None)?,
            Want::Write => green::io::wait_writable(fd, None)?,
        }
    }
    Ok(())
}

// ---------------------------------------------------------------- stdin --

/// Reads fd 0 through a duplicate taken at first use (std's handle has its
/// own buffer, which we must bypass). `None` when fd 0 was closed: reads
/// then return end of file, as std's do.
#[derive(Debug)]
struct RawStdin {
    file: Option<File>,
    regular_file: bool,
}

impl RawStdin {
    fn open() -> RawStdin {
        let file = io::stdin()
            .as_fd()
            .try_clone_to_owned()
            .ok()
            .map(File::from);
        let regular_file = file
            .as_ref()
            .is_some_and(|f| fd::is_regular_file(f.as_fd()));
        RawStdin { file, regular_file }
    }

    fn read_with(&mut self, op: impl FnOnce(&File) -> io::Result<usize>) -> io::Result<usize> {
        let Some(file) = &self.file else {
            return Ok(0);
        };
        wait_ready(file.as_fd(), Want::Read, self.regular_file)?;
        op(file)
    }
}

impl Read for RawStdin {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.read_with(|mut f| f.read(buf))
    }

    fn read_vectored(&mut self, bufs: &mut [IoSliceMut<'_>]) -> io::Result<usize> {
        self.read_with(|mut f| f.read_vectored(bufs))
    }
}

/// std's stdin buffer size.
const STDIN_BUF: usize = 8 * 1024;

static STDIN: LazyLock<Mutex<BufReader<RawStdin>>> =
    LazyLock::new(|| Mutex::new(BufReader::with_capacity(STDIN_BUF, RawStdin::open())));

/// A handle to the standard input of the process; std's
/// [`Stdin`](std::io::Stdin), green: a greenlet waiting for input lets the
/// others run.
///
/// # Examples
///
/// ```no_run
/// use green_std::io;
///
/// green::run(|| {
///     let mut line = String::new();
///     io::stdin().read_line(&mut line).unwrap();
///     println!("you said {}", line.trim());
/// });
/// ```
#[derive(Debug)]
pub struct Stdin {
    inner: &'static Mutex<BufReader<RawStdin>>,
}

/// A locked reference to [`Stdin`]; std's
/// [`StdinLock`](std::io::StdinLock), with [`BufRead`].
///
/// # Examples
///
/// ```no_run
/// use green_std::io::{self, BufRead};
///
/// for line in io::stdin().lock().lines() {
///     println!("{}", line.unwrap());
/// }
/// ```
#[derive(Debug)]
pub struct StdinLock<'a> {
    inner: MutexGuard<'a, BufReader<RawStdin>>,
}

/// Returns a handle to the standard input of the current process; std's
/// [`stdin`](std::io::stdin), green.
///
/// # Examples
///
/// ```no_run
/// use green_std::io::{self, Read};
///
/// let mut input = String::new();
/// io::stdin().read_to_string(&mut input).unwrap();
/// ```
pub fn stdin() -> Stdin {
    Stdin { inner: &STDIN }
}

impl Stdin {
    /// Locks this handle for buffered reading ([`BufRead`]).
    ///
    /// # Examples
    ///
    /// ```no_run
    /// use green_std::io::{self, BufRead};
    ///
    /// let mut lock = io::stdin().lock();
    /// let mut first = String::new();
    /// lock.read_line(&mut first).unwrap();
    /// ```
    pub fn lock(&self) -> StdinLock<'static> {
        StdinLock {
            inner: self.inner.lock().unwrap_or_else(|e| e.into_inner()),
        }
    }

    /// Reads one line of input into `buf`, newline included; see
    /// [`BufRead::read_line`].
    ///
    /// # Errors
    ///
    /// As [`BufRead::read_line`]: invalid UTF-8, or an error from the read.
    ///
    /// # Examples
    ///
    /// ```no_run
    /// let mut name = String::new();
    /// green_std::io::stdin().read_line(&mut name).unwrap();
    /// ```
    pub fn read_line(&self, buf: &mut String) -> io::Result<usize> {
        self.lock().read_line(buf)
    }

    /// Consumes this handle and returns an iterator over input lines.
    ///
    /// # Examples
    ///
    /// ```no_run
    /// for line in green_std::io::stdin().lines() {
    ///     println!("{}", line.unwrap());
    /// }
    /// ```
    pub fn lines(self) -> io::Lines<StdinLock<'static>> {
        self.lock().lines()
    }

    /// Whether standard input is a terminal (std's [`io::IsTerminal`], which
    /// only std's types may implement).
    ///
    /// # Examples
    ///
    /// ```
    /// let _interactive = green_std::io::stdin().is_terminal();
    /// ```
    pub fn is_terminal(&self) -> bool {
        io::IsTerminal::is_terminal(&io::stdin())
    }
}

impl Read for Stdin {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.lock().read(buf)
    }
    fn read_vectored(&mut self, bufs: &mut [IoSliceMut<'_>]) -> io::Result<usize> {
        self.lock().read_vectored(bufs)
    }
    fn read_to_end(&mut self, buf: &mut Vec<u8>) -> io::Result<usize> {
        self.lock().read_to_end(buf)
    }
    fn read_to_string(&mut self, buf: &mut String) -> io::Result<usize> {
        self.lock().read_to_string(buf)
    }
    fn read_exact(&mut self, buf: &mut [u8]) -> io::Result<()> {
        self.lock().read_exact(buf)
    }
}

impl Read for &Stdin {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.lock().read(buf)
    }
    fn read_to_end(&mut self, buf: &mut Vec<u8>) -> io::Result<usize> {
        self.lock().read_to_end(buf)
    }
    fn read_to_string(&mut self, buf: &mut String) -> io::Result<usize> {
        self.lock().read_to_string(buf)
    }
}

impl Read for StdinLock<'_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.inner.read(buf)
    }
    fn read_vectored(&mut self, bufs: &mut [IoSliceMut<'_>]) -> io::Result<usize> {
        self.inner.read_vectored(bufs)
    }
}

impl BufRead for StdinLock<'_> {
    fn fill_buf(&mut self) -> io::Result<&[u8]> {
        self.inner.fill_buf()
    }
    fn consume(&mut self, amt: usize) {
        self.inner.consume(amt);
    }
}

impl StdinLock<'_> {
    /// Whether standard input is a terminal.
    ///
    /// # Examples
    ///
    /// ```no_run
    /// let _interactive = green_std::io::stdin().lock().is_terminal();
    /// ```
    pub fn is_terminal(&self) -> bool {
        io::IsTerminal::is_terminal(&io::stdin())
    }
}

impl AsFd for Stdin {
    fn as_fd(&self) -> BorrowedFd<'_> {
        stdin_fd()
    }
}

impl AsRawFd for Stdin {
    fn as_raw_fd(&self) -> RawFd {
        0
    }
}

impl AsFd for StdinLock<'_> {
    fn as_fd(&self) -> BorrowedFd<'_> {
        stdin_fd()
    }
}

impl AsRawFd for StdinLock<'_> {
    fn as_raw_fd(&self) -> RawFd {
        0
    }
}

/// fd 0, as std's handle (to a static) lends it.
fn stdin_fd() -> BorrowedFd<'static> {
    static STD: OnceLock<io::Stdin> = OnceLock::new();
    STD.get_or_init(io::stdin).as_fd()
}

// ------------------------------------------------------- stdout, stderr --

/// What differs between stdout and stderr.
trait Stream {
    type StdLock: Write;
    fn std_lock() -> Self::StdLock;
    fn fd() -> BorrowedFd<'static>;
    fn gate() -> &'static Gate;
    fn regular_file() -> bool;
}

/// The green write path shared by stdout and stderr (the caller holds the
/// gate).
fn write_green<S: Stream>(buf: &[u8]) -> io::Result<usize> {
    if !green::is_running() {
        return S::std_lock().write(buf);
    }
    let piece = &buf[..buf.len().min(CHUNK)];
    wait_ready(S::fd(), Want::Write, S::regular_file())?;
    S::std_lock().write(piece)
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
        #[derive(Debug)]
        pub struct $handle {
            _private: (),
        }

        $(#[$lock_doc])*
        #[derive(Debug)]
        pub struct $lock<'a> {
            _gate: GateGuard<'a>,
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
                $lock {
                    _gate: <$handle as Stream>::gate().enter(),
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
