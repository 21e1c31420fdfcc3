//! The transform: find the workloads that reference registries, add `imagePullSecrets` to
//! their pod specs, and plan one pull secret per (namespace, registry).
//!
//! Documents are split cheaply and only those that may hold a reference, a `Secret`, a
//! `SealedSecret` or a `ServiceAccount` are parsed (`may_matter`, sound against escapes and
//! tags); every other document is passed through as the bytes it came in. Every edited
//! document is parsed again and checked (`verify`) before it may be written. Problems are
//! collected over the whole stream and returned together. This module reads no files and
//! writes no output. Its one call out is the Amazon ECR token exchange of `refresh: token`
//! registries ([`crate::registry::ecr_token`]), made once per registry after every check
//! passed and before anything is sealed; the token is sealed like any other pull secret, and
//! its expiry is a warning (an already expired one, by [`Options::now`], is an error).

mod flux;
mod name;
pub(crate) use name::template_error;
pub(crate) mod rewrite;
mod secrets;
pub(crate) use secrets::{
    ESO_EXTERNAL_SECRET_API_VERSION, ESO_GENERATOR_API_VERSION, KEYS_FOR_ANNOTATION, json_string,
};
pub(crate) mod verify;
mod workload;

use std::collections::{BTreeMap, HashMap};
use std::fmt;

use name::Namer;
use workload::Walk;

use crate::catalog::{Catalog, Cluster, SealMode};
use crate::error::{quoted, shown};
use crate::manifest::tree::{self, Node};
use crate::manifest::{Document, Edit, Origin, Stream};
use crate::registry::ecr_token::{self, AwsEndpoints, TokenError};
use crate::registry::{Basic, EcrRefresh};
use crate::seal::SealError;
pub use flux::FluxKms;

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
    /// The Argo CD project being rendered for (`ARGOCD_APP_PROJECT_NAME`), matched against a
    /// registry's `allow.projects`; `None` outside Argo CD.
    pub project: Option<String>,
    /// The time certificates and ECR tokens (`refresh: token`) are checked against.
    pub now: time::OffsetDateTime,
    /// Resolve and check every reference, but seal and emit nothing (`pullseal usage`): the
    /// render's [`Rendered::uses`] is what is wanted.
    pub plan_only: bool,
    /// Where the AWS APIs are for `refresh: token`: AWS's own by default; the front-ends set
    /// it from `AWS_ENDPOINT_URL…` (the library reads no environment).
    pub aws: AwsEndpoints,
    /// What a `seal: sops` cluster's AWS KMS keys need: the AWS keys and endpoints, and the
    /// KMS entries of an earlier render to reuse (none by default).
    pub kms: FluxKms,
    /// How many threads may seal at once (each pull secret is sealed on its own, an RSA
    /// operation per value); `None`, the default, for as many as the OS lets the process run
    /// (`std::thread::available_parallelism`, which follows CPU affinity and cgroup quotas).
    /// The output does not depend on it.
    pub jobs: Option<std::num::NonZeroUsize>,
}

impl Options {
    /// Defaults for `cluster`: no default namespace, built-in kinds only, `pullseal-<registry>`
    /// names, certificates checked against the current time, the AWS endpoints the process
    /// environment names.
    pub fn new(cluster: impl Into<String>) -> Options {
        Options {
            cluster: cluster.into(),
            namespace: None,
            pod_specs: Vec::new(),
            secret_name: None,
            instance: None,
            project: None,
            now: time::OffsetDateTime::now_utc(),
            plan_only: false,
            aws: AwsEndpoints::default(),
            kms: FluxKms::default(),
            jobs: None,
        }
    }

    /// [`Options::jobs`], or the threads the OS lets the process run.
    fn threads(&self) -> std::num::NonZeroUsize {
        self.jobs.unwrap_or_else(crate::jobs::available)
    }
}

/// What a workload with no namespace is told when its secret must be sealed for one. The
/// error's hint adds how Helm gives the namespace ([`crate::Error::hint`]).
pub(crate) const NO_NAMESPACE: &str = "has no namespace; give the object one, or --namespace (or ARGOCD_APP_NAMESPACE): the sealing scope binds the secret to a namespace";

/// How a policy message that needs the object's namespace ends when there is none.
pub(crate) const NO_NAMESPACE_FOR_POLICY: &str = "but the object has no namespace";

/// How a project policy message ends when no Argo CD project is known.
pub(crate) const NO_PROJECT_FOR_POLICY: &str =
    "but no Argo CD project is known (ARGOCD_APP_PROJECT_NAME is not set)";

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

/// At most this many problems of the input are printed (on stderr, and so in the `PULLSEAL_LOG`
/// record); the others are counted in one more line. All of them are still found and all fail
/// the render: a stream of 20,000 broken documents is refused as before, but in about a
/// thousand lines rather than 20,000 that no one reads and that a CI log or Argo CD's
/// application condition cuts anyway.
pub const MAX_SHOWN_PROBLEMS: usize = 1000;

