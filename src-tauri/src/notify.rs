//! Desktop notifications (notify-rust). A missing notification daemon is not an error.

use snapshots::names::printable;
use std::path::Path;

/// Notification bodies may be read as markup (`<b>`, `<a href>`): names and messages are
/// escaped, and control characters are shown as `�`.
fn escape(text: &str) -> String {
    printable(text)
        .replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

pub fn download_finished(name: &str, folder: &Path) {
    let body = format!(
        "{} → {}",
        escape(name),
        escape(&folder.display().to_string())
    );
    show("Snapshot saved", body, Some(folder.to_path_buf()));
}

pub fn failed(name: &str, why: &str) {
    show(
        "Snapshot failed",
        format!("{}: {}", escape(name), escape(why)),
        None,
    );
}

pub fn plan_failed(plan: &str, why: &str) {
    show(
        "A scheduled backup failed",
        format!("{}: {}", escape(plan), escape(why)),
        None,
    );
}

pub fn no_backup_in_days(plan: &str, days: u32) {
    show(
        "No recent backup",
        format!(
            "{}: no successful backup in {days} days. Open Square Snapshots to see why.",
            escape(plan)
        ),
        None,
    );
}

pub fn quota_reached(until: Option<String>) {
    let body = match until {
        Some(t) => format!("The daily snapshot quota is used up. The next one frees up at {t}."),
        None => "The daily snapshot quota is used up.".into(),
    };
    show("Quota reached", body, None);
}

fn show(summary: &'static str, body: String, open: Option<std::path::PathBuf>) {
    std::thread::spawn(move || {
        let mut n = notify_rust::Notification::new();
        n.appname("Square Snapshots").summary(summary).body(&body);
        #[cfg(all(unix, not(target_os = "macos")))]
        if open.is_some() {
            n.action("open", "Open folder");
        }
        match n.show() {
            #[cfg(all(unix, not(target_os = "macos")))]
            Ok(handle) => {
                if let Some(dir) = open {
                    handle.wait_for_action(|action| {
                        if action == "open" {
                            let _ = crate::commands::open_path(&dir);
                        }
                    });
                }
            }
            #[cfg(not(all(unix, not(target_os = "macos"))))]
            Ok(_) => {
                let _ = open;
            }
            Err(e) => eprintln!("notification not shown: {e}"),
        }
    });
}

#[cfg(test)]
mod tests {
    #[test]
    fn names_are_escaped_for_markup_and_terminals() {
        assert_eq!(
            super::escape("<a href='x'>bot</a> & \u{1b}[31m"),
            "&lt;a href='x'&gt;bot&lt;/a&gt; &amp; \u{FFFD}[31m"
        );
    }
}
