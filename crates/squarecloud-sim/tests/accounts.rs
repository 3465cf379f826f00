//! Several accounts in one simulator, each opened by its own key: each sees only its own
//! resources, spends only its own quota and windows, and is blocked alone; the log names the
//! account of every request. Workspaces: listed per account, and a member reaching a shared
//! application by its group (view refused with 403 PERMISSION_DENIED, admin allowed, its
//! create spending the asker's quota).

use serde_json::Value;
use squarecloud_sim::demo::{
    DEMO_CLIENT_ID, DEMO_CLIENT_PRIVATE_APP, DEMO_SHARED_ADMIN_APP, DEMO_SHARED_VIEW_APP,
    DEMO_WORKSPACE_ADMIN, DEMO_WORKSPACE_VIEW,
};
use squarecloud_sim::{
    AccountSpec, DEMO_CLIENT_KEY, DEMO_KEY, SimConfig, Simulator, Target, WorkspaceGroup,
    WorkspaceSpec,
};
use std::time::Duration;

const ATLAS: &str = "0f1e2d3c4b5a69788796a5b4c3d2e1f0";
const DEMO_ID: &str = "313397145698959364";

fn config() -> SimConfig {
    let mut c = SimConfig::demo_accounts().instant_creates();
    c.restore_time = Duration::ZERO;
    c
}

async fn start(c: SimConfig) -> Simulator {
    Simulator::start(c).await.unwrap()
}

async fn call(sim: &Simulator, method: &str, path: &str, key: &str) -> (u16, Value) {
    call_body(sim, method, path, key, None).await
}

async fn call_body(
    sim: &Simulator,
    method: &str,
    path: &str,
    key: &str,
    body: Option<Value>,
) -> (u16, Value) {
    let method = reqwest::Method::from_bytes(method.as_bytes()).unwrap();
    let mut r = reqwest::Client::new()
        .request(method, format!("{}{path}", sim.api_url()))
        .header("Authorization", key);
    if let Some(b) = body {
        r = r.json(&b);
    }
    let r = r.send().await.unwrap();
    let status = r.status().as_u16();
    (status, r.json().await.unwrap_or(Value::Null))
}

fn ids(v: &Value) -> Vec<String> {
    v.as_array()
        .unwrap()
        .iter()
        .map(|x| x["id"].as_str().unwrap().to_string())
        .collect()
}

#[tokio::test]
async fn each_key_sees_only_its_own_account_and_resources() {
    let sim = start(config()).await;
    let (s, me) = call(&sim, "GET", "/users/me", DEMO_KEY).await;
    assert_eq!(s, 200);
    assert_eq!(me["response"]["user"]["id"], DEMO_ID);
    assert_eq!(me["response"]["applications"].as_array().unwrap().len(), 8);
    let (s, me) = call(&sim, "GET", "/users/me", DEMO_CLIENT_KEY).await;
    assert_eq!(s, 200);
    assert_eq!(me["response"]["user"]["id"], DEMO_CLIENT_ID);
    assert_eq!(me["response"]["user"]["name"], "Cliente X");
    assert_eq!(me["response"]["user"]["plan"]["memory"]["limit"], 8192);
    assert_eq!(
        me["response"]["user"]["plan"]["memory"]["used"],
        512 + 1024 + 256
    );
    let apps = ids(&me["response"]["applications"]);
    assert_eq!(
        apps,
        [
            DEMO_SHARED_ADMIN_APP,
            DEMO_CLIENT_PRIVATE_APP,
            DEMO_SHARED_VIEW_APP
        ]
    );
    assert!(me["response"]["databases"].as_array().unwrap().is_empty());

    // Another account's resource is as if it did not exist, whatever the route.
    for (path, code) in [
        (format!("/apps/{ATLAS}"), "APP_NOT_FOUND"),
        (format!("/apps/{ATLAS}/status"), "APP_NOT_FOUND"),
        (format!("/apps/{ATLAS}/snapshots"), "APP_NOT_FOUND"),
        (
            "/databases/8192a3b4c5d6e7f8091a2b3c4d5e6f70/snapshots".into(),
            "DATABASE_NOT_FOUND",
        ),
    ] {
        let (s, v) = call(&sim, "GET", &path, DEMO_CLIENT_KEY).await;
        assert_eq!((s, v["code"].as_str()), (404, Some(code)), "{path}");
    }
    let (s, v) = call(
        &sim,
        "POST",
        &format!("/apps/{ATLAS}/snapshots"),
        DEMO_CLIENT_KEY,
    )
    .await;
    assert_eq!((s, v["code"].as_str()), (404, Some("APP_NOT_FOUND")));
    let private = format!("/apps/{DEMO_CLIENT_PRIVATE_APP}");
    assert_eq!(call(&sim, "GET", &private, DEMO_KEY).await.0, 404);
    assert_eq!(call(&sim, "GET", &private, DEMO_CLIENT_KEY).await.0, 200);

    // The account-wide lists hold its own only.
    let (_, all) = call(&sim, "GET", "/users/snapshots", DEMO_CLIENT_KEY).await;
    let mut names: Vec<&str> = all["response"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["name"].as_str().unwrap())
        .collect();
    names.sort();
    names.dedup();
    let mut own = vec![
        DEMO_SHARED_ADMIN_APP,
        DEMO_CLIENT_PRIVATE_APP,
        DEMO_SHARED_VIEW_APP,
    ];
    own.sort();
    assert_eq!(names, own);
    let (_, status) = call(&sim, "GET", "/apps/status", DEMO_CLIENT_KEY).await;
    assert_eq!(ids(&status["response"]).len(), 3);
    let (_, status) = call(&sim, "GET", "/apps/status", DEMO_KEY).await;
    assert_eq!(ids(&status["response"]).len(), 8);
    assert!(!ids(&status["response"]).contains(&DEMO_SHARED_ADMIN_APP.to_string()));
}

