//! What a run tells the user: its warnings and its error, on stderr and, when `PULLSEAL_LOG`
//! names a file, appended to that file as one record per run.
//!
//! The log exists because Helm 4 runs a post-renderer plugin with its stderr captured and
//! never shown: `helm install` says only `plugin "pullseal" exited with error`
//! (`internal/plugin/runtime_subprocess.go`, `executeCmd`). With `PULLSEAL_LOG` set the same
//! lines still reach the user.
//!
//! What this module must *not* do:
//! - write anything but the stderr lines: never stdout content (a `seal: none` render puts a
//!   credential there), never a value from the catalog;
//! - turn a run into a failure, or a failure into a success: a log that cannot be opened or
//!   written is a warning on stderr, and the exit code is the render's.
//!
//! A record is appended in one write when the run ends, so runs sharing a log (Helm's
//! `separate` strategy, parallel Argo CD renders) do not interleave their lines. The file is
//! created readable by its owner only (0600); an existing file keeps its permissions.

use std::io::{self, Write};
use std::path::PathBuf;

use super::Env;
use super::inputs::without_path;
use crate::error::{Error, shown_path};

/// The diagnostics sink of one run: stderr, and the `PULLSEAL_LOG` record when there is one.
/// Everything written to it goes to both.
pub struct Report<'a> {
    stderr: &'a mut dyn Write,
    log: Option<Log>,
}

/// The open log and the record being collected for it.
struct Log {
    path: PathBuf,
    file: fs_err::File,
    record: Vec<u8>,
}

impl<'a> Report<'a> {
    /// Opens `PULLSEAL_LOG` (appending, created 0600) when it is set. A log that cannot be
    /// opened is reported on `stderr` and the run goes on without it.
    pub fn open(env: &dyn Env, stderr: &'a mut dyn Write) -> Report<'a> {
        let log = env
            .var("PULLSEAL_LOG")
            .map(PathBuf::from)
            .and_then(|path| match open_append(&path) {
                Ok(file) => Some(Log {
                    record: header().into_bytes(),
                    path,
                    file,
                }),
                Err(err) => {
                    let err = without_path(err, &path);
                    let _ = writeln!(
                        stderr,
                        "warning: PULLSEAL_LOG: cannot open {}: {err}; diagnostics go to stderr only",
                        shown_path(&path)
                    );
                    None
                }
            });
        Report { stderr, log }
    }

    /// Writes `err` as `main` prints every error: the message, each cause, then the hint.
    pub fn error(&mut self, err: &Error) {
        let _ = writeln!(self, "error: {err}");
        let mut source = std::error::Error::source(err);
        while let Some(cause) = source {
            let _ = writeln!(self, "  caused by: {cause}");
            source = cause.source();
        }
        if let Some(hint) = err.hint() {
            let _ = writeln!(self, "hint: {hint}");
        }
    }

    /// Ends the run: appends its record, closed by the exit code, to the log. A log that
    /// cannot be written is a warning on stderr; it never changes `exit_code`.
    pub fn finish(mut self, exit_code: u8) {
        let Some(mut log) = self.log.take() else {
            return;
        };
        let meaning = Error::exit_meaning(exit_code);
        let _ = writeln!(log.record, "=== end: exit {exit_code} ({meaning}) ===");
        let written = log.file.write_all(&log.record).and_then(|()| log.file.flush());
        if let Err(err) = written {
            let err = without_path(err, &log.path);
            let _ = writeln!(
                self.stderr,
                "warning: PULLSEAL_LOG: cannot write {}: {err}",
                shown_path(&log.path)
            );
        }
    }
}

impl Write for Report<'_> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        if let Some(log) = &mut self.log {
            log.record.extend_from_slice(buf);
        }
        // stderr going away must not hide the line from the log, nor fail the run.
        let _ = self.stderr.write_all(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        self.stderr.flush()
    }
}

/// The line that opens a record: which pullseal, which process, when (UTC).
fn header() -> String {
    let now = time::OffsetDateTime::now_utc()
        .replace_nanosecond(0)
        .ok()
        .and_then(|t| t.format(&time::format_description::well_known::Rfc3339).ok())
        .unwrap_or_else(|| "unknown time".to_owned());
    format!(
        "=== pullseal {} (pid {}) at {now} ===\n",
        env!("CARGO_PKG_VERSION"),
        std::process::id()
    )
}

#[cfg(unix)]
fn open_append(path: &std::path::Path) -> io::Result<fs_err::File> {
    use fs_err::os::unix::fs::OpenOptionsExt;
    fs_err::OpenOptions::new()
        .append(true)
        .create(true)
        .mode(0o600)
        .open(path)
}

#[cfg(not(unix))]
fn open_append(path: &std::path::Path) -> io::Result<fs_err::File> {
    fs_err::OpenOptions::new().append(true).create(true).open(path)
}

#[cfg(test)]
mod tests {
    use super::*;

    struct LogAt(Option<PathBuf>);

    impl Env for LogAt {
        fn var(&self, name: &str) -> Option<String> {
            self.0
                .as_ref()
                .filter(|_| name == "PULLSEAL_LOG")
                .map(|p| p.display().to_string())
        }

        fn cwd(&self) -> io::Result<PathBuf> {
            Ok(PathBuf::from("/"))
        }
    }

    /// Records are appended, one per run, each with the stderr lines between its header and
    /// its exit line; the file is created 0600.
    #[test]
    fn every_run_appends_one_record_with_the_stderr_lines() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("pullseal.log");
        for (line, code) in [("warning: first", 0), ("error: second", 1)] {
            let mut stderr = Vec::new();
            let mut report = Report::open(&LogAt(Some(path.clone())), &mut stderr);
            writeln!(report, "{line}").unwrap();
            report.finish(code);
            assert_eq!(String::from_utf8(stderr).unwrap(), format!("{line}\n"));
        }
        let log = fs_err::read_to_string(&path).unwrap();
        let lines: Vec<&str> = log.lines().collect();
        assert_eq!(lines.len(), 6, "{log}");
        assert!(lines[0].starts_with("=== pullseal ") && lines[3].starts_with("=== pullseal "));
        assert_eq!(&lines[1..3], ["warning: first", "=== end: exit 0 (rendered) ==="]);
        assert_eq!(
            &lines[4..],
            [
                "error: second",
                "=== end: exit 1 (the manifests have problems) ==="
            ]
        );
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = fs_err::metadata(&path).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
        }
    }

    /// A log that cannot be opened is a warning on stderr; the lines still reach stderr.
    #[test]
    fn an_unwritable_log_is_a_warning_only() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("no-such-dir/pullseal.log");
        let mut stderr = Vec::new();
        let mut report = Report::open(&LogAt(Some(path)), &mut stderr);
        writeln!(report, "error: it failed").unwrap();
        report.finish(1);
        let shown = String::from_utf8(stderr)
            .unwrap()
            .replace(&dir.path().display().to_string(), "[tmp]");
        insta::assert_snapshot!(shown, @r"
        warning: PULLSEAL_LOG: cannot open [tmp]/no-such-dir/pullseal.log: No such file or directory (os error 2); diagnostics go to stderr only
        error: it failed
        ");
    }

    #[test]
    fn without_pullseal_log_only_stderr_is_written() {
        let mut stderr = Vec::new();
        let mut report = Report::open(&LogAt(None), &mut stderr);
        writeln!(report, "warning: w").unwrap();
        report.finish(0);
        assert_eq!(stderr, b"warning: w\n");
    }
}
