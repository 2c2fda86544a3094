//! Scaffolding shared by the reactor's integration tests (`mod common;`):
//! calling a request and waiting for its reply within a bound, the open
//! descriptor count, the lock that serialises descriptor-counting tests, and
//! the reply checks and id pools of the model tests (`lifecycle.rs`,
//! `ws_lifecycle.rs`).

// Each test binary uses only part of this module.
#![allow(dead_code)]

use proptest::test_runner::TestCaseError;
use rco_reactor::{ListenerInfo, Policy, Reactor, Reply, ReplyFn, SocketError};
use std::sync::mpsc;
use std::sync::{Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

/// Short waits: every timeout a model expects costs this much.
pub const SHORT_MS: u64 = 20;
/// The timeout of a wait that a model expects to end at once.
pub const PATIENT_MS: u64 = 2_000;
/// How long a reply may take before a test calls it a hang.
pub const REPLY_LIMIT: Duration = Duration::from_secs(5);
/// An id no test ever reaches.
pub const UNKNOWN_ID: u64 = 1_000_000;

/// How a model test's reactor runs.
#[derive(Clone, Copy, Debug)]
pub struct Setup {
    /// Polled as in production (`Reactor::start_polled`, two stand-in
    /// workers) instead of by a thread of its own.
    pub polled: bool,
    /// With an allow-list admitting only `ALLOWED` (the hosts the models
    /// use), instead of none.
    pub allow_list: bool,
}

/// The one host of the allow-list of `Setup::allow_list`.
pub const ALLOWED: &str = "127.0.0.1";
/// A loopback host the allow-list of `Setup::allow_list` refuses.
pub const REFUSED: &str = "127.0.0.2";

impl Setup {
    pub fn strategy() -> impl proptest::strategy::Strategy<Value = Setup> {
        use proptest::prelude::*;
        (any::<bool>(), any::<bool>()).prop_map(|(polled, allow_list)| Setup { polled, allow_list })
    }

    pub fn start(self, max_sockets: usize) -> Result<Reactor, TestCaseError> {
        let policy = Policy::new(self.allow_list.then(|| vec![ALLOWED.to_string()]));
        let reactor = if self.polled {
            Reactor::start_polled(policy, max_sockets, 2)
        } else {
            Reactor::start(policy, max_sockets)
        };
        reactor.map_err(|e| TestCaseError::fail(e.to_string()))
    }
}

/// Serialises the tests of one test binary (descriptor counts are per
/// process).
static SERIAL: Mutex<()> = Mutex::new(());

pub fn serial() -> MutexGuard<'static, ()> {
    SERIAL.lock().unwrap_or_else(PoisonError::into_inner)
}

/// Open file descriptors of this process (Linux: `/proc/self/fd`).
pub fn open_fds() -> usize {
    std::fs::read_dir("/proc/self/fd").map(|d| d.count()).unwrap_or(0)
}

/// Waits (at most 3 s) for the descriptor count to come back to `baseline`:
/// a resolver helper thread may drop its handle just after replying.
pub fn settle_fds(baseline: usize) -> usize {
    let deadline = Instant::now() + Duration::from_secs(3);
    loop {
        let now = open_fds();
        if now <= baseline || Instant::now() > deadline {
            return now;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// Starts a request that answers now or later; its reply is collected from
/// the receiver.
pub fn start(f: impl FnOnce(ReplyFn) -> Option<(ReplyFn, Reply)>) -> mpsc::Receiver<Reply> {
    let (tx, rx) = mpsc::channel();
    let reply: ReplyFn = Box::new(move |r| {
        let _ = tx.send(r);
    });
    if let Some((_, r)) = f(reply) {
        let (tx, rx) = mpsc::channel();
        let _ = tx.send(r);
        return rx;
    }
    rx
}

/// Calls a request that answers now or later and waits at most `limit` for
/// its reply; panics past that (a lost reply, a lost wake-up or a hang).
pub fn call_within(limit: Duration, f: impl FnOnce(ReplyFn) -> Option<(ReplyFn, Reply)>) -> Reply {
    start(f)
        .recv_timeout(limit)
        .unwrap_or_else(|_| panic!("no reply within {limit:?} (lost reply, lost wake-up or hang)"))
}

/// `call_within(REPLY_LIMIT, f)`.
pub fn call(f: impl FnOnce(ReplyFn) -> Option<(ReplyFn, Reply)>) -> Reply {
    call_within(REPLY_LIMIT, f)
}

/// The reply of a started request, within `REPLY_LIMIT`, as a proptest
/// result.
pub fn wait(rx: &mpsc::Receiver<Reply>) -> Result<Reply, TestCaseError> {
    rx.recv_timeout(REPLY_LIMIT).map_err(|_| TestCaseError::fail("no reply within 5 s (lost reply or hang)"))
}

/// `call`, as a proptest result instead of a panic.
pub fn try_call(f: impl FnOnce(ReplyFn) -> Option<(ReplyFn, Reply)>) -> Result<Reply, TestCaseError> {
    wait(&start(f))
}

pub fn error_of(reply: &Reply) -> Option<&SocketError> {
    match reply {
        Reply::Error(e) => Some(e),
        _ => None,
    }
}

/// The reply is the error `kind` with exactly `message`.
pub fn expect_error(reply: &Reply, kind: &str, message: &str) -> Result<(), TestCaseError> {
    match error_of(reply) {
        Some(e) if e.kind == kind && e.message == message => Ok(()),
        _ => Err(TestCaseError::fail(format!("expected {kind}: {message}, got {reply:?}"))),
    }
}

pub fn expect_listener(reply: Reply) -> Result<ListenerInfo, TestCaseError> {
    match reply {
        Reply::Listener(l) => Ok(*l),
        other => Err(TestCaseError::fail(format!("expected a listener snapshot, got {other:?}"))),
    }
}

/// The ids a model test picks from: `favoured` ones (repeated as often as
/// they should weigh), then `retained` ones, every id handed out so far
/// (`0..next`, released ones included) and ids that never existed.
pub fn id_pool(favoured: Vec<u64>, retained: impl Iterator<Item = u64>, next: u64) -> Vec<u64> {
    let mut ids = favoured;
    ids.extend(retained);
    ids.extend(0..next);
    ids.extend([next, UNKNOWN_ID]);
    ids
}

/// A registry listing matches a model: its ids are `want` in ascending order
/// (`what` names them in the failure), and `check` accepts every entry.
pub fn check_listing<T>(
    what: &str,
    listing: &[T],
    id: impl Fn(&T) -> u64,
    want: impl Iterator<Item = u64>,
    check: impl Fn(&T) -> Result<(), TestCaseError>,
) -> Result<(), TestCaseError> {
    let ids: Vec<u64> = listing.iter().map(id).collect();
    let want: Vec<u64> = want.collect();
    proptest::prop_assert_eq!(ids, want, "{} ids (ascending)", what);
    listing.iter().try_for_each(check)
}
