//! The KRM function contract, exec mode: `kpt fn eval --exec pullseal` and the standalone
//! `kustomize build --enable-alpha-plugins --enable-exec` run pullseal with no arguments and a
//! `ResourceList` on stdin, and take the `ResourceList` it writes to stdout as the new package.
//!
//! The contract (kustomize `cmd/config/docs/api-conventions/functions-spec.md`): stdin holds one
//! `config.kubernetes.io/v1` (or `v1beta1`) `ResourceList` with `items` and an optional
//! `functionConfig`; stdout gets the same list with the items changed, new items appended and
//! anything worth telling in `results`; a non-zero exit fails the pipeline. kustomize matches
//! the output back by kind, namespace and name and replaces each item wholesale, so the
//! annotations an item came with (`config.kubernetes.io/*`, `internal.config.kubernetes.io/*`,
//! `kustomize.config.k8s.io/*`) must survive: pullseal edits items in place, as text, exactly
//! as `pullseal render` edits documents, and so leaves every annotation alone.
//!
//! The settings come from `functionConfig`: a `pullseal.io/v1alpha1` `Render` object, or the
//! `v1` `ConfigMap` that `kpt fn eval --exec pullseal -- catalog=... cluster=...` makes.
//! Relative paths start from the working directory, which kustomize sets to the kustomization
//! that lists the function and kpt leaves where kpt was run.
//!
//! What this module must *not* do:
//! - write to stdout after an error. The function spec lets a failing function return a list
//!   with `results`; pullseal returns nothing, as every mode does, and its diagnostics go to
//!   stderr, which kpt and kustomize show. `results` carry the warnings of a run that worked;
//! - put kustomize's or kpt's annotations (nor `local-config`) on the secrets it adds, or add
//!   a secret whose kind, namespace and name another item already has (the render refuses
//!   that);
//! - re-serialise an item: that is how other tools turned `0644` into `420`.

use std::fmt::Write as _;
use std::io::{Read, Write};
use std::path::Path;

use super::inputs::{io, locate_catalog, read_stdin};
use super::{Env, Settings, choose_cluster, default_namespace, load_catalog, options, warn};
use crate::error::{Error, shown};
use crate::manifest::stream::{BREAKS, after_line, line_break, line_end, line_start};
use crate::manifest::tree::{self, Kind, Node};
use crate::manifest::yaml11::Scalar;
use crate::manifest::{Edit, Origin, Stream};
use crate::render::rewrite::{column, dash_before};
use crate::render::verify::{self, Value};
use crate::render::{self, Diagnostic, RenderError};

/// The `apiVersion`s of a `ResourceList` the spec defines.
const API_VERSIONS: [&str; 2] = ["config.kubernetes.io/v1", "config.kubernetes.io/v1beta1"];

/// How diagnostics name the functionConfig.
const FUNCTION_CONFIG: &str = "functionConfig";

/// What an item with no namespace is told when its secret must be sealed for one: the fix a
/// function has (the render's own message names the command line's).
const NO_NAMESPACE: &str = "has no namespace; give the object one, or namespace in the functionConfig (the Render settings, or kpt's namespace=NS): the sealing scope binds the secret to a namespace";

/// Why the function cannot run on what it was given.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum KrmError {
    /// stdin is not one `ResourceList`.
    #[error(
        "stdin is not a KRM ResourceList ({found}): with no subcommand pullseal runs as a KRM function (kpt fn eval --exec, kustomize build --enable-exec); to render a manifest stream, run `pullseal render`"
    )]
    NotAResourceList {
        /// What was there instead.
        found: String,
    },
    /// A field of the `ResourceList` has the wrong shape.
    #[error("the ResourceList's {field} {message}")]
    Field {
        /// `items`, `results`.
        field: &'static str,
        /// What is wrong.
        message: &'static str,
    },
    /// An item of `items` that is not an object: kpt and kustomize would refuse the list, and
    /// passing it through would call a list "rendered" that no host can use.
    #[error("the ResourceList's items[{index}] is not an object (a mapping with apiVersion and kind)")]
    Item {
        /// Its index in `items`.
        index: usize,
    },
    /// The output could not be written so that it provably means the input plus the secrets.
    #[error("cannot add the pull secrets to the ResourceList safely: {0}")]
    Layout(String),
}

