//! What the binary reads: directories with symbolic links (loops, two links to one file), and
//! where catalog discovery stops (issue 5).

use std::os::unix::fs::symlink;
use std::path::Path;

use fs_err as fs;

use crate::support::{AGE_KEY, CATALOG, assert_failure, path, pullseal, redact_tmp, render, transcript};

const INPUT: &str = "testdata/render/namespace-wide/input.yaml";

/// Issue 5: a `loop -> .` link printed a Deployment 41 times.
#[test]
fn a_symlink_loop_renders_every_document_once() {
    let tmp = tempfile::tempdir().unwrap();
    let app = tmp.path().join("app");
    fs::create_dir_all(&app).unwrap();
    fs::copy(path(INPUT), app.join("pod.yaml")).unwrap();
    symlink(".", app.join("loop")).unwrap();
    let reference = render("test-ns").arg(INPUT).output().unwrap();
    let out = render("test-ns").arg(&app).output().unwrap();
    assert!(out.status.success(), "{}", transcript(&out));
    assert_eq!(out.stdout, reference.stdout);
    insta::assert_snapshot!(redact_tmp(&String::from_utf8_lossy(&out.stderr), tmp.path()), @"warning: skipped [tmp]/app/loop: a symbolic link back to [tmp]/app, which is already being read");
}

#[test]
fn a_file_reached_twice_is_read_once() {
    let tmp = tempfile::tempdir().unwrap();
    let app = tmp.path().join("app");
    fs::create_dir_all(&app).unwrap();
    fs::copy(path(INPUT), app.join("pod.yaml")).unwrap();
    symlink(app.join("pod.yaml"), app.join("same.yaml")).unwrap();
    let reference = render("test-ns").arg(INPUT).output().unwrap();
    let out = render("test-ns")
        .arg(&app)
        .arg(app.join("pod.yaml"))
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", transcript(&out));
    assert_eq!(out.stdout, reference.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(stderr.matches("was already read").count(), 2, "{stderr}");
}

/// `pullseal render` from `cwd` with no `--catalog`.
fn discover_from(cwd: &Path) -> std::process::Output {
    pullseal()
        .current_dir(cwd)
        .args(["render", "--cluster", "test-ns", "--age-key-file"])
        .arg(path(AGE_KEY))
        .arg(path(INPUT))
        .output()
        .unwrap()
}

/// Issue 5: discovery stops at the directory holding `.git`, so a catalog above the checkout
/// is never picked up.
#[test]
fn catalog_discovery_stops_at_the_repository_root() {
    let tmp = tempfile::tempdir().unwrap();
    fs::copy(path(CATALOG), tmp.path().join("pullseal.catalog.yaml")).unwrap();
    let apps = tmp.path().join("repo/apps");
    fs::create_dir_all(&apps).unwrap();
    fs::create_dir_all(tmp.path().join("repo/.git")).unwrap();
    let out = discover_from(&apps);
    assert_failure(&out, 3, "no catalog found");
    // The message and the hint say where discovery stopped, and why the catalog above was not used.
    let stderr = redact_tmp(&String::from_utf8_lossy(&out.stderr), tmp.path());
    insta::assert_snapshot!(stderr, @r#"
        error: no catalog found: no pullseal.catalog.yaml in [tmp]/repo/apps or a parent up to the repository root [tmp]/repo (discovery stops there); give --catalog or PULLSEAL_CATALOG
        hint: discovery looks in the working directory and its parents up to the repository root (the directory holding .git); run from inside the catalog's repository, or pass --catalog
        "#);
    // The same tree without `.git` is no repository: every parent is searched.
    fs::remove_dir(tmp.path().join("repo/.git")).unwrap();
    let out = discover_from(&apps);
    assert!(out.status.success(), "{}", transcript(&out));
}

/// Issue 5: a catalog in the repository that is a link to a file outside it is refused.
#[test]
fn catalog_discovery_never_follows_a_link_out_of_the_repository() {
    let tmp = tempfile::tempdir().unwrap();
    let outside = tmp.path().join("elsewhere.yaml");
    fs::copy(path(CATALOG), &outside).unwrap();
    let repo = tmp.path().join("repo");
    fs::create_dir_all(repo.join(".git")).unwrap();
    fs::create_dir_all(repo.join("apps")).unwrap();
    symlink(&outside, repo.join("pullseal.catalog.yaml")).unwrap();
    let out = discover_from(&repo.join("apps"));
    assert_failure(&out, 3, "outside the repository");
    insta::assert_snapshot!(redact_tmp(&String::from_utf8_lossy(&out.stderr), tmp.path()), @"error: [tmp]/repo/pullseal.catalog.yaml is a symbolic link to [tmp]/elsewhere.yaml, outside the repository [tmp]/repo; pass it with --catalog to use it");
    // Given explicitly, the same file is used.
    let out = pullseal()
        .current_dir(repo.join("apps"))
        .args(["render", "--cluster", "test-ns", "--age-key-file"])
        .arg(path(AGE_KEY))
        .arg("--catalog")
        .arg(repo.join("pullseal.catalog.yaml"))
        .arg(path(INPUT))
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", transcript(&out));
    // A link that stays inside the repository is followed.
    fs::remove_file(repo.join("pullseal.catalog.yaml")).unwrap();
    fs::copy(path(CATALOG), repo.join("catalog.yaml")).unwrap();
    symlink("catalog.yaml", repo.join("pullseal.catalog.yaml")).unwrap();
    let out = discover_from(&repo.join("apps"));
    assert!(out.status.success(), "{}", transcript(&out));
}
