//! Accounts: a data dir written by the release before accounts (a4040b1, every state file
//! at the top; made by `scripts/legacy-fixture.sh`) opens migrated into the folder of the
//! account it belongs to, with its settings, library, plans and ledger intact, and the key
//! that release kept moves to the account's keychain item.

mod common;

use common::*;
use snapshots::accounts::{AccountId, Accounts};
use snapshots::secret::{Keychain, MemoryKeychain, Slot};
use snapshots::signin;
use snapshots::squarecloud::ApiKey;
use snapshots::{Engine, EngineConfig};
use squarecloud_sim::{AccountSpec, SimConfig, Simulator};
use std::path::Path;

const FIXTURE: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/a4040b1");
const ACCOUNT: &str = "313397145698959364";
const APP: &str = "0f1e2d3c4b5a69788796a5b4c3d2e1f0";

/// The fixture under `root/data`, its paths moved from the placeholder to `root`.
fn plant_legacy(root: &Path) -> std::path::PathBuf {
    let data = root.join("data");
    std::fs::create_dir_all(&data).unwrap();
    for e in std::fs::read_dir(FIXTURE).unwrap() {
        let e = e.unwrap();
        let text = std::fs::read_to_string(e.path()).unwrap();
        let moved = text.replace("/LEGACY_ROOT", root.to_str().unwrap());
        std::fs::write(data.join(e.file_name()), moved).unwrap();
    }
    data
}

fn json(p: &Path) -> serde_json::Value {
    serde_json::from_slice(&std::fs::read(p).unwrap()).unwrap()
}

fn config(sim: &Simulator, data: &Path) -> EngineConfig {
    let mut cfg = EngineConfig::new(sim.api_url(), data);
    cfg.files_url = Some(sim.files_url());
    cfg.limits = limits_of(sim);
    cfg
}

#[tokio::test]
async fn a_data_dir_from_before_accounts_opens_migrated_and_intact() {
    let sim = Simulator::start(SimConfig::new(KEY, AccountSpec::demo()))
        .await
        .unwrap();
    let root = tempfile::tempdir().unwrap();
    let data = plant_legacy(root.path());
    let before: Vec<(String, serde_json::Value)> =
        ["settings.json", "library.json", "plans.json", "ledger.json"]
            .iter()
            .map(|n| (n.to_string(), json(&data.join(n))))
            .collect();
    let keychain = MemoryKeychain::default();
    keychain
        .slot(&Slot::Legacy)
        .set(&ApiKey::new(KEY).unwrap())
        .unwrap();

    let accounts = Accounts::open(&data).unwrap();
    let engine: Engine = signin::resume(&accounts, &keychain, &config(&sim, &data))
        .await
        .unwrap()
        .expect("the key kept before accounts signs in");
    let id = AccountId::new(ACCOUNT).unwrap();
    let dir = data.join("accounts").join(ACCOUNT);
    assert_eq!(accounts.current(), Some(id.clone()));
    assert_eq!(accounts.dir(&id), dir);

    // Every file moved whole; nothing of the old layout is left at the top.
    for (name, old) in &before {
        assert_eq!(&json(&dir.join(name)), old, "{name}");
        assert!(!data.join(name).exists(), "{name} left at the top");
    }
    // And the engine reads them as the old release wrote them.
    let s = engine.settings();
    assert_eq!(s.default_dest, Some(root.path().join("backups")));
    assert_eq!(s.keep_last, Some(5));
    assert_eq!(s.locale.as_deref(), Some("pt-BR"));
    assert_eq!(s.theme.as_deref(), Some("dark"));
    assert_eq!(s.connections, Some(2));
    assert!(!s.close_to_tray && s.full_verify);
    let lib = engine.library();
    assert_eq!(lib.entries.len(), 1);
    assert_eq!(lib.entries[0].resource_id, APP);
    assert_eq!(
        lib.entries[0].version.as_deref(),
        Some("ROO4iVLddntB23ieXCIys4dh4xI8HFWF")
    );
    assert!(lib.entries[0].path.starts_with(root.path().join("backups")));
    let plans = engine.plans();
    let names: Vec<&str> = plans.plans.iter().map(|p| p.id.as_str()).collect();
    assert_eq!(names, ["nightly", "mirror"]);
    assert_eq!(plans.reserve, 2);
    assert!(plans.invalid.is_empty(), "{:?}", plans.invalid);
    assert_eq!(
        plans.state["nightly"].last_period.as_deref(),
        Some("2026-12-04")
    );

    // The key moved to the account's item.
    assert!(keychain.slot(&Slot::Legacy).get().unwrap().is_none());
    assert_eq!(
        keychain
            .slot(&Slot::Account(id.clone()))
            .get()
            .unwrap()
            .unwrap()
            .expose_secret(),
        KEY
    );
    drop(engine);

    // The next start finds the account at once, and moves nothing again.
    let again = Accounts::open(&data).unwrap();
    let engine = signin::resume(&again, &keychain, &config(&sim, &data))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(engine.library().entries.len(), 1);
    assert_eq!(engine.plans().plans.len(), 2);
    assert_eq!(again.known().len(), 1);
}

