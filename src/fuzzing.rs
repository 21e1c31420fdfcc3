//! Entry points for the fuzz targets in `fuzz/` and for property tests: each checks an
//! invariant and panics when it does not hold, which is what a fuzzer looks for.
//!
//! Not part of the API; hidden from the docs. Nothing here may be used by the pipeline.
//!
//! The `panic!`, `expect` and `unwrap` calls below are the oracle, not input handling: each
//! is reached only when an invariant of the pipeline is broken (or, for `expect`, when a step
//! that already succeeded on the same input fails on a repeat), and the panic is how libFuzzer
//! and proptest report it. No input path calls into this module.
#![allow(
    clippy::panic,
    clippy::expect_used,
    clippy::unwrap_used,
    clippy::indexing_slicing
)]

use std::fmt::Write as _;
use std::path::Path;

use secrecy::ExposeSecret as _;

use crate::catalog::Catalog;
use crate::manifest::{Source, Stream, tree};
use crate::reference::{Image, RegistryList, RegistryName, Server};
use crate::render::{rewrite, verify};
use crate::sops::{Identities, Value};

/// The identities the `sops` and `sops_write` targets (and their replays and proptests)
/// decrypt with: the committed test-only keys of `testdata/sops` and of the test catalog.
pub fn test_identities() -> &'static Identities {
    static IDENTITIES: std::sync::OnceLock<Identities> = std::sync::OnceLock::new();
    IDENTITIES.get_or_init(|| {
        let keys = concat!(
            include_str!("../testdata/sops/both.txt"),
            "\n",
            include_str!("../testdata/keys/age-test.txt")
        );
        // Committed files that the unit tests read with the same call.
        Identities::discover(None, &|name| (name == "SOPS_AGE_KEY").then(|| keys.to_owned()))
            .expect("the committed test identities")
    })
}

/// A registry's `WWW-Authenticate` header (`registry::v2::parse_challenges`), which a hostile
/// registry writes: any text parses without a panic into challenges whose schemes and
/// parameter names are lowercase tokens, and the challenges written back in the canonical form
/// (`scheme token68, name="escaped value", ...`) parse to the same challenges.
pub fn challenge(text: &str) {
    use crate::registry::v2::{Challenge, parse_challenges};
    let token = |t: &str| {
        !t.is_empty()
            && t.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b))
            && !t.bytes().any(|b| b.is_ascii_uppercase())
    };
    let parsed = parse_challenges(text);
    let mut written = Vec::new();
    for Challenge { scheme, params } in &parsed {
        assert!(token(scheme), "scheme {scheme:?} from {text:?}");
        let mut out = scheme.clone();
        for (i, (name, value)) in params.iter().enumerate() {
            if name.is_empty() {
                assert_eq!(i, 0, "a token68 after a parameter, from {text:?}");
                let _ = write!(out, " {value}");
                continue;
            }
            assert!(token(name), "parameter {name:?} from {text:?}");
            let sep = if i == 0 { " " } else { ", " };
            let escaped = value.replace('\\', "\\\\").replace('"', "\\\"");
            let _ = write!(out, "{sep}{name}=\"{escaped}\"");
        }
        written.push(out);
    }
    let again = written.join(", ");
    assert_eq!(
        parse_challenges(&again),
        parsed,
        "{text:?} written back as {again:?}"
    );
}

/// Splitting and re-joining a stream gives it back byte for byte; every document either parses
/// or errors; where a document has a `spec` mapping, adding pull secrets to it gives a document
/// that still parses and lists the new names.
pub fn manifest(text: &str) {
    let stream = Stream::new(vec![Source {
        name: "fuzz".to_owned(),
        text: text.to_owned(),
    }]);
    assert_eq!(
        stream.write(&[], &[]),
        text,
        "an unedited stream must come back byte for byte"
    );
    for doc in &stream.documents {
        let doc_text = stream.text(doc);
        let Ok(Some(root)) = tree::parse(doc_text) else {
            continue;
        };
        let Some(spec) = root.path(&["spec"]).filter(|s| s.is_map() && !s.aliased) else {
            continue;
        };
        let names = vec!["pullseal-a".to_owned(), "on".to_owned()];
        let Ok(Some((edit, added))) = rewrite::add_pull_secrets(doc_text, spec, &names, &[]) else {
            continue;
        };
        let expected = [verify::Expected {
            path: vec![verify::Step::Key("spec".to_owned())],
            added,
        }];
        let edited = verify::apply(doc_text, std::slice::from_ref(&edit));
        // The invariant this target exists for: an edit the editor makes passes the check.
        let checked = verify::verify(doc_text, &root, &[edit], &expected);
        assert!(
            checked.is_ok(),
            "edit failed its check ({checked:?})\n--- before\n{doc_text}\n--- after\n{edited}"
        );
        // And, independently of the check, reading the result again lists the new names.
        let listed = match tree::parse(&edited) {
            Ok(Some(reparsed)) => reparsed
                .path(&["spec"])
                .map(rewrite::existing_names)
                .unwrap_or_default(),
            _ => Vec::new(),
        };
        for name in &names {
            assert!(listed.contains(name), "{name} missing after the edit:\n{edited}");
        }
    }
}

/// The annotation value and image reference parsers: a registry list (`pullseal.io/registries`)
/// and a registry name (`registry.pullseal.io/<container>`) print back to themselves, an
/// image prints as its normalised name, which parses back to the same image, and a catalog
/// server written as that name matches the image; a server prints back to itself.
pub fn reference(text: &str) {
    if let Ok(list) = text.parse::<RegistryList>() {
        assert_eq!(list.to_string().parse::<RegistryList>().ok(), Some(list));
    }
    if let Ok(name) = text.trim().parse::<RegistryName>() {
        assert_eq!(name.to_string().parse::<RegistryName>().ok(), Some(name));
    }
    if let Ok(image) = text.parse::<Image>() {
        let shown = image.to_string();
        assert_eq!(
            shown.parse::<Image>().as_ref(),
            Ok(&image),
            "{text:?} printed as {shown:?}"
        );
        // A server's leading `v1/` or `v2/` is an API version the kubelet drops, not a path.
        let versioned = image
            .path
            .split('/')
            .next()
            .is_some_and(|c| c == "v1" || c == "v2");
        if let Ok(server) = shown.parse::<Server>()
            && !versioned
        {
            assert!(
                server.matches(&image),
                "server {server} does not match image {shown:?}"
            );
        }
    }
    if let Ok(server) = text.parse::<Server>() {
        assert_eq!(server.to_string().parse::<Server>().ok(), Some(server));
    }
}

