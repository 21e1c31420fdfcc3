//! The bad-input corpus (issue 9): every case under `testdata/bad/<case>/` is an input pullseal
//! must refuse, run through the real binary in the front-end mode its `case` file names. The
//! layout, the `case` keys and the recipes are documented in `testdata/bad/README.md`.
//!
//! Each case runs in a fresh work directory (a copy of the case directory, the test catalog or
//! one encrypted for the case, the test age key), under an address-space limit and a hang
//! guard, and must:
//! - exit by itself (not by the limit, a signal or the guard), non-zero, with the exit code
//!   its `case` file pins, and never 101 (a panic);
//! - leave stdout empty and every file of the work directory as it was;
//! - write a diagnostic that names where (each `where:` of the case) and matches the pinned
//!   `expected.snap` beside it (exit code and stderr; `INSTA_UPDATE=always cargo test --test it
//!   bad::` rewrites them, review with `git diff`);
//! - print no credential of the test catalog or of the case's own catalog, nor its base64 at
//!   any alignment, nor the catalog's data key, nor the age secret key.
//!
//! The cases run in a few threads at once; the hang guard and the memory limit are there to
//! catch a hang or a blow-up, not to time anything (timing targets are `scripts/bench`'s).

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::io::{Read as _, Write as _};
use std::os::unix::process::ExitStatusExt as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::str::FromStr as _;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Mutex, OnceLock};
use std::time::{Duration, Instant};

use base64::Engine as _;
use fs_err as fs;
use pullseal::sops::{self, EncryptOptions, Identities, LastModified, Randomness, Rule, Seed, Value};
use secrecy::{ExposeSecret as _, SecretBox, SecretString};

use crate::support::{AGE_KEY, CATALOG, PULLSEAL_VARS, path, root};

/// Where the corpus lives.
const CORPUS: &str = "testdata/bad";

/// The hang guard: a case still running after this is killed and fails. Generous: most cases
/// take well under a second, the million-node floods about 5 s in a debug build, and on a
/// loaded 2-core machine (cases run 4 at a time) those took 20 s.
const TIMEOUT: Duration = Duration::from_mins(1);

/// The default address-space limit of a case's process (`ulimit -v`); a case may raise it.
const MEMORY_MIB: u64 = 512;

/// How many cases run at once.
const WORKERS: usize = 4;

/// The categories of issue 9's list, by case-name prefix, and the least number of cases each
/// must have: a category cannot silently empty out.
const CATEGORIES: &[(&str, usize)] = &[
    ("yaml-", 8),
    ("bomb-", 5),
    ("deep-", 4),
    ("huge-", 5),
    ("encoding-", 8),
    ("crlf-", 3),
    ("dup-", 6),
    ("merge-", 5),
    ("ref-", 10),
    ("policy-", 4),
    ("namespace-", 4),
    ("catalog-", 14),
    ("key-", 4),
    ("cert-", 5),
    ("field-", 9),
    ("settings-", 7),
    ("rl-", 5),
    ("frontend-", 5),
    ("admin-", 5),
];

/// The front-end modes every one of which the corpus must exercise.
const MODES: &[&str] = &[
    "render",
    "helm",
    "krm",
    "kustomize",
    "argocd",
    "catalog",
    "usage",
    "command",
];

/// A case as its `case` file describes it.
#[derive(Debug, Default)]
struct Case {
    name: String,
    dir: PathBuf,
    mode: String,
    args: Vec<String>,
    env: Vec<(String, String)>,
    inputs: Vec<String>,
    stdin: Option<String>,
    stdin_repeat: Option<(usize, String)>,
    generate: Vec<Vec<String>>,
    catalog: Vec<String>,
    catalog_edits: Vec<Vec<String>>,
    recipient: Option<String>,
    age_key: Option<String>,
    cwd: Option<String>,
    mkdirs: Vec<String>,
    log: Option<String>,
    exit: i32,
    wheres: Vec<String>,
    secrets: Vec<String>,
    memory_mib: u64,
    /// The hang guard; [`TIMEOUT`] but in the runner's own test.
    timeout: Duration,
    /// Keep stdin open after writing it, as a host that hangs would (the runner's own test).
    hold_stdin: bool,
}

/// Splits `text` into words: blanks separate them, `"..."` keeps blanks (`\"`, `\\`, `\n` and
/// `\t` inside).
fn words(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut chars = text.chars().peekable();
    while let Some(&c) = chars.peek() {
        if c.is_whitespace() {
            chars.next();
            continue;
        }
        let mut word = String::new();
        if c == '"' {
            chars.next();
            while let Some(c) = chars.next() {
                match c {
                    '"' => break,
                    '\\' => match chars.next() {
                        Some('n') => word.push('\n'),
                        Some('t') => word.push('\t'),
                        Some(other) => word.push(other),
                        None => {}
                    },
                    _ => word.push(c),
                }
            }
        } else {
            while let Some(&c) = chars.peek() {
                if c.is_whitespace() {
                    break;
                }
                word.push(c);
                chars.next();
            }
        }
        out.push(word);
    }
    out
}

fn parse_case(dir: &Path) -> Case {
    let name = dir.file_name().unwrap().to_string_lossy().into_owned();
    let text = fs::read_to_string(dir.join("case")).unwrap();
    let mut case = Case {
        name: name.clone(),
        dir: dir.to_owned(),
        memory_mib: MEMORY_MIB,
        timeout: TIMEOUT,
        exit: -1,
        ..Case::default()
    };
    let mut described = false;
    for line in text.lines() {
        let line = line.trim_end();
        if line.starts_with('#') {
            described = true;
            continue;
        }
        if line.trim().is_empty() {
            continue;
        }
        let (key, rest) = line
            .split_once(':')
            .unwrap_or_else(|| panic!("{name}/case: {line:?} is not `key: value`"));
        let rest = rest.trim();
        match key.trim() {
            "mode" => rest.clone_into(&mut case.mode),
            "args" => case.args.extend(words(rest)),
            "arg" => case.args.push(rest.to_owned()),
            "env" => {
                let (k, v) = rest.split_once('=').unwrap_or((rest, ""));
                case.env.push((k.to_owned(), v.to_owned()));
            }
            "input" => case.inputs.extend(words(rest)),
            "stdin" => case.stdin = Some(rest.to_owned()),
            "stdin-repeat" => {
                let w = words(rest);
                assert_eq!(w.len(), 2, "{name}: stdin-repeat: COUNT TEXT");
                case.stdin_repeat = Some((w[0].parse().unwrap(), w[1].clone()));
            }
            "generate" => case.generate.push(words(rest)),
            "catalog" => case.catalog = words(rest),
            "catalog-edit" => case.catalog_edits.push(words(rest)),
            "recipient" => case.recipient = Some(rest.to_owned()),
            "age-key" => case.age_key = Some(rest.to_owned()),
            "cwd" => case.cwd = Some(rest.to_owned()),
            "mkdir" => case.mkdirs.push(rest.to_owned()),
            "log" => case.log = Some(rest.to_owned()),
            "exit" => case.exit = rest.parse().unwrap(),
            "where" => case.wheres.push(rest.to_owned()),
            "secret" => case.secrets.push(rest.to_owned()),
            "memory-mib" => case.memory_mib = rest.parse().unwrap(),
            other => panic!("{name}/case: unknown key {other:?}"),
        }
    }
    let root = root().display().to_string();
    for arg in &mut case.args {
        *arg = arg.replace("[root]", &root);
    }
    for (_, v) in &mut case.env {
        *v = v.replace("[root]", &root);
    }
    assert!(
        described,
        "{name}/case: say in a # comment what the case is and why it must fail"
    );
    assert!(
        MODES.contains(&case.mode.as_str()),
        "{name}/case: mode {:?} is none of {MODES:?}",
        case.mode
    );
    assert!(case.exit > 0, "{name}/case: pin the exit code (`exit: N`, not 0)");
    assert!(
        !case.wheres.is_empty(),
        "{name}/case: say where the diagnostic must point (`where:`)"
    );
    case
}

