//! `pullseal validate`: check the catalog's registries against the live servers, several at
//! once, and report one line (or one JSON object) per registry.
//!
//! The checks themselves are [`crate::registry::v2`]'s; an Amazon ECR registry first has its
//! AWS keys exchanged for a token ([`crate::registry::ecr_token`], on the pool's thread like
//! its check), then is checked with Basic `AWS:<token>` against its catalog server. A refused
//! exchange is `invalid-credentials`, an AWS that cannot be reached `unreachable`; once the
//! exchange worked, the status is the registry check's (a registry server that cannot be
//! reached is `unreachable` too), and the reason says that the exchange worked.
//!
//! This module chooses the registries,
//! gives each its credential ([`credentials`], the one place that knows where a check's
//! credential comes from), runs them on a bounded pool of threads, shows progress on a
//! terminal, and writes the report to stdout once every check has ended. The run fails
//! ([`Error::Validate`], exit 6) when any registry is not valid.
//!
//! What this module must *not* do:
//! - print a credential, a token or an `Authorization` header: the report holds names,
//!   servers, statuses and the checks' reasons, which `v2` writes without them;
//! - draw progress anywhere but a terminal's stderr, or from any thread but the caller's
//!   (which holds the stderr lock), or into `PULLSEAL_LOG`;
//! - write stdout before every check has ended.

use std::collections::BTreeSet;
use std::fmt::Write as _;
use std::io::{self, IsTerminal as _, Write};
use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc;
use std::time::Duration;

use super::inputs::{io, locate_catalog};
use super::{Env, Report};
use crate::catalog::{Catalog, Registry, RegistryType};
use crate::cli::{OutputFormat, ValidateArgs};
use crate::error::{Error, shown, shown_path};
use crate::registry::ecr_token::{self, AwsEndpoints, TokenError};
use crate::registry::v2::{Check, Credentials, Endpoint, Outcome, Status, Transport, ca_certificates};
use crate::registry::{Ecr, Login};

/// One registry to check, owned so that the pool's threads need nothing of the catalog.
struct Job {
    name: String,
    server: String,
    /// The endpoint, or why there is none to check.
    endpoint: Result<Endpoint, (Status, String)>,
    credentials: Option<Credentials>,
    /// An ECR registry's AWS settings: its credential is a token made from them.
    ecr: Option<Ecr>,
}

/// One line of the report.
struct Line {
    name: String,
    server: String,
    outcome: Outcome,
}

/// Runs `pullseal validate`: the report goes to `stdout`, progress to a terminal's stderr.
pub(crate) fn validate(
    args: &ValidateArgs,
    env: &dyn Env,
    stdout: &mut dyn Write,
    report: &mut Report<'_>,
) -> Result<(), Error> {
    let timeout = Duration::from_secs_f64(args.timeout);
    let deadline = args
        .deadline
        .map_or_else(|| timeout.saturating_mul(3), Duration::from_secs_f64);
    let transport = transport(args)?;
    let cwd = env.cwd().map_err(io("read", Path::new(".")))?;
    let catalog_path = locate_catalog(args.catalog.as_deref(), &cwd)?;
    let identities = super::identities(args.age_key_file.as_deref(), env)?;
    let catalog = Catalog::load(&catalog_path, &identities)?;
    let jobs = select(&catalog, &args.names, args.insecure)?;
    let aws = AwsEndpoints::from_env(|name| env.var(name));

    let progress = progress_bar(jobs.len());
    let lines = run_pool(&jobs, args, (&aws, &transport), (timeout, deadline), &progress);
    progress.finish_and_clear();

    let text = match args.output {
        OutputFormat::Table => table(&lines),
        OutputFormat::Json => json(&lines, args.repository.as_deref()),
    };
    stdout
        .write_all(text.as_bytes())
        .and_then(|()| stdout.flush())
        .map_err(io("write", Path::new("<stdout>")))?;
    let failed: Vec<String> = lines
        .iter()
        .filter(|l| l.outcome.status != Status::Valid)
        .map(|l| shown(&l.name))
        .collect();
    let _ = report.flush();
    if failed.is_empty() {
        Ok(())
    } else {
        Err(Error::Validate {
            failed,
            total: lines.len(),
        })
    }
}

