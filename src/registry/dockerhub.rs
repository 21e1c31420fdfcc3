//! `dockerhub`: Docker Hub, server `docker.io` (or `docker.io/<org>` to serve one
//! organisation's images), keyed `https://index.docker.io/v1/` as kubectl and Docker key it.
//! A username and a password or personal access token, or `public: true` for anonymous pulls:
//! then no secret is emitted and no `imagePullSecrets` entry added, while references still
//! resolve and are policy-checked.
//!
//! This provider must not accept another host: a Docker Hub credential keyed for Docker Hub
//! would never be offered to it.

use super::{Credentials, DOCKER_HUB_KEY, Field, Input, Provider, flag, text};
use crate::reference::Server;

/// The Docker Hub provider.
pub(super) struct DockerHub;

impl Provider for DockerHub {
    fn default_server(&self) -> Option<&'static str> {
        Some(crate::reference::DOCKER_HUB)
    }

    fn fields(&self) -> &'static [Field] {
        const FIELDS: &[Field] = &[text("username"), text("password"), text("email"), flag("public")];
        FIELDS
    }

    fn check_server(&self, server: &Server) -> Result<(), String> {
        if server.is_docker_hub() {
            Ok(())
        } else {
            Err(
                "must be Docker Hub: docker.io (the default), or docker.io/<org> for one organisation's images; another registry takes its own type"
                    .to_owned(),
            )
        }
    }

    fn credentials(&self, _server: Option<&Server>, input: &mut Input) -> Option<Credentials> {
        match (input.has("public"), input.flag("public")) {
            // Not a boolean (already reported): whether credentials are due is unknown.
            (true, None) => None,
            (_, Some(false) | None) => input.basic().map(Credentials::Basic),
            (_, Some(true)) => {
                input.refuse(
                    &["username", "password", "email"],
                    "is not used with public: true (anonymous pulls, no secret); leave it out",
                );
                (!input.failed()).then_some(Credentials::Anonymous)
            }
        }
    }

    fn auths_key(&self, _server: &Server) -> String {
        DOCKER_HUB_KEY.to_owned()
    }
}
