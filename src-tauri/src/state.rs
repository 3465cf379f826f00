//! The one managed state of the app: the engine (once signed in), where the key lives,
//! and the engine's demo when running with `--demo`.

#[cfg(feature = "demo")]
use snapshots::secret::MemoryStore;
use snapshots::secret::{KeyringStore, SecretStore};
use snapshots::{Engine, EngineConfig, default_data_dir};
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use tokio::sync::Mutex;
use tokio_util::sync::CancellationToken;

pub struct AppState {
    pub engine: Mutex<Option<Arc<Engine>>>,
    pub secrets: Box<dyn SecretStore>,
    /// The demo account's simulator (`--demo`), running as long as the app.
    #[cfg(feature = "demo")]
    pub demo: Option<snapshots::demo::Demo>,
    pub api_url: String,
    pub data_dir: PathBuf,
    /// Cancels everything in flight (sign out, quit).
    pub cancel: std::sync::Mutex<CancellationToken>,
    /// The "close to tray" setting, kept here so that closing the window never waits for
    /// the engine (which a slow sign-in may hold for tens of seconds).
    close_to_tray: AtomicBool,
}

impl AppState {
    /// Real mode: the OS keychain and Square Cloud's API (or `SQUARECLOUD_API_URL`).
    pub fn real() -> Self {
        Self {
            engine: Mutex::new(None),
            secrets: Box::new(KeyringStore::default()),
            #[cfg(feature = "demo")]
            demo: None,
            api_url: std::env::var("SQUARECLOUD_API_URL")
                .unwrap_or_else(|_| squarecloud::DEFAULT_API_URL.into()),
            data_dir: default_data_dir(),
            cancel: std::sync::Mutex::new(CancellationToken::new()),
            close_to_tray: AtomicBool::new(true),
        }
    }

    /// Demo mode: the engine's demo in-process, the key in memory only.
    /// `resources`: the demo account grown (or cut) to that many (`--demo-resources N`).
    #[cfg(feature = "demo")]
    pub async fn demo(resources: Option<usize>) -> std::io::Result<Self> {
        let demo = snapshots::demo::Demo::start(resources).await?;
        Ok(Self {
            engine: Mutex::new(None),
            secrets: Box::new(MemoryStore::default()),
            api_url: demo.api_url(),
            data_dir: snapshots::demo::data_dir(),
            demo: Some(demo),
            cancel: std::sync::Mutex::new(CancellationToken::new()),
            close_to_tray: AtomicBool::new(true),
        })
    }

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
        let state = AppState::real();
        state.remember_close_to_tray(false);
        let _held = state.engine.lock().await;
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
}
