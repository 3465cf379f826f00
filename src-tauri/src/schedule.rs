//! Runs the plans in the background while the app is open, in the window or the tray. The
//! first look comes a couple of minutes after start and after the machine wakes (a catch-up
//! of what was missed, once per plan), then every minute. Scheduled work shows in the
//! window like a click's, and a failed plan raises at most one notification a day.
//! A run stopped by the user ("Stop all") is not a failure: it is finished, without what it
//! had done, at the first look after a pause, so a stop is not undone a minute later.

use crate::commands::event_sink;
use crate::notify::Notifier;
use crate::state::AppState;
use chrono::{NaiveDate, Utc};
use snapshots::Engine;
use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tauri::{Emitter, Manager, Runtime};

/// How long after start (or wake) the first run waits: `SQSNAP_PLANS_DELAY_SECS` overrides.
fn first_delay() -> Duration {
    std::env::var("SQSNAP_PLANS_DELAY_SECS")
        .ok()
        .and_then(|s| s.parse().ok())
        .map(Duration::from_secs)
        .unwrap_or(Duration::from_secs(120))
}

const EVERY: Duration = Duration::from_secs(60);

/// How long the next look waits after the user stopped a scheduled run.
const AFTER_STOP: Duration = Duration::from_secs(15 * 60);

pub fn start<R: Runtime>(app: tauri::AppHandle<R>) {
    tauri::async_runtime::spawn(async move {
        let mut said = Said::default();
        let mut wait = first_delay();
        loop {
            let (mono, wall) = (Instant::now(), Utc::now());
            tokio::time::sleep(wait).await;
            // A much longer wall-clock gap than we slept: the machine was asleep.
            let slept = (Utc::now() - wall).to_std().unwrap_or_default();
            if slept > mono.elapsed() + Duration::from_secs(120) {
                wait = first_delay();
                continue;
            }
            wait = EVERY;
            // Every signed-in account's plans, each by its own engine.
            let engines = app.state::<AppState>().engines.lock().await.all();
            for engine in engines {
                if look(&app, &engine, &mut said).await {
                    wait = AFTER_STOP;
                }
            }
        }
    });
}

/// What a sync after plans did, for the window: a failure fails no download (the local
/// copies are kept and recorded); the window says it, and the next run or "Send copies now"
/// resumes.
#[derive(Clone, serde::Serialize)]
struct OffsiteSynced {
    name: String,
    ok: bool,
    uploaded: usize,
    message: Option<String>,
}

/// Each offsite destination a plan that ran names gets what it lacks (the plans' new
/// verified downloads among them), as `sqsnap run-due` does.
async fn after_plans<R: Runtime>(
    app: &tauri::AppHandle<R>,
    engine: &Arc<Engine>,
    runs: &[snapshots::plans::PlanRun],
) {
    let plans = engine.plans().plans;
    let mut names: Vec<String> = runs
        .iter()
        .filter(|r| !r.stopped)
        .filter_map(|r| plans.iter().find(|p| p.id == r.plan)?.offsite.clone())
        .collect();
    names.sort();
    names.dedup();
    let state = app.state::<AppState>();
    let cancel = state.cancel_token();
    for name in names {
        let tell = |u: crate::offsite::UploadEvent| {
            let _ = app.emit(crate::offsite::UPLOAD_EVENT, u);
        };
        let said = match crate::offsite::sync_one(&state, engine, &name, &cancel, &tell).await {
            Ok(v) => OffsiteSynced {
                name,
                ok: true,
                uploaded: v.uploaded,
                message: None,
            },
            Err(e) => {
                eprintln!("offsite {name}: {}", e.message);
                OffsiteSynced {
                    name,
                    ok: false,
                    uploaded: 0,
                    message: Some(e.message),
                }
            }
        };
        let _ = app.emit("offsite-synced", said);
    }
}

/// What was said today, per account and plan: at most one notification of each a day.
#[derive(Default)]
struct Said {
    failed_on: HashMap<(String, String), NaiveDate>,
    warned_on: HashMap<(String, String), NaiveDate>,
}

/// Runs the account's due plans and says what needs saying. True when the user stopped a
/// run (the next look waits longer).
async fn look<R: Runtime>(
    app: &tauri::AppHandle<R>,
    engine: &Arc<Engine>,
    said: &mut Said,
) -> bool {
    let state = app.state::<AppState>();
    let notifier = app.state::<Notifier>();
    let account = engine.me().user.id;
    // One look is one run: what its plans downloaded is said once, when it returns.
    let (events, run) = event_sink(engine, app);
    let ran = engine
        .run_due(Utc::now(), events, &state.cancel_token())
        .await;
    run.flush();
    let runs = match ran {
        Ok(runs) => runs,
        Err(e) => {
            eprintln!("plans: {e}");
            return false;
        }
    };
    let today = Utc::now().date_naive();
    for run in runs.iter().filter(|r| !r.stopped) {
        let key = (account.clone(), run.plan.clone());
        if run.ok && run.postponed.is_empty() {
            said.failed_on.remove(&key);
            notifier.plan_succeeded(&run.plan);
        } else if said.failed_on.get(&key) != Some(&today) {
            // At most one a plan a day.
            said.failed_on.insert(key, today);
            if run.ok {
                notifier.plan_postponed(&run.plan, &run.postponed.join("; "));
            } else {
                notifier.plan_failed(
                    &run.plan,
                    &run.failures.join("; "),
                    run.failed_ids.first().cloned(),
                );
            }
        }
    }
    if !runs.is_empty() {
        let _ = app.emit("plans-ran", &runs);
    }
    after_plans(app, engine, &runs).await;
    // A plan with no successful run for days says so, once a day: the engine's rule, the
    // one `sqsnap run-due` warns by too.
    for stale in engine.stale_plans(Utc::now()) {
        let key = (account.clone(), stale.plan.clone());
        if said.warned_on.get(&key) != Some(&today) {
            notifier.no_backup_in_days(&stale.plan, snapshots::plans::STALE_AFTER_DAYS);
            said.warned_on.insert(key, today);
        }
    }
    runs.iter().any(|r| r.stopped)
}
