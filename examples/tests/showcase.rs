//! The showcase end to end, small: every request answered, one OS thread.

use std::time::Duration;

use green_examples::showcase::{self, Options};

#[test]
fn the_showcase_serves_every_request_on_one_thread() {
    let options = Options {
        connections: 200,
        duration: Duration::from_millis(500),
        addr: "127.0.0.1:0".to_string(),
        progress: false,
    };
    let threads_before = showcase::os_threads();
    let summary = green::run(|| showcase::run(&options, 200)).unwrap();
    assert_eq!(summary.errors, 0, "{summary}");
    assert!(summary.requests >= 200, "{summary}");
    assert!(summary.p50 <= summary.p99);
    // 400 greenlets (200 clients, 200 handlers) and the server: no thread
    // added to the test's own.
    assert_eq!(summary.os_threads, threads_before, "{summary}");
}
