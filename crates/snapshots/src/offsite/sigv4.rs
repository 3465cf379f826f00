//! AWS Signature Version 4 for S3-compatible servers (AWS, R2, B2, MinIO, Wasabi): the
//! canonical request, the string to sign and the `Authorization` header. Written here over
//! `hmac`/`sha2` rather than pulling an SDK: the offsite client needs a dozen calls, and
//! this file is the whole of its signing.

use hmac::{Hmac, Mac};
use sha2::{Digest, Sha256};

type HmacSha256 = Hmac<Sha256>;

/// The hex SHA-256 of an empty body.
pub const EMPTY_SHA256: &str = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";

pub fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

pub fn sha256_hex(data: &[u8]) -> String {
    hex(&Sha256::digest(data))
}

fn hmac(key: &[u8], data: &[u8]) -> Vec<u8> {
    let mut m = HmacSha256::new_from_slice(key).expect("HMAC takes any key length");
    m.update(data);
    m.finalize().into_bytes().to_vec()
}

/// Percent-encodes as SigV4 wants: every byte but `A-Za-z0-9-._~` (and `/` when
/// `keep_slash`, for a path).
pub fn uri_encode(s: &str, keep_slash: bool) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => {
                out.push(b as char)
            }
            b'/' if keep_slash => out.push('/'),
            _ => out.push_str(&format!("%{b:02X}")),
        }
    }
    out
}

/// One request to sign.
pub struct Request<'a> {
    pub method: &'a str,
    /// The path as sent, already encoded (`/bucket/key`).
    pub path: &'a str,
    /// Query pairs, not yet encoded.
    pub query: &'a [(String, String)],
    /// `host[:port]` as sent.
    pub host: &'a str,
    /// Extra headers to sign (lower-case names), e.g. `x-amz-checksum-sha256`.
    pub headers: &'a [(String, String)],
    /// Hex SHA-256 of the body.
    pub payload_sha256: &'a str,
}

/// The signer's credentials and scope.
pub struct Signer<'a> {
    pub access_key_id: &'a str,
    pub secret: &'a str,
    pub region: &'a str,
}

impl Signer<'_> {
    /// The headers to add to the request: `x-amz-date`, `x-amz-content-sha256` and
    /// `authorization`. `amz_date` is `YYYYMMDDTHHMMSSZ`.
    pub fn sign(&self, req: &Request<'_>, amz_date: &str) -> Vec<(String, String)> {
        let date = &amz_date[..8];
        let mut headers: Vec<(String, String)> = vec![
            ("host".into(), req.host.to_string()),
            (
                "x-amz-content-sha256".into(),
                req.payload_sha256.to_string(),
            ),
            ("x-amz-date".into(), amz_date.to_string()),
        ];
        headers.extend(
            req.headers
                .iter()
                .map(|(k, v)| (k.to_ascii_lowercase(), v.trim().to_string())),
        );
        headers.sort();
        let signed: Vec<&str> = headers.iter().map(|(k, _)| k.as_str()).collect();
        let signed = signed.join(";");
        let canonical_headers: String = headers.iter().map(|(k, v)| format!("{k}:{v}\n")).collect();
        let mut q: Vec<(String, String)> = req
            .query
            .iter()
            .map(|(k, v)| (uri_encode(k, false), uri_encode(v, false)))
            .collect();
        q.sort();
        let query: Vec<String> = q.iter().map(|(k, v)| format!("{k}={v}")).collect();
        let canonical = format!(
            "{}\n{}\n{}\n{}\n{}\n{}",
            req.method,
            req.path,
            query.join("&"),
            canonical_headers,
            signed,
            req.payload_sha256
        );
        let scope = format!("{date}/{}/s3/aws4_request", self.region);
        let to_sign = format!(
            "AWS4-HMAC-SHA256\n{amz_date}\n{scope}\n{}",
            sha256_hex(canonical.as_bytes())
        );
        let k = hmac(format!("AWS4{}", self.secret).as_bytes(), date.as_bytes());
        let k = hmac(&k, self.region.as_bytes());
        let k = hmac(&k, b"s3");
        let k = hmac(&k, b"aws4_request");
        let signature = hex(&hmac(&k, to_sign.as_bytes()));
        vec![
            ("x-amz-date".into(), amz_date.to_string()),
            (
                "x-amz-content-sha256".into(),
                req.payload_sha256.to_string(),
            ),
            (
                "authorization".into(),
                format!(
                    "AWS4-HMAC-SHA256 Credential={}/{scope}, SignedHeaders={signed}, Signature={signature}",
                    self.access_key_id
                ),
            ),
        ]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// AWS's documented example: "GET Object" in the S3 SigV4 "Examples of how to
    /// calculate the signature" (header-based auth).
    #[test]
    fn signs_the_documented_get_object_example() {
        let s = Signer {
            access_key_id: "AKIAIOSFODNN7EXAMPLE",
            secret: "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
            region: "us-east-1",
        };
        let headers = [("range".to_string(), "bytes=0-9".to_string())];
        let out = s.sign(
            &Request {
                method: "GET",
                path: "/test.txt",
                query: &[],
                host: "examplebucket.s3.amazonaws.com",
                headers: &headers,
                payload_sha256: EMPTY_SHA256,
            },
            "20130524T000000Z",
        );
        let auth = &out.iter().find(|(k, _)| k == "authorization").unwrap().1;
        assert!(
            auth.ends_with(
                "Signature=f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41"
            ),
            "{auth}"
        );
        assert!(auth.contains("SignedHeaders=host;range;x-amz-content-sha256;x-amz-date"));
    }

    #[test]
    fn encodes_as_sigv4_wants() {
        assert_eq!(uri_encode("a b/c~d", true), "a%20b/c~d");
        assert_eq!(uri_encode("a b/c", false), "a%20b%2Fc");
    }
}
