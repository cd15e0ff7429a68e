//! A seeded randomized stress test of the channels and sync primitives
//! under kills and timeouts.
//!
//! Each seed generates a program: 2 hubs plus 0–2 plain threads, channels
//! of every flavour, a `Mutex`-protected counter, an `RwLock`, a `Condvar`
//! guarding a token count, an `Event`, and 10–60 actors (greenlets spread
//! over the hubs, and the threads) each running a random script of
//! operations (every kind of send and receive, selects, `green::timeout`
//! around any operation, locks held across switches, condition waits,
//! guards whose destructors wait, so that greenlets stay suspended
//! mid-unwind), while a controller on each hub kills random greenlet actors
//! at random points. A third of the programs are fast: waits of zero or a
//! few µs, and longer scripts.
//! Then the program quiesces (every actor done or blocked), is checked for
//! stalls (an actor blocked while its operation could proceed), closes (the
//! condition and the event are released, and a feeder drains every channel
//! and offers fillers to blocked receivers until every actor has ended),
//! drops every sender and drains the channels, and checks:
//!
//! - a value whose send returned `Ok` was received exactly once, by an
//!   actor, the feeder or the final drain, from the channel it was sent on;
//! - a value whose send failed (`Full`, `Timeout`, not chosen by its
//!   select) was never received, and came back in the error;
//! - a value whose sender was unwound mid-send (killed, or a
//!   `green::timeout` fired) was received at most once (the channel docs: it
//!   was taken or withdrawn, never both), and of the sends a killed select
//!   offered, at most one was received;
//! - no receive reported a disconnection while senders lived, no send one
//!   while receivers lived; on an ephemeral channel (whose senders are only
//!   the actors', each dropped after its last send, so that it disconnects
//!   while others receive) no receive that started after a disconnection
//!   was reported got a value;
//! - the counter equals the increments that completed, the `RwLock` the
//!   writes, no reader or writer ever met a writer inside, and the
//!   condition's tokens add up;
//! - every actor ended (no hang) and no actor panicked (a kill is not a
//!   panic).
//!
//! A second test (see its section below) does the same for gevent's
//! queues, semaphores, the barrier, `AsyncResult` and the pools, with its
//! own variables (`GREEN_STRESS2_SEEDS`, `GREEN_STRESS2_FIRST`,
//! `GREEN_STRESS2_SEED`).
//!
//! `GREEN_STRESS_SEEDS=n` runs seeds `0..n` (default 200; with
//! `GREEN_STRESS_FIRST=k`, seeds `k..k+n`), `GREEN_STRESS_SEED=s` replays
//! seed `s` alone and prints its script and trace. A failing seed panics
//! with its failures, its script and its trace.

mod util;

use std::cell::{Cell, RefCell};
use std::collections::HashMap;
use std::fmt::Write as _;
use std::rc::Rc;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering::SeqCst};
use std::sync::{Arc, Mutex as StdMutex, PoisonError};
use std::time::{Duration, Instant};

use green::channel::{
    self, Receiver, RecvTimeoutError, Select, SendTimeoutError, Sender, TryRecvError, TrySendError,
};
use green::event::Event;
use green::sync::{Condvar, Mutex, RwLock, RwLockWriteGuard};

// ---------------------------------------------------------------------------
// The program a seed generates.

/// splitmix64, and the tempo of the program it generates.
struct Rng(u64, bool);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// In `0..n`.
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }

    /// In `lo..=hi`.
    fn range(&mut self, lo: usize, hi: usize) -> usize {
        lo + self.below(hi - lo + 1)
    }

    fn percent(&mut self, p: usize) -> bool {
        self.below(100) < p
    }

    /// A short duration: mostly µs, sometimes a few ms, sometimes zero; in
    /// a fast program, zero or a few µs.
    fn short(&mut self) -> Duration {
        if self.1 {
            return Duration::from_micros(self.below(3) as u64 * self.below(10) as u64);
        }
        match self.below(10) {
            0 => Duration::ZERO,
            1..=6 => Duration::from_micros(self.range(1, 300) as u64),
            7 | 8 => Duration::from_micros(self.range(300, 1500) as u64),
            _ => Duration::from_micros(self.range(1500, 4000) as u64),
        }
    }
}

#[derive(Clone, Copy, Debug)]
enum Flavour {
    Unbounded,
    Bounded(usize),
    Rendezvous,
}

#[derive(Clone, Copy, Debug)]
enum SelOp {
    Recv(usize),
    Send(usize),
}

#[derive(Clone, Copy, Debug)]
enum SelWait {
    Block,
    Timeout(Duration),
    Default,
}

#[derive(Clone, Copy, Debug)]
enum Hold {
    No,
    Yield,
    Sleep(Duration),
}

#[derive(Clone, Debug)]
enum Op {
    Send(usize),
    TrySend(usize),
    SendTimeout(usize, Duration),
    Recv(usize),
    TryRecv(usize),
    RecvTimeout(usize, Duration),
    Select(Vec<SelOp>, SelWait),
    /// `green::timeout` around a blocking send (greenlets only).
    TimeoutSend(usize, Duration),
    /// `green::timeout` around a blocking receive (greenlets only).
    TimeoutRecv(usize, Duration),
    Increment(Hold),
    TryIncrement,
    Read(Hold),
    Write {
        hold: Hold,
        downgrade: bool,
    },
    /// A loop of `wait_timeout` until a token comes or a wait times out.
    CvConsumeLoop(Duration),
    /// `try_recv` on every channel, in order.
    RecvAny,
    /// `green::timeout` around any operation (greenlets only).
    Timeout(Duration, Box<Op>),
    /// An operation with a guard whose destructor runs another one (which
    /// may wait): at its end, or while it unwinds (killed, timed out).
    Guarded(Box<Op>, Box<Op>),
    CvProduce {
        all: bool,
    },
    CvConsume(Option<Duration>),
    EventSet,
    EventClear,
    EventWait(Option<Duration>),
    Yield,
    Sleep(Duration),
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Place {
    Hub(usize),
    Thread,
}

#[derive(Clone, Debug)]
struct ActorSpec {
    place: Place,
    ops: Vec<Op>,
}

#[derive(Clone, Copy, Debug)]
enum Pause {
    Sleep(Duration),
    Yields(usize),
    /// Until the target is blocked (its state says so) or done, at most
    /// this many yields, then as many `Sleep`s of 20 µs.
    UntilBlocked(usize),
}

#[derive(Clone, Debug)]
struct Program {
    /// Durations of zero or a few µs, and longer scripts.
    fast: bool,
    flavours: Vec<Flavour>,
    /// Per channel: ephemeral. Only the actors with sends on it hold a
    /// sender, each until its last such send, so it disconnects while the
    /// others receive (the world keeps a receiver, so sends never fail). An
    /// actor never waits without a deadline to receive on it while it still
    /// holds a sender of it (that would wait for itself).
    eph: Vec<bool>,
    actors: Vec<ActorSpec>,
    /// Per hub: (pause, index of the target among that hub's actors).
    kills: [Vec<(Pause, usize)>; 2],
}

impl Program {
    fn generate(seed: u64) -> Program {
        let mut rng = Rng(seed ^ 0x005E_ED0F_6EE7, false);
        let fast = rng.percent(30);
        rng.1 = fast;
        let mut flavours = Vec::new();
        // Sometimes one channel of each flavour only, for more contention.
        let most = if rng.percent(30) { 1 } else { 2 };
        for _ in 0..rng.range(1, most) {
            flavours.push(Flavour::Unbounded);
        }
        for _ in 0..rng.range(1, most) {
            flavours.push(Flavour::Bounded(rng.range(1, 3)));
        }
        for _ in 0..rng.range(1, most) {
            flavours.push(Flavour::Rendezvous);
        }
        let nchans = flavours.len();
        let threads = rng.below(3);
        let greenlets = rng.range(10, 60) - threads;
        let mut actors = Vec::new();
        for i in 0..greenlets + threads {
            let place = if i < greenlets {
                Place::Hub(rng.below(2))
            } else {
                Place::Thread
            };
            let len = rng.range(1, if fast { 30 } else { 12 });
            let ops = (0..len)
                .map(|_| Self::op(&mut rng, nchans, place != Place::Thread))
                .collect();
            actors.push(ActorSpec { place, ops });
        }
        let mut kills: [Vec<(Pause, usize)>; 2] = Default::default();
        for (hub, list) in kills.iter_mut().enumerate() {
            let mine = actors.iter().filter(|a| a.place == Place::Hub(hub)).count();
            if mine == 0 {
                continue;
            }
            for _ in 0..rng.below(mine / 2 + 2) {
                let pause = match rng.below(10) {
                    0..=2 => Pause::Yields(rng.below(4)),
                    3..=5 => Pause::UntilBlocked(rng.range(1, 50)),
                    _ => Pause::Sleep(rng.short()),
                };
                list.push((pause, rng.below(mine)));
            }
        }
        let mut eph = vec![false; nchans];
        if rng.percent(60) {
            eph[rng.below(nchans)] = true;
        }
        for a in &mut actors {
            for (c, _) in eph.iter().enumerate().filter(|(_, e)| **e) {
                if let Some(last) = last_sends(&a.ops)[c] {
                    a.ops[..=last].iter_mut().for_each(|op| defuse(op, c));
                }
            }
        }
        Program {
            fast,
            flavours,
            eph,
            actors,
            kills,
        }
    }

    fn op(rng: &mut Rng, nchans: usize, greenlet: bool) -> Op {
        let c = rng.below(nchans);
        loop {
            return match rng.below(34) {
                0..=2 => Op::Send(c),
                3 => Op::TrySend(c),
                4 | 5 => Op::SendTimeout(c, rng.short()),
                6..=8 => Op::Recv(c),
                9 => Op::TryRecv(c),
                10 | 11 => Op::RecvTimeout(c, rng.short()),
                12..=14 => {
                    let n = rng.range(2, 3);
                    // Often all on one channel: a select meets its own
                    // operations there.
                    let one = rng.percent(30);
                    let ops = (0..n)
                        .map(|_| {
                            let c = if one { c } else { rng.below(nchans) };
                            if rng.percent(50) {
                                SelOp::Recv(c)
                            } else {
                                SelOp::Send(c)
                            }
                        })
                        .collect();
                    let wait = match rng.below(3) {
                        0 => SelWait::Block,
                        1 => SelWait::Timeout(rng.short()),
                        _ => SelWait::Default,
                    };
                    Op::Select(ops, wait)
                }
                15 | 16 if greenlet => Op::TimeoutSend(c, rng.short()),
                17 | 18 if greenlet => Op::TimeoutRecv(c, rng.short()),
                19 | 20 => Op::Increment(Self::hold(rng)),
                21 => Op::CvProduce {
                    all: rng.percent(30),
                },
                22 => Op::CvConsume(rng.percent(50).then(|| rng.short())),
                23 => Op::EventSet,
                24 => Op::EventClear,
                25 => Op::EventWait(rng.percent(50).then(|| rng.short())),
                26 => Op::Yield,
                27 => Op::Read(Self::hold(rng)),
                28 => Op::Write {
                    hold: Self::hold(rng),
                    downgrade: rng.percent(30),
                },
                29 => Op::TryIncrement,
                30 => Op::CvConsumeLoop(rng.short()),
                31 => Op::RecvAny,
                32 if greenlet => Op::Timeout(rng.short(), Box::new(Self::op(rng, nchans, true))),
                15..=18 | 32 => continue,
                33 => Op::Guarded(
                    Box::new(Self::op(rng, nchans, greenlet)),
                    Box::new(Self::drop_op(rng, nchans)),
                ),
                _ => Op::Sleep(rng.short()),
            };
        }
    }

