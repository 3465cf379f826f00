//! The Square Snapshots desktop shell: it adapts the engine for the window (thin commands,
//! events over a `Channel`), and owns the tray, notifications, dialogs and drag-and-drop.

#[cfg(test)]
mod acl_tests;
mod appid;
mod autostart;
mod commands;
mod encryption;
mod error;
mod events;
mod notify;
mod offsite;
mod opener;
mod put_back;
#[cfg(target_os = "linux")]
mod render;
mod schedule;
mod state;
mod switcher;
#[cfg(target_os = "linux")]
mod trayhost;
mod words;

use serde::Serialize;
use snapshots::settings::{FolderError, folder_from_drop};
use state::AppState;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use tauri::menu::{CheckMenuItem, Menu, MenuItem};
use tauri::tray::TrayIconBuilder;
use tauri::{DragDropEvent, Emitter, Manager, Runtime, WindowEvent};
use tauri_plugin_window_state::{AppHandleExt, StateFlags};
use words::Speak;

/// What a drop onto the window became, for the UI to apply to a row or to the default.
#[derive(Clone, Serialize)]
struct Dropped {
    ok: bool,
    path: Option<std::path::PathBuf>,
    /// Why not: its code (the window's words) and the engine's message (the detail).
    code: Option<&'static str>,
    message: Option<String>,
    x: f64,
    y: f64,
}

/// A drag over the window, for the overlay: whether what is dragged can be dropped (checked
/// once, when it enters), and where the pointer is, so rows can light up as targets.
#[derive(Clone, Serialize)]
struct Drag {
    phase: &'static str,
    ok: bool,
    code: Option<&'static str>,
    message: Option<String>,
    x: f64,
    y: f64,
}

fn show_main<R: Runtime>(app: &tauri::AppHandle<R>) {
    // Shown by the user: no first showing (at login, minimised) may follow.
    if let Some(first) = app.try_state::<FirstShow>() {
        first.done.store(true, Ordering::SeqCst);
    }
    if let Some(w) = app.get_webview_window("main") {
        let _ = w.show();
        let _ = w.unminimize();
        let _ = w.set_focus();
    }
}

/// The tray icon and its menu. Without a tray host the app still runs; closing the window
/// then quits (or minimises, while plans must run), since nothing would bring it back.
fn tray<R: Runtime>(app: &tauri::AppHandle<R>) -> tauri::Result<()> {
    let w = app.state::<words::Speech>().get().words();
    let open = MenuItem::with_id(app, "open", w.open, true, None::<&str>)?;
    let all = MenuItem::with_id(app, "snapshot_all", w.back_up_all, true, None::<&str>)?;
    let pause = MenuItem::with_id(app, "pause", w.pause, true, None::<&str>)?;
    let cancel = MenuItem::with_id(app, "cancel", w.stop, true, None::<&str>)?;
    let at_login = autostart::is_enabled(app);
    let login =
        CheckMenuItem::with_id(app, "login", w.start_at_login, true, at_login, None::<&str>)?;
    let quit = MenuItem::with_id(app, "quit", w.quit, true, None::<&str>)?;
    let menu = Menu::with_items(app, &[&open, &all, &pause, &cancel, &login, &quit])?;
    app.manage(TrayItems {
        open,
        all,
        pause,
        cancel,
        login,
        quit,
    });
    let icon = tauri::image::Image::from_bytes(include_bytes!("../../icons/tray.png"))?;
    TrayIconBuilder::with_id(appid::ID)
        .icon(icon)
        .tooltip("Square Snapshots")
        .menu(&menu)
        .on_menu_event(|app, event| match event.id().as_ref() {
            "open" => show_main(app),
            "snapshot_all" => {
                show_main(app);
                let _ = app.emit("tray-snapshot-all", ());
            }
            "pause" => {
                let app = app.clone();
                tauri::async_runtime::spawn(async move {
                    let paused = app
                        .state::<AppState>()
                        .engine()
                        .await
                        .map(|e| !e.is_paused());
                    if let Some(p) = paused {
                        set_paused(&app, p).await;
                    }
                });
            }
            "cancel" => {
                app.state::<AppState>().cancel_all();
                let app = app.clone();
                tauri::async_runtime::spawn(async move {
                    if let Some(e) = app.state::<AppState>().engine().await {
                        let _ = e.forget_unfinished();
                    }
                });
            }
            "login" => {
                let on = !autostart::is_enabled(app);
                if let Err(e) = commands::start_at_login(app, on) {
                    eprintln!("start at login: {}", e.message);
                }
            }
            "quit" => {
                app.state::<AppState>().cancel_all();
                app.exit(0);
            }
            _ => {}
        })
        .build(app)?;
    Ok(())
}

