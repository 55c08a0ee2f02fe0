//! What an outbound message says: one validated [`MessageContent`] for every message type
//! WhatsApp's Cloud API sends, built from the neutral [`ContentInput`] that the REST shapes and
//! GraphQL map their requests to.
//!
//! This module owns three things about a message's content:
//! - the rules: [`MessageContent::parse`] checks every field once, against Meta's documented
//!   limits, so a value that exists is one Meta will accept the shape of;
//! - Parley's stored form: [`MessageContent::to_body`] and [`MessageContent::from_body`], the JSON
//!   kept in `messages.body`;
//! - the Cloud API request: [`MessageContent::to_request`] (typed, see
//!   [`crate::whatsapp::request`]) and [`MessageContent::to_cloud_api`] (as JSON).
//!
//! # What `parse` accepts
//! `message_type` is one of `text`, `image`, `video`, `audio`, `document`, `sticker`, `location`,
//! `contacts`, `template`, `interactive`, `reaction`, in any case. Only the type's own field may
//! be set (`text` also serves as the caption of image, video and document messages), so a request
//! that mixes types is refused instead of half-sent. Optional strings that are empty or blank
//! count as absent; required ones must not be blank. Lengths count characters (Unicode scalar
//! values), as Meta does, never bytes.
//!
//! `interactive` is JSON in Meta's own shape or in a flat one, which may be mixed:
//! ```json
//! {"type": "button", "header": {"type": "text", "text": "Order 42"}, "body": {"text": "Ship it?"},
//!  "footer": {"text": "Acme"},
//!  "action": {"buttons": [{"type": "reply", "reply": {"id": "yes", "title": "Yes"}}]}}
//! {"type": "button", "header": "Order 42", "body": "Ship it?", "footer": "Acme",
//!  "buttons": [{"id": "yes", "title": "Yes"}]}
//! {"type": "list", "body": {"text": "Pick a slot"},
//!  "action": {"button": "Slots", "sections": [{"title": "Today",
//!    "rows": [{"id": "am", "title": "Morning", "description": "9–12"}]}]}}
//! {"type": "list", "body": "Pick a slot", "button": "Slots",
//!  "sections": [{"rows": [{"id": "am", "title": "Morning"}]}]}
//! ```
//! Only text headers are accepted: media headers would need their own URL checks.
//!
//! # The stored body
//! Parley's own keys are camelCase; objects that are Meta's (contact cards, template
//! components) keep Meta's spelling. One example per type:
//! ```json
//! {"type": "text", "body": "See https://example.com", "previewUrl": true}
//! {"type": "image", "url": "https://example.com/a.jpg", "caption": "Front",
//!  "mimeType": "image/jpeg"}
//! {"type": "document", "url": "https://example.com/q.pdf", "caption": "Quote",
//!  "filename": "q.pdf", "mimeType": "application/pdf"}
//! {"type": "location", "latitude": 52.52, "longitude": 13.405, "name": "Office",
//!  "address": "Main St 1"}
//! {"type": "contacts", "contacts": [{"name": {"formatted_name": "Ada Lovelace"},
//!  "phones": [{"phone": "+441234", "type": "WORK"}]}]}
//! {"type": "template", "name": "order_update", "language": "en_US",
//!  "components": [{"type": "body", "parameters": [{"type": "text", "text": "42"}]}]}
//! {"type": "interactive", "interactive": {"type": "button", "body": "Ship it?",
//!  "header": "Order 42", "buttons": [{"id": "yes", "title": "Yes"}]}}
//! {"type": "interactive", "interactive": {"type": "list", "body": "Pick a slot",
//!  "button": "Slots", "sections": [{"title": "Today",
//!  "rows": [{"id": "am", "title": "Morning", "description": "9–12"}]}]}}
//! {"type": "reaction", "messageId": "0191f0c2-…", "emoji": "👍"}
//! ```
//! `video`, `audio` and `sticker` are stored like `image`. Absent optional keys are left out,
//! except a template's `components`, which is `[]` when there are none.
//! [`MessageContent::from_body`] reads a body back through [`MessageContent::parse`], so a stored
//! body that was edited by hand is held to the same rules as a request.

use std::collections::HashSet;
use std::fmt;

use entity::message::MessageType;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use thiserror::Error;
use uuid::Uuid;

use crate::domain::MediaUrl;
use crate::domain::media_url::MediaUrlError;
use crate::whatsapp::request as wa;
use ContentErrorKind::{InvalidRequest, TemplateMalformed};

/// Meta's limit on a text message's body.
const TEXT_MAX: usize = 4096;
/// Meta's limit on a media caption.
const CAPTION_MAX: usize = 1024;
/// Longer names are cut by common file systems; Meta documents no limit of its own.
const FILENAME_MAX: usize = 240;
/// RFC 6838 allows 127 + 127; real types are far shorter.
const MIME_TYPE_MAX: usize = 100;
/// Meta documents no limit for a location's name and address; this keeps them bounded.
const LOCATION_TEXT_MAX: usize = 1000;
/// Meta allows 257 cards; a CRM sends a few, and every card is shown to the user at once.
const CONTACTS_MAX: usize = 10;
/// Serialized size of all cards together.
const CONTACTS_MAX_BYTES: usize = 16 * 1024;
const TEMPLATE_NAME_MAX: usize = 512;
const TEMPLATE_COMPONENTS_MAX: usize = 10;
/// Serialized size of all components together.
const TEMPLATE_COMPONENTS_MAX_BYTES: usize = 32 * 1024;
/// A text parameter fills a template that is itself at most a text message long.
const TEMPLATE_TEXT_PARAMETER_MAX: usize = 4096;
/// Meta allows at most ten buttons in a template, indexed 0 to 9.
const TEMPLATE_BUTTON_INDEX_MAX: u64 = 9;
const BUTTONS_MAX: usize = 3;
const BUTTON_TITLE_MAX: usize = 20;
const BUTTON_ID_MAX: usize = 256;
const BUTTONS_BODY_MAX: usize = 1024;
const HEADER_MAX: usize = 60;
const FOOTER_MAX: usize = 60;
const LIST_BODY_MAX: usize = 4096;
const LIST_BUTTON_MAX: usize = 20;
const LIST_SECTIONS_MAX: usize = 10;
const LIST_ROWS_MAX: usize = 10;
const ROW_ID_MAX: usize = 200;
const ROW_TITLE_MAX: usize = 24;
const ROW_DESCRIPTION_MAX: usize = 72;
const SECTION_TITLE_MAX: usize = 24;
/// The longest emoji sequences in use (families, flags of subdivisions) stay within this.
const EMOJI_MAX_CHARS: usize = 10;

const TEMPLATE_COMPONENT_TYPES: [&str; 4] = ["header", "body", "footer", "button"];
const TEMPLATE_PARAMETER_TYPES: [&str; 10] = [
    "text",
    "currency",
    "date_time",
    "image",
    "video",
    "document",
    "location",
    "payload",
    "action",
    "coupon_code",
];
const TEMPLATE_BUTTON_SUB_TYPES: [&str; 8] = [
    "quick_reply",
    "url",
    "copy_code",
    "flow",
    "catalog",
    "mpm",
    "voice_call",
    "order_details",
];

/// The content of a send request, as the REST shapes and GraphQL hand it in; field names are
/// Parley's neutral ones, not any one API's. See the module docs for what is accepted.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct ContentInput {
    /// `text`, `image`, …, `reaction`, in any case.
    pub message_type: Option<String>,
    /// The body of a text message, or the caption of a media message without `media.caption`.
    pub text: Option<String>,
    pub media: Option<MediaInput>,
    pub location: Option<LocationInput>,
    /// A list of contact cards in Meta's shape (`name.formatted_name`, `phones`, `emails`, …).
    pub contacts: Option<Value>,
    pub template: Option<TemplateInput>,
    /// A button or list message; see the module docs for the accepted shapes.
    pub interactive: Option<Value>,
    pub reaction: Option<ReactionInput>,
}

/// A hosted media file and how to present it.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct MediaInput {
    pub url: String,
    pub caption: Option<String>,
    pub file_name: Option<String>,
    pub mime_type: Option<String>,
}

/// A point on the map, in decimal degrees.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct LocationInput {
    pub latitude: f64,
    pub longitude: f64,
    pub name: Option<String>,
    pub address: Option<String>,
}

/// An approved template and the values for its variables.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct TemplateInput {
    pub name: String,
    pub language_code: String,
    /// Meta's `components` array; absent means none.
    pub components: Option<Value>,
}

/// An emoji reaction to an earlier message of the conversation.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct ReactionInput {
    /// Parley's id of the message reacted to.
    pub message_id: String,
    /// One emoji, or empty to remove an earlier reaction.
    pub emoji: String,
}

/// The validated content of an outbound message. Build it with [`MessageContent::parse`] or
/// [`MessageContent::from_body`]: the variants' fields are public for reading, and a value put
/// together by hand skips the checks.
#[derive(Debug, Clone, PartialEq)]
pub enum MessageContent {
    Text {
        body: String,
        /// The body holds an `http://` or `https://` link, so WhatsApp is asked to preview it.
        preview_url: bool,
    },
    Media {
        kind: MediaKind,
        url: MediaUrl,
        /// Image, video and document only.
        caption: Option<String>,
        /// Document only.
        filename: Option<String>,
        /// Kept for Parley's own use: the Cloud API takes no MIME type for hosted media.
        mime_type: Option<String>,
    },
    Location {
        latitude: f64,
        longitude: f64,
        name: Option<String>,
        address: Option<String>,
    },
    /// Contact cards in Meta's shape, each with a `name.formatted_name`.
    Contacts(Vec<Value>),
    Template {
        name: String,
        /// `en`, `en_US`, `pt_BR`, …
        language: String,
        /// Meta's components with `type` (and a button's `sub_type`) in lowercase and a button's
        /// `index` as a string, as Meta's examples write them.
        components: Vec<Value>,
    },
    Interactive(Interactive),
    Reaction {
        /// Parley's id of the message reacted to.
        message_id: Uuid,
        /// Empty to remove an earlier reaction.
        emoji: String,
    },
}

/// The kinds of hosted media WhatsApp sends.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum MediaKind {
    Image,
    Video,
    Audio,
    Document,
    Sticker,
}

/// A message with reply buttons or a list to pick from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Interactive {
    Buttons {
        body: String,
        header: Option<String>,
        footer: Option<String>,
        buttons: Vec<ReplyButton>,
    },
    List {
        body: String,
        header: Option<String>,
        footer: Option<String>,
        /// The label of the button that opens the list.
        button: String,
        sections: Vec<ListSection>,
    },
}

/// A reply button; its `id` comes back in the webhook when the user taps it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ReplyButton {
    pub id: String,
    pub title: String,
}

/// A titled group of rows in a list message.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ListSection {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub title: Option<String>,
    pub rows: Vec<ListRow>,
}

/// One choice of a list message; its `id` comes back in the webhook when the user picks it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ListRow {
    pub id: String,
    pub title: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
}

/// Why content was refused; the message is fit to show an API client.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[error("{message}")]
pub struct ContentError {
    pub kind: ContentErrorKind,
    pub message: String,
}

/// Which of the contract's error codes a [`ContentError`] is answered with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ContentErrorKind {
    /// `invalid_request`
    InvalidRequest,
    /// `invalid_media_url`
    InvalidMediaUrl,
    /// `template_malformed`
    TemplateMalformed,
}

impl ContentError {
    fn invalid(message: impl Into<String>) -> Self {
        Self {
            kind: ContentErrorKind::InvalidRequest,
            message: message.into(),
        }
    }

    fn template(message: impl Into<String>) -> Self {
        Self {
            kind: ContentErrorKind::TemplateMalformed,
            message: message.into(),
        }
    }

    fn new(kind: ContentErrorKind, message: impl Into<String>) -> Self {
        Self {
            kind,
            message: message.into(),
        }
    }
}

impl From<MediaUrlError> for ContentError {
    fn from(error: MediaUrlError) -> Self {
        Self::new(ContentErrorKind::InvalidMediaUrl, error.to_string())
    }
}

impl MediaKind {
    /// The Cloud API's name for the kind: `image`, `video`, …
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Image => "image",
            Self::Video => "video",
            Self::Audio => "audio",
            Self::Document => "document",
            Self::Sticker => "sticker",
        }
    }

    /// The kind with its indefinite article, for messages: "an image", "a video".
    fn with_article(self) -> &'static str {
        match self {
            Self::Image => "an image",
            Self::Video => "a video",
            Self::Audio => "an audio",
            Self::Document => "a document",
            Self::Sticker => "a sticker",
        }
    }

    /// Meta shows a caption under images, videos and documents only.
    fn takes_caption(self) -> bool {
        matches!(self, Self::Image | Self::Video | Self::Document)
    }
}