/// The message of [`RenderError::Input`]: the count, then each problem on its own line, in
/// input order, up to [`MAX_SHOWN_PROBLEMS`].
fn problems(diagnostics: &[Diagnostic]) -> String {
    use fmt::Write as _;
    let n = diagnostics.len();
    let mut out = format!("{n} problem{} in the input:", if n == 1 { "" } else { "s" });
    for d in diagnostics.iter().take(MAX_SHOWN_PROBLEMS) {
        let _ = write!(out, "\n  {d}");
    }
    if let Some(more) = n.checked_sub(MAX_SHOWN_PROBLEMS).filter(|m| *m > 0) {
        let _ = write!(
            out,
            "\n  ... and {more} more problem{} not shown (only the first {MAX_SHOWN_PROBLEMS} are, in input order)",
            if more == 1 { "" } else { "s" }
        );
    }
    out
}

/// Why a render failed.
#[derive(Debug, thiserror::Error)]
pub enum RenderError {
    /// Problems in the input, all of them (the message shows the first
    /// [`MAX_SHOWN_PROBLEMS`] and counts the rest).
    #[error("{}", problems(.0))]
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
    /// An ECR registry with `refresh: token` got no usable token.
    #[error("cannot make the Amazon ECR token of registry {registry:?} (refresh: token)")]
    EcrToken {
        /// The registry.
        registry: String,
        /// Why.
        #[source]
        source: TokenError,
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
/// written until [`Rendered::write_to`] is called, after everything succeeded. A plain
/// Secret (`seal: none`) holds a credential, so the documents are zeroized on drop and never
/// shown by `Debug`.
pub struct Rendered {
    edits: Vec<Vec<Edit>>,
    secrets: Vec<Secret>,
    /// Things the user should know that do not stop the render.
    pub warnings: Vec<String>,
    /// Every workload that references a registry, in input order.
    pub uses: Vec<Use>,
}

/// One workload's references: where it is, and the registries its pod pulls from (resolved
/// and policy-checked for the cluster, anonymous ones and kubelet-pulled ones included).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Use {
    /// File and document.
    pub origin: Origin,
    /// `Kind namespace/name`, as diagnostics show it.
    pub object: String,
    /// The namespace the pod runs in, when known.
    pub namespace: Option<String>,
    /// The registries, each once, in the order the pod names them.
    pub registries: Vec<crate::reference::RegistryName>,
}

/// One emitted pull-secret document.
struct Secret(zeroize::Zeroizing<String>);

impl AsRef<str> for Secret {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Rendered {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Rendered")
            .field("edits", &self.edits.iter().map(Vec::len).sum::<usize>())
            .field("secrets", &self.secrets.len())
            .field("warnings", &self.warnings)
            .field("uses", &self.uses.len())
            .finish()
    }
}

impl Rendered {
    /// How many pull secrets the render emits.
    pub fn secrets(&self) -> usize {
        self.secrets.len()
    }

    /// `stream` with the edits applied but without the secrets, and the secret documents
    /// apart: for the KRM function, which puts them into its `ResourceList`'s `items`.
    pub(crate) fn parts(&self, stream: &Stream) -> (String, Vec<&str>) {
        let none: [&str; 0] = [];
        let mut out = Vec::new();
        // Writing to memory cannot fail, and every piece is UTF-8.
        let _ = stream.write_to(&mut out, &self.edits, &none);
        let text = String::from_utf8(out).unwrap_or_default();
        (text, self.secrets.iter().map(AsRef::as_ref).collect())
    }