/// Builds the app; `run_app` takes a builder so tests can boot it on the mock runtime.
pub fn run_app<R: Runtime>(builder: tauri::Builder<R>, state: AppState) -> tauri::Builder<R> {
    let speech = words::Speech::new(words::of_system());
    builder
        .manage(state)
        .manage(GeometryChanges::default())
        .manage(speech.clone())
        .manage(notify::Notifier::speaking(speech))
        .invoke_handler(command_handler())
        .on_page_load(|w, p| {
            if p.event() == tauri::webview::PageLoadEvent::Finished {
                show_first_time(w.app_handle(), "once its page loaded");
            }
        })
        .setup(|app| {
            autostart::adopt_legacy();
            let has_tray = setup_tray(app.handle());
            setup_first_show(app.handle(), has_tray);
            setup_notifications(app.handle());
            start_background(app.handle());
            Ok(())
        })
        .on_window_event(|window, event| match event {
            WindowEvent::DragDrop(drag) => on_drag_drop(window, drag),
            WindowEvent::CloseRequested { api, .. } => on_close_requested(window, api),
            WindowEvent::Resized(_) | WindowEvent::Moved(_) => {
                save_geometry_soon(window.app_handle())
            }
            _ => {}
        })
}

/// Every command the window may call.
fn command_handler<R: Runtime>() -> impl Fn(tauri::ipc::Invoke<R>) -> bool + Send + Sync + 'static {
    tauri::generate_handler![
        commands::get_session,
        commands::sign_in,
        commands::sign_out,
        commands::list_resources,
        commands::refresh_newest,
        commands::list_versions,
        commands::create_snapshots,
        commands::download_snapshot,
        commands::cancel_transfer,
        commands::stop_waiting,
        commands::pause_queue,
        commands::get_settings,
        commands::save_settings,
        commands::set_destination,
        commands::set_destination_from_paths,
        commands::clear_destination,
        commands::pick_destination,
        commands::open_folder,
        offsite::list_library,
        commands::verify_file,
        commands::prune_library,
        encryption::get_encryption,
        encryption::set_folder_encrypts,
        encryption::export_recovery_key,
        commands::restore_snapshot,
        put_back::check_put_back,
        put_back::put_back,
        put_back::list_offsite_copies,
        put_back::put_back_offsite,
        put_back::pick_put_back_file,
        offsite::list_offsite,
        offsite::add_offsite,
        offsite::remove_offsite,
        offsite::test_offsite,
        offsite::sync_offsite,
        commands::list_shown,
        commands::get_start_at_login,
        commands::set_start_at_login,
        commands::set_language,
        commands::system_language,
        commands::list_plans,
        commands::list_history,
        commands::set_plan_reserve,
        commands::add_plan,
        commands::remove_plan,
        switcher::list_accounts,
        switcher::switch_account,
        switcher::rename_account,
        switcher::remove_account,
        switcher::list_all_resources,
    ]
}

/// Makes the tray icon; whether it could is remembered (`TrayPresent`) and returned.
fn setup_tray<R: Runtime>(app: &tauri::AppHandle<R>) -> bool {
    let has_tray = match tray(app) {
        Ok(()) => true,
        Err(e) => {
            eprintln!("no tray icon ({e}); closing the window will quit");
            false
        }
    };
    app.manage(TrayPresent(has_tray));
    has_tray
}

/// The window is created hidden and shown once its page has loaded (see
/// `show_first_time`). Started at login: it stays in the tray, or opens minimised when
/// there is no tray to go to (see `stay_in_tray_or_show`).
fn setup_first_show<R: Runtime>(app: &tauri::AppHandle<R>, has_tray: bool) {
    let at_login = std::env::args().any(|a| a == "--minimized");
    app.manage(FirstShow {
        at_login,
        done: AtomicBool::new(false),
    });
    if at_login {
        let handle = app.clone();
        std::thread::spawn(move || stay_in_tray_or_show(handle, has_tray));
    }
    // Should the page never load (a broken web process), the window still comes.
    let handle = app.clone();
    tauri::async_runtime::spawn(async move {
        tokio::time::sleep(std::time::Duration::from_secs(3)).await;
        show_first_time(&handle, "although its page had not loaded after 3 s");
    });
}