impl fmt::Display for MediaKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The `message_type` of a request, before its field is read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum ContentType {
    Text,
    Media(MediaKind),
    Location,
    Contacts,
    Template,
    Interactive,
    Reaction,
}

impl ContentType {
    const NAMES: &str = "text, image, video, audio, document, sticker, location, contacts, \
                         template, interactive, reaction";

    fn parse(raw: Option<&str>) -> Result<Self, ContentError> {
        let raw = raw.map(str::trim).unwrap_or_default();
        if raw.is_empty() {
            return Err(ContentError::invalid(format!(
                "message type is required: one of {}",
                Self::NAMES
            )));
        }
        let kind = match raw.to_ascii_lowercase().as_str() {
            "text" => Self::Text,
            "image" => Self::Media(MediaKind::Image),
            "video" => Self::Media(MediaKind::Video),
            "audio" => Self::Media(MediaKind::Audio),
            "document" => Self::Media(MediaKind::Document),
            "sticker" => Self::Media(MediaKind::Sticker),
            "location" => Self::Location,
            "contacts" => Self::Contacts,
            "template" => Self::Template,
            "interactive" => Self::Interactive,
            "reaction" => Self::Reaction,
            _ => {
                // Echo short values only: the type may be anything a client sent.
                let shown = if raw.chars().count() <= 32 {
                    format!(" `{raw}`")
                } else {
                    String::new()
                };
                return Err(ContentError::invalid(format!(
                    "unknown message type{shown}: expected one of {}",
                    Self::NAMES
                )));
            }
        };
        Ok(kind)
    }

    fn name(self) -> &'static str {
        match self {
            Self::Text => "text",
            Self::Media(kind) => kind.as_str(),
            Self::Location => "location",
            Self::Contacts => "contacts",
            Self::Template => "template",
            Self::Interactive => "interactive",
            Self::Reaction => "reaction",
        }
    }

    /// The input fields a message of this type is made from.
    fn fields(self) -> &'static [&'static str] {
        match self {
            Self::Text => &["text"],
            Self::Media(_) => &["media", "text"],
            Self::Location => &["location"],
            Self::Contacts => &["contacts"],
            Self::Template => &["template"],
            Self::Interactive => &["interactive"],
            Self::Reaction => &["reaction"],
        }
    }
}

impl ContentInput {
    /// Refuses fields of another type: sending half of what a client meant is worse than nothing.
    fn reject_foreign_fields(&self, content_type: ContentType) -> Result<(), ContentError> {
        let present = [
            ("text", self.text.as_deref().is_some_and(is_present)),
            ("media", self.media.is_some()),
            ("location", self.location.is_some()),
            (
                "contacts",
                self.contacts.as_ref().is_some_and(|v| !v.is_null()),
            ),
            ("template", self.template.is_some()),
            (
                "interactive",
                self.interactive.as_ref().is_some_and(|v| !v.is_null()),
            ),
            ("reaction", self.reaction.is_some()),
        ];
        let own = content_type.fields();
        match present
            .iter()
            .find(|(field, is_set)| *is_set && !own.contains(field))
        {
            Some((field, _)) => Err(ContentError::invalid(format!(
                "`{field}` does not apply to a message of type {}",
                content_type.name()
            ))),
            None => Ok(()),
        }
    }
}

impl MessageContent {
    /// Checks `input` against the rules of its message type; see the module docs.
    pub fn parse(input: ContentInput) -> Result<MessageContent, ContentError> {
        let content_type = ContentType::parse(input.message_type.as_deref())?;
        input.reject_foreign_fields(content_type)?;
        match content_type {
            ContentType::Text => parse_text(input.text),
            ContentType::Media(kind) => parse_media(kind, input.media, input.text),
            ContentType::Location => parse_location(input.location),
            ContentType::Contacts => parse_contacts(input.contacts),
            ContentType::Template => parse_template(input.template),
            ContentType::Interactive => parse_interactive(input.interactive),
            ContentType::Reaction => parse_reaction(input.reaction),
        }
    }

    /// The type stored in `messages.type`.
    pub fn message_type(&self) -> MessageType {
        match self {
            Self::Text { .. } => MessageType::Text,
            Self::Media { kind, .. } => match kind {
                MediaKind::Image => MessageType::Image,
                MediaKind::Video => MessageType::Video,
                MediaKind::Audio => MessageType::Audio,
                MediaKind::Document => MessageType::Document,
                MediaKind::Sticker => MessageType::Sticker,
            },
            Self::Location { .. } => MessageType::Location,
            Self::Contacts(_) => MessageType::Contacts,
            Self::Template { .. } => MessageType::Template,
            Self::Interactive(_) => MessageType::Interactive,
            Self::Reaction { .. } => MessageType::Reaction,
        }
    }

    /// A line of text for previews and search (`messages.text`): the body, the caption (or a
    /// document's file name), `📍 name`, `👤 names`, the template's name, the interactive body,
    /// the emoji. `None` when the message has no words, like an uncaptioned image.
    pub fn preview_text(&self) -> Option<String> {
        match self {
            Self::Text { body, .. } => Some(body.clone()),
            Self::Media {
                caption, filename, ..
            } => caption.clone().or_else(|| filename.clone()),
            Self::Location {
                latitude,
                longitude,
                name,
                address,
            } => Some(match name.as_ref().or(address.as_ref()) {
                Some(label) => format!("📍 {label}"),
                None => format!("📍 {latitude}, {longitude}"),
            }),
            Self::Contacts(cards) => {
                let names: Vec<&str> = cards
                    .iter()
                    .filter_map(|card| card.pointer("/name/formatted_name")?.as_str())
                    .collect();
                Some(format!("👤 {}", names.join(", ")))
            }
            Self::Template { name, .. } => Some(name.clone()),
            Self::Interactive(
                Interactive::Buttons { body, .. } | Interactive::List { body, .. },
            ) => Some(body.clone()),
            Self::Reaction { emoji, .. } => (!emoji.is_empty()).then(|| emoji.clone()),
        }
    }

    /// The Parley message a reaction points at.
    pub fn reaction_target(&self) -> Option<Uuid> {
        match self {
            Self::Reaction { message_id, .. } => Some(*message_id),
            _ => None,
        }
    }

    /// Parley's stored JSON form, kept in `messages.body`; see the module docs for the format.
    pub fn to_body(&self) -> Value {
        let stored = match self {
            Self::Text { body, preview_url } => StoredBody::Text {
                body: body.clone(),
                preview_url: *preview_url,
            },
            Self::Media {
                kind,
                url,
                caption,
                filename,
                mime_type,
            } => {
                let media = StoredMedia {
                    url: url.as_str().to_owned(),
                    caption: caption.clone(),
                    filename: filename.clone(),
                    mime_type: mime_type.clone(),
                };
                match kind {
                    MediaKind::Image => StoredBody::Image(media),
                    MediaKind::Video => StoredBody::Video(media),
                    MediaKind::Audio => StoredBody::Audio(media),
                    MediaKind::Document => StoredBody::Document(media),
                    MediaKind::Sticker => StoredBody::Sticker(media),
                }
            }
            Self::Location {
                latitude,
                longitude,
                name,
                address,
            } => StoredBody::Location {
                latitude: *latitude,
                longitude: *longitude,
                name: name.clone(),
                address: address.clone(),
            },
            Self::Contacts(cards) => StoredBody::Contacts {
                contacts: cards.clone(),
            },
            Self::Template {
                name,
                language,
                components,
            } => StoredBody::Template {
                name: name.clone(),
                language: language.clone(),
                components: components.clone(),
            },
            Self::Interactive(interactive) => StoredBody::Interactive {
                interactive: interactive.to_stored(),
            },
            Self::Reaction { message_id, emoji } => StoredBody::Reaction {
                message_id: *message_id,
                emoji: emoji.clone(),
            },
        };
        serde_json::to_value(stored).expect("a stored body has only string keys")
    }

    /// Reads back what [`MessageContent::to_body`] wrote, held to the rules of
    /// [`MessageContent::parse`].
    pub fn from_body(body: &Value) -> Result<MessageContent, ContentError> {
        let stored = StoredBody::deserialize(body).map_err(|error| {
            ContentError::invalid(format!("stored message body is not valid: {error}"))
        })?;
        Self::parse(stored.into_input())
    }

    /// The Cloud API request that sends this content to `to`, as a contextual reply to
    /// `reply_to_wamid` if given. `reaction_wamid` is the wamid of the message a reaction points
    /// at; the caller resolves it from [`MessageContent::reaction_target`].
    ///
    /// Fails only for a reaction without a wamid: the message reacted to never reached WhatsApp.
    /// A reaction is never sent as a reply, which Meta refuses; it already names its message.
    pub fn to_request(
        &self,
        to: &str,
        reply_to_wamid: Option<&str>,
        reaction_wamid: Option<&str>,
    ) -> Result<wa::MessageRequest, ContentError> {
        let payload = match self {
            Self::Text { body, preview_url } => wa::Payload::Text {
                text: wa::Text {
                    preview_url: *preview_url,
                    body: body.clone(),
                },
            },
            Self::Media {
                kind,
                url,
                caption,
                filename,
                mime_type: _,
            } => {
                let media = wa::Media {
                    link: url.as_str().to_owned(),
                    caption: caption.clone(),
                    filename: filename.clone(),
                };
                match kind {
                    MediaKind::Image => wa::Payload::Image { image: media },
                    MediaKind::Video => wa::Payload::Video { video: media },
                    MediaKind::Audio => wa::Payload::Audio { audio: media },
                    MediaKind::Document => wa::Payload::Document { document: media },
                    MediaKind::Sticker => wa::Payload::Sticker { sticker: media },
                }
            }
            Self::Location {
                latitude,
                longitude,
                name,
                address,
            } => wa::Payload::Location {
                location: wa::Location {
                    latitude: *latitude,
                    longitude: *longitude,
                    name: name.clone(),
                    address: address.clone(),
                },
            },
            Self::Contacts(cards) => wa::Payload::Contacts {
                contacts: cards.clone(),
            },
            Self::Template {
                name,
                language,
                components,
            } => wa::Payload::Template {
                template: wa::Template {
                    name: name.clone(),
                    language: wa::Language {
                        code: language.clone(),
                    },
                    components: components.clone(),
                },
            },
            Self::Interactive(interactive) => wa::Payload::Interactive {
                interactive: interactive.to_request(),
            },
            Self::Reaction { emoji, .. } => {
                let wamid = reaction_wamid.filter(|wamid| !wamid.is_empty()).ok_or_else(|| {
                    ContentError::invalid(
                        "the message reacted to has no WhatsApp message id yet, so it cannot be \
                         reacted to",
                    )
                })?;
                wa::Payload::Reaction {
                    reaction: wa::Reaction {
                        message_id: wamid.to_owned(),
                        emoji: emoji.clone(),
                    },
                }
            }
        };
        let context = match self {
            Self::Reaction { .. } => None,
            _ => reply_to_wamid.map(|wamid| wa::Context {
                message_id: wamid.to_owned(),
            }),
        };
        Ok(wa::MessageRequest::individual(to, payload, context))
    }

    /// [`MessageContent::to_request`] as the JSON body of
    /// `POST /{version}/{phone_number_id}/messages`.
    pub fn to_cloud_api(
        &self,
        to: &str,
        reply_to_wamid: Option<&str>,
        reaction_wamid: Option<&str>,
    ) -> Result<Value, ContentError> {
        let request = self.to_request(to, reply_to_wamid, reaction_wamid)?;
        Ok(serde_json::to_value(request).expect("a Cloud API request has only string keys"))
    }
}

impl Interactive {
    fn to_request(&self) -> wa::Interactive {
        let header = |header: &Option<String>| header.clone().map(|text| wa::Header::Text { text });
        let text = |text: &String| wa::TextObject { text: text.clone() };
        match self {
            Self::Buttons {
                body,
                header: head,
                footer,
                buttons,
            } => wa::Interactive::Button {
                header: header(head),
                body: text(body),
                footer: footer.as_ref().map(text),
                action: wa::ButtonAction {
                    buttons: buttons
                        .iter()
                        .map(|button| wa::Button::Reply {
                            reply: wa::Reply {
                                id: button.id.clone(),
                                title: button.title.clone(),
                            },
                        })
                        .collect(),
                },
            },
            Self::List {
                body,
                header: head,
                footer,
                button,
                sections,
            } => wa::Interactive::List {
                header: header(head),
                body: text(body),
                footer: footer.as_ref().map(text),
                action: wa::ListAction {
                    button: button.clone(),
                    sections: sections
                        .iter()
                        .map(|section| wa::Section {
                            title: section.title.clone(),
                            rows: section
                                .rows
                                .iter()
                                .map(|row| wa::Row {
                                    id: row.id.clone(),
                                    title: row.title.clone(),
                                    description: row.description.clone(),
                                })
                                .collect(),
                        })
                        .collect(),
                },
            },
        }
    }

