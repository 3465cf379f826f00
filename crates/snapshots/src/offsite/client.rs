//! The S3 calls the offsite destination makes, signed with SigV4 over the workspace's
//! reqwest/rustls: put, head, get, delete, and multipart driven by upload id (create, upload
//! part, list parts, complete, abort) so an upload can resume after a kill. Errors carry
//! the S3 code, mapped to words a person can act on in [`OffsiteError`]. A body that is
//! uploaded ([`Feed`]) goes a piece at a time, each piece waiting its turn under the shared
//! rate limit and counted as it leaves, so an upload's progress is seen while it runs.

use super::sigv4::{self, EMPTY_SHA256, Request, Signer};
use super::{OffsiteConfig, OffsiteError};
use base64::Engine as _;
use reqwest::Method;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;
use tokio_util::sync::CancellationToken;

/// A request body.
pub type Body = bytes::Bytes;

/// How an uploaded body is fed to the connection: under the shared rate limit (the one
/// downloads use), its bytes counted in `sent` as they leave (from 0 again on a retry).
#[derive(Debug, Clone, Default)]
pub struct Feed {
    pub rate: Option<Arc<crate::download::RateLimit>>,
    pub sent: Arc<AtomicU64>,
}

/// The size of the pieces a fed body is sent in.
const PIECE: usize = 64 * 1024;

impl Feed {
    /// `body` as a stream of pieces, each waiting its turn under the limit.
    fn body(&self, body: bytes::Bytes) -> reqwest::Body {
        let (rate, sent) = (self.rate.clone(), self.sent.clone());
        sent.store(0, Ordering::SeqCst);
        let pieces = futures_util::stream::unfold(0usize, move |at| {
            let (body, rate, sent) = (body.clone(), rate.clone(), sent.clone());
            async move {
                if at >= body.len() {
                    return None;
                }
                let end = (at + PIECE).min(body.len());
                if let Some(l) = &rate {
                    l.take(end - at).await;
                }
                sent.store(end as u64, Ordering::SeqCst);
                Some((Ok::<_, std::io::Error>(body.slice(at..end)), end))
            }
        });
        reqwest::Body::wrap_stream(pieces)
    }
}

/// A bucket on an S3-compatible server, with its credentials.
pub struct S3Client {
    http: reqwest::Client,
    cfg: OffsiteConfig,
    secret: String,
}

impl std::fmt::Debug for S3Client {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("S3Client")
            .field("endpoint", &self.cfg.endpoint)
            .field("bucket", &self.cfg.bucket)
            .finish_non_exhaustive()
    }
}

/// What a HEAD says of an object.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Head {
    pub size: u64,
    pub etag: String,
    /// `x-amz-checksum-sha256`, when the server keeps one and says it.
    pub sha256: Option<String>,
}

/// A part the server holds for a multipart upload.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Part {
    pub number: u32,
    /// Some servers (s3s-fs) list parts without their ETag.
    pub etag: Option<String>,
    pub size: u64,
}

/// Tries a call gets when the server is busy (503 SlowDown) or the connection is cut.
const TRIES: u32 = 4;

impl S3Client {
    pub fn new(cfg: OffsiteConfig, secret: String) -> Result<Self, OffsiteError> {
        cfg.check_endpoint()?;
        let http = reqwest::Client::builder()
            .connect_timeout(Duration::from_secs(15))
            .read_timeout(Duration::from_secs(120))
            .build()
            .map_err(|e| OffsiteError::Network(e.to_string()))?;
        Ok(Self { http, cfg, secret })
    }

    pub fn config(&self) -> &OffsiteConfig {
        &self.cfg
    }

    /// The object key under the configured prefix.
    pub fn key(&self, name: &str) -> String {
        let p = self.cfg.prefix.trim_matches('/');
        if p.is_empty() {
            name.to_string()
        } else {
            format!("{p}/{name}")
        }
    }

    fn url_and_path(&self, key: &str) -> (url::Url, String) {
        let mut url = url::Url::parse(&self.cfg.endpoint).expect("checked when configured");
        let key = sigv4::uri_encode(key, true);
        let path = if self.cfg.path_style {
            format!("/{}/{key}", self.cfg.bucket)
        } else {
            let host = format!("{}.{}", self.cfg.bucket, url.host_str().unwrap_or_default());
            let _ = url.set_host(Some(&host));
            format!("/{key}")
        };
        (url, path)
    }

