//! `sqsnap offsite`: S3-compatible destinations of the signed-in account (add, list, remove,
//! test) and `sync`, which uploads every library copy a destination lacks. The secret key
//! is read from a hidden prompt, stdin or a private file, never from the command line; it
//! goes to the OS keychain and into no file, message or log.

use crate::cli::{OffsiteAddArgs, OffsiteCmd};
use crate::exit::Fail;
use crate::key::{KeySource, read_key_file};
use crate::say::{self, Out};
use crate::session::{Pick, offline, state};
use crate::words;
use snapshots::accounts::AccountId;
use snapshots::download::RateLimit;
use snapshots::library::Rule;
use snapshots::offsite::access::{OffsiteAccess, Reach};
use snapshots::offsite::keep::{self, KeepReport};
use snapshots::offsite::upload::UploadOptions;
use snapshots::offsite::{self, OFFSITE, OffsiteConfig, OffsiteError, Offsites, S3Client};
use snapshots::plans::PlanRun;
use snapshots::seal;
use snapshots::secret::OsKeychain;
use snapshots::statedir::StateDir;
use std::io::{IsTerminal, Read};
use std::sync::Arc;
use tokio_util::sync::CancellationToken;

fn fail(e: OffsiteError) -> Fail {
    let exit = match e {
        OffsiteError::Config(_) => 2,
        OffsiteError::Credentials(_) | OffsiteError::Secret(_) => 3,
        OffsiteError::Io(_) => 7,
        _ => 5,
    };
    Fail::coded(exit, e.code(), e.to_string())
}

/// The account `pick` chooses, its state, and how its lines name it.
fn account(pick: &Pick, json: bool) -> Result<(AccountId, StateDir, Out), Fail> {
    let o = offline(pick)?;
    let k = o
        .account
        .ok_or_else(|| Fail::says(2, |w| w.offsite_not_signed_in, &[]))?;
    Ok((k.id, state(&o.dir)?, Out::of(json, o.whose)))
}

/// `rate`: `--limit-rate` (no engine runs here to hold the app's setting).
pub async fn run(json: bool, pick: &Pick, rate: Option<u64>, cmd: &OffsiteCmd) -> Result<(), Fail> {
    let rate = rate.map(|r| Arc::new(RateLimit::new(r)));
    let (id, st, out) = account(pick, json)?;
    let out = &out;
    let kc = OsKeychain::default();
    match cmd {
        OffsiteCmd::Add(a) => add(out, &st, &kc, &id, a),
        OffsiteCmd::List => list(out, &st),
        OffsiteCmd::Remove { name } => {
            // Uploads in flight there are aborted first, so no parts stay in the bucket.
            if let Ok(c) = offsite::open(&st, &kc, &id, name) {
                snapshots::offsite::upload::abandon_all(&c, &st)
                    .await
                    .map_err(fail)?;
            }
            let had = offsite::remove(&st, &kc, &id, name).map_err(fail)?;
            let line = if had {
                words::say(|w| w.offsite_removed, &[("name", name)])
            } else {
                words::say(|w| w.offsite_none_named, &[("name", name)])
            };
            out.emit(line, serde_json::json!({"removed": had, "name": name}));
            if had {
                say_plans_naming(out, &st, name);
            }
            Ok(())
        }
        OffsiteCmd::Test { name } => {
            let c = offsite::open(&st, &kc, &id, name).map_err(fail)?;
            probe(out, &c).await
        }
        OffsiteCmd::Sync { name } => {
            let all: Offsites = st
                .read(OFFSITE)
                .map_err(|e| Fail::coded(7, "disk", e.to_string()))?;
            let names: Vec<String> = match name {
                Some(n) => vec![n.clone()],
                None => all.destinations.iter().map(|d| d.name.clone()).collect(),
            };
            for n in names {
                let c = offsite::open(&st, &kc, &id, &n).map_err(fail)?;
                sync(out, &st, &c, rate.clone(), &kc, &id).await?;
            }
            Ok(())
        }
    }
}

/// After a destination is removed: the plans that still name it, and what their runs do now.
fn say_plans_naming(out: &Out, st: &StateDir, name: &str) {
    let plans: snapshots::plans::Plans = st.read(snapshots::plans::PLANS).unwrap_or_default();
    for p in plans
        .plans
        .iter()
        .filter(|p| p.offsite.as_deref() == Some(name))
    {
        out.warn(words::say(
            if p.offsite_only {
                |w| w.plan_names_outbox
            } else {
                |w| w.plan_names_local
            },
            &[
                ("plan", &snapshots::names::printable(&p.id)),
                ("name", &name),
            ],
        ));
    }
}

