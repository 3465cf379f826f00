//! `sqsnap offsite` against a real S3 server (s3s-fs in process) and a real keychain
//! (`make test` runs gnome-keyring; without one this test says so and checks nothing).

mod common;
use common::files_under;
#[path = "../../snapshots/tests/s3server/mod.rs"]
mod s3server;

use s3server::{AK, BUCKET, SK};
use snapshots::accounts::{AccountId, Accounts};
use snapshots::library::{LIBRARY, Library, LibraryEntry};
use snapshots::statedir::StateDir;
use std::path::Path;
use std::process::{Command, Output};

fn sqsnap(data: &Path, args: &[&str]) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_sqsnap"));
    c.args(args)
        .env("SQSNAP_DATA_DIR", data)
        .env(
            "SQSNAP_KEYRING_SERVICE",
            "app.squaresnapshots.desktop.test-offsite",
        )
        .env("LC_ALL", "C")
        .stdin(std::process::Stdio::null());
    c
}

async fn run(mut c: Command) -> Output {
    let o = tokio::task::spawn_blocking(move || c.output().unwrap())
        .await
        .unwrap();
    for s in [&o.stdout, &o.stderr] {
        let text = String::from_utf8_lossy(s);
        assert!(!text.contains(SK), "the secret in the output: {text}");
    }
    o
}

fn text(o: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

#[tokio::test]
async fn add_list_test_sync_remove() {
    if std::env::var("SQSNAP_EXPECT_KEYRING").unwrap_or_default() != "present" {
        eprintln!("no Secret Service here (make test starts one): offsite CLI not checked");
        return;
    }
    let s = s3server::start().await;
    let d = tempfile::tempdir().unwrap();
    let data = d.path().join("data");
    let id = AccountId::new("4242").unwrap();
    let dir = Accounts::open(&data).unwrap().enter(&id, "Tester").unwrap();
    let zip = d.path().join("bot_x.zip");
    std::fs::write(&zip, vec![7u8; 3 << 20]).unwrap();
    StateDir::open(&dir)
        .unwrap()
        .update(LIBRARY, |l: &mut Library| {
            l.add(LibraryEntry {
                resource_id: "r".into(),
                resource_name: "bot".into(),
                version: Some("v1".into()),
                taken_at: chrono::Utc::now(),
                size: 3 << 20,
                path: zip.clone(),
                downloaded_at: chrono::Utc::now(),
                verified_at: None,
                copies: Vec::new(),
                sealed_size: None,
                account: None,
            })
        })
        .unwrap();
    let secret = d.path().join("secret");
    std::fs::write(&secret, format!("{SK}\n")).unwrap();
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&secret, std::fs::Permissions::from_mode(0o600)).unwrap();
    }
    let sf = secret.to_string_lossy().into_owned();
    let add = [
        "offsite",
        "add",
        "lab",
        "--endpoint",
        &s.endpoint,
        "--bucket",
        BUCKET,
        "--access-key-id",
        AK,
        "--prefix",
        "sq",
        "--path-style",
        "--no-encrypt",
        "--secret-key-file",
        &sf,
    ];
    let o = run(sqsnap(&data, &add)).await;
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let o = run(sqsnap(&data, &["offsite", "list"])).await;
    assert!(
        text(&o).contains(&format!("{} bucket snaps under sq/", s.endpoint)),
        "{}",
        text(&o)
    );
    let o = run(sqsnap(&data, &["offsite", "test", "lab"])).await;
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    for step in ["put", "head", "delete"] {
        assert!(text(&o).contains(&format!("{step:<7}ok")), "{}", text(&o));
    }
    let o = run(sqsnap(&data, &["offsite", "sync"])).await;
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    assert!(text(&o).contains("1 uploaded"), "{}", text(&o));
    let stored = s.object("sq/bot_x.zip").await.unwrap();
    assert_eq!(stored, std::fs::read(&zip).unwrap());
    let zs = zip.to_string_lossy().into_owned();
    let o = run(sqsnap(&data, &["verify", &zs])).await;
    let want = format!("also   lab: {} bucket snaps, key sq/bot_x.zip", s.endpoint);
    assert!(text(&o).contains(&want), "{}", text(&o));
    let o = run(sqsnap(&data, &["offsite", "sync", "lab"])).await;
    assert!(
        text(&o).contains("0 uploaded, 1 already there"),
        "{}",
        text(&o)
    );
    // An encrypting destination (the default): the add says to write a recovery key; sync
    // sends X.zip.age, sealed to the key the keychain now holds, and `sqsnap decrypt`
    // opens the object to the local bytes.
    let mut enc = add.to_vec();
    enc.retain(|a| *a != "--no-encrypt");
    enc[2] = "sealed";
    enc[10] = "enc";
    let o = run(sqsnap(&data, &enc)).await;
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    assert!(text(&o).contains("export-recovery"), "{}", text(&o));
    let o = run(sqsnap(&data, &["offsite", "sync", "sealed"])).await;
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    assert!(text(&o).contains("1 uploaded"), "{}", text(&o));
    assert!(!s.has("enc/bot_x.zip").await, "plain bytes offsite");
    let fetched = d.path().join("fetched.zip.age");
    std::fs::write(&fetched, s.object("enc/bot_x.zip.age").await.unwrap()).unwrap();
    let fs = fetched.to_string_lossy().into_owned();
    let o = run(sqsnap(&data, &["decrypt", &fs])).await;
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    assert!(
        std::fs::read(d.path().join("fetched.zip")).unwrap() == std::fs::read(&zip).unwrap(),
        "the offsite copy opened to other bytes"
    );
    assert!(
        !files_under(&dir)
            .iter()
            .any(|f| f.to_string_lossy().ends_with(".age")),
        "a staged copy left"
    );
    let o = run(sqsnap(&data, &["offsite", "remove", "sealed"])).await;
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    // http:// off loopback is refused before anything is stored.
    let mut far = add.to_vec();
    far[4] = "http://s3.example.com";
    far[2] = "far";
    let o = run(sqsnap(&data, &far)).await;
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    let o = run(sqsnap(&data, &["offsite", "remove", "lab"])).await;
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    for f in files_under(&data) {
        let bytes = std::fs::read(&f).unwrap();
        assert!(
            !bytes.windows(SK.len()).any(|w| w == SK.as_bytes()),
            "{f:?}"
        );
    }
}

