//! Built-in defaults and the list kinds' defaults, as TOML layered under each campaign file:
//! built-in < kind < file < environment. docs/reference/defaults.md is generated from these
//! (`dialer::reference`); docs/reference/campaign.md quotes them.

/// Defaults for every campaign, whatever its kind.
pub const BUILTIN: &str = r#"
enabled = true
mode = "progressive"
regime = "us"
agent_groups = []

[hours]
days = ["mon", "tue", "wed", "thu", "fri"]
start = "09:00"
end = "20:00"

[dialing]
ring_timeout = "25s"
calls_per_second = 5.0
max_concurrent = 30
connect_limit = "2s"

[abandon]
cap = 0.03

[amd]
enabled = true
on_machine = "hangup"
on_notsure = "human"
beep_wait_ms = 10000

[retry]
max_attempts = 3

[retry.delay]
busy = "15m"
no_answer = "2h"
machine = "4h"
abandoned = "72h"
congestion = "5m"
rejected = "24h"
failed = "30m"
interrupted = "5m"

[limits]
reg_f = false

[dnc]
files = []
use_global = true
opt_out_key = "9"
opt_out_scope = "campaign"
opt_out_wait = "1s"

[priors]
hit_rate = 0.25
machine_rate = 0.30
ring_s = 12.0
talk_s = 180.0
wrap_s = 30.0
"#;

/// Cold lists: no prior relationship. Few attempts, long gaps, hang up on machines.
pub const COLD: &str = r#"
[amd]
on_machine = "hangup"

[retry]
max_attempts = 3

[retry.delay]
busy = "30m"
no_answer = "4h"
machine = "24h"

[priors]
hit_rate = 0.15
machine_rate = 0.35
"#;

/// Warm lists: the person asked to be contacted. New leads first, voicemail, more attempts.
pub const WARM: &str = r#"
[amd]
on_machine = "voicemail"

[retry]
max_attempts = 6

[retry.delay]
busy = "10m"
no_answer = "1h"
machine = "3h"

[priors]
hit_rate = 0.30
machine_rate = 0.30
"#;

/// Hot lists: existing customers. Highest priority, voicemail, short retry cadence.
pub const HOT: &str = r#"
[amd]
on_machine = "voicemail"

[retry]
max_attempts = 8

[retry.delay]
busy = "5m"
no_answer = "30m"
machine = "2h"

[priors]
hit_rate = 0.40
machine_rate = 0.25
"#;
