//! The walk over one parsed document: which objects are workloads, what their pullseal
//! annotations reference, which registry serves which container, and the `imagePullSecrets`
//! edit for each pod. Every problem becomes a [`Diagnostic`]; nothing returns early.
//!
//! This module must not write output or seal anything; it only plans.

use std::collections::{BTreeMap, HashMap};
use std::fmt::Write as _;
use std::sync::Mutex;

use super::name::Namer;
use super::secrets::Source;
use super::verify::{self, Expected, Step};
use super::{Accounts, Diagnostic, ObjectId, Options, list_items, not_a_string, report_identity, rewrite};
use crate::catalog::{Catalog, Cluster, Registry, SealMode};
use crate::error::{quoted, shown};
use crate::manifest::tree::{Node, key_text};
use crate::manifest::{Edit, Origin, Stream};
use crate::reference::{
    CONTAINER_ANNOTATION_PREFIX, Image, REGISTRIES_ANNOTATION, RegistryList, RegistryName,
};
use crate::registry::EcrRefresh;
use crate::seal::Scope;

/// The pod spec and pod-template metadata paths of the built-in workload kinds.
pub(super) fn builtin_pod_spec(kind: &str) -> Option<&'static [&'static str]> {
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

pub(super) struct DocContext<'a> {
    pub(super) text: &'a str,
    pub(super) origin: &'a Origin,
    pub(super) accounts: &'a Accounts,
    pub(super) edits: Vec<Edit>,
    /// What each edit must do, for the check after editing.
    pub(super) expected: Vec<Expected>,
    /// The object and field of each edit, for the message when the check fails.
    pub(super) places: Vec<(String, String)>,
}

pub(super) struct Walk<'a> {
    pub(super) catalog: &'a Catalog,
    pub(super) cluster: &'a Cluster,
    pub(super) options: &'a Options,
    pub(super) namer: &'a Namer,
    pub(super) diagnostics: Vec<Diagnostic>,
    pub(super) planned: BTreeMap<(Option<String>, String), Source<'a>>,
    pub(super) edits: Vec<Vec<Edit>>,
    pub(super) uses: Vec<super::Use>,
    /// The edited documents whose edits still need their check, in walk order: the check
    /// parses the document again, so [`Walk::check_edits`] runs them all at once, in parallel.
    pub(super) unchecked: Vec<Unchecked<'a>>,
}

/// A document's edits waiting for [`verify::verify`].
pub(super) struct Unchecked<'a> {
    index: usize,
    text: &'a str,
    origin: &'a Origin,
    root: &'a Node,
    edits: Vec<Edit>,
    expected: Vec<Expected>,
    /// The (object, field) of each edit, for the diagnostic if the check fails.
    places: Vec<(String, String)>,
}

/// Fewer edited documents than this are checked on the calling thread.
const PARALLEL_CHECKS_FROM: usize = 8;

/// The checks of edited documents made so far, by document index: the renders of
/// `--all-clusters` share one, since most clusters make the same edits to a document (the
/// check is a function of the document and its edits alone).
#[derive(Default)]
pub(super) struct Checks(Mutex<HashMap<usize, Vec<Check>>>);

/// One document's edits, what they must do, and the verdict of the check.
type Check = (Vec<Edit>, Vec<Expected>, Result<(), String>);

impl Checks {
    /// The verdict on `doc`'s edits: remembered, or checked now and remembered.
    fn verdict(&self, doc: &Unchecked<'_>) -> Result<(), String> {
        let same = |(edits, expected, _): &&Check| *edits == doc.edits && *expected == doc.expected;
        if let Ok(known) = self.0.lock()
            && let Some((_, _, verdict)) = known.get(&doc.index).and_then(|checks| checks.iter().find(same))
        {
            return verdict.clone();
        }
        let verdict = verify::verify(doc.text, doc.root, &doc.edits, &doc.expected);
        if let Ok(mut known) = self.0.lock() {
            known.entry(doc.index).or_default().push((
                doc.edits.clone(),
                doc.expected.clone(),
                verdict.clone(),
            ));
        }
        verdict
    }
}

/// One container of a pod.
struct Container<'n> {
    name: String,
    image: Option<&'n str>,
    field: String,
}

