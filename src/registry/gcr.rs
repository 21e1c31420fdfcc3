//! `gcr`: Google Container Registry (`gcr.io`, `us.gcr.io`, `eu.gcr.io`, `asia.gcr.io`) and
//! Artifact Registry (`<location>-docker.pkg.dev`), each with an optional path such as
//! `/<project>`, authenticated with a service-account JSON key: the username is `_json_key`
//! (it may be left out), the password the key file's content, stored in the catalog as a
//! block scalar (`password: |`) or as a one-line JSON string. The key must parse as JSON with
//! `"type": "service_account"`; the `auth` field is base64 of `_json_key:` and the key's bytes
//! exactly as stored.
//!
//! This provider must not accept another username: `oauth2accesstoken` takes access tokens
//! that expire within the hour, and `_json_key_base64` a second encoding of the same key.
//! The parsed key is scrubbed before it is dropped, and no message quotes any of it.

use secrecy::{ExposeSecret, SecretString};
use zeroize::Zeroize as _;

use super::{BASIC_FIELDS, Basic, Credentials, Field, Input, Provider};
use crate::reference::Server;

/// Google's username for a service-account JSON key.
pub(crate) const JSON_KEY_USER: &str = "_json_key";

/// The Container Registry hosts.
const GCR_HOSTS: [&str; 4] = ["gcr.io", "us.gcr.io", "eu.gcr.io", "asia.gcr.io"];

/// The GCR and Artifact Registry provider.
pub(super) struct Gcr;

impl Provider for Gcr {
    fn fields(&self) -> &'static [Field] {
        BASIC_FIELDS
    }

    fn check_server(&self, server: &Server) -> Result<(), String> {
        let host = server.host();
        let artifact_registry = host.strip_suffix("-docker.pkg.dev").is_some_and(is_location);
        if server.port().is_none() && (GCR_HOSTS.contains(&host) || artifact_registry) {
            Ok(())
        } else {
            Err("must be a Container Registry host (gcr.io, us.gcr.io, eu.gcr.io, asia.gcr.io) or an Artifact Registry host (<location>-docker.pkg.dev, such as europe-west1-docker.pkg.dev), with an optional path such as /<project>".to_owned())
        }
    }

    fn credentials(&self, _server: Option<&Server>, input: &mut Input) -> Option<Credentials> {
        let username = input.text("username", false);
        match username.as_deref().map(String::as_str) {
            None | Some(JSON_KEY_USER) => {}
            Some("oauth2accesstoken") => input.problem(
                "username",
                "must be _json_key: oauth2accesstoken takes an access token that expires within an hour, which a rendered secret outlives; store a service-account key",
            ),
            Some("_json_key_base64") => input.problem(
                "username",
                "must be _json_key: store the service-account key itself as the password, not its base64",
            ),
            Some(_) => input.problem(
                "username",
                "must be _json_key (Google's username for a service-account JSON key, which is the password), or left out",
            ),
        }
        let password = input.secret("password", true);
        if let Some(key) = &password
            && let Err(why) = check_key(key.expose_secret())
        {
            input.problem("password", why);
        }
        let email = input.text("email", false).map(|e| String::clone(&e));
        if input.failed() {
            return None;
        }
        Some(Credentials::Basic(Basic::new(
            SecretString::from(JSON_KEY_USER),
            password?,
            email,
        )))
    }
}

/// An Artifact Registry location: `us`, `europe`, `asia` or a region such as `europe-west1`.
fn is_location(location: &str) -> bool {
    super::is_lower_label(location)
        && location.bytes().next().is_some_and(|b| b.is_ascii_lowercase())
        && !location.contains("--")
}

/// Whether `key` is a service-account JSON key. The message says what is wrong with it by
/// position and field name only.
fn check_key(key: &str) -> Result<(), String> {
    let mut parsed: serde_json::Value = serde_json::from_str(key).map_err(|e| {
        format!(
            "is not a service-account JSON key: it does not parse as JSON (line {}, column {}); store the key file's content as a block scalar (`password: |`) or as a JSON string",
            e.line(),
            e.column()
        )
    })?;
    let ok = parsed.get("type").and_then(serde_json::Value::as_str) == Some("service_account");
    scrub(&mut parsed);
    if ok {
        Ok(())
    } else {
        Err("is not a service-account JSON key: its \"type\" is not \"service_account\"".to_owned())
    }
}

/// Zeroizes every string of a parsed key (the private key among them) before it is dropped.
fn scrub(value: &mut serde_json::Value) {
    match value {
        serde_json::Value::String(s) => s.zeroize(),
        serde_json::Value::Array(items) => items.iter_mut().for_each(scrub),
        serde_json::Value::Object(map) => map.values_mut().for_each(scrub),
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn locations() {
        for ok in [
            "us",
            "europe",
            "europe-west1",
            "northamerica-northeast1",
            "me-central2",
        ] {
            assert!(is_location(ok), "{ok}");
        }
        for bad in ["", "-us", "us-", "US", "1us", "us--east1", "us_east1"] {
            assert!(!is_location(bad), "{bad}");
        }
    }

    #[test]
    fn keys() {
        assert!(check_key("{\"type\": \"service_account\", \"private_key\": \"-----BEGIN\\nx\"}\n").is_ok());
        insta::assert_snapshot!(check_key("{\"type\": \"authorized_user\"}").unwrap_err(), @r#"is not a service-account JSON key: its "type" is not "service_account""#);
        insta::assert_snapshot!(check_key("[]").unwrap_err(), @r#"is not a service-account JSON key: its "type" is not "service_account""#);
        insta::assert_snapshot!(check_key("{\"type\": \"service_account\",\n  hunter2").unwrap_err(), @"is not a service-account JSON key: it does not parse as JSON (line 2, column 3); store the key file's content as a block scalar (`password: |`) or as a JSON string");
    }
}
