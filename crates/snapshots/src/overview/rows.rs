//! The resource rows: each application and database with its newest snapshots, its folder,
//! its plans and whether a recent copy is on this computer.

use crate::engine::{Engine, ResourceRef, WorkspaceRef};
use crate::library::{Library, LibraryEntry};
use crate::names::printable;
use crate::plans::{Day, Plans};
use crate::settings::Settings;
use chrono::{DateTime, Local, Utc};
use serde::Serialize;
use squarecloud::{Me, ResourceKind};
use std::collections::HashMap;
use std::path::PathBuf;

/// How old, in hours, the newest verified copy may be and still count as fresh.
pub const FRESH_HOURS: i64 = 36;

/// Days in a row's strip, oldest first.
pub const DAYS: u32 = 30;

/// Whether a recent verified copy of a resource is on this computer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Health {
    /// A verified copy under [`FRESH_HOURS`] old.
    Fresh,
    /// A verified copy, but an older one.
    Stale,
    /// No verified copy at all.
    None,
}

impl Health {
    /// The health of a resource whose newest verified copy was taken at `last_backup`.
    pub fn of(last_backup: Option<DateTime<Utc>>, now: DateTime<Utc>) -> Self {
        match last_backup {
            Some(t) if now - t < chrono::Duration::hours(FRESH_HOURS) => Health::Fresh,
            Some(_) => Health::Stale,
            None => Health::None,
        }
    }
}

/// One resource as the window shows it. The field names and their order are the JSON the
/// window reads (`ResourceRow` in `ui/ipc.js`).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ResourceRow {
    pub kind: ResourceKind,
    pub id: String,
    pub name: String,
    /// The application's language or the database's engine.
    pub runtime: Option<String>,
    /// MB.
    pub ram: u64,
    pub cluster: Option<String>,
    /// When its newest server snapshot was taken, when known.
    pub newest_server: Option<DateTime<Utc>>,
    /// Its newest file on this computer, verified or not.
    pub newest_local: Option<LibraryEntry>,
    /// Where its downloads go: its own folder, else the default one.
    pub dest: Option<PathBuf>,
    /// Whether `dest` is the resource's own folder rather than the default.
    pub own_dest: bool,
    /// When the newest verified copy on this computer was taken.
    pub last_backup: Option<DateTime<Utc>>,
    /// When a plan next covers it.
    pub next_backup: Option<DateTime<Utc>>,
    pub health: Health,
    /// The last [`DAYS`] days, oldest first.
    pub days: Vec<Day>,
    /// The workspace that shares this application with the account, and the account's
    /// role there (absent: the account's own).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub workspace: Option<WorkspaceRef>,
}

/// What the rows are computed from: the account and the engine's state, read once.
pub struct Inputs<'a> {
    pub me: &'a Me,
    pub library: &'a Library,
    pub settings: &'a Settings,
    pub plans: &'a Plans,
    /// Newest server snapshot per resource id, as far as learnt (`Engine::newest_known`).
    pub newest: &'a HashMap<String, Option<DateTime<Utc>>>,
    /// The applications workspaces share with the account (`Engine::resources`' shared ones).
    pub shared: &'a [ResourceRef],
}

/// Every application, then every database, of the account, each with its health at `now`.
pub fn rows(i: &Inputs, now: DateTime<Local>) -> Vec<ResourceRow> {
    let apps = i.me.applications.iter().map(|a| {
        let base = (
            ResourceKind::App,
            &a.id,
            &a.name,
            &a.lang,
            a.ram,
            &a.cluster,
        );
        row(i, base, now)
    });
    let dbs = i.me.databases.iter().map(|d| {
        let base = (
            ResourceKind::Database,
            &d.id,
            &d.name,
            &d.engine,
            d.ram,
            &d.cluster,
        );
        row(i, base, now)
    });
    let none = None;
    let shared = i.shared.iter().filter_map(|r| {
        let w = r.workspace.clone()?;
        let base = (ResourceKind::App, &r.id, &r.name, &none, 0, &none);
        Some(ResourceRow {
            workspace: Some(w),
            ..row(i, base, now)
        })
    });
    apps.chain(dbs).chain(shared).collect()
}

/// The rows from what the engine knows now: no call to Square Cloud (refresh the account
/// and the newest snapshots first when they should be current).
pub fn of_engine(e: &Engine) -> Vec<ResourceRow> {
    let me = e.me();
    let library = e.library();
    let settings = e.settings();
    let plans = e.plans();
    let newest = e.newest_known();
    let shared: Vec<ResourceRef> = e
        .resources()
        .into_iter()
        .filter(|r| r.workspace.is_some())
        .collect();
    let inputs = Inputs {
        shared: &shared,
        me: &me,
        library: &library,
        settings: &settings,
        plans: &plans,
        newest: &newest,
    };
    rows(&inputs, Local::now())
}

type Base<'a> = (
    ResourceKind,
    &'a String,
    &'a String,
    &'a Option<String>,
    u64,
    &'a Option<String>,
);