    /// Streams the output: `stream` with the edits, then the secrets.
    pub fn write_to(&self, stream: &Stream, out: &mut dyn std::io::Write) -> std::io::Result<()> {
        stream.write_to(out, &self.edits, &self.secrets)
    }
}

/// Renders `stream` for `options.cluster`.
pub fn render(stream: &Stream, catalog: &Catalog, options: &Options) -> Result<Rendered, RenderError> {
    let candidates = Candidates::parse(stream, options.threads());
    render_candidates(stream, &candidates, catalog, options)
}

/// The documents of a stream that may matter to a render, parsed, and the syntax errors of
/// those that do not parse: the same for every cluster, so `--all-clusters` parses once (and
/// checks each distinct set of edits of a document once).
struct Candidates {
    parsed: Vec<(usize, Node)>,
    diagnostics: Vec<Diagnostic>,
    /// The checks of the edits made to them so far.
    checks: workload::Checks,
}

impl Candidates {
    fn parse(stream: &Stream, threads: std::num::NonZeroUsize) -> Candidates {
        let mut diagnostics = Vec::new();
        let parsed = parse_candidates(stream, threads, &mut diagnostics);
        Candidates {
            parsed,
            diagnostics,
            checks: workload::Checks::default(),
        }
    }
}

/// [`render`] of a stream whose candidates are parsed.
fn render_candidates(
    stream: &Stream,
    candidates: &Candidates,
    catalog: &Catalog,
    options: &Options,
) -> Result<Rendered, RenderError> {
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
    let unusable = sealing_problem(cluster, options.now, &mut warnings);
    let namer = Namer::new(options)?;
    let mut walk = Walk {
        catalog,
        cluster,
        options,
        namer: &namer,
        diagnostics: candidates.diagnostics.clone(),
        planned: BTreeMap::new(),
        edits: vec![Vec::new(); stream.documents.len()],
        uses: Vec::new(),
        unchecked: Vec::new(),
    };
    let parsed = &candidates.parsed;
    let default_ns = options.namespace.as_deref();
    let accounts = service_accounts(stream, parsed, default_ns, &mut walk.diagnostics);
    let existing = existing_objects(stream, parsed, default_ns, SECRET_KINDS, &mut walk.diagnostics);
    let existing_eso = existing_objects(stream, parsed, default_ns, ESO_KINDS, &mut walk.diagnostics);
    for (i, root) in parsed {
        walk.document(stream, *i, root, &accounts);
    }
    walk.check_edits(&candidates.checks, options.threads());
    clashes(&walk.planned, &existing, &existing_eso, &mut walk.diagnostics);
    // A template that makes invalid names is wrong whatever the manifests say: exit 2.
    if let Some(usage) = namer.invalid_template() {
        return Err(usage);
    }
    unterminated_block_scalars(stream, &mut walk);
    if !walk.diagnostics.is_empty() {
        // Report in input order (syntax errors were found before the walk): sources in the
        // order given, documents in theirs. The sort is stable, so a document's own problems
        // keep the order they were found in.
        let sources: HashMap<&str, usize> = stream
            .sources
            .iter()
            .enumerate()
            .map(|(i, s)| (s.name.as_str(), i))
            .collect();
        walk.diagnostics.sort_by_key(|d| {
            (
                sources.get(d.origin.file.as_str()).copied().unwrap_or(usize::MAX),
                d.origin.document,
            )
        });
        return Err(RenderError::Input(walk.diagnostics));
    }
    if options.plan_only {
        return Ok(Rendered {
            edits: walk.edits,
            secrets: Vec::new(),
            warnings: Vec::new(),
            uses: walk.uses,
        });
    }
    if let Some(message) = unusable {
        if !walk.planned.is_empty() {
            return Err(RenderError::Cluster {
                cluster: cluster.name.clone(),
                message,
            });
        }
        warnings.push(format!(
            "cluster {:?}: {message}; nothing in this stream needed sealing",
            cluster.name
        ));
    }
    namespace_limits_the_cluster_cannot_keep(&walk.planned, cluster, &mut warnings);
    let tokens = ecr_tokens(&walk.planned, options, &mut warnings)?;
    let key = secrecy::ExposeSecret::expose_secret(catalog.derivation_key());
    let extra = emit(&walk.planned, cluster, key, options, &tokens)?;
    Ok(Rendered {
        edits: walk.edits,
        secrets: extra,
        warnings,
        uses: walk.uses,
    })
}

/// A registry's `allow.namespaces` is kept by the cluster only where a pull secret opens in
/// its own namespace alone: sealed-secrets' `strict` and `namespace-wide` scopes. A secret
/// sealed cluster-wide, SOPS-encrypted for Flux or written plain opens in whatever namespace
/// it is copied to, so the limit holds for what pullseal writes and not for a copy someone
/// makes of it: each such registry gets one warning.
fn namespace_limits_the_cluster_cannot_keep(
    planned: &BTreeMap<(Option<String>, String), secrets::Source<'_>>,
    cluster: &Cluster,
    warnings: &mut Vec<String>,
) {
    let (how, keep) = match (cluster.seal, cluster.scope) {
        (SealMode::SealedSecrets, crate::seal::Scope::ClusterWide) => (
            "seals cluster-wide, so a copy of its SealedSecret opens in any namespace",
            "give the cluster scope strict or namespace-wide to have it kept",
        ),
        (SealMode::Sops, _) => (
            "has seal: sops, so Flux decrypts a copy of its Secret in any namespace",
            "only sealed-secrets with scope strict or namespace-wide has a cluster keep it",
        ),
        (SealMode::None, _) => (
            "has seal: none, so a copy of its plain Secret works in any namespace",
            "only sealed-secrets with scope strict or namespace-wide has a cluster keep it",
        ),
        (SealMode::SealedSecrets, _) => return,
    };
    let mut warned: Vec<&str> = Vec::new();
    for registry in planned.values().map(secrets::Source::registry) {
        let name = registry.name.as_str();
        if registry.allow.namespaces.is_some() && !warned.contains(&name) {
            warned.push(name);
            warnings.push(format!(
                "registry {name:?} is limited to some namespaces (by registries.{name}.allow.namespaces in the catalog), but cluster {:?} {how}: the limit holds for what pullseal writes, not for a copy; {keep}",
                cluster.name
            ));
        }
    }
}

/// Reports each document that the output goes on after (a later source's document, or the
/// pull secrets the walk planned) and whose text, edits applied, ends without a line
/// break inside a block scalar ([`tree::ends_in_open_block_scalar`]). The writer must end that
/// line before the next `---`, and a `|` or `|+` scalar would take the line break into its
/// value (`echo last` would become `echo last` and a newline): the document would no longer
/// mean what it meant, so it is an error, never a silent change. `|-` and every other ending
/// read the same with the line break.
/// A plan-only walk (`usage`, `catalog rm --check`) writes nothing, so nothing is checked.
fn unterminated_block_scalars(stream: &Stream, walk: &mut Walk<'_>) {
    if walk.options.plan_only {
        return;
    }
    let secrets_follow = !walk.planned.is_empty();
    let docs = &stream.documents;
    for (i, doc) in docs.iter().enumerate() {
        let next = docs.get(i + 1);
        let last_of_source = next.is_none_or(|n| n.source != doc.source);
        if !last_of_source || (next.is_none() && !secrets_follow) {
            continue;
        }
        let text = verify::apply(stream.text(doc), walk.edits.get(i).map_or(&[][..], Vec::as_slice));
        if tree::ends_in_open_block_scalar(&text) {
            walk.diagnostics.push(Diagnostic {
                origin: doc.origin.clone(),
                object: None,
                field: None,
                message: "the file ends inside a block scalar without a line break: the line break pullseal must write before the next document would become part of that value; end the file with a line break (or use `|-`)".to_owned(),
            });
        }
    }
}

/// The pull credential (user `AWS`, the token) of every ECR registry with `refresh: token`
/// that the plan uses, by registry name: one exchange per registry, each token checked
/// against `options.now`, its expiry a warning.
fn ecr_tokens(
    planned: &BTreeMap<(Option<String>, String), secrets::Source<'_>>,
    options: &Options,
    warnings: &mut Vec<String>,
) -> Result<BTreeMap<String, Basic>, RenderError> {
    let mut tokens = BTreeMap::new();
    for source in planned.values() {
        let secrets::Source::Ecr { registry, ecr } = source else {
            continue;
        };
        let name = registry.name.as_str();
        if ecr.refresh() != EcrRefresh::Token || tokens.contains_key(name) {
            continue;
        }
        let failed = |source| RenderError::EcrToken {
            registry: name.to_owned(),
            source,
        };
        let token = ecr_token::fetch(ecr, &options.aws, ecr_token::DEFAULT_TIMEOUT).map_err(failed)?;
        let rfc3339 = |t: time::OffsetDateTime| {
            t.format(&time::format_description::well_known::Rfc3339)
                .unwrap_or_else(|_| t.unix_timestamp().to_string())
        };
        if token.expires_at() <= options.now {
            return Err(failed(TokenError::Expired {
                expires_at: rfc3339(token.expires_at()),
                now: rfc3339(options.now),
            }));
        }
        warnings.push(format!(
            "registry {name:?} (Amazon ECR, refresh: token): the token sealed into its pull secrets expires at {}; render and apply again before then",
            rfc3339(token.expires_at())
        ));
        tokens.insert(name.to_owned(), token.basic());
    }
    Ok(tokens)
}

/// Renders `stream` for each of `clusters` (one [`Options`] each), the clusters spread over
/// the threads `clusters[0].jobs` allows: the renders of `--all-clusters`, with the catalog
/// decrypted, its certificates read and the stream parsed once. The results are in the order given; if any
/// render fails, the first failure in that order is returned.
pub fn render_each(
    stream: &Stream,
    catalog: &Catalog,
    clusters: &[Options],
) -> Result<Vec<Rendered>, RenderError> {
    let threads = clusters
        .first()
        .map_or_else(crate::jobs::available, Options::threads);
    // The threads go to the clusters first; a cluster seals on the threads left over for it
    // (all of them when there is one cluster, its own alone when there are more clusters).
    let per_cluster = std::num::NonZeroUsize::new(threads.get() / clusters.len().max(1))
        .unwrap_or(std::num::NonZeroUsize::MIN);
    let clusters: Vec<Options> = clusters
        .iter()
        .map(|options| Options {
            jobs: Some(per_cluster),
            ..options.clone()
        })
        .collect();
    let candidates = Candidates::parse(stream, threads);
    crate::jobs::map(&clusters, threads, |options| {
        render_candidates(stream, &candidates, catalog, options)
    })
    .into_iter()
    .collect()
}

/// The documents of every planned secret, in the plan's (namespace, name) order. The secrets
/// are made on up to `options.jobs` threads; the first failure in plan order is returned.
fn emit(
    planned: &BTreeMap<(Option<String>, String), secrets::Source<'_>>,
    cluster: &Cluster,
    key: &[u8],
    options: &Options,
    tokens: &BTreeMap<String, Basic>,
) -> Result<Vec<Secret>, RenderError> {
    let items: Vec<_> = planned.iter().collect();
    let made = crate::jobs::map(&items, options.threads(), |((namespace, name), source)| {
        emit_one(namespace.as_deref(), name, source, cluster, key, options, tokens)
    });
    let mut extra = Vec::with_capacity(planned.len());
    for docs in made {
        extra.extend(docs?);
    }
    Ok(extra)
}

/// The documents of the planned secret `name` in `namespace`.
fn emit_one(
    namespace: Option<&str>,
    name: &str,
    source: &secrets::Source<'_>,
    cluster: &Cluster,
    key: &[u8],
    options: &Options,
    tokens: &BTreeMap<String, Basic>,
) -> Result<Vec<Secret>, RenderError> {
    let planned = secrets::Planned {
        namespace: namespace.map(str::to_owned),
        name: name.to_owned(),
        registry: source.registry(),
    };
    let failed = |source| RenderError::Seal {
        cluster: cluster.name.clone(),
        secret: format!("{}/{name}", namespace.unwrap_or("")),
        source,
    };
    let secret = |doc| Secret(zeroize::Zeroizing::new(doc));
    match source {
        secrets::Source::Auths(entry) => {
            let doc = secrets::document(&planned, entry, cluster, key, options.now, &options.kms)
                .map_err(failed)?;
            Ok(vec![secret(doc)])
        }
        secrets::Source::Ecr { registry, ecr } if ecr.refresh() == EcrRefresh::Token => {
            // `ecr_tokens` made one for every such registry of the plan.
            let Some(basic) = tokens.get(registry.name.as_str()) else {
                return Ok(Vec::new());
            };
            let entry = crate::registry::AuthsEntry::with(registry, basic);
            let doc = secrets::document(&planned, &entry, cluster, key, options.now, &options.kms)
                .map_err(failed)?;
            Ok(vec![secret(doc)])
        }
        secrets::Source::Ecr { ecr, .. } => {
            let docs = secrets::ecr_documents(&planned, ecr, cluster, key, options.now, &options.kms)
                .map_err(failed)?;
            Ok(docs.into_iter().map(secret).collect())
        }
    }
}

/// Why `cluster` cannot seal, if it cannot. A certificate that cannot seal is only fatal when
/// something must be sealed: an app with no pull secret keeps rendering, with a warning, while
/// the admin renews the certificate.
pub(crate) fn sealing_problem(
    cluster: &Cluster,
    now: time::OffsetDateTime,
    warnings: &mut Vec<String>,
) -> Option<String> {
    match (cluster.seal, &cluster.certificate) {
        (SealMode::SealedSecrets, Some(cert)) => cert.check_valid_at(now).err().map(|e| e.to_string()),
        (SealMode::SealedSecrets, None) => Some("has no certificate".to_owned()),
        (SealMode::Sops, _) if cluster.age_recipients.is_empty() => {
            Some("has seal: sops but no ageRecipients".to_owned())
        }
        (SealMode::Sops, _) => None,
        (SealMode::None, _) => {
            warnings.push(format!(
                "cluster {:?} has seal: none: pull secrets are written as plain Secrets that anyone with the output can read",
                cluster.name
            ));
            None
        }
    }
}

/// Whether a document's text may hold something the render acts on: a pullseal annotation,
/// a `Secret`, `SealedSecret` or `ServiceAccount`. Only these documents are parsed.
///
/// The filter must be sound: a document Kubernetes would read such a thing from is never
/// skipped. The words are looked for literally, and so is every way YAML has to write a
/// string without its literal text: escapes in double quotes (and JSON) need a `\`,
/// `!!binary` needs the standard tag, which is written `!!`, `!<...>` or with a handle that a
/// `%TAG` directive of the same document defines (`!binary` alone is a local tag, a plain
/// string to go-yaml); folding never joins two pieces without a blank. A property test holds
/// it to the full reader.
pub(crate) fn may_matter(text: &str) -> bool {
    static WORDS: std::sync::LazyLock<Option<regex::Regex>> =
        std::sync::LazyLock::new(|| regex::Regex::new(r"pullseal|Secret|ServiceAccount|\\|!!|!<|%TAG").ok());
    // Without the pattern (it always compiles), parse everything: slower, never unsound.
    WORDS.as_ref().is_none_or(|w| w.is_match(text))
}

/// Parses the documents that may need work. Others are never parsed. A document that may
/// matter and does not parse is an error: pullseal cannot tell what it would have missed.
///
/// Every parsed tree is kept until the render ends, so they share one node budget, which is
/// what bounds the render's memory. Large streams are parsed on `threads` threads against that
/// shared budget; should it run out, which document found it short would depend on the
/// threads' timing, so the stream is parsed again one document after another, in stream
/// order, and the errors are the same on every machine.
fn parse_candidates(
    stream: &Stream,
    threads: std::num::NonZeroUsize,
    diagnostics: &mut Vec<Diagnostic>,
) -> Vec<(usize, Node)> {
    let candidates: Vec<(usize, &Document)> = stream
        .documents
        .iter()
        .enumerate()
        .filter(|(_, doc)| may_matter(stream.text(doc)))
        .collect();
    let bytes: usize = candidates.iter().map(|(_, doc)| stream.text(doc).len()).sum();
    if threads.get() > 1 && bytes >= PARSE_IN_PARALLEL_FROM {
        let budget = tree::NodeBudget::new(tree::MAX_NODES);
        let results = crate::jobs::map(&candidates, threads, |(_, doc)| {
            tree::parse_within(stream.text(doc), &budget)
        });
        if budget.left() > 0 {
            let mut parsed = Vec::with_capacity(results.len());
            for ((i, doc), result) in candidates.iter().zip(results) {
                match result {
                    Ok(Some(root)) => parsed.push((*i, root)),
                    Ok(None) => {}
                    Err(errors) => syntax_errors(doc, errors, diagnostics),
                }
            }
            return parsed;
        }
    }
    let budget = tree::NodeBudget::new(tree::MAX_NODES);
    let mut parsed = Vec::new();
    for (i, doc) in candidates {
        match tree::parse_within(stream.text(doc), &budget) {
            Ok(Some(root)) => parsed.push((i, root)),
            Ok(None) => {}
            Err(errors) => {
                syntax_errors(doc, errors, diagnostics);
                if budget.left() == 0 {
                    // The budget ran out here, which the error says; every later document
                    // would only repeat it. The render fails, so none is left unread silently.
                    break;
                }
            }
        }
    }
    parsed
}

/// Below this many bytes of candidate documents a stream is parsed on the calling thread:
/// starting a thread costs about as much as parsing a few kilobytes.
const PARSE_IN_PARALLEL_FROM: usize = 64 << 10;

/// The syntax errors of document `doc` as diagnostics, lines counted from the top of its file,
/// as an editor shows them.
fn syntax_errors(doc: &Document, errors: Vec<tree::SyntaxError>, diagnostics: &mut Vec<Diagnostic>) {
    for e in errors {
        let line = doc.line + e.line.saturating_sub(1);
        diagnostics.push(Diagnostic {
            origin: doc.origin.clone(),
            object: None,
            field: None,
            message: format!("line {line} column {}: {}", e.col, e.describe(doc.line)),
        });
    }
}

type Accounts = HashMap<(Option<String>, String), Vec<String>>;

/// What identifies an object: kind, namespace (its own, else the default) and name, read as
/// the API server reads them.
struct ObjectId<'n> {
    kind: &'n str,
    namespace: Option<String>,
    name: &'n str,
}

