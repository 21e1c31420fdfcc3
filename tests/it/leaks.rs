//! The leak check (issue 9): a catalog whose every credential is a unique canary string, made
//! at test time by the real sops, and every command, mode and error path of pullseal run on it.
//! For each run, stdout, stderr, the `PULLSEAL_LOG` file and every other file under the run's
//! directory (what pullseal, kpt or kustomize wrote there, the catalog it edited, what a fake
//! `helm` was called with) must hold no canary, no base64 of one at any of the three
//! alignments (standard and URL-safe alphabets), no `user:password` pair as a
//! `.dockerconfigjson` `auth` writes it, no catalog data key (raw, hex or base64) and no age
//! identity; the process arguments and environment pullseal is given hold no secret either.
//!
//! Two kinds of value may hold what the needles match, and the checker removes exactly those
//! before it looks (it parses the YAML or JSON, it never blanks lines): the values of a
//! `SealedSecret`'s `spec.encryptedData` that have the sealed-secrets shape, and SOPS
//! `ENC[AES256_GCM,...]` scalars. `seal: none` is the one mode that writes credentials by
//! design (README, "Ways to run it"; `src/render/secrets.rs`): the `data` values of the `v1`
//! `Secret`s pullseal emits for such a cluster (labelled `app.kubernetes.io/managed-by:
//! pullseal`, annotated `pullseal.io/registry`) are base64 plaintext. Those values, and only in
//! the streams of a run for a `seal: none` cluster, are removed too. The checker's own tests
//! plant leaks beside and inside each of these, so it cannot pass by removing too much.
//!
//! Helm, Argo CD and a cluster cannot run here: their invocations are the documented contracts
//! (`tests/it/helm.rs`, `tests/it/argocd.rs`), with fake `helm` and `kustomize` scripts that
//! record their arguments and environment into the scanned directory. kpt, `kubectl
//! kustomize`, the Docker registry, moto and sops are the real programs.

use std::collections::BTreeSet;
use std::ffi::{OsStr, OsString};
use std::fmt::Write as _;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::OnceLock;

use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, URL_SAFE};
use fs_err as fs;
use saphyr_parser::{Event, Parser, ScalarStyle};

use crate::peers;
use crate::support::{AGE_KEY, path, transcript};

// ----------------------------------------------------------------------------------- needles

/// What a needle stands for: a credential must never be a process argument; an identifier
/// (a username, an AWS access key id) is given as one by `catalog add`, by design, but must
/// not be printed or written either.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Kind {
    Credential,
    Identifier,
    DataKey,
    AgeIdentity,
}

/// One byte string that must not appear, with what it is and how it is encoded.
#[derive(Clone, Debug)]
struct Needle {
    label: String,
    form: &'static str,
    kind: Kind,
    bytes: Vec<u8>,
}

/// The needles of one secret `value`: itself, and its base64 at the three alignments (as a
/// part of any longer plaintext encodes it), in both alphabets. At alignment `k` (the value
/// starts `k` bytes after a multiple of three), the characters fully determined by the value
/// alone are those of the base64 groups that lie entirely inside it.
fn needles_of(label: &str, kind: Kind, value: &[u8]) -> Vec<Needle> {
    let mut out = vec![Needle {
        label: label.to_owned(),
        form: "plain",
        kind,
        bytes: value.to_vec(),
    }];
    for (engine, alphabet) in [(&STANDARD, "base64"), (&URL_SAFE, "base64url")] {
        for k in 0..3usize {
            let mut padded = vec![0u8; k];
            padded.extend_from_slice(value);
            let encoded = engine.encode(&padded);
            let start = 4 * k.div_ceil(3);
            let end = 4 * ((k + value.len()) / 3);
            if end >= start + 16 {
                out.push(Needle {
                    label: label.to_owned(),
                    form: match (alphabet, k) {
                        ("base64", 0) => "base64 at offset 0",
                        ("base64", 1) => "base64 at offset 1",
                        ("base64", _) => "base64 at offset 2",
                        (_, 0) => "base64url at offset 0",
                        (_, 1) => "base64url at offset 1",
                        _ => "base64url at offset 2",
                    },
                    kind,
                    bytes: encoded.as_bytes()[start..end].to_vec(),
                });
            }
        }
    }
    out
}

/// `bytes` in lower-case hex.
fn hex(bytes: &[u8]) -> String {
    bytes.iter().fold(String::new(), |mut out, b| {
        let _ = write!(out, "{b:02x}");
        out
    })
}

/// Every needle of `secrets` plus the `auth` of each `(user, password)` pair and the hex of each
/// data key, without duplicates.
fn needle_set(secrets: &[(String, Kind, Vec<u8>)], pairs: &[(&str, &str)]) -> Vec<Needle> {
    let mut all = Vec::new();
    for (label, kind, value) in secrets {
        all.extend(needles_of(label, *kind, value));
        if *kind == Kind::DataKey {
            let hex = hex(value);
            all.push(Needle {
                label: label.clone(),
                form: "hex",
                kind: *kind,
                bytes: hex.clone().into_bytes(),
            });
            all.push(Needle {
                label: label.clone(),
                form: "HEX",
                kind: *kind,
                bytes: hex.to_uppercase().into_bytes(),
            });
        }
    }
    for (user, password) in pairs {
        all.push(Needle {
            label: format!("{user}:{password}"),
            form: "dockerconfigjson auth",
            kind: Kind::Credential,
            bytes: STANDARD.encode(format!("{user}:{password}")).into_bytes(),
        });
    }
    let mut seen = BTreeSet::new();
    all.retain(|n| seen.insert(n.bytes.clone()));
    all
}

// ----------------------------------------------------------------------------------- checker

/// A YAML node with the character span of each scalar: what the checker needs to find the
/// exempt values and nothing else.
#[derive(Debug)]
enum Node {
    Scalar {
        value: String,
        style: ScalarStyle,
        start: usize,
    },
    Seq(Vec<Node>),
    Map(Vec<(Node, Node)>),
    Alias,
}

impl Node {
    fn get(&self, key: &str) -> Option<&Node> {
        let Node::Map(entries) = self else { return None };
        entries.iter().find_map(|(k, v)| match k {
            Node::Scalar { value, .. } if value == key => Some(v),
            _ => None,
        })
    }

    fn str(&self) -> Option<&str> {
        match self {
            Node::Scalar { value, .. } => Some(value),
            _ => None,
        }
    }

    fn at(&self, keys: &[&str]) -> Option<&Node> {
        keys.iter().try_fold(self, |node, key| node.get(key))
    }
}

/// The documents of `text`, or `None` when it is not YAML (stderr, a log): then nothing is
/// exempt in it.
fn parse_stream(text: &str) -> Option<Vec<Node>> {
    let mut events = Vec::new();
    for event in Parser::new_from_str(text) {
        let (event, span) = event.ok()?;
        events.push((event, span.start.index()));
    }
    let mut docs = Vec::new();
    let mut at = 0;
    while at < events.len() {
        match &events[at].0 {
            Event::StreamStart | Event::StreamEnd | Event::DocumentStart(_) | Event::DocumentEnd => {
                at += 1;
            }
            _ => docs.push(node(&events, &mut at)?),
        }
    }
    Some(docs)
}