fn cases() -> Vec<Case> {
    let mut dirs: Vec<PathBuf> = fs::read_dir(path(CORPUS))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.is_dir())
        .collect();
    dirs.sort();
    dirs.iter()
        .map(|d| {
            assert!(d.join("case").is_file(), "{} has no case file", d.display());
            parse_case(d)
        })
        .collect()
}

// ---------------------------------------------------------------------------------------------
// What every case shares: the test catalog, its secrets and data key.

struct Shared {
    catalog: String,
    age_key: String,
    recipient: String,
    /// Text that must never appear in any output.
    secrets: Vec<String>,
}

fn shared() -> &'static Shared {
    static SHARED: OnceLock<Shared> = OnceLock::new();
    SHARED.get_or_init(|| {
        let catalog = fs::read_to_string(path(CATALOG)).unwrap();
        let age_key = fs::read_to_string(path(AGE_KEY)).unwrap();
        let recipient = age_key
            .lines()
            .find_map(|l| l.strip_prefix("# public key: "))
            .unwrap()
            .to_owned();
        let mut secrets: Vec<String> = crate::cli::TEST_SECRETS.iter().map(|s| (*s).to_owned()).collect();
        secrets.extend(plain_secrets(
            &fs::read_to_string(path("testdata/catalog/test.plain.yaml")).unwrap(),
        ));
        secrets.extend(
            age_key
                .lines()
                .filter(|l| l.starts_with("AGE-SECRET-KEY-"))
                .map(str::to_owned),
        );
        let ids = Identities::discover(Some(&path(AGE_KEY)), &|_| None).unwrap();
        let decrypted = sops::decrypt(&catalog, &ids).unwrap();
        let key = decrypted.data_key().expose_secret();
        let hex: String = key.iter().fold(String::new(), |mut out, b| {
            let _ = write!(out, "{b:02x}");
            out
        });
        secrets.push(hex.to_uppercase());
        secrets.push(hex);
        secrets.push(base64::engine::general_purpose::STANDARD.encode(key));
        Shared {
            catalog,
            age_key,
            recipient,
            secrets,
        }
    })
}

/// The credentials of a plaintext catalog: the values of its secret fields (a block scalar's
/// lines one by one).
fn plain_secrets(text: &str) -> Vec<String> {
    const FIELDS: &[&str] = &["password", "secretAccessKey", "accessKeyId", "sessionToken"];
    let mut out = Vec::new();
    let mut block: Option<usize> = None;
    for line in text.lines() {
        let indent = line.len() - line.trim_start().len();
        if let Some(at) = block {
            if indent > at || line.trim().is_empty() {
                let t = line.trim().trim_end_matches(',');
                if t.len() >= 8 {
                    out.push(t.to_owned());
                }
                continue;
            }
            block = None;
        }
        let Some((key, value)) = line.trim().split_once(':') else {
            continue;
        };
        if !FIELDS.contains(&key.trim()) {
            continue;
        }
        let value = value.trim().trim_matches('"');
        if value == "|" || value == ">" {
            block = Some(indent);
        } else if value.len() >= 4 {
            out.push(value.to_owned());
        }
    }
    out
}

/// The base64 text that `secret` leaves in any encoding of a longer byte string holding it, at
/// each of the three alignments (only the characters that depend on the secret alone).
fn base64_fragments(secret: &str) -> Vec<String> {
    let engine = &base64::engine::general_purpose::STANDARD;
    let mut out = Vec::new();
    for pad in 0..3 {
        let mut bytes = vec![0u8; pad];
        bytes.extend_from_slice(secret.as_bytes());
        let encoded = engine.encode(&bytes);
        let start = if pad == 0 { 0 } else { 4 };
        let end = bytes.len() / 3 * 4;
        if end > start + 8 {
            out.push(encoded[start..end].to_owned());
        }
    }
    out
}

/// Every way `secrets` must not appear: as they are, and in base64.
fn forbidden(secrets: &[String]) -> Vec<String> {
    let mut out = Vec::new();
    for s in secrets {
        out.push(s.clone());
        out.extend(base64_fragments(s));
    }
    out
}

// ---------------------------------------------------------------------------------------------
// Making the inputs: recipes for generated files and the catalog.

/// Expands the directives of a generated file: `<0xHH>` is that byte, `<repeat N TEXT>` is
/// TEXT (a word or a "quoted" string, directives inside expanded) N times.
fn expand(text: &str) -> Vec<u8> {
    let mut out = Vec::new();
    let mut rest = text;
    while let Some(at) = rest.find('<') {
        out.extend_from_slice(&rest.as_bytes()[..at]);
        let tail = &rest[at..];
        if let Some(hex) = tail.strip_prefix("<0x")
            && hex.len() >= 3
            && hex.as_bytes()[2] == b'>'
            && let Ok(byte) = u8::from_str_radix(&hex[..2], 16)
        {
            out.push(byte);
            rest = &hex[3..];
        } else if let Some(body) = tail.strip_prefix("<repeat ") {
            let (count, after) = body.split_once(' ').unwrap();
            let count: usize = count.parse().unwrap();
            let (unit, after) = if let Some(q) = after.strip_prefix('"') {
                let end = q.find("\">").unwrap();
                (&q[..end], &q[end + 2..])
            } else {
                let end = after.find('>').unwrap();
                (&after[..end], &after[end + 1..])
            };
            // `repeat` doubles by copying: fast even in a debug build, for 65 MiB.
            out.extend_from_slice(&expand(unit).repeat(count));
            rest = after;
        } else {
            out.push(b'<');
            rest = &tail[1..];
        }
    }
    out.extend_from_slice(rest.as_bytes());
    out
}

