//! A WebSocket echo server and client in plain blocking style:
//! tungstenite's synchronous API over [`green_net::TcpStream`], a greenlet
//! per connection. `examples/ws_echo.rs` is its command line.
//!
//! tungstenite's `accept`, `read` and `send` expect a blocking stream; a
//! green socket blocks only its greenlet, so the handshake and the echo
//! loop read like thread-per-connection code and thousands of them share
//! one OS thread.
//!
//! The server echoes text and binary messages as they came; tungstenite
//! itself answers pings with pongs and a close frame with a close frame,
//! after which the server closes the TCP connection (RFC 6455's order).

use std::io;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use green_net::{TcpListener, TcpStream};
use tungstenite::handshake::HandshakeRole;
use tungstenite::protocol::frame::coding::CloseCode;
use tungstenite::protocol::CloseFrame;
use tungstenite::{HandshakeError, Message, WebSocket};

/// A server connection that neither sends nor reads for this long is closed.
pub const IDLE_TIMEOUT: Duration = Duration::from_secs(60);

/// A client gives up on a server that does not answer for this long.
pub const CLIENT_TIMEOUT: Duration = Duration::from_secs(10);

/// tungstenite's errors as `io::Error`s: its I/O errors as they are, the
/// others (protocol, capacity, closed) wrapped.
fn ws_error(e: tungstenite::Error) -> io::Error {
    match e {
        tungstenite::Error::Io(e) => e,
        e => io::Error::other(e),
    }
}

fn handshake_error<R: HandshakeRole>(e: HandshakeError<R>) -> io::Error {
    match e {
        HandshakeError::Failure(e) => ws_error(e),
        // The stream blocks; tungstenite stops only on a timeout.
        HandshakeError::Interrupted(_) => io::Error::new(
            io::ErrorKind::WouldBlock,
            "the WebSocket handshake timed out",
        ),
    }
}

fn invalid(msg: String) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, msg)
}

/// Accepts connections forever, each echoed by a greenlet of its own
/// ([`echo`]). A connection that fails (a plain HTTP request, say) ends
/// its greenlet only.
///
/// # Errors
///
/// Never, in practice: failed accepts are skipped.
///
/// # Panics
///
/// Outside `green::run`.
pub fn serve(listener: TcpListener) -> io::Result<()> {
    for stream in listener.incoming() {
        let Ok(stream) = stream else {
            continue; // a connection failed before we got it
        };
        green::spawn(move || {
            let _ = echo(stream);
        });
    }
    Ok(())
}

/// Serves one connection: the upgrade handshake, then every text and
/// binary message is sent back as it came, until the close handshake is
/// done. Returns the messages echoed.
///
/// # Errors
///
/// When the request is not a WebSocket upgrade or the client breaks the
/// protocol (wrapped tungstenite errors), drops the connection without a
/// close frame, stays idle for [`IDLE_TIMEOUT`]
/// ([`io::ErrorKind::WouldBlock`]), or the socket fails.
pub fn echo(stream: TcpStream) -> io::Result<u64> {
    stream.set_nodelay(true)?;
    stream.set_read_timeout(Some(IDLE_TIMEOUT))?;
    stream.set_write_timeout(Some(IDLE_TIMEOUT))?;
    let mut ws = tungstenite::accept(stream).map_err(handshake_error)?;
    let mut echoed = 0;
    loop {
        match ws.read() {
            Ok(message @ (Message::Text(_) | Message::Binary(_))) => {
                ws.send(message).map_err(ws_error)?;
                echoed += 1;
            }
            // Pongs and the reply to a close are queued by tungstenite and
            // sent by the next `read`; after a close that `read` ends the
            // connection with `ConnectionClosed`.
            Ok(_) => {}
            Err(tungstenite::Error::ConnectionClosed) => return Ok(echoed),
            Err(e) => return Err(ws_error(e)),
        }
    }
}

