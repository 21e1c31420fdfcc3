//! `generic`, `system`, `nexus` and `artifactory`: any Docker Registry v2 with a username and a
//! password or token, Basic or Bearer-token auth alike (a token realm takes the same Basic
//! credentials). The server is required and may be anything the kubelet matches: a host with
//! an optional port, a path prefix (Artifactory's repository-path style,
//! `jfrog.example.com/docker-local`, or a Nexus repository behind a path) or its subdomain
//! style (`docker-local.jfrog.example.com`), and `*` globs per DNS label. The `auths` key is
//! the server as written, path included, which the kubelet matches to images under that
//! path only.
//!
//! This provider must not guess a product from the server: the four types differ only in
//! name, so that `validate` and the documentation can say which product a registry is.

use super::{BASIC_FIELDS, Credentials, Field, Input, Provider};
use crate::reference::Server;

/// The provider of the four username/password types.
pub(super) struct Generic;

impl Provider for Generic {
    fn fields(&self) -> &'static [Field] {
        BASIC_FIELDS
    }

    fn credentials(&self, _server: Option<&Server>, input: &mut Input) -> Option<Credentials> {
        input.basic().map(Credentials::Basic)
    }
}
