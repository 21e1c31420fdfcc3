//! AWS KMS master keys of sops files: the `sops.kms` entries, and the `kms:Encrypt` and
//! `kms:Decrypt` calls that wrap and unwrap a data key with one (cargo feature `kms`).
//!
//! Mirrors sops `kms/keysource.go` and the `kmskey` of `stores/stores.go`:
//!
//! - An entry is `arn`, optional `role` (an IAM role assumed through `sts:AssumeRole` first),
//!   optional `context` (the KMS encryption context, a string map, sent with both calls and
//!   kept in the file), `created_at` (RFC 3339), `enc` (base64 of the KMS ciphertext blob) and
//!   `aws_profile` (always written, `""` for none). A `--kms` argument takes sops's
//!   `ARN[+ROLE_ARN]` form.
//! - The region is the ARN's (sops's `^arn:aws[\w-]*:kms:(.+):[0-9]+:(key|alias)/.+$`); an
//!   ARN that does not match is an error naming it, as in sops.
//! - The credentials are the standard environment keys `AWS_ACCESS_KEY_ID`,
//!   `AWS_SECRET_ACCESS_KEY` and `AWS_SESSION_TOKEN`, the endpoints `AWS_ENDPOINT_URL_KMS`
//!   (`AWS_ENDPOINT_URL_STS` for a role), else `AWS_ENDPOINT_URL`, else AWS's: the front-end
//!   reads them ([`KmsAccess::from_env`]), this module reads no environment. sops uses the
//!   AWS SDK's default chain; pullseal does not use `aws-config`, so AWS profiles (and an
//!   entry's `aws_profile`), SSO, web identity and instance metadata (IMDS) are not read.
//!
//! What it must *not* do: put a key, a session token, a data key or a plaintext into an error
//! or a `Debug` (errors name the ARN, the AWS operation and AWS's error code and message,
//! with the keys scrubbed out), or read the clock for anything but the SDK's request signing.
//! The data key the SDK sends or receives sits in the SDK's buffers until they are dropped;
//! what this module hands back is zeroized on drop.

use std::collections::BTreeMap;
use std::fmt;
use std::sync::LazyLock;
use std::time::Duration;

use regex::Regex;
use secrecy::SecretString;

/// sops's `arnRegex` (`\w` is ASCII in Go's RE2, hence the class).
static ARN: LazyLock<Option<Regex>> =
    LazyLock::new(|| Regex::new(r"^arn:aws[0-9A-Za-z_-]*:kms:(.+):[0-9]+:(key|alias)/.+$").ok());

/// The time each AWS call, each attempt and each connect may take.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(20);

/// One AWS KMS master key as a sops file names it: public settings, no secret.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KmsKey {
    arn: String,
    role: String,
    /// The encryption context; a YAML null value (Go's nil `*string`) is kept but not sent.
    context: BTreeMap<String, Option<String>>,
    aws_profile: String,
}

impl KmsKey {
    /// A key from a `--kms` argument: `ARN` or `ARN+ROLE_ARN` (sops's syntax, spaces
    /// dropped), the ARN checked against sops's pattern.
    pub fn parse(text: &str) -> Result<KmsKey, KmsError> {
        let text: String = text.chars().filter(|c| *c != ' ').collect();
        // ARN paths can hold `+` but not `:`, so `+arn:` starts the role (sops 3.12's rule).
        let (arn, role) = match text.find("+arn:") {
            Some(i) if i > 0 => (text.get(..i).unwrap_or(""), text.get(i + 1..).unwrap_or("")),
            _ => (text.as_str(), ""),
        };
        region(arn)?;
        Ok(KmsKey {
            arn: arn.to_owned(),
            role: role.to_owned(),
            context: BTreeMap::new(),
            aws_profile: String::new(),
        })
    }

    pub(crate) fn from_parts(
        arn: String,
        role: String,
        context: BTreeMap<String, Option<String>>,
        aws_profile: String,
    ) -> KmsKey {
        KmsKey {
            arn,
            role,
            context,
            aws_profile,
        }
    }

    /// The key's ARN.
    pub fn arn(&self) -> &str {
        &self.arn
    }

    /// The IAM role assumed before the KMS call, `""` for none.
    pub fn role(&self) -> &str {
        &self.role
    }

    /// The encryption context, sorted by key (as sops writes it).
    pub fn context(&self) -> &BTreeMap<String, Option<String>> {
        &self.context
    }

