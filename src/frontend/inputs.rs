//! Finding the files a render reads: the manifest inputs (files, directories, stdin) and, when
//! no `--catalog` is given, the catalog.
//!
//! Both follow symbolic links, and neither may be led astray by one:
//! - a directory is walked with `walkdir`, which notices a link back to a directory that is
//!   already being walked (`loop -> .`), and every file is read at most once, however many
//!   links or arguments lead to it;
//! - catalog discovery looks in the working directory and its parents, but stops at the
//!   repository root (the directory holding `.git`), and refuses a catalog that is a link to
//!   a file outside that repository: a checked-out repository decides which catalog its
//!   manifests are rendered with, not whatever lies above it on the machine.
//!
//! This module reads files and nothing else: it parses nothing and writes nothing.

use std::collections::HashSet;
use std::io::Read;
use std::path::{Path, PathBuf};

use crate::catalog::{CatalogError, DEFAULT_FILE};
use crate::error::{Error, shown_path};
use crate::manifest::Source;

/// What reading the inputs gave: the sources in order, and what was skipped and why.
pub(super) struct Inputs {
    pub(super) sources: Vec<Source>,
    pub(super) warnings: Vec<String>,
}

/// Reads every input in order. Directories are walked in sorted order for `*.yaml`, `*.yml`
/// and `*.json`, skipping hidden entries; `-` (or no input at all) is stdin. The catalog
/// itself and any file already read are skipped.
/// At most this much input is read, in all: a stream larger than any monorepo's is refused
/// before it can exhaust memory.
pub(crate) const MAX_INPUT_BYTES: u64 = 256 << 20;

pub(super) fn read_inputs(inputs: &[PathBuf], catalog: &Path, stdin: &mut dyn Read) -> Result<Inputs, Error> {
    let mut read = Inputs {
        sources: Vec::new(),
        warnings: Vec::new(),
    };
    let mut budget = MAX_INPUT_BYTES;
    if inputs.is_empty() {
        read.sources.push(read_stdin(stdin, &mut budget)?);
        return Ok(read);
    }
    let catalog = fs_err::canonicalize(catalog).ok();
    // The canonical path of every file read so far.
    let mut seen: HashSet<PathBuf> = HashSet::new();
    let mut stdin_read = false;
    for input in inputs {
        if input == Path::new("-") {
            if stdin_read {
                read.warnings
                    .push("skipped `-`: standard input was already read".to_owned());
            } else {
                read.sources.push(read_stdin(stdin, &mut budget)?);
                stdin_read = true;
            }
            continue;
        }
        let boundary = boundary(input);
        for file in files_of(input, &mut read.warnings)? {
            let canonical = fs_err::canonicalize(&file).map_err(io("read", &file))?;
            if catalog.as_ref() == Some(&canonical) {
                continue;
            }
            if let Some(root) = boundary.as_ref().filter(|root| !canonical.starts_with(root)) {
                let why = format!(
                    "resolves through a symbolic link to {}, outside {}; pullseal reads no file outside the repository (or, outside one, the directory) its inputs are in",
                    shown_path(&canonical),
                    shown_path(root)
                );
                return Err(io("read", &file)(std::io::Error::other(why)));
            }
            if !seen.insert(canonical.clone()) {
                read.warnings.push(format!(
                    "skipped {}: {} was already read",
                    shown_path(&file),
                    shown_path(&canonical)
                ));
                continue;
            }
            let opened = fs_err::File::open(&file).map_err(io("read", &file))?;
            let text = read_bounded(opened, &mut budget, too_much_input).map_err(io("read", &file))?;
            read.sources.push(Source {
                name: file.display().to_string(),
                text,
            });
        }
    }
    Ok(read)
}

/// Where the files read for `input` must really be, links followed: the repository that
/// holds `input` (found from where `input` itself is, so a linked input cannot move it),
/// else, for a directory, that directory. A checked-out repository decides what is in its
/// manifests, not whatever its links point at on the machine (an age key, a token,
/// `/proc/self/environ`): documents pass through unparsed, so anything read is output.
/// A file named outside any repository is read wherever it leads.
fn boundary(input: &Path) -> Option<PathBuf> {
    let parent = input
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let home = fs_err::canonicalize(parent).ok()?;
    let repository = home.ancestors().find(|dir| dir.join(".git").exists());
    match repository {
        Some(root) => Some(root.to_path_buf()),
        None if input.is_dir() => fs_err::canonicalize(input).ok(),
        None => None,
    }
}

