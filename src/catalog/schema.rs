//! The catalog's schema (`pullseal.io/v1alpha1`, `RegistryCatalog`), checked field by field
//! from the decrypted tree. Every problem is collected with its field path; none of them
//! quotes a credential.

use std::collections::BTreeMap;

use secrecy::{ExposeSecret, SecretString};

use super::{Allow, Cluster, Globs, Registry, RegistryType, SealMode};
use crate::reference::{RegistryName, Server, is_dns_label};
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
                    &format!("{path}.{key}"),
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
        if self.path.is_empty() {
            key.to_owned()
        } else {
            format!("{}.{key}", self.path)
        }
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

    fn string(&self, key: &str, problems: &mut Problems, required: bool) -> Option<String> {
        self.secret(key, problems, required)
            .map(|s| s.expose_secret().to_owned())
    }
}

pub(super) fn check(root: &Value) -> Result<Checked, Vec<String>> {
    let mut problems = Problems(Vec::new());
    let Some(top) = Fields::new(
        "",
        root,
        &mut problems,
        &["apiVersion", "kind", "registries", "clusters"],
    ) else {
        return Err(problems.0);
    };
    match top.string("apiVersion", &mut problems, true) {
        Some(v) if v != API_VERSION => {
            problems.add("apiVersion", format_args!("must be {API_VERSION}, found {v:?}"));
        }
        _ => {}
    }
    match top.string("kind", &mut problems, true) {
        Some(v) if v != KIND => problems.add("kind", format_args!("must be {KIND}, found {v:?}")),
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
    let path = format!("registries.{name}");
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
                    format_args!("{t:?} is not one of {}", RegistryType::names()),
                );
            }
            parsed
        }
        None => None,
    };
    let server_text = f
        .string("server", problems, false)
        .or_else(|| kind?.default_server().map(str::to_owned));
    let server = match (server_text, kind) {
        (Some(text), _) => match text.parse::<Server>() {
            Ok(s) => Some(s),
            Err(e) => {
                problems.add(&f.field("server"), e);
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
    let email = f.string("email", problems, false);
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
    let f = Fields::new(path, value, problems, &["namespaces", "clusters"])?;
    let namespaces = f
        .get("namespaces")
        .map(|v| globs(&f.field("namespaces"), v, problems));
    let clusters = f
        .get("clusters")
        .map(|v| globs(&f.field("clusters"), v, problems));
    Some(Allow {
        namespaces: namespaces.flatten(),
        clusters: clusters.flatten(),
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
    let mut patterns = Vec::new();
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
                patterns.push(text.to_owned());
            }
            Err(e) => problems.add(
                &format!("{path}[{i}]"),
                format_args!("{text:?} is not a valid glob: {}", e.kind()),
            ),
        }
    }
    match builder.build() {
        Ok(set) => Some(Globs { patterns, set }),
        Err(e) => {
            problems.add(path, e);
            None
        }
    }
}

fn cluster(name: &str, value: &Value, problems: &mut Problems) -> Option<Cluster> {
    let path = format!("clusters.{name}");
    if !is_dns_label(name) {
        problems.add(&path, "cluster names must be DNS-1123 labels");
    }
    let f = Fields::new(&path, value, problems, &["seal", "scope", "certificate"])?;
    let seal = match f.string("seal", problems, false).as_deref() {
        None | Some("sealed-secrets") => Some(SealMode::SealedSecrets),
        Some("none") => Some(SealMode::None),
        Some(other) => {
            problems.add(
                &f.field("seal"),
                format_args!("{other:?} is not one of sealed-secrets | none"),
            );
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
                    format_args!("{s:?} is not one of strict | namespace-wide | cluster-wide"),
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
        assert!(!out.contains("hunter2"));
        insta::assert_snapshot!(out, @r#"
        apiVersion: must be pullseal.io/v1alpha1, found "v1"
        kind: must be a string, found an integer
        registries.Bad_Name: registry name "Bad_Name" is not a DNS-1123 label (lower-case letters, digits and '-', at most 63)
        registries.typo.pasword: unknown field (known: type, server, username, password, email, allow)
        registries.typo.type: "gneric" is not one of dockerhub | ecr | gcr | acr | quay | nexus | artifactory | mcr | system | generic
        registries.typo.password: is required
        registries.colon.server: server "quay.io:x" is not valid: the port is not a number
        registries.colon.username: must not contain ':' (the kubelet splits `auth` at the first ':')
        registries.noserver.server: is required for this type
        registries.globs.allow.namespaces: must be a list of globs, found a string
        clusters.no-cert.certificate: is required for seal: sealed-secrets
        clusters.bad.seal: "vault" is not one of sealed-secrets | none
        clusters.bad.scope: "global" is not one of strict | namespace-wide | cluster-wide
        clusters.garbage.certificate: no PEM CERTIFICATE block found in the sealing certificate
        "#);
    }

    #[test]
    fn missing_sections() {
        insta::assert_snapshot!(problems(&map(&[])), @r"
        apiVersion: is required
        kind: is required
        registries: is required
        clusters: is required
        ");
        insta::assert_snapshot!(problems(&s("x")), @"the catalog: must be a mapping, found a string");
    }
}
