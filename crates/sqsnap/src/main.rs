//! `sqsnap`: the Square Snapshots engine for servers and cron. Parses the command line,
//! runs one subcommand (a module each), and ends with an exit code from [`exit::EXIT_CODES`].

mod account;
mod cli;
mod download;
mod exit;
mod folder;
mod install_timer;
mod key;
mod key_cmd;
mod list;
mod login;
mod offsite;
mod plan;
mod progress;
mod prune;
mod put_back;
mod quota;
mod restore;
mod run_due;
mod say;
mod session;
mod snapshot;
mod verify;
mod versions;
mod words;

use clap::Parser;
use cli::{Cli, Command, FolderCmd};
use exit::Fail;
use say::Out;
use session::{Pick, Session, offline};
use std::process::ExitCode;

#[tokio::main]
async fn main() -> ExitCode {
    let cli = Cli::parse();
    let json = cli.json;
    let result = run(cli).await;
    if say::stdout_closed() {
        // Whoever read the output has what they wanted; what was cut short stopped as on
        // Ctrl-C (a download keeps its `.part` for the same command to resume).
        say::end_for_closed_output();
    }
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(f) => {
            say::failure(json, &f);
            ExitCode::from(f.exit)
        }
    }
}

async fn run(cli: Cli) -> Result<(), Fail> {
    session::check_demo(&cli)?;
    let pick = Pick::of(&cli);
    // What needs neither Square Cloud nor the key.
    match &cli.command {
        Command::Verify { paths } => {
            let o = offline(&pick)?;
            let account = o.account.as_ref().map(|k| &k.id);
            return verify::run(&Out::of(cli.json, o.whose), &o.dir, account, paths);
        }
        Command::Prune {
            keep,
            days,
            offsite: Some(name),
        } => {
            prune::check(*keep, *days)?;
            return offsite::prune(cli.json, &pick, name, *keep, *days).await;
        }
        Command::Prune { keep, days, .. } => {
            let o = offline(&pick)?;
            return prune::run(&Out::of(cli.json, o.whose), &o.dir, *keep, *days);
        }
        Command::Offsite { cmd } => {
            return offsite::run(cli.json, &pick, cli.limit_rate, cmd).await;
        }
        Command::Logout => return login::logout(&Out::new(cli.json), &pick),
        Command::Account { cmd } => return account::run(&cli, cmd).await,
        Command::Key { cmd } => return key_cmd::run(cli.json, &pick, cmd),
        Command::Folder {
            cmd: cmd @ (FolderCmd::List | FolderCmd::Encrypt(_)),
        } => return folder::run(cli.json, &pick, cmd),
        Command::Decrypt { file, out: to } => {
            return key_cmd::decrypt(cli.json, &pick, file, to.as_deref());
        }
        Command::Login => return login::login(&cli).await,
        Command::List { all_accounts: true } => return list::all(&cli).await,
        Command::RunDue => return run_due::run(&cli).await,
        _ => {}
    }
    let s = Session::open(&cli).await?;
    let done = match &cli.command {
        Command::Whoami => login::whoami(&s),
        Command::Quota => quota::run(&s).await,
        Command::List { .. } => list::run(&s).await,
        Command::Folder {
            cmd: FolderCmd::Set(a),
        } => folder::set(&s, a),
        Command::Snapshot(a) => snapshot::run(&s, a).await,
        Command::Download(a) => download::run(&s, a).await,
        Command::Versions { id } => versions::run(&s, id).await,
        Command::Restore(a) => restore::run(&s, a).await,
        Command::PutBack(a) => put_back::run(&s, a).await,
        Command::NewApp { file, yes } => put_back::new_app(&s, file, *yes).await,
        Command::Plan { cmd } => plan::run(&s, cmd, cli.key_file.as_deref()),
        Command::Login
        | Command::Logout
        | Command::Account { .. }
        | Command::RunDue
        | Command::Verify { .. }
        | Command::Prune { .. }
        | Command::Key { .. }
        | Command::Folder {
            cmd: FolderCmd::List | FolderCmd::Encrypt(_),
        }
        | Command::Decrypt { .. }
        | Command::Offsite { .. } => unreachable!("handled above"),
    };
    // Whose work failed, when this computer knows more than one account.
    done.map_err(|f| s.named(f))
}
