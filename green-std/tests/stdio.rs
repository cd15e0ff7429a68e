//! green-std's stdin, stdout and stderr: a greenlet waiting on a standard
//! stream lets the others run, and nothing is lost or reordered.
//!
//! Each scenario runs in a child process (this test binary, re-run with
//! `STDIO_CHILD` set) whose standard streams are pipes the parent controls.
//! A child reports what it measured on stderr as `key=value` lines.

use std::io::{Read, Write};
use std::process::{Command, Stdio};
use std::time::Duration;

mod util;
use util::within;

/// Bytes the writer greenlet sends: far more than a pipe holds (64 KiB).
const PAYLOAD: usize = 1 << 20;

/// How long the parent leaves the child's stdout undrained, or its stdin
/// empty: the ticker greenlet should tick many times meanwhile.
const STALL: Duration = Duration::from_millis(300);

/// This test binary, to run only `test`, in child mode `mode`.
fn child_command(test: &str, mode: &str) -> Command {
    let mut cmd = Command::new(std::env::current_exe().unwrap());
    cmd.args(["--exact", test, "--nocapture", "--test-threads=1", "-q"])
        .env("STDIO_CHILD", mode);
    cmd
}

/// Runs `test` in child mode `mode` with `stdin` to the end; its stderr,
/// once it has succeeded.
fn run_child(test: &str, mode: &str, stdin: impl Into<Stdio>) -> String {
    let out = child_command(test, mode).stdin(stdin).output().unwrap();
    let err = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(out.status.success(), "child failed:\n{err}");
    err
}

/// Starts `test` in child mode `mode`, its three streams piped.
fn child(test: &str, mode: &str) -> std::process::Child {
    child_command(test, mode)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap()
}

/// Waits for a child that `child` started, once the caller is done with
/// its stdin and stdout; its stderr, once it has succeeded.
fn finish(mut c: std::process::Child) -> String {
    let mut err = String::new();
    c.stderr.take().unwrap().read_to_string(&mut err).unwrap();
    assert!(c.wait().unwrap().success(), "child failed:\n{err}");
    err
}

/// Starts `test` in child mode `mode` as [`child`] does, and waits until it
/// reports `ready=1` on stderr (set up, about to block): a pause of the
/// parent's then runs from there, not from a start that a loaded machine
/// may delay past the pause's end. Hand the stderr it returns to
/// [`finish_ready`].
fn ready_child(test: &str, mode: &str) -> (std::process::Child, impl std::io::BufRead) {
    let mut c = child(test, mode);
    let mut err = std::io::BufReader::new(c.stderr.take().unwrap());
    let mut line = String::new();
    while line != "ready=1\n" {
        line.clear();
        let n = std::io::BufRead::read_line(&mut err, &mut line).unwrap();
        assert!(n > 0, "the child ended before it was ready");
    }
    (c, err)
}

/// [`finish`] for a child that [`ready_child`] started: the rest of its
/// stderr, once it has succeeded.
fn finish_ready(mut c: std::process::Child, mut stderr: impl std::io::BufRead) -> String {
    let mut err = String::new();
    stderr.read_to_string(&mut err).unwrap();
    assert!(c.wait().unwrap().success(), "child failed:\n{err}");
    err
}

/// Whether this process is a child that `child` started (it sets
/// `STDIO_CHILD`): then it runs the scenario of its mode, if `modes` has
/// it, and the test returns; a test's own checks run in the parent only.
fn is_child(modes: &[(&str, &dyn Fn())]) -> bool {
    let Ok(mode) = std::env::var("STDIO_CHILD") else {
        return false;
    };
    if let Some((_, scenario)) = modes.iter().find(|(m, _)| *m == mode) {
        scenario();
    }
    true
}

fn report(stderr: &str, key: &str) -> u64 {
    stderr
        .lines()
        .find_map(|l| l.strip_prefix(&format!("{key}=")))
        .unwrap_or_else(|| panic!("no {key}= in the child's stderr:\n{stderr}"))
        .trim()
        .parse()
        .unwrap()
}

/// Ticks every millisecond until told to stop; returns the count.
fn ticker() -> (green::JoinHandle<u64>, std::rc::Rc<std::cell::Cell<bool>>) {
    let stop = std::rc::Rc::new(std::cell::Cell::new(false));
    let flag = stop.clone();
    let h = green::spawn(move || {
        let mut n = 0;
        while !flag.get() {
            green::sleep(Duration::from_millis(1));
            n += 1;
        }
        n
    });
    (h, stop)
}

