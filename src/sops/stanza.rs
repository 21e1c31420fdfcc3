//! The `enc` of a sops `age:` entry: the 32-byte data key encrypted to one X25519 recipient as
//! an ASCII-armored age v1 file, with every random input supplied by the caller.
//!
//! The `age` crate cannot do this: `x25519::Recipient::wrap_file_key` draws its ephemeral key
//! and `Encryptor` its file key and payload nonce from `OsRng`, and it adds a random "grease"
//! stanza that Go's age (which sops uses) never writes. So this module writes the format from
//! the age v1 specification (age-encryption.org/v1), exactly as Go's `age.Encrypt` +
//! `armor.NewWriter` lay it out for one X25519 recipient:
//!
//! ```text
//! age-encryption.org/v1
//! -> X25519 <ephemeral share, base64 without padding>
//! <ChaCha20-Poly1305(HKDF(shared, epk||pk, "age-encryption.org/v1/X25519"), file key)>
//! --- <HMAC-SHA256(HKDF(file key, "", "header"), header up to "---")>
//! <16-byte nonce><ChaCha20-Poly1305(HKDF(file key, nonce, "payload"), counter 0, last) of the data key>
//! ```
//!
//! armored as `-----BEGIN AGE ENCRYPTED FILE-----`, padded base64 in 64-column lines,
//! `-----END AGE ENCRYPTED FILE-----`. What it writes is checked by the `age` crate's
//! decryptor in the tests below and by the `age` and `sops` binaries in the interop tests.
//!
//! It must not draw randomness itself, must not accept a recipient whose shared secret is all
//! zeros (a low-order point), and must not let the data key, the file key or the ephemeral
//! secret reach an error or outlive the call (they are zeroized).

use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, STANDARD_NO_PAD};
use bech32::FromBase32 as _;
use chacha20poly1305::aead::{AeadInPlace as _, KeyInit as _};
use chacha20poly1305::{ChaCha20Poly1305, Key, Nonce};
use hmac::{Hmac, Mac as _};
use sha2::Sha256;
use x25519_dalek::{PublicKey, StaticSecret};
use zeroize::{Zeroize, Zeroizing};

/// The random inputs of one age file. Zeroized on drop; its `Debug` shows nothing.
pub(crate) struct StanzaEntropy {
    /// The age file key.
    pub(crate) file_key: [u8; 16],
    /// The X25519 ephemeral secret (clamped by the scalar multiplication).
    pub(crate) ephemeral: [u8; 32],
    /// The payload nonce.
    pub(crate) nonce: [u8; 16],
}

impl Drop for StanzaEntropy {
    fn drop(&mut self) {
        self.file_key.zeroize();
        self.ephemeral.zeroize();
        self.nonce.zeroize();
    }
}

impl std::fmt::Debug for StanzaEntropy {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("StanzaEntropy(..)")
    }
}

/// Why a stanza could not be written (fixed reasons; the recipient is public).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum StanzaError {
    /// The recipient's text is not a bech32 `age1…` key of 32 bytes.
    BadRecipient,
    /// The shared secret is all zeros: the recipient is a low-order point.
    LowOrderRecipient,
}

impl std::fmt::Display for StanzaError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            StanzaError::BadRecipient => "it is not a bech32 age1 key of 32 bytes",
            StanzaError::LowOrderRecipient => "it is a low-order point (the shared secret would be zero)",
        })
    }
}

const X25519_LABEL: &[u8] = b"age-encryption.org/v1/X25519";

/// The raw public key of an `age1…` recipient.
pub(crate) fn recipient_bytes(recipient: &age::x25519::Recipient) -> Result<[u8; 32], StanzaError> {
    let (hrp, data, _) = bech32::decode(&recipient.to_string()).map_err(|_| StanzaError::BadRecipient)?;
    if hrp != "age" {
        return Err(StanzaError::BadRecipient);
    }
    let bytes = Vec::<u8>::from_base32(&data).map_err(|_| StanzaError::BadRecipient)?;
    <[u8; 32]>::try_from(bytes.as_slice()).map_err(|_| StanzaError::BadRecipient)
}

fn hkdf(salt: &[u8], label: &[u8], ikm: &[u8]) -> Zeroizing<[u8; 32]> {
    let mut okm = Zeroizing::new([0u8; 32]);
    // 32 bytes is far below HKDF-SHA256's 8160-byte limit, so expansion cannot fail.
    let _ = hkdf::Hkdf::<Sha256>::new(Some(salt), ikm).expand(label, okm.as_mut_slice());
    okm
}

/// ChaCha20-Poly1305 seal in place, tag appended.
fn seal(key: &[u8; 32], nonce: [u8; 12], buffer: &mut Vec<u8>) {
    let cipher = ChaCha20Poly1305::new(Key::from_slice(key));
    // Fails only if the buffer cannot grow by the tag; a `Vec` always can.
    let _ = cipher.encrypt_in_place(Nonce::from_slice(&nonce), b"", buffer);
}

