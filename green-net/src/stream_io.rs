//! `Read` and `Write` for the stream sockets, for the type and for a shared
//! reference to it (so one greenlet can read while another writes), written
//! once: every call goes through the socket's `Source`, which waits for
//! readiness instead of blocking.

/// Implements `Read`/`Write` for `$ty` and `&$ty`, a type with a
/// `source: Source<_>` field whose socket is `Read + Write` by reference.
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
                    .read_stream(len, |mut s| std::io::Read::read(&mut s, buf))
            }

            fn read_vectored(
                &mut self,
                bufs: &mut [std::io::IoSliceMut<'_>],
            ) -> std::io::Result<usize> {
                // The kernel takes at most `UIO_MAXIOV` buffers (std's
                // `readv` passes no more): past that, a full read would look
                // short, so it proves nothing (0).
                let len = if bufs.len() <= libc::UIO_MAXIOV as usize {
                    bufs.iter().map(|b| b.len()).sum()
                } else {
                    0
                };
                self.source
                    .read_stream(len, |mut s| std::io::Read::read_vectored(&mut s, bufs))
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
                    .write_with(|mut s| std::io::Write::write(&mut s, buf))
            }

            fn write_vectored(&mut self, bufs: &[std::io::IoSlice<'_>]) -> std::io::Result<usize> {
                self.source
                    .write_with(|mut s| std::io::Write::write_vectored(&mut s, bufs))
            }

            fn flush(&mut self) -> std::io::Result<()> {
                Ok(())
            }
        }
    };
}

pub(crate) use stream_io;