/// The child: one greenlet writes `PAYLOAD` bytes to a stdout pipe nobody
/// drains yet, while another ticks. Mode `green` writes through green-std,
/// mode `std` through std (the control: it blocks the thread).
fn stdout_child(mode: &str) {
    green::run(|| {
        let (ticks, stop) = ticker();
        green::yield_now(); // the ticker is asleep
        eprintln!("ready=1");
        let data = vec![b'x'; PAYLOAD];
        if mode == "green" {
            green_std::io::Write::write_all(&mut green_std::io::stdout(), &data).unwrap();
            green_std::io::Write::flush(&mut green_std::io::stdout()).unwrap();
        } else {
            std::io::stdout().write_all(&data).unwrap();
            std::io::stdout().flush().unwrap();
        }
        stop.set(true);
        let ticks = ticks.join().unwrap();
        // the lock is re-entrant: print while holding it
        let lock = green_std::io::stdout().lock();
        green_std::print!("|std:");
        std::print!("a");
        green_std::print!("b");
        green_std::println!("c|");
        drop(lock);
        eprintln!("ticks={ticks}");
    });
}

#[test]
fn stdout_pipe_full_parks_only_the_writer() {
    if let Ok(mode) = std::env::var("STDIO_CHILD") {
        if mode == "green" || mode == "std" {
            stdout_child(&mode);
        }
        return;
    }
    let run = |mode: &str| {
        let (mut c, stderr) = ready_child("stdout_pipe_full_parks_only_the_writer", mode);
        std::thread::sleep(STALL);
        let mut out = Vec::new();
        c.stdout.take().unwrap().read_to_end(&mut out).unwrap();
        let err = finish_ready(c, stderr);
        (out, report(&err, "ticks"))
    };
    let (out, green_ticks) = run("green");
    let text = String::from_utf8_lossy(&out);
    let run_of_x = text.split(|c| c != 'x').map(str::len).max().unwrap_or(0);
    assert_eq!(run_of_x, PAYLOAD, "the payload was cut or split");
    assert!(
        text.contains("|std:abc|\n"),
        "green and std prints out of order: {:?}",
        &text[text.len().saturating_sub(200)..]
    );
    assert!(
        green_ticks >= 20,
        "only {green_ticks} ticks while the green write waited {STALL:?} for the reader"
    );
    // The control: std's stdout blocks the whole hub, so the ticker starves.
    let (_, std_ticks) = run("std");
    assert!(
        std_ticks < green_ticks / 2,
        "the control did not starve ({std_ticks} ticks vs {green_ticks}): the test proves nothing"
    );
}

/// The child: one greenlet reads lines from stdin while another ticks.
fn stdin_child() {
    green::run(|| {
        let (ticks, stop) = ticker();
        green::yield_now();
        eprintln!("ready=1");
        let mut lines = Vec::new();
        for line in green_std::io::stdin().lines() {
            lines.push(line.unwrap());
        }
        stop.set(true);
        let ticks = ticks.join().unwrap();
        eprintln!("lines={}", lines.len());
        eprintln!("ticks={ticks}");
        let mut joined = lines.join(",");
        joined.push('\n');
        std::io::stdout().write_all(joined.as_bytes()).unwrap();
    });
}

#[test]
fn stdin_read_parks_only_the_reader() {
    if std::env::var("STDIO_CHILD").as_deref() == Ok("stdin") {
        stdin_child();
        return;
    }
    if std::env::var_os("STDIO_CHILD").is_some() {
        return;
    }
    let (mut c, stderr) = ready_child("stdin_read_parks_only_the_reader", "stdin");
    let mut input = c.stdin.take().unwrap();
    std::thread::sleep(STALL);
    input.write_all(b"one\ntwo\n").unwrap();
    std::thread::sleep(Duration::from_millis(50));
    // a long line, more than the 8 KiB buffer, sent in pieces
    let long = "z".repeat(20_000);
    input.write_all(long.as_bytes()).unwrap();
    input.write_all(b"\nlast").unwrap();
    drop(input);
    let mut out = String::new();
    c.stdout.take().unwrap().read_to_string(&mut out).unwrap();
    let err = finish_ready(c, stderr);
    assert!(
        out.contains(&format!("one,two,{long},last\n")),
        "lines lost or reordered: {:?}",
        &out[..out.len().min(300)]
    );
    assert_eq!(report(&err, "lines"), 4);
    let ticks = report(&err, "ticks");
    assert!(
        ticks >= 20,
        "only {ticks} ticks while the reader waited {STALL:?} for input"
    );
}

