//! The transform: find the workloads that reference registries, add `imagePullSecrets` to
//! their pod specs, and plan one pull secret per (namespace, registry).
//!
//! Documents are split cheaply and only those whose text mentions `pullseal.io/` (or a
//! `ServiceAccount` with `imagePullSecrets`) are parsed; every other document is passed through
//! as the bytes it came in. Problems are collected over the whole stream and returned
//! together. This module reads no files and writes no output.

pub(crate) mod rewrite;
mod secrets;

use std::collections::{BTreeMap, HashMap};
use std::fmt;

use crate::catalog::{Catalog, Cluster, Registry, RegistryType, SealMode};
use crate::manifest::tree::{self, Node};
use crate::manifest::{Edit, Origin, Stream};
use crate::reference::{
    CONTAINER_ANNOTATION_PREFIX, Image, REGISTRIES_ANNOTATION, RegistryList, RegistryName, is_dns_subdomain,
};
use crate::seal::{Scope, SealError};

/// Where a custom kind keeps its pod spec, e.g. `Rollout=spec.template.spec`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PodSpecPath {
    /// The kind.
    pub kind: String,
    /// Mapping keys from the object's root to the pod spec.
    pub path: Vec<String>,
}

impl std::str::FromStr for PodSpecPath {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let (kind, path) = s
            .split_once('=')
            .ok_or_else(|| format!("{s:?} is not KIND=PATH"))?;
        let path: Vec<String> = path.split('.').map(str::to_owned).collect();
        if kind.is_empty() || path.iter().any(String::is_empty) {
            return Err(format!(
                "{s:?} is not KIND=PATH (for example Rollout=spec.template.spec)"
            ));
        }
        Ok(PodSpecPath {
            kind: kind.to_owned(),
            path,
        })
    }
}

/// What a render needs besides the stream and the catalog.
#[derive(Debug, Clone)]
pub struct Options {
    /// The cluster being rendered for.
    pub cluster: String,
    /// Namespace for objects that name none (`--namespace`, `ARGOCD_APP_NAMESPACE`).
    pub namespace: Option<String>,
    /// Extra workload kinds.
    pub pod_specs: Vec<PodSpecPath>,
    /// Handlebars template for secret names.
    pub secret_name: Option<String>,
    /// Value of `{{instance}}` in the template.
    pub instance: Option<String>,
    /// The time certificates are checked against.
    pub now: time::OffsetDateTime,
}

/// One problem with one place of the input.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Diagnostic {
    /// File and document.
    pub origin: Origin,
    /// `Kind namespace/name` of the object, when known.
    pub object: Option<String>,
    /// Field path inside the object.
    pub field: Option<String>,
    /// What is wrong.
    pub message: String,
}

impl fmt::Display for Diagnostic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.origin)?;
        if let Some(object) = &self.object {
            write!(f, ": {object}")?;
        }
        if let Some(field) = &self.field {
            write!(f, ": {field}")?;
        }
        write!(f, ": {}", self.message)
    }
}

/// Why a render failed.
#[derive(Debug, thiserror::Error)]
pub enum RenderError {
    /// Problems in the input, all of them.
    #[error("{} problem{} in the input:\n{}", .0.len(), if .0.len() == 1 { "" } else { "s" },
        .0.iter().map(|d| format!("  {d}")).collect::<Vec<_>>().join("\n"))]
    Input(Vec<Diagnostic>),
    /// The cluster's sealing settings cannot be used.
    #[error("cluster {cluster:?}: {message}")]
    Cluster {
        /// The cluster.
        cluster: String,
        /// What is wrong.
        message: String,
    },
    /// Sealing failed.
    #[error("cannot seal secret {secret} for cluster {cluster:?}")]
    Seal {
        /// The cluster.
        cluster: String,
        /// `namespace/name` of the secret.
        secret: String,
        /// Why.
        #[source]
        source: SealError,
    },
    /// The secret name template is invalid.
    #[error("--secret-name template {template:?}: {message}")]
    Template {
        /// The template.
        template: String,
        /// What is wrong.
        message: String,
    },
}

