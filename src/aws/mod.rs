//! The AWS backend: an AWS account and its regions, reached through
//! `aws-sdk-kms`, behind the same [`Backend`] interface as the local store.
//!
//! It knows the API shapes ([`crate::api::shapes`]) and the SDK, never the
//! engine's internals: a request arrives as the AWS KMS JSON of an
//! operation, is read with the shapes, becomes the SDK call, and the SDK's
//! output goes back into the same shapes' JSON, member for member. So the
//! console and the CLI read an answer from AWS exactly as they read one
//! from the local engine.
//!
//! - **Connection** ([`AwsConnection`]): a profile name, the regions (the
//!   first is the home region) and an optional endpoint URL; never
//!   credentials. Credentials come from the SDK's default chain for that
//!   profile (`~/.aws/config` and `~/.aws/credentials`, SSO, environment
//!   variables, `credential_process`, assume-role), or from an explicit
//!   provider in [`ConnectOptions`] (tests, embedders). [`AwsBackend::connect`]
//!   calls nothing on the network.
//! - **Routing**: a key ARN or alias ARN names its region; the call goes to
//!   that region's client (created on first use). A region outside the
//!   connection is refused before anything is sent
//!   ([`BackendError::Request`]); a key in another account is sent, and AWS
//!   answers (cross-account use of a key is legitimate in AWS when its key
//!   policy allows it).
//! - **Retries**: the SDK's adaptive retry mode (client-side rate limiting
//!   plus exponential backoff). [`AwsBackend::retry_state`] shows throttled
//!   attempts and whether a call is waiting to retry, for "AWS is
//!   throttling; waiting…".
//! - **Record** ([`CallRecorder`]): every call that is not a plain read is
//!   handed to the recorder as a [`CallRecord`], CloudTrail-shaped and
//!   without secrets or blobs.
//! - **History** ([`cloudtrail`]): a key's CloudTrail events.
//!
//! The SDK is async; the backend owns a small tokio runtime and the caller's
//! thread waits for the answer, never longer than the operation timeout plus
//! a margin.

pub mod cloudtrail;
mod errors;
mod ops;
pub mod policy;
mod recorder;
mod retry;

use std::collections::HashMap;
use std::fmt;
use std::future::Future;
use std::sync::{Arc, Mutex, OnceLock, PoisonError};
use std::time::Duration;

use aws_config::retry::RetryConfig;
use aws_config::timeout::TimeoutConfig;
use aws_config::{BehaviorVersion, Region, SdkConfig};
use aws_credential_types::provider::SharedCredentialsProvider;
use aws_smithy_runtime_api::client::http::SharedHttpClient;
use aws_smithy_runtime_api::client::interceptors::SharedInterceptor;
use serde::{Deserialize, Serialize};

use crate::api::Body;
use crate::backend::{Backend, BackendError, BackendInfo, BackendKind};

pub use crate::backend::missing_action as missing_iam_action;
pub use ops::OPERATIONS;
pub use recorder::{CallRecord, CallRecorder, is_recorded, redacted};
pub use retry::{RetryState, RetryWatch};

/// Where an AWS store lives: the profile, the regions, the endpoint. It
/// never holds credentials (those stay where the AWS CLI keeps them).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct AwsConnection {
    /// The named profile of `~/.aws/config`; `None`: the default chain
    /// (environment variables, then the `default` profile, ...).
    pub profile: Option<String>,
    /// The regions of the store; the first is the home region, where calls
    /// without a key ARN go. Empty: the profile's (or `AWS_REGION`'s) region.
    pub regions: Vec<String>,
    /// An endpoint URL in place of AWS's (a local KMS such as `byok serve`
    /// or LocalStack); applies to every region and to CloudTrail.
    pub endpoint_url: Option<String>,
}