    /// The flat form that `parse` also accepts, so that `from_body` can read it back.
    fn to_stored(&self) -> Value {
        let mut object = Map::new();
        let (kind, body, header, footer) = match self {
            Self::Buttons {
                body,
                header,
                footer,
                ..
            } => ("button", body, header, footer),
            Self::List {
                body,
                header,
                footer,
                ..
            } => ("list", body, header, footer),
        };
        object.insert("type".into(), kind.into());
        object.insert("body".into(), body.as_str().into());
        if let Some(header) = header {
            object.insert("header".into(), header.as_str().into());
        }
        if let Some(footer) = footer {
            object.insert("footer".into(), footer.as_str().into());
        }
        match self {
            Self::Buttons { buttons, .. } => {
                object.insert("buttons".into(), serialize(buttons));
            }
            Self::List {
                button, sections, ..
            } => {
                object.insert("button".into(), button.as_str().into());
                object.insert("sections".into(), serialize(sections));
            }
        }
        Value::Object(object)
    }
}

fn serialize<T: Serialize>(value: &T) -> Value {
    serde_json::to_value(value).expect("buttons and sections have only string keys")
}

/// Parley's stored body: see the module docs.
#[derive(Debug, Serialize, Deserialize)]
#[serde(
    tag = "type",
    rename_all = "lowercase",
    rename_all_fields = "camelCase"
)]
enum StoredBody {
    Text {
        body: String,
        /// Follows from the body; stored so that readers of the table need not work it out.
        #[serde(default)]
        preview_url: bool,
    },
    Image(StoredMedia),
    Video(StoredMedia),
    Audio(StoredMedia),
    Document(StoredMedia),
    Sticker(StoredMedia),
    Location {
        latitude: f64,
        longitude: f64,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        name: Option<String>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        address: Option<String>,
    },
    Contacts {
        contacts: Vec<Value>,
    },
    Template {
        name: String,
        language: String,
        #[serde(default)]
        components: Vec<Value>,
    },
    Interactive {
        interactive: Value,
    },
    Reaction {
        message_id: Uuid,
        emoji: String,
    },
}

#[derive(Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct StoredMedia {
    url: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    caption: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    filename: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    mime_type: Option<String>,
}

