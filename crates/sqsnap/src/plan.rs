//! `sqsnap plan`: backups that run themselves, listed, shown, added and removed; the
//! snapshots a day kept for taking by hand.

use crate::cli::{PlanAddArgs, PlanCmd, PlanEditArgs};
use crate::exit::Fail;
use crate::say;
use crate::session::Session;
use crate::words;
use snapshots::names::printable;
use snapshots::plans::{Keeps, OffsiteNote, Plan, PlanKind, Retention, Schedule, Scope};

pub fn run(s: &Session, cmd: &PlanCmd, key_file: Option<&std::path::Path>) -> Result<(), Fail> {
    match cmd {
        PlanCmd::List => list(s),
        PlanCmd::Show { name } => show(s, name),
        PlanCmd::Add(a) => add(s, a),
        PlanCmd::Edit(a) => edit(s, a),
        PlanCmd::Remove { name } => remove(s, name),
        PlanCmd::Reserve { n } => reserve(s, *n),
        PlanCmd::InstallTimer => crate::install_timer::run(&s.out, key_file),
    }
}

fn list(s: &Session) -> Result<(), Fail> {
    let (out, engine) = (&s.out, &s.engine);
    let plans = engine.plans();
    let w = words::w();
    for p in &plans.plans {
        let last = plans
            .state
            .get(&p.id)
            .and_then(|s| s.history.back())
            .map(|r| {
                words::fill(
                    if r.ok {
                        w.last_run_ok
                    } else {
                        w.last_run_failed
                    },
                    &[("time", &r.started.format("%Y-%m-%d %H:%M UTC"))],
                )
            })
            .unwrap_or_else(|| w.not_run_yet.into());
        out.emit(
            format!("{}; {last}", describe(p)),
            serde_json::to_value(p).unwrap_or_default(),
        );
    }
    // Stored plans that cannot run: said, with why, so they can be removed.
    for bad in &plans.invalid {
        let name = if bad.id.is_empty() {
            w.no_name
        } else {
            &bad.id
        };
        out.emit(
            words::fill(
                w.plan_cannot_run,
                &[("name", &printable(name)), ("why", &bad.why)],
            ),
            serde_json::json!({"id": bad.id, "invalid": true, "why": bad.why}),
        );
    }
    let need = plans.creates_per_day(engine.resources().len());
    let quota = engine.me().user.plan.daily_snapshot_quota();
    out.emit(
        words::fill(
            w.plans_need,
            &[
                ("need", &need),
                ("quota", &quota),
                ("reserve", &plans.reserve),
            ],
        ),
        serde_json::json!({"creates_per_day": need, "quota": quota, "reserve": plans.reserve}),
    );
    Ok(())
}

fn show(s: &Session, name: &str) -> Result<(), Fail> {
    let (out, engine) = (&s.out, &s.engine);
    let plans = engine.plans();
    let p = plans
        .plans
        .iter()
        .find(|p| p.id == name)
        .ok_or_else(|| Fail::says(8, |w| w.no_plan_named, &[("name", &printable(name))]))?;
    out.emit(describe(p), serde_json::to_value(p).unwrap_or_default());
    let preview = engine.retention_preview(p);
    let w = words::w();
    out.emit(
        words::fill(w.next_prune, &[("n", &preview.len())]),
        serde_json::json!({"prune_preview": preview.iter().map(|(p, _)| p).collect::<Vec<_>>()}),
    );
    for (path, size) in &preview {
        out.emit(
            format!("    {} ({})", path.display(), say::bytes(*size)),
            serde_json::Value::Null,
        );
    }
    for r in plans
        .state
        .get(name)
        .map(|s| s.history.iter().rev().take(20).collect::<Vec<_>>())
        .unwrap_or_default()
    {
        out.emit(
            words::fill(
                if r.ok { w.history_ok } else { w.history_failed },
                &[
                    ("time", &r.started.format("%Y-%m-%d %H:%M UTC")),
                    ("files", &r.files),
                    ("size", &say::bytes(r.bytes)),
                    (
                        "offsite",
                        &r.offsite.as_ref().map(offsite_words).unwrap_or_default(),
                    ),
                ],
            ),
            serde_json::to_value(r).unwrap_or_default(),
        );
    }
    Ok(())
}

