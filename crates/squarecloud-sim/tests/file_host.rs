//! The file host: signed URLs, expiry, Range, faults, and archives larger than memory.

use squarecloud_sim::zipgen::VirtualZip;
use squarecloud_sim::{AccountSpec, FaultKind, FaultSpec, SimConfig, Simulator, Target};
use std::io::{Read, Seek, SeekFrom};
use std::time::{Duration, Instant};

const KEY: &str = "demo-key";
const ATLAS: &str = "0f1e2d3c4b5a69788796a5b4c3d2e1f0";

async fn sim() -> Simulator {
    let mut c = SimConfig::new(KEY, AccountSpec::demo());
    c.generation_time = Duration::ZERO;
    Simulator::start(c).await.unwrap()
}

async fn latest_url(sim: &Simulator, id: &str) -> (String, u64) {
    let v: serde_json::Value = reqwest::Client::new()
        .get(format!("{}/apps/{id}/snapshots", sim.api_url()))
        .header("Authorization", KEY)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let item = &v["response"][0];
    (
        item["url"].as_str().unwrap().to_string(),
        item["size"].as_u64().unwrap(),
    )
}

#[tokio::test]
async fn ranges_are_served_with_206_and_content_range() {
    let sim = sim().await;
    let (url, size) = latest_url(&sim, ATLAS).await;
    let http = reqwest::Client::new();
    let full = http.get(&url).send().await.unwrap();
    assert_eq!(full.status(), 200);
    assert_eq!(full.headers()["content-length"], size.to_string().as_str());
    assert_eq!(full.headers()["accept-ranges"], "bytes");
    let etag = full.headers()["etag"].to_str().unwrap().to_string();
    let all = full.bytes().await.unwrap();

    let part = http
        .get(&url)
        .header("Range", "bytes=1000-")
        .send()
        .await
        .unwrap();
    assert_eq!(part.status(), 206);
    assert_eq!(
        part.headers()["content-range"],
        format!("bytes 1000-{}/{}", size - 1, size).as_str()
    );
    assert_eq!(part.bytes().await.unwrap(), all.slice(1000..));

    let bad = http
        .get(&url)
        .header("Range", format!("bytes={size}-"))
        .send()
        .await
        .unwrap();
    assert_eq!(bad.status(), 416);
    assert_eq!(
        bad.headers()["content-range"],
        format!("bytes */{size}").as_str()
    );

    // A stale If-Range means "send it all".
    let stale = http
        .get(&url)
        .header("Range", "bytes=10-")
        .header("If-Range", "\"other\"")
        .send()
        .await
        .unwrap();
    assert_eq!(stale.status(), 200);
    let fresh = http
        .get(&url)
        .header("Range", "bytes=10-")
        .header("If-Range", etag)
        .send()
        .await
        .unwrap();
    assert_eq!(fresh.status(), 206);
}

#[tokio::test]
async fn signatures_are_checked_and_expire() {
    let sim = sim().await;
    let (url, _) = latest_url(&sim, ATLAS).await;
    let tampered = url.replace("Expires=", "Expires=1");
    let r = reqwest::get(&tampered).await.unwrap();
    assert_eq!(r.status(), 403);
    assert!(r.text().await.unwrap().contains("SignatureDoesNotMatch"));
    let unsigned = url.split('?').next().unwrap().to_string();
    assert_eq!(reqwest::get(&unsigned).await.unwrap().status(), 403);

    sim.advance(Duration::from_secs(31 * 24 * 3600));
    let r = reqwest::get(&url).await.unwrap();
    assert_eq!(r.status(), 403);
    assert_eq!(r.headers()["content-type"], "application/xml");
    assert!(r.text().await.unwrap().contains("Request has expired"));
}

#[tokio::test]
async fn file_faults_reset_ignore_range_and_expire_on_demand() {
    let sim = sim().await;
    let (url, size) = latest_url(&sim, ATLAS).await;
    sim.inject(FaultSpec::new(
        Target::Files,
        FaultKind::ResetAfter { bytes: 100_000 },
    ));
    let r = reqwest::get(&url).await.unwrap();
    assert_eq!(r.status(), 200);
    assert!(r.bytes().await.is_err(), "the body must be cut short");

    sim.inject(FaultSpec::new(Target::Files, FaultKind::IgnoreRange));
    let r = reqwest::Client::new()
        .get(&url)
        .header("Range", "bytes=5-")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(r.content_length(), Some(size));

    sim.inject(FaultSpec::new(Target::Files, FaultKind::ExpiredSignature));
    assert_eq!(reqwest::get(&url).await.unwrap().status(), 403);

    sim.inject(FaultSpec::new(
        Target::Files,
        FaultKind::ServerErrorHtml { status: 503 },
    ));
    assert_eq!(reqwest::get(&url).await.unwrap().status(), 503);

    sim.inject(
        FaultSpec::new(
            Target::Files,
            FaultKind::Bandwidth {
                bytes_per_sec: 4_000_000,
            },
        )
        .on_path(ATLAS),
    );
    let t = std::time::Instant::now();
    let r = reqwest::Client::new()
        .get(&url)
        .header("Range", "bytes=0-399999")
        .send()
        .await
        .unwrap();
    assert_eq!(r.bytes().await.unwrap().len(), 400_000);
    assert!(
        t.elapsed() >= Duration::from_millis(90),
        "bandwidth cap not applied: {:?}",
        t.elapsed()
    );

    sim.inject(FaultSpec::new(
        Target::Files,
        FaultKind::Stall {
            after_bytes: 1000,
            seconds: 0.3,
        },
    ));
    let t = std::time::Instant::now();
    let r = reqwest::Client::new()
        .get(&url)
        .header("Range", "bytes=0-4999")
        .send()
        .await
        .unwrap();
    assert_eq!(r.bytes().await.unwrap().len(), 5000);
    assert!(t.elapsed() >= Duration::from_millis(290));

    // Every file request was recorded, none with an Authorization header.
    let files: Vec<_> = sim
        .requests()
        .into_iter()
        .filter(|r| r.host == Target::Files)
        .collect();
    assert_eq!(files.len(), 6);
    assert!(
        files
            .iter()
            .all(|r| !r.headers.iter().any(|h| h == "authorization"))
    );
    assert_eq!(files[1].range.as_deref(), Some("bytes=5-"));
}

