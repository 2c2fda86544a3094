//! Golden program tests: every `tests/golden/**/NAME.rco` runs under the
//! real `rco` binary and its stdout, stderr and exit status are compared
//! with `NAME.out`, `NAME.err` (absent = empty) and the `(( exit: N ))`
//! directive (absent = 0). `NAME.in` is fed to stdin; `(( rco-args: ... ))`
//! and `(( script-args: ... ))` work as in the conformance suite.
//!
//! Bless (rewrite the expected files from what rco prints) with
//! `RCO_BLESS=1 cargo test --test golden`; review the diff before committing.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

fn directive(source: &str, name: &str) -> Option<String> {
    let start = source.find(&format!("(( {name}:"))?;
    let rest = &source[start + name.len() + 4..];
    let end = rest.find("))")?;
    Some(rest[..end].trim().to_string())
}

fn cases(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else { return };
    for entry in entries.flatten() {
        let path = entry.path();
        if path.is_dir() {
            cases(&path, out);
        } else if path.extension().is_some_and(|e| e == "rco") {
            out.push(path);
        }
    }
}

fn read(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_default()
}

#[test]
fn golden_programs() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/golden");
    let mut files = Vec::new();
    cases(&root, &mut files);
    files.sort();
    assert!(!files.is_empty(), "no golden programs under {}", root.display());
    let bless = std::env::var_os("RCO_BLESS").is_some();
    let mut failures = Vec::new();
    for file in &files {
        let source = read(file);
        let dir = file.parent().expect("a case lives in a folder");
        let name = file.file_name().expect("a case has a name").to_string_lossy().to_string();
        let command = directive(&source, "rco-command").unwrap_or_else(|| "run".into());
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_rco"));
        cmd.current_dir(dir).arg(&command);
        if let Some(flags) = directive(&source, "rco-args") {
            cmd.args(flags.split_whitespace());
        }
        cmd.arg(&name);
        if let Some(args) = directive(&source, "script-args") {
            cmd.args(args.split_whitespace());
        }
        let input = file.with_extension("in");
        cmd.stdin(if input.exists() {
            Stdio::from(std::fs::File::open(&input).expect("open .in"))
        } else {
            Stdio::null()
        });
        let output = cmd.output().expect("run rco");
        let (out, err) = (String::from_utf8_lossy(&output.stdout), String::from_utf8_lossy(&output.stderr));
        let code = output.status.code().unwrap_or(-1);
        let want_code: i32 = directive(&source, "exit").and_then(|c| c.parse().ok()).unwrap_or(0);
        if bless {
            std::fs::write(file.with_extension("out"), out.as_bytes()).expect("bless .out");
            if err.is_empty() {
                let _ = std::fs::remove_file(file.with_extension("err"));
            } else {
                std::fs::write(file.with_extension("err"), err.as_bytes()).expect("bless .err");
            }
            continue;
        }
        let want_out = read(&file.with_extension("out"));
        let want_err = read(&file.with_extension("err"));
        if out != want_out || err != want_err || code != want_code {
            failures.push(format!(
                "{}: exit {code} (want {want_code})\n--- stdout\n{out}--- want\n{want_out}--- stderr\n{err}--- want\n{want_err}",
                file.display()
            ));
        }
    }
    assert!(failures.is_empty(), "{} golden programs differ:\n{}", failures.len(), failures.join("\n"));
}
