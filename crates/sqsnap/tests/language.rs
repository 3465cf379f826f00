//! `sqsnap` speaks the language of its environment, as POSIX picks it (`LC_ALL`, then
//! `LC_MESSAGES`, then `LANG`): Spanish and Brazilian Portuguese lines, errors worded by
//! their code with the English message as the detail, and `--json` the same in every
//! language.

mod common;

use common::*;
use squarecloud_sim::{AccountSpec, SimConfig, Simulator};
use std::process::{Command, Output};
use std::time::Duration;

const ATLAS: &str = "0f1e2d3c4b5a69788796a5b4c3d2e1f0";

async fn sim() -> Simulator {
    let mut c = SimConfig::new(KEY, AccountSpec::demo());
    c.generation_time = Duration::ZERO;
    Simulator::start(c).await.unwrap()
}

/// `sqsnap(..)` with the locale variables `vars` only (none of the machine's, nor the
/// harness's `LC_ALL=C`).
fn speaking(mut c: Command, vars: &[(&str, &str)]) -> Command {
    for v in ["LC_ALL", "LC_MESSAGES", "LANG", "LANGUAGE"] {
        c.env_remove(v);
    }
    for (k, v) in vars {
        c.env(k, v);
    }
    c
}

async fn run(mut c: Command) -> Output {
    tokio::task::spawn_blocking(move || c.output().unwrap())
        .await
        .unwrap()
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

const ES: &[(&str, &str)] = &[("LANG", "es_ES.UTF-8")];
const PT: &[(&str, &str)] = &[("LANG", "pt_BR.UTF-8")];
const EN: &[(&str, &str)] = &[("LC_ALL", "C")];

#[tokio::test]
async fn list_speaks_spanish_and_portuguese() {
    let sim = sim().await;
    let d = tempfile::tempdir().unwrap();
    let list = |vars| speaking(sqsnap(&sim, d.path(), KEY, &["list"]), vars);
    let es = run(list(ES)).await;
    assert_eq!(es.status.code(), Some(0), "{}", text(&es.stderr));
    let out = text(&es.stdout);
    assert!(out.contains("más reciente: "), "{out}");
    assert!(out.contains("Cuota: 0 de 32 usados, quedan 32"), "{out}");
    assert!(out.contains("base "), "{out}");
    let pt = run(list(PT)).await;
    let out = text(&pt.stdout);
    assert!(out.contains("mais recente: "), "{out}");
    assert!(out.contains("Cota: 0 de 32 usados, 32 restantes"), "{out}");
    let en = run(list(EN)).await;
    let out = text(&en.stdout);
    assert!(out.contains("newest: "), "{out}");
    assert!(out.contains("Quota: 0 of 32 used, 32 left"), "{out}");
}

#[tokio::test]
async fn lc_all_then_lc_messages_then_lang() {
    let sim = sim().await;
    let d = tempfile::tempdir().unwrap();
    let quota = |vars| speaking(sqsnap(&sim, d.path(), KEY, &["quota"]), vars);
    let said = |o: Output| text(&o.stdout);
    // LC_ALL wins over LANG, whichever language each names.
    let o = said(run(quota(&[("LANG", "es_ES.UTF-8"), ("LC_ALL", "pt_BR.UTF-8")])).await);
    assert!(o.starts_with("Cota:"), "{o}");
    let o = said(run(quota(&[("LANG", "pt_BR.UTF-8"), ("LC_ALL", "es_MX.UTF-8")])).await);
    assert!(o.starts_with("Cuota:"), "{o}");
    // LC_ALL=C is English, whatever LANG says.
    let o = said(run(quota(&[("LANG", "es_ES.UTF-8"), ("LC_ALL", "C")])).await);
    assert!(o.starts_with("Quota:"), "{o}");
    // LC_MESSAGES comes before LANG; an empty LC_ALL is passed over.
    let o = said(
        run(quota(&[
            ("LANG", "pt_BR.UTF-8"),
            ("LC_MESSAGES", "es_AR.UTF-8"),
            ("LC_ALL", ""),
        ]))
        .await,
    );
    assert!(o.starts_with("Cuota:"), "{o}");
    // Another language is English.
    let o = said(run(quota(&[("LANG", "de_DE.UTF-8")])).await);
    assert!(o.starts_with("Quota:"), "{o}");
}

#[tokio::test]
async fn a_snapshot_and_a_download_say_what_they_did_in_the_language() {
    let sim = sim().await;
    let d = tempfile::tempdir().unwrap();
    let out = d.path().join("out");
    std::fs::create_dir(&out).unwrap();
    let dest = out.to_str().unwrap();
    let args = ["snapshot", ATLAS, "--download", "--dest", dest];
    let es = run(speaking(sqsnap(&sim, d.path(), KEY, &args), ES)).await;
    assert_eq!(es.status.code(), Some(0), "{}", text(&es.stderr));
    let said = text(&es.stdout);
    assert!(said.contains(": snapshot listo"), "{said}");
    assert!(said.contains(": guardado "), "{said}");
    assert!(said.contains(", verificado)"), "{said}");
    // The same snapshot again, at no quota: it is here already.
    let args = ["download", ATLAS, "--dest", dest];
    let pt = run(speaking(sqsnap(&sim, d.path(), KEY, &args), PT)).await;
    assert_eq!(pt.status.code(), Some(0), "{}", text(&pt.stderr));
    let said = text(&pt.stdout);
    assert!(said.contains(": já salvo como "), "{said}");
    assert!(said.contains(", verificado)"), "{said}");
}

#[tokio::test]
async fn errors_are_worded_by_their_code_with_the_english_detail() {
    let sim = sim().await;
    let d = tempfile::tempdir().unwrap();
    // A refused key, in Spanish: what it means and what to do, then the English message.
    let es = run(speaking(
        sqsnap(&sim, d.path(), "wrong-key", &["whoami"]),
        ES,
    ))
    .await;
    assert_eq!(es.status.code(), Some(3));
    let err = text(&es.stderr);
    let lines: Vec<&str> = err.lines().collect();
    assert!(
        lines[0].starts_with("sqsnap: Square Cloud rechazó la clave de API."),
        "{err}"
    );
    assert!(lines[1].starts_with("  Detalle: "), "{err}");
    let en = run(speaking(
        sqsnap(&sim, d.path(), "wrong-key", &["whoami"]),
        EN,
    ))
    .await;
    let english = text(&en.stderr);
    let english = english.trim_end().trim_start_matches("sqsnap: ");
    assert_eq!(lines[1].trim_start_matches("  Detalle: "), english);
    // An unknown resource, in Portuguese, with the same exit code as in English.
    let pt = run(speaking(
        sqsnap(&sim, d.path(), KEY, &["download", "0000"]),
        PT,
    ))
    .await;
    assert_eq!(pt.status.code(), Some(8));
    let err = text(&pt.stderr);
    assert!(
        err.starts_with("sqsnap: A Square Cloud não tem essa aplicação"),
        "{err}"
    );
    assert!(err.contains("\n  Detalhe: "), "{err}");
    // sqsnap's own words are translated whole (no detail needed).
    let es = run(speaking(sqsnap(&sim, d.path(), KEY, &["snapshot"]), ES)).await;
    assert_eq!(es.status.code(), Some(2));
    assert_eq!(
        text(&es.stderr),
        "sqsnap: Indica uno o más ids de recurso, o --all.\n"
    );
}

#[tokio::test]
async fn json_is_the_same_in_every_language() {
    let sim = sim().await;
    let d = tempfile::tempdir().unwrap();
    let json = |args: &[&str], key: &str, vars| {
        let mut all = vec!["--json"];
        all.extend_from_slice(args);
        speaking(sqsnap(&sim, d.path(), key, &all), vars)
    };
    for (args, key) in [
        (&["download", "0000"][..], KEY),
        (&["list"][..], KEY),
        (&["whoami"][..], KEY),
        (&["quota"][..], KEY),
        (&["plan", "list"][..], KEY),
        (&["whoami"][..], "wrong-key"),
        (&["snapshot"][..], KEY),
    ] {
        let en = run(json(args, key, EN)).await;
        let lines = |o: &Output| -> Vec<serde_json::Value> {
            text(&o.stdout)
                .lines()
                .map(|l| serde_json::from_str(l).unwrap())
                .collect()
        };
        let english = lines(&en);
        assert!(!english.is_empty(), "{args:?}");
        for vars in [ES, PT] {
            let other = run(json(args, key, vars)).await;
            assert_eq!(other.status.code(), en.status.code(), "{args:?}");
            assert_eq!(lines(&other), english, "{args:?} in {vars:?}");
        }
    }
}
