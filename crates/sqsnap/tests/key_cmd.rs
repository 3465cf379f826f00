//! `sqsnap key show|export-recovery|import-recovery` and `sqsnap decrypt`, run as a process
//! against a real Secret Service (`make test` runs this inside `scripts/with-keyring.sh`,
//! which sets SQSNAP_EXPECT_KEYRING=present; without one the test says so and skips).

use snapshots::accounts::{AccountId, Accounts};
use snapshots::seal::{self, SealRecipient, identity};
use snapshots::secret::{Keychain, OsKeychain, Slot};
use std::path::Path;
use std::process::{Command, Output, Stdio};

fn sqsnap(data: &Path, service: &str, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_sqsnap"))
        .args(args)
        .env("SQSNAP_DATA_DIR", data)
        .env("SQSNAP_KEYRING_SERVICE", service)
        .env("LC_ALL", "C")
        .env_remove("SQUARECLOUD_API_KEY")
        .stdin(Stdio::null())
        .output()
        .unwrap()
}

fn text(o: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

fn private_file(path: &Path, body: &str) {
    std::fs::write(path, body).unwrap();
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600)).unwrap();
    }
}

#[test]
fn seal_key_export_import_and_decrypt_through_sqsnap() {
    if std::env::var("SQSNAP_EXPECT_KEYRING").as_deref() != Ok("present") {
        eprintln!("skipped: needs a Secret Service (make test provides one)");
        return;
    }
    let service = format!("app.squaresnapshots.test.seal-{}", std::process::id());
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    let id = AccountId::new("4242").unwrap();
    Accounts::open(&data)
        .unwrap()
        .enter(&id, "seal test")
        .unwrap();

    // The key is made on first use; its public half is printed.
    let o = sqsnap(&data, &service, &["key", "show"]);
    assert!(o.status.success(), "{}", text(&o));
    let recipient: SealRecipient = String::from_utf8_lossy(&o.stdout)
        .lines()
        .next()
        .unwrap()
        .parse()
        .unwrap();
    assert!(!text(&o).contains("AGE-SECRET-KEY"));

    // A copy sealed to it decrypts with `sqsnap decrypt`, beside it and with -o.
    let plain = tmp.path().join("bot.zip");
    std::fs::write(&plain, b"PK\x05\x06 a zip, of sorts").unwrap();
    let sealed = seal::keep_sealed(&plain, &recipient).unwrap();
    let sealed_s = sealed.to_str().unwrap();
    let o = sqsnap(&data, &service, &["decrypt", sealed_s]);
    assert!(o.status.success(), "{}", text(&o));
    assert_eq!(
        std::fs::read(&plain).unwrap(),
        b"PK\x05\x06 a zip, of sorts"
    );
    let o = sqsnap(&data, &service, &["decrypt", sealed_s]);
    assert!(
        !o.status.success(),
        "an existing plain file must not be replaced"
    );
    let other = tmp.path().join("other.zip");
    let o = sqsnap(
        &data,
        &service,
        &["decrypt", sealed_s, "-o", other.to_str().unwrap()],
    );
    assert!(o.status.success(), "{}", text(&o));

    // Export: a passphrase from a 0600 file only, 12 characters or more.
    let pw = tmp.path().join("pw");
    let rec = tmp.path().join("recovery.age");
    let rec_s = rec.to_str().unwrap();
    let export = |pw: &Path| {
        sqsnap(
            &data,
            &service,
            &[
                "key",
                "export-recovery",
                rec_s,
                "--passphrase-file",
                pw.to_str().unwrap(),
            ],
        )
    };
    private_file(&pw, "too short\n");
    let o = export(&pw);
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    assert!(text(&o).contains("at least 12"), "{}", text(&o));
    assert!(!rec.exists());
    no_stdin_no_file(&data, &service, rec_s);
    private_file(&pw, "a long enough passphrase\n");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&pw, std::fs::Permissions::from_mode(0o644)).unwrap();
        let o = export(&pw);
        assert_eq!(o.status.code(), Some(2), "{}", text(&o));
        assert!(text(&o).contains("chmod 600"), "{}", text(&o));
        std::fs::set_permissions(&pw, std::fs::Permissions::from_mode(0o600)).unwrap();
    }
    let o = export(&pw);
    assert!(o.status.success(), "{}", text(&o));
    let back = identity::import_recovery(&rec, "a long enough passphrase").unwrap();
    assert_eq!(back.recipient(), recipient);

    // A new computer: another account folder's keychain item, imported from the file.
    let kc = OsKeychain::new(service.clone());
    kc.slot(&Slot::Seal(id.clone())).delete().unwrap();
    let o = sqsnap(
        &data,
        &service,
        &[
            "key",
            "import-recovery",
            rec_s,
            "--passphrase-file",
            pw.to_str().unwrap(),
        ],
    );
    assert!(o.status.success(), "{}", text(&o));
    let o = sqsnap(&data, &service, &["key", "show"]);
    assert!(text(&o).starts_with(&recipient.to_string()), "{}", text(&o));
    kc.slot(&Slot::Seal(id)).delete().unwrap();
}

/// Export with neither a terminal nor --passphrase-file: refused, nothing written.
fn no_stdin_no_file(data: &Path, service: &str, rec: &str) {
    let o = sqsnap(data, service, &["key", "export-recovery", rec]);
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    assert!(text(&o).contains("--passphrase-file"), "{}", text(&o));
    assert!(!Path::new(rec).exists());
}
