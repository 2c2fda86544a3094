//! The `rco` command line: `run`, `check` and `disasm` (DIALECT, "The
//! command line").
//!
//! Exit status: 0 on success; 1 for a compile or runtime error; 2 for a
//! usage error (clap's message); N for `N exit`.

#![forbid(unsafe_code)]

use clap::{Parser, Subcommand};
use rco::capabilities::CapabilityFlags;
use rco::runtime;
use std::io::Write as _;
use std::process::ExitCode;
use std::sync::Arc;

/// mimalloc instead of the system allocator: every task, message and
/// reply is a few small allocations made on one worker and often freed on
/// another, where glibc's malloc spent a third of the time of a
/// spawn-and-await benchmark (docs/BENCHMARKS.md, "Tasks"). Built with
/// `no_thp` (Cargo.toml): with transparent huge pages its arenas were
/// backed by 2 MiB pages, and 100,000 parked tasks cost 590-650 bytes of
/// RSS each instead of 460-490.
#[global_allocator]
static ALLOCATOR: rco::MiMalloc = rco::MiMalloc;

/// Ricochet: a postfix, stack-based scripting language whose heart is sockets.
#[derive(Parser, Debug)]
#[command(name = "rco", version, about, propagate_version = true)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Run a script; everything after FILE goes to `args`.
    Run(RunArgs),
    /// Compile a script without running it and report every diagnostic.
    Check {
        /// The script.
        file: String,
    },
    /// Print the bytecode a script compiles to.
    Disasm {
        /// The script.
        file: String,
    },
}

#[derive(clap::Args, Debug)]
struct RunArgs {
    #[command(flatten)]
    caps: CapabilityFlags,
    /// How many tasks may run at once.
    #[arg(long, value_name = "N", default_value_t = 100_000)]
    max_tasks: usize,
    /// How many sockets each registry may retain.
    #[arg(long, value_name = "N", default_value_t = 10_000)]
    max_sockets: usize,
    /// The script.
    file: String,
    /// Arguments for the script (`args`).
    #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
    args: Vec<String>,
}

/// Entry point of both binaries.
pub fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.command {
        Command::Run(run) => {
            // A malformed flag stops the program before it runs (DIALECT 9).
            let capabilities = match run.caps.resolve() {
                Ok(c) => c,
                Err(usage) => {
                    eprintln!("error: {usage}");
                    return ExitCode::from(2);
                }
            };
            let Some(program) = load(&run.file) else {
                return ExitCode::from(1);
            };
            let config = runtime::Config {
                args: run.args,
                capabilities,
                max_tasks: run.max_tasks,
                max_sockets: run.max_sockets,
            };
            runtime::run(program, config)
        }
        Command::Check { file } => match load(&file) {
            Some(_) => {
                println!("checked {file}");
                ExitCode::SUCCESS
            }
            None => ExitCode::from(1),
        },
        Command::Disasm { file } => match load(&file) {
            Some(program) => {
                print!("{}", program.disassemble());
                ExitCode::SUCCESS
            }
            None => ExitCode::from(1),
        },
    }
}

/// Reads and compiles a script, printing its diagnostics on failure.
fn load(file: &str) -> Option<Arc<rco_lang::Program>> {
    let source = match std::fs::read_to_string(file) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("error: cannot read {file}: {e}");
            return None;
        }
    };
    match rco_lang::compile(file, &source) {
        Ok(p) => Some(Arc::new(p)),
        Err(errors) => {
            let text = rco_lang::diagnostic::render_all(file, &source, &errors);
            let _ = std::io::stderr().write_all(text.as_bytes());
            None
        }
    }
}
