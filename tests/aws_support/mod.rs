//! Shared by the `aws_*` tests: a `byok serve` endpoint started in process
//! on 127.0.0.1 port 0 over a throwaway store, an `AwsBackend` pointed at
//! it with the store's API credentials (a static provider, so nothing from
//! the user's own AWS setup is read), and the ceremony's helpers.
#![allow(dead_code)]

#[path = "../common/mod.rs"]
pub mod common;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use aws_credential_types::Credentials;
use aws_credential_types::provider::SharedCredentialsProvider;
use byok::api::op;
use byok::api::shapes::*;
use byok::api::wire::Blob;
use byok::aws::{AwsBackend, AwsConnection, ConnectOptions};
use byok::backend::send;
use byok::kms::{KeyId, Settings, WrappingAlgorithm, wrap_material};
use byok::serve::{Endpoint, EndpointConfig};
use byok::store::clock::SystemClock;
use byok::store::format::KdfParams;
use byok::store::{Vault, VaultOptions};

/// A store served on loopback.
pub struct Served {
    pub dir: tempfile::TempDir,
    pub vault: Arc<Mutex<Vault>>,
    pub endpoint: Option<Endpoint>,
    pub access_key_id: String,
    pub secret: String,
    pub region: String,
    pub account: String,
}

impl Served {
    /// A new store (rotations complete after `rotation_delay_ms`) and its
    /// endpoint.
    pub fn start(rotation_delay_ms: u64) -> Served {
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("store.byok");
        let options = VaultOptions {
            clock: Arc::new(SystemClock),
            wrapping_keys: Box::new(common::test_keys()),
            kdf: KdfParams::INSECURE_FAST,
            settings: Settings {
                rotation_delay_ms,
                ..Settings::default()
            },
        };
        let vault = Vault::create(&path, &common::pass("aws backend tests"), options)
            .expect("create the store");
        let creds = vault.api_credentials().clone();
        let region = vault.kms().settings().region.clone();
        let account = vault.kms().settings().account_id.clone();
        let vault = Arc::new(Mutex::new(vault));
        let mut config = EndpointConfig::new("127.0.0.1:0".parse().expect("addr"));
        config.tick_interval = Some(Duration::from_millis(50));
        let endpoint =
            Endpoint::start_with(Arc::clone(&vault), config).expect("start the endpoint");
        Served {
            dir,
            vault,
            endpoint: Some(endpoint),
            access_key_id: creds.access_key_id.clone(),
            secret: creds.secret_str().to_string(),
            region,
            account,
        }
    }

    pub fn url(&self) -> String {
        format!(
            "http://{}",
            self.endpoint.as_ref().expect("running").local_addr()
        )
    }

    pub fn requests_served(&self) -> u64 {
        self.endpoint.as_ref().expect("running").requests_served()
    }

    /// The store's API credentials as an explicit static provider.
    pub fn credentials(&self) -> SharedCredentialsProvider {
        SharedCredentialsProvider::new(Credentials::new(
            &self.access_key_id,
            &self.secret,
            None,
            None,
            "byok-tests",
        ))
    }

    /// Options for tests: the store's credentials, quick retries, short
    /// timeouts.
    pub fn options(&self) -> ConnectOptions {
        ConnectOptions {
            credentials: Some(self.credentials()),
            max_attempts: 3,
            initial_backoff: Duration::from_millis(20),
            max_backoff: Duration::from_millis(200),
            connect_timeout: Duration::from_secs(2),
            read_timeout: Duration::from_secs(10),
            attempt_timeout: Duration::from_secs(15),
            operation_timeout: Duration::from_secs(30),
            ..ConnectOptions::default()
        }
    }

    pub fn connection(&self, regions: &[&str]) -> AwsConnection {
        AwsConnection {
            profile: None,
            regions: regions.iter().map(|r| r.to_string()).collect(),
            endpoint_url: Some(self.url()),
        }
    }

    /// An AWS backend for this endpoint, in the store's region.
    pub fn backend(&self) -> AwsBackend {
        AwsBackend::connect(&self.connection(&[&self.region]), self.options()).expect("connect")
    }

    pub fn arn(&self, key_id: &str) -> String {
        format!("arn:aws:kms:{}:{}:key/{key_id}", self.region, self.account)
    }
}

impl Drop for Served {
    fn drop(&mut self) {
        if let Some(e) = self.endpoint.take() {
            e.stop();
        }
    }
}

