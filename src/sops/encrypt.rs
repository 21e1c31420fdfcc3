//! The encrypt path: a [`Value`] tree → a YAML sops file that the real sops 3.11 decrypts,
//! verifies and edits.
//!
//! Mirrors sops `Tree.Encrypt` (`sops.go`) and `EmitEncryptedFile` (`stores/yaml`): leaves are
//! visited in document order; which ones are encrypted follows the rule (`shouldBeEncrypted`,
//! checked against every map key of the path); a value's additional data is its map-key path
//! joined with `:` plus `:`; nulls stay `null` and add nothing to the MAC, empty strings stay
//! `""`; one SHA-512 runs over the `ToBytes` of every other leaf, encrypted or not (only the
//! encrypted ones, after a fixed prefix, with `mac_only_encrypted`); the MAC is stored
//! encrypted with `lastmodified` as additional data; the data key is age-encrypted to each
//! recipient and with each AWS KMS key (`kms:Encrypt`); the `sops:` block is appended to every
//! document in sops 3.11's key order (`kms`, `age`, `lastmodified`, `mac`, the rule,
//! `mac_only_encrypted`, `version`).
//!
//! Every random input comes from a [`Randomness`] chosen by the caller: the OS for a new
//! file, a secret seed for byte-identical output, or the previous file for an edit that keeps
//! unchanged values' ciphertext. Derived IVs are synthetic (an HMAC of the additional data,
//! the type and the plaintext), so a changed value never reuses an IV under the same key.
//! A KMS `enc` is AWS's ciphertext and no randomness of ours: it is kept from the previous file
//! of an edit, reused from an earlier output once `kms:Decrypt` shows that it holds this data
//! key ([`KmsRecipients::previous`]), or else asked of `kms:Encrypt`, which gives a new blob
//! on every call.
//!
//! It must not write files, read the clock (the caller passes [`LastModified`], also the
//! `created_at` of a new KMS entry) or let a plaintext value, the data key or the seed reach an
//! error or a `Debug`: errors name key paths and KMS ARNs only. Spec:
//! `shared/reference/formats-and-peers.md` §1.

use std::sync::Mutex;

use hmac::{Hmac, Mac as _};
use rand_chacha::ChaCha20Rng;
use rand_core::{OsRng, RngCore as _, SeedableRng as _};
use regex::Regex;
use secrecy::{ExposeSecret as _, SecretBox};
use sha2::{Digest as _, Sha256, Sha512};
use zeroize::Zeroizing;

use super::comments::{Placed, Seg, Text};
use super::emit::{self, Node};
use super::format::DEFAULT_UNENCRYPTED_SUFFIX;
use super::kms::{self, KmsAccess, KmsKey, KmsStanza};
use super::stanza::{self, StanzaEntropy};
use super::timestamp::GoTime;
use super::tree::{Segment, render_path};
use super::{Comments, Decrypted, SopsError, Value, cipher};

/// The `version` pullseal writes: the sops release whose format it follows and tests against.
pub const SOPS_VERSION: &str = "3.11.0";

type HmacSha256 = Hmac<Sha256>;

/// Which values are encrypted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Rule {
    /// sops' default (`unencrypted_suffix: _unencrypted`): every value. A key ending in
    /// `_unencrypted` would make sops leave the values under it plain, so it is refused.
    EncryptAll,
    /// `encrypted_regex`: only values with a map key on their path that the regex matches
    /// (unanchored, as Go's `regexp.Match`); every other value stays plain.
    EncryptedRegex(String),
}

impl Rule {
    /// What Flux's kustomize-controller expects for Secrets: `^(data|stringData)$`.
    pub fn flux() -> Rule {
        Rule::EncryptedRegex("^(data|stringData)$".to_owned())
    }
}

/// `sops.lastmodified`: a UTC time with second precision, the MAC's additional data.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LastModified(String);

impl LastModified {
    /// The current time (for catalog writes; deterministic output takes a fixed time).
    pub fn now() -> LastModified {
        let now = time::OffsetDateTime::now_utc().unix_timestamp();
        LastModified::from_unix(now).unwrap_or_else(|_| LastModified("1970-01-01T00:00:00Z".to_owned()))
    }

    /// Seconds since the Unix epoch, printed as sops prints `lastmodified`.
    pub fn from_unix(seconds: i64) -> Result<LastModified, SopsError> {
        let invalid = || SopsError::InvalidLastModified { seconds };
        let t = time::OffsetDateTime::from_unix_timestamp(seconds).map_err(|_| invalid())?;
        let text = t
            .format(&time::format_description::well_known::Rfc3339)
            .map_err(|_| invalid())?;
        Ok(LastModified(text))
    }

    /// The text written to the file, e.g. `2026-11-29T11:30:36Z`.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// What to encrypt to, and how.
#[derive(Debug, Clone)]
pub struct EncryptOptions {
    /// The age recipients; each gets its own armored copy of the data key. Duplicates are
    /// written once. At least one age recipient or KMS key is required.
    pub recipients: Vec<age::x25519::Recipient>,
    /// The AWS KMS keys, and what their calls may use.
    pub kms: KmsRecipients,
    /// Which values are encrypted.
    pub rule: Rule,
    /// `mac_only_encrypted`: keep plain values out of the MAC (sops' option; pullseal's own
    /// reader refuses such files).
    pub mac_only_encrypted: bool,
    /// `sops.lastmodified`.
    pub last_modified: LastModified,
}

/// The AWS KMS keys of a file to encrypt.
#[derive(Debug, Clone, Default)]
pub struct KmsRecipients {
    /// The keys; each gets the data key through its own `kms:Encrypt` call (one entry per
    /// distinct key, in order).
    pub keys: Vec<KmsKey>,
    /// The AWS keys and endpoints of the calls.
    pub access: KmsAccess,
    /// Entries of an earlier output (e.g. the last render's). One for the same key (ARN, role,
    /// context, profile) is reused, `created_at` included, when `kms:Decrypt` opens it to this
    /// file's data key; otherwise, or when the call fails, the key gets a new `kms:Encrypt`.
    pub previous: Vec<KmsStanza>,
}

/// A 32-byte secret from which [`Randomness::Derived`] derives every random input.
pub struct Seed(SecretBox<[u8; 32]>);

impl Seed {
    /// Wraps the caller's secret, e.g. HMAC-SHA256(derivation key, label).
    pub fn new(secret: SecretBox<[u8; 32]>) -> Seed {
        Seed(secret)
    }
}

impl std::fmt::Debug for Seed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Seed(..)")
    }
}

