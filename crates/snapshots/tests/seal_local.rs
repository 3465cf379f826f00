//! Encrypted copies on this computer, against the simulator and the real keychain
//! (gnome-keyring in `scripts/with-keyring.sh`; without one the keychain tests say so and
//! skip): a download into a folder that encrypts ends as `….zip.age` only, which an
//! independent age (pyrage) opens to the simulator's exact bytes; verify opens it as a
//! stream and fails on a flipped byte without writing plaintext; the same version is not
//! fetched again; put back, prune, a mirror plan and its tombstones work on sealed copies;
//! plain copies made before encryption was turned on stay as they are.

mod common;
mod pyrage;

use chrono::Utc;
use common::*;
use snapshots::accounts::AccountId;
use snapshots::plans::{PlanKind, Retention, Schedule, Scope};
use snapshots::seal::folders::LOST_KEY_WARNING;
use snapshots::seal::identity;
use snapshots::secret::{Keychain, OsKeychain, Slot};
use snapshots::{EngineError, PutBackOptions};
use squarecloud_sim::{SimConfig, Simulator, Target};
use std::io::Read;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use tokio_util::sync::CancellationToken;

/// A keychain item set of this test's own in the real Secret Service, removed when dropped;
/// `None` (the test skips) where there is none.
struct OwnKeychain {
    kc: Arc<OsKeychain>,
    account: AccountId,
}

impl OwnKeychain {
    fn new(test: &str) -> Option<Self> {
        if std::env::var("SQSNAP_EXPECT_KEYRING").as_deref() != Ok("present") {
            eprintln!("skipped: needs a Secret Service (scripts/with-keyring.sh provides one)");
            return None;
        }
        let service = format!("app.squaresnapshots.test.{test}-{}", std::process::id());
        let account = AccountId::new(squarecloud_sim::AccountSpec::demo().id).unwrap();
        Some(Self {
            kc: Arc::new(OsKeychain::new(service)),
            account,
        })
    }
}

impl Drop for OwnKeychain {
    fn drop(&mut self) {
        let _ = self.kc.slot(&Slot::Seal(self.account.clone())).delete();
    }
}

fn config(history: u32) -> SimConfig {
    let mut account = tiny_account(1, 4096, 300_000);
    account.applications[0].history = history;
    SimConfig::new(KEY, account).instant_creates()
}

fn file_requests(sim: &Simulator) -> usize {
    sim.requests()
        .iter()
        .filter(|q| q.host == Target::Files)
        .count()
}

#[cfg(unix)]
fn mode(p: &Path) -> u32 {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(p).unwrap().permissions().mode() & 0o777
}

/// Every file of the zip `bytes`, by name.
fn files_of(bytes: &[u8]) -> Vec<(String, Vec<u8>)> {
    let mut z = zip::ZipArchive::new(std::io::Cursor::new(bytes)).unwrap();
    (0..z.len())
        .filter_map(|i| {
            let mut f = z.by_index(i).unwrap();
            if f.is_dir() {
                return None;
            }
            let mut v = Vec::new();
            f.read_to_end(&mut v).unwrap();
            Some((f.name().to_string(), v))
        })
        .collect()
}

