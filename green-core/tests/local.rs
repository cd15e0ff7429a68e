//! `green::local!` values at the end of a greenlet: a destructor may touch
//! keys not used before, not one already dropped (std's `thread_local!`
//! rule), so the values' destruction always ends.

use std::cell::Cell;

mod util;

/// Touches its own key when dropped.
struct TouchesItself;

impl Drop for TouchesItself {
    fn drop(&mut self) {
        ITSELF.with(|_| ());
    }
}

/// Touches [`LATER`] when dropped.
struct TouchesLater;

impl Drop for TouchesLater {
    fn drop(&mut self) {
        LATER.with(|drops| drops.set(drops.get() + 1));
    }
}

thread_local! {
    static LATER_DROPS: Cell<u32> = const { Cell::new(0) };
}

/// Counts its drops in [`LATER_DROPS`].
struct Counted(Cell<u32>);

impl Drop for Counted {
    fn drop(&mut self) {
        LATER_DROPS.with(|d| d.set(d.get() + 1));
    }
}

impl std::ops::Deref for Counted {
    type Target = Cell<u32>;
    fn deref(&self) -> &Cell<u32> {
        &self.0
    }
}

green::local! {
    static ITSELF: TouchesItself = TouchesItself;
    static FIRST: TouchesLater = TouchesLater;
    static LATER: Counted = Counted(Cell::new(0));
}

/// It looped before: each touch made a new value whose destructor touched
/// the key again.
#[test]
fn a_destructor_that_touches_its_own_key_panics_clearly() {
    let _watchdog = util::watchdog();
    green::run(|| {
        let h = green::spawn(|| ITSELF.with(|_| ()));
        let err = h.join().expect_err("the destructor's touch panics");
        let msg = util::panic_message(&*err.try_into_panic().expect("a panic"));
        assert!(msg.contains("during or after destruction"), "{msg}");
    });
}

#[test]
fn a_destructor_may_touch_a_key_not_used_before() {
    let _watchdog = util::watchdog();
    green::run(|| {
        green::spawn(|| FIRST.with(|_| ())).join().unwrap();
        assert_eq!(
            LATER_DROPS.with(|d| d.get()),
            1,
            "LATER got a value in FIRST's destructor, dropped in turn"
        );
    });
}
