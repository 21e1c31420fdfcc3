//! `pullseal catalog`: runs the admin's commands. Arguments become tree edits for
//! [`crate::catalog::edit`], which checks, encrypts and writes; secrets come from standard
//! input or files; `ls` and `show` report on stdout.
//!
//! What this module must *not* do:
//! - print or log a credential: reports hold names, types, servers, allow rules, seals and
//!   certificate dates, and messages name registries, clusters and fields only;
//! - keep a secret in a plain buffer longer than needed: what is read from stdin or a file is
//!   zeroized, and goes into the tree as a `SecretString`;
//! - write stdout for an edit, or before a report is whole.

use std::io::{Read, Write};
use std::path::Path;

use secrecy::{ExposeSecret as _, SecretString};
use time::OffsetDateTime;
use zeroize::Zeroizing;

use super::inputs::{io, locate_catalog, without_path};
use super::{Env, Report};
use crate::catalog::edit::{Checked, EditError, Editor, set_field, text};
use crate::catalog::{Cluster, DEFAULT_FILE, Registry, SealMode};
use crate::cli::{
    AddArgs, CatalogArgs, CatalogCommand, ClusterAddArgs, ClusterCommand, ClusterSetArgs, FieldArgs,
    InitArgs, OutputFormat, RmArgs, RotateArgs, SecretArgs, SetArgs,
};
use crate::error::{Error, shown, shown_path};
use crate::registry::Credentials;
use crate::sops::{self, KmsAccess, Value};

/// A certificate that expires within this many days is warned about (sealed-secrets renews
/// its key every 30 days by default).
const EXPIRY_WARNING_DAYS: i64 = 30;

/// The fields `catalog set --unset` may remove (`type` stays: a new type is a new registry).
const UNSETTABLE: &[&str] = &[
    "server",
    "username",
    "password",
    "email",
    "public",
    "region",
    "sessionToken",
    "roleArn",
    "refresh",
    "allow",
    "allow.namespaces",
    "allow.clusters",
    "allow.projects",
];

/// Runs `pullseal catalog ...`.
pub(crate) fn run(
    args: &CatalogArgs,
    env: &dyn Env,
    stdin: &mut dyn Read,
    stdout: &mut dyn Write,
    report: &mut Report<'_>,
) -> Result<(), Error> {
    let cwd = env.cwd().map_err(io("read", Path::new(".")))?;
    if let CatalogCommand::Init(init) = &args.command {
        let path = args.catalog.clone().unwrap_or_else(|| cwd.join(DEFAULT_FILE));
        return create(&path, init, env, report);
    }
    let path = locate_catalog(args.catalog.as_deref(), &cwd)?;
    let identities = super::identities(args.age_key_file.as_deref(), env)?;
    let mut editor = Editor::open(&path, &identities)?;
    let done = match &args.command {
        CatalogCommand::Init(_) => return Ok(()),
        CatalogCommand::Ls(ls) => {
            let checked = editor.check()?;
            warn_certificates(&checked, report);
            return write_report(stdout, &list(&editor, &checked, ls.output));
        }
        CatalogCommand::Show(show) => {
            let checked = editor.check()?;
            let text = show_registry(&editor, &checked, &show.name, show.output)?;
            return write_report(stdout, &text);
        }
        CatalogCommand::Add(add) => {
            let fields = add_fields(add, stdin)?;
            editor.add_registry(&add.name, fields)?;
            format!("added registry {}", shown(&add.name))
        }
        CatalogCommand::Set(set) => {
            apply_set(&mut editor, set)?;
            format!("changed registry {}", shown(&set.name))
        }
        CatalogCommand::Rotate(rotate) => {
            apply_rotate(&mut editor, rotate, stdin)?;
            format!("rotated the credential of registry {}", shown(&rotate.name))
        }
        CatalogCommand::Rekey(rekey) => {
            editor.rekey(&rekey.add_age, &rekey.rm_age, &rekey.add_kms, &rekey.rm_kms)?;
            "re-encrypted the catalog under a new data key".to_owned()
        }
        CatalogCommand::Rm(rm) => {
            if !rm.check.is_empty() {
                check_unused(args, rm, &path, env, stdin, report)?;
            }
            editor.remove_registry(&rm.name)?;
            format!("removed registry {}", shown(&rm.name))
        }
        CatalogCommand::Cluster(ClusterCommand::Add(add)) => {
            editor.add_cluster(&add.name, cluster_fields(add)?)?;
            format!("added cluster {}", shown(&add.name))
        }
        CatalogCommand::Cluster(ClusterCommand::Set(set)) => {
            apply_cluster_set(&mut editor, set)?;
            format!("changed cluster {}", shown(&set.name))
        }
        CatalogCommand::Cluster(ClusterCommand::Rm(rm)) => {
            editor.remove_cluster(&rm.name)?;
            format!("removed cluster {}", shown(&rm.name))
        }
    };
    let checked = editor.save()?;
    let changed_cluster = match &args.command {
        CatalogCommand::Cluster(ClusterCommand::Add(add)) => Some(&add.name),
        CatalogCommand::Cluster(ClusterCommand::Set(set)) => Some(&set.name),
        _ => None,
    };
    if let Some(cluster) = changed_cluster {
        let mut only = checked;
        only.1.retain(|name, _| name == cluster);
        warn_certificates(&only, report);
    }
    let _ = writeln!(report, "{done} in {}", shown_path(&path));
    Ok(())
}

