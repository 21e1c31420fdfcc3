//! `pullseal argocd`: the Argo CD config-management plugin's commands. Settings come from the
//! environment Argo CD gives the plugin, not from flags: see [`crate::frontend`]'s `argocd`.
// Doc comments here are the `--help` text, where backticks would only be noise.
#![allow(clippy::doc_markdown)]

use std::path::PathBuf;

use clap::{Args, Subcommand};

/// Arguments of `pullseal argocd`.
#[derive(Debug, Args)]
pub struct ArgocdArgs {
    /// What to do.
    #[command(subcommand)]
    pub command: ArgocdCommand,
}

/// The subcommands of `pullseal argocd`.
#[derive(Debug, Subcommand)]
pub enum ArgocdCommand {
    /// Render the application source directory, as the plugin's generate command.
    #[command(
        after_help = "Settings, first found wins: the plugin parameters PARAM_CLUSTER, \
        PARAM_NAMESPACE and PARAM_MODE; then ARGOCD_ENV_PULLSEAL_<NAME> (plugin.env, Argo CD \
        2.4 on); then PULLSEAL_<NAME> (plugin.env before 2.4, or the sidecar's own env), for \
        CLUSTER, NAMESPACE, MODE and CATALOG. The namespace defaults to ARGOCD_APP_NAMESPACE; \
        ARGOCD_APP_PROJECT_NAME is matched against allow.projects in the catalog. MODE is \
        auto (default), directory, kustomize or helm."
    )]
    Generate(GenerateArgs),
}

/// Arguments of `pullseal argocd generate`.
#[derive(Debug, Args)]
pub struct GenerateArgs {
    /// The application source directory [default: the working directory, where Argo CD runs
    /// the command].
    pub path: Option<PathBuf>,
}
