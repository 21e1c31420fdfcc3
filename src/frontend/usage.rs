//! `pullseal usage`: the admin's view of where each credential is deployed. It reads the
//! manifests as `render` does, resolves and checks every reference for one cluster exactly as
//! `render` would (so a problem is reported as `render` reports it, and exits as it would), and
//! lists which workloads, in which namespaces, use which registry, and which registries no
//! workload uses.
//!
//! What this module must *not* do: seal, or print anything of a registry but its name.

use std::collections::BTreeSet;
use std::fmt::Write as _;
use std::io::Read;
use std::path::Path;

use super::inputs::{io, locate_catalog, read_inputs};
use super::{Env, choose_cluster, default_namespace, load_catalog, options, warn};
use crate::catalog::Catalog;
use crate::cli::{OutputFormat, RenderArgs, UsageArgs};
use crate::error::{Error, shown};
use crate::manifest::Stream;
use crate::reference::RegistryName;
use crate::render;

/// Every use of a registry in the inputs of `render_args`, for the cluster they choose, as
/// render resolves and checks them; with the catalog and the cluster.
pub(super) fn scan(
    render_args: &RenderArgs,
    env: &dyn Env,
    stdin: &mut dyn Read,
    stderr: &mut dyn std::io::Write,
) -> Result<(Catalog, String, Vec<render::Use>), Error> {
    let namespace = default_namespace(render_args.namespace.as_deref(), env)?;
    let cwd = env.cwd().map_err(io("read", Path::new(".")))?;
    let catalog_path = locate_catalog(render_args.catalog.as_deref(), &cwd)?;
    let inputs = read_inputs(&render_args.inputs, &catalog_path, stdin)?;
    warn(stderr, &inputs.warnings);
    let stream = Stream::new(inputs.sources);
    let catalog = load_catalog(render_args, env, &catalog_path)?;
    let cluster = choose_cluster(render_args.cluster.as_deref(), env, &catalog)?;
    let mut opts = options(render_args, env, namespace.as_ref(), cluster.clone());
    opts.plan_only = true;
    let rendered = render::render(&stream, &catalog, &opts)?;
    Ok((catalog, cluster, rendered.uses))
}

/// `pullseal usage`: the report to print.
pub(super) fn usage(
    args: &UsageArgs,
    env: &dyn Env,
    stdin: &mut dyn Read,
    stderr: &mut dyn std::io::Write,
) -> Result<String, Error> {
    let render_args = RenderArgs {
        inputs: args.inputs.clone(),
        catalog: args.catalog.catalog.clone(),
        age_key_file: args.catalog.age_key_file.clone(),
        cluster: args.cluster.clone(),
        all_clusters: false,
        out_dir: None,
        namespace: args.namespace.clone(),
        pod_specs: args.pod_specs.clone(),
        secret_name: None,
        instance: None,
    };
    let (catalog, cluster, uses) = scan(&render_args, env, stdin, stderr)?;
    let referenced: BTreeSet<&RegistryName> = uses.iter().flat_map(|u| &u.registries).collect();
    let unused: Vec<&str> = catalog
        .registry_names()
        .filter(|n| !referenced.contains(n))
        .map(RegistryName::as_str)
        .collect();
    // One row per (registry, workload), by registry, then in input order.
    let mut rows: Vec<(&str, &render::Use)> = uses
        .iter()
        .flat_map(|u| u.registries.iter().map(move |r| (r.as_str(), u)))
        .collect();
    rows.sort_by_key(|(registry, _)| *registry);
    Ok(match args.output {
        OutputFormat::Json => {
            let uses: Vec<serde_json::Value> = rows
                .iter()
                .map(|(registry, u)| {
                    serde_json::json!({
                        "registry": registry,
                        "namespace": u.namespace,
                        "object": u.object,
                        "file": u.origin.file,
                        "document": u.origin.document,
                    })
                })
                .collect();
            let report = serde_json::json!({"cluster": cluster, "uses": uses, "unused": unused});
            format!("{report}\n")
        }
        OutputFormat::Table => {
            let lines: Vec<[String; 4]> = rows
                .iter()
                .map(|(registry, u)| {
                    [
                        (*registry).to_owned(),
                        u.namespace.as_deref().map_or_else(|| "-".to_owned(), shown),
                        u.object.clone(),
                        u.origin.to_string(),
                    ]
                })
                .collect();
            let header = ["REGISTRY", "NAMESPACE", "OBJECT", "WHERE"].map(str::to_owned);
            let widths: Vec<usize> = (0..4)
                .map(|i| {
                    std::iter::once(&header)
                        .chain(&lines)
                        .map(|l| l.get(i).map_or(0, |c| c.chars().count()))
                        .max()
                        .unwrap_or(0)
                })
                .collect();
            let mut out = format!("cluster {}\n", shown(&cluster));
            for line in std::iter::once(&header).chain(&lines) {
                let mut row = String::new();
                for (i, cell) in line.iter().enumerate() {
                    let width = widths.get(i).copied().unwrap_or(0);
                    let _ = write!(row, "{cell:width$}  ");
                }
                out.push_str(row.trim_end());
                out.push('\n');
            }
            let _ = writeln!(
                out,
                "unused: {}",
                if unused.is_empty() {
                    "none".to_owned()
                } else {
                    unused.join(", ")
                }
            );
            out
        }
    })
}
