//! Workspaces: the applications another account shares with this one are listed with their
//! workspace and the account's role; an admin's backs up and counts against the asking
//! account's quota; a view-only one is refused before any request, and Square Cloud's 403
//! `PERMISSION_DENIED` is the same refusal; a workspaces read that fails leaves the own
//! list intact.

mod common;

use common::*;
use snapshots::squarecloud::WorkspaceGroup;
use snapshots::{EngineError, SnapshotOptions, WorkspaceRef};
use squarecloud_sim::demo::{
    DEMO_CLIENT_ID, DEMO_SHARED_ADMIN_APP, DEMO_SHARED_VIEW_APP, DEMO_WORKSPACE_ADMIN,
    DEMO_WORKSPACE_VIEW,
};
use squarecloud_sim::{FaultKind, FaultSpec, SimConfig, Target};
use tokio_util::sync::CancellationToken;

fn snapshot_posts(sim: &squarecloud_sim::Simulator, id: &str) -> usize {
    sim.requests()
        .iter()
        .filter(|r| r.method == "POST" && r.path.contains(id))
        .count()
}

#[tokio::test]
async fn shared_apps_are_listed_with_their_workspace_and_role() {
    let (_sim, engine, _d) = start(SimConfig::demo_accounts()).await;
    let all = engine.resources();
    let admin = all.iter().find(|r| r.id == DEMO_SHARED_ADMIN_APP).unwrap();
    let w = admin.workspace.as_ref().unwrap();
    assert_eq!(w.id, DEMO_WORKSPACE_ADMIN);
    assert_eq!(w.role, WorkspaceGroup::Admin);
    assert!(admin.may_snapshot());
    let view = all.iter().find(|r| r.id == DEMO_SHARED_VIEW_APP).unwrap();
    let w = view.workspace.as_ref().unwrap();
    assert_eq!(w.id, DEMO_WORKSPACE_VIEW);
    assert_eq!(w.role, WorkspaceGroup::View);
    assert!(!view.may_snapshot());
    // The owner's private application is not shared: not listed.
    let own = engine.me();
    assert_eq!(all.len(), own.applications.len() + own.databases.len() + 2);
    assert!(engine.workspaces_error().is_none());
}

#[tokio::test]
async fn an_admin_shared_app_backs_up_against_the_asking_accounts_quota() {
    let (sim, engine, d) = start(SimConfig::demo_accounts()).await;
    let me = engine.me().user.id;
    let r = engine.resource(DEMO_SHARED_ADMIN_APP).unwrap();
    let dest = d.path().join("copies");
    std::fs::create_dir_all(&dest).unwrap();
    let (sink, _) = collect();
    let res = engine
        .snapshot(vec![r], download_to(&dest), sink, &CancellationToken::new())
        .await;
    let out = res[0]
        .outcome
        .as_ref()
        .expect("the admin's snapshot is taken");
    assert!(out.download.is_some());
    assert_eq!(zips(&dest).len(), 1, "{:?}", listing(&dest));
    assert_eq!(sim.quota_used(&me), Some(1));
    assert_eq!(sim.quota_used(DEMO_CLIENT_ID), Some(0));
    assert_eq!(
        engine.quota().used,
        1,
        "the ledger counts it for this account"
    );
}

#[tokio::test]
async fn a_view_only_app_is_refused_before_any_request() {
    let (sim, engine, d) = start(SimConfig::demo_accounts()).await;
    let r = engine.resource(DEMO_SHARED_VIEW_APP).unwrap();
    sim.clear_requests();
    let (sink, _) = collect();
    let res = engine
        .snapshot(
            vec![r.clone()],
            download_to(d.path()),
            sink.clone(),
            &CancellationToken::new(),
        )
        .await;
    let e = res[0].outcome.as_ref().unwrap_err();
    assert_eq!(e.code(), "permission");
    assert!(matches!(e, EngineError::Permission { sent: false, .. }));
    let words = e.to_string();
    assert!(
        words.contains("Cliente X · Relatórios") && words.contains("view"),
        "{words}"
    );
    assert!(
        words.contains("Nothing was sent") && words.contains("admin role"),
        "{words}"
    );
    let opts = snapshots::restore::RestoreOptions::default();
    let e = engine
        .restore(&r, "v1", opts, sink, &CancellationToken::new())
        .await
        .unwrap_err();
    assert_eq!(e.code(), "permission");
    assert!(sim.requests().is_empty(), "{:?}", sim.requests());
    assert_eq!(engine.quota().used, 0);
}

