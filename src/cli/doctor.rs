//! `pullseal doctor`: the options that decide what a render would use, as `pullseal render`
//! takes them. The checks themselves are `frontend`'s (`frontend/doctor.rs`).
//!
//! The four options repeat [`super::RenderArgs`]'s rather than flattening a shared struct into
//! both: `RenderArgs` is also built field by field from a kustomize plugin config, and its help
//! text is pinned; the repetition is four fields, and the help says they mean the same.
// Doc comments here are the `--help` text, where backticks would only be noise.
#![allow(clippy::doc_markdown)]

use std::path::PathBuf;

use clap::Args;

/// Arguments of `pullseal doctor`: those of `pullseal render` that decide what it would use.
#[derive(Debug, Args)]
pub struct DoctorArgs {
    /// The SOPS-encrypted catalog, as for render [default: pullseal.catalog.yaml here or in a
    /// parent, up to the repository root].
    #[arg(long, env = "PULLSEAL_CATALOG", value_name = "PATH")]
    pub catalog: Option<PathBuf>,

    /// An age identity file, tried before SOPS_AGE_KEY, SOPS_AGE_KEY_FILE and
    /// ~/.config/sops/age/keys.txt, as for render.
    #[arg(long, value_name = "PATH")]
    pub age_key_file: Option<PathBuf>,

    /// The cluster a render is for: only its problems fail the check [default:
    /// PULLSEAL_CLUSTER, ARGOCD_ENV_PULLSEAL_CLUSTER, or the catalog's only cluster; with none
    /// chosen, every cluster's problems fail it].
    #[arg(long, value_name = "NAME")]
    pub cluster: Option<String>,

    /// Namespace for objects that have none, as for render [default: ARGOCD_APP_NAMESPACE].
    #[arg(long, short = 'n', value_name = "NS")]
    pub namespace: Option<String>,
}