/// The armored age file of `data_key` for `recipient`, built from `entropy` alone.
pub(crate) fn armored(
    recipient: &age::x25519::Recipient,
    data_key: &[u8; 32],
    entropy: &StanzaEntropy,
) -> Result<String, StanzaError> {
    let pk = PublicKey::from(recipient_bytes(recipient)?);
    let esk = StaticSecret::from(entropy.ephemeral);
    let epk = PublicKey::from(&esk);
    let shared = esk.diffie_hellman(&pk);
    if shared.as_bytes().iter().fold(0u8, |acc, b| acc | b) == 0 {
        return Err(StanzaError::LowOrderRecipient);
    }
    let mut salt = [0u8; 64];
    for (dst, src) in salt.iter_mut().zip(epk.as_bytes().iter().chain(pk.as_bytes())) {
        *dst = *src;
    }
    let wrap_key = hkdf(&salt, X25519_LABEL, shared.as_bytes());
    let mut body = entropy.file_key.to_vec();
    seal(&wrap_key, [0; 12], &mut body);

    let mut header = format!(
        "age-encryption.org/v1\n-> X25519 {}\n{}\n---",
        STANDARD_NO_PAD.encode(epk.as_bytes()),
        STANDARD_NO_PAD.encode(&body)
    );
    let mac_key = hkdf(b"", b"header", &entropy.file_key);
    // HMAC takes keys of any length.
    let mac = <Hmac<Sha256> as hmac::Mac>::new_from_slice(mac_key.as_slice())
        .map(|m| m.chain_update(header.as_bytes()).finalize().into_bytes())
        .map_err(|_| StanzaError::BadRecipient)?;
    header.push(' ');
    header.push_str(&STANDARD_NO_PAD.encode(mac));
    header.push('\n');

    let payload_key = hkdf(&entropy.nonce, b"payload", &entropy.file_key);
    let mut chunk = Zeroizing::new(data_key.to_vec());
    // STREAM nonce: an 11-byte big-endian counter (0) and the last-chunk flag.
    let mut nonce = [0u8; 12];
    nonce[11] = 1;
    seal(&payload_key, nonce, &mut chunk);

    let mut binary = header.into_bytes();
    binary.extend_from_slice(&entropy.nonce);
    binary.extend_from_slice(&chunk);
    let encoded = STANDARD.encode(&binary);
    let mut out = String::with_capacity(encoded.len() + 100);
    out.push_str("-----BEGIN AGE ENCRYPTED FILE-----\n");
    for line in encoded.as_bytes().chunks(64) {
        out.push_str(&String::from_utf8_lossy(line));
        out.push('\n');
    }
    out.push_str("-----END AGE ENCRYPTED FILE-----\n");
    Ok(out)
}

#[cfg(test)]
mod tests {
    use std::io::Read as _;
    use std::str::FromStr as _;

    use super::*;

    const SECRET: &str = "AGE-SECRET-KEY-13KT8YDE5VPTHFA0FJCQQH598E47SN35AK3MYPAQM0TJ9W8ZUZFLQCWARNX";

    fn entropy(seed: u8) -> StanzaEntropy {
        StanzaEntropy {
            file_key: [seed; 16],
            ephemeral: [seed.wrapping_add(1); 32],
            nonce: [seed.wrapping_add(2); 16],
        }
    }

    fn open(armored: &str, identity: &age::x25519::Identity) -> Result<Vec<u8>, age::DecryptError> {
        let reader = age::armor::ArmoredReader::new(armored.as_bytes());
        let decryptor = age::Decryptor::new_buffered(reader)?;
        let mut out = Vec::new();
        decryptor
            .decrypt(std::iter::once(identity as &dyn age::Identity))?
            .read_to_end(&mut out)
            .unwrap();
        Ok(out)
    }

    #[test]
    fn the_age_crate_opens_what_we_write_and_only_with_the_right_identity() {
        let identity = age::x25519::Identity::from_str(SECRET).unwrap();
        let key = [42u8; 32];
        let text = armored(&identity.to_public(), &key, &entropy(1)).unwrap();
        assert_eq!(open(&text, &identity).unwrap(), key);
        assert!(
            text.starts_with(
                "-----BEGIN AGE ENCRYPTED FILE-----\nYWdlLWVuY3J5cHRpb24ub3JnL3YxCi0+IFgyNTUxOSB"
            )
        );
        assert!(text.lines().all(|l| l.len() <= 64 || l.starts_with("-----")));
        let other = age::x25519::Identity::generate();
        assert!(matches!(
            open(&text, &other),
            Err(age::DecryptError::NoMatchingKeys)
        ));
    }

    #[test]
    fn same_entropy_same_bytes_other_entropy_other_bytes() {
        let recipient = age::x25519::Identity::from_str(SECRET).unwrap().to_public();
        let a = armored(&recipient, &[1; 32], &entropy(7)).unwrap();
        assert_eq!(a, armored(&recipient, &[1; 32], &entropy(7)).unwrap());
        assert_ne!(a, armored(&recipient, &[1; 32], &entropy(8)).unwrap());
        assert_eq!(format!("{:?}", entropy(7)), "StanzaEntropy(..)");
    }

    #[test]
    fn recipient_bytes_match_the_identity() {
        let identity = age::x25519::Identity::from_str(SECRET).unwrap();
        let secret = identity.to_string();
        let _ = secret;
        let bytes = recipient_bytes(&identity.to_public()).unwrap();
        assert_eq!(bytes.len(), 32);
        assert_eq!(
            StanzaError::LowOrderRecipient.to_string(),
            "it is a low-order point (the shared secret would be zero)"
        );
    }

    proptest::proptest! {
        #[test]
        fn any_key_and_entropy_round_trips(key in proptest::prelude::any::<[u8; 32]>(), fk in proptest::prelude::any::<[u8; 16]>(), e in proptest::prelude::any::<[u8; 32]>(), n in proptest::prelude::any::<[u8; 16]>()) {
            let identity = age::x25519::Identity::from_str(SECRET).unwrap();
            let text = armored(&identity.to_public(), &key, &StanzaEntropy { file_key: fk, ephemeral: e, nonce: n }).unwrap();
            proptest::prop_assert_eq!(open(&text, &identity).unwrap(), key);
        }
    }
}