impl<'n> ObjectId<'n> {
    fn of(object: &'n Node, default_ns: Option<&str>) -> ObjectId<'n> {
        let text = |path: &[&str]| object.path(path).and_then(Node::as_str);
        // `namespace: ~`, `null` and `""` mean none: the default applies.
        let own = text(&["metadata", "namespace"]).filter(|ns| !ns.is_empty());
        ObjectId {
            kind: text(&["kind"]).unwrap_or(""),
            namespace: own.or(default_ns).map(str::to_owned),
            name: text(&["metadata", "name"]).unwrap_or(""),
        }
    }

    /// `Kind namespace/name`, as diagnostics name objects; each part is [`shown`], so a
    /// crafted kind or name cannot put a terminal escape or a line of its own on the screen.
    fn label(&self) -> String {
        let ns = self
            .namespace
            .as_deref()
            .map(|n| format!("{}/", shown(n)))
            .unwrap_or_default();
        let kind = if self.kind.is_empty() {
            "<no kind>".to_owned()
        } else {
            shown(self.kind)
        };
        format!("{kind} {ns}{}", shown(self.name))
    }

    /// What is wrong with the object's identity, as (field, message): a namespace that is not
    /// a DNS-1123 label, or one that is not a string, or no kind. The API server would refuse
    /// such an object; pullseal must not seal for it.
    fn problems(object: &Node) -> Vec<(&'static str, String)> {
        let mut out = Vec::new();
        match object.path(&["kind"]) {
            None => out.push(("kind", "is missing: every object needs a kind".to_owned())),
            Some(k) if k.is_null() => out.push(("kind", "is missing: every object needs a kind".to_owned())),
            Some(k) if k.as_str().is_none() => out.push(("kind", not_a_string(k))),
            Some(_) => {}
        }
        if let Some(ns) = object.path(&["metadata", "namespace"]).filter(|n| !n.is_null()) {
            match ns.as_str() {
                None => out.push(("metadata.namespace", not_a_string(ns))),
                Some("") => {}
                Some(s) if !crate::reference::is_dns_label(s) => out.push((
                    "metadata.namespace",
                    format!(
                        "{} is not a valid namespace (a DNS-1123 label: lower-case letters, digits and '-', at most 63)",
                        quoted(s)
                    ),
                )),
                Some(_) => {}
            }
        }
        if let Some(name) = object
            .path(&["metadata", "name"])
            .filter(|n| n.as_str().is_none())
        {
            out.push(("metadata.name", not_a_string(name)));
        }
        out
    }
}

/// "is read by Kubernetes as an integer (0644); quote it" and the like.
pub(crate) fn not_a_string(node: &Node) -> String {
    match node.scalar() {
        Some(s) => format!(
            "is read by Kubernetes as {} ({}), not a string; quote it",
            s.type_name(),
            quoted(node.text().unwrap_or(""))
        ),
        None => "must be a string, not a mapping or list".to_owned(),
    }
}

/// Reports the identity problems of an object pullseal reads.
fn report_identity(
    object: &Node,
    id: &ObjectId<'_>,
    origin: &Origin,
    prefix: &str,
    diagnostics: &mut Vec<Diagnostic>,
) -> bool {
    let problems = ObjectId::problems(object);
    let ok = problems.is_empty();
    for (field, message) in problems {
        diagnostics.push(Diagnostic {
            origin: origin.clone(),
            object: Some(id.label()),
            field: Some(format!("{prefix}{field}")),
            message,
        });
    }
    ok
}

/// `ServiceAccounts` in the stream and the pull secrets they give pods that list none.
fn service_accounts(
    stream: &Stream,
    parsed: &[(usize, Node)],
    default_ns: Option<&str>,
    diagnostics: &mut Vec<Diagnostic>,
) -> Accounts {
    let mut accounts = HashMap::new();
    for (i, root) in parsed {
        let Some(doc) = stream.documents.get(*i) else {
            continue;
        };
        for (prefix, object) in objects(root) {
            let id = ObjectId::of(object, default_ns);
            if id.kind == "ServiceAccount"
                && report_identity(object, &id, &doc.origin, &prefix, diagnostics)
                && !id.name.is_empty()
            {
                accounts.insert(
                    (id.namespace, id.name.to_owned()),
                    rewrite::existing_names(object),
                );
            }
        }
    }
    accounts
}

/// Input objects by (namespace, name): where each is, its label and its name's field.
type Existing = HashMap<(Option<String>, String), Vec<(Origin, String, String)>>;

/// Reports the input's objects that have the name of something the render emits in their
/// namespace: a `Secret` or `SealedSecret` named like a pull secret (or an ECR registry's AWS
/// keys Secret), an `ExternalSecret` or `ECRAuthorizationToken` named like an ECR registry's.
fn clashes(
    planned: &BTreeMap<(Option<String>, String), secrets::Source<'_>>,
    existing: &Existing,
    eso_objects: &Existing,
    diagnostics: &mut Vec<Diagnostic>,
) {
    let emitted: Vec<(Option<String>, String)> = planned
        .iter()
        .flat_map(|((namespace, name), source)| {
            std::iter::once((namespace.clone(), name.clone()))
                .chain(source.companion(name).map(|c| (namespace.clone(), c)))
        })
        .collect();
    // An ECR registry refreshed by the External Secrets Operator also emits a generator and
    // an `ExternalSecret` under the pull secret's name: one of the input's would be a second
    // object of the same kind and name (which one wins depends on the tool that applies them).
    let eso: Vec<(Option<String>, String)> = planned
        .iter()
        .filter(|(_, source)| source.companion("").is_some())
        .map(|(key, _)| key.clone())
        .collect();
    let clashes = emitted
        .iter()
        .filter_map(|key| existing.get(key))
        .chain(eso.iter().filter_map(|key| eso_objects.get(key)))
        .flatten();
    for (origin, label, field) in clashes {
        diagnostics.push(Diagnostic {
            origin: origin.clone(),
            object: Some(label.clone()),
            field: Some(field.clone()),
            message: "pullseal emits a pull secret with this name here; rename one of them (--secret-name), or was this stream rendered twice?".to_owned(),
        });
    }
}

/// The kinds of the input that a pull secret's name may clash with.
const SECRET_KINDS: &[&str] = &["Secret", "SealedSecret"];
/// The kinds an ECR registry's pull secret is also made of (`refresh: external-secrets`).
const ESO_KINDS: &[&str] = &["ExternalSecret", "ECRAuthorizationToken"];

/// The input's objects of `kinds`, by (namespace, name).
fn existing_objects(
    stream: &Stream,
    parsed: &[(usize, Node)],
    default_ns: Option<&str>,
    kinds: &[&str],
    diagnostics: &mut Vec<Diagnostic>,
) -> Existing {
    let mut found = HashMap::new();
    for (i, root) in parsed {
        let Some(doc) = stream.documents.get(*i) else {
            continue;
        };
        for (prefix, object) in objects(root) {
            let id = ObjectId::of(object, default_ns);
            if kinds.contains(&id.kind)
                && report_identity(object, &id, &doc.origin, &prefix, diagnostics)
                && !id.name.is_empty()
            {
                found
                    .entry((id.namespace.clone(), id.name.to_owned()))
                    .or_insert_with(Vec::new)
                    .push((doc.origin.clone(), id.label(), format!("{prefix}metadata.name")));
            }
        }
    }
    found
}

/// The object itself, or the items of a `List` (with the field prefix that leads to each).
fn objects(root: &Node) -> Vec<(String, &Node)> {
    match list_items(root) {
        Some(items) => items
            .iter()
            .enumerate()
            .flat_map(|(i, item)| {
                objects(item)
                    .into_iter()
                    .map(move |(p, o)| (format!("items[{i}].{p}"), o))
            })
            .collect(),
        None => vec![(String::new(), root)],
    }
}

fn list_items(node: &Node) -> Option<&[Node]> {
    let kind = node.get("kind").and_then(|(k, _)| k.as_str())?;
    let items = node.get("items").map(|(i, _)| i)?;
    (kind.ends_with("List") && items.is_seq()).then(|| items.items())
}

#[cfg(test)]
mod tests {
    use base64::Engine as _;
    use proptest::prelude::*;

