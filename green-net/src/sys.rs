//! The socket syscalls green's operations make, each non-blocking for this
//! call only.
//!
//! A stream or datagram socket stays in the blocking mode its user chose
//! (`O_NONBLOCK` is std's state, shared by every handle of the socket's
//! open file description: `try_clone`s, duplicated fds, a std socket the
//! user keeps). Each receive and send passes `MSG_DONTWAIT` instead, so it
//! fails with `WouldBlock` where it would wait, whatever the other handles
//! do, and [`Source`](crate::source::Source)'s retry loop waits for
//! readiness. Sends also pass `MSG_NOSIGNAL`, as std's do: a peer that is
//! gone gives `EPIPE`, never `SIGPIPE`.
//!
//! One syscall per call, the one std's operation makes. Also here: the
//! `fstat` by which green knows a listening socket again, however many fds
//! it has (`source::listeners`).

use std::io::{self, IoSlice, IoSliceMut};
use std::os::fd::{AsFd, AsRawFd};

use socket2::{SockAddr, SockRef};

/// The most buffers one vectored call passes, as std's `readv`/`writev`
/// (Linux's `UIO_MAXIOV`): the kernel refuses more.
pub(crate) const MAX_IOV: usize = libc::UIO_MAXIOV as usize;

const RECV: libc::c_int = libc::MSG_DONTWAIT;
const SEND: libc::c_int = libc::MSG_DONTWAIT | libc::MSG_NOSIGNAL;

/// `recv(2)` into `buf` with `flags` (`0`, `MSG_PEEK`).
#[inline]
pub(crate) fn recv(fd: impl AsFd, buf: &mut [u8], flags: libc::c_int) -> io::Result<usize> {
    // SAFETY: `buf` is valid for writes of `buf.len()` bytes during the
    // call, and recv writes at most that many.
    let n = unsafe {
        libc::recv(
            fd.as_fd().as_raw_fd(),
            buf.as_mut_ptr().cast(),
            buf.len(),
            flags | RECV,
        )
    };
    count(n)
}

/// `recvmsg(2)` into the first [`MAX_IOV`] of `bufs` (std's `readv`).
pub(crate) fn recv_vectored(fd: impl AsFd, bufs: &mut [IoSliceMut<'_>]) -> io::Result<usize> {
    // SAFETY: `msghdr` is plain data, for which all zeroes is valid (no
    // address, no control data, no flags).
    let mut msg: libc::msghdr = unsafe { std::mem::zeroed() };
    // `IoSliceMut` is ABI-compatible with `iovec` on Unix (its docs).
    msg.msg_iov = bufs.as_mut_ptr().cast();
    msg.msg_iovlen = bufs.len().min(MAX_IOV) as _;
    // SAFETY: `msg` points at `msg_iovlen` live iovecs, each valid for
    // writes of its length during the call; the kernel writes no more.
    let n = unsafe { libc::recvmsg(fd.as_fd().as_raw_fd(), &mut msg, RECV) };
    count(n)
}

/// `recvfrom(2)` into `buf` with `flags` (`0`, `MSG_PEEK`), with the
/// sender's address.
pub(crate) fn recv_from(
    fd: impl AsFd,
    buf: &mut [u8],
    flags: libc::c_int,
) -> io::Result<(usize, SockAddr)> {
    let fd = fd.as_fd().as_raw_fd();
    // SAFETY: `try_init` hands a zeroed storage and its length, which
    // recvfrom fills (no more than the length says); `buf` is valid for
    // writes of `buf.len()` bytes during the call.
    unsafe {
        SockAddr::try_init(|storage, len| {
            let n = libc::recvfrom(
                fd,
                buf.as_mut_ptr().cast(),
                buf.len(),
                flags | RECV,
                storage.cast(),
                len,
            );
            count(n)
        })
    }
}

/// `send(2)` of `buf`. Straight to libc, as [`recv`], so that the servers'
/// hot path inlines down to the syscall (socket2's `send_with_flags` was a
/// call of its own in `perf`).
#[inline]
pub(crate) fn send(fd: impl AsFd, buf: &[u8]) -> io::Result<usize> {
    // SAFETY: `buf` is valid for reads of `buf.len()` bytes during the
    // call, and send reads at most that many.
    let n = unsafe { libc::send(fd.as_fd().as_raw_fd(), buf.as_ptr().cast(), buf.len(), SEND) };
    count(n)
}

/// `sendmsg(2)` of the first [`MAX_IOV`] of `bufs` (std's `writev`).
pub(crate) fn send_vectored(fd: impl AsFd, bufs: &[IoSlice<'_>]) -> io::Result<usize> {
    SockRef::from(&fd).send_vectored_with_flags(&bufs[..bufs.len().min(MAX_IOV)], SEND)
}

/// `sendto(2)` of `buf` to `addr`.
pub(crate) fn send_to(fd: impl AsFd, buf: &[u8], addr: &SockAddr) -> io::Result<usize> {
    SockRef::from(&fd).send_to_with_flags(buf, addr, SEND)
}

#[inline]
fn count(n: isize) -> io::Result<usize> {
    usize::try_from(n).map_err(|_| io::Error::last_os_error())
}

/// The device and inode numbers of `fd`'s file (`fstat`): for a socket,
/// the same for every fd of it and unique among the sockets alive (but
/// see `source::listeners::SocketId` for the counter's wrap).
pub(crate) fn device_and_inode(fd: impl AsFd) -> io::Result<(u64, u64)> {
    let mut stat = std::mem::MaybeUninit::<libc::stat>::uninit();
    // SAFETY: `fd` is open for the call (borrowed), and `stat` is writable
    // memory of the size fstat fills.
    if unsafe { libc::fstat(fd.as_fd().as_raw_fd(), stat.as_mut_ptr()) } != 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: fstat succeeded, so it filled `stat`.
    let stat = unsafe { stat.assume_init() };
    #[allow(clippy::unnecessary_cast)] // the field types vary by target
    Ok((stat.st_dev as u64, stat.st_ino as u64))
}
