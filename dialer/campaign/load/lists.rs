//! `[[lists]]` and `[dnc]`: the files a campaign dials from and must not dial, and the list
//! headers checked against the column mapping.

use std::collections::BTreeSet;
use std::path::Path;

use super::CampaignReader;
use super::values::{NAME_MAX, choice, region, too_long};
use crate::campaign::reader::{Ctx, Table};
use crate::campaign::*;
use crate::listfile::rows::Encoding;

impl CampaignReader<'_> {
    pub(super) fn lists(
        &self,
        ctx: &mut Ctx,
        root: &Table<'_>,
        regime: Regime,
    ) -> Option<Vec<ListSpec>> {
        let Some(tables) = root.tables(ctx, "lists") else {
            if root.get("lists").is_none() {
                ctx.problem("lists", "missing (required): at least one [[lists]] entry");
            }
            return None;
        };
        if tables.is_empty() {
            ctx.problem("lists", "at least one [[lists]] entry is needed");
            return None;
        }
        let mut out = Vec::new();
        let mut ok = true;
        let mut names = BTreeSet::new();
        for t in tables {
            let file_s = t.req_string(ctx, "file");
            let file = file_s
                .as_deref()
                .and_then(|s| self.file(ctx, &t.key("file"), s));
            let name = t.string(ctx, "name").or_else(|| {
                file_s.as_deref().map(|s| {
                    Path::new(s)
                        .file_stem()
                        .map(|x| x.to_string_lossy().into_owned())
                        .unwrap_or_default()
                })
            });
            if let Some(n) = &name
                && too_long(ctx, t.key("name"), n, NAME_MAX)
            {
                ok = false;
            } else if let Some(n) = &name
                && !names.insert(n.clone())
            {
                ctx.problem(t.key("name"), format!("list name {n:?} is used twice"));
                ok = false;
            }
            let priority = t.int(ctx, "priority", -1000, 1000).map(|p| p as i32);
            let priority_ok = t.get("priority").is_none() || priority.is_some();
            let region = match t.string(ctx, "default_region") {
                Some(r) => region(ctx, &t.key("default_region"), &r),
                None => Some(match regime {
                    Regime::Us => "US".to_string(),
                    Regime::Uk => "GB".to_string(),
                }),
            };
            let encoding = match t.get("encoding") {
                None => Some(Encoding::Utf8),
                Some(item) => choice(
                    ctx,
                    &item,
                    &[("utf8", Encoding::Utf8), ("latin1", Encoding::Latin1)],
                ),
            };
            let cols = t.table(ctx, "columns");
            let phone = cols.string(ctx, "phone").unwrap_or_else(|| "phone".into());
            let timezone = cols.string(ctx, "timezone");
            let account = cols.string(ctx, "account");
            let postal_code = cols.string(ctx, "postal_code");
            cols.finish(ctx);
            // With an unknown encoding (reported) the header cannot be read.
            if let (Some(f), Some(encoding)) = (&file, encoding) {
                let mapped = [
                    ("phone", Some(&phone)),
                    ("timezone", timezone.as_ref()),
                    ("account", account.as_ref()),
                    ("postal_code", postal_code.as_ref()),
                ];
                if !header_has(ctx, self.files, &cols, f, encoding, &mapped) {
                    ok = false;
                }
            }
            match (name, file, region, priority_ok, encoding) {
                (Some(name), Some(file), Some(default_region), true, Some(encoding)) => {
                    out.push(ListSpec {
                        name,
                        file,
                        priority: priority.unwrap_or(0),
                        columns: ColumnMap {
                            phone,
                            timezone,
                            account,
                            postal_code,
                        },
                        default_region,
                        encoding,
                    })
                }
                _ => ok = false,
            }
            t.finish(ctx);
        }
        ok.then_some(out)
    }

    pub(super) fn dnc(&self, ctx: &mut Ctx, root: &Table<'_>) -> Option<DncPolicy> {
        let t = root.table(ctx, "dnc");
        let files = t.strings(ctx, "files").map(|fs| {
            let key = t.key("files");
            fs.iter()
                .enumerate()
                .map(|(i, f)| self.file(ctx, &format!("{key}[{i}]"), f))
                .collect::<Option<Vec<_>>>()
        });
        let use_global = t.req_bool(ctx, "use_global");
        let registry = match t.get("registry") {
            None => Some(None),
            Some(item) => item.string(ctx).and_then(|s| match s.parse() {
                Ok(r) => Some(Some(r)),
                Err(e) => {
                    ctx.problem(&item.key, e);
                    None
                }
            }),
        };
        let key = t.req_string(ctx, "opt_out_key").and_then(|k| {
            let mut cs = k.chars();
            match (cs.next(), cs.next()) {
                (Some(c), None) if c.is_ascii_digit() || c == '*' || c == '#' => Some(c),
                _ if matches!(
                    k.trim().to_ascii_lowercase().as_str(),
                    "" | "off" | "none" | "no" | "false" | "disabled"
                ) =>
                {
                    ctx.problem(
                        t.key("opt_out_key"),
                        format!(
                            "{k:?}: the opt-out key cannot be turned off: every campaign plays \
                             prerecorded messages (the safe-harbor message; voicemail drops and \
                             agentless messages where used), and each must offer an automated \
                             key-press opt-out (47 CFR 64.1200(b)(3), (a)(7)(i)(A)); the shipped \
                             prompts say \"press 9\": keep \"9\" or record prompts that name \
                             your key"
                        ),
                    );
                    None
                }
                _ => {
                    ctx.problem(
                        t.key("opt_out_key"),
                        format!("{k:?}: one key of 0-9, * or #"),
                    );
                    None
                }
            }
        });
        let scope = t
            .req_string(ctx, "opt_out_scope")
            .and_then(|s| match s.as_str() {
                "campaign" => Some(OptOutScope::Campaign),
                "global" => Some(OptOutScope::Global),
                _ => {
                    ctx.problem(
                        t.key("opt_out_scope"),
                        format!("{s:?}: \"campaign\" or \"global\""),
                    );
                    None
                }
            });
        let wait = t.req_duration(ctx, "opt_out_wait").and_then(|(d, s)| {
            if d > Duration::from_secs(10) {
                ctx.problem(t.key("opt_out_wait"), format!("{s}: at most 10s"));
                None
            } else {
                Some(d)
            }
        });
        let confirm = match t.string(ctx, "opt_out_confirm") {
            None => Some(None),
            Some(p) => self.prompt(ctx, &t.key("opt_out_confirm"), p).map(Some),
        };
        t.finish(ctx);
        Some(DncPolicy {
            files: files.flatten()?,
            use_global: use_global?,
            registry: registry?,
            opt_out: OptOutPolicy {
                key: key?,
                scope: scope?,
                wait: wait?,
                confirm: confirm?,
            },
        })
    }

    /// `[compliance]`: `[[compliance.rules]]`, the campaign's own state rules (the shipped
    /// file's keys; `source` optional).
    pub(super) fn compliance(
        &self,
        ctx: &mut Ctx,
        root: &Table<'_>,
    ) -> Option<crate::campaign::Compliance> {
        let t = root.table(ctx, "compliance");
        let mut rules = Vec::new();
        let mut ok = true;
        for r in t.tables(ctx, "rules").unwrap_or_default() {
            let raw = crate::compliance::states::RawRule {
                region: r.req_string(ctx, "region").unwrap_or_default(),
                hours: r.string(ctx, "hours"),
                saturday: r.string(ctx, "saturday"),
                sunday: r.string(ctx, "sunday"),
                holidays: r.string(ctx, "holidays"),
                extra_holidays: r.strings(ctx, "extra_holidays").unwrap_or_default(),
                cap_24h: r
                    .get("cap_24h")
                    .and_then(|i| i.int(ctx, 1, 100))
                    .and_then(|v| u32::try_from(v).ok()),
                source: r.string(ctx, "source"),
                note: r.string(ctx, "note"),
            };
            r.finish(ctx);
            match raw.check() {
                Ok(rule) => rules.push(rule),
                Err(e) => {
                    let (k, msg) = e.split_once(": ").unwrap_or(("region", e.as_str()));
                    ctx.problem(r.key(k), msg);
                    ok = false;
                }
            }
        }
        t.finish(ctx);
        ok.then_some(crate::campaign::Compliance { rules })
    }
}

/// Whether the CSV header of `file` has every mapped column; reports the missing ones.
fn header_has(
    ctx: &mut Ctx,
    files: &dyn super::Files,
    cols: &Table<'_>,
    file: &Path,
    encoding: Encoding,
    mapped: &[(&str, Option<&String>)],
) -> bool {
    // Read as `dialer import` reads it (UTF-8 byte-order mark skipped, other encodings named).
    let headers = files.header(file, encoding);
    let headers = match headers {
        Ok(h) => h,
        Err(e) => {
            ctx.problem(
                cols.key("phone"),
                format!("cannot read the list's header: {e}"),
            );
            return false;
        }
    };
    let mut ok = true;
    for (key, col) in mapped {
        if let Some(col) = col
            && !headers.iter().any(|h| h == *col)
        {
            ctx.problem(
                cols.key(key),
                format!(
                    "column {} is not in the header of {} (columns: {})",
                    crate::listfile::cut(col),
                    file.display(),
                    crate::listfile::column_list(&headers)
                ),
            );
            ok = false;
        }
    }
    ok
}