/// The KRM function's envelope: reading any text as a `ResourceList` never panics; cutting the
/// secrets of an earlier run and appending new secrets and warnings either refuses or gives a
/// list that, read again, holds every item it had, the secret as the last item and the warning
/// as the last result.
pub fn krm(text: &str) {
    use crate::frontend::krm;
    let stream = Stream::new(vec![Source {
        name: "fuzz".to_owned(),
        text: text.to_owned(),
    }]);
    let Ok(list) = krm::resource_list(&stream) else {
        return;
    };
    let Ok((stream, list, _)) = krm::without_own_secrets(stream, list) else {
        return;
    };
    let before = list.root.get("items").map_or(0, |(items, _)| items.items().len());
    let edited = stream.write(&[], &[]);
    let secret = "apiVersion: v1\nkind: Secret\nmetadata:\n  name: \"pullseal-fuzz\"\n";
    let Ok(out) = krm::assemble(&edited, &[secret], &["a \"warning\"".to_owned()]) else {
        return;
    };
    let parsed = tree::parse(&out).ok().flatten();
    assert!(parsed.is_some(), "the assembled list does not parse:\n{out}");
    let Some(after) = parsed else { return };
    let items = after.get("items").map(|(i, _)| i.items()).unwrap_or_default();
    assert_eq!(items.len(), before + 1, "items lost or gained:\n{out}");
    let name = items
        .last()
        .and_then(|s| s.path(&["metadata", "name"]))
        .and_then(tree::Node::as_str);
    assert_eq!(
        name,
        Some("pullseal-fuzz"),
        "the secret is not the last item:\n{out}"
    );
    let message = after
        .get("results")
        .and_then(|(r, _)| r.items().last())
        .and_then(|r| r.path(&["message"]))
        .and_then(tree::Node::as_str);
    assert_eq!(
        message,
        Some("a \"warning\""),
        "the warning is not the last result:\n{out}"
    );
}

/// The SOPS file reader (`sops::decrypt_for_edit`, comments included, with `identities`): any
/// text is refused or read; a file it reads has mapping documents and recipients that can be
/// listed, and its documents, written again as an edit writes them (same data key, same IVs),
/// decrypt to the same values.
pub fn sops(text: &str, identities: &Identities) {
    let Ok(decrypted) = crate::sops::decrypt_for_edit(text, identities) else {
        return;
    };
    let documents = decrypted.documents();
    assert!(
        documents.iter().all(|d| matches!(d, Value::Map(_))),
        "a decrypted document is not a mapping"
    );
    assert!(
        crate::sops::age_recipients(text).is_ok(),
        "the file decrypts, but its recipients cannot be listed"
    );
    let written = crate::sops::encrypt(
        documents,
        &write_options(identities, LAST_MODIFIED),
        crate::sops::Randomness::Edit(&decrypted),
    )
    .unwrap_or_else(|e| panic!("a file pullseal reads cannot be written back: {e}"));
    let again = crate::sops::decrypt(&written, identities)
        .unwrap_or_else(|e| panic!("pullseal cannot read what it wrote: {e}\n{written}"));
    assert_same(documents, again.documents(), &written);
}

/// `lastmodified` of the files the targets write (any fixed time).
const LAST_MODIFIED: i64 = 1_800_000_000;

fn write_options(identities: &Identities, last_modified: i64) -> crate::sops::EncryptOptions {
    crate::sops::EncryptOptions {
        recipients: identities
            .recipients()
            .filter_map(|(_, r)| r.parse().ok())
            .collect(),
        kms: crate::sops::KmsRecipients::default(),
        rule: crate::sops::Rule::EncryptAll,
        mac_only_encrypted: false,
        last_modified: crate::sops::LastModified::from_unix(last_modified).expect("a valid time"),
    }
}

/// The catalog writer (`sops::encrypt`, which `pullseal catalog` writes with) and the
/// editor's re-encryption, on plain YAML read as sops reads values (to `identities`'
/// recipients):
/// - the tree is refused exactly when it has what sops would leave plain or cannot hold (a
///   key ending in `_unencrypted`, a top-level `sops`, a document that is not a mapping);
/// - otherwise it decrypts to the same values, and encrypting it again gives the same bytes;
/// - re-encrypting the decrypted file unchanged, as an edit does, gives it back byte for byte;
/// - changing one value and re-encrypting as an edit decrypts to the changed tree, with new
///   ciphertext for that value and the MAC only (every other value keeps its bytes).
pub fn sops_write(text: &str, identities: &Identities) {
    use crate::sops::{Randomness, Seed, decrypt, encrypt};
    let Ok(documents) = crate::sops::read_plain(text) else {
        return;
    };
    if documents.is_empty() {
        return;
    }
    let options = write_options(identities, LAST_MODIFIED);
    let seed = Seed::new(secrecy::SecretBox::new(Box::new(
        fnv(text.as_bytes())
            .to_le_bytes()
            .repeat(4)
            .try_into()
            .unwrap_or([0; 32]),
    )));
    let refusable = documents
        .iter()
        .any(|d| !matches!(d, Value::Map(_)) || d.get("sops").is_some())
        || documents
            .iter()
            .any(|d| has_key(d, &|k| k.ends_with("_unencrypted")));
    let file = match (
        encrypt(&documents, &options, Randomness::Derived(&seed)),
        refusable,
    ) {
        (Ok(file), false) => file,
        (Err(_), true) => return,
        (Ok(file), true) => panic!("a tree sops would leave partly plain was written:\n{file}"),
        (Err(e), false) => panic!("a tree sops can hold was refused: {e}"),
    };
    let decrypted = decrypt(&file, identities)
        .unwrap_or_else(|e| panic!("pullseal cannot read what it wrote: {e}\n{file}"));
    assert_same(&documents, decrypted.documents(), &file);
    let twice = encrypt(&documents, &options, Randomness::Derived(&seed)).expect("it was written once");
    assert_eq!(twice, file, "the same tree and seed gave different files");
    let unchanged =
        encrypt(decrypted.documents(), &options, Randomness::Edit(&decrypted)).expect("it was written once");
    assert_eq!(unchanged, file, "an edit that changes nothing changed the file");

    let mut changed = decrypted.documents().to_vec();
    let leaves: usize = changed.iter().map(count_leaves).sum();
    if leaves == 0 {
        return;
    }
    let mut pick = usize::try_from(fnv(text.as_bytes())).unwrap_or(0) % leaves;
    for document in &mut changed {
        if change_leaf(document, &mut pick) {
            break;
        }
    }
    let later = write_options(identities, LAST_MODIFIED + 60);
    let edited = encrypt(&changed, &later, Randomness::Edit(&decrypted)).expect("an edited value is written");
    let again = decrypt(&edited, identities)
        .unwrap_or_else(|e| panic!("pullseal cannot read its edit: {e}\n{edited}"));
    assert_same(&changed, again.documents(), &edited);
    let before = ciphertexts(&file);
    // Each document carries the same `sops:` block, so the MAC may be there several times.
    let mut fresh: Vec<&str> = ciphertexts(&edited)
        .into_iter()
        .filter(|c| !before.contains(c))
        .collect();
    fresh.sort_unstable();
    fresh.dedup();
    assert!(
        fresh.len() <= 2,
        "one changed value gave {} new ciphertexts (at most it and the MAC may change):\n{file}\n---\n{edited}",
        fresh.len()
    );
}

