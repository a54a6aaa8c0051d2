//! Accounts and their API keys.

use aws_sdk_dynamodb::types::{Put, TransactWriteItem};
use serde::{Deserialize, Serialize};

use domain::api_keys::KeyRecord;
use domain::cursor::Position;
use domain::time::{self, Timestamp};

use super::codec::{account_item, from_item, from_items, key_item};
use super::error::{classify, StoreError};
use super::layout::{account_pk, key_pk, Index, ACCOUNTS_LIST_PK, ACCOUNT_SK, KEY_SK};
use super::*;

/// An operator-created account.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Account {
    pub id: String,
    pub name: String,
    #[serde(with = "time::rfc3339_ms")]
    pub created_at: Timestamp,
    /// `paused`: every key of the account answers 401 until it is resumed.
    #[serde(default)]
    pub status: AccountStatus,
    /// Every key ever issued to the account (rotated and revoked ones too).
    #[serde(default)]
    pub api_keys: Vec<String>,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum AccountStatus {
    #[default]
    Live,
    Paused,
}

impl Store {
    pub async fn get_key(&self, api_key: &str) -> Result<Option<KeyRecord>, StoreError> {
        let item = self.get(key_pk(api_key), KEY_SK, false).await?;
        item.map(from_item::<KeyRecord>).transpose()
    }

    /// Stores an account with its keys, all or nothing.
    pub async fn create_account(
        &self,
        account: &Account,
        keys: &[KeyRecord],
    ) -> Result<(), StoreError> {
        let mut items = vec![account_item(account)?];
        for key in keys {
            items.push(key_item(key)?);
        }
        let mut tx = self.client.transact_write_items();
        for item in items {
            tx = tx.transact_items(self.put_new(item)?);
        }
        tx.send().await.map_err(classify)?;
        Ok(())
    }

    pub async fn get_account(&self, account_id: &str) -> Result<Option<Account>, StoreError> {
        let item = self.get(account_pk(account_id), ACCOUNT_SK, false).await?;
        item.map(from_item::<Account>).transpose()
    }

    /// Writes an account and keys as given (the operator's changes: status, rotation), all or
    /// nothing.
    pub async fn put_account_and_keys(
        &self,
        account: &Account,
        keys: &[KeyRecord],
    ) -> Result<(), StoreError> {
        let mut tx = self.client.transact_write_items();
        for item in std::iter::once(account_item(account)).chain(keys.iter().map(key_item)) {
            let put = Put::builder()
                .table_name(&self.table)
                .set_item(Some(item?))
                .build()
                .map_err(|e| StoreError::Other(e.to_string()))?;
            tx = tx.transact_items(TransactWriteItem::builder().put(put).build());
        }
        tx.send().await.map_err(classify)?;
        Ok(())
    }

    /// One page of accounts, newest first.
    pub async fn list_accounts(
        &self,
        limit: usize,
        start: Option<Position>,
    ) -> Result<(Vec<Account>, Option<Position>), StoreError> {
        let (items, next) = self
            .query_index(Index::Gsi1, ACCOUNTS_LIST_PK.into(), &[], limit, start)
            .await?;
        Ok((from_items(items)?, next))
    }
}
