//! File-descriptor flags and an instant readiness check.

use std::io;
use std::os::fd::{AsRawFd, BorrowedFd};

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
    std::fs::File::from(match fd.try_clone_to_owned() {
        Ok(owned) => owned,
        Err(_) => return false,
    })
    .metadata()
    .is_ok_and(|m| m.is_file())
}
