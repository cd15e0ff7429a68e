//! [`File`]: std's file behind an `Arc`, so that jobs sent to the pool can
//! hold it. Reading, writing and seeking are in `read_write.rs`.

use std::collections::VecDeque;
use std::fmt;
use std::io;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, FromRawFd, IntoRawFd, OwnedFd, RawFd};
use std::path::Path;
use std::sync::Arc;
use std::time::SystemTime;

use super::lane::{Lane, Left, Stream};
use super::pool;
use super::{FileTimes, Metadata, OpenOptions, Permissions, TryLockError};

/// An object providing access to an open file on the filesystem, like
/// [`std::fs::File`]: inside [`green::run`] every call that reaches the
/// disk runs on green's thread pool and parks only the calling greenlet.
///
/// A `File` can be read and written through `&File` too, from several
/// greenlets at once; they share one cursor, as threads sharing a
/// `std::fs::File` do. Files are closed when dropped, on the dropping
/// thread, as std's are.
///
/// # Cut short
///
/// A greenlet can be unwound while its operation's job runs on the pool
/// (killed with [`green::JoinHandle::kill`], or a [`green::timeout`]
/// fired); the job still runs to its end. Then, as on a std thread, where
/// every operation of one file happens in order:
///
/// - every later operation on the file or its clones (including `flush`
///   and the conversions into std's types) first waits for that job,
///   parking inside `run` (blocking outside); but see below for a file
///   without a cursor;
/// - the bytes a read cut short read (those of `read_exact`, `read_to_end`
///   and `read_to_string` too, even when they then failed or met the end of
///   the file) are the next ones the program reads: the next reads return
///   them, before reading more. Any other operation (a seek, a write, a
///   positioned read…) first seeks back over those not returned yet, so the
///   cursor is std's, just after the bytes the program has read, and they
///   are read again from the file;
/// - the error of a write (or `write_at`, `sync_all`, `sync_data`) cut
///   short is returned, once, by the next `write`, `write_all`, `write_at`,
///   `flush`, `sync_all` or `sync_data`, instead of making that call. A
///   write cut short that succeeded has put its bytes in the file; a
///   `write_all` cut short writes up to the end of the 8 MiB it was
///   writing.
///
/// A file without a cursor (a pipe, a FIFO, a socket, a tty: `lseek` fails
/// with `ESPIPE`) carries two independent streams, as std's file does on
/// two threads, where a write goes through while a read of the same file
/// waits for data (and may get what the write sends), and a read drains
/// what a blocked write waits to add. So there:
///
/// - a read waits only for the reads cut short (their bytes come first, in
///   order), never for a write cut short;
/// - every other operation (a write, `flush`, a sync, `set_len`, a seek, a
///   lock, `metadata`…) waits only for those others cut short, never for a
///   read: "read with a timeout, then send the next command" works on a
///   tty, a serial port, a FIFO or a socket. Two writes never swap;
/// - positioned reads and writes fail at once (`ESPIPE`, as std's) and
///   wait for nothing; a seek fails as std's does;
/// - the bytes of a read cut short stay for the reads.
///
/// Clones made with [`try_clone`](File::try_clone) share all of this, as
/// they share the cursor. Other operations cut short leave nothing: the
/// program, unwound, never learns whether they ran, but they ran before
/// anything after them that waits for them. Converting a file into std's
/// types (`From`, [`IntoRawFd`], `OwnedFd`, `Stdio`) waits for every job
/// cut short, reads too on a file without a cursor, and drops what is left
/// (on a file without a cursor, the bytes; a write's error).
///
/// # Notes
///
/// `Read`, `Write` and `Seek` are implemented for `File` and `&File` but not
/// for `Arc<File>` as std's are (a crate may not implement std's traits for
/// std's `Arc`): use `&*arc`. `IsTerminal` is sealed to std's types: use
/// `file.as_fd().is_terminal()`.
///
/// # Examples
///
/// ```
/// use green_std::fs::File;
/// use green_std::io::{Read, Write};
///
/// let path = std::env::temp_dir().join(format!("green-doc-file-{}", std::process::id()));
/// let text = green::run(|| -> std::io::Result<String> {
///     File::create(&path)?.write_all(b"Hello, world!")?;
///     let mut text = String::new();
///     File::open(&path)?.read_to_string(&mut text)?;
///     Ok(text)
/// })?;
/// assert_eq!(text, "Hello, world!");
/// # std::fs::remove_file(&path)?;
/// # std::io::Result::Ok(())
/// ```
pub struct File {
    /// Shared only with this file's jobs in flight: a job ends by dropping
    /// its clone, so outside a job the count is 1, unless a greenlet was
    /// unwound while its job runs on, keeping the descriptor open until the
    /// job is done.
    inner: Arc<Inner>,
}

