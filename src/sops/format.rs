//! The `sops:` metadata block: where it is, what its fields mean, and which leaves are encrypted.
//!
//! Mirrors sops `stores/stores.go` (`metadata`, `ToInternal`), `stores/metadata.go`
//! (`ExtractMetadata`: only the first document's `sops` counts, every document loses its
//! `sops` key). Fields may come in any order, lists may be empty or null, unknown fields are
//! ignored, and scalars are weakly typed as mapstructure does.
//!
//! Of sops' encryption rules (`shouldBeEncrypted`) only the default one is usable: it encrypts
//! every value whose path has no key ending in `_unencrypted`. Any other rule, and
//! `mac_only_encrypted`, is recorded as a [`Loosening`] so that the caller can refuse the file:
//! pullseal accepts only fully encrypted files (see [`super::tree::first_plain`]).
//!
//! It must not decrypt anything and must not accept what sops refuses: a missing or
//! non-semver `version`, an unparsable `lastmodified`, no master keys, or more than one
//! encryption rule. Spec: `shared/reference/formats-and-peers.md` §1.2, §1.5 and §1.7.

use std::collections::BTreeMap;

use regex::Regex;

use super::SopsError;
use super::cipher::go_format_float;
use super::kms::{KmsKey, KmsStanza};
use super::timestamp::GoTime;
use super::yaml::{Node, Plain};

/// sops' default when no rule is set (`sops.DefaultUnencryptedSuffix`).
pub(crate) const DEFAULT_UNENCRYPTED_SUFFIX: &str = "_unencrypted";

/// The master-key list fields besides `age` and `kms`, as sops names them.
const OTHER_KEY_TYPES: [&str; 5] = ["gcp_kms", "hckms", "azure_kv", "hc_vault", "pgp"];

/// A document's top-level entries.
pub(crate) type Branch = Vec<(String, Node)>;

/// The decoded `sops:` block.
pub(crate) struct Metadata {
    /// `lastmodified` re-formatted as `time.RFC3339`: the MAC's additional data.
    pub(crate) mac_aad: String,
    /// The encrypted MAC (`ENC[…,type:str]`), `""` if absent.
    pub(crate) mac: String,
    /// What in the metadata lets sops leave values plain or out of the MAC, if anything.
    pub(crate) loosening: Option<Loosening>,
    pub(crate) key_groups: Vec<KeyGroup>,
    /// Shares needed when there is more than one key group (0 = all obtained shares are used).
    pub(crate) shamir_threshold: usize,
}

/// One key group: its age and AWS KMS stanzas and the names of the other key types it lists.
#[derive(Debug, Default)]
pub(crate) struct KeyGroup {
    pub(crate) age: Vec<AgeStanza>,
    pub(crate) kms: Vec<KmsStanza>,
    pub(crate) other: Vec<&'static str>,
}

/// One `age:` entry: the recipient (public) and the armored age file holding the data key.
#[derive(Debug)]
pub(crate) struct AgeStanza {
    pub(crate) recipient: String,
    pub(crate) enc: String,
}

/// A metadata setting that makes sops leave some values plain, or keep them out of the MAC.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Loosening {
    /// The field, e.g. `encrypted_regex` or `mac_only_encrypted`.
    pub(crate) field: String,
    /// 1-based line of the field.
    pub(crate) line: usize,
}

/// Splits the documents into data and metadata, like sops `ExtractMetadata`.
///
/// Returns every document as a mapping without its `sops` key, and the first document's
/// `sops` value. A document that is empty counts as an empty mapping.
pub(crate) fn extract(documents: Vec<Node>) -> Result<(Vec<Branch>, Node), SopsError> {
    let mut metadata = None;
    let mut branches = Vec::with_capacity(documents.len());
    for (index, document) in documents.into_iter().enumerate() {
        let entries = match document.value {
            Plain::Map(entries) => entries,
            Plain::Null => Vec::new(),
            other => {
                return Err(SopsError::DocumentNotMapping {
                    document: index + 1,
                    line: document.pos.line,
                    kind: other.kind(),
                });
            }
        };
        let mut kept = Vec::with_capacity(entries.len());
        for (key, value) in entries {
            if key != "sops" {
                kept.push((key, value));
            } else if index == 0 {
                metadata = Some(value);
            }
        }
        branches.push(kept);
    }
    let metadata = metadata.ok_or(SopsError::NotEncrypted)?;
    Ok((branches, metadata))
}