impl<'a> Walk<'a> {
    /// Walks document `i`; its edits are checked by [`Walk::check_edits`].
    pub(super) fn document(&mut self, stream: &'a Stream, i: usize, root: &'a Node, accounts: &Accounts) {
        let Some(doc) = stream.documents.get(i) else {
            return;
        };
        let text = stream.text(doc);
        let mut ctx = DocContext {
            text,
            origin: &doc.origin,
            accounts,
            edits: Vec::new(),
            expected: Vec::new(),
            places: Vec::new(),
        };
        self.object(&mut ctx, root, &[]);
        if ctx.edits.is_empty() {
            return;
        }
        self.unchecked.push(Unchecked {
            index: i,
            text,
            origin: &doc.origin,
            root,
            edits: ctx.edits,
            expected: ctx.expected,
            places: ctx.places,
        });
    }

    /// Checks the edits of every walked document by parsing the result again (on up to
    /// `threads` threads, each verdict looked up in `checks` first): a mismatch is that
    /// document's error, and nothing of it is written. The errors are added in walk order, as if each document had been checked
    /// right after its walk.
    pub(super) fn check_edits(&mut self, checks: &Checks, threads: std::num::NonZeroUsize) {
        let unchecked = std::mem::take(&mut self.unchecked);
        let threads = if unchecked.len() < PARALLEL_CHECKS_FROM {
            std::num::NonZeroUsize::MIN
        } else {
            threads
        };
        let checked = crate::jobs::map(&unchecked, threads, |doc| checks.verdict(doc));
        for (doc, result) in unchecked.into_iter().zip(checked) {
            match result {
                Ok(()) => {
                    if let Some(slot) = self.edits.get_mut(doc.index) {
                        *slot = doc.edits;
                    }
                }
                Err(message) => {
                    // An edit that lands in a node YAML shows in more than one place is the
                    // writer's to undo: say which node and why, for each edit it concerns.
                    let shared: Vec<Diagnostic> = doc
                        .expected
                        .iter()
                        .zip(&doc.places)
                        .filter_map(|(expected, (object, field))| {
                            let why = rewrite::shared_by_alias(doc.text, doc.root, &expected.path)?;
                            Some(Diagnostic {
                                origin: doc.origin.clone(),
                                object: Some(object.clone()),
                                field: Some(field.clone()),
                                message: why.to_string(),
                            })
                        })
                        .collect();
                    if !shared.is_empty() {
                        self.diagnostics.extend(shared);
                        continue;
                    }
                    self.diagnostics.push(Diagnostic {
                        origin: doc.origin.clone(),
                        // The check is over the whole document; with one edit, its place is the one.
                        object: doc.places.first().filter(|_| doc.places.len() == 1).map(|p| p.0.clone()),
                        field: doc.places.first().filter(|_| doc.places.len() == 1).map(|p| p.1.clone()),
                        message: format!(
                            "pullseal's edit of this document failed its check ({message}); nothing was written. Please report this layout"
                        ),
                    });
                }
            }
        }
    }

    fn report(&mut self, ctx: &DocContext<'_>, object: &str, field: Option<String>, message: String) {
        self.diagnostics.push(Diagnostic {
            origin: ctx.origin.clone(),
            object: Some(object.to_owned()),
            field,
            message,
        });
    }

