//! Unix sockets bound to a path of 108 bytes, which fills `sun_path` with
//! no terminating NUL: Linux allows it (std's `bind` refuses such a path,
//! so the peers here bind through libc, as a C program would). The kernel
//! reports such an address with the path's full length; std reads it back
//! whole.

use std::io::{self, ErrorKind};
use std::os::fd::{FromRawFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use green_net::unix::{UnixDatagram, UnixListener, UnixStream};

// green-core's test helpers (the watchdog, scenarios in a child process).
#[path = "../../green-core/tests/util/mod.rs"]
mod util;

/// Long enough never to fire on a healthy run; bounds a broken one.
const GUARD: Duration = Duration::from_secs(10);

/// A fresh directory in the temp dir, removed with what it holds on drop.
struct TempDir(PathBuf);

impl TempDir {
    fn new(tag: &str) -> TempDir {
        let dir = std::env::temp_dir().join(format!("gn-{tag}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir(&dir).unwrap();
        TempDir(dir)
    }

    /// A path in this directory of exactly `sun_path`'s size (108 bytes).
    fn full_path(&self, tag: u8) -> PathBuf {
        let mut bytes = self.0.as_os_str().as_bytes().to_vec();
        bytes.extend_from_slice(b"/");
        bytes.resize(SUN_PATH - 1, b'x');
        bytes.push(tag);
        PathBuf::from(std::ffi::OsStr::from_bytes(&bytes))
    }

    fn join(&self, name: &str) -> PathBuf {
        self.0.join(name)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

const SUN_PATH: usize = 108;

/// A socket of `kind` bound to `path` (all of `sun_path`, no NUL), through
/// libc.
fn bind_full(kind: libc::c_int, path: &Path) -> OwnedFd {
    let bytes = path.as_os_str().as_bytes();
    assert_eq!(bytes.len(), SUN_PATH);
    // SAFETY: plain syscalls; the address is a local, fully initialised
    // `sockaddr_un` passed with its own size; the fd is fresh and owned
    // by the `OwnedFd` from here on.
    unsafe {
        let fd = libc::socket(libc::AF_UNIX, kind | libc::SOCK_CLOEXEC, 0);
        assert!(fd >= 0, "socket: {}", io::Error::last_os_error());
        let fd = OwnedFd::from_raw_fd(fd);
        let mut addr: libc::sockaddr_un = std::mem::zeroed();
        addr.sun_family = libc::AF_UNIX as libc::sa_family_t;
        for (to, from) in addr.sun_path.iter_mut().zip(bytes) {
            *to = *from as libc::c_char;
        }
        let len = std::mem::size_of::<libc::sockaddr_un>() as libc::socklen_t;
        let r = libc::bind(
            std::os::fd::AsRawFd::as_raw_fd(&fd),
            (&addr as *const libc::sockaddr_un).cast(),
            len,
        );
        assert_eq!(r, 0, "bind: {}", io::Error::last_os_error());
        fd
    }
}

/// A datagram from a sender bound to a 108-byte path: std returns it with
/// the path; green returns it too (the sender unnamed: std's address cannot
/// be built outside std), where it failed with `InvalidInput` after taking
/// the datagram off the queue, inside `run` and outside.
#[test]
fn a_datagram_from_a_sender_bound_to_a_108_byte_path_is_received() {
    let _watchdog = util::watchdog();
    let dir = TempDir::new("dgram108");
    let sender_path = dir.full_path(b's');
    let sender = std::os::unix::net::UnixDatagram::from(bind_full(libc::SOCK_DGRAM, &sender_path));

    // std, for reference: the datagram, and the whole path.
    let std_path = dir.join("std");
    let std_receiver = std::os::unix::net::UnixDatagram::bind(&std_path).unwrap();
    sender.send_to(b"to std", &std_path).unwrap();
    let mut buf = [0; 16];
    let (n, from) = std_receiver.recv_from(&mut buf).unwrap();
    assert_eq!(&buf[..n], b"to std");
    assert_eq!(from.as_pathname(), Some(sender_path.as_path()));

    let green_path = dir.join("green");
    let receiver = UnixDatagram::bind(&green_path).unwrap();
    receiver.set_read_timeout(Some(GUARD)).unwrap();
    let check = |receiver: &UnixDatagram, msg: &[u8]| {
        sender.send_to(msg, &green_path).unwrap();
        let mut buf = [0; 16];
        let (n, from) = receiver.recv_from(&mut buf).expect("the datagram");
        assert_eq!(&buf[..n], msg);
        assert!(from.is_unnamed(), "{from:?}");
        // Replying fails as std's reply to the path's address does.
        let err = receiver.send_to_addr(b"re", &from).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::InvalidInput);
    };
    check(&receiver, b"outside run");
    green::run(|| check(&receiver, b"inside run"));
    let err = std_receiver.send_to_addr(b"re", &from).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InvalidInput, "std's reply");
}

/// Streams with a 108-byte path at either end: the addresses `accept`,
/// `peer_addr` and `local_addr` give are std's own (green asks std). A
/// guard: it passed before the datagram fix too, and fails if these calls
/// ever stop going through std.
#[test]
fn stream_addresses_of_a_108_byte_path_are_std_s() {
    let _watchdog = util::watchdog();
    let dir = TempDir::new("stream108");
    let client_path = dir.full_path(b'c');
    let listener_path = dir.join("listener");
    let listener = UnixListener::bind(&listener_path).unwrap();
    let client = bind_full(libc::SOCK_STREAM, &client_path);
    green::run(|| {
        let fd = std::os::fd::AsRawFd::as_raw_fd(&client);
        let to = socket2::SockAddr::unix(&listener_path).unwrap();
        // SAFETY: connect(2) on an open fd with socket2's initialised
        // address and its length.
        let r = unsafe { libc::connect(fd, to.as_ptr().cast(), to.len()) };
        assert_eq!(r, 0, "connect: {}", io::Error::last_os_error());
        let (accepted, peer) = listener.accept().unwrap();
        assert_eq!(peer.as_pathname(), Some(client_path.as_path()));
        assert_eq!(
            accepted.peer_addr().unwrap().as_pathname(),
            Some(client_path.as_path())
        );
        let client = UnixStream::from(client.try_clone().unwrap());
        assert_eq!(
            client.local_addr().unwrap().as_pathname(),
            Some(client_path.as_path())
        );
    });
}
