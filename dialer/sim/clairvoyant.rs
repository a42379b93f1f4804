//! The clairvoyant pacer: how far the predictive rule could go if it knew what the simulator
//! has already drawn.
//!
//! It keeps predictive's rule (each further dial's risk of an abandon under the threshold),
//! its threshold and its abandon budget, and replaces what the pacer estimates by what the
//! simulator knows: each call in flight's fate and the moment its person is decided, each
//! agent's end of talk and wrap-up, and (for the dials not placed yet) the carrier's true hit
//! rate and ring times. The only uncertainty left is the fate of the dials it has not placed.
//! With shedding on it hangs up exactly the ringing calls (past `shed_after`) whose people
//! would be abandoned, or would push another person into an abandon, and it counts no person
//! a late call may bring (one that rings past `shed_after` can always be shed in time).
//!
//! Its figures bound what better estimates (of the carrier, of the agents' ends) could give
//! the predictive rule on a scenario, under the same budget; they are no product setting.

use super::{ABANDON_AFTER, AgentState, CallState, Clairvoyance, Fate, Sim};
use crate::pacing::predictive::{GRID, GRID_STEP_S, Outlook, person_by};
use crate::pacing::{CallView, Decision, Pacer, Predictive, Snapshot};

/// A person the pacer knows of: when they are (or were) decided, and whether the call may be
/// hung up now or only later.
#[derive(Debug, Clone, Copy)]
struct Person {
    /// Index into the snapshot's calls (the simulator's `in_flight`).
    call: usize,
    decided_at: u64,
    shed_now: bool,
    shed_later: bool,
}

/// Who is abandoned when agents free at `free` (sorted) take the people (sorted by
/// `decided_at`, those `gone` left out) in order: a person with no agent free within
/// [`ABANDON_AFTER`] of the decision is abandoned and leaves that agent to the next one.
fn abandoned(people: &[Person], gone: &[bool], free: &[u64], out: &mut Vec<bool>) -> usize {
    let patience = ABANDON_AFTER.as_micros() as u64;
    out.clear();
    let (mut j, mut n) = (0, 0);
    for (p, g) in people.iter().zip(gone) {
        if *g {
            out.push(false);
            continue;
        }
        if j < free.len() && free[j] <= p.decided_at + patience {
            j += 1;
            out.push(false);
        } else {
            n += 1;
            out.push(true);
        }
    }
    n
}

/// A step: 0 before `at` seconds from now, 1 from it on, per moment of the grid.
fn step(at: f64) -> [f64; GRID] {
    std::array::from_fn(|k| f64::from(u8::from(at <= k as f64 * GRID_STEP_S)))
}

impl Sim {
    /// A clairvoyant pacer's decision for this tick (see the module docs).
    pub(super) fn clairvoyant_decide(&self, level: Clairvoyance, snap: &Snapshot<'_>) -> Decision {
        let Pacer::Predictive(p) = &self.pacer else {
            return Decision {
                dials: 0,
                reason: crate::pacing::Reason::NoAgent,
                capped_by: None,
                shed: Vec::new(),
            };
        };
        let now = self.now;
        let secs = |t: u64| t.saturating_sub(now) as f64 / 1e6;
        let grace = p.cfg.grace.as_secs_f64();
        let mut free: Vec<u64> = self
            .agents
            .iter()
            .map(|a| match a.state {
                AgentState::Ready => now,
                AgentState::Talking | AgentState::Wrapping => a.free_at,
            })
            .collect();
        free.sort_unstable();
        let agents: Vec<[f64; GRID]> = free
            .iter()
            .map(|&t| step((secs(t) - grace).max(0.0)))
            .collect();
        let (shed, people) = match level {
            Clairvoyance::Full => self.known_people(p, &free),
            Clairvoyance::Agents => self.estimated_people(p, snap, &agents),
        };
        let c = &self.sc.calls;
        let hit = self.true_hit();
        // With every fate known, a person ringing past `shed_after` can always be shed in
        // time: not counted.
        let latest = match (level, p.shed_after()) {
            (Clairvoyance::Full, Some(a)) => a.as_secs_f64().min(c.no_answer_s),
            _ => c.no_answer_s,
        };
        let new_by: [f64; GRID] = std::array::from_fn(|k| {
            let r = (k as f64 * GRID_STEP_S - c.amd_human_s).min(latest);
            // The simulator turns an answer at or past the ring timeout into a no-answer.
            hit * c.ring_s.cdf(r.min(c.no_answer_s - 1e-6))
        });
        let outlook = Outlook::known(people, agents, new_by, hit * c.ring_s.cdf(c.no_answer_s));
        let (wish, reason) = p.decide_with(snap, &outlook);
        let max = snap.limits.channels_free.min(snap.limits.dial_tokens);
        Decision {
            dials: wish.min(max),
            reason,
            capped_by: None,
            shed,
        }
    }

    /// The carrier's share of dials answered by a person now.
    fn true_hit(&self) -> f64 {
        let c = &self.sc.calls;
        match (c.change_at_s, c.human_rate_after) {
            (Some(at), Some(after)) if self.now as f64 >= at * 1e6 => after,
            _ => c.human_rate,
        }
    }

