//! pullseal: render registry references in Kubernetes manifests into `imagePullSecrets`
//! and pull secrets sealed for one cluster.
//!
//! The pipeline, one module per step:
//!
//! ```text
//! frontend (bytes in) ─► manifest (split stream, parse only annotated documents)
//!    ─► reference (annotations → registry names, images → hosts)
//!    ─► catalog (SOPS-decrypted registries and clusters, via `sops`;
//!                each registry read by its `registry` provider)
//!    ─► render (imagePullSecrets edits + one Secret per namespace/registry)
//!    ─► seal (SealedSecret for the cluster; for `seal: sops`, render/flux.rs
//!             SOPS-encrypts a Secret for Flux) ─► frontend (bytes out)
//! ```
//!
//! Nothing in the library writes to stdout: the front-ends own the output stream, so that a
//! failure can never leave half a manifest stream behind.
#![forbid(unsafe_code)]
#![cfg_attr(
    test,
    allow(
        clippy::unwrap_used,
        clippy::expect_used,
        clippy::panic,
        clippy::indexing_slicing
    )
)]

pub mod catalog;
pub mod cli;
mod error;
pub mod frontend;
#[doc(hidden)]
pub mod fuzzing;
mod jobs;
pub mod manifest;
pub mod reference;
pub mod registry;
pub mod render;
pub mod seal;
pub mod sops;

pub use error::Error;