pub(super) fn read_stdin(stdin: &mut dyn Read, budget: &mut u64) -> Result<Source, Error> {
    let text = read_bounded(stdin, budget, too_much_input).map_err(io("read", Path::new("<stdin>")))?;
    Ok(Source {
        name: "<stdin>".to_owned(),
        text,
    })
}

/// Reads all of `from` as UTF-8 text, within what is left of `budget`: a text that does not
/// fit is refused, saying `over()` (what the bound is), before more is read into memory.
pub(super) fn read_bounded(
    from: impl Read,
    budget: &mut u64,
    over: impl FnOnce() -> String,
) -> std::io::Result<String> {
    let mut text = String::new();
    from.take(budget.saturating_add(1)).read_to_string(&mut text)?;
    let len = u64::try_from(text.len()).unwrap_or(u64::MAX);
    if len > *budget {
        return Err(std::io::Error::new(std::io::ErrorKind::InvalidData, over()));
    }
    *budget -= len;
    no_nul(&text)?;
    Ok(text)
}

fn too_much_input() -> String {
    format!("the input is larger than {} MiB in all", MAX_INPUT_BYTES >> 20)
}

/// Refuses a text holding a NUL byte: YAML allows none anywhere in a stream, and a NUL in
/// valid UTF-8 is the mark of UTF-16 without a byte-order mark or of a file that is not text.
/// Checked on the whole input because documents pullseal does not parse are passed through
/// as they are: without this, such a file would go out as "rendered", its annotated
/// workloads unread.
pub(super) fn no_nul(text: &str) -> std::io::Result<()> {
    let Some(at) = memchr::memchr(0, text.as_bytes()) else {
        return Ok(());
    };
    let line = 1 + crate::manifest::stream::count_lines(text.get(..at).unwrap_or(""));
    Err(std::io::Error::new(
        std::io::ErrorKind::InvalidData,
        format!(
            "it holds a NUL byte (line {line}), which YAML does not allow: is it UTF-16, or not a text file at all?"
        ),
    ))
}

/// An [`Error::Io`] for `action` on `path`.
pub(super) fn io(action: &'static str, path: &Path) -> impl FnOnce(std::io::Error) -> Error {
    let path = path.to_path_buf();
    move |source| Error::Io {
        action,
        source: without_path(source, &path),
        path,
    }
}

/// The reason of an I/O error, without the path `fs-err` writes into its message
/// ("failed to open file `<path>`: <reason>"): [`Error::Io`] names the path already, shown
/// escaped, while `fs-err` prints it raw, and a file found by walking a directory can have any
/// name. A message that holds the path some other way keeps only the error's kind.
pub(super) fn without_path(error: std::io::Error, path: &Path) -> std::io::Error {
    if error.get_ref().is_none() {
        // An OS error as it came (stdin, stdout, walkdir): it holds no path.
        return error;
    }
    let (text, path) = (error.to_string(), path.display().to_string());
    match text.split_once(&format!("`{path}`: ")) {
        Some((_, reason)) => std::io::Error::new(error.kind(), reason.to_owned()),
        None if text.contains(&path) => std::io::Error::from(error.kind()),
        None => error,
    }
}

/// `input` itself if it is not a directory, else the manifest files under it, sorted.
fn files_of(input: &Path, warnings: &mut Vec<String>) -> Result<Vec<PathBuf>, Error> {
    let meta = fs_err::metadata(input).map_err(io("read", input))?;
    if !meta.is_dir() {
        return Ok(vec![input.to_path_buf()]);
    }
    let walk = walkdir::WalkDir::new(input)
        .follow_links(true)
        .sort_by_file_name()
        .into_iter()
        .filter_entry(|entry| entry.depth() == 0 || !is_hidden(entry.file_name()));
    let mut files = Vec::new();
    for entry in walk {
        let entry = match entry {
            Ok(entry) => entry,
            Err(err) => {
                let path = err.path().unwrap_or(input).to_path_buf();
                if let Some(ancestor) = err.loop_ancestor() {
                    // Everything behind the link is being read already.
                    warnings.push(format!(
                        "skipped {}: a symbolic link back to {}, which is already being read",
                        shown_path(&path),
                        shown_path(ancestor)
                    ));
                    continue;
                }
                // A dangling link with a name that would be skipped anyway is not worth failing
                // for; one that looks like a manifest is.
                let dangling = err
                    .io_error()
                    .is_some_and(|e| e.kind() == std::io::ErrorKind::NotFound);
                if dangling && !is_manifest(&path) {
                    continue;
                }
                let source = err
                    .into_io_error()
                    .unwrap_or_else(|| std::io::Error::other("cannot walk the directory"));
                return Err(io("read", &path)(source));
            }
        };
        if entry.file_type().is_file() && is_manifest(entry.path()) {
            files.push(entry.into_path());
        }
    }
    Ok(files)
}

