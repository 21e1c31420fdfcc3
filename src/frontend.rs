//! Front-ends: how bytes get in and out. This is the only module that writes to stdout, and it
//! writes only after the whole render succeeded, so a failure leaves stdout empty.
//!
//! The plain filter (`pullseal render`) lives here; it is also the Helm post-renderer (Helm 3
//! runs it with `--post-renderer-args`, Helm 4 through `plugin/helm/plugin.yaml`: stdin to
//! stdout either way). The envelopes around it: kustomize's legacy exec plugin
//! (`frontend/kustomize.rs`), the exec KRM function of kpt and kustomize (`frontend/krm.rs`),
//! the Argo CD config-management plugin (`frontend/argocd.rs`). Diagnostics go to
//! stderr, never to stdout, and to `PULLSEAL_LOG` when it is set (`frontend/report.rs`).
//! Finding and reading files is `frontend/inputs.rs`. `pullseal validate`, which reports on
//! the live registries rather than rendering, is `frontend/validate.rs`; the admin's
//! `pullseal catalog` commands are `frontend/catalog.rs`.

mod argocd;
mod catalog;
mod doctor;
mod inputs;
pub(crate) mod krm;
pub mod kustomize;
mod report;
mod scaffold;
mod settings;
mod usage;
mod validate;

use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};

pub use argocd::{ArgocdError, ToolStderr};
use inputs::{io, locate_catalog, read_inputs};
pub use krm::KrmError;
pub use report::Report;
pub use settings::{Settings, SettingsError};

use crate::catalog::Catalog;
use crate::cli::{ArgocdCommand, Cli, Command, RenderArgs};
use crate::error::Error;
use crate::manifest::Stream;
use crate::reference::is_dns_label;
use crate::registry::ecr_token::AwsEndpoints;
use crate::render::{self, FluxKms, Options};
use crate::sops::{Identities, KmsAccess};

/// The process environment, injectable for tests.
pub trait Env {
    /// A variable's value, if set and not empty.
    fn var(&self, name: &str) -> Option<String>;
    /// The working directory.
    fn cwd(&self) -> io::Result<PathBuf>;
}

/// The real process environment.
pub struct ProcessEnv;

impl Env for ProcessEnv {
    fn var(&self, name: &str) -> Option<String> {
        std::env::var(name).ok().filter(|v| !v.is_empty())
    }

    fn cwd(&self) -> io::Result<PathBuf> {
        std::env::current_dir()
    }
}

/// Runs `command` on the process's stdin and stdout; warnings go to `report`.
pub fn run(command: &Command, env: &dyn Env, report: &mut Report<'_>) -> Result<(), Error> {
    match command {
        Command::Render(args) => render(
            args,
            env,
            &mut io::stdin().lock(),
            &mut io::stdout().lock(),
            report,
        ),
        Command::Validate(args) => validate::validate(args, env, &mut io::stdout().lock(), report),
        Command::InstallKustomizePlugin(args) => {
            let exe = std::env::current_exe().map_err(io("read", Path::new("<this binary>")))?;
            kustomize::install_plugin(args, env, &exe, &mut io::stdout().lock())
        }
        Command::Argocd(args) => match &args.command {
            ArgocdCommand::Generate(generate) => {
                argocd::generate(generate, env, &mut io::stdout().lock(), report)
            }
        },
        Command::Doctor(args) => doctor::run(args, env, &mut io::stdout().lock()),
        Command::Usage(args) => {
            write_out(usage::usage(args, env, &mut io::stdin().lock(), report)?.as_bytes())
        }
        Command::Annotation(args) => write_out(scaffold::annotation(args, env)?.as_bytes()),
        Command::Scaffold(args) => write_out(scaffold::scaffold(args, env)?.as_bytes()),
        Command::Catalog(args) => catalog::run(
            args,
            env,
            &mut io::stdin().lock(),
            &mut io::stdout().lock(),
            report,
        ),
        Command::Completions(args) => {
            let mut out = Vec::new();
            clap_complete::generate(
                args.shell,
                &mut <Cli as clap::CommandFactory>::command(),
                "pullseal",
                &mut out,
            );
            write_out(&out)
        }
        Command::Man => {
            let mut out = Vec::new();
            clap_mangen::Man::new(<Cli as clap::CommandFactory>::command())
                .render(&mut out)
                .map_err(io("write", Path::new("<stdout>")))?;
            write_out(&out)
        }
    }
}

