//! Reactions: an emoji on an earlier message of the conversation (or none, to take one back),
//! the stored form and Meta's `reaction` object.

use async_graphql::ID;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::{ContentError, ContentInput};

/// The longest emoji sequences in use (families, flags of subdivisions) stay within this.
const EMOJI_MAX_CHARS: usize = 10;

// An emoji reaction to an earlier message of the conversation: GraphQL's `ReactionInput`, which
// has no description (so neither has this). The REST body documents its fields differently and
// takes a plain string id, so it has its own `ReactionField`, turned into this one.
#[derive(Debug, Clone, Default, Serialize, Deserialize, async_graphql::InputObject)]
#[graphql(name = "ReactionInput")]
pub struct ReactionInput {
    /// The message reacted to, of the same conversation.
    pub message_id: ID,
    /// One emoji; empty removes the reaction.
    pub emoji: String,
}

/// A reaction message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reaction {
    /// Parley's id of the message reacted to.
    pub message_id: Uuid,
    /// Empty to remove an earlier reaction.
    pub emoji: String,
}

impl Reaction {
    pub(super) fn parse(reaction: Option<ReactionInput>) -> Result<Self, ContentError> {
        let reaction = reaction.ok_or_else(|| {
            ContentError::invalid("a reaction needs `reaction` with a `message_id` and an `emoji`")
        })?;
        let message_id = Uuid::parse_str(reaction.message_id.trim()).map_err(|_| {
            ContentError::invalid("reaction message_id must be the id of a Parley message (a UUID)")
        })?;
        if !reaction.emoji.is_empty() && !is_one_emoji(&reaction.emoji) {
            return Err(ContentError::invalid(format!(
                "reaction emoji must be a single emoji (at most {EMOJI_MAX_CHARS} characters), \
                 or empty to remove a reaction"
            )));
        }
        Ok(Self {
            message_id,
            emoji: reaction.emoji,
        })
    }

    pub(super) fn to_stored(&self) -> StoredReaction {
        StoredReaction {
            message_id: self.message_id,
            emoji: self.emoji.clone(),
        }
    }

    /// Meta names the message reacted to by its wamid, which the caller resolves from
    /// `message_id`; without one (the message never reached WhatsApp) there is nothing to send.
    pub(super) fn to_object(&self, wamid: Option<&str>) -> Result<ReactionObject, ContentError> {
        let wamid = wamid.filter(|wamid| !wamid.is_empty()).ok_or_else(|| {
            ContentError::invalid(
                "the message reacted to has no WhatsApp message id yet, so it cannot be \
                 reacted to",
            )
        })?;
        Ok(ReactionObject {
            message_id: wamid.to_owned(),
            emoji: self.emoji.clone(),
        })
    }
}

const ZERO_WIDTH_JOINER: char = '\u{200D}';
const VARIATION_SELECTOR_16: char = '\u{FE0F}';
const COMBINING_KEYCAP: char = '\u{20E3}';

/// One emoji as a user sees it, told apart from text and from several emoji without a Unicode
/// segmentation table: a base character and what attaches to it (variation selectors, skin
/// tones, keycaps, tags, a second flag letter, whatever follows a zero-width joiner). ASCII
/// counts only as a keycap's base (`1️⃣`, `#️⃣`). Meta decides which emoji exist.
fn is_one_emoji(emoji: &str) -> bool {
    let chars: Vec<char> = emoji.chars().collect();
    if chars.is_empty() || chars.len() > EMOJI_MAX_CHARS {
        return false;
    }
    let mut clusters = 0;
    let mut after_joiner = false;
    let mut open_flag = false;
    for (index, &c) in chars.iter().enumerate() {
        if c.is_whitespace() || c.is_control() {
            return false;
        }
        if c.is_ascii() {
            let next = chars.get(index + 1).copied();
            let keycap = matches!(c, '0'..='9' | '#' | '*')
                && (next == Some(COMBINING_KEYCAP)
                    || (next == Some(VARIATION_SELECTOR_16)
                        && chars.get(index + 2) == Some(&COMBINING_KEYCAP)));
            if !keycap {
                return false;
            }
        }
        let regional_indicator = ('\u{1F1E6}'..='\u{1F1FF}').contains(&c);
        let attaches = after_joiner
            || c == ZERO_WIDTH_JOINER
            || matches!(c, '\u{FE00}'..='\u{FE0F}')
            || c == COMBINING_KEYCAP
            || ('\u{1F3FB}'..='\u{1F3FF}').contains(&c)
            || ('\u{E0020}'..='\u{E007F}').contains(&c)
            || (regional_indicator && open_flag);
        if !attaches {
            clusters += 1;
        }
        if index == 0 && attaches {
            return false;
        }
        open_flag = regional_indicator && !open_flag;
        after_joiner = c == ZERO_WIDTH_JOINER;
    }
    clusters == 1 && !after_joiner
}

/// The stored body of a reaction: `{"type": "reaction", "messageId", "emoji"}`.
#[derive(Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct StoredReaction {
    message_id: Uuid,
    emoji: String,
}

impl StoredReaction {
    pub(super) fn into_input(self) -> ContentInput {
        ContentInput {
            reaction: Some(ReactionInput {
                message_id: self.message_id.into(),
                emoji: self.emoji,
            }),
            ..ContentInput::typed("reaction")
        }
    }
}

/// Meta's `reaction` object: `{"message_id": "<wamid>", "emoji"}`; an empty emoji removes an
/// earlier reaction.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReactionObject {
    pub message_id: String,
    pub emoji: String,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::content::{
        MessageContent,
        tests::{MESSAGE_ID, reaction},
    };

    #[test]
    fn tells_one_emoji_from_text_and_from_several() {
        let one = [
            "👍",
            "❤️",
            "❤",
            "👍🏽",
            "👨‍👩‍👧‍👦",
            "🇩🇪",
            "1️⃣",
            "#⃣",
            "*️⃣",
            "🏳️‍🌈",
            "🏴󠁧󠁢󠁳󠁣󠁴󠁿",
            "©️",
            "🫠",
        ];
        for emoji in one {
            assert!(is_one_emoji(emoji), "{emoji:?} refused");
            assert!(
                MessageContent::parse(reaction(MESSAGE_ID, emoji)).is_ok(),
                "{emoji:?}"
            );
        }
        let not_one = [
            "",
            "a",
            "1",
            "#",
            "ok",
            "👍👍",
            "🇩🇪🇫🇷",
            "👍 ",
            " 👍",
            "a👍",
            "👍a",
            "\u{FE0F}",
            "\u{200D}👍",
            "👍\u{200D}",
            "🏽",
            "1\u{FE0F}",
            "👍\n",
            "👍\u{0}",
        ];
        for emoji in not_one {
            assert!(!is_one_emoji(emoji), "{emoji:?} accepted");
        }
    }
}
