//! One request, from the wire to the answer: body size and read time, SigV4,
//! the `X-Amz-Target` operation (a KMS operation, or CloudTrail's
//! `LookupEvents` over the store's own trail), the engine call, and the AWS-shaped reply
//! (`200` with the JSON, or `{"__type", "message"}` with 400/413/500).

use std::convert::Infallible;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::SystemTime;

use http_body_util::BodyExt;
use hyper::body::{Buf, Frame, Incoming, SizeHint};
use hyper::header::{CONNECTION, CONTENT_LENGTH, CONTENT_TYPE, HeaderMap, HeaderValue, USER_AGENT};
use hyper::http::request::Parts;
use hyper::{Method, Request, Response, StatusCode};
use zeroize::Zeroizing;

use super::endpoint::{BusyGuard, Shared};
use super::sigv4::{self, Refusal, sanitize_key_id};
use crate::api::cloudtrail::{LOOKUP_EVENTS_TARGET, LOOKUP_EVENTS_TARGET_SHORT};
use crate::api::{ApiError, Body};
use crate::kms::{CallSource, Caller};

/// The service prefix of `X-Amz-Target` for KMS.
pub const TARGET_PREFIX: &str = "TrentService.";
/// The content type of the AWS JSON 1.1 protocol.
pub const CONTENT_TYPE_JSON: &str = "application/x-amz-json-1.1";

/// A request refused before the engine, and whether the connection must be
/// closed after the answer (its body was not read to the end).
struct Refused {
    refusal: Refusal,
    close: bool,
}

impl From<Refusal> for Refused {
    fn from(refusal: Refusal) -> Self {
        Self {
            refusal,
            close: false,
        }
    }
}

fn refused(
    error_type: &str,
    status: u16,
    message: impl Into<String>,
    headers: &HeaderMap,
    close: bool,
) -> Refused {
    Refused {
        refusal: Refusal {
            error: ApiError::new(error_type, message, status),
            access_key_id: claimed_access_key_id(headers),
        },
        close,
    }
}

/// The access key id named in an `Authorization` header, unverified: only
/// for the audit record of a request refused before its signature was
/// checked.
fn claimed_access_key_id(headers: &HeaderMap) -> Option<String> {
    let auth = headers.get(hyper::header::AUTHORIZATION)?.to_str().ok()?;
    let id = sanitize_key_id(auth.split("Credential=").nth(1)?.split('/').next()?);
    (!id.is_empty()).then_some(id)
}

fn header_text(
    headers: &HeaderMap,
    name: impl hyper::header::AsHeaderName,
    max: usize,
) -> Option<String> {
    let v = headers.get(name)?;
    let text = String::from_utf8_lossy(v.as_bytes());
    Some(text.chars().filter(|c| !c.is_control()).take(max).collect())
}

/// What a request asks for.
#[derive(Clone, Debug, PartialEq, Eq)]
enum Target {
    /// A KMS operation, `X-Amz-Target: TrentService.<Operation>`.
    Kms(String),
    /// CloudTrail's `LookupEvents`, answered from the store's audit trail.
    LookupEvents,
}

impl Target {
    /// The SigV4 signing name of the target's service.
    fn service(&self) -> &'static str {
        match self {
            Target::Kms(_) => sigv4::SERVICE,
            Target::LookupEvents => sigv4::CLOUDTRAIL_SERVICE,
        }
    }

    fn name(&self) -> String {
        match self {
            Target::Kms(op) => op.clone(),
            Target::LookupEvents => "LookupEvents".into(),
        }
    }
}

/// The operation named by `X-Amz-Target: TrentService.<Operation>` (or
/// CloudTrail's `LookupEvents`).
fn operation(parts: &Parts) -> Result<Target, Refused> {
    let unknown = |message: String| {
        refused(
            "UnknownOperationException",
            400,
            message,
            &parts.headers,
            false,
        )
    };
    if parts.method != Method::POST {
        return Err(unknown(format!(
            "byok serves the AWS KMS JSON protocol: POST / with X-Amz-Target: {TARGET_PREFIX}<Operation>, not {}.",
            parts.method
        )));
    }
    let Some(target) = parts.headers.get("x-amz-target") else {
        return Err(unknown(format!(
            "The request has no X-Amz-Target header (expected {TARGET_PREFIX}<Operation>)."
        )));
    };
    let target = target.to_str().unwrap_or("");
    if target == LOOKUP_EVENTS_TARGET || target == LOOKUP_EVENTS_TARGET_SHORT {
        return Ok(Target::LookupEvents);
    }
    match target.strip_prefix(TARGET_PREFIX) {
        Some(op)
            if !op.is_empty()
                && op.len() <= 64
                && op.bytes().all(|b| b.is_ascii_alphanumeric()) =>
        {
            Ok(Target::Kms(op.to_string()))
        }
        _ => Err(unknown(format!(
            "X-Amz-Target '{}' does not name a KMS operation (expected {TARGET_PREFIX}<Operation>).",
            target
                .chars()
                .filter(|c| c.is_ascii_graphic())
                .take(80)
                .collect::<String>()
        ))),
    }
}