#[tokio::test]
async fn quotas_and_windows_are_each_accounts_own() {
    let mut c = config();
    // Cliente X: 2 snapshots a day; the documented 5 s account window.
    c.more_accounts[0].account.memory_mb = 256;
    c.limits.account_gap = Duration::from_secs(5);
    let sim = start(c).await;
    let create = |key: &'static str, id: &'static str| {
        let sim = &sim;
        async move { call(sim, "POST", &format!("/apps/{id}/snapshots"), key).await }
    };
    // Both accounts create at the same moment: the account window is each one's own.
    assert_eq!(create(DEMO_KEY, ATLAS).await.0, 200);
    assert_eq!(
        create(DEMO_CLIENT_KEY, DEMO_CLIENT_PRIVATE_APP).await.0,
        200
    );
    // Within the window, each account is refused alone.
    let (s, v) = create(DEMO_CLIENT_KEY, DEMO_SHARED_VIEW_APP).await;
    assert_eq!((s, v["code"].as_str()), (429, Some("KEEP_CALM")));
    sim.advance(Duration::from_secs(6));
    assert_eq!(create(DEMO_CLIENT_KEY, DEMO_SHARED_VIEW_APP).await.0, 200);
    sim.advance(Duration::from_secs(6));
    let (s, v) = create(DEMO_CLIENT_KEY, DEMO_SHARED_ADMIN_APP).await;
    assert_eq!(
        (s, v["code"].as_str()),
        (429, Some("DAILY_SNAPSHOTS_LIMIT_REACHED"))
    );
    assert_eq!(sim.quota_used(DEMO_CLIENT_ID), Some(2));
    assert_eq!(sim.quota_used(DEMO_ID), Some(1));
    // The demo account's quota (32) is untouched by Cliente X's being spent.
    assert_eq!(
        create(DEMO_KEY, "1a2b3c4d5e6f708192a3b4c5d6e7f809").await.0,
        200
    );
    assert_eq!(sim.quota_used(DEMO_ID), Some(2));
    assert_eq!(sim.quota_used("nobody"), None);
}

#[tokio::test]
async fn the_per_minute_cap_blocks_one_account_alone() {
    let mut c = config();
    c.limits.per_minute = 3;
    let sim = start(c).await;
    for _ in 0..3 {
        assert_eq!(call(&sim, "GET", "/users/me", DEMO_KEY).await.0, 200);
    }
    let (s, v) = call(&sim, "GET", "/users/me", DEMO_KEY).await;
    assert_eq!((s, v["code"].as_str()), (429, Some("RATE_LIMITED")));
    // Cliente X's key (its plan's cap, 240) goes on.
    for _ in 0..5 {
        assert_eq!(call(&sim, "GET", "/users/me", DEMO_CLIENT_KEY).await.0, 200);
    }
    sim.advance(Duration::from_secs(60));
    assert_eq!(
        call(&sim, "GET", "/users/me", DEMO_KEY).await.0,
        429,
        "the block lasts"
    );
    sim.advance(Duration::from_secs(31 * 60));
    assert_eq!(call(&sim, "GET", "/users/me", DEMO_KEY).await.0, 200);
}

