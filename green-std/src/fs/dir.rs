//! Directories: [`ReadDir`] and its [`DirEntry`]s, and [`DirBuilder`].
//!
//! Inside `run`, a `ReadDir` reads ahead in batches of [`BATCH`] entries,
//! one job each (the first batch in the same job that opens the
//! directory), and each entry's file type is read with its batch: walking
//! a tree costs a job per thousand entries, not one per entry.
//! `DirEntry::metadata` is a job of its own. Outside `run` all of it is
//! std's, lazily, entry by entry.

use std::collections::VecDeque;
use std::ffi::OsString;
use std::fmt;
use std::io;
use std::os::unix::fs::{DirBuilderExt, DirEntryExt};
use std::panic::{RefUnwindSafe, UnwindSafe};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use super::pool::{self, BATCH};
use super::{FileType, Metadata};
use crate::lent::Lent;

/// Iterator over the entries in a directory, like [`std::fs::ReadDir`];
/// returned by [`read_dir`](super::read_dir).
///
/// Each item is an [`io::Result`]`<`[`DirEntry`]`>`; the order is the
/// file system's. Inside [`green::run`] entries are read ahead on green's
/// thread pool, 1024 per job.
///
/// # Examples
///
/// ```
/// use green_std::fs;
///
/// let dir = std::env::temp_dir().join(format!("green-doc-read-dir-struct-{}", std::process::id()));
/// let names = green::run(|| -> std::io::Result<Vec<String>> {
///     fs::create_dir(&dir)?;
///     fs::write(dir.join("a.txt"), b"")?;
///     fs::create_dir(dir.join("b"))?;
///     let mut names = Vec::new();
///     for entry in fs::read_dir(&dir)? {
///         names.push(entry?.file_name().into_string().unwrap());
///     }
///     names.sort();
///     Ok(names)
/// })?;
/// assert_eq!(names, ["a.txt", "b"]);
/// # std::fs::remove_dir_all(&dir)?;
/// # std::io::Result::Ok(())
/// ```
pub struct ReadDir {
    /// Entries read ahead, in order.
    ahead: VecDeque<io::Result<DirEntry>>,
    /// std's iterator. `None` only while a job has it: one whose greenlet
    /// was unwound (killed, or a timeout fired) hands it back with its
    /// batch through `away`, and the next `next` waits for that.
    inner: Option<std::fs::ReadDir>,
    /// Where the job that has `inner` hands it back; `None` when none has.
    away: Option<Arc<Lent<Batch>>>,
    /// std's iterator has returned `None`.
    done: bool,
    /// The directory as given, for Debug (std's prints it).
    root: PathBuf,
}

/// Unwind-safe as std's: `ahead` may hold an `io::Error`, which may box a
/// `dyn Error` (not unwind-safe), but the queue is only popped or replaced
/// whole, so a panic caught around the iterator leaves it as consistent as
/// std's.
impl UnwindSafe for ReadDir {}
impl RefUnwindSafe for ReadDir {}

impl ReadDir {
    /// Opens `path`; inside `run`, reads the first batch in the same job.
    pub(super) fn open(path: &Path) -> io::Result<ReadDir> {
        if !pool::green() {
            let inner = std::fs::read_dir(path)?;
            return Ok(ReadDir {
                ahead: VecDeque::new(),
                inner: Some(inner),
                away: None,
                done: false,
                root: path.to_path_buf(),
            });
        }
        pool::path_job(path, |p| {
            let mut inner = std::fs::read_dir(p)?;
            let (ahead, done) = read_batch(&mut inner);
            io::Result::Ok(ReadDir {
                ahead,
                inner: Some(inner),
                away: None,
                done,
                root: p.to_path_buf(),
            })
        })
    }
}

/// Reads up to [`BATCH`] entries with their file types (run in a job).
/// Returns them and whether the directory is exhausted.
fn read_batch(inner: &mut std::fs::ReadDir) -> (VecDeque<io::Result<DirEntry>>, bool) {
    let mut batch = VecDeque::with_capacity(BATCH.min(64));
    while batch.len() < BATCH {
        match inner.next() {
            Some(entry) => batch.push_back(entry.map(DirEntry::read_ahead)),
            None => return (batch, true),
        }
    }
    (batch, false)
}

impl Iterator for ReadDir {
    type Item = io::Result<DirEntry>;

