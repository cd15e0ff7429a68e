//! The free functions of `std::fs`, each one pool job inside `run` (and
//! std's call outside). Only `write` of more than 8 MiB takes more: it
//! creates the file, then writes 8 MiB per job.

use std::io::{self, Write};
use std::path::{Path, PathBuf};

use super::pool::{self, CHUNK};
use super::{File, Metadata, Permissions, ReadDir};

/// Reads the entire contents of a file into a bytes vector, like
/// [`std::fs::read`]. One pool job; the bytes are moved, not copied.
///
/// # Errors
///
/// As std's: `NotFound` if `path` does not exist, and other errors of
/// opening and reading.
///
/// # Examples
///
/// ```
/// use green_std::fs;
///
/// let path = std::env::temp_dir().join(format!("green-doc-read-{}", std::process::id()));
/// std::fs::write(&path, [1, 2, 3])?;
/// assert_eq!(green::run(|| fs::read(&path))?, [1, 2, 3]);
/// # std::fs::remove_file(&path)?;
/// # std::io::Result::Ok(())
/// ```
pub fn read<P: AsRef<Path>>(path: P) -> io::Result<Vec<u8>> {
    pool::path_job(path, |p| std::fs::read(p))
}

/// Reads the entire contents of a file into a string, like
/// [`std::fs::read_to_string`]. One pool job.
///
/// # Errors
///
/// As std's: `InvalidData` if the contents are not UTF-8, and the errors
/// of [`read`].
///
/// # Examples
///
/// ```
/// use green_std::fs;
/// use std::io::ErrorKind;
///
/// let path = std::env::temp_dir().join(format!("green-doc-read-to-string-{}", std::process::id()));
/// green::run(|| {
///     fs::write(&path, "text").unwrap();
///     assert_eq!(fs::read_to_string(&path).unwrap(), "text");
///     fs::write(&path, [0xff, 0xfe]).unwrap();
///     assert_eq!(fs::read_to_string(&path).unwrap_err().kind(), ErrorKind::InvalidData);
/// });
/// # std::fs::remove_file(&path)?;
/// # std::io::Result::Ok(())
/// ```
pub fn read_to_string<P: AsRef<Path>>(path: P) -> io::Result<String> {
    pool::path_job(path, |p| std::fs::read_to_string(p))
}

/// Writes a slice as the entire contents of a file, creating it if needed
/// and truncating it if not, like [`std::fs::write`].
///
/// One pool job for up to 8 MiB (the bytes are copied into it); beyond,
/// the file is created in one job and written 8 MiB per job.
///
/// # Examples
///
/// ```
/// use green_std::fs;
///
/// let path = std::env::temp_dir().join(format!("green-doc-write-{}", std::process::id()));
/// green::run(|| fs::write(&path, b"Lorem ipsum"))?;
/// assert_eq!(std::fs::read(&path)?, b"Lorem ipsum");
/// # std::fs::remove_file(&path)?;
/// # std::io::Result::Ok(())
/// ```
pub fn write<P: AsRef<Path>, C: AsRef<[u8]>>(path: P, contents: C) -> io::Result<()> {
    let contents = contents.as_ref();
    if !pool::green() {
        return std::fs::write(path, contents);
    }
    if contents.len() <= CHUNK {
        let contents = contents.to_vec();
        return pool::path_job(path, move |p| std::fs::write(p, contents));
    }
    // std's `write` is exactly this.
    File::create(path)?.write_all(contents)
}

/// Returns an iterator over the entries within a directory, like
/// [`std::fs::read_dir`]. One pool job opens the directory and reads its
/// first 1024 entries; see [`ReadDir`].
///
/// # Errors
///
/// As std's: `NotFound` if `path` does not exist, `NotADirectory` if it is
/// not a directory, `PermissionDenied`, and others. Errors while reading
/// entries come out of the iterator.
///
/// # Examples
///
/// ```
/// use green_std::fs;
///
/// let dir = std::env::temp_dir().join(format!("green-doc-read-dir-{}", std::process::id()));
/// let count = green::run(|| -> std::io::Result<usize> {
///     fs::create_dir(&dir)?;
///     for i in 0..3 {
///         fs::write(dir.join(i.to_string()), b"")?;
///     }
///     Ok(fs::read_dir(&dir)?.count())
/// })?;
/// assert_eq!(count, 3);
/// # std::fs::remove_dir_all(&dir)?;
/// # std::io::Result::Ok(())
/// ```
pub fn read_dir<P: AsRef<Path>>(path: P) -> io::Result<ReadDir> {
    ReadDir::open(path.as_ref())
}

