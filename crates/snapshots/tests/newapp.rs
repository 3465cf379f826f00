//! A copy brought back as a new application, against the simulator: a downloaded snapshot
//! (plain or encrypted) becomes an application holding its files and is listed; what
//! cannot go (no configuration, no room in the plan, no key, over 100 MB) is refused before
//! the upload is sent.

mod common;

use common::*;
use snapshots::seal::{self, SealIdentity};
use snapshots::{EngineError, Event};
use squarecloud_sim::{AccountSpec, SimConfig, Simulator};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Arc;

const ROCKET: &str = "2b3c4d5e6f708192a3b4c5d6e7f8091a";

fn config() -> SimConfig {
    let mut c = SimConfig::new(KEY, AccountSpec::demo()).instant_creates();
    c.account.memory_mb = 8192;
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

/// Uploads (`POST /v2/apps`) the simulator saw.
fn uploads(sim: &Simulator) -> usize {
    sim.requests()
        .iter()
        .filter(|r| r.method == "POST" && r.path == "/v2/apps")
        .count()
}

/// A snapshot of ROCKET as the simulator serves it, written to `dir`.
fn rocket_copy(sim: &Simulator, dir: &Path) -> PathBuf {
    let v = sim.versions(ROCKET).pop().unwrap();
    let path = dir.join("rocket.zip");
    std::fs::write(&path, sim.archive(ROCKET, &v).unwrap()).unwrap();
    path
}

#[tokio::test]
async fn a_snapshot_becomes_a_new_application_holding_its_files() {
    let (sim, engine, dir) = start(config()).await;
    let copy = rocket_copy(&sim, dir.path());
    let plan = engine.check_new_app(&copy, None).await.unwrap();
    assert_eq!((plan.name.as_str(), plan.memory_mb), ("🚀 rocket-api", 256));
    assert!(!plan.sealed && plan.available_mb.is_some_and(|m| m >= 256));
    assert_eq!(uploads(&sim), 0, "a check sends no upload");

    let (sink, events) = collect();
    let app = engine.new_app_from_copy(&copy, None, sink).await.unwrap();
    assert_ne!(app.id, ROCKET);
    assert_eq!((app.tag.as_str(), app.ram), ("🚀 rocket-api", 256));
    // Listed by the engine at once, and holding exactly the copy's files.
    assert!(engine.resource(&app.id).is_ok());
    let mut z = zip::ZipArchive::new(std::fs::File::open(&copy).unwrap()).unwrap();
    let files = sim.app_files(&app.id).unwrap();
    assert_eq!(files.len(), z.len());
    for i in 0..z.len() {
        let mut e = z.by_index(i).unwrap();
        let mut body = Vec::new();
        std::io::Read::read_to_end(&mut e, &mut body).unwrap();
        assert_eq!(files[e.name()], body, "{}", e.name());
    }
    let size = std::fs::metadata(&copy).unwrap().len();
    let told = events.lock().unwrap().iter().rev().find_map(|e| match e {
        Event::Uploading { progress, .. } => Some(progress.bytes),
        _ => None,
    });
    assert_eq!(told, Some(size), "the upload's progress reaches its end");
    assert_eq!(uploads(&sim), 1);
}

#[tokio::test]
async fn an_encrypted_copy_goes_up_as_it_is_opened() {
    let (sim, engine, dir) = start(config()).await;
    let copy = rocket_copy(&sim, dir.path());
    let want = std::fs::read(&copy).unwrap();
    let key = SealIdentity::generate();
    let sealed = seal::keep_sealed(&copy, &key.recipient()).unwrap();
    let (sink, _) = collect();
    let no_key = engine
        .new_app_from_copy(&sealed, None, sink)
        .await
        .unwrap_err();
    assert!(
        matches!(no_key, EngineError::PutBackNoKey { .. }),
        "{no_key}"
    );
    assert_eq!(uploads(&sim), 0);
    let (sink, _) = collect();
    let app = engine
        .new_app_from_copy(&sealed, Some(Arc::new(key)), sink)
        .await
        .unwrap();
    let mut z = zip::ZipArchive::new(std::io::Cursor::new(&want[..])).unwrap();
    assert_eq!(sim.app_files(&app.id).unwrap().len(), z.len());
    let main = z.by_name("main.rs").unwrap().size();
    assert_eq!(
        sim.app_files(&app.id).unwrap()["main.rs"].len() as u64,
        main
    );
    // No file anywhere in the test's folder (the engine's data dir included) holds the
    // plain zip: it went up as it was decrypted.
    let mut todo = vec![dir.path().to_path_buf()];
    while let Some(d) = todo.pop() {
        for e in std::fs::read_dir(&d).unwrap().flatten() {
            let p = e.path();
            if p.is_dir() {
                todo.push(p);
            } else {
                assert!(std::fs::read(&p).unwrap() != want, "a plain copy at {p:?}");
            }
        }
    }
}

#[tokio::test]
async fn what_cannot_become_an_application_is_refused_before_the_upload() {
    let (sim, engine, dir) = start(config()).await;
    let bare = zip_in(dir.path(), "bare.zip", &[("index.js", b"x")]);
    let e = engine.check_new_app(&bare, None).await.unwrap_err();
    assert_eq!(e.code(), "no_config", "{e}");
    assert!(e.to_string().contains("squarecloud.app"), "{e}");
    let greedy = zip_in(
        dir.path(),
        "greedy.zip",
        &[
            (
                "squarecloud.app",
                b"DISPLAY_NAME=greedy\nMAIN=index.js\nMEMORY=65536\n",
            ),
            ("index.js", b"x"),
        ],
    );
    let (sink, _) = collect();
    let e = engine
        .new_app_from_copy(&greedy, None, sink)
        .await
        .unwrap_err();
    assert!(
        matches!(e, EngineError::NewAppNoRoom { need: 65536, .. }),
        "{e}"
    );
    let huge = dir.path().join("huge.zip");
    std::fs::File::create(&huge)
        .unwrap()
        .set_len(100_000_001)
        .unwrap();
    let e = engine.check_new_app(&huge, None).await.unwrap_err();
    assert_eq!(e.code(), "too_large", "{e}");
    assert_eq!(uploads(&sim), 0, "nothing was sent");
    // What only the server judges (here, a main file the zip lacks) is its refusal, worded.
    let no_main = zip_in(
        dir.path(),
        "no-main.zip",
        &[(
            "squarecloud.app",
            b"DISPLAY_NAME=m\nMAIN=gone.js\nMEMORY=256\n",
        )],
    );
    let (sink, _) = collect();
    let e = engine
        .new_app_from_copy(&no_main, None, sink)
        .await
        .unwrap_err();
    assert!(
        matches!(&e, EngineError::NewAppRefused { code, .. } if code == "INVALID_MAIN"),
        "{e}"
    );
    assert_eq!(uploads(&sim), 1);
}