#[tokio::test]
async fn control_api_injects_faults_and_reads_the_log() {
    let sim = sim().await;
    let http = reqwest::Client::new();
    let base = sim.api_url().replace("/v2", "");
    let r = http
        .post(format!("{base}/_sim/faults"))
        .body(r#"{"target":"api","kind":"server_error_html","status":500}"#)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 204);
    let r = http
        .get(format!("{}/users/me", sim.api_url()))
        .header("Authorization", KEY)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 500);
    let log: serde_json::Value = http
        .get(format!("{base}/_sim/requests"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(log[0]["path"], "/v2/users/me");
    assert_eq!(log[0]["status"], 500);
    let r = http
        .post(format!("{base}/_sim/clock/advance"))
        .body(r#"{"seconds":60}"#)
        .header("content-type", "application/json")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
}

/// Read + Seek over a virtual archive, so the zip crate can check one without memory.
struct Cursor {
    zip: VirtualZip,
    pos: u64,
}

impl Read for Cursor {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.zip.read_at(self.pos, buf);
        self.pos += n as u64;
        Ok(n)
    }
}

impl Seek for Cursor {
    fn seek(&mut self, to: SeekFrom) -> std::io::Result<u64> {
        self.pos = match to {
            SeekFrom::Start(p) => p,
            SeekFrom::End(d) => (self.zip.len() as i64 + d) as u64,
            SeekFrom::Current(d) => (self.pos as i64 + d) as u64,
        };
        Ok(self.pos)
    }
}

#[tokio::test]
async fn a_distant_host_answers_after_its_handshakes_and_starts_slow() {
    let sim = sim().await;
    let (url, size) = latest_url(&sim, ATLAS).await;
    assert!(size > 2 << 20, "{size}");
    let rtt = Duration::from_millis(100);
    sim.inject(FaultSpec::new(Target::Files, FaultKind::Distant { rtt_ms: 100 }).times(None));
    let http = reqwest::Client::new();
    let fetch = |range: &'static str| {
        let (http, url) = (http.clone(), url.clone());
        async move {
            let t = Instant::now();
            let r = http.get(&url).header("Range", range).send().await.unwrap();
            let head = t.elapsed();
            assert_eq!(r.status(), 206);
            let n = r.bytes().await.unwrap().len();
            (head, t.elapsed() - head, n)
        }
    };
    // A new connection: TCP's and TLS's handshakes, then the request. Its first MiB comes in
    // slow start: 14,480 bytes in the first round trip, twice as much in each next one, so
    // 7 round trips.
    let (head, body, n) = fetch("bytes=0-1048575").await;
    assert_eq!(n, 1 << 20);
    assert!(head >= 3 * rtt, "{head:?}");
    assert!(body >= 6 * rtt, "{body:?}");
    // The same connection again: one round trip, and the window it opened is kept (the
    // second MiB is one round trip's worth, and a bit of the next).
    let (head2, body2, n) = fetch("bytes=1048576-2097151").await;
    assert_eq!(n, 1 << 20);
    // At least a round trip quicker to answer (two handshakes spared), and a slow start
    // that began again would take 6 round trips, not 1 or 2.
    assert!(
        head2 >= rtt && head2 + rtt <= head,
        "{head2:?} after {head:?}"
    );
    assert!(body2 + 3 * rtt <= body, "{body2:?} after {body:?}");
}

#[test]
fn a_5_gib_archive_is_a_valid_zip64_described_in_constant_memory() {
    let size = 5 * 1024 * 1024 * 1024u64;
    let zip = VirtualZip::new("big", "v1", "big app", size);
    assert_eq!(zip.len(), size);
    let mut a = zip::ZipArchive::new(Cursor { zip, pos: 0 }).unwrap();
    assert_eq!(a.len(), 3);
    let blob = a.by_name("data/blob.bin").unwrap();
    assert!(blob.size() > 4 * 1024 * 1024 * 1024);
    drop(blob);
    let mut readme = String::new();
    a.by_name("README.txt")
        .unwrap()
        .read_to_string(&mut readme)
        .unwrap();
    assert!(readme.contains("big app"));
}
