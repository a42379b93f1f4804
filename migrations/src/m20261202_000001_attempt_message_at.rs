//! `call_attempts.message_at_ms`: when the message to the customer started playing (the
//! voicemail drop after the beep, the safe-harbor message of an abandoned call, an agentless
//! campaign's message). Null when none was played.

use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.alter_table(
            Table::alter()
                .table("call_attempts")
                .add_column(big_integer_null("message_at_ms"))
                .take(),
        )
        .await
    }
}
