//! [`StreamServer`]: gevent's `StreamServer`. One greenlet accepts; each
//! connection gets a greenlet of its own running the user's handler.

use std::cell::{Cell, RefCell};
use std::collections::BTreeMap;
use std::fmt;
use std::io;
use std::net::SocketAddr;
use std::rc::Rc;
use std::sync::PoisonError;
use std::time::Duration;

use green::sync::{Condvar, Mutex, MutexGuard};
use green::{Greenlet, GreenletId, JoinHandle};

use crate::addr::ToSocketAddrs;
use crate::tcp::{TcpListener, TcpStream};

/// The first pause after an accept error that is not the peer's doing
/// (`EMFILE`, `ENFILE`, `ENOBUFS`, `ENOMEM`…), counting the one the accept
/// itself made ([`crate::accept`]); it doubles up to [`MAX_BACKOFF`] while
/// the errors go on.
const MIN_BACKOFF: Duration = crate::accept::OUT_OF_RESOURCES_PAUSE;
const MAX_BACKOFF: Duration = Duration::from_secs(1);

/// Accepts in a row before the acceptor lets the other greenlets run
/// (gevent's `max_accept`).
const MAX_ACCEPT: u32 = 100;

/// What a [`StreamServer::serve_forever`] that is unwound (killed, or a
/// timeout fired) gives its handlers before killing them (gevent's
/// `stop_timeout`).
const STOP_TIMEOUT: Duration = Duration::from_secs(1);

/// A TCP server that runs a handler in a greenlet of its own for each
/// connection, like gevent's `StreamServer`.
///
/// The handler is any `FnMut(TcpStream, SocketAddr) + Clone`: each
/// connection's greenlet gets its own clone (a closure that captures only
/// `Rc`s and `Copy` values is `Clone`), so state shared by all connections
/// goes in an `Rc`. Its greenlet may block freely (read, write, sleep):
/// only that connection waits.
///
/// [`start`](Self::start) spawns the accepting greenlet and returns a
/// [`ServerHandle`] that counts connections and stops the server.
///
/// Accept errors never stop the server: errors about one connection
/// (`ECONNABORTED`, `EPROTO`…) are skipped, and running out of file
/// descriptors or memory (`EMFILE`, `ENFILE`, `ENOBUFS`, `ENOMEM`) is
/// reported on stderr once and retried after a pause that grows from 5 ms to
/// 1 s, so the server recovers when descriptors are freed instead of spinning.
///
/// # Panics
///
/// [`start`](Self::start) and [`serve_forever`](Self::serve_forever) panic
/// outside [`green::run`].
///
/// # Examples
///
/// ```
/// use green_net::{StreamServer, TcpStream};
/// use std::io::{Read, Write};
/// use std::time::Duration;
///
/// green::run(|| {
///     let server = StreamServer::bind("127.0.0.1:0").unwrap().max_connections(100);
///     let handle = server.start(|mut conn: TcpStream, _peer| {
///         let mut buf = [0; 1024];
///         while let Ok(n @ 1..) = conn.read(&mut buf) {
///             if conn.write_all(&buf[..n]).is_err() {
///                 break;
///             }
///         }
///     });
///
///     let mut client = TcpStream::connect(handle.local_addr()).unwrap();
///     client.write_all(b"ping").unwrap();
///     let mut reply = [0; 4];
///     client.read_exact(&mut reply).unwrap();
///     assert_eq!(&reply, b"ping");
///
///     drop(client); // the handler sees EOF and returns
///     handle.stop(Duration::from_secs(1));
///     assert_eq!(handle.connections(), 0);
/// });
/// ```
#[derive(Debug)]
pub struct StreamServer {
    listener: TcpListener,
    max_connections: Option<usize>,
}

impl StreamServer {
    /// Binds a listener to `addr`, as [`TcpListener::bind`] does.
    ///
    /// # Errors
    ///
    /// As [`TcpListener::bind`]'s.
    ///
    /// # Examples
    ///
    /// ```
    /// let server = green_net::StreamServer::bind("127.0.0.1:0").unwrap();
    /// assert_ne!(server.local_addr().unwrap().port(), 0);
    /// ```
    pub fn bind<A: ToSocketAddrs>(addr: A) -> io::Result<StreamServer> {
        TcpListener::bind(addr).map(StreamServer::from)
    }

    /// At most `max` handlers run at once; while they do, the server stops
    /// accepting (connections wait in the kernel's backlog), like gevent's
    /// server with a pool.
    ///
    /// # Panics
    ///
    /// Panics if `max` is 0.
    ///
    /// # Examples
    ///
    /// ```
    /// let server = green_net::StreamServer::bind("127.0.0.1:0").unwrap().max_connections(1000);
    /// # drop(server);
    /// ```
    pub fn max_connections(mut self, max: usize) -> StreamServer {
        assert!(
            max > 0,
            "StreamServer::max_connections: the cap must be at least 1"
        );
        self.max_connections = Some(max);
        self
    }