/// A signed-in account with one library copy of `len` bytes and the destination `lab`.
async fn seeded(d: &Path, s: &s3server::Server, len: usize) -> (std::path::PathBuf, StateDir) {
    let data = d.join("data");
    let id = AccountId::new("4242").unwrap();
    let dir = Accounts::open(&data).unwrap().enter(&id, "Tester").unwrap();
    let zip = d.join("big.zip");
    let body: Vec<u8> = (0..len).map(|i| (i % 251) as u8).collect();
    std::fs::write(&zip, &body).unwrap();
    let st = StateDir::open(&dir).unwrap();
    st.update(LIBRARY, |l: &mut Library| {
        l.add(LibraryEntry {
            resource_id: "r".into(),
            resource_name: "bot".into(),
            version: Some("v1".into()),
            taken_at: chrono::Utc::now(),
            size: len as u64,
            path: zip.clone(),
            downloaded_at: chrono::Utc::now(),
            verified_at: None,
            copies: Vec::new(),
            sealed_size: None,
            account: None,
        })
    })
    .unwrap();
    let secret = d.join("secret");
    std::fs::write(&secret, SK).unwrap();
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&secret, std::fs::Permissions::from_mode(0o600)).unwrap();
    }
    let sf = secret.to_string_lossy().into_owned();
    let add = [
        "offsite",
        "add",
        "lab",
        "--endpoint",
        &s.endpoint,
        "--bucket",
        BUCKET,
        "--access-key-id",
        AK,
        "--path-style",
        "--no-encrypt",
        "--secret-key-file",
        &sf,
    ];
    let o = run(sqsnap(&data, &add)).await;
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    (zip, st)
}