    /// What a guard's destructor does: nothing that waits without a
    /// deadline.
    fn drop_op(rng: &mut Rng, nchans: usize) -> Op {
        let c = rng.below(nchans);
        match rng.below(7) {
            0 => Op::SendTimeout(c, rng.short()),
            1 => Op::RecvTimeout(c, rng.short()),
            2 => Op::TrySend(c),
            3 => Op::Sleep(rng.short()),
            4 => Op::Increment(Self::hold(rng)),
            5 => Op::CvConsume(Some(rng.short())),
            _ => Op::Select(
                vec![SelOp::Recv(c), SelOp::Send(rng.below(nchans))],
                SelWait::Timeout(rng.short()),
            ),
        }
    }

    fn hold(rng: &mut Rng) -> Hold {
        match rng.below(3) {
            0 => Hold::No,
            1 => Hold::Yield,
            _ => Hold::Sleep(rng.short()),
        }
    }

    fn describe(&self) -> String {
        let mut s = format!(
            "fast: {}, channels: {:?}, ephemeral: {:?}\n",
            self.fast, self.flavours, self.eph
        );
        for (i, a) in self.actors.iter().enumerate() {
            let _ = writeln!(s, "a{i} {:?}: {:?}", a.place, a.ops);
        }
        for (hub, kills) in self.kills.iter().enumerate() {
            let _ = writeln!(s, "kills on hub {hub} (pause, local index): {kills:?}");
        }
        s
    }
}

/// Whether `op` sends on `chan`.
fn sends_on(op: &Op, chan: usize) -> bool {
    match op {
        Op::Send(c) | Op::TrySend(c) | Op::SendTimeout(c, _) | Op::TimeoutSend(c, _) => *c == chan,
        Op::Select(ops, _) => ops
            .iter()
            .any(|o| matches!(o, SelOp::Send(c) if *c == chan)),
        Op::Timeout(_, inner) => sends_on(inner, chan),
        Op::Guarded(inner, on_drop) => sends_on(inner, chan) || sends_on(on_drop, chan),
        _ => false,
    }
}

/// Per channel, the index of the last operation of `ops` with a send on it.
fn last_sends(ops: &[Op]) -> Vec<Option<usize>> {
    let nchans = 64;
    (0..nchans)
        .map(|c| ops.iter().rposition(|op| sends_on(op, c)))
        .collect()
}

/// Gives a deadline to every receive of `op` on `chan` that had none.
fn defuse(op: &mut Op, chan: usize) {
    match op {
        Op::Recv(c) if *c == chan => *op = Op::RecvTimeout(chan, Duration::from_micros(50)),
        Op::Select(ops, wait @ SelWait::Block)
            if ops
                .iter()
                .any(|o| matches!(o, SelOp::Recv(c) if *c == chan)) =>
        {
            *wait = SelWait::Timeout(Duration::from_micros(50));
        }
        Op::Timeout(_, inner) => defuse(inner, chan),
        Op::Guarded(inner, on_drop) => {
            defuse(inner, chan);
            defuse(on_drop, chan);
        }
        _ => {}
    }
}

// ---------------------------------------------------------------------------
// The shared state of a running program.

/// What an actor is doing, as the coordinator sees it.
mod state {
    pub const RUNNING: u64 = 0;
    pub const DONE: u64 = 1;
    /// Blocked without a deadline (or about to be): kind in the low byte.
    pub const RECV: u64 = 2;
    pub const SEND: u64 = 3;
    /// A select without timeout: its operations in bytes 1..=3, each
    /// `1 + (chan << 1 | is_send)`.
    pub const SELECT: u64 = 4;
    pub const LOCK: u64 = 5;
    pub const CV: u64 = 6;
    pub const EVENT: u64 = 7;
    /// In an operation that waits with a deadline: as good as running for
    /// quiescence, blocked for a kill that waits for one.
    pub const TIMED: u64 = 8;

    /// Running, or about to run again by itself.
    pub fn busy(s: u64) -> bool {
        s == RUNNING || s == TIMED
    }

    pub fn on(kind: u64, chan: usize) -> u64 {
        kind | (chan as u64) << 8
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Fate {
    /// Started and not returned: its sender was unwound if it stays so.
    Pending,
    Ok,
    /// The send failed and gave the value back, or its select chose
    /// another operation.
    Failed,
    /// Unwound by a `green::timeout`: taken or withdrawn.
    Maybe,
}

/// Who received a value.
const FEEDER: usize = usize::MAX - 1;
const DRAIN: usize = usize::MAX;
/// The "actor" bits of a filler value.
const FILLER: u64 = 0xF_FFFF;

#[derive(Default)]
struct Book {
    sends: HashMap<u64, (usize, Fate)>,
    /// value -> (receiver, channel) for every reception.
    recvs: HashMap<u64, Vec<(usize, usize)>>,
    /// The sends of one select.
    groups: Vec<Vec<u64>>,
    increments: u64,
    writes: u64,
}

struct CvState {
    tokens: u64,
    produced: u64,
    consumed: u64,
    closed: bool,
}

struct World {
    start: Instant,
    /// Kept until the final drain, so that no send sees a disconnection.
    rxs: Vec<Receiver<u64>>,
    txs: StdMutex<Option<Vec<Option<Sender<u64>>>>>,
    /// Per channel: ephemeral (see [`Program::eph`]).
    eph: Vec<bool>,
    /// A clock of receive starts and reported disconnections.
    clock: AtomicU64,
    /// Per channel, the earliest stamp of a reported disconnection.
    disconnected_at: Vec<AtomicU64>,
    counter: Mutex<u64>,
    rw: RwLock<u64>,
    /// Actors inside `rw`, as readers and as writer.
    readers: AtomicUsize,
    writer: AtomicBool,
    cv: Mutex<CvState>,
    cond: Condvar,
    event: Event,
    event_sets: AtomicUsize,
    states: Vec<AtomicU64>,
    unwound: Vec<AtomicBool>,
    controllers_done: AtomicUsize,
    book: StdMutex<Book>,
    trace: StdMutex<Vec<String>>,
    failures: StdMutex<Vec<String>>,
}

fn lock<T>(m: &StdMutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

impl World {
    fn new(p: &Program) -> World {
        let mut rxs = Vec::new();
        let mut txs = Vec::new();
        for f in &p.flavours {
            let (tx, rx) = match *f {
                Flavour::Unbounded => channel::unbounded(),
                Flavour::Bounded(n) => channel::bounded(n),
                Flavour::Rendezvous => channel::channel(),
            };
            rxs.push(rx);
            txs.push(Some(tx));
        }
        World {
            start: Instant::now(),
            rxs,
            txs: StdMutex::new(Some(txs)),
            eph: p.eph.clone(),
            clock: AtomicU64::new(0),
            disconnected_at: p
                .flavours
                .iter()
                .map(|_| AtomicU64::new(u64::MAX))
                .collect(),
            counter: Mutex::new(0),
            rw: RwLock::new(0),
            readers: AtomicUsize::new(0),
            writer: AtomicBool::new(false),
            cv: Mutex::new(CvState {
                tokens: 0,
                produced: 0,
                consumed: 0,
                closed: false,
            }),
            cond: Condvar::new(),
            event: Event::new(),
            event_sets: AtomicUsize::new(0),
            states: p.actors.iter().map(|_| AtomicU64::new(0)).collect(),
            unwound: p.actors.iter().map(|_| AtomicBool::new(false)).collect(),
            controllers_done: AtomicUsize::new(0),
            book: StdMutex::new(Book::default()),
            trace: StdMutex::new(Vec::new()),
            failures: StdMutex::new(Vec::new()),
        }
    }

    fn log(&self, who: &str, what: std::fmt::Arguments<'_>) {
        let t = self.start.elapsed().as_micros();
        lock(&self.trace).push(format!("{t:>7} {who} {what}"));
    }

    fn fail(&self, what: String) {
        self.log("FAIL", format_args!("{what}"));
        lock(&self.failures).push(what);
    }

    fn set_state(&self, me: usize, s: u64) {
        self.states[me].store(s, SeqCst);
    }

    fn pending(&self, me: usize, v: u64) {
        let old = lock(&self.book).sends.insert(v, (me, Fate::Pending));
        assert!(old.is_none(), "value {v:#x} made twice");
    }

    fn outcome(&self, v: u64, s: Fate) {
        lock(&self.book)
            .sends
            .get_mut(&v)
            .expect("a pending send")
            .1 = s;
    }

    fn got(&self, who: usize, chan: usize, v: u64) {
        lock(&self.book)
            .recvs
            .entry(v)
            .or_default()
            .push((who, chan));
    }

    fn senders(&self) -> Vec<Option<Sender<u64>>> {
        lock(&self.txs).as_ref().expect("senders alive").clone()
    }

    fn stamp(&self) -> u64 {
        self.clock.fetch_add(1, SeqCst)
    }

    /// A receive on `chan` reported a disconnection (just now).
    fn saw_disconnected(&self, chan: usize) {
        let at = self.stamp();
        self.disconnected_at[chan].fetch_min(at, SeqCst);
    }

    /// Fails if `v`, received by `who` from `chan` in a receive that
    /// started at `started`, came after a disconnection was reported.
    fn check_after_disconnection(&self, chan: usize, v: u64, started: u64, who: &str) {
        if let Some(at) = self.disconnected_before(chan, started) {
            self.fail(format!(
                "{who} received {v:#x} from {chan} in a receive that started after a \
                 disconnection was reported (stamps {started} > {at})"
            ));
        }
    }

    /// The stamp of a disconnection of `chan` reported before `started`.
    fn disconnected_before(&self, chan: usize, started: u64) -> Option<u64> {
        let at = self.disconnected_at[chan].load(SeqCst);
        (at < started).then_some(at)
    }
}

fn value(chan: usize, actor: u64, seq: u64) -> u64 {
    (chan as u64) << 40 | actor << 20 | seq
}

fn chan_of(v: u64) -> usize {
    (v >> 40) as usize
}

// ---------------------------------------------------------------------------
// Actors.

/// Marks its actor done when dropped: at the end of the script, when the
/// actor is unwound (killed), or with the closure of a greenlet killed
/// before it started.
struct Ending {
    world: Arc<World>,
    me: usize,
    completed: bool,
}

impl Drop for Ending {
    fn drop(&mut self) {
        if !self.completed {
            self.world.unwound[self.me].store(true, SeqCst);
            self.world
                .log(&format!("a{}", self.me), format_args!("ends unwound"));
        }
        self.world.set_state(self.me, state::DONE);
    }
}

/// An actor inside the `RwLock`, as a reader or as the writer, until
/// dropped (before its guard, unwinding or not).
struct Inside<'a> {
    world: &'a World,
    write: bool,
}

impl<'a> Inside<'a> {
    fn enter(world: &'a World, write: bool) -> Inside<'a> {
        if write {
            world.writer.store(true, SeqCst);
        } else {
            world.readers.fetch_add(1, SeqCst);
        }
        Inside { world, write }
    }
}

impl Drop for Inside<'_> {
    fn drop(&mut self) {
        if self.write {
            self.world.writer.store(false, SeqCst);
        } else {
            self.world.readers.fetch_sub(1, SeqCst);
        }
    }
}

/// Runs its closure when dropped.
struct Defer<F: FnMut()>(F);

impl<F: FnMut()> Drop for Defer<F> {
    fn drop(&mut self) {
        (self.0)();
    }
}

/// See [`Actor::block`].
struct Blocked<'a>(&'a Actor);

impl Drop for Blocked<'_> {
    fn drop(&mut self) {
        self.0.world.set_state(self.0.me, state::RUNNING);
    }
}

enum SelRes {
    Recv(usize, Result<u64, channel::RecvError>),
    Sent(usize),
    SendErr(usize, u64),
    Otherwise,
}

struct Actor {
    world: Arc<World>,
    me: usize,
    name: String,
    green: bool,
    /// A sender of each channel; of an ephemeral one only while the script
    /// has sends on it to come.
    txs: RefCell<Vec<Option<Sender<u64>>>>,
    /// Per channel, the last operation of the script with a send on it.
    last_send: Vec<Option<usize>>,
    rxs: Vec<Receiver<u64>>,
    seq: Cell<u64>,
    /// This actor's sends that have not returned yet.
    sending: RefCell<Vec<u64>>,
}

impl Actor {
    fn run(self, ops: Vec<Op>, mut ending: Ending) {
        for (i, op) in ops.iter().enumerate() {
            self.exec(op);
            for (c, last) in self.last_send.iter().enumerate() {
                if *last == Some(i) && self.world.eph[c] {
                    // Its last send on an ephemeral channel: let it go.
                    self.txs.borrow_mut()[c] = None;
                }
            }
        }
        ending.completed = true;
        self.world.log(&self.name, format_args!("done"));
    }

