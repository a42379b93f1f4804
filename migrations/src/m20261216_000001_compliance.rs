//! Compliance: where each lead's number may ring, and the registry downloads loaded.
//!
//! `leads.zone_key` is the lead's candidate zones and regions as found at import
//! (`US-ID|America/Boise America/Los_Angeles`; the scheduler reads the leads of the keys whose
//! every zone is open), `leads.zone_source` how they were found (`column`, `postal_code`,
//! `number`, `campaign_default`). Leads stored before this migration have neither until the
//! campaign is next synced (`dialer import`, `dialer run`), which fills them in.
//!
//! `call_attempts.zone_key` and `call_attempts.rules_version`: the lead's zone key when it was
//! dialed and the version of the state rules that allowed it, the first of an attempt's evidence.
//!
//! `dnc_registries`: one row per registry file loaded by `dialer dnc import --registry`, with
//! the date of the file's data, so a campaign can refuse to dial on stale registry data and an
//! attempt's evidence can name the data it was scrubbed against.

use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        // One column per statement: SQLite alters one at a time.
        for col in ["zone_key", "zone_source"] {
            m.alter_table(
                Table::alter()
                    .table("leads")
                    .add_column(string_null(col))
                    .take(),
            )
            .await?;
        }
        for col in ["zone_key", "rules_version"] {
            m.alter_table(
                Table::alter()
                    .table("call_attempts")
                    .add_column(string_null(col))
                    .take(),
            )
            .await?;
        }
        m.create_index(
            Index::create()
                .name("ix_leads_zone_key")
                .table("leads")
                .col("campaign_id")
                .col("zone_key")
                .take(),
        )
        .await?;
        m.create_table(
            Table::create()
                .table("dnc_registries")
                .col(big_pk_auto("id"))
                .col(string("registry"))
                .col(text("file"))
                .col(big_integer("file_date_ms"))
                .col(big_integer("loaded_at_ms"))
                .col(big_integer("numbers"))
                .col(big_integer("added"))
                .take(),
        )
        .await?;
        m.create_index(
            Index::create()
                .name("ix_dnc_registries_date")
                .table("dnc_registries")
                .col("registry")
                .col("file_date_ms")
                .take(),
        )
        .await
    }
}