fn node(events: &[(Event<'_>, usize)], at: &mut usize) -> Option<Node> {
    let (event, start) = events.get(*at)?;
    *at += 1;
    Some(match event {
        Event::Scalar(value, style, ..) => Node::Scalar {
            value: value.to_string(),
            style: *style,
            start: *start,
        },
        Event::Alias(_) => Node::Alias,
        Event::SequenceStart(..) => {
            let mut items = Vec::new();
            while !matches!(events.get(*at)?.0, Event::SequenceEnd) {
                items.push(node(events, at)?);
            }
            *at += 1;
            Node::Seq(items)
        }
        Event::MappingStart(..) => {
            let mut entries = Vec::new();
            while !matches!(events.get(*at)?.0, Event::MappingEnd) {
                let key = node(events, at)?;
                let value = node(events, at)?;
                entries.push((key, value));
            }
            *at += 1;
            Node::Map(entries)
        }
        _ => return None,
    })
}

/// A SOPS encrypted value: `ENC[AES256_GCM,data:…,iv:…,tag:…,type:…]` with a 32-byte IV and a
/// 16-byte tag, as sops writes them.
fn is_sops_value(value: &str) -> bool {
    static ENC: OnceLock<regex::Regex> = OnceLock::new();
    let re = ENC.get_or_init(|| {
        regex::Regex::new(
            r"^ENC\[AES256_GCM,data:([A-Za-z0-9+/]*=*),iv:([A-Za-z0-9+/]+=*),tag:([A-Za-z0-9+/]+=*),type:(str|int|float|bool|bytes|comment)\]$",
        )
        .unwrap()
    });
    let Some(c) = re.captures(value) else {
        return false;
    };
    let len = |i: usize| STANDARD.decode(&c[i]).map(|b| b.len()).ok();
    STANDARD.decode(&c[1]).is_ok() && len(2) == Some(32) && len(3) == Some(16)
}

/// A sealed-secrets value: base64 of a two-byte big-endian length, an RSA-OAEP ciphertext of
/// that length (a 2048- or 4096-bit key), then the AES-GCM ciphertext with its 16-byte tag.
fn is_sealed_value(value: &str) -> bool {
    let Ok(bytes) = STANDARD.decode(value) else {
        return false;
    };
    let Some(head) = bytes.get(..2) else {
        return false;
    };
    let rsa = usize::from(u16::from_be_bytes([head[0], head[1]]));
    (rsa == 256 || rsa == 512) && bytes.len() > 2 + rsa + 16
}

/// Whether `doc` is a Secret pullseal writes for a `seal: none` cluster
/// (`src/render/secrets.rs`, `document` and `keys_document`).
fn is_plain_pull_secret(doc: &Node) -> bool {
    doc.get("apiVersion").and_then(Node::str) == Some("v1")
        && doc.get("kind").and_then(Node::str) == Some("Secret")
        && doc
            .at(&["metadata", "labels", "app.kubernetes.io/managed-by"])
            .and_then(Node::str)
            == Some("pullseal")
        && doc
            .at(&["metadata", "annotations", "pullseal.io/registry"])
            .is_some()
        && matches!(
            doc.get("type").and_then(Node::str),
            Some("kubernetes.io/dockerconfigjson" | "Opaque")
        )
}

/// The objects of a document: itself, or the items of a `ResourceList` or `List`.
fn objects(doc: &Node) -> Vec<&Node> {
    match (doc.get("kind").and_then(Node::str), doc.get("items")) {
        (Some("ResourceList" | "List"), Some(Node::Seq(items))) => items.iter().collect(),
        _ => vec![doc],
    }
}

/// An exempt scalar: where it starts (in characters), its value and its style.
type Exempt = (usize, String, ScalarStyle);

/// The exempt scalars of `docs`.
fn exempt_spans(docs: &[Node], plain_allowed: bool) -> Vec<Exempt> {
    fn every_scalar(node: &Node, out: &mut Vec<Exempt>) {
        match node {
            Node::Scalar {
                value, style, start, ..
            } if is_sops_value(value) => out.push((*start, value.clone(), *style)),
            Node::Seq(items) => items.iter().for_each(|n| every_scalar(n, out)),
            Node::Map(entries) => entries.iter().for_each(|(_, v)| every_scalar(v, out)),
            _ => {}
        }
    }
    fn values(map: Option<&Node>, ok: fn(&str) -> bool, out: &mut Vec<Exempt>) {
        if let Some(Node::Map(entries)) = map {
            for (_, v) in entries {
                if let Node::Scalar {
                    value, style, start, ..
                } = v
                    && ok(value)
                {
                    out.push((*start, value.clone(), *style));
                }
            }
        }
    }
    let mut out = Vec::new();
    for doc in docs {
        every_scalar(doc, &mut out);
        for object in objects(doc) {
            if object.get("kind").and_then(Node::str) == Some("SealedSecret") {
                values(object.at(&["spec", "encryptedData"]), is_sealed_value, &mut out);
            }
            if plain_allowed && is_plain_pull_secret(object) {
                values(object.get("data"), |v| STANDARD.decode(v).is_ok(), &mut out);
            }
        }
    }
    out
}

/// `text` with the exempt values replaced by `[exempt]`, and how many there were.
///
/// Only where a scalar starts is taken from the parser (saphyr's span of a quoted scalar runs
/// on past its closing quote): the value must stand there exactly as itself, plain or in
/// quotes, followed by what ends a scalar, or the checker fails. The exempt values are base64
/// or `ENC[...]`, which no YAML style escapes, so one that is found is removed exactly.
fn scrub(text: &str, plain_allowed: bool) -> (String, usize) {
    let Some(docs) = parse_stream(text) else {
        return (text.to_owned(), 0);
    };
    let mut spans = exempt_spans(&docs, plain_allowed);
    spans.sort_unstable();
    spans.dedup();
    // Character index -> byte offset.
    let offsets: Vec<usize> = text
        .char_indices()
        .map(|(i, _)| i)
        .chain(std::iter::once(text.len()))
        .collect();
    let mut out = String::with_capacity(text.len());
    let mut done = 0;
    for (start, value, style) in &spans {
        let s = offsets[*start];
        let rest = &text[s..];
        let quote = match style {
            ScalarStyle::DoubleQuoted => "\"",
            ScalarStyle::SingleQuoted => "'",
            _ => "",
        };
        let written = format!("{quote}{value}{quote}");
        let ends = rest.strip_prefix(written.as_str()).is_some_and(|after| {
            after.is_empty() || after.starts_with([' ', '\t', '\r', '\n', ',', '}', ']'])
        });
        assert!(
            ends && s >= done,
            "the checker cannot place an exempt value exactly: {value:?} at {:?}",
            &rest[..rest.len().min(written.len() + 20)]
        );
        out.push_str(&text[done..s]);
        out.push_str("[exempt]");
        done = s + written.len();
    }
    out.push_str(&text[done..]);
    (out, spans.len())
}

/// The needles, and what a scan found.
struct Checker {
    needles: Vec<Needle>,
}

impl Checker {
    /// Every needle in `bytes` (named `what`) outside the exempt values; the count of exempt
    /// values removed.
    fn scan(&self, what: &str, bytes: &[u8], plain_allowed: bool) -> (Vec<String>, usize) {
        let (text, exempt) = match std::str::from_utf8(bytes) {
            Ok(text) => {
                let (scrubbed, n) = scrub(text, plain_allowed);
                (scrubbed.into_bytes(), n)
            }
            Err(_) => (bytes.to_vec(), 0),
        };
        let mut found = Vec::new();
        for needle in &self.needles {
            if let Some(at) = memchr::memmem::find(&text, &needle.bytes) {
                let from = at.saturating_sub(60);
                let to = (at + needle.bytes.len() + 60).min(text.len());
                found.push(format!(
                    "{} ({}, {:?}) in {what} at byte {at}: …{}…",
                    needle.label,
                    needle.form,
                    needle.kind,
                    String::from_utf8_lossy(&text[from..to]).escape_debug()
                ));
            }
        }
        (found, exempt)
    }

    /// The labels of the needles in `bytes` with nothing exempt.
    fn labels_in(&self, bytes: &[u8]) -> BTreeSet<String> {
        self.needles
            .iter()
            .filter(|n| memchr::memmem::find(bytes, &n.bytes).is_some())
            .map(|n| n.label.clone())
            .collect()
    }

    /// Needles of `kinds` in one process argument or environment value.
    fn in_argument(&self, value: &OsStr, kinds: &[Kind]) -> Vec<String> {
        let bytes = value.as_encoded_bytes();
        self.needles
            .iter()
            .filter(|n| kinds.contains(&n.kind) && memchr::memmem::find(bytes, &n.bytes).is_some())
            .map(|n| format!("{} ({}) in the argument {}", n.label, n.form, value.display()))
            .collect()
    }
}

// ----------------------------------------------------------------------------------- canaries

// Usernames and access key ids are identifiers (`catalog add --username` takes them as
// arguments); everything else is a credential. Each is unique, and uses only characters that
// JSON and YAML write as they are, so it shows verbatim inside a `.dockerconfigjson`.
const COMPANY_USER: &str = "cnry-company-user-2c61d0a9";
const COMPANY_PASSWORD: &str = "cnry-company-password-9f4e21b7";
const HUB_USER: &str = "cnryhubuser7d13e5";
const HUB_PAT: &str = "dckr_pat_cnry-hub-pat-0b5a9c3e41";
const QUAY_USER: &str = "acme+cnry_robot_e8f61a";
const QUAY_TOKEN: &str = "cnry-quay-robot-token-6a2f90d4c1";
const ACR_USER: &str = "cnry-acr-app-id-41f7e2c3";
const ACR_PASSWORD: &str = "cnry-acr-sp-secret-d35c0b98a7";
const GCR_PRIVATE_KEY: &str = "cnry-gcr-private-key-5e71a2f9c0";
const GCR_KEY_ID: &str = "cnry-gcr-key-id-b40c6d2e18";
const JFROG_USER: &str = "cnry-jfrog-user-93ab71";
const JFROG_PASSWORD: &str = "cnry-jfrog-identity-token-8b2d4f6a";
const NEXUS_USER: &str = "cnry-nexus-user-1f2e3d";
const NEXUS_PASSWORD: &str = "cnry-nexus-password-0e3c5a7b91";
const SYSTEM_USER: &str = "cnry-system-user-4c5b6a";
const SYSTEM_PASSWORD: &str = "cnry-system-password-a6f2c8e0d4";
const MCR_USER: &str = "cnry-mcr-user-7e8d9c";
const MCR_PASSWORD: &str = "cnry-mcr-password-3b7d9f1e5c";
const TEAM_USER: &str = "cnry-team-user-0a1b2c";
const TEAM_PASSWORD: &str = "cnry-team-password-5d4c3b2a10";
const ECR_KEY_ID: &str = "AKIACNRYECRKEYID0001";
const ECR_SECRET: &str = "cnry-ecr-secret-access-key-3d9b7a1f";
const ECR_SESSION: &str = "cnry-ecr-session-token-c2e8f05b6d";
const ECR_TOKEN_KEY_ID: &str = "AKIACNRYECRTOKEN0002";
const ECR_TOKEN_SECRET: &str = "cnry-ecr-token-secret-key-71a4e3c0";
/// What `catalog rotate` puts in.
const ROTATED_QUAY_TOKEN: &str = "cnry-rotated-quay-token-f05e1d2c3b";
const ROTATED_ECR_KEY_ID: &str = "AKIACNRYROTATED00003";
const ROTATED_ECR_SECRET: &str = "cnry-rotated-ecr-secret-9a8b7c6d5e";
/// Values only the broken catalogs hold.
const TYPO_PASSWORD: &str = "cnry-typo-field-password-2d3e4f5a6b";
const USERINFO_PASSWORD: &str = "cnry-userinfo-server-password-7c8d9e";
const BAD_JSON_KEY: &str = "cnry-not-json-gcr-key-1a2b3c4d5e";
const BAD_ROBOT_TOKEN: &str = "cnry-bad-robot-token-6f7a8b9c0d";
/// The token `tests/interop/registry_replay.py` hands out, and the registry passwords moto's
/// `ecr:GetAuthorizationToken` makes for its default account and for the role's.
const REPLAYED_TOKEN: &str = "replayed-token-7d1f0c";
const MOTO_TOKEN: &str = "123456789012-auth-token";
const MOTO_ROLE_TOKEN: &str = "210987654321-auth-token";

/// The TEST-ONLY age key's public half, and a second identity's (testdata/sops).
const RECIPIENT: &str = "age1fmscnwl456dfq4d3lyg3cyqj40wh6m9l8w4rk56yac7sfawf8u8sythj48";
const OTHER_KEY: &str = "testdata/sops/age-identity-2.txt";
const OTHER_RECIPIENT: &str = "age1e7y98amehuyggn4sfh8unjm9j5zc5vjkt7hc2pvrp9nmz7eaze6qmxvhfx";
const CERT: &str = "testdata/keys/sealed-secrets-test.crt";
const SEALING_KEY: &str = "testdata/keys/sealed-secrets-test.key";

fn gcr_key_json() -> String {
    format!(
        "{{\n  \"type\": \"service_account\",\n  \"project_id\": \"cnry-project\",\n  \"private_key_id\": \"{GCR_KEY_ID}\",\n  \"private_key\": \"-----BEGIN PRIVATE KEY-----\\n{GCR_PRIVATE_KEY}\\n-----END PRIVATE KEY-----\\n\",\n  \"client_email\": \"puller@cnry-project.iam.gserviceaccount.com\"\n}}\n"
    )
}

/// Every credential and identifier above, labelled.
fn canaries() -> Vec<(String, Kind, Vec<u8>)> {
    let credentials = [
        COMPANY_PASSWORD,
        HUB_PAT,
        QUAY_TOKEN,
        ACR_PASSWORD,
        GCR_PRIVATE_KEY,
        GCR_KEY_ID,
        JFROG_PASSWORD,
        NEXUS_PASSWORD,
        SYSTEM_PASSWORD,
        MCR_PASSWORD,
        TEAM_PASSWORD,
        ECR_SECRET,
        ECR_SESSION,
        ECR_TOKEN_SECRET,
        ROTATED_QUAY_TOKEN,
        ROTATED_ECR_SECRET,
        TYPO_PASSWORD,
        USERINFO_PASSWORD,
        BAD_JSON_KEY,
        BAD_ROBOT_TOKEN,
        REPLAYED_TOKEN,
        MOTO_TOKEN,
        MOTO_ROLE_TOKEN,
    ];
    let identifiers = [
        COMPANY_USER,
        HUB_USER,
        QUAY_USER,
        ACR_USER,
        JFROG_USER,
        NEXUS_USER,
        SYSTEM_USER,
        MCR_USER,
        TEAM_USER,
        ECR_KEY_ID,
        ECR_TOKEN_KEY_ID,
        ROTATED_ECR_KEY_ID,
    ];
    let mut out: Vec<(String, Kind, Vec<u8>)> = credentials
        .iter()
        .map(|c| ((*c).to_owned(), Kind::Credential, c.as_bytes().to_vec()))
        .chain(
            identifiers
                .iter()
                .map(|c| ((*c).to_owned(), Kind::Identifier, c.as_bytes().to_vec())),
        )
        .collect();
    for key in [AGE_KEY, OTHER_KEY] {
        let text = fs::read_to_string(path(key)).unwrap();
        let secret = text
            .lines()
            .find(|l| l.starts_with("AGE-SECRET-KEY-"))
            .unwrap()
            .to_owned();
        out.push((
            format!("the age identity of {key}"),
            Kind::AgeIdentity,
            secret.into_bytes(),
        ));
    }
    out
}

/// The `user:password` pairs a `.dockerconfigjson` `auth` encodes.
const PAIRS: &[(&str, &str)] = &[
    (COMPANY_USER, COMPANY_PASSWORD),
    (HUB_USER, HUB_PAT),
    (QUAY_USER, QUAY_TOKEN),
    (QUAY_USER, ROTATED_QUAY_TOKEN),
    (ACR_USER, ACR_PASSWORD),
    (JFROG_USER, JFROG_PASSWORD),
    (NEXUS_USER, NEXUS_PASSWORD),
    (SYSTEM_USER, SYSTEM_PASSWORD),
    (MCR_USER, MCR_PASSWORD),
    (TEAM_USER, TEAM_PASSWORD),
    ("AWS", MOTO_TOKEN),
    ("AWS", MOTO_ROLE_TOKEN),
];

// ----------------------------------------------------------------------------------- catalogs

/// `text` indented by `n` spaces, every line.
fn indented(text: &str, n: usize) -> String {
    text.lines().fold(String::new(), |mut out, l| {
        let _ = writeln!(out, "{:n$}{l}", "");
        out
    })
}

/// The canary catalog's plaintext: every registry type with canary credentials, and clusters
/// for every seal; `extra_registries` and `extra_clusters` are appended to their sections.
fn plain_catalog(extra_registries: &str, extra_clusters: &str) -> String {
    let cert = indented(&fs::read_to_string(path(CERT)).unwrap(), 6);
    let gcr = indented(&gcr_key_json(), 6);
    format!(
        "apiVersion: pullseal.io/v1alpha1
kind: RegistryCatalog
registries:
  company:
    type: generic
    server: registry.example.com:5000
    username: {COMPANY_USER}
    password: {COMPANY_PASSWORD}
    email: ops@example.com
  hub:
    type: dockerhub
    username: {HUB_USER}
    password: {HUB_PAT}
  hub-public:
    type: dockerhub
    public: true
  quay-team:
    type: quay
    server: quay.io/acme
    username: {QUAY_USER}
    password: {QUAY_TOKEN}
    allow:
      namespaces: [shop, team-*]
  acr:
    type: acr
    server: cnryacr.azurecr.io
    username: {ACR_USER}
    password: {ACR_PASSWORD}
  gcr:
    type: gcr
    server: europe-west1-docker.pkg.dev/cnry-project
    username: _json_key
    password: |
{gcr}  jfrog:
    type: artifactory
    server: jfrog.example.com/docker-local
    username: {JFROG_USER}
    password: {JFROG_PASSWORD}
  nexus:
    type: nexus
    server: nexus.example.com
    username: {NEXUS_USER}
    password: {NEXUS_PASSWORD}
  sys:
    type: system
    server: system.example.com
    username: {SYSTEM_USER}
    password: {SYSTEM_PASSWORD}
  mcr-auth:
    type: mcr
    username: {MCR_USER}
    password: {MCR_PASSWORD}
  team-only:
    type: generic
    server: team.example.com
    username: {TEAM_USER}
    password: {TEAM_PASSWORD}
    allow:
      projects: [team-*]
  ecr:
    type: ecr
    server: 123456789012.dkr.ecr.eu-west-1.amazonaws.com
    region: eu-west-1
    accessKeyId: {ECR_KEY_ID}
    secretAccessKey: {ECR_SECRET}
    sessionToken: {ECR_SESSION}
  ecr-token:
    type: ecr
    server: 210987654321.dkr.ecr.eu-west-1.amazonaws.com
    region: eu-west-1
    accessKeyId: {ECR_TOKEN_KEY_ID}
    secretAccessKey: {ECR_TOKEN_SECRET}
    refresh: token
{extra_registries}clusters:
  sealed:
    seal: sealed-secrets
    scope: strict
    certificate: |
{cert}  ns-wide:
    scope: namespace-wide
    certificate: |
{cert}  plain:
    seal: none
  flux:
    seal: sops
    ageRecipients: [{RECIPIENT}]
  eks:
    certificate: |
{cert}    kubeletCredentials: [ecr*]
{extra_clusters}"
    )
}

/// `plain` encrypted by the real sops for the test recipient, with `sops_args` before the file.
fn sops_encrypt(plain: &str, sops_args: &[&str]) -> String {
    let tmp = tempfile::tempdir().unwrap();
    fs::read_to_string(crate::support::encrypt(tmp.path(), plain, sops_args)).unwrap()
}

/// The SOPS data key of `catalog`, opened independently of pullseal: the real `age` decrypts
/// the age stanza of the sops metadata with the test identity.
fn data_key(catalog: &str) -> Vec<u8> {
    data_key_with(catalog, 0, AGE_KEY)
}

/// The data key of `catalog` from its `stanza`th age stanza, opened with `identity`.
fn data_key_with(catalog: &str, stanza: usize, identity: &str) -> Vec<u8> {
    let doc = crate::helm::yaml_as_json(catalog);
    let stanza = doc["sops"]["age"][stanza]["enc"].as_str().unwrap().to_owned();
    let mut child = Command::new(peers::age())
        .args(["--decrypt", "--identity"])
        .arg(path(identity))
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(stanza.as_bytes()).unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "age: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(out.stdout.len(), 32, "a sops data key is 32 bytes");
    out.stdout
}

/// The catalogs every test uses, made once per test binary, and their data keys.
struct Fixture {
    /// The canary catalog.
    main: String,
    /// The same registries and an `expired` cluster (the expired test certificate).
    expired: String,
    /// Broken catalogs: each fails to load, and must say so without a value.
    broken: Vec<(&'static str, String, i32, &'static str)>,
    /// Broken catalogs whose file holds credentials in the clear (an unencrypted file, sops'
    /// `--encrypted-regex`): given from the private directory, which is not scanned.
    broken_plain: Vec<(&'static str, String, i32, &'static str)>,
    keys: Vec<Vec<u8>>,
}

fn fixture() -> &'static Fixture {
    static FIXTURE: OnceLock<Fixture> = OnceLock::new();
    FIXTURE.get_or_init(|| {
        let main = sops_encrypt(&plain_catalog("", ""), &[]);
        let expired_cert = indented(
            &fs::read_to_string(path("testdata/keys/sealed-secrets-expired.crt")).unwrap(),
            6,
        );
        let expired = sops_encrypt(
            &plain_catalog("", &format!("  expired:\n    certificate: |\n{expired_cert}")),
            &[],
        );
        let typo = sops_encrypt(
            &plain_catalog(
                &format!(
                    "  typo:\n    type: generic\n    server: typo.example.com\n    username: u\n    passwrd: {TYPO_PASSWORD}\n\
                     \x20 userinfo:\n    type: generic\n    server: \"u:{USERINFO_PASSWORD}@userinfo.example.com\"\n    username: u\n    password: {USERINFO_PASSWORD}\n\
                     \x20 bad-json:\n    type: gcr\n    server: gcr.io\n    username: _json_key\n    password: \"{{{BAD_JSON_KEY}\"\n\
                     \x20 bad-robot:\n    type: quay\n    server: quay.io\n    username: {BAD_ROBOT_TOKEN}\n    password: {BAD_ROBOT_TOKEN}\n"
                ),
                "",
            ),
            &[],
        );
        let tampered = tamper(&main);
        let swapped = swap_values(&main);
        let truncated = main[..main.len() / 2].to_owned();
        let keys = [&main, &expired, &typo]
            .into_iter()
            .map(|c| data_key(c))
            .collect();
        let partial = sops_encrypt(&plain_catalog("", ""), &["--encrypted-regex", "^password$"]);
        Fixture {
            main,
            expired,
            broken: vec![
                ("invalid fields", typo, 3, "typo"),
                ("a tampered value", tampered, 3, "authentication failed"),
                ("two values swapped", swapped, 3, "company"),
                ("truncated", truncated, 3, "catalog"),
            ],
            broken_plain: vec![
                ("not encrypted", plain_catalog("", ""), 3, "catalog"),
                ("partly encrypted", partial, 3, "encrypted"),
            ],
            keys,
        }
    })
}

/// `catalog` with the first byte of one encrypted value's data changed.
fn tamper(catalog: &str) -> String {
    let at = catalog.find("password: ENC[AES256_GCM,data:").unwrap() + "password: ENC[AES256_GCM,data:".len();
    let mut bytes = catalog.as_bytes().to_vec();
    bytes[at] = if bytes[at] == b'A' { b'B' } else { b'A' };
    String::from_utf8(bytes).unwrap()
}

/// `catalog` with the encrypted passwords of `company` and `hub` swapped: each still opens
/// under its own IV and tag, but not at the other's path.
fn swap_values(catalog: &str) -> String {
    let values: Vec<(usize, usize)> = catalog
        .match_indices("password: ENC[")
        .take(2)
        .map(|(i, m)| {
            let start = i + m.len() - 4;
            (start, start + catalog[start..].find('\n').unwrap())
        })
        .collect();
    let (a, b) = (values[0], values[1]);
    format!(
        "{}{}{}{}{}",
        &catalog[..a.0],
        &catalog[b.0..b.1],
        &catalog[a.1..b.0],
        &catalog[a.0..a.1],
        &catalog[b.1..]
    )
}

impl Fixture {
    fn checker(&self, extra_keys: &[Vec<u8>]) -> Checker {
        let mut secrets = canaries();
        for (i, key) in self.keys.iter().chain(extra_keys).enumerate() {
            secrets.push((format!("data key {i}"), Kind::DataKey, key.clone()));
        }
        Checker {
            needles: needle_set(&secrets, PAIRS),
        }
    }
}

// ----------------------------------------------------------------------------------- runs

/// A directory for one story of runs: `work/` is where they run and everything in it is
/// scanned after each run; `private/` holds plaintext inputs (password files, a catalog in the
/// clear) and is not.
struct Sandbox {
    dir: tempfile::TempDir,
    checker: Checker,
    extra_keys: Vec<Vec<u8>>,
    /// Files under `work/` written for a `seal: none` cluster.
    plain_files: Vec<PathBuf>,
}

impl Sandbox {
    /// A sandbox with the canary catalog at `work/pullseal.catalog.yaml`.
    fn new() -> Sandbox {
        let dir = tempfile::tempdir().unwrap();
        for sub in ["work", "work/home/.config", "private"] {
            fs::create_dir_all(dir.path().join(sub)).unwrap();
        }
        let sandbox = Sandbox {
            dir,
            checker: fixture().checker(&[]),
            extra_keys: Vec::new(),
            plain_files: Vec::new(),
        };
        sandbox.write("pullseal.catalog.yaml", &fixture().main);
        sandbox
    }

    fn work(&self) -> PathBuf {
        self.dir.path().join("work")
    }

    fn catalog(&self) -> PathBuf {
        self.work().join("pullseal.catalog.yaml")
    }

    /// Writes `content` to `work/rel`.
    fn write(&self, rel: &str, content: &str) -> PathBuf {
        let file = self.work().join(rel);
        fs::create_dir_all(file.parent().unwrap()).unwrap();
        fs::write(&file, content).unwrap();
        file
    }

    /// Writes `content` to `private/rel`.
    fn private(&self, rel: &str, content: &str) -> PathBuf {
        let file = self.dir.path().join("private").join(rel);
        fs::create_dir_all(file.parent().unwrap()).unwrap();
        fs::write(&file, content).unwrap();
        file
    }

    /// A data key made during the story (`catalog init`, `rekey`, a catalog made at run time).
    fn add_key(&mut self, key: Vec<u8>) {
        self.extra_keys.push(key);
        self.checker = fixture().checker(&self.extra_keys);
    }

    /// `work/rel` will hold a `seal: none` render.
    fn plain_file(&mut self, rel: &str) {
        self.plain_files.push(PathBuf::from(rel));
    }

    /// A run of `pullseal`.
    fn pullseal(&self, name: &str) -> Run<'_> {
        self.program(
            name,
            &fs::canonicalize(assert_cmd::cargo::cargo_bin("pullseal")).unwrap(),
        )
    }

    /// A run of `program` (a host that runs pullseal: kubectl, kpt, sh), with the environment
    /// every run gets: nothing inherited but what is set here.
    fn program(&self, name: &str, program: &Path) -> Run<'_> {
        let mut cmd = Command::new(program);
        let work = self.work();
        cmd.current_dir(&work)
            .env_clear()
            .env("PATH", format!("{}:/usr/bin:/bin", peers::bin_dir().display()))
            .env("HOME", work.join("home"))
            .env("XDG_CONFIG_HOME", work.join("home/.config"))
            .env("PULLSEAL_LOG", work.join("pullseal.log"))
            .env("SOPS_DISABLE_VERSION_CHECK", "1");
        Run {
            sandbox: self,
            name: name.to_owned(),
            cmd,
            stdin: Vec::new(),
            plain_stdout: false,
            secret_argument: false,
        }
    }

    /// Every file under `work/`, symbolic links not followed, relative to it.
    fn files(&self) -> Vec<PathBuf> {
        fn walk(dir: &Path, out: &mut Vec<PathBuf>) {
            for entry in fs::read_dir(dir).unwrap() {
                let entry = entry.unwrap();
                let kind = entry.file_type().unwrap();
                if kind.is_dir() {
                    walk(&entry.path(), out);
                } else if kind.is_file() {
                    out.push(entry.path());
                }
            }
        }
        let mut out = Vec::new();
        walk(&self.work(), &mut out);
        out.sort();
        out
    }
}

