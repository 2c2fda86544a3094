//! Message-count stress: 1,000 actors in 500 pairs ping-pong 1,000 messages
//! each across the workers. Every message sent and received is counted, and
//! each receiver checks that its peer's sequence numbers arrive in order
//! without gaps or repeats: nothing lost, nothing duplicated, every actor
//! reaches `Done`.

mod common;

use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering::SeqCst};
use std::sync::Arc;

use common::{scheduler, PATIENCE};
use rco_actors::{Actor, ActorRef, Completion, Context, Poll, Scheduler};

const PAIRS: usize = 500;
const ROUNDS: u64 = 1_000;
/// Messages handled per run slice before yielding (the actor's "reductions").
const BUDGET: usize = 16;

enum Msg {
    Peer(ActorRef<Node>),
    Ping(u64),
}

#[derive(Default)]
struct Stats {
    sent: AtomicU64,
    received: AtomicU64,
    out_of_order: AtomicU64,
    finished: AtomicUsize,
    dropped: AtomicUsize,
}

/// The actors of the test: players, and one spawner that starts pairs
/// from inside the scheduler.
enum Node {
    Player(Player),
    Spawner { stats: Arc<Stats>, all_done: Completion },
}

struct Player {
    peer: Option<ActorRef<Node>>,
    /// The player that serves first.
    starts: bool,
    sent: u64,
    received: u64,
    stats: Arc<Stats>,
    all_done: Completion,
}

impl Player {
    fn node(starts: bool, stats: &Arc<Stats>, all_done: &Completion) -> Node {
        Node::Player(Player {
            peer: None,
            starts,
            sent: 0,
            received: 0,
            stats: stats.clone(),
            all_done: all_done.clone(),
        })
    }

    fn send_next(&mut self) {
        if let Some(peer) = &self.peer {
            if peer.clone().send(Msg::Ping(self.sent)).is_ok() {
                self.sent += 1;
                self.stats.sent.fetch_add(1, SeqCst);
            }
        }
    }
}

impl Actor for Node {
    type Msg = Msg;

    fn run(&mut self, cx: &mut Context<'_, Node>) -> Poll {
        match self {
            Node::Player(player) => player.run(cx),
            Node::Spawner { stats, all_done } => {
                for _ in 0..PAIRS - PAIRS / 2 {
                    start_pair(&mut |starts| cx.spawn(Player::node(starts, stats, all_done)));
                }
                Poll::Done
            }
        }
    }
}

impl Player {
    fn run(&mut self, cx: &mut Context<'_, Node>) -> Poll {
        for _ in 0..BUDGET {
            match cx.recv() {
                Some(Msg::Peer(peer)) => {
                    self.peer = Some(peer);
                    if self.starts {
                        self.send_next();
                    }
                }
                Some(Msg::Ping(seq)) => {
                    self.stats.received.fetch_add(1, SeqCst);
                    if seq != self.received {
                        self.stats.out_of_order.fetch_add(1, SeqCst);
                    }
                    self.received += 1;
                    if self.sent < ROUNDS {
                        self.send_next();
                    }
                }
                None => break,
            }
            if self.sent == ROUNDS && self.received == ROUNDS {
                if self.stats.finished.fetch_add(1, SeqCst) + 1 == 2 * PAIRS {
                    self.all_done.complete();
                }
                return Poll::Done;
            }
        }
        if cx.has_mail() {
            Poll::Yield
        } else {
            Poll::Park
        }
    }
}

impl Drop for Player {
    fn drop(&mut self) {
        self.stats.dropped.fetch_add(1, SeqCst);
    }
}

/// Spawns a pair through `spawn` and introduces the players to each other.
/// The non-starting player learns its peer first, so the first ping always
/// finds it ready (mailboxes are FIFO).
fn start_pair(spawn: &mut dyn FnMut(bool) -> ActorRef<Node>) {
    let a = spawn(true);
    let b = spawn(false);
    b.clone().send(Msg::Peer(a.clone())).expect("b alive");
    a.send(Msg::Peer(b)).expect("a alive");
}

#[test]
fn ping_pong_counts_every_message_once() {
    let sched: Scheduler<Node> = scheduler(0);
    let stats = Arc::new(Stats::default());
    let all_done = Completion::new();

    // Half the pairs are spawned from outside (global queue)...
    for _ in 0..PAIRS / 2 {
        start_pair(&mut |starts| sched.spawn(Player::node(starts, &stats, &all_done)));
    }
    // ...and half from inside an actor (local queues, then stolen).
    sched.spawn(Node::Spawner { stats: stats.clone(), all_done: all_done.clone() });

    assert!(
        all_done.wait_timeout(PATIENCE),
        "only {} of {} actors finished; sent {} received {}",
        stats.finished.load(SeqCst),
        2 * PAIRS,
        stats.sent.load(SeqCst),
        stats.received.load(SeqCst),
    );
    let total = 2 * PAIRS as u64 * ROUNDS;
    assert_eq!(stats.sent.load(SeqCst), total);
    assert_eq!(stats.received.load(SeqCst), total);
    assert_eq!(stats.out_of_order.load(SeqCst), 0);
    assert_eq!(sched.shutdown(), 0, "every actor reached Done");
    assert_eq!(stats.dropped.load(SeqCst), 2 * PAIRS);
}
