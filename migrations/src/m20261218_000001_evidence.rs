//! Evidence per attempt: what the rules saw when each dial was allowed.
//!
//! `leads.claim_evidence`: written by the scheduler inside the claim transaction when it takes a
//! lead (the candidate zones and their local times, the windows in force, the attempt counts,
//! the registry data's date, the rules version, the abandon policy), as compact JSON. Starting
//! the attempt moves it to `call_attempts.evidence`, adding the abandon counts of the window at
//! the dial, in the same transaction as the attempt row, and clears it on the lead.
//!
//! Attempts stored before this migration have no evidence (`dialer report --compliance` lists
//! them as exceptions).

use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        // One column per statement: SQLite alters one at a time.
        m.alter_table(
            Table::alter()
                .table("leads")
                .add_column(text_null("claim_evidence"))
                .take(),
        )
        .await?;
        m.alter_table(
            Table::alter()
                .table("call_attempts")
                .add_column(text_null("evidence"))
                .take(),
        )
        .await
    }
}
