//! `green_std::fs`: inside `green::run` file operations run on green's
//! pool while the hub runs other greenlets, bytes and error kinds are
//! std's, and outside `run` everything is std's.
//!
//! Ordering, not time, proves the hub was free: a greenlet waiting in
//! `File::lock` or on a FIFO's `open` can only be released by another
//! greenlet of the same hub, so these tests would deadlock (and the
//! watchdog fail them) if the wait blocked the hub's thread.

use std::cell::{Cell, RefCell};
use std::collections::BTreeSet;
use std::fmt;
use std::io::{self, ErrorKind, IoSlice, IoSliceMut, Read, Seek, SeekFrom, Write};
use std::os::fd::{AsRawFd, FromRawFd, IntoRawFd, OwnedFd};
use std::os::unix::fs::{DirBuilderExt, DirEntryExt, FileExt, MetadataExt, OpenOptionsExt};
use std::os::unix::fs::{FileTypeExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::rc::Rc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, SystemTime};

use green_std::fs::{self, DirBuilder, File, FileTimes, OpenOptions, TryLockError};

mod util;
use util::within;

/// A fresh directory under the temporary directory, removed on drop.
struct TempDir(PathBuf);

impl TempDir {
    fn new(name: &str) -> TempDir {
        static NEXT: AtomicUsize = AtomicUsize::new(0);
        let n = NEXT.fetch_add(1, Ordering::Relaxed);
        let dir =
            std::env::temp_dir().join(format!("green-std-fs-{}-{name}-{n}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        TempDir(dir)
    }

    fn join(&self, name: &str) -> PathBuf {
        self.0.join(name)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// `len` pseudo-random bytes (xorshift), different per `seed`.
fn pattern(len: usize, seed: u64) -> Vec<u8> {
    let mut x = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x as u8
        })
        .collect()
}

/// Tens of MiB, not a multiple of the 8 MiB a job moves.
const BIG: usize = (24 << 20) + 12_345;

/// A greenlet that counts its turns until the returned flag is set.
fn ticker() -> (Rc<Cell<u64>>, Rc<Cell<bool>>, green::JoinHandle<()>) {
    let ticks = Rc::new(Cell::new(0));
    let stop = Rc::new(Cell::new(false));
    let (t, s) = (ticks.clone(), stop.clone());
    let handle = green::spawn(move || {
        while !s.get() {
            t.set(t.get() + 1);
            green::yield_now();
        }
    });
    (ticks, stop, handle)
}

#[test]
fn hub_runs_other_greenlets_during_big_reads_and_writes() {
    within(|| {
        let dir = TempDir::new("ticker");
        let path = dir.join("big");
        let data = pattern(BIG, 1);
        green::run(|| -> io::Result<()> {
            let (ticks, stop, ticker) = ticker();
            green::yield_now();

            let before = ticks.get();
            File::create(&path)?.write_all(&data)?;
            assert!(
                ticks.get() > before,
                "the ticker did not run during write_all"
            );

            let before = ticks.get();
            let mut back = Vec::new();
            File::open(&path)?.read_to_end(&mut back)?;
            assert!(
                ticks.get() > before,
                "the ticker did not run during read_to_end"
            );
            assert!(back == data);

            let before = ticks.get();
            for i in 0..200 {
                let small = dir.join(&format!("small-{i}"));
                fs::write(&small, i.to_string())?;
                assert_eq!(fs::read_to_string(&small)?, i.to_string());
                fs::remove_file(&small)?;
            }
            assert!(
                ticks.get() > before,
                "the ticker did not run during small ops"
            );

            stop.set(true);
            ticker.join().unwrap();
            Ok(())
        })
        .unwrap();
    });
}

#[test]
fn a_lock_wait_parks_only_the_greenlet() {
    within(|| {
        let dir = TempDir::new("lock");
        let path = dir.join("locked");
        green::run(|| -> io::Result<()> {
            let holder = File::create(&path)?;
            holder.lock()?;
            let waiter = File::open(&path)?;
            assert!(matches!(waiter.try_lock(), Err(TryLockError::WouldBlock)));
            assert!(matches!(
                waiter.try_lock_shared(),
                Err(TryLockError::WouldBlock)
            ));

            let locked = Rc::new(Cell::new(false));
            let l = locked.clone();
            let b = green::spawn(move || -> io::Result<()> {
                waiter.lock()?; // waits on the pool until main unlocks
                l.set(true);
                waiter.unlock()
            });
            green::yield_now(); // b starts waiting
            green::yield_now();
            assert!(!locked.get());
            holder.unlock()?; // only this greenlet can release b
            b.join().unwrap()?;
            assert!(locked.get());

            // shared locks coexist
            let (r1, r2) = (File::open(&path)?, File::open(&path)?);
            r1.lock_shared()?;
            r2.lock_shared()?;
            assert!(matches!(holder.try_lock(), Err(TryLockError::WouldBlock)));
            drop((r1, r2));
            holder.try_lock().unwrap();
            Ok(())
        })
        .unwrap();
    });
}

#[test]
fn a_killed_lock_waiter_releases_the_lock_when_its_job_ends() {
    within(|| {
        let dir = TempDir::new("kill-lock");
        let path = dir.join("locked");
        green::run(|| -> io::Result<()> {
            let holder = File::create(&path)?;
            holder.lock()?;
            let waiter = File::open(&path)?;
            let b = green::spawn(move || waiter.lock());
            green::yield_now(); // b waits in its job
            b.kill();
            assert!(b.join().unwrap_err().is_killed());
            holder.unlock()?;
            // b's job now takes the lock, ends, and closes its handle;
            // only then can a third handle lock
            File::open(&path)?.lock()?;
            Ok(())
        })
        .unwrap();
    });
}

#[test]
fn a_fifo_rendezvous_between_two_greenlets() {
    within(|| {
        let dir = TempDir::new("fifo");
        let fifo = fifo(&dir, "fifo");
        let text = green::run(|| {
            // opening a FIFO waits for the other end: each open can only
            // return once the other greenlet has run its own
            let reader = green::spawn({
                let fifo = fifo.clone();
                move || -> io::Result<String> {
                    let mut text = String::new();
                    File::open(&fifo)?.read_to_string(&mut text)?;
                    Ok(text)
                }
            });
            let writer = green::spawn({
                let fifo = fifo.clone();
                move || -> io::Result<()> {
                    let mut pipe = OpenOptions::new().write(true).open(&fifo)?;
                    writeln!(pipe, "through the pipe{}", 1 + 1)
                }
            });
            writer.join().unwrap().unwrap();
            reader.join().unwrap().unwrap()
        });
        assert_eq!(text, "through the pipe2\n");
    });
}

#[test]
fn tens_of_mib_round_trip_byte_exact() {
    within(|| {
        let dir = TempDir::new("round-trip");
        let data = pattern(BIG, 2);
        green::run(|| -> io::Result<()> {
            let a = dir.join("a");
            fs::write(&a, &data)?; // more than a job: create + chunks
            assert!(fs::read(&a)? == data);
            assert!(std::fs::read(&a)? == data);

            let b = dir.join("b");
            let mut file = File::create(&b)?;
            file.write_all(&data[..100])?;
            let n = file.write(&data[100..])?;
            assert!(n > 0);
            file.write_all(&data[100 + n..])?;
            drop(file);
            assert!(std::fs::read(&b)? == data);

            let mut file = File::open(&a)?;
            let mut exact = vec![0; BIG];
            file.read_exact(&mut exact)?;
            assert!(exact == data);
            assert_eq!(file.read(&mut [0; 16])?, 0);
            let err = file.read_exact(&mut [0; 1]).unwrap_err();
            assert_eq!(err.kind(), ErrorKind::UnexpectedEof);

            // seek and read back pieces around the 8 MiB boundaries
            for pos in [0, (8 << 20) - 3, (16 << 20) + 1, BIG - 10] {
                assert_eq!(file.seek(SeekFrom::Start(pos as u64))?, pos as u64);
                let mut piece = [0; 10];
                file.read_exact(&mut piece)?;
                assert_eq!(piece[..], data[pos..pos + 10]);
                assert_eq!(file.stream_position()?, pos as u64 + 10);
            }
            assert_eq!(file.seek(SeekFrom::End(-5))?, BIG as u64 - 5);
            file.seek(SeekFrom::Current(-5))?;
            let mut tail = Vec::new();
            assert_eq!(file.read_to_end(&mut tail)?, 10);
            assert_eq!(tail, data[BIG - 10..]);
            file.rewind()?;

            // a short read of a huge buffer, then the rest appended
            let mut start = vec![0; BIG];
            let n = file.read(&mut start)?;
            assert!(n > 0 && n <= BIG);
            start.truncate(n);
            assert_eq!(file.read_to_end(&mut start)?, BIG - n);
            assert!(start == data);

            // vectored
            file.rewind()?;
            let (mut x, mut y) = ([0; 3], [0; 5]);
            let n = file.read_vectored(&mut [IoSliceMut::new(&mut x), IoSliceMut::new(&mut y)])?;
            assert_eq!(n, 8);
            assert_eq!([&x[..], &y[..]].concat(), data[..8]);
            let c = dir.join("c");
            let mut out = File::create(&c)?;
            let n = out.write_vectored(&[IoSlice::new(b"ab"), IoSlice::new(b"cde")])?;
            assert_eq!(n, 5);
            out.flush()?;
            assert_eq!(fs::read(&c)?, b"abcde");

            // positioned, across chunks, leaving the cursor alone
            let d = dir.join("d");
            let file = OpenOptions::new()
                .read(true)
                .write(true)
                .create(true)
                .open(&d)?;
            file.write_all_at(&data, 7)?;
            let mut back = vec![0; BIG];
            file.read_exact_at(&mut back, 7)?;
            assert!(back == data);
            assert_eq!(file.write_at(b"xy", 1)?, 2);
            let mut two = [0; 2];
            assert_eq!(file.read_at(&mut two, 1)?, 2);
            assert_eq!(&two, b"xy");
            assert_eq!((&file).stream_position()?, 0);
            Ok(())
        })
        .unwrap();
    });
}

#[test]
fn read_to_end_and_read_to_string_append_like_std() {
    within(|| {
        let dir = TempDir::new("append");
        let path = dir.join("f");
        std::fs::write(&path, "tail").unwrap();
        let bad = dir.join("bad");
        std::fs::write(&bad, [b'o', b'k', 0xff]).unwrap();
        let program =
            |path: &Path, bad: &Path| -> io::Result<(Vec<u8>, String, ErrorKind, String)> {
                let mut bytes = b"head-".to_vec();
                File::open(path)?.read_to_end(&mut bytes)?;
                let mut text = String::from("head-");
                File::open(path)?.read_to_string(&mut text)?;
                let mut unchanged = String::from("kept");
                let err = File::open(bad)?.read_to_string(&mut unchanged).unwrap_err();
                Ok((bytes, text, err.kind(), unchanged))
            };
        let outside = program(&path, &bad).unwrap();
        let inside = green::run(|| program(&path, &bad)).unwrap();
        assert_eq!(outside, inside);
        assert_eq!(inside.0, b"head-tail");
        assert_eq!(inside.1, "head-tail");
        assert_eq!(inside.2, ErrorKind::InvalidData);
        assert_eq!(inside.3, "kept");
    });
}

#[test]
fn two_greenlets_read_one_file_through_shared_references() {
    within(|| {
        let dir = TempDir::new("shared");
        let path = dir.join("counters");
        const N: u32 = 1 << 18; // 1 MiB of big-endian counters
        let bytes: Vec<u8> = (0..N).flat_map(u32::to_be_bytes).collect();
        std::fs::write(&path, bytes).unwrap();
        green::run(|| -> io::Result<()> {
            let file = Rc::new(File::open(&path)?);
            let reader = |file: Rc<File>| {
                move || -> io::Result<Vec<u32>> {
                    let mut seen = Vec::new();
                    let mut buf = [0; 4096];
                    loop {
                        let n = (&*file).read(&mut buf)?;
                        if n == 0 {
                            return Ok(seen);
                        }
                        assert_eq!(n % 4, 0);
                        seen.extend(
                            buf[..n]
                                .chunks(4)
                                .map(|c| u32::from_be_bytes(c.try_into().unwrap())),
                        );
                    }
                }
            };
            let a = green::spawn(reader(file.clone()));
            let b = green::spawn(reader(file.clone()));
            let (a, b) = (a.join().unwrap()?, b.join().unwrap()?);
            assert!(!a.is_empty() && !b.is_empty(), "both greenlets read");
            let mut all: Vec<u32> = a.into_iter().chain(b).collect();
            all.sort_unstable();
            assert!(all.iter().copied().eq(0..N), "every counter exactly once");

            // and two writers appending through `&File`
            let log = Rc::new(
                OpenOptions::new()
                    .append(true)
                    .create(true)
                    .open(dir.join("log"))?,
            );
            let writer = |tag: u8, log: Rc<File>| {
                move || -> io::Result<()> {
                    for i in 0..100u8 {
                        (&*log).write_all(&[tag, i, b'\n'])?;
                    }
                    Ok(())
                }
            };
            let a = green::spawn(writer(b'a', log.clone()));
            let b = green::spawn(writer(b'b', log.clone()));
            a.join().unwrap()?;
            b.join().unwrap()?;
            let written = fs::read(dir.join("log"))?;
            let records: BTreeSet<&[u8]> = written.chunks(3).collect();
            assert_eq!(written.len(), 600);
            assert_eq!(records.len(), 200);
            Ok(())
        })
        .unwrap();
    });
}

/// The error of `with_std`, of `with_green` outside `run` and of
/// `with_green` inside it: the same kind (`kind`) and message.
fn same_error<T: fmt::Debug, U: fmt::Debug>(
    what: &str,
    kind: ErrorKind,
    with_std: impl FnOnce() -> io::Result<T>,
    with_green: impl Fn() -> io::Result<U>,
) {
    let std_err = with_std().expect_err(what);
    let outside = with_green().expect_err(what);
    let inside = green::run(&with_green).expect_err(what);
    for err in [&std_err, &outside, &inside] {
        assert_eq!(err.kind(), kind, "{what}: {err}");
    }
    assert_eq!(outside.to_string(), std_err.to_string(), "{what}");
    assert_eq!(inside.to_string(), std_err.to_string(), "{what}");
}

#[test]
#[allow(clippy::suspicious_open_options)] // an invalid combination is tested
fn error_kinds_and_messages_match_std() {
    within(|| {
        let dir = TempDir::new("errors");
        let missing = dir.join("missing");
        let file = dir.join("file");
        std::fs::write(&file, "x").unwrap();
        let full = dir.join("full");
        std::fs::create_dir(&full).unwrap();
        std::fs::write(full.join("inside"), "").unwrap();
        let bad = dir.join("bad-utf8");
        std::fs::write(&bad, [0xc3, 0x28]).unwrap();
        let nul = "a\0b";

        same_error(
            "open missing",
            ErrorKind::NotFound,
            || std::fs::File::open(&missing),
            || File::open(&missing),
        );
        same_error(
            "open with a NUL",
            ErrorKind::InvalidInput,
            || std::fs::File::open(nul),
            || File::open(nul),
        );
        same_error(
            "create_new existing",
            ErrorKind::AlreadyExists,
            || std::fs::File::create_new(&file),
            || File::create_new(&file),
        );
        same_error(
            "create without write",
            ErrorKind::InvalidInput,
            || {
                std::fs::OpenOptions::new()
                    .read(true)
                    .create(true)
                    .open(&missing)
            },
            || OpenOptions::new().read(true).create(true).open(&missing),
        );
        same_error(
            "metadata missing",
            ErrorKind::NotFound,
            || std::fs::metadata(&missing),
            || fs::metadata(&missing),
        );
        same_error(
            "read missing",
            ErrorKind::NotFound,
            || std::fs::read(&missing),
            || fs::read(&missing),
        );
        same_error(
            "read_to_string bad UTF-8",
            ErrorKind::InvalidData,
            || std::fs::read_to_string(&bad),
            || fs::read_to_string(&bad),
        );
        same_error(
            "create_dir existing",
            ErrorKind::AlreadyExists,
            || std::fs::create_dir(&full),
            || fs::create_dir(&full),
        );
        same_error(
            "create_dir missing parent",
            ErrorKind::NotFound,
            || std::fs::create_dir(missing.join("sub")),
            || fs::create_dir(missing.join("sub")),
        );
        same_error(
            "DirBuilder existing",
            ErrorKind::AlreadyExists,
            || std::fs::DirBuilder::new().create(&full),
            || DirBuilder::new().create(&full),
        );
        same_error(
            "remove_dir not empty",
            ErrorKind::DirectoryNotEmpty,
            || std::fs::remove_dir(&full),
            || fs::remove_dir(&full),
        );
        same_error(
            "remove_dir on a file",
            ErrorKind::NotADirectory,
            || std::fs::remove_dir(&file),
            || fs::remove_dir(&file),
        );
        same_error(
            "remove_file on a dir",
            ErrorKind::IsADirectory,
            || std::fs::remove_file(&full),
            || fs::remove_file(&full),
        );
        same_error(
            "remove_file missing",
            ErrorKind::NotFound,
            || std::fs::remove_file(&missing),
            || fs::remove_file(&missing),
        );
        same_error(
            "remove_dir_all missing",
            ErrorKind::NotFound,
            || std::fs::remove_dir_all(&missing),
            || fs::remove_dir_all(&missing),
        );
        same_error(
            "read_dir on a file",
            ErrorKind::NotADirectory,
            || std::fs::read_dir(&file),
            || fs::read_dir(&file),
        );
        same_error(
            "read_dir missing",
            ErrorKind::NotFound,
            || std::fs::read_dir(&missing),
            || fs::read_dir(&missing),
        );
        same_error(
            "read_link on a file",
            ErrorKind::InvalidInput,
            || std::fs::read_link(&file),
            || fs::read_link(&file),
        );
        same_error(
            "canonicalize missing",
            ErrorKind::NotFound,
            || std::fs::canonicalize(&missing),
            || fs::canonicalize(&missing),
        );
        same_error(
            "copy a directory",
            ErrorKind::InvalidInput,
            || std::fs::copy(&full, &missing),
            || fs::copy(&full, &missing),
        );
        same_error(
            "copy missing",
            ErrorKind::NotFound,
            || std::fs::copy(&missing, &file),
            || fs::copy(&missing, &file),
        );
        same_error(
            "rename missing",
            ErrorKind::NotFound,
            || std::fs::rename(&missing, &file),
            || fs::rename(&missing, &file),
        );
        let empty = dir.join("empty");
        std::fs::create_dir(&empty).unwrap();
        same_error(
            "rename a dir over a non-empty dir",
            ErrorKind::DirectoryNotEmpty,
            || std::fs::rename(&empty, &full),
            || fs::rename(&empty, &full),
        );
        same_error(
            "hard_link existing",
            ErrorKind::AlreadyExists,
            || std::fs::hard_link(&file, &file),
            || fs::hard_link(&file, &file),
        );
        same_error(
            "set_permissions missing",
            ErrorKind::NotFound,
            || std::fs::set_permissions(&missing, std::fs::Permissions::from_mode(0o644)),
            || fs::set_permissions(&missing, fs::Permissions::from_mode(0o644)),
        );
        same_error(
            "read a directory",
            ErrorKind::IsADirectory,
            || std::fs::File::open(&full)?.read(&mut [0; 4]),
            || File::open(&full)?.read(&mut [0; 4]),
        );
        same_error(
            "read_to_end a directory",
            ErrorKind::IsADirectory,
            || std::fs::File::open(&full)?.read_to_end(&mut Vec::new()),
            || File::open(&full)?.read_to_end(&mut Vec::new()),
        );
        same_error(
            "read_exact past the end",
            ErrorKind::UnexpectedEof,
            || std::fs::File::open(&file)?.read_exact(&mut [0; 2]),
            || File::open(&file)?.read_exact(&mut [0; 2]),
        );
        same_error(
            "write a read-only handle",
            std::fs::File::open(&file)
                .unwrap()
                .write(b"x")
                .unwrap_err()
                .kind(),
            || std::fs::File::open(&file)?.write(b"x"),
            || File::open(&file)?.write_all(b"x"),
        );
        same_error(
            "set_len on a read-only handle",
            ErrorKind::InvalidInput,
            || std::fs::File::open(&file)?.set_len(0),
            || File::open(&file)?.set_len(0),
        );
        same_error(
            "seek before the start",
            ErrorKind::InvalidInput,
            || std::fs::File::open(&file)?.seek(SeekFrom::End(-10)),
            || File::open(&file)?.seek(SeekFrom::End(-10)),
        );
        let exists_err = |p: &Path| fs::exists(p.join("below"));
        same_error(
            "exists below a file",
            ErrorKind::NotADirectory,
            || std::fs::exists(file.join("below")),
            || exists_err(&file),
        );
    });
}

#[test]
fn read_dir_lists_created_entries_in_batches() {
    within(|| {
        let dir = TempDir::new("read-dir");
        const FILES: usize = 2500; // more than two batches of 1024
        let listed = green::run(|| -> io::Result<_> {
            // Started before the writes: a pool job that finishes before its
            // greenlet parks skips the park, so the listing's three batches
            // alone may never let the ticker run; thousands of jobs will.
            let (ticks, stop, ticker) = ticker();
            let before = ticks.get();
            for i in 0..FILES {
                fs::write(dir.join(&format!("f{i}")), i.to_string())?;
            }
            fs::create_dir(dir.join("sub"))?;
            std::os::unix::fs::symlink("f0", dir.join("link"))?;

            let mut listed = Vec::new();
            for entry in fs::read_dir(&dir.0)? {
                let entry = entry?;
                assert_eq!(
                    format!("{entry:?}"),
                    format!("DirEntry({:?})", entry.path())
                );
                assert_eq!(entry.path(), dir.0.join(entry.file_name()));
                let ty = entry.file_type()?;
                listed.push((
                    entry.file_name().into_string().unwrap(),
                    ty.is_file(),
                    ty.is_dir(),
                    ty.is_symlink(),
                ));
                if entry.file_name() == "f7" || entry.file_name() == "sub" {
                    let meta = entry.metadata()?;
                    assert_eq!(meta.ino(), entry.ino());
                    assert_eq!(meta.is_dir(), entry.file_name() == "sub");
                }
            }
            assert!(ticks.get() > before);
            stop.set(true);
            ticker.join().unwrap();
            Ok(listed)
        })
        .unwrap();
        let mut expected: Vec<_> = (0..FILES)
            .map(|i| (format!("f{i}"), true, false, false))
            .collect();
        expected.push(("sub".into(), false, true, false));
        expected.push(("link".into(), false, false, true));
        let sort = |mut v: Vec<(String, bool, bool, bool)>| {
            v.sort();
            v
        };
        assert_eq!(sort(listed), sort(expected));

        // what std lists, in std's order, both outside and inside `run`
        let with_std: Vec<_> = std::fs::read_dir(&dir.0)
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        let green_names = || -> Vec<_> {
            fs::read_dir(&dir.0)
                .unwrap()
                .map(|e| e.unwrap().file_name())
                .collect()
        };
        assert_eq!(green_names(), with_std);
        assert_eq!(green::run(green_names), with_std);

        // a `ReadDir` opened outside `run` and read inside it, and back
        let mut it = fs::read_dir(&dir.0).unwrap();
        assert_eq!(
            format!("{it:?}"),
            format!("{:?}", std::fs::read_dir(&dir.0).unwrap())
        );
        let first = it.next().unwrap().unwrap().file_name();
        let middle: Vec<_> = green::run(|| {
            it.by_ref()
                .take(1500)
                .map(|e| e.unwrap().file_name())
                .collect()
        });
        let rest: Vec<_> = it.map(|e| e.unwrap().file_name()).collect();
        assert_eq!(1 + middle.len() + rest.len(), FILES + 2);
        assert_eq!(first, with_std[0]);
    });
}

#[test]
fn a_read_dir_cut_short_still_lists_every_entry() {
    // A batch job whose greenlet is killed while it waits still hands back
    // std's iterator and the entries it read: the listing goes on where it
    // was, and is not silently cut short.
    let dir = TempDir::new("read-dir-cut");
    const FILES: usize = 1100; // the second batch is a job of its own
    for i in 0..FILES {
        std::fs::write(dir.join(&format!("f{i}")), b"").unwrap();
    }
    let names = within(move || {
        let names = green::run(|| {
            let it = Rc::new(RefCell::new(fs::read_dir(&dir.0).unwrap()));
            let mut names: Vec<_> = it.borrow_mut().by_ref().take(1024).collect();
            let theirs = it.clone();
            let cut = green::spawn(move || theirs.borrow_mut().next());
            green::yield_now(); // it waits on the second batch's job
            cut.kill();
            // The iterator is still away (its next `next` takes it back).
            assert_eq!(
                format!("{:?}", it.borrow()),
                format!("{:?}", std::fs::read_dir(&dir.0).unwrap()),
                "Debug while std's iterator is away, as std's"
            );
            names.extend(it.borrow_mut().by_ref());
            names
        });
        let names: BTreeSet<_> = names.into_iter().map(|e| e.unwrap().file_name()).collect();
        drop(dir);
        names
    });
    assert_eq!(names.len(), FILES, "entries lost to the kill");
}

#[test]
fn copy_rename_links_and_removal() {
    within(|| {
        let dir = TempDir::new("ops");
        green::run(|| -> io::Result<()> {
            let src = dir.join("src");
            fs::write(&src, b"contents")?;
            fs::set_permissions(&src, fs::Permissions::from_mode(0o640))?;
            let dst = dir.join("dst");
            assert_eq!(fs::copy(&src, &dst)?, 8);
            assert_eq!(fs::read(&dst)?, b"contents");
            assert_eq!(fs::metadata(&dst)?.permissions().mode() & 0o777, 0o640);

            let moved = dir.join("moved");
            fs::rename(&dst, &moved)?;
            assert!(!fs::exists(&dst)? && fs::exists(&moved)?);
            fs::write(&dst, b"other")?;
            fs::rename(&dst, &moved)?; // replaces
            assert_eq!(fs::read(&moved)?, b"other");

            let hard = dir.join("hard");
            fs::hard_link(&src, &hard)?;
            assert_eq!(fs::metadata(&hard)?.nlink(), 2);
            let soft = dir.join("soft");
            #[allow(deprecated)]
            fs::soft_link(&src, &soft)?;
            assert_eq!(fs::read_link(&soft)?, src);
            assert!(fs::symlink_metadata(&soft)?.file_type().is_symlink());
            assert!(fs::metadata(&soft)?.is_file());
            assert_eq!(fs::canonicalize(&soft)?, std::fs::canonicalize(&src)?);

            let tree = dir.join("tree");
            fs::create_dir_all(tree.join("a/b"))?;
            fs::create_dir_all(tree.join("a/b"))?; // exists: fine
            fs::write(tree.join("a/b/f"), b"")?;
            DirBuilder::new()
                .recursive(true)
                .mode(0o700)
                .create(tree.join("c/d"))?;
            assert_eq!(
                fs::metadata(tree.join("c/d"))?.permissions().mode() & 0o777,
                0o700
            );
            assert_eq!(
                format!("{:?}", DirBuilder::new().recursive(true)),
                format!("{:?}", std::fs::DirBuilder::new().recursive(true))
            );
            fs::remove_dir(tree.join("c/d"))?;
            fs::remove_file(tree.join("a/b/f"))?;
            fs::remove_dir_all(&tree)?;
            assert!(!fs::exists(&tree)?);
            fs::remove_file(&soft)?;
            assert!(fs::exists(&src)?);
            Ok(())
        })
        .unwrap();
    });
}

#[test]
fn file_methods() {
    within(|| {
        let dir = TempDir::new("file");
        let path = dir.join("f");
        green::run(|| -> io::Result<()> {
            let mut file = File::options()
                .read(true)
                .write(true)
                .create_new(true)
                .mode(0o600)
                .open(&path)?;
            assert_eq!(file.metadata()?.permissions().mode() & 0o777, 0o600);
            file.write_all(b"0123456789")?;
            file.sync_data()?;
            file.set_len(4)?;
            file.sync_all()?;
            assert_eq!(file.metadata()?.len(), 4);
            let then = SystemTime::UNIX_EPOCH + Duration::from_secs(1_234_567_890);
            file.set_modified(then)?;
            assert_eq!(file.metadata()?.modified()?, then);
            file.set_times(
                FileTimes::new()
                    .set_accessed(then)
                    .set_modified(then + Duration::from_secs(1)),
            )?;
            assert_eq!(file.metadata()?.accessed()?, then);
            let mut perms = file.metadata()?.permissions();
            perms.set_readonly(true);
            file.set_permissions(perms)?;
            assert!(file.metadata()?.permissions().readonly());

            let mut clone = file.try_clone()?;
            file.seek(SeekFrom::Start(1))?;
            let mut rest = String::new();
            clone.read_to_string(&mut rest)?;
            assert_eq!(rest, "123");

            // Debug is std's
            let std_file = std::fs::File::open(&path)?;
            let expected = format!("{std_file:?}");
            assert_eq!(format!("{:?}", File::from(std_file)), expected);

            // conversions keep the descriptor
            let fd = file.as_raw_fd();
            let std_back: std::fs::File = file.into();
            assert_eq!(std_back.as_raw_fd(), fd);
            let green_again = File::from(std_back);
            let owned: OwnedFd = green_again.into();
            assert_eq!(owned.as_raw_fd(), fd);
            let raw = File::from(owned).into_raw_fd();
            assert_eq!(raw, fd);
            // SAFETY: `raw` was just released by `into_raw_fd`; we own it.
            let mut file = unsafe { File::from_raw_fd(raw) };
            file.rewind()?;
            let mut all = String::new();
            file.read_to_string(&mut all)?;
            assert_eq!(all, "0123");
            Ok(())
        })
        .unwrap();
    });
}

#[test]
fn write_formats_in_one_piece_and_fails_like_std() {
    struct Failing;
    impl fmt::Display for Failing {
        fn fmt(&self, _: &mut fmt::Formatter<'_>) -> fmt::Result {
            Err(fmt::Error)
        }
    }
    fn message(payload: Box<dyn std::any::Any + Send>) -> String {
        payload
            .downcast_ref::<String>()
            .cloned()
            .or_else(|| payload.downcast_ref::<&str>().map(|s| s.to_string()))
            .unwrap_or_default()
    }
    within(|| {
        let dir = TempDir::new("fmt");
        let (a, b) = (dir.join("std"), dir.join("green"));
        let mut std_file = std::fs::File::create(&a).unwrap();
        let std_panic = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            let _ = write!(std_file, "ab{}cd", Failing);
        }))
        .map_err(message);
        let green_panic = green::run(|| {
            let mut file = File::create(&b).unwrap();
            writeln!(file, "{} and {:>4}", 1, "x").unwrap();
            std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                let _ = write!(file, "ab{}cd", Failing);
            }))
            .map_err(message)
        });
        assert_eq!(green_panic, std_panic);
        assert_eq!(std::fs::read_to_string(&a).unwrap(), "ab");
        assert_eq!(std::fs::read_to_string(&b).unwrap(), "1 and    x\nab");
    });
}