    use super::*;
    use crate::manifest::tree::{Kind, key_text};

    #[test]
    fn the_message_counts_the_problems_it_does_not_show() {
        let problem = |document| Diagnostic {
            origin: Origin {
                file: "in.yaml".to_owned(),
                document,
            },
            object: None,
            field: None,
            message: "broken".to_owned(),
        };
        let message = |n: usize| RenderError::Input((1..=n).map(problem).collect()).to_string();
        assert_eq!(
            message(1),
            "1 problem in the input:\n  in.yaml: document 1: broken"
        );
        assert_eq!(
            message(MAX_SHOWN_PROBLEMS).lines().count(),
            1 + MAX_SHOWN_PROBLEMS
        );
        let over = message(MAX_SHOWN_PROBLEMS + 1);
        let lines: Vec<&str> = over.lines().collect();
        assert_eq!(lines.len(), 2 + MAX_SHOWN_PROBLEMS);
        assert_eq!(lines[MAX_SHOWN_PROBLEMS], "  in.yaml: document 1000: broken");
        assert_eq!(
            lines[MAX_SHOWN_PROBLEMS + 1],
            "  ... and 1 more problem not shown (only the first 1000 are, in input order)"
        );
    }

    /// What the full reader finds that the render acts on: a pullseal annotation key, or one
    /// of the kinds it reads, anywhere in the document (a superset of what it acts on).
    fn reader_finds(text: &str) -> bool {
        fn walk(node: &Node) -> bool {
            let hit =
                |s: &str| s.contains("pullseal") || matches!(s, "Secret" | "SealedSecret" | "ServiceAccount");
            match &node.kind {
                Kind::Scalar { .. } => node.as_str().is_some_and(hit),
                Kind::Seq { items, .. } => items.iter().any(walk),
                Kind::Map { .. } => node
                    .resolved_entries()
                    .iter()
                    .any(|(k, v)| key_text(k).is_some_and(|k| hit(&k)) || walk(v)),
            }
        }
        matches!(tree::parse(text), Ok(Some(root)) if walk(&root))
    }

