//! What a long command shows while it works: progress bars and spinners on a terminal,
//! plain lines otherwise, one JSON line an event with `--json`. Every line goes out through
//! [`crate::say`].

use crate::exit::Said;
use crate::say;
use crate::words;
use indicatif::{MultiProgress, ProgressBar, ProgressStyle};
use snapshots::names::printable;
use snapshots::{Event, EventSink, WaitReason};
use std::collections::HashMap;
use std::fmt::Display;
use std::io::IsTerminal;
use std::sync::{Arc, Mutex, MutexGuard};

/// Progress bars on a terminal, plain lines otherwise, JSON lines with --json. Every line
/// and bar names the account `whose` when it must be; every JSON event carries it.
pub fn sink(
    out_json: bool,
    names: HashMap<String, String>,
    whose: Option<say::Whose>,
) -> EventSink {
    if out_json {
        return Arc::new(move |e: Event| {
            let v = serde_json::to_value(&e).unwrap_or_default();
            match &whose {
                Some(w) => say::out_json(&w.tag(v)),
                None => say::out_json(&v),
            }
        });
    }
    let progress = Progress {
        tty: std::io::stderr().is_terminal(),
        prefix: whose.map(|w| w.prefix()).unwrap_or_default(),
        names,
        multi: MultiProgress::new(),
        bars: Mutex::default(),
        spinners: Mutex::default(),
        last_pct: Mutex::default(),
    };
    Arc::new(move |e: Event| progress.show(&e))
}

/// What a create whose answer was lost means, and until when its list is watched.
fn watching_text(until: &chrono::DateTime<chrono::Utc>) -> String {
    let time = until.with_timezone(&chrono::Local).format("%H:%M");
    words::say(|w| w.watching, &[("time", &time)])
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

/// A download's line: saved, or already saved before.
fn saved_words(already_present: bool) -> fn(&words::Words) -> &'static str {
    if already_present {
        |w| w.done_already
    } else {
        |w| w.done_saved
    }
}

/// Why a job waits, for people.
fn wait_words(reason: &WaitReason) -> &'static str {
    let w = words::w();
    match reason {
        WaitReason::AccountWindow => w.wait_account_window,
        WaitReason::ResourceWindow => w.wait_resource_window,
        WaitReason::KeepCalm => w.wait_keep_calm,
        WaitReason::Retry => w.wait_retry,
    }
}

/// Why a job failed: in English the engine's message says it all; elsewhere its code's
/// words (the message follows as the detail).
fn failed_why(code: &str, message: &str) -> String {
    let w = words::w();
    match words::lang() {
        words::Lang::En => printable(message),
        _ => words::why(w, code).unwrap_or(w.other).to_string(),
    }
}

struct Progress {
    /// Standard error is a terminal: bars and spinners there, lines printed above them.
    tty: bool,
    /// What every line and bar starts with: the account, when it must be named.
    prefix: String,
    /// Resource ids to names, for people.
    names: HashMap<String, String>,
    multi: MultiProgress,
    /// A download's bar, by resource.
    bars: Mutex<HashMap<String, ProgressBar>>,
    /// "Preparing on Square Cloud", by resource.
    spinners: Mutex<HashMap<String, ProgressBar>>,
    /// Off a terminal: the last percentage said, by resource (a line every 25 %).
    last_pct: Mutex<HashMap<String, u64>>,
}

