//! One hub per core serving one port: every hub binds the same address with
//! `SO_REUSEPORT`, the kernel spreads the connections, each hub serves its
//! share with greenlets.

use std::io::{Read, Write};
use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Barrier, OnceLock};
use std::time::Duration;

use green_net::{ListenOptions, TcpStream};

#[test]
fn hubs_share_a_port_and_the_kernel_spreads_connections() {
    const HUBS: usize = 2;
    const CLIENTS: usize = 400;
    let addr: Arc<OnceLock<SocketAddr>> = Arc::new(OnceLock::new());
    let bound = Arc::new(Barrier::new(HUBS));
    let served: Arc<Vec<AtomicUsize>> = Arc::new((0..HUBS).map(|_| AtomicUsize::new(0)).collect());
    let done = Arc::new(AtomicUsize::new(0));

    let (a, b, s, d) = (addr.clone(), bound.clone(), served.clone(), done.clone());
    let per_hub = green::Runtime::new().hubs(HUBS).run(move |hub| {
        let options = ListenOptions::new().reuse_port(true);
        // hub 0 picks the port; the others join it
        let listener = if hub == 0 {
            let l = options.bind("127.0.0.1:0").unwrap();
            a.set(l.local_addr().unwrap()).unwrap();
            l
        } else {
            while a.get().is_none() {
                std::thread::yield_now();
            }
            options.bind(*a.get().unwrap()).unwrap()
        };
        b.wait(); // all listeners are bound before anyone connects
        let addr = *a.get().unwrap();
        let (s2, d2) = (s.clone(), d.clone());
        let counts = s.clone();
        let acceptor = green::spawn(move || {
            for conn in listener.incoming() {
                let mut conn = conn.unwrap();
                s2[hub].fetch_add(1, Ordering::SeqCst);
                green::spawn(move || {
                    let mut buf = [0u8; 8];
                    conn.read_exact(&mut buf).unwrap();
                    conn.write_all(&buf).unwrap();
                });
            }
        });
        if hub == 0 {
            // hub 0 also runs the clients, as greenlets
            let clients: Vec<_> = (0..CLIENTS as u64)
                .map(|i| {
                    green::spawn(move || {
                        let mut c = TcpStream::connect(addr).unwrap();
                        c.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
                        c.write_all(&i.to_le_bytes()).unwrap();
                        let mut back = [0u8; 8];
                        c.read_exact(&mut back).unwrap();
                        assert_eq!(u64::from_le_bytes(back), i);
                    })
                })
                .collect();
            for c in green::joinall(clients) {
                c.unwrap();
            }
            d2.store(1, Ordering::SeqCst);
        }
        // every hub waits for the clients to finish, then stops accepting
        while d2.load(Ordering::SeqCst) == 0 {
            green::sleep(Duration::from_millis(2));
        }
        acceptor.kill();
        counts[hub].load(Ordering::SeqCst)
    });
    assert_eq!(per_hub.iter().sum::<usize>(), CLIENTS);
    assert!(
        per_hub.iter().all(|&n| n > 0),
        "the kernel should spread connections over every hub: {per_hub:?}"
    );
    assert_eq!(done.load(Ordering::SeqCst), 1);
}

/// With hubs pinned to their cores and each listener asking for its CPU's
/// connections (`SO_INCOMING_CPU`), a connection from a client greenlet is
/// accepted by the client's own hub: its first packet is handled on the
/// client's CPU. Needs two CPUs (and Linux 6.1 or later).
#[test]
fn pinned_hubs_get_the_connections_of_their_cpu() {
    const HUBS: usize = 2;
    const CLIENTS: usize = 100;
    if std::thread::available_parallelism().map_or(1, |n| n.get()) < HUBS {
        eprintln!("skipped: fewer than {HUBS} CPUs");
        return;
    }
    let release = std::fs::read_to_string("/proc/sys/kernel/osrelease").unwrap_or_default();
    let mut version = release
        .trim()
        .split(['.', '-'])
        .map(|p| p.parse::<u32>().unwrap_or(0));
    if (version.next().unwrap_or(0), version.next().unwrap_or(0)) < (6, 1) {
        eprintln!("skipped: Linux {release:?} does not steer by SO_INCOMING_CPU (6.1+ does)");
        return;
    }
    let addr: OnceLock<SocketAddr> = OnceLock::new();
    let bound = Barrier::new(HUBS);
    // accepted[server hub][client hub]
    let accepted: [[AtomicUsize; HUBS]; HUBS] = Default::default();
    let total = AtomicUsize::new(0);
    let cpus = green::Runtime::new()
        .hubs(HUBS)
        .pin_to_cores(true)
        .run(|hub| {
            let cpu = green::pinned_cpu().expect("pinned");
            let options = ListenOptions::new().reuse_port(true).incoming_cpu(cpu);
            let listener = if hub == 0 {
                let l = options.bind("127.0.0.1:0").unwrap();
                addr.set(l.local_addr().unwrap()).unwrap();
                bound.wait();
                l
            } else {
                bound.wait(); // the hub thread waits before it has greenlets
                options.bind(*addr.get().unwrap()).unwrap()
            };
            let addr = *addr.get().unwrap();
            let (accepted, total) = (&accepted, &total);
            // Each client sends its hub's number; the server counts whose.
            green::scope(|s| {
                let acceptor = s.spawn(move || {
                    for conn in listener.incoming() {
                        let mut conn = conn.unwrap();
                        let mut who = [0u8];
                        conn.read_exact(&mut who).unwrap();
                        accepted[hub][usize::from(who[0])].fetch_add(1, Ordering::SeqCst);
                        total.fetch_add(1, Ordering::SeqCst);
                        conn.write_all(&who).unwrap();
                    }
                });
                let clients: Vec<_> = (0..CLIENTS)
                    .map(|_| {
                        s.spawn(move || {
                            let mut c = TcpStream::connect(addr).unwrap();
                            c.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
                            c.write_all(&[hub as u8]).unwrap();
                            let mut back = [0u8];
                            c.read_exact(&mut back).unwrap();
                        })
                    })
                    .collect();
                for c in clients {
                    c.join().unwrap();
                }
                // Until every hub's clients are through (or 10 s), keep
                // accepting for them.
                let deadline = std::time::Instant::now() + Duration::from_secs(10);
                while total.load(Ordering::SeqCst) < HUBS * CLIENTS
                    && std::time::Instant::now() < deadline
                {
                    green::sleep(Duration::from_millis(2));
                }
                acceptor.kill();
            });
            cpu
        });
    assert_ne!(cpus[0], cpus[1], "each hub on a CPU of its own");
    let counts: Vec<Vec<usize>> = accepted
        .iter()
        .map(|row| row.iter().map(|n| n.load(Ordering::SeqCst)).collect())
        .collect();
    assert_eq!(
        counts,
        [[CLIENTS, 0], [0, CLIENTS]],
        "accepted[server hub][client hub]: each hub gets its own clients"
    );
}