    /// The AWS profile the file names, `""` for none (pullseal does not read profiles).
    pub fn aws_profile(&self) -> &str {
        &self.aws_profile
    }

    /// sops's `ToString`: `ARN[+ROLE][|context][|profile]`, what messages and `--rm-kms`
    /// compare with.
    pub fn label(&self) -> String {
        let mut out = self.arn.clone();
        if !self.role.is_empty() {
            out.push('+');
            out.push_str(&self.role);
        }
        let context: Vec<String> = self
            .context
            .iter()
            .filter_map(|(k, v)| v.as_ref().map(|v| format!("{k}:{v}")))
            .collect();
        if !self.aws_profile.is_empty() {
            out = format!("{out}|{}|{}", context.join(","), self.aws_profile);
        } else if !context.is_empty() {
            out = format!("{out}|{}", context.join(","));
        }
        out
    }

    /// The context sent to AWS: the entries with a value.
    #[cfg_attr(not(feature = "kms"), allow(dead_code))]
    fn sent_context(&self) -> Option<std::collections::HashMap<String, String>> {
        let map: std::collections::HashMap<String, String> = self
            .context
            .iter()
            .filter_map(|(k, v)| v.clone().map(|v| (k.clone(), v)))
            .collect();
        (!map.is_empty()).then_some(map)
    }
}

/// One `kms:` entry of a file: the key, when it was added and the data key encrypted by it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KmsStanza {
    pub(crate) key: KmsKey,
    /// `created_at` as sops writes it back (RFC 3339).
    pub(crate) created_at: String,
    /// Base64 of the KMS ciphertext blob.
    pub(crate) enc: String,
}

impl KmsStanza {
    /// The key.
    pub fn key(&self) -> &KmsKey {
        &self.key
    }
}

/// The region of a KMS ARN, as sops takes it.
pub fn region(arn: &str) -> Result<String, KmsError> {
    let invalid = || KmsError::InvalidArn {
        arn: crate::error::shown(arn),
    };
    let re = ARN.as_ref().ok_or_else(invalid)?;
    let caps = re.captures(arn).ok_or_else(invalid)?;
    caps.get(1).map(|m| m.as_str().to_owned()).ok_or_else(invalid)
}

/// What the KMS calls may use: the environment's AWS keys and endpoints. `Debug` shows the
/// endpoints and whether keys are set, never a key.
#[derive(Clone, Default)]
pub struct KmsAccess {
    keys: Option<AwsKeys>,
    kms_endpoint: Option<String>,
    sts_endpoint: Option<String>,
    /// `AWS_PROFILE`, for the message when no keys are set.
    #[cfg_attr(not(feature = "kms"), allow(dead_code))]
    profile: Option<String>,
    timeout: Option<Duration>,
}

#[derive(Clone)]
#[cfg_attr(not(feature = "kms"), allow(dead_code))]
struct AwsKeys {
    access_key_id: SecretString,
    secret_access_key: SecretString,
    session_token: Option<SecretString>,
}

impl fmt::Debug for KmsAccess {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("KmsAccess")
            .field("keys", &self.keys.as_ref().map(|_| ".."))
            .field("kms_endpoint", &self.kms_endpoint)
            .field("sts_endpoint", &self.sts_endpoint)
            .finish_non_exhaustive()
    }
}

impl KmsAccess {
    /// The keys and endpoints the standard AWS variables name (an empty one counts as unset),
    /// read through `var`.
    pub fn from_env(var: impl Fn(&str) -> Option<String>) -> KmsAccess {
        let get = |name: &str| var(name).filter(|v| !v.trim().is_empty());
        let common = get("AWS_ENDPOINT_URL");
        let keys = match (get("AWS_ACCESS_KEY_ID"), get("AWS_SECRET_ACCESS_KEY")) {
            (Some(id), Some(secret)) => Some(AwsKeys {
                access_key_id: SecretString::from(id),
                secret_access_key: SecretString::from(secret),
                session_token: get("AWS_SESSION_TOKEN").map(SecretString::from),
            }),
            _ => None,
        };
        KmsAccess {
            keys,
            kms_endpoint: get("AWS_ENDPOINT_URL_KMS").or_else(|| common.clone()),
            sts_endpoint: get("AWS_ENDPOINT_URL_STS").or(common),
            profile: get("AWS_PROFILE"),
            timeout: None,
        }
    }

