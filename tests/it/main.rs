//! pullseal's integration tests, built as one binary: the CLI against fixture cases, and the
//! interop checks against the real peers (sops, kubesealpy).
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    clippy::doc_markdown,
    unreachable_pub
)]

mod argocd;
mod bad;
mod catalog_admin;
mod cli;
mod doctor;
mod ecr;
mod ecr_token;
mod errors;
mod fidelity;
mod fixtures;
mod flux;
mod fuzz_corpora;
mod helm;
mod inputs;
mod interop;
mod kms;
mod krm;
mod kubelet;
mod kustomize;
mod laws;
mod leaks;
mod parallel;
mod peers;
mod providers;
mod quickstart_admin;
mod scaffold;
mod sops_write;
mod support;
mod usage;
mod validate;
mod validate_providers;

/// Every `.rs` file here must be a module above, or its tests would silently never run.
#[test]
fn no_forgotten_test_files() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/it");
    let main = fs_err::read_to_string(dir.join("main.rs")).unwrap();
    for entry in fs_err::read_dir(&dir).unwrap() {
        let name = entry.unwrap().file_name().into_string().unwrap();
        if let Some(module) = name.strip_suffix(".rs")
            && module != "main"
        {
            assert!(
                main.contains(&format!("mod {module};")),
                "tests/it/{name} is not a module of tests/it/main.rs"
            );
        }
    }
}
