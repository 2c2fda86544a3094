//! What the WebSocket interop tests add to the shared bounded child
//! processes of `tests/support`: the folder of their scripts, Python peers
//! and expected outputs, rco run there, and a `python3` that has the
//! `websockets` package.

#[path = "../support/mod.rs"]
mod process;

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::OnceLock;

pub use process::{run, Running};

/// The folder of the scripts and Python peers.
pub fn dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/ws_interop")
}

/// The rco binary under test, run in `dir()`.
pub fn rco() -> Command {
    process::rco_in(dir())
}

/// `python3` with the `websockets` package (the asyncio and sync APIs of
/// websockets >= 13), or `None` with a note: the test is then skipped.
pub fn python() -> Option<Command> {
    static FOUND: OnceLock<Result<(), String>> = OnceLock::new();
    let found = FOUND.get_or_init(|| {
        let probe = Command::new("python3")
            .args(["-c", "import websockets.asyncio.client, websockets.asyncio.server, websockets.sync.client"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status();
        match probe {
            Err(_) => Err("python3 not found".into()),
            Ok(s) if !s.success() => {
                Err("the Python `websockets` package (>= 13) is missing: python3 -m pip install websockets".into())
            }
            Ok(_) => Ok(()),
        }
    });
    if let Err(why) = found {
        eprintln!("note: {why}; skipping this WebSocket interop test");
        return None;
    }
    let mut cmd = Command::new("python3");
    cmd.current_dir(dir()).env("PYTHONIOENCODING", "utf-8").env("PYTHONUNBUFFERED", "1");
    Some(cmd)
}

/// The expected output file `name` of `dir()`.
pub fn expected(name: &str) -> String {
    std::fs::read_to_string(dir().join(name)).unwrap_or_else(|e| panic!("cannot read {name}: {e}"))
}
