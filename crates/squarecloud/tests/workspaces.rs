//! The client's workspace calls, and one client per key, against the two-account simulator:
//! each client sees its own account, lists the workspaces it is in, reads a workspace's
//! applications' status, and is refused (403 `PERMISSION_DENIED`) what its group may not do
//! with a shared application.

use squarecloud::{
    ApiError, ApiKey, Client, CreateOutcome, ErrorCode, ResourceKind, WorkspaceGroup,
};
use squarecloud_sim::demo::{
    DEMO_CLIENT_ID, DEMO_CLIENT_PRIVATE_APP, DEMO_SHARED_ADMIN_APP, DEMO_SHARED_VIEW_APP,
    DEMO_WORKSPACE_ADMIN, DEMO_WORKSPACE_VIEW,
};
use squarecloud_sim::{DEMO_CLIENT_KEY, DEMO_KEY, SimConfig, Simulator};
use std::io::Write;
use std::time::Duration;

const DEMO_ID: &str = "313397145698959364";

async fn sim() -> Simulator {
    let mut c = SimConfig::demo_accounts().instant_creates();
    c.restore_time = Duration::ZERO;
    Simulator::start(c).await.unwrap()
}

fn client(sim: &Simulator, key: &str) -> Client {
    Client::new(&sim.api_url(), ApiKey::new(key).unwrap())
        .unwrap()
        .with_files_base(&sim.files_url())
}

fn api_code(e: &ApiError) -> (u16, ErrorCode) {
    match e {
        ApiError::Api { status, code, .. } => (*status, code.clone()),
        other => panic!("expected an API error, got {other:?}"),
    }
}

#[tokio::test]
async fn each_key_is_its_own_account() {
    let sim = sim().await;
    let (demo, cx) = (client(&sim, DEMO_KEY), client(&sim, DEMO_CLIENT_KEY));
    let me = demo.me().await.unwrap();
    assert_eq!((me.user.id.as_str(), me.applications.len()), (DEMO_ID, 8));
    let me = cx.me().await.unwrap();
    assert_eq!(me.user.name, "Cliente X");
    assert_eq!(me.user.plan.daily_snapshot_quota(), 64);
    assert_eq!(me.applications.len(), 3);
    let e = demo.app(DEMO_CLIENT_PRIVATE_APP).await.unwrap_err();
    assert_eq!(api_code(&e), (404, ErrorCode::AppNotFound));
    assert_eq!(cx.apps_status().await.unwrap().len(), 3);
    // Each request carried the key of the client that sent it, never the other's.
    let seen: Vec<(String, Option<String>)> = sim
        .requests()
        .into_iter()
        .map(|r| (r.path, r.account))
        .collect();
    let want = |p: &str, a: &str| (p.to_string(), Some(a.to_string()));
    assert_eq!(
        seen,
        [
            want("/v2/users/me", DEMO_ID),
            want("/v2/users/me", DEMO_CLIENT_ID),
            want(&format!("/v2/apps/{DEMO_CLIENT_PRIVATE_APP}"), DEMO_ID),
            want("/v2/apps/status", DEMO_CLIENT_ID),
        ]
    );
}

#[tokio::test]
async fn workspaces_list_describe_and_status() {
    let sim = sim().await;
    let demo = client(&sim, DEMO_KEY);
    let all = demo.workspaces().await.unwrap();
    let seen: Vec<(&str, Option<WorkspaceGroup>)> = all
        .iter()
        .map(|w| (w.id.as_str(), w.group_of(DEMO_ID)))
        .collect();
    assert_eq!(
        seen,
        [
            (DEMO_WORKSPACE_ADMIN, Some(WorkspaceGroup::Admin)),
            (DEMO_WORKSPACE_VIEW, Some(WorkspaceGroup::View)),
        ]
    );
    let w = demo.workspace(DEMO_WORKSPACE_ADMIN).await.unwrap();
    assert_eq!(w.owner, DEMO_CLIENT_ID);
    assert_eq!(w.group_of(DEMO_CLIENT_ID), Some(WorkspaceGroup::Owner));
    assert_eq!(w.members.len(), 2);
    assert_eq!(
        w.members[1].joined_at.as_deref(),
        Some("2025-03-12T14:00:00.000Z")
    );
    assert_eq!(w.applications.len(), 1);
    let app = &w.applications[0];
    assert_eq!(app.id, DEMO_SHARED_ADMIN_APP);
    assert_eq!(app.name, "API Cliente X");
    assert_eq!(app.domain.as_deref(), Some("api-cliente-x.squareweb.app"));
    assert_eq!(app.ram, 512);
    assert_eq!(w.created_at.as_deref(), Some("2025-03-10T14:00:00.000Z"));

    let e = demo.workspace("0".repeat(32).as_str()).await.unwrap_err();
    assert_eq!(api_code(&e), (404, ErrorCode::WorkspaceNotFound));

    let status = demo
        .apps_status_in(Some(DEMO_WORKSPACE_VIEW))
        .await
        .unwrap();
    assert_eq!(status.len(), 1);
    assert_eq!(status[0].id, DEMO_SHARED_VIEW_APP);
    assert_eq!(demo.apps_status_in(None).await.unwrap().len(), 8);
    let e = demo.apps_status_in(Some("nope")).await.unwrap_err();
    assert_eq!(api_code(&e), (404, ErrorCode::WorkspaceNotFound));
}