/// Writes OUT from SRC (both in the work dir): directives expanded, then re-encoded.
fn generate(work: &Path, spec: &[String]) {
    let (out, src, encoding) = match spec {
        [out, src] => (out, src, "utf8"),
        [out, src, encoding] => (out, src, encoding.as_str()),
        _ => panic!("generate: OUT SRC [ENCODING]: {spec:?}"),
    };
    let bytes = expand(&fs::read_to_string(work.join(src)).unwrap());
    let utf16 = |big: bool, bom: bool| {
        let text = String::from_utf8(bytes.clone()).expect("UTF-16 sources are UTF-8 text");
        let mut out = Vec::new();
        for unit in bom.then_some(0xfeff).into_iter().chain(text.encode_utf16()) {
            out.extend_from_slice(&if big {
                unit.to_be_bytes()
            } else {
                unit.to_le_bytes()
            });
        }
        out
    };
    let bytes = match encoding {
        "utf8" => bytes,
        "utf16le" => utf16(false, true),
        "utf16be" => utf16(true, true),
        "utf16le-nobom" => utf16(false, false),
        "crlf" => {
            let mut out = Vec::with_capacity(bytes.len() + bytes.len() / 16);
            for b in bytes {
                if b == b'\n' {
                    out.push(b'\r');
                }
                out.push(b);
            }
            out
        }
        "cr" => bytes
            .into_iter()
            .map(|b| if b == b'\n' { b'\r' } else { b })
            .collect(),
        other => panic!("generate: unknown encoding {other:?}"),
    };
    fs::write(work.join(out), bytes).unwrap();
}

/// The certificates a plaintext catalog may name.
const CERTS: &[(&str, &str)] = &[
    ("@TEST_CERT@", "testdata/keys/sealed-secrets-test.crt"),
    ("@EXPIRED_CERT@", "testdata/keys/sealed-secrets-expired.crt"),
    ("@EC_CERT@", "testdata/keys/sealed-secrets-ec.crt"),
    ("@RSA1024_CERT@", "testdata/keys/sealed-secrets-1024.crt"),
];

/// A plaintext catalog with its certificate placeholders filled in, each line indented as
/// the placeholder is.
fn fill_certs(text: &str) -> String {
    let mut out = String::new();
    for line in text.split_inclusive('\n') {
        match CERTS.iter().find(|(p, _)| line.contains(p)) {
            Some((placeholder, file)) => {
                let indent = &line[..line.find(placeholder).unwrap()];
                let cert = fs::read_to_string(path(file)).unwrap();
                for l in cert.lines() {
                    out.push_str(indent);
                    out.push_str(l);
                    out.push('\n');
                }
            }
            None => out.push_str(line),
        }
    }
    out
}

