//! Sealing in parallel (issue 9): a render seals its pull secrets on several threads, and
//! `--all-clusters` renders its clusters on several threads, yet the output is the same bytes
//! whatever the thread count (`Options::jobs`), every value still opens with kubesealpy, and
//! the failure reported is the first in order.

use std::fmt::Write as _;
use std::num::NonZeroUsize;

use pullseal::manifest::{Source, Stream};
use pullseal::render::{Options, RenderError, render, render_each};

use crate::laws::catalog;
use crate::peers;
use crate::support::path;

/// 30 workloads in 15 namespaces, each namespace pulling from one of three registries: 5 pull
/// secrets each for `company` and `quay-team`, and for the ECR registry 5 sealed AWS key
/// Secrets (two values each) with their generators and `ExternalSecret`s.
fn stream() -> Stream {
    Stream::new(vec![Source {
        name: "many.yaml".to_owned(),
        text: workloads(""),
    }])
}

/// The text of [`stream`], each object's name starting with `prefix`.
fn workloads(prefix: &str) -> String {
    let mut text = String::new();
    for i in 0..30 {
        let namespace = format!("team-{}", i % 15);
        let (registry, image) = match i % 3 {
            0 => ("company", "registry.example.com:5000/shop/app:1"),
            1 => ("quay-team", "quay.io/acme/app:1"),
            _ => ("ecr-main", "123456789012.dkr.ecr.eu-west-1.amazonaws.com/app:1"),
        };
        let _ = write!(
            text,
            "---\napiVersion: v1\nkind: Pod\nmetadata:\n  name: {prefix}p{i}\n  namespace: {namespace}\n  annotations: {{pullseal.io/registries: {registry}}}\nspec:\n  containers: [{{name: a, image: \"{image}\"}}]\n"
        );
    }
    text
}

fn options(cluster: &str, jobs: usize) -> Options {
    Options {
        jobs: NonZeroUsize::new(jobs),
        ..Options::new(cluster)
    }
}

fn bytes(stream: &Stream, rendered: &pullseal::render::Rendered) -> String {
    let mut out = Vec::new();
    rendered.write_to(stream, &mut out).unwrap();
    String::from_utf8(out).unwrap()
}

fn rendered(cluster: &str, jobs: usize) -> String {
    let stream = stream();
    bytes(
        &stream,
        &render(&stream, catalog(), &options(cluster, jobs)).unwrap(),
    )
}

#[test]
fn the_thread_count_changes_no_byte_and_every_value_unseals() {
    for cluster in ["test", "test-cw", "flux"] {
        let one = rendered(cluster, 1);
        for jobs in [2, 3, 8, 64] {
            assert!(
                one == rendered(cluster, jobs),
                "{cluster}: {jobs} threads differ from one"
            );
        }
        if cluster == "test" {
            assert_eq!(one.matches("\nkind: SealedSecret\n").count(), 15);
            assert_eq!(one.matches("\nkind: ExternalSecret\n").count(), 5);
        }
    }
    // The values sealed on many threads open with an independent unsealer.
    let sealed = rendered("test", 8);
    let unsealed = peers::unseal(sealed.as_bytes(), &path("testdata/keys/sealed-secrets-test.key"));
    assert_eq!(unsealed.len(), 15);
    let keys = unsealed.get("team-2/pullseal-ecr-main-aws").unwrap();
    assert_eq!(
        keys.get("access-key-id").map(String::as_str),
        Some("AKIATESTONLY00000000")
    );
    for (id, data) in &unsealed {
        if let Some(config) = data.get(".dockerconfigjson") {
            let value: serde_json::Value = serde_json::from_str(config).unwrap();
            assert!(value["auths"].is_object(), "{id}: {config}");
        }
    }
}

#[test]
fn all_clusters_render_as_each_alone_on_any_number_of_threads() {
    let stream = stream();
    let clusters = ["flux", "plain", "prod-eu", "test", "test-cw", "test-ns"];
    let alone: Vec<String> = clusters.iter().map(|c| rendered(c, 1)).collect();
    for jobs in [1, 2, 4, 16] {
        let each: Vec<Options> = clusters.iter().map(|c| options(c, jobs)).collect();
        let together = render_each(&stream, catalog(), &each).unwrap();
        let together: Vec<String> = together.iter().map(|r| bytes(&stream, r)).collect();
        assert!(together == alone, "{jobs} threads");
    }
}

/// The first failure in the order given is the one returned, on any number of threads.
#[test]
fn the_first_failing_cluster_is_reported() {
    let stream = stream();
    for jobs in [1, 2, 8] {
        let each: Vec<Options> = ["test", "expired", "test-ns", "no-such-cluster"]
            .iter()
            .map(|c| options(c, jobs))
            .collect();
        let Err(err) = render_each(&stream, catalog(), &each) else {
            panic!("the expired cluster rendered");
        };
        assert!(
            matches!(&err, RenderError::Cluster { cluster, .. } if cluster == "expired"),
            "{jobs} threads: {err}"
        );
    }
}

/// A stream large enough to be parsed on several threads (over 64 KiB of annotated
/// documents): the same bytes on any number of threads.
#[test]
fn a_large_stream_parsed_on_many_threads_renders_the_same_bytes() {
    let text: String = (0..12).map(|copy| workloads(&format!("c{copy}"))).collect();
    assert!(text.len() > 64 << 10, "{} bytes", text.len());
    let stream = Stream::new(vec![Source {
        name: "large.yaml".to_owned(),
        text,
    }]);
    let one = bytes(&stream, &render(&stream, catalog(), &options("test", 1)).unwrap());
    for jobs in [2, 3, 8] {
        let many = bytes(
            &stream,
            &render(&stream, catalog(), &options("test", jobs)).unwrap(),
        );
        assert!(one == many, "{jobs} threads differ from one");
    }
}

/// Documents parsed on several threads share one node budget; when it runs out, the error
/// names the same document and place whatever the thread count (the stream is parsed again
/// in order), and no document after it is reported.
#[test]
fn a_node_flood_across_documents_fails_the_same_on_any_number_of_threads() {
    let list = format!("[{}0]", "0,".repeat(400_000));
    let mut text = String::new();
    for i in 0..4 {
        let _ = write!(
            text,
            "---\napiVersion: v1\nkind: Secret\nmetadata: {{name: s{i}, namespace: shop}}\nstringData:\n  items: {list}\n"
        );
    }
    let stream = Stream::new(vec![Source {
        name: "flood.yaml".to_owned(),
        text,
    }]);
    let failure = |jobs: usize| match render(&stream, catalog(), &options("test", jobs)) {
        Ok(_) => panic!("{jobs} threads: the flood rendered"),
        Err(err) => err.to_string(),
    };
    let one = failure(1);
    assert!(
        one.contains("flood.yaml: document 3: line")
            && one.contains("YAML nodes")
            && !one.contains("document 4"),
        "{one}"
    );
    for jobs in [2, 4, 8] {
        assert_eq!(failure(jobs), one, "{jobs} threads");
    }
}
