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
    /// Where the walk is, for messages (its map keys are the additional data).
    display: Vec<Segment>,
    /// Every encrypted leaf's additional data and decryption, in walk order, decrypted ahead
    /// of the walk ([`opened_leaves`]); the walk takes them in the same order.
    opened: std::vec::IntoIter<Opened>,
}

/// A leaf's additional data and what decrypting it gave.
type Opened = (String, Result<cipher::Decrypted, CipherError>);

/// Below this many values a file is decrypted on the calling thread: starting a thread costs
/// about as much as decrypting a few dozen values.
const PARALLEL_FROM: usize = 256;

/// Decrypts every document of a file that [`first_plain`] found fully encrypted; returns the
/// values and the recomputed MAC (uppercase hex). Every value's IV goes into `stash`.
pub(crate) fn decrypt_documents(
    branches: Vec<Branch>,
    key: &SecretBox<[u8; 32]>,
    stash: &mut IvStash,
) -> Result<(Vec<Value>, Zeroizing<String>), SopsError> {
    decrypt_documents_on(branches, key, stash, crate::jobs::available())
}

/// [`decrypt_documents`] on at most `threads` threads: the values are decrypted in parallel,
/// then the walk hashes them in document order (the MAC depends on the order) and reports
/// the first problem in that order, so nothing depends on the thread count.
fn decrypt_documents_on(
    branches: Vec<Branch>,
    key: &SecretBox<[u8; 32]>,
    stash: &mut IvStash,
    threads: std::num::NonZeroUsize,
) -> Result<(Vec<Value>, Zeroizing<String>), SopsError> {
    let opened = opened_leaves(&branches, key, threads);
    let mut walk = Walk {
        key,
        stash,
        hasher: Sha512::new(),
        display: Vec::new(),
        opened: opened.into_iter(),
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

/// Every string leaf of `branches` in walk order, with its additional data, decrypted.
fn opened_leaves(
    branches: &[Branch],
    key: &SecretBox<[u8; 32]>,
    threads: std::num::NonZeroUsize,
) -> Vec<Opened> {
    fn collect<'b>(node: &'b Node, keys: &mut Vec<&'b str>, leaves: &mut Vec<(String, &'b str)>) {
        match &node.value {
            Plain::Map(entries) => {
                for (key, node) in entries {
                    keys.push(key);
                    collect(node, keys, leaves);
                    keys.pop();
                }
            }
            Plain::Seq(items) => items.iter().for_each(|item| collect(item, keys, leaves)),
            Plain::Str(text) => leaves.push((aad(keys.iter().copied()), text)),
            _ => {}
        }
    }
    let mut leaves = Vec::new();
    let mut keys = Vec::new();
    for entries in branches {
        for (k, node) in entries {
            keys.push(k.as_str());
            collect(node, &mut keys, &mut leaves);
            keys.pop();
        }
    }
    let threads = if leaves.len() < PARALLEL_FROM {
        std::num::NonZeroUsize::MIN
    } else {
        threads
    };
    let opened = crate::jobs::map(&leaves, threads, |(aad, text)| {
        cipher::decrypt_stashing(text, key, aad, None)
    });
    leaves
        .into_iter()
        .zip(opened)
        .map(|((aad, _), result)| (aad, result))
        .collect()
}

/// sops' additional data: the map keys from the root joined with `:`, and a final `:`.
fn aad<'k>(keys: impl Iterator<Item = &'k str> + Clone) -> String {
    let mut out = String::with_capacity(keys.clone().map(|k| k.len() + 1).sum::<usize>().max(1));
    for (i, key) in keys.enumerate() {
        if i > 0 {
            out.push(':');
        }
        out.push_str(key);
    }
    out.push(':');
    out
}

