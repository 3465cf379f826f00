// The one door to the Rust side: every command the window calls and every event it hears,
// each typed with what crosses IPC. The types are written from the Rust that serializes them
// (src-tauri/src/commands.rs, src-tauri/src/lib.rs, crates/snapshots/src/): a field renamed
// there is renamed here, and `tsc --checkJs` (make test) finds every use that no longer fits.
// Times are RFC 3339 strings (chrono's DateTime<Utc>), paths are strings (PathBuf), and a
// Rust Option is `T | null`.

// ---- Errors ----

/** Every command fails with this: a code the window may branch on, words a person reads.
 * `path`: the folder a refusal is about, when the window may go on with it once the user confirms.
 * @typedef {{ code: string, message: string, path?: string }} UiError */

// ---- Session and account (commands.rs) ----

/** @typedef {{ total: number, used: number, remaining: number, next_free_at: string | null,
 *   used_is_estimate: boolean, next_free_is_estimate: boolean }} QuotaStatus */
/** @typedef {{ id: string, name: string, plan: string, memory_mb: number, daily_quota: number }} AccountView */
/** `fresh_hours`: how old a resource's newest copy may be and still count as fresh (overview.rs);
 * `notices`: what the user should know from the start (a state file kept aside, a stored key
 * that could not be used), each with its code.
 * @typedef {{ signed_in: boolean, demo: boolean, account: AccountView | null, quota: QuotaStatus | null,
 *   fresh_hours: number, notices: UiError[], accounts: number }} Session */
/** An account in the header's menu (switcher.rs `AccountEntry`): `name` is what it is called
 * here, `server_name` Square Cloud's; `problem`: why it is not signed in.
 * @typedef {{ id: string, name: string, server_name: string, current: boolean, signed_in: boolean,
 *   quota: QuotaStatus | null, problem: UiError | null }} AccountEntry */
/** One account's part of "All accounts" (switcher.rs `AccountGroup`).
 * @typedef {{ id: string, name: string, quota: QuotaStatus | null, rows: ResourceRow[], problem: UiError | null }} AccountGroup */
/** @typedef {{ deleted: number, skipped: number, session: Session }} RemovedView */

// ---- Resources, versions, the library ----

/** @typedef {"app" | "database"} ResourceKind */
/** One day of a resource's last 30 (plans.rs `Day`). @typedef {"backed_up" | "failed" | "missed" | "nothing"} Day */
/** `fresh`: a verified copy under `Session.fresh_hours` old. @typedef {"fresh" | "stale" | "none"} Health */
/** Where else a library copy is kept (offsite.rs `Elsewhere`); `endpoint` is null once the
 * destination was removed. @typedef {{ name: string, endpoint: string | null, bucket: string, key: string }} Elsewhere */
/** `elsewhere`, `here` (its file is on this computer) and `waiting_for` (the destination it waits in
 * the outbox for): only in list_library's answer (offsite.rs `LibraryRow`). `sealed_size`: the
 * copy at `path` is encrypted (`….zip.age`), this many bytes on disk; `size` is the zip's.
 * @typedef {{ resource_id: string, resource_name: string, version: string | null, taken_at: string,
 *   size: number, path: string, downloaded_at: string, verified_at: string | null,
 *   sealed_size?: number | null, elsewhere?: Elsewhere[], here?: boolean, waiting_for?: string | null }} LibraryEntry */
/** @typedef {{ kind: ResourceKind, id: string, name: string, runtime: string | null, ram: number,
 *   cluster: string | null, newest_server: string | null, newest_local: LibraryEntry | null,
 *   dest: string | null, own_dest: boolean, last_backup: string | null, next_backup: string | null,
 *   health: Health, days: Day[], workspace?: WorkspaceRef, account?: AccountRef, head?: boolean }} ResourceRow */
/** Added by the window, not sent by Rust: whose the row is, and (in "All accounts") that it is
 * its account's first row, under the account's heading (whose quota and count are in `state.groups`).
 * @typedef {{ id: string, name: string }} AccountRef */
