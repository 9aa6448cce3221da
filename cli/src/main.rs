//! The `eventsmith` binary: the tool without a domain (see the library's documentation).

fn main() -> std::process::ExitCode {
    eventsmith_cli::main()
}
