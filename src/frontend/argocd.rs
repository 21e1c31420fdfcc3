//! The Argo CD config-management plugin (CMP v2, a repo-server sidecar): `pullseal argocd
//! generate` renders the application source directory Argo CD runs it in.
//!
//! The contract (Argo CD `cmpserver/plugin/plugin.go`, `docs/operator-manual/
//! config-management-plugins.md`):
//! - stdout must be only Kubernetes objects, and an empty stdout with exit 0 is an app with
//!   nothing in it, which Argo CD prunes. So nothing is written until the whole render
//!   succeeded, and a source that gives no object at all is an error, not an empty success;
//! - the source is a plain directory, a kustomization (`kustomize build .`) or a Helm chart
//!   (`helm template $ARGOCD_APP_NAME . -n $ARGOCD_APP_NAMESPACE`), each run here, in the
//!   directory, so no shell pipe can lose an error;
//! - Argo CD passes the destination namespace, project and application name
//!   (`ARGOCD_APP_*`), but not the destination cluster: that must be a setting;
//! - settings arrive as parameters (`PARAM_<NAME>`), as `plugin.env` entries
//!   (`ARGOCD_ENV_<NAME>` since Argo CD 2.4, unprefixed before) or from the sidecar's own
//!   environment (unprefixed). The most specific wins: parameter, then `ARGOCD_ENV_`, then
//!   unprefixed. Argo CD sends empty values for unset variables; they count as unset.
//!
//! What this module must *not* do: parse manifests (that is `manifest` and `render`), print
//! before the render succeeded, or show a tool's output on stdout unrendered.

use std::io::{Read as _, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use super::inputs::{MAX_INPUT_BYTES, io, locate_catalog, read_inputs};
use super::{checked_namespace, warn};
use crate::catalog::Catalog;
use crate::cli::GenerateArgs;
use crate::error::{Error, shown, shown_path};
use crate::manifest::{Source, Stream};
use crate::render::{self, Options};

use super::Env;

/// How much of a tool's stderr is kept for a warning or an error's cause.
const MAX_TOOL_STDERR: u64 = 1 << 20;

/// What can stop `pullseal argocd generate` before or around the render.
#[derive(Debug, thiserror::Error)]
pub enum ArgocdError {
    /// A setting is missing or wrong (exit 2).
    #[error("{0}")]
    Settings(String),
    /// The app needs a tool that is not on PATH (exit 2).
    #[error(
        "the app directory {} has {file}, but no `{tool}` is on PATH: add {tool} to the plugin's sidecar image, or set the mode parameter (PARAM_MODE, PULLSEAL_MODE) to directory",
        shown_path(dir)
    )]
    MissingTool {
        /// The app directory.
        dir: PathBuf,
        /// The file that asked for the tool.
        file: &'static str,
        /// The tool.
        tool: &'static str,
    },
    /// The tool ran and failed (exit 1). Its stderr is the cause.
    #[error("`{command}` failed in {} ({status})", shown_path(dir))]
    ToolFailed {
        /// The command line, as run.
        command: String,
        /// The app directory.
        dir: PathBuf,
        /// How it ended.
        status: String,
        /// What it wrote to stderr.
        source: ToolStderr,
    },
    /// The source gave no Kubernetes object (exit 1).
    #[error(
        "{what} gave no Kubernetes object; refusing to print an empty stream, which Argo CD would take as an app with nothing in it and prune"
    )]
    Empty {
        /// What was read: the directory, or the command.
        what: String,
    },
}

impl ArgocdError {
    /// The exit code, as the README's table has it.
    pub(crate) fn exit_code(&self) -> u8 {
        match self {
            ArgocdError::Settings(_) | ArgocdError::MissingTool { .. } => 2,
            ArgocdError::ToolFailed { .. } | ArgocdError::Empty { .. } => 1,
        }
    }
}

