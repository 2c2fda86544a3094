//! The process's stdout and stderr as the tasks share them, with a gate
//! that the end of the program closes.
//!
//! Invariants: one print is one `write_all` under the stream's lock, so
//! tasks never interleave within a print (DIALECT point 2); no write starts
//! after `close`; `close` waits (a bounded time) for the writes in progress
//! and says which streams are free, so the closing notes are written after
//! every task's output, and a write stuck on a full pipe cannot delay the
//! exit (its stream is simply not touched again).

use rco_lang::Stream;
use std::io::Write;
use std::sync::{Condvar, Mutex, MutexGuard, PoisonError};
use std::time::Instant;

#[derive(Default)]
struct Gate {
    closed: bool,
    /// Writes in progress on stdout and on stderr.
    writing: [usize; 2],
}

/// stdout and stderr behind the gate.
#[derive(Default)]
pub struct Output {
    gate: Mutex<Gate>,
    /// Signalled when the last write in progress on a stream ends.
    quiet: Condvar,
}

/// Which streams no write holds any more when the gate closed.
pub struct Free {
    pub stdout: bool,
    pub stderr: bool,
}

impl Output {
    /// Writes `text` as one print, unless the gate is closed (the program
    /// has ended: the output of tasks still running is dropped). A closed
    /// pipe is not the script's error.
    pub fn write(&self, stream: Stream, text: &str) {
        let slot = slot(stream);
        {
            let mut gate = self.lock();
            if gate.closed {
                return;
            }
            gate.writing[slot] += 1;
        }
        let _ = match stream {
            Stream::Stdout => std::io::stdout().lock().write_all(text.as_bytes()),
            Stream::Stderr => std::io::stderr().lock().write_all(text.as_bytes()),
        };
        let mut gate = self.lock();
        gate.writing[slot] -= 1;
        if gate.closed && gate.writing[slot] == 0 {
            self.quiet.notify_all();
        }
    }

    /// Closes the gate, then waits until `deadline` at most for the writes
    /// in progress to end.
    pub fn close(&self, deadline: Instant) -> Free {
        let mut gate = self.lock();
        gate.closed = true;
        while gate.writing != [0, 0] {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                break;
            }
            gate = self.quiet.wait_timeout(gate, left).unwrap_or_else(PoisonError::into_inner).0;
        }
        Free { stdout: gate.writing[slot(Stream::Stdout)] == 0, stderr: gate.writing[slot(Stream::Stderr)] == 0 }
    }

    /// A gate is two counters and a flag, consistent after every critical
    /// section, so a poisoned lock is recovered.
    fn lock(&self) -> MutexGuard<'_, Gate> {
        self.gate.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// The index of `stream` in `Gate::writing`.
fn slot(stream: Stream) -> usize {
    match stream {
        Stream::Stdout => 0,
        Stream::Stderr => 1,
    }
}
