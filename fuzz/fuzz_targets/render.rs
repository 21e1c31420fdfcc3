//! Fuzz target: see `pullseal::fuzzing::render` for the invariant it checks. The first byte
//! picks the cluster (and whether a default namespace is given), the rest is the stream.
#![no_main]

use std::path::Path;
use std::sync::OnceLock;

/// The test catalog, decrypted once.
fn catalog() -> &'static pullseal::catalog::Catalog {
    static CATALOG: OnceLock<pullseal::catalog::Catalog> = OnceLock::new();
    CATALOG.get_or_init(|| {
        let key = include_str!("../../testdata/keys/age-test.txt");
        let ids = pullseal::sops::Identities::discover(None, &|name| {
            (name == "SOPS_AGE_KEY").then(|| key.to_owned())
        })
        .expect("the test identity");
        let text = include_str!("../../testdata/catalog/test.catalog.yaml");
        pullseal::catalog::Catalog::from_encrypted(text, Path::new("test.catalog.yaml"), &ids)
            .expect("the test catalog")
    })
}

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let Some((choice, rest)) = data.split_first() else {
        return;
    };
    if let Ok(text) = std::str::from_utf8(rest) {
        pullseal::fuzzing::render(catalog(), *choice, text);
    }
});