#[tokio::test]
async fn the_servers_403_is_the_same_refusal() {
    let (sim, engine, d) = start(SimConfig::demo_accounts()).await;
    // A role learnt before it was lowered: this engine thinks it may, Square Cloud says no.
    let mut r = engine.resource(DEMO_SHARED_VIEW_APP).unwrap();
    r.workspace = Some(WorkspaceRef {
        role: WorkspaceGroup::Admin,
        may_snapshot: true,
        ..r.workspace.unwrap()
    });
    let (sink, _) = collect();
    let opts = SnapshotOptions {
        download: false,
        ..download_to(d.path())
    };
    let res = engine
        .snapshot(vec![r], opts, sink, &CancellationToken::new())
        .await;
    let e = res[0].outcome.as_ref().unwrap_err();
    assert_eq!(e.code(), "permission");
    assert!(
        matches!(e, EngineError::Permission { sent: true, .. }),
        "{e:?}"
    );
    assert_eq!(snapshot_posts(&sim, DEMO_SHARED_VIEW_APP), 1);
    assert!(sim.created_versions(DEMO_SHARED_VIEW_APP).is_empty());
}

#[tokio::test]
async fn a_failing_workspaces_read_leaves_the_own_list() {
    let sim = squarecloud_sim::Simulator::start(SimConfig::demo_accounts())
        .await
        .unwrap();
    sim.inject(
        FaultSpec::new(Target::Api, FaultKind::ServerErrorHtml { status: 500 })
            .on_path("/workspaces")
            .times(None),
    );
    let d = tempfile::tempdir().unwrap();
    let engine = engine_on(&sim, &d.path().join("data"), |_| {}).await;
    let me = engine.me();
    let all = engine.resources();
    assert_eq!(all.len(), me.applications.len() + me.databases.len());
    assert!(all.iter().all(|r| r.workspace.is_none()));
    assert!(
        engine
            .workspaces_error()
            .unwrap()
            .contains("own applications")
    );
    engine
        .refresh()
        .await
        .expect("the refresh goes on without them");
    assert_eq!(engine.resources().len(), all.len());
    sim.clear_faults();
    engine.refresh().await.unwrap();
    assert_eq!(engine.resources().len(), all.len() + 2);
    assert!(engine.workspaces_error().is_none());
}

#[tokio::test]
async fn a_plan_for_everything_skips_the_view_only_app_and_says_so() {
    use snapshots::plans::{PlanKind, Schedule, Scope};
    let (sim, engine, d) = start(SimConfig::demo_accounts()).await;
    let out = d.path().join("plan");
    std::fs::create_dir_all(&out).unwrap();
    let n = engine.resources().len();
    let at = chrono::NaiveTime::from_hms_opt(0, 0, 0).unwrap();
    let p = plan(
        "all",
        PlanKind::Snapshot,
        Scope::All,
        Schedule::Day { at },
        &out,
    );
    due_now(&engine, p, n, engine.quota().total);
    let (sink, _) = collect();
    let runs = engine
        .run_due(chrono::Utc::now(), sink, &CancellationToken::new())
        .await
        .unwrap();
    let run = &runs[0];
    assert!(run.ok, "{run:?}");
    assert!(run.failures.is_empty(), "{run:?}");
    assert_eq!(run.not_allowed.len(), 1, "{run:?}");
    assert!(
        run.not_allowed[0].contains("relatórios noturnos"),
        "{run:?}"
    );
    assert_eq!(snapshot_posts(&sim, DEMO_SHARED_VIEW_APP), 0);
    assert_eq!(sim.created_versions(DEMO_SHARED_ADMIN_APP).len(), 1);
}
