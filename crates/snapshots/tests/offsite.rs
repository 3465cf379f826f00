//! Offsite copies against a real S3 server (s3s-fs on loopback): a small and a multipart
//! upload, resume after a stop, a stale upload aborted, verify catching a wrong size, each
//! fault the issue names, and the secret kept out of every file.

mod common;
use common::files_under;
mod pyrage;
mod s3server;

use s3server::{AK, BUCKET, Fault, SK};
use sha2::Digest;
use snapshots::accounts::AccountId;
use snapshots::offsite::upload::{JOURNAL, Journal, UploadOptions, upload_file};
use snapshots::offsite::{self, OffsiteConfig, OffsiteError, S3Client};
use snapshots::secret::MemoryKeychain;
use snapshots::statedir::StateDir;
use std::path::Path;
use tokio_util::sync::CancellationToken;

const SMALL: UploadOptions = UploadOptions {
    single_limit: 1 << 20,
    part_size: 5 << 20,
    rate: None,
};

fn cfg(endpoint: &str) -> OffsiteConfig {
    OffsiteConfig {
        name: "lab".into(),
        endpoint: endpoint.into(),
        region: "us-east-1".into(),
        bucket: BUCKET.into(),
        prefix: "sq".into(),
        path_style: true,
        access_key_id: AK.into(),
        encrypt: false,
    }
}

fn client(endpoint: &str) -> S3Client {
    S3Client::new(cfg(endpoint), SK.into()).unwrap()
}

fn data(len: usize, seed: u8) -> Vec<u8> {
    (0..len)
        .map(|i| (i as u32).wrapping_mul(2654435761).to_le_bytes()[0] ^ seed)
        .collect()
}

fn write(dir: &Path, name: &str, body: &[u8]) -> std::path::PathBuf {
    let p = dir.join(name);
    std::fs::write(&p, body).unwrap();
    p
}

async fn stored(s: &s3server::Server, key: &str) -> Vec<u8> {
    s.object(key).await.expect("the object is there")
}

fn quiet(_: u64, _: u64) {}

#[tokio::test]
async fn a_small_file_goes_in_one_put_and_is_checked() {
    let s = s3server::start().await;
    let d = tempfile::tempdir().unwrap();
    let state = StateDir::open(&d.path().join("state")).unwrap();
    let body = data(300_000, 1);
    let f = write(d.path(), "a.zip", &body);
    let c = client(&s.endpoint);
    let copy = upload_file(
        &c,
        &state,
        &f,
        "a.zip",
        SMALL,
        &CancellationToken::new(),
        &quiet,
    )
    .await
    .unwrap();
    assert_eq!(copy.kind, "s3");
    assert_eq!(copy.at, "s3://snaps/sq/a.zip#lab");
    assert_eq!(stored(&s, "sq/a.zip").await, body);
    // The server keeps the SHA-256 it was given and states it (moto only when told the
    // algorithm as the SDKs tell it, x-amz-sdk-checksum-algorithm).
    let head = c.head("sq/a.zip").await.unwrap().unwrap();
    let sum = snapshots::offsite::client::b64_sha256(&body);
    assert_eq!(head.sha256.as_deref(), Some(sum.as_str()));
    assert_eq!(s.count("PUT /snaps/sq/a.zip"), 1);
    assert!(
        s.count("HEAD /snaps/sq/a.zip") >= 1,
        "checked after the upload"
    );
}

#[tokio::test]
async fn a_large_file_goes_in_parts_and_no_upload_is_left() {
    let s = s3server::start().await;
    let d = tempfile::tempdir().unwrap();
    let state = StateDir::open(&d.path().join("state")).unwrap();
    let body = data(12 << 20, 2);
    let f = write(d.path(), "b.zip", &body);
    let c = client(&s.endpoint);
    upload_file(
        &c,
        &state,
        &f,
        "b.zip",
        SMALL,
        &CancellationToken::new(),
        &quiet,
    )
    .await
    .unwrap();
    assert_eq!(stored(&s, "sq/b.zip").await, body);
    assert_eq!(s.count("partNumber="), 3, "{:?}", s.log());
    // A multipart object's checksum is the composite of its parts' SHA-256s: `…-3` as S3
    // states it; moto's HEAD leaves the part count off; s3s-fs states none for it (then
    // the upload is held to its size, each part's SHA-256 having been checked on arrival).
    let head = c.head("sq/b.zip").await.unwrap().unwrap();
    let sums: Vec<u8> = body
        .chunks(5 << 20)
        .flat_map(|p| sha2::Sha256::digest(p).to_vec())
        .collect();
    let composite = snapshots::offsite::client::b64_sha256(&sums);
    match head.sha256 {
        Some(said) => assert!(
            said == format!("{composite}-3") || said == composite,
            "{said}"
        ),
        None => assert!(!s.external(), "moto states the composite"),
    }
    assert!(state.read::<Journal>(JOURNAL).unwrap().uploads.is_empty());
}

