//! The first CRM schema: campaigns, lists, leads, call attempts, dispositions, DNC numbers,
//! agents and their state intervals, survey answers and audit events.
//!
//! Every timestamp is a BIGINT of unix epoch milliseconds UTC in a column named `*_at_ms`.

use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

fn fk(
    name: &'static str,
    from: (&'static str, &'static str),
    to: (&'static str, &'static str),
) -> ForeignKeyCreateStatement {
    ForeignKey::create()
        .name(name)
        .from(from.0, from.1)
        .to(to.0, to.1)
        .on_delete(ForeignKeyAction::Restrict)
        .take()
}

fn index(name: &'static str, table: &'static str, cols: &[&'static str]) -> IndexCreateStatement {
    let mut i = Index::create().name(name).table(table).take();
    for c in cols {
        i.col(*c);
    }
    i
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.create_table(
            Table::create()
                .table("campaigns")
                .col(big_pk_auto("id"))
                .col(string_uniq("name"))
                .col(string("kind"))
                .col(string("regime"))
                .col(text_null("source"))
                .col(big_integer("created_at_ms"))
                .col(big_integer("updated_at_ms"))
                .take(),
        )
        .await?;

        m.create_table(
            Table::create()
                .table("lists")
                .col(big_pk_auto("id"))
                .col(big_integer("campaign_id"))
                .col(string("name"))
                .col(string("kind"))
                .col(integer("priority").default(0))
                .col(string("default_region"))
                .col(big_integer("created_at_ms"))
                .col(big_integer("updated_at_ms"))
                .foreign_key(&mut fk(
                    "fk_lists_campaign",
                    ("lists", "campaign_id"),
                    ("campaigns", "id"),
                ))
                .take(),
        )
        .await?;
        m.create_index(
            index("ux_lists_campaign_name", "lists", &["campaign_id", "name"])
                .unique()
                .take(),
        )
        .await?;

        m.create_table(
            Table::create()
                .table("leads")
                .col(big_pk_auto("id"))
                .col(big_integer("campaign_id"))
                .col(big_integer("list_id"))
                .col(string("phone"))
                .col(string_null("timezone"))
                .col(text("attributes").default("{}"))
                .col(string("status").default("new"))
                .col(integer("priority").default(0))
                .col(integer("attempts").default(0))
                .col(big_integer_null("last_attempt_at_ms"))
                .col(big_integer_null("next_attempt_at_ms"))
                .col(string_null("last_outcome"))
                .col(big_integer_null("callback_at_ms"))
                .col(big_integer_null("last_conversation_at_ms"))
                .col(big_integer_null("last_abandoned_at_ms"))
                .col(big_integer_null("last_machine_at_ms"))
                // Unix ms of this lead's attempts in the last 7 days, comma-separated, newest
                // last: what the rolling limits need without reading the attempt history.
                .col(text("recent_attempts").default(""))
                .col(string_null("lease_owner"))
                .col(big_integer_null("lease_until_ms"))
                .col(big_integer("created_at_ms"))
                .col(big_integer("updated_at_ms"))
                .foreign_key(&mut fk(
                    "fk_leads_campaign",
                    ("leads", "campaign_id"),
                    ("campaigns", "id"),
                ))
                .foreign_key(&mut fk(
                    "fk_leads_list",
                    ("leads", "list_id"),
                    ("lists", "id"),
                ))
                .take(),
        )
        .await?;
        m.create_index(
            index(
                "ux_leads_campaign_phone",
                "leads",
                &["campaign_id", "phone"],
            )
            .unique()
            .take(),
        )
        .await?;
        // The scheduler: a campaign's open leads that are due.
        m.create_index(index(
            "ix_leads_schedule",
            "leads",
            &["campaign_id", "status", "next_attempt_at_ms"],
        ))
        .await?;

        m.create_table(
            Table::create()
                .table("call_attempts")
                .col(big_pk_auto("id"))
                .col(big_integer("lead_id"))
                .col(big_integer("campaign_id"))
                .col(integer("attempt_no"))
                .col(string_null("trunk"))
                .col(string_null("call_id"))
                .col(string_null("phone"))
                .col(big_integer("dial_at_ms"))
                .col(big_integer_null("ring_at_ms"))
                .col(big_integer_null("answer_at_ms"))
                .col(big_integer_null("amd_at_ms"))
                .col(big_integer_null("connect_at_ms"))
                .col(big_integer_null("end_at_ms"))
                .col(integer_null("sip_status"))
                .col(string_null("outcome"))
                .col(string_null("amd_result"))
                .col(string_null("amd_cause"))
                .col(integer_null("amd_ms"))
                .col(string_null("agent_id"))
                .col(boolean("live").default(false))
                .col(boolean("abandoned").default(false))
                .col(text_null("recording_path"))
                .foreign_key(&mut fk(
                    "fk_attempts_lead",
                    ("call_attempts", "lead_id"),
                    ("leads", "id"),
                ))
                .take(),
        )
        .await?;
        m.create_index(index(
            "ix_attempts_lead",
            "call_attempts",
            &["lead_id", "dial_at_ms"],
        ))
        .await?;
        m.create_index(index(
            "ix_attempts_campaign",
            "call_attempts",
            &["campaign_id", "dial_at_ms"],
        ))
        .await?;
        m.create_index(index("ix_attempts_open", "call_attempts", &["end_at_ms"]))
            .await?;

        m.create_table(
            Table::create()
                .table("dispositions")
                .col(big_pk_auto("id"))
                .col(big_integer_null("attempt_id"))
                .col(big_integer("lead_id"))
                .col(big_integer("campaign_id"))
                .col(string("code"))
                .col(string_null("agent_id"))
                .col(text_null("notes"))
                .col(big_integer_null("callback_at_ms"))
                .col(big_integer("created_at_ms"))
                .take(),
        )
        .await?;
        m.create_index(index("ix_dispositions_lead", "dispositions", &["lead_id"]))
            .await?;

        m.create_table(
            Table::create()
                .table("dnc_numbers")
                .col(big_pk_auto("id"))
                .col(string("phone"))
                // 0: the global list; else the campaign's id.
                .col(big_integer("campaign_id").default(0))
                .col(string_null("source"))
                .col(text_null("reason"))
                .col(big_integer("added_at_ms"))
                .take(),
        )
        .await?;
        m.create_index(
            index(
                "ux_dnc_phone_scope",
                "dnc_numbers",
                &["phone", "campaign_id"],
            )
            .unique()
            .take(),
        )
        .await?;

        m.create_table(
            Table::create()
                .table("agents")
                .col(string("id").primary_key())
                .col(string("name"))
                .col(string_null("sip_uri"))
                .col(text("groups").default(""))
                .col(big_integer("created_at_ms"))
                .col(big_integer("updated_at_ms"))
                .take(),
        )
        .await?;

        m.create_table(
            Table::create()
                .table("agent_state_intervals")
                .col(big_pk_auto("id"))
                .col(string("agent_id"))
                .col(big_integer_null("campaign_id"))
                .col(string("state"))
                .col(big_integer("started_at_ms"))
                .col(big_integer_null("ended_at_ms"))
                .col(big_integer_null("attempt_id"))
                .take(),
        )
        .await?;
        m.create_index(index(
            "ix_agent_intervals",
            "agent_state_intervals",
            &["agent_id", "started_at_ms"],
        ))
        .await?;

        m.create_table(
            Table::create()
                .table("survey_answers")
                .col(big_pk_auto("id"))
                .col(big_integer("attempt_id"))
                .col(big_integer("lead_id"))
                .col(big_integer("campaign_id"))
                .col(string("question"))
                .col(string("answer"))
                .col(string_null("digits"))
                .col(big_integer("answered_at_ms"))
                .take(),
        )
        .await?;
        m.create_index(index(
            "ix_survey_attempt",
            "survey_answers",
            &["attempt_id"],
        ))
        .await?;

        m.create_table(
            Table::create()
                .table("audit_events")
                .col(big_pk_auto("id"))
                .col(big_integer("at_ms"))
                .col(big_integer_null("campaign_id"))
                .col(big_integer_null("lead_id"))
                .col(big_integer_null("attempt_id"))
                .col(string("kind"))
                .col(text("message"))
                .col(text_null("data"))
                .take(),
        )
        .await?;
        m.create_index(index(
            "ix_audit_campaign_at",
            "audit_events",
            &["campaign_id", "at_ms"],
        ))
        .await?;
        Ok(())
    }
}
