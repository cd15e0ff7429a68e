//! green-std's `process` and `io::pipe`: children run, are waited for and
//! talk through pipes while the hub keeps running the other greenlets.

use std::cell::Cell;
use std::os::fd::{AsRawFd, OwnedFd};
use std::rc::Rc;
use std::time::Duration;

use green_std::io::{self, Read, Write};
use green_std::process::{Command, Stdio};

mod util;

#[path = "../../green-core/tests/util/mod.rs"]
mod core_util;
use util::within;

/// Counts how many times a 1 ms sleeper wakes while `work` runs.
fn ticks_during<T>(work: impl FnOnce() -> T) -> (T, u64) {
    let stop = Rc::new(Cell::new(false));
    let flag = stop.clone();
    let ticker = green::spawn(move || {
        let mut n = 0;
        while !flag.get() {
            green::sleep(Duration::from_millis(1));
            n += 1;
        }
        n
    });
    green::yield_now();
    let out = work();
    stop.set(true);
    (out, ticker.join().unwrap())
}

#[test]
fn wait_parks_the_greenlet_not_the_hub() {
    let (status, ticks) =
        green::run(|| ticks_during(|| Command::new("sleep").arg("0.3").status().unwrap()));
    assert!(status.success());
    assert!(ticks >= 20, "only {ticks} ticks during a 300 ms child");
}

#[test]
fn fifty_children_wait_side_by_side() {
    let codes = green::run(|| {
        let children: Vec<_> = (0..50)
            .map(|i| {
                green::spawn(move || {
                    let out = Command::new("sh")
                        .args(["-c", &format!("sleep 0.2; echo child {i}; exit {}", i % 7)])
                        .output()
                        .unwrap();
                    (String::from_utf8(out.stdout).unwrap(), out.status.code())
                })
            })
            .collect();
        children
            .into_iter()
            .map(|h| h.join().unwrap())
            .collect::<Vec<_>>()
    });
    for (i, (out, code)) in codes.iter().enumerate() {
        assert_eq!(out, &format!("child {i}\n"));
        assert_eq!(*code, Some(i as i32 % 7));
    }
}

#[test]
fn stdin_and_stdout_of_one_child_from_one_thread() {
    // 1 MiB through `cat`: writing it all before reading would deadlock on
    // the full pipes, unless the writer greenlet parks.
    let data: Vec<u8> = (0..1u32 << 20).map(|i| (i % 251) as u8).collect();
    let expected = data.clone();
    let back = green::run(move || {
        let mut child = Command::new("cat")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .unwrap();
        let mut input = child.stdin.take().unwrap();
        let writer = green::spawn(move || input.write_all(&data).unwrap());
        let mut back = Vec::new();
        child.stdout.take().unwrap().read_to_end(&mut back).unwrap();
        writer.join().unwrap();
        assert!(child.wait().unwrap().success());
        back
    });
    assert!(
        back == expected,
        "cat gave back {} bytes, not the same",
        back.len()
    );
}

#[test]
fn kill_and_try_wait() {
    use std::os::unix::process::ExitStatusExt;
    green::run(|| {
        let mut child = Command::new("sleep").arg("30").spawn().unwrap();
        assert_eq!(child.try_wait().unwrap(), None);
        green::sleep(Duration::from_millis(20));
        child.kill().unwrap();
        assert_eq!(child.wait().unwrap().signal(), Some(9));
        assert!(child.try_wait().unwrap().is_some());
    });
}

#[test]
fn missing_program_is_not_found() {
    green::run(|| {
        let err = Command::new("/definitely/not/here").output().unwrap_err();
        assert_eq!(err.kind(), std::io::ErrorKind::NotFound);
    });
}

#[test]
fn output_defaults_match_std() {
    // unconfigured: stdout and stderr piped, stdin empty; configured: kept
    let script = "cat; echo out; echo err >&2";
    let green = green::run(|| Command::new("sh").args(["-c", script]).output().unwrap());
    let std = std::process::Command::new("sh")
        .args(["-c", script])
        .output()
        .unwrap();
    assert_eq!(green.stdout, std.stdout);
    assert_eq!(green.stderr, std.stderr);
    assert_eq!(green.status, std.status);
    // after output, a spawn inherits again (not piped): stdout is None
    let mut cmd = Command::new("true");
    cmd.output().unwrap();
    let mut child = cmd.spawn().unwrap();
    assert!(child.stdout.is_none() && child.stdin.is_none());
    child.wait().unwrap();
    // a configured stream stays as configured
    let out = Command::new("echo")
        .arg("gone")
        .stdout(Stdio::null())
        .output()
        .unwrap();
    assert!(out.stdout.is_empty());
}