/// `rm --check`: refuses while the manifests given still use the registry, naming each
/// workload.
fn check_unused(
    args: &CatalogArgs,
    rm: &RmArgs,
    path: &Path,
    env: &dyn Env,
    stdin: &mut dyn Read,
    report: &mut Report<'_>,
) -> Result<(), Error> {
    let scan_args = crate::cli::RenderArgs {
        inputs: rm.check.clone(),
        catalog: Some(path.to_path_buf()),
        age_key_file: args.age_key_file.clone(),
        cluster: rm.cluster.clone(),
        all_clusters: false,
        out_dir: None,
        namespace: None,
        pod_specs: Vec::new(),
        secret_name: None,
        instance: None,
    };
    let (_, _, uses) = super::usage::scan(&scan_args, env, stdin, report)?;
    let still: Vec<String> = uses
        .iter()
        .filter(|u| u.registries.iter().any(|r| r.as_str() == rm.name))
        .map(|u| format!("{}: {}", u.origin, u.object))
        .collect();
    if still.is_empty() {
        Ok(())
    } else {
        Err(EditError::StillUsed {
            name: rm.name.clone(),
            uses: still,
        }
        .into())
    }
}

/// `catalog init`: the new, empty catalog at `path`, encrypted to the age recipients and
/// AWS KMS keys given (the KMS calls with the environment's AWS keys).
fn create(path: &Path, init: &InitArgs, env: &dyn Env, report: &mut Report<'_>) -> Result<(), Error> {
    Editor::init(
        path,
        &init.age,
        &init.kms,
        KmsAccess::from_env(|name| env.var(name)),
    )?
    .save()?;
    let count = |n: usize, one: &str, many: &str| format!("{n} {}", if n == 1 { one } else { many });
    let mut keys = Vec::new();
    if !init.age.is_empty() {
        keys.push(count(init.age.len(), "age recipient", "age recipients"));
    }
    if !init.kms.is_empty() {
        keys.push(count(init.kms.len(), "AWS KMS key", "AWS KMS keys"));
    }
    let _ = writeln!(
        report,
        "created the empty catalog {} for {}",
        shown_path(path),
        keys.join(" and ")
    );
    Ok(())
}

fn write_report(stdout: &mut dyn Write, text: &str) -> Result<(), Error> {
    stdout
        .write_all(text.as_bytes())
        .and_then(|()| stdout.flush())
        .map_err(io("write", Path::new("<stdout>")))
}

/// The secrets of `add` and `rotate`, read from standard input or files.
#[derive(Default)]
struct Secrets {
    password: Option<SecretString>,
    secret_access_key: Option<SecretString>,
    session_token: Option<SecretString>,
}

impl Secrets {
    fn read(args: &SecretArgs, stdin: &mut dyn Read) -> Result<Secrets, Error> {
        let stdin_name = Path::new("<stdin>");
        let mut out = Secrets::default();
        if args.password_stdin {
            out.password = Some(secret(&read_stdin(stdin)?, "--password-stdin", true)?);
        } else if let Some(file) = &args.password_file {
            out.password = Some(secret(&read_file(file)?, "--password-file", true)?);
        } else if let Some(file) = &args.key_file {
            out.password = Some(secret(&read_file(file)?, "--key-file", false)?);
        }
        if args.secret_access_key_stdin {
            if args.password_stdin {
                return Err(Error::Usage(format!(
                    "{} can be read once: give --password-file or --secret-access-key-file instead",
                    stdin_name.display()
                )));
            }
            out.secret_access_key = Some(secret(&read_stdin(stdin)?, "--secret-access-key-stdin", true)?);
        } else if let Some(file) = &args.secret_access_key_file {
            out.secret_access_key = Some(secret(&read_file(file)?, "--secret-access-key-file", true)?);
        }
        if let Some(file) = &args.session_token_file {
            out.session_token = Some(secret(&read_file(file)?, "--session-token-file", true)?);
        }
        Ok(out)
    }

