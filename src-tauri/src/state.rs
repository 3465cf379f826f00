//! The one managed state of the app: an engine per signed-in account (the window shows the
//! current one), where the keys live, and the engine's demo when running with `--demo`.

use crate::error::UiError;
use snapshots::accounts::Accounts;
#[cfg(feature = "demo")]
use snapshots::secret::MemoryKeychain;
use snapshots::secret::{Keychain, OsKeychain};
use snapshots::{Engine, EngineConfig, default_data_dir};
use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use tokio::sync::Mutex;
use tokio_util::sync::CancellationToken;

/// The engines of the accounts signed in during this run, by account, and which one the
/// window shows.
#[derive(Default)]
pub struct Engines {
    /// Account ids, as each engine's `/users/me` gave them.
    current: Option<String>,
    by_account: HashMap<String, Arc<Engine>>,
}

impl Engines {
    /// The engine of the account the window shows.
    pub fn current(&self) -> Option<&Arc<Engine>> {
        self.by_account.get(self.current.as_ref()?)
    }

    /// Keeps the engine of its account and makes that account the current one.
    pub fn insert(&mut self, engine: Arc<Engine>) -> Arc<Engine> {
        let id = engine.me().user.id;
        self.current = Some(id.clone());
        self.by_account.insert(id, engine.clone());
        engine
    }

    /// Every signed-in account's engine.
    pub fn all(&self) -> Vec<Arc<Engine>> {
        self.by_account.values().cloned().collect()
    }

    /// Drops the current account's engine (sign-out); the others stay.
    pub fn remove_current(&mut self) {
        if let Some(id) = self.current.take() {
            self.by_account.remove(&id);
        }
    }

    /// The engine of the account `id`, when it is signed in in this run.
    pub fn get(&self, id: &str) -> Option<&Arc<Engine>> {
        self.by_account.get(id)
    }

    /// Keeps the engine of its account; which account the window shows does not change
    /// (unless none was).
    pub fn add(&mut self, engine: Arc<Engine>) -> Arc<Engine> {
        let id = engine.me().user.id;
        if self.current.is_none() {
            self.current = Some(id.clone());
        }
        self.by_account.entry(id).or_insert(engine).clone()
    }

    /// The window shows the account `id` (its engine kept already): false when it is not.
    pub fn show(&mut self, id: &str) -> bool {
        let known = self.by_account.contains_key(id);
        if known {
            self.current = Some(id.to_string());
        }
        known
    }

    /// Drops the engine of the account `id` (removed from this computer).
    pub fn remove(&mut self, id: &str) {
        self.by_account.remove(id);
        if self.current.as_deref() == Some(id) {
            self.current = None;
        }
    }
}

/// When this run of the app began, for the log's launch times (a slow start reported by a
/// user, and `make bench`'s launch rows), and whether the first list was said yet.
pub struct Launch {
    pub at: std::time::Instant,
    pub list_said: AtomicBool,
}

impl Launch {
    pub fn now() -> Self {
        Self {
            at: std::time::Instant::now(),
            list_said: AtomicBool::new(false),
        }
    }
}

pub struct AppState {
    pub engines: Mutex<Engines>,
    pub launch: Launch,
    /// Every account's key, one keychain item each (shared with the engines, which keep
    /// the account's encryption key there).
    pub keychain: Arc<dyn Keychain>,
    /// The data dir's accounts: which are known, which is signed in, their folders.
    pub accounts: Accounts,
    /// The demo account's simulator (`--demo`), running as long as the app.
    #[cfg(feature = "demo")]
    pub demo: Option<snapshots::demo::Demo>,
    pub api_url: String,
    /// The data dir: `accounts.json`, and a folder per account under `accounts/`.
    pub data_dir: PathBuf,
    /// Cancels everything in flight (sign out, quit).
    pub cancel: std::sync::Mutex<CancellationToken>,
    /// The "close to tray" setting, kept here so that closing the window never waits for
    /// the engine (which a slow sign-in may hold for tens of seconds).
    close_to_tray: AtomicBool,
    /// Why accounts could not be signed in in the background, kept so that each refresh
    /// of the menu or of "All accounts" does not ask the server again.
    pub open_failures: OpenFailures,
}

/// An account's failed sign-in, kept until it is worth trying again: a refused key until
/// the keychain holds another key for it; any other failure (the server unreachable, an
/// error of its) for [`OpenFailures::RETRY`], or until the key changes.
#[derive(Default)]
pub struct OpenFailures(std::sync::Mutex<HashMap<String, Failed>>);

