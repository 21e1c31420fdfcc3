//! Native decryption and encryption of SOPS-encrypted YAML files, as the Go sops 3.11 binary
//! does them, without running sops.
//!
//! The pipeline is sops' own `decrypt/decrypt.go` in five steps, plus one check of its own:
//!
//! ```text
//! yaml (text → typed tree, go-yaml v3 rules) ─► format (split off `sops:` metadata, rules)
//!    ─► fully encrypted? (tree::first_plain, metadata loosenings) ─► keys (age identities →
//!    data key, Shamir across key groups) ─► tree (decrypt leaves with cipher, recompute the
//!    MAC) ─► MAC check ─► Decrypted
//! ```
//!
//! Only fully encrypted files are accepted. The sops MAC hashes values only, in order, with
//! no separators: it covers neither key names nor where one value ends and the next begins.
//! What binds a value to its place is the additional data of its own encryption (its key
//! path). So a plain value, which `encrypted_regex`, `unencrypted_regex`, the suffix and
//! comment rules or `mac_only_encrypted` allow, can be renamed, moved, split or (with
//! `mac_only_encrypted`) replaced, and sops still accepts the file. pullseal accepts sops'
//! default rule only, with no key ending in `_unencrypted`, and requires every leaf other
//! than a null or an empty string (which sops never encrypts) to be encrypted.
//!
//! The format is specified in `shared/reference/formats-and-peers.md` §1 (value encoding,
//! additional data, MAC, metadata, key groups); each submodule names the sops source it mirrors.
//!
//! This module must never hand out values when anything fails, in particular the MAC, and its
//! errors must never contain a decrypted value, the data key, identity lines or ciphertext:
//! they say what is wrong and where (key path, line). Decrypted strings are
//! [`secrecy::SecretString`]s, intermediate plaintext buffers are zeroized. It decrypts data
//! keys with age identities and AWS KMS keys ([`kms`], cargo feature `kms`: the only network
//! calls of this module), not with PGP, Vault, GCP or Azure keys or age plugins.
//!
//! The file's YAML comments come out decrypted too ([`Decrypted::comments`], `comments`),
//! and [`encrypt_with_comments`] writes them back encrypted where sops reads them.
//!
//! [`encrypt`] is the way back (`encrypt` → `emit`, with `stanza` for the age recipients and
//! `kms:Encrypt` for the KMS keys): a [`Value`] tree becomes a file the real sops decrypts,
//! verifies and edits, with the MAC, additional data and metadata exactly as sops writes them.
//! Its randomness is the caller's choice ([`Randomness`]): the OS, a secret seed
//! (byte-identical output for identical input, unless a new KMS entry is needed), or the
//! previous file (unchanged values keep their ciphertext). It writes no files.

mod cipher;
mod comments;
mod emit;
mod encrypt;
mod format;
mod keys;
pub mod kms;
mod shamir;
mod stanza;
mod timestamp;
mod tree;
mod yaml;

use secrecy::{ExposeSecret as _, SecretBox, SecretString};

use crate::error::shown;

pub use comments::Comments;
pub use encrypt::{
    EncryptOptions, KmsRecipients, LastModified, Randomness, Rule, SOPS_VERSION, Seed, encrypt,
    encrypt_with_comments,
};
pub use keys::Identities;
pub use kms::{KmsAccess, KmsKey, KmsStanza};

/// The largest file [`decrypt`] reads (8 MiB): a catalog is a few kilobytes per cluster.
pub const MAX_FILE_BYTES: usize = yaml::MAX_INPUT_BYTES;

/// A decrypted, order-preserving YAML tree. String leaves are secret.
///
/// Its `Debug` shows the shape and the keys, never a value.
#[derive(Clone)]
pub enum Value {
    /// YAML null (`null`, `~` or nothing).
    Null,
    /// A boolean.
    Bool(bool),
    /// A signed 64-bit integer (sops cannot hold wider ones).
    Int(i64),
    /// A 64-bit float, including infinities and NaN.
    Float(f64),
    /// A string; secret, whether or not it was encrypted in the file.
    Str(SecretString),
    /// A timestamp, printed as sops prints it (Go's RFC 3339 with nanoseconds, e.g.
    /// `2025-12-31T00:00:00Z` or `2024-01-01T10:00:00.5+02:00`).
    Time(String),
    /// A sequence.
    Seq(Vec<Value>),
    /// A mapping, in file order.
    Map(Vec<(String, Value)>),
}

impl std::fmt::Debug for Value {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Value::Null => f.write_str("Null"),
            Value::Bool(_) => f.write_str("Bool(..)"),
            Value::Int(_) => f.write_str("Int(..)"),
            Value::Float(_) => f.write_str("Float(..)"),
            Value::Str(_) => f.write_str("Str(..)"),
            Value::Time(_) => f.write_str("Time(..)"),
            Value::Seq(items) => f.debug_list().entries(items).finish(),
            Value::Map(entries) => f
                .debug_map()
                .entries(entries.iter().map(|(k, v)| (k, v)))
                .finish(),
        }
    }
}

impl Value {
    /// The value under `key` if this is a mapping.
    pub fn get(&self, key: &str) -> Option<&Value> {
        match self {
            Value::Map(entries) => entries.iter().find(|(k, _)| k == key).map(|(_, v)| v),
            _ => None,
        }
    }

    /// Whether `other` holds the same values, plaintext compared (not in constant time: for
    /// the fuzz invariants and tests, never a secret check). Floats are equal when their bits
    /// are, or both are NaN: what sops prints them as.
    pub(crate) fn same(&self, other: &Value) -> bool {
        match (self, other) {
            (Value::Null, Value::Null) => true,
            (Value::Bool(x), Value::Bool(y)) => x == y,
            (Value::Int(x), Value::Int(y)) => x == y,
            (Value::Float(x), Value::Float(y)) => x.to_bits() == y.to_bits() || (x.is_nan() && y.is_nan()),
            (Value::Str(x), Value::Str(y)) => x.expose_secret() == y.expose_secret(),
            (Value::Time(x), Value::Time(y)) => x == y,
            (Value::Seq(x), Value::Seq(y)) => x.len() == y.len() && x.iter().zip(y).all(|(a, b)| a.same(b)),
            (Value::Map(x), Value::Map(y)) => {
                x.len() == y.len() && x.iter().zip(y).all(|((ka, a), (kb, b))| ka == kb && a.same(b))
            }
            _ => false,
        }
    }
}

/// A decrypted sops file: its documents and the data key that protected it.
///
/// It also keeps what an edit needs to leave unchanged values byte-identical (see
/// [`Randomness::Edit`]): the IV of every value (keyed by an HMAC, no plaintext) and the
/// `age` stanzas (public recipients and their encrypted data keys).
#[derive(Debug)]
pub struct Decrypted {
    documents: Vec<Value>,
    data_key: SecretBox<[u8; 32]>,
    stash: cipher::IvStash,
    /// `(recipient, enc)` of every age stanza when the file has one key group.
    age_stanzas: Vec<(String, String)>,
    /// Read by [`decrypt_for_edit`] only: a render never writes the file back, and reading
    /// them is a second parse of the whole file.
    comments: Option<Comments>,
    /// Every KMS entry when the file has one key group.
    kms_stanzas: Vec<KmsStanza>,
}

impl Decrypted {
    /// One value per YAML document (always a [`Value::Map`]), with the `sops` key removed.
    pub fn documents(&self) -> &[Value] {
        &self.documents
    }

    /// The file's 32-byte data key (callers use it as an HMAC key).
    pub fn data_key(&self) -> &SecretBox<[u8; 32]> {
        &self.data_key
    }

    /// The file's YAML comments, decrypted, and where each stood; an edit writes them back
    /// with [`encrypt_with_comments`]. `None` when the file was read by [`decrypt`], which
    /// leaves them out.
    pub fn comments(&self) -> Option<&Comments> {
        self.comments.as_ref()
    }
}