/// The roots and overrides of `--ca-file` and `--connect-to`. A CA file that cannot be read or
/// holds no usable certificate is a usage error naming it; its content is never quoted.
fn transport(args: &ValidateArgs) -> Result<Transport, Error> {
    let mut roots = Vec::new();
    for path in &args.ca_file {
        // std's error, not fs_err's: the message names the file once, as the flag gave it.
        #[allow(clippy::disallowed_methods)]
        let pem = std::fs::read(path)
            .map_err(|e| Error::Usage(format!("--ca-file {} cannot be read: {e}", shown_path(path))))?;
        let certificates =
            ca_certificates(&pem).map_err(|e| Error::Usage(format!("--ca-file {} {e}", shown_path(path))))?;
        roots.extend(certificates);
    }
    Ok(Transport::new(roots, args.connect_to.clone()))
}

/// The registries named (every one for none), in catalog order; an unknown name is a usage
/// error that lists the known ones.
fn select(catalog: &Catalog, names: &[String], insecure: bool) -> Result<Vec<Job>, Error> {
    let known: Vec<&crate::reference::RegistryName> = catalog.registry_names().collect();
    let wanted: BTreeSet<&str> = names.iter().map(String::as_str).collect();
    let unknown: Vec<String> = wanted
        .iter()
        .filter(|n| !known.iter().any(|k| k.as_str() == **n))
        .map(|n| shown(n))
        .collect();
    if !unknown.is_empty() {
        return Err(Error::Usage(format!(
            "the catalog has no registry named {}; it has {}",
            unknown.join(", "),
            known
                .iter()
                .map(|k| shown(k.as_str()))
                .collect::<Vec<_>>()
                .join(", ")
        )));
    }
    Ok(known
        .into_iter()
        .filter(|k| wanted.is_empty() || wanted.contains(k.as_str()))
        .filter_map(|k| catalog.registry(k))
        .map(|registry| job(registry, insecure))
        .collect())
}

fn job(registry: &Registry, insecure: bool) -> Job {
    let server = registry.server.to_string();
    let endpoint = Endpoint::for_server(&server, insecure).map_err(|e| (Status::Unchecked, e.to_string()));
    let ecr = match registry.check_credentials() {
        Login::Ecr(ecr) if registry.kind == RegistryType::Ecr => Some(ecr.clone()),
        _ => None,
    };
    Job {
        name: registry.name.as_str().to_owned(),
        server,
        endpoint,
        credentials: credentials(registry),
        ecr,
    }
}

/// The credential a check uses, as the registry's provider says
/// ([`Registry::check_credentials`]): Basic (or a token fetched with it), else none. ECR's is
/// made from its token, on the pool's thread ([`run_job`]).
fn credentials(registry: &Registry) -> Option<Credentials> {
    match registry.check_credentials() {
        Login::Basic { username, password } => Some(Credentials::new(username.clone(), password.clone())),
        Login::Anonymous | Login::Ecr(_) => None,
    }
}

