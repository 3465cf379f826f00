//! Plans: backups that run themselves. A *mirror* plan downloads every server snapshot not
//! on disk yet (Square Cloud makes an automatic one of each resource daily): it costs no
//! quota. A *snapshot* plan takes a new snapshot and downloads it: it spends quota, through
//! the same queue, pacer and lock as a click.
//!
//! A plan runs at most once per period (this hour, this day from 03:00, ...). The period
//! is claimed in `plans.json` under the data dir's lock before anything is sent, so two
//! processes (the tray app and `sqsnap run-due` from a timer) never both run it, and a
//! machine that was off runs each plan once when it comes back, not once per missed period.
//! A run killed half way is resumed by the next `run_due`, with only the resources it had
//! not finished.
//!
//! The room: the model (`model.rs`), the strip of days (`days.rs`), the stale-plan rule
//! (`stale.rs`), and the runner that claims and runs due plans (`runner/`).

mod days;
mod model;
mod runner;
mod stale;

pub use super::library::Retention;
pub use days::Day;
pub use model::{
    InProgress, InvalidPlan, Keeps, MAX_HOURS, OffsiteNote, PLANS, Plan, PlanError, PlanKind,
    PlanState, Plans, RunRecord, Schedule, Scope,
};
pub use runner::{OffsiteRun, PlanRun};
pub(super) use runner::{PlanStore, Runner};
pub use stale::{STALE_AFTER_DAYS, StalePlan};
