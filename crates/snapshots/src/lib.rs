//! The Square Snapshots engine: quota, a rate-limit-aware snapshot queue, resumable verified
//! downloads, the local library, settings and the secret store. No GUI: the desktop app and
//! the `sqsnap` CLI both drive it.

pub mod accounts;
mod calls;
pub(crate) mod claim;
#[cfg(feature = "demo")]
pub mod demo;
pub mod destination;
pub mod download;
pub mod engine;
pub mod lang;
pub mod ledger;
pub mod metered;
pub mod names;
pub mod offsite;
pub mod overview;
pub mod ownfile;
pub mod pacer;
pub mod restore;
pub mod seal;
pub mod secret;
pub mod settings;
pub mod signin;
pub mod statedir;
pub mod store;
pub mod verify;
pub use download::writeback;

pub use engine::{
    Engine, EngineConfig, EngineError, Event, EventSink, JobOutcome, JobResult, NewAppPlan,
    OffsiteCopy, PutBack, PutBackOptions, PutBackPlan, ResourceRef, SnapshotOptions, WorkspaceRef,
    default_data_dir,
};
pub use engine::{library, plans};
pub use pacer::{Limits, ServerWindows, WaitReason};
pub use squarecloud;
