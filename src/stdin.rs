//! Standard input for `read_line`, read off the workers: one reader thread
//! (started by the first `read_line` that has to wait) reads stdin while
//! tasks that asked for a line are parked; a line already read is handed
//! out at once.
//!
//! Invariants (under the one lock): lines are handed out in the order they
//! were read, to requests in the order they were made; there is never both
//! a waiting request and an available line (or the end of input), because
//! the reader pairs them before it lets go of the lock; the reader reads
//! only while some request waits, so a program that stops asking leaves
//! the rest of stdin unread (but for one read's worth). A blocked reader
//! never delays the process's exit: it is not a worker, and nobody joins it.

use std::collections::VecDeque;
use std::io::Read;
use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError};

/// Gets one line: `Some(text)` with its newline, `None` at end of input.
pub type LineReply = Box<dyn FnOnce(Option<String>) + Send>;

/// What a `read_line` request gets.
pub enum Line {
    /// At once: a line with its newline, or `None` at end of input.
    Now(Option<String>),
    /// Later, through the request's reply.
    Later,
}

/// How much one read of stdin asks for.
const CHUNK: usize = 64 * 1024;

#[derive(Default)]
struct State {
    /// Complete lines read and not handed out yet.
    lines: VecDeque<String>,
    /// Stdin reached its end (or failed): every later request gets `None`.
    ended: bool,
    waiting: VecDeque<LineReply>,
    reader_started: bool,
}

/// The process's standard input, shared by all tasks.
#[derive(Default)]
pub struct Stdin {
    state: Mutex<State>,
    wanted: Condvar,
}

impl Stdin {
    /// One line for a task: at once if one was read already (or input
    /// ended; `reply` is then dropped unused), otherwise later through
    /// `reply`. Fails only if the reader thread cannot start.
    pub fn read_line(self: &Arc<Self>, reply: LineReply) -> std::io::Result<Line> {
        let mut state = self.lock();
        if let Some(line) = state.lines.pop_front() {
            return Ok(Line::Now(Some(line)));
        }
        if state.ended {
            return Ok(Line::Now(None));
        }
        if !state.reader_started {
            let me = self.clone();
            std::thread::Builder::new().name("rco-stdin".into()).spawn(move || me.reader())?;
            state.reader_started = true;
        }
        state.waiting.push_back(reply);
        self.wanted.notify_one();
        Ok(Line::Later)
    }

    /// The poisoned case cannot leave the queues half-updated (every
    /// critical section is a few pushes and pops), so it is recovered.
    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The reader thread: waits for a request, reads, answers.
    fn reader(&self) {
        let mut stdin = std::io::stdin();
        let mut buf = vec![0; CHUNK];
        // Bytes of a line whose end has not been read yet.
        let mut partial: Vec<u8> = Vec::new();
        loop {
            {
                let mut state = self.lock();
                while state.waiting.is_empty() {
                    state = self.wanted.wait(state).unwrap_or_else(PoisonError::into_inner);
                }
            }
            // Read outside the lock: this is where the thread blocks.
            let read = match stdin.read(&mut buf) {
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                Ok(n) => n,
                // An unreadable stdin ends the input, as end of file does.
                Err(_) => 0,
            };
            let mut lines = Vec::new();
            partial.extend_from_slice(&buf[..read]);
            if let Some(last) = partial.iter().rposition(|&b| b == b'\n') {
                let rest = partial.split_off(last + 1);
                let complete = std::mem::replace(&mut partial, rest);
                lines.extend(complete.split_inclusive(|&b| b == b'\n').map(text));
            }
            if read == 0 && !partial.is_empty() {
                // The last line has no newline.
                lines.push(text(&std::mem::take(&mut partial)));
            }
            let answers = {
                let mut state = self.lock();
                state.lines.extend(lines);
                state.ended |= read == 0;
                let mut answers = Vec::new();
                while !state.waiting.is_empty() && (!state.lines.is_empty() || state.ended) {
                    if let Some(reply) = state.waiting.pop_front() {
                        answers.push((reply, state.lines.pop_front()));
                    }
                }
                answers
            };
            for (reply, line) in answers {
                reply(line);
            }
            if read == 0 {
                return;
            }
        }
    }
}

/// A line as a string; bytes that are not UTF-8 become U+FFFD.
fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}
