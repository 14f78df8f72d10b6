//! Verification of AWS Signature Version 4 on a received request.
//!
//! The signing arithmetic is the maintained `aws-sigv4` crate's: the request
//! is rebuilt from what was received (method, path, query, exactly the
//! headers the client listed in `SignedHeaders`, the body) and signed again
//! with the store's secret at the client's `X-Amz-Date`; the two signatures
//! are compared in constant time. Nothing here writes an HMAC by hand.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use aws_credential_types::Credentials;
use aws_sigv4::http_request::{SignableBody, SignableRequest, SigningSettings, sign};
use aws_sigv4::sign::v4;
use aws_smithy_runtime_api::client::identity::Identity;
use hyper::http::request::Parts;

use crate::api::ApiError;
use crate::store::ApiCredentials;

/// The signing name of KMS.
pub const SERVICE: &str = "kms";
/// The signing name of CloudTrail (byok serve answers its `LookupEvents`).
pub const CLOUDTRAIL_SERVICE: &str = "cloudtrail";

/// Headers that choose what a request does: when present they must be
/// signed, or a captured request could be replayed as another operation
/// (`X-Amz-Target`) or with its body read another way (`Content-Type`).
/// Every AWS SDK and the AWS CLI sign both.
const MUST_BE_SIGNED: [(&str, &str); 2] = [
    ("x-amz-target", "X-Amz-Target"),
    ("content-type", "Content-Type"),
];
/// How far `X-Amz-Date` may be from the server's clock (AWS: 5 minutes).
pub const MAX_CLOCK_SKEW: Duration = Duration::from_secs(5 * 60);

const ALGORITHM: &str = "AWS4-HMAC-SHA256";
const DATE_FORMAT: &str = "%Y%m%dT%H%M%SZ";

/// Why a request was refused before reaching the engine.
#[derive(Debug)]
pub struct Refusal {
    /// The AWS error to answer with.
    pub error: ApiError,
    /// The access key id the client claimed, if it named one (for the audit
    /// record; it is not a secret).
    pub access_key_id: Option<String>,
}

fn refuse(error_type: &str, message: impl Into<String>, access_key_id: Option<&str>) -> Refusal {
    Refusal {
        error: ApiError::new(error_type, message, 400),
        access_key_id: access_key_id.map(sanitize_key_id),
    }
}

/// A claimed access key id as it may be recorded: alphanumeric, bounded.
pub(crate) fn sanitize_key_id(id: &str) -> String {
    id.chars()
        .filter(|c| c.is_ascii_alphanumeric())
        .take(128)
        .collect()
}

/// The credentials and scope signatures are checked against.
pub struct Verifier {
    access_key_id: String,
    identity: Identity,
    region: String,
    max_skew: Duration,
}

impl std::fmt::Debug for Verifier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Verifier")
            .field("access_key_id", &self.access_key_id)
            .field("region", &self.region)
            .finish_non_exhaustive()
    }
}

/// The parts of an `Authorization: AWS4-HMAC-SHA256 ...` header.
struct Authorization<'a> {
    access_key_id: &'a str,
    date: &'a str,
    region: &'a str,
    service: &'a str,
    terminator: &'a str,
    signed_headers: &'a str,
    signature: &'a str,
}

