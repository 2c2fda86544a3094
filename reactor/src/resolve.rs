//! Host name resolution off the workers (DIALECT 9, issue 14): the system
//! resolver blocks, so a host that is not an IP literal is looked up on a
//! small pool of threads owned by the reactor, and a lookup that outlives
//! its deadline is answered `failed to resolve HOST: timed out` by a timer.
//!
//! Invariants:
//! * At most [`THREADS`] lookup threads exist per reactor, started on
//!   demand and stopped when the reactor is dropped; a lookup never runs on
//!   the caller's thread or on a thread of its own.
//! * Each lookup is answered exactly once: its continuation sits in a slot
//!   that the finished lookup and the deadline timer race to empty; the
//!   loser finds it empty and does nothing. A lookup still queued when its
//!   deadline passed is dropped unrun.
//! * Neither the pool nor a pending timer keeps the reactor alive: both hold
//!   it weakly, so dropping the reactor frees its descriptors even while a
//!   lookup is stuck in the system resolver.

use crate::timer::TimerId;
use crate::types::{Reply, ReplyFn};
use crate::{Action, Net};
use std::collections::VecDeque;
use std::net::{IpAddr, SocketAddr, ToSocketAddrs};
use std::sync::{Arc, Condvar, Mutex, PoisonError, Weak};
use std::time::{Duration, Instant};

/// Lookup threads per reactor: lookups are few next to the I/O, and a
/// resolver that hangs holds at most this many threads.
pub(crate) const THREADS: usize = 4;

/// How long a listen may spend resolving its host (shorter in unit tests).
#[cfg(not(test))]
pub(crate) const LISTEN_LOOKUP: Duration = Duration::from_secs(10);
#[cfg(test)]
pub(crate) const LISTEN_LOOKUP: Duration = Duration::from_millis(300);

type Job = Box<dyn FnOnce() + Send>;

#[derive(Default)]
struct Queue {
    jobs: VecDeque<Job>,
    threads: usize,
    idle: usize,
    stopping: bool,
}

#[derive(Default)]
struct Shared {
    queue: Mutex<Queue>,
    wake: Condvar,
}