/// A click on a notification opens the window, on its resource when it names one.
fn setup_notifications<R: Runtime>(app: &tauri::AppHandle<R>) {
    let notifier = app.state::<notify::Notifier>();
    let handle = app.clone();
    notifier.set_opener(Box::new(move |resource| {
        show_main(&handle);
        if let Some(id) = resource {
            let _ = handle.emit("focus-resource", id);
        }
    }));
}

/// The work that runs while the app is open, in the window or the tray: the plans.
fn start_background<R: Runtime>(app: &tauri::AppHandle<R>) {
    schedule::start(app.clone());
}

/// A drag over the window: the overlay follows it, and a drop sets a folder.
fn on_drag_drop<R: Runtime>(window: &tauri::Window<R>, event: &DragDropEvent) {
    let drag = |phase, ok, why: Option<FolderError>, (x, y)| Drag {
        phase,
        ok,
        code: why.as_ref().map(FolderError::code),
        message: why.map(|e| e.to_string()),
        x,
        y,
    };
    match event {
        DragDropEvent::Enter { paths, position } => {
            let verdict = folder_from_drop(paths);
            let d = drag(
                "enter",
                verdict.is_ok(),
                verdict.err(),
                (position.x, position.y),
            );
            let _ = window.emit("drag-state", d);
        }
        DragDropEvent::Over { position } => {
            let d = drag("over", true, None, (position.x, position.y));
            let _ = window.emit("drag-state", d);
        }
        DragDropEvent::Leave => {
            let _ = window.emit("drag-state", drag("leave", true, None, (0.0, 0.0)));
        }
        DragDropEvent::Drop { paths, position } => {
            let (x, y) = (position.x, position.y);
            let d = match folder_from_drop(paths) {
                Ok(p) => Dropped {
                    ok: true,
                    path: Some(p),
                    code: None,
                    message: None,
                    x,
                    y,
                },
                Err(e) => Dropped {
                    ok: false,
                    path: None,
                    code: Some(e.code()),
                    message: Some(e.to_string()),
                    x,
                    y,
                },
            };
            let _ = window.emit("folder-dropped", d);
        }
        _ => {}
    }
}

/// Closing the window: into the tray when one shows it, minimised when plans must keep
/// running and nothing could bring a hidden window back, else the app quits.
fn on_close_requested<R: Runtime>(window: &tauri::Window<R>, api: &tauri::CloseRequestApi) {
    let app = window.app_handle();
    let tray = tray_shown(app);
    let to_tray = app.state::<AppState>().close_to_tray();
    if tray && to_tray {
        api.prevent_close();
        // The plugin writes its file at exit; hiding to the tray is not an exit, so save
        // now (while still visible) and a crash or logout keeps it.
        let _ = app.save_window_state(window_state_flags());
        let _ = window.hide();
    } else if !tray && to_tray && has_plans(app) {
        // No tray host (plain GNOME): plans must keep running, and a hidden window could
        // not be brought back, so the window is minimised.
        api.prevent_close();
        let _ = window.minimize();
        eprintln!(
            "square-snapshots: closed with nothing to show a tray icon, while plans \
             need the app running: the window is minimised instead"
        );
    }
}

/// Whether the tray icon was made. Whether anything shows it is `tray_shown`.
struct TrayPresent(bool);

/// Whether the tray icon is made and something on the desktop shows it now: only then may
/// the window hide into it.
fn tray_shown<R: Runtime>(app: &tauri::AppHandle<R>) -> bool {
    app.try_state::<TrayPresent>().is_some_and(|t| t.0) && tray_host_visible()
}

#[cfg(target_os = "linux")]
fn tray_host_visible() -> bool {
    trayhost::visible()
}

#[cfg(not(target_os = "linux"))]
fn tray_host_visible() -> bool {
    true
}

/// How long a start at login waits for the desktop's tray: the panel may come up after us.
const TRAY_HOST_WAIT: std::time::Duration = std::time::Duration::from_secs(10);