#[test]
fn a_waiter_killed_while_its_child_runs_unwinds_and_the_hub_goes_on() {
    green::run(|| {
        let mut child = Command::new("sleep").arg("30").spawn().unwrap();
        let id = child.id();
        let waiter = green::spawn(move || {
            let _ = child.wait();
            unreachable!("the child sleeps for 30 s");
        });
        green::sleep(Duration::from_millis(20));
        waiter.kill();
        // the killed greenlet dropped the Child (a zombie until reaped);
        // reap it here so the test leaves nothing behind
        std::process::Command::new("kill")
            .args(["-9", &id.to_string()])
            .status()
            .unwrap();
        // new fds (the pidfd's number among them) are waited on as usual
        let out = green::timeout(Duration::from_secs(5), || {
            Command::new("sh")
                .args(["-c", "sleep 0.05; echo alive"])
                .output()
                .unwrap()
        })
        .expect("a wait after the kill never woke");
        assert_eq!(out.stdout, b"alive\n");
    });
}

#[test]
fn pipe_between_greenlets_and_outside_run() {
    let got = green::run(|| {
        let (mut r, mut w) = io::pipe().unwrap();
        let reader = green::spawn(move || {
            let mut v = Vec::new();
            r.read_to_end(&mut v).unwrap();
            v.len()
        });
        // 1 MiB through a 64 KiB pipe: the writer parks on every refill
        w.write_all(&vec![7u8; 1 << 20]).unwrap();
        drop(w);
        reader.join().unwrap()
    });
    assert_eq!(got, 1 << 20);
    // outside run: plain blocking, like std
    let (r, mut w) = io::pipe().unwrap();
    let t = std::thread::spawn(move || w.write_all(&[1; 100_000]).unwrap());
    assert_eq!(io::read_to_string(r).unwrap().len(), 100_000);
    t.join().unwrap();
}

fn is_nonblocking(fd: &impl AsRawFd) -> bool {
    // SAFETY: F_GETFL only reads the flags of an fd we own for the call.
    let flags = unsafe { libc::fcntl(fd.as_raw_fd(), libc::F_GETFL) };
    assert!(flags >= 0);
    flags & libc::O_NONBLOCK != 0
}

#[test]
fn pipe_ends_given_away_are_blocking_again() {
    let (r, w) = io::pipe().unwrap();
    let (r, w): (OwnedFd, OwnedFd) = (r.into(), w.into());
    assert!(!is_nonblocking(&r) && !is_nonblocking(&w));
    // and a child writing into a green pipe sees an ordinary pipe
    let (r, w) = io::pipe().unwrap();
    let status = Command::new("sh")
        .args(["-c", "head -c 200000 /dev/zero"])
        .stdout(w)
        .spawn()
        .unwrap();
    let n = green::run(move || {
        let mut v = Vec::new();
        (&r).read_to_end(&mut v).unwrap();
        v.len()
    });
    assert_eq!(n, 200_000);
    let mut status = status;
    assert!(status.wait().unwrap().success());
}

#[test]
fn a_clone_given_away_leaves_the_kept_end_non_blocking() {
    let (r, w) = io::pipe().unwrap();
    let given_r: OwnedFd = r.try_clone().unwrap().into();
    let given_w: OwnedFd = w.try_clone().unwrap().into();
    assert!(!is_nonblocking(&given_r) && !is_nonblocking(&given_w));
    assert!(
        is_nonblocking(&r) && is_nonblocking(&w),
        "giving a clone away switched the kept ends to blocking mode"
    );
    // the given-away ends are the same pipe
    let mut w2 = std::fs::File::from(given_w);
    w2.write_all(b"through the clone").unwrap();
    drop((w2, w));
    assert_eq!(io::read_to_string(r).unwrap(), "through the clone");
    drop(given_r);
}

#[test]
fn a_pipe_end_shared_with_a_child_still_parks_our_greenlets() {
    // A child writes into a clone of our writer, as a shared log pipe: our
    // own end must stay non-blocking, or the 1 MiB below, through a 64 KiB
    // pipe, blocks the hub's thread before the reader ever runs.
    let n = within(|| {
        green::run(|| {
            let (mut r, mut w) = io::pipe().unwrap();
            let mut child = Command::new("echo")
                .arg("child")
                .stdout(w.try_clone().unwrap())
                .spawn()
                .unwrap();
            assert!(child.wait().unwrap().success());
            let writer = green::spawn(move || w.write_all(&vec![b'x'; 1 << 20]).unwrap());
            let mut all = Vec::new();
            r.read_to_end(&mut all).unwrap();
            writer.join().unwrap();
            all.len()
        })
    });
    assert_eq!(n, "child\n".len() + (1 << 20));
}

