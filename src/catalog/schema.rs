//! The catalog's schema (`pullseal.io/v1alpha1`, `RegistryCatalog`), checked field by field
//! from the decrypted tree. Every problem is collected with its field path; none of them
//! quotes a decrypted value (credentials, servers, globs or any other field): they name the
//! registry or cluster and the field. Key names, which sops never encrypts, are printed
//! quoted and escaped unless they are plain words, so no terminal escape can get through.
//!
//! Nothing that adds no bytes to the sops MAC may carry a meaning: nulls, empty strings,
//! empty lists and empty mappings are left plain by sops and hashed by no one, so anybody
//! could add or remove them without breaking the file. They are refused everywhere, before
//! anything else is checked, rather than given a meaning such as "absent" or "nowhere".
//! The one exception is an empty catalog's top-level `registries: {}` and `clusters: {}`
//! (see `check`).

use std::collections::BTreeMap;

use std::fmt::Write as _;

use secrecy::{ExposeSecret, SecretString};
use zeroize::Zeroizing;

use super::{Allow, Cluster, Globs, Registry, RegistryType, SealMode};
use crate::reference::{ReferenceError, RegistryName, Server, is_dns_label};
use crate::registry::{Field, FieldKind, Given, Input, Provider};
use crate::seal::{Certificate, Scope};
use crate::sops::{KmsKey, Value};

pub(super) const API_VERSION: &str = "pullseal.io/v1alpha1";
pub(super) const KIND: &str = "RegistryCatalog";

type Checked = (BTreeMap<RegistryName, Registry>, BTreeMap<String, Cluster>);

struct Problems(Vec<String>);

impl Problems {
    fn add(&mut self, field: &str, what: impl std::fmt::Display) {
        let field = if field.is_empty() { "the catalog" } else { field };
        self.0.push(format!("{field}: {what}"));
    }
}

/// `parent.key`, or `parent["key"]` (escaped) for a key that is not a plain word.
fn key_path(parent: &str, key: &str) -> String {
    let mut out = parent.to_owned();
    if !key.is_empty()
        && key
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
    {
        if !out.is_empty() {
            out.push('.');
        }
        out.push_str(key);
    } else {
        let _ = write!(out, "[{key:?}]");
    }
    out
}

/// Refuses every value that adds no bytes to the MAC: null, `""`, `[]` and `{}`.
fn nothing_unauthenticated(path: &str, value: &Value, problems: &mut Problems) {
    let what = match value {
        Value::Null => "null",
        Value::Str(s) if s.expose_secret().is_empty() => "an empty string",
        Value::Seq(items) if items.is_empty() => "an empty list",
        Value::Map(entries) if entries.is_empty() => "an empty mapping",
        Value::Seq(items) => {
            for (i, item) in items.iter().enumerate() {
                nothing_unauthenticated(&format!("{path}[{i}]"), item, problems);
            }
            return;
        }
        Value::Map(entries) => {
            for (key, item) in entries {
                nothing_unauthenticated(&key_path(path, key), item, problems);
            }
            return;
        }
        _ => return,
    };
    problems.add(
        path,
        format_args!(
            "is {what}, which sops neither encrypts nor adds to its MAC, so it could be added or \
             removed unnoticed; give it a value or leave it out"
        ),
    );
}

fn entries(value: &Value) -> Option<&[(String, Value)]> {
    match value {
        Value::Map(entries) => Some(entries),
        _ => None,
    }
}

fn type_name(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Int(_) => "an integer",
        Value::Float(_) => "a number",
        Value::Str(_) => "a string",
        Value::Time(_) => "a timestamp",
        Value::Seq(_) => "a list",
        Value::Map(_) => "a mapping",
    }
}

/// Reads the fields of a mapping, reporting unknown ones (typos would otherwise be ignored).
struct Fields<'a> {
    path: String,
    entries: &'a [(String, Value)],
}

impl<'a> Fields<'a> {
    fn new(path: &str, value: &'a Value, problems: &mut Problems, known: &[&str]) -> Option<Fields<'a>> {
        let fields = Self::mapping(path, value, problems)?;
        fields.only(known, problems);
        Some(fields)
    }

    /// The mapping at `path`, its keys not checked yet (see [`Fields::only`]).
    fn mapping(path: &str, value: &'a Value, problems: &mut Problems) -> Option<Fields<'a>> {
        let Some(entries) = entries(value) else {
            problems.add(
                path,
                format_args!("must be a mapping, found {}", type_name(value)),
            );
            return None;
        };
        Some(Fields {
            path: path.to_owned(),
            entries,
        })
    }

    /// Reports every key that is not `known`.
    fn only(&self, known: &[&str], problems: &mut Problems) {
        for (key, _) in self.entries {
            if !known.contains(&key.as_str()) {
                problems.add(
                    &key_path(&self.path, key),
                    format_args!("unknown field (known: {})", known.join(", ")),
                );
            }
        }
    }

    fn field(&self, key: &str) -> String {
        key_path(&self.path, key)
    }

    fn get(&self, key: &str) -> Option<&'a Value> {
        self.entries
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v)
            .filter(|v| !matches!(v, Value::Null))
    }

    /// A string field. Secret fields are returned as secrets; the caller decides.
    fn secret(&self, key: &str, problems: &mut Problems, required: bool) -> Option<SecretString> {
        match self.get(key) {
            Some(Value::Str(s)) if !s.expose_secret().is_empty() => Some(s.clone()),
            Some(Value::Str(_)) | None => {
                if required {
                    problems.add(&self.field(key), "is required");
                }
                None
            }
            Some(other) => {
                problems.add(
                    &self.field(key),
                    format_args!("must be a string, found {}", type_name(other)),
                );
                None
            }
        }
    }

    /// A string field that is not a credential, in a buffer zeroized when dropped.
    fn string(&self, key: &str, problems: &mut Problems, required: bool) -> Option<Zeroizing<String>> {
        self.secret(key, problems, required)
            .map(|s| Zeroizing::new(s.expose_secret().to_owned()))
    }
}

