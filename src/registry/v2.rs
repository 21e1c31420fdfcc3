//! The Docker Registry HTTP API v2 handshake: does a credential open a registry, and may it
//! pull one repository?
//!
//! One [`Check`] runs the flow a container runtime runs before a pull
//! (distribution's `docs/spec/auth/token.md` and `docs/spec/api.md`):
//!
//! 1. `GET /v2/` without credentials. `200` is an open registry; `401` names how to
//!    authenticate in `WWW-Authenticate` ([`parse_challenges`], RFC 7235).
//! 2. `Basic`: the same request with the credential. `Bearer realm=…,service=…,scope=…`: a token
//!    from the realm (`GET realm?service=…&scope=…`, with the credential as Basic auth when
//!    there is one), then the request with `Authorization: Bearer`.
//! 3. With a repository: a token scoped `repository:R:pull`, then `HEAD /v2/R/manifests/REF`.
//!
//! The outcome is one [`Status`] with a reason and the latency. The v2 endpoint is always on
//! the server's host (`host/prefix` keeps its prefix for repositories only); Docker Hub's is
//! `registry-1.docker.io`.
//!
//! Transport rules:
//! - HTTPS with rustls and the Mozilla roots of `webpki-roots`, compiled in: the static binary
//!   runs in `scratch` images and CI containers that have no system store; a private CA's
//!   roots may be added to them ([`Transport`]). Plain HTTP only for loopback hosts
//!   (127.0.0.0/8, `::1`, `localhost`, and connected to a loopback address when an override
//!   redirects them) or with `insecure`, and then only after HTTPS failed in its TLS handshake,
//!   as Docker treats insecure registries; `insecure` also stops certificate verification, as
//!   Docker's `insecure-registries` does.
//! - `--connect-to` overrides ([`ConnectTo`]) change the address connected to, never the name:
//!   TLS verifies the name's certificate, and `Host` is the name. With any override no proxy
//!   is used.
//! - Every request has a timeout, and a check has a deadline that bounds all of its requests
//!   together, so a server that accepts and never answers costs at most that.
//! - Redirects are never followed on the registry (a `3xx` for `/v2/` is "not a registry"). A
//!   token realm may redirect up to three times: the credential goes along only to the same
//!   scheme, host and port, and never from HTTPS to plain HTTP a host is not allowed.
//!
//! What this module must *not* do:
//! - put a credential, a token or an `Authorization` header into a [`Outcome`] or a message:
//!   reasons are written here from the status and the host, HTTP client errors only through
//!   [`describe`], and every reason is scrubbed of the check's secrets before it is returned;
//! - send a credential over plain HTTP to a host that is not allowed it, or to another host
//!   than the one that asked for it;
//! - read more of a body than it needs (64 KiB for a ping, 1 MiB for a token);
//! - print anything: the front-end reports.

use std::fmt::{self, Write as _};
use std::net::Ipv4Addr;
use std::time::{Duration, Instant};

use base64::Engine as _;
use secrecy::{ExposeSecret as _, SecretString};

mod transport;

pub use transport::{CaFileError, ConnectTo, ConnectToError, Transport, ca_certificates};

/// Docker Hub's registry endpoint: `docker.io` is the name of its images, not its API host.
pub const DOCKER_HUB_ENDPOINT: &str = "registry-1.docker.io";

/// How much of a `/v2/` answer is read to tell a registry from a web page.
const PING_BODY_LIMIT: u64 = 64 * 1024;
/// How much of a token answer is read.
const TOKEN_BODY_LIMIT: u64 = 1024 * 1024;
/// How many redirects a token realm may answer with.
const TOKEN_REDIRECTS: usize = 3;

/// The manifest media types a pull asks for.
const MANIFEST_TYPES: &str = "application/vnd.oci.image.index.v1+json, \
    application/vnd.oci.image.manifest.v1+json, \
    application/vnd.docker.distribution.manifest.list.v2+json, \
    application/vnd.docker.distribution.manifest.v2+json";

/// The result of a check.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Status {
    /// The credential (or anonymous access, where the catalog has none) opens the registry,
    /// and the repository when one was asked for.
    Valid,
    /// The registry or its token service refused the credential (or asked for one the
    /// catalog does not have).
    InvalidCredentials,
    /// A registry the catalog pulls from anonymously (public Docker Hub, MCR without
    /// credentials) refuses anonymous pulls.
    AnonymousRefused,
    /// The credential is accepted, but may not pull the repository.
    NoAccess,
    /// The credential may pull the repository, but the `--reference` asked for is not there.
    NotFound,
    /// No usable answer: DNS, connection refused, timeout, deadline, or a `5xx`.
    Unreachable,
    /// TLS failed: handshake, certificate, or plain HTTP where it is not allowed.
    TlsError,
    /// Something answered, but not as a Docker Registry v2 does.
    NotARegistry,
    /// Not checked (a glob server, a registry type whose check is not built yet).
    Unchecked,
}

impl Status {
    /// The stable name, as `--output json` writes it.
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Valid => "valid",
            Status::InvalidCredentials => "invalid-credentials",
            Status::AnonymousRefused => "anonymous-refused",
            Status::NoAccess => "no-access",
            Status::NotFound => "not-found",
            Status::Unreachable => "unreachable",
            Status::TlsError => "tls-error",
            Status::NotARegistry => "not-a-registry",
            Status::Unchecked => "unchecked",
        }
    }

    /// The words a person reads in the table.
    pub fn label(self) -> &'static str {
        match self {
            Status::Valid => "valid",
            Status::InvalidCredentials => "invalid credentials",
            Status::AnonymousRefused => "anonymous pulls refused",
            Status::NoAccess => "no pull access",
            Status::NotFound => "not found",
            Status::Unreachable => "unreachable",
            Status::TlsError => "TLS problem",
            Status::NotARegistry => "not a registry",
            Status::Unchecked => "not checked",
        }
    }
}

impl fmt::Display for Status {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A username and password (or token) for a registry. Its `Debug` shows neither.
pub struct Credentials {
    username: SecretString,
    password: SecretString,
}

impl Credentials {
    /// A credential from its two halves.
    pub fn new(username: SecretString, password: SecretString) -> Credentials {
        Credentials { username, password }
    }