#[tokio::test]
async fn a_stopped_upload_resumes_sending_only_the_missing_parts() {
    let s = s3server::start().await;
    let d = tempfile::tempdir().unwrap();
    let state = StateDir::open(&d.path().join("state")).unwrap();
    let body = data(21 << 20, 3); // 5 parts of 5 MiB
    let f = write(d.path(), "c.zip", &body);
    // The third part's connection is cut every time: the run stops with two parts sent.
    s.fault(Fault {
        method: "PUT",
        query: "partNumber=3",
        status: 0,
        code: "",
        times: 4,
    });
    let c = client(&s.endpoint);
    let e = upload_file(
        &c,
        &state,
        &f,
        "c.zip",
        SMALL,
        &CancellationToken::new(),
        &quiet,
    )
    .await
    .unwrap_err();
    assert!(matches!(e, OffsiteError::Network(_)), "{e}");
    let j = state.read::<Journal>(JOURNAL).unwrap();
    assert_eq!(j.uploads.values().next().unwrap().parts.len(), 2);
    // A new process (a new client) continues the same upload.
    let c = client(&s.endpoint);
    upload_file(
        &c,
        &state,
        &f,
        "c.zip",
        SMALL,
        &CancellationToken::new(),
        &quiet,
    )
    .await
    .unwrap();
    assert_eq!(stored(&s, "sq/c.zip").await, body);
    for n in [1, 2, 4, 5] {
        let sent = s.count(&format!("partNumber={n}&"));
        assert_eq!(sent, 1, "part {n} sent once: {:?}", s.log());
    }
    assert_eq!(s.count("?uploads"), 1, "one upload, resumed");
    assert!(state.read::<Journal>(JOURNAL).unwrap().uploads.is_empty());
}

#[tokio::test]
async fn a_stale_upload_is_aborted_and_started_over() {
    let s = s3server::start().await;
    let d = tempfile::tempdir().unwrap();
    let state = StateDir::open(&d.path().join("state")).unwrap();
    let body = data(11 << 20, 4);
    let f = write(d.path(), "d.zip", &body);
    let cancel = CancellationToken::new();
    s.fault(Fault {
        method: "PUT",
        query: "partNumber=2",
        status: 0,
        code: "",
        times: 4,
    });
    let c = client(&s.endpoint);
    assert!(
        upload_file(&c, &state, &f, "d.zip", SMALL, &cancel, &quiet)
            .await
            .is_err()
    );
    state
        .update(JOURNAL, |j: &mut Journal| {
            for p in j.uploads.values_mut() {
                p.started_at -= chrono::Duration::hours(25);
            }
        })
        .unwrap();
    upload_file(&c, &state, &f, "d.zip", SMALL, &cancel, &quiet)
        .await
        .unwrap();
    assert_eq!(stored(&s, "sq/d.zip").await, body);
    assert_eq!(s.count("?uploads"), 2, "started over: {:?}", s.log());
    assert!(
        s.log()
            .iter()
            .any(|l| l.starts_with("DELETE") && l.contains("uploadId="))
    );
}

#[tokio::test]
async fn a_cancelled_upload_leaves_nothing_behind() {
    let s = s3server::start().await;
    let d = tempfile::tempdir().unwrap();
    let state = StateDir::open(&d.path().join("state")).unwrap();
    let f = write(d.path(), "e.zip", &data(11 << 20, 5));
    let cancel = CancellationToken::new();
    let stop = cancel.clone();
    let after_one = move |done: u64, _: u64| {
        if done > 0 {
            stop.cancel();
        }
    };
    let c = client(&s.endpoint);
    let e = upload_file(&c, &state, &f, "e.zip", SMALL, &cancel, &after_one)
        .await
        .unwrap_err();
    assert!(matches!(e, OffsiteError::Cancelled), "{e}");
    assert!(
        s.log()
            .iter()
            .any(|l| l.starts_with("DELETE") && l.contains("uploadId="))
    );
    assert!(state.read::<Journal>(JOURNAL).unwrap().uploads.is_empty());
}

