//! The `pullseal` binary: parse arguments, run, map the error to an exit code.
use std::io::{self, Write};
use std::process::ExitCode;

use clap::Parser;
use pullseal::cli::Cli;
use pullseal::frontend::{self, ProcessEnv, Report};

fn main() -> ExitCode {
    // `--help` and `--version` print to stdout and exit 0, as clap does; every other parse
    // error is a usage error that goes through the report, so PULLSEAL_LOG has it too.
    let parsed = Cli::try_parse().map_err(|err| if err.use_stderr() { err } else { err.exit() });
    let mut stderr = io::stderr().lock();
    let mut report = Report::open(&ProcessEnv, &mut stderr);
    let code = match parsed {
        Err(err) => {
            let _ = write!(report, "{}", err.render());
            2
        }
        Ok(cli) => match frontend::run(&cli.command, &ProcessEnv, &mut report) {
            Ok(()) => 0,
            // A closed pipe (`pullseal render | head`) is not an error worth a message.
            Err(pullseal::Error::Io { source, .. }) if source.kind() == io::ErrorKind::BrokenPipe => 0,
            Err(err) => {
                report.error(&err);
                err.exit_code()
            }
        },
    };
    report.finish(code);
    ExitCode::from(code)
}