    /// The `Authorization: Basic` value.
    fn basic(&self) -> SecretString {
        let pair = format!(
            "{}:{}",
            self.username.expose_secret(),
            self.password.expose_secret()
        );
        let encoded = base64::engine::general_purpose::STANDARD.encode(zeroize::Zeroizing::new(pair));
        SecretString::from(format!("Basic {encoded}"))
    }
}

impl fmt::Debug for Credentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Credentials([redacted])")
    }
}

/// Where a registry's v2 API is: the host of its catalog server.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Endpoint {
    /// `host[:port]`.
    authority: String,
    /// The server's path prefix (`docker-local` of `jfrog.example.com/docker-local`), or "".
    prefix: String,
    /// Docker Hub: official images live under `library/`.
    docker_hub: bool,
    /// Whether plain HTTP may be tried after HTTPS fails its handshake.
    plain_http_allowed: bool,
    /// Whether certificates go unverified (`--insecure`).
    insecure: bool,
}

/// Why a server cannot be checked.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EndpointError {
    /// A `*` glob names many hosts, not one to connect to.
    #[error("the server {server} is a glob; only a single host can be checked")]
    Glob {
        /// The server, as the catalog writes it.
        server: String,
    },
    /// Not `host[:port][/path]`.
    #[error("the server {server} is not host[:port][/path]")]
    Malformed {
        /// The server, as the catalog writes it.
        server: String,
    },
}

impl Endpoint {
    /// The endpoint of a catalog server `host[:port][/path]` (the `Display` of
    /// [`crate::reference::Server`], which never has a scheme or userinfo). Docker Hub
    /// (`docker.io` without a port) is [`DOCKER_HUB_ENDPOINT`].
    pub fn for_server(server: &str, insecure: bool) -> Result<Endpoint, EndpointError> {
        let (authority, prefix) = server.split_once('/').unwrap_or((server, ""));
        let host = host_of(authority);
        if host.contains('*') {
            return Err(EndpointError::Glob {
                server: server.to_owned(),
            });
        }
        if host.is_empty() || authority.contains('@') || prefix.starts_with('/') {
            return Err(EndpointError::Malformed {
                server: server.to_owned(),
            });
        }
        let docker_hub = matches!(authority, "docker.io" | "index.docker.io");
        let authority = if docker_hub {
            DOCKER_HUB_ENDPOINT.to_owned()
        } else {
            authority.to_owned()
        };
        Ok(Endpoint {
            plain_http_allowed: insecure || is_loopback(host),
            authority,
            prefix: prefix.trim_end_matches('/').to_owned(),
            docker_hub,
            insecure,
        })
    }

    /// `https://host[:port]`, the base every report names.
    pub fn base(&self) -> String {
        format!("https://{}", self.authority)
    }

    /// The repository path on the host for `repository`, given as it follows the catalog
    /// server in an image reference: under the server's prefix, and under `library/` for an
    /// official Docker Hub image (`nginx`).
    pub fn repository_path(&self, repository: &str) -> String {
        let repository = repository.trim_matches('/');
        if self.docker_hub && self.prefix.is_empty() && !repository.contains('/') {
            format!("library/{repository}")
        } else if self.prefix.is_empty() {
            repository.to_owned()
        } else {
            format!("{}/{repository}", self.prefix)
        }
    }
}

/// The port of `host[:port]` or `[v6][:port]`, the scheme's default when there is none;
/// `None` when it is not a port.
fn port_of(authority: &str, https: bool) -> Option<u16> {
    let after_host = match authority.strip_prefix('[') {
        Some(rest) => rest.split_once(']').map_or("", |(_, after)| after),
        None => authority.rsplit_once(':').map_or("", |(_, port)| port),
    };
    let port = after_host.strip_prefix(':').unwrap_or(after_host);
    if port.is_empty() {
        Some(if https { 443 } else { 80 })
    } else {
        port.parse().ok()
    }
}

/// The host of `host[:port]` or `[v6][:port]`.
fn host_of(authority: &str) -> &str {
    if let Some(rest) = authority.strip_prefix('[') {
        return rest.split_once(']').map_or(rest, |(h, _)| h);
    }
    authority.rsplit_once(':').map_or(authority, |(h, _)| h)
}

/// Whether `host` is a loopback name or address: 127.0.0.0/8, `::1`, `localhost`.
pub fn is_loopback(host: &str) -> bool {
    let host = host.trim_start_matches('[').trim_end_matches(']');
    host.eq_ignore_ascii_case("localhost")
        || host.parse::<Ipv4Addr>().is_ok_and(|ip| ip.is_loopback())
        || host
            .parse::<std::net::Ipv6Addr>()
            .is_ok_and(|ip| ip.is_loopback())
}

/// One authentication challenge of a `WWW-Authenticate` header.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Challenge {
    /// The scheme, lowercased (`basic`, `bearer`).
    pub scheme: String,
    /// Its parameters in order, names lowercased, quoted values unescaped.
    pub params: Vec<(String, String)>,
}

impl Challenge {
    /// The value of parameter `name` (lowercase).
    pub fn param(&self, name: &str) -> Option<&str> {
        self.params
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }
}

/// The challenges of one `WWW-Authenticate` value, as RFC 7235 section 4.1 writes them:
/// `scheme param=value, param="quoted, \"escaped\"", Other realm=x`. A comma separates both
/// parameters and challenges; a name followed by `=` is a parameter, any other token starts a
/// new challenge. A token68 (`Negotiate abc==`) is kept as a parameter with an empty name.
/// Malformed text ends the parse; what was read before it is returned.
pub fn parse_challenges(header: &str) -> Vec<Challenge> {
    let mut out: Vec<Challenge> = Vec::new();
    let mut p = Cursor {
        bytes: header.as_bytes(),
        at: 0,
    };
    loop {
        p.skip(|b| b == b' ' || b == b'\t' || b == b',');
        let Some(word) = p.token() else { break };
        p.skip(|b| b == b' ' || b == b'\t');
        if p.peek() == Some(b'=') && !out.is_empty() {
            // `name=value` after a challenge: one of its parameters.
            p.at += 1;
            p.skip(|b| b == b' ' || b == b'\t');
            let value = if p.peek() == Some(b'"') {
                match p.quoted() {
                    Some(v) => v,
                    None => break,
                }
            } else {
                p.token().unwrap_or_default()
            };
            if let Some(last) = out.last_mut() {
                last.params.push((word.to_ascii_lowercase(), value));
            }
        } else {
            // A scheme, possibly with a token68 right after it.
            let mut challenge = Challenge {
                scheme: word.to_ascii_lowercase(),
                params: Vec::new(),
            };
            let save = p.at;
            if let Some(t68) = p.token68() {
                let next = p.peek();
                if next.is_none() || next == Some(b',') {
                    challenge.params.push((String::new(), t68));
                } else {
                    p.at = save;
                }
            }
            out.push(challenge);
        }
        p.skip(|b| b == b' ' || b == b'\t');
        // Next: a comma, or a parameter's name after a scheme and whitespace; else the end.
        let go_on = match p.peek() {
            Some(b',') => true,
            Some(_) => out.last().is_some_and(|c| c.params.is_empty()),
            None => false,
        };
        if !go_on {
            break;
        }
    }
    out
}

