//! green-std's `mpsc` types have std's auto traits and Debug output, so
//! that code written against std compiles and prints the same (the
//! receiver and its iterators were `Sync` before, and the iterators
//! printed their wrapper).

use std::marker::PhantomData;

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

/// `[Send, Sync]` of `$t` in both modules.
macro_rules! traits {
    ($t:ident $(<$($p:tt),*>)?) => {
        (
            stringify!($t),
            [ProbeSend::<std_mpsc::$t$(<$($p),*>)?>::SEND, Probe::<std_mpsc::$t$(<$($p),*>)?>::SYNC],
            [ProbeSend::<green::$t$(<$($p),*>)?>::SEND, Probe::<green::$t$(<$($p),*>)?>::SYNC],
        )
    };
}

type Cell = std::cell::Cell<u8>;
type Rc = std::rc::Rc<u8>;

#[test]
fn auto_traits_are_std_s() {
    for (name, std, green) in [
        traits!(Sender<u8>),
        traits!(Sender<Cell>),
        traits!(Sender<Rc>),
        traits!(SyncSender<u8>),
        traits!(SyncSender<Cell>),
        traits!(Receiver<u8>),
        traits!(Receiver<Cell>),
        traits!(Receiver<Rc>),
        traits!(Iter<'static, u8>),
        traits!(TryIter<'static, u8>),
        traits!(IntoIter<u8>),
        traits!(IntoIter<Rc>),
    ] {
        assert_eq!(green, std, "[Send, Sync] of {name}");
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
