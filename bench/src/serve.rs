//! The server side of the echo and http workloads: this binary re-run as
//! `--serve <echo|http> <contender>`, one process per measurement. It binds
//! `127.0.0.1:0`, prints `LISTENING <addr>` and serves until killed, one
//! task (greenlet, tokio task, may coroutine, thread) per connection running
//! [`Proto::serve`] or [`Proto::serve_tokio`].
//!
//! Every listener has a backlog of [`BACKLOG`], except may's, whose `bind`
//! fixes it at 1,024.
//!
//! One-core contenders pin themselves to CPU 0 (the load generator runs on
//! the last CPU); the N-core ones use every CPU, as they would in
//! production (may also pins its workers itself, one per CPU, by default).
//! std's acceptor thread is a real-time one when allowed
//! ([`sys::realtime_thread`]): among 10,000 connection threads on one CPU,
//! an ordinary one did not accept the load generator's connections in time.

use std::io::Write as _;
use std::net::SocketAddr;
use std::sync::{Barrier, Mutex};

use crate::contender::Contender;
use crate::peers;
use crate::protocol::Proto;
use crate::sys;

/// Accept backlog of every server: enough for the load generator's burst of
/// connects, 10,000 at most, even while the server is slow to accept them
/// (std's, which starts a thread for each). The kernel caps it at
/// `net.core.somaxconn`, which [`net::sweep`](crate::net::sweep) raises to
/// this for its servers when it can.
pub const BACKLOG: i32 = 16_384;

/// Open files a server asks for: the largest connection count and room.
pub const NOFILE: u64 = 10_000 + 1_000;

/// The child's entry point; never returns.
pub fn child_main(args: &[String]) -> ! {
    let (Some(proto), Some(who)) = (
        args.first().and_then(|p| Proto::from_key(p)),
        args.get(1).and_then(|c| Contender::from_key(c)),
    ) else {
        eprintln!("usage: green-bench --serve <echo|http> <contender>");
        std::process::exit(2);
    };
    if let Err(e) = sys::raise_nofile(NOFILE) {
        eprintln!("--serve: cannot raise RLIMIT_NOFILE: {e}");
    }
    if !who.multi_core() {
        sys::pin_to_cpu(0);
    }
    let n = sys::cpus();
    match who {
        Contender::Green1 => {
            green::run(|| serve_green(proto, &Hubs::new(1), 0));
        }
        Contender::GreenN => {
            let hubs = Hubs::new(n);
            green::Runtime::new()
                .hubs(n)
                .run(|hub| serve_green(proto, &hubs, hub));
        }
        Contender::TokioCt => peers::tokio_runtime().block_on(serve_tokio(proto)),
        Contender::TokioMt => peers::tokio_runtime_multi(n).block_on(serve_tokio(proto)),
        Contender::May1 => serve_may(proto, 1),
        Contender::MayN => serve_may(proto, n),
        Contender::Std => {
            // Ten thousand connection threads share CPU 0 with the acceptor,
            // which then gets too little of it to accept the load
            // generator's connections before it gives up on them. A real-time
            // acceptor takes the CPU whenever a connection waits; its
            // connection threads are ordinary ones.
            if let Err(e) = sys::realtime_thread() {
                eprintln!("--serve std: the acceptor stays an ordinary thread ({e})");
            }
            let listener = std_listener();
            announce(listener.local_addr().expect("local_addr"));
            for conn in listener.incoming() {
                let Ok(conn) = conn else { continue };
                let _ = conn.set_nodelay(true);
                // A thread that cannot start drops its connection, which the
                // load generator reports.
                let _ = std::thread::Builder::new().spawn(move || proto.serve(conn));
            }
        }
    }
    std::process::exit(0);
}

/// What the hubs of one green server share: the address hub 0 bound (the
/// others bind it too), and a barrier so that `LISTENING` is printed only
/// once every hub listens.
pub struct Hubs {
    addr: Mutex<Option<SocketAddr>>,
    bound: Barrier,
    listening: Barrier,
}

impl Hubs {
    /// For `n` hubs.
    pub fn new(n: usize) -> Hubs {
        Hubs {
            addr: Mutex::new(None),
            bound: Barrier::new(n),
            listening: Barrier::new(n),
        }
    }
}

/// One hub's server: its own `SO_REUSEPORT` listener on the shared address,
/// a greenlet per connection.
fn serve_green(proto: Proto, hubs: &Hubs, hub: usize) {
    let listener = green_listener(hubs, hub, false);
    if hub == 0 {
        announce(listener.local_addr().expect("local_addr"));
    }
    for conn in listener.incoming() {
        let Ok(conn) = conn else { continue };
        let _ = conn.set_nodelay(true);
        green::spawn(move || proto.serve(conn));
    }
}

/// Hub `hub`'s `SO_REUSEPORT` listener on the address hub 0 binds; returns
/// once every hub of `hubs` listens. With `steer`, a pinned hub asks for the
/// connections whose first packet its CPU handles (`SO_INCOMING_CPU`). The
/// barriers block the hub thread, which is fine before it has any greenlet
/// to run.
pub fn green_listener(hubs: &Hubs, hub: usize, steer: bool) -> green_net::TcpListener {
    let mut options = green_net::ListenOptions::new()
        .reuse_port(true)
        .backlog(BACKLOG);
    if let (true, Some(cpu)) = (steer, green::pinned_cpu()) {
        options = options.incoming_cpu(cpu);
    }
    let listener = if hub == 0 {
        let l = options.bind("127.0.0.1:0").expect("bind");
        *hubs.addr.lock().expect("lock") = Some(l.local_addr().expect("local_addr"));
        hubs.bound.wait();
        l
    } else {
        hubs.bound.wait();
        let addr = hubs.addr.lock().expect("lock").expect("hub 0 bound");
        options.bind(addr).expect("bind the shared port")
    };
    hubs.listening.wait();
    listener
}

async fn serve_tokio(proto: Proto) {
    let listener = std_listener();
    listener.set_nonblocking(true).expect("set_nonblocking");
    let listener = tokio::net::TcpListener::from_std(listener).expect("register");
    announce(listener.local_addr().expect("local_addr"));
    loop {
        let Ok((conn, _)) = listener.accept().await else {
            continue;
        };
        let _ = conn.set_nodelay(true);
        tokio::spawn(proto.serve_tokio(conn));
    }
}

fn serve_may(proto: Proto, workers: usize) {
    peers::may_workers(workers);
    let listener = may::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    announce(listener.local_addr().expect("local_addr"));
    let accept = peers::may_go(move || {
        for conn in listener.incoming() {
            let Ok(conn) = conn else { continue };
            let _ = conn.set_nodelay(true);
            peers::may_go(move || proto.serve(conn));
        }
    });
    let _ = accept.join();
}

/// A std listener on `127.0.0.1:0` with std's options and our backlog.
pub fn std_listener() -> std::net::TcpListener {
    let socket =
        socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::STREAM, None).expect("socket");
    socket.set_reuse_address(true).expect("SO_REUSEADDR");
    socket
        .bind(&SocketAddr::from(([127, 0, 0, 1], 0)).into())
        .expect("bind");
    socket.listen(BACKLOG).expect("listen");
    socket.into()
}

fn announce(addr: SocketAddr) {
    println!("LISTENING {addr}");
    let _ = std::io::stdout().flush();
}