    fn value(&self, chan: usize) -> u64 {
        self.seq.set(self.seq.get() + 1);
        value(chan, self.me as u64, self.seq.get())
    }

    /// Marks the actor blocked in `how` until the guard is dropped.
    fn block(&self, how: u64) -> Blocked<'_> {
        self.world.set_state(self.me, how);
        Blocked(self)
    }

    /// A send of `v` starts.
    fn pending(&self, v: u64) {
        self.world.pending(self.me, v);
        self.sending.borrow_mut().push(v);
    }

    /// The send of `v` returned.
    fn outcome(&self, v: u64, fate: Fate) {
        self.world.outcome(v, fate);
        self.sending.borrow_mut().retain(|&s| s != v);
    }

    fn sleep(&self, d: Duration) {
        if self.green {
            green::sleep(d);
        } else {
            std::thread::sleep(d);
        }
    }

    fn yield_now(&self) {
        if self.green {
            green::yield_now();
        } else {
            std::thread::yield_now();
        }
    }

    fn fail(&self, what: impl std::fmt::Display) {
        self.world.fail(format!("{}: {what}", self.name));
    }

    fn log(&self, what: std::fmt::Arguments<'_>) {
        self.world.log(&self.name, what);
    }

    /// This actor received `v` from `chan` in a receive that started at
    /// stamp `started`.
    fn got(&self, chan: usize, v: u64, started: u64) {
        self.world.got(self.me, chan, v);
        self.world
            .check_after_disconnection(chan, v, started, &self.name);
    }

    /// A receive on `chan` reported a disconnection.
    fn disconnected(&self, chan: usize, what: &str) {
        if self.world.eph[chan] {
            self.world.saw_disconnected(chan);
            self.log(format_args!("{what} on {chan}: disconnected"));
        } else {
            self.fail(format_args!(
                "{what} on {chan}: disconnected (senders alive)"
            ));
        }
    }

    /// The sender of `chan` (alive while the script has sends on it).
    fn tx(&self, chan: usize) -> std::cell::Ref<'_, Sender<u64>> {
        std::cell::Ref::map(self.txs.borrow(), |t| {
            t[chan].as_ref().expect("a sender for a send")
        })
    }

    fn hold(&self, hold: Hold) {
        match hold {
            Hold::No => {}
            Hold::Yield => self.yield_now(),
            Hold::Sleep(d) => self.sleep(d),
        }
    }

    /// Fails unless the `RwLock` holds only readers (`write`: no one).
    fn check_rw(&self, write: bool) {
        let (readers, writer) = (
            self.world.readers.load(SeqCst),
            self.world.writer.load(SeqCst),
        );
        if writer || (write && readers > 0) {
            self.fail(format_args!(
                "in the RwLock as a {}: {readers} readers, writer {writer}",
                if write { "writer" } else { "reader" }
            ));
        }
    }

    fn exec(&self, op: &Op) {
        let w = self.world.clone();
        let t0 = w.stamp();
        let timed = matches!(
            *op,
            Op::SendTimeout(..)
                | Op::RecvTimeout(..)
                | Op::TimeoutSend(..)
                | Op::TimeoutRecv(..)
                | Op::CvConsume(Some(_))
                | Op::CvConsumeLoop(_)
                | Op::EventWait(Some(_))
                | Op::Sleep(_)
                | Op::Timeout(..)
                | Op::Increment(Hold::Sleep(_))
                | Op::Select(_, SelWait::Timeout(_))
        );
        let _timed = timed.then(|| self.block(state::TIMED));
        self.log(format_args!("{op:?}"));
        match *op {
            Op::Send(c) => {
                let v = self.value(c);
                self.pending(v);
                let waiting = self.block(state::on(state::SEND, c));
                let r = self.tx(c).send(v);
                drop(waiting);
                match r {
                    Ok(()) => self.outcome(v, Fate::Ok),
                    Err(e) => {
                        self.outcome(v, Fate::Failed);
                        self.fail(format_args!("send {v:#x} on {c}: {e:?} (receivers alive)"));
                    }
                }
                self.log(format_args!("sent {v:#x}: {r:?}"));
            }
            Op::TrySend(c) => {
                let v = self.value(c);
                self.pending(v);
                let r = self.tx(c).try_send(v);
                match r {
                    Ok(()) => self.outcome(v, Fate::Ok),
                    Err(TrySendError::Full(back)) => {
                        self.outcome(v, Fate::Failed);
                        if back != v {
                            self.fail(format_args!("try_send {v:#x} gave back {back:#x}"));
                        }
                    }
                    Err(TrySendError::Disconnected(_)) => {
                        self.outcome(v, Fate::Failed);
                        self.fail(format_args!("try_send on {c}: disconnected"));
                    }
                }
                self.log(format_args!("try_send {v:#x}: {r:?}"));
            }
            Op::SendTimeout(c, d) => {
                let v = self.value(c);
                self.pending(v);
                let r = self.tx(c).send_timeout(v, d);
                match r {
                    Ok(()) => self.outcome(v, Fate::Ok),
                    Err(SendTimeoutError::Timeout(back)) => {
                        self.outcome(v, Fate::Failed);
                        if back != v {
                            self.fail(format_args!("send_timeout {v:#x} gave back {back:#x}"));
                        }
                    }
                    Err(SendTimeoutError::Disconnected(_)) => {
                        self.outcome(v, Fate::Failed);
                        self.fail(format_args!("send_timeout on {c}: disconnected"));
                    }
                }
                self.log(format_args!("send_timeout {v:#x}: {r:?}"));
            }
            Op::Recv(c) => {
                let waiting = self.block(state::on(state::RECV, c));
                let r = self.rxs[c].recv();
                drop(waiting);
                match r {
                    Ok(v) => self.got(c, v, t0),
                    Err(_) => self.disconnected(c, "recv"),
                }
                self.log(format_args!("recv: {r:x?}"));
            }
            Op::TryRecv(c) => {
                let r = self.rxs[c].try_recv();
                match r {
                    Ok(v) => self.got(c, v, t0),
                    Err(TryRecvError::Empty) => {}
                    Err(TryRecvError::Disconnected) => self.disconnected(c, "try_recv"),
                }
                self.log(format_args!("try_recv: {r:x?}"));
            }
            Op::RecvTimeout(c, d) => {
                let r = self.rxs[c].recv_timeout(d);
                match r {
                    Ok(v) => self.got(c, v, t0),
                    Err(RecvTimeoutError::Timeout) => {}
                    Err(RecvTimeoutError::Disconnected) => self.disconnected(c, "recv_timeout"),
                }
                self.log(format_args!("recv_timeout: {r:x?}"));
            }
            Op::Select(ref ops, wait) => self.select(ops, wait),
            Op::TimeoutSend(c, d) => {
                let v = self.value(c);
                self.pending(v);
                let tx = self.tx(c);
                let r = green::timeout(d, || tx.send(v));
                drop(tx);
                match r {
                    Ok(Ok(())) => self.outcome(v, Fate::Ok),
                    Ok(Err(_)) => {
                        self.outcome(v, Fate::Failed);
                        self.fail(format_args!("send in timeout on {c}: disconnected"));
                    }
                    Err(_) => self.outcome(v, Fate::Maybe),
                }
                self.log(format_args!("timeout(send {v:#x}): {r:?}"));
            }
            Op::TimeoutRecv(c, d) => {
                let rx = &self.rxs[c];
                let r = green::timeout(d, || rx.recv());
                match r {
                    Ok(Ok(v)) => self.got(c, v, t0),
                    Ok(Err(_)) => self.disconnected(c, "recv in timeout"),
                    Err(_) => {}
                }
                self.log(format_args!("timeout(recv): {r:x?}"));
            }
            Op::Increment(hold) => {
                let waiting = self.block(state::LOCK);
                let mut g = w.counter.lock().unwrap_or_else(PoisonError::into_inner);
                drop(waiting);
                let n = *g;
                self.hold(hold);
                if *g != n {
                    self.fail(format_args!(
                        "the counter moved from {n} to {} under its lock",
                        *g
                    ));
                }
                *g = n + 1;
                lock(&w.book).increments += 1;
                drop(g);
                self.log(format_args!("incremented to {}", n + 1));
            }
            Op::TryIncrement => {
                let g = match w.counter.try_lock() {
                    Ok(g) => Some(g),
                    Err(std::sync::TryLockError::Poisoned(p)) => Some(p.into_inner()),
                    Err(std::sync::TryLockError::WouldBlock) => None,
                };
                if let Some(mut g) = g {
                    *g += 1;
                    lock(&w.book).increments += 1;
                }
            }
            Op::Read(hold) => {
                let waiting = self.block(state::LOCK);
                let g = w.rw.read().unwrap_or_else(PoisonError::into_inner);
                drop(waiting);
                let inside = Inside::enter(&w, false);
                self.check_rw(false);
                self.hold(hold);
                self.check_rw(false);
                drop(inside);
                drop(g);
            }
            Op::Write { hold, downgrade } => {
                let waiting = self.block(state::LOCK);
                let mut g = w.rw.write().unwrap_or_else(PoisonError::into_inner);
                drop(waiting);
                self.check_rw(true);
                let inside = Inside::enter(&w, true);
                self.hold(hold);
                w.writer.store(false, SeqCst);
                self.check_rw(true);
                w.writer.store(true, SeqCst);
                *g += 1;
                lock(&w.book).writes += 1;
                drop(inside);
                if downgrade {
                    let g = RwLockWriteGuard::downgrade(g);
                    let inside = Inside::enter(&w, false);
                    self.hold(hold);
                    self.check_rw(false);
                    drop(inside);
                    drop(g);
                } else {
                    drop(g);
                }
            }
            Op::CvConsumeLoop(d) => {
                let mut g = w.cv.lock().unwrap_or_else(PoisonError::into_inner);
                let took = loop {
                    if g.tokens > 0 {
                        g.tokens -= 1;
                        g.consumed += 1;
                        break true;
                    }
                    if g.closed {
                        break false;
                    }
                    let (g2, r) = w
                        .cond
                        .wait_timeout(g, d)
                        .unwrap_or_else(PoisonError::into_inner);
                    g = g2;
                    if r.timed_out() && g.tokens == 0 {
                        break false;
                    }
                };
                drop(g);
                self.log(format_args!("took a token: {took}"));
            }
            Op::RecvAny => {
                for c in 0..self.rxs.len() {
                    match self.rxs[c].try_recv() {
                        Ok(v) => {
                            self.got(c, v, t0);
                            self.log(format_args!("try_recv {c}: {v:#x}"));
                        }
                        Err(TryRecvError::Empty) => {}
                        Err(TryRecvError::Disconnected) => self.disconnected(c, "try_recv"),
                    }
                }
            }
            Op::CvProduce { all } => {
                let mut g = w.cv.lock().unwrap_or_else(PoisonError::into_inner);
                g.tokens += 1;
                g.produced += 1;
                if all {
                    w.cond.notify_all();
                } else {
                    w.cond.notify_one();
                }
                drop(g);
            }
            Op::CvConsume(d) => {
                let empty = |s: &mut CvState| s.tokens == 0 && !s.closed;
                let g = w.cv.lock().unwrap_or_else(PoisonError::into_inner);
                let mut g = match d {
                    None => {
                        let waiting = self.block(state::CV);
                        let g = w
                            .cond
                            .wait_while(g, empty)
                            .unwrap_or_else(PoisonError::into_inner);
                        drop(waiting);
                        g
                    }
                    Some(d) => {
                        w.cond
                            .wait_timeout_while(g, d, empty)
                            .unwrap_or_else(PoisonError::into_inner)
                            .0
                    }
                };
                let took = g.tokens > 0;
                if took {
                    g.tokens -= 1;
                    g.consumed += 1;
                } else if d.is_none() && !g.closed {
                    self.fail("wait_while returned with its condition still true");
                }
                drop(g);
                self.log(format_args!("took a token: {took}"));
            }
            Op::EventSet => {
                w.event_sets.fetch_add(1, SeqCst);
                w.event.set();
            }
            Op::EventClear => w.event.clear(),
            Op::EventWait(None) => {
                let waiting = self.block(state::EVENT);
                w.event.wait();
                drop(waiting);
                if w.event_sets.load(SeqCst) == 0 {
                    self.fail("Event::wait returned before any set");
                }
            }
            Op::EventWait(Some(d)) => {
                let set = w.event.wait_timeout(d);
                if set && w.event_sets.load(SeqCst) == 0 {
                    self.fail("Event::wait_timeout returned true before any set");
                }
                self.log(format_args!("event: {set}"));
            }
            Op::Yield => self.yield_now(),
            Op::Sleep(d) => self.sleep(d),
            Op::Timeout(d, ref inner) => {
                let r = green::timeout(d, || self.exec(inner));
                if r.is_err() {
                    // The sends it cut short were taken or withdrawn.
                    for v in self.sending.take() {
                        w.outcome(v, Fate::Maybe);
                    }
                }
                self.log(format_args!("timeout: {r:?}"));
            }
            Op::Guarded(ref inner, ref on_drop) => {
                let _guard = Defer(|| {
                    self.log(format_args!("guard runs {on_drop:?}"));
                    self.exec(on_drop)
                });
                self.exec(inner);
            }
        }
    }

    fn select(&self, ops: &[SelOp], wait: SelWait) {
        let w = self.world.clone();
        let t0 = w.stamp();
        let txs = self.txs.borrow();
        let values: Vec<Option<u64>> = ops
            .iter()
            .map(|o| match *o {
                SelOp::Send(c) => Some(self.value(c)),
                SelOp::Recv(_) => None,
            })
            .collect();
        let group: Vec<u64> = values.iter().flatten().copied().collect();
        for &v in &group {
            self.pending(v);
        }
        if group.len() > 1 {
            lock(&w.book).groups.push(group.clone());
        }
        let mut sel = Select::new();
        let mut blocked = state::SELECT;
        for (i, o) in ops.iter().enumerate() {
            sel = match *o {
                SelOp::Recv(c) => {
                    blocked |= (1 + ((c as u64) << 1)) << (8 * (i + 1));
                    sel.recv(&self.rxs[c], move |r| SelRes::Recv(i, r))
                }
                SelOp::Send(c) => {
                    blocked |= (1 + ((c as u64) << 1 | 1)) << (8 * (i + 1));
                    let v = values[i].expect("a send's value");
                    let tx = txs[c].as_ref().expect("a sender for a send");
                    sel.send(tx, v, move |r| match r {
                        Ok(()) => SelRes::Sent(i),
                        Err(e) => SelRes::SendErr(i, e.0),
                    })
                }
            };
        }
        sel = match wait {
            SelWait::Block => sel,
            SelWait::Timeout(d) => sel.timeout(d, || SelRes::Otherwise),
            SelWait::Default => sel.default(|| SelRes::Otherwise),
        };
        let waiting = matches!(wait, SelWait::Block).then(|| self.block(blocked));
        let r = sel.wait();
        drop(waiting);
        let mut sent = None;
        match r {
            SelRes::Recv(i, Ok(v)) => {
                let SelOp::Recv(c) = ops[i] else {
                    unreachable!()
                };
                self.got(c, v, t0);
                self.log(format_args!("select: recv #{i} {v:#x}"));
            }
            SelRes::Recv(i, Err(_)) => {
                let SelOp::Recv(c) = ops[i] else {
                    unreachable!()
                };
                self.disconnected(c, "select recv");
            }
            SelRes::Sent(i) => {
                sent = Some(i);
                self.log(format_args!("select: sent #{i} {:#x}", values[i].unwrap()));
            }
            SelRes::SendErr(i, back) => {
                self.fail(format_args!(
                    "select send #{i}: disconnected (receivers alive)"
                ));
                if Some(back) != values[i] {
                    self.fail(format_args!("select send #{i} gave back {back:#x}"));
                }
            }
            SelRes::Otherwise => self.log(format_args!("select: timed out")),
        }
        for (i, v) in values.iter().enumerate() {
            if let Some(v) = *v {
                w.outcome(
                    v,
                    if sent == Some(i) {
                        Fate::Ok
                    } else {
                        Fate::Failed
                    },
                );
            }
        }
    }
}

