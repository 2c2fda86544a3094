//! The reactor: one event loop that owns every socket and every timer,
//! built on `polling` (epoll on Linux, kqueue on BSD and macOS; on Linux
//! the wait itself is our own, `poller.rs`).
//!
//! It knows nothing of the language or of actors. Requests are method calls
//! on a `ReactorHandle` from any thread: what can be answered at once is
//! answered at once, by value; otherwise the request is queued on its
//! socket with a deadline and answered later, by whichever thread polls,
//! through the `ReplyFn` its `Replier` made (the glue's reply posts a
//! message to the waiting actor). Each socket is behind a lock of its own;
//! the state lock holds only the registries and the timers (see `State`).
//! Every bind and connect is checked against the host allow-list here.
//!
//! The reactor is a structure, not a thread: [`Net::poll`] handles the next
//! batch of what its last wait reported ready, waiting again only once all
//! of it was handled. Either a thread of its own loops on it
//! ([`Reactor::start`]) or the scheduler's idle worker calls it
//! ([`Reactor::without_thread`]), so that the actor a reply wakes runs on
//! the thread that received the event, with no cross-thread hop.
//!
//! Invariants: at most one thread polls at a time and blocks only in
//! `Poller::wait`; a timer due before the deadline the poller sleeps until
//! notifies it (interest changes need no notification: epoll and kqueue see
//! them during a wait), so no deadline is missed while it sleeps; a poll
//! with ready sockets left from its last wait does not wait; replies and
//! timer callbacks run outside every lock, each socket's delivered before
//! the next socket is handled. The TCP connections' records of a batch are
//! looked up together under one lock, each asked for (`hint.rs`) before
//! the first is counted: a hint, nothing depends on it. Listeners listen
//! with a backlog of `LISTEN_BACKLOG`. A request's token is unique in the
//! process (`token`: each thread hands out a block of its own).

mod backlog;
mod connect;
mod hint;
mod link;
pub mod policy;
mod poller;
mod registered;
mod registry;
mod resolve;
mod tcp;
pub mod timer;
mod tls;
pub mod types;
mod waiters;
mod ws;

use std::io;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

pub use hint::{prefetch, prefetch_counted};
pub use policy::Policy;
pub(crate) use registry::{hold, share, share_lasting, Alarm, Record, Registry, Shared};
pub use timer::{Callback, Timers};
pub use types::{
    Chunk, ConnIdentity, ConnIdentityRef, ConnInfo, ListenerInfo, RecordHint, Replier, Reply, ReplyFn, SocketError,
    Status, WsConnInfo, WsIdentity, WsIdentityRef, WsMessage,
};

/// How many ready sockets one waiting `poll` handles. The replies of a batch wake
/// their tasks, which the polling worker runs before it handles the next
/// batch (without another wait): each task then finds its connection, its
/// mailbox and its read's data still in the cache. Handling all of a
/// wait's hundreds at once, a task ran after its socket's state was
/// evicted by the others' (bench/tcp/ab.sh, 1,000 connections, 5 runs
/// each: user CPU per round trip 2.89 -> 2.60 µs, a tenth less). A poll
/// that must not wait (a busy worker's, `Some(Duration::ZERO)`) handles
/// every socket left: its tasks go to a queue anyway, and a busy worker
/// polls only every 61 picks or millisecond, so 8 at a time would leave
/// sockets waiting behind a long backlog.
const BATCH: usize = 8;

/// The listen backlog: connections the kernel completes before they are
/// accepted. `std` listens with 128, which a burst of connections
/// overflows; their clients then wait for SYN retransmits (a second, then
/// three). The kernel caps it at `net.core.somaxconn` (PERFORMANCE.md 4.9).
const LISTEN_BACKLOG: i32 = 4096;

/// Poller keys carry the registry in their low two bits and the id above.
pub(crate) const KIND_TCP_LISTENER: usize = 0;
pub(crate) const KIND_TCP_CONN: usize = 1;
pub(crate) const KIND_WS_LISTENER: usize = 2;
pub(crate) const KIND_WS_CONN: usize = 3;

