//! Stack sizes: bytes at our API, words at generator's; the process-wide
//! default; and the diagnosis of a stack that cannot be mapped.

use std::any::Any;
use std::io;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::OnceLock;

const WORD: usize = std::mem::size_of::<usize>();

/// The default usable stack size of a greenlet: 256 KiB.
///
/// Only the pages a greenlet touches become resident (an idle greenlet costs
/// one page: the patched generator writes no sentinel at the bottom), so a
/// generous size costs address space, not memory.
pub(crate) const DEFAULT_STACK_SIZE: usize = 256 * 1024;

/// The smallest stack a greenlet gets: 16 KiB.
pub(crate) const MIN_STACK_SIZE: usize = 16 * 1024;

/// The stack of the main greenlet, the one [`crate::run()`] starts: 8 MiB, like
/// a process's main thread.
pub(crate) const MAIN_STACK_SIZE: usize = 8 * 1024 * 1024;

/// Closures larger than this are boxed rather than stored on the stack.
pub(crate) const MAX_INLINE_CLOSURE: usize = 1024;

/// 0 means "not set yet": read `GREEN_STACK_SIZE` on first use.
static DEFAULT: AtomicUsize = AtomicUsize::new(0);

/// The process-wide default stack size in bytes.
pub(crate) fn default_size() -> usize {
    match DEFAULT.load(Ordering::Relaxed) {
        0 => {
            static FROM_ENV: OnceLock<usize> = OnceLock::new();
            *FROM_ENV.get_or_init(|| {
                crate::env::number("GREEN_STACK_SIZE", "bytes", 0).map_or(DEFAULT_STACK_SIZE, round)
            })
        }
        n => n,
    }
}

/// Sets the process-wide default stack size in bytes.
pub(crate) fn set_default_size(bytes: usize) {
    DEFAULT.store(round(bytes), Ordering::Relaxed);
}

/// Rounds a requested size in bytes up to whole pages, at least
/// [`MIN_STACK_SIZE`].
pub(crate) fn round(bytes: usize) -> usize {
    let page = page_size();
    bytes.max(MIN_STACK_SIZE).saturating_add(page - 1) & !(page - 1)
}

/// Converts bytes to generator's words.
///
/// Always even: an odd word count makes generator fill the whole stack with
/// a sentinel at creation (full usage tracking), touching every page.
pub(crate) fn bytes_to_words(bytes: usize) -> usize {
    (bytes / WORD) & !1
}

pub(crate) fn page_size() -> usize {
    static PAGE: OnceLock<usize> = OnceLock::new();
    *PAGE.get_or_init(|| {
        // SAFETY: sysconf has no preconditions; it only reads a constant.
        let n = unsafe { libc::sysconf(libc::_SC_PAGESIZE) };
        if n > 0 {
            n as usize
        } else {
            4096
        }
    })
}

/// Turns the panic generator raised while mapping a stack into an error that
/// says what to do about it.
pub(crate) fn allocation_error(stack_bytes: usize, payload: &(dyn Any + Send)) -> io::Error {
    let detail = payload
        .downcast_ref::<String>()
        .map(String::as_str)
        .or_else(|| payload.downcast_ref::<&str>().copied())
        .unwrap_or("unknown failure");
    if detail.contains("ExceedsMaximumSize") {
        return io::Error::new(
            io::ErrorKind::InvalidInput,
            format!(
                "cannot allocate a greenlet stack of {stack_bytes} bytes: it is larger than the \
                 process's stack limit (RLIMIT_STACK); ask for a smaller stack_size ({detail})"
            ),
        );
    }
    let cause = match map_counts() {
        Some((maps, limit)) if maps + 16 >= limit => format!(
            "the process has {maps} memory mappings and the kernel's vm.max_map_count is {limit}; \
             a greenlet stack of other than the default size, or any stack on a kernel \
             without guard markers (before Linux 6.13), costs two mappings (stack and guard \
             page): raise it with `sysctl -w vm.max_map_count={}` or run fewer greenlets at once",
            (limit * 4).max(262_144)
        ),
        _ => "the system is out of memory (or address space) for another stack; run fewer \
              greenlets at once or give them smaller stacks"
            .to_string(),
    };
    io::Error::new(
        io::ErrorKind::OutOfMemory,
        format!("cannot allocate a greenlet stack of {stack_bytes} bytes: {cause} ({detail})"),
    )
}

/// The kernel's `vm.max_map_count`, where it says.
pub(crate) fn max_map_count() -> Option<usize> {
    std::fs::read_to_string("/proc/sys/vm/max_map_count")
        .ok()?
        .trim()
        .parse()
        .ok()
}

/// (mappings this process has, vm.max_map_count), where the kernel says.
fn map_counts() -> Option<(usize, usize)> {
    let limit = max_map_count()?;
    let maps = std::fs::read("/proc/self/maps")
        .ok()?
        .iter()
        .filter(|&&b| b == b'\n')
        .count();
    Some((maps, limit))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn words_are_even_and_bytes_are_pages() {
        assert_eq!(bytes_to_words(256 * 1024), 32 * 1024);
        assert_eq!(bytes_to_words(24) % 2, 0);
        assert_eq!(round(1), MIN_STACK_SIZE);
        assert_eq!(round(MIN_STACK_SIZE + 1) % page_size(), 0);
        assert!(round(MIN_STACK_SIZE + 1) > MIN_STACK_SIZE);
        assert_eq!(round(usize::MAX) % page_size(), 0);
    }

    #[test]
    fn errors_name_their_cause() {
        let e = allocation_error(
            1 << 40,
            &"failed to alloc sys stack: ExceedsMaximumSize(8380416)".to_string(),
        );
        assert_eq!(e.kind(), io::ErrorKind::InvalidInput);
        assert!(e.to_string().contains("RLIMIT_STACK"), "{e}");
        let e = allocation_error(4096, &"failed to alloc sys stack: IoError(..)");
        assert_eq!(e.kind(), io::ErrorKind::OutOfMemory);
        assert!(e.to_string().contains("4096 bytes"), "{e}");
    }
}
