//! `pullseal doctor`: what a render would use, and whether it would fail, checked without
//! rendering anything.
//!
//! The report has one line per check, each opening with `ok`, `info`, `warning` or `error`,
//! and is written to stdout in one piece once every check has run. A check that fails keeps
//! the error a render would give (the same message, causes and hint) and doctor exits as the
//! first of them would make a render exit (the README's table); nothing else fails it.
//!
//! What fails, because a render would fail on it:
//! - a namespace (`--namespace`, `ARGOCD_APP_NAMESPACE`) that is not a DNS-1123 label;
//! - a catalog that cannot be found, age identities that cannot be read, or a catalog that does
//!   not decrypt and check with them: it is loaded as a render loads it, not guessed at;
//! - the chosen cluster (`--cluster`, `PULLSEAL_CLUSTER`, `ARGOCD_ENV_PULLSEAL_CLUSTER`, or the
//!   catalog's only one) missing from the catalog or unable to seal: `seal: sealed-secrets`
//!   with no certificate, or one expired or not yet valid. With no cluster chosen, any
//!   cluster's. (A render whose stream needs no sealed secret gets by with a warning; doctor
//!   does not know the stream, so it counts them.)
//!
//! What is only reported: a certificate that expires within [`EXPIRY_WARNING_DAYS`],
//! `seal: none`, the problems of a cluster other than the chosen one, the tools on `PATH`
//! (kustomize, kpt, helm, kubectl) and the kustomize plugin: whether a render needs them depends
//! on how it is run, which doctor cannot know.
//!
//! What this module must *not* do:
//! - print a key, a credential or a decrypted value: identities are shown by their public
//!   recipient, the catalog by its registry and cluster names;
//! - change anything: it writes no file and installs nothing;
//! - hang or stop on a tool: each runs with stdin closed and a timeout ([`TOOL_TIMEOUT`]), and
//!   only its first lines are kept, with control and invisible characters escaped.

use std::fmt::Write as _;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, ExitStatus, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use time::OffsetDateTime;

use super::inputs::{io, locate_catalog};
use super::kustomize::{PLUGIN_PATH, plugin_homes};
use super::{Env, default_namespace};
use crate::catalog::{Catalog, Cluster, SealMode};
use crate::cli::DoctorArgs;
use crate::error::{Error, shown, shown_path};
use crate::reference::RegistryName;
use crate::render::{RenderError, sealing_problem};
use crate::seal::utc;
use crate::sops::{self, Identities};

/// A certificate that expires within this many days is warned about.
const EXPIRY_WARNING_DAYS: i64 = 30;

/// How long a tool's version command may take.
const TOOL_TIMEOUT: Duration = Duration::from_secs(5);

/// How much of a tool's stdout or stderr is kept; the rest is read and dropped.
const MAX_TOOL_OUTPUT: u64 = 64 << 10;

/// The version this binary reports, as `pullseal --version` prints it.
const THIS_VERSION: &str = concat!("pullseal ", env!("CARGO_PKG_VERSION"));

/// The tools looked for on `PATH`, with the command that prints each one's version.
const TOOLS: [(&str, &[&str]); 4] = [
    ("kustomize", &["version"]),
    ("kpt", &["version"]),
    ("helm", &["version", "--short"]),
    ("kubectl", &["version", "--client"]),
];

/// What `kubectl kustomize` runs and what it skips, said next to the kubectl line.
const KUBECTL_KUSTOMIZE: &str = "kubectl kustomize: runs legacy exec plugins (pullseal's `kind: Render` transformer, with --enable-alpha-plugins) but silently skips exec KRM functions; only the standalone `kustomize build --enable-alpha-plugins --enable-exec` runs those (legacy exec plugins run under both)";

/// How each mode is invoked, one line each.
const WAYS: [&str; 5] = [
    "run as a filter: `pullseal render [PATHS...]` reads files, directories or stdin and writes the rendered stream to stdout",
    "run as Helm's post-renderer: Helm 3 `--post-renderer pullseal --post-renderer-args render`; Helm 4 `helm plugin install plugin/helm`, then `--post-renderer pullseal`",
    "run as a kustomize legacy exec plugin: kustomize runs <plugin home>/pullseal.io/v1alpha1/render/Render with its `kind: Render` config file as argv[1] (`pullseal install-kustomize-plugin`)",
    "run as an exec KRM function: `pullseal` with no subcommand reads a ResourceList on stdin (`kpt fn eval --exec pullseal`, `kustomize build --enable-alpha-plugins --enable-exec`)",
    "run as an Argo CD config-management plugin: `pullseal argocd generate` in the app directory (plugin/argocd/plugin.yaml)",
];

