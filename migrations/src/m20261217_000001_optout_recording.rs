//! `opt_outs`: the evidence of each automated opt-out (47 CFR 64.1200(b)(3)): the attempt, the
//! number as dialed, the key pressed, when, during which prerecorded message, and which DNC
//! list(s) it went on. Kept when a person's data is erased (the DNC entry must be provable).

use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.create_table(
            Table::create()
                .table("opt_outs")
                .col(big_pk_auto("id"))
                .col(big_integer("attempt_id"))
                .col(big_integer("lead_id"))
                .col(big_integer("campaign_id"))
                .col(string("phone"))
                .col(string("digits"))
                .col(string("message"))
                .col(string("scope"))
                .col(big_integer("at_ms"))
                .take(),
        )
        .await?;
        m.create_index(
            Index::create()
                .name("ix_opt_outs_attempt")
                .table("opt_outs")
                .col("attempt_id")
                .take(),
        )
        .await
    }
}
