//! The pull secret for a `seal: sops` cluster: a plain `v1` `Secret` of type
//! `kubernetes.io/dockerconfigjson` whose `data` is SOPS-encrypted to the cluster's age
//! recipients (and its AWS KMS keys, `kms`), with the `sops:` metadata inside the document, as
//! Flux's kustomize-controller decrypts it (`spec.decryption.provider: sops`;
//! `shared/reference/contracts.md` §4).
//!
//! The document has the same name, namespace, labels and annotations as the other modes'
//! Secrets. Only what sits under `data` is encrypted (`encrypted_regex: ^(data|stringData)$`,
//! [`Rule::flux`]): Flux needs `apiVersion`, `kind` and `metadata` plain. The MAC still covers
//! every value, plain ones included (sops' default), so `sops decrypt` refuses a file whose
//! metadata was edited; Flux does not check the MAC by default, so kustomize may still set a
//! namespace or labels on it before Flux decrypts.
//!
//! Deterministic: the same catalog, cluster and input give byte-identical output, so the
//! rendered-manifests flow (render in CI, commit, let Flux apply) gives no diff when nothing
//! changed. Every random input of [`sops::encrypt`] comes from [`Randomness::Derived`] with
//! the seed
//!
//! ```text
//! HMAC-SHA256(derivation_key,
//!     lp("pullseal/flux-sops/v1") || lp(cluster) || lp(namespace present: 0 | 1) || lp(namespace)
//!     || lp(name) || lp(k) for each data key k || lp(recipient) for each recipient, sorted, once
//!     [|| lp("kms") || lp(key) for each KMS key (ARN+role|context), sorted, once: only if any])
//! lp(x) = u64 big-endian len(x) || x
//! ```
//!
//! - Keyed by the catalog's SOPS data key ([`crate::catalog::Catalog::derivation_key`]), which
//!   only catalog holders have: an outsider cannot re-derive the data key or the IVs, and so
//!   cannot confirm a guessed password against the committed file.
//! - Each (cluster, namespace, name) gets its own data key; the recipients are in the seed, so
//!   adding or removing one gives a new data key, and a removed recipient that kept an old data
//!   key cannot open what is rendered after.
//! - The plaintext is not in the seed: IVs are synthetic (an HMAC of the path, type and
//!   plaintext, see [`Randomness::Derived`]), so a rotated credential gets new ciphertext and
//!   a new MAC while the age stanza stays, and `git diff` shows exactly that secret's values.
//! - AWS KMS keys break the determinism unless an earlier output is at hand: `kms:Encrypt`
//!   gives a new ciphertext blob on every call (AWS's, and moto's too), and no blob can be made
//!   without KMS. So a KMS entry of the last render's output for the same Secret
//!   ([`FluxKms::previous`], what the front-end reads from `--out-dir`) is reused when
//!   `kms:Decrypt` opens it to this Secret's data key (which the seed fixes), with its
//!   `created_at`; only a new key, a changed data key, or a blob KMS does not open gets a new
//!   `kms:Encrypt`, with `created_at` the epoch as `lastmodified`. Without an earlier output
//!   (rendering to stdout) every render with KMS keys differs in the `enc` lines.
//! - `lastmodified` is fixed at the Unix epoch ([`LAST_MODIFIED`]). pullseal knows no honest
//!   time that changes only with the content: the clock changes every render, and the
//!   catalog's own `lastmodified` changes with any catalog edit (it would rewrite every
//!   secret when one credential rotates). In sops it is only the MAC's additional data, and
//!   the MAC already changes whenever the content does. An epoch date also says plainly that
//!   it is not a modification time.
//!
//! What this module must *not* do: read the clock or a random source, call a network other
//! than through `sops::encrypt`'s KMS calls, or let the plaintext, the seed, the data key or
//! the derivation key reach an error, a `Debug` or the output outside an encrypted value (the
//! base64 `.dockerconfigjson` is held in secret buffers).

use std::collections::BTreeMap;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use hmac::{Hmac, Mac as _};
use secrecy::{SecretBox, SecretString};
use sha2::Sha256;
use zeroize::Zeroizing;

use super::secrets::{DOCKERCONFIGJSON, Planned};
use crate::catalog::Cluster;
use crate::seal::{Plaintext, SealError};
use crate::sops::{
    self, EncryptOptions, KmsAccess, KmsRecipients, KmsStanza, LastModified, Randomness, Rule, Seed, Value,
};

