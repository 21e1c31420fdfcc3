//! `pullseal catalog`: the admin's commands on the catalog (init, add, set, rotate, rm, ls,
//! show, rekey, cluster add, set and rm). Arguments only: the edits are `catalog::edit`'s, the runs
//! `frontend/catalog.rs`'s.
//!
//! What this module must *not* do: take a secret as a plain argument. A password, a key file's
//! content or an AWS secret key comes from standard input or a file only, because an argument
//! sits in shell history and in `ps` for every user of the machine to read.
// Doc comments here are the `--help` text, where backticks would only be noise.
#![allow(clippy::doc_markdown)]

use std::path::PathBuf;

use clap::{Args, Subcommand};

use super::OutputFormat;

/// Arguments of `pullseal catalog`.
#[derive(Debug, Args)]
pub struct CatalogArgs {
    /// The SOPS-encrypted catalog [default: pullseal.catalog.yaml here or in a parent, up to
    /// the repository root; for init, pullseal.catalog.yaml here].
    #[arg(long, env = "PULLSEAL_CATALOG", value_name = "PATH", global = true)]
    pub catalog: Option<PathBuf>,

    /// An age identity file, tried before SOPS_AGE_KEY, SOPS_AGE_KEY_FILE and
    /// ~/.config/sops/age/keys.txt (not needed by init).
    #[arg(long, value_name = "PATH", global = true)]
    pub age_key_file: Option<PathBuf>,

    /// What to do.
    #[command(subcommand)]
    pub command: CatalogCommand,
}

/// The subcommands of `pullseal catalog`.
#[derive(Debug, Subcommand)]
pub enum CatalogCommand {
    /// Create a new, empty catalog encrypted to the given age recipients and AWS KMS keys;
    /// refuses to overwrite a file.
    #[command(after_help = "Examples:\n  \
        pullseal catalog init --age age1ql3z7hjy54pw3hyww5ayyfg7zqgvc7w3j2elw8zmrj2kg5sfn9aqmcac8p\n  \
        pullseal catalog init --age age1ql3z7... --kms arn:aws:kms:eu-west-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab")]
    Init(InitArgs),
    /// Add a registry; the catalog's own checks decide what its type needs.
    #[command(after_help = "Examples:\n  \
        printf %s \"$TOKEN\" | pullseal catalog add quay-team --type quay --server quay.io/acme --username acme+ci --password-stdin --allow-namespace 'shop-*'\n  \
        pullseal catalog add hub --type dockerhub --public\n  \
        pullseal catalog add gar --type gcr --server europe-west1-docker.pkg.dev --key-file sa.json\n  \
        pullseal catalog add ecr --type ecr --server 123456789012.dkr.ecr.eu-west-1.amazonaws.com --region eu-west-1 --access-key-id AKIA... --secret-access-key-file aws.key")]
    Add(AddArgs),
    /// Change a registry's settings (not its credential: see rotate); the other fields and
    /// their ciphertext are kept.
    #[command(after_help = "Examples:\n  \
        pullseal catalog set quay-team --allow-namespace 'shop-*' --allow-namespace web\n  \
        pullseal catalog set company --server registry.example.com:5000 --unset email")]
    Set(SetArgs),
    /// Re-encrypt the catalog to a new set of age recipients and AWS KMS keys under a new
    /// data key; the content is kept, every value gets new ciphertext.
    #[command(after_help = "Examples:\n  \
        pullseal catalog rekey --add-age age1newadmin...\n  \
        pullseal catalog rekey --rm-age age1leaver... --add-age age1successor...\n  \
        pullseal catalog rekey --add-kms arn:aws:kms:eu-west-1:123456789012:alias/catalog --rm-kms arn:aws:kms:eu-west-1:123456789012:key/old")]
    Rekey(RekeyArgs),
    /// Replace a registry's credential; everything else is kept.
    #[command(after_help = "Examples:\n  \
        printf %s \"$NEW_TOKEN\" | pullseal catalog rotate quay-team --password-stdin\n  \
        pullseal catalog rotate ecr --access-key-id AKIA... --secret-access-key-file aws.key")]
    Rotate(RotateArgs),
    /// Remove a registry; with --check, only when the given manifests no longer use it.
    #[command(after_help = "Example: pullseal catalog rm quay-team --check manifests/ --cluster prod-eu")]
    Rm(RmArgs),
    /// List the registries and clusters: names, types, servers, allow rules, seals and
    /// certificate expiry, never a credential.
    #[command(after_help = "Example: pullseal catalog ls --output json")]
    Ls(ListArgs),
    /// Show one registry, never its credential.
    #[command(after_help = "Example: pullseal catalog show quay-team")]
    Show(ShowArgs),
    /// Manage the catalog's clusters.
    #[command(
        subcommand,
        after_help = "Examples:\n  \
        pullseal catalog cluster add prod-eu --cert prod.crt\n  \
        pullseal catalog cluster set prod-eu --scope namespace-wide\n  \
        pullseal catalog cluster rm prod-eu"
    )]
    Cluster(ClusterCommand),
}