impl StoredBody {
    fn into_input(self) -> ContentInput {
        let typed = |message_type: &str| ContentInput {
            message_type: Some(message_type.to_owned()),
            ..ContentInput::default()
        };
        let media = |kind: MediaKind, media: StoredMedia| ContentInput {
            media: Some(MediaInput {
                url: media.url,
                caption: media.caption,
                file_name: media.filename,
                mime_type: media.mime_type,
            }),
            ..typed(kind.as_str())
        };
        match self {
            Self::Text { body, .. } => ContentInput {
                text: Some(body),
                ..typed("text")
            },
            Self::Image(m) => media(MediaKind::Image, m),
            Self::Video(m) => media(MediaKind::Video, m),
            Self::Audio(m) => media(MediaKind::Audio, m),
            Self::Document(m) => media(MediaKind::Document, m),
            Self::Sticker(m) => media(MediaKind::Sticker, m),
            Self::Location {
                latitude,
                longitude,
                name,
                address,
            } => ContentInput {
                location: Some(LocationInput {
                    latitude,
                    longitude,
                    name,
                    address,
                }),
                ..typed("location")
            },
            Self::Contacts { contacts } => ContentInput {
                contacts: Some(Value::Array(contacts)),
                ..typed("contacts")
            },
            Self::Template {
                name,
                language,
                components,
            } => ContentInput {
                template: Some(TemplateInput {
                    name,
                    language_code: language,
                    components: Some(Value::Array(components)),
                }),
                ..typed("template")
            },
            Self::Interactive { interactive } => ContentInput {
                interactive: Some(interactive),
                ..typed("interactive")
            },
            Self::Reaction { message_id, emoji } => ContentInput {
                reaction: Some(ReactionInput {
                    message_id: message_id.to_string(),
                    emoji,
                }),
                ..typed("reaction")
            },
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Strings

/// Not empty and not only whitespace.
fn is_present(value: &str) -> bool {
    !value.trim().is_empty()
}

/// An optional string, with an empty or blank one counted as absent: forms send `""` for
/// "not given".
fn present(value: Option<String>) -> Option<String> {
    value.filter(|v| is_present(v))
}

/// Characters as Meta counts them: Unicode scalar values, not bytes.
fn char_count(value: &str) -> usize {
    value.chars().count()
}

/// `value` is at most `max` characters long.
fn check_max(
    kind: ContentErrorKind,
    what: &str,
    value: &str,
    max: usize,
) -> Result<(), ContentError> {
    let count = char_count(value);
    if count > max {
        return Err(ContentError::new(
            kind,
            format!("{what} must be at most {max} characters (it has {count})"),
        ));
    }
    Ok(())
}

/// `value` is not blank and at most `max` characters long.
fn check_required(
    kind: ContentErrorKind,
    what: &str,
    value: &str,
    max: usize,
) -> Result<(), ContentError> {
    if !is_present(value) {
        return Err(ContentError::new(kind, format!("{what} must not be empty")));
    }
    check_max(kind, what, value, max)
}

// ---------------------------------------------------------------------------------------------
// Text and media

fn parse_text(text: Option<String>) -> Result<MessageContent, ContentError> {
    let body = text.ok_or_else(|| ContentError::invalid("a text message needs `text`"))?;
    check_required(InvalidRequest, "text", &body, TEXT_MAX)?;
    let lowercase = body.to_ascii_lowercase();
    let preview_url = lowercase.contains("http://") || lowercase.contains("https://");
    Ok(MessageContent::Text { body, preview_url })
}

fn parse_media(
    kind: MediaKind,
    media: Option<MediaInput>,
    text: Option<String>,
) -> Result<MessageContent, ContentError> {
    let media = media.ok_or_else(|| {
        ContentError::invalid(format!(
            "{} message needs `media` with a `url`",
            kind.with_article()
        ))
    })?;
    let url = MediaUrl::parse(&media.url)?;
    let caption = present(media.caption).or_else(|| present(text));
    if let Some(caption) = &caption {
        if !kind.takes_caption() {
            return Err(ContentError::invalid(format!(
                "{kind} messages cannot have a caption; only image, video and document can"
            )));
        }
        check_max(InvalidRequest, "caption", caption, CAPTION_MAX)?;
    }
    let filename = present(media.file_name);
    if let Some(filename) = &filename {
        if kind != MediaKind::Document {
            return Err(ContentError::invalid(format!(
                "{kind} messages cannot have a file name; only document can"
            )));
        }
        check_filename(filename)?;
    }
    let mime_type = present(media.mime_type)
        .map(|mime_type| check_mime_type(&mime_type).map(|()| mime_type.to_ascii_lowercase()))
        .transpose()?;
    Ok(MessageContent::Media {
        kind,
        url,
        caption,
        filename,
        mime_type,
    })
}

/// The name the recipient sees and saves the file under: no paths, nothing unprintable.
fn check_filename(filename: &str) -> Result<(), ContentError> {
    check_max(InvalidRequest, "file name", filename, FILENAME_MAX)?;
    if filename.contains(['/', '\\']) {
        return Err(ContentError::invalid(
            "file name must not contain a path separator (/ or \\)",
        ));
    }
    if filename.chars().any(char::is_control) {
        return Err(ContentError::invalid(
            "file name must not contain control characters",
        ));
    }
    if filename.trim() == "." || filename.trim() == ".." {
        return Err(ContentError::invalid("file name must name a file"));
    }
    Ok(())
}

/// `type/subtype`, both RFC 6838 restricted names; parameters (`; charset=…`) are not kept.
fn check_mime_type(mime_type: &str) -> Result<(), ContentError> {
    let is_name = |part: &str| {
        !part.is_empty()
            && part.starts_with(|c: char| c.is_ascii_alphanumeric())
            && part
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || "!#$&^_.+-".contains(c))
    };
    let well_formed = mime_type.len() <= MIME_TYPE_MAX
        && mime_type
            .split_once('/')
            .is_some_and(|(kind, subtype)| is_name(kind) && is_name(subtype));
    if !well_formed {
        return Err(ContentError::invalid(format!(
            "MIME type must look like type/subtype (e.g. application/pdf), at most \
             {MIME_TYPE_MAX} characters"
        )));
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// Location and contacts

fn parse_location(location: Option<LocationInput>) -> Result<MessageContent, ContentError> {
    let location = location.ok_or_else(|| {
        ContentError::invalid("a location message needs `location` with `latitude` and `longitude`")
    })?;
    if !location.latitude.is_finite() || !(-90.0..=90.0).contains(&location.latitude) {
        return Err(ContentError::invalid(
            "latitude must be a number from -90 to 90",
        ));
    }
    if !location.longitude.is_finite() || !(-180.0..=180.0).contains(&location.longitude) {
        return Err(ContentError::invalid(
            "longitude must be a number from -180 to 180",
        ));
    }
    let name = present(location.name);
    let address = present(location.address);
    if let Some(name) = &name {
        check_max(InvalidRequest, "location name", name, LOCATION_TEXT_MAX)?;
    }
    if let Some(address) = &address {
        check_max(
            InvalidRequest,
            "location address",
            address,
            LOCATION_TEXT_MAX,
        )?;
    }
    Ok(MessageContent::Location {
        latitude: location.latitude,
        longitude: location.longitude,
        name,
        address,
    })
}

fn parse_contacts(contacts: Option<Value>) -> Result<MessageContent, ContentError> {
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
    Ok(MessageContent::Contacts(cards))
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

// ---------------------------------------------------------------------------------------------
// Templates

fn parse_template(template: Option<TemplateInput>) -> Result<MessageContent, ContentError> {
    let template = template.ok_or_else(|| {
        ContentError::invalid(
            "a template message needs `template` with a `name` and a language code",
        )
    })?;
    let name = template.name;
    let name_ok = (1..=TEMPLATE_NAME_MAX).contains(&name.len())
        && name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_');
    if !name_ok {
        return Err(ContentError::template(format!(
            "template name must be 1 to {TEMPLATE_NAME_MAX} lowercase letters, digits or \
             underscores"
        )));
    }
    let language = template.language_code;
    if !is_language_code(&language) {
        return Err(ContentError::template(
            "template language code must look like en, en_US or pt_BR",
        ));
    }
    let components = match template.components {
        None | Some(Value::Null) => Vec::new(),
        Some(Value::Array(components)) => components,
        Some(_) => {
            return Err(ContentError::template("template components must be a list"));
        }
    };
    if components.len() > TEMPLATE_COMPONENTS_MAX {
        return Err(ContentError::template(format!(
            "a template takes at most {TEMPLATE_COMPONENTS_MAX} components (it has {})",
            components.len()
        )));
    }
    if Value::Array(components.clone()).to_string().len() > TEMPLATE_COMPONENTS_MAX_BYTES {
        return Err(ContentError::template(format!(
            "template components must be at most {} KiB of JSON",
            TEMPLATE_COMPONENTS_MAX_BYTES / 1024
        )));
    }
    let components = components
        .into_iter()
        .enumerate()
        .map(|(index, component)| normalize_component(index + 1, component))
        .collect::<Result<_, _>>()?;
    Ok(MessageContent::Template {
        name,
        language,
        components,
    })
}

/// `en`, `fil`, `en_US`, `pt_BR`: 2 or 3 lowercase letters, then optionally `_` and 2 uppercase
/// letters or digits, as Meta spells its template languages.
fn is_language_code(code: &str) -> bool {
    let (language, region) = match code.split_once('_') {
        Some((language, region)) => (language, Some(region)),
        None => (code, None),
    };
    (2..=3).contains(&language.len())
        && language.bytes().all(|b| b.is_ascii_lowercase())
        && region.is_none_or(|region| {
            region.len() == 2
                && region
                    .bytes()
                    .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit())
        })
}

/// Checks one component and spells it the way Meta's examples do: lowercase `type`,
/// `sub_type` and parameter types, and a button's `index` as a string.
fn normalize_component(number: usize, component: Value) -> Result<Value, ContentError> {
    let fail =
        |what: String| ContentError::template(format!("template component {number}: {what}"));
    let Value::Object(mut component) = component else {
        return Err(fail("must be an object".into()));
    };
    let kind = lowercase_member(&component, "type")
        .filter(|kind| TEMPLATE_COMPONENT_TYPES.contains(&kind.as_str()))
        .ok_or_else(|| {
            fail(format!(
                "`type` must be one of {}",
                TEMPLATE_COMPONENT_TYPES.join(", ")
            ))
        })?;
    if kind == "button" {
        let sub_type = lowercase_member(&component, "sub_type")
            .filter(|sub_type| TEMPLATE_BUTTON_SUB_TYPES.contains(&sub_type.as_str()))
            .ok_or_else(|| {
                fail(format!(
                    "a button needs `sub_type`, one of {}",
                    TEMPLATE_BUTTON_SUB_TYPES.join(", ")
                ))
            })?;
        let index = match component.get("index") {
            Some(Value::Number(n)) => n.as_u64(),
            Some(Value::String(s)) if s.len() <= 2 && s.bytes().all(|b| b.is_ascii_digit()) => {
                s.parse().ok()
            }
            _ => None,
        }
        .filter(|index| *index <= TEMPLATE_BUTTON_INDEX_MAX)
        .ok_or_else(|| {
            fail(format!(
                "a button needs `index`, from 0 to {TEMPLATE_BUTTON_INDEX_MAX}"
            ))
        })?;
        component.insert("sub_type".into(), sub_type.into());
        component.insert("index".into(), index.to_string().into());
    }
    component.insert("type".into(), kind.into());
    match component.remove("parameters") {
        None => {}
        Some(Value::Array(parameters)) => {
            let parameters = parameters
                .into_iter()
                .enumerate()
                .map(|(index, parameter)| normalize_parameter(number, index + 1, parameter))
                .collect::<Result<_, _>>()?;
            component.insert("parameters".into(), Value::Array(parameters));
        }
        Some(_) => return Err(fail("`parameters` must be a list".into())),
    }
    Ok(Value::Object(component))
}

fn normalize_parameter(
    component: usize,
    number: usize,
    parameter: Value,
) -> Result<Value, ContentError> {
    let fail = |what: String| {
        ContentError::template(format!(
            "template component {component}, parameter {number}: {what}"
        ))
    };
    let Value::Object(mut parameter) = parameter else {
        return Err(fail("must be an object".into()));
    };
    let kind = lowercase_member(&parameter, "type")
        .filter(|kind| TEMPLATE_PARAMETER_TYPES.contains(&kind.as_str()))
        .ok_or_else(|| {
            fail(format!(
                "`type` must be one of {}",
                TEMPLATE_PARAMETER_TYPES.join(", ")
            ))
        })?;
    if kind == "text" {
        match parameter.get("text") {
            Some(Value::String(text)) if !text.is_empty() => {
                check_max(
                    TemplateMalformed,
                    &format!("template component {component}, parameter {number}: `text`"),
                    text,
                    TEMPLATE_TEXT_PARAMETER_MAX,
                )?;
            }
            _ => {
                return Err(fail(
                    "a text parameter needs a non-empty string `text`".into(),
                ));
            }
        }
    }
    parameter.insert("type".into(), kind.into());
    Ok(Value::Object(parameter))
}

/// A string member, lowercased; `None` when absent or not a string.
fn lowercase_member(object: &Map<String, Value>, key: &str) -> Option<String> {
    object
        .get(key)
        .and_then(Value::as_str)
        .map(str::to_ascii_lowercase)
}

// ---------------------------------------------------------------------------------------------
// Interactive messages

fn parse_interactive(interactive: Option<Value>) -> Result<MessageContent, ContentError> {
    let interactive = match interactive {
        Some(Value::Object(object)) => object,
        Some(Value::Null) | None => {
            return Err(ContentError::invalid(
                "an interactive message needs `interactive`: a button or list message",
            ));
        }
        Some(_) => return Err(ContentError::invalid("interactive must be an object")),
    };
    let is_list = match lowercase_member(&interactive, "type").as_deref() {
        Some("button") => false,
        Some("list") => true,
        _ => {
            return Err(ContentError::invalid(
                "interactive `type` must be button or list",
            ));
        }
    };
    let action = match interactive.get("action") {
        None | Some(Value::Null) => None,
        Some(Value::Object(action)) => Some(action),
        Some(_) => {
            return Err(ContentError::invalid(
                "interactive action must be an object",
            ));
        }
    };
    // A member of `action` in Meta's shape, or of the message itself in the flat one.
    let member = |key: &str| {
        action
            .and_then(|action| action.get(key))
            .or_else(|| interactive.get(key))
            .filter(|value| !value.is_null())
    };
    let header = interactive_header(interactive.get("header"))?;
    let footer = optional_text(interactive.get("footer"), "interactive footer")?;
    if let Some(footer) = &footer {
        check_max(InvalidRequest, "interactive footer", footer, FOOTER_MAX)?;
    }
    let body = interactive
        .get("body")
        .filter(|body| !body.is_null())
        .ok_or_else(|| ContentError::invalid("an interactive message needs a `body`"))
        .and_then(|body| text_of(body, "interactive body"))?;
    let parsed = if is_list {
        check_required(InvalidRequest, "interactive body", &body, LIST_BODY_MAX)?;
        let button = match member("button") {
            Some(Value::String(button)) => button.clone(),
            _ => {
                return Err(ContentError::invalid(
                    "a list message needs `button`: the label of the button that opens it",
                ));
            }
        };
        check_required(InvalidRequest, "list button", &button, LIST_BUTTON_MAX)?;
        Interactive::List {
            body,
            header,
            footer,
            button,
            sections: parse_sections(member("sections"))?,
        }
    } else {
        check_required(InvalidRequest, "interactive body", &body, BUTTONS_BODY_MAX)?;
        Interactive::Buttons {
            body,
            header,
            footer,
            buttons: parse_buttons(member("buttons"))?,
        }
    };
    Ok(MessageContent::Interactive(parsed))
}

/// A text given as a string or as Meta's `{"text": …}`.
fn text_of(value: &Value, what: &str) -> Result<String, ContentError> {
    match value {
        Value::String(text) => Some(text.clone()),
        Value::Object(object) => object
            .get("text")
            .and_then(Value::as_str)
            .map(str::to_owned),
        _ => None,
    }
    .ok_or_else(|| {
        ContentError::invalid(format!(
            "{what} must be a string or an object with a string `text`"
        ))
    })
}

fn optional_text(value: Option<&Value>, what: &str) -> Result<Option<String>, ContentError> {
    match value {
        None | Some(Value::Null) => Ok(None),
        Some(value) => text_of(value, what).map(|text| present(Some(text))),
    }
}

/// A text header; media headers are refused rather than sent unchecked.
fn interactive_header(value: Option<&Value>) -> Result<Option<String>, ContentError> {
    if let Some(Value::Object(header)) = value
        && let Some(kind) = lowercase_member(header, "type").filter(|kind| kind != "text")
    {
        return Err(ContentError::invalid(format!(
            "interactive header must be text; `{}` headers are not supported",
            kind.chars().take(32).collect::<String>()
        )));
    }
    let header = optional_text(value, "interactive header")?;
    if let Some(header) = &header {
        check_max(InvalidRequest, "interactive header", header, HEADER_MAX)?;
    }
    Ok(header)
}

/// A required string member of a button, section or row.
fn string_member(
    object: &Map<String, Value>,
    key: &str,
    what: &str,
) -> Result<Option<String>, ContentError> {
    match object.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(value)) => Ok(Some(value.clone())),
        Some(_) => Err(ContentError::invalid(format!("{what} must be a string"))),
    }
}

fn parse_buttons(buttons: Option<&Value>) -> Result<Vec<ReplyButton>, ContentError> {
    let Some(Value::Array(buttons)) = buttons else {
        return Err(ContentError::invalid(format!(
            "a button message needs `buttons`: a list of 1 to {BUTTONS_MAX} reply buttons"
        )));
    };
    if buttons.is_empty() || buttons.len() > BUTTONS_MAX {
        return Err(ContentError::invalid(format!(
            "a button message takes 1 to {BUTTONS_MAX} buttons (it has {})",
            buttons.len()
        )));
    }
    let mut ids = HashSet::new();
    let mut titles = HashSet::new();
    let mut parsed = Vec::with_capacity(buttons.len());
    for (index, button) in buttons.iter().enumerate() {
        let what = |field: &str| format!("button {} {field}", index + 1);
        let Value::Object(button) = button else {
            return Err(ContentError::invalid(format!(
                "button {} must be an object",
                index + 1
            )));
        };
        // Meta's `{"type": "reply", "reply": {"id", "title"}}` or the flat `{"id", "title"}`.
        let reply = match button.get("reply") {
            Some(Value::Object(reply)) => {
                if lowercase_member(button, "type").is_some_and(|kind| kind != "reply") {
                    return Err(ContentError::invalid(format!(
                        "button {} `type` must be reply",
                        index + 1
                    )));
                }
                reply
            }
            Some(_) => {
                return Err(ContentError::invalid(format!(
                    "button {} `reply` must be an object",
                    index + 1
                )));
            }
            None => button,
        };
        let id = string_member(reply, "id", &what("id"))?.unwrap_or_default();
        let title = string_member(reply, "title", &what("title"))?.unwrap_or_default();
        check_required(InvalidRequest, &what("id"), &id, BUTTON_ID_MAX)?;
        check_required(InvalidRequest, &what("title"), &title, BUTTON_TITLE_MAX)?;
        if !ids.insert(id.clone()) {
            return Err(ContentError::invalid(format!(
                "button ids must be unique; `{id}` is used twice"
            )));
        }
        // Meta requires distinct labels too: the user could not tell the buttons apart.
        if !titles.insert(title.clone()) {
            return Err(ContentError::invalid(format!(
                "button titles must be unique; `{title}` is used twice"
            )));
        }
        parsed.push(ReplyButton { id, title });
    }
    Ok(parsed)
}

fn parse_sections(sections: Option<&Value>) -> Result<Vec<ListSection>, ContentError> {
    let Some(Value::Array(sections)) = sections else {
        return Err(ContentError::invalid(format!(
            "a list message needs `sections`: a list of 1 to {LIST_SECTIONS_MAX} sections"
        )));
    };
    if sections.is_empty() || sections.len() > LIST_SECTIONS_MAX {
        return Err(ContentError::invalid(format!(
            "a list message takes 1 to {LIST_SECTIONS_MAX} sections (it has {})",
            sections.len()
        )));
    }
    let total_rows: usize = sections
        .iter()
        .map(|section| {
            section
                .get("rows")
                .and_then(Value::as_array)
                .map_or(0, Vec::len)
        })
        .sum();
    if total_rows > LIST_ROWS_MAX {
        return Err(ContentError::invalid(format!(
            "a list message takes at most {LIST_ROWS_MAX} rows across all sections (it has \
             {total_rows})"
        )));
    }
    let mut ids = HashSet::new();
    let mut parsed = Vec::with_capacity(sections.len());
    for (index, section) in sections.iter().enumerate() {
        let number = index + 1;
        let Value::Object(section) = section else {
            return Err(ContentError::invalid(format!(
                "section {number} must be an object"
            )));
        };
        let title = present(string_member(
            section,
            "title",
            &format!("section {number} title"),
        )?);
        match &title {
            Some(title) => check_max(
                InvalidRequest,
                &format!("section {number} title"),
                title,
                SECTION_TITLE_MAX,
            )?,
            // Meta needs titles to tell sections apart.
            None if sections.len() > 1 => {
                return Err(ContentError::invalid(format!(
                    "section {number} needs a title: every section of a list with several needs one"
                )));
            }
            None => {}
        }
        let rows = match section.get("rows") {
            Some(Value::Array(rows)) if !rows.is_empty() => rows,
            _ => {
                return Err(ContentError::invalid(format!(
                    "section {number} needs `rows`: a list of at least one row"
                )));
            }
        };
        let rows = rows
            .iter()
            .enumerate()
            .map(|(row_index, row)| parse_row(number, row_index + 1, row, &mut ids))
            .collect::<Result<_, _>>()?;
        parsed.push(ListSection { title, rows });
    }
    Ok(parsed)
}

fn parse_row(
    section: usize,
    number: usize,
    row: &Value,
    ids: &mut HashSet<String>,
) -> Result<ListRow, ContentError> {
    let what = |field: &str| format!("section {section} row {number} {field}");
    let Value::Object(row) = row else {
        return Err(ContentError::invalid(format!(
            "section {section} row {number} must be an object"
        )));
    };
    let id = string_member(row, "id", &what("id"))?.unwrap_or_default();
    let title = string_member(row, "title", &what("title"))?.unwrap_or_default();
    let description = present(string_member(row, "description", &what("description"))?);
    check_required(InvalidRequest, &what("id"), &id, ROW_ID_MAX)?;
    check_required(InvalidRequest, &what("title"), &title, ROW_TITLE_MAX)?;
    if let Some(description) = &description {
        check_max(
            InvalidRequest,
            &what("description"),
            description,
            ROW_DESCRIPTION_MAX,
        )?;
    }
    if !ids.insert(id.clone()) {
        return Err(ContentError::invalid(format!(
            "row ids must be unique across the list; `{id}` is used twice"
        )));
    }
    Ok(ListRow {
        id,
        title,
        description,
    })
}

// ---------------------------------------------------------------------------------------------
// Reactions

fn parse_reaction(reaction: Option<ReactionInput>) -> Result<MessageContent, ContentError> {
    let reaction = reaction.ok_or_else(|| {
        ContentError::invalid("a reaction needs `reaction` with a `message_id` and an `emoji`")
    })?;
    let message_id = Uuid::parse_str(reaction.message_id.trim()).map_err(|_| {
        ContentError::invalid("reaction message_id must be the id of a Parley message (a UUID)")
    })?;
    if !reaction.emoji.is_empty() && !is_one_emoji(&reaction.emoji) {
        return Err(ContentError::invalid(format!(
            "reaction emoji must be a single emoji (at most {EMOJI_MAX_CHARS} characters), or \
             empty to remove a reaction"
        )));
    }
    Ok(MessageContent::Reaction {
        message_id,
        emoji: reaction.emoji,
    })
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

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const TO: &str = "917999709798";
    const WAMID: &str = "wamid.HBgLMTY0NjcwNDM1OTUVAgASGBQzQTdCNTg5RjY1MEMyRjlGMjRGNgA=";
    const TARGET_WAMID: &str = "wamid.HBgLMTY0NjcwNDM1OTUVAgARGBI5QTNDQTVCM0Q0Q0Q2RTY3RTcA";
    const MESSAGE_ID: &str = "0191f0c2-6d2e-7c3a-9a4b-1f2e3d4c5b6a";

    fn typed(message_type: &str) -> ContentInput {
        ContentInput {
            message_type: Some(message_type.into()),
            ..ContentInput::default()
        }
    }

    fn text(body: &str) -> ContentInput {
        ContentInput {
            text: Some(body.into()),
            ..typed("text")
        }
    }

    fn media(message_type: &str, url: &str) -> ContentInput {
        ContentInput {
            media: Some(MediaInput {
                url: url.into(),
                ..MediaInput::default()
            }),
            ..typed(message_type)
        }
    }

    fn media_with(message_type: &str, media: MediaInput) -> ContentInput {
        ContentInput {
            media: Some(media),
            ..typed(message_type)
        }
    }

    fn location(latitude: f64, longitude: f64) -> ContentInput {
        ContentInput {
            location: Some(LocationInput {
                latitude,
                longitude,
                ..LocationInput::default()
            }),
            ..typed("location")
        }
    }

    fn contacts(cards: Value) -> ContentInput {
        ContentInput {
            contacts: Some(cards),
            ..typed("contacts")
        }
    }

    fn template(name: &str, language_code: &str, components: Option<Value>) -> ContentInput {
        ContentInput {
            template: Some(TemplateInput {
                name: name.into(),
                language_code: language_code.into(),
                components,
            }),
            ..typed("template")
        }
    }

    fn interactive(value: Value) -> ContentInput {
        ContentInput {
            interactive: Some(value),
            ..typed("interactive")
        }
    }

    fn reaction(message_id: &str, emoji: &str) -> ContentInput {
        ContentInput {
            reaction: Some(ReactionInput {
                message_id: message_id.into(),
                emoji: emoji.into(),
            }),
            ..typed("reaction")
        }
    }

    /// The request envelope every Cloud API message shares, around `type` and its object.
    fn cloud(message_type: &str, object: Value) -> Value {
        json!({
            "messaging_product": "whatsapp",
            "recipient_type": "individual",
            "to": TO,
            "type": message_type,
            message_type: object,
        })
    }

    fn with_context(mut request: Value) -> Value {
        request["context"] = json!({"message_id": WAMID});
        request
    }

    fn buttons_flat() -> Value {
        json!({
            "type": "button",
            "body": "Ship order 42 today?",
            "buttons": [{"id": "yes", "title": "Yes"}, {"id": "no", "title": "No"}],
        })
    }

    fn list_flat() -> Value {
        json!({
            "type": "list",
            "body": "Pick a delivery slot",
            "button": "Slots",
            "sections": [{"rows": [{"id": "am", "title": "Morning"}]}],
        })
    }

    struct Accepted {
        name: &'static str,
        input: ContentInput,
        reply_to: Option<&'static str>,
        /// What `to_cloud_api` must produce, written from Meta's request syntax.
        cloud: Value,
        /// What `to_body` must produce: the stored format.
        body: Value,
        message_type: MessageType,
        preview: Option<&'static str>,
    }

    fn accepted() -> Vec<Accepted> {
        let card = json!({
            "name": {"formatted_name": "Ada Lovelace", "first_name": "Ada", "last_name": "Lovelace"},
            "phones": [{"phone": "+44 20 7946 0958", "type": "WORK", "wa_id": "442079460958"}],
            "emails": [{"email": "ada@example.com", "type": "WORK"}],
            "org": {"company": "Analytical Engines Ltd"},
            "birthday": "1815-12-10",
        });
        vec![
            Accepted {
                name: "text, type in GraphQL's uppercase",
                input: ContentInput {
                    text: Some("Your invoice is ready.".into()),
                    ..typed("TEXT")
                },
                reply_to: None,
                cloud: cloud("text", json!({"body": "Your invoice is ready."})),
                body: json!({"type": "text", "body": "Your invoice is ready.", "previewUrl": false}),
                message_type: MessageType::Text,
                preview: Some("Your invoice is ready."),
            },
            Accepted {
                name: "text with a link, as a reply",
                input: text("Track it at HTTPS://example.com/t/42"),
                reply_to: Some(WAMID),
                cloud: with_context(cloud(
                    "text",
                    json!({"preview_url": true, "body": "Track it at HTTPS://example.com/t/42"}),
                )),
                body: json!({
                    "type": "text",
                    "body": "Track it at HTTPS://example.com/t/42",
                    "previewUrl": true,
                }),
                message_type: MessageType::Text,
                preview: Some("Track it at HTTPS://example.com/t/42"),
            },
            Accepted {
                name: "image with media.caption",
                input: media_with(
                    "image",
                    MediaInput {
                        url: "https://cdn.example.com/a.jpg".into(),
                        caption: Some("Front view".into()),
                        ..MediaInput::default()
                    },
                ),
                reply_to: None,
                cloud: cloud(
                    "image",
                    json!({"link": "https://cdn.example.com/a.jpg", "caption": "Front view"}),
                ),
                body: json!({
                    "type": "image",
                    "url": "https://cdn.example.com/a.jpg",
                    "caption": "Front view",
                }),
                message_type: MessageType::Image,
                preview: Some("Front view"),
            },
            Accepted {
                name: "image captioned by `text`, MIME type kept but not sent",
                input: ContentInput {
                    text: Some("Back view".into()),
                    media: Some(MediaInput {
                        url: "https://CDN.example.com/b.jpg".into(),
                        caption: Some("  ".into()),
                        file_name: None,
                        mime_type: Some("Image/JPEG".into()),
                    }),
                    ..typed("image")
                },
                reply_to: None,
                cloud: cloud(
                    "image",
                    json!({"link": "https://cdn.example.com/b.jpg", "caption": "Back view"}),
                ),
                body: json!({
                    "type": "image",
                    "url": "https://cdn.example.com/b.jpg",
                    "caption": "Back view",
                    "mimeType": "image/jpeg",
                }),
                message_type: MessageType::Image,
                preview: Some("Back view"),
            },
            Accepted {
                name: "video",
                input: media("video", "https://cdn.example.com/v.mp4"),
                reply_to: Some(WAMID),
                cloud: with_context(cloud(
                    "video",
                    json!({"link": "https://cdn.example.com/v.mp4"}),
                )),
                body: json!({"type": "video", "url": "https://cdn.example.com/v.mp4"}),
                message_type: MessageType::Video,
                preview: None,
            },
            Accepted {
                name: "audio, blank caption ignored",
                input: media_with(
                    "audio",
                    MediaInput {
                        url: "https://cdn.example.com/a.ogg".into(),
                        caption: Some(String::new()),
                        mime_type: Some("audio/ogg".into()),
                        ..MediaInput::default()
                    },
                ),
                reply_to: None,
                cloud: cloud("audio", json!({"link": "https://cdn.example.com/a.ogg"})),
                body: json!({
                    "type": "audio",
                    "url": "https://cdn.example.com/a.ogg",
                    "mimeType": "audio/ogg",
                }),
                message_type: MessageType::Audio,
                preview: None,
            },
            Accepted {
                name: "document with link, caption and filename",
                input: media_with(
                    "document",
                    MediaInput {
                        url: "https://files.example.com/q.pdf".into(),
                        caption: Some("Your quote".into()),
                        file_name: Some("quote 2024-05.pdf".into()),
                        mime_type: Some("application/pdf".into()),
                    },
                ),
                reply_to: Some(WAMID),
                cloud: with_context(cloud(
                    "document",
                    json!({
                        "link": "https://files.example.com/q.pdf",
                        "caption": "Your quote",
                        "filename": "quote 2024-05.pdf",
                    }),
                )),
                body: json!({
                    "type": "document",
                    "url": "https://files.example.com/q.pdf",
                    "caption": "Your quote",
                    "filename": "quote 2024-05.pdf",
                    "mimeType": "application/pdf",
                }),
                message_type: MessageType::Document,
                preview: Some("Your quote"),
            },
            Accepted {
                name: "document without caption previews its file name",
                input: media_with(
                    "document",
                    MediaInput {
                        url: "https://files.example.com/i.pdf".into(),
                        file_name: Some("invoice.pdf".into()),
                        ..MediaInput::default()
                    },
                ),
                reply_to: None,
                cloud: cloud(
                    "document",
                    json!({"link": "https://files.example.com/i.pdf", "filename": "invoice.pdf"}),
                ),
                body: json!({
                    "type": "document",
                    "url": "https://files.example.com/i.pdf",
                    "filename": "invoice.pdf",
                }),
                message_type: MessageType::Document,
                preview: Some("invoice.pdf"),
            },
            Accepted {
                name: "sticker",
                input: media("sticker", "https://cdn.example.com/s.webp"),
                reply_to: None,
                cloud: cloud("sticker", json!({"link": "https://cdn.example.com/s.webp"})),
                body: json!({"type": "sticker", "url": "https://cdn.example.com/s.webp"}),
                message_type: MessageType::Sticker,
                preview: None,
            },
            Accepted {
                name: "location with name and address",
                input: ContentInput {
                    location: Some(LocationInput {
                        latitude: 37.44216251868683,
                        longitude: -122.16153582049394,
                        name: Some("Philz Coffee".into()),
                        address: Some("101 Forest Ave, Palo Alto, CA 94301".into()),
                    }),
                    ..typed("location")
                },
                reply_to: None,
                cloud: cloud(
                    "location",
                    json!({
                        "latitude": 37.44216251868683,
                        "longitude": -122.16153582049394,
                        "name": "Philz Coffee",
                        "address": "101 Forest Ave, Palo Alto, CA 94301",
                    }),
                ),
                body: json!({
                    "type": "location",
                    "latitude": 37.44216251868683,
                    "longitude": -122.16153582049394,
                    "name": "Philz Coffee",
                    "address": "101 Forest Ave, Palo Alto, CA 94301",
                }),
                message_type: MessageType::Location,
                preview: Some("📍 Philz Coffee"),
            },
            Accepted {
                name: "location on the edges, coordinates only",
                input: location(-90.0, 180.0),
                reply_to: None,
                cloud: cloud("location", json!({"latitude": -90.0, "longitude": 180.0})),
                body: json!({"type": "location", "latitude": -90.0, "longitude": 180.0}),
                message_type: MessageType::Location,
                preview: Some("📍 -90, 180"),
            },
            Accepted {
                name: "contacts",
                input: contacts(json!([card.clone(), {"name": {"formatted_name": "Alan Turing"}}])),
                reply_to: None,
                cloud: cloud(
                    "contacts",
                    json!([card.clone(), {"name": {"formatted_name": "Alan Turing"}}]),
                ),
                body: json!({
                    "type": "contacts",
                    "contacts": [card, {"name": {"formatted_name": "Alan Turing"}}],
                }),
                message_type: MessageType::Contacts,
                preview: Some("👤 Ada Lovelace, Alan Turing"),
            },
            Accepted {
                name: "template with components, normalised",
                input: template(
                    "order_update",
                    "en_US",
                    Some(json!([
                        {"type": "HEADER", "parameters": [
                            {"type": "image", "image": {"link": "https://cdn.example.com/h.png"}},
                        ]},
                        {"type": "Body", "parameters": [
                            {"type": "TEXT", "text": "Ada"},
                            {"type": "currency", "currency": {
                                "fallback_value": "$100.99", "code": "USD", "amount_1000": 100990,
                            }},
                            {"type": "date_time", "date_time": {"fallback_value": "May 1, 2024"}},
                        ]},
                        {"type": "button", "sub_type": "QUICK_REPLY", "index": 0, "parameters": [
                            {"type": "payload", "payload": "STOP"},
                        ]},
                        {"type": "button", "sub_type": "url", "index": "1", "parameters": [
                            {"type": "text", "text": "42"},
                        ]},
                    ])),
                ),
                reply_to: None,
                cloud: cloud(
                    "template",
                    json!({
                        "name": "order_update",
                        "language": {"code": "en_US"},
                        "components": [
                            {"type": "header", "parameters": [
                                {"type": "image", "image": {"link": "https://cdn.example.com/h.png"}},
                            ]},
                            {"type": "body", "parameters": [
                                {"type": "text", "text": "Ada"},
                                {"type": "currency", "currency": {
                                    "fallback_value": "$100.99", "code": "USD", "amount_1000": 100990,
                                }},
                                {"type": "date_time", "date_time": {"fallback_value": "May 1, 2024"}},
                            ]},
                            {"type": "button", "sub_type": "quick_reply", "index": "0", "parameters": [
                                {"type": "payload", "payload": "STOP"},
                            ]},
                            {"type": "button", "sub_type": "url", "index": "1", "parameters": [
                                {"type": "text", "text": "42"},
                            ]},
                        ],
                    }),
                ),
                body: json!({
                    "type": "template",
                    "name": "order_update",
                    "language": "en_US",
                    "components": [
                        {"type": "header", "parameters": [
                            {"type": "image", "image": {"link": "https://cdn.example.com/h.png"}},
                        ]},
                        {"type": "body", "parameters": [
                            {"type": "text", "text": "Ada"},
                            {"type": "currency", "currency": {
                                "fallback_value": "$100.99", "code": "USD", "amount_1000": 100990,
                            }},
                            {"type": "date_time", "date_time": {"fallback_value": "May 1, 2024"}},
                        ]},
                        {"type": "button", "sub_type": "quick_reply", "index": "0", "parameters": [
                            {"type": "payload", "payload": "STOP"},
                        ]},
                        {"type": "button", "sub_type": "url", "index": "1", "parameters": [
                            {"type": "text", "text": "42"},
                        ]},
                    ],
                }),
                message_type: MessageType::Template,
                preview: Some("order_update"),
            },
            Accepted {
                name: "template without components",
                input: template("hello_world", "en", None),
                reply_to: None,
                cloud: cloud(
                    "template",
                    json!({"name": "hello_world", "language": {"code": "en"}}),
                ),
                body: json!({
                    "type": "template",
                    "name": "hello_world",
                    "language": "en",
                    "components": [],
                }),
                message_type: MessageType::Template,
                preview: Some("hello_world"),
            },
            Accepted {
                name: "reply buttons in Meta's shape, as a reply",
                input: interactive(json!({
                    "type": "button",
                    "header": {"type": "text", "text": "Order 42"},
                    "body": {"text": "Ship order 42 today?"},
                    "footer": {"text": "Acme Ltd"},
                    "action": {"buttons": [
                        {"type": "reply", "reply": {"id": "yes", "title": "Yes"}},
                        {"type": "reply", "reply": {"id": "no", "title": "No"}},
                    ]},
                })),
                reply_to: Some(WAMID),
                cloud: with_context(cloud(
                    "interactive",
                    json!({
                        "type": "button",
                        "header": {"type": "text", "text": "Order 42"},
                        "body": {"text": "Ship order 42 today?"},
                        "footer": {"text": "Acme Ltd"},
                        "action": {"buttons": [
                            {"type": "reply", "reply": {"id": "yes", "title": "Yes"}},
                            {"type": "reply", "reply": {"id": "no", "title": "No"}},
                        ]},
                    }),
                )),
                body: json!({
                    "type": "interactive",
                    "interactive": {
                        "type": "button",
                        "body": "Ship order 42 today?",
                        "header": "Order 42",
                        "footer": "Acme Ltd",
                        "buttons": [{"id": "yes", "title": "Yes"}, {"id": "no", "title": "No"}],
                    },
                }),
                message_type: MessageType::Interactive,
                preview: Some("Ship order 42 today?"),
            },
            Accepted {
                name: "reply buttons in the flat shape",
                input: interactive(buttons_flat()),
                reply_to: None,
                cloud: cloud(
                    "interactive",
                    json!({
                        "type": "button",
                        "body": {"text": "Ship order 42 today?"},
                        "action": {"buttons": [
                            {"type": "reply", "reply": {"id": "yes", "title": "Yes"}},
                            {"type": "reply", "reply": {"id": "no", "title": "No"}},
                        ]},
                    }),
                ),
                body: json!({"type": "interactive", "interactive": buttons_flat()}),
                message_type: MessageType::Interactive,
                preview: Some("Ship order 42 today?"),
            },
            Accepted {
                name: "list in Meta's shape",
                input: interactive(json!({
                    "type": "LIST",
                    "header": {"type": "text", "text": "Delivery"},
                    "body": {"text": "Pick a delivery slot"},
                    "footer": {"text": "Times are local"},
                    "action": {
                        "button": "Slots",
                        "sections": [
                            {"title": "Today", "rows": [
                                {"id": "today-am", "title": "Morning", "description": "9:00–12:00"},
                                {"id": "today-pm", "title": "Afternoon"},
                            ]},
                            {"title": "Tomorrow", "rows": [
                                {"id": "tomorrow-am", "title": "Morning", "description": ""},
                            ]},
                        ],
                    },
                })),
                reply_to: None,
                cloud: cloud(
                    "interactive",
                    json!({
                        "type": "list",
                        "header": {"type": "text", "text": "Delivery"},
                        "body": {"text": "Pick a delivery slot"},
                        "footer": {"text": "Times are local"},
                        "action": {
                            "button": "Slots",
                            "sections": [
                                {"title": "Today", "rows": [
                                    {"id": "today-am", "title": "Morning", "description": "9:00–12:00"},
                                    {"id": "today-pm", "title": "Afternoon"},
                                ]},
                                {"title": "Tomorrow", "rows": [
                                    {"id": "tomorrow-am", "title": "Morning"},
                                ]},
                            ],
                        },
                    }),
                ),
                body: json!({
                    "type": "interactive",
                    "interactive": {
                        "type": "list",
                        "body": "Pick a delivery slot",
                        "header": "Delivery",
                        "footer": "Times are local",
                        "button": "Slots",
                        "sections": [
                            {"title": "Today", "rows": [
                                {"id": "today-am", "title": "Morning", "description": "9:00–12:00"},
                                {"id": "today-pm", "title": "Afternoon"},
                            ]},
                            {"title": "Tomorrow", "rows": [
                                {"id": "tomorrow-am", "title": "Morning"},
                            ]},
                        ],
                    },
                }),
                message_type: MessageType::Interactive,
                preview: Some("Pick a delivery slot"),
            },
            Accepted {
                name: "list in the flat shape, one untitled section",
                input: interactive(list_flat()),
                reply_to: None,
                cloud: cloud(
                    "interactive",
                    json!({
                        "type": "list",
                        "body": {"text": "Pick a delivery slot"},
                        "action": {
                            "button": "Slots",
                            "sections": [{"rows": [{"id": "am", "title": "Morning"}]}],
                        },
                    }),
                ),
                body: json!({"type": "interactive", "interactive": list_flat()}),
                message_type: MessageType::Interactive,
                preview: Some("Pick a delivery slot"),
            },
            Accepted {
                name: "reaction, never sent as a reply",
                input: reaction(MESSAGE_ID, "👍"),
                reply_to: Some(WAMID),
                cloud: cloud(
                    "reaction",
                    json!({"message_id": TARGET_WAMID, "emoji": "👍"}),
                ),
                body: json!({"type": "reaction", "messageId": MESSAGE_ID, "emoji": "👍"}),
                message_type: MessageType::Reaction,
                preview: Some("👍"),
            },
            Accepted {
                name: "reaction removed with an empty emoji",
                input: reaction(&MESSAGE_ID.to_uppercase(), ""),
                reply_to: None,
                cloud: cloud("reaction", json!({"message_id": TARGET_WAMID, "emoji": ""})),
                body: json!({"type": "reaction", "messageId": MESSAGE_ID, "emoji": ""}),
                message_type: MessageType::Reaction,
                preview: None,
            },
        ]
    }

    #[test]
    fn accepted_content_becomes_meta_requests_and_stored_bodies() {
        for case in accepted() {
            let name = case.name;
            let content = MessageContent::parse(case.input)
                .unwrap_or_else(|e| panic!("{name}: rejected: {e}"));
            let request = content
                .to_cloud_api(TO, case.reply_to, Some(TARGET_WAMID))
                .unwrap_or_else(|e| panic!("{name}: no request: {e}"));
            assert_eq!(request, case.cloud, "{name}: Cloud API request");
            assert_eq!(content.to_body(), case.body, "{name}: stored body");
            assert_eq!(content.message_type(), case.message_type, "{name}: type");
            assert_eq!(
                content.preview_text().as_deref(),
                case.preview,
                "{name}: preview"
            );
        }
    }

    #[test]
    fn stored_bodies_read_back_as_the_same_content() {
        for case in accepted() {
            let name = case.name;
            let content = MessageContent::parse(case.input)
                .unwrap_or_else(|e| panic!("{name}: rejected: {e}"));
            let body = content.to_body();
            let read = MessageContent::from_body(&body)
                .unwrap_or_else(|e| panic!("{name}: stored body rejected: {e}"));
            assert_eq!(read, content, "{name}");
            // Also after a trip through text, as the database stores it.
            let reparsed: Value = serde_json::from_str(&body.to_string()).unwrap();
            assert_eq!(
                MessageContent::from_body(&reparsed).unwrap(),
                content,
                "{name}"
            );
        }
    }

    #[test]
    fn typed_requests_match_their_json() {
        for case in accepted() {
            let content = MessageContent::parse(case.input).unwrap();
            let request = content
                .to_request(TO, case.reply_to, Some(TARGET_WAMID))
                .unwrap();
            let read: wa::MessageRequest = serde_json::from_value(case.cloud).unwrap();
            assert_eq!(read, request, "{}", case.name);
        }
    }

    #[test]
    fn parses_into_the_expected_values() {
        let content = MessageContent::parse(interactive(json!({
            "type": "list",
            "body": "Pick",
            "button": "Open",
            "sections": [
                {"title": "A", "rows": [{"id": "1", "title": "One", "description": "first"}]},
                {"title": "B", "rows": [{"id": "2", "title": "Two"}]},
            ],
        })))
        .unwrap();
        assert_eq!(
            content,
            MessageContent::Interactive(Interactive::List {
                body: "Pick".into(),
                header: None,
                footer: None,
                button: "Open".into(),
                sections: vec![
                    ListSection {
                        title: Some("A".into()),
                        rows: vec![ListRow {
                            id: "1".into(),
                            title: "One".into(),
                            description: Some("first".into()),
                        }],
                    },
                    ListSection {
                        title: Some("B".into()),
                        rows: vec![ListRow {
                            id: "2".into(),
                            title: "Two".into(),
                            description: None,
                        }],
                    },
                ],
            })
        );
        let document = MessageContent::parse(media_with(
            "Document",
            MediaInput {
                url: "https://files.example.com/q.pdf".into(),
                caption: None,
                file_name: Some("q.pdf".into()),
                mime_type: Some("APPLICATION/PDF".into()),
            },
        ))
        .unwrap();
        assert_eq!(
            document,
            MessageContent::Media {
                kind: MediaKind::Document,
                url: MediaUrl::parse("https://files.example.com/q.pdf").unwrap(),
                caption: None,
                filename: Some("q.pdf".into()),
                mime_type: Some("application/pdf".into()),
            }
        );
        let plain = MessageContent::parse(text("no link here: example.com")).unwrap();
        assert_eq!(
            plain,
            MessageContent::Text {
                body: "no link here: example.com".into(),
                preview_url: false,
            }
        );
    }

    #[test]
    fn a_reaction_points_at_its_message_and_needs_its_wamid() {
        let content = MessageContent::parse(reaction(MESSAGE_ID, "❤️")).unwrap();
        let target = Uuid::parse_str(MESSAGE_ID).unwrap();
        assert_eq!(content.reaction_target(), Some(target));
        for missing in [None, Some("")] {
            let error = content.to_cloud_api(TO, None, missing).unwrap_err();
            assert_eq!(error.kind, ContentErrorKind::InvalidRequest);
            assert!(error.message.contains("no WhatsApp message id"), "{error}");
        }
        let text = MessageContent::parse(text("hi")).unwrap();
        assert_eq!(text.reaction_target(), None);
        // Other types ignore a reaction wamid.
        assert_eq!(
            text.to_cloud_api(TO, None, None).unwrap(),
            text.to_cloud_api(TO, None, Some(TARGET_WAMID)).unwrap()
        );
    }

    #[test]
    fn error_display_is_the_message() {
        let error = MessageContent::parse(typed("fax")).unwrap_err();
        assert_eq!(error.to_string(), error.message);
        assert!(
            error.message.starts_with("unknown message type `fax`"),
            "{error}"
        );
    }

    fn card(name: &str) -> Value {
        json!({"name": {"formatted_name": name}})
    }

    fn buttons(buttons: Value) -> ContentInput {
        interactive(json!({"type": "button", "body": "Choose", "buttons": buttons}))
    }

    fn list(sections: Value) -> ContentInput {
        interactive(
            json!({"type": "list", "body": "Choose", "button": "Open", "sections": sections}),
        )
    }

    fn rows(count: usize, prefix: &str) -> Value {
        (0..count)
            .map(|i| json!({"id": format!("{prefix}{i}"), "title": format!("Row {i}")}))
            .collect()
    }

    fn component(component: Value) -> ContentInput {
        template("order_update", "en_US", Some(json!([component])))
    }

    fn text_parameter(parameter: Value) -> ContentInput {
        component(json!({"type": "body", "parameters": [parameter]}))
    }

    fn button_component(sub_type: Value, index: Value) -> ContentInput {
        component(json!({"type": "button", "sub_type": sub_type, "index": index}))
    }

    #[test]
    fn rejects_invalid_content() {
        use ContentErrorKind::*;
        let long = |n: usize| "x".repeat(n);
        let long_doc = |field: fn(&mut MediaInput, String), value: String| {
            let mut media = MediaInput {
                url: "https://files.example.com/q.pdf".into(),
                ..MediaInput::default()
            };
            field(&mut media, value);
            media_with("document", media)
        };
        let big_card = json!({"name": {"formatted_name": "Big"}, "note": long(16 * 1024)});
        let cases: Vec<(&str, ContentInput, ContentErrorKind, &str)> = vec![
            // Type
            ("no type", ContentInput::default(), InvalidRequest, "message type is required"),
            ("blank type", typed("  "), InvalidRequest, "message type is required"),
            ("unknown type", typed("gif"), InvalidRequest, "unknown message type `gif`"),
            ("unknown long type", typed(&long(40)), InvalidRequest, "unknown message type: expected"),
            ("field of another type", ContentInput { media: Some(MediaInput::default()), ..text("hi") }, InvalidRequest, "`media` does not apply to a message of type text"),
            ("text on a location", ContentInput { text: Some("hi".into()), ..location(1.0, 1.0) }, InvalidRequest, "`text` does not apply to a message of type location"),
            ("reaction on an image", ContentInput { reaction: Some(ReactionInput::default()), ..media("image", "https://a.example/x.png") }, InvalidRequest, "`reaction` does not apply"),
            // Text
            ("text missing", typed("text"), InvalidRequest, "a text message needs `text`"),
            ("text empty", text(""), InvalidRequest, "text must not be empty"),
            ("text blank", text(" \n\t "), InvalidRequest, "text must not be empty"),
            ("text too long", text(&long(4097)), InvalidRequest, "text must be at most 4096 characters (it has 4097)"),
            ("text too long in characters", text(&"é".repeat(4097)), InvalidRequest, "at most 4096 characters"),
            // Media
            ("image without media", typed("image"), InvalidRequest, "an image message needs `media`"),
            ("sticker without media", ContentInput { text: Some("hi".into()), ..typed("sticker") }, InvalidRequest, "needs `media`"),
            ("http media", media("image", "http://cdn.example.com/a.jpg"), InvalidMediaUrl, "media URL must use https"),
            ("local media", media("video", "https://localhost/v.mp4"), InvalidMediaUrl, "local host name"),
            ("private media", media("document", "https://10.0.0.1/q.pdf"), InvalidMediaUrl, "a private IP address"),
            ("empty media url", media("audio", ""), InvalidMediaUrl, "not a valid URL"),
            ("caption too long", ContentInput { text: Some(long(1025)), ..media("image", "https://a.example/x.png") }, InvalidRequest, "caption must be at most 1024 characters"),
            ("caption on audio", media_with("audio", MediaInput { url: "https://a.example/a.ogg".into(), caption: Some("hi".into()), ..MediaInput::default() }), InvalidRequest, "audio messages cannot have a caption"),
            ("text caption on sticker", ContentInput { text: Some("hi".into()), ..media("sticker", "https://a.example/s.webp") }, InvalidRequest, "sticker messages cannot have a caption"),
            ("file name on image", media_with("image", MediaInput { url: "https://a.example/x.png".into(), file_name: Some("x.png".into()), ..MediaInput::default() }), InvalidRequest, "image messages cannot have a file name"),
            ("file name too long", long_doc(|m, v| m.file_name = Some(v), format!("{}.pdf", long(237))), InvalidRequest, "file name must be at most 240 characters"),
            ("file name with slash", long_doc(|m, v| m.file_name = Some(v), "../etc/passwd".into()), InvalidRequest, "path separator"),
            ("file name with backslash", long_doc(|m, v| m.file_name = Some(v), "C:\\q.pdf".into()), InvalidRequest, "path separator"),
            ("file name with control", long_doc(|m, v| m.file_name = Some(v), "q\u{7}.pdf".into()), InvalidRequest, "control characters"),
            ("file name dot dot", long_doc(|m, v| m.file_name = Some(v), "..".into()), InvalidRequest, "must name a file"),
            ("mime without subtype", long_doc(|m, v| m.mime_type = Some(v), "pdf".into()), InvalidRequest, "type/subtype"),
            ("mime with parameters", long_doc(|m, v| m.mime_type = Some(v), "text/plain; charset=utf-8".into()), InvalidRequest, "type/subtype"),
            ("mime with two slashes", long_doc(|m, v| m.mime_type = Some(v), "application/pdf/x".into()), InvalidRequest, "type/subtype"),
            ("mime too long", long_doc(|m, v| m.mime_type = Some(v), format!("application/{}", long(90))), InvalidRequest, "at most 100 characters"),
            // Location
            ("location missing", typed("location"), InvalidRequest, "needs `location`"),
            ("latitude too big", location(90.5, 0.0), InvalidRequest, "latitude must be a number from -90 to 90"),
            ("latitude too small", location(-91.0, 0.0), InvalidRequest, "latitude"),
            ("latitude NaN", location(f64::NAN, 0.0), InvalidRequest, "latitude"),
            ("longitude too big", location(0.0, 180.01), InvalidRequest, "longitude must be a number from -180 to 180"),
            ("longitude infinite", location(0.0, f64::NEG_INFINITY), InvalidRequest, "longitude"),
            ("location name too long", ContentInput { location: Some(LocationInput { name: Some(long(1001)), ..LocationInput::default() }), ..typed("location") }, InvalidRequest, "location name must be at most 1000 characters"),
            ("location address too long", ContentInput { location: Some(LocationInput { address: Some(long(1001)), ..LocationInput::default() }), ..typed("location") }, InvalidRequest, "location address must be at most 1000 characters"),
            // Contacts
            ("contacts missing", typed("contacts"), InvalidRequest, "needs `contacts`"),
            ("contacts not a list", contacts(card("Ada")), InvalidRequest, "contacts must be a list"),
            ("no contacts", contacts(json!([])), InvalidRequest, "1 to 10 cards (it has 0)"),
            ("eleven contacts", contacts(Value::Array(vec![card("Ada"); 11])), InvalidRequest, "1 to 10 cards (it has 11)"),
            ("card not an object", contacts(json!(["Ada"])), InvalidRequest, "contact 1: must be an object"),
            ("card without name", contacts(json!([card("Ada"), {"phones": []}])), InvalidRequest, "contact 2: needs a `name`"),
            ("card with a string name", contacts(json!([{"name": "Ada"}])), InvalidRequest, "formatted_name"),
            ("card with empty formatted name", contacts(json!([card(" ")])), InvalidRequest, "non-empty `formatted_name`"),
            ("card with numeric formatted name", contacts(json!([{"name": {"formatted_name": 7}}])), InvalidRequest, "formatted_name"),
            ("phones not a list", contacts(json!([{"name": {"formatted_name": "Ada"}, "phones": "+441234"}])), InvalidRequest, "`phones` must be a list"),
            ("emails of strings", contacts(json!([{"name": {"formatted_name": "Ada"}, "emails": ["a@example.com"]}])), InvalidRequest, "every entry of `emails` must be an object"),
            ("org not an object", contacts(json!([{"name": {"formatted_name": "Ada"}, "org": "Acme"}])), InvalidRequest, "`org` must be an object"),
            ("birthday not a string", contacts(json!([{"name": {"formatted_name": "Ada"}, "birthday": 1815}])), InvalidRequest, "`birthday` must be a string"),
            ("contacts too big", contacts(json!([big_card])), InvalidRequest, "at most 16 KiB"),
            // Template
            ("template missing", typed("template"), InvalidRequest, "needs `template`"),
            ("template name uppercase", template("Order_Update", "en", None), TemplateMalformed, "template name must be 1 to 512 lowercase letters"),
            ("template name with dash", template("order-update", "en", None), TemplateMalformed, "template name"),
            ("template name empty", template("", "en", None), TemplateMalformed, "template name"),
            ("template name too long", template(&"a".repeat(513), "en", None), TemplateMalformed, "template name"),
            ("template name non-ASCII", template("bestätigung", "en", None), TemplateMalformed, "template name"),
            ("language word", template("hello_world", "english", None), TemplateMalformed, "language code must look like en, en_US or pt_BR"),
            ("language with dash", template("hello_world", "en-US", None), TemplateMalformed, "language code"),
            ("language uppercase", template("hello_world", "EN", None), TemplateMalformed, "language code"),
            ("region lowercase", template("hello_world", "en_us", None), TemplateMalformed, "language code"),
            ("language one letter", template("hello_world", "e", None), TemplateMalformed, "language code"),
            ("language empty", template("hello_world", "", None), TemplateMalformed, "language code"),
            ("region too long", template("hello_world", "es_419", None), TemplateMalformed, "language code"),
            ("components not a list", template("hello_world", "en", Some(json!({"type": "body"}))), TemplateMalformed, "template components must be a list"),
            ("eleven components", template("hello_world", "en", Some(Value::Array(vec![json!({"type": "body"}); 11]))), TemplateMalformed, "at most 10 components (it has 11)"),
            ("components too big", text_parameter(json!({"type": "payload", "payload": long(33 * 1024)})), TemplateMalformed, "at most 32 KiB"),
            ("component not an object", component(json!("body")), TemplateMalformed, "template component 1: must be an object"),
            ("component without type", component(json!({"parameters": []})), TemplateMalformed, "template component 1: `type` must be one of header, body, footer, button"),
            ("component of unknown type", component(json!({"type": "carousel"})), TemplateMalformed, "`type` must be one of"),
            ("parameters not a list", component(json!({"type": "body", "parameters": {"type": "text"}})), TemplateMalformed, "`parameters` must be a list"),
            ("parameter not an object", text_parameter(json!("Ada")), TemplateMalformed, "template component 1, parameter 1: must be an object"),
            ("parameter of unknown type", text_parameter(json!({"type": "money"})), TemplateMalformed, "`type` must be one of text, currency"),
            ("parameter without type", text_parameter(json!({"text": "Ada"})), TemplateMalformed, "`type` must be one of"),
            ("text parameter without text", text_parameter(json!({"type": "text"})), TemplateMalformed, "a text parameter needs a non-empty string `text`"),
            ("text parameter with a number", text_parameter(json!({"type": "text", "text": 42})), TemplateMalformed, "non-empty string `text`"),
            ("text parameter empty", text_parameter(json!({"type": "text", "text": ""})), TemplateMalformed, "non-empty string `text`"),
            ("text parameter too long", text_parameter(json!({"type": "text", "text": long(4097)})), TemplateMalformed, "at most 4096 characters"),
            ("button without sub_type", component(json!({"type": "button", "index": 0})), TemplateMalformed, "a button needs `sub_type`"),
            ("button of unknown sub_type", button_component(json!("phone"), json!(0)), TemplateMalformed, "a button needs `sub_type`, one of quick_reply"),
            ("button without index", component(json!({"type": "button", "sub_type": "url"})), TemplateMalformed, "a button needs `index`, from 0 to 9"),
            ("button index 10", button_component(json!("url"), json!(10)), TemplateMalformed, "`index`"),
            ("button index \"10\"", button_component(json!("url"), json!("10")), TemplateMalformed, "`index`"),
            ("button index negative", button_component(json!("url"), json!(-1)), TemplateMalformed, "`index`"),
            ("button index fraction", button_component(json!("url"), json!(1.5)), TemplateMalformed, "`index`"),
            ("button index word", button_component(json!("url"), json!("first")), TemplateMalformed, "`index`"),
            ("button index empty", button_component(json!("url"), json!("")), TemplateMalformed, "`index`"),
            // Interactive
            ("interactive missing", typed("interactive"), InvalidRequest, "needs `interactive`"),
            ("interactive not an object", interactive(json!("buttons")), InvalidRequest, "interactive must be an object"),
            ("interactive without type", interactive(json!({"body": "Choose", "buttons": [{"id": "a", "title": "A"}]})), InvalidRequest, "interactive `type` must be button or list"),
            ("interactive product", interactive(json!({"type": "product", "body": "Choose"})), InvalidRequest, "must be button or list"),
            ("interactive action not an object", interactive(json!({"type": "button", "body": "Choose", "action": []})), InvalidRequest, "interactive action must be an object"),
            ("interactive without body", interactive(json!({"type": "button", "buttons": [{"id": "a", "title": "A"}]})), InvalidRequest, "needs a `body`"),
            ("interactive body a number", interactive(json!({"type": "button", "body": 7, "buttons": [{"id": "a", "title": "A"}]})), InvalidRequest, "interactive body must be a string or an object"),
            ("interactive body blank", interactive(json!({"type": "button", "body": {"text": " "}, "buttons": [{"id": "a", "title": "A"}]})), InvalidRequest, "interactive body must not be empty"),
            ("button body too long", interactive(json!({"type": "button", "body": long(1025), "buttons": [{"id": "a", "title": "A"}]})), InvalidRequest, "interactive body must be at most 1024 characters"),
            ("header too long", interactive(json!({"type": "button", "header": long(61), "body": "Choose", "buttons": [{"id": "a", "title": "A"}]})), InvalidRequest, "interactive header must be at most 60 characters"),
            ("image header", interactive(json!({"type": "button", "header": {"type": "image", "image": {"link": "https://a.example/x.png"}}, "body": "Choose", "buttons": [{"id": "a", "title": "A"}]})), InvalidRequest, "`image` headers are not supported"),
            ("footer too long", interactive(json!({"type": "button", "footer": {"text": long(61)}, "body": "Choose", "buttons": [{"id": "a", "title": "A"}]})), InvalidRequest, "interactive footer must be at most 60 characters"),
            ("buttons missing", interactive(json!({"type": "button", "body": "Choose"})), InvalidRequest, "needs `buttons`"),
            ("no buttons", buttons(json!([])), InvalidRequest, "1 to 3 buttons (it has 0)"),
            ("four buttons", buttons(json!([{"id": "a", "title": "A"}, {"id": "b", "title": "B"}, {"id": "c", "title": "C"}, {"id": "d", "title": "D"}])), InvalidRequest, "1 to 3 buttons (it has 4)"),
            ("button not an object", buttons(json!(["Yes"])), InvalidRequest, "button 1 must be an object"),
            ("button of another type", buttons(json!([{"type": "url", "reply": {"id": "a", "title": "A"}}])), InvalidRequest, "button 1 `type` must be reply"),
            ("button reply not an object", buttons(json!([{"type": "reply", "reply": "a"}])), InvalidRequest, "button 1 `reply` must be an object"),
            ("button without title", buttons(json!([{"id": "a"}])), InvalidRequest, "button 1 title must not be empty"),
            ("button title a number", buttons(json!([{"id": "a", "title": 1}])), InvalidRequest, "button 1 title must be a string"),
            ("button title too long", buttons(json!([{"id": "a", "title": long(21)}])), InvalidRequest, "button 1 title must be at most 20 characters"),
            ("button without id", buttons(json!([{"id": "a", "title": "A"}, {"title": "B"}])), InvalidRequest, "button 2 id must not be empty"),
            ("button id too long", buttons(json!([{"id": long(257), "title": "A"}])), InvalidRequest, "button 1 id must be at most 256 characters"),
            ("button ids repeated", buttons(json!([{"id": "a", "title": "A"}, {"id": "a", "title": "B"}])), InvalidRequest, "button ids must be unique; `a` is used twice"),
            ("button titles repeated", buttons(json!([{"id": "a", "title": "A"}, {"id": "b", "title": "A"}])), InvalidRequest, "button titles must be unique"),
            ("list without button", interactive(json!({"type": "list", "body": "Choose", "sections": [{"rows": rows(1, "r")}]})), InvalidRequest, "a list message needs `button`"),
            ("list button too long", interactive(json!({"type": "list", "body": "Choose", "button": long(21), "sections": [{"rows": rows(1, "r")}]})), InvalidRequest, "list button must be at most 20 characters"),
            ("list button blank", interactive(json!({"type": "list", "body": "Choose", "button": "", "sections": [{"rows": rows(1, "r")}]})), InvalidRequest, "list button must not be empty"),
            ("list body too long", interactive(json!({"type": "list", "body": long(4097), "button": "Open", "sections": [{"rows": rows(1, "r")}]})), InvalidRequest, "interactive body must be at most 4096 characters"),
            ("sections missing", interactive(json!({"type": "list", "body": "Choose", "button": "Open"})), InvalidRequest, "needs `sections`"),
            ("no sections", list(json!([])), InvalidRequest, "1 to 10 sections (it has 0)"),
            ("eleven sections", list(Value::Array((0..11).map(|i| json!({"title": format!("S{i}"), "rows": rows(1, &format!("s{i}-"))})).collect())), InvalidRequest, "1 to 10 sections (it has 11)"),
            ("eleven rows", list(json!([{"title": "A", "rows": rows(6, "a")}, {"title": "B", "rows": rows(5, "b")}])), InvalidRequest, "at most 10 rows across all sections (it has 11)"),
            ("section not an object", list(json!(["A"])), InvalidRequest, "section 1 must be an object"),
            ("section without rows", list(json!([{"title": "A"}])), InvalidRequest, "section 1 needs `rows`"),
            ("section with no rows", list(json!([{"title": "A", "rows": []}])), InvalidRequest, "section 1 needs `rows`"),
            ("untitled section among several", list(json!([{"title": "A", "rows": rows(1, "a")}, {"rows": rows(1, "b")}])), InvalidRequest, "section 2 needs a title"),
            ("section title too long", list(json!([{"title": long(25), "rows": rows(1, "a")}])), InvalidRequest, "section 1 title must be at most 24 characters"),
            ("row not an object", list(json!([{"rows": ["a"]}])), InvalidRequest, "section 1 row 1 must be an object"),
            ("row without id", list(json!([{"rows": [{"title": "A"}]}])), InvalidRequest, "section 1 row 1 id must not be empty"),
            ("row id too long", list(json!([{"rows": [{"id": long(201), "title": "A"}]}])), InvalidRequest, "row 1 id must be at most 200 characters"),
            ("row title too long", list(json!([{"rows": [{"id": "a", "title": long(25)}]}])), InvalidRequest, "row 1 title must be at most 24 characters"),
            ("row description too long", list(json!([{"rows": [{"id": "a", "title": "A", "description": long(73)}]}])), InvalidRequest, "row 1 description must be at most 72 characters"),
            ("row ids repeated across sections", list(json!([{"title": "A", "rows": [{"id": "x", "title": "A"}]}, {"title": "B", "rows": [{"id": "x", "title": "B"}]}])), InvalidRequest, "row ids must be unique across the list; `x` is used twice"),
            // Reaction
            ("reaction missing", typed("reaction"), InvalidRequest, "a reaction needs `reaction`"),
            ("reaction to a wamid", reaction(WAMID, "👍"), InvalidRequest, "must be the id of a Parley message (a UUID)"),
            ("reaction to nothing", reaction("", "👍"), InvalidRequest, "a UUID"),
            ("reaction with a word", reaction(MESSAGE_ID, "ok"), InvalidRequest, "reaction emoji must be a single emoji"),
            ("reaction with two emoji", reaction(MESSAGE_ID, "👍👍"), InvalidRequest, "single emoji"),
            ("reaction with a space", reaction(MESSAGE_ID, " "), InvalidRequest, "single emoji"),
            ("reaction too long", reaction(MESSAGE_ID, &"👍🏽".repeat(6)), InvalidRequest, "at most 10 characters"),
        ];
        for (name, input, kind, fragment) in cases {
            match MessageContent::parse(input) {
                Ok(content) => panic!("{name}: accepted as {content:?}"),
                Err(error) => {
                    assert_eq!(error.kind, kind, "{name}: {error}");
                    assert!(
                        error.message.contains(fragment),
                        "{name}: {:?} does not say {fragment:?}",
                        error.message
                    );
                }
            }
        }
    }

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

    #[test]
    fn knows_template_language_codes() {
        for code in ["en", "fil", "en_US", "pt_BR", "zh_CN", "es_MX"] {
            assert!(is_language_code(code), "{code}");
        }
        for code in [
            "", "e", "engl", "EN", "en_", "_US", "en_USA", "en_us", "en-US", "en_U$",
        ] {
            assert!(!is_language_code(code), "{code}");
        }
    }

    #[test]
    fn refuses_stored_bodies_that_break_the_rules() {
        use ContentErrorKind::*;
        let cases = [
            (
                json!("hello"),
                InvalidRequest,
                "stored message body is not valid",
            ),
            (
                json!({"type": "fax"}),
                InvalidRequest,
                "stored message body is not valid",
            ),
            (
                json!({"type": "text"}),
                InvalidRequest,
                "stored message body is not valid",
            ),
            (
                json!({"type": "reaction", "messageId": "x", "emoji": "👍"}),
                InvalidRequest,
                "stored message body is not valid",
            ),
            (
                json!({"type": "text", "body": ""}),
                InvalidRequest,
                "text must not be empty",
            ),
            (
                json!({"type": "image", "url": "http://a.example/x.png"}),
                InvalidMediaUrl,
                "https",
            ),
            (
                json!({"type": "audio", "url": "https://a.example/a.ogg", "caption": "hi"}),
                InvalidRequest,
                "cannot have a caption",
            ),
            (
                json!({"type": "template", "name": "Hello", "language": "en"}),
                TemplateMalformed,
                "template name",
            ),
            (
                json!({"type": "interactive", "interactive": {"type": "button", "body": "x", "buttons": []}}),
                InvalidRequest,
                "1 to 3 buttons",
            ),
        ];
        for (body, kind, fragment) in cases {
            let error = MessageContent::from_body(&body).unwrap_err();
            assert_eq!(error.kind, kind, "{body}: {error}");
            assert!(error.message.contains(fragment), "{body}: {error}");
        }
    }

    #[test]
    fn stored_text_takes_its_preview_from_the_body() {
        // `previewUrl` is derived, so a body without it (or with a wrong one) reads the same.
        let content =
            MessageContent::from_body(&json!({"type": "text", "body": "see https://a.example"}))
                .unwrap();
        assert_eq!(
            content,
            MessageContent::Text {
                body: "see https://a.example".into(),
                preview_url: true,
            }
        );
    }
}