#[tokio::test]
async fn verify_catches_a_wrong_size_and_removes_the_object() {
    let s = s3server::start().await;
    let d = tempfile::tempdir().unwrap();
    let state = StateDir::open(&d.path().join("state")).unwrap();
    let f = write(d.path(), "f.zip", &data(1000, 6));
    *s.shared.head_extra.lock().unwrap() = 7;
    let c = client(&s.endpoint);
    let e = upload_file(
        &c,
        &state,
        &f,
        "f.zip",
        SMALL,
        &CancellationToken::new(),
        &quiet,
    )
    .await
    .unwrap_err();
    assert!(matches!(e, OffsiteError::Mismatch(_)), "{e}");
    assert!(e.to_string().contains("local copy is safe"));
    assert!(!s.has("sq/f.zip").await);
}

async fn fails_with(c: &S3Client) -> OffsiteError {
    let d = tempfile::tempdir().unwrap();
    let state = StateDir::open(&d.path().join("state")).unwrap();
    let f = write(d.path(), "g.zip", &data(1000, 7));
    upload_file(
        c,
        &state,
        &f,
        "g.zip",
        SMALL,
        &CancellationToken::new(),
        &quiet,
    )
    .await
    .unwrap_err()
}

#[tokio::test]
async fn each_refusal_says_what_happened_and_that_the_local_copy_is_safe() {
    let s = s3server::start().await;
    // Wrong secret: the real server's SigV4 check refuses it.
    let bad = S3Client::new(cfg(&s.endpoint), "wrong".into()).unwrap();
    let e = fails_with(&bad).await;
    assert!(matches!(e, OffsiteError::Credentials(_)), "{e}");
    // A bucket that does not exist: another server says so itself; s3s-fs makes the
    // folder on a PUT, so there the answer a real S3 gives is injected.
    if s.external() {
        let mut other = cfg(&s.endpoint);
        other.bucket = "no-such-bucket".into();
        let e = fails_with(&S3Client::new(other, SK.into()).unwrap()).await;
        assert!(matches!(e, OffsiteError::NoSuchBucket(_)), "{e}");
    }
    let c = client(&s.endpoint);
    s.fault(Fault {
        method: "PUT",
        query: "",
        status: 404,
        code: "NoSuchBucket",
        times: 1,
    });
    let e = fails_with(&c).await;
    assert!(matches!(e, OffsiteError::NoSuchBucket(_)), "{e}");
    for (status, code) in [(403, "AccessDenied"), (403, "RequestTimeTooSkewed")] {
        s.fault(Fault {
            method: "PUT",
            query: "",
            status,
            code,
            times: 1,
        });
        let e = fails_with(&c).await;
        assert!(!e.retryable(), "{code}");
        assert!(e.to_string().contains("local copies are safe"), "{e}");
    }
    // A busy server is tried again, within bounds.
    s.fault(Fault {
        method: "PUT",
        query: "",
        status: 503,
        code: "SlowDown",
        times: 2,
    });
    let d = tempfile::tempdir().unwrap();
    let state = StateDir::open(&d.path().join("state")).unwrap();
    let f = write(d.path(), "h.zip", &data(1000, 8));
    upload_file(
        &c,
        &state,
        &f,
        "h.zip",
        SMALL,
        &CancellationToken::new(),
        &quiet,
    )
    .await
    .unwrap();
    s.fault(Fault {
        method: "PUT",
        query: "",
        status: 503,
        code: "SlowDown",
        times: 10,
    });
    let e = fails_with(&c).await;
    assert!(matches!(e, OffsiteError::Busy(_)), "{e}");
}

#[tokio::test]
async fn the_secret_is_in_the_keychain_and_in_no_file() {
    let s = s3server::start().await;
    let d = tempfile::tempdir().unwrap();
    let state = StateDir::open(&d.path().join("state")).unwrap();
    let kc = MemoryKeychain::default();
    let acct = AccountId::new("acct1").unwrap();
    offsite::add(&state, &kc, &acct, cfg(&s.endpoint), SK).unwrap();
    let c = offsite::open(&state, &kc, &acct, "lab").unwrap();
    assert!(!format!("{c:?}").contains(SK));
    let f = write(d.path(), "i.zip", &data(6 << 20, 9));
    upload_file(
        &c,
        &state,
        &f,
        "i.zip",
        SMALL,
        &CancellationToken::new(),
        &quiet,
    )
    .await
    .unwrap();
    for e in files_under(d.path()) {
        let text = std::fs::read(&e).unwrap();
        assert!(
            !text.windows(SK.len()).any(|w| w == SK.as_bytes()),
            "{e:?} holds the secret"
        );
    }
    let mut http = cfg("http://example.com");
    http.name = "far".into();
    assert!(offsite::add(&state, &kc, &acct, http, SK).is_err());
    assert!(offsite::remove(&state, &kc, &acct, "lab").unwrap());
    assert!(offsite::open(&state, &kc, &acct, "lab").is_err());
}