/// The subcommands of `pullseal catalog cluster`.
#[derive(Debug, Subcommand)]
pub enum ClusterCommand {
    /// Add a cluster with its sealed-secrets controller certificate (kubeseal --fetch-cert).
    #[command(
        after_help = "Example: kubeseal --fetch-cert > prod.crt && pullseal catalog cluster add prod-eu --cert prod.crt --scope strict\n\
        A certificate that expires within 30 days is a warning."
    )]
    Add(ClusterAddArgs),
    /// Change a cluster's certificate, scope, seal, age recipients or kubelet credentials;
    /// the other fields and their ciphertext are kept.
    #[command(after_help = "Examples:\n  \
        kubeseal --fetch-cert > prod.crt && pullseal catalog cluster set prod-eu --cert prod.crt\n  \
        pullseal catalog cluster set prod-eu --scope namespace-wide --unset kubeletCredentials\n  \
        pullseal catalog cluster set flux --age-recipient age1... --age-recipient age1...\n  \
        pullseal catalog cluster set edge --seal sops --age-recipient age1... --unset certificate --unset scope\n\
        A certificate that expires within 30 days is a warning.")]
    Set(ClusterSetArgs),
    /// Remove a cluster.
    #[command(after_help = "Example: pullseal catalog cluster rm prod-eu")]
    Rm(NameArgs),
}

/// Arguments of `pullseal catalog init`.
#[derive(Debug, Args)]
#[command(group(clap::ArgGroup::new("recipients").args(["age", "kms"]).required(true).multiple(true)))]
pub struct InitArgs {
    /// An age recipient (public key) the catalog is encrypted to (repeatable).
    #[arg(long = "age", value_name = "RECIPIENT")]
    pub age: Vec<String>,

    /// An AWS KMS key the catalog is encrypted with, ARN or ARN+ROLE_ARN as sops takes it
    /// (repeatable); needs the cargo feature kms and AWS_ACCESS_KEY_ID /
    /// AWS_SECRET_ACCESS_KEY (AWS_SESSION_TOKEN, AWS_ENDPOINT_URL_KMS) for kms:Encrypt.
    #[arg(long = "kms", value_name = "ARN")]
    pub kms: Vec<String>,
}

/// Where a secret comes from: standard input or a file, never an argument.
#[derive(Debug, Args, Default)]
pub struct SecretArgs {
    /// Read the password or token from standard input (one trailing newline is dropped).
    #[arg(long, conflicts_with_all = ["password_file", "key_file", "secret_access_key_stdin"])]
    pub password_stdin: bool,

    /// Read the password or token from FILE (one trailing newline is dropped).
    #[arg(long, value_name = "FILE", conflicts_with = "key_file")]
    pub password_file: Option<PathBuf>,

    /// gcr: the service-account JSON key file, stored as the password byte for byte.
    #[arg(long, value_name = "FILE")]
    pub key_file: Option<PathBuf>,

    /// ecr: read the AWS secret access key from standard input.
    #[arg(long, conflicts_with = "secret_access_key_file")]
    pub secret_access_key_stdin: bool,

    /// ecr: read the AWS secret access key from FILE.
    #[arg(long, value_name = "FILE")]
    pub secret_access_key_file: Option<PathBuf>,

    /// ecr: read the session token of temporary AWS keys from FILE.
    #[arg(long, value_name = "FILE")]
    pub session_token_file: Option<PathBuf>,
}

/// Settings of a registry that are not secrets.
#[derive(Debug, Args, Default)]
pub struct FieldArgs {
    /// Where its images live: a host, with an optional :port and /path [default: the type's, where it has one].
    #[arg(long, value_name = "SERVER")]
    pub server: Option<String>,