/// FNV-1a: a cheap, fixed choice derived from the input.
fn fnv(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |h, b| {
        (h ^ u64::from(*b)).wrapping_mul(0x0000_0100_0000_01b3)
    })
}

/// The `ENC[AES256_GCM,...]` values of a sops file (a key may hold `ENC[` too, but no key
/// changes, so one that looks like a value is in both files).
fn ciphertexts(file: &str) -> Vec<&str> {
    static VALUE: std::sync::OnceLock<regex::Regex> = std::sync::OnceLock::new();
    VALUE
        .get_or_init(|| {
            regex::Regex::new(
                r"ENC\[AES256_GCM,data:[A-Za-z0-9+/=]*,iv:[A-Za-z0-9+/=]+,tag:[A-Za-z0-9+/=]+,type:[a-z]+\]",
            )
            .expect("a valid regex")
        })
        .find_iter(file)
        .map(|m| m.as_str())
        .collect()
}

fn has_key(value: &Value, test: &dyn Fn(&str) -> bool) -> bool {
    match value {
        Value::Map(entries) => entries.iter().any(|(k, v)| test(k) || has_key(v, test)),
        Value::Seq(items) => items.iter().any(|v| has_key(v, test)),
        _ => false,
    }
}

/// Leaves that are encrypted (every scalar but null).
fn count_leaves(value: &Value) -> usize {
    match value {
        Value::Null => 0,
        Value::Map(entries) => entries.iter().map(|(_, v)| count_leaves(v)).sum(),
        Value::Seq(items) => items.iter().map(count_leaves).sum(),
        _ => 1,
    }
}

/// Changes leaf number `pick` (counted as [`count_leaves`] does) to another value of its type.
fn change_leaf(value: &mut Value, pick: &mut usize) -> bool {
    match value {
        Value::Null => false,
        Value::Map(entries) => entries.iter_mut().any(|(_, v)| change_leaf(v, pick)),
        Value::Seq(items) => items.iter_mut().any(|v| change_leaf(v, pick)),
        leaf if *pick > 0 => {
            let _ = leaf;
            *pick -= 1;
            false
        }
        leaf => {
            *leaf = match leaf {
                Value::Bool(b) => Value::Bool(!*b),
                Value::Int(i) => Value::Int(i.wrapping_add(1)),
                Value::Float(f) if f.is_finite() && f.abs() < 1e15 => Value::Float(*f + 1.0),
                Value::Float(_) => Value::Float(0.5),
                Value::Str(s) => Value::Str(format!("{}x", s.expose_secret()).into()),
                Value::Time(t) if t != "2001-02-03T04:05:06Z" => {
                    Value::Time("2001-02-03T04:05:06Z".to_owned())
                }
                _ => Value::Time("2001-02-03T04:05:07Z".to_owned()),
            };
            true
        }
    }
}

/// Panics unless `got` holds the same values as `want`; floats compare by their bits, any NaN
/// equal to any other.
fn assert_same(want: &[Value], got: &[Value], file: &str) {
    assert!(
        want.len() == got.len() && want.iter().zip(got).all(|(a, b)| a.same(b)),
        "the values read back differ from those written ({want:?} became {got:?}):\n{file}"
    );
}

/// What a catalog value is marked with, to see whether a message quotes it.
const MARK: char = '\u{2603}';

/// The catalog's schema check (`catalog::schema`), on plain YAML read as a decrypted catalog
/// is read: every problem names its field (`field: what`, the field under a top-level key, or
/// `the catalog`); no problem quotes a value (every string value is marked at both ends and
/// the check run again: no message may hold the mark); a catalog it accepts keeps every
/// registry and every cluster it lists.
pub fn catalog(text: &str) {
    let Ok(documents) = crate::sops::read_plain(text) else {
        return;
    };
    let [root] = documents.as_slice() else {
        return;
    };
    let count = |key: &str| match root.get(key) {
        Some(Value::Map(entries)) => entries.len(),
        _ => 0,
    };
    match crate::catalog::schema::check(root) {
        Ok((registries, clusters)) => {
            assert_eq!(registries.len(), count("registries"), "a registry was dropped");
            assert_eq!(clusters.len(), count("clusters"), "a cluster was dropped");
        }
        Err(problems) => {
            assert!(!problems.is_empty(), "refused without a problem");
            // The top-level fields the catalog has, and those it must have.
            let mut top: Vec<String> = ["apiVersion", "kind", "registries", "clusters"]
                .map(str::to_owned)
                .to_vec();
            match root {
                Value::Map(entries) => top.extend(entries.iter().map(|(k, _)| field_name(k))),
                // A catalog that is a list: its problems name items (`[0]: is null ...`).
                Value::Seq(_) => top.push(String::new()),
                _ => {}
            }
            top.push("the catalog".to_owned());
            // A quoted key may hold `: `, so the field is not cut at the first one.
            for problem in &problems {
                let names = |k: &String| {
                    problem
                        .strip_prefix(k.as_str())
                        .is_some_and(|rest| rest.starts_with([':', '.', '[']))
                };
                assert!(
                    top.iter().any(names),
                    "the problem names no field of the catalog: {problem}"
                );
            }
        }
    }
    // Keys are printed (escaped): one holding the mark, or its escape, would look like a leak.
    let escaped = MARK.escape_unicode().to_string();
    if has_key(root, &|k| k.contains(MARK) || k.contains(&escaped)) {
        return;
    }
    if let Err(problems) = crate::catalog::schema::check(&marked(root)) {
        for problem in problems {
            assert!(
                !problem.contains(MARK) && !problem.contains(&escaped),
                "a problem quotes a catalog value: {problem}"
            );
        }
    }
}

