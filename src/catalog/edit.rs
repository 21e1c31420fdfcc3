//! Editing the catalog: open it decrypted in memory, change its tree, check the result with
//! the loader's own schema check, encrypt it again and replace the file atomically.
//!
//! An edit re-encrypts with [`Randomness::Edit`]: the same data key, and every value whose
//! path, type and plaintext did not change keeps its ciphertext (as sops's IV stash does), so
//! a `git diff` of an edit shows the changed field's lines, `lastmodified` and `mac` only.
//! A new catalog ([`Editor::init`]) gets fresh randomness. The catalog's YAML comments are
//! written back where they were, encrypted as sops encrypts them (an unchanged one keeps its
//! ciphertext too); those of a removed registry or cluster go with it.
//!
//! Writes go to a temporary file in the catalog's directory (created 0600), which takes the
//! old file's permissions, is `fsync`ed and renamed over the old file; the directory is
//! `fsync`ed after. A failure at any step leaves the old file as it was and removes the
//! temporary file; a file changed by someone else since it was read is not overwritten.
//!
//! What this module must *not* do:
//! - write anything decrypted anywhere: the plaintext tree lives in memory only (its strings
//!   in `secrecy` types), and the only bytes written are `sops::encrypt`'s output;
//! - write a catalog the loader would refuse: [`Editor::save`] runs the schema check first,
//!   and its problems are the loader's, word for word;
//! - drop a master key: a catalog with PGP, Vault, GCP or Azure keys, or several key groups,
//!   is refused rather than re-encrypted to its age recipients and AWS KMS keys only;
//! - show a decrypted value in an error or a `Debug`: errors name registries, clusters,
//!   fields and paths.

use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::str::FromStr as _;

use secrecy::SecretString;

use super::{Catalog, CatalogError, schema};
use crate::error::{shown, shown_path};
use crate::sops::kms::KmsError;
use crate::sops::{
    self, Comments, Decrypted, EncryptOptions, Identities, KmsAccess, KmsKey, KmsRecipients, LastModified,
    Randomness, Rule, SopsError, Value,
};

/// The registries and clusters of a checked tree.
pub type Checked = (
    std::collections::BTreeMap<crate::reference::RegistryName, super::Registry>,
    std::collections::BTreeMap<String, super::Cluster>,
);

