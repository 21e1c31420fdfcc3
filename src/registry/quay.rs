//! `quay`: Quay.io or a self-hosted Red Hat Quay (any server), with a robot account: the
//! username is `<org>+<name>` (the organisation or user that owns the robot, `+`, the robot's
//! short name), the password its token.
//!
//! This provider must not accept another username shape: a Quay user's own password in a
//! catalog shared by a fleet is what robot accounts exist to avoid.

use secrecy::ExposeSecret;

use super::{BASIC_FIELDS, Credentials, Field, Input, Provider};
use crate::reference::Server;

/// The Quay provider.
pub(super) struct Quay;

impl Provider for Quay {
    fn fields(&self) -> &'static [Field] {
        BASIC_FIELDS
    }

    fn credentials(&self, _server: Option<&Server>, input: &mut Input) -> Option<Credentials> {
        let basic = input.basic()?;
        if !is_robot(basic.username().expose_secret()) {
            input.problem(
                "username",
                "must be a Quay robot account, <org>+<name>: the organisation or user (lower-case letters, digits, '.', '_', '-'), '+', and the robot's name (lower-case letters, digits and '_', starting with a letter)",
            );
            return None;
        }
        Some(Credentials::Basic(basic))
    }
}

/// `org+name`: Quay's namespace rule for `org`, its robot short-name rule for `name`.
fn is_robot(username: &str) -> bool {
    let Some((org, name)) = username.split_once('+') else {
        return false;
    };
    let o = org.as_bytes();
    let n = name.as_bytes();
    let alnum = |c: &u8| c.is_ascii_lowercase() || c.is_ascii_digit();
    !o.is_empty()
        && o.iter().all(|c| alnum(c) || matches!(c, b'.' | b'_' | b'-'))
        && o.first().is_some_and(alnum)
        && o.last().is_some_and(alnum)
        && n.len() >= 2
        && n.first().is_some_and(u8::is_ascii_lowercase)
        && n.iter().all(|c| alnum(c) || *c == b'_')
}

#[cfg(test)]
mod tests {
    use super::is_robot;

    #[test]
    fn robot_accounts() {
        for ok in ["acme+deployer", "my-org.team+ci_bot", "user1+r2"] {
            assert!(is_robot(ok), "{ok}");
        }
        for bad in [
            "acme",
            "+deployer",
            "acme+",
            "Acme+deployer",
            "acme+Deployer",
            "acme+1bot",
            "acme+a",
            "acme+de+ployer",
            "-acme+bot",
        ] {
            assert!(!is_robot(bad), "{bad}");
        }
    }
}