/// Signing out keeps the account's state; a key of another account signs in to a folder of
/// its own, and the old account's state does not move to it.
#[tokio::test]
async fn each_account_keeps_its_own_folder() {
    let mut other = AccountSpec::demo();
    other.id = "999".into();
    let sim = Simulator::start(SimConfig::new(KEY, AccountSpec::demo()))
        .await
        .unwrap();
    let sim2 = Simulator::start(SimConfig::new("999-test-key", other))
        .await
        .unwrap();
    let root = tempfile::tempdir().unwrap();
    let data = plant_legacy(root.path());
    let keychain = MemoryKeychain::default();
    let accounts = Accounts::open(&data).unwrap();

    // Another account signs in first: the old state is not its.
    let e2 = signin::sign_in(
        &accounts,
        &keychain,
        &config(&sim2, &data),
        ApiKey::new("999-test-key").unwrap(),
    )
    .await
    .unwrap();
    assert!(e2.library().entries.is_empty());
    assert!(data.join("library.json").exists());
    signin::sign_out(&accounts, &keychain).unwrap();
    assert_eq!(accounts.current(), None);
    assert!(data.join("accounts/999").is_dir(), "state kept on sign-out");

    // Its owner signs in: the old state moves to its folder.
    let e1 = signin::sign_in(
        &accounts,
        &keychain,
        &config(&sim, &data),
        ApiKey::new(KEY).unwrap(),
    )
    .await
    .unwrap();
    assert_eq!(e1.library().entries.len(), 1);
    assert!(
        data.join("accounts")
            .join(ACCOUNT)
            .join("plans.json")
            .exists()
    );
    assert_eq!(accounts.known().len(), 2);

    // A key from elsewhere (sqsnap's environment) opens its own account's folder and does
    // not change the current one.
    let e3 = signin::connect_with(
        &accounts,
        &config(&sim2, &data),
        ApiKey::new("999-test-key").unwrap(),
    )
    .await
    .unwrap();
    assert!(e3.library().entries.is_empty());
    assert_eq!(accounts.current(), Some(AccountId::new(ACCOUNT).unwrap()));
}

