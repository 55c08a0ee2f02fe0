//! What a principal may do: API scopes, and which of them each role grants.
//!
//! A member's session has every scope its role grants. An API key has the scopes it was created
//! with, intersected with its member's *current* role: a key never does more than its member may,
//! even after the member is demoted.

use std::str::FromStr;

use async_graphql::Enum;
use entity::member::Role;

/// A permission an API key can carry; spelled `messages:send`, … in REST and in storage.
#[derive(Enum, Copy, Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[graphql(name = "ApiScope")]
pub enum Scope {
    /// Send messages and poll their status.
    MessagesSend,
    /// Read messages and send attempts.
    MessagesRead,
    ContactsRead,
    ContactsWrite,
    ConversationsRead,
    ConversationsWrite,
    /// Connect and configure senders (owners and admins only).
    SendersManage,
    /// Manage outbound webhook endpoints (owners and admins only).
    WebhooksManage,
}

impl Scope {
    pub const ALL: [Scope; 8] = [
        Scope::MessagesSend,
        Scope::MessagesRead,
        Scope::ContactsRead,
        Scope::ContactsWrite,
        Scope::ConversationsRead,
        Scope::ConversationsWrite,
        Scope::SendersManage,
        Scope::WebhooksManage,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Scope::MessagesSend => "messages:send",
            Scope::MessagesRead => "messages:read",
            Scope::ContactsRead => "contacts:read",
            Scope::ContactsWrite => "contacts:write",
            Scope::ConversationsRead => "conversations:read",
            Scope::ConversationsWrite => "conversations:write",
            Scope::SendersManage => "senders:manage",
            Scope::WebhooksManage => "webhooks:manage",
        }
    }

    /// Whether `role` carries this scope at all.
    pub fn granted_to(self, role: Role) -> bool {
        match self {
            Scope::SendersManage | Scope::WebhooksManage => {
                matches!(role, Role::Owner | Role::Admin)
            }
            _ => true,
        }
    }
}

impl FromStr for Scope {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        Scope::ALL
            .into_iter()
            .find(|scope| scope.as_str() == text)
            .ok_or_else(|| format!("unknown scope {text:?}"))
    }
}

/// A principal's effective scopes.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Scopes(Vec<Scope>);

impl Scopes {
    /// Everything `role` grants: a member's own session.
    pub fn of_role(role: Role) -> Self {
        Self(
            Scope::ALL
                .into_iter()
                .filter(|scope| scope.granted_to(role))
                .collect(),
        )
    }

    /// The scopes stored on a key, as created; unknown names are dropped.
    pub fn stored(stored: &serde_json::Value) -> Vec<Scope> {
        let mut scopes: Vec<Scope> = stored
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|value| value.as_str()?.parse().ok())
            .collect();
        scopes.sort();
        scopes.dedup();
        scopes
    }

    /// A key's stored scopes narrowed to what its member's role grants.
    pub fn of_key(stored: &serde_json::Value, role: Role) -> Self {
        let mut scopes = Self::stored(stored);
        scopes.retain(|scope| scope.granted_to(role));
        Self(scopes)
    }

    pub fn contains(&self, scope: Scope) -> bool {
        self.0.contains(&scope)
    }
}

/// How scopes are stored on a key: a JSON array of their REST spellings.
pub fn to_json(scopes: &[Scope]) -> serde_json::Value {
    let mut names: Vec<&str> = scopes.iter().map(|scope| scope.as_str()).collect();
    names.sort_unstable();
    names.dedup();
    serde_json::json!(names)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn spellings_round_trip() {
        for scope in Scope::ALL {
            assert_eq!(scope.as_str().parse::<Scope>(), Ok(scope));
        }
        assert!("messages:delete".parse::<Scope>().is_err());
    }

    #[test]
    fn a_members_key_never_exceeds_the_role() {
        let stored = json!(["senders:manage", "messages:send", "bogus"]);
        let scopes = Scopes::of_key(&stored, Role::Member);
        assert!(scopes.contains(Scope::MessagesSend));
        assert!(!scopes.contains(Scope::SendersManage));
        assert!(Scopes::of_key(&stored, Role::Admin).contains(Scope::SendersManage));
    }

    #[test]
    fn roles_grant_everything_but_management_to_members() {
        assert!(Scopes::of_role(Role::Owner).contains(Scope::WebhooksManage));
        assert!(!Scopes::of_role(Role::Member).contains(Scope::WebhooksManage));
        assert!(Scopes::of_role(Role::Member).contains(Scope::ContactsWrite));
    }
}