    /// Walks one object at `path` (inside `List`s) of the document.
    pub(super) fn object(&mut self, ctx: &mut DocContext<'_>, node: &Node, path: &[Step]) {
        if let Some(items) = list_items(node) {
            for (i, item) in items.iter().enumerate() {
                let inner: Vec<Step> = path
                    .iter()
                    .cloned()
                    .chain([Step::Key("items".to_owned()), Step::Index(i)])
                    .collect();
                self.object(ctx, item, &inner);
            }
            return;
        }
        let prefix = &field_prefix(path);
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
            // Where the annotation is, on the object's metadata or deep in a template of it:
            // one pullseal cannot act on must not pass silently.
            let found = meta_ann
                .iter()
                .find(|(k, _)| is_reference_key(k))
                .map(|(key, _)| annotation_field(&format!("{prefix}metadata.annotations"), key))
                .or_else(|| nested_reference(node, prefix));
            if let Some(field) = found {
                if node.path(&["kind"]).is_none_or(|k| k.as_str().is_none()) {
                    report_identity(node, &id, ctx.origin, prefix, &mut self.diagnostics);
                    return;
                }
                let message = format!(
                    "{} is not a workload pullseal knows; give --pod-spec {}=PATH to say where its pod spec is",
                    quoted(kind),
                    shown(kind)
                );
                self.report(ctx, &label, Some(field), message);
            }
            return;
        };
        // The metadata of every object on the way to the pod spec: the object's own, the pod
        // template's, and between them any other template's (a CronJob's `jobTemplate`, the
        // Job's metadata), so no annotation there is silently ignored. `spec` holds none.
        let sources: Vec<(Annotations, String)> = (0..spec_path.len())
            .filter_map(|n| spec_path.get(..n))
            .filter(|parent| parent.last() != Some(&"spec"))
            .map(|parent| {
                let meta: Vec<&str> = parent.iter().copied().chain(["metadata"]).collect();
                let field = format!("{prefix}{}.annotations", meta.join("."));
                let entries = if parent.is_empty() {
                    meta_ann.clone()
                } else {
                    annotations(node, &meta)
                };
                (entries, field)
            })
            .collect();
        let refs = self.references(ctx, &label, &sources);
        let Some(refs) = refs else { return };
        if refs.pod_wide.is_empty() && refs.per_container.is_empty() {
            return;
        }
        if !report_identity(node, &id, ctx.origin, prefix, &mut self.diagnostics) {
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
        let spec_steps: Vec<Step> = path
            .iter()
            .cloned()
            .chain(spec_path.iter().map(|k| Step::Key((*k).to_owned())))
            .collect();
        let at = Spec {
            node: pod_spec,
            field: &spec_field,
            path: spec_steps,
        };
        self.pod(ctx, &label, prefix, id.namespace.as_deref(), &at, &refs);
    }

