//! Accounts and their registered public keys.

use diesel::prelude::*;

use crate::db::DbConnection;
use crate::db::models::{Account, Device};
use crate::db::schema::{accounts, devices};
use crate::error::ApiError;

/// Inserts an account and, if given, its device, in one transaction.
pub fn create(
    conn: &mut DbConnection,
    account: &Account,
    device: Option<&Device>,
) -> Result<(), ApiError> {
    conn.transaction(|conn| {
        diesel::insert_into(accounts::table)
            .values(account)
            .execute(conn)?;
        if let Some(device) = device {
            diesel::insert_into(devices::table)
                .values(device)
                .execute(conn)?;
        }
        Ok(())
    })
}

/// The account with `id`.
pub fn by_id(conn: &mut DbConnection, id: &str) -> Result<Option<Account>, ApiError> {
    Ok(accounts::table
        .find(id)
        .select(Account::as_select())
        .get_result(conn)
        .optional()?)
}

/// The account with login `email`.
pub fn by_email(conn: &mut DbConnection, email: &str) -> Result<Option<Account>, ApiError> {
    Ok(accounts::table
        .filter(accounts::email.eq(email))
        .select(Account::as_select())
        .get_result(conn)
        .optional()?)
}

/// The account of ledger actor `actor`.
pub fn by_actor(conn: &mut DbConnection, actor: &str) -> Result<Option<Account>, ApiError> {
    Ok(accounts::table
        .filter(accounts::actor_id.eq(actor))
        .select(Account::as_select())
        .get_result(conn)
        .optional()?)
}

/// Sets an account's status; false if there is no such account.
pub fn set_status(conn: &mut DbConnection, id: &str, status: &str) -> Result<bool, ApiError> {
    let n = diesel::update(accounts::table.find(id))
        .set(accounts::status.eq(status))
        .execute(conn)?;
    Ok(n == 1)
}

/// Accounts in id order after `after`, optionally only those with `status`.
pub fn list(
    conn: &mut DbConnection,
    status: Option<&str>,
    after: Option<&str>,
    limit: i64,
) -> Result<Vec<Account>, ApiError> {
    let mut query = accounts::table
        .select(Account::as_select())
        .order(accounts::id.asc())
        .limit(limit)
        .into_boxed();
    if let Some(status) = status {
        query = query.filter(accounts::status.eq(status.to_owned()));
    }
    if let Some(after) = after {
        query = query.filter(accounts::id.gt(after.to_owned()));
    }
    Ok(query.load(conn)?)
}

/// The device (public keys) of an account.
pub fn device_of(conn: &mut DbConnection, account: &str) -> Result<Option<Device>, ApiError> {
    Ok(devices::table
        .filter(devices::account_id.eq(account))
        .select(Device::as_select())
        .get_result(conn)
        .optional()?)
}
