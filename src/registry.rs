//! Registries: what each catalog `type` needs, accepts and produces (the providers), and the
//! Docker Registry HTTP API v2 handshake behind `pullseal validate` ([`v2`]).
//!
//! One `Provider` per [`RegistryType`], chosen in one place (`RegistryType::provider`).
//! A provider knows
//!
//! - its default server, and which servers it can serve (Docker Hub, MCR, ACR, GCR and ECR
//!   have fixed host shapes, checked here; the others take any `host[:port][/path]`, `*` globs
//!   per DNS label included, matched as the kubelet matches them: [`crate::reference::Server`]);
//! - the fields it reads besides `type`, `server` and `allow` (`Provider::fields`): any other
//!   field is an unknown field, and a missing one is reported by name, with every other catalog
//!   problem ([`crate::catalog::CatalogError::Invalid`]);
//! - the [`Credentials`] those fields make: [`Credentials::Anonymous`] (no secret and no
//!   `imagePullSecrets` entry: public Docker Hub, MCR), [`Credentials::Basic`] (a
//!   username and a password or token: the `.dockerconfigjson` `auths` entry, and Basic or
//!   token auth against the registry), or [`Credentials::Ecr`] (AWS keys, exchanged for a
//!   12-hour token: never rendered into an `auths` entry here);
//! - the key of its `auths` entry (`Provider::auths_key`; contracts: the kubelet matches an
//!   image to a key by host labels, port and path prefix, `keyring.go`);
//! - what a live check authenticates with ([`crate::catalog::Registry::check_credentials`]).
//!
//! What this module must *not* do:
//! - read files or write output; only [`v2`] and [`ecr_token`] talk to a network: `v2` only to
//!   the registry being checked, `ecr_token` only to AWS's ECR and STS APIs for an ECR
//!   registry's token (their errors and reasons never hold a credential, a token or an
//!   `Authorization` header);
//! - parse YAML or sops values: `catalog::schema` hands it fields already typed as text or
//!   flags, and turns its problems into field paths;
//! - show a credential or any other decrypted value: problems name the field and say what
//!   shape was expected, never what was found, and `Debug` of every type here redacts.

mod acr;
mod dockerhub;
mod ecr;
pub mod ecr_token;
mod gcr;
mod generic;
mod mcr;
mod quay;
pub mod v2;

use std::fmt;

use secrecy::{ExposeSecret, SecretString};
use zeroize::Zeroizing;

pub use ecr::{Ecr, EcrRefresh};

use crate::catalog::Registry;
use crate::reference::Server;
use crate::render::json_string;
use crate::seal::Plaintext;

/// The key kubectl and Docker give Docker Hub credentials (`kubectl create secret
/// docker-registry`'s default `--docker-server`); the kubelet offers it to every image that
/// normalises to `docker.io`.
pub const DOCKER_HUB_KEY: &str = "https://index.docker.io/v1/";

/// The kinds of registry the catalog knows: its `type` field.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum RegistryType {
    /// Docker Hub: server `docker.io`, key `https://index.docker.io/v1/`; `public: true` for
    /// anonymous pulls.
    DockerHub,
    /// Amazon ECR: AWS keys, 12-hour tokens refreshed in the cluster.
    Ecr,
    /// Google Container Registry and Artifact Registry: `_json_key` and a service-account key.
    Gcr,
    /// Azure Container Registry: a service principal or a repository-scoped token.
    Acr,
    /// Quay.io or Red Hat Quay: a robot account `org+name` and its token.
    Quay,
    /// Sonatype Nexus Repository: a user and a password or token.
    Nexus,
    /// `JFrog` Artifactory: a user and a password or identity token.
    Artifactory,
    /// Microsoft Container Registry: server `mcr.microsoft.com`, anonymous unless credentials
    /// are given.
    Mcr,
    /// The organisation's own Docker Registry v2.
    System,
    /// Any Docker Registry v2 compatible registry.
    Generic,
}

