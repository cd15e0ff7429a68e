//! A TLS echo server and client in plain blocking style: `rustls` (with
//! the pure-Rust `ring` provider) over [`green_net::TcpStream`], a greenlet
//! per connection. `examples/tls_echo.rs` is its command line.
//!
//! rustls is sans-IO: a [`StreamOwned`] drives a connection's state machine
//! over any `Read + Write`. Over a green socket each `read` or `write` that
//! would block switches to another greenlet, so the handshake and the echo
//! loop read like thread-per-connection code and thousands of them share
//! one OS thread.
//!
//! The certificate is self-signed, made at start with `rcgen` for
//! `localhost`, `127.0.0.1` and `::1`; clients trust exactly that
//! certificate ([`Identity::client_config`]).

use std::fmt;
use std::io::{self, Read, Write};
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use green_net::{TcpListener, TcpStream};
use rustls::crypto::{ring, CryptoProvider};
use rustls::pki_types::{CertificateDer, PrivatePkcs8KeyDer, ServerName};
use rustls::{ClientConfig, ClientConnection, RootCertStore, ServerConfig, ServerConnection};
use rustls::{ConnectionCommon, SideData, StreamOwned};

/// A server connection that neither sends nor reads for this long is closed.
pub const IDLE_TIMEOUT: Duration = Duration::from_secs(60);

/// A client gives up on a server that does not answer for this long.
pub const CLIENT_TIMEOUT: Duration = Duration::from_secs(10);

/// The name clients check the server's certificate against.
pub const SERVER_NAME: &str = "localhost";

/// The client writes at most this much before reading the echo back. The
/// server echoes while the client is still writing, so a client that wrote
/// megabytes before reading would fill both directions' socket buffers and
/// wait forever (with any echo server); 32 KiB is two TLS records and fits.
const PIECE: usize = 32 * 1024;

/// A self-signed certificate and its private key.
pub struct Identity {
    /// The certificate, DER-encoded.
    pub cert: CertificateDer<'static>,
    /// The certificate, PEM-encoded (for `openssl s_client -CAfile`).
    pub cert_pem: String,
    key: PrivatePkcs8KeyDer<'static>,
}

impl fmt::Debug for Identity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Identity")
            .field("cert", &format_args!("{} bytes", self.cert.len()))
            .field("key", &format_args!("(secret)"))
            .finish()
    }
}

/// The crypto provider of every config here: `ring`, named explicitly so
/// that no process-wide default needs installing.
fn provider() -> Arc<CryptoProvider> {
    Arc::new(ring::default_provider())
}

fn tls_error(e: rustls::Error) -> io::Error {
    io::Error::other(e)
}

impl Identity {
    /// Generates a key pair (ECDSA P-256) and a certificate for
    /// `localhost`, `127.0.0.1` and `::1` signed by it.
    ///
    /// # Errors
    ///
    /// When `rcgen` fails (it should not for these names).
    pub fn self_signed() -> io::Result<Identity> {
        let names = ["localhost", "127.0.0.1", "::1"].map(String::from).to_vec();
        let certified = rcgen::generate_simple_self_signed(names).map_err(io::Error::other)?;
        Ok(Identity {
            cert: certified.cert.der().clone(),
            cert_pem: certified.cert.pem(),
            key: PrivatePkcs8KeyDer::from(certified.signing_key.serialize_der()),
        })
    }

    /// A server config presenting this certificate (TLS 1.2 and 1.3, no
    /// client certificates).
    ///
    /// # Errors
    ///
    /// When rustls rejects the certificate or key.
    pub fn server_config(&self) -> io::Result<Arc<ServerConfig>> {
        let config = ServerConfig::builder_with_provider(provider())
            .with_safe_default_protocol_versions()
            .map_err(tls_error)?
            .with_no_client_auth()
            .with_single_cert(vec![self.cert.clone()], self.key.clone_key().into())
            .map_err(tls_error)?;
        Ok(Arc::new(config))
    }

    /// A client config that trusts this certificate and nothing else.
    ///
    /// # Errors
    ///
    /// When rustls rejects the certificate as a trust anchor.
    pub fn client_config(&self) -> io::Result<Arc<ClientConfig>> {
        let mut roots = RootCertStore::empty();
        roots.add(self.cert.clone()).map_err(tls_error)?;
        let config = ClientConfig::builder_with_provider(provider())
            .with_safe_default_protocol_versions()
            .map_err(tls_error)?
            .with_root_certificates(roots)
            .with_no_client_auth();
        Ok(Arc::new(config))
    }
}

/// Accepts connections forever, each echoed by a greenlet of its own
/// ([`echo`]). A connection that fails (a client that does not speak TLS,
/// say) ends its greenlet only.
///
/// # Errors
///
/// Never, in practice: failed accepts are skipped.
///
/// # Panics
///
/// Outside `green::run`.
pub fn serve(listener: TcpListener, config: Arc<ServerConfig>) -> io::Result<()> {
    for stream in listener.incoming() {
        let Ok(stream) = stream else {
            continue; // a connection failed before we got it
        };
        let config = config.clone();
        green::spawn(move || {
            let _ = echo(stream, config);
        });
    }
    Ok(())
}

