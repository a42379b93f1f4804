//! `users`: the people who log in to the agent desktop and the wallboard. `id` is the login
//! name (an agent's id as in `dialer.toml`'s `[[agents]]`, or a supervisor's name), `role` is
//! `agent` or `supervisor`, `password_hash` an argon2id PHC string (never the password).
//! Failed logins in a row and the lockout's end are kept here so that a restart does not reset
//! a lockout.

use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.create_table(
            Table::create()
                .table("users")
                .col(string("id").primary_key())
                .col(string("role"))
                .col(text("password_hash"))
                .col(integer("failed_logins").default(0))
                .col(big_integer_null("locked_until_ms"))
                .col(big_integer_null("last_login_at_ms"))
                .col(big_integer("created_at_ms"))
                .col(big_integer("updated_at_ms"))
                .take(),
        )
        .await
    }
}