/// How [`AwsBackend::connect`] builds its clients. The console and the CLI
/// pass [`ConnectOptions::default`]; tests and embedders may pass explicit
/// credentials, a faster retry schedule or a different HTTP client.
#[derive(Clone)]
pub struct ConnectOptions {
    /// Credentials to use instead of the default chain for the profile.
    pub credentials: Option<SharedCredentialsProvider>,
    /// Attempts per call, the first included (adaptive retry). Default 6.
    pub max_attempts: u32,
    /// The first retry's backoff (then doubling, with jitter). Default 1 s.
    pub initial_backoff: Duration,
    /// The longest backoff between two attempts. Default 20 s.
    pub max_backoff: Duration,
    /// Time to establish a connection. Default 5 s.
    pub connect_timeout: Duration,
    /// Time to wait for the first byte of an answer. Default 30 s.
    pub read_timeout: Duration,
    /// Time for one attempt. Default 45 s.
    pub attempt_timeout: Duration,
    /// Time for a whole call, retries included. Default 120 s; the caller's
    /// thread waits at most this plus 5 s.
    pub operation_timeout: Duration,
    /// An HTTP client in place of the SDK's default (rustls + aws-lc).
    pub http_client: Option<SharedHttpClient>,
    /// Interceptors added to every client (for example
    /// `aws_smithy_mocks::MockResponseInterceptor` in tests).
    pub interceptors: Vec<SharedInterceptor>,
}

impl Default for ConnectOptions {
    fn default() -> Self {
        Self {
            credentials: None,
            max_attempts: 6,
            initial_backoff: Duration::from_secs(1),
            max_backoff: Duration::from_secs(20),
            connect_timeout: Duration::from_secs(5),
            read_timeout: Duration::from_secs(30),
            attempt_timeout: Duration::from_secs(45),
            operation_timeout: Duration::from_secs(120),
            http_client: None,
            interceptors: Vec::new(),
        }
    }
}

impl fmt::Debug for ConnectOptions {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Never the credentials themselves.
        f.debug_struct("ConnectOptions")
            .field(
                "credentials",
                &self.credentials.as_ref().map(|_| "explicit provider"),
            )
            .field("max_attempts", &self.max_attempts)
            .field("initial_backoff", &self.initial_backoff)
            .field("max_backoff", &self.max_backoff)
            .field("connect_timeout", &self.connect_timeout)
            .field("read_timeout", &self.read_timeout)
            .field("attempt_timeout", &self.attempt_timeout)
            .field("operation_timeout", &self.operation_timeout)
            .field("http_client", &self.http_client.as_ref().map(|_| "custom"))
            .field("interceptors", &self.interceptors.len())
            .finish()
    }
}

/// An AWS account (or an endpoint that speaks for one) as a [`Backend`].
pub struct AwsBackend {
    connection: AwsConnection,
    home: String,
    sdk: SdkConfig,
    interceptors: Vec<SharedInterceptor>,
    kms: Mutex<HashMap<String, aws_sdk_kms::Client>>,
    cloudtrail: Mutex<HashMap<String, aws_sdk_cloudtrail::Client>>,
    runtime: tokio::runtime::Runtime,
    retry: Arc<retry::Shared>,
    recorder: Option<Arc<dyn CallRecorder>>,
    account: OnceLock<String>,
    wait_bound: Duration,
    /// Whether the profile signs in through IAM Identity Center.
    sso: bool,
}

impl fmt::Debug for AwsBackend {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AwsBackend")
            .field("connection", &self.connection)
            .field("home", &self.home)
            .finish_non_exhaustive()
    }
}

