//! `Poller`: where the reactor waits for readiness. Sockets are registered
//! with `polling` (`registry`, through `Registered`); on Linux the wait is
//! one `epoll_pwait` of our own on the same epoll instance, woken by an
//! eventfd of our own. polling 3's epoll wait also arms a timerfd
//! (`timerfd_settime` and an `epoll_ctl`) and re-arms its notifier (a
//! `read` and an `epoll_ctl`) on every wait: four system calls beside the
//! wait itself, which at one connection is one wait per round trip
//! (measured with `perf stat`: 5 system calls per wait). Elsewhere
//! (kqueue) the wait is polling's.
//!
//! Invariants:
//! * A notification is sticky: one that comes while nobody waits makes the
//!   next wait return at once (the eventfd stays readable until a wait
//!   drains it).
//! * A wait's timeout is rounded up to the millisecond, never down, so a
//!   timer is never looked at before it is due (at worst 1 ms late).
//! * The eventfd is deleted from the epoll instance before it is closed
//!   (the safety contract of `polling::Poller::add`).
//! * `Events` hands out each socket a wait reported once, in the order
//!   reported (`take`), until the next wait replaces them.

use std::io;
use std::sync::Arc;
use std::time::Duration;

/// A socket's readiness, as the wait reported it.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Ready {
    pub(crate) key: usize,
    pub(crate) readable: bool,
    pub(crate) writable: bool,
    /// The peer ended its side, or the socket failed (`EPOLLRDHUP`,
    /// `EPOLLHUP`, `EPOLLERR`; only on Linux, where `Registered::edge` asks
    /// for it).
    pub(crate) ended: bool,
}

pub(crate) struct Poller {
    /// Where sockets are registered.
    pub(crate) registry: Arc<polling::Poller>,
    #[cfg(target_os = "linux")]
    wake: rustix::fd::OwnedFd,
}

/// The key of the wake-up eventfd (polling keeps `usize::MAX` for its own).
#[cfg(target_os = "linux")]
const WAKE_KEY: usize = usize::MAX - 1;

/// The buffer a wait fills, and the sockets it reported ready, handed out
/// a batch at a time (`take`).
pub(crate) struct Events {
    #[cfg(target_os = "linux")]
    list: Vec<rustix::event::epoll::Event>,
    #[cfg(not(target_os = "linux"))]
    list: polling::Events,
    ready: Vec<Ready>,
    /// How many of `ready` were handed out.
    taken: usize,
}

// SAFETY: an `epoll::Event`'s data may hold a pointer, which is why it is
// not `Send`; every registration here (polling's and ours) stores a number
// in it, a key, never a pointer, so the buffer holds only plain data.
#[cfg(target_os = "linux")]
unsafe impl Send for Events {}

impl Default for Events {
    fn default() -> Events {
        #[cfg(target_os = "linux")]
        let list = Vec::with_capacity(1024);
        #[cfg(not(target_os = "linux"))]
        let list = polling::Events::new();
        Events { list, ready: Vec::with_capacity(1024), taken: 0 }
    }
}

impl Events {
    /// Whether sockets the last wait reported are still to be handed out.
    pub(crate) fn pending(&self) -> bool {
        self.taken < self.ready.len()
    }

    /// The next (at most) `n` sockets the last wait reported ready.
    pub(crate) fn take(&mut self, n: usize) -> &[Ready] {
        let start = self.taken;
        self.taken = start.saturating_add(n).min(self.ready.len());
        &self.ready[start..self.taken]
    }

    /// Reads the sockets reported ready out of the wait's buffer.
    fn fill(&mut self) {
        self.ready.clear();
        self.taken = 0;
        let ready = Events::iter(&self.list);
        self.ready.extend(ready);
    }

    /// The sockets reported ready (not the wake-up).
    #[cfg(target_os = "linux")]
    fn iter(list: &[rustix::event::epoll::Event]) -> impl Iterator<Item = Ready> + '_ {
        list.iter().filter(|e| (e.data.u64() as usize) < WAKE_KEY).map(|e| {
            use rustix::event::epoll::EventFlags as F;
            // Copied out: the kernel's struct is packed.
            let (key, flags) = (e.data.u64() as usize, e.flags);
            // As polling reads them: a hang-up or an error is both.
            let readable = flags.intersects(F::IN | F::HUP | F::ERR | F::PRI);
            let writable = flags.intersects(F::OUT | F::HUP | F::ERR);
            let ended = flags.intersects(F::RDHUP | F::HUP | F::ERR);
            Ready { key, readable, writable, ended }
        })
    }

    /// The sockets reported ready.
    #[cfg(not(target_os = "linux"))]
    fn iter(list: &polling::Events) -> impl Iterator<Item = Ready> + '_ {
        list.iter().map(|e| Ready { key: e.key, readable: e.readable, writable: e.writable, ended: false })
    }
}

