//! A `Host` for tests: collects output, answers effects at once.

use rco_lang::{Host, Stream, TaskState, Value, Vm};

#[derive(Default)]
pub struct TestHost {
    pub out: String,
    pub err: String,
}

impl Host for TestHost {
    fn write(&mut self, stream: Stream, text: &str) {
        match stream {
            Stream::Stdout => self.out.push_str(text),
            Stream::Stderr => self.err.push_str(text),
        }
    }
    fn args(&self) -> Vec<String> {
        vec!["a".into(), "1".into()]
    }
    fn now_ms(&self) -> i64 {
        0
    }
    fn runtime_capabilities(&mut self) -> Value {
        Value::Nil
    }
    fn spawn(&mut self, _task: Vm) -> Result<u64, String> {
        Err("no tasks in this host".into())
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
    fn sockets_enabled(&self) -> bool {
        false
    }
}
