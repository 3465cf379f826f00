//! `sqsnap quota`: the daily snapshot quota, reconciled with the lists.

use crate::exit::Fail;
use crate::say;
use crate::session::Session;

pub async fn run(s: &Session) -> Result<(), Fail> {
    match s.engine.reconcile_quota().await {
        Ok(q) => s
            .out
            .emit(line(&q), serde_json::to_value(&q).unwrap_or_default()),
        Err(e) => {
            let q = s.engine.quota();
            say::err(&format!(
                "sqsnap: {}",
                s.out.named(&format!(
                    "could not read the lists, so this is this computer's estimate: {}",
                    line(&q)
                ))
            ));
            return Err(e.into());
        }
    }
    Ok(())
}

pub fn line(q: &snapshots::ledger::QuotaStatus) -> String {
    let next = q
        .next_free_at
        .map(|t| format!("; next frees up at {} UTC", t.format("%Y-%m-%d %H:%M")))
        .unwrap_or_default();
    format!(
        "Quota: {} of {} used, {} left{next}{}",
        q.used,
        q.total,
        q.remaining,
        if q.used_is_estimate {
            " (estimated: snapshots made elsewhere may not be counted)"
        } else {
            ""
        }
    )
}