/// The poller key of socket `id` in registry `kind`.
pub(crate) fn key(id: u64, kind: usize) -> usize {
    ((id as usize) << 2) | kind
}

/// An error reply.
pub(crate) fn err(kind: &'static str, message: impl Into<String>) -> Reply {
    Reply::Error(SocketError::new(kind, message))
}

/// The allow-list denial of `word` (a `PermissionError` Result).
pub(crate) fn denied(word: &str, host: &str) -> Reply {
    err("PermissionError", format!("host operation failed in {word}: socket host is not allowed: {host}"))
}

/// What a critical section completed, to finish once its locks are
/// released: replies to deliver, the waiters they answer (whose timers are
/// then cancelled) and the alarms of ended connections; during a request,
/// the answer to that request itself, returned by value.
#[derive(Default)]
pub(crate) struct Completed {
    replies: Vec<(ReplyFn, Reply)>,
    answered: Vec<u64>,
    /// Alarms of connections that ended (`registry::Alarm`).
    silenced: Vec<timer::TimerId>,
    /// The token of the request being made (0, which no waiter has: none).
    own: u64,
    own_answer: Option<Reply>,
}

impl Completed {
    pub(crate) fn new() -> Completed {
        Completed::default()
    }

    /// Answers waiter `token` with `value`. The request being made gets its
    /// answer back by value: no reply runs for it (for a task, no message
    /// and no wake-up), and it has no timer yet. Any other waiter has its
    /// reply function (`None`: answered already).
    pub(crate) fn answer(&mut self, token: u64, reply: Option<ReplyFn>, value: Reply) {
        if self.queue(token, reply, value) {
            self.answered.push(token);
        }
    }

    /// Answers waiter `token` of a connection, as `answer` does: its
    /// timeout is its socket's alarm (`registry::Alarm`), never a timer of
    /// its own, so there is no timer to cancel (no state lock is taken for
    /// it).
    pub(crate) fn answer_alarmed(&mut self, token: u64, reply: Option<ReplyFn>, value: Reply) {
        self.queue(token, reply, value);
    }

    /// Keeps `value` as the answer to the request being made, or queues it
    /// for `reply`; whether it was queued.
    fn queue(&mut self, token: u64, reply: Option<ReplyFn>, value: Reply) -> bool {
        if token == self.own && self.own_answer.is_none() {
            self.own_answer = Some(value);
            return false;
        }
        debug_assert!(reply.is_some(), "a waiter without a reply function");
        let Some(reply) = reply else { return false };
        self.replies.push((reply, value));
        true
    }

    /// Cancels `timer` once the socket's lock is released.
    pub(crate) fn silence(&mut self, timer: timer::TimerId) {
        self.silenced.push(timer);
    }

    /// Cancels the timers of the answered waiters and the silenced alarms
    /// (under the state lock).
    fn cancel_timers(&mut self, state: &mut State) {
        for token in self.answered.drain(..) {
            if let Some(timer) = state.timer_of.remove(&token) {
                state.timers.cancel(timer);
            }
        }
        for timer in self.silenced.drain(..) {
            state.timers.cancel(timer);
        }
    }

    /// Delivers the replies (outside the lock).
    fn deliver(&mut self) {
        for (reply, value) in self.replies.drain(..) {
            reply(value);
        }
    }
}

/// What a timer does when it fires.
pub(crate) enum Action {
    /// Run a callback (`sleep`).
    Call(Callback),
    /// A waiter's timeout: answer it if it is still waiting.
    Expire { kind: usize, id: u64, token: u64 },
    /// The alarm of connection `id` (`registry::Alarm`): time out its
    /// waiters whose deadlines have passed.
    Alarm { kind: usize, id: u64 },
}

