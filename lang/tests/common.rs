//! A `Host` for tests: collects output, answers effects at once.

use rco_lang::{Host, Stream};

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
}