fn parse_authorization(value: &str) -> Result<Authorization<'_>, Refusal> {
    let Some(rest) = value.strip_prefix(ALGORITHM).filter(|r| r.starts_with(' ')) else {
        let algorithm = value.split(' ').next().unwrap_or("");
        return Err(refuse(
            "IncompleteSignatureException",
            format!(
                "Unsupported AWS 'algorithm': '{}'. byok accepts AWS4-HMAC-SHA256 only.",
                printable(algorithm, 64)
            ),
            None,
        ));
    };
    let (mut credential, mut signed_headers, mut signature) = (None, None, None);
    for part in rest.split(',') {
        let part = part.trim();
        if let Some(v) = part.strip_prefix("Credential=") {
            credential = Some(v);
        } else if let Some(v) = part.strip_prefix("SignedHeaders=") {
            signed_headers = Some(v);
        } else if let Some(v) = part.strip_prefix("Signature=") {
            signature = Some(v);
        }
    }
    let mut missing = String::new();
    for (name, v) in [
        ("Credential", credential),
        ("Signature", signature),
        ("SignedHeaders", signed_headers),
    ] {
        if v.is_none() {
            missing.push_str(&format!(
                "Authorization header requires '{name}' parameter. "
            ));
        }
    }
    let (Some(credential), Some(signed_headers), Some(signature)) =
        (credential, signed_headers, signature)
    else {
        return Err(refuse(
            "IncompleteSignatureException",
            missing.trim_end().to_string(),
            None,
        ));
    };
    let parts: Vec<&str> = credential.split('/').collect();
    let [access_key_id, date, region, service, terminator] = parts[..] else {
        return Err(refuse(
            "IncompleteSignatureException",
            format!(
                "Credential should have exactly 5 parts: <access key id>/<date>/<region>/<service>/aws4_request, got '{}'.",
                printable(credential, 256)
            ),
            parts.first().copied(),
        ));
    };
    Ok(Authorization {
        access_key_id,
        date,
        region,
        service,
        terminator,
        signed_headers,
        signature,
    })
}

/// At most `max` printable ASCII characters of `s`, for error messages.
fn printable(s: &str, max: usize) -> String {
    s.chars()
        .filter(|c| c.is_ascii_graphic() || *c == ' ')
        .take(max)
        .collect()
}

fn format_time(t: SystemTime) -> String {
    let secs = t
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0);
    chrono::DateTime::from_timestamp(secs, 0)
        .map(|d| d.format(DATE_FORMAT).to_string())
        .unwrap_or_default()
}

fn parse_time(s: &str) -> Option<SystemTime> {
    let t = chrono::NaiveDateTime::parse_from_str(s, DATE_FORMAT)
        .ok()?
        .and_utc();
    let secs = u64::try_from(t.timestamp()).ok()?;
    Some(UNIX_EPOCH + Duration::from_secs(secs))
}

/// Compares two byte strings in time that depends only on their lengths.
fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    let diff = a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y));
    std::hint::black_box(diff) == 0
}

impl Verifier {
    /// Checks signatures made with `credentials` for `region`.
    pub fn new(credentials: &ApiCredentials, region: &str) -> Self {
        let creds = Credentials::new(
            credentials.access_key_id.clone(),
            credentials.secret_str().to_string(),
            None,
            None,
            "byok-store",
        );
        Self {
            access_key_id: credentials.access_key_id.clone(),
            identity: creds.into(),
            region: region.to_string(),
            max_skew: MAX_CLOCK_SKEW,
        }
    }

    /// The same, with another allowed clock skew.
    pub fn with_max_skew(mut self, max_skew: Duration) -> Self {
        self.max_skew = max_skew;
        self
    }

    /// Verifies the signature of a request received with `parts` and `body`
    /// at `now`. Returns the access key id that signed it.
    /// Checks the signature of a request for `service` (its signing name:
    /// [`SERVICE`] or [`CLOUDTRAIL_SERVICE`]); answers the access key id.
    pub fn verify(
        &self,
        parts: &Parts,
        body: &[u8],
        now: SystemTime,
        service: &str,
    ) -> Result<String, Refusal> {
        self.verify_scoped(parts, body, now, service)
            .map(|(key, _)| key)
    }