#[tokio::test]
async fn kill_9_mid_upload_then_the_same_command_sends_only_what_is_missing() {
    if std::env::var("SQSNAP_EXPECT_KEYRING").unwrap_or_default() != "present" {
        eprintln!("no Secret Service here (make test starts one): kill -9 resume not checked");
        return;
    }
    let s = s3server::start().await;
    let d = tempfile::tempdir().unwrap();
    // 200 MiB, as the issue asks: 13 parts of 16 MiB (the last one 8 MiB).
    const LEN: usize = 200 << 20;
    const PARTS: usize = LEN.div_ceil(16 << 20);
    let (zip, st) = seeded(d.path(), &s, LEN).await;
    let data = d.path().join("data");
    // Slowed by the shared rate limit so the kill lands mid-upload.
    let mut child = sqsnap(&data, &["--limit-rate", "24M", "offsite", "sync", "lab"])
        .spawn()
        .unwrap();
    let journal = st.path().join("offsite-uploads.json");
    let t = std::time::Instant::now();
    loop {
        let parts = std::fs::read_to_string(&journal)
            .map(|j| j.matches("\"number\"").count())
            .unwrap_or(0);
        if parts >= 2 {
            break;
        }
        assert!(t.elapsed().as_secs() < 60, "no parts landed");
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    child.kill().unwrap(); // SIGKILL
    child.wait().unwrap();
    let o = run(sqsnap(&data, &["offsite", "sync", "lab"])).await;
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let stored = s.object("big.zip").await.unwrap();
    assert!(stored == std::fs::read(&zip).unwrap(), "byte-identical");
    let sent: usize = (1..=PARTS)
        .map(|n| s.count(&format!("partNumber={n}&")))
        .sum();
    assert!(
        sent <= PARTS + 1,
        "at most the part in flight twice: {:?}",
        s.log()
    );
    assert!(
        s.count(&format!("partNumber={}&", PARTS + 1)) == 0,
        "no part beyond the last"
    );
    assert_eq!(
        s.count("?uploads"),
        1,
        "the same upload, resumed: {:?}",
        s.log()
    );
}

#[tokio::test]
async fn a_plan_with_offsite_keeps_a_local_and_an_offsite_copy() {
    use squarecloud_sim::{AccountSpec, SimConfig, Simulator};
    if std::env::var("SQSNAP_EXPECT_KEYRING").unwrap_or_default() != "present" {
        eprintln!("no Secret Service here (make test starts one): offsite plan not checked");
        return;
    }
    const KEY: &str = "313397145698959364-test-key";
    const ATLAS: &str = "0f1e2d3c4b5a69788796a5b4c3d2e1f0";
    let mut sc = SimConfig::new(KEY, AccountSpec::demo());
    sc.generation_time = std::time::Duration::ZERO;
    let sim = Simulator::start(sc).await.unwrap();
    let s = s3server::start().await;
    let d = tempfile::tempdir().unwrap();
    let data = d.path().join("data");
    let id = AccountId::new("313397145698959364").unwrap();
    Accounts::open(&data).unwrap().enter(&id, "Demo").unwrap();
    let secret = d.path().join("secret");
    std::fs::write(&secret, SK).unwrap();
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&secret, std::fs::Permissions::from_mode(0o600)).unwrap();
    }
    let sf = secret.to_string_lossy().into_owned();
    let with_sim = |args: &[&str]| {
        let mut c = sqsnap(&data, args);
        c.env("SQUARECLOUD_API_URL", sim.api_url())
            .env("SQUARECLOUD_API_KEY", KEY);
        c
    };
    let add = [
        "offsite",
        "add",
        "far",
        "--endpoint",
        &s.endpoint,
        "--bucket",
        BUCKET,
        "--access-key-id",
        AK,
        "--path-style",
        "--no-encrypt",
        "--secret-key-file",
        &sf,
    ];
    let o = run(sqsnap(&data, &add)).await;
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let o = run(with_sim(&[
        "plan",
        "add",
        "m",
        "--mirror",
        "--hourly",
        "--offsite",
        "nope",
        ATLAS,
    ]))
    .await;
    assert_eq!(
        o.status.code(),
        Some(2),
        "an unknown destination: {}",
        text(&o)
    );
    let dest = d.path().join("backups");
    std::fs::create_dir(&dest).unwrap();
    let ds = dest.to_string_lossy().into_owned();
    let plan = [
        "plan",
        "add",
        "m",
        "--mirror",
        "--hourly",
        "--offsite",
        "far",
        "--dest",
        &ds,
        "--keep-last",
        "1",
        ATLAS,
    ];
    let o = run(with_sim(&plan)).await;
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    // Added plans wait for their next period: make this one due now.
    let acct = StateDir::open(&data.join("accounts").join(id.as_str())).unwrap();
    acct.update(
        snapshots::plans::PLANS,
        |p: &mut snapshots::plans::Plans| p.state.clear(),
    )
    .unwrap();
    let o = run(with_sim(&["run-due"])).await;
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    // After the sync, the plan's rule is applied to the bucket too, and said.
    assert!(
        text(&o).contains("far by plan m: 0 deleted"),
        "{}",
        text(&o)
    );
    let local: Vec<_> = std::fs::read_dir(&dest)
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .collect();
    assert!(!local.is_empty(), "{}", text(&o));
    for f in &local {
        let name = f.file_name().unwrap();
        let there = s.object(&name.to_string_lossy()).await.unwrap();
        assert_eq!(there, std::fs::read(f).unwrap(), "{name:?} offsite too");
    }
    let lib: Library = acct.read(LIBRARY).unwrap();
    assert!(lib.entries.iter().all(|e| e.all_copies().count() == 2));
    // A new version, and the plan's next run: here and in the bucket the plan keeps the
    // newest only, each place by its own count; the old version has no copy left.
    let o = run(with_sim(&["snapshot", ATLAS])).await;
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    acct.update(
        snapshots::plans::PLANS,
        |p: &mut snapshots::plans::Plans| p.state.clear(),
    )
    .unwrap();
    let o = run(with_sim(&["run-due"])).await;
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let out = text(&o);
    assert!(
        out.contains("far by plan m: 1 deleted (1 the last copy of their version), 1 kept"),
        "{out}"
    );
    let old = local[0].file_name().unwrap().to_string_lossy().into_owned();
    assert!(
        out.contains(&format!("deleted  far: bucket snaps, key {old}")),
        "{out}"
    );
    assert!(!s.has(&old).await && !local[0].exists());
    let lib: Library = acct.read(LIBRARY).unwrap();
    assert_eq!(lib.entries.len(), 1, "{:?}", lib.entries);
    assert!(lib.entries[0].all_copies().count() == 2 && lib.entries[0].path.exists());
}