/// The registries (which socket has which id, the counts against the cap)
/// and the timers, behind the state lock. The sockets themselves are each
/// behind a lock of their own (`Shared`): the state lock is held only to
/// find, add or remove an entry, count, or arm and cancel timers, never
/// across a syscall, a handshake step or a frame's decoding.
///
/// Lock order: a socket's lock, then the state lock; never the other way,
/// and never two sockets' locks at once (a listener's handshakes are part
/// of the listener).
#[derive(Default)]
pub(crate) struct State {
    pub(crate) timers: Timers<Action>,
    /// The timer of each waiting request, by its token, so an answered
    /// waiter's timer is removed at once instead of lingering until it
    /// expires.
    pub(crate) timer_of: std::collections::HashMap<u64, timer::TimerId, TokenHash>,
    pub(crate) tcp: tcp::Tcp,
    pub(crate) ws: ws::Ws,
    /// Where the events of server handshakes go.
    pub(crate) handshakes: backlog::Handshakes,
    stopping: bool,
    /// While a thread blocks in `Poller::wait`: the deadline it sleeps
    /// until (`Some(None)`: no deadline).
    waiting: Option<Option<Instant>>,
    poller: Option<Arc<poller::Poller>>,
}

impl State {
    /// Adds a timer, waking the poller if it sleeps past `at`.
    fn add_timer(&mut self, at: Instant, action: Action) -> timer::TimerId {
        if self.waiting.is_some_and(|until| until.is_none_or(|until| at < until)) {
            self.waiting = None; // one notification is enough
            if let Some(poller) = &self.poller {
                poller.notify();
            }
        }
        self.timers.insert(at, action)
    }
}

/// Hashes a token, a number from a counter, by one multiplication (the
/// golden ratio's, which spreads consecutive numbers over the table): the
/// default SipHash cost more than the map's insert and remove together,
/// and no peer chooses a token.
#[derive(Clone, Copy, Default)]
pub(crate) struct TokenHash;

impl std::hash::BuildHasher for TokenHash {
    type Hasher = TokenHasher;

    fn build_hasher(&self) -> TokenHasher {
        TokenHasher(0)
    }
}

#[derive(Default)]
pub(crate) struct TokenHasher(u64);

impl std::hash::Hasher for TokenHasher {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 = (self.0.rotate_left(8) ^ u64::from(b)).wrapping_mul(0x9e37_79b9_7f4a_7c15);
        }
    }

    fn write_u64(&mut self, n: u64) {
        self.0 = n.wrapping_mul(0x9e37_79b9_7f4a_7c15);
    }
}

/// The reactor's shared core.
pub struct Net {
    pub(crate) poller: Arc<poller::Poller>,
    state: Mutex<State>,
    pub(crate) policy: Policy,
    pub(crate) max_sockets: usize,
    /// The buffer of `Poller::wait`; holding its lock is the right to poll.
    events: Mutex<poller::Events>,
    /// The threads that resolve host names (`resolve.rs`).
    resolver: resolve::Pool,
    /// The lookup the pool runs: `resolve::lookup`, or a slow one in tests.
    lookup: resolve::Lookup,
    /// The configuration of TLS clients, made at the first TLS connect
    /// (`tls::client_config`).
    client_tls: std::sync::OnceLock<Result<Arc<rustls::ClientConfig>, String>>,
}

/// What the registries still hold, for the leak notes at exit.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Retained {
    pub tcp_listeners: Vec<u64>,
    pub tcp_connections: Vec<u64>,
    pub ws_listeners: Vec<u64>,
    pub ws_connections: Vec<u64>,
}

/// Tokens of requests (and of their timers) taken from this counter by
/// blocks of `TOKEN_BLOCK`, each block by one thread (see `token`).
static TOKENS: AtomicU64 = AtomicU64::new(0);

/// How many tokens a thread takes at once.
const TOKEN_BLOCK: u64 = 1024;

/// A fresh token for a request: never 0, never given twice in the process
/// (so never twice by one `Net`). Two requests are made per echoed message:
/// a thread hands them out from a block of its own, without an atomic
/// operation each (a locked instruction costs tens of cycles, on the
/// request's critical path).
pub(crate) fn token() -> u64 {
    thread_local! {
        /// The next token of this thread's block, and the block's end.
        static BLOCK: std::cell::Cell<(u64, u64)> = const { std::cell::Cell::new((0, 0)) };
    }
    BLOCK.with(|block| {
        let (mut next, mut end) = block.get();
        if next == end {
            next = TOKENS.fetch_add(TOKEN_BLOCK, Ordering::Relaxed) + 1;
            end = next + TOKEN_BLOCK;
        }
        block.set((next + 1, end));
        next
    })
}

