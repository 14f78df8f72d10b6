//! The one interface the front ends and the key manager talk to: the AWS
//! KMS API itself. A backend runs an operation of the AWS KMS JSON protocol
//! (`DescribeKey`, `ImportKeyMaterial`, ...) on a request and answers with
//! the response JSON, or with why there is no answer. Two backends
//! implement it:
//!
//! - [`local::LocalBackend`]: the engine inside an encrypted store, through
//!   [`crate::api::dispatch`] (the same function `byok serve` answers with);
//! - `crate::aws::AwsBackend`: an AWS account and region through
//!   `aws-sdk-kms`.
//!
//! [`send`] is the typed form: the operation table in [`crate::api::op`]
//! names each operation's request and response shapes, so callers never
//! spell an operation name or a member by hand, and no rule is written
//! twice.

pub mod catalog;
pub mod local;
pub mod refresher;

use std::fmt;

use crate::api::op::Operation;
use crate::api::{ApiError, Body};
use crate::kms::ErrorKind;

/// Why a call through a backend has no successful answer.
#[derive(Clone, PartialEq, Eq)]
pub enum BackendError {
    /// KMS answered with an exception: AWS's name, message and status.
    Service(ApiError),
    /// No answer: the endpoint could not be reached, or the connection
    /// broke before the answer arrived (the call may or may not have run).
    Unreachable {
        /// The endpoint (URL or region) that was tried.
        endpoint: String,
        /// What the transport said.
        detail: String,
    },
    /// No credentials could be had: no profile, an expired SSO session, a
    /// failing `credential_process`, a role that cannot be assumed.
    Credentials {
        /// The profile in use, if one is named.
        profile: Option<String>,
        /// What the credential provider said.
        detail: String,
        /// The command that fixes it, when there is one
        /// (`aws sso login --profile prod`).
        fix: Option<String>,
    },
    /// The backend's configuration cannot work: no region, a malformed
    /// region name or endpoint URL, no threads for the client.
    Configuration {
        /// What is wrong, and how to fix it.
        detail: String,
    },
    /// The request was not sent: an operation the backend does not know,
    /// a request that is not the operation's shape, or a key ARN in a
    /// region the connection does not include.
    Request {
        /// The operation.
        operation: String,
        /// Why it was not sent.
        detail: String,
    },
    /// An answer arrived but could not be read as the operation's shape.
    Response {
        /// The operation.
        operation: String,
        /// What did not parse.
        detail: String,
    },
}

impl BackendError {
    /// The AWS exception name, when KMS answered with one.
    pub fn aws_name(&self) -> Option<&str> {
        match self {
            BackendError::Service(e) => Some(&e.error_type),
            _ => None,
        }
    }

    /// The engine's error kind of the same name, when there is one.
    pub fn kind(&self) -> Option<ErrorKind> {
        self.aws_name().and_then(ErrorKind::from_aws_name)
    }

    /// The service error, if this is one.
    pub fn service(&self) -> Option<&ApiError> {
        match self {
            BackendError::Service(e) => Some(e),
            _ => None,
        }
    }

    /// The IAM action an AccessDeniedException says is missing
    /// (`kms:ImportKeyMaterial`), when it names one.
    pub fn missing_permission(&self) -> Option<&str> {
        match self {
            BackendError::Service(e) if e.error_type == "AccessDeniedException" => {
                missing_action(&e.message)
            }
            _ => None,
        }
    }

    /// Whether AWS refused the call for want of an IAM permission
    /// (`AccessDeniedException`); [`BackendError::missing_permission`] names it.
    pub fn is_access_denied(&self) -> bool {
        self.aws_name() == Some("AccessDeniedException")
    }

    /// Whether the call never reached KMS or its answer was lost, so that
    /// retrying it later is the remedy.
    pub fn is_transient(&self) -> bool {
        match self {
            BackendError::Unreachable { .. } => true,
            BackendError::Service(e) => {
                matches!(
                    e.error_type.as_str(),
                    "ThrottlingException"
                        | "KMSInternalException"
                        | "DependencyTimeoutException"
                        | "KMSServiceUnavailableException"
                )
            }
            _ => false,
        }
    }
}

/// The IAM action named in an AccessDeniedException message. AWS words
/// them "User: arn:aws:iam::111122223333:user/Alice is not authorized to
/// perform: kms:ImportKeyMaterial on resource: arn:aws:kms:... because no
/// identity-based policy allows the kms:ImportKeyMaterial action" (the IAM
/// User Guide's "Troubleshoot access denied error messages").
pub fn missing_action(message: &str) -> Option<&str> {
    let (_, rest) = message.split_once("to perform: ")?;
    let action = rest.split(|c: char| c.is_whitespace() || c == ',').next()?;
    let (service, name) = action.split_once(':')?;
    let valid = !service.is_empty()
        && !name.is_empty()
        && !name.contains(':')
        && action
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == ':' || c == '-' || c == '*');
    valid.then_some(action)
}

impl From<ApiError> for BackendError {
    fn from(e: ApiError) -> Self {
        BackendError::Service(e)
    }
}

impl fmt::Display for BackendError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            BackendError::Service(e) => write!(f, "{e}"),
            BackendError::Unreachable { endpoint, detail } => {
                write!(
                    f,
                    "Could not connect to the endpoint URL: \"{endpoint}\" ({detail})"
                )
            }
            BackendError::Credentials {
                profile,
                detail,
                fix,
            } => {
                match profile {
                    Some(p) => write!(f, "No credentials for profile {p}: {detail}")?,
                    None => write!(f, "No credentials: {detail}")?,
                }
                if let Some(fix) = fix {
                    write!(f, " Run: {fix}")?;
                }
                Ok(())
            }
            BackendError::Configuration { detail } => f.write_str(detail),
            BackendError::Request { operation, detail } => {
                write!(f, "{operation} was not sent: {detail}")
            }
            BackendError::Response { operation, detail } => {
                write!(f, "The answer to {operation} could not be read: {detail}")
            }
        }
    }
}

