//! Every line sqsnap says to a person, in English, Brazilian Portuguese or Spanish: the
//! language is picked from the environment as POSIX says (`LC_ALL`, then `LC_MESSAGES`,
//! then `LANG`; `pt*` and `es*`, else English), as the app picks it ([`Lang`]). `--json`
//! stays in English whatever the language: its keys and values are for scripts.
//!
//! A table is a [`Words`] with one field per message, so a language that misses one does
//! not build. `{name}` in a message stands for a value ([`fill`]); every language has the
//! same ones (a test checks). Clap's `--help` stays in English.

mod en;
mod es;
mod pt_br;

pub use snapshots::lang::Lang;
use std::fmt::Display;
use std::sync::OnceLock;

/// The table of messages: its fields, written once, and [`Words::entries`] over them (for
/// the test that every language has every message, with the same placeholders).
macro_rules! words {
    ($($(#[$attr:meta])* $name:ident,)*) => {
        #[derive(Debug)]
        pub struct Words {
            $($(#[$attr])* pub $name: &'static str,)*
        }

        impl Words {
            /// Every message with its name.
            #[cfg(test)]
            pub fn entries(&self) -> Vec<(&'static str, &'static str)> {
                vec![$((stringify!($name), self.$name)),*]
            }
        }
    };
}

words! {
    detail,
    other,
    stdout_failed,
    note,
    why_auth,
    why_quota,
    why_rate_limited,
    why_network,
    why_api,
    why_config,
    why_not_found,
    why_no_destination,
    why_folder,
    why_disk,
    why_rejected,
    why_verify,
    why_insecure,
    why_processing,
    why_busy,
    why_unsupported,
    why_too_large,
    why_bad_file,
    why_no_key,
    why_seal,
    why_confirm,
    why_commit_refused,
    why_commit_unknown,
    why_cancelled,
    why_permission,
    why_offsite_config,
    why_offsite_credentials,
    why_offsite_no_bucket,
    why_offsite_denied,
    why_offsite_clock,
    why_offsite_busy,
    why_offsite_network,
    why_offsite_missing,
    why_offsite_unknown,
    why_offsite_mismatch,
    why_offsite_protocol,
    why_keychain,
    why_restore_unknown,
    why_no_config,
    why_no_room,
    why_plan_over_quota,
    why_plan_unknown,
    why_plan_exists,
    why_plan_invalid,
    why_not_a_folder,
    why_weak_passphrase,
    why_wrong_passphrase,
    several_accounts,
    account_unknown,
    account_ambiguous,
    account_bad_label,
    account_label_taken,
    no_demo,
    demo_failed,
    key_other_account,
    no_key_for,
    list_some_failed,
    list_theirs,
    list_unknown,
    kind_app,
    kind_database,
    newest_none,
    newest_unknown,
    newest,
    here,
    here_encrypted,
    quota_estimate,
    quota_line,
    quota_next,
    quota_estimated,
    snapshot_name_ids,
    snapshot_some_failed,
    watching,
    eta,
    preparing,
    pct,
    fetched,
    committed,
    committed_restarting,
    wait_account_window,
    wait_resource_window,
    wait_keep_calm,
    wait_retry,
    waiting_until,
    paused_quota_until,
    paused_quota,
    blocked_until,
    still_preparing,
    joined,
    later,
    created,
    done_outbox,
    done_saved,
    done_already,
    failed_event,
    paused,
    resumed,
    prune_say_what,
    prune_keep_zero,
    deleted_path,
    kept_changed,
    prune_total,
    verify_ok,
    verify_failed,
    verify_ok_encrypted,
    verify_failed_encrypted,
    verify_also,
    verify_some_failed,
    restore_no_version,
    restore_ask,
    first_none,
    first_taken,
    restored,
    state_before,
    doing_restore,
    not_restored,
    needs_yes,
    not_done,
    account_renamed,
    account_default_now,
    account_default_nokey,
    accounts_none,
    key_in_keychain,
    no_key_in_keychain,
    key_unknown,
    account_line,
    account_default_mark,
    account_none_default,
    copies_one,
    copies_many,
    ask_keep_delete,
    ask_delete,
    doing_delete_copies,
    not_removed,
    removed_copies,
    removed_copies_skipped,
    removed_state_gone,
    removed_state_stays,
    removed_kept_copies,
    removed_kept_state,
    removed_default_now,
    removed_no_default,
    removed,
    prompt_api_key,
    no_key_given,
    key_refused,
    nothing_stored,
    demo_account,
    signed_in,
    added,
    already_known,
    is_default,
    still_default,
    demo_logout,
    signed_out,
    whoami,
    not_signed_in,
    key_file_refused,
    #[cfg_attr(not(unix), allow(dead_code))] // a link is refused on Unix alone
    kf_symlink,
    kf_missing,
    kf_no_read,
    kf_open,
    kf_examine,
    kf_not_plain,
    #[cfg_attr(not(unix), allow(dead_code))] // owners and modes are checked on Unix alone
    kf_other_user,
    #[cfg_attr(not(unix), allow(dead_code))] // owners and modes are checked on Unix alone
    kf_mode,
    kf_not_text,
    kf_too_long,
    kf_lines,
    kf_empty,
    plans_did_not_run,
    nothing_due,
    accounts_plans_failed,
    offsite_unreachable,
    plan_run,
    run_done,
    run_failed,
    run_pruned,
    stale,
    plans_failed,
    folder_not_signed_in,
    no_folder_yet,
    encrypted,
    plain,
    folder_line,
    recovery_written,
    recovery_missing,
    lost_key_warning,
    encrypt_ask,
    doing_encrypt,
    not_encrypted,
    enc_on,
    enc_this_key,
    enc_plain_stay,
    enc_off,
    enc_sealed_stay,
    folder_shared_refused,
    folder_shared_note,
    folder_set_resource,
    folder_set_default,
    timer_no_home,
    not_utf8_data,
    not_utf8_key,
    not_utf8_program,
    bad_key_path,
    bad_exe_path,
    timer_wrote,
    timer_linger,
    timer_credential,
    timer_keychain,
    new_enc_key,
    no_recovery_yet,
    recovery_written_to,
    key_imported,
    no_enc_key,
    decrypted,
    no_age_suffix,
    key_not_signed_in,
    no_terminal_pass,
    prompt_pass,
    prompt_pass_again,
    pass_differ,
    pass_file_refused,
    pf_link,
    #[cfg_attr(not(unix), allow(dead_code))] // modes are checked on Unix alone
    pf_mode,
    pf_not_text,
    pf_lines,
    put_back_say_what,
    offsite_no_copy,
    fetch_ask,
    doing_put_back,
    not_put_back,
    fetching,
    copy_in,
    restart_after,
    put_back_done,
    restarting,
    taken_of,
    put_back_ask,
    new_app_ask,
    new_app_free,
    doing_new_app,
    no_app_made,
    new_app_done,
    offsite_not_signed_in,
    offsite_removed,
    offsite_none_named,
    plan_names_outbox,
    plan_names_local,
    prompt_secret,
    offsite_added,
    offsite_encrypted_note,
    offsite_none,
    not_encrypted_dest,
    step_ok,
    step_failed,
    probe_works,
    sync_key_failed,
    skipped_missing,
    uploaded_line,
    cleared_line,
    sync_total,
    sync_dropped,
    bad_account_id,
    offsite_not_made,
    pruned_deleted,
    pruned_unverified,
    pruned_missing,
    pruned_total,
    by_plan,
    no_dest_for_plan,
    last_run_ok,
    last_run_failed,
    not_run_yet,
    plan_cannot_run,
    no_name,
    plans_need,
    no_plan_named,
    next_prune,
    history_ok,
    history_failed,
    keep_everything_note,
    plan_added,
    plan_changed,
    plan_no_offsite,
    plan_copies_moved,
    run_offsite,
    run_waiting,
    run_waiting_in,
    plan_removed,
    reserve_set,
    bad_time,
    bad_weekly,
    bad_day,
    every_hours_zero,
    kind_mirror,
    kind_snapshot,
    every_hour,
    every_hours,
    daily_at,
    weekly_on,
    monday,
    tuesday,
    wednesday,
    thursday,
    friday,
    saturday,
    sunday,
    every_resource,
    n_resources,
    keep_calendar,
    keep_last,
    keep_everything,
    copies_local,
    copies_offsite_only,
    copies_both,
}

/// The language this run speaks, read from the environment once.
pub fn lang() -> Lang {
    static LANG: OnceLock<Lang> = OnceLock::new();
    *LANG.get_or_init(Lang::of_env)
}

/// A language's table.
pub fn of(lang: Lang) -> &'static Words {
    match lang {
        Lang::En => &en::EN,
        Lang::PtBr => &pt_br::PT_BR,
        Lang::Es => &es::ES,
    }
}

/// The table of this run's language.
pub fn w() -> &'static Words {
    of(lang())
}

/// The English table (what `--json` says).
pub fn en() -> &'static Words {
    &en::EN
}

/// A message with each `{name}` replaced by its value, in one pass: a value that holds
/// braces (a resource's name) is never read as a placeholder.
pub fn fill(template: &str, args: &[(&str, &dyn Display)]) -> String {
    let mut out = String::with_capacity(template.len());
    let mut rest = template;
    while let Some(open) = rest.find('{') {
        out.push_str(&rest[..open]);
        let after = &rest[open + 1..];
        let value = after.find('}').and_then(|close| {
            let name = &after[..close];
            args.iter()
                .find(|(n, _)| *n == name)
                .map(|(_, v)| (v.to_string(), close))
        });
        match value {
            Some((v, close)) => {
                out.push_str(&v);
                rest = &after[close + 1..];
            }
            None => {
                out.push('{');
                rest = after;
            }
        }
    }
    out.push_str(rest);
    out
}

/// `m`'s message in this run's language, filled.
pub fn say(m: fn(&Words) -> &'static str, args: &[(&str, &dyn Display)]) -> String {
    fill(m(w()), args)
}

/// Every code an error can have that has words of its own.
#[cfg(test)]
pub const CODES: &[&str] = &[
    "auth",
    "quota",
    "rate_limited",
    "network",
    "api",
    "config",
    "not_found",
    "no_destination",
    "folder",
    "disk",
    "rejected",
    "verify",
    "insecure",
    "processing",
    "busy",
    "unsupported",
    "too_large",
    "bad_file",
    "no_key",
    "seal",
    "confirm",
    "commit_refused",
    "commit_unknown",
    "cancelled",
    "permission",
    "offsite_config",
    "offsite_credentials",
    "offsite_no_bucket",
    "offsite_denied",
    "offsite_clock",
    "offsite_busy",
    "offsite_network",
    "offsite_missing",
    "offsite_unknown",
    "offsite_mismatch",
    "offsite_protocol",
    "keychain",
    "restore_unknown",
    "no_config",
    "no_room",
    "plan_over_quota",
    "plan_unknown",
    "plan_exists",
    "plan_invalid",
    "not_a_folder",
    "weak_passphrase",
    "wrong_passphrase",
];

/// What an error with `code` means for the person, in `w`'s words (`None`: no words for
/// that code; [`Words::other`] says it generically).
pub fn why(w: &Words, code: &str) -> Option<&'static str> {
    Some(match code {
        "auth" => w.why_auth,
        "quota" => w.why_quota,
        "rate_limited" => w.why_rate_limited,
        "network" => w.why_network,
        "api" => w.why_api,
        "config" => w.why_config,
        "not_found" => w.why_not_found,
        "no_destination" => w.why_no_destination,
        "folder" => w.why_folder,
        "disk" => w.why_disk,
        "rejected" => w.why_rejected,
        "verify" => w.why_verify,
        "insecure" => w.why_insecure,
        "processing" => w.why_processing,
        "busy" => w.why_busy,
        "unsupported" => w.why_unsupported,
        "too_large" => w.why_too_large,
        "bad_file" => w.why_bad_file,
        "no_key" => w.why_no_key,
        "seal" => w.why_seal,
        "confirm" => w.why_confirm,
        "commit_refused" => w.why_commit_refused,
        "commit_unknown" => w.why_commit_unknown,
        "cancelled" => w.why_cancelled,
        "permission" => w.why_permission,
        "offsite_config" => w.why_offsite_config,
        "offsite_credentials" => w.why_offsite_credentials,
        "offsite_no_bucket" => w.why_offsite_no_bucket,
        "offsite_denied" => w.why_offsite_denied,
        "offsite_clock" => w.why_offsite_clock,
        "offsite_busy" => w.why_offsite_busy,
        "offsite_network" => w.why_offsite_network,
        "offsite_missing" => w.why_offsite_missing,
        "offsite_unknown" => w.why_offsite_unknown,
        "offsite_mismatch" => w.why_offsite_mismatch,
        "offsite_protocol" => w.why_offsite_protocol,
        "keychain" => w.why_keychain,
        "restore_unknown" => w.why_restore_unknown,
        "no_config" => w.why_no_config,
        "no_room" => w.why_no_room,
        "plan_over_quota" => w.why_plan_over_quota,
        "plan_unknown" => w.why_plan_unknown,
        "plan_exists" => w.why_plan_exists,
        "plan_invalid" => w.why_plan_invalid,
        "not_a_folder" => w.why_not_a_folder,
        "weak_passphrase" => w.why_weak_passphrase,
        "wrong_passphrase" => w.why_wrong_passphrase,
        _ => return None,
    })
}

#[cfg(test)]
mod tests;