/// Where the data key, the IVs and the age stanzas' randomness come from.
#[derive(Debug, Clone, Copy)]
pub enum Randomness<'a> {
    /// The operating system's random source: a new data key, new IVs, new stanzas (what
    /// `sops encrypt` does).
    Fresh,
    /// Everything derived from `seed` (HMAC-SHA256 with fixed labels): the same documents,
    /// options and seed give byte-identical output. The data key is derived from the seed
    /// alone; each value's IV from the seed, its additional data, type and plaintext (so a
    /// changed value gets a new IV); each stanza's file key, ephemeral secret and nonce from the
    /// seed, the recipient and the data key. Equal values at the same path encrypt equally,
    /// which is inherent in determinism. The seed must be secret and 32 uniformly random
    /// bytes (a key only the catalog's holders have, or an HMAC of one).
    Derived(&'a Seed),
    /// Re-encrypt an edited tree of a file decrypted before: its data key; the old IV for
    /// every value with the same path, type and plaintext (so it keeps its ciphertext, as
    /// sops' IV stash does); the old stanza for every age recipient and KMS key that had one;
    /// new randomness from the OS (and `kms:Encrypt`) for the rest. Removing a recipient this way does not lock it out (it knows
    /// the data key): use [`Randomness::Fresh`] for that.
    Edit(&'a Decrypted),
}

/// The randomness of one run.
enum Source<'a> {
    Os,
    Derived {
        iv_key: Zeroizing<[u8; 32]>,
        age_key: Zeroizing<[u8; 32]>,
    },
    Edit(&'a Decrypted),
}

fn hmac(key: &[u8], parts: &[&[u8]]) -> Zeroizing<[u8; 32]> {
    let mut out = Zeroizing::new([0u8; 32]);
    // HMAC accepts keys of any length.
    if let Ok(mut mac) = HmacSha256::new_from_slice(key) {
        for part in parts {
            mac.update(&(part.len() as u64).to_be_bytes());
            mac.update(part);
        }
        out.copy_from_slice(&mac.finalize().into_bytes());
    }
    out
}

fn os_fill(buffer: &mut [u8]) -> Result<(), SopsError> {
    OsRng.try_fill_bytes(buffer).map_err(|e| SopsError::Randomness {
        reason: e.to_string(),
    })
}

const LABEL: &[u8] = b"pullseal sops encrypt v1";

/// `pattern` compiled, reusing the last pattern compiled: a render encrypts each of its Flux
/// Secrets with the same `encrypted_regex`, and compiling it anew took a tenth of each
/// encryption. (A `Regex` clone shares the compiled program.)
fn compiled(pattern: &str) -> Result<Regex, regex::Error> {
    static LAST: Mutex<Option<(String, Regex)>> = Mutex::new(None);
    if let Ok(last) = LAST.lock()
        && let Some((known, regex)) = last.as_ref()
        && known == pattern
    {
        return Ok(regex.clone());
    }
    let regex = Regex::new(pattern)?;
    if let Ok(mut last) = LAST.lock() {
        *last = Some((pattern.to_owned(), regex.clone()));
    }
    Ok(regex)
}

impl Source<'_> {
    fn iv(&self, aad: &str, ty: &str, plaintext: &[u8]) -> Result<[u8; 32], SopsError> {
        let mut iv = [0u8; 32];
        match self {
            Source::Os => os_fill(&mut iv)?,
            Source::Derived { iv_key, .. } => {
                iv = *hmac(iv_key.as_slice(), &[aad.as_bytes(), ty.as_bytes(), plaintext]);
            }
            Source::Edit(previous) => match previous.stash.get(aad, ty, plaintext) {
                Some(old) => iv = old,
                None => os_fill(&mut iv)?,
            },
        }
        Ok(iv)
    }

    /// The stanza for `recipient`: kept from the previous file, or newly written.
    fn stanza(&self, recipient: &age::x25519::Recipient, data_key: &[u8; 32]) -> Result<String, SopsError> {
        let name = recipient.to_string();
        let mut entropy = StanzaEntropy {
            file_key: [0; 16],
            ephemeral: [0; 32],
            nonce: [0; 16],
        };
        match self {
            Source::Edit(previous) => {
                if let Some((_, enc)) = previous.age_stanzas.iter().find(|(r, _)| *r == name) {
                    return Ok(enc.clone());
                }
                fill_os(&mut entropy)?;
            }
            Source::Os => fill_os(&mut entropy)?,
            Source::Derived { age_key, .. } => {
                let seed = hmac(age_key.as_slice(), &[name.as_bytes(), data_key]);
                let mut rng = ChaCha20Rng::from_seed(*seed);
                rng.fill_bytes(&mut entropy.file_key);
                rng.fill_bytes(&mut entropy.ephemeral);
                rng.fill_bytes(&mut entropy.nonce);
            }
        }
        stanza::armored(recipient, data_key, &entropy).map_err(|e| SopsError::BadRecipient {
            recipient: name,
            reason: e.to_string(),
        })
    }
}

