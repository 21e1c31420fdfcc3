//! `ecr`: Amazon ECR. The server is one private registry,
//! `<account>.dkr.ecr.<region>.amazonaws.com` (`.amazonaws.com.cn` in the China regions,
//! `dkr.ecr-fips` for the FIPS endpoints), with an optional path; `region` must be the
//! server's. The credential is AWS keys (`accessKeyId`, `secretAccessKey`, optionally
//! `sessionToken`, and `roleArn` to assume), which are exchanged for a 12-hour registry token:
//! in the cluster by the External Secrets Operator (`refresh: external-secrets`, the default)
//! or by `pullseal render` itself (`refresh: token`).
//!
//! With `refresh: external-secrets`, `refreshInterval` (a Go duration such as `1h` or `30m`,
//! default `1h`) is how often the operator fetches a new token: it must be more than zero and
//! well under the token's 12 hours: `12h` or more is refused.
//!
//! This module parses and checks those settings into [`Ecr`]; it must not call AWS or build
//! any output from them (`render` builds the ESO objects, the token exchange is
//! [`super::ecr_token`]).
//! Glob servers are refused: the settings name one account and region.

use std::fmt;

use secrecy::SecretString;

use super::{Credentials, Field, Input, Provider, text};
use crate::reference::Server;

/// How an ECR registry's token is refreshed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EcrRefresh {
    /// In the cluster, by the External Secrets Operator's `ECRAuthorizationToken` generator
    /// (`external-secrets`, the default): rendered output never holds a token.
    ExternalSecrets,
    /// By `pullseal render`, which seals a fresh token (`token`): for pipelines that render and
    /// apply more often than every 12 hours.
    Token,
}

impl EcrRefresh {
    /// The catalog spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            EcrRefresh::ExternalSecrets => "external-secrets",
            EcrRefresh::Token => "token",
        }
    }
}

/// An ECR registry's settings, checked. `Debug` shows the region and the refresh mode only.
#[derive(Clone)]
pub struct Ecr {
    account: String,
    region: String,
    fips: bool,
    access_key_id: SecretString,
    secret_access_key: SecretString,
    session_token: Option<SecretString>,
    role_arn: Option<String>,
    refresh: EcrRefresh,
    refresh_interval: String,
}

impl fmt::Debug for Ecr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Ecr")
            .field("region", &self.region)
            .field("refresh", &self.refresh)
            .finish_non_exhaustive()
    }
}

impl Ecr {
    /// The 12-digit AWS account id of the server.
    pub fn account(&self) -> &str {
        &self.account
    }

    /// The region (the server's; `region` agrees with it).
    pub fn region(&self) -> &str {
        &self.region
    }

    /// Whether the server is a FIPS endpoint (`dkr.ecr-fips`).
    pub fn fips(&self) -> bool {
        self.fips
    }

    /// The AWS access key id.
    pub fn access_key_id(&self) -> &SecretString {
        &self.access_key_id
    }

    /// The AWS secret access key.
    pub fn secret_access_key(&self) -> &SecretString {
        &self.secret_access_key
    }

    /// The session token of temporary keys, if given.
    pub fn session_token(&self) -> Option<&SecretString> {
        self.session_token.as_ref()
    }

    /// The IAM role to assume through STS before asking for a token, if given.
    pub fn role_arn(&self) -> Option<&str> {
        self.role_arn.as_deref()
    }

    /// How the token is refreshed.
    pub fn refresh(&self) -> EcrRefresh {
        self.refresh
    }

    /// How often the External Secrets Operator fetches a new token (`refresh:
    /// external-secrets`): a Go duration as the catalog writes it, `1h` when it writes none;
    /// checked to be more than zero and less than 12 hours.
    pub fn refresh_interval(&self) -> &str {
        &self.refresh_interval
    }
}

