//! The Rust book's chapter 20 web server, on std and on green: the same
//! bytes on the wire, the same graceful shutdown, sources that differ only
//! in their `use` lines and `main`'s wrapper, and on green 100 concurrent
//! `/sleep` requests that take about one sleep on one OS thread.
//!
//! How the examples are run: as `tests/seed.rs` explains, Cargo tells
//! integration tests where the package's binaries are but not its
//! examples. This test asks Cargo to build both examples with the profile
//! it was itself built with (`cargo build --example … --message-format
//! json`, a no-op when they are up to date) and takes each executable's
//! path from Cargo's answer, then runs it directly, so that the server's
//! process id is the example's, not Cargo's.

use std::collections::HashSet;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Barrier, OnceLock};
use std::time::{Duration, Instant};

mod util;

/// Building the examples may take a while on a cold cache; a hang may not.
const BUILD_LIMIT: Duration = Duration::from_secs(600);
/// Any single wait on a server: its first line, a response, its exit.
const LIMIT: Duration = Duration::from_secs(20);

const DIR: &str = env!("CARGO_MANIFEST_DIR");

/// The paths of the two examples, built once per test process.
fn executables() -> &'static [(String, PathBuf)] {
    static BUILT: OnceLock<Vec<(String, PathBuf)>> = OnceLock::new();
    BUILT.get_or_init(|| util::build_examples(&["book_server", "book_server_std"], BUILD_LIMIT))
}

fn executable(name: &str) -> &'static Path {
    let (_, path) = executables()
        .iter()
        .find(|(n, _)| n == name)
        .expect("built above");
    path
}

/// Starts example `name` on a free loopback port with `args`; returns
/// once it has printed its address.
fn start(name: &str, args: &[&str]) -> util::Server {
    // "Listening on http://127.0.0.1:PORT/ with N workers"
    util::start_server(executable(name), args, "Listening on http://", LIMIT)
}

/// One request on its own connection; everything the server sent back
/// until it closed.
fn get(addr: SocketAddr, path: &str) -> Vec<u8> {
    let mut c = TcpStream::connect_timeout(&addr, LIMIT).expect("connect");
    c.set_read_timeout(Some(LIMIT)).unwrap();
    c.set_write_timeout(Some(LIMIT)).unwrap();
    // One write: the book's server reads only the request line, and a
    // request that arrived in pieces could be left unread at close.
    c.write_all(format!("GET {path} HTTP/1.1\r\nHost: localhost\r\n\r\n").as_bytes())
        .expect("send");
    let mut response = Vec::new();
    c.read_to_end(&mut response).expect("read the response");
    response
}

/// The exact bytes the book's server answers with `status_line` and `file`.
fn expected(status_line: &str, file: &str) -> Vec<u8> {
    let contents = std::fs::read_to_string(format!("{DIR}/book/{file}")).unwrap();
    let length = contents.len();
    format!("{status_line}\r\nContent-Length: {length}\r\n\r\n{contents}").into_bytes()
}

fn assert_bytes(got: &[u8], want: &[u8], what: &str) {
    assert_eq!(
        String::from_utf8_lossy(got),
        String::from_utf8_lossy(want),
        "{what}"
    );
}