impl Source<'_> {
    /// The `(created_at, enc)` of `key`'s entry: kept from the edited file, reused from
    /// `kms.previous` once KMS opens it to `data_key`, or a new `kms:Encrypt`.
    fn kms_stanza(
        &self,
        key: &KmsKey,
        data_key: &[u8; 32],
        kms: &KmsRecipients,
        last_modified: &LastModified,
    ) -> Result<(String, String), SopsError> {
        if let Source::Edit(previous) = self
            && let Some(old) = previous.kms_stanzas.iter().find(|s| s.key == *key)
        {
            return Ok((old.created_at.clone(), old.enc.clone()));
        }
        for old in kms.previous.iter().filter(|s| s.key == *key) {
            if let Ok(opened) = kms::decrypt(old, &kms.access)
                && super::constant_time_eq(&opened, data_key)
            {
                return Ok((old.created_at.clone(), old.enc.clone()));
            }
        }
        let enc = kms::encrypt(key, data_key, &kms.access).map_err(|source| SopsError::KmsEncrypt {
            key: crate::error::shown(&key.label()),
            source,
        })?;
        Ok((last_modified.as_str().to_owned(), enc))
    }
}

fn fill_os(entropy: &mut StanzaEntropy) -> Result<(), SopsError> {
    os_fill(&mut entropy.file_key)?;
    os_fill(&mut entropy.ephemeral)?;
    os_fill(&mut entropy.nonce)
}

/// Encrypts `documents` (each a [`Value::Map`]) into one YAML sops file, as sops 3.11 writes it.
///
/// The caller supplies everything that varies: the recipients, the rule and `lastmodified` in
/// `options`, and the [`Randomness`]. Nothing else is read (no clock, no environment), so with
/// [`Randomness::Derived`] and no KMS key the output is a pure function of the arguments. A
/// KMS key is AWS's to encrypt with: each `kms:Encrypt` answers another blob, so only the
/// reuse of an earlier entry ([`KmsRecipients::previous`]) keeps the output byte-identical.
///
/// Several documents share one data key and one MAC and each carries the same `sops:` block,
/// as with sops. Refused: no recipients, a document that is not a mapping or has a top-level
/// `sops` key, a `_unencrypted` key under [`Rule::EncryptAll`], an invalid regex or timestamp,
/// a KMS key whose `kms:Encrypt` fails.
pub fn encrypt(
    documents: &[Value],
    options: &EncryptOptions,
    randomness: Randomness<'_>,
) -> Result<String, SopsError> {
    encrypt_with_comments(documents, &Comments::default(), options, randomness)
}

/// [`encrypt`], with the YAML comments of the file the documents were decrypted from (see
/// [`super::Decrypted::comments`]) written back where they stood, encrypted as sops encrypts
/// them: `type:comment`, the additional data of their mapping or list, outside the MAC. An
/// unchanged comment keeps its ciphertext with [`Randomness::Edit`], like a value. The
/// comments of a removed key (inside it, and right before it) go with it.
///
/// Comments are written under [`Rule::EncryptAll`] only: under another rule sops would leave
/// some of them plain, and pullseal writes no comment in the clear.
pub fn encrypt_with_comments(
    documents: &[Value],
    comments: &Comments,
    options: &EncryptOptions,
    randomness: Randomness<'_>,
) -> Result<String, SopsError> {
    let mut recipients: Vec<&age::x25519::Recipient> = Vec::new();
    for r in &options.recipients {
        if !recipients.iter().any(|seen| seen.to_string() == r.to_string()) {
            recipients.push(r);
        }
    }
    let mut kms_keys: Vec<&KmsKey> = Vec::new();
    for key in &options.kms.keys {
        if !kms_keys.contains(&key) {
            kms_keys.push(key);
        }
    }
    if recipients.is_empty() && kms_keys.is_empty() {
        return Err(SopsError::NoRecipients);
    }
    let regex = match &options.rule {
        Rule::EncryptAll => None,
        Rule::EncryptedRegex(pattern) => {
            Some(compiled(pattern).map_err(|_| SopsError::InvalidEncryptedRegex {
                regex: pattern.clone(),
            })?)
        }
    };

    let (data_key, source) = match randomness {
        Randomness::Fresh => {
            let mut key = SecretBox::new(Box::new([0u8; 32]));
            os_fill(secrecy::ExposeSecretMut::expose_secret_mut(&mut key))?;
            (key, Source::Os)
        }
        Randomness::Derived(seed) => {
            let secret = seed.0.expose_secret();
            let key = hmac(secret, &[LABEL, b"data key"]);
            let source = Source::Derived {
                iv_key: hmac(secret, &[LABEL, b"value iv"]),
                age_key: hmac(secret, &[LABEL, b"age stanza"]),
            };
            (SecretBox::new(Box::new(*key)), source)
        }
        Randomness::Edit(previous) => (
            SecretBox::new(Box::new(*previous.data_key.expose_secret())),
            Source::Edit(previous),
        ),
    };

    let mut walk = Walk {
        key: &data_key,
        source: &source,
        regex: regex.as_ref(),
        mac_only_encrypted: options.mac_only_encrypted,
        hasher: Sha512::new(),
        keys: Vec::new(),
        display: Vec::new(),
        placed: Placed::default(),
        path: Vec::new(),
    };
    if options.mac_only_encrypted {
        // sops `MACOnlyEncryptedInitialization`: sha256("sops").
        walk.hasher.update(Sha256::digest(b"sops"));
    }
    let mut out_docs = Vec::with_capacity(documents.len());
    for (index, document) in documents.iter().enumerate() {
        let Value::Map(entries) = document else {
            return Err(SopsError::EncryptNotMapping {
                document: index + 1,
                kind: kind(document),
            });
        };
        if entries.iter().any(|(k, _)| k == "sops") {
            return Err(SopsError::ReservedSopsKey { document: index + 1 });
        }
        walk.placed = if options.rule == Rule::EncryptAll {
            comments.place(index, document)
        } else {
            Placed::default()
        };
        out_docs.push(walk.map(entries)?);
    }
    let digest = walk.hasher.finalize();
    let mac_hex = Zeroizing::new(digest.iter().fold(String::with_capacity(128), |mut s, b| {
        use std::fmt::Write as _;
        let _ = write!(s, "{b:02X}");
        s
    }));
    let lastmodified = options.last_modified.as_str();
    let mac_iv = source.iv(lastmodified, "str", mac_hex.as_bytes())?;
    let mac = cipher::encrypt(mac_hex.as_bytes(), "str", &data_key, lastmodified, &mac_iv).map_err(|_| {
        SopsError::MacUndecryptable {
            reason: "the mac cannot be encrypted".to_owned(),
        }
    })?;

    let metadata = metadata(&recipients, &kms_keys, &source, &data_key, options, mac)?;
    for doc in &mut out_docs {
        doc.push(("sops".to_owned(), Node::Map(metadata.clone())));
    }
    Ok(emit::documents(&out_docs))
}