fn read_secret(file: Option<&std::path::Path>) -> Result<String, Fail> {
    if let Some(f) = file {
        return Ok(read_key_file(f, KeySource::File)?
            .expose_secret()
            .to_string());
    }
    let mut text = String::new();
    if std::io::stdin().is_terminal() {
        text = rpassword::prompt_password(words::w().prompt_secret)
            .map_err(|e| Fail::coded(2, "", e.to_string()))?;
    } else {
        std::io::stdin()
            .read_to_string(&mut text)
            .map_err(|e| Fail::coded(2, "", e.to_string()))?;
    }
    Ok(text.trim().to_string())
}

fn add(
    out: &Out,
    st: &StateDir,
    kc: &OsKeychain,
    id: &AccountId,
    a: &OffsiteAddArgs,
) -> Result<(), Fail> {
    let cfg = OffsiteConfig {
        name: a.name.clone(),
        endpoint: a.endpoint.trim_end_matches('/').to_string(),
        region: a.region.clone(),
        bucket: a.bucket.clone(),
        prefix: a.prefix.clone().unwrap_or_default(),
        path_style: a.path_style,
        access_key_id: a.access_key_id.clone(),
        encrypt: !a.no_encrypt,
    };
    cfg.check_endpoint().map_err(fail)?;
    let secret = read_secret(a.secret_key_file.as_deref())?;
    let place = cfg.place();
    let encrypt = cfg.encrypt;
    offsite::add(st, kc, id, cfg, &secret).map_err(fail)?;
    out.emit(
        words::say(|w| w.offsite_added, &[("name", &a.name), ("place", &place)]),
        serde_json::json!({"added": a.name, "place": place, "encrypt": encrypt}),
    );
    if encrypt {
        say::err(&words::say(
            |w| w.offsite_encrypted_note,
            &[("name", &a.name)],
        ));
    }
    Ok(())
}

fn list(out: &Out, st: &StateDir) -> Result<(), Fail> {
    let all: Offsites = st
        .read(OFFSITE)
        .map_err(|e| Fail::coded(7, "disk", e.to_string()))?;
    let w = words::w();
    if all.destinations.is_empty() && !out.json {
        out.human(w.offsite_none);
    }
    for d in &all.destinations {
        let enc = if d.encrypt {
            w.encrypted
        } else {
            w.not_encrypted_dest
        };
        out.emit(
            format!("{}  {}  ({enc})", d.name, d.place()),
            serde_json::to_value(d).unwrap_or_default(),
        );
    }
    Ok(())
}

/// Puts, heads and deletes a small probe object, saying how each step went.
async fn probe(out: &Out, c: &S3Client) -> Result<(), Fail> {
    let key = c.key(&format!(".sqsnap-probe-{}", std::process::id()));
    let body = bytes_of(b"square snapshots offsite probe\n");
    let step = |name: &str, r: &Result<(), OffsiteError>| {
        let ok = r.is_ok();
        out.emit(
            format!(
                "{name:<7}{}",
                if ok {
                    words::w().step_ok
                } else {
                    words::w().step_failed
                }
            ),
            serde_json::json!({"step": name, "ok": ok}),
        );
    };
    let put = c.put(&key, body.clone()).await.map(|_| ());
    step("put", &put);
    put.map_err(fail)?;
    let head = match c.head(&key).await {
        Ok(Some(h)) if h.size == body.len() as u64 => Ok(()),
        Ok(_) => Err(OffsiteError::Mismatch(
            "the probe is not there whole".into(),
        )),
        Err(e) => Err(e),
    };
    step("head", &head);
    let del = c.delete(&key).await;
    step("delete", &del);
    head.map_err(fail)?;
    del.map_err(fail)?;
    out.emit(
        words::say(
            |w| w.probe_works,
            &[("name", &c.config().name), ("place", &c.config().place())],
        ),
        serde_json::json!({"ok": true}),
    );
    Ok(())
}

fn bytes_of(b: &'static [u8]) -> snapshots::offsite::client::Body {
    b.into()
}

