//! The `pullseal` binary: parse arguments, run, map the error to an exit code.
use std::io::{self, Write};
use std::process::ExitCode;

use clap::Parser;
use pullseal::cli::{Cli, Command};
use pullseal::frontend::{self, ProcessEnv};

fn main() -> ExitCode {
    let cli = Cli::parse();
    let mut stderr = io::stderr().lock();
    let result = match &cli.command {
        Command::Render(args) => frontend::render(
            args,
            &ProcessEnv,
            &mut io::stdin().lock(),
            &mut io::stdout().lock(),
            &mut stderr,
        ),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        // A closed pipe (`pullseal render | head`) is not an error worth a message.
        Err(pullseal::Error::Io { source, .. }) if source.kind() == io::ErrorKind::BrokenPipe => {
            ExitCode::SUCCESS
        }
        Err(err) => {
            let _ = writeln!(stderr, "error: {err}");
            let mut source = std::error::Error::source(&err);
            while let Some(cause) = source {
                let _ = writeln!(stderr, "  caused by: {cause}");
                source = cause.source();
            }
            if let Some(hint) = err.hint() {
                let _ = writeln!(stderr, "hint: {hint}");
            }
            ExitCode::from(err.exit_code())
        }
    }
}