/// One command of the matrix, checked when it has run.
struct Run<'s> {
    sandbox: &'s Sandbox,
    name: String,
    cmd: Command,
    stdin: Vec<u8>,
    plain_stdout: bool,
    /// The run gives a credential as an argument, on purpose: the refusal must not repeat it.
    secret_argument: bool,
}

impl Run<'_> {
    fn arg(mut self, arg: impl AsRef<OsStr>) -> Self {
        self.cmd.arg(arg);
        self
    }

    fn args<S: AsRef<OsStr>>(mut self, args: impl IntoIterator<Item = S>) -> Self {
        self.cmd.args(args);
        self
    }

    fn env(mut self, key: &str, value: impl AsRef<OsStr>) -> Self {
        self.cmd.env(key, value);
        self
    }

    fn cwd(mut self, dir: &Path) -> Self {
        self.cmd.current_dir(dir);
        self
    }

    fn stdin(mut self, input: impl Into<Vec<u8>>) -> Self {
        self.stdin = input.into();
        self
    }

    /// The run is for a `seal: none` cluster: its stdout may hold pullseal's plain Secrets.
    fn plain(mut self) -> Self {
        self.plain_stdout = true;
        self
    }

    /// The run gives a credential as an argument by mistake (a user's): it is refused, and no
    /// output repeats it; the arguments are not checked.
    fn secret_argument(mut self) -> Self {
        self.secret_argument = true;
        self
    }

    /// Runs it, expects exit `code` and `needle` in stdout or stderr, and checks every output
    /// for leaks; returns the output and how many exempt values stdout had.
    fn expect(mut self, code: i32, needle: &str) -> (Output, usize) {
        let mut child = self
            .cmd
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap_or_else(|e| panic!("{}: cannot start: {e}", self.name));
        let mut pipe = child.stdin.take().unwrap();
        let input = std::mem::take(&mut self.stdin);
        let writer = std::thread::spawn(move || {
            // A command that reads no input closes the pipe early: that is fine.
            let _ = pipe.write_all(&input);
        });
        let out = child.wait_with_output().unwrap();
        writer.join().unwrap();
        let name = &self.name;
        assert_eq!(out.status.code(), Some(code), "{name}:\n{}", transcript(&out));
        let shown = crate::support::output_text(&out);
        assert!(
            shown.contains(needle),
            "{name}: {needle:?} missing:\n{}",
            transcript(&out)
        );

        let checker = &self.sandbox.checker;
        let mut found = Vec::new();
        let (f, exempt) = checker.scan("stdout", &out.stdout, self.plain_stdout);
        found.extend(f);
        found.extend(checker.scan("stderr", &out.stderr, false).0);
        let work = self.sandbox.work();
        for file in self.sandbox.files() {
            let rel = file.strip_prefix(&work).unwrap().to_path_buf();
            let plain = self.sandbox.plain_files.contains(&rel);
            let bytes = fs::read(&file).unwrap();
            found.extend(checker.scan(&rel.display().to_string(), &bytes, plain).0);
        }
        let never = [Kind::Credential, Kind::DataKey, Kind::AgeIdentity];
        if !self.secret_argument {
            for arg in self.cmd.get_args() {
                found.extend(checker.in_argument(arg, &never));
            }
        }
        for (_, value) in self.cmd.get_envs() {
            // An identity may be given as SOPS_AGE_KEY, as sops reads it.
            found.extend(checker.in_argument(value.unwrap_or_default(), &never[..2]));
        }
        assert!(
            found.is_empty(),
            "{name} leaked:\n  {}\n{}",
            found.join("\n  "),
            transcript(&out)
        );
        (out, exempt)
    }
}

