//! Downloads the app started and has not finished, kept in the account's state dir: quitting
//! the app or logging out in the middle leaves the `.part` and this record, and the next start
//! goes on from there. Only an engine that asks for it keeps the record (the app; `sqsnap`
//! resumes by running the same command again). A download the user stops is forgotten by
//! the caller; one that failed for good is forgotten here.

use crate::engine::types::EngineError;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use std::path::PathBuf;

/// The state file.
pub const UNFINISHED: &str = "unfinished.json";

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Unfinished {
    #[serde(default)]
    pub downloads: Vec<UnfinishedDownload>,
}

/// One download to go on with: which snapshot, into which folder.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UnfinishedDownload {
    pub resource_id: String,
    pub version: String,
    pub dir: PathBuf,
    pub since: DateTime<Utc>,
}

impl Unfinished {
    /// Records a download (once per snapshot and folder).
    pub fn start(&mut self, d: UnfinishedDownload) {
        self.end(&d.resource_id, &d.version, &d.dir);
        self.downloads.push(d);
    }

    pub fn end(&mut self, resource_id: &str, version: &str, dir: &std::path::Path) {
        self.downloads
            .retain(|d| !(d.resource_id == resource_id && d.version == version && d.dir == dir));
    }
}

/// Whether a download that ended with `e` is worth going on with at the next start: it was
/// stopped (a quit, a logout), or met something that passes (the network, a rate block, a key
/// to enter again). Anything else is said once and forgotten.
pub fn worth_resuming(e: &EngineError) -> bool {
    matches!(e.code(), "cancelled" | "network" | "rate_limited" | "auth")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_download_is_recorded_once_and_forgotten_when_it_ends() {
        let d = |v: &str| UnfinishedDownload {
            resource_id: "r1".into(),
            version: v.into(),
            dir: "/b".into(),
            since: Utc::now(),
        };
        let mut u = Unfinished::default();
        u.start(d("v1"));
        u.start(d("v1"));
        u.start(d("v2"));
        assert_eq!(u.downloads.len(), 2);
        u.end("r1", "v1", std::path::Path::new("/b"));
        let left: Vec<&str> = u.downloads.iter().map(|d| d.version.as_str()).collect();
        assert_eq!(left, ["v2"]);
        assert!(worth_resuming(&EngineError::Cancelled));
        assert!(!worth_resuming(&EngineError::NoSnapshot("bot".into())));
    }
}