/// A key as the schema's messages name it: plain words as they are, others quoted.
fn field_name(key: &str) -> String {
    if !key.is_empty()
        && key
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
    {
        key.to_owned()
    } else {
        format!("[{key:?}]")
    }
}

/// `value` with every string value marked at both ends.
fn marked(value: &Value) -> Value {
    match value {
        Value::Str(s) => Value::Str(format!("{MARK}{}{MARK}", s.expose_secret()).into()),
        Value::Seq(items) => Value::Seq(items.iter().map(marked).collect()),
        Value::Map(entries) => Value::Map(entries.iter().map(|(k, v)| (k.clone(), marked(v))).collect()),
        other => other.clone(),
    }
}

/// The sealing certificate reader (`seal::Certificate::from_pem`) and the `seal` API: a
/// certificate read from `pem` reads the same (fingerprint, expiry) from its body alone,
/// re-wrapped at another width after another PEM block; its fingerprint is the SHA-256 of
/// the block's DER; it expires exactly after `notAfter`; and it seals a value
/// deterministically into a blob of sealed-secrets' layout (`u16` length of an RSA block of
/// 2048 to 16384 bits, that block, the value's AES-GCM ciphertext and tag).
pub fn certificate(pem: &str) {
    use base64::Engine as _;
    use sha2::Digest as _;

    use crate::seal::{Certificate, Scope, SealTarget, seal};
    let Ok(cert) = Certificate::from_pem(pem) else {
        return;
    };
    let body: String = pem
        .split_once("-----BEGIN CERTIFICATE-----")
        .and_then(|(_, rest)| rest.split_once("-----END CERTIFICATE-----"))
        .map(|(body, _)| body.chars().filter(|c| !c.is_ascii_whitespace()).collect())
        .expect("a certificate was read, so it has a block");
    let der = base64::engine::general_purpose::STANDARD
        .decode(&body)
        .expect("the block was read, so it is base64");
    assert_eq!(
        cert.fingerprint(),
        <[u8; 32]>::from(sha2::Sha256::digest(&der)),
        "the fingerprint is not the DER's SHA-256"
    );
    let lines: Vec<&str> = body
        .as_bytes()
        .chunks(76)
        .map(|c| std::str::from_utf8(c).unwrap_or(""))
        .collect();
    let rewrapped = format!(
        "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n-----BEGIN CERTIFICATE-----\n{}\n-----END CERTIFICATE-----\n",
        lines.join("\n")
    );
    let again = Certificate::from_pem(&rewrapped)
        .unwrap_or_else(|e| panic!("the same certificate re-wrapped is refused: {e}"));
    assert_eq!(again.fingerprint(), cert.fingerprint());
    assert_eq!(again.not_after(), cert.not_after());
    assert!(
        !matches!(
            cert.check_valid_at(cert.not_after()),
            Err(crate::seal::SealError::Expired { .. })
        ),
        "expired at notAfter itself"
    );
    assert!(
        matches!(
            cert.check_valid_at(cert.not_after() + time::Duration::SECOND),
            Err(crate::seal::SealError::Expired { .. })
        ),
        "not expired after notAfter"
    );
    let target = SealTarget {
        cluster: "fuzz",
        namespace: "shop",
        name: "pullseal-fuzz",
        key: ".dockerconfigjson",
        scope: Scope::Strict,
    };
    let value = b"{\"auths\":{}}";
    let key = [7u8; 32];
    let sealed =
        seal(&cert, &target, value, &key).unwrap_or_else(|e| panic!("a read certificate cannot seal: {e}"));
    assert_eq!(
        seal(&cert, &target, value, &key).ok().as_deref(),
        Some(sealed.as_str()),
        "sealing is not deterministic"
    );
    let blob = base64::engine::general_purpose::STANDARD
        .decode(&sealed)
        .expect("a sealed value is base64");
    let rsa_len = blob
        .get(..2)
        .map_or(0, |b| usize::from(u16::from_be_bytes([b[0], b[1]])));
    assert!(
        (256..=2048).contains(&rsa_len) && blob.len() == 2 + rsa_len + value.len() + 16,
        "a sealed blob of {} bytes with an RSA block of {rsa_len}",
        blob.len()
    );
}

/// The settings object (`frontend::Settings`), as kustomize's plugin config (`parse`) and as a
/// KRM `functionConfig` (`from_node`, when the text is a `ResourceList` with one): every
/// refusal names the file; accepted settings, written out again as a `Render` object (and as a
/// `ConfigMap` where its comma-separated `podSpecs` can hold them), read back the same.
pub fn settings(text: &str) {
    use crate::frontend::Settings;
    let base = Path::new("/base");
    let file = "fuzz/settings.yaml";
    match Settings::parse(text, file, base) {
        Ok(settings) => settings_round_trip(&settings, base),
        Err(e) => {
            let message = e.to_string();
            assert!(
                message.starts_with("fuzz/settings.yaml: "),
                "does not name the file: {message}"
            );
        }
    }
    let stream = Stream::new(vec![Source {
        name: "fuzz".to_owned(),
        text: text.to_owned(),
    }]);
    let Ok(list) = crate::frontend::krm::resource_list(&stream) else {
        return;
    };
    if let Some((config, _)) = list.root.get("functionConfig").filter(|(c, _)| !c.is_null()) {
        match Settings::from_node(config, "functionConfig", base) {
            Ok(settings) => settings_round_trip(&settings, base),
            Err(e) => {
                let message = e.to_string();
                assert!(
                    message.starts_with("functionConfig: "),
                    "does not name the field: {message}"
                );
            }
        }
    }
}