/// Runs every job on at most `--jobs` threads; lines come back in the jobs' order. Progress
/// is drawn here, on the calling thread, as results arrive.
fn run_pool(
    jobs: &[Job],
    args: &ValidateArgs,
    reach: (&AwsEndpoints, &Transport),
    (timeout, deadline): (Duration, Duration),
    progress: &indicatif::ProgressBar,
) -> Vec<Line> {
    let next = AtomicUsize::new(0);
    let workers = usize::from(args.jobs).min(jobs.len()).max(1);
    let mut outcomes: Vec<Option<Outcome>> = jobs.iter().map(|_| None).collect();
    std::thread::scope(|scope| {
        let (send, receive) = mpsc::channel::<(usize, Outcome)>();
        for _ in 0..workers {
            let send = send.clone();
            let next = &next;
            scope.spawn(move || {
                loop {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    let Some(job) = jobs.get(i) else { break };
                    let outcome = run_job(job, args, reach, timeout, deadline);
                    if send.send((i, outcome)).is_err() {
                        break;
                    }
                }
            });
        }
        drop(send);
        loop {
            match receive.recv_timeout(Duration::from_millis(100)) {
                Ok((i, outcome)) => {
                    if let Some(job) = jobs.get(i) {
                        progress.set_message(format!("{} {}", shown(&job.name), outcome.status));
                    }
                    progress.inc(1);
                    if let Some(slot) = outcomes.get_mut(i) {
                        *slot = Some(outcome);
                    }
                }
                Err(mpsc::RecvTimeoutError::Timeout) => progress.tick(),
                Err(mpsc::RecvTimeoutError::Disconnected) => break,
            }
        }
    });
    jobs.iter()
        .zip(outcomes)
        .map(|(job, outcome)| Line {
            name: job.name.clone(),
            server: job.server.clone(),
            outcome: outcome.unwrap_or_else(|| Outcome {
                status: Status::Unchecked,
                reason: "the check did not report".to_owned(),
                latency: Duration::ZERO,
                endpoint: String::new(),
            }),
        })
        .collect()
}

fn run_job(
    job: &Job,
    args: &ValidateArgs,
    (aws, transport): (&AwsEndpoints, &Transport),
    timeout: Duration,
    deadline: Duration,
) -> Outcome {
    let endpoint = match &job.endpoint {
        Err((status, reason)) => {
            return Outcome {
                status: *status,
                reason: reason.clone(),
                latency: Duration::ZERO,
                endpoint: String::new(),
            };
        }
        Ok(endpoint) => endpoint,
    };
    let check = |credentials: Option<&Credentials>| {
        Check {
            endpoint,
            credentials,
            repository: args.repository.as_deref(),
            reference: args.reference.as_deref(),
            timeout,
            deadline,
            transport,
        }
        .run()
    };
    let Some(ecr) = &job.ecr else {
        return check(job.credentials.as_ref());
    };
    let started = std::time::Instant::now();
    match ecr_token::fetch(ecr, aws, timeout) {
        Err(e) => Outcome {
            status: token_status(&e),
            reason: format!("the AWS keys were not exchanged for a registry token: {e}"),
            latency: started.elapsed(),
            endpoint: String::new(),
        },
        Ok(token) => {
            let credentials = Credentials::new("AWS".to_owned().into(), token.password().clone());
            let outcome = check(Some(&credentials));
            Outcome {
                reason: format!(
                    "AWS exchanged the keys for a registry token (ecr:GetAuthorizationToken), and with it: {}",
                    outcome.reason
                ),
                latency: started.elapsed(),
                ..outcome
            }
        }
    }
}

/// The status of an ECR registry whose token exchange failed: AWS refused the keys, AWS
/// cannot be reached, or this build cannot ask.
fn token_status(error: &TokenError) -> Status {
    match error {
        TokenError::Refused { .. } => Status::InvalidCredentials,
        TokenError::NoFeature | TokenError::Setup(_) => Status::Unchecked,
        TokenError::Unreachable { .. } | TokenError::BadAnswer { .. } | TokenError::Expired { .. } => {
            Status::Unreachable
        }
    }
}

/// A bar on a terminal's stderr; hidden otherwise (pipes, CI logs, tests).
fn progress_bar(len: usize) -> indicatif::ProgressBar {
    if !io::stderr().is_terminal() {
        return indicatif::ProgressBar::hidden();
    }
    let bar = indicatif::ProgressBar::with_draw_target(
        Some(u64::try_from(len).unwrap_or(u64::MAX)),
        indicatif::ProgressDrawTarget::stderr(),
    );
    if let Ok(style) =
        indicatif::ProgressStyle::with_template("{spinner} checking registries {pos}/{len} [{elapsed}] {msg}")
    {
        bar.set_style(style);
    }
    bar
}