/// The arguments that give pullseal the sandbox's catalog and the test identity.
fn keyed(sandbox: &Sandbox) -> Vec<OsString> {
    vec![
        "--catalog".into(),
        sandbox.catalog().into(),
        "--age-key-file".into(),
        path(AGE_KEY).into(),
    ]
}

// ----------------------------------------------------------------------------------- the checker's own tests

/// A planted canary whose base64 holds `+` and `/` at some alignment, so that the URL-safe
/// needles differ from the standard ones.
const PLANTED: &str = "cnry-planted~password?>>0123456789";
const PLANTED_USER: &str = "planted-user";
const PLANTED_KEY: [u8; 32] = [
    0xfb, 0xff, 0x3e, 0x10, 0x20, 0x30, 0x40, 0x50, 0x60, 0x70, 0x80, 0x90, 0xa0, 0xb0, 0xc0, 0xd0, 0xe0,
    0xf0, 0x01, 0x12, 0x23, 0x34, 0x45, 0x56, 0x67, 0x78, 0x89, 0x9a, 0xab, 0xbc, 0xcd, 0xde,
];

fn planted_checker() -> Checker {
    Checker {
        needles: needle_set(
            &[
                (
                    "planted".to_owned(),
                    Kind::Credential,
                    PLANTED.as_bytes().to_vec(),
                ),
                ("planted key".to_owned(), Kind::DataKey, PLANTED_KEY.to_vec()),
            ],
            &[(PLANTED_USER, PLANTED)],
        ),
    }
}

fn found(text: &str, plain_allowed: bool) -> Vec<String> {
    planted_checker()
        .scan("planted", text.as_bytes(), plain_allowed)
        .0
}

/// `value` base64-encoded after `k` other bytes and inside a longer plaintext, as a
/// `.dockerconfigjson` holds a password.
fn embedded(engine: &base64::engine::GeneralPurpose, value: &[u8], k: usize) -> String {
    let mut plain = b"{\"auths\":{\"x\":{\"password\":\"".to_vec();
    plain.truncate(plain.len() - 3 + k % 3);
    plain.extend_from_slice(value);
    plain.extend_from_slice(b"\"}}}");
    engine.encode(plain)
}

#[test]
fn the_checker_finds_a_planted_canary_in_every_encoding() {
    let checker = planted_checker();
    let std_needles: BTreeSet<_> = needles_of("p", Kind::Credential, PLANTED.as_bytes())
        .into_iter()
        .filter(|n| n.form.starts_with("base64 "))
        .map(|n| n.bytes)
        .collect();
    let url_needles: BTreeSet<_> = needles_of("p", Kind::Credential, PLANTED.as_bytes())
        .into_iter()
        .filter(|n| n.form.starts_with("base64url"))
        .map(|n| n.bytes)
        .collect();
    assert_ne!(
        std_needles, url_needles,
        "the planted canary must tell the alphabets apart"
    );

    let mut plants = vec![format!("error: bad value {PLANTED} here\n")];
    for k in 0..3 {
        for engine in [&STANDARD, &URL_SAFE] {
            plants.push(format!("data: {}\n", embedded(engine, PLANTED.as_bytes(), k)));
            plants.push(format!("key: {}\n", embedded(engine, &PLANTED_KEY, k)));
        }
    }
    let hex = hex(&PLANTED_KEY);
    plants.push(format!("derivation key {hex}\n"));
    plants.push(format!("derivation key {}\n", hex.to_uppercase()));
    plants.push(format!(
        "{{\"auths\": {{\"x\": {{\"auth\": \"{}\"}}}}}}\n",
        STANDARD.encode(format!("{PLANTED_USER}:{PLANTED}"))
    ));
    let mut raw_key = b"binary ".to_vec();
    raw_key.extend_from_slice(&PLANTED_KEY);
    assert!(!checker.scan("raw", &raw_key, false).0.is_empty(), "the raw key");
    for plant in &plants {
        assert!(!found(plant, false).is_empty(), "not found: {plant}");
        assert!(
            !found(plant, true).is_empty(),
            "not found with seal: none allowed: {plant}"
        );
    }
    // And nothing is found where nothing was planted.
    assert!(found("apiVersion: v1\nkind: Secret\ndata: {a: Yg==}\n", false).is_empty());
    // A process argument.
    assert!(
        !checker
            .in_argument(OsStr::new(&format!("--password={PLANTED}")), &[Kind::Credential])
            .is_empty()
    );
}

/// A value with the sealed-secrets shape whose bytes hold the planted canary: exempt only
/// where sealed values live.
fn sealed_shaped() -> String {
    let mut bytes = vec![0x02, 0x00];
    bytes.extend_from_slice(&[0x5a; 512]);
    bytes.extend_from_slice(PLANTED.as_bytes());
    bytes.extend_from_slice(&[0x11; 16]);
    STANDARD.encode(bytes)
}

/// An `ENC[...]` value whose data is the base64 of the planted canary (a leak, if it were real).
fn sops_shaped() -> String {
    format!(
        "ENC[AES256_GCM,data:{},iv:{},tag:{},type:str]",
        STANDARD.encode(PLANTED),
        STANDARD.encode([7u8; 32]),
        STANDARD.encode([9u8; 16])
    )
}

const SEALED_DOC: &str = "apiVersion: bitnami.com/v1alpha1
kind: SealedSecret
metadata:
  name: pullseal-company
  namespace: shop
spec:
  encryptedData:
    .dockerconfigjson: \"SEALED\"
  template:
    metadata:
      name: pullseal-company
    type: kubernetes.io/dockerconfigjson
";

#[test]
fn the_checker_exempts_sealed_values_and_nothing_beside_them() {
    let sealed = sealed_shaped();
    let doc = SEALED_DOC.replace("SEALED", &sealed);
    assert!(found(&doc, false).is_empty(), "a sealed value is exempt");
    assert_eq!(planted_checker().scan("d", doc.as_bytes(), false).1, 1);
    // The same value in a multi-document stream, after other documents, and unquoted.
    let stream = format!("kind: ConfigMap\ndata: {{a: b}}\n---\n{}", doc.replace('"', ""));
    assert!(found(&stream, false).is_empty());
    let leaks = [
        // On the same line, after the value.
        doc.replace(&format!("\"{sealed}\""), &format!("\"{sealed}\" # {PLANTED}")),
        // Beside it in the SealedSecret.
        doc.replace(
            "      name: pullseal-company\n",
            &format!("      name: pullseal-company\n      annotations: {{x: {PLANTED}}}\n"),
        ),
        doc.replace(
            "  template:",
            &format!("    other: \"{}\"\n  template:", STANDARD.encode(PLANTED)),
        ),
        // Not sealed: the base64 of a plaintext in encryptedData.
        SEALED_DOC.replace("SEALED", &embedded(&STANDARD, PLANTED.as_bytes(), 0)),
        // Sealed-shaped, but not in a SealedSecret.
        doc.replace("kind: SealedSecret", "kind: Secret"),
        doc.replace("encryptedData:", "data:"),
        // In a document that is not YAML at all.
        format!("{doc}\n---\n{{{{ not yaml {PLANTED}"),
    ];
    for leak in &leaks {
        assert!(!found(leak, false).is_empty(), "not found:\n{leak}");
    }
}

#[test]
fn the_checker_exempts_sops_values_and_nothing_beside_them() {
    let enc = sops_shaped();
    let catalog = format!(
        "registries:\n    company:\n        password: {enc}\nsops:\n    mac: {enc}\n    version: 3.11.0\n"
    );
    assert!(found(&catalog, false).is_empty(), "an ENC value is exempt");
    let leaks = [
        catalog.replace("3.11.0", PLANTED),
        catalog.replacen(&enc, &format!("{enc} #{PLANTED}"), 1),
        // A short IV is not sops' shape.
        catalog.replace(&STANDARD.encode([7u8; 32]), &STANDARD.encode([7u8; 12])),
        // Not the whole scalar.
        catalog.replacen(&enc, &format!("x{enc}"), 1),
        catalog.replacen(&enc, &format!("\"{enc} \""), 1),
    ];
    for leak in &leaks {
        assert!(!found(leak, false).is_empty(), "not found:\n{leak}");
    }
}

