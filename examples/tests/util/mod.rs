//! Helpers shared by the example tests that drive Cargo (each test file
//! uses only some of them).
#![allow(dead_code)]

use std::io::{BufRead, BufReader, Read};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

/// `cargo`, without the per-crate variables Cargo gave this test.
///
/// Cargo gives a test the variables it gives a crate being built
/// (`CARGO_MANIFEST_DIR`, `CARGO_PKG_NAME`, …). Passed on, they reach build
/// scripts that watch them (ring's watches `CARGO_MANIFEST_DIR`), which then
/// rebuild here and again in the next `cargo test`.
pub fn cargo() -> Command {
    let mut cargo = Command::new(env!("CARGO"));
    for (key, _) in std::env::vars_os() {
        let key = key.to_string_lossy();
        let per_crate = [
            "CARGO_MANIFEST_",
            "CARGO_PKG_",
            "CARGO_CRATE_",
            "CARGO_BIN_",
        ]
        .iter()
        .any(|p| key.starts_with(p))
            || key == "CARGO_PRIMARY_PACKAGE"
            || key == "CARGO_TARGET_TMPDIR";
        if per_crate {
            cargo.env_remove(&*key);
        }
    }
    cargo
}

/// The Cargo profile this test binary was built with, from its path
/// (`target/<profile dir>/deps/<test>-…`).
pub fn profile() -> String {
    let exe = std::env::current_exe().expect("test binary path");
    let dir = exe
        .parent()
        .and_then(std::path::Path::parent)
        .and_then(std::path::Path::file_name)
        .and_then(|d| d.to_str())
        .expect("target/<profile>/deps/<test>")
        .to_string();
    match dir.as_str() {
        "debug" => "dev".to_string(),
        _ => dir,
    }
}

/// Runs `cargo run --example <name>` in this test's profile, killing it
/// past `limit`; returns its exit status, stdout and stderr.
pub fn run_example(name: &str, limit: Duration) -> (ExitStatus, String, String) {
    let mut child = cargo()
        .args(["run", "--quiet", "--package", "green-examples"])
        .args(["--example", name, "--profile", &profile()])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run cargo");
    let mut stdout = child.stdout.take().expect("piped stdout");
    let mut stderr = child.stderr.take().expect("piped stderr");
    let out = std::thread::spawn(move || {
        let mut s = String::new();
        stdout.read_to_string(&mut s).map(|_| s)
    });
    let err = std::thread::spawn(move || {
        let mut s = String::new();
        stderr.read_to_string(&mut s).map(|_| s)
    });
    let status = wait_within(&mut child, limit, &format!("`cargo run --example {name}`"));
    let stdout = out.join().unwrap().expect("utf-8 stdout");
    let stderr = err.join().unwrap().unwrap_or_default();
    (status, stdout, stderr)
}

/// Waits for `child`, killing it (and failing the test, naming `what`) if
/// it runs past `limit`.
pub fn wait_within(child: &mut Child, limit: Duration, what: &str) -> ExitStatus {
    let start = Instant::now();
    loop {
        if let Some(status) = child.try_wait().expect("wait for the child") {
            return status;
        }
        if start.elapsed() > limit {
            let _ = child.kill();
            panic!("{what} did not finish within {limit:?}");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Builds examples `names` in this test's profile (`cargo build --example
/// … --message-format json`, a no-op when they are up to date), killing
/// Cargo past `limit`; returns each one's name and executable, from
/// Cargo's answer.
///
/// Cargo tells integration tests where the package's binaries are but not
/// its examples; run directly, an example's process id is its own, not
/// Cargo's (for tests that signal it).
pub fn build_examples(names: &[&str], limit: Duration) -> Vec<(String, PathBuf)> {
    let mut cargo = cargo();
    cargo.args(["build", "--quiet", "--package", "green-examples"]);
    for name in names {
        cargo.args(["--example", name]);
    }
    let mut child = cargo
        .args(["--profile", &profile(), "--message-format", "json"])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("run cargo");
    let mut stdout = child.stdout.take().expect("piped stdout");
    let json = std::thread::spawn(move || {
        let mut s = String::new();
        stdout.read_to_string(&mut s).map(|_| s)
    });
    let status = wait_within(&mut child, limit, &format!("`cargo build` of {names:?}"));
    assert!(status.success(), "cargo build: {status}");
    let json = json.join().unwrap().expect("utf-8 from cargo");
    let found: Vec<(String, PathBuf)> = json
        .lines()
        .filter(|l| l.contains(r#""reason":"compiler-artifact""#))
        .filter_map(|l| {
            let name = string_field(l.split(r#""target":"#).nth(1)?, "name")?;
            Some((name, PathBuf::from(string_field(l, "executable")?)))
        })
        .collect();
    for name in names {
        assert!(
            found.iter().any(|(n, _)| n == name),
            "no executable for {name} in Cargo's answer:\n{json}"
        );
    }
    found
}

/// The value of the first `"field":"…"` in a line of Cargo's JSON (the
/// values read here are plain names and paths, without escapes).
fn string_field(json: &str, field: &str) -> Option<String> {
    let key = format!(r#""{field}":""#);
    let rest = &json[json.find(&key)? + key.len()..];
    Some(rest[..rest.find('"')?].to_string())
}

/// A server example started by [`start_server`]: killed when dropped,
/// unless it has exited.
pub struct Server {
    pub child: Child,
    /// The address its first line gave.
    pub addr: SocketAddr,
    /// The lines it prints after the first, as they come (stdout is
    /// drained all along, so the server never blocks on it).
    pub lines: mpsc::Receiver<String>,
}

/// Starts the example at `exe` on a free loopback port (`--addr
/// 127.0.0.1:0`, then `args`) and returns once it has printed its first
/// line, `{listening}{addr}/…`, within `limit`.
pub fn start_server(exe: &Path, args: &[&str], listening: &str, limit: Duration) -> Server {
    let mut child = Command::new(exe)
        .args(["--addr", "127.0.0.1:0"])
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .unwrap_or_else(|e| panic!("start {}: {e}", exe.display()));
    let stdout = child.stdout.take().expect("piped stdout");
    let (tx, lines) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines() {
            let Ok(line) = line else { break };
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    let first = lines.recv_timeout(limit).expect("the listening line");
    let addr = first
        .strip_prefix(listening)
        .and_then(|rest| rest.split_once('/'))
        .and_then(|(addr, _)| addr.parse().ok())
        .unwrap_or_else(|| panic!("unexpected first line {first:?}"));
    Server { child, addr, lines }
}

impl Server {
    /// Waits (within `limit`) for the process to exit; returns its status
    /// and everything it printed after the first line.
    pub fn wait(mut self, limit: Duration) -> (ExitStatus, Vec<String>) {
        let status = wait_within(&mut self.child, limit, "the server");
        let mut printed = Vec::new();
        while let Ok(line) = self.lines.recv_timeout(limit) {
            printed.push(line);
        }
        (status, printed)
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}
