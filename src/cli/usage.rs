//! `pullseal usage`: arguments only.
// Doc comments here are the `--help` text, where backticks would only be noise.
#![allow(clippy::doc_markdown)]

use std::path::PathBuf;

use clap::Args;

use super::{CatalogSource, OutputFormat};
use crate::render::PodSpecPath;

/// Arguments of `pullseal usage`.
#[derive(Debug, Args)]
pub struct UsageArgs {
    /// Manifest files or directories, as for render; standard input when none is given.
    pub inputs: Vec<PathBuf>,

    /// The cluster whose rules the references are checked against [default: PULLSEAL_CLUSTER,
    /// or the catalog's only cluster].
    #[arg(long, value_name = "NAME")]
    pub cluster: Option<String>,

    /// Namespace for objects that have none.
    #[arg(long, short = 'n', value_name = "NS")]
    pub namespace: Option<String>,

    /// Where a custom kind keeps its pod spec, e.g. Rollout=spec.template.spec (repeatable).
    #[arg(long = "pod-spec", value_name = "KIND=PATH", value_parser = |s: &str| s.parse::<PodSpecPath>())]
    pub pod_specs: Vec<PodSpecPath>,

    /// A table for people, or JSON for scripts.
    #[arg(long, short = 'o', value_enum, default_value = "table")]
    pub output: OutputFormat,

    #[command(flatten)]
    #[allow(missing_docs)]
    pub catalog: CatalogSource,
}
