//! The binary's `--data FILE` (one account as before, or several with workspaces) and
//! `--demo-accounts`, served and asked with each key.

use serde_json::Value;
use squarecloud_sim::{AccountSpec, DEMO_CLIENT_KEY, DEMO_KEY, SimConfig, SimData};
use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};

struct Served {
    child: Child,
    url: String,
}

impl Drop for Served {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn serve(args: &[&str]) -> Result<Served, String> {
    let mut child = Command::new(env!("CARGO_BIN_EXE_squarecloud-sim"))
        .args(["--port", "0"])
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    if line.trim().is_empty() {
        let out = child.wait_with_output().unwrap();
        return Err(String::from_utf8_lossy(&out.stderr).into_owned());
    }
    Ok(Served {
        child,
        url: line.trim().to_string(),
    })
}

async fn get(url: &str, path: &str, key: &str) -> (u16, Value) {
    let r = reqwest::Client::new()
        .get(format!("{url}{path}"))
        .header("Authorization", key)
        .send()
        .await
        .unwrap();
    (r.status().as_u16(), r.json().await.unwrap())
}

fn data_file(name: &str, text: &str) -> std::path::PathBuf {
    let p = std::env::temp_dir().join(format!("sqsim-{}-{name}.json", std::process::id()));
    std::fs::write(&p, text).unwrap();
    p
}

#[tokio::test]
async fn several_accounts_and_workspaces_from_a_data_file() {
    let mut c = SimConfig::demo_accounts();
    c.api_key = "first-key".into();
    c.more_accounts[0].api_key = "second-key".into();
    let path = data_file("many", &serde_json::to_string(&SimData::of(&c)).unwrap());
    let s = serve(&["--data", path.to_str().unwrap()]).unwrap();
    let (st, me) = get(&s.url, "/users/me", "second-key").await;
    assert_eq!(
        (st, me["response"]["user"]["name"].as_str()),
        (200, Some("Cliente X"))
    );
    let (st, me) = get(&s.url, "/users/me", "first-key").await;
    assert_eq!(
        (st, me["response"]["user"]["name"].as_str()),
        (200, Some("Demo Account"))
    );
    let (_, ws) = get(&s.url, "/workspaces", "first-key").await;
    assert_eq!(ws["response"].as_array().unwrap().len(), 2);
    // `--api-key` names the first account's key instead.
    let s2 = serve(&["--data", path.to_str().unwrap(), "--api-key", "other"]).unwrap();
    assert_eq!(get(&s2.url, "/users/me", "other").await.0, 200);
    assert_eq!(get(&s2.url, "/users/me", "first-key").await.0, 401);
    std::fs::remove_file(path).unwrap();
}

#[tokio::test]
async fn one_account_files_are_still_read_and_bad_data_is_said() {
    let path = data_file("one", &serde_json::to_string(&AccountSpec::demo()).unwrap());
    let e = serve(&["--data", path.to_str().unwrap()]).err().unwrap();
    assert!(e.contains("--api-key is required"), "{e}");
    let s = serve(&["--data", path.to_str().unwrap(), "--api-key", "k"]).unwrap();
    let (st, me) = get(&s.url, "/users/me", "k").await;
    assert_eq!(
        (st, me["response"]["applications"].as_array().unwrap().len()),
        (200, 8)
    );
    std::fs::remove_file(path).unwrap();

    let mut c = SimConfig::demo_accounts();
    c.more_accounts[0].api_key = c.api_key.clone();
    let path = data_file("same", &serde_json::to_string(&SimData::of(&c)).unwrap());
    let e = serve(&["--data", path.to_str().unwrap()]).err().unwrap();
    assert!(e.contains("same key"), "{e}");
    std::fs::remove_file(path).unwrap();
}

#[tokio::test]
async fn the_two_account_demo_needs_no_key_flag() {
    let s = serve(&["--demo-accounts", "--demo-limits"]).unwrap();
    for (key, name) in [(DEMO_KEY, "Demo Account"), (DEMO_CLIENT_KEY, "Cliente X")] {
        let (st, me) = get(&s.url, "/users/me", key).await;
        assert_eq!(
            (st, me["response"]["user"]["name"].as_str()),
            (200, Some(name))
        );
    }
}
