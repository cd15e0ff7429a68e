//! Anonymous pipes: [`pipe`], [`PipeReader`], [`PipeWriter`], and the
//! [`Pipe`] under them and under `process`'s child pipes.
//!
//! A [`Pipe`] owns its end in non-blocking mode. An operation is tried; on
//! `WouldBlock` the caller waits with [`green::io::wait_readable`] or
//! [`wait_writable`](green::io::wait_writable) (the greenlet parks inside
//! `green::run`; the thread blocks in `poll(2)` outside it) and tries again:
//! one code path for both.
//!
//! `O_NONBLOCK` belongs to an open file description, which `dup` (and so
//! `try_clone`) shares. So an end converted into an [`OwnedFd`] or a
//! [`Stdio`](std::process::Stdio) is handed out as a description of its
//! own, in blocking mode (an open of `/proc/self/fd/N`): a child process
//! that inherits it sees an ordinary pipe, and the clones this process kept
//! stay non-blocking and keep parking their greenlets. An end adopted from
//! an [`OwnedFd`] gets a non-blocking description of its own the same way,
//! leaving the mode of any other handle to the old one alone. Only where
//! that open fails (no `/proc`; the write end of a pipe nobody reads, whose
//! writes fail at once anyway) is the shared description switched.

use std::fs::File;
use std::io::{self, IoSlice, IoSliceMut, Read, Write};
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};

use crate::sys::fd::{self, Want};

/// One end of a pipe, owned in non-blocking mode.
#[derive(Debug)]
pub(crate) struct Pipe {
    /// `Some` until [`into_owned`](Pipe::into_owned) takes it.
    file: Option<File>,
}

impl Pipe {
    /// Takes ownership of a pipe end whose description no one else holds
    /// (made just now by this process) and switches it to non-blocking mode.
    pub(crate) fn new(fd: OwnedFd) -> io::Result<Self> {
        fd::set_nonblocking(fd.as_fd(), true)?;
        Ok(Pipe {
            file: Some(File::from(fd)),
        })
    }

    /// Takes ownership of a pipe end that may share its description with
    /// other handles or processes: the end kept is a non-blocking
    /// description of its own ([`fd::reopen`]), and `fd` is closed; where
    /// that cannot be made, `fd`'s own description is switched.
    pub(crate) fn adopt(fd: OwnedFd) -> io::Result<Self> {
        match fd::reopen(fd.as_fd(), true) {
            Ok(own) => Ok(Pipe {
                file: Some(File::from(own)),
            }),
            Err(_) => Pipe::new(fd),
        }
    }

    fn file(&self) -> &File {
        self.file
            .as_ref()
            .expect("a Pipe holds its end until into_owned")
    }

    /// Gives the end back in blocking mode, as std would hand it over: a
    /// description of its own ([`fd::reopen`]), so that clones of this end
    /// stay non-blocking; where that cannot be made, this end's own
    /// description, switched.
    pub(crate) fn into_owned(mut self) -> OwnedFd {
        let file = self
            .file
            .take()
            .expect("a Pipe holds its end until into_owned");
        green::io::deregister(&file);
        if let Ok(own) = fd::reopen(file.as_fd(), false) {
            return own;
        }
        fd::set_nonblocking(file.as_fd(), false)
            .expect("clearing O_NONBLOCK on a pipe this process owns");
        file.into()
    }

    /// A second handle to the same end (`dup`); the two share the
    /// description, so both are non-blocking.
    pub(crate) fn try_clone(&self) -> io::Result<Pipe> {
        Ok(Pipe {
            file: Some(self.file().try_clone()?),
        })
    }

    pub(crate) fn read(&self, buf: &mut [u8]) -> io::Result<usize> {
        self.retry(Want::Read, |mut f| f.read(buf))
    }