impl KrmError {
    /// The exit code: a wrong envelope is a usage error (2); a layout pullseal cannot edit is a
    /// problem of the input (1).
    pub fn exit_code(&self) -> u8 {
        match self {
            KrmError::NotAResourceList { .. } | KrmError::Field { .. } | KrmError::Item { .. } => 2,
            KrmError::Layout(_) => 1,
        }
    }
}

/// Runs the function: the `ResourceList` on `stdin`, the rendered one on `stdout`.
pub(super) fn run_function(
    env: &dyn Env,
    stdin: &mut dyn Read,
    stdout: &mut dyn Write,
    stderr: &mut dyn Write,
) -> Result<(), Error> {
    let mut budget = super::inputs::MAX_INPUT_BYTES;
    let source = read_stdin(stdin, &mut budget)?;
    let stream = Stream::new(vec![source]);
    let list = resource_list(&stream)?;
    // What pullseal made in an earlier run (kpt writes it into the package) is made anew.
    let (stream, list, dropped) = without_own_secrets(stream, list)?;
    let cwd = env.cwd().map_err(io("read", Path::new(".")))?;
    let settings = match list.root.get(FUNCTION_CONFIG) {
        Some((config, _)) if !config.is_null() => Settings::from_node(config, FUNCTION_CONFIG, &cwd)?,
        _ => Settings::default(),
    };
    // What the settings leave out comes from the environment, as for `pullseal render`.
    let args = super::kustomize::merge(settings, &[], Path::new(FUNCTION_CONFIG), &cwd)?;
    let namespace = default_namespace(args.namespace.as_deref(), env)?;
    let catalog_path = locate_catalog(args.catalog.as_deref(), &cwd)?;
    let catalog = load_catalog(&args, env, &catalog_path)?;
    let cluster = choose_cluster(args.cluster.as_deref(), env, &catalog)?;
    let rendered = render::render(
        &stream,
        &catalog,
        &options(&args, env, namespace.as_ref(), cluster),
    )
    .map_err(|e| match e {
        RenderError::Input(diagnostics) => {
            RenderError::Input(diagnostics.into_iter().map(|d| list.locate(d)).collect())
        }
        other => other,
    })?;
    let (edited, secrets) = rendered.parts(&stream);
    let edited = zeroize::Zeroizing::new(edited);
    let mut warnings = rendered.warnings.clone();
    let remade: Vec<ObjectKey> = secrets
        .iter()
        .filter_map(|s| tree::parse(s).ok().flatten().and_then(|n| object_key(&n)))
        .collect();
    for gone in dropped.iter().filter(|d| !remade.contains(d)) {
        warnings.push(format!(
            "removed {} {}{}, which pullseal made before: no item of this list needs it any more",
            shown(&gone.kind),
            gone.namespace
                .as_deref()
                .map(|n| format!("{}/", shown(n)))
                .unwrap_or_default(),
            shown(&gone.name)
        ));
    }
    let output = zeroize::Zeroizing::new(assemble(&edited, &secrets, &warnings)?);
    warn(stderr, &warnings);
    // Everything succeeded: only now does stdout see a byte.
    let stdout_path = Path::new("<stdout>");
    stdout
        .write_all(output.as_bytes())
        .and_then(|()| stdout.flush())
        .map_err(io("write", stdout_path))
}

/// The `ResourceList` read from stdin, with where each item came from.
pub(crate) struct ResourceList {
    /// Which document of the stream it is.
    document: usize,
    pub(crate) root: Node,
    /// `(path, index)` of each item, from its `internal.config.kubernetes.io/path` and `index`
    /// annotations (or the older `config.kubernetes.io/` ones).
    files: Vec<Option<(String, usize)>>,
}