    /// Calls in flight as the (true) estimates see them; the late ringing ones shed by
    /// predictive's own rule, against the agents' exact ends.
    fn estimated_people(
        &self,
        p: &Predictive,
        snap: &Snapshot<'_>,
        agents: &[[f64; GRID]],
    ) -> (Vec<usize>, Vec<[f64; GRID]>) {
        let e = snap.estimates;
        let mut people: Vec<[f64; GRID]> = snap.calls.iter().map(|c| person_by(e, c)).collect();
        let mut shed = Vec::new();
        if let Some(after) = p.shed_after() {
            let zero = [0.0; GRID];
            let outlook = Outlook::known(people.iter().copied(), agents.iter().copied(), zero, 0.0);
            let progressive = snap.progressive_dials();
            let limit = p.threshold(snap.budget) * p.cfg.shed_factor;
            for (i, c) in snap.calls.iter().enumerate() {
                if matches!(c, CallView::Ringing { elapsed } if *elapsed >= after)
                    && people[i][GRID - 1] > 0.0
                    && outlook.call_risk(&people[i], progressive) > limit
                {
                    shed.push(i);
                }
            }
            for &i in shed.iter().rev() {
                people.swap_remove(i);
            }
        }
        (shed, people)
    }

    /// The people of the calls in flight, each decided at a known moment, and the ringing
    /// calls to shed: one at a time, a call whose going lowers the abandons ahead (the
    /// abandoned person's own, or the latest one before them). Left out of the people: those
    /// shed, and those who would be abandoned but can still be shed later.
    fn known_people(&self, p: &Predictive, free: &[u64]) -> (Vec<usize>, Vec<[f64; GRID]>) {
        let now = self.now;
        let amd = (self.sc.calls.amd_human_s * 1e6).round() as u64;
        let shed_after = p.shed_after().map(|d| d.as_micros() as u64);
        let mut people: Vec<Person> = Vec::new();
        for (i, &id) in self.in_flight.iter().enumerate() {
            let call = &self.calls[id];
            if call.fate != Fate::Human {
                continue;
            }
            let (decided_at, ringing) = match call.state {
                CallState::Waiting | CallState::Done => (call.since, false),
                CallState::Screening => (call.since + amd, false),
                CallState::Ringing => (call.answer_at.saturating_add(amd), true),
            };
            let (shed_now, shed_later) = match shed_after {
                Some(after) if ringing => (
                    now >= call.dialed + after,
                    call.answer_at > call.dialed + after,
                ),
                _ => (false, false),
            };
            people.push(Person {
                call: i,
                decided_at,
                shed_now,
                shed_later,
            });
        }
        people.sort_by_key(|p| (p.decided_at, p.call));
        let mut gone = vec![false; people.len()];
        let mut ab = Vec::new();
        let mut trial = Vec::new();
        let mut count = abandoned(&people, &gone, free, &mut ab);
        let mut x = 0;
        while count > 0 && x < people.len() {
            if !ab[x] {
                x += 1;
                continue;
            }
            let mut shed_one = false;
            for cand in (0..=x).rev() {
                if gone[cand] || !people[cand].shed_now {
                    continue;
                }
                gone[cand] = true;
                let n = abandoned(&people, &gone, free, &mut trial);
                if n < count {
                    count = n;
                    std::mem::swap(&mut ab, &mut trial);
                    shed_one = true;
                    break;
                }
                gone[cand] = false;
            }
            if !shed_one {
                x += 1;
            }
        }
        let shed = people
            .iter()
            .zip(&gone)
            .filter_map(|(p, g)| g.then_some(p.call))
            .collect();
        let secs = |t: u64| t.saturating_sub(now) as f64 / 1e6;
        let stay = people
            .iter()
            .zip(gone.iter().zip(&ab))
            .filter(|(p, (g, a))| !(**g || (**a && p.shed_later)))
            .map(|(p, _)| step(secs(p.decided_at)))
            .collect();
        (shed, stay)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn person(s: f64) -> Person {
        Person {
            call: 0,
            decided_at: (s * 1e6) as u64,
            shed_now: false,
            shed_later: false,
        }
    }

    #[test]
    fn people_take_agents_in_order_and_wait_at_most_2_s() {
        let secs = |v: &[f64]| v.iter().map(|s| (s * 1e6) as u64).collect::<Vec<u64>>();
        // Agents free at 0, 5 and 9 s; people decided at 1, 2, 4 and 8 s.
        let people: Vec<Person> = [1.0, 2.0, 4.0, 8.0].into_iter().map(person).collect();
        let free = secs(&[0.0, 5.0, 9.0]);
        let mut out = Vec::new();
        // 1 s: the agent free at 0. 2 s: waits for 5 s, too long, abandoned. 4 s: the agent
        // free at 5 (1 s of waiting). 8 s: the one free at 9.
        let n = abandoned(&people, &[false; 4], &free, &mut out);
        assert_eq!((n, out.clone()), (1, vec![false, true, false, false]));
        // Without the person at 1 s, the one at 2 s takes the agent free at 0, and the one at
        // 4 s the one free at 5: nobody is abandoned.
        let n = abandoned(&people, &[true, false, false, false], &free, &mut out);
        assert_eq!((n, out), (0, vec![false, false, false, false]));
    }

    #[test]
    fn a_step_counts_from_its_moment_on() {
        let s = step(3.0);
        assert_eq!(&s[..3], &[0.0, 0.0, 1.0]);
        assert_eq!(s[GRID - 1], 1.0);
        assert_eq!(step(0.0)[0], 1.0);
    }
}
