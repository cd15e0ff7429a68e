//! File-descriptor flags, a private description of a pipe, an instant
//! readiness check, and whether a file has a cursor.

use std::ffi::CString;
use std::io;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, FromRawFd, OwnedFd};

/// Sets or clears `O_NONBLOCK` on the open file description behind `fd`.
///
/// Only for descriptions this process owns alone (a pipe it created): the
/// flag is shared with every process holding the same description, which is
/// why stdin, stdout and stderr are never switched.
pub(crate) fn set_nonblocking(fd: BorrowedFd<'_>, nonblocking: bool) -> io::Result<()> {
    let raw = fd.as_raw_fd();
    // SAFETY: `raw` is an open descriptor for the duration of the call (it is
    // borrowed); F_GETFL takes no argument and only reads the flags.
    let flags = unsafe { libc::fcntl(raw, libc::F_GETFL) };
    if flags == -1 {
        return Err(io::Error::last_os_error());
    }
    let wanted = if nonblocking {
        flags | libc::O_NONBLOCK
    } else {
        flags & !libc::O_NONBLOCK
    };
    if wanted != flags {
        // SAFETY: as above; F_SETFL takes an int of status flags and changes
        // nothing but those flags.
        if unsafe { libc::fcntl(raw, libc::F_SETFL, wanted) } == -1 {
            return Err(io::Error::last_os_error());
        }
    }
    Ok(())
}

/// A new open file description of the pipe (or FIFO) behind `fd`, with the
/// same access mode, close-on-exec, in non-blocking mode or not: an open of
/// `/proc/self/fd/N`, which for a pipe makes a description of its own
/// rather than a second handle to `fd`'s (as `dup` would). So its
/// `O_NONBLOCK` can differ from `fd`'s, and from that of any other process
/// or handle sharing `fd`'s description.
///
/// # Errors
///
/// `Unsupported` for anything but a pipe or FIFO; the open's: `ENXIO` for
/// the write end of a pipe without readers, `ENOENT` where `/proc` is not
/// mounted, and the like. Callers fall back to switching `fd`'s own
/// description.
pub(crate) fn reopen(fd: BorrowedFd<'_>, nonblocking: bool) -> io::Result<OwnedFd> {
    let raw = fd.as_raw_fd();
    // Only a pipe or FIFO: reopening a regular file would lose its offset
    // and O_APPEND, and opening a device can have effects of its own.
    if file_type(fd) != Some(libc::S_IFIFO) {
        return Err(io::Error::new(io::ErrorKind::Unsupported, "not a pipe"));
    }
    // SAFETY: `raw` is open for the duration of the call (borrowed); F_GETFL
    // only reads the flags.
    let flags = unsafe { libc::fcntl(raw, libc::F_GETFL) };
    if flags == -1 {
        return Err(io::Error::last_os_error());
    }
    let path = CString::new(format!("/proc/self/fd/{raw}")).expect("no NUL in a path of digits");
    // Always opened non-blocking: opening a FIFO for reading in blocking
    // mode waits for a writer, which may never come.
    let mode = (flags & libc::O_ACCMODE) | libc::O_CLOEXEC | libc::O_NONBLOCK | libc::O_NOCTTY;
    // SAFETY: `path` is a NUL-terminated string that outlives the call; the
    // flags create nothing (no O_CREAT, so no mode argument).
    let new = unsafe { libc::open(path.as_ptr(), mode) };
    if new == -1 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: `open` just returned `new`, a descriptor no one else owns.
    let new = unsafe { OwnedFd::from_raw_fd(new) };
    if !nonblocking {
        set_nonblocking(new.as_fd(), false)?;
    }
    Ok(new)
}

/// Which readiness [`ready_now`] asks about.
#[derive(Clone, Copy, Debug)]
pub(crate) enum Want {
    Read,
    Write,
}

/// Whether `fd` is ready (or hung up, or failed) right now: `poll(2)` with a
/// zero timeout. A regular file or `/dev/null` is always ready.
pub(crate) fn ready_now(fd: BorrowedFd<'_>, want: Want) -> io::Result<bool> {
    let mut pfd = libc::pollfd {
        fd: fd.as_raw_fd(),
        events: match want {
            Want::Read => libc::POLLIN,
            Want::Write => libc::POLLOUT,
        },
        revents: 0,
    };
    loop {
        // SAFETY: `pfd` is a valid, exclusively borrowed array of one pollfd
        // for the duration of the call, and the timeout of 0 never blocks.
        let n = unsafe { libc::poll(&mut pfd, 1, 0) };
        match n {
            -1 => {
                let err = io::Error::last_os_error();
                if err.kind() != io::ErrorKind::Interrupted {
                    return Err(err);
                }
            }
            0 => return Ok(false),
            _ => return Ok(true),
        }
    }
}