fn settings_round_trip(settings: &crate::frontend::Settings, base: &Path) {
    use crate::frontend::Settings;
    let specs: Vec<String> = settings
        .pod_specs
        .iter()
        .map(|p| format!("{}={}", p.kind, p.path.join(".")))
        .collect();
    let path = |p: &Option<std::path::PathBuf>| p.as_ref().and_then(|p| p.to_str()).map(str::to_owned);
    let fields = [
        ("catalog", path(&settings.catalog)),
        ("ageKeyFile", path(&settings.age_key_file)),
        ("cluster", settings.cluster.clone()),
        ("namespace", settings.namespace.clone()),
        ("secretName", settings.secret_name.clone()),
        ("instance", settings.instance.clone()),
    ];
    let mut render = "apiVersion: pullseal.io/v1alpha1\nkind: Render\n".to_owned();
    let mut config_map = "apiVersion: v1\nkind: ConfigMap\ndata:\n".to_owned();
    for (name, value) in &fields {
        if let Some(value) = value {
            let _ = writeln!(render, "{name}: {}", double_quoted(value));
            let _ = writeln!(config_map, "  {name}: {}", double_quoted(value));
        }
    }
    if !specs.is_empty() {
        let list: Vec<String> = specs.iter().map(|s| double_quoted(s)).collect();
        let _ = writeln!(render, "podSpecs: [{}]", list.join(", "));
        let _ = writeln!(config_map, "  podSpecs: {}", double_quoted(&specs.join(",")));
    }
    let again = Settings::parse(&render, "again.yaml", base);
    assert_eq!(again.as_ref(), Ok(settings), "written as\n{render}");
    // The comma-separated form cannot hold a comma, nor space at either end of an entry.
    if specs.iter().all(|s| !s.contains(',') && s.trim() == s) {
        let again = Settings::parse(&config_map, "again.yaml", base);
        assert_eq!(again.as_ref(), Ok(settings), "written as\n{config_map}");
    }
}

/// A YAML double-quoted scalar holding exactly `text`: printable ASCII as it is, everything
/// else escaped.
fn double_quoted(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 2);
    out.push('"');
    for c in text.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            ' '..='~' => out.push(c),
            c if u32::from(c) <= 0xFFFF => {
                let _ = write!(out, "\\u{:04X}", u32::from(c));
            }
            c => {
                let _ = write!(out, "\\U{:08X}", u32::from(c));
            }
        }
    }
    out.push('"');
    out
}

/// The clusters a render target may pick: every cluster that seals (a `seal: none` cluster
/// writes the credential in the clear, which is its purpose).
fn sealing_clusters(catalog: &Catalog) -> Vec<&str> {
    catalog
        .clusters()
        .filter(|c| c.seal != crate::catalog::SealMode::None)
        .map(|c| c.name.as_str())
        .collect()
}

/// The render (`render::render`) of any stream against `catalog`, for the cluster `choice`
/// picks among those that seal: the workload walk, the pullseal annotations on workloads and
/// pod templates, the `imagePullSecrets` edits and the secrets. Rendering twice gives the
/// same bytes or the same error; every input problem names the input file; no password of
/// the catalog appears in the output or an error unless the input holds it; a rendered stream
/// holds every input document and then the documents pullseal makes (`SealedSecret`s,
/// `Secret`s, and for ECR the External Secrets Operator's two objects).
pub fn render(catalog: &Catalog, choice: u8, text: &str) {
    use crate::render::{Options, RenderError};
    let clusters = sealing_clusters(catalog);
    let Some(cluster) = clusters.get(usize::from(choice) % clusters.len().max(1)) else {
        return;
    };
    let mut options = Options::new(*cluster);
    options.now = time::OffsetDateTime::from_unix_timestamp(1_893_456_000).expect("2030-01-01");
    options.namespace = (choice & 0x80 != 0).then(|| "fuzz-ns".to_owned());
    options.pod_specs = vec!["Rollout=spec.template.spec".parse().expect("a valid kind")];
    let stream = Stream::new(vec![Source {
        name: "fuzz.yaml".to_owned(),
        text: text.to_owned(),
    }]);
    let passwords: Vec<String> = catalog
        .registry_names()
        .filter_map(|n| catalog.registry(n))
        .filter_map(|r| match r.check_credentials() {
            crate::registry::Login::Basic { password, .. } => Some(password.expose_secret().to_owned()),
            _ => None,
        })
        .filter(|p| p.len() >= 8 && !text.contains(p.as_str()))
        .collect();
    let leaks = |what: &str, shown: &str| {
        for p in &passwords {
            assert!(
                !shown.contains(p.as_str()),
                "a catalog password is in the {what}:\n{shown}"
            );
        }
    };
    let run = || -> Result<(String, usize), String> {
        let rendered = crate::render::render(&stream, catalog, &options).map_err(|e| {
            if let RenderError::Input(diagnostics) = &e {
                for d in diagnostics {
                    assert_eq!(d.origin.file, "fuzz.yaml", "a problem names another file: {d}");
                }
            }
            e.to_string()
        })?;
        let mut out = Vec::new();
        rendered.write_to(&stream, &mut out).expect("writing to memory");
        Ok((
            String::from_utf8(out).expect("the output is text"),
            rendered.secrets(),
        ))
    };
    let first = run();
    assert_eq!(run(), first, "rendering twice gave different results");
    let (out, secrets) = match first {
        Ok(rendered) => rendered,
        Err(message) => return leaks("error", &message),
    };
    leaks("output", &out);
    let output = Stream::new(vec![Source {
        name: "out".to_owned(),
        text: out.clone(),
    }]);
    assert_eq!(
        output.documents.len(),
        stream.documents.len() + secrets,
        "documents lost or gained:\n{out}"
    );
    for doc in output.documents.iter().skip(stream.documents.len()) {
        let kind = tree::parse(output.text(doc)).ok().flatten().and_then(|root| {
            root.path(&["kind"])
                .and_then(tree::Node::as_str)
                .map(str::to_owned)
        });
        assert!(
            matches!(
                kind.as_deref(),
                Some("SealedSecret" | "Secret" | "ECRAuthorizationToken" | "ExternalSecret")
            ),
            "an appended document is not one pullseal makes:\n{out}"
        );
    }
}
#[cfg(test)]
mod tests {
    use std::fmt::Write as _;

    use proptest::prelude::*;