// ---------------------------------------------------------------------------
// Running a program.

const QUIESCE_LIMIT: Duration = Duration::from_secs(10);
const STALL_LIMIT: Duration = Duration::from_secs(2);
const CLOSE_LIMIT: Duration = Duration::from_secs(10);

/// A greenlet actor to spawn: its index, itself, its ending and its script.
type HubActor = (usize, Actor, Ending, Vec<Op>);

/// The running program's world, for the watchdog to print its trace.
static CURRENT: StdMutex<Option<Arc<World>>> = StdMutex::new(None);

fn run_program(p: &Program) -> Arc<World> {
    let world = Arc::new(World::new(p));
    *lock(&CURRENT) = Some(world.clone());
    let all_done = Arc::new(Event::new());

    let make_actor = |me: usize, green: bool| {
        let last_send = last_sends(&p.actors[me].ops);
        let mut txs = world.senders();
        for (c, tx) in txs.iter_mut().enumerate() {
            if world.eph[c] && last_send[c].is_none() {
                *tx = None;
            }
        }
        let rxs = world.rxs.clone();
        let actor = Actor {
            world: world.clone(),
            me,
            name: format!("a{me}"),
            green,
            txs: RefCell::new(txs),
            last_send,
            rxs,
            seq: Cell::new(0),
            sending: RefCell::new(Vec::new()),
        };
        let ending = Ending {
            world: world.clone(),
            me,
            completed: false,
        };
        (actor, ending)
    };

    // Threads first: they race with the hubs from the start.
    let mut threads = Vec::new();
    for (me, a) in p.actors.iter().enumerate() {
        if a.place == Place::Thread {
            let (actor, ending) = make_actor(me, false);
            let ops = a.ops.clone();
            threads.push(
                std::thread::Builder::new()
                    .name(format!("stress-a{me}"))
                    .spawn(move || actor.run(ops, ending))
                    .expect("spawn an actor thread"),
            );
        }
    }

    let mut per_hub: [Vec<HubActor>; 2] = Default::default();
    for (me, a) in p.actors.iter().enumerate() {
        if let Place::Hub(h) = a.place {
            let (actor, ending) = make_actor(me, true);
            per_hub[h].push((me, actor, ending, a.ops.clone()));
        }
    }
    let hubs: StdMutex<Vec<_>> = StdMutex::new(
        per_hub
            .into_iter()
            .zip(p.kills.clone())
            .map(|(a, k)| Some((a, k)))
            .collect(),
    );
    let hubs = Arc::new(hubs);
    // Only the actors hold senders of the ephemeral channels now.
    for (c, tx) in lock(&world.txs)
        .as_mut()
        .expect("senders")
        .iter_mut()
        .enumerate()
    {
        if world.eph[c] {
            *tx = None;
        }
    }

    let w = world.clone();
    let done = all_done.clone();
    let results = green::Runtime::new().hubs(2).run(move |hub| {
        let (actors, kills) = lock(&hubs)[hub].take().expect("this hub's actors");
        let w = w.clone();
        let mut ids = Vec::new();
        let mut handles = Vec::new();
        for (me, actor, ending, ops) in actors {
            ids.push(me);
            handles.push(
                green::Builder::new()
                    .name(format!("a{me}"))
                    .spawn(move || actor.run(ops, ending))
                    .expect("spawn an actor"),
            );
        }
        let handles = Rc::new(handles);
        let controller = {
            let (w, handles, ids) = (w.clone(), handles.clone(), ids.clone());
            green::spawn(move || {
                for (pause, target) in kills {
                    match pause {
                        Pause::Sleep(d) => green::sleep(d),
                        Pause::Yields(n) => (0..n).for_each(|_| green::yield_now()),
                        Pause::UntilBlocked(n) => {
                            let idle = || w.states[ids[target]].load(SeqCst) != state::RUNNING;
                            for i in 0..2 * n {
                                if idle() {
                                    break;
                                }
                                if i < n {
                                    green::yield_now();
                                } else {
                                    green::sleep(Duration::from_micros(20));
                                }
                            }
                        }
                    }
                    let who = format!("kill{hub}");
                    w.log(&who, format_args!("kills a{}", ids[target]));
                    handles[target].kill();
                    w.log(&who, format_args!("killed a{}", ids[target]));
                }
                w.controllers_done.fetch_add(1, SeqCst);
            })
        };
        if hub == 0 {
            coordinate(&w);
            done.set();
        } else {
            done.wait();
        }
        if !lock(&w.failures).is_empty() {
            // Do not wait for what hangs: end every greenlet actor.
            handles.iter().for_each(|h| h.kill());
        }
        if let Err(e) = controller.join() {
            w.fail(format!("controller of hub {hub}: {e:?}"));
        }
        let handles = Rc::try_unwrap(handles).unwrap_or_else(|_| panic!("the handles are ours"));
        for (me, h) in ids.into_iter().zip(handles) {
            match h.join() {
                Ok(()) => {}
                Err(e) if e.is_killed() => {}
                Err(e) => {
                    let msg = util::panic_message(&*e.into_panic());
                    w.fail(format!("a{me} panicked: {msg}"));
                }
            }
        }
    });
    drop(results);
    for t in threads {
        if let Err(e) = t.join() {
            world.fail(format!(
                "a thread actor panicked: {}",
                util::panic_message(&*e)
            ));
        }
    }
    // Every actor's senders are gone: drop the last ones and drain.
    drop(lock(&world.txs).take());
    for (c, rx) in world.rxs.iter().enumerate() {
        loop {
            let started = world.stamp();
            match rx.recv_timeout(Duration::from_secs(5)) {
                Ok(v) => {
                    world.log("drain", format_args!("{c}: {v:#x}"));
                    world.got(DRAIN, c, v);
                    world.check_after_disconnection(c, v, started, "the drain");
                }
                Err(RecvTimeoutError::Disconnected) => break,
                Err(RecvTimeoutError::Timeout) => {
                    world.fail(format!(
                        "channel {c}: not disconnected 5 s after every sender was dropped"
                    ));
                    break;
                }
            }
        }
    }
    world
}