    /// The same access with another time limit per call.
    #[must_use]
    pub fn with_timeout(mut self, timeout: Duration) -> KmsAccess {
        self.timeout = Some(timeout);
        self
    }

    /// Whether AWS keys are set.
    pub fn has_keys(&self) -> bool {
        self.keys.is_some()
    }
}

/// Why a KMS call failed. Messages never hold a key, a token or a data key.
#[derive(Debug, Clone, thiserror::Error)]
#[non_exhaustive]
pub enum KmsError {
    /// This build has no AWS SDK for KMS.
    #[error(
        "this pullseal is built without the `kms` cargo feature, which AWS KMS master keys need; build it with `--features kms`"
    )]
    NoFeature,
    /// The ARN is not a KMS key or alias ARN.
    #[error(
        "{arn} is not an AWS KMS key ARN (arn:aws:kms:<region>:<account>:key/<id> or :alias/<name>, optionally +<role ARN>)"
    )]
    InvalidArn {
        /// The ARN, as shown.
        arn: String,
    },
    /// No AWS keys in the environment.
    #[error(
        "no AWS credentials: set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY (and AWS_SESSION_TOKEN for temporary keys){}; pullseal reads no AWS profile, SSO, web identity or instance metadata",
        profile.as_ref().map(|p| format!(" (AWS_PROFILE={} is not read)", crate::error::shown(p))).unwrap_or_default()
    )]
    NoCredentials {
        /// `AWS_PROFILE`, if set.
        profile: Option<String>,
    },
    /// The entry's `enc` is not base64.
    #[error("its enc is not base64")]
    BadEnc,
    /// AWS answered and refused.
    #[error("AWS refused {operation}: {detail}")]
    Refused {
        /// `kms:Encrypt`, `kms:Decrypt` or `sts:AssumeRole`.
        operation: &'static str,
        /// AWS's error code and message, scrubbed of the keys.
        detail: String,
    },
    /// AWS could not be reached, or answered with a server error.
    #[error("cannot reach AWS for {operation}: {detail}")]
    Unreachable {
        /// See [`KmsError::Refused::operation`].
        operation: &'static str,
        /// What failed.
        detail: String,
    },
    /// AWS's answer is not usable.
    #[error("AWS's answer to {operation} is not usable: {detail}")]
    BadAnswer {
        /// See [`KmsError::Refused::operation`].
        operation: &'static str,
        /// What is missing or malformed.
        detail: &'static str,
    },
    /// The client could not be made.
    #[error("cannot set up the AWS client: {0}")]
    Setup(String),
}

/// `kms:Encrypt` of `data_key` with `key`: the `enc` to write (base64 of the blob).
pub(crate) fn encrypt(key: &KmsKey, data_key: &[u8; 32], access: &KmsAccess) -> Result<String, KmsError> {
    region(&key.arn)?;
    #[cfg(feature = "kms")]
    {
        sdk::run(sdk::encrypt(key, data_key, access))
    }
    #[cfg(not(feature = "kms"))]
    {
        let _ = (data_key, access);
        Err(KmsError::NoFeature)
    }
}

/// `kms:Decrypt` of `stanza`'s `enc`: the data key (or Shamir share) it holds.
pub(crate) fn decrypt(
    stanza: &KmsStanza,
    access: &KmsAccess,
) -> Result<zeroize::Zeroizing<Vec<u8>>, KmsError> {
    use base64::Engine as _;
    region(&stanza.key.arn)?;
    let blob = base64::engine::general_purpose::STANDARD
        .decode(stanza.enc.trim())
        .map_err(|_| KmsError::BadEnc)?;
    #[cfg(feature = "kms")]
    {
        sdk::run(sdk::decrypt(&stanza.key, blob, access))
    }
    #[cfg(not(feature = "kms"))]
    {
        let _ = (blob, access);
        Err(KmsError::NoFeature)
    }
}

/// `text` with every occurrence of each of `secrets` replaced by `[redacted]`.
#[cfg_attr(not(feature = "kms"), allow(dead_code))]
fn scrub(text: &str, secrets: &[&str]) -> String {
    let mut out = text.to_owned();
    for secret in secrets.iter().filter(|s| s.len() >= 4) {
        out = out.replace(secret, "[redacted]");
    }
    out
}

#[cfg(feature = "kms")]
mod sdk {
    //! The AWS SDK calls, each on a current-thread runtime made for it.

    use std::future::Future;

