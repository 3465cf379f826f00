//! `sqsnap run-due`: every plan that is due, once per period, then exit (cron, timers).

use crate::exit::Fail;
use crate::say;
use crate::session::Session;
use snapshots::names::printable;

pub async fn run(s: &Session) -> Result<(), Fail> {
    // Mirrors of large snapshots wait while NetworkManager says "metered".
    s.engine
        .set_metered_check(std::sync::Arc::new(snapshots::metered::is_metered));
    let runs = s
        .engine
        .run_due(chrono::Utc::now(), s.sink(), &s.cancel)
        .await?;
    let mut failed = false;
    for r in &runs {
        failed |= !r.ok;
        s.out.emit(
            format!(
                "{}: {} ({} new files, {}{}{})",
                printable(&r.plan),
                if r.ok { "done" } else { "FAILED" },
                r.files,
                say::bytes(r.bytes),
                if r.pruned > 0 {
                    format!(", {} old files deleted", r.pruned)
                } else {
                    String::new()
                },
                if r.failures.is_empty() {
                    String::new()
                } else {
                    format!("; {}", r.failures.join("; "))
                }
            ),
            serde_json::to_value(r).unwrap_or_default(),
        );
    }
    if runs.is_empty() {
        s.out.emit("Nothing is due.", serde_json::json!({"due": 0}));
    }
    // Local and offsite: the destinations the plans that ran name get their copies, then
    // each plan's retention there.
    let plans = s.engine.plans().plans;
    let offsite: Vec<crate::offsite::PlanCopies> = runs
        .iter()
        .filter_map(|r| plans.iter().find(|p| p.id == r.plan))
        .filter_map(|p| {
            Some(crate::offsite::PlanCopies {
                plan: p.id.clone(),
                dest: p.offsite.clone()?,
                rule: snapshots::library::Rule::Plan(p.retention.clone()),
                ids: s.engine.plan_resources(p),
            })
        })
        .collect();
    if let Err(e) =
        crate::offsite::after_plans(&s.out, s.demo, s.engine.rate_limit(), &offsite).await
    {
        say::err(&format!("Offsite copies not made: {}", e.1));
        failed = true;
    }
    // The same rule as the app's "No recent backup": a timer-only setup hears it here.
    for stale in s.engine.stale_plans(chrono::Utc::now()) {
        say::err(&format!(
            "Warning: plan {} has not backed up successfully in more than {} days (last success, or creation: {} UTC).",
            printable(&stale.plan),
            snapshots::plans::STALE_AFTER_DAYS,
            stale.since.format("%Y-%m-%d %H:%M")
        ));
    }
    if failed {
        return Err(Fail(5, "Some plans did not complete (see above).".into()));
    }
    Ok(())
}
