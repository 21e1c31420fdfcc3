//! RSA-OAEP encryption with SHA-256 and MGF1-SHA-256 (RFC 8017 §7.1.1, RSAES-OAEP-ENCRYPT),
//! with the OAEP seed handed in by the caller: what sealed-secrets' `HybridEncrypt` does with
//! Go's `rsa.EncryptOAEP(sha256.New(), rand, pub, key, label)`.
//!
//! The encoding is written here so that the seed comes from the sealing derivation, and the
//! public operation `m^e mod n` runs over a Montgomery form of the modulus prepared once per
//! certificate ([`crypto_bigint`], the `RustCrypto` project's constant-time big integers, the backend of
//! the `rsa` crate from 0.10 on): in fixed-size integers for 2048-, 3072- and 4096-bit moduli
//! (sealed-secrets makes 4096-bit keys), whose loops the compiler unrolls, and in heap-sized
//! ones for any other size. The exponent is public, so the exponentiation is plain
//! left-to-right square-and-multiply: 16 squarings and one multiplication for 65537, where
//! a general-purpose `modpow` spends about a hundred multiplications on a 4096-bit key. The
//! last multiplication takes `m` as it is rather than in Montgomery form, which leaves the
//! plain result and saves converting back. Only `m` is secret (it unmasks to the session
//! key), and every operation on it is constant-time.
//!
//! What this file must *not* do: draw randomness (the seed is a parameter), decrypt (there is
//! no private key here; the tests open what it writes with the independent `rsa` crate), or
//! let the message, the seed or the encoded block outlive the call or reach an error.

use std::sync::OnceLock;

use crypto_bigint::modular::{BoxedMontyForm, BoxedMontyParams, FixedMontyForm, FixedMontyParams};
use crypto_bigint::{BoxedUint, MontyForm, Odd, U2048, U3072, U4096, Uint, Word};
use sha2::{Digest, Sha256};
use zeroize::{Zeroize, Zeroizing};

use super::SealError;

/// SHA-256's output length, the `hLen` of RFC 8017.
pub(super) const HASH_BYTES: usize = 32;
/// The smallest public exponent accepted, as the `rsa` crate and Go's `crypto/rsa` check it.
const MIN_PUBLIC_EXPONENT: u64 = 2;
/// The largest public exponent accepted (2^33 - 1, the `rsa` crate's bound; Go allows 2^31 - 1).
const MAX_PUBLIC_EXPONENT: u64 = (1 << 33) - 1;

/// What [`SealError::Encrypt`] says this module was doing.
const STEP: &str = "wrapping the session key with RSA-OAEP";

/// An RSA public key ready for the public operation: the modulus, its Montgomery parameters
/// (made on first use: a catalog has a certificate per cluster, a render seals for one) and
/// the exponent. Clones share the parameters once made.
#[derive(Clone)]
pub(super) struct PublicKey {
    modulus: Odd<BoxedUint>,
    params: OnceLock<Params>,
    exponent: u64,
    /// The modulus length in bytes, `k` in RFC 8017.
    size: usize,
    /// The modulus length in bits.
    bits: usize,
}

impl PublicKey {
    /// The key with big-endian `modulus` and `exponent` (leading zero bytes allowed), checked as
    /// the `rsa` crate checks a public key, with the same messages: an odd modulus of at most
    /// `max_bits` bits and an odd exponent from 3 to 2^33 - 1, smaller than the modulus.
    pub(super) fn new(modulus: &[u8], exponent: &[u8], max_bits: usize) -> Result<PublicKey, SealError> {
        let invalid = |reason: &str| SealError::InvalidRsaKey {
            reason: reason.to_owned(),
        };
        let modulus = trim_leading_zeros(modulus);
        let exponent = trim_leading_zeros(exponent);
        let bits = bit_length(modulus);
        if bits > max_bits {
            return Err(invalid("modulus too large"));
        }
        let e = to_u64(exponent).ok_or_else(|| invalid("public exponent too large"))?;
        let n = BoxedUint::from_be_slice_vartime(modulus);
        // Odd, and larger than the exponent (which fits 64 bits): a modulus of one limb is
        // compared as a number, a longer one is larger than any exponent.
        let odd = modulus.last().is_some_and(|low| low & 1 == 1);
        let above_exponent = modulus.len() > 8 || to_u64(modulus).is_some_and(|small| small > e);
        let Some(n) = Odd::new(n).into_option().filter(|_| odd && above_exponent) else {
            return Err(invalid("invalid modulus"));
        };
        if e % 2 == 0 {
            return Err(invalid("invalid exponent"));
        }
        if e < MIN_PUBLIC_EXPONENT {
            return Err(invalid("public exponent too small"));
        }
        if e > MAX_PUBLIC_EXPONENT {
            return Err(invalid("public exponent too large"));
        }
        Ok(PublicKey {
            modulus: n,
            params: OnceLock::new(),
            exponent: e,
            size: modulus.len(),
            bits,
        })
    }

