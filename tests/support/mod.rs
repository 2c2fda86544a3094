//! Bounded child processes shared by the `interop` and `ws_interop` test
//! targets: every wait has a deadline, and a child still running at its
//! deadline (or when its handle is dropped) is killed, so a hung rco fails a
//! test instead of hanging it.
//!
//! Each target includes this file from its own `support.rs` (with
//! `#[path = "../support/mod.rs"]`), which adds what is its own: the folder
//! of its scripts, its Python probe and its expected files.

// Each target uses only part of this module.
#![allow(dead_code)]

use std::io::{BufRead, BufReader, Read};
use std::path::PathBuf;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::mpsc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// The rco binary under test, run in `dir`.
pub fn rco_in(dir: PathBuf) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_rco"));
    cmd.current_dir(dir);
    cmd
}

/// How a child ended.
#[derive(Debug)]
pub struct Finished {
    /// `None` if it had to be killed at its deadline.
    pub status: Option<ExitStatus>,
    pub stdout: String,
    pub stderr: String,
    pub elapsed: Duration,
}

impl Finished {
    /// Panics with everything the child printed unless it exited with 0.
    pub fn assert_success(&self, what: &str) {
        self.assert_ended_well(self.status.is_some_and(|s| s.success()), what);
    }

    /// Panics with everything the child printed unless it exited with 0 on
    /// its own and did not panic.
    pub fn assert_clean_exit(&self, what: &str) {
        self.assert_ended_well(self.status.is_some_and(|s| s.success()) && !self.stderr.contains("panicked"), what);
    }

    fn assert_ended_well(&self, well: bool, what: &str) {
        assert!(
            well,
            "{what}: ended with {:?} after {:?}\n--- stdout\n{}--- stderr\n{}",
            self.status, self.elapsed, self.stdout, self.stderr
        );
    }
}

/// A running child whose stdout lines and stderr are collected by threads.
pub struct Running {
    child: Child,
    lines: mpsc::Receiver<String>,
    seen: Vec<String>,
    stderr: Option<JoinHandle<String>>,
    started: Instant,
    name: String,
}

impl Running {
    /// Starts `cmd` with piped stdout/stderr and no stdin.
    pub fn start(cmd: &mut Command, name: &str) -> Running {
        let mut child = cmd
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {name}: {e}"));
        let stdout = child.stdout.take().expect("piped stdout");
        let mut stderr = child.stderr.take().expect("piped stderr");
        let (tx, lines) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        let stderr = std::thread::spawn(move || {
            let mut text = String::new();
            let _ = stderr.read_to_string(&mut text);
            text
        });
        Running { child, lines, seen: Vec::new(), stderr: Some(stderr), started: Instant::now(), name: name.into() }
    }

    /// Reads the `port N` line the servers print first (not kept in stdout).
    pub fn port(&mut self, timeout: Duration) -> u16 {
        let line = self.lines.recv_timeout(timeout).ok();
        let port = line.as_deref().and_then(|l| l.strip_prefix("port ")).and_then(|p| p.trim().parse().ok());
        match port {
            Some(p) => p,
            None => {
                let _ = self.child.kill();
                let ended = self.finish(Duration::from_secs(5));
                panic!("{}: expected a `port N` line first, got {line:?}\n{ended:#?}", self.name)
            }
        }
    }

    /// Waits for the child to exit, at most `timeout`; kills it past that.
    pub fn finish(&mut self, timeout: Duration) -> Finished {
        let deadline = Instant::now() + timeout;
        let status = loop {
            match self.child.try_wait() {
                Ok(Some(status)) => break Some(status),
                Ok(None) if Instant::now() < deadline => std::thread::sleep(Duration::from_millis(10)),
                _ => {
                    let _ = self.child.kill();
                    let _ = self.child.wait();
                    break None;
                }
            }
        };
        let elapsed = self.started.elapsed();
        // The pipes close when the child exits: the readers end promptly.
        while let Ok(line) = self.lines.recv_timeout(Duration::from_secs(5)) {
            self.seen.push(line);
        }
        let stderr = self.stderr.take().and_then(|h| h.join().ok()).unwrap_or_default();
        let mut stdout = self.seen.join("\n");
        if !stdout.is_empty() {
            stdout.push('\n');
        }
        Finished { status, stdout, stderr, elapsed }
    }

    /// Kills the child (a helper server that runs until told to stop).
    pub fn stop(mut self) -> Finished {
        let _ = self.child.kill();
        self.finish(Duration::from_secs(5))
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        if matches!(self.child.try_wait(), Ok(None)) {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// Runs `cmd` to its end, killing it after `timeout`.
pub fn run(cmd: &mut Command, name: &str, timeout: Duration) -> Finished {
    Running::start(cmd, name).finish(timeout)
}