/// std's file and its lane (shared with its clones).
pub(super) struct Inner {
    std: std::fs::File,
    lane: Arc<Lane>,
}

impl File {
    pub(super) fn from_std(file: std::fs::File) -> File {
        File {
            inner: Arc::new(Inner {
                std: file,
                lane: Lane::new(),
            }),
        }
    }

    /// Borrows std's file, for calls that never wait on a disk.
    pub(super) fn std(&self) -> &std::fs::File {
        &self.inner.std
    }

    /// Waits for this file's jobs cut short that an operation of `stream`
    /// waits for (see `lane.rs`). Outside `run` it then seeks back over the
    /// bytes they left here; inside, it returns whether the operation's job
    /// must, first.
    pub(super) fn ready(&self, stream: Stream) -> bool {
        let back = self.inner.lane.settle(stream, |found| found.has_bytes());
        self.back_here(back.unwrap_or(false))
    }

    /// [`ready`](File::ready) for a write, flush or sync: the error of a
    /// write cut short is returned instead, once.
    pub(super) fn ready_to_write(&self, stream: Stream) -> io::Result<bool> {
        let back = self.inner.lane.settle(stream, |found| {
            found.error().map_or(Ok(found.has_bytes()), Err)
        });
        Ok(self.back_here(back.transpose()?.unwrap_or(false)))
    }

    /// Outside `run`, seeks back over bytes left on the calling thread.
    fn back_here(&self, back: bool) -> bool {
        if back && !pool::green() {
            self.inner.lane.seek_back(&self.inner.std);
            return false;
        }
        back
    }

    /// Waits for this file's jobs cut short, then takes what `f` takes of
    /// the bytes they left, if any are.
    pub(super) fn left_bytes<T>(&self, f: impl FnOnce(&mut VecDeque<u8>) -> T) -> Option<T> {
        let taken = self.inner.lane.settle(Stream::Reads, |found| {
            let bytes = found.bytes();
            (!bytes.is_empty()).then(|| f(bytes))
        });
        taken.flatten()
    }

