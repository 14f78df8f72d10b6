//! A small AWS KMS JSON client for the endpoint's tests and benchmark: one
//! keep-alive HTTP/1.1 connection (hyper), requests signed with `aws-sigv4`
//! exactly as the AWS SDKs sign them.
#![allow(dead_code)]

use std::net::SocketAddr;
use std::time::SystemTime;

use aws_credential_types::Credentials;
use aws_sigv4::http_request::{SignableBody, SignableRequest, SigningSettings, sign};
use aws_sigv4::sign::v4;
use aws_smithy_runtime_api::client::identity::Identity;
use http_body_util::{BodyExt, Full};
use hyper::body::Bytes;
use hyper::client::conn::http1::{self, SendRequest};
use hyper::{Request, StatusCode};
use hyper_util::rt::TokioIo;

/// Signs requests like an AWS SDK.
#[derive(Clone)]
pub struct Signer {
    pub access_key_id: String,
    identity: Identity,
    pub region: String,
}

impl Signer {
    pub fn new(access_key_id: &str, secret: &str, region: &str) -> Self {
        let creds = Credentials::new(access_key_id, secret, None, None, "test");
        Self {
            access_key_id: access_key_id.to_string(),
            identity: creds.into(),
            region: region.to_string(),
        }
    }

    /// Adds `X-Amz-Date` and `Authorization` for time `at`.
    pub fn sign(&self, req: &mut Request<Full<Bytes>>, body: &[u8], at: SystemTime) {
        let uri = format!("http://{}{}", header(req, "host"), req.uri());
        let headers: Vec<(String, String)> = req
            .headers()
            .iter()
            .map(|(k, v)| {
                (
                    k.as_str().to_string(),
                    v.to_str().expect("ascii header").to_string(),
                )
            })
            .collect();
        let signable = SignableRequest::new(
            req.method().as_str(),
            uri,
            headers.iter().map(|(k, v)| (k.as_str(), v.as_str())),
            SignableBody::Bytes(body),
        )
        .expect("signable request");
        let params = v4::SigningParams::builder()
            .identity(&self.identity)
            .region(&self.region)
            .name("kms")
            .time(at)
            .settings(SigningSettings::default())
            .build()
            .expect("signing params")
            .into();
        let (instructions, _) = sign(signable, &params).expect("sign").into_parts();
        instructions.apply_to_request_http1x(req);
    }
}

fn header<'a>(req: &'a Request<Full<Bytes>>, name: &str) -> &'a str {
    req.headers()
        .get(name)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
}

/// An unsigned KMS request for `operation` with `body`.
pub fn request(addr: SocketAddr, operation: &str, body: &[u8]) -> Request<Full<Bytes>> {
    Request::post("/")
        .header("host", addr.to_string())
        .header("content-type", "application/x-amz-json-1.1")
        .header("x-amz-target", format!("TrentService.{operation}"))
        .header("user-agent", "byok-serve-tests/1.0")
        .body(Full::new(Bytes::copy_from_slice(body)))
        .expect("request")
}

/// An answer: status, `x-amzn-RequestId`, body.
#[derive(Debug)]
pub struct Answer {
    pub status: StatusCode,
    pub request_id: Option<String>,
    pub body: Vec<u8>,
}

impl Answer {
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body)
            .unwrap_or_else(|e| panic!("not JSON ({e}): {:?}", String::from_utf8_lossy(&self.body)))
    }

    /// `(__type, message)` of an error answer.
    pub fn error(&self) -> (String, String) {
        let j = self.json();
        (
            j["__type"].as_str().unwrap_or_default().to_string(),
            j["message"].as_str().unwrap_or_default().to_string(),
        )
    }
}

/// One keep-alive connection; a new one when the server closed it between
/// requests (moto's server answers HTTP/1.0 and closes after each request).
pub struct Client {
    pub addr: SocketAddr,
    pub signer: Signer,
    sender: SendRequest<Full<Bytes>>,
    /// How often the server had closed the connection before a request.
    pub reconnects: u64,
}

async fn open(addr: SocketAddr) -> std::io::Result<SendRequest<Full<Bytes>>> {
    let stream = tokio::net::TcpStream::connect(addr).await?;
    stream.set_nodelay(true)?;
    let (sender, conn) = http1::handshake(TokioIo::new(stream))
        .await
        .map_err(std::io::Error::other)?;
    tokio::spawn(async move {
        let _ = conn.await;
    });
    Ok(sender)
}

impl Client {
    pub async fn connect(addr: SocketAddr, signer: Signer) -> std::io::Result<Client> {
        Ok(Client {
            addr,
            signer,
            sender: open(addr).await?,
            reconnects: 0,
        })
    }

    /// Sends `req` as it is.
    pub async fn send(&mut self, req: Request<Full<Bytes>>) -> Result<Answer, hyper::Error> {
        if self.sender.ready().await.is_err() {
            // Closed by the server after the previous answer: nothing was
            // sent on it, so nothing is lost by opening another.
            if let Ok(sender) = open(self.addr).await {
                self.sender = sender;
                self.reconnects += 1;
            }
        }
        self.sender.ready().await?;
        let resp = self.sender.send_request(req).await?;
        let status = resp.status();
        let request_id = resp
            .headers()
            .get("x-amzn-requestid")
            .and_then(|v| v.to_str().ok())
            .map(str::to_string);
        let body = resp.into_body().collect().await?.to_bytes().to_vec();
        Ok(Answer {
            status,
            request_id,
            body,
        })
    }

    /// A signed call of `operation` with the JSON `body`.
    pub async fn call(
        &mut self,
        operation: &str,
        body: &serde_json::Value,
    ) -> Result<Answer, hyper::Error> {
        let bytes = serde_json::to_vec(body).expect("json");
        self.call_raw(operation, &bytes).await
    }

    /// A signed call with raw body bytes.
    pub async fn call_raw(&mut self, operation: &str, body: &[u8]) -> Result<Answer, hyper::Error> {
        let mut req = request(self.addr, operation, body);
        self.signer.sign(&mut req, body, SystemTime::now());
        self.send(req).await
    }
}