fn add(s: &Session, a: &PlanAddArgs) -> Result<(), Fail> {
    let engine = &s.engine;
    for id in &a.ids {
        engine.resource(id)?;
    }
    if let Some(n) = &a.offsite {
        crate::offsite::check_name(&s.dir, n)?;
    }
    let retention = match (a.keep_last, a.keep_everything) {
        (Some(n), _) => Retention::Last { n },
        (None, true) => {
            s.out.warn(words::w().keep_everything_note);
            Retention::Everything
        }
        _ => Retention::default(),
    };
    let plan = Plan {
        id: a.name.clone(),
        kind: if a.snapshot {
            PlanKind::Snapshot
        } else {
            PlanKind::Mirror
        },
        scope: if a.ids.is_empty() {
            Scope::All
        } else {
            Scope::Resources { ids: a.ids.clone() }
        },
        schedule: schedule_of(a.hourly, a.every_hours, &a.daily, &a.weekly)?,
        retention,
        dest: a.dest.clone(),
        offsite: a.offsite.clone(),
        offsite_only: a.offsite_only,
    };
    engine.add_plan(plan.clone())?.map_err(|e| {
        let exit = if matches!(e, snapshots::plans::PlanError::OverQuota { .. }) {
            4
        } else {
            2
        };
        Fail::coded(exit, e.code(), e.to_string())
    })?;
    s.out.emit(
        words::say(|w| w.plan_added, &[("plan", &describe(&plan))]),
        serde_json::to_value(&plan).unwrap_or_default(),
    );
    Ok(())
}

fn edit(s: &Session, a: &PlanEditArgs) -> Result<(), Fail> {
    let plans = s.engine.plans();
    let p = plans
        .plans
        .iter()
        .find(|p| p.id == a.name)
        .ok_or_else(|| Fail::says(8, |w| w.no_plan_named, &[("name", &printable(&a.name))]))?;
    let offsite = match (&a.offsite, a.no_offsite) {
        (_, true) => None,
        (Some(n), false) => Some(n.clone()),
        (None, false) => p.offsite.clone(),
    };
    if let Some(n) = &offsite {
        crate::offsite::check_name(&s.dir, n)?;
    }
    let only = a.offsite_only && offsite.is_some();
    if a.offsite_only && offsite.is_none() {
        return Err(Fail::says(
            2,
            |w| w.plan_no_offsite,
            &[("name", &printable(&a.name))],
        ));
    }
    let plan = s
        .engine
        .set_plan_copies(&a.name, offsite, only)?
        .map_err(|e| Fail::coded(2, e.code(), e.to_string()))?;
    if only && p.dest.is_some() {
        let was = p.dest.as_deref().unwrap_or(std::path::Path::new(""));
        s.out.warn(words::say(
            |w| w.plan_copies_moved,
            &[("path", &was.display())],
        ));
    }
    s.out.emit(
        words::say(|w| w.plan_changed, &[("plan", &describe(&plan))]),
        serde_json::to_value(&plan).unwrap_or_default(),
    );
    Ok(())
}

/// What a run's offsite step did, for its line in `plan show`.
fn offsite_words(n: &OffsiteNote) -> String {
    let w = words::w();
    let mut s = words::fill(
        w.run_offsite,
        &[
            ("dest", &n.dest),
            ("uploaded", &n.uploaded),
            ("deleted", &n.deleted),
        ],
    );
    if n.waiting > 0 {
        s.push_str(&match &n.waiting_in {
            Some(d) => words::fill(
                w.run_waiting_in,
                &[("n", &n.waiting), ("path", &d.display())],
            ),
            None => words::fill(w.run_waiting, &[("n", &n.waiting)]),
        });
    }
    if let Some(e) = &n.error {
        s.push_str(&format!(" ({e})"));
    }
    s
}