/** The workspace that shares an application with the account (engine `WorkspaceRef`).
 * @typedef {{ id: string, name: string, role: WorkspaceRole, may_snapshot: boolean }} WorkspaceRef */
/** @typedef {"owner" | "admin" | "maintain" | "manager" | "view" | "unknown"} WorkspaceRole */
/** @typedef {{ version: string | null, modified: string, size: number, origin: string | null }} VersionView */
/** @typedef {{ deleted: string[], kept: number, skipped: string[] }} PruneReport */
/** @typedef {{ version: string, version_taken_at: string, snapshot_first: string | null }} RestoreView */
/** put_back.rs `PutBackCheck`. @typedef {{ path: string, size: number, entries: number, from_taken_at: string | null }} PutBackCheck */
/** put_back.rs `PutBackView`. @typedef {{ size: number, restarted: boolean, snapshot_first: string | null }} PutBackView */

// ---- Offsite destinations (src-tauri/src/offsite.rs) ----

/** A destination without its secret. @typedef {{ name: string, endpoint: string, region: string, bucket: string,
 *   prefix: string, path_style: boolean, access_key_id: string, encrypt: boolean }} OffsiteView */
/** One step of Test; `code` and `message` say why it failed. @typedef {{ step: "put" | "head" | "delete", ok: boolean,
 *   code: string | null, message: string | null }} ProbeStep */
/** One upload of a sync (offsite.rs `UploadEvent`, tag `state`): the local copy `file` of
 * `resource` (named `name`) going to `destination`'s `bucket`.
 * @typedef {{ destination: string, bucket: string, file: string, resource: string, name: string }} UploadOf */
/** @typedef {UploadOf & ({ state: "waiting" } | { state: "sending", progress: Progress } | { state: "sent", at: string }
 *   | { state: "failed", code: string, message: string } | { state: "left" })} UploadEvent */
/** A copy kept in a bucket (engine `OffsiteCopy`); `configured` is false once its destination was
 * removed here. @typedef {{ destination: string, bucket: string, key: string, version: string | null,
 *   taken_at: string, size: number, sealed: boolean, configured: boolean, local: string }} OffsiteCopy */
/** @typedef {{ name: string, uploaded: number, present: number, missing: number }} SyncView */
/** What a plan's offsite step did (the scheduler's runs); `waiting` copies wait on this computer,
 * in `waiting_in`, for the upload; `code` and `message` say why not all went. @typedef {{ name: string, ok: boolean,
 *   uploaded: number, code: string | null, message: string | null, only: boolean, waiting: number,
 *   waiting_in: string | null }} OffsiteSynced */

// ---- Settings ----

/** Read with get_settings, changed and written back whole with save_settings.
 * @typedef {{ default_dest: string | null, keep_last: number | null, keep_days: number | null,
 *   close_to_tray: boolean, locale: string | null, full_verify: boolean, notify_success: boolean,
 *   metered_limit_mb: number | null, theme: string | null, connections: number | null,
 *   limit_rate: number | null, destinations: Record<string, string> }} SettingsView */

// ---- Encrypted copies (crates/snapshots/src/seal/folders.rs, engine/sealing.rs) ----

/** One folder's choice and what is in it.
 * @typedef {{ folder: string, encrypts: boolean, plain_copies: number, sealed_copies: number,
 *   recovery_exported: boolean, recipient: string | null }} FolderEncryption */
/** @typedef {{ folders: FolderEncryption[], recovery_exported: boolean, recipient: string | null,
 *   min_passphrase_chars: number }} Encryption */

// ---- Plans (crates/snapshots/src/plans.rs) ----

/** @typedef {"mirror" | "snapshot"} PlanKind */
/** Local time; `at` is "HH:MM:SS"; `weekday` 0 = Monday.
 * @typedef {{ every: "hour" } | { every: "hours", hours: number } | { every: "day", at: string }
 *   | { every: "week", weekday: number, at: string }} Schedule */
/** @typedef {{ scope: "all" } | { scope: "resources", ids: string[] }} Scope */
/** @typedef {{ keep: "calendar", daily: number, weekly: number, monthly: number } | { keep: "last", n: number }
 *   | { keep: "everything" }} Retention */
