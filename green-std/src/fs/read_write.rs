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
//!
//! Every method first waits for the file's jobs cut short (`lane.rs`; on
//! a file without a cursor, only those of its own stream: reads, positioned
//! IO, or the rest): reads return the bytes those left before reading
//! more; writes return a write's error left; the rest seek back over the
//! bytes left, in their job, where the file has a cursor.

use std::fmt;
use std::io::{self, IoSlice, IoSliceMut, Read, Seek, SeekFrom, Write};
use std::mem;
use std::os::unix::fs::FileExt;
use std::string::FromUtf8Error;

use super::lane::{Left, Stream};
use super::pool::{self, CHUNK};
use super::File;

impl Read for &File {
    /// One pool job, reading at most 8 MiB (a short read, as std allows);
    /// none when reads cut short left bytes: this returns those.
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if let Some(n) = self.left_bytes(|bytes| bytes.read(buf)) {
            return n;
        }
        if !pool::green() {
            return self.std().read(buf);
        }
        let len = buf.len().min(CHUNK);
        let data = self.run(Stream::Reads, false, &[], read_left, move |f| {
            read_some(f, len)
        })?;
        buf[..data.len()].copy_from_slice(&data);
        Ok(data.len())
    }

    /// One pool job: one `readv`'s worth, scattered into `bufs` after;
    /// none when reads cut short left bytes: this returns those.
    fn read_vectored(&mut self, bufs: &mut [IoSliceMut<'_>]) -> io::Result<usize> {
        // Across the buffers in turn, as `readv` fills them (`VecDeque`'s
        // own `read_vectored` fills only the first).
        if let Some(n) = self.left_bytes(|bytes| {
            let mut total = 0;
            for buf in bufs.iter_mut() {
                let n = buf.len().min(bytes.len());
                for (to, from) in buf[..n].iter_mut().zip(bytes.drain(..n)) {
                    *to = from;
                }
                total += n;
            }
            total
        }) {
            return Ok(n);
        }
        if !pool::green() {
            return self.std().read_vectored(bufs);
        }
        let len = bufs.iter().map(|b| b.len()).sum::<usize>().min(CHUNK);
        let data = self.run(Stream::Reads, false, &[], read_left, move |f| {
            read_some(f, len)
        })?;
        let mut rest = &data[..];
        for buf in bufs.iter_mut() {
            let n = buf.len().min(rest.len());
            buf[..n].copy_from_slice(&rest[..n]);
            rest = &rest[n..];
        }
        Ok(data.len())
    }

    /// One pool job for the whole file, after the bytes reads cut short
    /// left; the bytes are moved, not copied, when `buf` is empty.
    fn read_to_end(&mut self, buf: &mut Vec<u8>) -> io::Result<usize> {
        let left = self.take_left();
        if !pool::green() {
            let n = left.len();
            buf.extend_from_slice(&left);
            return self.std().read_to_end(buf).map(|more| n + more);
        }
        let (data, result) = self.read_rest(left);
        let n = data.len();
        // Hand the allocation over when `buf` is empty (the usual case: a
        // new `Vec`); copy otherwise.
        if buf.is_empty() {
            *buf = data;
        } else {
            buf.extend_from_slice(&data);
        }
        result.map(|_| n)
    }

    /// One pool job for the whole file, after the bytes reads cut short
    /// left. As std's, invalid UTF-8 gives `InvalidData` and leaves `buf`
    /// unchanged.
    fn read_to_string(&mut self, buf: &mut String) -> io::Result<usize> {
        let left = self.take_left();
        if !pool::green() && left.is_empty() {
            return self.std().read_to_string(buf);
        }
        let (text, result) = if pool::green() {
            // The UTF-8 check runs in the job too: a big file's would hold
            // up the hub.
            self.run(Stream::Reads, false, &[], text_left, |mut f| {
                let mut data = left;
                let result = f.read_to_end(&mut data);
                (String::from_utf8(data), result)
            })
        } else {
            let mut data = left;
            let result = self.std().read_to_end(&mut data);
            (String::from_utf8(data), result)
        };
        // As std's `append_to_string`: a read error first, else the UTF-8
        // check, and the bytes are kept only if valid.
        match text {
            Ok(text) => {
                let n = text.len();
                if buf.is_empty() {
                    *buf = text;
                } else {
                    buf.push_str(&text);
                }
                result.map(|_| n)
            }
            Err(_) => result.and_then(|_| Err(invalid_utf8())),
        }
    }

    /// One pool job per 8 MiB of `buf`, after the bytes reads cut short
    /// left.
    fn read_exact(&mut self, buf: &mut [u8]) -> io::Result<()> {
        let mut done = self
            .left_bytes(|bytes| bytes.read(buf))
            .transpose()?
            .unwrap_or(0);
        if !pool::green() {
            return self.std().read_exact(&mut buf[done..]);
        }
        while done < buf.len() {
            // If this greenlet is unwound, the bytes read so far go back.
            let (taken, rest) = buf.split_at_mut(done);
            let len = rest.len().min(CHUNK);
            let (data, result) = self.run(Stream::Reads, false, taken, bytes_left, move |f| {
                read_full(f, len)
            });
            result?;
            rest[..len].copy_from_slice(&data);
            done += len;
        }
        Ok(())
    }
}

