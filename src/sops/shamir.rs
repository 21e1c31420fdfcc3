//! Recombining a data key split across sops key groups (Shamir's secret sharing over GF(2^8)).
//!
//! A port of sops `shamir/shamir.go` `Combine` (itself from `HashiCorp` Vault): each share is
//! the y-bytes followed by one x-coordinate byte, the field is GF(2^8) with the AES polynomial
//! (0x11B), and the secret is the Lagrange interpolation at x = 0 using *all* shares given.
//!
//! It must not split (pullseal never encrypts) and must not panic on hostile shares: the
//! only division is by differences of distinct x values, checked before use. Intermediate
//! buffers are zeroized. Spec: `shared/reference/formats-and-peers.md` §1.4.

use zeroize::Zeroizing;

/// Why shares could not be combined.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ShamirError {
    TooFewShares,
    ShareTooShort,
    LengthMismatch,
    DuplicateShare,
}

impl std::fmt::Display for ShamirError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            ShamirError::TooFewShares => "fewer than two shares",
            ShamirError::ShareTooShort => "a share is shorter than two bytes",
            ShamirError::LengthMismatch => "the shares have different lengths",
            ShamirError::DuplicateShare => "two shares have the same x coordinate",
        })
    }
}

/// sops `shamir.Combine`.
pub(crate) fn combine(shares: &[Zeroizing<Vec<u8>>]) -> Result<Zeroizing<Vec<u8>>, ShamirError> {
    let [first, rest @ ..] = shares else {
        return Err(ShamirError::TooFewShares);
    };
    if rest.is_empty() {
        return Err(ShamirError::TooFewShares);
    }
    let Some((_, secret_part)) = first.split_last().filter(|(_, ys)| !ys.is_empty()) else {
        return Err(ShamirError::ShareTooShort);
    };
    let len = secret_part.len();
    let mut xs = Vec::with_capacity(shares.len());
    let mut ys = Vec::with_capacity(shares.len());
    for share in shares {
        let (x, y) = share.split_last().ok_or(ShamirError::ShareTooShort)?;
        if y.len() != len {
            return Err(ShamirError::LengthMismatch);
        }
        if xs.contains(x) {
            return Err(ShamirError::DuplicateShare);
        }
        xs.push(*x);
        ys.push(y);
    }
    let mut secret = Zeroizing::new(vec![0u8; len]);
    let mut samples = Zeroizing::new(vec![0u8; shares.len()]);
    for (idx, out) in secret.iter_mut().enumerate() {
        for (sample, y) in samples.iter_mut().zip(&ys) {
            *sample = y.get(idx).copied().unwrap_or(0);
        }
        *out = interpolate_at_zero(&xs, &samples);
    }
    Ok(secret)
}

/// Lagrange interpolation of the polynomial through `(xs[i], ys[i])`, evaluated at x = 0.
fn interpolate_at_zero(xs: &[u8], ys: &[u8]) -> u8 {
    let mut result = 0u8;
    for (i, (&xi, &yi)) in xs.iter().zip(ys).enumerate() {
        let mut basis = 1u8;
        for (j, &xj) in xs.iter().enumerate() {
            if i != j {
                // num = 0 + xj, denom = xi + xj (addition is XOR); xi != xj was checked.
                basis = mult(basis, div(xj, xi ^ xj));
            }
        }
        result ^= mult(yi, basis);
    }
    result
}

fn div(a: u8, b: u8) -> u8 {
    mult(a, inverse(b))
}

/// a^254 = a^-1 in GF(2^8); 0 maps to 0 (never used: denominators are non-zero).
fn inverse(a: u8) -> u8 {
    let mut b = mult(a, a);
    let mut c = mult(a, b);
    b = mult(c, c);
    b = mult(b, b);
    c = mult(b, c);
    b = mult(b, b);
    b = mult(b, b);
    b = mult(b, c);
    b = mult(b, b);
    b = mult(a, b);
    mult(b, b)
}

/// Constant-time multiplication in GF(2^8) modulo x^8 + x^4 + x^3 + x + 1.
fn mult(a: u8, b: u8) -> u8 {
    let mut acc = 0u8;
    for i in (0..8).rev() {
        let bit = (b >> i) & 1;
        let a_or_zero = bit.wrapping_neg() & a;
        let reduce = (acc >> 7).wrapping_neg() & 0x1B;
        acc = a_or_zero ^ (reduce ^ acc.wrapping_add(acc));
    }
    acc
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// Test-only twin of sops `shamir.Split` with caller-chosen coefficients.
    pub(crate) fn split(secret: &[u8], parts: u8, coefficients: &[u8]) -> Vec<Zeroizing<Vec<u8>>> {
        (1..=parts)
            .map(|x| {
                let mut share: Vec<u8> = secret
                    .iter()
                    .map(|&s| {
                        // Horner: s + c1 x + c2 x^2 + …
                        let mut out = 0u8;
                        for &c in coefficients.iter().rev() {
                            out = mult(out, x) ^ c;
                        }
                        mult(out, x) ^ s
                    })
                    .collect();
                share.push(x);
                Zeroizing::new(share)
            })
            .collect()
    }

    #[test]
    fn field_arithmetic_matches_vault() {
        // Known vectors from hashicorp/vault shamir_test.go.
        assert_eq!(mult(3, 7), 9);
        assert_eq!(mult(3, 0), 0);
        assert_eq!(div(0, 7), 0);
        assert_eq!(div(3, 3), 1);
        assert_eq!(div(6, 3), 2);
        for a in 1..=255u8 {
            assert_eq!(mult(a, inverse(a)), 1);
        }
    }

    #[test]
    fn any_threshold_subset_recovers_the_secret() {
        let secret = b"0123456789abcdef0123456789abcdef";
        let shares = split(secret, 3, &[0x42, 0x17]);
        for pick in [[0, 1, 2].as_slice(), &[0, 2], &[1, 2], &[0, 1]] {
            let chosen: Vec<_> = pick.iter().map(|&i| shares[i].clone()).collect();
            // Threshold 3 needs all three; two give garbage but must not fail or panic.
            let out = combine(&chosen).unwrap();
            assert_eq!(out.len(), 32);
            if pick.len() == 3 {
                assert_eq!(&out[..], secret);
            }
        }
        let two = split(secret, 2, &[0x99]);
        assert_eq!(&combine(&two).unwrap()[..], secret);
    }

    #[test]
    fn hostile_shares_are_refused() {
        let a = Zeroizing::new(vec![1, 2, 3]);
        assert_eq!(combine(std::slice::from_ref(&a)), Err(ShamirError::TooFewShares));
        assert_eq!(combine(&[a.clone(), a.clone()]), Err(ShamirError::DuplicateShare));
        assert_eq!(
            combine(&[a.clone(), Zeroizing::new(vec![1, 4])]),
            Err(ShamirError::LengthMismatch)
        );
        assert_eq!(
            combine(&[Zeroizing::new(vec![1]), Zeroizing::new(vec![2])]),
            Err(ShamirError::ShareTooShort)
        );
    }
}
