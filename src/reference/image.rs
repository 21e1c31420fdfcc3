//! Container image references and registry servers, matched the way the kubelet matches
//! pull-secret keys to images (`pkg/credentialprovider/keyring.go`).
//!
//! - An image is normalised as the kubelet's `parsers.ParseImageName` does (distribution's
//!   `ParseNormalizedNamed`): `nginx` is `docker.io/library/nginx`, `index.docker.io` is
//!   `docker.io`, and the first component is a host when it holds a `.` or `:`, is
//!   `localhost` or has an upper-case letter. Host names keep their case, as the kubelet's
//!   `url.Parse` does: `Quay.IO` is not `quay.io`, and `registry-1.docker.io` is not Docker Hub.
//! - A key matches (`URLsMatch`) when the ports are equal, the hosts have as many labels and
//!   each label matches (`filepath.Match`: `*` never crosses a `.`, case matters), and the
//!   key's path prefixes the image's path. The kubelet compares paths as strings
//!   (`quay.io/acme` would be offered to `quay.io/acmex/app`); pullseal asks more and matches
//!   whole path components, so it never claims that a registry serves a neighbour's images.
//! - Docker Hub's key (`https://index.docker.io/v1/`, stored as `index.docker.io`) matches no
//!   image by `URLsMatch`; the kubelet offers it to images for which `isDefaultRegistryMatch`
//!   holds. pullseal takes only those that normalise to `docker.io`.

use std::fmt;
use std::str::FromStr;

use super::ReferenceError;

/// The registry host Docker Hub images normalise to.
pub const DOCKER_HUB: &str = "docker.io";
/// The host distribution's reference library rewrites to [`DOCKER_HUB`].
const LEGACY_DOCKER_HUB: &str = "index.docker.io";

/// Where an image is pulled from: its name as the kubelet looks it up.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Image {
    /// Host with optional `:port`, as written (the kubelet keeps its case); Docker Hub is
    /// `docker.io`.
    pub host: String,
    /// Repository path without tag or digest, e.g. `library/nginx`.
    pub path: String,
}

impl FromStr for Image {
    type Err = ReferenceError;

    fn from_str(reference: &str) -> Result<Self, Self::Err> {
        let invalid = || ReferenceError::InvalidImage {
            image: reference.to_owned(),
        };
        let (name, digest) = match reference.split_once('@') {
            Some((name, digest)) => (name, Some(digest)),
            None => (reference, None),
        };
        if digest.is_some_and(|d| !is_digest(d)) {
            return Err(invalid());
        }
        // A tag follows a `:` after the last `/`.
        let last_slash = name.rfind('/').map_or(0, |i| i + 1);
        let (name, tag) = match name.get(last_slash..).and_then(|last| last.rfind(':')) {
            Some(colon) => (
                name.get(..last_slash + colon).unwrap_or(""),
                name.get(last_slash + colon + 1..),
            ),
            None => (name, None),
        };
        if tag.is_some_and(|t| !is_tag(t)) {
            return Err(invalid());
        }
        // distribution's splitDockerDomain.
        let (host, path) = match name.split_once('/') {
            Some((first, rest))
                if first.contains(['.', ':']) || first == "localhost" || first.to_lowercase() != first =>
            {
                (first, rest.to_owned())
            }
            _ => (DOCKER_HUB, name.to_owned()),
        };
        let host = if host == LEGACY_DOCKER_HUB {
            DOCKER_HUB
        } else {
            host
        };
        let path = if host == DOCKER_HUB && !path.contains('/') {
            format!("library/{path}")
        } else {
            path
        };
        // distribution's 255-character limit holds for the normalised name (`ParseNormalizedNamed`
        // parses `domain + "/" + remainder`): `nginx` counts as `docker.io/library/nginx`.
        if !is_host(host) || !path.split('/').all(is_path_component) || host.len() + 1 + path.len() > 255 {
            return Err(invalid());
        }
        Ok(Image {
            host: host.to_owned(),
            path,
        })
    }
}

/// A path component: `[a-z0-9]+(?:(?:[._]|__|[-]+)[a-z0-9]+)*`.
fn is_path_component(c: &str) -> bool {
    let b = c.as_bytes();
    let alnum = |x: &u8| x.is_ascii_lowercase() || x.is_ascii_digit();
    if !b.first().is_some_and(alnum) || !b.last().is_some_and(alnum) {
        return false;
    }
    let mut i = 0;
    while i < b.len() {
        if b.get(i).is_some_and(alnum) {
            i += 1;
            continue;
        }
        // A separator: `.`, `_`, `__` or any run of `-`, between alphanumerics.
        let start = i;
        while b.get(i).is_some_and(|x| matches!(x, b'.' | b'_' | b'-')) {
            i += 1;
        }
        let sep = c.get(start..i).unwrap_or("");
        if sep.is_empty() || !(sep == "." || sep == "_" || sep == "__" || sep.bytes().all(|x| x == b'-')) {
            return false;
        }
    }
    true
}

