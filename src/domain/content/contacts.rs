//! Contacts messages: contact cards in Meta's own shape, checked for what Meta requires. The
//! cards are stored and sent as they are, under `contacts`.

use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::{ContentError, ContentInput, is_present};

/// Meta allows 257 cards; a CRM sends a few, and every card is shown to the user at once.
const CONTACTS_MAX: usize = 10;
/// Serialized size of all cards together.
const CONTACTS_MAX_BYTES: usize = 16 * 1024;

/// The cards of a contacts message, each with a `name.formatted_name`.
pub(super) fn parse(contacts: Option<Value>) -> Result<Vec<Value>, ContentError> {
    let needs = format!("a contacts message needs `contacts`: a list of 1 to {CONTACTS_MAX} cards");
    let cards = match contacts {
        Some(Value::Array(cards)) => cards,
        Some(Value::Null) | None => return Err(ContentError::invalid(needs)),
        Some(_) => {
            return Err(ContentError::invalid(
                "contacts must be a list of contact cards",
            ));
        }
    };
    if cards.is_empty() || cards.len() > CONTACTS_MAX {
        return Err(ContentError::invalid(format!(
            "contacts must hold 1 to {CONTACTS_MAX} cards (it has {})",
            cards.len()
        )));
    }
    let size = Value::Array(cards.clone()).to_string().len();
    if size > CONTACTS_MAX_BYTES {
        return Err(ContentError::invalid(format!(
            "contacts must be at most {} KiB of JSON",
            CONTACTS_MAX_BYTES / 1024
        )));
    }
    for (index, card) in cards.iter().enumerate() {
        check_contact_card(index + 1, card)?;
    }
    Ok(cards)
}

/// `👤 names`.
pub(super) fn preview_text(cards: &[Value]) -> String {
    let names: Vec<&str> = cards
        .iter()
        .filter_map(|card| card.pointer("/name/formatted_name")?.as_str())
        .collect();
    format!("👤 {}", names.join(", "))
}

/// Meta's contact card: only `name.formatted_name` is required; the lists are lists of objects.
fn check_contact_card(number: usize, card: &Value) -> Result<(), ContentError> {
    let fail = |what: &str| Err(ContentError::invalid(format!("contact {number}: {what}")));
    let Some(card) = card.as_object() else {
        return fail("must be an object");
    };
    let formatted_name = card
        .get("name")
        .and_then(|name| name.get("formatted_name"))
        .and_then(Value::as_str);
    if !formatted_name.is_some_and(is_present) {
        return fail("needs a `name` with a non-empty `formatted_name`");
    }
    for list in ["phones", "emails", "addresses", "urls"] {
        match card.get(list) {
            None | Some(Value::Null) => {}
            Some(Value::Array(entries)) => {
                if !entries.iter().all(Value::is_object) {
                    return fail(&format!("every entry of `{list}` must be an object"));
                }
            }
            Some(_) => return fail(&format!("`{list}` must be a list")),
        }
    }
    if card
        .get("org")
        .is_some_and(|org| !org.is_object() && !org.is_null())
    {
        return fail("`org` must be an object");
    }
    if card
        .get("birthday")
        .is_some_and(|day| !day.is_string() && !day.is_null())
    {
        return fail("`birthday` must be a string (YYYY-MM-DD)");
    }
    Ok(())
}

/// The stored body of a contacts message: `{"type": "contacts", "contacts": [cards]}`.
#[derive(Debug, Serialize, Deserialize)]
pub(super) struct StoredContacts {
    contacts: Vec<Value>,
}

impl StoredContacts {
    pub(super) fn new(cards: &[Value]) -> Self {
        Self {
            contacts: cards.to_vec(),
        }
    }

    pub(super) fn into_input(self) -> ContentInput {
        ContentInput {
            contacts: Some(Value::Array(self.contacts)),
            ..ContentInput::typed("contacts")
        }
    }
}
