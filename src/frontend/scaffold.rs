//! The developer's side of the catalog: `pullseal annotation` prints the exact annotation to
//! paste into a pod template (or a chart's `podAnnotations`), and `pullseal scaffold` writes a
//! ready workload whose image is built from the registry's server, annotation set.
//!
//! Every value that goes into the output is checked first (names are DNS-1123 labels, the
//! repository and tag follow the reference grammar, the image must be one the registry serves
//! as the kubelet matches it), and every value is written double-quoted, so that no YAML 1.1
//! reading can turn a name such as `yes` or `0644` into something else. The result is parsed
//! again before it is printed.
//!
//! What this module must *not* do: print anything of a registry but its name and server (the
//! catalog is decrypted only to know that the registry exists and where it serves), or print a
//! snippet or workload that pullseal's own render would not accept.

use std::path::Path;

use super::Env;
use super::inputs::{io, locate_catalog, read_bounded};
use crate::catalog::{Catalog, Registry};
use crate::cli::{AnnotationArgs, CatalogSource, ScaffoldArgs, ScaffoldKind, SnippetFormat};
use crate::error::{Error, shown};
use crate::manifest::tree;
use crate::reference::{Image, RegistryName, is_dns_label};

const DEPLOYMENT: &str = include_str!("templates/deployment.yaml.hbs");
const STATEFULSET: &str = include_str!("templates/statefulset.yaml.hbs");
const CRONJOB: &str = include_str!("templates/cronjob.yaml.hbs");
const JOB: &str = include_str!("templates/job.yaml.hbs");

/// A `--template` holds one workload: more than this is not one (a mistyped path to a disk
/// image, `/dev/zero`), and is refused instead of read into memory whole.
const MAX_TEMPLATE_BYTES: u64 = 1 << 20;

/// The pod-wide annotation.
const POD_WIDE: &str = "pullseal.io/registries";
/// The per-container annotation's prefix.
const PER_CONTAINER: &str = "registry.pullseal.io/";

/// Reads `--template FILE`, at most [`MAX_TEMPLATE_BYTES`] of it.
fn read_template(path: &Path) -> Result<String, Error> {
    let file = fs_err::File::open(path).map_err(io("read", path))?;
    read_bounded(file, &mut MAX_TEMPLATE_BYTES.clone(), || {
        format!(
            "it is larger than {} MiB, which no scaffold template is",
            MAX_TEMPLATE_BYTES >> 20
        )
    })
    .map_err(io("read", path))
}

/// `pullseal annotation`: the snippet to print.
pub(super) fn annotation(args: &AnnotationArgs, env: &dyn Env) -> Result<String, Error> {
    let key = match &args.container {
        Some(container) if is_dns_label(container) => format!("{PER_CONTAINER}{container}"),
        Some(container) => {
            return Err(Error::Usage(format!(
                "--container {}: a container name is a DNS-1123 label (at most 63 lowercase letters, digits and '-')",
                shown(container)
            )));
        }
        None => POD_WIDE.to_owned(),
    };
    let catalog = open(&args.catalog, env)?;
    let registry = find(&catalog, &args.registry)?;
    let value = format!("\"{}\"", registry.name);
    let text = match args.format {
        SnippetFormat::Yaml => format!(
            "# Under the pod template's metadata (spec.template.metadata; a Pod's own metadata);\n# images from {} get the pull secret.\nannotations:\n  {key}: {value}\n",
            registry.server
        ),
        SnippetFormat::HelmValues => format!(
            "# In the chart's values, where its templates put podAnnotations on the pod template;\n# images from {} get the pull secret.\npodAnnotations:\n  {key}: {value}\n",
            registry.server
        ),
    };
    Ok(text)
}

/// `pullseal scaffold`: the workload to print.
pub(super) fn scaffold(args: &ScaffoldArgs, env: &dyn Env) -> Result<String, Error> {
    let usage = |m: String| Error::Usage(m);
    if !is_dns_label(&args.name) {
        return Err(usage(format!(
            "--name {}: a workload name here is a DNS-1123 label (at most 63 lowercase letters, digits and '-'), as its container's name must be",
            shown(&args.name)
        )));
    }
    if let Some(ns) = args.namespace.as_deref().filter(|ns| !is_dns_label(ns)) {
        return Err(usage(format!(
            "--namespace {}: a namespace is a DNS-1123 label",
            shown(ns)
        )));
    }
    if !is_repository(&args.repository) {
        return Err(usage(format!(
            "--repository {}: a repository is lowercase path components ([a-z0-9], joined by '.', '_', '__' or '-') separated by '/'",
            shown(&args.repository)
        )));
    }
    if !is_tag(&args.tag) {
        return Err(usage(format!(
            "--tag {}: a tag is up to 128 letters, digits, '_', '.' and '-', not starting with '.' or '-'",
            shown(&args.tag)
        )));
    }
    if args.schedule.contains(['"', '\\']) || args.schedule.chars().any(char::is_control) {
        return Err(usage(format!(
            "--schedule {}: a cron schedule has no quotes, backslashes or control characters",
            shown(&args.schedule)
        )));
    }
    let template = match &args.template {
        Some(path) => read_template(path)?,
        None => match args.kind {
            ScaffoldKind::Deployment => DEPLOYMENT,
            ScaffoldKind::Statefulset => STATEFULSET,
            ScaffoldKind::Cronjob => CRONJOB,
            ScaffoldKind::Job => JOB,
        }
        .to_owned(),
    };
    let catalog = open(&args.catalog, env)?;
    let registry = find(&catalog, &args.registry)?;
    if registry.server.has_glob() {
        return Err(usage(format!(
            "registry {} serves {}, a pattern, not one server: write the image yourself and add the annotation (`pullseal annotation {}`)",
            registry.name, registry.server, registry.name
        )));
    }
    let image_text = format!("{}/{}:{}", registry.server, args.repository, args.tag);
    let image: Image = image_text.parse().map_err(|_| {
        usage(format!(
            "the image {} that --repository and --tag make is not a valid image reference",
            shown(&image_text)
        ))
    })?;
    if !registry.server.matches(&image) {
        return Err(usage(format!(
            "registry {} does not serve {} as the kubelet matches images",
            registry.name,
            shown(&image_text)
        )));
    }
    let mut hb = handlebars::Handlebars::new();
    hb.set_strict_mode(false);
    hb.register_escape_fn(handlebars::no_escape);
    let name = "workload";
    hb.register_template_string(name, &template).map_err(|e| {
        usage(format!(
            "--template {}: {e}",
            args.template
                .as_deref()
                .map_or_else(String::new, |p| p.display().to_string())
        ))
    })?;
    let data = serde_json::json!({
        "name": args.name,
        "namespace": args.namespace,
        "image": image_text,
        "registry": registry.name.as_str(),
        "annotation": POD_WIDE,
        "port": args.port,
        "schedule": args.schedule,
    });
    let text = hb
        .render(name, &data)
        .map_err(|e| usage(format!("the scaffold template does not render: {e}")))?;
    // What is printed must be one object that reads back as a workload with the annotation.
    match tree::parse(&text) {
        Ok(Some(root)) if root.is_map() => {}
        _ => {
            return Err(usage(
                "the scaffold template does not make one YAML object; check --template".to_owned(),
            ));
        }
    }
    Ok(text)
}

