//! `--data FILE`: the accounts and workspaces a simulator serves, as JSON. Two shapes are
//! read: one account (an [`AccountSpec`], as before there were several), or
//! `{"accounts": [KeyedAccount...], "workspaces": [WorkspaceSpec...]}`, each account with its
//! own made-up `api_key` (the first may take `--api-key` instead).

use crate::model::{AccountSpec, KeyedAccount, SimConfig};
use crate::workspace::WorkspaceSpec;
use serde::{Deserialize, Serialize};
use std::collections::HashSet;

/// Several accounts and their workspaces.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SimData {
    pub accounts: Vec<KeyedAccount>,
    #[serde(default)]
    pub workspaces: Vec<WorkspaceSpec>,
}

impl SimData {
    /// Reads either shape; one account comes back as a list of one, without a key.
    pub fn parse(text: &str) -> Result<Self, String> {
        let v: serde_json::Value = serde_json::from_str(text).map_err(|e| e.to_string())?;
        if v.get("accounts").is_some() {
            return serde_json::from_value(v).map_err(|e| e.to_string());
        }
        let account: AccountSpec = serde_json::from_value(v).map_err(|e| e.to_string())?;
        Ok(Self {
            accounts: vec![KeyedAccount {
                api_key: String::new(),
                per_minute: None,
                account,
            }],
            workspaces: Vec::new(),
        })
    }

    /// A config's accounts (with their keys and per-minute caps) and workspaces, as a data
    /// file gives them.
    pub fn of(config: &SimConfig) -> Self {
        let first = KeyedAccount {
            api_key: config.api_key.clone(),
            per_minute: Some(config.limits.per_minute),
            account: config.account.clone(),
        };
        Self {
            accounts: std::iter::once(first)
                .chain(config.more_accounts.iter().cloned())
                .collect(),
            workspaces: config.workspaces.clone(),
        }
    }

    /// Puts these accounts and workspaces in `config`: the first account becomes
    /// `api_key`/`account` (its key `first_key` when given, else its `api_key`; its
    /// `per_minute`, when given, `limits.per_minute`), the others `more_accounts`.
    pub fn apply(self, config: &mut SimConfig, first_key: Option<&str>) -> Result<(), String> {
        let mut accounts = self.accounts.into_iter();
        let first = accounts
            .next()
            .ok_or("the data names no account: give at least one")?;
        config.api_key = first_key.map_or(first.api_key, str::to_string);
        if let Some(n) = first.per_minute {
            config.limits.per_minute = n;
        }
        config.account = first.account;
        config.more_accounts = accounts.collect();
        config.workspaces = self.workspaces;
        Ok(())
    }
}

impl SimConfig {
    /// What would make the accounts and workspaces ambiguous: two accounts with one key or
    /// one id, an empty key beside others, a resource id used twice, a workspace whose owner
    /// is not an account here or that shares what is not an application here.
    pub fn check(&self) -> Result<(), String> {
        check(self)
    }
}

fn check(c: &SimConfig) -> Result<(), String> {
    let several = !c.more_accounts.is_empty();
    let mut keys = HashSet::new();
    let mut ids = HashSet::new();
    let mut resources = HashSet::new();
    for (key, a) in c.accounts() {
        if several && key.is_empty() {
            return Err(format!(
                "account {} ({}) has no key: each account needs its own api_key",
                a.id, a.name
            ));
        }
        if !keys.insert(key) {
            return Err(format!(
                "account {} ({}) has the same key as another account: each key opens one account",
                a.id, a.name
            ));
        }
        if !ids.insert(a.id.as_str()) {
            return Err(format!("two accounts have the id {}", a.id));
        }
        for r in a.applications.iter().chain(&a.databases) {
            if several && !resources.insert(r.id.as_str()) {
                return Err(format!(
                    "the resource id {} is used twice: each application and database belongs to one account",
                    r.id
                ));
            }
        }
    }
    let mut workspaces = HashSet::new();
    for w in &c.workspaces {
        if !workspaces.insert(w.id.as_str()) {
            return Err(format!("two workspaces have the id {}", w.id));
        }
        if c.account_by_id(&w.owner).is_none() {
            return Err(format!(
                "workspace {} ({}) is owned by {}, which is not an account of this simulator",
                w.id, w.name, w.owner
            ));
        }
        for app in &w.applications {
            let known = c
                .accounts()
                .any(|(_, a)| a.applications.iter().any(|r| &r.id == app));
            if !known {
                return Err(format!(
                    "workspace {} ({}) shares {app}, which is not an application of this simulator",
                    w.id, w.name
                ));
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_account_and_several_are_read() {
        let one = serde_json::to_string(&AccountSpec::demo()).unwrap();
        let d = SimData::parse(&one).unwrap();
        assert_eq!(d.accounts.len(), 1);
        assert_eq!(d.accounts[0].account.id, AccountSpec::demo().id);
        let c = SimConfig::demo_accounts();
        let many = SimData::of(&c);
        let text = serde_json::to_string_pretty(&many).unwrap();
        let back = SimData::parse(&text).unwrap();
        let mut cfg = SimConfig::new("", AccountSpec::demo());
        back.apply(&mut cfg, None).unwrap();
        assert_eq!(cfg.api_key, crate::DEMO_KEY);
        assert_eq!(cfg.more_accounts[0].api_key, crate::DEMO_CLIENT_KEY);
        assert_eq!(cfg.workspaces, c.workspaces);
        assert_eq!(cfg.limits.per_minute, c.limits.per_minute);
        cfg.check().unwrap();
        let e = SimData::parse(r#"{"accounts":[{"id":"1"}]}"#).unwrap_err();
        assert!(e.contains("missing field"), "{e}");
    }

    #[test]
    fn ambiguous_data_is_refused() {
        let c = SimConfig::demo_accounts();
        let mut same_key = c.clone();
        same_key.more_accounts[0].api_key = same_key.api_key.clone();
        assert!(same_key.check().unwrap_err().contains("same key"));
        let mut twice = c.clone();
        let app = twice.account.applications[0].clone();
        twice.more_accounts[0].account.applications.push(app);
        assert!(twice.check().unwrap_err().contains("used twice"));
        let mut stranger = c.clone();
        stranger.workspaces[0].owner = "nobody".into();
        assert!(stranger.check().unwrap_err().contains("not an account"));
        let mut unknown = c;
        unknown.workspaces[0].applications.push("feed".into());
        assert!(unknown.check().unwrap_err().contains("not an application"));
    }
}
