//! `sqsnap folder encrypt DIR --on|--off` and `sqsnap folder list`, run as a process against
//! the simulator and a real Secret Service (`make test` runs this inside
//! `scripts/with-keyring.sh`; without one the test says so and skips): the lost-key warning
//! and its confirmation (refused without a terminal unless --yes, asked on a terminal, not
//! asked once a recovery key was written), then a download kept encrypted, which `list` and
//! `verify` say is encrypted.

#[path = "common/mod.rs"]
mod common;

use common::{KEY, sqsnap};
use snapshots::accounts::{AccountId, Accounts};
use snapshots::seal::folders::LOST_KEY_WARNING;
use snapshots::seal::identity;
use snapshots::secret::{Keychain, OsKeychain, Slot};
use squarecloud_sim::{AccountSpec, SimConfig, Simulator};
use std::io::Write;
use std::path::Path;
use std::process::{Command, Output, Stdio};

const ATLAS: &str = "0f1e2d3c4b5a69788796a5b4c3d2e1f0";

fn text(o: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

async fn run(mut c: Command) -> Output {
    tokio::task::spawn_blocking(move || c.output().unwrap())
        .await
        .unwrap()
}

/// `sqsnap ARGS` on a terminal of its own (util-linux `script` gives it a pty), with
/// `typed` as what the person types.
fn on_a_terminal(sim: &Simulator, data: &Path, service: &str, args: &str, typed: &str) -> Output {
    let line = format!("{} {args}", env!("CARGO_BIN_EXE_sqsnap"));
    let mut c = Command::new("script");
    c.args(["-qec", &line, "/dev/null"])
        .env("SQUARECLOUD_API_URL", sim.api_url())
        .env("SQSNAP_DATA_DIR", data)
        .env("SQSNAP_KEYRING_SERVICE", service)
        .env("LC_ALL", "C")
        .env_remove("SQUARECLOUD_API_KEY")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = c.spawn().unwrap();
    let mut stdin = child.stdin.take().unwrap();
    // Typed once the question is on the terminal (it is read line by line from the pty).
    std::thread::sleep(std::time::Duration::from_millis(1500));
    stdin.write_all(typed.as_bytes()).unwrap();
    drop(stdin);
    child.wait_with_output().unwrap()
}

fn private_file(path: &Path, body: &str) {
    std::fs::write(path, body).unwrap();
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600)).unwrap();
    }
}