/// Why an edit was refused or could not be written. Nothing was written in any case.
#[derive(Debug, thiserror::Error)]
pub enum EditError {
    /// `catalog init` found a file where the catalog would go.
    #[error("{} exists; catalog init does not overwrite a file", shown_path(path))]
    Exists {
        /// The path.
        path: PathBuf,
    },
    /// The catalog cannot be opened: the loader's error.
    #[error(transparent)]
    Load(#[from] CatalogError),
    /// An age recipient given is not one.
    #[error("{} is not an age recipient (age1...)", shown(recipient))]
    BadRecipient {
        /// What was given (a public key, not a secret).
        recipient: String,
    },
    /// `catalog rm --check` found workloads that still use the registry.
    #[error("registry {} is still used by the --check manifests, so it is kept:\n{}", shown(name),
        .uses.iter().map(|u| format!("  {u}")).collect::<Vec<_>>().join("\n"))]
    StillUsed {
        /// The registry.
        name: String,
        /// `file: document N: Kind ns/name` of each workload.
        uses: Vec<String>,
    },
    /// A `--kms` key given is not a KMS key ARN.
    #[error(transparent)]
    BadKms(KmsError),
    /// A rekey that would leave no recipient, or removes one the catalog does not have.
    #[error("catalog rekey: {message}")]
    Rekey {
        /// What is wrong (recipients are public keys, not secrets).
        message: String,
    },
    /// The catalog's keys are not one group of age recipients and AWS KMS keys.
    #[error(
        "the catalog {} has key groups or master keys other than age recipients and AWS KMS keys (PGP, Vault, GCP or Azure keys, Shamir); pullseal edits only catalogs encrypted to age and AWS KMS keys, so use sops edit for this one",
        shown_path(path)
    )]
    Keys {
        /// The catalog path.
        path: PathBuf,
    },
    /// A registry or cluster of that name exists already.
    #[error(
        "the catalog already has a {what} named {}; use catalog set or rotate to change it, or rm it first",
        shown(name)
    )]
    Duplicate {
        /// `registry` or `cluster`.
        what: &'static str,
        /// The name.
        name: String,
    },
    /// No registry or cluster has that name.
    #[error("the catalog has no {what} named {} ({what} names: {})", shown(name), if known.is_empty() { "none".to_owned() } else { known.join(", ") })]
    Missing {
        /// `registry` or `cluster`.
        what: &'static str,
        /// The name.
        name: String,
        /// The names it has, as shown.
        known: Vec<String>,
    },
    /// The edited catalog would not load; the problems are the loader's.
    #[error("refusing to write {}: the catalog would not be valid:\n{}", shown_path(path), .problems.iter().map(|p| format!("  - {p}")).collect::<Vec<_>>().join("\n"))]
    Invalid {
        /// The catalog path.
        path: PathBuf,
        /// One line per problem, each naming its field.
        problems: Vec<String>,
    },
    /// Encryption failed.
    #[error("cannot encrypt the catalog {}", shown_path(path))]
    Encrypt {
        /// The catalog path.
        path: PathBuf,
        /// Why.
        #[source]
        source: SopsError,
    },
    /// The file changed between reading and writing it (another edit, a `git pull`).
    #[error(
        "{} changed while it was being edited; nothing was written, run the command again",
        shown_path(path)
    )]
    Changed {
        /// The catalog path.
        path: PathBuf,
    },
    /// The file given for a field of a registry or cluster cannot be read.
    #[error("{what} {}: {field}: cannot read {}", shown(name), shown_path(path))]
    ReadField {
        /// `registry` or `cluster`.
        what: &'static str,
        /// Its name.
        name: String,
        /// The field the file was for, e.g. `certificate`.
        field: &'static str,
        /// The file.
        path: PathBuf,
        /// What happened.
        #[source]
        source: std::io::Error,
    },
    /// Reading or writing a file failed.
    #[error("cannot {action} {}", shown_path(path))]
    Io {
        /// What was being done.
        action: &'static str,
        /// The file.
        path: PathBuf,
        /// What happened.
        #[source]
        source: std::io::Error,
    },
}

impl EditError {
    /// The process exit code, as the README's table says: 2 for a refused edit, 3 for a
    /// catalog that cannot be opened or encrypted, 5 for I/O.
    pub fn exit_code(&self) -> u8 {
        match self {
            EditError::Exists { .. }
            | EditError::BadRecipient { .. }
            | EditError::BadKms(_)
            | EditError::Rekey { .. }
            | EditError::StillUsed { .. }
            | EditError::Duplicate { .. }
            | EditError::Missing { .. }
            | EditError::Invalid { .. } => 2,
            EditError::Load(_) | EditError::Keys { .. } | EditError::Encrypt { .. } => 3,
            EditError::Changed { .. } | EditError::Io { .. } | EditError::ReadField { .. } => 5,
        }
    }
}

fn io_error(action: &'static str, path: &Path) -> impl FnOnce(std::io::Error) -> EditError {
    let path = path.to_path_buf();
    move |source| EditError::Io { action, path, source }
}

/// A catalog open for editing: its decrypted tree, in memory only.
pub struct Editor {
    /// Where it is written: the catalog path with symbolic links resolved, so a linked
    /// catalog stays a link.
    path: PathBuf,
    /// The path as given, for messages.
    shown: PathBuf,
    /// The bytes read, to notice a concurrent change; `None` for a new catalog.
    original: Option<Vec<u8>>,
    decrypted: Option<Decrypted>,
    root: Value,
    recipients: Vec<age::x25519::Recipient>,
    /// The file's comments, written back in place by every save (a rekey too).
    comments: Comments,
    kms: Vec<KmsKey>,
    /// What new KMS entries are encrypted with.
    kms_access: KmsAccess,
}

