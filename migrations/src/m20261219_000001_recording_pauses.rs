//! `recording_pauses`: the parts of an attempt's recording the agent paused (a card number read
//! out), as wall-clock milliseconds; the recording holds silence there.

use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.create_table(
            Table::create()
                .table("recording_pauses")
                .col(big_pk_auto("id"))
                .col(big_integer("attempt_id"))
                .col(big_integer("start_ms"))
                .col(big_integer("end_ms"))
                .take(),
        )
        .await?;
        m.create_index(
            Index::create()
                .name("ix_recording_pauses_attempt")
                .table("recording_pauses")
                .col("attempt_id")
                .take(),
        )
        .await
    }
}