    /// Reads and checks the pullseal annotations of the workload and of its pod template.
    fn references(
        &mut self,
        ctx: &DocContext<'_>,
        label: &str,
        sources: &[(Annotations, String)],
    ) -> Option<Refs> {
        let mut merged: BTreeMap<String, (String, String)> = BTreeMap::new();
        let mut ok = true;
        for (entries, field) in sources {
            for (key, value) in entries {
                if !key.starts_with("pullseal.io/") && !key.starts_with(CONTAINER_ANNOTATION_PREFIX) {
                    continue;
                }
                if !is_reference_key(key) {
                    let message = format!(
                        "unknown pullseal annotation (known: {REGISTRIES_ANNOTATION}, {CONTAINER_ANNOTATION_PREFIX}<container>)"
                    );
                    self.report(ctx, label, Some(annotation_field(field, key)), message);
                    ok = false;
                    continue;
                }
                let value = match value {
                    Ok(value) => value,
                    Err(message) => {
                        self.report(ctx, label, Some(annotation_field(field, key)), message.clone());
                        ok = false;
                        continue;
                    }
                };
                match merged.get(key) {
                    Some((other, other_field)) if other != value => {
                        let message = format!(
                            "{} conflicts with {} in {}",
                            quoted(value),
                            quoted(other),
                            annotation_field(other_field, key)
                        );
                        self.report(ctx, label, Some(annotation_field(field, key)), message);
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
            let at = Some(annotation_field(&field, &key));
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
            refs.pod_wide_field = annotation_field(field, REGISTRIES_ANNOTATION);
        }
        ok.then_some(refs)
    }

    /// Matches containers to registries, checks policy, edits the pod spec, plans secrets.
    fn pod(
        &mut self,
        ctx: &mut DocContext<'_>,
        label: &str,
        prefix: &str,
        namespace: Option<&str>,
        spec: &Spec<'_>,
        refs: &Refs,
    ) {
        let containers = containers(spec.node, spec.field);
        let (used, mut failed) = self.resolve(ctx, label, &containers, refs);
        if !used.is_empty() {
            self.uses.push(super::Use {
                origin: ctx.origin.clone(),
                object: label.to_owned(),
                namespace: namespace.map(str::to_owned),
                registries: used.iter().map(|r| r.name.clone()).collect(),
            });
        }
        for r in &used {
            if let Some(m) = self.policy(r, namespace) {
                self.report(ctx, label, None, m);
                failed = true;
            }
        }
        // What needs a secret here: not a registry pulled anonymously, nor one this cluster's
        // kubelet pulls with its own credentials. The others were resolved and policy-checked
        // above all the same.
        let entries: Vec<Source<'a>> = used
            .iter()
            .filter(|r| !self.cluster.pulls_with_kubelet(&r.name))
            .filter_map(|r| Source::of(r))
            .collect();
        if entries.is_empty() {
            return;
        }
        if namespace.is_none()
            && self.cluster.seal == SealMode::SealedSecrets
            && self.cluster.scope != Scope::ClusterWide
        {
            let message = super::NO_NAMESPACE.to_owned();
            self.report(ctx, label, Some(format!("{prefix}metadata.namespace")), message);
            failed = true;
        }
        if failed {
            return;
        }
        self.plan(ctx, label, namespace, spec, entries);
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
                let names: Vec<String> = containers.iter().map(|c| shown(&c.name)).collect();
                let at = Some(container_field(field, container));
                let message = format!(
                    "no container named {} (containers: {})",
                    quoted(container),
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
            let at = Some(container_field(field, container));
            let Some(registry) = self.lookup(ctx, label, at.clone(), name) else {
                failed = true;
                continue;
            };
            match found.image.map(str::parse::<Image>) {
                Some(Ok(image)) if registry.server.matches(&image) => use_registry(used, registry),
                Some(Ok(image)) => {
                    let message = format!(
                        "registry {:?} (server {}) does not serve image {} of container {} (normalised: {})",
                        registry.name.as_str(),
                        registry.server,
                        quoted(found.image.unwrap_or("")),
                        quoted(container),
                        shown(&image.to_string())
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
        // A container that names a pod-wide registry on its own counts for that registry.
        let mut matched_pod_wide: Vec<&RegistryName> = refs.per_container.values().map(|(n, _)| n).collect();
        let mut unreadable = false;
        for c in containers
            .iter()
            .filter(|c| !refs.per_container.contains_key(&c.name))
        {
            // An image the kubelet could not pull either is an error of its own: the message
            // points at it, and no registry is said to serve "none" of images nobody can read.
            let image = match c.image.map(str::parse::<Image>) {
                Some(Ok(image)) => image,
                Some(Err(e)) => {
                    self.report(ctx, label, Some(format!("{}.image", c.field)), e.to_string());
                    failed = true;
                    unreadable = true;
                    continue;
                }
                None => continue,
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
                        "image {} of container {} matches registries {} equally; name one with {}",
                        shown(&image.to_string()),
                        quoted(&c.name),
                        names.join(" and "),
                        shown(&format!("{CONTAINER_ANNOTATION_PREFIX}{}", c.name))
                    );
                    self.report(ctx, label, Some(format!("{}.image", c.field)), message);
                    failed = true;
                }
            }
        }
        for r in &pod_wide {
            if !unreadable && !matched_pod_wide.contains(&&r.name) {
                let images: Vec<String> = containers.iter().filter_map(|c| c.image).map(shown).collect();
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
        spec: &Spec<'_>,
        entries: Vec<Source<'a>>,
    ) {
        let mut names = Vec::new();
        for entry in entries {
            let r = entry.registry();
            let name = match self.namer.name(r, namespace, &self.cluster.name) {
                Ok(n) => n,
                Err(m) => {
                    self.report(ctx, label, None, m);
                    return;
                }
            };
            if let Some(message) = self.companion_clash(namespace, &name, &entry) {
                self.report(ctx, label, None, message);
                return;
            }
            let key = (namespace.map(str::to_owned), name.clone());
            match self.planned.get(&key) {
                Some(other) if other.registry().name != r.name => {
                    let message = format!(
                        "secret name {name:?} is made for both registry {:?} and {:?}; put {{{{registry}}}} in --secret-name",
                        other.registry().name.as_str(),
                        r.name.as_str()
                    );
                    self.report(ctx, label, None, message);
                    return;
                }
                Some(_) => {}
                None => {
                    self.planned.insert(key, entry);
                }
            }
            names.push(name);
        }
        let account = service_account(spec.node);
        let inherited = ctx
            .accounts
            .get(&(namespace.map(str::to_owned), account.to_owned()))
            .cloned()
            .unwrap_or_default();
        match rewrite::add_pull_secrets(ctx.text, spec.node, &names, &inherited) {
            Ok(Some((edit, added))) => {
                ctx.edits.push(edit);
                ctx.expected.push(Expected {
                    path: spec.path.clone(),
                    added,
                });
                ctx.places
                    .push((label.to_owned(), format!("{}.imagePullSecrets", spec.field)));
            }
            Ok(None) => {}
            Err(e) => self.report(
                ctx,
                label,
                Some(format!("{}.imagePullSecrets", spec.field)),
                e.to_string(),
            ),
        }
    }

    /// Why the pull secret `name` of `entry` cannot be made next to the others planned in
    /// `namespace`: its AWS keys Secret (ECR, `refresh: external-secrets`) would have the name
    /// of another registry's pull secret, or its own name is another ECR registry's keys Secret.
    fn companion_clash(&self, namespace: Option<&str>, name: &str, entry: &Source<'a>) -> Option<String> {
        let ns = namespace.map(str::to_owned);
        let r = entry.registry();
        if let Some(keys) = entry.companion(name) {
            if !crate::reference::is_dns_subdomain(&keys) {
                return Some(format!(
                    "the AWS keys Secret {keys:?} of ECR registry {:?} is not a valid Secret name (a DNS-1123 subdomain of at most 253 characters); shorten --secret-name",
                    r.name.as_str()
                ));
            }
            if let Some(other) = self.planned.get(&(ns.clone(), keys.clone())) {
                return Some(format!(
                    "the AWS keys Secret {keys:?} of ECR registry {:?} has the name of registry {:?}'s pull secret; change --secret-name",
                    r.name.as_str(),
                    other.registry().name.as_str()
                ));
            }
        }
        let owner = self
            .planned
            .iter()
            .find(|((n, planned), other)| *n == ns && other.companion(planned).as_deref() == Some(name))?;
        Some(format!(
            "secret name {name:?} of registry {:?} is the name of ECR registry {:?}'s AWS keys Secret; change --secret-name",
            r.name.as_str(),
            owner.1.registry().name.as_str()
        ))
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
        if cfg!(not(feature = "ecr"))
            && registry.ecr().is_some_and(|e| {
                e.refresh() == EcrRefresh::Token && !self.cluster.pulls_with_kubelet(&registry.name)
            })
        {
            let message = format!(
                "registry {:?} is Amazon ECR with refresh: token, which needs the `ecr` cargo feature this pullseal was built without; use refresh: external-secrets (the default), or a build with the feature",
                name.as_str()
            );
            self.report(ctx, label, field, message);
            return None;
        }
        Some(registry)
    }

    /// Whether the catalog lets `registry` be used here. The message names the registry, the
    /// cluster or namespace and the catalog field, never the globs: the catalog is secret
    /// material, and who may use a registry where is part of it.
    fn policy(&self, registry: &Registry, namespace: Option<&str>) -> Option<String> {
        let name = registry.name.as_str();
        if let Some(globs) = &registry.allow.clusters
            && !globs.matches(&self.cluster.name)
        {
            return Some(format!(
                "registry {name:?} is not allowed on cluster {:?} (by registries.{name}.allow.clusters in the catalog)",
                self.cluster.name
            ));
        }
        if let Some(globs) = &registry.allow.namespaces {
            match namespace {
                Some(ns) if globs.matches(ns) => {}
                Some(ns) => {
                    return Some(format!(
                        "registry {name:?} is not allowed in namespace {} (by registries.{name}.allow.namespaces in the catalog)",
                        quoted(ns)
                    ));
                }
                None => {
                    return Some(format!(
                        "registry {name:?} is limited to some namespaces (by registries.{name}.allow.namespaces in the catalog), {}",
                        super::NO_NAMESPACE_FOR_POLICY
                    ));
                }
            }
        }
        // Fails closed as the namespace rule does: a registry kept to some Argo CD projects is
        // not used where no project is known (a plain `pullseal render`).
        if let Some(globs) = &registry.allow.projects {
            match self.options.project.as_deref() {
                Some(project) if globs.matches(project) => {}
                Some(project) => {
                    return Some(format!(
                        "registry {name:?} is not allowed in Argo CD project {} (by registries.{name}.allow.projects in the catalog)",
                        quoted(project)
                    ));
                }
                None => {
                    return Some(format!(
                        "registry {name:?} is limited to some Argo CD projects (by registries.{name}.allow.projects in the catalog), {}",
                        super::NO_PROJECT_FOR_POLICY
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

/// A pod spec: its node, its field path for diagnostics, and its path for the edit check.
struct Spec<'n> {
    node: &'n Node,
    field: &'n str,
    path: Vec<Step>,
}

/// The `ServiceAccount` a pod runs as, chosen as the API server chooses it:
/// `serviceAccountName`, else the deprecated `serviceAccount`, else `default` (an empty or
/// null name counts as none).
fn service_account(spec: &Node) -> &str {
    ["serviceAccountName", "serviceAccount"]
        .iter()
        .find_map(|key| {
            spec.get(key)
                .and_then(|(n, _)| n.as_str())
                .filter(|n| !n.is_empty())
        })
        .unwrap_or("default")
}

/// `items[0].` for a path inside `List`s, as fields are named in diagnostics.
fn field_prefix(path: &[Step]) -> String {
    let mut out = String::new();
    for step in path {
        match step {
            Step::Key(k) => out.push_str(k),
            Step::Index(i) => {
                let _ = write!(out, "[{i}].");
            }
        }
    }
    out
}

#[derive(Debug, Default)]
struct Refs {
    pod_wide: Vec<RegistryName>,
    pod_wide_field: String,
    per_container: BTreeMap<String, (RegistryName, String)>,
}

/// `field[key]` for an annotation: the key comes from the manifest, so it is [`shown`].
fn annotation_field(field: &str, key: &str) -> String {
    format!("{field}[{}]", shown(key))
}

/// `field[registry.pullseal.io/<container>]`.
fn container_field(field: &str, container: &str) -> String {
    annotation_field(field, &format!("{CONTAINER_ANNOTATION_PREFIX}{container}"))
}

fn is_reference_key(key: &str) -> bool {
    key == REGISTRIES_ANNOTATION
        || key
            .strip_prefix(CONTAINER_ANNOTATION_PREFIX)
            .is_some_and(|c| !c.is_empty())
}

/// The field of the first pullseal reference annotation in a `metadata` mapping nested
/// anywhere inside `node` (not its own), as `spec.template.metadata.annotations[key]`.
fn nested_reference(node: &Node, prefix: &str) -> Option<String> {
    fn walk(node: &Node, at: &str, top: bool) -> Option<String> {
        if node.is_seq() {
            return node
                .items()
                .iter()
                .enumerate()
                .find_map(|(i, item)| walk(item, &format!("{at}[{i}]"), false));
        }
        if !top {
            let found = annotations(node, &["metadata"])
                .into_iter()
                .find(|(k, _)| is_reference_key(k));
            if let Some((key, _)) = found {
                return Some(annotation_field(&format!("{at}.metadata.annotations"), &key));
            }
        }
        node.resolved_entries().into_iter().find_map(|(k, v)| {
            let key = key_text(k)?;
            let inner = if at.is_empty() { key } else { format!("{at}.{key}") };
            walk(v, &inner, false)
        })
    }
    walk(node, prefix.strip_suffix('.').unwrap_or(prefix), true)
}

/// Annotations by key; a value Kubernetes would not read as a string is the reason why.
type Annotations = Vec<(String, Result<String, String>)>;

/// The annotations under `path` (a `metadata` mapping), merge keys followed, keys as the
/// API server reads them. A value that Kubernetes would not read as a string comes back as
/// the reason (it wants strings there).
fn annotations(node: &Node, path: &[&str]) -> Annotations {
    let Some(meta) = node.path(path) else {
        return Vec::new();
    };
    let Some((ann, _)) = meta.get("annotations") else {
        return Vec::new();
    };
    ann.resolved_entries()
        .into_iter()
        .filter_map(|(k, v)| {
            let value = v.as_str().map(str::to_owned).ok_or_else(|| not_a_string(v));
            Some((key_text(k)?, value))
        })
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
