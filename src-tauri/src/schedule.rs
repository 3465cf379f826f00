//! Runs the plans in the background while the app is open, in the window or the tray. The
//! first look comes a couple of minutes after start and after the machine wakes (a catch-up
//! of what was missed, once per plan), then every minute. Scheduled work shows in the
//! window like a click's, and a failed plan raises at most one notification a day.
//! A run stopped by the user ("Stop all") is not a failure: it is finished, without what it
//! had done, at the first look after a pause, so a stop is not undone a minute later.

use crate::events::event_sink;
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
            // Every account's plans, each by its own engine: the accounts whose key this
            // computer keeps are signed in first (the window may show only one of them).
            let state = app.state::<AppState>();
            crate::switcher::open_all(&app, &state).await;
            let engines = state.engines.lock().await.all();
            for engine in engines {
                if look(&app, &engine, &mut said).await {
                    wait = AFTER_STOP;
                }
            }
        }
    });
}

/// What a plan's offsite step did, for the window: a failure fails no download (the local
/// copies are kept and recorded); the window says it, and the next run or "Send copies now"
/// resumes. A plan that keeps its copies offsite only says how many wait on this computer
/// for the upload, where, and why.
#[derive(Clone, serde::Serialize)]
struct OffsiteSynced {
    name: String,
    ok: bool,
    uploaded: usize,
    /// Why it failed: the engine's code (the window's words) and message (the detail).
    code: Option<String>,
    message: Option<String>,
    /// The plan keeps its copies there only.
    only: bool,
    /// Copies waiting on this computer for the upload there.
    waiting: usize,
    /// Where they wait (the destination's folder in the account's outbox).
    waiting_in: Option<std::path::PathBuf>,
}

/// Each plan that ran with an offsite destination says what its offsite step did.
fn say_offsite<R: Runtime>(app: &tauri::AppHandle<R>, runs: &[snapshots::plans::PlanRun]) {
    for o in runs
        .iter()
        .filter(|r| !r.stopped)
        .filter_map(|r| r.offsite.as_ref())
    {
        if let Some(e) = &o.error {
            eprintln!("offsite {}: {e}", o.dest);
        }
        let _ = app.emit(
            "offsite-synced",
            OffsiteSynced {
                name: o.dest.clone(),
                ok: o.error.is_none(),
                uploaded: o.uploaded.len(),
                code: o.code.map(String::from),
                message: o.error.clone(),
                only: o.only,
                waiting: o.waiting.len(),
                waiting_in: o.waiting_in.clone(),
            },
        );
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
    // A plan that names an offsite destination uploads there in its run.
    if let Ok((id, st)) = state.account_state(engine) {
        let access = crate::offsite::AppAccess::new(app.clone(), id, st.path());
        engine.set_offsite(Arc::new(access));
    }
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
    say_offsite(app, &runs);
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