pub(crate) fn check(root: &Value) -> Result<Checked, Vec<String>> {
    let mut problems = Problems(Vec::new());
    match root {
        // The one exception: `registries: {}` and `clusters: {}` at the top, an empty catalog
        // (`catalog init`, or `catalog rm` of the last entry). Adding or removing one unnoticed
        // changes nothing that matters: removing it leaves a required field missing, and it
        // can only be added where the field was missing (an invalid catalog) or was `{}`.
        // Emptying a non-empty one removes encrypted values, which breaks the MAC.
        Value::Map(entries) => {
            for (key, value) in entries {
                let empty_top = matches!(value, Value::Map(inner) if inner.is_empty())
                    && (key == "registries" || key == "clusters");
                if !empty_top {
                    nothing_unauthenticated(&key_path("", key), value, &mut problems);
                }
            }
        }
        _ => nothing_unauthenticated("", root, &mut problems),
    }
    if !problems.0.is_empty() {
        return Err(problems.0);
    }
    let Some(top) = Fields::new(
        "",
        root,
        &mut problems,
        &["apiVersion", "kind", "registries", "clusters"],
    ) else {
        return Err(problems.0);
    };
    match top.string("apiVersion", &mut problems, true) {
        Some(v) if *v != API_VERSION => problems.add("apiVersion", format_args!("must be {API_VERSION}")),
        _ => {}
    }
    match top.string("kind", &mut problems, true) {
        Some(v) if *v != KIND => problems.add("kind", format_args!("must be {KIND}")),
        _ => {}
    }
    let mut registries = BTreeMap::new();
    match top.get("registries").map(|v| (v, entries(v))) {
        Some((_, Some(list))) => {
            for (name, value) in list {
                if let Some(r) = registry(name, value, &mut problems) {
                    registries.insert(r.name.clone(), r);
                }
            }
        }
        Some((v, None)) => problems.add(
            "registries",
            format_args!("must be a mapping, found {}", type_name(v)),
        ),
        None => problems.add("registries", "is required"),
    }
    // Every name the catalog writes, valid or not, so a kubeletCredentials entry naming a
    // broken registry is not reported a second time.
    let registry_names: Vec<&str> = top
        .get("registries")
        .and_then(entries)
        .map(|list| list.iter().map(|(name, _)| name.as_str()).collect())
        .unwrap_or_default();
    let mut clusters = BTreeMap::new();
    match top.get("clusters").map(|v| (v, entries(v))) {
        Some((_, Some(list))) => {
            for (name, value) in list {
                if let Some(c) = cluster(name, value, &registry_names, &mut problems) {
                    clusters.insert(c.name.clone(), c);
                }
            }
        }
        Some((v, None)) => problems.add(
            "clusters",
            format_args!("must be a mapping, found {}", type_name(v)),
        ),
        None => problems.add("clusters", "is required"),
    }
    if problems.0.is_empty() {
        Ok((registries, clusters))
    } else {
        Err(problems.0)
    }
}

fn registry(name: &str, value: &Value, problems: &mut Problems) -> Option<Registry> {
    let path = key_path("registries", name);
    let parsed_name: Option<RegistryName> = match name.parse() {
        Ok(n) => Some(n),
        Err(e) => {
            problems.add(&path, e);
            None
        }
    };
    // The type decides which fields are known, so it is read before the keys are checked.
    let f = Fields::mapping(&path, value, problems)?;
    let mut type_problems = Problems(Vec::new());
    let kind = match f.string("type", &mut type_problems, true) {
        Some(t) => {
            let parsed = RegistryType::parse(&t);
            if parsed.is_none() {
                type_problems.add(
                    &f.field("type"),
                    format_args!("is not one of {}", RegistryType::names()),
                );
            }
            parsed
        }
        None => None,
    };
    let provider = kind.map(RegistryType::provider);
    // The type's fields; without a known type, those of any type (a typo is still caught).
    let mut known: Vec<&str> = vec!["type", "server"];
    let providers: Vec<&dyn Provider> = match provider {
        Some(p) => vec![p],
        None => RegistryType::ALL.iter().map(|(_, t)| t.provider()).collect(),
    };
    for field in providers.iter().flat_map(|p| p.fields()) {
        if !known.contains(&field.name) {
            known.push(field.name);
        }
    }
    known.push("allow");
    f.only(&known, problems);
    problems.0.append(&mut type_problems.0);
    let server = server(&f, provider, problems);
    let credentials = provider.and_then(|provider| {
        let mut input = Input::new();
        for field in provider.fields() {
            if let Some(value) = given(&f, field, problems) {
                input.give(field.name, value);
            }
        }
        let credentials = provider.credentials(server.as_ref(), &mut input);
        for (field, message) in input.into_problems() {
            problems.add(&f.field(field), message);
        }
        credentials
    });
    let allow = f.get("allow").map_or_else(
        || Some(Allow::default()),
        |v| allow(&f.field("allow"), v, problems),
    );
    Some(Registry {
        name: parsed_name?,
        kind: kind?,
        server: server?,
        credentials: credentials?,
        allow: allow?,
    })
}

/// The value of a provider's field as the provider reads it, or `None` when the field is
/// absent; a value of the wrong type is reported here and given as [`Given::Invalid`].
fn given(f: &Fields<'_>, field: &Field, problems: &mut Problems) -> Option<Given> {
    let value = f.get(field.name)?;
    let given = match (field.kind, value) {
        (FieldKind::Text, Value::Str(s)) => Given::Text(s.clone()),
        (FieldKind::Flag, Value::Bool(b)) => Given::Flag(*b),
        (FieldKind::Text, other) => {
            problems.add(
                &f.field(field.name),
                format_args!("must be a string, found {}", type_name(other)),
            );
            Given::Invalid
        }
        (FieldKind::Flag, other) => {
            problems.add(
                &f.field(field.name),
                format_args!("must be true or false, found {}", type_name(other)),
            );
            Given::Invalid
        }
    };
    Some(given)
}

/// The registry's server, or its type's default, checked against what the type serves.
fn server(f: &Fields<'_>, provider: Option<&dyn Provider>, problems: &mut Problems) -> Option<Server> {
    let text = f
        .string("server", problems, false)
        .or_else(|| Some(Zeroizing::new(provider?.default_server()?.to_owned())));
    let Some(text) = text else {
        if provider.is_some() {
            problems.add(&f.field("server"), "is required for this type");
        }
        return None;
    };
    // `user:password@host` would put a credential where logs and messages show servers.
    if text.contains('@') {
        problems.add(
            &f.field("server"),
            "must not contain user info (`user:password@`): put the account in username and password",
        );
        return None;
    }
    let server = match text.parse::<Server>() {
        Ok(s) => s,
        Err(ReferenceError::InvalidServer { why, .. }) => {
            problems.add(&f.field("server"), format_args!("is not a valid server: {why}"));
            return None;
        }
        Err(_) => {
            problems.add(&f.field("server"), "is not a valid server");
            return None;
        }
    };
    if let Err(why) = provider.map_or(Ok(()), |p| p.check_server(&server)) {
        problems.add(&f.field("server"), why);
        return None;
    }
    Some(server)
}

fn allow(path: &str, value: &Value, problems: &mut Problems) -> Option<Allow> {
    let f = Fields::new(path, value, problems, &["namespaces", "clusters", "projects"])?;
    let namespaces = f
        .get("namespaces")
        .map(|v| globs(&f.field("namespaces"), v, problems));
    let clusters = f
        .get("clusters")
        .map(|v| globs(&f.field("clusters"), v, problems));
    let projects = f
        .get("projects")
        .map(|v| globs(&f.field("projects"), v, problems));
    Some(Allow {
        namespaces: namespaces.flatten(),
        clusters: clusters.flatten(),
        projects: projects.flatten(),
    })
}

