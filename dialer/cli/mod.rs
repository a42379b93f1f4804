//! The `dialer` command line: one binary, one subcommand per job.
//!
//! Each subcommand lives in its own file with its `Args` and a `run` function; this file only
//! dispatches. Errors reach the user through `anyhow` with their context chain.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

mod amd;
mod audit;
mod call;
mod check;
mod demo;
mod dnc;
mod erase;
mod import;
mod migrate;
mod plan;
mod report;
mod run;
mod simulate;
mod user;

/// Outbound predictive dialer.
#[derive(Debug, Parser)]
#[command(name = "dialer", version, about, propagate_version = true)]
pub struct Cli {
    #[command(flatten)]
    pub global: Global,
    #[command(subcommand)]
    pub command: Command,
}

/// Options every subcommand understands.
#[derive(Debug, Clone, clap::Args)]
pub struct Global {
    /// The daemon's config file.
    #[arg(
        long,
        global = true,
        env = "DIALER_CONFIG",
        default_value = "dialer.toml"
    )]
    pub config: PathBuf,
    /// CRM store URL (sqlite://PATH or postgres://…); default: SQLite in the state directory.
    #[arg(long, global = true, env = "DIALER_DATABASE_URL")]
    pub db: Option<String>,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Validate campaign files and the daemon config; report every error.
    Check(check::Args),
    /// Apply the CRM schema migrations.
    Migrate(migrate::Args),
    /// Import a CSV lead list into a campaign.
    Import(import::Args),
    /// Say, for each lead, whether it may be dialed at an instant and why not.
    Plan(plan::Args),
    /// Place one test call through a trunk or to a SIP URI.
    Call(call::Args),
    /// Run the daemon with the example campaigns against the simulated carrier and agents.
    Demo(demo::Args),
    /// Simulate a campaign shift in virtual time.
    Simulate(simulate::Args),
    /// Classify recordings offline with the answering-machine detector.
    Amd(amd::Args),
    /// Run the daemon.
    Run(run::Args),
    /// Report on a campaign from the store.
    Report(report::Args),
    /// People who log in to the agent desktop and the wallboard.
    User(user::Args),
    /// Do-not-call registries: load their downloads.
    Dnc(dnc::Args),
    /// Erase a person's data on request (recordings, name, attributes); keep what the law requires.
    Erase(erase::Args),
    /// Why an attempt was allowed: the evidence stored with it, in words.
    Audit(audit::Args),
}

/// Run the parsed command line; the exit code says whether the job succeeded.
pub fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    let g = &cli.global;
    match cli.command {
        Command::Check(a) => check::run(g, a),
        Command::Migrate(a) => migrate::run(g, a),
        Command::Import(a) => import::run(g, a),
        Command::Plan(a) => plan::run(g, a),
        Command::Call(a) => call::run(g, a),
        Command::Demo(a) => demo::run(g, a),
        Command::Simulate(a) => simulate::run(g, a),
        Command::Amd(a) => amd::run(g, a),
        Command::Run(a) => run::run(g, a),
        Command::Report(a) => report::run(g, a),
        Command::User(a) => user::run(g, a),
        Command::Dnc(a) => dnc::run(g, a),
        Command::Erase(a) => erase::run(g, a),
        Command::Audit(a) => audit::run(g, a),
    }
}

/// A multi-threaded tokio runtime for the subcommands that do IO.
pub fn runtime() -> anyhow::Result<tokio::runtime::Runtime> {
    Ok(tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?)
}