/// Reads the one `ResourceList` of `stream`; anything else is an error that says what is there.
pub(crate) fn resource_list(stream: &Stream) -> Result<ResourceList, Error> {
    let mut roots = Vec::new();
    let mut diagnostics = Vec::new();
    for (i, doc) in stream.documents.iter().enumerate() {
        match tree::parse(stream.text(doc)) {
            Ok(Some(root)) => roots.push((i, root)),
            Ok(None) => {}
            Err(errors) => diagnostics.extend(errors.into_iter().map(|e| Diagnostic {
                origin: doc.origin.clone(),
                object: None,
                field: None,
                message: format!(
                    "line {} column {}: {}",
                    doc.line + e.line.saturating_sub(1),
                    e.col,
                    e.describe(doc.line)
                ),
            })),
        }
    }
    if !diagnostics.is_empty() {
        return Err(Error::Input(RenderError::Input(diagnostics)));
    }
    let not_a_list = |found: String| Error::Function(KrmError::NotAResourceList { found });
    let (document, root) = match roots.len() {
        0 => return Err(not_a_list("it is empty".to_owned())),
        1 => roots.pop().ok_or_else(|| not_a_list("it is empty".to_owned()))?,
        n => return Err(not_a_list(format!("it holds {n} documents"))),
    };
    let text = |key: &str| root.get(key).and_then(|(n, _)| n.as_str());
    let (api_version, kind) = (text("apiVersion"), text("kind"));
    if !root.is_map()
        || kind != Some("ResourceList")
        || !api_version.is_some_and(|v| API_VERSIONS.contains(&v))
    {
        return Err(not_a_list(format!(
            "apiVersion {} kind {}",
            api_version.map_or_else(|| "<none>".to_owned(), shown),
            kind.map_or_else(|| "<none>".to_owned(), shown)
        )));
    }
    if let Some((items, _)) = root.get("items")
        && let Some(index) = items.items().iter().position(|item| !item.is_map())
    {
        return Err(Error::Function(KrmError::Item { index }));
    }
    let files = match root.get("items") {
        Some((items, _)) if items.is_seq() => items.items().iter().map(item_file).collect(),
        Some((items, _)) if items.is_null() => Vec::new(),
        None => Vec::new(),
        Some(_) => {
            return Err(Error::Function(KrmError::Field {
                field: "items",
                message: "is not a list",
            }));
        }
    };
    if let Some((results, _)) = root.get("results")
        && !results.is_seq()
        && !results.is_null()
    {
        return Err(Error::Function(KrmError::Field {
            field: "results",
            message: "is not a list",
        }));
    }
    Ok(ResourceList {
        document,
        root,
        files,
    })
}

/// Kind, namespace and name of an object.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ObjectKey {
    kind: String,
    namespace: Option<String>,
    name: String,
}

fn object_key(node: &Node) -> Option<ObjectKey> {
    let text = |path: &[&str]| node.path(path).and_then(Node::as_str).map(str::to_owned);
    Some(ObjectKey {
        kind: text(&["kind"])?,
        namespace: text(&["metadata", "namespace"]).filter(|n| !n.is_empty()),
        name: text(&["metadata", "name"])?,
    })
}

/// Whether `item` is a pull secret an earlier pullseal run made: a `SealedSecret` or a
/// `kubernetes.io/dockerconfigjson` `Secret` with pullseal's `managed-by` label and
/// `pullseal.io/registry` annotation, or one of the objects of an ECR registry refreshed by
/// the External Secrets Operator, labelled the same way: its AWS keys (an `Opaque` `Secret`
/// that also says which pull secret it is for, or a `SealedSecret`), the
/// `ECRAuthorizationToken` and the `ExternalSecret`. Anything else, however named or
/// labelled, is the user's: another kind, another API group, or an `Opaque` Secret without
/// the keys annotation.
fn made_by_pullseal(item: &Node) -> bool {
    let text = |path: &[&str]| item.path(path).and_then(Node::as_str);
    let label = item
        .path(&["metadata", "labels"])
        .and_then(|l| l.get("app.kubernetes.io/managed-by"))
        .and_then(|(v, _)| v.as_str());
    let registry = item
        .path(&["metadata", "annotations"])
        .and_then(|a| a.get("pullseal.io/registry"))
        .and_then(|(v, _)| v.as_str());
    let kind_ok = match text(&["kind"]) {
        Some("SealedSecret") => text(&["apiVersion"]) == Some("bitnami.com/v1alpha1"),
        Some("Secret") if text(&["apiVersion"]) == Some("v1") => match text(&["type"]) {
            Some(DOCKERCONFIGJSON_TYPE) => true,
            Some("Opaque") => item
                .path(&["metadata", "annotations"])
                .and_then(|a| a.get(crate::render::KEYS_FOR_ANNOTATION))
                .and_then(|(v, _)| v.as_str())
                .is_some(),
            _ => false,
        },
        Some("ECRAuthorizationToken") => {
            text(&["apiVersion"]) == Some(crate::render::ESO_GENERATOR_API_VERSION)
        }
        Some("ExternalSecret") => {
            text(&["apiVersion"]) == Some(crate::render::ESO_EXTERNAL_SECRET_API_VERSION)
        }
        _ => false,
    };
    kind_ok && label == Some("pullseal") && registry.is_some()
}

