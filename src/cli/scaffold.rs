//! `pullseal annotation` and `pullseal scaffold`: arguments only.
// Doc comments here are the `--help` text, where backticks would only be noise.
#![allow(clippy::doc_markdown, rustdoc::invalid_html_tags)]

use std::path::PathBuf;

use clap::{Args, ValueEnum};

/// Where the catalog comes from, as for `render`.
#[derive(Debug, Args)]
pub struct CatalogSource {
    /// The SOPS-encrypted catalog [default: pullseal.catalog.yaml here or in a parent, up to
    /// the repository root].
    #[arg(long, env = "PULLSEAL_CATALOG", value_name = "PATH")]
    pub catalog: Option<PathBuf>,

    /// An age identity file, tried before SOPS_AGE_KEY, SOPS_AGE_KEY_FILE and
    /// ~/.config/sops/age/keys.txt.
    #[arg(long, value_name = "PATH")]
    pub age_key_file: Option<PathBuf>,
}

/// How `pullseal annotation` writes its snippet.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum SnippetFormat {
    /// The annotations block of a pod template's metadata.
    Yaml,
    /// A Helm chart's values: `podAnnotations`.
    HelmValues,
}

/// Arguments of `pullseal annotation`.
#[derive(Debug, Args)]
pub struct AnnotationArgs {
    /// The catalog registry the images come from.
    pub registry: String,

    /// Name the registry for this container only (registry.pullseal.io/<NAME>) instead of for
    /// the whole pod (pullseal.io/registries).
    #[arg(long, value_name = "NAME")]
    pub container: Option<String>,

    /// What to print.
    #[arg(long, value_enum, default_value = "yaml")]
    pub format: SnippetFormat,

    #[command(flatten)]
    #[allow(missing_docs)]
    pub catalog: CatalogSource,
}

/// The workload kinds `pullseal scaffold` makes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ScaffoldKind {
    /// An apps/v1 Deployment.
    Deployment,
    /// An apps/v1 StatefulSet.
    Statefulset,
    /// A batch/v1 CronJob.
    Cronjob,
    /// A batch/v1 Job.
    Job,
}

/// Arguments of `pullseal scaffold`.
#[derive(Debug, Args)]
pub struct ScaffoldArgs {
    /// What to make.
    #[arg(value_enum)]
    pub kind: ScaffoldKind,

    /// The workload's name (a DNS-1123 label), also its container's.
    #[arg(long, value_name = "NAME")]
    pub name: String,

    /// The catalog registry the image comes from; the image is built from its server.
    #[arg(long, value_name = "REGISTRY")]
    pub registry: String,

    /// The repository under the registry's server, e.g. team/web.
    #[arg(long, value_name = "PATH")]
    pub repository: String,

    /// The image tag.
    #[arg(long, value_name = "TAG")]
    pub tag: String,

    /// The namespace [default: none; give it here, in kustomize or with render --namespace].
    #[arg(long, short = 'n', value_name = "NS")]
    pub namespace: Option<String>,

    /// A container port to declare.
    #[arg(long, value_name = "PORT", value_parser = clap::value_parser!(u16).range(1..))]
    pub port: Option<u16>,

    /// The CronJob's schedule.
    #[arg(long, value_name = "CRON", default_value = "0 3 * * *")]
    pub schedule: String,

    /// A handlebars template of your own instead of the built-in one, with {{name}},
    /// {{namespace}}, {{image}}, {{registry}}, {{annotation}}, {{port}} and {{schedule}}.
    #[arg(long, value_name = "FILE")]
    pub template: Option<PathBuf>,

    #[command(flatten)]
    #[allow(missing_docs)]
    pub catalog: CatalogSource,
}