#[test]
fn outside_run_everything_is_std() {
    // one program, run with std::fs, then green_std::fs outside and inside `run`
    fn program(dir: &Path, green_fs: bool) -> Vec<String> {
        let mut log = Vec::new();
        let path = dir.join(if green_fs { "green" } else { "std" });
        let sub = dir.join(if green_fs { "green-sub" } else { "std-sub" });
        let mut note = |s: String| log.push(s);
        if green_fs {
            fs::write(&path, b"hello world").unwrap();
            let mut f = OpenOptions::new()
                .read(true)
                .write(true)
                .open(&path)
                .unwrap();
            f.seek(SeekFrom::Start(6)).unwrap();
            f.write_all(b"green").unwrap();
            f.rewind().unwrap();
            let mut s = String::new();
            f.read_to_string(&mut s).unwrap();
            note(s);
            note(format!("{}", f.metadata().unwrap().len()));
            fs::create_dir(&sub).unwrap();
            fs::write(sub.join("x"), b"").unwrap();
            for e in fs::read_dir(&sub).unwrap() {
                let e = e.unwrap();
                note(format!(
                    "{:?} {}",
                    e.file_name(),
                    e.file_type().unwrap().is_file()
                ));
            }
            note(format!("{:?}", fs::remove_dir(&sub).unwrap_err().kind()));
            fs::remove_dir_all(&sub).unwrap();
            note(format!("{}", fs::exists(&sub).unwrap()));
        } else {
            std::fs::write(&path, b"hello world").unwrap();
            let mut f = std::fs::OpenOptions::new()
                .read(true)
                .write(true)
                .open(&path)
                .unwrap();
            f.seek(SeekFrom::Start(6)).unwrap();
            f.write_all(b"green").unwrap();
            f.rewind().unwrap();
            let mut s = String::new();
            f.read_to_string(&mut s).unwrap();
            note(s);
            note(format!("{}", f.metadata().unwrap().len()));
            std::fs::create_dir(&sub).unwrap();
            std::fs::write(sub.join("x"), b"").unwrap();
            for e in std::fs::read_dir(&sub).unwrap() {
                let e = e.unwrap();
                note(format!(
                    "{:?} {}",
                    e.file_name(),
                    e.file_type().unwrap().is_file()
                ));
            }
            note(format!(
                "{:?}",
                std::fs::remove_dir(&sub).unwrap_err().kind()
            ));
            std::fs::remove_dir_all(&sub).unwrap();
            note(format!("{}", std::fs::exists(&sub).unwrap()));
        }
        log
    }
    within(|| {
        let dir = TempDir::new("outside");
        let with_std = program(&dir.0, false);
        assert_eq!(
            with_std,
            [
                "hello green",
                "11",
                "\"x\" true",
                "DirectoryNotEmpty",
                "false"
            ]
        );
        assert!(!green::is_running());
        assert_eq!(program(&dir.0, true), with_std);
        assert_eq!(green::run(|| program(&dir.0, true)), with_std);

        // a blocking open outside `run` blocks the thread, as std's does:
        // a FIFO's open returns once another thread opens the other end
        let fifo = fifo(&dir, "fifo");
        let other = std::thread::spawn({
            let fifo = fifo.clone();
            move || {
                std::fs::OpenOptions::new()
                    .write(true)
                    .open(&fifo)
                    .unwrap()
                    .write_all(b"hi")
            }
        });
        let mut text = String::new();
        File::open(&fifo)
            .unwrap()
            .read_to_string(&mut text)
            .unwrap();
        other.join().unwrap().unwrap();
        assert_eq!(text, "hi");
    });
}

