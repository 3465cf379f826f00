//! Several accounts on one computer, through the `sqsnap` binary: two accounts of the
//! multi-account simulator added with their own keys (a real Secret Service: `make test`
//! runs this inside `scripts/with-keyring.sh`, which sets SQSNAP_EXPECT_KEYRING=present;
//! without one each test says so and checks nothing), `--account`, each backup in its own
//! account's folder and library, no request carrying the other account's key, `list
//! --all-accounts`, rename, use, remove (copies kept or deleted), and `run-due` over both
//! accounts, one of them without its key.

mod common;
use common::files_under;

use snapshots::accounts::AccountId;
use snapshots::library::{LIBRARY, Library};
use snapshots::plans::{PLANS, Plans};
use snapshots::secret::{Keychain, OsKeychain, Slot};
use snapshots::statedir::StateDir;
use squarecloud_sim::demo::{DEMO_CLIENT_ID, DEMO_SHARED_VIEW_APP, client_account};
use squarecloud_sim::{DEMO_CLIENT_KEY, DEMO_KEY, SimConfig, Simulator};
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

const DEMO_ID: &str = "313397145698959364";
const ATLAS: &str = "0f1e2d3c4b5a69788796a5b4c3d2e1f0";
const ROCKET: &str = "2b3c4d5e6f708192a3b4c5d6e7f8091a";
/// Cliente X's "relatórios noturnos" (2 MB; no workspace shares it in these tests).
const REPORTS: &str = DEMO_SHARED_VIEW_APP;

fn keyring_here() -> bool {
    let here = std::env::var("SQSNAP_EXPECT_KEYRING").as_deref() == Ok("present");
    if !here {
        eprintln!("skipped: needs a Secret Service (make test provides one)");
    }
    here
}

/// The demo account and Cliente X, each with its own key; no workspace, so every
/// resource is reached by its owner's key alone.
async fn two_accounts() -> Simulator {
    let c = SimConfig::demo(DEMO_KEY)
        .with_account(DEMO_CLIENT_KEY, client_account())
        .instant_creates();
    Simulator::start(c).await.unwrap()
}

/// One computer: a data dir, a keychain service of its own, folders for backups.
struct Here {
    _tmp: tempfile::TempDir,
    root: PathBuf,
    data: PathBuf,
    service: String,
    api: String,
}

impl Here {
    fn new(sim: &Simulator, test: &str) -> Self {
        let tmp = tempfile::tempdir().unwrap();
        let root = tmp.path().to_path_buf();
        Self {
            data: root.join("data"),
            root,
            _tmp: tmp,
            service: format!(
                "app.squaresnapshots.test.accounts-{test}-{}",
                std::process::id()
            ),
            api: sim.api_url(),
        }
    }

    fn cmd(&self, args: &[&str]) -> Command {
        let mut c = Command::new(env!("CARGO_BIN_EXE_sqsnap"));
        c.args(args)
            .env("SQUARECLOUD_API_URL", &self.api)
            .env("SQSNAP_DATA_DIR", &self.data)
            .env("SQSNAP_KEYRING_SERVICE", &self.service)
            .env("LC_ALL", "C")
            .env_remove("SQUARECLOUD_API_KEY")
            .env_remove("SQUARECLOUD_API_KEY_FILE")
            .env_remove("CREDENTIALS_DIRECTORY")
            .stdin(Stdio::null());
        c
    }

    async fn run(&self, args: &[&str]) -> Output {
        run(self.cmd(args)).await
    }

    /// `sqsnap account add` with the key on standard input.
    async fn add_piped(&self, key: &str, args: &[&str]) -> Output {
        let mut c = self.cmd(args);
        c.stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let key = key.to_string();
        tokio::task::spawn_blocking(move || {
            use std::io::Write;
            let mut child = c.spawn().unwrap();
            let mut stdin = child.stdin.take().unwrap();
            stdin.write_all(format!("{key}\n").as_bytes()).unwrap();
            drop(stdin);
            child.wait_with_output().unwrap()
        })
        .await
        .unwrap()
    }

