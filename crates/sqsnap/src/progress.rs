//! What a long command shows while it works: progress bars and spinners on a terminal,
//! plain lines otherwise, one JSON line an event with `--json`. Every line goes out through
//! [`crate::say`].

use crate::say;
use indicatif::{MultiProgress, ProgressBar, ProgressStyle};
use snapshots::names::printable;
use snapshots::{Event, EventSink, WaitReason};
use std::collections::HashMap;
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
    format!(
        "Square Cloud may have made this snapshot (its answer was lost on the way); watching its list until {} (no second snapshot is requested; Ctrl+C stops waiting)",
        until.with_timezone(&chrono::Local).format("%H:%M")
    )
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
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
            if self.tty {
                let _ = self.multi.println(say::safe(&line));
            } else {
                say::out(&line);
            }
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
                        "{{msg:{}!}} {{bar:30}} {{bytes}}/{{total_bytes}} {{bytes_per_sec}} ETA {{eta}}",
                        self.label_width()
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
        Some(format!(
            "{}: {pct}% ({} at {}/s)",
            self.name(resource),
            say::bytes(progress.bytes),
            say::bytes(progress.bytes_per_sec as u64)
        ))
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
                        "{{spinner}} {{msg:{}!}} preparing on Square Cloud… {{elapsed}}",
                        self.label_width()
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

    /// The line an event is told with (none for some), off a terminal's bars and spinners.
    fn line(&self, e: &Event) -> Option<String> {
        Some(match e {
            Event::Downloading { .. }
            | Event::Uploading { .. }
            | Event::Fetching { .. }
            | Event::Quota { .. } => {
                return None;
            }
            Event::Fetched { resource, size } => format!(
                "{}: the copy is here from its bucket ({}) and reads whole",
                self.name(resource),
                say::bytes(*size)
            ),
            Event::Committed {
                resource,
                size,
                restart,
            } => format!(
                "{}: Square Cloud took the copy ({}){}",
                self.name(resource),
                say::bytes(*size),
                if *restart { "; restarting" } else { "" }
            ),
            Event::Waiting {
                resource,
                until,
                reason,
            } => {
                let why = match reason {
                    WaitReason::AccountWindow => "the account's create window",
                    WaitReason::ResourceWindow => "this resource's create window",
                    WaitReason::KeepCalm => "Square Cloud asked to slow down",
                    WaitReason::Retry => "retrying after an error",
                };
                format!(
                    "{}: waiting until {} UTC ({why})",
                    self.name(resource),
                    until.format("%H:%M:%S")
                )
            }
            Event::PausedForQuota { until, .. } => match until {
                Some(t) => format!(
                    "Daily quota used up: paused until {} UTC",
                    t.format("%Y-%m-%d %H:%M")
                ),
                None => "Daily quota used up".into(),
            },
            Event::RateLimited { until } => format!(
                "Blocked by Square Cloud until about {} UTC",
                until.format("%H:%M")
            ),
            Event::Creating { resource, .. } => {
                format!("{}: preparing on Square Cloud…", self.name(resource))
            }
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
                format!(
                    "{}: still preparing on Square Cloud… {secs} s",
                    self.name(resource)
                )
            }
            Event::Joined { resource, since } => format!(
                "{}: already being snapshotted by another Square Snapshots process (since {} UTC); waiting for it instead of asking again",
                self.name(resource),
                since.format("%H:%M:%S")
            ),
            Event::Learned { message } => format!("note: {message}"),
            Event::Postponed { reason, .. } => format!("later: {}", printable(reason)),
            Event::Created { resource, .. } => format!("{}: snapshot ready", self.name(resource)),
            Event::Done {
                resource,
                path,
                size,
                outbox: Some(dest),
                ..
            } => format!(
                "{}: checked ({}); it waits in {} for the upload to {dest}, then leaves this computer",
                self.name(resource),
                say::bytes(*size),
                path.display()
            ),
            Event::Done {
                resource,
                path,
                size,
                already_present,
                outbox: None,
            } => format!(
                "{}: {} {} ({}, verified)",
                self.name(resource),
                if *already_present {
                    "already saved as"
                } else {
                    "saved"
                },
                path.display(),
                say::bytes(*size)
            ),
            Event::Failed {
                resource, message, ..
            } => format!("{}: FAILED: {}", self.name(resource), printable(message)),
            Event::Paused => "Paused: nothing new starts until resumed".into(),
            Event::Resumed => "Resumed".into(),
        })
    }
}
