//! [`ChildStdin`], [`ChildStdout`], [`ChildStderr`]: a child's pipes, green.

use std::fmt;

use crate::io::pipe::{pipe_end, Pipe};

/// A handle to a child process's standard input; std's
/// [`ChildStdin`](std::process::ChildStdin), green. Dropping it closes the
/// pipe, so the child reads end of file.
///
/// # Examples
///
/// ```
/// use green_std::io::Write;
/// use green_std::process::{Command, Stdio};
///
/// green::run(|| {
///     let mut child = Command::new("cat")
///         .stdin(Stdio::piped())
///         .stdout(Stdio::piped())
///         .spawn()
///         .unwrap();
///     child.stdin.take().unwrap().write_all(b"meow").unwrap();
///     assert_eq!(child.wait_with_output().unwrap().stdout, b"meow");
/// });
/// ```
pub struct ChildStdin(pub(crate) Pipe);

/// A handle to a child process's standard output; std's
/// [`ChildStdout`](std::process::ChildStdout), green.
///
/// # Examples
///
/// ```
/// use green_std::io::Read;
/// use green_std::process::{Command, Stdio};
///
/// green::run(|| {
///     let mut child = Command::new("echo").arg("hi").stdout(Stdio::piped()).spawn().unwrap();
///     let mut out = String::new();
///     child.stdout.take().unwrap().read_to_string(&mut out).unwrap();
///     assert_eq!(out, "hi\n");
///     child.wait().unwrap();
/// });
/// ```
pub struct ChildStdout(pub(crate) Pipe);

/// A handle to a child process's standard error; std's
/// [`ChildStderr`](std::process::ChildStderr), green.
///
/// # Examples
///
/// ```
/// use green_std::io::Read;
/// use green_std::process::{Command, Stdio};
///
/// green::run(|| {
///     let mut child = Command::new("sh")
///         .args(["-c", "echo oops >&2"])
///         .stderr(Stdio::piped())
///         .spawn()
///         .unwrap();
///     let mut err = String::new();
///     child.stderr.take().unwrap().read_to_string(&mut err).unwrap();
///     assert_eq!(err, "oops\n");
///     child.wait().unwrap();
/// });
/// ```
pub struct ChildStderr(pub(crate) Pipe);

/// std's `Debug` of the child's pipes: the name alone, `ChildStdin { .. }`.
macro_rules! opaque_debug {
    ($($ty:ident),*) => {$(
        impl fmt::Debug for $ty {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.debug_struct(stringify!($ty)).finish_non_exhaustive()
            }
        }
    )*};
}

opaque_debug!(ChildStdin, ChildStdout, ChildStderr);

pipe_end!(ChildStdin, write);
pipe_end!(ChildStdout, read);
pipe_end!(ChildStderr, read);