    /// A file holding `key`, readable by this user alone (on Unix: 0600; Windows has no
    /// mode bits and sqsnap asks for none there).
    fn key_file(&self, key: &str) -> PathBuf {
        let p = self.root.join(format!("key-{}", key.len()));
        std::fs::write(&p, format!("{key}\n")).unwrap();
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o600)).unwrap();
        }
        p
    }

    fn folder(&self, name: &str) -> PathBuf {
        let p = self.root.join(name);
        std::fs::create_dir_all(&p).unwrap();
        p
    }

    fn account_dir(&self, id: &str) -> PathBuf {
        self.data.join("accounts").join(id)
    }

    fn library(&self, id: &str) -> Library {
        StateDir::open(&self.account_dir(id))
            .unwrap()
            .read(LIBRARY)
            .unwrap()
    }

    fn keychain(&self) -> OsKeychain {
        OsKeychain::new(self.service.clone())
    }

    fn key_of(&self, id: &str) -> Option<String> {
        self.keychain()
            .slot(&Slot::Account(AccountId::new(id).unwrap()))
            .get()
            .unwrap()
            .map(|k| k.expose_secret().to_string())
    }

    /// Both accounts added: the demo account first (the default, its key piped in),
    /// Cliente X second (from a key file).
    async fn add_both(&self) {
        let o = self.add_piped(DEMO_KEY, &["account", "add"]).await;
        ok(&o);
        assert!(
            text(&o).contains("It is the default account."),
            "{}",
            text(&o)
        );
        let kf = self.key_file(DEMO_CLIENT_KEY);
        let o = self
            .run(&["--key-file", kf.to_str().unwrap(), "account", "add"])
            .await;
        ok(&o);
        assert!(
            text(&o).contains("The default account is still Demo Account"),
            "{}",
            text(&o)
        );
    }

    /// Makes every plan of the account due now (a plan added waits for its next period).
    fn make_due(&self, id: &str) {
        StateDir::open(&self.account_dir(id))
            .unwrap()
            .update(PLANS, |p: &mut Plans| p.state.clear())
            .unwrap();
    }
}

impl Drop for Here {
    fn drop(&mut self) {
        for id in [DEMO_ID, DEMO_CLIENT_ID] {
            let _ = self
                .keychain()
                .slot(&Slot::Account(AccountId::new(id).unwrap()))
                .delete();
        }
    }
}

async fn run(mut c: Command) -> Output {
    tokio::task::spawn_blocking(move || c.output().unwrap())
        .await
        .unwrap()
}

