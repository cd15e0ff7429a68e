//! green-std's `mpsc` types have std's auto traits and Debug output, so
//! that code written against std compiles and prints the same (the
//! receiver and its iterators were `Sync` before, and the iterators
//! printed their wrapper; the receiver and its iterators were not
//! unwind-safe, so `catch_unwind(|| rx.recv())` did not compile).

use std::marker::PhantomData;
use std::panic::{RefUnwindSafe, UnwindSafe};

use green_std::sync::mpsc as green;
use std::sync::mpsc as std_mpsc;

/// `Probe::<T>::SYNC` is true when `T: Sync` (the inherent constant wins
/// over the trait's default where it applies).
struct Probe<T: ?Sized>(PhantomData<T>);
trait NotSync {
    const SYNC: bool = false;
}
impl<T: ?Sized> NotSync for Probe<T> {}
impl<T: ?Sized + Sync> Probe<T> {
    const SYNC: bool = true;
}

/// `ProbeSend::<T>::SEND` is true when `T: Send`.
struct ProbeSend<T: ?Sized>(PhantomData<T>);
trait NotSend {
    const SEND: bool = false;
}
impl<T: ?Sized> NotSend for ProbeSend<T> {}
impl<T: ?Sized + Send> ProbeSend<T> {
    const SEND: bool = true;
}

/// `ProbeUnwind::<T>::UNWIND_SAFE` is true when `T: UnwindSafe`.
struct ProbeUnwind<T: ?Sized>(PhantomData<T>);
trait NotUnwindSafe {
    const UNWIND_SAFE: bool = false;
}
impl<T: ?Sized> NotUnwindSafe for ProbeUnwind<T> {}
impl<T: ?Sized + UnwindSafe> ProbeUnwind<T> {
    const UNWIND_SAFE: bool = true;
}

/// `ProbeRefUnwind::<T>::REF_UNWIND_SAFE` is true when `T: RefUnwindSafe`.
struct ProbeRefUnwind<T: ?Sized>(PhantomData<T>);
trait NotRefUnwindSafe {
    const REF_UNWIND_SAFE: bool = false;
}
impl<T: ?Sized> NotRefUnwindSafe for ProbeRefUnwind<T> {}
impl<T: ?Sized + RefUnwindSafe> ProbeRefUnwind<T> {
    const REF_UNWIND_SAFE: bool = true;
}

/// `[Send, Sync, UnwindSafe, RefUnwindSafe]` of a type.
macro_rules! probe {
    ($t:ty) => {
        [
            ProbeSend::<$t>::SEND,
            Probe::<$t>::SYNC,
            ProbeUnwind::<$t>::UNWIND_SAFE,
            ProbeRefUnwind::<$t>::REF_UNWIND_SAFE,
        ]
    };
}

/// The auto traits of `$t` in both modules.
macro_rules! traits {
    ($t:ident $(<$($p:tt),*>)?) => {
        (
            std::any::type_name::<green::$t$(<$($p),*>)?>(),
            probe!(std_mpsc::$t$(<$($p),*>)?),
            probe!(green::$t$(<$($p),*>)?),
        )
    };
}

type Cell = std::cell::Cell<u8>;
type Rc = std::rc::Rc<u8>;
/// Neither unwind-safe nor `Sync`: std's channel types are unwind-safe
/// whatever they carry.
type Unsafe = std::cell::UnsafeCell<u8>;

#[test]
fn auto_traits_are_std_s() {
    // The probe tells a type that is none of them apart.
    assert_eq!(probe!(&'static Unsafe), [false; 4]);
    for (name, std, green) in [
        traits!(Sender<u8>),
        traits!(Sender<Cell>),
        traits!(Sender<Rc>),
        traits!(SyncSender<u8>),
        traits!(SyncSender<Cell>),
        traits!(Receiver<u8>),
        traits!(Receiver<Cell>),
        traits!(Receiver<Rc>),
        traits!(Sender<Unsafe>),
        traits!(SyncSender<Unsafe>),
        traits!(Receiver<Unsafe>),
        traits!(Iter<'static, u8>),
        traits!(Iter<'static, Unsafe>),
        traits!(TryIter<'static, u8>),
        traits!(IntoIter<u8>),
        traits!(IntoIter<Rc>),
        traits!(IntoIter<Unsafe>),
    ] {
        assert_eq!(
            green, std,
            "[Send, Sync, UnwindSafe, RefUnwindSafe] of {name}"
        );
    }
}

#[test]
fn iterators_print_as_std_s() {
    let (_tx, rx) = green::channel::<u8>();
    let (_std_tx, std_rx) = std_mpsc::channel::<u8>();
    assert_eq!(format!("{:?}", rx.iter()), format!("{:?}", std_rx.iter()));
    assert_eq!(
        format!("{:?}", rx.try_iter()),
        format!("{:?}", std_rx.try_iter())
    );
    assert_eq!(
        format!("{:?}", rx.into_iter()),
        format!("{:?}", std_rx.into_iter())
    );
}

#[test]
fn a_receive_can_be_caught_as_with_std() {
    // Compiles only if the receiver is unwind-safe, as std's is.
    let (tx, rx) = green::channel::<u8>();
    tx.send(7).unwrap();
    let got = ::green::run(|| std::panic::catch_unwind(|| rx.recv()).unwrap());
    assert_eq!(got, Ok(7));
    drop(tx);
    let drained = std::panic::catch_unwind(|| rx.iter().count()).unwrap();
    assert_eq!(drained, 0);
}