    fn next(&mut self) -> Option<io::Result<DirEntry>> {
        self.come_back();
        if let Some(entry) = self.ahead.pop_front() {
            return Some(entry);
        }
        if self.done {
            return None;
        }
        if !pool::green() {
            let next = self.inner.as_mut()?.next();
            self.done = next.is_none();
            return next.map(|entry| entry.map(DirEntry::from_std));
        }
        let inner = self.inner.take()?;
        // Away until the job gives it back, whether this greenlet returns
        // below or is unwound in the wait (or the job never runs).
        let (away, mut loan) = Lent::lend((inner, VecDeque::new(), false));
        self.away = Some(away);
        pool::job(move || {
            let (inner, ahead, done) = &mut *loan;
            (*ahead, *done) = read_batch(inner);
        });
        self.next()
    }
}

impl ReadDir {
    /// Takes back std's iterator and its batch from the job that read it,
    /// if one has them, waiting for it to end (parking the greenlet inside
    /// `run`, blocking the thread outside): only a job cut short by an
    /// unwind can still be running here.
    fn come_back(&mut self) {
        let Some(away) = self.away.clone() else {
            return;
        };
        // Still away if this greenlet is unwound in the wait.
        let batch = away.wait_then(|batch| batch);
        let (inner, ahead, done) = batch.expect("the job gave the iterator back");
        // Away only after `ahead` ran out: the batch replaces it whole.
        debug_assert!(self.ahead.is_empty());
        (self.inner, self.away, self.done, self.ahead) = (Some(inner), None, done, ahead);
    }
}

/// What a batch job hands back: std's iterator, the entries it read, and
/// whether it is exhausted.
type Batch = (std::fs::ReadDir, VecDeque<io::Result<DirEntry>>, bool);

/// As std's: `ReadDir("/the/dir")`.
impl fmt::Debug for ReadDir {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // What std's prints, also while a job has std's iterator.
        f.debug_tuple("ReadDir").field(&self.root).finish()
    }
}

/// An entry returned by the [`ReadDir`] iterator, like
/// [`std::fs::DirEntry`]: a name in a directory, with its file type.
///
/// [`path`](DirEntry::path) and [`file_name`](DirEntry::file_name) never
/// touch the disk; [`metadata`](DirEntry::metadata) is a pool job inside
/// [`green::run`], and [`file_type`](DirEntry::file_type) was read with
/// the entry's batch.
///
/// # Notes
///
/// std's `DirEntry::metadata` (and `file_type` on file systems that do not
/// report types) make a syscall on the calling thread, so this is a type
/// of its own, not std's.
///
/// # Examples
///
/// ```
/// use green_std::fs;
///
/// let dir = std::env::temp_dir().join(format!("green-doc-dir-entry-{}", std::process::id()));
/// let (path, is_file) = green::run(|| -> std::io::Result<_> {
///     fs::create_dir(&dir)?;
///     fs::write(dir.join("only"), b"1")?;
///     let entry = fs::read_dir(&dir)?.next().unwrap()?;
///     Ok((entry.path(), entry.file_type()?.is_file()))
/// })?;
/// assert_eq!(path, dir.join("only"));
/// assert!(is_file);
/// # std::fs::remove_dir_all(&dir)?;
/// # std::io::Result::Ok(())
/// ```
pub struct DirEntry {
    /// Shared with a `metadata` job in flight.
    inner: Arc<std::fs::DirEntry>,
    /// The file type, when read ahead.
    file_type: Option<FileType>,
}

impl DirEntry {
    fn from_std(entry: std::fs::DirEntry) -> DirEntry {
        DirEntry {
            inner: Arc::new(entry),
            file_type: None,
        }
    }

    /// Wraps `entry` with its file type (run in a job). Failing to read it
    /// is not cached: `file_type` then asks again and reports the error.
    fn read_ahead(entry: std::fs::DirEntry) -> DirEntry {
        let file_type = entry.file_type().ok();
        DirEntry {
            inner: Arc::new(entry),
            file_type,
        }
    }

    /// Returns the full path to the file that this entry represents: the
    /// directory's path joined with the file name.
    ///
    /// # Examples
    ///
    /// ```
    /// use green_std::fs;
    ///
    /// let dir = std::env::temp_dir().join(format!("green-doc-entry-path-{}", std::process::id()));
    /// let path = green::run(|| -> std::io::Result<_> {
    ///     fs::create_dir(&dir)?;
    ///     fs::write(dir.join("f"), b"")?;
    ///     Ok(fs::read_dir(&dir)?.next().unwrap()?.path())
    /// })?;
    /// assert_eq!(path, dir.join("f"));
    /// # std::fs::remove_dir_all(&dir)?;
    /// # std::io::Result::Ok(())
    /// ```
    #[must_use]
    pub fn path(&self) -> PathBuf {
        self.inner.path()
    }

