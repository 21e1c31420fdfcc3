//! kustomize's legacy exec plugin, and `pullseal install-kustomize-plugin`, which puts the
//! binary where kustomize looks for it.
//!
//! The contract (kustomize `api/internal/plugins/execplugin/execplugin.go`): kustomize finds
//! `<plugin home>/pullseal.io/v1alpha1/render/Render` for a transformer config of that
//! apiVersion and kind, runs it with the path of a temporary copy of the config as `argv[1]` and
//! the config's `argsOneLiner`/`argsFromFile` words after it, the resources on stdin, the
//! kustomization directory in `KUSTOMIZE_PLUGIN_CONFIG_ROOT`, and takes stdout as the new
//! resources. Its stderr is shown only when the plugin fails.
//!
//! The run is `pullseal render` on stdin with the settings object applied: relative paths,
//! catalog discovery included, start from the kustomization directory, never from the process
//! working directory. Nothing reaches stdout unless the whole render succeeded.
//!
//! What this module must *not* do: decide anything a render decides; it only translates the
//! plugin's envelope into [`RenderArgs`].

use std::ffi::OsString;
use std::io::{self, Read, Write};
use std::os::unix::fs::PermissionsExt as _;
use std::path::{Path, PathBuf};

use super::inputs::io;
use super::settings::{API_VERSION, KIND, Settings};
use super::{Env, render};
use crate::cli::{InstallKustomizePluginArgs, RenderArgs, plugin_words};
use crate::error::{Error, shown_path};
use crate::manifest::tree;
use crate::render::{NO_NAMESPACE, RenderError};

/// Where under a plugin home kustomize looks for the `Render` plugin.
pub const PLUGIN_PATH: &str = "pullseal.io/v1alpha1/render/Render";

/// A plugin config larger than this is not one (kustomize writes a few lines).
const MAX_CONFIG_BYTES: u64 = 1 << 20;

/// How kustomize runs pullseal as a legacy exec plugin.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PluginCall {
    /// The plugin config file: `argv[1]`.
    pub config: PathBuf,
    /// The words after it (`argsOneLiner`, `argsFromFile`).
    pub words: Vec<OsString>,
}

/// The plugin call `args` (the whole argv) is, if it is one: `argv[1]` is not an option or a
/// subcommand name but an existing file holding a `pullseal.io/v1alpha1` `Render` object, or
/// one that names `pullseal.io/v1alpha1` but cannot be read as that object (too large, not UTF-8,
/// not YAML, another kind): that file is meant for pullseal, and the plugin run says what is
/// wrong with it, naming it, where clap could only say "unrecognized subcommand".
/// Anything else is left to clap, so its errors stay as they are.
pub fn plugin_call(args: &[OsString], subcommands: &[&str]) -> Option<PluginCall> {
    let first = args.get(1)?;
    // clap's own `help` is not among the defined subcommands, but is one on the command line.
    if first
        .to_str()
        .is_some_and(|s| s.starts_with('-') || s == "help" || subcommands.contains(&s))
    {
        return None;
    }
    let config = PathBuf::from(first);
    let file = fs_err::File::open(&config).ok()?;
    if !file.metadata().ok()?.is_file() {
        return None;
    }
    let mut bytes = Vec::new();
    file.take(MAX_CONFIG_BYTES).read_to_end(&mut bytes).ok()?;
    let is_render = std::str::from_utf8(&bytes)
        .ok()
        .and_then(|text| tree::parse(text).ok().flatten())
        .is_some_and(|root| {
            let field = |key: &str| root.get(key).and_then(|(n, _)| n.as_str());
            field("apiVersion") == Some(API_VERSION) && field("kind") == Some(KIND)
        });
    let names_us = memchr::memmem::find(&bytes, API_VERSION.as_bytes()).is_some();
    (is_render || names_us).then(|| PluginCall {
        config,
        words: args.get(2..).unwrap_or_default().to_vec(),
    })
}

