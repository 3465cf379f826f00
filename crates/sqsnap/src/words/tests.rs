//! Every language has every message, none empty, with the same placeholders as English;
//! and every error code has words.

use super::*;
use std::collections::BTreeSet;

/// The `{name}`s of a message.
fn placeholders(m: &str) -> BTreeSet<String> {
    let mut found = BTreeSet::new();
    let mut rest = m;
    while let Some(open) = rest.find('{') {
        let after = &rest[open + 1..];
        match after.find('}') {
            Some(close) => {
                found.insert(after[..close].to_string());
                rest = &after[close + 1..];
            }
            None => break,
        }
    }
    found
}

#[test]
fn every_language_has_every_message_with_the_same_placeholders() {
    let english = of(Lang::En).entries();
    assert!(english.len() > 200, "{}", english.len());
    for lang in Lang::ALL {
        let table = of(lang).entries();
        assert_eq!(table.len(), english.len());
        for ((name, text), (_, en_text)) in table.iter().zip(&english) {
            assert!(!text.trim().is_empty(), "{lang:?}: {name} is empty");
            assert_eq!(
                placeholders(text),
                placeholders(en_text),
                "{lang:?}: {name}: {text}"
            );
        }
    }
}

#[test]
fn the_translations_are_translated() {
    // A message left in English by mistake shows as the same text; a few are the same
    // word in every language (ok, app), or codes and commands.
    let same_everywhere = ["ok       {path}"];
    for lang in [Lang::PtBr, Lang::Es] {
        let copied: Vec<_> = of(lang)
            .entries()
            .into_iter()
            .zip(of(Lang::En).entries())
            .filter(|((_, t), (_, e))| t == e && !same_everywhere.contains(t) && t.len() > 12)
            .map(|((n, _), _)| n)
            .collect();
        assert!(copied.is_empty(), "{lang:?} keeps English in {copied:?}");
    }
}

#[test]
fn every_error_code_has_words_in_every_language() {
    for lang in Lang::ALL {
        for code in CODES {
            assert!(why(of(lang), code).is_some(), "{lang:?}: {code}");
        }
        assert_eq!(why(of(lang), "brand_new"), None);
    }
}

#[test]
fn the_lost_key_warning_is_the_engines_in_english() {
    assert!(
        en().lost_key_warning
            .contains(snapshots::seal::folders::LOST_KEY_WARNING)
    );
}

#[test]
fn a_value_with_braces_is_not_read_as_a_placeholder() {
    let s = fill(
        "{name} at {time}; {missing}",
        &[("name", &"{time}"), ("time", &"03:00")],
    );
    assert_eq!(s, "{time} at 03:00; {missing}");
    assert_eq!(fill(es::ES.copies_many, &[("n", &3)]), "3 copias");
}
