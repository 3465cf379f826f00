//! Whether anything on the desktop draws tray icons. Creating the tray icon succeeds
//! everywhere, also where nothing will ever show it (GNOME without its AppIndicator
//! extension, a bare X server): the window must never hide into a tray no one can see.

use std::time::Duration;

/// A StatusNotifier host on the session bus (KDE Plasma, GNOME's AppIndicator extension,
/// XFCE, LXQt, waybar...), or an XEmbed tray on X11, which the tray library falls back to.
pub fn visible() -> bool {
    status_notifier_host() || xembed_tray()
}

/// The watcher's `IsStatusNotifierHostRegistered`: a watcher alone draws nothing.
fn status_notifier_host() -> bool {
    let conn = match zbus::blocking::connection::Builder::session()
        .map(|b| b.method_timeout(Duration::from_secs(1)))
        .and_then(|b| b.build())
    {
        Ok(c) => c,
        Err(_) => return false,
    };
    let proxy = match zbus::blocking::fdo::PropertiesProxy::builder(&conn)
        .destination("org.kde.StatusNotifierWatcher")
        .and_then(|b| b.path("/StatusNotifierWatcher"))
        .and_then(|b| b.build())
    {
        Ok(p) => p,
        Err(_) => return false,
    };
    let Ok(iface) = zbus::names::InterfaceName::try_from("org.kde.StatusNotifierWatcher") else {
        return false;
    };
    proxy
        .get(iface, "IsStatusNotifierHostRegistered")
        .ok()
        .and_then(|v| bool::try_from(v).ok())
        .unwrap_or(false)
}

/// An owner of the X11 selection `_NET_SYSTEM_TRAY_S<screen>` (the XEmbed system tray).
/// Not under Wayland, where the app's window is not an X11 one.
fn xembed_tray() -> bool {
    if std::env::var_os("WAYLAND_DISPLAY").is_some() || std::env::var_os("DISPLAY").is_none() {
        return false;
    }
    let Ok(x) = x11_dl::xlib::Xlib::open() else {
        return false;
    };
    // SAFETY: a display of our own, opened and closed here; the atom name is a C string.
    unsafe {
        let display = (x.XOpenDisplay)(std::ptr::null());
        if display.is_null() {
            return false;
        }
        let screen = (x.XDefaultScreen)(display);
        let name = std::ffi::CString::new(format!("_NET_SYSTEM_TRAY_S{screen}"))
            .expect("no NUL in the atom name");
        let atom = (x.XInternAtom)(display, name.as_ptr(), 0);
        let owner = (x.XGetSelectionOwner)(display, atom);
        (x.XCloseDisplay)(display);
        owner != 0
    }
}
