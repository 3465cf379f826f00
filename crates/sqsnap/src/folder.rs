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
use crate::words;
use snapshots::accounts::AccountId;
use snapshots::library::{LIBRARY, Library};
use snapshots::names::printable;
use snapshots::seal::folders::{self, ChoiceError, FolderEncryption};
use snapshots::seal::identity;
use snapshots::secret::OsKeychain;
use snapshots::settings::validate_folder;
use snapshots::settings::{SETTINGS, Settings};
use snapshots::statedir::StateDir;

pub fn run(json: bool, pick: &Pick, cmd: &FolderCmd) -> Result<(), Fail> {
    let o = offline(pick)?;
    let account = o
        .account
        .map(|k| k.id)
        .ok_or_else(|| Fail::says(3, |w| w.folder_not_signed_in, &[]))?;
    let out = &Out::of(json, o.whose);
    let dir = o.dir;
    let st = StateDir::open(&dir)
        .map_err(|e| Fail::coded(7, "disk", format!("{}: {e}", dir.display())))?;
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
    let w = words::w();
    if shown.is_empty() {
        out.human(w.no_folder_yet);
    }
    for d in shown {
        let f = folders::status(&settings, &library, &d, recipient.as_ref());
        let what = if f.encrypts { w.encrypted } else { w.plain };
        out.emit(
            format!(
                "{what:9} {}",
                words::fill(
                    w.folder_line,
                    &[
                        ("dir", &d.display()),
                        ("sealed", &f.sealed_copies),
                        ("plain", &f.plain_copies)
                    ]
                )
            ),
            serde_json::json!(f),
        );
    }
    let exported = recipient
        .as_ref()
        .is_some_and(|r| settings.recovery_exported_for(&r.to_string()));
    out.human(if exported {
        w.recovery_written
    } else {
        w.recovery_missing
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
            say::err(words::w().lost_key_warning);
            if !a.yes {
                crate::restore::confirm_to(
                    &words::say(|w| w.encrypt_ask, &[("dir", &dir.display())]),
                    |w| w.doing_encrypt,
                    |w| w.not_encrypted,
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
    let w = words::w();
    if f.encrypts {
        let to = f.recipient.as_deref().unwrap_or(w.enc_this_key);
        let mut s = words::fill(w.enc_on, &[("dir", &dir), ("to", &to)]);
        if f.plain_copies > 0 {
            s.push_str(&words::fill(w.enc_plain_stay, &[("n", &f.plain_copies)]));
        }
        s
    } else {
        let mut s = words::fill(w.enc_off, &[("dir", &dir)]);
        if f.sealed_copies > 0 {
            s.push_str(&words::fill(w.enc_sealed_stay, &[("n", &f.sealed_copies)]));
        }
        s
    }
}

fn fail(e: ChoiceError) -> Fail {
    match e {
        ChoiceError::Unconfirmed(_) => Fail::coded(2, "confirm", e.to_string()),
        ChoiceError::Folder(f) => Fail::coded(7, f.code(), f.to_string()),
        ChoiceError::State(..) => Fail::coded(7, "disk", e.to_string()),
        ChoiceError::Key(k @ identity::SealError::WeakPassphrase(_)) => Fail::seal(2, k),
        ChoiceError::Key(k) => Fail::seal(3, k),
    }
}

/// `sqsnap folder set PATH [--resource ID] [--yes]`.
pub fn set(s: &Session, a: &FolderArgs) -> Result<(), Fail> {
    let path = &a.path;
    let resource = match &a.resource {
        Some(id) => Some(s.engine.resource(id)?),
        None => None,
    };
    let dir = validate_folder(path).map_err(|e| Fail::coded(7, e.code(), e.to_string()))?;
    let me = AccountId::new(s.whose.id.clone()).ok();
    let others = accounts(s.demo)?.folder_users(&dir, me.as_ref());
    if !others.is_empty() {
        let who = others
            .iter()
            .map(|u| u.describe())
            .collect::<Vec<_>>()
            .join("; ");
        if !a.yes {
            return Err(Fail::says(
                2,
                |w| w.folder_shared_refused,
                &[("dir", &dir.display()), ("who", &who)],
            ));
        }
        s.out.warn(words::say(
            |w| w.folder_shared_note,
            &[("dir", &dir.display()), ("who", &who)],
        ));
    }
    s.engine.update_settings(|st| {
        st.set_destination(resource.as_ref().map(|r| r.id.clone()), dir.clone())
    })?;
    let what = match &resource {
        Some(r) => words::say(
            |w| w.folder_set_resource,
            &[("name", &printable(&r.name)), ("dir", &dir.display())],
        ),
        None => words::say(|w| w.folder_set_default, &[("dir", &dir.display())]),
    };
    s.out.emit(
        what,
        serde_json::json!({"folder": dir, "resource": resource.map(|r| r.id),
            "shared_with": others.iter().map(|u| u.account.id.as_str()).collect::<Vec<_>>()}),
    );
    Ok(())
}