/// The name a refused request is audited under when its target names no
/// operation: what follows the dot, or the whole target, or `Unknown`.
fn audit_name(headers: &HeaderMap) -> String {
    let target = headers
        .get("x-amz-target")
        .map(|t| String::from_utf8_lossy(t.as_bytes()).into_owned());
    let name = target
        .as_deref()
        .map(|t| t.rsplit('.').next().unwrap_or(t))
        .unwrap_or("");
    let name: String = name
        .chars()
        .filter(|c| c.is_ascii_alphanumeric())
        .take(64)
        .collect();
    if name.is_empty() {
        "Unknown".into()
    } else {
        name
    }
}

/// Bodies over the limit are still read and thrown away up to this size, so
/// that the client gets a clean answer instead of a reset connection.
const DRAIN_LIMIT: u64 = 16 << 20;

/// Reads the body within the size and time limits.
async fn read_body(
    shared: &Shared,
    parts: &Parts,
    body: Incoming,
) -> Result<Zeroizing<Vec<u8>>, Refused> {
    let limit = shared.config.max_body_bytes;
    let too_large = |what: String| {
        refused(
            "RequestEntityTooLargeException",
            413,
            format!("The request body {what} is larger than the limit of {limit} bytes."),
            &parts.headers,
            true,
        )
    };
    let declared = parts
        .headers
        .get(CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if let Some(n) = declared.filter(|n| *n > DRAIN_LIMIT) {
        return Err(too_large(format!("of {n} bytes")));
    }
    // Room for the declared length up front: growing would leave copies of
    // plaintexts behind in freed memory.
    let capacity = declared.unwrap_or(0).min(limit as u64) as usize;
    let mut out = Zeroizing::new(Vec::with_capacity(capacity));
    let mut received: u64 = 0;
    let read = async {
        let mut body = body;
        while let Some(frame) = body.frame().await {
            let Ok(frame) = frame else {
                return Err(refused(
                    "SerializationException",
                    400,
                    "The request body could not be read.",
                    &parts.headers,
                    true,
                ));
            };
            if let Ok(data) = frame.into_data() {
                received += data.len() as u64;
                if received > DRAIN_LIMIT {
                    break;
                }
                if received <= limit as u64 {
                    out.extend_from_slice(&data);
                }
            }
        }
        Ok(())
    };
    let result = tokio::time::timeout(shared.config.body_read_timeout, read).await;
    match result {
        Ok(Ok(())) if received > limit as u64 => Err(too_large(match declared {
            Some(n) => format!("of {n} bytes"),
            None => "received".into(),
        })),
        Ok(Ok(())) => Ok(out),
        Ok(Err(r)) => Err(r),
        Err(_) => Err(refused(
            "RequestTimeoutException",
            408,
            format!(
                "The request body was not received within {} seconds.",
                shared.config.body_read_timeout.as_secs_f64()
            ),
            &parts.headers,
            true,
        )),
    }
}

/// Serves one request; never fails (errors are answers).
pub(crate) async fn handle(
    req: Request<Incoming>,
    shared: Arc<Shared>,
    peer: SocketAddr,
) -> Result<Response<ResponseBody>, Infallible> {
    let request_id = uuid::Uuid::new_v4();
    let (parts, body) = req.into_parts();
    let mut caller = Caller {
        source: CallSource::Api,
        access_key_id: None,
        user_agent: header_text(&parts.headers, USER_AGENT, 256),
        source_ip: Some(peer.ip().to_string()),
        region: None,
    };
    let target = operation(&parts);
    let outcome = async {
        let body = read_body(&shared, &parts, body).await?;
        let service = target.as_ref().map_or(sigv4::SERVICE, Target::service);
        let (access_key_id, region) =
            shared
                .verifier()
                .verify_scoped(&parts, &body, SystemTime::now(), service)?;
        caller.access_key_id = Some(access_key_id);
        // The call is made in the region of its credential scope.
        caller.region = Some(region);
        let target = target.as_ref().map_err(|r| Refused {
            refusal: Refusal {
                error: r.refusal.error.clone(),
                access_key_id: caller.access_key_id.clone(),
            },
            close: false,
        })?;
        Ok::<_, Refused>(match target {
            Target::Kms(op) => shared.call(caller.clone(), op.clone(), body).await,
            Target::LookupEvents => shared.lookup_events(body).await,
        })
    }
    .await;
    let (status, json, close) = match outcome {
        Ok(Ok(json)) => (200, json, false),
        Ok(Err(e)) => (e.status, Zeroizing::new(e.to_json()), false),
        Err(Refused { refusal, close }) => {
            let json = Zeroizing::new(refusal.error.to_json());
            let status = refusal.error.status;
            caller.access_key_id = refusal.access_key_id;
            let op = target.map_or_else(|_| audit_name(&parts.headers), |t| t.name());
            let declared = parts
                .headers
                .get(CONTENT_LENGTH)
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.parse::<u64>().ok());
            shared.audit_refusal(caller, op, refusal.error, declared);
            shared.counters.record(status, true);
            return Ok(answer(status, request_id, json, close));
        }
    };
    shared.counters.record(status, false);
    Ok(answer(status, request_id, json, close))
}