fn is_hidden(name: &std::ffi::OsStr) -> bool {
    name.to_str().is_some_and(|n| n.starts_with('.'))
}

fn is_manifest(path: &Path) -> bool {
    matches!(
        path.extension().and_then(|e| e.to_str()),
        Some("yaml" | "yml" | "json")
    )
}

/// The catalog: `explicit` (`--catalog`, `PULLSEAL_CATALOG`) as given, else the first
/// [`DEFAULT_FILE`] in `cwd` or a parent, up to and including the repository root (the
/// nearest directory holding `.git`, a directory or, in worktrees and submodules, a file).
/// Outside any repository every parent is searched. A catalog found in the repository that
/// is a symbolic link to a file outside it is an error, not a catalog.
pub(super) fn locate_catalog(explicit: Option<&Path>, cwd: &Path) -> Result<PathBuf, Error> {
    if let Some(path) = explicit {
        return Ok(path.to_path_buf());
    }
    // Compare real paths: a working directory reached through a link must not move the root.
    let start = fs_err::canonicalize(cwd).unwrap_or_else(|_| cwd.to_path_buf());
    let root = start.ancestors().find(|dir| dir.join(".git").exists());
    for dir in start.ancestors() {
        let candidate = dir.join(DEFAULT_FILE);
        if candidate.is_file() {
            if let Some(root) = root {
                let target = fs_err::canonicalize(&candidate).map_err(io("read", &candidate))?;
                if !target.starts_with(root) {
                    return Err(Error::CatalogOutsideRepository {
                        link: candidate,
                        target,
                        root: root.to_path_buf(),
                    });
                }
            }
            return Ok(candidate);
        }
        if Some(dir) == root {
            break;
        }
    }
    Err(Error::Catalog(CatalogError::NotFound {
        searched: cwd.display().to_string(),
        root: root.map(|r| r.display().to_string()),
    }))
}

#[cfg(test)]
mod tests {
    use std::os::unix::fs::symlink;

    use super::*;

    fn write(path: &Path, text: &str) {
        fs_err::create_dir_all(path.parent().unwrap()).unwrap();
        fs_err::write(path, text).unwrap();
    }

    fn names(inputs: &Inputs, root: &Path) -> Vec<String> {
        let root = format!("{}/", root.display());
        inputs.sources.iter().map(|s| s.name.replace(&root, "")).collect()
    }

    fn warnings(inputs: &Inputs, root: &Path) -> String {
        inputs
            .warnings
            .join("\n")
            .replace(
                &fs_err::canonicalize(root).unwrap().display().to_string(),
                "[tmp]",
            )
            .replace(&root.display().to_string(), "[tmp]")
    }