/// The `type` of a pull secret.
const DOCKERCONFIGJSON_TYPE: &str = "kubernetes.io/dockerconfigjson";

/// `stream` without the items an earlier run of pullseal made ([`made_by_pullseal`]), so that
/// a second `kpt fn eval` of a package, after a catalog change, seals the secrets anew rather
/// than failing on names it would make again. The cut is checked like every edit: the list
/// must mean what it meant, less those items. Returns what was removed.
pub(crate) fn without_own_secrets(
    stream: Stream,
    list: ResourceList,
) -> Result<(Stream, ResourceList, Vec<ObjectKey>), Error> {
    let layout = |what: &str| Error::Function(KrmError::Layout(what.to_owned()));
    let Some((items, _)) = list.root.get("items") else {
        return Ok((stream, list, Vec::new()));
    };
    let own: Vec<usize> = items
        .items()
        .iter()
        .enumerate()
        .filter(|(_, item)| made_by_pullseal(item))
        .map(|(i, _)| i)
        .collect();
    if own.is_empty() {
        return Ok((stream, list, Vec::new()));
    }
    let Kind::Seq { flow: false, items } = &items.kind else {
        return Err(layout(
            "the pull secrets of an earlier run are in a flow list, which pullseal does not cut",
        ));
    };
    let doc = stream
        .documents
        .get(list.document)
        .ok_or_else(|| layout("the list moved"))?;
    let text = stream.text(doc);
    let mut cuts = Vec::new();
    let mut dropped = Vec::new();
    for &i in &own {
        let item = items.get(i).ok_or_else(|| layout("an item moved"))?;
        let dash = dash_of(text, item.pos.start).ok_or_else(|| layout("cannot find where an item starts"))?;
        let start = line_start(text, dash);
        let end = match items.get(i + 1) {
            Some(next) => {
                let dash = dash_of(text, next.pos.start)
                    .ok_or_else(|| layout("cannot find where an item starts"))?;
                line_start(text, dash)
            }
            None => line_end(text, item.content_end(text)),
        };
        cuts.push(Edit {
            range: start..end,
            text: String::new(),
        });
        dropped.extend(object_key(item));
    }
    if own.len() == items.len() {
        // Every item goes: the list becomes `[]`, not the null a bare `items:` would be.
        let key = list
            .root
            .entries()
            .iter()
            .find(|(k, _)| tree::key_text(k).as_deref() == Some("items"))
            .map(|(k, _)| k)
            .ok_or_else(|| layout("cannot find the items key"))?;
        let colon = text
            .get(key.pos.end..)
            .and_then(|t| t.find(':'))
            .ok_or_else(|| layout("cannot find the items key"))?;
        let at = key.pos.end + colon + 1;
        cuts.push(Edit {
            range: at..at,
            text: " []".to_owned(),
        });
    }
    let cut = verify::apply(text, &cuts);
    let mut want = verify::value(&list.root);
    if let Value::Map(map) = &mut want
        && let Some(Value::Seq(values)) = map.get_mut("items")
    {
        for &i in own.iter().rev() {
            if i < values.len() {
                values.remove(i);
            }
        }
    }
    match tree::parse(&cut) {
        Ok(Some(after)) if verify::value(&after) == want => {}
        _ => {
            return Err(layout(
                "removing the pull secrets of an earlier run would change other items",
            ));
        }
    }
    let source = stream.sources.first().ok_or_else(|| layout("no input"))?;
    let whole = format!(
        "{}{cut}{}",
        source.text.get(..doc.range.start).unwrap_or(""),
        source.text.get(doc.range.end..).unwrap_or("")
    );
    let stream = Stream::new(vec![crate::manifest::Source {
        name: source.name.clone(),
        text: whole,
    }]);
    let list = resource_list(&stream)?;
    Ok((stream, list, dropped))
}

