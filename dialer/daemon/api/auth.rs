//! Who is calling: API tokens (kept as SHA-256 digests, compared in constant time) and the
//! principal each one names (a supervisor, or one agent).

use super::*;

/// Who a bearer token belongs to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Principal {
    Supervisor,
    Agent(AgentId),
}

/// The API tokens: the supervisor's and each agent's, kept as SHA-256 digests (never the
/// secret itself, so no `Debug` print or memory dump shows one).
#[derive(Debug, Clone, Default)]
pub struct Tokens {
    supervisor: Option<TokenDigest>,
    agents: Vec<(TokenDigest, AgentId)>,
}

/// A token's SHA-256.
#[derive(Debug, Clone, Copy)]
pub(super) struct TokenDigest(pub(super) [u8; 32]);

/// Tokens that cannot be told apart.
#[derive(Debug, Clone, thiserror::Error)]
pub enum TokenError {
    #[error("agents {0} and {1} have the same API token; each agent needs its own")]
    Shared(AgentId, AgentId),
    #[error("agent {0}'s API token is the supervisor token")]
    Supervisor(AgentId),
}

impl Principal {
    /// Who did it, in the audit trail: `supervisor` (its token has no other name) or
    /// `agent ID`.
    pub fn name(&self) -> String {
        match self {
            Principal::Supervisor => "supervisor".into(),
            Principal::Agent(a) => format!("agent {a}"),
        }
    }
}

impl TokenDigest {
    pub(super) fn of(token: &str) -> TokenDigest {
        TokenDigest(sha2::Sha256::digest(token.as_bytes()).into())
    }

    /// Constant time whatever the tokens: both sides are 32 bytes, compared without an early
    /// exit, so neither a token's length nor its first wrong byte shows in the time taken.
    pub(super) fn matches(&self, other: &TokenDigest) -> bool {
        self.0.ct_eq(&other.0).into()
    }
}

impl Tokens {
    /// Tokens given directly (tests, embedding). Each must be distinct.
    pub fn new(
        supervisor: Option<String>,
        agents: impl IntoIterator<Item = (AgentId, String)>,
    ) -> Result<Self, TokenError> {
        let supervisor = supervisor.as_deref().map(TokenDigest::of);
        let mut list: Vec<(TokenDigest, AgentId)> = Vec::new();
        for (agent, token) in agents {
            let token = TokenDigest::of(&token);
            if supervisor.is_some_and(|s| s.matches(&token)) {
                return Err(TokenError::Supervisor(agent));
            }
            if let Some((_, other)) = list.iter().find(|(t, _)| t.matches(&token)) {
                return Err(TokenError::Shared(other.clone(), agent));
            }
            list.push((token, agent));
        }
        Ok(Self {
            supervisor,
            agents: list,
        })
    }

    /// The tokens `dialer.toml` names. A named secret that is not set leaves that principal
    /// without API access (the daemon still starts; the returned problems say which).
    pub fn from_config(config: &DaemonConfig) -> Result<(Self, Vec<SecretError>), TokenError> {
        let mut missing = Vec::new();
        let supervisor = match config.api.token() {
            Ok(t) => t,
            Err(e) => {
                missing.push(e);
                None
            }
        };
        let mut agents = Vec::new();
        for a in &config.agents {
            match a.token() {
                Ok(Some(t)) => agents.push((a.id.clone(), t)),
                Ok(None) => {}
                Err(e) => missing.push(e),
            }
        }
        Ok((Self::new(supervisor, agents)?, missing))
    }

    /// Whose token this is.
    pub fn identify(&self, token: &str) -> Option<Principal> {
        let token = TokenDigest::of(token);
        if self.supervisor.is_some_and(|s| s.matches(&token)) {
            return Some(Principal::Supervisor);
        }
        self.agents
            .iter()
            .find(|(t, _)| t.matches(&token))
            .map(|(_, a)| Principal::Agent(a.clone()))
    }
}
