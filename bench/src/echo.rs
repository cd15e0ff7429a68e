//! Measurement 4, **echo**: TCP echo on loopback, 64-byte messages, at 100
//! and 1,000 connections: round trips per second and p50/p99 latency.
//!
//! Each server runs in a child process of its own (this binary, re-run with
//! `--serve-echo KIND`), pinned to the first CPU; the load generator (green
//! clients on one hub, the same for every server) runs here, pinned to the
//! second. Servers: green (one hub, a greenlet per connection, green-net)
//! and std (a thread per connection), the same blocking-style code.
//!
//! Next to each figure: the server's and the client's CPU use during the
//! measured window (a saturated client hides the server's speed) and the
//! server's peak resident memory.

use std::cell::RefCell;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::SocketAddr;
use std::process::{Child, Command, Stdio};
use std::rc::Rc;
use std::time::{Duration, Instant};

use crate::Plan;

const MESSAGE: usize = 64;

/// The servers measured.
const SERVERS: [&str; 2] = ["green", "std"];

/// Runs the measurement; returns the markdown section.
pub fn run(plan: &Plan) -> String {
    let window = if plan.quick {
        Duration::from_secs(1)
    } else {
        Duration::from_secs(3)
    };
    let mut out = String::from(
        "### 4. Echo, 64-byte round trips on loopback\n\n\
         | server | connections | round trips/s | vs green | p50 | p99 | server CPU | client CPU | server peak RSS |\n\
         | --- | --: | --: | --: | --: | --: | --: | --: | --: |\n",
    );
    for connections in [100usize, 1000] {
        let mut green_rate = None;
        for kind in SERVERS {
            let row = match measure(kind, connections, window) {
                Ok(m) => {
                    let rate = m.round_trips as f64 / m.window.as_secs_f64();
                    let base = *green_rate.get_or_insert(rate);
                    format!(
                        "| {kind} | {connections} | {rate:.0} | {:.2}× | {:.0?} | {:.0?} | {:.0}% | {:.0}% | {} MiB |\n",
                        rate / base,
                        m.p50,
                        m.p99,
                        m.server_cpu * 100.0,
                        m.client_cpu * 100.0,
                        m.server_peak_kib / 1024
                    )
                }
                Err(e) => format!("| {kind} | {connections} | failed: {e} | | | | | | |\n"),
            };
            out.push_str(&row);
        }
    }
    out.push_str(&format!(
        "\nEach figure: {:.0?} after all connections are up. Server pinned to CPU 0, load \
         (green clients, one hub) to CPU 1 when there are two. CPU is the share of one \
         core used in the window.\n",
        window
    ));
    out
}

struct Measured {
    round_trips: u64,
    window: Duration,
    p50: Duration,
    p99: Duration,
    server_cpu: f64,
    client_cpu: f64,
    server_peak_kib: u64,
}

/// Kills the server child when dropped.
struct Server(Child);

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn measure(kind: &str, connections: usize, window: Duration) -> Result<Measured, String> {
    let exe = std::env::current_exe().map_err(|e| e.to_string())?;
    let mut child = Command::new(exe)
        .args(["--serve-echo", kind])
        .stdout(Stdio::piped())
        .spawn()
        .map_err(|e| e.to_string())?;
    let stdout = child.stdout.take().ok_or("no stdout")?;
    let server = Server(child);
    let mut line = String::new();
    BufReader::new(stdout)
        .read_line(&mut line)
        .map_err(|e| e.to_string())?;
    let addr: SocketAddr = line
        .trim()
        .strip_prefix("LISTENING ")
        .and_then(|a| a.parse().ok())
        .ok_or_else(|| format!("the server said {line:?}"))?;
    pin_to_cpu(1);
    let pid = server.0.id();
    let result = green::run(|| load(addr, connections, window, pid));
    drop(server);
    result
}