#[cfg(test)]
impl Ecr {
    /// `123456789012.dkr.ecr.eu-west-1.amazonaws.com`'s settings with test keys, for tests of
    /// what is built from them.
    pub(crate) fn for_tests(
        session_token: Option<&str>,
        role_arn: Option<&str>,
        refresh_interval: &str,
    ) -> Ecr {
        Ecr {
            account: "123456789012".to_owned(),
            region: "eu-west-1".to_owned(),
            fips: false,
            access_key_id: SecretString::from("AKIATESTONLY00000000"),
            secret_access_key: SecretString::from("test-secret"),
            session_token: session_token.map(SecretString::from),
            role_arn: role_arn.map(str::to_owned),
            refresh: EcrRefresh::ExternalSecrets,
            refresh_interval: refresh_interval.to_owned(),
        }
    }
}

/// The `refreshInterval` used when the catalog gives none, as ESO's own default.
pub(crate) const DEFAULT_REFRESH_INTERVAL: &str = "1h";

/// ECR tokens last 12 hours; a refresh interval must be shorter.
const TOKEN_LIFETIME_SECONDS: u64 = 12 * 3600;

/// The length in seconds of a Go duration made of whole `h`, `m` and `s` parts, each at most
/// once and in that order (`1h`, `30m`, `1h30m`, `90s`); `None` for anything else. Fractions
/// and the sub-second units that Go also reads are refused: no useful interval needs them.
fn duration_seconds(text: &str) -> Option<u64> {
    let mut rest = text;
    let mut total: u64 = 0;
    let mut units = ['h', 'm', 's'].iter();
    if rest.is_empty() {
        return None;
    }
    while !rest.is_empty() {
        let digits = rest.bytes().take_while(u8::is_ascii_digit).count();
        let (number, after) = rest.split_at(digits);
        let unit = after.chars().next()?;
        let scale = loop {
            match units.next() {
                Some(&u) if u == unit => break Some(u),
                Some(_) => {}
                None => break None,
            }
        }?;
        if number.is_empty() || number.len() > 9 {
            return None;
        }
        let value: u64 = number.parse().ok()?;
        let seconds = match scale {
            'h' => value.checked_mul(3600)?,
            'm' => value.checked_mul(60)?,
            _ => value,
        };
        total = total.checked_add(seconds)?;
        rest = after.get(1..)?;
    }
    Some(total)
}

/// What an ECR server names.
#[derive(Debug, PartialEq, Eq)]
struct Endpoint {
    account: String,
    region: String,
    fips: bool,
}

/// `<account>.dkr.ecr[-fips].<region>.amazonaws.com[.cn]`, no port. China regions (`cn-`)
/// go with `.com.cn` and only with it; the FIPS endpoints exist outside China only.
fn endpoint(server: &Server) -> Option<Endpoint> {
    if server.port().is_some() {
        return None;
    }
    let labels: Vec<&str> = server.host().split('.').collect();
    let (account, api, region, china) = match labels.as_slice() {
        [account, "dkr", api, region, "amazonaws", "com"] => (account, api, region, false),
        [account, "dkr", api, region, "amazonaws", "com", "cn"] => (account, api, region, true),
        _ => return None,
    };
    let fips = match *api {
        "ecr" => false,
        "ecr-fips" => true,
        _ => return None,
    };
    let ok = account.len() == 12
        && account.bytes().all(|b| b.is_ascii_digit())
        && is_region(region)
        && region.starts_with("cn-") == china
        && !(fips && china);
    ok.then(|| Endpoint {
        account: (*account).to_owned(),
        region: (*region).to_owned(),
        fips,
    })
}

/// An AWS region name: `eu-west-1`, `us-gov-west-1`, `cn-north-1`, `ap-southeast-3`.
fn is_region(region: &str) -> bool {
    let parts: Vec<&str> = region.split('-').collect();
    let Some((number, words)) = parts.split_last() else {
        return false;
    };
    words.len() >= 2
        && words
            .iter()
            .all(|w| !w.is_empty() && w.bytes().all(|b| b.is_ascii_lowercase()))
        && !number.is_empty()
        && number.bytes().all(|b| b.is_ascii_digit())
}

/// The AWS partition a region is in, as ARNs name it.
fn partition(region: &str) -> &'static str {
    if region.starts_with("cn-") {
        "aws-cn"
    } else if region.starts_with("us-gov-") {
        "aws-us-gov"
    } else {
        "aws"
    }
}

