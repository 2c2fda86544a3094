//! What the interop and scale tests add to the shared bounded child
//! processes of `tests/support`: the folder of their scripts and helpers,
//! rco run there, and a plain `python3` peer.

#[path = "../support/mod.rs"]
mod process;

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

pub use process::{run, Finished, Running};

/// The folder of the interop scripts and helpers.
pub fn dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/interop")
}

/// The rco binary under test, run in `dir()`.
pub fn rco() -> Command {
    process::rco_in(dir())
}

/// The rco binary under test run by `wrapper` (a command and its
/// arguments, such as `taskset -c 0`), in `dir()`; its own arguments follow.
pub fn rco_under(wrapper: &[&str]) -> Command {
    let mut cmd = Command::new(wrapper[0]);
    cmd.current_dir(dir()).args(&wrapper[1..]).arg(env!("CARGO_BIN_EXE_rco"));
    cmd
}

/// `python3`, or `None` (with a note on stderr) when it is missing: the
/// tests that need a foreign peer are then skipped, not failed.
pub fn python() -> Option<Command> {
    let found = Command::new("python3")
        .arg("--version")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    if !found {
        eprintln!("note: python3 not found; skipping this interop test");
        return None;
    }
    let mut cmd = Command::new("python3");
    cmd.current_dir(dir());
    Some(cmd)
}
