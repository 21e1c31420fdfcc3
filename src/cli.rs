//! The command line: clap types only, turned once into the validated options the library
//! takes. No rendering logic lives here.

mod argocd;
mod catalog;
mod doctor;
mod kustomize;
mod render;
mod scaffold;
mod usage;
mod validate;

use clap::{Parser, Subcommand};

pub use argocd::{ArgocdArgs, ArgocdCommand, GenerateArgs};
pub use catalog::{
    AddArgs, CatalogArgs, CatalogCommand, ClusterAddArgs, ClusterCommand, ClusterSetArgs, FieldArgs,
    InitArgs, ListArgs, NameArgs, RekeyArgs, RmArgs, RotateArgs, SecretArgs, SetArgs, ShowArgs,
};
pub use doctor::DoctorArgs;
pub use kustomize::{InstallKustomizePluginArgs, plugin_words};
pub use render::RenderArgs;
pub use scaffold::{AnnotationArgs, CatalogSource, ScaffoldArgs, ScaffoldKind, SnippetFormat};
pub use usage::UsageArgs;
pub use validate::{OutputFormat, ValidateArgs};

/// Render registry references in Kubernetes manifests into imagePullSecrets and pull
/// secrets sealed for one cluster.
#[derive(Debug, Parser)]
#[command(name = "pullseal", version, about, long_about = None, propagate_version = true)]
pub struct Cli {
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Read manifests, add imagePullSecrets and emit sealed pull secrets.
    #[command(
        after_help = "Set PULLSEAL_LOG=FILE to append each run's warnings, errors and exit code to \
        FILE as well, for hosts that hide stderr (a Helm 4 post-renderer plugin)."
    )]
    Render(RenderArgs),
    /// Check each registry's credentials against the live registry (the Docker Registry v2
    /// handshake), and optionally pull access to one repository.
    #[command(
        after_help = "Exit 0 when every registry checked is valid, 6 when any is not; --output json \
        gives {\"registries\": [{\"name\", \"server\", \"status\", \"reason\", \"latency_ms\", ...}]}.\n\
        Example: pullseal validate --timeout 5 company quay-team"
    )]
    Validate(ValidateArgs),
    /// Put this binary where kustomize looks for the pullseal.io/v1alpha1 Render plugin
    /// (DIR/pullseal.io/v1alpha1/render/Render), for `kubectl kustomize --enable-alpha-plugins`.
    InstallKustomizePlugin(InstallKustomizePluginArgs),
    /// Run as an Argo CD config-management plugin (plugin/argocd/plugin.yaml).
    Argocd(ArgocdArgs),
    /// Check what a render would use (mode, catalog, age identity, clusters, tools) and
    /// whether it would fail; prints a report, never a key or credential.
    #[command(
        after_help = "Exits 0 when nothing found would make a render fail, else with the exit code the \
        first such problem gives a render (see the README's table). Warnings (a certificate that \
        expires within 30 days, seal: none, a missing tool) do not fail it."
    )]
    Doctor(DoctorArgs),
    /// Print the annotation that makes a workload's images pull from a catalog registry, to
    /// paste into a pod template or a chart's values.
    #[command(after_help = "Example: pullseal annotation company --container web --format helm-values")]
    Annotation(AnnotationArgs),
    /// Print a ready workload whose image comes from a catalog registry, annotation set.
    #[command(
        after_help = "Example: pullseal scaffold deployment --name web --registry company --repository team/web --tag 1.4.2 --namespace shop --port 8080 > web.yaml"
    )]
    Scaffold(ScaffoldArgs),
    /// Administer the catalog: create it, add, change, rotate and remove registries and
    /// clusters, list them; secrets only from standard input or files, never decrypted to disk.
    #[command(
        after_help = "Example: pullseal catalog init --age age1... && printf %s \"$TOKEN\" | pullseal catalog add quay-team --type quay --server quay.io/acme --username acme+ci --password-stdin"
    )]
    Catalog(Box<CatalogArgs>),
    /// List which workloads, in which namespaces, use which catalog registry, and the
    /// registries none uses; references are checked for the cluster as render checks them.
    #[command(after_help = "Example: pullseal usage --cluster prod-eu manifests/ --output json")]
    Usage(UsageArgs),
    /// Print the shell completion script for SHELL, generated from these definitions.
    #[command(after_help = "Example: pullseal completions bash > /etc/bash_completion.d/pullseal")]
    Completions(CompletionsArgs),
    /// Print pullseal's manual page (roff), generated from these definitions.
    #[command(after_help = "Example: pullseal man > /usr/local/share/man/man1/pullseal.1")]
    Man,
}

/// Arguments of `pullseal completions`.
#[derive(Debug, clap::Args)]
pub struct CompletionsArgs {
    /// The shell: bash, zsh, fish, elvish or powershell.
    pub shell: clap_complete::Shell,
}