/// What the AWS KMS keys of `seal: sops` clusters need when rendering.
#[derive(Debug, Clone, Default)]
pub struct FluxKms {
    /// The AWS keys and endpoints of `kms:Encrypt` and `kms:Decrypt` (the front-end reads them
    /// from the environment).
    pub access: KmsAccess,
    /// The KMS entries of an earlier render's Secrets, by (namespace, name): reused when KMS
    /// opens one to the Secret's data key, so that the output stays byte-identical.
    pub previous: BTreeMap<(Option<String>, String), Vec<KmsStanza>>,
}

impl FluxKms {
    /// [`FluxKms::previous`] read from an earlier output: the KMS entries of every pullseal
    /// `Secret` in `text` with `sops` metadata. Documents that are not such a Secret, or do
    /// not parse, are skipped: nothing read here is trusted before KMS opens it.
    pub fn previous_from(text: &str) -> BTreeMap<(Option<String>, String), Vec<KmsStanza>> {
        let mut out = BTreeMap::new();
        for span in crate::manifest::stream::split(text) {
            let Some(doc) = text.get(span.range) else {
                continue;
            };
            let Ok(Some(root)) = crate::manifest::tree::parse(doc) else {
                continue;
            };
            let str_at = |path: &[&str]| root.path(path).and_then(|n| n.as_str()).map(str::to_owned);
            if str_at(&["kind"]).as_deref() != Some("Secret")
                || str_at(&["metadata", "labels", "app.kubernetes.io/managed-by"]).as_deref()
                    != Some("pullseal")
                || root.path(&["sops", "kms"]).is_none()
            {
                continue;
            }
            let Some(name) = str_at(&["metadata", "name"]) else {
                continue;
            };
            if let Ok(stanzas) = sops::kms_stanzas(doc)
                && !stanzas.is_empty()
            {
                out.insert((str_at(&["metadata", "namespace"]), name), stanzas);
            }
        }
        out
    }
}

/// The derivation's domain string: separates it from sealed-secrets' and from later versions.
const DOMAIN: &str = "pullseal/flux-sops/v1";

/// `sops.lastmodified` of every Flux Secret, in Unix seconds (see the module docs).
pub(crate) const LAST_MODIFIED: i64 = 0;

/// The SOPS-encrypted Secret for `planned` on `cluster`, holding `config` (the
/// `.dockerconfigjson`) base64-encoded under `data`.
pub(crate) fn document(
    planned: &Planned<'_>,
    config: &Plaintext,
    cluster: &Cluster,
    derivation_key: &[u8],
    kms: &FluxKms,
) -> Result<String, SealError> {
    let doc = Secret {
        name: &planned.name,
        kind: "kubernetes.io/dockerconfigjson",
        data: &[(DOCKERCONFIGJSON, config.as_bytes())],
        annotations: &[],
    };
    encrypted_secret(planned, &doc, cluster, derivation_key, kms)
}

/// A Secret to encrypt for a `seal: sops` cluster: its name, type, `data` (plain bytes, to be
/// base64-encoded) and annotations besides `pullseal.io/registry`.
pub(crate) struct Secret<'d> {
    pub(crate) name: &'d str,
    pub(crate) kind: &'d str,
    pub(crate) data: &'d [(&'d str, &'d [u8])],
    pub(crate) annotations: &'d [(&'d str, &'d str)],
}

