//! [`Command`]: std's process builder, whose `spawn`, `output` and `status`
//! hand back green children.

use std::ffi::OsStr;
use std::fmt;
use std::io;
use std::path::Path;
use std::process::{CommandArgs, CommandEnvs, ExitStatus, Output, Stdio};
use std::sync::{Arc, OnceLock};

use super::Child;
use crate::lent::Lent;

/// A process builder; std's [`Command`](std::process::Command) with the same
/// methods, whose [`spawn`](Command::spawn), [`output`](Command::output) and
/// [`status`](Command::status) do not block the hub.
///
/// # Examples
///
/// ```
/// use green_std::process::Command;
///
/// green::run(|| {
///     let out = Command::new("echo").arg("hello").output().unwrap();
///     assert!(out.status.success());
///     assert_eq!(out.stdout, b"hello\n");
/// });
/// ```
pub struct Command {
    /// The std command: empty only while one of its `output`s, cut short
    /// by an unwind, still runs it on green's blocking pool (see
    /// [`Command::std`]).
    inner: OnceLock<std::process::Command>,
    /// Where a command lent to the pool comes back (see
    /// [`Command::std_output`]); `None` when it never left.
    away: Option<Arc<Lent<std::process::Command>>>,
    /// The command's Debug output, plain and with `{:#?}`, taken as it was
    /// lent: Debug prints it while the command is away, without waiting.
    shown_away: Option<Box<[String; 2]>>,
    /// Which of stdin, stdout, stderr the caller configured: `output` gives
    /// the others its defaults, as std's does, for that call only.
    configured: [bool; 3],
    /// The std command may have stdio settings this one cannot read back
    /// (made by [`From`], or handed out by [`as_std_mut`](Command::as_std_mut)):
    /// `output` leaves them to std's own `output`.
    std_stdio: bool,
}

impl Command {
    /// Constructs a new `Command` for launching `program`; see
    /// [`std::process::Command::new`].
    ///
    /// # Examples
    ///
    /// ```
    /// let status = green_std::process::Command::new("true").status().unwrap();
    /// assert!(status.success());
    /// ```
    pub fn new<S: AsRef<OsStr>>(program: S) -> Command {
        Command::wrap(std::process::Command::new(program), false)
    }

    /// A command around `inner`; `std_stdio` as the field.
    fn wrap(inner: std::process::Command, std_stdio: bool) -> Command {
        Command {
            inner: OnceLock::from(inner),
            away: None,
            shown_away: None,
            configured: [false; 3],
            std_stdio,
        }
    }

    /// Adds an argument.
    ///
    /// # Examples
    ///
    /// ```
    /// let out = green_std::process::Command::new("echo").arg("-n").arg("x").output().unwrap();
    /// assert_eq!(out.stdout, b"x");
    /// ```
    pub fn arg<S: AsRef<OsStr>>(&mut self, arg: S) -> &mut Command {
        self.std_mut().arg(arg);
        self
    }

    /// Adds several arguments.
    ///
    /// # Examples
    ///
    /// ```
    /// let out = green_std::process::Command::new("echo").args(["a", "b"]).output().unwrap();
    /// assert_eq!(out.stdout, b"a b\n");
    /// ```
    pub fn args<I, S>(&mut self, args: I) -> &mut Command
    where
        I: IntoIterator<Item = S>,
        S: AsRef<OsStr>,
    {
        self.std_mut().args(args);
        self
    }

    /// Sets an environment variable for the child.
    ///
    /// # Examples
    ///
    /// ```
    /// use green_std::process::Command;
    /// let out = Command::new("sh").args(["-c", "echo $GREETING"]).env("GREETING", "hi").output().unwrap();
    /// assert_eq!(out.stdout, b"hi\n");
    /// ```
    pub fn env<K, V>(&mut self, key: K, val: V) -> &mut Command
    where
        K: AsRef<OsStr>,
        V: AsRef<OsStr>,
    {
        self.std_mut().env(key, val);
        self
    }

    /// Sets several environment variables for the child.
    ///
    /// # Examples
    ///
    /// ```
    /// use green_std::process::Command;
    /// let out = Command::new("sh").args(["-c", "echo $A$B"]).envs([("A", "1"), ("B", "2")]).output().unwrap();
    /// assert_eq!(out.stdout, b"12\n");
    /// ```
    pub fn envs<I, K, V>(&mut self, vars: I) -> &mut Command
    where
        I: IntoIterator<Item = (K, V)>,
        K: AsRef<OsStr>,
        V: AsRef<OsStr>,
    {
        self.std_mut().envs(vars);
        self
    }