/// Why a sops file could not be decrypted.
///
/// Messages name the key path and line; they never contain values, keys or ciphertext.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SopsError {
    /// The text is not valid YAML.
    #[error("invalid yaml at line {line} column {col}: {reason}")]
    Yaml {
        /// 1-based line.
        line: usize,
        /// 1-based column.
        col: usize,
        /// What the parser refused.
        reason: String,
    },
    /// A mapping key is not a string (sops: "Only string keys are supported").
    #[error("only string keys are supported, but the key at line {line} column {col} is {kind}")]
    NonStringKey {
        /// 1-based line.
        line: usize,
        /// 1-based column.
        col: usize,
        /// What the key is instead ("an int").
        kind: &'static str,
    },
    /// A mapping has the same key twice.
    #[error("duplicate key `{key}` at line {line}")]
    DuplicateKey {
        /// The repeated key (keys are never encrypted), quoted and escaped unless it is a
        /// plain word.
        key: String,
        /// 1-based line of the second occurrence.
        line: usize,
    },
    /// A scalar does not fit its explicit tag, e.g. `!!int abc`.
    #[error("the value at line {line} column {col} cannot be decoded as {tag}")]
    BadTag {
        /// 1-based line.
        line: usize,
        /// 1-based column.
        col: usize,
        /// The tag, e.g. `!!int`.
        tag: String,
    },
    /// An integer wider than a signed 64-bit one.
    #[error("the integer at line {line} column {col} does not fit in 64 signed bits")]
    IntOutOfRange {
        /// 1-based line.
        line: usize,
        /// 1-based column.
        col: usize,
    },
    /// A `!!binary` scalar that is not base64 of UTF-8 text.
    #[error("the !!binary value at line {line} column {col} is not base64-encoded utf-8 text")]
    BadBinary {
        /// 1-based line.
        line: usize,
        /// 1-based column.
        col: usize,
    },
    /// Nesting or alias expansion beyond the limits.
    #[error("the yaml at line {line} column {col} is too large: {reason}")]
    TooLarge {
        /// 1-based line.
        line: usize,
        /// 1-based column.
        col: usize,
        /// Which limit.
        reason: &'static str,
    },
    /// A YAML document is a sequence or a scalar; sops only handles mappings.
    #[error("yaml document {document} (line {line}) is {kind}, but sops files hold mappings")]
    DocumentNotMapping {
        /// 1-based document number.
        document: usize,
        /// 1-based line.
        line: usize,
        /// What it is instead.
        kind: &'static str,
    },
    /// No `sops` metadata: the file is plain YAML.
    #[error("the file is not encrypted with sops: its first document has no top-level `sops` metadata")]
    NotEncrypted,
    /// A `sops` metadata field is missing or has the wrong shape.
    #[error("invalid sops metadata: `{field}` (line {line}) {reason}")]
    InvalidMetadata {
        /// The field, e.g. `sops.lastmodified`.
        field: String,
        /// 1-based line.
        line: usize,
        /// What is wrong with it.
        reason: &'static str,
    },
    /// `sops.version` is missing or empty (sops: "Version string empty").
    #[error("invalid sops metadata: `sops.version` is missing or empty (line {line})")]
    MissingVersion {
        /// 1-based line of the `sops` block or the field.
        line: usize,
    },
    /// `sops.version` is not a semantic version.
    #[error("invalid sops metadata: `sops.version` {version:?} (line {line}) is not a semantic version")]
    InvalidVersion {
        /// The version text (metadata, not a secret).
        version: String,
        /// 1-based line.
        line: usize,
    },
    /// More than one encryption rule is set.
    #[error(
        "invalid sops metadata: only one of unencrypted_suffix, encrypted_suffix, unencrypted_regex, \
         encrypted_regex, unencrypted_comment_regex and encrypted_comment_regex may be set, found {fields}"
    )]
    ConflictingRules {
        /// The fields set.
        fields: String,
    },
    /// An encryption-rule regex does not compile.
    #[error("invalid sops metadata: `sops.{field}` (line {line}) is not a valid regular expression")]
    InvalidRegex {
        /// The field.
        field: String,
        /// 1-based line.
        line: usize,
    },
    /// The metadata lists no master key at all.
    #[error("invalid sops metadata: no master keys in the `sops` block (line {line})")]
    NoMasterKeys {
        /// 1-based line of the `sops` block.
        line: usize,
    },
    /// The data key is only encrypted with key types pullseal cannot use.
    #[error(
        "the sops data key is encrypted only with {types} master keys; pullseal decrypts only with age and AWS KMS"
    )]
    UnsupportedMasterKeys {
        /// The key types present, e.g. `kms, pgp`.
        types: String,
    },
    /// None of the identities opens the data key.
    #[error(
        "no age identity could decrypt the sops data key for recipients {recipients}; \
         identities tried: {identities} (searched {searched}){detail}"
    )]
    NoIdentity {
        /// The file's age recipients tried (public keys).
        recipients: String,
        /// How many identities were tried.
        identities: usize,
        /// Where identities were looked for.
        searched: String,
        /// Extra notes: Shamir share counts, unused key types, malformed stanzas.
        detail: String,
    },
    /// Neither an age identity nor an AWS KMS key opens the data key of a file that has KMS
    /// keys.
    #[error("no master key could decrypt the sops data key: {attempts}")]
    NoMasterKey {
        /// Each KMS key's ARN and why it failed, then the age recipients tried, and Shamir
        /// share counts.
        attempts: String,
    },
    /// The recovered data key is unusable (wrong length, bad Shamir shares).
    #[error("the decrypted sops data key is unusable: {reason}")]
    BadDataKey {
        /// Why.
        reason: String,
    },
    /// The file is not fully encrypted: a value is plain, or the metadata lets sops leave values
    /// plain or out of the MAC. pullseal refuses such files before looking for a key.
    #[error("the file is not fully encrypted: {what}")]
    NotFullyEncrypted {
        /// The first plain path and line, and the metadata field responsible, if any.
        what: String,
    },
    /// A leaf that must be encrypted is not.
    #[error("the value at `{path}` (line {line}) should be encrypted by sops but is {kind}")]
    NotEncryptedValue {
        /// Key path, e.g. `registries[0].password`.
        path: String,
        /// 1-based line.
        line: usize,
        /// What it is ("plain text", "an int").
        kind: &'static str,
    },
    /// A leaf looks like `ENC[…]` but cannot be parsed.
    #[error("malformed encrypted value at `{path}` (line {line}): {reason}")]
    MalformedValue {
        /// Key path.
        path: String,
        /// 1-based line.
        line: usize,
        /// What is malformed.
        reason: String,
    },
    /// A leaf fails authentication.
    #[error(
        "cannot decrypt the value at `{path}` (line {line}): authentication failed \
         (the value was modified or moved, or the data key is wrong)"
    )]
    DecryptValue {
        /// Key path.
        path: String,
        /// 1-based line.
        line: usize,
    },
    /// A leaf decrypts, but not to a valid value of its `type:`.
    #[error("invalid decrypted value at `{path}` (line {line}): {reason}")]
    InvalidValue {
        /// Key path.
        path: String,
        /// 1-based line.
        line: usize,
        /// Why.
        reason: String,
    },
    /// The file has no MAC.
    #[error("mac mismatch: the file has no `sops.mac`")]
    MacMissing,
    /// The stored MAC cannot be decrypted (e.g. `lastmodified` was changed).
    #[error("mac mismatch: cannot decrypt `sops.mac` with the data key and `sops.lastmodified`: {reason}")]
    MacUndecryptable {
        /// Why.
        reason: String,
    },
    /// The recomputed MAC differs from the stored one.
    #[error("mac mismatch: the file was modified after it was encrypted")]
    MacMismatch,
    /// [`encrypt`] was given no age recipient and no KMS key.
    #[error("cannot encrypt: no age recipients or AWS KMS keys were given")]
    NoRecipients,
    /// The data key cannot be encrypted with an AWS KMS key.
    #[error("cannot encrypt the data key with AWS KMS key {key}: {source}")]
    KmsEncrypt {
        /// The key (ARN, role, context), as shown.
        key: String,
        /// Why.
        source: kms::KmsError,
    },
    /// [`encrypt`] was given a document that is not a mapping.
    #[error("cannot encrypt document {document}: it is {kind}, but sops files hold mappings")]
    EncryptNotMapping {
        /// 1-based document number.
        document: usize,
        /// What it is instead.
        kind: &'static str,
    },
    /// A document to encrypt has a top-level `sops` key.
    #[error("cannot encrypt document {document}: its top-level key `sops` is reserved for the sops metadata")]
    ReservedSopsKey {
        /// 1-based document number.
        document: usize,
    },
    /// Under the default rule sops would leave this value plain, and pullseal writes no plain
    /// values in that mode.
    #[error(
        "cannot encrypt `{path}`: its key ends in `_unencrypted`, so sops' default rule would \
         leave every value under it plain"
    )]
    PlainUnderDefaultRule {
        /// Key path.
        path: String,
    },
    /// The `encrypted_regex` to write does not compile.
    #[error("cannot encrypt: the encrypted_regex {regex:?} is not a valid regular expression")]
    InvalidEncryptedRegex {
        /// The pattern (an option, not a secret).
        regex: String,
    },
    /// A [`Value::Time`] to encrypt is not an RFC 3339 timestamp.
    #[error("cannot encrypt `{path}`: the timestamp is not in RFC 3339 form")]
    InvalidTimeValue {
        /// Key path.
        path: String,
    },
    /// A value cannot be encrypted.
    #[error("cannot encrypt `{path}`: {reason}")]
    EncryptValue {
        /// Key path.
        path: String,
        /// Why.
        reason: String,
    },
    /// A `lastmodified` outside what RFC 3339 can print.
    #[error("invalid lastmodified: {seconds} seconds since the epoch is not a year between 0 and 9999")]
    InvalidLastModified {
        /// The seconds given.
        seconds: i64,
    },
    /// The data key cannot be encrypted to an age recipient.
    #[error("cannot encrypt the data key to age recipient {recipient}: {reason}")]
    BadRecipient {
        /// The recipient (public).
        recipient: String,
        /// Why.
        reason: String,
    },
    /// The operating system's random source failed.
    #[error("the operating system's random source failed: {reason}")]
    Randomness {
        /// The error.
        reason: String,
    },
    /// An age key file named by the caller cannot be read.
    #[error("cannot read the age key file from {source_name}: {error}")]
    ReadKeyFile {
        /// `--age-key-file`, `SOPS_AGE_KEY_FILE` or the default location.
        source_name: &'static str,
        /// The I/O error (it names the path).
        error: std::io::Error,
    },
    /// A line of an identity source is not a usable age identity.
    #[error("invalid age identity in {source_name} line {line}: {reason}")]
    InvalidIdentity {
        /// `SOPS_AGE_KEY` or a file path.
        source_name: String,
        /// 1-based line.
        line: usize,
        /// Why.
        reason: &'static str,
    },
}

