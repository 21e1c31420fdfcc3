//! The command line: clap types only, turned once into the validated options the library
//! takes. No rendering logic lives here.

mod render;

use clap::{Parser, Subcommand};

pub use render::RenderArgs;

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
    Render(RenderArgs),
}
