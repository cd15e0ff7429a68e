//! A duration too long for `Instant` means "never" everywhere in green, as
//! in `sleep(Duration::MAX)`: it neither panics nor fires.

use std::time::Duration;

mod util;

#[test]
fn spawn_later_with_a_delay_past_the_end_of_time_never_starts() {
    let _watchdog = util::watchdog();
    green::run(|| {
        let never = green::spawn_later(Duration::MAX, || unreachable!("started"));
        let built = green::Builder::new()
            .spawn_later(Duration::MAX, || unreachable!("started"))
            .expect("a delay too long is no error");
        green::sleep(Duration::from_millis(5));
        assert!(!never.is_finished() && !built.is_finished());
        never.kill();
        built.kill();
        assert!(never.join().unwrap_err().is_killed());
        assert!(built.join().unwrap_err().is_killed());
    });
}

/// `timeout(Duration::MAX, ..)` replaces an earlier default or timeout, as
/// its docs say: it kept them before.
#[test]
fn a_select_timeout_past_the_end_of_time_replaces_earlier_ones() {
    let _watchdog = util::watchdog();
    green::run(|| {
        let (tx, rx) = green::channel::channel::<u32>();
        let sender = green::spawn(move || {
            green::sleep(Duration::from_millis(20));
            tx.send(7).unwrap();
        });
        let got = green::channel::Select::new()
            .recv(&rx, |v| format!("value {v:?}"))
            .default(|| "default".to_string())
            .timeout(Duration::MAX, || "never".to_string())
            .wait();
        assert_eq!(got, "value Ok(7)", "an earlier default");
        sender.join().unwrap();

        let (tx, rx) = green::channel::channel::<u32>();
        let sender = green::spawn(move || {
            green::sleep(Duration::from_millis(20));
            tx.send(8).unwrap();
        });
        let got = green::channel::Select::new()
            .recv(&rx, |v| format!("value {v:?}"))
            .timeout(Duration::from_millis(1), || "1 ms".to_string())
            .timeout(Duration::MAX, || "never".to_string())
            .wait();
        assert_eq!(got, "value Ok(8)", "an earlier timeout");
        sender.join().unwrap();
    });
}
