//! The words the shell itself shows outside the window (the tray's menu), in the window's
//! language. The page says which language it shows (`set_language`); before it has, the
//! system's locale decides, as the page would.

use std::sync::atomic::{AtomicU8, Ordering};

/// A language the app is translated into.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lang {
    En = 0,
    PtBr = 1,
    Es = 2,
}

impl Lang {
    /// The language for a BCP 47 tag or a POSIX locale (`pt_BR.UTF-8`, `es-AR`, `C`), as the
    /// window picks it: Portuguese and Spanish by their prefix, English otherwise.
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

    /// The system's language: the POSIX variables in their order of precedence, then what
    /// the system says (Windows and macOS have no such variables).
    pub fn of_system() -> Lang {
        ["LC_ALL", "LC_MESSAGES", "LANG"]
            .iter()
            .filter_map(|v| std::env::var(v).ok())
            .find(|v| !v.is_empty())
            .or_else(sys_locale::get_locale)
            .map(|t| Lang::pick(&t))
            .unwrap_or(Lang::En)
    }

    fn from_u8(n: u8) -> Lang {
        match n {
            1 => Lang::PtBr,
            2 => Lang::Es,
            _ => Lang::En,
        }
    }

    pub fn words(self) -> &'static Words {
        match self {
            Lang::En => &EN,
            Lang::PtBr => &PT_BR,
            Lang::Es => &ES,
        }
    }
}

/// The language the window shows, shared by whatever speaks outside it.
#[derive(Debug)]
pub struct Speech(AtomicU8);

impl Speech {
    pub fn new(lang: Lang) -> Self {
        Self(AtomicU8::new(lang as u8))
    }

    pub fn get(&self) -> Lang {
        Lang::from_u8(self.0.load(Ordering::Relaxed))
    }

    pub fn set(&self, lang: Lang) {
        self.0.store(lang as u8, Ordering::Relaxed);
    }
}

/// The tray menu's words.
#[derive(Debug)]
pub struct Words {
    pub open: &'static str,
    pub back_up_all: &'static str,
    pub pause: &'static str,
    pub resume: &'static str,
    pub stop: &'static str,
    pub start_at_login: &'static str,
    pub quit: &'static str,
}

const EN: Words = Words {
    open: "Open Square Snapshots",
    back_up_all: "Back up all",
    pause: "Pause",
    resume: "Resume",
    stop: "Stop all transfers",
    start_at_login: "Start at login",
    quit: "Quit",
};

const PT_BR: Words = Words {
    open: "Abrir o Square Snapshots",
    back_up_all: "Fazer backup de todos",
    pause: "Pausar",
    resume: "Retomar",
    stop: "Parar todas as transferências",
    start_at_login: "Iniciar com a sessão",
    quit: "Sair",
};

const ES: Words = Words {
    open: "Abrir Square Snapshots",
    back_up_all: "Copiar todo",
    pause: "Pausar",
    resume: "Reanudar",
    stop: "Detener todas las transferencias",
    start_at_login: "Iniciar al entrar en la sesión",
    quit: "Salir",
};

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
        assert_eq!(Lang::pick("de-DE"), Lang::En);
        assert_eq!(Lang::pick(""), Lang::En);
    }

    #[test]
    fn the_shared_language_follows_the_window() {
        let s = Speech::new(Lang::En);
        s.set(Lang::Es);
        assert_eq!(s.get(), Lang::Es);
        assert_eq!(s.get().words().resume, "Reanudar");
        s.set(Lang::PtBr);
        assert_eq!(s.get().words().quit, "Sair");
    }

    #[test]
    fn every_language_has_every_word() {
        for lang in [Lang::En, Lang::PtBr, Lang::Es] {
            let w = lang.words();
            for word in [
                w.open,
                w.back_up_all,
                w.pause,
                w.resume,
                w.stop,
                w.start_at_login,
                w.quit,
            ] {
                assert!(!word.trim().is_empty(), "{lang:?}");
            }
        }
    }
}
