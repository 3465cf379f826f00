//! A plan run's offsite step, for a plan that names a destination: every copy the
//! destination lacks is uploaded (sealed when it encrypts), checked and recorded, then the
//! plan's rule is applied to its copies there, judged on that bucket alone. A plan that
//! keeps its copies there only downloads into the account's outbox; each staged file is
//! removed once its copy there is checked and recorded (`offsite::sync`), and one whose
//! upload failed stays, said with where and why, for the next run or `sqsnap offsite sync`.

use super::Runner;
use crate::engine::library::Rule;
use crate::engine::plans::model::{OffsiteNote, Plan};
use crate::engine::types::{EngineError, state_error};
use crate::offsite::access::Reach;
use crate::offsite::keep::{self, KeepReport};
use crate::offsite::upload::UploadOptions;
use crate::offsite::{OffsiteError, outbox, sync};
use crate::seal;
use serde::Serialize;
use std::path::{Path, PathBuf};
use tokio_util::sync::CancellationToken;

/// What a plan run's offsite step did.
#[derive(Debug, Clone, Default, Serialize)]
pub struct OffsiteRun {
    /// The destination's name.
    pub dest: String,
    /// The plan keeps its copies there only.
    pub only: bool,
    /// Where the destination keeps them (endpoint, bucket, prefix); empty when it could
    /// not be opened.
    pub place: String,
    /// Each file uploaded, and where it went (`s3://bucket/key#name`).
    pub uploaded: Vec<(PathBuf, String)>,
    /// Staged files removed from this computer: their copy there is checked and recorded.
    pub cleared: Vec<PathBuf>,
    /// Copies already there.
    pub present: usize,
    /// Copies its rule deleted there earlier, kept here: not sent again.
    pub dropped: usize,
    /// What the plan's rule did there (`None`: not applied, see `error`).
    pub kept: Option<KeepReport>,
    /// Staged files still waiting on this computer for their upload there.
    pub waiting: Vec<PathBuf>,
    /// The folder they wait in (the destination's outbox), when the plan stages there.
    pub waiting_in: Option<PathBuf>,
    /// Why the upload, or the rule there, did not finish (`None`: all done).
    pub error: Option<String>,
    /// That failure's code (`OffsiteError::code`).
    pub code: Option<&'static str>,
}

impl OffsiteRun {
    /// What the run's history keeps of it.
    pub fn note(&self) -> OffsiteNote {
        OffsiteNote {
            dest: self.dest.clone(),
            only: self.only,
            uploaded: self.uploaded.len(),
            deleted: self.kept.as_ref().map_or(0, |k| k.deleted.len()),
            waiting: self.waiting.len(),
            waiting_in: self.waiting_in.clone(),
            error: self.error.clone(),
            code: self.code.map(String::from),
        }
    }

    /// The copies that wait on this computer, where and why, in words (`None`: none wait).
    pub fn waiting_words(&self) -> Option<String> {
        let n = self.waiting.len();
        if n == 0 {
            return None;
        }
        let dir = self
            .waiting_in
            .as_ref()
            .map(|d| format!(" in {}", d.display()))
            .unwrap_or_default();
        let why = self
            .error
            .as_deref()
            .map(|e| format!(": {e}"))
            .unwrap_or_else(|| ".".into());
        Some(format!(
            "{n} {} on this computer{dir} for the upload to {}{why} The next run, or `sqsnap offsite sync` (Send copies now in the window), sends {}; until then {} kept here.",
            if n == 1 { "copy waits" } else { "copies wait" },
            self.dest,
            if n == 1 { "it" } else { "them" },
            if n == 1 { "it is" } else { "they are" },
        ))
    }
}

impl Runner<'_> {
    /// Where the plan's downloads go: for a plan that keeps its copies offsite only, its
    /// destination's folder in the account's outbox (made, `0700`); otherwise the plan's
    /// folder, if it names one.
    pub(super) fn download_dir(&self, plan: &Plan) -> Result<Option<PathBuf>, EngineError> {
        match (&plan.offsite, plan.offsite_only) {
            (Some(dest), true) => {
                let data = self.shelf.state().path();
                outbox::ensure(data, dest)
                    .map(Some)
                    .map_err(|e| state_error(&outbox::dir(data, dest), e))
            }
            _ => Ok(plan.dest.clone()),
        }
    }

    /// The plan's offsite step: the destination gets what it lacks, then the plan's rule is
    /// applied there. A failure fails no download: what could not be sent stays on this
    /// computer and the step says why.
    pub(super) async fn send_offsite(
        &self,
        plan: &Plan,
        dest: &str,
        cancel: &CancellationToken,
    ) -> OffsiteRun {
        let mut out = OffsiteRun {
            dest: dest.to_string(),
            only: plan.offsite_only,
            waiting_in: plan
                .offsite_only
                .then(|| outbox::dir(self.shelf.state().path(), dest)),
            ..OffsiteRun::default()
        };
        let done = match &self.offsite {
            Some(access) => match access.reach(dest) {
                Ok(reach) => {
                    out.place = reach.client.config().place();
                    let cfg = reach.client.config().clone();
                    let tell = |s: sync::SyncStep<'_>| access.step(&cfg, s);
                    self.sync_and_keep(plan, &reach, &mut out, &tell, cancel)
                        .await
                }
                Err(e) => Err(e),
            },
            None => Err(OffsiteError::Config(format!(
                "this program was not given the keychain to reach {dest}"
            ))),
        };
        if let Err(e) = done {
            out.error = Some(e.to_string());
            out.code = Some(e.code());
        }
        out.waiting = self.shelf.library().waiting_for(dest);
        out
    }

    async fn sync_and_keep(
        &self,
        plan: &Plan,
        reach: &Reach,
        out: &mut OffsiteRun,
        tell: &(dyn Fn(sync::SyncStep<'_>) + Send + Sync),
        cancel: &CancellationToken,
    ) -> Result<(), OffsiteError> {
        let state = self.shelf.state();
        let staging = state.path().join(seal::STAGING);
        let hook = reach
            .recipient
            .as_ref()
            .map(|r| move |p: &Path| seal::staged_for_upload(&staging, p, r));
        let seal_hook: Option<sync::Seal<'_>> = hook.as_ref().map(|h| h as sync::Seal<'_>);
        let opts = UploadOptions {
            rate: self.shelf.rate_limit(),
            ..UploadOptions::default()
        };
        // The plan's own downloads already wait while paused; its uploads follow them.
        let hooks = sync::SyncHooks { tell, paused: None };
        let r = sync::sync_with(&reach.client, state, opts, seal_hook, cancel, hooks).await?;
        out.uploaded = r.uploaded;
        out.cleared = r.cleared;
        out.present = r.present;
        out.dropped = r.dropped;
        let ids = self.plan_resources(plan);
        let rule = Rule::Plan(plan.retention.clone());
        out.kept = Some(keep::prune(&reach.client, state, Some(&ids), &rule).await?);
        Ok(())
    }
}
