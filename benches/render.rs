//! `cargo bench --bench render`: renders a monorepo-sized stream (10,000 documents, 20 MB,
//! one in twenty referencing registries) in-process and says whether it meets the speed target.
//! Memory is measured on the binary by `scripts/bench`. Timing lives here, never in tests.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::print_stdout,
    clippy::print_stderr,
    clippy::indexing_slicing,
    clippy::cast_precision_loss,
    missing_docs
)]

use std::fmt::Write as _;
use std::path::Path;
use std::time::{Duration, Instant};

use pullseal::catalog::Catalog;
use pullseal::manifest::{Source, Stream};
use pullseal::render::{Options, render};
use pullseal::sops::Identities;

/// The target: a 20 MB stream in at most this long (split, parse what is referenced, edit,
/// seal, write), on one core of the CI machine.
const TARGET: Duration = Duration::from_millis(250);
const DOCS: usize = 10_000;
const BYTES: usize = 20 * 1024 * 1024;

fn stream() -> String {
    let mut out = String::with_capacity(BYTES + BYTES / 10);
    let pad_line = format!("    {}\n", "x".repeat(76));
    let per_configmap = BYTES / (DOCS * 2 / 3);
    for i in 0..DOCS {
        let ns = format!("team-{}", i % 37);
        if i > 0 {
            out.push_str("---\n");
        }
        if i % 20 == 0 {
            let _ = write!(
                out,
                "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: app-{i}\n  namespace: {ns}\nspec:\n  template:\n    metadata:\n      annotations:\n        pullseal.io/registries: company, quay-team\n    spec:\n      containers:\n        - name: app\n          image: registry.example.com:5000/shop/app-{i}:1.0\n        - name: side\n          image: quay.io/acme/side:{i}\n"
            );
        } else if i % 3 == 0 {
            let _ = write!(
                out,
                "apiVersion: v1\nkind: Service\nmetadata: {{name: svc-{i}, namespace: {ns}}}\nspec:\n  ports: [{{port: 80}}]\n"
            );
        } else {
            let start = out.len();
            let _ = write!(
                out,
                "# Source: chart/cm-{i}.yaml\napiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: cfg-{i}\n  namespace: {ns}\ndata:\n  mode: \"0644\"\n  payload: |\n"
            );
            while out.len() - start + pad_line.len() < per_configmap {
                out.push_str(&pad_line);
            }
        }
    }
    out
}

fn main() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let identities = Identities::discover(Some(&root.join("testdata/keys/age-test.txt")), &|_| None).unwrap();
    let catalog = Catalog::load(&root.join("testdata/catalog/test.catalog.yaml"), &identities).unwrap();
    let text = stream();
    let options = Options::new("test");
    let mut times = Vec::new();
    let mut written = 0;
    for _ in 0..7 {
        let start = Instant::now();
        let stream = Stream::new(vec![Source {
            name: "bench".to_owned(),
            text: text.clone(),
        }]);
        let rendered = render(&stream, &catalog, &options).unwrap();
        let mut sink = std::io::sink();
        rendered.write_to(&stream, &mut sink).unwrap();
        times.push(start.elapsed());
        written = rendered.secrets();
    }
    times.sort();
    let median = times[times.len() / 2];
    let mb = text.len() as f64 / (1024.0 * 1024.0);
    println!(
        "render: {DOCS} documents, {mb:.1} MB, {written} secrets: median {median:?} ({:.0} MB/s), best {:?}, target {TARGET:?}",
        mb / median.as_secs_f64(),
        times[0]
    );
    // A missed target is a figure, not a broken run: scripts/bench goes on.
    println!(
        "render target {}",
        if median <= TARGET { "met" } else { "MISSED" }
    );
}