struct Failed {
    key: squarecloud::ApiKey,
    at: std::time::Instant,
    error: UiError,
}

impl OpenFailures {
    pub const RETRY: std::time::Duration = std::time::Duration::from_secs(60);

    /// The failure kept for `id` when it still stands for this key.
    pub fn standing(&self, id: &str, key: &squarecloud::ApiKey) -> Option<UiError> {
        let map = self.0.lock().unwrap_or_else(|e| e.into_inner());
        let f = map.get(id)?;
        let stands = &f.key == key && (f.error.code == "auth" || f.at.elapsed() < Self::RETRY);
        stands.then(|| f.error.clone())
    }

    pub fn keep(&self, id: &str, key: squarecloud::ApiKey, error: UiError) {
        let failed = Failed {
            key,
            at: std::time::Instant::now(),
            error,
        };
        let mut map = self.0.lock().unwrap_or_else(|e| e.into_inner());
        map.insert(id.to_string(), failed);
    }

    pub fn forget(&self, id: &str) {
        self.0.lock().unwrap_or_else(|e| e.into_inner()).remove(id);
    }
}

fn accounts_of(dir: &std::path::Path) -> Accounts {
    Accounts::open(dir).unwrap_or_else(|e| {
        eprintln!(
            "square-snapshots: cannot open the data folder {}: {e}",
            dir.display()
        );
        std::process::exit(1);
    })
}

impl AppState {
    /// Real mode: the OS keychain and Square Cloud's API (or `SQUARECLOUD_API_URL`).
    pub fn real() -> Self {
        Self::real_at(default_data_dir())
    }

    /// [`AppState::real`] with its data in `data_dir`.
    pub fn real_at(data_dir: PathBuf) -> Self {
        Self {
            engines: Mutex::new(Engines::default()),
            launch: Launch::now(),
            keychain: Arc::new(OsKeychain::default()),
            accounts: accounts_of(&data_dir),
            #[cfg(feature = "demo")]
            demo: None,
            api_url: std::env::var("SQUARECLOUD_API_URL")
                .unwrap_or_else(|_| squarecloud::DEFAULT_API_URL.into()),
            data_dir,
            cancel: std::sync::Mutex::new(CancellationToken::new()),
            close_to_tray: AtomicBool::new(true),
            open_failures: OpenFailures::default(),
        }
    }

    /// Demo mode: the engine's demo in-process, the key in memory only.
    /// `resources`: the demo account grown (or cut) to that many (`--demo-resources N`).
    #[cfg(feature = "demo")]
    pub async fn demo(resources: Option<usize>) -> std::io::Result<Self> {
        let demo = snapshots::demo::Demo::start_with_workspaces(resources).await?;
        let data_dir = snapshots::demo::data_dir();
        Ok(Self {
            engines: Mutex::new(Engines::default()),
            launch: Launch::now(),
            keychain: Arc::new(MemoryKeychain::default()),
            accounts: Accounts::open(&data_dir)?,
            api_url: demo.api_url(),
            data_dir,
            demo: Some(demo),
            cancel: std::sync::Mutex::new(CancellationToken::new()),
            close_to_tray: AtomicBool::new(true),
            open_failures: OpenFailures::default(),
        })
    }

    /// This run began at `launch` (before the state was made: the demo's simulator starts
    /// first).
    pub fn launched(mut self, launch: Launch) -> Self {
        self.launch = launch;
        self
    }

    /// The engine of the account the window shows.
    pub async fn engine(&self) -> Option<Arc<Engine>> {
        self.engines.lock().await.current().cloned()
    }

    /// The engine of the account `account` (a row of "All accounts" says whose it is), or
    /// of the account the window shows when none is named.
    pub async fn engine_for(&self, account: Option<&str>) -> Option<Arc<Engine>> {
        let engines = self.engines.lock().await;
        match account {
            Some(id) => engines.get(id).cloned(),
            None => engines.current().cloned(),
        }
    }

    /// What a resource of `e`'s account is called where more than one account is known:
    /// "name (account)", so that a notification or a line never leaves the account to be
    /// guessed; the name alone with one account. The accounts file is read once, here, not
    /// once per name: a sink names every resource of the account, on the async runtime.
    pub fn namer(&self, e: &Engine) -> impl Fn(&str) -> String + use<> {
        let label = self.account_label(e);
        move |name| match &label {
            Some(a) => format!("{name} ({a})"),
            None => name.to_string(),
        }
    }