fn entry(path: &Path, version: &str) -> snapshots::library::LibraryEntry {
    snapshots::library::LibraryEntry {
        resource_id: "r1".into(),
        resource_name: "bot".into(),
        version: Some(version.into()),
        taken_at: chrono::Utc::now(),
        size: std::fs::metadata(path).unwrap().len(),
        path: path.to_path_buf(),
        downloaded_at: chrono::Utc::now(),
        verified_at: None,
        copies: Vec::new(),
        sealed_size: None,
        account: None,
    }
}

#[tokio::test]
async fn sync_uploads_what_is_missing_and_records_a_second_copy() {
    use snapshots::library::{LIBRARY, Library};
    use snapshots::offsite::sync::{held_by, sync};
    let s = s3server::start().await;
    let d = tempfile::tempdir().unwrap();
    let state = StateDir::open(&d.path().join("state")).unwrap();
    let a = write(d.path(), "bot_a.zip", &data(2000, 10));
    let b = write(d.path(), "bot_b.zip", &data(3000, 11));
    state
        .update(LIBRARY, |l: &mut Library| {
            l.add(entry(&a, "v1"));
            l.add(entry(&b, "v2"));
        })
        .unwrap();
    let c = client(&s.endpoint);
    let cancel = CancellationToken::new();
    let r = sync(&c, &state, SMALL, None, &cancel, &|_, _, _| {})
        .await
        .unwrap();
    assert_eq!(r.uploaded.len(), 2);
    let lib: Library = state.read(LIBRARY).unwrap();
    assert!(lib.entries.iter().all(|e| held_by(e, "lab")));
    assert!(lib.entries.iter().all(|e| e.all_copies().count() == 2));
    assert_eq!(stored(&s, "sq/bot_a.zip").await, std::fs::read(&a).unwrap());
    let r = sync(&c, &state, SMALL, None, &cancel, &|_, _, _| {})
        .await
        .unwrap();
    assert_eq!((r.uploaded.len(), r.present), (0, 2), "nothing sent twice");
    // A destination that encrypts uploads nothing until it can seal.
    let mut sealed = cfg(&s.endpoint);
    sealed.name = "sealed".into();
    sealed.encrypt = true;
    let sc = S3Client::new(sealed, SK.into()).unwrap();
    let e = sync(&sc, &state, SMALL, None, &cancel, &|_, _, _| {})
        .await
        .unwrap_err();
    assert!(e.to_string().contains("no encryption key"), "{e}");
    assert!(!s.has("sq/bot_a.zip.age").await);
}

/// With the seal hook, an encrypting destination gets each copy as `X.zip.age` (a big one
/// in parts), recorded as a second copy; the object opens to the local bytes with our age
/// and with pyrage; the staged sealed files are gone after; plain bytes never reach it.
#[tokio::test]
async fn an_encrypting_destination_gets_sealed_copies_that_an_independent_age_opens() {
    use snapshots::library::{LIBRARY, Library};
    use snapshots::offsite::sync::{held_by, sync};
    use snapshots::seal::{self, SealIdentity};
    let s = s3server::start().await;
    let d = tempfile::tempdir().unwrap();
    let state = StateDir::open(&d.path().join("state")).unwrap();
    let small = data(4000, 21);
    let big = data(12 << 20, 22); // three 5 MiB parts
    let a = write(d.path(), "bot_a.zip", &small);
    let b = write(d.path(), "bot_b.zip", &big);
    state
        .update(LIBRARY, |l: &mut Library| {
            l.add(entry(&a, "v1"));
            l.add(entry(&b, "v2"));
        })
        .unwrap();
    let mut sealed = cfg(&s.endpoint);
    sealed.encrypt = true;
    let c = S3Client::new(sealed, SK.into()).unwrap();
    let id = SealIdentity::generate();
    let recipient = id.recipient();
    let staging = state.path().join(seal::STAGING);
    let hook = |p: &Path| seal::staged_for_upload(&staging, p, &recipient);
    let cancel = CancellationToken::new();
    let r = sync(&c, &state, SMALL, Some(&hook), &cancel, &|_, _, _| {})
        .await
        .unwrap();
    assert_eq!(r.uploaded.len(), 2);
    let lib: Library = state.read(LIBRARY).unwrap();
    assert!(lib.entries.iter().all(|e| held_by(e, "lab")));
    assert!(!s.has("sq/bot_a.zip").await && !s.has("sq/bot_b.zip").await);
    // Each object as the server holds it, fetched to a file.
    let root = d.path().join("fetched");
    std::fs::create_dir(&root).unwrap();
    for (name, plain) in [("bot_a.zip.age", &small), ("bot_b.zip.age", &big)] {
        let obj = root.join(name);
        std::fs::write(&obj, stored(&s, &format!("sq/{name}")).await).unwrap();
        assert!(seal::looks_sealed(&obj).unwrap(), "{name}");
        let back = d.path().join(format!("{name}.plain"));
        seal::open_file(&obj, &back, &id).unwrap();
        assert!(std::fs::read(&back).unwrap() == *plain, "{name}");
    }
    let left: Vec<_> = std::fs::read_dir(&staging).unwrap().collect();
    assert!(left.is_empty(), "staged files left: {left:?}");
    // The bucket's retention takes a sealed copy for a good one (the zip's size plus age's
    // overhead), in one PUT and in parts.
    let keep_all = snapshots::library::Rule::Plan(snapshots::library::Retention::Everything);
    let r = snapshots::offsite::keep::prune(&c, &state, None, &keep_all)
        .await
        .unwrap();
    assert!(r.unverified.is_empty() && r.missing.is_empty(), "{r:?}");
    assert_eq!((r.kept, r.deleted.len()), (2, 0));
    if let Some(py) = pyrage::python() {
        let rec = d.path().join("recovery.age");
        let pw = "a passphrase of some length";
        seal::identity::export_recovery(&id, None, pw, &rec).unwrap();
        let out = d.path().join("by-pyrage.zip");
        pyrage::decrypt(&py, &rec, pw, &root.join("bot_b.zip.age"), &out);
        assert!(
            std::fs::read(&out).unwrap() == big,
            "pyrage read other bytes"
        );
    }
}

