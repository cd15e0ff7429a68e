//! The WebSocket echo example end to end: twenty clients at once on one
//! hub, text and binary messages up to 1 MiB echoed unchanged, pings
//! answered, the close handshake completed; a plain std client step by
//! step; a request that is not a WebSocket upgrade turned away without
//! harm to the server.

use std::io::{self, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::sync::mpsc;
use std::time::Duration;

use green_examples::ws;
use tungstenite::protocol::frame::coding::CloseCode;
use tungstenite::protocol::CloseFrame;
use tungstenite::Message;

/// Starts the server on its own thread (a hub); returns its address.
fn server() -> SocketAddr {
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        green::run(|| {
            let listener = green_net::TcpListener::bind("127.0.0.1:0").unwrap();
            tx.send(listener.local_addr().unwrap()).unwrap();
            ws::serve(listener).unwrap();
        });
    });
    rx.recv_timeout(Duration::from_secs(10)).unwrap()
}

#[test]
fn twenty_clients_on_one_hub_get_exact_echoes_and_close_cleanly() {
    let addr = server();
    green::run(|| {
        let clients: Vec<_> = (0..20)
            .map(|c| {
                green::spawn(move || {
                    let sent = ws::messages(c);
                    // echo_client compares every echo with what was sent,
                    // checks the pong, and fails unless the server answers
                    // the close frame and then closes the connection.
                    let echoed = ws::echo_client(addr, &sent);
                    (sent, echoed)
                })
            })
            .collect();
        for client in clients {
            let (sent, echoed) = client.join().unwrap();
            assert!(sent.iter().any(|m| m.is_binary() && m.len() == ws::BIG));
            assert!(sent.iter().any(|m| m.is_text()));
            let bytes: usize = sent.iter().map(Message::len).sum();
            assert_eq!(echoed.unwrap(), bytes as u64);
        }
    });
}

#[test]
fn the_demo_reports_every_client_ok() {
    let summary = green::run(|| ws::demo(5)).unwrap();
    assert_eq!((summary.ok, summary.failed), (5, 0), "{summary}");
    assert_eq!(summary.messages, 5 * ws::messages(0).len() as u64);
}

/// A std client (blocking, no green at all), step by step.
#[test]
fn a_plain_std_client_step_by_step() {
    let addr = server();
    let stream = TcpStream::connect(addr).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    let (mut ws, response) = tungstenite::client(format!("ws://{addr}/"), stream).unwrap();
    assert_eq!(response.status(), 101);

    let big: Vec<u8> = (0..ws::BIG).map(|i| (i % 251) as u8).collect();
    for message in [
        Message::text("hello"),
        Message::binary(big),
        Message::text(""),
    ] {
        ws.send(message.clone()).unwrap();
        assert_eq!(ws.read().unwrap(), message);
    }

    ws.send(Message::Ping(b"ping".to_vec().into())).unwrap();
    assert_eq!(ws.read().unwrap(), Message::Pong(b"ping".to_vec().into()));

    let bye = CloseFrame {
        code: CloseCode::Away,
        reason: "going".into(),
    };
    ws.close(Some(bye.clone())).unwrap();
    // the server answers with the same close frame, then closes the TCP
    // connection: tungstenite says ConnectionClosed only after both
    assert_eq!(ws.read().unwrap(), Message::Close(Some(bye)));
    match ws.read() {
        Err(tungstenite::Error::ConnectionClosed) => {}
        other => panic!("expected the server to close, got {other:?}"),
    }
}

#[test]
fn a_request_that_is_not_an_upgrade_is_closed_and_the_server_serves_on() {
    let addr = server();
    for bytes in [
        &b"GET / HTTP/1.1\r\nHost: localhost\r\n\r\n"[..],
        b"hello\r\n\r\n",
    ] {
        let mut conn = TcpStream::connect(addr).unwrap();
        conn.set_read_timeout(Some(Duration::from_secs(10)))
            .unwrap();
        conn.write_all(bytes).unwrap();
        let mut got = Vec::new();
        match conn.read_to_end(&mut got) {
            Ok(_) => assert!(
                got.is_empty() || got.starts_with(b"HTTP/1.1 4"),
                "got {:?}",
                String::from_utf8_lossy(&got)
            ),
            Err(e) => assert_eq!(e.kind(), io::ErrorKind::ConnectionReset, "{e}"),
        }
    }
    let hello = [Message::text("still here")];
    let echoed = green::run(|| ws::echo_client(addr, &hello)).unwrap();
    assert_eq!(echoed, 10);
}
