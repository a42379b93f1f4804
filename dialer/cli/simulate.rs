//! `dialer simulate` (issue 5; not built yet).

use std::process::ExitCode;

use super::Global;

#[derive(Debug, clap::Args)]
pub struct Args {}

pub fn run(_g: &Global, _a: Args) -> anyhow::Result<ExitCode> {
    anyhow::bail!("`dialer simulate` is not built yet (issue 5)")
}
