//! The sops value cipher: `ENC[AES256_GCM,data:…,iv:…,tag:…,type:…]` → a typed value, and the
//! bytes each value contributes to the MAC.
//!
//! Mirrors sops `aes/cipher.go` (`parse`, `Decrypt`) and `sops.go` `ToBytes`: AES-256-GCM with
//! the IV length taken from the value (sops writes 32 bytes), a 16-byte tag, standard padded
//! base64, and typed plaintexts (`str`, `int`, `float`, `bool`, `time`, `bytes`, `comment`).
//!
//! [`encrypt`] is sops `Cipher.Encrypt` with the IV chosen by the caller (the encrypt path draws
//! it from the OS, derives it, or reuses the one a value had before).
//!
//! It must not decide *which* values are encrypted (that is the tree walk's job), must not pick
//! IVs, and must not let plaintext or ciphertext reach an error: errors are fixed reasons.
//! Plaintext buffers are zeroized when dropped. Spec: `shared/reference/formats-and-peers.md` §1.1 and §1.3.

use std::collections::HashMap;
use std::sync::OnceLock;

use aes_gcm::AesGcm;
use aes_gcm::aead::consts::{U12, U16, U32};
use aes_gcm::aead::generic_array::{ArrayLength, GenericArray};
use aes_gcm::aead::{AeadInPlace, KeyInit};
use aes_gcm::aes::Aes256;
use base64::Engine as _;
use base64::engine::{GeneralPurpose, GeneralPurposeConfig};
use hmac::{Hmac, Mac as _};
use secrecy::{ExposeSecret, SecretBox, SecretString};
use zeroize::Zeroizing;

use super::Value;
use super::timestamp::GoTime;
use super::yaml::go_parse_float;

/// sops' own pattern (`aes/cipher.go`): unanchored at the end, every field non-empty.
/// [`enc_fields`] matches it without a regex engine.
#[cfg(test)]
const ENC_PATTERN: &str = r"^ENC\[AES256_GCM,data:(.+),iv:(.+),tag:(.+),type:(.+)\]";

/// Go's `base64.StdEncoding`: padded, but lenient about non-zero trailing bits.
const GO_STD_BASE64: GeneralPurpose = GeneralPurpose::new(
    &base64::alphabet::STANDARD,
    GeneralPurposeConfig::new().with_decode_allow_trailing_bits(true),
);

/// Why a value could not be decrypted. Fixed reasons only: never value bytes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum CipherError {
    /// Not in the `ENC[AES256_GCM,…]` shape, or a field is not valid base64/lengths are off.
    Malformed(&'static str),
    /// GCM authentication failed: wrong data key, wrong path, or a tampered value.
    Authentication,
    /// The plaintext is not a valid value of its declared type.
    BadPlaintext(&'static str),
    /// A `type:` sops does not know.
    UnknownType,
}

impl std::fmt::Display for CipherError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            CipherError::Malformed(reason) => f.write_str(reason),
            CipherError::Authentication => {
                f.write_str("authentication failed (tampered value, moved value or wrong data key)")
            }
            CipherError::BadPlaintext(ty) => write!(f, "the decrypted text is not a valid `{ty}`"),
            CipherError::UnknownType => {
                f.write_str("unknown `type:` (expected str, int, float, bool, time, bytes or comment)")
            }
        }
    }
}

