//! `Client::commit` against the simulator: the zip streamed in and applied, the 100 MB rule
//! kept before anything is sent, the API's refusals as typed errors, and a lost answer
//! never sent again.

use squarecloud::{ApiError, ApiKey, Client, ErrorCode};
use squarecloud_sim::{AccountSpec, FaultKind, FaultSpec, SimConfig, Simulator, Target};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

const KEY: &str = "313397145698959364-s3cr3t";
const ATLAS: &str = "0f1e2d3c4b5a69788796a5b4c3d2e1f0";

async fn sim() -> (Simulator, Client) {
    let sim = Simulator::start(SimConfig::new(KEY, AccountSpec::demo()))
        .await
        .unwrap();
    let client = Client::new(&sim.api_url(), ApiKey::new(KEY).unwrap()).unwrap();
    (sim, client)
}

fn zip_in(dir: &Path, files: &[(&str, &[u8])]) -> PathBuf {
    let path = dir.join("copy.zip");
    let mut w = zip::ZipWriter::new(std::fs::File::create(&path).unwrap());
    for (name, body) in files {
        w.start_file(*name, zip::write::SimpleFileOptions::default())
            .unwrap();
        w.write_all(body).unwrap();
    }
    w.finish().unwrap();
    path
}

fn commits(sim: &Simulator) -> Vec<u16> {
    sim.requests()
        .iter()
        .filter(|r| r.path.ends_with("/commit"))
        .map(|r| r.status)
        .collect()
}

#[tokio::test]
async fn a_commit_streams_the_zip_and_reports_progress() {
    let (sim, c) = sim().await;
    let dir = tempfile::tempdir().unwrap();
    let big = vec![7u8; 600_000];
    let zip = zip_in(dir.path(), &[("index.js", b"hi"), ("data.bin", &big)]);
    let size = std::fs::metadata(&zip).unwrap().len();
    let seen = Arc::new(AtomicU64::new(0));
    let s2 = seen.clone();
    c.commit_with_progress(
        ATLAS,
        &zip,
        true,
        Arc::new(move |sent, total| {
            assert_eq!(total, size);
            s2.store(sent, Ordering::SeqCst);
        }),
    )
    .await
    .unwrap();
    assert_eq!(seen.load(Ordering::SeqCst), size, "every byte was told");
    assert_eq!(sim.app_files(ATLAS).unwrap()["data.bin"], big);
    assert_eq!(sim.app_restarts(ATLAS), 1);
}

#[tokio::test]
async fn refusals_are_typed_and_a_large_file_is_not_sent() {
    let (sim, c) = sim().await;
    let dir = tempfile::tempdir().unwrap();
    let big = dir.path().join("big.zip");
    std::fs::File::create(&big)
        .unwrap()
        .set_len(squarecloud::limits::UPLOAD_MAX_BYTES + 1)
        .unwrap();
    let e = c.commit(ATLAS, &big, false).await.unwrap_err();
    assert_eq!(e.code(), Some(&ErrorCode::FileTooLarge));
    assert!(commits(&sim).is_empty(), "nothing was sent");

    let not_zip = dir.path().join("notes.zip");
    std::fs::write(&not_zip, b"not a zip at all").unwrap();
    let e = c.commit(ATLAS, &not_zip, false).await.unwrap_err();
    assert_eq!(
        (e.status(), e.code()),
        (Some(400), Some(&ErrorCode::InvalidFile))
    );
    assert!(!e.answer_may_be_lost(), "the server's own word");
    let good = zip_in(dir.path(), &[("a.txt", b"a")]);
    let e = c.commit(ATLAS, &good, false).await.unwrap_err();
    assert_eq!(
        (e.status(), e.code()),
        (Some(429), Some(&ErrorCode::KeepCalm))
    );

    let wrong = Client::new(&sim.api_url(), ApiKey::new("nope").unwrap()).unwrap();
    let e = wrong.commit(ATLAS, &good, false).await.unwrap_err();
    assert!(e.code().is_some_and(ErrorCode::is_bad_key), "{e:?}");
    assert!(!e.to_string().contains(KEY));
    assert_eq!(commits(&sim), vec![400, 429, 401]);
}

#[tokio::test]
async fn a_lost_answer_is_unknown_and_never_sent_again() {
    let (sim, c) = sim().await;
    let dir = tempfile::tempdir().unwrap();
    let good = zip_in(dir.path(), &[("a.txt", b"a")]);
    sim.inject(
        FaultSpec::new(Target::Api, FaultKind::ResetAfter { bytes: 3 })
            .on_path("/commit")
            .on_method("POST"),
    );
    let e = c.commit(ATLAS, &good, false).await.unwrap_err();
    assert!(e.answer_may_be_lost(), "{e:?}");
    assert!(matches!(e, ApiError::Network(_) | ApiError::Decode { .. }));
    assert_eq!(commits(&sim).len(), 1, "one POST, not retried");
    assert!(
        sim.app_files(ATLAS).unwrap().contains_key("a.txt"),
        "it was applied"
    );
}