/// Runs `pullseal doctor`: the report goes to `stdout` in one piece, then the first problem
/// that would fail a render, if any, is the result.
pub(super) fn run(args: &DoctorArgs, env: &dyn Env, stdout: &mut dyn Write) -> Result<(), Error> {
    let exe = std::env::current_exe().ok();
    let checkup = checkup(args, env, OffsetDateTime::now_utc(), exe.as_deref());
    let out = Path::new("<stdout>");
    stdout
        .write_all(checkup.text().as_bytes())
        .and_then(|()| stdout.flush())
        .map_err(io("write", out))?;
    checkup.result()
}

/// How much a line of the report matters.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Level {
    Ok,
    Info,
    Warning,
    Error,
}

impl Level {
    fn word(self) -> &'static str {
        match self {
            Level::Ok => "ok",
            Level::Info => "info",
            Level::Warning => "warning",
            Level::Error => "error",
        }
    }
}

/// The report being made, and the errors a render would give.
#[derive(Default)]
struct Checkup {
    lines: Vec<(Level, String)>,
    failures: Vec<Error>,
}

impl Checkup {
    fn line(&mut self, level: Level, text: impl Into<String>) {
        self.lines.push((level, text.into()));
    }

    /// A problem that would fail a render: `err` as `main` prints it (message, causes, hint),
    /// after `topic` when the message does not name its subject itself.
    fn fail(&mut self, topic: Option<&str>, err: Error) {
        let mut text = topic.map_or_else(|| err.to_string(), |topic| format!("{topic}: {err}"));
        let mut source = std::error::Error::source(&err);
        while let Some(cause) = source {
            let _ = write!(text, "\n  caused by: {cause}");
            source = cause.source();
        }
        if let Some(hint) = err.hint() {
            let _ = write!(text, "\n  hint: {hint}");
        }
        self.line(Level::Error, text);
        self.failures.push(err);
    }

    /// The report: every line, continuation lines indented under the first, then a summary.
    fn text(&self) -> String {
        let mut out = String::new();
        let warnings = self.lines.iter().filter(|(l, _)| *l == Level::Warning).count();
        let summary = match self.failures.first() {
            None => (
                Level::Ok,
                format!(
                    "summary: nothing found would make a render fail ({})",
                    count(warnings, "warning")
                ),
            ),
            Some(first) => (
                Level::Error,
                format!(
                    "summary: {} would make a render fail ({}); exit {}, as a render would exit on the first",
                    count(self.failures.len(), "problem"),
                    count(warnings, "warning"),
                    first.exit_code()
                ),
            ),
        };
        for (level, text) in self.lines.iter().chain(std::iter::once(&summary)) {
            for (i, line) in text.lines().enumerate() {
                let word = if i == 0 { level.word() } else { "" };
                let _ = writeln!(out, "{word:<8}{line}");
            }
        }
        out
    }

    fn result(self) -> Result<(), Error> {
        let count = self.failures.len();
        match self.failures.into_iter().next() {
            None => Ok(()),
            Some(first) => Err(Error::Doctor {
                count,
                first: Box::new(first),
            }),
        }
    }
}

/// `n thing` or `n things`.
fn count(n: usize, thing: &str) -> String {
    if n == 1 {
        format!("1 {thing}")
    } else {
        format!("{n} {thing}s")
    }
}

/// Every check, in the order a render meets them, then what a render may run with.
fn checkup(args: &DoctorArgs, env: &dyn Env, now: OffsetDateTime, exe: Option<&Path>) -> Checkup {
    let mut c = Checkup::default();
    c.line(
        Level::Info,
        match exe {
            Some(exe) => format!("{THIS_VERSION} at {}", shown_path(exe)),
            None => THIS_VERSION.to_owned(),
        },
    );
    mode(&mut c, env);
    namespace(&mut c, args, env);
    if let Some(catalog) = catalog(&mut c, args, env) {
        clusters(&mut c, args, env, &catalog, now);
    }
    tools(&mut c, env);
    kustomize_plugin(&mut c, env, exe);
    c
}