#[test]
fn stdin_from_a_file_or_closed() {
    match std::env::var("STDIO_CHILD").as_deref() {
        Ok("file") => {
            green::run(|| {
                let mut s = String::new();
                green_std::io::Read::read_to_string(&mut green_std::io::stdin(), &mut s).unwrap();
                eprintln!("bytes={}", s.len());
                eprintln!("lines={}", s.lines().count());
            });
            return;
        }
        Ok(_) => return,
        Err(_) => {}
    }
    // a regular file as stdin: epoll refuses to watch it, reads never wait
    let path = std::env::temp_dir().join(format!("green-stdin-{}.txt", std::process::id()));
    std::fs::write(&path, "a\nb\nc\n".repeat(10_000)).unwrap();
    let test = "stdin_from_a_file_or_closed";
    let err = run_child(test, "file", std::fs::File::open(&path).unwrap());
    std::fs::remove_file(&path).unwrap();
    assert_eq!(report(&err, "bytes"), 60_000);
    assert_eq!(report(&err, "lines"), 30_000);
    // /dev/null: end of file at once
    let err = run_child(test, "file", Stdio::null());
    assert_eq!(report(&err, "bytes"), 0);
}

#[test]
fn stdout_lock_excludes_other_greenlets() {
    if std::env::var_os("STDIO_CHILD").is_some() {
        return;
    }
    use green_std::io::Write as _;
    let order = green::run(|| {
        let order = std::rc::Rc::new(std::cell::RefCell::new(Vec::new()));
        let o = order.clone();
        let mut lock = green_std::io::stdout().lock();
        let other = green::spawn(move || {
            let _l = green_std::io::stdout().lock();
            o.borrow_mut().push("other");
        });
        green::yield_now();
        order.borrow_mut().push("holder");
        lock.flush().unwrap();
        drop(lock);
        other.join().unwrap();
        order.take()
    });
    assert_eq!(order, ["holder", "other"]);
}

/// The child: stdout is waited on (so the hub watches it), then fd 1 is
/// closed and its number reused by a socket, which a greenlet then waits on.
fn reuse_child() {
    use std::os::unix::net::UnixStream;
    green::run(|| {
        // more than the pipe holds: the hub has to watch stdout
        let data = vec![b'y'; PAYLOAD];
        green_std::io::Write::write_all(&mut green_std::io::stdout(), &data).unwrap();
        green_std::io::Write::flush(&mut green_std::io::stdout()).unwrap();
        // SAFETY: fd 1 is ours to close; nothing in this child writes to it
        // through std afterwards (the report goes to stderr).
        assert_eq!(unsafe { libc::close(1) }, 0);
        let (a, mut b) = UnixStream::pair().unwrap();
        use std::os::fd::AsRawFd;
        let reused = a.as_raw_fd() == 1 || b.as_raw_fd() == 1;
        a.set_nonblocking(true).unwrap();
        let writer = green::spawn(move || {
            green::sleep(Duration::from_millis(20));
            b.write_all(b"x").unwrap();
            b
        });
        let deadline = std::time::Instant::now() + Duration::from_secs(2);
        let woke = green::io::wait_readable(&a, Some(deadline));
        let _b = writer.join().unwrap();
        eprintln!("reused={}", u8::from(reused));
        eprintln!("woke={}", u8::from(woke.is_ok()));
    });
}

#[test]
fn a_closed_stdout_number_reused_by_a_socket_is_watched() {
    if is_child(&[("reuse", &reuse_child)]) {
        return;
    }
    let err = run_child(
        "a_closed_stdout_number_reused_by_a_socket_is_watched",
        "reuse",
        Stdio::null(),
    );
    assert_eq!(
        report(&err, "reused"),
        1,
        "the socket did not get fd 1: the test proves nothing"
    );
    assert_eq!(
        report(&err, "woke"),
        1,
        "the wait on the socket that reused fd 1 never woke"
    );
}