/// An actor that is blocked although its operation could proceed, as far
/// as a look from outside can tell; `None` if none is.
fn stalled(w: &World) -> Option<String> {
    let states: Vec<u64> = w.states.iter().map(|s| s.load(SeqCst)).collect();
    // (actor, chan, is_send) of every blocked channel operation.
    let mut ops = Vec::new();
    for (a, &s) in states.iter().enumerate() {
        match s & 0xFF {
            state::RECV => ops.push((a, (s >> 8) as usize, false)),
            state::SEND => ops.push((a, (s >> 8) as usize, true)),
            state::SELECT => {
                for i in 1..=3 {
                    let b = (s >> (8 * i)) & 0xFF;
                    if b != 0 {
                        ops.push((a, ((b - 1) >> 1) as usize, (b - 1) & 1 == 1));
                    }
                }
            }
            _ => {}
        }
    }
    for &(a, c, send) in &ops {
        let rx = &w.rxs[c];
        if !send && !rx.is_empty() {
            return Some(format!("a{a} waits to receive on {c}, which holds values"));
        }
        if !send && w.eph[c] && rx.is_disconnected() {
            return Some(format!(
                "a{a} waits to receive on {c}, whose senders are all gone"
            ));
        }
        if send && !rx.is_full() {
            return Some(format!("a{a} waits to send on {c}, which has room"));
        }
        if let Some(&(b, ..)) = ops.iter().find(|&&(b, d, s)| b != a && d == c && s != send) {
            return Some(format!(
                "a{a} waits to {} on {c}, and a{b} to {}",
                if send { "send" } else { "receive" },
                if send { "receive" } else { "send" }
            ));
        }
    }
    for (a, &s) in states.iter().enumerate() {
        if s == state::EVENT && w.event.is_set() {
            return Some(format!("a{a} waits for the event, which is set"));
        }
        if s == state::CV {
            let g = match w.cv.try_lock() {
                Ok(g) => Some(g),
                Err(std::sync::TryLockError::Poisoned(p)) => Some(p.into_inner()),
                Err(std::sync::TryLockError::WouldBlock) => None,
            };
            if let Some(g) = g {
                if g.tokens > 0 {
                    return Some(format!(
                        "a{a} waits for a token, and there are {}",
                        g.tokens
                    ));
                }
            }
        }
    }
    None
}

/// Hub 0's main: waits for the program to quiesce, checks for stalls, then
/// closes it and feeds it until every actor has ended.
fn coordinate(w: &World) {
    let start = Instant::now();
    let mut stall_since: Option<Instant> = None;
    loop {
        let quiet = w.controllers_done.load(SeqCst) == 2
            && w.states.iter().all(|s| !state::busy(s.load(SeqCst)));
        if quiet {
            match stalled(w) {
                None => break,
                Some(why) => {
                    let since = *stall_since.get_or_insert_with(Instant::now);
                    if since.elapsed() > STALL_LIMIT {
                        w.fail(format!("stalled for {STALL_LIMIT:?}: {why}"));
                        break;
                    }
                }
            }
        } else {
            stall_since = None;
        }
        if start.elapsed() > QUIESCE_LIMIT {
            let busy: Vec<usize> = (0..w.states.len())
                .filter(|&a| state::busy(w.states[a].load(SeqCst)))
                .collect();
            w.fail(format!(
                "no quiescence after {QUIESCE_LIMIT:?}: running {busy:?}, controllers done {}",
                w.controllers_done.load(SeqCst)
            ));
            break;
        }
        green::sleep(Duration::from_micros(200));
    }
    w.log("coord", format_args!("closing"));
    {
        let mut g = w.cv.lock().unwrap_or_else(PoisonError::into_inner);
        g.closed = true;
        w.cond.notify_all();
    }
    w.event_sets.fetch_add(1, SeqCst);
    w.event.set();
    let txs = w.senders();
    let mut fillers = 0;
    let start = Instant::now();
    while w.states.iter().any(|s| s.load(SeqCst) != state::DONE) {
        if start.elapsed() > CLOSE_LIMIT {
            let left: Vec<String> = (0..w.states.len())
                .filter_map(|a| {
                    let s = w.states[a].load(SeqCst);
                    (s != state::DONE).then(|| format!("a{a}:{s:#x}"))
                })
                .collect();
            w.fail(format!(
                "actors not ended {CLOSE_LIMIT:?} after closing: {left:?}"
            ));
            break;
        }
        for (c, rx) in w.rxs.iter().enumerate() {
            loop {
                let started = w.stamp();
                let Ok(v) = rx.try_recv() else { break };
                w.log("feed", format_args!("took {v:#x} from {c}"));
                w.got(FEEDER, c, v);
                w.check_after_disconnection(c, v, started, "the feeder");
            }
            if let (true, Some(tx)) = (rx.is_empty(), &txs[c]) {
                fillers += 1;
                let v = value(c, FILLER, fillers);
                w.pending(FEEDER, v);
                match tx.try_send(v) {
                    Ok(()) => {
                        w.log("feed", format_args!("gave {v:#x} to {c}"));
                        w.outcome(v, Fate::Ok)
                    }
                    Err(_) => w.outcome(v, Fate::Failed),
                }
            }
        }
        // An actor may have cleared the event since.
        w.event.set();
        green::sleep(Duration::from_micros(100));
    }
    // The fillers left in the channels are drained at the end.
    w.log("coord", format_args!("every actor ended"));
}

// ---------------------------------------------------------------------------
// Checks.

fn check(w: &World) {
    let book = lock(&w.book);
    let unwound = |a: usize| a < w.unwound.len() && w.unwound[a].load(SeqCst);
    for (&v, got) in &book.recvs {
        let Some(&(sender, sent)) = book.sends.get(&v) else {
            w.fail(format!("{v:#x} received by {got:?} but never sent"));
            continue;
        };
        for &(_, c) in got {
            if c != chan_of(v) {
                w.fail(format!("{v:#x} sent on {} received on {c}", chan_of(v)));
            }
        }
        let n = got.len();
        let ok = match sent {
            Fate::Ok => n == 1,
            Fate::Failed => false,
            Fate::Pending | Fate::Maybe => n <= 1,
        };
        if !ok {
            w.fail(format!(
                "{v:#x} (sender a{sender}, {sent:?}) received {n} times: {got:?}"
            ));
        }
    }
    for (&v, &(sender, sent)) in &book.sends {
        let n = book.recvs.get(&v).map_or(0, Vec::len);
        if sent == Fate::Ok && n == 0 {
            w.fail(format!("{v:#x} (sender a{sender}) sent but never received"));
        }
        if sent == Fate::Pending && !unwound(sender) {
            w.fail(format!(
                "{v:#x}: the send of a{sender} never returned, yet a{sender} was not unwound"
            ));
        }
    }
    for g in &book.groups {
        let n: usize = g
            .iter()
            .map(|v| book.recvs.get(v).map_or(0, Vec::len))
            .sum();
        if n > 1 {
            w.fail(format!("{n} sends of one select received: {g:x?}"));
        }
    }
    let counter = *w.counter.lock().unwrap_or_else(PoisonError::into_inner);
    if counter != book.increments {
        w.fail(format!(
            "counter {counter} != {} completed increments",
            book.increments
        ));
    }
    let writes = *w.rw.read().unwrap_or_else(PoisonError::into_inner);
    if writes != book.writes {
        w.fail(format!(
            "RwLock {writes} != {} completed writes",
            book.writes
        ));
    }
    let cv = w.cv.lock().unwrap_or_else(PoisonError::into_inner);
    if cv.produced != cv.consumed + cv.tokens {
        w.fail(format!(
            "tokens: produced {} != consumed {} + left {}",
            cv.produced, cv.consumed, cv.tokens
        ));
    }
}

fn run_seed(seed: u64, verbose: bool) {
    let p = Program::generate(seed);
    if verbose {
        eprintln!("seed {seed}:\n{}", p.describe());
    }
    let w = run_program(&p);
    check(&w);
    report(
        seed,
        "GREEN_STRESS",
        &w.failures,
        &w.trace,
        &p.describe(),
        verbose,
    );
}

/// Panics with seed `seed`'s failures, its program and its trace, if it
/// failed; prints them all the same when `verbose`. `prefix` names the
/// program's variables (the replay's).
fn report(
    seed: u64,
    prefix: &str,
    failures: &StdMutex<Vec<String>>,
    trace: &StdMutex<Vec<String>>,
    program: &str,
    verbose: bool,
) {
    let failures = lock(failures).clone();
    if verbose || !failures.is_empty() {
        let trace = lock(trace).join("\n");
        let msg = format!(
            "seed {seed}: {} failures (replay: {prefix}_SEED={seed})\n{}\n--- program ---\n{program}--- trace ---\n{trace}",
            failures.len(),
            failures.join("\n"),
        );
        assert!(failures.is_empty(), "{msg}");
        eprintln!("{msg}");
    }
}

/// Runs the seeds a program's variables ask for, each under a
/// [`SeedWatch`]: `{prefix}_SEED` replays one, verbose; otherwise
/// `{prefix}_SEEDS` (or `default`) from `{prefix}_FIRST` (or 0).
fn drive(prefix: &str, default: u64, run: fn(u64, bool)) {
    let watch = SeedWatch::start(Duration::from_secs(45), prefix);
    if let Some(seed) = env_u64(&format!("{prefix}_SEED")) {
        watch.begin(seed);
        run(seed, true);
        return;
    }
    let first = env_u64(&format!("{prefix}_FIRST")).unwrap_or(0);
    let count = env_u64(&format!("{prefix}_SEEDS")).unwrap_or(default);
    let verbose = std::env::var_os("GREEN_STRESS_VERBOSE").is_some();
    for seed in first..first + count {
        watch.begin(seed);
        run(seed, false);
        if verbose && seed % 100 == 0 {
            eprintln!("{prefix}: seed {seed} passed");
        }
    }
}

fn env_u64(name: &str) -> Option<u64> {
    let v = std::env::var(name).ok()?;
    Some(
        v.parse()
            .unwrap_or_else(|_| panic!("{name}={v:?}: not a number")),
    )
}

/// Aborts the process, naming the seed, if one runs for longer than
/// `limit` (a hang the program's own limits did not catch).
struct SeedWatch {
    seed: Arc<AtomicU64>,
    since: Arc<StdMutex<Instant>>,
    _stop: std::sync::mpsc::Sender<()>,
}

impl SeedWatch {
    fn start(limit: Duration, prefix: &str) -> SeedWatch {
        let replay = format!("{prefix}_SEED");
        let seed = Arc::new(AtomicU64::new(u64::MAX));
        let since = Arc::new(StdMutex::new(Instant::now()));
        let (stop, stopped) = std::sync::mpsc::channel::<()>();
        let (s, t) = (seed.clone(), since.clone());
        std::thread::spawn(move || loop {
            match stopped.recv_timeout(Duration::from_millis(100)) {
                Err(std::sync::mpsc::RecvTimeoutError::Timeout) => {}
                _ => return,
            }
            if lock(&t).elapsed() > limit {
                eprintln!(
                    "stress: seed {} ran for more than {limit:?}: aborting (replay: {replay}={})",
                    s.load(SeqCst),
                    s.load(SeqCst)
                );
                if let Some(w) = lock(&CURRENT).as_ref() {
                    let states: Vec<String> = w
                        .states
                        .iter()
                        .enumerate()
                        .filter(|(_, s)| s.load(SeqCst) != state::DONE)
                        .map(|(a, s)| format!("a{a}:{:#x}", s.load(SeqCst)))
                        .collect();
                    eprintln!("actors not done: {states:?}");
                    // The trace's lock may be held by the hung code: try.
                    match w.trace.try_lock() {
                        Ok(t) => eprintln!("--- trace ---\n{}", t.join("\n")),
                        Err(_) => eprintln!("(trace locked)"),
                    }
                }
                std::process::abort();
            }
        });
        SeedWatch {
            seed,
            since,
            _stop: stop,
        }
    }