/// Which way the environment says pullseal runs, and how each way is invoked.
fn mode(c: &mut Checkup, env: &dyn Env) {
    let set = |var: &'static str| env.var(var).map(|_| var);
    let (mode, why) = if let Some(var) = set("ARGOCD_APP_NAME").or_else(|| set("ARGOCD_APP_NAMESPACE")) {
        ("an Argo CD config-management plugin", format!("{var} is set"))
    } else if let Some(var) = set("HELM_PLUGIN_NAME") {
        ("a Helm 4 post-renderer plugin", format!("{var} is set"))
    } else if let Some(var) = set("KUSTOMIZE_PLUGIN_CONFIG_ROOT") {
        ("run by kustomize as a plugin", format!("{var} is set"))
    } else {
        (
            "a terminal or CI run",
            "none of ARGOCD_APP_NAME, ARGOCD_APP_NAMESPACE, HELM_PLUGIN_NAME and KUSTOMIZE_PLUGIN_CONFIG_ROOT is set"
                .to_owned(),
        )
    };
    c.line(Level::Info, format!("mode: {mode} ({why})"));
    if mode.starts_with("an Argo CD") {
        c.line(
            Level::Info,
            "mode: `pullseal argocd generate` reads its own settings first (PARAM_*, ARGOCD_ENV_PULLSEAL_*); this report finds the catalog, cluster and namespace as `pullseal render` does",
        );
    }
    for way in WAYS {
        c.line(Level::Info, way);
    }
}

/// The namespace for objects that have none: it must be a DNS-1123 label, as for a render.
fn namespace(c: &mut Checkup, args: &DoctorArgs, env: &dyn Env) {
    let from = if args.namespace.is_some() {
        "--namespace"
    } else {
        "ARGOCD_APP_NAMESPACE"
    };
    match default_namespace(args.namespace.as_deref(), env) {
        Ok(Some(ns)) => c.line(
            Level::Ok,
            format!("namespace: objects without one get {ns} (from {from})"),
        ),
        Ok(None) => c.line(
            Level::Info,
            "namespace: none given (--namespace, ARGOCD_APP_NAMESPACE); an object without one is an error when its pull secret is sealed for a namespace",
        ),
        Err(err) => c.fail(Some("namespace"), err),
    }
}

/// Finds the catalog and the age identities as a render does, and loads the catalog with them.
fn catalog(c: &mut Checkup, args: &DoctorArgs, env: &dyn Env) -> Option<Catalog> {
    let cwd = match env.cwd() {
        Ok(cwd) => cwd,
        Err(err) => {
            c.fail(Some("catalog"), io("read", Path::new("."))(err));
            return None;
        }
    };
    let path = match locate_catalog(args.catalog.as_deref(), &cwd) {
        Ok(path) => path,
        Err(err) => {
            c.fail(Some("catalog"), err);
            return None;
        }
    };
    let how = if args.catalog.is_some() {
        "given with --catalog or PULLSEAL_CATALOG"
    } else {
        "found from the working directory"
    };
    c.line(Level::Info, format!("catalog: {} ({how})", shown_path(&path)));
    let identities = match Identities::discover(args.age_key_file.as_deref(), &|name| env.var(name)) {
        Ok(identities) => identities.with_kms(sops::KmsAccess::from_env(|name| env.var(name))),
        Err(err) => {
            c.fail(Some("age identities"), Error::Identities(err));
            return None;
        }
    };
    identities_and_recipients(c, &identities, &path);
    match Catalog::load(&path, &identities) {
        Ok(catalog) => {
            let registries: Vec<&str> = catalog.registry_names().map(RegistryName::as_str).collect();
            let clusters: Vec<String> = catalog.clusters().map(|c| shown(&c.name)).collect();
            c.line(
                Level::Ok,
                format!(
                    "catalog: decrypts with these identities and is valid; registries: {}; clusters: {}",
                    list(&registries),
                    list(&clusters)
                ),
            );
            Some(catalog)
        }
        Err(err) => {
            c.fail(None, Error::Catalog(err));
            None
        }
    }
}

