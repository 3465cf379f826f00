//! The words the shell itself shows outside the window (the tray's menu, notifications), in
//! the window's language. The page says which language it shows (`set_language`); before it has, the
//! system's locale decides, as the page would.

use std::sync::Arc;
use std::sync::atomic::{AtomicU8, Ordering};

pub use snapshots::lang::Lang;

/// The language's words for the tray and notifications.
pub trait Speak {
    fn words(self) -> &'static Words;
}

impl Speak for Lang {
    fn words(self) -> &'static Words {
        match self {
            Lang::En => &EN,
            Lang::PtBr => &PT_BR,
            Lang::Es => &ES,
        }
    }
}

/// The system's language: the POSIX variables in their order of precedence, then what the
/// system says (Windows and macOS have no such variables).
pub fn of_system() -> Lang {
    Lang::posix_locale(|v| std::env::var(v).ok())
        .or_else(sys_locale::get_locale)
        .map(|t| Lang::pick(&t))
        .unwrap_or(Lang::En)
}

/// The language the window shows, shared by whatever speaks outside it (a clone shares it).
#[derive(Debug, Clone)]
pub struct Speech(Arc<AtomicU8>);

impl Default for Speech {
    fn default() -> Self {
        Self::new(Lang::En)
    }
}

impl Speech {
    pub fn new(lang: Lang) -> Self {
        Self(Arc::new(AtomicU8::new(lang as u8)))
    }

    pub fn get(&self) -> Lang {
        Lang::from_u8(self.0.load(Ordering::Relaxed))
    }

    pub fn set(&self, lang: Lang) {
        self.0.store(lang as u8, Ordering::Relaxed);
    }
}

/// The tray menu's and the notifications' words. `{n}`, `{days}`, `{time}` stand for a value
/// (`fill`).
#[derive(Debug)]
pub struct Words {
    pub open: &'static str,
    pub back_up_all: &'static str,
    pub pause: &'static str,
    pub resume: &'static str,
    pub stop: &'static str,
    pub start_at_login: &'static str,
    pub quit: &'static str,
    pub open_folder: &'static str,
    pub snapshot_saved: &'static str,
    pub backups_done: &'static str,
    pub and_more: &'static str,
    pub snapshot_failed: &'static str,
    pub plan_failed: &'static str,
    pub plan_waiting: &'static str,
    pub no_recent: &'static str,
    pub no_backup_in_days: &'static str,
    pub quota_reached: &'static str,
    pub quota_used_up: &'static str,
    pub quota_frees_at: &'static str,
}

/// A template with its `{name}` replaced by `value`.
pub fn fill(template: &str, name: &str, value: &str) -> String {
    template.replace(&format!("{{{name}}}"), value)
}

const EN: Words = Words {
    open: "Open Square Snapshots",
    back_up_all: "Back up all",
    pause: "Pause",
    resume: "Resume",
    stop: "Stop all transfers",
    start_at_login: "Start at login",
    quit: "Quit",
    open_folder: "Open folder",
    snapshot_saved: "Snapshot saved",
    backups_done: "{n} backups done",
    and_more: " and {n} more",
    snapshot_failed: "Snapshot failed",
    plan_failed: "A scheduled backup failed",
    plan_waiting: "A scheduled backup is waiting",
    no_recent: "No recent backup",
    no_backup_in_days: "No successful backup in {days} days. Open Square Snapshots to see why.",
    quota_reached: "Quota reached",
    quota_used_up: "The daily snapshot quota is used up.",
    quota_frees_at: "The daily snapshot quota is used up. The next one frees up at {time}.",
};

const PT_BR: Words = Words {
    open: "Abrir o Square Snapshots",
    back_up_all: "Fazer backup de todos",
    pause: "Pausar",
    resume: "Retomar",
    stop: "Parar todas as transferências",
    start_at_login: "Iniciar com a sessão",
    quit: "Sair",
    open_folder: "Abrir pasta",
    snapshot_saved: "Snapshot salvo",
    backups_done: "{n} backups concluídos",
    and_more: " e mais {n}",
    snapshot_failed: "O snapshot falhou",
    plan_failed: "Um backup agendado falhou",
    plan_waiting: "Um backup agendado está aguardando",
    no_recent: "Nenhum backup recente",
    no_backup_in_days: "Nenhum backup bem-sucedido em {days} dias. Abra o Square Snapshots para ver o motivo.",
    quota_reached: "Cota atingida",
    quota_used_up: "A cota diária de snapshots acabou.",
    quota_frees_at: "A cota diária de snapshots acabou. O próximo fica livre às {time}.",
};

const ES: Words = Words {
    open: "Abrir Square Snapshots",
    back_up_all: "Copiar todo",
    pause: "Pausar",
    resume: "Reanudar",
    stop: "Detener todas las transferencias",
    start_at_login: "Iniciar al entrar en la sesión",
    quit: "Salir",
    open_folder: "Abrir carpeta",
    snapshot_saved: "Snapshot guardado",
    backups_done: "{n} copias terminadas",
    and_more: " y {n} más",
    snapshot_failed: "El snapshot falló",
    plan_failed: "Una copia programada falló",
    plan_waiting: "Una copia programada está esperando",
    no_recent: "Ninguna copia reciente",
    no_backup_in_days: "Ninguna copia correcta en {days} días. Abre Square Snapshots para ver por qué.",
    quota_reached: "Cuota agotada",
    quota_used_up: "La cuota diaria de snapshots está agotada.",
    quota_frees_at: "La cuota diaria de snapshots está agotada. La siguiente queda libre a las {time}.",
};

#[cfg(test)]
mod tests {
    use super::*;

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
                w.open_folder,
                w.snapshot_saved,
                w.snapshot_failed,
                w.plan_failed,
                w.plan_waiting,
                w.no_recent,
                w.quota_reached,
                w.quota_used_up,
            ] {
                assert!(!word.trim().is_empty(), "{lang:?}");
                assert!(!word.contains('{'), "{lang:?}: {word}");
            }
            // Each template keeps its one placeholder, so no value is dropped in a language.
            for (word, name) in [
                (w.backups_done, "n"),
                (w.and_more, "n"),
                (w.no_backup_in_days, "days"),
                (w.quota_frees_at, "time"),
            ] {
                assert_eq!(
                    word.matches(&format!("{{{name}}}")).count(),
                    1,
                    "{lang:?}: {word}"
                );
                assert_eq!(word.matches('{').count(), 1, "{lang:?}: {word}");
            }
        }
        assert_eq!(fill(ES.backups_done, "n", "3"), "3 copias terminadas");
    }
}
