//! The `sigflow` binary: all logic lives in the library; this only hands over.

fn main() -> std::process::ExitCode {
    sigflow::cli::main()
}