/** `offsite`: the destination its copies go to; with `offsite_only`, they are kept there only.
 * @typedef {{ id: string, kind: PlanKind, scope: Scope, schedule: Schedule, retention: Retention,
 *   dest: string | null, offsite?: string | null, offsite_only?: boolean }} Plan */
/** What a run's offsite step did (model.rs `OffsiteNote`); `error` is the Rust side's words and
 * `code` (missing in runs recorded before it was kept) what the window words it by.
 * @typedef {{ dest: string, only: boolean, uploaded: number, deleted: number, waiting: number,
 *   waiting_in?: string | null, error?: string | null, code?: string | null }} OffsiteNote */
/** @typedef {{ period: string, started: string, ended: string | null, ok: boolean, bytes: number,
 *   files: number, failures: string[], failed_ids: string[], postponed: string[],
 *   reserve_held?: string[], offsite?: OffsiteNote | null }} RunRecord */
/** A run with its plan's name (`#[serde(flatten)]`). @typedef {RunRecord & { plan: string }} HistoryRow */
/** @typedef {{ plan: Plan, last_run: RunRecord | null, next_run: string, prune_preview: string[] }} PlanRow */
/** A stored plan that cannot run, with why. @typedef {{ id: string, why: string }} InvalidPlan */
/** @typedef {{ plans: PlanRow[], creates_per_day: number, quota: number, reserve: number,
 *   invalid: InvalidPlan[] }} PlansView */
/** What one due plan did. @typedef {{ plan: string, period: string, ok: boolean, files: number, bytes: number }} PlanRun */

// ---- Engine events (crates/snapshots/src/engine.rs `Event`, tag `event`, snake_case) ----

/** @typedef {{ bytes: number, total: number | null, bytes_per_sec: number, eta_secs: number | null }} Progress */
/** @typedef {"account_window" | "resource_window" | "keep_calm" | "retry"} WaitReason */
/** @typedef {{ event: "waiting", resource: string, until: string, reason: WaitReason }} WaitingEvent */
/** @typedef {{ event: "paused_for_quota", until: string | null, held: string[] }} PausedForQuotaEvent */
/** @typedef {{ event: "rate_limited", until: string }} RateLimitedEvent */
/** @typedef {{ event: "creating", resource: string, since: string }} CreatingEvent */
/** @typedef {{ event: "processing", resource: string, since: string, answer_lost: boolean, until: string }} ProcessingEvent */
/** @typedef {{ event: "joined", resource: string, since: string }} JoinedEvent */
/** @typedef {{ event: "created", resource: string, taken_at: string }} CreatedEvent */
/** @typedef {{ event: "downloading", resource: string, progress: Progress }} DownloadingEvent */
/** `outbox`: the offsite destination the file waits on this computer for (an offsite-only plan).
 * @typedef {{ event: "done", resource: string, path: string, size: number, already_present: boolean,
 *   outbox?: string }} DoneEvent */
/** @typedef {{ event: "uploading", resource: string, progress: Progress }} UploadingEvent */
/** @typedef {{ event: "committed", resource: string, size: number, restart: boolean }} CommittedEvent */
/** A copy kept in a bucket arriving to be put back.
 * @typedef {{ event: "fetching", resource: string, destination: string, bucket: string, progress: Progress }} FetchingEvent */
/** It is here and reads whole; the put back goes on. @typedef {{ event: "fetched", resource: string, size: number }} FetchedEvent */
/** @typedef {{ event: "failed", resource: string, code: string, message: string }} FailedEvent */
/** `account`: whose quota it is (background work says it; a click's channel is told by the
 * window). @typedef {{ event: "quota", quota: QuotaStatus, account?: string }} QuotaEvent */
/** @typedef {{ event: "postponed", resource: string, reason: string, bytes: number }} PostponedEvent */
/** @typedef {{ event: "learned", message: string }} LearnedEvent */
/** @typedef {{ event: "paused" } | { event: "resumed" }} PauseEvent */
/** @typedef {WaitingEvent | PausedForQuotaEvent | RateLimitedEvent | CreatingEvent | ProcessingEvent
 *   | JoinedEvent | CreatedEvent | DownloadingEvent | DoneEvent | FailedEvent | QuotaEvent
 *   | PostponedEvent | LearnedEvent | PauseEvent | UploadingEvent | CommittedEvent | FetchingEvent
 *   | FetchedEvent} EngineEventOf */
