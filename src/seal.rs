//! Sealing: turning a rendered pull-secret value into ciphertext that only one cluster's
//! sealed-secrets controller can open.
//!
//! This module is the surface the rest of the crate uses: the [`Scope`] a value is sealed for,
//! the [`SealTarget`] it is bound to, the controller [`Certificate`] it is sealed with, the
//! [`seal`] function itself and its one error type, [`SealError`]. The scheme lives in
//! `seal/sealed_secrets.rs`; its `//!` docs explain why sealing here is deterministic.
//!
//! What this module must *not* do:
//! - build `SealedSecret` documents or touch YAML (rendering owns document shapes; this module
//!   hands back one base64 blob per data key plus the scope annotation to put on the object);
//! - read files, the clock or a random source (the certificate arrives as text, "now" is a
//!   parameter of [`Certificate::check_valid_at`], and all randomness is derived);
//! - put plaintext, session keys, seeds or the derivation key in an error or a `Debug` output.
//!
//! Scopes and labels follow sealed-secrets
//! `pkg/apis/sealedsecrets/v1alpha1/sealedsecret_expansion.go` (`EncryptionLabel`,
//! `SecretScope`); see <https://github.com/bitnami-labs/sealed-secrets#scopes>.

mod oaep;
mod sealed_secrets;

use std::fmt;
use std::str::FromStr;

use time::OffsetDateTime;
use zeroize::Zeroizing;

use crate::reference::{is_dns_label, is_dns_subdomain};

pub use sealed_secrets::{Certificate, MIN_RSA_BITS, seal};

/// The annotation that marks a `SealedSecret` as sealed for its whole namespace.
const NAMESPACE_WIDE_ANNOTATION: &str = "sealedsecrets.bitnami.com/namespace-wide";
/// The annotation that marks a `SealedSecret` as sealed for the whole cluster.
const CLUSTER_WIDE_ANNOTATION: &str = "sealedsecrets.bitnami.com/cluster-wide";

/// How tightly a sealed value is bound to the object that carries it.
///
/// The controller recomputes the label from the `SealedSecret`'s *own* `metadata.namespace`,
/// `metadata.name` and top-level annotations, so a strict value stops opening as soon as the
/// object is renamed or moved (for example by a kustomize `namePrefix` or `namespace`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum Scope {
    /// Bound to one namespace and one name (the sealed-secrets default).
    #[default]
    Strict,
    /// Bound to one namespace; the object may be renamed.
    NamespaceWide,
    /// Not bound to any namespace or name.
    ClusterWide,
}

impl Scope {
    /// Every scope, in order from tightest to loosest.
    pub const ALL: [Scope; 3] = [Scope::Strict, Scope::NamespaceWide, Scope::ClusterWide];

    /// The annotation (key, value) that must sit on the `SealedSecret`'s *top-level*
    /// `metadata.annotations` for the controller to use this scope; `None` for strict, which
    /// is what the controller assumes when neither annotation is present.
    pub fn annotation(&self) -> Option<(&'static str, &'static str)> {
        match self {
            Scope::Strict => None,
            Scope::NamespaceWide => Some((NAMESPACE_WIDE_ANNOTATION, "true")),
            Scope::ClusterWide => Some((CLUSTER_WIDE_ANNOTATION, "true")),
        }
    }

    /// The RSA-OAEP label for a value sealed in this scope: `"<namespace>/<name>"` for strict,
    /// `"<namespace>"` for namespace-wide and empty for cluster-wide.
    ///
    /// `namespace` must be a DNS-1123 label (or empty, for cluster-wide) and `name` a DNS-1123
    /// subdomain, as the API server requires; anything else is refused before a label is
    /// built. That is what keeps the labels of different scopes apart: without it, namespace
    /// `shop/pullseal-x` would give the namespace-wide label `shop/pullseal-x`, which is also
    /// the strict label of the secret `pullseal-x` in `shop`.
    pub fn label(&self, namespace: &str, name: &str) -> Result<Vec<u8>, SealError> {
        self.label_string(namespace, name).map(String::into_bytes)
    }

