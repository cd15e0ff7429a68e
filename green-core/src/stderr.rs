//! Reports written to stderr in one `write(2)`, past std's lock on it:
//! the code they report on (a greenlet that blocks its hub, one that
//! overflowed its stack) may hold that lock, or be unable to take it.

/// Writes `bytes` to stderr with one `write(2)`; errors are ignored, as
/// there is nowhere left to report them.
pub(crate) fn write(bytes: &[u8]) {
    // SAFETY: write(2) reads `bytes.len()` initialised bytes of `bytes`. A
    // raw system call, not libc's `write`, which a libc-level patch
    // (docs/libc-patch.md) would see.
    unsafe {
        libc::syscall(
            libc::SYS_write,
            libc::STDERR_FILENO,
            bytes.as_ptr().cast::<libc::c_void>(),
            bytes.len(),
        )
    };
}
