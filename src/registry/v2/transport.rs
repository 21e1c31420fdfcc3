//! How a check reaches its servers beyond their names: which roots it trusts (the Mozilla
//! roots compiled in, plus a private CA's from `--ca-file`) and where it connects
//! (`--connect-to HOST:PORT:HOST2:PORT2`, as curl's option: the connection goes to HOST2:PORT2
//! while the name HOST stays what TLS checks the certificate against, what SNI sends and what
//! the `Host` header says; for one node of a registry, a mirror, or a test replay).
//!
//! What this module must *not* do:
//! - read a file: the front-end reads `--ca-file` and hands its bytes to [`ca_certificates`];
//! - quote what a CA file holds: a problem names the kind of block and what is wrong with it,
//!   never its bytes (a file given by mistake may hold a private key);
//! - let an override widen where plain HTTP may go: a name counts as loopback only when the
//!   address it is connected to is loopback too ([`Transport::is_loopback`]), so
//!   `--connect-to 127.0.0.1:5000:registry.example.com:5000` sends nothing in the clear;
//! - weaken certificate checks: extra roots are added to the Mozilla roots, and only
//!   `--insecure` (in [`super::Endpoint`]) turns verification off.

use std::net::Ipv6Addr;
use std::str::FromStr;
use std::sync::Arc;

use ureq::config::Config;
use ureq::http::Uri;
use ureq::tls::{Certificate, PemItem, RootCerts};
use ureq::unversioned::resolver::{DefaultResolver, ResolvedSocketAddrs, Resolver};
use ureq::unversioned::transport::{DefaultConnector, NextTimeout};
use x509_cert::der::Decode as _;

/// Trusted roots and connection overrides, shared by every check of a run. The default trusts
/// the Mozilla roots and connects to every name where DNS says.
#[derive(Debug, Clone)]
pub struct Transport {
    roots: RootCerts,
    connect_to: Arc<Vec<ConnectTo>>,
}

impl Default for Transport {
    fn default() -> Transport {
        Transport {
            roots: RootCerts::WebPki,
            connect_to: Arc::new(Vec::new()),
        }
    }
}

impl Transport {
    /// The Mozilla roots plus `extra_roots` (none: the Mozilla roots alone), and the
    /// overrides, the first that matches a connection winning.
    pub fn new(extra_roots: Vec<Certificate<'static>>, connect_to: Vec<ConnectTo>) -> Transport {
        let roots = if extra_roots.is_empty() {
            RootCerts::WebPki
        } else {
            let mozilla = webpki_root_certs::TLS_SERVER_ROOT_CERTS
                .iter()
                .map(|der| Certificate::from_der(der.as_ref()));
            RootCerts::Specific(Arc::new(mozilla.chain(extra_roots).collect()))
        };
        Transport {
            roots,
            connect_to: Arc::new(connect_to),
        }
    }

    /// Where a connection to `host:port` goes: the override's address, or `None` for DNS.
    pub fn route(&self, host: &str, port: u16) -> Option<(String, u16)> {
        route(&self.connect_to, host, port)
    }

    /// Whether a connection to `host:port` stays on this machine: `host` is a loopback name or
    /// address ([`super::is_loopback`]), and so is the address an override sends it to.
    pub fn is_loopback(&self, host: &str, port: u16) -> bool {
        super::is_loopback(host)
            && self
                .route(host, port)
                .is_none_or(|(to, _)| super::is_loopback(&to))
    }

    /// The roots a TLS handshake trusts.
    pub(super) fn roots(&self) -> RootCerts {
        self.roots.clone()
    }

    /// Whether any override is given: then no proxy is used, as the override names the address
    /// to connect to.
    pub(super) fn overrides(&self) -> bool {
        !self.connect_to.is_empty()
    }

    /// An agent with `config` that connects as the overrides say.
    pub(super) fn agent(&self, config: Config) -> ureq::Agent {
        if self.connect_to.is_empty() {
            config.new_agent()
        } else {
            ureq::Agent::with_parts(
                config,
                DefaultConnector::new(),
                Routes(Arc::clone(&self.connect_to)),
            )
        }
    }
}