/// `sqsnap prune --offsite NAME` deletes in that bucket only, by the bucket's own count,
/// and says what it deleted where; the local files stay.
#[tokio::test]
async fn prune_offsite_deletes_in_the_bucket_and_says_where() {
    if std::env::var("SQSNAP_EXPECT_KEYRING").unwrap_or_default() != "present" {
        eprintln!("no Secret Service here (make test starts one): prune --offsite not checked");
        return;
    }
    let s = s3server::start().await;
    let d = tempfile::tempdir().unwrap();
    let data = d.path().join("data");
    let (zip, st) = seeded(d.path(), &s, 5000).await;
    let older: Vec<_> = (1..3)
        .map(|i| {
            let p = d.path().join(format!("old{i}.zip"));
            std::fs::write(&p, vec![i as u8; 4000]).unwrap();
            p
        })
        .collect();
    st.update(LIBRARY, |l: &mut Library| {
        for (i, p) in older.iter().enumerate() {
            l.add(LibraryEntry {
                resource_id: "r".into(),
                resource_name: "bot".into(),
                version: Some(format!("v0{i}")),
                taken_at: chrono::Utc::now() - chrono::Duration::days(5 - i as i64),
                size: 4000,
                path: p.clone(),
                downloaded_at: chrono::Utc::now(),
                verified_at: None,
                copies: Vec::new(),
                sealed_size: None,
                account: None,
            })
        }
    })
    .unwrap();
    let o = run(sqsnap(&data, &["offsite", "sync", "lab"])).await;
    assert!(text(&o).contains("3 uploaded"), "{}", text(&o));
    let o = run(sqsnap(&data, &["prune", "--offsite", "lab"])).await;
    assert_eq!(
        o.status.code(),
        Some(2),
        "nothing said to keep: {}",
        text(&o)
    );
    let o = run(sqsnap(
        &data,
        &["prune", "--offsite", "nope", "--keep", "1"],
    ))
    .await;
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    let o = run(sqsnap(&data, &["prune", "--offsite", "lab", "--keep", "1"])).await;
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let out = text(&o);
    for f in ["old1.zip", "old2.zip"] {
        let line = format!("deleted  lab: bucket snaps, key {f} (the copy of {f})");
        assert!(out.contains(&line), "{out}");
        assert!(!s.has(f).await, "{f}");
    }
    assert!(
        out.contains("lab: 2 deleted (0 the last copy of their version), 1 kept"),
        "{out}"
    );
    assert!(s.has("big.zip").await);
    assert!(
        zip.exists() && older.iter().all(|p| p.exists()),
        "local files stay"
    );
    // The bucket's rule dropped them; a sync does not send them again.
    let o = run(sqsnap(&data, &["offsite", "sync", "lab"])).await;
    let want = "0 uploaded, 1 already there, 2 left out (its retention deleted them there)";
    assert!(text(&o).contains(want), "{}", text(&o));
}

