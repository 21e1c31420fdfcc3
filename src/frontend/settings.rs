//! The settings object: every render option in one KRM object, for the hosts that hand pullseal
//! a configuration file instead of a command line (kustomize's legacy exec plugin today, a KRM
//! function's `functionConfig` next).
//!
//! Two forms are read:
//! - `apiVersion: pullseal.io/v1alpha1`, `kind: Render`, with the options as top-level fields
//!   (`catalog`, `ageKeyFile`, `cluster`, `namespace`, `podSpecs` (a list of `KIND=PATH`),
//!   `secretName`, `instance`), beside `metadata` and kustomize's own `argsOneLiner` and
//!   `argsFromFile`, which kustomize acts on before pullseal runs;
//! - a plain `v1` `ConfigMap` with the same keys under `data` (what `kpt fn eval --exec pullseal
//!   -- catalog=... cluster=...` passes); every `data` value is a string there, so `podSpecs`
//!   is a comma-separated list.
//!
//! Relative paths resolve against the base directory the caller gives (the kustomization
//! directory), never the process's working directory: kustomize runs plugins from whichever
//! kustomization loaded them. An unknown field, a value that YAML 1.1 does not read as a string
//! (`instance: 0644`), another kind or apiVersion: each is an error naming the field or value.
//!
//! What this module must *not* do: read any file, or touch the environment. The caller reads
//! the object and decides what the environment adds (the object wins over it).

use std::fmt;
use std::path::{Path, PathBuf};

use crate::error::shown;
use crate::manifest::tree::{self, Node, key_text};
use crate::reference::is_dns_label;
use crate::render::{PodSpecPath, not_a_string, template_error};

/// The `apiVersion` of the `Render` settings object.
pub(crate) const API_VERSION: &str = "pullseal.io/v1alpha1";
/// The `kind` of the settings object.
pub(crate) const KIND: &str = "Render";

/// Every option a settings object can set; `None` (or empty) leaves it to the environment.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Settings {
    /// The catalog, resolved against the base directory.
    pub catalog: Option<PathBuf>,
    /// An age identity file, resolved against the base directory.
    pub age_key_file: Option<PathBuf>,
    /// The cluster to render for.
    pub cluster: Option<String>,
    /// The namespace for objects that name none (a DNS-1123 label).
    pub namespace: Option<String>,
    /// Extra workload kinds.
    pub pod_specs: Vec<PodSpecPath>,
    /// The template for secret names.
    pub secret_name: Option<String>,
    /// The value of `{{instance}}`.
    pub instance: Option<String>,
}

/// The option fields, as both forms spell them.
const FIELDS: [&str; 7] = [
    "catalog",
    "ageKeyFile",
    "cluster",
    "namespace",
    "podSpecs",
    "secretName",
    "instance",
];

/// A settings object that cannot be used. Every message names the file, and the field or value.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum SettingsError {
    /// The text is not YAML, or means different things to different readers.
    #[error("{file}: line {line} column {col}: {message}")]
    Syntax {
        /// Where the object came from.
        file: String,
        /// 1-based line of the problem.
        line: usize,
        /// 1-based column.
        col: usize,
        /// What is wrong.
        message: String,
    },
    /// The document is empty or not a mapping.
    #[error("{file}: is not a settings object (a mapping with apiVersion and kind)")]
    NotAnObject {
        /// Where the object came from.
        file: String,
    },
    /// Another kind of object.
    #[error(
        "{file}: apiVersion {api_version} kind {kind} is not a settings object; write apiVersion {API_VERSION} kind {KIND}, or a v1 ConfigMap"
    )]
    WrongKind {
        /// Where the object came from.
        file: String,
        /// The `apiVersion` found, shown.
        api_version: String,
        /// The `kind` found, shown.
        kind: String,
    },
    /// A field pullseal does not know (a typo, or an option of a newer pullseal).
    #[error("{file}: unknown field {field}; the settings are {}", FIELDS.join(", "))]
    UnknownField {
        /// Where the object came from.
        file: String,
        /// The field, with its parent (`data.catalogue`), shown.
        field: String,
    },
    /// A field whose value is not what it must be.
    #[error("{file}: {field} {message}")]
    Value {
        /// Where the object came from.
        file: String,
        /// The field (`podSpecs[1]`, `data.cluster`).
        field: String,
        /// What is wrong with it.
        message: String,
    },
}

/// Which of the two forms an object is.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Form {
    Render,
    ConfigMap,
}

