//! `sqsnap`: the Square Snapshots engine for servers and cron. Parses the command line,
//! runs one subcommand (a module each), and ends with an exit code from [`exit::EXIT_CODES`].

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

use clap::Parser;
use cli::{Cli, Command};
use exit::Fail;
use session::{Session, offline_dir};
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
        Err(Fail(code, msg)) => {
            say::failure(json, code, &msg);
            ExitCode::from(code)
        }
    }
}

async fn run(cli: Cli) -> Result<(), Fail> {
    session::check_demo(&cli)?;
    let out = say::Out { json: cli.json };
    // What needs neither Square Cloud nor the key.
    match &cli.command {
        Command::Verify { paths } => return verify::run(&out, cli.demo, paths),
        Command::Prune {
            keep,
            days,
            offsite: Some(name),
        } => {
            prune::check(*keep, *days)?;
            return offsite::prune(&out, cli.demo, name, *keep, *days).await;
        }
        Command::Prune { keep, days, .. } => {
            return prune::run(&out, &offline_dir(cli.demo)?, *keep, *days);
        }
        Command::Offsite { cmd } => {
            return offsite::run(&out, cli.demo, cli.limit_rate, cmd).await;
        }
        Command::Logout => return login::logout(&out),
        Command::Key { cmd } => return key_cmd::run(&out, cli.demo, cmd),
        Command::Folder { cmd } => return folder::run(&out, cli.demo, cmd),
        Command::Decrypt { file, out: to } => {
            return key_cmd::decrypt(&out, cli.demo, file, to.as_deref());
        }
        Command::Login => return login::login(&cli).await,
        _ => {}
    }
    let s = Session::open(&cli).await?;
    match &cli.command {
        Command::Whoami => login::whoami(&s),
        Command::Quota => quota::run(&s).await,
        Command::List => list::run(&s).await,
        Command::Snapshot(a) => snapshot::run(&s, a).await,
        Command::Download(a) => download::run(&s, a).await,
        Command::Versions { id } => versions::run(&s, id).await,
        Command::Restore(a) => restore::run(&s, a).await,
        Command::PutBack(a) => put_back::run(&s, a).await,
        Command::NewApp { file, yes } => put_back::new_app(&s, file, *yes).await,
        Command::Plan { cmd } => plan::run(&s, cmd, cli.key_file.as_deref()),
        Command::RunDue => run_due::run(&s).await,
        Command::Login
        | Command::Logout
        | Command::Verify { .. }
        | Command::Prune { .. }
        | Command::Key { .. }
        | Command::Folder { .. }
        | Command::Decrypt { .. }
        | Command::Offsite { .. } => unreachable!("handled above"),
    }
}
