//! The tree walk: decrypt the leaves sops encrypted and recompute the MAC over all documents.
//!
//! Mirrors sops `sops.go` `Tree.Decrypt` with `walkBranch`/`walkSlice`: leaves are visited in
//! document order; a leaf's additional data is its map-key path joined with `:` plus a trailing
//! `:` (list indices are not part of it); nulls are skipped; one SHA-512 runs over every
//! other leaf's `ToBytes` (or only over encrypted leaves, after a fixed 32-byte prefix, with
//! `mac_only_encrypted`). The MAC is an uppercase hex string.
//!
//! It must not judge the MAC (the caller compares it) and must not put values into errors:
//! errors carry the key path and line only. Spec: `shared/reference/formats-and-peers.md`
//! §1.2 and §1.3.

use std::fmt::Write as _;

use secrecy::{SecretBox, SecretString};
use sha2::{Digest as _, Sha512};
use zeroize::Zeroizing;

use super::cipher::{self, CipherError};
use super::format::{Branch, Metadata};
use super::yaml::{Node, Plain};
use super::{SopsError, Value};

/// sops `MACOnlyEncryptedInitialization`: the 32 bytes of SHA-256("sops").
const MAC_ONLY_ENCRYPTED_INIT: [u8; 32] = [
    0x8a, 0x3f, 0xd2, 0xad, 0x54, 0xce, 0x66, 0x52, 0x7b, 0x10, 0x34, 0xf3, 0xd1, 0x47, 0xbe, 0x0b, 0x0b,
    0x97, 0x5b, 0x3b, 0xf4, 0x4f, 0x72, 0xc6, 0xfd, 0xad, 0xec, 0x81, 0x76, 0xf2, 0x7d, 0x69,
];

/// One step of a key path, for messages: `registries[0].password`.
enum Segment {
    Key(String),
    Index(usize),
}

struct Walk<'a> {
    meta: &'a Metadata,
    key: &'a SecretBox<[u8; 32]>,
    hasher: Sha512,
    /// Map keys from the root: the additional data and what the rules look at.
    keys: Vec<String>,
    display: Vec<Segment>,
}

/// Decrypts every document; returns the values and the recomputed MAC (uppercase hex).
pub(crate) fn decrypt_documents(
    branches: Vec<Branch>,
    meta: &Metadata,
    key: &SecretBox<[u8; 32]>,
) -> Result<(Vec<Value>, Zeroizing<String>), SopsError> {
    let mut walk = Walk {
        meta,
        key,
        hasher: Sha512::new(),
        keys: Vec::new(),
        display: Vec::new(),
    };
    if meta.mac_only_encrypted {
        walk.hasher.update(MAC_ONLY_ENCRYPTED_INIT);
    }
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
            let value = self.node(node);
            self.keys.pop();
            self.display.pop();
            out.push((key, value?));
        }
        Ok(Value::Map(out))
    }

    fn node(&mut self, node: Node) -> Result<Value, SopsError> {
        let line = node.pos.line;
        let encrypted = |s: &str| {
            self.meta
                .rule
                .should_be_encrypted(&self.keys)
                .unwrap_or_else(|| cipher::looks_encrypted(s))
        };
        let (value, encrypted) = match node.value {
            Plain::Map(entries) => return self.map(entries),
            Plain::Seq(items) => {
                let mut out = Vec::with_capacity(items.len());
                for (index, item) in items.into_iter().enumerate() {
                    self.display.push(Segment::Index(index));
                    let value = self.node(item);
                    self.display.pop();
                    out.push(value?);
                }
                return Ok(Value::Seq(out));
            }
            // sops neither decrypts nor hashes nulls.
            Plain::Null => return Ok(Value::Null),
            Plain::Str(s) => {
                if encrypted(&s) {
                    let aad = format!("{}:", self.keys.join(":"));
                    match cipher::decrypt(&s, self.key, &aad) {
                        Ok(d) => {
                            self.hash(true, &d.mac_bytes);
                            return Ok(d.value);
                        }
                        Err(e) => return Err(self.value_error(&s, line, &e)),
                    }
                }
                (Value::Str(SecretString::from(s)), false)
            }
            other => {
                if self.meta.rule.should_be_encrypted(&self.keys) == Some(true) {
                    return Err(SopsError::NotEncryptedValue {
                        path: self.path(),
                        line,
                        kind: other.kind(),
                    });
                }
                let value =
                    match other {
                        Plain::Bool(b) => Value::Bool(b),
                        Plain::Int(i) => Value::Int(i),
                        Plain::Float(f) => Value::Float(f),
                        Plain::Time(t) => Value::Time(t.to_rfc3339_nano().ok_or_else(|| {
                            SopsError::TimestampOutOfRange {
                                path: self.path(),
                                line,
                            }
                        })?),
                        _ => Value::Null,
                    };
                (value, false)
            }
        };
        if let Some(bytes) = cipher::mac_bytes(&value) {
            self.hash(encrypted, &bytes);
        }
        Ok(value)
    }

    fn hash(&mut self, encrypted: bool, bytes: &[u8]) {
        if !self.meta.mac_only_encrypted || encrypted {
            self.hasher.update(bytes);
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
        let mut out = String::new();
        for segment in &self.display {
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
}