impl From<yaml::YamlError> for SopsError {
    fn from(e: yaml::YamlError) -> Self {
        use yaml::YamlError as Y;
        match e {
            Y::Syntax { pos, reason } => SopsError::Yaml {
                line: pos.line,
                col: pos.col,
                reason,
            },
            Y::NonStringKey { pos, kind } => SopsError::NonStringKey {
                line: pos.line,
                col: pos.col,
                kind,
            },
            Y::DuplicateKey { pos, key } => SopsError::DuplicateKey {
                key: shown(&key),
                line: pos.line,
            },
            Y::BadTag { pos, tag } => SopsError::BadTag {
                line: pos.line,
                col: pos.col,
                tag,
            },
            Y::IntOutOfRange { pos } => SopsError::IntOutOfRange {
                line: pos.line,
                col: pos.col,
            },
            Y::BadBinary { pos } => SopsError::BadBinary {
                line: pos.line,
                col: pos.col,
            },
            Y::TooLarge { pos, reason } => SopsError::TooLarge {
                line: pos.line,
                col: pos.col,
                reason,
            },
        }
    }
}

/// Decrypts a SOPS-encrypted YAML file (all documents) with age `identities`, for reading:
/// its comments are left out (see [`decrypt_for_edit`]).
///
/// Steps, as sops does them: parse, read the metadata, recover the data key, decrypt every
/// encrypted leaf while recomputing the MAC, then compare it with the stored MAC. Nothing is
/// returned unless every step succeeds.
pub fn decrypt(text: &str, identities: &Identities) -> Result<Decrypted, SopsError> {
    decrypt_reading(text, identities, false)
}

/// [`decrypt`], reading the file's comments too, for an edit that writes the file back with
/// [`encrypt_with_comments`].
pub fn decrypt_for_edit(text: &str, identities: &Identities) -> Result<Decrypted, SopsError> {
    decrypt_reading(text, identities, true)
}

fn decrypt_reading(text: &str, identities: &Identities, with_comments: bool) -> Result<Decrypted, SopsError> {
    let documents = yaml::parse(text)?;
    let (branches, metadata) = format::extract(documents)?;
    let meta = format::Metadata::from_node(metadata)?;
    require_fully_encrypted(&branches, &meta)?;
    let data_key = keys::data_key(&meta, identities)?;
    let mut stash = cipher::IvStash::new(&data_key);
    let (documents, computed_mac) = tree::decrypt_documents(branches, &data_key, &mut stash)?;
    verify_mac(&meta, &data_key, &computed_mac, &mut stash)?;
    // Only once everything is verified; it never fails, what it cannot place it drops.
    let comments = with_comments.then(|| comments::read(text, &data_key, &mut stash));
    // With one key group every stanza holds the whole data key, so an edit may keep it.
    let (age_stanzas, kms_stanzas) = match meta.key_groups.as_slice() {
        [group] => (
            group
                .age
                .iter()
                .map(|s| (s.recipient.clone(), s.enc.clone()))
                .collect(),
            group.kms.clone(),
        ),
        _ => (Vec::new(), Vec::new()),
    };
    Ok(Decrypted {
        documents,
        data_key,
        stash,
        age_stanzas,
        comments,
        kms_stanzas,
    })
}

/// The age recipients (public keys) the data key of sops file `text` is encrypted to, in
/// file order across key groups, as written there. Nothing is decrypted: this reads the
/// metadata only, so it needs no identity and proves nothing about the file's integrity.
pub fn age_recipients(text: &str) -> Result<Vec<String>, SopsError> {
    let documents = yaml::parse(text)?;
    let (_, metadata) = format::extract(documents)?;
    let meta = format::Metadata::from_node(metadata)?;
    Ok(meta
        .key_groups
        .iter()
        .flat_map(|group| group.age.iter().map(|stanza| stanza.recipient.clone()))
        .collect())
}

/// The master keys of a file that pullseal can write back: age recipients and AWS KMS keys.
#[derive(Debug, Clone, Default)]
pub struct MasterKeys {
    /// The age recipients (public keys), in file order.
    pub age: Vec<String>,
    /// The AWS KMS keys, in file order.
    pub kms: Vec<KmsKey>,
}