    /// The modulus length in bytes: the length of every ciphertext.
    #[cfg(test)]
    pub(super) fn size(&self) -> usize {
        self.size
    }

    /// The modulus length in bits.
    pub(super) fn bits(&self) -> usize {
        self.bits
    }

    /// RSAES-OAEP-ENCRYPT of `message` with `label`, SHA-256 for the label hash and MGF1, and
    /// `seed` as the OAEP seed: `k` bytes, `k` the modulus length.
    pub(super) fn encrypt(
        &self,
        seed: &[u8; HASH_BYTES],
        message: &[u8],
        label: &[u8],
    ) -> Result<Vec<u8>, SealError> {
        let encoded = encode(self.size, seed, message, label)?;
        self.raw(&encoded)
    }

    /// `m^e mod n` for the encoded message `encoded` (`k` bytes, first byte zero, so below the
    /// modulus), as `k` big-endian bytes.
    fn raw(&self, encoded: &[u8]) -> Result<Vec<u8>, SealError> {
        // The modulus is public: its precomputation may take variable time.
        let params = self.params.get_or_init(|| Params::new(&self.modulus));
        let out = match params {
            Params::U2048(params) => fixed(encoded, params, self.exponent)?,
            Params::U3072(params) => fixed(encoded, params, self.exponent)?,
            Params::U4096(params) => fixed(encoded, params, self.exponent)?,
            Params::Boxed(params) => {
                let m = BoxedUint::from_be_slice(encoded, params.bits_precision()).map_err(|err| {
                    SealError::Encrypt {
                        step: STEP,
                        reason: format!("the encoded message does not fit the modulus: {err:?}"),
                    }
                })?;
                let power = Zeroizing::new(power::<BoxedMontyForm>(m, params, self.exponent));
                Zeroizing::new(power.to_be_bytes().into_vec())
            }
        };
        let zeros = out.len().saturating_sub(self.size);
        match out.split_at_checked(zeros) {
            Some((high, low)) if high.iter().all(|&b| b == 0) => Ok(low.to_vec()),
            _ => Err(SealError::Encrypt {
                step: STEP,
                reason: "the RSA result is longer than the modulus".to_owned(),
            }),
        }
    }
}

/// A modulus's Montgomery parameters, in the integer size that fits it.
#[derive(Clone)]
enum Params {
    U2048(Box<FixedMontyParams<{ U2048::LIMBS }>>),
    U3072(Box<FixedMontyParams<{ U3072::LIMBS }>>),
    U4096(Box<FixedMontyParams<{ U4096::LIMBS }>>),
    Boxed(BoxedMontyParams),
}

impl Params {
    fn new(modulus: &Odd<BoxedUint>) -> Params {
        let words = modulus.as_words();
        Option::<Params>::None
            .or_else(|| fixed_params(words).map(Params::U2048))
            .or_else(|| fixed_params(words).map(Params::U3072))
            .or_else(|| fixed_params(words).map(Params::U4096))
            .unwrap_or_else(|| Params::Boxed(BoxedMontyParams::new_vartime(modulus.clone())))
    }
}

/// The parameters of the modulus with little-endian `words` in a `LIMBS`-word integer, if
/// that is its exact size (a trimmed modulus of 2,041 to 2,048 bits has 32 words).
fn fixed_params<const LIMBS: usize>(words: &[Word]) -> Option<Box<FixedMontyParams<LIMBS>>> {
    let words: [Word; LIMBS] = words.try_into().ok()?;
    let odd = Odd::new(Uint::<LIMBS>::from_words(words)).into_option()?;
    Some(Box::new(FixedMontyParams::new_vartime(odd)))
}