#[test]
fn std_and_green_answer_byte_exact_and_shut_down_gracefully() {
    let hello = expected("HTTP/1.1 200 OK", "hello.html");
    let not_found = expected("HTTP/1.1 404 NOT FOUND", "404.html");
    for name in ["book_server_std", "book_server"] {
        // Four requests, then the book's graceful shutdown.
        let server = start(name, &["--sleep-ms", "1", "--requests", "4"]);
        let addr = server.addr;
        assert_bytes(&get(addr, "/"), &hello, name);
        assert_bytes(&get(addr, "/sleep"), &hello, name);
        assert_bytes(&get(addr, "/nope"), &not_found, name);
        assert_bytes(&get(addr, "/index.html"), &not_found, name);

        let (status, printed) = server.wait(LIMIT);
        assert!(status.success(), "{name} failed: {printed:#?}");
        let jobs = printed
            .iter()
            .filter(|l| l.ends_with("got a job; executing."));
        assert_eq!(jobs.count(), 4, "{name}: {printed:#?}");
        // After the fourth connection: "Shutting down.", then each worker
        // in turn is told (its channel closes) and joined.
        let shutdown = printed
            .iter()
            .position(|l| l == "Shutting down.")
            .unwrap_or_else(|| panic!("{name}: no shutdown in {printed:#?}"));
        let joined: Vec<&str> = printed[shutdown..]
            .iter()
            .map(String::as_str)
            .filter(|l| l.starts_with("Shutting down worker"))
            .collect();
        let in_order: Vec<String> = (0..4)
            .map(|id| format!("Shutting down worker {id}"))
            .collect();
        assert_eq!(joined, in_order, "{name}");
        for id in 0..4 {
            let line = format!("Worker {id} disconnected; shutting down.");
            assert!(printed.contains(&line), "{name}: no {line:?}");
        }
    }
}

/// The source with its `//!` header (which may differ) removed.
fn without_header(source: &str) -> Vec<&str> {
    source
        .lines()
        .skip_while(|l| l.starts_with("//!") || l.is_empty())
        .collect()
}

/// What may differ between `book_server.rs` (green) and
/// `book_server_std.rs`, and nothing else:
///
/// 1. the `//!` header of each file;
/// 2. inside a `use` item (from a line starting with `use ` to the line
///    ending in `;`), `green_std::` where std's file has `std::`;
/// 3. `main`'s body: green's is std's, indented by four more spaces and
///    wrapped in `green::run(|| {` … `});`.
///
/// The green file is turned back into the std file by undoing exactly
/// these, and the two must then be equal line for line.
#[test]
fn green_and_std_sources_differ_only_in_use_lines_and_the_main_wrapper() {
    let green = std::fs::read_to_string(format!("{DIR}/book_server.rs")).unwrap();
    let std = std::fs::read_to_string(format!("{DIR}/book_server_std.rs")).unwrap();
    let (green, std) = (without_header(&green), without_header(&std));

    let mut undone = Vec::new();
    let mut uses_changed = 0;
    let mut in_use = false;
    let mut lines = green.iter();
    while let Some(&line) = lines.next() {
        if line.trim_start().starts_with("use ") {
            in_use = true;
        }
        if in_use {
            let back = line.replace("green_std::", "std::");
            uses_changed += usize::from(back != line);
            in_use = !line.ends_with(';');
            undone.push(back);
            continue;
        }
        undone.push(line.to_string());
        if line == "fn main() {" {
            assert_eq!(
                lines.next().copied(),
                Some("    green::run(|| {"),
                "green's main must start by entering green::run"
            );
            loop {
                let line = *lines.next().expect("the end of green::run's closure");
                if line == "    });" {
                    break;
                }
                let back = if line.is_empty() {
                    line
                } else {
                    line.strip_prefix("    ").unwrap_or_else(|| {
                        panic!("inside green::run, a line not indented once more: {line:?}")
                    })
                };
                undone.push(back.to_string());
            }
            assert_eq!(
                lines.next().copied(),
                Some("}"),
                "main ends with green::run"
            );
            undone.push("}".to_string());
        }
    }

    for (i, (green, std)) in undone.iter().zip(&std).enumerate() {
        assert_eq!(
            green,
            std,
            "line {} after the headers differs beyond the allowed changes",
            i + 1
        );
    }
    assert_eq!(undone.len(), std.len(), "the files differ in length");
    assert!(uses_changed >= 2, "both `use std::` items become green_std");
    assert!(
        !std.iter().any(|l| l.contains("green")),
        "the std version is plain std"
    );
}