/// The master keys of sops file `text` when an edit can keep every one it has: one key group
/// of age recipients and AWS KMS keys only (no PGP, Vault, GCP or Azure keys, no Shamir
/// split), in file order. `None` when the file has anything else, which an edit re-encrypting
/// to its age and KMS keys would drop. Reads the metadata only, as [`age_recipients`] does.
pub fn editable_master_keys(text: &str) -> Result<Option<MasterKeys>, SopsError> {
    let documents = yaml::parse(text)?;
    let (_, metadata) = format::extract(documents)?;
    let meta = format::Metadata::from_node(metadata)?;
    Ok(match meta.key_groups.as_slice() {
        [group] if group.other.is_empty() && !(group.age.is_empty() && group.kms.is_empty()) => {
            Some(MasterKeys {
                age: group.age.iter().map(|s| s.recipient.clone()).collect(),
                kms: group.kms.iter().map(|s| s.key.clone()).collect(),
            })
        }
        _ => None,
    })
}

/// The AWS KMS entries of the sops metadata of one YAML document `text` (keys and their
/// encrypted data keys, public), across key groups. Reads the metadata only: nothing is
/// decrypted or verified; an entry is only worth reusing once KMS opens it
/// ([`KmsRecipients::previous`]).
pub fn kms_stanzas(text: &str) -> Result<Vec<KmsStanza>, SopsError> {
    let documents = yaml::parse(text)?;
    let (_, metadata) = format::extract(documents)?;
    let meta = format::Metadata::from_node(metadata)?;
    Ok(meta.key_groups.into_iter().flat_map(|g| g.kms).collect())
}

/// Reads plain (unencrypted) YAML `text` into one [`Value`] per document, typed as sops types
/// a file's values (go-yaml v3 rules, the same reader [`decrypt`] uses), with no `sops`
/// metadata handling: the trees the fuzz targets and tests hand to [`encrypt`] and to the
/// catalog's schema check. The pipeline never reads a plain catalog.
#[doc(hidden)]
pub fn read_plain(text: &str) -> Result<Vec<Value>, SopsError> {
    fn convert(node: yaml::Node) -> Result<Value, SopsError> {
        let pos = node.pos;
        Ok(match node.value {
            yaml::Plain::Null => Value::Null,
            yaml::Plain::Bool(b) => Value::Bool(b),
            yaml::Plain::Int(i) => Value::Int(i),
            yaml::Plain::Float(f) => Value::Float(f),
            yaml::Plain::Str(s) => Value::Str(SecretString::from(s)),
            yaml::Plain::Time(t) => Value::Time(t.to_rfc3339_nano().ok_or_else(|| SopsError::Yaml {
                line: pos.line,
                col: pos.col,
                reason: "a timestamp whose zone go-yaml cannot print (hours outside 0..=23)".to_owned(),
            })?),
            yaml::Plain::Seq(items) => Value::Seq(items.into_iter().map(convert).collect::<Result<_, _>>()?),
            yaml::Plain::Map(entries) => Value::Map(
                entries
                    .into_iter()
                    .map(|(k, v)| convert(v).map(|v| (k, v)))
                    .collect::<Result<_, _>>()?,
            ),
        })
    }
    yaml::parse(text)?.into_iter().map(convert).collect()
}

/// Refuses a file with a plain value (naming the first one) or a loosening metadata field.
fn require_fully_encrypted(branches: &[format::Branch], meta: &format::Metadata) -> Result<(), SopsError> {
    let spot = tree::first_plain(branches);
    let loosening = meta.loosening.as_ref().map(|l| {
        let effect = if l.field == "mac_only_encrypted" {
            "which keeps plain values out of the MAC"
        } else {
            "which lets sops leave values plain"
        };
        format!("the file sets `sops.{}` (line {}), {effect}", l.field, l.line)
    });
    let what = match (spot, loosening) {
        (None, None) => return Ok(()),
        (Some(s), None) => format!("{} `{}` (line {}) {}", s.noun, s.path, s.line, s.what),
        (Some(s), Some(l)) => format!("{} `{}` (line {}) {}; {l}", s.noun, s.path, s.line, s.what),
        (None, Some(l)) => l,
    };
    Err(SopsError::NotFullyEncrypted { what })
}

/// sops `DecryptTree`: the stored MAC is an encrypted `str` whose additional data is
/// `lastmodified` in RFC 3339.
fn verify_mac(
    meta: &format::Metadata,
    key: &SecretBox<[u8; 32]>,
    computed: &str,
    stash: &mut cipher::IvStash,
) -> Result<(), SopsError> {
    if meta.mac.is_empty() {
        return Err(SopsError::MacMissing);
    }
    let stored = cipher::decrypt_stashing(&meta.mac, key, &meta.mac_aad, Some(stash)).map_err(|e| {
        SopsError::MacUndecryptable {
            reason: e.to_string(),
        }
    })?;
    let Value::Str(stored) = stored.value else {
        return Err(SopsError::MacMismatch);
    };
    if constant_time_eq(stored.expose_secret().as_bytes(), computed.as_bytes()) {
        Ok(())
    } else {
        Err(SopsError::MacMismatch)
    }
}

/// Compares without an early exit on the first differing byte.
pub(crate) fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

#[cfg(test)]
mod tests {
    use std::fmt::Write as _;
    use std::path::Path;
    use std::str::FromStr as _;

    use proptest::prelude::*;
    use secrecy::ExposeSecret as _;
    use sha2::{Digest as _, Sha512};

    use super::*;

    const DIR: &str = "testdata/sops";

    fn read(name: &str) -> String {
        fs_err::read_to_string(Path::new(DIR).join(name)).unwrap()
    }

    fn ids(file: &str) -> Identities {
        Identities::discover(Some(&Path::new(DIR).join(file)), &|_| None).unwrap()
    }

    fn try_decrypt(name: &str, identity_file: &str) -> Result<Decrypted, SopsError> {
        decrypt(&read(name), &ids(identity_file))
    }

    /// The recipients come from the metadata alone, in order across key groups, with no
    /// identity; a file without sops metadata is the error decryption gives.
    #[test]
    fn age_recipients_are_read_without_a_key() {
        assert_eq!(
            age_recipients(&read("secret.key_groups_shamir2.enc.yaml")).unwrap(),
            [
                "age1mv68x5m0x6z0n5chrzru8x2039a4xx92nea0f4047tk7k2lcu3es5d42h5",
                "age1e7y98amehuyggn4sfh8unjm9j5zc5vjkt7hc2pvrp9nmz7eaze6qmxvhfx",
            ]
        );
        let err = age_recipients(&read("simple.plain.yaml")).unwrap_err();
        insta::assert_snapshot!(err, @"the file is not encrypted with sops: its first document has no top-level `sops` metadata");
    }

    /// Reads a plain YAML file into values with the same go-yaml rules, no decryption.
    fn plain_documents(text: &str) -> Vec<Value> {
        read_plain(text).unwrap()
    }

    fn strings(value: &Value, out: &mut Vec<String>) {
        match value {
            Value::Str(s) => out.push(s.expose_secret().to_owned()),
            Value::Seq(items) => items.iter().for_each(|v| strings(v, out)),
            Value::Map(entries) => entries.iter().for_each(|(_, v)| strings(v, out)),
            _ => {}
        }
    }

    const GOLDEN: [(&str, &str, &str); 6] = [
        ("simple.enc.yaml", "simple.plain.yaml", "age-identity.txt"),
        (
            "empty-string.enc.yaml",
            "empty-string.plain.yaml",
            "age-identity.txt",
        ),
        ("multidoc.enc.yaml", "multidoc.plain.yaml", "age-identity.txt"),
        (
            "list-comments.enc.yaml",
            "list-comments.plain.yaml",
            "age-identity.txt",
        ),
        ("types.enc.yaml", "types.plain.yaml", "age-identity.txt"),
        (
            "secret.key_groups_shamir2.enc.yaml",
            "secret.plain.yaml",
            "both.txt",
        ),
    ];