/// The `data`, `iv`, `tag` and `type` fields of an encrypted value, exactly as sops' pattern
/// [`ENC_PATTERN`] captures them (Go's regexp and Rust's give the same leftmost-first match),
/// in time linear in the value. The regex engine took half of a catalog load: every field is
/// `(.+)`, so a backtracking search tries each split of a long value (a certificate is
/// several kilobytes).
///
/// How the pattern matches: `.` stops at the first newline, so the match lies within the
/// first line. Each `(.+)` is greedy, so it ends at the *last* place where the rest of the
/// pattern can still match; and the rest can match from a place exactly when it can from any
/// earlier one (`.+` absorbs the difference). So, from the right: `type` ends at the line's
/// last `]`, `tag` at the last `,type:` that leaves `type` non-empty, `iv` at the last
/// `,tag:` before that which leaves `tag` non-empty, and `data` at the last `,iv:` before
/// that which leaves `iv` and `data` non-empty.
fn enc_fields(text: &str) -> Option<[&str; 4]> {
    let line = match memchr::memchr(b'\n', text.as_bytes()) {
        Some(end) => text.get(..end)?,
        None => text,
    };
    let rest = line.strip_prefix("ENC[AES256_GCM,data:")?;
    let bytes = rest.as_bytes();
    // The last occurrence of `needle` (each starts with `,`) that ends at least one byte before
    // `end`. Bytes, not `str`: the byte before `end` need not end a character; the needles are
    // ASCII, so every place found is a character boundary.
    let last_before = |needle: &[u8], end: usize| {
        let region = bytes.get(..end.checked_sub(1)?)?;
        memchr::memrchr_iter(b',', region)
            .find(|&at| region.get(at..).is_some_and(|tail| tail.starts_with(needle)))
    };
    let close = memchr::memrchr(b']', bytes)?;
    let ty = last_before(b",type:", close)?;
    let tag = last_before(b",tag:", ty)?;
    let iv = last_before(b",iv:", tag).filter(|&at| at > 0)?;
    Some([
        rest.get(..iv)?,
        rest.get(iv + ",iv:".len()..tag)?,
        rest.get(tag + ",tag:".len()..ty)?,
        rest.get(ty + ",type:".len()..close)?,
    ])
}

/// The `type:` of text in sops' `ENC[…]` form, without decrypting it; `None` for other text.
pub(crate) fn value_type(text: &str) -> Option<&str> {
    let [.., ty] = enc_fields(text)?;
    Some(ty)
}

/// A decrypted value and the bytes sops' `ToBytes` hashes for it.
pub(crate) struct Decrypted {
    pub(crate) value: Value,
    pub(crate) mac_bytes: Zeroizing<Vec<u8>>,
    /// A `type:comment` value: a YAML comment (sops writes a list's comments as items of the
    /// list); `value` holds its text. sops hashes no comment, so `mac_bytes` is empty.
    pub(crate) comment: bool,
}

/// sops' IV stash (`aes/cipher.go`): the IV each value was decrypted with, looked up by its
/// additional data, `type:` and exact plaintext bytes, so that re-encrypting an unchanged
/// value with the same data key gives the same ciphertext (and `git diff` shows only edits).
///
/// Entries are keyed by an HMAC under a key derived from the data key, so the stash holds no
/// plaintext. Reusing an IV is safe exactly because the lookup demands the same key, the same
/// additional data and the same plaintext: the output is then the old ciphertext itself.
///
/// Only an edit looks IVs up, and most decryptions are renders, so decryption only keeps each
/// value's additional data and encrypted text (public), and the first lookup decrypts them
/// again to fill the table: hashing every value on every load was a fifth of a catalog load.
pub(crate) struct IvStash {
    data_key: Zeroizing<[u8; 32]>,
    id_key: Zeroizing<[u8; 32]>,
    /// `(additional data, ENC[…] text)` of every value decrypted, in file order.
    values: Vec<(String, String)>,
    ivs: OnceLock<HashMap<[u8; 32], [u8; 32]>>,
}

#[allow(clippy::missing_fields_in_debug)] // the keys, values and IVs are deliberately not shown
impl std::fmt::Debug for IvStash {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("IvStash")
            .field("entries", &self.values.len())
            .finish()
    }
}

type HmacSha256 = Hmac<sha2::Sha256>;

impl IvStash {
    /// An empty stash for values encrypted with `data_key`.
    pub(crate) fn new(data_key: &SecretBox<[u8; 32]>) -> Self {
        let mut id_key = Zeroizing::new([0u8; 32]);
        if let Ok(mac) = <HmacSha256 as hmac::Mac>::new_from_slice(data_key.expose_secret()) {
            id_key.copy_from_slice(
                &mac.chain_update(b"pullseal sops iv stash v1")
                    .finalize()
                    .into_bytes(),
            );
        }
        IvStash {
            data_key: Zeroizing::new(*data_key.expose_secret()),
            id_key,
            values: Vec::new(),
            ivs: OnceLock::new(),
        }
    }