impl Net {
    pub(crate) fn lock(&self) -> MutexGuard<'_, State> {
        // Every critical section leaves the registries consistent (entries
        // are inserted or removed whole); recover from a poisoned lock.
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Cancels the timers of the waiters `done` answered, then delivers its
    /// replies; no lock is held meanwhile.
    pub(crate) fn finish(&self, done: &mut Completed) {
        if !done.answered.is_empty() || !done.silenced.is_empty() {
            done.cancel_timers(&mut self.lock());
        }
        done.deliver();
    }

    /// Runs request `token` (a fresh token, which its waiter carries, with
    /// no reply function while `f` serves its socket): `f` gets the
    /// `replier` in a slot and takes it, to make the waiter's reply
    /// function, only if the request is left waiting. Its answer now (with
    /// the replier, untouched), whether `f` returned it or the request was
    /// answered while `f` served its socket; `None` while it waits. The
    /// other replies `f` completed are delivered afterwards, outside every
    /// lock.
    pub(crate) fn request<R: Replier>(
        &self,
        token: u64,
        replier: R,
        f: impl FnOnce(&mut Completed, &mut Option<R>) -> Option<Reply>,
    ) -> Option<(R, Reply)> {
        let mut done = Completed { own: token, ..Completed::new() };
        let mut slot = Some(replier);
        let early = f(&mut done, &mut slot);
        let answer = early.or_else(|| done.own_answer.take());
        self.finish(&mut done);
        debug_assert!(answer.is_none() || slot.is_some(), "an answered request made a reply function");
        answer.and_then(|answer| slot.map(|replier| (replier, answer)))
    }

    /// Runs `f`, then delivers the replies it completed.
    pub(crate) fn with_done<R>(&self, f: impl FnOnce(&mut Completed) -> R) -> R {
        let mut done = Completed::new();
        let r = f(&mut done);
        self.finish(&mut done);
        r
    }

    /// Arms the timeout of waiter `token` on socket `id` of registry `kind`
    /// (called with the socket's lock held: the timer exists before any
    /// event can answer the waiter and cancel it).
    pub(crate) fn arm_timer(&self, kind: usize, id: u64, token: u64, timeout: Duration) {
        self.arm(Instant::now() + timeout, Action::Expire { kind, id, token });
    }

    /// Adds a timer; the timer of a waiter replaces the one it had.
    pub(crate) fn arm(&self, at: Instant, action: Action) -> timer::TimerId {
        let token = match &action {
            Action::Expire { token, .. } => Some(*token),
            Action::Call(_) | Action::Alarm { .. } => None,
        };
        let mut state = self.lock();
        let timer = state.add_timer(at, action);
        if let Some(token) = token {
            if let Some(old) = state.timer_of.insert(token, timer) {
                state.timers.cancel(old);
            }
        }
        timer
    }

    /// Cancels `timer` (a no-op if it fired).
    pub(crate) fn cancel(&self, timer: timer::TimerId) {
        self.lock().timers.cancel(timer);
    }

    /// Applies the address policy to the addresses `host` resolved to, then
    /// binds the first that can be bound, non-blocking and registered under
    /// `key`; the error is the message of the listen's `*Error` kind.
    pub(crate) fn bind(
        &self,
        host: &str,
        addrs: &[std::net::SocketAddr],
        key: usize,
    ) -> Result<registered::Registered<std::net::TcpListener>, String> {
        self.policy.admit(host, addrs, false)?;
        let mut last = None;
        for addr in addrs {
            match std::net::TcpListener::bind(addr) {
                Ok(listener) => {
                    listener.set_nonblocking(true).map_err(|e| e.to_string())?;
                    // Listening again sets the backlog (see `LISTEN_BACKLOG`).
                    rustix::net::listen(&listener, LISTEN_BACKLOG).map_err(|e| e.to_string())?;
                    return registered::Registered::new(listener, self.poller.registry.clone(), key)
                        .map_err(|e| e.to_string());
                }
                Err(e) => last = Some(e.to_string()),
            }
        }
        Err(last.unwrap_or_else(|| "no socket addresses to bind".to_string()))
    }

