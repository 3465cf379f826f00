//! The client against the simulator: every endpoint, the documented error paths, every API
//! fault kind, and the create limits on a scaled clock.

use squarecloud::{ApiError, ApiKey, Client, CreateOutcome, ErrorCode, ResourceKind};
use squarecloud_sim::{AccountSpec, FaultKind, FaultSpec, SimConfig, Simulator, Target};
use std::io::Read;
use std::time::Duration;

const KEY: &str = "313397145698959364-s3cr3t";

async fn sim_with(f: impl FnOnce(&mut SimConfig)) -> (Simulator, Client) {
    let mut config = SimConfig::new(KEY, AccountSpec::demo());
    config.generation_time = Duration::ZERO;
    f(&mut config);
    let sim = Simulator::start(config).await.unwrap();
    let client = Client::new(&sim.api_url(), ApiKey::new(KEY).unwrap())
        .unwrap()
        .with_files_base(&sim.files_url());
    (sim, client)
}

fn api_code(e: &ApiError) -> (u16, ErrorCode) {
    match e {
        ApiError::Api { status, code, .. } => (*status, code.clone()),
        other => panic!("expected an API error, got {other:?}"),
    }
}

const ATLAS: &str = "0f1e2d3c4b5a69788796a5b4c3d2e1f0";
const LOJA: &str = "1a2b3c4d5e6f708192a3b4c5d6e7f809";
const CACHE_DB: &str = "92a3b4c5d6e7f8091a2b3c4d5e6f7081";

#[tokio::test]
async fn me_describes_the_account_plan_apps_and_databases() {
    let (_sim, c) = sim_with(|_| {}).await;
    let me = c.me().await.unwrap();
    assert_eq!(me.user.id, "313397145698959364");
    assert_eq!(me.user.plan.name, "standard-4");
    assert_eq!(me.user.plan.daily_snapshot_quota(), 32);
    assert!(me.user.plan.expires_at().unwrap() > chrono::Utc::now());
    assert_eq!(me.applications.len(), 8);
    assert_eq!(me.databases.len(), 2);
    let atlas = me.applications.iter().find(|a| a.id == ATLAS).unwrap();
    assert_eq!(atlas.lang.as_deref(), Some("javascript"));
    assert!(me.applications.iter().any(|a| a.name == "../../etc/passwd"));
    assert_eq!(me.databases[0].engine.as_deref(), Some("postgres"));
}

#[tokio::test]
async fn info_status_and_service_routes() {
    let (_sim, c) = sim_with(|_| {}).await;
    let app = c.app(LOJA).await.unwrap();
    assert_eq!(app.name, "Loja São João");
    assert_eq!(app.lang.as_deref(), Some("php")); // from `language`
    assert_eq!(app.domain.as_deref(), Some("loja-sao-joao.squareweb.app"));
    let db = c.database(CACHE_DB).await.unwrap();
    assert_eq!(db.engine.as_deref(), Some("redis"));
    let status = c.apps_status().await.unwrap();
    assert_eq!(status.len(), 8);
    assert!(status.iter().any(|s| !s.running && s.cpu.is_none()));
    assert_eq!(c.service_status().await.unwrap().status, "online");
    let e = c.app("ffffffffffffffffffffffffffffffff").await.unwrap_err();
    assert_eq!(api_code(&e), (404, ErrorCode::AppNotFound));
    let e = c.database(ATLAS).await.unwrap_err();
    assert_eq!(api_code(&e), (404, ErrorCode::DatabaseNotFound));
}

#[tokio::test]
async fn a_wrong_key_is_access_denied_and_repeated_wrong_keys_are_blocked() {
    let (sim, _) = sim_with(|_| {}).await;
    let bad = Client::new(&sim.api_url(), ApiKey::new("nope").unwrap()).unwrap();
    let e = bad.me().await.unwrap_err();
    assert_eq!(api_code(&e), (401, ErrorCode::AccessDenied));
    assert!(e.code().unwrap().is_bad_key());
    let mut last = None;
    for _ in 0..12 {
        last = Some(bad.me().await.unwrap_err());
    }
    assert_eq!(api_code(&last.unwrap()), (429, ErrorCode::RateLimited));
}

fn unzip_ok(bytes: &[u8]) -> Vec<String> {
    let mut z = zip::ZipArchive::new(std::io::Cursor::new(bytes)).unwrap();
    let mut names = Vec::new();
    for i in 0..z.len() {
        let mut f = z.by_index(i).unwrap();
        names.push(f.name().to_string());
        std::io::copy(&mut f, &mut std::io::sink()).unwrap(); // reading checks the CRC
    }
    names
}