    /// Runs `op` on this file as one pool job, once the jobs cut short of
    /// this file are done (on the calling thread outside `run`); on a file
    /// without a cursor, but for reads.
    pub(super) fn job<R: Send + 'static>(
        &self,
        op: impl FnOnce(&std::fs::File) -> R + Send + 'static,
    ) -> R {
        let back = self.ready(Stream::Rest);
        self.run(Stream::Rest, back, &[], Left::nothing, op)
    }

    /// [`job`](File::job) for a write or sync: a write cut short's error
    /// comes first, and this one's is kept if this one is cut short.
    pub(super) fn write_job<R: Send + 'static>(
        &self,
        op: impl FnOnce(&std::fs::File) -> io::Result<R> + Send + 'static,
    ) -> io::Result<R> {
        let back = self.ready_to_write(Stream::Rest)?;
        self.run(Stream::Rest, back, &[], Left::error, op)
    }

    /// Runs `op`, an operation of `stream`, as one pool job (on the
    /// calling thread outside `run`), once the caller is
    /// [`ready`](File::ready): the job first seeks back over bytes left if
    /// `back`. If this greenlet is unwound meanwhile, the lane gets `taken`
    /// (bytes this call had read and can no longer hand out) and what
    /// `leave` makes of the result.
    pub(super) fn run<R: Send + 'static>(
        &self,
        stream: Stream,
        back: bool,
        taken: &[u8],
        leave: fn(R) -> Left,
        op: impl FnOnce(&std::fs::File) -> R + Send + 'static,
    ) -> R {
        if !pool::green() {
            return op(&self.inner.std);
        }
        let lane = &*self.inner.lane;
        let ticket = lane.ticket();
        let mut end = JobEnd {
            inner: Arc::clone(&self.inner),
            ticket,
            value: None,
            leave,
            taken: false,
        };
        let waiting = Waiting {
            lane,
            file: &self.inner.std,
            ticket,
            stream,
            taken,
        };
        let end = pool::job(move || {
            if back {
                end.inner.lane.seek_back(&end.inner.std);
            }
            end.value = Some(op(&end.inner.std));
            end
        });
        waiting.disarm();
        end.take()
    }

    /// std's file, out of the `Arc`, once all jobs cut short are done
    /// (reads too, on a file without a cursor) and the bytes they left are
    /// sought back over where the file can.
    fn into_std(self) -> std::fs::File {
        if self.inner.lane.is_busy() {
            let back = self.ready(Stream::All);
            self.run(Stream::Rest, back, &[], Left::nothing, |_| ());
        }
        Arc::try_unwrap(self.inner)
            .map(|inner| inner.std)
            .unwrap_or_else(|shared| {
                // A job's end may still hold the file for a moment (it
                // records its half before it lets go): hand out a duplicate
                // of the descriptor.
                shared
                    .std
                    .try_clone()
                    .expect("cannot duplicate a file still used by a job")
            })
    }

    /// Attempts to open a file in read-only mode, like
    /// [`std::fs::File::open`]. One pool job.
    ///
    /// # Errors
    ///
    /// As std's: `NotFound` if the file does not exist, and other errors
    /// of [`OpenOptions::open`].
    ///
    /// # Examples
    ///
    /// ```
    /// use green_std::fs::File;
    /// use std::io::ErrorKind;
    ///
    /// green::run(|| {
    ///     let err = File::open("/no/such/green/file").unwrap_err();
    ///     assert_eq!(err.kind(), ErrorKind::NotFound);
    /// });
    /// ```
    pub fn open<P: AsRef<Path>>(path: P) -> io::Result<File> {
        pool::path_job(path, |p| std::fs::File::open(p)).map(File::from_std)
    }

    /// Opens a file in write-only mode, creating it if it does not exist
    /// and truncating it if it does, like [`std::fs::File::create`]. One
    /// pool job.
    ///
    /// # Examples
    ///
    /// ```
    /// use green_std::fs::File;
    /// use green_std::io::Write;
    ///
    /// let path = std::env::temp_dir().join(format!("green-doc-create-{}", std::process::id()));
    /// green::run(|| File::create(&path)?.write_all(b"new"))?;
    /// assert_eq!(std::fs::read(&path)?, b"new");
    /// # std::fs::remove_file(&path)?;
    /// # std::io::Result::Ok(())
    /// ```
    pub fn create<P: AsRef<Path>>(path: P) -> io::Result<File> {
        pool::path_job(path, |p| std::fs::File::create(p)).map(File::from_std)
    }

    /// Creates a new file in read-write mode; errors if the file exists,
    /// like [`std::fs::File::create_new`]. One pool job.
    ///
    /// # Errors
    ///
    /// `AlreadyExists` if the path exists (even as a dangling symlink), and
    /// the other errors of [`OpenOptions::open`].
    ///
    /// # Examples
    ///
    /// ```
    /// use green_std::fs::File;
    /// use std::io::ErrorKind;
    ///
    /// let path = std::env::temp_dir().join(format!("green-doc-create-new-{}", std::process::id()));
    /// green::run(|| {
    ///     File::create_new(&path).unwrap();
    ///     let err = File::create_new(&path).unwrap_err();
    ///     assert_eq!(err.kind(), ErrorKind::AlreadyExists);
    /// });
    /// # std::fs::remove_file(&path)?;
    /// # std::io::Result::Ok(())
    /// ```
    pub fn create_new<P: AsRef<Path>>(path: P) -> io::Result<File> {
        pool::path_job(path, |p| std::fs::File::create_new(p)).map(File::from_std)
    }

    /// Returns a new [`OpenOptions`] object, like [`std::fs::File::options`].
    ///
    /// # Examples
    ///
    /// ```
    /// use green_std::fs::File;
    /// use green_std::io::Write;
    ///
    /// let path = std::env::temp_dir().join(format!("green-doc-options-{}", std::process::id()));
    /// green::run(|| -> std::io::Result<()> {
    ///     File::options().create(true).append(true).open(&path)?.write_all(b"a")?;
    ///     File::options().append(true).open(&path)?.write_all(b"b")
    /// })?;
    /// assert_eq!(std::fs::read(&path)?, b"ab");
    /// # std::fs::remove_file(&path)?;
    /// # std::io::Result::Ok(())
    /// ```
    #[must_use]
    pub fn options() -> OpenOptions {
        OpenOptions::new()
    }

    /// Attempts to sync all OS-internal file content and metadata to disk,
    /// like [`std::fs::File::sync_all`]. One pool job.
    ///
    /// # Examples
    ///
    /// ```
    /// use green_std::fs::File;
    /// use green_std::io::Write;
    ///
    /// let path = std::env::temp_dir().join(format!("green-doc-sync-all-{}", std::process::id()));
    /// green::run(|| -> std::io::Result<()> {
    ///     let mut f = File::create(&path)?;
    ///     f.write_all(b"durable")?;
    ///     f.sync_all()
    /// })?;
    /// # std::fs::remove_file(&path)?;
    /// # std::io::Result::Ok(())
    /// ```
    pub fn sync_all(&self) -> io::Result<()> {
        self.write_job(|f| f.sync_all())
    }

    /// Like [`sync_all`](File::sync_all), except that it might not sync
    /// metadata, like [`std::fs::File::sync_data`]. One pool job.
    ///
    /// # Examples
    ///
    /// ```
    /// use green_std::fs::File;
    /// use green_std::io::Write;
    ///
    /// let path = std::env::temp_dir().join(format!("green-doc-sync-data-{}", std::process::id()));
    /// green::run(|| -> std::io::Result<()> {
    ///     let mut f = File::create(&path)?;
    ///     f.write_all(b"data")?;
    ///     f.sync_data()
    /// })?;
    /// # std::fs::remove_file(&path)?;
    /// # std::io::Result::Ok(())
    /// ```
    pub fn sync_data(&self) -> io::Result<()> {
        self.write_job(|f| f.sync_data())
    }

    /// Acquires an exclusive lock on the file, waiting until it is
    /// available, like [`std::fs::File::lock`]. One pool job.
    ///
    /// # Notes
    ///
    /// The wait occupies a pool thread (not the hub), so other greenlets
    /// run meanwhile, including the one that will unlock. Killing the
    /// waiting greenlet does not cancel the wait: the job takes the lock
    /// when it can, and the file's next operations (an `unlock` too) wait
    /// for that; the lock is released by closing the last handle of the
    /// file's description, or by an `unlock`.
    ///
    /// # Examples
    ///
    /// ```
    /// use green_std::fs::File;
    ///
    /// let path = std::env::temp_dir().join(format!("green-doc-lock-{}", std::process::id()));
    /// green::run(|| -> std::io::Result<()> {
    ///     let f = File::create(&path)?;
    ///     f.lock()?;
    ///     f.unlock()
    /// })?;
    /// # std::fs::remove_file(&path)?;
    /// # std::io::Result::Ok(())
    /// ```
    pub fn lock(&self) -> io::Result<()> {
        self.job(|f| f.lock())
    }

    /// Acquires a shared (non-exclusive) lock on the file, waiting until it
    /// is available, like [`std::fs::File::lock_shared`]. One pool job;
    /// see [`lock`](File::lock) for the wait.
    ///
    /// # Examples
    ///
    /// ```
    /// use green_std::fs::File;
    ///
    /// let path = std::env::temp_dir().join(format!("green-doc-lock-shared-{}", std::process::id()));
    /// green::run(|| -> std::io::Result<()> {
    ///     File::create(&path)?;
    ///     let (a, b) = (File::open(&path)?, File::open(&path)?);
    ///     a.lock_shared()?;
    ///     b.lock_shared()?; // two readers at once
    ///     Ok(())
    /// })?;
    /// # std::fs::remove_file(&path)?;
    /// # std::io::Result::Ok(())
    /// ```
    pub fn lock_shared(&self) -> io::Result<()> {
        self.job(|f| f.lock_shared())
    }

    /// Tries to acquire an exclusive lock without waiting for it, like
    /// [`std::fs::File::try_lock`]. One pool job.
    ///
    /// # Errors
    ///
    /// [`TryLockError::WouldBlock`] if another handle holds a lock.
    ///
    /// # Examples
    ///
    /// ```
    /// use green_std::fs::{File, TryLockError};
    ///
    /// let path = std::env::temp_dir().join(format!("green-doc-try-lock-{}", std::process::id()));
    /// green::run(|| -> std::io::Result<()> {
    ///     let (a, b) = (File::create(&path)?, File::open(&path)?);
    ///     a.try_lock().unwrap();
    ///     assert!(matches!(b.try_lock(), Err(TryLockError::WouldBlock)));
    ///     Ok(())
    /// })?;
    /// # std::fs::remove_file(&path)?;
    /// # std::io::Result::Ok(())
    /// ```
    pub fn try_lock(&self) -> Result<(), TryLockError> {
        self.job(|f| f.try_lock())
    }

    /// Tries to acquire a shared lock without waiting for it, like
    /// [`std::fs::File::try_lock_shared`]. One pool job.
    ///
    /// # Errors
    ///
    /// [`TryLockError::WouldBlock`] if another handle holds an exclusive
    /// lock.
    ///
    /// # Examples
    ///
    /// ```
    /// use green_std::fs::{File, TryLockError};
    ///
    /// let path = std::env::temp_dir().join(format!("green-doc-try-shared-{}", std::process::id()));
    /// green::run(|| -> std::io::Result<()> {
    ///     let (a, b) = (File::create(&path)?, File::open(&path)?);
    ///     a.lock()?;
    ///     assert!(matches!(b.try_lock_shared(), Err(TryLockError::WouldBlock)));
    ///     a.unlock()?;
    ///     b.try_lock_shared().unwrap();
    ///     Ok(())
    /// })?;
    /// # std::fs::remove_file(&path)?;
    /// # std::io::Result::Ok(())
    /// ```
    pub fn try_lock_shared(&self) -> Result<(), TryLockError> {
        self.job(|f| f.try_lock_shared())
    }

    /// Releases all locks on the file, like [`std::fs::File::unlock`]. One
    /// pool job.
    ///
    /// # Examples
    ///
    /// ```
    /// use green_std::fs::File;
    ///
    /// let path = std::env::temp_dir().join(format!("green-doc-unlock-{}", std::process::id()));
    /// green::run(|| -> std::io::Result<()> {
    ///     let (a, b) = (File::create(&path)?, File::open(&path)?);
    ///     a.lock()?;
    ///     a.unlock()?;
    ///     b.try_lock().unwrap();
    ///     Ok(())
    /// })?;
    /// # std::fs::remove_file(&path)?;
    /// # std::io::Result::Ok(())
    /// ```
    pub fn unlock(&self) -> io::Result<()> {
        self.job(|f| f.unlock())
    }

    /// Truncates or extends the underlying file, like
    /// [`std::fs::File::set_len`]. One pool job.
    ///
    /// # Errors
    ///
    /// As std's: if the file is not opened for writing, or `size` is too
    /// large.
    ///
    /// # Examples
    ///
    /// ```
    /// use green_std::fs::File;
    ///
    /// let path = std::env::temp_dir().join(format!("green-doc-set-len-{}", std::process::id()));
    /// let len = green::run(|| -> std::io::Result<u64> {
    ///     let f = File::create(&path)?;
    ///     f.set_len(10)?;
    ///     Ok(f.metadata()?.len())
    /// })?;
    /// assert_eq!(len, 10);
    /// # std::fs::remove_file(&path)?;
    /// # std::io::Result::Ok(())
    /// ```
    pub fn set_len(&self, size: u64) -> io::Result<()> {
        self.job(move |f| f.set_len(size))
    }

    /// Queries metadata about the underlying file, like
    /// [`std::fs::File::metadata`]. One pool job.
    ///
    /// # Examples
    ///
    /// ```
    /// use green_std::fs::File;
    /// use green_std::io::Write;
    ///
    /// let path = std::env::temp_dir().join(format!("green-doc-file-metadata-{}", std::process::id()));
    /// let meta = green::run(|| -> std::io::Result<_> {
    ///     let mut f = File::create(&path)?;
    ///     f.write_all(b"12345")?;
    ///     f.metadata()
    /// })?;
    /// assert!(meta.is_file());
    /// assert_eq!(meta.len(), 5);
    /// # std::fs::remove_file(&path)?;
    /// # std::io::Result::Ok(())
    /// ```
    pub fn metadata(&self) -> io::Result<Metadata> {
        self.job(|f| f.metadata())
    }

    /// Creates a new `File` instance that shares the same underlying file
    /// handle, like [`std::fs::File::try_clone`].
    ///
    /// It duplicates the descriptor on the calling thread: that never waits
    /// on a disk. The clone shares the cursor, so it shares what operations
    /// cut short left too (see [`File`]'s "Cut short"): it waits for their
    /// jobs, and its reads return the bytes they read.
    ///
    /// # Examples
    ///
    /// ```
    /// use green_std::fs::File;
    /// use green_std::io::{Read, Seek, SeekFrom, Write};
    ///
    /// let path = std::env::temp_dir().join(format!("green-doc-try-clone-{}", std::process::id()));
    /// let rest = green::run(|| -> std::io::Result<String> {
    ///     File::create(&path)?.write_all(b"Hello, world!")?;
    ///     let mut file = File::open(&path)?;
    ///     let mut clone = file.try_clone()?;
    ///     file.seek(SeekFrom::Start(7))?; // moves the clone's cursor too
    ///     let mut rest = String::new();
    ///     clone.read_to_string(&mut rest)?;
    ///     Ok(rest)
    /// })?;
    /// assert_eq!(rest, "world!");
    /// # std::fs::remove_file(&path)?;
    /// # std::io::Result::Ok(())
    /// ```
    pub fn try_clone(&self) -> io::Result<File> {
        let std = self.inner.std.try_clone()?;
        Ok(File {
            inner: Arc::new(Inner {
                std,
                lane: Arc::clone(&self.inner.lane),
            }),
        })
    }

    /// Changes the permissions on the underlying file, like
    /// [`std::fs::File::set_permissions`]. One pool job.
    ///
    /// # Examples
    ///
    /// ```
    /// use green_std::fs::File;
    ///
    /// let path = std::env::temp_dir().join(format!("green-doc-file-perms-{}", std::process::id()));
    /// let readonly = green::run(|| -> std::io::Result<bool> {
    ///     let f = File::create(&path)?;
    ///     let mut perms = f.metadata()?.permissions();
    ///     perms.set_readonly(true);
    ///     f.set_permissions(perms)?;
    ///     Ok(f.metadata()?.permissions().readonly())
    /// })?;
    /// assert!(readonly);
    /// # std::fs::remove_file(&path)?;
    /// # std::io::Result::Ok(())
    /// ```
    pub fn set_permissions(&self, perm: Permissions) -> io::Result<()> {
        self.job(move |f| f.set_permissions(perm))
    }

    /// Changes the timestamps of the underlying file, like
    /// [`std::fs::File::set_times`]. One pool job.
    ///
    /// # Examples
    ///
    /// ```
    /// use green_std::fs::{File, FileTimes};
    /// use std::time::{Duration, SystemTime};
    ///
    /// let path = std::env::temp_dir().join(format!("green-doc-set-times-{}", std::process::id()));
    /// let then = SystemTime::UNIX_EPOCH + Duration::from_secs(1_000_000_000);
    /// let modified = green::run(|| -> std::io::Result<SystemTime> {
    ///     let f = File::create(&path)?;
    ///     f.set_times(FileTimes::new().set_accessed(then).set_modified(then))?;
    ///     f.metadata()?.modified()
    /// })?;
    /// assert_eq!(modified, then);
    /// # std::fs::remove_file(&path)?;
    /// # std::io::Result::Ok(())
    /// ```
    pub fn set_times(&self, times: FileTimes) -> io::Result<()> {
        self.job(move |f| f.set_times(times))
    }

    /// Changes the modification time of the underlying file, like
    /// [`std::fs::File::set_modified`]. One pool job.
    ///
    /// # Examples
    ///
    /// ```
    /// use green_std::fs::File;
    /// use std::time::{Duration, SystemTime};
    ///
    /// let path = std::env::temp_dir().join(format!("green-doc-set-modified-{}", std::process::id()));
    /// let then = SystemTime::UNIX_EPOCH + Duration::from_secs(1_000_000_000);
    /// let modified = green::run(|| -> std::io::Result<SystemTime> {
    ///     let f = File::create(&path)?;
    ///     f.set_modified(then)?;
    ///     f.metadata()?.modified()
    /// })?;
    /// assert_eq!(modified, then);
    /// # std::fs::remove_file(&path)?;
    /// # std::io::Result::Ok(())
    /// ```
    pub fn set_modified(&self, time: SystemTime) -> io::Result<()> {
        self.job(move |f| f.set_modified(time))
    }
}

