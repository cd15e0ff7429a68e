//! Helpers shared by green-net's own test files (green-core's, the
//! watchdog and child processes, come in as `util` by path).
#![allow(dead_code)]

use std::io;
use std::os::fd::OwnedFd;
use std::thread;
use std::time::Duration;

/// Runs `scenario` four ways, with the shutdown of its socket's receiving
/// side (`SHUT_RD` through a raw fd, a handle green did not make) at once or
/// 20 ms later from another greenlet inside `run`, and at once or 20 ms
/// later from another thread outside it. `scenario` calls the function it
/// is given with a duplicate of its socket's fd when it is ready for it.
pub fn with_receiving_side_shut(
    scenario: impl Fn(&dyn Fn(OwnedFd)) -> io::Result<()>,
) -> io::Result<()> {
    let shut = |fd: &OwnedFd| {
        socket2::SockRef::from(fd)
            .shutdown(std::net::Shutdown::Read)
            .unwrap()
    };
    green::run(|| scenario(&|fd| shut(&fd)))?;
    green::run(|| {
        scenario(&|fd| {
            green::spawn(move || {
                green::sleep(Duration::from_millis(20));
                shut(&fd);
            });
        })
    })?;
    scenario(&|fd| shut(&fd))?;
    scenario(&|fd| {
        thread::spawn(move || {
            thread::sleep(Duration::from_millis(20));
            shut(&fd);
        });
    })
}
