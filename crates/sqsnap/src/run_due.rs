//! `sqsnap run-due`: every plan that is due, once per period, then exit (cron, timers).
//! Every account's plans, each account with its own engine and key, one after another; an
//! account whose key is missing is said and skipped, and the others still run.

use crate::cli::Cli;
use crate::exit::Fail;
use crate::say;
use crate::session::{Session, account_failed, accounts, every, given_key, whose};
use crate::words;
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
            Err(f) => Err(f.within(|w| w.plans_did_not_run)),
        };
        if let Err(f) = done {
            account_failed(cli.json, &whose(&all, k.id.as_str(), &k.name), &f);
            worst = worst.max(Some(f.exit));
        }
    }
    if ran == 0 {
        say::Out::new(cli.json).emit(words::w().nothing_due, serde_json::json!({"due": 0}));
    }
    match worst {
        Some(code) => Err(Fail::says(code, |w| w.accounts_plans_failed, &[])),
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
        Err(e) => s
            .out
            .warn(words::say(|w| w.offsite_unreachable, &[("why", &e.text)])),
    }
    let runs = s
        .engine
        .run_due(chrono::Utc::now(), s.sink(), &s.cancel)
        .await?;
    let mut failed = false;
    let w = words::w();
    for r in &runs {
        failed |= !r.ok;
        s.out.emit(
            words::say(
                |w| w.plan_run,
                &[
                    ("plan", &printable(&r.plan)),
                    ("status", &if r.ok { w.run_done } else { w.run_failed }),
                    ("files", &r.files),
                    ("size", &say::bytes(r.bytes)),
                    (
                        "pruned",
                        &if r.pruned > 0 {
                            words::fill(w.run_pruned, &[("n", &r.pruned)])
                        } else {
                            String::new()
                        },
                    ),
                    (
                        "failures",
                        &if r.failures.is_empty() {
                            String::new()
                        } else {
                            format!("; {}", r.failures.join("; "))
                        },
                    ),
                ],
            ),
            serde_json::to_value(r).unwrap_or_default(),
        );
        // Local and offsite, or offsite only: what its offsite step sent, deleted there by
        // the plan's rule, or left waiting on this computer, and why.
        failed |= !crate::offsite::say_plan_offsite(&s.out, &s.dir, r);
    }
    if runs.is_empty() {
        s.out.emit(w.nothing_due, serde_json::json!({"due": 0}));
    }
    // The same rule as the app's "No recent backup": a timer-only setup hears it here.
    for stale in s.engine.stale_plans(chrono::Utc::now()) {
        s.out.warn(words::fill(
            w.stale,
            &[
                ("plan", &printable(&stale.plan)),
                ("days", &snapshots::plans::STALE_AFTER_DAYS),
                ("time", &stale.since.format("%Y-%m-%d %H:%M")),
            ],
        ));
    }
    if failed {
        return Err(Fail::says(5, |w| w.plans_failed, &[]));
    }
    Ok(())
}