/// Writes a generated text to stdout in one piece, after it was made whole.
fn write_out(text: &[u8]) -> Result<(), Error> {
    let mut stdout = io::stdout().lock();
    stdout
        .write_all(text)
        .and_then(|()| stdout.flush())
        .map_err(io("write", Path::new("<stdout>")))
}

/// Runs kustomize's legacy exec plugin call on the process's stdin and stdout.
pub fn run_kustomize_plugin(
    call: &kustomize::PluginCall,
    env: &dyn Env,
    report: &mut Report<'_>,
) -> Result<(), Error> {
    kustomize::run_plugin(
        call,
        env,
        &mut io::stdin().lock(),
        &mut io::stdout().lock(),
        report,
    )
}

/// Runs pullseal as a KRM function (no subcommand): a `ResourceList` from the process's stdin
/// to its stdout.
pub fn run_krm_function(env: &dyn Env, report: &mut Report<'_>) -> Result<(), Error> {
    krm::run_function(env, &mut io::stdin().lock(), &mut io::stdout().lock(), report)
}

/// Runs `pullseal render`: stdout gets the stream, stderr the warnings.
pub fn render(
    args: &RenderArgs,
    env: &dyn Env,
    stdin: &mut dyn Read,
    stdout: &mut dyn Write,
    stderr: &mut dyn Write,
) -> Result<(), Error> {
    // Usage errors first: nothing is read before the command line is known to be right.
    let namespace = default_namespace(args.namespace.as_deref(), env)?;
    let cwd = env.cwd().map_err(io("read", Path::new(".")))?;
    let catalog_path = locate_catalog(args.catalog.as_deref(), &cwd)?;
    let inputs = read_inputs(&args.inputs, &catalog_path, stdin)?;
    warn(stderr, &inputs.warnings);
    let stream = Stream::new(inputs.sources);
    let catalog = load_catalog(args, env, &catalog_path)?;
    let options = |cluster: String| options(args, env, namespace.as_ref(), cluster);
    if args.all_clusters {
        let out_dir = args
            .out_dir
            .clone()
            .ok_or_else(|| Error::Usage("--all-clusters needs --out-dir".to_owned()))?;
        let clusters: Vec<Options> = catalog
            .clusters()
            .map(|cluster| {
                let mut options = options(cluster.name.clone());
                if !cluster.kms.is_empty() {
                    options.kms.previous = previous_kms(&out_dir.join(&cluster.name).join("manifests.yaml"));
                }
                options
            })
            .collect();
        let rendered = render::render_each(&stream, &catalog, &clusters)?;
        // A symbolic link where pullseal writes (committed to the checkout CI renders in)
        // would send the stream, any text the manifests' author chose, to a file elsewhere.
        for cluster in catalog.clusters() {
            let dir = out_dir.join(&cluster.name);
            for path in [dir.join("manifests.yaml"), dir] {
                if fs_err::symlink_metadata(&path).is_ok_and(|m| m.file_type().is_symlink()) {
                    let why = "is a symbolic link; pullseal writes no output through one (remove it)";
                    return Err(io("write", &path)(io::Error::other(why)));
                }
            }
        }
        // Everything rendered: only now touch the disk, so a failure writes nothing.
        for (cluster, result) in catalog.clusters().map(|c| &c.name).zip(rendered) {
            warn(stderr, &result.warnings);
            let dir = out_dir.join(cluster);
            fs_err::create_dir_all(&dir).map_err(io("create", &dir))?;
            let path = dir.join("manifests.yaml");
            let mut file = io::BufWriter::new(fs_err::File::create(&path).map_err(io("create", &path))?);
            result.write_to(&stream, &mut file).map_err(io("write", &path))?;
            file.flush().map_err(io("write", &path))?;
        }
        return Ok(());
    }
    let cluster = choose_cluster(args.cluster.as_deref(), env, &catalog)?;
    let result = render::render(&stream, &catalog, &options(cluster))?;
    warn(stderr, &result.warnings);
    // Everything succeeded: only now does stdout see a byte. The output holds every input
    // byte, so a non-empty input can never give an empty output.
    let stdout_path = Path::new("<stdout>");
    let mut out = io::BufWriter::with_capacity(1 << 16, stdout);
    result
        .write_to(&stream, &mut out)
        .map_err(io("write", stdout_path))?;
    out.flush().map_err(io("write", stdout_path))
}