/** An engine event, with the id of the account whose engine sent it when it is known (the
 * app's `engine-event` always says it). @typedef {EngineEventOf & { account?: string }} EngineEvent */

// ---- Window events (src-tauri/src/lib.rs) ----

/** A drag over the window; `ok` is checked once, on enter, and `code` and `message` say why
 * not. x and y are physical pixels.
 * @typedef {{ phase: "enter" | "over" | "leave", ok: boolean, code?: string | null, message?: string | null,
 *   x: number, y: number }} DragState */
/** @typedef {{ ok: boolean, path: string | null, code?: string | null, message?: string | null, x: number, y: number }} FolderDropped */

/** The events the Rust side emits to the window, and what each carries.
 * @typedef {{ "engine-event": EngineEvent, "plans-ran": PlanRun[], "queue-paused": boolean,
 *   "tray-snapshot-all": null, "focus-resource": string, "drag-state": DragState,
 *   "folder-dropped": FolderDropped, "offsite-upload": UploadEvent, "offsite-synced": OffsiteSynced }} Events */

/** Their names. @satisfies {Record<string, keyof Events>} */
export const EVENTS = /** @type {const} */ ({
  engineEvent: "engine-event",
  plansRan: "plans-ran",
  queuePaused: "queue-paused",
  traySnapshotAll: "tray-snapshot-all",
  focusResource: "focus-resource",
  dragState: "drag-state",
  folderDropped: "folder-dropped",
  offsiteUpload: "offsite-upload",
  offsiteSynced: "offsite-synced",
});

// ---- Tauri's global API (withGlobalTauri), as far as it is used here ----

/** @typedef {{ onmessage: (message: EngineEvent) => void }} EventChannel */
/** @typedef {{
 *   core: { invoke: (cmd: string, args?: Record<string, unknown>) => Promise<any>, Channel: new () => EventChannel },
 *   event: { listen: (name: string, handler: (ev: { payload: any }) => void) => Promise<() => void> },
 * }} TauriGlobal */

const tauri = /** @type {TauriGlobal} */ (/** @type {any} */ (window).__TAURI__);
const call = tauri.core.invoke;

// A resource's commands go to the engine of the account it belongs to: with "All accounts"
// the rows of several accounts are in one list. The state says whose a resource is; null
// (or a resource of no row) is the account the window shows.
/** @type {(id: string | null) => string | null} */
let accountOf = () => null;
/** @param {(id: string | null) => string | null} owner */
export function routeBy(owner) { accountOf = owner; }

/**
 * Listens to one of the app's events.
 * @template {keyof Events} K
 * @param {K} name
 * @param {(payload: Events[K]) => void} handler
 */
export function on(name, handler) {
  return tauri.event.listen(name, (ev) => handler(ev.payload));
}

/** A channel for one job's engine events (a click's snapshot, download or restore).
 * @param {(e: EngineEvent) => void} handler */
export function eventChannel(handler) {
  const ch = new tauri.core.Channel();
  ch.onmessage = handler;
  return ch;
}

// ---- Commands (src-tauri/src/commands.rs), one wrapper each ----

/** The session; signs in with the stored key when there is one. @returns {Promise<Session>} */
export const getSession = () => call("get_session");
/** @param {string} key @returns {Promise<Session>} */
export const signIn = (key) => call("sign_in", { key });
/** @returns {Promise<Session>} */
export const signOut = () => call("sign_out");

// ---- Accounts (src-tauri/src/switcher.rs) ----