/// A copy kept sealed on this computer (a folder that encrypts) goes up as it is, to a
/// destination that encrypts and to one that does not: never sealed twice, never plain;
/// the bucket's retention takes it for a good copy.
#[tokio::test]
async fn a_copy_sealed_here_is_sent_as_it_is() {
    use snapshots::library::{LIBRARY, Library};
    use snapshots::offsite::sync::sync;
    use snapshots::seal::{self, SealIdentity};
    let s = s3server::start().await;
    let d = tempfile::tempdir().unwrap();
    let state = StateDir::open(&d.path().join("state")).unwrap();
    let plain = data(150_000, 31);
    let zip = write(d.path(), "bot_s.zip", &plain);
    let id = SealIdentity::generate();
    let local = seal::keep_sealed(&zip, &id.recipient()).unwrap();
    let on_disk = std::fs::read(&local).unwrap();
    let mut e = entry(&local, "v9");
    e.size = plain.len() as u64;
    e.sealed_size = Some(on_disk.len() as u64);
    state.update(LIBRARY, |l: &mut Library| l.add(e)).unwrap();
    let cancel = CancellationToken::new();
    // A hook that would seal again: it must not be called for a sealed copy.
    let hook = |p: &Path| -> std::io::Result<std::path::PathBuf> {
        panic!("{} was sealed again", p.display())
    };
    for (name, encrypt) in [("lab", false), ("locked", true)] {
        let mut c = cfg(&s.endpoint);
        c.name = name.into();
        c.prefix = name.into();
        c.encrypt = encrypt;
        let c = S3Client::new(c, SK.into()).unwrap();
        let r = sync(&c, &state, SMALL, Some(&hook), &cancel, &|_, _, _| {})
            .await
            .unwrap();
        assert_eq!(r.uploaded.len(), 1, "{name}");
        let key = format!("{name}/bot_s.zip.age");
        assert!(stored(&s, &key).await == on_disk, "{name}: other bytes");
        let keep_all = snapshots::library::Rule::Plan(snapshots::library::Retention::Everything);
        let k = snapshots::offsite::keep::prune(&c, &state, None, &keep_all)
            .await
            .unwrap();
        assert!(k.unverified.is_empty() && k.kept == 1, "{name}: {k:?}");
    }
}

/// A staged sealed copy is made once: the next attempt (after a kill) finds the same bytes,
/// so a resumed multipart upload never mixes parts of two encryptions.
#[test]
fn a_staged_sealed_copy_is_the_same_file_on_the_next_attempt() {
    use snapshots::seal::{self, SealIdentity};
    let d = tempfile::tempdir().unwrap();
    let plain = write(d.path(), "bot_c.zip", &data(70_000, 23));
    let id = SealIdentity::generate();
    let staging = d.path().join("staging");
    let first = seal::staged_for_upload(&staging, &plain, &id.recipient()).unwrap();
    let bytes = std::fs::read(&first).unwrap();
    let again = seal::staged_for_upload(&staging, &plain, &id.recipient()).unwrap();
    assert_eq!(first, again);
    assert!(std::fs::read(&again).unwrap() == bytes, "sealed again");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&staging).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o700);
    }
}