fn text(o: &Output) -> String {
    format!(
        "exit {:?}\n{}{}",
        o.status.code(),
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

fn ok(o: &Output) {
    assert_eq!(o.status.code(), Some(0), "{}", text(o));
}

fn json_lines(o: &Output) -> Vec<serde_json::Value> {
    String::from_utf8_lossy(&o.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON: {l}: {e}")))
        .collect()
}

fn files_in(dir: &Path) -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    v.sort();
    v
}

/// No API request carried another account's key, or none; how many named a resource.
fn no_request_crossed_accounts(sim: &Simulator) -> usize {
    let (named, crossed) = sim.key_crossings();
    assert!(crossed.is_empty(), "{crossed:#?}");
    named
}

/// Two keys, two keychain items; `--account` picks each; each backup lands in its own
/// account's folder and library; no request carries the other account's key; every line
/// and JSON event names its account; another account's folder is refused as a default
/// unless confirmed; `list --all-accounts` groups; rename and use; several accounts with
/// none the default are named, not guessed.
#[tokio::test]
async fn two_accounts_each_with_its_own_key_folder_and_library() {
    if !keyring_here() {
        return;
    }
    let sim = two_accounts().await;
    let h = Here::new(&sim, "two");
    h.add_both().await;
    assert_eq!(h.key_of(DEMO_ID).as_deref(), Some(DEMO_KEY));
    assert_eq!(h.key_of(DEMO_CLIENT_ID).as_deref(), Some(DEMO_CLIENT_KEY));
    let o = h.run(&["--json", "account", "list"]).await;
    ok(&o);
    let v = json_lines(&o);
    assert_eq!(v.len(), 2, "{}", text(&o));
    assert_eq!(
        (v[0]["id"].as_str(), v[0]["current"].as_bool()),
        (Some(DEMO_ID), Some(true))
    );
    assert_eq!(
        (
            v[1]["id"].as_str(),
            v[1]["name"].as_str(),
            v[1]["current"].as_bool()
        ),
        (Some(DEMO_CLIENT_ID), Some("Cliente X"), Some(false))
    );
    assert!(v.iter().all(|a| a["key_in_keychain"] == true), "{v:?}");

    // Each account's default folder; one account's is refused as the other's unless
    // confirmed, saying whose it is.
    let (mine, theirs) = (h.folder("demo-backups"), h.folder("cliente-backups"));
    ok(&h.run(&["folder", "set", mine.to_str().unwrap()]).await);
    let o = h
        .run(&[
            "--account",
            "Cliente X",
            "folder",
            "set",
            mine.to_str().unwrap(),
        ])
        .await;
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    assert!(
        text(&o).contains("Demo Account (313397145698959364) keeps its backups there"),
        "{}",
        text(&o)
    );
    let o = h
        .run(&[
            "--account",
            "cliente x",
            "folder",
            "set",
            mine.to_str().unwrap(),
            "--yes",
        ])
        .await;
    ok(&o);
    assert!(
        text(&o).contains("shared with another account"),
        "{}",
        text(&o)
    );
    ok(&h
        .run(&[
            "--account",
            DEMO_CLIENT_ID,
            "folder",
            "set",
            theirs.to_str().unwrap(),
        ])
        .await);

    // A backup of each: the default account's with no --account, Cliente X's with it.
    let o = h.run(&["download", ATLAS]).await;
    ok(&o);
    assert!(
        text(&o).contains("Demo Account · Atlas Bot: saved"),
        "{}",
        text(&o)
    );
    let o = h
        .run(&[
            "--json",
            "--account",
            "Cliente X",
            "snapshot",
            REPORTS,
            "--download",
        ])
        .await;
    ok(&o);
    let events = json_lines(&o);
    assert!(!events.is_empty());
    for e in &events {
        assert_eq!(e["account"], DEMO_CLIENT_ID, "{e}");
        assert_eq!(e["account_name"], "Cliente X", "{e}");
    }
    assert!(events.iter().any(|e| e["event"] == "done"), "{events:?}");
    let (a, b) = (files_in(&mine), files_in(&theirs));
    assert_eq!(a.len(), 1, "{a:?}");
    assert!(
        a[0].file_name()
            .unwrap()
            .to_string_lossy()
            .starts_with("Atlas")
    );
    assert_eq!(b.len(), 1, "{b:?}");
    assert!(b[0].to_string_lossy().contains(&REPORTS[..8]), "{b:?}");
    // Each library lists its own copy, naming its account.
    let (la, lb) = (h.library(DEMO_ID), h.library(DEMO_CLIENT_ID));
    assert_eq!(la.entries.len(), 1);
    assert_eq!(
        (la.entries[0].path.clone(), la.entries[0].account.as_deref()),
        (a[0].clone(), Some(DEMO_ID))
    );
    assert_eq!(lb.entries.len(), 1);
    assert_eq!(
        (lb.entries[0].path.clone(), lb.entries[0].account.as_deref()),
        (b[0].clone(), Some(DEMO_CLIENT_ID))
    );
    // The snapshot spent Cliente X's quota, not the demo account's.
    assert_eq!(sim.quota_used(DEMO_CLIENT_ID), Some(1));
    assert_eq!(sim.quota_used(DEMO_ID), Some(0));

    // Another account's resource is not this account's, and the failure names whose.
    let o = h.run(&["--account", "Cliente X", "download", ATLAS]).await;
    assert_eq!(o.status.code(), Some(8), "{}", text(&o));
    assert!(text(&o).contains("Cliente X · "), "{}", text(&o));
    assert_eq!(files_in(&theirs).len(), 1);
    assert!(no_request_crossed_accounts(&sim) >= 4);

    // Every account's resources, grouped under its name, every row naming it.
    let o = h.run(&["list", "--all-accounts"]).await;
    ok(&o);
    let out = String::from_utf8_lossy(&o.stdout).to_string();
    let (first, second) = (
        out.find("== Demo Account (313397145698959364)")
            .expect(&out),
        out.find("== Cliente X (527104883960201216)").expect(&out),
    );
    assert!(first < second, "{out}");
    let atlas = out.find("Demo Account · app      0f1e2d3c").expect(&out);
    let reports = out
        .find(&format!("Cliente X · app      {REPORTS}"))
        .expect(&out);
    assert!(first < atlas && atlas < second && second < reports, "{out}");
    let o = h.run(&["--json", "list", "--all-accounts"]).await;
    ok(&o);
    let rows = json_lines(&o);
    for (id, spec) in sim
        .config()
        .accounts()
        .map(|(_, a)| (a.id.clone(), a.clone()))
    {
        let mut listed: Vec<String> = rows
            .iter()
            .filter(|r| r["account"] == id.as_str() && r.get("quota").is_none())
            .map(|r| r["id"].as_str().unwrap().to_string())
            .collect();
        let mut owned: Vec<String> = spec
            .applications
            .iter()
            .chain(&spec.databases)
            .map(|r| r.id.clone())
            .collect();
        listed.sort();
        owned.sort();
        assert_eq!(listed, owned, "{id}");
    }

    // Rename: found by the new name, Square Cloud's name kept beside it; a name another
    // account has is refused; --reset goes back.
    ok(&h.run(&["account", "rename", "Cliente X", "Loja"]).await);
    let o = h.run(&["--account", "loja", "whoami"]).await;
    ok(&o);
    assert!(
        text(&o).contains("Loja · Cliente X (527104883960201216)"),
        "{}",
        text(&o)
    );
    let o = h.run(&["account", "list"]).await;
    assert!(text(&o).contains("Square Cloud: Cliente X"), "{}", text(&o));
    let o = h.run(&["account", "rename", "loja", "demo account"]).await;
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    ok(&h.run(&["account", "rename", "loja", "--reset"]).await);
    ok(&h.run(&["--account", "Cliente X", "whoami"]).await);

    // Use: the default from now on.
    ok(&h.run(&["account", "use", "Cliente X"]).await);
    let o = h.run(&["--json", "whoami"]).await;
    assert_eq!(json_lines(&o)[0]["id"], DEMO_CLIENT_ID, "{}", text(&o));
    ok(&h.run(&["account", "use", DEMO_ID]).await);
    let o = h.run(&["--json", "whoami"]).await;
    assert_eq!(json_lines(&o)[0]["id"], DEMO_ID, "{}", text(&o));

    // Signed out of the default: with two accounts and none the default, a command names
    // them and does nothing; the next account added becomes the default.
    ok(&h.run(&["logout"]).await);
    assert_eq!(h.key_of(DEMO_ID), None);
    assert_eq!(h.key_of(DEMO_CLIENT_ID).as_deref(), Some(DEMO_CLIENT_KEY));
    let o = h.run(&["whoami"]).await;
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    assert!(
        text(&o).contains("Demo Account (313397145698959364), Cliente X (527104883960201216)"),
        "{}",
        text(&o)
    );
    let o = h.add_piped(DEMO_KEY, &["account", "add"]).await;
    ok(&o);
    assert!(
        text(&o).contains("was already known here")
            && text(&o).contains("It is the default account."),
        "{}",
        text(&o)
    );

    // The keys are in no file of the data dir.
    for f in files_under(&h.data) {
        let bytes = std::fs::read(&f).unwrap();
        let body = String::from_utf8_lossy(&bytes);
        assert!(!body.contains(DEMO_KEY), "a key in {}", f.display());
    }
}

/// Removing an account: its key leaves the keychain and it is forgotten; its copies and
/// its state stay by default; with --delete-copies (confirmed), the files its library lists
/// go, and its state with them, and nothing else is touched.
#[tokio::test]
async fn remove_keeps_the_copies_unless_asked_and_confirmed() {
    if !keyring_here() {
        return;
    }
    let sim = two_accounts().await;
    let h = Here::new(&sim, "remove");
    h.add_both().await;
    let (mine, theirs) = (h.folder("demo-backups"), h.folder("cliente-backups"));
    ok(&h
        .run(&["download", ATLAS, "--dest", mine.to_str().unwrap()])
        .await);
    ok(&h
        .run(&[
            "--account",
            "Cliente X",
            "download",
            REPORTS,
            "--dest",
            theirs.to_str().unwrap(),
        ])
        .await);
    let own = theirs.join("notes.txt");
    std::fs::write(&own, "the user's own file").unwrap();
    let copy = files_in(&theirs).into_iter().find(|p| p != &own).unwrap();

    // Kept: the default off a terminal.
    let o = h.run(&["account", "remove", "Cliente X"]).await;
    ok(&o);
    assert!(
        text(&o).contains("Its 1 copy on this computer"),
        "{}",
        text(&o)
    );
    assert_eq!(h.key_of(DEMO_CLIENT_ID), None);
    assert_eq!(h.key_of(DEMO_ID).as_deref(), Some(DEMO_KEY));
    assert!(copy.exists() && h.account_dir(DEMO_CLIENT_ID).join(LIBRARY).exists());
    let o = h.run(&["--account", "Cliente X", "whoami"]).await;
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));

    // Added again: its library is still there.
    let kf = h.key_file(DEMO_CLIENT_KEY);
    ok(&h
        .run(&["--key-file", kf.to_str().unwrap(), "account", "add"])
        .await);
    assert_eq!(h.library(DEMO_CLIENT_ID).entries.len(), 1);

    // Deleting copies off a terminal needs --yes: without it nothing changes.
    let o = h
        .run(&["account", "remove", "Cliente X", "--delete-copies"])
        .await;
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    assert!(copy.exists());
    assert_eq!(h.key_of(DEMO_CLIENT_ID).as_deref(), Some(DEMO_CLIENT_KEY));
    ok(&h.run(&["--account", "Cliente X", "whoami"]).await);

    let o = h
        .run(&["account", "remove", "Cliente X", "--delete-copies", "--yes"])
        .await;
    ok(&o);
    assert!(
        text(&o).contains(&format!("deleted  {}", copy.display())),
        "{}",
        text(&o)
    );
    assert!(text(&o).contains("1 copy deleted."), "{}", text(&o));
    assert!(!copy.exists(), "its copy is deleted");
    assert!(own.exists(), "a file the app did not make stays");
    assert!(
        !h.account_dir(DEMO_CLIENT_ID).exists(),
        "its state went with its copies"
    );
    assert_eq!(h.key_of(DEMO_CLIENT_ID), None);
    // The other account is as it was.
    assert_eq!(files_in(&mine).len(), 1);
    assert_eq!(h.library(DEMO_ID).entries.len(), 1);
    let o = h.run(&["--json", "account", "list"]).await;
    let v = json_lines(&o);
    assert_eq!(v.len(), 1, "{}", text(&o));
    assert_eq!(v[0]["id"], DEMO_ID);
}

