//! `Read` and `Write` for the stream sockets, for the type and for a shared
//! reference to it (so one greenlet can read while another writes), written
//! once: every call goes through the socket's `Source`, which waits for
//! readiness instead of blocking, and makes the syscalls of [`crate::sys`],
//! non-blocking per call.

/// Implements `Read`/`Write` for `$ty` and `&$ty`, a type with a
/// `source: Source<_>` field holding a stream socket.
///
/// `$empty_read_times_out_empty` says what a blocking read into no bytes
/// with nothing queued gives when its read timeout passes: `true`, `Ok(0)`,
/// as a TCP socket's in the kernel (it waits for data or the timeout, and
/// returns 0 either way); `false`, `WouldBlock`, as a Unix stream's.
macro_rules! stream_io {
    ($ty:ident, $empty_read_times_out_empty:expr) => {
        impl std::io::Read for $ty {
            fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
                std::io::Read::read(&mut &*self, buf)
            }

            fn read_vectored(
                &mut self,
                bufs: &mut [std::io::IoSliceMut<'_>],
            ) -> std::io::Result<usize> {
                std::io::Read::read_vectored(&mut &*self, bufs)
            }
        }

        impl std::io::Read for &$ty {
            fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
                let len = buf.len();
                let read = self
                    .source
                    .read_stream(len, |s| crate::sys::recv(s, buf, 0));
                self.empty_read_ends(len, read)
            }

            fn read_vectored(
                &mut self,
                bufs: &mut [std::io::IoSliceMut<'_>],
            ) -> std::io::Result<usize> {
                // The kernel takes at most `UIO_MAXIOV` buffers (std's
                // `readv` passes no more): past that, a full read would look
                // short, so it proves nothing (0).
                let len = if bufs.len() <= crate::sys::MAX_IOV {
                    bufs.iter().map(|b| b.len()).sum()
                } else {
                    0
                };
                let empty = bufs.iter().all(|b| b.is_empty());
                let read = self
                    .source
                    .read_stream(len, |s| crate::sys::recv_vectored(s, bufs));
                self.empty_read_ends(if empty { 0 } else { 1 }, read)
            }
        }

        impl $ty {
            /// The end of a read (or a peek) into `len` bytes: a blocking read into
            /// none that failed with `WouldBlock` has timed out, and gives
            /// what the kernel's does (see `stream_io!`).
            fn empty_read_ends(
                &self,
                len: usize,
                read: std::io::Result<usize>,
            ) -> std::io::Result<usize> {
                match read {
                    Err(e)
                        if $empty_read_times_out_empty
                            && len == 0
                            && e.kind() == std::io::ErrorKind::WouldBlock
                            && !self.source.is_nonblocking() =>
                    {
                        Ok(0)
                    }
                    read => read,
                }
            }
        }

        impl std::io::Write for $ty {
            fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
                std::io::Write::write(&mut &*self, buf)
            }

            fn write_vectored(&mut self, bufs: &[std::io::IoSlice<'_>]) -> std::io::Result<usize> {
                std::io::Write::write_vectored(&mut &*self, bufs)
            }

            fn flush(&mut self) -> std::io::Result<()> {
                Ok(())
            }
        }

        impl std::io::Write for &$ty {
            fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
                self.source
                    .write_stream(buf.len(), |s, sent| crate::sys::send(s, &buf[sent..]))
            }

            fn write_vectored(&mut self, bufs: &[std::io::IoSlice<'_>]) -> std::io::Result<usize> {
                // What std's `writev` passes, all of which its blocking
                // write queues.
                let bufs = &bufs[..bufs.len().min(crate::sys::MAX_IOV)];
                let len = bufs.iter().fold(0, |n: usize, b| n.saturating_add(b.len()));
                // After a short send: a copy of the slices, advanced past
                // what went out (`start` is the first one left).
                let mut rest = Vec::new();
                let (mut start, mut advanced) = (0, 0);
                self.source.write_stream(len, |s, sent| {
                    if sent == 0 {
                        return crate::sys::send_vectored(s, bufs);
                    }
                    if rest.is_empty() {
                        rest.extend_from_slice(bufs);
                    }
                    let total = rest.len();
                    let mut left = &mut rest[start..];
                    std::io::IoSlice::advance_slices(&mut left, sent - advanced);
                    start = total - left.len();
                    advanced = sent;
                    crate::sys::send_vectored(s, &rest[start..])
                })
            }

            fn flush(&mut self) -> std::io::Result<()> {
                Ok(())
            }
        }
    };
}

pub(crate) use stream_io;