    /// Pod-spec-like documents in block and flow style, with existing lists, nulls, comments,
    /// anchors, merge keys, odd indentation, and every line end YAML 1.1 knows.
    fn document() -> impl Strategy<Value = String> {
        let list = prop_oneof![
            Just(String::new()),
            Just("  imagePullSecrets:\n  - name: x\n".to_owned()),
            Just("  imagePullSecrets:\n    - name: x  # c\n    - {name: y}\n".to_owned()),
            Just("  imagePullSecrets: []\n".to_owned()),
            Just("  imagePullSecrets: [ {name: x} ]\n".to_owned()),
            Just("  imagePullSecrets:\n".to_owned()),
            Just("  imagePullSecrets: null\n".to_owned()),
            Just("  imagePullSecrets:\n  - name: \"q\"\n".to_owned()),
            Just("  imagePullSecrets:\n  - name: |\n      lit\n".to_owned()),
            Just("  imagePullSecrets: [] # none yet\n".to_owned()),
            Just("  imagePullSecrets: [{name: x}, ]\n".to_owned()),
            Just("  imagePullSecrets: [{name: x}   ]   # c\n".to_owned()),
            Just("  imagePullSecrets: [\n    {name: x}, # c\n  ]\n".to_owned()),
            Just("  imagePullSecrets: !!seq [{name: x}]\n".to_owned()),
            Just("  imagePullSecrets: &l\n  - name: x\n".to_owned()),
            Just("  imagePullSecrets: !!seq\n    - name: x\n".to_owned()),
            Just("  <<: {imagePullSecrets: [{name: m}], restartPolicy: Always}\n".to_owned()),
            Just("  <<: [{dnsPolicy: None}, {imagePullSecrets: [{name: m}]}]\n".to_owned()),
        ];
        let other = prop_oneof![
            Just("  containers:\n  - image: a\n".to_owned()),
            Just("  containers:\n    - image: a\n".to_owned()),
            Just("  mode: 0644 # keep\n".to_owned()),
            Just("  x: &a {k: v}\n  y: *a\n".to_owned()),
            Just("  # comment\n".to_owned()),
        ];
        let after = prop_oneof![
            Just(String::new()),
            Just("  volumes:\n  - name: v\n".to_owned()),
            Just("  script: |\n    echo\n\n".to_owned()),
            Just("  z: \"q\" # c\n".to_owned()),
        ];
        let line_end = prop_oneof![Just("\n"), Just("\r\n"), Just("\r"), Just("\u{85}")];
        let head = prop_oneof![
            Just("spec:"),
            Just("spec: &s"),
            Just("spec: !!map"),
            Just("spec: &s !!map")
        ];
        (head, other, list, after, line_end, any::<bool>()).prop_map(|(h, a, l, b, nl, eof_newline)| {
            let mut doc = format!("kind: Pod\n{h}\n{a}{l}{b}");
            if !eof_newline {
                doc.pop();
            }
            doc.replace('\n', nl)
        })
    }

    /// `ResourceList`s as kpt and kustomize write them, and as a person might: compact or
    /// indented items, a comment after the dash, flow and JSON lists, an empty list, existing
    /// results, an earlier run's pull secret among the items, CRLF.
    fn resource_list() -> impl Strategy<Value = String> {
        let item = prop_oneof![
            Just("- apiVersion: v1\n  kind: ConfigMap\n  data: {mode: 0644}\n".to_owned()),
            Just("- # head comment\n  # more\n  kind: Pod\n  metadata: {name: p}\n".to_owned()),
            Just("- kind: Pod\n  spec:\n    x: |\n      text\n".to_owned()),
            Just("- kind: SealedSecret\n  apiVersion: bitnami.com/v1alpha1\n  metadata:\n    name: pullseal-a\n    labels: {app.kubernetes.io/managed-by: pullseal}\n    annotations: {pullseal.io/registry: a}\n".to_owned()),
            Just("- {kind: Service, metadata: {name: s}} # flow item\n".to_owned()),
        ];
        let items = prop_oneof![
            (proptest::collection::vec(item, 1..4), any::<bool>()).prop_map(|(v, indent)| {
                let block = v.join("");
                // Indented (`  - x`) as well as compact, the same for every item of a list.
                let block = if indent {
                    block.lines().fold(String::new(), |mut out, l| {
                        out.push_str("  ");
                        out.push_str(l);
                        out.push('\n');
                        out
                    })
                } else {
                    block
                };
                format!("items:\n{block}")
            }),
            Just("items: []\n".to_owned()),
            Just("items: [{kind: A}, {kind: B}]  # flow\n".to_owned()),
        ];
        let tail = prop_oneof![
            Just(String::new()),
            Just("functionConfig:\n  kind: ConfigMap\n  data: {cluster: x}\n".to_owned()),
            Just("results:\n- message: earlier\n".to_owned()),
            Just("results: []\n".to_owned()),
        ];
        let json = Just("{\"apiVersion\": \"config.kubernetes.io/v1\", \"kind\": \"ResourceList\", \"items\": [{\"kind\": \"A\"}]}".to_owned());
        let yaml = (items, tail, any::<bool>()).prop_map(|(items, tail, crlf)| {
            let text = format!("apiVersion: config.kubernetes.io/v1\nkind: ResourceList\n{items}{tail}");
            if crlf { text.replace('\n', "\r\n") } else { text }
        });
        prop_oneof![4 => yaml, 1 => json]
    }

    proptest! {
        #[test]
        fn edits_keep_documents_valid(doc in document()) {
            super::manifest(&doc);
            // Every generated layout is one Kubernetes accepts: pullseal must be able to edit it.
            let root = crate::manifest::tree::parse(&doc).expect("generated documents parse").expect("content");
            let spec = root.path(&["spec"]).expect("a spec");
            // `spec:` with only a comment under it is null, which no pod spec may be.
            prop_assume!(spec.is_map());
            let edit = crate::render::rewrite::add_pull_secrets(&doc, spec, &["pullseal-a".to_owned()], &[]);
            prop_assert!(matches!(edit, Ok(Some(_))), "{edit:?} for\n{doc}");
        }

        #[test]
        fn any_text_is_safe(text in "\\PC{0,200}") {
            super::manifest(&text);
            super::reference(&text);
            super::krm(&text);
            super::settings(&text);
            super::catalog(&text);
            super::certificate(&text);
            super::challenge(&text);
        }

        #[test]
        fn challenges_write_back(text in challenge_text()) {
            super::challenge(&text);
        }

        #[test]
        fn references_print_back(text in reference_text()) {
            super::reference(&text);
        }

        #[test]
        fn settings_read_back_as_written(text in settings_object()) {
            super::settings(&text);
        }

        #[test]
        fn catalog_problems_name_fields_and_quote_no_value(text in catalog_text()) {
            super::catalog(&text);
        }
    }

