//! The worker's look-ahead (`Actor::upcoming`): while one actor runs, the
//! worker names the actor it runs next. Every actor named runs, right
//! after the actor that was running when it was named, and every actor
//! runs exactly once: holding one out of the queue loses none.

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
    /// The actor at this address ran.
    Ran(usize),
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
    Counted(Completion),
}

impl Actor for Step {
    type Msg = ();

    fn run(&mut self, cx: &mut Context<'_, Self>) -> Poll {
        log(Event::Ran(address(&cx.self_ref())));
        match self {
            Step::Starter(done) => {
                for _ in 0..ACTORS {
                    cx.start(Step::Counted(done.clone()));
                }
            }
            Step::Counted(done) => {
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
}

#[test]
fn the_actor_named_next_runs_next_and_every_actor_runs_once() {
    let scheduler = scheduler::<Step>(1);
    let done = Completion::new();
    scheduler.spawn(Step::Starter(done.clone()));
    assert!(done.wait_timeout(PATIENCE), "every actor ran");
    scheduler.shutdown();
    let events = EVENTS.lock().expect("log").clone();
    let ran: Vec<usize> = events.iter().filter_map(|e| if let Event::Ran(a) = e { Some(*a) } else { None }).collect();
    assert_eq!(ran.len(), ACTORS + 1, "each actor ran once");
    let named = events.iter().filter(|e| matches!(e, Event::Named(_))).count();
    assert!(named >= ACTORS - 1, "the worker named its next actor ahead ({named} times)");
    // A worker names the actor it will run after the one it is about to
    // run: the second run after the name is the named actor's.
    for (i, event) in events.iter().enumerate() {
        if let Event::Named(a) = *event {
            let second_run =
                events[i..].iter().filter_map(|e| if let Event::Ran(r) = e { Some(*r) } else { None }).nth(1);
            assert_eq!(second_run, Some(a), "the actor named at event {i} ran next");
        }
    }
}
