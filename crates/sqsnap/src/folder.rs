//! `sqsnap folder list|encrypt`: the folders copies go to, and which keep them encrypted.
//! Neither needs Square Cloud: the signed-in account's settings and its key in the OS
//! keychain. Turning encryption on while no recovery key was written says what losing the
//! keychain would mean and asks first (on a terminal), or needs `--yes` (elsewhere); the
//! warning goes to standard error either way.

use crate::cli::{FolderCmd, FolderEncryptArgs};
use crate::exit::Fail;
use crate::say::{self, Out};
use crate::session::accounts;
use snapshots::accounts::AccountId;
use snapshots::library::{LIBRARY, Library};
use snapshots::seal::folders::{self, ChoiceError, FolderEncryption, LOST_KEY_WARNING};
use snapshots::seal::identity;
use snapshots::secret::OsKeychain;
use snapshots::settings::{SETTINGS, Settings};
use snapshots::statedir::StateDir;

pub fn run(out: &Out, demo: bool, cmd: &FolderCmd) -> Result<(), Fail> {
    let all = accounts(demo)?;
    let account = all.current().ok_or_else(|| {
        Fail(
            3,
            "Not signed in: folders and their encryption belong to an account. Run sqsnap login first."
                .into(),
        )
    })?;
    let dir = all.dir(&account);
    let st = StateDir::open(&dir).map_err(|e| Fail(7, format!("{}: {e}", dir.display())))?;
    let kc = OsKeychain::default();
    match cmd {
        FolderCmd::List => list(out, &st, &kc, &account),
        FolderCmd::Encrypt(a) => encrypt(out, &st, &kc, &account, a),
    }
}

fn list(out: &Out, st: &StateDir, kc: &OsKeychain, account: &AccountId) -> Result<(), Fail> {
    let settings: Settings = st.read(SETTINGS).unwrap_or_default();
    let library: Library = st.read(LIBRARY).unwrap_or_default();
    let recipient = identity::stored(kc, account)
        .map_err(|e| fail(e.into()))?
        .map(|k| k.recipient());
    let shown = folders::shown_folders(&settings);
    if shown.is_empty() {
        out.human("No folder is set yet: sqsnap downloads go to --dest, the app's to the folder chosen in its window.");
    }
    for d in shown {
        let f = folders::status(&settings, &library, &d, recipient.as_ref());
        let what = if f.encrypts { "encrypted" } else { "plain" };
        out.emit(
            format!(
                "{what:9} {}  ({} encrypted, {} plain copies here)",
                d.display(),
                f.sealed_copies,
                f.plain_copies
            ),
            serde_json::json!(f),
        );
    }
    let exported = recipient
        .as_ref()
        .is_some_and(|r| settings.recovery_exported_for(&r.to_string()));
    out.human(if exported {
        "A recovery key was written for this account's encryption key."
    } else {
        "No recovery key was written for this account's encryption key yet: sqsnap key export-recovery FILE."
    });
    Ok(())
}

fn encrypt(
    out: &Out,
    st: &StateDir,
    kc: &OsKeychain,
    account: &AccountId,
    a: &FolderEncryptArgs,
) -> Result<(), Fail> {
    let on = a.on;
    let done = match folders::set(st, kc, account, &a.dir, on, false) {
        Err(ChoiceError::Unconfirmed(dir)) => {
            say::err(&format!("Warning: {LOST_KEY_WARNING} No recovery key was written for this account yet (sqsnap key export-recovery FILE writes one)."));
            if !a.yes {
                crate::restore::confirm_to(
                    &format!("Encrypt the copies made in {} from now on? [y/N] ", dir.display()),
                    "turning encryption on",
                    "Encryption not turned on",
                )?;
            }
            folders::set(st, kc, account, &dir, on, true)
        }
        other => other,
    }
    .map_err(fail)?;
    out.emit(said(&done), serde_json::json!(done));
    Ok(())
}

/// What was changed, and what happens to the copies already there.
fn said(f: &FolderEncryption) -> String {
    let dir = f.folder.display();
    if f.encrypts {
        let to = f.recipient.as_deref().unwrap_or("this account's key");
        let mut s = format!("Copies made in {dir} from now on are encrypted (….zip.age) to {to}.");
        if f.plain_copies > 0 {
            s.push_str(&format!(
                " The plain copies already there ({}) stay as they are.",
                f.plain_copies
            ));
        }
        s
    } else {
        let mut s = format!("Copies made in {dir} from now on are plain zips.");
        if f.sealed_copies > 0 {
            s.push_str(&format!(
                " The encrypted copies already there ({}) stay encrypted; sqsnap decrypt opens them.",
                f.sealed_copies
            ));
        }
        s
    }
}

fn fail(e: ChoiceError) -> Fail {
    let code = match &e {
        ChoiceError::Unconfirmed(_) => 2,
        ChoiceError::Folder(_) | ChoiceError::State(..) => 7,
        ChoiceError::Key(identity::SealError::WeakPassphrase(_)) => 2,
        ChoiceError::Key(_) => 3,
    };
    Fail(code, e.to_string())
}