    /// [`Scope::label`] as text: the `rsa` crate takes OAEP labels as strings, and every
    /// label is built from strings, so no conversion can fail.
    pub(crate) fn label_string(self, namespace: &str, name: &str) -> Result<String, SealError> {
        if !is_dns_subdomain(name) {
            return Err(SealError::InvalidName {
                name: name.to_owned(),
            });
        }
        // A cluster-wide value ignores the namespace, but an object that has one still needs
        // a valid one; only the empty namespace is let through, and only here.
        if !(is_dns_label(namespace) || self == Scope::ClusterWide && namespace.is_empty()) {
            return Err(SealError::InvalidNamespace {
                namespace: namespace.to_owned(),
            });
        }
        Ok(match self {
            Scope::Strict => format!("{namespace}/{name}"),
            Scope::NamespaceWide => namespace.to_owned(),
            Scope::ClusterWide => String::new(),
        })
    }

    /// The name used on the command line, in the catalog and by `kubeseal --scope`.
    pub fn as_str(&self) -> &'static str {
        match self {
            Scope::Strict => "strict",
            Scope::NamespaceWide => "namespace-wide",
            Scope::ClusterWide => "cluster-wide",
        }
    }
}

impl fmt::Display for Scope {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Scope {
    type Err = SealError;

    fn from_str(input: &str) -> Result<Self, Self::Err> {
        Scope::ALL
            .into_iter()
            .find(|scope| scope.as_str() == input)
            .ok_or_else(|| SealError::UnknownScope {
                input: input.to_owned(),
            })
    }
}

/// A value to be sealed (a `.dockerconfigjson`), in one buffer that is allocated once at its
/// final size and zeroized when dropped. `Debug` shows its length, never its bytes.
///
/// Sized once because a buffer that grows is copied, and the old copy is freed without being
/// zeroized: the start of the credential would stay in freed memory.
pub struct Plaintext {
    bytes: Zeroizing<Vec<u8>>,
}

impl Plaintext {
    /// Builds a plaintext from the parts `write` hands to its sink. `write` is called twice,
    /// first to measure and then to fill a buffer of exactly that length, so it must hand
    /// over the same parts both times (it should only read its inputs).
    pub fn build(write: impl Fn(&mut dyn FnMut(&str))) -> Plaintext {
        let mut len = 0usize;
        write(&mut |part: &str| len = len.saturating_add(part.len()));
        let mut bytes = Zeroizing::new(Vec::with_capacity(len));
        write(&mut |part: &str| bytes.extend_from_slice(part.as_bytes()));
        Plaintext { bytes }
    }

    /// The bytes, for sealing.
    pub fn as_bytes(&self) -> &[u8] {
        &self.bytes
    }

    /// The length in bytes.
    pub fn len(&self) -> usize {
        self.bytes.len()
    }

    /// Whether the plaintext is empty.
    pub fn is_empty(&self) -> bool {
        self.bytes.is_empty()
    }

    /// The buffer's allocated size, for the test that checks it was sized once.
    #[cfg(test)]
    pub(crate) fn capacity(&self) -> usize {
        self.bytes.capacity()
    }
}

impl fmt::Debug for Plaintext {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Plaintext")
            .field("len", &self.len())
            .finish_non_exhaustive()
    }
}

/// What a sealed value is bound to. Every part feeds the deterministic derivation, so the
/// ciphertext changes whenever any of them changes; `namespace`, `name` and `scope` also make
/// up the OAEP label the controller checks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SealTarget<'a> {
    /// The catalog's name for the cluster whose controller certificate is used.
    pub cluster: &'a str,
    /// The `SealedSecret`'s `metadata.namespace` (required unless cluster-wide).
    pub namespace: &'a str,
    /// The `SealedSecret`'s `metadata.name`.
    pub name: &'a str,
    /// The data key the value is sealed under, e.g. `.dockerconfigjson`.
    pub key: &'a str,
    /// The scope the value is sealed for.
    pub scope: Scope,
}

