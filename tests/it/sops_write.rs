//! Files written by `pullseal::sops::encrypt`, checked with the real peers: sops 3.11 decrypts
//! them (MAC verified) to exactly the input tree, `sops set` and `sops edit` edit them and
//! pullseal reads the result, `age` opens the stanzas, an edit of a file the real sops
//! wrote changes only the edited value's line, and its comments come back where sops reads them.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::str::FromStr as _;

use fs_err as fs;
use pullseal::sops::{
    self, EncryptOptions, Identities, KmsRecipients, LastModified, Randomness, Rule, Seed, Value,
};
use secrecy::{ExposeSecret as _, SecretBox, SecretString};
use serde_json::json;

use crate::peers;
use crate::support::{AGE_KEY, path};

fn s(text: &str) -> Value {
    Value::Str(SecretString::from(text))
}

fn map(entries: Vec<(&str, Value)>) -> Value {
    Value::Map(entries.into_iter().map(|(k, v)| (k.to_owned(), v)).collect())
}

fn recipient_of(key_file: &Path) -> age::x25519::Recipient {
    let text = fs::read_to_string(key_file).unwrap();
    let public = text
        .lines()
        .find_map(|l| l.strip_prefix("# public key: "))
        .unwrap();
    age::x25519::Recipient::from_str(public).unwrap()
}

fn options(rule: Rule, recipients: Vec<age::x25519::Recipient>) -> EncryptOptions {
    EncryptOptions {
        recipients,
        kms: KmsRecipients::default(),
        rule,
        mac_only_encrypted: false,
        last_modified: LastModified::from_unix(1_796_038_236).unwrap(),
    }
}

fn test_key() -> PathBuf {
    path(AGE_KEY)
}

fn identities(key_file: &Path) -> Identities {
    Identities::discover(Some(key_file), &|_| None).unwrap()
}

/// Runs the real sops in `dir` with `key_file` as its only identity source.
fn sops_cmd(args: &[&str], dir: &Path, key_file: &Path) -> std::process::Output {
    peers::sops_with_key(key_file)
        .args(args)
        .current_dir(dir)
        .env("XDG_CONFIG_HOME", dir.join("no-config"))
        .output()
        .unwrap()
}