    /// The words the render looks for, written in one of the ways YAML has to write a string.
    fn encoded() -> impl Strategy<Value = (String, Option<&'static str>)> {
        let word = prop_oneof![
            Just("pullseal.io/registries"),
            Just("registry.pullseal.io/app"),
            Just("Secret"),
            Just("SealedSecret"),
            Just("ServiceAccount"),
        ];
        (word, 0..9u8, proptest::collection::vec(0..5u8, 24)).prop_map(|(w, how, escapes)| {
            let b64 = base64::engine::general_purpose::STANDARD.encode(w);
            let escaped: String = w
                .chars()
                .zip(escapes.iter().cycle())
                .map(|(c, e)| match e {
                    1 => format!("\\x{:02x}", u32::from(c)),
                    2 => format!("\\u{:04x}", u32::from(c)),
                    3 => format!("\\U{:08x}", u32::from(c)),
                    4 if c == '/' => "\\/".to_owned(),
                    _ => c.to_string(),
                })
                .collect();
            match how {
                0 => (w.to_owned(), None),
                1 => (format!("'{w}'"), None),
                2 => (format!("\"{escaped}\""), None),
                3 => (format!("!!binary {b64}"), None),
                4 => (format!("!!str {w}"), None),
                5 => (format!("!<tag:yaml.org,2002:binary> {b64}"), None),
                6 => (
                    format!("!t!binary {b64}"),
                    Some("%TAG !t! tag:yaml.org,2002:\n---\n"),
                ),
                7 => (
                    format!("!t!bin%61ry {b64}"),
                    Some("%TAG !t! tag:yaml.org,2002:\n---\n"),
                ),
                _ => (format!("\"{escaped}\\\n  \""), None),
            }
        })
    }