/// A finished render: the edits to the input and the documents to append. Nothing is
/// written until [`Rendered::write_to`] is called, after everything succeeded.
#[derive(Debug)]
pub struct Rendered {
    edits: Vec<Vec<Edit>>,
    secrets: Vec<String>,
    /// Things the user should know that do not stop the render.
    pub warnings: Vec<String>,
}

impl Rendered {
    /// How many pull secrets the render emits.
    pub fn secrets(&self) -> usize {
        self.secrets.len()
    }

    /// Streams the output: `stream` with the edits, then the secrets.
    pub fn write_to(&self, stream: &Stream, out: &mut dyn std::io::Write) -> std::io::Result<()> {
        stream.write_to(out, &self.edits, &self.secrets)
    }
}

/// The pod spec and pod-template metadata paths of the built-in workload kinds.
fn builtin_pod_spec(kind: &str) -> Option<&'static [&'static str]> {
    Some(match kind {
        "Pod" => &["spec"],
        "Deployment" | "StatefulSet" | "DaemonSet" | "ReplicaSet" | "ReplicationController" | "Job" => {
            &["spec", "template", "spec"]
        }
        "CronJob" => &["spec", "jobTemplate", "spec", "template", "spec"],
        "PodTemplate" => &["template", "spec"],
        _ => return None,
    })
}