fn globs(path: &str, value: &Value, problems: &mut Problems) -> Option<Globs> {
    let Value::Seq(items) = value else {
        problems.add(
            path,
            format_args!("must be a list of globs, found {}", type_name(value)),
        );
        return None;
    };
    let mut builder = globset::GlobSetBuilder::new();
    for (i, item) in items.iter().enumerate() {
        let Value::Str(s) = item else {
            problems.add(
                &format!("{path}[{i}]"),
                format_args!("must be a string, found {}", type_name(item)),
            );
            continue;
        };
        let text = s.expose_secret();
        match globset::GlobBuilder::new(text).literal_separator(true).build() {
            Ok(g) => {
                builder.add(g);
            }
            // The error kind may quote part of the glob, so it is not shown.
            Err(_) => problems.add(&format!("{path}[{i}]"), "is not a valid glob"),
        }
    }
    if let Ok(set) = builder.build() {
        Some(Globs { set })
    } else {
        problems.add(path, "the globs cannot be compiled together");
        None
    }
}

fn cluster(name: &str, value: &Value, registries: &[&str], problems: &mut Problems) -> Option<Cluster> {
    let path = key_path("clusters", name);
    if !is_dns_label(name) {
        problems.add(&path, "cluster names must be DNS-1123 labels");
    }
    let f = Fields::new(
        &path,
        value,
        problems,
        &[
            "seal",
            "scope",
            "certificate",
            "kubeletCredentials",
            "ageRecipients",
            "kms",
        ],
    )?;
    let kubelet_credentials = f.get("kubeletCredentials").map(|v| {
        let field = f.field("kubeletCredentials");
        // A name without glob characters must be a registry: a typo would otherwise make the
        // cluster's pods pull without the secret they need, silently.
        if let Value::Seq(items) = v {
            for (i, item) in items.iter().enumerate() {
                if let Value::Str(s) = item {
                    let text = s.expose_secret();
                    if !text.contains(['*', '?', '[', '{']) && !registries.contains(&text) {
                        problems.add(
                            &format!("{field}[{i}]"),
                            "names no registry of the catalog (a glob would need *, ?, [ or {)",
                        );
                    }
                }
            }
        }
        globs(&field, v, problems)
    });
    let seal = match f.string("seal", problems, false).as_deref().map(String::as_str) {
        None | Some("sealed-secrets") => Some(SealMode::SealedSecrets),
        Some("none") => Some(SealMode::None),
        Some("sops") => Some(SealMode::Sops),
        Some(_) => {
            problems.add(&f.field("seal"), "is not one of sealed-secrets | none | sops");
            None
        }
    };
    let age_recipients = age_recipients(&f, seal, problems);
    let kms = kms_keys(&f, seal, problems);
    sops_settings(&f, seal, problems);
    let scope = match f.string("scope", problems, false) {
        None => Some(Scope::Strict),
        Some(s) => {
            let parsed = s.parse::<Scope>().ok();
            if parsed.is_none() {
                problems.add(
                    &f.field("scope"),
                    "is not one of strict | namespace-wide | cluster-wide",
                );
            }
            parsed
        }
    };
    let certificate = match (f.string("certificate", problems, false), seal) {
        (Some(_), Some(SealMode::Sops)) => None,
        (Some(pem), _) => match Certificate::from_pem(&pem) {
            Ok(c) => Some(c),
            Err(e) => {
                problems.add(&f.field("certificate"), e);
                None
            }
        },
        (None, Some(SealMode::SealedSecrets)) => {
            problems.add(&f.field("certificate"), "is required for seal: sealed-secrets");
            None
        }
        (None, _) => None,
    };
    Some(Cluster {
        name: name.to_owned(),
        seal: seal?,
        scope: scope?,
        certificate,
        kubelet_credentials: kubelet_credentials.flatten(),
        age_recipients: age_recipients?,
        kms: kms?,
    })
}

/// What a `seal: sops` cluster refuses: the sealed-secrets fields, which mean nothing there.
fn sops_settings(f: &Fields<'_>, seal: Option<SealMode>, problems: &mut Problems) {
    if seal == Some(SealMode::Sops) {
        // A sops value is bound to its key path only (its additional data), not to a name or
        // namespace, and it needs no certificate: say so rather than ignore what was meant.
        if f.get("scope").is_some() {
            problems.add(
                &f.field("scope"),
                "is not used with seal: sops (a SOPS-encrypted Secret is bound to no name or \
                 namespace: sops authenticates values by their key path); leave it out",
            );
        }
        if f.get("certificate").is_some() {
            problems.add(
                &f.field("certificate"),
                "is not used with seal: sops (Flux decrypts with the age identity whose \
                 recipient is in ageRecipients); leave it out",
            );
        }
    }
}

/// `kms`: AWS KMS keys (`ARN` or `ARN+ROLE_ARN`, as sops's `--kms` takes them) a `seal: sops`
/// cluster's Secrets are also encrypted with, optional there and refused elsewhere; none
/// repeated. As with `ageRecipients`, a problem names the entry's index, not its text.
fn kms_keys(f: &Fields<'_>, seal: Option<SealMode>, problems: &mut Problems) -> Option<Vec<KmsKey>> {
    let field = f.field("kms");
    let Some(value) = f.get("kms") else {
        return Some(Vec::new());
    };
    if seal.is_some_and(|s| s != SealMode::Sops) {
        problems.add(&field, "is only used with seal: sops; leave it out");
        return None;
    }
    let Value::Seq(items) = value else {
        problems.add(
            &field,
            format_args!("must be a list of AWS KMS key ARNs, found {}", type_name(value)),
        );
        return None;
    };
    let mut keys: Vec<(usize, KmsKey)> = Vec::with_capacity(items.len());
    let mut ok = true;
    for (i, item) in items.iter().enumerate() {
        let entry = format!("{field}[{i}]");
        let Value::Str(s) = item else {
            problems.add(
                &entry,
                format_args!("must be a string, found {}", type_name(item)),
            );
            ok = false;
            continue;
        };
        let Ok(key) = KmsKey::parse(s.expose_secret()) else {
            problems.add(
                &entry,
                "is not an AWS KMS key ARN (arn:aws:kms:<region>:<account>:key/<id> or \
                 :alias/<name>, optionally +<role ARN>, as sops --kms takes it)",
            );
            ok = false;
            continue;
        };
        if let Some((first, _)) = keys.iter().find(|(_, seen)| *seen == key) {
            problems.add(&entry, format_args!("repeats {field}[{first}]"));
            ok = false;
        }
        keys.push((i, key));
    }
    ok.then(|| keys.into_iter().map(|(_, k)| k).collect())
}

