//! Downloads: a snapshot streamed to `<dir>/<name>.part`, resumed with `Range`, over several
//! connections when it is large, checked as an archive and renamed into place.
//!
//! The rooms, each using only those listed before it:
//! - `target`, `error`: what is asked, what is reported, and how it fails;
//! - `pacing`: rate limit, throughput floor, progress meter and connection ramp;
//! - `answer`: what each answer of the file host means for the download;
//! - `part`: the `.part` file and its sidecar; `writeback`: their early disk writes;
//! - `folder`: the destination folder and the room on its disk; `finish`: check and rename;
//! - `client`: the downloader, its settings and its retries;
//! - `single`, `segmented`: one stream, or parallel ranges;
//! - `fetch`: one snapshot from start to finish, choosing between the two.

mod answer;
mod client;
mod error;
mod fetch;
mod finish;
mod folder;
mod pacing;
mod part;
mod segmented;
mod single;
mod target;
pub mod writeback;

pub use self::client::{Downloader, IDLE_PER_HOST, SPLIT_MIN};
pub use self::error::{DownloadError, size_in};
pub use self::pacing::RateLimit;
pub use self::target::{DownloadTarget, Downloaded, Progress};
pub use crate::settings::{DEFAULT_CONNECTIONS, MAX_CONNECTIONS};