impl File {
    /// Takes every byte reads cut short left.
    fn take_left(&self) -> Vec<u8> {
        self.left_bytes(|bytes| Vec::from(mem::take(bytes)))
            .unwrap_or_default()
    }

    /// `read_to_end` on the pool, after `left`.
    fn read_rest(&self, left: Vec<u8>) -> (Vec<u8>, io::Result<usize>) {
        self.run(Stream::Reads, false, &[], bytes_left, |mut f| {
            let mut data = left;
            let result = f.read_to_end(&mut data);
            (data, result)
        })
    }
}

/// One read of at most `len` bytes (run in a job).
fn read_some(mut f: &std::fs::File, len: usize) -> io::Result<Vec<u8>> {
    let mut data = vec![0; len];
    let n = f.read(&mut data)?;
    data.truncate(n);
    Ok(data)
}

/// std's `read_exact` of `len` bytes (run in a job), returning the bytes it
/// read even when it fails, for a greenlet unwound meanwhile.
fn read_full(mut f: &std::fs::File, len: usize) -> (Vec<u8>, io::Result<()>) {
    let mut data = vec![0; len];
    let mut filled = 0;
    let result = loop {
        if filled == len {
            break Ok(());
        }
        match f.read(&mut data[filled..]) {
            Ok(0) => break Err(unexpected_eof()),
            Ok(n) => filled += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => break Err(e),
        }
    };
    data.truncate(filled);
    (data, result)
}

/// What a read cut short leaves: the bytes it read.
fn read_left(result: io::Result<Vec<u8>>) -> Left {
    result.map_or_else(Left::nothing, Left::bytes)
}

/// What a read cut short leaves: the bytes it read, even on an error.
fn bytes_left<T>((bytes, _): (Vec<u8>, io::Result<T>)) -> Left {
    Left::bytes(bytes)
}

/// What a `read_to_string` job cut short leaves: the bytes it read, text
/// or not.
fn text_left<T>((text, _): (Result<String, FromUtf8Error>, io::Result<T>)) -> Left {
    Left::bytes(text.map_or_else(FromUtf8Error::into_bytes, String::into_bytes))
}

/// std's own error for a `read_exact` that meets the end of the file.
fn unexpected_eof() -> io::Error {
    let mut nothing: &[u8] = &[];
    nothing.read_exact(&mut [0]).unwrap_err()
}

/// std's own error for bytes that are not UTF-8 in `read_to_string`.
fn invalid_utf8() -> io::Error {
    let mut invalid: &[u8] = &[0xff];
    invalid.read_to_string(&mut String::new()).unwrap_err()
}