impl std::fmt::Debug for Editor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Editor")
            .field("path", &self.shown)
            .finish_non_exhaustive()
    }
}

/// A string leaf.
pub fn text(value: &str) -> Value {
    Value::Str(SecretString::from(value.to_owned()))
}

fn parse_kms(keys: &[String]) -> Result<Vec<KmsKey>, EditError> {
    keys.iter()
        .map(|k| KmsKey::parse(k).map_err(EditError::BadKms))
        .collect()
}

fn parse_recipients(recipients: &[String]) -> Result<Vec<age::x25519::Recipient>, EditError> {
    recipients
        .iter()
        .map(|r| {
            age::x25519::Recipient::from_str(r).map_err(|_| EditError::BadRecipient { recipient: r.clone() })
        })
        .collect()
}

impl Editor {
    /// A new, empty catalog to be written at `path`, encrypted to age `recipients` and AWS
    /// `kms` keys (`ARN[+ROLE_ARN]`, through `access`). Refuses when `path` exists (the write
    /// refuses again, atomically, should one appear meanwhile).
    pub fn init(
        path: &Path,
        recipients: &[String],
        kms: &[String],
        access: KmsAccess,
    ) -> Result<Editor, EditError> {
        let recipients = parse_recipients(recipients)?;
        let kms = parse_kms(kms)?;
        if fs_err::symlink_metadata(path).is_ok() {
            return Err(EditError::Exists {
                path: path.to_path_buf(),
            });
        }
        let root = Value::Map(vec![
            ("apiVersion".to_owned(), text(schema::API_VERSION)),
            ("kind".to_owned(), text(schema::KIND)),
            ("registries".to_owned(), Value::Map(Vec::new())),
            ("clusters".to_owned(), Value::Map(Vec::new())),
        ]);
        Ok(Editor {
            path: path.to_path_buf(),
            shown: path.to_path_buf(),
            original: None,
            decrypted: None,
            root,
            recipients,
            comments: Comments::default(),
            kms,
            kms_access: access,
        })
    }

    /// Opens the catalog at `path`: read, decrypted and checked as `render` loads it.
    pub fn open(path: &Path, identities: &Identities) -> Result<Editor, EditError> {
        let real = fs_err::canonicalize(path).map_err(|e| EditError::Load(CatalogError::Read(e)))?;
        let bytes = fs_err::read(&real).map_err(|e| EditError::Load(CatalogError::Read(e)))?;
        let text = std::str::from_utf8(&bytes).map_err(|_| {
            EditError::Load(CatalogError::Read(std::io::Error::new(
                std::io::ErrorKind::InvalidData,
                format!("{} is not UTF-8 text", path.display()),
            )))
        })?;
        // The loader's checks and errors first (fully encrypted, MAC, schema), then the tree.
        Catalog::from_encrypted(text, path, identities)?;
        let decrypted = sops::decrypt_for_edit(text, identities).map_err(|source| {
            EditError::Load(CatalogError::Decrypt {
                path: path.display().to_string(),
                source,
            })
        })?;
        let keys = sops::editable_master_keys(text)
            .map_err(|source| {
                EditError::Load(CatalogError::Decrypt {
                    path: path.display().to_string(),
                    source,
                })
            })?
            .ok_or_else(|| EditError::Keys {
                path: path.to_path_buf(),
            })?;
        let recipients = parse_recipients(&keys.age)?;
        let root = decrypted
            .documents()
            .first()
            .cloned()
            .unwrap_or(Value::Map(Vec::new()));
        let comments = decrypted.comments().cloned().unwrap_or_default();
        Ok(Editor {
            path: real,
            shown: path.to_path_buf(),
            original: Some(bytes),
            decrypted: Some(decrypted),
            root,
            recipients,
            comments,
            kms: keys.kms,
            kms_access: identities.kms().clone(),
        })
    }

