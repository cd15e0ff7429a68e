//! [`Child`]: a running child process whose waits park the greenlet.

use std::fmt;
use std::io::{self, Read};
use std::os::fd::{AsFd, OwnedFd};
use std::process::{ExitStatus, Output};
use std::time::Duration;

use super::{ChildStderr, ChildStdin, ChildStdout};
use crate::io::pipe::Pipe;
use crate::sys::pidfd;

/// A running or exited child process; std's [`Child`](std::process::Child),
/// with green pipes in the same public fields and waits that park the
/// greenlet inside `green::run`.
///
/// As with std, a `Child` dropped without a wait leaves a zombie until the
/// process exits.
///
/// # Examples
///
/// ```
/// use green_std::process::Command;
///
/// green::run(|| {
///     let mut child = Command::new("sleep").arg("0.05").spawn().unwrap();
///     let ticker = green::spawn(|| green::sleep(std::time::Duration::from_millis(1)));
///     assert!(child.wait().unwrap().success()); // the ticker ran meanwhile
///     assert!(ticker.is_finished());
/// });
/// ```
pub struct Child {
    inner: std::process::Child,
    /// The child's stdin, if it was piped.
    pub stdin: Option<ChildStdin>,
    /// The child's stdout, if it was piped.
    pub stdout: Option<ChildStdout>,
    /// The child's stderr, if it was piped.
    pub stderr: Option<ChildStderr>,
}

impl fmt::Debug for Child {
    /// std's: the pipes, and nothing of the process inside.
    ///
    /// # Examples
    ///
    /// ```
    /// use green_std::process::{Command, Stdio};
    ///
    /// let mut child = Command::new("true").stdout(Stdio::piped()).spawn().unwrap();
    /// assert_eq!(
    ///     format!("{child:?}"),
    ///     "Child { stdin: None, stdout: Some(ChildStdout { .. }), stderr: None, .. }"
    /// );
    /// child.wait().unwrap();
    /// ```
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Child")
            .field("stdin", &self.stdin)
            .field("stdout", &self.stdout)
            .field("stderr", &self.stderr)
            .finish_non_exhaustive()
    }
}

/// The longest nap between two `try_wait`s where pidfds are unavailable.
const MAX_NAP: Duration = Duration::from_millis(50);

impl Child {
    /// Takes over a std child, making its pipes green.
    pub(crate) fn from_std(mut inner: std::process::Child) -> io::Result<Child> {
        fn green<T: Into<OwnedFd>>(end: Option<T>) -> io::Result<Option<Pipe>> {
            end.map(|e| Pipe::new(e.into())).transpose()
        }
        Ok(Child {
            stdin: green(inner.stdin.take())?.map(ChildStdin),
            stdout: green(inner.stdout.take())?.map(ChildStdout),
            stderr: green(inner.stderr.take())?.map(ChildStderr),
            inner,
        })
    }

    /// Sends `SIGKILL` to the child, unless it has already been waited for;
    /// see [`std::process::Child::kill`].
    ///
    /// # Errors
    ///
    /// As std's.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::os::unix::process::ExitStatusExt;
    ///
    /// let mut child = green_std::process::Command::new("sleep").arg("10").spawn().unwrap();
    /// child.kill().unwrap();
    /// assert_eq!(child.wait().unwrap().signal(), Some(9));
    /// ```
    pub fn kill(&mut self) -> io::Result<()> {
        self.inner.kill()
    }

    /// The child's process id.
    ///
    /// # Examples
    ///
    /// ```
    /// let mut child = green_std::process::Command::new("true").spawn().unwrap();
    /// assert!(child.id() > 0);
    /// child.wait().unwrap();
    /// ```
    pub fn id(&self) -> u32 {
        self.inner.id()
    }

    /// Returns the exit status if the child has exited, without waiting.
    ///
    /// # Errors
    ///
    /// As std's.
    ///
    /// # Examples
    ///
    /// ```
    /// let mut child = green_std::process::Command::new("sleep").arg("10").spawn().unwrap();
    /// assert_eq!(child.try_wait().unwrap(), None);
    /// child.kill().unwrap();
    /// child.wait().unwrap();
    /// assert!(child.try_wait().unwrap().is_some());
    /// ```
    pub fn try_wait(&mut self) -> io::Result<Option<ExitStatus>> {
        self.inner.try_wait()
    }

    /// Closes the child's stdin (if piped) and waits for it to exit: the
    /// greenlet parks inside `green::run`, the thread blocks outside it.
    ///
    /// # Errors
    ///
    /// As std's.
    ///
    /// # Examples
    ///
    /// ```
    /// use green_std::process::{Command, Stdio};
    ///
    /// green::run(|| {
    ///     // `cat` exits once wait closes its stdin
    ///     let mut cat = Command::new("cat").stdin(Stdio::piped()).spawn().unwrap();
    ///     assert!(cat.wait().unwrap().success());
    /// });
    /// ```
    pub fn wait(&mut self) -> io::Result<ExitStatus> {
        drop(self.stdin.take());
        if !green::is_running() {
            return self.inner.wait();
        }
        if let Some(status) = self.inner.try_wait()? {
            return Ok(status);
        }
        match pidfd::open(self.id()) {
            Ok(fd) => self.wait_pidfd(&PidFd(fd)),
            Err(_) => self.wait_polling(),
        }
    }