    #[test]
    fn golden_files_from_real_sops_decrypt_to_their_plain_files() {
        for (enc, plain, identity) in GOLDEN {
            let decrypted = try_decrypt(enc, identity).unwrap_or_else(|e| panic!("{enc}: {e}"));
            let want = plain_documents(&read(plain));
            assert_eq!(decrypted.documents().len(), want.len(), "{enc}");
            for (got, want) in decrypted.documents().iter().zip(&want) {
                assert!(got.same(want), "{enc}: {got:?} != {want:?}");
            }
        }
    }

    #[test]
    fn golden_types_come_out_as_sops_prints_them() {
        let d = try_decrypt("types.enc.yaml", "age-identity.txt").unwrap();
        let doc = &d.documents()[0];
        assert!(matches!(doc.get("expires"), Some(Value::Time(t)) if t == "2025-12-31T00:00:00Z"));
        assert!(matches!(doc.get("ts"), Some(Value::Time(t)) if t == "2024-01-01T10:00:00.5+02:00"));
        assert!(matches!(doc.get("q"), Some(Value::Str(s)) if s.expose_secret() == "2025-12-31"));
        assert!(matches!(doc.get("f"), Some(Value::Float(f)) if f.to_bits() == 1e21f64.to_bits()));
        assert!(matches!(doc.get("h"), Some(Value::Float(f)) if *f == f64::INFINITY));
        assert!(matches!(doc.get("oct"), Some(Value::Int(15))));
        assert!(matches!(doc.get("hex"), Some(Value::Int(31))));
        let rich = try_decrypt("list-comments.enc.yaml", "age-identity.txt").unwrap();
        let doc = &rich.documents()[0];
        assert!(matches!(doc.get("big"), Some(Value::Int(12_345_678_901))));
        assert!(matches!(doc.get("float_int"), Some(Value::Float(f)) if f.to_bits() == 2f64.to_bits()));
        let Some(Value::Seq(registries)) = doc.get("registries") else {
            panic!("registries")
        };
        assert_eq!(registries.len(), 2);
        assert!(matches!(registries[0].get("port"), Some(Value::Int(443))));
        assert!(matches!(registries[0].get("nothing"), Some(Value::Null)));
        assert!(matches!(registries[0].get("empty"), Some(Value::Str(s)) if s.expose_secret().is_empty()));
    }

    #[test]
    fn comments_between_list_items_are_authenticated_dropped_and_unhashed_like_sops() {
        let text = read("list-comments.enc.yaml");
        // sops writes the three comments of lists as `type:comment` list items, the other two
        // as YAML comments.
        let items = text
            .lines()
            .filter(|l| l.trim_start().starts_with("- ENC[") && l.ends_with("type:comment]"))
            .count();
        assert_eq!(items, 3);
        assert_eq!(text.matches("#ENC[").count(), 2);
        let d = decrypt(&text, &ids("age-identity.txt")).unwrap();
        let Some(Value::Seq(allow)) = d.documents()[0].get("allow") else {
            panic!("allow")
        };
        let allow: Vec<_> = allow
            .iter()
            .map(|v| match v {
                Value::Str(s) => s.expose_secret().to_owned(),
                other => panic!("{other:?}"),
            })
            .collect();
        assert_eq!(allow, ["shop", "team-*"]);
    }

    /// The comments of a file sops wrote, read back and written again in edit mode, come out
    /// byte for byte where sops wrote them, with their ciphertext: only `lastmodified` and
    /// `mac` differ. Each one's text is decrypted.
    #[test]
    fn comments_are_written_back_where_sops_wrote_them() {
        let text = read("list-comments.enc.yaml");
        let d = decrypt_for_edit(&text, &ids("age-identity.txt")).unwrap();
        assert_eq!(d.comments().unwrap().len(), 5);
        assert!(
            decrypt(&text, &ids("age-identity.txt"))
                .unwrap()
                .comments()
                .is_none()
        );
        let options = simple_options();
        let again = encrypt_with_comments(
            d.documents(),
            d.comments().unwrap(),
            &options,
            Randomness::Edit(&d),
        )
        .unwrap();
        let changed: Vec<&str> = text
            .lines()
            .zip(again.lines())
            .filter(|(a, b)| a != b)
            .map(|(_, b)| b.trim_start().split(':').next().unwrap())
            .collect();
        assert_eq!(changed, ["lastmodified", "mac"], "{again}");
        assert_eq!(text.lines().count(), again.lines().count());
        // Without the comments, they are gone.
        let bare = encrypt(d.documents(), &options, Randomness::Edit(&d)).unwrap();
        assert!(!bare.contains("type:comment"), "{bare}");
    }

    fn simple_options() -> EncryptOptions {
        EncryptOptions {
            recipients: vec![
                age::x25519::Recipient::from_str(
                    "age1mv68x5m0x6z0n5chrzru8x2039a4xx92nea0f4047tk7k2lcu3es5d42h5",
                )
                .unwrap(),
            ],
            kms: KmsRecipients::default(),
            rule: Rule::EncryptAll,
            mac_only_encrypted: false,
            last_modified: LastModified::from_unix(0).unwrap(),
        }
    }

    /// A comment someone typed into the encrypted file by hand is plain; sops would keep it
    /// plain on decryption and encrypt it when it next writes. So does pullseal: it is read,
    /// and written back encrypted, never in the clear. One that is `ENC[…]` but opens
    /// nowhere is kept as it is, as sops keeps it; one inside the metadata goes.
    #[test]
    fn a_plain_comment_is_written_back_encrypted() {
        let text = read("simple.enc.yaml")
            .replace(
                "    dockerhub:\n",
                "    # typed by hand note-s3cr3t\n    dockerhub:\n",
            )
            .replace(
                "registries:\n",
                "#ENC[AES256_GCM,data:AAAA,iv:AAAA,tag:AAAA,type:comment]\nregistries:\n",
            )
            .replace("    lastmodified:", "    # in the metadata\n    lastmodified:");
        let d = decrypt_for_edit(&text, &ids("age-identity.txt")).unwrap();
        assert_eq!(d.comments().unwrap().len(), 2);
        let again = encrypt_with_comments(
            d.documents(),
            d.comments().unwrap(),
            &simple_options(),
            Randomness::Edit(&d),
        )
        .unwrap();
        assert!(
            !again.contains("note-s3cr3t") && !again.contains("in the metadata"),
            "{again}"
        );
        let comment_lines: Vec<&str> = again
            .lines()
            .filter(|l| l.trim_start().starts_with('#'))
            .collect();
        assert_eq!(comment_lines.len(), 2, "{again}");
        assert_eq!(
            comment_lines[0],
            "#ENC[AES256_GCM,data:AAAA,iv:AAAA,tag:AAAA,type:comment]"
        );
        assert!(
            comment_lines[1].starts_with("    #ENC[AES256_GCM,")
                && comment_lines[1].ends_with(",type:comment]")
        );
        // Read again, it is the same comment at the same place, now encrypted: kept as it is.
        let d2 = decrypt_for_edit(&again, &ids("age-identity.txt")).unwrap();
        let third = encrypt_with_comments(
            d2.documents(),
            d2.comments().unwrap(),
            &simple_options(),
            Randomness::Edit(&d2),
        )
        .unwrap();
        assert_eq!(third, again);
    }