    /// [`Verifier::verify`], answering also the region of the credential
    /// scope: the region the call is made in. Any well-formed region name is
    /// accepted (one store holds the keys of several regions: multi-Region
    /// keys), and the signature is checked with the region in the scope.
    pub fn verify_scoped(
        &self,
        parts: &Parts,
        body: &[u8],
        now: SystemTime,
        service: &str,
    ) -> Result<(String, String), Refusal> {
        let Some(auth) = parts.headers.get(hyper::header::AUTHORIZATION) else {
            return Err(refuse(
                "MissingAuthenticationTokenException",
                "Missing Authentication Token",
                None,
            ));
        };
        let auth = auth.to_str().map_err(|_| {
            refuse(
                "IncompleteSignatureException",
                "The Authorization header is not printable ASCII.",
                None,
            )
        })?;
        let auth = parse_authorization(auth)?;
        let key_id = Some(auth.access_key_id);
        if auth.access_key_id != self.access_key_id {
            return Err(refuse(
                "UnrecognizedClientException",
                "The security token included in the request is invalid.",
                key_id,
            ));
        }

        // The time of the signature, and the clock skew.
        let Some(date) = parts.headers.get("x-amz-date") else {
            return Err(refuse(
                "IncompleteSignatureException",
                "Authorization header requires existence of either a 'X-Amz-Date' or a 'Date' header.",
                key_id,
            ));
        };
        let date = date.to_str().unwrap_or("");
        let Some(signed_at) = parse_time(date) else {
            return Err(refuse(
                "IncompleteSignatureException",
                format!(
                    "Date must be in ISO-8601 'basic format'. Got '{}'.",
                    printable(date, 32)
                ),
                key_id,
            ));
        };
        if signed_at
            .checked_add(self.max_skew)
            .is_none_or(|latest| latest < now)
        {
            return Err(refuse(
                "InvalidSignatureException",
                format!(
                    "Signature expired: {date} is now earlier than {} ({} - {} min.)",
                    format_time(now.checked_sub(self.max_skew).unwrap_or(UNIX_EPOCH)),
                    format_time(now),
                    self.max_skew.as_secs() / 60
                ),
                key_id,
            ));
        }
        if now
            .checked_add(self.max_skew)
            .is_none_or(|limit| signed_at > limit)
        {
            return Err(refuse(
                "InvalidSignatureException",
                format!(
                    "Signature not yet current: {date} is still later than {} ({} + {} min.)",
                    format_time(now.checked_add(self.max_skew).unwrap_or(now)),
                    format_time(now),
                    self.max_skew.as_secs() / 60
                ),
                key_id,
            ));
        }

        // The credential scope.
        let day = date.get(..8).unwrap_or("");
        if auth.date != day {
            return Err(refuse(
                "InvalidSignatureException",
                format!(
                    "Date in Credential scope does not match YYYYMMDD from ISO-8601 version of date from HTTP: '{}' != '{}', from '{date}'.",
                    printable(auth.date, 16),
                    day
                ),
                key_id,
            ));
        }
        if !region_name_ok(auth.region) {
            return Err(refuse(
                "InvalidSignatureException",
                format!(
                    "Credential should be scoped to a valid region, not '{}'. The store's region is '{}'.",
                    printable(auth.region, 32),
                    self.region
                ),
                key_id,
            ));
        }
        if auth.service != service {
            return Err(refuse(
                "InvalidSignatureException",
                format!("Credential should be scoped to correct service: '{service}'."),
                key_id,
            ));
        }
        if auth.terminator != "aws4_request" {
            return Err(refuse(
                "InvalidSignatureException",
                format!(
                    "Credential should be scoped with a valid terminator: 'aws4_request', not '{}'.",
                    printable(auth.terminator, 32)
                ),
                key_id,
            ));
        }

        // The headers the client signed, exactly as received.
        let signed: Vec<&str> = auth.signed_headers.split(';').collect();
        if !signed.contains(&"host") {
            return Err(refuse(
                "InvalidSignatureException",
                "'Host' or ':authority' must be a 'SignedHeader' in the AWS Authorization.",
                key_id,
            ));
        }
        for (name, shown) in MUST_BE_SIGNED {
            if parts.headers.contains_key(name) && !signed.contains(&name) {
                // AWS documents no text for this case; the message follows
                // its wording for an unsigned Host.
                return Err(refuse(
                    "InvalidSignatureException",
                    format!("'{shown}' must be a 'SignedHeader' in the AWS Authorization."),
                    key_id,
                ));
            }
        }
        let mismatch = || {
            refuse(
                "InvalidSignatureException",
                "The request signature we calculated does not match the signature you provided. Check your AWS Secret Access Key and signing method. Consult the service documentation for details.",
                key_id,
            )
        };
        let mut headers: Vec<(&str, &str)> = Vec::with_capacity(signed.len() + 1);
        for name in &signed {
            // The signer inserts X-Amz-Date from the time it is given.
            if *name == "x-amz-date" {
                continue;
            }
            for value in parts.headers.get_all(*name) {
                headers.push((name, value.to_str().map_err(|_| mismatch())?));
            }
        }
        let path_and_query = parts.uri.path_and_query().map_or("/", |p| p.as_str());
        let uri = format!("http://localhost{path_and_query}");
        let request = SignableRequest::new(
            parts.method.as_str(),
            uri,
            headers.into_iter(),
            SignableBody::Bytes(body),
        )
        .map_err(|_| mismatch())?;
        let mut settings = SigningSettings::default();
        // Sign exactly what the client listed, User-Agent included if it did.
        settings.excluded_headers = None;
        let params = v4::SigningParams::builder()
            .identity(&self.identity)
            .region(auth.region)
            .name(service)
            .time(signed_at)
            .settings(settings)
            .build()
            .map_err(|_| mismatch())?
            .into();
        let expected = sign(request, &params).map_err(|_| mismatch())?;
        if !constant_time_eq(expected.signature().as_bytes(), auth.signature.as_bytes()) {
            return Err(mismatch());
        }
        Ok((self.access_key_id.clone(), auth.region.to_string()))
    }
}