/// `m^e mod n` in a `LIMBS`-word integer, as big-endian bytes.
fn fixed<const LIMBS: usize>(
    encoded: &[u8],
    params: &FixedMontyParams<LIMBS>,
    exponent: u64,
) -> Result<Zeroizing<Vec<u8>>, SealError> {
    let bytes = Word::BITS as usize / 8;
    let too_long = || SealError::Encrypt {
        step: STEP,
        reason: "the encoded message does not fit the modulus".to_owned(),
    };
    // Big-endian bytes to little-endian words, the message right-aligned.
    let mut words = Zeroizing::new([Word::default(); LIMBS]);
    let padding = (LIMBS * bytes).checked_sub(encoded.len()).ok_or_else(too_long)?;
    for (i, byte) in encoded.iter().enumerate() {
        let at = padding + i;
        let word = words.get_mut(LIMBS - 1 - at / bytes).ok_or_else(too_long)?;
        *word |= Word::from(*byte) << (8 * (bytes - 1 - at % bytes));
    }
    let m = Uint::<LIMBS>::from_words(*words);
    let power = Zeroizing::new(power::<FixedMontyForm<LIMBS>>(m, params, exponent));
    let mut out = Zeroizing::new(Vec::with_capacity(LIMBS * bytes));
    for word in power.as_words().iter().rev() {
        out.extend_from_slice(&word.to_be_bytes());
    }
    Ok(out)
}

/// `m^exponent mod n` (`m` below `n`, `exponent` odd and at least 3), left to right over the
/// exponent's bits. The last step multiplies by `m` taken as a Montgomery form, which leaves
/// `m^exponent` itself rather than its Montgomery form.
fn power<M>(m: M::Integer, params: &M::Params, exponent: u64) -> M::Integer
where
    M: MontyForm + Zeroize,
    M::Integer: Zeroize,
{
    let m = Zeroizing::new(m);
    let base = Zeroizing::new(M::new(M::Integer::clone(&m), params));
    let mut acc = Zeroizing::new(M::clone(&base));
    for bit in (1..exponent.ilog2()).rev() {
        *acc = acc.square();
        if exponent >> bit & 1 == 1 {
            *acc = M::clone(&acc) * &*base;
        }
    }
    // Bit 0 is set: the exponent is odd.
    *acc = acc.square();
    let plain = Zeroizing::new(M::from_montgomery(M::Integer::clone(&m), params));
    (M::clone(&acc) * &*plain).into_montgomery()
}

/// EME-OAEP encoding (RFC 8017 §7.1.1 step 2): `0x00 || maskedSeed || maskedDB`, where
/// `DB = SHA-256(label) || zeros || 0x01 || message`, `k` bytes in all.
fn encode(
    k: usize,
    seed: &[u8; HASH_BYTES],
    message: &[u8],
    label: &[u8],
) -> Result<Zeroizing<Vec<u8>>, SealError> {
    if message.len() + 2 * HASH_BYTES + 2 > k {
        return Err(SealError::Encrypt {
            step: STEP,
            reason: "message too long".to_owned(),
        });
    }
    let mut em = Zeroizing::new(vec![0u8; k]);
    let too_short = || SealError::Encrypt {
        step: STEP,
        reason: "message too long".to_owned(),
    };
    let (head, db) = em.split_at_mut_checked(1 + HASH_BYTES).ok_or_else(too_short)?;
    let masked_seed = head.get_mut(1..).ok_or_else(too_short)?;
    masked_seed.copy_from_slice(seed);
    let ps_end = db.len() - message.len() - 1;
    db.get_mut(..HASH_BYTES)
        .ok_or_else(too_short)?
        .copy_from_slice(&Sha256::digest(label));
    *db.get_mut(ps_end).ok_or_else(too_short)? = 1;
    db.get_mut(ps_end + 1..)
        .ok_or_else(too_short)?
        .copy_from_slice(message);
    mgf1_xor(db, masked_seed);
    mgf1_xor(masked_seed, db);
    Ok(em)
}

/// `out ^= MGF1-SHA-256(seed, out.len())`.
fn mgf1_xor(out: &mut [u8], seed: &[u8]) {
    let mut counter: u32 = 0;
    for chunk in out.chunks_mut(HASH_BYTES) {
        let mut mask: [u8; HASH_BYTES] = Sha256::new()
            .chain_update(seed)
            .chain_update(counter.to_be_bytes())
            .finalize()
            .into();
        for (byte, m) in chunk.iter_mut().zip(mask) {
            *byte ^= m;
        }
        mask.zeroize();
        counter = counter.wrapping_add(1);
    }
}

fn trim_leading_zeros(bytes: &[u8]) -> &[u8] {
    let first = bytes.iter().position(|&b| b != 0).unwrap_or(bytes.len());
    bytes.get(first..).unwrap_or_default()
}