impl Shared {
    fn lock(&self) -> std::sync::MutexGuard<'_, Queue> {
        self.queue.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// The lookup threads of one reactor.
#[derive(Default)]
pub(crate) struct Pool {
    shared: Arc<Shared>,
}

impl Pool {
    /// Queues `job`, starting a thread if none is idle and fewer than
    /// [`THREADS`] exist. Gives the job back if no thread exists and none
    /// can be started (the caller answers with the error).
    fn submit(&self, job: Job) -> Result<(), (Job, std::io::Error)> {
        let mut queue = self.shared.lock();
        if queue.idle > queue.jobs.len() || queue.threads >= THREADS {
            queue.jobs.push_back(job);
            self.shared.wake.notify_one();
            return Ok(());
        }
        let shared = self.shared.clone();
        match std::thread::Builder::new().name("rco-resolve".into()).spawn(move || lookup_thread(&shared)) {
            Ok(_) => {
                queue.threads += 1;
                queue.jobs.push_back(job);
                Ok(())
            }
            Err(_) if queue.threads > 0 => {
                queue.jobs.push_back(job);
                Ok(())
            }
            Err(e) => Err((job, e)),
        }
    }
}

impl Drop for Pool {
    fn drop(&mut self) {
        let mut queue = self.shared.lock();
        queue.stopping = true;
        queue.jobs.clear();
        self.shared.wake.notify_all();
    }
}

fn lookup_thread(shared: &Shared) {
    let mut queue = shared.lock();
    loop {
        if queue.stopping {
            queue.threads -= 1;
            return;
        }
        match queue.jobs.pop_front() {
            Some(job) => {
                drop(queue);
                job();
                queue = shared.lock();
            }
            None => {
                queue.idle += 1;
                queue = shared.wake.wait(queue).unwrap_or_else(PoisonError::into_inner);
                queue.idle -= 1;
            }
        }
    }
}

/// A name lookup: `host:port` to its addresses, or the resolver's error.
pub(crate) type Lookup = fn(&str, u16) -> Result<Vec<SocketAddr>, String>;

/// Resolves `host:port` with the system resolver (an IP literal directly).
pub(crate) fn lookup(host: &str, port: u16) -> Result<Vec<SocketAddr>, String> {
    let addrs: Vec<SocketAddr> = match host.parse::<IpAddr>() {
        Ok(ip) => vec![SocketAddr::new(ip, port)],
        Err(_) => (host, port).to_socket_addrs().map_err(|e| e.to_string())?.collect(),
    };
    if addrs.is_empty() {
        return Err(format!("no socket addresses resolved for {host}:{port}"));
    }
    Ok(addrs)
}

/// What runs once a host is resolved (see [`Net::resolve_then`]).
pub(crate) type Then<T> = fn(&Net, T, Result<Vec<SocketAddr>, String>) -> Option<(ReplyFn, Reply)>;

/// A lookup's continuation and its deadline timer, taken by whichever of
/// the two comes first.
struct Pending<T> {
    arg: Option<T>,
    timer: Option<TimerId>,
}

type Slot<T> = Arc<Mutex<Pending<T>>>;

fn take<T>(slot: &Slot<T>) -> (Option<T>, Option<TimerId>) {
    let mut p = slot.lock().unwrap_or_else(PoisonError::into_inner);
    (p.arg.take(), p.timer.take())
}

impl Net {
    /// Resolves `host:port` (see [`lookup`]), then calls `then` with `arg`
    /// and the addresses or the resolver's error: at once for an IP literal,
    /// otherwise on the lookup pool, answering `failed to resolve HOST:
    /// timed out` if the lookup takes longer than `timeout`. An answer
    /// `then` returns is delivered through its `ReplyFn` (or returned, when
    /// `then` ran at once).
    pub(crate) fn resolve_then<T: Send + 'static>(
        self: &Arc<Self>,
        host: &str,
        port: u16,
        timeout: Duration,
        arg: T,
        then: Then<T>,
    ) -> Option<(ReplyFn, Reply)> {
        if host.parse::<IpAddr>().is_ok() {
            return then(self, arg, lookup(host, port));
        }
        let slot: Slot<T> = Arc::new(Mutex::new(Pending { arg: Some(arg), timer: None }));
        let timed_out = format!("failed to resolve {host}: timed out");
        let (timer_slot, weak) = (slot.clone(), Arc::downgrade(self));
        let on_deadline = Box::new(move || {
            let (Some(arg), _) = take(&timer_slot) else { return };
            answer(&weak, arg, Err(timed_out), then);
        });
        {
            // The timer is armed before the lookup is queued, so a lookup
            // that finishes at once always finds it to cancel.
            let mut state = self.lock();
            let timer = state.add_timer(Instant::now() + timeout, Action::Call(on_deadline));
            slot.lock().unwrap_or_else(PoisonError::into_inner).timer = Some(timer);
        }
        let (job_slot, weak, owned_host, lookup) = (slot.clone(), Arc::downgrade(self), host.to_string(), self.lookup);
        let job: Job = Box::new(move || {
            if job_slot.lock().unwrap_or_else(PoisonError::into_inner).arg.is_none() {
                return; // answered by its deadline while it was queued
            }
            let addrs = lookup(&owned_host, port);
            let (Some(arg), timer) = take(&job_slot) else { return };
            if let (Some(net), Some(timer)) = (weak.upgrade(), timer) {
                net.lock().timers.cancel(timer);
            }
            answer(&weak, arg, addrs, then);
        });
        match self.resolver.submit(job) {
            Ok(()) => None,
            Err((_, e)) => {
                let (arg, timer) = take(&slot);
                if let Some(timer) = timer {
                    self.lock().timers.cancel(timer);
                }
                then(self, arg?, Err(e.to_string()))
            }
        }
    }
}

