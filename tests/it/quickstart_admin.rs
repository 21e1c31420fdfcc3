//! Issue 8's "every command works on the shipped example": the admin's whole day on a copy of
//! `examples/quickstart`, as its README and the main README show the commands, with the real
//! `sops` reading back every file pullseal writes, the real `age` opening the data key for a
//! recipient pullseal added, and pullseal reading what `sops set` wrote.
//!
//! The quickstart's catalog was made by the real sops (`scripts/make-example-catalog`), so
//! the first pullseal edit is also an edit of a sops-written file.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use fs_err as fs;

use crate::peers;
use crate::support::{path, pullseal, transcript};

const HARBOR_PASSWORD: &str = "quickstart-harbor-first-password-7f3a";
const HARBOR_ROTATED: &str = "quickstart-harbor-rotated-password-91c2";

/// A copy of the quickstart directory, with the demo key as the admin's identity.
struct Quickstart {
    dir: tempfile::TempDir,
    /// Every output pullseal gave, for the leak check at the end.
    outputs: Vec<Output>,
}

impl Quickstart {
    fn new() -> Quickstart {
        let dir = tempfile::tempdir().unwrap();
        let from = path("examples/quickstart");
        for name in [
            "pullseal.catalog.yaml",
            "demo-age-key.txt",
            "demo-cluster.crt",
            "demo-cluster.key",
        ] {
            fs::copy(from.join(name), dir.path().join(name)).unwrap();
        }
        fs::create_dir(dir.path().join("manifests")).unwrap();
        for entry in fs::read_dir(from.join("manifests")).unwrap() {
            let entry = entry.unwrap();
            fs::copy(entry.path(), dir.path().join("manifests").join(entry.file_name())).unwrap();
        }
        Quickstart {
            dir,
            outputs: Vec::new(),
        }
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    fn catalog_bytes(&self) -> Vec<u8> {
        fs::read(self.path("pullseal.catalog.yaml")).unwrap()
    }

    /// `pullseal ARGS` from the quickstart directory, finding the catalog there and the key
    /// through `SOPS_AGE_KEY_FILE`, as the quickstart README has it.
    fn run(&mut self, args: &[&str], stdin: &str) -> Output {
        let out = pullseal()
            .args(args)
            .current_dir(self.dir.path())
            .env("SOPS_AGE_KEY_FILE", self.path("demo-age-key.txt"))
            .write_stdin(stdin)
            .output()
            .unwrap();
        self.outputs.push(out.clone());
        out
    }

    fn ok(&mut self, args: &[&str], stdin: &str) -> String {
        let out = self.run(args, stdin);
        assert!(out.status.success(), "{args:?}:\n{}", transcript(&out));
        String::from_utf8(out.stdout).unwrap()
    }

    /// The real `sops decrypt --extract` of one catalog value, with `key_file`.
    fn sops_extract(&self, key_file: &Path, extract: &str) -> Output {
        Command::new(peers::sops())
            .args(["decrypt", "--extract", extract])
            .arg(self.path("pullseal.catalog.yaml"))
            .env("SOPS_AGE_KEY_FILE", key_file)
            .env_remove("SOPS_AGE_KEY")
            .env("SOPS_DISABLE_VERSION_CHECK", "1")
            .output()
            .unwrap()
    }

    fn sops_value(&self, extract: &str) -> String {
        let out = self.sops_extract(&self.path("demo-age-key.txt"), extract);
        assert!(
            out.status.success(),
            "sops decrypt --extract {extract}:\n{}",
            transcript(&out)
        );
        String::from_utf8(out.stdout).unwrap()
    }

    /// Whether the real sops finds `extract` in the catalog at all.
    fn sops_has(&self, extract: &str) -> bool {
        self.sops_extract(&self.path("demo-age-key.txt"), extract)
            .status
            .success()
    }
}

#[test]
fn every_admin_command_works_on_the_quickstart_catalog() {
    let mut q = Quickstart::new();
    reading(&mut q);
    developer_side(&mut q);
    registry_edits(&mut q);
    rm_check(&mut q);
    clusters(&mut q);
    what_sops_writes(&mut q);
    rekey(&mut q);
    nothing_printed(&q);
}

/// Reading: names, types, servers and clusters; never a credential.
fn reading(q: &mut Quickstart) {
    let ls = q.ok(&["catalog", "ls", "--output", "json"], "");
    let ls: serde_json::Value = serde_json::from_str(&ls).unwrap();
    let text = ls.to_string();
    for name in ["company", "dockerhub", "quay-team", "demo"] {
        assert!(
            text.contains(&format!("\"{name}\"")),
            "catalog ls lacks {name}: {text}"
        );
    }
    let show = q.ok(&["catalog", "show", "quay-team"], "");
    assert!(show.contains("quay-team") && show.contains("quay.io"), "{show}");
}

/// The developer's side: the annotation to paste and a scaffolded workload that renders.
fn developer_side(q: &mut Quickstart) {
    let snippet = q.ok(&["annotation", "company", "--container", "web"], "");
    assert!(
        snippet.contains("pullseal.io/") && snippet.contains("company"),
        "{snippet}"
    );
    let scaffold = q.ok(
        &[
            "scaffold",
            "deployment",
            "--name",
            "api",
            "--registry",
            "company",
            "--repository",
            "shop/api",
            "--tag",
            "1.0.0",
            "--namespace",
            "shop",
        ],
        "",
    );
    let rendered = q.ok(&["render", "--cluster", "demo", "-"], &scaffold);
    assert!(
        rendered.contains("imagePullSecrets") && rendered.contains("kind: SealedSecret"),
        "{rendered}"
    );
    let usage = q.ok(&["usage", "manifests/", "--output", "json"], "");
    for name in ["company", "dockerhub", "quay-team"] {
        assert!(
            usage.contains(&format!("\"{name}\"")),
            "usage lacks {name}: {usage}"
        );
    }
}

/// add, set, rotate: each change is what the real sops reads back.
fn registry_edits(q: &mut Quickstart) {
    q.ok(
        &[
            "catalog",
            "add",
            "harbor",
            "--type",
            "generic",
            "--server",
            "harbor.example.com",
            "--username",
            "robot",
            "--password-stdin",
        ],
        HARBOR_PASSWORD,
    );
    assert_eq!(
        q.sops_value(r#"["registries"]["harbor"]["password"]"#),
        HARBOR_PASSWORD
    );
    q.ok(&["catalog", "set", "harbor", "--allow-namespace", "shop"], "");
    assert!(
        q.sops_value(r#"["registries"]["harbor"]["allow"]["namespaces"]"#)
            .contains("shop")
    );
    q.ok(
        &["catalog", "rotate", "harbor", "--password-stdin"],
        HARBOR_ROTATED,
    );
    assert_eq!(
        q.sops_value(r#"["registries"]["harbor"]["password"]"#),
        HARBOR_ROTATED
    );
    assert_eq!(q.sops_value(r#"["registries"]["harbor"]["username"]"#), "robot");
}

/// rm --check refuses while the quickstart's Deployment uses quay-team, naming it, and
/// leaves the file as it was; an unused registry goes.
fn rm_check(q: &mut Quickstart) {
    let before = q.catalog_bytes();
    let refused = q.run(&["catalog", "rm", "quay-team", "--check", "manifests/"], "");
    assert!(!refused.status.success(), "{}", transcript(&refused));
    let stderr = String::from_utf8_lossy(&refused.stderr);
    assert!(
        stderr.contains("shop.yaml") && stderr.contains("Deployment shop/web"),
        "{stderr}"
    );
    assert!(refused.stdout.is_empty());
    assert_eq!(q.catalog_bytes(), before, "a refused rm changed the catalog");
    q.ok(&["catalog", "rm", "harbor", "--check", "manifests/"], "");
    assert!(
        !q.sops_has(r#"["registries"]["harbor"]"#),
        "harbor is still in the catalog"
    );
}

/// Clusters: add, set, render for it (opened by the independent unsealer), rm.
fn clusters(q: &mut Quickstart) {
    q.ok(
        &[
            "catalog",
            "cluster",
            "add",
            "staging",
            "--cert",
            "demo-cluster.crt",
        ],
        "",
    );
    q.ok(
        &[
            "catalog",
            "cluster",
            "set",
            "staging",
            "--scope",
            "namespace-wide",
        ],
        "",
    );
    assert_eq!(
        q.sops_value(r#"["clusters"]["staging"]["scope"]"#),
        "namespace-wide"
    );
    let staging = q.ok(&["render", "--cluster", "staging", "manifests/"], "");
    assert!(
        staging.contains("sealedsecrets.bitnami.com/namespace-wide"),
        "{staging}"
    );
    let opened = peers::unseal(staging.as_bytes(), &q.path("demo-cluster.key"));
    let company = &opened["shop/pullseal-company"][".dockerconfigjson"];
    assert!(company.contains("registry.example.com:5000"), "{opened:?}");
    q.ok(&["catalog", "cluster", "rm", "staging"], "");
    assert!(!q.sops_has(r#"["clusters"]["staging"]"#));
}

/// What sops writes, pullseal reads and edits again.
fn what_sops_writes(q: &mut Quickstart) {
    let set = Command::new(peers::sops())
        .args(["set"])
        .arg(q.path("pullseal.catalog.yaml"))
        .args([r#"["registries"]["company"]["username"]"#, r#""ci-bot""#])
        .env("SOPS_AGE_KEY_FILE", q.path("demo-age-key.txt"))
        .env("SOPS_DISABLE_VERSION_CHECK", "1")
        .output()
        .unwrap();
    assert!(set.status.success(), "sops set:\n{}", transcript(&set));
    let demo = q.ok(&["render", "--cluster", "demo", "manifests/"], "");
    let opened = peers::unseal(demo.as_bytes(), &q.path("demo-cluster.key"));
    let company = &opened["shop/pullseal-company"][".dockerconfigjson"];
    assert!(
        company.contains("\"username\":\"ci-bot\""),
        "pullseal does not use what sops set wrote"
    );
    q.ok(&["catalog", "set", "company", "--email", "ci@example.com"], "");
    assert_eq!(q.sops_value(r#"["registries"]["company"]["username"]"#), "ci-bot");
}

/// rekey to a new admin made by the real age-keygen, dropping the demo recipient: the real
/// age opens the new stanza, the real sops decrypts with the new key and not the old one.
fn rekey(q: &mut Quickstart) {
    let keygen = Command::new(peers::bin_dir().join("age-keygen"))
        .arg("-o")
        .arg(q.path("new-admin.txt"))
        .output()
        .unwrap();
    assert!(keygen.status.success(), "age-keygen:\n{}", transcript(&keygen));
    let new_key = fs::read_to_string(q.path("new-admin.txt")).unwrap();
    let new_recipient = new_key
        .lines()
        .find_map(|l| l.strip_prefix("# public key: "))
        .unwrap()
        .to_owned();
    let demo_key = fs::read_to_string(q.path("demo-age-key.txt")).unwrap();
    let demo_recipient = demo_key
        .lines()
        .find_map(|l| l.strip_prefix("# public key: "))
        .unwrap()
        .to_owned();
    q.ok(
        &[
            "catalog",
            "rekey",
            "--add-age",
            &new_recipient,
            "--rm-age",
            &demo_recipient,
        ],
        "",
    );
    let with_new = q.sops_extract(
        &q.path("new-admin.txt"),
        r#"["registries"]["company"]["username"]"#,
    );
    assert!(with_new.status.success(), "{}", transcript(&with_new));
    assert_eq!(String::from_utf8_lossy(&with_new.stdout), "ci-bot");
    let with_old = q.sops_extract(
        &q.path("demo-age-key.txt"),
        r#"["registries"]["company"]["username"]"#,
    );
    assert!(
        !with_old.status.success(),
        "the removed recipient still opens the catalog"
    );
    let data_key = age_open_stanza(
        &fs::read_to_string(q.path("pullseal.catalog.yaml")).unwrap(),
        &q.path("new-admin.txt"),
    );
    assert_eq!(
        data_key.len(),
        32,
        "the age stanza does not hold a 32-byte sops data key"
    );
}

/// Nothing pullseal printed holds a credential it handled.
fn nothing_printed(q: &Quickstart) {
    for out in &q.outputs {
        let shown = format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        for secret in [HARBOR_PASSWORD, HARBOR_ROTATED] {
            assert!(!shown.contains(secret), "a credential was printed:\n{shown}");
        }
    }
}

/// The data key, opened from the catalog's one age stanza by the real `age -d`.
fn age_open_stanza(catalog: &str, identity: &Path) -> Vec<u8> {
    let begin = catalog.find("-----BEGIN AGE ENCRYPTED FILE-----").unwrap();
    let end_marker = "-----END AGE ENCRYPTED FILE-----";
    let end = catalog[begin..].find(end_marker).unwrap() + begin + end_marker.len();
    let armored: String = catalog[begin..end]
        .lines()
        .map(str::trim)
        .collect::<Vec<_>>()
        .join("\n")
        + "\n";
    let out = Command::new(peers::age())
        .arg("-d")
        .arg("-i")
        .arg(identity)
        .write_stdin_bytes(armored.as_bytes());
    assert!(out.status.success(), "age -d:\n{}", transcript(&out));
    out.stdout
}

/// `Command::output` with bytes on stdin.
trait WithStdin {
    fn write_stdin_bytes(&mut self, input: &[u8]) -> Output;
}

impl WithStdin for Command {
    fn write_stdin_bytes(&mut self, input: &[u8]) -> Output {
        use std::io::Write as _;
        let mut child = self
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        child.stdin.take().unwrap().write_all(input).unwrap();
        child.wait_with_output().unwrap()
    }
}