/// A registry host: DNS-ish labels (letters of either case, digits, inner `-`) or a bracketed
/// IPv6 address, with an optional numeric port.
fn is_host(host: &str) -> bool {
    let (name, port) = match host.rsplit_once(':') {
        Some((n, p)) if !n.ends_with(':') && (!n.starts_with('[') || n.ends_with(']')) => (n, Some(p)),
        _ => (host, None),
    };
    if port.is_some_and(|p| p.is_empty() || !p.bytes().all(|b| b.is_ascii_digit())) {
        return false;
    }
    if let Some(v6) = name.strip_prefix('[').and_then(|n| n.strip_suffix(']')) {
        return !v6.is_empty() && v6.bytes().all(|b| b.is_ascii_hexdigit() || b == b':');
    }
    !name.is_empty()
        && name.split('.').all(|label| {
            let b = label.as_bytes();
            !b.is_empty()
                && b.iter().all(|x| x.is_ascii_alphanumeric() || *x == b'-')
                && b.first().is_some_and(u8::is_ascii_alphanumeric)
                && b.last().is_some_and(u8::is_ascii_alphanumeric)
        })
}

/// A tag: `[\w][\w.-]{0,127}`.
fn is_tag(tag: &str) -> bool {
    let word = |b: u8| b.is_ascii_alphanumeric() || b == b'_';
    tag.len() <= 128
        && tag.bytes().next().is_some_and(word)
        && tag.bytes().all(|b| word(b) || b == b'.' || b == b'-')
}

/// A digest: `algorithm:hex` with at least 32 hex digits.
fn is_digest(digest: &str) -> bool {
    let Some((algorithm, hex)) = digest.split_once(':') else {
        return false;
    };
    let b = algorithm.as_bytes();
    b.first().is_some_and(u8::is_ascii_alphabetic)
        && b.iter()
            .all(|x| x.is_ascii_alphanumeric() || matches!(x, b'-' | b'_' | b'+' | b'.'))
        && hex.len() >= 32
        && hex.bytes().all(|x| x.is_ascii_hexdigit())
}

impl fmt::Display for Image {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.host, self.path)
    }
}

/// A catalog server: `host[:port][/path-prefix]`, where host labels may be `*` globs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Server {
    host: String,
    port: Option<String>,
    path: String,
}

impl FromStr for Server {
    type Err = ReferenceError;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let invalid = |why: &str| ReferenceError::InvalidServer {
            server: text.to_owned(),
            why: why.to_owned(),
        };
        let bare = text
            .strip_prefix("https://")
            .or_else(|| text.strip_prefix("http://"))
            .unwrap_or(text);
        let bare = bare.trim_end_matches('/');
        let (hostport, path) = bare.split_once('/').unwrap_or((bare, ""));
        // The kubelet drops one leading `/v1/` or `/v2/` from keys (`keyring.go` `Add`).
        let api_version = |p: &str| p == "v1" || p == "v2";
        let path = match path.split_once('/') {
            Some((first, rest)) if api_version(first) => rest,
            None if api_version(path) => "",
            _ => path,
        };
        if path.split('/').next().is_some_and(api_version) {
            return Err(invalid(
                "a path may not start with v1 or v2 twice (the kubelet drops only one)",
            ));
        }
        let (host, port) = match hostport.rsplit_once(':') {
            Some((h, p)) if !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()) => (h, Some(p.to_owned())),
            Some(_) => return Err(invalid("the port is not a number")),
            None => (hostport, None),
        };
        if host.is_empty() || host.split('.').any(str::is_empty) {
            return Err(invalid("the host is empty or has an empty label"));
        }
        if !host
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'-' | b'*'))
        {
            return Err(invalid(
                "the host may hold only letters, digits, '.', '-' and '*'",
            ));
        }
        if path.split('/').any(str::is_empty) && !path.is_empty() {
            return Err(invalid("the path has an empty component"));
        }
        // The path prefixes image paths: anything else serves no image, and a server is named
        // in diagnostics, where a control character from a hostile catalog must not go.
        if !path.is_empty() && !path.split('/').all(is_path_component) {
            return Err(invalid(
                "the path must be a repository path (lower-case letters and digits, with '.', '_', '__' or '-' between them)",
            ));
        }
        // The kubelet keeps the case of a key's host, and only `index.docker.io` is Docker Hub.
        let host = if host == LEGACY_DOCKER_HUB {
            DOCKER_HUB
        } else {
            host
        };
        Ok(Server {
            host: host.to_owned(),
            port,
            path: path.to_owned(),
        })
    }
}

