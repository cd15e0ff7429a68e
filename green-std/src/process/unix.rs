//! [`CommandExt`]: std's Unix extensions of `Command`, for green's.

use std::ffi::OsStr;
use std::io;

use super::Command;

/// Unix-specific extensions to [`Command`]; std's
/// [`CommandExt`](std::os::unix::process::CommandExt), implemented for
/// green-std's `Command` (import it from `green_std::os::unix::process`).
///
/// # Examples
///
/// ```
/// use green_std::os::unix::process::CommandExt;
/// use green_std::process::Command;
///
/// let out = Command::new("sh").arg0("my-shell").args(["-c", "echo $0"]).output().unwrap();
/// assert_eq!(out.stdout, b"my-shell\n");
/// ```
pub trait CommandExt: Sealed {
    /// Sets the child's user id; see std's
    /// [`uid`](std::os::unix::process::CommandExt::uid).
    fn uid(&mut self, id: u32) -> &mut Command;

    /// Sets the child's group id; see std's
    /// [`gid`](std::os::unix::process::CommandExt::gid).
    fn gid(&mut self, id: u32) -> &mut Command;

    /// Runs `f` in the child after `fork` and before `exec`.
    ///
    /// # Safety
    ///
    /// As std's [`pre_exec`](std::os::unix::process::CommandExt::pre_exec):
    /// `f` runs in a forked copy of a multi-threaded process and must only
    /// do what is async-signal-safe.
    unsafe fn pre_exec<F>(&mut self, f: F) -> &mut Command
    where
        F: FnMut() -> io::Result<()> + Send + Sync + 'static;

    /// Replaces this process with the command; returns only on error. See
    /// std's [`exec`](std::os::unix::process::CommandExt::exec).
    fn exec(&mut self) -> io::Error;

    /// Sets the child's `argv[0]`.
    fn arg0<S: AsRef<OsStr>>(&mut self, arg: S) -> &mut Command;

    /// Puts the child in process group `pgroup` (0: a new group of its
    /// own).
    fn process_group(&mut self, pgroup: i32) -> &mut Command;
}

impl CommandExt for Command {
    fn uid(&mut self, id: u32) -> &mut Command {
        std::os::unix::process::CommandExt::uid(self.std_mut(), id);
        self
    }

    fn gid(&mut self, id: u32) -> &mut Command {
        std::os::unix::process::CommandExt::gid(self.std_mut(), id);
        self
    }

    unsafe fn pre_exec<F>(&mut self, f: F) -> &mut Command
    where
        F: FnMut() -> io::Result<()> + Send + Sync + 'static,
    {
        // SAFETY: our caller upholds std's contract for `f`, which this
        // trait's method documents as its own.
        unsafe { std::os::unix::process::CommandExt::pre_exec(self.std_mut(), f) };
        self
    }

    fn exec(&mut self) -> io::Error {
        std::os::unix::process::CommandExt::exec(self.std_mut())
    }

    fn arg0<S: AsRef<OsStr>>(&mut self, arg: S) -> &mut Command {
        std::os::unix::process::CommandExt::arg0(self.std_mut(), arg);
        self
    }

    fn process_group(&mut self, pgroup: i32) -> &mut Command {
        std::os::unix::process::CommandExt::process_group(self.std_mut(), pgroup);
        self
    }
}

mod sealed {
    pub trait Sealed {}
    impl Sealed for super::Command {}
}
use sealed::Sealed;
