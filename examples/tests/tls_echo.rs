//! The TLS echo example end to end: fifty TLS clients at once on one hub,
//! byte-exact echoes across TLS record boundaries and clean closes, clients
//! that do not speak TLS turned away without harm to the server, and (when
//! the `openssl` command is installed) OpenSSL's own client, TLS 1.2 and 1.3.

use std::io::{self, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use green_examples::tls::{self, Identity};

/// Starts the server with a fresh certificate on its own thread (a hub);
/// returns its address and the certificate.
fn server() -> (SocketAddr, Identity) {
    let identity = Identity::self_signed().unwrap();
    let config = identity.server_config().unwrap();
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        green::run(|| {
            let listener = green_net::TcpListener::bind("127.0.0.1:0").unwrap();
            tx.send(listener.local_addr().unwrap()).unwrap();
            tls::serve(listener, config).unwrap();
        });
    });
    (rx.recv_timeout(Duration::from_secs(10)).unwrap(), identity)
}

#[test]
fn fifty_clients_on_one_hub_get_byte_exact_echoes() {
    assert!(
        tls::SIZES.iter().any(|&s| s > 2 * 16 * 1024),
        "some message spans several TLS records"
    );
    let (addr, identity) = server();
    let config = identity.client_config().unwrap();
    green::run(|| {
        let clients: Vec<_> = (0..50)
            .map(|c| {
                let config = config.clone();
                green::spawn(move || {
                    // every size once, in an order of its own
                    let sent: Vec<_> = (0..tls::SIZES.len()).map(|i| tls::message(c, i)).collect();
                    let echoed = tls::echo_client(addr, config, sent.iter().map(Vec::as_slice));
                    (sent, echoed)
                })
            })
            .collect();
        let total: usize = tls::SIZES.iter().sum();
        for client in clients {
            let (sent, echoed) = client.join().unwrap();
            // echo_client compares every byte and fails on a difference or
            // an unclean close; here the count must be all of it.
            assert_eq!(echoed.unwrap(), total as u64);
            assert_eq!(sent.iter().map(Vec::len).sum::<usize>(), total);
        }
    });
}

#[test]
fn the_demo_reports_every_client_ok() {
    let summary = green::run(|| tls::demo(10, 7)).unwrap();
    assert_eq!((summary.ok, summary.failed), (10, 0), "{summary}");
    assert_eq!(summary.messages, 70);
    assert_eq!(summary.bytes, 10 * tls::SIZES.iter().sum::<usize>() as u64);
}

/// Reads until the server closes; what came back, or the error.
fn read_until_closed(mut conn: TcpStream) -> io::Result<Vec<u8>> {
    let mut got = Vec::new();
    conn.read_to_end(&mut got).map(|_| got)
}

#[test]
fn clients_that_do_not_speak_tls_are_closed_and_the_server_serves_on() {
    let (addr, identity) = server();
    let garbage: [&[u8]; 3] = [
        b"GET / HTTP/1.1\r\nHost: localhost\r\n\r\n",
        // a TLS handshake record whose content is not a ClientHello
        b"\x16\x03\x01\x00\x05hello",
        &[0xff; 4096],
    ];
    for bytes in garbage {
        let mut conn = TcpStream::connect(addr).unwrap();
        conn.set_read_timeout(Some(Duration::from_secs(10)))
            .unwrap();
        conn.write_all(bytes).unwrap();
        match read_until_closed(conn) {
            // at most a TLS alert record (content type 21), then the end
            Ok(got) => assert!(got.is_empty() || got[0] == 21, "got {got:?}"),
            Err(e) => assert_eq!(e.kind(), io::ErrorKind::ConnectionReset, "{e}"),
        }
    }
    // a client that leaves in the middle of the handshake
    drop(TcpStream::connect(addr).unwrap());
    let config = identity.client_config().unwrap();
    let echoed = green::run(|| tls::echo_client(addr, config, [&b"still here\n"[..]])).unwrap();
    assert_eq!(echoed, 11);
}

#[test]
fn a_client_that_trusts_another_certificate_is_refused() {
    let (addr, _identity) = server();
    let stranger = Identity::self_signed().unwrap().client_config().unwrap();
    let err = green::run(|| tls::echo_client(addr, stranger, [&b"hi"[..]])).unwrap_err();
    assert_eq!(err.kind(), io::ErrorKind::InvalidData, "{err}");
    assert!(err.to_string().contains("certificate"), "{err}");
}

/// `openssl s_client` against the server: the certificate verifies for
/// `localhost` and a line and a 40 KB line come back. Skipped when the
/// `openssl` command is missing (`scripts/interop.sh` installs it).
#[test]
fn openssl_s_client_gets_its_echo() {
    if Command::new("openssl").arg("version").output().is_err() {
        eprintln!("skipped: no `openssl` command");
        return;
    }
    let (addr, identity) = server();
    let pem = std::env::temp_dir().join(format!("green-tls-echo-{}.pem", std::process::id()));
    std::fs::write(&pem, &identity.cert_pem).unwrap();
    let mut message = b"hello from openssl\n".to_vec();
    message.extend((0..40_000).map(|i| b'a' + (i % 26) as u8));
    message.push(b'\n');
    for version in ["-tls1_2", "-tls1_3"] {
        let mut child = Command::new("openssl")
            .args(["s_client", "-connect", &addr.to_string(), "-CAfile"])
            .arg(&pem)
            .args(["-servername", "localhost", "-verify_hostname", "localhost"])
            .args(["-verify_return_error", "-quiet", "-no_ign_eof", version])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let mut stdout = child.stdout.take().unwrap();
        let want = message.len();
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            let mut got = Vec::new();
            let mut buf = [0; 8192];
            while got.len() < want {
                match stdout.read(&mut buf) {
                    Ok(0) | Err(_) => break,
                    Ok(n) => got.extend_from_slice(&buf[..n]),
                }
            }
            let _ = tx.send(got);
        });
        child.stdin.as_mut().unwrap().write_all(&message).unwrap();
        let echoed = rx.recv_timeout(Duration::from_secs(10));
        drop(child.stdin.take()); // end of input: s_client sends close_notify and exits
        let status = wait(&mut child, Duration::from_secs(10));
        let mut stderr = String::new();
        child
            .stderr
            .take()
            .unwrap()
            .read_to_string(&mut stderr)
            .unwrap();
        let echoed = echoed.unwrap_or_else(|_| panic!("{version}: no echo; stderr: {stderr}"));
        assert!(
            echoed == message,
            "{version}: the echo differs; stderr: {stderr}"
        );
        assert!(status.success(), "{version}: {status}; stderr: {stderr}");
    }
    let _ = std::fs::remove_file(pem);
}

/// Waits for `child` at most `limit`, killing it then.
fn wait(child: &mut std::process::Child, limit: Duration) -> std::process::ExitStatus {
    let deadline = Instant::now() + limit;
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            return status;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            return child.wait().unwrap();
        }
        std::thread::sleep(Duration::from_millis(10));
    }
}