    fn id(&self, aad: &str, ty: &str, plaintext: &[u8]) -> [u8; 32] {
        let Ok(mut mac) = <HmacSha256 as hmac::Mac>::new_from_slice(self.id_key.as_slice()) else {
            return [0; 32];
        };
        for part in [aad.as_bytes(), ty.as_bytes()] {
            mac.update(&(part.len() as u64).to_be_bytes());
            mac.update(part);
        }
        mac.update(plaintext);
        mac.finalize().into_bytes().into()
    }

    /// Keeps the value `text` (`ENC[…]`, decrypted successfully with this stash's key) found
    /// at `aad`, for the table. Values with IVs of other lengths than 32 bytes are left out
    /// when the table is made: sops reuses 32-byte IVs only.
    pub(crate) fn keep(&mut self, aad: String, text: String) {
        self.values.push((aad, text));
    }

    /// The table of IVs by value id, made on first use from the values kept.
    fn ivs(&self) -> &HashMap<[u8; 32], [u8; 32]> {
        self.ivs.get_or_init(|| {
            let key = SecretBox::new(Box::new(*self.data_key));
            let mut ivs = HashMap::with_capacity(self.values.len());
            for (aad, text) in &self.values {
                // Each decrypted before, with this key: nothing fails here.
                if let Ok(Opened { ty, iv, plaintext }) = open_value(text, &key, aad)
                    && let Ok(iv) = <[u8; 32]>::try_from(iv.as_slice())
                {
                    ivs.insert(self.id(aad, ty, &plaintext), iv);
                }
            }
            ivs
        })
    }

    /// The IV `plaintext` had at `aad` with this `type:`, if it was decrypted before.
    pub(crate) fn get(&self, aad: &str, ty: &str, plaintext: &[u8]) -> Option<[u8; 32]> {
        self.ivs().get(&self.id(aad, ty, plaintext)).copied()
    }

    /// How many values it remembers.
    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        self.ivs().len()
    }
}

/// Decrypts one sops value with `key` and `aad` (the `:`-joined key path plus `:`).
///
/// The empty string stays the empty string, as in sops.
#[cfg(test)]
pub(crate) fn decrypt(text: &str, key: &SecretBox<[u8; 32]>, aad: &str) -> Result<Decrypted, CipherError> {
    decrypt_stashing(text, key, aad, None)
}

/// [`decrypt`], remembering the value's 32-byte IV in `stash`.
pub(crate) fn decrypt_stashing(
    text: &str,
    key: &SecretBox<[u8; 32]>,
    aad: &str,
    stash: Option<&mut IvStash>,
) -> Result<Decrypted, CipherError> {
    if text.is_empty() {
        return Ok(Decrypted {
            value: Value::Str(SecretString::from(String::new())),
            mac_bytes: Zeroizing::default(),
            comment: false,
        });
    }
    let Opened { ty, plaintext, .. } = open_value(text, key, aad)?;
    if let Some(stash) = stash {
        stash.keep(aad.to_owned(), text.to_owned());
    }
    typed(ty, &plaintext)
}

/// An encrypted value opened: its `type:`, its IV and its plaintext bytes.
struct Opened<'t> {
    ty: &'t str,
    iv: Vec<u8>,
    plaintext: Zeroizing<Vec<u8>>,
}

/// Parses and authenticates the non-empty value `text` at `aad`.
fn open_value<'t>(text: &'t str, key: &SecretBox<[u8; 32]>, aad: &str) -> Result<Opened<'t>, CipherError> {
    let [data, iv, tag, ty] = enc_fields(text).ok_or(CipherError::Malformed(
        "expected ENC[AES256_GCM,data:…,iv:…,tag:…,type:…]",
    ))?;
    let data = GO_STD_BASE64
        .decode(data)
        .map_err(|_| CipherError::Malformed("`data` is not valid base64"))?;
    let iv = GO_STD_BASE64
        .decode(iv)
        .map_err(|_| CipherError::Malformed("`iv` is not valid base64"))?;
    let tag = GO_STD_BASE64
        .decode(tag)
        .map_err(|_| CipherError::Malformed("`tag` is not valid base64"))?;

    let mut plaintext = Zeroizing::new(data);
    match iv.len() {
        32 => open::<U32>(key, &iv, aad, &mut plaintext, &tag)?,
        16 => open::<U16>(key, &iv, aad, &mut plaintext, &tag)?,
        12 => open::<U12>(key, &iv, aad, &mut plaintext, &tag)?,
        _ => return Err(CipherError::Malformed("`iv` must be 32 bytes (or 12 or 16)")),
    }
    Ok(Opened { ty, iv, plaintext })
}

