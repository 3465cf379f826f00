//! Workspaces: an account shares some of its applications with other accounts, each member
//! in a group that says what it may do with them.
//!
//! What is confirmed and what is inferred (shared/squarecloud-api.md §4.6 and §10):
//! - **Confirmed**: `GET /v2/workspaces`, `GET /v2/workspaces/{id}` answering
//!   `{id, name, owner, members[{id,name,group,joinedAt}], applications[{id,name,desc,ram,lang,
//!   domain,custom}], createdAt}`, `GET /v2/apps/status?workspaceId=`, the groups
//!   `owner admin maintain manager view`, that an admin may "perform snapshots", and the code
//!   `WORKSPACE_NOT_FOUND`. api-types (`payloads/v2/workspace.ts`) adds: the list is an array of
//!   that same shape, a member's `name` may be `null`, an application's `desc` is always there
//!   (maybe `null`), the owner is listed among the members with the workspace's creation time
//!   as `joinedAt`, and `maintain` "adds operational access (commit, ...)".
//! - **Inferred**: there is no workspace-level snapshot route, so a member reaches a shared
//!   application through the per-application routes; only `owner` and `admin` may create or
//!   restore its snapshots; `owner`, `admin` and `maintain` may commit to it; every group
//!   may read it (info, status, snapshot list); a refused group gets 403
//!   `PERMISSION_DENIED`; an application the account cannot reach is 404 `APP_NOT_FOUND`,
//!   as one that does not exist; a member's create spends the asking account's daily quota
//!   and account window (and the application's own window).

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// A member's group, weakest first (so the strongest of several is the `max`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum WorkspaceGroup {
    /// Read only.
    View,
    /// Monitoring and start/stop (api-types).
    Manager,
    /// Operational access: commits, files (api-types).
    Maintain,
    /// Full management, snapshots included (the docs).
    Admin,
    /// The workspace's owner.
    Owner,
}

impl WorkspaceGroup {
    /// The name the API sends.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::View => "view",
            Self::Manager => "manager",
            Self::Maintain => "maintain",
            Self::Admin => "admin",
            Self::Owner => "owner",
        }
    }

    /// May create and restore a shared application's snapshots: the client's rule
    /// ([`squarecloud::WorkspaceGroup::may_snapshot`]), so the two never disagree.
    pub fn may_snapshot(self) -> bool {
        squarecloud::WorkspaceGroup::from(self).may_snapshot()
    }

    /// May commit to a shared application: the client's rule
    /// ([`squarecloud::WorkspaceGroup::may_commit`]).
    pub fn may_commit(self) -> bool {
        squarecloud::WorkspaceGroup::from(self).may_commit()
    }
}

impl From<WorkspaceGroup> for squarecloud::WorkspaceGroup {
    fn from(g: WorkspaceGroup) -> Self {
        match g {
            WorkspaceGroup::View => Self::View,
            WorkspaceGroup::Manager => Self::Manager,
            WorkspaceGroup::Maintain => Self::Maintain,
            WorkspaceGroup::Admin => Self::Admin,
            WorkspaceGroup::Owner => Self::Owner,
        }
    }
}

/// One member of a workspace.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MemberSpec {
    /// The member's account (user) id; an account of the simulator to make calls as it.
    pub id: String,
    /// Display name; `null` when it cannot be resolved (a deleted account, api-types).
    #[serde(default)]
    pub name: Option<String>,
    pub group: WorkspaceGroup,
    #[serde(rename = "joinedAt", alias = "joined_at")]
    pub joined_at: DateTime<Utc>,
}

/// A workspace, as `--data FILE` describes it (JSON) or [`WorkspaceSpec::new`] builds it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WorkspaceSpec {
    /// 32 hex characters.
    pub id: String,
    pub name: String,
    /// The owning account's id (an account of the simulator). Listed among the members as
    /// `owner` whether or not `members` names it.
    pub owner: String,
    #[serde(default)]
    pub members: Vec<MemberSpec>,
    /// Ids of the applications shared in it, each one of an account of the simulator.
    #[serde(default)]
    pub applications: Vec<String>,
    #[serde(rename = "createdAt", alias = "created_at")]
    pub created_at: DateTime<Utc>,
}

impl WorkspaceSpec {
    /// A workspace with no members and nothing shared yet.
    pub fn new(
        id: impl Into<String>,
        name: impl Into<String>,
        owner: impl Into<String>,
        created_at: DateTime<Utc>,
    ) -> Self {
        Self {
            id: id.into(),
            name: name.into(),
            owner: owner.into(),
            members: Vec::new(),
            applications: Vec::new(),
            created_at,
        }
    }

    /// Adds a member.
    pub fn member(
        mut self,
        id: impl Into<String>,
        name: impl Into<String>,
        group: WorkspaceGroup,
        joined_at: DateTime<Utc>,
    ) -> Self {
        self.members.push(MemberSpec {
            id: id.into(),
            name: Some(name.into()),
            group,
            joined_at,
        });
        self
    }

    /// Shares an application in it.
    pub fn share(mut self, app_id: impl Into<String>) -> Self {
        self.applications.push(app_id.into());
        self
    }

    /// The group of an account in this workspace: `owner` for its owner, else its member's
    /// group (the strongest, should it be listed twice); none for an outsider.
    pub fn group_of(&self, account_id: &str) -> Option<WorkspaceGroup> {
        if self.owner == account_id {
            return Some(WorkspaceGroup::Owner);
        }
        self.members
            .iter()
            .filter(|m| m.id == account_id)
            .map(|m| m.group)
            .max()
    }

    /// Whether an account owns it or is a member.
    pub fn has(&self, account_id: &str) -> bool {
        self.group_of(account_id).is_some()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn groups_rank_and_rights() {
        use WorkspaceGroup::*;
        assert!(Owner.may_snapshot() && Admin.may_snapshot());
        assert!(!Maintain.may_snapshot() && !Manager.may_snapshot() && !View.may_snapshot());
        assert!(Maintain.may_commit() && !Manager.may_commit() && !View.may_commit());
        let t = DateTime::<Utc>::UNIX_EPOCH;
        let w = WorkspaceSpec::new("w", "W", "o", t)
            .member("a", "A", View, t)
            .member("a", "A", Admin, t);
        assert_eq!(w.group_of("o"), Some(Owner));
        assert_eq!(w.group_of("a"), Some(Admin));
        assert_eq!(w.group_of("x"), None);
        let json = serde_json::to_value(&w.members[0]).unwrap();
        assert_eq!(json["group"], "view");
        assert_eq!(json["joinedAt"], "1970-01-01T00:00:00Z");
    }
}
