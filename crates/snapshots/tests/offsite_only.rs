//! Plans that keep their copies offsite only, against the simulator and a real S3 server
//! (s3s-fs in process, or the one `SQSNAP_S3_SERVER` names): each download waits in the
//! account's outbox (0700), is uploaded and checked, and only then leaves this computer;
//! the plan's rule is applied in the bucket; an unreachable destination keeps the staged
//! copies, says where and why, and the next run sends them.

mod common;
mod pyrage;
mod s3server;

use common::*;
use snapshots::library::{LIBRARY, Library, Retention};
use snapshots::offsite::access::{OffsiteAccess, Reach};
use snapshots::offsite::{OFFSITE, OffsiteConfig, OffsiteError, Offsites, S3Client, outbox};
use snapshots::plans::{Keeps, PlanError, PlanKind, Schedule, Scope};
use snapshots::seal::{self, SealIdentity, SealRecipient};
use snapshots::statedir::StateDir;
use squarecloud_sim::SimConfig;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use tokio_util::sync::CancellationToken;

/// Reaches the destinations as `offsite.json` in `data` configures them (read at each
/// run, as the app's and sqsnap's access do), with the test server's secret; sealed to
/// `recipient` when a destination encrypts.
struct Direct {
    data: PathBuf,
    recipient: Option<SealRecipient>,
}

impl OffsiteAccess for Direct {
    fn reach(&self, name: &str) -> Result<Reach, OffsiteError> {
        let all: Offsites = StateDir::open(&self.data)?.read(OFFSITE)?;
        let cfg = all
            .get(name)
            .cloned()
            .ok_or_else(|| OffsiteError::Config(format!("no offsite destination named {name}")))?;
        let recipient = cfg.encrypt.then(|| self.recipient.clone()).flatten();
        Ok(Reach {
            client: S3Client::new(cfg, s3server::SK.into())?,
            recipient,
        })
    }
}

fn destination(endpoint: &str, encrypt: bool) -> OffsiteConfig {
    OffsiteConfig {
        name: "lab".into(),
        endpoint: endpoint.into(),
        region: "us-east-1".into(),
        bucket: s3server::BUCKET.into(),
        prefix: "only".into(),
        path_style: true,
        access_key_id: s3server::AK.into(),
        encrypt,
    }
}

fn set_destination(data: &Path, cfg: OffsiteConfig) {
    StateDir::open(data)
        .unwrap()
        .update(OFFSITE, |o: &mut Offsites| {
            o.destinations.retain(|d| d.name != cfg.name);
            o.destinations.push(cfg);
        })
        .unwrap();
}

/// One application with `history` automatic snapshots on the server.
fn with_history(history: u32) -> SimConfig {
    let mut account = tiny_account(1, 4096, 30_000);
    account.applications[0].history = history;
    SimConfig::new(KEY, account).instant_creates()
}

/// A mirror plan of the one application, offsite only to "lab", keeping the last `n`.
fn only_plan(n: u32) -> snapshots::plans::Plan {
    snapshots::plans::Plan {
        id: "far".into(),
        kind: PlanKind::Mirror,
        scope: Scope::Resources { ids: vec![id(0)] },
        schedule: Schedule::Hour,
        retention: Retention::Last { n },
        dest: None,
        offsite: Some("lab".into()),
        offsite_only: true,
    }
}

/// The versions whose copy the library records in "lab", with their object keys.
fn in_bucket(lib: &Library) -> Vec<(String, String)> {
    let mut v: Vec<(String, String)> = lib
        .entries
        .iter()
        .flat_map(|e| {
            e.copies
                .iter()
                .filter_map(|c| snapshots::offsite::parse_at(&c.at))
                .map(|(_, key)| (e.version.clone().unwrap_or_default(), key.to_string()))
        })
        .collect();
    v.sort();
    v
}