impl Settings {
    /// Reads the settings object `text` (one YAML document) that came from `file` (for
    /// messages), resolving relative paths against `base`.
    pub fn parse(text: &str, file: &str, base: &Path) -> Result<Settings, SettingsError> {
        let file = shown(file);
        let root = match tree::parse(text) {
            Ok(Some(root)) if root.is_map() => root,
            Ok(_) => return Err(SettingsError::NotAnObject { file }),
            Err(errors) => {
                let e = errors.into_iter().next().unwrap_or(tree::SyntaxError {
                    line: 1,
                    col: 1,
                    message: "cannot be read".to_owned(),
                    other: None,
                });
                return Err(SettingsError::Syntax {
                    message: e.describe(1),
                    file,
                    line: e.line,
                    col: e.col,
                });
            }
        };
        Settings::from_node(&root, &file, base)
    }

    /// Reads the settings object `root`, already parsed (a KRM function's `functionConfig`),
    /// that came from `file` (for messages, [`shown`] already), resolving relative paths
    /// against `base`.
    pub(crate) fn from_node(root: &Node, file: &str, base: &Path) -> Result<Settings, SettingsError> {
        if !root.is_map() {
            return Err(SettingsError::NotAnObject {
                file: file.to_owned(),
            });
        }
        let form = form_of(root, file)?;
        let file = file.to_owned();
        let mut parser = Parser {
            file,
            base,
            settings: Settings::default(),
        };
        let (options, prefix) = match form {
            Form::Render => (root, ""),
            Form::ConfigMap => {
                for (key, _) in root.resolved_entries() {
                    let name = parser.key(key, "")?;
                    if !matches!(name.as_str(), "apiVersion" | "kind" | "metadata" | "data") {
                        return Err(parser.unknown(&name));
                    }
                }
                match root.get("data") {
                    Some((data, _)) if data.is_map() => (data, "data."),
                    Some((data, _)) if data.is_null() => return Ok(parser.settings),
                    Some(_) => return Err(parser.value("data", "must be a mapping of strings")),
                    None => return Ok(parser.settings),
                }
            }
        };
        for (key, value) in options.resolved_entries() {
            let name = parser.key(key, prefix)?;
            let field = format!("{prefix}{name}");
            match (form, name.as_str()) {
                (Form::Render, "apiVersion" | "kind" | "metadata" | "argsOneLiner" | "argsFromFile") => {}
                (_, "podSpecs") => parser.pod_specs(value, &field, form)?,
                (_, name) if FIELDS.contains(&name) => parser.option(name, value, &field)?,
                _ => return Err(parser.unknown(&field)),
            }
        }
        Ok(parser.settings)
    }
}

/// The form of `root`, or why it is neither.
fn form_of(root: &Node, file: &str) -> Result<Form, SettingsError> {
    let text = |key: &str| root.get(key).and_then(|(n, _)| n.as_str());
    match (text("apiVersion"), text("kind")) {
        (Some(API_VERSION), Some(KIND)) => Ok(Form::Render),
        (Some("v1"), Some("ConfigMap")) => Ok(Form::ConfigMap),
        (api_version, kind) => Err(SettingsError::WrongKind {
            file: file.to_owned(),
            api_version: api_version.map_or_else(|| "<none>".to_owned(), shown),
            kind: kind.map_or_else(|| "<none>".to_owned(), shown),
        }),
    }
}

struct Parser<'b> {
    file: String,
    base: &'b Path,
    settings: Settings,
}

