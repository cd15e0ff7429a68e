//! Helpers shared by the integration tests of green-core: a per-test
//! watchdog, scenarios run in a child process, panic payloads as text,
//! drop guards, ordering logs and fd helpers.
//!
//! Every test file uses only some of them.
#![allow(dead_code)]

use std::cell::RefCell;
use std::io::Read;
use std::os::fd::{AsRawFd, RawFd};
use std::os::unix::process::ExitStatusExt;
use std::process::{Command, ExitStatus, Stdio};
use std::rc::Rc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{mpsc, Arc};
use std::time::{Duration, Instant};

/// How long one test may run before its watchdog aborts the process.
pub const TEST_LIMIT: Duration = Duration::from_secs(60);

/// How long a child process may run before it is killed.
pub const CHILD_LIMIT: Duration = Duration::from_secs(60);

/// The environment variable that tells a re-run test binary which test's
/// scenario to play.
pub const CHILD_ENV: &str = "GREEN_TEST_CHILD";

/// Aborts the whole test process, naming the test, if the guard is still
/// alive after [`TEST_LIMIT`]: a hang fails loudly instead of blocking CI.
#[must_use = "the watchdog stops when the guard is dropped"]
pub struct Watchdog {
    _stop: mpsc::Sender<()>,
}

/// Starts a watchdog for the calling test (see [`Watchdog`]).
pub fn watchdog() -> Watchdog {
    let (stop, stopped) = mpsc::channel::<()>();
    let name = std::thread::current()
        .name()
        .unwrap_or("<unnamed test>")
        .to_string();
    std::thread::Builder::new()
        .name("watchdog".into())
        .spawn(move || {
            if let Err(mpsc::RecvTimeoutError::Timeout) = stopped.recv_timeout(TEST_LIMIT) {
                eprintln!("test {name} did not finish within {TEST_LIMIT:?}: aborting");
                std::process::abort();
            }
        })
        .expect("start the watchdog thread");
    Watchdog { _stop: stop }
}

/// What a child process did.
#[derive(Debug)]
pub struct ChildOutput {
    pub status: ExitStatus,
    pub stdout: String,
    pub stderr: String,
    /// It was killed for running longer than [`CHILD_LIMIT`].
    pub timed_out: bool,
}

impl ChildOutput {
    /// The signal that ended it, if one did.
    pub fn signal(&self) -> Option<i32> {
        self.status.signal()
    }

    /// Everything it said, for assertion messages.
    pub fn describe(&self) -> String {
        format!(
            "status: {} (timed out: {})\n--- stdout ---\n{}\n--- stderr ---\n{}",
            self.status, self.timed_out, self.stdout, self.stderr
        )
    }
}

/// Runs `scenario` in a child process and returns what the child did.
///
/// The child is this test binary again, told to run only the test named
/// `test` (which must be the calling test's name) with [`CHILD_ENV`] set.
/// In the child, `in_child` runs `scenario`, then ends the process with
/// status 0, so the caller's assertions only ever run in the parent:
///
/// ```ignore
/// #[test]
/// fn my_test() {
///     let out = util::in_child("my_test", &[], || scenario());
///     assert!(out.stderr.contains("…"));
/// }
/// ```
///
/// The child inherits no `RUST_BACKTRACE`, `GREEN_STACK_SIZE` or
/// `GREEN_MAX_BLOCKING_TIME` unless `env` sets them; it is killed after
/// [`CHILD_LIMIT`].
pub fn in_child(test: &str, env: &[(&str, &str)], scenario: impl FnOnce()) -> ChildOutput {
    if std::env::var(CHILD_ENV).as_deref() == Ok(test) {
        scenario();
        std::process::exit(0);
    }
    let exe = std::env::current_exe().expect("test binary path");
    let mut cmd = Command::new(exe);
    cmd.args([test, "--exact", "--nocapture", "--test-threads=1"])
        .env(CHILD_ENV, test)
        .env_remove("RUST_BACKTRACE")
        .env_remove("RUST_LIB_BACKTRACE")
        .env_remove("GREEN_STACK_SIZE")
        .env_remove("GREEN_MAX_BLOCKING_TIME")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    for (k, v) in env {
        cmd.env(k, v);
    }
    let mut child = cmd.spawn().expect("spawn the child process");
    let stdout = drain(child.stdout.take().expect("piped stdout"));
    let stderr = drain(child.stderr.take().expect("piped stderr"));
    let start = Instant::now();
    let mut timed_out = false;
    let status = loop {
        if let Some(status) = child.try_wait().expect("wait for the child") {
            break status;
        }
        if start.elapsed() > CHILD_LIMIT {
            timed_out = true;
            let _ = child.kill();
            break child.wait().expect("wait for the killed child");
        }
        std::thread::sleep(Duration::from_millis(5));
    };
    ChildOutput {
        status,
        stdout: stdout.join().expect("stdout reader"),
        stderr: stderr.join().expect("stderr reader"),
        timed_out,
    }
}

