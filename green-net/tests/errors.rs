//! Errors green makes itself, for bad input, are std's own: the same kind,
//! message and Debug output (std's print as `Error { kind, message }`, an
//! `io::Error::new`'s as `Custom { kind, error }`), inside and outside run.

use std::time::Duration;

use green_net::{TcpListener, TcpStream, UdpSocket};

/// `(Display, Debug)` of an error, or of its absence.
fn show<T>(r: std::io::Result<T>) -> String {
    match r {
        Ok(_) => "Ok".to_string(),
        Err(e) => format!("{e} / {e:?}"),
    }
}

fn compare() {
    let std_udp = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    let udp = UdpSocket::bind("127.0.0.1:0").unwrap();
    for bad in [
        "localhost",
        "localhost:",
        "localhost:99999",
        "[::1]",
        "",
        ":",
    ] {
        assert_eq!(
            show(TcpStream::connect(bad)),
            show(std::net::TcpStream::connect(bad)),
            "connect({bad:?})"
        );
    }
    let none: &[std::net::SocketAddr] = &[];
    assert_eq!(
        show(TcpListener::bind(none)),
        show(std::net::TcpListener::bind(none)),
        "bind to no address"
    );
    assert_eq!(
        show(udp.send_to(b"x", none)),
        show(std_udp.send_to(b"x", none)),
        "send_to no address"
    );
    assert_eq!(
        show(udp.set_read_timeout(Some(Duration::ZERO))),
        show(std_udp.set_read_timeout(Some(Duration::ZERO))),
        "a zero read timeout"
    );
    // std connects first, then refuses to wait no time: a listener that
    // accepts nothing still completes the handshake, so both get the error.
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = l.local_addr().unwrap();
    assert_eq!(
        show(TcpStream::connect_timeout(&addr, Duration::ZERO)),
        show(std::net::TcpStream::connect_timeout(&addr, Duration::ZERO)),
        "connect_timeout of zero"
    );
    assert_eq!(
        show(udp.set_write_timeout(Some(Duration::ZERO))),
        show(std_udp.set_write_timeout(Some(Duration::ZERO))),
        "a zero write timeout"
    );
}

#[test]
fn bad_input_gives_std_s_own_errors() {
    compare();
    green::run(compare);
}