/// The length in bits of the big-endian number `bytes` (no leading zero bytes).
fn bit_length(bytes: &[u8]) -> usize {
    bytes.first().map_or(0, |&top| {
        (bytes.len() - 1) * 8 + (8 - top.leading_zeros() as usize)
    })
}

/// The big-endian number `bytes` (no leading zero bytes) if it fits 64 bits.
fn to_u64(bytes: &[u8]) -> Option<u64> {
    (bytes.len() <= 8).then(|| bytes.iter().fold(0u64, |acc, &b| acc << 8 | u64::from(b)))
}

#[cfg(test)]
mod tests {
    use rsa::pkcs8::DecodePrivateKey as _;
    use rsa::traits::PublicKeyParts as _;
    use rsa::{Oaep, RsaPrivateKey};

    use super::*;

    const TEST_KEY: &str = include_str!("../../testdata/keys/sealed-secrets-test.key");

    fn keys() -> (RsaPrivateKey, PublicKey) {
        let private = RsaPrivateKey::from_pkcs8_pem(TEST_KEY).unwrap();
        let public = PublicKey::new(&private.n().to_bytes_be(), &private.e().to_bytes_be(), 16384).unwrap();
        (private, public)
    }

    /// An RNG that hands out one fixed 32-byte block: the `rsa` crate's OAEP seed.
    struct Fixed([u8; 32]);
    impl rand_core::RngCore for Fixed {
        fn next_u32(&mut self) -> u32 {
            unreachable!()
        }
        fn next_u64(&mut self) -> u64 {
            unreachable!()
        }
        fn fill_bytes(&mut self, dest: &mut [u8]) {
            dest.copy_from_slice(&self.0);
        }
        fn try_fill_bytes(&mut self, dest: &mut [u8]) -> Result<(), rand_core::Error> {
            dest.copy_from_slice(&self.0);
            Ok(())
        }
    }
    impl rand_core::CryptoRng for Fixed {}

    /// The `rsa` crate, an independent implementation, opens what this one writes, and both
    /// give the same bytes for the same seed (the `rsa` crate takes the seed from an RNG).
    #[test]
    fn matches_the_rsa_crate_byte_for_byte() {
        let (private, public) = keys();
        for (seed, message, label) in [
            (
                [1u8; 32],
                &b"session key of thirty-two bytes!"[..],
                "team-a/regcred",
            ),
            ([0xff; 32], b"", ""),
            ([0; 32], &[0u8; 446][..], "x"),
        ] {
            let mine = public.encrypt(&seed, message, label.as_bytes()).unwrap();
            let theirs = private
                .to_public_key()
                .encrypt(
                    &mut Fixed(seed),
                    Oaep::new_with_label::<Sha256, _>(label),
                    message,
                )
                .unwrap();
            assert_eq!(mine, theirs);
            let opened = private
                .decrypt(Oaep::new_with_label::<Sha256, _>(label), &mine)
                .unwrap();
            assert_eq!(opened, message);
        }
        // One byte more than OAEP-SHA-256 fits in 512 bytes.
        let err = public.encrypt(&[0; 32], &[0u8; 447], b"").unwrap_err();
        assert_eq!(
            err.to_string(),
            "sealing failed while wrapping the session key with RSA-OAEP: message too long"
        );
    }