#[tokio::test]
async fn a_view_member_is_refused_snapshots_restores_and_commits() {
    let sim = sim().await;
    let demo = client(&sim, DEMO_KEY);
    let list = demo
        .list_snapshots(ResourceKind::App, DEMO_SHARED_VIEW_APP)
        .await
        .unwrap();
    let item = &list[0];
    let e = demo
        .create_snapshot(ResourceKind::App, DEMO_SHARED_VIEW_APP)
        .await
        .unwrap_err();
    assert_eq!(api_code(&e), (403, ErrorCode::PermissionDenied));
    assert!(!e.is_transient() && !e.answer_may_be_lost());
    let e = demo
        .restore_snapshot(
            ResourceKind::App,
            DEMO_SHARED_VIEW_APP,
            &item.name,
            &item.version().unwrap(),
        )
        .await
        .unwrap_err();
    assert_eq!(api_code(&e), (403, ErrorCode::PermissionDenied));

    let dir = std::env::temp_dir().join(format!("sqc-ws-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let zip_path = dir.join("a.zip");
    let mut w = zip::ZipWriter::new(std::fs::File::create(&zip_path).unwrap());
    w.start_file("a.txt", zip::write::SimpleFileOptions::default())
        .unwrap();
    w.write_all(b"a").unwrap();
    w.finish().unwrap();
    let e = demo
        .commit(DEMO_SHARED_VIEW_APP, &zip_path, false)
        .await
        .unwrap_err();
    assert_eq!(api_code(&e), (403, ErrorCode::PermissionDenied));
    std::fs::remove_dir_all(dir).unwrap();
    assert!(sim.created_versions(DEMO_SHARED_VIEW_APP).is_empty());
}

#[tokio::test]
async fn an_admin_member_creates_downloads_and_restores_on_its_own_quota() {
    let sim = sim().await;
    let demo = client(&sim, DEMO_KEY);
    let created = demo
        .create_snapshot(ResourceKind::App, DEMO_SHARED_ADMIN_APP)
        .await
        .unwrap();
    let CreateOutcome::Ready(snap) = created else {
        panic!("instant creates answer at once")
    };
    assert!(
        snap.url.contains(DEMO_CLIENT_ID),
        "the owner's files: {}",
        snap.url
    );
    let body = reqwest::get(&snap.url).await.unwrap();
    assert_eq!(body.status(), 200);
    assert_eq!(&body.bytes().await.unwrap()[..4], b"PK\x03\x04");
    assert_eq!(sim.quota_used(DEMO_ID), Some(1));
    assert_eq!(sim.quota_used(DEMO_CLIENT_ID), Some(0));
    let list = demo
        .list_snapshots(ResourceKind::App, DEMO_SHARED_ADMIN_APP)
        .await
        .unwrap();
    let newest = list.iter().max_by_key(|i| i.modified).unwrap();
    demo.restore_snapshot(
        ResourceKind::App,
        DEMO_SHARED_ADMIN_APP,
        &newest.name,
        &newest.version().unwrap(),
    )
    .await
    .unwrap();
    assert_eq!(sim.restored_to(DEMO_SHARED_ADMIN_APP), newest.version());
}
