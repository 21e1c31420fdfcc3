//! References: how a workload names the registries it pulls from.
//!
//! The developer's interface is two annotations, read from the workload's metadata and from
//! its pod template's metadata:
//!
//! - `pullseal.io/registries: "company, quay-team"`: pod-wide; each container's image is
//!   matched to one of the listed registries by the registry's server;
//! - `registry.pullseal.io/<container-name>: company`: for one container (also init and
//!   ephemeral containers).
//!
//! This module parses and checks the grammar; it must not look anything up in the catalog.

mod image;

use std::collections::BTreeMap;
use std::fmt;
use std::str::FromStr;

use crate::error::quoted;

pub use image::{DOCKER_HUB, Image, Server};

/// The pod-wide annotation.
pub const REGISTRIES_ANNOTATION: &str = "pullseal.io/registries";
/// The prefix of per-container annotations; the container's name follows it.
pub const CONTAINER_ANNOTATION_PREFIX: &str = "registry.pullseal.io/";

/// A problem with a reference, carrying the offending text.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ReferenceError {
    /// A registry name that is not a DNS-1123 label.
    #[error(
        "registry name {} is not a DNS-1123 label (lower-case letters, digits and '-', at most 63)",
        quoted(name)
    )]
    InvalidName {
        /// The name as written.
        name: String,
    },
    /// The pod-wide annotation lists nothing.
    #[error("the annotation lists no registry")]
    Empty,
    /// The same registry listed twice.
    #[error("registry {} is listed twice", quoted(name))]
    Duplicate {
        /// The repeated name.
        name: String,
    },
    /// An image reference that cannot be parsed.
    #[error("image {} is not a valid image reference", quoted(image))]
    InvalidImage {
        /// The image as written.
        image: String,
    },
    /// A catalog server that cannot be parsed.
    #[error("server {} is not valid: {why}", quoted(server))]
    InvalidServer {
        /// The server as written.
        server: String,
        /// What is wrong with it.
        why: String,
    },
}

/// A registry's name in the catalog: a DNS-1123 label, so it can go into Secret names.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct RegistryName(String);

impl RegistryName {
    /// The name as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl FromStr for RegistryName {
    type Err = ReferenceError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        if is_dns_label(s) {
            Ok(RegistryName(s.to_owned()))
        } else {
            Err(ReferenceError::InvalidName { name: s.to_owned() })
        }
    }
}

impl fmt::Display for RegistryName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Whether `s` is a DNS-1123 label.
pub fn is_dns_label(s: &str) -> bool {
    let b = s.as_bytes();
    !b.is_empty()
        && b.len() <= 63
        && b.iter()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || *c == b'-')
        && b.first().is_some_and(u8::is_ascii_alphanumeric)
        && b.last().is_some_and(u8::is_ascii_alphanumeric)
}

/// Whether `s` is a DNS-1123 subdomain (what Secret names must be).
pub fn is_dns_subdomain(s: &str) -> bool {
    s.len() <= 253 && s.split('.').all(is_dns_label)
}

/// The registry list of the pod-wide annotation: comma-separated names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RegistryList(pub Vec<RegistryName>);

impl FromStr for RegistryList {
    type Err = ReferenceError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let mut names: Vec<RegistryName> = Vec::new();
        for part in s.split(',').map(str::trim).filter(|p| !p.is_empty()) {
            let name: RegistryName = part.parse()?;
            if names.contains(&name) {
                return Err(ReferenceError::Duplicate {
                    name: part.to_owned(),
                });
            }
            names.push(name);
        }
        if names.is_empty() {
            return Err(ReferenceError::Empty);
        }
        Ok(RegistryList(names))
    }
}

impl fmt::Display for RegistryList {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let names: Vec<&str> = self.0.iter().map(RegistryName::as_str).collect();
        f.write_str(&names.join(", "))
    }
}

/// The references of one pod, merged from the workload's and the template's annotations.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PodReferences {
    /// From `pullseal.io/registries`.
    pub pod_wide: Vec<RegistryName>,
    /// From `registry.pullseal.io/<container>`, by container name.
    pub per_container: BTreeMap<String, RegistryName>,
}

impl PodReferences {
    /// Whether the pod references nothing.
    pub fn is_empty(&self) -> bool {
        self.pod_wide.is_empty() && self.per_container.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn lists() {
        let l: RegistryList = " company,quay-team , ".parse().unwrap();
        assert_eq!(l.to_string(), "company, quay-team");
        insta::assert_snapshot!("a,,a".parse::<RegistryList>().unwrap_err(), @r#"registry "a" is listed twice"#);
        insta::assert_snapshot!(" , ".parse::<RegistryList>().unwrap_err(), @"the annotation lists no registry");
        insta::assert_snapshot!("Company".parse::<RegistryList>().unwrap_err(), @r#"registry name "Company" is not a DNS-1123 label (lower-case letters, digits and '-', at most 63)"#);
    }

    proptest! {
        #[test]
        fn list_display_parses_back(names in proptest::collection::btree_set("[a-z]([a-z0-9-]{0,10}[a-z0-9])?", 1..5)) {
            let list = RegistryList(names.iter().map(|n| n.parse().unwrap()).collect());
            let again: RegistryList = list.to_string().parse().unwrap();
            prop_assert_eq!(again, list);
        }

        #[test]
        fn parsers_never_panic(s in "\\PC{0,40}") {
            let _ = s.parse::<RegistryList>();
            let _ = s.parse::<Image>();
            let _ = s.parse::<Server>();
        }
    }
}