/// The `sops:` block, in sops 3.11's key order (its `stores.Metadata` fields; empty key lists
/// are left out).
fn metadata(
    recipients: &[&age::x25519::Recipient],
    kms_keys: &[&KmsKey],
    source: &Source<'_>,
    data_key: &SecretBox<[u8; 32]>,
    options: &EncryptOptions,
    mac: String,
) -> Result<Vec<(String, Node)>, SopsError> {
    let lastmodified = options.last_modified.as_str();
    let mut metadata = Vec::new();
    if !kms_keys.is_empty() {
        let mut entries = Vec::with_capacity(kms_keys.len());
        for key in kms_keys.iter().copied() {
            let (created_at, enc) = source.kms_stanza(
                key,
                data_key.expose_secret(),
                &options.kms,
                &options.last_modified,
            )?;
            entries.push(Node::Map(kms_entry(key, created_at, enc)));
        }
        metadata.push(("kms".to_owned(), Node::Seq(entries)));
    }
    let mut age_entries = Vec::with_capacity(recipients.len());
    for recipient in recipients.iter().copied() {
        let enc = source.stanza(recipient, data_key.expose_secret())?;
        age_entries.push(Node::Map(vec![
            ("recipient".to_owned(), Node::Str(recipient.to_string())),
            ("enc".to_owned(), Node::Literal(enc)),
        ]));
    }
    if !age_entries.is_empty() {
        metadata.push(("age".to_owned(), Node::Seq(age_entries)));
    }
    metadata.extend([
        ("lastmodified".to_owned(), Node::Quoted(lastmodified.to_owned())),
        ("mac".to_owned(), Node::Raw(mac)),
    ]);
    metadata.push(match &options.rule {
        Rule::EncryptAll => (
            "unencrypted_suffix".to_owned(),
            Node::Str(DEFAULT_UNENCRYPTED_SUFFIX.to_owned()),
        ),
        Rule::EncryptedRegex(pattern) => ("encrypted_regex".to_owned(), Node::Str(pattern.clone())),
    });
    if options.mac_only_encrypted {
        metadata.push(("mac_only_encrypted".to_owned(), Node::Raw("true".to_owned())));
    }
    metadata.push(("version".to_owned(), Node::Raw(SOPS_VERSION.to_owned())));
    Ok(metadata)
}

/// One `kms:` entry in sops's `kmskey` field order: `arn`, `role` and `context` when set,
/// `created_at`, `enc`, and `aws_profile` always.
fn kms_entry(key: &KmsKey, created_at: String, enc: String) -> Vec<(String, Node)> {
    let mut entry = vec![("arn".to_owned(), Node::Str(key.arn().to_owned()))];
    if !key.role().is_empty() {
        entry.push(("role".to_owned(), Node::Str(key.role().to_owned())));
    }
    if !key.context().is_empty() {
        let context = key
            .context()
            .iter()
            .map(|(k, v)| {
                let value = v
                    .as_ref()
                    .map_or_else(|| Node::Raw("null".to_owned()), |v| Node::Str(v.clone()));
                (k.clone(), value)
            })
            .collect();
        entry.push(("context".to_owned(), Node::Map(context)));
    }
    entry.extend([
        ("created_at".to_owned(), Node::Quoted(created_at)),
        ("enc".to_owned(), Node::Str(enc)),
        ("aws_profile".to_owned(), Node::Str(key.aws_profile().to_owned())),
    ]);
    entry
}

fn kind(value: &Value) -> &'static str {
    match value {
        Value::Null => "a null",
        Value::Bool(_) => "a bool",
        Value::Int(_) => "an int",
        Value::Float(_) => "a float",
        Value::Str(_) => "a string",
        Value::Time(_) => "a timestamp",
        Value::Seq(_) => "a sequence",
        Value::Map(_) => "a mapping",
    }
}

struct Walk<'a> {
    key: &'a SecretBox<[u8; 32]>,
    source: &'a Source<'a>,
    regex: Option<&'a Regex>,
    mac_only_encrypted: bool,
    hasher: Sha512,
    /// Map keys from the root: the additional data and what the rule looks at.
    keys: Vec<String>,
    display: Vec<Segment>,
    /// The current document's comments, and the path of the current mapping or list in it.
    placed: Placed,
    path: Vec<Seg>,
}

