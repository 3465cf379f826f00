//! `sqsnap key …` and `sqsnap decrypt`: the account's encryption key (not the API key, which
//! is `key.rs`). The secret half stays in the OS keychain; only its public half is printed,
//! and it leaves the keychain only inside a passphrase-protected recovery file.

use crate::cli::KeyCmd;
use crate::exit::{Fail, Said};
use crate::say::Out;
use crate::session::{Pick, accounts, offline};
use crate::words;
use snapshots::accounts::AccountId;
use snapshots::seal::folders::{self, ChoiceError};
use snapshots::seal::identity::{self, SealError};
use snapshots::seal::{self, SealIdentity};
use snapshots::secret::OsKeychain;
use snapshots::statedir::StateDir;
use std::io::IsTerminal;
use std::path::{Path, PathBuf};

pub fn run(json: bool, pick: &Pick, cmd: &KeyCmd) -> Result<(), Fail> {
    let (account, out) = signed_in(pick, json)?;
    let out = &out;
    let kc = OsKeychain::default();
    let st = account_state(pick.demo, &account)?;
    match cmd {
        KeyCmd::Show => {
            let had = identity::stored(&kc, &account).map_err(fail)?.is_some();
            let id = identity::get_or_create(&kc, &account).map_err(fail)?;
            let r = id.recipient().to_string();
            out.emit(&r, serde_json::json!({"recipient": r, "created": !had}));
            let settings: snapshots::settings::Settings =
                st.read(snapshots::settings::SETTINGS).unwrap_or_default();
            if !had {
                out.human(words::w().new_enc_key);
            } else if !settings.recovery_exported_for(&r) {
                out.human(words::w().no_recovery_yet);
            }
        }
        KeyCmd::ExportRecovery(a) => {
            let id = identity::get_or_create(&kc, &account).map_err(fail)?;
            let pass = passphrase(a.passphrase_file.as_deref(), true)?;
            // Written, and noted in the settings (the public key and when: never the key).
            folders::export_recovery(&st, &kc, &account, &pass, &a.file).map_err(choice)?;
            out.emit(
                words::say(|w| w.recovery_written_to, &[("path", &a.file.display())]),
                serde_json::json!({"recovery": a.file, "recipient": id.recipient().to_string()}),
            );
        }
        KeyCmd::ImportRecovery(a) => {
            let pass = passphrase(a.passphrase_file.as_deref(), false)?;
            let id = identity::import_recovery(&a.file, &pass).map_err(fail)?;
            identity::store(&kc, &account, &id).map_err(fail)?;
            // The recovery key it came from exists: the lost-key warning need not be said.
            folders::note_recovery(&st, &id.recipient()).map_err(choice)?;
            out.emit(
                words::say(
                    |w| w.key_imported,
                    &[("key", &id.recipient()), ("account", &account)],
                ),
                serde_json::json!({"recipient": id.recipient().to_string(), "account": account.as_str()}),
            );
        }
    }
    Ok(())
}

/// `sqsnap decrypt FILE.zip.age [-o OUT]`: a plain zip beside it (or at OUT), never over
/// an existing file.
pub fn decrypt(json: bool, pick: &Pick, file: &Path, to: Option<&Path>) -> Result<(), Fail> {
    let plain = match to {
        Some(p) => p.to_path_buf(),
        None => default_out(file)?,
    };
    let (account, out) = signed_in(pick, json)?;
    let id: SealIdentity = identity::stored(&OsKeychain::default(), &account)
        .map_err(fail)?
        .ok_or_else(|| Fail::says(3, |w| w.no_enc_key, &[]))?;
    let size = seal::open_file(file, &plain, &id).map_err(|e| {
        if e.kind() == std::io::ErrorKind::PermissionDenied {
            Fail::coded(3, "keychain", e.to_string())
        } else {
            Fail::coded(6, "verify", e.to_string())
        }
    })?;
    out.emit(
        words::say(
            |w| w.decrypted,
            &[("path", &plain.display()), ("size", &size)],
        ),
        serde_json::json!({"plain": plain, "bytes": size}),
    );
    Ok(())
}

