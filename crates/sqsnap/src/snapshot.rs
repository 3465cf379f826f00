//! `sqsnap snapshot`: new snapshots through the engine's queue (spends quota), downloaded
//! if asked.

use crate::cli::SnapshotArgs;
use crate::exit::Fail;
use crate::session::Session;
use snapshots::SnapshotOptions;

pub async fn run(s: &Session, a: &SnapshotArgs) -> Result<(), Fail> {
    if !a.all && a.ids.is_empty() {
        return Err(Fail::says(2, |w| w.snapshot_name_ids, &[]));
    }
    let targets = if a.all {
        s.engine.resources()
    } else {
        a.ids
            .iter()
            .map(|id| s.engine.resource(id))
            .collect::<Result<_, _>>()?
    };
    let opts = SnapshotOptions {
        download: a.download,
        dest: a.dest.clone(),
        wait_for_quota: a.wait,
    };
    let results = s.engine.snapshot(targets, opts, s.sink(), &s.cancel).await;
    let mut worst: Option<Fail> = None;
    for r in results {
        if let Err(e) = r.outcome {
            let f = Fail::from(e);
            if worst.as_ref().is_none_or(|w| f.exit > w.exit) {
                worst = Some(f);
            }
        }
    }
    if let Some(f) = worst {
        return Err(Fail::says(f.exit, |w| w.snapshot_some_failed, &[]));
    }
    Ok(())
}