    /// Runs `callback` on the polling thread once `delay` has passed.
    pub fn after(&self, delay: Duration, callback: Callback) {
        self.lock().add_timer(Instant::now() + delay, Action::Call(callback));
    }

    /// Handles the next `BATCH` sockets the last wait reported ready, or,
    /// when every one was handled, waits for readiness or the next timer, at
    /// most `timeout` (`None`: no limit but the timers), and handles the
    /// first `BATCH` it reports; then the expired timers. A poll with a zero
    /// `timeout` handles every ready socket (see `BATCH`). Their replies are
    /// delivered on this thread. One thread polls at a time (a second caller
    /// waits for the first to finish). Returns early on
    /// [`interrupt`](Net::interrupt) or when the reactor stops.
    pub fn poll(&self, timeout: Option<Duration>) {
        let mut events = self.events.lock().unwrap_or_else(PoisonError::into_inner);
        if !events.pending() && !self.wait(&mut events, timeout) {
            return;
        }
        let batch = if timeout == Some(Duration::ZERO) { usize::MAX } else { BATCH };
        self.handle_events(events.take(batch));
        let (mut expired, calls) = self.expire();
        self.finish(&mut expired);
        for call in calls {
            call();
        }
    }

    /// Waits for readiness or the next timer, at most `timeout`; false,
    /// without waiting, once the reactor stops.
    fn wait(&self, events: &mut poller::Events, timeout: Option<Duration>) -> bool {
        let wait = {
            let mut state = self.lock();
            if state.stopping {
                return false;
            }
            let now = Instant::now();
            let wait = match (timeout, state.timers.timeout(now)) {
                (Some(a), Some(b)) => Some(a.min(b)),
                (a, b) => a.or(b),
            };
            state.waiting = Some(wait.map(|d| now + d));
            wait
        };
        // An error (EINTR) only shortens the wait.
        let _ = self.poller.wait(events, wait);
        // Not waiting any more, whatever woke it (events, a timeout, an
        // interrupt): a timer added from now on needs no notification.
        self.lock().waiting = None;
        true
    }

    /// Makes the current or next [`poll`](Net::poll) return promptly
    /// (sticky, like an eventfd; it never blocks).
    pub fn interrupt(&self) {
        self.poller.notify();
    }

    /// The host allow-list this reactor enforces.
    pub fn policy(&self) -> &Policy {
        &self.policy
    }

    /// Retained (TCP connections, TCP listeners).
    pub fn tcp_counts(&self) -> (usize, usize) {
        let state = self.lock();
        (state.tcp.conns.len(), state.tcp.listeners.len())
    }

    /// Retained (WebSocket connections, WebSocket listeners).
    pub fn ws_counts(&self) -> (usize, usize) {
        let state = self.lock();
        (state.ws.conns.len(), state.ws.listeners.len())
    }

    /// The socket `id` of the registry `registry` picks, if retained.
    pub(crate) fn find<S: registry::Socket>(
        &self,
        registry: impl FnOnce(&State) -> &Registry<S>,
        id: u64,
    ) -> Option<Shared<S>> {
        registry(&self.lock()).get(id)
    }

    /// Closes every socket and reports what was still retained.
    pub fn close_all(&self) -> Retained {
        self.with_done(|done| {
            let (tcp_listeners, tcp_connections) = self.tcp_close_all(done);
            let (ws_listeners, ws_connections) = self.ws_close_all(done);
            Retained { tcp_listeners, tcp_connections, ws_listeners, ws_connections }
        })
    }

    /// Handles `events`, delivering each socket's replies before the next
    /// socket is looked at: they are read back while still in the cache,
    /// and their buffer is reused (kept for the whole batch, the replies of
    /// hundreds of sockets, it grew into fresh memory every poll: three
    /// cache-missing lines written per echo at 1,000 connections).
    /// The TCP connections' records of each `BATCH` are looked up together
    /// first (`tcp_conns_ahead`), so that their cache misses overlap.
    fn handle_events(&self, events: &[poller::Ready]) {
        let mut done = Completed::new();
        for group in events.chunks(BATCH) {
            let mut found: [Option<Shared<tcp::Conn>>; BATCH] = Default::default();
            self.tcp_conns_ahead(group, &mut found);
            for (&ev, found) in group.iter().zip(found) {
                let (kind, id) = (ev.key & 3, (ev.key >> 2) as u64);
                match kind {
                    KIND_TCP_LISTENER | KIND_TCP_CONN => self.tcp_event(kind, id, ev, found, &mut done),
                    _ => self.ws_event(kind, id, ev, &mut done),
                }
                self.finish(&mut done);
            }
        }
    }

