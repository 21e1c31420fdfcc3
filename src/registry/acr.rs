//! `acr`: Azure Container Registry, server `<name>.azurecr.io` (`.azurecr.cn` in Azure China,
//! `.azurecr.us` in Azure Government; the name optionally followed by ACR's `-<hash>` domain
//! name label), with a service principal (its application id and a client secret) or a
//! repository-scoped token (its name and one of its passwords).
//!
//! This provider must not accept ACR's token-exchange user (the all-zero GUID): its refresh
//! tokens expire within hours, so a secret rendered from one would soon stop working.

use secrecy::ExposeSecret;

use super::{BASIC_FIELDS, Credentials, Field, Input, Provider};
use crate::reference::Server;

/// The username ACR gives AAD refresh tokens (`az acr login --expose-token`).
const TOKEN_EXCHANGE_USER: &str = "00000000-0000-0000-0000-000000000000";

/// The ACR provider.
pub(super) struct Acr;

impl Provider for Acr {
    fn fields(&self) -> &'static [Field] {
        BASIC_FIELDS
    }

    fn check_server(&self, server: &Server) -> Result<(), String> {
        let labels: Vec<&str> = server.host().split('.').collect();
        let ok = server.port().is_none()
            && matches!(labels.as_slice(), [name, "azurecr", "io" | "cn" | "us"] if is_registry_label(name));
        if ok {
            Ok(())
        } else {
            Err("must be an Azure Container Registry login server, <name>.azurecr.io (.azurecr.cn in Azure China, .azurecr.us in Azure Government), the name 5 to 50 lower-case letters and digits, with an optional path".to_owned())
        }
    }

    fn credentials(&self, _server: Option<&Server>, input: &mut Input) -> Option<Credentials> {
        let basic = input.basic()?;
        if basic.username().expose_secret() == TOKEN_EXCHANGE_USER {
            input.problem(
                "username",
                "is ACR's token-exchange user (the all-zero GUID), whose refresh tokens expire within hours; use a service principal (application id and secret) or a repository-scoped token",
            );
            return None;
        }
        Some(Credentials::Basic(basic))
    }
}

/// A registry name (5 to 50 lower-case letters and digits), optionally with the `-<hash>`
/// that ACR's domain name label scope adds.
fn is_registry_label(label: &str) -> bool {
    let (name, hash) = label.split_once('-').unwrap_or((label, "a"));
    let alnum = |s: &str| s.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit());
    (5..=50).contains(&name.len()) && alnum(name) && !hash.is_empty() && alnum(hash)
}
