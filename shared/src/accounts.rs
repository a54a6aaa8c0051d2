//! Accounts (SPEC §1): created by the operator with their first live and test keys.

use serde::{Deserialize, Serialize};

use crate::keys::IssuedKeys;
use crate::store::{Account, Store, StoreError};
use crate::tenant::Environment;
use crate::time;

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
    let account = Account {
        id: uuid::Uuid::now_v7().to_string(),
        name: name.to_string(),
        created_at: time::now(),
    };
    let live = IssuedKeys::generate(Environment::Live);
    let test = IssuedKeys::generate(Environment::Test);
    let mut records = live.records(&account.id, Environment::Live).to_vec();
    records.extend(test.records(&account.id, Environment::Test));
    store.create_account(&account, &records).await?;
    Ok(CreatedAccount {
        account_id: account.id,
        name: account.name,
        live,
        test,
    })
}
