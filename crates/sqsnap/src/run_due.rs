//! `sqsnap run-due`: every plan that is due, once per period, then exit (cron, timers).
//! Every account's plans, each account with its own engine and key, one after another; an
//! account whose key is missing is said and skipped, and the others still run.

use crate::cli::Cli;
use crate::exit::Fail;
use crate::say;
use crate::session::{Session, account_failed, accounts, every, given_key, whose};
use snapshots::names::printable;
use snapshots::plans::{PLANS, Plans};
use snapshots::statedir::StateDir;

pub async fn run(cli: &Cli) -> Result<(), Fail> {
    let Some(known) = every(cli)? else {
        let s = Session::open(cli).await?;
        return one(&s).await.map_err(|f| s.named(f));
    };
    let given = given_key(cli).await?;
    let all = accounts(false)?;
    let mut worst: Option<u8> = None;
    let mut ran = 0;
    for k in known.iter().filter(|k| has_plans(&all.dir(&k.id))) {
        ran += 1;
        let done = match Session::open_known(cli, k, given.as_ref()).await {
            Ok(s) => one(&s).await,
            Err(f) => Err(Fail(f.0, format!("its plans did not run: {}", f.1))),
        };
        if let Err(f) = done {
            account_failed(cli.json, &whose(&all, k.id.as_str(), &k.name), &f);
            worst = worst.max(Some(f.0));
        }
    }
    if ran == 0 {
        say::Out::new(cli.json).emit("Nothing is due.", serde_json::json!({"due": 0}));
    }
    match worst {
        Some(code) => Err(Fail(
            code,
            "Some accounts' plans did not run or did not complete (see above).".into(),
        )),
        None => Ok(()),
    }
}

/// Whether the account whose folder is `dir` has plans (valid or not): one that has none
/// needs neither its key nor a call to Square Cloud.
fn has_plans(dir: &std::path::Path) -> bool {
    if !dir.join(PLANS).exists() {
        return false;
    }
    StateDir::open(dir)
        .and_then(|s| s.read::<Plans>(PLANS))
        .map_or(true, |p| !p.plans.is_empty() || !p.invalid.is_empty())
}

/// One account's plans that are due.
async fn one(s: &Session) -> Result<(), Fail> {
    // Mirrors of large snapshots wait while NetworkManager says "metered".
    s.engine
        .set_metered_check(std::sync::Arc::new(snapshots::metered::is_metered));
    // A plan that names an offsite destination uploads there in its run (the keychain
    // holds the destination's secret and the encryption key). Without it, that step says
    // why, and the downloads stand.
    match crate::offsite::Access::new(s.demo, &s.engine.me().user.id, s.out.named("")) {
        Ok(access) => s.engine.set_offsite(std::sync::Arc::new(access)),
        Err(e) => s.out.warn(format!(
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
        failed |= !crate::offsite::say_plan_offsite(&s.out, &s.dir, r);
    }
    if runs.is_empty() {
        s.out.emit("Nothing is due.", serde_json::json!({"due": 0}));
    }
    // The same rule as the app's "No recent backup": a timer-only setup hears it here.
    for stale in s.engine.stale_plans(chrono::Utc::now()) {
        s.out.warn(format!(
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
