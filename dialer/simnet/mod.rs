//! The simulated carrier and agent phones: `dialer demo` runs the daemon against them on
//! loopback, speaking real SIP ([`crate::sip::uas`]) and RTP ([`crate::media::Driver`]).
//!
//! - [`carrier::Carrier`]: one UAS socket that answers the dialer's trunk INVITEs with a seeded
//!   mix of outcomes (person, machine, busy 486, no answer, invalid 404, congestion 503) and ring
//!   times; a person says "hello?" and waits to be spoken to, a machine plays a greeting and a
//!   beep and records the message.
//! - [`agents::AgentPhones`]: one UAS per agent that answers the nailed-up leg and talks while a
//!   customer is bridged in; the agent's desk actions go through [`agents::AgentDesk`].
//!
//! The behaviour (who says what when, when to hang up, which disposition) is sans-IO and
//! seeded: [`callee::Callee`] and [`agents::AgentBrain`]. Tunables: [`SimConfig`], whose
//! defaults make a lively 60 s demo.

pub mod agents;
pub mod callee;
pub mod carrier;
pub mod vad;

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use rand::{Rng, RngExt as _};
use serde::{Deserialize, Serialize};

use crate::media::g711::FRAME_SAMPLES;
use crate::media::session::Pcm;
use crate::media::wav::{self, WavError};

pub use agents::{AgentBrain, AgentDesk, AgentPhones, AgentStats, DeskError};
pub use callee::{Callee, Clip, Kind, Plan};
pub use carrier::{Carrier, CarrierStats};

/// A simnet failure.
#[derive(Debug, thiserror::Error)]
pub enum SimError {
    #[error("simnet config: {0}")]
    Config(String),
    #[error("cannot bind {what} on {addr}: {source}")]
    Bind {
        what: String,
        addr: std::net::SocketAddr,
        source: std::io::Error,
    },
    #[error("built-in sound {name}: {source}")]
    Sound {
        name: &'static str,
        source: WavError,
    },
}

/// A duration drawn uniformly from `min..=max`, written `{ min = "1s", max = "6s" }`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Span {
    #[serde(with = "humantime_serde")]
    pub min: Duration,
    #[serde(with = "humantime_serde")]
    pub max: Duration,
}

impl Span {
    pub const fn secs(min: f64, max: f64) -> Span {
        Span {
            min: Duration::from_millis((min * 1000.0) as u64),
            max: Duration::from_millis((max * 1000.0) as u64),
        }
    }

    pub fn draw(&self, rng: &mut impl Rng) -> Duration {
        if self.max <= self.min {
            return self.min;
        }
        let (lo, hi) = (self.min.as_millis() as u64, self.max.as_millis() as u64);
        Duration::from_millis(rng.random_range(lo..=hi))
    }

    fn check(&self, name: &str) -> Result<(), SimError> {
        if self.min > self.max {
            return Err(SimError::Config(format!(
                "{name}: min {:?} is above max {:?}",
                self.min, self.max
            )));
        }
        Ok(())
    }
}

/// What the carrier does with a call: relative weights (they need not sum to 1).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct OutcomeMix {
    pub person: f64,
    pub machine: f64,
    pub busy: f64,
    pub no_answer: f64,
    pub invalid: f64,
    pub congestion: f64,
}

impl Default for OutcomeMix {
    fn default() -> Self {
        OutcomeMix {
            person: 0.40,
            machine: 0.25,
            busy: 0.10,
            no_answer: 0.10,
            invalid: 0.05,
            congestion: 0.10,
        }
    }
}

impl OutcomeMix {
    /// Each outcome with its weight, in a fixed order.
    pub fn weights(&self) -> [(Kind, f64); 6] {
        [
            (Kind::Person, self.person),
            (Kind::Machine, self.machine),
            (Kind::Busy, self.busy),
            (Kind::NoAnswer, self.no_answer),
            (Kind::Invalid, self.invalid),
            (Kind::Congestion, self.congestion),
        ]
    }

    /// Each outcome's probability.
    pub fn probabilities(&self) -> [(Kind, f64); 6] {
        let total: f64 = self.weights().iter().map(|(_, w)| w).sum();
        self.weights().map(|(k, w)| (k, w / total))
    }

    pub fn draw(&self, rng: &mut impl Rng) -> Kind {
        let total: f64 = self.weights().iter().map(|(_, w)| w).sum();
        let mut x = rng.random::<f64>() * total;
        for (k, w) in self.weights() {
            if x < w {
                return k;
            }
            x -= w;
        }
        Kind::Person
    }

    fn check(&self) -> Result<(), SimError> {
        let w = self.weights();
        if let Some((k, _)) = w.iter().find(|(_, w)| !w.is_finite() || *w < 0.0) {
            return Err(SimError::Config(format!(
                "carrier.mix.{}: weights must be finite and not negative",
                k.key()
            )));
        }
        if w.iter().map(|(_, w)| w).sum::<f64>() <= 0.0 {
            return Err(SimError::Config(
                "carrier.mix: at least one weight must be positive".into(),
            ));
        }
        Ok(())
    }
}