/// RSAES_OAEP_SHA_256 with a 4096-bit wrapping key, as the walkthrough.
pub fn params(b: &AwsBackend, key_id: &str) -> GetParametersForImportOutput {
    send::<op::GetParametersForImport>(
        b,
        &GetParametersForImportInput {
            key_id: Some(key_id.to_string()),
            wrapping_algorithm: Some("RSAES_OAEP_SHA_256".into()),
            wrapping_key_spec: Some("RSA_4096".into()),
        },
    )
    .expect("GetParametersForImport")
}

/// `material` wrapped for `public_key` with RSAES_OAEP_SHA_256.
pub fn wrap(public_key: &Blob, material: &[u8; 32]) -> Blob {
    let wrapped = wrap_material(
        public_key.bytes(),
        WrappingAlgorithm::RsaesOaepSha256,
        material,
        &mut rand::rng(),
    )
    .expect("wrap");
    Blob::from(wrapped)
}

pub fn material() -> [u8; 32] {
    let mut m = [0u8; 32];
    rand::fill(&mut m);
    m
}

/// The [byok] material id of `material` in `key_id` (SPEC §1).
pub fn material_id(key_id: &str, material: &[u8; 32]) -> String {
    let key = KeyId::parse(key_id).expect("key id");
    byok::kms::material::key_material_id(key, material).to_string()
}

pub fn import(
    b: &AwsBackend,
    key_id: &str,
    token: &Blob,
    wrapped: &Blob,
    import_type: Option<&str>,
    description: Option<&str>,
) -> Result<KeyMaterialOutput, byok::backend::BackendError> {
    send::<op::ImportKeyMaterial>(
        b,
        &ImportKeyMaterialInput {
            key_id: Some(key_id.to_string()),
            import_token: Some(token.clone()),
            encrypted_key_material: Some(wrapped.clone()),
            expiration_model: Some("KEY_MATERIAL_DOES_NOT_EXPIRE".into()),
            import_type: import_type.map(str::to_string),
            key_material_description: description.map(str::to_string),
            ..Default::default()
        },
    )
}

pub fn describe(b: &AwsBackend, key_id: &str) -> KeyMetadata {
    send::<op::DescribeKey>(
        b,
        &KeyIdInput {
            key_id: Some(key_id.to_string()),
        },
    )
    .expect("DescribeKey")
    .key_metadata
}

pub fn rotations(b: &AwsBackend, key_id: &str) -> Vec<RotationsListEntryShape> {
    send::<op::ListKeyRotations>(
        b,
        &ListKeyRotationsInput {
            key_id: Some(key_id.to_string()),
            include_key_material: Some("ALL_KEY_MATERIAL".into()),
            ..Default::default()
        },
    )
    .expect("ListKeyRotations")
    .rotations
}

pub fn create_external(b: &AwsBackend, description: &str) -> KeyMetadata {
    send::<op::CreateKey>(
        b,
        &CreateKeyInput {
            origin: Some("EXTERNAL".into()),
            description: Some(description.into()),
            ..Default::default()
        },
    )
    .expect("CreateKey")
    .key_metadata
}

/// What the [`Proxy`] does with a request.
#[derive(Clone, Debug, Default)]
pub struct ProxyRules {
    /// Answer this many calls of `throttle_op` with ThrottlingException.
    pub throttle: u32,
    /// The operation throttled (`ImportKeyMaterial`).
    pub throttle_op: String,
}

/// A proxy in front of an endpoint, standing in for what AWS does and a
/// network does: it forwards requests, can answer an operation with AWS's
/// ThrottlingException a number of times, and can stop listening (the
/// port then refuses connections) and listen again on the same port.
pub struct Proxy {
    pub addr: std::net::SocketAddr,
    target: std::net::SocketAddr,
    pub rules: Arc<Mutex<ProxyRules>>,
    /// Calls of each operation that reached the proxy.
    pub seen: Arc<Mutex<Vec<String>>>,
    runtime: tokio::runtime::Runtime,
    task: Option<tokio::task::JoinHandle<()>>,
    /// The open connections (closed by `pause`, as a network loss would).
    connections: Arc<Mutex<Vec<tokio::task::JoinHandle<()>>>>,
}

/// AWS's throttling answer: status 400 and the message of "Throttling AWS
/// KMS requests", AWS KMS Developer Guide
/// (https://docs.aws.amazon.com/kms/latest/developerguide/throttling.html).
pub const THROTTLED: &str = r#"{"__type":"ThrottlingException","message":"You have exceeded the rate at which you may call KMS. Reduce the frequency of your calls."}"#;

