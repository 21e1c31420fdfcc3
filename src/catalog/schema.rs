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

use std::collections::BTreeMap;

use std::fmt::Write as _;

use secrecy::{ExposeSecret, SecretString};
use zeroize::Zeroizing;

use super::{Allow, Cluster, Globs, Registry, RegistryType, SealMode};
use crate::reference::{ReferenceError, RegistryName, Server, is_dns_label};
use crate::seal::{Certificate, Scope};
use crate::sops::Value;

const API_VERSION: &str = "pullseal.io/v1alpha1";
const KIND: &str = "RegistryCatalog";

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
        let Some(entries) = entries(value) else {
            problems.add(
                path,
                format_args!("must be a mapping, found {}", type_name(value)),
            );
            return None;
        };
        for (key, _) in entries {
            if !known.contains(&key.as_str()) {
                problems.add(
                    &key_path(path, key),
                    format_args!("unknown field (known: {})", known.join(", ")),
                );
            }
        }
        Some(Fields {
            path: path.to_owned(),
            entries,
        })
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

pub(super) fn check(root: &Value) -> Result<Checked, Vec<String>> {
    let mut problems = Problems(Vec::new());
    nothing_unauthenticated("", root, &mut problems);
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
    let mut clusters = BTreeMap::new();
    match top.get("clusters").map(|v| (v, entries(v))) {
        Some((_, Some(list))) => {
            for (name, value) in list {
                if let Some(c) = cluster(name, value, &mut problems) {
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
    let f = Fields::new(
        &path,
        value,
        problems,
        &["type", "server", "username", "password", "email", "allow"],
    )?;
    let kind = match f.string("type", problems, true) {
        Some(t) => {
            let parsed = RegistryType::parse(&t);
            if parsed.is_none() {
                problems.add(
                    &f.field("type"),
                    format_args!("is not one of {}", RegistryType::names()),
                );
            }
            parsed
        }
        None => None,
    };
    let server_text = f
        .string("server", problems, false)
        .or_else(|| Some(Zeroizing::new(kind?.default_server()?.to_owned())));
    let server = match (server_text, kind) {
        // `user:password@host` would put a credential where logs and messages show servers.
        (Some(text), _) if text.contains('@') => {
            problems.add(
                &f.field("server"),
                "must not contain user info (`user:password@`): put the account in username and password",
            );
            None
        }
        (Some(text), _) => match text.parse::<Server>() {
            Ok(s) => Some(s),
            Err(ReferenceError::InvalidServer { why, .. }) => {
                problems.add(&f.field("server"), format_args!("is not a valid server: {why}"));
                None
            }
            Err(_) => {
                problems.add(&f.field("server"), "is not a valid server");
                None
            }
        },
        (None, Some(_)) => {
            problems.add(&f.field("server"), "is required for this type");
            None
        }
        (None, None) => None,
    };
    let needs_password = !matches!(kind, Some(RegistryType::Ecr));
    let username = f.secret("username", problems, needs_password);
    let password = f.secret("password", problems, needs_password);
    if let Some(u) = &username {
        if u.expose_secret().contains(':') {
            problems.add(
                &f.field("username"),
                "must not contain ':' (the kubelet splits `auth` at the first ':')",
            );
        }
    }
    let email = f.string("email", problems, false).map(|e| String::clone(&e));
    let allow = f.get("allow").map_or_else(
        || Some(Allow::default()),
        |v| allow(&f.field("allow"), v, problems),
    );
    Some(Registry {
        name: parsed_name?,
        kind: kind?,
        server: server?,
        username: username.unwrap_or_else(|| SecretString::from(String::new())),
        password: password.unwrap_or_else(|| SecretString::from(String::new())),
        email,
        allow: allow?,
    })
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

fn cluster(name: &str, value: &Value, problems: &mut Problems) -> Option<Cluster> {
    let path = key_path("clusters", name);
    if !is_dns_label(name) {
        problems.add(&path, "cluster names must be DNS-1123 labels");
    }
    let f = Fields::new(&path, value, problems, &["seal", "scope", "certificate"])?;
    let seal = match f.string("seal", problems, false).as_deref().map(String::as_str) {
        None | Some("sealed-secrets") => Some(SealMode::SealedSecrets),
        Some("none") => Some(SealMode::None),
        Some(_) => {
            problems.add(&f.field("seal"), "is not one of sealed-secrets | none");
            None
        }
    };
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
    })
}

#[cfg(test)]
mod tests {
    use super::*;

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
        registries.typo.pasword: unknown field (known: type, server, username, password, email, allow)
        registries.typo.type: is not one of dockerhub | ecr | gcr | acr | quay | nexus | artifactory | mcr | system | generic
        registries.typo.password: is required
        registries.colon.server: is not a valid server: the port is not a number
        registries.colon.username: must not contain ':' (the kubelet splits `auth` at the first ':')
        registries.noserver.server: is required for this type
        registries.globs.allow.namespaces: must be a list of globs, found a string
        clusters.no-cert.certificate: is required for seal: sealed-secrets
        clusters.bad.seal: is not one of sealed-secrets | none
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
}