#[test]
fn a_thread_holding_the_stdout_lock_can_print_from_its_greenlets() {
    if std::env::var_os("STDIO_CHILD").is_some() {
        return;
    }
    // std's lock is re-entrant per thread, and a hub's greenlets are its
    // thread: they must not wait for a release that comes after `run`.
    within(|| {
        use green_std::io::Write as _;
        let mut out = green_std::io::stdout().lock();
        out.flush().unwrap();
        green::run(|| {
            let other = green::spawn(|| green_std::io::stdout().flush().unwrap());
            green_std::io::stdout().flush().unwrap();
            other.join().unwrap();
        });
        drop(out);
    });
}

/// The child: a std thread prints "x" while this thread holds green's
/// stdout lock across two lines, outside `run` and inside it.
fn interleave_child() {
    use green_std::io::Write as _;
    let held = || {
        let printer = std::thread::spawn(|| {
            std::thread::sleep(Duration::from_millis(50));
            println!("x");
        });
        let mut out = green_std::io::stdout().lock();
        writeln!(out, "a").unwrap();
        std::thread::sleep(Duration::from_millis(200));
        writeln!(out, "b").unwrap();
        drop(out);
        printer.join().unwrap();
    };
    held();
    green::run(held);
}

#[test]
fn the_stdout_lock_keeps_std_printers_on_other_threads_out() {
    if is_child(&[("interleave", &interleave_child)]) {
        return;
    }
    let out = child_command(
        "the_stdout_lock_keeps_std_printers_on_other_threads_out",
        "interleave",
    )
    .stdin(Stdio::null())
    .output()
    .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let lines: Vec<_> = String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .filter(|l| ["a", "b", "x"].contains(l))
        .map(String::from)
        .collect();
    assert_eq!(
        lines,
        ["a", "b", "x", "a", "b", "x"],
        "std's println got between two lines of a held lock"
    );
}

#[test]
fn a_stdout_lock_kept_past_run_lets_its_thread_print() {
    if std::env::var_os("STDIO_CHILD").is_some() {
        return;
    }
    // the mirror case: a greenlet's lock outlives `run`, and its thread,
    // which std's lock would let re-enter, prints. A thread stuck here
    // holds std's stdout lock too, so the harness could not even print the
    // failure: the watchdog aborts instead.
    let (done, finished) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        use green_std::io::Write as _;
        let kept = green::run(|| green_std::io::stdout().lock());
        green_std::io::stdout().flush().unwrap();
        drop(kept);
        let _ = done.send(());
    });
    if finished.recv_timeout(util::WATCHDOG).is_err() {
        eprintln!("a thread deadlocked on the stdout lock its greenlet kept past run");
        std::process::abort();
    }
}

#[test]
fn the_streams_and_their_locks_print_as_std_s_do() {
    if std::env::var_os("STDIO_CHILD").is_some() {
        return;
    }
    use green_std::io as green_io;
    let same = |green: String, std: String| assert_eq!(green, std);
    same(
        format!("{:?} {:#?}", green_io::stdin(), green_io::stdin()),
        format!("{:?} {:#?}", std::io::stdin(), std::io::stdin()),
    );
    same(
        format!("{:?} {:#?}", green_io::stdout(), green_io::stdout()),
        format!("{:?} {:#?}", std::io::stdout(), std::io::stdout()),
    );
    same(
        format!("{:?} {:#?}", green_io::stderr(), green_io::stderr()),
        format!("{:?} {:#?}", std::io::stderr(), std::io::stderr()),
    );
    // one lock at a time: green's stdout lock holds std's too
    let lock = |green: String| {
        let std = match green.split(' ').next() {
            Some("StdinLock") => format!("{0:?} {0:#?}", std::io::stdin().lock()),
            Some("StdoutLock") => format!("{0:?} {0:#?}", std::io::stdout().lock()),
            _ => format!("{0:?} {0:#?}", std::io::stderr().lock()),
        };
        same(green, std);
    };
    lock(format!("{0:?} {0:#?}", green_io::stdin().lock()));
    lock(format!("{0:?} {0:#?}", green_io::stdout().lock()));
    lock(format!("{0:?} {0:#?}", green_io::stderr().lock()));
    // inside run, with the locks held by a greenlet
    green::run(|| {
        lock(format!("{0:?} {0:#?}", green_io::stdout().lock()));
        lock(format!("{0:?} {0:#?}", green_io::stdin().lock()));
    });
}