/// A tool's stderr, with control characters other than newlines and tabs escaped so that it
/// cannot move the cursor or forge lines of its own.
#[derive(Debug)]
pub struct ToolStderr(String);

impl std::fmt::Display for ToolStderr {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let text = self.0.trim_end();
        if text.is_empty() {
            return f.write_str("(nothing on stderr)");
        }
        for c in text.chars() {
            if c.is_control() && c != '\n' && c != '\t' {
                write!(f, "{}", c.escape_unicode())?;
            } else {
                write!(f, "{c}")?;
            }
        }
        Ok(())
    }
}

impl std::error::Error for ToolStderr {}

/// How the app directory is read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mode {
    /// Decide from the files there: a kustomization, a `Chart.yaml`, else a directory.
    Auto,
    /// Every `*.yaml`, `*.yml` and `*.json`, as `pullseal render DIR` reads them.
    Directory,
    /// `kustomize build .`
    Kustomize,
    /// `helm template $ARGOCD_APP_NAME . -n $ARGOCD_APP_NAMESPACE`
    Helm,
}

/// The files that make a directory a kustomization, as kustomize looks for them.
const KUSTOMIZATIONS: [&str; 3] = ["kustomization.yaml", "kustomization.yml", "Kustomization"];

/// A setting: `PARAM_<NAME>`, else `ARGOCD_ENV_PULLSEAL_<NAME>`, else `PULLSEAL_<NAME>`, with
/// the variable it came from. `param` is false for settings that are no plugin parameter.
fn setting(env: &dyn Env, name: &str, param: bool) -> Option<(String, String)> {
    let mut names = Vec::with_capacity(3);
    if param {
        names.push(format!("PARAM_{name}"));
    }
    names.push(format!("ARGOCD_ENV_PULLSEAL_{name}"));
    names.push(format!("PULLSEAL_{name}"));
    names
        .into_iter()
        .find_map(|var| env.var(&var).map(|value| (value, var)))
}

/// Runs `pullseal argocd generate`: stdout gets the rendered stream, `stderr` the warnings.
pub(super) fn generate(
    args: &GenerateArgs,
    env: &dyn Env,
    stdout: &mut dyn Write,
    stderr: &mut dyn Write,
) -> Result<(), Error> {
    // Settings first: nothing is read or run before they are known to be right.
    let cwd = env.cwd().map_err(io("read", Path::new(".")))?;
    let dir = args.path.as_ref().map_or_else(|| cwd.clone(), |p| cwd.join(p));
    let mode = match setting(env, "MODE", true) {
        None => Mode::Auto,
        Some((value, from)) => match value.as_str() {
            "auto" => Mode::Auto,
            "directory" => Mode::Directory,
            "kustomize" => Mode::Kustomize,
            "helm" => Mode::Helm,
            _ => {
                return Err(settings(format!(
                    "{from} {} is not a mode: use auto, directory, kustomize or helm",
                    shown(&value)
                )));
            }
        },
    };
    let namespace = match setting(env, "NAMESPACE", true) {
        Some((value, from)) => Some(checked_namespace(value, &from)?),
        None => match env.var("ARGOCD_APP_NAMESPACE") {
            Some(value) => Some(checked_namespace(value, "ARGOCD_APP_NAMESPACE")?),
            None => None,
        },
    };
    let project = env.var("ARGOCD_APP_PROJECT_NAME");
    let catalog_path = match setting(env, "CATALOG", false) {
        // A relative path is the app's: Argo CD runs the command in the app directory.
        Some((value, _)) => dir.join(value),
        None => locate_catalog(None, &dir)?,
    };
    let (stream, what) = read_source(mode, &dir, &catalog_path, env, stderr)?;
    if !stream.has_object() {
        return Err(ArgocdError::Empty { what }.into());
    }
    let identities = super::identities(None, env)?;
    let catalog = Catalog::load(&catalog_path, &identities)?;
    let cluster = choose_cluster(env, &catalog)?;
    let options = Options {
        namespace,
        project,
        aws: crate::registry::ecr_token::AwsEndpoints::from_env(|name| env.var(name)),
        kms: crate::render::FluxKms {
            access: crate::sops::KmsAccess::from_env(|name| env.var(name)),
            ..crate::render::FluxKms::default()
        },
        ..Options::new(cluster)
    };
    let result = render::render(&stream, &catalog, &options)?;
    warn(stderr, &result.warnings);
    // Everything succeeded: only now does stdout see a byte.
    let mut out = Vec::new();
    result
        .write_to(&stream, &mut out)
        .map_err(io("write", Path::new("<stdout>")))?;
    stdout
        .write_all(&out)
        .and_then(|()| stdout.flush())
        .map_err(io("write", Path::new("<stdout>")))
}

