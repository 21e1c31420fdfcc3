//! Fixture cases: `testdata/render/<case>/` holds `input.yaml` (or `input.json`), optional
//! `args` (extra arguments, one per line; the default cluster is `test`) and optional `env`
//! (`KEY=VALUE` lines). Each case runs the real binary on the test catalog and snapshots exit
//! code, stdout and stderr together (`tests/it/snapshots/`; review with `cargo insta review`).
//!
//! A case with an `argv` file instead (one argument a line) runs `pullseal` with exactly those
//! arguments and its input on stdin, as a plugin host does: the `helm-*` cases give the argv
//! Helm builds from `--post-renderer-args`, the catalog, key and cluster in `env`; the `krm-*`
//! cases an empty argv, as kpt and kustomize run an exec KRM function, and a `ResourceList`.

use std::path::Path;

use crate::support::{pullseal, render, transcript};

fn run_case(input: &Path) -> std::process::Output {
    let dir = input.parent().unwrap();
    let read = |name: &str| fs_err::read_to_string(dir.join(name)).ok();
    if let Some(argv) = read("argv") {
        let mut cmd = pullseal();
        cmd.args(argv.lines().filter(|l| !l.trim().is_empty()));
        for line in read("env").unwrap_or_default().lines() {
            if let Some((k, v)) = line.split_once('=') {
                cmd.env(k.trim(), v.trim());
            }
        }
        return cmd.write_stdin(fs_err::read(input).unwrap()).output().unwrap();
    }
    let args: Vec<String> = read("args")
        .map(|a| {
            a.lines()
                .filter(|l| !l.trim().is_empty())
                .map(str::to_owned)
                .collect()
        })
        .unwrap_or_default();
    let cluster = args
        .iter()
        .position(|a| a == "--cluster")
        .and_then(|i| args.get(i + 1).cloned())
        .unwrap_or_else(|| "test".to_owned());
    let rest: Vec<&String> = {
        let mut skip = false;
        args.iter()
            .filter(|a| {
                if skip {
                    skip = false;
                    return false;
                }
                if *a == "--cluster" {
                    skip = true;
                    return false;
                }
                true
            })
            .collect()
    };
    let mut cmd = render(&cluster);
    cmd.args(rest);
    for line in read("env").unwrap_or_default().lines() {
        if let Some((k, v)) = line.split_once('=') {
            cmd.env(k.trim(), v.trim());
        }
    }
    cmd.arg(input);
    cmd.output().unwrap()
}

#[test]
fn render_cases() {
    insta::glob!("../../testdata", "render/*/input.*", |input| {
        let output = run_case(input);
        let name = input
            .parent()
            .unwrap()
            .file_name()
            .unwrap()
            .to_string_lossy()
            .into_owned();
        let shown = transcript(&output).replace(&crate::support::root().display().to_string(), "[root]");
        insta::assert_snapshot!(name.clone(), shown);
        // Whatever the case, no credential is printed, and a failure leaves stdout empty.
        crate::cli::assert_no_secrets(&String::from_utf8_lossy(&output.stdout));
        crate::cli::assert_no_secrets(&String::from_utf8_lossy(&output.stderr));
        if !output.status.success() {
            assert!(output.stdout.is_empty(), "{name}: failed but wrote to stdout");
        }
        // The snapshot does not show CR LF (insta reads it as LF): a stream whose lines all end
        // in CR LF, or all in CR, must come out with only that line end, the lines pullseal
        // added (edits and pull secrets) included.
        if let Some(nl) = line_end_of(&fs_err::read(input).unwrap()) {
            let stdout = String::from_utf8_lossy(&output.stdout);
            assert_eq!(
                line_end_of(stdout.as_bytes()).filter(|_| output.status.success()),
                Some(nl),
                "{name}: the output's lines do not all end in {nl:?}"
            );
        }
    });
}

/// The line end every line of `text` has, when it is CR LF or CR throughout.
fn line_end_of(text: &[u8]) -> Option<&'static str> {
    let crlf = text.windows(2).filter(|w| w == b"\r\n").count();
    let cr = memchr::memchr_iter(b'\r', text).count();
    let lf = memchr::memchr_iter(b'\n', text).count();
    match (crlf, cr, lf) {
        (0, 0, _) => None,
        (n, cr, lf) if n == cr && n == lf => Some("\r\n"),
        (0, _, 0) => Some("\r"),
        _ => None,
    }
}