/// sops `Cipher.Encrypt`: AES-256-GCM with a 32-byte IV, written as
/// `ENC[AES256_GCM,data:…,iv:…,tag:…,type:…]` in padded standard base64.
///
/// `plaintext` must not be empty: sops writes `""` as it is, and `data:` may not be empty.
pub(crate) fn encrypt(
    plaintext: &[u8],
    ty: &str,
    key: &SecretBox<[u8; 32]>,
    aad: &str,
    iv: &[u8; 32],
) -> Result<String, CipherError> {
    let cipher = AesGcm::<Aes256, U32>::new(GenericArray::from_slice(key.expose_secret()));
    let mut buffer = Zeroizing::new(plaintext.to_vec());
    // GCM refuses only plaintexts beyond its 64 GiB limit.
    let tag = cipher
        .encrypt_in_place_detached(GenericArray::from_slice(iv), aad.as_bytes(), &mut buffer)
        .map_err(|_| CipherError::Malformed("the value is too large for AES-GCM"))?;
    let b64 = base64::engine::general_purpose::STANDARD;
    Ok(format!(
        "ENC[AES256_GCM,data:{},iv:{},tag:{},type:{ty}]",
        b64.encode(buffer.as_slice()),
        b64.encode(iv),
        b64.encode(tag)
    ))
}

/// AES-256-GCM open with an `N`-byte nonce and a detached 16-byte tag, in place.
fn open<N: ArrayLength<u8>>(
    key: &SecretBox<[u8; 32]>,
    iv: &[u8],
    aad: &str,
    buffer: &mut [u8],
    tag: &[u8],
) -> Result<(), CipherError> {
    let cipher = AesGcm::<Aes256, N>::new_from_slice(key.expose_secret())
        .map_err(|_| CipherError::Malformed("the data key is not 32 bytes"))?;
    let nonce = GenericArray::<u8, N>::from_exact_iter(iv.iter().copied())
        .ok_or(CipherError::Malformed("`iv` has the wrong length"))?;
    let tag = GenericArray::<u8, U16>::from_exact_iter(tag.iter().copied())
        .ok_or(CipherError::Malformed("`tag` must be 16 bytes"))?;
    cipher
        .decrypt_in_place_detached(&nonce, aad.as_bytes(), buffer, &tag)
        .map_err(|_| CipherError::Authentication)
}

/// `aes/cipher.go` `Decrypt`'s type switch, then `ToBytes` of the typed result.
fn typed(ty: &str, plaintext: &Zeroizing<Vec<u8>>) -> Result<Decrypted, CipherError> {
    let text = || std::str::from_utf8(plaintext).map_err(|_| CipherError::BadPlaintext("utf-8 text"));
    let value = match ty {
        // `bytes` decrypts to a byte string; we hand it out as text.
        "str" | "bytes" => {
            // Validate before copying, so a failed conversion leaves no unzeroized copy behind.
            let s = std::str::from_utf8(plaintext)
                .map_err(|_| CipherError::BadPlaintext(if ty == "str" { "str" } else { "utf-8 text" }))?;
            return Ok(Decrypted {
                value: Value::Str(SecretString::from(s)),
                mac_bytes: plaintext.clone(),
                comment: false,
            });
        }
        // sops `Decrypt` returns a `Comment` (Go's `string` of the bytes, whatever they are),
        // and `Tree.Decrypt` hashes no comment. The text is kept for an edit to write back.
        "comment" => {
            return Ok(Decrypted {
                value: Value::Str(SecretString::from(
                    String::from_utf8_lossy(plaintext).into_owned(),
                )),
                mac_bytes: Zeroizing::default(),
                comment: true,
            });
        }
        // strconv.Atoi
        "int" => Value::Int(
            text()?
                .parse::<i64>()
                .map_err(|_| CipherError::BadPlaintext("int"))?,
        ),
        "float" => Value::Float(go_parse_float(text()?).ok_or(CipherError::BadPlaintext("float"))?),
        // strconv.ParseBool
        "bool" => Value::Bool(match text()? {
            "1" | "t" | "T" | "TRUE" | "true" | "True" => true,
            "0" | "f" | "F" | "FALSE" | "false" | "False" => false,
            _ => return Err(CipherError::BadPlaintext("bool")),
        }),
        // time.Time.UnmarshalText
        "time" => {
            let t = GoTime::parse_rfc3339(text()?).ok_or(CipherError::BadPlaintext("time"))?;
            Value::Time(t.to_rfc3339_nano().ok_or(CipherError::BadPlaintext("time"))?)
        }
        _ => return Err(CipherError::UnknownType),
    };
    let mac_bytes = mac_bytes(&value).ok_or(CipherError::BadPlaintext("time"))?;
    Ok(Decrypted {
        value,
        mac_bytes,
        comment: false,
    })
}

