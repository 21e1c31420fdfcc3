//! `pullseal validate`: arguments only; the checks are `registry::v2`'s, the run
//! `frontend/validate.rs`'s.
// Doc comments here are the `--help` text, where backticks would only be noise.
#![allow(clippy::doc_markdown)]

use std::path::PathBuf;

use clap::{Args, ValueEnum};

use crate::registry::v2::ConnectTo;

/// Arguments of `pullseal validate`.
#[derive(Debug, Args)]
pub struct ValidateArgs {
    /// The registries to check, by catalog name [default: every registry].
    #[arg(value_name = "NAME")]
    pub names: Vec<String>,

    /// The SOPS-encrypted catalog [default: pullseal.catalog.yaml here or in a parent, up to
    /// the repository root].
    #[arg(long, env = "PULLSEAL_CATALOG", value_name = "PATH")]
    pub catalog: Option<PathBuf>,

    /// An age identity file, tried before SOPS_AGE_KEY, SOPS_AGE_KEY_FILE and
    /// ~/.config/sops/age/keys.txt.
    #[arg(long, value_name = "PATH")]
    pub age_key_file: Option<PathBuf>,

    /// Also check pull access to this repository, as it follows each registry's server in an
    /// image reference (web for quay.io/acme/web when the server is quay.io/acme).
    #[arg(long, value_name = "REPO")]
    pub repository: Option<String>,

    /// The tag or digest looked up with --repository; a missing one is "not-found". Without
    /// it the probe is `latest`, and a missing `latest` still proves pull access.
    #[arg(long, value_name = "REF", requires = "repository")]
    pub reference: Option<String>,

    /// How many registries are checked at once.
    #[arg(long, short = 'j', value_name = "N", default_value_t = 8, value_parser = clap::value_parser!(u16).range(1..=256))]
    pub jobs: u16,

    /// The limit of one request, from connecting to the last byte, in seconds.
    #[arg(long, value_name = "SECS", default_value = "10", value_parser = parse_secs)]
    pub timeout: f64,

    /// The limit of one registry's whole check (all its requests), in seconds
    /// [default: 3 x --timeout].
    #[arg(long, value_name = "SECS", value_parser = parse_secs)]
    pub deadline: Option<f64>,

    /// Allow plain HTTP to any host, and HTTPS with unverified certificates (as Docker's
    /// insecure-registries). Loopback hosts may use plain HTTP without it.
    #[arg(long)]
    pub insecure: bool,

    /// Also trust the CA certificates in this PEM file (besides the Mozilla roots built in),
    /// for registries and token services behind a company's private CA. Repeatable. Example:
    /// --ca-file /etc/pki/company-root.pem
    #[arg(long, value_name = "FILE")]
    pub ca_file: Vec<PathBuf>,

    /// Connect to HOST2:PORT2 instead of HOST:PORT, keeping HOST for TLS (SNI and the
    /// certificate checked) and the Host header, as curl's --connect-to: to check one node of
    /// a registry, or a mirror. An empty HOST or PORT matches any; an empty HOST2 or PORT2
    /// keeps the original; IPv6 in brackets. Repeatable, the first match wins; no proxy is
    /// used with it. Plain HTTP stays allowed only where both HOST and HOST2 are loopback (or
    /// with --insecure). Example: --connect-to registry.example.com:443:10.0.4.21:443
    #[arg(long, value_name = "HOST:PORT:HOST2:PORT2")]
    pub connect_to: Vec<ConnectTo>,

    /// The report's form.
    #[arg(long, short = 'o', value_enum, default_value_t = OutputFormat::Table)]
    pub output: OutputFormat,
}

/// How `pullseal validate` reports.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum OutputFormat {
    /// A table for people.
    Table,
    /// One JSON object for scripts: {"registries": [{name, server, status, reason, latency_ms, ...}]}.
    Json,
}

fn parse_secs(s: &str) -> Result<f64, String> {
    match s.parse::<f64>() {
        Ok(v) if v.is_finite() && v > 0.0 && v <= 3600.0 => Ok(v),
        _ => Err(format!("{s:?} is not a number of seconds between 0 and 3600")),
    }
}