/// Runs `scenario` in a child process as [`in_child`] does (no extra
/// environment), asserts that the child exited with status 0 and that its
/// stderr contains each of `expected`, and returns what it did for further
/// checks.
pub fn in_child_ok(test: &str, scenario: impl FnOnce(), expected: &[&str]) -> ChildOutput {
    let out = in_child(test, &[], scenario);
    assert!(out.status.success(), "{}", out.describe());
    for e in expected {
        assert!(
            out.stderr.contains(e),
            "no {e:?} on stderr\n{}",
            out.describe()
        );
    }
    out
}

/// Reads a pipe to its end on a thread, so that a chatty child never blocks
/// on a full pipe.
fn drain(mut pipe: impl Read + Send + 'static) -> std::thread::JoinHandle<String> {
    std::thread::spawn(move || {
        let mut bytes = Vec::new();
        let _ = pipe.read_to_end(&mut bytes);
        String::from_utf8_lossy(&bytes).into_owned()
    })
}

/// A panic payload as text (`&str` and `String` payloads), or `""`.
pub fn panic_message(payload: &(dyn std::any::Any + Send)) -> String {
    payload
        .downcast_ref::<&str>()
        .map(|s| s.to_string())
        .or_else(|| payload.downcast_ref::<String>().cloned())
        .unwrap_or_default()
}

/// Runs `f`, which must panic, and returns its panic message.
pub fn panic_of<R>(f: impl FnOnce() -> R) -> String {
    match std::panic::catch_unwind(std::panic::AssertUnwindSafe(f)) {
        Ok(_) => panic!("expected a panic"),
        Err(payload) => panic_message(&*payload),
    }
}

/// Runs a hub on a new thread whose shutdown leaks the stack of a greenlet
/// that drops `guard`: greenlet g catches its kill at the end of `run` and
/// joins h, which joins g, a deadlock that `run` reports; the shutdown's
/// forced unwind of h then drops `guard`, whose destructor may wait (on a
/// channel, an event), and h's stack is leaked with that wait in it.
/// Returns once that `run` has panicked and its thread is gone.
pub fn leak_a_stack_dropping(guard: impl Send + 'static) {
    type Slot = Rc<RefCell<Option<green::JoinHandle<()>>>>;
    let run = std::thread::spawn(move || {
        green::run(move || {
            let (slot_g, slot_h): (Slot, Slot) = Default::default();
            let (sg, sh) = (slot_g.clone(), slot_h.clone());
            let g = green::spawn(move || {
                let _ = std::panic::catch_unwind(|| green::sleep(Duration::from_secs(3600)));
                let _ = sh.borrow_mut().take().unwrap().join();
            });
            let h = green::spawn(move || {
                let _guard = guard;
                let _ = sg.borrow_mut().take().unwrap().join();
            });
            *slot_g.borrow_mut() = Some(g);
            *slot_h.borrow_mut() = Some(h);
            green::yield_now();
        })
    });
    assert!(run.join().is_err(), "run reports the deadlock");
}

/// A log of events in the order they happened, shared by the greenlets of
/// one hub.
#[derive(Clone, Default)]
pub struct Log(Rc<RefCell<Vec<String>>>);

impl Log {
    pub fn new() -> Log {
        Log::default()
    }

    pub fn push(&self, event: impl Into<String>) {
        self.0.borrow_mut().push(event.into());
    }

    pub fn take(&self) -> Vec<String> {
        std::mem::take(&mut *self.0.borrow_mut())
    }

    pub fn lines(&self) -> Vec<String> {
        self.0.borrow().clone()
    }
}

/// Counts its drops: proves that a destructor ran (or did not).
pub struct DropCounter(pub Arc<AtomicUsize>);

impl Drop for DropCounter {
    fn drop(&mut self) {
        self.0.fetch_add(1, Ordering::SeqCst);
    }
}

/// A fresh drop count, and a way to make guards that bump it.
#[derive(Clone, Default)]
pub struct Drops(Arc<AtomicUsize>);

impl Drops {
    pub fn new() -> Drops {
        Drops::default()
    }

    pub fn guard(&self) -> DropCounter {
        DropCounter(self.0.clone())
    }

    pub fn count(&self) -> usize {
        self.0.load(Ordering::SeqCst)
    }
}

/// The size of a memory page.
pub fn page_size() -> usize {
    // SAFETY: sysconf has no preconditions.
    let n = unsafe { libc::sysconf(libc::_SC_PAGESIZE) };
    usize::try_from(n).expect("the page size")
}

