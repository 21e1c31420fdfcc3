//! Fuzz target: see `pullseal::fuzzing::sops_write` for the invariant it checks.
#![no_main]

use std::sync::OnceLock;

/// The test identities of `testdata/sops` and the test catalog's, as `SOPS_AGE_KEY` holds them.
fn identities() -> &'static pullseal::sops::Identities {
    static IDENTITIES: OnceLock<pullseal::sops::Identities> = OnceLock::new();
    IDENTITIES.get_or_init(|| {
        let keys = concat!(
            include_str!("../../testdata/sops/both.txt"),
            "\n",
            include_str!("../../testdata/keys/age-test.txt")
        );
        pullseal::sops::Identities::discover(None, &|name| (name == "SOPS_AGE_KEY").then(|| keys.to_owned()))
            .expect("the test identities")
    })
}

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    if let Ok(text) = std::str::from_utf8(data) {
        pullseal::fuzzing::sops_write(text, identities());
    }
});