    fn is_empty(&self) -> bool {
        self.password.is_none() && self.secret_access_key.is_none() && self.session_token.is_none()
    }

    /// Puts each secret given into `fields`.
    fn apply(self, fields: &mut Vec<(String, Value)>) {
        for (key, value) in [
            ("password", self.password),
            ("secretAccessKey", self.secret_access_key),
            ("sessionToken", self.session_token),
        ] {
            if let Some(value) = value {
                set_field(fields, key, Value::Str(value));
            }
        }
    }
}

fn read_stdin(stdin: &mut dyn Read) -> Result<Zeroizing<Vec<u8>>, Error> {
    read_bounded(stdin, Path::new("<stdin>"))
}

fn read_file(path: &Path) -> Result<Zeroizing<Vec<u8>>, Error> {
    let file = fs_err::File::open(path).map_err(io("read", path))?;
    read_bounded(file, path)
}

/// Reads a secret or certificate, at most as much as a whole catalog may hold: no more could be
/// stored, and a wrong path (`/dev/zero`, a disk image) must not be read into memory whole.
fn read_bounded(from: impl Read, path: &Path) -> Result<Zeroizing<Vec<u8>>, Error> {
    read_limited(from).map_err(|err| io("read", path)(err))
}

/// [`read_bounded`] without a path, for callers that name the file in their own error.
fn read_limited(from: impl Read) -> std::io::Result<Zeroizing<Vec<u8>>> {
    let limit = u64::try_from(sops::MAX_FILE_BYTES).unwrap_or(u64::MAX);
    let mut bytes = Zeroizing::new(Vec::new());
    from.take(limit.saturating_add(1)).read_to_end(&mut bytes)?;
    if u64::try_from(bytes.len()).map_or(true, |len| len > limit) {
        return Err(std::io::Error::new(
            std::io::ErrorKind::InvalidData,
            format!(
                "it is larger than the {} MiB a whole catalog may be",
                sops::MAX_FILE_BYTES >> 20
            ),
        ));
    }
    Ok(bytes)
}

/// `bytes` as a secret: UTF-8 text, one trailing newline dropped when `trim` (what `echo` and
/// editors add; a key file is kept byte for byte), not empty. Messages say which option gave
/// it, never what it holds.
fn secret(bytes: &Zeroizing<Vec<u8>>, from: &str, trim: bool) -> Result<SecretString, Error> {
    let Ok(text) = std::str::from_utf8(bytes) else {
        return Err(Error::Usage(format!("{from}: the secret is not UTF-8 text")));
    };
    let text = if trim {
        text.strip_suffix("\r\n")
            .or_else(|| text.strip_suffix('\n'))
            .unwrap_or(text)
    } else {
        text
    };
    if text.is_empty() {
        return Err(Error::Usage(format!("{from}: the secret is empty")));
    }
    Ok(SecretString::from(text.to_owned()))
}

fn globs(items: &[String]) -> Value {
    Value::Seq(items.iter().map(|g| text(g)).collect())
}

/// The non-secret fields of `f`, in the order the catalog usually writes them.
fn setting_fields(f: &FieldArgs) -> Vec<(&'static str, Value)> {
    let mut out = Vec::new();
    for (key, value) in [
        ("server", &f.server),
        ("username", &f.username),
        ("email", &f.email),
    ] {
        if let Some(value) = value {
            out.push((key, text(value)));
        }
    }
    if let Some(public) = f.public {
        out.push(("public", Value::Bool(public)));
    }
    for (key, value) in [
        ("region", &f.region),
        ("accessKeyId", &f.access_key_id),
        ("roleArn", &f.role_arn),
        ("refresh", &f.refresh),
    ] {
        if let Some(value) = value {
            out.push((key, text(value)));
        }
    }
    out
}

