//! Put back from a copy against the simulator: the copy's files reach the application and
//! its later snapshots, a snapshot of the current state is taken and downloaded first, what
//! cannot go (a database, over 100 MB, a damaged zip) is refused before any request, a
//! `KEEP_CALM` is waited out and sent once more, and a lost answer is never sent again.

mod common;

use common::*;
use snapshots::{EngineError, Event, PutBackOptions};
use squarecloud_sim::{AccountSpec, FaultKind, FaultSpec, SimConfig, Simulator, Target};
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use tokio_util::sync::CancellationToken;

const ATLAS: &str = "0f1e2d3c4b5a69788796a5b4c3d2e1f0";
const POSTGRES: &str = "8192a3b4c5d6e7f8091a2b3c4d5e6f70";

fn config() -> SimConfig {
    let mut c = SimConfig::new(KEY, AccountSpec::demo()).instant_creates();
    c.account.applications[0].snapshot_size = 64 * 1024;
    c
}

fn zip_in(dir: &Path, name: &str, files: &[(&str, &[u8])]) -> PathBuf {
    let path = dir.join(name);
    let mut w = zip::ZipWriter::new(std::fs::File::create(&path).unwrap());
    let stored =
        zip::write::SimpleFileOptions::default().compression_method(zip::CompressionMethod::Stored);
    for (name, body) in files {
        w.start_file(*name, stored).unwrap();
        w.write_all(body).unwrap();
    }
    w.finish().unwrap();
    path
}

fn no_snapshot() -> PutBackOptions {
    PutBackOptions {
        snapshot_first: false,
        ..PutBackOptions::default()
    }
}

/// The API calls that change something, in order: (path, status).
fn posts(sim: &Simulator) -> Vec<(String, u16)> {
    sim.requests()
        .into_iter()
        .filter(|r| r.method == "POST")
        .map(|r| (r.path, r.status))
        .collect()
}

#[tokio::test]
async fn the_copys_files_reach_the_app_and_its_later_snapshots() {
    let (sim, engine, dir) = start(config()).await;
    let copy = zip_in(
        dir.path(),
        "copy.zip",
        &[("index.js", b"console.log('back')")],
    );
    let (sink, events) = collect();
    let opts = PutBackOptions {
        restart: true,
        ..no_snapshot()
    };
    let done = engine
        .put_back(ATLAS, &copy, opts, sink, &CancellationToken::new())
        .await
        .unwrap();
    assert!(done.safety.is_none() && done.restarted);
    assert_eq!(
        sim.app_files(ATLAS).unwrap()["index.js"],
        b"console.log('back')"
    );
    assert_eq!(sim.app_restarts(ATLAS), 1);
    let events = events.lock().unwrap().clone();
    assert!(events.iter().any(|e| matches!(e, Event::Uploading { .. })));
    assert!(events.iter().any(|e| matches!(e, Event::Committed { .. })));

    // A snapshot taken after holds the file.
    let r = engine.resource(ATLAS).unwrap();
    let (sink, _) = collect();
    let out = engine
        .snapshot(
            vec![r],
            download_to(dir.path()),
            sink,
            &CancellationToken::new(),
        )
        .await
        .remove(0)
        .outcome
        .unwrap();
    let file = std::fs::File::open(out.download.unwrap().path).unwrap();
    let mut zip = zip::ZipArchive::new(file).unwrap();
    let mut text = String::new();
    zip.by_name("index.js")
        .unwrap()
        .read_to_string(&mut text)
        .unwrap();
    assert_eq!(text, "console.log('back')");
}