/// `ageRecipients`: required for `seal: sops` and refused elsewhere; each entry an age X25519
/// recipient (`age1…`), none repeated. Recipients are public keys, but like every catalog
/// value they are not quoted: the problem names the entry's index.
fn age_recipients(
    f: &Fields<'_>,
    seal: Option<SealMode>,
    problems: &mut Problems,
) -> Option<Vec<age::x25519::Recipient>> {
    let field = f.field("ageRecipients");
    let Some(value) = f.get("ageRecipients") else {
        if seal == Some(SealMode::Sops) {
            problems.add(
                &field,
                "is required for seal: sops (the age recipients of the identities Flux decrypts with)",
            );
            return None;
        }
        return Some(Vec::new());
    };
    if seal.is_some_and(|s| s != SealMode::Sops) {
        problems.add(&field, "is only used with seal: sops; leave it out");
        return None;
    }
    let Value::Seq(items) = value else {
        problems.add(
            &field,
            format_args!("must be a list of age recipients, found {}", type_name(value)),
        );
        return None;
    };
    // With the index each was given at, so a repeat names the right entry.
    let mut recipients: Vec<(usize, age::x25519::Recipient)> = Vec::with_capacity(items.len());
    let mut ok = true;
    for (i, item) in items.iter().enumerate() {
        let entry = format!("{field}[{i}]");
        let Value::Str(s) = item else {
            problems.add(
                &entry,
                format_args!("must be a string, found {}", type_name(item)),
            );
            ok = false;
            continue;
        };
        if let Ok(r) = s.expose_secret().parse::<age::x25519::Recipient>() {
            let text = r.to_string();
            if let Some((first, _)) = recipients.iter().find(|(_, seen)| seen.to_string() == text) {
                problems.add(&entry, format_args!("repeats {field}[{first}]"));
                ok = false;
            }
            recipients.push((i, r));
        } else {
            problems.add(
                &entry,
                "is not an age X25519 recipient (age1 followed by 58 Bech32 characters, as \
                 `age-keygen -y` prints it); plugin and SSH recipients are not supported",
            );
            ok = false;
        }
    }
    ok.then(|| recipients.into_iter().map(|(_, r)| r).collect())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::registry::Credentials;

    fn s(v: &str) -> Value {
        Value::Str(SecretString::from(v.to_owned()))
    }

    fn map(entries: &[(&str, Value)]) -> Value {
        Value::Map(
            entries
                .iter()
                .map(|(k, v)| ((*k).to_owned(), v.clone()))
                .collect(),
        )
    }

    fn catalog(registries: Value, clusters: Value) -> Value {
        map(&[
            ("apiVersion", s(API_VERSION)),
            ("kind", s(KIND)),
            ("registries", registries),
            ("clusters", clusters),
        ])
    }

    fn problems(root: &Value) -> String {
        match check(root) {
            Ok(_) => "ok".to_owned(),
            Err(p) => p.join("\n"),
        }
    }

    #[test]
    fn defaults_and_types() {
        let root = catalog(
            map(&[
                (
                    "hub",
                    map(&[
                        ("type", s("dockerhub")),
                        ("username", s("u")),
                        ("password", s("p")),
                    ]),
                ),
                (
                    "ms",
                    map(&[("type", s("mcr")), ("username", s("u")), ("password", s("p"))]),
                ),
            ]),
            map(&[("plain", map(&[("seal", s("none"))]))]),
        );
        let (registries, clusters) = check(&root).unwrap();
        let hub = registries.get(&"hub".parse().unwrap()).unwrap();
        assert_eq!(hub.server.to_string(), "docker.io");
        assert_eq!(
            registries.get(&"ms".parse().unwrap()).unwrap().server.to_string(),
            "mcr.microsoft.com"
        );
        assert_eq!(clusters["plain"].scope, Scope::Strict);
        assert_eq!(clusters["plain"].seal, SealMode::None);
    }

    #[test]
    fn every_problem_is_reported_with_its_field_and_no_value() {
        let root = map(&[
            ("apiVersion", s("v1")),
            ("kind", Value::Int(3)),
            (
                "registries",
                map(&[
                    (
                        "Bad_Name",
                        map(&[
                            ("type", s("generic")),
                            ("server", s("r.example.com")),
                            ("username", s("u")),
                            ("password", s("hunter2")),
                        ]),
                    ),
                    (
                        "typo",
                        map(&[
                            ("type", s("gneric")),
                            ("server", s("r.example.com")),
                            ("username", s("u")),
                            ("pasword", s("hunter2")),
                        ]),
                    ),
                    (
                        "colon",
                        map(&[
                            ("type", s("quay")),
                            ("server", s("quay.io:x")),
                            ("username", s("a:b")),
                            ("password", s("hunter2")),
                        ]),
                    ),
                    (
                        "noserver",
                        map(&[
                            ("type", s("generic")),
                            ("username", s("u")),
                            ("password", s("hunter2")),
                        ]),
                    ),
                    (
                        "globs",
                        map(&[
                            ("type", s("generic")),
                            ("server", s("g.example.com")),
                            ("username", s("u")),
                            ("password", s("hunter2")),
                            ("allow", map(&[("namespaces", s("team-*"))])),
                        ]),
                    ),
                ]),
            ),
            (
                "clusters",
                map(&[
                    ("no-cert", map(&[("seal", s("sealed-secrets"))])),
                    ("bad", map(&[("seal", s("vault")), ("scope", s("global"))])),
                    ("garbage", map(&[("certificate", s("not a pem"))])),
                ]),
            ),
        ]);
        let out = problems(&root);
        for value in [
            "hunter2",
            "\"v1\"",
            "gneric",
            "quay.io:x",
            "a:b",
            "team-*",
            "vault",
            "global",
            "not a pem",
        ] {
            assert!(!out.contains(value), "{value}");
        }
        insta::assert_snapshot!(out, @r#"
        apiVersion: must be pullseal.io/v1alpha1
        kind: must be a string, found an integer
        registries.Bad_Name: registry name "Bad_Name" is not a DNS-1123 label (lower-case letters, digits and '-', at most 63)
        registries.typo.pasword: unknown field (known: type, server, username, password, email, public, region, accessKeyId, secretAccessKey, sessionToken, roleArn, refresh, refreshInterval, allow)
        registries.typo.type: is not one of dockerhub | ecr | gcr | acr | quay | nexus | artifactory | mcr | system | generic
        registries.colon.server: is not a valid server: the port is not a number
        registries.colon.username: must not contain ':' (the kubelet splits `auth` at the first ':')
        registries.noserver.server: is required for this type
        registries.globs.allow.namespaces: must be a list of globs, found a string
        clusters.no-cert.certificate: is required for seal: sealed-secrets
        clusters.bad.seal: is not one of sealed-secrets | none | sops
        clusters.bad.scope: is not one of strict | namespace-wide | cluster-wide
        clusters.garbage.certificate: no PEM CERTIFICATE block found in the sealing certificate
        "#);
    }

    #[test]
    fn missing_sections() {
        insta::assert_snapshot!(problems(&map(&[("extra", s("x"))])), @r"
        extra: unknown field (known: apiVersion, kind, registries, clusters)
        apiVersion: is required
        kind: is required
        registries: is required
        clusters: is required
        ");
        insta::assert_snapshot!(problems(&s("x")), @"the catalog: must be a mapping, found a string");
    }

    fn registry_with(extra: &[(&str, Value)]) -> Value {
        let mut fields = vec![
            ("type", s("generic")),
            ("server", s("r.example.com")),
            ("username", s("u")),
            ("password", s("hunter2")),
        ];
        fields.extend(extra.iter().cloned());
        map(&fields)
    }

    fn one_registry(extra: &[(&str, Value)]) -> Value {
        catalog(
            map(&[("r", registry_with(extra))]),
            map(&[("plain", map(&[("seal", s("none"))]))]),
        )
    }

    #[test]
    fn what_adds_nothing_to_the_mac_is_refused_everywhere() {
        let root = catalog(
            map(&[
                (
                    "empty-list",
                    registry_with(&[("allow", map(&[("namespaces", Value::Seq(Vec::new()))]))]),
                ),
                (
                    "null-glob-list",
                    registry_with(&[("allow", map(&[("clusters", Value::Null)]))]),
                ),
                ("empty-allow", registry_with(&[("allow", map(&[]))])),
                (
                    "empty-glob",
                    registry_with(&[("allow", map(&[("namespaces", Value::Seq(vec![s(""), s("a")]))]))]),
                ),
                ("empty-email", registry_with(&[("email", s(""))])),
                (
                    "empty-projects",
                    registry_with(&[("allow", map(&[("projects", Value::Seq(Vec::new()))]))]),
                ),
            ]),
            map(&[("blank", map(&[])), ("nulls", map(&[("seal", Value::Null)]))]),
        );
        insta::assert_snapshot!(problems(&root), @r"
            registries.empty-list.allow.namespaces: is an empty list, which sops neither encrypts nor adds to its MAC, so it could be added or removed unnoticed; give it a value or leave it out
            registries.null-glob-list.allow.clusters: is null, which sops neither encrypts nor adds to its MAC, so it could be added or removed unnoticed; give it a value or leave it out
            registries.empty-allow.allow: is an empty mapping, which sops neither encrypts nor adds to its MAC, so it could be added or removed unnoticed; give it a value or leave it out
            registries.empty-glob.allow.namespaces[0]: is an empty string, which sops neither encrypts nor adds to its MAC, so it could be added or removed unnoticed; give it a value or leave it out
            registries.empty-email.email: is an empty string, which sops neither encrypts nor adds to its MAC, so it could be added or removed unnoticed; give it a value or leave it out
            registries.empty-projects.allow.projects: is an empty list, which sops neither encrypts nor adds to its MAC, so it could be added or removed unnoticed; give it a value or leave it out
            clusters.blank: is an empty mapping, which sops neither encrypts nor adds to its MAC, so it could be added or removed unnoticed; give it a value or leave it out
            clusters.nulls.seal: is null, which sops neither encrypts nor adds to its MAC, so it could be added or removed unnoticed; give it a value or leave it out
            ");
    }

    #[test]
    fn a_server_with_user_info_is_refused_without_showing_it() {
        let out = problems(&one_registry(&[]).clone());
        assert_eq!(out, "ok");
        let root = catalog(
            map(&[(
                "r",
                map(&[
                    ("type", s("generic")),
                    ("server", s("robot:hunter2@r.example.com")),
                    ("username", s("u")),
                    ("password", s("p")),
                ]),
            )]),
            map(&[("plain", map(&[("seal", s("none"))]))]),
        );
        let out = problems(&root);
        assert!(!out.contains("hunter2") && !out.contains("robot"), "{out}");
        insta::assert_snapshot!(out, @"registries.r.server: must not contain user info (`user:password@`): put the account in username and password");
    }

    #[test]
    fn keys_from_the_file_are_quoted_and_escaped() {
        let root = catalog(
            map(&[("evil\u{1b}]0;x\u{7}", registry_with(&[("typo\u{1b}[2J", s("x"))]))]),
            map(&[("a b", map(&[("seal", s("none"))]))]),
        );
        let out = problems(&root);
        assert!(!out.contains('\u{1b}') && !out.contains('\u{7}'), "{out:?}");
        insta::assert_snapshot!(out, @r#"
            registries["evil\u{1b}]0;x\u{7}"]: registry name "evil\u{1b}]0;x\u{7}" is not a DNS-1123 label (lower-case letters, digits and '-', at most 63)
            registries["evil\u{1b}]0;x\u{7}"]["typo\u{1b}[2J"]: unknown field (known: type, server, username, password, email, allow)
            clusters["a b"]: cluster names must be DNS-1123 labels
            "#);
    }

    #[test]
    fn debug_shows_no_glob() {
        let root = one_registry(&[(
            "allow",
            map(&[("namespaces", Value::Seq(vec![s("secret-team-*")]))]),
        )]);
        let (registries, _) = check(&root).unwrap();
        let r = registries.get(&"r".parse().unwrap()).unwrap();
        let shown = format!("{:?}", r.allow);
        assert!(!shown.contains("secret-team"), "{shown}");
        assert!(shown.contains("len: 1"), "{shown}");
    }

    /// One registry `r` of the given fields, and every problem the catalog has.
    fn registry_problems(fields: &[(&str, Value)]) -> String {
        problems(&catalog(
            map(&[("r", map(fields))]),
            map(&[("plain", map(&[("seal", s("none"))]))]),
        ))
    }

    const SA_KEY: &str = "{\n  \"type\": \"service_account\",\n  \"project_id\": \"demo\",\n  \"private_key\": \"-----BEGIN PRIVATE KEY-----\\nhunter2\\n-----END PRIVATE KEY-----\\n\"\n}\n";

    fn ecr<'a>(extra: &[(&'a str, Value)]) -> Vec<(&'a str, Value)> {
        let mut fields = vec![
            ("type", s("ecr")),
            ("server", s("123456789012.dkr.ecr.eu-west-1.amazonaws.com")),
            ("region", s("eu-west-1")),
            ("accessKeyId", s("AKIAIOSFODNN7EXAMPLE")),
            ("secretAccessKey", s("hunter2")),
        ];
        for (k, v) in extra {
            fields.retain(|(name, _)| name != k);
            if !matches!(v, Value::Null) {
                fields.push((k, v.clone()));
            }
        }
        fields
    }

    #[test]
    #[allow(clippy::too_many_lines)] // one row per case: a table reads best whole
    fn every_provider_accepts_its_own_fields() {
        let registries = [
            (
                "hub",
                vec![
                    ("type", s("dockerhub")),
                    ("username", s("u")),
                    ("password", s("p")),
                ],
            ),
            (
                "hub-public",
                vec![("type", s("dockerhub")), ("public", Value::Bool(true))],
            ),
            (
                "hub-org",
                vec![
                    ("type", s("dockerhub")),
                    ("server", s("docker.io/acme")),
                    ("public", Value::Bool(false)),
                    ("username", s("u")),
                    ("password", s("p")),
                ],
            ),
            ("ms", vec![("type", s("mcr"))]),
            (
                "ms-mirror",
                vec![("type", s("mcr")), ("username", s("u")), ("password", s("p"))],
            ),
            (
                "quay",
                vec![
                    ("type", s("quay")),
                    ("server", s("quay.io/acme")),
                    ("username", s("acme+ci")),
                    ("password", s("p")),
                ],
            ),
            (
                "nexus",
                vec![
                    ("type", s("nexus")),
                    ("server", s("nexus.example.com:8443")),
                    ("username", s("u")),
                    ("password", s("p")),
                ],
            ),
            (
                "jfrog",
                vec![
                    ("type", s("artifactory")),
                    ("server", s("jfrog.example.com/docker-local")),
                    ("username", s("u")),
                    ("password", s("p")),
                ],
            ),
            (
                "acr",
                vec![
                    ("type", s("acr")),
                    ("server", s("contoso.azurecr.io")),
                    ("username", s("app-id")),
                    ("password", s("p")),
                ],
            ),
            (
                "acr-cn",
                vec![
                    ("type", s("acr")),
                    ("server", s("contoso.azurecr.cn")),
                    ("username", s("token")),
                    ("password", s("p")),
                ],
            ),
            (
                "gcr",
                vec![
                    ("type", s("gcr")),
                    ("server", s("eu.gcr.io/my-project")),
                    ("username", s("_json_key")),
                    ("password", s(SA_KEY)),
                ],
            ),
            (
                "gar",
                vec![
                    ("type", s("gcr")),
                    ("server", s("europe-west1-docker.pkg.dev")),
                    ("password", s(SA_KEY)),
                ],
            ),
            (
                "sys",
                vec![
                    ("type", s("system")),
                    ("server", s("*.registry.example.com")),
                    ("username", s("u")),
                    ("password", s("p")),
                ],
            ),
            (
                "ecr",
                ecr(&[
                    ("sessionToken", s("t")),
                    ("roleArn", s("arn:aws:iam::123456789012:role/pull")),
                    ("refresh", s("token")),
                ]),
            ),
            (
                "ecr-cn",
                ecr(&[
                    ("server", s("123456789012.dkr.ecr.cn-north-1.amazonaws.com.cn")),
                    ("region", s("cn-north-1")),
                ]),
            ),
        ];
        let entries: Vec<(&str, Value)> = registries.iter().map(|(n, f)| (*n, map(f))).collect();
        let root = catalog(map(&entries), map(&[("plain", map(&[("seal", s("none"))]))]));
        let (checked, _) = check(&root).unwrap_or_else(|p| panic!("{}", p.join("\n")));
        let shown: Vec<String> = checked
            .values()
            .map(|r| {
                let what = match &r.credentials {
                    Credentials::Anonymous => "anonymous".to_owned(),
                    Credentials::Basic(_) => {
                        let entry = crate::registry::AuthsEntry::of(r).unwrap();
                        format!("auths key {}", entry.key())
                    }
                    Credentials::Ecr(e) => format!(
                        "ecr {} {} {}",
                        e.region(),
                        e.refresh().as_str(),
                        e.role_arn().is_some()
                    ),
                };
                format!("{} ({}, {}): {what}", r.name, r.kind, r.server)
            })
            .collect();
        insta::assert_snapshot!(shown.join("\n"), @r"
        acr (acr, contoso.azurecr.io): auths key contoso.azurecr.io
        acr-cn (acr, contoso.azurecr.cn): auths key contoso.azurecr.cn
        ecr (ecr, 123456789012.dkr.ecr.eu-west-1.amazonaws.com): ecr eu-west-1 token true
        ecr-cn (ecr, 123456789012.dkr.ecr.cn-north-1.amazonaws.com.cn): ecr cn-north-1 external-secrets false
        gar (gcr, europe-west1-docker.pkg.dev): auths key europe-west1-docker.pkg.dev
        gcr (gcr, eu.gcr.io/my-project): auths key eu.gcr.io/my-project
        hub (dockerhub, docker.io): auths key https://index.docker.io/v1/
        hub-org (dockerhub, docker.io/acme): auths key https://index.docker.io/v1/
        hub-public (dockerhub, docker.io): anonymous
        jfrog (artifactory, jfrog.example.com/docker-local): auths key jfrog.example.com/docker-local
        ms (mcr, mcr.microsoft.com): anonymous
        ms-mirror (mcr, mcr.microsoft.com): auths key mcr.microsoft.com
        nexus (nexus, nexus.example.com:8443): auths key nexus.example.com:8443
        quay (quay, quay.io/acme): auths key quay.io/acme
        sys (system, *.registry.example.com): auths key *.registry.example.com
        ");
        // What a live check sends, and that no Debug shows a credential.
        let login = |name: &str| checked[&name.parse::<RegistryName>().unwrap()].check_credentials();
        assert!(matches!(login("hub-public"), crate::registry::Login::Anonymous));
        assert!(
            login("gcr")
                .basic()
                .is_some_and(|(u, p)| u.expose_secret() == "_json_key" && p.expose_secret() == SA_KEY)
        );
        assert!(login("ecr").basic().is_none());
        let debug = format!(
            "{:?}",
            checked.values().map(|r| &r.credentials).collect::<Vec<_>>()
        );
        assert!(!debug.contains("hunter2") && !debug.contains("AKIA"), "{debug}");
    }

    #[test]
    #[allow(clippy::too_many_lines)] // one row per case: a table reads best whole
    fn provider_field_problems_name_the_registry_and_field() {
        let cases: Vec<(&str, Vec<(&str, Value)>)> = vec![
            (
                "missing field",
                vec![
                    ("type", s("quay")),
                    ("server", s("quay.io")),
                    ("username", s("acme+ci")),
                ],
            ),
            (
                "unknown field",
                vec![
                    ("type", s("generic")),
                    ("server", s("r.example.com")),
                    ("username", s("u")),
                    ("password", s("p")),
                    ("region", s("eu-west-1")),
                ],
            ),
            (
                "public with a password",
                vec![
                    ("type", s("dockerhub")),
                    ("public", Value::Bool(true)),
                    ("password", s("hunter2")),
                ],
            ),
            (
                "public not a flag",
                vec![("type", s("dockerhub")), ("public", s("yes"))],
            ),
            (
                "dockerhub elsewhere",
                vec![
                    ("type", s("dockerhub")),
                    ("server", s("quay.io")),
                    ("username", s("u")),
                    ("password", s("p")),
                ],
            ),
            ("mcr half", vec![("type", s("mcr")), ("username", s("u"))]),
            ("mcr email alone", vec![("type", s("mcr")), ("email", s("a@b"))]),
            (
                "bad quay robot",
                vec![
                    ("type", s("quay")),
                    ("server", s("quay.io")),
                    ("username", s("hunter2")),
                    ("password", s("p")),
                ],
            ),
            (
                "gcr username",
                vec![
                    ("type", s("gcr")),
                    ("server", s("gcr.io")),
                    ("username", s("hunter2")),
                    ("password", s(SA_KEY)),
                ],
            ),
            (
                "gcr access token",
                vec![
                    ("type", s("gcr")),
                    ("server", s("gcr.io")),
                    ("username", s("oauth2accesstoken")),
                    ("password", s("ya29.hunter2")),
                ],
            ),
            (
                "gcr key not json",
                vec![
                    ("type", s("gcr")),
                    ("server", s("us-docker.pkg.dev")),
                    ("password", s("hunter2")),
                ],
            ),
            (
                "gcr key not a service account",
                vec![
                    ("type", s("gcr")),
                    ("server", s("gcr.io")),
                    (
                        "password",
                        s("{\"type\": \"authorized_user\", \"refresh_token\": \"hunter2\"}"),
                    ),
                ],
            ),
            (
                "gcr server",
                vec![
                    ("type", s("gcr")),
                    ("server", s("pkg.dev")),
                    ("password", s(SA_KEY)),
                ],
            ),
            (
                "acr server",
                vec![
                    ("type", s("acr")),
                    ("server", s("contoso.azurecr.com")),
                    ("username", s("u")),
                    ("password", s("p")),
                ],
            ),
            (
                "acr exchange user",
                vec![
                    ("type", s("acr")),
                    ("server", s("contoso.azurecr.io")),
                    ("username", s("00000000-0000-0000-0000-000000000000")),
                    ("password", s("p")),
                ],
            ),
            (
                "ecr server",
                ecr(&[("server", s("123456789012.ecr.eu-west-1.amazonaws.com"))]),
            ),
            (
                "ecr glob server",
                ecr(&[("server", s("*.dkr.ecr.*.amazonaws.com"))]),
            ),
            ("ecr region mismatch", ecr(&[("region", s("us-east-1"))])),
            (
                "ecr missing keys",
                ecr(&[
                    ("accessKeyId", Value::Null),
                    ("secretAccessKey", Value::Null),
                    ("region", Value::Null),
                ]),
            ),
            (
                "ecr bad settings",
                ecr(&[
                    ("accessKeyId", s("hunter2")),
                    ("roleArn", s("arn:aws-cn:iam::123456789012:role/r")),
                    ("refresh", s("hourly")),
                ]),
            ),
            (
                "ecr basic fields",
                ecr(&[("username", s("AWS")), ("password", s("hunter2"))]),
            ),
            ("ecr refresh interval 12h", ecr(&[("refreshInterval", s("12h"))])),
            ("ecr refresh interval 0s", ecr(&[("refreshInterval", s("0s"))])),
            ("ecr refresh interval 1d", ecr(&[("refreshInterval", s("1d"))])),
            (
                "ecr refresh interval with token",
                ecr(&[("refresh", s("token")), ("refreshInterval", s("1h"))]),
            ),
        ];
        let mut out = String::new();
        for (name, fields) in cases {
            let shown = registry_problems(&fields);
            assert!(!shown.contains("hunter2"), "{name}: {shown}");
            let _ = writeln!(out, "# {name}\n{shown}");
        }
        insta::assert_snapshot!(out, @r#"
        # missing field
        registries.r.password: is required
        # unknown field
        registries.r.region: unknown field (known: type, server, username, password, email, allow)
        # public with a password
        registries.r.password: is not used with public: true (anonymous pulls, no secret); leave it out
        # public not a flag
        registries.r.public: must be true or false, found a string
        # dockerhub elsewhere
        registries.r.server: must be Docker Hub: docker.io (the default), or docker.io/<org> for one organisation's images; another registry takes its own type
        # mcr half
        registries.r.password: is required
        # mcr email alone
        registries.r.email: is only used with username and password (MCR pulls are anonymous without them)
        # bad quay robot
        registries.r.username: must be a Quay robot account, <org>+<name>: the organisation or user (lower-case letters, digits, '.', '_', '-'), '+', and the robot's name (lower-case letters, digits and '_', starting with a letter)
        # gcr username
        registries.r.username: must be _json_key (Google's username for a service-account JSON key, which is the password), or left out
        # gcr access token
        registries.r.username: must be _json_key: oauth2accesstoken takes an access token that expires within an hour, which a rendered secret outlives; store a service-account key
        registries.r.password: is not a service-account JSON key: it does not parse as JSON (line 1, column 1); store the key file's content as a block scalar (`password: |`) or as a JSON string
        # gcr key not json
        registries.r.password: is not a service-account JSON key: it does not parse as JSON (line 1, column 1); store the key file's content as a block scalar (`password: |`) or as a JSON string
        # gcr key not a service account
        registries.r.password: is not a service-account JSON key: its "type" is not "service_account"
        # gcr server
        registries.r.server: must be a Container Registry host (gcr.io, us.gcr.io, eu.gcr.io, asia.gcr.io) or an Artifact Registry host (<location>-docker.pkg.dev, such as europe-west1-docker.pkg.dev), with an optional path such as /<project>
        # acr server
        registries.r.server: must be an Azure Container Registry login server, <name>.azurecr.io (.azurecr.cn in Azure China, .azurecr.us in Azure Government), the name 5 to 50 lower-case letters and digits, with an optional path
        # acr exchange user
        registries.r.username: is ACR's token-exchange user (the all-zero GUID), whose refresh tokens expire within hours; use a service principal (application id and secret) or a repository-scoped token
        # ecr server
        registries.r.server: must be one ECR registry, <account>.dkr.ecr.<region>.amazonaws.com (.amazonaws.com.cn in the China regions, dkr.ecr-fips for a FIPS endpoint), the account 12 digits, no port, with an optional path
        # ecr glob server
        registries.r.server: must be one ECR registry, <account>.dkr.ecr.<region>.amazonaws.com (.amazonaws.com.cn in the China regions, dkr.ecr-fips for a FIPS endpoint), the account 12 digits, no port, with an optional path
        # ecr region mismatch
        registries.r.region: does not agree with the server's region (<account>.dkr.ecr.<region>.amazonaws.com): they must be the same
        # ecr missing keys
        registries.r.region: is required
        registries.r.accessKeyId: is required
        registries.r.secretAccessKey: is required
        # ecr bad settings
        registries.r.accessKeyId: is not an AWS access key id (16 to 128 upper-case letters and digits, such as AKIA… or ASIA…)
        registries.r.roleArn: is not an IAM role ARN in the region's partition: arn:aws:iam::<account>:role/<name> (arn:aws-cn:… in China, arn:aws-us-gov:… in GovCloud)
        registries.r.refresh: is not one of external-secrets | token
        # ecr basic fields
        registries.r.username: unknown field (known: type, server, region, accessKeyId, secretAccessKey, sessionToken, roleArn, refresh, refreshInterval, allow)
        registries.r.password: unknown field (known: type, server, region, accessKeyId, secretAccessKey, sessionToken, roleArn, refresh, refreshInterval, allow)
        # ecr refresh interval 12h
        registries.r.refreshInterval: must be well under 12h, the lifetime of an ECR token (the default is 1h)
        # ecr refresh interval 0s
        registries.r.refreshInterval: must be more than zero (0s would fetch one token, which expires after 12 hours)
        # ecr refresh interval 1d
        registries.r.refreshInterval: is not a duration of whole hours, minutes and seconds (such as 1h, 30m or 1h30m)
        # ecr refresh interval with token
        registries.r.refreshInterval: applies only to refresh: external-secrets (with refresh: token, pullseal render makes the token)
        "#);
    }

    #[test]
    fn kubelet_credentials_are_registry_globs() {
        let root = catalog(
            map(&[("ecr-main", map(&ecr(&[]))), ("company", registry_with(&[]))]),
            map(&[
                (
                    "eks",
                    map(&[
                        ("seal", s("none")),
                        ("kubeletCredentials", Value::Seq(vec![s("ecr-*")])),
                    ]),
                ),
                (
                    "typo",
                    map(&[
                        ("seal", s("none")),
                        (
                            "kubeletCredentials",
                            Value::Seq(vec![s("ecr-mian"), s("company")]),
                        ),
                    ]),
                ),
                (
                    "not-a-list",
                    map(&[("seal", s("none")), ("kubeletCredentials", s("ecr-*"))]),
                ),
            ]),
        );
        insta::assert_snapshot!(problems(&root), @r"
        clusters.typo.kubeletCredentials[0]: names no registry of the catalog (a glob would need *, ?, [ or {)
        clusters.not-a-list.kubeletCredentials: must be a list of globs, found a string
        ");
        let root = catalog(
            map(&[("ecr-main", map(&ecr(&[]))), ("company", registry_with(&[]))]),
            map(&[(
                "eks",
                map(&[
                    ("seal", s("none")),
                    ("kubeletCredentials", Value::Seq(vec![s("ecr-*")])),
                ]),
            )]),
        );
        let (_, clusters) = check(&root).unwrap();
        assert!(clusters["eks"].pulls_with_kubelet(&"ecr-main".parse().unwrap()));
        assert!(!clusters["eks"].pulls_with_kubelet(&"company".parse().unwrap()));
    }

    #[test]
    fn sops_clusters_take_age_recipients_and_kms_keys() {
        const R1: &str = "age1ql3z7hjy54pw3hyww5ayyfg7zqgvc7w3j2elw8zmrj2kg5sfn9aqmcac8p";
        let seq = |items: &[&str]| Value::Seq(items.iter().map(|i| s(i)).collect());
        let root = catalog(
            map(&[("company", registry_with(&[]))]),
            map(&[
                ("flux", map(&[("seal", s("sops")), ("ageRecipients", seq(&[R1]))])),
                ("no-recipients", map(&[("seal", s("sops"))])),
                (
                    "bad-recipients",
                    map(&[
                        ("seal", s("sops")),
                        (
                            "ageRecipients",
                            Value::Seq(vec![
                                s("hunter2"),
                                s(R1),
                                Value::Int(3),
                                s(R1),
                                s("age1yubikey1qwerty"),
                            ]),
                        ),
                    ]),
                ),
                (
                    "one-string",
                    map(&[("seal", s("sops")), ("ageRecipients", s(R1))]),
                ),
                (
                    "sealed-settings",
                    map(&[
                        ("seal", s("sops")),
                        ("ageRecipients", seq(&[R1])),
                        ("scope", s("strict")),
                        ("certificate", s("not a pem")),
                        ("kms", seq(&["arn:aws:kms:eu-west-1:123456789012:key/hunter2"])),
                    ]),
                ),
                (
                    "bad-kms",
                    map(&[
                        ("seal", s("sops")),
                        ("ageRecipients", seq(&[R1])),
                        (
                            "kms",
                            Value::Seq(vec![
                                s("arn:aws:kms:eu-west-1:123456789012:key/k1"),
                                s("hunter2"),
                                s("arn:aws:kms:eu-west-1:123456789012:key/k1"),
                                Value::Int(1),
                            ]),
                        ),
                    ]),
                ),
                (
                    "plain-kms",
                    map(&[
                        ("seal", s("none")),
                        ("kms", seq(&["arn:aws:kms:eu-west-1:123456789012:key/k1"])),
                    ]),
                ),
                ("none", map(&[("seal", s("none")), ("ageRecipients", seq(&[R1]))])),
            ]),
        );
        let out = problems(&root);
        assert!(
            !out.contains("hunter2") && !out.contains(R1) && !out.contains("not a pem"),
            "{out}"
        );
        insta::assert_snapshot!(out, @r#"
        clusters.no-recipients.ageRecipients: is required for seal: sops (the age recipients of the identities Flux decrypts with)
        clusters.bad-recipients.ageRecipients[0]: is not an age X25519 recipient (age1 followed by 58 Bech32 characters, as `age-keygen -y` prints it); plugin and SSH recipients are not supported
        clusters.bad-recipients.ageRecipients[2]: must be a string, found an integer
        clusters.bad-recipients.ageRecipients[3]: repeats clusters.bad-recipients.ageRecipients[1]
        clusters.bad-recipients.ageRecipients[4]: is not an age X25519 recipient (age1 followed by 58 Bech32 characters, as `age-keygen -y` prints it); plugin and SSH recipients are not supported
        clusters.one-string.ageRecipients: must be a list of age recipients, found a string
        clusters.sealed-settings.scope: is not used with seal: sops (a SOPS-encrypted Secret is bound to no name or namespace: sops authenticates values by their key path); leave it out
        clusters.sealed-settings.certificate: is not used with seal: sops (Flux decrypts with the age identity whose recipient is in ageRecipients); leave it out
        clusters.bad-kms.kms[1]: is not an AWS KMS key ARN (arn:aws:kms:<region>:<account>:key/<id> or :alias/<name>, optionally +<role ARN>, as sops --kms takes it)
        clusters.bad-kms.kms[2]: repeats clusters.bad-kms.kms[0]
        clusters.bad-kms.kms[3]: must be a string, found an integer
        clusters.plain-kms.kms: is only used with seal: sops; leave it out
        clusters.none.ageRecipients: is only used with seal: sops; leave it out
        "#);
        let root = catalog(
            map(&[("company", registry_with(&[]))]),
            map(&[("flux", map(&[("seal", s("sops")), ("ageRecipients", seq(&[R1]))]))]),
        );
        let (_, clusters) = check(&root).unwrap();
        assert_eq!(clusters["flux"].seal, SealMode::Sops);
        assert_eq!(clusters["flux"].age_recipients.len(), 1);
        assert_eq!(clusters["flux"].age_recipients[0].to_string(), R1);
        assert!(clusters["flux"].kms.is_empty());
    }

    #[test]
    fn a_sops_cluster_takes_kms_arns_as_sops_writes_them() {
        const R1: &str = "age1ql3z7hjy54pw3hyww5ayyfg7zqgvc7w3j2elw8zmrj2kg5sfn9aqmcac8p";
        let seq = |items: &[&str]| Value::Seq(items.iter().map(|i| s(i)).collect());
        let arn = "arn:aws:kms:eu-west-1:123456789012:key/k1";
        let root = catalog(
            map(&[("company", registry_with(&[]))]),
            map(&[(
                "flux",
                map(&[
                    ("seal", s("sops")),
                    ("ageRecipients", seq(&[R1])),
                    ("kms", seq(&[arn])),
                ]),
            )]),
        );
        let (_, clusters) = check(&root).unwrap();
        assert_eq!(clusters["flux"].kms[0].arn(), arn);
        let with_role = format!("{arn}+arn:aws:iam::123456789012:role/flux");
        let root = catalog(
            map(&[("company", registry_with(&[]))]),
            map(&[(
                "flux",
                map(&[
                    ("seal", s("sops")),
                    ("ageRecipients", seq(&[R1])),
                    ("kms", seq(&[arn, &with_role])),
                ]),
            )]),
        );
        let (_, clusters) = check(&root).unwrap();
        assert_eq!(
            clusters["flux"].kms[1].role(),
            "arn:aws:iam::123456789012:role/flux"
        );
    }
}
