//! The registry catalog: one SOPS-encrypted YAML file that holds every registry credential
//! and every cluster's sealing settings.
//!
//! Loading decrypts with [`crate::sops`], then checks the whole schema and reports every
//! problem at once. Credentials stay in `secrecy` types from here on; nothing in this module
//! prints, logs or formats a decrypted value (its `Debug` impls included), and its errors
//! name fields, never values.
//!
//! [`edit`] is the way back for `pullseal catalog`: the decrypted tree edited in memory,
//! checked with the same schema check, encrypted again and written atomically.
//!
//! Only fully encrypted catalogs are accepted (see [`CatalogError::NotFullyEncrypted`]): the
//! sops MAC hashes values only, in order, so only a value's own encryption, whose additional
//! data is its key path, ties it to its registry, cluster and field.

pub mod edit;
pub(crate) mod schema;

use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};

use secrecy::SecretBox;

use crate::error::shown;
use crate::reference::{RegistryName, Server};
pub use crate::registry::RegistryType;
use crate::registry::{Credentials, Ecr, Login};
use crate::seal::{Certificate, Scope};
use crate::sops::{self, Identities, SopsError};

/// The file name looked for in the current directory and its parents, up to the repository
/// root (discovery is `frontend`'s, which reads files; this module only loads one).
pub const DEFAULT_FILE: &str = "pullseal.catalog.yaml";

/// A decrypted, checked catalog.
pub struct Catalog {
    /// Where it was read from.
    pub path: PathBuf,
    registries: BTreeMap<RegistryName, Registry>,
    clusters: BTreeMap<String, Cluster>,
    data_key: SecretBox<[u8; 32]>,
}

impl fmt::Debug for Catalog {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Catalog")
            .field("path", &self.path)
            .field("registries", &self.registries.keys().collect::<Vec<_>>())
            .field("clusters", &self.clusters.keys().collect::<Vec<_>>())
            .finish_non_exhaustive()
    }
}

/// One registry of the catalog.
pub struct Registry {
    /// Its name.
    pub name: RegistryName,
    /// Its kind.
    pub kind: RegistryType,
    /// Where its images live.
    pub server: Server,
    /// What its pulls authenticate with, as its provider read it.
    pub credentials: Credentials,
    /// Where it may be used.
    pub allow: Allow,
}

impl Registry {
    /// What a live check of this registry authenticates with: anonymous, Basic (also the
    /// credentials a Bearer challenge's token realm takes), or ECR's AWS settings, to be
    /// exchanged for a token first. See [`Login`].
    pub fn check_credentials(&self) -> Login<'_> {
        match &self.credentials {
            Credentials::Anonymous => Login::Anonymous,
            Credentials::Basic(basic) => Login::Basic {
                username: basic.username(),
                password: basic.password(),
            },
            Credentials::Ecr(ecr) => Login::Ecr(ecr),
        }
    }

    /// The ECR settings, for `type: ecr`.
    pub fn ecr(&self) -> Option<&Ecr> {
        match &self.credentials {
            Credentials::Ecr(ecr) => Some(ecr),
            Credentials::Anonymous | Credentials::Basic(_) => None,
        }
    }
}

/// Glob rules limiting where a registry may be used. `None` allows everything.
#[derive(Debug, Default)]
pub struct Allow {
    /// Namespace globs.
    pub namespaces: Option<Globs>,
    /// Cluster globs.
    pub clusters: Option<Globs>,
    /// Argo CD project globs, matched against `ARGOCD_APP_PROJECT_NAME`.
    pub projects: Option<Globs>,
}

/// A list of globs. Only what they match is kept, not their text: the globs are catalog
/// content, which no message or log shows (its `Debug` shows how many there are).
pub struct Globs {
    set: globset::GlobSet,
}

impl fmt::Debug for Globs {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Globs")
            .field("len", &self.set.len())
            .finish_non_exhaustive()
    }
}

impl Globs {
    /// Whether any glob matches `name`.
    pub fn matches(&self, name: &str) -> bool {
        self.set.is_match(name)
    }
}

/// How a cluster's pull secrets are protected.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SealMode {
    /// Bitnami sealed-secrets.
    SealedSecrets,
    /// A plain Secret (warned about on every render).
    None,
    /// A `Secret` whose `data` is SOPS-encrypted to the cluster's age recipients, for Flux's
    /// kustomize-controller (`spec.decryption.provider: sops`).
    Sops,
}

