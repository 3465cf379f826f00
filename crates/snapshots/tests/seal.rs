//! Encrypted copies (`snapshots::seal`): round trips at the chunk edges, wrong keys, damaged
//! files that leave nothing behind, planted links, the keychain slot, the recovery key, and
//! a copy decrypted by an independent implementation (pyrage, Python bindings of rage).

mod pyrage;

use snapshots::accounts::AccountId;
use snapshots::ownfile::Foreign;
use snapshots::seal::identity::{self, SealError};
use snapshots::seal::{self, SealIdentity};
use snapshots::secret::{Keychain, MemoryKeychain, Slot};
use std::io::{Read, Write};
use std::path::{Path, PathBuf};

fn bytes(n: usize) -> Vec<u8> {
    // Not all zeros, not all random: a pattern that shows a chunk out of place.
    (0..n)
        .map(|i| (i.wrapping_mul(31) ^ (i >> 9)) as u8)
        .collect()
}

fn names_in(dir: &Path) -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    v.sort();
    v
}

fn sealed_copy(dir: &Path, data: &[u8], id: &SealIdentity) -> PathBuf {
    let plain = dir.join("a.zip");
    std::fs::write(&plain, data).unwrap();
    let out = seal::sealed_name(&plain);
    let info = seal::seal_file(&plain, &out, &id.recipient()).unwrap();
    assert_eq!(info.size, std::fs::metadata(&out).unwrap().len());
    out
}

#[test]
fn seal_round_trips_at_the_chunk_edges() {
    let id = SealIdentity::generate();
    for n in [0, 1, 65535, 65536, 65537, 3 * 1024 * 1024 + 17] {
        let dir = tempfile::tempdir().unwrap();
        let data = bytes(n);
        let sealed = sealed_copy(dir.path(), &data, &id);
        assert!(seal::looks_sealed(&sealed).unwrap());
        assert!(!seal::looks_sealed(&dir.path().join("a.zip")).unwrap());
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&sealed).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600, "{n} bytes");
        }
        let back = dir.path().join("back.zip");
        assert_eq!(seal::open_file(&sealed, &back, &id).unwrap(), n as u64);
        assert!(std::fs::read(&back).unwrap() == data, "{n} bytes");
        let mut streamed = Vec::new();
        seal::open_reader(&sealed, &id)
            .unwrap()
            .read_to_end(&mut streamed)
            .unwrap();
        assert!(streamed == data, "{n} bytes streamed");
        assert_eq!(names_in(dir.path()), ["a.zip", "a.zip.age", "back.zip"]);
    }
}

#[test]
fn seal_opened_with_another_identity_says_so_and_writes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let sealed = sealed_copy(dir.path(), &bytes(1000), &SealIdentity::generate());
    let out = dir.path().join("out.zip");
    let e = seal::open_file(&sealed, &out, &SealIdentity::generate()).unwrap_err();
    assert_eq!(e.kind(), std::io::ErrorKind::PermissionDenied);
    assert!(e.to_string().contains("another key"), "{e}");
    assert_eq!(names_in(dir.path()), ["a.zip", "a.zip.age"]);
}

#[test]
fn seal_damaged_or_cut_copies_fail_and_leave_no_plaintext() {
    let id = SealIdentity::generate();
    let dir = tempfile::tempdir().unwrap();
    let data = bytes(300 * 1024);
    let sealed = sealed_copy(dir.path(), &data, &id);
    let good = std::fs::read(&sealed).unwrap();
    let cases: Vec<(&str, Vec<u8>)> = vec![
        ("flipped", {
            let mut b = good.clone();
            let i = b.len() / 2;
            b[i] ^= 1;
            b
        }),
        ("cut at a chunk", good[..good.len() - 1000].to_vec()),
        ("cut in the header", good[..40].to_vec()),
        (
            "last chunk dropped",
            good[..good.len() - (300 * 1024 % 65536 + 16)].to_vec(),
        ),
    ];
    for (what, body) in cases {
        let bad = dir.path().join("bad.zip.age");
        std::fs::write(&bad, &body).unwrap();
        let out = dir.path().join("out.zip");
        let e = seal::open_file(&bad, &out, &id).unwrap_err();
        assert!(!out.exists(), "{what}: plaintext left under the final name");
        assert!(
            e.to_string().contains("damaged") || e.to_string().contains("header"),
            "{what}: {e}"
        );
        std::fs::remove_file(&bad).unwrap();
        assert_eq!(names_in(dir.path()), ["a.zip", "a.zip.age"], "{what}");
    }
}

#[cfg(unix)]
#[test]
fn seal_refuses_a_planted_link_at_the_output() {
    let id = SealIdentity::generate();
    let dir = tempfile::tempdir().unwrap();
    let plain = dir.path().join("a.zip");
    std::fs::write(&plain, b"zip").unwrap();
    let victim = dir.path().join("victim");
    std::fs::write(&victim, b"keep me").unwrap();
    let out = seal::sealed_name(&plain);
    std::os::unix::fs::symlink(&victim, &out).unwrap();
    let e = seal::seal_file(&plain, &out, &id.recipient()).unwrap_err();
    assert!(Foreign::of(&e).is_some(), "{e}");
    assert_eq!(std::fs::read(&victim).unwrap(), b"keep me");
    // Opening into a planted link is refused the same way.
    std::fs::remove_file(&out).unwrap();
    let sealed = seal::keep_sealed(&plain, &id.recipient()).unwrap();
    let link = dir.path().join("plain.zip");
    std::os::unix::fs::symlink(&victim, &link).unwrap();
    let e = seal::open_file(&sealed, &link, &id).unwrap_err();
    assert!(Foreign::of(&e).is_some(), "{e}");
    assert_eq!(std::fs::read(&victim).unwrap(), b"keep me");
}