    #[test]
    fn keys_are_checked_as_the_rsa_crate_checks_them() {
        let (private, _) = keys();
        let n = private.n().to_bytes_be();
        let refusal = |modulus: &[u8], exponent: &[u8], max: usize| {
            PublicKey::new(modulus, exponent, max)
                .err()
                .map(|e| e.to_string())
                .unwrap_or_default()
        };
        let mut even = n.clone();
        *even.last_mut().unwrap() &= 0xfe;
        let messages = [
            refusal(&n, &[1, 0, 1], 4095),
            refusal(&n, &[1, 0, 0, 0, 0, 0, 0, 0, 1], 16384),
            refusal(&even, &[1, 0, 1], 16384),
            refusal(&[0x0f], &[17], 16384),
            refusal(&[], &[3], 16384),
            refusal(&n, &[1, 0, 0], 16384),
            refusal(&n, &[1], 16384),
            refusal(&n, &[2, 0, 0, 0, 1], 16384),
        ];
        insta::assert_snapshot!(messages.join("\n"), @r"
        sealing certificate has an unusable RSA public key: modulus too large
        sealing certificate has an unusable RSA public key: public exponent too large
        sealing certificate has an unusable RSA public key: invalid modulus
        sealing certificate has an unusable RSA public key: invalid modulus
        sealing certificate has an unusable RSA public key: invalid modulus
        sealing certificate has an unusable RSA public key: invalid exponent
        sealing certificate has an unusable RSA public key: public exponent too small
        sealing certificate has an unusable RSA public key: public exponent too large
        ");
        // Leading zero bytes do not count.
        let padded: Vec<u8> = [0, 0].iter().chain(&n).copied().collect();
        let key = PublicKey::new(&padded, &[0, 1, 0, 1], 4096).unwrap();
        assert_eq!((key.size(), key.bits()), (512, 4096));
    }

    /// Every modulus size has its own integer width (2048, 3072 and 4096 bits fixed-size, 2100
    /// and 4000 heap-sized): each matches the `rsa` crate byte for byte, for 65537 and for
    /// exponents with other bit patterns, and the `rsa` crate opens what OAEP writes.
    #[test]
    fn every_modulus_size_matches_the_rsa_crate() {
        for (pem, bits) in [
            (include_str!("../../testdata/keys/rsa-2048.key"), 2048),
            (include_str!("../../testdata/keys/rsa-2100.key"), 2100),
            (include_str!("../../testdata/keys/rsa-3072.key"), 3072),
            (include_str!("../../testdata/keys/rsa-4000.key"), 4000),
            (TEST_KEY, 4096),
        ] {
            let private = RsaPrivateKey::from_pkcs8_pem(pem).unwrap();
            let n = private.n().to_bytes_be();
            let key = PublicKey::new(&n, &[1, 0, 1], 16384).unwrap();
            assert_eq!(key.bits(), bits);
            let params = key.params.get_or_init(|| Params::new(&key.modulus));
            let width = match params {
                Params::U2048(_) => 2048,
                Params::U3072(_) => 3072,
                Params::U4096(_) => 4096,
                Params::Boxed(_) => 0,
            };
            assert_eq!(width, if bits % 1024 == 0 { bits } else { 0 }, "{bits} bits");
            let sealed = key.encrypt(&[7; 32], b"a session key", b"ns/name").unwrap();
            assert_eq!(sealed.len(), n.len());
            let opened = private
                .decrypt(Oaep::new_with_label::<Sha256, _>("ns/name"), &sealed)
                .unwrap();
            assert_eq!(opened, b"a session key", "{bits} bits");
            for e in [3u64, 65537, 0b1011_0110_0111, (1 << 33) - 1] {
                let key = PublicKey::new(&n, &e.to_be_bytes(), 16384).unwrap();
                let theirs = rsa::RsaPublicKey::new(private.n().clone(), rsa::BigUint::from(e)).unwrap();
                // The largest message (all ones below a zero top byte) and a small one.
                for fill in [0xff_u8, 0x01] {
                    let mut message = vec![fill; n.len()];
                    message[0] = 0;
                    let mine = key.raw(&message).unwrap();
                    let want =
                        rsa::hazmat::rsa_encrypt(&theirs, &rsa::BigUint::from_bytes_be(&message)).unwrap();
                    assert_eq!(rsa::BigUint::from_bytes_be(&mine), want, "{bits} bits, e = {e}");
                    assert_eq!(mine.len(), n.len());
                }
            }
        }
    }

    /// Other exponents go through the same square-and-multiply: 3 (one squaring, one
    /// multiplication) and a 33-bit one with many bits set.
    #[test]
    fn other_exponents_match_the_rsa_crate() {
        let (private, _) = keys();
        let n = private.n().to_bytes_be();
        for e in [3u64, 17, (1 << 33) - 1] {
            let key = PublicKey::new(&n, &e.to_be_bytes(), 16384).unwrap();
            let theirs = rsa::RsaPublicKey::new(private.n().clone(), rsa::BigUint::from(e)).unwrap();
            let message = vec![0x5a; 200];
            let mut encoded = encode(512, &[3; 32], &message, b"l").unwrap();
            let mine = key.raw(&encoded).unwrap();
            let want = rsa::hazmat::rsa_encrypt(&theirs, &rsa::BigUint::from_bytes_be(&encoded)).unwrap();
            assert_eq!(rsa::BigUint::from_bytes_be(&mine), want, "e = {e}");
            encoded.zeroize();
        }
    }
}