/// A plaintext YAML file as a sops tree: plain scalars typed as YAML 1.2's core schema reads
/// them (enough for a catalog), quoted ones strings.
fn plain_tree(text: &str) -> Vec<Value> {
    use saphyr_parser::{Event, Parser, ScalarStyle};
    fn node(events: &[Event<'_>], at: &mut usize) -> Value {
        let event = &events[*at];
        *at += 1;
        match event {
            Event::Scalar(s, style, ..) => {
                if *style != ScalarStyle::Plain {
                    return Value::Str(SecretString::from(s.to_string()));
                }
                match s.as_ref() {
                    "" | "~" | "null" => Value::Null,
                    "true" => Value::Bool(true),
                    "false" => Value::Bool(false),
                    other => other
                        .parse::<i64>()
                        .map_or_else(|_| Value::Str(SecretString::from(other.to_owned())), Value::Int),
                }
            }
            Event::SequenceStart(..) => {
                let mut items = Vec::new();
                while !matches!(events[*at], Event::SequenceEnd) {
                    items.push(node(events, at));
                }
                *at += 1;
                Value::Seq(items)
            }
            Event::MappingStart(..) => {
                let mut entries = Vec::new();
                while !matches!(events[*at], Event::MappingEnd) {
                    let Event::Scalar(key, ..) = &events[*at] else {
                        panic!("non-scalar key")
                    };
                    let key = key.to_string();
                    *at += 1;
                    entries.push((key, node(events, at)));
                }
                *at += 1;
                Value::Map(entries)
            }
            other => panic!("plain catalogs have no {other:?}"),
        }
    }
    let events: Vec<Event<'_>> = Parser::new_from_str(text)
        .map(|e| e.unwrap().0)
        .filter(|e| !matches!(e, Event::StreamStart | Event::StreamEnd | Event::DocumentEnd))
        .collect();
    let mut docs = Vec::new();
    let mut at = 0;
    while at < events.len() {
        assert!(matches!(events[at], Event::DocumentStart(_)));
        at += 1;
        docs.push(node(&events, &mut at));
    }
    docs
}

/// Encrypts a plaintext catalog to `recipient`, deterministically.
fn encrypt_catalog(plain: &str, recipient: &str) -> String {
    let options = EncryptOptions {
        recipients: vec![age::x25519::Recipient::from_str(recipient).unwrap()],
        kms: pullseal::sops::KmsRecipients::default(),
        rule: Rule::EncryptAll,
        mac_only_encrypted: false,
        last_modified: LastModified::from_unix(1_800_000_000).unwrap(),
    };
    let seed = Seed::new(SecretBox::new(Box::new(*b"bad-input corpus: TEST ONLY seed")));
    sops::encrypt(&plain_tree(plain), &options, Randomness::Derived(&seed)).unwrap()
}

/// The lines of a sops file with the key path each one starts (`registries.company.password`,
/// `sops.age[0].enc`), `None` for a block scalar's continuation lines. Enough for the files
/// sops and pullseal emit: block mappings and sequences, one entry a line.
fn line_paths(text: &str) -> Vec<Option<String>> {
    // (indent, segment, items seen so far at this level)
    let mut stack: Vec<(usize, String)> = Vec::new();
    let mut counters: BTreeMap<String, usize> = BTreeMap::new();
    let mut out = Vec::new();
    let mut block_at: Option<usize> = None;
    for line in text.lines() {
        let indent = line.len() - line.trim_start().len();
        let t = line.trim_start();
        if let Some(at) = block_at {
            if indent > at || t.is_empty() {
                out.push(None);
                continue;
            }
            block_at = None;
        }
        if t.is_empty() || t.starts_with('#') {
            out.push(None);
            continue;
        }
        let join = |stack: &[(usize, String)]| {
            stack.iter().fold(String::new(), |mut acc, (_, seg)| {
                if !acc.is_empty() && !seg.starts_with('[') {
                    acc.push('.');
                }
                acc.push_str(seg);
                acc
            })
        };
        let (item, body, body_indent) = match t.strip_prefix("- ") {
            Some(body) => (true, body, indent + 2),
            None => (false, t, indent),
        };
        while stack.last().is_some_and(|(i, _)| *i >= indent) {
            stack.pop();
        }
        if item {
            let parent = join(&stack);
            let n = counters.entry(format!("{parent}@{indent}")).or_insert(0);
            stack.push((indent, format!("[{n}]")));
            *n += 1;
        }
        let key = body
            .split_once(": ")
            .map(|(k, _)| k)
            .or_else(|| body.strip_suffix(':'))
            .filter(|k| !k.starts_with("ENC["));
        if let Some(key) = key {
            let key = key.trim_matches('"');
            stack.push((body_indent, key.to_owned()));
            // Forget the item counters of an earlier sibling of the same name.
            let here = join(&stack);
            counters.retain(|k, _| !k.starts_with(&format!("{here}@")));
            if body.ends_with('|') || body.ends_with("|-") || body.ends_with('>') {
                block_at = Some(body_indent);
            }
        }
        out.push(Some(join(&stack)));
        if key.is_none() && item {
            // a scalar item: nothing below it
        }
    }
    out
}

/// The lines `[start, end)` of the entry at `path` (its line and everything below it).
fn entry_lines(text: &str, path: &str) -> (usize, usize) {
    let paths = line_paths(text);
    let start = paths
        .iter()
        .position(|p| p.as_deref() == Some(path))
        .unwrap_or_else(|| panic!("catalog-edit: no line for {path}"));
    let prefix = format!("{path}.");
    let index_prefix = format!("{path}[");
    let end = paths
        .iter()
        .enumerate()
        .skip(start + 1)
        .find(|(_, p)| {
            p.as_ref()
                .is_some_and(|p| !p.starts_with(&prefix) && !p.starts_with(&index_prefix))
        })
        .map_or(paths.len(), |(i, _)| i);
    (start, end)
}

/// Applies one `catalog-edit:` to the catalog text.
fn edit_catalog(text: &str, op: &[String]) -> String {
    let mut lines: Vec<String> = text.lines().map(str::to_owned).collect();
    let trailing = if text.ends_with('\n') { "\n" } else { "" };
    let join = |lines: &[String]| lines.join("\n") + trailing;
    let value_at = |line: &str| line.find(": ").map_or(line.len(), |i| i + 2);
    match op.iter().map(String::as_str).collect::<Vec<_>>().as_slice() {
        ["flip", p] => {
            let (start, end) = entry_lines(text, p);
            let (i, at) = (start..end)
                .find_map(|i| {
                    lines[i].find("data:").map(|at| (i, at + 5)).or_else(|| {
                        (i > start && !lines[i].contains("-----"))
                            .then_some((i, lines[i].len() - lines[i].trim_start().len() + 8))
                    })
                })
                .unwrap_or_else(|| panic!("catalog-edit: nothing to flip at {p}"));
            let mut bytes = lines[i].clone().into_bytes();
            bytes[at] = if bytes[at] == b'A' { b'B' } else { b'A' };
            lines[i] = String::from_utf8(bytes).unwrap();
            join(&lines)
        }
        ["swap", a, b] => {
            let (ia, _) = entry_lines(text, a);
            let (ib, _) = entry_lines(text, b);
            let va = lines[ia][value_at(&lines[ia])..].to_owned();
            let vb = lines[ib][value_at(&lines[ib])..].to_owned();
            let ka = lines[ia][..value_at(&lines[ia])].to_owned();
            let kb = lines[ib][..value_at(&lines[ib])].to_owned();
            lines[ia] = ka + &vb;
            lines[ib] = kb + &va;
            join(&lines)
        }
        ["swap-entries", a, b] => {
            let (sa, ea) = entry_lines(text, a);
            let (sb, eb) = entry_lines(text, b);
            assert!(
                ea <= sb,
                "catalog-edit: swap-entries wants the earlier entry first"
            );
            let mut out: Vec<String> = lines[..sa].to_vec();
            out.extend_from_slice(&lines[sb..eb]);
            out.extend_from_slice(&lines[ea..sb]);
            out.extend_from_slice(&lines[sa..ea]);
            out.extend_from_slice(&lines[eb..]);
            join(&out)
        }
        ["delete", p] => {
            let (start, end) = entry_lines(text, p);
            lines.drain(start..end);
            join(&lines)
        }
        ["set", p, value] => {
            let (start, end) = entry_lines(text, p);
            let key = lines[start][..value_at(&lines[start])].to_owned();
            lines.splice(start..end, [key + value]);
            join(&lines)
        }
        ["insert-after", p, line] => {
            let (_, end) = entry_lines(text, p);
            lines.insert(end, (*line).to_owned());
            join(&lines)
        }
        ["truncate-before", p] => {
            let (start, _) = entry_lines(text, p);
            lines.truncate(start);
            join(&lines)
        }
        ["truncate-bytes", n] => text[..n.parse::<usize>().unwrap()].to_owned(),
        ["replace", old, new] => {
            assert!(text.contains(old), "catalog-edit: {old:?} is not in the catalog");
            text.replacen(old, new, 1)
        }
        other => panic!("catalog-edit: unknown operation {other:?}"),
    }
}

// ---------------------------------------------------------------------------------------------
// Running a case.

/// What a case's run left behind.
struct Outcome {
    work: tempfile::TempDir,
    code: Option<i32>,
    signal: Option<i32>,
    timed_out: bool,
    elapsed: Duration,
    stdout: Vec<u8>,
    stderr: Vec<u8>,
    /// Files of the work dir that the run added, changed or removed.
    changed: Vec<String>,
    /// Every secret the case's inputs hold.
    secrets: Vec<String>,
}

/// The files under `dir`: small ones by content, large ones by length and modification time.
/// A file as [`files`] records it: its length, and its content or modification time.
type FileState = (u64, Option<Vec<u8>>, Option<std::time::SystemTime>);

fn files(dir: &Path) -> BTreeMap<String, FileState> {
    let mut out = BTreeMap::new();
    let mut todo = vec![dir.to_owned()];
    while let Some(d) = todo.pop() {
        for entry in fs::read_dir(&d).unwrap() {
            let entry = entry.unwrap();
            let p = entry.path();
            let meta = fs::symlink_metadata(&p).unwrap();
            let rel = p.strip_prefix(dir).unwrap().display().to_string();
            if meta.is_dir() {
                todo.push(p);
            } else if meta.len() <= 1 << 20 {
                out.insert(rel, (meta.len(), Some(fs::read(&p).unwrap()), None));
            } else {
                out.insert(rel, (meta.len(), None, meta.modified().ok()));
            }
        }
    }
    out
}

fn copy_dir(from: &Path, to: &Path) {
    for entry in fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let name = entry.file_name();
        if name == "case" || name == "expected.snap" || name.to_string_lossy().ends_with(".snap.new") {
            continue;
        }
        let target = to.join(&name);
        if entry.file_type().unwrap().is_dir() {
            fs::create_dir_all(&target).unwrap();
            copy_dir(&entry.path(), &target);
        } else {
            fs::copy(entry.path(), &target).unwrap();
        }
    }
}