impl Metadata {
    /// Decodes and validates the `sops:` value (sops `metadata.ToInternal` plus the version check).
    pub(crate) fn from_node(node: Node) -> Result<Self, SopsError> {
        let Plain::Map(fields) = node.value else {
            return Err(invalid("sops", node.pos.line, "is not a mapping"));
        };
        let mut m = Fields::default();
        for (key, value) in fields {
            let line = value.pos.line;
            match key.as_str() {
                "lastmodified" => m.last_modified = Some((string(&key, value)?, line)),
                "mac" => m.mac = string(&key, value)?,
                "version" => m.version = Some((string(&key, value)?, line)),
                "mac_only_encrypted" => {
                    if boolean(&key, value)? {
                        m.mac_only_encrypted = Some(line);
                    }
                }
                "shamir_threshold" => m.shamir_threshold = count(&key, value)?,
                "unencrypted_suffix"
                | "encrypted_suffix"
                | "unencrypted_regex"
                | "encrypted_regex"
                | "unencrypted_comment_regex"
                | "encrypted_comment_regex" => {
                    let s = string(&key, value)?;
                    if !s.is_empty() {
                        m.rules.push((key, s, line));
                    }
                }
                "key_groups" => {
                    for group in list(&key, value)? {
                        let Plain::Map(entries) = group.value else {
                            return Err(invalid(
                                "key_groups",
                                group.pos.line,
                                "has an entry that is not a mapping",
                            ));
                        };
                        let mut g = KeyGroup::default();
                        for (k, v) in entries {
                            add_keys(&mut g, &k, v)?;
                        }
                        m.key_groups.push(g);
                    }
                }
                _ => add_keys(&mut m.top_level, &key, value)?,
            }
        }
        m.finish(node.pos.line)
    }
}

#[derive(Default)]
struct Fields {
    last_modified: Option<(String, usize)>,
    mac: String,
    version: Option<(String, usize)>,
    mac_only_encrypted: Option<usize>,
    shamir_threshold: usize,
    rules: Vec<(String, String, usize)>,
    top_level: KeyGroup,
    key_groups: Vec<KeyGroup>,
}

impl Fields {
    fn finish(self, sops_line: usize) -> Result<Metadata, SopsError> {
        let (last_modified, lm_line) = self
            .last_modified
            .ok_or_else(|| invalid("lastmodified", sops_line, "is missing"))?;
        let mac_aad = GoTime::parse_rfc3339(&last_modified)
            .and_then(GoTime::to_rfc3339)
            .ok_or_else(|| invalid("lastmodified", lm_line, "is not an RFC 3339 timestamp"))?;

        // sops: top-level key lists win over `key_groups`.
        let top_level_used = !self.top_level.age.is_empty()
            || !self.top_level.kms.is_empty()
            || !self.top_level.other.is_empty();
        let key_groups = if top_level_used {
            vec![self.top_level]
        } else {
            self.key_groups
        };
        if key_groups.is_empty() {
            return Err(SopsError::NoMasterKeys { line: sops_line });
        }

        // The default rule, spelled out or not, encrypts everything but `_unencrypted` keys
        // (which the tree check refuses); any other rule may leave values plain.
        let rule = match self.rules.as_slice() {
            [] => None,
            [(field, value, _)] if field == "unencrypted_suffix" && value == DEFAULT_UNENCRYPTED_SUFFIX => {
                None
            }
            [(field, value, line)] => {
                if field.ends_with("_regex") {
                    regex(field, value, *line)?;
                }
                Some(Loosening {
                    field: field.clone(),
                    line: *line,
                })
            }
            more => {
                return Err(SopsError::ConflictingRules {
                    fields: more
                        .iter()
                        .map(|(f, _, _)| f.as_str())
                        .collect::<Vec<_>>()
                        .join(", "),
                });
            }
        };
        let loosening = rule.or_else(|| {
            self.mac_only_encrypted.map(|line| Loosening {
                field: "mac_only_encrypted".to_owned(),
                line,
            })
        });

        let (version, line) = self
            .version
            .ok_or(SopsError::MissingVersion { line: sops_line })?;
        if version.is_empty() {
            return Err(SopsError::MissingVersion { line });
        }
        if !is_semver(&version) {
            return Err(SopsError::InvalidVersion { version, line });
        }

        Ok(Metadata {
            mac_aad,
            mac: self.mac,
            loosening,
            key_groups,
            shamir_threshold: self.shamir_threshold,
        })
    }
}

