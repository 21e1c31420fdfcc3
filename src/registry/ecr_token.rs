//! The Amazon ECR token exchange: an ECR registry's AWS keys (after `sts:AssumeRole` when the
//! catalog names a `roleArn`) for a 12-hour registry token, through `ecr:GetAuthorizationToken`
//! and the AWS SDK (`aws-sdk-ecr`, `aws-sdk-sts`; cargo feature `ecr`, on by default).
//!
//! `render` uses it for `refresh: token` and `validate` for every ECR registry. The token is
//! the password of the user `AWS` ([`Token::basic`]), and opens every registry the keys may
//! pull from.
//!
//! - Only the catalog's keys are used: the clients get a static credentials provider and no
//!   other. No `~/.aws` file, environment key, web identity or instance metadata (IMDS) is
//!   read: this module does not use `aws-config`, whose default chain would.
//! - The region is the catalog's (the server's). The endpoints are AWS's, unless
//!   `AWS_ENDPOINT_URL_ECR` / `AWS_ENDPOINT_URL_STS`, else `AWS_ENDPOINT_URL`, name another
//!   ([`AwsEndpoints`]; the tests point them at a local moto server). A FIPS server
//!   (`dkr.ecr-fips`) asks the FIPS API endpoints.
//! - Every call has a connect timeout, an attempt timeout and an overall timeout; the SDK
//!   retries at most once more. The SDK is async: the one exchange runs on a current-thread
//!   tokio runtime made for it, and nothing else in pullseal is async.
//!
//! What this module must *not* do: put a key, a session token or the registry token into a
//! message or a `Debug` (errors name the AWS operation and AWS's error code and message, with
//! any of the keys scrubbed out), read the clock for anything but the SDK's request signing,
//! or decide what a token's expiry means (the caller has the clock: render's `now`).

use std::fmt;
use std::time::Duration;

use secrecy::SecretString;
use time::OffsetDateTime;

use super::{Basic, Ecr};

/// Where the AWS APIs are, when not at AWS's own endpoints.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AwsEndpoints {
    /// The ECR API (`AWS_ENDPOINT_URL_ECR`, else `AWS_ENDPOINT_URL`).
    pub ecr: Option<String>,
    /// The STS API, for `roleArn` (`AWS_ENDPOINT_URL_STS`, else `AWS_ENDPOINT_URL`).
    pub sts: Option<String>,
}

impl AwsEndpoints {
    /// The endpoints the AWS SDK's own variables name (an empty one counts as unset), read
    /// through `var`.
    pub fn from_env(var: impl Fn(&str) -> Option<String>) -> AwsEndpoints {
        let get = |name: &str| var(name).filter(|v| !v.trim().is_empty());
        let common = get("AWS_ENDPOINT_URL");
        AwsEndpoints {
            ecr: get("AWS_ENDPOINT_URL_ECR").or_else(|| common.clone()),
            sts: get("AWS_ENDPOINT_URL_STS").or(common),
        }
    }
}

/// The time an exchange may take, each of its attempts and its connects, when the caller
/// gives none.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(20);

/// A registry token. `Debug` shows the expiry only.
pub struct Token {
    password: SecretString,
    expires_at: OffsetDateTime,
}

impl fmt::Debug for Token {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Token")
            .field("expires_at", &self.expires_at)
            .finish_non_exhaustive()
    }
}

impl Token {
    /// The registry password (the token decoded: `AWS:<password>` is what AWS hands out).
    pub fn password(&self) -> &SecretString {
        &self.password
    }

    /// When AWS says the token expires.
    pub fn expires_at(&self) -> OffsetDateTime {
        self.expires_at
    }

    /// The credential a pull uses: user `AWS`, the token as the password.
    pub fn basic(&self) -> Basic {
        Basic::new(SecretString::from("AWS"), self.password.clone(), None)
    }

    /// A token from its parts, for tests of what is made from one.
    #[cfg(test)]
    pub(crate) fn for_tests(password: &str, expires_at: OffsetDateTime) -> Token {
        Token {
            password: SecretString::from(password),
            expires_at,
        }
    }
}

