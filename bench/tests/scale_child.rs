//! The scale workload's child (`green-bench --scale …`) for every contender,
//! with a few clients and a short window: it must count round trips on all
//! its cores' worth of tasks and report them, and refuse what it cannot run.

use std::process::Command;

fn scale(contender: &str, clients: usize) -> String {
    let mut args: Vec<&str> = contender.split(' ').collect();
    let clients = clients.to_string();
    args.splice(1..1, [clients.as_str(), "50", "200"]);
    let out = Command::new(env!("CARGO_BIN_EXE_green-bench"))
        .arg("--scale")
        .args(&args)
        .output()
        .expect("run green-bench");
    assert!(out.status.success(), "{contender}: {out:?}");
    // A failure's `ERROR` line is on stdout, each client's error on stderr.
    let stderr = String::from_utf8_lossy(&out.stderr);
    let stdout = String::from_utf8(out.stdout).expect("utf-8");
    if stdout.starts_with("ERROR ") && !stderr.is_empty() {
        eprintln!("{contender}'s stderr:\n{stderr}");
    }
    stdout
}

/// The value of `key=` in the child's `SCALE` line.
fn field(line: &str, key: &str) -> f64 {
    line.split_whitespace()
        .find_map(|kv| kv.strip_prefix(key)?.strip_prefix('='))
        .unwrap_or_else(|| panic!("no {key} in {line:?}"))
        .parse()
        .expect("a number")
}

#[test]
fn every_contender_counts_round_trips() {
    for contender in [
        "green-1", "green-n", "tokio-ct", "tokio-mt", "may-1", "may-n",
    ] {
        let out = scale(contender, 20);
        let line = out
            .lines()
            .find_map(|l| l.strip_prefix("SCALE "))
            .unwrap_or_else(|| panic!("{contender} printed {out:?}"));
        assert!(field(line, "round_trips") > 0.0, "{contender}: {line}");
        let secs = field(line, "secs");
        assert!((0.2..5.0).contains(&secs), "{contender}: {line}");
        assert!(field(line, "cpu") >= 0.0, "{contender}: {line}");
    }
}

#[test]
fn std_is_refused_with_a_reason() {
    let out = scale("std", 2);
    assert!(out.starts_with("ERROR "), "{out:?}");
}
