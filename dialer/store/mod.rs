//! The CRM store: sea-orm entities over SQLite (default) or PostgreSQL.
