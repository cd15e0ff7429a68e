// Child processes whose output is piped back: 20 threads each run a shell
// that sleeps a little and prints; one more feeds a `sort` through its
// stdin while the main thread reads its stdout.

use sys::io::{BufRead, BufReader, Write};
use sys::process::{Command, Stdio};
use sys::thread;

pub fn main() -> String {
    let handles: Vec<_> = (0..20)
        .map(|i| {
            thread::spawn(move || {
                let _t = crate::probe::task();
                let out = Command::new("sh")
                    .args(["-c", &format!("sleep 0.1; echo worker {i}; echo note {i} >&2; exit {}", i % 3)])
                    .output()
                    .unwrap();
                format!(
                    "{} / {} / {:?}",
                    String::from_utf8(out.stdout).unwrap().trim(),
                    String::from_utf8(out.stderr).unwrap().trim(),
                    out.status.code()
                )
            })
        })
        .collect();
    let mut lines: Vec<String> = handles.into_iter().map(|h| h.join().unwrap()).collect();

    let mut sort = Command::new("sort")
        .arg("-n")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut input = sort.stdin.take().unwrap();
    let feeder = thread::spawn(move || {
        let _t = crate::probe::task();
        for n in (0..5000).rev() {
            writeln!(input, "{n}").unwrap();
        }
    });
    let sorted: Vec<String> = BufReader::new(sort.stdout.take().unwrap())
        .lines()
        .map(Result::unwrap)
        .collect();
    feeder.join().unwrap();
    let status = sort.wait().unwrap();
    lines.push(format!(
        "sort: {} lines, first {}, last {}, {status}",
        sorted.len(),
        sorted[0],
        sorted[sorted.len() - 1]
    ));
    lines.join("\n")
}