/// Whether `fd` is a regular file, whose reads and writes never wait for a
/// peer (and which epoll refuses to watch).
pub(crate) fn is_regular_file(fd: BorrowedFd<'_>) -> bool {
    file_type(fd) == Some(libc::S_IFREG)
}

/// Whether the open file behind `fd` has a cursor (`lseek` works on it):
/// not a pipe, FIFO or socket, nor a character device without one (a tty),
/// where `lseek` fails with `ESPIPE`. If it cannot tell, it says yes.
///
/// It never waits on a disk or on another thread, so the hub's thread may
/// ask: the type comes from `statx` without syncing (a file's type never
/// changes, so the cached one is right; `fstat` could flush an NFS file's
/// writes first), and only a character device, the one kind that may go
/// either way, is asked with `lseek` (which on a regular file or directory
/// takes the file's position lock, held by a read in progress on another
/// thread).
pub(crate) fn has_cursor(fd: BorrowedFd<'_>) -> bool {
    match file_type(fd) {
        Some(libc::S_IFIFO | libc::S_IFSOCK) => false,
        Some(libc::S_IFCHR) => {
            // SAFETY: `fd` is open for the duration of the call (borrowed);
            // a move by 0 from the current position changes nothing.
            let at = unsafe { libc::lseek(fd.as_raw_fd(), 0, libc::SEEK_CUR) };
            at != -1 || io::Error::last_os_error().raw_os_error() != Some(libc::ESPIPE)
        }
        _ => true,
    }
}

/// The type bits of `fd`'s mode (`S_IFMT`), from `statx` without syncing,
/// or from `fstat` where `statx` is missing; `None` if neither answers.
fn file_type(fd: BorrowedFd<'_>) -> Option<libc::mode_t> {
    let raw = fd.as_raw_fd();
    let mut stx = std::mem::MaybeUninit::<libc::statx>::zeroed();
    let flags = libc::AT_EMPTY_PATH | libc::AT_STATX_DONT_SYNC;
    // SAFETY: `raw` is open for the duration of the call (borrowed); the path is an
    // empty NUL-terminated string (AT_EMPTY_PATH: `raw` itself), and `stx`
    // is writable memory of the size statx fills.
    if unsafe { libc::statx(raw, c"".as_ptr(), flags, libc::STATX_TYPE, stx.as_mut_ptr()) } == 0 {
        // SAFETY: zeroed, then filled by a successful statx.
        let stx = unsafe { stx.assume_init() };
        if stx.stx_mask & libc::STATX_TYPE != 0 {
            return Some(libc::mode_t::from(stx.stx_mode) & libc::S_IFMT);
        }
    }
    let mut stat = std::mem::MaybeUninit::<libc::stat>::uninit();
    // SAFETY: `raw` is open for the duration of the call (borrowed), and
    // `stat` is writable memory of the size fstat fills.
    if unsafe { libc::fstat(raw, stat.as_mut_ptr()) } == -1 {
        return None;
    }
    // SAFETY: fstat succeeded, so it filled `stat`.
    Some(unsafe { stat.assume_init() }.st_mode & libc::S_IFMT)
}

#[cfg(test)]
mod tests {
    use std::os::fd::{AsFd, FromRawFd, OwnedFd};
    use std::os::unix::net::UnixStream;

    use super::has_cursor;

    /// Each kind of file, and the character devices both ways: `/dev/null`
    /// has a cursor, a pseudo-terminal does not.
    #[test]
    fn which_files_have_a_cursor() {
        let path = std::env::temp_dir().join(format!("green-cursor-{}", std::process::id()));
        let file = std::fs::File::create(&path).unwrap();
        assert!(has_cursor(file.as_fd()), "a regular file");
        std::fs::remove_file(&path).unwrap();
        let dir = std::fs::File::open(std::env::temp_dir()).unwrap();
        assert!(has_cursor(dir.as_fd()), "a directory");
        let null = std::fs::File::open("/dev/null").unwrap();
        assert!(has_cursor(null.as_fd()), "/dev/null");
        let (reader, writer) = std::io::pipe().unwrap();
        assert!(
            !has_cursor(reader.as_fd()) && !has_cursor(writer.as_fd()),
            "a pipe"
        );
        let (socket, _peer) = UnixStream::pair().unwrap();
        assert!(!has_cursor(socket.as_fd()), "a socket");
        // SAFETY: posix_openpt takes flags and returns a new descriptor, or
        // -1 (no pseudo-terminals here: that case is skipped).
        let pty = unsafe { libc::posix_openpt(libc::O_RDWR | libc::O_NOCTTY | libc::O_CLOEXEC) };
        if pty != -1 {
            // SAFETY: just opened, owned by no one else.
            let pty = unsafe { OwnedFd::from_raw_fd(pty) };
            assert!(!has_cursor(pty.as_fd()), "a pseudo-terminal");
        }
    }
}