impl AwsBackend {
    /// Builds the SDK configuration for `connection`: its profile (or
    /// `options.credentials`), its home region, its endpoint URL, adaptive
    /// retry and bounded timeouts. Reads the AWS configuration files but
    /// calls nothing: a wrong profile or an expired session shows at the
    /// first call.
    pub fn connect(
        connection: &AwsConnection,
        options: ConnectOptions,
    ) -> Result<AwsBackend, BackendError> {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .thread_name("byok-aws")
            .enable_all()
            .build()
            .map_err(|e| BackendError::Configuration {
                detail: format!("cannot start the AWS client's threads: {e}"),
            })?;
        if let Some(url) = &connection.endpoint_url {
            check_endpoint_url(url)?;
        }
        let wait_bound = options.operation_timeout + Duration::from_secs(5);
        let home = match connection.regions.first() {
            Some(r) => r.clone(),
            None => {
                let profile = connection.profile.clone();
                run_bounded(&runtime, wait_bound, async move {
                    default_region(profile.as_deref()).await
                })
                .flatten()
                .ok_or_else(|| BackendError::Configuration {
                    // botocore's NoRegionError (botocore/exceptions.py).
                    detail: "You must specify a region. Pass --region, or set region in the \
                             profile or AWS_REGION."
                        .to_string(),
                })?
            }
        };
        for r in connection.regions.iter().chain(std::iter::once(&home)) {
            check_region(r)?;
        }
        let retry_config = RetryConfig::adaptive()
            .with_max_attempts(options.max_attempts.max(1))
            .with_initial_backoff(options.initial_backoff)
            .with_max_backoff(options.max_backoff);
        let timeouts = TimeoutConfig::builder()
            .connect_timeout(options.connect_timeout)
            .read_timeout(options.read_timeout)
            .operation_attempt_timeout(options.attempt_timeout)
            .operation_timeout(options.operation_timeout)
            .build();
        let mut loader = aws_config::defaults(BehaviorVersion::latest())
            .region(Region::new(home.clone()))
            .retry_config(retry_config)
            .timeout_config(timeouts);
        if let Some(p) = &connection.profile {
            loader = loader.profile_name(p);
        }
        if let Some(u) = &connection.endpoint_url {
            loader = loader.endpoint_url(u);
        }
        if let Some(c) = options.credentials {
            loader = loader.credentials_provider(c);
        }
        if let Some(h) = options.http_client {
            loader = loader.http_client(h);
        }
        let sdk = run_bounded(&runtime, wait_bound, loader.load()).ok_or_else(|| {
            BackendError::Configuration {
                detail: "the AWS configuration could not be read in time".to_string(),
            }
        })?;
        Ok(AwsBackend {
            connection: AwsConnection {
                regions: if connection.regions.is_empty() {
                    vec![home.clone()]
                } else {
                    connection.regions.clone()
                },
                ..connection.clone()
            },
            home,
            sdk,
            interceptors: options.interceptors,
            kms: Mutex::new(HashMap::new()),
            cloudtrail: Mutex::new(HashMap::new()),
            runtime,
            retry: Arc::new(retry::Shared::default()),
            recorder: None,
            account: OnceLock::new(),
            wait_bound,
            sso: errors::profile_uses_sso(connection.profile.as_deref()),
        })
    }

    /// Hands every call that is not a plain read (see [`is_recorded`]) to
    /// `recorder`.
    pub fn with_recorder(mut self, recorder: Arc<dyn CallRecorder>) -> Self {
        self.recorder = Some(recorder);
        self
    }

    /// The connection (with the resolved home region first).
    pub fn connection(&self) -> &AwsConnection {
        &self.connection
    }

    /// The home region.
    pub fn home_region(&self) -> &str {
        &self.home
    }

    /// A handle that reads [`AwsBackend::retry_state`] from anywhere.
    pub fn retry_watch(&self) -> RetryWatch {
        RetryWatch(self.retry.clone())
    }

    /// Throttled attempts since connecting, and whether a call is waiting
    /// to retry after one right now.
    pub fn retry_state(&self) -> RetryState {
        self.retry.snapshot()
    }

    /// The command that fixes `error` for this connection, when there is
    /// one: the `fix` of a credentials error, or for AWS's
    /// `ExpiredTokenException` (expired temporary credentials) of an SSO
    /// profile, `aws sso login --profile <p>`.
    pub fn fix_for(&self, error: &BackendError) -> Option<String> {
        match error {
            BackendError::Credentials { fix, .. } => fix.clone(),
            BackendError::Service(e) if self.sso && errors::is_expired_token(&e.error_type) => {
                Some(errors::sign_in_fix(self.connection.profile.as_deref()))
            }
            _ => None,
        }
    }