/// Where kpt or kustomize read `item` from: its path and index annotations.
fn item_file(item: &Node) -> Option<(String, usize)> {
    let annotation = |name: &str| {
        ["internal.config.kubernetes.io/", "config.kubernetes.io/"]
            .iter()
            .find_map(|prefix| {
                item.path(&["metadata", "annotations"])?
                    .get(&format!("{prefix}{name}"))?
                    .0
                    .as_str()
                    .map(str::to_owned)
            })
    };
    let path = annotation("path").filter(|p| !p.is_empty())?;
    let index = annotation("index").and_then(|i| i.parse().ok()).unwrap_or(0);
    Some((path, index))
}

impl ResourceList {
    /// `diagnostic` as the user knows the place: the item's file and document (from its
    /// annotations), its field without the `items[N].` prefix. An item with no path annotation
    /// keeps the place in the `ResourceList`.
    fn locate(&self, mut diagnostic: Diagnostic) -> Diagnostic {
        if diagnostic.message == render::NO_NAMESPACE {
            NO_NAMESPACE.clone_into(&mut diagnostic.message);
        }
        let Some(field) = diagnostic.field.as_deref() else {
            return diagnostic;
        };
        let Some((index, rest)) = field
            .strip_prefix("items[")
            .and_then(|f| f.split_once("]."))
            .and_then(|(i, rest)| Some((i.parse::<usize>().ok()?, rest.to_owned())))
        else {
            return diagnostic;
        };
        if let Some(Some((path, document))) = self.files.get(index) {
            diagnostic.origin = Origin {
                file: path.clone(),
                document: document.saturating_add(1),
            };
            diagnostic.field = Some(rest);
        }
        diagnostic
    }
}

/// The output: `edited` (the input with the items' edits) with `secrets` appended to `items` and
/// `warnings` to `results`, checked by parsing it again.
pub(crate) fn assemble(edited: &str, secrets: &[&str], warnings: &[String]) -> Result<String, KrmError> {
    if secrets.is_empty() && warnings.is_empty() {
        return Ok(edited.to_owned());
    }
    let layout = |what: &str| KrmError::Layout(what.to_owned());
    let Ok(Some(root)) = tree::parse(edited) else {
        return Err(layout("the edited ResourceList does not parse"));
    };
    let secret_trees: Vec<Node> = secrets
        .iter()
        .map(|s| match tree::parse(s) {
            Ok(Some(node)) => Ok(node),
            _ => Err(layout("a pull secret does not parse")),
        })
        .collect::<Result<_, _>>()?;
    let results: Vec<Value> = warnings.iter().map(|w| result_entry(w)).collect();
    let nl = line_break(edited);
    let mut edits = Vec::new();
    let items = root.get("items").map(|(n, _)| n);
    if !secrets.is_empty() {
        let items = items
            .filter(|i| i.is_seq() && !i.aliased)
            .ok_or_else(|| layout("items is not a list written out"))?;
        edits.push(append_items(edited, items, &secret_trees, secrets, nl)?);
    }
    if !results.is_empty() {
        edits.push(match root.get("results") {
            Some((list, true)) if list.is_seq() && !list.aliased => {
                let docs: Vec<String> = warnings.iter().map(|w| result_yaml(w)).collect();
                let trees: Vec<Node> = docs
                    .iter()
                    .filter_map(|d| tree::parse(d).ok().flatten())
                    .collect();
                let texts: Vec<&str> = docs.iter().map(String::as_str).collect();
                append_items(edited, list, &trees, &texts, nl)?
            }
            Some(_) => return Err(layout("results is not a list written out")),
            None => insert_results(edited, &root, warnings, nl)?,
        });
    }
    let output = verify::apply(edited, &edits);
    // The check: the output means the edited input, plus the secrets at the end of `items`
    // and the warnings at the end of `results`, and nothing else.
    let mut want = verify::value(&root);
    if let Value::Map(map) = &mut want {
        if !secret_trees.is_empty()
            && let Some(Value::Seq(list)) = map.get_mut("items")
        {
            list.extend(secret_trees.iter().map(verify::value));
        }
        if !results.is_empty() {
            match map.entry("results".to_owned()).or_insert(Value::Seq(Vec::new())) {
                Value::Seq(list) => list.extend(results),
                _ => return Err(layout("results is not a list")),
            }
        }
    }
    match tree::parse(&output) {
        Ok(Some(after)) if verify::value(&after) == want => Ok(output),
        _ => Err(layout(
            "the ResourceList written would not mean the input plus the pull secrets",
        )),
    }
}