/// A position in a header value.
struct Cursor<'a> {
    bytes: &'a [u8],
    at: usize,
}

impl Cursor<'_> {
    fn peek(&self) -> Option<u8> {
        self.bytes.get(self.at).copied()
    }

    fn skip(&mut self, what: impl Fn(u8) -> bool) {
        while self.peek().is_some_and(&what) {
            self.at += 1;
        }
    }

    /// An RFC 7230 token.
    fn token(&mut self) -> Option<String> {
        let start = self.at;
        self.skip(|b| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b));
        (self.at > start)
            .then(|| String::from_utf8_lossy(self.bytes.get(start..self.at).unwrap_or_default()).into_owned())
    }

    /// A token68: a token of base64-ish characters and trailing `=`.
    fn token68(&mut self) -> Option<String> {
        let start = self.at;
        self.skip(|b| b.is_ascii_alphanumeric() || b"-._~+/".contains(&b));
        if self.at == start {
            return None;
        }
        self.skip(|b| b == b'=');
        Some(String::from_utf8_lossy(self.bytes.get(start..self.at).unwrap_or_default()).into_owned())
    }

    /// A quoted-string, the cursor on its opening quote; `None` if it never closes.
    fn quoted(&mut self) -> Option<String> {
        self.at += 1;
        let mut value = Vec::new();
        loop {
            match self.peek()? {
                b'"' => {
                    self.at += 1;
                    return Some(String::from_utf8_lossy(&value).into_owned());
                }
                b'\\' => {
                    self.at += 1;
                    value.push(self.peek()?);
                    self.at += 1;
                }
                b => {
                    value.push(b);
                    self.at += 1;
                }
            }
        }
    }
}

/// What to check, and how long it may take.
#[derive(Debug)]
pub struct Check<'a> {
    /// Where.
    pub endpoint: &'a Endpoint,
    /// With what; `None` is anonymous.
    pub credentials: Option<&'a Credentials>,
    /// A repository to check pull access to, as it follows the catalog server in an image.
    pub repository: Option<&'a str>,
    /// The tag or digest to look for [default: `latest`, and then a `404` still means
    /// access].
    pub reference: Option<&'a str>,
    /// The limit of one request, connection to last byte.
    pub timeout: Duration,
    /// The limit of the whole check.
    pub deadline: Duration,
    /// The roots trusted and the connection overrides.
    pub transport: &'a Transport,
}

/// What a check found.
#[derive(Debug, Clone)]
pub struct Outcome {
    /// The verdict.
    pub status: Status,
    /// Why, in words, naming hosts and HTTP statuses but never a credential or token.
    pub reason: String,
    /// The wall-clock time of the whole check.
    pub latency: Duration,
    /// The base URL the check settled on (`https://host` or `http://host`).
    pub endpoint: String,
}

/// A verdict on the way: status and reason.
type Verdict = (Status, String);