    /// The address the server listens on.
    ///
    /// # Errors
    ///
    /// As [`TcpListener::local_addr`]'s.
    ///
    /// # Examples
    ///
    /// ```
    /// let server = green_net::StreamServer::bind("127.0.0.1:0").unwrap();
    /// assert!(server.local_addr().unwrap().ip().is_loopback());
    /// ```
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        self.listener.local_addr()
    }

    /// Spawns the greenlet that accepts connections and returns at once.
    ///
    /// # Panics
    ///
    /// Panics outside [`green::run`], or if the listener has no local address.
    ///
    /// # Examples
    ///
    /// ```
    /// use green_net::{StreamServer, TcpStream};
    /// use std::io::Write;
    /// use std::time::Duration;
    ///
    /// green::run(|| {
    ///     let handle = StreamServer::bind("127.0.0.1:0")
    ///         .unwrap()
    ///         .start(|mut conn: TcpStream, _| conn.write_all(b"hi\n").unwrap());
    ///     let _client = TcpStream::connect(handle.local_addr()).unwrap();
    ///     handle.stop(Duration::from_secs(1));
    /// });
    /// ```
    pub fn start<F>(self, handler: F) -> ServerHandle
    where
        F: FnMut(TcpStream, SocketAddr) + Clone + 'static,
    {
        let addr = self
            .listener
            .local_addr()
            .expect("StreamServer::start: the listener has no local address");
        let shared = Rc::new(Shared {
            addr,
            max: self.max_connections,
            handlers: RefCell::new(BTreeMap::new()),
            acceptor: RefCell::new(None),
            slot_waiter: RefCell::new(None),
            idle: Mutex::new(()),
            idle_changed: Condvar::new(),
            stopped: Cell::new(false),
        });
        let s = shared.clone();
        let listener = self.listener;
        let acceptor = green::Builder::new()
            .name(format!("StreamServer({addr})"))
            .spawn(move || accept_loop(&s, &listener, handler))
            .unwrap_or_else(|e| panic!("StreamServer::start: cannot spawn its greenlet: {e}"));
        *shared.acceptor.borrow_mut() = Some(acceptor);
        ServerHandle { shared }
    }

    /// [`start`](Self::start)s the server and waits until it is stopped
    /// (through a [`ServerHandle`] clone given to a handler, say) and its
    /// handlers are done, like gevent's `serve_forever`. As gevent's, it
    /// stops the server if the wait is cut short (the greenlet killed, or a
    /// [`green::timeout`] fired), giving the handlers a second to finish.
    ///
    /// # Panics
    ///
    /// Panics outside [`green::run`].
    ///
    /// # Examples
    ///
    /// ```no_run
    /// use green_net::{StreamServer, TcpStream};
    /// use std::io::Write;
    ///
    /// green::run(|| {
    ///     StreamServer::bind("127.0.0.1:8080")
    ///         .unwrap()
    ///         .serve_forever(|mut conn: TcpStream, _| {
    ///             let _ = conn.write_all(b"hello\n");
    ///         });
    /// });
    /// ```
    pub fn serve_forever<F>(self, handler: F)
    where
        F: FnMut(TcpStream, SocketAddr) + Clone + 'static,
    {
        /// Stops the server as the wait ends: if it was cut short, the
        /// server is still up; if not, `stop` finds nothing left to do.
        struct StopAtEnd(ServerHandle);
        impl Drop for StopAtEnd {
            fn drop(&mut self) {
                self.0.stop(STOP_TIMEOUT);
            }
        }
        StopAtEnd(self.start(handler)).0.wait();
    }
}

impl From<TcpListener> for StreamServer {
    fn from(listener: TcpListener) -> StreamServer {
        StreamServer {
            listener,
            max_connections: None,
        }
    }
}

/// What the accepting greenlet, the handlers and the handles share.
struct Shared {
    addr: SocketAddr,
    max: Option<usize>,
    /// Live handlers, in the order they were spawned; each stays until it
    /// ends (see `Done`), also while `stop` kills it.
    handlers: RefCell<BTreeMap<GreenletId, Rc<JoinHandle<()>>>>,
    acceptor: RefCell<Option<JoinHandle<()>>>,
    /// The acceptor, parked until a handler finishes (at the cap).
    slot_waiter: RefCell<Option<Greenlet>>,
    /// Greenlets in `stop` and `wait` wait on `idle_changed` (with `idle`,
    /// which guards nothing else) until no handler is left. A lock's wait,
    /// unlike `park`, leaves the caller's park token alone.
    idle: Mutex<()>,
    idle_changed: Condvar,
    stopped: Cell<bool>,
}

