//! Tenancy (SPEC §1): every record belongs to one (account, environment).

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Environment {
    Live,
    Test,
}

impl Environment {
    pub fn as_str(self) -> &'static str {
        match self {
            Environment::Live => "live",
            Environment::Test => "test",
        }
    }

    /// GamifyHost's spelling in track-user answers.
    pub fn upper(self) -> &'static str {
        match self {
            Environment::Live => "LIVE",
            Environment::Test => "TEST",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "live" => Some(Environment::Live),
            "test" => Some(Environment::Test),
            _ => None,
        }
    }
}

/// What a caller may do (SPEC §1).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    /// Secret key + secret: everything.
    Admin,
    /// Public key alone: track-user routes only.
    Public,
    /// An end-user token (`x-enduser-access-token`): its own member's reads only.
    EndUser,
}

impl Role {
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Admin => "admin",
            Role::Public => "public",
            Role::EndUser => "enduser",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "admin" => Some(Role::Admin),
            "public" => Some(Role::Public),
            "enduser" => Some(Role::EndUser),
            _ => None,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Tenant {
    pub account_id: String,
    pub environment: Environment,
}

impl Tenant {
    pub fn new(account_id: impl Into<String>, environment: Environment) -> Self {
        Self {
            account_id: account_id.into(),
            environment,
        }
    }

    /// Prefix of every partition key of this tenant: no key of one tenant can name another's item.
    pub fn key_prefix(&self) -> String {
        format!("T#{}#{}", self.account_id, self.environment.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn environments_and_roles_round_trip_and_refuse_others() {
        for env in [Environment::Live, Environment::Test] {
            assert_eq!(Environment::parse(env.as_str()), Some(env));
            assert_eq!(serde_json::to_value(env).unwrap(), env.as_str());
        }
        assert_eq!(Environment::Live.upper(), "LIVE");
        assert_eq!(Environment::Test.upper(), "TEST");
        for role in [Role::Admin, Role::Public] {
            assert_eq!(Role::parse(role.as_str()), Some(role));
        }
        for bad in ["", "LIVE", "prod", "Admin", "secret"] {
            assert_eq!(Environment::parse(bad), None, "{bad}");
            assert_eq!(Role::parse(bad), None, "{bad}");
        }
    }

    #[test]
    fn tenants_never_share_a_key_prefix() {
        let a = Tenant::new("acc", Environment::Live).key_prefix();
        let b = Tenant::new("acc", Environment::Test).key_prefix();
        let c = Tenant::new("acc2", Environment::Live).key_prefix();
        assert!(a != b && a != c && b != c);
    }
}