/// A region name as AWS spells them (`us-east-1`, `eu-west-3`): lowercase
/// letters, digits and hyphens, with at least one hyphen.
fn region_name_ok(region: &str) -> bool {
    !region.is_empty()
        && region.len() <= 32
        && region.contains('-')
        && !region.starts_with('-')
        && region
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn time_round_trips_in_the_basic_format() {
        let t = parse_time("20261130T052900Z").unwrap();
        assert_eq!(format_time(t), "20261130T052900Z");
        assert!(parse_time("2026-11-30T05:29:00Z").is_none());
        assert!(parse_time("").is_none());
    }

    #[test]
    fn constant_time_eq_compares() {
        assert!(constant_time_eq(b"abc", b"abc"));
        assert!(!constant_time_eq(b"abc", b"abd"));
        assert!(!constant_time_eq(b"abc", b"ab"));
    }

    #[test]
    fn authorization_parts_are_parsed_and_missing_ones_named() {
        let a = parse_authorization(
            "AWS4-HMAC-SHA256 Credential=AKID/20261130/us-east-1/kms/aws4_request, SignedHeaders=host;x-amz-date, Signature=00ff",
        )
        .unwrap_or_else(|r| panic!("{:?}", r.error));
        assert_eq!(
            (a.access_key_id, a.date, a.region, a.service, a.terminator),
            ("AKID", "20261130", "us-east-1", "kms", "aws4_request")
        );
        assert_eq!((a.signed_headers, a.signature), ("host;x-amz-date", "00ff"));
        let r = parse_authorization(
            "AWS4-HMAC-SHA256 Credential=AKID/20261130/us-east-1/kms/aws4_request",
        )
        .err()
        .unwrap();
        assert_eq!(r.error.error_type, "IncompleteSignatureException");
        assert!(
            r.error.message.contains("'Signature'") && r.error.message.contains("'SignedHeaders'")
        );
        let r = parse_authorization("Basic dXNlcjpwYXNz").err().unwrap();
        assert_eq!(r.error.error_type, "IncompleteSignatureException");
    }
}