/// Reads the plugin config, at most [`MAX_CONFIG_BYTES`] of it.
fn read_config(path: &Path) -> Result<String, Error> {
    let file = fs_err::File::open(path).map_err(io("read", path))?;
    let mut text = String::new();
    file.take(MAX_CONFIG_BYTES + 1)
        .read_to_string(&mut text)
        .map_err(io("read", path))?;
    if u64::try_from(text.len()).map_or(true, |len| len > MAX_CONFIG_BYTES) {
        return Err(io("read", path)(io::Error::new(
            io::ErrorKind::InvalidData,
            format!(
                "a plugin config is a few lines of settings, and this one is larger than {} MiB",
                MAX_CONFIG_BYTES >> 20
            ),
        )));
    }
    Ok(text)
}

/// The environment of a plugin run: the process's, with the kustomization directory as the
/// place relative paths and catalog discovery start from.
struct Rooted<'e> {
    env: &'e dyn Env,
    base: PathBuf,
}

impl Env for Rooted<'_> {
    fn var(&self, name: &str) -> Option<String> {
        self.env.var(name)
    }

    fn cwd(&self) -> io::Result<PathBuf> {
        Ok(self.base.clone())
    }
}

/// Runs the plugin: the resources on `stdin`, rendered to `stdout`, as `pullseal render` does.
pub fn run_plugin(
    call: &PluginCall,
    env: &dyn Env,
    stdin: &mut dyn Read,
    stdout: &mut dyn Write,
    stderr: &mut dyn Write,
) -> Result<(), Error> {
    let cwd = env.cwd().map_err(io("read", Path::new(".")))?;
    // kustomize sets the variable to the kustomization directory; run by hand, the config's own
    // directory is the anchor.
    let base = match env.var("KUSTOMIZE_PLUGIN_CONFIG_ROOT") {
        Some(root) => cwd.join(root),
        None => cwd
            .join(&call.config)
            .parent()
            .map_or_else(|| cwd.clone(), Path::to_path_buf),
    };
    let text = read_config(&call.config)?;
    let settings = Settings::parse(&text, &call.config.display().to_string(), &base)?;
    let args = merge(settings, &call.words, &call.config, &base)?;
    render(&args, &Rooted { env, base }, stdin, stdout, stderr).map_err(|e| match e {
        // The render's message names --namespace, which a plugin has no way to give.
        Error::Input(RenderError::Input(mut diagnostics)) => {
            for d in &mut diagnostics {
                if d.message == NO_NAMESPACE {
                    NO_NAMESPACE_HERE.clone_into(&mut d.message);
                }
            }
            Error::Input(RenderError::Input(diagnostics))
        }
        other => other,
    })
}

/// What an object with no namespace is told when its secret must be sealed for one.
const NO_NAMESPACE_HERE: &str = "has no namespace; give the object one, or `namespace` in the kustomization or in the Render settings: the sealing scope binds the secret to a namespace";

/// The render arguments of a plugin run: the settings object, and the `argsOneLiner` words for
/// what it leaves out (then the environment, as for `pullseal render`). An option in both is an
/// error rather than a silent choice. With no words, this is the settings over the environment.
pub(super) fn merge(
    settings: Settings,
    words: &[OsString],
    config: &Path,
    base: &Path,
) -> Result<RenderArgs, Error> {
    let (args, given) = plugin_words(words).map_err(|e| {
        Error::Usage(format!(
            "the words after the plugin config (argsOneLiner) are not render options: {}",
            e.render().to_string().trim_end()
        ))
    })?;
    let config = shown_path(config);
    for (id, flag) in [
        ("inputs", "an input"),
        ("all_clusters", "--all-clusters"),
        ("out_dir", "--out-dir"),
    ] {
        if given.iter().any(|g| g == id) {
            return Err(Error::Usage(format!(
                "argsOneLiner of {config} gives {flag}, but kustomize hands the plugin its resources on stdin"
            )));
        }
    }
    let set_in_settings = [
        ("catalog", "catalog", settings.catalog.is_some()),
        ("age_key_file", "ageKeyFile", settings.age_key_file.is_some()),
        ("cluster", "cluster", settings.cluster.is_some()),
        ("namespace", "namespace", settings.namespace.is_some()),
        ("pod_specs", "podSpecs", !settings.pod_specs.is_empty()),
        ("secret_name", "secretName", settings.secret_name.is_some()),
        ("instance", "instance", settings.instance.is_some()),
    ];
    for (id, field, set) in set_in_settings {
        if set && given.iter().any(|g| g == id) {
            return Err(Error::Usage(format!(
                "{field} is set both in {config} and by its argsOneLiner; set it in one place"
            )));
        }
    }
    let resolve = |path: Option<PathBuf>| path.map(|p| base.join(p));
    Ok(RenderArgs {
        inputs: Vec::new(),
        catalog: settings.catalog.or_else(|| resolve(args.catalog)),
        age_key_file: settings.age_key_file.or_else(|| resolve(args.age_key_file)),
        cluster: settings.cluster.or(args.cluster),
        all_clusters: false,
        out_dir: None,
        namespace: settings.namespace.or(args.namespace),
        pod_specs: if settings.pod_specs.is_empty() {
            args.pod_specs
        } else {
            settings.pod_specs
        },
        secret_name: settings.secret_name.or(args.secret_name),
        instance: settings.instance.or(args.instance),
    })
}

