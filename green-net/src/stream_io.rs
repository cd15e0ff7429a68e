//! `Read` and `Write` for the stream sockets, for the type and for a shared
//! reference to it (so one greenlet can read while another writes), written
//! once: every call goes through the socket's `Source`, which waits for
//! readiness instead of blocking, and makes the syscalls of [`crate::sys`],
//! non-blocking per call.

/// Implements `Read`/`Write` for `$ty` and `&$ty`, a type with a
/// `source: Source<_>` field holding a stream socket.
macro_rules! stream_io {
    ($ty:ident) => {
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
                self.source
                    .read_stream(len, |s| crate::sys::recv(s, buf, 0))
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
                self.source
                    .read_stream(len, |s| crate::sys::recv_vectored(s, bufs))
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
                self.source.write_with(|s| crate::sys::send(s, buf))
            }

            fn write_vectored(&mut self, bufs: &[std::io::IoSlice<'_>]) -> std::io::Result<usize> {
                self.source
                    .write_with(|s| crate::sys::send_vectored(s, bufs))
            }

            fn flush(&mut self) -> std::io::Result<()> {
                Ok(())
            }
        }
    };
}

pub(crate) use stream_io;
