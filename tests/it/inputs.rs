//! What the binary reads: directories with symbolic links (loops, two links to one file).

use std::os::unix::fs::symlink;
use std::path::Path;

use fs_err as fs;

use crate::support::{path, render, transcript};

const INPUT: &str = "testdata/render/namespace-wide/input.yaml";

/// Replaces the temp dir (as given and as resolved) in `text`.
fn redact_tmp(text: &str, tmp: &Path) -> String {
    let real = fs::canonicalize(tmp).unwrap();
    text.replace(&real.display().to_string(), "[tmp]")
        .replace(&tmp.display().to_string(), "[tmp]")
}

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
