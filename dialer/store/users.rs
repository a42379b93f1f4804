//! The people who log in to the agent desktop and the wallboard: their role, their password's
//! argon2id hash (never the password), and the count of wrong passwords in a row that locks an
//! account for a while. Hashing and checking passwords is the API's (`daemon::api::people`);
//! this module only keeps the rows.

use sea_orm::ConnectionTrait;

use super::{Result, Store, StoreError, stmt};

/// What a person may do: an agent acts only as themselves; a supervisor may do everything.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    Agent,
    Supervisor,
}

impl Role {
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Agent => "agent",
            Role::Supervisor => "supervisor",
        }
    }
}

impl std::str::FromStr for Role {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "agent" => Ok(Role::Agent),
            "supervisor" => Ok(Role::Supervisor),
            other => Err(format!("{other:?} is not a role (agent or supervisor)")),
        }
    }
}

/// One person's row.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct User {
    pub id: String,
    pub role: Role,
    /// An argon2id PHC string.
    pub password_hash: String,
    /// Wrong passwords in a row since the last good one or the last lockout.
    pub failed_logins: u32,
    /// Locked until this instant (epoch ms), if a lockout is or was set.
    pub locked_until_ms: Option<i64>,
}

/// What one wrong password did to the account.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Failure {
    /// Wrong passwords in a row now (0 right after a lockout was set).
    pub failed_logins: u32,
    /// Set when this failure locked the account: until when.
    pub locked_until_ms: Option<i64>,
}

impl Store {
    /// Create the user `id` or replace their password hash (and role, when given). A new user
    /// without a role is an agent. Returns whether the user is new. Setting a password lifts a
    /// lockout.
    pub async fn set_user(
        &self,
        id: &str,
        role: Option<Role>,
        password_hash: &str,
        now_ms: i64,
    ) -> Result<bool> {
        let txn = self.begin_write().await?;
        let b = self.backend();
        let exists = txn
            .query_one_raw(stmt(
                b,
                "SELECT id FROM users WHERE id = ?",
                vec![id.into()],
            ))
            .await?
            .is_some();
        if exists {
            let mut sql = String::from(
                "UPDATE users SET password_hash = ?, failed_logins = 0, locked_until_ms = NULL, \
                 updated_at_ms = ?",
            );
            let mut values: Vec<sea_orm::Value> = vec![password_hash.into(), now_ms.into()];
            if let Some(r) = role {
                sql.push_str(", role = ?");
                values.push(r.as_str().into());
            }
            sql.push_str(" WHERE id = ?");
            values.push(id.into());
            txn.execute_raw(stmt(b, &sql, values)).await?;
        } else {
            txn.execute_raw(stmt(
                b,
                "INSERT INTO users (id, role, password_hash, failed_logins, created_at_ms, \
                 updated_at_ms) VALUES (?, ?, ?, 0, ?, ?)",
                vec![
                    id.into(),
                    role.unwrap_or(Role::Agent).as_str().into(),
                    password_hash.into(),
                    now_ms.into(),
                    now_ms.into(),
                ],
            ))
            .await?;
        }
        txn.commit().await?;
        Ok(!exists)
    }

    /// The user `id`, if there is one.
    pub async fn user(&self, id: &str) -> Result<Option<User>> {
        let row = self
            .conn()
            .query_one_raw(self.stmt(
                "SELECT id, role, password_hash, failed_logins, locked_until_ms FROM users \
                 WHERE id = ?",
                vec![id.into()],
            ))
            .await?;
        let Some(r) = row else { return Ok(None) };
        let role: String = r.try_get("", "role")?;
        let failed: i32 = r.try_get("", "failed_logins")?;
        Ok(Some(User {
            id: r.try_get("", "id")?,
            role: role
                .parse()
                .map_err(|e| StoreError::Invalid(format!("users.role of {id:?}: {e}")))?,
            password_hash: r.try_get("", "password_hash")?,
            failed_logins: u32::try_from(failed).unwrap_or(0),
            locked_until_ms: r.try_get("", "locked_until_ms")?,
        }))
    }

    /// A wrong password for `id`: one more failure in a row; the `lock_after`th locks the
    /// account until `now_ms + lock_ms` and starts the count again.
    pub async fn login_failed(
        &self,
        id: &str,
        now_ms: i64,
        lock_after: u32,
        lock_ms: i64,
    ) -> Result<Failure> {
        let txn = self.begin_write().await?;
        let b = self.backend();
        let row = txn
            .query_one_raw(stmt(
                b,
                "SELECT failed_logins FROM users WHERE id = ?",
                vec![id.into()],
            ))
            .await?;
        let Some(row) = row else {
            // Ended here, not left open until the connection is reused (it holds a lock).
            txn.rollback().await?;
            return Ok(Failure {
                failed_logins: 0,
                locked_until_ms: None,
            });
        };
        let failed = u32::try_from(row.try_get::<i32>("", "failed_logins")?).unwrap_or(0) + 1;
        let out = if failed >= lock_after {
            let until = now_ms + lock_ms;
            txn.execute_raw(stmt(
                b,
                "UPDATE users SET failed_logins = 0, locked_until_ms = ? WHERE id = ?",
                vec![until.into(), id.into()],
            ))
            .await?;
            Failure {
                failed_logins: 0,
                locked_until_ms: Some(until),
            }
        } else {
            txn.execute_raw(stmt(
                b,
                "UPDATE users SET failed_logins = ? WHERE id = ?",
                vec![i32::try_from(failed).unwrap_or(i32::MAX).into(), id.into()],
            ))
            .await?;
            Failure {
                failed_logins: failed,
                locked_until_ms: None,
            }
        };
        txn.commit().await?;
        Ok(out)
    }

    /// A good password for `id`: the count of failures starts again.
    pub async fn login_succeeded(&self, id: &str, now_ms: i64) -> Result<()> {
        self.conn()
            .execute_raw(self.stmt(
                "UPDATE users SET failed_logins = 0, locked_until_ms = NULL, last_login_at_ms = ? \
                 WHERE id = ?",
                vec![now_ms.into(), id.into()],
            ))
            .await?;
        Ok(())
    }
}