#[tokio::test]
async fn create_returns_a_url_that_downloads_a_valid_zip_and_a_second_create_keeps_calm() {
    let (sim, c) = sim_with(|_| {}).await;
    let CreateOutcome::Ready(s) = c.create_snapshot(ResourceKind::App, ATLAS).await.unwrap() else {
        panic!("expected a ready snapshot");
    };
    assert!(s.url.starts_with(&sim.files_url()));
    assert!(s.url.ends_with(&s.key));
    let body = reqwest::get(&s.url).await.unwrap();
    assert_eq!(body.status(), 200);
    let bytes = body.bytes().await.unwrap();
    assert_eq!(bytes.len() as u64, 8 * 1024 * 1024);
    // An application's snapshot holds its configuration and main file, as a real one does.
    assert_eq!(
        unzip_ok(&bytes),
        [
            "README.txt",
            "manifest.json",
            "index.js",
            "squarecloud.app",
            "data/blob.bin"
        ]
    );

    let e = c
        .create_snapshot(ResourceKind::Database, CACHE_DB)
        .await
        .unwrap_err();
    assert_eq!(api_code(&e), (429, ErrorCode::KeepCalm));
}

#[tokio::test]
async fn per_resource_window_is_separate_from_the_account_window() {
    let (_sim, c) = sim_with(|cfg| {
        cfg.time_scale = 100.0; // 5 s account window = 50 ms
    })
    .await;
    c.create_snapshot(ResourceKind::App, ATLAS).await.unwrap();
    tokio::time::sleep(Duration::from_millis(80)).await;
    let e = c
        .create_snapshot(ResourceKind::App, ATLAS)
        .await
        .unwrap_err();
    assert_eq!(
        api_code(&e),
        (429, ErrorCode::KeepCalm),
        "60 s per resource"
    );
    assert!(c.create_snapshot(ResourceKind::App, LOJA).await.is_ok());
}

