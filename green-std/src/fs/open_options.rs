//! [`OpenOptions`]: std's builder, with `open` on the pool.

use std::fmt;
use std::io;
use std::os::unix::fs::OpenOptionsExt;
use std::path::Path;

use super::pool;
use super::File;

/// Options and flags which can be used to configure how a file is opened,
/// like [`std::fs::OpenOptions`]; [`open`](OpenOptions::open) runs on
/// green's thread pool inside [`green::run`].
///
/// Unix's [`OpenOptionsExt`] (`mode`, `custom_flags`) is implemented too.
///
/// # Examples
///
/// ```
/// use green_std::fs::OpenOptions;
/// use green_std::io::{Read, Seek, SeekFrom, Write};
///
/// let path = std::env::temp_dir().join(format!("green-doc-open-options-{}", std::process::id()));
/// let text = green::run(|| -> std::io::Result<String> {
///     let mut file = OpenOptions::new().read(true).write(true).create(true).open(&path)?;
///     file.write_all(b"read and write")?;
///     file.seek(SeekFrom::Start(0))?;
///     let mut text = String::new();
///     file.read_to_string(&mut text)?;
///     Ok(text)
/// })?;
/// assert_eq!(text, "read and write");
/// # std::fs::remove_file(&path)?;
/// # std::io::Result::Ok(())
/// ```
#[derive(Clone)]
pub struct OpenOptions(std::fs::OpenOptions);

impl OpenOptions {
    /// Creates a blank new set of options ready for configuration, all
    /// initially `false`, like [`std::fs::OpenOptions::new`].
    ///
    /// # Examples
    ///
    /// ```
    /// use green_std::fs::OpenOptions;
    ///
    /// let mut options = OpenOptions::new();
    /// options.read(true);
    /// ```
    #[allow(clippy::new_without_default)] // std's has no `Default` either
    #[must_use]
    pub fn new() -> Self {
        OpenOptions(std::fs::OpenOptions::new())
    }

    /// Sets the option for read access.
    ///
    /// # Examples
    ///
    /// ```
    /// use green_std::fs::OpenOptions;
    ///
    /// green::run(|| {
    ///     let file = OpenOptions::new().read(true).open("/no/such/green/file");
    ///     assert_eq!(file.unwrap_err().kind(), std::io::ErrorKind::NotFound);
    /// });
    /// ```
    pub fn read(&mut self, read: bool) -> &mut Self {
        self.0.read(read);
        self
    }

    /// Sets the option for write access.
    ///
    /// # Examples
    ///
    /// ```
    /// use green_std::fs::OpenOptions;
    ///
    /// let path = std::env::temp_dir().join(format!("green-doc-oo-write-{}", std::process::id()));
    /// green::run(|| OpenOptions::new().write(true).create(true).open(&path))?;
    /// # std::fs::remove_file(&path)?;
    /// # std::io::Result::Ok(())
    /// ```
    pub fn write(&mut self, write: bool) -> &mut Self {
        self.0.write(write);
        self
    }

    /// Sets the option for append mode: writes go to the end of the file.
    ///
    /// # Examples
    ///
    /// ```
    /// use green_std::fs::OpenOptions;
    /// use green_std::io::Write;
    ///
    /// let path = std::env::temp_dir().join(format!("green-doc-oo-append-{}", std::process::id()));
    /// green::run(|| -> std::io::Result<()> {
    ///     for word in ["a", "b"] {
    ///         OpenOptions::new().append(true).create(true).open(&path)?.write_all(word.as_bytes())?;
    ///     }
    ///     Ok(())
    /// })?;
    /// assert_eq!(std::fs::read(&path)?, b"ab");
    /// # std::fs::remove_file(&path)?;
    /// # std::io::Result::Ok(())
    /// ```
    pub fn append(&mut self, append: bool) -> &mut Self {
        self.0.append(append);
        self
    }