impl Walk<'_> {
    fn map(&mut self, entries: &[(String, Value)]) -> Result<Vec<(String, Node)>, SopsError> {
        let mut out = Vec::with_capacity(entries.len());
        for (key, value) in entries {
            let seg = Seg::Key(key.clone());
            for text in self.comments(Some(&seg)) {
                out.push((String::new(), Node::Comment(self.comment(&text)?)));
            }
            self.keys.push(key.clone());
            self.display.push(Segment::Key(key.clone()));
            self.path.push(seg);
            let node = if self.regex.is_none() && key.ends_with(DEFAULT_UNENCRYPTED_SUFFIX) {
                Err(SopsError::PlainUnderDefaultRule {
                    path: render_path(&self.display),
                })
            } else {
                self.node(value)
            };
            self.keys.pop();
            self.display.pop();
            self.path.pop();
            out.push((key.clone(), node?));
        }
        for text in self.comments(None) {
            out.push((String::new(), Node::Comment(self.comment(&text)?)));
        }
        Ok(out)
    }

    /// The comments of the current mapping or list before `seg`, or at its end.
    fn comments(&self, seg: Option<&Seg>) -> Vec<Text> {
        self.placed.at(&self.path).map_or_else(Vec::new, |place| {
            match seg {
                Some(seg) => place.before(seg),
                None => place.end(),
            }
            .to_vec()
        })
    }

    /// A comment of the current mapping or list, encrypted (the text after its `#`).
    fn comment(&self, text: &Text) -> Result<String, SopsError> {
        let plain = match text {
            Text::Opaque(kept) => return Ok(kept.clone()),
            Text::Secret(plain) => plain.expose_secret().as_bytes(),
        };
        // sops writes an empty comment as it is (`#`).
        if plain.is_empty() {
            return Ok(String::new());
        }
        let aad = format!("{}:", self.keys.join(":"));
        let iv = self.source.iv(&aad, "comment", plain)?;
        cipher::encrypt(plain, "comment", self.key, &aad, &iv).map_err(|e| SopsError::EncryptValue {
            path: render_path(&self.display),
            reason: e.to_string(),
        })
    }

    /// sops `shouldBeEncrypted` for the current path.
    fn encrypted_here(&self) -> bool {
        self.regex
            .is_none_or(|re| self.keys.iter().any(|k| re.is_match(k)))
    }

    fn node(&mut self, value: &Value) -> Result<Node, SopsError> {
        let ty = match value {
            Value::Map(entries) => return self.map(entries).map(Node::Map),
            Value::Seq(items) => {
                let mut out = Vec::with_capacity(items.len());
                for (index, item) in items.iter().enumerate() {
                    let seg = Seg::Index(index);
                    // A list's comments are items, as sops writes them.
                    for text in self.comments(Some(&seg)) {
                        out.push(Node::Raw(self.comment(&text)?));
                    }
                    self.display.push(Segment::Index(index));
                    self.path.push(seg);
                    let node = self.node(item);
                    self.display.pop();
                    self.path.pop();
                    out.push(node?);
                }
                for text in self.comments(None) {
                    out.push(Node::Raw(self.comment(&text)?));
                }
                return Ok(Node::Seq(out));
            }
            // sops neither encrypts nor hashes nulls.
            Value::Null => return Ok(Node::Raw("null".to_owned())),
            Value::Str(_) => "str",
            Value::Int(_) => "int",
            Value::Float(_) => "float",
            Value::Bool(_) => "bool",
            Value::Time(_) => "time",
        };
        let normalized;
        let value = if let Value::Time(t) = value {
            let t = GoTime::parse_rfc3339(t)
                .and_then(GoTime::to_rfc3339_nano)
                .ok_or_else(|| SopsError::InvalidTimeValue {
                    path: render_path(&self.display),
                })?;
            normalized = Value::Time(t);
            &normalized
        } else {
            value
        };
        let bytes = cipher::mac_bytes(value).unwrap_or_default();
        let encrypted = self.encrypted_here();
        if encrypted || !self.mac_only_encrypted {
            self.hasher.update(bytes.as_slice());
        }
        if encrypted && !bytes.is_empty() {
            let aad = format!("{}:", self.keys.join(":"));
            let iv = self.source.iv(&aad, ty, &bytes)?;
            let text =
                cipher::encrypt(&bytes, ty, self.key, &aad, &iv).map_err(|e| SopsError::EncryptValue {
                    path: render_path(&self.display),
                    reason: e.to_string(),
                })?;
            return Ok(Node::Raw(text));
        }
        Ok(match value {
            Value::Str(s) => Node::Str(s.expose_secret().to_owned()),
            Value::Int(i) => Node::Raw(i.to_string()),
            Value::Float(f) => Node::Raw(emit::float(*f)),
            Value::Bool(b) => Node::Raw(b.to_string()),
            Value::Time(t) => Node::Raw(t.clone()),
            Value::Null | Value::Seq(_) | Value::Map(_) => Node::Raw("null".to_owned()),
        })
    }
}

#[cfg(test)]
mod tests {
    use std::str::FromStr as _;

    use proptest::prelude::*;
    use secrecy::SecretString;

    use super::super::{Identities, decrypt};
    use super::*;

    const SECRET: &str = "AGE-SECRET-KEY-13KT8YDE5VPTHFA0FJCQQH598E47SN35AK3MYPAQM0TJ9W8ZUZFLQCWARNX";

    fn identity() -> age::x25519::Identity {
        age::x25519::Identity::from_str(SECRET).unwrap()
    }

    fn ids() -> Identities {
        Identities::from_identities(vec![identity()])
    }

    fn s(text: &str) -> Value {
        Value::Str(SecretString::from(text))
    }

    fn map(entries: Vec<(&str, Value)>) -> Value {
        Value::Map(entries.into_iter().map(|(k, v)| (k.to_owned(), v)).collect())
    }