    fn begin(&self, seed: u64) {
        self.seed.store(seed, SeqCst);
        *lock(&self.since) = Instant::now();
    }
}

#[test]
fn channels_and_locks_under_kills_and_timeouts() {
    drive("GREEN_STRESS", 200, run_seed);
}

// ===========================================================================
// The second program: gevent's queues, semaphores, the barrier, the
// `AsyncResult` and the pools, under kills and timeouts.
//
// `GREEN_STRESS2_SEEDS=n` runs seeds `0..n` (default 150; with
// `GREEN_STRESS2_FIRST=k`, seeds `k..k+n`), `GREEN_STRESS2_SEED=s` replays
// seed `s` alone and prints its script and trace.
//
// An actor's waits have a deadline (a `_timeout` variant, or a
// `green::timeout` around the waiting call) or none (greenlets only); kills
// hit anywhere. Once every actor is done or blocked without a deadline, the
// program is checked for stalls (a getter blocked on a queue with items, a
// putter on one with room, an acquirer while permits are free, a getter of
// a set result, `parties` waiters at the barrier), then each hub kills its
// actors left. Checked:
//
// - the queue: a value whose put returned is got exactly once (by an actor
//   or the final drain), one whose put failed is never got and came back in
//   the error, one whose putter was unwound mid-put at most once; a bounded
//   queue never holds more than its capacity; every item got is marked done
//   (a getter's guard does it, even unwinding), so that the final `join`
//   returns at once;
// - the semaphores: never more holders than permits, and all permits free
//   at the end (none lost with an acquirer killed while it waited or held
//   one); the bounded one refuses a release past its count;
// - the barrier: each release has one leader, and the waits that returned
//   (not the leader) are at most `parties - 1` per release and at least
//   that minus the waits unwound (a release stands for an unwound waiter it
//   reached first); afterwards `parties` fresh waiters pass together with
//   one leader (no arrival of a withdrawn waiter is left behind);
// - the `AsyncResult`: set once; every outcome got is that value; a
//   `try_get` or `get_timeout` that began after the set returned got it;
// - the pools: `map` and `imap` give every result in order,
//   `imap_unordered` each once, unless another greenlet kills the pool
//   under them: then they panic saying a call was killed (the greenlet
//   that iterates neither hangs nor unwinds as if killed itself); never
//   more calls inside than the pool's size; a group or pool killed is
//   empty with every slot free; a member killed is finished; a
//   `join_timeout` that says all finished leaves the group empty.

use green::event::AsyncResult;
use green::lock::{BoundedSemaphore, Semaphore};
use green::pool::{Group, Pool};
use green::queue::{Full, LifoQueue, PriorityQueue, Queue};
use green::sync::Barrier;

#[derive(Clone, Copy, Debug)]
enum Wait2 {
    Try,
    Timed(Duration),
    /// `green::timeout` around the blocking call (greenlets only).
    Green(Duration),
    /// The blocking call (greenlets only): once every actor is done or
    /// blocked, the program is checked for stalls, then the blocked ones
    /// are killed.
    Block,
}

#[derive(Clone, Debug)]
enum Op2 {
    Put(Wait2),
    Get(Wait2, Hold),
    Acquire {
        bounded: bool,
        wait: Wait2,
        hold: Hold,
        forget: bool,
    },
    /// `None`: without a deadline.
    BarrierWait(Option<Duration>),
    ResultSet,
    ResultGet(Wait2),
    QueueJoin(Duration),
    /// `map`, `imap` or `imap_unordered` (`mode` 0, 1, 2) by a greenlet
    /// of its own, the pool killed by another after `kill` yields.
    PoolMap {
        size: usize,
        items: usize,
        mode: usize,
        hold: Hold,
        kill: Option<usize>,
    },
    GroupKill {
        members: usize,
        pool: Option<usize>,
        kill_one: usize,
        join: Duration,
        hold: Hold,
    },
    Yield,
    Sleep(Duration),
}

#[derive(Clone, Copy, Debug)]
enum QFlavour {
    Fifo,
    Lifo,
    Priority,
}

#[derive(Clone, Debug)]
struct Program2 {
    flavour: QFlavour,
    cap: Option<usize>,
    permits: usize,
    parties: usize,
    actors: Vec<ActorSpec2>,
    kills: [Vec<(Pause, usize)>; 2],
}

#[derive(Clone, Debug)]
struct ActorSpec2 {
    place: Place,
    ops: Vec<Op2>,
}

impl Program2 {
    fn generate(seed: u64) -> Program2 {
        let mut rng = Rng(seed ^ 0x000A_110C_A7ED_5EED, false);
        rng.1 = rng.percent(30);
        let flavour = match rng.below(3) {
            0 => QFlavour::Fifo,
            1 => QFlavour::Lifo,
            _ => QFlavour::Priority,
        };
        let cap = rng.percent(60).then(|| rng.range(1, 3));
        let permits = rng.range(1, 3);
        let parties = rng.range(2, 4);
        let threads = rng.below(3);
        let greenlets = rng.range(8, 40) - threads;
        let mut actors = Vec::new();
        for i in 0..greenlets + threads {
            let place = if i < greenlets {
                Place::Hub(rng.below(2))
            } else {
                Place::Thread
            };
            let len = rng.range(1, if rng.1 { 25 } else { 10 });
            let ops = (0..len)
                .map(|_| Self::op(&mut rng, place != Place::Thread))
                .collect();
            actors.push(ActorSpec2 { place, ops });
        }
        let mut kills: [Vec<(Pause, usize)>; 2] = Default::default();
        for (hub, list) in kills.iter_mut().enumerate() {
            let mine = actors.iter().filter(|a| a.place == Place::Hub(hub)).count();
            if mine == 0 {
                continue;
            }
            for _ in 0..rng.below(mine / 2 + 2) {
                let pause = match rng.below(10) {
                    0..=3 => Pause::Yields(rng.below(6)),
                    _ => Pause::Sleep(rng.short()),
                };
                list.push((pause, rng.below(mine)));
            }
        }
        Program2 {
            flavour,
            cap,
            permits,
            parties,
            actors,
            kills,
        }
    }

    fn wait(rng: &mut Rng, greenlet: bool) -> Wait2 {
        match rng.below(if greenlet { 4 } else { 2 }) {
            0 => Wait2::Try,
            1 => Wait2::Timed(rng.short()),
            2 => Wait2::Green(rng.short()),
            _ => Wait2::Block,
        }
    }

    fn op(rng: &mut Rng, greenlet: bool) -> Op2 {
        loop {
            return match rng.below(20) {
                0..=3 => Op2::Put(Self::wait(rng, greenlet)),
                4..=6 => Op2::Get(Self::wait(rng, greenlet), Program::hold(rng)),
                7..=9 => Op2::Acquire {
                    bounded: rng.percent(50),
                    wait: Self::wait(rng, greenlet),
                    hold: Program::hold(rng),
                    forget: rng.percent(20),
                },
                10 | 11 if greenlet => Op2::BarrierWait(rng.percent(70).then(|| rng.short())),
                12 => Op2::ResultSet,
                13 => Op2::ResultGet(Self::wait(rng, greenlet)),
                14 if greenlet => Op2::QueueJoin(rng.short()),
                15 if greenlet => Op2::PoolMap {
                    size: rng.range(1, 3),
                    items: rng.below(8),
                    mode: rng.below(3),
                    hold: Program::hold(rng),
                    kill: rng.percent(40).then(|| rng.below(4)),
                },
                16 if greenlet => Op2::GroupKill {
                    members: rng.range(1, 5),
                    pool: rng.percent(50).then(|| rng.range(1, 3)),
                    kill_one: rng.below(6),
                    join: rng.short(),
                    hold: Program::hold(rng),
                },
                10 | 11 | 14..=16 => continue,
                17 => Op2::Yield,
                _ => Op2::Sleep(rng.short()),
            };
        }
    }

    fn describe(&self) -> String {
        let mut s = format!(
            "queue {:?} cap {:?}, permits {}, parties {}\n",
            self.flavour, self.cap, self.permits, self.parties
        );
        for (i, a) in self.actors.iter().enumerate() {
            let _ = writeln!(s, "a{i} {:?}: {:?}", a.place, a.ops);
        }
        for (hub, kills) in self.kills.iter().enumerate() {
            let _ = writeln!(s, "kills on hub {hub} (pause, local index): {kills:?}");
        }
        s
    }
}

enum AnyQueue {
    Fifo(Queue<u64>),
    Lifo(LifoQueue<u64>),
    Priority(PriorityQueue<u64>),
}

macro_rules! on_queue {
    ($q:expr, $x:ident => $e:expr) => {
        match $q {
            AnyQueue::Fifo($x) => $e,
            AnyQueue::Lifo($x) => $e,
            AnyQueue::Priority($x) => $e,
        }
    };
}

const RESULT: u64 = 0xA5A5;

#[derive(Default)]
struct Book2 {
    puts: HashMap<u64, Fate>,
    gots: HashMap<u64, usize>,
    /// Barrier: leaders, other waits returned, waits unwound.
    leaders: usize,
    followers: usize,
    withdrawn: usize,
}

struct World2 {
    start: Instant,
    queue: AnyQueue,
    cap: Option<usize>,
    permits: usize,
    sem: Semaphore,
    bsem: BoundedSemaphore,
    /// Holders of `sem` and `bsem`.
    inside: [AtomicUsize; 2],
    /// A permit forgotten and not yet given back when its actor unwound.
    lost_permit: [AtomicBool; 2],
    barrier: Barrier,
    parties: usize,
    result: AsyncResult<u64, u64>,
    result_claimed: AtomicBool,
    result_set: AtomicBool,
    left: AtomicUsize,
    /// Per actor: a `st2` state.
    states: Vec<AtomicU64>,
    /// Set by hub 0 once the program is quiet: each hub kills its actors.
    closing: AtomicBool,
    controllers_done: AtomicUsize,
    /// `task_done` calls unwound (by a kill) before they returned.
    task_done_cut: AtomicUsize,
    seq: AtomicU64,
    book: StdMutex<Book2>,
    trace: StdMutex<Vec<String>>,
    failures: StdMutex<Vec<String>>,
}

impl World2 {
    fn log(&self, who: &str, what: std::fmt::Arguments<'_>) {
        let t = self.start.elapsed().as_micros();
        lock(&self.trace).push(format!("{t:>7} {who} {what}"));
    }

    fn fail(&self, what: String) {
        self.log("FAIL", format_args!("{what}"));
        lock(&self.failures).push(what);
    }

    fn got(&self, who: &str, v: u64) {
        self.log(who, format_args!("got {v:#x}"));
        *lock(&self.book).gots.entry(v).or_default() += 1;
    }

    fn check_len(&self) {
        let len = on_queue!(&self.queue, q => q.len());
        if let Some(cap) = self.cap {
            if len > cap {
                self.fail(format!("the queue holds {len} > its capacity {cap}"));
            }
        }
    }
}

/// What an actor of the second program is doing.
mod st2 {
    pub const RUNNING: u64 = 0;
    pub const DONE: u64 = 1;
    pub const GET: u64 = 2;
    pub const PUT: u64 = 3;
    /// 4 + bounded.
    pub const ACQUIRE: u64 = 4;
    pub const RESULT: u64 = 6;
    pub const BARRIER: u64 = 7;
}

struct Actor2 {
    w: Arc<World2>,
    me: usize,
    name: String,
    green: bool,
}

/// Marks the end of an actor of the second program.
struct Ending2(Arc<World2>, String, usize);

impl Drop for Ending2 {
    fn drop(&mut self) {
        self.0.log(&self.1, format_args!("ends"));
        self.0.states[self.2].store(st2::DONE, SeqCst);
        self.0.left.fetch_sub(1, SeqCst);
    }
}

