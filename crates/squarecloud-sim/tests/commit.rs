//! The commit route: a zip's files added to an application and held by its later
//! snapshots; the size, zip, window, database and key rules; the request log.

use squarecloud_sim::{AccountSpec, SimConfig, Simulator};
use std::io::{Read, Write};
use std::time::Duration;

const KEY: &str = "demo-key";
const ATLAS: &str = "0f1e2d3c4b5a69788796a5b4c3d2e1f0";
const POSTGRES: &str = "8192a3b4c5d6e7f8091a2b3c4d5e6f70";

async fn sim() -> Simulator {
    let mut c = SimConfig::new(KEY, AccountSpec::demo());
    c.generation_time = Duration::ZERO;
    c.generation_bytes_per_sec = 0;
    Simulator::start(c).await.unwrap()
}

fn zip_of(files: &[(&str, &[u8])]) -> Vec<u8> {
    let mut w = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    for (name, body) in files {
        let stored = zip::write::SimpleFileOptions::default()
            .compression_method(zip::CompressionMethod::Stored);
        w.start_file(*name, stored).unwrap();
        w.write_all(body).unwrap();
    }
    w.finish().unwrap().into_inner()
}

async fn commit(sim: &Simulator, id: &str, key: &str, body: reqwest::Body) -> (u16, String) {
    let part = reqwest::multipart::Part::stream(body).file_name("put-back.zip");
    let form = reqwest::multipart::Form::new().part("file", part);
    let r = reqwest::Client::new()
        .post(format!("{}/apps/{id}/commit?restart=true", sim.api_url()))
        .header("Authorization", key)
        .multipart(form)
        .send()
        .await
        .unwrap();
    (r.status().as_u16(), r.text().await.unwrap())
}

#[tokio::test]
async fn a_commit_adds_and_replaces_files_and_later_snapshots_hold_them() {
    let sim = sim().await;
    let first = zip_of(&[("index.js", b"one"), ("keep.txt", b"kept")]);
    let (status, body) = commit(&sim, ATLAS, KEY, first.into()).await;
    assert_eq!((status, body.as_str()), (200, r#"{"status":"success"}"#));
    tokio::time::sleep(Duration::from_millis(3100)).await;
    let second = zip_of(&[("index.js", b"two"), ("src/new.js", b"new")]);
    assert_eq!(commit(&sim, ATLAS, KEY, second.into()).await.0, 200);
    let files = sim.app_files(ATLAS).unwrap();
    assert_eq!(files["index.js"], b"two", "the same path is replaced");
    assert_eq!(files["keep.txt"], b"kept", "nothing is deleted");
    assert_eq!(files["src/new.js"], b"new");
    assert_eq!(sim.app_restarts(ATLAS), 2);

    // A snapshot taken now holds them; one taken before does not.
    let before = sim.versions(ATLAS)[0].clone();
    let created = reqwest::Client::new()
        .post(format!("{}/apps/{ATLAS}/snapshots", sim.api_url()))
        .header("Authorization", KEY)
        .send()
        .await
        .unwrap();
    assert_eq!(created.status(), 200);
    let newest = sim.created_versions(ATLAS).pop().unwrap();
    let archive = sim.archive(ATLAS, &newest).unwrap();
    let mut zip = zip::ZipArchive::new(std::io::Cursor::new(archive)).unwrap();
    let mut text = String::new();
    zip.by_name("src/new.js")
        .unwrap()
        .read_to_string(&mut text)
        .unwrap();
    assert_eq!(text, "new");
    let old = sim.archive(ATLAS, &before).unwrap();
    let old = zip::ZipArchive::new(std::io::Cursor::new(old)).unwrap();
    assert!(old.index_for_name("src/new.js").is_none());
    let posts: Vec<_> = sim
        .requests()
        .into_iter()
        .filter(|r| r.path.ends_with("/commit"))
        .map(|r| (r.status, r.query))
        .collect();
    assert_eq!(posts.len(), 2, "the log has each commit: {posts:?}");
    assert_eq!(posts[0], (200, Some("restart=true".into())));
}

#[tokio::test]
async fn commits_are_refused_as_the_api_refuses_them() {
    let sim = sim().await;
    let good = zip_of(&[("a.txt", b"a")]);
    // A database has no commit: the answer of an unknown application.
    let (s, body) = commit(&sim, POSTGRES, KEY, good.clone().into()).await;
    assert_eq!(s, 404);
    assert!(body.contains("APP_NOT_FOUND"), "{body}");
    let (s, body) = commit(&sim, ATLAS, "wrong-key", good.clone().into()).await;
    assert_eq!(s, 401);
    assert!(body.contains("ACCESS_DENIED"), "{body}");
    // Not a zip, then a damaged one (a body byte changed: its CRC fails).
    let (s, body) = commit(&sim, ATLAS, KEY, b"hello, not a zip".to_vec().into()).await;
    assert_eq!((s, body.contains("INVALID_FILE")), (400, true), "{body}");
    tokio::time::sleep(Duration::from_millis(3100)).await;
    let mut damaged = zip_of(&[("a.txt", b"aaaaaaaaaaaaaaaaaaaaaaaa")]);
    let at = damaged.windows(4).position(|w| w == b"aaaa").unwrap();
    damaged[at] = b'b';
    let (s, body) = commit(&sim, ATLAS, KEY, damaged.into()).await;
    assert_eq!((s, body.contains("INVALID_FILE")), (400, true), "{body}");
    // A second commit within 3 s.
    let (s, body) = commit(&sim, ATLAS, KEY, good.clone().into()).await;
    assert_eq!((s, body.contains("KEEP_CALM")), (429, true), "{body}");
    assert!(sim.app_files(ATLAS).unwrap().is_empty(), "nothing applied");
}

#[tokio::test]
async fn a_file_over_100_mb_is_413_file_too_large() {
    let sim = sim().await;
    let total: u64 = 100_000_001;
    let chunk = bytes::Bytes::from(vec![0u8; 1 << 20]);
    let chunks = (0..total.div_ceil(1 << 20)).map(move |i| {
        let n = (total - i * (1 << 20)).min(1 << 20) as usize;
        Ok::<_, std::io::Error>(chunk.slice(..n))
    });
    let body = reqwest::Body::wrap_stream(futures_util::stream::iter(chunks));
    let (s, body) = commit(&sim, ATLAS, KEY, body).await;
    assert_eq!(s, 413, "{body}");
    assert!(body.contains("FILE_TOO_LARGE"), "{body}");
}