/// Connects to an echo server at `addr`, sends each message and checks
/// that it comes back unchanged, sends a ping and checks the pong, then
/// closes: our close frame, the server's reply, the end of the stream.
/// Returns the bytes echoed (message payloads).
///
/// # Errors
///
/// When the connection or the handshake fails, when an echo or the pong
/// differs from what was sent or the close is not answered
/// ([`io::ErrorKind::InvalidData`]), or when the server does not answer for
/// [`CLIENT_TIMEOUT`] ([`io::ErrorKind::WouldBlock`]).
///
/// # Panics
///
/// Outside `green::run`.
pub fn echo_client(addr: SocketAddr, messages: &[Message]) -> io::Result<u64> {
    let stream = TcpStream::connect(addr)?;
    stream.set_nodelay(true)?;
    stream.set_read_timeout(Some(CLIENT_TIMEOUT))?;
    stream.set_write_timeout(Some(CLIENT_TIMEOUT))?;
    let (mut ws, _response) =
        tungstenite::client(format!("ws://{addr}/echo"), stream).map_err(handshake_error)?;
    let mut echoed = 0;
    for message in messages {
        ws.send(message.clone()).map_err(ws_error)?;
        let back = ws.read().map_err(ws_error)?;
        if &back != message {
            return Err(invalid(format!(
                "sent {} ({} bytes), got back {} ({} bytes)",
                kind(message),
                message.len(),
                kind(&back),
                back.len()
            )));
        }
        echoed += message.len() as u64;
    }
    let ping = Message::Ping(b"are you there?".to_vec().into());
    ws.send(ping).map_err(ws_error)?;
    match ws.read().map_err(ws_error)? {
        Message::Pong(payload) if payload.as_ref() == b"are you there?" => {}
        other => return Err(invalid(format!("ping answered by {}", kind(&other)))),
    }
    close(&mut ws)?;
    Ok(echoed)
}

/// The client's side of the close handshake: a normal close frame, the
/// server's reply (the same code), then the server closes the connection.
fn close(ws: &mut WebSocket<TcpStream>) -> io::Result<()> {
    let bye = CloseFrame {
        code: CloseCode::Normal,
        reason: "bye".into(),
    };
    ws.close(Some(bye)).map_err(ws_error)?;
    let mut replied = false;
    loop {
        match ws.read() {
            Ok(Message::Close(Some(frame))) if frame.code == CloseCode::Normal => replied = true,
            Ok(other) => {
                return Err(invalid(format!(
                    "{} instead of the close reply",
                    kind(&other)
                )))
            }
            Err(tungstenite::Error::ConnectionClosed) if replied => return Ok(()),
            Err(tungstenite::Error::ConnectionClosed) => {
                return Err(invalid("closed without a close reply".to_string()))
            }
            Err(e) => return Err(ws_error(e)),
        }
    }
}

/// A message's kind, for error messages.
fn kind(message: &Message) -> &'static str {
    match message {
        Message::Text(_) => "a text message",
        Message::Binary(_) => "a binary message",
        Message::Ping(_) => "a ping",
        Message::Pong(_) => "a pong",
        Message::Close(_) => "a close frame",
        Message::Frame(_) => "a raw frame",
    }
}

/// The size of the demo's largest message.
pub const BIG: usize = 1024 * 1024;

/// The messages client `client` sends in the demo: short text, non-ASCII
/// text, every byte value, an empty binary message, 64 KiB and [`BIG`]
/// (1 MiB) of binary data.
pub fn messages(client: usize) -> Vec<Message> {
    let pattern = |len: usize| -> Vec<u8> {
        (0..len)
            .map(|i| (i.wrapping_mul(31) ^ client) as u8)
            .collect()
    };
    vec![
        Message::text(format!("hello from client {client}")),
        Message::text("grüße, 世界, 🌍"),
        Message::binary((0..=255u8).collect::<Vec<u8>>()),
        Message::binary(Vec::new()),
        Message::binary(pattern(64 * 1024)),
        Message::binary(pattern(BIG)),
    ]
}

/// What a [`demo`] did.
pub type Summary = crate::echo_summary::EchoSummary;

/// Runs the demo inside the calling hub: the server on a free loopback
/// port and `clients` green clients at once, each sending its
/// [`messages`] through [`echo_client`].
///
/// # Errors
///
/// When the server cannot bind.
///
/// # Panics
///
/// Outside `green::run`.
pub fn demo(clients: usize) -> io::Result<Summary> {
    let listener = TcpListener::bind("127.0.0.1:0")?;
    let addr = listener.local_addr()?;
    let server = green::spawn(move || serve(listener));
    let start = Instant::now();
    let handles: Vec<_> = (0..clients)
        .map(|c| {
            green::spawn(move || {
                let sent = messages(c);
                echo_client(addr, &sent).map(|bytes| (sent.len() as u64, bytes))
            })
        })
        .collect();
    let mut summary = Summary::new(
        "WebSocket clients",
        "unchanged; ping answered, close handshake done",
    );
    for handle in handles {
        summary.tally(handle.join());
    }
    summary.elapsed = start.elapsed();
    server.kill();
    Ok(summary)
}