/// Runs `f` with the actor's state at `state`, then `RUNNING` again.
fn blocked<R>(w: &World2, me: usize, state: u64, f: impl FnOnce() -> R) -> R {
    w.states[me].store(state, SeqCst);
    let r = f();
    w.states[me].store(st2::RUNNING, SeqCst);
    r
}

/// Holds in a greenlet (`green`) or a plain thread.
fn do_hold(hold: Hold, green: bool) {
    match (hold, green) {
        (Hold::No, _) => {}
        (Hold::Yield, true) => green::yield_now(),
        (Hold::Yield, false) => std::thread::yield_now(),
        (Hold::Sleep(d), true) => green::sleep(d),
        (Hold::Sleep(d), false) => std::thread::sleep(d),
    }
}

impl Actor2 {
    /// Runs the script; `_end` is made before the greenlet is spawned, so
    /// that one killed before it started ends too.
    fn run(&self, ops: Vec<Op2>, _end: Ending2) {
        for (i, op) in ops.into_iter().enumerate() {
            self.w.log(&self.name, format_args!("op {i}: {op:?}"));
            self.op(op);
            self.w.check_len();
        }
        self.w.log(&self.name, format_args!("completed"));
    }

    fn op(&self, op: Op2) {
        let w = &*self.w;
        match op {
            Op2::Put(wait) => {
                let v = (self.me as u64) << 32 | w.seq.fetch_add(1, SeqCst);
                lock(&w.book).puts.insert(v, Fate::Pending);
                let r: Result<Result<(), Full<u64>>, _> = match wait {
                    Wait2::Try => Ok(on_queue!(&w.queue, q => q.try_put(v))),
                    Wait2::Timed(d) => Ok(on_queue!(&w.queue, q => q.put_timeout(v, d))),
                    Wait2::Green(d) => {
                        green::timeout(d, || on_queue!(&w.queue, q => q.put(v))).map(Ok)
                    }
                    Wait2::Block => {
                        blocked(w, self.me, st2::PUT, || on_queue!(&w.queue, q => q.put(v)));
                        Ok(Ok(()))
                    }
                };
                let fate = match r {
                    Ok(Ok(())) => Fate::Ok,
                    Ok(Err(Full(back))) => {
                        if back != v {
                            w.fail(format!("put {v:#x} failed and gave back {back:#x}"));
                        }
                        Fate::Failed
                    }
                    Err(_) => Fate::Maybe,
                };
                w.log(&self.name, format_args!("put {v:#x}: {fate:?}"));
                lock(&w.book).puts.insert(v, fate);
            }
            Op2::Get(wait, hold) => {
                let r = match wait {
                    Wait2::Try => on_queue!(&w.queue, q => q.try_get()).ok(),
                    Wait2::Timed(d) => on_queue!(&w.queue, q => q.get_timeout(d)).ok(),
                    Wait2::Green(d) => green::timeout(d, || on_queue!(&w.queue, q => q.get())).ok(),
                    Wait2::Block => Some(blocked(
                        w,
                        self.me,
                        st2::GET,
                        || on_queue!(&w.queue, q => q.get()),
                    )),
                };
                if let Some(v) = r {
                    w.got(&self.name, v);
                    // A kill that comes while `task_done` waits for the
                    // queue's lock (this guard dropped at the end of the
                    // block, not unwinding) unwinds out of it, undone:
                    // the end does it instead.
                    let _done = Defer(|| {
                        let done = Cell::new(false);
                        let _cut = Defer(|| {
                            if !done.get() {
                                w.log(&self.name, format_args!("task_done {v:#x} cut short"));
                                w.task_done_cut.fetch_add(1, SeqCst);
                            }
                        });
                        on_queue!(&w.queue, q => q.task_done());
                        done.set(true);
                    });
                    do_hold(hold, self.green);
                }
            }
            Op2::Acquire {
                bounded,
                wait,
                hold,
                forget,
            } => self.acquire(bounded, wait, hold, forget),
            Op2::BarrierWait(d) => {
                let returned = Cell::new(false);
                let _withdrawn = Defer(|| {
                    if !returned.get() {
                        lock(&w.book).withdrawn += 1;
                    }
                });
                let r = match d {
                    Some(d) => green::timeout(d, || w.barrier.wait()).ok(),
                    None => Some(blocked(w, self.me, st2::BARRIER, || w.barrier.wait())),
                };
                if let Some(r) = r {
                    returned.set(true);
                    let mut b = lock(&w.book);
                    if r.is_leader() {
                        b.leaders += 1;
                    } else {
                        b.followers += 1;
                    }
                    drop(b);
                    w.log(&self.name, format_args!("passed the barrier: {r:?}"));
                }
            }
            Op2::ResultSet => {
                if !w.result_claimed.swap(true, SeqCst) {
                    w.result.set(Ok(RESULT));
                    w.result_set.store(true, SeqCst);
                    w.log(&self.name, format_args!("set the result"));
                }
            }
            Op2::ResultGet(wait) => {
                let before = w.result_set.load(SeqCst);
                let r = match wait {
                    Wait2::Try => w.result.try_get(),
                    Wait2::Timed(d) => w.result.get_timeout(d),
                    Wait2::Green(d) => green::timeout(d, || w.result.get()).ok(),
                    Wait2::Block => Some(blocked(w, self.me, st2::RESULT, || w.result.get())),
                };
                match r {
                    Some(Ok(RESULT)) => {}
                    None if !before || matches!(wait, Wait2::Green(_)) => {}
                    r => w.fail(format!(
                        "{}: {wait:?} on the result got {r:?} (set before: {before})",
                        self.name
                    )),
                }
            }
            Op2::QueueJoin(d) => {
                let r = green::timeout(d, || on_queue!(&w.queue, q => q.join()));
                w.log(&self.name, format_args!("join: {}", r.is_ok()));
            }
            Op2::PoolMap {
                size,
                items,
                mode,
                hold,
                kill,
            } => self.pool_map(size, items, mode, hold, kill),
            Op2::GroupKill {
                members,
                pool,
                kill_one,
                join,
                hold,
            } => self.group_kill(members, pool, kill_one, join, hold),
            Op2::Yield => do_hold(Hold::Yield, self.green),
            Op2::Sleep(d) => do_hold(Hold::Sleep(d), self.green),
        }
    }

    fn acquire(&self, bounded: bool, wait: Wait2, hold: Hold, forget: bool) {
        let w = &*self.w;
        let i = bounded as usize;
        macro_rules! take {
            ($s:expr) => {
                match wait {
                    Wait2::Try => $s.try_acquire(),
                    Wait2::Timed(d) => $s.acquire_timeout(d),
                    Wait2::Green(d) => green::timeout(d, || $s.acquire()).ok(),
                    Wait2::Block => Some(blocked(w, self.me, st2::ACQUIRE + i as u64, || {
                        $s.acquire()
                    })),
                }
            };
        }
        let permit = if bounded { take!(w.bsem) } else { take!(w.sem) };
        let Some(permit) = permit else { return };
        let n = w.inside[i].fetch_add(1, SeqCst) + 1;
        if n > w.permits {
            w.fail(format!(
                "{}: {n} holders of the {} semaphore of {} permits",
                self.name,
                if bounded { "bounded" } else { "plain" },
                w.permits
            ));
        }
        let _out = Defer(|| {
            w.inside[i].fetch_sub(1, SeqCst);
        });
        do_hold(hold, self.green);
        if forget {
            let back = Cell::new(false);
            let _lost = Defer(|| {
                if !back.get() {
                    w.lost_permit[i].store(true, SeqCst);
                }
            });
            w.inside[i].fetch_sub(1, SeqCst);
            std::mem::forget(_out);
            permit.forget();
            if bounded {
                if let Err(e) = w.bsem.release() {
                    w.fail(format!(
                        "{}: release of a forgotten permit: {e:?}",
                        self.name
                    ));
                }
            } else {
                w.sem.add_permits(1);
            }
            back.set(true);
        }
    }

    fn pool_map(&self, size: usize, items: usize, mode: usize, hold: Hold, kill: Option<usize>) {
        let w = self.w.clone();
        let running = Rc::new(Cell::new(0usize));
        let pool = Rc::new(Pool::new(size));
        let r = running.clone();
        let name = self.name.clone();
        let f = move |x: usize| {
            r.set(r.get() + 1);
            if r.get() > size {
                w.fail(format!("{name}: {} calls inside a pool of {size}", r.get()));
            }
            let r2 = r.clone();
            let _out = Defer(move || r2.set(r2.get() - 1));
            do_hold(hold, true);
            x * 2 + 1
        };
        let want: Vec<usize> = (0..items).map(|x| x * 2 + 1).collect();
        let w = &*self.w;
        let p = pool.clone();
        let consumer = green::spawn(move || match mode {
            0 => p.map(f, 0..items),
            1 => p.imap(f, 0..items).collect(),
            _ => {
                let mut got: Vec<usize> = p.imap_unordered(f, 0..items).collect();
                got.sort_unstable();
                got
            }
        });
        let killer = kill.map(|n| {
            let p = pool.clone();
            green::spawn(move || {
                (0..n).for_each(|_| green::yield_now());
                p.kill();
            })
        });
        let what = ["map", "imap", "imap_unordered"][mode];
        match consumer.join() {
            Ok(got) if got == want => {}
            Ok(got) => w.fail(format!("{}: {what} gave {got:?}", self.name)),
            Err(e) if e.is_killed() => w.fail(format!(
                "{}: the greenlet of {what} unwound as if killed",
                self.name
            )),
            Err(e) => {
                let msg = util::panic_message(&*e.into_panic());
                if kill.is_none() || !msg.contains("a call was killed") {
                    w.fail(format!("{}: {what} panicked: {msg}", self.name));
                }
            }
        }
        if let Some(k) = killer {
            let _ = k.join();
            // Calls that the consumer spawned after the kill, and those
            // in flight when a killed one's panic came out, run on.
            pool.kill();
        }
        if running.get() != 0 || !pool.is_empty() || pool.free_count() != size {
            w.fail(format!(
                "{}: after the {what}, {} inside, {} members, {} free of {size}",
                self.name,
                running.get(),
                pool.len(),
                pool.free_count()
            ));
        }
    }

    fn group_kill(
        &self,
        members: usize,
        pool: Option<usize>,
        kill_one: usize,
        join: Duration,
        hold: Hold,
    ) {
        let w = &*self.w;
        let running = Rc::new(Cell::new(0usize));
        let group = Group::new();
        let p = pool.map(Pool::new);
        let mut handles = Vec::new();
        for _ in 0..members {
            let r = running.clone();
            let ww = self.w.clone();
            let name = self.name.clone();
            let f = move || {
                r.set(r.get() + 1);
                if let Some(size) = pool {
                    if r.get() > size {
                        ww.fail(format!(
                            "{name}: {} members inside a pool of {size}",
                            r.get()
                        ));
                    }
                }
                let r2 = r.clone();
                let _out = Defer(move || r2.set(r2.get() - 1));
                do_hold(hold, true);
                do_hold(hold, true);
            };
            handles.push(match &p {
                Some(p) => p.spawn(f),
                None => group.spawn(f),
            });
        }
        if let Some(h) = handles.get(kill_one) {
            h.kill();
            if !h.is_finished() {
                w.fail(format!("{}: a member killed is not finished", self.name));
            }
        }
        match &p {
            Some(p) => {
                p.kill();
                if !p.is_empty() || p.free_count() != pool.unwrap_or(0) {
                    w.fail(format!(
                        "{}: a pool killed has {} members, {} free",
                        self.name,
                        p.len(),
                        p.free_count()
                    ));
                }
            }
            None => {
                if group.join_timeout(join) && !group.is_empty() {
                    w.fail(format!(
                        "{}: join_timeout said all finished, {} left",
                        self.name,
                        group.len()
                    ));
                }
                group.kill();
                if !group.is_empty() {
                    w.fail(format!(
                        "{}: a group killed has {} members",
                        self.name,
                        group.len()
                    ));
                }
            }
        }
        if running.get() != 0 {
            w.fail(format!(
                "{}: {} members inside after the kill",
                self.name,
                running.get()
            ));
        }
        for (k, h) in handles.into_iter().enumerate() {
            match h.join() {
                Ok(()) => {}
                Err(e) if e.is_killed() => {}
                Err(_) => w.fail(format!("{}: member {k} panicked", self.name)),
            }
        }
    }
}

