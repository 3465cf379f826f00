//! The engine's test helpers (shared with `crates/snapshots/tests`), and `sqsnap` run as a
//! process: only this crate's tests can name its binary.

#![allow(dead_code)]

#[path = "../../../snapshots/tests/common.rs"]
mod engine;

pub use engine::*;

use squarecloud_sim::Simulator;

/// Where `sqsnap`, given the data dir `data`, keeps the state of `sim`'s account.
pub fn account_dir(sim: &Simulator, data: &std::path::Path) -> std::path::PathBuf {
    data.join("accounts").join(&sim.config().account.id)
}

/// A simulator, and an engine on the account state `sqsnap` finds with the data dir
/// `tempdir/data`.
pub async fn start(
    config: squarecloud_sim::SimConfig,
) -> (Simulator, snapshots::Engine, tempfile::TempDir) {
    start_with(config, |_| {}).await
}

/// [`start`], the engine's limits adjusted by `f`.
pub async fn start_with(
    config: squarecloud_sim::SimConfig,
    f: impl FnOnce(&mut snapshots::Limits),
) -> (Simulator, snapshots::Engine, tempfile::TempDir) {
    engine::start_in(config, account_dir, f).await
}

/// An engine on the same account state as `sqsnap` with the data dir `data`.
pub async fn engine_on(
    sim: &Simulator,
    data: &std::path::Path,
    f: impl FnOnce(&mut snapshots::Limits),
) -> snapshots::Engine {
    engine::engine_on(sim, &account_dir(sim, data), f).await
}

/// `sqsnap` against `sim`, keeping its state in `data`, with `key` in the environment and
/// no standard input; in English (`LC_ALL=C`) whatever the machine's locale, since the
/// tests read its words (`tests/language.rs` sets another).
pub fn sqsnap(
    sim: &Simulator,
    data: &std::path::Path,
    key: &str,
    args: &[&str],
) -> std::process::Command {
    let mut c = std::process::Command::new(env!("CARGO_BIN_EXE_sqsnap"));
    c.args(args)
        .env("SQUARECLOUD_API_URL", sim.api_url())
        .env("SQUARECLOUD_API_KEY", key)
        .env("SQSNAP_DATA_DIR", data)
        .env("LC_ALL", "C")
        .stdin(std::process::Stdio::null());
    c
}