impl Check<'_> {
    /// Runs the check. Never panics, never blocks past the deadline (plus the time to notice
    /// it), and returns a reason that holds no secret of this check.
    pub fn run(&self) -> Outcome {
        let started = Instant::now();
        let mut client = Client::new(self, started);
        let (status, reason) = match self.flow(&mut client) {
            Ok(verdict) | Err(verdict) => verdict,
        };
        let reason = self.scrub(&reason, &client.tokens);
        Outcome {
            status,
            reason,
            latency: started.elapsed(),
            endpoint: client.base(),
        }
    }

    /// Replaces any secret of this check that a reason might hold (it never should: defence
    /// in depth against a server or client echoing one back).
    fn scrub(&self, reason: &str, tokens: &[SecretString]) -> String {
        let mut secrets: Vec<String> = tokens.iter().map(|t| t.expose_secret().to_owned()).collect();
        if let Some(credentials) = self.credentials {
            secrets.push(credentials.password.expose_secret().to_owned());
            secrets.push(credentials.username.expose_secret().to_owned());
            let basic = credentials.basic();
            if let Some(encoded) = basic.expose_secret().strip_prefix("Basic ") {
                secrets.push(encoded.to_owned());
            }
        }
        let mut out = reason.to_owned();
        for secret in secrets.iter().filter(|s| s.len() >= 4) {
            out = out.replace(secret.as_str(), "[redacted]");
        }
        out
    }

    fn flow(&self, client: &mut Client<'_>) -> Result<Verdict, Verdict> {
        let ping = client.ping()?;
        let auth = match ping.status {
            200 => None,
            401 => {
                let challenge = choose_challenge(&ping)?;
                Some(self.authenticate(client, &challenge)?)
            }
            // MCR answers 403 to the networks it blocks.
            403 if self.credentials.is_none() => {
                return Err((
                    Status::AnonymousRefused,
                    format!(
                        "GET /v2/ on {} answered HTTP 403 (forbidden) without credentials",
                        client.base()
                    ),
                ));
            }
            status => return Err(client.unexpected("GET /v2/", &ping, status)),
        };
        let anonymous = self.credentials.is_none();
        let Some(repository) = self.repository else {
            let base = client.base();
            return Ok(match (&auth, anonymous) {
                (Some(auth), false) => (
                    Status::Valid,
                    format!("the credentials open {base} ({})", auth.how),
                ),
                (Some(auth), true) => (
                    Status::Valid,
                    format!(
                        "anonymous pulls allowed: {base} opens with a token asked for without credentials ({}); --repository checks one repository",
                        auth.how
                    ),
                ),
                (None, false) => (
                    Status::Valid,
                    format!(
                        "{base} is open to anonymous access; the credentials were not checked (the registry asked for none)"
                    ),
                ),
                (None, true) => (
                    Status::Valid,
                    format!(
                        "anonymous pulls allowed: {base} answers /v2/ without credentials; --repository checks one repository"
                    ),
                ),
            });
        };
        let (status, reason) = self.pull_access(client, repository, auth.as_ref())?;
        if anonymous && status == Status::Valid {
            Ok((status, format!("anonymous pulls allowed: {reason}")))
        } else {
            Ok((status, reason))
        }
    }

    /// The status of a refusal: of the credentials, or of anonymous pulls when there are none.
    fn refused(&self) -> Status {
        if self.credentials.is_some() {
            Status::InvalidCredentials
        } else {
            Status::AnonymousRefused
        }
    }

    /// Answers the `/v2/` challenge: a header that opens `/v2/`, scoped to the repository
    /// when there is one.
    fn authenticate(&self, client: &mut Client<'_>, challenge: &Challenge) -> Result<Auth, Verdict> {
        let base = client.base();
        match challenge.scheme.as_str() {
            "basic" => {
                let Some(credentials) = self.credentials else {
                    return Err((
                        Status::AnonymousRefused,
                        format!(
                            "{base} asks for a username and password (Basic), and the catalog pulls from it anonymously"
                        ),
                    ));
                };
                let auth = Auth {
                    header: credentials.basic(),
                    how: "Basic".to_owned(),
                };
                let answer = client.get_v2(Some(&auth.header))?;
                match answer.status {
                    200 => Ok(auth),
                    401 | 403 => Err((
                        Status::InvalidCredentials,
                        format!(
                            "{base} refused the username and password (HTTP {}, Basic)",
                            answer.status
                        ),
                    )),
                    status => Err(client.unexpected("GET /v2/ with Basic auth", &answer, status)),
                }
            }
            "bearer" => {
                let scope = self
                    .repository
                    .map(|r| format!("repository:{}:pull", self.endpoint.repository_path(r)));
                let token = match self.token(client, challenge, scope.as_deref()) {
                    Err((status @ (Status::InvalidCredentials | Status::AnonymousRefused), reason))
                        if scope.is_some() =>
                    {
                        // Refused with the scope: is it the credential, or the repository?
                        self.token(client, challenge, None)
                            .map_err(|_| (status, reason.clone()))?;
                        return Err((
                            Status::NoAccess,
                            format!(
                                "the token service accepts {} but refuses {}",
                                if self.credentials.is_some() {
                                    "the credentials"
                                } else {
                                    "anonymous access"
                                },
                                scope.unwrap_or_default()
                            ),
                        ));
                    }
                    other => other?,
                };
                let auth = Auth {
                    header: SecretString::from(format!("Bearer {}", token.expose_secret())),
                    how: format!(
                        "Bearer token from {}",
                        shown_url(challenge.param("realm").unwrap_or_default())
                    ),
                };
                let answer = client.get_v2(Some(&auth.header))?;
                match answer.status {
                    200 => Ok(auth),
                    401 | 403 => Err((
                        self.refused(),
                        format!(
                            "{base} refused the token its token service issued (HTTP {}){}",
                            answer.status,
                            if self.credentials.is_none() {
                                "; the catalog has no credentials"
                            } else {
                                ""
                            }
                        ),
                    )),
                    status => Err(client.unexpected("GET /v2/ with a Bearer token", &answer, status)),
                }
            }
            other => Err((
                Status::NotARegistry,
                format!(
                    "{base} asks for {other:?} authentication, which registries do not use (Basic or Bearer)"
                ),
            )),
        }
    }

    /// A token from the challenge's realm, for `scope` (with the challenge's own scope).
    fn token(
        &self,
        client: &mut Client<'_>,
        challenge: &Challenge,
        scope: Option<&str>,
    ) -> Result<SecretString, Verdict> {
        let realm = challenge.param("realm").unwrap_or_default();
        let shown = shown_url(realm);
        let mut query = Vec::new();
        if let Some(service) = challenge.param("service") {
            query.push(("service", service.to_owned()));
        }
        for s in challenge.param("scope").into_iter().chain(scope) {
            query.push(("scope", s.to_owned()));
        }
        let url = with_query(realm, &query);
        let basic = self.credentials.map(Credentials::basic);
        let mut answer = client.token_request(&url, basic.as_ref(), &shown)?;
        match answer.status {
            200 => {}
            401 | 403 => {
                return Err((
                    self.refused(),
                    format!(
                        "the token service {shown} refused {} (HTTP {})",
                        if self.credentials.is_some() {
                            "the credentials"
                        } else {
                            "anonymous access"
                        },
                        answer.status
                    ),
                ));
            }
            status if status >= 500 => {
                return Err((
                    Status::Unreachable,
                    format!("the token service {shown} failed (HTTP {status})"),
                ));
            }
            status => {
                return Err((
                    Status::NotARegistry,
                    format!("the token service {shown} answered HTTP {status}, not a token"),
                ));
            }
        }
        let body = zeroize::Zeroizing::new(std::mem::take(&mut answer.body));
        let token = serde_json::from_slice::<serde_json::Value>(&body)
            .ok()
            .and_then(|json| {
                ["token", "access_token"]
                    .iter()
                    .find_map(|k| json.get(k).and_then(serde_json::Value::as_str).filter(|t| !t.is_empty()).map(str::to_owned))
            })
            .map(SecretString::from)
            .ok_or_else(|| {
                (
                    Status::NotARegistry,
                    format!("the token service {shown} answered without a token (no \"token\" or \"access_token\" in JSON)"),
                )
            })?;
        client.tokens.push(token.clone());
        Ok(token)
    }

    /// `HEAD /v2/<repository>/manifests/<reference>` with the `/v2/` header, or with a header
    /// the repository's own challenge asks for.
    fn pull_access(
        &self,
        client: &mut Client<'_>,
        repository: &str,
        auth: Option<&Auth>,
    ) -> Result<Verdict, Verdict> {
        let path = self.endpoint.repository_path(repository);
        let reference = self.reference.unwrap_or("latest");
        let mut answer = client.manifest(&path, reference, auth.map(|a| &a.header))?;
        if answer.status == 401 && auth.is_none() && !answer.www_authenticate.is_empty() {
            // An open `/v2/` with a protected repository: answer its challenge.
            let challenge = choose_challenge(&answer)?;
            let auth = self.authenticate(client, &challenge)?;
            answer = client.manifest(&path, reference, Some(&auth.header))?;
        }
        let image = format!("{path}:{reference}");
        match answer.status {
            200..=299 => Ok((Status::Valid, format!("may pull {image}"))),
            300..=399 => Ok((
                Status::Valid,
                format!("may pull {image} (the registry redirects the manifest; not followed)"),
            )),
            404 if self.reference.is_some() => Err((
                Status::NotFound,
                format!("may pull {path}, but {image} is not there (HTTP 404)"),
            )),
            404 => Ok((
                Status::Valid,
                format!(
                    "may pull {path} (the probe {image} is not there, HTTP 404, which a registry answers only after authorizing the pull)"
                ),
            )),
            401 | 403 => Err((
                Status::NoAccess,
                format!(
                    "{} refuses to let {} pull {path} (HTTP {})",
                    client.base(),
                    if self.credentials.is_some() {
                        "the credentials"
                    } else {
                        "anonymous access"
                    },
                    answer.status
                ),
            )),
            status => {
                Err(client.unexpected(&format!("HEAD /v2/{path}/manifests/{reference}"), &answer, status))
            }
        }
    }
}