/// Builds the work dir `w`: the case's files and generated inputs, its catalog and key.
/// Returns every secret they hold.
fn prepare(case: &Case, w: &Path) -> Vec<String> {
    let shared = shared();
    copy_dir(&case.dir, w);
    for dir in &case.mkdirs {
        fs::create_dir_all(w.join(dir)).unwrap();
    }
    for spec in &case.generate {
        generate(w, spec);
    }
    let mut secrets = shared.secrets.clone();
    secrets.extend(case.secrets.iter().cloned());

    // The catalog: the test catalog, one encrypted from the case's plaintext, the case's file
    // as it is, or none; then the edits.
    let catalog = match case
        .catalog
        .iter()
        .map(String::as_str)
        .collect::<Vec<_>>()
        .as_slice()
    {
        [] | ["test"] => Some(shared.catalog.clone().into_bytes()),
        ["encrypt", file] => {
            let plain = fill_certs(&fs::read_to_string(w.join(file)).unwrap());
            secrets.extend(plain_secrets(&plain));
            fs::remove_file(w.join(file)).unwrap();
            Some(encrypt_catalog(&plain, case.recipient.as_deref().unwrap_or(&shared.recipient)).into_bytes())
        }
        ["copy", file] => Some(fs::read(w.join(file)).unwrap()),
        ["none"] => None,
        other => panic!("{}: catalog: {other:?}", case.name),
    };
    if let Some(mut bytes) = catalog {
        if !case.catalog_edits.is_empty() {
            let mut text = String::from_utf8(bytes).expect("catalog-edit works on UTF-8 catalogs");
            for op in &case.catalog_edits {
                text = edit_catalog(&text, op);
            }
            bytes = text.into_bytes();
        }
        fs::write(w.join("catalog.yaml"), bytes).unwrap();
    } else {
        assert!(
            case.catalog_edits.is_empty(),
            "{}: catalog-edit without a catalog",
            case.name
        );
    }
    match case.age_key.as_deref() {
        None => fs::write(w.join("age.txt"), &shared.age_key).unwrap(),
        Some("none") => {}
        Some(file) => {
            let text = fs::read_to_string(w.join(file)).unwrap_or_default();
            secrets.extend(
                text.lines()
                    .filter(|l| l.contains("AGE-SECRET-KEY-"))
                    .map(str::to_owned),
            );
            fs::copy(w.join(file), w.join("age.txt")).map(drop).unwrap();
        }
    }
    secrets
}

/// How the case's mode runs pullseal in the work dir `w`.
struct Invocation {
    argv: Vec<String>,
    env: Vec<(String, String)>,
    stdin: Option<String>,
    cwd: PathBuf,
}

fn invocation(case: &Case, w: &Path) -> Invocation {
    let has_catalog = w.join("catalog.yaml").exists();
    let has_key = w.join("age.txt").exists();

    // The command line and environment of the mode.
    let mut argv: Vec<String> = Vec::new();
    let mut env: Vec<(String, String)> = Vec::new();
    let mut stdin = case.stdin.clone();
    let abs = |name: &str| w.join(name).display().to_string();
    let catalog_flags = |argv: &mut Vec<String>| {
        if has_catalog && !case.args.iter().any(|a| a.starts_with("--catalog")) {
            argv.extend(["--catalog".to_owned(), "catalog.yaml".to_owned()]);
        }
        if has_key && !case.args.iter().any(|a| a.starts_with("--age-key-file")) {
            argv.extend(["--age-key-file".to_owned(), "age.txt".to_owned()]);
        }
    };
    let cluster_flag = |argv: &mut Vec<String>| {
        if !case
            .args
            .iter()
            .any(|a| a.starts_with("--cluster") || a == "--all-clusters")
        {
            argv.extend(["--cluster".to_owned(), "test".to_owned()]);
        }
    };
    let stdin_default = |stdin: &mut Option<String>| {
        if stdin.is_none() && w.join("input.yaml").exists() {
            *stdin = Some("input.yaml".to_owned());
        }
    };
    let mut cwd = w.to_path_buf();
    match case.mode.as_str() {
        "render" | "usage" => {
            argv.push(case.mode.clone());
            catalog_flags(&mut argv);
            cluster_flag(&mut argv);
            argv.extend(case.args.iter().cloned());
            if stdin.is_none() && case.stdin_repeat.is_none() {
                argv.extend(inputs(case, w));
            }
        }
        "helm" => {
            argv.push("render".to_owned());
            argv.extend(case.args.iter().cloned());
            env.push(("PULLSEAL_CATALOG".to_owned(), "catalog.yaml".to_owned()));
            env.push(("SOPS_AGE_KEY_FILE".to_owned(), "age.txt".to_owned()));
            env.push(("PULLSEAL_CLUSTER".to_owned(), "test".to_owned()));
            stdin_default(&mut stdin);
        }
        "krm" => {
            argv.extend(case.args.iter().cloned());
            env.push(("PULLSEAL_CATALOG".to_owned(), "catalog.yaml".to_owned()));
            env.push(("SOPS_AGE_KEY_FILE".to_owned(), "age.txt".to_owned()));
            stdin_default(&mut stdin);
        }
        "kustomize" => {
            // kustomize runs the plugin with a copy of its config as argv[1], from wherever
            // it is; the kustomization directory comes in KUSTOMIZE_PLUGIN_CONFIG_ROOT.
            argv.push(abs("config.yaml"));
            argv.extend(case.args.iter().cloned());
            env.push(("KUSTOMIZE_PLUGIN_CONFIG_ROOT".to_owned(), w.display().to_string()));
            cwd = w.join("elsewhere");
            fs::create_dir_all(&cwd).unwrap();
            stdin_default(&mut stdin);
        }
        "argocd" => {
            argv.extend(["argocd".to_owned(), "generate".to_owned()]);
            argv.extend(case.args.iter().cloned());
            env.extend(argocd_env(w));
            cwd = w.join("app");
        }
        "catalog" => {
            argv.push("catalog".to_owned());
            catalog_flags(&mut argv);
            argv.extend(case.args.iter().cloned());
        }
        "command" => argv.extend(case.args.iter().cloned()),
        other => panic!("{}: mode {other:?}", case.name),
    }
    if let Some(dir) = &case.cwd {
        cwd = w.join(dir);
    }
    let work = w.display().to_string();
    env.extend(
        case.env
            .iter()
            .map(|(k, v)| (k.clone(), v.replace("[work]", &work))),
    );
    if let Some(log) = &case.log {
        env.push(("PULLSEAL_LOG".to_owned(), log.clone()));
    }

    Invocation {
        argv,
        env,
        stdin,
        cwd,
    }
}