#[test]
fn an_adopted_end_leaves_other_handles_to_it_alone() {
    // std's ends are blocking; adopting one (From<OwnedFd>) must not switch
    // a second handle to the same description, in this process or another.
    let (r, w) = std::io::pipe().unwrap();
    let other: OwnedFd = r.try_clone().unwrap().into();
    let green_r = io::PipeReader::from(OwnedFd::from(r));
    assert!(
        !is_nonblocking(&other),
        "adopting switched the other handle"
    );
    assert!(is_nonblocking(&green_r));
    let got = within(move || {
        green::run(move || {
            let mut w = w;
            let writer = green::spawn(move || {
                green::yield_now();
                w.write_all(b"late").unwrap();
            });
            let mut s = String::new();
            (&green_r).read_to_string(&mut s).unwrap();
            writer.join().unwrap();
            s
        })
    });
    assert_eq!(got, "late");
    drop(other);
}

#[test]
fn output_gives_the_child_an_empty_stdin_as_std_does() {
    // std's `output` gives an unconfigured stdin `/dev/null`, not a pipe
    let target = |cmd: &mut Command| {
        let out = cmd
            .args(["-c", "readlink /proc/self/fd/0"])
            .output()
            .unwrap();
        String::from_utf8(out.stdout).unwrap()
    };
    let std = std::process::Command::new("sh")
        .args(["-c", "readlink /proc/self/fd/0"])
        .output()
        .unwrap();
    let std = String::from_utf8(std.stdout).unwrap();
    assert_eq!(std, "/dev/null\n");
    assert_eq!(target(&mut Command::new("sh")), std, "outside run");
    assert_eq!(
        green::run(|| target(&mut Command::new("sh"))),
        std,
        "inside run"
    );
}

#[test]
fn output_keeps_the_stdio_of_a_std_command() {
    // stdio set on a std command cannot be read back: `output` must still
    // honour it as std's does, and leave it set for the next spawn
    let make = || {
        let mut c = std::process::Command::new("echo");
        c.arg("hidden").stdout(std::process::Stdio::null());
        c
    };
    let std = make().output().unwrap();
    assert!(std.stdout.is_empty());
    let mut outside = Command::from(make());
    assert_eq!(outside.output().unwrap().stdout, std.stdout, "outside run");
    assert_eq!(
        outside.output().unwrap().stdout,
        std.stdout,
        "a second time"
    );
    let inside = within(move || {
        green::run(move || {
            // done in one turn: `output` promises one switch, not two
            let ticker = green::spawn(|| ());
            let mut cmd = Command::from(make());
            let out = cmd.output().unwrap();
            assert!(ticker.is_finished(), "the hub was blocked meanwhile");
            (out.stdout, cmd.get_program().to_owned())
        })
    });
    assert_eq!(inside.0, std.stdout, "inside run");
    assert_eq!(inside.1, "echo", "the command came back from the pool");
    // and the same through as_std_mut
    let mut cmd = Command::new("echo");
    cmd.arg("hidden");
    cmd.as_std_mut().stdout(std::process::Stdio::null());
    assert_eq!(
        cmd.output().unwrap().stdout,
        std.stdout,
        "through as_std_mut"
    );
    // a std command without stdio settings still captures, as std's output
    let out = Command::from(std::process::Command::new("echo"))
        .output()
        .unwrap();
    assert_eq!(out.stdout, b"\n");
}

