//! Two accounts' snapshot-all at once (issue #25): one simulator with two keys, each
//! account signed in as the window and `sqsnap` do it (its own folder under one data root,
//! its own keychain item, its own engine), both engines running snapshot-all at the same
//! time. Each account keeps its own pace: nothing refused, every create accepted, no faster
//! than its own account's window allows; each key asks only for its own account's resources
//! and each account's quota and ledger count only its own creates.
//!
//! How close each account comes to its bound (≤ 1.05×) is measured by `make bench`
//! (the pace example's two-account rows in docs/benchmarks.md), not asserted here: this test
//! runs beside other builds on a small machine, where a timed assertion that tight would
//! fail for reasons that are not the engine's. The loose ceiling below (the same 1.5× the
//! single-account test in trust.rs uses) only catches an engine that stops pipelining
//! (one create after another's answer costs account one over 7×). One account waiting on
//! the other's windows is caught without a clock: their creates then never come closer
//! than a window apart.

mod common;

use common::*;
use snapshots::accounts::{AccountId, Accounts};
use snapshots::ledger::Ledger;
use snapshots::secret::MemoryKeychain;
use snapshots::squarecloud::ApiKey;
use snapshots::{Engine, EngineConfig, JobResult, SnapshotOptions, signin};
use squarecloud_sim::{AccountSpec, SimConfig, Simulator, Target, WindowRule};
use std::collections::BTreeSet;
use std::path::Path;
use std::time::{Duration, Instant};
use tokio_util::sync::CancellationToken;

const SECOND_KEY: &str = "527104883960201216-second-test-key";
const SECOND_ID: &str = "527104883960201216";
/// Bytes a second of archive a create generates: its size sets how long it takes.
const RATE: u64 = 1024 * 1024;
/// Simulated seconds per real second. The engine's margin before each window is real time
/// (three times the longest recent list's round trip, 20 ms at least), and two engines with
/// the simulator in one debug process on a busy machine see lists of 50 ms and more: at
/// 20×, trust.rs's clock, that showed as 1–3.4 s more in each 5 s window (one run at 1.67×
/// its bound). At 5×, the bench's clock where the margin matters, the windows read 5.2–6.5 s
/// here (at most 1.27× the bound).
const SCALE: f64 = 5.0;

/// One account of the run: what it owns and how long each of its creates takes.
struct Side {
    id: String,
    key: &'static str,
    /// Its resources' generation times, in simulated seconds.
    gens: Vec<f64>,
    ids: BTreeSet<String>,
}

impl Side {
    /// The least makespan its own 1-create-per-window rule allows when the server counts
    /// each window from the request's arrival: every gap, then the quickest create last.
    fn bound(&self, gap: Duration) -> f64 {
        let n = self.gens.len() as f64;
        (n - 1.0) * gap.as_secs_f64() + self.gens.iter().cloned().fold(f64::MAX, f64::min)
    }
}

/// `n` applications whose ids start at number `first`, each create taking 2 s plus
/// `extra(i)` s (by archive size); a quota of 128 a day, so quota is not what is tested.
fn account(id: &str, n: usize, first: usize, extra: impl Fn(usize) -> u64) -> AccountSpec {
    let mut a = tiny_account(n, 16384, 0);
    a.id = id.into();
    a.name = format!("account {id}");
    a.email = format!("{id}@example.com");
    for (i, app) in a.applications.iter_mut().enumerate() {
        app.id = common::id(first + i);
        app.name = format!("app {}", first + i);
        app.snapshot_size = extra(i) * RATE + 1000;
    }
    a
}

fn side(a: &AccountSpec, key: &'static str) -> Side {
    Side {
        id: a.id.clone(),
        key,
        gens: a
            .applications
            .iter()
            .map(|r| 2.0 + (r.snapshot_size / RATE) as f64)
            .collect(),
        ids: a.applications.iter().map(|r| r.id.clone()).collect(),
    }
}

/// The account's engine as signing in makes it: its folder under `root`, its key in its
/// own keychain item.
async fn sign_in(
    sim: &Simulator,
    root: &Path,
    keychain: &MemoryKeychain,
    key: &str,
) -> (Engine, std::path::PathBuf) {
    let accounts = Accounts::open(root).unwrap();
    let mut cfg = EngineConfig::new(sim.api_url(), root);
    cfg.files_url = Some(sim.files_url());
    cfg.limits = limits_of(sim);
    let added = signin::add_account(&accounts, keychain, &cfg, ApiKey::new(key).unwrap(), false)
        .await
        .unwrap();
    let id: AccountId = added.account.id;
    let engine = signin::open(&accounts, keychain, &cfg, &id)
        .await
        .unwrap()
        .expect("the key was just kept");
    (engine, accounts.dir(&id))
}