/// Why no token was had.
#[derive(Debug, thiserror::Error)]
pub enum TokenError {
    /// This build has no AWS SDK.
    #[error(
        "this pullseal is built without the `ecr` cargo feature, which Amazon ECR tokens (refresh: token, validate) need; build it with `--features ecr`"
    )]
    NoFeature,
    /// AWS answered, and refused the keys (or the role, or the operation for them).
    #[error("AWS refused the keys: {operation} answered {detail}")]
    Refused {
        /// `sts:AssumeRole` or `ecr:GetAuthorizationToken`.
        operation: &'static str,
        /// AWS's error code and message, scrubbed of the keys.
        detail: String,
    },
    /// AWS could not be reached, or answered with a server error.
    #[error("cannot reach AWS for {operation}: {detail}")]
    Unreachable {
        /// See [`TokenError::Refused::operation`].
        operation: &'static str,
        /// What failed: connection, timeout, or the server's error.
        detail: String,
    },
    /// AWS's answer holds no usable token.
    #[error("AWS's answer to {operation} is not usable: {detail}")]
    BadAnswer {
        /// See [`TokenError::Refused::operation`].
        operation: &'static str,
        /// What is missing or malformed.
        detail: String,
    },
    /// The token AWS handed out has already expired by the caller's clock.
    #[error("the token AWS handed out expired at {expires_at}, before now ({now})")]
    Expired {
        /// When AWS says it expires (RFC 3339).
        expires_at: String,
        /// The caller's now (RFC 3339).
        now: String,
    },
    /// The AWS client could not be made (an endpoint override that is not a URL, no runtime).
    #[error("cannot set up the AWS client: {0}")]
    Setup(String),
}

impl TokenError {
    /// Whether AWS itself refused the keys (rather than not being reached).
    pub fn is_refusal(&self) -> bool {
        matches!(self, TokenError::Refused { .. })
    }
}

/// Exchanges `ecr`'s keys for a registry token, each AWS call bounded by `timeout`.
pub fn fetch(ecr: &Ecr, endpoints: &AwsEndpoints, timeout: Duration) -> Result<Token, TokenError> {
    #[cfg(feature = "ecr")]
    {
        sdk::fetch(ecr, endpoints, timeout)
    }
    #[cfg(not(feature = "ecr"))]
    {
        let _ = (ecr, endpoints, timeout);
        Err(TokenError::NoFeature)
    }
}

/// Decodes `GetAuthorizationToken`'s `authorizationToken`, base64 of `AWS:<password>`, into the
/// password. `None` when it is not that shape.
#[cfg_attr(not(feature = "ecr"), allow(dead_code))]
fn decode_token(token: &str) -> Option<SecretString> {
    use base64::Engine as _;
    let bytes = zeroize::Zeroizing::new(base64::engine::general_purpose::STANDARD.decode(token).ok()?);
    let text = std::str::from_utf8(&bytes).ok()?;
    let password = text.strip_prefix("AWS:")?;
    (!password.is_empty()).then(|| SecretString::from(password.to_owned()))
}

/// `text` with every occurrence of each of `secrets` replaced by `[redacted]`.
#[cfg_attr(not(feature = "ecr"), allow(dead_code))]
fn scrub(text: &str, secrets: &[&str]) -> String {
    let mut out = text.to_owned();
    for secret in secrets.iter().filter(|s| s.len() >= 4) {
        out = out.replace(secret, "[redacted]");
    }
    out
}

#[cfg(feature = "ecr")]
mod sdk {
    //! The AWS SDK calls, on a current-thread runtime.

    use std::time::Duration;

    use aws_sdk_ecr::config::retry::RetryConfig;
    use aws_sdk_ecr::config::timeout::TimeoutConfig;
    use aws_sdk_ecr::config::{BehaviorVersion, Credentials, Region, SharedHttpClient};
    use aws_sdk_ecr::error::{ProvideErrorMetadata, SdkError};
    use secrecy::ExposeSecret as _;
    use time::OffsetDateTime;

    use super::{AwsEndpoints, Ecr, Token, TokenError, decode_token, scrub};

    const ASSUME_ROLE: &str = "sts:AssumeRole";
    const GET_TOKEN: &str = "ecr:GetAuthorizationToken";

    /// The session name a role is assumed with (seen in the account's `CloudTrail`).
    const SESSION_NAME: &str = "pullseal";

    pub(super) fn fetch(ecr: &Ecr, endpoints: &AwsEndpoints, timeout: Duration) -> Result<Token, TokenError> {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(|e| TokenError::Setup(format!("no async runtime: {e}")))?;
        runtime.block_on(exchange(ecr, endpoints, timeout))
    }

    fn http_client() -> SharedHttpClient {
        aws_smithy_http_client::Builder::new()
            .tls_provider(aws_smithy_http_client::tls::Provider::Rustls(
                aws_smithy_http_client::tls::rustls_provider::CryptoMode::Ring,
            ))
            .build_https()
    }

