//! `call_attempts.node`: the node id (`dialer.toml`'s `node_id`, default the host name) of the
//! `dialer run` that dialed the attempt. At start a node closes as interrupted only the open
//! attempts it dialed itself, and those with no node (dialed before this column existed), so two
//! nodes on one PostgreSQL never close each other's calls.

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
                .add_column(string_null("node"))
                .take(),
        )
        .await
    }
}