    /// The region a request goes to: that of the first key ARN or alias
    /// ARN among its key members, else the home region. A region outside
    /// the connection is refused.
    fn route(&self, operation: &str, request: &[u8]) -> Result<String, BackendError> {
        match crate::backend::arn_region(request) {
            None => Ok(self.home.clone()),
            Some((arn, region)) => {
                if self.connection.regions.contains(&region) {
                    Ok(region)
                } else {
                    Err(BackendError::Request {
                        operation: operation.to_string(),
                        detail: format!(
                            "{arn} is in region {region}, which this connection does not \
                             include ({}); add the region to the connection",
                            self.connection.regions.join(", ")
                        ),
                    })
                }
            }
        }
    }

    /// The endpoint calls to `region` go to, for error messages.
    fn endpoint(&self, service: &str, region: &str) -> String {
        match &self.connection.endpoint_url {
            Some(u) => u.clone(),
            None => format!("https://{service}.{region}.amazonaws.com/"),
        }
    }

    fn kms_client(&self, region: &str) -> aws_sdk_kms::Client {
        let mut clients = self.kms.lock().unwrap_or_else(PoisonError::into_inner);
        clients
            .entry(region.to_string())
            .or_insert_with(|| {
                let mut b = aws_sdk_kms::config::Builder::from(&self.sdk)
                    .region(Region::new(region.to_string()));
                for i in &self.interceptors {
                    b.push_interceptor(i.clone());
                }
                aws_sdk_kms::Client::from_conf(b.build())
            })
            .clone()
    }

    fn cloudtrail_client(&self, region: &str) -> aws_sdk_cloudtrail::Client {
        let mut clients = self
            .cloudtrail
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        clients
            .entry(region.to_string())
            .or_insert_with(|| {
                let mut b = aws_sdk_cloudtrail::config::Builder::from(&self.sdk)
                    .region(Region::new(region.to_string()));
                for i in &self.interceptors {
                    b.push_interceptor(i.clone());
                }
                aws_sdk_cloudtrail::Client::from_conf(b.build())
            })
            .clone()
    }

    /// Runs `future` on the backend's runtime; the calling thread waits at
    /// most the operation timeout plus a margin.
    fn block_on<T: Send + 'static>(
        &self,
        future: impl Future<Output = T> + Send + 'static,
    ) -> Option<T> {
        run_bounded(&self.runtime, self.wait_bound, future)
    }

    fn no_answer(&self, region: &str) -> BackendError {
        BackendError::Unreachable {
            endpoint: self.endpoint("kms", region),
            detail: format!("no answer within {} s", self.wait_bound.as_secs()),
        }
    }

    #[allow(clippy::too_many_arguments)]
    fn record(
        &self,
        started: std::time::SystemTime,
        region: &str,
        operation: &str,
        request: &[u8],
        result: &Result<Body, BackendError>,
        request_id: Option<String>,
        attempts: u32,
    ) {
        if let Some(recorder) = &self.recorder
            && is_recorded(operation)
        {
            let record = CallRecord::new(
                started, region, operation, request, result, request_id, attempts,
            );
            recorder.record(&record);
        }
    }

    fn learn_account(&self, operation: &str, body: &[u8]) {
        if self.account.get().is_none()
            && let Some(account) = ops::own_account(operation, body)
        {
            let _ = self.account.set(account);
        }
    }
}

impl AwsBackend {
    /// Sends `operation` to `region` (already checked to be one of the
    /// connection's), records it, and answers.
    fn send_to(
        &self,
        region: &str,
        started: std::time::SystemTime,
        operation: &str,
        request: &[u8],
    ) -> Result<Body, BackendError> {
        let client = self.kms_client(region);
        let observer = retry::CallObserver::new(self.retry.clone());
        let stats = observer.stats();
        let op = operation.to_string();
        let req = zeroize::Zeroizing::new(request.to_vec());
        let cx = errors::Context {
            operation: operation.to_string(),
            endpoint: self.endpoint("kms", region),
            profile: self.connection.profile.clone(),
            sso: self.sso,
        };
        let result = self
            .block_on(async move {
                let _guard = retry::WaitGuard(observer.clone());
                ops::run(&client, &op, &req, observer, &cx).await
            })
            .unwrap_or_else(|| Err(self.no_answer(region)));
        if let Ok(body) = &result {
            self.learn_account(operation, body);
        }
        self.record(
            started,
            region,
            operation,
            request,
            &result,
            stats.request_id(),
            stats.attempts(),
        );
        result
    }