    /// Returns the metadata for the file that this entry points at, not
    /// following a final symlink, like [`std::fs::DirEntry::metadata`].
    /// One pool job.
    ///
    /// # Examples
    ///
    /// ```
    /// use green_std::fs;
    ///
    /// let dir = std::env::temp_dir().join(format!("green-doc-entry-meta-{}", std::process::id()));
    /// let len = green::run(|| -> std::io::Result<u64> {
    ///     fs::create_dir(&dir)?;
    ///     fs::write(dir.join("f"), b"12345")?;
    ///     Ok(fs::read_dir(&dir)?.next().unwrap()?.metadata()?.len())
    /// })?;
    /// assert_eq!(len, 5);
    /// # std::fs::remove_dir_all(&dir)?;
    /// # std::io::Result::Ok(())
    /// ```
    pub fn metadata(&self) -> io::Result<Metadata> {
        if !pool::green() {
            return self.inner.metadata();
        }
        let entry = Arc::clone(&self.inner);
        pool::job(move || entry.metadata())
    }

    /// Returns the file type for the file that this entry points at, not
    /// following a final symlink, like [`std::fs::DirEntry::file_type`].
    /// Read ahead with the entry inside `run`: no job.
    ///
    /// # Examples
    ///
    /// ```
    /// use green_std::fs;
    ///
    /// let dir = std::env::temp_dir().join(format!("green-doc-entry-type-{}", std::process::id()));
    /// let is_dir = green::run(|| -> std::io::Result<bool> {
    ///     fs::create_dir_all(dir.join("sub"))?;
    ///     Ok(fs::read_dir(&dir)?.next().unwrap()?.file_type()?.is_dir())
    /// })?;
    /// assert!(is_dir);
    /// # std::fs::remove_dir_all(&dir)?;
    /// # std::io::Result::Ok(())
    /// ```
    pub fn file_type(&self) -> io::Result<FileType> {
        if let Some(file_type) = self.file_type {
            return Ok(file_type);
        }
        if !pool::green() {
            return self.inner.file_type();
        }
        let entry = Arc::clone(&self.inner);
        pool::job(move || entry.file_type())
    }

    /// Returns the file name of this entry, without the directory.
    ///
    /// # Examples
    ///
    /// ```
    /// use green_std::fs;
    ///
    /// let dir = std::env::temp_dir().join(format!("green-doc-entry-name-{}", std::process::id()));
    /// let name = green::run(|| -> std::io::Result<_> {
    ///     fs::create_dir(&dir)?;
    ///     fs::write(dir.join("name.txt"), b"")?;
    ///     Ok(fs::read_dir(&dir)?.next().unwrap()?.file_name())
    /// })?;
    /// assert_eq!(name, "name.txt");
    /// # std::fs::remove_dir_all(&dir)?;
    /// # std::io::Result::Ok(())
    /// ```
    #[must_use]
    pub fn file_name(&self) -> OsString {
        self.inner.file_name()
    }
}

/// As std's: `DirEntry("/the/dir/name")`.
impl fmt::Debug for DirEntry {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&*self.inner, f)
    }
}

/// Unix's inode number of the entry, as on std's `DirEntry` (no syscall).
///
/// # Examples
///
/// ```
/// use green_std::fs;
/// use std::os::unix::fs::{DirEntryExt, MetadataExt};
///
/// let dir = std::env::temp_dir().join(format!("green-doc-entry-ino-{}", std::process::id()));
/// let (ino, file_ino) = green::run(|| -> std::io::Result<(u64, u64)> {
///     fs::create_dir(&dir)?;
///     fs::write(dir.join("f"), b"")?;
///     let entry = fs::read_dir(&dir)?.next().unwrap()?;
///     Ok((entry.ino(), fs::metadata(entry.path())?.ino()))
/// })?;
/// assert_eq!(ino, file_ino);
/// # std::fs::remove_dir_all(&dir)?;
/// # std::io::Result::Ok(())
/// ```
impl DirEntryExt for DirEntry {
    fn ino(&self) -> u64 {
        self.inner.ino()
    }
}

