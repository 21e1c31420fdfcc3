//! `cargo bench --bench seal`: sealing one value for sealed-secrets (RSA-4096 OAEP-SHA-256 of
//! the session key, AES-256-GCM of the value), in-process, with criterion.
//!
//! - `seal/dockerconfigjson`: [`pullseal::seal::seal`] of a 120-byte `.dockerconfigjson`, the
//!   whole per-value cost of a render (derivation HMAC, RSA-OAEP over the Montgomery form
//!   prepared with the certificate, GCM, base64).
//! - `rsa-oaep-4096/*`: the RSA-OAEP step alone, pullseal's next to the `rsa` 0.9 crate it
//!   replaced (a general-purpose `modpow`), for the comparison the choice was made on.
//! - `certificate/from_pem`: reading a controller certificate, done once per cluster.
//!
//! Timing lives here, never in tests. `scripts/bench` runs it with short measurement times.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use std::hint::black_box;

use criterion::{Criterion, criterion_group, criterion_main};
use pullseal::seal::{Certificate, Scope, SealTarget, seal};
use rsa::pkcs8::DecodePrivateKey as _;
use sha2::Sha256;

const CERT: &str = include_str!("../testdata/keys/sealed-secrets-test.crt");
const KEY: &str = include_str!("../testdata/keys/sealed-secrets-test.key");

fn benches(c: &mut Criterion) {
    let cert = Certificate::from_pem(CERT).unwrap();
    let target = SealTarget {
        cluster: "prod-eu",
        namespace: "team-a",
        name: "pullseal-company",
        key: ".dockerconfigjson",
        scope: Scope::Strict,
    };
    let value = br#"{"auths":{"registry.example.com:5000":{"username":"robot","password":"0123456789abcdef0123456789abcdef","auth":"cm9ib3Q6MDEyMzQ1Njc4OWFiY2RlZg=="}}}"#;
    let derivation_key = [7u8; 32];
    c.bench_function("seal/dockerconfigjson", |b| {
        b.iter(|| seal(black_box(&cert), &target, black_box(value), &derivation_key).unwrap());
    });

    let mut group = c.benchmark_group("rsa-oaep-4096");
    // pullseal's OAEP step is only reachable through `seal`; the difference between this and
    // `seal/dockerconfigjson` is the HMAC, GCM and base64 (a few microseconds).
    group.bench_function("pullseal (crypto-bigint Montgomery, 17 multiplications)", |b| {
        b.iter(|| seal(black_box(&cert), &target, b"", &derivation_key).unwrap());
    });
    let public = rsa::RsaPrivateKey::from_pkcs8_pem(KEY).unwrap().to_public_key();
    let mut rng = <rand_chacha::ChaCha20Rng as rand_core::SeedableRng>::from_seed([1u8; 32]);
    group.bench_function("rsa 0.9 (num-bigint-dig modpow)", |b| {
        b.iter(|| {
            public
                .encrypt(
                    &mut rng,
                    rsa::Oaep::new_with_label::<Sha256, _>("team-a/pullseal-company"),
                    &[1u8; 32],
                )
                .unwrap()
        });
    });
    group.finish();

    c.bench_function("certificate/from_pem", |b| {
        b.iter(|| Certificate::from_pem(black_box(CERT)).unwrap());
    });
}

criterion_group!(seal_benches, benches);
criterion_main!(seal_benches);