/// One cluster of the catalog.
pub struct Cluster {
    /// Its name.
    pub name: String,
    /// How secrets are sealed.
    pub seal: SealMode,
    /// The sealed-secrets scope (`strict`, and unused, for `seal: sops`).
    pub scope: Scope,
    /// The controller certificate, for `seal: sealed-secrets`.
    pub certificate: Option<Certificate>,
    /// Registry-name globs whose images this cluster's nodes pull with their own credentials
    /// (the kubelet's credential provider: EKS node roles, GKE, AKS); `None` for none.
    pub kubelet_credentials: Option<Globs>,
    /// The age recipients a `seal: sops` cluster's Secrets are encrypted to (the public keys
    /// of the identities its Flux decrypts with); empty for the other modes.
    pub age_recipients: Vec<age::x25519::Recipient>,
    /// The AWS KMS keys a `seal: sops` cluster's Secrets are also encrypted with (its Flux
    /// decrypts with one of them, or an age identity); empty for the other modes.
    pub kms: Vec<crate::sops::KmsKey>,
}

impl Cluster {
    /// Whether this cluster's kubelet pulls from `registry` with its own credentials, so that
    /// pullseal emits no secret and no `imagePullSecrets` entry for it here (references to it
    /// still resolve and are policy-checked).
    pub fn pulls_with_kubelet(&self, registry: &RegistryName) -> bool {
        self.kubelet_credentials
            .as_ref()
            .is_some_and(|globs| globs.matches(registry.as_str()))
    }
}

/// Why a catalog cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum CatalogError {
    /// No catalog file was found by discovery, which stops at the repository root.
    #[error(
        "no catalog found: no {DEFAULT_FILE} in {} or a parent {}; give --catalog or PULLSEAL_CATALOG",
        shown(searched),
        root.as_deref().map_or_else(
            || "(outside a repository, every parent was searched)".to_owned(),
            |root| format!("up to the repository root {} (discovery stops there)", shown(root))
        )
    )]
    NotFound {
        /// The directory searched from.
        searched: String,
        /// The repository root where discovery stopped, when the search started in one.
        root: Option<String>,
    },
    /// The file could not be read.
    #[error("cannot read the catalog")]
    Read(#[source] std::io::Error),
    /// The file is larger than any catalog should be.
    #[error("the catalog {path} is larger than {} MiB", sops::MAX_FILE_BYTES >> 20)]
    TooLarge {
        /// The catalog path.
        path: String,
    },
    /// The catalog leaves a value plain, or its sops metadata lets sops do so: sops would not
    /// notice such a value being renamed, moved, split or replaced.
    #[error(
        "the catalog {path} is not fully encrypted: {what}\n  \
         why: sops ties a value to its registry, cluster and field only by encrypting it with its \
         key path; its MAC covers values, not key names, and not where one plain value ends and \
         the next begins, so a plain value can be renamed, moved, split or replaced and sops still \
         accepts the file\n  \
         fix: decrypt it (`sops decrypt`), rename keys ending in `_unencrypted`, drop \
         encrypted_regex, unencrypted_regex, encrypted_suffix, unencrypted_suffix, \
         encrypted_comment_regex, unencrypted_comment_regex and mac_only_encrypted from the \
         command line and .sops.yaml, and encrypt it again (`sops encrypt`)"
    )]
    NotFullyEncrypted {
        /// The catalog path.
        path: String,
        /// The first plain path and line, or the metadata field responsible.
        what: String,
    },
    /// SOPS decryption failed.
    #[error("cannot decrypt the catalog {path}")]
    Decrypt {
        /// The catalog path.
        path: String,
        /// Why.
        #[source]
        source: SopsError,
    },
    /// The decrypted content does not follow the schema; every problem is listed.
    #[error("the catalog {path} is not valid:\n{}", .problems.iter().map(|p| format!("  - {p}")).collect::<Vec<_>>().join("\n"))]
    Invalid {
        /// The catalog path.
        path: String,
        /// One line per problem, each naming its field.
        problems: Vec<String>,
    },
}

