//! Which account: every account's state lives in `accounts/<id>/` under the data dir, and
//! `accounts.json` remembers the accounts this computer knows and which one is signed in.
//! An engine works on one account's folder and knows nothing of the others; the app keeps
//! one engine per account.
//!
//! Releases before accounts kept one account's state at the top of the data dir. It moves
//! into the folder of the account it belongs to the first time that account signs in: the
//! account the old ledger names, or, when it names none, the first account to sign in.

use crate::statedir::StateDir;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};

/// The index of known accounts, at the top of the data dir.
pub const INDEX: &str = "accounts.json";
/// The folder that holds one folder per account.
pub const DIR: &str = "accounts";

/// A Square Cloud user id, safe to use as a folder and keychain name.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct AccountId(String);

impl AccountId {
    /// Letters, digits, `-` and `_`, 1 to 64 of them: what Square Cloud's ids are made of,
    /// and nothing a path or a keychain could read as something else.
    pub fn new(id: impl Into<String>) -> Result<Self, String> {
        let id = id.into();
        let ok = !id.is_empty()
            && id.len() <= 64
            && id
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
        if ok {
            Ok(Self(id))
        } else {
            Err(format!(
                "Square Cloud answered with an account id this app cannot keep ({:?}).",
                id.chars().take(80).collect::<String>()
            ))
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for AccountId {
    type Error = String;
    fn try_from(s: String) -> Result<Self, String> {
        Self::new(s)
    }
}

impl From<AccountId> for String {
    fn from(a: AccountId) -> String {
        a.0
    }
}

impl std::fmt::Display for AccountId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// An account this computer has signed in to.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Known {
    pub id: AccountId,
    /// The account's name when it last signed in.
    pub name: String,
    pub added_at: DateTime<Utc>,
    /// The name the user gave it on this computer (`sqsnap account rename`, the window's
    /// account menu), shown in its place; Square Cloud's name is kept beside it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub label: Option<String>,
}

impl Known {
    /// What the account is called here: the user's label, else Square Cloud's name.
    pub fn shown(&self) -> &str {
        self.label.as_deref().unwrap_or(&self.name)
    }
}

/// Another account's use of a folder: its default folder (`resource` none), or the folder
/// of one of its resources (by id).
#[derive(Debug, Clone, PartialEq)]
pub struct FolderUse {
    pub account: Known,
    pub resource: Option<String>,
}

impl FolderUse {
    /// "Cliente X (527…) keeps its backups there" or "… the backups of resource ID there".
    pub fn describe(&self) -> String {
        let who = format!(
            "{} ({})",
            crate::names::printable(self.account.shown()),
            self.account.id
        );
        match &self.resource {
            None => format!("{who} keeps its backups there (its default folder)"),
            Some(r) => format!(
                "{who} keeps the backups of its resource {} there",
                crate::names::printable(r)
            ),
        }
    }
}

/// Two ways of writing one folder: the same path, or the same folder once links and `..`
/// are resolved (where it exists).
fn same_folder(a: &Path, b: &Path) -> bool {
    if a == b {
        return true;
    }
    match (std::fs::canonicalize(a), std::fs::canonicalize(b)) {
        (Ok(x), Ok(y)) => x == y,
        _ => false,
    }
}

/// Why an account could not be found, renamed or removed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AccountError {
    #[error(
        "No account here is called {0:?}. `sqsnap account list` shows the ones this computer knows."
    )]
    Unknown(String),
    #[error("{0:?} could be {1}: say which by its id.")]
    Ambiguous(String, String),
    #[error("{0:?} cannot be an account's name here: use 1 to 64 printable characters.")]
    BadLabel(String),
    #[error("Another account here is already called {0:?}: choose another name.")]
    LabelTaken(String),
    #[error("The list of accounts could not be read or written: {0}")]
    Disk(String),
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
struct Index {
    #[serde(default)]
    accounts: Vec<Known>,
    /// The account signed in now (the window shows it; `sqsnap` uses it).
    #[serde(default)]
    current: Option<AccountId>,
    /// The account the pre-accounts state was moved to, once it was.
    #[serde(default)]
    legacy_moved_to: Option<AccountId>,
}