/// `sqsnap put-back ID --from-offsite NAME --version V`: the copy of that snapshot kept in
/// an encrypting destination is fetched (the local file is gone), opened with the account's
/// key on the way, and the application ends with its files; nothing fetched is left behind.
#[tokio::test]
async fn put_back_from_an_offsite_copy() {
    use squarecloud_sim::{AccountSpec, SimConfig, Simulator};
    use std::io::Read;
    if std::env::var("SQSNAP_EXPECT_KEYRING").unwrap_or_default() != "present" {
        eprintln!(
            "no Secret Service here (make test starts one): put back from offsite not checked"
        );
        return;
    }
    const KEY: &str = "313397145698959364-offsite-put-back-key";
    const ATLAS: &str = "0f1e2d3c4b5a69788796a5b4c3d2e1f0";
    let sim = Simulator::start(SimConfig::new(KEY, AccountSpec::demo()).instant_creates())
        .await
        .unwrap();
    let s = s3server::start().await;
    let d = tempfile::tempdir().unwrap();
    let data = d.path().join("data");
    let out = d.path().join("out");
    std::fs::create_dir_all(&out).unwrap();
    let with_api = |args: &[&str]| {
        let mut c = sqsnap(&data, args);
        c.env("SQUARECLOUD_API_URL", sim.api_url())
            .env("SQUARECLOUD_API_KEY", KEY);
        c
    };
    // Signed in (offsite destinations belong to the account): the key from stdin.
    let mut login = with_api(&["login"]);
    login.env_remove("SQUARECLOUD_API_KEY");
    let key_in = d.path().join("key-in");
    std::fs::write(&key_in, KEY).unwrap();
    login.stdin(std::fs::File::open(&key_in).unwrap());
    let o = run(login).await;
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let outs = out.to_string_lossy().into_owned();
    let o = run(with_api(&["download", ATLAS, "--dest", &outs])).await;
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let zip = files_under(&out)
        .into_iter()
        .find(|p| p.extension().is_some_and(|x| x == "zip"))
        .unwrap();
    let mut want = std::collections::BTreeMap::new();
    let mut archive = ::zip::ZipArchive::new(std::fs::File::open(&zip).unwrap()).unwrap();
    for i in 0..archive.len() {
        let mut f = archive.by_index(i).unwrap();
        if f.is_dir() {
            continue;
        }
        let mut body = Vec::new();
        f.read_to_end(&mut body).unwrap();
        want.insert(f.name().to_string(), body);
    }
    let secret = d.path().join("secret");
    std::fs::write(&secret, format!("{SK}\n")).unwrap();
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&secret, std::fs::Permissions::from_mode(0o600)).unwrap();
    }
    let sf = secret.to_string_lossy().into_owned();
    let add = [
        "offsite",
        "add",
        "vault",
        "--endpoint",
        &s.endpoint,
        "--bucket",
        BUCKET,
        "--access-key-id",
        AK,
        "--prefix",
        "pb",
        "--path-style",
        "--secret-key-file",
        &sf,
    ];
    let o = run(with_api(&add)).await;
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let o = run(with_api(&["offsite", "sync", "vault"])).await;
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    assert!(text(&o).contains("1 uploaded"), "{}", text(&o));
    // The version the library recorded, then the local file gone: only the bucket has it.
    let lib = files_under(&data)
        .into_iter()
        .find(|p| p.file_name().is_some_and(|n| n == "library.json"))
        .unwrap();
    let lib: serde_json::Value = serde_json::from_slice(&std::fs::read(lib).unwrap()).unwrap();
    let version = lib["entries"][0]["version"].as_str().unwrap().to_string();
    std::fs::remove_file(&zip).unwrap();

    let o = run(with_api(&[
        "put-back",
        ATLAS,
        "--from-offsite",
        "vault",
        "--version",
        "no-such-version",
        "--yes",
        "--no-snapshot-first",
    ]))
    .await;
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    assert!(sim.app_files(ATLAS).unwrap().is_empty(), "nothing was sent");
    let put_back = || {
        with_api(&[
            "put-back",
            ATLAS,
            "--from-offsite",
            "vault",
            "--version",
            &version,
            "--yes",
            "--no-snapshot-first",
        ])
    };
    // The object gone from the bucket (its answer injected), then a key the server refuses:
    // each said with what it means, nothing sent, nothing left behind.
    for (status, code, exit, said) in [
        (
            404,
            "NoSuchKey",
            8,
            "is not in bucket snaps of vault any more",
        ),
        (403, "InvalidAccessKeyId", 3, "refused the access key"),
    ] {
        s.fault(s3server::Fault {
            method: "GET",
            query: "",
            status,
            code,
            times: 4,
        });
        let o = run(put_back()).await;
        s.shared.faults.lock().unwrap().clear();
        assert_eq!(o.status.code(), Some(exit), "{}", text(&o));
        assert!(text(&o).contains(said), "{}", text(&o));
        assert!(sim.app_files(ATLAS).unwrap().is_empty(), "nothing was sent");
    }
    let o = run(put_back()).await;
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let got = sim.app_files(ATLAS).unwrap();
    for (name, body) in &want {
        assert!(got.get(name) == Some(body), "{name} is not as in the copy");
    }
    let left: Vec<_> = files_under(&data)
        .into_iter()
        .filter(|p| p.components().any(|c| c.as_os_str() == "fetched") && p.is_file())
        .collect();
    assert!(left.is_empty(), "fetched copies left: {left:?}");
}