/// Started at login: stays in the tray once something shows it; when nothing does within
/// `TRAY_HOST_WAIT`, the window opens minimised and unfocused instead, so the app is never
/// running where no one can reach it.
fn stay_in_tray_or_show<R: Runtime>(app: tauri::AppHandle<R>, icon_made: bool) {
    let since = std::time::Instant::now();
    if icon_made {
        loop {
            if tray_host_visible() {
                eprintln!("square-snapshots: started at login; staying in the tray");
                return;
            }
            if since.elapsed() >= TRAY_HOST_WAIT {
                break;
            }
            std::thread::sleep(std::time::Duration::from_millis(500));
        }
    }
    eprintln!(
        "square-snapshots: started at login, but nothing on this desktop shows tray icons; \
         the window opens minimised"
    );
    let handle = app.clone();
    let _ = app.run_on_main_thread(move || {
        let Some(first) = handle.try_state::<FirstShow>() else {
            return;
        };
        if first.done.swap(true, Ordering::SeqCst) {
            return; // opened meanwhile (a second launch, the tray menu)
        }
        if let Some(w) = handle.get_webview_window("main") {
            let _ = w.minimize();
            let _ = w.show();
        }
    });
}

/// The window's first showing, once: `at_login` (`--minimized`) keeps it in the tray, or
/// shows it minimised and unfocused where there is no tray.
struct FirstShow {
    at_login: bool,
    done: AtomicBool,
}

/// Shows the window the first time, once its page has loaded (or after 3 s at the latest).
/// Shown at once, the window's first paint found the web process still starting: WebKitGTK,
/// painting without compositing (see `render`), then blocks the main thread for up to
/// 500 ms waiting for it, and the page's load waits behind that (1 launch in 3 on a 2-core
/// machine). It also spares the user a blank window. Says on stderr when, and `why` (a
/// window that always waits for the fallback shows there, and the e2e test checks it).
fn show_first_time<R: Runtime>(app: &tauri::AppHandle<R>, why: &str) {
    let Some(first) = app.try_state::<FirstShow>() else {
        return;
    };
    // Started at login, `stay_in_tray_or_show` decides.
    if first.at_login || first.done.swap(true, Ordering::SeqCst) {
        return;
    }
    if let Some(w) = app.get_webview_window("main") {
        let _ = w.show();
        let _ = w.set_focus();
        eprintln!(
            "square-snapshots: the window is shown, {} ms after start, {why}",
            app.state::<AppState>().launch.at.elapsed().as_millis()
        );
    }
}

/// What the window-state plugin keeps: size, position, maximised and so on, but not
/// whether the window was visible; `show_first_time` decides that.
fn window_state_flags() -> StateFlags {
    StateFlags::all() - StateFlags::VISIBLE
}

/// Whether any plan would run in the background. Read from the plans file, not through the
/// engine: closed while the engine is busy or still connecting (a slow network at login),
/// the app must not quit and drop its plans. A file that cannot be read counts as plans:
/// staying is the safe side.
fn has_plans<R: Runtime>(app: &tauri::AppHandle<R>) -> bool {
    app.state::<AppState>()
        .plans_files()
        .into_iter()
        .any(|file| match std::fs::read(file) {
            Ok(bytes) => serde_json::from_slice::<snapshots::plans::Plans>(&bytes)
                .map(|p| !p.plans.is_empty())
                .unwrap_or(true),
            Err(_) => false,
        })
}

/// The tray's items, whose words follow the window's language (and Pause/Resume the queue).
struct TrayItems<R: Runtime> {
    open: MenuItem<R>,
    all: MenuItem<R>,
    pause: MenuItem<R>,
    cancel: MenuItem<R>,
    login: CheckMenuItem<R>,
    quit: MenuItem<R>,
}

/// Words the tray in the window's language (`lang`), Pause or Resume as the queue is.
pub(crate) fn speak<R: Runtime>(app: &tauri::AppHandle<R>, lang: words::Lang, paused: bool) {
    app.state::<words::Speech>().set(lang);
    let w = lang.words();
    if let Some(items) = app.try_state::<TrayItems<R>>() {
        let _ = items.open.set_text(w.open);
        let _ = items.all.set_text(w.back_up_all);
        let _ = items
            .pause
            .set_text(if paused { w.resume } else { w.pause });
        let _ = items.cancel.set_text(w.stop);
        let _ = items.login.set_text(w.start_at_login);
        let _ = items.quit.set_text(w.quit);
    }
}