/** Every account this computer knows; each one whose key is kept is signed in. @returns {Promise<AccountEntry[]>} */
export const listAccounts = () => call("list_accounts");
/** The window shows the account `id` from now on. @param {string} id @returns {Promise<Session>} */
export const switchAccount = (id) => call("switch_account", { id });
/** A name on this computer (null: Square Cloud's). @param {string} id @param {string | null} label @returns {Promise<void>} */
export const renameAccount = (id, label) => call("rename_account", { id, label });
/** @param {string} id @param {boolean} deleteCopies @returns {Promise<RemovedView>} */
export const removeAccount = (id, deleteCopies) => call("remove_account", { id, deleteCopies });
/** Every signed-in account's resources, by account. @returns {Promise<AccountGroup[]>} */
export const listAllResources = () => call("list_all_resources");

/** @returns {Promise<ResourceRow[]>} */
export const listResources = () => call("list_resources");
/** Learns each resource's newest server snapshot; true when something changed. @returns {Promise<boolean>} */
export const refreshNewest = () => call("refresh_newest");
/** @param {string} id @returns {Promise<VersionView[]>} */
export const listVersions = (id) => call("list_versions", { id, account: accountOf(id) });
/** The page has painted its first list (the log says how long the start took). @returns {Promise<void>} */
export const listShown = () => call("list_shown");

/** @param {string[]} ids @param {EventChannel} onEvent @returns {Promise<number>} */
export const createSnapshots = (ids, onEvent) => call("create_snapshots", { ids, onEvent, account: accountOf(ids[0]) });
/** The newest snapshot, or `version`; resolves to the file's path.
 * @param {string} id @param {string | null} version @param {EventChannel} onEvent @returns {Promise<string>} */
export const downloadSnapshot = (id, version, onEvent) => call("download_snapshot", { id, version, onEvent, account: accountOf(id) });
/** @param {string} id @param {string} version @param {boolean} snapshotFirst @param {EventChannel} onEvent
 * @returns {Promise<RestoreView>} */
export const restoreSnapshot = (id, version, snapshotFirst, onEvent) =>
  call("restore_snapshot", { id, version, snapshotFirst, onEvent, account: accountOf(id) });
/** What putting `path` back into `id` would do; refusals come back as {code, message}.
 * @param {string} id @param {string} path @returns {Promise<PutBackCheck>} */
export const checkPutBack = (id, path) => call("check_put_back", { id, path, account: accountOf(id) });
/** @param {string} id @param {string} path @param {boolean} snapshotFirst @param {boolean} restart
 * @param {EventChannel} onEvent @returns {Promise<PutBackView>} */
export const putBack = (id, path, snapshotFirst, restart, onEvent) =>
  call("put_back", { id, path, snapshotFirst, restart, onEvent, account: accountOf(id) });
/** The copies of `id`'s snapshots kept in buckets, newest first. @param {string} id @returns {Promise<OffsiteCopy[]>} */
export const listOffsiteCopies = (id) => call("list_offsite_copies", { id, account: accountOf(id) });
/** Fetches the copy at `key` in `destination`, puts it back into `id`, removes it.
 * @param {string} id @param {string} destination @param {string} key @param {boolean} snapshotFirst
 * @param {boolean} restart @param {EventChannel} onEvent @returns {Promise<PutBackView>} */
export const putBackOffsite = (id, destination, key, snapshotFirst, restart, onEvent) =>
  call("put_back_offsite", { id, destination, key, snapshotFirst, restart, onEvent, account: accountOf(id) });
/** The native picker for a zip; null when closed. @returns {Promise<string | null>} */
export const pickPutBackFile = () => call("pick_put_back_file");
/** The account's offsite destinations. @returns {Promise<OffsiteView[]>} */
export const listOffsite = () => call("list_offsite");
/** Adds a destination; `secret` goes to the OS keychain and never comes back.
 * @param {Omit<OffsiteView, never>} destination @param {string} secret @returns {Promise<OffsiteView[]>} */
export const addOffsite = (destination, secret) => call("add_offsite", { destination, secret });
/** Its key leaves the keychain; its copies stay in the bucket. @param {string} name @returns {Promise<OffsiteView[]>} */
export const removeOffsite = (name) => call("remove_offsite", { name });
/** @param {string} name @returns {Promise<ProbeStep[]>} */
export const testOffsite = (name) => call("test_offsite", { name });
/** Sends what the destination (or, with null, each one) lacks; each upload is told as an
 * `offsite-upload` event. @param {string | null} name @returns {Promise<SyncView[]>} */