    proptest! {
        // Each case encrypts and decrypts several times.
        #![proptest_config(ProptestConfig::with_cases(48))]

        #[test]
        fn written_trees_read_back_and_edits_keep_ciphertext(text in plain_tree()) {
            super::sops_write(&text, super::test_identities());
        }

        /// Real sops files with one character changed: refused, or read and written back.
        #[test]
        fn changed_sops_files_are_refused_or_round_trip(
            file in proptest::sample::select(SOPS_FILES),
            at in any::<proptest::sample::Index>(),
            with in proptest::sample::select(vec!['a', '0', ' ', '\n', ':', '"', '-', '#', '[', '\u{85}']),
        ) {
            let text = read(file);
            let chars: Vec<char> = text.chars().collect();
            let i = at.index(chars.len());
            let changed: String = chars[..i].iter().chain([&with]).chain(&chars[i + 1..]).collect();
            super::sops(&changed, super::test_identities());
        }

        /// Certificates with a body character changed, or re-wrapped.
        #[test]
        fn changed_certificates_are_refused_or_read_alike(
            file in proptest::sample::select(CERTIFICATES),
            at in any::<proptest::sample::Index>(),
            with in proptest::sample::select(vec!['A', '/', '+', '=', ' ', '\n', '-']),
        ) {
            let pem = read(file);
            let chars: Vec<char> = pem.chars().collect();
            let i = at.index(chars.len());
            let changed: String = chars[..i].iter().chain([&with]).chain(&chars[i + 1..]).collect();
            super::certificate(&changed);
        }

        #[test]
        fn resource_lists_take_secrets_in_any_layout(list in resource_list()) {
            super::krm(&list);
            // Every generated list is one kpt or kustomize could send: pullseal must add to it.
            let stream = crate::manifest::Stream::new(vec![crate::manifest::Source {
                name: "t".to_owned(),
                text: list.clone(),
            }]);
            let read = crate::frontend::krm::resource_list(&stream).expect("a ResourceList");
            let (stream, _, _) = crate::frontend::krm::without_own_secrets(stream, read).expect("cut");
            let edited = stream.write(&[], &[]);
            let secret = "kind: Secret\nmetadata: {name: s}\n";
            let out = crate::frontend::krm::assemble(&edited, &[secret], &["w".to_owned()]);
            prop_assert!(out.is_ok(), "{out:?} for\n{list}");
        }
    }

    const SOPS_FILES: &[&str] = &[
        "testdata/sops/simple.enc.yaml",
        "testdata/sops/empty-string.enc.yaml",
        "testdata/sops/list-comments.enc.yaml",
        "testdata/sops/multidoc.enc.yaml",
        "testdata/sops/types.enc.yaml",
        "testdata/sops/secret.key_groups_shamir2.enc.yaml",
        "testdata/catalog/test.catalog.yaml",
    ];

    const CERTIFICATES: &[&str] = &[
        "testdata/keys/sealed-secrets-test.crt",
        "testdata/keys/sealed-secrets-2048.crt",
        "testdata/keys/sealed-secrets-1024.crt",
        "testdata/keys/sealed-secrets-ec.crt",
        "testdata/keys/sealed-secrets-expired.crt",
    ];

    fn read(path: &str) -> String {
        fs_err::read_to_string(path).unwrap()
    }

    /// The test identities, as the fuzz targets build them.
    /// Every real file is read, written back and read again; every certificate is read alike
    /// re-wrapped and seals, or is refused as its README says.
    #[test]
    fn the_testdata_files_hold_the_invariants() {
        for file in SOPS_FILES {
            let text = read(file);
            assert!(
                crate::sops::decrypt(&text, super::test_identities()).is_ok(),
                "{file}"
            );
            super::sops(&text, super::test_identities());
        }
        for file in CERTIFICATES {
            let pem = read(file);
            let readable = !file.contains("1024") && !file.contains("-ec");
            assert_eq!(
                crate::seal::Certificate::from_pem(&pem).is_ok(),
                readable,
                "{file}"
            );
            super::certificate(&pem);
        }
        for file in [
            "testdata/sops/rich.plain.yaml",
            "testdata/sops/types.plain.yaml",
            "testdata/catalog/test.plain.yaml",
        ] {
            super::sops_write(&read(file), super::test_identities());
        }
    }

    /// The test catalog in plain text, certificates filled in, is accepted; so every registry
    /// and cluster must come out of the check.
    #[test]
    fn the_plain_test_catalog_is_accepted_whole() {
        let text = test_catalog();
        let documents = crate::sops::read_plain(&text).unwrap();
        assert!(crate::catalog::schema::check(&documents[0]).is_ok());
        super::catalog(&text);
    }

    fn test_catalog() -> String {
        let indent = |pem: String| pem.trim_end().replace('\n', "\n      ");
        read("testdata/catalog/test.plain.yaml")
            .replace(
                "@TEST_CERT@",
                &indent(read("testdata/keys/sealed-secrets-test.crt")),
            )
            .replace(
                "@EXPIRED_CERT@",
                &indent(read("testdata/keys/sealed-secrets-expired.crt")),
            )
    }

    /// Annotation values, images and servers, well-formed and not.
    fn reference_text() -> impl Strategy<Value = String> {
        let part = prop_oneof![
            Just("company"),
            Just("quay-team"),
            Just(" , "),
            Just(","),
            Just("Company"),
            Just("docker.io/"),
            Just("index.docker.io/"),
            Just("localhost"),
            Just(":5000"),
            Just("/"),
            Just("library/"),
            Just("nginx"),
            Just(":1.25"),
            Just("@sha256:"),
            Just("0123456789abcdef0123456789abcdef"),
            Just("[::1]"),
            Just("Quay.IO"),
            Just("*."),
            Just("https://"),
            Just("v2/"),
            Just("a__b"),
            Just("a--b"),
            Just("."),
            Just("_"),
        ];
        proptest::collection::vec(part, 1..8).prop_map(|parts| parts.concat())
    }

    /// `WWW-Authenticate` values: schemes, parameters, quotes, escapes, token68s and commas in
    /// every order.
    fn challenge_text() -> impl Strategy<Value = String> {
        let part = prop_oneof![
            Just("Bearer "),
            Just("basic"),
            Just("Negotiate abc=="),
            Just("realm="),
            Just("Service = "),
            Just("\"https://a/t?x=1,2\""),
            Just("\"say \\\"hi\\\", go\""),
            Just("\"\\\\\""),
            Just("\"unterminated"),
            Just("token"),
            Just(", "),
            Just(","),
            Just(" "),
            Just("\t"),
            Just("="),
            Just("é"),
        ];
        proptest::collection::vec(part, 1..10).prop_map(|parts| parts.concat())
    }