    /// The connection's `region` as a backend of its own: every call goes
    /// there (ListKeys and ListAliases of that region), a key ARN of
    /// another region is refused before sending.
    pub fn in_region(self: &Arc<Self>, region: &str) -> Result<RegionalBackend, BackendError> {
        if !self.connection.regions.iter().any(|r| r == region) {
            return Err(BackendError::Request {
                operation: "ListKeys".to_string(),
                detail: format!(
                    "region {region} is not one of this connection's ({})",
                    self.connection.regions.join(", ")
                ),
            });
        }
        Ok(RegionalBackend {
            inner: self.clone(),
            region: region.to_string(),
        })
    }
}

/// One region of an AWS connection (see [`AwsBackend::in_region`]).
pub struct RegionalBackend {
    inner: Arc<AwsBackend>,
    region: String,
}

impl RegionalBackend {
    /// The region.
    pub fn region(&self) -> &str {
        &self.region
    }
}

impl Backend for RegionalBackend {
    fn call(&self, operation: &str, request: &[u8]) -> Result<Body, BackendError> {
        let started = std::time::SystemTime::now();
        let checked =
            ops::check_operation(operation).and_then(|()| {
                match crate::backend::arn_region(request) {
                    Some((arn, r)) if r != self.region => Err(BackendError::Request {
                        operation: operation.to_string(),
                        detail: format!("{arn} is not in region {}", self.region),
                    }),
                    _ => Ok(()),
                }
            });
        if let Err(e) = checked {
            self.inner.record(
                started,
                &self.region,
                operation,
                request,
                &Err(e.clone()),
                None,
                0,
            );
            return Err(e);
        }
        self.inner
            .send_to(&self.region, started, operation, request)
    }

    fn info(&self) -> BackendInfo {
        BackendInfo {
            region: self.region.clone(),
            ..self.inner.info()
        }
    }
}

impl Backend for AwsBackend {
    fn call(&self, operation: &str, request: &[u8]) -> Result<Body, BackendError> {
        let started = std::time::SystemTime::now();
        let region = ops::check_operation(operation).and_then(|()| self.route(operation, request));
        let region = match region {
            Ok(r) => r,
            Err(e) => {
                // Refused before sending: recorded too (0 attempts), so the
                // trail shows what was asked.
                self.record(
                    started,
                    &self.home,
                    operation,
                    request,
                    &Err(e.clone()),
                    None,
                    0,
                );
                return Err(e);
            }
        };
        self.send_to(&region, started, operation, request)
    }

    fn info(&self) -> BackendInfo {
        BackendInfo {
            kind: BackendKind::Aws,
            account: self.account.get().cloned(),
            region: self.home.clone(),
            regions: self.connection.regions.clone(),
            profile: self.connection.profile.clone(),
            endpoint: self.connection.endpoint_url.clone(),
        }
    }
}

/// Runs `future` on `runtime` and waits for it at most `bound`; `None`
/// when it did not finish in time (it is then cancelled). Works from any
/// thread, also one that runs another tokio runtime.
fn run_bounded<T: Send + 'static>(
    runtime: &tokio::runtime::Runtime,
    bound: Duration,
    future: impl Future<Output = T> + Send + 'static,
) -> Option<T> {
    let (tx, rx) = std::sync::mpsc::sync_channel(1);
    let task = runtime.spawn(async move {
        let _ = tx.send(future.await);
    });
    match rx.recv_timeout(bound) {
        Ok(v) => Some(v),
        Err(_) => {
            task.abort();
            None
        }
    }
}