/// The identities found, by public recipient, and whether the catalog is encrypted to one.
fn identities_and_recipients(c: &mut Checkup, identities: &Identities, catalog: &Path) {
    let mut searched: Vec<String> = Vec::new();
    for place in identities.searched() {
        let place = shown(place);
        if !searched.contains(&place) {
            searched.push(place);
        }
    }
    c.line(
        Level::Info,
        format!("age identities: looked in {}", searched.join(", ")),
    );
    let theirs = catalog_recipients(catalog);
    if let Some(theirs) = &theirs {
        let shown_theirs: Vec<String> = theirs.iter().map(|r| shown(r)).collect();
        c.line(
            Level::Info,
            format!("catalog: encrypted to the age recipients {}", list(&shown_theirs)),
        );
    }
    // A catalog with AWS KMS keys may open without any age identity.
    let kms = catalog_kms_keys(catalog);
    if !kms.is_empty() {
        c.line(
            Level::Info,
            format!(
                "catalog: also encrypted with the AWS KMS keys {} (AWS keys {} in the environment)",
                list(&kms),
                if identities.kms().has_keys() {
                    "set"
                } else {
                    "not set"
                }
            ),
        );
    }
    let mut matched = false;
    for (source, recipient) in identities.recipients() {
        let line = format!("age identity: {recipient} from {}", shown(source));
        match &theirs {
            Some(theirs) if theirs.iter().any(|r| r == recipient) => {
                matched = true;
                c.line(Level::Ok, format!("{line}, a recipient of the catalog"));
            }
            Some(_) => c.line(Level::Info, format!("{line}, not a recipient of the catalog")),
            None => c.line(Level::Info, line),
        }
    }
    if !kms.is_empty() && !matched {
        c.line(
            Level::Info,
            "age identity: none that is a recipient of the catalog; one of its AWS KMS keys must open it",
        );
    } else if identities.is_empty() {
        c.line(
            Level::Warning,
            "age identity: none found; the catalog cannot be decrypted without one",
        );
    } else if theirs.is_some() && !matched {
        c.line(
            Level::Warning,
            "age identity: none of those found is a recipient of the catalog",
        );
    }
}

/// The catalog's age recipients, from its sops metadata; `None` when it cannot be read that
/// far (loading it then says why).
fn catalog_recipients(path: &Path) -> Option<Vec<String>> {
    let limit = u64::try_from(sops::MAX_FILE_BYTES).map_or(u64::MAX, |n| n.saturating_add(1));
    let mut text = String::new();
    fs_err::File::open(path)
        .ok()?
        .take(limit)
        .read_to_string(&mut text)
        .ok()?;
    if text.len() > sops::MAX_FILE_BYTES {
        return None;
    }
    sops::age_recipients(&text).ok()
}

/// The catalog's AWS KMS keys (ARN, role, context), shown; none when it cannot be read that far.
fn catalog_kms_keys(path: &Path) -> Vec<String> {
    let Ok(text) = fs_err::read_to_string(path) else {
        return Vec::new();
    };
    if text.len() > sops::MAX_FILE_BYTES {
        return Vec::new();
    }
    sops::kms_stanzas(&text)
        .map(|stanzas| stanzas.iter().map(|s| shown(&s.key().label())).collect())
        .unwrap_or_default()
}

/// `a, b, c`, or `(none)`.
fn list(items: &[impl AsRef<str>]) -> String {
    if items.is_empty() {
        return "(none)".to_owned();
    }
    items.iter().map(AsRef::as_ref).collect::<Vec<_>>().join(", ")
}

/// Each cluster's sealing settings and certificate. The chosen cluster's problems fail the
/// check, or every cluster's when none is chosen; the others are warnings.
fn clusters(c: &mut Checkup, args: &DoctorArgs, env: &dyn Env, catalog: &Catalog, now: OffsetDateTime) {
    let named = args
        .cluster
        .clone()
        .map(|name| (name, "--cluster"))
        .or_else(|| env.var("PULLSEAL_CLUSTER").map(|name| (name, "PULLSEAL_CLUSTER")))
        .or_else(|| {
            env.var("ARGOCD_ENV_PULLSEAL_CLUSTER")
                .map(|name| (name, "ARGOCD_ENV_PULLSEAL_CLUSTER"))
        });
    let all: Vec<&Cluster> = catalog.clusters().collect();
    let chosen = match (named, all.as_slice()) {
        (Some((name, from)), _) => {
            if catalog.cluster(&name).is_some() {
                c.line(
                    Level::Info,
                    format!("cluster: {name:?}, chosen by {from}; only its problems fail the check"),
                );
            } else {
                let known: Vec<&str> = all.iter().map(|c| c.name.as_str()).collect();
                c.fail(
                    None,
                    Error::from(RenderError::Cluster {
                        cluster: name.clone(),
                        message: format!("not in the catalog (clusters: {})", known.join(", ")),
                    }),
                );
            }
            Some(name)
        }
        (None, [only]) => {
            c.line(
                Level::Info,
                format!("cluster: {:?}, the catalog's only one", only.name),
            );
            Some(only.name.clone())
        }
        (None, []) => {
            c.fail(
                Some("cluster"),
                Error::Usage("the catalog defines no cluster".to_owned()),
            );
            None
        }
        (None, _) => {
            c.line(
                Level::Warning,
                "cluster: none chosen; with several, `pullseal render` needs --cluster or PULLSEAL_CLUSTER (or --all-clusters), so every cluster's problems fail the check",
            );
            None
        }
    };
    for cluster in all {
        let counts = chosen.as_deref().is_none_or(|name| name == cluster.name);
        cluster_line(c, cluster, counts, now);
    }
}