#[test]
fn an_output_cut_short_leaves_the_command_as_it_was() {
    // A std command's output runs on the pool with the command lent to the
    // job: a greenlet unwound meanwhile (a timeout fired, or it was
    // killed) must not leave another command in its place. Until the
    // child is done, the next use waits for it without blocking the hub.
    let make = || {
        let mut c = std::process::Command::new("sh");
        c.args(["-c", "sleep 0.2; echo done; echo err >&2"])
            .stderr(std::process::Stdio::null());
        c
    };
    let want = format!("{:#?}", make());
    let want2 = want.clone();
    let (after_timeout, ticks, after_kill, out, escaped) = within(move || {
        green::run(move || {
            let mut cmd = Command::from(make());
            let cut = green::timeout(Duration::from_millis(20), || cmd.output());
            assert!(cut.is_err(), "the child sleeps for 200 ms");
            // Debug does not wait for the child: it prints the command as
            // it was lent (logging it in the timeout's error path must not
            // wait for a child that may never end).
            let (shown, waited) = ticks_during(|| format!("{cmd:#?}"));
            assert_eq!(shown, want2, "Debug while away");
            assert!(waited <= 1, "Debug waited for the child: {waited} ticks");
            let (after_timeout, ticks) = ticks_during(|| {
                cmd.get_program(); // waits for the child
                format!("{cmd:#?}")
            });
            let cmd = Rc::new(std::cell::RefCell::new(cmd));
            let theirs = cmd.clone();
            let killed = green::spawn(move || theirs.borrow_mut().output());
            green::sleep(Duration::from_millis(20));
            killed.kill();
            let after_kill = format!("{:#?}", cmd.borrow());
            let out = cmd.borrow_mut().output().unwrap();
            // one cut short inside run, used outside it
            let mut escaped = Command::from(make());
            assert!(green::timeout(Duration::from_millis(20), || escaped.output()).is_err());
            (after_timeout, ticks, after_kill, out, escaped)
        })
    });
    assert_eq!(after_timeout, want, "after a timeout");
    assert!(ticks >= 10, "the hub was blocked: {ticks} ticks in ~180 ms");
    assert_eq!(after_kill, want, "after a kill");
    assert_eq!(
        (&out.stdout[..], &out.stderr[..]),
        (&b"done\n"[..], &b""[..])
    );
    let mut escaped = escaped;
    assert_eq!(escaped.get_program(), "sh", "outside run");
    assert_eq!(escaped.output().unwrap().stdout, b"done\n");
}

/// Runs `cut` on a child running `script`, which reads a line from its
/// stdin, a pipe this test keeps until it lets the child go (closes it):
/// whether `cut` returned before that. The child is let go once
/// `cut` has returned, or after 10 s if it never does by itself.
fn returns_before_the_child_ends(
    script: &'static str,
    cut: impl FnOnce(Command) + Send + 'static,
) -> bool {
    within(move || {
        green::run(move || {
            let (r, w) = io::pipe().unwrap();
            let mut cmd = Command::new("sh");
            cmd.args(["-c", script]).stdin(r);
            let returned = Rc::new(Cell::new(false));
            let seen = returned.clone();
            let release = green::spawn(move || {
                for _ in 0..10_000 {
                    if seen.get() {
                        break;
                    }
                    green::sleep(Duration::from_millis(1));
                }
                let before = seen.get();
                drop(w); // the child's `read` ends: it exits
                before
            });
            cut(cmd);
            returned.set(true);
            release.join().unwrap()
        })
    })
}

/// gevent's test__subprocess `test_check_output_timeout`: a timeout that
/// interrupts `output` ends it then, as it ends any green wait, although
/// the child still holds its pipes open. The stderr reader used to be left
/// to read to the end of file first (the scope waited for it): for ever,
/// with a child that never exits.
#[test]
fn an_output_cut_short_returns_without_waiting_for_the_child() {
    // Cut short while reading stdout, then (stdout closed) while waiting
    // for the stderr reader.
    for script in ["echo BDFL; read line", "echo BDFL; exec >&-; read line"] {
        let returned = returns_before_the_child_ends(script, |mut cmd| {
            let cut = green::timeout(Duration::from_millis(20), || cmd.output());
            assert!(cut.is_err(), "the child waits for us");
        });
        assert!(
            returned,
            "{script}: the timeout waited for the child to end"
        );
        let returned = returns_before_the_child_ends(script, |mut cmd| {
            let reader = green::spawn(move || {
                let _ = cmd.output();
                unreachable!("the child waits for us");
            });
            green::sleep(Duration::from_millis(20));
            reader.kill();
        });
        assert!(returned, "{script}: the kill waited for the child to end");
    }
}

