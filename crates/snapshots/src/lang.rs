//! The language a person reads: English, Brazilian Portuguese or Spanish, picked from a
//! BCP 47 tag or a POSIX locale. The app's tray and notifications and `sqsnap`'s lines pick
//! it the same way; each keeps its own words.

/// A language the app and `sqsnap` are translated into.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
pub enum Lang {
    En = 0,
    PtBr = 1,
    Es = 2,
}

/// The POSIX variables that name the language of messages, in their order of precedence.
pub const LOCALE_VARS: [&str; 3] = ["LC_ALL", "LC_MESSAGES", "LANG"];

impl Lang {
    /// Every language, English first.
    pub const ALL: [Lang; 3] = [Lang::En, Lang::PtBr, Lang::Es];

    /// The language for a BCP 47 tag or a POSIX locale (`pt_BR.UTF-8`, `es-AR`, `C`):
    /// Portuguese and Spanish by their prefix, English otherwise.
    pub fn pick(tag: &str) -> Lang {
        let t = tag.trim().to_ascii_lowercase();
        if t.starts_with("pt") {
            Lang::PtBr
        } else if t.starts_with("es") {
            Lang::Es
        } else {
            Lang::En
        }
    }

    /// The locale POSIX says messages are in: the first of `LC_ALL`, `LC_MESSAGES` and
    /// `LANG` that is set and not empty, read through `var` (`None`: none is).
    pub fn posix_locale(var: impl Fn(&str) -> Option<String>) -> Option<String> {
        LOCALE_VARS
            .iter()
            .filter_map(|v| var(v))
            .find(|v| !v.is_empty())
    }

    /// The language of this process's environment, as POSIX picks it (English when no
    /// variable says, or for `C` and `POSIX`).
    pub fn of_env() -> Lang {
        Self::posix_locale(|v| std::env::var(v).ok())
            .map(|t| Lang::pick(&t))
            .unwrap_or(Lang::En)
    }

    /// The language's BCP 47 tag, as the window names its languages.
    pub fn tag(self) -> &'static str {
        match self {
            Lang::En => "en",
            Lang::PtBr => "pt-BR",
            Lang::Es => "es",
        }
    }

    /// The language stored as `n` (`lang as u8`); English for anything else.
    pub fn from_u8(n: u8) -> Lang {
        match n {
            1 => Lang::PtBr,
            2 => Lang::Es,
            _ => Lang::En,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_language_is_picked_from_a_tag_or_a_posix_locale() {
        assert_eq!(Lang::pick("pt-BR"), Lang::PtBr);
        assert_eq!(Lang::pick("pt_BR.UTF-8"), Lang::PtBr);
        assert_eq!(Lang::pick("es_AR.UTF-8"), Lang::Es);
        assert_eq!(Lang::pick("es"), Lang::Es);
        assert_eq!(Lang::pick("C"), Lang::En);
        assert_eq!(Lang::pick("POSIX"), Lang::En);
        assert_eq!(Lang::pick("de-DE"), Lang::En);
        assert_eq!(Lang::pick(""), Lang::En);
        // A tag picks its own language back.
        for l in Lang::ALL {
            assert_eq!(Lang::pick(l.tag()), l);
        }
    }

    #[test]
    fn lc_all_then_lc_messages_then_lang_and_an_empty_one_is_passed_over() {
        let env = |pairs: &'static [(&'static str, &'static str)]| {
            move |name: &str| {
                pairs
                    .iter()
                    .find(|(k, _)| *k == name)
                    .map(|(_, v)| v.to_string())
            }
        };
        let of = |pairs| Lang::posix_locale(env(pairs)).map(|t| Lang::pick(&t));
        assert_eq!(
            of(&[("LANG", "es_ES.UTF-8"), ("LC_ALL", "pt_BR.UTF-8")]),
            Some(Lang::PtBr)
        );
        assert_eq!(
            of(&[("LANG", "pt_BR.UTF-8"), ("LC_MESSAGES", "es_MX")]),
            Some(Lang::Es)
        );
        // C in LC_ALL is English, whatever LANG says.
        assert_eq!(
            of(&[("LANG", "es_ES.UTF-8"), ("LC_ALL", "C")]),
            Some(Lang::En)
        );
        assert_eq!(
            of(&[("LANG", "es_ES.UTF-8"), ("LC_ALL", "")]),
            Some(Lang::Es)
        );
        assert_eq!(of(&[]), None);
    }

    #[test]
    fn a_language_survives_its_number() {
        for l in Lang::ALL {
            assert_eq!(Lang::from_u8(l as u8), l);
        }
        assert_eq!(Lang::from_u8(9), Lang::En);
    }
}
