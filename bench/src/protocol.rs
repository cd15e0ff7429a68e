//! The two protocols of the server workloads, written once: the server's
//! per-connection code (blocking style for green, may and std; async for
//! tokio, line for line the same) and what the load generator sends and
//! expects back.
//!
//! - **echo**: the client sends 64 bytes, the server sends them back.
//! - **http**: HTTP/1.1 keep-alive. The server reads until `\r\n\r\n`
//!   (bodies are not supported) and answers every complete request with a
//!   fixed 13-byte "Hello, world!"; pipelined requests get their answers in
//!   one write.

use std::io::{Read, Write};

use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// Bytes per echo message.
pub const MESSAGE: usize = 64;

/// The request the load generator sends (what `wrk` sends, give or take
/// headers).
pub const HTTP_REQUEST: &[u8] = b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n";

/// The server's one answer.
pub const HTTP_RESPONSE: &[u8] = b"HTTP/1.1 200 OK\r\nContent-Length: 13\r\n\r\nHello, world!";

/// Largest request head the server buffers; a longer one closes the
/// connection.
const HTTP_BUFFER: usize = 4096;

/// Which protocol a server speaks and the load generator drives.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Proto {
    /// 64-byte echo.
    Echo,
    /// HTTP/1.1 keep-alive hello-world.
    Http,
}

impl Proto {
    /// `echo` or `http`.
    pub fn key(self) -> &'static str {
        match self {
            Proto::Echo => "echo",
            Proto::Http => "http",
        }
    }

    /// The protocol named `key`.
    pub fn from_key(key: &str) -> Option<Proto> {
        [Proto::Echo, Proto::Http]
            .into_iter()
            .find(|p| p.key() == key)
    }

    /// What the client sends per round trip.
    pub fn request(self) -> &'static [u8] {
        match self {
            Proto::Echo => &[7; MESSAGE],
            Proto::Http => HTTP_REQUEST,
        }
    }

    /// The length of the complete answer at the start of `buf`, once it is
    /// all there.
    pub fn response_len(self, buf: &[u8]) -> Option<usize> {
        match self {
            Proto::Echo => (buf.len() >= MESSAGE).then_some(MESSAGE),
            Proto::Http => {
                let head = find_head_end(buf)?;
                let body = std::str::from_utf8(&buf[..head])
                    .ok()?
                    .lines()
                    .find_map(|l| {
                        let (name, value) = l.split_once(':')?;
                        name.eq_ignore_ascii_case("content-length")
                            .then(|| value.trim().parse::<usize>().ok())?
                    })
                    .unwrap_or(0);
                (buf.len() >= head + body).then_some(head + body)
            }
        }
    }

    /// Serves one connection until the peer closes it or an error occurs.
    pub fn serve(self, conn: impl Read + Write) {
        match self {
            Proto::Echo => echo(conn),
            Proto::Http => http(conn),
        }
    }

    /// [`serve`](Self::serve) for tokio.
    pub async fn serve_tokio(self, conn: tokio::net::TcpStream) {
        match self {
            Proto::Echo => echo_tokio(conn).await,
            Proto::Http => http_tokio(conn).await,
        }
    }
}

fn echo(mut conn: impl Read + Write) {
    let mut buf = [0u8; MESSAGE];
    while conn.read_exact(&mut buf).is_ok() {
        if conn.write_all(&buf).is_err() {
            return;
        }
    }
}

async fn echo_tokio(mut conn: tokio::net::TcpStream) {
    let mut buf = [0u8; MESSAGE];
    while conn.read_exact(&mut buf).await.is_ok() {
        if conn.write_all(&buf).await.is_err() {
            return;
        }
    }
}

fn http(mut conn: impl Read + Write) {
    let mut buf = vec![0u8; HTTP_BUFFER];
    let mut filled = 0;
    loop {
        match conn.read(&mut buf[filled..]) {
            Ok(0) | Err(_) => return,
            Ok(n) => filled += n,
        }
        let Some((answers, consumed)) = complete_requests(&buf[..filled]) else {
            return;
        };
        if answers > 0 && conn.write_all(&responses(answers)).is_err() {
            return;
        }
        buf.copy_within(consumed..filled, 0);
        filled -= consumed;
    }
}

async fn http_tokio(mut conn: tokio::net::TcpStream) {
    let mut buf = vec![0u8; HTTP_BUFFER];
    let mut filled = 0;
    loop {
        match conn.read(&mut buf[filled..]).await {
            Ok(0) | Err(_) => return,
            Ok(n) => filled += n,
        }
        let Some((answers, consumed)) = complete_requests(&buf[..filled]) else {
            return;
        };
        if answers > 0 && conn.write_all(&responses(answers)).await.is_err() {
            return;
        }
        buf.copy_within(consumed..filled, 0);
        filled -= consumed;
    }
}

/// The answer to `n` requests: borrowed for one (the usual case), built for
/// pipelined ones.
fn responses(n: usize) -> std::borrow::Cow<'static, [u8]> {
    if n == 1 {
        HTTP_RESPONSE.into()
    } else {
        HTTP_RESPONSE.repeat(n).into()
    }
}

/// The number of complete request heads at the start of `buf` and the bytes
/// they take; `None` when `buf` is full without one (a head too long).
fn complete_requests(buf: &[u8]) -> Option<(usize, usize)> {
    let (mut count, mut consumed) = (0, 0);
    while let Some(end) = find_head_end(&buf[consumed..]) {
        count += 1;
        consumed += end;
    }
    if count == 0 && buf.len() == HTTP_BUFFER {
        return None;
    }
    Some((count, consumed))
}

/// The length of the head at the start of `buf`, `\r\n\r\n` included.
fn find_head_end(buf: &[u8]) -> Option<usize> {
    buf.windows(4).position(|w| w == b"\r\n\r\n").map(|i| i + 4)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_pipelined_requests() {
        let two = [HTTP_REQUEST, HTTP_REQUEST, b"GET /"].concat();
        assert_eq!(complete_requests(&two), Some((2, 2 * HTTP_REQUEST.len())));
        assert_eq!(complete_requests(b"GET / HTTP/1.1\r\n"), Some((0, 0)));
        assert_eq!(complete_requests(&[b'x'; HTTP_BUFFER]), None);
    }

    #[test]
    fn finds_complete_responses() {
        let r = HTTP_RESPONSE;
        assert_eq!(Proto::Http.response_len(r), Some(r.len()));
        assert_eq!(Proto::Http.response_len(&r[..r.len() - 1]), None);
        assert_eq!(Proto::Echo.response_len(&[0; 63]), None);
        assert_eq!(Proto::Echo.response_len(&[0; 64]), Some(64));
    }
}