/// The state a release before accounts kept at the top of the data dir: these files (and
/// the copies of them kept aside when unreadable, `<name>.corrupt-<time>`) and folders.
/// Nothing else there is moved: a folder the user put in the data dir stays where it is.
const LEGACY_FILES: &[&str] = &[
    "settings.json",
    "library.json",
    "plans.json",
    "ledger.json",
    "calls.json",
];
const LEGACY_DIRS: &[&str] = &["claims"];

fn is_legacy(name: &str) -> bool {
    LEGACY_DIRS.contains(&name)
        || LEGACY_FILES.iter().any(|f| {
            name == *f
                || name
                    .strip_prefix(f)
                    .is_some_and(|r| r.starts_with(".corrupt-"))
        })
}

/// The data dir's accounts.
#[derive(Debug)]
pub struct Accounts {
    state: StateDir,
}

impl Accounts {
    /// The accounts of the data dir `root` (made, private, when missing).
    pub fn open(root: &Path) -> std::io::Result<Self> {
        Ok(Self {
            state: StateDir::open(root)?,
        })
    }

    pub fn root(&self) -> &Path {
        self.state.path()
    }

    fn index(&self) -> Index {
        self.state.read(INDEX).unwrap_or_default()
    }

    /// Every account this computer knows, in the order they were added.
    pub fn known(&self) -> Vec<Known> {
        self.index().accounts
    }

    /// The account signed in now.
    pub fn current(&self) -> Option<AccountId> {
        self.index().current
    }

    /// The known account with this id.
    pub fn get(&self, id: &AccountId) -> Option<Known> {
        self.known().into_iter().find(|k| &k.id == id)
    }

    /// Which other known accounts (all but `me`) keep copies in `dir`: as their default
    /// folder, or as one of their resources' folders, read from their settings. A folder
    /// shared by two accounts mixes their copies and invites one account's backup to land
    /// where the other's are looked for: the app and `sqsnap` refuse it as a default
    /// unless the user confirms. An account whose settings cannot be read is left out.
    pub fn folder_users(&self, dir: &Path, me: Option<&AccountId>) -> Vec<FolderUse> {
        let mut users = Vec::new();
        for k in self.known().into_iter().filter(|k| Some(&k.id) != me) {
            let file = self.dir(&k.id).join(crate::settings::SETTINGS);
            let Some(s) = std::fs::read(&file)
                .ok()
                .and_then(|b| serde_json::from_slice::<crate::settings::Settings>(&b).ok())
            else {
                continue;
            };
            if s.default_dest
                .as_deref()
                .is_some_and(|d| same_folder(d, dir))
            {
                users.push(FolderUse {
                    account: k.clone(),
                    resource: None,
                });
            }
            for (id, d) in &s.destinations {
                if same_folder(d, dir) {
                    users.push(FolderUse {
                        account: k.clone(),
                        resource: Some(id.clone()),
                    });
                }
            }
        }
        users
    }

    /// Where the account's state lives (made on [`Accounts::enter`]).
    pub fn dir(&self, id: &AccountId) -> PathBuf {
        self.root().join(DIR).join(id.as_str())
    }

    /// Where commands that need no key (verify, prune) find the state: the current
    /// account's folder, else the state of a release before accounts not moved yet.
    pub fn offline_dir(&self) -> Option<PathBuf> {
        if let Some(id) = self.current() {
            return Some(self.dir(&id));
        }
        (!self.legacy_names().is_empty()).then(|| self.root().to_path_buf())
    }

    /// The account signs in: [`Accounts::open_account`], and it becomes the current one.
    pub fn enter(&self, id: &AccountId, name: &str) -> std::io::Result<PathBuf> {
        self.register(id, name, true)
    }

    /// The account is remembered, its folder is made, and the pre-accounts state moves into
    /// it if it is this account's. Returns the account's folder.
    pub fn open_account(&self, id: &AccountId, name: &str) -> std::io::Result<PathBuf> {
        self.register(id, name, false)
    }

    fn register(&self, id: &AccountId, name: &str, current: bool) -> std::io::Result<PathBuf> {
        let dir = self.dir(id);
        crate::ownfile::ensure_private_dir(&self.root().join(DIR))?;
        crate::ownfile::ensure_private_dir(&dir)?;
        // Under the data dir's lock, which the releases before accounts take too, so none
        // of them writes a file while it moves.
        self.state
            .update(INDEX, |ix: &mut Index| -> std::io::Result<()> {
                if ix.legacy_moved_to.is_none() && self.legacy_belongs_to(id) {
                    self.move_legacy(&dir)?;
                    ix.legacy_moved_to = Some(id.clone());
                }
                match ix.accounts.iter_mut().find(|k| &k.id == id) {
                    Some(k) => k.name = name.to_string(),
                    None => ix.accounts.push(Known {
                        id: id.clone(),
                        name: name.to_string(),
                        added_at: Utc::now(),
                        label: None,
                    }),
                }
                if current {
                    ix.current = Some(id.clone());
                }
                Ok(())
            })??;
        Ok(dir)
    }

