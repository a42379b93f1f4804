//! `attempt_hours`: a campaign's ended attempts counted by the hour of their dial (live answers,
//! abandons, AMD "machine" results), so the abandon window a dial's evidence reads (30 days) sums
//! at most 720 rows instead of every attempt in it. Filled here from the attempts already ended.

use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        // Counts are `integer`, so PostgreSQL's SUM over them is a `bigint` (a `bigint`'s SUM
        // is `numeric`).
        m.create_table(
            Table::create()
                .table("attempt_hours")
                .col(big_integer("campaign_id"))
                .col(big_integer("hour_ms"))
                .col(integer("live").default(0))
                .col(integer("abandoned").default(0))
                .col(integer("machines").default(0))
                .primary_key(Index::create().col("campaign_id").col("hour_ms"))
                .take(),
        )
        .await?;
        m.get_connection()
            .execute_unprepared(
                "INSERT INTO attempt_hours (campaign_id, hour_ms, live, abandoned, machines) \
                 SELECT campaign_id, dial_at_ms - dial_at_ms % 3600000, \
                 SUM(CASE WHEN live THEN 1 ELSE 0 END), \
                 SUM(CASE WHEN abandoned THEN 1 ELSE 0 END), \
                 SUM(CASE WHEN amd_result = 'machine' THEN 1 ELSE 0 END) \
                 FROM call_attempts WHERE end_at_ms IS NOT NULL \
                 GROUP BY campaign_id, dial_at_ms - dial_at_ms % 3600000",
            )
            .await?;
        Ok(())
    }
}
