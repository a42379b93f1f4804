//! The CRM schema, forward-only. Run at start (`Store::open`) and by `dialer migrate`.
//!
//! The same migrations run on SQLite and PostgreSQL. Never edit a migration that has landed:
//! add a new one.
pub use sea_orm_migration::prelude::*;

mod m20261127_000001_crm_schema;
mod m20261202_000001_attempt_message_at;
mod m20261210_000001_attempt_node;
mod m20261214_000001_users;
mod m20261216_000001_compliance;
mod m20261217_000001_optout_recording;
mod m20261218_000001_evidence;
mod m20261219_000001_recording_pauses;
mod m20261220_000001_recording_keep;
mod m20261221_000001_attempt_hours;

pub struct Migrator;

impl MigratorTrait for Migrator {
    fn migrations() -> Vec<Box<dyn MigrationTrait>> {
        vec![
            Box::new(m20261127_000001_crm_schema::Migration),
            Box::new(m20261202_000001_attempt_message_at::Migration),
            Box::new(m20261210_000001_attempt_node::Migration),
            Box::new(m20261214_000001_users::Migration),
            Box::new(m20261216_000001_compliance::Migration),
            Box::new(m20261217_000001_optout_recording::Migration),
            Box::new(m20261218_000001_evidence::Migration),
            Box::new(m20261219_000001_recording_pauses::Migration),
            Box::new(m20261220_000001_recording_keep::Migration),
            Box::new(m20261221_000001_attempt_hours::Migration),
        ]
    }
}
