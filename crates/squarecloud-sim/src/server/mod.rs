//! The HTTP side, room by room: the API's routes (`api`; `commit` and `upload` for the
//! routes that take a zip; `workspaces`) behind their gate (`gate`), who may do what with a
//! resource (`access`), the
//! control API (`control`), the file host (`files`) and its body stream (`stream`), the
//! injected faults as each host applies them (`injected`), the answers' shapes (`respond`)
//! and what is remembered between requests (`state`).

mod access;
mod api;
mod commit;
mod control;
mod files;
mod gate;
mod injected;
mod respond;
mod state;
mod stream;
mod upload;
mod workspaces;

pub(crate) use api::api_router;
pub(crate) use files::files_router;
pub use state::RecordedRequest;
pub(crate) use state::{Kind, Shared, State0, in_window};