#[test]
fn killing_a_reader_leaves_the_hub_and_the_file_usable() {
    within(|| {
        let dir = TempDir::new("kill-read");
        let path = dir.join("big");
        std::fs::write(&path, pattern(BIG, 3)).unwrap();
        green::run(|| -> io::Result<()> {
            let file = Rc::new(File::open(&path)?);
            let got = Rc::new(RefCell::new(Vec::new()));
            let reader = green::spawn({
                let (file, got) = (file.clone(), got.clone());
                move || (&*file).read_to_end(&mut got.borrow_mut())
            });
            green::yield_now(); // the reader waits on its job
            reader.kill();
            assert!(reader.join().unwrap_err().is_killed());
            assert!(got.borrow().is_empty());
            // the file still works (its next operation waits for the job
            // and puts the cursor back where it was)
            let mut head = [0; 16];
            assert_eq!(file.read_at(&mut head, 0)?, 16);
            assert_eq!(head[..], pattern(16, 3)[..]);
            Ok(())
        })
        .unwrap();
    });
}

#[test]
fn file_type_ext_through_entries() {
    within(|| {
        let dir = TempDir::new("fifo-entry");
        fifo(&dir, "p");
        let is_fifo = green::run(|| {
            let entry = fs::read_dir(&dir.0).unwrap().next().unwrap().unwrap();
            entry.file_type().unwrap().is_fifo()
        });
        assert!(is_fifo);
    });
}