    fn timeouts(timeout: Duration) -> TimeoutConfig {
        TimeoutConfig::builder()
            .connect_timeout(timeout)
            .read_timeout(timeout)
            .operation_attempt_timeout(timeout)
            .operation_timeout(timeout.saturating_mul(2))
            .build()
    }

    async fn exchange(ecr: &Ecr, endpoints: &AwsEndpoints, timeout: Duration) -> Result<Token, TokenError> {
        let key_id = ecr.access_key_id().expose_secret();
        let secret = ecr.secret_access_key().expose_secret();
        let session = ecr.session_token().map(|s| s.expose_secret().to_owned());
        // Everything an AWS message could echo back; scrubbed from each before it is shown.
        let secrets: Vec<&str> = [
            Some(key_id),
            Some(secret),
            ecr.session_token().map(secrecy::ExposeSecret::expose_secret),
        ]
        .into_iter()
        .flatten()
        .collect();
        let http = http_client();
        let region = Region::new(ecr.region().to_owned());
        let mut credentials = Credentials::new(key_id, secret, session, None, "pullseal-catalog");

        if let Some(role) = ecr.role_arn() {
            let mut config = aws_sdk_sts::Config::builder()
                .behavior_version(BehaviorVersion::latest())
                .region(region.clone())
                .credentials_provider(credentials)
                .http_client(http.clone())
                .retry_config(RetryConfig::standard().with_max_attempts(2))
                .timeout_config(timeouts(timeout))
                .use_fips(ecr.fips());
            if let Some(url) = &endpoints.sts {
                config = config.endpoint_url(url);
            }
            let client = aws_sdk_sts::Client::from_conf(config.build());
            let answer = client
                .assume_role()
                .role_arn(role)
                .role_session_name(SESSION_NAME)
                .send()
                .await
                .map_err(|e| failure(ASSUME_ROLE, &e, &secrets))?;
            let assumed = answer.credentials().ok_or_else(|| TokenError::BadAnswer {
                operation: ASSUME_ROLE,
                detail: "it holds no credentials".to_owned(),
            })?;
            credentials = Credentials::new(
                assumed.access_key_id(),
                assumed.secret_access_key(),
                Some(assumed.session_token().to_owned()),
                None,
                "pullseal-assumed-role",
            );
        }

        let mut config = aws_sdk_ecr::Config::builder()
            .behavior_version(BehaviorVersion::latest())
            .region(region)
            .credentials_provider(credentials)
            .http_client(http)
            .retry_config(RetryConfig::standard().with_max_attempts(2))
            .timeout_config(timeouts(timeout))
            .use_fips(ecr.fips());
        if let Some(url) = &endpoints.ecr {
            config = config.endpoint_url(url);
        }
        let client = aws_sdk_ecr::Client::from_conf(config.build());
        let answer = client
            .get_authorization_token()
            .send()
            .await
            .map_err(|e| failure(GET_TOKEN, &e, &secrets))?;
        let data = answer
            .authorization_data()
            .first()
            .ok_or_else(|| bad("it holds no authorizationData"))?;
        let password = data
            .authorization_token()
            .and_then(decode_token)
            .ok_or_else(|| bad("its authorizationToken is not base64 of AWS:<password>"))?;
        let expires_at = data
            .expires_at()
            .and_then(|t| OffsetDateTime::from_unix_timestamp(t.secs()).ok())
            .ok_or_else(|| bad("it has no expiresAt"))?;
        Ok(Token { password, expires_at })
    }

    fn bad(detail: &str) -> TokenError {
        TokenError::BadAnswer {
            operation: GET_TOKEN,
            detail: detail.to_owned(),
        }
    }

