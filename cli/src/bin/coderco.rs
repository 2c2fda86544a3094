//! The `coderco` binary: the same program as `rco`, under the name the book
//! sometimes prints.
fn main() -> std::process::ExitCode {
    rco_cli::main()
}