/// The SOPS-encrypted Secret `doc` in `planned`'s namespace, labelled and annotated as every
/// pullseal secret: the pull secret, and an ECR registry's AWS keys.
pub(crate) fn encrypted_secret(
    planned: &Planned<'_>,
    doc: &Secret<'_>,
    cluster: &Cluster,
    derivation_key: &[u8],
    kms: &FluxKms,
) -> Result<String, SealError> {
    if cluster.age_recipients.is_empty() {
        return Err(SealError::NoAgeRecipients);
    }
    let keys: Vec<&str> = doc.data.iter().map(|(k, _)| *k).collect();
    let seed = seed(planned, doc.name, &keys, cluster, derivation_key)?;
    let s = |text: &str| Value::Str(SecretString::from(text.to_owned()));
    let mut metadata = vec![("name".to_owned(), s(doc.name))];
    if let Some(namespace) = &planned.namespace {
        metadata.push(("namespace".to_owned(), s(namespace)));
    }
    metadata.push((
        "labels".to_owned(),
        Value::Map(vec![("app.kubernetes.io/managed-by".to_owned(), s("pullseal"))]),
    ));
    let mut annotations = vec![(
        "pullseal.io/registry".to_owned(),
        s(planned.registry.name.as_str()),
    )];
    annotations.extend(doc.annotations.iter().map(|(k, v)| ((*k).to_owned(), s(v))));
    metadata.push(("annotations".to_owned(), Value::Map(annotations)));
    let data = doc
        .data
        .iter()
        .map(|(key, value)| {
            (
                (*key).to_owned(),
                Value::Str(SecretString::from(STANDARD.encode(value))),
            )
        })
        .collect();
    let secret = Value::Map(vec![
        ("apiVersion".to_owned(), s("v1")),
        ("kind".to_owned(), s("Secret")),
        ("metadata".to_owned(), Value::Map(metadata)),
        ("type".to_owned(), s(doc.kind)),
        ("data".to_owned(), Value::Map(data)),
    ]);
    // Sorted, so the catalog's order of the recipients changes nothing in the output.
    let mut recipients = cluster.age_recipients.clone();
    recipients.sort_by_key(ToString::to_string);
    recipients.dedup_by_key(|r| r.to_string());
    let previous = kms
        .previous
        .get(&(planned.namespace.clone(), doc.name.to_owned()))
        .cloned()
        .unwrap_or_default();
    let options = EncryptOptions {
        recipients,
        kms: KmsRecipients {
            keys: cluster.kms.clone(),
            access: kms.access.clone(),
            previous,
        },
        rule: Rule::flux(),
        mac_only_encrypted: false,
        last_modified: LastModified::from_unix(LAST_MODIFIED).map_err(|e| SealError::Sops(Box::new(e)))?,
    };
    sops::encrypt(&[secret], &options, Randomness::Derived(&seed)).map_err(|e| SealError::Sops(Box::new(e)))
}