/// Decrypts the catalog as `render` finds it.
fn open(args: &CatalogSource, env: &dyn Env) -> Result<Catalog, Error> {
    let cwd = env.cwd().map_err(io("read", Path::new(".")))?;
    let path = locate_catalog(args.catalog.as_deref(), &cwd)?;
    let identities = super::identities(args.age_key_file.as_deref(), env)?;
    Ok(Catalog::load(&path, &identities)?)
}

/// The registry called `name`, or a usage error that lists the catalog's registries.
fn find<'c>(catalog: &'c Catalog, name: &str) -> Result<&'c Registry, Error> {
    let known = || {
        catalog
            .registry_names()
            .map(RegistryName::as_str)
            .collect::<Vec<_>>()
            .join(", ")
    };
    name.parse::<RegistryName>()
        .ok()
        .and_then(|n| catalog.registry(&n))
        .ok_or_else(|| {
            Error::Usage(format!(
                "registry {} is not in the catalog (registries: {})",
                shown(name),
                known()
            ))
        })
}

/// A repository path as the reference grammar has it: lowercase components joined by `.`, `_`,
/// `__` or dashes, separated by `/`.
fn is_repository(s: &str) -> bool {
    static GRAMMAR: std::sync::LazyLock<Option<regex::Regex>> = std::sync::LazyLock::new(|| {
        let component = r"[a-z0-9]+(?:(?:\.|_|__|-+)[a-z0-9]+)*";
        regex::Regex::new(&format!("^{component}(?:/{component})*$")).ok()
    });
    s.len() <= 255 && GRAMMAR.as_ref().is_some_and(|g| g.is_match(s))
}

/// A tag: `[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}`.
fn is_tag(s: &str) -> bool {
    let mut bytes = s.bytes();
    bytes
        .next()
        .is_some_and(|b| b.is_ascii_alphanumeric() || b == b'_')
        && s.len() <= 128
        && bytes.all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'.' | b'-'))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn repositories_and_tags_follow_the_reference_grammar() {
        for ok in ["team/web", "web", "a.b/c_d/e__f/g-h", "0/1"] {
            assert!(is_repository(ok), "{ok}");
        }
        for bad in [
            "",
            "Team/web",
            "team//web",
            "/web",
            "web/",
            "a..b",
            "-a",
            "a b",
            "a:b",
        ] {
            assert!(!is_repository(bad), "{bad}");
        }
        for ok in ["1.4.2", "latest", "_x", "v1-rc.1"] {
            assert!(is_tag(ok), "{ok}");
        }
        for bad in ["", ".x", "-x", "a b", "a:b", &"x".repeat(129)] {
            assert!(!is_tag(bad), "{bad}");
        }
    }

    #[test]
    fn built_in_templates_make_one_object_each() {
        let mut hb = handlebars::Handlebars::new();
        hb.register_escape_fn(handlebars::no_escape);
        for (kind, template) in [
            ("Deployment", DEPLOYMENT),
            ("StatefulSet", STATEFULSET),
            ("CronJob", CRONJOB),
            ("Job", JOB),
        ] {
            for namespace in [None, Some("yes")] {
                let data = serde_json::json!({
                    "name": "0644", "namespace": namespace, "image": "r.example.com/a:1",
                    "registry": "on", "annotation": POD_WIDE, "port": 80, "schedule": "0 3 * * *",
                });
                let text = hb.render_template(template, &data).unwrap();
                let root = tree::parse(&text).unwrap().unwrap();
                assert_eq!(root.get("kind").and_then(|(k, _)| k.as_str()), Some(kind));
                // Names that YAML 1.1 would retype stay strings.
                assert_eq!(
                    root.path(&["metadata", "name"]).and_then(tree::Node::as_str),
                    Some("0644"),
                    "{text}"
                );
                assert_eq!(
                    root.path(&["metadata", "namespace"]).and_then(tree::Node::as_str),
                    namespace,
                    "{text}"
                );
            }
        }
    }
}
