//! The tree walk: check that every value is encrypted, decrypt them all and recompute the MAC
//! over all documents.
//!
//! Mirrors sops `sops.go` `Tree.Decrypt` with `walkBranch`/`walkSlice`, for files encrypted
//! with sops' default rule: leaves are visited in document order; a leaf's additional data is
//! its map-key path joined with `:` plus a trailing `:` (list indices are not part of it);
//! nulls and empty strings are left plain by sops and add nothing to the MAC; one SHA-512 runs
//! over every other leaf's `ToBytes`. A YAML comment of a list is written by sops as an
//! encrypted `type:comment` item of the list: it is authenticated like any value, hashed by no
//! one and left out of the list (`super::comments` keeps its text). The MAC is an uppercase
//! hex string.
//!
//! [`first_plain`] decides which values must be encrypted from the rules and the position in
//! the tree alone (all of them), never from what a value looks like: a leaf that is not an
//! `ENC[…]` value where one is required is reported, not guessed about.
//!
//! It must not judge the MAC (the caller compares it) and must not put values into errors:
//! errors carry the key path and line only. Spec: `shared/reference/formats-and-peers.md`
//! §1.2 and §1.3.

use std::fmt::Write as _;

use secrecy::SecretBox;
use sha2::{Digest as _, Sha512};
use zeroize::Zeroizing;

use super::cipher::{self, CipherError, IvStash};
use super::format::{Branch, DEFAULT_UNENCRYPTED_SUFFIX};
use super::yaml::{Node, Plain};
use super::{SopsError, Value};

/// One step of a key path, for messages: `registries[0].password`.
pub(crate) enum Segment {
    Key(String),
    Index(usize),
}

/// The first place where a fully encrypted file would have an encrypted value but this one
/// has none.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct PlainSpot {
    /// Key path for messages, e.g. `clusters.prod.seal`.
    pub(crate) path: String,
    /// 1-based line.
    pub(crate) line: usize,
    /// "the value at" or "the key".
    pub(crate) noun: &'static str,
    /// What is plain there, e.g. "is not encrypted (plain text)".
    pub(crate) what: &'static str,
}

/// Finds the first value, in document order, that sops did not encrypt, or the first key
/// that makes sops leave the values under it plain (one ending in `_unencrypted`).
///
/// Every non-null leaf must be an `ENC[…]` value. The exceptions are exactly what sops itself
/// never encrypts: nulls and empty strings (sops writes `""` as it is).
pub(crate) fn first_plain(branches: &[Branch]) -> Option<PlainSpot> {
    let mut display = Vec::new();
    branches
        .iter()
        .find_map(|entries| plain_in_map(entries, &mut display))
}

fn plain_in_map(entries: &[(String, Node)], display: &mut Vec<Segment>) -> Option<PlainSpot> {
    for (key, node) in entries {
        display.push(Segment::Key(key.clone()));
        let found = if key.ends_with(DEFAULT_UNENCRYPTED_SUFFIX) {
            Some(PlainSpot {
                path: render_path(display),
                line: node.pos.line,
                noun: "the key",
                what: "ends in `_unencrypted`, so sops leaves every value under it plain",
            })
        } else {
            plain_in_node(node, display)
        };
        display.pop();
        if found.is_some() {
            return found;
        }
    }
    None
}

fn plain_in_node(node: &Node, display: &mut Vec<Segment>) -> Option<PlainSpot> {
    let what = match &node.value {
        Plain::Map(entries) => return plain_in_map(entries, display),
        Plain::Seq(items) => {
            for (index, item) in items.iter().enumerate() {
                display.push(Segment::Index(index));
                let found = plain_in_node(item, display);
                display.pop();
                if found.is_some() {
                    return found;
                }
            }
            return None;
        }
        Plain::Null => return None,
        Plain::Str(s) if s.is_empty() || s.starts_with("ENC[") => return None,
        Plain::Str(_) => "is not encrypted (plain text)",
        Plain::Bool(_) => "is not encrypted (a plain bool)",
        Plain::Int(_) => "is not encrypted (a plain int)",
        Plain::Float(_) => "is not encrypted (a plain float)",
        Plain::Time(_) => "is not encrypted (a plain timestamp)",
    };
    Some(PlainSpot {
        path: render_path(display),
        line: node.pos.line,
        noun: "the value at",
        what,
    })
}

struct Walk<'a> {
    key: &'a SecretBox<[u8; 32]>,
    stash: &'a mut IvStash,
    hasher: Sha512,
    /// Map keys from the root: the additional data.
    keys: Vec<String>,
    display: Vec<Segment>,
}