    fn expire(&self) -> (Completed, Vec<Callback>) {
        let mut done = Completed::new();
        let mut calls = Vec::new();
        let expired = {
            let mut state = self.lock();
            let expired = state.timers.expire(Instant::now());
            for action in &expired {
                if let Action::Expire { token, .. } = action {
                    state.timer_of.remove(token);
                }
            }
            expired
        };
        for action in expired {
            match action {
                Action::Call(cb) => calls.push(cb),
                Action::Expire { kind, id, token } if kind <= KIND_TCP_CONN => {
                    self.tcp_timeout(kind, id, token, &mut done)
                }
                Action::Expire { kind, id, token } => self.ws_timeout(kind, id, token, &mut done),
                Action::Alarm { kind: KIND_TCP_CONN, id } => self.tcp_alarm(id, &mut done),
                Action::Alarm { id, .. } => self.ws_alarm(id, &mut done),
            }
        }
        (done, calls)
    }
}

/// A cheap, cloneable handle for making requests to the reactor.
pub type ReactorHandle = Arc<Net>;

/// The reactor; dropping it stops it (and joins its thread, if it has one).
pub struct Reactor {
    net: Arc<Net>,
    /// The threads that poll it: none (the scheduler's workers do), its
    /// own, or the stand-ins of workers of [`Reactor::start_polled`].
    threads: Vec<JoinHandle<()>>,
}

impl Reactor {
    /// Starts the reactor on a thread of its own, with the allow-list policy
    /// and the per-registry cap.
    pub fn start(policy: Policy, max_sockets: usize) -> io::Result<Reactor> {
        Reactor::without_thread(policy, max_sockets)?.with_thread()
    }

    /// Gives a reactor a thread of its own that polls it.
    pub(crate) fn with_thread(mut self) -> io::Result<Reactor> {
        let looped = self.net.clone();
        let thread = std::thread::Builder::new().name("rco-reactor".into()).spawn(move || event_loop(&looped))?;
        self.threads.push(thread);
        Ok(self)
    }

    /// A reactor polled as in production, for the property tests and fuzz
    /// targets: no thread of its own, but `workers` threads that poll it as
    /// the scheduler's workers do: in turn, each either waits in `poll` (an
    /// idle worker) or looks without blocking (a busy worker, every 61
    /// picks), so replies are delivered on whichever thread polled, while
    /// requests come from others.
    pub fn start_polled(policy: Policy, max_sockets: usize, workers: usize) -> io::Result<Reactor> {
        let mut reactor = Reactor::without_thread(policy, max_sockets)?;
        for n in 0..workers {
            let net = reactor.net.clone();
            let worker = move || {
                while !net.lock().stopping {
                    net.poll(Some(Duration::from_millis(5)));
                    net.poll(Some(Duration::ZERO));
                    std::thread::sleep(Duration::from_micros(200));
                }
            };
            reactor.threads.push(std::thread::Builder::new().name(format!("rco-test-worker-{n}")).spawn(worker)?);
        }
        Ok(reactor)
    }

    /// A reactor with no thread: nothing happens unless some thread calls
    /// [`Net::poll`] (the scheduler's idle worker, through its idle hook).
    pub fn without_thread(policy: Policy, max_sockets: usize) -> io::Result<Reactor> {
        Reactor::with_lookup(policy, max_sockets, resolve::lookup)
    }

