//! The `rco` binary: see `rco_cli`.
fn main() -> std::process::ExitCode {
    rco_cli::main()
}