async fn sync(
    out: &Out,
    st: &StateDir,
    c: &S3Client,
    rate: Option<Arc<RateLimit>>,
    kc: &OsKeychain,
    id: &AccountId,
) -> Result<(), Fail> {
    // An encrypting destination gets each copy sealed to the account's key (made and kept in
    // the keychain on first use), staged in the state dir so a resumed upload sends the
    // same bytes.
    let recipient = match c.config().encrypt {
        true => Some(
            seal::identity::get_or_create(kc, id)
                .map_err(|e| {
                    Fail::says(
                        3,
                        |w| w.sync_key_failed,
                        &[("name", &c.config().name), ("error", &e)],
                    )
                })?
                .recipient(),
        ),
        false => None,
    };
    let staging = st.path().join(seal::STAGING);
    let hook = recipient
        .as_ref()
        .map(|r| move |p: &std::path::Path| seal::staged_for_upload(&staging, p, r));
    let seal_hook: Option<snapshots::offsite::sync::Seal<'_>> = hook
        .as_ref()
        .map(|h| h as snapshots::offsite::sync::Seal<'_>);
    let cancel = CancellationToken::new();
    let stop = cancel.clone();
    tokio::spawn(async move {
        if tokio::signal::ctrl_c().await.is_ok() {
            stop.cancel();
        }
    });
    let shown = Shown::named(out.named(""));
    let progress = |p: &std::path::Path, done: u64, total: u64| shown.say(p, done, total);
    let opts = UploadOptions {
        rate,
        ..UploadOptions::default()
    };
    let r = snapshots::offsite::sync::sync(c, st, opts, seal_hook, &cancel, &progress)
        .await
        .map_err(fail)?;
    for p in &r.missing {
        out.emit(
            words::say(|w| w.skipped_missing, &[("path", &p.display())]),
            serde_json::json!({"missing": p}),
        );
    }
    let sent = Sent {
        uploaded: &r.uploaded,
        present: r.present,
        dropped: r.dropped,
        cleared: &r.cleared,
    };
    say_sent(out, c.config(), &sent);
    Ok(())
}

/// Upload progress on stderr, at most twice a second.
#[derive(Default)]
struct Shown {
    last: std::sync::Mutex<Option<std::time::Instant>>,
    /// The account, when the lines must name it.
    prefix: String,
}

impl Shown {
    fn named(prefix: String) -> Self {
        Self {
            prefix,
            ..Self::default()
        }
    }

    fn say(&self, p: &std::path::Path, done: u64, total: u64) {
        let mut l = self.last.lock().unwrap_or_else(|e| e.into_inner());
        if done == total || l.is_none_or(|t| t.elapsed().as_millis() >= 500) {
            *l = Some(std::time::Instant::now());
            let name = p
                .file_name()
                .map(|n| n.to_string_lossy())
                .unwrap_or_default();
            say::err(&format!(
                "{}{}  {} / {} MiB",
                self.prefix,
                name,
                done >> 20,
                total >> 20
            ));
        }
    }
}

/// What a sync sent to one destination.
struct Sent<'a> {
    uploaded: &'a [(std::path::PathBuf, String)],
    present: usize,
    dropped: usize,
    /// Staged files removed from this computer once their copy there was checked.
    cleared: &'a [std::path::PathBuf],
}

/// A line per file uploaded, then what the destination holds.
fn say_sent(out: &Out, cfg: &OffsiteConfig, r: &Sent<'_>) {
    let w = words::w();
    for (p, at) in r.uploaded {
        out.emit(
            words::fill(w.uploaded_line, &[("path", &p.display()), ("at", at)]),
            serde_json::json!({"uploaded": p, "at": at}),
        );
    }
    for p in r.cleared {
        out.emit(
            words::fill(
                w.cleared_line,
                &[("path", &p.display()), ("dest", &cfg.name)],
            ),
            serde_json::json!({"cleared": p, "destination": cfg.name}),
        );
    }
    out.emit(
        words::fill(
            w.sync_total,
            &[
                ("name", &cfg.name),
                ("uploaded", &r.uploaded.len()),
                ("present", &r.present),
                (
                    "dropped",
                    &if r.dropped > 0 {
                        words::fill(w.sync_dropped, &[("n", &r.dropped)])
                    } else {
                        String::new()
                    },
                ),
                ("place", &cfg.place()),
            ],
        ),
        serde_json::json!({"name": cfg.name, "uploaded": r.uploaded.len(),
            "present": r.present, "dropped": r.dropped}),
    );
}

/// Plan runs of `sqsnap run-due` reach the account's destinations through the OS keychain;
/// their uploads say how far on stderr.
pub struct Access {
    dir: std::path::PathBuf,
    account: AccountId,
    shown: Shown,
}

impl Access {
    /// The access of the account whose id is `account` (the engine's); its lines start
    /// with `prefix` (the account, when it must be named).
    pub fn new(demo: bool, account: &str, prefix: String) -> Result<Self, Fail> {
        let account = AccountId::new(account)
            .map_err(|_| Fail::says(7, |w| w.bad_account_id, &[("account", &account)]))?;
        Ok(Self {
            dir: crate::session::accounts(demo)?.dir(&account),
            account,
            shown: Shown::named(prefix),
        })
    }
}

impl OffsiteAccess for Access {
    fn reach(&self, name: &str) -> Result<Reach, OffsiteError> {
        let st = StateDir::open(&self.dir)?;
        offsite::access::reach(&st, &OsKeychain::default(), &self.account, name)
    }

