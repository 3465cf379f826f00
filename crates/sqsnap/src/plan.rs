//! `sqsnap plan`: backups that run themselves, listed, shown, added and removed; the
//! snapshots a day kept for taking by hand.

use crate::cli::{PlanAddArgs, PlanCmd, PlanEditArgs};
use crate::exit::Fail;
use crate::say;
use crate::session::Session;
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
    for p in &plans.plans {
        let last = plans
            .state
            .get(&p.id)
            .and_then(|s| s.history.back())
            .map(|r| {
                format!(
                    "last run {} ({})",
                    r.started.format("%Y-%m-%d %H:%M UTC"),
                    if r.ok { "ok" } else { "failed" }
                )
            })
            .unwrap_or_else(|| "not run yet".into());
        out.emit(
            format!("{}; {last}", describe(p)),
            serde_json::to_value(p).unwrap_or_default(),
        );
    }
    // Stored plans that cannot run: said, with why, so they can be removed.
    for bad in &plans.invalid {
        let name = if bad.id.is_empty() {
            "(no name)"
        } else {
            &bad.id
        };
        out.emit(
            format!("{}: cannot run, skipped: {}", printable(name), bad.why),
            serde_json::json!({"id": bad.id, "invalid": true, "why": bad.why}),
        );
    }
    let need = plans.creates_per_day(engine.resources().len());
    let quota = engine.me().user.plan.daily_snapshot_quota();
    out.emit(
        format!(
            "Plans need {need} of the {quota} snapshots a day; {} kept for snapshots by hand.",
            plans.reserve
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
        .ok_or_else(|| Fail(8, format!("No plan named {}.", printable(name))))?;
    out.emit(describe(p), serde_json::to_value(p).unwrap_or_default());
    let preview = engine.retention_preview(p);
    out.emit(
        format!("  next prune deletes {} files", preview.len()),
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
            format!(
                "  {}  {}  {} files, {}{}",
                r.started.format("%Y-%m-%d %H:%M UTC"),
                if r.ok { "ok    " } else { "FAILED" },
                r.files,
                say::bytes(r.bytes),
                r.offsite.as_ref().map(offsite_words).unwrap_or_default()
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
            s.out.warn(
                "note: keeping everything: files add up, watch the free space of the folder.",
            );
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
        Fail(
            if matches!(e, snapshots::plans::PlanError::OverQuota { .. }) {
                4
            } else {
                2
            },
            e.to_string(),
        )
    })?;
    s.out.emit(
        format!("Added: {}", describe(&plan)),
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
        .ok_or_else(|| Fail(8, format!("No plan named {}.", printable(&a.name))))?;
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
        return Err(Fail(
            2,
            format!(
                "Plan {} names no offsite destination: give one with --offsite NAME. Nothing was changed.",
                printable(&a.name)
            ),
        ));
    }
    let plan = s
        .engine
        .set_plan_copies(&a.name, offsite, only)?
        .map_err(|e| Fail(2, e.to_string()))?;
    if only && p.dest.is_some() {
        s.out.warn(format!(
            "note: its copies no longer go to {}; the files already there stay.",
            p.dest
                .as_deref()
                .unwrap_or(std::path::Path::new(""))
                .display()
        ));
    }
    s.out.emit(
        format!("Changed: {}", describe(&plan)),
        serde_json::to_value(&plan).unwrap_or_default(),
    );
    Ok(())
}

/// What a run's offsite step did, for its line in `plan show`.
fn offsite_words(n: &OffsiteNote) -> String {
    let mut s = format!(
        "; {}: {} uploaded, {} deleted",
        n.dest, n.uploaded, n.deleted
    );
    if n.waiting > 0 {
        let dir = n
            .waiting_in
            .as_ref()
            .map(|d| format!(" in {}", d.display()))
            .unwrap_or_default();
        s.push_str(&format!(
            ", {} waiting on this computer{dir} for the upload",
            n.waiting
        ));
    }
    if let Some(e) = &n.error {
        s.push_str(&format!(" ({e})"));
    }
    s
}

fn remove(s: &Session, name: &str) -> Result<(), Fail> {
    s.engine
        .update_plans(|p| p.remove(name))?
        .map_err(|e| Fail(8, e.to_string()))?;
    s.out.emit(
        format!("Removed {}; its files stay.", printable(name)),
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
        .map_err(|e| Fail(4, e.to_string()))?;
    s.out.emit(
        format!("{n} snapshots a day are kept for taking by hand."),
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
            .map_err(|_| Fail(2, format!("{s}: a time is HH:MM, for example 03:30.")))
    };
    if let Some(d) = daily {
        return Ok(Schedule::Day { at: time(d)? });
    }
    if let Some(w) = weekly {
        let (day, at) = w
            .split_once('@')
            .ok_or_else(|| Fail(2, "--weekly is DAY@HH:MM, for example sun@04:00.".into()))?;
        let days = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"];
        let weekday = days
            .iter()
            .position(|d| day.to_ascii_lowercase().starts_with(d))
            .ok_or_else(|| {
                Fail(
                    2,
                    format!("{day}: a day is mon, tue, wed, thu, fri, sat or sun."),
                )
            })?;
        return Ok(Schedule::Week {
            weekday: weekday as u32,
            at: time(at)?,
        });
    }
    match every_hours {
        Some(0) => Err(Fail(2, "--every-hours needs at least 1.".into())),
        Some(h) => Ok(Schedule::Hours { hours: h }),
        None => {
            let _ = hourly;
            Ok(Schedule::Hour)
        }
    }
}

fn describe(p: &Plan) -> String {
    let kind = match p.kind {
        PlanKind::Mirror => "mirror",
        PlanKind::Snapshot => "snapshot",
    };
    let when = match &p.schedule {
        Schedule::Hour => "every hour".to_string(),
        Schedule::Hours { hours } => format!("every {hours} hours"),
        Schedule::Day { at } => format!("daily at {}", at.format("%H:%M")),
        Schedule::Week { weekday, at } => format!(
            "weekly on {} at {}",
            [
                "Monday",
                "Tuesday",
                "Wednesday",
                "Thursday",
                "Friday",
                "Saturday",
                "Sunday"
            ][(*weekday % 7) as usize],
            at.format("%H:%M")
        ),
    };
    let scope = match &p.scope {
        Scope::All => "every resource".to_string(),
        Scope::Resources { ids } => format!("{} resources", ids.len()),
    };
    let keep = match &p.retention {
        Retention::Calendar {
            daily,
            weekly,
            monthly,
        } => {
            format!("keep {daily} daily, {weekly} weekly, {monthly} monthly")
        }
        Retention::Last { n } => format!("keep the last {n}"),
        Retention::Everything => "keep everything".into(),
    };
    let copies = match p.keeps() {
        Keeps::Local => "copies on this computer".to_string(),
        Keeps::Offsite(d) => format!("copies in {} only", printable(d)),
        Keeps::Both(d) => format!("copies on this computer and in {}", printable(d)),
    };
    format!(
        "{:16} {kind:8} {when}, {scope}, {keep}, {copies}",
        printable(&p.id)
    )
}