/// Appends `docs` (whose trees are `trees`) to the list `list` of `text`: in block style as items
/// at the list's own indentation, in flow style (and JSON) as JSON objects after the last entry.
fn append_items(text: &str, list: &Node, trees: &[Node], docs: &[&str], nl: &str) -> Result<Edit, KrmError> {
    let Kind::Seq { flow, items } = &list.kind else {
        return Err(KrmError::Layout("not a list".to_owned()));
    };
    if *flow {
        let json = trees.iter().map(json).collect::<Result<Vec<_>, _>>()?.join(", ");
        let (at, insert) = if let Some(tail) = items.last() {
            (tail.content_end(text), format!(", {json}"))
        } else {
            let open = text
                .get(list.pos.start..)
                .and_then(|t| t.find('['))
                .ok_or_else(|| KrmError::Layout("cannot find the list's [".to_owned()))?;
            (list.pos.start + open + 1, json)
        };
        return Ok(Edit {
            range: at..at,
            text: insert,
        });
    }
    let layout = || KrmError::Layout("cannot find where the list's items start".to_owned());
    let dash = items
        .iter()
        .find_map(|item| dash_of(text, item.pos.start))
        .ok_or_else(layout)?;
    let indent = " ".repeat(column(text, dash));
    let tail = items.last().ok_or_else(layout)?;
    let (at, mut insert) = after_line(text, tail.content_end(text), nl);
    for doc in docs {
        item_lines(&mut insert, doc, &indent, nl);
    }
    Ok(Edit {
        range: at..at,
        text: insert,
    })
}

/// The `-` that introduces the block list item whose content starts at `item`: on the same
/// line, or above it with only comments and blank lines between, as kpt writes an object
/// whose file opens with a comment (`- # The shop web front end.`).
fn dash_of(text: &str, item: usize) -> Option<usize> {
    if let Some(dash) = dash_before(text, item) {
        return Some(dash);
    }
    let start = line_start(text, item);
    if !text.get(start..item)?.trim_matches(' ').is_empty() {
        return None;
    }
    let mut end = start;
    while end > 0 {
        let from = line_start(text, end - 1);
        let line = text.get(from..end)?;
        let body = line.trim_start_matches(' ');
        let col = line.len() - body.len();
        match body.chars().next() {
            Some('#' | '\n' | '\r') | None => {}
            Some('-') => {
                let rest = body.get(1..)?.trim_start_matches(' ');
                let blank = rest.starts_with('#') || rest.trim_end_matches(['\r', '\n']).is_empty();
                return blank.then_some(from + col);
            }
            Some(_) => return None,
        }
        end = from;
    }
    None
}

/// Writes the block document `doc` as one item of a block list indented by `indent`.
fn item_lines(out: &mut String, doc: &str, indent: &str, nl: &str) {
    for (i, line) in doc.lines().enumerate() {
        let lead = if i == 0 { "- " } else { "  " };
        let _ = write!(out, "{indent}{lead}{line}{nl}");
    }
}

/// Adds `results:` with the warnings as the last key of the `ResourceList` `root`.
fn insert_results(text: &str, root: &Node, warnings: &[String], nl: &str) -> Result<Edit, KrmError> {
    let layout = || KrmError::Layout("cannot find the end of the ResourceList".to_owned());
    let Kind::Map { flow, entries } = &root.kind else {
        return Err(layout());
    };
    let (first, _) = entries.first().ok_or_else(layout)?;
    let (_, last) = entries.last().ok_or_else(layout)?;
    let end = last.content_end(text);
    if *flow {
        let entries = warnings
            .iter()
            .map(|w| format!("{{\"message\": {}, \"severity\": \"warning\"}}", quoted(w)))
            .collect::<Vec<_>>()
            .join(", ");
        return Ok(Edit {
            range: end..end,
            text: format!(", \"results\": [{entries}]"),
        });
    }
    let indent = " ".repeat(column(text, first.pos.start));
    let at_line_start = text.get(..end).is_some_and(|t| t.ends_with(BREAKS));
    let at = if at_line_start { end } else { line_end(text, end) };
    let mut insert = String::new();
    if at == text.len() && !text.ends_with(BREAKS) {
        insert.push_str(nl);
    }
    let _ = write!(insert, "{indent}results:{nl}");
    for w in warnings {
        item_lines(&mut insert, &result_yaml(w), &indent, nl);
    }
    Ok(Edit {
        range: at..at,
        text: insert,
    })
}

