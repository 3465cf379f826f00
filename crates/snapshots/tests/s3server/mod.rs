//! A real S3 server for the offsite tests: `s3s-fs` (SigV4 auth, multipart, SHA-256
//! checksums) on loopback, in process, with a thin layer in front that logs each request
//! and injects the faults the offsite code must survive. With `SQSNAP_S3_SERVER` set (a
//! command line; `make soak` gives moto's, `scripts/moto-s3.py`), each test starts that
//! server instead and the same layer forwards to it, so the same tests, faults and request
//! log run against a second, independent S3 implementation. Test code only; shared with
//! sqsnap's tests by path.

#![allow(dead_code)]

use hyper::service::service_fn;
use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto::Builder as ConnBuilder;
use s3s::Body;
use std::sync::{Arc, Mutex};

/// A command line that starts another S3 server (given `--access-key`, `--secret-key` and
/// `--bucket`, it prints `PORT <n>` once it listens on 127.0.0.1 and stops when its stdin
/// closes).
pub const SERVER_ENV: &str = "SQSNAP_S3_SERVER";

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
    /// s3s-fs's folder (a bucket is a folder in it); `None` against another server.
    root: Option<tempfile::TempDir>,
    pub shared: Arc<Shared>,
    upstream: Option<Arc<Upstream>>,
}

/// Another S3 server, started for one test and stopped with it.
pub struct Upstream {
    url: String,
    child: Mutex<std::process::Child>,
}

impl Drop for Upstream {
    fn drop(&mut self) {
        let mut c = self.child.lock().unwrap();
        let _ = c.kill();
        let _ = c.wait();
    }
}

impl Server {
    /// Whether the server is another one than s3s-fs in process.
    pub fn external(&self) -> bool {
        self.upstream.is_some()
    }

    /// The object's bytes as the server holds them; `None` when it is not there.
    pub async fn object(&self, key: &str) -> Option<Vec<u8>> {
        if let Some(root) = &self.root {
            return std::fs::read(root.path().join(BUCKET).join(key)).ok();
        }
        let cfg = snapshots::offsite::OffsiteConfig {
            name: "probe".into(),
            endpoint: self.endpoint.clone(),
            region: "us-east-1".into(),
            bucket: BUCKET.into(),
            prefix: String::new(),
            path_style: true,
            access_key_id: AK.into(),
            encrypt: false,
        };
        let c = snapshots::offsite::S3Client::new(cfg, SK.into()).unwrap();
        c.get(key).await.unwrap().map(|b| b.to_vec())
    }

