//! Every line sqsnap prints goes through here, whoever wrote its parts: names, messages and
//! codes from the server, paths, errors. Human lines are made harmless for a terminal as a
//! whole ([`snapshots::names::printable`]: no escape sequence, bell, line break or
//! bidirectional override, whatever a resource is called), JSON lines have the same
//! characters as `\u` escapes. A standard output whose reader went away (`sqsnap list |
//! head -1`) stops the command quietly, as a closed pipe stops other Unix tools.
//!
//! On Windows, the standard library writes to a console with `WriteConsoleW`, so names show
//! as characters whatever the console's code page, and to a pipe or file as UTF-8 bytes.
//! sqsnap does not call `SetConsoleOutputCP`: the console is shared, and its code page would
//! stay changed for the cmd.exe window after sqsnap ends. Nothing here writes a colour or
//! other escape code (progress bars are drawn through the console API); clap's help enables
//! virtual terminal processing before it colours, and strips colour for a pipe.

use crate::exit::Fail;
use crate::words;
use snapshots::names::{is_terminal_unsafe, printable};
use std::io::Write;
use std::sync::OnceLock;
use std::sync::atomic::{AtomicBool, Ordering};
use tokio_util::sync::CancellationToken;

/// Standard output's reader is gone: nothing more is written there.
static STDOUT_CLOSED: AtomicBool = AtomicBool::new(false);
/// Standard output failed otherwise (a full disk under `> file`): said once on stderr.
static STDOUT_FAILED: AtomicBool = AtomicBool::new(false);
/// Cancelled when the reader goes away, so work in progress stops as on Ctrl-C.
static STOP: OnceLock<CancellationToken> = OnceLock::new();

pub fn stop_when_output_closes(token: CancellationToken) {
    let _ = STOP.set(token);
}

pub fn stdout_closed() -> bool {
    STDOUT_CLOSED.load(Ordering::SeqCst)
}

/// One line of human text as it may reach a terminal.
pub fn safe(line: &str) -> String {
    printable(line)
}

/// One JSON line: what serde_json leaves raw that a terminal would act on (DEL, C1, the
/// bidirectional controls) written as `\u` escapes; it can only be inside a string, so
/// the line means the same.
pub fn json(value: &impl serde::Serialize) -> String {
    let text = serde_json::to_string(value).unwrap_or_else(|_| "null".into());
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        if is_terminal_unsafe(c) {
            let mut units = [0u16; 2];
            for u in c.encode_utf16(&mut units) {
                out.push_str(&format!("\\u{u:04x}"));
            }
        } else {
            out.push(c);
        }
    }
    out
}

/// A human line on standard output.
pub fn out(line: &str) {
    write_stdout(&safe(line));
}

/// A JSON line on standard output.
pub fn out_json(value: &impl serde::Serialize) {
    write_stdout(&json(value));
}