    use aws_sdk_kms::config::retry::RetryConfig;
    use aws_sdk_kms::config::timeout::TimeoutConfig;
    use aws_sdk_kms::config::{BehaviorVersion, Credentials, Region, SharedHttpClient};
    use aws_sdk_kms::error::{ProvideErrorMetadata, SdkError};
    use aws_sdk_kms::primitives::Blob;
    use base64::Engine as _;
    use secrecy::ExposeSecret as _;
    use zeroize::Zeroizing;

    use super::{DEFAULT_TIMEOUT, KmsAccess, KmsError, KmsKey, region, scrub};

    const ENCRYPT: &str = "kms:Encrypt";
    const DECRYPT: &str = "kms:Decrypt";
    const ASSUME_ROLE: &str = "sts:AssumeRole";
    /// The session name a role is assumed with (sops uses `sops@<hostname>`).
    const SESSION_NAME: &str = "pullseal";

    pub(super) fn run<T>(call: impl Future<Output = Result<T, KmsError>>) -> Result<T, KmsError> {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(|e| KmsError::Setup(format!("no async runtime: {e}")))?
            .block_on(call)
    }

    fn http_client() -> SharedHttpClient {
        aws_smithy_http_client::Builder::new()
            .tls_provider(aws_smithy_http_client::tls::Provider::Rustls(
                aws_smithy_http_client::tls::rustls_provider::CryptoMode::Ring,
            ))
            .build_https()
    }

    fn timeouts(access: &KmsAccess) -> TimeoutConfig {
        let timeout = access.timeout.unwrap_or(DEFAULT_TIMEOUT);
        TimeoutConfig::builder()
            .connect_timeout(timeout)
            .read_timeout(timeout)
            .operation_attempt_timeout(timeout)
            .operation_timeout(timeout.saturating_mul(2))
            .build()
    }

    /// The KMS client for `key`: its region, the environment's keys (after assuming the
    /// key's role), and what an error message must not show.
    async fn client(
        key: &KmsKey,
        access: &KmsAccess,
    ) -> Result<(aws_sdk_kms::Client, Vec<Zeroizing<String>>), KmsError> {
        let keys = access.keys.as_ref().ok_or_else(|| KmsError::NoCredentials {
            profile: access.profile.clone(),
        })?;
        let key_id = keys.access_key_id.expose_secret();
        let secret = keys.secret_access_key.expose_secret();
        let session = keys.session_token.as_ref().map(|s| s.expose_secret().to_owned());
        let mut secrets: Vec<Zeroizing<String>> = vec![
            Zeroizing::new(key_id.to_owned()),
            Zeroizing::new(secret.to_owned()),
        ];
        secrets.extend(session.clone().map(Zeroizing::new));
        let region = Region::new(region(&key.arn)?);
        let http = http_client();
        let mut credentials = Credentials::new(key_id, secret, session, None, "pullseal-environment");
        if !key.role.is_empty() {
            let mut config = aws_sdk_sts::Config::builder()
                .behavior_version(BehaviorVersion::latest())
                .region(region.clone())
                .credentials_provider(credentials)
                .http_client(http.clone())
                .retry_config(RetryConfig::standard().with_max_attempts(2))
                .timeout_config(timeouts(access));
            if let Some(url) = &access.sts_endpoint {
                config = config.endpoint_url(url);
            }
            let answer = aws_sdk_sts::Client::from_conf(config.build())
                .assume_role()
                .role_arn(&key.role)
                .role_session_name(SESSION_NAME)
                .send()
                .await
                .map_err(|e| failure(ASSUME_ROLE, &e, &secrets))?;
            let assumed = answer.credentials().ok_or(KmsError::BadAnswer {
                operation: ASSUME_ROLE,
                detail: "it holds no credentials",
            })?;
            secrets.extend(
                [
                    assumed.access_key_id(),
                    assumed.secret_access_key(),
                    assumed.session_token(),
                ]
                .map(|s| Zeroizing::new(s.to_owned())),
            );
            credentials = Credentials::new(
                assumed.access_key_id(),
                assumed.secret_access_key(),
                Some(assumed.session_token().to_owned()),
                None,
                "pullseal-assumed-role",
            );
        }
        let mut config = aws_sdk_kms::Config::builder()
            .behavior_version(BehaviorVersion::latest())
            .region(region)
            .credentials_provider(credentials)
            .http_client(http)
            .retry_config(RetryConfig::standard().with_max_attempts(2))
            .timeout_config(timeouts(access));
        if let Some(url) = &access.kms_endpoint {
            config = config.endpoint_url(url);
        }
        Ok((aws_sdk_kms::Client::from_conf(config.build()), secrets))
    }