/// sops `ToBytes` for a leaf; `None` for null and collections, which add nothing to the MAC.
pub(crate) fn mac_bytes(value: &Value) -> Option<Zeroizing<Vec<u8>>> {
    let bytes = match value {
        Value::Str(s) => s.expose_secret().as_bytes().to_vec(),
        Value::Int(i) => i.to_string().into_bytes(),
        Value::Float(f) => go_format_float(*f).into_bytes(),
        Value::Bool(true) => b"True".to_vec(),
        Value::Bool(false) => b"False".to_vec(),
        Value::Time(t) => t.as_bytes().to_vec(),
        Value::Null | Value::Seq(_) | Value::Map(_) => return None,
    };
    Some(Zeroizing::new(bytes))
}

/// Go's `strconv.FormatFloat(f, 'f', -1, 64)`: shortest round-trip digits, never an exponent.
/// Rust's `Display` for `f64` prints the same digits; only the specials are spelled differently.
pub(crate) fn go_format_float(f: f64) -> String {
    if f.is_nan() {
        "NaN".to_owned()
    } else if f == f64::INFINITY {
        "+Inf".to_owned()
    } else if f == f64::NEG_INFINITY {
        "-Inf".to_owned()
    } else {
        format!("{f}")
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// [`super::encrypt`] with a plain key array, for the decrypt tests' hand-made files.
    pub(crate) fn encrypt(plaintext: &[u8], ty: &str, key: &[u8; 32], aad: &str, iv: [u8; 32]) -> String {
        super::encrypt(plaintext, ty, &SecretBox::new(Box::new(*key)), aad, &iv).unwrap()
    }

    fn key() -> SecretBox<[u8; 32]> {
        SecretBox::new(Box::new([7u8; 32]))
    }

    #[test]
    fn typed_values_round_trip_and_hash_canonically() {
        let k = [7u8; 32];
        let cases: [(&[u8], &str, &str); 6] = [
            (b"hello", "str", "hello"),
            (b"+15", "int", "15"),
            (b"1.5", "float", "1.5"),
            (b"+Inf", "float", "+Inf"),
            (b"true", "bool", "True"),
            (
                b"2024-01-01T10:00:00.50+02:00",
                "time",
                "2024-01-01T10:00:00.5+02:00",
            ),
        ];
        for (plain, ty, mac) in cases {
            let enc = encrypt(plain, ty, &k, "a:b:", [1; 32]);
            let out = decrypt(&enc, &key(), "a:b:").unwrap();
            assert_eq!(std::str::from_utf8(&out.mac_bytes).unwrap(), mac, "{ty}");
            assert!(!out.comment);
        }
    }

    #[test]
    fn comments_are_authenticated_but_hash_nothing() {
        let k = [7u8; 32];
        let enc = encrypt(b" note", "comment", &k, "a:b:", [1; 32]);
        let out = decrypt(&enc, &key(), "a:b:").unwrap();
        assert!(out.comment && out.mac_bytes.is_empty());
        assert_eq!(
            decrypt(&enc, &key(), "a:c:").err(),
            Some(CipherError::Authentication)
        );
    }

    #[test]
    fn errors_are_fixed_reasons() {
        let k = [7u8; 32];
        let enc = encrypt(b"x", "str", &k, "a:", [1; 32]);
        assert_eq!(
            decrypt(&enc, &key(), "b:").err(),
            Some(CipherError::Authentication)
        );
        assert_eq!(
            decrypt("plain", &key(), "a:").err().unwrap().to_string(),
            "expected ENC[AES256_GCM,data:…,iv:…,tag:…,type:…]"
        );
        assert_eq!(
            decrypt(&encrypt(b"x", "blob", &k, "a:", [1; 32]), &key(), "a:").err(),
            Some(CipherError::UnknownType)
        );
        assert_eq!(
            decrypt(&encrypt(b"maybe", "bool", &k, "a:", [1; 32]), &key(), "a:").err(),
            Some(CipherError::BadPlaintext("bool"))
        );
        assert_eq!(
            decrypt("ENC[AES256_GCM,data:!!,iv:AA==,tag:AA==,type:str]", &key(), "a:").err(),
            Some(CipherError::Malformed("`data` is not valid base64"))
        );
    }

    /// What sops' regex captures, by the regex crate (the reference for [`enc_fields`]).
    fn by_regex(text: &str) -> Option<[String; 4]> {
        let re = regex::Regex::new(ENC_PATTERN).unwrap();
        let caps = re.captures(text)?;
        Some([1, 2, 3, 4].map(|i| caps.get(i).unwrap().as_str().to_owned()))
    }

    fn by_hand(text: &str) -> Option<[String; 4]> {
        enc_fields(text).map(|fields| fields.map(str::to_owned))
    }

    #[test]
    fn fields_split_as_sops_pattern_splits_them() {
        for text in [
            "ENC[AES256_GCM,data:AA==,iv:BB==,tag:CC==,type:str]",
            "ENC[AES256_GCM,data:a,iv:b,tag:c,type:d]trailing]",
            "ENC[AES256_GCM,data:a,iv:b,iv:c,tag:d,tag:e,type:f,type:g]",
            "ENC[AES256_GCM,data:,iv:x,tag:y,type:z]",
            "ENC[AES256_GCM,data:,iv:,iv:x,tag:y,type:z]",
            "ENC[AES256_GCM,data:a,iv:b,tag:c,type:]",
            "ENC[AES256_GCM,data:a,iv:b,tag:c,type:d]\n]",
            "ENC[AES256_GCM,data:a,iv:b,tag:c,type:d\n]",
            "ENC[AES256_GCM,data:a,iv:b,tag:,type:,type:d]",
            "ENC[AES256_GCM,data:a,tag:b,iv:c,type:d]",
            " ENC[AES256_GCM,data:a,iv:b,tag:c,type:d]",
            "ENC[AES256_GCM,data:é,iv:ü,tag:ß,type:😀]]",
        ] {
            assert_eq!(by_hand(text), by_regex(text), "{text:?}");
        }
    }

    proptest::proptest! {
        /// Values made of the pattern's own pieces, where greedy matching has choices.
        #[test]
        fn fields_split_as_the_regex_splits_them(
            pieces in proptest::collection::vec(proptest::sample::select(vec![
                ",iv:", ",tag:", ",type:", "]", "a", "é", ",", ":", "\n", "data:", "iv",
            ]), 0..24),
        ) {
            let text = format!("ENC[AES256_GCM,data:{}", pieces.concat());
            proptest::prop_assert_eq!(by_hand(&text), by_regex(&text), "{:?}", text);
        }
    }

    #[test]
    fn floats_print_like_go_format_float() {
        assert_eq!(go_format_float(1e21), "1000000000000000000000");
        assert_eq!(go_format_float(1e-7), "0.0000001");
        assert_eq!(go_format_float(2.0), "2");
        assert_eq!(go_format_float(1.5), "1.5");
        assert_eq!(go_format_float(-0.0), "-0");
        assert_eq!(go_format_float(f64::NEG_INFINITY), "-Inf");
    }
}
