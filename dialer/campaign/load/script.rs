//! What agents and callees are given: `[[dispositions]]`, the `[survey]` and its prompts.

use std::collections::{BTreeMap, BTreeSet};

use super::CampaignReader;
use super::values::{LABEL_MAX, NAME_MAX, PROMPT_TEXT_MAX, choice, is_snake, too_long};
use crate::campaign::reader::{Ctx, Table};
use crate::campaign::*;
use crate::domain::Outcome;

impl CampaignReader<'_> {
    pub(super) fn dispositions(
        &self,
        ctx: &mut Ctx,
        root: &Table<'_>,
        mode: Option<Mode>,
    ) -> Option<Vec<Disposition>> {
        let tables = match root.get("dispositions") {
            None => Vec::new(),
            Some(_) => root.tables(ctx, "dispositions")?,
        };
        if tables.is_empty() && mode.is_some_and(|m| m != Mode::Agentless) {
            ctx.problem(
                "dispositions",
                "at least one [[dispositions]] entry is needed when agents take the calls",
            );
            return None;
        }
        let mut out = Vec::new();
        let mut ok = true;
        let mut codes = BTreeSet::new();
        for t in tables {
            let code = t.req_string(ctx, "code").and_then(|c| {
                let key = t.key("code");
                if too_long(ctx, key.clone(), &c, NAME_MAX) {
                    None
                } else if !is_snake(&c) {
                    ctx.problem(key, format!("{c:?} is not a snake_case code"));
                    None
                } else if c.parse::<Outcome>().is_ok() {
                    ctx.problem(key, format!("{c:?} is a system outcome code; pick another"));
                    None
                } else if !codes.insert(c.clone()) {
                    ctx.problem(key, format!("{c:?} is defined twice"));
                    None
                } else {
                    Some(c)
                }
            });
            let label = t
                .string(ctx, "label")
                .filter(|l| !too_long(ctx, t.key("label"), l, LABEL_MAX));
            let effect_kind = t.get("effect").and_then(|i| {
                choice(
                    ctx,
                    &i,
                    &[
                        ("final", 0u8),
                        ("retry_after", 1),
                        ("dnc", 2),
                        ("callback", 3),
                    ],
                )
            });
            if t.get("effect").is_none() {
                ctx.problem(
                    t.key("effect"),
                    "missing (required): final, retry_after, dnc or callback",
                );
            }
            let after = t.duration(ctx, "retry_after");
            let effect = match (effect_kind, after) {
                (Some(1), Some((d, _))) => Some(DispositionEffect::RetryAfter(d)),
                (Some(1), None) => {
                    if t.get("retry_after").is_none() {
                        ctx.problem(
                            t.key("retry_after"),
                            "missing (required when effect = \"retry_after\")",
                        );
                    }
                    None
                }
                (Some(_), Some(_)) => {
                    ctx.problem(
                        t.key("retry_after"),
                        "only used with effect = \"retry_after\"",
                    );
                    None
                }
                (Some(0), None) => Some(DispositionEffect::Final),
                (Some(2), None) => Some(DispositionEffect::Dnc),
                (Some(_), None) => Some(DispositionEffect::Callback),
                (None, _) => None,
            };
            let success = t.bool(ctx, "success");
            let conversation = t.bool(ctx, "conversation");
            let bools_ok = (t.get("success").is_none() || success.is_some())
                && (t.get("conversation").is_none() || conversation.is_some());
            match (code, effect, bools_ok) {
                (Some(code), Some(effect), true) => out.push(Disposition {
                    label: label.unwrap_or_else(|| code.clone()),
                    code,
                    effect,
                    success: success.unwrap_or(false),
                    conversation: conversation.unwrap_or(true),
                }),
                _ => ok = false,
            }
            t.finish(ctx);
        }
        ok.then_some(out)
    }

    /// `[survey]`; an agentless survey plays its prompts, so they must be recorded (WAV).
    pub(super) fn survey(
        &self,
        ctx: &mut Ctx,
        root: &Table<'_>,
        agentless: bool,
    ) -> Option<Option<Survey>> {
        if root.get("survey").is_none() {
            return Some(None);
        }
        let t = root.table(ctx, "survey");
        let prompt = |ctx: &mut Ctx, key: String, p: String| {
            let out = self.prompt(ctx, &key, p);
            if agentless && matches!(out, Some(Prompt::Text(_))) {
                ctx.problem(
                    key,
                    "an agentless survey plays its prompts: give a recorded .wav file (text is for agents to read)",
                );
            }
            out
        };
        let intro = t
            .string(ctx, "intro")
            .map(|p| prompt(ctx, t.key("intro"), p));
        let outro = t
            .string(ctx, "outro")
            .map(|p| prompt(ctx, t.key("outro"), p));
        let tables = t.tables(ctx, "questions");
        if t.is_present() && t.get("questions").is_none() {
            ctx.problem(
                t.key("questions"),
                "missing (required): at least one question",
            );
        }
        let mut ok = tables.is_some();
        let mut questions = Vec::new();
        let mut ids = BTreeSet::new();
        for q in tables.unwrap_or_default() {
            let id = q.req_string(ctx, "id").and_then(|id| {
                if too_long(ctx, q.key("id"), &id, NAME_MAX) {
                    None
                } else if !is_snake(&id) {
                    ctx.problem(q.key("id"), format!("{id:?} is not a snake_case id"));
                    None
                } else if !ids.insert(id.clone()) {
                    ctx.problem(q.key("id"), format!("{id:?} is used twice"));
                    None
                } else {
                    Some(id)
                }
            });
            let prompt = q
                .req_string(ctx, "prompt")
                .and_then(|p| prompt(ctx, q.key("prompt"), p));
            let at = q.table(ctx, "answers");
            if q.get("answers").is_none() {
                ctx.problem(
                    q.key("answers"),
                    "missing (required): digit = \"value\" pairs",
                );
            }
            let mut answers = BTreeMap::new();
            let mut answers_ok = true;
            for (k, item) in at.entries() {
                let mut cs = k.chars();
                let digit = match (cs.next(), cs.next()) {
                    (Some(c), None) if c.is_ascii_digit() || c == '*' || c == '#' => Some(c),
                    _ => None,
                };
                let value = item.string(ctx);
                match (digit, value) {
                    (Some(d), Some(v)) => {
                        answers.insert(d, v);
                    }
                    (None, _) => {
                        answers_ok = false;
                        ctx.problem(&item.key, format!("{k:?} is not a DTMF key (0-9, *, #)"));
                    }
                    _ => answers_ok = false,
                }
            }
            if answers.is_empty() && q.get("answers").is_some() && answers_ok {
                ctx.problem(q.key("answers"), "at least one answer is needed");
                answers_ok = false;
            }
            q.finish(ctx);
            match (id, prompt, answers_ok) {
                (Some(id), Some(prompt), true) => questions.push(Question {
                    id,
                    prompt,
                    answers,
                }),
                _ => ok = false,
            }
        }
        if ok && questions.is_empty() {
            ctx.problem(t.key("questions"), "at least one question is needed");
            ok = false;
        }
        t.finish(ctx);
        let intro = match intro {
            None => None,
            Some(p) => Some(p?),
        };
        let outro = match outro {
            None => None,
            Some(p) => Some(p?),
        };
        ok.then_some(Some(Survey {
            intro,
            questions,
            outro,
        }))
    }

    /// `[script]`: `text` for the agent to read and `[[script.questions]]` (`id`, `text`,
    /// `answers = [{key, label}]`) for them to ask.
    pub(super) fn script(&self, ctx: &mut Ctx, root: &Table<'_>) -> Option<Script> {
        if root.get("script").is_none() {
            return Some(Script::default());
        }
        let t = root.table(ctx, "script");
        let mut ok = true;
        let text = t.string(ctx, "text").and_then(|s| {
            let key = t.key("text");
            if s.trim().is_empty() {
                ctx.problem(key, "empty text (leave the key out instead)");
                None
            } else if too_long(ctx, key, &s, PROMPT_TEXT_MAX) {
                None
            } else {
                Some(s)
            }
        });
        ok &= t.get("text").is_none() || text.is_some();
        let tables = match t.get("questions") {
            None => Some(Vec::new()),
            Some(_) => t.tables(ctx, "questions"),
        };
        ok &= tables.is_some();
        let mut questions = Vec::new();
        let mut ids = BTreeSet::new();
        for q in tables.unwrap_or_default() {
            let id = unique_snake(ctx, &q, "id", &mut ids);
            let text = filled(ctx, &q, "text", "empty question", PROMPT_TEXT_MAX);
            let answers = match q.get("answers") {
                None => {
                    ctx.problem(
                        q.key("answers"),
                        "missing (required): [{key = \"yes\", label = \"Yes\"}, …]",
                    );
                    None
                }
                Some(_) => q.tables(ctx, "answers"),
            };
            let mut list = Vec::new();
            let mut keys = BTreeSet::new();
            let mut answers_ok = answers.is_some();
            for a in answers.unwrap_or_default() {
                let key = unique_snake(ctx, &a, "key", &mut keys);
                let label = filled(ctx, &a, "label", "empty label", LABEL_MAX);
                a.finish(ctx);
                match (key, label) {
                    (Some(key), Some(label)) => list.push(ScriptAnswer { key, label }),
                    _ => answers_ok = false,
                }
            }
            if answers_ok && list.is_empty() {
                ctx.problem(q.key("answers"), "at least one answer is needed");
                answers_ok = false;
            }
            q.finish(ctx);
            match (id, text, answers_ok) {
                (Some(id), Some(text), true) => questions.push(ScriptQuestion {
                    id,
                    text,
                    answers: list,
                }),
                _ => ok = false,
            }
        }
        t.finish(ctx);
        ok.then_some(Script { text, questions })
    }

    /// A prompt: a WAV file when the value ends in `.wav`, else text.
    pub(super) fn prompt(&self, ctx: &mut Ctx, key: &str, p: String) -> Option<Prompt> {
        if p.to_ascii_lowercase().ends_with(".wav") {
            self.wav(ctx, key, &p).map(Prompt::Wav)
        } else if p.trim().is_empty() {
            ctx.problem(key, "empty prompt");
            None
        } else if too_long(ctx, key, &p, PROMPT_TEXT_MAX) {
            None
        } else {
            Some(Prompt::Text(p))
        }
    }
}

/// Key `k` of `t`: a snake_case name of at most `NAME_MAX` characters not in `seen` (then added).
fn unique_snake(
    ctx: &mut Ctx,
    t: &Table<'_>,
    k: &'static str,
    seen: &mut BTreeSet<String>,
) -> Option<String> {
    let v = t.req_string(ctx, k)?;
    if too_long(ctx, t.key(k), &v, NAME_MAX) {
        None
    } else if !is_snake(&v) {
        ctx.problem(t.key(k), format!("{v:?} is not a snake_case {k}"));
        None
    } else if !seen.insert(v.clone()) {
        ctx.problem(t.key(k), format!("{v:?} is used twice"));
        None
    } else {
        Some(v)
    }
}

/// Key `k` of `t`: text that is not blank (`empty` otherwise) and at most `max` characters.
fn filled(
    ctx: &mut Ctx,
    t: &Table<'_>,
    k: &'static str,
    empty: &str,
    max: usize,
) -> Option<String> {
    let v = t.req_string(ctx, k)?;
    if v.trim().is_empty() {
        ctx.problem(t.key(k), empty);
        None
    } else if too_long(ctx, t.key(k), &v, max) {
        None
    } else {
        Some(v)
    }
}