    /// The account.
    #[arg(long, value_name = "USER")]
    pub username: Option<String>,

    /// The e-mail of the .dockerconfigjson entry.
    #[arg(long, value_name = "EMAIL")]
    pub email: Option<String>,

    /// dockerhub: anonymous pulls (no secret emitted).
    #[arg(long, value_name = "BOOL", num_args = 0..=1, default_missing_value = "true")]
    pub public: Option<bool>,

    /// ecr: the AWS region (the server's).
    #[arg(long, value_name = "REGION")]
    pub region: Option<String>,

    /// ecr: the AWS access key id (an identifier, not the secret key).
    #[arg(long, value_name = "ID")]
    pub access_key_id: Option<String>,

    /// ecr: an IAM role to assume before asking for a token.
    #[arg(long, value_name = "ARN")]
    pub role_arn: Option<String>,

    /// ecr: who refreshes the 12-hour token: external-secrets (in the cluster) or token
    /// (pullseal render).
    #[arg(long, value_name = "MODE")]
    pub refresh: Option<String>,

    /// Namespaces it may be used in, as globs (repeatable; set replaces the list).
    #[arg(long = "allow-namespace", value_name = "GLOB")]
    pub allow_namespaces: Vec<String>,

    /// Clusters it may be used in, as globs (repeatable; set replaces the list).
    #[arg(long = "allow-cluster", value_name = "GLOB")]
    pub allow_clusters: Vec<String>,

    /// Argo CD projects it may be used by, as globs (repeatable; set replaces the list).
    #[arg(long = "allow-project", value_name = "GLOB")]
    pub allow_projects: Vec<String>,
}

/// Arguments of `pullseal catalog add`.
#[derive(Debug, Args)]
pub struct AddArgs {
    /// The registry's name, as workloads' annotations name it.
    pub name: String,

    /// Its type: dockerhub, ecr, gcr, acr, quay, nexus, artifactory, mcr, system or generic.
    #[arg(long = "type", value_name = "TYPE")]
    pub kind: String,

    /// The settings.
    #[command(flatten)]
    pub fields: FieldArgs,

    /// The secrets.
    #[command(flatten)]
    pub secrets: SecretArgs,
}

/// Arguments of `pullseal catalog set`.
#[derive(Debug, Args)]
pub struct SetArgs {
    /// The registry's name.
    pub name: String,

    /// The settings.
    #[command(flatten)]
    pub fields: FieldArgs,

    /// Remove a field: server, username, email, public, region, roleArn, sessionToken,
    /// refresh, allow.namespaces, allow.clusters, allow.projects or allow (repeatable).
    #[arg(long, value_name = "FIELD")]
    pub unset: Vec<String>,
}

/// Arguments of `pullseal catalog rotate`.
#[derive(Debug, Args)]
pub struct RotateArgs {
    /// The registry's name.
    pub name: String,

    /// ecr: the new AWS access key id, with the new secret key.
    #[arg(long, value_name = "ID")]
    pub access_key_id: Option<String>,

    /// The secrets.
    #[command(flatten)]
    pub secrets: SecretArgs,
}

/// Arguments of `pullseal catalog rm`.
#[derive(Debug, Args)]
pub struct RmArgs {
    /// The registry's name.
    pub name: String,

    /// Manifest files or directories that must no longer reference the registry (repeatable);
    /// read and checked as render reads them.
    #[arg(long, value_name = "PATH")]
    pub check: Vec<PathBuf>,

    /// The cluster the --check manifests are checked for [default: PULLSEAL_CLUSTER, or the
    /// catalog's only cluster].
    #[arg(long, value_name = "NAME", requires = "check")]
    pub cluster: Option<String>,
}

/// A command that takes one name.
#[derive(Debug, Args)]
pub struct NameArgs {
    /// The name.
    pub name: String,
}

/// Arguments of `pullseal catalog ls`.
#[derive(Debug, Args)]
pub struct ListArgs {
    /// The report's form.
    #[arg(long, short = 'o', value_enum, default_value_t = OutputFormat::Table)]
    pub output: OutputFormat,
}

/// Arguments of `pullseal catalog show`.
#[derive(Debug, Args)]
pub struct ShowArgs {
    /// The registry's name.
    pub name: String,