/// The region of the profile or the environment, without the instance
/// metadata service (a desktop has none, and nothing may leave for it).
async fn default_region(profile: Option<&str>) -> Option<String> {
    use aws_config::meta::region::ProvideRegion;
    if let Some(r) = aws_config::environment::EnvironmentVariableRegionProvider::new()
        .region()
        .await
    {
        return Some(r.to_string());
    }
    let mut b = aws_config::profile::ProfileFileRegionProvider::builder();
    if let Some(p) = profile {
        b = b.profile_name(p);
    }
    b.build().region().await.map(|r| r.to_string())
}

/// A region name as AWS spells them (`us-east-1`, `eu-central-2`,
/// `us-gov-west-1`): lowercase letters, digits and hyphens.
fn check_region(region: &str) -> Result<(), BackendError> {
    let ok = !region.is_empty()
        && region.len() <= 50
        && region
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        && !region.starts_with('-')
        && !region.ends_with('-');
    if ok {
        Ok(())
    } else {
        // botocore's InvalidRegionError (botocore/exceptions.py).
        Err(BackendError::Configuration {
            detail: format!("Provided region_name '{region}' doesn't match a supported format."),
        })
    }
}

/// The AWS CLI's own check and words (awscli's `_resolve_endpoint_url`).
fn check_endpoint_url(url: &str) -> Result<(), BackendError> {
    let ok = (url.starts_with("http://") || url.starts_with("https://"))
        && url.len() > "https://".len()
        && !url.contains(char::is_whitespace);
    if ok {
        Ok(())
    } else {
        Err(BackendError::Configuration {
            detail: format!(
                "Bad value for --endpoint-url \"{url}\": scheme is missing.  Must be of the form \
                 http://<hostname>/ or https://<hostname>/"
            ),
        })
    }
}

/// The profile names of the AWS configuration files (`AWS_CONFIG_FILE`,
/// else `~/.aws/config`: `[default]` and `[profile NAME]`;
/// `AWS_SHARED_CREDENTIALS_FILE`, else `~/.aws/credentials`: `[NAME]`),
/// sorted, for the console to offer. Only reads the files; a missing or
/// unreadable file gives no names.
pub fn profiles() -> Vec<String> {
    let home = std::env::var_os("HOME").map(std::path::PathBuf::from);
    let file = |var: &str, name: &str| {
        std::env::var_os(var)
            .map(std::path::PathBuf::from)
            .or_else(|| home.as_ref().map(|h| h.join(".aws").join(name)))
    };
    let mut names = std::collections::BTreeSet::new();
    for (path, config) in [
        (file("AWS_CONFIG_FILE", "config"), true),
        (file("AWS_SHARED_CREDENTIALS_FILE", "credentials"), false),
    ] {
        let Some(text) = path.and_then(|p| std::fs::read_to_string(p).ok()) else {
            continue;
        };
        names.extend(profile_names(&text, config));
    }
    names.into_iter().collect()
}

/// The profile names in the text of a config file (`config`: sections
/// `[default]` and `[profile NAME]`; else a credentials file: `[NAME]`).
fn profile_names(text: &str, config: bool) -> Vec<String> {
    text.lines()
        .filter_map(|l| {
            let l = l.trim();
            let inner = l.strip_prefix('[')?.strip_suffix(']')?.trim();
            let name = if config {
                if inner == "default" {
                    "default"
                } else {
                    inner.strip_prefix("profile")?.trim()
                }
            } else {
                inner
            };
            (!name.is_empty() && !name.contains(char::is_whitespace)).then(|| name.to_string())
        })
        .collect()
}

#[cfg(test)]
mod profile_tests {
    use super::profile_names;

    #[test]
    fn profile_sections_of_both_files() {
        // The section syntax of the AWS CLI's "Configuration and credential
        // file settings" page: [default], [profile NAME] in config (and
        // [sso-session NAME], which is not a profile); [NAME] in credentials.
        let config = "[default]\nregion = us-east-1\n[profile prod]\nsso_session = corp\n[sso-session corp]\nsso_region = eu-west-1\n";
        assert_eq!(profile_names(config, true), ["default", "prod"]);
        assert_eq!(
            profile_names("[default]\naws_access_key_id = x\n[ci]\n", false),
            ["default", "ci"]
        );
    }
}