/// Everything that can go wrong while reading a certificate or sealing a value.
///
/// Messages name the certificate problem or the target, never plaintext, session keys,
/// seeds or the derivation key.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SealError {
    /// A scope name other than `strict`, `namespace-wide` or `cluster-wide`.
    #[error("unknown sealing scope `{input}` (expected strict, namespace-wide or cluster-wide)")]
    UnknownScope {
        /// The text that was given.
        input: String,
    },
    /// The certificate text has no `-----BEGIN CERTIFICATE-----` block.
    #[error("no PEM CERTIFICATE block found in the sealing certificate")]
    NoCertificate,
    /// The first `CERTIFICATE` block is not terminated or its body is not base64.
    #[error("sealing certificate is not valid PEM: {reason}")]
    InvalidPem {
        /// What is wrong with the block.
        reason: String,
    },
    /// The PEM body is not a DER X.509 certificate.
    #[error("sealing certificate is not a valid X.509 certificate: {reason}")]
    InvalidCertificate {
        /// The decoder's description of the problem.
        reason: String,
    },
    /// The certificate's key is not RSA, so it cannot wrap a session key with RSA-OAEP.
    #[error("sealing certificate's public key is {algorithm} ({oid}), but sealed-secrets needs an RSA key")]
    NotRsa {
        /// A readable name for the key algorithm, or "unknown".
        algorithm: &'static str,
        /// The key algorithm's object identifier.
        oid: String,
    },
    /// The certificate claims an RSA key that cannot be used.
    #[error("sealing certificate has an unusable RSA public key: {reason}")]
    InvalidRsaKey {
        /// Why the key was rejected.
        reason: String,
    },
    /// The certificate's RSA key is too short to protect anything (a 1024-bit modulus can be
    /// factored by a well-funded attacker); the controller's own keys are 4096 bits.
    #[error("sealing certificate's RSA key is {bits} bits, at least {MIN_RSA_BITS} are required")]
    WeakRsaKey {
        /// The modulus length in bits.
        bits: usize,
    },
    /// A cluster set to `seal: sealed-secrets` has no certificate: nothing can be sealed, and
    /// writing a plain Secret instead would publish the credential.
    #[error("the cluster seals with sealed-secrets but has no certificate")]
    MissingCertificate,
    /// A cluster set to `seal: sops` has no age recipient to encrypt to.
    #[error("the cluster seals with sops but has no ageRecipients")]
    NoAgeRecipients,
    /// SOPS encryption of a `seal: sops` Secret failed (its messages name key paths only).
    #[error("cannot SOPS-encrypt the secret")]
    Sops(#[source] Box<crate::sops::SopsError>),
    /// `now` is after the certificate's notAfter; kubeseal refuses to seal with it too.
    #[error("sealing certificate expired at {} (notAfter)", utc(.not_after))]
    Expired {
        /// The certificate's notAfter.
        not_after: OffsetDateTime,
    },
    /// `now` is before the certificate's notBefore.
    #[error(
        "sealing certificate is not valid before {} (notBefore), it expires at {} (notAfter)",
        utc(.not_before),
        utc(.not_after)
    )]
    NotYetValid {
        /// The certificate's notBefore.
        not_before: OffsetDateTime,
        /// The certificate's notAfter.
        not_after: OffsetDateTime,
    },
    /// A strict or namespace-wide value needs a namespace for its label.
    #[error("cannot seal `{key}` of secret `{name}` with {scope} scope: the secret has no namespace")]
    MissingNamespace {
        /// The secret's name.
        name: String,
        /// The data key being sealed.
        key: String,
        /// The scope that needs the namespace.
        scope: Scope,
    },
    /// The namespace is not a DNS-1123 label, so it could make one scope's OAEP label equal to
    /// another's (and the API server would refuse the object anyway).
    #[error(
        "cannot seal for namespace `{namespace}`: a namespace must be a DNS-1123 label (at most 63 lowercase letters, digits and '-', starting and ending with a letter or digit)"
    )]
    InvalidNamespace {
        /// The namespace that was given.
        namespace: String,
    },
    /// The name is not a DNS-1123 subdomain, which every Secret name must be.
    #[error(
        "cannot seal for secret name `{name}`: a Secret name must be a DNS-1123 subdomain (at most 253 lowercase letters, digits, '-' and '.')"
    )]
    InvalidName {
        /// The name that was given.
        name: String,
    },
    /// Every `SealedSecret` has a name; an empty one is a caller bug.
    #[error("cannot seal `{key}`: the secret has no name")]
    MissingName {
        /// The data key being sealed.
        key: String,
    },
    /// A short derivation key would let outsiders re-derive the randomness and confirm a
    /// guessed plaintext; the catalog's SOPS data key is 32 bytes.
    #[error("sealing derivation key is {len} bytes, at least 32 are required")]
    ShortDerivationKey {
        /// The length that was given.
        len: usize,
    },
    /// A cryptographic primitive refused its input (for example an RSA key too small for
    /// OAEP with SHA-256).
    #[error("sealing failed while {step}: {reason}")]
    Encrypt {
        /// What was being done.
        step: &'static str,
        /// The primitive's description of the failure (never key material).
        reason: String,
    },
}