impl Walk<'_> {
    fn map(&mut self, entries: Vec<(String, Node)>) -> Result<Value, SopsError> {
        let mut out = Vec::with_capacity(entries.len());
        for (key, node) in entries {
            self.display.push(Segment::Key(key.clone()));
            let value = self.node(node, false);
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
                // Decrypted ahead in this same order; should the two walks ever disagree,
                // the value is decrypted here instead.
                let (aad, opened) = self.opened.next().unwrap_or_else(|| {
                    let aad = aad(self.display.iter().filter_map(|segment| match segment {
                        Segment::Key(key) => Some(key.as_str()),
                        Segment::Index(_) => None,
                    }));
                    let opened = cipher::decrypt_stashing(&s, self.key, &aad, None);
                    (aad, opened)
                });
                let d = opened.map_err(|e| self.value_error(&s, line, &e))?;
                if !s.is_empty() {
                    self.stash.keep(aad, s);
                }
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

#[cfg(test)]
mod tests {
    use std::fmt::Write as _;
    use std::num::NonZeroUsize;

    use secrecy::ExposeSecret as _;

    use super::*;
    use crate::sops::cipher::tests::encrypt;

    const KEY: [u8; 32] = [7; 32];

    /// A file of `n` registries, each with a password and a list of two values and a comment:
    /// `4 n` encrypted leaves. The values of the registries in `tampered` fail to decrypt.
    fn file(n: usize, tampered: &[usize]) -> Vec<Branch> {
        let mut text = String::from("registries:\n");
        for i in 0..n {
            let aad = |field: &str| format!("registries:r{i}:{field}:");
            let key = if tampered.contains(&i) { [8; 32] } else { KEY };
            let iv = [u8::try_from(i % 256).unwrap(); 32];
            let _ = write!(
                text,
                "  r{i}:\n    password: {}\n    list:\n      - {}\n      - {}\n      - {}\n",
                encrypt(format!("pw-{i}").as_bytes(), "str", &key, &aad("password"), iv),
                encrypt(b"a", "str", &KEY, &aad("list"), iv),
                encrypt(b" a comment", "comment", &KEY, &aad("list"), iv),
                encrypt(format!("{i}").as_bytes(), "int", &KEY, &aad("list"), iv),
            );
        }
        super::super::yaml::parse(&text)
            .unwrap()
            .into_iter()
            .map(|node| match node.value {
                Plain::Map(entries) => entries,
                _ => unreachable!(),
            })
            .collect()
    }

    fn strings(value: &Value, out: &mut Vec<String>) {
        match value {
            Value::Str(s) => out.push(s.expose_secret().to_owned()),
            Value::Int(i) => out.push(i.to_string()),
            Value::Map(entries) => entries.iter().for_each(|(k, v)| {
                out.push(k.clone());
                strings(v, out);
            }),
            Value::Seq(items) => items.iter().for_each(|v| strings(v, out)),
            _ => out.push(format!("{value:?}")),
        }
    }

    fn decrypted(branches: Vec<Branch>, threads: usize) -> Result<(Vec<String>, String, usize), String> {
        let key = SecretBox::new(Box::new(KEY));
        let mut stash = IvStash::new(&key);
        let threads = NonZeroUsize::new(threads).unwrap();
        let (documents, mac) =
            decrypt_documents_on(branches, &key, &mut stash, threads).map_err(|e| e.to_string())?;
        let mut out = Vec::new();
        for document in &documents {
            strings(document, &mut out);
        }
        Ok((out, mac.to_string(), stash.len()))
    }

    /// Decrypted on several threads, a file gives the values, the MAC and the IV stash of a
    /// decryption on one; with several bad values the first in the file is the one reported.
    #[test]
    fn the_thread_count_changes_nothing() {
        let one = decrypted(file(300, &[]), 1).unwrap();
        // The key `registries`, then per registry its key, `password`, the password, `list` and
        // the two list values (the comment is dropped).
        assert_eq!(one.0.len(), 1 + 300 * 6);
        assert_eq!(
            one.0.get(1..7).unwrap(),
            ["r0", "password", "pw-0", "list", "a", "0"]
        );
        // Every encrypted value, the comment included, has its IV in the stash.
        assert_eq!(one.2, 300 * 4);
        for threads in [2, 4, 16] {
            assert_eq!(
                decrypted(file(300, &[]), threads).unwrap(),
                one,
                "{threads} threads"
            );
        }
        let first = decrypted(file(300, &[150, 40, 290]), 1).unwrap_err();
        assert!(first.contains("`registries.r40.password`"), "{first}");
        for threads in [2, 4, 16] {
            assert_eq!(decrypted(file(300, &[150, 40, 290]), threads).unwrap_err(), first);
        }
    }

    #[test]
    fn additional_data_is_the_key_path_with_a_final_colon() {
        assert_eq!(
            aad(["registries", "r0", "password"].into_iter()),
            "registries:r0:password:"
        );
        assert_eq!(aad(std::iter::empty()), ":");
    }
}
