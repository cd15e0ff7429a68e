//! `std::fs`, where every call that reaches the file system runs on green's
//! thread pool inside [`green::run`], so the hub never waits on a disk.
//!
//! Inside `run`, each operation sends its syscalls to
//! [`green::unblock`]'s pool as a *job* and parks the calling greenlet; the
//! hub runs the others meanwhile. Outside `run`, every item calls std
//! directly on the calling thread and behaves exactly like std's. Either
//! way the syscalls are made by std itself, so results and error kinds are
//! std's.
//!
//! [`File`], [`OpenOptions`], [`ReadDir`], [`DirEntry`], [`DirBuilder`] and
//! the free functions are green. [`Metadata`], [`Permissions`],
//! [`FileType`], [`FileTimes`] and [`TryLockError`] never touch the disk
//! and are std's.
//!
//! # Jobs per operation
//!
//! A job is one round trip to the pool (tens of microseconds), so
//! operations are shaped to need few, and never one per small piece where
//! std makes a single call:
//!
//! | operation | jobs |
//! |---|---|
//! | `fs::read`, `fs::read_to_string`, `Read::read_to_end`, `Read::read_to_string` | 1, for the whole file |
//! | `Read::read`, `Write::write`, their vectored forms, `FileExt::read_at`, `write_at` | 1, moving at most 8 MiB (a short read or write, as std allows) |
//! | `Read::read_exact`, `Write::write_all`, `FileExt::read_exact_at`, `write_all_at` | 1 per 8 MiB |
//! | `write!` / `writeln!` on a `File` | as `write_all`: formatted first, where std makes a syscall per piece |
//! | `fs::write` | 1 up to 8 MiB; beyond, 1 to create and 1 per 8 MiB |
//! | `fs::read_dir` | 1 to open and read 1024 entries, then 1 per 1024 entries |
//! | `DirEntry::file_type` / `DirEntry::metadata` | 0 (read with the entry) / 1 |
//! | everything else: opening, `metadata`, `seek`, `set_len`, syncs, locks, `copy`, `rename`, removals… | 1 |
//! | `try_clone`, `flush`, `as_fd`, conversions, `Debug` | 0: no disk wait |
//!
//! # Buffers are copied
//!
//! A pool thread may not write into the caller's buffer: a greenlet killed
//! while it waits unwinds at once and frees the buffer, while its job runs
//! on. So reads fill a `Vec` on the pool that is then copied into the
//! caller's buffer, and writes copy the caller's bytes into the job. At
//! most 8 MiB per job bounds both the extra memory and the time the hub's
//! thread spends copying. `read_to_end` and `read_to_string` into an empty
//! buffer, `fs::read` and `fs::read_to_string` move the pool's `Vec` over
//! without copying.
//!
//! # Differences from std
//!
//! - Unwinding a greenlet that waits on a file operation (killing it, or
//!   a [`green::timeout`] firing) does not cancel the operation: its job
//!   runs to completion on the pool, keeping its `File` open until then (a
//!   [`File::lock`] keeps waiting for the lock). The program still sees
//!   std's order: the file's next operations wait for that job, a read's
//!   bytes are the next ones read (or the cursor is put back before them),
//!   and a write's error is returned by the next write, flush or sync. On a
//!   file without a cursor (pipe, FIFO, socket, tty), reads and the rest
//!   are independent streams, as on std threads: a write does not wait for
//!   a read cut short, nor a read for a write; conversions into std's
//!   types wait for everything. See [`File`]'s "Cut short". A [`ReadDir`]
//!   goes on where the batch job left it; functions on paths leave nothing
//!   behind (their result is dropped).
//! - Files and directories are closed when dropped on the dropping thread,
//!   as std's are: `close` is not sent to the pool.
//! - A [`ReadDir`] reads ahead 1024 entries at a time. Whether entries
//!   added or removed meanwhile appear is unspecified, for std's too.
//! - [`DirEntry`] is a type of its own (std's `DirEntry::metadata` would
//!   make its syscall on the hub's thread).
//! - `Read`, `Write` and `Seek` are implemented for `File` and `&File`, not
//!   for `Arc<File>` (a crate may not implement std's traits for std's
//!   `Arc`); `IsTerminal` is sealed to std's types (use
//!   `file.as_fd().is_terminal()`).
//! - Not green here: `Path`'s own methods (`Path::exists`, `metadata`,
//!   `read_dir`, `canonicalize`…), which call std's `fs` directly; use the
//!   functions of this module instead.
//!
//! # Examples
//!
//! ```
//! use green_std::fs;
//! use green_std::io::{Read, Write};
//!
//! fn save_and_load(dir: &std::path::Path) -> std::io::Result<String> {
//!     fs::create_dir_all(dir)?;
//!     let path = dir.join("notes.txt");
//!     let mut file = fs::File::create(&path)?;
//!     writeln!(file, "{} + {} = {}", 2, 2, 4)?;
//!     let mut text = String::new();
//!     fs::File::open(&path)?.read_to_string(&mut text)?;
//!     fs::remove_dir_all(dir)?;
//!     Ok(text)
//! }
//!
//! let dir = std::env::temp_dir().join(format!("green-doc-fs-{}", std::process::id()));
//! assert_eq!(save_and_load(&dir)?, "2 + 2 = 4\n"); // the calling thread
//! assert_eq!(green::run(|| save_and_load(&dir))?, "2 + 2 = 4\n"); // green's pool
//! # std::io::Result::Ok(())
//! ```

mod dir;
mod file;
mod functions;
mod lane;
mod open_options;
mod pool;
mod read_write;

pub use std::fs::*;

pub use dir::{DirBuilder, DirEntry, ReadDir};
pub use file::File;
#[allow(deprecated)]
pub use functions::soft_link;
pub use functions::{
    canonicalize, copy, create_dir, create_dir_all, exists, hard_link, metadata, read, read_dir,
    read_link, read_to_string, remove_dir, remove_dir_all, remove_file, rename, set_permissions,
    symlink_metadata, write,
};
pub use open_options::OpenOptions;