/// Queries the file system for information about a file or directory,
/// following symlinks, like [`std::fs::metadata`]. One pool job.
///
/// # Examples
///
/// ```
/// use green_std::fs;
///
/// let meta = green::run(|| fs::metadata(std::env::temp_dir()))?;
/// assert!(meta.is_dir());
/// # std::io::Result::Ok(())
/// ```
pub fn metadata<P: AsRef<Path>>(path: P) -> io::Result<Metadata> {
    pool::path_job(path, |p| std::fs::metadata(p))
}

/// Queries the metadata of a file without following symlinks, like
/// [`std::fs::symlink_metadata`]. One pool job.
///
/// # Examples
///
/// ```
/// use green_std::fs;
///
/// let link = std::env::temp_dir().join(format!("green-doc-symlink-metadata-{}", std::process::id()));
/// std::os::unix::fs::symlink("/no/such/target", &link)?;
/// let meta = green::run(|| fs::symlink_metadata(&link))?;
/// assert!(meta.file_type().is_symlink());
/// # std::fs::remove_file(&link)?;
/// # std::io::Result::Ok(())
/// ```
pub fn symlink_metadata<P: AsRef<Path>>(path: P) -> io::Result<Metadata> {
    pool::path_job(path, |p| std::fs::symlink_metadata(p))
}

/// Copies the contents of one file to another, and its permission bits,
/// like [`std::fs::copy`]. Returns the number of bytes copied. One pool
/// job (std's in-kernel copy: `copy_file_range`, `sendfile`).
///
/// # Errors
///
/// As std's: `NotFound` if `from` does not exist, `InvalidInput` if it is
/// not a regular file, and others.
///
/// # Examples
///
/// ```
/// use green_std::fs;
///
/// let from = std::env::temp_dir().join(format!("green-doc-copy-from-{}", std::process::id()));
/// let to = from.with_extension("copy");
/// let copied = green::run(|| -> std::io::Result<u64> {
///     fs::write(&from, b"copy me")?;
///     fs::copy(&from, &to)
/// })?;
/// assert_eq!(copied, 7);
/// assert_eq!(std::fs::read(&to)?, b"copy me");
/// # std::fs::remove_file(&from)?;
/// # std::fs::remove_file(&to)?;
/// # std::io::Result::Ok(())
/// ```
pub fn copy<P: AsRef<Path>, Q: AsRef<Path>>(from: P, to: Q) -> io::Result<u64> {
    pool::paths_job(from, to, |from, to| std::fs::copy(from, to))
}

/// Renames a file or directory, replacing `to` if it exists (as a file,
/// or an empty directory), like [`std::fs::rename`]. One pool job.
///
/// # Examples
///
/// ```
/// use green_std::fs;
///
/// let from = std::env::temp_dir().join(format!("green-doc-rename-{}", std::process::id()));
/// let to = from.with_extension("renamed");
/// std::fs::write(&from, b"")?;
/// green::run(|| fs::rename(&from, &to))?;
/// assert!(!from.exists() && to.exists());
/// # std::fs::remove_file(&to)?;
/// # std::io::Result::Ok(())
/// ```
pub fn rename<P: AsRef<Path>, Q: AsRef<Path>>(from: P, to: Q) -> io::Result<()> {
    pool::paths_job(from, to, |from, to| std::fs::rename(from, to))
}

/// Removes a file (or a symlink) from the file system, like
/// [`std::fs::remove_file`]. One pool job.
///
/// # Errors
///
/// As std's: `NotFound` if `path` does not exist, `IsADirectory` if it is
/// a directory, and others.
///
/// # Examples
///
/// ```
/// use green_std::fs;
/// use std::io::ErrorKind;
///
/// let path = std::env::temp_dir().join(format!("green-doc-remove-file-{}", std::process::id()));
/// std::fs::write(&path, b"")?;
/// green::run(|| {
///     fs::remove_file(&path).unwrap();
///     assert_eq!(fs::remove_file(&path).unwrap_err().kind(), ErrorKind::NotFound);
/// });
/// # std::io::Result::Ok(())
/// ```
pub fn remove_file<P: AsRef<Path>>(path: P) -> io::Result<()> {
    pool::path_job(path, |p| std::fs::remove_file(p))
}