#[tokio::test]
async fn a_download_into_an_encrypting_folder_is_kept_sealed_and_works_everywhere() {
    let Some(own) = OwnKeychain::new("seal-local") else {
        return;
    };
    let (sim, engine, dir) = start(config(3)).await;
    let engine = engine.with_keychain(own.kc.clone());
    let out = dir.path().join("out");
    std::fs::create_dir(&out).unwrap();
    let out = std::fs::canonicalize(&out).unwrap();
    let r = engine.resource(&id(0)).unwrap();

    // No recovery key yet: turning encryption on is refused until confirmed, saying why,
    // and nothing is made or changed meanwhile.
    let e = engine.set_folder_encrypts(&out, true, false).unwrap_err();
    assert!(matches!(e, EngineError::EncryptUnconfirmed { .. }), "{e}");
    assert!(e.to_string().contains(LOST_KEY_WARNING), "{e}");
    assert!(
        identity::stored(own.kc.as_ref(), &own.account)
            .unwrap()
            .is_none()
    );
    assert!(!engine.settings().encrypts(&out));
    let on = engine.set_folder_encrypts(&out, true, true).unwrap();
    assert!(on.encrypts && !on.recovery_exported, "{on:?}");

    // The newest snapshot: `….zip.age` only, yours alone, recorded as a sealed copy.
    let newest = download_latest(&engine, &r, &out).await.unwrap();
    let name = newest
        .path
        .file_name()
        .unwrap()
        .to_str()
        .unwrap()
        .to_string();
    assert!(name.ends_with(".zip.age"), "{name}");
    assert_eq!(listing(&out), std::slice::from_ref(&name));
    #[cfg(unix)]
    assert_eq!(mode(&newest.path), 0o600);
    let lib = engine.library();
    let entry = lib.entries.iter().find(|e| e.path == newest.path).unwrap();
    let version = entry.version.clone().unwrap();
    let exact = sim.archive(&r.id, &version).unwrap();
    assert_eq!(entry.size, exact.len() as u64);
    assert_eq!(
        entry.sealed_size,
        Some(std::fs::metadata(&newest.path).unwrap().len())
    );
    assert_eq!(newest.size, exact.len() as u64);

    // An independent age opens it, with the recovery key, to the simulator's exact bytes.
    let pass = "correct horse battery staple";
    let rec = dir.path().join("recovery.age");
    let recipient = engine.export_recovery(pass, &rec).unwrap();
    assert_eq!(on.recipient.as_deref(), Some(recipient.as_str()));
    assert!(engine.encryption().recovery_exported);
    if let Some(py) = pyrage::python() {
        let plain = dir.path().join("opened.zip");
        pyrage::decrypt(&py, &rec, pass, &newest.path, &plain);
        assert!(
            std::fs::read(&plain).unwrap() == exact,
            "pyrage's bytes differ"
        );
    }

    // Verify opens it as a stream; a flipped byte fails it, and nothing plain is written.
    engine.verify(&newest.path, true).await.unwrap();
    let good = std::fs::read(&newest.path).unwrap();
    let mut bad = good.clone();
    let mid = bad.len() / 2;
    bad[mid] ^= 0x01;
    std::fs::write(&newest.path, &bad).unwrap();
    let e = engine.verify(&newest.path, true).await.unwrap_err();
    assert_eq!(e.code(), "verify", "{e}");
    assert!(e.to_string().contains("damaged"), "{e}");
    assert_eq!(
        listing(&out),
        std::slice::from_ref(&name),
        "no plaintext written"
    );
    std::fs::write(&newest.path, &good).unwrap();
    engine.verify(&newest.path, true).await.unwrap();

    // The same version again: here already, nothing fetched.
    sim.clear_requests();
    let again = download_latest(&engine, &r, &out).await.unwrap();
    assert!(
        again.already_present && again.path == newest.path,
        "{again:?}"
    );
    assert_eq!(file_requests(&sim), 0);
    assert_eq!(listing(&out), std::slice::from_ref(&name));

    // Put back from it: the application gets the zip's files; still nothing plain here.
    let key = engine.seal_key().unwrap().unwrap();
    let opts = PutBackOptions {
        snapshot_first: false,
        key: Some(Arc::new(key)),
        ..PutBackOptions::default()
    };
    let (sink, _) = collect();
    engine
        .put_back(&r.id, &newest.path, opts, sink, &CancellationToken::new())
        .await
        .unwrap();
    let app = sim.app_files(&r.id).unwrap();
    for (file, body) in files_of(&exact) {
        assert!(
            app.get(&file) == Some(&body),
            "{file} not put back as it was"
        );
    }
    assert_eq!(listing(&out), std::slice::from_ref(&name));

    // Turned off, an older version comes plain; turned on again (a recovery key exists, so
    // no question), the plain copy stays as it is and the next one is sealed.
    let versions = sim.versions(&r.id);
    let (oldest, middle) = (versions[0].clone(), versions[1].clone());
    let off = engine.set_folder_encrypts(&out, false, false).unwrap();
    assert!(!off.encrypts && off.sealed_copies == 1, "{off:?}");
    let (sink, _) = collect();
    let plain = engine
        .download(
            &r,
            Some(&oldest),
            Some(&out),
            sink,
            &CancellationToken::new(),
        )
        .await
        .unwrap();
    assert_eq!(plain.path.extension().unwrap(), "zip");
    let on = engine.set_folder_encrypts(&out, true, false).unwrap();
    assert_eq!((on.plain_copies, on.sealed_copies), (1, 1), "{on:?}");
    let (sink, _) = collect();
    let sealed = engine
        .download(
            &r,
            Some(&middle),
            Some(&out),
            sink,
            &CancellationToken::new(),
        )
        .await
        .unwrap();
    assert!(sealed.path.to_string_lossy().ends_with(".zip.age"));
    assert!(plain.path.is_file(), "the plain copy stayed");
    assert_eq!(listing(&out).len(), 3);

    // Prune by version, whatever the file names: the newest stays, the others go and are
    // remembered as pruned, sealed or not.
    let report = engine.prune(Some(1), None).unwrap();
    let mut deleted = report.deleted.clone();
    deleted.sort();
    let mut expect = vec![plain.path.clone(), sealed.path.clone()];
    expect.sort();
    assert_eq!(deleted, expect, "{report:?}");
    assert_eq!(listing(&out), [name]);
    let known = engine.library().known_versions(&r.id);
    assert!(
        known.contains(&oldest) && known.contains(&middle),
        "{known:?}"
    );
}