/// How `/v2/` was opened.
struct Auth {
    header: SecretString,
    how: String,
}

/// The challenge to answer: Bearer if offered, else Basic, else the first.
fn choose_challenge(answer: &Answer) -> Result<Challenge, Verdict> {
    let challenges: Vec<Challenge> = answer
        .www_authenticate
        .iter()
        .flat_map(|h| parse_challenges(h))
        .collect();
    let pick = challenges
        .iter()
        .find(|c| c.scheme == "bearer")
        .or_else(|| challenges.iter().find(|c| c.scheme == "basic"))
        .or_else(|| challenges.first())
        .cloned();
    let Some(challenge) = pick else {
        return Err((
            Status::NotARegistry,
            "answered HTTP 401 without a WWW-Authenticate challenge".to_owned(),
        ));
    };
    if challenge.scheme == "bearer" {
        let realm = challenge.param("realm").unwrap_or_default();
        if !(realm.starts_with("https://") || realm.starts_with("http://")) {
            return Err((
                Status::NotARegistry,
                format!(
                    "the Bearer challenge names no http(s) realm ({})",
                    shown_url(realm)
                ),
            ));
        }
    }
    Ok(challenge)
}

/// A URL as a message shows it: scheme, host and path, without userinfo or query, the path
/// percent-decoded (so that a secret a server echoes into it encoded is the text the check's
/// scrub looks for).
pub fn shown_url(url: &str) -> String {
    let (scheme, rest) = url.split_once("://").unwrap_or(("", url));
    let rest = rest.split(['?', '#']).next().unwrap_or_default();
    let (authority, path) = rest.split_once('/').map_or((rest, ""), |(a, p)| (a, p));
    let path = percent_decoded(path);
    let path = path.as_str();
    let authority = authority.rsplit_once('@').map_or(authority, |(_, host)| host);
    let shown = if scheme.is_empty() {
        format!("{authority}/{path}")
    } else {
        format!("{scheme}://{authority}/{path}")
    };
    let shown = if path.is_empty() {
        shown.trim_end_matches('/')
    } else {
        &shown
    };
    crate::error::shown(shown)
}

/// `text` with every `%XX` replaced by its byte (invalid UTF-8 replaced).
fn percent_decoded(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut at = 0;
    while let Some(&b) = bytes.get(at) {
        let hex = bytes
            .get(at + 1..at + 3)
            .filter(|h| h.iter().all(u8::is_ascii_hexdigit))
            .and_then(|h| std::str::from_utf8(h).ok())
            .and_then(|h| u8::from_str_radix(h, 16).ok());
        if let (b'%', Some(decoded)) = (b, hex) {
            out.push(decoded);
            at += 3;
        } else {
            out.push(b);
            at += 1;
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// `url` with `pairs` appended to its query, form-encoded.
fn with_query(url: &str, pairs: &[(&str, String)]) -> String {
    let (base, fragment) = url.split_once('#').map_or((url, None), |(b, f)| (b, Some(f)));
    let mut out = base.to_owned();
    for (i, (name, value)) in pairs.iter().enumerate() {
        let sep = if i == 0 && !base.contains('?') { '?' } else { '&' };
        out.push(sep);
        out.push_str(&form_encode(name));
        out.push('=');
        out.push_str(&form_encode(value));
    }
    if let Some(fragment) = fragment {
        out.push('#');
        out.push_str(fragment);
    }
    out
}

/// `application/x-www-form-urlencoded` encoding of one name or value.
fn form_encode(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for b in text.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
            out.push(char::from(b));
        } else {
            let _ = write!(out, "%{b:02X}");
        }
    }
    out
}

/// The parts of a URL the transport rules need.
struct Target {
    https: bool,
    /// `scheme://authority`, the origin a credential is bound to.
    origin: String,
    host: String,
    /// The port, the scheme's when the URL has none.
    port: u16,
}

fn target(url: &str) -> Option<Target> {
    let (scheme, rest) = url.split_once("://")?;
    let https = match scheme.to_ascii_lowercase().as_str() {
        "https" => true,
        "http" => false,
        _ => return None,
    };
    let authority = rest.split(['/', '?', '#']).next().unwrap_or_default();
    if authority.is_empty() || authority.contains('@') {
        return None;
    }
    Some(Target {
        https,
        origin: format!(
            "{}://{}",
            scheme.to_ascii_lowercase(),
            authority.to_ascii_lowercase()
        ),
        host: host_of(authority).to_owned(),
        port: port_of(authority, https)?,
    })
}

/// The part of an answer a check looks at.
struct Answer {
    status: u16,
    www_authenticate: Vec<String>,
    api_version: Option<String>,
    content_type: Option<String>,
    location: Option<String>,
    body: Vec<u8>,
}

/// The HTTP side of one check: its agents, its clock, the scheme it settled on, and the
/// tokens it was given (to scrub them from its reason).
struct Client<'a> {
    check: &'a Check<'a>,
    agent: ureq::Agent,
    deadline: Instant,
    https: bool,
    tokens: Vec<SecretString>,
}