fn settings(message: String) -> Error {
    ArgocdError::Settings(message).into()
}

/// The manifests of the app directory, and what they were read from, for messages.
fn read_source(
    mode: Mode,
    dir: &Path,
    catalog: &Path,
    env: &dyn Env,
    stderr: &mut dyn Write,
) -> Result<(Stream, String), Error> {
    let kustomization = KUSTOMIZATIONS.into_iter().find(|f| dir.join(f).is_file());
    let chart = dir.join("Chart.yaml").is_file().then_some("Chart.yaml");
    let mode = match (mode, kustomization, chart) {
        (Mode::Auto, Some(k), Some(c)) => {
            return Err(settings(format!(
                "the app directory {} has both {k} and {c}; set the mode parameter (PARAM_MODE, PULLSEAL_MODE) to kustomize or helm",
                shown_path(dir)
            )));
        }
        (Mode::Auto, Some(_), None) => Mode::Kustomize,
        (Mode::Auto, None, Some(_)) => Mode::Helm,
        (Mode::Auto, None, None) => Mode::Directory,
        (mode, _, _) => mode,
    };
    match mode {
        Mode::Auto | Mode::Directory => {
            let inputs = read_inputs(&[dir.to_path_buf()], catalog, &mut std::io::empty())?;
            warn(stderr, &inputs.warnings);
            Ok((
                Stream::new(inputs.sources),
                format!("the app directory {}", shown_path(dir)),
            ))
        }
        Mode::Kustomize => {
            let file = kustomization.unwrap_or("kustomization.yaml");
            run_tool(dir, file, "kustomize", &["build", "."], stderr)
        }
        Mode::Helm => {
            let Some(app) = env.var("ARGOCD_APP_NAME") else {
                return Err(settings(
                    "a Helm chart needs a release name, and ARGOCD_APP_NAME (set by Argo CD) is not set"
                        .to_owned(),
                ));
            };
            if app.starts_with('-') {
                return Err(settings(format!(
                    "ARGOCD_APP_NAME {} is not a release name",
                    shown(&app)
                )));
            }
            let namespace = env.var("ARGOCD_APP_NAMESPACE");
            let mut args = vec!["template", app.as_str(), "."];
            if let Some(ns) = &namespace {
                args.extend(["-n", ns.as_str()]);
            }
            run_tool(dir, "Chart.yaml", "helm", &args, stderr)
        }
    }
}