impl fmt::Display for Server {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.host)?;
        if let Some(port) = &self.port {
            write!(f, ":{port}")?;
        }
        if !self.path.is_empty() {
            write!(f, "/{}", self.path)?;
        }
        Ok(())
    }
}

impl Server {
    /// The host, as written (its case kept); `*` may stand for any part of one label.
    pub fn host(&self) -> &str {
        &self.host
    }

    /// The port, when one is given.
    pub fn port(&self) -> Option<&str> {
        self.port.as_deref()
    }

    /// The path prefix without a leading `/` (`""` for none).
    pub fn path(&self) -> &str {
        &self.path
    }

    /// Whether the host holds a `*` glob: such a server stands for many hosts, and cannot be
    /// contacted as one (a live check has no single host to ask).
    pub fn has_glob(&self) -> bool {
        self.host.contains('*')
    }

    /// Whether this is Docker Hub.
    pub fn is_docker_hub(&self) -> bool {
        self.host == DOCKER_HUB && self.port.is_none()
    }

    /// How specific a match is: longer path prefixes win.
    pub fn specificity(&self) -> usize {
        if self.path.is_empty() {
            0
        } else {
            self.path.split('/').count()
        }
    }

    /// Whether the kubelet would offer a credential stored under this server for `image`,
    /// with path prefixes matched on whole components.
    pub fn matches(&self, image: &Image) -> bool {
        if self.is_docker_hub() {
            // Stored as `index.docker.io`; offered by `isDefaultRegistryMatch`.
            return image.host == DOCKER_HUB && self.path_matches(image);
        }
        let (image_host, image_port) = match image.host.rsplit_once(':') {
            Some((h, p)) => (h, Some(p)),
            None => (image.host.as_str(), None),
        };
        if self.port.as_deref() != image_port {
            return false;
        }
        let ours: Vec<&str> = self.host.split('.').collect();
        let theirs: Vec<&str> = image_host.split('.').collect();
        if ours.len() != theirs.len() || !ours.iter().zip(&theirs).all(|(p, l)| label_matches(p, l)) {
            return false;
        }
        self.path_matches(image)
    }

    fn path_matches(&self, image: &Image) -> bool {
        self.path.is_empty()
            || image.path == self.path
            || image
                .path
                .strip_prefix(&self.path)
                .is_some_and(|rest| rest.starts_with('/'))
    }
}