    fn options(rule: Rule) -> EncryptOptions {
        EncryptOptions {
            recipients: vec![identity().to_public()],
            kms: KmsRecipients::default(),
            rule,
            mac_only_encrypted: false,
            last_modified: LastModified::from_unix(1_796_038_236).unwrap(),
        }
    }

    fn seed(byte: u8) -> Seed {
        Seed::new(SecretBox::new(Box::new([byte; 32])))
    }

    fn catalog() -> Value {
        map(vec![
            (
                "registries",
                Value::Seq(vec![
                    map(vec![
                        ("name", s("ghcr.io")),
                        ("password", s("s3cr3t")),
                        ("port", Value::Int(443)),
                        ("ratio", Value::Float(1.5)),
                        ("insecure", Value::Bool(false)),
                        ("empty", s("")),
                        ("nothing", Value::Null),
                    ]),
                    map(vec![("name", s("docker.io"))]),
                ]),
            ),
            (
                "nested",
                map(vec![
                    ("a", map(vec![("b", s("deep"))])),
                    ("list", Value::Seq(vec![Value::Seq(vec![s("x"), s("y")])])),
                ]),
            ),
            ("when", Value::Time("2024-01-01T10:00:00.50+02:00".to_owned())),
            ("empty_map", Value::Map(Vec::new())),
            ("empty_list", Value::Seq(Vec::new())),
        ])
    }

    #[test]
    fn pullseal_decrypts_what_it_encrypts() {
        let text = encrypt(&[catalog()], &options(Rule::EncryptAll), Randomness::Fresh).unwrap();
        let d = decrypt(&text, &ids()).unwrap();
        let Value::Map(got) = &d.documents()[0] else {
            panic!()
        };
        // The timestamp comes back as sops prints it.
        let mut want = catalog();
        if let Value::Map(entries) = &mut want {
            entries[2].1 = Value::Time("2024-01-01T10:00:00.5+02:00".to_owned());
        }
        assert!(Value::Map(got.clone()).same(&want), "{got:?}");
        assert!(!text.contains("s3cr3t") && !text.contains("deep"));
        assert!(
            text.contains("      empty: \"\"\n      nothing: null\n"),
            "{text}"
        );
    }