impl Progress {
    fn show(&self, e: &Event) {
        match e {
            Event::Created { resource, .. }
            | Event::Downloading { resource, .. }
            | Event::Done { resource, .. }
            | Event::Failed { resource, .. } => self.stop_spinner(resource),
            _ => {}
        }
        let line = match e {
            // An upload's bar is drawn as a download's: bytes of a known total.
            Event::Downloading { resource, progress }
            | Event::Uploading { resource, progress }
            | Event::Fetching {
                resource, progress, ..
            } => self.downloading(resource, progress),
            Event::Creating { resource, since }
            | Event::Processing {
                resource, since, ..
            } if self.tty => {
                self.preparing(e, resource, since);
                None
            }
            Event::Done { resource, .. }
            | Event::Committed { resource, .. }
            | Event::Fetched { resource, .. } => {
                if let Some(b) = lock(&self.bars).remove(resource) {
                    b.finish_and_clear();
                }
                // A fetch then an upload of the same resource: each counts from 0 %.
                lock(&self.last_pct).remove(resource);
                self.line(e)
            }
            _ => self.line(e),
        };
        if let Some(line) = line.map(|l| format!("{}{l}", self.prefix)) {
            self.print(&line);
        }
        // A failure worded in another language: the engine's English message after it.
        if let Event::Failed { message, .. } = e
            && words::lang() != words::Lang::En
        {
            self.print(&format!("  {}: {}", words::w().detail, printable(message)));
        }
    }

    fn print(&self, line: &str) {
        if self.tty {
            let _ = self.multi.println(say::safe(line));
        } else {
            say::out(line);
        }
    }

    fn name(&self, id: &str) -> String {
        printable(self.names.get(id).map(String::as_str).unwrap_or(id))
    }

    /// How wide a bar's label is: the resource's name, after the account when it is named.
    fn label_width(&self) -> usize {
        24 + self.prefix.chars().count().min(24)
    }

    fn stop_spinner(&self, id: &str) {
        if let Some(b) = lock(&self.spinners).remove(id) {
            b.finish_and_clear();
        }
    }

    /// A bar on a terminal; elsewhere a line at every 25 %.
    fn downloading(
        &self,
        resource: &str,
        progress: &snapshots::download::Progress,
    ) -> Option<String> {
        if self.tty {
            let mut bars = lock(&self.bars);
            let bar = bars.entry(resource.to_owned()).or_insert_with(|| {
                let b = self
                    .multi
                    .add(ProgressBar::new(progress.total.unwrap_or(0)));
                b.set_style(
                    ProgressStyle::with_template(&format!(
                        "{{msg:{}!}} {{bar:30}} {{bytes}}/{{total_bytes}} {{bytes_per_sec}} {} {{eta}}",
                        self.label_width(),
                        words::w().eta
                    ))
                    .unwrap_or_else(|_| ProgressStyle::default_bar()),
                );
                b.set_message(say::safe(&format!(
                    "{}{}",
                    self.prefix,
                    self.name(resource)
                )));
                b
            });
            if let Some(t) = progress.total {
                bar.set_length(t);
            }
            bar.set_position(progress.bytes);
            return None;
        }
        let pct = progress
            .total
            .map(|t| progress.bytes * 100 / t.max(1))
            .unwrap_or(0);
        let mut last = lock(&self.last_pct);
        let prev = last.entry(resource.to_owned()).or_insert(0);
        if pct < *prev + 25 {
            return None;
        }
        *prev = pct;
        let said = words::say(
            |w| w.pct,
            &[
                ("pct", &pct),
                ("bytes", &say::bytes(progress.bytes)),
                ("rate", &say::bytes(progress.bytes_per_sec as u64)),
            ],
        );
        Some(format!("{}: {said}", self.name(resource)))
    }

    /// A spinner while Square Cloud prepares a snapshot, and a line above it when the
    /// create's answer was lost.
    fn preparing(&self, e: &Event, resource: &str, since: &chrono::DateTime<chrono::Utc>) {
        lock(&self.spinners)
            .entry(resource.to_owned())
            .or_insert_with(|| {
                let waited = (chrono::Utc::now() - *since).to_std().unwrap_or_default();
                let b = self
                    .multi
                    .add(ProgressBar::new_spinner().with_elapsed(waited));
                b.set_style(
                    ProgressStyle::with_template(&format!(
                        "{{spinner}} {{msg:{}!}} {} {{elapsed}}",
                        self.label_width(),
                        words::w().preparing
                    ))
                    .unwrap_or_else(|_| ProgressStyle::default_spinner()),
                );
                b.set_message(say::safe(&format!(
                    "{}{}",
                    self.prefix,
                    self.name(resource)
                )));
                b.enable_steady_tick(std::time::Duration::from_millis(200));
                b
            });
        if let Event::Processing {
            answer_lost: true,
            until,
            ..
        } = e
        {
            let _ = self.multi.println(say::safe(&format!(
                "{}{}: {}",
                self.prefix,
                self.name(resource),
                watching_text(until)
            )));
        }
    }