/// `filepath.Match` on one host label, for the `*` wildcard kubelet keys use. Greedy with
/// one backtrack point, as Go's matcher works: linear in practice and never exponential, however
/// many stars a catalog writes.
fn label_matches(pattern: &str, label: &str) -> bool {
    let (p, l) = (pattern.as_bytes(), label.as_bytes());
    let (mut pi, mut li) = (0, 0);
    // The last star seen, and where in the label its match would restart.
    let mut star: Option<(usize, usize)> = None;
    while li < l.len() {
        match p.get(pi) {
            Some(b'*') => {
                star = Some((pi, li));
                pi += 1;
            }
            Some(&c) if l.get(li) == Some(&c) => {
                pi += 1;
                li += 1;
            }
            _ => match star {
                Some((sp, sl)) => {
                    // Let the last star take one more byte and try again.
                    pi = sp + 1;
                    li = sl + 1;
                    star = Some((sp, sl + 1));
                }
                None => return false,
            },
        }
    }
    p.get(pi..).is_some_and(|rest| rest.iter().all(|&c| c == b'*'))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn image(s: &str) -> String {
        s.parse::<Image>().unwrap().to_string()
    }

    #[test]
    fn normalises_like_docker() {
        assert_eq!(image("nginx"), "docker.io/library/nginx");
        assert_eq!(image("nginx:1.27"), "docker.io/library/nginx");
        assert_eq!(
            image("bitnami/redis:7@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"),
            "docker.io/bitnami/redis"
        );
        assert_eq!(image("[::1]:5000/x"), "[::1]:5000/x");
        assert_eq!(image("index.docker.io/library/nginx"), "docker.io/library/nginx");
        assert_eq!(
            image("registry.example.com:5000/shop/web:1.4.2"),
            "registry.example.com:5000/shop/web"
        );
        assert_eq!(image("localhost/x"), "localhost/x");
        assert_eq!(image("Quay.IO/acme/app"), "Quay.IO/acme/app");
        assert_eq!(image("MyHost/app"), "MyHost/app");
        assert_eq!(
            image("registry-1.docker.io/library/nginx"),
            "registry-1.docker.io/library/nginx"
        );
    }

    #[test]
    fn rejects_garbage_images() {
        let err = "a b".parse::<Image>().unwrap_err();
        insta::assert_snapshot!(err, @r#"image "a b" is not a valid image reference"#);
        assert!("x//y".parse::<Image>().is_err());
        assert!("".parse::<Image>().is_err());
        assert!(
            "quay.io/Acme/app".parse::<Image>().is_err(),
            "paths are lower-case"
        );
        assert!("nginx:".parse::<Image>().is_err());
        assert!("nginx@sha256:abc".parse::<Image>().is_err());
        assert!("a--b/c__d/e.f:1.0-x".parse::<Image>().is_ok());
        assert!("a..b".parse::<Image>().is_err());
    }

    /// The limit is on the normalised name, as the kubelet counts it. Found by the `reference`
    /// fuzz target: a name short enough as written printed as one too long to read back.
    #[test]
    fn the_length_limit_counts_the_normalised_name() {
        let path = |len: usize| "a".repeat(len);
        // docker.io/library/ is 18 characters.
        assert!(path(237).parse::<Image>().is_ok());
        assert!(path(238).parse::<Image>().is_err());
        // index.docker.io/ becomes docker.io/: 6 characters fewer than written.
        assert!(
            format!("index.docker.io/x/{}", path(241))
                .parse::<Image>()
                .is_ok()
        );
        assert!(
            format!("registry.example.com/{}", path(234))
                .parse::<Image>()
                .is_ok()
        );
        assert!(
            format!("registry.example.com/{}", path(235))
                .parse::<Image>()
                .is_err()
        );
    }

    fn matches(server: &str, img: &str) -> bool {
        server.parse::<Server>().unwrap().matches(&img.parse().unwrap())
    }

    #[test]
    fn kubelet_matching() {
        assert!(matches(
            "registry.example.com:5000",
            "registry.example.com:5000/a/b:1"
        ));
        assert!(!matches("registry.example.com", "registry.example.com:5000/a/b"));
        assert!(matches("quay.io/acme", "quay.io/acme/app"));
        assert!(!matches("quay.io/acme", "quay.io/acmex/app"));
        assert!(matches(
            "*.dkr.ecr.*.amazonaws.com",
            "1234.dkr.ecr.eu-west-1.amazonaws.com/app"
        ));
        assert!(!matches("*.kubernetes.io", "kubernetes.io/x"));
        assert!(matches("prefix.*.io", "prefix.kubernetes.io/x"));
        assert!(matches("*-good.kubernetes.io", "prefix-good.kubernetes.io/x"));
        assert!(matches("docker.io", "nginx"));
        assert!(matches("https://index.docker.io/v1/", "nginx"));
    }

    #[test]
    fn globs_with_many_stars_stay_fast() {
        assert!(label_matches("a*b*c", "aXXbYYc"));
        assert!(!label_matches("a*b*c", "aXXbYY"));
        assert!(label_matches("*", ""));
        assert!(label_matches("**", "x"));
        assert!(!label_matches("x*", "y"));
        // Thirty stars against a long label: exponential backtracking would never finish.
        let pattern = format!("{}b", "*a".repeat(30));
        assert!(!label_matches(&pattern, &"a".repeat(200)));
    }

    #[test]
    fn api_version_prefixes() {
        assert_eq!(
            "https://index.docker.io/v1/"
                .parse::<Server>()
                .unwrap()
                .to_string(),
            "docker.io"
        );
        assert_eq!(
            "r.example.com/v2/team".parse::<Server>().unwrap().to_string(),
            "r.example.com/team"
        );
        // Found by the `reference` fuzz target: the printed server must parse back to itself.
        insta::assert_snapshot!("hO/v2/v2".parse::<Server>().unwrap_err(), @r#"server "hO/v2/v2" is not valid: a path may not start with v1 or v2 twice (the kubelet drops only one)"#);
    }

    #[test]
    fn server_errors() {
        let err = "reg.example.com:http".parse::<Server>().unwrap_err();
        insta::assert_snapshot!(err, @r#"server "reg.example.com:http" is not valid: the port is not a number"#);
    }

    /// A hostile catalog's server path: a control character would reach the terminal when
    /// the server is named in a diagnostic, and a path no image can have serves nothing.
    #[test]
    fn a_server_path_is_an_image_path() {
        for bad in [
            "reg.example.com/a\u{1b}[31m",
            "reg.example.com/a\nfake: line",
            "reg.example.com/a\"b",
            "reg.example.com/Team",
            "reg.example.com/a b",
            "reg.example.com/../x",
            "reg.example.com/a?x",
        ] {
            let err = bad.parse::<Server>().unwrap_err();
            assert!(
                err.to_string()
                    .ends_with("the path must be a repository path (lower-case letters and digits, with '.', '_', '__' or '-' between them)"),
                "{bad:?}: {err}"
            );
        }
        assert!(
            "jfrog.example.com/docker-local/team_a.b"
                .parse::<Server>()
                .is_ok()
        );
    }
}