    /// Removes an environment variable from the child's environment.
    ///
    /// # Examples
    ///
    /// ```
    /// use green_std::process::Command;
    /// let out = Command::new("sh").args(["-c", "echo x${HOME}x"]).env_remove("HOME").output().unwrap();
    /// assert_eq!(out.stdout, b"xx\n");
    /// ```
    pub fn env_remove<K: AsRef<OsStr>>(&mut self, key: K) -> &mut Command {
        self.std_mut().env_remove(key);
        self
    }

    /// Clears the child's environment.
    ///
    /// # Examples
    ///
    /// ```
    /// use green_std::process::Command;
    /// let out = Command::new("/usr/bin/env").env_clear().output().unwrap();
    /// assert_eq!(out.stdout, b"");
    /// ```
    pub fn env_clear(&mut self) -> &mut Command {
        self.std_mut().env_clear();
        self
    }

    /// Sets the child's working directory.
    ///
    /// # Examples
    ///
    /// ```
    /// use green_std::process::Command;
    /// let out = Command::new("pwd").current_dir("/").output().unwrap();
    /// assert_eq!(out.stdout, b"/\n");
    /// ```
    pub fn current_dir<P: AsRef<Path>>(&mut self, dir: P) -> &mut Command {
        self.std_mut().current_dir(dir);
        self
    }

    /// Configures the child's standard input (a green pipe with
    /// [`Stdio::piped`]).
    ///
    /// # Examples
    ///
    /// ```
    /// use green_std::process::{Command, Stdio};
    /// let out = Command::new("cat").stdin(Stdio::null()).output().unwrap();
    /// assert_eq!(out.stdout, b"");
    /// ```
    pub fn stdin<T: Into<Stdio>>(&mut self, cfg: T) -> &mut Command {
        self.std_mut().stdin(cfg);
        self.configured[0] = true;
        self
    }

    /// Configures the child's standard output.
    ///
    /// # Examples
    ///
    /// ```
    /// use green_std::process::{Command, Stdio};
    /// let out = Command::new("echo").stdout(Stdio::null()).output().unwrap();
    /// assert_eq!(out.stdout, b"");
    /// ```
    pub fn stdout<T: Into<Stdio>>(&mut self, cfg: T) -> &mut Command {
        self.std_mut().stdout(cfg);
        self.configured[1] = true;
        self
    }

    /// Configures the child's standard error.
    ///
    /// # Examples
    ///
    /// ```
    /// use green_std::process::{Command, Stdio};
    /// let out = Command::new("sh").args(["-c", "echo e >&2"]).stderr(Stdio::null()).output().unwrap();
    /// assert_eq!(out.stderr, b"");
    /// ```
    pub fn stderr<T: Into<Stdio>>(&mut self, cfg: T) -> &mut Command {
        self.std_mut().stderr(cfg);
        self.configured[2] = true;
        self
    }

    /// Starts the child and returns a handle to it. Unconfigured streams are
    /// inherited.
    ///
    /// # Errors
    ///
    /// As std's: the program is missing, not executable, and so on.
    ///
    /// # Examples
    ///
    /// ```
    /// use green_std::process::Command;
    /// let mut child = Command::new("sleep").arg("0.01").spawn().unwrap();
    /// assert!(child.wait().unwrap().success());
    /// assert_eq!(
    ///     Command::new("/no/such/program").spawn().unwrap_err().kind(),
    ///     std::io::ErrorKind::NotFound
    /// );
    /// ```
    pub fn spawn(&mut self) -> io::Result<Child> {
        self.std_mut().spawn().and_then(Child::from_std)
    }