/// A FIFO in `dir`: a read of it waits until something is written, so a
/// timeout can cut the read short while its job waits.
///
/// Made with mkfifo(3), not by running `mkfifo`: a fork in one test's
/// thread copies every descriptor the other tests have open until its
/// child execs, and a file lock held through such a copy outlives the
/// test's own close (`a_lock_wait_parks_only_the_greenlet` failed so in
/// CI).
fn fifo(dir: &TempDir, name: &str) -> PathBuf {
    let path = dir.join(name);
    let c_path = std::ffi::CString::new(path.as_os_str().as_encoded_bytes()).unwrap();
    // SAFETY: `c_path` is a NUL-terminated string that outlives the call.
    let made = unsafe { libc::mkfifo(c_path.as_ptr(), 0o600) };
    assert_eq!(made, 0, "mkfifo: {}", io::Error::last_os_error());
    path
}

/// Long enough for a job to have started its read; the tests do not
/// depend on it otherwise.
const CUT: Duration = Duration::from_millis(50);

#[test]
fn a_read_cut_short_hands_its_bytes_to_the_next_read() {
    // A read whose greenlet is unwound (here by a timeout) while its job
    // waits on a FIFO still reads, on the pool, what is written next: the
    // program never saw those bytes, so the next read must return them
    // first, as if the read cut short had never happened.
    within(|| {
        let dir = TempDir::new("cut-read");
        let path = fifo(&dir, "fifo");
        let got = green::run(|| -> io::Result<Vec<u8>> {
            // both ends open without waiting: std's end reads and writes
            let mut ours = std::fs::OpenOptions::new()
                .read(true)
                .write(true)
                .open(&path)?;
            let file = File::open(&path)?;
            let cut = green::timeout(CUT, || (&file).read(&mut [0; 16]));
            assert!(cut.is_err(), "nothing was written yet");
            ours.write_all(b"abc")?; // the read cut short takes these
            ours.write_all(b"def")?;
            drop(ours); // the FIFO's end of file, once read
            let mut head = [0; 2];
            (&file).read_exact(&mut head)?;
            let mut rest = Vec::new();
            (&file).read_to_end(&mut rest)?;
            Ok([&head[..], &rest].concat())
        })
        .unwrap();
        assert_eq!(got, b"abcdef", "bytes lost to the read cut short");
    });
}