/// The kustomize plugin homes, in the order kustomize v5 tries them (`api/konfig`
/// `DefaultAbsPluginHome`): it uses the first that exists, whether or not the plugin is in it.
pub(super) fn plugin_homes(env: &dyn Env) -> Vec<PathBuf> {
    let mut homes = Vec::new();
    if let Some(home) = env.var("KUSTOMIZE_PLUGIN_HOME") {
        homes.push(PathBuf::from(home));
    }
    if let Some(config) = env.var("XDG_CONFIG_HOME") {
        homes.push(Path::new(&config).join("kustomize/plugin"));
    }
    if let Some(home) = env.var("HOME") {
        homes.push(Path::new(&home).join(".config/kustomize/plugin"));
        homes.push(Path::new(&home).join("kustomize/plugin"));
    }
    homes
}

/// `pullseal install-kustomize-plugin`: copies (or links) `exe` to [`PLUGIN_PATH`] under the
/// plugin home and prints the path it went to.
pub fn install_plugin(
    args: &InstallKustomizePluginArgs,
    env: &dyn Env,
    exe: &Path,
    stdout: &mut dyn Write,
) -> Result<(), Error> {
    let cwd = env.cwd().map_err(io("read", Path::new(".")))?;
    // kustomize uses the first plugin home that exists: install there, and make the first one
    // only when none exists, so that no other plugin is hidden behind a new directory.
    let homes: Vec<PathBuf> = plugin_homes(env).iter().map(|h| cwd.join(h)).collect();
    let home = args
        .dir
        .as_ref()
        .map(|d| cwd.join(d))
        .or_else(|| homes.iter().find(|h| h.is_dir()).cloned())
        .or_else(|| homes.first().cloned())
        .ok_or_else(|| {
            Error::Usage(
                "no kustomize plugin home: pass --dir, or set KUSTOMIZE_PLUGIN_HOME or HOME".to_owned(),
            )
        })?;
    let target = home.join(PLUGIN_PATH);
    let dir = target.parent().unwrap_or(&cwd).to_path_buf();
    fs_err::create_dir_all(&dir).map_err(io("create", &dir))?;
    let exe = fs_err::canonicalize(exe).map_err(io("read", exe))?;
    // Made beside the target and renamed over it: a kustomize running the old plugin meanwhile
    // sees the old file or the new one, never half a copy.
    let staged = dir.join(format!(".Render.{}.tmp", std::process::id()));
    let _ = fs_err::remove_file(&staged);
    if args.link {
        std::os::unix::fs::symlink(&exe, &staged).map_err(io("create", &staged))?;
    } else {
        fs_err::copy(&exe, &staged).map_err(io("create", &staged))?;
        fs_err::set_permissions(&staged, std::fs::Permissions::from_mode(0o755))
            .map_err(io("create", &staged))?;
    }
    fs_err::rename(&staged, &target).map_err(io("create", &target))?;
    let out = Path::new("<stdout>");
    writeln!(stdout, "{}", target.display()).map_err(io("write", out))?;
    stdout.flush().map_err(io("write", out))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn words(w: &[&str]) -> Vec<OsString> {
        w.iter().map(OsString::from).collect()
    }

    #[test]
    fn only_a_render_config_file_is_a_plugin_call() {
        let tmp = tempfile::tempdir().unwrap();
        let config = tmp.path().join("kust-plugin-config-1");
        fs_err::write(
            &config,
            "apiVersion: pullseal.io/v1alpha1\nkind: Render\nmetadata: {name: p}\n",
        )
        .unwrap();
        let other = tmp.path().join("deploy.yaml");
        fs_err::write(&other, "apiVersion: v1\nkind: ConfigMap\n").unwrap();
        let subcommands = ["render", "help"];
        let call = plugin_call(
            &words(&["pullseal", config.to_str().unwrap(), "--cluster", "x"]),
            &subcommands,
        );
        assert_eq!(
            call,
            Some(PluginCall {
                config: config.clone(),
                words: words(&["--cluster", "x"])
            })
        );
        // A file that says it is a pullseal config but cannot be read as one is a plugin call
        // too, so that the run names the file and what is wrong with it.
        for (name, bytes) in [
            (
                "broken",
                &b"apiVersion: pullseal.io/v1alpha1\nkind: Render\ncluster: [\n"[..],
            ),
            (
                "renderer",
                &b"apiVersion: pullseal.io/v1alpha1\nkind: Renderer\n"[..],
            ),
            (
                "latin1",
                &b"apiVersion: pullseal.io/v1alpha1\nkind: Render\n# caf\xe9\n"[..],
            ),
        ] {
            let path = tmp.path().join(name);
            fs_err::write(&path, bytes).unwrap();
            let argv = words(&["pullseal", path.to_str().unwrap()]);
            assert!(plugin_call(&argv, &subcommands).is_some(), "{name}");
        }
        for argv in [
            vec!["pullseal"],
            vec!["pullseal", "render"],
            vec!["pullseal", "help"],
            vec!["pullseal", "--help"],
            vec!["pullseal", other.to_str().unwrap()],
            vec!["pullseal", tmp.path().to_str().unwrap()],
            vec!["pullseal", "no-such-file"],
        ] {
            assert_eq!(plugin_call(&words(&argv), &subcommands), None, "{argv:?}");
        }
    }

    #[test]
    fn argsoneliner_words_fill_in_and_never_silently_lose_to_the_settings() {
        let base = Path::new("/kust/app");
        let config = Path::new("overlays/prod/pullseal.yaml");
        let settings = Settings {
            cluster: Some("prod".to_owned()),
            ..Settings::default()
        };
        let args = merge(
            settings.clone(),
            &words(&["--catalog", "c.yaml", "--instance", "i"]),
            config,
            base,
        )
        .unwrap();
        assert_eq!(args.catalog, Some(PathBuf::from("/kust/app/c.yaml")));
        assert_eq!(args.cluster.as_deref(), Some("prod"));
        assert_eq!(args.instance.as_deref(), Some("i"));
        let errors = [
            merge(settings.clone(), &words(&["--cluster", "dev"]), config, base),
            merge(settings.clone(), &words(&["in.yaml"]), config, base),
            merge(
                settings,
                &words(&["--all-clusters", "--out-dir", "x"]),
                config,
                base,
            ),
        ];
        let messages: Vec<String> = errors.into_iter().map(|e| e.unwrap_err().to_string()).collect();
        insta::assert_snapshot!(messages.join("\n"), @"
        cluster is set both in overlays/prod/pullseal.yaml and by its argsOneLiner; set it in one place
        argsOneLiner of overlays/prod/pullseal.yaml gives an input, but kustomize hands the plugin its resources on stdin
        argsOneLiner of overlays/prod/pullseal.yaml gives --all-clusters, but kustomize hands the plugin its resources on stdin
        ");
    }
}