    pub(super) async fn encrypt(
        key: &KmsKey,
        data_key: &[u8; 32],
        access: &KmsAccess,
    ) -> Result<String, KmsError> {
        let (client, secrets) = client(key, access).await?;
        let answer = client
            .encrypt()
            .key_id(&key.arn)
            .plaintext(Blob::new(data_key.to_vec()))
            .set_encryption_context(key.sent_context())
            .send()
            .await
            .map_err(|e| failure(ENCRYPT, &e, &secrets))?;
        let blob = answer.ciphertext_blob().ok_or(KmsError::BadAnswer {
            operation: ENCRYPT,
            detail: "it holds no CiphertextBlob",
        })?;
        Ok(base64::engine::general_purpose::STANDARD.encode(blob.as_ref()))
    }

    pub(super) async fn decrypt(
        key: &KmsKey,
        blob: Vec<u8>,
        access: &KmsAccess,
    ) -> Result<Zeroizing<Vec<u8>>, KmsError> {
        let (client, secrets) = client(key, access).await?;
        let answer = client
            .decrypt()
            .key_id(&key.arn)
            .ciphertext_blob(Blob::new(blob))
            .set_encryption_context(key.sent_context())
            .send()
            .await
            .map_err(|e| failure(DECRYPT, &e, &secrets))?;
        answer
            .plaintext
            .map(|p| Zeroizing::new(p.into_inner()))
            .ok_or(KmsError::BadAnswer {
                operation: DECRYPT,
                detail: "it holds no Plaintext",
            })
    }