/// Snapshot-all (creates only) on `engine`; its results and its makespan in simulated
/// seconds, from `t0`, the moment both runs were started.
async fn snapshot_all(engine: &Engine, t0: Instant) -> (Vec<JobResult>, f64) {
    let (sink, _) = collect();
    let res = engine
        .snapshot(
            engine.resources(),
            SnapshotOptions::default(),
            sink,
            &CancellationToken::new(),
        )
        .await;
    (res, t0.elapsed().as_secs_f64() * SCALE)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_accounts_snapshot_all_at_once_each_at_its_own_pace() {
    // Account one: 20 creates of 2–59 s (trust.rs's spread); account two: 12 creates of
    // 7–51 s. Different counts and spreads give each account a bound of its own.
    let one = account(&AccountSpec::demo().id, 20, 0, |i| {
        ((i * 37) % 20) as u64 * 3
    });
    let two = account(SECOND_ID, 12, 100, |i| 5 + ((i * 5) % 12) as u64 * 4);
    let sides = [side(&one, KEY), side(&two, SECOND_KEY)];
    let mut c = SimConfig::new(KEY, one).with_account(SECOND_KEY, two);
    c.time_scale = SCALE;
    c.generation_time = Duration::from_secs(2);
    c.generation_bytes_per_sec = RATE;
    c.limits.window_rule = WindowRule::Arrival;
    let gap = c.limits.account_gap;
    let sim = Simulator::start(c).await.unwrap();
    let root = tempfile::tempdir().unwrap();
    let keychain = MemoryKeychain::default();
    let (e1, dir1) = sign_in(&sim, root.path(), &keychain, KEY).await;
    let (e2, dir2) = sign_in(&sim, root.path(), &keychain, SECOND_KEY).await;
    assert_ne!(dir1, dir2, "each account has a folder of its own");

    let t0 = Instant::now();
    let (r1, r2) = tokio::join!(snapshot_all(&e1, t0), snapshot_all(&e2, t0));

    let log = sim.requests();
    // Every API request carried one of the two keys.
    assert!(
        log.iter()
            .filter(|q| q.host == Target::Api)
            .all(|q| q.account.is_some()),
        "a request carried no account's key"
    );
    // The two accounts' windows are their own: while both run, a create of one arrives
    // well inside the other's window (one window for both would hold them 5 s apart).
    let creates_of = |who: &str| -> Vec<_> {
        log.iter()
            .filter(|q| q.method == "POST" && q.account.as_deref() == Some(who))
            .map(|q| q.at)
            .collect()
    };
    let (c1, c2) = (creates_of(&sides[0].id), creates_of(&sides[1].id));
    let closest = c1
        .iter()
        .flat_map(|a| c2.iter().map(move |b| (*a - *b).abs()))
        .min()
        .unwrap();
    assert!(
        closest.to_std().unwrap() < gap / 2,
        "the accounts' creates were never less than half a window apart: {closest}"
    );
    let all_ids: BTreeSet<&String> = sides.iter().flat_map(|s| &s.ids).collect();
    for (s, e, dir, (res, makespan)) in [(&sides[0], &e1, &dir1, r1), (&sides[1], &e2, &dir2, r2)] {
        let who = &s.id;
        assert_eq!(e.me().user.id, *who, "key {} opened another account", s.key);
        assert_eq!(res.len(), s.ids.len(), "{who}: {res:?}");
        assert!(res.iter().all(|r| r.outcome.is_ok()), "{who}: {res:?}");
        let mine: Vec<_> = log
            .iter()
            .filter(|q| q.account.as_deref() == Some(who.as_str()))
            .collect();
        // Not one refused request under this account's key.
        let refused: Vec<_> = mine.iter().filter(|q| q.status == 429).collect();
        assert!(refused.is_empty(), "{who}: refused {refused:?}");
        // Its key asked only about its own resources.
        for q in &mine {
            let named: Vec<_> = all_ids.iter().filter(|id| q.path.contains(**id)).collect();
            assert!(
                named.iter().all(|id| s.ids.contains(**id)),
                "{who} asked for another account's resource: {} {}",
                q.method,
                q.path
            );
        }
        // One accepted create per own resource, no other create.
        let creates: Vec<_> = mine.iter().filter(|q| q.method == "POST").collect();
        let created: BTreeSet<String> = creates
            .iter()
            .filter(|q| q.status == 200 || q.status == 202)
            .filter_map(|q| {
                s.ids
                    .iter()
                    .find(|id| q.path.contains(id.as_str()))
                    .cloned()
            })
            .collect();
        assert_eq!(creates.len(), s.ids.len(), "{who}: {creates:?}");
        assert_eq!(created, s.ids, "{who}: every create accepted, each once");
        // Its quota, as the server and as its own engine and ledger count it: its creates.
        assert_eq!(
            sim.quota_used(who),
            Some(s.ids.len()),
            "{who}: server quota"
        );
        assert_eq!(e.quota().used as usize, s.ids.len(), "{who}: engine quota");
        let ledger: Ledger =
            serde_json::from_slice(&std::fs::read(dir.join("ledger.json")).unwrap()).unwrap();
        let accounts: Vec<&String> = ledger.accounts.keys().collect();
        assert_eq!(accounts, [who], "{who}: its ledger counts only itself");
        assert_eq!(ledger.accounts[who].entries.len(), s.ids.len());

        // Never faster than its own account's window allows: the creates' arrivals are a
        // window apart at least (the server would have refused otherwise), and the run
        // lasts at least the bound. The log's times are taken as each request arrives, a
        // moment before the server reads its clock for the window: a millisecond of slack.
        let at: Vec<_> = creates.iter().map(|q| q.at).collect();
        let span = (at[at.len() - 1] - at[0]).to_std().unwrap();
        let least = gap * (s.ids.len() as u32 - 1);
        assert!(
            span + Duration::from_millis(1) >= least,
            "{who}: creates within {span:?}, under the {least:?} its window allows"
        );
        let bound = s.bound(gap);
        assert!(
            makespan >= bound - 0.001,
            "{who}: {makespan:.1} s, faster than the bound {bound:.1} s"
        );
        // A sanity ceiling only (see the top of this file): the 1.05× goal is `make bench`'s.
        assert!(
            makespan <= bound * 1.5,
            "{who}: {makespan:.1} s vs its bound {bound:.1} s"
        );
    }
}