/// Removes an empty directory, like [`std::fs::remove_dir`]. One pool job.
///
/// # Errors
///
/// As std's: `DirectoryNotEmpty` if it is not empty, `NotFound`,
/// `NotADirectory`, and others.
///
/// # Examples
///
/// ```
/// use green_std::fs;
/// use std::io::ErrorKind;
///
/// let dir = std::env::temp_dir().join(format!("green-doc-remove-dir-{}", std::process::id()));
/// std::fs::create_dir_all(dir.join("sub"))?;
/// green::run(|| {
///     assert_eq!(fs::remove_dir(&dir).unwrap_err().kind(), ErrorKind::DirectoryNotEmpty);
///     fs::remove_dir(dir.join("sub")).unwrap();
///     fs::remove_dir(&dir).unwrap();
/// });
/// # std::io::Result::Ok(())
/// ```
pub fn remove_dir<P: AsRef<Path>>(path: P) -> io::Result<()> {
    pool::path_job(path, |p| std::fs::remove_dir(p))
}

/// Removes a directory after removing all its contents, like
/// [`std::fs::remove_dir_all`] (symlinks are removed, not followed). One
/// pool job for the whole tree.
///
/// # Examples
///
/// ```
/// use green_std::fs;
///
/// let dir = std::env::temp_dir().join(format!("green-doc-remove-dir-all-{}", std::process::id()));
/// green::run(|| -> std::io::Result<()> {
///     fs::create_dir_all(dir.join("a/b"))?;
///     fs::write(dir.join("a/b/f"), b"")?;
///     fs::remove_dir_all(&dir)
/// })?;
/// assert!(!dir.exists());
/// # std::io::Result::Ok(())
/// ```
pub fn remove_dir_all<P: AsRef<Path>>(path: P) -> io::Result<()> {
    pool::path_job(path, |p| std::fs::remove_dir_all(p))
}

/// Creates a new, empty directory, like [`std::fs::create_dir`]. One pool
/// job.
///
/// # Errors
///
/// As std's: `AlreadyExists` if `path` exists, `NotFound` if a parent is
/// missing, and others.
///
/// # Examples
///
/// ```
/// use green_std::fs;
/// use std::io::ErrorKind;
///
/// let dir = std::env::temp_dir().join(format!("green-doc-create-dir-{}", std::process::id()));
/// green::run(|| {
///     fs::create_dir(&dir).unwrap();
///     assert_eq!(fs::create_dir(&dir).unwrap_err().kind(), ErrorKind::AlreadyExists);
/// });
/// # std::fs::remove_dir(&dir)?;
/// # std::io::Result::Ok(())
/// ```
pub fn create_dir<P: AsRef<Path>>(path: P) -> io::Result<()> {
    pool::path_job(path, |p| std::fs::create_dir(p))
}

/// Recursively creates a directory and all of its missing parents, like
/// [`std::fs::create_dir_all`]. One pool job.
///
/// # Examples
///
/// ```
/// use green_std::fs;
///
/// let dir = std::env::temp_dir().join(format!("green-doc-create-dir-all-{}", std::process::id()));
/// green::run(|| fs::create_dir_all(dir.join("a/b/c")))?;
/// assert!(dir.join("a/b/c").is_dir());
/// # std::fs::remove_dir_all(&dir)?;
/// # std::io::Result::Ok(())
/// ```
pub fn create_dir_all<P: AsRef<Path>>(path: P) -> io::Result<()> {
    pool::path_job(path, |p| std::fs::create_dir_all(p))
}

/// Creates a new hard link on the file system, like
/// [`std::fs::hard_link`]. One pool job.
///
/// # Examples
///
/// ```
/// use green_std::fs;
///
/// let original = std::env::temp_dir().join(format!("green-doc-hard-link-{}", std::process::id()));
/// let link = original.with_extension("link");
/// green::run(|| -> std::io::Result<()> {
///     fs::write(&original, b"shared")?;
///     fs::hard_link(&original, &link)
/// })?;
/// assert_eq!(std::fs::read(&link)?, b"shared");
/// # std::fs::remove_file(&original)?;
/// # std::fs::remove_file(&link)?;
/// # std::io::Result::Ok(())
/// ```
pub fn hard_link<P: AsRef<Path>, Q: AsRef<Path>>(original: P, link: Q) -> io::Result<()> {
    pool::paths_job(original, link, |original, link| {
        std::fs::hard_link(original, link)
    })
}