fn write_stdout(line: &str) {
    if STDOUT_CLOSED.load(Ordering::SeqCst) {
        return;
    }
    let mut stdout = std::io::stdout().lock();
    let written = writeln!(stdout, "{line}").and_then(|()| stdout.flush());
    match written {
        Ok(()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => {
            STDOUT_CLOSED.store(true, Ordering::SeqCst);
            if let Some(stop) = STOP.get() {
                stop.cancel();
            }
        }
        Err(e) => {
            if !STDOUT_FAILED.swap(true, Ordering::SeqCst) {
                err(&words::say(|w| w.stdout_failed, &[("error", &e)]));
            }
        }
    }
}

/// A human line on standard error. An error writing it is ignored: the work goes on.
pub fn err(line: &str) {
    let mut stderr = std::io::stderr().lock();
    let _ = writeln!(stderr, "{}", safe(line));
}

/// A question on standard error, the answer typed after it.
pub fn ask(question: &str) {
    let mut stderr = std::io::stderr().lock();
    let _ = write!(stderr, "{}", safe(question)).and_then(|()| stderr.flush());
}

/// Ends the process as a closed pipe ends other tools: by SIGPIPE, with no message (the
/// shell sees 141 and says nothing).
pub fn end_for_closed_output() -> ! {
    #[cfg(unix)]
    // SAFETY: restoring the default action of SIGPIPE and raising it; nothing else runs
    // after this in this thread, and the default action ends the process.
    unsafe {
        libc::signal(libc::SIGPIPE, libc::SIG_DFL);
        libc::raise(libc::SIGPIPE);
    }
    std::process::exit(141)
}

/// The account a command's lines are about. When this computer knows more than one
/// account, every human line names it ("Cliente X · Atlas Bot: saved …"), so a backup is
/// never read as another account's; every JSON object carries its id as `account` (and
/// its name here as `account_name`), however many accounts there are.
#[derive(Debug, Clone)]
pub struct Whose {
    pub id: String,
    /// What it is called here: the user's label, else Square Cloud's name.
    pub shown: String,
    /// Human lines name it (more than one account is known).
    pub named: bool,
}

impl Whose {
    /// What a human line about this account starts with ("" when it need not be named).
    pub fn prefix(&self) -> String {
        if self.named {
            format!("{} · ", printable(&self.shown))
        } else {
            String::new()
        }
    }

    /// `line`, naming the account when it must be.
    pub fn line(&self, line: &str) -> String {
        format!("{}{line}", self.prefix())
    }

    /// `value` with the account's fields, when it is an object that has none of its own.
    pub fn tag(&self, mut value: serde_json::Value) -> serde_json::Value {
        if let Some(m) = value.as_object_mut()
            && !m.contains_key("account")
        {
            m.insert("account".into(), self.id.clone().into());
            m.insert("account_name".into(), self.shown.clone().into());
        }
        value
    }
}

/// Where a command's results go: a human line, or with `--json` one JSON object a line;
/// about one account (`whose`) when the command works on one.
pub struct Out {
    pub json: bool,
    pub whose: Option<Whose>,
}

impl Out {
    /// Lines about no account in particular (or before one is known).
    pub fn new(json: bool) -> Self {
        Self { json, whose: None }
    }

    /// Lines about `whose`.
    pub fn of(json: bool, whose: Option<Whose>) -> Self {
        Self { json, whose }
    }

    /// `line` naming the account when it must be.
    pub fn named(&self, line: &str) -> String {
        match &self.whose {
            Some(w) => w.line(line),
            None => line.to_string(),
        }
    }

    pub fn emit(&self, human: impl AsRef<str>, json: serde_json::Value) {
        if self.json {
            if json.is_null() {
                return out_json(&json);
            }
            match &self.whose {
                Some(w) => out_json(&w.tag(json)),
                None => out_json(&json),
            }
        } else {
            out(&self.named(human.as_ref()));
        }
    }

    /// A line for people only (nothing with --json).
    pub fn human(&self, line: impl AsRef<str>) {
        if !self.json {
            out(&self.named(line.as_ref()));
        }
    }

    /// A warning or note on standard error, naming the account when it must be.
    pub fn warn(&self, line: impl AsRef<str>) {
        err(&self.named(line.as_ref()));
    }
}

/// A size as people read it (1.5 MB).
pub fn bytes(n: u64) -> String {
    snapshots::download::size_in(n, &["B", "KB", "MB", "GB", "TB"])
}

/// How a command that failed ends: its message on standard error (or as a JSON line with
/// `--json`, in English), and its exit code.
pub fn failure(json: bool, f: &Fail) {
    if json {
        out_json(&serde_json::json!({"error": f.en, "exit_code": f.exit}));
    } else {
        err(&format!("sqsnap: {}", f.text));
        said_detail(f.detail.as_deref());
    }
}

/// The English message behind words said in another language, on a line of its own.
pub fn said_detail(detail: Option<&str>) {
    if let Some(d) = detail {
        err(&format!("  {}: {d}", words::w().detail));
    }
}
