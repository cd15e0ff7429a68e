//! [`stdin`]: fd 0 through a buffer of our own, waiting on a duplicate of
//! the descriptor (see the parent module).

use std::fmt;
use std::fs::File;
use std::io::{self, BufRead, BufReader, IoSliceMut, Read};
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, RawFd};
use std::sync::{LazyLock, OnceLock};

use green::sync::{Mutex, MutexGuard};

use super::wait_ready;
use crate::sys::fd::{self, Want};

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

/// std's `Debug`: the name alone, `Stdin { .. }`.
impl fmt::Debug for Stdin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.pad("Stdin { .. }")
    }
}

/// std's `Debug`: the name alone, `StdinLock { .. }`.
impl fmt::Debug for StdinLock<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.pad("StdinLock { .. }")
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

/// Each call holds the lock throughout, as std's does: a `read_exact`'s
/// bytes are one run of the input, whatever other greenlets read meanwhile.
impl Read for &Stdin {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.lock().read(buf)
    }
    fn read_vectored(&mut self, bufs: &mut [IoSliceMut<'_>]) -> io::Result<usize> {
        self.lock().read_vectored(bufs)
    }
    fn read_exact(&mut self, buf: &mut [u8]) -> io::Result<()> {
        self.lock().read_exact(buf)
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
    fn read_to_end(&mut self, buf: &mut Vec<u8>) -> io::Result<usize> {
        self.inner.read_to_end(buf)
    }
    fn read_to_string(&mut self, buf: &mut String) -> io::Result<usize> {
        self.inner.read_to_string(buf)
    }
    fn read_exact(&mut self, buf: &mut [u8]) -> io::Result<()> {
        self.inner.read_exact(buf)
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
