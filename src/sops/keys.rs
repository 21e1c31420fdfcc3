//! age identities, found where sops looks for them, AWS KMS access, and the data key they
//! unlock.
//!
//! Identities: `--age-key-file`, `SOPS_AGE_KEY`, `SOPS_AGE_KEY_FILE` and
//! `$XDG_CONFIG_HOME/sops/age/keys.txt` (else `$HOME/.config/sops/age/keys.txt`), all of them,
//! in that order, as sops `age/keysource.go` `loadIdentities` gathers them. KMS access (the
//! environment's AWS keys and endpoints) is given by the front-end ([`Identities::with_kms`]).
//! Data key: each key group yields a share from the first master key that opens it, tried in
//! sops's default decryption order: the `age` stanzas (armored age files) first, then the
//! `kms` entries in file order, each a `kms:Decrypt` call (`sops.go`
//! `GetDataKeyWithKeyServices`, `DefaultDecryptionOrder`). One group's share *is* the 32-byte
//! key, several groups are combined with Shamir.
//!
//! It must never print or log identity lines, AWS keys or key bytes: errors name sources, line
//! numbers, public recipients, KMS ARNs and AWS's reasons only. It does not talk to PGP, Vault,
//! GCP or Azure KMS or plugins; files that need them get an error naming those key types.
//! Spec: `shared/reference/formats-and-peers.md` §1.4.

use std::fmt::Write as _;
use std::io::Read as _;
use std::path::{Path, PathBuf};
use std::str::FromStr as _;

use secrecy::SecretBox;
use zeroize::Zeroizing;

use super::SopsError;
use super::format::{AgeStanza, KeyGroup, Metadata};
use super::kms::{self, KmsAccess};
use super::shamir;
use crate::error::shown;

/// The age identities that may open a sops data key, and where they were looked for.
// `Identities::identities` is the plain name for what they are.
#[allow(clippy::struct_field_names)]
pub struct Identities {
    identities: Vec<Box<dyn age::Identity + Send + Sync>>,
    /// Every place looked at, in order, for error messages (`SOPS_AGE_KEY`, a path, …).
    searched: Vec<String>,
    /// Each identity's source and public recipient (`age1…`), in order: what `pullseal doctor`
    /// shows instead of a key.
    recipients: Vec<(String, String)>,
    /// What `kms:Decrypt` (and the encrypt path's `kms:Encrypt`) may use.
    kms: KmsAccess,
}

impl std::fmt::Debug for Identities {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Identities")
            .field("count", &self.identities.len())
            .field("searched", &self.searched)
            .field("recipients", &self.recipients)
            .field("kms", &self.kms)
            .finish()
    }
}

