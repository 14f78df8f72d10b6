//! Throttling as a wait: an interceptor on every call counts its attempts,
//! notes AWS's request id, and tells the backend when an attempt was
//! throttled and the SDK's adaptive retry is waiting to try again.

use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, PoisonError};

use aws_smithy_runtime_api::box_error::BoxError;
use aws_smithy_runtime_api::client::interceptors::Intercept;
use aws_smithy_runtime_api::client::interceptors::context::{
    BeforeTransmitInterceptorContextRef, FinalizerInterceptorContextRef,
};
use aws_smithy_runtime_api::client::orchestrator::HttpResponse;
use aws_smithy_runtime_api::client::runtime_components::RuntimeComponents;
use aws_smithy_types::config_bag::ConfigBag;

/// What the console shows while AWS throttles.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct RetryState {
    /// Attempts AWS answered with a throttling error, since connecting.
    pub throttled_attempts: u64,
    /// Whether a call is waiting to retry after a throttled attempt now.
    pub waiting: bool,
}

/// A cheap, shareable reading of a backend's throttling, for a screen that
/// polls it every frame while the worker waits on a throttled call.
#[derive(Clone, Debug)]
pub struct RetryWatch(pub(crate) Arc<Shared>);

impl RetryWatch {
    /// The state now.
    pub fn state(&self) -> RetryState {
        self.0.snapshot()
    }
}

/// The backend's counters, shared by all calls.
#[derive(Debug, Default)]
pub(crate) struct Shared {
    throttled: AtomicU64,
    waiting: AtomicUsize,
}

impl Shared {
    pub(crate) fn snapshot(&self) -> RetryState {
        RetryState {
            throttled_attempts: self.throttled.load(Ordering::Relaxed),
            waiting: self.waiting.load(Ordering::Relaxed) > 0,
        }
    }
}

/// One call's counters.
#[derive(Debug, Default)]
pub(crate) struct CallStats {
    attempts: AtomicU32,
    throttled: AtomicU32,
    waiting: AtomicBool,
    request_id: Mutex<Option<String>>,
}

impl CallStats {
    /// Attempts made (1 when the first one answered).
    pub(crate) fn attempts(&self) -> u32 {
        self.attempts.load(Ordering::Relaxed)
    }

    /// Attempts that were throttled.
    #[allow(dead_code)]
    pub(crate) fn throttled(&self) -> u32 {
        self.throttled.load(Ordering::Relaxed)
    }

    /// AWS's request id of the last answer (`x-amzn-requestid`).
    pub(crate) fn request_id(&self) -> Option<String> {
        self.request_id
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }
}

/// The interceptor of one call.
#[derive(Clone, Debug)]
pub(crate) struct CallObserver {
    shared: Arc<Shared>,
    call: Arc<CallStats>,
}

impl CallObserver {
    pub(crate) fn new(shared: Arc<Shared>) -> Self {
        Self {
            shared,
            call: Arc::new(CallStats::default()),
        }
    }

    pub(crate) fn stats(&self) -> Arc<CallStats> {
        self.call.clone()
    }

    fn stop_waiting(&self) {
        if self.call.waiting.swap(false, Ordering::Relaxed) {
            self.shared.waiting.fetch_sub(1, Ordering::Relaxed);
        }
    }
}

/// The error codes AWS's SDKs treat as throttling (the smithy-rs list,
/// `aws-runtime`'s `THROTTLING_ERRORS`); KMS answers `ThrottlingException`.
const THROTTLING_CODES: &[&str] = &[
    "Throttling",
    "ThrottlingException",
    "ThrottledException",
    "RequestThrottledException",
    "TooManyRequestsException",
    "ProvisionedThroughputExceededException",
    "TransactionInProgressException",
    "RequestLimitExceeded",
    "BandwidthLimitExceeded",
    "LimitExceededException",
    "RequestThrottled",
    "SlowDown",
    "PriorRequestNotComplete",
    "EC2ThrottledException",
];

/// The AWS error code of an answer: the `X-Amzn-ErrorType` header, else the
/// body's `__type` (`com.amazonaws.kms#ThrottlingException` or bare).
pub(crate) fn error_code(response: &HttpResponse) -> Option<String> {
    if response.status().is_success() {
        return None;
    }
    let strip = |s: &str| {
        let s = s.split(':').next().unwrap_or(s);
        s.rsplit('#').next().unwrap_or(s).trim().to_string()
    };
    if let Some(h) = response.headers().get("x-amzn-errortype") {
        return Some(strip(h));
    }
    #[derive(serde::Deserialize)]
    struct ErrorBody {
        #[serde(rename = "__type")]
        error_type: Option<String>,
        code: Option<String>,
    }
    let body: ErrorBody = serde_json::from_slice(response.body().bytes()?).ok()?;
    body.error_type.or(body.code).map(|t| strip(&t))
}

fn is_throttled(response: &HttpResponse) -> bool {
    if response.status().as_u16() == 429 {
        return true;
    }
    // LimitExceededException is throttling for some services, but for KMS
    // it is a quota (the 25 on-demand rotations): never a wait.
    error_code(response)
        .is_some_and(|c| c != "LimitExceededException" && THROTTLING_CODES.contains(&c.as_str()))
}

impl Intercept for CallObserver {
    fn name(&self) -> &'static str {
        "byok-call-observer"
    }

    fn read_before_attempt(
        &self,
        _context: &BeforeTransmitInterceptorContextRef<'_>,
        _runtime_components: &RuntimeComponents,
        _cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        self.call.attempts.fetch_add(1, Ordering::Relaxed);
        self.stop_waiting();
        Ok(())
    }

    fn read_after_attempt(
        &self,
        context: &FinalizerInterceptorContextRef<'_>,
        _runtime_components: &RuntimeComponents,
        _cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        let Some(response) = context.response() else {
            return Ok(());
        };
        if let Some(id) = response
            .headers()
            .get("x-amzn-requestid")
            .or_else(|| response.headers().get("x-amz-request-id"))
        {
            *self
                .call
                .request_id
                .lock()
                .unwrap_or_else(PoisonError::into_inner) = Some(id.to_string());
        }
        if is_throttled(response) {
            self.call.throttled.fetch_add(1, Ordering::Relaxed);
            self.shared.throttled.fetch_add(1, Ordering::Relaxed);
            if !self.call.waiting.swap(true, Ordering::Relaxed) {
                self.shared.waiting.fetch_add(1, Ordering::Relaxed);
            }
        }
        Ok(())
    }

    fn read_after_execution(
        &self,
        _context: &FinalizerInterceptorContextRef<'_>,
        _runtime_components: &RuntimeComponents,
        _cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        self.stop_waiting();
        Ok(())
    }
}

/// Clears the waiting flag of a call whose future was dropped (cancelled
/// after the caller's bound) before the SDK ran `read_after_execution`.
pub(crate) struct WaitGuard(pub(crate) CallObserver);

impl Drop for WaitGuard {
    fn drop(&mut self) {
        self.0.stop_waiting();
    }
}
