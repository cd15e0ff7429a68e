//! A mirror of `std` where only the `use` lines change.
//!
//! Take a program written for std threads and blocking IO, replace `std::`
//! with `green_std::` in its `use` lines, wrap `main` in [`green::run`], and
//! it runs as greenlets on one OS thread: every call that would block the
//! thread (a socket read, `thread::sleep`, a `Mutex`, a file read) parks the
//! calling greenlet instead, and the hub runs the others.
//!
//! Each module re-exports its std twin and shadows the items that would
//! block with green versions of the same name and signature. Modules not
//! listed below are std's, re-exported unchanged, so
//! `green_std::collections::HashMap` works too.
//!
//! Outside `green::run`, every item behaves exactly like std's.
//!
//! # What is green, module by module
//!
//! | module | replaced by a green version | re-exported from std | not provided, and why |
//! |---|---|---|---|
//! | `thread` | `spawn`, `Builder` (`name`, `stack_size`, `spawn`, `spawn_scoped`), `JoinHandle`, `Thread`, `ThreadId`, `current`, `park`, `park_timeout`, `sleep`, `sleep_until` (stable here), `yield_now`, the deprecated `sleep_ms` and `park_timeout_ms`, `scope`, `Scope`, `ScopedJoinHandle` | `available_parallelism`, `panicking`, `LocalKey`/`thread_local!`, `Result`, `AccessError` and the rest | `JoinHandle` and `ScopedJoinHandle` are not `Send` (a greenlet's handle stays on its hub) |
//! | `sync` | `Mutex`, `MutexGuard`, `RwLock` and guards, `Condvar`, `WaitTimeoutResult`, `Barrier`, `BarrierWaitResult`, `Once`, `OnceState`, `OnceLock`, `LazyLock` (a waiter parks while another greenlet initializes); `mpsc::{channel, sync_channel, Sender, SyncSender, Receiver, Iter, TryIter, IntoIter}` | `Arc`, `Weak`, atomics, `PoisonError`, `TryLockError`, `LockResult`, mpsc's error types | `MutexGuard::map` and other unstable items |
//! | `net` | `TcpStream`, `TcpListener`, `UdpSocket`, `Incoming`, `IntoIncoming`, `ToSocketAddrs` (resolves off the hub) | addresses, `Shutdown`, `IpAddr` and the rest | |
//! | `os::unix::net` | `UnixStream`, `UnixListener`, `UnixDatagram`, `Incoming` | `SocketAddr` and the rest of `std::os` | Unix-socket `peek`, credentials and ancillary data (unstable in std) |
//! | `fs` | `File`, `OpenOptions`, `ReadDir`, `DirEntry`, `DirBuilder`, and every free function (`read`, `write`, `read_to_string`, `read_dir`, `metadata`, `copy`, `rename`, `remove_*`, `create_dir*`, links…) | `Metadata`, `Permissions`, `FileType`, `FileTimes` | `Path::exists`/`Path::metadata` are `Path`'s own methods and stay std's (they block) |
//! | `io` | `stdin`, `stdout`, `stderr`, `Stdin`, `StdinLock`, `Stdout`, `StdoutLock`, `Stderr`, `StderrLock` (never block the hub, never make the shared fds non-blocking), `pipe`, `PipeReader`, `PipeWriter`; and the macros `print!`, `println!`, `eprint!`, `eprintln!` at the crate root | the traits (`Read`, `Write`, `BufRead`, `Seek`, `IsTerminal`), `BufReader`, `BufWriter`, `LineWriter`, `copy`, `read_to_string`, `Cursor`, `Error`, `ErrorKind`, `Result`, `empty`, `sink`, `repeat`, `Lines`, `Bytes`, `Chain`, `Take` and the rest | `IsTerminal` is sealed in std: the green handles have an inherent `is_terminal()` instead, so `stdout().is_terminal()` still compiles; `FromRawFd` on the pipe ends (use `From<OwnedFd>`) |
//! | `process` | `Command`, `Child` (waits park the greenlet: a pidfd, or polling `try_wait` where pidfds are missing), `ChildStdin`, `ChildStdout`, `ChildStderr`; `os::unix::process::CommandExt` for the green `Command` | `Stdio`, `Output`, `ExitStatus`, `ExitCode`, `exit`, `abort`, `id`, `Termination`, `CommandArgs`, `CommandEnvs` | `Command::spawn` itself runs on the hub (std returns once the child has exec'd) |
//! | every other module (`time`, `collections`, …) | | all of it | |
//!
//! # Known traps
//!
//! - **A std lock held across a switch.** A `std::sync::Mutex` guard held
//!   while the greenlet sleeps, reads a socket or waits on a channel: when a
//!   second greenlet of the hub asks for that mutex, it blocks the thread,
//!   and the first can never run again to release it. Use
//!   `green_std::sync::Mutex` (it parks instead), or release the guard first.
//!   std's `Once`, `OnceLock` and `LazyLock` (a dependency's, say) are the
//!   same trap when their initialiser switches: a second greenlet that
//!   reaches the cell meanwhile blocks the thread. `green_std::sync`'s park.
//! - **A blocking call from a crate that uses std directly.** A dependency
//!   calling `std::net::TcpStream::connect`, `std::thread::sleep` or
//!   `std::fs::read` blocks every greenlet of the hub while it waits. Wrap
//!   such calls in [`green::unblock`]. To find them, set
//!   `GREEN_MAX_BLOCKING_TIME=100` (or call `green::set_max_blocking_time`):
//!   green then reports on stderr each greenlet that blocks its hub for more
//!   than 100 ms.
//! - **`println!` is std's unless imported.** The prelude's `println!`,
//!   `print!`, `eprintln!` and `eprint!` write through std's handles, which
//!   block the hub while stdout is a pipe its reader does not drain. Add
//!   `use green_std::{print, println, eprint, eprintln};` to swap in green
//!   ones (same buffer, so output stays in order). Mixed on one hub, a std
//!   print can even land inside a green line longer than std's 1 KiB buffer
//!   that waits for the pipe: std's lock lets the hub's thread back in.
//! - **Stdin has its own buffer.** Reading the same input through both
//!   `std::io::stdin()` and `green_std::io::stdin()` splits it between them.
//! - **std's stdout lock held by another thread.** Green's stdout and stderr
//!   write through std's handles, whose lock std cannot try: while a plain
//!   thread holds `std::io::stdout().lock()`, a green print inside `run`
//!   waits for it on the hub's thread, as a std print waits on its own.
//! - **Standard streams redirected while running.** Whether fd 0, 1 and 2 are
//!   regular files (written straight through) or pipes and terminals (waited
//!   on) is looked at once, at their first green use: a program that later
//!   `dup2`s a pipe over stdout should do it before its first green print.
//! - **Pipe descriptors are non-blocking underneath.** A green pipe end (from
//!   `green_std::io::pipe` or a child's piped stream) is non-blocking in the
//!   kernel while green holds it, so a raw `read(2)` on a copy of its fd
//!   (`as_fd().try_clone_to_owned()`) can fail with `WouldBlock`. Converted
//!   into an `OwnedFd` or a `Stdio`, an end is handed out as a blocking
//!   description of its own; its clones keep theirs.
//! - **`thread_local!` is per OS thread**: every greenlet of a hub shares it.
//!   Use [`green::local!`] for per-greenlet values.
//! - **A `Thread` taken before `run` is the OS thread, not its main
//!   greenlet.** Inside `run`, `thread::current()` is the main greenlet, with
//!   an id of its own; an `unpark` through a handle taken before `run` sets
//!   the OS thread's token, which the main greenlet's `park` never reads, so
//!   it sleeps on (to its timeout, or for ever). Take the handle inside `run`.

