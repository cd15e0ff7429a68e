//! `{:?}` and `{:#?}` of every socket type print what its std twin prints
//! for the same socket: the same fields, the same fd, the same addresses.
//!
//! Each green socket is formatted, then converted into its std twin (which
//! keeps the fd number) and formatted again. Loopback and the temp dir only.

use std::fmt::Debug;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use green_net::unix::{UnixDatagram, UnixListener, UnixStream};
use green_net::{TcpListener, TcpStream, UdpSocket};

/// Formats `green` both ways, converts it to std and checks std's text is
/// the same.
fn same_as_std<G: Debug, S: Debug + From<G>>(green: G) {
    let printed = (format!("{green:?}"), format!("{green:#?}"));
    let std = S::from(green);
    assert_eq!(printed, (format!("{std:?}"), format!("{std:#?}")));
}

/// Every kind of socket, in the states that change what std prints (bound
/// or not, connected or not).
fn every_socket() {
    let dir = std::env::temp_dir().join(format!("green-net-debug-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir(&dir).unwrap();

    for ip in [
        IpAddr::V4(Ipv4Addr::LOCALHOST),
        IpAddr::V6(Ipv6Addr::LOCALHOST),
    ] {
        let listener = TcpListener::bind((ip, 0)).unwrap();
        let stream = TcpStream::connect(listener.local_addr().unwrap()).unwrap();
        let (accepted, _) = listener.accept().unwrap();
        same_as_std::<_, std::net::TcpStream>(stream);
        same_as_std::<_, std::net::TcpStream>(accepted);
        same_as_std::<_, std::net::TcpListener>(listener);

        let udp = UdpSocket::bind((ip, 0)).unwrap();
        let connected = UdpSocket::bind((ip, 0)).unwrap();
        connected.connect(udp.local_addr().unwrap()).unwrap();
        same_as_std::<_, std::net::UdpSocket>(udp);
        same_as_std::<_, std::net::UdpSocket>(connected);
    }

    let path = dir.join("stream.sock");
    let listener = UnixListener::bind(&path).unwrap();
    let client = UnixStream::connect(&path).unwrap();
    let (accepted, _) = listener.accept().unwrap();
    let (a, b) = UnixStream::pair().unwrap();
    for stream in [client, accepted, a, b] {
        same_as_std::<_, std::os::unix::net::UnixStream>(stream);
    }
    same_as_std::<_, std::os::unix::net::UnixListener>(listener);

    let bound = UnixDatagram::bind(dir.join("datagram.sock")).unwrap();
    let unbound = UnixDatagram::unbound().unwrap();
    unbound.connect(dir.join("datagram.sock")).unwrap();
    let (c, d) = UnixDatagram::pair().unwrap();
    for datagram in [bound, unbound, c, d] {
        same_as_std::<_, std::os::unix::net::UnixDatagram>(datagram);
    }

    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn every_socket_prints_as_its_std_twin() {
    green::run(every_socket);
    every_socket();
}