/// The simulated carrier's behaviour.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct CarrierConfig {
    pub mix: OutcomeMix,
    /// INVITE to answer, for a person.
    pub ring_person: Span,
    /// INVITE to answer, for an answering machine.
    pub ring_machine: Span,
    /// INVITE to the 486/404/503.
    pub reject_after: Span,
    /// Answer to the person's "hello?".
    pub greet_delay: Span,
    /// Silence a person waits after "hello?" before asking again, then before hanging up.
    pub patience: Span,
    /// How long a person talks once spoken to, before hanging up.
    pub talk: Span,
    /// A machine stops recording after this much silence (after a message, or with none).
    #[serde(with = "humantime_serde")]
    pub voicemail_quiet: Duration,
    /// A machine records at most this long.
    #[serde(with = "humantime_serde")]
    pub voicemail_max: Duration,
}

impl Default for CarrierConfig {
    fn default() -> Self {
        CarrierConfig {
            mix: OutcomeMix::default(),
            ring_person: Span::secs(1.0, 6.0),
            ring_machine: Span::secs(3.0, 9.0),
            reject_after: Span::secs(0.3, 2.0),
            greet_delay: Span::secs(0.2, 0.6),
            patience: Span::secs(2.0, 3.5),
            talk: Span::secs(8.0, 20.0),
            voicemail_quiet: Duration::from_secs(3),
            voicemail_max: Duration::from_secs(30),
        }
    }
}

/// The simulated agents' behaviour.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct AgentsConfig {
    /// INVITE of the nailed-up leg to the answer.
    pub answer_after: Span,
    /// How long an agent talks with a customer before hanging up (unless the customer does).
    pub talk: Span,
    /// Wrap-up time before the disposition.
    pub wrap: Span,
    /// How long an agent looks at a preview campaign's lead before dialing it (`dialer demo`).
    pub preview_look: Span,
    /// Silence on a connected call that means the customer has gone.
    #[serde(with = "humantime_serde")]
    pub gone_after: Duration,
    /// Relative weights of disposition codes; codes missing from the campaign's catalogue are
    /// skipped, catalogue codes missing here weigh 1.
    pub dispositions: BTreeMap<String, f64>,
}

impl Default for AgentsConfig {
    fn default() -> Self {
        AgentsConfig {
            answer_after: Span::secs(0.2, 0.8),
            talk: Span::secs(10.0, 25.0),
            wrap: Span::secs(2.0, 5.0),
            preview_look: Span::secs(1.0, 3.0),
            gone_after: Duration::from_millis(2500),
            dispositions: BTreeMap::new(),
        }
    }
}

/// Everything simulated, with one seed.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SimConfig {
    pub seed: u64,
    pub carrier: CarrierConfig,
    pub agents: AgentsConfig,
}

impl SimConfig {
    /// Parse from TOML (every key optional) and check it.
    pub fn from_toml(text: &str) -> Result<SimConfig, SimError> {
        let c: SimConfig = toml::from_str(text).map_err(|e| SimError::Config(e.to_string()))?;
        c.check()?;
        Ok(c)
    }

    /// Ranges ordered, weights usable.
    pub fn check(&self) -> Result<(), SimError> {
        let c = &self.carrier;
        c.mix.check()?;
        for (n, s) in [
            ("carrier.ring_person", c.ring_person),
            ("carrier.ring_machine", c.ring_machine),
            ("carrier.reject_after", c.reject_after),
            ("carrier.greet_delay", c.greet_delay),
            ("carrier.patience", c.patience),
            ("carrier.talk", c.talk),
            ("agents.answer_after", self.agents.answer_after),
            ("agents.talk", self.agents.talk),
            ("agents.wrap", self.agents.wrap),
            ("agents.preview_look", self.agents.preview_look),
        ] {
            s.check(n)?;
        }
        if let Some((k, _)) = self
            .agents
            .dispositions
            .iter()
            .find(|(_, w)| !w.is_finite() || **w < 0.0)
        {
            return Err(SimError::Config(format!(
                "agents.dispositions.{k}: weights must be finite and not negative"
            )));
        }
        Ok(())
    }
}

/// The sounds the simulated people and machines make (8 kHz mono).
#[derive(Clone)]
pub struct Sounds {
    pub hello: Pcm,
    pub hello_again: Pcm,
    pub person_talk: Pcm,
    pub greeting: Pcm,
    pub beep: Pcm,
    pub agent_talk: Pcm,
}