    /// The error an SDK failure of `operation` makes: a 4xx answer is a refusal, everything
    /// else a failure to reach AWS. Never the SDK's own `Display`, which can quote a request;
    /// AWS's code and message are scrubbed of the keys.
    fn failure<E: ProvideErrorMetadata>(
        operation: &'static str,
        err: &SdkError<E, aws_sdk_kms::config::http::HttpResponse>,
        secrets: &[Zeroizing<String>],
    ) -> KmsError {
        let secrets: Vec<&str> = secrets.iter().map(|s| s.as_str()).collect();
        let unreachable = |detail: &str| KmsError::Unreachable {
            operation,
            detail: detail.to_owned(),
        };
        match err {
            SdkError::ServiceError(service) => {
                let status = service.raw().status().as_u16();
                let e = service.err();
                let detail = scrub(
                    &format!(
                        "HTTP {status} {}{}",
                        e.code().unwrap_or("(no error code)"),
                        e.message().map(|m| format!(": {m}")).unwrap_or_default()
                    ),
                    &secrets,
                );
                if (400..500).contains(&status) && status != 408 && status != 429 {
                    KmsError::Refused { operation, detail }
                } else {
                    KmsError::Unreachable { operation, detail }
                }
            }
            SdkError::TimeoutError(_) => unreachable("no answer in time (timeout)"),
            SdkError::DispatchFailure(d) if d.is_timeout() => unreachable("no answer in time (timeout)"),
            SdkError::DispatchFailure(d) if d.is_io() => {
                unreachable("cannot connect (DNS, connection refused or reset)")
            }
            SdkError::DispatchFailure(_) => unreachable("the request could not be sent"),
            SdkError::ResponseError(r) => unreachable(&format!(
                "the answer (HTTP {}) is not an AWS answer",
                r.raw().status().as_u16()
            )),
            SdkError::ConstructionFailure(_) => {
                KmsError::Setup(format!("the {operation} request cannot be made"))
            }
            _ => unreachable("the request failed"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn arns_are_sops_arns_and_give_the_region() {
        assert_eq!(
            region("arn:aws:kms:eu-west-1:123456789012:key/1234abcd-12ab").unwrap(),
            "eu-west-1"
        );
        assert_eq!(
            region("arn:aws-us-gov:kms:us-gov-west-1:123456789012:alias/sops").unwrap(),
            "us-gov-west-1"
        );
        for bad in [
            "",
            "arn:aws:kms:eu-west-1:acct:key/x",
            "arn:aws:s3:eu-west-1:123456789012:key/x",
            "arn:aws:kms::123456789012:key/x",
            "1234abcd-12ab",
        ] {
            assert!(region(bad).is_err(), "{bad}");
        }
        insta::assert_snapshot!(KmsKey::parse("alias/sops").unwrap_err(), @"alias/sops is not an AWS KMS key ARN (arn:aws:kms:<region>:<account>:key/<id> or :alias/<name>, optionally +<role ARN>)");
    }

    #[test]
    fn a_role_follows_a_plus_and_the_label_is_sops_to_string() {
        let key = KmsKey::parse(" arn:aws:kms:eu-west-1:123456789012:key/k+arn:aws:iam::123456789012:role/r")
            .unwrap();
        assert_eq!(key.arn(), "arn:aws:kms:eu-west-1:123456789012:key/k");
        assert_eq!(key.role(), "arn:aws:iam::123456789012:role/r");
        assert_eq!(
            key.label(),
            "arn:aws:kms:eu-west-1:123456789012:key/k+arn:aws:iam::123456789012:role/r"
        );
        let context = BTreeMap::from([
            ("b".to_owned(), Some("2".to_owned())),
            ("a".to_owned(), Some("1".to_owned())),
            ("n".to_owned(), None),
        ]);
        let with = KmsKey::from_parts("arn:x".to_owned(), String::new(), context.clone(), String::new());
        assert_eq!(with.label(), "arn:x|a:1,b:2");
        assert_eq!(with.sent_context().unwrap().len(), 2);
        let profiled = KmsKey::from_parts(
            "arn:x".to_owned(),
            String::new(),
            BTreeMap::new(),
            "dev".to_owned(),
        );
        assert_eq!(profiled.label(), "arn:x||dev");
    }

    #[test]
    fn access_comes_from_the_standard_variables_and_shows_no_key() {
        let vars = |pairs: &'static [(&'static str, &'static str)]| {
            move |name: &str| {
                pairs
                    .iter()
                    .find(|(n, _)| *n == name)
                    .map(|(_, v)| (*v).to_owned())
            }
        };
        let access = KmsAccess::from_env(vars(&[
            ("AWS_ACCESS_KEY_ID", "AKIAEXAMPLEKEY00001"),
            ("AWS_SECRET_ACCESS_KEY", "very-secret-access-key"),
            ("AWS_ENDPOINT_URL", "http://common"),
            ("AWS_ENDPOINT_URL_KMS", "http://kms"),
        ]));
        assert!(access.has_keys());
        assert_eq!(access.kms_endpoint.as_deref(), Some("http://kms"));
        assert_eq!(access.sts_endpoint.as_deref(), Some("http://common"));
        let shown = format!("{access:?}");
        assert!(
            !shown.contains("AKIA") && !shown.contains("very-secret"),
            "{shown}"
        );
        let none = KmsAccess::from_env(vars(&[("AWS_ACCESS_KEY_ID", "AKIA0"), ("AWS_PROFILE", "dev")]));
        assert!(!none.has_keys());
        insta::assert_snapshot!(KmsError::NoCredentials { profile: none.profile }, @"no AWS credentials: set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY (and AWS_SESSION_TOKEN for temporary keys) (AWS_PROFILE=dev is not read); pullseal reads no AWS profile, SSO, web identity or instance metadata");
        assert_eq!(
            scrub(
                "key AKIAEXAMPLE0000 is bad, abc stays",
                &["AKIAEXAMPLE0000", "abc"]
            ),
            "key [redacted] is bad, abc stays"
        );
    }

    #[test]
    fn without_keys_or_with_a_bad_enc_nothing_is_sent() {
        let key = KmsKey::parse("arn:aws:kms:eu-west-1:123456789012:key/k").unwrap();
        let stanza = KmsStanza {
            key: key.clone(),
            created_at: "2026-01-01T00:00:00Z".to_owned(),
            enc: "not base64!".to_owned(),
        };
        assert!(matches!(
            decrypt(&stanza, &KmsAccess::default()),
            Err(KmsError::BadEnc)
        ));
        let err = encrypt(&key, &[0; 32], &KmsAccess::default()).unwrap_err();
        if cfg!(feature = "kms") {
            assert!(matches!(err, KmsError::NoCredentials { profile: None }), "{err}");
        } else {
            insta::assert_snapshot!(err, @"this pullseal is built without the `kms` cargo feature, which AWS KMS master keys need; build it with `--features kms`");
        }
    }
}