impl Poller {
    pub(crate) fn new() -> io::Result<Poller> {
        let registry = Arc::new(polling::Poller::new()?);
        #[cfg(target_os = "linux")]
        {
            use rustix::event::EventfdFlags;
            let wake = rustix::event::eventfd(0, EventfdFlags::CLOEXEC | EventfdFlags::NONBLOCK)?;
            // SAFETY: `wake` is owned by the returned `Poller`, whose `Drop`
            // deletes it from the poller before it is closed.
            unsafe { registry.add_with_mode(&wake, polling::Event::readable(WAKE_KEY), polling::PollMode::Level)? };
            Ok(Poller { registry, wake })
        }
        #[cfg(not(target_os = "linux"))]
        Ok(Poller { registry })
    }

    /// Waits until a socket is ready, a notification comes or `timeout`
    /// passes (`None`: no limit), filling `events`. An interrupted wait
    /// returns with no events.
    pub(crate) fn wait(&self, events: &mut Events, timeout: Option<Duration>) -> io::Result<()> {
        #[cfg(target_os = "linux")]
        {
            use rustix::buffer::spare_capacity;
            events.list.clear();
            let timeout = timeout.map(|t| rustix::event::Timespec {
                tv_sec: t.as_secs().try_into().unwrap_or(i64::MAX),
                tv_nsec: t.subsec_nanos().into(),
            });
            match rustix::event::epoll::wait(&*self.registry, spare_capacity(&mut events.list), timeout.as_ref()) {
                Ok(_) | Err(rustix::io::Errno::INTR) => {}
                Err(e) => return Err(e.into()),
            }
            if events.list.iter().any(|e| e.data.u64() as usize == WAKE_KEY) {
                let mut count = [0u8; 8];
                let _ = rustix::io::read(&self.wake, &mut count);
            }
        }
        #[cfg(not(target_os = "linux"))]
        {
            events.list.clear();
            self.registry.wait(&mut events.list, timeout)?;
        }
        events.fill();
        Ok(())
    }

    /// Makes the current or next `wait` return promptly (never blocks).
    pub(crate) fn notify(&self) {
        #[cfg(target_os = "linux")]
        let _ = rustix::io::write(&self.wake, &1u64.to_ne_bytes());
        #[cfg(not(target_os = "linux"))]
        let _ = self.registry.notify();
    }
}

#[cfg(target_os = "linux")]
impl Drop for Poller {
    fn drop(&mut self) {
        let _ = self.registry.delete(&self.wake);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Instant;

    #[test]
    fn a_notification_is_sticky_and_drained_by_one_wait() {
        let poller = Poller::new().expect("poller");
        let mut events = Events::default();
        poller.notify();
        poller.notify();
        let started = Instant::now();
        poller.wait(&mut events, Some(Duration::from_secs(5))).expect("wait");
        assert!(started.elapsed() < Duration::from_secs(1), "a notification made before the wait was lost");
        assert!(events.take(usize::MAX).is_empty(), "the wake-up is not a socket");
        // Drained: the next wait sleeps its whole timeout.
        let started = Instant::now();
        poller.wait(&mut events, Some(Duration::from_millis(50))).expect("wait");
        assert!(started.elapsed() >= Duration::from_millis(50));
    }

    #[test]
    fn a_timeout_is_rounded_up_never_down() {
        let poller = Poller::new().expect("poller");
        let mut events = Events::default();
        let started = Instant::now();
        poller.wait(&mut events, Some(Duration::from_micros(300))).expect("wait");
        assert!(started.elapsed() >= Duration::from_micros(300), "woke before the timeout: {:?}", started.elapsed());
    }

    #[test]
    fn a_ready_socket_is_reported_with_its_key() {
        let poller = Poller::new().expect("poller");
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        let addr = listener.local_addr().expect("addr");
        let socket = crate::registered::Registered::new(listener, poller.registry.clone(), 42).expect("register");
        socket.interest(true, false);
        let _client = std::net::TcpStream::connect(addr).expect("connect");
        let mut events = Events::default();
        poller.wait(&mut events, Some(Duration::from_secs(5))).expect("wait");
        let ready = events.take(usize::MAX).to_vec();
        assert_eq!(ready.len(), 1, "{ready:?}");
        assert_eq!((ready[0].key, ready[0].readable), (42, true));
    }
}