/// The HMAC described in the module docs.
fn seed(
    planned: &Planned<'_>,
    name: &str,
    data_keys: &[&str],
    cluster: &Cluster,
    derivation_key: &[u8],
) -> Result<Seed, SealError> {
    if derivation_key.len() < 32 {
        return Err(SealError::ShortDerivationKey {
            len: derivation_key.len(),
        });
    }
    let mut mac = <Hmac<Sha256>>::new_from_slice(derivation_key).map_err(|err| SealError::Encrypt {
        step: "keying the derivation HMAC",
        reason: err.to_string(),
    })?;
    let mut recipients: Vec<String> = cluster.age_recipients.iter().map(ToString::to_string).collect();
    recipients.sort();
    recipients.dedup();
    let namespace = planned.namespace.as_deref();
    let present = [u8::from(namespace.is_some())];
    let mut parts: Vec<&[u8]> = vec![
        DOMAIN.as_bytes(),
        cluster.name.as_bytes(),
        &present,
        namespace.unwrap_or("").as_bytes(),
        name.as_bytes(),
    ];
    parts.extend(data_keys.iter().map(|k| k.as_bytes()));
    parts.extend(recipients.iter().map(String::as_bytes));
    // Only with KMS keys, so that the seed of an age-only cluster is what it always was.
    let mut kms_keys: Vec<String> = cluster.kms.iter().map(crate::sops::KmsKey::label).collect();
    kms_keys.sort();
    kms_keys.dedup();
    if !kms_keys.is_empty() {
        parts.push(b"kms");
        parts.extend(kms_keys.iter().map(String::as_bytes));
    }
    for part in parts {
        // usize is at most 64 bits on every target Rust supports, so this never saturates.
        let len = u64::try_from(part.len()).unwrap_or(u64::MAX);
        mac.update(&len.to_be_bytes());
        mac.update(part);
    }
    let output = Zeroizing::new(<[u8; 32]>::from(mac.finalize().into_bytes()));
    Ok(Seed::new(SecretBox::new(Box::new(*output))))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::catalog::{Allow, Registry, RegistryType, SealMode};
    use crate::registry::{AuthsEntry, Basic, Credentials};
    use crate::seal::Scope;

    const AGE_KEY: &str = include_str!("../../testdata/keys/age-test.txt");

    fn identity() -> age::x25519::Identity {
        AGE_KEY
            .lines()
            .find(|l| l.starts_with("AGE-SECRET-KEY-"))
            .unwrap()
            .parse()
            .unwrap()
    }

    fn registry(password: &str) -> Registry {
        Registry {
            name: "yes".parse().unwrap(),
            kind: RegistryType::Generic,
            server: "registry.example.com:5000".parse().unwrap(),
            credentials: Credentials::Basic(Basic::new(
                SecretString::from("robot"),
                SecretString::from(password.to_owned()),
                None,
            )),
            allow: Allow::default(),
        }
    }

    fn cluster(name: &str, recipients: Vec<age::x25519::Recipient>) -> Cluster {
        Cluster {
            name: name.to_owned(),
            seal: SealMode::Sops,
            scope: Scope::Strict,
            certificate: None,
            kubelet_credentials: None,
            age_recipients: recipients,
            kms: Vec::new(),
        }
    }

    fn render(password: &str, cluster: &Cluster, namespace: Option<&str>) -> Result<String, SealError> {
        let registry = registry(password);
        let entry = AuthsEntry::of(&registry).unwrap();
        let planned = Planned {
            namespace: namespace.map(str::to_owned),
            name: "pullseal-yes".to_owned(),
            registry: &registry,
        };
        document(
            &planned,
            &entry.dockerconfigjson(),
            cluster,
            &[7u8; 32],
            &FluxKms::default(),
        )
    }

    /// The document is byte-identical when rendered again and keeps everything but `data`
    /// plain.
    #[test]
    fn the_secret_opens_and_is_deterministic() {
        let flux = cluster("flux", vec![identity().to_public()]);
        let text = render("hunter2", &flux, Some("shop")).unwrap();
        assert_eq!(text, render("hunter2", &flux, Some("shop")).unwrap());
        assert!(!text.contains("hunter2"), "{text}");
        let head: String = text
            .lines()
            .take_while(|l| !l.starts_with("data:"))
            .collect::<Vec<_>>()
            .join("\n");
        insta::assert_snapshot!(head, @r#"
        apiVersion: v1
        kind: Secret
        metadata:
            name: pullseal-yes
            namespace: shop
            labels:
                app.kubernetes.io/managed-by: pullseal
            annotations:
                pullseal.io/registry: "yes"
        type: kubernetes.io/dockerconfigjson
        "#);
        assert!(
            text.contains("    lastmodified: \"1970-01-01T00:00:00Z\"\n"),
            "{text}"
        );
        assert!(
            text.contains("    encrypted_regex: ^(data|stringData)$\n"),
            "{text}"
        );
        // pullseal's own reader refuses partially encrypted files; tests/it/flux.rs opens
        // this with the real sops.
        assert!(
            text.contains("\n    .dockerconfigjson: ENC[AES256_GCM,data:"),
            "{text}"
        );
    }

    /// What feeds the seed changes the whole file; a rotated password changes the values and
    /// the MAC but not the age stanza (the data key is the same).
    #[test]
    fn every_input_of_the_seed_matters() {
        let key = identity().to_public();
        let other = age::x25519::Identity::generate().to_public();
        let stanza = |text: &str| {
            text.split("enc: |")
                .nth(1)
                .unwrap()
                .split("lastmodified")
                .next()
                .unwrap()
                .to_owned()
        };
        let base = render("hunter2", &cluster("flux", vec![key.clone()]), Some("shop")).unwrap();
        let rotated = render("rotated", &cluster("flux", vec![key.clone()]), Some("shop")).unwrap();
        assert_ne!(base, rotated);
        assert_eq!(stanza(&base), stanza(&rotated));
        for changed in [
            render("hunter2", &cluster("flux-2", vec![key.clone()]), Some("shop")).unwrap(),
            render("hunter2", &cluster("flux", vec![key.clone()]), Some("team-a")).unwrap(),
            render("hunter2", &cluster("flux", vec![key.clone()]), None).unwrap(),
            render(
                "hunter2",
                &cluster("flux", vec![key.clone(), other.clone()]),
                Some("shop"),
            )
            .unwrap(),
        ] {
            assert_ne!(stanza(&base), stanza(&changed));
        }
        // The recipients' order does not matter, a repeat neither.
        assert_eq!(
            render(
                "hunter2",
                &cluster("flux", vec![key.clone(), other.clone()]),
                Some("shop")
            )
            .unwrap(),
            render(
                "hunter2",
                &cluster("flux", vec![other, key.clone(), key]),
                Some("shop")
            )
            .unwrap()
        );
    }

    #[test]
    fn a_cluster_without_recipients_is_an_error() {
        let err = render("hunter2", &cluster("flux", Vec::new()), Some("shop")).unwrap_err();
        insta::assert_snapshot!(err, @"the cluster seals with sops but has no ageRecipients");
    }
}