export const syncOffsite = (name) => call("sync_offsite", { name });

/** Stops every job. @returns {Promise<void>} */
export const cancelTransfer = () => call("cancel_transfer");
/** @param {string} resource @returns {Promise<boolean>} */
export const stopWaiting = (resource) => call("stop_waiting", { resource, account: accountOf(resource) });
/** @param {boolean} paused @returns {Promise<void>} */
export const pauseQueue = (paused) => call("pause_queue", { paused });
/** The window's language, for the tray. @param {string} locale @returns {Promise<void>} */
export const setLanguage = (locale) => call("set_language", { locale });
/** The system's language as the tray picks it (the web view's may differ). @returns {Promise<string>} */
export const systemLanguage = () => call("system_language");

/** @returns {Promise<SettingsView>} */
export const getSettings = () => call("get_settings");
/** @param {SettingsView} settings @returns {Promise<void>} */
export const saveSettings = (settings) => call("save_settings", { settings });
/** A resource's folder, or the default one (`resource` null); resolves to the folder used. A
 * folder another account uses is refused (`folder_shared`, with its `path`) unless `confirmed`.
 * @param {string | null} resource @param {string} path @param {boolean} [confirmed] @returns {Promise<string>} */
export const setDestination = (resource, path, confirmed = false) => call("set_destination", { resource, path, account: accountOf(resource), confirmed });
/** @param {string | null} resource @param {string[]} paths @returns {Promise<string>} */
export const setDestinationFromPaths = (resource, paths) => call("set_destination_from_paths", { resource, paths, account: accountOf(resource) });
/** @param {string} resource @returns {Promise<void>} */
export const clearDestination = (resource) => call("clear_destination", { resource, account: accountOf(resource) });
/** The folder picker; null when the person cancelled it.
 * @param {string | null} resource @returns {Promise<string | null>} */
export const pickDestination = (resource) => call("pick_destination", { resource, account: accountOf(resource) });
/** @param {string} path @returns {Promise<void>} */
export const openFolder = (path) => call("open_folder", { path });

/** @param {string | null} resource @returns {Promise<LibraryEntry[]>} */
export const listLibrary = (resource) => call("list_library", { resource, account: accountOf(resource) });
/** @param {string} path @returns {Promise<void>} */
export const verifyFile = (path) => call("verify_file", { path });
/** @param {number | null} keepLast @param {number | null} keepDays @returns {Promise<PruneReport>} */
export const pruneLibrary = (keepLast, keepDays) => call("prune_library", { keepLast, keepDays });

/** Each folder's encryption, and whether a recovery key was written. @returns {Promise<Encryption>} */
export const getEncryption = () => call("get_encryption");
/** On needs `confirmed` (the lost-key warning said and agreed to) while no recovery key was written.
 * @param {string} path @param {boolean} on @param {boolean} confirmed @returns {Promise<FolderEncryption>} */
export const setFolderEncrypts = (path, on, confirmed) => call("set_folder_encrypts", { path, on, confirmed });
/** Writes the recovery key where the native save dialog says; null when it was closed.
 * @param {string} passphrase @returns {Promise<string | null>} */
export const exportRecoveryKey = (passphrase) => call("export_recovery_key", { passphrase });

/** @returns {Promise<boolean>} */
export const getStartAtLogin = () => call("get_start_at_login");
/** Resolves to whether it is on now. @param {boolean} enabled @returns {Promise<boolean>} */
export const setStartAtLogin = (enabled) => call("set_start_at_login", { enabled });

/** @returns {Promise<PlansView>} */
export const listPlans = () => call("list_plans");
/** @returns {Promise<HistoryRow[]>} */
export const listHistory = () => call("list_history");
/** @param {Plan} plan @returns {Promise<PlansView>} */
export const addPlan = (plan) => call("add_plan", { plan });
/** @param {string} id @returns {Promise<PlansView>} */
export const removePlan = (id) => call("remove_plan", { id });
/** @param {number} reserve @returns {Promise<PlansView>} */
export const setPlanReserve = (reserve) => call("set_plan_reserve", { reserve });