#[tokio::test]
async fn a_library_copy_is_named_and_a_snapshot_is_taken_and_downloaded_first() {
    let (sim, engine, dir) = start(config()).await;
    let r = engine.resource(ATLAS).unwrap();
    let copy = download_latest(&engine, &r, dir.path()).await.unwrap().path;
    let plan = engine.check_put_back(ATLAS, &copy, None).await.unwrap();
    let from = plan.from.expect("the library knows its copy");
    assert_eq!(from.resource_id, ATLAS);
    assert_eq!(plan.size, std::fs::metadata(&copy).unwrap().len());
    sim.clear_requests();
    let first = folder(dir.path(), "before");
    let opts = PutBackOptions {
        download_first_to: Some(first.clone()),
        ..PutBackOptions::default()
    };
    let (sink, _) = collect();
    let done = engine
        .put_back(ATLAS, &copy, opts, sink, &CancellationToken::new())
        .await
        .unwrap();
    let safety = done.safety.unwrap().download.unwrap();
    assert!(safety.path.starts_with(&first) && safety.path.exists());
    // The create, then its download, then the commit.
    let log = sim.requests();
    let at =
        |f: &dyn Fn(&squarecloud_sim::RecordedRequest) -> bool| log.iter().position(f).unwrap();
    let create = at(&|q| q.method == "POST" && q.path.ends_with("/snapshots"));
    let fetch = at(&|q| q.host == Target::Files && q.status / 100 == 2);
    let commit = at(&|q| q.path.ends_with("/commit"));
    assert!(create < fetch && fetch < commit, "{log:?}");
    assert_eq!(engine.quota().used, 1, "the snapshot first spends one slot");
    assert!(sim.app_files(ATLAS).unwrap().contains_key("data/blob.bin"));
}

#[tokio::test]
async fn what_cannot_go_is_refused_before_any_request() {
    let (sim, engine, dir) = start(config()).await;
    let good = zip_in(dir.path(), "good.zip", &[("a.txt", b"a")]);
    let big = dir.path().join("big.zip");
    std::fs::File::create(&big)
        .unwrap()
        .set_len(100_000_001)
        .unwrap();
    let damaged = zip_in(dir.path(), "damaged.zip", &[("a.txt", b"aaaaaaaaaaaaaaaa")]);
    let mut bytes = std::fs::read(&damaged).unwrap();
    let at = bytes.windows(4).position(|w| w == b"aaaa").unwrap();
    bytes[at] = b'b';
    std::fs::write(&damaged, bytes).unwrap();
    let not_zip = dir.path().join("notes.zip");
    std::fs::write(&not_zip, "not a zip").unwrap();
    sim.clear_requests();
    let cases: [(&str, &Path, &str); 4] = [
        (POSTGRES, &good, "unsupported"),
        (ATLAS, &big, "too_large"),
        (ATLAS, &damaged, "bad_file"),
        (ATLAS, &not_zip, "bad_file"),
    ];
    for (id, file, code) in cases {
        let (sink, _) = collect();
        let e = engine
            .put_back(
                id,
                file,
                PutBackOptions::default(),
                sink,
                &CancellationToken::new(),
            )
            .await
            .unwrap_err();
        assert_eq!(e.code(), code, "{}: {e}", file.display());
        assert!(e.to_string().contains("Nothing was sent"), "{e}");
    }
    assert!(sim.requests().is_empty(), "{:?}", sim.requests());
    assert_eq!(engine.quota().used, 0);
}

#[tokio::test]
async fn keep_calm_is_waited_out_and_a_lost_answer_is_not_sent_again() {
    let (sim, engine, dir) = start(config()).await;
    let copy = zip_in(dir.path(), "copy.zip", &[("a.txt", b"a")]);
    // Another tool committed a moment ago: the engine did not know, the server says 429.
    engine.client().commit(ATLAS, &copy, false).await.unwrap();
    let (sink, events) = collect();
    engine
        .put_back(ATLAS, &copy, no_snapshot(), sink, &CancellationToken::new())
        .await
        .unwrap();
    let commits: Vec<u16> = posts(&sim).into_iter().map(|p| p.1).collect();
    assert_eq!(commits, vec![200, 429, 200]);
    assert!(events.lock().unwrap().iter().any(|e| matches!(
        e,
        Event::Waiting {
            reason: snapshots::WaitReason::KeepCalm,
            ..
        }
    )));

    sim.clear_requests();
    sim.inject(
        FaultSpec::new(Target::Api, FaultKind::ResetAfter { bytes: 3 })
            .on_path("/commit")
            .on_method("POST"),
    );
    let (sink, _) = collect();
    let e = engine
        .put_back(ATLAS, &copy, no_snapshot(), sink, &CancellationToken::new())
        .await
        .unwrap_err();
    assert!(matches!(e, EngineError::CommitUnknown), "{e:?}");
    assert!(e.to_string().contains("may have applied it"), "{e}");
    assert_eq!(posts(&sim).len(), 1, "exactly one POST: {:?}", posts(&sim));
}