fn allow_lists(f: &FieldArgs) -> Vec<(&'static str, &[String])> {
    [
        ("namespaces", f.allow_namespaces.as_slice()),
        ("clusters", f.allow_clusters.as_slice()),
        ("projects", f.allow_projects.as_slice()),
    ]
    .into_iter()
    .filter(|(_, list)| !list.is_empty())
    .collect()
}

fn add_fields(add: &AddArgs, stdin: &mut dyn Read) -> Result<Vec<(String, Value)>, Error> {
    let mut fields: Vec<(String, Value)> = vec![("type".to_owned(), text(&add.kind))];
    for (key, value) in setting_fields(&add.fields) {
        fields.push((key.to_owned(), value));
    }
    let allow: Vec<(String, Value)> = allow_lists(&add.fields)
        .into_iter()
        .map(|(key, list)| (key.to_owned(), globs(list)))
        .collect();
    if !allow.is_empty() {
        fields.push(("allow".to_owned(), Value::Map(allow)));
    }
    // Secrets last, after every argument was found usable: one read of stdin.
    Secrets::read(&add.secrets, stdin)?.apply(&mut fields);
    order(&mut fields);
    Ok(fields)
}

/// Sorts a new registry's fields as the catalog usually writes them; `allow` last.
fn order(fields: &mut [(String, Value)]) {
    const ORDER: &[&str] = &[
        "type",
        "server",
        "username",
        "password",
        "email",
        "public",
        "region",
        "accessKeyId",
        "secretAccessKey",
        "sessionToken",
        "roleArn",
        "refresh",
        "allow",
    ];
    fields.sort_by_key(|(k, _)| ORDER.iter().position(|o| o == k).unwrap_or(ORDER.len()));
}

fn apply_set(editor: &mut Editor, set: &SetArgs) -> Result<(), Error> {
    for field in &set.unset {
        if !UNSETTABLE.contains(&field.as_str()) {
            return Err(Error::Usage(format!(
                "--unset {}: not a field that can be removed (one of {})",
                shown(field),
                UNSETTABLE.join(", ")
            )));
        }
    }
    let settings = setting_fields(&set.fields);
    let allow = allow_lists(&set.fields);
    if settings.is_empty() && allow.is_empty() && set.unset.is_empty() {
        return Err(Error::Usage(
            "nothing to change: give a field to set or --unset (a new credential is catalog rotate)"
                .to_owned(),
        ));
    }
    let fields = editor.registry_mut(&set.name)?;
    for (key, value) in settings {
        set_field(fields, key, value);
    }
    for field in &set.unset {
        match field.strip_prefix("allow.") {
            Some(list) => {
                if let Some((_, Value::Map(rules))) = fields.iter_mut().find(|(k, _)| k == "allow") {
                    rules.retain(|(k, _)| k != list);
                }
            }
            None => fields.retain(|(k, _)| k != field),
        }
    }
    if !allow.is_empty() {
        if !fields.iter().any(|(k, _)| k == "allow") {
            fields.push(("allow".to_owned(), Value::Map(Vec::new())));
        }
        if let Some((_, Value::Map(rules))) = fields.iter_mut().find(|(k, _)| k == "allow") {
            for (key, list) in allow {
                set_field(rules, key, globs(list));
            }
        }
    }
    // An allow emptied by --unset goes: the schema refuses an empty mapping.
    fields.retain(|(k, v)| !(k == "allow" && matches!(v, Value::Map(rules) if rules.is_empty())));
    Ok(())
}

fn apply_rotate(editor: &mut Editor, rotate: &RotateArgs, stdin: &mut dyn Read) -> Result<(), Error> {
    // The name first: an unknown registry is refused before anything is read.
    editor.registry_mut(&rotate.name)?;
    let secrets = Secrets::read(&rotate.secrets, stdin)?;
    if secrets.is_empty() {
        return Err(Error::Usage(
            "catalog rotate needs the new credential: --password-stdin or --password-file (--key-file for gcr; --secret-access-key-stdin or --secret-access-key-file for ecr)".to_owned(),
        ));
    }
    let fields = editor.registry_mut(&rotate.name)?;
    if let Some(id) = &rotate.access_key_id {
        set_field(fields, "accessKeyId", text(id));
    }
    secrets.apply(fields);
    Ok(())
}

