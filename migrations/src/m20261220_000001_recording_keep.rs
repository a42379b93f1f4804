//! `campaigns.recording_keep_ms`: how long the campaign's recordings are kept after the call
//! (`recording.keep` in its file), overriding `media.recordings_keep` of `dialer.toml`; NULL: the
//! global default. The daemon's retention sweep reads it for every stored campaign, loaded or not.

use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.alter_table(
            Table::alter()
                .table("campaigns")
                .add_column(big_integer_null("recording_keep_ms"))
                .take(),
        )
        .await
    }
}