#[tokio::test]
async fn local_retention_leaves_the_offsite_copy_and_its_record() {
    use snapshots::library::{LIBRARY, Library};
    use snapshots::offsite::sync::{held_by, sync};
    let s = s3server::start().await;
    let d = tempfile::tempdir().unwrap();
    let state = StateDir::open(&d.path().join("state")).unwrap();
    let old = write(d.path(), "bot_old.zip", &data(2000, 12));
    let new = write(d.path(), "bot_new.zip", &data(2000, 13));
    state
        .update(LIBRARY, |l: &mut Library| {
            let mut e = entry(&old, "v1");
            e.taken_at -= chrono::Duration::days(3);
            l.add(e);
            l.add(entry(&new, "v2"));
        })
        .unwrap();
    let c = client(&s.endpoint);
    let cancel = CancellationToken::new();
    sync(&c, &state, SMALL, None, &cancel, &|_, _, _| {})
        .await
        .unwrap();
    let r = state
        .update(LIBRARY, |l: &mut Library| {
            l.prune(Some(1), None, chrono::Utc::now())
        })
        .unwrap();
    assert_eq!(r.deleted, vec![old.clone()]);
    assert!(!old.exists() && new.exists());
    let lib: Library = state.read(LIBRARY).unwrap();
    let kept = lib.entries.iter().find(|e| e.path == old).unwrap();
    assert!(
        held_by(kept, "lab"),
        "the version is still recorded offsite"
    );
    assert_eq!(
        kept.all_copies().count(),
        2,
        "its local path and the bucket copy"
    );
    assert_eq!(stored(&s, "sq/bot_old.zip").await, data(2000, 12));
    // A second sync does not try to upload the copy that is only offsite now.
    let r = sync(&c, &state, SMALL, None, &cancel, &|_, _, _| {})
        .await
        .unwrap();
    assert_eq!((r.uploaded.len(), r.present), (0, 2));
}

#[tokio::test]
async fn an_upload_keeps_to_the_shared_rate_limit() {
    let s = s3server::start().await;
    let d = tempfile::tempdir().unwrap();
    let state = StateDir::open(&d.path().join("state")).unwrap();
    let f = write(d.path(), "r.zip", &data(6 << 20, 14));
    let limit = std::sync::Arc::new(snapshots::download::RateLimit::new(8 << 20));
    // A download holding the same limit has just taken 4 MiB of it.
    limit.take(4 << 20).await;
    let opts = UploadOptions {
        rate: Some(limit),
        ..SMALL
    };
    let t = std::time::Instant::now();
    upload_file(
        &c_of(&s),
        &state,
        &f,
        "r.zip",
        opts,
        &CancellationToken::new(),
        &quiet,
    )
    .await
    .unwrap();
    // 4 + 6 MiB at 8 MiB/s, less the quarter second of burst a limiter saves up.
    assert!(
        t.elapsed() >= std::time::Duration::from_millis(900),
        "{:?}",
        t.elapsed()
    );
}

fn c_of(s: &s3server::Server) -> S3Client {
    client(&s.endpoint)
}

#[tokio::test]
async fn a_bucket_answers_for_its_copies() {
    use snapshots::destination::{Copy, Presence};
    use snapshots::offsite::copies::BucketCopies;
    let s = s3server::start().await;
    let d = tempfile::tempdir().unwrap();
    let state = StateDir::open(&d.path().join("state")).unwrap();
    let f = write(d.path(), "p.zip", &data(4000, 15));
    let copy = upload_file(
        &c_of(&s),
        &state,
        &f,
        "p.zip",
        SMALL,
        &CancellationToken::new(),
        &quiet,
    )
    .await
    .unwrap();
    let buckets = BucketCopies::new([c_of(&s)]);
    assert_eq!(
        buckets.presence(&copy).await.unwrap(),
        Presence::Present(4000)
    );
    let local = Copy::local(&f);
    assert_eq!(buckets.presence(&local).await.unwrap(), Presence::Missing);
    assert!(!buckets.delete(&local).await.unwrap(), "not a bucket's");
    assert!(f.exists());
    assert!(buckets.delete(&copy).await.unwrap());
    assert_eq!(buckets.presence(&copy).await.unwrap(), Presence::Missing);
}