/// A mirror plan keeping the last one, into a folder that encrypts: every version is
/// fetched once and sealed, all but the newest pruned, and the next runs fetch nothing.
#[tokio::test]
async fn a_mirror_into_an_encrypting_folder_keeps_one_sealed_copy_and_brings_none_back() {
    let Some(own) = OwnKeychain::new("seal-mirror") else {
        return;
    };
    let (sim, engine, dir) = start(config(4)).await;
    let engine = engine.with_keychain(own.kc.clone());
    let out = dir.path().join("out");
    std::fs::create_dir(&out).unwrap();
    engine.set_folder_encrypts(&out, true, true).unwrap();
    let mut p = plan("mirror", PlanKind::Mirror, Scope::All, Schedule::Hour, &out);
    p.retention = Retention::Last { n: 1 };
    due_now(&engine, p, 1, 32);
    let (sink, _) = collect();
    let runs = engine
        .run_due(Utc::now(), sink.clone(), &CancellationToken::new())
        .await
        .unwrap();
    let n = sim.versions(&id(0)).len() as u32;
    assert!(n >= 4);
    assert_eq!(
        (runs[0].files, runs[0].pruned),
        (n, n as usize - 1),
        "{runs:?}"
    );
    let left = listing(&out);
    assert!(left.len() == 1 && left[0].ends_with(".zip.age"), "{left:?}");
    for _ in 0..2 {
        due_again(&engine, "mirror");
        let before = file_requests(&sim);
        let runs = engine
            .run_due(Utc::now(), sink.clone(), &CancellationToken::new())
            .await
            .unwrap();
        assert_eq!((runs[0].files, runs[0].pruned), (0, 0), "{runs:?}");
        assert_eq!(file_requests(&sim), before, "nothing fetched again");
        assert_eq!(listing(&out), left);
    }
}

/// An engine given no keychain cannot seal: a download into a folder that encrypts stops
/// before anything is fetched, and says why.
#[tokio::test]
async fn without_a_keychain_nothing_is_fetched_into_an_encrypting_folder() {
    let (sim, engine, dir) = start(config(1)).await;
    let out: PathBuf = dir.path().join("out");
    std::fs::create_dir(&out).unwrap();
    let out = std::fs::canonicalize(&out).unwrap();
    engine
        .update_settings(|s| s.set_encrypts(&out, true))
        .unwrap();
    let r = engine.resource(&id(0)).unwrap();
    let e = download_latest(&engine, &r, &out).await.unwrap_err();
    assert!(matches!(e, EngineError::SealKey { .. }), "{e}");
    assert!(e.to_string().contains("Nothing was downloaded"), "{e}");
    assert_eq!(file_requests(&sim), 0);
    assert!(listing(&out).is_empty());
}