/// One cluster: an error (or, for a cluster that does not count, a warning) when it cannot
/// seal, a warning when its certificate expires soon or it does not seal at all, else ok.
fn cluster_line(c: &mut Checkup, cluster: &Cluster, counts: bool, now: OffsetDateTime) {
    let mut warnings = Vec::new();
    if let Some(message) = sealing_problem(cluster, now, &mut warnings) {
        let err = Error::from(RenderError::Cluster {
            cluster: cluster.name.clone(),
            message,
        });
        if counts {
            c.fail(None, err);
        } else {
            c.line(Level::Warning, format!("{err} (not the chosen cluster)"));
        }
    } else if let (SealMode::SealedSecrets, Some(cert)) = (cluster.seal, &cluster.certificate) {
        let left = cert.not_after() - now;
        let days = left.whole_days();
        let settings = format!(
            "cluster {:?}: seal sealed-secrets, scope {}",
            cluster.name, cluster.scope
        );
        if left <= time::Duration::days(EXPIRY_WARNING_DAYS) {
            c.line(
                Level::Warning,
                format!(
                    "{settings}; the sealing certificate expires at {} (notAfter), in {}: fetch the controller's current one (kubeseal --fetch-cert) into the catalog",
                    utc(&cert.not_after()),
                    day_count(days)
                ),
            );
        } else {
            c.line(
                Level::Ok,
                format!(
                    "{settings}; the sealing certificate is valid until {} (notAfter), {} from now",
                    utc(&cert.not_after()),
                    day_count(days)
                ),
            );
        }
    } else if cluster.seal == SealMode::Sops {
        let n = cluster.age_recipients.len();
        c.line(
            Level::Ok,
            format!(
                "cluster {:?}: seal sops, {n} age recipient{} (Flux decrypts with spec.decryption.provider: sops)",
                cluster.name,
                if n == 1 { "" } else { "s" }
            ),
        );
    }
    for warning in warnings {
        c.line(Level::Warning, warning);
    }
}

fn day_count(days: i64) -> String {
    match days {
        0 => "less than a day".to_owned(),
        1 => "1 day".to_owned(),
        n => format!("{n} days"),
    }
}

/// The tools a render may run with, by path and version; none is required.
fn tools(c: &mut Checkup, env: &dyn Env) {
    let path = env.var("PATH");
    for (tool, args) in TOOLS {
        match path.as_deref().and_then(|dirs| on_path(dirs, tool)) {
            None => c.line(Level::Info, format!("{tool}: not on PATH")),
            Some(found) => {
                let command = std::iter::once(tool)
                    .chain(args.iter().copied())
                    .collect::<Vec<_>>()
                    .join(" ");
                let at = shown_path(&found);
                match run_tool(&found, args, TOOL_TIMEOUT) {
                    Ran::Finished { status, stdout, .. } if status.success() => {
                        c.line(Level::Ok, format!("{tool}: {at}: {}", first_lines(&stdout)));
                    }
                    ran => c.line(Level::Warning, format!("{tool}: {at}: {}", ran.trouble(&command))),
                }
            }
        }
        if tool == "kubectl" {
            c.line(Level::Info, KUBECTL_KUSTOMIZE);
        }
    }
}

/// The first executable file called `tool` in the `PATH` list `dirs`. Empty entries (which a
/// shell reads as the working directory) are skipped.
fn on_path(dirs: &str, tool: &str) -> Option<PathBuf> {
    std::env::split_paths(dirs)
        .filter(|dir| !dir.as_os_str().is_empty())
        .map(|dir| dir.join(tool))
        .find(|candidate| is_executable(candidate))
}

/// Whether `path` is a file (following links) that someone may run.
fn is_executable(path: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt as _;
    path.metadata()
        .is_ok_and(|meta| meta.is_file() && meta.permissions().mode() & 0o111 != 0)
}