/// An offsite-only plan: the objects in the bucket are the server's archives, byte for
/// byte; nothing is left in the user's folder, the outbox or the sealing stage; the plan's
/// rule applies in the bucket; the next run downloads and uploads only what is new.
#[tokio::test]
async fn an_offsite_only_plan_keeps_its_copies_in_the_bucket_only() {
    let (sim, engine, dir) = start(with_history(4)).await;
    let s3 = s3server::start().await;
    let data = dir.path().join("data");
    // The user's folder is the default one: nothing of this plan may land there.
    let mine = folder(dir.path(), "backups");
    engine
        .update_settings(|s| s.default_dest = Some(mine.clone()))
        .unwrap();

    // Refused: a destination the account does not have, and offsite only with none.
    let e = engine.add_plan(only_plan(2)).unwrap().unwrap_err();
    assert!(
        matches!(&e, PlanError::Invalid(m) if m.contains("No offsite destination named lab")),
        "{e}"
    );
    let mut nameless = only_plan(2);
    nameless.offsite = None;
    let e = engine.add_plan(nameless).unwrap().unwrap_err();
    assert!(e.to_string().contains("offsite only needs"), "{e}");

    set_destination(&data, destination(&s3.endpoint, false));
    engine.set_offsite(Arc::new(Direct {
        data: data.clone(),
        recipient: None,
    }));
    engine.add_plan(only_plan(2)).unwrap().unwrap();
    let plan = engine.plans().plans[0].clone();
    assert_eq!(plan.keeps(), Keeps::Offsite("lab"));
    due_again(&engine, "far");

    let (sink, _) = collect();
    let cancel = CancellationToken::new();
    let runs = engine
        .run_due(chrono::Utc::now(), sink.clone(), &cancel)
        .await
        .unwrap();
    let run = &runs[0];
    assert!(run.ok && run.postponed.is_empty(), "{run:?}");
    assert_eq!(run.files, 4, "{run:?}");
    let o = run.offsite.as_ref().expect("the offsite step ran");
    assert_eq!((o.uploaded.len(), o.cleared.len()), (4, 4), "{o:?}");
    assert!(o.error.is_none() && o.waiting.is_empty(), "{o:?}");
    assert_eq!(o.kept.as_ref().map(|k| k.deleted.len()), Some(2), "{o:?}");
    assert_eq!(run.pruned, 2, "the rule's deletions are the bucket's");

    // The bucket holds the two newest versions, each the server's archive as it is.
    let versions = sim.versions(&id(0));
    let lib: Library = StateDir::open(&data).unwrap().read(LIBRARY).unwrap();
    let there = in_bucket(&lib);
    let kept: Vec<&String> = there.iter().map(|(v, _)| v).collect();
    let mut newest: Vec<&String> = versions.iter().rev().take(2).collect();
    newest.sort();
    assert_eq!(kept, newest, "{there:?}");
    for (v, key) in &there {
        let bytes = sim.archive(&id(0), v).unwrap();
        assert!(s3.object(key).await.unwrap() == bytes, "{key}");
    }
    // Nothing on this computer: not in the user's folder, the outbox or the sealing stage;
    // the outbox folder is the account's alone.
    assert!(files_under(&mine).is_empty(), "{:?}", files_under(&mine));
    let out = outbox::dir(&data, "lab");
    assert!(files_under(&data.join(outbox::OUTBOX)).is_empty());
    assert!(files_under(&data.join(seal::STAGING)).is_empty());
    assert_eq!(mode(&out), 0o700);
    assert_eq!(mode(&data.join(outbox::OUTBOX)), 0o700);
    assert!(lib.entries.iter().all(|e| !e.path.exists()));
    assert!(lib.outbox.is_empty(), "{:?}", lib.outbox);
    // Every version is known (kept there, or deleted there on purpose): none comes back.
    assert_eq!(lib.known_versions(&id(0)).len(), 4);
    // The history says what went where.
    let note = engine.plans().state["far"].history.back().unwrap().clone();
    let note = note.offsite.expect("the run's offsite note");
    assert_eq!((note.uploaded, note.deleted, note.waiting), (4, 2, 0));

    // A day later: one new automatic snapshot. Only it is downloaded and sent; the rule
    // drops the oldest there.
    let before = sim.versions(&id(0)).len();
    sim.advance(std::time::Duration::from_secs(24 * 3600));
    due_again(&engine, "far");
    let runs = engine
        .run_due(chrono::Utc::now(), sink, &cancel)
        .await
        .unwrap();
    // The server makes its automatic snapshot when it is next asked.
    let new = sim.versions(&id(0)).len() - before;
    assert!(new >= 1, "a day brings an automatic snapshot");
    let run = &runs[0];
    assert!(run.ok, "{run:?}");
    assert_eq!(run.files as usize, new, "only the new versions: {run:?}");
    let o = run.offsite.as_ref().unwrap();
    assert_eq!(o.uploaded.len(), new, "{o:?}");
    assert_eq!(o.kept.as_ref().map(|k| k.deleted.len()), Some(new), "{o:?}");
    let versions = sim.versions(&id(0));
    let lib: Library = StateDir::open(&data).unwrap().read(LIBRARY).unwrap();
    let kept: Vec<String> = in_bucket(&lib).into_iter().map(|(v, _)| v).collect();
    let mut newest: Vec<String> = versions.iter().rev().take(2).cloned().collect();
    newest.sort();
    assert_eq!(kept, newest);
    assert!(files_under(&data.join(outbox::OUTBOX)).is_empty());
    assert!(files_under(&mine).is_empty());
    let puts: Vec<String> = s3
        .log()
        .into_iter()
        .filter(|l| l.starts_with("PUT "))
        .collect();
    assert_eq!(puts.len(), 4 + new, "each version sent once: {puts:?}");
}