#[tokio::test]
async fn the_33rd_create_in_24h_is_refused_and_allowed_once_the_window_slides() {
    // 8 640 simulated seconds per real second: the 24 h window lasts ten real seconds, so
    // that the 32 creates fit well within it on a loaded machine.
    let (sim, c) = sim_with(|cfg| cfg.time_scale = 8_640.0).await;
    let ids: Vec<(ResourceKind, String)> = {
        let me = c.me().await.unwrap();
        me.applications
            .iter()
            .map(|a| (ResourceKind::App, a.id.clone()))
            .chain(
                me.databases
                    .iter()
                    .map(|d| (ResourceKind::Database, d.id.clone())),
            )
            .collect()
    };
    let start = sim.clock().now();
    // When the first create was accepted, at the latest: the window slides from there.
    let mut first = None;
    let mut made = 0;
    let mut i = 0;
    while made < 32 {
        let (k, id) = &ids[i % ids.len()];
        i += 1;
        match c.create_snapshot(*k, id).await {
            Ok(_) => {
                made += 1;
                first.get_or_insert_with(|| sim.clock().now());
            }
            Err(e) if e.code() == Some(&ErrorCode::KeepCalm) => {
                tokio::time::sleep(Duration::from_millis(1)).await
            }
            Err(e) => panic!("create {made}: {e}"),
        }
    }
    assert!(
        sim.clock().now() - start < chrono::Duration::hours(20),
        "test ran too slowly"
    );
    // Past the gaps between creates (the account's, each resource's), so that only the
    // daily cap can refuse.
    let last = sim.clock().now();
    let gap = squarecloud::limits::RESOURCE_CREATE_GAP.max(squarecloud::limits::ACCOUNT_CREATE_GAP);
    while sim.clock().now() - last <= chrono::Duration::from_std(gap).unwrap() {
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
    let e = c.create_snapshot(ids[3].0, &ids[3].1).await.unwrap_err();
    assert_eq!(api_code(&e), (429, ErrorCode::DailySnapshotsLimitReached));
    // Wait until the first create has left the window.
    let first = first.expect("a create");
    while sim.clock().now() - first < chrono::Duration::hours(24) + chrono::Duration::minutes(1) {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(c.create_snapshot(ids[4].0, &ids[4].1).await.is_ok());
}

#[tokio::test]
async fn a_slow_create_answers_processing_and_the_snapshot_appears_in_the_list() {
    let (_sim, c) = sim_with(|cfg| {
        cfg.time_scale = 1000.0;
        cfg.generation_time = Duration::from_secs(120); // past the 90 s soft deadline
    })
    .await;
    let before = c.list_snapshots(ResourceKind::App, ATLAS).await.unwrap();
    assert_eq!(before.len(), 3);
    let out = c.create_snapshot(ResourceKind::App, ATLAS).await.unwrap();
    assert_eq!(out, CreateOutcome::Processing);
    let mut appeared = false;
    for _ in 0..50 {
        // Looked for by origin: the fast clock can pass 03:00 UTC meanwhile, and the daily
        // automatic copy made then is listed too.
        let list = c.list_snapshots(ResourceKind::App, ATLAS).await.unwrap();
        let manual = list
            .iter()
            .filter(|i| i.origin.as_deref() == Some("manual"))
            .count();
        if manual > 0 {
            assert_eq!(manual, 1, "one create, one copy");
            appeared = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert!(
        appeared,
        "the processed snapshot never appeared in the list"
    );
}

#[tokio::test]
async fn lists_are_cached_when_creates_do_not_invalidate_them() {
    let (sim, c) = sim_with(|cfg| cfg.create_invalidates_cache = false).await;
    // Counted by origin, not by length: the simulated clock moves 31 minutes below, and
    // when the test runs between 02:29 and 03:00 UTC that crosses the daily automatic run,
    // which rightly adds an automatic copy.
    let manual = |list: &[squarecloud::SnapshotItem]| {
        list.iter()
            .filter(|i| i.origin.as_deref() == Some("manual"))
            .count()
    };
    let before = c.list_snapshots(ResourceKind::App, ATLAS).await.unwrap();
    assert_eq!(before.len(), 3);
    assert_eq!(manual(&before), 0);
    c.create_snapshot(ResourceKind::App, ATLAS).await.unwrap();
    let cached = c.list_snapshots(ResourceKind::App, ATLAS).await.unwrap();
    assert_eq!(cached.len(), 3, "the cached list is served unchanged");
    assert_eq!(manual(&cached), 0);
    sim.advance(Duration::from_secs(31 * 60));
    let fresh = c.list_snapshots(ResourceKind::App, ATLAS).await.unwrap();
    assert_eq!(
        manual(&fresh),
        1,
        "once the cache expires the new copy is listed"
    );
    let others = fresh.len() - manual(&fresh);
    assert!(
        others == before.len() || others == before.len() + 1,
        "besides the new copy, at most one daily automatic copy: {others} others"
    );
}

#[tokio::test]
async fn old_style_list_items_still_give_a_version_and_a_working_url() {
    let (sim, c) = sim_with(|cfg| cfg.extended_list_fields = false).await;
    let me = c.me().await.unwrap();
    let list = c
        .list_snapshots(ResourceKind::Database, CACHE_DB)
        .await
        .unwrap();
    let item = &list[0];
    assert!(item.url.is_none() && item.version_id.is_none());
    let version = item.version().unwrap();
    assert_eq!(sim.versions(CACHE_DB).last().unwrap(), &version);
    assert_eq!(item.name, format!("{CACHE_DB}_redis"));
    let url = item.download_url(c.files_base(), ResourceKind::Database, &me.user.id);
    let bytes = reqwest::get(&url).await.unwrap().bytes().await.unwrap();
    assert_eq!(bytes.len() as u64, item.size);
    assert_eq!(bytes.to_vec(), sim.archive(CACHE_DB, &version).unwrap());
}

#[tokio::test]
async fn user_snapshots_lists_a_scope_and_needs_a_paid_plan() {
    let (_sim, c) = sim_with(|_| {}).await;
    let apps = c.user_snapshots(ResourceKind::App).await.unwrap();
    // The history of the eight demo apps: 3, 2, 1, 0, 1, 2, 1 and 2.
    assert_eq!(apps.len(), 12);
    let dbs = c.user_snapshots(ResourceKind::Database).await.unwrap();
    assert_eq!(dbs.len(), 3);

    let (_sim, free) = sim_with(|cfg| cfg.account.plan = "free".into()).await;
    let e = free.user_snapshots(ResourceKind::App).await.unwrap_err();
    assert_eq!(api_code(&e), (402, ErrorCode::UpgradeRequired));
}

#[tokio::test]
async fn restore_checks_its_parameters_and_its_window() {
    let (sim, c) = sim_with(|c| c.restore_time = Duration::from_millis(50)).await;
    let list = c.list_snapshots(ResourceKind::App, ATLAS).await.unwrap();
    let v = list[0].version().unwrap();
    c.restore_snapshot(ResourceKind::App, ATLAS, &list[0].name, &v)
        .await
        .unwrap();
    let e = c
        .restore_snapshot(ResourceKind::App, ATLAS, &list[0].name, &v)
        .await
        .unwrap_err();
    assert_eq!(api_code(&e), (429, ErrorCode::KeepCalm));
    let e = c
        .restore_snapshot(ResourceKind::App, ATLAS, &list[0].name, "nope")
        .await
        .unwrap_err();
    assert_eq!(api_code(&e), (404, ErrorCode::SnapshotNotFound));
    let e = c
        .restore_snapshot(ResourceKind::App, ATLAS, "other", &v)
        .await
        .unwrap_err();
    assert_eq!(api_code(&e), (400, ErrorCode::InvalidSnapshotId));
    let e = c
        .restore_snapshot(ResourceKind::App, ATLAS, &list[0].name, "../x")
        .await
        .unwrap_err();
    assert_eq!(api_code(&e), (400, ErrorCode::InvalidVersionId));
    assert_eq!(sim.restored_to(ATLAS), Some(v));
}

#[tokio::test]
async fn api_faults_become_typed_errors() {
    let (sim, c) = sim_with(|_| {}).await;
    // One try each, to see the typed error of each fault.
    let c = c
        .with_timeout(Duration::from_millis(300))
        .with_retries(0, Duration::ZERO);
    sim.inject(FaultSpec::new(
        Target::Api,
        FaultKind::ServerErrorHtml { status: 502 },
    ));
    match c.me().await.unwrap_err() {
        ApiError::Unexpected {
            status,
            content_type,
            snippet,
        } => {
            assert_eq!(status, 502);
            assert!(content_type.unwrap().starts_with("text/html"));
            assert!(snippet.contains("502 Bad Gateway"));
        }
        e => panic!("{e:?}"),
    }
    sim.inject(FaultSpec::new(Target::Api, FaultKind::Forbidden403Html));
    let e = c.me().await.unwrap_err();
    assert!(
        matches!(e, ApiError::Unexpected { status: 403, .. }),
        "{e:?}"
    );
    assert!(!e.is_transient());
    sim.inject(FaultSpec::new(Target::Api, FaultKind::MalformedJson));
    assert!(matches!(
        c.me().await.unwrap_err(),
        ApiError::Decode { status: 200, .. }
    ));
    sim.inject(FaultSpec::new(
        Target::Api,
        FaultKind::Stall {
            after_bytes: 0,
            seconds: 1.0,
        },
    ));
    assert!(matches!(c.me().await.unwrap_err(), ApiError::Timeout));
    sim.inject(FaultSpec::new(
        Target::Api,
        FaultKind::ResetAfter { bytes: 10 },
    ));
    let e = c.me().await.unwrap_err();
    assert!(matches!(e, ApiError::Network(_)), "{e:?}");
    assert!(e.is_transient());
    // And the next call is healthy again.
    assert!(c.me().await.is_ok());
}

#[tokio::test]
async fn requests_carry_the_user_agent_and_the_key_only_in_authorization() {
    let (sim, c) = sim_with(|_| {}).await;
    c.me().await.unwrap();
    let r = &sim.requests()[0];
    assert!(r.headers.contains(&"authorization".to_string()));
    assert!(r.headers.contains(&"user-agent".to_string()));
    assert!(!r.path.contains("s3cr3t") && !r.query.clone().unwrap_or_default().contains("s3cr3t"));
    assert!(!format!("{c:?}").contains("s3cr3t"));
}

/// The API client checks every redirect hop as the file host's client does: a hop to plain
/// http off this computer is refused before any connection, with the reason; a hop to
/// another host on this computer (the simulator's file host) never carries the key.
#[tokio::test]
async fn api_redirects_are_checked_and_never_carry_the_key_away() {
    let (sim, c) = sim_with(|_| {}).await;
    sim.inject(
        FaultSpec::new(
            Target::Api,
            FaultKind::Redirect {
                location: "http://192.0.2.7/v2/users/me".into(),
            },
        )
        .times(None),
    );
    let e = c.me().await.unwrap_err();
    assert!(format!("{e}").contains("refusing http://192.0.2.7"), "{e}");
    sim.clear_faults();
    // Another origin (the file host's port): followed, without the Authorization header.
    let elsewhere = format!("{}/v2/users/me", sim.files_url());
    sim.inject(FaultSpec::new(
        Target::Api,
        FaultKind::Redirect {
            location: elsewhere,
        },
    ));
    let _ = c.me().await;
    let to_files: Vec<_> = sim
        .requests()
        .into_iter()
        .filter(|r| r.host == Target::Files)
        .collect();
    assert!(!to_files.is_empty(), "the hop was followed");
    assert!(
        to_files
            .iter()
            .all(|r| !r.headers.contains(&"authorization".to_string())),
        "{to_files:?}"
    );
}

#[test]
fn readme_of_a_snapshot_names_the_resource() {
    let z = squarecloud_sim::zipgen::VirtualZip::new("id1", "v1", "Loja São João", 10_000);
    let bytes = z.to_vec();
    let mut a = zip::ZipArchive::new(std::io::Cursor::new(bytes)).unwrap();
    let mut s = String::new();
    a.by_name("README.txt")
        .unwrap()
        .read_to_string(&mut s)
        .unwrap();
    assert!(s.contains("Loja São João"));
}

/// Reads are retried on a gateway page, a reset or a time-out; a create never is.
#[tokio::test]
async fn reads_are_retried_and_creates_are_not() {
    let (sim, c) = sim_with(|_| {}).await;
    let c = c
        .with_timeout(Duration::from_millis(300))
        .with_retries(3, Duration::from_millis(5));
    sim.inject(
        FaultSpec::new(Target::Api, FaultKind::ServerErrorHtml { status: 502 }).times(Some(2)),
    );
    c.me().await.unwrap();
    let gets = sim.requests().iter().filter(|r| r.method == "GET").count();
    assert_eq!(gets, 3, "two failures, then the answer");
    sim.clear_requests();
    sim.inject(
        FaultSpec::new(Target::Api, FaultKind::ServerErrorHtml { status: 502 })
            .on_path("/snapshots"),
    );
    let e = c
        .create_snapshot(ResourceKind::App, ATLAS)
        .await
        .unwrap_err();
    assert!(e.answer_may_be_lost(), "{e:?}");
    assert_eq!(sim.requests().len(), 1, "a create is sent once");
}

/// The key never travels in clear: the API must be https (or this computer).
#[tokio::test]
async fn an_http_api_off_this_computer_is_refused() {
    let key = ApiKey::new("k").unwrap();
    for bad in [
        "http://api.squarecloud.app/v2",
        "http://192.0.2.1/v2",
        "ftp://x/v2",
    ] {
        assert!(
            matches!(Client::new(bad, key.clone()), Err(ApiError::InvalidUrl(_))),
            "{bad}"
        );
    }
    assert!(Client::new("https://api.squarecloud.app/v2", key.clone()).is_ok());
    assert!(Client::new("http://127.0.0.1:1/v2", key).is_ok());
}

/// Error envelopes may carry a message, which the error shows; unset optional fields are
/// left out, and decoding does not mind.
#[tokio::test]
async fn messages_are_shown_and_missing_fields_are_fine() {
    let (_sim, c) = sim_with(|_| {}).await;
    let me = c.me().await.unwrap();
    assert!(me.applications.iter().any(|a| a.domain.is_none()));
    c.create_snapshot(ResourceKind::App, ATLAS).await.unwrap();
    let e = c
        .create_snapshot(ResourceKind::App, ATLAS)
        .await
        .unwrap_err();
    assert_eq!(api_code(&e), (429, ErrorCode::KeepCalm));
    assert!(e.to_string().contains("Slow down"), "{e}");
}

/// A route's own limit (`RATE_LIMIT_EXCEEDED` on `/users/snapshots`) is not an account block.
#[test]
fn only_account_wide_rate_limits_block_everything() {
    let e = |raw: &str| ApiError::Api {
        status: 429,
        code: ErrorCode::parse(raw),
        raw: raw.into(),
        message: None,
    };
    assert!(e("RATE_LIMITED").is_account_block());
    assert!(e("RATE_LIMIT").is_account_block());
    assert!(!e("RATE_LIMIT_EXCEEDED").is_account_block());
    assert!(!e("KEEP_CALM").is_account_block());
}
