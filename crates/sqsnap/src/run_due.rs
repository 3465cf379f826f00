//! `sqsnap run-due`: every plan that is due, once per period, then exit (cron, timers).

use crate::exit::Fail;
use crate::say;
use crate::session::Session;
use snapshots::names::printable;

pub async fn run(s: &Session) -> Result<(), Fail> {
    // Mirrors of large snapshots wait while NetworkManager says "metered".
    s.engine
        .set_metered_check(std::sync::Arc::new(snapshots::metered::is_metered));
    // A plan that names an offsite destination uploads there in its run (the keychain
    // holds the destination's secret and the encryption key). Without it, that step says
    // why, and the downloads stand.
    match crate::offsite::Access::new(s.demo, &s.engine.me().user.id) {
        Ok(access) => s.engine.set_offsite(std::sync::Arc::new(access)),
        Err(e) => say::err(&format!(
            "note: offsite destinations cannot be reached: {}",
            e.1
        )),
    }
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
        // Local and offsite, or offsite only: what its offsite step sent, deleted there by
        // the plan's rule, or left waiting on this computer, and why.
        failed |= !crate::offsite::say_plan_offsite(&s.out, s.demo, r);
    }
    if runs.is_empty() {
        s.out.emit("Nothing is due.", serde_json::json!({"due": 0}));
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