    /// Encrypts to a new recipient set (age recipients and AWS KMS keys `add`ed, `rm`oved)
    /// under a new data key: every value gets new ciphertext, so a removed recipient that kept
    /// the old data key can read nothing written from now on. The content stays as it is. A
    /// removed KMS key is named by its ARN (`ARN+ROLE` to pick one role's entry).
    pub fn rekey(
        &mut self,
        add: &[String],
        rm: &[String],
        add_kms: &[String],
        rm_kms: &[String],
    ) -> Result<(), EditError> {
        let rekey = |message: String| EditError::Rekey { message };
        let added = parse_recipients(add)?;
        let removed = parse_recipients(rm)?;
        for (gone, text) in removed.iter().zip(rm) {
            if !self.recipients.iter().any(|r| r.to_string() == gone.to_string()) {
                return Err(rekey(format!("{text} is not a recipient of the catalog")));
            }
        }
        self.recipients
            .retain(|r| !removed.iter().any(|gone| gone.to_string() == r.to_string()));
        for new in added {
            if !self.recipients.iter().any(|r| r.to_string() == new.to_string()) {
                self.recipients.push(new);
            }
        }
        let added_kms = parse_kms(add_kms)?;
        for gone in parse_kms(rm_kms)? {
            let matches =
                |k: &KmsKey| k.arn() == gone.arn() && (gone.role().is_empty() || k.role() == gone.role());
            if !self.kms.iter().any(matches) {
                return Err(rekey(format!(
                    "{} is not an AWS KMS key of the catalog",
                    shown(&gone.label())
                )));
            }
            self.kms.retain(|k| !matches(k));
        }
        for new in added_kms {
            if !self
                .kms
                .iter()
                .any(|k| k.arn() == new.arn() && k.role() == new.role())
            {
                self.kms.push(new);
            }
        }
        if self.recipients.is_empty() && self.kms.is_empty() {
            return Err(rekey("it would leave the catalog with no recipient".to_owned()));
        }
        // No stash: a fresh data key and fresh IVs for every value.
        self.decrypted = None;
        Ok(())
    }

    /// The decrypted tree.
    pub fn root(&self) -> &Value {
        &self.root
    }

    /// The loader's schema check of the tree as it is now.
    pub fn check(&self) -> Result<Checked, EditError> {
        schema::check(&self.root).map_err(|problems| EditError::Invalid {
            path: self.shown.clone(),
            problems,
        })
    }

    /// The `registries` or `clusters` mapping (the check made sure it is one).
    fn section(&mut self, key: &str) -> Result<&mut Vec<(String, Value)>, EditError> {
        let path = self.shown.clone();
        let invalid = move || EditError::Invalid {
            path,
            problems: vec![format!("{key}: must be a mapping")],
        };
        let Value::Map(top) = &mut self.root else {
            return Err(invalid());
        };
        if !top.iter().any(|(k, _)| k == key) {
            top.push((key.to_owned(), Value::Map(Vec::new())));
        }
        match top.iter_mut().find(|(k, _)| k == key) {
            Some((_, Value::Map(entries))) => Ok(entries),
            _ => Err(invalid()),
        }
    }

    fn names(&self, key: &str) -> Vec<String> {
        match self.root.get(key) {
            Some(Value::Map(entries)) => entries.iter().map(|(k, _)| shown(k)).collect(),
            _ => Vec::new(),
        }
    }

    /// Adds an entry named `name` to `registries` or `clusters`.
    fn add(
        &mut self,
        key: &str,
        what: &'static str,
        name: &str,
        entry: Vec<(String, Value)>,
    ) -> Result<(), EditError> {
        let section = self.section(key)?;
        if section.iter().any(|(k, _)| k == name) {
            return Err(EditError::Duplicate {
                what,
                name: name.to_owned(),
            });
        }
        section.push((name.to_owned(), Value::Map(entry)));
        Ok(())
    }

    fn entry_mut(
        &mut self,
        key: &str,
        what: &'static str,
        name: &str,
    ) -> Result<&mut Vec<(String, Value)>, EditError> {
        let known = self.names(key);
        let section = self.section(key)?;
        match section.iter_mut().find(|(k, _)| k == name) {
            Some((_, Value::Map(fields))) => Ok(fields),
            _ => Err(EditError::Missing {
                what,
                name: name.to_owned(),
                known,
            }),
        }
    }