/// The child: two greenlets read records of fixed size through `&Stdin`;
/// the second waits for the lock while the first's record is half in.
fn shared_read_exact_child() {
    use green_std::io::Read as _;
    green::run(|| {
        let first = green::spawn(|| {
            let mut record = [0; 8];
            (&green_std::io::stdin()).read_exact(&mut record).unwrap();
            record
        });
        green::yield_now(); // `first` holds the lock, waiting for input
        let second = green::spawn(|| {
            let mut record = [0; 4];
            (&green_std::io::stdin()).read_exact(&mut record).unwrap();
            record
        });
        let first = first.join().unwrap();
        let second = second.join().unwrap();
        eprintln!("first={}", String::from_utf8_lossy(&first));
        eprintln!("second={}", String::from_utf8_lossy(&second));
    });
}

#[test]
fn read_exact_through_a_shared_stdin_reads_one_record_whole() {
    if is_child(&[("shared", &shared_read_exact_child)]) {
        return;
    }
    // std's `Read for &Stdin` holds the lock for the whole read_exact, so
    // the other reader cannot take bytes from the middle of a record.
    let mut c = child(
        "read_exact_through_a_shared_stdin_reads_one_record_whole",
        "shared",
    );
    let mut input = c.stdin.take().unwrap();
    std::thread::sleep(Duration::from_millis(100));
    input.write_all(b"AAAA").unwrap();
    std::thread::sleep(Duration::from_millis(100));
    input.write_all(b"AAAABBBB").unwrap();
    drop(input);
    let err = finish(c);
    assert!(
        err.contains("first=AAAAAAAA\n") && err.contains("second=BBBB\n"),
        "a record was split between the readers:\n{err}"
    );
}

/// The child: a greenlet writes more than the pipe holds to a stdout whose
/// reader goes away meanwhile, flushes and prints once more, through green
/// (mode `green`) or std's stdout (mode `std`, the reference); another
/// greenlet ticks.
fn broken_pipe_child(green: bool) {
    use std::io::Write as _;
    green::run(|| {
        let (ticks, stop) = ticker();
        green::yield_now();
        eprintln!("ready=1");
        let data = vec![b'x'; PAYLOAD];
        let (written, flushed) = if green {
            let mut out = green_std::io::stdout();
            (out.write_all(&data), out.flush())
        } else {
            let mut out = std::io::stdout();
            (out.write_all(&data), out.flush())
        };
        let kind = |r: std::io::Result<()>| r.map_err(|e| e.kind());
        eprintln!("write_all={:?}", kind(written));
        eprintln!("flush={:?}", kind(flushed));
        let printed = std::panic::catch_unwind(|| {
            if green {
                green_std::println!("after");
            } else {
                std::println!("after");
            }
        });
        let message = printed.map_err(|p| p.downcast_ref::<String>().cloned());
        eprintln!("println={message:?}");
        stop.set(true);
        eprintln!("ticks={}", ticks.join().unwrap());
    });
    // the harness's own report would meet the broken pipe too
    std::process::exit(0);
}

#[test]
fn a_stdout_whose_reader_goes_away_fails_as_std_s_does() {
    if is_child(&[
        ("broken-green", &|| broken_pipe_child(true)),
        ("broken-std", &|| broken_pipe_child(false)),
    ]) {
        return;
    }
    let run = |mode: &str| {
        let (mut c, stderr) =
            ready_child("a_stdout_whose_reader_goes_away_fails_as_std_s_does", mode);
        // the writer waits on the full pipe; then its reader goes away
        std::thread::sleep(STALL);
        drop(c.stdout.take());
        let err = finish_ready(c, stderr);
        let results: Vec<String> = err
            .lines()
            .filter(|l| {
                ["write_all=", "flush=", "println="]
                    .iter()
                    .any(|k| l.starts_with(k))
            })
            .map(String::from)
            .collect();
        (results, report(&err, "ticks"))
    };
    let (green, ticks) = run("broken-green");
    let (std, _) = run("broken-std");
    assert_eq!(green, std);
    assert_eq!(
        green[0], "write_all=Err(BrokenPipe)",
        "the test proves nothing"
    );
    assert!(
        ticks >= 20,
        "only {ticks} ticks while the write waited {STALL:?} for the reader"
    );
}

