//! `pullseal render`: arguments, and their translation into [`crate::render::Options`].
// Doc comments here are the `--help` text, where backticks would only be noise.
#![allow(clippy::doc_markdown, rustdoc::invalid_html_tags)]

use std::path::PathBuf;

use clap::Args;

use crate::render::PodSpecPath;

/// Arguments of `pullseal render`.
#[derive(Debug, Args)]
pub struct RenderArgs {
    /// Manifest files or directories (walked in sorted order for *.yaml, *.yml, *.json);
    /// standard input when none is given or for `-`.
    pub inputs: Vec<PathBuf>,

    /// The SOPS-encrypted catalog [default: pullseal.catalog.yaml here or in a parent, up to
    /// the repository root].
    #[arg(long, env = "PULLSEAL_CATALOG", value_name = "PATH")]
    pub catalog: Option<PathBuf>,

    /// An age identity file, tried before SOPS_AGE_KEY, SOPS_AGE_KEY_FILE and
    /// ~/.config/sops/age/keys.txt.
    #[arg(long, value_name = "PATH")]
    pub age_key_file: Option<PathBuf>,

    /// The cluster to render for [default: PULLSEAL_CLUSTER, ARGOCD_ENV_PULLSEAL_CLUSTER, or
    /// the catalog's only cluster].
    #[arg(long, value_name = "NAME", conflicts_with = "all_clusters")]
    pub cluster: Option<String>,

    /// Render every cluster of the catalog into OUT_DIR/<cluster>/, decrypting it once.
    #[arg(long, requires = "out_dir")]
    pub all_clusters: bool,

    /// Where --all-clusters writes.
    #[arg(long, value_name = "DIR", requires = "all_clusters")]
    pub out_dir: Option<PathBuf>,

    /// Namespace for objects that have none [default: ARGOCD_APP_NAMESPACE].
    #[arg(long, short = 'n', value_name = "NS")]
    pub namespace: Option<String>,

    /// Where a custom kind keeps its pod spec, e.g. Rollout=spec.template.spec (repeatable).
    #[arg(long = "pod-spec", value_name = "KIND=PATH", value_parser = parse_pod_spec)]
    pub pod_specs: Vec<PodSpecPath>,

    /// Handlebars template for secret names, with {{registry}}, {{namespace}}, {{cluster}} and
    /// {{instance}} [default: pullseal-{{registry}}].
    #[arg(long, value_name = "TEMPLATE")]
    pub secret_name: Option<String>,

    /// Value of {{instance}} in --secret-name.
    #[arg(long, value_name = "NAME")]
    pub instance: Option<String>,
}

fn parse_pod_spec(s: &str) -> Result<PodSpecPath, String> {
    s.parse()
}