    /// Runs the child to completion and collects its output. Unconfigured
    /// stdout and stderr are pipes for this call, and an unconfigured stdin
    /// is `/dev/null` ([`Stdio::null`]), as std's.
    ///
    /// A command whose stdio was set through std (made [`From`] a std
    /// command, or changed through [`as_std_mut`](Command::as_std_mut))
    /// runs std's own `output`, inside `green::run` on green's blocking
    /// pool while the greenlet parks.
    ///
    /// # Errors
    ///
    /// As [`spawn`](Command::spawn), or an error reading the pipes.
    ///
    /// # Notes
    ///
    /// std's `output` cannot be cut short, so when the greenlet running the
    /// pool's is unwound (killed, or a [`green::timeout`] fires), the child
    /// still runs to its end on the pool, and the std command stays with it
    /// until then: the next use of this `Command` waits for that child (the
    /// greenlet parks inside `run`, the thread blocks outside), then finds
    /// the command as it was. Its Debug output does not wait: it prints the
    /// command as it was lent.
    ///
    /// # Examples
    ///
    /// ```
    /// use green_std::process::Command;
    /// let out = Command::new("sh").args(["-c", "echo out; echo err >&2; exit 3"]).output().unwrap();
    /// assert_eq!((out.stdout.as_slice(), out.stderr.as_slice()), (&b"out\n"[..], &b"err\n"[..]));
    /// assert_eq!(out.status.code(), Some(3));
    /// ```
    pub fn output(&mut self) -> io::Result<Output> {
        if self.std_stdio {
            return self.std_output();
        }
        let defaults = self.configured.map(|set| !set);
        self.set_unconfigured(defaults, [Stdio::null, Stdio::piped, Stdio::piped]);
        let spawned = self.std_mut().spawn();
        self.set_unconfigured(defaults, [Stdio::inherit; 3]);
        Child::from_std(spawned?)?.wait_with_output()
    }

    /// std's own `output`, for a command whose stdio settings only std
    /// knows: std gives the streams it was not told about its defaults,
    /// which this type cannot do without knowing which they are. Inside
    /// `green::run` it runs on green's blocking pool while the greenlet
    /// parks, the command lent to the job, which hands it back through
    /// `self.away` once the child is done, even if this
    /// greenlet has been unwound meanwhile (then the next use of the
    /// command waits for it: see [`Command::std`]).
    fn std_output(&mut self) -> io::Result<Output> {
        if !green::is_running() {
            return self.std_mut().output();
        }
        let inner = self.take_std();
        self.shown_away = Some(Box::new([format!("{inner:?}"), format!("{inner:#?}")]));
        // From here on the command is away until the job gives it back,
        // whether this greenlet returns below or is unwound in the wait.
        let (away, mut loan) = Lent::lend(inner);
        self.away = Some(away);
        // The loan goes back as the job ends, or if it never runs.
        let out = green::unblock(move || loan.output());
        // Back already (the job gave it back before it returned): no wait.
        self.std_mut();
        out
    }

    /// Runs the child to completion and returns its exit status. Streams
    /// are inherited unless configured; a piped stdin is closed first.
    ///
    /// # Errors
    ///
    /// As [`spawn`](Command::spawn), or an error waiting.
    ///
    /// # Examples
    ///
    /// ```
    /// use green_std::process::Command;
    /// let status = Command::new("sh").args(["-c", "exit 7"]).status().unwrap();
    /// assert_eq!(status.code(), Some(7));
    /// ```
    pub fn status(&mut self) -> io::Result<ExitStatus> {
        self.spawn()?.wait()
    }

    /// The program this command runs.
    ///
    /// # Examples
    ///
    /// ```
    /// assert_eq!(green_std::process::Command::new("ls").get_program(), "ls");
    /// ```
    pub fn get_program(&self) -> &OsStr {
        self.std().get_program()
    }

