//! What a download is asked to fetch, what it reports while it runs, and what it leaves.

use crate::verify::Verified;
use serde::Serialize;
use std::path::PathBuf;

/// Cumulative progress, reported a few times a second.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Progress {
    pub bytes: u64,
    pub total: Option<u64>,
    pub bytes_per_sec: f64,
    pub eta_secs: Option<f64>,
}

/// What to fetch and where.
#[derive(Debug, Clone)]
pub struct DownloadTarget {
    pub url: String,
    pub dir: PathBuf,
    pub file_name: String,
    /// The size the list reported, when known.
    pub expected_size: Option<u64>,
    /// Without an expected size, the most that may arrive: past it the download stops and
    /// its `.part` is deleted.
    pub max_size: Option<u64>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Downloaded {
    pub path: PathBuf,
    pub size: u64,
    pub verified: Verified,
    /// Bytes that were already on disk in a `.part` from an earlier attempt.
    pub resumed_from: u64,
    /// The file was already there, complete; nothing was fetched.
    pub already_present: bool,
}