fn run_program2(p: &Program2) -> Arc<World2> {
    let queue = match (p.flavour, p.cap) {
        (QFlavour::Fifo, None) => AnyQueue::Fifo(Queue::unbounded()),
        (QFlavour::Fifo, Some(c)) => AnyQueue::Fifo(Queue::bounded(c)),
        (QFlavour::Lifo, None) => AnyQueue::Lifo(LifoQueue::unbounded()),
        (QFlavour::Lifo, Some(c)) => AnyQueue::Lifo(LifoQueue::bounded(c)),
        (QFlavour::Priority, None) => AnyQueue::Priority(PriorityQueue::unbounded()),
        (QFlavour::Priority, Some(c)) => AnyQueue::Priority(PriorityQueue::bounded(c)),
    };
    let world = Arc::new(World2 {
        start: Instant::now(),
        queue,
        cap: p.cap,
        permits: p.permits,
        sem: Semaphore::new(p.permits),
        bsem: BoundedSemaphore::new(p.permits),
        inside: Default::default(),
        lost_permit: Default::default(),
        barrier: Barrier::new(p.parties),
        parties: p.parties,
        result: AsyncResult::new(),
        result_claimed: AtomicBool::new(false),
        result_set: AtomicBool::new(false),
        left: AtomicUsize::new(p.actors.len()),
        task_done_cut: AtomicUsize::new(0),
        states: p
            .actors
            .iter()
            .map(|_| AtomicU64::new(st2::RUNNING))
            .collect(),
        closing: AtomicBool::new(false),
        controllers_done: AtomicUsize::new(0),
        seq: AtomicU64::new(0),
        book: StdMutex::new(Book2::default()),
        trace: StdMutex::new(Vec::new()),
        failures: StdMutex::new(Vec::new()),
    });
    let actor = |me: usize, green: bool| Actor2 {
        w: world.clone(),
        me,
        name: format!("a{me}"),
        green,
    };
    let mut threads = Vec::new();
    for (me, a) in p.actors.iter().enumerate() {
        if a.place == Place::Thread {
            let (act, ops) = (actor(me, false), a.ops.clone());
            let end = Ending2(world.clone(), format!("a{me}"), me);
            threads.push(std::thread::spawn(move || act.run(ops, end)));
        }
    }
    let mut per_hub: [Vec<(usize, Actor2, Vec<Op2>)>; 2] = Default::default();
    for (me, a) in p.actors.iter().enumerate() {
        if let Place::Hub(h) = a.place {
            per_hub[h].push((me, actor(me, true), a.ops.clone()));
        }
    }
    let hubs: Arc<StdMutex<Vec<_>>> = Arc::new(StdMutex::new(
        per_hub
            .into_iter()
            .zip(p.kills.clone())
            .map(|(a, k)| Some((a, k)))
            .collect(),
    ));
    let w = world.clone();
    green::Runtime::new().hubs(2).run(move |hub| {
        let (actors, kills) = lock(&hubs)[hub].take().expect("this hub's actors");
        let w = w.clone();
        let mut ids = Vec::new();
        let mut handles = Vec::new();
        for (me, act, ops) in actors {
            ids.push(me);
            let end = Ending2(w.clone(), format!("a{me}"), me);
            handles.push(green::spawn(move || act.run(ops, end)));
        }
        let handles = Rc::new(handles);
        let controller = {
            let (handles, w) = (handles.clone(), w.clone());
            green::spawn(move || {
                for (pause, target) in kills {
                    match pause {
                        Pause::Sleep(d) => green::sleep(d),
                        Pause::Yields(n) | Pause::UntilBlocked(n) => {
                            (0..n).for_each(|_| green::yield_now())
                        }
                    }
                    w.log(
                        &format!("kill{hub}"),
                        format_args!("kills a{}", ids[target]),
                    );
                    handles[target].kill();
                }
                w.controllers_done.fetch_add(1, SeqCst);
            })
        };
        let _ = controller.join();
        if hub == 0 {
            quiesce2(&w);
        }
        let start = Instant::now();
        while !w.closing.load(SeqCst) {
            if start.elapsed() > Duration::from_secs(30) {
                w.fail(format!("hub {hub}: not closed after 30 s"));
                break;
            }
            green::sleep(Duration::from_micros(200));
        }
        // Every actor left is blocked (or the program failed already).
        handles.iter().for_each(|h| h.kill());
        let start = Instant::now();
        while w.left.load(SeqCst) != 0 {
            if start.elapsed() > Duration::from_secs(20) {
                w.fail(format!(
                    "hub {hub}: {} actors not ended after 20 s",
                    w.left.load(SeqCst)
                ));
                handles.iter().for_each(|h| h.kill());
                break;
            }
            green::sleep(Duration::from_micros(200));
        }
        let handles = Rc::try_unwrap(handles).unwrap_or_else(|_| panic!("the handles are ours"));
        for h in handles {
            if let Err(e) = h.join() {
                if !e.is_killed() {
                    w.fail(format!(
                        "an actor on hub {hub} panicked: {}",
                        util::panic_message(&*e.into_panic())
                    ));
                }
            }
        }
        if hub == 0 {
            finish2(&w);
        }
    });
    for t in threads {
        if let Err(e) = t.join() {
            world.fail(format!(
                "a thread actor panicked: {}",
                util::panic_message(&*e)
            ));
        }
    }
    world
}

/// An actor blocked although it could go on, if any.
fn stalled2(w: &World2) -> Option<String> {
    let mut at_barrier = Vec::new();
    for (a, s) in w.states.iter().enumerate() {
        let why = match s.load(SeqCst) {
            st2::GET if !on_queue!(&w.queue, q => q.is_empty()) => "gets from a queue with items",
            st2::PUT if !on_queue!(&w.queue, q => q.is_full()) => "puts to a queue with room",
            st2::ACQUIRE if w.sem.available_permits() > 0 => "waits for a free permit",
            5 if w.bsem.available_permits() > 0 => "waits for a free bounded permit",
            st2::RESULT if w.result.ready() => "waits for a result that is set",
            st2::BARRIER => {
                at_barrier.push(a);
                continue;
            }
            _ => continue,
        };
        return Some(format!("a{a} {why}"));
    }
    (at_barrier.len() >= w.parties)
        .then(|| format!("{at_barrier:?} wait at a barrier of {}", w.parties))
}

/// Hub 0: waits until every actor is done or blocked, checks for stalls,
/// and closes the program.
fn quiesce2(w: &World2) {
    let start = Instant::now();
    let mut stall_since: Option<Instant> = None;
    loop {
        let quiet = w.controllers_done.load(SeqCst) == 2
            && w.states.iter().all(|s| s.load(SeqCst) != st2::RUNNING);
        if quiet {
            match stalled2(w) {
                None => break,
                Some(why) => {
                    let since = *stall_since.get_or_insert_with(Instant::now);
                    if since.elapsed() > STALL_LIMIT {
                        w.fail(format!("stalled for {STALL_LIMIT:?}: {why}"));
                        break;
                    }
                }
            }
        } else {
            stall_since = None;
        }
        if start.elapsed() > QUIESCE_LIMIT {
            w.fail(format!("no quiescence after {QUIESCE_LIMIT:?}"));
            break;
        }
        green::sleep(Duration::from_micros(200));
    }
    w.log("coord", format_args!("closing"));
    w.closing.store(true, SeqCst);
}

/// Hub 0, once every actor has ended: drains the queue, tries the
/// barrier with fresh waiters, sets the result if nobody did.
fn finish2(w: &Arc<World2>) {
    while let Ok(v) = on_queue!(&w.queue, q => q.try_get()) {
        w.got("drain", v);
        on_queue!(&w.queue, q => q.task_done());
    }
    for _ in 0..w.task_done_cut.load(SeqCst) {
        on_queue!(&w.queue, q => q.task_done());
    }
    if green::timeout(
        Duration::from_secs(2),
        || on_queue!(&w.queue, q => q.join()),
    )
    .is_err()
    {
        w.fail("the queue's join waits with every item got and done".into());
    }
    let waiters: Vec<_> = (0..w.parties)
        .map(|_| {
            let w = w.clone();
            green::spawn(move || {
                green::timeout(Duration::from_secs(2), || w.barrier.wait().is_leader())
            })
        })
        .collect();
    let outcomes: Vec<_> = green::joinall(waiters)
        .into_iter()
        .map(|r| r.expect("a fresh barrier waiter").ok())
        .collect();
    let leaders = outcomes.iter().filter(|o| **o == Some(true)).count();
    if outcomes.iter().any(Option::is_none) || leaders != 1 {
        w.fail(format!(
            "{} fresh waiters of the barrier: {outcomes:?} (Some(leader), None: timed out)",
            w.parties
        ));
    }
    if !w.result.ready() {
        w.result.set(Ok(RESULT));
    }
    if w.result.get() != Ok(RESULT) {
        w.fail("the result changed".into());
    }
}

fn check2(w: &World2) {
    let book = lock(&w.book);
    for (&v, &n) in &book.gots {
        let ok = match book.puts.get(&v) {
            None => false,
            Some(Fate::Ok) => n == 1,
            Some(Fate::Failed) => false,
            Some(Fate::Pending | Fate::Maybe) => n <= 1,
        };
        if !ok {
            w.fail(format!("{v:#x} ({:?}) got {n} times", book.puts.get(&v)));
        }
    }
    for (&v, &fate) in &book.puts {
        if fate == Fate::Ok && !book.gots.contains_key(&v) {
            w.fail(format!("{v:#x} put and never got"));
        }
    }
    let per = book.leaders * (w.parties - 1);
    if book.followers > per || book.followers + book.withdrawn < per {
        w.fail(format!(
            "barrier of {}: {} leaders, {} others passed, {} unwound",
            w.parties, book.leaders, book.followers, book.withdrawn
        ));
    }
    for (i, name) in ["plain", "bounded"].iter().enumerate() {
        let free = if i == 0 {
            w.sem.available_permits()
        } else {
            w.bsem.available_permits()
        };
        let lost = w.lost_permit[i].load(SeqCst);
        if free != w.permits && !(lost && free < w.permits) {
            w.fail(format!(
                "the {name} semaphore has {free} free permits of {} at the end",
                w.permits
            ));
        }
    }
    if w.bsem.available_permits() == w.permits && w.bsem.release().is_ok() {
        w.fail("the bounded semaphore took a release past its count".into());
    }
}

fn run_seed2(seed: u64, verbose: bool) {
    let p = Program2::generate(seed);
    if verbose {
        eprintln!("seed {seed}:\n{}", p.describe());
    }
    let w = run_program2(&p);
    check2(&w);
    report(
        seed,
        "GREEN_STRESS2",
        &w.failures,
        &w.trace,
        &p.describe(),
        verbose,
    );
}

#[test]
fn queues_semaphores_barrier_result_and_pools_under_kills_and_timeouts() {
    drive("GREEN_STRESS2", 150, run_seed2);
}