/// `run-due` runs every account's plans, each with its own key and folder; an account
/// whose key is missing is said and skipped, the other still runs, and the exit code says
/// one did not.
#[tokio::test]
async fn run_due_runs_every_accounts_plans_and_survives_a_missing_key() {
    if !keyring_here() {
        return;
    }
    let sim = two_accounts().await;
    let h = Here::new(&sim, "rundue");
    // This time the first key comes from the environment.
    let mut c = h.cmd(&["account", "add"]);
    c.env("SQUARECLOUD_API_KEY", DEMO_KEY);
    ok(&run(c).await);
    let kf = h.key_file(DEMO_CLIENT_KEY);
    ok(&h
        .run(&["--key-file", kf.to_str().unwrap(), "account", "add"])
        .await);
    assert_eq!(h.key_of(DEMO_ID).as_deref(), Some(DEMO_KEY));

    let (mine, theirs) = (h.folder("demo-plans"), h.folder("cliente-plans"));
    for (who, dest, id) in [(DEMO_ID, &mine, ROCKET), ("Cliente X", &theirs, REPORTS)] {
        let o = h
            .run(&[
                "--account",
                who,
                "plan",
                "add",
                "m",
                "--mirror",
                "--hourly",
                "--dest",
                dest.to_str().unwrap(),
                id,
            ])
            .await;
        ok(&o);
    }
    h.make_due(DEMO_ID);
    h.make_due(DEMO_CLIENT_ID);
    let o = h.run(&["run-due"]).await;
    ok(&o);
    let out = text(&o);
    assert!(out.contains("Demo Account · m: done"), "{out}");
    assert!(out.contains("Cliente X · m: done"), "{out}");
    assert!(
        !files_in(&mine).is_empty() && !files_in(&theirs).is_empty(),
        "{out}"
    );
    assert!(
        files_in(&theirs)
            .iter()
            .all(|p| p.to_string_lossy().contains(&REPORTS[..8]))
    );
    assert!(
        files_in(&mine)
            .iter()
            .all(|p| p.to_string_lossy().contains(&ROCKET[..8]))
    );
    assert!(no_request_crossed_accounts(&sim) >= 2);

    // Cliente X's key is gone from the keychain: said and skipped, the demo account's plan
    // still runs, and the exit code says not everything ran.
    h.keychain()
        .slot(&Slot::Account(AccountId::new(DEMO_CLIENT_ID).unwrap()))
        .delete()
        .unwrap();
    h.make_due(DEMO_ID);
    h.make_due(DEMO_CLIENT_ID);
    let o = h.run(&["--json", "run-due"]).await;
    assert_eq!(o.status.code(), Some(3), "{}", text(&o));
    let lines = json_lines(&o);
    let demo_run = lines
        .iter()
        .find(|l| l["plan"] == "m" && l["account"] == DEMO_ID)
        .unwrap_or_else(|| panic!("{}", text(&o)));
    assert_eq!(demo_run["ok"], true, "{demo_run}");
    let skipped = lines
        .iter()
        .find(|l| l["account"] == DEMO_CLIENT_ID && l.get("error").is_some())
        .unwrap_or_else(|| panic!("{}", text(&o)));
    assert!(
        skipped["error"]
            .as_str()
            .unwrap()
            .contains("holds no API key"),
        "{skipped}"
    );
    let plans: Plans = StateDir::open(&h.account_dir(DEMO_ID))
        .unwrap()
        .read(PLANS)
        .unwrap();
    assert_eq!(
        plans.state["m"].history.len(),
        1,
        "the run after make_due is its own"
    );
}