/// One `--connect-to HOST:PORT:HOST2:PORT2`: connections to HOST:PORT go to HOST2:PORT2. An
/// empty HOST or PORT matches any; an empty HOST2 or PORT2 keeps the connection's own. An IPv6
/// address is written in brackets (`[::1]`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConnectTo {
    host: Option<String>,
    port: Option<u16>,
    to_host: Option<String>,
    to_port: Option<u16>,
}

/// Why a `--connect-to` value cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{} is not HOST:PORT:HOST2:PORT2 ({why})", crate::error::shown(value))]
pub struct ConnectToError {
    /// The value given.
    pub value: String,
    /// What is wrong with it.
    pub why: &'static str,
}

impl FromStr for ConnectTo {
    type Err = ConnectToError;

    fn from_str(value: &str) -> Result<ConnectTo, ConnectToError> {
        let fail = |why| ConnectToError {
            value: value.to_owned(),
            why,
        };
        let fields = split_fields(value).ok_or_else(|| fail("a [ without its ], or text after one"))?;
        let [host, port, to_host, to_port] = fields.as_slice() else {
            return Err(fail("four fields separated by ':', any of them empty"));
        };
        let host_of = |(field, bracketed): (&str, bool)| -> Result<Option<String>, ConnectToError> {
            let ok = if bracketed {
                field.parse::<Ipv6Addr>().is_ok()
            } else {
                is_host(field)
            };
            if field.is_empty() && !bracketed {
                Ok(None)
            } else if ok {
                Ok(Some(field.to_ascii_lowercase()))
            } else {
                Err(fail(
                    "a host is a DNS name, an IPv4 address or a bracketed IPv6 address",
                ))
            }
        };
        let port_of = |(field, bracketed): (&str, bool)| -> Result<Option<u16>, ConnectToError> {
            if field.is_empty() && !bracketed {
                return Ok(None);
            }
            match field.parse::<u16>() {
                Ok(p) if p > 0 && !bracketed && field.bytes().all(|b| b.is_ascii_digit()) => Ok(Some(p)),
                _ => Err(fail("a port is a number from 1 to 65535")),
            }
        };
        Ok(ConnectTo {
            host: host_of(*host)?,
            port: port_of(*port)?,
            to_host: host_of(*to_host)?,
            to_port: port_of(*to_port)?,
        })
    }
}

/// `a:b:[v6]:d` split at the colons that are not inside brackets, each field with whether it
/// was bracketed (the brackets dropped).
fn split_fields(value: &str) -> Option<Vec<(&str, bool)>> {
    let mut out = Vec::new();
    let mut rest = value;
    loop {
        let (field, after) = if let Some(inner) = rest.strip_prefix('[') {
            inner.split_once(']').map(|(f, a)| ((f, true), a))?
        } else {
            let (f, a) = rest.find(':').map_or((rest, ""), |at| rest.split_at(at));
            ((f, false), a)
        };
        out.push(field);
        match after.strip_prefix(':') {
            Some(next) => rest = next,
            None if after.is_empty() => return Some(out),
            None => return None,
        }
    }
}