/// `sops decrypt --output-type json FILE` as JSON; panics with sops' stderr on failure.
fn sops_json(file: &Path, key_file: &Path) -> serde_json::Value {
    let out = peers::sops_with_key(key_file)
        .args(["decrypt", "--input-type", "yaml", "--output-type", "json"])
        .arg(file)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "sops decrypt failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

/// A sops file with its random parts (ciphertexts, stanza lines, time) blanked out.
fn shape(text: &str) -> String {
    let fields = regex::Regex::new(r"data:[^,]+,iv:[^,]+,tag:[^,]+,").unwrap();
    text.lines()
        .map(|l| {
            if l.starts_with("            ") && !l.contains("-----") {
                "            …".to_owned()
            } else if l.starts_with("    lastmodified: ") {
                "    lastmodified: …".to_owned()
            } else {
                fields.replace_all(l, "…").into_owned()
            }
        })
        .collect::<Vec<_>>()
        .join("\n")
}

fn write(dir: &Path, name: &str, text: &str) -> PathBuf {
    let file = dir.join(name);
    fs::write(&file, text).unwrap();
    file
}

/// A catalog-like tree with every type sops knows, and what `sops decrypt` prints for it.
fn rich() -> (Value, serde_json::Value) {
    let tree = map(vec![
        (
            "registries",
            Value::Seq(vec![
                map(vec![
                    ("name", s("ghcr.io")),
                    ("username", s("bot")),
                    ("password", s("s3cr3t: with # odd 'chars' \"and\" ünïcödé\n")),
                    ("port", Value::Int(443)),
                    ("ratio", Value::Float(1.5)),
                    ("whole", Value::Float(2.0)),
                    ("insecure", Value::Bool(false)),
                    ("empty", s("")),
                    ("nothing", Value::Null),
                ]),
                map(vec![("name", s("docker.io")), ("password", s("pw"))]),
            ]),
        ),
        (
            "nested",
            map(vec![
                ("a", map(vec![("b", s("deep"))])),
                ("list", Value::Seq(vec![Value::Seq(vec![s("x"), s("y")])])),
                ("none", Value::Map(Vec::new())),
            ]),
        ),
        ("big", Value::Int(-12_345_678_901)),
        ("looks_like_int", s("0443")),
        ("true", Value::Bool(true)),
    ]);
    let expected = json!({
        "registries": [
            {"name": "ghcr.io", "username": "bot", "password": "s3cr3t: with # odd 'chars' \"and\" ünïcödé\n",
             "port": 443, "ratio": 1.5, "whole": 2.0, "insecure": false, "empty": "", "nothing": null},
            {"name": "docker.io", "password": "pw"}
        ],
        "nested": {"a": {"b": "deep"}, "list": [["x", "y"]], "none": {}},
        "big": -12_345_678_901_i64,
        "looks_like_int": "0443",
        "true": true
    });
    (tree, expected)
}

fn flux_secret() -> Value {
    map(vec![
        ("apiVersion", s("v1")),
        ("kind", s("Secret")),
        (
            "metadata",
            map(vec![
                ("name", s("regcred")),
                ("namespace", s("flux-system")),
                ("labels", map(vec![("app", s("web"))])),
            ]),
        ),
        ("type", s("kubernetes.io/dockerconfigjson")),
        (
            "stringData",
            map(vec![(
                ".dockerconfigjson",
                s(r#"{"auths":{"ghcr.io":{"auth":"Ym90OnB3"}}}"#),
            )]),
        ),
    ])
}

fn flux_json() -> serde_json::Value {
    json!({
        "apiVersion": "v1", "kind": "Secret",
        "metadata": {"name": "regcred", "namespace": "flux-system", "labels": {"app": "web"}},
        "type": "kubernetes.io/dockerconfigjson",
        "stringData": {".dockerconfigjson": r#"{"auths":{"ghcr.io":{"auth":"Ym90OnB3"}}}"#}
    })
}

/// The JSON numbers sops prints for floats (`2.0` as `2`) compare by value.
fn same_json(a: &serde_json::Value, b: &serde_json::Value) -> bool {
    use serde_json::Value as J;
    match (a, b) {
        (J::Number(x), J::Number(y)) => x.as_f64() == y.as_f64(),
        (J::Array(x), J::Array(y)) => x.len() == y.len() && x.iter().zip(y).all(|(a, b)| same_json(a, b)),
        (J::Object(x), J::Object(y)) => {
            x.len() == y.len()
                && x.iter()
                    .zip(y)
                    .all(|((ka, a), (kb, b))| ka == kb && same_json(a, b))
        }
        _ => a == b,
    }
}

#[test]
fn real_sops_decrypts_a_pullseal_catalog_to_the_same_tree_and_pullseal_does_too() {
    let dir = tempfile::tempdir().unwrap();
    let (tree, expected) = rich();
    let text = sops::encrypt(
        &[tree],
        &options(Rule::EncryptAll, vec![recipient_of(&test_key())]),
        Randomness::Fresh,
    )
    .unwrap();
    let file = write(dir.path(), "catalog.sops.yaml", &text);
    let got = sops_json(&file, &test_key());
    assert!(same_json(&got, &expected), "{got:#}");
    // Key order survives too (the MAC depends on it).
    let out = sops_cmd(&["decrypt", "catalog.sops.yaml"], dir.path(), &test_key());
    let yaml = String::from_utf8(out.stdout).unwrap();
    let top: Vec<&str> = yaml
        .lines()
        .filter(|l| !l.starts_with(' '))
        .filter_map(|l| l.split(':').next())
        .collect();
    assert_eq!(
        top,
        ["registries", "nested", "big", "looks_like_int", "\"true\""],
        "{yaml}"
    );
    // sops encrypting the same plaintext lays the file out exactly as pullseal did.
    write(dir.path(), "plain.yaml", &yaml);
    let r = recipient_of(&test_key()).to_string();
    let out = sops_cmd(&["encrypt", "--age", &r, "plain.yaml"], dir.path(), &test_key());
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let theirs = String::from_utf8(out.stdout).unwrap();
    // sops' own decrypt printed the float 2.0 as `2`, which its encrypt then read as an int.
    let theirs = shape(&theirs).replace(
        "whole: ENC[AES256_GCM,…type:int]",
        "whole: ENC[AES256_GCM,…type:float]",
    );
    assert_eq!(shape(&text), theirs);
    let mine = sops::decrypt(&text, &identities(&test_key())).unwrap();
    let Some(Value::Seq(registries)) = mine.documents()[0].get("registries") else {
        panic!("registries")
    };
    assert!(matches!(registries[0].get("whole"), Some(Value::Float(f)) if f.to_bits() == 2f64.to_bits()));
    assert!(!text.contains("s3cr3t") && !text.contains("ghcr.io"));
}

#[test]
fn flux_mode_leaves_the_secret_readable_and_sops_decrypts_it() {
    let dir = tempfile::tempdir().unwrap();
    let seed = Seed::new(SecretBox::new(Box::new([5u8; 32])));
    for mac_only_encrypted in [false, true] {
        let mut opts = options(Rule::flux(), vec![recipient_of(&test_key())]);
        opts.mac_only_encrypted = mac_only_encrypted;
        let text = sops::encrypt(&[flux_secret()], &opts, Randomness::Derived(&seed)).unwrap();
        let head: Vec<&str> = text.lines().take(8).collect();
        assert_eq!(
            head,
            [
                "apiVersion: v1",
                "kind: Secret",
                "metadata:",
                "    name: regcred",
                "    namespace: flux-system",
                "    labels:",
                "        app: web",
                "type: kubernetes.io/dockerconfigjson",
            ]
        );
        assert!(text.contains("stringData:\n    .dockerconfigjson: ENC[AES256_GCM,data:"));
        assert!(!text.contains("Ym90OnB3"));
        let file = write(dir.path(), "secret.yaml", &text);
        assert_eq!(sops_json(&file, &test_key()), flux_json());
        // Without mac_only_encrypted the MAC covers the plain values too, as in sops: a
        // changed label is a MAC mismatch; with it, the change goes unnoticed (by design).
        write(dir.path(), "tampered.yaml", &text.replace("app: web", "app: wex"));
        let out = sops_cmd(&["decrypt", "tampered.yaml"], dir.path(), &test_key());
        assert_eq!(
            out.status.success(),
            mac_only_encrypted,
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        if !mac_only_encrypted {
            assert!(String::from_utf8_lossy(&out.stderr).contains("MAC mismatch"));
        }
    }
}

#[test]
fn derived_mode_is_byte_identical_and_each_recipient_opens_it() {
    let dir = tempfile::tempdir().unwrap();
    let second = dir.path().join("second.txt");
    let status = Command::new(peers::age().with_file_name("age-keygen"))
        .arg("-o")
        .arg(&second)
        .output()
        .unwrap();
    assert!(
        status.status.success(),
        "{}",
        String::from_utf8_lossy(&status.stderr)
    );
    let recipients = vec![recipient_of(&test_key()), recipient_of(&second)];
    let seed = Seed::new(SecretBox::new(Box::new([7u8; 32])));
    let (tree, expected) = rich();
    let opts = options(Rule::EncryptAll, recipients);
    let a = sops::encrypt(std::slice::from_ref(&tree), &opts, Randomness::Derived(&seed)).unwrap();
    let b = sops::encrypt(std::slice::from_ref(&tree), &opts, Randomness::Derived(&seed)).unwrap();
    assert_eq!(a, b);
    assert_eq!(a.matches("- recipient: age1").count(), 2);
    let file = write(dir.path(), "catalog.sops.yaml", &a);
    for key in [test_key(), second.clone()] {
        assert!(same_json(&sops_json(&file, &key), &expected), "{}", key.display());
        assert!(sops::decrypt(&a, &identities(&key)).is_ok());
    }
    // The `age` binary opens each stanza to the file's 32-byte data key.
    let data_key = sops::decrypt(&a, &identities(&test_key())).unwrap();
    let stanzas: Vec<String> = a
        .split("enc: |\n")
        .skip(1)
        .map(|rest| {
            rest.lines()
                .take_while(|l| !l.contains("lastmodified") && !l.contains("- recipient"))
                .fold(String::new(), |mut out, l| {
                    out.push_str(l.trim());
                    out.push('\n');
                    out
                })
        })
        .collect();
    assert_eq!(stanzas.len(), 2);
    for (stanza, key) in stanzas.iter().zip([test_key(), second]) {
        let armored = write(dir.path(), "stanza.age", stanza);
        let out = Command::new(peers::age())
            .arg("--decrypt")
            .arg("-i")
            .arg(&key)
            .arg(&armored)
            .output()
            .unwrap();
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        assert_eq!(
            out.stdout.as_slice(),
            data_key.data_key().expose_secret().as_slice()
        );
    }
}

#[test]
fn sops_set_and_sops_edit_work_on_a_pullseal_file_and_pullseal_reads_the_result() {
    let dir = tempfile::tempdir().unwrap();
    let (tree, _) = rich();
    let text = sops::encrypt(
        &[tree],
        &options(Rule::EncryptAll, vec![recipient_of(&test_key())]),
        Randomness::Fresh,
    )
    .unwrap();
    write(dir.path(), "catalog.sops.yaml", &text);
    let out = sops_cmd(
        &[
            "set",
            "catalog.sops.yaml",
            r#"["registries"][1]["password"]"#,
            r#""n3w""#,
        ],
        dir.path(),
        &test_key(),
    );
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    // sops edit with a scripted editor.
    let out = peers::sops_with_key(&test_key())
        .args(["edit", "catalog.sops.yaml"])
        .current_dir(dir.path())
        .env("EDITOR", "sed -i -e s/username:\\ bot/username:\\ robot/")
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let edited = fs::read_to_string(dir.path().join("catalog.sops.yaml")).unwrap();
    let d = sops::decrypt(&edited, &identities(&test_key())).unwrap();
    let Some(Value::Seq(registries)) = d.documents()[0].get("registries") else {
        panic!("registries")
    };
    let password = |i: usize| match registries[i].get("password") {
        Some(Value::Str(p)) => p.expose_secret().to_owned(),
        other => panic!("{other:?}"),
    };
    assert_eq!(password(1), "n3w");
    assert!(matches!(registries[0].get("username"), Some(Value::Str(u)) if u.expose_secret() == "robot"));
    assert!(password(0).starts_with("s3cr3t"));
}

/// The round trip the catalog commands rely on: a file the real sops wrote, decrypted by
/// pullseal, one value changed, written back in edit mode: only that value's line and the
/// `lastmodified`/`mac` lines differ from sops' file, and sops still decrypts it.
#[test]
fn an_edit_of_a_real_sops_file_changes_only_the_edited_line() {
    let dir = tempfile::tempdir().unwrap();
    let original = fs::read_to_string(path("testdata/sops/simple.enc.yaml")).unwrap();
    let key = path("testdata/sops/age-identity.txt");
    let previous = sops::decrypt(&original, &identities(&key)).unwrap();
    let mut doc = previous.documents()[0].clone();
    if let Value::Map(top) = &mut doc
        && let Value::Map(registries) = &mut top[0].1
        && let Value::Map(dockerhub) = &mut registries[1].1
    {
        dockerhub[1].1 = s("rotated");
    }
    let opts = options(Rule::EncryptAll, vec![recipient_of(&key)]);
    let text = sops::encrypt(&[doc], &opts, Randomness::Edit(&previous)).unwrap();
    let changed: Vec<&str> = original
        .lines()
        .zip(text.lines())
        .filter(|(a, b)| a != b)
        .map(|(_, b)| b.trim_start().split(':').next().unwrap())
        .collect();
    assert_eq!(changed, ["password", "lastmodified", "mac"], "{text}");
    assert_eq!(original.lines().count(), text.lines().count());
    let file = write(dir.path(), "simple.enc.yaml", &text);
    assert_eq!(
        sops_json(&file, &key),
        json!({"registries": {"ghcr": {"username": "bot", "password": "s3cr3t"},
                              "dockerhub": {"username": "bob", "password": "rotated"}}})
    );
}

proptest::proptest! {
    #![proptest_config(proptest::prelude::ProptestConfig::with_cases(12))]

    /// Generated string trees: what pullseal writes, the real sops decrypts to the same JSON.
    #[test]
    fn real_sops_agrees_on_generated_trees(
        entries in proptest::collection::btree_map("[a-zA-Z_.-][a-zA-Z0-9 _.:-]{0,8}", proptest::collection::vec("\\PC{0,12}", 1..3), 1..6)
    ) {
        let entries: Vec<_> = entries.into_iter().filter(|(k, _)| k != "sops" && !k.ends_with("_unencrypted")).collect();
        let tree = Value::Map(entries.iter().map(|(k, v)| (k.clone(), Value::Seq(v.iter().map(|x| s(x)).collect()))).collect());
        let want = serde_json::Value::Object(entries.iter().map(|(k, v)| (k.clone(), json!(v))).collect());
        let dir = tempfile::tempdir().unwrap();
        let text = sops::encrypt(&[tree], &options(Rule::EncryptAll, vec![recipient_of(&test_key())]), Randomness::Fresh).unwrap();
        let file = write(dir.path(), "gen.sops.yaml", &text);
        proptest::prop_assert_eq!(sops_json(&file, &test_key()), want);
    }
}

/// Keys longer than 128 bytes are explicit entries (`? key`), as go-yaml writes them: real sops
/// reads pullseal's file, and lays the same plaintext out the same way. (Found by the
/// `sops_write` fuzz target: a key over 1024 characters made a file nobody could read.)
#[test]
fn long_keys_are_written_as_sops_writes_them() {
    let dir = tempfile::tempdir().unwrap();
    let long = "k".repeat(1100);
    let tree = Value::Map(vec![
        (long.clone(), s("v")),
        (
            "list".to_owned(),
            Value::Seq(vec![Value::Map(vec![
                (long.clone(), map(vec![("a", s("x"))])),
                ("b".to_owned(), s("y")),
            ])]),
        ),
        (
            "nested".to_owned(),
            Value::Map(vec![(long.clone(), map(vec![("c", s("z")), ("d", s("w"))]))]),
        ),
        (format!("{long}2"), Value::Seq(vec![s("l1"), s("l2")])),
    ]);
    let text = sops::encrypt(
        &[tree],
        &options(Rule::EncryptAll, vec![recipient_of(&test_key())]),
        Randomness::Fresh,
    )
    .unwrap();
    let file = write(dir.path(), "long.sops.yaml", &text);
    let got = sops_json(&file, &test_key());
    let mut expected = serde_json::Map::new();
    expected.insert(long.clone(), json!("v"));
    let mut item = serde_json::Map::new();
    item.insert(long.clone(), json!({"a": "x"}));
    item.insert("b".to_owned(), json!("y"));
    expected.insert("list".to_owned(), json!([item]));
    let mut nested = serde_json::Map::new();
    nested.insert(long.clone(), json!({"c": "z", "d": "w"}));
    expected.insert("nested".to_owned(), serde_json::Value::Object(nested));
    expected.insert(format!("{long}2"), json!(["l1", "l2"]));
    assert!(same_json(&got, &serde_json::Value::Object(expected)), "{got:#}");
    assert!(sops::decrypt(&text, &identities(&test_key())).is_ok());
    // sops encrypting the same plaintext lays it out as pullseal did.
    let out = sops_cmd(&["decrypt", "long.sops.yaml"], dir.path(), &test_key());
    write(dir.path(), "plain.yaml", &String::from_utf8(out.stdout).unwrap());
    let r = recipient_of(&test_key()).to_string();
    let out = sops_cmd(&["encrypt", "--age", &r, "plain.yaml"], dir.path(), &test_key());
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let theirs = String::from_utf8(out.stdout).unwrap();
    assert_eq!(
        shape(&text).replace(&long, "K"),
        shape(&theirs).replace(&long, "K")
    );
}

/// The comment lines of a YAML text, in order, without their indentation.
fn comment_texts(text: &str) -> Vec<String> {
    text.lines()
        .map(str::trim_start)
        .filter(|l| l.starts_with('#'))
        .map(str::to_owned)
        .collect()
}

/// Comments in every layout sops keeps them in, through pullseal: a plain file with comments
/// is encrypted by the real sops, decrypted by pullseal and written back in edit mode (no value
/// changed); the real sops then decrypts every comment (no "unencrypted comment" warning, even
/// where sops could not read its own file back) and shows them all in their order, and
/// pullseal writes its own file again byte for byte.
#[test]
fn comments_in_every_layout_come_back_through_pullseal() {
    let layouts: [(&str, usize); 7] = [
        // After an empty mapping or list as the last value.
        (
            "a:\n    x: {}\n    # end of a\nb:\n    y: []\n    # end of b\nc: 1\n",
            2,
        ),
        (
            "l:\n    - {}\n    # end of l\nm:\n    n:\n        - {}\n    # end of m\nz: 1\n",
            2,
        ),
        // Head, before a key after a nested block, list comments, end of a mapping.
        (
            "# head\na: 1\n# before b\nb:\n    c:\n        d: 1\n    # before e\n    e: 2\n    # end of b\nf:\n    - x\n    # between\n    - y\n    # tail\n# end\n",
            7,
        ),
        // End of a mapping after a nested block: sops itself cannot read this one back.
        (
            "hub:\n    allow:\n        namespaces:\n            - a\n    # end of hub\nx: 1\n",
            1,
        ),
        // Several runs after nested blocks, at falling indentation.
        (
            "top:\n    hub:\n        allow:\n            b: 1\n            # end of allow\n        # end of hub\n    # end of top\nx: 1\n",
            3,
        ),
        // Lists of mappings, a comment before an item and at the end of one.
        (
            "l:\n    - name: a\n      # end of a\n    # before the second\n    - name: b\n      user: c\n# after l\n",
            3,
        ),
        // Comments at the end of lines, and text that only looks like one. (Not `e: {} # c`:
        // sops writes that comment inside a flow mapping broken over lines at the parent's
        // indentation, which go-yaml takes and the YAML reader pullseal uses refuses.)
        (
            "g: 'not # a comment' # but this\nh:\n    i: |\n        # not a comment\n        text\n    # after the block\nj: x # after j\n",
            3,
        ),
    ];
    let dir = tempfile::tempdir().unwrap();
    let key = test_key();
    let recipient = recipient_of(&key);
    for (index, (layout, count)) in layouts.iter().enumerate() {
        let plain = write(dir.path(), &format!("plain-{index}.yaml"), layout);
        let out = sops_cmd(
            &[
                "encrypt",
                "--age",
                &recipient.to_string(),
                plain.to_str().unwrap(),
            ],
            dir.path(),
            &key,
        );
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        let by_sops = String::from_utf8(out.stdout).unwrap();
        let d = sops::decrypt_for_edit(&by_sops, &identities(&key)).unwrap();
        assert_eq!(d.comments().unwrap().len(), *count, "layout {index}");
        let opts = options(Rule::EncryptAll, vec![recipient.clone()]);
        let ours =
            sops::encrypt_with_comments(d.documents(), d.comments().unwrap(), &opts, Randomness::Edit(&d))
                .unwrap();
        for line in ours.lines().map(str::trim_start).filter(|l| l.starts_with('#')) {
            assert!(
                line.starts_with("#ENC[AES256_GCM,") && line.ends_with(",type:comment]"),
                "{line}"
            );
        }
        let file = write(dir.path(), &format!("ours-{index}.yaml"), &ours);
        let out = sops_cmd(&["decrypt", file.to_str().unwrap()], dir.path(), &key);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(
            out.status.success() && !stderr.contains("unencrypted comment"),
            "layout {index}: {stderr}\n{ours}"
        );
        let shown = String::from_utf8(out.stdout).unwrap();
        // Every comment, in order; sops moves one at the end of a line above its key.
        let mut want = comment_texts(layout);
        if index == 6 {
            want = ["# but this", "# not a comment", "# after the block", "# after j"]
                .map(str::to_owned)
                .to_vec();
        }
        assert_eq!(comment_texts(&shown), want, "layout {index}:\n{shown}");
        // Written again from pullseal's own file: byte for byte.
        let d2 = sops::decrypt_for_edit(&ours, &identities(&key)).unwrap();
        let again = sops::encrypt_with_comments(
            d2.documents(),
            d2.comments().unwrap(),
            &opts,
            Randomness::Edit(&d2),
        )
        .unwrap();
        assert_eq!(again, ours, "layout {index}");
    }
}