/// Where the kustomize plugin is installed, whether kustomize would run it, and its version.
fn kustomize_plugin(c: &mut Checkup, env: &dyn Env, exe: Option<&Path>) {
    let cwd = env.cwd().unwrap_or_default();
    let homes: Vec<PathBuf> = plugin_homes(env).iter().map(|h| cwd.join(h)).collect();
    let tried = list(&homes.iter().map(|h| shown_path(h)).collect::<Vec<_>>());
    let Some(home) = homes.iter().find(|h| h.is_dir()) else {
        c.line(
            Level::Info,
            format!(
                "kustomize plugin: not installed, and no plugin home exists (kustomize uses the first that exists of {tried}); `pullseal install-kustomize-plugin` makes one"
            ),
        );
        return;
    };
    for other in homes.iter().filter(|h| *h != home) {
        let unused = other.join(PLUGIN_PATH);
        if unused.exists() {
            c.line(
                Level::Warning,
                format!(
                    "kustomize plugin: {} is never run: kustomize uses the first plugin home that exists, {}",
                    shown_path(&unused),
                    shown_path(home)
                ),
            );
        }
    }
    let plugin = home.join(PLUGIN_PATH);
    let at = shown_path(&plugin);
    if !plugin.exists() {
        c.line(
            Level::Info,
            format!(
                "kustomize plugin: not installed in {}, the plugin home kustomize uses (the first that exists of {tried}); `pullseal install-kustomize-plugin` puts it there",
                shown_path(home)
            ),
        );
        return;
    }
    if !is_executable(&plugin) {
        c.line(
            Level::Warning,
            format!(
                "kustomize plugin: {at} is not an executable file, so kustomize cannot run it; reinstall it with `pullseal install-kustomize-plugin`"
            ),
        );
        return;
    }
    let this = exe.and_then(|exe| fs_err::canonicalize(exe).ok());
    let same_file = this.is_some() && fs_err::canonicalize(&plugin).ok() == this;
    match run_tool(&plugin, &["--version"], TOOL_TIMEOUT) {
        Ran::Finished { status, stdout, .. } if status.success() => {
            let version = first_lines(&stdout);
            if stdout.trim() == THIS_VERSION {
                let which = if same_file { ", this very binary" } else { "" };
                c.line(Level::Ok, format!("kustomize plugin: {at} ({version}{which})"));
            } else {
                c.line(
                    Level::Warning,
                    format!(
                        "kustomize plugin: {at} says {version}, not {THIS_VERSION}; reinstall it with `pullseal install-kustomize-plugin`"
                    ),
                );
            }
        }
        ran => c.line(
            Level::Warning,
            format!("kustomize plugin: {at}: {}", ran.trouble("Render --version")),
        ),
    }
}

/// How a tool's run ended.
enum Ran {
    Finished {
        status: ExitStatus,
        stdout: String,
        stderr: String,
    },
    TimedOut,
    CannotRun(std::io::Error),
}

impl Ran {
    /// What went wrong with `command`, for a report line.
    fn trouble(&self, command: &str) -> String {
        match self {
            Ran::Finished { status, stderr, .. } => {
                let said = if stderr.trim().is_empty() {
                    "nothing on stderr".to_owned()
                } else {
                    first_lines(stderr)
                };
                format!("`{command}` failed ({status}): {said}")
            }
            Ran::TimedOut => format!(
                "`{command}` did not finish within {} seconds, and was stopped",
                TOOL_TIMEOUT.as_secs()
            ),
            Ran::CannotRun(err) => format!("`{command}` cannot be run: {err}"),
        }
    }
}

/// Runs `program args` with stdin closed, for at most `timeout`. Output is read while it runs
/// (a full pipe would stall it), at most [`MAX_TOOL_OUTPUT`] of each stream kept.
fn run_tool(program: &Path, args: &[&str], timeout: Duration) -> Ran {
    let spawned = Command::new(program)
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn();
    let mut child = match spawned {
        Ok(child) => child,
        Err(err) => return Ran::CannotRun(err),
    };
    let stdout = child.stdout.take().map(read_in_background);
    let stderr = child.stderr.take().map(read_in_background);
    let started = Instant::now();
    let status = loop {
        match child.try_wait() {
            Ok(Some(status)) => break status,
            Ok(None) if started.elapsed() < timeout => std::thread::sleep(Duration::from_millis(10)),
            Ok(None) => {
                let _ = child.kill();
                let _ = child.wait();
                return Ran::TimedOut;
            }
            Err(err) => {
                let _ = child.kill();
                let _ = child.wait();
                return Ran::CannotRun(err);
            }
        }
    };
    // A process the tool started can hold its pipes open after it exited: wait for the output a
    // moment, not for ever.
    let collect = |pipe: Option<mpsc::Receiver<Vec<u8>>>| {
        pipe.and_then(|rx| rx.recv_timeout(Duration::from_millis(500)).ok())
            .map(|bytes| String::from_utf8_lossy(&bytes).into_owned())
            .unwrap_or_default()
    };
    Ran::Finished {
        status,
        stdout: collect(stdout),
        stderr: collect(stderr),
    }
}

