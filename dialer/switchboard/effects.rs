//! What an outcome, a disposition or a wrap-up cut short does to its lead (status, retry,
//! callback).

use super::*;

/// A lead whose conversation awaits the agent's disposition is not due again before this (the
/// disposition then decides; a wrap-up that ends without one releases it at once, see
/// [`Switchboard::wrap_up_cut`]; a crash leaves it due after this).
pub(super) const DISPOSITION_HOLD: Duration = Duration::from_secs(3600);

/// What a call's outcome does to its lead: an opt-out makes it DNC; retry after the campaign's delay for the outcome
/// while attempts remain; invalid numbers are marked invalid; a conversation with an agent waits
/// for the agent's disposition (the lead stays active, held for [`DISPOSITION_HOLD`], so it is
/// not claimed again while the agent wraps up).
pub(super) fn outcome_effect(c: &Campaign, s: &Summary, attempts: i32) -> LeadEffect {
    // The person pressed the opt-out key: never called again (the number is on the DNC list
    // already, since the key).
    if s.opted_out.is_some() {
        return LeadEffect {
            status: LeadStatus::Dnc,
            retry_after: None,
            callback_after: None,
        };
    }
    if s.outcome == Outcome::InvalidNumber {
        return LeadEffect {
            status: LeadStatus::Invalid,
            retry_after: None,
            callback_after: None,
        };
    }
    if s.agent.is_some() {
        return LeadEffect {
            status: LeadStatus::Active,
            retry_after: Some(DISPOSITION_HOLD),
            callback_after: None,
        };
    }
    let exhausted = attempts >= c.retry.max_attempts as i32;
    match (exhausted, c.retry.delay_for(s.outcome)) {
        (false, Some(delay)) => LeadEffect {
            status: LeadStatus::Active,
            retry_after: Some(delay),
            callback_after: None,
        },
        _ => LeadEffect {
            status: LeadStatus::Done,
            retry_after: None,
            callback_after: None,
        },
    }
}

/// What a wrap-up cut short (no disposition came) does to its lead: due again after the retry
/// delay of the call's outcome, or `retry.delay.interrupted` for an outcome with no delay of
/// its own (a conversation: the agent's wrap-up was interrupted); done once its attempts are
/// spent.
pub(super) fn cut_effect(c: &Campaign, outcome: Outcome, attempts: i32) -> LeadEffect {
    if attempts >= c.retry.max_attempts as i32 {
        return LeadEffect {
            status: LeadStatus::Done,
            retry_after: None,
            callback_after: None,
        };
    }
    LeadEffect {
        status: LeadStatus::Active,
        retry_after: Some(
            c.retry
                .delay_for(outcome)
                .unwrap_or(c.retry.delay.interrupted),
        ),
        callback_after: None,
    }
}

pub(super) fn disposition_effect(
    d: &crate::campaign::Disposition,
    callback_after: Option<Duration>,
) -> LeadEffect {
    use crate::campaign::DispositionEffect as Effect;
    match &d.effect {
        Effect::Final => LeadEffect {
            status: LeadStatus::Done,
            retry_after: None,
            callback_after: None,
        },
        Effect::RetryAfter(delay) => LeadEffect {
            status: LeadStatus::Active,
            retry_after: Some(*delay),
            callback_after: None,
        },
        Effect::Dnc => LeadEffect {
            status: LeadStatus::Dnc,
            retry_after: None,
            callback_after: None,
        },
        Effect::Callback => LeadEffect {
            status: LeadStatus::Active,
            retry_after: None,
            callback_after: Some(callback_after.unwrap_or(Duration::from_secs(3600))),
        },
    }
}