/// The child: one `write` of more than a page to stdout and to stderr,
/// through green-std inside `run` and through std, reporting the counts.
fn one_write_child() {
    use std::io::Write as _;
    let data = vec![b'w'; 5000];
    let std_out = std::io::stdout().write(&data).unwrap();
    let std_err = std::io::stderr().write(&data).unwrap();
    let (green_out, green_err) = green::run(|| {
        (
            green_std::io::stdout().write(&data).unwrap(),
            green_std::io::stderr().write(&data).unwrap(),
        )
    });
    eprintln!("\nstd={std_out},{std_err}");
    eprintln!("green={green_out},{green_err}");
}

#[test]
fn one_write_takes_as_much_as_std_s() {
    if is_child(&[("one-write", &one_write_child)]) {
        return;
    }
    // std's stdout and stderr write a pipe in blocking mode, which takes
    // the whole buffer; green's waits in pieces but must count them all.
    let err = run_child(
        "one_write_takes_as_much_as_std_s",
        "one-write",
        Stdio::null(),
    );
    let line = |key: &str| {
        err.lines()
            .find_map(|l| l.strip_prefix(key))
            .unwrap_or_else(|| panic!("no {key} in:\n{err}"))
            .to_string()
    };
    assert_eq!(line("std="), "5000,5000", "the reference");
    assert_eq!(line("green="), line("std="));
}

/// Bytes the retrying writer sends: four times what a pipe holds.
const RETRIED: usize = 256 * 1024;

/// The bytes of [`RETRIED`]: a pattern a duplicated or lost piece shifts.
fn retried_data() -> Vec<u8> {
    (0..RETRIED).map(|i| (i % 251) as u8).collect()
}

/// The child: writes [`retried_data`] to a stdout the parent leaves
/// undrained for a while, one `write` at a time inside a short
/// `green::timeout`, going on after each count and retrying after each
/// timeout, as a caller that bounds its writes does.
fn retried_write_child() {
    use std::io::Write as _;
    let data = retried_data();
    let timeouts = green::run(|| {
        let mut out = green_std::io::stdout();
        let (mut sent, mut timeouts) = (0, 0);
        while sent < data.len() {
            match green::timeout(Duration::from_millis(20), || out.write(&data[sent..])) {
                Ok(n) => sent += n.unwrap(),
                Err(_) => timeouts += 1,
            }
        }
        out.flush().unwrap();
        timeouts
    });
    eprintln!("timeouts={timeouts}");
}

#[test]
fn a_write_cut_short_by_a_timeout_sends_nothing_twice() {
    if is_child(&[("retried", &retried_write_child)]) {
        return;
    }
    // std's write cannot be cut short; green's, cut short, must have sent
    // nothing (its count is lost with the unwind), or the retry sends the
    // pieces that went out a second time.
    let mut c = child(
        "a_write_cut_short_by_a_timeout_sends_nothing_twice",
        "retried",
    );
    std::thread::sleep(STALL);
    let mut out = Vec::new();
    c.stdout.take().unwrap().read_to_end(&mut out).unwrap();
    let err = finish(c);
    assert!(
        report(&err, "timeouts") > 0,
        "no write was cut short: the test proves nothing"
    );
    // the harness's own lines frame the payload
    let head = b"\nrunning 1 test\n";
    assert!(out.starts_with(head), "not the harness's output");
    let end = b".\ntest result";
    let tail = (0..out.len())
        .rev()
        .find(|&i| out[i..].starts_with(end))
        .unwrap_or(0);
    let payload = &out[head.len()..tail];
    assert_eq!(payload.len(), RETRIED, "bytes lost or sent twice");
    assert!(payload == retried_data(), "bytes out of order");
}

/// The child: a `read_exact`, a `read_line` and a `read_to_string` of
/// stdin, each cut short by a `green::timeout` while part of its input is
/// in, then made again.
fn read_cut_short_child() {
    use green_std::io::{BufRead as _, Read as _};
    green::run(|| {
        let stdin = green_std::io::stdin();
        let mut record = [0; 8];
        let cut = green::timeout(Duration::from_millis(150), || {
            (&stdin).read_exact(&mut record)
        });
        eprintln!("exact_cut={}", cut.is_err());
        (&stdin).read_exact(&mut record).unwrap();
        eprintln!("exact={}", String::from_utf8_lossy(&record));
        let mut line = String::new();
        let cut = green::timeout(Duration::from_millis(150), || {
            stdin.lock().read_line(&mut line)
        });
        eprintln!("line_cut={} kept={line:?}", cut.is_err());
        line.clear();
        stdin.read_line(&mut line).unwrap();
        eprintln!("line={line:?}");
        let mut rest = String::from("<");
        let cut = green::timeout(Duration::from_millis(150), || {
            (&stdin).read_to_string(&mut rest)
        });
        eprintln!("rest_cut={} kept={rest:?}", cut.is_err());
        (&stdin).read_to_string(&mut rest).unwrap();
        eprintln!("rest={rest:?}");
    });
}