/// As std's: `File { fd: 3, path: "…", read: true, write: false }`.
impl fmt::Debug for File {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&self.inner.std, f)
    }
}

/// Wraps std's file; its calls then go to the pool inside `run`.
impl From<std::fs::File> for File {
    fn from(file: std::fs::File) -> File {
        File::from_std(file)
    }
}

/// Unwraps std's file (the same descriptor).
impl From<File> for std::fs::File {
    fn from(file: File) -> std::fs::File {
        file.into_std()
    }
}

impl From<OwnedFd> for File {
    fn from(fd: OwnedFd) -> File {
        File::from_std(std::fs::File::from(fd))
    }
}

impl From<File> for OwnedFd {
    fn from(file: File) -> OwnedFd {
        file.into_std().into()
    }
}

/// As std's: a child process's stdio can be a file.
impl From<File> for std::process::Stdio {
    fn from(file: File) -> std::process::Stdio {
        file.into_std().into()
    }
}

impl AsFd for File {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.inner.std.as_fd()
    }
}

impl AsRawFd for File {
    fn as_raw_fd(&self) -> RawFd {
        self.inner.std.as_raw_fd()
    }
}

impl FromRawFd for File {
    /// As [`std::fs::File::from_raw_fd`].
    ///
    /// # Safety
    ///
    /// `fd` must be an open file descriptor that the caller owns; the
    /// returned `File` takes that ownership and closes it.
    unsafe fn from_raw_fd(fd: RawFd) -> File {
        // SAFETY: the caller upholds `from_raw_fd`'s contract, which is
        // std's own: `fd` is open and owned, and is now ours to close.
        File::from_std(unsafe { std::fs::File::from_raw_fd(fd) })
    }
}