/// A `seal: none` pull secret as pullseal writes it, with the planted credential.
fn plain_secret() -> String {
    let config = format!(
        "{{\"auths\":{{\"registry.example.com:5000\":{{\"username\":\"{PLANTED_USER}\",\"password\":\"{PLANTED}\",\"auth\":\"{}\"}}}}}}",
        STANDARD.encode(format!("{PLANTED_USER}:{PLANTED}"))
    );
    format!(
        "apiVersion: v1\nkind: Secret\nmetadata:\n  name: \"pullseal-company\"\n  namespace: \"shop\"\n  labels:\n    app.kubernetes.io/managed-by: \"pullseal\"\n  annotations:\n    pullseal.io/registry: \"company\"\ntype: kubernetes.io/dockerconfigjson\ndata:\n  .dockerconfigjson: \"{}\"\n",
        STANDARD.encode(config)
    )
}

#[test]
fn the_checker_exempts_seal_none_secrets_only_when_allowed_and_only_their_data() {
    let secret = plain_secret();
    assert!(found(&secret, true).is_empty(), "allowed for a seal: none run");
    assert!(!found(&secret, false).is_empty(), "refused elsewhere");
    // In a ResourceList, as the KRM function writes it, and as JSON.
    let indented_secret = indented(&secret, 4);
    let list = format!(
        "apiVersion: config.kubernetes.io/v1\nkind: ResourceList\nitems:\n  - {}",
        indented_secret.trim_start()
    );
    assert!(found(&list, true).is_empty(), "{list}");
    let data = STANDARD.encode(PLANTED);
    let json = format!(
        "{{\"apiVersion\": \"v1\", \"kind\": \"Secret\", \"metadata\": {{\"labels\": {{\"app.kubernetes.io/managed-by\": \"pullseal\"}}, \"annotations\": {{\"pullseal.io/registry\": \"x\"}}}}, \"type\": \"Opaque\", \"data\": {{\"k\": \"{data}\"}}}}"
    );
    assert!(found(&json, true).is_empty(), "{json}");
    let leaks = [
        // Beside the data, in the same Secret.
        secret.replace("data:\n", &format!("stringData:\n  p: {PLANTED}\ndata:\n")),
        secret.replace("\"company\"", &format!("\"{PLANTED}\"")),
        // Not pullseal's.
        secret.replace("\"pullseal\"\n", "\"helm\"\n"),
        secret.replace("kind: Secret", "kind: ConfigMap"),
        // Not base64.
        secret.replace(
            "data:\n  .dockerconfigjson: \"",
            &format!("data:\n  .dockerconfigjson: \"{PLANTED} "),
        ),
        // The results of a ResourceList are not the Secret.
        format!("{list}results:\n  - message: {PLANTED}\n"),
    ];
    for leak in &leaks {
        assert!(!found(leak, true).is_empty(), "not found:\n{leak}");
    }
}

// ----------------------------------------------------------------------------------- the matrix

/// Workloads in two namespaces that use every registry with credentials.
const ALL: &str = "# every registry of the canary catalog
apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
  namespace: shop