/// Opens `connections`, then runs round trips for `window` on all of them.
fn load(
    addr: SocketAddr,
    connections: usize,
    window: Duration,
    pid: u32,
) -> Result<Measured, String> {
    let connecting = Rc::new(green::lock::Semaphore::new(128));
    let go = Rc::new(green::event::Event::new());
    let latencies = Rc::new(RefCell::new(Vec::<u32>::new()));
    let stop_at = Rc::new(RefCell::new(None::<Instant>));
    let ready = Rc::new(RefCell::new(0usize));
    let clients: Vec<_> = (0..connections)
        .map(|_| {
            let (connecting, go, latencies, stop_at, ready) = (
                connecting.clone(),
                go.clone(),
                latencies.clone(),
                stop_at.clone(),
                ready.clone(),
            );
            green::spawn(move || -> Result<(), String> {
                let conn = {
                    let _slot = connecting.acquire();
                    green_net::TcpStream::connect(addr).map_err(|e| e.to_string())?
                };
                conn.set_nodelay(true).map_err(|e| e.to_string())?;
                *ready.borrow_mut() += 1;
                go.wait();
                let stop = stop_at.borrow().expect("set before go");
                let mut mine = Vec::new();
                let out = [7u8; MESSAGE];
                let mut back = [0u8; MESSAGE];
                let (mut r, mut w) = (&conn, &conn);
                while Instant::now() < stop {
                    let t = Instant::now();
                    w.write_all(&out).map_err(|e| e.to_string())?;
                    r.read_exact(&mut back).map_err(|e| e.to_string())?;
                    mine.push(u32::try_from(t.elapsed().as_micros()).unwrap_or(u32::MAX));
                }
                latencies.borrow_mut().extend(mine);
                Ok(())
            })
        })
        .collect();
    while *ready.borrow() < connections {
        if clients.iter().any(|c| c.is_finished()) {
            break; // one failed to connect: its error comes out below
        }
        green::sleep(Duration::from_millis(5));
    }
    let (server_before, client_before) = (cpu_ticks(pid), cpu_ticks(std::process::id()));
    let started = Instant::now();
    *stop_at.borrow_mut() = Some(started + window);
    go.set();
    for c in clients {
        c.join().map_err(|e| format!("{e:?}"))??;
    }
    let elapsed = started.elapsed();
    let (server_after, client_after) = (cpu_ticks(pid), cpu_ticks(std::process::id()));
    let hz = ticks_per_second();
    let share = |a: u64, b: u64| (b.saturating_sub(a)) as f64 / hz / elapsed.as_secs_f64();
    let mut lat = latencies.take();
    lat.sort_unstable();
    let pick = |q: f64| {
        let i = ((lat.len() as f64 * q).ceil() as usize).clamp(1, lat.len().max(1)) - 1;
        Duration::from_micros(u64::from(lat.get(i).copied().unwrap_or(0)))
    };
    Ok(Measured {
        round_trips: lat.len() as u64,
        window: elapsed,
        p50: pick(0.50),
        p99: pick(0.99),
        server_cpu: share(server_before, server_after),
        client_cpu: share(client_before, client_after),
        server_peak_kib: peak_rss_kib(pid),
    })
}

/// The child side: `--serve-echo green|std`. Prints `LISTENING addr`, then
/// echoes until killed.
pub fn child_main(args: &[String]) -> ! {
    pin_to_cpu(0);
    let kind = args.first().map_or("", String::as_str);
    match kind {
        "green" => green::run(|| {
            let listener = green_net::ListenOptions::new()
                .backlog(4096)
                .bind("127.0.0.1:0")
                .expect("bind");
            announce(listener.local_addr().expect("addr"));
            for conn in listener.incoming() {
                let Ok(mut conn) = conn else { continue };
                green::spawn(move || echo(&mut conn));
            }
        }),
        "std" => {
            let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
            announce(listener.local_addr().expect("addr"));
            for conn in listener.incoming() {
                let Ok(mut conn) = conn else { continue };
                std::thread::spawn(move || echo(&mut conn));
            }
        }
        other => eprintln!("--serve-echo: unknown server {other:?}"),
    }
    std::process::exit(0);
}

fn announce(addr: SocketAddr) {
    println!("LISTENING {addr}");
    let _ = std::io::stdout().flush();
}

/// The server's per-connection code, the same for both servers.
fn echo(conn: &mut (impl Read + Write)) {
    let mut buf = [0u8; MESSAGE];
    while conn.read_exact(&mut buf).is_ok() {
        if conn.write_all(&buf).is_err() {
            return;
        }
    }
}

fn pin_to_cpu(cpu: usize) {
    if std::thread::available_parallelism().map_or(1, |n| n.get()) < 2 {
        return;
    }
    // SAFETY: CPU_ZERO/CPU_SET write into the zeroed set we own, and
    // sched_setaffinity only reads it.
    unsafe {
        let mut set: libc::cpu_set_t = std::mem::zeroed();
        libc::CPU_ZERO(&mut set);
        libc::CPU_SET(cpu, &mut set);
        libc::sched_setaffinity(0, std::mem::size_of::<libc::cpu_set_t>(), &set);
    }
}

/// utime + stime of a process, in clock ticks.
fn cpu_ticks(pid: u32) -> u64 {
    let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else {
        return 0;
    };
    let Some(rest) = stat.rfind(')').map(|i| &stat[i + 1..]) else {
        return 0;
    };
    let fields: Vec<&str> = rest.split_whitespace().collect();
    // after the command: state is field 0; utime and stime are 11 and 12
    let get = |i: usize| {
        fields
            .get(i)
            .and_then(|f| f.parse::<u64>().ok())
            .unwrap_or(0)
    };
    get(11) + get(12)
}

fn ticks_per_second() -> f64 {
    // SAFETY: sysconf has no memory-safety preconditions.
    let hz = unsafe { libc::sysconf(libc::_SC_CLK_TCK) };
    if hz > 0 {
        hz as f64
    } else {
        100.0
    }
}

fn peak_rss_kib(pid: u32) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmHWM:"))
                .and_then(|l| l.split_whitespace().nth(1)?.parse().ok())
        })
        .unwrap_or(0)
}
