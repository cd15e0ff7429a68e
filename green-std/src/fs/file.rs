//! [`File`]: std's file behind an `Arc`, so that jobs sent to the pool can
//! hold it. Reading, writing and seeking are in `read_write.rs`.

use std::fmt;
use std::io;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, FromRawFd, IntoRawFd, OwnedFd, RawFd};
use std::path::Path;
use std::sync::Arc;
use std::time::SystemTime;

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
    /// killed while its job runs on, keeping the descriptor open until the
    /// job is done.
    inner: Arc<std::fs::File>,
}

impl File {
    pub(super) fn from_std(file: std::fs::File) -> File {
        File {
            inner: Arc::new(file),
        }
    }

    /// Borrows std's file, for calls that never wait on a disk.
    pub(super) fn std(&self) -> &std::fs::File {
        &self.inner
    }

    /// Runs `op` on this file as one pool job (on the calling thread
    /// outside `run`).
    pub(super) fn job<R: Send + 'static>(
        &self,
        op: impl FnOnce(&std::fs::File) -> R + Send + 'static,
    ) -> R {
        if !pool::green() {
            return op(&self.inner);
        }
        let file = Arc::clone(&self.inner);
        pool::job(move || op(&file))
    }

    /// std's file, out of the `Arc`.
    fn into_std(self) -> std::fs::File {
        Arc::try_unwrap(self.inner).unwrap_or_else(|shared| {
            // A killed greenlet's job still uses the file and closes its
            // handle when done; hand out a duplicate of the descriptor.
            shared
                .try_clone()
                .expect("cannot duplicate a file still used by a killed greenlet's job")
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
        self.job(|f| f.sync_all())
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
        self.job(|f| f.sync_data())
    }

    /// Acquires an exclusive lock on the file, waiting until it is
    /// available, like [`std::fs::File::lock`]. One pool job.
    ///
    /// # Notes
    ///
    /// The wait occupies a pool thread (not the hub), so other greenlets
    /// run meanwhile, including the one that will unlock. Killing the
    /// waiting greenlet does not cancel the wait: the job takes the lock
    /// when it can and releases it by closing its handle, when no other
    /// handle of this `File` remains.
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
    /// on a disk.
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
        self.inner.try_clone().map(File::from_std)
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
        fmt::Debug::fmt(&*self.inner, f)
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
        self.inner.as_fd()
    }
}

impl AsRawFd for File {
    fn as_raw_fd(&self) -> RawFd {
        self.inner.as_raw_fd()
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

fn _assert_send_and_sync() {
    fn assert<T: Send + Sync>() {}
    assert::<File>();
}
