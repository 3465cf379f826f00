//! Who may do what with a resource. Each key opens one account; an account reaches its own
//! resources, and the applications shared in a workspace it owns or is a member of. What a
//! member may do with a shared application follows its group (crate::workspace says which
//! rules are confirmed and which inferred): every group may read it, `owner` and `admin`
//! may create and restore its snapshots, `maintain` may also commit; a refused group gets
//! 403 `PERMISSION_DENIED`. Databases are not shared. A resource the account cannot reach
//! answers as one that does not exist (404).

use super::respond::envelope_err;
use super::state::{Kind, Shared, State0};
use crate::workspace::{WorkspaceGroup, WorkspaceSpec};
use axum::http::StatusCode;
use axum::response::Response;

/// The account whose key a request carries (its index in the config's accounts), put in the
/// request's extensions by the gate.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Caller(pub(crate) usize);

/// What a request does with a resource.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Right {
    /// Info, status, the snapshot list.
    Read,
    /// Create or restore a snapshot.
    Snapshot,
    /// Commit files.
    Commit,
}

/// How an account reaches a resource.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Reach {
    Own,
    Shared(WorkspaceGroup),
}

/// The workspaces an account owns or is a member of, in the config's order.
pub(crate) fn workspaces_of(shared: &Shared, caller: usize) -> Vec<&WorkspaceSpec> {
    let me = &shared.config.account_at(caller).id;
    shared
        .config
        .workspaces
        .iter()
        .filter(|w| w.has(me))
        .collect()
}

fn reach(
    shared: &Shared,
    st: &State0,
    caller: usize,
    kind: Kind,
    id: &str,
) -> Option<(usize, Reach)> {
    let i = st
        .resources
        .iter()
        .position(|r| r.kind == kind && r.spec.id == id)?;
    if st.resources[i].owner == caller {
        return Some((i, Reach::Own));
    }
    if kind != Kind::App {
        return None;
    }
    let me = &shared.config.account_at(caller).id;
    shared
        .config
        .workspaces
        .iter()
        .filter(|w| w.applications.iter().any(|a| a == id))
        .filter_map(|w| w.group_of(me))
        .max()
        .map(|g| (i, Reach::Shared(g)))
}

/// Why a request may not use a resource: the status and the code to answer with.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Refused(StatusCode, &'static str);

impl Refused {
    /// The error envelope.
    pub(crate) fn answer(self) -> Response {
        envelope_err(self.0, self.1)
    }
}

/// The index of the resource `caller` may use for `right`, or the refusal: 404 (the kind's
/// not-found code) for one it cannot reach, 403 `PERMISSION_DENIED` for one its group may
/// not do this with.
pub(crate) fn allowed(
    shared: &Shared,
    st: &State0,
    caller: usize,
    kind: Kind,
    id: &str,
    right: Right,
) -> Result<usize, Refused> {
    let Some((i, how)) = reach(shared, st, caller, kind, id) else {
        return Err(Refused(StatusCode::NOT_FOUND, kind.not_found()));
    };
    let ok = match (how, right) {
        (Reach::Own, _) | (_, Right::Read) => true,
        (Reach::Shared(g), Right::Snapshot) => g.may_snapshot(),
        (Reach::Shared(g), Right::Commit) => g.may_commit(),
    };
    if ok {
        Ok(i)
    } else {
        Err(Refused(StatusCode::FORBIDDEN, "PERMISSION_DENIED"))
    }
}