    /// The report's form.
    #[arg(long, short = 'o', value_enum, default_value_t = OutputFormat::Table)]
    pub output: OutputFormat,
}

/// Arguments of `pullseal catalog cluster add`.
#[derive(Debug, Args)]
pub struct ClusterAddArgs {
    /// The cluster's name (a DNS-1123 label).
    pub name: String,

    /// The sealed-secrets controller's certificate (PEM), from kubeseal --fetch-cert.
    #[arg(long, value_name = "FILE", required_unless_present = "seal")]
    pub cert: Option<PathBuf>,

    /// The sealed-secrets scope: strict, namespace-wide or cluster-wide [default: strict].
    #[arg(long, value_name = "SCOPE")]
    pub scope: Option<String>,

    /// How its secrets are sealed: sealed-secrets, sops (Flux; with --age-recipient) or none
    /// [default: sealed-secrets].
    #[arg(long, value_name = "SEAL")]
    pub seal: Option<String>,

    /// For --seal sops: an age recipient the cluster's Flux decrypts with (repeatable).
    #[arg(long = "age-recipient", value_name = "RECIPIENT")]
    pub age_recipients: Vec<String>,

    /// For --seal sops: an AWS KMS key the cluster's Flux may decrypt with instead, ARN or
    /// ARN+ROLE_ARN (repeatable; rendering then calls kms:Encrypt).
    #[arg(long = "kms", value_name = "ARN")]
    pub kms: Vec<String>,

    /// Registry-name globs this cluster's kubelet pulls with its own credentials (repeatable).
    #[arg(long = "kubelet-credentials", value_name = "GLOB")]
    pub kubelet_credentials: Vec<String>,
}

/// Arguments of `pullseal catalog cluster set`.
#[derive(Debug, Args)]
pub struct ClusterSetArgs {
    /// The cluster's name.
    pub name: String,

    /// A new sealed-secrets controller certificate (PEM), from kubeseal --fetch-cert.
    #[arg(long, value_name = "FILE")]
    pub cert: Option<PathBuf>,

    /// The sealed-secrets scope: strict, namespace-wide or cluster-wide.
    #[arg(long, value_name = "SCOPE")]
    pub scope: Option<String>,

    /// How its secrets are sealed: sealed-secrets, sops or none.
    #[arg(long, value_name = "SEAL")]
    pub seal: Option<String>,

    /// For seal sops: an age recipient the cluster's Flux decrypts with (repeatable; replaces
    /// the list).
    #[arg(long = "age-recipient", value_name = "RECIPIENT")]
    pub age_recipients: Vec<String>,

    /// For seal sops: an AWS KMS key the cluster's Flux may decrypt with, ARN or ARN+ROLE_ARN
    /// (repeatable; replaces the list).
    #[arg(long = "kms", value_name = "ARN")]
    pub kms: Vec<String>,

    /// Registry-name globs this cluster's kubelet pulls with its own credentials (repeatable;
    /// replaces the list).
    #[arg(long = "kubelet-credentials", value_name = "GLOB")]
    pub kubelet_credentials: Vec<String>,

    /// Remove a field: seal, scope, certificate, ageRecipients, kms or kubeletCredentials
    /// (repeatable).
    #[arg(long, value_name = "FIELD")]
    pub unset: Vec<String>,
}

/// Arguments of `pullseal catalog rekey`.
#[derive(Debug, Args)]
#[command(group(clap::ArgGroup::new("change").args(["add_age", "rm_age", "add_kms", "rm_kms"]).required(true).multiple(true)))]
pub struct RekeyArgs {
    /// An age recipient to add (repeatable).
    #[arg(long = "add-age", value_name = "RECIPIENT")]
    pub add_age: Vec<String>,

    /// An age recipient to remove (repeatable).
    #[arg(long = "rm-age", value_name = "RECIPIENT")]
    pub rm_age: Vec<String>,

    /// An AWS KMS key to add, ARN or ARN+ROLE_ARN as sops takes it (repeatable); needs the
    /// cargo feature kms and AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY for kms:Encrypt.
    #[arg(long = "add-kms", value_name = "ARN")]
    pub add_kms: Vec<String>,

    /// An AWS KMS key to remove, by its ARN (repeatable).
    #[arg(long = "rm-kms", value_name = "ARN")]
    pub rm_kms: Vec<String>,
}
