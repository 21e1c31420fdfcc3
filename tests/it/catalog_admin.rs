//! `pullseal catalog`: the admin's commands end to end. Every state the commands write is
//! opened by the real `sops decrypt` and used by `pullseal render`; an edit changes only the
//! edited field's lines plus `lastmodified` and `mac`; a file edited by `sops set` edits
//! again; and no credential given to a command ever shows in its stdout or stderr.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use fs_err as fs;

use crate::peers;
use crate::support::{AGE_KEY, path, pullseal};

/// The TEST-ONLY age key's public half (testdata/keys/age-test.txt).
const RECIPIENT: &str = "age1fmscnwl456dfq4d3lyg3cyqj40wh6m9l8w4rk56yac7sfawf8u8sythj48";

/// Credentials unique enough to grep for in every output.
const QUAY_TOKEN: &str = "quay-TOKEN-7f3a9c1e-leakcheck";
const QUAY_TOKEN_2: &str = "quay-TOKEN-2b8d4e60-leakcheck";
const COMPANY_PASSWORD: &str = "company-PW-91c0ffee-leakcheck";
const AWS_SECRET: &str = "aws-SECRET-5e6f7a8b-leakcheck";
const GCR_KEY_MARK: &str = "gcr-PRIVATE-3c4d5e6f-leakcheck";

/// The plaintexts of the comments the comment tests write, which must never be on disk.
const COMMENT_MARKS: [&str; 3] = ["comment-MARK-a1b2", "comment-MARK-c3d4", "comment-MARK-e5f6"];

struct Admin {
    dir: tempfile::TempDir,
    /// The `TMPDIR` of every command: nothing may be left in it.
    tmp: tempfile::TempDir,
    /// The command lines run (for the leak check: secrets only through stdin or files).
    args: Vec<Vec<String>>,
    outputs: Vec<Output>,
    /// The files the test wrote itself, secrets in them on purpose.
    inputs: Vec<PathBuf>,
}

impl Admin {
    fn new() -> Admin {
        Admin {
            dir: tempfile::tempdir().unwrap(),
            tmp: tempfile::tempdir().unwrap(),
            args: Vec::new(),
            outputs: Vec::new(),
            inputs: Vec::new(),
        }
    }

    fn catalog(&self) -> PathBuf {
        self.dir.path().join("pullseal.catalog.yaml")
    }

    /// `pullseal ARGS` with the test's `TMPDIR`; the command line is kept for the leak check.
    fn command(&mut self, args: &[&str]) -> assert_cmd::Command {
        let mut cmd = pullseal();
        cmd.args(args).env("TMPDIR", self.tmp.path());
        self.args.push(args.iter().map(|a| (*a).to_owned()).collect());
        cmd
    }

    /// The arguments of `pullseal catalog ARGS` on the catalog.
    fn catalog_args(&self, args: &[&str]) -> Vec<String> {
        let mut all = vec!["catalog".to_owned()];
        all.extend(args.iter().map(|a| (*a).to_owned()));
        all.push("--catalog".to_owned());
        all.push(self.catalog().display().to_string());
        all.extend(["--age-key-file".to_owned(), AGE_KEY.to_owned()]);
        all
    }

    /// Runs `pullseal catalog ARGS` on the catalog, with `stdin`; keeps the output for the
    /// leak check.
    fn run(&mut self, args: &[&str], stdin: &str) -> Output {
        let all = self.catalog_args(args);
        let all: Vec<&str> = all.iter().map(String::as_str).collect();
        let out = self.command(&all).write_stdin(stdin).output().unwrap();
        self.outputs.push(out.clone());
        out
    }

    /// Runs `pullseal catalog ARGS` under the real `strace`, which kills it with SIGKILL as it
    /// enters the rename that would replace the catalog (the rename is also failed, so it
    /// cannot happen): the temporary file is written and synced, the catalog not yet replaced.
    fn killed_at_rename(&mut self, args: &[&str], stdin: &str) -> Output {
        let all = self.catalog_args(args);
        self.args.push(all.clone());
        let mut cmd = assert_cmd::Command::new(peers::strace());
        cmd.args(["-f", "-qq", "-o", "/dev/null", "-e", "trace=/^rename"])
            .args(["-e", "inject=/^rename:error=EIO:signal=KILL"])
            .arg(env!("CARGO_BIN_EXE_pullseal"))
            .args(&all)
            .current_dir(crate::support::root())
            .env("XDG_CONFIG_HOME", path("testdata/no-such-config"))
            .env("TMPDIR", self.tmp.path());
        for var in crate::support::PULLSEAL_VARS {
            cmd.env_remove(var);
        }
        let out = cmd.write_stdin(stdin).output().unwrap();
        self.outputs.push(out.clone());
        out
    }

    /// The temporary files of catalog writes in the catalog's directory.
    fn temporaries(&self) -> Vec<PathBuf> {
        let mut found: Vec<PathBuf> = fs::read_dir(self.dir.path())
            .unwrap()
            .map(|e| e.unwrap().path())
            .filter(|p| {
                p.file_name()
                    .and_then(|n| n.to_str())
                    .is_some_and(|n| n.starts_with(".pullseal-catalog-"))
            })
            .collect();
        found.sort();
        found
    }