/// The render inputs: the case's, else every `input*` manifest of the work dir, sorted.
fn inputs(case: &Case, w: &Path) -> Vec<String> {
    if !case.inputs.is_empty() {
        return case.inputs.clone();
    }
    let mut found: Vec<String> = fs::read_dir(w)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with("input") && [".yaml", ".yml", ".json"].iter().any(|e| n.ends_with(e)))
        .collect();
    found.sort();
    found
}

/// What the Argo CD repo-server gives the generate command (as `tests/it/argocd.rs` has it)
/// for an Application `shop` of project `default`, destination namespace `shop`, with
/// `PULLSEAL_CLUSTER=test` in its plugin env, on a sidecar with no helm or kustomize.
fn argocd_env(w: &Path) -> Vec<(String, String)> {
    let abs = |name: &str| w.join(name).display().to_string();
    [
        ("PULLSEAL_CATALOG", abs("catalog.yaml")),
        ("SOPS_AGE_KEY_FILE", abs("age.txt")),
        ("ARGOCD_APP_NAME", "shop".to_owned()),
        ("ARGOCD_APP_NAMESPACE", "shop".to_owned()),
        ("ARGOCD_APP_PROJECT_NAME", "default".to_owned()),
        (
            "ARGOCD_APP_REVISION",
            "0123456789abcdef0123456789abcdef01234567".to_owned(),
        ),
        ("ARGOCD_APP_SOURCE_PATH", "app".to_owned()),
        ("ARGOCD_ENV_PULLSEAL_CLUSTER", "test".to_owned()),
        ("ARGOCD_ENV_PULLSEAL_NAMESPACE", String::new()),
        ("PATH", "/usr/bin:/bin".to_owned()),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v))
    .collect()
}

/// What a run gave.
struct Ran {
    code: Option<i32>,
    signal: Option<i32>,
    timed_out: bool,
    elapsed: Duration,
    stdout: Vec<u8>,
    stderr: Vec<u8>,
}

/// Runs `how` under the case's limits, stdin fed from the work dir `w`.
fn execute(case: &Case, w: &Path, how: &Invocation) -> Ran {
    let bin = assert_cmd::cargo::cargo_bin("pullseal");
    let mut cmd = Command::new("sh");
    // The limit applies to pullseal alone: the shell sets it and execs.
    cmd.arg("-c")
        .arg(r#"ulimit -v "$0" && exec "$@""#)
        .arg((case.memory_mib * 1024).to_string())
        .arg(&bin)
        .args(&how.argv)
        .current_dir(&how.cwd)
        .env("XDG_CONFIG_HOME", w.join("no-such-config"))
        .env("HOME", w.join("no-such-home"))
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    for var in PULLSEAL_VARS {
        cmd.env_remove(var);
    }
    for (k, v) in &how.env {
        cmd.env(k, v);
    }
    let started = Instant::now();
    let mut child = cmd.spawn().unwrap();
    let mut input = Vec::new();
    if let Some(file) = &how.stdin {
        input = fs::read(w.join(file)).unwrap();
    }
    let repeat = case.stdin_repeat.clone();
    let mut pipe = child.stdin.take().unwrap();
    let hold = case.hold_stdin;
    let writer = std::thread::spawn(move || {
        // A process that stops reading (it refused the input) closes the pipe: not an error.
        if pipe.write_all(&input).is_err() {
            return None;
        }
        if let Some((count, unit)) = repeat {
            let chunk = unit.repeat((1 << 16) / unit.len().max(1) + 1);
            let mut left = count * unit.len();
            while left > 0 {
                let n = left.min(chunk.len());
                if pipe.write_all(&chunk.as_bytes()[..n]).is_err() {
                    return None;
                }
                left -= n;
            }
        }
        // Held, the pipe closes only when the thread is joined, after the process ended.
        hold.then_some(pipe)
    });
    let reader = |mut pipe: Box<dyn std::io::Read + Send>| {
        std::thread::spawn(move || {
            // Keep the first 4 MiB; drain the rest so the process never blocks on a full pipe.
            let mut kept = Vec::new();
            let _ = (&mut pipe).take(4 << 20).read_to_end(&mut kept);
            let _ = std::io::copy(&mut pipe, &mut std::io::sink());
            kept
        })
    };
    let out_reader = reader(Box::new(child.stdout.take().unwrap()));
    let err_reader = reader(Box::new(child.stderr.take().unwrap()));
    let mut timed_out = false;
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if started.elapsed() > case.timeout {
            timed_out = true;
            let _ = child.kill();
            break child.wait().unwrap();
        }
        std::thread::sleep(Duration::from_millis(5));
    };
    let elapsed = started.elapsed();
    let _ = writer.join();
    let stdout = out_reader.join().unwrap();
    let stderr = err_reader.join().unwrap();
    Ran {
        code: status.code(),
        signal: status.signal(),
        timed_out,
        elapsed,
        stdout,
        stderr,
    }
}

/// Builds the work dir, runs the case's command in it under the limits, and collects what
/// happened.
fn run(case: &Case) -> Outcome {
    let work = tempfile::Builder::new()
        .prefix("pullseal-bad-")
        .tempdir()
        .unwrap();
    let w = work.path().to_owned();
    let secrets = prepare(case, &w);
    let how = invocation(case, &w);
    let before = files(&w);
    let ran = execute(case, &w, &how);
    let after = files(&w);
    let mut changed: Vec<String> = after
        .iter()
        .filter(|(k, v)| before.get(*k) != Some(v))
        .map(|(k, _)| k.clone())
        .collect();
    changed.extend(before.keys().filter(|k| !after.contains_key(*k)).cloned());
    Outcome {
        work,
        code: ran.code,
        signal: ran.signal,
        timed_out: ran.timed_out,
        elapsed: ran.elapsed,
        stdout: ran.stdout,
        stderr: ran.stderr,
        changed,
        secrets,
    }
}