    /// Whether the object is there.
    pub async fn has(&self, key: &str) -> bool {
        self.object(key).await.is_some()
    }

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

/// Starts the server with one bucket: s3s-fs in process, or the one `SQSNAP_S3_SERVER`
/// names behind the same layer.
pub async fn start() -> Server {
    let (root, upstream, service) = match std::env::var(SERVER_ENV) {
        Ok(cmd) if !cmd.trim().is_empty() => (None, Some(Arc::new(spawn(&cmd).await)), None),
        _ => {
            let root = tempfile::tempdir().unwrap();
            std::fs::create_dir(root.path().join(BUCKET)).unwrap();
            let fs = s3s_fs::FileSystem::new(root.path()).unwrap();
            let mut b = s3s::service::S3ServiceBuilder::new(fs);
            b.set_auth(s3s::auth::SimpleAuth::from_single(AK, SK));
            (Some(root), None, Some(b.build()))
        }
    };
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let shared = Arc::new(Shared::default());
    let sh = shared.clone();
    let http = reqwest::Client::new();
    let up = upstream.clone();
    tokio::spawn(async move {
        loop {
            let Ok((socket, _)) = listener.accept().await else {
                return;
            };
            let (service, sh, http, up) = (service.clone(), sh.clone(), http.clone(), up.clone());
            let svc = service_fn(move |req: http::Request<hyper::body::Incoming>| {
                let (service, sh, http, up) =
                    (service.clone(), sh.clone(), http.clone(), up.clone());
                async move {
                    let to = match (&service, &up) {
                        (Some(s), _) => To::Fs(s),
                        (None, Some(u)) => To::Upstream(&http, &u.url),
                        (None, None) => unreachable!("one server or the other"),
                    };
                    handle(to, &sh, req).await
                }
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
        upstream,
    }
}

/// Starts `cmd` with the tests' key and bucket and waits for the port it listens on.
async fn spawn(cmd: &str) -> Upstream {
    let mut words = cmd.split_whitespace();
    let mut c = std::process::Command::new(words.next().unwrap());
    c.args(words)
        .args(["--access-key", AK, "--secret-key", SK, "--bucket", BUCKET])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null());
    let mut child = c
        .spawn()
        .unwrap_or_else(|e| panic!("{SERVER_ENV}={cmd}: {e}"));
    let out = child.stdout.take().unwrap();
    let line = tokio::task::spawn_blocking(move || {
        let mut line = String::new();
        std::io::BufRead::read_line(&mut std::io::BufReader::new(out), &mut line).map(|_| line)
    });
    let line = tokio::time::timeout(std::time::Duration::from_secs(60), line)
        .await
        .expect("the S3 server said its port within a minute")
        .unwrap()
        .unwrap();
    let port: u16 = line
        .trim()
        .strip_prefix("PORT ")
        .and_then(|p| p.parse().ok())
        .unwrap_or_else(|| panic!("{SERVER_ENV} printed {line:?}, not PORT <n>"));
    Upstream {
        url: format!("http://127.0.0.1:{port}"),
        child: Mutex::new(child),
    }
}

/// Where the layer sends a request it lets through.
enum To<'a> {
    Fs(&'a s3s::service::S3Service),
    Upstream(&'a reqwest::Client, &'a str),
}

/// Sends the request on to the other server as it came (its Host and signature too), and
/// its answer back.
async fn forward(
    http: &reqwest::Client,
    url: &str,
    req: http::Request<hyper::body::Incoming>,
) -> Result<http::Response<Body>, std::io::Error> {
    let (parts, body) = req.into_parts();
    let body = Body::from(body)
        .store_all_limited(1 << 30)
        .await
        .map_err(|e| std::io::Error::other(e.to_string()))?;
    let path = parts.uri.path_and_query().map_or("/", |p| p.as_str());
    let mut out = http.request(parts.method.clone(), format!("{url}{path}"));
    for (k, v) in &parts.headers {
        if !matches!(
            k.as_str(),
            "content-length" | "transfer-encoding" | "connection"
        ) {
            out = out.header(k, v);
        }
    }
    let resp = out
        .body(body)
        .send()
        .await
        .map_err(|e| std::io::Error::other(e.to_string()))?;
    let mut back = http::Response::builder().status(resp.status().as_u16());
    for (k, v) in resp.headers() {
        if !matches!(k.as_str(), "transfer-encoding" | "connection") {
            back = back.header(k, v);
        }
    }
    let bytes = resp
        .bytes()
        .await
        .map_err(|e| std::io::Error::other(e.to_string()))?;
    Ok(back.body(Body::from(bytes)).unwrap())
}

async fn handle(
    to: To<'_>,
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
        // The request is read whole before the refusal, so the client always gets the
        // answer: one sent before an 8 MB body was read, then the connection closed, reached
        // the client as a reset or as the answer, whichever came first.
        let mut body = Body::from(req.into_body());
        let _ = body.store_all_limited(usize::MAX).await;
        let body = format!(
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?><Error><Code>{}</Code><Message>injected</Message></Error>",
            f.code
        );
        return Ok(http::Response::builder()
            .status(f.status)
            .body(Body::from(body))
            .unwrap());
    }
    let mut resp = match to {
        To::Fs(service) => service
            .call(req.map(Body::from))
            .await
            .map_err(|e| std::io::Error::other(format!("{e:?}")))?,
        To::Upstream(http, url) => forward(http, url, req).await?,
    };
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