impl Identities {
    /// Loads age identities the way sops finds them.
    ///
    /// `explicit_file` (from `--age-key-file`) first, then `SOPS_AGE_KEY` (content, one or more
    /// keys per line, `#` comments), `SOPS_AGE_KEY_FILE`, then
    /// `$XDG_CONFIG_HOME/sops/age/keys.txt` (default `$HOME/.config/sops/age/keys.txt`).
    /// Identities from every source are kept. `env` reads environment variables
    /// (`|name| std::env::var(name).ok()` in production). A missing default file is not an
    /// error; a named file that cannot be read, or a malformed identity line, is.
    pub fn discover(
        explicit_file: Option<&Path>,
        env: &dyn Fn(&str) -> Option<String>,
    ) -> Result<Identities, SopsError> {
        let mut ids = Identities {
            identities: Vec::new(),
            searched: Vec::new(),
            recipients: Vec::new(),
            kms: KmsAccess::default(),
        };
        if let Some(path) = explicit_file {
            let text = read_key_file(path, "--age-key-file")?;
            ids.add(&text, &path.display().to_string())?;
        }
        // `add` records the source it reads; an unset variable is recorded as looked at.
        match env("SOPS_AGE_KEY").map(Zeroizing::new) {
            Some(text) => ids.add(&text, "SOPS_AGE_KEY")?,
            None => ids.searched.push("SOPS_AGE_KEY".to_owned()),
        }
        ids.searched.push("SOPS_AGE_KEY_FILE".to_owned());
        if let Some(path) = env("SOPS_AGE_KEY_FILE").filter(|p| !p.is_empty()) {
            let path = PathBuf::from(path);
            let text = read_key_file(&path, "SOPS_AGE_KEY_FILE")?;
            ids.add(&text, &path.display().to_string())?;
        }
        let config_dir = env("XDG_CONFIG_HOME")
            .filter(|d| !d.is_empty())
            .map(PathBuf::from)
            .or_else(|| {
                env("HOME")
                    .filter(|h| !h.is_empty())
                    .map(|h| Path::new(&h).join(".config"))
            });
        if let Some(dir) = config_dir {
            let path = dir.join("sops").join("age").join("keys.txt");
            match read_bounded(&path) {
                Ok(text) => ids.add(&text, &path.display().to_string())?,
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                    ids.searched.push(path.display().to_string());
                }
                Err(error) => {
                    return Err(SopsError::ReadKeyFile {
                        source_name: "the default location",
                        error,
                    });
                }
            }
        }
        Ok(ids)
    }

    /// The same identities, with `access` for the files' AWS KMS keys (none by default: a
    /// KMS key then fails with "no AWS credentials").
    #[must_use]
    pub fn with_kms(mut self, access: KmsAccess) -> Identities {
        self.kms = access;
        self
    }

    /// What the AWS KMS calls may use.
    pub fn kms(&self) -> &KmsAccess {
        &self.kms
    }

    /// Whether no identity was found at all.
    pub fn is_empty(&self) -> bool {
        self.identities.is_empty()
    }

    /// Each identity's source (a path or `SOPS_AGE_KEY`) and its public recipient (`age1…`),
    /// in the order they are tried. The recipient is derived from the identity; the identity
    /// itself is never handed out.
    pub fn recipients(&self) -> impl Iterator<Item = (&str, &str)> {
        self.recipients.iter().map(|(s, r)| (s.as_str(), r.as_str()))
    }

    /// Every place identities were looked for, in order.
    pub fn searched(&self) -> &[String] {
        &self.searched
    }

    /// Parses identity lines (sops `parseIdentities`): blank lines and `#` comments are skipped,
    /// other lines may hold several whitespace-separated identities.
    fn add(&mut self, text: &str, source: &str) -> Result<(), SopsError> {
        self.searched.push(source.to_owned());
        for (index, line) in text.lines().enumerate() {
            let line = line.trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            for word in line.split_whitespace() {
                let problem = if word.starts_with("AGE-PLUGIN-") {
                    "age plugin identities are not supported natively"
                } else if word.starts_with("AGE-SECRET-KEY-PQ-1") {
                    "post-quantum age identities are not supported natively"
                } else if word.starts_with("AGE-SECRET-KEY-1") {
                    match age::x25519::Identity::from_str(word) {
                        Ok(identity) => {
                            self.recipients
                                .push((source.to_owned(), identity.to_public().to_string()));
                            self.identities.push(Box::new(identity));
                            continue;
                        }
                        Err(_) => "not a valid AGE-SECRET-KEY-1 identity",
                    }
                } else {
                    "unknown identity type (expected AGE-SECRET-KEY-1…)"
                };
                return Err(SopsError::InvalidIdentity {
                    source_name: source.to_owned(),
                    line: index + 1,
                    reason: problem,
                });
            }
        }
        Ok(())
    }

    #[cfg(test)]
    pub(crate) fn from_identities(identities: Vec<age::x25519::Identity>) -> Self {
        Identities {
            recipients: identities
                .iter()
                .map(|i| ("test".to_owned(), i.to_public().to_string()))
                .collect(),
            identities: identities
                .into_iter()
                .map(|i| Box::new(i) as Box<dyn age::Identity + Send + Sync>)
                .collect(),
            searched: vec!["test".to_owned()],
            kms: KmsAccess::default(),
        }
    }
}