fn invalid(field: &str, line: usize, reason: &'static str) -> SopsError {
    let field = if field == "sops" {
        field.to_owned()
    } else {
        format!("sops.{field}")
    };
    SopsError::InvalidMetadata { field, line, reason }
}

/// Adds a master-key list field (`age`, `kms`, …) to `group`; ignores unknown fields.
fn add_keys(group: &mut KeyGroup, field: &str, value: Node) -> Result<(), SopsError> {
    if field == "age" {
        for entry in list(field, value)? {
            let line = entry.pos.line;
            let Plain::Map(entries) = entry.value else {
                return Err(invalid("age", line, "has an entry that is not a mapping"));
            };
            let (mut recipient, mut enc) = (String::new(), String::new());
            for (k, v) in entries {
                match k.as_str() {
                    "recipient" => recipient = string("age.recipient", v)?,
                    "enc" => enc = string("age.enc", v)?,
                    _ => {}
                }
            }
            group.age.push(AgeStanza { recipient, enc });
        }
    } else if field == "kms" {
        for entry in list(field, value)? {
            group.kms.push(kms_stanza(entry)?);
        }
    } else if let Some(name) = OTHER_KEY_TYPES.iter().find(|t| **t == field)
        && !list(field, value)?.is_empty()
        && !group.other.contains(name)
    {
        group.other.push(name);
    }
    Ok(())
}

/// One `kms:` entry (sops `kmskey.toInternal`): `created_at` must be RFC 3339, as sops
/// refuses the file otherwise; the other fields are taken as they are.
fn kms_stanza(entry: Node) -> Result<KmsStanza, SopsError> {
    let line = entry.pos.line;
    let Plain::Map(entries) = entry.value else {
        return Err(invalid("kms", line, "has an entry that is not a mapping"));
    };
    let (mut arn, mut role, mut created_at, mut enc, mut profile) = (
        String::new(),
        String::new(),
        String::new(),
        String::new(),
        String::new(),
    );
    let mut context = BTreeMap::new();
    for (k, v) in entries {
        match k.as_str() {
            "arn" => arn = string("kms.arn", v)?,
            "role" => role = string("kms.role", v)?,
            "created_at" => created_at = string("kms.created_at", v)?,
            "enc" => enc = string("kms.enc", v)?,
            "aws_profile" => profile = string("kms.aws_profile", v)?,
            "context" => {
                let context_line = v.pos.line;
                match v.value {
                    Plain::Map(pairs) => {
                        for (name, value) in pairs {
                            let value = match value.value {
                                Plain::Null => None,
                                _ => Some(string("kms.context", value)?),
                            };
                            context.insert(name, value);
                        }
                    }
                    Plain::Null => {}
                    _ => return Err(invalid("kms.context", context_line, "is not a mapping")),
                }
            }
            _ => {}
        }
    }
    let created_at = GoTime::parse_rfc3339(&created_at)
        .and_then(GoTime::to_rfc3339)
        .ok_or_else(|| invalid("kms.created_at", line, "is not an RFC 3339 timestamp"))?;
    Ok(KmsStanza {
        key: KmsKey::from_parts(arn, role, context, profile),
        created_at,
        enc,
    })
}

fn list(field: &str, node: Node) -> Result<Vec<Node>, SopsError> {
    match node.value {
        Plain::Seq(items) => Ok(items),
        Plain::Null => Ok(Vec::new()),
        _ => Err(invalid(field, node.pos.line, "is not a list")),
    }
}

/// A string field, weakly typed like mapstructure (numbers and bools are printed).
fn string(field: &str, node: Node) -> Result<String, SopsError> {
    Ok(match node.value {
        Plain::Str(s) => s,
        Plain::Null => String::new(),
        Plain::Int(i) => i.to_string(),
        Plain::Float(f) => go_format_float(f),
        Plain::Bool(b) => if b { "1" } else { "0" }.to_owned(),
        Plain::Time(t) => t.to_rfc3339_nano().unwrap_or_default(),
        Plain::Seq(_) | Plain::Map(_) => return Err(invalid(field, node.pos.line, "is not a string")),
    })
}