    /// A reactor without a thread whose name lookups run `lookup` (tests
    /// slow it down to reach the lookup deadline).
    pub(crate) fn with_lookup(policy: Policy, max_sockets: usize, lookup: resolve::Lookup) -> io::Result<Reactor> {
        let poller = Arc::new(poller::Poller::new()?);
        let state = State { poller: Some(poller.clone()), ..State::default() };
        let net = Net {
            poller,
            state: Mutex::new(state),
            policy,
            max_sockets,
            events: Mutex::default(),
            resolver: resolve::Pool::default(),
            lookup,
            client_tls: std::sync::OnceLock::new(),
        };
        Ok(Reactor { net: Arc::new(net), threads: Vec::new() })
    }

    /// A handle for making requests.
    pub fn handle(&self) -> ReactorHandle {
        self.net.clone()
    }
}

impl Drop for Reactor {
    fn drop(&mut self) {
        self.net.lock().stopping = true;
        self.net.poller.notify();
        for t in self.threads.drain(..) {
            let _ = t.join();
        }
    }
}

fn event_loop(net: &Net) {
    while !net.lock().stopping {
        net.poll(None);
    }
}

/// What the unit tests of the reactor's modules share.
#[cfg(test)]
pub(crate) mod test_support {
    use crate::{Reply, ReplyFn};
    use std::sync::mpsc;
    use std::time::Duration;