fn remove(s: &Session, name: &str) -> Result<(), Fail> {
    s.engine
        .update_plans(|p| p.remove(name))?
        .map_err(|e| Fail::coded(8, e.code(), e.to_string()))?;
    s.out.emit(
        words::say(|w| w.plan_removed, &[("name", &printable(name))]),
        serde_json::json!({"removed": name}),
    );
    Ok(())
}

fn reserve(s: &Session, n: u32) -> Result<(), Fail> {
    let (count, quota) = (
        s.engine.resources().len(),
        s.engine.me().user.plan.daily_snapshot_quota(),
    );
    s.engine
        .update_plans(|p| p.set_reserve(n, count, quota))?
        .map_err(|e| Fail::coded(4, e.code(), e.to_string()))?;
    s.out.emit(
        words::say(|w| w.reserve_set, &[("n", &n)]),
        serde_json::json!({"reserve": n}),
    );
    Ok(())
}

fn schedule_of(
    hourly: bool,
    every_hours: Option<u32>,
    daily: &Option<String>,
    weekly: &Option<String>,
) -> Result<Schedule, Fail> {
    let time = |s: &str| {
        chrono::NaiveTime::parse_from_str(s, "%H:%M")
            .map_err(|_| Fail::says(2, |w| w.bad_time, &[("time", &s)]))
    };
    if let Some(d) = daily {
        return Ok(Schedule::Day { at: time(d)? });
    }
    if let Some(w) = weekly {
        let (day, at) = w
            .split_once('@')
            .ok_or_else(|| Fail::says(2, |w| w.bad_weekly, &[]))?;
        let days = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"];
        let weekday = days
            .iter()
            .position(|d| day.to_ascii_lowercase().starts_with(d))
            .ok_or_else(|| Fail::says(2, |w| w.bad_day, &[("day", &day)]))?;
        return Ok(Schedule::Week {
            weekday: weekday as u32,
            at: time(at)?,
        });
    }
    match every_hours {
        Some(0) => Err(Fail::says(2, |w| w.every_hours_zero, &[])),
        Some(h) => Ok(Schedule::Hours { hours: h }),
        None => {
            let _ = hourly;
            Ok(Schedule::Hour)
        }
    }
}

fn describe(p: &Plan) -> String {
    let w = words::w();
    let kind = match p.kind {
        PlanKind::Mirror => w.kind_mirror,
        PlanKind::Snapshot => w.kind_snapshot,
    };
    let when = match &p.schedule {
        Schedule::Hour => w.every_hour.to_string(),
        Schedule::Hours { hours } => words::fill(w.every_hours, &[("n", hours)]),
        Schedule::Day { at } => words::fill(w.daily_at, &[("time", &at.format("%H:%M"))]),
        Schedule::Week { weekday, at } => {
            let days = [
                w.monday,
                w.tuesday,
                w.wednesday,
                w.thursday,
                w.friday,
                w.saturday,
                w.sunday,
            ];
            words::fill(
                w.weekly_on,
                &[
                    ("day", &days[(*weekday % 7) as usize]),
                    ("time", &at.format("%H:%M")),
                ],
            )
        }
    };
    let scope = match &p.scope {
        Scope::All => w.every_resource.to_string(),
        Scope::Resources { ids } => words::fill(w.n_resources, &[("n", &ids.len())]),
    };
    let keep = match &p.retention {
        Retention::Calendar {
            daily,
            weekly,
            monthly,
        } => words::fill(
            w.keep_calendar,
            &[("daily", daily), ("weekly", weekly), ("monthly", monthly)],
        ),
        Retention::Last { n } => words::fill(w.keep_last, &[("n", n)]),
        Retention::Everything => w.keep_everything.into(),
    };
    let copies = match p.keeps() {
        Keeps::Local => w.copies_local.to_string(),
        Keeps::Offsite(d) => words::fill(w.copies_offsite_only, &[("dest", &printable(d))]),
        Keeps::Both(d) => words::fill(w.copies_both, &[("dest", &printable(d))]),
    };
    format!(
        "{:16} {kind:8} {when}, {scope}, {keep}, {copies}",
        printable(&p.id)
    )
}
