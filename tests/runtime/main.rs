//! The runtime under stress from inside: panics injected into tasks, the
//! main program and the glue (through the `test-hooks` feature, which only
//! test builds have), tasks that block on stdin or on a full stdout pipe at
//! exit, tasks that print while the program ends, and tasks that do real
//! work in a loop beside a sleeper. Every child runs with a deadline.

#[path = "../support/mod.rs"]
mod support;

use std::fs::File;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};
use support::{run, Finished};

fn dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/runtime")
}

/// `rco run SCRIPT` in this folder with the environment `env`.
fn rco(script: &str, env: &[(&str, &str)]) -> Command {
    let mut cmd = support::rco_in(dir());
    cmd.arg("run").arg(script).envs(env.iter().copied());
    cmd
}

fn expect(ended: &Finished, code: i32, stdout: &str, stderr_has: &[&str]) {
    let ok = ended.status.and_then(|s| s.code()) == Some(code)
        && ended.stdout == stdout
        && stderr_has.iter().all(|line| ended.stderr.lines().any(|l| l == *line));
    assert!(ok, "expected status {code}, stdout {stdout:?} and stderr lines {stderr_has:?}; got {ended:#?}");
}

const PANICKED: &str = "error: host operation failed in spawn: task worker thread panicked";

#[test]
fn a_panic_in_a_task_fails_it_and_await_reraises_it() {
    let ended =
        run(&mut rco("panic_task.rco", &[("RCO_TEST_PANIC", "print:boom")]), "panic_task", Duration::from_secs(20));
    expect(&ended, 1, "before\n", &[PANICKED, "help: raised in task#0 at panic_task.rco:2:10"]);
}

#[test]
fn a_panic_in_the_glue_fails_the_task_too() {
    let ended =
        run(&mut rco("panic_glue.rco", &[("RCO_TEST_PANIC", "sleep:7")]), "panic_glue", Duration::from_secs(20));
    expect(&ended, 1, "", &[PANICKED, "help: raised in task#0 at panic_glue.rco:2:5"]);
}

#[test]
fn a_panic_in_a_run_ahead_fails_that_task_not_its_spawner() {
    // Task 1 panics inside the main program's spawn: task 0 and the main
    // program go on, and awaiting task 1 re-raises the failure.
    let env = [("RCO_TEST_PANIC", "ahead:1")];
    let ended = run(&mut rco("panic_ahead.rco", &env), "panic_ahead", Duration::from_secs(20));
    expect(&ended, 1, "42\nafter\n", &[PANICKED, "help: raised in task#1 at panic_ahead.rco:3:3"]);
}

#[test]
fn the_worker_survives_a_panic() {
    let env = [("RCO_TEST_PANIC", "print:boom"), ("RCO_WORKERS", "1")];
    let ended = run(&mut rco("panic_survives.rco", &env), "panic_survives", Duration::from_secs(20));
    expect(&ended, 0, "alive\nfailed\n", &[]);
}

#[test]
fn a_panic_in_the_main_program_is_an_internal_error() {
    let ended =
        run(&mut rco("panic_main.rco", &[("RCO_TEST_PANIC", "print:boom")]), "panic_main", Duration::from_secs(20));
    expect(
        &ended,
        1,
        "start\n",
        &[
            "error: internal error: injected panic in print (a bug in rco; please report it)",
            "note: 1 task was still running and was stopped",
        ],
    );
    let env = [("RCO_TEST_PANIC", "sleep:7")];
    let ended = run(&mut rco("panic_main_glue.rco", &env), "panic_main_glue", Duration::from_secs(20));
    expect(&ended, 1, "start\n", &["error: internal error: injected panic in sleep (a bug in rco; please report it)"]);
}

#[test]
fn a_task_in_read_line_holds_no_worker_and_does_not_delay_exit() {
    let mut child = rco("read_line_task.rco", &[("RCO_WORKERS", "1")])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start rco");
    // Kept open (and silent) until the child has exited.
    let stdin = child.stdin.take();
    let started = Instant::now();
    let status = wait(&mut child, Duration::from_secs(10));
    let elapsed = started.elapsed();
    drop(stdin);
    let output = child.wait_with_output().expect("collect output");
    assert_eq!(String::from_utf8_lossy(&output.stdout), "free\n");
    assert!(status.is_some_and(|s| s.success()), "{status:?} {output:?}");
    assert!(elapsed < Duration::from_secs(1), "exit took {elapsed:?}");
}

#[test]
fn a_task_blocked_on_a_full_stdout_does_not_delay_exit() {
    // Nobody reads stdout: the task fills the pipe and blocks in a write.
    let mut child = rco("full_stdout.rco", &[])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("start rco");
    let started = Instant::now();
    let status = wait(&mut child, Duration::from_secs(10));
    assert!(status.is_some_and(|s| s.success()), "{status:?}");
    assert!(started.elapsed() < Duration::from_secs(2), "exit took {:?}", started.elapsed());
}

#[test]
fn no_task_writes_after_the_closing_notes() {
    // Both streams into one file, so their order is the order of writes.
    let path = std::env::temp_dir().join(format!("rco-notes-last-{}.txt", std::process::id()));
    let file = File::create(&path).expect("temp file");
    let mut child = rco("notes_last.rco", &[])
        .stdin(Stdio::null())
        .stdout(file.try_clone().expect("dup"))
        .stderr(file)
        .spawn()
        .expect("start rco");
    let status = wait(&mut child, Duration::from_secs(20));
    let text = std::fs::read_to_string(&path).unwrap_or_default();
    let _ = std::fs::remove_file(&path);
    assert!(status.is_some_and(|s| s.success()), "{status:?}");
    let tail: Vec<&str> = text.lines().rev().take(2).collect();
    assert_eq!(
        tail,
        ["note: 2 tasks were still running and were stopped", "note: 2 values left on the stack: 1 2"],
        "the notes must come last"
    );
}

#[test]
fn a_sleeper_beside_tasks_doing_real_work_is_served() {
    let ended = run(&mut rco("fair_work.rco", &[]), "fair_work", Duration::from_secs(60));
    ended.assert_success("fair_work");
    let mean: i64 = ended.stdout.trim().parse().unwrap_or(i64::MAX);
    // Loose: the machine running the tests may be busy; the benchmark
    // (bench/tasks/run.sh, part d) measures the real figure.
    assert!(mean < 50, "mean lateness {mean} ms");
}

/// Waits for `child` to exit, at most `timeout` (then kills it: `None`).
fn wait(child: &mut std::process::Child, timeout: Duration) -> Option<std::process::ExitStatus> {
    let deadline = Instant::now() + timeout;
    loop {
        match child.try_wait() {
            Ok(Some(status)) => return Some(status),
            Ok(None) if Instant::now() < deadline => std::thread::sleep(Duration::from_millis(5)),
            _ => {
                let _ = child.kill();
                let _ = child.wait();
                return None;
            }
        }
    }
}