    #[test]
    fn the_layout_and_metadata_are_sops_3_11s() {
        let doc = map(vec![("a", s("x")), ("b", s(""))]);
        let text = encrypt(&[doc], &options(Rule::EncryptAll), Randomness::Derived(&seed(1))).unwrap();
        // Redact the base64 fields, keep the structure.
        let shape: String = text
            .lines()
            .map(|l| {
                let l = regex::Regex::new(r"(data|iv|tag):[^,\]]+")
                    .unwrap()
                    .replace_all(l, "$1:…");
                if l.starts_with("            ") && !l.contains("-----") {
                    "            …".to_owned()
                } else {
                    l.into_owned()
                }
            })
            .collect::<Vec<_>>()
            .join("\n");
        insta::assert_snapshot!(shape, @r#"
        a: ENC[AES256_GCM,data:…,iv:…,tag:…,type:str]
        b: ""
        sops:
            age:
                - recipient: age1mv68x5m0x6z0n5chrzru8x2039a4xx92nea0f4047tk7k2lcu3es5d42h5
                  enc: |
                    -----BEGIN AGE ENCRYPTED FILE-----
                    …
                    …
                    …
                    …
                    …
                    -----END AGE ENCRYPTED FILE-----
            lastmodified: "2026-11-30T11:30:36Z"
            mac: ENC[AES256_GCM,data:…,iv:…,tag:…,type:str]
            unencrypted_suffix: _unencrypted
            version: 3.11.0
        "#);
    }

    #[test]
    fn derived_randomness_is_byte_identical_and_seed_dependent() {
        let docs = [catalog(), map(vec![("second", s("doc"))])];
        let a = encrypt(&docs, &options(Rule::EncryptAll), Randomness::Derived(&seed(1))).unwrap();
        let b = encrypt(&docs, &options(Rule::EncryptAll), Randomness::Derived(&seed(1))).unwrap();
        let c = encrypt(&docs, &options(Rule::EncryptAll), Randomness::Derived(&seed(2))).unwrap();
        assert_eq!(a, b);
        assert_ne!(a, c);
        assert_eq!(a.matches("\nsops:\n").count(), 2);
        assert_eq!(decrypt(&a, &ids()).unwrap().documents().len(), 2);
        let fresh = encrypt(&docs, &options(Rule::EncryptAll), Randomness::Fresh).unwrap();
        assert_ne!(
            fresh,
            encrypt(&docs, &options(Rule::EncryptAll), Randomness::Fresh).unwrap()
        );
    }

    /// A derived IV depends on the plaintext: a changed value never reuses an IV.
    #[test]
    fn derived_ivs_change_with_the_value_and_the_path() {
        let iv_of = |doc: Value| {
            let text = encrypt(&[doc], &options(Rule::EncryptAll), Randomness::Derived(&seed(1))).unwrap();
            text.lines()
                .next()
                .unwrap()
                .split("iv:")
                .nth(1)
                .unwrap()
                .split(',')
                .next()
                .unwrap()
                .to_owned()
        };
        let a = iv_of(map(vec![("a", s("x"))]));
        assert_eq!(a, iv_of(map(vec![("a", s("x"))])));
        assert_ne!(a, iv_of(map(vec![("a", s("y"))])));
        assert_ne!(a, iv_of(map(vec![("b", s("x"))])));
    }

    #[test]
    fn edits_keep_the_ciphertext_of_unchanged_values() {
        let before = encrypt(&[catalog()], &options(Rule::EncryptAll), Randomness::Fresh).unwrap();
        let previous = decrypt(&before, &ids()).unwrap();
        assert!(previous.stash.len() > 5);
        let mut edited = previous.documents()[0].clone();
        if let Value::Map(entries) = &mut edited
            && let Value::Seq(items) = &mut entries[0].1
            && let Value::Map(fields) = &mut items[0]
        {
            fields[1].1 = s("n3w");
        }
        let mut opts = options(Rule::EncryptAll);
        opts.last_modified = LastModified::from_unix(1_796_038_300).unwrap();
        let after = encrypt(&[edited], &opts, Randomness::Edit(&previous)).unwrap();
        let changed: Vec<(&str, &str)> = before
            .lines()
            .zip(after.lines())
            .filter(|(a, b)| a != b)
            .collect();
        let changed_keys: Vec<&str> = changed
            .iter()
            .map(|(_, b)| b.trim_start().split(':').next().unwrap())
            .collect();
        assert_eq!(changed_keys, ["password", "lastmodified", "mac"], "{changed:?}");
        assert_eq!(before.lines().count(), after.lines().count());
        let again = decrypt(&after, &ids()).unwrap();
        assert_eq!(
            again.data_key().expose_secret(),
            previous.data_key().expose_secret()
        );
        // Nothing changed at all: the same bytes.
        let same_file = encrypt(
            previous.documents(),
            &options(Rule::EncryptAll),
            Randomness::Edit(&previous),
        )
        .unwrap();
        assert_eq!(same_file, before);
    }

    #[test]
    fn flux_rule_encrypts_data_and_string_data_only() {
        let secret = map(vec![
            ("apiVersion", s("v1")),
            ("kind", s("Secret")),
            (
                "metadata",
                map(vec![("name", s("regcred")), ("namespace", s("flux-system"))]),
            ),
            ("type", s("kubernetes.io/dockerconfigjson")),
            (
                "stringData",
                map(vec![(".dockerconfigjson", s(r#"{"auths":{}}"#))]),
            ),
            ("data", map(vec![("x", s("eA=="))])),
        ]);
        let text = encrypt(&[secret], &options(Rule::flux()), Randomness::Derived(&seed(3))).unwrap();
        let head: Vec<&str> = text.lines().take(6).collect();
        assert_eq!(
            head,
            [
                "apiVersion: v1",
                "kind: Secret",
                "metadata:",
                "    name: regcred",
                "    namespace: flux-system",
                "type: kubernetes.io/dockerconfigjson"
            ]
        );
        assert!(
            text.contains("\n    .dockerconfigjson: ENC[AES256_GCM,")
                && text.contains("\n    x: ENC[AES256_GCM,"),
            "{text}"
        );
        assert!(text.contains("    encrypted_regex: ^(data|stringData)$\n    version: 3.11.0\n"));
        // pullseal's reader refuses partially encrypted files, as designed.
        assert!(matches!(
            decrypt(&text, &ids()),
            Err(SopsError::NotFullyEncrypted { .. })
        ));
    }

    #[test]
    fn refusals_have_pinned_messages() {
        let err = |doc: Value, opts: &EncryptOptions| {
            encrypt(&[doc], opts, Randomness::Fresh).unwrap_err().to_string()
        };
        let all = options(Rule::EncryptAll);
        insta::assert_snapshot!(err(map(vec![("note_unencrypted", s("x"))]), &all), @"cannot encrypt `note_unencrypted`: its key ends in `_unencrypted`, so sops' default rule would leave every value under it plain");
        insta::assert_snapshot!(err(map(vec![("sops", s("x"))]), &all), @"cannot encrypt document 1: its top-level key `sops` is reserved for the sops metadata");
        insta::assert_snapshot!(err(Value::Seq(Vec::new()), &all), @"cannot encrypt document 1: it is a sequence, but sops files hold mappings");
        insta::assert_snapshot!(err(map(vec![("l", Value::Seq(vec![map(vec![("t", Value::Time("yesterday".to_owned()))])]))]), &all), @"cannot encrypt `l[0].t`: the timestamp is not in RFC 3339 form");
        insta::assert_snapshot!(err(map(vec![]), &options(Rule::EncryptedRegex("(".to_owned()))), @r#"cannot encrypt: the encrypted_regex "(" is not a valid regular expression"#);
        let mut none = options(Rule::EncryptAll);
        none.recipients.clear();
        insta::assert_snapshot!(err(map(vec![]), &none), @"cannot encrypt: no age recipients or AWS KMS keys were given");
        insta::assert_snapshot!(LastModified::from_unix(i64::MAX).unwrap_err(), @"invalid lastmodified: 9223372036854775807 seconds since the epoch is not a year between 0 and 9999");
        // Under encrypted_regex the suffix means nothing.
        assert!(
            encrypt(
                &[map(vec![("note_unencrypted", s("x"))])],
                &options(Rule::flux()),
                Randomness::Fresh
            )
            .is_ok()
        );
    }

    /// A KMS entry is read as sops writes it (context with a null, weakly typed value, an
    /// offset `created_at`) and written back in sops's field order, before `age`; an edit keeps
    /// its `enc` and `created_at` without calling KMS (no AWS access is given here, so a call
    /// would fail); a new key with no access is an error naming it.
    #[test]
    fn kms_entries_are_kept_by_an_edit_in_sops_layout() {
        let age_only = encrypt(&[catalog()], &options(Rule::EncryptAll), Randomness::Fresh).unwrap();
        // The metadata is outside the MAC, so an entry can be put in as sops would write it.
        let entry = "    kms:\n        - arn: arn:aws:kms:eu-west-1:123456789012:key/k1\n          role: arn:aws:iam::123456789012:role/r\n          context:\n            zeta: 1\n            alpha: two\n            gone: null\n          created_at: \"2026-01-02T03:04:05+01:00\"\n          enc: QUFBQQ==\n          aws_profile: \"\"\n";
        let with_kms = age_only.replacen("sops:\n", &format!("sops:\n{entry}"), 1);
        let previous = decrypt(&with_kms, &ids()).unwrap();
        let key = previous.kms_stanzas[0].key.clone();
        assert_eq!(
            key.label(),
            "arn:aws:kms:eu-west-1:123456789012:key/k1+arn:aws:iam::123456789012:role/r|alpha:two,zeta:1"
        );
        let mut opts = options(Rule::EncryptAll);
        opts.kms.keys = vec![key.clone(), key];
        let edited = encrypt(&[catalog()], &opts, Randomness::Edit(&previous)).unwrap();
        let block: String = edited
            .split("sops:\n")
            .nth(1)
            .unwrap()
            .lines()
            .take_while(|l| !l.starts_with("    lastmodified"))
            .filter(|l| !l.starts_with("            ") || l.contains(':'))
            .flat_map(|l| [l, "\n"])
            .collect();
        insta::assert_snapshot!(block.split("          enc: |").next().unwrap(), @r#"
            kms:
                - arn: arn:aws:kms:eu-west-1:123456789012:key/k1
                  role: arn:aws:iam::123456789012:role/r
                  context:
                    alpha: two
                    gone: null
                    zeta: "1"
                  created_at: "2026-01-02T03:04:05+01:00"
                  enc: QUFBQQ==
                  aws_profile: ""
            age:
                - recipient: age1mv68x5m0x6z0n5chrzru8x2039a4xx92nea0f4047tk7k2lcu3es5d42h5
        "#);
        assert_eq!(
            decrypt(&edited, &ids()).unwrap().kms_stanzas,
            previous.kms_stanzas
        );

        let mut new = options(Rule::EncryptAll);
        new.kms.keys = vec![KmsKey::parse("arn:aws:kms:eu-west-1:123456789012:key/new").unwrap()];
        let err = encrypt(&[catalog()], &new, Randomness::Edit(&previous)).unwrap_err();
        assert!(
            err.to_string().starts_with(
                "cannot encrypt the data key with AWS KMS key arn:aws:kms:eu-west-1:123456789012:key/new: "
            ),
            "{err}"
        );
        // Without age recipients the KMS keys alone are enough, and `age` is left out.
        let mut kms_only = options(Rule::EncryptAll);
        kms_only.recipients.clear();
        kms_only.kms.keys = previous.kms_stanzas.iter().map(|s| s.key.clone()).collect();
        let text = encrypt(&[catalog()], &kms_only, Randomness::Edit(&previous)).unwrap();
        assert!(
            text.contains("\n    kms:\n") && !text.contains("\n    age:"),
            "{text}"
        );
    }

    #[test]
    fn debug_shows_no_secret() {
        let seed = seed(9);
        assert_eq!(format!("{seed:?}"), "Seed(..)");
        assert_eq!(format!("{:?}", Randomness::Derived(&seed)), "Derived(Seed(..))");
        let d = decrypt(
            &encrypt(&[catalog()], &options(Rule::EncryptAll), Randomness::Fresh).unwrap(),
            &ids(),
        )
        .unwrap();
        let shown = format!("{:?}", Randomness::Edit(&d));
        assert!(
            !shown.contains("s3cr3t") && shown.contains("IvStash { entries:"),
            "{shown}"
        );
    }

    fn leaf() -> impl Strategy<Value = Value> {
        prop_oneof![
            Just(Value::Null),
            any::<bool>().prop_map(Value::Bool),
            any::<i64>().prop_map(Value::Int),
            any::<f64>().prop_map(Value::Float),
            any::<String>().prop_map(|t| Value::Str(SecretString::from(t))),
            (0i64..253_402_300_799, 0u32..1_000_000_000).prop_map(|(secs, nanos)| {
                let t = time::OffsetDateTime::from_unix_timestamp(secs)
                    .unwrap()
                    .replace_nanosecond(nanos)
                    .unwrap();
                Value::Time(
                    GoTime::parse_rfc3339(&t.format(&time::format_description::well_known::Rfc3339).unwrap())
                        .unwrap()
                        .to_rfc3339_nano()
                        .unwrap(),
                )
            }),
        ]
    }

    pub(crate) fn tree() -> impl Strategy<Value = Value> {
        let key = "[a-zA-Z0-9 ._:#-]{0,8}|\\PC{0,6}";
        leaf().prop_recursive(4, 32, 6, move |inner| {
            prop_oneof![
                proptest::collection::vec(inner.clone(), 0..4).prop_map(Value::Seq),
                proptest::collection::btree_map(key, inner, 0..5).prop_map(|m| Value::Map(
                    m.into_iter()
                        .filter(|(k, _)| !k.ends_with("_unencrypted"))
                        .collect()
                )),
            ]
        })
    }

    fn document() -> impl Strategy<Value = Value> {
        proptest::collection::btree_map("[a-z]{1,6}", tree(), 0..5)
            .prop_map(|m| Value::Map(m.into_iter().filter(|(k, _)| k != "sops").collect()))
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(64))]

        #[test]
        fn encrypt_then_decrypt_gives_the_tree_back(docs in proptest::collection::vec(document(), 1..3), byte in any::<u8>()) {
            let text = encrypt(&docs, &options(Rule::EncryptAll), Randomness::Derived(&seed(byte))).unwrap();
            let d = decrypt(&text, &ids()).unwrap();
            prop_assert_eq!(d.documents().len(), docs.len());
            for (got, want) in d.documents().iter().zip(&docs) {
                prop_assert!(got.same(want), "{:?} != {:?}", got, want);
            }
        }
    }
}