    /// Sends one signed request, retrying a busy server or a cut connection a few times.
    async fn send(
        &self,
        method: Method,
        key: &str,
        query: &[(String, String)],
        headers: &[(String, String)],
        body: bytes::Bytes,
    ) -> Result<reqwest::Response, OffsiteError> {
        self.send_fed(method, key, query, headers, body, None).await
    }

    /// [`Self::send`], the body fed as `feed` says when given.
    async fn send_fed(
        &self,
        method: Method,
        key: &str,
        query: &[(String, String)],
        headers: &[(String, String)],
        body: bytes::Bytes,
        feed: Option<&Feed>,
    ) -> Result<reqwest::Response, OffsiteError> {
        let payload = if body.is_empty() {
            EMPTY_SHA256.to_string()
        } else {
            sigv4::sha256_hex(&body)
        };
        let mut last = OffsiteError::Network("no try made".into());
        for attempt in 0..TRIES {
            if attempt > 0 {
                tokio::time::sleep(Duration::from_millis(200 << attempt)).await;
            }
            match self
                .send_once(&method, key, query, headers, (body.clone(), feed), &payload)
                .await
            {
                Ok(r) => return Ok(r),
                Err(e) if e.retryable() => last = e,
                Err(e) => return Err(e),
            }
        }
        Err(last)
    }

    async fn send_once(
        &self,
        method: &Method,
        key: &str,
        query: &[(String, String)],
        headers: &[(String, String)],
        (body, feed): (bytes::Bytes, Option<&Feed>),
        payload: &str,
    ) -> Result<reqwest::Response, OffsiteError> {
        let (mut url, path) = self.url_and_path(key);
        let host = match url.port() {
            Some(p) => format!("{}:{p}", url.host_str().unwrap_or_default()),
            None => url.host_str().unwrap_or_default().to_string(),
        };
        let signer = Signer {
            access_key_id: &self.cfg.access_key_id,
            secret: &self.secret,
            region: &self.cfg.region,
        };
        let now = chrono::Utc::now().format("%Y%m%dT%H%M%SZ").to_string();
        let signed = signer.sign(
            &Request {
                method: method.as_str(),
                path: &path,
                query,
                host: &host,
                headers,
                payload_sha256: payload,
            },
            &now,
        );
        let q: Vec<String> = query
            .iter()
            .map(|(k, v)| {
                if v.is_empty() && k == "uploads" {
                    k.clone()
                } else {
                    format!(
                        "{}={}",
                        sigv4::uri_encode(k, false),
                        sigv4::uri_encode(v, false)
                    )
                }
            })
            .collect();
        url.set_path(&path);
        url.set_query((!q.is_empty()).then(|| q.join("&")).as_deref());
        let mut req = self.http.request(method.clone(), url.as_str());
        for (k, v) in headers.iter().chain(signed.iter()) {
            req = req.header(k, v);
        }
        let req = match feed {
            // A stream has no length of its own: the header keeps it a plain upload.
            Some(f) => req
                .header(reqwest::header::CONTENT_LENGTH, body.len())
                .body(f.body(body)),
            None => req.body(body),
        };
        let resp = req
            .send()
            .await
            .map_err(|e| OffsiteError::Network(e.to_string()))?;
        if resp.status().is_success() {
            return Ok(resp);
        }
        let status = resp.status().as_u16();
        let text = resp.text().await.unwrap_or_default();
        Err(OffsiteError::from_s3(status, &text, &self.cfg))
    }

    /// Uploads a whole object in one PUT, its SHA-256 checked by the server. The algorithm
    /// is named too, as the AWS SDKs name it: a server may keep (and state) the checksum
    /// only then (moto does).
    pub async fn put(&self, key: &str, body: bytes::Bytes) -> Result<String, OffsiteError> {
        self.put_fed(key, body, None).await
    }

    /// [`Self::put`], the body fed as `feed` says.
    pub async fn put_fed(
        &self,
        key: &str,
        body: bytes::Bytes,
        feed: Option<&Feed>,
    ) -> Result<String, OffsiteError> {
        let sum = b64_sha256(&body);
        let h = [
            ("x-amz-checksum-sha256".to_string(), sum),
            (
                "x-amz-sdk-checksum-algorithm".to_string(),
                "SHA256".to_string(),
            ),
        ];
        let r = self.send_fed(Method::PUT, key, &[], &h, body, feed).await?;
        Ok(etag(&r))
    }