#[tokio::test]
async fn the_log_names_each_requests_account_and_never_its_key() {
    let sim = start(config()).await;
    call(&sim, "GET", "/users/me", DEMO_KEY).await;
    call(&sim, "GET", "/users/me", DEMO_CLIENT_KEY).await;
    call(&sim, "GET", "/users/me", "not-a-key").await;
    let (_, list) = call(
        &sim,
        "GET",
        &format!("/apps/{DEMO_CLIENT_PRIVATE_APP}/snapshots"),
        DEMO_CLIENT_KEY,
    )
    .await;
    let url = list["response"][0]["url"].as_str().unwrap().to_string();
    assert!(url.contains(&format!("/applications/{DEMO_CLIENT_ID}/")));
    let file = reqwest::get(&url).await.unwrap();
    assert_eq!(file.status(), 200);
    let log = sim.requests();
    let accounts: Vec<Option<&str>> = log.iter().map(|r| r.account.as_deref()).collect();
    assert_eq!(
        accounts,
        [
            Some(DEMO_ID),
            Some(DEMO_CLIENT_ID),
            None,
            Some(DEMO_CLIENT_ID),
            None
        ]
    );
    assert_eq!(log[4].host, Target::Files);
    // Every request for Cliente X's resources carried Cliente X's key, none the demo's.
    assert!(
        log.iter()
            .filter(|r| r.path.contains(DEMO_CLIENT_PRIVATE_APP) && r.host == Target::Api)
            .all(|r| r.account.as_deref() == Some(DEMO_CLIENT_ID))
    );
    let json = serde_json::to_string(&log).unwrap();
    assert!(!json.contains(DEMO_CLIENT_KEY) && !json.contains(DEMO_KEY));
}

#[tokio::test]
async fn workspaces_are_listed_per_account() {
    let stranger = AccountSpec {
        id: "999".into(),
        applications: Vec::new(),
        databases: Vec::new(),
        ..AccountSpec::demo()
    };
    let sim = start(config().with_account("stranger-key", stranger)).await;
    for key in [DEMO_KEY, DEMO_CLIENT_KEY] {
        let (s, v) = call(&sim, "GET", "/workspaces", key).await;
        assert_eq!(s, 200);
        assert_eq!(
            ids(&v["response"]),
            [DEMO_WORKSPACE_ADMIN, DEMO_WORKSPACE_VIEW]
        );
    }
    let (s, v) = call(&sim, "GET", "/workspaces", "stranger-key").await;
    assert_eq!((s, v["response"].as_array().unwrap().len()), (200, 0));
    let (s, v) = call(
        &sim,
        "GET",
        &format!("/workspaces/{DEMO_WORKSPACE_ADMIN}"),
        "stranger-key",
    )
    .await;
    assert_eq!((s, v["code"].as_str()), (404, Some("WORKSPACE_NOT_FOUND")));

    let (s, v) = call(
        &sim,
        "GET",
        &format!("/workspaces/{DEMO_WORKSPACE_VIEW}"),
        DEMO_KEY,
    )
    .await;
    assert_eq!(s, 200);
    let w = &v["response"];
    assert_eq!(w["name"], "Cliente X · Relatórios");
    assert_eq!(w["owner"], DEMO_CLIENT_ID);
    assert_eq!(w["createdAt"], "2025-06-02T14:00:00.000Z");
    let groups: Vec<(&str, &str)> = w["members"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| (m["id"].as_str().unwrap(), m["group"].as_str().unwrap()))
        .collect();
    assert_eq!(groups, [(DEMO_CLIENT_ID, "owner"), (DEMO_ID, "view")]);
    assert_eq!(w["members"][1]["joinedAt"], "2025-06-03T14:00:00.000Z");
    let app = &w["applications"][0];
    assert_eq!(app["id"], DEMO_SHARED_VIEW_APP);
    assert_eq!(app["name"], "relatórios noturnos");
    assert_eq!(app["lang"], "python");
    assert_eq!(app["ram"], 256);
    assert!(app["desc"].is_null() && app.get("desc").is_some());
    assert_eq!(w["applications"].as_array().unwrap().len(), 1);

    // A workspace's applications' status, for its members only.
    let path = format!("/apps/status?workspaceId={DEMO_WORKSPACE_ADMIN}");
    let (s, v) = call(&sim, "GET", &path, DEMO_KEY).await;
    assert_eq!(
        (s, ids(&v["response"])),
        (200, vec![DEMO_SHARED_ADMIN_APP.to_string()])
    );
    let (s, v) = call(&sim, "GET", &path, "stranger-key").await;
    assert_eq!((s, v["code"].as_str()), (404, Some("WORKSPACE_NOT_FOUND")));
}