#[test]
fn reads_cut_short_leave_their_bytes_for_the_next_read() {
    if is_child(&[("read-cut", &read_cut_short_child)]) {
        return;
    }
    // std's reads cannot be cut short: a read_exact gets the bytes in
    // order whenever they come. Green's, cut short, must leave those it
    // took to the next read, as green-std's File does.
    // Each part goes in once the child reports the read before it cut
    // short (not after a fixed time: a loaded machine may start the child
    // later than that, and the parts would all be in before its first read).
    let err = within(|| {
        let mut c = child(
            "reads_cut_short_leave_their_bytes_for_the_next_read",
            "read-cut",
        );
        let mut input = c.stdin.take().unwrap();
        let mut report = std::io::BufReader::new(c.stderr.take().unwrap());
        let mut err = String::new();
        let mut after = |key: &str| {
            while !err.lines().any(|l| l.starts_with(key)) {
                let n = std::io::BufRead::read_line(&mut report, &mut err).unwrap();
                assert!(n > 0, "the child ended before {key}:\n{err}");
            }
        };
        input.write_all(b"AAAA").unwrap();
        after("exact_cut=");
        input.write_all(b"BBBBCCCCli").unwrap();
        after("line_cut=");
        input.write_all(b"ne\nta").unwrap();
        after("rest_cut=");
        input.write_all(b"il").unwrap();
        drop(input);
        report.read_to_string(&mut err).unwrap();
        assert!(c.wait().unwrap().success(), "child failed:\n{err}");
        err
    });
    for expected in [
        "exact_cut=true\n",
        "exact=AAAABBBB\n",
        "line_cut=true kept=\"\"\n",
        "line=\"CCCCline\\n\"\n",
        "rest_cut=true kept=\"<\"\n",
        "rest=\"<tail\"\n",
    ] {
        assert!(err.contains(expected), "no {expected:?} in:\n{err}");
    }
}

/// The child: a plain thread holds std's stdout lock while a greenlet's
/// green print waits for it (holding green's gate); the thread then prints
/// through green-std, as it could through std's re-entrant lock.
fn std_lock_then_green_print_child() {
    let (held, wait_held) = std::sync::mpsc::channel();
    let thread = std::thread::spawn(move || {
        let lock = std::io::stdout().lock();
        held.send(()).unwrap();
        // the greenlet is in green's gate, waiting for std's lock
        std::thread::sleep(Duration::from_millis(200));
        green_std::println!("thread");
        drop(lock);
    });
    wait_held.recv().unwrap();
    green::run(|| green_std::println!("greenlet"));
    thread.join().unwrap();
    eprintln!("done=1");
}

#[test]
fn a_thread_holding_std_s_stdout_lock_can_print_through_green() {
    if is_child(&[("std-then-green", &std_lock_then_green_print_child)]) {
        return;
    }
    // std's lock is re-entrant: the thread prints, then the greenlet. The
    // thread must not wait for green's gate, which the greenlet holds
    // while it waits for std's lock.
    let mut c = child(
        "a_thread_holding_std_s_stdout_lock_can_print_through_green",
        "std-then-green",
    );
    let start = std::time::Instant::now();
    while c.try_wait().unwrap().is_none() {
        if start.elapsed() > Duration::from_secs(10) {
            c.kill().unwrap();
            c.wait().unwrap();
            panic!("the child deadlocked: the thread waits for green's gate, the greenlet for std's lock");
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    let mut out = String::new();
    c.stdout.take().unwrap().read_to_string(&mut out).unwrap();
    let err = finish(c);
    assert_eq!(report(&err, "done"), 1);
    assert!(out.contains("thread\ngreenlet\n"), "{out:?}");
}