/// `arn:<partition>:iam::<account>:role/<path/name>`.
fn is_role_arn(arn: &str, partition: &str) -> bool {
    let Some(rest) = arn
        .strip_prefix("arn:")
        .and_then(|r| r.strip_prefix(partition))
        .and_then(|r| r.strip_prefix(":iam::"))
    else {
        return false;
    };
    let Some((account, role)) = rest.split_once(":role/") else {
        return false;
    };
    account.len() == 12
        && account.bytes().all(|b| b.is_ascii_digit())
        && !role.is_empty()
        && !role.ends_with('/')
        && role
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"+=,.@_-/".contains(&b))
}

/// An access key id: 16 to 128 upper-case letters and digits (`AKIA…`, `ASIA…`).
fn is_access_key_id(id: &str) -> bool {
    (16..=128).contains(&id.len()) && id.bytes().all(|b| b.is_ascii_uppercase() || b.is_ascii_digit())
}

const SERVER_SHAPE: &str = "must be one ECR registry, <account>.dkr.ecr.<region>.amazonaws.com (.amazonaws.com.cn in the China regions, dkr.ecr-fips for a FIPS endpoint), the account 12 digits, no port, with an optional path";

/// The ECR provider.
pub(super) struct EcrProvider;

impl Provider for EcrProvider {
    fn fields(&self) -> &'static [Field] {
        const FIELDS: &[Field] = &[
            text("region"),
            text("accessKeyId"),
            text("secretAccessKey"),
            text("sessionToken"),
            text("roleArn"),
            text("refresh"),
            text("refreshInterval"),
        ];
        FIELDS
    }

    fn check_server(&self, server: &Server) -> Result<(), String> {
        endpoint(server)
            .map(|_| ())
            .ok_or_else(|| SERVER_SHAPE.to_owned())
    }

    fn credentials(&self, server: Option<&Server>, input: &mut Input) -> Option<Credentials> {
        let endpoint = server.and_then(endpoint);
        let region = input.text("region", true);
        if let (Some(region), Some(endpoint)) = (&region, &endpoint) {
            if **region != endpoint.region {
                input.problem(
                    "region",
                    "does not agree with the server's region (<account>.dkr.ecr.<region>.amazonaws.com): they must be the same",
                );
            }
        } else if region.as_deref().is_some_and(|r| !is_region(r)) {
            input.problem("region", "is not an AWS region (such as eu-west-1)");
        }
        let access_key_id = input.secret("accessKeyId", true);
        if access_key_id
            .as_ref()
            .is_some_and(|id| !is_access_key_id(secrecy::ExposeSecret::expose_secret(id)))
        {
            input.problem(
                "accessKeyId",
                "is not an AWS access key id (16 to 128 upper-case letters and digits, such as AKIA… or ASIA…)",
            );
        }
        let secret_access_key = input.secret("secretAccessKey", true);
        let session_token = input.secret("sessionToken", false);
        let role_arn = input.text("roleArn", false).map(|r| String::clone(&r));
        if let (Some(arn), Some(region)) = (&role_arn, &region)
            && !is_role_arn(arn, partition(region))
        {
            input.problem(
                    "roleArn",
                    "is not an IAM role ARN in the region's partition: arn:aws:iam::<account>:role/<name> (arn:aws-cn:… in China, arn:aws-us-gov:… in GovCloud)",
                );
        }
        let refresh = match input.text("refresh", false).as_deref().map(String::as_str) {
            None | Some("external-secrets") => Some(EcrRefresh::ExternalSecrets),
            Some("token") => Some(EcrRefresh::Token),
            Some(_) => {
                input.problem("refresh", "is not one of external-secrets | token");
                None
            }
        };
        let interval = input.text("refreshInterval", false);
        if let Some(interval) = &interval {
            if refresh == Some(EcrRefresh::Token) {
                input.problem(
                    "refreshInterval",
                    "applies only to refresh: external-secrets (with refresh: token, pullseal render makes the token)",
                );
            } else {
                match duration_seconds(interval) {
                    None => input.problem(
                        "refreshInterval",
                        "is not a duration of whole hours, minutes and seconds (such as 1h, 30m or 1h30m)",
                    ),
                    Some(0) => input.problem(
                        "refreshInterval",
                        "must be more than zero (0s would fetch one token, which expires after 12 hours)",
                    ),
                    Some(s) if s >= TOKEN_LIFETIME_SECONDS => input.problem(
                        "refreshInterval",
                        "must be well under 12h, the lifetime of an ECR token (the default is 1h)",
                    ),
                    Some(_) => {}
                }
            }
        }
        if input.failed() {
            return None;
        }
        let endpoint = endpoint?;
        Some(Credentials::Ecr(Ecr {
            account: endpoint.account,
            region: endpoint.region,
            fips: endpoint.fips,
            access_key_id: access_key_id?,
            secret_access_key: secret_access_key?,
            session_token,
            role_arn,
            refresh: refresh?,
            refresh_interval: interval
                .map_or_else(|| DEFAULT_REFRESH_INTERVAL.to_owned(), |i| String::clone(&i)),
        }))
    }

    /// ECR's `auths` key is its host: a path prefix narrows which images pullseal gives the
    /// registry, but the token opens the whole registry.
    fn auths_key(&self, server: &Server) -> String {
        server.host().to_owned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ep(s: &str) -> Option<Endpoint> {
        endpoint(&s.parse().unwrap())
    }

    #[test]
    fn servers() {
        assert_eq!(
            ep("123456789012.dkr.ecr.eu-west-1.amazonaws.com/team"),
            Some(Endpoint {
                account: "123456789012".to_owned(),
                region: "eu-west-1".to_owned(),
                fips: false
            })
        );
        assert!(ep("123456789012.dkr.ecr.cn-north-1.amazonaws.com.cn").is_some());
        assert!(ep("123456789012.dkr.ecr-fips.us-gov-west-1.amazonaws.com").is_some_and(|e| e.fips));
        for bad in [
            "123456789012.dkr.ecr.cn-north-1.amazonaws.com",
            "123456789012.dkr.ecr.eu-west-1.amazonaws.com.cn",
            "123456789012.dkr.ecr-fips.cn-north-1.amazonaws.com.cn",
            "12345.dkr.ecr.eu-west-1.amazonaws.com",
            "*.dkr.ecr.*.amazonaws.com",
            "123456789012.dkr.ecr.eu-west-1.amazonaws.com:443",
            "123456789012.dkr.ecr.europe.amazonaws.com",
            "public.ecr.aws",
        ] {
            assert!(ep(bad).is_none(), "{bad}");
        }
    }

    #[test]
    fn refresh_intervals() {
        assert_eq!(duration_seconds("1h"), Some(3600));
        assert_eq!(duration_seconds("1h30m"), Some(5400));
        assert_eq!(duration_seconds("11h59m59s"), Some(43_199));
        assert_eq!(duration_seconds("90s"), Some(90));
        assert_eq!(duration_seconds("12h"), Some(TOKEN_LIFETIME_SECONDS));
        for bad in [
            "",
            "1",
            "h",
            "1.5h",
            "30m1h",
            "1h1h",
            "1d",
            "-1h",
            "1ms",
            "1h ",
            "9999999999h",
        ] {
            assert_eq!(duration_seconds(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn role_arns() {
        assert!(is_role_arn("arn:aws:iam::123456789012:role/ecr-pull", "aws"));
        assert!(is_role_arn(
            "arn:aws-cn:iam::123456789012:role/path/to/r",
            "aws-cn"
        ));
        assert!(!is_role_arn("arn:aws:iam::123456789012:role/ecr-pull", "aws-cn"));
        assert!(!is_role_arn("arn:aws:iam::123456789012:user/ecr-pull", "aws"));
        assert!(!is_role_arn("arn:aws:iam::1234:role/r", "aws"));
        assert_eq!(partition("us-gov-east-1"), "aws-us-gov");
    }
}
