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

static STDIN: LazyLock<Mutex<Buffer>> = LazyLock::new(|| {
    Mutex::new(Buffer {
        unread: Vec::new(),
        taken: 0,
        reader: BufReader::with_capacity(STDIN_BUF, RawStdin::open()),
    })
});

/// Stdin's buffer: std's `BufReader`, behind the bytes that reads cut
/// short gave back. A read that a kill or a [`green::timeout`] unwinds
/// while it waits for more input (a `read_exact`, a `read_line`, a
/// `read_to_end` half in) leaves the bytes it took to the next read, as
/// green-std's `File` does: std's reads, which cannot be cut short, would
/// have returned them in order.
#[derive(Debug)]
struct Buffer {
    /// Bytes given back, read before the `BufReader`'s from `taken` on.
    unread: Vec<u8>,
    taken: usize,
    reader: BufReader<RawStdin>,
}

impl Buffer {
    /// Puts `bytes`, just read, back in front of the input.
    fn give_back(&mut self, bytes: &[u8]) {
        if bytes.is_empty() {
            return;
        }
        let mut unread = bytes.to_vec();
        unread.extend_from_slice(&self.unread[self.taken..]);
        self.unread = unread;
        self.taken = 0;
    }

    /// The bytes a read takes without waiting.
    fn buffered(&self) -> &[u8] {
        if self.has_unread() {
            &self.unread[self.taken..]
        } else {
            self.reader.buffer()
        }
    }

    fn has_unread(&self) -> bool {
        self.taken < self.unread.len()
    }
}

impl Read for Buffer {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if self.has_unread() {
            let n = (&self.unread[self.taken..]).read(buf)?;
            self.consume(n);
            return Ok(n);
        }
        self.reader.read(buf)
    }

    fn read_vectored(&mut self, bufs: &mut [IoSliceMut<'_>]) -> io::Result<usize> {
        if self.has_unread() {
            let n = (&self.unread[self.taken..]).read_vectored(bufs)?;
            self.consume(n);
            return Ok(n);
        }
        self.reader.read_vectored(bufs)
    }
}

impl BufRead for Buffer {
    fn fill_buf(&mut self) -> io::Result<&[u8]> {
        if self.has_unread() {
            return Ok(&self.unread[self.taken..]);
        }
        self.reader.fill_buf()
    }

    fn consume(&mut self, amt: usize) {
        if self.has_unread() {
            self.taken += amt;
            if !self.has_unread() {
                self.unread = Vec::new();
                self.taken = 0;
            }
        } else {
            self.reader.consume(amt);
        }
    }
}

/// A read into `taken` (from its length `start` on) that gives the bytes
/// back to the buffer, and takes them out of `taken`, if it is unwound.
struct GiveBackOnUnwind<'a, 'b> {
    buffer: &'a mut Buffer,
    taken: &'b mut Vec<u8>,
    start: usize,
}

impl GiveBackOnUnwind<'_, '_> {
    /// Runs `op`; keeps what it took if it returns, even an error (as
    /// std's reads do).
    fn run<R>(mut self, op: impl FnOnce(&mut Buffer, &mut Vec<u8>) -> R) -> R {
        let result = op(self.buffer, self.taken);
        self.start = self.taken.len();
        result
    }
}

impl Drop for GiveBackOnUnwind<'_, '_> {
    fn drop(&mut self) {
        if self.start < self.taken.len() {
            self.buffer.give_back(&self.taken[self.start..]);
            self.taken.truncate(self.start);
        }
    }
}

/// Runs a read that appends to `buf` so that, unwound, it leaves `buf` as
/// it was and its bytes to the next read.
fn appending<R>(
    buffer: &mut Buffer,
    buf: &mut Vec<u8>,
    op: impl FnOnce(&mut Buffer, &mut Vec<u8>) -> R,
) -> R {
    let start = buf.len();
    GiveBackOnUnwind {
        buffer,
        taken: buf,
        start,
    }
    .run(op)
}

/// std's error for a `read_line` or `read_to_string` of invalid UTF-8.
fn invalid_utf8() -> io::Error {
    let mut sink = String::new();
    match (&[0xff_u8][..]).read_to_string(&mut sink) {
        Err(e) => e,
        Ok(_) => io::Error::from(io::ErrorKind::InvalidData),
    }
}

/// Appends `bytes` to `buf` if they are UTF-8, as std's `read_line` and
/// `read_to_string` do, with `read`'s outcome.
fn push_utf8(buf: &mut String, bytes: &[u8], read: io::Result<usize>) -> io::Result<usize> {
    match std::str::from_utf8(bytes) {
        Ok(text) => {
            buf.push_str(text);
            read
        }
        Err(_) => read.and_then(|_| Err(invalid_utf8())),
    }
}

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
    inner: &'static Mutex<Buffer>,
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
    inner: MutexGuard<'a, Buffer>,
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

/// Reads that take more than one read of the input leave what they took to
/// the next read if a kill or a [`green::timeout`] unwinds them (see
/// `Buffer`); otherwise std's.
impl Read for StdinLock<'_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.inner.read(buf)
    }
    fn read_vectored(&mut self, bufs: &mut [IoSliceMut<'_>]) -> io::Result<usize> {
        self.inner.read_vectored(bufs)
    }
    fn read_to_end(&mut self, buf: &mut Vec<u8>) -> io::Result<usize> {
        appending(&mut self.inner, buf, |inner, buf| {
            let unread = inner.unread.len() - inner.taken;
            buf.extend_from_slice(&inner.unread[inner.taken..]);
            inner.consume(unread);
            Ok(unread + inner.reader.read_to_end(buf)?)
        })
    }
    fn read_to_string(&mut self, buf: &mut String) -> io::Result<usize> {
        let mut bytes = Vec::new();
        let read = self.read_to_end(&mut bytes);
        push_utf8(buf, &bytes, read)
    }
    fn read_exact(&mut self, buf: &mut [u8]) -> io::Result<()> {
        if self.inner.buffered().len() >= buf.len() {
            // all there: no wait, nothing to give back
            return self.inner.read_exact(buf);
        }
        let mut taken = Vec::with_capacity(buf.len());
        appending(&mut self.inner, &mut taken, |inner, taken| {
            inner.by_ref().take(buf.len() as u64).read_to_end(taken)
        })?;
        // short at the end of the input: std's error
        (&taken[..]).read_exact(buf)
    }
}

impl BufRead for StdinLock<'_> {
    fn fill_buf(&mut self) -> io::Result<&[u8]> {
        self.inner.fill_buf()
    }
    fn consume(&mut self, amt: usize) {
        self.inner.consume(amt);
    }
    fn read_until(&mut self, byte: u8, buf: &mut Vec<u8>) -> io::Result<usize> {
        appending(&mut self.inner, buf, |inner, buf| {
            inner.read_until(byte, buf)
        })
    }
    fn read_line(&mut self, buf: &mut String) -> io::Result<usize> {
        let mut bytes = Vec::new();
        let read = self.read_until(b'\n', &mut bytes);
        push_utf8(buf, &bytes, read)
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