/// Formats a certificate time as RFC 3339 in UTC, infallibly (certificate times are whole
/// seconds between 1970 and 9999, and `time`'s own formatter returns a `Result`).
pub(crate) fn utc(at: &OffsetDateTime) -> String {
    let at = at.to_offset(time::UtcOffset::UTC);
    format!(
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}Z",
        at.year(),
        u8::from(at.month()),
        at.day(),
        at.hour(),
        at.minute(),
        at.second()
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scope_names_round_trip() {
        for scope in Scope::ALL {
            assert_eq!(scope.to_string().parse::<Scope>().unwrap(), scope);
        }
        assert_eq!(Scope::default(), Scope::Strict);
        assert_eq!(
            Scope::ALL.map(|scope| scope.to_string()),
            ["strict", "namespace-wide", "cluster-wide"]
        );
    }

    #[test]
    fn unknown_scope_is_an_error() {
        let err = "Strict".parse::<Scope>().unwrap_err();
        insta::assert_snapshot!(err, @"unknown sealing scope `Strict` (expected strict, namespace-wide or cluster-wide)");
        let err = "namespace_wide".parse::<Scope>().unwrap_err();
        insta::assert_snapshot!(err, @"unknown sealing scope `namespace_wide` (expected strict, namespace-wide or cluster-wide)");
    }

    #[test]
    fn labels_follow_encryption_label() {
        let label = |scope: Scope, namespace, name| scope.label(namespace, name).unwrap();
        assert_eq!(label(Scope::Strict, "team-a", "regcred"), b"team-a/regcred");
        assert_eq!(label(Scope::NamespaceWide, "team-a", "regcred"), b"team-a");
        assert_eq!(label(Scope::ClusterWide, "team-a", "regcred"), b"");
        assert_eq!(label(Scope::ClusterWide, "", "regcred"), b"");
        assert_eq!(label(Scope::Strict, "team-a", "reg.cred"), b"team-a/reg.cred");
    }

    /// Issue 5: a namespace-wide value for namespace `shop/pullseal-x` had the label
    /// `shop/pullseal-x`, so it opened as the strict secret `pullseal-x` in `shop`.
    #[test]
    fn labels_refuse_namespaces_and_names_that_could_collide() {
        let errors = [
            Scope::NamespaceWide
                .label("shop/pullseal-x", "anything")
                .unwrap_err(),
            Scope::Strict.label("shop/pullseal-x", "anything").unwrap_err(),
            Scope::Strict.label("shop", "a/b").unwrap_err(),
            Scope::ClusterWide.label("Shop", "regcred").unwrap_err(),
            Scope::Strict.label("", "regcred").unwrap_err(),
            Scope::NamespaceWide.label("shop.eu", "regcred").unwrap_err(),
            Scope::Strict.label("shop", "").unwrap_err(),
            Scope::Strict.label("shop", "-regcred").unwrap_err(),
        ];
        let messages: Vec<String> = errors.iter().map(ToString::to_string).collect();
        insta::assert_snapshot!(messages.join("\n"), @r"
            cannot seal for namespace `shop/pullseal-x`: a namespace must be a DNS-1123 label (at most 63 lowercase letters, digits and '-', starting and ending with a letter or digit)
            cannot seal for namespace `shop/pullseal-x`: a namespace must be a DNS-1123 label (at most 63 lowercase letters, digits and '-', starting and ending with a letter or digit)
            cannot seal for secret name `a/b`: a Secret name must be a DNS-1123 subdomain (at most 253 lowercase letters, digits, '-' and '.')
            cannot seal for namespace `Shop`: a namespace must be a DNS-1123 label (at most 63 lowercase letters, digits and '-', starting and ending with a letter or digit)
            cannot seal for namespace ``: a namespace must be a DNS-1123 label (at most 63 lowercase letters, digits and '-', starting and ending with a letter or digit)
            cannot seal for namespace `shop.eu`: a namespace must be a DNS-1123 label (at most 63 lowercase letters, digits and '-', starting and ending with a letter or digit)
            cannot seal for secret name ``: a Secret name must be a DNS-1123 subdomain (at most 253 lowercase letters, digits, '-' and '.')
            cannot seal for secret name `-regcred`: a Secret name must be a DNS-1123 subdomain (at most 253 lowercase letters, digits, '-' and '.')
            ");
    }

    proptest::proptest! {
        /// Whatever two targets are asked for, two different scopes never give the same label
        /// (strict labels hold one `/`, namespace-wide ones none and are not empty, cluster-wide
        /// ones are empty), and within a scope the label tells the targets apart.
        #[test]
        fn labels_are_one_to_one(
            a in ("[a-z0-9/.-]{0,12}", "[a-z0-9/.-]{0,12}", 0..3usize),
            b in ("[a-z0-9/.-]{0,12}", "[a-z0-9/.-]{0,12}", 0..3usize),
        ) {
            let scope = |i: usize| Scope::ALL[i];
            let (Ok(la), Ok(lb)) = (scope(a.2).label(&a.0, &a.1), scope(b.2).label(&b.0, &b.1)) else {
                return Ok(());
            };
            if la == lb {
                proptest::prop_assert_eq!(scope(a.2), scope(b.2));
                match scope(a.2) {
                    Scope::Strict => proptest::prop_assert_eq!((&a.0, &a.1), (&b.0, &b.1)),
                    Scope::NamespaceWide => proptest::prop_assert_eq!(&a.0, &b.0),
                    Scope::ClusterWide => {}
                }
            }
        }
    }

    #[test]
    fn plaintext_is_sized_once_and_never_shown() {
        let parts = ["{\"auths\":", "{}", "}"];
        let plaintext = Plaintext::build(|out| parts.iter().for_each(|part| out(part)));
        assert_eq!(plaintext.as_bytes(), br#"{"auths":{}}"#);
        assert_eq!(plaintext.capacity(), plaintext.len());
        assert_eq!(format!("{plaintext:?}"), "Plaintext { len: 12, .. }");
        assert!(!plaintext.is_empty());
    }

    #[test]
    fn annotations_follow_secret_scope() {
        assert_eq!(Scope::Strict.annotation(), None);
        assert_eq!(
            Scope::NamespaceWide.annotation(),
            Some(("sealedsecrets.bitnami.com/namespace-wide", "true"))
        );
        assert_eq!(
            Scope::ClusterWide.annotation(),
            Some(("sealedsecrets.bitnami.com/cluster-wide", "true"))
        );
    }

    #[test]
    fn times_are_rfc3339_utc() {
        let at = OffsetDateTime::from_unix_timestamp(978_307_200).unwrap();
        assert_eq!(utc(&at), "2001-01-01T00:00:00Z");
        let shifted = at.to_offset(time::UtcOffset::from_hms(2, 0, 0).unwrap());
        assert_eq!(utc(&shifted), "2001-01-01T00:00:00Z");
    }
}
