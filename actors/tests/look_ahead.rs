//! The worker's look-ahead: before a run, the worker warms the actor it
//! runs after it (`Actor::warm`) and names the one after that
//! (`Actor::upcoming`). Every actor named runs within the three runs that
//! follow, every actor warmed runs right after the run that follows, and
//! every actor runs exactly once: holding two out of the queue loses none.

mod common;

use std::sync::atomic::{AtomicUsize, Ordering::SeqCst};
use std::sync::Mutex;

use common::{scheduler, PATIENCE};
use rco_actors::{Actor, ActorRef, Completion, Context, Poll};

const ACTORS: usize = 200;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Event {
    /// `upcoming` named the actor at this address.
    Named(usize),
    /// `warm` was called on the counted actor with this number.
    Warmed(usize),
    /// The actor at this address, with this number (`usize::MAX`: the
    /// starter), ran.
    Ran(usize, usize),
}

/// What the actors of this test saw, in order (one worker: one order).
static EVENTS: Mutex<Vec<Event>> = Mutex::new(Vec::new());
/// How many of the counted actors ran.
static COUNTED: AtomicUsize = AtomicUsize::new(0);

fn log(event: Event) {
    EVENTS.lock().expect("log").push(event);
}

fn address(actor: &ActorRef<Step>) -> usize {
    actor.memory().0 as usize
}

/// The first actor starts `ACTORS` others on its worker's queue; each of
/// those logs its run and ends.
enum Step {
    Starter(Completion),
    Counted(usize, Completion),
}

impl Actor for Step {
    type Msg = ();

    fn run(&mut self, cx: &mut Context<'_, Self>) -> Poll {
        let me = address(&cx.self_ref());
        match self {
            Step::Starter(done) => {
                log(Event::Ran(me, usize::MAX));
                for n in 0..ACTORS {
                    cx.start(Step::Counted(n, done.clone()));
                }
            }
            Step::Counted(n, done) => {
                log(Event::Ran(me, *n));
                if COUNTED.fetch_add(1, SeqCst) + 1 == ACTORS {
                    done.complete();
                }
            }
        }
        Poll::Done
    }

    fn upcoming(next: &ActorRef<Self>) {
        log(Event::Named(address(next)));
    }

    fn warm(&self) {
        if let Step::Counted(n, _) = self {
            log(Event::Warmed(*n));
        }
    }
}

#[test]
fn named_and_warmed_actors_run_soon_and_every_actor_runs_once() {
    let scheduler = scheduler::<Step>(1);
    let done = Completion::new();
    scheduler.spawn(Step::Starter(done.clone()));
    assert!(done.wait_timeout(PATIENCE), "every actor ran");
    scheduler.shutdown();
    let events = EVENTS.lock().expect("log").clone();
    let mut ran: Vec<usize> =
        events.iter().filter_map(|e| if let Event::Ran(_, n) = e { Some(*n) } else { None }).collect();
    ran.sort_unstable();
    let expected: Vec<usize> = (0..ACTORS).chain([usize::MAX]).collect();
    assert_eq!(ran, expected, "each actor ran once");
    let count = |pick: fn(&Event) -> bool| events.iter().filter(|e| pick(e)).count();
    assert!(count(|e| matches!(e, Event::Named(_))) >= ACTORS - 2, "the worker named actors ahead");
    assert!(count(|e| matches!(e, Event::Warmed(_))) >= ACTORS - 2, "the worker warmed actors ahead");
    let runs_after =
        |i: usize| events[i..].iter().filter_map(|e| if let Event::Ran(a, n) = e { Some((*a, *n)) } else { None });
    for (i, event) in events.iter().enumerate() {
        match *event {
            Event::Named(a) => {
                assert!(
                    runs_after(i).take(3).any(|(at, _)| at == a),
                    "the actor named at event {i} ran within three runs"
                )
            }
            // Warmed before the run ahead of its own.
            Event::Warmed(n) => {
                assert_eq!(runs_after(i).nth(1).map(|(_, m)| m), Some(n), "the actor warmed at event {i} ran next")
            }
            Event::Ran(..) => {}
        }
    }
}