    /// The arguments, without the program.
    ///
    /// # Examples
    ///
    /// ```
    /// let mut cmd = green_std::process::Command::new("ls");
    /// cmd.args(["-l", "/"]);
    /// assert_eq!(cmd.get_args().collect::<Vec<_>>(), ["-l", "/"]);
    /// ```
    pub fn get_args(&self) -> CommandArgs<'_> {
        self.std().get_args()
    }

    /// The environment changes this command makes.
    ///
    /// # Examples
    ///
    /// ```
    /// let mut cmd = green_std::process::Command::new("ls");
    /// cmd.env("A", "1");
    /// assert_eq!(cmd.get_envs().count(), 1);
    /// ```
    pub fn get_envs(&self) -> CommandEnvs<'_> {
        self.std().get_envs()
    }

    /// The working directory set by [`current_dir`](Command::current_dir).
    ///
    /// # Examples
    ///
    /// ```
    /// let mut cmd = green_std::process::Command::new("ls");
    /// assert_eq!(cmd.get_current_dir(), None);
    /// cmd.current_dir("/tmp");
    /// assert_eq!(cmd.get_current_dir(), Some(std::path::Path::new("/tmp")));
    /// ```
    pub fn get_current_dir(&self) -> Option<&Path> {
        self.std().get_current_dir()
    }

    /// The std command inside, for std-only settings.
    ///
    /// # Examples
    ///
    /// ```
    /// let cmd = green_std::process::Command::new("ls");
    /// assert_eq!(cmd.as_std().get_program(), "ls");
    /// ```
    pub fn as_std(&self) -> &std::process::Command {
        self.std()
    }

    /// The std command inside, mutably, for std-only settings. Stdio set
    /// through it cannot be read back, so from then on
    /// [`output`](Command::output) is std's own, run on green's blocking
    /// pool inside `green::run`.
    ///
    /// # Examples
    ///
    /// ```
    /// let mut cmd = green_std::process::Command::new("ls");
    /// cmd.as_std_mut().arg("/");
    /// assert_eq!(cmd.get_args().count(), 1);
    /// ```
    pub fn as_std_mut(&mut self) -> &mut std::process::Command {
        self.std_stdio = true;
        self.std_mut()
    }

    /// The std command. One lent to the pool by an `output` that was cut
    /// short (its greenlet killed, or a timeout fired) is waited for here
    /// until its child is done and the job hands it back: the greenlet
    /// parks inside `green::run`, the thread blocks outside.
    fn std(&self) -> &std::process::Command {
        if let Some(inner) = self.inner.get() {
            return inner;
        }
        let away = self.away.as_ref().expect("a command is here or away");
        // Set under the slot's lock, so a second caller that finds the slot
        // empty finds `inner` set.
        away.wait_then(|inner| {
            if let Some(inner) = inner {
                assert!(self.inner.set(inner).is_ok(), "a command came back twice");
            }
        });
        self.inner.get().expect("the job gave the command back")
    }

    /// The std command, mutably; see [`Command::std`]. For settings that
    /// do not touch stdio ([`CommandExt`](super::unix::CommandExt)'s, say):
    /// unlike [`as_std_mut`](Command::as_std_mut), `output` stays green.
    pub(crate) fn std_mut(&mut self) -> &mut std::process::Command {
        self.std();
        self.away = None;
        self.shown_away = None;
        self.inner.get_mut().expect("the command is back")
    }

    /// The std command, taken out (to be lent to the pool).
    fn take_std(&mut self) -> std::process::Command {
        self.std_mut();
        self.inner.take().expect("the command is back")
    }

    /// Sets stdin, stdout and stderr, those of `which`, to what `make`
    /// gives for each.
    fn set_unconfigured(&mut self, which: [bool; 3], make: [fn() -> Stdio; 3]) {
        if which[0] {
            self.std_mut().stdin(make[0]());
        }
        if which[1] {
            self.std_mut().stdout(make[1]());
        }
        if which[2] {
            self.std_mut().stderr(make[2]());
        }
    }
}

impl fmt::Debug for Command {
    /// std's: the program and its arguments, quoted (with `{:#?}`, every
    /// setting).
    ///
    /// # Examples
    ///
    /// ```
    /// let mut cmd = green_std::process::Command::new("echo");
    /// cmd.arg("hi");
    /// assert_eq!(format!("{cmd:?}"), r#""echo" "hi""#);
    /// ```
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // A command still away with a child that outlived an `output` cut
        // short prints as it was lent, without waiting for that child.
        match (self.inner.get(), &self.shown_away) {
            (None, Some(shown)) => f.write_str(&shown[usize::from(f.alternate())]),
            _ => fmt::Debug::fmt(self.std(), f),
        }
    }
}

impl From<std::process::Command> for Command {
    /// Wraps a std command. Its stdio settings cannot be read back, so
    /// [`output`](Command::output) is std's own, run on green's blocking
    /// pool inside `green::run` (the greenlet parks; a pool thread waits
    /// for the child).
    ///
    /// # Examples
    ///
    /// ```
    /// let cmd = green_std::process::Command::from(std::process::Command::new("ls"));
    /// assert_eq!(cmd.get_program(), "ls");
    /// ```
    fn from(inner: std::process::Command) -> Command {
        Command::wrap(inner, true)
    }
}

fn _assert_send_and_sync() {
    fn assert<T: Send + Sync>() {}
    assert::<Command>();
}