    proptest! {
        /// The pre-filter never skips a document in which the full reader finds a reference,
        /// a Secret, a SealedSecret or a ServiceAccount.
        #[test]
        fn the_pre_filter_never_skips_what_the_reader_finds(
            (word, prefix) in encoded(),
            as_key in any::<bool>(),
            flow in any::<bool>(),
            noise in "[a-z: #\\-\n]{0,20}",
        ) {
            let body = match (as_key, flow) {
                (true, true) => format!("metadata: {{annotations: {{{word}: company}}}}\n"),
                (true, false) => format!("metadata:\n  annotations:\n    ? {word}\n    : company\n"),
                (false, true) => format!("{{kind: {word}}}\n"),
                (false, false) => format!("kind: {word}\n"),
            };
            let text = format!("{}# {noise}\n{body}", prefix.unwrap_or(""));
            if reader_finds(&text) {
                prop_assert!(may_matter(&text), "skipped, yet the reader finds it:\n{text}");
            }
        }
    }

    #[test]
    fn debug_of_a_render_shows_no_document() {
        let rendered = Rendered {
            edits: vec![Vec::new()],
            secrets: vec![Secret(zeroize::Zeroizing::new("password: hunter2".to_owned()))],
            warnings: Vec::new(),
            uses: Vec::new(),
        };
        insta::assert_snapshot!(format!("{rendered:?}"), @"Rendered { edits: 0, secrets: 1, warnings: [], uses: 0 }");
    }

    #[test]
    fn the_pre_filter_lets_plain_documents_pass() {
        assert!(!may_matter("kind: ConfigMap\ndata: {a: b}\n"));
        // A hidden word is found by the reader and caught by the filter.
        let hidden = "kind: !!binary U2VjcmV0\n";
        assert!(reader_finds(hidden) && may_matter(hidden));
    }
}