impl RegistryType {
    /// Every type with its catalog spelling, in the order messages list them.
    pub const ALL: [(&'static str, RegistryType); 10] = [
        ("dockerhub", RegistryType::DockerHub),
        ("ecr", RegistryType::Ecr),
        ("gcr", RegistryType::Gcr),
        ("acr", RegistryType::Acr),
        ("quay", RegistryType::Quay),
        ("nexus", RegistryType::Nexus),
        ("artifactory", RegistryType::Artifactory),
        ("mcr", RegistryType::Mcr),
        ("system", RegistryType::System),
        ("generic", RegistryType::Generic),
    ];

    /// The type a catalog `type` value names.
    pub fn parse(s: &str) -> Option<RegistryType> {
        Self::ALL.iter().find(|(n, _)| *n == s).map(|(_, t)| *t)
    }

    /// `dockerhub | ecr | …`, for messages.
    pub(crate) fn names() -> String {
        Self::ALL.iter().map(|(n, _)| *n).collect::<Vec<_>>().join(" | ")
    }

    /// The catalog spelling.
    pub fn as_str(self) -> &'static str {
        Self::ALL.iter().find(|(_, t)| *t == self).map_or("", |(n, _)| *n)
    }

    /// The one place a type is mapped to its provider.
    pub(crate) fn provider(self) -> &'static dyn Provider {
        match self {
            RegistryType::DockerHub => &dockerhub::DockerHub,
            RegistryType::Ecr => &ecr::EcrProvider,
            RegistryType::Gcr => &gcr::Gcr,
            RegistryType::Acr => &acr::Acr,
            RegistryType::Quay => &quay::Quay,
            RegistryType::Mcr => &mcr::Mcr,
            RegistryType::Nexus
            | RegistryType::Artifactory
            | RegistryType::System
            | RegistryType::Generic => &generic::Generic,
        }
    }
}

impl fmt::Display for RegistryType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One registry type's rules. Implementations are unit structs, one file each; they hold no
/// state and are reached through [`RegistryType::provider`].
///
/// The contract: [`Provider::credentials`] returns `Some` exactly when it reported no problem
/// into its [`Input`]; a problem names one of [`Provider::fields`] (or `server`) and never
/// quotes what was found there.
pub(crate) trait Provider: Sync {
    /// The server used when the catalog names none; `None` makes `server` required.
    fn default_server(&self) -> Option<&'static str> {
        None
    }

    /// The fields this type reads besides `type`, `server` and `allow`.
    fn fields(&self) -> &'static [Field];

    /// Whether this type can serve `server`; the message says which shape it expects.
    fn check_server(&self, server: &Server) -> Result<(), String> {
        let _ = server;
        Ok(())
    }

    /// The credentials the fields make. `server` is `None` when the catalog's did not parse
    /// (its problem is already reported).
    fn credentials(&self, server: Option<&Server>, input: &mut Input) -> Option<Credentials>;

    /// The key of the `auths` entry: Docker Hub's legacy URL for Docker Hub, else the server as
    /// written (host, port and path prefix: the kubelet matches a path-prefixed key only to
    /// images under that path, contracts section 8).
    fn auths_key(&self, server: &Server) -> String {
        if server.is_docker_hub() {
            DOCKER_HUB_KEY.to_owned()
        } else {
            server.to_string()
        }
    }
}

/// How a provider field is written in the catalog.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum FieldKind {
    /// A string; read as a secret until the provider says otherwise.
    Text,
    /// `true` or `false`.
    Flag,
}

/// A field a provider reads.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Field {
    /// The catalog key.
    pub(crate) name: &'static str,
    /// What it holds.
    pub(crate) kind: FieldKind,
}

const fn text(name: &'static str) -> Field {
    Field {
        name,
        kind: FieldKind::Text,
    }
}

const fn flag(name: &'static str) -> Field {
    Field {
        name,
        kind: FieldKind::Flag,
    }
}

/// The fields of a username/password registry.
const BASIC_FIELDS: &[Field] = &[text("username"), text("password"), text("email")];

/// A field's value as the schema read it.
pub(crate) enum Given {
    /// A non-empty string.
    Text(SecretString),
    /// A boolean.
    Flag(bool),
    /// Present but of the wrong type (already reported by the schema).
    Invalid,
}

/// The fields given for one registry, and the problems its provider finds with them.
pub(crate) struct Input {
    given: Vec<(&'static str, Given)>,
    problems: Vec<(&'static str, String)>,
}

impl fmt::Debug for Input {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Input")
            .field("given", &self.given.iter().map(|(n, _)| *n).collect::<Vec<_>>())
            .field("problems", &self.problems)
            .finish()
    }
}

impl Input {
    /// No field given yet.
    pub(crate) fn new() -> Input {
        Input {
            given: Vec::new(),
            problems: Vec::new(),
        }
    }