/// Stderr as the snapshot shows it: the work dir and the binary's path replaced.
fn shown_stderr(outcome: &Outcome) -> String {
    let w = outcome.work.path();
    let real = fs::canonicalize(w).unwrap();
    let bin = assert_cmd::cargo::cargo_bin("pullseal");
    String::from_utf8_lossy(&outcome.stderr)
        .replace(&real.display().to_string(), "[work]")
        .replace(&w.display().to_string(), "[work]")
        .replace(&bin.display().to_string(), "[pullseal]")
}

/// Everything wrong with a case's outcome but the snapshot.
fn problems(case: &Case, outcome: &Outcome) -> Vec<String> {
    let mut out = Vec::new();
    let limit = format!("{} MiB of address space", case.memory_mib);
    if outcome.timed_out {
        out.push(format!(
            "hung: still running after {:?}, killed by the hang guard",
            case.timeout
        ));
        return out;
    }
    let stderr = shown_stderr(outcome);
    match (outcome.code, outcome.signal) {
        (_, Some(signal)) => out.push(format!(
            "killed by signal {signal}{}",
            if stderr.contains("memory allocation of") || signal == 6 {
                format!(": it ran out of memory under the limit ({limit})")
            } else {
                String::new()
            }
        )),
        (Some(0), _) => out.push("exit 0: a bad input was accepted".to_owned()),
        (Some(101), _) => out.push("exit 101: it panicked".to_owned()),
        (Some(code), _) if code != case.exit => {
            out.push(format!("exit {code}, but the case pins exit {}", case.exit));
        }
        _ => {}
    }
    // Under the limit an allocation fails: Rust aborts (above), or a read gives up with the
    // I/O error "out of memory", or a thread cannot get its stack.
    if ["memory allocation of", "out of memory", "failed to spawn thread"]
        .iter()
        .any(|m| stderr.contains(m))
    {
        out.push(format!("it ran into the memory limit ({limit})"));
    }
    if !outcome.stdout.is_empty() {
        out.push(format!(
            "wrote {} bytes to stdout on failure: {:?}",
            outcome.stdout.len(),
            String::from_utf8_lossy(&outcome.stdout[..outcome.stdout.len().min(200)])
        ));
    }
    let raw: Vec<String> = String::from_utf8_lossy(&outcome.stderr)
        .chars()
        .filter(|&c| {
            (c.is_control() && c != '\n')
                || matches!(c, '\u{2028}' | '\u{2029}' | '\u{061c}' | '\u{feff}' | '\u{fffd}')
                || ('\u{200b}'..='\u{200f}').contains(&c)
                || ('\u{202a}'..='\u{202e}').contains(&c)
                || ('\u{2060}'..='\u{206f}').contains(&c)
        })
        .map(|c| format!("U+{:04X}", u32::from(c)))
        .collect();
    if !raw.is_empty() {
        out.push(format!(
            "stderr holds raw control or format characters (or bytes that are not UTF-8): {raw:?}"
        ));
    }
    if !stderr.contains("error") {
        out.push("stderr holds no error line".to_owned());
    }
    for place in &case.wheres {
        if !stderr.contains(place.as_str()) {
            out.push(format!("stderr does not name the place {place:?}"));
        }
    }
    let mut changed = outcome.changed.clone();
    changed.retain(|f| Some(f) != case.log.as_ref());
    if !changed.is_empty() {
        out.push(format!("the failed run changed files: {changed:?}"));
    }
    // No secret in any output: stdout, stderr, the log.
    let mut texts = vec![
        ("stdout", String::from_utf8_lossy(&outcome.stdout).into_owned()),
        ("stderr", String::from_utf8_lossy(&outcome.stderr).into_owned()),
    ];
    if let Some(log) = &case.log {
        match fs::read(outcome.work.path().join(log)) {
            Ok(bytes) => texts.push(("the log", String::from_utf8_lossy(&bytes).into_owned())),
            Err(_) => out.push(format!("no log was written to {log}")),
        }
    }
    for secret in forbidden(&outcome.secrets) {
        for (what, text) in &texts {
            if text.contains(&secret) {
                out.push(format!(
                    "{what} holds a secret of the catalog or key (or its base64)"
                ));
            }
        }
    }
    out
}

fn snapshot_text(outcome: &Outcome) -> String {
    format!(
        "exit: {}\n----- stderr -----\n{}",
        outcome.code.map_or_else(
            || format!("signal {}", outcome.signal.unwrap_or(0)),
            |c| c.to_string()
        ),
        shown_stderr(outcome)
    )
}

/// Runs every case, `WORKERS` at a time.
fn run_all(cases: &[Case]) -> Vec<Outcome> {
    let next = AtomicUsize::new(0);
    let results: Mutex<Vec<Option<Outcome>>> = Mutex::new((0..cases.len()).map(|_| None).collect());
    std::thread::scope(|scope| {
        for _ in 0..WORKERS {
            scope.spawn(|| {
                loop {
                    let i = next.fetch_add(1, Ordering::SeqCst);
                    let Some(case) = cases.get(i) else { break };
                    let outcome = run(case);
                    results.lock().unwrap()[i] = Some(outcome);
                }
            });
        }
    });
    results
        .into_inner()
        .unwrap()
        .into_iter()
        .map(Option::unwrap)
        .collect()
}

#[test]
fn every_bad_input_fails_closed_and_says_where() {
    let cases = cases();
    // `BAD_CASE=name` runs one case (a prefix runs a category).
    let only = std::env::var("BAD_CASE").ok();
    let cases: Vec<Case> = cases
        .into_iter()
        .filter(|c| only.as_deref().is_none_or(|o| c.name.starts_with(o)))
        .collect();
    let started = Instant::now();
    let outcomes = run_all(&cases);
    let mut failures = String::new();
    let mut slowest: Vec<(Duration, &str)> = Vec::new();
    for (case, outcome) in cases.iter().zip(&outcomes) {
        slowest.push((outcome.elapsed, &case.name));
        let mut problems = problems(case, outcome);
        let text = snapshot_text(outcome);
        let mut settings = insta::Settings::clone_current();
        settings.set_snapshot_path(&case.dir);
        settings.set_prepend_module_to_snapshot(false);
        settings.set_input_file(case.dir.join("case"));
        settings.set_omit_expression(true);
        let pinned = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            settings.bind(|| insta::assert_snapshot!("expected", text));
        }));
        if pinned.is_err() {
            problems.push("stderr or exit code differ from expected.snap (see the diff above)".to_owned());
        }
        if !problems.is_empty() {
            writeln!(failures, "{}:", case.name).unwrap();
            for p in problems {
                writeln!(failures, "  - {p}").unwrap();
            }
            let shown = shown_stderr(outcome);
            let clipped: String = shown.chars().take(2000).collect();
            writeln!(
                failures,
                "  stderr: {}",
                clipped.trim_end().replace('\n', "\n          ")
            )
            .unwrap();
            if clipped.len() < shown.len() {
                writeln!(failures, "          ... ({} bytes in all)", shown.len()).unwrap();
            }
        }
    }
    slowest.sort_by(|a, b| b.cmp(a));
    assert!(
        failures.is_empty(),
        "bad-input cases failed ({} cases in {:.1?}; slowest: {:?}):\n{failures}",
        cases.len(),
        started.elapsed(),
        slowest.iter().take(3).collect::<Vec<_>>()
    );
}