spec:
  template:
    metadata:
      annotations:
        pullseal.io/registries: company, hub, quay-team, acr, gcr, jfrog, nexus, sys, mcr-auth, ecr
    spec:
      containers:
        - {name: company, image: \"registry.example.com:5000/shop/web:1\"}
        - {name: hub, image: \"cnryorg/tool:1\"}
        - {name: quay, image: \"quay.io/acme/sidecar:2\"}
        - {name: acr, image: \"cnryacr.azurecr.io/web:1\"}
        - {name: gcr, image: \"europe-west1-docker.pkg.dev/cnry-project/web/app:1\"}
        - {name: jfrog, image: \"jfrog.example.com/docker-local/web:1\"}
        - {name: nexus, image: \"nexus.example.com/web:1\"}
        - {name: sys, image: \"system.example.com/web:1\"}
        - {name: mcr, image: \"mcr.microsoft.com/dotnet/runtime:8.0\"}
        - {name: ecr, image: \"123456789012.dkr.ecr.eu-west-1.amazonaws.com/web:1\"}
---
apiVersion: v1
kind: Pod
metadata:
  name: job
  namespace: team-a
  annotations:
    registry.pullseal.io/main: company
    registry.pullseal.io/side: quay-team
spec:
  containers:
    - {name: main, image: \"registry.example.com:5000/job:1\"}
    - {name: side, image: \"quay.io/acme/job:1\"}
";

/// The credentials `ALL` uses, each of which a pull secret must carry.
const ALL_CREDENTIALS: &[&str] = &[
    COMPANY_PASSWORD,
    HUB_PAT,
    QUAY_TOKEN,
    ACR_PASSWORD,
    GCR_PRIVATE_KEY,
    JFROG_PASSWORD,
    NEXUS_PASSWORD,
    SYSTEM_PASSWORD,
    MCR_PASSWORD,
    ECR_SECRET,
    ECR_SESSION,
];

/// A workload using one registry: `registry` for an image of `image`, in `namespace`.
fn pod(registry: &str, image: &str, namespace: &str) -> String {
    format!(
        "apiVersion: v1\nkind: Pod\nmetadata:\n  name: p\n  namespace: {namespace}\n  annotations:\n    pullseal.io/registries: {registry}\nspec:\n  containers:\n    - name: c\n      image: {image}\n"
    )
}

#[test]
fn render_leaks_nothing_in_any_seal_or_output() {
    let mut sb = Sandbox::new();
    sb.write("manifests/app.yaml", ALL);
    let render = |name: &str, cluster: &str| {
        sb.pullseal(name)
            .arg("render")
            .args(keyed(&sb))
            .args(["--cluster", cluster])
    };

    // sealed-secrets, strict, from a file.
    let (out, exempt) = render("render sealed-secrets", "sealed")
        .arg("manifests/app.yaml")
        .expect(0, "");
    // Nine pull secrets and the three AWS keys of ECR in shop, two pull secrets in team-a.
    assert_eq!(exempt, 14, "{}", transcript(&out));
    // The sealed values are real, and hold the canaries: the check above looked at them.
    let opened = peers::unseal(&out.stdout, &path(SEALING_KEY));
    assert!(opened["shop/pullseal-company"][".dockerconfigjson"].contains(COMPANY_PASSWORD));
    assert_eq!(opened["shop/pullseal-ecr-aws"]["secret-access-key"], ECR_SECRET);
    // And a canary planted in this real output is found.
    let stdout = String::from_utf8(out.stdout.clone()).unwrap();
    let planted = stdout.replacen(
        "  template:\n",
        &format!("  template:\n    # {}\n", STANDARD.encode(format!("x{HUB_PAT}"))),
        1,
    );
    assert!(!sb.checker.scan("planted", planted.as_bytes(), false).0.is_empty());

    // namespace-wide, from stdin, the identity from SOPS_AGE_KEY, a secret-name template.
    let identity = fs::read_to_string(path(AGE_KEY)).unwrap();
    sb.pullseal("render namespace-wide, stdin, SOPS_AGE_KEY, --secret-name")
        .args(["render", "--catalog"])
        .arg(sb.catalog())
        .args([
            "--cluster",
            "ns-wide",
            "--secret-name",
            "{{cluster}}-{{registry}}-{{instance}}",
            "--instance",
            "blue",
        ])
        .env("SOPS_AGE_KEY", identity.trim())
        .stdin(ALL)
        .expect(0, "");

    // A cluster whose kubelet pulls from ECR itself, the catalog found in the working
    // directory, a directory of manifests.
    sb.pullseal("render kubeletCredentials, discovered catalog, directory")
        .args(["render", "--age-key-file"])
        .arg(path(AGE_KEY))
        .args(["--cluster", "eks", "manifests"])
        .expect(0, "");

    // seal: none: plain Secrets on stdout, by design, and nowhere else.
    let (out, exempt) = render("render seal: none", "plain")
        .arg("manifests/app.yaml")
        .plain()
        .expect(0, "seal: none");
    assert_eq!(exempt, 14, "{}", transcript(&out));
    // Without the exemption the same stdout holds every credential: the canaries are wired.
    let seen = sb.checker.labels_in(&out.stdout);
    for canary in ALL_CREDENTIALS {
        assert!(seen.contains(*canary), "{canary} is in no plain Secret: {seen:?}");
    }

    // seal: sops, for Flux.
    let (out, exempt) = render("render seal: sops", "flux")
        .arg("manifests/app.yaml")
        .expect(0, "");
    // 14 values and a MAC per Secret.
    assert!(exempt >= 14 + 12, "{exempt}: {}", transcript(&out));

    // --all-clusters into --out-dir: every cluster, the seal: none one included.
    sb.plain_file("out/plain/manifests.yaml");
    sb.pullseal("render --all-clusters --out-dir")
        .arg("render")
        .args(keyed(&sb))
        .args(["--all-clusters", "--out-dir", "out", "manifests/app.yaml"])
        .expect(0, "seal: none");
    for cluster in ["sealed", "ns-wide", "plain", "flux", "eks"] {
        assert!(
            sb.work().join(format!("out/{cluster}/manifests.yaml")).is_file(),
            "{cluster}"
        );
    }
}

#[test]
#[allow(clippy::too_many_lines)] // one table of cases, then the catalogs that fail to open
fn render_error_paths_leak_nothing() {
    let sb = Sandbox::new();
    sb.write("manifests/app.yaml", ALL);
    let render = |name: &str| sb.pullseal(name).arg("render").args(keyed(&sb));
    let cases: [(&str, String, &[&str], i32, &str); 9] = [
        (
            "unknown registry",
            pod("nope", "registry.example.com:5000/a:1", "shop"),
            &["--cluster", "sealed"],
            1,
            "nope",
        ),
        (
            "policy violation",
            pod("quay-team", "quay.io/acme/a:1", "prod"),
            &["--cluster", "sealed"],
            1,
            "allow.namespaces",
        ),
        (
            "image not served",
            pod("company", "quay.io/acme/a:1", "shop"),
            &["--cluster", "sealed"],
            1,
            "company",
        ),
        (
            "missing namespace",
            ALL.replace("  namespace: shop\n", ""),
            &["--cluster", "sealed"],
            1,
            "namespace",
        ),
        (
            "unknown cluster",
            ALL.to_owned(),
            &["--cluster", "nowhere"],
            4,
            "nowhere",
        ),
        ("no cluster chosen", ALL.to_owned(), &[], 2, "cluster"),
        (
            "bad --secret-name",
            ALL.to_owned(),
            &["--cluster", "sealed", "--secret-name", "{{registry"],
            2,
            "secret-name",
        ),
        (
            "invalid --namespace",
            ALL.to_owned(),
            &["--cluster", "sealed", "--namespace", "Not_A_Label"],
            2,
            "namespace",
        ),
        (
            "unknown flag",
            ALL.to_owned(),
            &["--cluster", "sealed", "--password", "x"],
            2,
            "--password",
        ),
    ];
    for (name, input, args, code, needle) in cases {
        render(name).args(args).stdin(input).expect(code, needle);
    }
    render("unreadable input")
        .args(["--cluster", "sealed", "manifests/missing.yaml"])
        .expect(5, "missing.yaml");

    // The catalog cannot be opened or used.
    sb.pullseal("wrong age identity")
        .args(["render", "--cluster", "sealed", "--age-key-file"])
        .arg(path(OTHER_KEY))
        .stdin(ALL)
        .expect(3, "age");
    sb.pullseal("no age identity")
        .args(["render", "--cluster", "sealed"])
        .stdin(ALL)
        .expect(3, "age");
    for (what, catalog, code, needle) in &fixture().broken {
        let file = sb.write("broken.catalog.yaml", catalog);
        sb.pullseal(what)
            .args(["render", "--cluster", "sealed", "--age-key-file"])
            .arg(path(AGE_KEY))
            .arg("--catalog")
            .arg(&file)
            .stdin(ALL)
            .expect(*code, needle);
    }
    for (what, catalog, code, needle) in &fixture().broken_plain {
        let file = sb.private("broken.catalog.yaml", catalog);
        sb.pullseal(what)
            .args(["render", "--cluster", "sealed", "--age-key-file"])
            .arg(path(AGE_KEY))
            .arg("--catalog")
            .arg(&file)
            .stdin(ALL)
            .expect(*code, needle);
    }
    fs::remove_file(sb.work().join("broken.catalog.yaml")).unwrap();

    // An expired certificate, for one cluster and for all of them.
    let expired = sb.write("expired.catalog.yaml", &fixture().expired);
    let with_expired = |name: &str| {
        sb.pullseal(name)
            .args(["render", "--age-key-file"])
            .arg(path(AGE_KEY))
            .arg("--catalog")
            .arg(&expired)
    };
    with_expired("expired certificate")
        .args(["--cluster", "expired", "manifests/app.yaml"])
        .expect(4, "expired");
    with_expired("--all-clusters with an expired certificate")
        .args(["--all-clusters", "--out-dir", "out", "manifests/app.yaml"])
        .expect(4, "expired");
}

/// The documents of `ALL` as a `ResourceList` for a KRM function, with `config` as the data of
/// its `ConfigMap` function config.
fn resource_list(config: &str) -> String {
    let mut list = String::from("apiVersion: config.kubernetes.io/v1\nkind: ResourceList\nitems:\n");
    for doc in ALL.split("---\n") {
        let doc = indented(doc, 2);
        list.push_str("- ");
        list.push_str(doc.trim_start());
    }
    let _ = write!(
        list,
        "functionConfig:\n  apiVersion: v1\n  kind: ConfigMap\n  metadata: {{name: pullseal}}\n  data: {config}\n"
    );
    list
}

/// The KRM function (no command, a `ResourceList` on stdin) in every seal, its `results` on
/// errors, and through the real kpt, in place and to stdout.
#[test]
fn the_krm_function_leaks_nothing() {
    let sb = Sandbox::new();
    let krm = |name: &str| {
        sb.pullseal(name)
            .env("PULLSEAL_CATALOG", sb.catalog())
            .env("SOPS_AGE_KEY_FILE", path(AGE_KEY))
    };
    let (out, exempt) = krm("KRM sealed-secrets")
        .stdin(resource_list("{cluster: sealed}"))
        .expect(0, "");
    assert_eq!(exempt, 14, "{}", transcript(&out));
    let (out, exempt) = krm("KRM seal: none, results")
        .stdin(resource_list("{cluster: plain}"))
        .plain()
        .expect(0, "results:");
    assert_eq!(exempt, 14, "{}", transcript(&out));
    krm("KRM seal: sops")
        .stdin(resource_list("{cluster: flux}"))
        .expect(0, "");
    let json = "{\"apiVersion\": \"config.kubernetes.io/v1\", \"kind\": \"ResourceList\", \"items\": [{\"apiVersion\": \"v1\", \"kind\": \"Pod\", \"metadata\": {\"name\": \"p\", \"namespace\": \"shop\", \"annotations\": {\"pullseal.io/registries\": \"hub, gcr\"}}, \"spec\": {\"containers\": [{\"name\": \"a\", \"image\": \"nginx\"}, {\"name\": \"b\", \"image\": \"europe-west1-docker.pkg.dev/cnry-project/b:1\"}]}}], \"functionConfig\": {\"apiVersion\": \"v1\", \"kind\": \"ConfigMap\", \"data\": {\"cluster\": \"plain\"}}}";
    krm("KRM JSON, seal: none").stdin(json).plain().expect(0, "");
    krm("KRM unknown registry in results")
        .stdin(resource_list("{cluster: sealed}").replace("company, hub", "nope, company, hub"))
        .expect(1, "nope");
    krm("KRM bad function config")
        .stdin(resource_list("{clusters: sealed}"))
        .expect(2, "clusters");
    krm("KRM not a ResourceList").stdin(ALL).expect(2, "ResourceList");
    sb.pullseal("KRM wrong age identity")
        .env("PULLSEAL_CATALOG", sb.catalog())
        .env("SOPS_AGE_KEY_FILE", path(OTHER_KEY))
        .stdin(resource_list("{cluster: sealed}"))
        .expect(3, "age");

    // The real kpt: in place (it writes the package's files), then to stdout for seal: none.
    sb.write("pkg/app.yaml", ALL);
    let bin = fs::canonicalize(assert_cmd::cargo::cargo_bin("pullseal")).unwrap();
    let kpt = |name: &str, extra: &str, cluster: &str| {
        sb.program(name, &peers::kpt())
            .args(["fn", "eval", "pkg", "--exec"])
            .arg(&bin)
            .args(extra.split_whitespace())
            .arg("--")
            .arg(format!("catalog={}", sb.catalog().display()))
            .arg(format!("ageKeyFile={}", path(AGE_KEY).display()))
            .arg(format!("cluster={cluster}"))
    };
    kpt("kpt fn eval, in place", "", "sealed").expect(0, "");
    let written: Vec<PathBuf> = sb.files();
    assert!(
        written.iter().any(|f| f.starts_with(sb.work().join("pkg"))
            && fs::read_to_string(f).unwrap().contains("kind: SealedSecret")),
        "kpt wrote no SealedSecret into the package: {written:?}"
    );
    kpt("kpt fn eval -o stdout, seal: none", "-o stdout", "plain")
        .plain()
        .expect(0, "");
    kpt("kpt fn eval, unknown cluster", "-o stdout", "nowhere").expect(1, "nowhere");
}

/// A kustomization in `work/app` whose last transformer is pullseal with `settings`.
fn kustomization(sb: &Sandbox, settings: &str) {
    sb.write(
        "app/kustomization.yaml",
        "resources: [resources.yaml]\ntransformers: [pullseal.yaml]\n",
    );
    sb.write("app/resources.yaml", ALL);
    sb.write(
        "app/pullseal.yaml",
        &format!(
            "apiVersion: pullseal.io/v1alpha1\nkind: Render\nmetadata: {{name: pullseal}}\ncatalog: ../pullseal.catalog.yaml\nageKeyFile: {}\n{settings}",
            path(AGE_KEY).display()
        ),
    );
}

/// The legacy exec plugin: through the real `kubectl kustomize --enable-alpha-plugins`, and
/// called as kustomize calls it (the config file as argv[1], the resources on stdin).
#[test]
fn the_kustomize_exec_plugin_leaks_nothing() {
    let sb = Sandbox::new();
    sb.pullseal("install-kustomize-plugin --link")
        .args(["install-kustomize-plugin", "--link", "--dir", "plugins"])
        .expect(0, "Render");
    let kubectl = |name: &str| {
        sb.program(name, &peers::kubectl())
            .args(["kustomize", "--enable-alpha-plugins", "app"])
            .env("KUSTOMIZE_PLUGIN_HOME", sb.work().join("plugins"))
    };
    kustomization(&sb, "cluster: sealed\n");
    let (out, exempt) = kubectl("kubectl kustomize, sealed-secrets").expect(0, "");
    assert_eq!(exempt, 14, "{}", transcript(&out));
    kustomization(&sb, "cluster: plain\n");
    kubectl("kubectl kustomize, seal: none").plain().expect(0, "");
    kustomization(&sb, "cluster: flux\n");
    kubectl("kubectl kustomize, seal: sops").expect(0, "");
    kustomization(&sb, "cluster: sealed\nnamespace: prod\n");
    sb.write(
        "app/resources.yaml",
        &pod("quay-team", "quay.io/acme/a:1", "prod"),
    );
    kubectl("kubectl kustomize, policy violation").expect(1, "allow.namespaces");
    kustomization(&sb, "clusters: sealed\n");
    kubectl("kubectl kustomize, bad settings").expect(1, "clusters");

    kustomization(&sb, "cluster: sealed\n");
    sb.pullseal("exec plugin called directly")
        .arg(sb.work().join("app/pullseal.yaml"))
        .env("KUSTOMIZE_PLUGIN_CONFIG_ROOT", sb.work().join("app"))
        .stdin(ALL)
        .expect(0, "");
    sb.write(
        "app/pullseal.yaml",
        &format!(
            "apiVersion: pullseal.io/v1alpha1\nkind: Render\nmetadata: {{name: pullseal}}\ncatalog: ../pullseal.catalog.yaml\nageKeyFile: {}\ncluster: sealed\n",
            path(OTHER_KEY).display()
        ),
    );
    sb.pullseal("exec plugin, wrong age identity")
        .arg(sb.work().join("app/pullseal.yaml"))
        .env("KUSTOMIZE_PLUGIN_CONFIG_ROOT", sb.work().join("app"))
        .stdin(ALL)
        .expect(3, "age");
}

/// A Helm 3 `helm template` stream (`# Source:` headers) of the workloads of `ALL`.
fn helm_3_stream() -> String {
    ALL.split("---\n")
        .enumerate()
        .fold(String::new(), |mut out, (i, doc)| {
            let _ = write!(out, "---\n# Source: web/templates/t{i}.yaml\n{doc}");
            out
        })
}

/// Helm 4's stream: every document annotated with its `postrender-filename`.
fn helm_4_stream() -> String {
    ALL.replace(
        "metadata:\n  name: web\n",
        "metadata:\n  name: web\n  annotations:\n    postrenderer.helm.sh/postrender-filename: 'web/templates/deployment.yaml'\n",
    )
}

/// The post-renderer contract: Helm 3 runs `pullseal render --namespace=NS` (its
/// `--post-renderer-args`), Helm 4 the plugin's `render` then those args; the settings come
/// from the environment, and Helm 4 hides stderr, so `PULLSEAL_LOG` holds it.
#[test]
fn the_helm_post_renderers_leak_nothing() {
    let sb = Sandbox::new();
    let helm = |name: &str, cluster: &str| {
        sb.pullseal(name)
            .args(["render", "--namespace=shop"])
            .env("PULLSEAL_CATALOG", sb.catalog())
            .env("SOPS_AGE_KEY_FILE", path(AGE_KEY))
            .env("PULLSEAL_CLUSTER", cluster)
    };
    let (out, exempt) = helm("Helm 3 post-renderer", "sealed")
        .stdin(helm_3_stream())
        .expect(0, "");
    assert_eq!(exempt, 14, "{}", transcript(&out));
    helm("Helm 3 post-renderer, seal: none", "plain")
        .stdin(helm_3_stream())
        .plain()
        .expect(0, "");
    helm("Helm 4 plugin", "flux").stdin(helm_4_stream()).expect(0, "");
    helm("Helm 4 plugin, seal: none", "plain")
        .stdin(helm_4_stream())
        .plain()
        .expect(0, "");
    helm("Helm 4 plugin, unknown registry", "sealed")
        .stdin(helm_4_stream().replace("company, hub", "nope, hub"))
        .expect(1, "nope");
    let log = fs::read_to_string(sb.work().join("pullseal.log")).unwrap();
    assert!(log.contains("registry \"nope\" is not in the catalog"), "{log}");
    helm("Helm 3 post-renderer, wrong age identity", "sealed")
        .env("SOPS_AGE_KEY_FILE", path(OTHER_KEY))
        .stdin(helm_3_stream())
        .expect(3, "age");
}

/// A fake `name` in `work/bin` that records its arguments and environment into `work/` (so
/// they are scanned) and prints `ALL`.
fn fake_tool(sb: &Sandbox, name: &str) {
    use std::os::unix::fs::PermissionsExt as _;
    sb.write("manifests/app.yaml", ALL);
    let file = sb.write(
        &format!("bin/{name}"),
        &format!(
            "#!/bin/sh\nprintf '%s\\n' \"$@\" > '{work}/{name}.argv'\nenv > '{work}/{name}.env'\ncat '{work}/manifests/app.yaml'\n",
            work = sb.work().display()
        ),
    );
    fs::set_permissions(&file, std::fs::Permissions::from_mode(0o755)).unwrap();
}

/// The Argo CD plugin's generate command in every mode, with the environment the repo-server
/// gives it; helm and kustomize are fakes that record how they were called.
#[test]
fn the_argo_cd_plugin_leaks_nothing() {
    let sb = Sandbox::new();
    fake_tool(&sb, "helm");
    fake_tool(&sb, "kustomize");
    sb.write("apps/dir/app.yaml", ALL);
    sb.write(
        "apps/chart/Chart.yaml",
        "apiVersion: v2\nname: web\nversion: 0.1.0\n",
    );
    sb.write("apps/kust/kustomization.yaml", "resources: [app.yaml]\n");
    let generate = |name: &str, app: &str| {
        sb.pullseal(name)
            .args(["argocd", "generate"])
            .cwd(&sb.work().join("apps").join(app))
            .env(
                "PATH",
                format!("{}:/usr/bin:/bin", sb.work().join("bin").display()),
            )
            .env("PULLSEAL_CATALOG", sb.catalog())
            .env("SOPS_AGE_KEY_FILE", path(AGE_KEY))
            .env("ARGOCD_APP_NAME", "shop")
            .env("ARGOCD_APP_NAMESPACE", "shop")
            .env("ARGOCD_APP_PROJECT_NAME", "default")
            .env("ARGOCD_APP_REVISION", "0123456789abcdef0123456789abcdef01234567")
            .env("ARGOCD_ENV_PULLSEAL_CLUSTER", "sealed")
            .env("KUBE_VERSION", "1.31.0")
    };
    let (out, exempt) = generate("argocd generate, directory", "dir").expect(0, "");
    assert_eq!(exempt, 14, "{}", transcript(&out));
    generate("argocd generate, helm", "chart").expect(0, "");
    assert!(sb.work().join("helm.argv").is_file(), "the fake helm was not run");
    generate("argocd generate, kustomize", "kust").expect(0, "");
    assert!(
        sb.work().join("kustomize.argv").is_file(),
        "the fake kustomize was not run"
    );
    generate("argocd generate, seal: none parameter", "dir")
        .env("PARAM_CLUSTER", "plain")
        .plain()
        .expect(0, "seal: none");
    generate("argocd generate, seal: sops", "dir")
        .env("PARAM_CLUSTER", "flux")
        .expect(0, "");
    sb.write(
        "apps/team/app.yaml",
        &pod("team-only", "team.example.com/a:1", "shop"),
    );
    generate("argocd generate, project rule", "team").expect(1, "allow.projects");
    generate("argocd generate, bad mode", "dir")
        .env("PARAM_MODE", "bogus")
        .expect(2, "bogus");
    generate("argocd generate, wrong age identity", "dir")
        .env("SOPS_AGE_KEY_FILE", path(OTHER_KEY))
        .expect(3, "age");
}

/// Every `catalog` subcommand on a catalog it makes itself, the secrets from stdin and files,
/// and their refusals; the catalog file is scanned after each (only `ENC[...]` may hold a
/// value), and so are the data keys `init` and `rekey` make.
#[test]
#[allow(clippy::too_many_lines)] // one story: init, add every type, list, edit, rotate, rm, rekey
fn the_catalog_commands_leak_nothing() {
    let mut sb = Sandbox::new();
    let file = sb.work().join("admin.catalog.yaml");
    admin(&sb, &file, "catalog init")
        .args(["init", "--age", RECIPIENT])
        .expect(0, "");
    sb.add_key(data_key(&fs::read_to_string(&file).unwrap()));
    admin(&sb, &file, "catalog init over a file")
        .args(["init", "--age", RECIPIENT])
        .expect(2, "overwrite");

    let cert = path(CERT);
    admin(&sb, &file, "cluster add sealed-secrets")
        .args(["cluster", "add", "sealed", "--cert"])
        .arg(&cert)
        .expect(0, "");
    admin(&sb, &file, "cluster add seal: none")
        .args(["cluster", "add", "plain", "--seal", "none"])
        .expect(0, "");
    admin(&sb, &file, "cluster add seal: sops")
        .args([
            "cluster",
            "add",
            "flux",
            "--seal",
            "sops",
            "--age-recipient",
            RECIPIENT,
        ])
        .expect(0, "");
    admin(&sb, &file, "cluster add, expired certificate (a warning)")
        .args(["cluster", "add", "old", "--cert"])
        .arg(path("testdata/keys/sealed-secrets-expired.crt"))
        .expect(0, "expired");
    admin(&sb, &file, "cluster add, not an RSA certificate")
        .args(["cluster", "add", "ec", "--cert"])
        .arg(path("testdata/keys/sealed-secrets-ec.crt"))
        .expect(2, "RSA");

    let hub = sb.private("hub.txt", &format!("{HUB_PAT}\n"));
    let acr = sb.private("acr.txt", ACR_PASSWORD);
    let gcr = sb.private("gcr.json", &gcr_key_json());
    let session = sb.private("session.txt", ECR_SESSION);
    let adds: [(&str, Vec<OsString>, &str); 11] = [
        (
            "company",
            os(&[
                "--type",
                "generic",
                "--server",
                "registry.example.com:5000",
                "--username",
                COMPANY_USER,
                "--email",
                "ops@example.com",
                "--password-stdin",
            ]),
            COMPANY_PASSWORD,
        ),
        (
            "hub",
            [
                os(&["--type", "dockerhub", "--username", HUB_USER, "--password-file"]),
                vec![hub.into()],
            ]
            .concat(),
            "",
        ),
        (
            "quay-team",
            os(&[
                "--type",
                "quay",
                "--server",
                "quay.io/acme",
                "--username",
                QUAY_USER,
                "--allow-namespace",
                "shop",
                "--allow-namespace",
                "team-*",
                "--password-stdin",
            ]),
            QUAY_TOKEN,
        ),
        (
            "acr",
            [
                os(&[
                    "--type",
                    "acr",
                    "--server",
                    "cnryacr.azurecr.io",
                    "--username",
                    ACR_USER,
                    "--password-file",
                ]),
                vec![acr.into()],
            ]
            .concat(),
            "",
        ),
        (
            "gcr",
            [
                os(&[
                    "--type",
                    "gcr",
                    "--server",
                    "europe-west1-docker.pkg.dev/cnry-project",
                    "--key-file",
                ]),
                vec![gcr.clone().into()],
            ]
            .concat(),
            "",
        ),
        (
            "jfrog",
            os(&[
                "--type",
                "artifactory",
                "--server",
                "jfrog.example.com/docker-local",
                "--username",
                JFROG_USER,
                "--password-stdin",
            ]),
            JFROG_PASSWORD,
        ),
        (
            "nexus",
            os(&[
                "--type",
                "nexus",
                "--server",
                "nexus.example.com",
                "--username",
                NEXUS_USER,
                "--password-stdin",
            ]),
            NEXUS_PASSWORD,
        ),
        (
            "sys",
            os(&[
                "--type",
                "system",
                "--server",
                "system.example.com",
                "--username",
                SYSTEM_USER,
                "--password-stdin",
            ]),
            SYSTEM_PASSWORD,
        ),
        (
            "mcr-auth",
            os(&["--type", "mcr", "--username", MCR_USER, "--password-stdin"]),
            MCR_PASSWORD,
        ),
        ("hub-public", os(&["--type", "dockerhub", "--public"]), ""),
        (
            "ecr",
            [
                os(&[
                    "--type",
                    "ecr",
                    "--server",
                    "123456789012.dkr.ecr.eu-west-1.amazonaws.com",
                    "--region",
                    "eu-west-1",
                    "--access-key-id",
                    ECR_KEY_ID,
                    "--secret-access-key-stdin",
                    "--session-token-file",
                ]),
                vec![session.into()],
            ]
            .concat(),
            ECR_SECRET,
        ),
    ];
    for (name, args, stdin) in adds {
        admin(&sb, &file, &format!("catalog add {name}"))
            .args(["add", name])
            .args(args)
            .stdin(stdin)
            .expect(0, "");
    }

    // Refused additions.
    let bad_json = sb.private("bad.json", &format!("{{{BAD_JSON_KEY}\n"));
    admin(&sb, &file, "catalog add, a duplicate")
        .args([
            "add",
            "company",
            "--type",
            "generic",
            "--server",
            "a.example.com",
            "--username",
            "u",
            "--password-stdin",
        ])
        .stdin(TYPO_PASSWORD)
        .expect(2, "company");
    admin(&sb, &file, "catalog add, a key file that is not JSON")
        .args([
            "add",
            "bad-gcr",
            "--type",
            "gcr",
            "--server",
            "gcr.io",
            "--key-file",
        ])
        .arg(&bad_json)
        .expect(2, "JSON");
    admin(&sb, &file, "catalog add, not a robot account")
        .args([
            "add",
            "bad-quay",
            "--type",
            "quay",
            "--server",
            "quay.io",
            "--username",
            "Not+A+Robot",
            "--password-stdin",
        ])
        .stdin(BAD_ROBOT_TOKEN)
        .expect(2, "robot");
    admin(&sb, &file, "catalog add, no password")
        .args([
            "add",
            "nopass",
            "--type",
            "generic",
            "--server",
            "a.example.com",
            "--username",
            "u",
        ])
        .expect(2, "password");
    admin(&sb, &file, "catalog add, an unknown type")
        .args(["add", "x", "--type", "nope", "--password-stdin"])
        .stdin(TYPO_PASSWORD)
        .expect(2, "registries.x.type");
    admin(&sb, &file, "catalog add, a password as an argument")
        .args([
            "add",
            "x",
            "--type",
            "generic",
            "--server",
            "a.example.com",
            "--username",
            "u",
        ])
        .arg(format!("--password={TYPO_PASSWORD}"))
        .secret_argument()
        .expect(2, "--password");

    // Listing and showing, in both forms.
    admin(&sb, &file, "catalog ls").arg("ls").expect(0, "company");
    admin(&sb, &file, "catalog ls -o json")
        .args(["ls", "-o", "json"])
        .expect(0, "company");
    for name in [
        "company",
        "hub",
        "quay-team",
        "acr",
        "gcr",
        "mcr-auth",
        "ecr",
        "hub-public",
    ] {
        admin(&sb, &file, &format!("catalog show {name}"))
            .args(["show", name])
            .expect(0, name);
        admin(&sb, &file, &format!("catalog show {name} -o json"))
            .args(["show", name, "-o", "json"])
            .expect(0, name);
    }
    admin(&sb, &file, "catalog show, unknown")
        .args(["show", "nope"])
        .expect(2, "nope");

    // Edits and rotations.
    admin(&sb, &file, "catalog set --unset")
        .args(["set", "company", "--unset", "email"])
        .expect(0, "");
    admin(&sb, &file, "catalog set --allow-namespace")
        .args([
            "set",
            "quay-team",
            "--allow-namespace",
            "shop",
            "--allow-namespace",
            "team-*",
            "--allow-namespace",
            "web",
        ])
        .expect(0, "");
    admin(&sb, &file, "catalog set, unknown")
        .args(["set", "nope", "--unset", "email"])
        .expect(2, "nope");
    admin(&sb, &file, "catalog rotate --password-stdin")
        .args(["rotate", "quay-team", "--password-stdin"])
        .stdin(ROTATED_QUAY_TOKEN)
        .expect(0, "");
    let rotated = sb.private("rotated.txt", ROTATED_ECR_SECRET);
    admin(&sb, &file, "catalog rotate ecr")
        .args([
            "rotate",
            "ecr",
            "--access-key-id",
            ROTATED_ECR_KEY_ID,
            "--secret-access-key-file",
        ])
        .arg(&rotated)
        .expect(0, "");
    admin(&sb, &file, "catalog rotate --key-file")
        .args(["rotate", "gcr", "--key-file"])
        .arg(&gcr)
        .expect(0, "");
    sb.pullseal("catalog rotate, wrong age identity")
        .args(["catalog", "--catalog"])
        .arg(&file)
        .arg("--age-key-file")
        .arg(path(OTHER_KEY))
        .args(["rotate", "company", "--password-stdin"])
        .stdin(TYPO_PASSWORD)
        .expect(3, "age");

    // The catalog it made renders.
    sb.write("manifests/app.yaml", ALL);
    sb.pullseal("render on the edited catalog")
        .args(["render", "--catalog"])
        .arg(&file)
        .args(["--age-key-file"])
        .arg(path(AGE_KEY))
        .args(["--cluster", "sealed", "manifests/app.yaml"])
        .expect(0, "");

    // Removals.
    admin(&sb, &file, "catalog rm --check, still used")
        .args(["rm", "quay-team", "--check", "manifests", "--cluster", "sealed"])
        .expect(2, "still used");
    admin(&sb, &file, "catalog rm")
        .args(["rm", "hub-public"])
        .expect(0, "");
    admin(&sb, &file, "catalog cluster rm")
        .args(["cluster", "rm", "flux"])
        .expect(0, "");
    admin(&sb, &file, "catalog cluster rm, unknown")
        .args(["cluster", "rm", "nowhere"])
        .expect(2, "nowhere");

    // Rekey: a new data key, to the second identity and then to it alone.
    let before = data_key(&fs::read_to_string(&file).unwrap());
    admin(&sb, &file, "catalog rekey --add-age")
        .args(["rekey", "--add-age", OTHER_RECIPIENT])
        .expect(0, "");
    let after = data_key(&fs::read_to_string(&file).unwrap());
    assert_ne!(before, after, "rekey keeps the data key");
    sb.add_key(after);
    admin(&sb, &file, "catalog rekey --rm-age")
        .args(["rekey", "--rm-age", RECIPIENT])
        .expect(0, "");
    sb.add_key(data_key_with(&fs::read_to_string(&file).unwrap(), 0, OTHER_KEY));
    admin(&sb, &file, "catalog ls, a removed identity")
        .arg("ls")
        .expect(3, "age");
    sb.pullseal("catalog ls, the new identity")
        .args(["catalog", "--catalog"])
        .arg(&file)
        .arg("--age-key-file")
        .arg(path(OTHER_KEY))
        .arg("ls")
        .expect(0, "company");
}

/// `pullseal catalog --catalog FILE` with the test identity.
fn admin<'s>(sb: &'s Sandbox, file: &Path, name: &str) -> Run<'s> {
    sb.pullseal(name)
        .arg("catalog")
        .arg("--catalog")
        .arg(file)
        .arg("--age-key-file")
        .arg(path(AGE_KEY))
}

fn os(args: &[&str]) -> Vec<OsString> {
    args.iter().map(OsString::from).collect()
}

/// `run` with AWS at `endpoint`, HTTPS through a proxy at the dead port, no AWS file read.
fn with_aws<'s>(run: Run<'s>, endpoint: &str, dead: u16) -> Run<'s> {
    let work = run.sandbox.work();
    run.env("AWS_ENDPOINT_URL", endpoint)
        .env("HTTPS_PROXY", format!("http://127.0.0.1:{dead}"))
        .env("AWS_CONFIG_FILE", work.join("no-aws-config"))
        .env("AWS_SHARED_CREDENTIALS_FILE", work.join("no-aws-credentials"))
}

/// `pullseal catalog set NAME --server SERVER` on the sandbox's catalog (the data key stays).
fn point(sb: &Sandbox, name: &str, server: &str) {
    sb.pullseal(&format!("catalog set {name} --server {server}"))
        .arg("catalog")
        .args(keyed(sb))
        .args(["set", name, "--server", server])
        .expect(0, "");
}

/// `validate` against a port where nothing listens, the real Docker registry (htpasswd and
/// token auth) holding the canary account, the replayed provider token services, and moto for
/// ECR's key exchange; `render` of a `refresh: token` registry against moto and a dead AWS.
#[test]
#[allow(clippy::too_many_lines)] // one server after the other, each with its runs
fn validate_and_the_registry_and_aws_calls_leak_nothing() {
    use crate::peers::start_script;
    use crate::validate::{Auth, Registry};
    let sb = Sandbox::new();
    let validate = |name: &str| {
        sb.pullseal(name)
            .arg("validate")
            .args(keyed(&sb))
            .args(["--timeout", "10"])
    };

    let dead = crate::peers::free_port();
    point(&sb, "company", &format!("127.0.0.1:{dead}"));
    validate("validate, nothing listens")
        .arg("company")
        .expect(6, "unreachable");
    validate("validate -o json, nothing listens")
        .args(["-o", "json", "company"])
        .expect(6, "unreachable");

    let registry = Registry::start_for(Auth::Htpasswd, COMPANY_USER, COMPANY_PASSWORD);
    point(&sb, "company", &registry.server());
    point(&sb, "sys", &registry.server());
    validate("validate, live registry")
        .arg("company")
        .expect(0, "valid");
    validate("validate, live registry, wrong password")
        .args(["company", "sys"])
        .expect(6, "invalid");
    validate("validate --repository --reference, live registry")
        .args([
            "-o",
            "json",
            "company",
            "--repository",
            "shop/web",
            "--reference",
            "v1",
        ])
        .expect(6, "not-found");

    let token = Registry::start_for(Auth::Token, COMPANY_USER, COMPANY_PASSWORD);
    point(&sb, "company", &token.server());
    validate("validate, token registry")
        .arg("company")
        .expect(0, "valid");
    validate("validate, token registry, refused scope")
        .args(["company", "--repository", "private/app"])
        .expect(6, "no pull access");

    let (_replay, ports) = start_script(
        "tests/interop/registry_replay.py",
        &[COMPANY_USER, COMPANY_PASSWORD],
        &[],
    );
    let ports: serde_json::Value = serde_json::from_str(&ports).unwrap();
    let port = |shape: &str| ports[shape].as_u64().unwrap();
    point(&sb, "company", &format!("127.0.0.1:{}", port("dockerhub")));
    point(&sb, "sys", &format!("127.0.0.1:{}", port("acr")));
    point(&sb, "nexus", &format!("127.0.0.1:{}", port("gcr")));
    point(&sb, "jfrog", &format!("127.0.0.1:{}/docker-local", port("jfrog")));
    validate("validate, replayed token services")
        .args([
            "-o",
            "json",
            "company",
            "sys",
            "nexus",
            "jfrog",
            "--repository",
            "ok/app",
        ])
        .expect(6, "invalid-credentials");

    // ECR: moto exchanges the keys (its token has expired by the real clock, so render refuses
    // it); the registry check after the exchange goes to a proxy where nothing listens.
    let moto = crate::peers::Moto::start(false);
    let aws = |run, endpoint: &str| with_aws(run, endpoint, dead);
    let moto_url = moto.url();
    aws(validate("validate ECR, moto"), &moto_url)
        .args(["-o", "json", "ecr", "ecr-token"])
        .expect(6, "AWS exchanged the keys");
    let ecr_pod = pod(
        "ecr-token",
        "210987654321.dkr.ecr.eu-west-1.amazonaws.com/web:1",
        "shop",
    );
    aws(
        sb.pullseal("render refresh: token, moto")
            .arg("render")
            .args(keyed(&sb)),
        &moto_url,
    )
    .args(["--cluster", "sealed"])
    .stdin(ecr_pod.clone())
    .expect(4, "expired");
    let dead_aws = format!("http://127.0.0.1:{dead}");
    aws(validate("validate ECR, AWS unreachable"), &dead_aws)
        .arg("ecr")
        .expect(6, "unreachable");
    aws(
        sb.pullseal("render refresh: token, AWS unreachable")
            .arg("render")
            .args(keyed(&sb)),
        &dead_aws,
    )
    .args(["--cluster", "sealed"])
    .stdin(ecr_pod)
    .expect(4, "ecr-token");
}

/// The commands that read the catalog to report on it or to print a snippet: doctor, usage,
/// annotation, scaffold; and the ones that read none (help, version, completions, man).
#[test]
#[allow(clippy::too_many_lines)] // one block per command
fn the_report_and_snippet_commands_leak_nothing() {
    let sb = Sandbox::new();
    fake_tool(&sb, "helm");
    let bin = format!("{}:/usr/bin:/bin", sb.work().join("bin").display());
    let doctor = |name: &str| sb.pullseal(name).arg("doctor").env("PATH", &bin);
    for cluster in ["sealed", "plain", "flux", "eks"] {
        doctor(&format!("doctor --cluster {cluster}"))
            .args(keyed(&sb))
            .args(["--cluster", cluster])
            .expect(0, cluster);
    }
    doctor("doctor, every cluster, identity from SOPS_AGE_KEY_FILE")
        .env("SOPS_AGE_KEY_FILE", path(AGE_KEY))
        .expect(0, "sealed");
    doctor("doctor, wrong age identity")
        .args(["--age-key-file"])
        .arg(path(OTHER_KEY))
        .expect(3, "age");
    let expired = sb.write("expired.catalog.yaml", &fixture().expired);
    doctor("doctor, expired certificate")
        .arg("--catalog")
        .arg(&expired)
        .arg("--age-key-file")
        .arg(path(AGE_KEY))
        .expect(4, "expired");
    for (what, catalog, code, needle) in &fixture().broken {
        let file = sb.write("broken.catalog.yaml", catalog);
        doctor(&format!("doctor, {what}"))
            .arg("--catalog")
            .arg(&file)
            .arg("--age-key-file")
            .arg(path(AGE_KEY))
            .expect(*code, needle);
    }
    fs::remove_file(sb.work().join("broken.catalog.yaml")).unwrap();

    sb.write("manifests/app.yaml", ALL);
    let usage = |name: &str| sb.pullseal(name).arg("usage").args(keyed(&sb));
    usage("usage")
        .args(["--cluster", "sealed", "manifests"])
        .expect(0, "company");
    usage("usage -o json")
        .args(["--cluster", "plain", "-o", "json", "manifests"])
        .expect(0, "company");
    usage("usage, unknown registry")
        .args(["--cluster", "sealed"])
        .stdin(pod("nope", "registry.example.com:5000/a:1", "shop"))
        .expect(1, "nope");

    for (registry, extra) in [
        ("company", &[][..]),
        ("gcr", &["--container", "web"][..]),
        ("ecr", &["--format", "helm-values"][..]),
        ("hub-public", &[][..]),
    ] {
        sb.pullseal(&format!("annotation {registry} {extra:?}"))
            .args(["annotation", registry])
            .args(extra)
            .args(keyed(&sb))
            .expect(0, registry);
    }
    sb.pullseal("annotation, unknown registry")
        .args(["annotation", "nope"])
        .args(keyed(&sb))
        .expect(2, "nope");

    let scaffold = |name: &str, kind: &str, registry: &str| {
        sb.pullseal(name)
            .args([
                "scaffold",
                kind,
                "--name",
                "web",
                "--registry",
                registry,
                "--repository",
                "team/web",
                "--tag",
                "1.4.2",
                "--namespace",
                "shop",
            ])
            .args(keyed(&sb))
    };
    for (kind, registry) in [
        ("deployment", "company"),
        ("statefulset", "gcr"),
        ("cronjob", "ecr"),
        ("job", "quay-team"),
    ] {
        scaffold(&format!("scaffold {kind}"), kind, registry).expect(0, registry);
    }
    let template = sb.write(
        "web.hbs",
        "apiVersion: v1\nkind: Pod\nmetadata:\n  name: \"{{name}}\"\n  annotations: {\"{{annotation}}\": \"{{registry}}\"}\nspec:\n  containers: [{name: web, image: \"{{image}}\"}]\n",
    );
    scaffold("scaffold --template", "deployment", "acr")
        .arg("--template")
        .arg(&template)
        .expect(0, "acr");
    let broken = sb.write("broken.hbs", "{{#if}}");
    scaffold("scaffold, bad template", "deployment", "acr")
        .arg("--template")
        .arg(&broken)
        .expect(2, "template");
    scaffold("scaffold, unknown registry", "job", "nope").expect(2, "nope");

    sb.pullseal("--help").arg("--help").expect(0, "render");
    sb.pullseal("--version").arg("--version").expect(0, "pullseal");
    sb.pullseal("completions bash")
        .args(["completions", "bash"])
        .expect(0, "pullseal");
    sb.pullseal("man").arg("man").expect(0, "pullseal");
    sb.pullseal("no command, a terminal-less empty stdin")
        .expect(2, "");
}
