//! The committed fuzz corpora (`fuzz/corpus/<target>/`) replayed through the fuzz targets'
//! invariants (`pullseal::fuzzing`), so every input a fuzzer kept, crashes found and fixed
//! included, is checked by `cargo test` on stable, where no fuzzer is installed.

use std::path::Path;

use crate::laws::catalog;
use crate::support::path;

/// Runs `check` on every input of `fuzz/corpus/<target>`, as the target hands it over.
fn replay(target: &str, check: impl Fn(&[u8])) {
    let dir = path("fuzz/corpus").join(target);
    let mut inputs: Vec<_> = fs_err::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    inputs.sort();
    assert!(!inputs.is_empty(), "{} is empty", dir.display());
    for input in inputs {
        let bytes = fs_err::read(&input).unwrap();
        let name = input.file_name().map(Path::new).unwrap().display().to_string();
        let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| check(&bytes)));
        assert!(
            result.is_ok(),
            "fuzz/corpus/{target}/{name} breaks the invariant (see above)"
        );
    }
}

/// What the targets do with bytes that are not UTF-8: nothing.
fn text(check: impl Fn(&str)) -> impl Fn(&[u8]) {
    move |bytes| {
        if let Ok(text) = std::str::from_utf8(bytes) {
            check(text);
        }
    }
}

#[test]
fn manifest() {
    replay("manifest", text(pullseal::fuzzing::manifest));
}

#[test]
fn reference() {
    replay("reference", text(pullseal::fuzzing::reference));
}

#[test]
fn challenge() {
    replay("challenge", text(pullseal::fuzzing::challenge));
}

#[test]
fn krm() {
    replay("krm", text(pullseal::fuzzing::krm));
}

#[test]
fn settings() {
    replay("settings", text(pullseal::fuzzing::settings));
}

#[test]
fn catalog_schema() {
    replay("catalog", text(pullseal::fuzzing::catalog));
}

#[test]
fn certificate() {
    replay("certificate", text(pullseal::fuzzing::certificate));
}

#[test]
fn sops() {
    replay(
        "sops",
        text(|t| pullseal::fuzzing::sops(t, pullseal::fuzzing::test_identities())),
    );
}

#[test]
fn sops_write() {
    replay(
        "sops_write",
        text(|t| pullseal::fuzzing::sops_write(t, pullseal::fuzzing::test_identities())),
    );
}

#[test]
fn render() {
    replay("render", |bytes| {
        if let Some((choice, rest)) = bytes.split_first()
            && let Ok(text) = std::str::from_utf8(rest)
        {
            pullseal::fuzzing::render(catalog(), *choice, text);
        }
    });
}