/// One `results` entry for the warning `message`, as block YAML.
fn result_yaml(message: &str) -> String {
    format!("message: {}\nseverity: warning\n", quoted(message))
}

/// What one `results` entry for `message` means.
fn result_entry(message: &str) -> Value {
    Value::Map(
        [
            (
                "message".to_owned(),
                Value::Scalar(Scalar::Str(message.to_owned())),
            ),
            (
                "severity".to_owned(),
                Value::Scalar(Scalar::Str("warning".to_owned())),
            ),
        ]
        .into(),
    )
}

/// `s` as a JSON (and YAML double-quoted) string.
fn quoted(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    render::json_string(&mut |piece| out.push_str(piece), s);
    out
}

/// `node`, one of pullseal's own secret documents (strings, mappings and lists only), as JSON.
fn json(node: &Node) -> Result<String, KrmError> {
    let mut out = String::new();
    write_json(&mut out, node)?;
    Ok(out)
}

fn write_json(out: &mut String, node: &Node) -> Result<(), KrmError> {
    match &node.kind {
        Kind::Scalar { .. } => match node.scalar() {
            Some(Scalar::Str(s)) => out.push_str(&quoted(&s)),
            _ => {
                return Err(KrmError::Layout(
                    "a pull secret holds a value that is not a string".to_owned(),
                ));
            }
        },
        Kind::Seq { items, .. } => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push_str(", ");
                }
                write_json(out, item)?;
            }
            out.push(']');
        }
        Kind::Map { .. } => {
            out.push('{');
            for (i, (key, value)) in node.resolved_entries().into_iter().enumerate() {
                if i > 0 {
                    out.push_str(", ");
                }
                let key = tree::key_text(key).ok_or_else(|| {
                    KrmError::Layout("a pull secret holds a key that is not a string".to_owned())
                })?;
                out.push_str(&quoted(&key));
                out.push_str(": ");
                write_json(out, value)?;
            }
            out.push('}');
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_dash_of_an_item_may_sit_above_comments() {
        let text = "items:\n- # head comment\n  # more\n\n  kind: A\n-   kind: B\n";
        let a = text.find("kind: A").unwrap();
        let b = text.find("kind: B").unwrap();
        assert_eq!(dash_of(text, a), Some(7));
        assert_eq!(dash_of(text, b), text.find("-   kind"));
        // Something other than a comment between: no dash of this item.
        let text = "items:\n- x: 1\n  kind: A\n";
        assert_eq!(dash_of(text, text.find("kind").unwrap()), None);
    }

    #[test]
    fn secrets_and_warnings_are_appended_in_the_lists_own_style() {
        let secret = "apiVersion: v1\nkind: Secret\nmetadata:\n  name: \"s\"\n";
        let block = "kind: ResourceList\nitems:\n  - kind: A # note\nfunctionConfig: {}\n";
        insta::assert_snapshot!(assemble(block, &[secret], &["careful".to_owned()]).unwrap(), @r#"
        kind: ResourceList
        items:
          - kind: A # note
          - apiVersion: v1
            kind: Secret
            metadata:
              name: "s"
        functionConfig: {}
        results:
        - message: "careful"
          severity: warning
        "#);
        let flow = "{\"kind\": \"ResourceList\", \"items\": []}";
        insta::assert_snapshot!(assemble(flow, &[secret], &["a \"b\"".to_owned()]).unwrap(), @r#"{"kind": "ResourceList", "items": [{"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "s"}}], "results": [{"message": "a \"b\"", "severity": "warning"}]}"#);
        // A list that already has results gets the warning appended.
        let with_results = "kind: ResourceList\nitems: []\nresults:\n- message: earlier\n";
        insta::assert_snapshot!(assemble(with_results, &[], &["now".to_owned()]).unwrap(), @r#"
        kind: ResourceList
        items: []
        results:
        - message: earlier
        - message: "now"
          severity: warning
        "#);
    }

    #[test]
    fn only_pullseals_own_pull_secrets_are_made_anew() {
        let item = |text: &str| tree::parse(text).unwrap().unwrap();
        let own = "apiVersion: bitnami.com/v1alpha1\nkind: SealedSecret\nmetadata:\n  name: pullseal-a\n  labels: {app.kubernetes.io/managed-by: pullseal}\n  annotations: {pullseal.io/registry: a}\n";
        assert!(made_by_pullseal(&item(own)));
        for other in [
            own.replace("managed-by: pullseal", "managed-by: helm"),
            own.replace("pullseal.io/registry", "pullseal.io/other"),
            own.replace("bitnami.com/v1alpha1", "example.com/v1"),
            // A Secret that is not a pull secret is the user's, whatever it is labelled.
            own.replace(
                "bitnami.com/v1alpha1\nkind: SealedSecret",
                "v1\nkind: Secret\ntype: Opaque",
            ),
        ] {
            assert!(!made_by_pullseal(&item(&other)), "{other}");
        }
        // The ECR objects for the External Secrets Operator (issue 7), labelled as pullseal
        // labels them; the same kinds without the label, or of another group, are the user's.
        let keys = "apiVersion: v1\nkind: Secret\ntype: Opaque\nmetadata:\n  name: pullseal-e-aws\n  labels: {app.kubernetes.io/managed-by: pullseal}\n  annotations: {pullseal.io/registry: e, pullseal.io/ecr-keys-for: pullseal-e}\n";
        let generator = own.replace(
            "bitnami.com/v1alpha1\nkind: SealedSecret",
            "generators.external-secrets.io/v1alpha1\nkind: ECRAuthorizationToken",
        );
        let external = own.replace(
            "bitnami.com/v1alpha1\nkind: SealedSecret",
            "external-secrets.io/v1\nkind: ExternalSecret",
        );
        for ours in [keys, &generator, &external] {
            assert!(made_by_pullseal(&item(ours)), "{ours}");
            let others = [
                ours.replace("managed-by: pullseal", "managed-by: helm"),
                ours.replace("pullseal.io/registry", "pullseal.io/other"),
                ours.replace("apiVersion: ", "apiVersion: example.com/"),
                // Only the keys Secret has it: an Opaque Secret without it is the user's.
                ours.replace("pullseal.io/ecr-keys-for", "pullseal.io/other-key"),
            ];
            for other in others.iter().filter(|o| o.as_str() != ours) {
                assert!(!made_by_pullseal(&item(other)), "{other}");
            }
        }
        // An ExternalSecret of the older, unserved v1beta1 is not one pullseal writes.
        let beta = external.replace("external-secrets.io/v1\n", "external-secrets.io/v1beta1\n");
        assert!(!made_by_pullseal(&item(&beta)), "{beta}");
    }

    #[test]
    fn envelope_errors_say_what_was_there() {
        let stream = |text: &str| {
            Stream::new(vec![crate::manifest::Source {
                name: "<stdin>".to_owned(),
                text: text.to_owned(),
            }])
        };
        let messages: Vec<String> = [
            "",
            "# only a comment\n",
            "kind: List\napiVersion: v1\nitems: []\n",
            "kind: ResourceList\napiVersion: config.kubernetes.io/v1\nitems: {a: 1}\n",
            "kind: ResourceList\napiVersion: config.kubernetes.io/v1\nresults: 3\n",
            "kind: ResourceList\napiVersion: \"\\e[2J\"\n",
        ]
        .iter()
        .map(|t| resource_list(&stream(t)).err().unwrap().to_string())
        .collect();
        insta::assert_snapshot!(messages.join("\n"), @r#"
        stdin is not a KRM ResourceList (it is empty): with no subcommand pullseal runs as a KRM function (kpt fn eval --exec, kustomize build --enable-exec); to render a manifest stream, run `pullseal render`
        stdin is not a KRM ResourceList (it is empty): with no subcommand pullseal runs as a KRM function (kpt fn eval --exec, kustomize build --enable-exec); to render a manifest stream, run `pullseal render`
        stdin is not a KRM ResourceList (apiVersion v1 kind List): with no subcommand pullseal runs as a KRM function (kpt fn eval --exec, kustomize build --enable-exec); to render a manifest stream, run `pullseal render`
        the ResourceList's items is not a list
        the ResourceList's results is not a list
        stdin is not a KRM ResourceList (apiVersion "\u{1b}[2J" kind ResourceList): with no subcommand pullseal runs as a KRM function (kpt fn eval --exec, kustomize build --enable-exec); to render a manifest stream, run `pullseal render`
        "#);
    }
}