    /// Records what the catalog gives for `name`.
    pub(crate) fn give(&mut self, name: &'static str, value: Given) {
        self.given.push((name, value));
    }

    /// The problems found, as (field, message).
    pub(crate) fn into_problems(self) -> Vec<(&'static str, String)> {
        self.problems
    }

    fn find(&self, name: &str) -> Option<&Given> {
        self.given.iter().find(|(n, _)| *n == name).map(|(_, g)| g)
    }

    /// Whether the catalog writes `name` at all.
    pub(crate) fn has(&self, name: &str) -> bool {
        self.find(name).is_some()
    }

    /// Reports a problem with `field`.
    pub(crate) fn problem(&mut self, field: &'static str, message: impl Into<String>) {
        self.problems.push((field, message.into()));
    }

    /// Whether any problem was reported.
    pub(crate) fn failed(&self) -> bool {
        !self.problems.is_empty()
    }

    /// A text field; a missing required one is reported.
    pub(crate) fn secret(&mut self, name: &'static str, required: bool) -> Option<SecretString> {
        match self.find(name) {
            Some(Given::Text(s)) => Some(s.clone()),
            Some(Given::Invalid | Given::Flag(_)) => None,
            None => {
                if required {
                    self.problem(name, "is required");
                }
                None
            }
        }
    }

    /// A text field that is a setting, not a credential, in a buffer zeroized when dropped.
    pub(crate) fn text(&mut self, name: &'static str, required: bool) -> Option<Zeroizing<String>> {
        self.secret(name, required)
            .map(|s| Zeroizing::new(s.expose_secret().to_owned()))
    }

    /// A flag field.
    pub(crate) fn flag(&self, name: &str) -> Option<bool> {
        match self.find(name) {
            Some(Given::Flag(b)) => Some(*b),
            _ => None,
        }
    }

    /// Reports each of `names` that is given, with `why` it is not used.
    pub(crate) fn refuse(&mut self, names: &[&'static str], why: &str) {
        for name in names {
            if self.has(name) {
                self.problem(name, why.to_owned());
            }
        }
    }

    /// `username` and `password` (both required) and the optional `email`. The username may
    /// not hold a `:`: the kubelet splits `auth` at the first one.
    pub(crate) fn basic(&mut self) -> Option<Basic> {
        let username = self.secret("username", true);
        let password = self.secret("password", true);
        let email = self.text("email", false).map(|e| String::clone(&e));
        if username.as_ref().is_some_and(|u| u.expose_secret().contains(':')) {
            self.problem(
                "username",
                "must not contain ':' (the kubelet splits `auth` at the first ':')",
            );
            return None;
        }
        Some(Basic {
            username: username?,
            password: password?,
            email,
        })
    }
}

/// What a registry's pulls authenticate with.
#[derive(Debug)]
pub enum Credentials {
    /// Nothing: anonymous pulls. No secret is emitted and no `imagePullSecrets` entry added;
    /// references still resolve and are policy-checked.
    Anonymous,
    /// A username and a password or token, for the `auths` entry.
    Basic(Basic),
    /// Amazon ECR's AWS settings; the pull credential is a token made from them.
    Ecr(Ecr),
}

/// A username and a password (or token), and the optional e-mail of the `auths` entry.
/// `Debug` shows neither credential.
pub struct Basic {
    username: SecretString,
    password: SecretString,
    email: Option<String>,
}

impl fmt::Debug for Basic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Basic").finish_non_exhaustive()
    }
}

impl Basic {
    /// From its parts (for tests and fixed usernames such as GCR's `_json_key`).
    pub(crate) fn new(username: SecretString, password: SecretString, email: Option<String>) -> Basic {
        Basic {
            username,
            password,
            email,
        }
    }

    /// The account.
    pub fn username(&self) -> &SecretString {
        &self.username
    }

    /// The password or token.
    pub fn password(&self) -> &SecretString {
        &self.password
    }
}