impl fmt::Debug for BackendError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

impl std::error::Error for BackendError {}

/// The members that may hold a key ARN or an alias ARN, in the order that
/// decides the region (the key the operation acts on first).
#[derive(serde::Deserialize)]
struct KeyRefs {
    #[serde(rename = "KeyId")]
    key_id: Option<serde_json::Value>,
    #[serde(rename = "SourceKeyId")]
    source_key_id: Option<serde_json::Value>,
    #[serde(rename = "DestinationKeyId")]
    destination_key_id: Option<serde_json::Value>,
    #[serde(rename = "TargetKeyId")]
    target_key_id: Option<serde_json::Value>,
}

/// The first key or alias ARN of the request and its region:
/// `arn:<partition>:kms:<region>:<account>:key/<id>` or `...:alias/<name>`.
/// Other members are skipped unread (no copy of a plaintext is made).
pub fn arn_region(request: &[u8]) -> Option<(String, String)> {
    let refs: KeyRefs = serde_json::from_slice(request).ok()?;
    [
        refs.key_id,
        refs.source_key_id,
        refs.destination_key_id,
        refs.target_key_id,
    ]
    .into_iter()
    .flatten()
    .filter_map(|v| v.as_str().map(str::to_string))
    .find_map(|id| {
        let region = kms_arn_region(&id)?;
        Some((id, region))
    })
}

/// The region of a KMS ARN, if `id` is one.
pub fn kms_arn_region(id: &str) -> Option<String> {
    let mut parts = id.splitn(6, ':');
    let (arn, _partition, service, region, _account, resource) = (
        parts.next()?,
        parts.next()?,
        parts.next()?,
        parts.next()?,
        parts.next()?,
        parts.next()?,
    );
    (arn == "arn"
        && service == "kms"
        && !region.is_empty()
        && (resource.starts_with("key/") || resource.starts_with("alias/")))
    .then(|| region.to_string())
}

/// Which kind of backend a store is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BackendKind {
    /// The engine in a local encrypted store.
    Local,
    /// An AWS account (or an endpoint that speaks for one).
    Aws,
}

/// What a backend says about itself (for titles and the status bar).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BackendInfo {
    /// Local or AWS.
    pub kind: BackendKind,
    /// The AWS account id (the local store's setting, or the caller's account).
    pub account: Option<String>,
    /// The region calls go to.
    pub region: String,
    /// Every region the store reaches, `region` first: a local store's
    /// regions that hold keys, an AWS connection's regions.
    pub regions: Vec<String>,
    /// The profile (AWS), if one is named.
    pub profile: Option<String>,
    /// The endpoint URL, when it is not the region's default.
    pub endpoint: Option<String>,
}

/// A KMS to talk to: one operation of the AWS KMS JSON protocol at a time.
/// Implementations are shared between threads (the console's worker and
/// its refresher), so calls take `&self`.
pub trait Backend: Send + Sync {
    /// Runs `operation` on the request JSON `request` and answers with the
    /// response JSON (wiped on drop: Decrypt puts plaintext in it).
    fn call(&self, operation: &str, request: &[u8]) -> Result<Body, BackendError>;

    /// What this backend is.
    fn info(&self) -> BackendInfo;
}

/// Runs operation `O` with `input` on `backend`: the typed form of
/// [`Backend::call`].
pub fn send<O: Operation>(
    backend: &(impl Backend + ?Sized),
    input: &O::Input,
) -> Result<O::Output, BackendError> {
    let mut request = zeroize::Zeroizing::new(Vec::with_capacity(256));
    serde_json::to_writer(&mut *request, input).map_err(|e| BackendError::Response {
        operation: O::NAME.to_string(),
        detail: format!("the request could not be written: {e}"),
    })?;
    let body = backend.call(O::NAME, &request)?;
    parse_response::<O>(&body)
}

/// Reads a response body as operation `O`'s output shape.
pub fn parse_response<O: Operation>(body: &[u8]) -> Result<O::Output, BackendError> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Ok(O::Output::default());
    }
    serde_json::from_slice(body).map_err(|e| BackendError::Response {
        operation: O::NAME.to_string(),
        detail: e.to_string(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_missing_action_is_read_from_access_denied() {
        // The shape of the message in the IAM User Guide, "Troubleshoot
        // access denied error messages" (implicit denial, identity-based).
        let m = "User: arn:aws:iam::111122223333:user/Alice is not authorized to perform: kms:ImportKeyMaterial on resource: arn:aws:kms:us-east-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab because no identity-based policy allows the kms:ImportKeyMaterial action";
        assert_eq!(missing_action(m), Some("kms:ImportKeyMaterial"));
        let e = BackendError::Service(ApiError::new("AccessDeniedException", m, 400));
        assert_eq!(e.missing_permission(), Some("kms:ImportKeyMaterial"));
        assert_eq!(missing_action("Access denied"), None);
        assert_eq!(missing_action("is not authorized to perform: "), None);
    }

    #[test]
    fn every_error_kind_is_found_by_its_name() {
        for k in ErrorKind::ALL {
            assert_eq!(ErrorKind::from_aws_name(k.aws_name()), Some(*k));
        }
        assert_eq!(ErrorKind::from_aws_name("AccessDeniedException"), None);
    }
}