/// A DNS name or IPv4 address (letters, digits, `-`, `.`).
fn is_host(field: &str) -> bool {
    field.len() <= 253
        && field
            .split('.')
            .all(|label| !label.is_empty() && label.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-'))
}

fn route(rules: &[ConnectTo], host: &str, port: u16) -> Option<(String, u16)> {
    let host = host.trim_start_matches('[').trim_end_matches(']');
    rules
        .iter()
        .find(|r| {
            r.host.as_deref().is_none_or(|h| h.eq_ignore_ascii_case(host)) && r.port.is_none_or(|p| p == port)
        })
        .map(|r| {
            (
                r.to_host.clone().unwrap_or_else(|| host.to_ascii_lowercase()),
                r.to_port.unwrap_or(port),
            )
        })
}

/// The resolver of an agent with overrides: a matching connection resolves the override's
/// address, any other the name, both as ureq's own resolver does (with its timeout).
#[derive(Debug)]
struct Routes(Arc<Vec<ConnectTo>>);

impl Resolver for Routes {
    fn resolve(
        &self,
        uri: &Uri,
        config: &Config,
        timeout: NextTimeout,
    ) -> Result<ResolvedSocketAddrs, ureq::Error> {
        let scheme = uri.scheme_str().unwrap_or("https");
        let default_port = if scheme.eq_ignore_ascii_case("http") {
            80
        } else {
            443
        };
        let host = uri.host().unwrap_or_default();
        let port = uri.port_u16().unwrap_or(default_port);
        let Some((to_host, to_port)) = route(&self.0, host, port) else {
            return DefaultResolver::default().resolve(uri, config, timeout);
        };
        let authority = if to_host.contains(':') {
            format!("[{to_host}]:{to_port}")
        } else {
            format!("{to_host}:{to_port}")
        };
        let target: Uri = format!("{scheme}://{authority}/")
            .parse()
            .map_err(|_| ureq::Error::HostNotFound)?;
        DefaultResolver::default().resolve(&target, config, timeout)
    }
}

/// Why the content of a CA file cannot be trusted. The messages never quote it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CaFileError {
    /// A PEM block does not decode.
    #[error("is not PEM: a -----BEGIN/-----END block in it does not decode")]
    NotPem,
    /// No `CERTIFICATE` block at all (an empty file, DER, text).
    #[error("holds no PEM certificate (a -----BEGIN CERTIFICATE----- block)")]
    NoCertificate,
    /// A private key: the wrong file, and one that must not travel further.
    #[error("holds a private key; a CA file holds the CA's certificates only")]
    PrivateKey,
    /// A `CERTIFICATE` block that is not X.509.
    #[error("its certificate number {number} is not an X.509 certificate")]
    NotX509 {
        /// 1 for the file's first `CERTIFICATE` block.
        number: usize,
    },
}

