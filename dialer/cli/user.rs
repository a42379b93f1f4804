//! `dialer user set-password ID [--role agent|supervisor]`: create a person who logs in to the
//! agent desktop or the wallboard, or give them a new password (which also lifts a lockout).
//!
//! The password is read from standard input (one line), never from the command line where
//! `ps` and shell histories would show it; on a terminal it is asked for twice with echo off.
//! Only its argon2id hash is stored (the `users` table of the CRM store).

use std::io::{BufRead, IsTerminal, Write};
use std::process::ExitCode;

use anyhow::Context;

use super::Global;
use crate::daemon::api::{hash_password, password_problem};
use crate::store::{Role, Store};

#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(subcommand)]
    pub command: UserCommand,
}

#[derive(Debug, clap::Subcommand)]
pub enum UserCommand {
    /// Create the user or set their password, read from standard input.
    SetPassword {
        /// The login id: an agent's `[[agents]] id`, or a supervisor's name.
        id: String,
        /// The user's role (a new user without one is an agent; an existing one keeps theirs).
        #[arg(long, value_parser = ["agent", "supervisor"])]
        role: Option<String>,
    },
}

pub fn run(g: &Global, a: Args) -> anyhow::Result<ExitCode> {
    let UserCommand::SetPassword { id, role } = a.command;
    let role: Option<Role> = role
        .map(|r| r.parse().map_err(|e: String| anyhow::anyhow!(e)))
        .transpose()?;
    check_id(&id)?;
    let hash = new_password_hash()?;
    // An agent user must match an [[agents]] id to log in: say so now rather than at login.
    if role != Some(Role::Supervisor)
        && g.config.exists()
        && let Ok(cfg) = crate::daemon::config::load(&g.config)
        && !cfg.agents.iter().any(|x| x.id == id.as_str())
    {
        eprintln!(
            "warning: {} has no [[agents]] with id {id:?}; an agent user can log in only as a \
             configured agent",
            g.config.display()
        );
    }
    let url = super::migrate::store_url(g)?;
    super::runtime()?.block_on(async {
        let store = Store::open(&url)
            .await
            .with_context(|| format!("cannot open the store {url}"))?;
        let now = jiff::Timestamp::now().as_millisecond();
        let created = store.set_user(&id, role, &hash, now).await?;
        let user = store
            .user(&id)
            .await?
            .context("the user is not in the store after writing it")?;
        println!(
            "{} {id} ({}); password set",
            if created { "created" } else { "updated" },
            user.role.as_str()
        );
        Ok(ExitCode::SUCCESS)
    })
}

/// Refuse a user id that is not 1 to 64 letters, digits, `-`, `_` or `.`.
pub(super) fn check_id(id: &str) -> anyhow::Result<()> {
    if id.is_empty()
        || id.chars().count() > 64
        || !id
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
    {
        anyhow::bail!(
            "user id {id:?}: use 1 to 64 letters, digits, `-`, `_` or `.` (as [[agents]] ids)"
        );
    }
    Ok(())
}

/// A password read from standard input (see [`read_password`]), checked and hashed (argon2id).
pub(super) fn new_password_hash() -> anyhow::Result<String> {
    let password = read_password()?;
    if let Some(problem) = password_problem(&password) {
        anyhow::bail!("refused: {problem}");
    }
    let hash = hash_password(&password).map_err(|e| anyhow::anyhow!(e))?;
    drop(password);
    Ok(hash)
}

/// One line of standard input, without its line end; on a terminal asked twice with echo off.
fn read_password() -> anyhow::Result<String> {
    let stdin = std::io::stdin();
    if !stdin.is_terminal() {
        let mut line = String::new();
        stdin
            .lock()
            .read_line(&mut line)
            .context("cannot read the password from standard input")?;
        return Ok(line.trim_end_matches(['\n', '\r']).to_owned());
    }
    let first = prompt("Password: ")?;
    let second = prompt("Again: ")?;
    if first != second {
        anyhow::bail!("refused: the two passwords differ");
    }
    Ok(first)
}

/// Ask on standard error and read a line from the terminal with echo off.
fn prompt(what: &str) -> anyhow::Result<String> {
    eprint!("{what}");
    std::io::stderr().flush().ok();
    let _echo = EchoOff::new();
    let mut line = String::new();
    std::io::stdin().lock().read_line(&mut line)?;
    eprintln!();
    Ok(line.trim_end_matches(['\n', '\r']).to_owned())
}

/// The terminal's echo turned off until dropped.
struct EchoOff(Option<libc::termios>);

impl EchoOff {
    fn new() -> Self {
        // SAFETY: tcgetattr/tcsetattr on fd 0 with a termios we own; failures leave it as is.
        unsafe {
            let mut t: libc::termios = std::mem::zeroed();
            if libc::tcgetattr(0, &mut t) != 0 {
                return EchoOff(None);
            }
            let saved = t;
            t.c_lflag &= !libc::ECHO;
            if libc::tcsetattr(0, libc::TCSANOW, &t) != 0 {
                return EchoOff(None);
            }
            EchoOff(Some(saved))
        }
    }
}

impl Drop for EchoOff {
    fn drop(&mut self) {
        if let Some(t) = self.0 {
            // SAFETY: restores the settings read in `new`.
            unsafe {
                libc::tcsetattr(0, libc::TCSANOW, &t);
            }
        }
    }
}