pub use std::*;

pub mod fs;
pub mod io;
mod lent;
pub mod net;
pub mod os;
pub mod process;
pub mod sync;
mod sys;
pub mod thread;

/// std's [`print!`](std::print), through green-std's [`stdout`](io::stdout):
/// inside `green::run` a full stdout pipe parks the greenlet instead of
/// blocking the thread. Import it (`use green_std::print;`) to shadow std's.
///
/// # Panics
///
/// As std's: if writing to stdout fails.
///
/// # Examples
///
/// ```
/// use green_std::print;
/// green::run(|| print!("no newline, {}", "flushed at exit"));
/// ```
#[macro_export]
macro_rules! print {
    ($($arg:tt)*) => {
        $crate::io::_print(::std::format_args!($($arg)*))
    };
}

/// std's [`println!`](std::println), through green-std's
/// [`stdout`](io::stdout). Import it (`use green_std::println;`) to shadow
/// std's.
///
/// # Panics
///
/// As std's: if writing to stdout fails.
///
/// # Examples
///
/// ```
/// use green_std::println;
/// green::run(|| println!("hello from greenlet {}", green::current().id().as_u64()));
/// ```
#[macro_export]
macro_rules! println {
    () => {
        $crate::io::_print(::std::format_args!("\n"))
    };
    ($($arg:tt)*) => {
        $crate::io::_print(::std::format_args!("{}\n", ::std::format_args!($($arg)*)))
    };
}

/// std's [`eprint!`](std::eprint), through green-std's
/// [`stderr`](io::stderr). Import it (`use green_std::eprint;`) to shadow
/// std's.
///
/// # Panics
///
/// As std's: if writing to stderr fails.
///
/// # Examples
///
/// ```
/// use green_std::eprint;
/// eprint!("a warning without a newline\n");
/// ```
#[macro_export]
macro_rules! eprint {
    ($($arg:tt)*) => {
        $crate::io::_eprint(::std::format_args!($($arg)*))
    };
}

/// std's [`eprintln!`](std::eprintln), through green-std's
/// [`stderr`](io::stderr). Import it (`use green_std::eprintln;`) to shadow
/// std's.
///
/// # Panics
///
/// As std's: if writing to stderr fails.
///
/// # Examples
///
/// ```
/// use green_std::eprintln;
/// green::run(|| eprintln!("warning: {}", 42));
/// ```
#[macro_export]
macro_rules! eprintln {
    () => {
        $crate::io::_eprint(::std::format_args!("\n"))
    };
    ($($arg:tt)*) => {
        $crate::io::_eprint(::std::format_args!("{}\n", ::std::format_args!($($arg)*)))
    };
}