/// Accounts added side by side: each key in its own item, the first one current and the
/// next not; each engine opened with its own key records its downloads as its own; a
/// library from before accounts were told apart reads as the folder's account's; an item
/// that holds another account's key is refused, not used; another account's folder is
/// found; and removing an account with its copies deletes only the files its library lists.
#[tokio::test]
async fn accounts_are_added_side_by_side_and_removed_with_their_copies() {
    use squarecloud_sim::demo::{DEMO_CLIENT_ID, DEMO_CLIENT_PRIVATE_APP, client_account};
    let sim = Simulator::start(
        SimConfig::new(KEY, AccountSpec::demo())
            .with_account(squarecloud_sim::DEMO_CLIENT_KEY, client_account())
            .instant_creates(),
    )
    .await
    .unwrap();
    let root = tempfile::tempdir().unwrap();
    let data = root.path().join("data");
    let cfg = config(&sim, &data);
    let keychain = MemoryKeychain::default();
    let accounts = Accounts::open(&data).unwrap();
    let (demo, client) = (
        AccountId::new(ACCOUNT).unwrap(),
        AccountId::new(DEMO_CLIENT_ID).unwrap(),
    );
    let key = |k: &str| ApiKey::new(k).unwrap();

    let first = signin::add_account(&accounts, &keychain, &cfg, key(KEY), false)
        .await
        .unwrap();
    assert!(
        first.current && first.new,
        "the first account is the current one"
    );
    sim.clear_requests();
    let second = signin::add_account(
        &accounts,
        &keychain,
        &cfg,
        key(squarecloud_sim::DEMO_CLIENT_KEY),
        false,
    )
    .await
    .unwrap();
    assert!(!second.current && second.new);
    // One /users/me said whose key it is, and nothing else was asked.
    let asked: Vec<String> = sim.requests().iter().map(|r| r.path.clone()).collect();
    assert_eq!(asked.len(), 1, "{asked:?}");
    assert!(asked[0].ends_with("/users/me"), "{asked:?}");
    assert_eq!(second.account.name, "Cliente X");
    assert_eq!(accounts.current(), Some(demo.clone()));
    assert!(signin::key_kept(&keychain, &demo).unwrap());
    assert!(signin::key_kept(&keychain, &client).unwrap());

    // Each engine on its own folder, with its own key.
    let folder = root.path().join("cliente");
    std::fs::create_dir(&folder).unwrap();
    let e = signin::open(&accounts, &keychain, &cfg, &client)
        .await
        .unwrap()
        .expect("its key is kept");
    assert_eq!(e.me().user.id, DEMO_CLIENT_ID);
    let r = e.resource(DEMO_CLIENT_PRIVATE_APP).unwrap();
    let got = download_latest(&e, &r, &folder).await.unwrap();
    let lib = e.library();
    assert_eq!(lib.entries.len(), 1);
    assert_eq!(lib.entries[0].account.as_deref(), Some(DEMO_CLIENT_ID));
    e.update_settings(|s| s.default_dest = Some(folder.clone()))
        .unwrap();
    drop(e);

    // Another account's folder is named; one's own is not.
    let users = accounts.folder_users(&folder, Some(&demo));
    assert_eq!(users.len(), 1);
    assert_eq!((&users[0].account.id, &users[0].resource), (&client, &None));
    assert!(
        users[0]
            .describe()
            .contains("Cliente X (527104883960201216)")
    );
    assert!(accounts.folder_users(&folder, Some(&client)).is_empty());

    // An entry written before accounts were told apart is the folder's account's.
    let demo_dir = accounts.dir(&demo);
    std::fs::write(
        demo_dir.join("library.json"),
        format!(
            r#"{{"entries":[{{"resource_id":"{APP}","resource_name":"Atlas Bot","version":null,"taken_at":"2026-12-01T03:00:00Z","size":3,"path":"/nowhere/a.zip","downloaded_at":"2026-12-01T03:01:00Z","verified_at":null}}]}}"#
        ),
    )
    .unwrap();
    let e = signin::open(&accounts, &keychain, &cfg, &demo)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(e.library().entries[0].account.as_deref(), Some(ACCOUNT));
    drop(e);

    // An item holding another account's key is refused, not used.
    keychain
        .slot(&Slot::Account(demo.clone()))
        .set(&key(squarecloud_sim::DEMO_CLIENT_KEY))
        .unwrap();
    let Err(signin::SignInError::Engine(err)) =
        signin::open(&accounts, &keychain, &cfg, &demo).await
    else {
        panic!("another account's key was used");
    };
    assert!(
        err.to_string().contains("holds a key of another account"),
        "{err}"
    );

    // Removed with its copies: its listed file goes, a file of the user's stays, and its
    // state and key go; the other account is untouched.
    let mine = folder.join("notes.txt");
    std::fs::write(&mine, "mine").unwrap();
    let removed = signin::remove_account(&accounts, &keychain, &client, true).unwrap();
    let report = removed.deleted.expect("copies were deleted");
    assert_eq!(report.deleted, vec![got.path.clone()]);
    assert!(!got.path.exists() && mine.exists());
    assert!(removed.state_removed && !accounts.dir(&client).exists());
    assert!(!signin::key_kept(&keychain, &client).unwrap());
    assert_eq!(removed.current, Some(demo.clone()));
    assert_eq!(accounts.known().len(), 1);
    assert!(demo_dir.join("library.json").exists());
}