/// Renders `stream` for `options.cluster`.
pub fn render(stream: &Stream, catalog: &Catalog, options: &Options) -> Result<Rendered, RenderError> {
    let cluster = catalog
        .cluster(&options.cluster)
        .ok_or_else(|| RenderError::Cluster {
            cluster: options.cluster.clone(),
            message: format!(
                "not in the catalog (clusters: {})",
                catalog
                    .clusters()
                    .map(|c| c.name.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        })?;
    let mut warnings = Vec::new();
    match (cluster.seal, &cluster.certificate) {
        (SealMode::SealedSecrets, Some(cert)) => cert
            .check_valid_at(options.now)
            .map_err(|e| RenderError::Cluster { cluster: cluster.name.clone(), message: e.to_string() })?,
        (SealMode::SealedSecrets, None) => {
            return Err(RenderError::Cluster { cluster: cluster.name.clone(), message: "has no certificate".to_owned() });
        }
        (SealMode::None, _) => warnings.push(format!(
            "cluster {:?} has seal: none: pull secrets are written as plain Secrets that anyone with the output can read",
            cluster.name
        )),
    }
    let namer = Namer::new(options)?;
    let mut walk = Walk {
        catalog,
        cluster,
        options,
        namer: &namer,
        diagnostics: Vec::new(),
        planned: BTreeMap::new(),
        edits: vec![Vec::new(); stream.documents.len()],
    };
    let parsed = parse_candidates(stream, &mut walk.diagnostics);
    let accounts = service_accounts(&parsed, options.namespace.as_deref());
    let existing = existing_secrets(stream, &parsed, options.namespace.as_deref());
    for (i, root) in &parsed {
        let Some(doc) = stream.documents.get(*i) else {
            continue;
        };
        let text = stream.text(doc);
        let mut ctx = DocContext {
            text,
            origin: &doc.origin,
            accounts: &accounts,
            edits: Vec::new(),
        };
        walk.object(&mut ctx, root, "");
        if let Some(slot) = walk.edits.get_mut(*i) {
            *slot = ctx.edits;
        }
    }
    for (namespace, name) in walk.planned.keys() {
        if let Some((origin, label)) = existing.get(&(namespace.clone(), name.clone())) {
            walk.diagnostics.push(Diagnostic {
                origin: origin.clone(),
                object: Some(label.clone()),
                field: Some("metadata.name".to_owned()),
                message: "pullseal emits a pull secret with this name here; rename one of them (--secret-name), or was this stream rendered twice?".to_owned(),
            });
        }
    }
    if !walk.diagnostics.is_empty() {
        // Report in input order: syntax errors were found before the walk.
        let order = |d: &Diagnostic| stream.documents.iter().position(|doc| doc.origin == d.origin);
        walk.diagnostics.sort_by_key(order);
        return Err(RenderError::Input(walk.diagnostics));
    }
    let key = secrecy::ExposeSecret::expose_secret(catalog.derivation_key());
    let mut extra = Vec::with_capacity(walk.planned.len());
    for ((namespace, name), registry) in &walk.planned {
        let planned = secrets::Planned {
            namespace: namespace.clone(),
            name: name.clone(),
            registry,
        };
        let doc = secrets::document(&planned, cluster, key).map_err(|source| RenderError::Seal {
            cluster: cluster.name.clone(),
            secret: format!("{}/{name}", namespace.as_deref().unwrap_or("")),
            source,
        })?;
        extra.push(doc);
    }
    Ok(Rendered {
        edits: walk.edits,
        secrets: extra,
        warnings,
    })
}

/// Parses the documents that may need work. Others are never parsed.
fn parse_candidates(stream: &Stream, diagnostics: &mut Vec<Diagnostic>) -> Vec<(usize, Node)> {
    let mut parsed = Vec::new();
    for (i, doc) in stream.documents.iter().enumerate() {
        let text = stream.text(doc);
        let references = text.contains("pullseal.io/");
        let account = text.contains("ServiceAccount") && text.contains("imagePullSecrets");
        // Secrets already in the input might collide with the ones pullseal emits.
        let secret = [
            "kind: Secret",
            "kind: SealedSecret",
            "\"Secret\"",
            "\"SealedSecret\"",
        ]
        .iter()
        .any(|k| text.contains(k));
        if !references && !account && !secret {
            continue;
        }
        match tree::parse(text) {
            Ok(Some(root)) => parsed.push((i, root)),
            Err(e) if references => {
                // Lines count from the top of the file, as an editor shows them.
                let before = stream
                    .sources
                    .get(doc.source)
                    .and_then(|s| s.text.get(..doc.range.start))
                    .unwrap_or("");
                let line = before.matches('\n').count() + e.line;
                diagnostics.push(Diagnostic {
                    origin: doc.origin.clone(),
                    object: None,
                    field: None,
                    message: format!("line {line} column {}: {}", e.col, e.message),
                });
            }
            Ok(None) | Err(_) => {}
        }
    }
    parsed
}

type Accounts = HashMap<(Option<String>, String), Vec<String>>;

/// What identifies an object: kind, namespace (its own, else the default) and name.
struct ObjectId<'n> {
    kind: &'n str,
    namespace: Option<String>,
    name: &'n str,
}

impl<'n> ObjectId<'n> {
    fn of(object: &'n Node, default_ns: Option<&str>) -> ObjectId<'n> {
        let text = |path: &[&str]| object.path(path).and_then(Node::as_str);
        ObjectId {
            kind: text(&["kind"]).unwrap_or(""),
            namespace: text(&["metadata", "namespace"]).or(default_ns).map(str::to_owned),
            name: text(&["metadata", "name"]).unwrap_or(""),
        }
    }

    /// `Kind namespace/name`, as diagnostics name objects.
    fn label(&self) -> String {
        let ns = self
            .namespace
            .as_deref()
            .map(|n| format!("{n}/"))
            .unwrap_or_default();
        format!("{} {ns}{}", self.kind, self.name)
    }
}

/// `ServiceAccounts` in the stream and the pull secrets they give pods that list none.
fn service_accounts(parsed: &[(usize, Node)], default_ns: Option<&str>) -> Accounts {
    let mut accounts = HashMap::new();
    for object in parsed.iter().flat_map(|(_, root)| objects(root)) {
        let id = ObjectId::of(object, default_ns);
        if id.kind == "ServiceAccount" && !id.name.is_empty() {
            accounts.insert(
                (id.namespace, id.name.to_owned()),
                rewrite::existing_names(object),
            );
        }
    }
    accounts
}

/// `Secret`s and `SealedSecret`s in the input, by (namespace, name).
fn existing_secrets(
    stream: &Stream,
    parsed: &[(usize, Node)],
    default_ns: Option<&str>,
) -> HashMap<(Option<String>, String), (Origin, String)> {
    let mut found = HashMap::new();
    for (i, root) in parsed {
        let Some(doc) = stream.documents.get(*i) else {
            continue;
        };
        for object in objects(root) {
            let id = ObjectId::of(object, default_ns);
            if matches!(id.kind, "Secret" | "SealedSecret") && !id.name.is_empty() {
                found.insert(
                    (id.namespace.clone(), id.name.to_owned()),
                    (doc.origin.clone(), id.label()),
                );
            }
        }
    }
    found
}

/// The object itself, or the items of a `List`.
fn objects(root: &Node) -> Vec<&Node> {
    match list_items(root) {
        Some(items) => items.iter().flat_map(objects).collect(),
        None => vec![root],
    }
}

fn list_items(node: &Node) -> Option<&[Node]> {
    let kind = node.get("kind").and_then(|(k, _)| k.as_str())?;
    let items = node.get("items").map(|(i, _)| i)?;
    (kind.ends_with("List") && items.is_seq()).then(|| items.items())
}

struct DocContext<'a> {
    text: &'a str,
    origin: &'a Origin,
    accounts: &'a Accounts,
    edits: Vec<Edit>,
}

struct Walk<'a> {
    catalog: &'a Catalog,
    cluster: &'a Cluster,
    options: &'a Options,
    namer: &'a Namer,
    diagnostics: Vec<Diagnostic>,
    planned: BTreeMap<(Option<String>, String), &'a Registry>,
    edits: Vec<Vec<Edit>>,
}