fn boolean(field: &str, node: Node) -> Result<bool, SopsError> {
    match node.value {
        Plain::Bool(b) => Ok(b),
        Plain::Null => Ok(false),
        Plain::Int(i) => Ok(i != 0),
        Plain::Str(s) => match s.as_str() {
            "" | "0" | "f" | "F" | "false" | "FALSE" | "False" => Ok(false),
            "1" | "t" | "T" | "true" | "TRUE" | "True" => Ok(true),
            _ => Err(invalid(field, node.pos.line, "is not a bool")),
        },
        _ => Err(invalid(field, node.pos.line, "is not a bool")),
    }
}

fn count(field: &str, node: Node) -> Result<usize, SopsError> {
    let line = node.pos.line;
    match node.value {
        Plain::Null => Ok(0),
        Plain::Int(i) => usize::try_from(i).map_err(|_| invalid(field, line, "is negative")),
        Plain::Str(s) => s.parse().map_err(|_| invalid(field, line, "is not a number")),
        _ => Err(invalid(field, line, "is not a number")),
    }
}

fn regex(field: &str, pattern: &str, line: usize) -> Result<Regex, SopsError> {
    Regex::new(pattern).map_err(|_| SopsError::InvalidRegex {
        field: field.to_owned(),
        line,
    })
}

/// `semver.Make` from blang/semver v3, which sops uses on `version`.
fn is_semver(v: &str) -> bool {
    let numeric =
        |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit()) && (s == "0" || !s.starts_with('0'));
    let ident = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-');
    let mut parts = v.splitn(3, '.');
    let (Some(major), Some(minor), Some(rest)) = (parts.next(), parts.next(), parts.next()) else {
        return false;
    };
    let (core, build) = match rest.split_once('+') {
        Some((core, build)) => (core, Some(build)),
        None => (rest, None),
    };
    let (patch, pre) = match core.split_once('-') {
        Some((patch, pre)) => (patch, Some(pre)),
        None => (core, None),
    };
    numeric(major)
        && numeric(minor)
        && numeric(patch)
        && pre.is_none_or(|pre| {
            pre.split('.')
                .all(|id| ident(id) && (!id.bytes().all(|b| b.is_ascii_digit()) || numeric(id)))
        })
        && build.is_none_or(|build| build.split('.').all(ident))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn semver_like_blang() {
        for ok in [
            "3.11.0",
            "0.0.0",
            "1.2.3-rc.1",
            "1.2.3+build.5",
            "1.2.3-alpha-1+x",
        ] {
            assert!(is_semver(ok), "{ok}");
        }
        for bad in [
            "", "3.11", "v3.11.0", "03.1.0", "1.2.3-01", "1.2.3-", "1.2.3+", "1.2.x",
        ] {
            assert!(!is_semver(bad), "{bad}");
        }
    }

    fn loosening(sops_block: &str) -> Result<Option<Loosening>, SopsError> {
        let docs = super::super::yaml::parse(sops_block).unwrap();
        let (_, meta) = extract(docs)?;
        Metadata::from_node(meta).map(|m| m.loosening)
    }

    #[test]
    fn only_the_default_rule_and_no_mac_only_encrypted_is_tight() {
        let base = "a: x\nsops:\n    age:\n        - recipient: age1x\n          enc: x\n    lastmodified: \"2026-11-29T11:33:08Z\"\n    version: 3.11.0\n";
        let with = |extra: &str| format!("{base}{extra}");
        assert_eq!(loosening(base).unwrap(), None);
        assert_eq!(
            loosening(&with("    unencrypted_suffix: _unencrypted\n")).unwrap(),
            None
        );
        assert_eq!(loosening(&with("    mac_only_encrypted: false\n")).unwrap(), None);
        for (extra, field) in [
            ("    unencrypted_suffix: _plain\n", "unencrypted_suffix"),
            ("    encrypted_suffix: _secret\n", "encrypted_suffix"),
            ("    encrypted_regex: ^password$\n", "encrypted_regex"),
            ("    unencrypted_regex: ^kind$\n", "unencrypted_regex"),
            ("    encrypted_comment_regex: sops\n", "encrypted_comment_regex"),
            (
                "    unencrypted_comment_regex: plain\n",
                "unencrypted_comment_regex",
            ),
            ("    mac_only_encrypted: true\n", "mac_only_encrypted"),
        ] {
            let got = loosening(&with(extra)).unwrap().unwrap();
            assert_eq!((got.field.as_str(), got.line), (field, 8), "{extra}");
        }
    }
}