/// Whether the kernel installs guard markers (`MADV_GUARD_INSTALL`, Linux
/// 6.13), which green's stack slabs use for guard pages: then a slab of
/// default-size stacks is one mapping.
#[allow(dead_code)]
pub fn guard_markers() -> bool {
    const MADV_GUARD_INSTALL: libc::c_int = 102;
    let page = page_size();
    // SAFETY: a fresh private mapping of one page, unmapped below; the
    // madvise only installs a guard marker in it.
    unsafe {
        let p = libc::mmap(
            std::ptr::null_mut(),
            page,
            libc::PROT_READ | libc::PROT_WRITE,
            libc::MAP_PRIVATE | libc::MAP_ANONYMOUS,
            -1,
            0,
        );
        assert_ne!(p, libc::MAP_FAILED, "mmap one page");
        let ok = libc::madvise(p, page, MADV_GUARD_INSTALL) == 0;
        libc::munmap(p, page);
        ok
    }
}

/// Puts `fd` in non-blocking mode.
pub fn set_nonblocking(fd: &impl AsRawFd) {
    let fd: RawFd = fd.as_raw_fd();
    // SAFETY: fcntl on an fd the caller keeps open; F_GETFL/F_SETFL take
    // and return plain integers.
    let flags = unsafe { libc::fcntl(fd, libc::F_GETFL) };
    assert!(flags >= 0, "F_GETFL: {}", std::io::Error::last_os_error());
    // SAFETY: as above.
    let r = unsafe { libc::fcntl(fd, libc::F_SETFL, flags | libc::O_NONBLOCK) };
    assert_eq!(r, 0, "F_SETFL: {}", std::io::Error::last_os_error());
}

/// The kernel's id of the calling thread, for [`wait_until_asleep`].
pub fn thread_id() -> u32 {
    // SAFETY: gettid has no preconditions.
    let tid = unsafe { libc::gettid() };
    u32::try_from(tid).expect("a thread id")
}

/// Waits until thread `tid` of this process sleeps in the kernel (state
/// `S` in `/proc/self/task/<tid>/stat`): a thread that said it was about to
/// block (on a lock the caller holds, say) has blocked, so a test can go on
/// without guessing how long the machine takes to run it. Panics after
/// [`TEST_LIMIT`].
pub fn wait_until_asleep(tid: u32) {
    let path = format!("/proc/self/task/{tid}/stat");
    let start = Instant::now();
    loop {
        let stat = std::fs::read_to_string(&path).expect("read the thread's stat");
        // The state follows the command name, which is in parentheses.
        let state = stat.rsplit_once(") ").map(|(_, rest)| &rest[..1]);
        if state == Some("S") {
            return;
        }
        assert!(
            start.elapsed() < TEST_LIMIT,
            "thread {tid} never slept: {stat}"
        );
        std::thread::yield_now();
    }
}

/// The open file descriptors of this process, with what they point at
/// (leaving out the one that lists them).
pub fn open_fds() -> Vec<String> {
    let mut fds: Vec<String> = std::fs::read_dir("/proc/self/fd")
        .expect("read /proc/self/fd")
        .filter_map(Result::ok)
        .filter_map(|e| {
            let target = std::fs::read_link(e.path()).ok()?.display().to_string();
            let listing = target.starts_with("/proc/") && target.ends_with("/fd");
            (!listing).then(|| format!("{} -> {target}", e.file_name().to_string_lossy()))
        })
        .collect();
    fds.sort();
    fds
}

/// Whether `addr` lies in a readable mapping of this process (from
/// `/proc/self/maps`): lets a test tell a dangling pointer into an unmapped
/// stack from a live one without dereferencing it.
pub fn is_mapped(addr: usize) -> bool {
    let maps = std::fs::read_to_string("/proc/self/maps").expect("read /proc/self/maps");
    maps.lines().any(|line| {
        let mut fields = line.split_whitespace();
        let (Some(range), Some(perms)) = (fields.next(), fields.next()) else {
            return false;
        };
        let Some((start, end)) = range.split_once('-') else {
            return false;
        };
        let parse = |s| usize::from_str_radix(s, 16).unwrap_or(0);
        (parse(start)..parse(end)).contains(&addr) && perms.starts_with('r')
    })
}

/// Borrows an array from a greenlet's stack and, when dropped, reads it, after
/// checking that the stack it lives on is still mapped (reading an unmapped
/// one would crash the child before it could say what went wrong).
pub struct ReadsOnDrop<'a>(pub &'a [u64; 64]);

impl Drop for ReadsOnDrop<'_> {
    fn drop(&mut self) {
        if !is_mapped(self.0.as_ptr() as usize) {
            eprintln!("the borrowed array dangles: its stack is unmapped");
            return;
        }
        let sum: u64 = std::hint::black_box(self.0).iter().sum();
        eprintln!("the borrowed array reads {sum}");
    }
}