/// Pauses or resumes the queue, from the tray or the window, and tells both.
pub(crate) async fn set_paused<R: Runtime>(app: &tauri::AppHandle<R>, paused: bool) {
    if let Some(e) = app.state::<AppState>().engine().await {
        e.set_paused(paused);
    }
    if let Some(items) = app.try_state::<TrayItems<R>>() {
        let w = app.state::<words::Speech>().get().words();
        let _ = items
            .pause
            .set_text(if paused { w.resume } else { w.pause });
    }
    let _ = app.emit("queue-paused", paused);
}

/// Counts moves and resizes, so only the last of a burst saves.
#[derive(Default)]
struct GeometryChanges(AtomicU64);

/// Saves the window's size and position half a second after it stops changing, so a crash
/// or a logout keeps it (the plugin alone writes only at exit).
fn save_geometry_soon<R: Runtime>(app: &tauri::AppHandle<R>) {
    let Some(changes) = app.try_state::<GeometryChanges>() else {
        return;
    };
    let n = changes.0.fetch_add(1, Ordering::SeqCst) + 1;
    let app = app.clone();
    tauri::async_runtime::spawn(async move {
        tokio::time::sleep(std::time::Duration::from_millis(500)).await;
        if app.state::<GeometryChanges>().0.load(Ordering::SeqCst) == n {
            let _ = app.save_window_state(window_state_flags());
        }
    });
}

/// The state of `--demo`: the engine's two demo accounts, their keys in memory only.
#[cfg(feature = "demo")]
fn demo_state(resources: Option<usize>) -> AppState {
    match tauri::async_runtime::block_on(AppState::demo(resources)) {
        Ok(s) => {
            // Two accounts, their keys in memory only: the demo account, shown first, and
            // Cliente X, which owns the workspaces the demo account is a member of.
            tauri::async_runtime::block_on(async {
                let cfg = s.engine_config();
                let keys = [
                    (snapshots::demo::key(), true),
                    (snapshots::demo::client_key(), false),
                ];
                for (key, current) in keys {
                    let added = snapshots::signin::add_account(
                        &s.accounts,
                        s.keychain.as_ref(),
                        &cfg,
                        key,
                        current,
                    )
                    .await;
                    if let Err(e) = added {
                        eprintln!("square-snapshots: the demo could not add its account: {e}");
                    }
                }
            });
            s
        }
        Err(e) => {
            eprintln!("square-snapshots: cannot start the demo simulator: {e}");
            std::process::exit(1);
        }
    }
}

/// A build without the `demo` feature has no demo: it says so rather than start on a real
/// account.
#[cfg(not(feature = "demo"))]
fn demo_state(_resources: Option<usize>) -> AppState {
    eprintln!(
        "square-snapshots: --demo is not built into this app (it was built without the `demo` feature); start it without --demo."
    );
    std::process::exit(2);
}

/// Starts the app. `--demo` runs it on the built-in simulator with a demo account;
/// `--demo-resources N` gives that account N resources (to measure a large account).
pub fn run() {
    let launch = state::Launch::now(); // the launch time in the log counts from here
    #[cfg(windows)]
    appid::set_windows_app_id();
    #[cfg(target_os = "linux")]
    render::choose();
    let args: Vec<String> = std::env::args().collect();
    let demo = args.iter().any(|a| a == "--demo");
    let sized = args
        .iter()
        .position(|a| a == "--demo-resources")
        .and_then(|i| args.get(i + 1))
        .and_then(|n| n.parse::<usize>().ok());
    let state = if demo {
        demo_state(sized)
    } else {
        AppState::real()
    }
    .launched(launch);
    // Single instance first (a second launch shows the running window; under the old id's
    // D-Bus name, see `appid`), then the folders named after the old id move, then the
    // saved window size and position.
    let builder = tauri::Builder::default()
        .plugin(
            tauri_plugin_single_instance::Builder::new()
                .callback(|app, _args, _cwd| show_main(app))
                .dbus_id(appid::LEGACY_ID)
                .build(),
        )
        .plugin(appid::plugin())
        .plugin(
            tauri_plugin_window_state::Builder::default()
                .with_state_flags(window_state_flags())
                .build(),
        );
    let builder = autostart::plugin(builder);
    run_app(builder, state)
        .run(tauri::generate_context!())
        .expect("the app failed to start");
}