#[test]
fn a_vectored_read_after_a_read_cut_short_fills_every_buffer_as_readv_does() {
    // The bytes a read cut short took are handed to the next read; a
    // vectored one gets them across its buffers in turn, as std's `readv`
    // fills them, not only into the first.
    within(|| {
        let dir = TempDir::new("cut-readv");
        let path = fifo(&dir, "fifo");
        let (n, a, b) = green::run(|| -> io::Result<(usize, [u8; 2], [u8; 4])> {
            let mut ours = std::fs::OpenOptions::new()
                .read(true)
                .write(true)
                .open(&path)?;
            let file = File::open(&path)?;
            let cut = green::timeout(CUT, || (&file).read(&mut [0; 16]));
            assert!(cut.is_err(), "nothing was written yet");
            ours.write_all(b"abcdef")?; // one pipe write: the read cut short takes all six
            let (mut a, mut b) = ([0; 2], [0; 4]);
            let n =
                (&file).read_vectored(&mut [IoSliceMut::new(&mut a), IoSliceMut::new(&mut b)])?;
            Ok((n, a, b))
        })
        .unwrap();
        assert_eq!((n, &a, &b), (6, b"ab", b"cdef"));
    });
}

#[test]
fn a_write_after_a_read_cut_short_waits_for_its_job() {
    // A regular file has one cursor: on a std thread a read, then a write,
    // happen in that order, and a read the program never saw leaves the
    // cursor where it was. The read cut short still runs on the pool: the
    // write waits for it, then puts the cursor back before writing.
    within(|| {
        let dir = TempDir::new("cut-order");
        let path = dir.join("big");
        let data = pattern(64 << 20, 11);
        std::fs::write(&path, &data).unwrap();
        green::run(|| -> io::Result<()> {
            let file = Rc::new(File::options().read(true).write(true).open(&path)?);
            let reader = green::spawn({
                let file = file.clone();
                move || (&*file).read_to_end(&mut Vec::new())
            });
            green::yield_now(); // it waits on its job, reading 64 MiB
            reader.kill();
            assert!(reader.join().unwrap_err().is_killed());
            (&*file).write_all(b"ab")?;
            assert_eq!((&*file).stream_position()?, 2);
            let mut next = [0; 4];
            (&*file).read_exact(&mut next)?;
            assert_eq!(next[..], data[2..6]);
            Ok(())
        })
        .unwrap();
        let disk = std::fs::read(&path).unwrap();
        assert_eq!(disk[..2], b"ab"[..]);
        assert!(disk[2..] == data[2..], "the write went elsewhere");
    });
}