#[test]
fn seal_keep_sealed_replaces_the_plain_zip_and_the_zip_checks_through_the_stream() {
    let id = SealIdentity::generate();
    let dir = tempfile::tempdir().unwrap();
    let plain = dir.path().join("bot_1234_20260101T000000Z.zip");
    {
        let mut z = zip::ZipWriter::new(std::fs::File::create(&plain).unwrap());
        let o = zip::write::SimpleFileOptions::default();
        for i in 0..20 {
            z.start_file(format!("f{i}.txt"), o).unwrap();
            z.write_all(&bytes(50_000 + i)).unwrap();
        }
        z.finish().unwrap();
    }
    let sealed = seal::keep_sealed(&plain, &id.recipient()).unwrap();
    assert_eq!(sealed, dir.path().join("bot_1234_20260101T000000Z.zip.age"));
    assert!(!plain.exists());
    assert_eq!(names_in(dir.path()), ["bot_1234_20260101T000000Z.zip.age"]);
    // A full zip check (central directory, every CRC) without plaintext on disk.
    let mut zip = zip::ZipArchive::new(seal::open_reader(&sealed, &id).unwrap()).unwrap();
    assert_eq!(zip.len(), 20);
    for i in 0..zip.len() {
        let mut f = zip.by_index(i).unwrap();
        std::io::copy(&mut f, &mut std::io::sink()).unwrap();
    }
}

#[test]
fn seal_identity_is_made_once_per_account_in_its_own_keychain_slot() {
    let kc = MemoryKeychain::default();
    let a = AccountId::new("111").unwrap();
    let b = AccountId::new("222").unwrap();
    assert!(identity::stored(&kc, &a).unwrap().is_none());
    let first = identity::get_or_create(&kc, &a).unwrap();
    let again = identity::get_or_create(&kc, &a).unwrap();
    assert_eq!(first.recipient(), again.recipient());
    assert_ne!(
        identity::get_or_create(&kc, &b).unwrap().recipient(),
        first.recipient()
    );
    // The API key's slot is untouched, and the secret never shows in Debug.
    assert!(kc.slot(&Slot::Account(a.clone())).get().unwrap().is_none());
    let shown = format!("{first:?}");
    assert!(!shown.contains("AGE-SECRET-KEY"), "{shown}");
    assert!(first.recipient().to_string().starts_with("age1"));
    // Importing a different identity over it is refused; the same one is fine.
    let e = identity::store(&kc, &a, &SealIdentity::generate()).unwrap_err();
    assert!(matches!(e, SealError::Different(_)), "{e}");
    identity::store(&kc, &a, &first).unwrap();
}

#[test]
fn seal_recovery_key_round_trips_and_says_what_is_wrong() {
    let dir = tempfile::tempdir().unwrap();
    let id = SealIdentity::generate();
    let out = dir.path().join("recovery.age");
    let e = identity::export_recovery(&id, None, "short pass", &out).unwrap_err();
    assert!(matches!(e, SealError::WeakPassphrase(10)), "{e}");
    assert!(e.to_string().contains("at least 12"), "{e}");
    assert!(!out.exists());
    identity::export_recovery(&id, None, "correct horse battery", &out).unwrap();
    let text = std::fs::read_to_string(&out).unwrap();
    assert!(
        text.starts_with("-----BEGIN AGE ENCRYPTED FILE-----"),
        "{text}"
    );
    assert!(!text.contains("AGE-SECRET-KEY"));
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&out).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
    }
    let back = identity::import_recovery(&out, "correct horse battery").unwrap();
    assert_eq!(back.recipient(), id.recipient());
    let e = identity::import_recovery(&out, "wrong horse battery").unwrap_err();
    assert!(matches!(e, SealError::WrongPassphrase), "{e}");
    assert!(e.to_string().contains("does not open"), "{e}");
    // An existing file is never overwritten.
    assert!(identity::export_recovery(&id, None, "correct horse battery", &out).is_err());
}

#[test]
fn seal_copies_and_recovery_keys_open_with_an_independent_age() {
    let Some(py) = pyrage::python() else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let id = SealIdentity::generate();
    let data = bytes(2 * 1024 * 1024 + 5);
    let sealed = sealed_copy(dir.path(), &data, &id);
    let rec = dir.path().join("recovery.age");
    let pw = "a passphrase of some length";
    identity::export_recovery(&id, Some(&AccountId::new("42").unwrap()), pw, &rec).unwrap();
    let out = dir.path().join("by-pyrage.zip");
    pyrage::decrypt(&py, &rec, pw, &sealed, &out);
    assert!(
        std::fs::read(&out).unwrap() == data,
        "pyrage decrypted other bytes"
    );
    // And the other way: pyrage encrypts to our public key, we open it.
    let theirs = dir.path().join("by-pyrage.zip.back.age");
    let mut plain = String::new();
    seal::open_reader(&theirs, &id)
        .unwrap()
        .read_to_string(&mut plain)
        .unwrap();
    assert_eq!(plain, "from pyrage");
}
