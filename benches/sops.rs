//! `cargo bench --bench sops`: native sops encryption and decryption of a 2,000-entry catalog
//! (10,000 values), the size at which the real sops takes about 0.4 s to decrypt
//! (`shared/reference/formats-and-peers.md` §6). Timing lives here, never in tests.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::print_stdout,
    clippy::print_stderr,
    clippy::indexing_slicing,
    missing_docs
)]

use std::time::Instant;

use pullseal::sops::{
    self, EncryptOptions, Identities, KmsRecipients, LastModified, Randomness, Rule, Seed, Value,
};
use secrecy::{ExposeSecret as _, SecretBox, SecretString};

const ENTRIES: usize = 2_000;

fn catalog() -> Value {
    let s = |t: String| Value::Str(SecretString::from(t));
    let registries = (0..ENTRIES)
        .map(|i| {
            Value::Map(vec![
                ("name".to_owned(), s(format!("registry-{i}"))),
                ("server".to_owned(), s(format!("r{i}.example.com"))),
                ("username".to_owned(), s(format!("bot-{i}"))),
                ("password".to_owned(), s(format!("pw-{i}-{}", "x".repeat(24)))),
                ("email".to_owned(), s(format!("bot-{i}@example.com"))),
            ])
        })
        .collect();
    Value::Map(vec![("registries".to_owned(), Value::Seq(registries))])
}

fn main() {
    let identity = age::x25519::Identity::generate();
    let options = EncryptOptions {
        recipients: vec![identity.to_public()],
        kms: KmsRecipients::default(),
        rule: Rule::EncryptAll,
        mac_only_encrypted: false,
        last_modified: LastModified::from_unix(1_796_038_236).unwrap(),
    };
    let doc = [catalog()];
    let secret = identity.to_string().expose_secret().to_owned();
    let ids = Identities::discover(None, &|name| (name == "SOPS_AGE_KEY").then(|| secret.clone())).unwrap();
    let seed = Seed::new(SecretBox::new(Box::new([1u8; 32])));

    let time = |label: &str, f: &mut dyn FnMut()| {
        f();
        let runs = 10;
        let start = Instant::now();
        for _ in 0..runs {
            f();
        }
        println!(
            "{label}: {:.1} ms",
            start.elapsed().as_secs_f64() * 1000.0 / f64::from(runs)
        );
    };
    let text = sops::encrypt(&doc, &options, Randomness::Fresh).unwrap();
    println!(
        "{ENTRIES} entries, {} values, {} KB encrypted",
        ENTRIES * 5,
        text.len() / 1024
    );
    time("encrypt (fresh)", &mut || {
        sops::encrypt(&doc, &options, Randomness::Fresh).unwrap();
    });
    time("encrypt (derived)", &mut || {
        sops::encrypt(&doc, &options, Randomness::Derived(&seed)).unwrap();
    });
    let previous = sops::decrypt(&text, &ids).unwrap();
    time("encrypt (edit, every IV reused)", &mut || {
        sops::encrypt(previous.documents(), &options, Randomness::Edit(&previous)).unwrap();
    });
    time("decrypt", &mut || {
        sops::decrypt(&text, &ids).unwrap();
    });
}