impl<'a> Client<'a> {
    fn new(check: &'a Check<'a>, started: Instant) -> Client<'a> {
        let tls = ureq::tls::TlsConfig::builder()
            .root_certs(check.transport.roots())
            .disable_verification(check.endpoint.insecure)
            .build();
        let mut config = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .max_redirects(0)
            .user_agent(concat!("pullseal/", env!("CARGO_PKG_VERSION")))
            .tls_config(tls)
            .timeout_global(Some(check.timeout));
        if check.transport.overrides() {
            // The override names the address; a proxy would connect elsewhere.
            config = config.proxy(None);
        }
        Client {
            check,
            agent: check.transport.agent(config.build()),
            deadline: started + check.deadline,
            https: true,
            tokens: Vec::new(),
        }
    }

    fn base(&self) -> String {
        let scheme = if self.https { "https" } else { "http" };
        format!("{scheme}://{}", self.check.endpoint.authority)
    }

    /// Whether plain HTTP may go to `host:port`: with `insecure`, or when the name and the
    /// address connected to are both loopback.
    fn plain_http_allowed(&self, host: &str, port: u16) -> bool {
        self.check.endpoint.insecure || self.check.transport.is_loopback(host, port)
    }

    /// `GET /v2/` without credentials, over HTTPS, and over plain HTTP when HTTPS failed its
    /// handshake and the host is allowed it.
    fn ping(&mut self) -> Result<Answer, Verdict> {
        let authority = &self.check.endpoint.authority;
        let plain_allowed = self.check.endpoint.plain_http_allowed
            && port_of(authority, false)
                .is_some_and(|port| self.plain_http_allowed(host_of(authority), port));
        match self.get_v2(None) {
            Err((Status::TlsError, reason)) if plain_allowed => {
                self.https = false;
                self.get_v2(None).map_err(|(status, plain)| {
                    if status == Status::Unreachable || status == Status::NotARegistry {
                        (status, format!("{plain}; over HTTPS: {reason}"))
                    } else {
                        (status, plain)
                    }
                })
            }
            other => other,
        }
    }

    fn get_v2(&mut self, auth: Option<&SecretString>) -> Result<Answer, Verdict> {
        let url = format!("{}/v2/", self.base());
        let answer = self.send("GET", &url, auth, None, PING_BODY_LIMIT)?;
        if answer.status == 200 && !looks_like_registry(&answer) {
            return Err((
                Status::NotARegistry,
                format!(
                    "{url} answered HTTP 200 with {}, not the v2 API (no Docker-Distribution-API-Version: registry/2.0, no JSON)",
                    answer
                        .content_type
                        .as_deref()
                        .map_or_else(|| "no content type".to_owned(), crate::error::shown)
                ),
            ));
        }
        Ok(answer)
    }

    fn manifest(
        &mut self,
        path: &str,
        reference: &str,
        auth: Option<&SecretString>,
    ) -> Result<Answer, Verdict> {
        let url = format!("{}/v2/{path}/manifests/{reference}", self.base());
        self.send("HEAD", &url, auth, Some(MANIFEST_TYPES), 0)
    }

    /// A token request to `url`, following up to [`TOKEN_REDIRECTS`] redirects; the
    /// credential goes only to the realm's own origin.
    fn token_request(
        &mut self,
        url: &str,
        basic: Option<&SecretString>,
        shown: &str,
    ) -> Result<Answer, Verdict> {
        let refused = |why: &str| (Status::TlsError, format!("the token service {shown}: {why}"));
        let first = target(url).ok_or_else(|| {
            (
                Status::NotARegistry,
                format!("the Bearer realm {shown} is not an http(s) URL without userinfo"),
            )
        })?;
        let mut url = url.to_owned();
        let mut current = first;
        let origin = current.origin.clone();
        for _ in 0..=TOKEN_REDIRECTS {
            if !(current.https || self.plain_http_allowed(&current.host, current.port)) {
                return Err(refused(&format!(
                    "{} is plain HTTP and not a loopback host; use --insecure to allow it",
                    crate::error::shown(&current.origin)
                )));
            }
            let auth = basic.filter(|_| current.origin == origin);
            let answer = self.send("GET", &url, auth, Some("application/json"), TOKEN_BODY_LIMIT)?;
            if !(300..400).contains(&answer.status) {
                return Ok(answer);
            }
            let location = answer.location.clone().unwrap_or_default();
            let next = if location.starts_with('/') {
                format!("{}{location}", current.origin)
            } else {
                location
            };
            current = target(&next).ok_or_else(|| {
                (
                    Status::NotARegistry,
                    format!("the token service {shown} redirects to something that is not an http(s) URL"),
                )
            })?;
            url = next;
        }
        Err((
            Status::NotARegistry,
            format!("the token service {shown} redirects more than {TOKEN_REDIRECTS} times"),
        ))
    }

    /// One request. Its timeout is the check's, cut to what is left of the deadline.
    fn send(
        &mut self,
        method: &str,
        url: &str,
        auth: Option<&SecretString>,
        accept: Option<&str>,
        limit: u64,
    ) -> Result<Answer, Verdict> {
        let shown = shown_url(url);
        let now = Instant::now();
        let left = self.deadline.saturating_duration_since(now);
        if left.is_zero() {
            return Err((
                Status::Unreachable,
                format!(
                    "the check's deadline of {} passed before {method} {shown}",
                    secs(self.check.deadline)
                ),
            ));
        }
        let timeout = self.check.timeout.min(left);
        let by_deadline = left < self.check.timeout;
        let request = http_request(method, url, auth, accept).map_err(|()| {
            (
                Status::NotARegistry,
                format!("{shown} is not a URL a request can be made to"),
            )
        })?;
        let request = self
            .agent
            .configure_request(request)
            .timeout_global(Some(timeout))
            .build();
        let result = self.agent.run(request);
        let mut response = result.map_err(|err| {
            let (status, what) = describe(&err);
            let what = if matches!(err, ureq::Error::Timeout(_)) {
                if by_deadline {
                    format!("the check's deadline of {} passed", secs(self.check.deadline))
                } else {
                    format!("no answer within {} (timeout)", secs(timeout))
                }
            } else {
                what
            };
            (status, format!("{method} {shown}: {what}"))
        })?;
        let header = |name: &str| {
            response
                .headers()
                .get(name)
                .and_then(|v| v.to_str().ok())
                .map(str::to_owned)
        };
        let mut answer = Answer {
            status: response.status().as_u16(),
            www_authenticate: response
                .headers()
                .get_all("www-authenticate")
                .iter()
                .filter_map(|v| v.to_str().ok().map(str::to_owned))
                .collect(),
            api_version: header("docker-distribution-api-version"),
            content_type: header("content-type"),
            location: header("location"),
            body: Vec::new(),
        };
        if method != "HEAD" && limit > 0 {
            match response.body_mut().with_config().limit(limit).read_to_vec() {
                Ok(body) => answer.body = body,
                Err(ureq::Error::Timeout(_)) => {
                    return Err((
                        Status::Unreachable,
                        format!(
                            "{method} {shown}: the answer did not finish within {}",
                            secs(timeout)
                        ),
                    ));
                }
                // A body past the limit, or cut short, is no token and no ping answer.
                Err(_) => {}
            }
        }
        if answer.status >= 500 {
            return Err((
                Status::Unreachable,
                format!("{method} {shown}: HTTP {} (server error)", answer.status),
            ));
        }
        Ok(answer)
    }

    /// The verdict on an answer a step did not expect.
    fn unexpected(&self, what: &str, answer: &Answer, status: u16) -> Verdict {
        let base = self.base();
        if (300..400).contains(&status) {
            let to = answer
                .location
                .as_deref()
                .map_or_else(|| "nowhere".to_owned(), shown_url);
            return (
                Status::NotARegistry,
                format!(
                    "{what} on {base} redirects (HTTP {status} to {to}); registries answer /v2/ directly, and redirects are not followed"
                ),
            );
        }
        let api = if answer.api_version.is_some() {
            ""
        } else {
            ", and no Docker-Distribution-API-Version header"
        };
        (
            Status::NotARegistry,
            format!("{what} on {base} answered HTTP {status}{api}"),
        )
    }
}