/// A builder used to create directories in various manners, like
/// [`std::fs::DirBuilder`]; [`create`](DirBuilder::create) runs on green's
/// thread pool inside [`green::run`] (a recursive create in one job).
///
/// Unix's [`DirBuilderExt::mode`] is implemented too.
///
/// # Examples
///
/// ```
/// use green_std::fs::DirBuilder;
///
/// let dir = std::env::temp_dir().join(format!("green-doc-dir-builder-{}", std::process::id()));
/// green::run(|| DirBuilder::new().recursive(true).create(dir.join("a/b/c")))?;
/// assert!(dir.join("a/b/c").is_dir());
/// # std::fs::remove_dir_all(&dir)?;
/// # std::io::Result::Ok(())
/// ```
pub struct DirBuilder {
    recursive: bool,
    mode: u32,
}

impl DirBuilder {
    /// Creates a new set of options with default mode/security settings
    /// for all platforms and also non-recursive.
    ///
    /// # Examples
    ///
    /// ```
    /// let builder = green_std::fs::DirBuilder::new();
    /// ```
    #[allow(clippy::new_without_default)] // std's has no `Default` either
    #[must_use]
    pub fn new() -> DirBuilder {
        DirBuilder {
            recursive: false,
            mode: 0o777,
        }
    }

    /// Indicates that directories should be created recursively, creating
    /// all parent directories. Parents that do not exist are created with
    /// the same security and permissions settings.
    ///
    /// # Examples
    ///
    /// ```
    /// let mut builder = green_std::fs::DirBuilder::new();
    /// builder.recursive(true);
    /// ```
    pub fn recursive(&mut self, recursive: bool) -> &mut Self {
        self.recursive = recursive;
        self
    }

    /// Creates the specified directory with the options configured in this
    /// builder, like [`std::fs::DirBuilder::create`]. One pool job.
    ///
    /// # Errors
    ///
    /// As std's: `AlreadyExists` when the path exists and the builder is
    /// not recursive, `NotFound` for a missing parent, and others. A
    /// recursive create succeeds when the directory already exists.
    ///
    /// # Examples
    ///
    /// ```
    /// use green_std::fs::DirBuilder;
    /// use std::io::ErrorKind;
    ///
    /// let dir = std::env::temp_dir().join(format!("green-doc-dir-builder-create-{}", std::process::id()));
    /// green::run(|| {
    ///     DirBuilder::new().create(&dir).unwrap();
    ///     let err = DirBuilder::new().create(&dir).unwrap_err();
    ///     assert_eq!(err.kind(), ErrorKind::AlreadyExists);
    ///     DirBuilder::new().recursive(true).create(&dir).unwrap();
    /// });
    /// # std::fs::remove_dir(&dir)?;
    /// # std::io::Result::Ok(())
    /// ```
    pub fn create<P: AsRef<Path>>(&self, path: P) -> io::Result<()> {
        let (recursive, mode) = (self.recursive, self.mode);
        pool::path_job(path, move |p| {
            let mut builder = std::fs::DirBuilder::new();
            builder.recursive(recursive).mode(mode).create(p)
        })
    }

    /// std's twin of this builder.
    fn to_std(&self) -> std::fs::DirBuilder {
        let mut builder = std::fs::DirBuilder::new();
        builder.recursive(self.recursive).mode(self.mode);
        builder
    }
}

/// As std's: `DirBuilder { inner: DirBuilder { mode: 511 }, recursive: false }`.
impl fmt::Debug for DirBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&self.to_std(), f)
    }
}

/// Unix's permission bits of new directories, as on std's `DirBuilder`.
///
/// # Examples
///
/// ```
/// use green_std::fs::DirBuilder;
/// use std::os::unix::fs::{DirBuilderExt, PermissionsExt};
///
/// let dir = std::env::temp_dir().join(format!("green-doc-dir-builder-mode-{}", std::process::id()));
/// green::run(|| DirBuilder::new().mode(0o700).create(&dir))?;
/// assert_eq!(std::fs::metadata(&dir)?.permissions().mode() & 0o777, 0o700);
/// # std::fs::remove_dir(&dir)?;
/// # std::io::Result::Ok(())
/// ```
impl DirBuilderExt for DirBuilder {
    fn mode(&mut self, mode: u32) -> &mut Self {
        self.mode = mode;
        self
    }
}

fn _assert_send_and_sync() {
    fn assert<T: Send + Sync>() {}
    assert::<ReadDir>();
    assert::<DirEntry>();
    assert::<DirBuilder>();
}