    /// Signs the current account out (its state stays, for when it signs in again).
    pub fn leave(&self) -> std::io::Result<()> {
        self.state.update(INDEX, |ix: &mut Index| ix.current = None)
    }

    /// The known account `what` names: its id, its label or its Square Cloud name (names
    /// compared without case). A name two accounts share is refused, saying which.
    pub fn find(&self, what: &str) -> Result<Known, AccountError> {
        let known = self.known();
        if let Some(k) = known.iter().find(|k| k.id.as_str() == what) {
            return Ok(k.clone());
        }
        let same = |s: &str| s.trim().to_lowercase() == what.trim().to_lowercase();
        let by_label: Vec<&Known> = known
            .iter()
            .filter(|k| k.label.as_deref().is_some_and(same))
            .collect();
        let hits = if by_label.is_empty() {
            known.iter().filter(|k| same(&k.name)).collect()
        } else {
            by_label
        };
        match hits.as_slice() {
            [one] => Ok((*one).clone()),
            [] => Err(AccountError::Unknown(crate::names::printable(what))),
            many => Err(AccountError::Ambiguous(
                crate::names::printable(what),
                many.iter()
                    .map(|k| format!("{} ({})", crate::names::printable(k.shown()), k.id))
                    .collect::<Vec<_>>()
                    .join(" or "),
            )),
        }
    }

    /// Names the account `id` here (`None`: back to Square Cloud's name). A label is 1 to 64
    /// printable characters, and no other account's label or name.
    pub fn rename(&self, id: &AccountId, label: Option<&str>) -> Result<(), AccountError> {
        let label = match label.map(str::trim) {
            None | Some("") => None,
            Some(l) if l.chars().count() > 64 || l.chars().any(char::is_control) => {
                return Err(AccountError::BadLabel(crate::names::printable(l)));
            }
            Some(l) => Some(l.to_string()),
        };
        self.state
            .update(INDEX, |ix: &mut Index| {
                if let Some(l) = &label {
                    let taken = ix.accounts.iter().any(|k| {
                        &k.id != id
                            && (k.shown().to_lowercase() == l.to_lowercase()
                                || k.name.to_lowercase() == l.to_lowercase())
                    });
                    if taken {
                        return Err(AccountError::LabelTaken(l.clone()));
                    }
                }
                let k = ix
                    .accounts
                    .iter_mut()
                    .find(|k| &k.id == id)
                    .ok_or_else(|| AccountError::Unknown(id.to_string()))?;
                k.label = label.clone();
                Ok(())
            })
            .map_err(|e| AccountError::Disk(e.to_string()))?
    }

    /// Makes `id` the current account (the window's and `sqsnap`'s default).
    pub fn switch_to(&self, id: &AccountId) -> Result<(), AccountError> {
        self.state
            .update(INDEX, |ix: &mut Index| {
                if !ix.accounts.iter().any(|k| &k.id == id) {
                    return Err(AccountError::Unknown(id.to_string()));
                }
                ix.current = Some(id.clone());
                Ok(())
            })
            .map_err(|e| AccountError::Disk(e.to_string()))?
    }

    /// Forgets the account `id` on this computer: out of the list (the current one becomes
    /// the first other account, if any). Its key and its copies are the caller's to deal
    /// with (keep is the default); its folder of state stays unless `remove_state`, so that
    /// copies kept still have their record if it signs in again.
    pub fn forget(&self, id: &AccountId, remove_state: bool) -> Result<(), AccountError> {
        self.state
            .update(INDEX, |ix: &mut Index| {
                let before = ix.accounts.len();
                ix.accounts.retain(|k| &k.id != id);
                if ix.accounts.len() == before {
                    return Err(AccountError::Unknown(id.to_string()));
                }
                if ix.current.as_ref() == Some(id) {
                    ix.current = ix.accounts.first().map(|k| k.id.clone());
                }
                Ok(())
            })
            .map_err(|e| AccountError::Disk(e.to_string()))??;
        if remove_state {
            match std::fs::remove_dir_all(self.dir(id)) {
                Ok(()) => {}
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(e) => return Err(AccountError::Disk(e.to_string())),
            }
        }
        Ok(())
    }

