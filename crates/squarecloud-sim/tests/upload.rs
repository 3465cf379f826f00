//! The upload route (`POST /v2/apps`): a snapshot of an application, uploaded, becomes a new
//! application holding its files, listed by `/users/me` and counted against the plan's
//! memory; the configuration, size, zip, window, memory and key rules.

use squarecloud_sim::{AccountSpec, SimConfig, Simulator};
use std::io::{Read, Write};
use std::time::Duration;

const KEY: &str = "demo-key";
const ROCKET: &str = "2b3c4d5e6f708192a3b4c5d6e7f8091a";

async fn sim(memory_mb: u64) -> Simulator {
    let mut account = AccountSpec::demo();
    account.memory_mb = memory_mb;
    let mut c = SimConfig::new(KEY, account);
    c.generation_time = Duration::ZERO;
    c.generation_bytes_per_sec = 0;
    // Two creates in a row (the snapshot, then the new application's).
    c.limits.account_gap = Duration::ZERO;
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

fn entries(zip: &[u8]) -> Vec<(String, Vec<u8>)> {
    let mut z = zip::ZipArchive::new(std::io::Cursor::new(zip)).unwrap();
    let mut out = Vec::new();
    for i in 0..z.len() {
        let mut e = z.by_index(i).unwrap();
        let mut body = Vec::new();
        e.read_to_end(&mut body).unwrap();
        out.push((e.name().to_string(), body));
    }
    out.sort();
    out
}

async fn upload(sim: &Simulator, key: &str, body: reqwest::Body) -> (u16, serde_json::Value) {
    let part = reqwest::multipart::Part::stream(body).file_name("app.zip");
    let form = reqwest::multipart::Form::new().part("file", part);
    let r = reqwest::Client::new()
        .post(format!("{}/apps", sim.api_url()))
        .header("Authorization", key)
        .multipart(form)
        .send()
        .await
        .unwrap();
    let status = r.status().as_u16();
    (status, r.json().await.unwrap())
}

async fn me(sim: &Simulator) -> serde_json::Value {
    reqwest::Client::new()
        .get(format!("{}/users/me", sim.api_url()))
        .header("Authorization", KEY)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap()
}

async fn snapshot(sim: &Simulator, id: &str) -> Vec<u8> {
    let created = reqwest::Client::new()
        .post(format!("{}/apps/{id}/snapshots", sim.api_url()))
        .header("Authorization", KEY)
        .send()
        .await
        .unwrap();
    assert_eq!(created.status(), 200, "{}", created.text().await.unwrap());
    let newest = sim.created_versions(id).pop().unwrap();
    sim.archive(id, &newest).unwrap()
}

#[tokio::test]
async fn a_snapshot_uploaded_becomes_a_new_application_with_its_files() {
    let sim = sim(8192).await;
    // An application's snapshot holds its configuration and main file, as a real one does.
    let zip = snapshot(&sim, ROCKET).await;
    let files = entries(&zip);
    let config = files.iter().find(|(n, _)| n == "squarecloud.app").unwrap();
    let config = String::from_utf8(config.1.clone()).unwrap();
    assert!(config.contains("DISPLAY_NAME=🚀 rocket-api"), "{config}");
    assert!(
        config.contains("MAIN=main.rs") && config.contains("MEMORY=256"),
        "{config}"
    );
    assert!(files.iter().any(|(n, _)| n == "main.rs"));

    let apps_before = me(&sim).await["response"]["applications"]
        .as_array()
        .unwrap()
        .len();
    let used_before = me(&sim).await["response"]["user"]["plan"]["memory"]["used"]
        .as_u64()
        .unwrap();
    let (status, answer) = upload(&sim, KEY, zip.clone().into()).await;
    assert_eq!(status, 200, "{answer}");
    let r = &answer["response"];
    let id = r["id"].as_str().unwrap().to_string();
    assert_eq!(id.len(), 32);
    assert!(id.chars().all(|c| c.is_ascii_hexdigit()) && id != ROCKET);
    assert_eq!(r["tag"], "🚀 rocket-api");
    assert_eq!(r["ram"], 256);
    assert_eq!(r["language"]["name"], "rust");
    assert_eq!(r["language"]["version"], "recommended");

    // Listed, counted against the plan's memory, and holding exactly the zip's files.
    let after = me(&sim).await;
    let apps = after["response"]["applications"].as_array().unwrap();
    assert_eq!(apps.len(), apps_before + 1);
    let listed = apps.iter().find(|a| a["id"] == id.as_str()).unwrap();
    assert_eq!(
        (listed["name"].as_str(), listed["ram"].as_u64()),
        (Some("🚀 rocket-api"), Some(256))
    );
    assert_eq!(
        after["response"]["user"]["plan"]["memory"]["used"]
            .as_u64()
            .unwrap(),
        used_before + 256
    );
    let held: Vec<(String, Vec<u8>)> = sim.app_files(&id).unwrap().into_iter().collect();
    assert_eq!(held, files, "the new application's files are the zip's");
    // Its own snapshots hold them too (its generated README and manifest name the new id).
    let again = entries(&snapshot(&sim, &id).await);
    for (name, body) in files
        .iter()
        .filter(|(n, _)| n != "README.txt" && n != "manifest.json")
    {
        let got = again.iter().find(|(n, _)| n == name).unwrap();
        assert_eq!(&got.1, body, "{name}");
    }
    let posts: Vec<_> = sim
        .requests()
        .into_iter()
        .filter(|r| r.method == "POST" && r.path.ends_with("/v2/apps"))
        .map(|r| r.status)
        .collect();
    assert_eq!(posts, vec![200], "the log has the upload");
}

#[tokio::test]
async fn uploads_are_refused_as_the_api_refuses_them() {
    let sim = sim(4096).await;
    let count = |v: &serde_json::Value| v["response"]["applications"].as_array().unwrap().len();
    let before = count(&me(&sim).await);
    let gap = || tokio::time::sleep(Duration::from_millis(3100));
    let code = |v: &serde_json::Value| v["code"].as_str().unwrap_or_default().to_string();

    let (s, v) = upload(&sim, "wrong-key", zip_of(&[("a", b"a")]).into()).await;
    assert_eq!((s, code(&v).as_str()), (401, "ACCESS_DENIED"));
    let (s, v) = upload(&sim, KEY, b"not a zip".to_vec().into()).await;
    assert_eq!((s, code(&v).as_str()), (400, "INVALID_FILE"));
    // A second upload within 3 s of the last one, whatever became of it.
    let (s, v) = upload(&sim, KEY, zip_of(&[("a", b"a")]).into()).await;
    assert_eq!((s, code(&v).as_str()), (429, "KEEP_CALM"));
    gap().await;
    let (s, v) = upload(&sim, KEY, zip_of(&[("index.js", b"x")]).into()).await;
    assert_eq!((s, code(&v).as_str()), (400, "MISSING_CONFIG"));
    gap().await;
    let cfg = b"DISPLAY_NAME=bot\nMAIN=index.js\nMEMORY=512\n";
    let (s, v) = upload(&sim, KEY, zip_of(&[("squarecloud.app", cfg)]).into()).await;
    assert_eq!((s, code(&v).as_str()), (400, "INVALID_MAIN"));
    gap().await;
    // More memory than the plan has free (the demo's applications use most of 4096 MB).
    let big = b"DISPLAY_NAME=bot\nMAIN=index.js\nMEMORY=4096\n";
    let (s, v) = upload(
        &sim,
        KEY,
        zip_of(&[("squarecloud.app", big), ("index.js", b"x")]).into(),
    )
    .await;
    assert_eq!((s, code(&v).as_str()), (400, "INSUFFICIENT_MEMORY"));
    gap().await;
    let total: u64 = 100_000_001;
    let chunk = bytes::Bytes::from(vec![0u8; 1 << 20]);
    let chunks = (0..total.div_ceil(1 << 20)).map(move |i| {
        let n = (total - i * (1 << 20)).min(1 << 20) as usize;
        Ok::<_, std::io::Error>(chunk.slice(..n))
    });
    let body = reqwest::Body::wrap_stream(futures_util::stream::iter(chunks));
    let (s, v) = upload(&sim, KEY, body).await;
    assert_eq!((s, code(&v).as_str()), (413, "FILE_TOO_LARGE"));
    assert_eq!(count(&me(&sim).await), before, "no application was made");
}
