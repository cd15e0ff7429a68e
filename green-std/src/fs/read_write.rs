//! `Read`, `Write` and `Seek` for [`File`] and `&File`, and Unix's
//! `FileExt` (positioned reads and writes).
//!
//! Outside `run` each method is std's on the caller's own buffer. Inside,
//! a job may not borrow the caller's buffer (a killed greenlet would free
//! it while the pool still writes), so reads fill a `Vec` on the pool that
//! is then copied out, and writes copy the bytes in first, at most
//! [`CHUNK`] per job. Loops that std runs in one call (`read_exact`,
//! `write_all`, `read_to_end`…) run inside the job, not around it, so a
//! job is a round trip per 8 MiB, never per small read.

use std::fmt;
use std::io::{self, IoSlice, IoSliceMut, Read, Seek, SeekFrom, Write};
use std::os::unix::fs::FileExt;

use super::pool::{self, CHUNK};
use super::File;

impl Read for &File {
    /// One pool job, reading at most 8 MiB (a short read, as std allows).
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if !pool::green() {
            return self.std().read(buf);
        }
        let len = buf.len().min(CHUNK);
        let data = self.job(move |mut f| {
            let mut data = vec![0; len];
            let n = f.read(&mut data)?;
            data.truncate(n);
            io::Result::Ok(data)
        })?;
        buf[..data.len()].copy_from_slice(&data);
        Ok(data.len())
    }

    /// One pool job: one `readv`'s worth, scattered into `bufs` after.
    fn read_vectored(&mut self, bufs: &mut [IoSliceMut<'_>]) -> io::Result<usize> {
        if !pool::green() {
            return self.std().read_vectored(bufs);
        }
        let len = bufs.iter().map(|b| b.len()).sum::<usize>().min(CHUNK);
        let data = self.job(move |mut f| {
            let mut data = vec![0; len];
            let n = f.read(&mut data)?;
            data.truncate(n);
            io::Result::Ok(data)
        })?;
        let mut rest = &data[..];
        for buf in bufs.iter_mut() {
            let n = buf.len().min(rest.len());
            buf[..n].copy_from_slice(&rest[..n]);
            rest = &rest[n..];
        }
        Ok(data.len())
    }

    /// One pool job for the whole file; the bytes are moved, not copied,
    /// when `buf` is empty.
    fn read_to_end(&mut self, buf: &mut Vec<u8>) -> io::Result<usize> {
        if !pool::green() {
            return self.std().read_to_end(buf);
        }
        let (data, result) = self.job(|mut f| {
            let mut data = Vec::new();
            let result = f.read_to_end(&mut data);
            (data, result)
        });
        // Hand the allocation over when `buf` is empty (the usual case: a
        // new `Vec`); copy otherwise.
        if buf.is_empty() {
            *buf = data;
        } else {
            buf.extend_from_slice(&data);
        }
        result
    }

    /// One pool job for the whole file. As std's, invalid UTF-8 gives
    /// `InvalidData` and leaves `buf` unchanged.
    fn read_to_string(&mut self, buf: &mut String) -> io::Result<usize> {
        if !pool::green() {
            return self.std().read_to_string(buf);
        }
        let (text, result) = self.job(|mut f| {
            let mut text = String::new();
            let result = f.read_to_string(&mut text);
            (text, result)
        });
        if buf.is_empty() {
            *buf = text;
        } else {
            buf.push_str(&text);
        }
        result
    }

    /// One pool job per 8 MiB of `buf`.
    fn read_exact(&mut self, buf: &mut [u8]) -> io::Result<()> {
        if !pool::green() {
            return self.std().read_exact(buf);
        }
        for chunk in buf.chunks_mut(CHUNK) {
            let len = chunk.len();
            let data = self.job(move |mut f| {
                let mut data = vec![0; len];
                f.read_exact(&mut data)?;
                io::Result::Ok(data)
            })?;
            chunk.copy_from_slice(&data);
        }
        Ok(())
    }
}