/// Whether a `200` for `/v2/` comes from a registry: distribution sends
/// `Docker-Distribution-API-Version: registry/2.0` and `{}`; some registries send only JSON.
fn looks_like_registry(answer: &Answer) -> bool {
    if answer
        .api_version
        .as_deref()
        .is_some_and(|v| v.trim().eq_ignore_ascii_case("registry/2.0"))
    {
        return true;
    }
    let json_type = answer.content_type.as_deref().is_some_and(|t| {
        t.trim_start()
            .to_ascii_lowercase()
            .starts_with("application/json")
    });
    json_type && serde_json::from_slice::<serde_json::Value>(&answer.body).is_ok_and(|v| v.is_object())
}

fn http_request(
    method: &str,
    url: &str,
    auth: Option<&SecretString>,
    accept: Option<&str>,
) -> Result<ureq::http::Request<()>, ()> {
    let mut builder = ureq::http::Request::builder().method(method).uri(url);
    if let Some(accept) = accept {
        builder = builder.header("accept", accept);
    }
    if let Some(auth) = auth {
        let mut value = ureq::http::HeaderValue::from_str(auth.expose_secret()).map_err(|_| ())?;
        value.set_sensitive(true);
        builder = builder.header("authorization", value);
    }
    builder.body(()).map_err(|_| ())
}

/// The status and the words for an HTTP client error. Written here for each kind, never
/// from the client's own `Display` where that could quote a URL: only I/O and TLS errors
/// (which name no URL) are shown as the client gives them.
pub fn describe(err: &ureq::Error) -> (Status, String) {
    match err {
        ureq::Error::Timeout(_) => (Status::Unreachable, "no answer in time (timeout)".to_owned()),
        ureq::Error::HostNotFound => (
            Status::Unreachable,
            "the host name does not resolve (DNS)".to_owned(),
        ),
        ureq::Error::ConnectionFailed => (Status::Unreachable, "cannot connect".to_owned()),
        ureq::Error::Io(io) => describe_io(io),
        ureq::Error::Rustls(tls) => (Status::TlsError, format!("TLS: {tls}")),
        ureq::Error::Tls(what) => (Status::TlsError, format!("TLS: {what}")),
        ureq::Error::Pem(_) => (Status::TlsError, "TLS: a certificate cannot be read".to_owned()),
        ureq::Error::Protocol(_) => (
            Status::NotARegistry,
            "the answer is not HTTP/1.1 (is it a TLS port spoken to in plain HTTP?)".to_owned(),
        ),
        ureq::Error::BadUri(_) | ureq::Error::Http(_) => {
            (Status::NotARegistry, "not a usable URL".to_owned())
        }
        ureq::Error::InvalidProxyUrl => (
            Status::Unreachable,
            "the proxy setting (HTTPS_PROXY, ALL_PROXY) is not a usable URL".to_owned(),
        ),
        ureq::Error::TooManyRedirects | ureq::Error::RedirectFailed => {
            (Status::NotARegistry, "redirects (not followed)".to_owned())
        }
        _ => (Status::Unreachable, "the request failed".to_owned()),
    }
}

fn describe_io(io: &std::io::Error) -> (Status, String) {
    use std::io::ErrorKind;
    let text = io.to_string();
    // rustls errors reach ureq wrapped in I/O errors during the handshake.
    let tls_words = [
        "tls",
        "certificate",
        "handshake",
        "corrupt message",
        "peer",
        "alert",
    ];
    let lower = text.to_ascii_lowercase();
    match io.kind() {
        ErrorKind::ConnectionRefused => (
            Status::Unreachable,
            "connection refused (nothing listens there)".to_owned(),
        ),
        ErrorKind::TimedOut | ErrorKind::WouldBlock => {
            (Status::Unreachable, "no answer in time (timeout)".to_owned())
        }
        ErrorKind::InvalidData if tls_words.iter().any(|w| lower.contains(w)) => {
            (Status::TlsError, format!("TLS: {text}"))
        }
        _ if tls_words.iter().any(|w| lower.contains(w)) => (Status::TlsError, format!("TLS: {text}")),
        ErrorKind::ConnectionReset | ErrorKind::ConnectionAborted | ErrorKind::UnexpectedEof => {
            (Status::Unreachable, format!("the connection was closed ({text})"))
        }
        _ => (Status::Unreachable, text),
    }
}

