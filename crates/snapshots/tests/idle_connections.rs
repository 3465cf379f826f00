//! What a burst of downloads leaves behind: the downloader's HTTP client keeps at most
//! `IDLE_PER_HOST` idle connections to a host, however many downloads ran together. Each
//! kept connection holds the read buffer it grew to; an uncapped pool kept one per download
//! of the burst for 90 s (the app's memory after 100 downloads, docs/benchmarks.md).
//!
//! The host here is a few lines of HTTP/1.1 over TCP that count the connections open on
//! their side: the client's pool is not visible from outside, but a connection it drops is
//! closed, and the host sees that.

use snapshots::download::{DownloadTarget, Downloader, IDLE_PER_HOST};
use squarecloud_sim::zipgen::VirtualZip;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::Barrier;
use tokio_util::sync::CancellationToken;

/// Downloads that run together: well over the cap.
const BURST: usize = IDLE_PER_HOST * 3;

#[derive(Default)]
struct Counts {
    open: AtomicUsize,
    most: AtomicUsize,
}

/// Answers every GET on a connection with `body`. On the burst's connections (`gate`), the
/// first answer waits until `BURST` of them have asked, so the burst runs over that many
/// at once.
async fn serve(
    mut s: TcpStream,
    body: Arc<Vec<u8>>,
    mut gate: Option<Arc<Barrier>>,
    counts: Arc<Counts>,
) {
    let now = counts.open.fetch_add(1, Ordering::SeqCst) + 1;
    counts.most.fetch_max(now, Ordering::SeqCst);
    let mut buf = Vec::new();
    let mut chunk = [0u8; 4096];
    'conn: loop {
        // One request head (a GET has no body).
        while !buf.windows(4).any(|w| w == b"\r\n\r\n") {
            match s.read(&mut chunk).await {
                Ok(0) | Err(_) => break 'conn,
                Ok(n) => buf.extend_from_slice(&chunk[..n]),
            }
        }
        let end = buf.windows(4).position(|w| w == b"\r\n\r\n").unwrap() + 4;
        buf.drain(..end);
        if let Some(g) = gate.take() {
            g.wait().await;
        }
        let head = format!(
            "HTTP/1.1 200 OK\r\nContent-Type: application/zip\r\nContent-Length: {}\r\n\r\n",
            body.len()
        );
        if s.write_all(head.as_bytes()).await.is_err() || s.write_all(&body).await.is_err() {
            break;
        }
    }
    counts.open.fetch_sub(1, Ordering::SeqCst);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_burst_of_downloads_leaves_no_more_idle_connections_than_the_cap() {
    let body = Arc::new(VirtualZip::new("r", "v", "app", 256 * 1024).to_vec());
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let counts = Arc::new(Counts::default());
    let gate = Arc::new(Barrier::new(BURST));
    let host = {
        let (body, counts) = (body.clone(), counts.clone());
        tokio::spawn(async move {
            let mut accepted = 0;
            while let Ok((s, _)) = listener.accept().await {
                let gate = (accepted < BURST).then(|| gate.clone());
                accepted += 1;
                tokio::spawn(serve(s, body.clone(), gate, counts.clone()));
            }
        })
    };

    let dir = tempfile::tempdir().unwrap();
    let dl = Downloader::new();
    let cancel = CancellationToken::new();
    let downloads = (0..BURST).map(|i| {
        let target = DownloadTarget {
            url: format!("http://127.0.0.1:{port}/s{i}.zip"),
            dir: dir.path().to_path_buf(),
            file_name: format!("s{i}.zip"),
            expected_size: Some(body.len() as u64),
            max_size: None,
        };
        let (dl, cancel) = (dl.clone(), cancel.clone());
        async move {
            dl.fetch(&target, || async { None }, &mut |_| {}, &cancel, false)
                .await
        }
    });
    for done in futures_util::future::join_all(downloads).await {
        let done = done.unwrap();
        assert_eq!(done.size, body.len() as u64);
    }
    assert_eq!(
        counts.most.load(Ordering::SeqCst),
        BURST,
        "the downloads ran together, one connection each"
    );

    // A connection the pool does not keep is closed as its answer ends; the host sees the
    // close soon after. The limit is only there so that a failure ends.
    let limit = Instant::now() + Duration::from_secs(20);
    while counts.open.load(Ordering::SeqCst) > IDLE_PER_HOST && Instant::now() < limit {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let open = counts.open.load(Ordering::SeqCst);
    assert!(
        open <= IDLE_PER_HOST,
        "{open} connections still open after {BURST} downloads (at most {IDLE_PER_HOST} kept)"
    );
    // What is kept serves the next download (a new connection would not wait either).
    let target = DownloadTarget {
        url: format!("http://127.0.0.1:{port}/again.zip"),
        dir: dir.path().to_path_buf(),
        file_name: "again.zip".into(),
        expected_size: Some(body.len() as u64),
        max_size: None,
    };
    dl.fetch(&target, || async { None }, &mut |_| {}, &cancel, false)
        .await
        .unwrap();
    assert!(counts.open.load(Ordering::SeqCst) <= IDLE_PER_HOST);
    host.abort();
}