#[tokio::test]
async fn a_view_member_may_read_but_not_snapshot_restore_or_commit() {
    let sim = start(config()).await;
    let app = format!("/apps/{DEMO_SHARED_VIEW_APP}");
    let (s, v) = call(&sim, "GET", &app, DEMO_KEY).await;
    assert_eq!(
        (s, v["response"]["owner"].as_str()),
        (200, Some(DEMO_CLIENT_ID))
    );
    assert_eq!(
        call(&sim, "GET", &format!("{app}/status"), DEMO_KEY)
            .await
            .0,
        200
    );
    let (s, list) = call(&sim, "GET", &format!("{app}/snapshots"), DEMO_KEY).await;
    assert_eq!(s, 200);
    let version = list["response"][0]["version_id"]
        .as_str()
        .unwrap()
        .to_string();

    let (s, v) = call(&sim, "POST", &format!("{app}/snapshots"), DEMO_KEY).await;
    assert_eq!((s, v["code"].as_str()), (403, Some("PERMISSION_DENIED")));
    let body = serde_json::json!({"snapshotId": DEMO_SHARED_VIEW_APP, "versionId": version});
    let (s, v) = call_body(
        &sim,
        "POST",
        &format!("{app}/snapshots/restore"),
        DEMO_KEY,
        Some(body),
    )
    .await;
    assert_eq!((s, v["code"].as_str()), (403, Some("PERMISSION_DENIED")));
    let (s, v) = call(&sim, "POST", &format!("{app}/commit"), DEMO_KEY).await;
    assert_eq!((s, v["code"].as_str()), (403, Some("PERMISSION_DENIED")));
    assert!(sim.created_versions(DEMO_SHARED_VIEW_APP).is_empty());
    assert_eq!(sim.restored_to(DEMO_SHARED_VIEW_APP), None);
    assert_eq!(sim.quota_used(DEMO_ID), Some(0));
}

#[tokio::test]
async fn an_admin_member_snapshots_and_restores_spending_its_own_quota() {
    let sim = start(config()).await;
    let app = format!("/apps/{DEMO_SHARED_ADMIN_APP}");
    let (s, v) = call(&sim, "POST", &format!("{app}/snapshots"), DEMO_KEY).await;
    assert_eq!(s, 200, "{v}");
    assert_eq!(sim.created_versions(DEMO_SHARED_ADMIN_APP).len(), 1);
    assert_eq!(sim.quota_used(DEMO_ID), Some(1), "the asker's quota");
    assert_eq!(sim.quota_used(DEMO_CLIENT_ID), Some(0), "not the owner's");
    // The snapshot lives with the owner's files.
    let url = v["response"]["url"].as_str().unwrap();
    assert!(url.contains(&format!(
        "/applications/{DEMO_CLIENT_ID}/{DEMO_SHARED_ADMIN_APP}.zip"
    )));
    assert_eq!(reqwest::get(url).await.unwrap().status(), 200);
    // The application's own window holds for its owner too...
    let (s, v) = call(&sim, "POST", &format!("{app}/snapshots"), DEMO_CLIENT_KEY).await;
    assert_eq!((s, v["code"].as_str()), (429, Some("KEEP_CALM")));
    // ...while the owner's account window is untouched by the member's create.
    let other = format!("/apps/{DEMO_CLIENT_PRIVATE_APP}/snapshots");
    assert_eq!(call(&sim, "POST", &other, DEMO_CLIENT_KEY).await.0, 200);

    let version = sim.created_versions(DEMO_SHARED_ADMIN_APP)[0].clone();
    let body = serde_json::json!({"snapshotId": DEMO_SHARED_ADMIN_APP, "versionId": version});
    let (s, v) = call_body(
        &sim,
        "POST",
        &format!("{app}/snapshots/restore"),
        DEMO_KEY,
        Some(body),
    )
    .await;
    assert_eq!(s, 200, "{v}");
    assert_eq!(sim.restored_to(DEMO_SHARED_ADMIN_APP), Some(version));
    // Databases are not shared: the member's /users/snapshots holds its own only.
    let (_, all) = call(&sim, "GET", "/users/snapshots", DEMO_KEY).await;
    assert!(
        all["response"]
            .as_array()
            .unwrap()
            .iter()
            .all(|i| i["name"] != DEMO_SHARED_ADMIN_APP)
    );
}