fn default_out(file: &Path) -> Result<PathBuf, Fail> {
    let name = file.to_string_lossy();
    match name.strip_suffix(seal::SEALED_SUFFIX) {
        Some(p) if !p.is_empty() => Ok(PathBuf::from(p)),
        _ => Err(Fail::says(2, |w| w.no_age_suffix, &[("name", &name)])),
    }
}

/// The account `pick` chooses, and how lines about it name it.
fn signed_in(pick: &Pick, json: bool) -> Result<(AccountId, Out), Fail> {
    let o = offline(pick)?;
    let k = o
        .account
        .ok_or_else(|| Fail::says(3, |w| w.key_not_signed_in, &[]))?;
    // The public key is printed bare, for scripts to read: the account is in the JSON.
    let whose = o.whose.map(|w| crate::say::Whose { named: false, ..w });
    Ok((k.id, Out::of(json, whose)))
}

/// The signed-in account's state dir (its settings hold the recovery key's note).
fn account_state(demo: bool, account: &AccountId) -> Result<StateDir, Fail> {
    let dir = accounts(demo)?.dir(account);
    StateDir::open(&dir).map_err(|e| Fail::coded(7, "disk", format!("{}: {e}", dir.display())))
}

fn choice(e: ChoiceError) -> Fail {
    match e {
        ChoiceError::Key(k) => fail(k),
        other => Fail::coded(7, "disk", other.to_string()),
    }
}

fn fail(e: SealError) -> Fail {
    let exit = match e {
        SealError::Keychain(_) | SealError::Different(_) | SealError::WrongPassphrase => 3,
        SealError::WeakPassphrase(_) | SealError::NotRecovery(..) => 2,
        SealError::Corrupt => 5,
        SealError::Io(_) => 7,
    };
    Fail::seal(exit, e)
}

/// The passphrase from `--passphrase-file` (yours alone, not a link; one line), else typed
/// hidden on a terminal (twice when a new one is set). Never from argv.
fn passphrase(file: Option<&Path>, new: bool) -> Result<String, Fail> {
    if let Some(path) = file {
        return read_passphrase_file(path);
    }
    if !std::io::stdin().is_terminal() {
        return Err(Fail::says(2, |w| w.no_terminal_pass, &[]));
    }
    let ask = |prompt: &str| {
        rpassword::prompt_password(prompt).map_err(|e| Fail::coded(2, "", e.to_string()))
    };
    let first = ask(words::w().prompt_pass)?;
    if new {
        identity::check_passphrase(&first).map_err(fail)?;
        if ask(words::w().prompt_pass_again)? != first {
            return Err(Fail::says(2, |w| w.pass_differ, &[]));
        }
    }
    Ok(first)
}

fn read_passphrase_file(path: &Path) -> Result<String, Fail> {
    let shown = path.display();
    let refuse = |why: Said, args: &[(&str, &dyn std::fmt::Display)]| {
        Fail::says_why(2, |w| w.pass_file_refused, &[("path", &shown)], why, args)
    };
    let m =
        std::fs::symlink_metadata(path).map_err(|e| refuse(|_| "{error}.", &[("error", &e)]))?;
    if m.file_type().is_symlink() || !m.is_file() {
        return Err(refuse(|w| w.pf_link, &[]));
    }
    #[cfg(unix)]
    {
        use std::os::unix::fs::MetadataExt;
        if m.mode() & 0o077 != 0 {
            let mode = format!("{:04o}", m.mode() & 0o777);
            return Err(refuse(|w| w.pf_mode, &[("mode", &mode)]));
        }
    }
    let bytes =
        snapshots::ownfile::read_own(path).map_err(|e| refuse(|_| "{error}.", &[("error", &e)]))?;
    let text = String::from_utf8(bytes).map_err(|_| refuse(|w| w.pf_not_text, &[]))?;
    let line = text.strip_suffix('\n').unwrap_or(&text);
    let line = line.strip_suffix('\r').unwrap_or(line);
    if line.contains(['\n', '\r']) {
        return Err(refuse(|w| w.pf_lines, &[]));
    }
    Ok(line.to_string())
}