/// One container of a pod.
struct Container<'n> {
    name: String,
    image: Option<&'n str>,
    field: String,
}

impl<'a> Walk<'a> {
    fn report(&mut self, ctx: &DocContext<'_>, object: &str, field: Option<String>, message: String) {
        self.diagnostics.push(Diagnostic {
            origin: ctx.origin.clone(),
            object: Some(object.to_owned()),
            field,
            message,
        });
    }

    fn object(&mut self, ctx: &mut DocContext<'_>, node: &Node, prefix: &str) {
        if let Some(items) = list_items(node) {
            for (i, item) in items.iter().enumerate() {
                self.object(ctx, item, &format!("{prefix}items[{i}]."));
            }
            return;
        }
        let id = ObjectId::of(node, self.options.namespace.as_deref());
        let (kind, label) = (id.kind, id.label());
        let custom: Option<Vec<&str>> = self
            .options
            .pod_specs
            .iter()
            .find(|p| p.kind == kind)
            .map(|p| p.path.iter().map(String::as_str).collect());
        let spec_path: Option<Vec<&str>> = custom.or_else(|| builtin_pod_spec(kind).map(<[&str]>::to_vec));
        let meta_ann = annotations(node, &["metadata"]);
        let Some(spec_path) = spec_path else {
            if let Some((key, _)) = meta_ann.iter().find(|(k, _)| is_reference_key(k)) {
                let message = format!(
                    "{kind:?} is not a workload pullseal knows; give --pod-spec {kind}=PATH to say where its pod spec is"
                );
                self.report(
                    ctx,
                    &label,
                    Some(format!("{prefix}metadata.annotations[{key}]")),
                    message,
                );
            }
            return;
        };
        let template_meta: Vec<&str> = match spec_path.split_last() {
            Some((_, [])) | None => vec!["metadata"],
            Some((_, parent)) => parent.iter().copied().chain(["metadata"]).collect(),
        };
        // A Pod is its own template: read its annotations once.
        let tpl_ann = if template_meta == ["metadata"] {
            Vec::new()
        } else {
            annotations(node, &template_meta)
        };
        let tpl_field = format!("{prefix}{}.annotations", template_meta.join("."));
        let refs = self.references(ctx, &label, prefix, &meta_ann, &tpl_ann, &tpl_field);
        let Some(refs) = refs else { return };
        if refs.pod_wide.is_empty() && refs.per_container.is_empty() {
            return;
        }
        let spec_field = format!("{prefix}{}", spec_path.join("."));
        let Some(pod_spec) = node.path(&spec_path) else {
            self.report(
                ctx,
                &label,
                Some(spec_field),
                "has pullseal annotations but no pod spec here".to_owned(),
            );
            return;
        };
        self.pod(ctx, &label, id.namespace.as_deref(), pod_spec, &spec_field, &refs);
    }