#[test]
fn debug_prints_as_std_s() {
    let (sr, sw) = std::io::pipe().unwrap();
    let (gr, gw) = io::pipe().unwrap();
    let with_fd = |text: String, from: i32, to: i32| {
        text.replace(&format!("fd: {from} "), &format!("fd: {to} "))
    };
    assert_eq!(
        format!("{gr:?} {gw:?}"),
        with_fd(
            with_fd(format!("{sr:?} {sw:?}"), sr.as_raw_fd(), gr.as_raw_fd()),
            sw.as_raw_fd(),
            gw.as_raw_fd()
        )
    );
    // the alternate form too, against std's ends on the very same fds
    {
        use std::mem::ManuallyDrop;
        use std::os::fd::FromRawFd;
        // SAFETY: borrowed views of gr's and gw's open fds, never dropped,
        // so never closed.
        let (vr, vw) = unsafe {
            (
                ManuallyDrop::new(std::io::PipeReader::from_raw_fd(gr.as_raw_fd())),
                ManuallyDrop::new(std::io::PipeWriter::from_raw_fd(gw.as_raw_fd())),
            )
        };
        assert_eq!(format!("{gr:#?} {gw:#?}"), format!("{:#?} {:#?}", *vr, *vw));
    }
    let spawn = |piped: fn() -> Stdio| Command::new("true").stdin(piped()).spawn().unwrap();
    let std_child = std::process::Command::new("true")
        .stdin(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut green_child = spawn(Stdio::piped);
    assert_eq!(format!("{green_child:?}"), format!("{std_child:?}"));
    let mut std_child = std_child;
    std_child.wait().unwrap();
    green_child.wait().unwrap();
    let mut cmd = Command::new("echo");
    cmd.arg("hi").env("K", "v");
    let mut std_cmd = std::process::Command::new("echo");
    std_cmd.arg("hi").env("K", "v");
    assert_eq!(format!("{cmd:?}"), format!("{std_cmd:?}"));
    assert_eq!(format!("{cmd:#?}"), format!("{std_cmd:#?}"));
}

#[test]
fn command_ext_settings_keep_output_green() {
    use green_std::os::unix::process::CommandExt;
    // CommandExt's settings touch no stdio, so output stays green: the
    // child is forked by the greenlet's own thread, not by a pool thread
    // (one taken from file IO and DNS for the child's whole life). The
    // child tells which from its name before exec, inherited from the
    // forking thread.
    let (stdout, stderr) = within(|| {
        std::thread::Builder::new()
            .name("the-hub".into())
            .spawn(|| {
                green::run(|| {
                    let mut cmd = Command::new("sh");
                    cmd.args(["-c", "echo $0"]).process_group(0).arg0("renamed");
                    // SAFETY: prctl and write are async-signal-safe, and
                    // touch only the child's own name and stderr.
                    unsafe {
                        cmd.pre_exec(|| {
                            let mut name = [0u8; 16];
                            libc::prctl(libc::PR_GET_NAME, name.as_mut_ptr());
                            let len = name.iter().position(|&b| b == 0).unwrap_or(16);
                            libc::write(2, name.as_ptr().cast(), len);
                            Ok(())
                        })
                    };
                    let out = cmd.output().unwrap();
                    (out.stdout, out.stderr)
                })
            })
            .unwrap()
            .join()
            .unwrap()
    });
    assert_eq!(stdout, b"renamed\n");
    assert_eq!(
        String::from_utf8_lossy(&stderr),
        "the-hub",
        "forked by another thread"
    );
}

#[test]
fn an_end_adopted_from_a_file_keeps_its_offset_and_append_mode() {
    // std's pipe ends take any fd: only a pipe gets a description of its
    // own, a file keeps its offset and O_APPEND
    let path = std::env::temp_dir().join(format!("green-adopt-{}", std::process::id()));
    std::fs::write(&path, "0123456789").unwrap();
    let mut f = std::fs::File::open(&path).unwrap();
    let mut five = [0; 5];
    f.read_exact(&mut five).unwrap();
    let mut r = io::PipeReader::from(OwnedFd::from(f));
    let mut rest = String::new();
    r.read_to_string(&mut rest).unwrap();
    assert_eq!(rest, "56789");
    let f = std::fs::OpenOptions::new()
        .append(true)
        .open(&path)
        .unwrap();
    let mut w = io::PipeWriter::from(OwnedFd::from(f));
    w.write_all(b"AB").unwrap();
    drop(w);
    assert_eq!(std::fs::read_to_string(&path).unwrap(), "0123456789AB");
    std::fs::remove_file(&path).unwrap();
}

/// A job the pool cannot take (here: a bad `GREEN_BLOCKING_THREADS`, which
/// panics as the job is submitted) is dropped without running: the command
/// lent to it comes back all the same. The next use waited forever before.
#[test]
fn a_command_lent_to_a_job_that_never_runs_comes_back() {
    const TEST: &str = "a_command_lent_to_a_job_that_never_runs_comes_back";
    let out = core_util::in_child(TEST, &[("GREEN_BLOCKING_THREADS", "garbage")], || {
        green::run(|| {
            let mut cmd = Command::from(std::process::Command::new("true"));
            let submit = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| cmd.output()));
            assert!(submit.is_err(), "the pool refuses the job");
            assert_eq!(cmd.get_program(), "true");
            println!("given back");
        });
    });
    assert!(
        out.status.success() && out.stdout.contains("given back"),
        "the command was never given back: {}",
        out.describe()
    );
}