#[tokio::test]
async fn maintain_may_commit_and_manager_may_not() {
    let t = chrono::DateTime::<chrono::Utc>::UNIX_EPOCH;
    let mut c = config();
    c.workspaces = vec![
        WorkspaceSpec::new("a".repeat(32), "ops", DEMO_CLIENT_ID, t)
            .member(DEMO_ID, "Demo", WorkspaceGroup::Maintain, t)
            .share(DEMO_SHARED_ADMIN_APP),
        WorkspaceSpec::new("b".repeat(32), "watch", DEMO_CLIENT_ID, t)
            .member(DEMO_ID, "Demo", WorkspaceGroup::Manager, t)
            .share(DEMO_SHARED_VIEW_APP),
    ];
    let sim = start(c).await;
    let commit = |id: &'static str| {
        let sim = &sim;
        async move {
            let mut w = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
            w.start_file("note.txt", zip::write::SimpleFileOptions::default())
                .unwrap();
            std::io::Write::write_all(&mut w, b"hi").unwrap();
            let zip = w.finish().unwrap().into_inner();
            let form = reqwest::multipart::Form::new().part(
                "file",
                reqwest::multipart::Part::bytes(zip).file_name("a.zip"),
            );
            let r = reqwest::Client::new()
                .post(format!("{}/apps/{id}/commit", sim.api_url()))
                .header("Authorization", DEMO_KEY)
                .multipart(form)
                .send()
                .await
                .unwrap();
            (r.status().as_u16(), r.text().await.unwrap())
        }
    };
    assert_eq!(commit(DEMO_SHARED_ADMIN_APP).await.0, 200);
    assert_eq!(
        sim.app_files(DEMO_SHARED_ADMIN_APP).unwrap()["note.txt"],
        b"hi"
    );
    let (s, body) = commit(DEMO_SHARED_VIEW_APP).await;
    assert_eq!(s, 403);
    assert!(body.contains("PERMISSION_DENIED"), "{body}");
    // Neither may snapshot.
    for id in [DEMO_SHARED_ADMIN_APP, DEMO_SHARED_VIEW_APP] {
        let (s, _) = call(&sim, "POST", &format!("/apps/{id}/snapshots"), DEMO_KEY).await;
        assert_eq!(s, 403);
    }
}

#[tokio::test]
async fn an_upload_makes_an_application_of_the_asking_account() {
    let sim = start(config()).await;
    let mut w = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    let o = zip::write::SimpleFileOptions::default();
    w.start_file("squarecloud.app", o).unwrap();
    std::io::Write::write_all(
        &mut w,
        b"MAIN=index.js\nMEMORY=256\nVERSION=recommended\nDISPLAY_NAME=novo\n",
    )
    .unwrap();
    w.start_file("index.js", o).unwrap();
    std::io::Write::write_all(&mut w, b"1").unwrap();
    let zip = w.finish().unwrap().into_inner();
    let form = reqwest::multipart::Form::new().part(
        "file",
        reqwest::multipart::Part::bytes(zip).file_name("a.zip"),
    );
    let r = reqwest::Client::new()
        .post(format!("{}/apps", sim.api_url()))
        .header("Authorization", DEMO_CLIENT_KEY)
        .multipart(form)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let v: Value = r.json().await.unwrap();
    let id = v["response"]["id"].as_str().unwrap();
    assert_eq!(sim.owner_of(id).as_deref(), Some(DEMO_CLIENT_ID));
    let (_, me) = call(&sim, "GET", "/users/me", DEMO_CLIENT_KEY).await;
    assert!(ids(&me["response"]["applications"]).contains(&id.to_string()));
    assert_eq!(
        call(&sim, "GET", &format!("/apps/{id}"), DEMO_KEY).await.0,
        404
    );
}

#[tokio::test]
async fn ambiguous_accounts_are_refused_at_start() {
    let c = config().with_account(
        DEMO_KEY,
        AccountSpec {
            id: "7".into(),
            ..AccountSpec::demo()
        },
    );
    let e = Simulator::start(c).await.unwrap_err();
    assert_eq!(e.kind(), std::io::ErrorKind::InvalidInput);
    assert!(e.to_string().contains("same key"), "{e}");
}
