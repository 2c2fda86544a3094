//! The glue between the language and the runtime: runs a compiled program
//! to its end and turns its outcome into output and an exit status.
//!
//! Invariants: output is written as the program prints it (stdout is
//! line-buffered and flushed before exit); after a normal end, values left
//! on the stack give one `note:` line on stderr (DIALECT point 3); after a
//! runtime error the diagnostic goes to stderr and the status is 1.

use crate::capabilities::{Capabilities, TaskCounts};
use rco_lang::{Effect, Host, Outcome, Program, Resume, Stream, TaskState, Value, Vm};
use std::io::{BufRead, Write};
use std::sync::Arc;

/// How to run a program.
pub struct Config {
    pub args: Vec<String>,
    pub capabilities: Capabilities,
    pub max_tasks: usize,
    pub max_sockets: usize,
}

/// Instructions a VM runs before it yields to others.
const SLICE: u64 = 10_000;

struct CliHost {
    config: Config,
}

impl Host for CliHost {
    fn write(&mut self, stream: Stream, text: &str) {
        let _ = match stream {
            Stream::Stdout => std::io::stdout().lock().write_all(text.as_bytes()),
            Stream::Stderr => std::io::stderr().lock().write_all(text.as_bytes()),
        };
    }

    fn read_line(&mut self) -> Option<String> {
        let mut line = String::new();
        match std::io::stdin().lock().read_line(&mut line) {
            Ok(0) | Err(_) => None,
            Ok(_) => Some(line),
        }
    }

    fn args(&self) -> Vec<String> {
        self.config.args.clone()
    }

    fn now_ms(&self) -> i64 {
        std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_millis() as i64).unwrap_or(0)
    }

    fn runtime_capabilities(&mut self) -> Value {
        self.config.capabilities.map(TaskCounts { known: 0, running: 0, max_running: self.config.max_tasks })
    }

    fn spawn(&mut self, _task: Vm) -> Result<u64, String> {
        Err("tasks are not supported yet".into())
    }

    fn task_state(&mut self, _id: u64) -> TaskState {
        TaskState::Consumed
    }

    fn release_task(&mut self, _id: u64) -> Result<bool, String> {
        Ok(false)
    }

    fn running_tasks(&mut self) -> Vec<u64> {
        Vec::new()
    }
}

/// Runs `program` and returns the process exit status.
pub fn run(program: Arc<Program>, config: Config) -> i32 {
    let _ = config.max_sockets;
    let mut host = CliHost { config };
    let mut vm = Vm::new(program.clone());
    let status = loop {
        match vm.run(&mut host, SLICE) {
            Outcome::Yielded => continue,
            Outcome::Blocked(effect) => {
                let answer = match effect {
                    Effect::Sleep(ms) if host.config.capabilities.sleep => {
                        std::thread::sleep(std::time::Duration::from_millis(ms));
                        Resume::Done
                    }
                    Effect::Sleep(_) => {
                        Resume::Error(rco_lang::VmError::host("sleep", "sleep capability is not enabled"))
                    }
                    Effect::Await(id) => Resume::Error(rco_lang::VmError::new(
                        rco_lang::ErrorKind::UnknownTask,
                        format!("unknown task: {id}"),
                    )),
                };
                if let Err(failure) = vm.resume(answer) {
                    report_failure(&failure, &program);
                    break 1;
                }
            }
            Outcome::Finished(stack) => {
                let _ = std::io::stdout().flush();
                if !stack.is_empty() {
                    let values: Vec<String> = stack.iter().map(|v| rco_lang::render::notation(v, &program)).collect();
                    let noun = if stack.len() == 1 { "value" } else { "values" };
                    eprintln!("note: {} {noun} left on the stack: {}", stack.len(), values.join(" "));
                }
                break 0;
            }
            Outcome::Exited(code) => break code,
            Outcome::Failed(failure) => {
                report_failure(&failure, &program);
                break 1;
            }
        }
    };
    let _ = std::io::stdout().flush();
    status
}

fn report_failure(failure: &rco_lang::Failure, program: &Program) {
    let _ = std::io::stdout().flush();
    let _ = std::io::stderr().write_all(failure.render(program).as_bytes());
}