impl Shared {
    /// Live handlers other than the calling greenlet.
    fn others(&self) -> usize {
        let me = green::current().id();
        self.handlers
            .borrow()
            .keys()
            .filter(|&&id| id != me)
            .count()
    }

    fn handler_done(&self, id: GreenletId) {
        self.handlers.borrow_mut().remove(&id);
        if let Some(acceptor) = self.slot_waiter.borrow_mut().take() {
            acceptor.unpark();
        }
        self.wake_idle_waiters();
    }

    /// Lets greenlets in `stop` and `wait` re-check their condition.
    fn wake_idle_waiters(&self) {
        self.idle_changed.notify_all();
    }
}

/// Locks `idle`, which guards nothing: a panic while it was held leaves
/// nothing half-done.
fn lock(idle: &Mutex<()>) -> MutexGuard<'_, ()> {
    idle.lock().unwrap_or_else(PoisonError::into_inner)
}

fn accept_loop<F>(shared: &Rc<Shared>, listener: &TcpListener, handler: F)
where
    F: FnMut(TcpStream, SocketAddr) + Clone + 'static,
{
    let mut backoff = MIN_BACKOFF;
    let mut reported = false;
    let mut in_a_row = 0;
    loop {
        while shared
            .max
            .is_some_and(|max| shared.handlers.borrow().len() >= max)
        {
            *shared.slot_waiter.borrow_mut() = Some(green::current());
            green::park();
        }
        let failed = match listener.accept() {
            Ok((stream, peer)) => {
                backoff = MIN_BACKOFF;
                reported = false;
                spawn_handler(shared, handler.clone(), stream, peer);
                in_a_row += 1;
                if in_a_row == MAX_ACCEPT {
                    in_a_row = 0;
                    green::yield_now();
                }
                continue;
            }
            // A listener the user set non-blocking: wait for the next
            // connection as with any other; a wait that fails backs off.
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                in_a_row = 0;
                match green::io::wait_readable(listener, None) {
                    Ok(()) => continue,
                    Err(e) => e,
                }
            }
            Err(e) if is_about_one_connection(&e) => continue,
            Err(e) => e,
        };
        if !reported {
            eprintln!(
                "green_net::StreamServer({}): accept failed: {failed}; retrying with backoff",
                shared.addr
            );
            reported = true;
        }
        // The accept paused already for want of resources: only the rest of
        // this round's back-off is left.
        let paused = if crate::accept::is_out_of_resources(&failed) {
            crate::accept::OUT_OF_RESOURCES_PAUSE
        } else {
            Duration::ZERO
        };
        green::sleep(backoff.saturating_sub(paused));
        backoff = (backoff * 2).min(MAX_BACKOFF);
    }
}

/// Errors that concern one connection only: accept the next one at once.
fn is_about_one_connection(e: &io::Error) -> bool {
    matches!(
        e.kind(),
        io::ErrorKind::ConnectionAborted
            | io::ErrorKind::ConnectionReset
            | io::ErrorKind::Interrupted
    ) || matches!(
        e.raw_os_error(),
        Some(libc::EPROTO | libc::EPERM | libc::ENETDOWN | libc::EHOSTUNREACH)
    )
}

fn spawn_handler<F>(shared: &Rc<Shared>, mut handler: F, stream: TcpStream, peer: SocketAddr)
where
    F: FnMut(TcpStream, SocketAddr) + 'static,
{
    /// Unregisters the handler however it ends: returns, panics, is killed.
    struct Done(Rc<Shared>, GreenletId);
    impl Drop for Done {
        fn drop(&mut self) {
            self.0.handler_done(self.1);
        }
    }
    let s = shared.clone();
    let handle = green::spawn(move || {
        let _done = Done(s, green::current().id());
        handler(stream, peer);
    });
    shared
        .handlers
        .borrow_mut()
        .insert(handle.id(), Rc::new(handle));
}

/// Controls a started [`StreamServer`]. Clones control the same server.
///
/// # Examples
///
/// ```
/// use green_net::{StreamServer, TcpStream};
/// use std::io::Read;
/// use std::time::Duration;
///
/// green::run(|| {
///     // Handlers that never end on their own.
///     let handle = StreamServer::bind("127.0.0.1:0").unwrap().start(|mut conn: TcpStream, _| {
///         let _ = conn.read(&mut [0; 1]);
///     });
///     let client = TcpStream::connect(handle.local_addr()).unwrap();
///     green::sleep(Duration::from_millis(10));
///     assert_eq!(handle.connections(), 1);
///     handle.stop(Duration::from_millis(10)); // waits 10 ms, then kills it
///     assert_eq!(handle.connections(), 0);
///     drop(client);
/// });
/// ```
#[derive(Clone)]
pub struct ServerHandle {
    shared: Rc<Shared>,
}