impl Catalog {
    /// Reads, decrypts and checks the catalog at `path`.
    pub fn load(path: &Path, identities: &Identities) -> Result<Catalog, CatalogError> {
        use std::io::Read as _;
        let file = fs_err::File::open(path).map_err(CatalogError::Read)?;
        // Read one byte past the limit, so a larger file is told apart without reading it all.
        let limit = u64::try_from(sops::MAX_FILE_BYTES).map_or(u64::MAX, |n| n.saturating_add(1));
        let mut bytes = Vec::new();
        file.take(limit)
            .read_to_end(&mut bytes)
            .map_err(CatalogError::Read)?;
        if bytes.len() > sops::MAX_FILE_BYTES {
            return Err(CatalogError::TooLarge {
                path: path.display().to_string(),
            });
        }
        let text = String::from_utf8(bytes).map_err(|_| {
            CatalogError::Read(std::io::Error::new(
                std::io::ErrorKind::InvalidData,
                format!("{} is not UTF-8 text", path.display()),
            ))
        })?;
        Self::from_encrypted(&text, path, identities)
    }

    /// Decrypts and checks catalog `text` read from `path`.
    pub fn from_encrypted(text: &str, path: &Path, identities: &Identities) -> Result<Catalog, CatalogError> {
        let shown = path.display().to_string();
        let decrypted = sops::decrypt(text, identities).map_err(|source| match source {
            SopsError::NotFullyEncrypted { what } => CatalogError::NotFullyEncrypted {
                path: shown.clone(),
                what,
            },
            source => CatalogError::Decrypt {
                path: shown.clone(),
                source,
            },
        })?;
        let root = match decrypted.documents() {
            [root] => root,
            docs => {
                return Err(CatalogError::Invalid {
                    path: shown,
                    problems: vec![format!(
                        "the catalog must be one YAML document, found {}",
                        docs.len()
                    )],
                });
            }
        };
        let (registries, clusters) = schema::check(root).map_err(|problems| CatalogError::Invalid {
            path: shown,
            problems,
        })?;
        let source = secrecy::ExposeSecret::expose_secret(decrypted.data_key());
        let data_key = SecretBox::init_with_mut(|key: &mut [u8; 32]| key.copy_from_slice(source));
        Ok(Catalog {
            path: path.to_path_buf(),
            registries,
            clusters,
            data_key,
        })
    }

    /// The registry called `name`.
    pub fn registry(&self, name: &RegistryName) -> Option<&Registry> {
        self.registries.get(name)
    }

    /// Every registry name, sorted.
    pub fn registry_names(&self) -> impl Iterator<Item = &RegistryName> {
        self.registries.keys()
    }

    /// The cluster called `name`.
    pub fn cluster(&self, name: &str) -> Option<&Cluster> {
        self.clusters.get(name)
    }

    /// Every cluster, sorted by name.
    pub fn clusters(&self) -> impl Iterator<Item = &Cluster> {
        self.clusters.values()
    }

    /// The key sealing derives its randomness from: only catalog holders have it.
    pub fn derivation_key(&self) -> &SecretBox<[u8; 32]> {
        &self.data_key
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn not_found_says_where_discovery_stopped() {
        let err = |root: Option<&str>| {
            CatalogError::NotFound {
                searched: "/home/dev/my repo/apps".to_owned(),
                root: root.map(str::to_owned),
            }
            .to_string()
        };
        insta::assert_snapshot!(err(Some("/home/dev/my repo")), @r#"no catalog found: no pullseal.catalog.yaml in "/home/dev/my repo/apps" or a parent up to the repository root "/home/dev/my repo" (discovery stops there); give --catalog or PULLSEAL_CATALOG"#);
        insta::assert_snapshot!(err(None), @r#"no catalog found: no pullseal.catalog.yaml in "/home/dev/my repo/apps" or a parent (outside a repository, every parent was searched); give --catalog or PULLSEAL_CATALOG"#);
    }

    #[test]
    fn files_over_the_limit_are_refused_without_being_read_whole() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("huge.yaml");
        let file = fs_err::File::create(&path).unwrap();
        // Sparse: 1 GiB on paper, nothing on disk.
        file.set_len(1 << 30).unwrap();
        let err = Catalog::load(&path, &Identities::from_identities(Vec::new())).unwrap_err();
        let shown = err.to_string().replace(&*dir.path().to_string_lossy(), "DIR");
        insta::assert_snapshot!(shown, @"the catalog DIR/huge.yaml is larger than 8 MiB");
    }
}