impl Write for &File {
    /// One pool job, writing at most 8 MiB (a short write, as std allows).
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        if !pool::green() {
            return self.std().write(buf);
        }
        let data = buf[..buf.len().min(CHUNK)].to_vec();
        self.job(move |mut f| f.write(&data))
    }

    /// One pool job: the slices are gathered into one write.
    fn write_vectored(&mut self, bufs: &[IoSlice<'_>]) -> io::Result<usize> {
        if !pool::green() {
            return self.std().write_vectored(bufs);
        }
        let mut data = Vec::with_capacity(bufs.iter().map(|b| b.len()).sum::<usize>().min(CHUNK));
        for buf in bufs {
            let n = buf.len().min(CHUNK - data.len());
            data.extend_from_slice(&buf[..n]);
        }
        self.job(move |mut f| f.write(&data))
    }

    /// One pool job per 8 MiB of `buf`.
    fn write_all(&mut self, buf: &[u8]) -> io::Result<()> {
        if !pool::green() {
            return self.std().write_all(buf);
        }
        for chunk in buf.chunks(CHUNK) {
            let data = chunk.to_vec();
            self.job(move |mut f| f.write_all(&data))?;
        }
        Ok(())
    }

    /// Formats first, then writes as [`write_all`](Write::write_all) does:
    /// `writeln!(file, "{a} {b}")` is one job, where std's makes a syscall
    /// per piece.
    fn write_fmt(&mut self, args: fmt::Arguments<'_>) -> io::Result<()> {
        if !pool::green() {
            return self.std().write_fmt(args);
        }
        if let Some(text) = args.as_str() {
            return self.write_all(text.as_bytes());
        }
        let mut text = String::new();
        let formatted = fmt::write(&mut text, args);
        self.write_all(text.as_bytes())?;
        if formatted.is_err() {
            // A `Display` impl failed although the file did not: the
            // pieces before it are written, as std's would be; now do what
            // std does next (it panics, in the std of this writing).
            return Discard.write_fmt(format_args!("{FailingDisplay}"));
        }
        Ok(())
    }

    /// Files are unbuffered: nothing to do, as std's.
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// A `Display` that fails, to hand the formatting failure to std.
struct FailingDisplay;

/// A writer that never fails and keeps std's default `write_fmt` (unlike
/// `io::sink`, which skips formatting).
struct Discard;

impl Write for Discard {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl fmt::Display for FailingDisplay {
    fn fmt(&self, _: &mut fmt::Formatter<'_>) -> fmt::Result {
        Err(fmt::Error)
    }
}

impl Seek for &File {
    /// One pool job.
    fn seek(&mut self, pos: SeekFrom) -> io::Result<u64> {
        self.job(move |mut f| f.seek(pos))
    }
}

impl Read for File {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        (&*self).read(buf)
    }

    fn read_vectored(&mut self, bufs: &mut [IoSliceMut<'_>]) -> io::Result<usize> {
        (&*self).read_vectored(bufs)
    }

    fn read_to_end(&mut self, buf: &mut Vec<u8>) -> io::Result<usize> {
        (&*self).read_to_end(buf)
    }

    fn read_to_string(&mut self, buf: &mut String) -> io::Result<usize> {
        (&*self).read_to_string(buf)
    }

    fn read_exact(&mut self, buf: &mut [u8]) -> io::Result<()> {
        (&*self).read_exact(buf)
    }
}

impl Write for File {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        (&*self).write(buf)
    }

    fn write_vectored(&mut self, bufs: &[IoSlice<'_>]) -> io::Result<usize> {
        (&*self).write_vectored(bufs)
    }

    fn write_all(&mut self, buf: &[u8]) -> io::Result<()> {
        (&*self).write_all(buf)
    }

    fn write_fmt(&mut self, args: fmt::Arguments<'_>) -> io::Result<()> {
        (&*self).write_fmt(args)
    }

    fn flush(&mut self) -> io::Result<()> {
        (&*self).flush()
    }
}

impl Seek for File {
    fn seek(&mut self, pos: SeekFrom) -> io::Result<u64> {
        (&*self).seek(pos)
    }
}

/// Positioned reads and writes (`pread`/`pwrite`), which leave the cursor
/// alone, as std's `File` has them.
///
/// # Examples
///
/// ```
/// use green_std::fs::File;
/// use std::os::unix::fs::FileExt;
///
/// let path = std::env::temp_dir().join(format!("green-doc-file-ext-{}", std::process::id()));
/// let word = green::run(|| -> std::io::Result<[u8; 5]> {
///     let file = File::options().read(true).write(true).create(true).open(&path)?;
///     file.write_all_at(b"hello world", 0)?;
///     let mut word = [0; 5];
///     file.read_exact_at(&mut word, 6)?;
///     Ok(word)
/// })?;
/// assert_eq!(&word, b"world");
/// # std::fs::remove_file(&path)?;
/// # std::io::Result::Ok(())
/// ```
impl FileExt for File {
    /// One pool job, reading at most 8 MiB.
    fn read_at(&self, buf: &mut [u8], offset: u64) -> io::Result<usize> {
        if !pool::green() {
            return self.std().read_at(buf, offset);
        }
        let len = buf.len().min(CHUNK);
        let data = self.job(move |f| {
            let mut data = vec![0; len];
            let n = f.read_at(&mut data, offset)?;
            data.truncate(n);
            io::Result::Ok(data)
        })?;
        buf[..data.len()].copy_from_slice(&data);
        Ok(data.len())
    }

    /// One pool job, writing at most 8 MiB.
    fn write_at(&self, buf: &[u8], offset: u64) -> io::Result<usize> {
        if !pool::green() {
            return self.std().write_at(buf, offset);
        }
        let data = buf[..buf.len().min(CHUNK)].to_vec();
        self.job(move |f| f.write_at(&data, offset))
    }

    /// One pool job per 8 MiB of `buf`.
    fn read_exact_at(&self, buf: &mut [u8], offset: u64) -> io::Result<()> {
        if !pool::green() {
            return self.std().read_exact_at(buf, offset);
        }
        let mut offset = offset;
        for chunk in buf.chunks_mut(CHUNK) {
            let len = chunk.len();
            let data = self.job(move |f| {
                let mut data = vec![0; len];
                f.read_exact_at(&mut data, offset)?;
                io::Result::Ok(data)
            })?;
            chunk.copy_from_slice(&data);
            offset += len as u64;
        }
        Ok(())
    }

    /// One pool job per 8 MiB of `buf`.
    fn write_all_at(&self, buf: &[u8], offset: u64) -> io::Result<()> {
        if !pool::green() {
            return self.std().write_all_at(buf, offset);
        }
        let mut offset = offset;
        for chunk in buf.chunks(CHUNK) {
            let data = chunk.to_vec();
            self.job(move |f| f.write_all_at(&data, offset))?;
            offset += chunk.len() as u64;
        }
        Ok(())
    }
}