/// An encrypting destination that cannot be reached: the staged copies stay in the outbox
/// (the plan's keep-last-1 deletes none of them: they may be the only copies), the run
/// says how many wait, where and why; the next run, the destination back, sends them
/// sealed (our age and pyrage open them to the server's archives) and leaves nothing here.
#[tokio::test]
async fn an_unreachable_destination_keeps_the_staged_copies_and_the_next_run_sends_them() {
    let (sim, engine, dir) = start(with_history(2)).await;
    let s3 = s3server::start().await;
    let data = dir.path().join("data");
    // Nothing listens there.
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let nowhere = format!("http://{}", closed.local_addr().unwrap());
    drop(closed);
    set_destination(&data, destination(&nowhere, true));
    let key = SealIdentity::generate();
    engine.set_offsite(Arc::new(Direct {
        data: data.clone(),
        recipient: Some(key.recipient()),
    }));
    engine.add_plan(only_plan(1)).unwrap().unwrap();
    due_again(&engine, "far");
    let (sink, _) = collect();
    let cancel = CancellationToken::new();
    let runs = engine
        .run_due(chrono::Utc::now(), sink.clone(), &cancel)
        .await
        .unwrap();
    let run = &runs[0];
    assert_eq!(run.files, 2, "{run:?}");
    let out = outbox::dir(&data, "lab");
    let waiting = files_under(&out);
    assert_eq!(waiting.len(), 2, "both staged copies stay: {waiting:?}");
    for f in &waiting {
        snapshots::verify::verify_zip(f, None, true).unwrap();
    }
    let said = run.postponed.join(" ");
    assert!(
        said.contains("2 copies wait on this computer")
            && said.contains(&out.display().to_string())
            && said.contains("for the upload to lab")
            && said.contains("The connection to the offsite server failed"),
        "{said}"
    );
    let o = run.offsite.as_ref().unwrap();
    assert_eq!(o.waiting.len(), 2);
    let note = engine.plans().state["far"].history.back().unwrap().clone();
    let note = note.offsite.unwrap();
    assert_eq!(note.waiting, 2);
    assert_eq!(note.waiting_in.as_deref(), Some(out.as_path()));
    assert!(note.error.unwrap().contains("connection"));
    // The window words it by its code, which the history keeps beside the message.
    assert_eq!(note.code.as_deref(), Some("offsite_network"));
    assert_eq!(o.code, Some("offsite_network"));
    assert!(s3.log().is_empty(), "nothing reached the real server");

    // The destination is back: the next run downloads nothing again and sends both.
    set_destination(&data, destination(&s3.endpoint, true));
    due_again(&engine, "far");
    let served = sim.file_bytes_served();
    let runs = engine
        .run_due(chrono::Utc::now(), sink, &cancel)
        .await
        .unwrap();
    let run = &runs[0];
    assert!(run.ok && run.postponed.is_empty(), "{run:?}");
    assert_eq!(
        (run.files, sim.file_bytes_served()),
        (0, served),
        "downloaded again"
    );
    let o = run.offsite.as_ref().unwrap();
    assert_eq!(
        (o.uploaded.len(), o.cleared.len(), o.waiting.len()),
        (2, 2, 0),
        "{o:?}"
    );
    assert_eq!(o.kept.as_ref().map(|k| k.deleted.len()), Some(1), "{o:?}");
    assert!(files_under(&data.join(outbox::OUTBOX)).is_empty());
    assert!(files_under(&data.join(seal::STAGING)).is_empty());
    // What is left there is the newest version, sealed: it opens to the server's archive.
    let lib: Library = StateDir::open(&data).unwrap().read(LIBRARY).unwrap();
    let there = in_bucket(&lib);
    let newest = sim.versions(&id(0)).last().unwrap().clone();
    assert_eq!(there.len(), 1, "{there:?}");
    let (v, object) = &there[0];
    assert_eq!(v, &newest);
    assert!(object.ends_with(".zip.age"), "{object}");
    let archive = sim.archive(&id(0), v).unwrap();
    let sealed = dir.path().join("copy.zip.age");
    std::fs::write(&sealed, s3.object(object).await.unwrap()).unwrap();
    let plain = dir.path().join("copy.zip");
    seal::open_file(&sealed, &plain, &key).unwrap();
    assert!(std::fs::read(&plain).unwrap() == archive);
    if let Some(py) = pyrage::python() {
        let rec = dir.path().join("recovery.age");
        let pw = "a passphrase of some length";
        seal::identity::export_recovery(&key, None, pw, &rec).unwrap();
        let by = dir.path().join("by-pyrage.zip");
        pyrage::decrypt(&py, &rec, pw, &sealed, &by);
        assert!(
            std::fs::read(&by).unwrap() == archive,
            "pyrage read other bytes"
        );
    }
}