    fn remove(&mut self, key: &str, what: &'static str, name: &str) -> Result<(), EditError> {
        let known = self.names(key);
        let section = self.section(key)?;
        let before = section.len();
        section.retain(|(k, _)| k != name);
        if section.len() == before {
            return Err(EditError::Missing {
                what,
                name: name.to_owned(),
                known,
            });
        }
        Ok(())
    }

    /// Adds registry `name` with `fields` (in the order given).
    pub fn add_registry(&mut self, name: &str, fields: Vec<(String, Value)>) -> Result<(), EditError> {
        self.add("registries", "registry", name, fields)
    }

    /// The fields of registry `name`, to change in place.
    pub fn registry_mut(&mut self, name: &str) -> Result<&mut Vec<(String, Value)>, EditError> {
        self.entry_mut("registries", "registry", name)
    }

    /// Removes registry `name`.
    pub fn remove_registry(&mut self, name: &str) -> Result<(), EditError> {
        self.remove("registries", "registry", name)
    }

    /// Adds cluster `name` with `fields`.
    pub fn add_cluster(&mut self, name: &str, fields: Vec<(String, Value)>) -> Result<(), EditError> {
        self.add("clusters", "cluster", name, fields)
    }

    /// The fields of cluster `name`, to change in place.
    pub fn cluster_mut(&mut self, name: &str) -> Result<&mut Vec<(String, Value)>, EditError> {
        self.entry_mut("clusters", "cluster", name)
    }

    /// Removes cluster `name`.
    pub fn remove_cluster(&mut self, name: &str) -> Result<(), EditError> {
        self.remove("clusters", "cluster", name)
    }

    /// Checks the tree, encrypts it and replaces the file atomically. Returns the check's
    /// registries and clusters (for warnings about what was written).
    pub fn save(&self) -> Result<Checked, EditError> {
        self.save_with(|_| Ok(()))
    }

    /// [`Editor::save`] with `before_rename` run on the finished temporary file just before
    /// it replaces the catalog: the tests inject a failure there.
    fn save_with(
        &self,
        before_rename: impl FnOnce(&Path) -> std::io::Result<()>,
    ) -> Result<Checked, EditError> {
        let checked = self.check()?;
        let options = EncryptOptions {
            recipients: self.recipients.clone(),
            kms: KmsRecipients {
                keys: self.kms.clone(),
                access: self.kms_access.clone(),
                previous: Vec::new(),
            },
            rule: Rule::EncryptAll,
            mac_only_encrypted: false,
            last_modified: LastModified::now(),
        };
        let randomness = self
            .decrypted
            .as_ref()
            .map_or(Randomness::Fresh, Randomness::Edit);
        let text = sops::encrypt_with_comments(
            std::slice::from_ref(&self.root),
            &self.comments,
            &options,
            randomness,
        )
        .map_err(|source| EditError::Encrypt {
            path: self.shown.clone(),
            source,
        })?;
        write_atomically(
            &self.path,
            text.as_bytes(),
            self.original.as_deref(),
            before_rename,
        )?;
        Ok(checked)
    }
}

/// Sets `key` to `value` in `fields`: in place when present (its position kept), else
/// appended before `allow` (which stays last, as the catalog is usually written).
pub fn set_field(fields: &mut Vec<(String, Value)>, key: &str, value: Value) {
    if let Some((_, slot)) = fields.iter_mut().find(|(k, _)| k == key) {
        *slot = value;
        return;
    }
    let at = fields
        .iter()
        .position(|(k, _)| k == "allow")
        .unwrap_or(fields.len());
    fields.insert(at, (key.to_owned(), value));
}