    /// A line about `resource`: its name, then `m` filled.
    fn of(&self, resource: &str, m: Said, args: &[(&str, &dyn Display)]) -> String {
        format!("{}: {}", self.name(resource), words::say(m, args))
    }

    /// The line an event is told with (none for some), off a terminal's bars and spinners.
    fn line(&self, e: &Event) -> Option<String> {
        let w = words::w();
        let of =
            |resource: &str, m: Said, args: &[(&str, &dyn Display)]| self.of(resource, m, args);
        Some(match e {
            Event::Downloading { .. }
            | Event::Uploading { .. }
            | Event::Fetching { .. }
            | Event::Quota { .. } => {
                return None;
            }
            Event::Fetched { resource, size } => {
                of(resource, |w| w.fetched, &[("size", &say::bytes(*size))])
            }
            Event::Committed {
                resource,
                size,
                restart,
            } => {
                let m: [Said; 2] = [|w| w.committed, |w| w.committed_restarting];
                of(
                    resource,
                    m[usize::from(*restart)],
                    &[("size", &say::bytes(*size))],
                )
            }
            Event::Waiting {
                resource,
                until,
                reason,
            } => {
                let why = wait_words(reason);
                let time = until.format("%H:%M:%S");
                of(
                    resource,
                    |w| w.waiting_until,
                    &[("time", &time), ("why", &why)],
                )
            }
            Event::PausedForQuota { until, .. } => match until {
                Some(t) => words::fill(
                    w.paused_quota_until,
                    &[("time", &t.format("%Y-%m-%d %H:%M"))],
                ),
                None => w.paused_quota.into(),
            },
            Event::RateLimited { until } => {
                words::fill(w.blocked_until, &[("time", &until.format("%H:%M"))])
            }
            Event::Creating { resource, .. } => of(resource, |w| w.preparing, &[]),
            Event::Processing {
                resource,
                since,
                answer_lost,
                until,
            } => {
                if *answer_lost {
                    // A warning, where a script's output is not: on stderr.
                    say::err(&format!(
                        "{}{}: {}",
                        self.prefix,
                        self.name(resource),
                        watching_text(until)
                    ));
                    return None;
                }
                let secs = (chrono::Utc::now() - *since).num_seconds();
                of(resource, |w| w.still_preparing, &[("secs", &secs)])
            }
            Event::Joined { resource, since } => of(
                resource,
                |w| w.joined,
                &[("time", &since.format("%H:%M:%S"))],
            ),
            Event::Learned { message } => words::fill(w.note, &[("text", message)]),
            Event::Postponed { reason, .. } => {
                words::fill(w.later, &[("reason", &printable(reason))])
            }
            Event::Created { resource, .. } => of(resource, |w| w.created, &[]),
            Event::Done {
                resource,
                path,
                size,
                outbox: Some(dest),
                ..
            } => of(
                resource,
                |w| w.done_outbox,
                &[
                    ("size", &say::bytes(*size)),
                    ("path", &path.display()),
                    ("dest", dest),
                ],
            ),
            Event::Done {
                resource,
                path,
                size,
                already_present,
                outbox: None,
            } => of(
                resource,
                saved_words(*already_present),
                &[("path", &path.display()), ("size", &say::bytes(*size))],
            ),
            Event::Failed {
                resource,
                code,
                message,
            } => of(
                resource,
                |w| w.failed_event,
                &[("why", &failed_why(code, message))],
            ),
            Event::Paused => w.paused.into(),
            Event::Resumed => w.resumed.into(),
        })
    }
}