/// The corpus holds at least 100 cases, every category of issue 9's list and every front-end
/// mode; each case directory has its pinned diagnostic.
#[test]
fn the_corpus_covers_every_category_and_mode() {
    let cases = cases();
    assert!(cases.len() >= 100, "only {} bad-input cases", cases.len());
    for (prefix, least) in CATEGORIES {
        let n = cases.iter().filter(|c| c.name.starts_with(prefix)).count();
        assert!(n >= *least, "category {prefix} has {n} cases, fewer than {least}");
    }
    for case in &cases {
        assert!(
            CATEGORIES.iter().any(|(p, _)| case.name.starts_with(p)),
            "{}: the name starts with none of the categories",
            case.name
        );
        assert!(
            case.dir.join("expected.snap").is_file(),
            "{}: no expected.snap",
            case.name
        );
    }
    for mode in MODES {
        assert!(cases.iter().any(|c| c.mode == *mode), "no case runs mode {mode}");
    }
}

/// The runner's own tools do what the README says, so that a case cannot test nothing.
#[test]
fn the_recipes_and_catalog_edits_work() {
    assert_eq!(expand("a<0x00>b<repeat 3 \"[<0x41>\">c<x"), b"a\0b[A[A[Ac<x");
    assert_eq!(expand("<repeat 2 ab>"), b"abab");
    let text = "registries:\n    a:\n        password: ENC[AES256_GCM,data:QUFB,iv:x,tag:y,type:str]\n        allow:\n            namespaces:\n                - ENC[AES256_GCM,data:QkJC,iv:x,tag:y,type:str]\n    b:\n        password: ENC[AES256_GCM,data:Q0ND,iv:x,tag:y,type:str]\nsops:\n    age:\n        - recipient: age1x\n          enc: |\n            -----BEGIN AGE ENCRYPTED FILE-----\n            YWdlLWVuY3J5\n            -----END AGE ENCRYPTED FILE-----\n    mac: ENC[AES256_GCM,data:TUFD,iv:x,tag:y,type:str]\n";
    let paths = line_paths(text);
    assert_eq!(paths[2].as_deref(), Some("registries.a.password"));
    assert_eq!(paths[5].as_deref(), Some("registries.a.allow.namespaces[0]"));
    assert_eq!(paths[10].as_deref(), Some("sops.age[0].recipient"));
    assert_eq!(paths[11].as_deref(), Some("sops.age[0].enc"));
    assert_eq!(paths[12], None);
    assert_eq!(paths[15].as_deref(), Some("sops.mac"));
    assert_eq!(entry_lines(text, "registries.a"), (1, 6));
    let flipped = edit_catalog(text, &["flip".to_owned(), "registries.b.password".to_owned()]);
    assert!(flipped.contains("data:A0ND"), "{flipped}");
    let armor = edit_catalog(text, &["flip".to_owned(), "sops.age[0].enc".to_owned()]);
    assert!(armor.contains("YWdlLWVuA3J5"), "{armor}");
    let swapped = edit_catalog(
        text,
        &[
            "swap-entries".to_owned(),
            "registries.a".to_owned(),
            "registries.b".to_owned(),
        ],
    );
    assert!(
        swapped.starts_with("registries:\n    b:\n        password: ENC[AES256_GCM,data:Q0ND"),
        "{swapped}"
    );
    let values = edit_catalog(
        text,
        &[
            "swap".to_owned(),
            "registries.a.password".to_owned(),
            "registries.b.password".to_owned(),
        ],
    );
    assert!(
        values.contains("    a:\n        password: ENC[AES256_GCM,data:Q0ND"),
        "{values}"
    );
    // A secret inside a longer base64 text is found at each of the three alignments.
    for prefix in ["", "x", "xy"] {
        let embedded = base64::engine::general_purpose::STANDARD
            .encode(format!("{prefix}{{\"password\":\"test-password-company\"}}"));
        assert!(
            base64_fragments("test-password-company")
                .iter()
                .any(|f| embedded.contains(f.as_str())),
            "{embedded}"
        );
    }
    assert!(
        plain_secrets("a:\n  password: |\n    line-one-secret\n  username: u\n")
            .contains(&"line-one-secret".to_owned())
    );
}

/// The limits catch what they are for, and say so: a process that never finishes is killed by
/// the hang guard and reported as hung; one that needs more memory than the limit is reported
/// as having run into it, not as a wrong exit code.
#[test]
fn a_hang_or_a_blow_up_fails_the_case_and_says_which() {
    let tmp = tempfile::tempdir().unwrap();
    let mut case = Case {
        name: "self-test".to_owned(),
        dir: tmp.path().to_owned(),
        mode: "render".to_owned(),
        stdin: Some("input.yaml".to_owned()),
        exit: 1,
        wheres: vec!["input.yaml".to_owned()],
        memory_mib: MEMORY_MIB,
        timeout: Duration::from_secs(2),
        hold_stdin: true,
        ..Case::default()
    };
    fs::write(tmp.path().join("input.yaml"), "kind: ConfigMap\n").unwrap();
    // `render` with no input reads stdin to its end, which a held pipe never reaches.
    let outcome = run(&case);
    let found = problems(&case, &outcome);
    assert!(outcome.timed_out, "{found:?}");
    assert!(
        found
            .iter()
            .any(|p| p.starts_with("hung: still running after 2s")),
        "{found:?}"
    );
    // 65 MiB of input under a 100 MiB limit: the read cannot get its buffer.
    let big = format!("kind: ConfigMap\ndata: {{a: {}}}\n", "x".repeat(65 << 20));
    fs::write(tmp.path().join("input.yaml"), big).unwrap();
    case.hold_stdin = false;
    case.memory_mib = 100;
    case.timeout = TIMEOUT;
    let outcome = run(&case);
    let found = problems(&case, &outcome);
    assert!(
        found
            .iter()
            .any(|p| p.contains("memory limit (100 MiB of address space)")),
        "{found:?}\n{}",
        shown_stderr(&outcome)
    );
}
