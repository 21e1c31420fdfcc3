//! Fuzz target: see `pullseal::fuzzing::sops_write` for the invariant it checks.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    if let Ok(text) = std::str::from_utf8(data) {
        pullseal::fuzzing::sops_write(text, pullseal::fuzzing::test_identities());
    }
});
