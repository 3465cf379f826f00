//! The engine's test helpers (shared with `crates/snapshots/tests`), and `sqsnap` run as a
//! process: only this crate's tests can name its binary.

#![allow(dead_code)]

#[path = "../../../snapshots/tests/common.rs"]
mod engine;

pub use engine::*;

use squarecloud_sim::Simulator;

/// `sqsnap` against `sim`, keeping its state in `data`, with `key` in the environment and
/// no standard input.
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
        .stdin(std::process::Stdio::null());
    c
}
