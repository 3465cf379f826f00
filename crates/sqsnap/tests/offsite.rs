//! `sqsnap offsite` against a real S3 server (s3s-fs in process) and a real keychain
//! (`make test` runs gnome-keyring; without one this test says so and checks nothing).

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
    let stored = std::fs::read(s.root.path().join(BUCKET).join("sq/bot_x.zip")).unwrap();
    assert_eq!(stored, std::fs::read(&zip).unwrap());
    let o = run(sqsnap(&data, &["offsite", "sync", "lab"])).await;
    assert!(
        text(&o).contains("0 uploaded, 1 already there"),
        "{}",
        text(&o)
    );
    // http:// off loopback is refused before anything is stored.
    let mut far = add.to_vec();
    far[4] = "http://s3.example.com";
    far[2] = "far";
    let o = run(sqsnap(&data, &far)).await;
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    let o = run(sqsnap(&data, &["offsite", "remove", "lab"])).await;
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    for f in walk(&data) {
        let bytes = std::fs::read(&f).unwrap();
        assert!(
            !bytes.windows(SK.len()).any(|w| w == SK.as_bytes()),
            "{f:?}"
        );
    }
}

fn walk(dir: &Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).unwrap().flatten() {
        let p = e.path();
        if p.is_dir() {
            out.extend(walk(&p));
        } else {
            out.push(p);
        }
    }
    out
}
