//! `sqsnap quota`: the daily snapshot quota, reconciled with the lists.

use crate::exit::Fail;
use crate::say;
use crate::session::Session;
use crate::words;

pub async fn run(s: &Session) -> Result<(), Fail> {
    match s.engine.reconcile_quota().await {
        Ok(q) => s
            .out
            .emit(line(&q), serde_json::to_value(&q).unwrap_or_default()),
        Err(e) => {
            let q = s.engine.quota();
            say::err(&format!(
                "sqsnap: {}",
                s.out
                    .named(&words::say(|w| w.quota_estimate, &[("line", &line(&q))]))
            ));
            return Err(e.into());
        }
    }
    Ok(())
}

pub fn line(q: &snapshots::ledger::QuotaStatus) -> String {
    let w = words::w();
    let next = q
        .next_free_at
        .map(|t| words::fill(w.quota_next, &[("time", &t.format("%Y-%m-%d %H:%M"))]))
        .unwrap_or_default();
    let used = words::fill(
        w.quota_line,
        &[
            ("used", &q.used),
            ("total", &q.total),
            ("left", &q.remaining),
        ],
    );
    let estimate = if q.used_is_estimate {
        w.quota_estimated
    } else {
        ""
    };
    format!("{used}{next}{estimate}")
}