    fn wait_pidfd(&mut self, fd: &PidFd) -> io::Result<ExitStatus> {
        loop {
            green::io::wait_readable(&fd.0, None)?;
            if let Some(status) = self.inner.try_wait()? {
                return Ok(status);
            }
        }
    }

    fn wait_polling(&mut self) -> io::Result<ExitStatus> {
        let mut nap = Duration::from_millis(1);
        loop {
            green::sleep(nap);
            if let Some(status) = self.inner.try_wait()? {
                return Ok(status);
            }
            nap = (nap * 2).min(MAX_NAP);
        }
    }

    /// Closes stdin, reads stdout and stderr to the end side by side (so a
    /// child that fills one pipe cannot deadlock on the other), and waits.
    /// Inside `green::run`, a timeout or a kill ends it at once, as any
    /// green wait, even while the child keeps its pipes open.
    ///
    /// # Errors
    ///
    /// An error reading a pipe or waiting.
    ///
    /// # Examples
    ///
    /// ```
    /// use green_std::process::{Command, Stdio};
    ///
    /// green::run(|| {
    ///     // 1 MiB on stdout and 1 MiB on stderr: more than both pipes hold
    ///     let child = Command::new("sh")
    ///         .args(["-c", "head -c 1048576 /dev/zero; head -c 1048576 /dev/zero >&2"])
    ///         .stdout(Stdio::piped())
    ///         .stderr(Stdio::piped())
    ///         .spawn()
    ///         .unwrap();
    ///     let out = child.wait_with_output().unwrap();
    ///     assert_eq!((out.stdout.len(), out.stderr.len()), (1 << 20, 1 << 20));
    /// });
    /// ```
    pub fn wait_with_output(mut self) -> io::Result<Output> {
        drop(self.stdin.take());
        let (stdout, stderr) = match (self.stdout.take(), self.stderr.take()) {
            (Some(out), Some(err)) if green::is_running() => {
                // A greenlet of its own reads stderr. Should this one be
                // unwound meanwhile (a timeout, a kill), the guard kills it
                // on the way, as a green wait ends then: left to read to the
                // end of file, it would hold the unwinding until the child
                // closes stderr, for ever if the child never exits.
                let err = KillOnDrop(Some(green::spawn(move || read_all(Some(err)))));
                let out = read_all(Some(out));
                let err = err.join();
                (out?, err?)
            }
            // outside run: a thread reads stderr, as std's does
            (Some(out), Some(err)) => green::scope(|s| {
                let err = s.spawn_send(|| read_all(Some(err)));
                let out = read_all(Some(out));
                let err = err
                    .join()
                    .unwrap_or_else(|payload| std::panic::resume_unwind(payload));
                Ok::<_, io::Error>((out?, err?))
            })?,
            // at most one pipe: nothing to read side by side
            (out, err) => (read_all(out)?, read_all(err)?),
        };
        let status = self.wait()?;
        Ok(Output {
            status,
            stdout,
            stderr,
        })
    }
}

/// A greenlet that is killed if the handle is dropped before
/// [`join`](KillOnDrop::join) has seen it finish.
struct KillOnDrop<T>(Option<green::JoinHandle<T>>);

impl<T> KillOnDrop<T> {
    /// Waits for the greenlet and returns its result; its panic goes on
    /// here. Unwound in the wait, the greenlet is killed (by the drop).
    fn join(mut self) -> T {
        let handle = self.0.as_ref().expect("joined once");
        // Borrowed for the wait, so that an unwind out of it still finds
        // the handle in the guard; a timeout too large for an `Instant`
        // waits until the greenlet finishes.
        let finished = handle.wait_timeout(Duration::MAX);
        debug_assert!(finished);
        let handle = self.0.take().expect("joined once");
        handle
            .join()
            .unwrap_or_else(|e| std::panic::resume_unwind(e.into_panic()))
    }
}

impl<T> Drop for KillOnDrop<T> {
    fn drop(&mut self) {
        if let Some(handle) = &self.0 {
            handle.kill();
        }
    }
}

/// Everything `from` holds until end of file; nothing for no pipe.
fn read_all(from: Option<impl Read>) -> io::Result<Vec<u8>> {
    let mut buf = Vec::new();
    if let Some(mut from) = from {
        from.read_to_end(&mut buf)?;
    }
    Ok(buf)
}

/// A pidfd, deregistered from the hub before it closes.
struct PidFd(OwnedFd);

impl Drop for PidFd {
    fn drop(&mut self) {
        green::io::deregister(self.0.as_fd());
    }
}

#[cfg(test)]
mod tests {
    use crate::process::Command;

    /// The fallback for kernels without pidfds: polling `try_wait`.
    #[test]
    fn waiting_without_a_pidfd() {
        green::run(|| {
            let mut child = Command::new("sh")
                .args(["-c", "sleep 0.05; exit 4"])
                .spawn()
                .unwrap();
            let other = green::spawn(|| green::sleep(std::time::Duration::from_millis(5)));
            let status = child.wait_polling().unwrap();
            assert_eq!(status.code(), Some(4));
            assert!(other.is_finished(), "the hub was blocked while polling");
        });
    }
}
