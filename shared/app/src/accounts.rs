//! Accounts (SPEC §1): created by the operator with their first live and test keys; listed,
//! paused and resumed; keys rotated (the old ones valid for a grace period) and revoked.

use serde::{Deserialize, Serialize};

use domain::api_keys::{IssuedKeys, KeyRecord, KeyStatus};
use domain::tenant::Environment;
use domain::time::{self, Timestamp};
use store::{Account, AccountStatus, Store, StoreError};

/// What `gamify-admin create-account` prints: the only time the secrets are shown.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CreatedAccount {
    pub account_id: String,
    pub name: String,
    pub live: IssuedKeys,
    pub test: IssuedKeys,
}

pub async fn create(store: &Store, name: &str) -> Result<CreatedAccount, StoreError> {
    let live = IssuedKeys::generate(Environment::Live);
    let test = IssuedKeys::generate(Environment::Test);
    let id = uuid::Uuid::now_v7().to_string();
    let mut records = live.records(&id, Environment::Live).to_vec();
    records.extend(test.records(&id, Environment::Test));
    let account = Account {
        id,
        name: name.to_string(),
        created_at: time::now(),
        status: AccountStatus::Live,
        api_keys: records.iter().map(|r| r.api_key.clone()).collect(),
    };
    store.create_account(&account, &records).await?;
    Ok(CreatedAccount {
        account_id: account.id,
        name: account.name,
        live,
        test,
    })
}

/// Why an operator's command could not be done.
#[derive(Debug)]
pub enum AdminError {
    NoSuchAccount(String),
    NoSuchKey(String),
    Store(StoreError),
}

impl From<StoreError> for AdminError {
    fn from(e: StoreError) -> Self {
        AdminError::Store(e)
    }
}

impl std::fmt::Display for AdminError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            AdminError::NoSuchAccount(id) => write!(f, "no account {id}"),
            AdminError::NoSuchKey(key) => write!(f, "no key {key}"),
            AdminError::Store(e) => write!(f, "store: {e:?}"),
        }
    }
}

async fn account(store: &Store, account_id: &str) -> Result<Account, AdminError> {
    store
        .get_account(account_id)
        .await?
        .ok_or_else(|| AdminError::NoSuchAccount(account_id.to_string()))
}

async fn keys_of(store: &Store, account: &Account) -> Result<Vec<KeyRecord>, AdminError> {
    let mut keys = Vec::new();
    for api_key in &account.api_keys {
        if let Some(key) = store.get_key(api_key).await? {
            keys.push(key);
        }
    }
    Ok(keys)
}

/// Every account, newest first.
pub async fn list(store: &Store) -> Result<Vec<Account>, StoreError> {
    let mut all = Vec::new();
    let mut start = None;
    loop {
        let (page, next) = store.list_accounts(100, start).await?;
        all.extend(page);
        match next {
            Some(next) => start = Some(next),
            None => return Ok(all),
        }
    }
}

/// Pauses (`paused = true`) or resumes an account: a paused account's keys answer 401. Revoked
/// keys stay revoked and expired ones expired.
pub async fn set_paused(
    store: &Store,
    account_id: &str,
    paused: bool,
) -> Result<Account, AdminError> {
    let mut account = account(store, account_id).await?;
    let (from, to) = if paused {
        (KeyStatus::Live, KeyStatus::Paused)
    } else {
        (KeyStatus::Paused, KeyStatus::Live)
    };
    let mut keys = keys_of(store, &account).await?;
    keys.retain(|k| k.status == from);
    for key in &mut keys {
        key.status = to;
    }
    account.status = if paused {
        AccountStatus::Paused
    } else {
        AccountStatus::Live
    };
    store.put_account_and_keys(&account, &keys).await?;
    Ok(account)
}

/// New keys for one environment of an account (shown once); the environment's current keys
/// stay valid until `now + grace`, then never again.
pub async fn rotate(
    store: &Store,
    account_id: &str,
    environment: Environment,
    grace: chrono::Duration,
    now: Timestamp,
) -> Result<IssuedKeys, AdminError> {
    let mut account = account(store, account_id).await?;
    let end = now + grace;
    let mut changed: Vec<KeyRecord> = keys_of(store, &account)
        .await?
        .into_iter()
        .filter(|k| k.environment == environment && k.status != KeyStatus::Revoked)
        .filter(|k| k.expires_at.is_none_or(|e| e > end))
        .map(|mut k| {
            k.expires_at = Some(end);
            k
        })
        .collect();
    let issued = IssuedKeys::generate(environment);
    for mut record in issued.records(&account.id, environment) {
        if account.status == AccountStatus::Paused {
            record.status = KeyStatus::Paused;
        }
        account.api_keys.push(record.api_key.clone());
        changed.push(record);
    }
    store.put_account_and_keys(&account, &changed).await?;
    Ok(issued)
}

/// Revokes one key at once (within the authorizer's cache time).
pub async fn revoke(store: &Store, api_key: &str) -> Result<KeyRecord, AdminError> {
    let mut key = store
        .get_key(api_key)
        .await?
        .ok_or_else(|| AdminError::NoSuchKey(api_key.to_string()))?;
    let account = account(store, &key.account_id).await?;
    key.status = KeyStatus::Revoked;
    store
        .put_account_and_keys(&account, std::slice::from_ref(&key))
        .await?;
    Ok(key)
}
