//! The settings of every listening socket green owns, by socket, so that
//! all green handles of one socket share them however they were made: by
//! `try_clone`, or by wrapping again a duplicate of the fd (`From<OwnedFd>`
//! of `as_fd().try_clone_to_owned()`, a clone converted to std and back).
//!
//! Green keeps a listener non-blocking in the kernel while it owns it, so
//! the kernel's flag cannot say whether the user asked for non-blocking
//! mode; these settings do. A listener wrapped while green owns it already
//! finds them here, and its `accept` blocks (parks) unless the user asked
//! otherwise, as a std duplicate's does. Only listeners are kept (created
//! and wrapped rarely: one `fstat` each); a stream's flag is the user's own.

use std::collections::BTreeMap;
use std::io;
use std::os::fd::AsFd;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError, Weak};

use super::Settings;

/// A socket's identity: its device and inode numbers (`fstat`), the same
/// for every fd of it, and unique among the sockets alive, but for one
/// case: Linux numbers sockets from a 32-bit counter that wraps, so after
/// about four billion sockets two live listeners could share a number, and
/// a duplicate of one, wrapped again, would take the other's settings. Not
/// guarded against.
pub(super) type SocketId = (u64, u64);

/// The live settings of each listener green owns. An entry dies with its
/// settings (when the last green handle of the socket goes).
static LISTENERS: Mutex<BTreeMap<SocketId, Weak<Settings>>> = Mutex::new(BTreeMap::new());

/// The lock on the map. Nothing is left half-done by a panic while it is
/// held (one insert or remove), so a poisoned lock is used as is.
pub(super) fn lock() -> MutexGuard<'static, BTreeMap<SocketId, Weak<Settings>>> {
    LISTENERS.lock().unwrap_or_else(PoisonError::into_inner)
}

/// `fd`'s socket's identity.
pub(super) fn id(fd: impl AsFd) -> io::Result<SocketId> {
    crate::sys::device_and_inode(fd)
}

/// The settings of the listener `id`, found in `map` if a green handle of
/// it lives, or else made by `make` and kept there.
pub(super) fn share_or_insert(
    map: &mut BTreeMap<SocketId, Weak<Settings>>,
    id: SocketId,
    make: impl FnOnce() -> io::Result<Settings>,
) -> io::Result<Arc<Settings>> {
    if let Some(settings) = map.get(&id).and_then(Weak::upgrade) {
        return Ok(settings);
    }
    let settings = Arc::new(make()?);
    map.insert(id, Arc::downgrade(&settings));
    Ok(settings)
}

/// A listener's place in the map, held by its settings: dropped with them,
/// it removes their entry.
#[derive(Debug)]
pub(super) struct Entry(pub(super) SocketId);

impl Drop for Entry {
    /// Removes the entry, unless it is already a new socket's (the inode
    /// reused), whose settings live.
    fn drop(&mut self) {
        let mut map = lock();
        if map.get(&self.0).is_some_and(|w| w.strong_count() == 0) {
            map.remove(&self.0);
        }
    }
}