    pub(crate) fn read_vectored(&self, bufs: &mut [IoSliceMut<'_>]) -> io::Result<usize> {
        self.retry(Want::Read, |mut f| f.read_vectored(bufs))
    }

    pub(crate) fn read_to_end(&self, buf: &mut Vec<u8>) -> io::Result<usize> {
        // A `WouldBlock` midway keeps what was read in `buf`; the retry
        // appends the rest.
        let start = buf.len();
        self.retry(Want::Read, |mut f| f.read_to_end(buf))?;
        Ok(buf.len() - start)
    }

    pub(crate) fn write(&self, buf: &[u8]) -> io::Result<usize> {
        self.retry(Want::Write, |mut f| f.write(buf))
    }

    pub(crate) fn write_vectored(&self, bufs: &[IoSlice<'_>]) -> io::Result<usize> {
        self.retry(Want::Write, |mut f| f.write_vectored(bufs))
    }

    fn retry<R>(&self, want: Want, mut op: impl FnMut(&File) -> io::Result<R>) -> io::Result<R> {
        let file = self.file();
        loop {
            match op(file) {
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => match want {
                    Want::Read => green::io::wait_readable(file, None)?,
                    Want::Write => green::io::wait_writable(file, None)?,
                },
                other => return other,
            }
        }
    }
}

impl Drop for Pipe {
    fn drop(&mut self) {
        if let Some(file) = &self.file {
            green::io::deregister(file);
        }
    }
}

impl AsFd for Pipe {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.file().as_fd()
    }
}

/// Implements for a pipe-end type holding a `Pipe` in field `0`: `Read` or
/// `Write` (on the type and on a shared reference, as std does), the fd
/// traits, and the conversions to `OwnedFd` and `Stdio` (which restore
/// blocking mode) and from `OwnedFd`.
macro_rules! pipe_end {
    ($ty:ident, read) => {
        $crate::io::pipe::pipe_end!(@read $ty);
        $crate::io::pipe::pipe_end!(@read &'_ $ty);
        $crate::io::pipe::pipe_end!(@fd $ty);
    };
    ($ty:ident, write) => {
        $crate::io::pipe::pipe_end!(@write $ty);
        $crate::io::pipe::pipe_end!(@write &'_ $ty);
        $crate::io::pipe::pipe_end!(@fd $ty);
    };
    (@read $t:ty) => {
        impl ::std::io::Read for $t {
            fn read(&mut self, buf: &mut [u8]) -> ::std::io::Result<usize> {
                self.0.read(buf)
            }
            fn read_vectored(
                &mut self,
                bufs: &mut [::std::io::IoSliceMut<'_>],
            ) -> ::std::io::Result<usize> {
                self.0.read_vectored(bufs)
            }
            fn read_to_end(&mut self, buf: &mut Vec<u8>) -> ::std::io::Result<usize> {
                self.0.read_to_end(buf)
            }
        }
    };
    (@write $t:ty) => {
        impl ::std::io::Write for $t {
            fn write(&mut self, buf: &[u8]) -> ::std::io::Result<usize> {
                self.0.write(buf)
            }
            fn write_vectored(&mut self, bufs: &[::std::io::IoSlice<'_>]) -> ::std::io::Result<usize> {
                self.0.write_vectored(bufs)
            }
            fn flush(&mut self) -> ::std::io::Result<()> {
                Ok(())
            }
        }
    };
    (@fd $ty:ident) => {
        impl ::std::os::fd::AsFd for $ty {
            fn as_fd(&self) -> ::std::os::fd::BorrowedFd<'_> {
                ::std::os::fd::AsFd::as_fd(&self.0)
            }
        }
        impl ::std::os::fd::AsRawFd for $ty {
            fn as_raw_fd(&self) -> ::std::os::fd::RawFd {
                ::std::os::fd::AsRawFd::as_raw_fd(&::std::os::fd::AsFd::as_fd(&self.0))
            }
        }
        impl ::std::os::fd::IntoRawFd for $ty {
            fn into_raw_fd(self) -> ::std::os::fd::RawFd {
                ::std::os::fd::IntoRawFd::into_raw_fd(self.0.into_owned())
            }
        }
        impl From<$ty> for ::std::os::fd::OwnedFd {
            /// Takes the end back in blocking mode.
            fn from(end: $ty) -> Self {
                end.0.into_owned()
            }
        }
        impl From<::std::os::fd::OwnedFd> for $ty {
            /// Adopts a pipe end: a non-blocking description of its own,
            /// so other handles to `fd`'s description, in this process or
            /// another, keep their mode (see the module docs).
            fn from(fd: ::std::os::fd::OwnedFd) -> Self {
                $ty($crate::io::pipe::Pipe::adopt(fd)
                    .expect("setting O_NONBLOCK on a descriptor this process owns"))
            }
        }
        impl From<$ty> for ::std::process::Stdio {
            /// Hands the end to a child process, in blocking mode.
            fn from(end: $ty) -> Self {
                ::std::process::Stdio::from(end.0.into_owned())
            }
        }
    };
}
pub(crate) use pipe_end;

/// Creates an anonymous pipe: std's [`io::pipe`] whose ends
/// park the greenlet inside `green::run` instead of blocking the thread.
///
/// # Errors
///
/// The kernel's, as std's `pipe` (for instance when out of descriptors).
///
/// # Examples
///
/// ```
/// use green_std::io::{self, Read, Write};
///
/// green::run(|| {
///     let (mut reader, mut writer) = io::pipe().unwrap();
///     // a reader waiting on an empty pipe lets the writer run
///     let r = green::spawn(move || {
///         let mut s = String::new();
///         reader.read_to_string(&mut s).unwrap();
///         s
///     });
///     writer.write_all(b"hello").unwrap();
///     drop(writer);
///     assert_eq!(r.join().unwrap(), "hello");
/// });
/// ```
pub fn pipe() -> io::Result<(PipeReader, PipeWriter)> {
    let (reader, writer) = std::io::pipe()?;
    Ok((
        PipeReader(Pipe::new(reader.into())?),
        PipeWriter(Pipe::new(writer.into())?),
    ))
}

/// The read end of a pipe made by [`pipe`]; std's
/// [`PipeReader`](std::io::PipeReader), green.
///
/// # Examples
///
/// ```
/// use green_std::io::{self, Read, Write};
///
/// let (mut reader, mut writer) = io::pipe().unwrap();
/// writer.write_all(b"outside run, it blocks like std").unwrap();
/// drop(writer);
/// let mut s = String::new();
/// reader.read_to_string(&mut s).unwrap();
/// assert_eq!(s, "outside run, it blocks like std");
/// ```
pub struct PipeReader(pub(crate) Pipe);

/// The write end of a pipe made by [`pipe`]; std's
/// [`PipeWriter`](std::io::PipeWriter), green.
///
/// # Examples
///
/// ```
/// use green_std::io::{self, Write};
/// use green_std::process::{Command, Stdio};
///
/// // a child process writing into our pipe
/// let (reader, writer) = io::pipe().unwrap();
/// let mut child = Command::new("echo").arg("hi").stdout(writer).spawn().unwrap();
/// child.wait().unwrap();
/// assert_eq!(io::read_to_string(reader).unwrap(), "hi\n");
/// ```
pub struct PipeWriter(pub(crate) Pipe);

impl PipeReader {
    /// Creates a new handle to the same end (`dup`).
    ///
    /// # Errors
    ///
    /// The kernel's, for instance when out of descriptors.
    ///
    /// # Examples
    ///
    /// ```
    /// let (reader, _writer) = green_std::io::pipe().unwrap();
    /// let _second = reader.try_clone().unwrap();
    /// ```
    pub fn try_clone(&self) -> io::Result<Self> {
        self.0.try_clone().map(PipeReader)
    }
}

impl PipeWriter {
    /// Creates a new handle to the same end (`dup`).
    ///
    /// # Errors
    ///
    /// The kernel's, for instance when out of descriptors.
    ///
    /// # Examples
    ///
    /// ```
    /// let (_reader, writer) = green_std::io::pipe().unwrap();
    /// let _second = writer.try_clone().unwrap();
    /// ```
    pub fn try_clone(&self) -> io::Result<Self> {
        self.0.try_clone().map(PipeWriter)
    }
}

/// std's `Debug` of a pipe end, `PipeReader(FileDesc(OwnedFd { fd: 3 }))`,
/// built with the formatter's helpers so that `{:#?}` spreads it over lines
/// as std's does.
macro_rules! fd_debug {
    ($($ty:ident),*) => {$(
        impl std::fmt::Debug for $ty {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                let fd = std::os::fd::AsRawFd::as_raw_fd(&self.0.as_fd());
                f.debug_tuple(stringify!($ty)).field(&FileDesc(fd)).finish()
            }
        }
    )*};
}

/// How std prints the descriptor inside a pipe end: `FileDesc(OwnedFd { fd: 3 })`.
struct FileDesc(std::os::fd::RawFd);

impl std::fmt::Debug for FileDesc {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_tuple("FileDesc")
            .field(&OwnedFdView(self.0))
            .finish()
    }
}

/// std's `OwnedFd { fd: 3 }`.
struct OwnedFdView(std::os::fd::RawFd);

impl std::fmt::Debug for OwnedFdView {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OwnedFd").field("fd", &self.0).finish()
    }
}

fd_debug!(PipeReader, PipeWriter);

pipe_end!(PipeReader, read);
pipe_end!(PipeWriter, write);