impl Sounds {
    /// The built-in sounds (espeak-ng voices shipped in `campaigns/audio/sim/`, compiled in)
    /// and a 1 kHz, 400 ms beep.
    pub fn builtin() -> Result<Sounds, SimError> {
        fn load(name: &'static str, bytes: &[u8]) -> Result<Pcm, SimError> {
            wav::decode_8k_mono(bytes)
                .map(Arc::from)
                .map_err(|source| SimError::Sound { name, source })
        }
        Ok(Sounds {
            hello: load(
                "hello.wav",
                include_bytes!("../../campaigns/audio/sim/hello.wav"),
            )?,
            hello_again: load(
                "hello_again.wav",
                include_bytes!("../../campaigns/audio/sim/hello_again.wav"),
            )?,
            person_talk: load(
                "person_talk.wav",
                include_bytes!("../../campaigns/audio/sim/person_talk.wav"),
            )?,
            greeting: load(
                "voicemail_greeting.wav",
                include_bytes!("../../campaigns/audio/sim/voicemail_greeting.wav"),
            )?,
            beep: tone(1000.0, Duration::from_millis(400), 12_000.0),
            agent_talk: load(
                "agent_talk.wav",
                include_bytes!("../../campaigns/audio/sim/agent_talk.wav"),
            )?,
        })
    }

    pub fn clip(&self, c: Clip) -> Pcm {
        match c {
            Clip::Hello => self.hello.clone(),
            Clip::HelloAgain => self.hello_again.clone(),
            Clip::Talk => self.person_talk.clone(),
            Clip::Greeting => self.greeting.clone(),
            Clip::Beep => self.beep.clone(),
            Clip::AgentTalk => self.agent_talk.clone(),
        }
    }
}

/// A sine tone, a whole number of 20 ms frames long.
pub fn tone(hz: f64, len: Duration, amplitude: f64) -> Pcm {
    let frames = (len.as_millis() as usize).div_ceil(20);
    let n = frames * FRAME_SAMPLES;
    (0..n)
        .map(|i| {
            let t = i as f64 / wav::RATE as f64;
            (amplitude * (2.0 * std::f64::consts::PI * hz * t).sin()) as i16
        })
        .collect::<Vec<_>>()
        .into()
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;

    #[test]
    fn defaults_check_and_parse() {
        let c = SimConfig::from_toml("").unwrap();
        assert_eq!(c, SimConfig::default());
        let c = SimConfig::from_toml(
            "seed = 9\n[carrier.mix]\nperson = 1.0\nmachine = 0\n[carrier]\n\
             ring_person = { min = \"2s\", max = \"3s\" }\n[agents.dispositions]\nsale = 3\n",
        )
        .unwrap();
        assert_eq!(c.seed, 9);
        assert_eq!(c.carrier.mix.busy, 0.10);
        assert_eq!(c.carrier.ring_person, Span::secs(2.0, 3.0));
        assert_eq!(c.agents.dispositions.get("sale"), Some(&3.0));
    }

    #[test]
    fn bad_configs_name_the_key() {
        let e = SimConfig::from_toml("[carrier.mix]\nbusy = -1\n").unwrap_err();
        assert!(e.to_string().contains("carrier.mix.busy"), "{e}");
        let e = SimConfig::from_toml(
            "[carrier.mix]\nperson = 0\nmachine = 0\nbusy = 0\nno_answer = 0\ninvalid = 0\ncongestion = 0\n",
        )
        .unwrap_err();
        assert!(e.to_string().contains("positive"), "{e}");
        let e =
            SimConfig::from_toml("[agents]\ntalk = { min = \"9s\", max = \"1s\" }\n").unwrap_err();
        assert!(e.to_string().contains("agents.talk"), "{e}");
        let e = SimConfig::from_toml("[carrier]\nringing = 3\n").unwrap_err();
        assert!(e.to_string().contains("ringing"), "{e}");
    }

    #[test]
    fn mix_draws_follow_the_weights() {
        let mix = OutcomeMix::default();
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(1);
        let n = 20_000;
        let mut counts = BTreeMap::new();
        for _ in 0..n {
            *counts.entry(mix.draw(&mut rng).key()).or_insert(0u32) += 1;
        }
        for (k, p) in mix.probabilities() {
            let got = f64::from(counts.get(k.key()).copied().unwrap_or(0)) / f64::from(n);
            assert!((got - p).abs() < 0.015, "{}: {got} vs {p}", k.key());
        }
    }

    #[test]
    fn spans_stay_in_range() {
        let s = Span::secs(1.0, 2.5);
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(3);
        let draws: Vec<_> = (0..1000).map(|_| s.draw(&mut rng)).collect();
        assert!(draws.iter().all(|d| *d >= s.min && *d <= s.max));
        assert!(draws.iter().any(|d| *d < Duration::from_millis(1100)));
        assert!(draws.iter().any(|d| *d > Duration::from_millis(2400)));
    }

    #[test]
    fn builtin_sounds_decode() {
        let s = Sounds::builtin().unwrap();
        for (name, pcm, min_s) in [
            ("hello", &s.hello, 0.5),
            ("greeting", &s.greeting, 2.0),
            ("person_talk", &s.person_talk, 3.0),
            ("agent_talk", &s.agent_talk, 3.0),
        ] {
            let secs = pcm.len() as f64 / 8000.0;
            assert!(secs > min_s && secs < 12.0, "{name}: {secs} s");
            let loud = pcm.iter().filter(|x| x.unsigned_abs() > 1000).count();
            assert!(loud > pcm.len() / 10, "{name} is mostly silent");
        }
        assert_eq!(s.beep.len(), 20 * FRAME_SAMPLES);
    }
}
