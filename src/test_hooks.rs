//! Panics injected by tests (compiled only with the `test-hooks` feature,
//! which only the test builds of the CLI enable: no script, flag or
//! production build can reach it).
//!
//! `RCO_TEST_PANIC=print:TEXT` panics in the `print` whose text contains
//! TEXT (inside the VM's run, in a word); `RCO_TEST_PANIC=sleep:MS` panics
//! when the glue starts a sleep of MS milliseconds (outside the VM);
//! `RCO_TEST_PANIC=ahead:ID` panics when task ID starts its run ahead
//! (inside its spawner's run).

use std::sync::OnceLock;

fn setting() -> &'static Option<(String, String)> {
    static SETTING: OnceLock<Option<(String, String)>> = OnceLock::new();
    SETTING.get_or_init(|| {
        let value = std::env::var("RCO_TEST_PANIC").ok()?;
        let (place, arg) = value.split_once(':')?;
        Some((place.to_string(), arg.to_string()))
    })
}

/// Called by every print.
pub fn on_print(text: &str) {
    if let Some((place, arg)) = setting() {
        if place == "print" && text.contains(arg.as_str()) {
            panic!("injected panic in print");
        }
    }
}

/// Called when a task's run ahead starts.
pub fn on_run_ahead(task: u64) {
    if let Some((place, arg)) = setting() {
        if place == "ahead" && arg.parse() == Ok(task) {
            panic!("injected panic in a run ahead");
        }
    }
}

/// Called when a sleep starts.
pub fn on_sleep(ms: u64) {
    if let Some((place, arg)) = setting() {
        if place == "sleep" && arg.parse() == Ok(ms) {
            panic!("injected panic in sleep");
        }
    }
}
