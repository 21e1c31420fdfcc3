//! Container image references and registry servers, matched the way the kubelet matches
//! pull-secret keys to images (`pkg/credentialprovider/keyring.go`): the image is normalised
//! first (`nginx` is `docker.io/library/nginx`), host labels match one by one with `*` never
//! crossing a `.`, the port must be equal, and the server's path must prefix the image's path.

use std::fmt;
use std::str::FromStr;

use super::ReferenceError;

/// The registry host Docker Hub images normalise to.
pub const DOCKER_HUB: &str = "docker.io";

/// Where an image is pulled from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Image {
    /// Host with optional `:port`, lower-cased; Docker Hub is `docker.io`.
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
        let trimmed = reference.trim();
        if trimmed.is_empty() || trimmed.contains(char::is_whitespace) {
            return Err(invalid());
        }
        let without_digest = trimmed.split_once('@').map_or(trimmed, |(name, _)| name);
        let (first, rest) = match without_digest.split_once('/') {
            Some((first, rest)) => (first, Some(rest)),
            None => (without_digest, None),
        };
        let (host, remainder) = match rest {
            Some(rest) if first.contains(['.', ':']) || first == "localhost" => {
                (first.to_ascii_lowercase(), rest)
            }
            Some(_) | None => (DOCKER_HUB.to_owned(), without_digest),
        };
        // A tag follows the last `:` of the last path component.
        let path = match remainder.rsplit_once('/') {
            Some((dir, last)) => format!("{dir}/{}", last.split_once(':').map_or(last, |(n, _)| n)),
            None => remainder.split_once(':').map_or(remainder, |(n, _)| n).to_owned(),
        };
        if path.is_empty() || path.split('/').any(str::is_empty) {
            return Err(invalid());
        }
        let host = if host == "index.docker.io" || host == "registry-1.docker.io" {
            DOCKER_HUB.to_owned()
        } else {
            host
        };
        let path = if host == DOCKER_HUB && !path.contains('/') {
            format!("library/{path}")
        } else {
            path
        };
        Ok(Image { host, path })
    }
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
        let host = host.to_ascii_lowercase();
        let host = if host == "index.docker.io" || host == "registry-1.docker.io" {
            DOCKER_HUB.to_owned()
        } else {
            host
        };
        Ok(Server {
            host,
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

    /// Whether the kubelet would offer a credential stored under this server for `image`.
    pub fn matches(&self, image: &Image) -> bool {
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
        self.path.is_empty()
            || image.path == self.path
            || image
                .path
                .strip_prefix(&self.path)
                .is_some_and(|rest| rest.starts_with('/'))
    }
}

/// `filepath.Match` on one host label, for the `*` wildcard kubelet keys use.
fn label_matches(pattern: &str, label: &str) -> bool {
    match pattern.split_once('*') {
        None => pattern == label,
        Some((prefix, rest)) => {
            let Some(tail) = label.strip_prefix(prefix) else {
                return false;
            };
            (0..=tail.len())
                .any(|i| tail.is_char_boundary(i) && label_matches(rest, tail.get(i..).unwrap_or("")))
        }
    }
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
        assert_eq!(image("bitnami/redis:7@sha256:abc"), "docker.io/bitnami/redis");
        assert_eq!(image("index.docker.io/library/nginx"), "docker.io/library/nginx");
        assert_eq!(
            image("registry.example.com:5000/shop/web:1.4.2"),
            "registry.example.com:5000/shop/web"
        );
        assert_eq!(image("localhost/x"), "localhost/x");
        assert_eq!(image("Quay.IO/acme/app"), "quay.io/acme/app");
    }

    #[test]
    fn rejects_garbage_images() {
        let err = "a b".parse::<Image>().unwrap_err();
        insta::assert_snapshot!(err, @r#"image "a b" is not a valid image reference"#);
        assert!("x//y".parse::<Image>().is_err());
        assert!("".parse::<Image>().is_err());
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
}