/// The table: name, server, status, latency, reason.
fn table(lines: &[Line]) -> String {
    let rows: Vec<[String; 5]> = lines
        .iter()
        .map(|l| {
            [
                shown(&l.name),
                shown(&l.server),
                l.outcome.status.label().to_owned(),
                format!("{} ms", l.outcome.latency.as_millis()),
                l.outcome.reason.clone(),
            ]
        })
        .collect();
    let header = ["NAME", "SERVER", "STATUS", "LATENCY", "REASON"].map(str::to_owned);
    let mut widths = [0usize; 5];
    for row in std::iter::once(&header).chain(&rows) {
        for (w, cell) in widths.iter_mut().zip(row) {
            *w = (*w).max(cell.chars().count());
        }
    }
    let mut out = String::new();
    for row in std::iter::once(&header).chain(&rows) {
        let mut line = String::new();
        for (i, (cell, w)) in row.iter().zip(widths).enumerate() {
            if i == 4 {
                line.push_str(cell);
            } else if i == 3 {
                let _ = write!(line, "{cell:>w$}  ");
            } else {
                let _ = write!(line, "{cell:<w$}  ");
            }
        }
        out.push_str(line.trim_end());
        out.push('\n');
    }
    out
}

/// `{"registries": [{"name", "server", "endpoint", "repository", "status", "reason",
/// "latency_ms"}]}`, pretty-printed, keys sorted.
fn json(lines: &[Line], repository: Option<&str>) -> String {
    let registries: Vec<serde_json::Value> = lines
        .iter()
        .map(|l| {
            serde_json::json!({
                "name": l.name,
                "server": l.server,
                "endpoint": l.outcome.endpoint,
                "repository": repository,
                "status": l.outcome.status.as_str(),
                "reason": l.outcome.reason,
                "latency_ms": u64::try_from(l.outcome.latency.as_millis()).unwrap_or(u64::MAX),
            })
        })
        .collect();
    let mut text = serde_json::to_string_pretty(&serde_json::json!({ "registries": registries }))
        .unwrap_or_else(|_| "{}".to_owned());
    text.push('\n');
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    fn line(name: &str, status: Status, ms: u64, reason: &str) -> Line {
        Line {
            name: name.to_owned(),
            server: format!("{name}.example.com"),
            outcome: Outcome {
                status,
                reason: reason.to_owned(),
                latency: Duration::from_millis(ms),
                endpoint: format!("https://{name}.example.com"),
            },
        }
    }

    #[test]
    fn the_table_and_json_shapes_are_pinned() {
        let lines = [
            line(
                "company",
                Status::Valid,
                12,
                "the credentials open https://company.example.com (Basic)",
            ),
            line("hub", Status::InvalidCredentials, 1234, "refused"),
            line("odd name", Status::Unreachable, 2000, "timeout"),
        ];
        insta::assert_snapshot!(table(&lines), @r#"
        NAME        SERVER                  STATUS               LATENCY  REASON
        company     company.example.com     valid                  12 ms  the credentials open https://company.example.com (Basic)
        hub         hub.example.com         invalid credentials  1234 ms  refused
        "odd name"  "odd name.example.com"  unreachable          2000 ms  timeout
        "#);
        insta::assert_snapshot!(json(&lines[..1], Some("web")), @r#"
        {
          "registries": [
            {
              "endpoint": "https://company.example.com",
              "latency_ms": 12,
              "name": "company",
              "reason": "the credentials open https://company.example.com (Basic)",
              "repository": "web",
              "server": "company.example.com",
              "status": "valid"
            }
          ]
        }
        "#);
    }
}
