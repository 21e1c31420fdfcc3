//! The top-level error: one kind per way pullseal can fail, and the kind alone decides the
//! exit code (the table is in the README and in [`Error::exit_code`]).
//!
//! Messages come from the module errors underneath and never hold a credential.

use std::path::PathBuf;

use crate::catalog::CatalogError;
use crate::render::RenderError;
use crate::seal::SealError;
use crate::sops::SopsError;

/// Everything that can stop a run.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The manifests have problems (exit 1).
    #[error(transparent)]
    Input(RenderError),
    /// The command line or environment is wrong (exit 2).
    #[error("{0}")]
    Usage(String),
    /// The catalog cannot be found, decrypted or understood (exit 3).
    #[error(transparent)]
    Catalog(#[from] CatalogError),
    /// The age identities cannot be read (exit 3).
    #[error("cannot load age identities")]
    Identities(#[source] SopsError),
    /// The cluster's sealing settings cannot be used (exit 4).
    #[error(transparent)]
    Seal(RenderError),
    /// Catalog discovery found a catalog that is a symbolic link out of the repository
    /// (exit 3): discovery never leaves the repository, so it is not used.
    #[error(
        "{} is a symbolic link to {}, outside the repository {}; pass it with --catalog to use it",
        link.display(),
        target.display(),
        root.display()
    )]
    CatalogOutsideRepository {
        /// The link that was found.
        link: PathBuf,
        /// Where it points.
        target: PathBuf,
        /// The repository root (the directory holding `.git`).
        root: PathBuf,
    },
    /// Reading inputs or writing outputs failed (exit 5). The message names the action and
    /// the path; the I/O error itself is the source, printed once as the cause.
    #[error("cannot {action} {}", path.display())]
    Io {
        /// What was being done: `read`, `write`, `create`...
        action: &'static str,
        /// The file involved.
        path: PathBuf,
        /// What happened.
        source: std::io::Error,
    },
}

impl From<RenderError> for Error {
    fn from(e: RenderError) -> Self {
        match e {
            // Namespaces and names come from the manifests (flags are checked up front), so a
            // seal that refuses one is a problem of the input.
            RenderError::Input(_)
            | RenderError::Seal {
                source: SealError::InvalidNamespace { .. } | SealError::InvalidName { .. },
                ..
            } => Error::Input(e),
            RenderError::Template { .. } => Error::Usage(e.to_string()),
            RenderError::Cluster { .. } | RenderError::Seal { .. } => Error::Seal(e),
        }
    }
}

impl Error {
    /// The process exit code for this error.
    pub fn exit_code(&self) -> u8 {
        match self {
            Error::Input(_) => 1,
            Error::Usage(_) => 2,
            Error::Catalog(_) | Error::Identities(_) | Error::CatalogOutsideRepository { .. } => 3,
            Error::Seal(_) => 4,
            Error::Io { .. } => 5,
        }
    }

    /// A line that tells the user what to try next, where there is one.
    pub fn hint(&self) -> Option<&'static str> {
        match self {
            Error::Catalog(CatalogError::Decrypt {
                source: SopsError::NoIdentity { .. },
                ..
            })
            | Error::Identities(_) => {
                Some("give the catalog's age identity with --age-key-file, SOPS_AGE_KEY_FILE or SOPS_AGE_KEY")
            }
            Error::Catalog(CatalogError::NotFound { .. }) => {
                Some("run from the directory that holds the catalog, or pass --catalog")
            }
            _ => None,
        }
    }
}