/// Decrypts the catalog at `path` with the master keys the arguments and environment give.
fn load_catalog(args: &RenderArgs, env: &dyn Env, path: &Path) -> Result<Catalog, Error> {
    Ok(Catalog::load(
        path,
        &identities(args.age_key_file.as_deref(), env)?,
    )?)
}

/// The master keys a sops file may be opened with: the age identities `age_key_file` and the
/// environment give, as sops finds them, and AWS KMS access through the standard AWS variables
/// (`AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY`, `AWS_SESSION_TOKEN`, `AWS_ENDPOINT_URL_KMS`,
/// `AWS_ENDPOINT_URL_STS`, `AWS_ENDPOINT_URL`).
fn identities(age_key_file: Option<&Path>, env: &dyn Env) -> Result<Identities, Error> {
    Ok(Identities::discover(age_key_file, &|name| env.var(name))
        .map_err(Error::Identities)?
        .with_kms(KmsAccess::from_env(|name| env.var(name))))
}

/// The KMS entries of the Secrets an earlier `--out-dir` render wrote to `path`, for reuse
/// (see [`FluxKms`]); none when there is no such file or it cannot be read.
fn previous_kms(
    path: &Path,
) -> std::collections::BTreeMap<(Option<String>, String), Vec<crate::sops::KmsStanza>> {
    match fs_err::read_to_string(path) {
        Ok(text) => FluxKms::previous_from(&text),
        Err(_) => std::collections::BTreeMap::new(),
    }
}

/// The render options of `args` for `cluster`; the AWS endpoints and keys from the environment.
fn options(args: &RenderArgs, env: &dyn Env, namespace: Option<&String>, cluster: String) -> Options {
    Options {
        aws: AwsEndpoints::from_env(|name| env.var(name)),
        kms: FluxKms {
            access: KmsAccess::from_env(|name| env.var(name)),
            previous: std::collections::BTreeMap::new(),
        },
        namespace: namespace.cloned(),
        pod_specs: args.pod_specs.clone(),
        secret_name: args.secret_name.clone(),
        instance: args.instance.clone(),
        ..Options::new(cluster)
    }
}

/// The namespace for objects that name none: `--namespace`, else `ARGOCD_APP_NAMESPACE`.
/// It must be a DNS-1123 label, as every namespace must; the error names where it came from.
fn default_namespace(flag: Option<&str>, env: &dyn Env) -> Result<Option<String>, Error> {
    let (namespace, from) = match (flag, env.var("ARGOCD_APP_NAMESPACE")) {
        (Some(flag), _) => (flag.to_owned(), "--namespace"),
        (None, Some(var)) => (var, "ARGOCD_APP_NAMESPACE"),
        (None, None) => return Ok(None),
    };
    checked_namespace(namespace, from).map(Some)
}

/// `namespace` if it is a DNS-1123 label, else a usage error naming where it came `from`.
fn checked_namespace(namespace: String, from: &str) -> Result<String, Error> {
    if is_dns_label(&namespace) {
        Ok(namespace)
    } else {
        Err(Error::Usage(format!(
            "{from} {namespace:?} is not a valid namespace: a namespace is a DNS-1123 label (at most 63 lowercase letters, digits and '-', starting and ending with a letter or digit)"
        )))
    }
}

/// Prints the first [`MAX_SHOWN_PROBLEMS`](crate::render::MAX_SHOWN_PROBLEMS) warnings and
/// counts the others in one line, as problems are printed: a stream can make one per file.
fn warn(stderr: &mut dyn Write, warnings: &[String]) {
    let shown = crate::render::MAX_SHOWN_PROBLEMS;
    for w in warnings.iter().take(shown) {
        let _ = writeln!(stderr, "warning: {w}");
    }
    if let Some(more) = warnings.len().checked_sub(shown).filter(|m| *m > 0) {
        let _ = writeln!(
            stderr,
            "warning: ... and {more} more warning{} not shown (only the first {shown} are)",
            if more == 1 { "" } else { "s" }
        );
    }
}

