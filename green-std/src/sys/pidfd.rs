//! `pidfd_open(2)`: a descriptor that becomes readable when a child exits,
//! so a greenlet can wait for a process like it waits for a socket.

use std::io;
use std::os::fd::{FromRawFd, OwnedFd};

/// Opens a pidfd for the process `pid`.
///
/// # Errors
///
/// The kernel's: `ENOSYS` before Linux 5.3 or under a seccomp filter that
/// hides the call, `ESRCH` if no such process exists. Callers fall back to
/// polling `try_wait`.
pub(crate) fn open(pid: u32) -> io::Result<OwnedFd> {
    let pid = libc::pid_t::try_from(pid)
        .map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, "process id out of range"))?;
    // SAFETY: pidfd_open takes a pid and a flags word and returns a new
    // descriptor or -1; it touches no memory of ours.
    let ret = unsafe { libc::syscall(libc::SYS_pidfd_open, pid, 0) };
    if ret < 0 {
        return Err(io::Error::last_os_error());
    }
    let raw = i32::try_from(ret).map_err(|_| io::Error::other("pidfd_open: bad descriptor"))?;
    // SAFETY: the kernel has just returned `raw` as a new descriptor that
    // nothing else owns; the OwnedFd becomes its only owner and closes it.
    Ok(unsafe { OwnedFd::from_raw_fd(raw) })
}