    fn ok(&mut self, args: &[&str], stdin: &str) -> String {
        let out = self.run(args, stdin);
        assert!(
            out.status.success(),
            "{args:?} failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).unwrap()
    }

    fn file(&mut self, name: &str, content: &str) -> String {
        let path = self.dir.path().join(name);
        fs::write(&path, content).unwrap();
        self.inputs.push(path.clone());
        path.display().to_string()
    }

    /// A new age key made by the real `age-keygen` into the catalog's directory as `name`:
    /// its file and its recipient.
    fn age_key(&self, name: &str) -> (PathBuf, String) {
        let file = self.dir.path().join(name);
        let out = Command::new(peers::age().with_file_name("age-keygen"))
            .arg("-o")
            .arg(&file)
            .output()
            .unwrap();
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        let recipient = String::from_utf8_lossy(&out.stderr)
            .split_whitespace()
            .find(|w| w.starts_with("age1"))
            .unwrap()
            .to_owned();
        (file, recipient)
    }

    /// The real `sops decrypt` of the catalog as YAML, comments and all. sops must have
    /// decrypted every comment: it warns about one it could not.
    fn sops_yaml(&self) -> String {
        let out = peers::sops_with_key(&path(AGE_KEY))
            .args(["decrypt", "--input-type", "yaml", "--output-type", "yaml"])
            .arg(self.catalog())
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(out.status.success(), "sops decrypt failed: {stderr}");
        assert!(
            !stderr.contains("unencrypted comment"),
            "sops could not decrypt a comment: {stderr}"
        );
        String::from_utf8(out.stdout).unwrap()
    }

    /// The real `sops decrypt` of the catalog, as JSON.
    fn sops_json(&self) -> serde_json::Value {
        let out = peers::sops_with_key(&path(AGE_KEY))
            .args(["decrypt", "--output-type", "json"])
            .arg(self.catalog())
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "sops decrypt failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        serde_json::from_slice(&out.stdout).unwrap()
    }

    /// `pullseal render` of a pod using `registry` in namespace shop-a: succeeds and seals.
    fn render(&mut self, registry: &str) -> String {
        let manifest = format!(
            "apiVersion: v1\nkind: Pod\nmetadata:\n  name: web\n  namespace: shop-a\n  annotations:\n    pullseal.io/registries: {registry}\nspec:\n  containers:\n    - name: web\n      image: quay.io/acme/web:1\n"
        );
        let catalog = self.catalog().display().to_string();
        let out = self
            .command(&[
                "render",
                "--catalog",
                &catalog,
                "--age-key-file",
                AGE_KEY,
                "--cluster",
                "demo",
            ])
            .write_stdin(manifest)
            .output()
            .unwrap();
        self.outputs.push(out.clone());
        assert!(
            out.status.success(),
            "render failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).unwrap()
    }

    /// `pullseal catalog add quay-team` (quay.io/acme, `acme+ci`, [`QUAY_TOKEN`] on stdin).
    fn add_quay_team(&mut self) {
        self.ok(
            &[
                "add",
                "quay-team",
                "--type",
                "quay",
                "--server",
                "quay.io/acme",
                "--username",
                "acme+ci",
                "--password-stdin",
            ],
            QUAY_TOKEN,
        );
    }

    /// A catalog with a `seal: none` cluster `demo` and the registry `quay-team`.
    fn with_quay_team() -> Admin {
        let mut admin = Admin::new();
        admin.ok(&["init", "--age", RECIPIENT], "");
        admin.ok(&["cluster", "add", "demo", "--seal", "none"], "");
        admin.add_quay_team();
        admin
    }

    /// No credential (nor comment plaintext) anywhere but inside encrypted values: not in any
    /// command line (secrets go through stdin or files), not in anything a command printed,
    /// not in any file in the catalog's directory (the test's own input files aside) outside
    /// its `ENC[…]` values, and nothing at all left in the commands' `TMPDIR`.
    fn assert_no_leak(&self) {
        let secrets = [
            QUAY_TOKEN,
            QUAY_TOKEN_2,
            COMPANY_PASSWORD,
            AWS_SECRET,
            GCR_KEY_MARK,
        ]
        .into_iter()
        .chain(COMMENT_MARKS);
        let secrets: Vec<&str> = secrets.collect();
        assert!(!self.args.is_empty() && !self.outputs.is_empty());
        for args in &self.args {
            for secret in &secrets {
                assert!(
                    !args.iter().any(|a| a.contains(secret)),
                    "{secret} was an argument: {args:?}"
                );
            }
        }
        for out in &self.outputs {
            for stream in [&out.stdout, &out.stderr] {
                let text = String::from_utf8_lossy(stream);
                for secret in &secrets {
                    assert!(!text.contains(secret), "{secret} leaked:\n{text}");
                }
            }
        }
        let enc = regex::Regex::new(
            r"ENC\[AES256_GCM,data:[A-Za-z0-9+/=]*,iv:[A-Za-z0-9+/=]+,tag:[A-Za-z0-9+/=]+,type:[a-z]+\]",
        )
        .unwrap();
        let mut checked = 0;
        for entry in walkdir::WalkDir::new(self.dir.path()) {
            let entry = entry.unwrap();
            if !entry.file_type().is_file() || self.inputs.iter().any(|i| i == entry.path()) {
                continue;
            }
            let bytes = fs::read(entry.path()).unwrap();
            let text = String::from_utf8_lossy(&bytes);
            let outside = enc.replace_all(&text, "");
            for secret in &secrets {
                assert!(
                    !outside.contains(secret),
                    "{secret} is in {}:\n{text}",
                    entry.path().display()
                );
            }
            checked += 1;
        }
        assert!(checked > 0, "no file was checked");
        let left: Vec<_> = walkdir::WalkDir::new(self.tmp.path())
            .min_depth(1)
            .into_iter()
            .map(|e| e.unwrap().path().display().to_string())
            .collect();
        assert!(left.is_empty(), "left in TMPDIR: {left:?}");
    }
}

/// The keys of the lines that differ between two versions of a file edited in place, but
/// `lastmodified`.
fn changed_lines(before: &str, after: &str) -> Vec<String> {
    let (b, a): (Vec<&str>, Vec<&str>) = (before.lines().collect(), after.lines().collect());
    assert_eq!(b.len(), a.len(), "an in-place edit changed the line count");
    b.iter()
        .zip(&a)
        .filter(|(x, y)| x != y)
        .map(|(_, y)| y.trim_start().split(':').next().unwrap().to_owned())
        // Within the same second `lastmodified` stays; the MAC changes with the content.
        .filter(|key| key != "lastmodified")
        .collect()
}

fn gcr_key() -> String {
    format!(
        "{{\n  \"type\": \"service_account\",\n  \"project_id\": \"demo\",\n  \"private_key\": \"-----BEGIN PRIVATE KEY-----\\n{GCR_KEY_MARK}\\n-----END PRIVATE KEY-----\\n\"\n}}\n"
    )
}

#[cfg(unix)]
fn mode(path: &Path) -> u32 {
    use std::os::unix::fs::PermissionsExt as _;
    fs::metadata(path).unwrap().permissions().mode() & 0o777
}

#[test]
#[allow(clippy::too_many_lines)] // one story: init, add, list, rotate, set, rm
fn init_add_list_rotate_set_rm_round_trip() {
    let mut admin = Admin::new();
    admin.ok(&["init", "--age", RECIPIENT], "");
    assert_eq!(
        admin.sops_json(),
        serde_json::json!({"apiVersion": "pullseal.io/v1alpha1", "kind": "RegistryCatalog", "registries": {}, "clusters": {}})
    );
    #[cfg(unix)]
    assert_eq!(mode(&admin.catalog()), 0o600);
    // init never overwrites.
    let out = admin.run(&["init", "--age", RECIPIENT], "");
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("catalog init does not overwrite a file"));

    let cert = path("testdata/keys/sealed-secrets-test.crt");
    admin.ok(&["cluster", "add", "demo", "--cert", cert.to_str().unwrap()], "");
    admin.ok(
        &[
            "add",
            "quay-team",
            "--type",
            "quay",
            "--server",
            "quay.io/acme",
            "--username",
            "acme+ci",
            "--password-stdin",
            "--allow-namespace",
            "shop-*",
        ],
        &format!("{QUAY_TOKEN}\n"),
    );
    assert!(admin.render("quay-team").contains("kind: SealedSecret"));
    let company_pw = admin.file("company.pw", &format!("{COMPANY_PASSWORD}\n"));
    admin.ok(
        &[
            "add",
            "company",
            "--type",
            "generic",
            "--server",
            "quay.io",
            "--username",
            "ci",
            "--password-file",
            &company_pw,
            "--email",
            "ci@example.com",
        ],
        "",
    );
    admin.ok(&["add", "hub", "--type", "dockerhub", "--public"], "");
    let key = admin.file("sa.json", &gcr_key());
    admin.ok(
        &[
            "add",
            "gar",
            "--type",
            "gcr",
            "--server",
            "europe-west1-docker.pkg.dev/demo",
            "--key-file",
            &key,
        ],
        "",
    );
    let aws = admin.file("aws.key", AWS_SECRET);
    admin.ok(
        &[
            "add",
            "ecr",
            "--type",
            "ecr",
            "--server",
            "123456789012.dkr.ecr.eu-west-1.amazonaws.com",
            "--region",
            "eu-west-1",
            "--access-key-id",
            "AKIAIOSFODNN7EXAMPLE",
            "--secret-access-key-file",
            &aws,
        ],
        "",
    );
    let json = admin.sops_json();
    assert_eq!(json["registries"]["quay-team"]["password"], QUAY_TOKEN);
    assert_eq!(json["registries"]["company"]["password"], COMPANY_PASSWORD);
    assert_eq!(
        json["registries"]["gar"]["password"],
        gcr_key(),
        "a key file is kept byte for byte"
    );
    assert_eq!(json["registries"]["ecr"]["secretAccessKey"], AWS_SECRET);
    assert_eq!(json["registries"]["hub"]["public"], true);
    assert!(admin.render("company").contains("kind: SealedSecret"));

    // Refusals name the registry and field as the loader does, and write nothing.
    let before = fs::read_to_string(admin.catalog()).unwrap();
    let refusals = [
        admin.run(
            &[
                "add",
                "company",
                "--type",
                "generic",
                "--server",
                "x.io",
                "--username",
                "u",
                "--password-stdin",
            ],
            "p",
        ),
        admin.run(&["add", "Bad_Name", "--type", "dockerhub", "--public"], ""),
        admin.run(
            &[
                "add",
                "quay2",
                "--type",
                "quay",
                "--server",
                "quay.io",
                "--username",
                "acme+ci",
            ],
            "",
        ),
        admin.run(
            &[
                "add",
                "ecr2",
                "--type",
                "ecr",
                "--server",
                "123456789012.dkr.ecr.eu-west-1.amazonaws.com",
            ],
            "",
        ),
    ];
    let stderr: Vec<String> = refusals
        .iter()
        .map(|o| {
            assert_eq!(o.status.code(), Some(2), "{}", String::from_utf8_lossy(&o.stderr));
            assert!(o.stdout.is_empty());
            // The error line and the problem lines; not the hint.
            String::from_utf8_lossy(&o.stderr)
                .lines()
                .filter(|l| l.starts_with("error: ") || l.starts_with("  - "))
                .collect::<Vec<_>>()
                .join("\n")
        })
        .collect();
    let shown = stderr
        .join("\n")
        .replace(&*admin.dir.path().to_string_lossy(), "[tmp]");
    insta::assert_snapshot!(shown, @r#"
    error: the catalog already has a registry named company; use catalog set or rotate to change it, or rm it first
    error: refusing to write [tmp]/pullseal.catalog.yaml: the catalog would not be valid:
      - registries.Bad_Name: registry name "Bad_Name" is not a DNS-1123 label (lower-case letters, digits and '-', at most 63)
    error: refusing to write [tmp]/pullseal.catalog.yaml: the catalog would not be valid:
      - registries.quay2.password: is required
    error: refusing to write [tmp]/pullseal.catalog.yaml: the catalog would not be valid:
      - registries.ecr2.region: is required
      - registries.ecr2.accessKeyId: is required
      - registries.ecr2.secretAccessKey: is required
    "#);
    assert_eq!(fs::read_to_string(admin.catalog()).unwrap(), before);

    // ls and show: names, types, servers, rules, clusters; never a credential.
    let ls = admin.ok(&["ls"], "");
    insta::assert_snapshot!(ls, @r"
    REGISTRY   TYPE       SERVER                                        CREDENTIALS  ALLOW
    company    generic    quay.io                                       basic        -
    ecr        ecr        123456789012.dkr.ecr.eu-west-1.amazonaws.com  aws          -
    gar        gcr        europe-west1-docker.pkg.dev/demo              basic        -
    hub        dockerhub  docker.io                                     anonymous    -
    quay-team  quay       quay.io/acme                                  basic        namespaces=shop-*

    CLUSTER  SEAL            SCOPE   CERTIFICATE EXPIRES   KUBELET CREDENTIALS
    demo     sealed-secrets  strict  2126-11-05T12:13:32Z  -
    ");
    let json: serde_json::Value = serde_json::from_str(&admin.ok(&["ls", "--output", "json"], "")).unwrap();
    assert_eq!(json["registries"].as_array().unwrap().len(), 5);
    assert_eq!(json["clusters"][0]["certificateNotAfter"], "2126-11-05T12:13:32Z");
    let show = admin.ok(&["show", "ecr"], "");
    insta::assert_snapshot!(show, @r"
    name:         ecr
    type:         ecr
    server:       123456789012.dkr.ecr.eu-west-1.amazonaws.com
    credentials:  aws
    region:       eu-west-1
    refresh:      external-secrets
    allow:        -
    clusters:     demo
    ");

    // rotate: the password line, lastmodified and mac change; nothing else.
    let before = fs::read_to_string(admin.catalog()).unwrap();
    admin.ok(&["rotate", "quay-team", "--password-stdin"], QUAY_TOKEN_2);
    let after = fs::read_to_string(admin.catalog()).unwrap();
    assert_eq!(changed_lines(&before, &after), ["password", "mac"]);
    let json = admin.sops_json();
    assert_eq!(json["registries"]["quay-team"]["password"], QUAY_TOKEN_2);
    assert_eq!(json["registries"]["company"]["password"], COMPANY_PASSWORD);
    assert!(admin.render("quay-team").contains("kind: SealedSecret"));

    // set keeps the mode of the file and changes only the edited field's line.
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        fs::set_permissions(admin.catalog(), std::fs::Permissions::from_mode(0o640)).unwrap();
    }
    let before = fs::read_to_string(admin.catalog()).unwrap();
    admin.ok(&["set", "company", "--email", "ops@example.com"], "");
    let after = fs::read_to_string(admin.catalog()).unwrap();
    assert_eq!(changed_lines(&before, &after), ["email", "mac"]);
    #[cfg(unix)]
    assert_eq!(mode(&admin.catalog()), 0o640);
    assert_eq!(
        admin.sops_json()["registries"]["company"]["email"],
        "ops@example.com"
    );

    // rm, of registries and of the cluster, down to an empty catalog again.
    for name in ["gar", "ecr", "hub", "company"] {
        admin.ok(&["rm", name], "");
    }
    let json = admin.sops_json();
    let names: Vec<&String> = json["registries"].as_object().unwrap().keys().collect();
    assert_eq!(names, ["quay-team"]);
    assert!(admin.render("quay-team").contains("kind: SealedSecret"));
    let out = admin.run(&["rm", "gar"], "");
    assert_eq!(out.status.code(), Some(2));
    admin.ok(&["rm", "quay-team"], "");
    admin.ok(&["cluster", "rm", "demo"], "");
    assert_eq!(
        admin.sops_json(),
        serde_json::json!({"apiVersion": "pullseal.io/v1alpha1", "kind": "RegistryCatalog", "registries": {}, "clusters": {}})
    );
    // No temporary file is left behind by any write.
    let left: Vec<String> = fs::read_dir(admin.dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .filter(|n| n.starts_with(".pullseal-catalog-"))
        .collect();
    assert!(left.is_empty(), "{left:?}");
    admin.assert_no_leak();
}

/// A catalog changed by the real `sops set` edits again with pullseal, and the change made by
/// sops survives pullseal's edit.
#[test]
fn sops_set_then_pullseal_rotate() {
    let mut admin = Admin::new();
    admin.ok(&["init", "--age", RECIPIENT], "");
    admin.ok(&["cluster", "add", "demo", "--seal", "none"], "");
    admin.ok(
        &[
            "add",
            "company",
            "--type",
            "generic",
            "--server",
            "quay.io",
            "--username",
            "ci",
            "--password-stdin",
        ],
        COMPANY_PASSWORD,
    );
    let out = peers::sops_with_key(&path(AGE_KEY))
        .args(["set"])
        .arg(admin.catalog())
        .args([r#"["registries"]["company"]["email"]"#, r#""ci@example.com""#])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "sops set: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    admin.ok(&["rotate", "company", "--password-stdin"], QUAY_TOKEN);
    let json = admin.sops_json();
    assert_eq!(json["registries"]["company"]["email"], "ci@example.com");
    assert_eq!(json["registries"]["company"]["password"], QUAY_TOKEN);
    admin.assert_no_leak();
}

/// Secrets are never arguments: there is no --password option, and rotate needs one given on
/// stdin or in a file.
#[test]
fn secrets_are_never_arguments() {
    let mut admin = Admin::new();
    admin.ok(&["init", "--age", RECIPIENT], "");
    let out = admin.run(
        &[
            "add",
            "c",
            "--type",
            "generic",
            "--server",
            "r.io",
            "--username",
            "u",
            "--password",
            "x",
        ],
        "",
    );
    assert_eq!(out.status.code(), Some(2));
    admin.ok(
        &[
            "add",
            "c",
            "--type",
            "generic",
            "--server",
            "r.io",
            "--username",
            "u",
            "--password-stdin",
        ],
        "pw\n",
    );
    let out = admin.run(&["rotate", "c"], "");
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("needs the new credential"));
    let out = admin.run(&["rotate", "c", "--password-stdin"], "\n");
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("--password-stdin: the secret is empty"));
}

/// Every catalog command's help shows an example.
#[test]
fn every_catalog_command_shows_an_example() {
    let mut commands = vec![
        vec!["catalog".to_owned()],
        vec!["catalog".to_owned(), "cluster".to_owned()],
    ];
    commands.extend(catalog_commands().into_iter().map(|c| {
        std::iter::once("catalog")
            .chain(c.split(' '))
            .map(str::to_owned)
            .collect()
    }));
    assert!(commands.len() > 12, "{commands:?}");
    for command in commands {
        let out = pullseal().args(&command).arg("--help").output().unwrap();
        let help = String::from_utf8_lossy(&out.stdout);
        assert!(
            help.contains("Example"),
            "{command:?} --help has no example:\n{help}"
        );
    }
}

/// The subcommands `pullseal ARGS --help` lists, `help` aside.
fn subcommands(args: &[&str]) -> Vec<String> {
    let out = pullseal().args(args).arg("--help").output().unwrap();
    let help = String::from_utf8(out.stdout).unwrap();
    help.split_once("Commands:\n")
        .unwrap()
        .1
        .lines()
        .take_while(|l| !l.trim().is_empty())
        .filter_map(|l| l.split_whitespace().next())
        .filter(|c| *c != "help")
        .map(str::to_owned)
        .collect()
}

/// Every command of `pullseal catalog`, as its help lists them: `add`, ..., `cluster add`.
fn catalog_commands() -> Vec<String> {
    let mut all = Vec::new();
    for command in subcommands(&["catalog"]) {
        if command == "cluster" {
            all.extend(
                subcommands(&["catalog", "cluster"])
                    .into_iter()
                    .map(|c| format!("cluster {c}")),
            );
        } else {
            all.push(command);
        }
    }
    all
}

/// A certificate that expires within 30 days is a warning when the cluster is added.
#[test]
fn a_certificate_near_its_end_is_a_warning() {
    let mut admin = Admin::new();
    admin.ok(&["init", "--age", RECIPIENT], "");
    // The expired certificate is past its end: the schema accepts it, the warning says so.
    let cert = path("testdata/keys/sealed-secrets-expired.crt");
    let out = admin.run(&["cluster", "add", "old", "--cert", cert.to_str().unwrap()], "");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("warning: cluster old: the sealing certificate expired at 2001-01-01T00:00:00Z"),
        "{stderr}"
    );
}

/// A Flux cluster made from the command line: `cluster add --seal sops --age-recipient R`
/// takes no certificate, and the catalog renders for it a Secret the real sops opens.
#[test]
fn a_sops_cluster_is_added_and_renders_for_flux() {
    let mut admin = Admin::new();
    admin.ok(&["init", "--age", RECIPIENT], "");
    admin.ok(
        &[
            "cluster",
            "add",
            "flux",
            "--seal",
            "sops",
            "--age-recipient",
            RECIPIENT,
        ],
        "",
    );
    admin.add_quay_team();
    let json = admin.sops_json();
    assert_eq!(json["clusters"]["flux"]["seal"], "sops");
    assert_eq!(json["clusters"]["flux"]["ageRecipients"][0], RECIPIENT);
    let catalog = admin.catalog().display().to_string();
    let out = admin
        .command(&["render", "--cluster", "flux", "--catalog", &catalog, "--age-key-file", AGE_KEY])
        .write_stdin("apiVersion: v1\nkind: Pod\nmetadata: {name: web, namespace: shop, annotations: {pullseal.io/registries: quay-team}}\nspec: {containers: [{name: web, image: quay.io/acme/web:1}]}\n")
        .output()
        .unwrap();
    admin.outputs.push(out.clone());
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(
        text.contains("\nsops:\n") && text.contains("kind: Secret\n"),
        "{text}"
    );
    // Without recipients a sops cluster is refused by the loader's own check.
    let out = admin.run(&["cluster", "add", "bare", "--seal", "sops"], "");
    assert_eq!(
        out.status.code(),
        Some(2),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("ageRecipients"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    admin.assert_no_leak();
}

/// `catalog rekey`: a new admin's key is added and the old one removed; the real sops opens
/// the result with the new key only, the content is the same, and every value's ciphertext
/// changed (a new data key), so the removed key holder learns nothing from later versions.
#[test]
fn rekey_moves_the_catalog_to_new_recipients_under_a_new_data_key() {
    let mut admin = Admin::with_quay_team();
    let before = fs::read_to_string(admin.catalog()).unwrap();
    let (new_key, new_recipient) = admin.age_key("new-admin.txt");
    // Removing a recipient the catalog does not have, or the last one, is refused.
    let out = admin.run(&["rekey", "--rm-age", &new_recipient], "");
    assert_eq!(
        out.status.code(),
        Some(2),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let out = admin.run(&["rekey", "--rm-age", RECIPIENT], "");
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("no recipient"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(fs::read_to_string(admin.catalog()).unwrap(), before);
    admin.ok(&["rekey", "--add-age", &new_recipient, "--rm-age", RECIPIENT], "");
    let after = fs::read_to_string(admin.catalog()).unwrap();
    assert!(
        after.contains(&new_recipient) && !after.contains(RECIPIENT),
        "{after}"
    );
    let encrypted = |text: &str| -> Vec<String> {
        text.lines()
            .filter(|l| l.contains("ENC["))
            .map(str::to_owned)
            .collect()
    };
    for line in encrypted(&after) {
        assert!(!encrypted(&before).contains(&line), "kept ciphertext: {line}");
    }
    let sops = |key: &std::path::Path| {
        peers::sops_with_key(key)
            .args(["decrypt", "--output-type", "json"])
            .arg(admin.catalog())
            .output()
            .unwrap()
    };
    let opened = sops(&new_key);
    assert!(
        opened.status.success(),
        "{}",
        String::from_utf8_lossy(&opened.stderr)
    );
    let json: serde_json::Value = serde_json::from_slice(&opened.stdout).unwrap();
    assert_eq!(json["registries"]["quay-team"]["password"], QUAY_TOKEN);
    assert!(
        !sops(&path(AGE_KEY)).status.success(),
        "the removed key still opens the catalog"
    );
    admin.assert_no_leak();
}

/// `catalog rm --check`: refused while the manifests still use the registry, naming each
/// workload as render would; the catalog is untouched; once no workload uses it, it goes.
#[test]
fn rm_check_refuses_while_a_workload_uses_the_registry() {
    let mut admin = Admin::with_quay_team();
    let used = admin.file(
        "web.yaml",
        "apiVersion: v1\nkind: Pod\nmetadata: {name: web, namespace: shop, annotations: {pullseal.io/registries: quay-team}}\nspec: {containers: [{name: web, image: quay.io/acme/web:1}]}\n",
    );
    let before = fs::read_to_string(admin.catalog()).unwrap();
    let out = admin.run(&["rm", "quay-team", "--check", &used], "");
    assert_eq!(
        out.status.code(),
        Some(2),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("registry quay-team is still used by the --check manifests, so it is kept:")
            && stderr.contains("web.yaml: document 1: Pod shop/web"),
        "{stderr}"
    );
    assert_eq!(fs::read_to_string(admin.catalog()).unwrap(), before);
    let unused = admin.file(
        "other.yaml",
        "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: c}\n",
    );
    admin.ok(&["rm", "quay-team", "--check", &unused], "");
    assert!(admin.sops_json()["registries"].as_object().unwrap().is_empty());
    admin.assert_no_leak();
}

/// Runs the real `sops` on `file` with the test key.
fn sops_run(args: &[&str], file: &Path, env: &[(&str, &Path)]) -> Output {
    let mut cmd = peers::sops_with_key(&path(AGE_KEY));
    cmd.args(args).arg(file);
    for (k, v) in env {
        cmd.env(k, v);
    }
    let out = cmd.output().unwrap();
    assert!(
        out.status.success(),
        "sops {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

/// Every comment line of an encrypted catalog is `#ENC[…,type:comment]`: no comment is on
/// disk in the clear.
fn assert_comments_encrypted(catalog: &str) {
    for line in catalog.lines() {
        let line = line.trim_start();
        if line.starts_with('#') {
            assert!(
                line.starts_with("#ENC[AES256_GCM,") && line.ends_with(",type:comment]"),
                "a comment in the clear: {line}"
            );
        }
    }
}

/// A commented catalog as an admin writes it, for `sops encrypt`. Every kind of place sops
/// keeps a comment in: the document's head, before a top-level key, before the first key of a
/// mapping and before a later one, inside lists, at the end of a mapping, at the end of the
/// document, and at the end of a line (which sops moves above its key).
fn commented_catalog() -> String {
    format!(
        "# The demo catalog {a}
# second line of the head
apiVersion: pullseal.io/v1alpha1
kind: RegistryCatalog # inline, sops moves it above its key
# the registries
registries:
    # Quay, team A {c}
    quay-team:
        type: quay
        server: quay.io/acme
        # the robot account
        username: acme+ci
        password: {QUAY_TOKEN}
        allow:
            namespaces:
                # the shop
                - shop-*
                # between items
                - web
                # after the last item
    # the company registry
    company:
        type: generic
        server: quay.io
        username: ci
        password: {COMPANY_PASSWORD}
        # end of company {e}
    # end of registries
# the clusters
clusters:
    demo:
        seal: none
        # end of demo
# end of the catalog
",
        a = COMMENT_MARKS[0],
        c = COMMENT_MARKS[1],
        e = COMMENT_MARKS[2],
    )
}

/// Issue 8: "Comments and key order survive an edit by either tool". A commented catalog made
/// by the real `sops encrypt` is edited by every pullseal command that writes; after each,
/// the real `sops decrypt` shows every comment where it was (all decrypted: sops warns about
/// one it cannot open) and the keys in their order. An unchanged comment keeps its
/// ciphertext like an unchanged value, and no comment is ever on disk in the clear.
#[test]
#[allow(clippy::too_many_lines)] // one story: every writing command on one commented catalog
fn comments_of_a_sops_catalog_survive_every_pullseal_edit() {
    let mut admin = Admin::new();
    let plain = admin.dir.path().join("plain.yaml");
    fs::write(&plain, commented_catalog()).unwrap();
    admin.inputs.push(plain.clone());
    let out = sops_run(
        &[
            "encrypt",
            "--age",
            RECIPIENT,
            "--input-type",
            "yaml",
            "--output-type",
            "yaml",
        ],
        &plain,
        &[],
    );
    fs::write(admin.catalog(), &out.stdout).unwrap();
    // sops' own reading: the inline comment is moved above its key, nothing else changes.
    let mut want = commented_catalog().replace(
        "kind: RegistryCatalog # inline, sops moves it above its key\n",
        "# inline, sops moves it above its key\nkind: RegistryCatalog\n",
    );
    assert_eq!(admin.sops_yaml(), want);

    // rotate: the password line, lastmodified and mac change, nothing else: every comment
    // keeps its ciphertext.
    let before = fs::read_to_string(admin.catalog()).unwrap();
    admin.ok(&["rotate", "quay-team", "--password-stdin"], QUAY_TOKEN_2);
    let after = fs::read_to_string(admin.catalog()).unwrap();
    assert_eq!(changed_lines(&before, &after), ["password", "mac"]);
    want = want.replace(QUAY_TOKEN, QUAY_TOKEN_2);
    assert_eq!(admin.sops_yaml(), want);

    // set: a new field goes after the last one; the comments stay where they were.
    admin.ok(&["set", "company", "--email", "ops@example.com"], "");
    want = want.replace(
        &format!("        password: {COMPANY_PASSWORD}\n"),
        &format!("        password: {COMPANY_PASSWORD}\n        email: ops@example.com\n"),
    );
    assert_eq!(admin.sops_yaml(), want);
    // set in place (a new list replaces the old one, its comments kept by position).
    let before = fs::read_to_string(admin.catalog()).unwrap();
    admin.ok(
        &[
            "set",
            "quay-team",
            "--allow-namespace",
            "shop-*",
            "--allow-namespace",
            "api",
        ],
        "",
    );
    let after = fs::read_to_string(admin.catalog()).unwrap();
    // The second item's line, and mac.
    assert_eq!(changed_lines(&before, &after), ["- ENC[AES256_GCM,data", "mac"]);
    want = want.replace("                - web\n", "                - api\n");
    assert_eq!(admin.sops_yaml(), want);

    // add: the new registry comes after the last one, after the registries' end comment (as
    // in sops' own tree), so the comment keeps its place and indentation.
    admin.ok(&["add", "hub", "--type", "dockerhub", "--public"], "");
    want = want.replace(
        "    # end of registries\n",
        "    # end of registries\n    hub:\n        type: dockerhub\n        public: true\n",
    );
    assert_eq!(admin.sops_yaml(), want);

    // rm: the registry goes with the comments in it and right before it; the others stay.
    admin.ok(&["rm", "company"], "");
    let company = want
        .split_once("    # the company registry\n")
        .unwrap()
        .1
        .split_once("    # end of registries\n")
        .unwrap()
        .0
        .to_owned();
    want = want.replace(&format!("    # the company registry\n{company}"), "");
    assert!(!want.contains("company") && want.contains("# end of registries"));
    assert_eq!(admin.sops_yaml(), want);

    // cluster set: a new list field goes after the cluster's end comment.
    admin.ok(&["cluster", "set", "demo", "--kubelet-credentials", "quay-*"], "");
    want = want.replace(
        "        # end of demo\n",
        "        # end of demo\n        kubeletCredentials:\n            - quay-*\n",
    );
    assert_eq!(admin.sops_yaml(), want);

    // cluster add and rm: a new cluster after the others, removed again.
    admin.ok(&["cluster", "add", "extra", "--seal", "none"], "");
    assert_eq!(
        admin.sops_yaml(),
        want.replace(
            "# end of the catalog\n",
            "    extra:\n        seal: none\n# end of the catalog\n"
        )
    );
    admin.ok(&["cluster", "rm", "extra"], "");
    assert_eq!(admin.sops_yaml(), want);

    // rekey: a new data key, so every value and comment gets new ciphertext; the same text.
    let before = fs::read_to_string(admin.catalog()).unwrap();
    let (second, second_recipient) = admin.age_key("second.txt");
    admin.inputs.push(second.clone());
    admin.ok(&["rekey", "--add-age", &second_recipient], "");
    let after = fs::read_to_string(admin.catalog()).unwrap();
    let comments = |text: &str| -> Vec<String> {
        text.lines()
            .filter(|l| l.contains("type:comment]"))
            .map(str::to_owned)
            .collect()
    };
    assert_eq!(
        comments(&after).len(),
        want.lines().filter(|l| l.trim_start().starts_with('#')).count()
    );
    assert_eq!(comments(&before).len(), comments(&after).len());
    for line in comments(&after) {
        assert!(!comments(&before).contains(&line), "kept ciphertext: {line}");
    }
    assert_eq!(admin.sops_yaml(), want);
    // render reads it (demo's kubelet pulls quay-* itself, so no secret is made).
    assert!(admin.render("quay-team").contains("kind: Pod\n"));

    assert_comments_encrypted(&after);
    admin.assert_no_leak();
}

/// The other way: a catalog pullseal wrote gets comments from the real `sops edit` (an
/// editor script adds them) and a value from `sops set`; pullseal opens it, edits it twice,
/// and sops shows every comment where it was added.
#[test]
fn comments_added_with_sops_edit_survive_pullseal_edits() {
    let mut admin = Admin::with_quay_team();
    admin.ok(
        &[
            "set",
            "quay-team",
            "--allow-namespace",
            "shop-*",
            "--allow-namespace",
            "web",
        ],
        "",
    );
    let [a, c, e] = COMMENT_MARKS;
    let editor = admin.dir.path().join("add-comments.sh");
    fs::write(
        &editor,
        format!(
            "#!/bin/sh\nexec sed -i \
             -e '1i # head {a}' \
             -e 's/^    quay-team:$/    # the quay team {c}\\n    quay-team:/' \
             -e 's/^                - web$/                # before web\\n                - web/' \
             -e 's/^        seal: none$/        seal: none\\n        # after seal {e}/' \
             \"$1\"\n"
        ),
    )
    .unwrap();
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        fs::set_permissions(&editor, std::fs::Permissions::from_mode(0o755)).unwrap();
    }
    admin.inputs.push(editor.clone());
    sops_run(&["edit"], &admin.catalog(), &[("EDITOR", &editor)]);
    let commented = admin.sops_yaml();
    for comment in [
        format!("# head {a}\napiVersion:"),
        format!("    # the quay team {c}\n    quay-team:\n"),
        "                # before web\n                - web\n".to_owned(),
        format!("        seal: none\n        # after seal {e}\n"),
    ] {
        assert!(commented.contains(&comment), "{comment:?} not in:\n{commented}");
    }
    assert_comments_encrypted(&fs::read_to_string(admin.catalog()).unwrap());

    // A value changed by `sops set` and a pullseal rotate: the comments stay.
    let out = peers::sops_with_key(&path(AGE_KEY))
        .arg("set")
        .arg(admin.catalog())
        .args([r#"["registries"]["quay-team"]["username"]"#, r#""acme+robot""#])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let want = commented.replace("username: acme+ci", "username: acme+robot");
    assert_eq!(admin.sops_yaml(), want);
    admin.ok(&["rotate", "quay-team", "--password-stdin"], QUAY_TOKEN_2);
    let want = want.replace(QUAY_TOKEN, QUAY_TOKEN_2);
    assert_eq!(admin.sops_yaml(), want);
    admin.ok(&["set", "quay-team", "--email", "ops@example.com"], "");
    let want = want.replace(
        &format!("        password: {QUAY_TOKEN_2}\n"),
        &format!("        password: {QUAY_TOKEN_2}\n        email: ops@example.com\n"),
    );
    assert_eq!(admin.sops_yaml(), want);
    assert!(admin.render("quay-team").contains("kind: Secret\n"));
    assert_comments_encrypted(&fs::read_to_string(admin.catalog()).unwrap());
    admin.assert_no_leak();
}

/// `catalog cluster set`: each option changes its field in place (the other fields keep their
/// ciphertext), a certificate near its end is a warning as with `cluster add`, a cluster moves
/// to Flux's `seal: sops`, and every refusal names the cluster and the field and writes
/// nothing.
#[test]
#[allow(clippy::too_many_lines)] // one story: the fields of one cluster, then the refusals
fn cluster_set_changes_a_field_and_errors_name_the_cluster_and_field() {
    let mut admin = Admin::new();
    admin.ok(&["init", "--age", RECIPIENT], "");
    let cert = path("testdata/keys/sealed-secrets-test.crt");
    let cert = cert.to_str().unwrap();
    admin.ok(
        &["cluster", "add", "demo", "--cert", cert, "--scope", "strict"],
        "",
    );
    admin.add_quay_team();

    let before = fs::read_to_string(admin.catalog()).unwrap();
    admin.ok(&["cluster", "set", "demo", "--scope", "namespace-wide"], "");
    let after = fs::read_to_string(admin.catalog()).unwrap();
    assert_eq!(changed_lines(&before, &after), ["scope", "mac"]);
    assert_eq!(admin.sops_json()["clusters"]["demo"]["scope"], "namespace-wide");

    // A new certificate: the field changes in place; this one has expired, which is a warning.
    let expired = path("testdata/keys/sealed-secrets-expired.crt");
    let before = fs::read_to_string(admin.catalog()).unwrap();
    let out = admin.run(
        &["cluster", "set", "demo", "--cert", expired.to_str().unwrap()],
        "",
    );
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("warning: cluster demo: the sealing certificate expired at 2001-01-01T00:00:00Z"),
        "{stderr}"
    );
    let after = fs::read_to_string(admin.catalog()).unwrap();
    assert_eq!(changed_lines(&before, &after), ["certificate", "mac"]);
    assert_eq!(
        admin.sops_json()["clusters"]["demo"]["certificate"],
        fs::read_to_string(&expired).unwrap()
    );
    admin.ok(&["cluster", "set", "demo", "--cert", cert], "");
    admin.ok(&["cluster", "set", "demo", "--kubelet-credentials", "quay-*"], "");
    assert_eq!(
        admin.sops_json()["clusters"]["demo"]["kubeletCredentials"],
        serde_json::json!(["quay-*"])
    );

    // Refusals, none of which writes.
    let before = fs::read_to_string(admin.catalog()).unwrap();
    let refusals = [
        (admin.run(&["cluster", "set", "nope", "--scope", "strict"], ""), 2),
        (admin.run(&["cluster", "set", "demo", "--scope", "global"], ""), 2),
        (admin.run(&["cluster", "set", "demo"], ""), 2),
        (admin.run(&["cluster", "set", "demo", "--unset", "server"], ""), 2),
        (
            admin.run(
                &["cluster", "set", "demo", "--scope", "strict", "--unset", "scope"],
                "",
            ),
            2,
        ),
        (
            admin.run(&["cluster", "set", "demo", "--age-recipient", RECIPIENT], ""),
            2,
        ),
        (
            admin.run(
                &[
                    "cluster",
                    "set",
                    "demo",
                    "--seal",
                    "sops",
                    "--age-recipient",
                    RECIPIENT,
                ],
                "",
            ),
            2,
        ),
        (
            admin.run(&["cluster", "set", "demo", "--cert", "no-such.crt"], ""),
            5,
        ),
        (
            admin.run(
                &[
                    "cluster",
                    "set",
                    "demo",
                    "--cert",
                    path(AGE_KEY).to_str().unwrap(),
                ],
                "",
            ),
            2,
        ),
    ];
    let shown: Vec<String> = refusals
        .iter()
        .map(|(o, code)| {
            let stderr = String::from_utf8_lossy(&o.stderr);
            assert_eq!(o.status.code(), Some(*code), "{stderr}");
            assert!(o.stdout.is_empty());
            stderr
                .lines()
                .filter(|l| !l.starts_with("hint: "))
                .collect::<Vec<_>>()
                .join("\n")
        })
        .collect();
    let shown = shown
        .join("\n")
        .replace(&*admin.dir.path().to_string_lossy(), "[tmp]")
        .replace(&*crate::support::root().to_string_lossy(), "[root]");
    insta::assert_snapshot!(shown, @r#"
    error: the catalog has no cluster named nope (cluster names: demo)
    error: refusing to write [tmp]/pullseal.catalog.yaml: the catalog would not be valid:
      - clusters.demo.scope: is not one of strict | namespace-wide | cluster-wide
    error: catalog cluster set demo: nothing to change: give --cert, --scope, --seal, --age-recipient, --kms, --kubelet-credentials or --unset
    error: catalog cluster set demo: --unset server: not a field that can be removed (one of seal, scope, certificate, ageRecipients, kms, kubeletCredentials)
    error: catalog cluster set demo: scope is both set and --unset
    error: refusing to write [tmp]/pullseal.catalog.yaml: the catalog would not be valid:
      - clusters.demo.ageRecipients: is only used with seal: sops; leave it out
    error: refusing to write [tmp]/pullseal.catalog.yaml: the catalog would not be valid:
      - clusters.demo.scope: is not used with seal: sops (a SOPS-encrypted Secret is bound to no name or namespace: sops authenticates values by their key path); leave it out
      - clusters.demo.certificate: is not used with seal: sops (Flux decrypts with the age identity whose recipient is in ageRecipients); leave it out
    error: cluster demo: certificate: cannot read no-such.crt
      caused by: No such file or directory (os error 2)
    error: refusing to write [tmp]/pullseal.catalog.yaml: the catalog would not be valid:
      - clusters.demo.certificate: no PEM CERTIFICATE block found in the sealing certificate
    "#);
    assert_eq!(fs::read_to_string(admin.catalog()).unwrap(), before);
    // The hint of a cluster's refusal names the cluster options.
    let hint = String::from_utf8_lossy(&refusals[1].0.stderr).into_owned();
    assert!(
        hint.contains("hint: each field has the option of its name (catalog cluster add or set)"),
        "{hint}"
    );

    // To Flux: seal sops with recipients, the sealed-secrets fields removed.
    admin.ok(
        &[
            "cluster",
            "set",
            "demo",
            "--seal",
            "sops",
            "--age-recipient",
            RECIPIENT,
            "--unset",
            "certificate",
            "--unset",
            "scope",
        ],
        "",
    );
    let json = admin.sops_json();
    assert_eq!(
        json["clusters"]["demo"],
        serde_json::json!({"kubeletCredentials": ["quay-*"], "seal": "sops", "ageRecipients": [RECIPIENT]})
    );
    let ls: serde_json::Value = serde_json::from_str(&admin.ok(&["ls", "--output", "json"], "")).unwrap();
    assert_eq!(ls["clusters"][0]["seal"], "sops");
    admin.assert_no_leak();
}

/// Issue 8: "A kill in the middle of a write leaves the old catalog intact and no plaintext
/// anywhere." `init`, `add`, `rotate`, `set` and `rekey` are each SIGKILLed by the real
/// strace exactly at the rename that would replace the catalog, after the new version was
/// written to its temporary file and synced. The old catalog is byte for byte what it was and
/// opens with the real sops; the new version is left in a 0600 temporary file next to it,
/// which is a whole, fully encrypted catalog (pullseal and sops open it) and holds no
/// plaintext; no file anywhere holds a credential outside an `ENC[…]` value, `TMPDIR` stays
/// empty. A later command ignores the leftovers (they are not cleaned up) and works.
#[test]
#[cfg(unix)]
#[allow(clippy::too_many_lines)] // one story: five writes killed, then a write that lands
fn a_kill_at_the_rename_leaves_the_old_catalog_and_only_ciphertext() {
    use std::os::unix::process::ExitStatusExt as _;

    // init: killed before the catalog exists, there is still no catalog.
    let mut admin = Admin::new();
    let out = admin.killed_at_rename(&["init", "--age", RECIPIENT], "");
    assert_eq!(out.status.signal(), Some(9), "{out:?}");
    assert!(!admin.catalog().exists());
    assert_eq!(admin.temporaries().len(), 1);
    for tmp in admin.temporaries() {
        fs::remove_file(tmp).unwrap();
    }

    let mut admin = Admin::with_quay_team();
    let (second, second_recipient) = admin.age_key("second.txt");
    admin.inputs.push(second.clone());
    let company_pw = admin.file("company.pw", COMPANY_PASSWORD);
    let kills: [(&[&str], &str, &str); 4] = [
        (
            &[
                "add",
                "company",
                "--type",
                "generic",
                "--server",
                "quay.io",
                "--username",
                "ci",
                "--password-file",
                &company_pw,
            ],
            "",
            COMPANY_PASSWORD,
        ),
        (
            &["rotate", "quay-team", "--password-stdin"],
            QUAY_TOKEN_2,
            QUAY_TOKEN_2,
        ),
        (
            &["set", "quay-team", "--email", "ops@example.com"],
            "",
            "ops@example.com",
        ),
        (&["rekey", "--add-age", &second_recipient], "", &second_recipient),
    ];
    let mut left = Vec::new();
    for (args, stdin, new) in kills {
        let before = fs::read(admin.catalog()).unwrap();
        let json = admin.sops_json();
        let out = admin.killed_at_rename(args, stdin);
        assert_eq!(out.status.signal(), Some(9), "{args:?} was not killed: {out:?}");
        assert!(out.stdout.is_empty());
        assert_eq!(
            fs::read(admin.catalog()).unwrap(),
            before,
            "{args:?} changed the catalog"
        );
        assert_eq!(admin.sops_json(), json, "{args:?}");
        // What is left: the finished new version, encrypted, readable by its owner only.
        let temporaries = admin.temporaries();
        let fresh: Vec<&PathBuf> = temporaries.iter().filter(|t| !left.contains(*t)).collect();
        assert_eq!(fresh.len(), 1, "{args:?}: {temporaries:?}");
        let tmp = fresh[0].clone();
        assert_eq!(mode(&tmp), 0o600);
        let text = fs::read_to_string(&tmp).unwrap();
        let opened = peers::sops_with_key(&path(AGE_KEY))
            .args(["decrypt", "--input-type", "yaml", "--output-type", "json"])
            .arg(&tmp)
            .output()
            .unwrap();
        assert!(
            opened.status.success(),
            "{}",
            String::from_utf8_lossy(&opened.stderr)
        );
        let decrypted = String::from_utf8(opened.stdout).unwrap();
        if args[0] == "rekey" {
            assert!(text.contains(new), "the left file is not the rekeyed version");
        } else {
            assert!(decrypted.contains(new), "the left file is not the new version");
            assert!(!text.contains(new), "{new} in the clear in {}", tmp.display());
        }
        // pullseal reads only fully encrypted catalogs: the leftover is one.
        let tmp_arg = tmp.display().to_string();
        let ls = admin
            .command(&["catalog", "ls", "--catalog", &tmp_arg, "--age-key-file", AGE_KEY])
            .output()
            .unwrap();
        admin.outputs.push(ls.clone());
        assert!(ls.status.success(), "{}", String::from_utf8_lossy(&ls.stderr));
        left.push(tmp);
    }
    // A later command ignores the leftovers, and they stay until removed by hand.
    admin.ok(&["rotate", "quay-team", "--password-stdin"], QUAY_TOKEN_2);
    assert_eq!(
        admin.sops_json()["registries"]["quay-team"]["password"],
        QUAY_TOKEN_2
    );
    left.sort();
    assert_eq!(admin.temporaries(), left);
    admin.assert_no_leak();
}

/// Issue 8: "The credential-leak check covers every new command". Every `pullseal catalog`
/// command its help lists (so a new one must be added here) runs, with secrets on stdin and
/// in files, successes and refusals; then no secret is in any command line, in any output, in
/// any file outside an `ENC[…]` value, nor in `TMPDIR`.
#[test]
#[allow(clippy::too_many_lines)] // one run of every command
fn the_leak_check_covers_every_catalog_command() {
    let mut admin = Admin::new();
    let cert = path("testdata/keys/sealed-secrets-test.crt");
    let cert = cert.to_str().unwrap().to_owned();
    admin.ok(&["init", "--age", RECIPIENT], "");
    admin.ok(&["cluster", "add", "demo", "--cert", &cert], "");
    admin.add_quay_team();
    let company_pw = admin.file("company.pw", COMPANY_PASSWORD);
    admin.ok(
        &[
            "add",
            "company",
            "--type",
            "generic",
            "--server",
            "quay.io",
            "--username",
            "ci",
            "--password-file",
            &company_pw,
        ],
        "",
    );
    let key = admin.file("sa.json", &gcr_key());
    admin.ok(
        &[
            "add",
            "gar",
            "--type",
            "gcr",
            "--server",
            "europe-west1-docker.pkg.dev/demo",
            "--key-file",
            &key,
        ],
        "",
    );
    admin.ok(
        &[
            "add",
            "ecr",
            "--type",
            "ecr",
            "--server",
            "123456789012.dkr.ecr.eu-west-1.amazonaws.com",
            "--region",
            "eu-west-1",
            "--access-key-id",
            "AKIAIOSFODNN7EXAMPLE",
            "--secret-access-key-stdin",
        ],
        AWS_SECRET,
    );
    // Refusals that were given a secret: their messages hold none.
    for (args, stdin) in [
        (
            &[
                "add",
                "company",
                "--type",
                "generic",
                "--server",
                "x.io",
                "--username",
                "u",
                "--password-stdin",
            ][..],
            QUAY_TOKEN_2,
        ),
        (
            &[
                "add",
                "Bad_Name",
                "--type",
                "generic",
                "--server",
                "x.io",
                "--username",
                "u",
                "--password-stdin",
            ][..],
            QUAY_TOKEN_2,
        ),
        (&["rotate", "nope", "--password-stdin"][..], QUAY_TOKEN_2),
        (
            &[
                "rotate",
                "company",
                "--password-stdin",
                "--secret-access-key-stdin",
            ][..],
            QUAY_TOKEN_2,
        ),
    ] {
        let out = admin.run(args, stdin);
        assert!(!out.status.success(), "{args:?}");
    }
    admin.ok(&["rotate", "quay-team", "--password-stdin"], QUAY_TOKEN_2);
    admin.ok(
        &[
            "set",
            "company",
            "--email",
            "ops@example.com",
            "--allow-namespace",
            "shop-*",
        ],
        "",
    );
    for args in [
        &["ls"][..],
        &["ls", "--output", "json"],
        &["show", "company"],
        &["show", "ecr", "--output", "json"],
    ] {
        admin.ok(args, "");
    }
    admin.ok(&["cluster", "set", "demo", "--scope", "cluster-wide"], "");
    admin.ok(
        &[
            "cluster",
            "add",
            "flux",
            "--seal",
            "sops",
            "--age-recipient",
            RECIPIENT,
        ],
        "",
    );
    assert!(admin.render("company").contains("kind: SealedSecret"));
    let (second, second_recipient) = admin.age_key("second.txt");
    admin.inputs.push(second.clone());
    admin.ok(&["rekey", "--add-age", &second_recipient], "");
    admin.ok(&["rm", "gar"], "");
    admin.ok(&["cluster", "rm", "flux"], "");

    let run: std::collections::BTreeSet<String> = admin
        .args
        .iter()
        .filter(|a| a.first().is_some_and(|c| c == "catalog"))
        .map(|a| match a.get(1).map(String::as_str) {
            Some("cluster") => format!("cluster {}", a[2]),
            other => other.unwrap().to_owned(),
        })
        .collect();
    for command in catalog_commands() {
        assert!(run.contains(&command), "catalog {command} is not leak-checked");
    }
    admin.assert_no_leak();
}

/// go-yaml gives the first comment lines after a nested block to its innermost last node,
/// whatever their indentation, so sops 3.11 cannot read back a comment it keeps at the end of a
/// mapping whose last value is a block: it shows the ciphertext and warns. pullseal finds that
/// comment by the additional data that opens it and writes it where go-yaml reads it (in the
/// innermost block, here the list), so after a pullseal edit sops shows it again.
#[test]
fn a_comment_sops_cannot_read_back_is_placed_where_it_can() {
    let mut admin = Admin::new();
    let plain = admin.dir.path().join("plain.yaml");
    let [a, c, _] = COMMENT_MARKS;
    fs::write(
        &plain,
        format!(
            "apiVersion: pullseal.io/v1alpha1\nkind: RegistryCatalog\nregistries:\n    quay-team:\n        type: quay\n        server: quay.io/acme\n        username: acme+ci\n        password: {QUAY_TOKEN}\n        allow:\n            namespaces:\n                - shop-*\n                # tail of the list {a}\n        # end of quay-team {c}\nclusters:\n    demo:\n        seal: none\n"
        ),
    )
    .unwrap();
    admin.inputs.push(plain.clone());
    let out = sops_run(&["encrypt", "--age", RECIPIENT], &plain, &[]);
    fs::write(admin.catalog(), &out.stdout).unwrap();
    let sops = sops_run(&["decrypt"], &admin.catalog(), &[]);
    assert!(
        String::from_utf8_lossy(&sops.stderr).contains("unencrypted comment"),
        "sops read it back after all: {}",
        String::from_utf8_lossy(&sops.stderr)
    );
    admin.ok(&["rotate", "quay-team", "--password-stdin"], QUAY_TOKEN_2);
    let shown = admin.sops_yaml();
    assert!(
        shown.contains(&format!(
            "                - shop-*\n                # tail of the list {a}\n                # end of quay-team {c}\nclusters:\n"
        )),
        "{shown}"
    );
    assert_comments_encrypted(&fs::read_to_string(admin.catalog()).unwrap());
    admin.assert_no_leak();
}