/// Reads `pipe` to its end on a thread of its own, keeping the first [`MAX_TOOL_OUTPUT`]
/// bytes. If no thread can be started, the receiver gets nothing.
fn read_in_background(mut pipe: impl Read + Send + 'static) -> mpsc::Receiver<Vec<u8>> {
    let (tx, rx) = mpsc::channel();
    let _ = std::thread::Builder::new()
        .name("doctor-tool-output".to_owned())
        .spawn(move || {
            let mut kept = Vec::new();
            let _ = (&mut pipe).take(MAX_TOOL_OUTPUT).read_to_end(&mut kept);
            let _ = std::io::copy(&mut pipe, &mut std::io::sink());
            let _ = tx.send(kept);
        });
    rx
}

/// The first three non-empty lines of a tool's output, joined by `, `, each at most 120
/// characters, with control and invisible characters escaped: a tool must not be able to
/// recolour the terminal or forge a report line.
fn first_lines(text: &str) -> String {
    let lines: Vec<String> = text
        .lines()
        .map(str::trim)
        .filter(|line| !line.is_empty())
        .take(3)
        .map(|line| printable(&line.chars().take(120).collect::<String>()))
        .collect();
    if lines.is_empty() {
        "(printed nothing)".to_owned()
    } else {
        lines.join(", ")
    }
}

