//! A real S3 server for the offsite tests: `s3s-fs` (SigV4 auth, multipart, SHA-256
//! checksums) on loopback, in process, with a thin layer in front that logs each request
//! and injects the faults the offsite code must survive. Test code only; shared with
//! sqsnap's tests by path.

#![allow(dead_code)]

use hyper::service::service_fn;
use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto::Builder as ConnBuilder;
use s3s::Body;
use std::sync::{Arc, Mutex};

pub const AK: &str = "AKTESTOFFSITE";
pub const SK: &str = "test-secret-key-that-must-never-leak-0123";
pub const BUCKET: &str = "snaps";

/// A fault: requests that match `method` and contain `query` in their query string get
/// `status` with S3 code `code` (or a cut connection when `code` is empty), `times` times.
#[derive(Debug, Clone)]
pub struct Fault {
    pub method: &'static str,
    pub query: &'static str,
    pub status: u16,
    pub code: &'static str,
    pub times: u32,
}

#[derive(Default)]
pub struct Shared {
    /// `METHOD path?query` of every request received.
    pub log: Mutex<Vec<String>>,
    pub faults: Mutex<Vec<Fault>>,
    /// Added to every HEAD's Content-Length (a server that lost bytes).
    pub head_extra: Mutex<u64>,
}

pub struct Server {
    pub endpoint: String,
    pub root: tempfile::TempDir,
    pub shared: Arc<Shared>,
}

impl Server {
    pub fn fault(&self, f: Fault) {
        self.shared.faults.lock().unwrap().push(f);
    }

    pub fn log(&self) -> Vec<String> {
        self.shared.log.lock().unwrap().clone()
    }

    pub fn count(&self, needle: &str) -> usize {
        self.log().iter().filter(|l| l.contains(needle)).count()
    }
}

fn take_fault(shared: &Shared, method: &str, query: &str) -> Option<Fault> {
    let mut faults = shared.faults.lock().unwrap();
    let f = faults
        .iter_mut()
        .find(|f| f.times > 0 && f.method == method && query.contains(f.query))?;
    f.times -= 1;
    Some(f.clone())
}

/// Starts the server with one bucket.
pub async fn start() -> Server {
    let root = tempfile::tempdir().unwrap();
    std::fs::create_dir(root.path().join(BUCKET)).unwrap();
    let fs = s3s_fs::FileSystem::new(root.path()).unwrap();
    let mut b = s3s::service::S3ServiceBuilder::new(fs);
    b.set_auth(s3s::auth::SimpleAuth::from_single(AK, SK));
    let service = b.build();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let shared = Arc::new(Shared::default());
    let sh = shared.clone();
    tokio::spawn(async move {
        loop {
            let Ok((socket, _)) = listener.accept().await else {
                return;
            };
            let service = service.clone();
            let sh = sh.clone();
            let svc = service_fn(move |req: http::Request<hyper::body::Incoming>| {
                let service = service.clone();
                let sh = sh.clone();
                async move { handle(&service, &sh, req).await }
            });
            tokio::spawn(async move {
                let _ = ConnBuilder::new(TokioExecutor::new())
                    .serve_connection(TokioIo::new(socket), svc)
                    .await;
            });
        }
    });
    Server {
        endpoint: format!("http://{addr}"),
        root,
        shared,
    }
}

async fn handle(
    service: &s3s::service::S3Service,
    sh: &Shared,
    req: http::Request<hyper::body::Incoming>,
) -> Result<http::Response<Body>, std::io::Error> {
    let method = req.method().as_str().to_string();
    let query = req.uri().query().unwrap_or("").to_string();
    sh.log
        .lock()
        .unwrap()
        .push(format!("{method} {}?{query}", req.uri().path()));
    if let Some(f) = take_fault(sh, &method, &query) {
        if f.code.is_empty() {
            return Err(std::io::Error::other("cut"));
        }
        let body = format!(
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?><Error><Code>{}</Code><Message>injected</Message></Error>",
            f.code
        );
        return Ok(http::Response::builder()
            .status(f.status)
            .body(Body::from(body))
            .unwrap());
    }
    let mut resp = service
        .call(req.map(Body::from))
        .await
        .map_err(|e| std::io::Error::other(format!("{e:?}")))?;
    let extra = *sh.head_extra.lock().unwrap();
    if method == "HEAD" && extra > 0 {
        let len: u64 = resp
            .headers()
            .get("content-length")
            .and_then(|v| v.to_str().ok()?.parse().ok())
            .unwrap_or(0);
        resp.headers_mut()
            .insert("content-length", (len + extra).to_string().parse().unwrap());
    }
    Ok(resp)
}