/// How a live check of a registry authenticates (`GET /v2/` and the challenge it answers
/// with). Returned by [`Registry::check_credentials`]; the check itself lives elsewhere.
#[derive(Debug, Clone, Copy)]
pub enum Login<'a> {
    /// No credential: check anonymously (public Docker Hub, MCR without credentials). An
    /// anonymous pull of a public repository must work; `/v2/` itself may still answer 401
    /// with a token realm that hands out anonymous tokens.
    Anonymous,
    /// Basic auth with these, or, when the registry's challenge is `Bearer`, a token fetched
    /// from the realm it names with Basic auth with these.
    Basic {
        /// The account.
        username: &'a SecretString,
        /// The password or token.
        password: &'a SecretString,
    },
    /// Amazon ECR: exchange these AWS settings for a token (`GetAuthorizationToken`, after
    /// assuming the role if one is given) and check with Basic `AWS:<token>`.
    Ecr(&'a Ecr),
}

impl<'a> Login<'a> {
    /// The username and password a Basic (or token-realm) check sends, if any: `None` for an
    /// anonymous check and for ECR, which needs its token exchange first.
    pub fn basic(&self) -> Option<(&'a SecretString, &'a SecretString)> {
        match *self {
            Login::Basic { username, password } => Some((username, password)),
            Login::Anonymous | Login::Ecr(_) => None,
        }
    }
}

/// The `auths` entry a registry with [`Credentials::Basic`] gets in a pull secret.
pub(crate) struct AuthsEntry<'a> {
    /// The registry.
    pub(crate) registry: &'a Registry,
    basic: &'a Basic,
}

impl fmt::Debug for AuthsEntry<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AuthsEntry")
            .field("registry", &self.registry.name)
            .finish_non_exhaustive()
    }
}

impl<'a> AuthsEntry<'a> {
    /// The entry of `registry`, when its credentials make one.
    pub(crate) fn of(registry: &'a Registry) -> Option<AuthsEntry<'a>> {
        match &registry.credentials {
            Credentials::Basic(basic) => Some(AuthsEntry { registry, basic }),
            Credentials::Anonymous | Credentials::Ecr(_) => None,
        }
    }

    /// The entry of `registry` with `basic` instead of its own credentials: an ECR
    /// registry's token (user `AWS`), for `refresh: token`.
    pub(crate) fn with(registry: &'a Registry, basic: &'a Basic) -> AuthsEntry<'a> {
        AuthsEntry { registry, basic }
    }

    /// The key the kubelet matches images against.
    pub(crate) fn key(&self) -> String {
        self.registry.kind.provider().auths_key(&self.registry.server)
    }

    /// `{"auths":{KEY:{"auth","email"?,"password","username"}}}`, keys sorted, in a buffer
    /// sized once (see [`Plaintext`]). `auth` is base64 of `username:password` with both
    /// exactly as stored (a multi-line GCR key keeps every byte, its last newline included);
    /// `user:pass` and its base64 are built at their exact sizes too.
    pub(crate) fn dockerconfigjson(&self) -> Plaintext {
        use base64::Engine as _;
        let user = self.basic.username.expose_secret();
        let pass = self.basic.password.expose_secret();
        let mut pair = Zeroizing::new(String::with_capacity(user.len() + 1 + pass.len()));
        pair.push_str(user);
        pair.push(':');
        pair.push_str(pass);
        // `encode` allocates the exact encoded length once.
        let auth = Zeroizing::new(base64::engine::general_purpose::STANDARD.encode(pair.as_bytes()));
        let key = self.key();
        let email = self.basic.email.as_deref();
        Plaintext::build(|out| {
            out("{\"auths\":{");
            json_string(out, &key);
            out(":{\"auth\":");
            json_string(out, &auth);
            if let Some(email) = email {
                out(",\"email\":");
                json_string(out, email);
            }
            out(",\"password\":");
            json_string(out, pass);
            out(",\"username\":");
            json_string(out, user);
            out("}}}");
        })
    }
}

/// Whether `s` is a host label of lower-case letters, digits and inner `-`.
fn is_lower_label(s: &str) -> bool {
    let b = s.as_bytes();
    !b.is_empty()
        && b.iter()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || *c == b'-')
        && b.first().is_some_and(u8::is_ascii_alphanumeric)
        && b.last().is_some_and(u8::is_ascii_alphanumeric)
}