    /// The names at the top of the data dir that a release before accounts wrote.
    fn legacy_names(&self) -> Vec<std::ffi::OsString> {
        let Ok(rd) = std::fs::read_dir(self.root()) else {
            return Vec::new();
        };
        rd.filter_map(|e| e.ok())
            .map(|e| e.file_name())
            .filter(|n| n.to_str().is_some_and(is_legacy))
            .collect()
    }

    /// Whether the pre-accounts state is this account's: the one its ledger names, or any
    /// account when the ledger names none (nothing was ever taken).
    fn legacy_belongs_to(&self, id: &AccountId) -> bool {
        if self.legacy_names().is_empty() {
            return false;
        }
        let named: Vec<String> = std::fs::read(self.root().join(crate::ledger::LEDGER))
            .ok()
            .and_then(|b| serde_json::from_slice::<serde_json::Value>(&b).ok())
            .and_then(|v| {
                v.get("accounts")?
                    .as_object()
                    .map(|m| m.keys().cloned().collect())
            })
            .unwrap_or_default();
        named.is_empty() || named.iter().any(|n| n == id.as_str())
    }

    /// Moves every pre-accounts file and folder into `dir`, never over one already there
    /// (a move cut short earlier is finished, not repeated).
    fn move_legacy(&self, dir: &Path) -> std::io::Result<()> {
        for name in self.legacy_names() {
            let from = self.root().join(&name);
            let to = dir.join(&name);
            if to.symlink_metadata().is_ok() {
                continue;
            }
            std::fs::rename(&from, &to)?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accounts_are_found_renamed_switched_and_forgotten() {
        let d = tempfile::tempdir().unwrap();
        let a = Accounts::open(d.path()).unwrap();
        let (one, two) = (
            AccountId::new("111").unwrap(),
            AccountId::new("222").unwrap(),
        );
        a.enter(&one, "Ana").unwrap();
        a.open_account(&two, "Cliente X").unwrap();
        assert_eq!(a.current(), Some(one.clone()));
        // By id, by Square Cloud's name without case; an unknown one says where to look.
        assert_eq!(a.find("222").unwrap().id, two);
        assert_eq!(a.find("cliente x").unwrap().id, two);
        assert!(matches!(a.find("Bob"), Err(AccountError::Unknown(_))));
        // A label is shown in place of the name, survives the next sign-in, and is found.
        a.rename(&two, Some("Loja")).unwrap();
        a.open_account(&two, "Cliente X (renamed on Square Cloud)")
            .unwrap();
        let k = a.find("loja").unwrap();
        assert_eq!((k.shown(), k.id.as_str()), ("Loja", "222"));
        assert_eq!(
            a.find("Cliente X (renamed on Square Cloud)").unwrap().id,
            two
        );
        // Names no other account has, printable, not too long.
        assert_eq!(
            a.rename(&two, Some("ana")),
            Err(AccountError::LabelTaken("ana".into()))
        );
        assert!(matches!(
            a.rename(&two, Some("a\u{1b}[2J")),
            Err(AccountError::BadLabel(_))
        ));
        assert!(matches!(
            a.rename(&two, Some(&"x".repeat(65))),
            Err(AccountError::BadLabel(_))
        ));
        a.rename(&two, None).unwrap();
        assert_eq!(
            a.find("222").unwrap().shown(),
            "Cliente X (renamed on Square Cloud)"
        );
        // Two accounts of one name: said, with their ids.
        let three = AccountId::new("333").unwrap();
        a.open_account(&three, "Ana").unwrap();
        let Err(AccountError::Ambiguous(_, which)) = a.find("ana") else {
            panic!("two accounts are called Ana");
        };
        assert!(which.contains("111") && which.contains("333"), "{which}");
        // Switching, then forgetting the current one: the next known becomes current; its
        // state stays unless asked.
        a.switch_to(&three).unwrap();
        assert_eq!(a.current(), Some(three.clone()));
        std::fs::write(a.dir(&three).join("library.json"), "{}").unwrap();
        a.forget(&three, false).unwrap();
        assert_eq!(a.current(), Some(one.clone()));
        assert!(a.dir(&three).join("library.json").exists());
        a.forget(&two, true).unwrap();
        assert!(!a.dir(&two).exists());
        assert_eq!(a.known().len(), 1);
        assert!(matches!(
            a.forget(&two, false),
            Err(AccountError::Unknown(_))
        ));
        assert!(matches!(a.switch_to(&two), Err(AccountError::Unknown(_))));
    }

    #[test]
    fn ids_that_could_be_read_as_paths_are_refused() {
        for bad in ["", "..", "a/b", "a\\b", "x y", ".hidden", &"9".repeat(65)] {
            assert!(AccountId::new(bad).is_err(), "{bad:?}");
        }
        assert_eq!(
            AccountId::new("313397145698959364").unwrap().as_str(),
            "313397145698959364"
        );
    }

    #[test]
    fn a_first_account_with_no_old_state_gets_an_empty_folder() {
        let d = tempfile::tempdir().unwrap();
        let a = Accounts::open(d.path()).unwrap();
        let id = AccountId::new("42").unwrap();
        let dir = a.enter(&id, "Ana").unwrap();
        assert_eq!(dir, d.path().join("accounts/42"));
        assert!(dir.is_dir());
        assert_eq!(a.current(), Some(id.clone()));
        assert_eq!(a.known().len(), 1);
        a.leave().unwrap();
        assert_eq!(a.current(), None);
        assert_eq!(a.known()[0].name, "Ana");
    }

    #[test]
    fn old_state_of_another_account_waits_for_its_owner() {
        let d = tempfile::tempdir().unwrap();
        std::fs::write(
            d.path().join("ledger.json"),
            r#"{"accounts":{"7":{"entries":[]}}}"#,
        )
        .unwrap();
        std::fs::write(d.path().join("library.json"), r#"{"entries":[]}"#).unwrap();
        let a = Accounts::open(d.path()).unwrap();
        let other = a.enter(&AccountId::new("8").unwrap(), "B").unwrap();
        assert!(!other.join("library.json").exists());
        assert!(d.path().join("library.json").exists());
        assert_eq!(a.offline_dir(), Some(other));
        let owner = a.enter(&AccountId::new("7").unwrap(), "A").unwrap();
        assert!(owner.join("library.json").exists() && owner.join("ledger.json").exists());
        assert!(!d.path().join("library.json").exists());
    }

    #[test]
    fn a_move_cut_short_is_finished_without_overwriting() {
        let d = tempfile::tempdir().unwrap();
        std::fs::write(d.path().join("plans.json"), "old plans").unwrap();
        std::fs::write(d.path().join("settings.json"), "old settings").unwrap();
        let dir = d.path().join("accounts/5");
        std::fs::create_dir_all(&dir).unwrap();
        // The earlier move got as far as settings.json, then the power went.
        std::fs::write(dir.join("settings.json"), "moved settings").unwrap();
        let a = Accounts::open(d.path()).unwrap();
        a.enter(&AccountId::new("5").unwrap(), "C").unwrap();
        assert_eq!(
            std::fs::read_to_string(dir.join("settings.json")).unwrap(),
            "moved settings"
        );
        assert_eq!(
            std::fs::read_to_string(dir.join("plans.json")).unwrap(),
            "old plans"
        );
    }

    #[test]
    fn only_the_state_moves_and_what_else_is_there_stays() {
        let d = tempfile::tempdir().unwrap();
        for n in [
            "library.json",
            "library.json.corrupt-20261204T101010",
            "notes.txt",
        ] {
            std::fs::write(d.path().join(n), "x").unwrap();
        }
        std::fs::create_dir(d.path().join("backups")).unwrap();
        std::fs::create_dir(d.path().join("claims")).unwrap();
        let a = Accounts::open(d.path()).unwrap();
        let dir = a.enter(&AccountId::new("5").unwrap(), "C").unwrap();
        for moved in [
            "library.json",
            "library.json.corrupt-20261204T101010",
            "claims",
        ] {
            assert!(dir.join(moved).exists(), "{moved}");
        }
        for stays in ["notes.txt", "backups"] {
            assert!(
                d.path().join(stays).exists() && !dir.join(stays).exists(),
                "{stays}"
            );
        }
    }
}
