//! Text messages: the rules for a body, its stored form and Meta's `text` object.

use serde::{Deserialize, Serialize};

use super::{ContentError, ContentErrorKind::InvalidRequest, ContentInput, check_required};

/// Meta's limit on a text message's body.
const TEXT_MAX: usize = 4096;

/// A text message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Text {
    pub body: String,
    /// The body holds an `http://` or `https://` link, so WhatsApp is asked to preview it.
    pub preview_url: bool,
}

impl Text {
    pub(super) fn parse(text: Option<String>) -> Result<Self, ContentError> {
        let body = text.ok_or_else(|| ContentError::invalid("a text message needs `text`"))?;
        check_required(InvalidRequest, "text", &body, TEXT_MAX)?;
        let lowercase = body.to_ascii_lowercase();
        let preview_url = lowercase.contains("http://") || lowercase.contains("https://");
        Ok(Self { body, preview_url })
    }

    pub(super) fn to_stored(&self) -> StoredText {
        StoredText {
            body: self.body.clone(),
            preview_url: self.preview_url,
        }
    }

    pub(super) fn to_object(&self) -> TextObject {
        TextObject {
            preview_url: self.preview_url,
            body: self.body.clone(),
        }
    }
}

/// The stored body of a text message: `{"type": "text", "body", "previewUrl"}`.
#[derive(Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct StoredText {
    body: String,
    /// Follows from the body; stored so that readers of the table need not work it out.
    #[serde(default)]
    preview_url: bool,
}

impl StoredText {
    pub(super) fn into_input(self) -> ContentInput {
        ContentInput {
            text: Some(self.body),
            ..ContentInput::typed("text")
        }
    }
}

/// Meta's `text` object: `{"preview_url"?, "body"}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TextObject {
    /// Left out when false, which is Meta's default.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub preview_url: bool,
    pub body: String,
}