/// The fields `catalog cluster set --unset` may remove.
const CLUSTER_UNSETTABLE: &[&str] = &[
    "seal",
    "scope",
    "certificate",
    "ageRecipients",
    "kms",
    "kubeletCredentials",
];

/// A cluster's fields from `add` or `set` options, in the order the catalog usually writes
/// them; the certificate is read from its file.
fn cluster_settings(
    name: &str,
    seal: Option<&String>,
    scope: Option<&String>,
    cert: Option<&std::path::PathBuf>,
    age_recipients: &[String],
    kms: &[String],
    kubelet_credentials: &[String],
) -> Result<Vec<(String, Value)>, Error> {
    let mut fields = Vec::new();
    if let Some(seal) = seal {
        fields.push(("seal".to_owned(), text(seal)));
    }
    if let Some(scope) = scope {
        fields.push(("scope".to_owned(), text(scope)));
    }
    if let Some(cert) = cert {
        let field_error = |source: std::io::Error| EditError::ReadField {
            what: "cluster",
            name: name.to_owned(),
            field: "certificate",
            path: cert.clone(),
            source: without_path(source, cert),
        };
        let file = fs_err::File::open(cert).map_err(field_error)?;
        let bytes = read_limited(file).map_err(field_error)?;
        let pem = String::from_utf8(bytes.to_vec()).map_err(|_| {
            field_error(std::io::Error::new(
                std::io::ErrorKind::InvalidData,
                "stream did not contain valid UTF-8",
            ))
        })?;
        fields.push(("certificate".to_owned(), text(&pem)));
    }
    if !age_recipients.is_empty() {
        fields.push(("ageRecipients".to_owned(), globs(age_recipients)));
    }
    if !kms.is_empty() {
        fields.push(("kms".to_owned(), globs(kms)));
    }
    if !kubelet_credentials.is_empty() {
        fields.push(("kubeletCredentials".to_owned(), globs(kubelet_credentials)));
    }
    Ok(fields)
}

fn cluster_fields(add: &ClusterAddArgs) -> Result<Vec<(String, Value)>, Error> {
    cluster_settings(
        &add.name,
        add.seal.as_ref(),
        add.scope.as_ref(),
        add.cert.as_ref(),
        &add.age_recipients,
        &add.kms,
        &add.kubelet_credentials,
    )
}

/// `cluster set`: the fields given replace theirs in place (lists whole), `--unset` ones go;
/// the schema check then judges the result, naming the cluster and field.
fn apply_cluster_set(editor: &mut Editor, set: &ClusterSetArgs) -> Result<(), Error> {
    let prefix = || format!("catalog cluster set {}", shown(&set.name));
    for field in &set.unset {
        if !CLUSTER_UNSETTABLE.contains(&field.as_str()) {
            return Err(Error::Usage(format!(
                "{}: --unset {}: not a field that can be removed (one of {})",
                prefix(),
                shown(field),
                CLUSTER_UNSETTABLE.join(", ")
            )));
        }
    }
    // The name first: an unknown cluster is refused before any file is read.
    editor.cluster_mut(&set.name)?;
    let settings = cluster_settings(
        &set.name,
        set.seal.as_ref(),
        set.scope.as_ref(),
        set.cert.as_ref(),
        &set.age_recipients,
        &set.kms,
        &set.kubelet_credentials,
    )?;
    if settings.is_empty() && set.unset.is_empty() {
        return Err(Error::Usage(format!(
            "{}: nothing to change: give --cert, --scope, --seal, --age-recipient, --kms, --kubelet-credentials or --unset",
            prefix()
        )));
    }
    if let Some((field, _)) = settings.iter().find(|(k, _)| set.unset.contains(k)) {
        return Err(Error::Usage(format!(
            "{}: {field} is both set and --unset",
            prefix()
        )));
    }
    let fields = editor.cluster_mut(&set.name)?;
    fields.retain(|(k, _)| !set.unset.contains(k));
    for (key, value) in settings {
        set_field(fields, &key, value);
    }
    Ok(())
}

/// The strings of a list in the tree (globs: settings, not credentials).
fn strings(value: Option<&Value>) -> Vec<String> {
    match value {
        Some(Value::Seq(items)) => items
            .iter()
            .filter_map(|item| match item {
                Value::Str(s) => Some(s.expose_secret().to_owned()),
                _ => None,
            })
            .collect(),
        _ => Vec::new(),
    }
}

