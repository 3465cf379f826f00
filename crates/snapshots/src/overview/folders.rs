//! Which folders and files are the app's own: the window may open or check only those, so a
//! page (or anything that reaches its IPC) cannot have the app act on any other path.

use crate::library::Library;
use crate::settings::Settings;
use std::path::Path;

/// Whether `path` is a folder the app uses: the default folder, a resource's own, or one
/// that holds a file of the library.
pub fn is_app_folder(settings: &Settings, library: &Library, path: &Path) -> bool {
    settings
        .default_dest
        .iter()
        .chain(settings.destinations.values())
        .any(|d| d == path)
        || library
            .entries
            .iter()
            .any(|x| x.path.parent() == Some(path))
}

/// Whether `path` is a file of the library.
pub fn in_library(library: &Library, path: &Path) -> bool {
    library.entries.iter().any(|x| x.path == path)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::library::LibraryEntry;
    use chrono::Utc;
    use std::path::PathBuf;

    fn library() -> Library {
        let now = Utc::now();
        Library {
            entries: vec![LibraryEntry {
                resource_id: "a1".into(),
                resource_name: "Atlas".into(),
                version: None,
                taken_at: now,
                size: 1,
                path: PathBuf::from("/lib/atlas/a1.zip"),
                downloaded_at: now,
                verified_at: None,
                copies: Vec::new(),
                sealed_size: None,
                account: None,
            }],
            ..Default::default()
        }
    }

    #[test]
    fn only_the_apps_folders_and_files_are_its_own() {
        let mut settings = Settings {
            default_dest: Some(PathBuf::from("/backups")),
            ..Default::default()
        };
        settings
            .destinations
            .insert("d1".into(), PathBuf::from("/db"));
        let lib = library();
        for ok in ["/backups", "/db", "/lib/atlas"] {
            assert!(is_app_folder(&settings, &lib, Path::new(ok)), "{ok}");
        }
        for no in ["/", "/lib", "/etc", "/backups/.."] {
            assert!(!is_app_folder(&settings, &lib, Path::new(no)), "{no}");
        }
        assert!(in_library(&lib, Path::new("/lib/atlas/a1.zip")));
        assert!(!in_library(&lib, Path::new("/lib/atlas/other.zip")));
    }
}