    /// Reads and checks the pullseal annotations of the workload and of its pod template.
    fn references(
        &mut self,
        ctx: &DocContext<'_>,
        label: &str,
        prefix: &str,
        meta: &[(String, Option<String>)],
        template: &[(String, Option<String>)],
        tpl_field: &str,
    ) -> Option<Refs> {
        let mut merged: BTreeMap<String, (String, String)> = BTreeMap::new();
        let mut ok = true;
        let sources = [
            (meta, format!("{prefix}metadata.annotations")),
            (template, tpl_field.to_owned()),
        ];
        for (entries, field) in &sources {
            for (key, value) in *entries {
                if !key.starts_with("pullseal.io/") && !key.starts_with(CONTAINER_ANNOTATION_PREFIX) {
                    continue;
                }
                if !is_reference_key(key) {
                    let message = format!(
                        "unknown pullseal annotation (known: {REGISTRIES_ANNOTATION}, {CONTAINER_ANNOTATION_PREFIX}<container>)"
                    );
                    self.report(ctx, label, Some(format!("{field}[{key}]")), message);
                    ok = false;
                    continue;
                }
                let Some(value) = value else {
                    let message = "must be a string".to_owned();
                    self.report(ctx, label, Some(format!("{field}[{key}]")), message);
                    ok = false;
                    continue;
                };
                match merged.get(key) {
                    Some((other, other_field)) if other != value => {
                        let message = format!("{value:?} conflicts with {other:?} in {other_field}[{key}]");
                        self.report(ctx, label, Some(format!("{field}[{key}]")), message);
                        ok = false;
                    }
                    Some(_) => {}
                    None => {
                        merged.insert(key.clone(), (value.clone(), field.clone()));
                    }
                }
            }
        }
        let mut refs = Refs::default();
        for (key, (value, field)) in merged {
            let at = Some(format!("{field}[{key}]"));
            if key == REGISTRIES_ANNOTATION {
                match value.parse::<RegistryList>() {
                    Ok(list) => refs.pod_wide = list.0,
                    Err(e) => {
                        self.report(ctx, label, at, e.to_string());
                        ok = false;
                    }
                }
            } else if let Some(container) = key.strip_prefix(CONTAINER_ANNOTATION_PREFIX) {
                match value.trim().parse::<RegistryName>() {
                    Ok(name) => {
                        refs.per_container.insert(container.to_owned(), (name, field));
                    }
                    Err(e) => {
                        self.report(ctx, label, at, e.to_string());
                        ok = false;
                    }
                }
            }
        }
        if let Some(field) = sources
            .iter()
            .find(|(e, _)| e.iter().any(|(k, _)| k == REGISTRIES_ANNOTATION))
            .map(|(_, f)| f)
        {
            refs.pod_wide_field = format!("{field}[{REGISTRIES_ANNOTATION}]");
        }
        ok.then_some(refs)
    }

    /// Matches containers to registries, checks policy, edits the pod spec, plans secrets.
    fn pod(
        &mut self,
        ctx: &mut DocContext<'_>,
        label: &str,
        namespace: Option<&str>,
        spec: &Node,
        spec_field: &str,
        refs: &Refs,
    ) {
        let containers = containers(spec, spec_field);
        let (used, mut failed) = self.resolve(ctx, label, &containers, refs);
        for r in &used {
            if let Some(m) = self.policy(r, namespace) {
                self.report(ctx, label, None, m);
                failed = true;
            }
        }
        if namespace.is_none()
            && self.cluster.seal == SealMode::SealedSecrets
            && self.cluster.scope != Scope::ClusterWide
        {
            let message = "has no namespace; give the object one, or --namespace (or ARGOCD_APP_NAMESPACE): the sealing scope binds the secret to a namespace".to_owned();
            self.report(ctx, label, Some("metadata.namespace".to_owned()), message);
            failed = true;
        }
        if failed || used.is_empty() {
            return;
        }
        self.plan(ctx, label, namespace, spec, spec_field, &used);
    }