fn read_key_file(path: &Path, source_name: &'static str) -> Result<Zeroizing<String>, SopsError> {
    read_bounded(path).map_err(|error| SopsError::ReadKeyFile { source_name, error })
}

/// An age key file holds a few lines; more than this is not one (a mistyped path to a disk
/// image, `/dev/zero`), and is refused instead of read into memory whole.
const MAX_KEY_FILE_BYTES: u64 = 1 << 20;

/// Reads the key file at `path`, at most [`MAX_KEY_FILE_BYTES`] of it.
fn read_bounded(path: &Path) -> std::io::Result<Zeroizing<String>> {
    use std::io::Read as _;
    let mut text = Zeroizing::new(String::new());
    fs_err::File::open(path)?
        .take(MAX_KEY_FILE_BYTES + 1)
        .read_to_string(&mut text)?;
    if u64::try_from(text.len()).map_or(true, |len| len > MAX_KEY_FILE_BYTES) {
        return Err(std::io::Error::new(
            std::io::ErrorKind::InvalidData,
            format!(
                "{} is larger than {} MiB, which no age key file is",
                path.display(),
                MAX_KEY_FILE_BYTES >> 20
            ),
        ));
    }
    Ok(text)
}

/// What happened to one stanza.
enum Attempt {
    Opened(Zeroizing<Vec<u8>>),
    NoMatch,
    Malformed(&'static str),
}

/// Opens one armored age stanza with every identity.
fn open_stanza(stanza: &AgeStanza, ids: &Identities) -> Attempt {
    let armored = age::armor::ArmoredReader::new(stanza.enc.as_bytes());
    let Ok(decryptor) = age::Decryptor::new_buffered(armored) else {
        return Attempt::Malformed("not an armored age file");
    };
    if decryptor.is_scrypt() {
        return Attempt::Malformed("passphrase-encrypted, not encrypted to a recipient");
    }
    let identities = ids.identities.iter().map(|i| i.as_ref() as &dyn age::Identity);
    match decryptor.decrypt(identities) {
        Ok(mut reader) => {
            let mut out = Zeroizing::new(Vec::with_capacity(64));
            match reader.read_to_end(&mut out) {
                Ok(_) => Attempt::Opened(out),
                Err(_) => Attempt::Malformed("the age payload is corrupt"),
            }
        }
        Err(age::DecryptError::NoMatchingKeys) => Attempt::NoMatch,
        Err(age::DecryptError::InvalidMac | age::DecryptError::InvalidHeader) => {
            Attempt::Malformed("the age header is invalid")
        }
        Err(_) => Attempt::Malformed("the age file cannot be decrypted"),
    }
}

/// Recovers the 32-byte data key (sops `GetDataKeyWithKeyServices` with the age key service).
pub(crate) fn data_key(meta: &Metadata, ids: &Identities) -> Result<SecretBox<[u8; 32]>, SopsError> {
    let mut shares = Vec::new();
    let mut failed: Vec<&KeyGroup> = Vec::new();
    let mut notes = Vec::new();
    for group in &meta.key_groups {
        let mut share = None;
        for stanza in &group.age {
            match open_stanza(stanza, ids) {
                Attempt::Opened(bytes) => {
                    share = Some(bytes);
                    break;
                }
                Attempt::NoMatch => {}
                Attempt::Malformed(reason) => notes.push(format!("{}: {reason}", shown(&stanza.recipient))),
            }
        }
        // Only when no age identity opened the group: each KMS key is a network call.
        if share.is_none() {
            for stanza in &group.kms {
                match kms::decrypt(stanza, &ids.kms) {
                    Ok(bytes) => {
                        share = Some(bytes);
                        break;
                    }
                    Err(e) => notes.push(format!("AWS KMS key {}: {e}", shown(&stanza.key.label()))),
                }
            }
        }
        match share {
            Some(s) => shares.push(s),
            None => failed.push(group),
        }
    }

    let key = if meta.key_groups.len() > 1 {
        if shares.len() < meta.shamir_threshold.max(2) {
            return Err(no_key_error(meta, &failed, ids, notes, shares.len()));
        }
        shamir::combine(&shares).map_err(|e| SopsError::BadDataKey {
            reason: e.to_string(),
        })?
    } else {
        shares
            .pop()
            .ok_or_else(|| no_key_error(meta, &failed, ids, notes, 0))?
    };
    if key.len() != 32 {
        return Err(SopsError::BadDataKey {
            reason: format!("it is {} bytes long, not 32", key.len()),
        });
    }
    // Fill the boxed array in place, so no stray copy of the key is left on the stack.
    Ok(SecretBox::init_with_mut(|out: &mut [u8; 32]| {
        for (dst, src) in out.iter_mut().zip(key.iter()) {
            *dst = *src;
        }
    }))
}

/// Builds the most useful "cannot get the data key" error.
fn no_key_error(
    meta: &Metadata,
    failed: &[&KeyGroup],
    ids: &Identities,
    notes: Vec<String>,
    have: usize,
) -> SopsError {
    // Recipients come from the file: shown escaped, as all text from the file is.
    let recipients: Vec<String> = failed
        .iter()
        .flat_map(|g| g.age.iter().map(|s| shown(&s.recipient)))
        .collect();
    let mut other: Vec<&str> = failed.iter().flat_map(|g| g.other.iter().copied()).collect();
    other.sort_unstable();
    other.dedup();
    let kms_keys = failed.iter().any(|g| !g.kms.is_empty());
    // Nothing age or KMS could have opened: say which key types the file needs instead.
    if recipients.is_empty() && !kms_keys && have == 0 && !other.is_empty() {
        return SopsError::UnsupportedMasterKeys {
            types: other.join(", "),
        };
    }
    let mut detail = String::new();
    if meta.key_groups.len() > 1 {
        let need = meta.shamir_threshold.max(2);
        let _ = write!(detail, "; {have} of {need} key-group shares recovered");
    }
    if kms_keys {
        // Each KMS key's reason first (the notes), then the age side, then the rest.
        let mut attempts = notes;
        if !recipients.is_empty() {
            attempts.push(format!(
                "no age identity for recipients {} (identities tried: {}; searched {})",
                recipients.join(", "),
                ids.identities.len(),
                ids.searched.join(", ")
            ));
        }
        return SopsError::NoMasterKey {
            attempts: format!(
                "{}{detail}{}",
                attempts.join("; "),
                if other.is_empty() {
                    String::new()
                } else {
                    format!("; {} keys are not used natively", other.join(", "))
                }
            ),
        };
    }
    if !other.is_empty() {
        let _ = write!(detail, "; {} keys are not used natively", other.join(", "));
    }
    for note in notes {
        detail.push_str("; ");
        detail.push_str(&note);
    }
    SopsError::NoIdentity {
        recipients: if recipients.is_empty() {
            "(none)".to_owned()
        } else {
            recipients.join(", ")
        },
        identities: ids.identities.len(),
        searched: ids.searched.join(", "),
        detail,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env_of(pairs: &'static [(&'static str, &'static str)]) -> impl Fn(&str) -> Option<String> {
        move |name| {
            pairs
                .iter()
                .find(|(k, _)| *k == name)
                .map(|(_, v)| (*v).to_owned())
        }
    }

    const KEY: &str = "AGE-SECRET-KEY-13KT8YDE5VPTHFA0FJCQQH598E47SN35AK3MYPAQM0TJ9W8ZUZFLQCWARNX";

    #[test]
    fn sources_are_combined_and_missing_default_is_fine() {
        let ids = Identities::discover(None, &env_of(&[("HOME", "/nonexistent-home")])).unwrap();
        assert!(ids.is_empty());
        assert_eq!(
            ids.searched.last().unwrap(),
            "/nonexistent-home/.config/sops/age/keys.txt"
        );

        let ids = Identities::discover(
            Some(Path::new("testdata/sops/age-identity-2.txt")),
            &env_of(&[(
                "SOPS_AGE_KEY",
                "# comment\n\nAGE-SECRET-KEY-13KT8YDE5VPTHFA0FJCQQH598E47SN35AK3MYPAQM0TJ9W8ZUZFLQCWARNX\n",
            )]),
        )
        .unwrap();
        assert_eq!(ids.identities.len(), 2);
        // Each place once, in order: a set SOPS_AGE_KEY is not listed twice.
        assert_eq!(
            ids.searched,
            [
                "testdata/sops/age-identity-2.txt",
                "SOPS_AGE_KEY",
                "SOPS_AGE_KEY_FILE"
            ]
        );
        let _ = KEY;
    }

    /// What `pullseal doctor` shows of an identity: its source and public recipient, the one
    /// the key file's own comment names, never the key.
    #[test]
    fn recipients_are_the_public_keys_of_the_identities() {
        let path = Path::new("testdata/keys/age-test.txt");
        let ids = Identities::discover(Some(path), &env_of(&[])).unwrap();
        let recipients: Vec<(&str, &str)> = ids.recipients().collect();
        insta::assert_debug_snapshot!(recipients, @r#"
        [
            (
                "testdata/keys/age-test.txt",
                "age1fmscnwl456dfq4d3lyg3cyqj40wh6m9l8w4rk56yac7sfawf8u8sythj48",
            ),
        ]
        "#);
        let text = fs_err::read_to_string(path).unwrap();
        assert!(
            text.contains("# public key: age1fmscnwl456dfq4d3lyg3cyqj40wh6m9l8w4rk56yac7sfawf8u8sythj48")
        );
        assert!(!format!("{ids:?}").contains("AGE-SECRET-KEY"));
    }

    #[test]
    fn default_file_follows_xdg_config_home() {
        let dir = tempfile::tempdir().unwrap();
        let keys = dir.path().join("sops").join("age");
        fs_err::create_dir_all(&keys).unwrap();
        fs_err::copy("testdata/sops/age-identity.txt", keys.join("keys.txt")).unwrap();
        let xdg = dir.path().to_str().unwrap().to_owned();
        let env = move |name: &str| (name == "XDG_CONFIG_HOME").then(|| xdg.clone());
        let ids = Identities::discover(None, &env).unwrap();
        assert_eq!(ids.identities.len(), 1);
        let home = dir.path().to_str().unwrap().replace("/tmp", "/nonexistent");
        let env = move |name: &str| (name == "HOME").then(|| home.clone());
        assert!(Identities::discover(None, &env).unwrap().is_empty());
    }

    #[test]
    fn named_files_must_be_readable() {
        let err = Identities::discover(Some(Path::new("testdata/sops/nope.txt")), &env_of(&[])).unwrap_err();
        insta::assert_snapshot!(err.to_string(), @"cannot read the age key file from --age-key-file: failed to open file `testdata/sops/nope.txt`: No such file or directory (os error 2)");
        let err = Identities::discover(None, &env_of(&[("SOPS_AGE_KEY_FILE", "testdata/sops/nope.txt")]))
            .unwrap_err();
        insta::assert_snapshot!(err.to_string(), @"cannot read the age key file from SOPS_AGE_KEY_FILE: failed to open file `testdata/sops/nope.txt`: No such file or directory (os error 2)");
    }

    #[test]
    fn bad_identity_lines_name_the_line_not_the_key() {
        let err = Identities::discover(
            None,
            &env_of(&[("SOPS_AGE_KEY", "# c\nAGE-SECRET-KEY-1NOTAKEY\n")]),
        )
        .unwrap_err();
        insta::assert_snapshot!(err.to_string(), @"invalid age identity in SOPS_AGE_KEY line 2: not a valid AGE-SECRET-KEY-1 identity");
        let err = Identities::discover(None, &env_of(&[("SOPS_AGE_KEY", "ssh-ed25519 AAAA")])).unwrap_err();
        insta::assert_snapshot!(err.to_string(), @"invalid age identity in SOPS_AGE_KEY line 1: unknown identity type (expected AGE-SECRET-KEY-1…)");
        assert!(!err.to_string().contains("AAAA"));
    }
}