    /// Calls a request that answers now or later; its reply, within 5 s.
    pub(crate) fn call(f: impl FnOnce(ReplyFn) -> Option<(ReplyFn, Reply)>) -> Reply {
        let (tx, rx) = mpsc::channel();
        let reply: ReplyFn = Box::new(move |r| {
            let _ = tx.send(r);
        });
        match f(reply) {
            Some((_, r)) => r,
            None => rx.recv_timeout(Duration::from_secs(5)).expect("a reply within 5 s"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::mpsc;

    /// Reads that wait on a connection share its one alarm: a thousand
    /// round trips leave at most one timer per connection, and a read with
    /// a shorter timeout than the alarm's still times out on time.
    #[test]
    fn a_connection_keeps_one_timer_for_its_waits() {
        use crate::test_support::call;
        let reactor = Reactor::start(Policy::default(), 16).expect("reactor");
        let net = reactor.handle();
        let Reply::Listener(l) = call(|r| net.tcp_listen("127.0.0.1", 0, true, None, r)) else { panic!("listen") };
        let Reply::Conn(client) = call(|r| net.tcp_connect("127.0.0.1", l.port, 2000, true, false, r)) else {
            panic!("connect")
        };
        let Reply::Conn(server) = call(|r| net.tcp_accept(l.id, 2000, r)) else { panic!("accept") };
        for n in 0..1000 {
            let (tx, rx) = mpsc::channel();
            let reply: ReplyFn = Box::new(move |r| {
                let _ = tx.send(r);
            });
            let now = net.tcp_read(server.id, 64, 300_000, reply).map(|(_, r)| r);
            let Reply::Conn(_) = call(|r| net.tcp_write(client.id, arcstr::literal!("x"), true, r)) else {
                panic!("write {n}")
            };
            let got = now.unwrap_or_else(|| rx.recv_timeout(Duration::from_secs(5)).expect("a reply"));
            assert!(matches!(got, Reply::Read(_, ref d) if d.text == "x"), "read {n}: {got:?}");
        }
        assert!(net.lock().timers.len() <= 2, "timers: {}", net.lock().timers.len());
        let started = Instant::now();
        let Reply::Read(_, data) = call(|r| net.tcp_read(server.id, 64, 50, r)) else { panic!("timed-out read") };
        assert!(data.is_empty());
        let waited = started.elapsed();
        assert!(waited >= Duration::from_millis(50) && waited < Duration::from_secs(1), "{waited:?}");
    }

    /// `waiting` is set only while a thread blocks in the wait: a wait
    /// that returns with nothing ready leaves it clear, so a timer added
    /// afterwards does not interrupt the next wait for nothing.
    #[test]
    fn a_wait_that_ends_without_events_is_no_longer_waiting() {
        let reactor = Reactor::without_thread(Policy::default(), 4).expect("reactor");
        let net = reactor.handle();
        net.poll(Some(Duration::from_millis(5)));
        assert!(net.lock().waiting.is_none(), "still marked waiting after the wait returned");
    }

    /// Tokens handed out by several threads, each from blocks of its own
    /// and across more than one block, are never 0 and never repeat.
    #[test]
    fn tokens_are_unique_across_threads_and_blocks() {
        let per_thread = 3 * TOKEN_BLOCK as usize + 7;
        let threads: Vec<_> =
            (0..4).map(|_| std::thread::spawn(move || (0..per_thread).map(|_| token()).collect::<Vec<_>>())).collect();
        let mut all: Vec<u64> = threads.into_iter().flat_map(|t| t.join().expect("thread")).collect();
        all.extend((0..per_thread).map(|_| token()));
        assert!(!all.contains(&0), "token 0 is the request-less token");
        let count = all.len();
        all.sort_unstable();
        all.dedup();
        assert_eq!(all.len(), count, "a token given twice");
    }

    #[test]
    fn timers_fire_in_order_and_wake_a_sleeping_loop() {
        let reactor = Reactor::start(Policy::default(), 10).expect("reactor");
        let (tx, rx) = mpsc::channel();
        let h = reactor.handle();
        let start = Instant::now();
        for ms in [50u64, 10, 30] {
            let tx = tx.clone();
            h.after(Duration::from_millis(ms), Box::new(move || tx.send(ms).expect("receiver alive")));
        }
        let got: Vec<u64> = (0..3).map(|_| rx.recv_timeout(Duration::from_secs(5)).expect("fired")).collect();
        assert_eq!(got, vec![10, 30, 50]);
        assert!(start.elapsed() >= Duration::from_millis(50));
    }

    /// A wait that reports more ready sockets than a batch leaves the rest
    /// to the next polls, which hand them out without waiting again: none
    /// is lost, and none waits for another readiness or a timeout.
    #[test]
    fn ready_sockets_past_a_batch_are_handled_by_the_next_polls_at_once() {
        use std::io::Write;
        let reactor = Reactor::without_thread(Policy::default(), 64).expect("reactor");
        let net = reactor.handle();
        let (tx, rx) = mpsc::channel();
        let sender = |tx: &mpsc::Sender<Reply>| -> ReplyFn {
            let tx = tx.clone();
            Box::new(move |r| {
                let _ = tx.send(r);
            })
        };
        // Polls until the request made by `f` is answered.
        let answer = |f: &dyn Fn(ReplyFn) -> Option<(ReplyFn, Reply)>| -> Reply {
            if let Some((_, r)) = f(sender(&tx)) {
                return r;
            }
            let deadline = Instant::now() + Duration::from_secs(5);
            loop {
                net.poll(Some(Duration::from_millis(10)));
                if let Ok(r) = rx.try_recv() {
                    return r;
                }
                assert!(Instant::now() < deadline, "no answer");
            }
        };
        let Reply::Listener(l) = answer(&|r| net.tcp_listen("127.0.0.1", 0, true, None, r)) else { panic!("listen") };
        let mut peers = Vec::new();
        for _ in 0..3 * BATCH {
            peers.push(std::net::TcpStream::connect(("127.0.0.1", l.port)).expect("connect"));
            let Reply::Conn(c) = answer(&|r| net.tcp_accept(l.id, 2000, r)) else { panic!("accept") };
            assert!(net.tcp_read(c.id, 64, 60_000, sender(&tx)).is_none(), "nothing to read yet");
        }
        for peer in &mut peers {
            peer.write_all(b"x").expect("write");
        }
        std::thread::sleep(Duration::from_millis(100));
        for polls in 1..=2 {
            let started = Instant::now();
            net.poll(Some(Duration::from_secs(10)));
            assert!(started.elapsed() < Duration::from_secs(5), "poll {polls} waited");
            let read = rx.try_iter().filter(|r| matches!(r, Reply::Read(_, d) if d.text == "x")).count();
            assert_eq!(read, BATCH, "reads answered by poll {polls}");
        }
        // A poll that must not wait (a busy worker's) takes all the rest.
        net.poll(Some(Duration::ZERO));
        let read = rx.try_iter().filter(|r| matches!(r, Reply::Read(_, d) if d.text == "x")).count();
        assert_eq!(read, BATCH, "reads answered by the non-waiting poll");
        assert_eq!(peers.len(), 3 * BATCH);
    }
}