    /// The registries a pod's containers pull from, and whether any reference was wrong.
    fn resolve(
        &mut self,
        ctx: &DocContext<'_>,
        label: &str,
        containers: &[Container<'_>],
        refs: &Refs,
    ) -> (Vec<&'a Registry>, bool) {
        let mut used: Vec<&'a Registry> = Vec::new();
        let per_container = self.per_container(ctx, label, containers, refs, &mut used);
        let pod_wide = self.pod_wide(ctx, label, containers, refs, &mut used);
        (used, per_container || pod_wide)
    }

    /// `registry.pullseal.io/<container>`: the registry must serve that container's image.
    /// Returns whether any reference was wrong.
    fn per_container(
        &mut self,
        ctx: &DocContext<'_>,
        label: &str,
        containers: &[Container<'_>],
        refs: &Refs,
        used: &mut Vec<&'a Registry>,
    ) -> bool {
        let mut failed = false;
        for (container, (_, field)) in &refs.per_container {
            if !containers.iter().any(|c| &c.name == container) {
                let names: Vec<&str> = containers.iter().map(|c| c.name.as_str()).collect();
                let at = Some(format!("{field}[{CONTAINER_ANNOTATION_PREFIX}{container}]"));
                let message = format!(
                    "no container named {container:?} (containers: {})",
                    names.join(", ")
                );
                self.report(ctx, label, at, message);
                failed = true;
            }
        }
        // In container order (init containers first), so the list reads like the pod.
        for found in containers {
            let container = &found.name;
            let Some((name, field)) = refs.per_container.get(container) else {
                continue;
            };
            let at = Some(format!("{field}[{CONTAINER_ANNOTATION_PREFIX}{container}]"));
            let Some(registry) = self.lookup(ctx, label, at.clone(), name) else {
                failed = true;
                continue;
            };
            match found.image.map(str::parse::<Image>) {
                Some(Ok(image)) if registry.server.matches(&image) => use_registry(used, registry),
                Some(Ok(image)) => {
                    let message = format!(
                        "registry {:?} (server {}) does not serve image {:?} of container {container:?} (normalised: {image})",
                        registry.name.as_str(),
                        registry.server,
                        found.image.unwrap_or("")
                    );
                    self.report(ctx, label, Some(format!("{}.image", found.field)), message);
                    failed = true;
                }
                Some(Err(e)) => {
                    self.report(ctx, label, Some(format!("{}.image", found.field)), e.to_string());
                    failed = true;
                }
                None => {
                    self.report(
                        ctx,
                        label,
                        Some(format!("{}.image", found.field)),
                        "is missing".to_owned(),
                    );
                    failed = true;
                }
            }
        }
        failed
    }

    /// `pullseal.io/registries`: each container without its own annotation is matched by
    /// server, the most specific path winning; every listed registry must serve some image.
    /// Returns whether any reference was wrong.
    fn pod_wide(
        &mut self,
        ctx: &DocContext<'_>,
        label: &str,
        containers: &[Container<'_>],
        refs: &Refs,
        used: &mut Vec<&'a Registry>,
    ) -> bool {
        let mut failed = false;
        let pod_wide: Vec<&'a Registry> = refs
            .pod_wide
            .iter()
            .filter_map(|n| self.lookup(ctx, label, Some(refs.pod_wide_field.clone()), n))
            .collect();
        if pod_wide.len() != refs.pod_wide.len() {
            failed = true;
        }
        let mut matched_pod_wide: Vec<&RegistryName> = Vec::new();
        for c in containers
            .iter()
            .filter(|c| !refs.per_container.contains_key(&c.name))
        {
            let Some(image) = c.image.and_then(|i| i.parse::<Image>().ok()) else {
                continue;
            };
            let mut candidates: Vec<&'a Registry> = pod_wide
                .iter()
                .copied()
                .filter(|r| r.server.matches(&image))
                .collect();
            let best = candidates
                .iter()
                .map(|r| r.server.specificity())
                .max()
                .unwrap_or(0);
            candidates.retain(|r| r.server.specificity() == best);
            match candidates.as_slice() {
                [] => {}
                [one] => {
                    matched_pod_wide.push(&one.name);
                    use_registry(used, one);
                }
                many => {
                    let names: Vec<&str> = many.iter().map(|r| r.name.as_str()).collect();
                    let message = format!(
                        "image {image} of container {:?} matches registries {} equally; name one with {CONTAINER_ANNOTATION_PREFIX}{}",
                        c.name,
                        names.join(" and "),
                        c.name
                    );
                    self.report(ctx, label, Some(format!("{}.image", c.field)), message);
                    failed = true;
                }
            }
        }
        for r in &pod_wide {
            if !matched_pod_wide.contains(&&r.name) {
                let images: Vec<&str> = containers.iter().filter_map(|c| c.image).collect();
                let message = format!(
                    "registry {:?} (server {}) serves none of the pod's images ({})",
                    r.name.as_str(),
                    r.server,
                    images.join(", ")
                );
                self.report(ctx, label, Some(refs.pod_wide_field.clone()), message);
                failed = true;
            }
        }
        failed
    }

    /// Names the secrets, records them, and edits `imagePullSecrets`.
    fn plan(
        &mut self,
        ctx: &mut DocContext<'_>,
        label: &str,
        namespace: Option<&str>,
        spec: &Node,
        spec_field: &str,
        used: &[&'a Registry],
    ) {
        let mut names = Vec::new();
        for r in used {
            let name = match self.namer.name(r, namespace, &self.cluster.name) {
                Ok(n) => n,
                Err(m) => {
                    self.report(ctx, label, None, m);
                    return;
                }
            };
            let key = (namespace.map(str::to_owned), name.clone());
            match self.planned.get(&key) {
                Some(other) if other.name != r.name => {
                    let message = format!(
                        "secret name {name:?} is made for both registry {:?} and {:?}; put {{{{registry}}}} in --secret-name",
                        other.name.as_str(),
                        r.name.as_str()
                    );
                    self.report(ctx, label, None, message);
                    return;
                }
                _ => {
                    self.planned.insert(key, *r);
                }
            }
            names.push(name);
        }
        let account = spec
            .get("serviceAccountName")
            .and_then(|(n, _)| n.as_str())
            .unwrap_or("default");
        let inherited = ctx
            .accounts
            .get(&(namespace.map(str::to_owned), account.to_owned()))
            .cloned()
            .unwrap_or_default();
        match rewrite::add_pull_secrets(ctx.text, spec, &names, &inherited) {
            Ok(Some(edit)) => ctx.edits.push(edit),
            Ok(None) => {}
            Err(e) => self.report(
                ctx,
                label,
                Some(format!("{spec_field}.imagePullSecrets")),
                e.to_string(),
            ),
        }
    }

    fn lookup(
        &mut self,
        ctx: &DocContext<'_>,
        label: &str,
        field: Option<String>,
        name: &RegistryName,
    ) -> Option<&'a Registry> {
        let catalog = self.catalog;
        let Some(registry) = catalog.registry(name) else {
            let known: Vec<&str> = catalog.registry_names().map(RegistryName::as_str).collect();
            let message = format!(
                "registry {:?} is not in the catalog (registries: {})",
                name.as_str(),
                known.join(", ")
            );
            self.report(ctx, label, field, message);
            return None;
        };
        if registry.kind == RegistryType::Ecr {
            let message = format!(
                "registry {:?} is Amazon ECR: its 12-hour tokens must be refreshed in the cluster, which this version of pullseal does not render yet",
                name.as_str()
            );
            self.report(ctx, label, field, message);
            return None;
        }
        Some(registry)
    }

    fn policy(&self, registry: &Registry, namespace: Option<&str>) -> Option<String> {
        if let Some(globs) = &registry.allow.clusters {
            if !globs.matches(&self.cluster.name) {
                return Some(format!(
                    "registry {:?} is not allowed on cluster {:?} (allow.clusters: {})",
                    registry.name.as_str(),
                    self.cluster.name,
                    globs.patterns().join(", ")
                ));
            }
        }
        if let Some(globs) = &registry.allow.namespaces {
            match namespace {
                Some(ns) if globs.matches(ns) => {}
                Some(ns) => {
                    return Some(format!(
                        "registry {:?} is not allowed in namespace {ns:?} (allow.namespaces: {})",
                        registry.name.as_str(),
                        globs.patterns().join(", ")
                    ));
                }
                None => {
                    return Some(format!(
                        "registry {:?} is limited to namespaces {} but the object has no namespace",
                        registry.name.as_str(),
                        globs.patterns().join(", ")
                    ));
                }
            }
        }
        None
    }
}

fn use_registry<'r>(used: &mut Vec<&'r Registry>, registry: &'r Registry) {
    if !used.iter().any(|u| u.name == registry.name) {
        used.push(registry);
    }
}

#[derive(Debug, Default)]
struct Refs {
    pod_wide: Vec<RegistryName>,
    pod_wide_field: String,
    per_container: BTreeMap<String, (RegistryName, String)>,
}

fn is_reference_key(key: &str) -> bool {
    key == REGISTRIES_ANNOTATION
        || key
            .strip_prefix(CONTAINER_ANNOTATION_PREFIX)
            .is_some_and(|c| !c.is_empty())
}

/// String annotations under `path` (a `metadata` mapping).
/// A value that is not a scalar comes back as `None` (Kubernetes wants strings there).
fn annotations(node: &Node, path: &[&str]) -> Vec<(String, Option<String>)> {
    let Some(meta) = node.path(path) else {
        return Vec::new();
    };
    let Some((ann, _)) = meta.get("annotations") else {
        return Vec::new();
    };
    ann.entries()
        .iter()
        .filter_map(|(k, v)| Some((k.as_str()?.to_owned(), v.as_str().map(str::to_owned))))
        .collect()
}

fn containers<'n>(spec: &'n Node, spec_field: &str) -> Vec<Container<'n>> {
    let mut out = Vec::new();
    for list in ["initContainers", "containers", "ephemeralContainers"] {
        let Some((items, _)) = spec.get(list) else {
            continue;
        };
        for (i, c) in items.items().iter().enumerate() {
            out.push(Container {
                name: c
                    .get("name")
                    .and_then(|(n, _)| n.as_str())
                    .unwrap_or("")
                    .to_owned(),
                image: c.get("image").and_then(|(n, _)| n.as_str()),
                field: format!("{spec_field}.{list}[{i}]"),
            });
        }
    }
    out
}

