//! The window may call a command only when the access list allows it: a command registered
//! in `command_handler` but missing from the app manifest (`build.rs`) or the window's
//! capability (`capabilities/main.json`) is refused at run time, silently for a call whose
//! error the page ignores. The three lists must name the same commands.

use std::collections::BTreeSet;

fn read(rel: &str) -> String {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join(rel);
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// The quoted or path-ending names between `start` and the next `end` in `text`.
fn names(
    text: &str,
    start: &str,
    end: &str,
    item: impl Fn(&str) -> Option<String>,
) -> BTreeSet<String> {
    let from = text
        .find(start)
        .unwrap_or_else(|| panic!("{start} not found"));
    let rest = &text[from + start.len()..];
    let to = rest
        .find(end)
        .unwrap_or_else(|| panic!("{end} not found after {start}"));
    rest[..to]
        .split([',', '\n'])
        .filter_map(|s| item(s.trim()))
        .collect()
}

#[test]
fn every_registered_command_is_allowed_and_nothing_else() {
    let handler = names(
        &read("src-tauri/src/lib.rs"),
        "generate_handler![",
        "]",
        |s| (!s.is_empty()).then(|| s.rsplit("::").next().unwrap_or(s).to_string()),
    );
    let manifest = names(&read("src-tauri/build.rs"), ".commands(&[", "]", |s| {
        s.strip_prefix('"')?.strip_suffix('"').map(str::to_string)
    });
    let capability = names(
        &read("src-tauri/capabilities/main.json"),
        "\"permissions\"",
        "]",
        |s| {
            let s = s.strip_prefix("\"allow-")?.strip_suffix('"')?;
            Some(s.replace('-', "_"))
        },
    );
    assert!(
        handler.len() > 20,
        "the handler's list was read: {handler:?}"
    );
    assert_eq!(
        handler, manifest,
        "lib.rs's handler and build.rs's manifest differ"
    );
    assert_eq!(
        handler, capability,
        "lib.rs's handler and capabilities/main.json differ"
    );
}
