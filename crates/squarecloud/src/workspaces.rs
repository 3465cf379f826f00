//! Workspaces: applications another account shares with this one (shared/squarecloud-api.md
//! §4.6 and §10). Confirmed: `GET /v2/workspaces` (a list of workspaces of the shape below,
//! api-types), `GET /v2/workspaces/{id}` → `{id, name, owner, members[{id,name,group,
//! joinedAt}], applications[{id,name,desc,ram,lang,domain,custom}], createdAt}`,
//! `GET /v2/apps/status?workspaceId=`, the groups `owner admin maintain manager view`, that an
//! admin may "perform snapshots", 404 `WORKSPACE_NOT_FOUND`. Inferred: no workspace-level
//! snapshot route (a shared application uses the per-application routes), who besides admin
//! may do what (see [`WorkspaceGroup`]), and that a refused group gets 403
//! `PERMISSION_DENIED` ([`crate::ErrorCode::PermissionDenied`]).

use crate::{ApiError, AppStatusItem, AppSummary, Client, seg};
use serde::{Deserialize, Serialize};

/// A member's group in a workspace; ordered weakest first.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum WorkspaceGroup {
    View,
    Manager,
    Maintain,
    Admin,
    Owner,
    /// A group this client does not know: ordered below every other, allowed nothing
    /// beyond reading.
    #[serde(other)]
    Unknown,
}

impl Ord for WorkspaceGroup {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        self.rank().cmp(&other.rank())
    }
}

impl PartialOrd for WorkspaceGroup {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

impl WorkspaceGroup {
    fn rank(self) -> u8 {
        match self {
            Self::Unknown => 0,
            Self::View => 1,
            Self::Manager => 2,
            Self::Maintain => 3,
            Self::Admin => 4,
            Self::Owner => 5,
        }
    }

    /// May create and restore a shared application's snapshots: `owner` and `admin` (the
    /// docs say admin may "perform snapshots"; that no other group may is inferred).
    pub fn may_snapshot(self) -> bool {
        self >= Self::Admin
    }

    /// May commit to a shared application: `owner`, `admin` and `maintain` (api-types gives
    /// `maintain` commits; that `manager` and `view` may not is inferred).
    pub fn may_commit(self) -> bool {
        self >= Self::Maintain
    }
}

/// One member of a workspace.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct WorkspaceMember {
    /// The member's account (user) id.
    pub id: String,
    /// `None` when the API cannot resolve it (a deleted account).
    #[serde(default)]
    pub name: Option<String>,
    pub group: WorkspaceGroup,
    /// ISO 8601; for the owner, when the workspace was made.
    #[serde(default, rename = "joinedAt")]
    pub joined_at: Option<String>,
}

/// A workspace and the applications shared in it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Workspace {
    pub id: String,
    pub name: String,
    /// The owning account's id.
    pub owner: String,
    #[serde(default)]
    pub members: Vec<WorkspaceMember>,
    /// Each with `id`, `name`, `desc`, `ram`, `lang`, `domain`, `custom`.
    #[serde(default)]
    pub applications: Vec<AppSummary>,
    /// ISO 8601.
    #[serde(default, rename = "createdAt")]
    pub created_at: Option<String>,
}

impl Workspace {
    /// An account's group here: `Owner` for the owner, else its member's group (the
    /// strongest, should it be listed twice); `None` for an account not in it.
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
}

impl Client {
    /// `GET /workspaces`: the workspaces this account owns or is a member of.
    pub async fn workspaces(&self) -> Result<Vec<Workspace>, ApiError> {
        self.get("/workspaces").await
    }

    /// `GET /workspaces/{id}`; 404 `WORKSPACE_NOT_FOUND` for one this account is not in.
    pub async fn workspace(&self, id: &str) -> Result<Workspace, ApiError> {
        self.get(&format!("/workspaces/{}", seg(id))).await
    }

    /// `GET /apps/status[?workspaceId=]`: the running state of this account's applications,
    /// or of a workspace's (404 `WORKSPACE_NOT_FOUND` for one this account is not in).
    pub async fn apps_status_in(
        &self,
        workspace_id: Option<&str>,
    ) -> Result<Vec<AppStatusItem>, ApiError> {
        match workspace_id {
            None => self.get("/apps/status").await,
            Some(w) => {
                self.get(&format!("/apps/status?workspaceId={}", seg(w)))
                    .await
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_workspace_decodes_with_unknown_groups_and_null_names() {
        let w: Workspace = serde_json::from_str(
            r#"{"id":"w","name":"W","owner":"1","createdAt":"2025-01-01T00:00:00.000Z",
                "members":[{"id":"1","name":"A","group":"owner","joinedAt":"x"},
                           {"id":"2","name":null,"group":"auditor","joinedAt":"x"},
                           {"id":"3","name":"C","group":"admin","joinedAt":"x"}],
                "applications":[{"id":"a","name":"n","desc":null,"ram":256,"lang":"python"}]}"#,
        )
        .unwrap();
        assert_eq!(w.group_of("1"), Some(WorkspaceGroup::Owner));
        assert_eq!(w.group_of("2"), Some(WorkspaceGroup::Unknown));
        assert_eq!(w.members[1].name, None);
        assert!(w.group_of("3").unwrap().may_snapshot());
        assert!(!WorkspaceGroup::Unknown.may_commit());
        assert!(WorkspaceGroup::Maintain.may_commit() && !WorkspaceGroup::Maintain.may_snapshot());
        assert_eq!(w.group_of("4"), None);
        assert_eq!(w.applications[0].lang.as_deref(), Some("python"));
        assert_eq!(w.applications[0].desc, None);
    }
}