/// Runs `tool args` in `dir` and takes its stdout as the one source of the stream. What the
/// tool writes on stderr is passed on to `stderr` (its warnings), or is the error's cause.
fn run_tool(
    dir: &Path,
    file: &'static str,
    tool: &'static str,
    args: &[&str],
    stderr: &mut dyn Write,
) -> Result<(Stream, String), Error> {
    let command = std::iter::once(tool)
        .chain(args.iter().copied())
        .map(shown)
        .collect::<Vec<_>>()
        .join(" ");
    let spawned = Command::new(tool)
        .args(args)
        .current_dir(dir)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn();
    let mut child = match spawned {
        Ok(child) => child,
        Err(err) if err.kind() == std::io::ErrorKind::NotFound => {
            return Err(ArgocdError::MissingTool {
                dir: dir.to_path_buf(),
                file,
                tool,
            }
            .into());
        }
        Err(err) => return Err(io("run", Path::new(tool))(err)),
    };
    let source = Path::new(&format!("<{command}>")).to_path_buf();
    // Both pipes are read while the tool runs, each within a bound: a tool that writes without
    // end must not take all memory (stdout is refused past the input limit, the tool killed),
    // nor stall on a full stderr pipe (its first MiB is kept, the rest read and dropped).
    let tool_stderr = child.stderr.take().map(|mut pipe| {
        std::thread::spawn(move || {
            let mut kept = Vec::new();
            let _ = (&mut pipe).take(MAX_TOOL_STDERR).read_to_end(&mut kept);
            let _ = std::io::copy(&mut pipe, &mut std::io::sink());
            kept
        })
    });
    let mut out = Vec::new();
    let read = child.stdout.take().map_or(Ok(0), |pipe| {
        pipe.take(MAX_INPUT_BYTES.saturating_add(1)).read_to_end(&mut out)
    });
    let too_big = u64::try_from(out.len()).map_or(true, |len| len > MAX_INPUT_BYTES);
    if too_big || read.is_err() {
        let _ = child.kill();
    }
    let status = child.wait().map_err(io("run", Path::new(tool)))?;
    let err_bytes = tool_stderr.and_then(|t| t.join().ok()).unwrap_or_default();
    read.map_err(io("read", &source))?;
    if too_big {
        return Err(io("read", &source)(std::io::Error::new(
            std::io::ErrorKind::InvalidData,
            format!("the output is larger than {} MiB", MAX_INPUT_BYTES >> 20),
        )));
    }
    if !status.success() {
        return Err(ArgocdError::ToolFailed {
            command,
            dir: dir.to_path_buf(),
            status: status.to_string(),
            source: ToolStderr(String::from_utf8_lossy(&err_bytes).into_owned()),
        }
        .into());
    }
    let warnings = ToolStderr(String::from_utf8_lossy(&err_bytes).into_owned());
    if !warnings.0.trim().is_empty() {
        let _ = writeln!(stderr, "{tool}: {warnings}");
    }
    let text = String::from_utf8(out).map_err(|_| {
        io("read", &source)(std::io::Error::new(
            std::io::ErrorKind::InvalidData,
            "the output is not UTF-8 text",
        ))
    })?;
    super::inputs::no_nul(&text).map_err(io("read", &source))?;
    let name = format!("<{command}>");
    Ok((Stream::new(vec![Source { name, text }]), format!("`{command}`")))
}