/// `plan add --offsite NAME --offsite-only`: `run-due` downloads into the account's outbox,
/// and a bucket that refuses the upload keeps the copies there, said with where and why
/// (exit 5); `offsite sync` sends them and removes them from this computer, byte for byte
/// the server's archives; the next `run-due` applies the plan's rule in the bucket and
/// leaves nothing here. A plans file written before the option still reads as both.
#[tokio::test]
async fn an_offsite_only_plan_waits_here_for_a_refusing_bucket_then_sync_sends_it() {
    use snapshots::offsite::outbox;
    use squarecloud_sim::{AccountSpec, SimConfig, Simulator};
    if std::env::var("SQSNAP_EXPECT_KEYRING").unwrap_or_default() != "present" {
        eprintln!("no Secret Service here (make test starts one): offsite-only plan not checked");
        return;
    }
    const KEY: &str = "313397145698959364-test-key";
    const ATLAS: &str = "0f1e2d3c4b5a69788796a5b4c3d2e1f0";
    let mut sc = SimConfig::new(KEY, AccountSpec::demo());
    sc.generation_time = std::time::Duration::ZERO;
    let sim = Simulator::start(sc).await.unwrap();
    let s = s3server::start().await;
    let d = tempfile::tempdir().unwrap();
    let data = d.path().join("data");
    let id = AccountId::new("313397145698959364").unwrap();
    let acct_dir = Accounts::open(&data).unwrap().enter(&id, "Demo").unwrap();
    let secret = d.path().join("secret");
    std::fs::write(&secret, SK).unwrap();
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&secret, std::fs::Permissions::from_mode(0o600)).unwrap();
    }
    let sf = secret.to_string_lossy().into_owned();
    let with_sim = |args: &[&str]| {
        let mut c = sqsnap(&data, args);
        c.env("SQUARECLOUD_API_URL", sim.api_url())
            .env("SQUARECLOUD_API_KEY", KEY);
        c
    };
    let add = [
        "offsite",
        "add",
        "far",
        "--endpoint",
        &s.endpoint,
        "--bucket",
        BUCKET,
        "--access-key-id",
        AK,
        "--path-style",
        "--no-encrypt",
        "--secret-key-file",
        &sf,
    ];
    let o = run(sqsnap(&data, &add)).await;
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    // Offsite only needs the destination, and has no folder here.
    for bad in [
        vec![
            "plan",
            "add",
            "o",
            "--mirror",
            "--hourly",
            "--offsite-only",
            ATLAS,
        ],
        vec![
            "plan",
            "add",
            "o",
            "--mirror",
            "--hourly",
            "--offsite",
            "far",
            "--offsite-only",
            "--dest",
            "/tmp",
            ATLAS,
        ],
    ] {
        let o = run(with_sim(&bad)).await;
        assert_eq!(o.status.code(), Some(2), "{bad:?}: {}", text(&o));
    }
    let plan = [
        "plan",
        "add",
        "o",
        "--mirror",
        "--hourly",
        "--offsite",
        "far",
        "--offsite-only",
        "--keep-last",
        "1",
        ATLAS,
    ];
    let o = run(with_sim(&plan)).await;
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    assert!(text(&o).contains("copies in far only"), "{}", text(&o));
    let acct = StateDir::open(&acct_dir).unwrap();
    let due = || {
        acct.update(
            snapshots::plans::PLANS,
            |p: &mut snapshots::plans::Plans| p.state.clear(),
        )
        .unwrap()
    };
    due();
    // The bucket refuses every upload (read-only, or full).
    s.fault(s3server::Fault {
        method: "PUT",
        query: "",
        status: 403,
        code: "AccessDenied",
        times: 1000,
    });
    let o = run(with_sim(&["run-due"])).await;
    let out = text(&o);
    assert_eq!(o.status.code(), Some(5), "{out}");
    let waits = outbox::dir(&acct_dir, "far");
    let staged = files_under(&waits);
    assert!(!staged.is_empty(), "{out}");
    let n = staged.len();
    let said = format!(
        "{n} {} on this computer in {} for the upload to far",
        if n == 1 { "copy waits" } else { "copies wait" },
        waits.display()
    );
    let why = out.contains("AccessDenied");
    assert!(out.contains(&said) && why, "{out}");
    let o = run(with_sim(&["plan", "show", "o"])).await;
    assert!(
        text(&o).contains(&format!(
            "{n} waiting on this computer in {}",
            waits.display()
        )),
        "{}",
        text(&o)
    );
    // The bucket takes uploads again: `offsite sync` sends the staged copies and removes
    // them from this computer; each object is the server's archive.
    s.shared.faults.lock().unwrap().clear();
    let o = run(sqsnap(&data, &["offsite", "sync", "far"])).await;
    let out = text(&o);
    assert_eq!(o.status.code(), Some(0), "{out}");
    assert!(out.contains(&format!("far: {n} uploaded")), "{out}");
    assert_eq!(
        out.matches("from this computer (its copy in far is checked)")
            .count(),
        n,
        "{out}"
    );
    assert!(files_under(&waits).is_empty(), "{out}");
    let lib: Library = acct.read(LIBRARY).unwrap();
    assert!(lib.outbox.is_empty());
    for e in &lib.entries {
        let name = e.path.file_name().unwrap().to_string_lossy().into_owned();
        let archive = sim.archive(ATLAS, e.version.as_deref().unwrap()).unwrap();
        assert!(s.object(&name).await.unwrap() == archive, "{name}");
    }
    // The next run: nothing new to download, the plan's rule in the bucket (keep 1).
    due();
    let o = run(with_sim(&["run-due"])).await;
    let out = text(&o);
    assert_eq!(o.status.code(), Some(0), "{out}");
    assert!(
        out.contains(&format!("far by plan o: {} deleted", n - 1)),
        "{out}"
    );
    assert!(
        files_under(&acct_dir.join(outbox::OUTBOX)).is_empty(),
        "{out}"
    );
    let lib: Library = acct.read(LIBRARY).unwrap();
    assert_eq!(lib.entries.len(), 1, "{:?}", lib.entries);
    assert!(
        lib.known_versions(ATLAS).len() >= n,
        "none to download again"
    );

    // A plans file from before offsite-only: `offsite` alone keeps copies here and there.
    let file = acct_dir.join(snapshots::plans::PLANS);
    let mut v: serde_json::Value = serde_json::from_slice(&std::fs::read(&file).unwrap()).unwrap();
    v["plans"].as_array_mut().unwrap().push(serde_json::json!({
        "id": "older", "kind": "mirror", "scope": {"scope": "all"}, "schedule": {"every": "hour"},
        "retention": {"keep": "last", "n": 2}, "dest": null, "offsite": "far"}));
    std::fs::write(&file, serde_json::to_vec(&v).unwrap()).unwrap();
    let o = run(with_sim(&["plan", "list"])).await;
    let out = text(&o);
    assert_eq!(o.status.code(), Some(0), "{out}");
    assert!(out.contains("copies on this computer and in far"), "{out}");
    assert!(
        out.contains("copies in far only") && !out.contains("cannot run"),
        "{out}"
    );

    // `plan edit` moves a plan between here, there, and both; its history stays.
    for (args, says) in [
        (vec!["--no-offsite"], "copies on this computer"),
        (
            vec!["--offsite", "far"],
            "copies on this computer and in far",
        ),
        (vec!["--offsite-only"], "copies in far only"),
    ] {
        let here_only = args == ["--no-offsite"];
        let mut c = vec!["plan", "edit", "o"];
        c.extend(args);
        let o = run(with_sim(&c)).await;
        assert_eq!(o.status.code(), Some(0), "{c:?}: {}", text(&o));
        let out = text(&o);
        assert!(
            out.contains("Changed: o") && out.contains(says),
            "{c:?}: {out}"
        );
        assert!(!here_only || !out.contains("far"), "{out}");
    }
    let plans: snapshots::plans::Plans = acct.read(snapshots::plans::PLANS).unwrap();
    assert!(!plans.state["o"].history.is_empty(), "the runs so far stay");
    for (c, code) in [
        (vec!["plan", "edit", "o", "--offsite", "nope"], 2),
        (vec!["plan", "edit", "nope", "--no-offsite"], 8),
        (vec!["plan", "edit", "o"], 2),
    ] {
        let o = run(with_sim(&c)).await;
        assert_eq!(o.status.code(), Some(code), "{c:?}: {}", text(&o));
    }
    // Removing the destination says what becomes of the plans that name it.
    let o = run(sqsnap(&data, &["offsite", "remove", "far"])).await;
    assert!(
        text(&o).contains("plan o still names far: its copies now wait on this computer"),
        "{}",
        text(&o)
    );
}