#[test]
fn on_a_fifo_a_write_does_not_wait_for_a_read_cut_short() {
    // A file without a cursor (a FIFO, pipe, tty, socket) carries two
    // streams: on std threads a write goes through while a read of the same
    // file blocks, and that read gets what comes. So "read with a timeout,
    // then send the next command" must work: the write must not wait for
    // the read cut short, which itself waits for the write's bytes.
    within(|| {
        let dir = TempDir::new("cut-fifo-write");
        let path = fifo(&dir, "fifo");
        let got = green::run(|| -> io::Result<Vec<u8>> {
            let file = File::options().read(true).write(true).open(&path)?;
            assert!(green::timeout(CUT, || (&file).read(&mut [0; 16])).is_err());
            match green::timeout(Duration::from_secs(5), || (&file).write_all(b"ping")) {
                Ok(written) => written?,
                Err(_) => panic!("the write waited for the read cut short, which waits for it"),
            }
            // the read cut short took "ping", as a std thread's blocked read
            // would have: the next reads get it, once, then what follows
            (&file).write_all(b"pong")?;
            let mut got = [0; 8];
            match green::timeout(Duration::from_secs(5), || (&file).read_exact(&mut got)) {
                Ok(read) => read?,
                Err(_) => panic!("bytes lost to the read cut short"),
            }
            Ok(got.to_vec())
        })
        .unwrap();
        assert_eq!(got, b"pingpong");
    });
}

