//! `mcr`: the Microsoft Container Registry, `mcr.microsoft.com`, which serves its images
//! anonymously. Without credentials nothing is emitted (like public Docker Hub): references
//! still resolve and are policy-checked. A username and password, if given (a mirror or proxy
//! in front of it that asks for them), must come together and make a pull secret as any
//! registry's.
//!
//! This provider must not accept another host.

use super::{BASIC_FIELDS, Credentials, Field, Input, Provider};
use crate::reference::Server;

const HOST: &str = "mcr.microsoft.com";

/// The MCR provider.
pub(super) struct Mcr;

impl Provider for Mcr {
    fn default_server(&self) -> Option<&'static str> {
        Some(HOST)
    }

    fn fields(&self) -> &'static [Field] {
        BASIC_FIELDS
    }

    fn check_server(&self, server: &Server) -> Result<(), String> {
        if server.host() == HOST && server.port().is_none() {
            Ok(())
        } else {
            Err(format!(
                "must be {HOST} (the default), with an optional path; another registry takes its own type"
            ))
        }
    }

    fn credentials(&self, _server: Option<&Server>, input: &mut Input) -> Option<Credentials> {
        if input.has("username") || input.has("password") {
            return input.basic().map(Credentials::Basic);
        }
        input.refuse(
            &["email"],
            "is only used with username and password (MCR pulls are anonymous without them)",
        );
        (!input.failed()).then_some(Credentials::Anonymous)
    }
}