#[tokio::test]
#[cfg_attr(
    windows,
    ignore = "needs a pty (util-linux `script` gives sqsnap a terminal), which Windows has not"
)]
async fn folder_encrypt_asks_first_then_downloads_are_kept_encrypted() {
    if std::env::var("SQSNAP_EXPECT_KEYRING").as_deref() != Ok("present") {
        eprintln!("skipped: needs a Secret Service (make test provides one)");
        return;
    }
    let service = format!("app.squaresnapshots.test.folder-{}", std::process::id());
    let sim = Simulator::start(SimConfig::new(KEY, AccountSpec::demo()).instant_creates())
        .await
        .unwrap();
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    let id = AccountId::new(AccountSpec::demo().id).unwrap();
    Accounts::open(&data).unwrap().enter(&id, "demo").unwrap();
    let kc = OsKeychain::new(service.clone());
    let out = tmp.path().join("backups");
    std::fs::create_dir(&out).unwrap();
    let out_s = out.to_str().unwrap().to_string();
    let cmd = |args: &[&str]| {
        let mut c = sqsnap(&sim, &data, KEY, args);
        c.env("SQSNAP_KEYRING_SERVICE", &service);
        c
    };

    // No terminal and no --yes: the warning, refused, nothing made or changed.
    let o = run(cmd(&["folder", "encrypt", &out_s, "--on"])).await;
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.contains(LOST_KEY_WARNING), "{err}");
    assert!(err.contains("--yes"), "{err}");
    assert!(identity::stored(&kc, &id).unwrap().is_none(), "no key made");
    let o = run(cmd(&["folder", "list"])).await;
    assert!(!text(&o).contains("encrypted "), "{}", text(&o));

    // On a terminal: the warning and a question; "n" changes nothing, "y" turns it on.
    let args = format!("folder encrypt '{out_s}' --on");
    let o = on_a_terminal(&sim, &data, &service, &args, "n\n");
    assert_eq!(o.status.code(), Some(130), "{}", text(&o));
    assert!(text(&o).contains(LOST_KEY_WARNING), "{}", text(&o));
    assert!(text(&o).contains("[y/N]"), "{}", text(&o));
    assert!(identity::stored(&kc, &id).unwrap().is_none());
    let o = on_a_terminal(&sim, &data, &service, &args, "y\n");
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let key = identity::stored(&kc, &id)
        .unwrap()
        .expect("the key is made");
    assert!(
        text(&o).contains(&format!("encrypted (….zip.age) to {}", key.recipient())),
        "{}",
        text(&o)
    );

    // --yes elsewhere: the warning on standard error, and done.
    let other = tmp.path().join("other");
    std::fs::create_dir(&other).unwrap();
    let o = run(cmd(&[
        "folder",
        "encrypt",
        other.to_str().unwrap(),
        "--on",
        "--yes",
    ]))
    .await;
    assert!(o.status.success(), "{}", text(&o));
    assert!(String::from_utf8_lossy(&o.stderr).contains(LOST_KEY_WARNING));
    let o = run(cmd(&["--json", "folder", "list"])).await;
    let rows: Vec<serde_json::Value> = String::from_utf8_lossy(&o.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(rows.len(), 2, "{rows:?}");
    assert!(rows.iter().all(|r| r["encrypts"] == true), "{rows:?}");

    // A download into it: only the encrypted copy, which list and verify say is encrypted.
    let o = run(cmd(&["download", ATLAS, "--dest", &out_s])).await;
    assert!(o.status.success(), "{}", text(&o));
    let files: Vec<_> = std::fs::read_dir(&out)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    assert!(
        files.len() == 1 && files[0].to_string_lossy().ends_with(".zip.age"),
        "{files:?}"
    );
    let sealed = files[0].to_str().unwrap().to_string();
    let o = run(cmd(&["list"])).await;
    let atlas = text(&o)
        .lines()
        .find(|l| l.contains(ATLAS))
        .unwrap_or_default()
        .to_string();
    assert!(
        atlas.contains("here: ") && atlas.ends_with(", encrypted"),
        "{atlas}"
    );
    let o = run(cmd(&["verify", &sealed])).await;
    assert!(o.status.success(), "{}", text(&o));
    assert!(
        text(&o).starts_with(&format!("ok       {sealed} (encrypted)")),
        "{}",
        text(&o)
    );
    let good = std::fs::read(&sealed).unwrap();
    let mut bad = good.clone();
    let n = bad.len();
    bad[n - 100] ^= 0x20;
    std::fs::write(&sealed, &bad).unwrap();
    let o = run(cmd(&["verify", &sealed])).await;
    assert_eq!(o.status.code(), Some(6), "{}", text(&o));
    assert!(
        text(&o).contains("FAILED") && text(&o).contains("damaged"),
        "{}",
        text(&o)
    );
    assert_eq!(
        std::fs::read_dir(&out).unwrap().count(),
        1,
        "no plaintext written"
    );
    std::fs::write(&sealed, &good).unwrap();

    // Off: new copies plain, the encrypted one stays. With a recovery key written, on
    // needs no question (no terminal, no --yes).
    let o = run(cmd(&["folder", "encrypt", &out_s, "--off"])).await;
    assert!(o.status.success(), "{}", text(&o));
    assert!(text(&o).contains("(1) stay encrypted"), "{}", text(&o));
    let pw = tmp.path().join("pw");
    private_file(&pw, "a long enough passphrase\n");
    let rec = tmp.path().join("recovery.age");
    let o = run(cmd(&[
        "key",
        "export-recovery",
        rec.to_str().unwrap(),
        "--passphrase-file",
        pw.to_str().unwrap(),
    ]))
    .await;
    assert!(o.status.success(), "{}", text(&o));
    let o = run(cmd(&["folder", "encrypt", &out_s, "--on"])).await;
    assert!(o.status.success(), "{}", text(&o));
    assert!(!text(&o).contains(LOST_KEY_WARNING), "{}", text(&o));
    let o = run(cmd(&["folder", "list"])).await;
    assert!(
        text(&o).contains("A recovery key was written"),
        "{}",
        text(&o)
    );
    kc.slot(&Slot::Seal(id)).delete().unwrap();
}