    fn step(&self, _cfg: &offsite::OffsiteConfig, step: offsite::sync::SyncStep<'_>) {
        if let offsite::sync::SyncStep::Sending { entry, progress } = step {
            let total = progress.total.unwrap_or(progress.bytes);
            self.shown.say(&entry.path, progress.bytes, total);
        }
    }
}

/// After `sqsnap run-due`: what each plan's offsite step did, in lines. False when one
/// did not finish (what it could not send is said, with where it waits and why). `dir`:
/// the account's folder of state.
pub fn say_plan_offsite(out: &Out, dir: &std::path::Path, run: &PlanRun) -> bool {
    let Some(o) = &run.offsite else {
        return true;
    };
    let cfg = StateDir::open(dir)
        .ok()
        .and_then(|st| st.read::<Offsites>(OFFSITE).ok())
        .and_then(|all| all.get(&o.dest).cloned());
    if let Some(cfg) = &cfg {
        let sent = Sent {
            uploaded: &o.uploaded,
            present: o.present,
            dropped: o.dropped,
            cleared: &o.cleared,
        };
        if o.error.is_none() || !o.uploaded.is_empty() {
            say_sent(out, cfg, &sent);
        }
        if let Some(k) = &o.kept {
            say_pruned(out, cfg, k, Some(&run.plan));
        }
    }
    match (&o.error, o.waiting_words()) {
        (_, Some(words)) => {
            out.emit(
                words,
                serde_json::json!({"plan": run.plan, "destination": o.dest,
                    "waiting": o.waiting, "waiting_in": o.waiting_in, "error": o.error}),
            );
            false
        }
        (Some(e), None) => {
            out.warn(words::say(|w| w.offsite_not_made, &[("error", e)]));
            false
        }
        (None, None) => true,
    }
}

/// `sqsnap prune --offsite NAME`: the counts applied to every resource's copies in that
/// destination's bucket.
pub async fn prune(
    json: bool,
    pick: &Pick,
    name: &str,
    keep: Option<u32>,
    days: Option<u32>,
) -> Result<(), Fail> {
    let (id, st, out) = account(pick, json)?;
    let out = &out;
    let c = offsite::open(&st, &OsKeychain::default(), &id, name).map_err(fail)?;
    let rule = Rule::Counts {
        last: keep,
        days,
        now: chrono::Utc::now(),
    };
    let r = keep::prune(&c, &st, None, &rule).await.map_err(fail)?;
    say_pruned(out, c.config(), &r, None);
    Ok(())
}

/// What a prune of a bucket did, a line a copy: where it was, and of which local file.
fn say_pruned(out: &Out, cfg: &OffsiteConfig, r: &KeepReport, plan: Option<&str>) {
    let w = words::w();
    for (file, at) in &r.deleted {
        let key = offsite::parse_at(at).map_or(at.as_str(), |(_, k)| k);
        let name = file
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        out.emit(
            words::fill(
                w.pruned_deleted,
                &[
                    ("dest", &cfg.name),
                    ("bucket", &cfg.bucket),
                    ("key", &key),
                    ("file", &name),
                ],
            ),
            serde_json::json!({"deleted": at, "destination": cfg.name, "file": file}),
        );
    }
    for at in &r.unverified {
        out.emit(
            words::fill(w.pruned_unverified, &[("at", at)]),
            serde_json::json!({"unverified": at}),
        );
    }
    for at in &r.missing {
        out.emit(
            words::fill(w.pruned_missing, &[("at", at)]),
            serde_json::json!({"missing": at}),
        );
    }
    let whose = plan
        .map(|p| words::fill(w.by_plan, &[("plan", &p)]))
        .unwrap_or_default();
    out.emit(
        words::fill(
            w.pruned_total,
            &[
                ("name", &cfg.name),
                ("whose", &whose),
                ("deleted", &r.deleted.len()),
                ("last", &r.last_of_version),
                ("kept", &r.kept),
                ("place", &cfg.place()),
            ],
        ),
        serde_json::json!({"name": cfg.name, "deleted_count": r.deleted.len(),
            "last_of_version": r.last_of_version, "kept": r.kept, "plan": plan}),
    );
}

/// Refuses a plan's `--offsite NAME` that names no destination of the account whose
/// folder of state is `dir`.
pub fn check_name(dir: &std::path::Path, name: &str) -> Result<(), Fail> {
    let st = state(dir)?;
    let all: Offsites = st
        .read(OFFSITE)
        .map_err(|e| Fail::coded(7, "disk", e.to_string()))?;
    match all.get(name) {
        Some(_) => Ok(()),
        None => Err(Fail::says(2, |w| w.no_dest_for_plan, &[("name", &name)])),
    }
}