/// Creates a new symbolic link on the file system, like std's deprecated
/// [`std::fs::soft_link`]. One pool job.
///
/// # Examples
///
/// ```
/// #![allow(deprecated)]
/// use green_std::fs;
///
/// let link = std::env::temp_dir().join(format!("green-doc-soft-link-{}", std::process::id()));
/// green::run(|| fs::soft_link("/some/target", &link))?;
/// assert_eq!(std::fs::read_link(&link)?, std::path::Path::new("/some/target"));
/// # std::fs::remove_file(&link)?;
/// # std::io::Result::Ok(())
/// ```
#[deprecated(
    since = "1.1.0",
    note = "replaced with std::os::unix::fs::symlink and \
            std::os::windows::fs::{symlink_file, symlink_dir}"
)]
pub fn soft_link<P: AsRef<Path>, Q: AsRef<Path>>(original: P, link: Q) -> io::Result<()> {
    pool::paths_job(original, link, |original, link| {
        #[allow(deprecated)]
        std::fs::soft_link(original, link)
    })
}

/// Reads a symbolic link, returning the file that the link points to, like
/// [`std::fs::read_link`]. One pool job.
///
/// # Errors
///
/// As std's: `NotFound`, and `InvalidInput` if `path` is not a symlink.
///
/// # Examples
///
/// ```
/// use green_std::fs;
///
/// let link = std::env::temp_dir().join(format!("green-doc-read-link-{}", std::process::id()));
/// std::os::unix::fs::symlink("target", &link)?;
/// assert_eq!(green::run(|| fs::read_link(&link))?, std::path::Path::new("target"));
/// # std::fs::remove_file(&link)?;
/// # std::io::Result::Ok(())
/// ```
pub fn read_link<P: AsRef<Path>>(path: P) -> io::Result<PathBuf> {
    pool::path_job(path, |p| std::fs::read_link(p))
}

/// Returns the canonical, absolute form of a path with all intermediate
/// components normalized and symlinks resolved, like
/// [`std::fs::canonicalize`]. One pool job.
///
/// # Examples
///
/// ```
/// use green_std::fs;
///
/// let tmp = std::env::temp_dir();
/// let canonical = green::run(|| fs::canonicalize(tmp.join(".")))?;
/// assert_eq!(canonical, std::fs::canonicalize(&tmp)?);
/// # std::io::Result::Ok(())
/// ```
pub fn canonicalize<P: AsRef<Path>>(path: P) -> io::Result<PathBuf> {
    pool::path_job(path, |p| std::fs::canonicalize(p))
}

/// Changes the permissions found on a file or a directory, like
/// [`std::fs::set_permissions`]. One pool job.
///
/// # Examples
///
/// ```
/// use green_std::fs;
///
/// let path = std::env::temp_dir().join(format!("green-doc-set-permissions-{}", std::process::id()));
/// std::fs::write(&path, b"")?;
/// green::run(|| -> std::io::Result<()> {
///     let mut perms = fs::metadata(&path)?.permissions();
///     perms.set_readonly(true);
///     fs::set_permissions(&path, perms)
/// })?;
/// assert!(std::fs::metadata(&path)?.permissions().readonly());
/// # std::fs::remove_file(&path)?;
/// # std::io::Result::Ok(())
/// ```
pub fn set_permissions<P: AsRef<Path>>(path: P, perm: Permissions) -> io::Result<()> {
    pool::path_job(path, move |p| std::fs::set_permissions(p, perm))
}

/// Returns `Ok(true)` if the path points at an existing entity, like
/// [`std::fs::exists`] (following symlinks). One pool job.
///
/// Unlike `Path::exists`, errors other than "not found" (say, a
/// permission denied on a parent) are returned.
///
/// # Examples
///
/// ```
/// use green_std::fs;
///
/// green::run(|| -> std::io::Result<()> {
///     assert!(fs::exists(std::env::temp_dir())?);
///     assert!(!fs::exists("/no/such/green/file")?);
///     Ok(())
/// })?;
/// # std::io::Result::Ok(())
/// ```
pub fn exists<P: AsRef<Path>>(path: P) -> io::Result<bool> {
    pool::path_job(path, |p| std::fs::exists(p))
}