/// Secret names from `--secret-name`, default `pullseal-{{registry}}`.
struct Namer {
    registry: handlebars::Handlebars<'static>,
    template: Option<String>,
    instance: Option<String>,
}

impl Namer {
    fn new(options: &Options) -> Result<Namer, RenderError> {
        let mut registry = handlebars::Handlebars::new();
        registry.set_strict_mode(true);
        registry.register_escape_fn(handlebars::no_escape);
        if let Some(template) = &options.secret_name {
            registry
                .register_template_string("name", template)
                .map_err(|e| RenderError::Template {
                    template: template.clone(),
                    message: e.to_string(),
                })?;
        }
        Ok(Namer {
            registry,
            template: options.secret_name.clone(),
            instance: options.instance.clone(),
        })
    }

    fn name(&self, registry: &Registry, namespace: Option<&str>, cluster: &str) -> Result<String, String> {
        let Some(template) = &self.template else {
            return Ok(format!("pullseal-{}", registry.name));
        };
        let mut data = BTreeMap::new();
        data.insert("registry", registry.name.as_str());
        data.insert("cluster", cluster);
        if let Some(ns) = namespace {
            data.insert("namespace", ns);
        }
        if let Some(i) = &self.instance {
            data.insert("instance", i.as_str());
        }
        let name = self
            .registry
            .render("name", &data)
            .map_err(|e| format!("--secret-name template {template:?}: {}", e.reason()))?;
        if is_dns_subdomain(&name) {
            Ok(name)
        } else {
            Err(format!(
                "--secret-name template {template:?} made {name:?}, which is not a valid Secret name"
            ))
        }
    }
}
