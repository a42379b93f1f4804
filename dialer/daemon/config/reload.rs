//! The config and the campaigns together, at start and on reload: what changed, and the
//! checks across them (a campaign's trunk and agent groups exist).

use super::*;

/// Everything the daemon runs on: the config and its campaigns, all valid and consistent.
#[derive(Debug, Clone)]
pub struct Loaded {
    pub config: DaemonConfig,
    pub campaigns: Vec<Campaign>,
}

/// Load `dialer.toml`, every campaign of its `campaigns_dir`, and cross-check them: all of it,
/// or every problem found (for start-up and for reload on SIGHUP, which keeps the old
/// configuration on error).
pub fn load_all(path: &Path) -> Result<Loaded, Problems> {
    let state_default = std::env::var("DIALER_STATE_DIR").ok();
    load_all_with(path, &Env::from_process(), state_default.as_deref())
}

/// [`load_all`] with the given environment.
pub fn load_all_with(
    path: &Path,
    env: &Env,
    state_dir_default: Option<&str>,
) -> Result<Loaded, Problems> {
    let config = load_with(path, env, state_dir_default)?;
    let (campaigns, mut problems) = crate::campaign::load_dir_report(&config.campaigns_dir, env);
    problems.extend(cross_check(&config, &campaigns));
    if problems.is_empty() {
        Ok(Loaded { config, campaigns })
    } else {
        Err(Problems(problems))
    }
}

/// What a reload (SIGHUP) applies: the new config and campaigns, where each campaign file with
/// problems keeps the version that is running.
#[derive(Debug, Clone)]
pub struct Reload {
    pub loaded: Loaded,
    /// The broken files whose running campaign stays as it was (file, campaign name).
    pub kept: Vec<(PathBuf, String)>,
    /// Every problem found (each names its file and key).
    pub problems: Vec<Problem>,
}

/// Load for a reload: `dialer.toml` must be valid (else nothing changes); a campaign file with
/// problems keeps its `running` version (a new broken file is left out), the valid files apply.
/// A problem that is not one campaign file's (the directory cannot be read), or a kept version
/// that no longer fits the new config, refuses the whole reload.
pub fn reload(path: &Path, running: &[Campaign]) -> Result<Reload, Problems> {
    let state_default = std::env::var("DIALER_STATE_DIR").ok();
    reload_with(
        path,
        &Env::from_process(),
        state_default.as_deref(),
        running,
    )
}

/// [`reload`] with the given environment.
pub fn reload_with(
    path: &Path,
    env: &Env,
    state_dir_default: Option<&str>,
    running: &[Campaign],
) -> Result<Reload, Problems> {
    let config = load_with(path, env, state_dir_default)?;
    let (loaded, mut problems) = crate::campaign::load_dir_report(&config.campaigns_dir, env);
    problems.extend(cross_check(&config, &loaded));
    let is_campaign_file = |f: &Path| {
        f.parent() == Some(config.campaigns_dir.as_path())
            && f.extension().is_some_and(|x| x == "toml")
    };
    if problems.iter().any(|p| !is_campaign_file(&p.file)) {
        return Err(Problems(problems));
    }
    let broken: BTreeSet<&Path> = problems.iter().map(|p| p.file.as_path()).collect();
    let mut campaigns: Vec<Campaign> = loaded
        .into_iter()
        .filter(|c| !broken.contains(c.source.as_path()))
        .collect();
    let mut kept = Vec::new();
    for old in running {
        let taken = campaigns.iter().any(|c| c.name == old.name);
        if broken.contains(old.source.as_path()) && !taken {
            kept.push((old.source.clone(), old.name.clone()));
            campaigns.push(old.clone());
        }
    }
    let misfits = cross_check(&config, &campaigns);
    if !misfits.is_empty() {
        problems.extend(misfits);
        return Err(Problems(problems));
    }
    Ok(Reload {
        loaded: Loaded { config, campaigns },
        kept,
        problems,
    })
}

/// Problems between the daemon config and the campaigns: each campaign's trunk must exist and
/// each of its agent groups must have at least one agent.
pub fn cross_check(config: &DaemonConfig, campaigns: &[Campaign]) -> Vec<Problem> {
    let mut out = Vec::new();
    for c in campaigns {
        if config.trunk(&c.trunk).is_none() {
            let known: Vec<&str> = config.trunks.iter().map(|t| t.name.as_str()).collect();
            out.push(Problem {
                file: c.source.clone(),
                key: "trunk".into(),
                message: format!(
                    "no trunk {:?} in {} (trunks: {})",
                    c.trunk,
                    config.source.display(),
                    if known.is_empty() {
                        "none".to_string()
                    } else {
                        known.join(", ")
                    }
                ),
            });
        }
        if c.mode != Mode::Agentless {
            for (i, g) in c.agent_groups.iter().enumerate() {
                if !config.agents.iter().any(|a| a.groups.contains(g)) {
                    out.push(Problem {
                        file: c.source.clone(),
                        key: format!("agent_groups[{i}]"),
                        message: format!(
                            "no agent in {} is in group {g:?}",
                            config.source.display()
                        ),
                    });
                }
            }
        }
    }
    out
}