    /// Sets the option for truncating a previous file to length 0.
    ///
    /// # Examples
    ///
    /// ```
    /// use green_std::fs::OpenOptions;
    ///
    /// let path = std::env::temp_dir().join(format!("green-doc-oo-truncate-{}", std::process::id()));
    /// std::fs::write(&path, b"old contents")?;
    /// green::run(|| OpenOptions::new().write(true).truncate(true).open(&path))?;
    /// assert_eq!(std::fs::metadata(&path)?.len(), 0);
    /// # std::fs::remove_file(&path)?;
    /// # std::io::Result::Ok(())
    /// ```
    pub fn truncate(&mut self, truncate: bool) -> &mut Self {
        self.0.truncate(truncate);
        self
    }

    /// Sets the option to create a new file, or open it if it already
    /// exists (with write or append access).
    ///
    /// # Examples
    ///
    /// ```
    /// use green_std::fs::OpenOptions;
    ///
    /// let path = std::env::temp_dir().join(format!("green-doc-oo-create-{}", std::process::id()));
    /// green::run(|| OpenOptions::new().write(true).create(true).open(&path))?;
    /// assert!(path.is_file());
    /// # std::fs::remove_file(&path)?;
    /// # std::io::Result::Ok(())
    /// ```
    pub fn create(&mut self, create: bool) -> &mut Self {
        self.0.create(create);
        self
    }

    /// Sets the option to create a new file, failing if it already exists
    /// (atomically, `O_CREAT | O_EXCL`).
    ///
    /// # Examples
    ///
    /// ```
    /// use green_std::fs::OpenOptions;
    /// use std::io::ErrorKind;
    ///
    /// let path = std::env::temp_dir().join(format!("green-doc-oo-create-new-{}", std::process::id()));
    /// green::run(|| {
    ///     let mut options = OpenOptions::new();
    ///     options.write(true).create_new(true);
    ///     options.open(&path).unwrap();
    ///     assert_eq!(options.open(&path).unwrap_err().kind(), ErrorKind::AlreadyExists);
    /// });
    /// # std::fs::remove_file(&path)?;
    /// # std::io::Result::Ok(())
    /// ```
    pub fn create_new(&mut self, create_new: bool) -> &mut Self {
        self.0.create_new(create_new);
        self
    }

    /// Opens a file at `path` with the options specified by `self`, like
    /// [`std::fs::OpenOptions::open`]. One pool job.
    ///
    /// # Errors
    ///
    /// As std's, with the same kinds: `NotFound`, `PermissionDenied`,
    /// `AlreadyExists` (with `create_new`), `InvalidInput` for an invalid
    /// combination of options, and others.
    ///
    /// # Examples
    ///
    /// ```
    /// use green_std::fs::OpenOptions;
    /// use std::io::ErrorKind;
    ///
    /// green::run(|| {
    ///     // `create` needs write or append access
    ///     let err = OpenOptions::new().read(true).create(true).open("x").unwrap_err();
    ///     assert_eq!(err.kind(), ErrorKind::InvalidInput);
    /// });
    /// ```
    pub fn open<P: AsRef<Path>>(&self, path: P) -> io::Result<File> {
        if !pool::green() {
            return self.0.open(path).map(File::from_std);
        }
        let options = self.0.clone();
        pool::path_job(path, move |p| options.open(p)).map(File::from_std)
    }
}

/// As std's: `OpenOptions(OpenOptions { read: true, … })`.
impl fmt::Debug for OpenOptions {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&self.0, f)
    }
}

/// Unix's `mode` and `custom_flags`, as on std's `OpenOptions`.
///
/// # Examples
///
/// ```
/// use green_std::fs::OpenOptions;
/// use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
///
/// let path = std::env::temp_dir().join(format!("green-doc-oo-mode-{}", std::process::id()));
/// let mode = green::run(|| -> std::io::Result<u32> {
///     let file = OpenOptions::new().write(true).create_new(true).mode(0o600).open(&path)?;
///     Ok(file.metadata()?.permissions().mode() & 0o777)
/// })?;
/// assert_eq!(mode, 0o600);
/// # std::fs::remove_file(&path)?;
/// # std::io::Result::Ok(())
/// ```
impl OpenOptionsExt for OpenOptions {
    fn mode(&mut self, mode: u32) -> &mut Self {
        self.0.mode(mode);
        self
    }

    fn custom_flags(&mut self, flags: i32) -> &mut Self {
        self.0.custom_flags(flags);
        self
    }
}