impl Write for &File {
    /// One pool job, writing at most 8 MiB (a short write, as std allows).
    /// The error of a write cut short comes first (see `File`).
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let back = self.ready_to_write(Stream::Rest)?;
        if !pool::green() {
            return self.std().write(buf);
        }
        let data = buf[..buf.len().min(CHUNK)].to_vec();
        self.run(Stream::Rest, back, &[], Left::error, move |mut f| {
            f.write(&data)
        })
    }

    /// One pool job: the slices are gathered into one write.
    fn write_vectored(&mut self, bufs: &[IoSlice<'_>]) -> io::Result<usize> {
        let back = self.ready_to_write(Stream::Rest)?;
        if !pool::green() {
            return self.std().write_vectored(bufs);
        }
        let mut data = Vec::with_capacity(bufs.iter().map(|b| b.len()).sum::<usize>().min(CHUNK));
        for buf in bufs {
            let n = buf.len().min(CHUNK - data.len());
            data.extend_from_slice(&buf[..n]);
        }
        self.run(Stream::Rest, back, &[], Left::error, move |mut f| {
            f.write(&data)
        })
    }

    /// One pool job per 8 MiB of `buf`.
    fn write_all(&mut self, buf: &[u8]) -> io::Result<()> {
        let mut back = self.ready_to_write(Stream::Rest)?;
        if !pool::green() {
            return self.std().write_all(buf);
        }
        for chunk in buf.chunks(CHUNK) {
            let data = chunk.to_vec();
            let back = mem::take(&mut back);
            self.run(Stream::Rest, back, &[], Left::error, move |mut f| {
                f.write_all(&data)
            })?;
        }
        Ok(())
    }

    /// Formats first, then writes as [`write_all`](Write::write_all) does:
    /// `writeln!(file, "{a} {b}")` is one job, where std's makes a syscall
    /// per piece.
    fn write_fmt(&mut self, args: fmt::Arguments<'_>) -> io::Result<()> {
        if !pool::green() {
            self.ready_to_write(Stream::Rest)?;
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

    /// Files are unbuffered: nothing to do, as std's, but for the error
    /// of a write cut short, which it returns (see `File`).
    fn flush(&mut self) -> io::Result<()> {
        self.ready_to_write(Stream::Rest).map(drop)
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
    /// One pool job; std's cursor is just after the bytes handed out, so
    /// bytes that reads cut short left are sought back over first.
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
        let back = self.ready(Stream::Apart);
        if !pool::green() {
            return self.std().read_at(buf, offset);
        }
        let len = buf.len().min(CHUNK);
        let data = self.run(Stream::Apart, back, &[], Left::nothing, move |f| {
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
        let back = self.ready_to_write(Stream::Apart)?;
        if !pool::green() {
            return self.std().write_at(buf, offset);
        }
        let data = buf[..buf.len().min(CHUNK)].to_vec();
        self.run(Stream::Apart, back, &[], Left::error, move |f| {
            f.write_at(&data, offset)
        })
    }

    /// One pool job per 8 MiB of `buf`.
    fn read_exact_at(&self, buf: &mut [u8], offset: u64) -> io::Result<()> {
        let mut back = self.ready(Stream::Apart);
        if !pool::green() {
            return self.std().read_exact_at(buf, offset);
        }
        let mut offset = offset;
        for chunk in buf.chunks_mut(CHUNK) {
            let len = chunk.len();
            let back = mem::take(&mut back);
            let data = self.run(Stream::Apart, back, &[], Left::nothing, move |f| {
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
        let mut back = self.ready_to_write(Stream::Apart)?;
        if !pool::green() {
            return self.std().write_all_at(buf, offset);
        }
        let mut offset = offset;
        for chunk in buf.chunks(CHUNK) {
            let data = chunk.to_vec();
            let back = mem::take(&mut back);
            self.run(Stream::Apart, back, &[], Left::error, move |f| {
                f.write_all_at(&data, offset)
            })?;
            offset += chunk.len() as u64;
        }
        Ok(())
    }
}
