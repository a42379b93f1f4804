//! Secrets are never in the file: a trunk's password or a token is read when needed from a
//! systemd credential of its name, else the environment variable it names.

use super::*;

/// A secret named in the config is neither a systemd credential nor in the environment.
#[derive(Debug, Clone, thiserror::Error)]
#[error(
    "secret {name} is not set: no systemd credential of that name and no environment variable \
     (named in dialer.toml)"
)]
pub struct SecretError {
    pub name: String,
}

/// Read a secret: the systemd credential `$CREDENTIALS_DIRECTORY/<name>` when there is one
/// (`LoadCredential=`/`SetCredentialEncrypted=` in the unit), else the environment variable
/// `<name>`. Surrounding whitespace (a trailing newline) is dropped; empty counts as unset.
pub fn secret(name: &str) -> Result<String, SecretError> {
    let dir = std::env::var_os("CREDENTIALS_DIRECTORY").map(PathBuf::from);
    secret_from(name, dir.as_deref(), |n| std::env::var(n).ok())
}

/// [`secret`] with the credentials directory and the environment given (tests).
pub fn secret_from(
    name: &str,
    credentials_dir: Option<&Path>,
    env: impl Fn(&str) -> Option<String>,
) -> Result<String, SecretError> {
    // A credential name is a plain file name; never let one walk out of the directory.
    let plain = !name.is_empty() && !name.contains(['/', '\\']) && name != "." && name != "..";
    let from_file = credentials_dir
        .filter(|_| plain)
        .and_then(|d| std::fs::read_to_string(d.join(name)).ok());
    from_file
        .or_else(|| env(name))
        .map(|v| v.trim().to_owned())
        .filter(|v| !v.is_empty())
        .ok_or_else(|| SecretError { name: name.into() })
}

/// Secrets the config names that are not set where `dialer run` would read them (`secret`:
/// [`secret`] or a stand-in): one warning per key, naming the variable and what it costs.
pub fn unset_secrets(
    config: &DaemonConfig,
    secret: impl Fn(&str) -> Result<String, SecretError>,
) -> Vec<Problem> {
    let mut out = Vec::new();
    let mut check = |key: String, var: &str, costs: String| {
        if secret(var).is_err() {
            out.push(Problem {
                file: config.source.clone(),
                key,
                message: format!(
                    "{var} is not set (no environment variable or systemd credential of that \
                     name): {costs}"
                ),
            });
        }
    };
    for (i, t) in config.trunks.iter().enumerate() {
        if let Some(var) = &t.password_env {
            check(
                format!("trunks[{i}].password_env"),
                var,
                format!(
                    "`dialer run` refuses to start without trunk {:?}'s password",
                    t.name
                ),
            );
        }
    }
    for (i, a) in config.agents.iter().enumerate() {
        if let Phone::Registered { password_env, .. } = &a.phone {
            check(
                format!("agents[{i}].password_env"),
                password_env,
                format!(
                    "`dialer run` refuses to start without agent {:?}'s phone password",
                    a.id
                ),
            );
        }
        if let Some(var) = &a.token_env {
            check(
                format!("agents[{i}].token_env"),
                var,
                format!("agent {:?} cannot use the HTTP API", a.id),
            );
        }
    }
    if let Some(var) = &config.api.token_env {
        check(
            "api.token_env".to_owned(),
            var,
            "the supervisor cannot use the HTTP API".to_owned(),
        );
    }
    out
}
