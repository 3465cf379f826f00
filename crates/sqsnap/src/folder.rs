//! `sqsnap folder`: where the account's backups go. Shown, or set: the default folder, or
//! one resource's own. A folder another account on this computer keeps its backups in is
//! refused unless `--yes`: two accounts' copies in one folder are easily taken for each
//! other's.

use crate::cli::FolderArgs;
use crate::exit::Fail;
use crate::session::{Session, accounts};
use snapshots::accounts::AccountId;
use snapshots::names::printable;
use snapshots::settings::validate_folder;

pub fn run(s: &Session, a: &FolderArgs) -> Result<(), Fail> {
    let Some(path) = &a.path else {
        return show(s);
    };
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

fn show(s: &Session) -> Result<(), Fail> {
    let st = s.engine.settings();
    s.out.emit(
        match &st.default_dest {
            Some(d) => format!("default: {}", d.display()),
            None => "default: none (pass --dest, or set one with `sqsnap folder PATH`)".into(),
        },
        serde_json::json!({"default": st.default_dest}),
    );
    for (id, d) in &st.destinations {
        let name = s
            .engine
            .resource(id)
            .map(|r| r.name)
            .unwrap_or_else(|_| id.clone());
        s.out.emit(
            format!("{}: {}", printable(&name), d.display()),
            serde_json::json!({"resource": id, "folder": d}),
        );
    }
    Ok(())
}
