//! `pullseal install-kustomize-plugin`: where to put the binary for kustomize's legacy exec
//! plugin lookup. The plugin invocation itself (argv[1] a config file) is not a clap command:
//! `frontend::kustomize` recognises it before clap runs.
// Doc comments here are the `--help` text, where backticks would only be noise.
#![allow(clippy::doc_markdown)]

use std::path::PathBuf;

use clap::Args;

/// Arguments of `pullseal install-kustomize-plugin`.
#[derive(Debug, Args)]
pub struct InstallKustomizePluginArgs {
    /// The kustomize plugin home [default: the one kustomize uses, the first that exists of
    /// $KUSTOMIZE_PLUGIN_HOME, $XDG_CONFIG_HOME/kustomize/plugin, ~/.config/kustomize/plugin
    /// and ~/kustomize/plugin; else the first of them is made].
    #[arg(long, value_name = "DIR")]
    pub dir: Option<PathBuf>,

    /// Make a symbolic link to this binary instead of a copy.
    #[arg(long)]
    pub link: bool,
}

/// The words kustomize appends after the plugin config file (its `argsOneLiner` and
/// `argsFromFile`), read as `pullseal render` options. Returns them with the ids of the
/// options given as words, not filled in from the environment (`catalog`, `cluster`, ...).
pub fn plugin_words(words: &[std::ffi::OsString]) -> Result<(super::RenderArgs, Vec<String>), clap::Error> {
    use clap::{Args as _, FromArgMatches as _, parser::ValueSource};
    let command = super::RenderArgs::augment_args(
        clap::Command::new("pullseal (kustomize plugin argsOneLiner)").no_binary_name(true),
    );
    let matches = command.try_get_matches_from(words)?;
    let given = matches
        .ids()
        .filter(|id| matches.value_source(id.as_str()) == Some(ValueSource::CommandLine))
        .map(ToString::to_string)
        .collect();
    Ok((super::RenderArgs::from_arg_matches(&matches)?, given))
}
