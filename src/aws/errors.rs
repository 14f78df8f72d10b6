//! The SDK's errors as [`BackendError`]s: AWS's answer stays AWS's answer
//! (exception code, message, HTTP status); no answer becomes `Unreachable`
//! with the endpoint named; no credentials becomes `Credentials` with the
//! command that fixes it.

use std::error::Error;
use std::fmt::Debug;

use aws_credential_types::provider::error::CredentialsError;
use aws_smithy_runtime_api::client::orchestrator::HttpResponse;
use aws_smithy_runtime_api::client::result::SdkError;
use aws_smithy_types::error::display::DisplayErrorContext;
use aws_smithy_types::error::metadata::ProvideErrorMetadata;

use crate::api::ApiError;
use crate::backend::BackendError;

/// What a call was, for its error.
#[derive(Clone, Debug)]
pub(crate) struct Context {
    pub operation: String,
    pub endpoint: String,
    pub profile: Option<String>,
    /// Whether the profile signs in through IAM Identity Center (SSO).
    pub sso: bool,
}

/// The longest detail kept from a transport or provider error.
const MAX_DETAIL: usize = 600;

fn bounded(mut s: String) -> String {
    if s.len() > MAX_DETAIL {
        let mut end = MAX_DETAIL;
        while !s.is_char_boundary(end) {
            end -= 1;
        }
        s.truncate(end);
        s.push('…');
    }
    s
}

/// The SDK's error of a call as a [`BackendError`].
pub(crate) fn from_sdk<E>(e: SdkError<E, HttpResponse>, cx: &Context) -> BackendError
where
    E: ProvideErrorMetadata + Error + Send + Sync + 'static,
{
    if let SdkError::ServiceError(se) = &e {
        let status = se.raw().status().as_u16();
        let err = se.err();
        return BackendError::Service(ApiError::new(
            err.code().unwrap_or("UnknownError"),
            err.message().unwrap_or_default(),
            status,
        ));
    }
    if let Some(creds) = credentials_error(&e) {
        let detail = bounded(DisplayErrorContext(creds).to_string());
        let sso = cx.sso || detail.to_ascii_lowercase().contains("sso");
        let fix = if sso {
            Some(sign_in_fix(cx.profile.as_deref()))
        } else if matches!(creds, CredentialsError::CredentialsNotLoaded(_)) {
            Some(match &cx.profile {
                Some(p) => format!("aws configure --profile {p}"),
                None => "aws configure".to_string(),
            })
        } else {
            None
        };
        return BackendError::Credentials {
            profile: cx.profile.clone(),
            detail,
            fix,
        };
    }
    match &e {
        SdkError::TimeoutError(_) => BackendError::Unreachable {
            endpoint: cx.endpoint.clone(),
            detail: "timed out".to_string(),
        },
        SdkError::DispatchFailure(d) if d.is_user() => BackendError::Request {
            operation: cx.operation.clone(),
            detail: bounded(innermost(&e)),
        },
        SdkError::DispatchFailure(d) => BackendError::Unreachable {
            endpoint: cx.endpoint.clone(),
            detail: if d.is_timeout() {
                "timed out".to_string()
            } else {
                bounded(innermost(&e))
            },
        },
        SdkError::ResponseError(_) => BackendError::Response {
            operation: cx.operation.clone(),
            detail: bounded(innermost(&e)),
        },
        _ => BackendError::Request {
            operation: cx.operation.clone(),
            detail: bounded(DisplayErrorContext(&e).to_string()),
        },
    }
}

/// The credential provider's error somewhere in `e`'s chain of sources.
fn credentials_error<'a>(e: &'a (dyn Error + 'static)) -> Option<&'a CredentialsError> {
    let mut next: Option<&(dyn Error + 'static)> = Some(e);
    while let Some(err) = next {
        if let Some(c) = err.downcast_ref::<CredentialsError>() {
            return Some(c);
        }
        next = err.source();
    }
    None
}

/// The message of the deepest source: `Connection refused (os error 111)`
/// rather than the SDK's layers above it.
fn innermost(e: &(dyn Error + 'static)) -> String {
    let mut last = e;
    while let Some(s) = last.source() {
        last = s;
    }
    last.to_string()
}

/// Whether an AWS error code says the temporary credentials expired.
pub(crate) fn is_expired_token(code: &str) -> bool {
    matches!(code, "ExpiredTokenException" | "ExpiredToken")
}

/// The command that signs in again through IAM Identity Center.
pub(crate) fn sign_in_fix(profile: Option<&str>) -> String {
    match profile {
        Some(p) => format!("aws sso login --profile {p}"),
        None => "aws sso login".to_string(),
    }
}

/// Whether `profile` in the AWS config file (`AWS_CONFIG_FILE`, else
/// `~/.aws/config`) signs in through IAM Identity Center: it has
/// `sso_session` or `sso_start_url`. Only reads the file.
pub(crate) fn profile_uses_sso(profile: Option<&str>) -> bool {
    let path = match std::env::var_os("AWS_CONFIG_FILE") {
        Some(p) => std::path::PathBuf::from(p),
        None => match std::env::var_os("HOME") {
            Some(h) => std::path::Path::new(&h).join(".aws").join("config"),
            None => return false,
        },
    };
    let Ok(text) = std::fs::read_to_string(path) else {
        return false;
    };
    let wanted = profile
        .map(str::to_string)
        .or_else(|| std::env::var("AWS_PROFILE").ok())
        .unwrap_or_else(|| "default".to_string());
    let mut in_section = false;
    for line in text.lines() {
        let line = line.trim();
        if let Some(header) = line.strip_prefix('[').and_then(|l| l.strip_suffix(']')) {
            let name = header.trim();
            let name = name.strip_prefix("profile ").map(str::trim).unwrap_or(name);
            in_section = name == wanted;
            continue;
        }
        if in_section {
            let key = line.split('=').next().unwrap_or("").trim();
            if key == "sso_session" || key == "sso_start_url" {
                return true;
            }
        }
    }
    false
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::backend::missing_action as missing_iam_action;

    #[test]
    fn the_missing_action_is_read_from_the_message() {
        // The format of IAM's access denied messages, from the IAM User
        // Guide, "Troubleshoot access denied error messages"
        // (https://docs.aws.amazon.com/IAM/latest/UserGuide/troubleshoot_access-denied.html).
        let m = "User: arn:aws:iam::111122223333:user/officer is not authorized to perform: \
                 kms:ImportKeyMaterial on resource: arn:aws:kms:us-east-1:111122223333:key/\
                 1234abcd-12ab-34cd-56ef-1234567890ab because no identity-based policy allows \
                 the kms:ImportKeyMaterial action";
        assert_eq!(missing_iam_action(m), Some("kms:ImportKeyMaterial"));
        let explicit = "User: arn:aws:sts::111122223333:assumed-role/Officer/s is not authorized \
                        to perform: kms:RotateKeyOnDemand on resource: arn:aws:kms:eu-west-1:\
                        111122223333:key/k with an explicit deny in a service control policy";
        assert_eq!(missing_iam_action(explicit), Some("kms:RotateKeyOnDemand"));
        assert_eq!(missing_iam_action("Access denied"), None);
        assert_eq!(missing_iam_action("is not authorized to perform: "), None);
        assert_eq!(missing_iam_action(""), None);
    }

    #[test]
    fn details_are_bounded_on_a_char_boundary() {
        let long = "é".repeat(1000);
        let b = bounded(long);
        assert!(b.len() <= MAX_DETAIL + '…'.len_utf8());
        assert!(b.ends_with('…'));
    }
}
