//! The two-account demo ([`crate::SimConfig::demo_accounts`]): the demo account, plus a
//! second account, "Cliente X", that owns three applications and two workspaces. In one
//! the demo account is `admin` and one application is shared; in the other it is `view`
//! and another is shared; the third application stays Cliente X's alone. So a window
//! signed in to both keys shows each account's own resources and what is shared with it.

use crate::model::{AccountSpec, ResourceSpec, SimConfig};
use crate::workspace::{WorkspaceGroup, WorkspaceSpec};
use chrono::{DateTime, TimeZone, Utc};

/// The demo account's key (the same as the one-account demo's).
pub const DEMO_KEY: &str = "demo-key";
/// Cliente X's key.
pub const DEMO_CLIENT_KEY: &str = "demo-key-cliente-x";
/// Cliente X's account id.
pub const DEMO_CLIENT_ID: &str = "527104883960201216";
/// The workspace in which the demo account is `admin`.
pub const DEMO_WORKSPACE_ADMIN: &str = "8299a2e7915e6e11efee8693780154f2";
/// The workspace in which the demo account is `view`.
pub const DEMO_WORKSPACE_VIEW: &str = "b0d0674db115414e24c76295754264c6";
/// Cliente X's application shared in [`DEMO_WORKSPACE_ADMIN`].
pub const DEMO_SHARED_ADMIN_APP: &str = "edecdf3dc34c87dede0132262b9c269d";
/// Cliente X's application shared in [`DEMO_WORKSPACE_VIEW`].
pub const DEMO_SHARED_VIEW_APP: &str = "769f79a0843748dc20f8c31b399b0112";
/// Cliente X's application shared in no workspace.
pub const DEMO_CLIENT_PRIVATE_APP: &str = "e75007494ad4f31ccbb48f7c5385cbfb";

impl SimConfig {
    /// The two-account demo: the demo account (key [`DEMO_KEY`]) and Cliente X (key
    /// [`DEMO_CLIENT_KEY`]), whose two workspaces share one application each with the demo
    /// account, as `admin` and as `view`; the demo limits.
    pub fn demo_accounts() -> Self {
        let mut c = Self::demo(DEMO_KEY).with_account(DEMO_CLIENT_KEY, client_account());
        c.workspaces = workspaces(&c.account);
        c
    }
}

fn at(y: i32, m: u32, d: u32) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(y, m, d, 14, 0, 0)
        .single()
        .unwrap_or_default()
}

fn app(
    id: &str,
    name: &str,
    lang: &str,
    ram: u64,
    size: u64,
    domain: Option<&str>,
) -> ResourceSpec {
    ResourceSpec {
        id: id.into(),
        name: name.into(),
        desc: None,
        kind: lang.into(),
        ram,
        cluster: "florida-1".into(),
        domain: domain.map(Into::into),
        snapshot_size: size,
        generation_secs: None,
        history: 1,
    }
}

/// Cliente X: `standard-8` (64 snapshots a day; workspaces need Standard or higher), three
/// applications, no database.
pub fn client_account() -> AccountSpec {
    const MB: u64 = 1024 * 1024;
    AccountSpec {
        id: DEMO_CLIENT_ID.into(),
        name: "Cliente X".into(),
        email: "cliente-x@example.com".into(),
        locale: "pt-BR".into(),
        plan: "standard-8".into(),
        memory_mb: 8192,
        applications: vec![
            app(
                DEMO_SHARED_ADMIN_APP,
                "API Cliente X",
                "javascript",
                512,
                6 * MB,
                Some("api-cliente-x.squareweb.app"),
            ),
            app(
                DEMO_CLIENT_PRIVATE_APP,
                "Loja do Cliente X",
                "php",
                1024,
                30 * MB,
                None,
            ),
            app(
                DEMO_SHARED_VIEW_APP,
                "relatórios noturnos",
                "python",
                256,
                2 * MB,
                None,
            ),
        ],
        databases: Vec::new(),
    }
}

/// Cliente X's two workspaces, each sharing one application with the demo account (`demo`:
/// its id and name).
pub fn workspaces(demo: &AccountSpec) -> Vec<WorkspaceSpec> {
    vec![
        WorkspaceSpec::new(
            DEMO_WORKSPACE_ADMIN,
            "Cliente X · Produção",
            DEMO_CLIENT_ID,
            at(2025, 3, 10),
        )
        .member(
            DEMO_CLIENT_ID,
            "Cliente X",
            WorkspaceGroup::Owner,
            at(2025, 3, 10),
        )
        .member(&demo.id, &demo.name, WorkspaceGroup::Admin, at(2025, 3, 12))
        .share(DEMO_SHARED_ADMIN_APP),
        WorkspaceSpec::new(
            DEMO_WORKSPACE_VIEW,
            "Cliente X · Relatórios",
            DEMO_CLIENT_ID,
            at(2025, 6, 2),
        )
        .member(
            DEMO_CLIENT_ID,
            "Cliente X",
            WorkspaceGroup::Owner,
            at(2025, 6, 2),
        )
        .member(&demo.id, &demo.name, WorkspaceGroup::View, at(2025, 6, 3))
        .share(DEMO_SHARED_VIEW_APP),
    ]
}
