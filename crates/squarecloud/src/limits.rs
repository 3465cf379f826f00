//! The service's documented limits, in one place, each with its source
//! (`shared/squarecloud-api.md`). The engine paces itself by them; the simulator enforces
//! them by default and may override them to inject faults.

use serde::{Deserialize, Serialize};
use std::time::Duration;

/// From when the server counts a create's windows. Not documented: the simulator can play
/// either, and the engine learns which one it meets.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum WindowRule {
    /// From when the create arrives.
    #[default]
    Arrival,
    /// From when the create is answered: a create arriving while another one of the account
    /// is still being prepared is refused too.
    Answer,
}

/// One create per account per this long (docs, every SDK).
pub const ACCOUNT_CREATE_GAP: Duration = Duration::from_secs(5);

/// One create per resource per this long: 180 s in the newest SDKs (`squarecloud-api`
/// 5.0.0 README and `types.py`, sdk-js `snapshots.ts`, api-types); the older create page
/// says 60 s. The longer one is the safe reading.
pub const RESOURCE_CREATE_GAP: Duration = Duration::from_secs(180);

/// The daily quota is counted over a rolling window of this length.
pub const QUOTA_WINDOW: Duration = Duration::from_secs(24 * 3600);

/// One restore per resource per this long.
pub const RESTORE_GAP: Duration = Duration::from_secs(60);

/// The server holds a restore call about 60 s; clients give it at least 120 s (sdk-py 5.0.0).
pub const RESTORE_TIMEOUT: Duration = Duration::from_secs(150);

/// One commit (`POST /apps/{id}/commit`) per application per this long (docs-repo route
/// descriptions, sdk-js JSDoc: "1 request / 3 s"; shared/squarecloud-api.md §6.2).
pub const COMMIT_GAP: Duration = Duration::from_secs(3);

/// One upload that creates an application (`POST /apps`) per account per this long (docs-repo
/// route descriptions: "1 request / 3 s"; shared/squarecloud-api.md §6.2).
pub const UPLOAD_GAP: Duration = Duration::from_secs(3);

/// The most an upload or a commit may carry: 100 MB (docs: "≤ 100 MB"; a larger one is
/// refused with 413 `FILE_TOO_LARGE`). Decimal megabytes: the safe reading of "100 MB".
pub const UPLOAD_MAX_BYTES: u64 = 100_000_000;

/// A create past this soft deadline answers 202 `SNAPSHOT_PROCESSING` (docs).
pub const CREATE_SOFT_DEADLINE: Duration = Duration::from_secs(90);

/// How long a `RATE_LIMITED` block lasts ("wait 30 minutes", limitations page).
pub const RATE_BLOCK: Duration = Duration::from_secs(30 * 60);

/// Calls from outside Square Cloud are capped at this many a minute whatever the plan.
pub const EXTERNAL_PER_MINUTE_CAP: u32 = 300;

/// Requests a minute the account's plan allows (limitations page, 2025-07): hobby 60,
/// standard 120/180/240, pro 300, enterprise 15 per GB up to 64 GB and 12.5 per GB above;
/// capped at [`EXTERNAL_PER_MINUTE_CAP`] for calls from outside Square Cloud, as ours are.
/// Unknown plans get the lowest figure.
pub fn requests_per_minute(plan_name: &str, memory_mb: u64) -> u32 {
    let plan = plan_name.to_ascii_lowercase();
    let gb = memory_mb / 1024;
    let per_plan = if plan.starts_with("hobby") || plan == "free" {
        60
    } else if plan.starts_with("standard") {
        match gb {
            0..=4 => 120,
            5..=6 => 180,
            _ => 240,
        }
    } else if plan.starts_with("pro") {
        300
    } else if plan.starts_with("enterprise") {
        if gb <= 64 {
            (gb * 15) as u32
        } else {
            (gb * 25 / 2) as u32
        }
    } else {
        60
    };
    per_plan.clamp(1, EXTERNAL_PER_MINUTE_CAP)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn per_minute_follows_the_plan_and_the_external_cap() {
        assert_eq!(requests_per_minute("hobby-2", 2048), 60);
        assert_eq!(requests_per_minute("standard-4", 4096), 120);
        assert_eq!(requests_per_minute("standard-6", 6144), 180);
        assert_eq!(requests_per_minute("standard-8", 8192), 240);
        assert_eq!(requests_per_minute("pro-16", 16384), 300);
        assert_eq!(requests_per_minute("enterprise-32", 32768), 300);
        assert_eq!(requests_per_minute("something-new", 1 << 20), 60);
    }
}
