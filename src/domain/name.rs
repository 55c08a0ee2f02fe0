//! Display names (workspaces, members, senders, contacts, API keys, bots): trimmed, not empty,
//! not huge.

use thiserror::Error;

/// Longest name kept, in characters.
pub const MAX_NAME_LEN: usize = 200;

/// A display name, trimmed, of 1 to [`MAX_NAME_LEN`] characters.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Name(String);

/// Why a name was refused; names the field the client filled in.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[error("{field} must be 1 to {MAX_NAME_LEN} characters")]
pub struct NameError {
    field: String,
}

impl Name {
    /// `value` trimmed, if what is left is a name; `field` is what the client called it.
    pub fn parse(field: &str, value: &str) -> Result<Self, NameError> {
        let value = value.trim();
        if value.is_empty() || value.chars().count() > MAX_NAME_LEN {
            return Err(NameError {
                field: field.to_owned(),
            });
        }
        Ok(Self(value.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl From<Name> for String {
    fn from(name: Name) -> Self {
        name.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_trimmed_and_bounded() {
        assert_eq!(Name::parse("name", "  Ada ").unwrap().as_str(), "Ada");
        assert_eq!(
            Name::parse("botName", "   ").unwrap_err().to_string(),
            "botName must be 1 to 200 characters"
        );
        assert!(Name::parse("name", &"é".repeat(200)).is_ok());
        assert!(Name::parse("name", &"é".repeat(201)).is_err());
    }
}
