//! `sqsnap folder list|set|encrypt`: the folders copies go to, and which keep them
//! encrypted. `list` and `encrypt` need no Square Cloud: the account's settings and its key
//! in the OS keychain. Turning encryption on while no recovery key was written says what
//! losing the keychain would mean and asks first (on a terminal), or needs `--yes`
//! (elsewhere); the warning goes to standard error either way. `set` makes a folder the
//! default (or one resource's); a folder another account on this computer keeps its backups
//! in is refused unless `--yes`: two accounts' copies in one folder are easily taken for
//! each other's.

use crate::cli::{FolderArgs, FolderCmd, FolderEncryptArgs};
use crate::exit::Fail;
use crate::say::{self, Out};
use crate::session::{Pick, Session, accounts, offline};
use snapshots::accounts::AccountId;
use snapshots::library::{LIBRARY, Library};
use snapshots::names::printable;
use snapshots::seal::folders::{self, ChoiceError, FolderEncryption, LOST_KEY_WARNING};
use snapshots::seal::identity;
use snapshots::secret::OsKeychain;
use snapshots::settings::validate_folder;
use snapshots::settings::{SETTINGS, Settings};
use snapshots::statedir::StateDir;

pub fn run(json: bool, pick: &Pick, cmd: &FolderCmd) -> Result<(), Fail> {
    let o = offline(pick)?;
    let account = o.account.map(|k| k.id).ok_or_else(|| {
        Fail(
            3,
            "Not signed in: folders and their encryption belong to an account. Run `sqsnap account add` (or `sqsnap login`) first."
                .into(),
        )
    })?;
    let out = &Out::of(json, o.whose);
    let dir = o.dir;
    let st = StateDir::open(&dir).map_err(|e| Fail(7, format!("{}: {e}", dir.display())))?;
    let kc = OsKeychain::default();
    match cmd {
        FolderCmd::List => list(out, &st, &kc, &account),
        FolderCmd::Encrypt(a) => encrypt(out, &st, &kc, &account, a),
        FolderCmd::Set(_) => unreachable!("set needs the account's engine: see `set`"),
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

/// `sqsnap folder set PATH [--resource ID] [--yes]`.
pub fn set(s: &Session, a: &FolderArgs) -> Result<(), Fail> {
    let path = &a.path;
    let resource = match &a.resource {
        Some(id) => Some(s.engine.resource(id)?),
        None => None,
    };
    let dir = validate_folder(path).map_err(|e| Fail(7, e.to_string()))?;
    let me = AccountId::new(s.whose.id.clone()).ok();
    let others = accounts(s.demo)?.folder_users(&dir, me.as_ref());
    if !others.is_empty() {
        let who = others
            .iter()
            .map(|u| u.describe())
            .collect::<Vec<_>>()
            .join("; ");
        if !a.yes {
            return Err(Fail(
                2,
                format!(
                    "{} is another account's folder: {who}. Copies of two accounts in one folder are easily taken for each other's. Choose a folder of this account's own, or pass --yes to use this one anyway. Nothing was changed.",
                    dir.display()
                ),
            ));
        }
        s.out.warn(format!(
            "note: {} is shared with another account ({who}), as --yes asked.",
            dir.display()
        ));
    }
    s.engine.update_settings(|st| {
        st.set_destination(resource.as_ref().map(|r| r.id.clone()), dir.clone())
    })?;
    let what = match &resource {
        Some(r) => format!(
            "{}'s backups go to {} now.",
            printable(&r.name),
            dir.display()
        ),
        None => format!("Backups go to {} now (the default folder).", dir.display()),
    };
    s.out.emit(
        what,
        serde_json::json!({"folder": dir, "resource": resource.map(|r| r.id),
            "shared_with": others.iter().map(|u| u.account.id.as_str()).collect::<Vec<_>>()}),
    );
    Ok(())
}