#[test]
fn on_a_fifo_a_read_does_not_wait_for_a_write_cut_short_and_writes_keep_their_order() {
    // The other way round: a write cut short while the pipe is full waits
    // for a reader; the file's own read drains the pipe (as on std threads)
    // instead of waiting for that write. The next write still waits for it:
    // the bytes of two writes never mix or swap.
    within(|| {
        let dir = TempDir::new("cut-fifo-writes");
        let path = fifo(&dir, "fifo");
        let first = pattern(200_000, 5);
        let got = green::run(|| -> io::Result<Vec<u8>> {
            let file = Rc::new(File::options().read(true).write(true).open(&path)?);
            let mut filler = std::fs::OpenOptions::new()
                .write(true)
                .custom_flags(libc::O_NONBLOCK)
                .open(&path)?;
            let mut full = 0;
            loop {
                match filler.write(&[b'.'; 4096]) {
                    Ok(n) => full += n,
                    Err(e) if e.kind() == ErrorKind::WouldBlock => break,
                    Err(e) => return Err(e),
                }
            }
            // the pipe is full: the write waits on the pool
            let cut = green::timeout(CUT, || (&*file).write_all(&first));
            assert!(cut.is_err(), "the pipe was full");
            let second = green::spawn({
                let file = file.clone();
                move || (&*file).write_all(b"second")
            });
            green::yield_now(); // it waits for the first write's job
            let mut got = vec![0; full + first.len() + 6];
            match green::timeout(Duration::from_secs(10), || (&*file).read_exact(&mut got)) {
                Ok(read) => read?,
                Err(_) => panic!("the read waited for the write cut short, which waits for it"),
            }
            second.join().unwrap()?;
            Ok(got)
        })
        .unwrap();
        let full = got.len() - first.len() - 6;
        assert!(got[..full].iter().all(|&b| b == b'.'));
        assert!(
            got[full..full + first.len()] == first[..],
            "the writes mixed"
        );
        assert_eq!(got[full + first.len()..], b"second"[..]);
    });
}