#[tokio::test]
async fn a_removed_destination_leaves_no_upload_in_flight() {
    let s = s3server::start().await;
    let d = tempfile::tempdir().unwrap();
    let state = StateDir::open(&d.path().join("state")).unwrap();
    let f = write(d.path(), "q.zip", &data(11 << 20, 16));
    s.fault(Fault {
        method: "PUT",
        query: "partNumber=2",
        status: 0,
        code: "",
        times: 4,
    });
    let c = c_of(&s);
    let none = CancellationToken::new();
    assert!(
        upload_file(&c, &state, &f, "q.zip", SMALL, &none, &quiet)
            .await
            .is_err()
    );
    let journal = state.read::<Journal>(JOURNAL).unwrap();
    let id = journal.uploads.values().next().unwrap().upload_id.clone();
    let aborted = snapshots::offsite::upload::abandon_all(&c, &state)
        .await
        .unwrap();
    assert_eq!(aborted, 1);
    assert!(state.read::<Journal>(JOURNAL).unwrap().uploads.is_empty());
    match c.list_parts("sq/q.zip", &id).await {
        Ok(parts) => assert!(parts.is_empty(), "{parts:?}"),
        Err(e) => assert!(matches!(e, OffsiteError::NoSuchUpload), "{e}"),
    }
    assert!(
        s.log()
            .iter()
            .any(|l| l.starts_with("DELETE") && l.contains(&id))
    );
}

/// Retention in the bucket is the bucket's own: keep-last-2 there deletes the two oldest
/// objects while the local folder keeps three files. A version with no copy left anywhere
/// is remembered as pruned (a mirror does not bring it back); one still here is not sent
/// to the bucket again. An object deleted behind the app's back is forgotten, and its
/// local file goes up again.
#[tokio::test]
async fn a_buckets_retention_is_judged_on_the_bucket_alone() {
    use snapshots::library::{LIBRARY, Library, Retention, Rule};
    use snapshots::offsite::keep::prune;
    use snapshots::offsite::sync::{held_by, sync};
    let s = s3server::start().await;
    let d = tempfile::tempdir().unwrap();
    let state = StateDir::open(&d.path().join("state")).unwrap();
    let files: Vec<_> = (0..4u8)
        .map(|i| {
            write(
                d.path(),
                &format!("bot_k{i}.zip"),
                &data(3000 + i as usize, 30 + i),
            )
        })
        .collect();
    state
        .update(LIBRARY, |l: &mut Library| {
            for (i, f) in files.iter().enumerate() {
                let mut e = entry(f, &format!("v{i}"));
                e.taken_at -= chrono::Duration::days(10 - i as i64);
                l.add(e);
            }
        })
        .unwrap();
    let c = c_of(&s);
    let cancel = CancellationToken::new();
    sync(&c, &state, SMALL, None, &cancel, &|_, _, _| {})
        .await
        .unwrap();
    // This computer keeps three; the oldest version is then only in the bucket.
    let local = state
        .update(LIBRARY, |l: &mut Library| {
            l.prune(Some(3), None, chrono::Utc::now())
        })
        .unwrap();
    assert_eq!(local.deleted, vec![files[0].clone()]);
    let rule = Rule::Plan(Retention::Last { n: 2 });
    let r = prune(&c, &state, None, &rule).await.unwrap();
    let mut gone: Vec<&str> = r.deleted.iter().map(|(_, at)| at.as_str()).collect();
    gone.sort();
    assert_eq!(
        gone,
        [
            "s3://snaps/sq/bot_k0.zip#lab",
            "s3://snaps/sq/bot_k1.zip#lab"
        ]
    );
    assert_eq!((r.kept, r.last_of_version), (2, 1), "{r:?}");
    assert!(r.missing.is_empty() && r.unverified.is_empty(), "{r:?}");
    for (i, there) in [false, false, true, true].into_iter().enumerate() {
        let key = format!("sq/bot_k{i}.zip");
        assert_eq!(c.head(&key).await.unwrap().is_some(), there, "{key}");
    }
    assert!(
        files[1..].iter().all(|f| f.exists()),
        "the local folder's own"
    );
    let lib: Library = state.read(LIBRARY).unwrap();
    assert_eq!(lib.entries.len(), 3, "v0 had no copy left");
    assert!(
        lib.known_versions("r1").contains("v0"),
        "remembered as pruned"
    );
    assert!(!held_by(&lib.entries[0], "lab"));
    // The bucket dropped v1; it is still here and is not sent there again.
    let r = sync(&c, &state, SMALL, None, &cancel, &|_, _, _| {})
        .await
        .unwrap();
    assert_eq!((r.uploaded.len(), r.present, r.dropped), (0, 2, 1));
    assert_eq!(s.count("PUT /snaps/sq/bot_k1.zip"), 1, "{:?}", s.log());
    // Nothing more to drop: a second prune deletes nothing.
    let r = prune(&c, &state, None, &rule).await.unwrap();
    assert!(r.deleted.is_empty() && r.kept == 2, "{r:?}");
    // Deleted behind the app's back: forgotten, and sent again from the local file.
    c.delete("sq/bot_k3.zip").await.unwrap();
    let r = prune(&c, &state, None, &rule).await.unwrap();
    assert_eq!(r.missing, ["s3://snaps/sq/bot_k3.zip#lab"]);
    assert!(r.deleted.is_empty(), "the newest left there stays: {r:?}");
    let r = sync(&c, &state, SMALL, None, &cancel, &|_, _, _| {})
        .await
        .unwrap();
    assert_eq!(r.uploaded.len(), 1);
    assert_eq!(stored(&s, "sq/bot_k3.zip").await, data(3003, 33));
}