    /// Settings objects in both forms, with values YAML reads as strings and as other things.
    fn settings_object() -> impl Strategy<Value = String> {
        let field = prop_oneof![
            Just("catalog"),
            Just("ageKeyFile"),
            Just("cluster"),
            Just("namespace"),
            Just("secretName"),
            Just("instance"),
            Just("podSpecs"),
            Just("metadata"),
            Just("catalogue"),
        ];
        let value = prop_oneof![
            Just("c.yaml"),
            Just("/abs/c.yaml"),
            Just("shop"),
            Just("Shop"),
            Just("0644"),
            Just("yes"),
            Just("''"),
            Just("\"\\u00e9 \\t x\""),
            Just("'a,b'"),
            Just("[Rollout=spec.template.spec, X=a.b]"),
            Just("'Rollout=spec.template.spec, X=a.b'"),
            Just("[A=b, A]"),
            Just("{a: b}"),
            Just(""),
            Just("pull-{{registry}}"),
            Just("\"\\U0001F600\""),
            Just("~"),
        ];
        let head = prop_oneof![
            Just(("apiVersion: pullseal.io/v1alpha1\nkind: Render\n", "")),
            Just(("apiVersion: v1\nkind: ConfigMap\ndata:\n", "  ")),
        ];
        (head, proptest::collection::btree_map(field, value, 0..5), any::<bool>()).prop_map(|((head, indent), fields, krm)| {
            let mut text = head.to_owned();
            for (k, v) in fields {
                let _ = writeln!(text, "{indent}{k}: {v}");
            }
            if krm {
                let config = text.lines().fold(String::new(), |mut out, l| {
                    let _ = writeln!(out, "  {l}");
                    out
                });
                format!("apiVersion: config.kubernetes.io/v1\nkind: ResourceList\nitems: []\nfunctionConfig:\n{config}")
            } else {
                text
            }
        })
    }

    /// Catalogs with fields of every registry type and cluster, right and wrong.
    fn catalog_text() -> impl Strategy<Value = String> {
        let field = prop_oneof![
            Just("type"),
            Just("server"),
            Just("username"),
            Just("password"),
            Just("email"),
            Just("region"),
            Just("accessKeyId"),
            Just("secretAccessKey"),
            Just("refresh"),
            Just("public"),
            Just("allow"),
            Just("bogus"),
        ];
        let value = prop_oneof![
            Just("generic"),
            Just("ecr"),
            Just("quay"),
            Just("dockerhub"),
            Just("gcr"),
            Just("mcr"),
            Just("registry.example.com:5000"),
            Just("quay.io/acme"),
            Just("u:p@host"),
            Just("bad host"),
            Just("hunter2"),
            Just("''"),
            Just("~"),
            Just("true"),
            Just("12"),
            Just("[a, b]"),
            Just("[]"),
            Just("{namespaces: [shop, 'team-*'], clusters: ['[']}"),
            Just("eu-west-1"),
            Just("token"),
        ];
        let registry = proptest::collection::btree_map(field, value, 0..6);
        let cluster_field = prop_oneof![
            Just("seal: none"),
            Just("seal: sops"),
            Just("seal: weird"),
            Just("scope: cluster-wide"),
            Just("scope: nowhere"),
            Just("certificate: not a pem"),
            Just("kubeletCredentials: [company, 'ecr-*']"),
            Just("ageRecipients: [age1fmscnwl456dfq4d3lyg3cyqj40wh6m9l8w4rk56yac7sfawf8u8sythj48]"),
            Just("ageRecipients: [nope]"),
            Just("kms: {arn: x}"),
        ];
        let clusters = proptest::collection::vec(proptest::collection::btree_set(cluster_field, 0..4), 0..3);
        let names = prop_oneof![
            Just("company"),
            Just("Bad_Name"),
            Just("\"q\\u001b\""),
            Just("ecr-main")
        ];
        (proptest::collection::btree_map(names, registry, 0..4), clusters).prop_map(
            |(registries, clusters)| {
                let mut text =
                    "apiVersion: pullseal.io/v1alpha1\nkind: RegistryCatalog\nregistries:\n".to_owned();
                for (name, fields) in registries {
                    let _ = writeln!(text, "  {name}:");
                    for (k, v) in fields {
                        let _ = writeln!(text, "    {k}: {v}");
                    }
                }
                text.push_str("clusters:\n");
                for (i, fields) in clusters.iter().enumerate() {
                    let _ = writeln!(text, "  c{i}:");
                    for f in fields {
                        let _ = writeln!(text, "    {f}");
                    }
                }
                text
            },
        )
    }

    /// Plain YAML trees in flow style: keys of every shape (quoted), scalars of every type
    /// go-yaml v3 knows, nesting.
    fn plain_tree() -> impl Strategy<Value = String> {
        let scalar = prop_oneof![
            Just("1".to_owned()),
            Just("-0".to_owned()),
            Just("0x1F".to_owned()),
            Just("0o17".to_owned()),
            Just("1e21".to_owned()),
            Just("1.50".to_owned()),
            Just(".inf".to_owned()),
            Just("-.nan".to_owned()),
            Just("true".to_owned()),
            Just("yes".to_owned()),
            Just("null".to_owned()),
            Just("\"\"".to_owned()),
            Just("2002-12-14".to_owned()),
            Just("2001-12-14t21:59:43.10-05:00".to_owned()),
            Just("!!binary aGVsbG8=".to_owned()),
            Just("!!str 12".to_owned()),
            Just("9223372036854775807".to_owned()),
            "\\PC{0,12}".prop_map(|s| super::double_quoted(&s)),
        ];
        let key = prop_oneof![
            Just("a".to_owned()),
            Just("sops".to_owned()),
            Just("x_unencrypted".to_owned()),
            Just("<<".to_owned()),
            Just(String::new()),
            Just("- y".to_owned()),
            Just("null".to_owned()),
            Just("k: v".to_owned()),
            "\\PC{0,6}",
        ];
        let tree = scalar.prop_recursive(3, 24, 4, move |inner| {
            prop_oneof![
                proptest::collection::vec(inner.clone(), 0..4).prop_map(|v| format!("[{}]", v.join(", "))),
                proptest::collection::btree_map(key.clone(), inner, 0..4).prop_map(|m| {
                    let entries: Vec<String> = m
                        .iter()
                        .map(|(k, v)| format!("{}: {v}", super::double_quoted(k)))
                        .collect();
                    format!("{{{}}}", entries.join(", "))
                }),
            ]
        });
        proptest::collection::vec(tree, 1..3).prop_map(|docs| docs.join("\n---\n"))
    }
}