/// An encrypted copy (`X.zip.age`) is checked and sent as it is decrypted: the app ends with
/// the files of the zip inside, and no plain zip is written anywhere. Without the key, or
/// with another, or damaged, it is refused before any request, saying why.
#[tokio::test]
async fn an_encrypted_copy_is_put_back_decrypted_on_the_way() {
    use snapshots::seal::{self, SealIdentity};
    let (sim, engine, dir) = start(config()).await;
    let plain = zip_in(
        dir.path(),
        "sealed.zip",
        &[
            ("index.js", b"console.log('from the sealed copy')"),
            ("data/big.bin", &vec![7u8; 300_000]),
        ],
    );
    let key = SealIdentity::generate();
    let sealed = seal::keep_sealed(&plain, &key.recipient()).unwrap();
    assert!(!plain.exists());
    sim.clear_requests();

    // No key, another key, a damaged copy: refused, nothing sent.
    let (sink, _) = collect();
    let no_key = engine
        .put_back(
            ATLAS,
            &sealed,
            no_snapshot(),
            sink,
            &CancellationToken::new(),
        )
        .await
        .unwrap_err();
    assert!(
        matches!(no_key, EngineError::PutBackNoKey { .. }),
        "{no_key}"
    );
    assert!(no_key.to_string().contains("import-recovery"), "{no_key}");
    let other = PutBackOptions {
        key: Some(std::sync::Arc::new(SealIdentity::generate())),
        ..no_snapshot()
    };
    let (sink, _) = collect();
    let wrong = engine
        .put_back(ATLAS, &sealed, other, sink, &CancellationToken::new())
        .await
        .unwrap_err();
    assert_eq!(wrong.code(), "bad_file", "{wrong}");
    let damaged = dir.path().join("damaged.zip.age");
    let mut bytes = std::fs::read(&sealed).unwrap();
    let mid = bytes.len() / 2;
    bytes[mid] ^= 0x40;
    std::fs::write(&damaged, bytes).unwrap();
    let err = engine
        .check_put_back(ATLAS, &damaged, Some(&key))
        .await
        .unwrap_err();
    assert_eq!(err.code(), "bad_file", "{err}");
    assert!(posts(&sim).is_empty(), "sent: {:?}", posts(&sim));

    // With the account's key: checked whole, then sent as the zip inside.
    let plan = engine
        .check_put_back(ATLAS, &sealed, Some(&key))
        .await
        .unwrap();
    assert!(plan.sealed && plan.entries == 2);
    let opts = PutBackOptions {
        key: Some(std::sync::Arc::new(key)),
        ..no_snapshot()
    };
    let (sink, events) = collect();
    engine
        .put_back(ATLAS, &sealed, opts, sink, &CancellationToken::new())
        .await
        .unwrap();
    let files = sim.app_files(ATLAS).unwrap();
    assert_eq!(files["index.js"], b"console.log('from the sealed copy')");
    assert_eq!(files["data/big.bin"], vec![7u8; 300_000]);
    assert_eq!(posts(&sim).len(), 1, "{:?}", posts(&sim));
    let events = events.lock().unwrap().clone();
    let uploaded = events.iter().rev().find_map(|e| match e {
        Event::Uploading { progress, .. } => Some((progress.bytes, progress.total)),
        _ => None,
    });
    assert_eq!(uploaded, Some((plan.size, Some(plan.size))));
    let left: Vec<_> = std::fs::read_dir(dir.path())
        .unwrap()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(".zip"))
        .collect();
    assert!(left.is_empty(), "a plain zip was written: {left:?}");
}