/// Runs `then` and delivers its answer, if the reactor still exists.
fn answer<T>(net: &Weak<Net>, arg: T, addrs: Result<Vec<SocketAddr>, String>, then: Then<T>) {
    let Some(net) = net.upgrade() else { return };
    if let Some((reply, value)) = then(&net, arg, addrs) {
        reply(value);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_support::call;
    use crate::Reply;
    use std::sync::mpsc;

    #[test]
    fn the_pool_runs_jobs_on_at_most_its_threads() {
        let pool = Pool::default();
        let (tx, rx) = mpsc::channel();
        let running = Arc::new(Mutex::new((0usize, 0usize))); // (now, most)
        for _ in 0..20 {
            let (tx, running) = (tx.clone(), running.clone());
            let job: Job = Box::new(move || {
                {
                    let mut r = running.lock().expect("lock");
                    r.0 += 1;
                    r.1 = r.1.max(r.0);
                }
                std::thread::sleep(Duration::from_millis(20));
                running.lock().expect("lock").0 -= 1;
                let _ = tx.send(());
            });
            assert!(pool.submit(job).is_ok());
        }
        for _ in 0..20 {
            rx.recv_timeout(Duration::from_secs(5)).expect("every job runs");
        }
        let most = running.lock().expect("lock").1;
        assert!((1..=THREADS).contains(&most), "{most} jobs ran at once");
        assert!(pool.shared.lock().threads <= THREADS);
    }

    /// A resolver that takes 800 ms for every name but `fast.test`.
    fn slow(host: &str, port: u16) -> Result<Vec<SocketAddr>, String> {
        if host != "fast.test" {
            std::thread::sleep(Duration::from_millis(800));
        }
        lookup("127.0.0.1", port)
    }

    fn slow_reactor() -> crate::Reactor {
        crate::Reactor::with_lookup(crate::Policy::default(), 100, slow)
            .and_then(crate::Reactor::with_thread)
            .expect("reactor")
    }

    fn error(reply: Reply) -> (&'static str, String) {
        match reply {
            Reply::Error(e) => (e.kind, e.message),
            other => panic!("expected an error, got {other:?}"),
        }
    }

    #[test]
    fn a_lookup_counts_against_the_connect_timeout() {
        let reactor = slow_reactor();
        let net = reactor.handle();
        let started = Instant::now();
        let got = error(call(|r| net.tcp_connect("slow.test", 1, 200, true, false, r)));
        assert_eq!(got, ("TcpSocketError", "failed to resolve slow.test: timed out".to_string()));
        let waited = started.elapsed();
        assert!(waited >= Duration::from_millis(190) && waited < Duration::from_millis(700), "{waited:?}");
        let got = error(call(|r| net.ws_connect("ws://slow.test:1/", "slow.test", 1, 200, r)));
        assert_eq!(got, ("WebSocketError", "failed to resolve slow.test: timed out".to_string()));
        // A lookup in time goes on to the connect (refused: nothing listens).
        let got = error(call(|r| net.tcp_connect("fast.test", 1, 200, true, false, r)));
        assert_eq!(got.0, "TcpSocketError");
        assert!(got.1.contains("refused"), "{got:?}");
        assert_eq!(net.tcp_counts(), (0, 0));
    }

    #[test]
    fn a_listen_lookup_is_bounded() {
        let reactor = slow_reactor();
        let net = reactor.handle();
        let got = error(call(|r| net.tcp_listen("slow.test", 0, true, None, r)));
        assert_eq!(got, ("TcpListenerError", "failed to resolve slow.test: timed out".to_string()));
        let got = error(call(|r| net.ws_listen("slow.test", 0, Vec::new(), None, r)));
        assert_eq!(got, ("WebSocketListenerError", "failed to resolve slow.test: timed out".to_string()));
        assert!(matches!(call(|r| net.tcp_listen("fast.test", 0, true, None, r)), Reply::Listener(_)));
        assert_eq!(net.tcp_counts(), (0, 1), "the timed-out listen retains nothing");
    }

    /// Many lookups at once use at most `THREADS` threads; those that wait
    /// for a thread past their deadline are answered by it, and never run.
    #[test]
    fn many_lookups_share_a_few_threads() {
        let reactor = slow_reactor();
        let net = reactor.handle();
        let waiting: Vec<_> = (0..20)
            .map(|i| {
                let (tx, rx) = mpsc::channel();
                let reply: ReplyFn = Box::new(move |r| {
                    let _ = tx.send(r);
                });
                assert!(net.tcp_connect(&format!("n{i}.test"), 1, 300, true, false, reply).is_none());
                rx
            })
            .collect();
        assert!(net.resolver.shared.lock().threads <= THREADS);
        for rx in waiting {
            let got = error(rx.recv_timeout(Duration::from_secs(5)).expect("every connect is answered"));
            assert!(got.1.ends_with(": timed out"), "{got:?}");
        }
        assert!(net.resolver.shared.lock().threads <= THREADS);
    }

    #[test]
    fn literals_resolve_without_the_system_resolver() {
        assert_eq!(lookup("::1", 5), Ok(vec!["[::1]:5".parse().expect("addr")]));
        assert!(lookup("[::1]", 5).is_err(), "brackets are the caller's to strip");
    }
}