#[test]
fn read_exact_and_read_to_end_cut_short_hand_on_what_they_read() {
    within(|| {
        let dir = TempDir::new("cut-exact");
        let (exact, to_end) = (fifo(&dir, "exact"), fifo(&dir, "to-end"));
        let clone = green::run(|| -> io::Result<File> {
            // read_exact cut short, then ended by the end of file after 4
            // of its 10 bytes: those 4 are still the next ones
            let mut ours = std::fs::OpenOptions::new()
                .read(true)
                .write(true)
                .open(&exact)?;
            let file = File::open(&exact)?;
            ours.write_all(b"abcd")?;
            assert!(green::timeout(CUT, || (&file).read_exact(&mut [0; 10])).is_err());
            drop(ours);
            let mut got = Vec::new();
            (&file).read_to_end(&mut got)?;
            assert_eq!(got, b"abcd", "read_exact's bytes lost");

            // read_to_end cut short: its bytes go to the next read, here
            // through a clone (which shares the cursor), outside run
            let mut ours = std::fs::OpenOptions::new()
                .read(true)
                .write(true)
                .open(&to_end)?;
            let file = File::open(&to_end)?;
            ours.write_all(b"abc")?;
            assert!(green::timeout(CUT, || (&file).read_to_end(&mut Vec::new())).is_err());
            ours.write_all(b"def")?;
            drop(ours);
            file.try_clone()
        })
        .unwrap();
        let mut text = String::new();
        (&clone).read_to_string(&mut text).unwrap();
        assert_eq!(text, "abcdef", "read_to_end's bytes lost");
    });
}

#[test]
fn a_seek_after_a_read_cut_short_counts_only_the_bytes_handed_out() {
    // std's cursor is just after the bytes the program has read: a read
    // cut short handed out none, so seeks and writes go on from before it
    within(|| {
        let dir = TempDir::new("cut-seek");
        let path = dir.join("digits");
        std::fs::write(&path, b"0123456789").unwrap();
        green::run(|| -> io::Result<()> {
            let file = Rc::new(File::options().read(true).write(true).open(&path)?);
            let reader = green::spawn({
                let file = file.clone();
                move || (&*file).read(&mut [0; 4])
            });
            green::yield_now(); // it waits on its job
            reader.kill();
            assert!(reader.join().unwrap_err().is_killed());
            assert_eq!((&*file).stream_position()?, 0);
            let mut two = [0; 2];
            (&*file).read_exact(&mut two)?;
            assert_eq!(&two, b"01");
            assert_eq!((&*file).stream_position()?, 2);
            (&*file).write_all(b"ab")?;
            let mut rest = String::new();
            (&*file).read_to_string(&mut rest)?;
            assert_eq!(rest, "456789");
            assert_eq!(std::fs::read(&path)?, b"01ab456789");
            Ok(())
        })
        .unwrap();
    });
}

#[test]
fn a_write_cut_short_that_fails_is_reported_by_the_next_flush() {
    // The program never saw the write's error: the next write-side call
    // (write, flush, sync) returns it, once.
    within(|| {
        let dir = TempDir::new("cut-write");
        let path = fifo(&dir, "fifo");
        green::run(|| -> io::Result<()> {
            let reader = std::fs::OpenOptions::new()
                .read(true)
                .write(true)
                .open(&path)?;
            let mut filler = std::fs::OpenOptions::new()
                .write(true)
                .custom_flags(libc::O_NONBLOCK)
                .open(&path)?;
            let mut file = File::options().write(true).open(&path)?;
            loop {
                match filler.write(&[0; 4096]) {
                    Ok(_) => {}
                    Err(e) if e.kind() == ErrorKind::WouldBlock => break,
                    Err(e) => return Err(e),
                }
            }
            // the pipe is full: the write waits on the pool
            assert!(green::timeout(CUT, || file.write(b"x")).is_err());
            drop((reader, filler)); // no reader left: the write fails
            let err = file.flush().unwrap_err();
            assert_eq!(err.kind(), ErrorKind::BrokenPipe);
            file.flush()?; // reported once
            Ok(())
        })
        .unwrap();
    });
}

/// Compiles only if `T` is unwind-safe both ways, as std's fs types are.
fn unwind_safe<T: std::panic::UnwindSafe + std::panic::RefUnwindSafe>() {}

#[test]
fn fs_types_are_unwind_safe_as_std_s() {
    // ReadDir was not: it queues std's io::Errors read ahead, which may
    // box a dyn Error, so catch_unwind over a listing did not compile.
    unwind_safe::<fs::ReadDir>();
    unwind_safe::<fs::DirEntry>();
    unwind_safe::<File>();
    unwind_safe::<OpenOptions>();
    unwind_safe::<DirBuilder>();
    let dir = TempDir::new("unwind-safe");
    std::fs::write(dir.join("a"), b"").unwrap();
    let path = dir.0.clone();
    let names = within(move || {
        green::run(move || {
            let mut list = fs::read_dir(&path).unwrap();
            std::panic::catch_unwind(move || list.next().unwrap().unwrap().file_name()).unwrap()
        })
    });
    assert_eq!(names, "a");
}