/// Decrypts every document of a file that [`first_plain`] found fully encrypted; returns the
/// values and the recomputed MAC (uppercase hex). Every value's IV goes into `stash`.
pub(crate) fn decrypt_documents(
    branches: Vec<Branch>,
    key: &SecretBox<[u8; 32]>,
    stash: &mut IvStash,
) -> Result<(Vec<Value>, Zeroizing<String>), SopsError> {
    let mut walk = Walk {
        key,
        stash,
        hasher: Sha512::new(),
        keys: Vec::new(),
        display: Vec::new(),
    };
    let mut documents = Vec::with_capacity(branches.len());
    for branch in branches {
        documents.push(walk.map(branch)?);
    }
    let digest = walk.hasher.finalize();
    let mut hex = Zeroizing::new(String::with_capacity(128));
    for byte in digest {
        let _ = write!(hex, "{byte:02X}");
    }
    Ok((documents, hex))
}

impl Walk<'_> {
    fn map(&mut self, entries: Vec<(String, Node)>) -> Result<Value, SopsError> {
        let mut out = Vec::with_capacity(entries.len());
        for (key, node) in entries {
            self.keys.push(key.clone());
            self.display.push(Segment::Key(key.clone()));
            let value = self.node(node, false);
            self.keys.pop();
            self.display.pop();
            if let Some(value) = value? {
                out.push((key, value));
            }
        }
        Ok(Value::Map(out))
    }

    /// The value of `node`; `None` for a comment item of a list.
    fn node(&mut self, node: Node, in_list: bool) -> Result<Option<Value>, SopsError> {
        let line = node.pos.line;
        match node.value {
            Plain::Map(entries) => self.map(entries).map(Some),
            Plain::Seq(items) => {
                let mut out = Vec::with_capacity(items.len());
                for (index, item) in items.into_iter().enumerate() {
                    self.display.push(Segment::Index(index));
                    let value = self.node(item, true);
                    self.display.pop();
                    if let Some(value) = value? {
                        out.push(value);
                    }
                }
                Ok(Some(Value::Seq(out)))
            }
            // sops neither decrypts nor hashes nulls.
            Plain::Null => Ok(Some(Value::Null)),
            Plain::Str(s) => {
                let aad = format!("{}:", self.keys.join(":"));
                let d = cipher::decrypt_stashing(&s, self.key, &aad, Some(self.stash))
                    .map_err(|e| self.value_error(&s, line, &e))?;
                if d.comment {
                    // sops moves YAML comments into lists only; anywhere else a comment would
                    // stand where a value belongs.
                    return if in_list {
                        Ok(None)
                    } else {
                        Err(SopsError::InvalidValue {
                            path: self.path(),
                            line,
                            reason: "a `type:comment` value, which sops writes only as a list item"
                                .to_owned(),
                        })
                    };
                }
                self.hasher.update(&d.mac_bytes);
                Ok(Some(d.value))
            }
            other => Err(SopsError::NotEncryptedValue {
                path: self.path(),
                line,
                kind: other.kind(),
            }),
        }
    }

    fn value_error(&self, text: &str, line: usize, error: &CipherError) -> SopsError {
        let path = self.path();
        match error {
            CipherError::Malformed(_) if !text.starts_with("ENC[") => SopsError::NotEncryptedValue {
                path,
                line,
                kind: "plain text",
            },
            CipherError::Malformed(_) => SopsError::MalformedValue {
                path,
                line,
                reason: error.to_string(),
            },
            CipherError::Authentication => SopsError::DecryptValue { path, line },
            CipherError::BadPlaintext(_) | CipherError::UnknownType => SopsError::InvalidValue {
                path,
                line,
                reason: error.to_string(),
            },
        }
    }

    fn path(&self) -> String {
        render_path(&self.display)
    }
}

/// `registries[0].password`; keys that are not plain words are quoted and escaped, so no
/// byte of a key can reach a terminal unescaped.
pub(crate) fn render_path(display: &[Segment]) -> String {
    let mut out = String::new();
    for segment in display {
        match segment {
            Segment::Index(i) => {
                let _ = write!(out, "[{i}]");
            }
            Segment::Key(k)
                if !k.is_empty()
                    && k.bytes()
                        .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-') =>
            {
                if !out.is_empty() {
                    out.push('.');
                }
                out.push_str(k);
            }
            Segment::Key(k) => {
                let _ = write!(out, "[{k:?}]");
            }
        }
    }
    out
}