/// The certificates of a PEM CA file (one or more `CERTIFICATE` blocks; text around them is
/// ignored, as in any CA bundle).
pub fn ca_certificates(pem: &[u8]) -> Result<Vec<Certificate<'static>>, CaFileError> {
    let mut certificates = Vec::new();
    for item in ureq::tls::parse_pem(pem) {
        match item.map_err(|_| CaFileError::NotPem)? {
            PemItem::Certificate(certificate) => {
                if x509_cert::Certificate::from_der(certificate.der()).is_err() {
                    return Err(CaFileError::NotX509 {
                        number: certificates.len() + 1,
                    });
                }
                certificates.push(certificate);
            }
            PemItem::PrivateKey(_) => return Err(CaFileError::PrivateKey),
            // Blocks of other kinds (a CRL, say) say nothing about trust.
            _ => {}
        }
    }
    if certificates.is_empty() {
        return Err(CaFileError::NoCertificate);
    }
    Ok(certificates)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rule(s: &str) -> Result<ConnectTo, String> {
        s.parse::<ConnectTo>().map_err(|e| e.to_string())
    }

    #[test]
    fn connect_to_values_are_read_as_curl_reads_them() {
        let rules: Vec<ConnectTo> = [
            "registry-1.docker.io:443:127.0.0.1:8443",
            "::[::1]:9000",
            "nexus.example.com::10.0.0.7:",
            "[::1]:5000:localhost:5001",
        ]
        .iter()
        .map(|s| rule(s).unwrap())
        .collect();
        let at = |host: &str, port| route(&rules, host, port);
        assert_eq!(
            at("REGISTRY-1.docker.io", 443),
            Some(("127.0.0.1".to_owned(), 8443))
        );
        // The first rule only takes port 443; the catch-all takes the rest.
        assert_eq!(at("registry-1.docker.io", 80), Some(("::1".to_owned(), 9000)));
        assert_eq!(at("anything.example", 1), Some(("::1".to_owned(), 9000)));
        let only_nexus = &rules[2..];
        assert_eq!(
            route(only_nexus, "nexus.example.com", 8443),
            Some(("10.0.0.7".to_owned(), 8443))
        );
        assert_eq!(
            route(only_nexus, "[::1]", 5000),
            Some(("localhost".to_owned(), 5001))
        );
        assert_eq!(route(only_nexus, "quay.io", 443), None);
        let errors: Vec<String> = [
            "a:1:b",
            "a:1:b:2:c",
            "a:0:b:2",
            "a:x:b:2",
            "a:+1:b:2",
            "a b:1:c:2",
            "[::1:1:b:2",
            "[::1]x:1:b:2",
            "a:1:[not-v6]:2",
        ]
        .iter()
        .map(|s| rule(s).unwrap_err())
        .collect();
        insta::assert_snapshot!(errors.join("\n"), @r#"
        a:1:b is not HOST:PORT:HOST2:PORT2 (four fields separated by ':', any of them empty)
        a:1:b:2:c is not HOST:PORT:HOST2:PORT2 (four fields separated by ':', any of them empty)
        a:0:b:2 is not HOST:PORT:HOST2:PORT2 (a port is a number from 1 to 65535)
        a:x:b:2 is not HOST:PORT:HOST2:PORT2 (a port is a number from 1 to 65535)
        a:+1:b:2 is not HOST:PORT:HOST2:PORT2 (a port is a number from 1 to 65535)
        "a b:1:c:2" is not HOST:PORT:HOST2:PORT2 (a host is a DNS name, an IPv4 address or a bracketed IPv6 address)
        "[::1:1:b:2" is not HOST:PORT:HOST2:PORT2 (a [ without its ], or text after one)
        "[::1]x:1:b:2" is not HOST:PORT:HOST2:PORT2 (a [ without its ], or text after one)
        "a:1:[not-v6]:2" is not HOST:PORT:HOST2:PORT2 (a host is a DNS name, an IPv4 address or a bracketed IPv6 address)
        "#);
    }

    /// An override never makes a connection loopback that is not: plain HTTP is allowed only
    /// where both the name and the address connected to are this machine.
    #[test]
    fn loopback_means_the_name_and_the_address() {
        let t = Transport::new(
            Vec::new(),
            vec![
                rule("127.0.0.1:5000:registry.example.com:5000").unwrap(),
                rule("localhost:5001:127.0.0.2:6000").unwrap(),
                rule("registry.example.com:443:127.0.0.1:8443").unwrap(),
            ],
        );
        assert!(!t.is_loopback("127.0.0.1", 5000));
        assert!(t.is_loopback("127.0.0.1", 5002));
        assert!(t.is_loopback("localhost", 5001));
        assert!(!t.is_loopback("registry.example.com", 443));
        assert!(Transport::default().is_loopback("[::1]", 80));
    }

    #[test]
    fn ca_files_are_read_without_quoting_them() {
        let problems: Vec<String> = [
            &b""[..],
            b"just some text\n",
            b"-----BEGIN CERTIFICATE-----\n!!!!\n-----END CERTIFICATE-----\n",
            b"-----BEGIN CERTIFICATE-----\naGVsbG8=\n-----END CERTIFICATE-----\n",
            b"-----BEGIN PRIVATE KEY-----\nMC4CAQAwBQYDK2VwBCIEIBQy6H0PG0Sj1NK7nmJQxYgPkVVPVixsWMCmcvWJp0Bb\n-----END PRIVATE KEY-----\n",
        ]
        .iter()
        .map(|pem| ca_certificates(pem).unwrap_err().to_string())
        .collect();
        insta::assert_snapshot!(problems.join("\n"), @r"
        holds no PEM certificate (a -----BEGIN CERTIFICATE----- block)
        holds no PEM certificate (a -----BEGIN CERTIFICATE----- block)
        is not PEM: a -----BEGIN/-----END block in it does not decode
        its certificate number 1 is not an X.509 certificate
        holds a private key; a CA file holds the CA's certificates only
        ");
        let cert = fs_err::read(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/testdata/keys/sealed-secrets-test.crt"
        ))
        .unwrap();
        assert_eq!(ca_certificates(&cert).unwrap().len(), 1);
    }
}