/// What `ls` and `show` say about one registry.
struct RegistryView {
    name: String,
    kind: String,
    server: String,
    credentials: &'static str,
    ecr: Option<(String, String)>,
    allow: Vec<(&'static str, Vec<String>)>,
}

fn registry_view(editor: &Editor, registry: &Registry) -> RegistryView {
    let name = registry.name.as_str().to_owned();
    let allow_tree = editor
        .root()
        .get("registries")
        .and_then(|r| r.get(&name))
        .and_then(|r| r.get("allow"));
    let allow = ["namespaces", "clusters", "projects"]
        .into_iter()
        .map(|key| (key, strings(allow_tree.and_then(|a| a.get(key)))))
        .filter(|(_, list)| !list.is_empty())
        .collect();
    let (credentials, ecr) = match &registry.credentials {
        Credentials::Anonymous => ("anonymous", None),
        Credentials::Basic(_) => ("basic", None),
        Credentials::Ecr(e) => (
            "aws",
            Some((e.region().to_owned(), e.refresh().as_str().to_owned())),
        ),
    };
    RegistryView {
        name,
        kind: registry.kind.to_string(),
        server: registry.server.to_string(),
        credentials,
        ecr,
        allow,
    }
}

/// What `ls` says about one cluster.
struct ClusterView {
    name: String,
    seal: &'static str,
    scope: String,
    not_after: Option<String>,
    kubelet: Vec<String>,
}

fn cluster_view(editor: &Editor, cluster: &Cluster) -> ClusterView {
    let kubelet = strings(
        editor
            .root()
            .get("clusters")
            .and_then(|c| c.get(&cluster.name))
            .and_then(|c| c.get("kubeletCredentials")),
    );
    ClusterView {
        name: cluster.name.clone(),
        seal: match cluster.seal {
            SealMode::SealedSecrets => "sealed-secrets",
            SealMode::Sops => "sops",
            SealMode::None => "none",
        },
        scope: cluster.scope.as_str().to_owned(),
        not_after: cluster.certificate.as_ref().map(|c| utc(c.not_after())),
        kubelet,
    }
}

fn utc(t: OffsetDateTime) -> String {
    t.format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_else(|_| t.unix_timestamp().to_string())
}

/// Warns about every sealed-secrets certificate that expires within 30 days or has expired.
fn warn_certificates(checked: &Checked, report: &mut Report<'_>) {
    let now = OffsetDateTime::now_utc();
    for cluster in checked.1.values() {
        let Some(cert) = &cluster.certificate else {
            continue;
        };
        let left = cert.not_after() - now;
        let fetch = "fetch the controller's current one (kubeseal --fetch-cert) and add the cluster again";
        if left.is_negative() {
            let _ = writeln!(
                report,
                "warning: cluster {}: the sealing certificate expired at {} (notAfter): {fetch}",
                shown(&cluster.name),
                utc(cert.not_after())
            );
        } else if left <= time::Duration::days(EXPIRY_WARNING_DAYS) {
            let _ = writeln!(
                report,
                "warning: cluster {}: the sealing certificate expires at {} (notAfter), in {} days: {fetch}",
                shown(&cluster.name),
                utc(cert.not_after()),
                left.whole_days()
            );
        }
    }
}

fn allow_text(allow: &[(&str, Vec<String>)]) -> String {
    if allow.is_empty() {
        return "-".to_owned();
    }
    allow
        .iter()
        .map(|(k, list)| format!("{k}={}", list.join(",")))
        .collect::<Vec<_>>()
        .join(" ")
}

fn registry_json(r: &RegistryView) -> serde_json::Value {
    let mut object = serde_json::json!({
        "name": r.name,
        "type": r.kind,
        "server": r.server,
        "credentials": r.credentials,
        "allow": r.allow.iter().map(|(k, v)| ((*k).to_owned(), serde_json::json!(v))).collect::<serde_json::Map<_, _>>(),
    });
    if let (Some((region, refresh)), Some(map)) = (&r.ecr, object.as_object_mut()) {
        map.insert("region".to_owned(), serde_json::json!(region));
        map.insert("refresh".to_owned(), serde_json::json!(refresh));
    }
    object
}

/// Columns padded to their widest cell, two spaces apart.
fn table(rows: &[Vec<String>]) -> String {
    let columns = rows.iter().map(Vec::len).max().unwrap_or(0);
    let widths: Vec<usize> = (0..columns)
        .map(|i| {
            rows.iter()
                .filter_map(|r| r.get(i))
                .map(|c| c.chars().count())
                .max()
                .unwrap_or(0)
        })
        .collect();
    let mut out = String::new();
    for row in rows {
        let mut line = String::new();
        for (cell, width) in row.iter().zip(&widths) {
            line.push_str(cell);
            line.push_str(&" ".repeat(width.saturating_sub(cell.chars().count()) + 2));
        }
        out.push_str(line.trim_end());
        out.push('\n');
    }
    out
}

fn list(editor: &Editor, checked: &Checked, output: OutputFormat) -> String {
    let registries: Vec<RegistryView> = checked.0.values().map(|r| registry_view(editor, r)).collect();
    let clusters: Vec<ClusterView> = checked.1.values().map(|c| cluster_view(editor, c)).collect();
    match output {
        OutputFormat::Json => {
            let value = serde_json::json!({
                "registries": registries.iter().map(registry_json).collect::<Vec<_>>(),
                "clusters": clusters.iter().map(|c| serde_json::json!({
                    "name": c.name,
                    "seal": c.seal,
                    "scope": c.scope,
                    "certificateNotAfter": c.not_after,
                    "kubeletCredentials": c.kubelet,
                })).collect::<Vec<_>>(),
            });
            format!("{value:#}\n")
        }
        OutputFormat::Table => {
            let mut rows = vec![
                ["REGISTRY", "TYPE", "SERVER", "CREDENTIALS", "ALLOW"]
                    .map(str::to_owned)
                    .to_vec(),
            ];
            rows.extend(registries.iter().map(|r| {
                vec![
                    shown(&r.name),
                    r.kind.clone(),
                    r.server.clone(),
                    r.credentials.to_owned(),
                    allow_text(&r.allow),
                ]
            }));
            let mut out = table(&rows);
            out.push('\n');
            let mut rows = vec![
                [
                    "CLUSTER",
                    "SEAL",
                    "SCOPE",
                    "CERTIFICATE EXPIRES",
                    "KUBELET CREDENTIALS",
                ]
                .map(str::to_owned)
                .to_vec(),
            ];
            rows.extend(clusters.iter().map(|c| {
                vec![
                    shown(&c.name),
                    c.seal.to_owned(),
                    c.scope.clone(),
                    c.not_after.clone().unwrap_or_else(|| "-".to_owned()),
                    if c.kubelet.is_empty() {
                        "-".to_owned()
                    } else {
                        c.kubelet.join(",")
                    },
                ]
            }));
            out.push_str(&table(&rows));
            out
        }
    }
}

fn show_registry(
    editor: &Editor,
    checked: &Checked,
    name: &str,
    output: OutputFormat,
) -> Result<String, Error> {
    let Some(registry) = checked.0.values().find(|r| r.name.as_str() == name) else {
        return Err(crate::catalog::edit::EditError::Missing {
            what: "registry",
            name: name.to_owned(),
            known: checked.0.keys().map(|n| shown(n.as_str())).collect(),
        }
        .into());
    };
    let view = registry_view(editor, registry);
    // The clusters it may be used in: those its allow.clusters admits (all without one).
    let usable: Vec<String> = checked
        .1
        .keys()
        .filter(|c| registry.allow.clusters.as_ref().is_none_or(|g| g.matches(c)))
        .cloned()
        .collect();
    Ok(match output {
        OutputFormat::Json => {
            let mut value = registry_json(&view);
            if let Some(map) = value.as_object_mut() {
                map.insert("clusters".to_owned(), serde_json::json!(usable));
            }
            format!("{value:#}\n")
        }
        OutputFormat::Table => {
            let mut rows = vec![
                vec!["name:".to_owned(), shown(&view.name)],
                vec!["type:".to_owned(), view.kind.clone()],
                vec!["server:".to_owned(), view.server.clone()],
                vec!["credentials:".to_owned(), view.credentials.to_owned()],
            ];
            if let Some((region, refresh)) = &view.ecr {
                rows.push(vec!["region:".to_owned(), region.clone()]);
                rows.push(vec!["refresh:".to_owned(), refresh.clone()]);
            }
            rows.push(vec!["allow:".to_owned(), allow_text(&view.allow)]);
            rows.push(vec![
                "clusters:".to_owned(),
                if usable.is_empty() {
                    "-".to_owned()
                } else {
                    usable.join(", ")
                },
            ]);
            table(&rows)
        }
    })
}