/// A sync's steps, as the window's transfers drawer shows them: every copy it will send is
/// told first (waiting), then each one's progress and end; while the engine's pause holds,
/// no upload starts; a failure tells the copies left unsent.
#[tokio::test]
async fn a_sync_tells_each_upload_and_waits_while_paused() {
    use snapshots::library::{LIBRARY, Library};
    use snapshots::offsite::sync::{SyncHooks, SyncStep, sync_with};
    use std::sync::Mutex;
    let s = s3server::start().await;
    let d = tempfile::tempdir().unwrap();
    let state = StateDir::open(&d.path().join("state")).unwrap();
    let a = write(d.path(), "bot_a.zip", &data(3 << 20, 20));
    let b = write(d.path(), "bot_b.zip", &data(2000, 21));
    state
        .update(LIBRARY, |l: &mut Library| {
            l.add(entry(&a, "v1"));
            l.add(entry(&b, "v2"));
        })
        .unwrap();
    let c = client(&s.endpoint);
    let seen = Mutex::new(Vec::<String>::new());
    let tell = |step: SyncStep<'_>| {
        let name = |e: &snapshots::library::LibraryEntry| {
            e.path.file_name().unwrap().to_string_lossy().into_owned()
        };
        let line = match step {
            SyncStep::Queued(all) => format!("queued {}", all.len()),
            SyncStep::Sending { entry, progress } => {
                assert!(progress.bytes <= progress.total.unwrap());
                format!("sending {}", name(entry))
            }
            SyncStep::Sent { entry, at } => {
                assert!(at.starts_with("s3://snaps/sq/"), "{at}");
                format!("sent {}", name(entry))
            }
            SyncStep::Failed { entry, error } => format!("failed {} {}", name(entry), error.code()),
            SyncStep::Left(all) => format!("left {}", all.len()),
        };
        let mut seen = seen.lock().unwrap();
        if seen.last() != Some(&line) {
            seen.push(line);
        }
    };
    let (pause, paused) = tokio::sync::watch::channel(true);
    let hooks = SyncHooks {
        tell: &tell,
        paused: Some(&paused),
    };
    let cancel = CancellationToken::new();
    let run = sync_with(&c, &state, SMALL, None, &cancel, hooks);
    tokio::pin!(run);
    // Paused: told what waits, nothing sent.
    tokio::select! {
        _ = &mut run => panic!("the sync ran while paused"),
        () = tokio::time::sleep(std::time::Duration::from_millis(500)) => {}
    }
    assert_eq!(*seen.lock().unwrap(), ["queued 2"]);
    assert_eq!(s.count("PUT"), 0, "an upload started while paused");
    pause.send_replace(false);
    let r = run.await.unwrap();
    assert_eq!(r.uploaded.len(), 2);
    let seen = seen.lock().unwrap().clone();
    let sent: Vec<&String> = seen.iter().filter(|l| !l.starts_with("sending")).collect();
    assert_eq!(sent, ["queued 2", "sent bot_a.zip", "sent bot_b.zip"]);
    assert!(seen.contains(&"sending bot_a.zip".to_string()), "{seen:?}");

    // A refused key: the first upload fails, the other is told as left unsent.
    let c2 = cfg(&s.endpoint);
    let c2 = S3Client::new(
        OffsiteConfig {
            name: "other".into(),
            ..c2
        },
        "wrong-secret".into(),
    )
    .unwrap();
    let failed = Mutex::new(Vec::<String>::new());
    let tell = |step: SyncStep<'_>| match step {
        SyncStep::Failed { error, .. } => failed.lock().unwrap().push(error.code().into()),
        SyncStep::Left(all) => failed.lock().unwrap().push(format!("left {}", all.len())),
        _ => {}
    };
    let hooks = SyncHooks {
        tell: &tell,
        paused: None,
    };
    let e = sync_with(&c2, &state, SMALL, None, &cancel, hooks)
        .await
        .unwrap_err();
    assert_eq!(e.code(), "offsite_credentials", "{e}");
    assert_eq!(*failed.lock().unwrap(), ["offsite_credentials", "left 1"]);
}
