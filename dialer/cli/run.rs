//! `dialer run` (issue 7; not built yet).

use std::process::ExitCode;

use super::Global;

#[derive(Debug, clap::Args)]
pub struct Args {}

pub fn run(_g: &Global, _a: Args) -> anyhow::Result<ExitCode> {
    anyhow::bail!("`dialer run` is not built yet (issue 7)")
}