/// Serves one connection: the TLS handshake, then every byte read is
/// written back, until the client sends `close_notify`; then ours, and
/// the socket is closed. Returns the bytes echoed.
///
/// # Errors
///
/// When the client is not a TLS client or breaks the protocol
/// ([`io::ErrorKind::InvalidData`]), closes without `close_notify`
/// ([`io::ErrorKind::UnexpectedEof`]), stays idle for [`IDLE_TIMEOUT`]
/// ([`io::ErrorKind::WouldBlock`]), or the socket fails.
pub fn echo(stream: TcpStream, config: Arc<ServerConfig>) -> io::Result<u64> {
    stream.set_nodelay(true)?;
    stream.set_read_timeout(Some(IDLE_TIMEOUT))?;
    stream.set_write_timeout(Some(IDLE_TIMEOUT))?;
    let conn = ServerConnection::new(config).map_err(tls_error)?;
    let mut tls = StreamOwned::new(conn, stream);
    // On the heap: a greenlet's stack is small (256 KiB by default).
    let mut buf = vec![0; 16 * 1024];
    let mut echoed = 0;
    loop {
        let n = tls.read(&mut buf)?;
        if n == 0 {
            break; // close_notify
        }
        tls.write_all(&buf[..n])?;
        echoed += n as u64;
    }
    close(&mut tls)?;
    Ok(echoed)
}

/// Sends `close_notify` and flushes it.
fn close<C, S>(tls: &mut StreamOwned<C, TcpStream>) -> io::Result<()>
where
    C: std::ops::DerefMut<Target = ConnectionCommon<S>>,
    S: SideData,
{
    tls.conn.send_close_notify();
    tls.flush()
}

/// Connects to an echo server at `addr` (checking its certificate for
/// [`SERVER_NAME`] against `config`'s roots), sends each message and reads
/// it back, then closes cleanly: our `close_notify`, the server's, end of
/// stream. Returns the bytes echoed.
///
/// # Errors
///
/// When the connection or the handshake fails, when an echo differs from
/// what was sent ([`io::ErrorKind::InvalidData`]), when the server does not
/// answer for [`CLIENT_TIMEOUT`] ([`io::ErrorKind::WouldBlock`]), or when
/// it closes without `close_notify` ([`io::ErrorKind::UnexpectedEof`]).
///
/// # Panics
///
/// Outside `green::run`.
pub fn echo_client<'m>(
    addr: SocketAddr,
    config: Arc<ClientConfig>,
    messages: impl IntoIterator<Item = &'m [u8]>,
) -> io::Result<u64> {
    let stream = TcpStream::connect(addr)?;
    stream.set_nodelay(true)?;
    stream.set_read_timeout(Some(CLIENT_TIMEOUT))?;
    stream.set_write_timeout(Some(CLIENT_TIMEOUT))?;
    let name = ServerName::try_from(SERVER_NAME).map_err(io::Error::other)?;
    let conn = ClientConnection::new(config, name).map_err(tls_error)?;
    let mut tls = StreamOwned::new(conn, stream);
    let mut back = Vec::new();
    let mut echoed = 0;
    for message in messages {
        for (i, piece) in message.chunks(PIECE).enumerate() {
            tls.write_all(piece)?;
            tls.flush()?;
            back.resize(piece.len(), 0);
            tls.read_exact(&mut back)?;
            if back != piece {
                let at = i * PIECE + piece.iter().zip(&back).take_while(|(a, b)| a == b).count();
                return Err(io::Error::new(
                    io::ErrorKind::InvalidData,
                    format!(
                        "the echo of a {}-byte message differs at byte {at}",
                        message.len()
                    ),
                ));
            }
            echoed += piece.len() as u64;
        }
    }
    close(&mut tls)?;
    let mut rest = Vec::new();
    tls.read_to_end(&mut rest)?;
    if !rest.is_empty() {
        return Err(io::Error::new(
            io::ErrorKind::InvalidData,
            format!("{} bytes nobody sent came back", rest.len()),
        ));
    }
    Ok(echoed)
}

/// The sizes of the demo's messages, in turn: from one byte to several
/// TLS records (a record holds at most 16 KiB of data).
pub const SIZES: [usize; 7] = [1, 80, 1_500, 16_384, 16_385, 40_000, 100_000];

/// Message `i` of client `client`: a line of text (`client 3 message 7:
/// abc…`) of one of the [`SIZES`], ending in `\n`.
pub fn message(client: usize, i: usize) -> Vec<u8> {
    let size = SIZES[(client + i) % SIZES.len()];
    let head = format!("client {client} message {i}: ");
    let filler = (0..).map(|k| b'a' + (k % 26) as u8);
    let mut m: Vec<u8> = head
        .into_bytes()
        .into_iter()
        .chain(filler)
        .take(size)
        .collect();
    if let Some(last) = m.last_mut() {
        *last = b'\n';
    }
    m
}

/// What a [`demo`] did.
pub type Summary = crate::echo_summary::EchoSummary;

/// Runs the demo inside the calling hub: a fresh certificate, the server
/// on a free loopback port, and `clients` green clients at once, each
/// sending `messages` [`message`]s and checking the echoes.
///
/// # Errors
///
/// When the certificate cannot be made or the server cannot bind.
///
/// # Panics
///
/// Outside `green::run`.
pub fn demo(clients: usize, messages: usize) -> io::Result<Summary> {
    let identity = Identity::self_signed()?;
    let listener = TcpListener::bind("127.0.0.1:0")?;
    let addr = listener.local_addr()?;
    let server_config = identity.server_config()?;
    let server = green::spawn(move || serve(listener, server_config));
    let client_config = identity.client_config()?;
    let start = Instant::now();
    let handles: Vec<_> = (0..clients)
        .map(|c| {
            let config = client_config.clone();
            green::spawn(move || {
                let sent: Vec<_> = (0..messages).map(|i| message(c, i)).collect();
                echo_client(addr, config, sent.iter().map(Vec::as_slice))
                    .map(|bytes| (messages as u64, bytes))
            })
        })
        .collect();
    let mut summary = Summary::new("TLS clients", "byte-exact");
    for handle in handles {
        summary.tally(handle.join());
    }
    summary.elapsed = start.elapsed();
    server.kill();
    Ok(summary)
}
