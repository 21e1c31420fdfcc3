//! The `pullseal` binary: parse arguments, run, map the error to an exit code.
use std::ffi::OsString;
use std::io::{self, IsTerminal as _, Write};
use std::process::ExitCode;

use clap::{CommandFactory, FromArgMatches as _};
use pullseal::cli::Cli;
use pullseal::frontend::{self, ProcessEnv, Report, kustomize};

/// The static (musl) binary's allocator: musl's own serialises every thread (see Cargo.toml).
#[cfg(target_env = "musl")]
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> ExitCode {
    // kustomize's legacy exec plugin runs pullseal with its config file as argv[1]; anything
    // else is the command line clap knows, with clap's own errors.
    let argv: Vec<OsString> = std::env::args_os().collect();
    // Built once: building clap's command is a tenth of a small render's CPU time.
    let command = Cli::command();
    let subcommands: Vec<&str> = command.get_subcommands().map(clap::Command::get_name).collect();
    let plugin = kustomize::plugin_call(&argv, &subcommands);
    // With no arguments at all pullseal is a KRM function (kpt fn eval --exec, kustomize
    // --enable-exec), unless a person is typing at it: then it shows how to use it.
    if argv.len() == 1 {
        let mut stderr = io::stderr().lock();
        let mut report = Report::open(&ProcessEnv, &mut stderr);
        if io::stdin().is_terminal() {
            let _ = write!(
                report,
                "{}\nWith no command and a KRM ResourceList on stdin, pullseal runs as a KRM function \
                 (kpt fn eval --exec pullseal, kustomize build --enable-alpha-plugins --enable-exec).\n",
                Cli::command().render_long_help()
            );
            report.finish(2);
            return ExitCode::from(2);
        }
        let code = exit_code(frontend::run_krm_function(&ProcessEnv, &mut report), &mut report);
        report.finish(code);
        return ExitCode::from(code);
    }
    // `--help` and `--version` print to stdout and exit 0, as clap does; every other parse
    // error is a usage error that goes through the report, so PULLSEAL_LOG has it too.
    let parsed = match plugin {
        Some(call) => Ok(Err(call)),
        // What `Cli::try_parse_from` does, on the command built above.
        None => command
            .try_get_matches_from(&argv)
            .and_then(|mut matches| {
                Cli::from_arg_matches_mut(&mut matches).map_err(|err| err.format(&mut Cli::command()))
            })
            .map(Ok)
            .map_err(|err| if err.use_stderr() { err } else { err.exit() }),
    };
    let mut stderr = io::stderr().lock();
    let mut report = Report::open(&ProcessEnv, &mut stderr);
    let result = match parsed {
        Err(err) => {
            let _ = write!(report, "{}", err.render());
            report.finish(2);
            return ExitCode::from(2);
        }
        Ok(Ok(cli)) => frontend::run(&cli.command, &ProcessEnv, &mut report),
        Ok(Err(call)) => frontend::run_kustomize_plugin(&call, &ProcessEnv, &mut report),
    };
    let code = exit_code(result, &mut report);
    report.finish(code);
    ExitCode::from(code)
}

/// The exit code of a run's `result`; an error is reported first.
fn exit_code(result: Result<(), pullseal::Error>, report: &mut Report<'_>) -> u8 {
    match result {
        Ok(()) => 0,
        // A closed pipe (`pullseal render | head`) is not an error worth a message.
        Err(pullseal::Error::Io { source, .. }) if source.kind() == io::ErrorKind::BrokenPipe => 0,
        Err(err) => {
            report.error(&err);
            err.exit_code()
        }
    }
}