/// Replaces `path`'s content with `contents`: a temporary file in the same directory, the old
/// file's permissions (0600 for a new file), `fsync`, then an atomic rename (for a new file,
/// one that refuses to replace a file that appeared meanwhile) and an `fsync` of the
/// directory. `previous` is what the file held when it was read: if it holds something else
/// now, nothing is written.
fn write_atomically(
    path: &Path,
    contents: &[u8],
    previous: Option<&[u8]>,
    before_rename: impl FnOnce(&Path) -> std::io::Result<()>,
) -> Result<(), EditError> {
    let dir = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    };
    let permissions = match previous {
        Some(_) => Some(
            fs_err::metadata(path)
                .map_err(io_error("read", path))?
                .permissions(),
        ),
        None => None,
    };
    // tempfile creates it 0600, with a random name, refusing to follow an existing one.
    let mut tmp = tempfile::Builder::new()
        .prefix(".pullseal-catalog-")
        .suffix(".tmp")
        .tempfile_in(&dir)
        .map_err(io_error("create a temporary file in", &dir))?;
    let tmp_path = tmp.path().to_path_buf();
    tmp.write_all(contents).map_err(io_error("write", &tmp_path))?;
    if let Some(permissions) = permissions {
        tmp.as_file()
            .set_permissions(permissions)
            .map_err(io_error("set the permissions of", &tmp_path))?;
    }
    tmp.as_file().sync_all().map_err(io_error("sync", &tmp_path))?;
    if let Some(previous) = previous {
        let now = fs_err::read(path).map_err(io_error("read", path))?;
        if now != previous {
            return Err(EditError::Changed {
                path: path.to_path_buf(),
            });
        }
    }
    before_rename(&tmp_path).map_err(io_error("write", path))?;
    match previous {
        Some(_) => tmp.persist(path).map(drop),
        None => tmp.persist_noclobber(path).map(drop),
    }
    .map_err(|e| {
        if e.error.kind() == std::io::ErrorKind::AlreadyExists {
            EditError::Exists {
                path: path.to_path_buf(),
            }
        } else {
            EditError::Io {
                action: "replace",
                path: path.to_path_buf(),
                source: e.error,
            }
        }
    })?;
    // The rename is durable once the directory is.
    #[cfg(unix)]
    fs_err::File::open(&dir)
        .and_then(|d| d.sync_all())
        .map_err(io_error("sync", &dir))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    const KEY: &str = "AGE-SECRET-KEY-13KT8YDE5VPTHFA0FJCQQH598E47SN35AK3MYPAQM0TJ9W8ZUZFLQCWARNX";

    fn identity() -> age::x25519::Identity {
        age::x25519::Identity::from_str(KEY).unwrap()
    }

    fn ids() -> Identities {
        Identities::from_identities(vec![identity()])
    }

    fn new_catalog(dir: &Path) -> PathBuf {
        let path = dir.join("pullseal.catalog.yaml");
        let editor = Editor::init(
            &path,
            &[identity().to_public().to_string()],
            &[],
            KmsAccess::default(),
        )
        .unwrap();
        editor.save().unwrap();
        path
    }

    fn hub(password: &str) -> Vec<(String, Value)> {
        vec![
            ("type".to_owned(), text("dockerhub")),
            ("username".to_owned(), text("acme")),
            ("password".to_owned(), text(password)),
        ]
    }

    #[test]
    fn init_writes_an_empty_catalog_that_loads_and_refuses_to_overwrite() {
        let dir = tempfile::tempdir().unwrap();
        let path = new_catalog(dir.path());
        let catalog = Catalog::load(&path, &ids()).unwrap();
        assert_eq!(catalog.registry_names().count(), 0);
        assert_eq!(catalog.clusters().count(), 0);
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt as _;
            let mode = fs_err::metadata(&path).unwrap().permissions().mode() & 0o777;
            assert_eq!(mode, 0o600);
        }
        let err = Editor::init(
            &path,
            &[identity().to_public().to_string()],
            &[],
            KmsAccess::default(),
        )
        .unwrap_err();
        let shown = err.to_string().replace(&*dir.path().to_string_lossy(), "DIR");
        insta::assert_snapshot!(shown, @"DIR/pullseal.catalog.yaml exists; catalog init does not overwrite a file");
        let err = Editor::init(
            &dir.path().join("x.yaml"),
            &["age1nope".to_owned()],
            &[],
            KmsAccess::default(),
        )
        .unwrap_err();
        insta::assert_snapshot!(err.to_string(), @"age1nope is not an age recipient (age1...)");
    }

    #[test]
    fn edits_are_checked_by_the_loaders_schema_before_anything_is_written() {
        let dir = tempfile::tempdir().unwrap();
        let path = new_catalog(dir.path());
        let before = fs_err::read(&path).unwrap();
        let mut editor = Editor::open(&path, &ids()).unwrap();
        editor
            .add_registry(
                "quay",
                vec![
                    ("type".to_owned(), text("quay")),
                    ("server".to_owned(), text("quay.io")),
                ],
            )
            .unwrap();
        let err = editor.save().err().unwrap();
        let shown = err.to_string().replace(&*dir.path().to_string_lossy(), "DIR");
        insta::assert_snapshot!(shown, @r"
        refusing to write DIR/pullseal.catalog.yaml: the catalog would not be valid:
          - registries.quay.username: is required
          - registries.quay.password: is required
        ");
        assert_eq!(fs_err::read(&path).unwrap(), before);
        let mut editor = Editor::open(&path, &ids()).unwrap();
        editor.add_registry("hub", hub("pw-1")).unwrap();
        let err = editor.add_registry("hub", hub("pw-2")).unwrap_err();
        insta::assert_snapshot!(err.to_string(), @"the catalog already has a registry named hub; use catalog set or rotate to change it, or rm it first");
        let err = editor.remove_registry("nope").unwrap_err();
        insta::assert_snapshot!(err.to_string(), @"the catalog has no registry named nope (registry names: hub)");
        let err = editor
            .add_registry("Bad Name", hub("pw-3"))
            .map(|()| editor.save());
        let err = err.unwrap().err().unwrap();
        assert!(err.to_string().contains(r#"registries["Bad Name"]"#), "{err}");
    }

    /// A failure just before the rename (a crash, a full disk) leaves the old catalog as it
    /// was, its mode too, and no temporary file behind.
    #[test]
    fn a_failed_write_leaves_the_old_file_intact_and_no_temporary_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = new_catalog(dir.path());
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt as _;
            fs_err::set_permissions(&path, std::fs::Permissions::from_mode(0o640)).unwrap();
        }
        let before = fs_err::read(&path).unwrap();
        let mut editor = Editor::open(&path, &ids()).unwrap();
        editor.add_registry("hub", hub("pw-crash")).unwrap();
        let mut seen = None;
        let err = editor
            .save_with(|tmp| {
                seen = Some(tmp.to_path_buf());
                Err(std::io::Error::other("injected crash"))
            })
            .err()
            .unwrap();
        assert!(matches!(err, EditError::Io { .. }), "{err}");
        assert_eq!(fs_err::read(&path).unwrap(), before);
        assert!(!seen.unwrap().exists(), "the temporary file was left behind");
        let names: Vec<_> = fs_err::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(names, vec![std::ffi::OsString::from("pullseal.catalog.yaml")]);
        // A change by someone else between read and write is not overwritten.
        let editor2 = Editor::open(&path, &ids()).unwrap();
        editor.save().unwrap();
        let err = editor2.save().err().unwrap();
        assert!(matches!(err, EditError::Changed { .. }), "{err}");
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt as _;
            let mode = fs_err::metadata(&path).unwrap().permissions().mode() & 0o777;
            assert_eq!(mode, 0o640, "the old file's mode is kept");
        }
    }

    #[test]
    fn set_field_keeps_positions_and_allow_last() {
        let mut fields = vec![
            ("type".to_owned(), text("generic")),
            ("allow".to_owned(), Value::Map(Vec::new())),
        ];
        set_field(&mut fields, "server", text("r.example.com"));
        set_field(&mut fields, "type", text("nexus"));
        let keys: Vec<&str> = fields.iter().map(|(k, _)| k.as_str()).collect();
        assert_eq!(keys, ["type", "server", "allow"]);
    }
}
