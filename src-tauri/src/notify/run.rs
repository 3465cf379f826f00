//! One run's finished downloads, said in one notification when the run ends: "Snapshot
//! saved" for one, "3 backups done" for several, rather than a toast per file.
//!
//! A run is what one command call or one scheduler look started, and it ends when the
//! engine call that did it returns: the caller says so (`flush`), no timer guesses it.
//! What finished before the run stops to wait for the daily quota is said then too, so a
//! run that waits hours does not keep quiet about what it already saved. Failures are not
//! held back: each is said when it happens.

use super::{Notifier, escape};
use crate::words::{Words, fill};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

/// A download that finished in a run.
#[derive(Clone, Debug)]
pub struct Finished {
    pub resource: String,
    pub name: String,
    pub folder: PathBuf,
}

/// The finished downloads of one run, not said yet.
pub struct RunNotes {
    notifier: Notifier,
    done: Mutex<Vec<Finished>>,
}

impl RunNotes {
    pub fn new(notifier: Notifier) -> Arc<Self> {
        Arc::new(Self {
            notifier,
            done: Mutex::new(Vec::new()),
        })
    }

    /// The notifications that are not held for the run's end go through this.
    pub fn notifier(&self) -> &Notifier {
        &self.notifier
    }

    pub fn finished(&self, done: Finished) {
        self.done
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(done);
    }

    /// Says what finished since the last time: the run ended, or stops for a while.
    pub fn flush(&self) {
        let done = std::mem::take(&mut *self.done.lock().unwrap_or_else(|e| e.into_inner()));
        match done.as_slice() {
            [] => {}
            [one] => self.notifier.download_finished(one),
            several => self.notifier.backups_done(several),
        }
    }
}

/// Should a run end without its caller saying so (a panic, an early return), what it
/// finished is still said.
impl Drop for RunNotes {
    fn drop(&mut self) {
        self.flush();
    }
}

/// How many names a grouped notification lists before "and N more".
const NAMED: usize = 3;

/// "bot, site, db and 2 more": the first names, escaped; then, when every file went to one
/// folder, that folder.
pub(super) fn group_body(done: &[Finished], words: &Words) -> String {
    let names: Vec<String> = done.iter().take(NAMED).map(|d| escape(&d.name)).collect();
    let mut body = names.join(", ");
    if done.len() > NAMED {
        body.push_str(&fill(
            words.and_more,
            "n",
            &(done.len() - NAMED).to_string(),
        ));
    }
    if let Some(folder) = one_folder(done) {
        body.push_str(&format!(" → {}", escape(&folder.display().to_string())));
    }
    body
}

/// The folder every file went to, if they all went to one.
pub(super) fn one_folder(done: &[Finished]) -> Option<&Path> {
    let first = done.first()?.folder.as_path();
    done.iter().all(|d| d.folder == first).then_some(first)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::words::{Lang, Speak};

    fn done(name: &str, folder: &str) -> Finished {
        Finished {
            resource: format!("id-{name}"),
            name: name.into(),
            folder: folder.into(),
        }
    }

    #[test]
    fn a_group_names_the_first_three_escaped_then_how_many_more() {
        let three = [
            done("<b>bot</b>", "/b"),
            done("a & b", "/b"),
            done("db", "/b"),
        ];
        assert_eq!(
            group_body(&three, Lang::En.words()),
            "&lt;b&gt;bot&lt;/b&gt;, a &amp; b, db → /b"
        );
        let mut five = three.to_vec();
        five.extend([done("x", "/b"), done("y", "/other")]);
        assert_eq!(
            group_body(&five, Lang::En.words()),
            "&lt;b&gt;bot&lt;/b&gt;, a &amp; b, db and 2 more"
        );
        assert_eq!(
            group_body(&five, Lang::Es.words()),
            "&lt;b&gt;bot&lt;/b&gt;, a &amp; b, db y 2 más"
        );
        assert_eq!(one_folder(&five), None);
        assert_eq!(one_folder(&three), Some(Path::new("/b")));
    }
}
