//! `sqsnap` beside the engine against the simulator: the tests of the engine's suites
//! (`crates/snapshots/tests/`) that also run the binary, which only this crate can name.

#[path = "../common/mod.rs"]
mod common;
mod list;
mod plans;
mod put_back;
mod ranged;
mod restore;
mod trust2;