    /// The object's size and checksums; `None` when it is not there.
    pub async fn head(&self, key: &str) -> Result<Option<Head>, OffsiteError> {
        let h = [("x-amz-checksum-mode".to_string(), "ENABLED".to_string())];
        match self
            .send(Method::HEAD, key, &[], &h, bytes::Bytes::new())
            .await
        {
            Ok(r) => Ok(Some(Head {
                // reqwest's content_length() is the body's (none for a HEAD): read the header.
                size: header(&r, "content-length")
                    .and_then(|v| v.parse().ok())
                    .unwrap_or(0),
                etag: etag(&r),
                sha256: header(&r, "x-amz-checksum-sha256"),
            })),
            Err(OffsiteError::NotFound) => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// The whole object; `None` when it is not there. For checks of small copies: the body
    /// is held in memory.
    pub async fn get(&self, key: &str) -> Result<Option<bytes::Bytes>, OffsiteError> {
        match self
            .send(Method::GET, key, &[], &[], bytes::Bytes::new())
            .await
        {
            Ok(r) => r
                .bytes()
                .await
                .map(Some)
                .map_err(|e| OffsiteError::Network(e.to_string())),
            Err(OffsiteError::NotFound) => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// The object at `key` written to `out`, a new file only its owner reads, a piece at a
    /// time (never whole in memory), each piece told to `progress` (bytes so far, and the
    /// object's size when the server says it). Refused past `max` bytes (before a byte is
    /// read when the server says its size), and stopped by `cancel`; either way nothing is
    /// left at `out`. `Ok(false)`: the bucket has no such object.
    pub async fn get_to(
        &self,
        key: &str,
        out: &std::path::Path,
        max: u64,
        cancel: &CancellationToken,
        progress: &(dyn Fn(u64, Option<u64>) + Send + Sync),
    ) -> Result<bool, OffsiteError> {
        let get = self.send(Method::GET, key, &[], &[], bytes::Bytes::new());
        let mut r = tokio::select! {
            r = get => match r {
                Ok(r) => r,
                Err(OffsiteError::NotFound) => return Ok(false),
                Err(e) => return Err(e),
            },
            () = cancel.cancelled() => return Err(OffsiteError::Cancelled),
        };
        let total = header(&r, "content-length").and_then(|v| v.parse::<u64>().ok());
        let too_large = |size| OffsiteError::TooLarge {
            key: key.to_string(),
            size,
            max,
        };
        if let Some(t) = total.filter(|t| *t > max) {
            return Err(too_large(t));
        }
        let file = crate::ownfile::create_new(out)?;
        let written = async {
            use std::io::Write;
            let mut w = std::io::BufWriter::new(file);
            let mut n: u64 = 0;
            progress(0, total);
            loop {
                let piece = tokio::select! {
                    p = r.chunk() => p.map_err(|e| OffsiteError::Network(e.to_string()))?,
                    () = cancel.cancelled() => return Err(OffsiteError::Cancelled),
                };
                let Some(piece) = piece else { break };
                n += piece.len() as u64;
                if n > max {
                    return Err(too_large(n));
                }
                w.write_all(&piece)?;
                progress(n, total);
            }
            w.into_inner().map_err(|e| e.into_error())?.sync_all()?;
            Ok(())
        }
        .await;
        if let Err(e) = written {
            let _ = std::fs::remove_file(out);
            return Err(e);
        }
        Ok(true)
    }

    pub async fn delete(&self, key: &str) -> Result<(), OffsiteError> {
        match self
            .send(Method::DELETE, key, &[], &[], bytes::Bytes::new())
            .await
        {
            Ok(_) | Err(OffsiteError::NotFound) => Ok(()),
            Err(e) => Err(e),
        }
    }

    /// Starts a multipart upload, parts checked with SHA-256; returns its upload id.
    pub async fn create_multipart(&self, key: &str) -> Result<String, OffsiteError> {
        let q = [("uploads".to_string(), String::new())];
        let h = [("x-amz-checksum-algorithm".to_string(), "SHA256".to_string())];
        let r = self
            .send(Method::POST, key, &q, &h, bytes::Bytes::new())
            .await?;
        let text = r
            .text()
            .await
            .map_err(|e| OffsiteError::Network(e.to_string()))?;
        xml_value(&text, "UploadId")
            .ok_or_else(|| OffsiteError::Protocol(format!("no UploadId in {text:.200}")))
    }

    /// Uploads one part; returns its ETag.
    pub async fn upload_part(
        &self,
        key: &str,
        upload_id: &str,
        number: u32,
        body: bytes::Bytes,
        sha256_b64: &str,
        feed: Option<&Feed>,
    ) -> Result<String, OffsiteError> {
        let q = [
            ("partNumber".to_string(), number.to_string()),
            ("uploadId".to_string(), upload_id.to_string()),
        ];
        let h = [("x-amz-checksum-sha256".to_string(), sha256_b64.to_string())];
        let r = self.send_fed(Method::PUT, key, &q, &h, body, feed).await?;
        Ok(etag(&r))
    }

    /// The parts the server holds for an upload (`NoSuchUpload` when it is gone).
    pub async fn list_parts(&self, key: &str, upload_id: &str) -> Result<Vec<Part>, OffsiteError> {
        let q = [("uploadId".to_string(), upload_id.to_string())];
        let r = self
            .send(Method::GET, key, &q, &[], bytes::Bytes::new())
            .await?;
        let text = r
            .text()
            .await
            .map_err(|e| OffsiteError::Network(e.to_string()))?;
        Ok(text
            .split("<Part>")
            .skip(1)
            .filter_map(|p| {
                Some(Part {
                    number: xml_value(p, "PartNumber")?.parse().ok()?,
                    etag: xml_value(p, "ETag").map(|e| e.replace("&quot;", "\"")),
                    size: xml_value(p, "Size")?.parse().ok()?,
                })
            })
            .collect())
    }

    /// Completes an upload from its parts (number, ETag, base64 SHA-256).
    pub async fn complete(
        &self,
        key: &str,
        upload_id: &str,
        parts: &[(u32, String, String)],
    ) -> Result<String, OffsiteError> {
        let q = [("uploadId".to_string(), upload_id.to_string())];
        let mut body = String::from("<CompleteMultipartUpload>");
        for (n, etag, sum) in parts {
            body.push_str(&format!(
                "<Part><PartNumber>{n}</PartNumber><ETag>{etag}</ETag><ChecksumSHA256>{sum}</ChecksumSHA256></Part>"
            ));
        }
        body.push_str("</CompleteMultipartUpload>");
        let r = self.send(Method::POST, key, &q, &[], body.into()).await?;
        let text = r
            .text()
            .await
            .map_err(|e| OffsiteError::Network(e.to_string()))?;
        if let Some(code) = xml_value(&text, "Code") {
            // A 200 whose body is an error: S3 may answer so after a long complete.
            return Err(OffsiteError::from_s3(
                500,
                &format!("<Code>{code}</Code>"),
                &self.cfg,
            ));
        }
        Ok(xml_value(&text, "ETag")
            .unwrap_or_default()
            .replace("&quot;", "\""))
    }

    /// Aborts an upload and frees its parts (nothing to do when it is already gone).
    pub async fn abort(&self, key: &str, upload_id: &str) -> Result<(), OffsiteError> {
        let q = [("uploadId".to_string(), upload_id.to_string())];
        match self
            .send(Method::DELETE, key, &q, &[], bytes::Bytes::new())
            .await
        {
            Ok(_) | Err(OffsiteError::NotFound) | Err(OffsiteError::NoSuchUpload) => Ok(()),
            Err(e) => Err(e),
        }
    }
}

pub fn b64_sha256(data: &[u8]) -> String {
    use sha2::Digest;
    base64::engine::general_purpose::STANDARD.encode(sha2::Sha256::digest(data))
}

pub fn b64(data: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD.encode(data)
}

fn header(r: &reqwest::Response, name: &str) -> Option<String> {
    r.headers().get(name)?.to_str().ok().map(str::to_string)
}

fn etag(r: &reqwest::Response) -> String {
    header(r, "etag").unwrap_or_default()
}

/// The text of the first `<tag>…</tag>` in an S3 answer.
pub fn xml_value(text: &str, tag: &str) -> Option<String> {
    let open = format!("<{tag}>");
    let start = text.find(&open)? + open.len();
    let end = text[start..].find(&format!("</{tag}>"))? + start;
    Some(text[start..end].to_string())
}