    /// Real sops files that are not fully encrypted: each is refused before any key is used,
    /// naming its first plain path.
    #[test]
    fn files_that_are_not_fully_encrypted_are_refused() {
        let refusal = |name: &str| {
            decrypt(&read(name), &Identities::from_identities(Vec::new()))
                .unwrap_err()
                .to_string()
        };
        insta::assert_snapshot!(refusal("secret.encrypted_regex.enc.yaml"), @"the file is not fully encrypted: the value at `apiVersion` (line 1) is not encrypted (plain text); the file sets `sops.encrypted_regex` (line 22), which lets sops leave values plain");
        insta::assert_snapshot!(refusal("secret.encrypted_regex.mac_only_encrypted.enc.yaml"), @"the file is not fully encrypted: the value at `apiVersion` (line 1) is not encrypted (plain text); the file sets `sops.encrypted_regex` (line 22), which lets sops leave values plain");
        insta::assert_snapshot!(refusal("rich.enc.yaml"), @"the file is not fully encrypted: the key `plain_unencrypted` (line 21) ends in `_unencrypted`, so sops leaves every value under it plain");
        insta::assert_snapshot!(refusal("written-by-spec-writer.enc.yaml"), @"the file is not fully encrypted: the key `note_unencrypted` (line 12) ends in `_unencrypted`, so sops leaves every value under it plain");
        let simple = read("simple.enc.yaml");
        let plain_int = simple.replace("sops:\n", "port: 443\nsops:\n");
        insta::assert_snapshot!(decrypt(&plain_int, &ids("age-identity.txt")).unwrap_err(), @"the file is not fully encrypted: the value at `port` (line 8) is not encrypted (a plain int)");
        for rule in [
            "unencrypted_suffix: _plain",
            "encrypted_suffix: _secret",
            "unencrypted_regex: ^kind$",
            "encrypted_comment_regex: sops",
            "unencrypted_comment_regex: plain",
        ] {
            let text = simple.replace("unencrypted_suffix: _unencrypted", rule);
            let field = rule.split(':').next().unwrap();
            assert_eq!(
                decrypt(&text, &ids("age-identity.txt")).unwrap_err().to_string(),
                format!(
                    "the file is not fully encrypted: the file sets `sops.{field}` (line 21), which lets sops leave values plain"
                ),
            );
        }
        let mac_only = simple.replace("    version:", "    mac_only_encrypted: true\n    version:");
        insta::assert_snapshot!(decrypt(&mac_only, &ids("age-identity.txt")).unwrap_err(), @"the file is not fully encrypted: the file sets `sops.mac_only_encrypted` (line 22), which keeps plain values out of the MAC");
    }

    #[test]
    fn multidoc_files_share_one_data_key_and_drop_every_sops_key() {
        let d = try_decrypt("multidoc.enc.yaml", "age-identity.txt").unwrap();
        assert_eq!(d.documents().len(), 2);
        assert!(d.documents().iter().all(|doc| doc.get("sops").is_none()));
        assert_ne!(d.data_key().expose_secret(), &[0u8; 32]);
    }

    /// Swaps the values of the first lines starting with `a` and `b` (moving ciphertexts).
    fn swap_values(text: &str, a: &str, b: &str) -> String {
        let mut lines: Vec<String> = text.lines().map(str::to_owned).collect();
        let ia = lines.iter().position(|l| l.starts_with(a)).unwrap();
        let ib = lines.iter().position(|l| l.starts_with(b)).unwrap();
        let va = lines[ia][a.len()..].to_owned();
        let vb = lines[ib][b.len()..].to_owned();
        lines[ia] = format!("{a}{vb}");
        lines[ib] = format!("{b}{va}");
        lines.join("\n") + "\n"
    }

    /// Replaces the first `from` after `marker`.
    fn replace_after(text: &str, marker: &str, from: &str, to: &str) -> String {
        let start = text.find(marker).unwrap();
        let at = start + text[start..].find(from).unwrap();
        format!("{}{to}{}", &text[..at], &text[at + from.len()..])
    }

    /// Every error the tamper tests produce, for the "no plaintext in errors" check.
    fn tampered_errors() -> Vec<(&'static str, String)> {
        let simple = read("simple.enc.yaml");
        let rich = read("rich.enc.yaml");
        let regex = read("secret.encrypted_regex.enc.yaml");
        let comments = read("list-comments.enc.yaml");
        let one = ids("age-identity.txt");
        let cases: Vec<(&'static str, String, Identities)> = vec![
            ("data", simple.replace("data:7+nx/t8N", "data:7+nx/t8M"), ids("age-identity.txt")),
            ("moved", swap_values(&simple, "        username: ", "        password: "), ids("age-identity.txt")),
            ("unencrypted", rich.replace("plain_unencrypted: visible", "plain_unencrypted: visiblx"), ids("age-identity.txt")),
            ("regex-plain", regex.replace("kind: Secret", "kind: Secrets"), ids("age-identity.txt")),
            // `type:` is not authenticated; the MAC tells a value from a comment.
            ("str-to-comment", replace_after(&comments, "allow:", "type:str]", "type:comment]"), ids("age-identity.txt")),
            ("comment-to-str", replace_after(&comments, "allow:", "type:comment]", "type:str]"), ids("age-identity.txt")),
            ("comment-as-value", comments.replacen("type:str]", "type:comment]", 1), ids("age-identity.txt")),
            ("no-sops", read("simple.plain.yaml"), ids("age-identity.txt")),
            ("wrong-identity", simple.clone(), ids("age-identity-2.txt")),
            ("shamir-one", read("secret.key_groups_shamir2.enc.yaml"), ids("age-identity.txt")),
            ("lastmodified", simple.replace("2026-11-29T11:33:08Z", "2026-11-29T11:33:09Z"), ids("age-identity.txt")),
            ("plain-secret", simple.replace(
                "password: ENC[AES256_GCM,data:7+nx/t8N,iv:7R/WIiCLluVEfqa0iFPf62AmhBfCpbMO8TPWhzDQ+6w=,tag:JRK/or3Szll8eGJCJVfVkw==,type:str]",
                "password: s3cr3t",
            ), ids("age-identity.txt")),
            ("malformed", simple.replace(",tag:JRK/or3Szll8eGJCJVfVkw==", ""), ids("age-identity.txt")),
            ("bad-base64", simple.replace("data:7+nx/t8N", "data:7+nx/t8"), ids("age-identity.txt")),
            ("no-version", simple.replace("    version: 3.11.0\n", ""), ids("age-identity.txt")),
            ("bad-version", simple.replace("version: 3.11.0", "version: 3.11"), ids("age-identity.txt")),
            ("bad-yaml", simple.replace("    ghcr:\n", "    ghcr: [\n"), ids("age-identity.txt")),
            ("no-identities", simple.clone(), Identities::from_identities(Vec::new())),
        ];
        let _ = one;
        cases
            .into_iter()
            .map(|(name, text, ids)| match decrypt(&text, &ids) {
                Ok(_) => panic!("{name} decrypted"),
                Err(e) => (name, e.to_string()),
            })
            .collect()
    }