impl IntoRawFd for File {
    fn into_raw_fd(self) -> RawFd {
        self.into_std().into_raw_fd()
    }
}

/// A job's result on its way to its greenlet. Dropped untaken (the greenlet
/// was unwound, or the job panicked or never ran), it hands what the job
/// left to the lane: the job's half of the parting.
struct JobEnd<R> {
    inner: Arc<Inner>,
    ticket: u64,
    value: Option<R>,
    leave: fn(R) -> Left,
    taken: bool,
}

impl<R> JobEnd<R> {
    fn take(mut self) -> R {
        self.taken = true;
        self.value.take().expect("the job ran")
    }
}

impl<R> Drop for JobEnd<R> {
    fn drop(&mut self) {
        if !self.taken {
            let left = self.value.take().map_or_else(Left::default, self.leave);
            self.inner.lane.job_ended(self.ticket, left);
        }
    }
}

/// The greenlet's half of a parting: dropped (not disarmed), the greenlet
/// was unwound while its job ran.
struct Waiting<'a> {
    lane: &'a Lane,
    file: &'a std::fs::File,
    ticket: u64,
    stream: Stream,
    taken: &'a [u8],
}

impl Waiting<'_> {
    /// The job's result came back: nothing to record (it holds only
    /// borrows and numbers, so forgetting it leaks nothing).
    fn disarm(self) {
        std::mem::forget(self);
    }
}

impl Drop for Waiting<'_> {
    fn drop(&mut self) {
        self.lane
            .greenlet_gone(self.file, self.ticket, self.stream, self.taken);
    }
}

fn _assert_send_and_sync() {
    fn assert<T: Send + Sync>() {}
    assert::<File>();
}