    /// The name this computer shows for `e`'s account, when it knows more than one.
    pub fn account_label(&self, e: &Engine) -> Option<String> {
        let known = self.accounts.known();
        if known.len() < 2 {
            return None;
        }
        let id = e.me().user.id;
        let shown = known
            .iter()
            .find(|k| k.id.as_str() == id)
            .map(|k| k.shown().to_string())
            .unwrap_or(e.me().user.name);
        Some(snapshots::names::printable(&shown))
    }

    /// Every account's plans file (and the one of a release before accounts, not moved
    /// yet): what decides whether the app stays in the background.
    pub fn plans_files(&self) -> Vec<PathBuf> {
        let mut files: Vec<PathBuf> = self
            .accounts
            .known()
            .iter()
            .map(|k| self.accounts.dir(&k.id).join(snapshots::plans::PLANS))
            .collect();
        files.push(self.data_dir.join(snapshots::plans::PLANS));
        files
    }

    /// The engine's configuration; its data dir is the account's, set on sign-in.
    pub fn engine_config(&self) -> EngineConfig {
        #[cfg(feature = "demo")]
        if let Some(demo) = &self.demo {
            return demo.engine_config(self.data_dir.clone());
        }
        EngineConfig::new(self.api_url.clone(), self.data_dir.clone())
    }

    /// Whether this is the demo account (the window says so).
    pub fn is_demo(&self) -> bool {
        #[cfg(feature = "demo")]
        let demo = self.demo.is_some();
        #[cfg(not(feature = "demo"))]
        let demo = false;
        demo
    }

    /// Whether closing the window hides it to the tray: answers at once, whatever the engine
    /// is doing.
    pub fn close_to_tray(&self) -> bool {
        self.close_to_tray.load(Ordering::Relaxed)
    }

    pub fn remember_close_to_tray(&self, v: bool) {
        self.close_to_tray.store(v, Ordering::Relaxed);
    }

    /// An engine's account and its state dir (`offsite.json`, the library): the account's
    /// folder of the data dir.
    pub fn account_state(
        &self,
        e: &Engine,
    ) -> Result<
        (
            snapshots::accounts::AccountId,
            snapshots::statedir::StateDir,
        ),
        UiError,
    > {
        let id = snapshots::accounts::AccountId::new(e.me().user.id)
            .map_err(|_| UiError::not_signed_in())?;
        let dir = self.accounts.dir(&id);
        let st = snapshots::statedir::StateDir::open(&dir).map_err(|err| {
            UiError::new("state", format!("Could not read {}: {err}", dir.display()))
        })?;
        Ok((id, st))
    }

    pub fn cancel_token(&self) -> CancellationToken {
        self.cancel
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// Cancels what is running and hands out a fresh token for what comes next.
    pub fn cancel_all(&self) {
        let mut t = self.cancel.lock().unwrap_or_else(|e| e.into_inner());
        t.cancel();
        *t = CancellationToken::new();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Closing the window while a sign-in holds the engine slot answers at once.
    #[tokio::test]
    async fn close_to_tray_never_waits_for_the_engine() {
        let dir = tempfile::tempdir().unwrap();
        let state = AppState::real_at(dir.path().to_path_buf());
        state.remember_close_to_tray(false);
        let _held = state.engines.lock().await;
        let (tx, rx) = std::sync::mpsc::channel();
        let s = &state;
        std::thread::scope(|scope| {
            scope.spawn(move || tx.send(s.close_to_tray()).unwrap());
        });
        assert_eq!(
            rx.recv_timeout(std::time::Duration::from_millis(200)),
            Ok(false)
        );
    }

    #[test]
    fn a_refused_key_is_not_tried_again_until_another_key_and_other_failures_for_a_minute() {
        let f = OpenFailures::default();
        let key = |k: &str| squarecloud::ApiKey::new(k).unwrap();
        f.keep("1", key("1-a"), UiError::new("auth", "refused"));
        f.keep("2", key("2-a"), UiError::new("network", "unreachable"));
        assert_eq!(f.standing("1", &key("1-a")).unwrap().code, "auth");
        assert!(
            f.standing("1", &key("1-b")).is_none(),
            "another key is tried"
        );
        assert_eq!(f.standing("2", &key("2-a")).unwrap().code, "network");
        assert!(f.standing("3", &key("2-a")).is_none());
        // A minute later the unreachable server is asked again; the refused key still not.
        for failed in f.0.lock().unwrap().values_mut() {
            failed.at = std::time::Instant::now() - OpenFailures::RETRY;
        }
        assert!(f.standing("2", &key("2-a")).is_none());
        assert!(f.standing("1", &key("1-a")).is_some());
        f.forget("1");
        assert!(f.standing("1", &key("1-a")).is_none());
    }
}