/// The cluster setting, else the catalog's only cluster. Argo CD does not tell a plugin the
/// destination cluster, so with several clusters the setting is required.
fn choose_cluster(env: &dyn Env, catalog: &Catalog) -> Result<String, Error> {
    if let Some((name, _)) = setting(env, "CLUSTER", true) {
        return Ok(name);
    }
    let names: Vec<&str> = catalog.clusters().map(|c| c.name.as_str()).collect();
    match names.as_slice() {
        [only] => Ok((*only).to_owned()),
        [] => Err(settings("the catalog defines no cluster".to_owned())),
        many => Err(settings(format!(
            "the catalog defines several clusters ({}) and Argo CD does not tell a plugin the destination cluster: set the plugin parameter cluster, or PULLSEAL_CLUSTER in the Application's spec.source.plugin.env; from an ApplicationSet, template it from the generator, e.g. `plugin: {{env: [{{name: PULLSEAL_CLUSTER, value: '{{{{name}}}}'}}]}}` with the cluster generator",
            many.join(", ")
        ))),
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;

    /// An environment of fixed variables; empty values are unset, as for the process.
    struct Vars(BTreeMap<&'static str, &'static str>);

    impl Vars {
        fn new(vars: &[(&'static str, &'static str)]) -> Vars {
            Vars(vars.iter().copied().collect())
        }
    }

    impl Env for Vars {
        fn var(&self, name: &str) -> Option<String> {
            self.0
                .get(name)
                .filter(|v| !v.is_empty())
                .map(|v| (*v).to_owned())
        }

        fn cwd(&self) -> std::io::Result<PathBuf> {
            Ok(PathBuf::from("/"))
        }
    }

    /// The most specific source wins: a parameter, then `plugin.env` as Argo CD 2.4 on
    /// passes it, then the unprefixed name (older Argo CD, or the sidecar's env).
    #[test]
    fn settings_are_read_from_the_most_specific_source() {
        let all = Vars::new(&[
            ("PARAM_CLUSTER", "a"),
            ("ARGOCD_ENV_PULLSEAL_CLUSTER", "b"),
            ("PULLSEAL_CLUSTER", "c"),
            ("PARAM_CATALOG", "not-a-parameter.yaml"),
            ("PULLSEAL_CATALOG", "catalog.yaml"),
        ]);
        let got =
            |env: &Vars, name, param| setting(env, name, param).map(|(v, from)| format!("{v} from {from}"));
        assert_eq!(got(&all, "CLUSTER", true).unwrap(), "a from PARAM_CLUSTER");
        assert_eq!(
            got(&all, "CATALOG", false).unwrap(),
            "catalog.yaml from PULLSEAL_CATALOG"
        );
        let env = Vars::new(&[
            ("PARAM_CLUSTER", ""),
            ("ARGOCD_ENV_PULLSEAL_CLUSTER", "b"),
            ("PULLSEAL_CLUSTER", "c"),
        ]);
        assert_eq!(
            got(&env, "CLUSTER", true).unwrap(),
            "b from ARGOCD_ENV_PULLSEAL_CLUSTER"
        );
        let env = Vars::new(&[("ARGOCD_ENV_PULLSEAL_CLUSTER", ""), ("PULLSEAL_CLUSTER", "c")]);
        assert_eq!(got(&env, "CLUSTER", true).unwrap(), "c from PULLSEAL_CLUSTER");
        assert_eq!(got(&Vars::new(&[]), "CLUSTER", true), None);
    }

    /// A chart needs a release name, which Argo CD always sets; one that helm would read as
    /// a flag is refused.
    #[test]
    fn a_chart_needs_a_release_name() {
        let tmp = tempfile::tempdir().unwrap();
        fs_err::write(tmp.path().join("Chart.yaml"), "{}\n").unwrap();
        let catalog = tmp.path().join("catalog.yaml");
        let message = |env: &Vars| {
            read_source(Mode::Auto, tmp.path(), &catalog, env, &mut Vec::new())
                .unwrap_err()
                .to_string()
        };
        let messages = [
            message(&Vars::new(&[("ARGOCD_APP_NAMESPACE", "shop")])),
            message(&Vars::new(&[("ARGOCD_APP_NAME", "--post-renderer=x")])),
        ];
        insta::assert_snapshot!(messages.join("\n"), @r#"
            a Helm chart needs a release name, and ARGOCD_APP_NAME (set by Argo CD) is not set
            ARGOCD_APP_NAME --post-renderer=x is not a release name
            "#);
    }

    /// A tool's stderr cannot move the cursor or forge a line: controls but newline and tab
    /// are escaped.
    #[test]
    fn a_tools_stderr_is_shown_without_controls() {
        let shown = ToolStderr("Error: bad\u{1b}[2J\r\nline two\tend\n\n".to_owned()).to_string();
        insta::assert_snapshot!(shown, @r"
            Error: bad\u{1b}[2J\u{d}
            line two	end
            ");
        assert_eq!(ToolStderr(String::new()).to_string(), "(nothing on stderr)");
    }
}