/// The answer on a connection the endpoint has no room for (every slot is
/// serving a request, or this connection was closed to make room for a new
/// one): `ThrottlingException` with KMS's own status and message (HTTP 400,
/// "You have exceeded the rate at which you may call KMS. Reduce the
/// frequency of your calls." — AWS KMS Developer Guide, "Throttling AWS
/// KMS requests"), which the AWS SDKs and CLI retry with backoff; the
/// connection closes. Counted as refused; not audited (no
/// request was read, and a flood must not fill the trail).
pub(crate) fn too_many_connections(shared: &Shared) -> Response<ResponseBody> {
    let error = ApiError::new(
        "ThrottlingException",
        "You have exceeded the rate at which you may call KMS. Reduce the frequency of your calls.",
        400,
    );
    shared.counters.record(error.status, true);
    answer(
        error.status,
        uuid::Uuid::new_v4(),
        Zeroizing::new(error.to_json()),
        true,
    )
}

fn answer(status: u16, request_id: uuid::Uuid, json: Body, close: bool) -> Response<ResponseBody> {
    let mut r = Response::new(ResponseBody::new(json));
    *r.status_mut() = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let h = r.headers_mut();
    h.insert(CONTENT_TYPE, HeaderValue::from_static(CONTENT_TYPE_JSON));
    let mut id = [0u8; uuid::fmt::Hyphenated::LENGTH];
    if let Ok(v) = HeaderValue::from_bytes(request_id.hyphenated().encode_lower(&mut id).as_bytes())
    {
        h.insert("x-amzn-requestid", v);
    }
    if close {
        h.insert(CONNECTION, HeaderValue::from_static("close"));
    }
    r
}

/// A response body that wipes its bytes when dropped (Decrypt and
/// GenerateDataKey answers carry plaintexts).
pub struct ResponseBody {
    data: Option<SecretBuf>,
}

impl ResponseBody {
    fn new(json: Body) -> Self {
        Self {
            data: Some(SecretBuf {
                data: json,
                pos: 0,
                _busy: None,
            }),
        }
    }

    /// Keeps the connection marked busy until these bytes are handed to the
    /// socket (so it is not closed to make room while answering).
    pub(crate) fn holding(mut self, busy: BusyGuard) -> Self {
        if let Some(d) = self.data.as_mut() {
            d._busy = Some(busy);
        }
        self
    }
}

impl hyper::body::Body for ResponseBody {
    type Data = SecretBuf;
    type Error = Infallible;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        _: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<SecretBuf>, Infallible>>> {
        Poll::Ready(self.data.take().map(|d| Ok(Frame::data(d))))
    }

    fn is_end_stream(&self) -> bool {
        self.data.is_none()
    }

    fn size_hint(&self) -> SizeHint {
        SizeHint::with_exact(self.data.as_ref().map_or(0, |d| d.remaining() as u64))
    }
}

/// The bytes of a [`ResponseBody`].
pub struct SecretBuf {
    data: Body,
    pos: usize,
    _busy: Option<BusyGuard>,
}

impl Buf for SecretBuf {
    fn remaining(&self) -> usize {
        self.data.len() - self.pos
    }

    fn chunk(&self) -> &[u8] {
        &self.data[self.pos..]
    }

    fn advance(&mut self, n: usize) {
        self.pos = (self.pos + n).min(self.data.len());
    }
}