impl ServerHandle {
    /// The address the server listens on.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    /// green::run(|| {
    ///     let handle = green_net::StreamServer::bind("127.0.0.1:0").unwrap().start(|_, _| {});
    ///     assert!(handle.local_addr().ip().is_loopback());
    ///     handle.stop(Duration::ZERO);
    /// });
    /// ```
    pub fn local_addr(&self) -> SocketAddr {
        self.shared.addr
    }

    /// The number of connections whose handler is running.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    /// green::run(|| {
    ///     let handle = green_net::StreamServer::bind("127.0.0.1:0").unwrap().start(|_, _| {});
    ///     assert_eq!(handle.connections(), 0);
    ///     handle.stop(Duration::ZERO);
    /// });
    /// ```
    pub fn connections(&self) -> usize {
        self.shared.handlers.borrow().len()
    }

    /// Whether [`stop`](Self::stop) was called.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    /// green::run(|| {
    ///     let handle = green_net::StreamServer::bind("127.0.0.1:0").unwrap().start(|_, _| {});
    ///     handle.stop(Duration::ZERO);
    ///     assert!(handle.is_stopped());
    /// });
    /// ```
    pub fn is_stopped(&self) -> bool {
        self.shared.stopped.get()
    }

    /// Stops the server gracefully: closes the listening socket at once (new
    /// connections are refused), gives the running handlers up to `grace`
    /// to finish, then kills those still running, all at once (they unwind
    /// together, closing their connections), and returns once they are gone;
    /// cut short (a [`green::timeout`], say), it leaves those still running
    /// counted in [`connections`](Self::connections), for the next stop. Called from a handler,
    /// it does not wait for that handler itself. Calling it again only waits
    /// and kills again.
    ///
    /// # Examples
    ///
    /// ```
    /// use green_net::{StreamServer, TcpStream};
    /// use std::time::Duration;
    ///
    /// green::run(|| {
    ///     let handle = StreamServer::bind("127.0.0.1:0").unwrap().start(|_, _| {});
    ///     let addr = handle.local_addr();
    ///     handle.stop(Duration::from_secs(1));
    ///     let refused = TcpStream::connect(addr).unwrap_err();
    ///     assert_eq!(refused.kind(), std::io::ErrorKind::ConnectionRefused);
    /// });
    /// ```
    pub fn stop(&self, grace: Duration) {
        let shared = &self.shared;
        shared.stopped.set(true);
        let acceptor = shared.acceptor.borrow_mut().take();
        if let Some(acceptor) = acceptor {
            acceptor.kill(); // drops the listener
        }
        shared.wake_idle_waiters();
        // `idle` guards nothing, so a poisoned wait is as good as any.
        drop(
            shared
                .idle_changed
                .wait_timeout_while(lock(&shared.idle), grace, |()| shared.others() > 0),
        );
        // Killed together, each once, as gevent's pool.kill does; they stay
        // in `handlers` until they end, so a stop cut short (a timeout, a
        // kill of the caller) leaves the ones still running counted, and
        // the next stop kills them.
        let me = green::current().id();
        let rest: Vec<Rc<JoinHandle<()>>> = shared
            .handlers
            .borrow()
            .iter()
            .filter(|&(&id, _)| id != me)
            .map(|(_, h)| h.clone())
            .collect();
        green::killall(rest.iter().map(|h| &**h));
        shared.wake_idle_waiters();
    }

    /// Waits until the server is stopped and its handlers (other than the
    /// calling one) are done.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    /// green::run(|| {
    ///     let handle = green_net::StreamServer::bind("127.0.0.1:0").unwrap().start(|_, _| {});
    ///     let h = handle.clone();
    ///     green::spawn(move || h.stop(Duration::ZERO));
    ///     handle.wait(); // returns once the other greenlet stopped it
    ///     assert!(handle.is_stopped());
    /// });
    /// ```
    pub fn wait(&self) {
        let shared = &self.shared;
        drop(shared.idle_changed.wait_while(lock(&shared.idle), |()| {
            !shared.stopped.get() || shared.others() > 0
        }));
    }
}

impl fmt::Debug for ServerHandle {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ServerHandle")
            .field("addr", &self.shared.addr)
            .field("connections", &self.connections())
            .field("stopped", &self.is_stopped())
            .finish()
    }
}