/// A duration as a reason shows it: `2s`, `1.5s`.
fn secs(d: Duration) -> String {
    let ms = d.as_millis();
    if ms.is_multiple_of(1000) {
        format!("{}s", ms / 1000)
    } else {
        format!("{:.1}s", d.as_secs_f64())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn shown(challenges: &[Challenge]) -> String {
        challenges
            .iter()
            .map(|c| {
                let params: Vec<String> = c.params.iter().map(|(n, v)| format!("{n}={v:?}")).collect();
                format!("{} [{}]", c.scheme, params.join(" "))
            })
            .collect::<Vec<_>>()
            .join(" | ")
    }

    /// The challenges of distribution, Docker Hub, ACR, GCR, Quay and `JFrog`, and RFC 7235's
    /// harder corners: commas and escaped quotes inside quotes, several challenges in one
    /// header, token68, odd spacing and case.
    #[test]
    fn challenges_are_parsed_as_rfc_7235_writes_them() {
        let cases = [
            r#"Bearer realm="https://auth.docker.io/token",service="registry.docker.io""#,
            r#"Bearer realm="https://auth.docker.io/token",service="registry.docker.io",scope="repository:library/nginx:pull""#,
            r#"Basic realm="Registry Realm""#,
            r#"Bearer realm="https://x.azurecr.io/oauth2/token",service="x.azurecr.io""#,
            r#"Bearer realm="https://gcr.io/v2/token",service="gcr.io""#,
            r#"Bearer realm="https://quay.io/v2/auth",service="quay.io""#,
            r#"Bearer realm="https://x.jfrog.io/artifactory/api/docker/docker-local/v2/token",service="x.jfrog.io""#,
            r#"Bearer realm="https://a/token",service="a",scope="repository:x:pull,push repository:y:pull",error="insufficient_scope""#,
            r#"bearer REALM="https://a/t?x=1,2" , Service = svc"#,
            r#"Basic realm="say \"hi\", then go", Bearer realm="https://b/t",service="b""#,
            r#"Negotiate abc123==, Basic realm="r""#,
            "Basic",
            r#"Bearer realm="unterminated"#,
            "",
        ];
        let out: Vec<String> = cases.iter().map(|c| shown(&parse_challenges(c))).collect();
        insta::assert_snapshot!(out.join("\n"), @r#"
        bearer [realm="https://auth.docker.io/token" service="registry.docker.io"]
        bearer [realm="https://auth.docker.io/token" service="registry.docker.io" scope="repository:library/nginx:pull"]
        basic [realm="Registry Realm"]
        bearer [realm="https://x.azurecr.io/oauth2/token" service="x.azurecr.io"]
        bearer [realm="https://gcr.io/v2/token" service="gcr.io"]
        bearer [realm="https://quay.io/v2/auth" service="quay.io"]
        bearer [realm="https://x.jfrog.io/artifactory/api/docker/docker-local/v2/token" service="x.jfrog.io"]
        bearer [realm="https://a/token" service="a" scope="repository:x:pull,push repository:y:pull" error="insufficient_scope"]
        bearer [realm="https://a/t?x=1,2" service="svc"]
        basic [realm="say \"hi\", then go"] | bearer [realm="https://b/t" service="b"]
        negotiate [="abc123=="] | basic [realm="r"]
        basic []
        bearer []
        "#);
    }

    #[test]
    fn endpoints_are_on_the_host() {
        let e = |s: &str| Endpoint::for_server(s, false).unwrap();
        assert_eq!(e("docker.io").base(), "https://registry-1.docker.io");
        assert_eq!(e("docker.io").repository_path("nginx"), "library/nginx");
        assert_eq!(e("docker.io").repository_path("acme/web"), "acme/web");
        assert_eq!(
            e("jfrog.example.com/docker-local").base(),
            "https://jfrog.example.com"
        );
        assert_eq!(
            e("jfrog.example.com/docker-local").repository_path("app"),
            "docker-local/app"
        );
        assert_eq!(e("quay.io/acme").repository_path("web"), "acme/web");
        assert_eq!(
            e("registry.example.com:5000").base(),
            "https://registry.example.com:5000"
        );
        assert!(e("127.0.0.1:5000").plain_http_allowed);
        assert!(e("localhost:5000").plain_http_allowed);
        assert!(e("127.9.9.9").plain_http_allowed);
        assert!(!e("registry.example.com").plain_http_allowed);
        assert!(
            Endpoint::for_server("registry.example.com", true)
                .unwrap()
                .plain_http_allowed
        );
        let errors = [
            Endpoint::for_server("*.example.com", false)
                .unwrap_err()
                .to_string(),
            Endpoint::for_server("u:p@example.com", false)
                .unwrap_err()
                .to_string(),
        ];
        insta::assert_snapshot!(errors.join("\n"), @r"
        the server *.example.com is a glob; only a single host can be checked
        the server u:p@example.com is not host[:port][/path]
        ");
    }

    #[test]
    fn urls_are_shown_without_userinfo_or_query() {
        assert_eq!(
            shown_url("https://u:p@auth.example.com/token?account=u&x=y"),
            "https://auth.example.com/token"
        );
        assert_eq!(shown_url("http://127.0.0.1:5/t#frag"), "http://127.0.0.1:5/t");
        assert_eq!(shown_url("https://a.example/"), "https://a.example");
        assert_eq!(shown_url("https://a.example/v2/"), "https://a.example/v2/");
        assert_eq!(
            shown_url("https://a.example/Basic%20YWxpY2U6cA%3d%3D/%zz%4"),
            "\"https://a.example/Basic YWxpY2U6cA==/%zz%4\""
        );
    }

    #[test]
    fn token_queries_are_form_encoded() {
        let url = with_query(
            "https://auth.docker.io/token",
            &[
                ("service", "registry.docker.io".to_owned()),
                ("scope", "repository:library/nginx:pull".to_owned()),
            ],
        );
        assert_eq!(
            url,
            "https://auth.docker.io/token?service=registry.docker.io&scope=repository%3Alibrary%2Fnginx%3Apull"
        );
        assert_eq!(
            with_query("https://a/t?x=1", &[("service", "s".to_owned())]),
            "https://a/t?x=1&service=s"
        );
    }

    #[test]
    fn credentials_never_show_in_debug() {
        let c = Credentials::new(SecretString::from("robot"), SecretString::from("hunter22"));
        let text = format!("{c:?}");
        assert!(!text.contains("robot") && !text.contains("hunter22"), "{text}");
    }

    proptest::proptest! {
        /// Any header value parses without a panic.
        #[test]
        fn any_header_parses(text in ".*") {
            let _ = parse_challenges(&text);
        }
    }
}