/// A row as the window shows it: what the server names (the resource's name, runtime and
/// cluster, the name its newest copy recorded) as text no control or bidirectional
/// character survives in, so a name cannot reorder or hide what the window says around it.
/// (`sqsnap --json` keeps them as they are: JSON escapes them itself.)
pub fn shown_row(r: ResourceRow) -> ResourceRow {
    ResourceRow {
        name: printable(&r.name),
        runtime: r.runtime.as_deref().map(printable),
        cluster: r.cluster.as_deref().map(printable),
        newest_local: r.newest_local.as_ref().map(shown),
        workspace: r.workspace.map(|w| WorkspaceRef {
            name: printable(&w.name),
            ..w
        }),
        ..r
    }
}

/// A library entry as the window shows it: its resource's name printable.
pub fn shown(e: &LibraryEntry) -> LibraryEntry {
    LibraryEntry {
        resource_name: printable(&e.resource_name),
        ..e.clone()
    }
}

fn row(
    i: &Inputs,
    (kind, id, name, runtime, ram, cluster): Base,
    now: DateTime<Local>,
) -> ResourceRow {
    let local = i.library.for_resource(id);
    let last_backup = local
        .iter()
        .find(|x| x.verified_at.is_some())
        .map(|x| x.taken_at);
    ResourceRow {
        kind,
        id: id.clone(),
        name: name.clone(),
        runtime: runtime.clone(),
        ram,
        cluster: cluster.clone(),
        newest_server: i.newest.get(id).copied().flatten(),
        newest_local: local.first().map(|x| (*x).clone()),
        dest: i.settings.dest_for(id).map(PathBuf::from),
        own_dest: i.settings.destinations.contains_key(id),
        last_backup,
        next_backup: i.plans.next_for(id, now),
        health: Health::of(last_backup, now.with_timezone(&Utc)),
        days: i.plans.days(id, i.library, DAYS, now),
        workspace: None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plans::{Plan, PlanKind, Retention, Schedule, Scope};
    use chrono::{Duration, TimeZone};

    fn me() -> Me {
        serde_json::from_value(serde_json::json!({
            "user": {"id": "u", "name": "Ana", "plan": {"name": "standard-4", "memory": {"limit": 4096}}},
            "applications": [{"id": "a1", "name": "Atlas", "ram": 512, "lang": "rust", "cluster": "fl-1"}],
            "databases": [{"id": "d1", "name": "Store", "ram": 1024, "type": "postgres"}],
        }))
        .unwrap()
    }

    fn entry(id: &str, taken_at: DateTime<Utc>, verified: bool) -> LibraryEntry {
        LibraryEntry {
            resource_id: id.into(),
            resource_name: id.into(),
            version: None,
            taken_at,
            size: 1,
            path: PathBuf::from(format!("/b/{id}-{}.zip", taken_at.timestamp())),
            downloaded_at: taken_at,
            verified_at: verified.then_some(taken_at),
            copies: Vec::new(),
            sealed_size: None,
            account: None,
        }
    }

    fn now() -> DateTime<Local> {
        Local.with_ymd_and_hms(2025, 3, 10, 12, 0, 0).unwrap()
    }

    fn compute(library: &Library, settings: &Settings, plans: &Plans) -> Vec<ResourceRow> {
        let me = me();
        let newest = HashMap::new();
        let i = Inputs {
            shared: &[],
            me: &me,
            library,
            settings,
            plans,
            newest: &newest,
        };
        rows(&i, now())
    }

    /// What the server names reaches the window (`shown_row`) with no control or bidirectional character:
    /// a resource's name, runtime and cluster, and the name a library copy recorded.
    #[test]
    fn server_names_reach_the_window_printable() {
        let hostile = "bot\u{202E}gpj.exe\u{1b}]0;pwned\u{7}\u{2066}x\u{9b}2J";
        let me: Me = serde_json::from_value(serde_json::json!({
            "user": {"id": "u", "name": "Ana", "plan": {"name": "standard-4", "memory": {"limit": 4096}}},
            "applications": [{"id": "a1", "name": hostile, "ram": 512, "lang": hostile, "cluster": hostile}],
            "databases": [],
        }))
        .unwrap();
        let mut library = Library::default();
        let mut e = entry("a1", Utc::now(), true);
        e.resource_name = hostile.into();
        library.add(e);
        let newest = HashMap::new();
        let (settings, plans) = (Settings::default(), Plans::default());
        let i = Inputs {
            shared: &[],
            me: &me,
            library: &library,
            settings: &settings,
            plans: &plans,
            newest: &newest,
        };
        let raw = rows(&i, now()).remove(0);
        assert_eq!(
            raw.name, hostile,
            "rows keep the name as the server gave it"
        );
        let row = shown_row(raw);
        let local = row.newest_local.clone().unwrap();
        for text in [
            row.name.as_str(),
            row.runtime.as_deref().unwrap(),
            row.cluster.as_deref().unwrap(),
            local.resource_name.as_str(),
        ] {
            assert!(text.contains('\u{FFFD}'), "{text:?}");
            assert!(
                !text.chars().any(|c| c.is_control()
                    || ('\u{2066}'..='\u{2069}').contains(&c)
                    || ('\u{202A}'..='\u{202E}').contains(&c)),
                "{text:?}"
            );
        }
        // The library itself keeps the name as the server gave it.
        assert_eq!(library.entries[0].resource_name, hostile);
    }

    #[test]
    fn health_is_fresh_under_the_threshold_then_stale() {
        let now = now().with_timezone(&Utc);
        let just = now - Duration::hours(FRESH_HOURS) + Duration::minutes(1);
        assert_eq!(Health::of(Some(just), now), Health::Fresh);
        assert_eq!(
            Health::of(Some(now - Duration::hours(FRESH_HOURS)), now),
            Health::Stale
        );
        assert_eq!(Health::of(None, now), Health::None);
        assert_eq!(serde_json::to_value(Health::None).unwrap(), "none");
    }

    #[test]
    fn every_resource_in_order_with_its_health_from_verified_copies_only() {
        let n = now().with_timezone(&Utc);
        let library = Library {
            entries: vec![
                // The newest file of Atlas is not verified: its health comes from the older one.
                entry("a1", n - Duration::hours(2), false),
                entry("a1", n - Duration::hours(50), true),
            ],
            ..Default::default()
        };
        let r = compute(&library, &Settings::default(), &Plans::default());
        assert_eq!(r.len(), 2);
        assert_eq!((r[0].kind, r[0].id.as_str()), (ResourceKind::App, "a1"));
        assert_eq!(r[0].runtime.as_deref(), Some("rust"));
        assert_eq!(
            r[0].newest_local.as_ref().unwrap().taken_at,
            n - Duration::hours(2)
        );
        assert_eq!(r[0].last_backup, Some(n - Duration::hours(50)));
        assert_eq!(r[0].health, Health::Stale);
        assert_eq!(r[0].days.len(), DAYS as usize);
        assert_eq!(
            (r[1].kind, r[1].id.as_str()),
            (ResourceKind::Database, "d1")
        );
        assert_eq!(r[1].runtime.as_deref(), Some("postgres"));
        assert_eq!(r[1].health, Health::None);

        let fresh = Library {
            entries: vec![entry("d1", n - Duration::hours(1), true)],
            ..Default::default()
        };
        let r = compute(&fresh, &Settings::default(), &Plans::default());
        assert_eq!(r[1].health, Health::Fresh);
        assert_eq!(r[1].last_backup, Some(n - Duration::hours(1)));
    }

    #[test]
    fn a_rows_destination_is_its_own_folder_else_the_default() {
        let mut settings = Settings {
            default_dest: Some(PathBuf::from("/backups")),
            ..Default::default()
        };
        settings
            .destinations
            .insert("d1".into(), PathBuf::from("/db"));
        let r = compute(&Library::default(), &settings, &Plans::default());
        assert_eq!(r[0].dest, Some(PathBuf::from("/backups")));
        assert!(!r[0].own_dest);
        assert_eq!(r[1].dest, Some(PathBuf::from("/db")));
        assert!(r[1].own_dest);
        let r = compute(&Library::default(), &Settings::default(), &Plans::default());
        assert_eq!((r[0].dest.as_ref(), r[0].own_dest), (None, false));
    }

    #[test]
    fn a_row_carries_the_next_run_of_a_plan_that_covers_it() {
        let plans = Plans {
            plans: vec![Plan {
                id: "nightly".into(),
                kind: PlanKind::Mirror,
                scope: Scope::Resources {
                    ids: vec!["d1".into()],
                },
                schedule: Schedule::Day {
                    at: chrono::NaiveTime::from_hms_opt(3, 0, 0).unwrap(),
                },
                retention: Retention::default(),
                dest: None,
                offsite: None,
                offsite_only: false,
            }],
            ..Default::default()
        };
        let r = compute(&Library::default(), &Settings::default(), &plans);
        assert_eq!(r[0].next_backup, None, "no plan covers Atlas");
        let next = Local.with_ymd_and_hms(2025, 3, 11, 3, 0, 0).unwrap();
        assert_eq!(r[1].next_backup, Some(next.with_timezone(&Utc)));
    }

    #[test]
    fn the_json_keys_are_the_ones_the_window_reads() {
        let r = compute(&Library::default(), &Settings::default(), &Plans::default());
        let v = serde_json::to_value(&r[0]).unwrap();
        let mut keys: Vec<&str> = v.as_object().unwrap().keys().map(String::as_str).collect();
        keys.sort_unstable();
        let mut want = vec![
            "kind",
            "id",
            "name",
            "runtime",
            "ram",
            "cluster",
            "newest_server",
            "newest_local",
            "dest",
            "own_dest",
            "last_backup",
            "next_backup",
            "health",
            "days",
        ];
        want.sort_unstable();
        assert_eq!(keys, want);
        assert_eq!(v["kind"], "app");
        assert_eq!(v["health"], "none");
    }
}