/// `--cluster`, else `PULLSEAL_CLUSTER`, else `ARGOCD_ENV_PULLSEAL_CLUSTER`, else the only one.
fn choose_cluster(flag: Option<&str>, env: &dyn Env, catalog: &Catalog) -> Result<String, Error> {
    if let Some(name) = flag
        .map(str::to_owned)
        .or_else(|| env.var("PULLSEAL_CLUSTER"))
        .or_else(|| env.var("ARGOCD_ENV_PULLSEAL_CLUSTER"))
    {
        return Ok(name);
    }
    let names: Vec<&str> = catalog.clusters().map(|c| c.name.as_str()).collect();
    match names.as_slice() {
        [only] => Ok((*only).to_owned()),
        [] => Err(Error::Usage("the catalog defines no cluster".to_owned())),
        many => Err(Error::Usage(format!(
            "the catalog defines several clusters ({}); choose one with --cluster or PULLSEAL_CLUSTER",
            many.join(", ")
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// An environment with at most `ARGOCD_APP_NAMESPACE` set.
    struct ArgoNamespace(Option<&'static str>);

    impl Env for ArgoNamespace {
        fn var(&self, name: &str) -> Option<String> {
            self.0
                .filter(|_| name == "ARGOCD_APP_NAMESPACE")
                .map(str::to_owned)
        }

        fn cwd(&self) -> io::Result<PathBuf> {
            Ok(PathBuf::from("/"))
        }
    }

    /// Warnings are capped as problems are: the first 1,000, then one line counting the rest.
    #[test]
    fn warnings_past_the_first_thousand_are_counted() {
        let warnings: Vec<String> = (1..=1002).map(|i| format!("w{i}")).collect();
        let mut out = Vec::new();
        super::warn(&mut out, &warnings);
        let text = String::from_utf8(out).unwrap();
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), 1001);
        assert_eq!(lines[999], "warning: w1000");
        assert_eq!(
            lines[1000],
            "warning: ... and 2 more warnings not shown (only the first 1000 are)"
        );
        let mut out = Vec::new();
        super::warn(&mut out, &warnings[..1000]);
        assert_eq!(String::from_utf8(out).unwrap().lines().count(), 1000);
    }

    /// Issue 5: a namespace from the command line or Argo CD that is not a DNS-1123 label is a
    /// usage error naming where it came from.
    #[test]
    fn the_default_namespace_must_be_a_dns_label() {
        let errors = [
            default_namespace(Some("1.5"), &ArgoNamespace(None)).unwrap_err(),
            default_namespace(Some("Shop"), &ArgoNamespace(Some("shop"))).unwrap_err(),
            default_namespace(None, &ArgoNamespace(Some("my shop"))).unwrap_err(),
            default_namespace(None, &ArgoNamespace(Some("shop/pullseal-x"))).unwrap_err(),
        ];
        assert!(errors.iter().all(|e| e.exit_code() == 2));
        let messages: Vec<String> = errors.iter().map(ToString::to_string).collect();
        insta::assert_snapshot!(messages.join("\n"), @r#"
            --namespace "1.5" is not a valid namespace: a namespace is a DNS-1123 label (at most 63 lowercase letters, digits and '-', starting and ending with a letter or digit)
            --namespace "Shop" is not a valid namespace: a namespace is a DNS-1123 label (at most 63 lowercase letters, digits and '-', starting and ending with a letter or digit)
            ARGOCD_APP_NAMESPACE "my shop" is not a valid namespace: a namespace is a DNS-1123 label (at most 63 lowercase letters, digits and '-', starting and ending with a letter or digit)
            ARGOCD_APP_NAMESPACE "shop/pullseal-x" is not a valid namespace: a namespace is a DNS-1123 label (at most 63 lowercase letters, digits and '-', starting and ending with a letter or digit)
            "#);
        let ok = |flag, env| default_namespace(flag, &ArgoNamespace(env)).unwrap();
        assert_eq!(ok(None, None), None);
        assert_eq!(ok(Some("42"), Some("Bad")), Some("42".to_owned()));
        assert_eq!(ok(None, Some("team-a")), Some("team-a".to_owned()));
    }
}