    #[test]
    fn tampering_is_an_error_with_a_pinned_message() {
        let errors: std::collections::BTreeMap<_, _> = tampered_errors().into_iter().collect();
        insta::assert_snapshot!(errors["data"], @"cannot decrypt the value at `registries.ghcr.password` (line 4): authentication failed (the value was modified or moved, or the data key is wrong)");
        insta::assert_snapshot!(errors["moved"], @"cannot decrypt the value at `registries.ghcr.username` (line 3): authentication failed (the value was modified or moved, or the data key is wrong)");
        insta::assert_snapshot!(errors["unencrypted"], @"the file is not fully encrypted: the key `plain_unencrypted` (line 21) ends in `_unencrypted`, so sops leaves every value under it plain");
        insta::assert_snapshot!(errors["regex-plain"], @"the file is not fully encrypted: the value at `apiVersion` (line 1) is not encrypted (plain text); the file sets `sops.encrypted_regex` (line 22), which lets sops leave values plain");
        insta::assert_snapshot!(errors["str-to-comment"], @"mac mismatch: the file was modified after it was encrypted");
        insta::assert_snapshot!(errors["comment-to-str"], @"mac mismatch: the file was modified after it was encrypted");
        insta::assert_snapshot!(errors["comment-as-value"], @"invalid decrypted value at `registries[0].name` (line 3): a `type:comment` value, which sops writes only as a list item");
        insta::assert_snapshot!(errors["no-sops"], @"the file is not encrypted with sops: its first document has no top-level `sops` metadata");
        insta::assert_snapshot!(errors["wrong-identity"], @"no age identity could decrypt the sops data key for recipients age1mv68x5m0x6z0n5chrzru8x2039a4xx92nea0f4047tk7k2lcu3es5d42h5; identities tried: 1 (searched testdata/sops/age-identity-2.txt, SOPS_AGE_KEY, SOPS_AGE_KEY_FILE)");
        insta::assert_snapshot!(errors["shamir-one"], @"no age identity could decrypt the sops data key for recipients age1e7y98amehuyggn4sfh8unjm9j5zc5vjkt7hc2pvrp9nmz7eaze6qmxvhfx; identities tried: 1 (searched testdata/sops/age-identity.txt, SOPS_AGE_KEY, SOPS_AGE_KEY_FILE); 1 of 2 key-group shares recovered");
        insta::assert_snapshot!(errors["lastmodified"], @"mac mismatch: cannot decrypt `sops.mac` with the data key and `sops.lastmodified`: authentication failed (tampered value, moved value or wrong data key)");
        insta::assert_snapshot!(errors["plain-secret"], @"the file is not fully encrypted: the value at `registries.ghcr.password` (line 4) is not encrypted (plain text)");
        insta::assert_snapshot!(errors["malformed"], @"malformed encrypted value at `registries.ghcr.password` (line 4): expected ENC[AES256_GCM,data:…,iv:…,tag:…,type:…]");
        insta::assert_snapshot!(errors["bad-base64"], @"malformed encrypted value at `registries.ghcr.password` (line 4): `data` is not valid base64");
        insta::assert_snapshot!(errors["no-version"], @"invalid sops metadata: `sops.version` is missing or empty (line 9)");
        insta::assert_snapshot!(errors["bad-version"], @r#"invalid sops metadata: `sops.version` "3.11" (line 22) is not a semantic version"#);
        insta::assert_snapshot!(errors["bad-yaml"], @"invalid yaml at line 3 column 22: while parsing a flow mapping, did not find expected ',' or '}'");
        insta::assert_snapshot!(errors["no-identities"], @"no age identity could decrypt the sops data key for recipients age1mv68x5m0x6z0n5chrzru8x2039a4xx92nea0f4047tk7k2lcu3es5d42h5; identities tried: 0 (searched test)");
    }

    #[test]
    fn no_error_message_contains_a_plaintext_value() {
        let mut secrets = Vec::new();
        for (_, plain, _) in GOLDEN {
            for doc in plain_documents(&read(plain)) {
                strings(&doc, &mut secrets);
            }
        }
        secrets.push("s3cr3t".to_owned());
        secrets.retain(|s| s.len() >= 3);
        let age_key = read("both.txt");
        // Every base64 field of every encrypted golden file.
        let mut ciphertexts = Vec::new();
        for (enc, _, _) in GOLDEN {
            for part in read(enc).split(['[', ',', ']', '\n']) {
                for prefix in ["data:", "iv:", "tag:"] {
                    if let Some(b64) = part.strip_prefix(prefix).filter(|b| b.len() >= 4) {
                        ciphertexts.push(b64.to_owned());
                    }
                }
            }
        }
        assert!(ciphertexts.len() > 50);
        for (name, message) in tampered_errors() {
            for secret in &secrets {
                assert!(
                    !message.contains(secret.as_str()),
                    "{name}: {message:?} contains {secret:?}"
                );
            }
            for key in age_key.lines() {
                assert!(!message.contains(key), "{name} leaks an identity");
            }
            for field in &ciphertexts {
                assert!(!message.contains(field.as_str()), "{name} leaks ciphertext");
            }
        }
    }

    #[test]
    fn debug_shows_no_value() {
        let d = try_decrypt("list-comments.enc.yaml", "age-identity.txt").unwrap();
        let shown = format!("{d:?}");
        assert!(
            shown.contains("\"registries\"") && shown.contains("Str(..)"),
            "{shown}"
        );
        let mut secrets = Vec::new();
        strings(&d.documents()[0], &mut secrets);
        for secret in secrets.iter().filter(|s| s.len() >= 3) {
            assert!(!shown.contains(secret.as_str()), "{shown}");
        }
        for value in ["443", "1.5", "12345678901", "2024-01-01"] {
            assert!(!shown.contains(value), "{shown}");
        }
    }

    #[test]
    fn other_metadata_errors_have_pinned_messages() {
        let simple = read("simple.enc.yaml");
        let one = ids("age-identity.txt");
        let err = |text: &str| decrypt(text, &one).unwrap_err().to_string();
        let kms_pgp = "a: ENC[AES256_GCM,data:AA==,iv:AA==,tag:AA==,type:str]\nsops:\n    kms:\n        - arn: arn:aws:kms:eu-west-1:123456789012:key/x\n          created_at: \"2026-11-29T11:33:08Z\"\n          enc: AAAA\n    pgp:\n        - fp: ABCD\n          enc: x\n    lastmodified: \"2026-11-29T11:33:08Z\"\n    mac: \"\"\n    version: 3.11.0\n";
        insta::assert_snapshot!(err(&kms_pgp.replace("    kms:\n        - arn: arn:aws:kms:eu-west-1:123456789012:key/x\n          created_at: \"2026-11-29T11:33:08Z\"\n          enc: AAAA\n", "")), @"the sops data key is encrypted only with pgp master keys; pullseal decrypts only with age and AWS KMS");
        // sops refuses a KMS entry without an RFC 3339 `created_at` before it tries any key.
        insta::assert_snapshot!(err(&kms_pgp.replace("          created_at: \"2026-11-29T11:33:08Z\"\n", "")), @"invalid sops metadata: `sops.kms.created_at` (line 4) is not an RFC 3339 timestamp");
        // The KMS key is tried (here without AWS keys, so nothing is sent) and named.
        let kms_failed = err(kms_pgp);
        let reason = if cfg!(feature = "kms") {
            "no AWS credentials: set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY (and AWS_SESSION_TOKEN for temporary keys); pullseal reads no AWS profile, SSO, web identity or instance metadata"
        } else {
            "this pullseal is built without the `kms` cargo feature, which AWS KMS master keys need; build it with `--features kms`"
        };
        assert_eq!(
            kms_failed,
            format!(
                "no master key could decrypt the sops data key: AWS KMS key arn:aws:kms:eu-west-1:123456789012:key/x: {reason}; pgp keys are not used natively"
            )
        );
        let no_keys = "a: b\nsops:\n    lastmodified: \"2026-11-29T11:33:08Z\"\n    version: 3.11.0\n";
        insta::assert_snapshot!(err(no_keys), @"invalid sops metadata: no master keys in the `sops` block (line 3)");
        insta::assert_snapshot!(err(&simple.replace("unencrypted_suffix: _unencrypted", "unencrypted_suffix: _u\n    encrypted_regex: x")), @"invalid sops metadata: only one of unencrypted_suffix, encrypted_suffix, unencrypted_regex, encrypted_regex, unencrypted_comment_regex and encrypted_comment_regex may be set, found unencrypted_suffix, encrypted_regex");
        insta::assert_snapshot!(err(&simple.replace("unencrypted_suffix: _unencrypted", "unencrypted_regex: '(' ")), @"invalid sops metadata: `sops.unencrypted_regex` (line 21) is not a valid regular expression");
        insta::assert_snapshot!(err(&simple.replace("    lastmodified: \"2026-11-29T11:33:08Z\"\n", "    lastmodified: yesterday\n")), @"invalid sops metadata: `sops.lastmodified` (line 19) is not an RFC 3339 timestamp");
        insta::assert_snapshot!(err(&simple.replace("    username: ENC", "    1: x\n        username: ENC")), @"only string keys are supported, but the key at line 3 column 9 is an int");
        insta::assert_snapshot!(err(&simple.replace("    dockerhub:", "    ghcr:")), @"duplicate key `ghcr` at line 5");
        insta::assert_snapshot!(err(&simple.replace("    dockerhub:", "    \"gh\\ecr\":\n        a: 1\n    \"gh\\ecr\":")), @r#"duplicate key `"gh\u{1b}cr"` at line 7"#);
        let evil = simple.replace(
            "- recipient: age1mv68x5m0x6z0n5chrzru8x2039a4xx92nea0f4047tk7k2lcu3es5d42h5",
            "- recipient: \"\\e]0;x\\a\"",
        );
        // The recipient is only a label; another identity makes the error list it.
        insta::assert_snapshot!(decrypt(&evil, &ids("age-identity-2.txt")).unwrap_err(), @r#"no age identity could decrypt the sops data key for recipients "\u{1b}]0;x\u{7}"; identities tried: 1 (searched testdata/sops/age-identity-2.txt, SOPS_AGE_KEY, SOPS_AGE_KEY_FILE)"#);
        insta::assert_snapshot!(err(&format!("- a\n---\n{simple}")), @"yaml document 1 (line 1) is a sequence, but sops files hold mappings");
        insta::assert_snapshot!(err(&simple.replace("sops:\n", "sops: 1\nx:\n")), @"invalid sops metadata: `sops` (line 8) is not a mapping");
        insta::assert_snapshot!(err(&simple.replace("type:str]", "type:blob]")), @"invalid decrypted value at `registries.ghcr.username` (line 3): unknown `type:` (expected str, int, float, bool, time, bytes or comment)");
        insta::assert_snapshot!(err(&simple.replace("    mac: ENC", "    mac_was: ENC")), @"mac mismatch: the file has no `sops.mac`");
    }

    // ---- a test-only encryptor (sops `Tree.Encrypt`), for round-trip properties ----

    const RECIPIENT_SECRET: &str =
        "AGE-SECRET-KEY-13KT8YDE5VPTHFA0FJCQQH598E47SN35AK3MYPAQM0TJ9W8ZUZFLQCWARNX";

    /// Writes a sops file for a flat mapping of strings; keys ending in `_unencrypted` stay plain.
    fn encrypt_flat(entries: &[(String, String)], data_key: [u8; 32], mac_only_encrypted: bool) -> String {
        let identity = age::x25519::Identity::from_str(RECIPIENT_SECRET).unwrap();
        let recipient = identity.to_public();
        let mut hasher = Sha512::new();
        if mac_only_encrypted {
            hasher.update(tree_init());
        }
        let mut out = String::new();
        for (i, (key, value)) in entries.iter().enumerate() {
            let encrypted = !key.ends_with("_unencrypted");
            if !mac_only_encrypted || encrypted {
                hasher.update(value.as_bytes());
            }
            let shown = if encrypted && !value.is_empty() {
                let mut iv = [0u8; 32];
                iv[0] = u8::try_from(i % 256).unwrap();
                cipher::tests::encrypt(value.as_bytes(), "str", &data_key, &format!("{key}:"), iv)
            } else {
                serde_json::to_string(value).unwrap()
            };
            writeln!(out, "{key}: {shown}").unwrap();
        }
        let mac = hasher.finalize().iter().fold(String::new(), |mut s, b| {
            write!(s, "{b:02X}").unwrap();
            s
        });
        let lastmodified = "2026-11-29T11:33:08Z";
        let mac = cipher::tests::encrypt(mac.as_bytes(), "str", &data_key, lastmodified, [9; 32]);
        let mut armored = Vec::new();
        {
            let encryptor =
                age::Encryptor::with_recipients(std::iter::once(&recipient as &dyn age::Recipient)).unwrap();
            let armor =
                age::armor::ArmoredWriter::wrap_output(&mut armored, age::armor::Format::AsciiArmor).unwrap();
            let mut writer = encryptor.wrap_output(armor).unwrap();
            std::io::Write::write_all(&mut writer, &data_key).unwrap();
            writer.finish().unwrap().finish().unwrap();
        }
        let enc = String::from_utf8(armored)
            .unwrap()
            .lines()
            .fold(String::new(), |mut s, l| {
                writeln!(s, "            {l}").unwrap();
                s
            });
        write!(
            out,
            "sops:\n    age:\n        - recipient: {recipient}\n          enc: |\n{enc}    lastmodified: \"{lastmodified}\"\n    mac: {mac}\n    unencrypted_suffix: _unencrypted\n{}    version: 3.11.0\n",
            if mac_only_encrypted { "    mac_only_encrypted: true\n" } else { "" }
        )
        .unwrap();
        out
    }

    fn tree_init() -> [u8; 32] {
        Sha256Digest::digest(b"sops")
    }

    struct Sha256Digest;
    impl Sha256Digest {
        fn digest(data: &[u8]) -> [u8; 32] {
            sha2::Sha256::digest(data).into()
        }
    }

    fn flat_entries(keys: &'static str) -> impl Strategy<Value = Vec<(String, String)>> {
        proptest::collection::btree_map(keys, any::<String>(), 0..6).prop_map(|m| m.into_iter().collect())
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(48))]

        #[test]
        fn encrypt_then_decrypt_is_identity(entries in flat_entries("[a-z][a-z0-9]{0,6}"), key in any::<[u8; 32]>()) {
            let text = encrypt_flat(&entries, key, false);
            let identities = Identities::from_identities(vec![age::x25519::Identity::from_str(RECIPIENT_SECRET).unwrap()]);
            let d = decrypt(&text, &identities).unwrap();
            prop_assert_eq!(d.data_key().expose_secret(), &key);
            let Value::Map(got) = &d.documents()[0] else { panic!("not a map") };
            prop_assert_eq!(got.len(), entries.len());
            for ((k, v), (gk, gv)) in entries.iter().zip(got) {
                prop_assert_eq!(k, gk);
                prop_assert!(matches!(gv, Value::Str(s) if s.expose_secret() == v));
            }
        }

        /// What sops would accept (an `_unencrypted` key, `mac_only_encrypted`) pullseal refuses.
        #[test]
        fn plain_keys_and_mac_only_encrypted_are_refused(
            entries in flat_entries("[a-z][a-z0-9]{0,6}(_unencrypted)?"),
            key in any::<[u8; 32]>(),
            mac_only in any::<bool>(),
        ) {
            let text = encrypt_flat(&entries, key, mac_only);
            let identities = Identities::from_identities(vec![age::x25519::Identity::from_str(RECIPIENT_SECRET).unwrap()]);
            let result = decrypt(&text, &identities);
            match entries.iter().find(|(k, _)| k.ends_with("_unencrypted")) {
                Some((k, _)) => {
                    let err = result.unwrap_err().to_string();
                    let wanted = format!("the key `{k}` (line ");
                    prop_assert!(err.contains(&wanted), "{}", err);
                }
                None if mac_only => {
                    let refused = matches!(result, Err(SopsError::NotFullyEncrypted { .. }));
                    prop_assert!(refused);
                }
                None => prop_assert!(result.is_ok()),
            }
        }

        #[test]
        fn arbitrary_text_never_panics(text in any::<String>()) {
            let _ = decrypt(&text, &Identities::from_identities(Vec::new()));
        }

        #[test]
        fn mangled_golden_files_never_panic(cut in 0usize..4100, byte in any::<u8>(), pos in 0usize..4100) {
            let mut bytes = read("list-comments.enc.yaml").into_bytes();
            if pos < bytes.len() {
                bytes[pos] = byte;
            }
            bytes.truncate(cut.max(1));
            let text = String::from_utf8_lossy(&bytes);
            let _ = decrypt(&text, &ids("age-identity.txt"));
        }
    }
}
