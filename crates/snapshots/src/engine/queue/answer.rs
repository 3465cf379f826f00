//! The answer side of the queue: what a create's answer means. Accepted, it goes to the
//! download side; lost, the list is watched for it; refused, the engine learns what the
//! server's windows really are and decides whether the job goes again.

use super::{Answer, Fetch, Job, Queue, ToFinish, Verdict};
use crate::engine::types::{EngineError, Event, EventSink, JobResult};
use crate::ledger::{Ledger, WindowRule};
use crate::pacer::chrono_d;
use chrono::{DateTime, Utc};
use squarecloud::{ApiError, CreateOutcome, ErrorCode};
use std::time::Duration;

impl Queue<'_> {
    /// One create's answer.
    pub(super) async fn on_answer(
        &self,
        a: Answer,
        pending: &mut Vec<Job>,
        results: &mut Vec<JobResult>,
        events: &EventSink,
        tx: &ToFinish,
    ) {
        let acct = self.account.id();
        let Answer {
            mut job,
            sent_at,
            answered_at,
            result,
        } = a;
        let id = job.r.id.clone();
        match result {
            Ok(outcome) => {
                let (a, i) = (acct.clone(), id.clone());
                let _ = self
                    .quota
                    .update_ledger_off(move |l| l.answered(&a, &i, sent_at, answered_at))
                    .await;
                events(Event::Quota {
                    quota: self.quota.status_off(self.account).await,
                });
                let _ = tx.send(self.accepted(job, outcome, sent_at, answered_at, events));
            }
            Err(e) if e.answer_may_be_lost() => {
                // The server may have taken it: it stays counted, and the list will tell.
                events(Event::Processing {
                    resource: id.clone(),
                    since: sent_at,
                    answer_lost: true,
                    until: self.account.watch_deadline(),
                });
                let _ = tx.send(Fetch::Watch {
                    r: job.r,
                    before: job.before,
                    since: sent_at,
                    answer_lost: true,
                });
            }
            Err(e) => {
                // The server's own word, or no connection at all: nothing was spent.
                let (a, i) = (acct.clone(), id.clone());
                let _ = self
                    .quota
                    .update_ledger_off(move |l| l.forget(&a, &i, sent_at))
                    .await;
                self.release(&id).await;
                self.on_refusal(e, &mut job, sent_at, answered_at, events)
                    .await;
                match self.refusal_verdict(&job).await {
                    Some(Verdict::All(err)) => {
                        pending.push(job);
                        for j in pending.drain(..) {
                            results.push(JobResult {
                                resource: j.r,
                                outcome: Err(err.clone()),
                            });
                        }
                    }
                    Some(Verdict::One(err)) => results.push(JobResult {
                        resource: job.r,
                        outcome: Err(err),
                    }),
                    None => pending.push(job),
                }
            }
        }
    }

    /// What the download side does with an accepted create: fetch its URL, or watch the
    /// list while Square Cloud still prepares it (202).
    fn accepted(
        &self,
        job: Job,
        outcome: CreateOutcome,
        sent_at: DateTime<Utc>,
        answered_at: DateTime<Utc>,
        events: &EventSink,
    ) -> Fetch {
        let id = job.r.id.clone();
        match outcome {
            CreateOutcome::Ready(s) => {
                events(Event::Created {
                    resource: id,
                    taken_at: answered_at,
                });
                Fetch::Url {
                    r: job.r,
                    url: s.url,
                    taken_at: answered_at,
                    before: job.before,
                    since: sent_at,
                }
            }
            CreateOutcome::Processing => {
                events(Event::Processing {
                    resource: id,
                    since: sent_at,
                    answer_lost: false,
                    until: self.account.watch_deadline(),
                });
                Fetch::Watch {
                    r: job.r,
                    before: job.before,
                    since: sent_at,
                    answer_lost: false,
                }
            }
        }
    }

    /// Learns from a refusal and sets when the job may be tried again.
    async fn on_refusal(
        &self,
        e: ApiError,
        job: &mut Job,
        sent_at: DateTime<Utc>,
        answered_at: DateTime<Utc>,
        events: &EventSink,
    ) {
        let acct = self.account.id();
        let l = &self.line.limits;
        job.last_error = Some(e.clone());
        match e.code() {
            _ if e.is_account_block() => {
                let until = self.quota.persist_block().await;
                events(Event::RateLimited { until });
            }
            Some(ErrorCode::KeepCalm) => {
                self.on_keep_calm(job, sent_at, answered_at, events).await;
            }
            Some(ErrorCode::DailySnapshotsLimitReached) => {
                let _ = self
                    .quota
                    .update_ledger_off(move |x| x.mark_exhausted(&acct, answered_at))
                    .await;
            }
            _ if e.is_transient() => {
                // Never reached the server (no connection): safe to try again.
                job.connect_failures += 1;
                job.not_before = Some(
                    answered_at + chrono_d(l.account_gap * 2u32.pow(job.connect_failures.min(6))),
                );
            }
            _ => {}
        }
    }

    /// "Keep calm": a window was shorter than the server's. Which one, the ledger tells.
    async fn on_keep_calm(
        &self,
        job: &mut Job,
        sent_at: DateTime<Utc>,
        answered_at: DateTime<Utc>,
        events: &EventSink,
    ) {
        let acct = self.account.id();
        let l = &self.line.limits;
        job.keep_calm += 1;
        let gap = chrono_d(l.account_gap);
        let ledger = self.quota.ledger_off().await;
        let learned = ledger
            .accounts
            .get(&acct)
            .map(|a| a.learned.clone())
            .unwrap_or_default();
        // Was another create of the account unanswered, or answered less than a window
        // before this one was sent? Then the server counts from answers.
        let busy_account = ledger.accounts.get(&acct).is_some_and(|a| {
            a.entries.iter().any(|x| {
                x.source == "app"
                    && x.at < sent_at
                    && x.answered_at.is_none_or(|t| t + gap > sent_at)
            })
        });
        if learned.rule == WindowRule::Arrival && busy_account {
            self.learn_answer_rule(&acct, sent_at, events).await;
            // Not the job's fault: it goes again under the learned rule.
            job.keep_calm -= 1;
            return;
        }
        // Sent just after the account's window closed by our clock: the server saw it arrive
        // sooner after the previous one than we sent it. Widen the margin so the next
        // creates leave with more room.
        let near_edge = ledger.accounts.get(&acct).is_some_and(|a| {
            a.entries
                .iter()
                .any(|x| x.at < sent_at && sent_at - x.at < gap + chrono_d(Duration::from_secs(1)))
        });
        if near_edge {
            self.account.latency().widen();
        }
        // The account was free: this resource's own window is longer than we thought.
        // Lengthen it for next time, and back off now.
        if ledger.last_create(&acct, Some(&job.r.id)).is_some() {
            self.lengthen_resource_gap(&ledger, job, events).await;
        }
        let backoff = (l.account_gap * 2u32.pow(job.keep_calm.min(6)))
            .min(Duration::from_secs(180))
            .max(l.account_gap);
        job.not_before = Some(answered_at + chrono_d(backoff));
    }

    /// The account's window counts from each answer: persisted with the evidence, and said.
    async fn learn_answer_rule(&self, acct: &str, sent_at: DateTime<Utc>, events: &EventSink) {
        let message = format!(
            "Square Cloud refused a create sent at {} while the account's previous create was still being prepared: it counts the account's window from each answer, not from each request. Creates now wait for the previous answer.",
            sent_at.format("%H:%M:%S%.3f UTC")
        );
        let (m, a) = (message.clone(), acct.to_string());
        let _ = self
            .quota
            .update_ledger_off(move |x| {
                let a = &mut x.account(&a).learned;
                a.rule = WindowRule::Answer;
                a.rule_evidence = Some(m);
            })
            .await;
        events(Event::Learned { message });
    }

    /// Doubles the window taken for this job's resource (up to an hour), and says so.
    async fn lengthen_resource_gap(&self, ledger: &Ledger, job: &Job, events: &EventSink) {
        let acct = self.account.id();
        let id = job.r.id.clone();
        let current = ledger
            .accounts
            .get(&acct)
            .and_then(|a| a.learned.resource_gaps_ms.get(&id).copied())
            .unwrap_or(self.line.limits.resource_gap.as_millis() as u64)
            .max(1);
        let longer = (current * 2).min(3_600_000);
        let (a, i) = (acct.clone(), id.clone());
        let _ = self
            .quota
            .update_ledger_off(move |x| {
                x.account(&a).learned.resource_gaps_ms.insert(i, longer);
            })
            .await;
        events(Event::Learned {
            message: format!(
                "Square Cloud asked to slow down for {} although its window looked open: that resource's window is now taken as {:.0} s.",
                crate::names::printable(&job.r.name),
                longer as f64 / 1000.0
            ),
        });
    }

    /// Whether a refused job ends here, and how.
    async fn refusal_verdict(&self, job: &Job) -> Option<Verdict> {
        let e = job.last_error.as_ref()?;
        let l = &self.line.limits;
        if e.is_account_block() {
            let until = self.quota.blocked_until().await;
            return Some(Verdict::All(EngineError::RateLimited { until }));
        }
        match e.code() {
            Some(c) if c.is_bad_key() => Some(Verdict::All(EngineError::Auth(e.clone()))),
            Some(ErrorCode::KeepCalm) if job.keep_calm > l.keep_calm_retries => {
                Some(Verdict::One(EngineError::Api(e.clone())))
            }
            Some(ErrorCode::KeepCalm) | Some(ErrorCode::DailySnapshotsLimitReached) => None,
            _ if e.is_transient() && job.connect_failures <= 3 => None,
            _ => Some(Verdict::One(EngineError::from_api(e.clone()))),
        }
    }
}