    /// Issue 5: `fs-err` puts the path, raw, in its message; the cause printed under
    /// `cannot read <path>` keeps only the reason, and errors without the path stay as they are.
    #[test]
    fn io_errors_lose_the_raw_path_and_keep_the_reason() {
        let path = Path::new("a\u{1b}[2Jb.yaml");
        let wrapped = fs_err::read_to_string(path).unwrap_err();
        assert!(wrapped.to_string().contains('\u{1b}'), "{wrapped}");
        let reasons = [
            without_path(wrapped, path),
            without_path(std::io::Error::from_raw_os_error(32), path),
            without_path(std::io::Error::other("cannot walk the directory"), path),
            without_path(std::io::Error::other(format!("at {}", path.display())), path),
        ];
        assert_eq!(reasons[0].kind(), std::io::ErrorKind::NotFound);
        let shown: Vec<String> = reasons.iter().map(ToString::to_string).collect();
        insta::assert_snapshot!(shown.join("\n"), @"
            No such file or directory (os error 2)
            Broken pipe (os error 32)
            cannot walk the directory
            other error
            ");
    }

    /// Issue 5: a `loop -> .` link made a Deployment come out 41 times.
    #[test]
    fn a_link_loop_is_walked_once() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("app");
        write(&dir.join("deploy.yaml"), "kind: Deployment\n");
        write(&dir.join("sub/svc.yml"), "kind: Service\n");
        symlink(".", dir.join("loop")).unwrap();
        symlink("..", dir.join("sub/up")).unwrap();
        let read = read_inputs(&[dir], Path::new("no-catalog"), &mut std::io::empty()).unwrap();
        assert_eq!(names(&read, tmp.path()), ["app/deploy.yaml", "app/sub/svc.yml"]);
        insta::assert_snapshot!(warnings(&read, tmp.path()), @r"
            skipped [tmp]/app/loop: a symbolic link back to [tmp]/app, which is already being read
            skipped [tmp]/app/sub/up: a symbolic link back to [tmp]/app, which is already being read
            ");
    }

    #[test]
    fn no_file_is_read_twice() {
        let tmp = tempfile::tempdir().unwrap();
        // One repository holds both, so the links out of `app` stay inside it.
        fs_err::create_dir_all(tmp.path().join(".git")).unwrap();
        let shared = tmp.path().join("shared");
        write(&shared.join("a.yaml"), "a: 1\n");
        let dir = tmp.path().join("app");
        write(&dir.join("b.yaml"), "b: 1\n");
        symlink(&shared, dir.join("one")).unwrap();
        symlink(&shared, dir.join("two")).unwrap();
        symlink(shared.join("a.yaml"), dir.join("z.yaml")).unwrap();
        let inputs = [dir.clone(), dir.join("b.yaml"), shared.join("a.yaml")];
        let read = read_inputs(&inputs, Path::new("no-catalog"), &mut std::io::empty()).unwrap();
        assert_eq!(names(&read, tmp.path()), ["app/b.yaml", "app/one/a.yaml"]);
        insta::assert_snapshot!(warnings(&read, tmp.path()), @r"
            skipped [tmp]/app/two/a.yaml: [tmp]/shared/a.yaml was already read
            skipped [tmp]/app/z.yaml: [tmp]/shared/a.yaml was already read
            skipped [tmp]/app/b.yaml: [tmp]/app/b.yaml was already read
            skipped [tmp]/shared/a.yaml: [tmp]/shared/a.yaml was already read
            ");
    }

    #[test]
    fn hidden_entries_other_files_and_the_catalog_are_skipped() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("app");
        write(&dir.join(".git/config.yaml"), "x: 1\n");
        write(&dir.join(".hidden.yaml"), "x: 1\n");
        write(&dir.join("README.md"), "x\n");
        write(&dir.join(DEFAULT_FILE), "x: 1\n");
        write(&dir.join("b.json"), "{}\n");
        write(&dir.join("a.yaml"), "a: 1\n");
        symlink("nowhere", dir.join("dangling")).unwrap();
        let read = read_inputs(
            std::slice::from_ref(&dir),
            &dir.join(DEFAULT_FILE),
            &mut std::io::empty(),
        )
        .unwrap();
        assert_eq!(names(&read, tmp.path()), ["app/a.yaml", "app/b.json"]);
        assert!(read.warnings.is_empty());
        // A dangling link that looks like a manifest is an error naming it.
        symlink("nowhere", dir.join("c.yaml")).unwrap();
        let Err(err) = read_inputs(&[dir], Path::new("x"), &mut std::io::empty()) else {
            panic!("a dangling c.yaml was ignored");
        };
        assert!(
            matches!(err, Error::Io { ref path, .. } if path.ends_with("c.yaml")),
            "{err}"
        );
    }

    #[test]
    fn stdin_is_read_once() {
        let mut stdin = "a: 1\n".as_bytes();
        let dash = PathBuf::from("-");
        let read = read_inputs(&[dash.clone(), dash], Path::new("x"), &mut stdin).unwrap();
        assert_eq!(read.sources.len(), 1);
        insta::assert_snapshot!(read.warnings.join("\n"), @"skipped `-`: standard input was already read");
    }

    /// A temp dir with a repository `repo` (holding `.git`) and a catalog above it.
    fn repository() -> (tempfile::TempDir, PathBuf) {
        let tmp = tempfile::tempdir().unwrap();
        let tmp_path = fs_err::canonicalize(tmp.path()).unwrap();
        write(&tmp_path.join(DEFAULT_FILE), "outside\n");
        let repo = tmp_path.join("repo");
        fs_err::create_dir_all(repo.join(".git")).unwrap();
        fs_err::create_dir_all(repo.join("apps/web")).unwrap();
        (tmp, repo)
    }

    #[test]
    fn discovery_stops_at_the_repository_root() {
        let (tmp, repo) = repository();
        let err = locate_catalog(None, &repo.join("apps/web")).unwrap_err();
        assert!(
            matches!(err, Error::Catalog(CatalogError::NotFound { .. })),
            "{err}"
        );
        // Inside the repository, the nearest catalog wins, the root's included.
        write(&repo.join(DEFAULT_FILE), "root\n");
        assert_eq!(
            locate_catalog(None, &repo.join("apps/web")).unwrap(),
            repo.join(DEFAULT_FILE)
        );
        write(&repo.join("apps").join(DEFAULT_FILE), "apps\n");
        assert_eq!(
            locate_catalog(None, &repo.join("apps/web")).unwrap(),
            repo.join("apps").join(DEFAULT_FILE)
        );
        // `.git` as a file (a worktree or a submodule) marks a root too.
        let worktree = repo.join("apps/web/wt");
        write(&worktree.join(".git"), "gitdir: elsewhere\n");
        assert!(locate_catalog(None, &worktree).is_err());
        // Outside any repository, every parent is searched, as before.
        let plain = tmp.path().join("plain/deep");
        fs_err::create_dir_all(&plain).unwrap();
        let found = locate_catalog(None, &plain).unwrap();
        assert_eq!(fs_err::read_to_string(found).unwrap(), "outside\n");
        // An explicit path is taken as it is.
        assert_eq!(
            locate_catalog(Some(Path::new("x.yaml")), &plain).unwrap(),
            Path::new("x.yaml")
        );
    }

    /// A checked-out repository (a CI job, an Argo CD app directory) must not make pullseal
    /// copy a file from elsewhere on the machine into its output: a committed link
    /// `app/key.yaml -> ~/.config/sops/age/keys.txt` or `-> /proc/self/environ` is passed
    /// through unparsed, byte for byte, and the key that opens the catalog would be in the
    /// rendered manifests.
    #[test]
    fn inputs_never_follow_a_link_out_of_the_repository() {
        let (tmp, repo) = repository();
        let secret = tmp.path().join("keys.txt");
        write(&secret, "AGE-SECRET-KEY-1TEST\n");
        let app = repo.join("apps/web");
        write(&app.join("deploy.yaml"), "kind: Deployment\n");
        write(&repo.join("shared/svc.yaml"), "kind: Service\n");
        // Links that stay in the repository are followed, as before.
        symlink("../../shared", app.join("shared")).unwrap();
        let read = read_inputs(std::slice::from_ref(&app), Path::new("x"), &mut std::io::empty()).unwrap();
        assert_eq!(names(&read, &app), ["deploy.yaml", "shared/svc.yaml"]);
        symlink(&secret, app.join("key.yaml")).unwrap();
        let base = fs_err::canonicalize(tmp.path()).unwrap().display().to_string();
        for input in [app.clone(), app.join("key.yaml")] {
            let Err(err) = read_inputs(&[input], Path::new("x"), &mut std::io::empty()) else {
                panic!("a link out of the repository was read");
            };
            assert_eq!(err.exit_code(), 5);
            let shown =
                format!("{err}: {}", std::error::Error::source(&err).unwrap()).replace(&base, "[tmp]");
            insta::allow_duplicates! { insta::assert_snapshot!(shown, @"cannot read [tmp]/repo/apps/web/key.yaml: resolves through a symbolic link to [tmp]/keys.txt, outside [tmp]/repo; pullseal reads no file outside the repository (or, outside one, the directory) its inputs are in"); }
        }
        // Outside any repository a directory is its own boundary.
        let plain = tmp.path().join("plain");
        write(&plain.join("a.yaml"), "a: 1\n");
        symlink(&secret, plain.join("key.yaml")).unwrap();
        assert!(read_inputs(&[plain], Path::new("x"), &mut std::io::empty()).is_err());
    }

    #[test]
    fn discovery_never_follows_a_link_out_of_the_repository() {
        let (tmp, repo) = repository();
        symlink(tmp.path().join(DEFAULT_FILE), repo.join(DEFAULT_FILE)).unwrap();
        let err = locate_catalog(None, &repo.join("apps/web")).unwrap_err();
        assert_eq!(err.exit_code(), 3);
        let base = fs_err::canonicalize(tmp.path()).unwrap();
        let shown = err.to_string().replace(&base.display().to_string(), "[tmp]");
        insta::assert_snapshot!(shown, @"[tmp]/repo/pullseal.catalog.yaml is a symbolic link to [tmp]/pullseal.catalog.yaml, outside the repository [tmp]/repo; pass it with --catalog to use it");
        // A link that stays inside the repository is followed.
        fs_err::remove_file(repo.join(DEFAULT_FILE)).unwrap();
        write(&repo.join("catalogs/prod.yaml"), "inside\n");
        symlink("catalogs/prod.yaml", repo.join(DEFAULT_FILE)).unwrap();
        assert_eq!(
            locate_catalog(None, &repo.join("apps/web")).unwrap(),
            repo.join(DEFAULT_FILE)
        );
    }
}