impl Proxy {
    /// A proxy on 127.0.0.1 (a free port) in front of `target`.
    pub fn start(target: std::net::SocketAddr) -> Proxy {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .expect("runtime");
        let listener = runtime
            .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
            .expect("bind");
        let addr = listener.local_addr().expect("addr");
        let mut p = Proxy {
            addr,
            target,
            rules: Arc::default(),
            seen: Arc::default(),
            runtime,
            task: None,
            connections: Arc::default(),
        };
        p.serve(listener);
        p
    }

    fn serve(&mut self, listener: tokio::net::TcpListener) {
        let (rules, seen, target) = (self.rules.clone(), self.seen.clone(), self.target);
        let connections = self.connections.clone();
        self.task = Some(self.runtime.spawn(async move {
            loop {
                let Ok((stream, _)) = listener.accept().await else {
                    return;
                };
                let (rules, seen) = (rules.clone(), seen.clone());
                let handle = tokio::spawn(async move {
                    let service = hyper::service::service_fn(move |req| {
                        forward(req, target, rules.clone(), seen.clone())
                    });
                    let _ = hyper::server::conn::http1::Builder::new()
                        .serve_connection(hyper_util::rt::TokioIo::new(stream), service)
                        .await;
                });
                connections.lock().unwrap().push(handle);
            }
        }));
    }

    /// Stops listening and drops every open connection: new connections
    /// to the port are refused.
    pub fn pause(&mut self) {
        if let Some(t) = self.task.take() {
            t.abort();
            let _ = self.runtime.block_on(t);
        }
        for c in self.connections.lock().unwrap().drain(..) {
            c.abort();
        }
    }

    /// Listens again on the same port.
    pub fn resume(&mut self) {
        let listener = self
            .runtime
            .block_on(tokio::net::TcpListener::bind(self.addr))
            .expect("bind the same port again");
        self.serve(listener);
    }

    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// How many calls of `op` reached the proxy.
    pub fn calls_of(&self, op: &str) -> usize {
        self.seen
            .lock()
            .unwrap()
            .iter()
            .filter(|o| *o == op)
            .count()
    }
}

impl Drop for Proxy {
    fn drop(&mut self) {
        self.pause();
    }
}

async fn forward(
    req: hyper::Request<hyper::body::Incoming>,
    target: std::net::SocketAddr,
    rules: Arc<Mutex<ProxyRules>>,
    seen: Arc<Mutex<Vec<String>>>,
) -> Result<hyper::Response<http_body_util::Full<bytes::Bytes>>, std::convert::Infallible> {
    use http_body_util::BodyExt;
    let (parts, body) = req.into_parts();
    let body = body
        .collect()
        .await
        .map(|b| b.to_bytes())
        .unwrap_or_default();
    let op = parts
        .headers
        .get("x-amz-target")
        .and_then(|v| v.to_str().ok())
        .and_then(|t| t.rsplit('.').next())
        .unwrap_or("")
        .to_string();
    seen.lock().unwrap().push(op.clone());
    let throttle = {
        let mut r = rules.lock().unwrap();
        let hit = r.throttle > 0 && r.throttle_op == op;
        if hit {
            r.throttle -= 1;
        }
        hit
    };
    let answer = |status: u16, body: bytes::Bytes| {
        let mut r = hyper::Response::new(http_body_util::Full::new(body));
        *r.status_mut() = hyper::StatusCode::from_u16(status).unwrap();
        r.headers_mut().insert(
            "content-type",
            hyper::header::HeaderValue::from_static("application/x-amz-json-1.1"),
        );
        r
    };
    if throttle {
        return Ok(answer(400, bytes::Bytes::from_static(THROTTLED.as_bytes())));
    }
    let Ok(stream) = tokio::net::TcpStream::connect(target).await else {
        return Ok(answer(502, bytes::Bytes::new()));
    };
    let Ok((mut sender, conn)) =
        hyper::client::conn::http1::handshake(hyper_util::rt::TokioIo::new(stream)).await
    else {
        return Ok(answer(502, bytes::Bytes::new()));
    };
    tokio::spawn(conn);
    let upstream = hyper::Request::from_parts(parts, http_body_util::Full::new(body));
    match sender.send_request(upstream).await {
        Ok(resp) => {
            let (p, b) = resp.into_parts();
            let b = b.collect().await.map(|b| b.to_bytes()).unwrap_or_default();
            Ok(hyper::Response::from_parts(p, http_body_util::Full::new(b)))
        }
        Err(_) => Ok(answer(502, bytes::Bytes::new())),
    }
}