/// `text` with every character that is not plainly visible (controls, bidi overrides,
/// zero-width and other format characters) written as a `\u{..}` escape.
fn printable(text: &str) -> String {
    text.chars()
        .map(|c| {
            if c == ' ' || c.is_ascii_graphic() || (!c.is_ascii() && c.escape_debug().count() == 1) {
                c.to_string()
            } else {
                c.escape_unicode().to_string()
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::seal::{Certificate, Scope};

    /// An environment of fixed variables, rooted at `/`.
    struct Vars(&'static [(&'static str, &'static str)]);

    impl Env for Vars {
        fn var(&self, name: &str) -> Option<String> {
            self.0
                .iter()
                .find(|(k, _)| *k == name)
                .map(|(_, v)| (*v).to_owned())
        }

        fn cwd(&self) -> std::io::Result<PathBuf> {
            Ok(PathBuf::from("/"))
        }
    }

    fn report(c: &Checkup) -> String {
        c.text()
    }

    fn cluster(pem: Option<&str>, seal: SealMode) -> Cluster {
        Cluster {
            name: "prod".to_owned(),
            seal,
            scope: Scope::Strict,
            certificate: pem.map(|pem| Certificate::from_pem(pem).unwrap()),
            kubelet_credentials: None,
            age_recipients: Vec::new(),
            kms: Vec::new(),
        }
    }

    const TEST_CERT: &str = include_str!("../../testdata/keys/sealed-secrets-test.crt");
    const EXPIRED_CERT: &str = include_str!("../../testdata/keys/sealed-secrets-expired.crt");

    /// Within 30 days of notAfter a certificate is a warning; past it an error for a cluster
    /// that counts and a warning for one that does not; `seal: none` is render's warning.
    #[test]
    fn certificates_warn_within_thirty_days_and_fail_when_expired() {
        let soon = cluster(Some(TEST_CERT), SealMode::SealedSecrets);
        let not_after = soon.certificate.as_ref().unwrap().not_after();
        let mut c = Checkup::default();
        cluster_line(&mut c, &soon, true, not_after - time::Duration::days(31));
        cluster_line(&mut c, &soon, true, not_after - time::Duration::days(30));
        cluster_line(&mut c, &soon, true, not_after - time::Duration::hours(1));
        let expired = cluster(Some(EXPIRED_CERT), SealMode::SealedSecrets);
        let now = not_after - time::Duration::days(400);
        cluster_line(&mut c, &expired, false, now);
        cluster_line(&mut c, &cluster(None, SealMode::SealedSecrets), false, now);
        cluster_line(&mut c, &cluster(None, SealMode::None), true, now);
        assert!(c.failures.is_empty());
        cluster_line(&mut c, &expired, true, now);
        assert_eq!(c.failures.len(), 1);
        assert_eq!(c.failures[0].exit_code(), 4);
        let text = report(&c).replace(&utc(&not_after), "NOT_AFTER");
        insta::assert_snapshot!(text, @r#"
        ok      cluster "prod": seal sealed-secrets, scope strict; the sealing certificate is valid until NOT_AFTER (notAfter), 31 days from now
        warning cluster "prod": seal sealed-secrets, scope strict; the sealing certificate expires at NOT_AFTER (notAfter), in 30 days: fetch the controller's current one (kubeseal --fetch-cert) into the catalog
        warning cluster "prod": seal sealed-secrets, scope strict; the sealing certificate expires at NOT_AFTER (notAfter), in less than a day: fetch the controller's current one (kubeseal --fetch-cert) into the catalog
        warning cluster "prod": sealing certificate expired at 2001-01-01T00:00:00Z (notAfter) (not the chosen cluster)
        warning cluster "prod": has no certificate (not the chosen cluster)
        warning cluster "prod" has seal: none: pull secrets are written as plain Secrets that anyone with the output can read
        error   cluster "prod": sealing certificate expired at 2001-01-01T00:00:00Z (notAfter)
        error   summary: 1 problem would make a render fail (5 warnings); exit 4, as a render would exit on the first
        "#);
    }

    #[test]
    fn the_mode_comes_from_the_environment() {
        let mode_of = |vars: &'static [(&'static str, &'static str)]| {
            let mut c = Checkup::default();
            mode(&mut c, &Vars(vars));
            c.lines.remove(0).1
        };
        insta::assert_snapshot!([
            mode_of(&[]),
            mode_of(&[("ARGOCD_APP_NAMESPACE", "shop"), ("HELM_PLUGIN_NAME", "pullseal")]),
            mode_of(&[("HELM_PLUGIN_NAME", "pullseal"), ("KUSTOMIZE_PLUGIN_CONFIG_ROOT", "/k")]),
            mode_of(&[("KUSTOMIZE_PLUGIN_CONFIG_ROOT", "/k")]),
        ].join("\n"), @"
        mode: a terminal or CI run (none of ARGOCD_APP_NAME, ARGOCD_APP_NAMESPACE, HELM_PLUGIN_NAME and KUSTOMIZE_PLUGIN_CONFIG_ROOT is set)
        mode: an Argo CD config-management plugin (ARGOCD_APP_NAMESPACE is set)
        mode: a Helm 4 post-renderer plugin (HELM_PLUGIN_NAME is set)
        mode: run by kustomize as a plugin (KUSTOMIZE_PLUGIN_CONFIG_ROOT is set)
        ");
    }

    #[test]
    fn plugin_homes_are_tried_in_kustomizes_order() {
        let homes = plugin_homes(&Vars(&[
            ("HOME", "/home/dev"),
            ("XDG_CONFIG_HOME", "/xdg"),
            ("KUSTOMIZE_PLUGIN_HOME", "/plugins"),
        ]));
        assert_eq!(
            homes,
            [
                "/plugins",
                "/xdg/kustomize/plugin",
                "/home/dev/.config/kustomize/plugin",
                "/home/dev/kustomize/plugin"
            ]
            .map(PathBuf::from)
        );
        assert_eq!(
            plugin_homes(&Vars(&[("HOME", "/h")])),
            ["/h/.config/kustomize/plugin", "/h/kustomize/plugin"].map(PathBuf::from)
        );
    }

    /// A tool's output cannot move the cursor, recolour the terminal or forge a line.
    #[test]
    fn tool_output_is_cut_to_a_few_printable_lines() {
        let text = "\n  v1.2.3\u{1b}[31m red\r\n\u{202e}txt.exe caf\u{e9}\nthird\nfourth\n";
        insta::assert_snapshot!(first_lines(text), @r"v1.2.3\u{1b}[31m red, \u{202e}txt.exe café, third");
        assert_eq!(first_lines("\n \n"), "(printed nothing)");
        assert_eq!(first_lines(&"x".repeat(500)).len(), 120);
    }

    #[test]
    fn a_tool_that_hangs_is_stopped_and_one_that_is_missing_is_reported() {
        let started = Instant::now();
        let ran = run_tool(
            Path::new("/bin/sh"),
            &["-c", "exec sleep 30"],
            Duration::from_millis(200),
        );
        assert!(matches!(ran, Ran::TimedOut));
        assert!(started.elapsed() < Duration::from_secs(5));
        let ran = run_tool(Path::new("/nonexistent/tool"), &[], TOOL_TIMEOUT);
        assert!(matches!(ran, Ran::CannotRun(_)));
        let ran = run_tool(
            Path::new("/bin/sh"),
            &["-c", "echo out; echo err >&2; exit 3"],
            TOOL_TIMEOUT,
        );
        insta::assert_snapshot!(ran.trouble("sh"), @"`sh` failed (exit status: 3): err");
        assert!(on_path("/nonexistent::/bin", "sh").is_some());
        assert!(on_path("", "sh").is_none());
    }
}