    /// The error an SDK failure of `operation` makes: a 4xx answer is a refusal of the keys,
    /// everything else a failure to reach AWS. Never the SDK's own `Display`, which can quote
    /// a request; the words are chosen here, AWS's code and message scrubbed of the keys.
    fn failure<E, R>(operation: &'static str, err: &SdkError<E, R>, secrets: &[&str]) -> TokenError
    where
        E: ProvideErrorMetadata,
        R: HttpStatus,
    {
        match err {
            SdkError::ServiceError(service) => {
                let status = service.raw().status_code();
                let e = service.err();
                let detail = scrub(
                    &format!(
                        "HTTP {status} {}{}",
                        e.code().unwrap_or("(no error code)"),
                        e.message().map(|m| format!(": {m}")).unwrap_or_default()
                    ),
                    secrets,
                );
                if (400..500).contains(&status) && status != 408 && status != 429 {
                    TokenError::Refused { operation, detail }
                } else {
                    TokenError::Unreachable { operation, detail }
                }
            }
            SdkError::TimeoutError(_) => TokenError::Unreachable {
                operation,
                detail: "no answer in time (timeout)".to_owned(),
            },
            SdkError::DispatchFailure(dispatch) => {
                let detail = if dispatch.is_timeout() {
                    "no answer in time (timeout)"
                } else if dispatch.is_io() {
                    "cannot connect (DNS, connection refused or reset)"
                } else {
                    "the request could not be sent"
                };
                TokenError::Unreachable {
                    operation,
                    detail: detail.to_owned(),
                }
            }
            SdkError::ResponseError(response) => TokenError::Unreachable {
                operation,
                detail: format!(
                    "the answer (HTTP {}) is not an AWS answer",
                    response.raw().status_code()
                ),
            },
            SdkError::ConstructionFailure(_) => {
                TokenError::Setup(format!("the {operation} request cannot be made"))
            }
            _ => TokenError::Unreachable {
                operation,
                detail: "the request failed".to_owned(),
            },
        }
    }

    /// The HTTP status of a raw SDK response.
    trait HttpStatus {
        fn status_code(&self) -> u16;
    }

    impl HttpStatus for aws_sdk_ecr::config::http::HttpResponse {
        fn status_code(&self) -> u16 {
            self.status().as_u16()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use secrecy::ExposeSecret as _;

    #[test]
    fn endpoints_come_from_the_sdk_variables() {
        let vars = |pairs: &'static [(&'static str, &'static str)]| {
            move |name: &str| {
                pairs
                    .iter()
                    .find(|(n, _)| *n == name)
                    .map(|(_, v)| (*v).to_owned())
            }
        };
        assert_eq!(AwsEndpoints::from_env(vars(&[])), AwsEndpoints::default());
        let common = AwsEndpoints::from_env(vars(&[("AWS_ENDPOINT_URL", "http://127.0.0.1:5000")]));
        assert_eq!(common.ecr.as_deref(), Some("http://127.0.0.1:5000"));
        assert_eq!(common.sts.as_deref(), Some("http://127.0.0.1:5000"));
        let each = AwsEndpoints::from_env(vars(&[
            ("AWS_ENDPOINT_URL", "http://a"),
            ("AWS_ENDPOINT_URL_ECR", "http://ecr"),
            ("AWS_ENDPOINT_URL_STS", " "),
        ]));
        assert_eq!(each.ecr.as_deref(), Some("http://ecr"));
        assert_eq!(each.sts.as_deref(), Some("http://a"));
    }

    #[test]
    fn tokens_decode_from_aws_colon_password() {
        use base64::Engine as _;
        let encode = |s: &str| base64::engine::general_purpose::STANDARD.encode(s);
        assert_eq!(
            decode_token(&encode("AWS:pass:with:colons")).map(|p| p.expose_secret().to_owned()),
            Some("pass:with:colons".to_owned())
        );
        for bad in [encode("user:pass"), encode("AWS:"), "not base64!".to_owned()] {
            assert!(decode_token(&bad).is_none(), "{bad}");
        }
    }

    #[test]
    fn messages_are_pinned_and_scrubbed() {
        assert_eq!(
            scrub(
                "key AKIAEXAMPLE0000 is bad, abc stays",
                &["AKIAEXAMPLE0000", "abc"]
            ),
            "key [redacted] is bad, abc stays"
        );
        insta::assert_snapshot!(TokenError::NoFeature, @"this pullseal is built without the `ecr` cargo feature, which Amazon ECR tokens (refresh: token, validate) need; build it with `--features ecr`");
        insta::assert_snapshot!(TokenError::Refused { operation: "ecr:GetAuthorizationToken", detail: "HTTP 403 UnrecognizedClientException: The security token included in the request is invalid.".to_owned() }, @"AWS refused the keys: ecr:GetAuthorizationToken answered HTTP 403 UnrecognizedClientException: The security token included in the request is invalid.");
        insta::assert_snapshot!(TokenError::Unreachable { operation: "sts:AssumeRole", detail: "no answer in time (timeout)".to_owned() }, @"cannot reach AWS for sts:AssumeRole: no answer in time (timeout)");
        let token = Token::for_tests("sekrit-token", OffsetDateTime::UNIX_EPOCH);
        assert!(!format!("{token:?}").contains("sekrit"));
    }
}