impl Parser<'_> {
    fn key(&self, key: &Node, prefix: &str) -> Result<String, SettingsError> {
        key_text(key)
            .ok_or_else(|| self.value(prefix.trim_end_matches('.'), "has a key that is not a string"))
    }

    fn unknown(&self, field: &str) -> SettingsError {
        SettingsError::UnknownField {
            file: self.file.clone(),
            field: shown(field),
        }
    }

    fn value(&self, field: &str, message: impl fmt::Display) -> SettingsError {
        SettingsError::Value {
            file: self.file.clone(),
            field: field.to_owned(),
            message: message.to_string(),
        }
    }

    /// The non-empty string `node` holds.
    fn string(&self, node: &Node, field: &str) -> Result<String, SettingsError> {
        match node.as_str() {
            Some("") => Err(self.value(field, "is empty; leave it out to use the default")),
            Some(s) => Ok(s.to_owned()),
            None if node.is_null() => Err(self.value(field, "is empty; leave it out to use the default")),
            None => Err(self.value(field, not_a_string(node))),
        }
    }

    fn option(&mut self, name: &str, node: &Node, field: &str) -> Result<(), SettingsError> {
        let value = self.string(node, field)?;
        let path = || Some(self.base.join(&value));
        match name {
            "catalog" => self.settings.catalog = path(),
            "ageKeyFile" => self.settings.age_key_file = path(),
            "cluster" => self.settings.cluster = Some(value),
            "namespace" if is_dns_label(&value) => self.settings.namespace = Some(value),
            "namespace" => {
                return Err(self.value(
                    field,
                    format!(
                        "{} is not a valid namespace: a namespace is a DNS-1123 label (at most 63 lowercase letters, digits and '-', starting and ending with a letter or digit)",
                        shown(&value)
                    ),
                ));
            }
            "secretName" => {
                if let Some(why) = template_error(&value) {
                    return Err(self.value(field, format!("is not a template: {why}")));
                }
                self.settings.secret_name = Some(value);
            }
            _ => self.settings.instance = Some(value),
        }
        Ok(())
    }

    /// `podSpecs`: a list of strings in a `Render`, a comma-separated string in a `ConfigMap`.
    fn pod_specs(&mut self, node: &Node, field: &str, form: Form) -> Result<(), SettingsError> {
        let items: Vec<(String, String)> = match form {
            Form::Render if node.is_seq() => node
                .items()
                .iter()
                .enumerate()
                .map(|(i, item)| {
                    let at = format!("{field}[{i}]");
                    self.string(item, &at).map(|s| (at, s))
                })
                .collect::<Result<_, _>>()?,
            Form::Render => {
                return Err(self.value(field, "must be a list of KIND=PATH strings"));
            }
            Form::ConfigMap => self
                .string(node, field)?
                .split(',')
                .map(str::trim)
                .enumerate()
                .map(|(i, s)| (format!("{field}[{i}]"), s.to_owned()))
                .collect(),
        };
        for (at, text) in items {
            let spec = text.parse::<PodSpecPath>().map_err(|e| self.value(&at, e))?;
            self.settings.pod_specs.push(spec);
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<Settings, SettingsError> {
        Settings::parse(text, "pullseal.yaml", Path::new("/kust/overlay"))
    }

    fn error(text: &str) -> String {
        parse(text).unwrap_err().to_string()
    }

    const HEAD: &str = "apiVersion: pullseal.io/v1alpha1\nkind: Render\nmetadata: {name: pullseal}\n";

    #[test]
    fn every_field_is_read_and_paths_resolve_against_the_base() {
        let text = format!(
            "{HEAD}argsOneLiner: --x\ncatalog: ../catalog.yaml\nageKeyFile: /keys/age.txt\ncluster: prod-eu\nnamespace: shop\npodSpecs: [Rollout=spec.template.spec, 'Job2=spec.a.b']\nsecretName: 'pull-{{{{registry}}}}'\ninstance: blue\n"
        );
        let settings = parse(&text).unwrap();
        assert_eq!(
            settings,
            Settings {
                catalog: Some(PathBuf::from("/kust/overlay/../catalog.yaml")),
                age_key_file: Some(PathBuf::from("/keys/age.txt")),
                cluster: Some("prod-eu".to_owned()),
                namespace: Some("shop".to_owned()),
                pod_specs: vec![
                    "Rollout=spec.template.spec".parse().unwrap(),
                    "Job2=spec.a.b".parse().unwrap()
                ],
                secret_name: Some("pull-{{registry}}".to_owned()),
                instance: Some("blue".to_owned()),
            }
        );
        assert_eq!(parse(HEAD).unwrap(), Settings::default());
    }

    /// What `kpt fn eval --exec pullseal -- catalog=... cluster=...` passes.
    #[test]
    fn a_config_map_with_the_same_keys_is_read() {
        let text = "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: function-input, annotations: {config.kubernetes.io/local-config: 'true'}}\ndata:\n  catalog: c.yaml\n  cluster: test\n  podSpecs: 'Rollout=spec.template.spec, X=a.b'\n";
        let settings = parse(text).unwrap();
        assert_eq!(settings.catalog, Some(PathBuf::from("/kust/overlay/c.yaml")));
        assert_eq!(settings.cluster.as_deref(), Some("test"));
        assert_eq!(settings.pod_specs.len(), 2);
        assert_eq!(
            parse("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: x}\n").unwrap(),
            Settings::default()
        );
    }

    #[test]
    fn every_problem_names_the_field_or_value() {
        let cases = [
            format!("{HEAD}catalogue: x.yaml\n"),
            format!("{HEAD}spec: {{cluster: a}}\n"),
            "apiVersion: v1\nkind: ConfigMap\ndata: {clusters: a}\n".to_owned(),
            "apiVersion: v1\nkind: ConfigMap\nbinaryData: {}\n".to_owned(),
            "apiVersion: v1\nkind: ConfigMap\ndata: [a]\n".to_owned(),
            "apiVersion: pullseal.io/v1\nkind: Render\n".to_owned(),
            "apiVersion: v1\nkind: Secret\n".to_owned(),
            "kind: Render\n".to_owned(),
            "- a\n".to_owned(),
            String::new(),
            format!("{HEAD}cluster: a\ncluster: b\n"),
            format!("{HEAD}instance: 0644\n"),
            format!("{HEAD}cluster: yes\n"),
            format!("{HEAD}cluster: [a]\n"),
            format!("{HEAD}cluster: ''\n"),
            format!("{HEAD}catalog:\n"),
            format!("{HEAD}namespace: Shop\n"),
            format!("{HEAD}podSpecs: Rollout=spec.template.spec\n"),
            format!("{HEAD}podSpecs: [Rollout=spec.template.spec, Rollout]\n"),
            format!("{HEAD}podSpecs: [1]\n"),
            "apiVersion: v1\nkind: ConfigMap\ndata: {podSpecs: 'A=b,,C=d'}\n".to_owned(),
            format!("{HEAD}\"a\\u001b[2J\": x\n"),
            format!("{HEAD}1: x\n"),
        ];
        let messages: Vec<String> = cases.iter().map(|c| error(c)).collect();
        insta::assert_snapshot!(messages.join("\n"), @r#"
        pullseal.yaml: unknown field catalogue; the settings are catalog, ageKeyFile, cluster, namespace, podSpecs, secretName, instance
        pullseal.yaml: unknown field spec; the settings are catalog, ageKeyFile, cluster, namespace, podSpecs, secretName, instance
        pullseal.yaml: unknown field data.clusters; the settings are catalog, ageKeyFile, cluster, namespace, podSpecs, secretName, instance
        pullseal.yaml: unknown field binaryData; the settings are catalog, ageKeyFile, cluster, namespace, podSpecs, secretName, instance
        pullseal.yaml: data must be a mapping of strings
        pullseal.yaml: apiVersion pullseal.io/v1 kind Render is not a settings object; write apiVersion pullseal.io/v1alpha1 kind Render, or a v1 ConfigMap
        pullseal.yaml: apiVersion v1 kind Secret is not a settings object; write apiVersion pullseal.io/v1alpha1 kind Render, or a v1 ConfigMap
        pullseal.yaml: apiVersion <none> kind Render is not a settings object; write apiVersion pullseal.io/v1alpha1 kind Render, or a v1 ConfigMap
        pullseal.yaml: is not a settings object (a mapping with apiVersion and kind)
        pullseal.yaml: is not a settings object (a mapping with apiVersion and kind)
        pullseal.yaml: line 5 column 1: duplicate key "cluster" (first on line 4)
        pullseal.yaml: instance is read by Kubernetes as an integer ("0644"), not a string; quote it
        pullseal.yaml: cluster is read by Kubernetes as a boolean ("yes"), not a string; quote it
        pullseal.yaml: cluster must be a string, not a mapping or list
        pullseal.yaml: cluster is empty; leave it out to use the default
        pullseal.yaml: catalog is empty; leave it out to use the default
        pullseal.yaml: namespace Shop is not a valid namespace: a namespace is a DNS-1123 label (at most 63 lowercase letters, digits and '-', starting and ending with a letter or digit)
        pullseal.yaml: podSpecs must be a list of KIND=PATH strings
        pullseal.yaml: podSpecs[1] "Rollout" is not KIND=PATH
        pullseal.yaml: podSpecs[0] is read by Kubernetes as an integer ("1"), not a string; quote it
        pullseal.yaml: data.podSpecs[1] "" is not KIND=PATH
        pullseal.yaml: unknown field "a\u{1b}[2J"; the settings are catalog, ageKeyFile, cluster, namespace, podSpecs, secretName, instance
        pullseal.yaml: unknown field 1; the settings are catalog, ageKeyFile, cluster, namespace, podSpecs, secretName, instance
        "#);
    }
}