/// The threads of process `pid`: id and name (`/proc/PID/task/TID/comm`).
fn threads(pid: u32) -> Vec<(u32, String)> {
    let Ok(tasks) = std::fs::read_dir(format!("/proc/{pid}/task")) else {
        return Vec::new();
    };
    tasks
        .filter_map(|t| {
            let t = t.ok()?;
            let tid = t.file_name().to_str()?.parse().ok()?;
            let name = std::fs::read_to_string(t.path().join("comm")).ok()?;
            Some((tid, name.trim_end().to_string()))
        })
        .collect()
}

#[test]
fn a_hundred_sleeps_on_one_os_thread_take_about_one_sleep() {
    const CLIENTS: usize = 100;
    let sleep = Duration::from_millis(200);
    let server = start(
        "book_server",
        &[
            "--workers",
            "100",
            "--sleep-ms",
            &sleep.as_millis().to_string(),
        ],
    );
    let (addr, pid) = (server.addr, server.child.id());

    // Watches the server's threads while the requests run. The workers
    // are greenlets on the main thread; `fs::read_to_string` runs on
    // green's blocking pool, whose threads are named "green-blocking" (a
    // new thread carries its parent's name until it has set its own, so
    // a thread counts as the pool's once it has been seen with that name;
    // the pool starts threads right as the sleeps end, so one last look a
    // moment after the requests sees the names of those started at the
    // very end: idle pool threads live on for 10 s).
    let done = Arc::new(AtomicBool::new(false));
    let watcher = {
        let done = done.clone();
        std::thread::spawn(move || {
            let mut most = 0;
            let mut pool = HashSet::new();
            let mut seen = HashSet::new();
            let is_pool = |(tid, name): &(u32, String)| (name == "green-blocking").then_some(*tid);
            while !done.load(Ordering::Relaxed) {
                let now = threads(pid);
                most = most.max(now.len());
                pool.extend(now.iter().filter_map(is_pool));
                seen.extend(now.into_iter().map(|(tid, _)| tid));
                std::thread::sleep(Duration::from_millis(2));
            }
            std::thread::sleep(Duration::from_millis(100));
            pool.extend(threads(pid).iter().filter_map(is_pool));
            let mut not_pool: Vec<u32> = seen.difference(&pool).copied().collect();
            not_pool.sort();
            (most, pool.len(), not_pool)
        })
    };

    let start = Arc::new(Barrier::new(CLIENTS + 1));
    let clients: Vec<_> = (0..CLIENTS)
        .map(|_| {
            let start = start.clone();
            std::thread::spawn(move || {
                start.wait();
                get(addr, "/sleep")
            })
        })
        .collect();
    start.wait();
    let began = Instant::now();
    let hello = expected("HTTP/1.1 200 OK", "hello.html");
    for client in clients {
        assert_bytes(&client.join().unwrap(), &hello, "GET /sleep");
    }
    let took = began.elapsed();
    done.store(true, Ordering::Relaxed);
    let (most, pool, not_pool) = watcher.join().unwrap();
    eprintln!(
        "{CLIENTS} concurrent GET /sleep (sleep {sleep:?}, 100 workers): {took:?}; \
         server threads: at most {most} at once, {pool} of green's blocking pool, \
         others {not_pool:?} (main thread {pid})"
    );

    assert!(took >= sleep, "every request slept");
    // 100 sleeps one after the other would take 100 × sleep; the book's 4
    // threads, 25 ×. Generous: anything near one sleep passes.
    assert!(
        took < sleep * 20,
        "{CLIENTS} concurrent sleeps took {took:?}, {:.1} sleeps",
        took.as_secs_f64() / sleep.as_secs_f64()
    );
    // 100 workers, and one thread that is not the file pool: the main
    // thread (its id is the process id), running them all.
    assert_eq!(not_pool, [pid], "threads besides green's blocking pool");
    assert!(most < CLIENTS, "{most} threads for {CLIENTS} workers");
}
