//! What sqsnap's exit status means: the one table `--help` and the README print, and how an
//! engine error maps onto it.

use crate::words::{self, Lang, Words};
use snapshots::EngineError;
use std::fmt::Display;

/// One exit code per meaning; `--help` and the README print this table.
pub const EXIT_CODES: &[(u8, &str)] = &[
    (0, "everything asked for was done"),
    (
        2,
        "usage or configuration (a bad flag, an API address that is not https), or a copy that cannot be put back (a database, over 100 MB, not a whole zip)",
    ),
    (
        3,
        "the API key was refused, or the keychain could not be used",
    ),
    (
        4,
        "the daily quota is used up, or Square Cloud is rate limiting this key",
    ),
    (
        5,
        "network or server trouble; nothing was lost, try again later",
    ),
    (6, "a downloaded file failed its integrity check"),
    (
        7,
        "a local disk or folder problem (missing, not writable, full)",
    ),
    (8, "no such application, database or snapshot"),
    (
        9,
        "not finished yet: the snapshot is still being prepared on Square Cloud, its answer (or a put back's) was lost, or another process is taking it",
    ),
    (130, "cancelled (Ctrl-C, or a question answered no)"),
    (
        141,
        "its output was closed (a pipe into head): it stopped quietly, as other tools do",
    ),
];

pub fn exit_codes_help() -> String {
    let mut s = String::from("Exit codes:\n");
    for (code, meaning) in EXIT_CODES {
        s.push_str(&format!("  {code:>3}  {meaning}\n"));
    }
    s
}

/// The exit code of an engine error.
fn exit_code(code: &str) -> u8 {
    match code {
        "auth" | "offsite_credentials" | "keychain" | "no_key" | "wrong_passphrase" => 3,
        "quota" | "rate_limited" => 4,
        "verify" => 6,
        "disk" | "folder" | "no_destination" | "seal" => 7,
        "not_found" | "offsite_missing" => 8,
        "processing" | "restore_unknown" | "busy" | "commit_unknown" => 9,
        "cancelled" => 130,
        "config" | "insecure" | "unsupported" | "too_large" | "bad_file" | "confirm"
        | "weak_passphrase" | "offsite_config" | "offsite_unknown" | "no_config" | "no_room" => 2,
        _ => 5,
    }
}

/// A message of the tables.
pub type Said = fn(&Words) -> &'static str;

/// A command that did not do everything asked: its exit code (one of [`EXIT_CODES`]) and
/// what to tell the person, in English (what `--json` says) and in their language.
#[derive(Debug)]
pub struct Fail {
    pub exit: u8,
    /// The message in English: `--json`'s `error`, whatever the language.
    pub en: String,
    /// The message in the person's language.
    pub text: String,
    /// The English message `text` words by its code, said after it on a line of its own
    /// (`None` in English, where `text` is that message).
    pub detail: Option<String>,
}

impl Fail {
    /// sqsnap's own words: `m` picks the message from the tables, `args` fill it.
    pub fn says(exit: u8, m: fn(&Words) -> &'static str, args: &[(&str, &dyn Display)]) -> Fail {
        Fail {
            exit,
            en: words::fill(m(words::en()), args),
            text: words::say(m, args),
            detail: None,
        }
    }

    /// Something that failed elsewhere (the engine, the keychain, a file), with its English
    /// `message`: in English as it is, in another language worded by its `code` with the
    /// message as the detail.
    pub fn coded(exit: u8, code: &str, message: String) -> Fail {
        Self::worded(exit, code, message, words::lang())
    }

    fn worded(exit: u8, code: &str, message: String, lang: Lang) -> Fail {
        if lang == Lang::En {
            return Fail {
                exit,
                text: message.clone(),
                en: message,
                detail: None,
            };
        }
        let w = words::of(lang);
        Fail {
            exit,
            text: words::why(w, code).unwrap_or(w.other).to_string(),
            en: message.clone(),
            detail: Some(message),
        }
    }

    /// The same failure, its words after `prefix` (the account, when it must be named).
    pub fn after(self, prefix: impl Fn(&str) -> String) -> Fail {
        Fail {
            en: prefix(&self.en),
            text: prefix(&self.text),
            ..self
        }
    }
}

impl Fail {
    /// `outer` (with `args`) whose `{why}` is `inner` (with `inner_args`), in each language.
    pub fn says_why(
        exit: u8,
        outer: Said,
        args: &[(&str, &dyn Display)],
        inner: Said,
        inner_args: &[(&str, &dyn Display)],
    ) -> Fail {
        let why_en = words::fill(inner(words::en()), inner_args);
        let why = words::say(inner, inner_args);
        let mut en_args = args.to_vec();
        en_args.push(("why", &why_en));
        let mut here = args.to_vec();
        here.push(("why", &why));
        Fail {
            exit,
            en: words::fill(outer(words::en()), &en_args),
            text: words::say(outer, &here),
            detail: None,
        }
    }

    /// The same failure with another exit code.
    pub fn with_exit(self, exit: u8) -> Fail {
        Fail { exit, ..self }
    }

    /// A key or recovery-key error (`SealError`), worded by its code.
    pub fn seal(exit: u8, e: snapshots::seal::identity::SealError) -> Fail {
        Fail::from(EngineError::from(e)).with_exit(exit)
    }

    /// The same failure said inside `m` (its `{why}`), in each language.
    pub fn within(self, m: fn(&Words) -> &'static str) -> Fail {
        Fail {
            en: words::fill(m(words::en()), &[("why", &self.en)]),
            text: words::say(m, &[("why", &self.text)]),
            ..self
        }
    }
}

impl From<EngineError> for Fail {
    fn from(e: EngineError) -> Self {
        let code = e.code();
        Fail::coded(exit_code(code), code, e.to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_engine_error_in_spanish_is_worded_by_its_code_and_keeps_the_english() {
        let f = Fail::worded(
            8,
            "not_found",
            "No snapshot of x exists yet.".into(),
            Lang::Es,
        );
        assert!(f.text.starts_with("Square Cloud no tiene"), "{}", f.text);
        assert_eq!(f.detail.as_deref(), Some("No snapshot of x exists yet."));
        assert_eq!(f.en, "No snapshot of x exists yet.");
        let f = Fail::worded(5, "brand_new", "Something new.".into(), Lang::PtBr);
        assert_eq!(f.text, words::of(Lang::PtBr).other);
        let f = Fail::worded(5, "network", "Timed out.".into(), Lang::En);
        assert_eq!((f.text.as_str(), f.detail), ("Timed out.", None));
    }
}
