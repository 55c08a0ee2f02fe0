//! What an outbound message says: one validated [`MessageContent`] for every message type
//! WhatsApp's Cloud API sends, built from the one [`ContentInput`] that the REST shapes and
//! GraphQL hand in.
//!
//! Content owns three things about a message, each kind in its own file (`text`, `media`,
//! `location`, `contacts`, `template`, `interactive`, `reaction`):
//! - the rules: [`MessageContent::parse`] checks every field once, against Meta's documented
//!   limits, so a value that exists is one Meta will accept the shape of;
//! - Parley's stored form: [`MessageContent::to_body`] and [`MessageContent::from_body`], the JSON
//!   kept in `messages.body`;
//! - what Meta is sent: [`MessageContent::to_payload`], the message's `type` and the object
//!   named after it, in Meta's spelling. The envelope around it (recipient, reply context) is
//!   the Cloud API client's, `crate::whatsapp::request`; this module imports nothing of Parley's
//!   outside `domain`.
//!
//! The input types are the surfaces' own, so a field is declared once: GraphQL's
//! `SendMessageInput` flattens [`ContentInput`]; [`MediaInput`] and [`LocationInput`] are also
//! GraphQL's input objects of those names and the REST body's `MediaField` and `LocationField`;
//! [`TemplateInput`] and [`ReactionInput`] are GraphQL's. Where REST spells a field its own way
//! (`text` as a string or `{"body"}`, a template's `language`, a reaction's id, the flat media
//! fields) or documents it differently in `openapi.json`, `src/rest/messages.rs` has a small
//! type of its own, turned into these by `SendBody::content`.
//!
//! # Adding a message kind
//! A new kind is one new file here, owning its input type (if it has fields of its own), its
//! parsed value with `parse`, its stored body and its Meta object, plus one entry in each place
//! that lists the kinds, all in this file:
//! - `ContentType`: its name in `message_type`, and the input fields it is made from;
//! - [`ContentInput`]: its field, and `reject_foreign_fields`' list of set fields;
//! - [`MessageContent`]: its variant, and one arm in each `match` of `impl MessageContent`;
//! - `StoredBody` and [`Payload`]: its variant.
//!
//! Outside this directory, only lists of kinds: `entity::message::MessageType` (the
//! `messages.type` column, mirrored by GraphQL's `MessageType`), and the send surfaces' field
//! for the new input, `SendBody` in `src/rest/messages.rs` and `SendMessageInput` in
//! `src/graphql/mutation/message.rs`. The Cloud API envelope (`crate::whatsapp::request`) and
//! the sending and dispatch code take any [`MessageContent`] and need no change.
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

pub mod contacts;
pub mod interactive;
pub mod location;
pub mod media;
pub mod reaction;
pub mod template;
#[cfg(test)]
pub(crate) mod tests;
pub mod text;

use entity::message::MessageType;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use thiserror::Error;
use uuid::Uuid;

use crate::domain::media_url::MediaUrlError;

pub use interactive::{Interactive, InteractiveObject, ListRow, ListSection, ReplyButton};
pub use location::{Location, LocationInput, LocationObject};
pub use media::{Media, MediaInput, MediaKind, MediaObject};
pub use reaction::{Reaction, ReactionInput, ReactionObject};
pub use template::{Template, TemplateInput, TemplateObject};
pub use text::{Text, TextObject};

/// The content of a send request, as the REST shapes and GraphQL hand it in; field names are
/// Parley's neutral ones, not any one API's. See the module docs for what is accepted.
///
/// GraphQL's `SendMessageInput` takes these fields as its own (flattened), so their doc comments
/// are its descriptions; the REST body is turned into one by `SendBody::content`.
#[derive(Debug, Clone, Default, Serialize, async_graphql::InputObject)]
pub struct ContentInput {
    // `text`, `image`, …, `reaction`, in any case. GraphQL fills it from its own `type` enum,
    // which it also hashes for idempotency.
    #[graphql(skip)]
    #[serde(skip)]
    pub message_type: Option<String>,
    // Also the caption of a media message without `media.caption`.
    /// The text, or a media message's caption.
    pub text: Option<String>,
    pub media: Option<MediaInput>,
    pub location: Option<LocationInput>,
    // Each with `name.formatted_name`, and `phones`, `emails`, … as Meta spells them.
    /// Contact cards, in Meta's shape.
    pub contacts: Option<Value>,
    pub template: Option<TemplateInput>,
    // Or in the flat shape; see the module docs.
    /// Buttons or a list, in Meta's shape.
    pub interactive: Option<Value>,
    pub reaction: Option<ReactionInput>,
}

/// The validated content of an outbound message. Build it with [`MessageContent::parse`] or
/// [`MessageContent::from_body`]: the fields of the kinds are public for reading, and a value put
/// together by hand skips the checks.
#[derive(Debug, Clone, PartialEq)]
pub enum MessageContent {
    Text(Text),
    Media(Media),
    Location(Location),
    /// Contact cards in Meta's shape, each with a `name.formatted_name`.
    Contacts(Vec<Value>),
    Template(Template),
    Interactive(Interactive),
    Reaction(Reaction),
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
    /// An input of `message_type` with no fields yet.
    fn typed(message_type: &str) -> Self {
        Self {
            message_type: Some(message_type.to_owned()),
            ..Self::default()
        }
    }

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
        Ok(match content_type {
            ContentType::Text => Self::Text(Text::parse(input.text)?),
            ContentType::Media(kind) => Self::Media(Media::parse(kind, input.media, input.text)?),
            ContentType::Location => Self::Location(Location::parse(input.location)?),
            ContentType::Contacts => Self::Contacts(contacts::parse(input.contacts)?),
            ContentType::Template => Self::Template(Template::parse(input.template)?),
            ContentType::Interactive => Self::Interactive(Interactive::parse(input.interactive)?),
            ContentType::Reaction => Self::Reaction(Reaction::parse(input.reaction)?),
        })
    }

    /// The type stored in `messages.type`.
    pub fn message_type(&self) -> MessageType {
        match self {
            Self::Text(_) => MessageType::Text,
            Self::Media(media) => match media.kind {
                MediaKind::Image => MessageType::Image,
                MediaKind::Video => MessageType::Video,
                MediaKind::Audio => MessageType::Audio,
                MediaKind::Document => MessageType::Document,
                MediaKind::Sticker => MessageType::Sticker,
            },
            Self::Location(_) => MessageType::Location,
            Self::Contacts(_) => MessageType::Contacts,
            Self::Template(_) => MessageType::Template,
            Self::Interactive(_) => MessageType::Interactive,
            Self::Reaction(_) => MessageType::Reaction,
        }
    }

    /// A line of text for previews and search (`messages.text`): the body, the caption (or a
    /// document's file name), `📍 name`, `👤 names`, the template's name, the interactive body,
    /// the emoji. `None` when the message has no words, like an uncaptioned image.
    pub fn preview_text(&self) -> Option<String> {
        match self {
            Self::Text(text) => Some(text.body.clone()),
            Self::Media(media) => media.caption.clone().or_else(|| media.filename.clone()),
            Self::Location(location) => Some(location.preview_text()),
            Self::Contacts(cards) => Some(contacts::preview_text(cards)),
            Self::Template(template) => Some(template.name.clone()),
            Self::Interactive(
                Interactive::Buttons { body, .. } | Interactive::List { body, .. },
            ) => Some(body.clone()),
            Self::Reaction(reaction) => {
                (!reaction.emoji.is_empty()).then(|| reaction.emoji.clone())
            }
        }
    }

    /// The Parley message a reaction points at.
    pub fn reaction_target(&self) -> Option<Uuid> {
        match self {
            Self::Reaction(reaction) => Some(reaction.message_id),
            _ => None,
        }
    }

    /// Whether the message may be sent as a contextual reply. A reaction may not: Meta refuses
    /// it, and it already names its message.
    pub fn can_be_a_reply(&self) -> bool {
        !matches!(self, Self::Reaction(_))
    }

    /// Parley's stored JSON form, kept in `messages.body`; see the module docs for the format.
    pub fn to_body(&self) -> Value {
        let stored = match self {
            Self::Text(text) => StoredBody::Text(text.to_stored()),
            Self::Media(media) => {
                let stored = media.to_stored();
                match media.kind {
                    MediaKind::Image => StoredBody::Image(stored),
                    MediaKind::Video => StoredBody::Video(stored),
                    MediaKind::Audio => StoredBody::Audio(stored),
                    MediaKind::Document => StoredBody::Document(stored),
                    MediaKind::Sticker => StoredBody::Sticker(stored),
                }
            }
            Self::Location(location) => StoredBody::Location(location.to_stored()),
            Self::Contacts(cards) => StoredBody::Contacts(contacts::StoredContacts::new(cards)),
            Self::Template(template) => StoredBody::Template(template.to_stored()),
            Self::Interactive(interactive) => StoredBody::Interactive {
                interactive: interactive.to_stored(),
            },
            Self::Reaction(reaction) => StoredBody::Reaction(reaction.to_stored()),
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

    /// The message's `type` and its object, as the Cloud API takes them. `reaction_wamid` is the
    /// wamid of the message a reaction points at; the caller resolves it from
    /// [`MessageContent::reaction_target`].
    ///
    /// Fails only for a reaction without a wamid: the message reacted to never reached WhatsApp.
    pub fn to_payload(&self, reaction_wamid: Option<&str>) -> Result<Payload, ContentError> {
        Ok(match self {
            Self::Text(text) => Payload::Text {
                text: text.to_object(),
            },
            Self::Media(media) => {
                let object = media.to_object();
                match media.kind {
                    MediaKind::Image => Payload::Image { image: object },
                    MediaKind::Video => Payload::Video { video: object },
                    MediaKind::Audio => Payload::Audio { audio: object },
                    MediaKind::Document => Payload::Document { document: object },
                    MediaKind::Sticker => Payload::Sticker { sticker: object },
                }
            }
            Self::Location(location) => Payload::Location {
                location: location.to_object(),
            },
            Self::Contacts(cards) => Payload::Contacts {
                contacts: cards.clone(),
            },
            Self::Template(template) => Payload::Template {
                template: template.to_object(),
            },
            Self::Interactive(interactive) => Payload::Interactive {
                interactive: interactive.to_object(),
            },
            Self::Reaction(reaction) => Payload::Reaction {
                reaction: reaction.to_object(reaction_wamid)?,
            },
        })
    }
}

/// Parley's stored body: see the module docs.
#[derive(Debug, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "lowercase")]
enum StoredBody {
    Text(text::StoredText),
    Image(media::StoredMedia),
    Video(media::StoredMedia),
    Audio(media::StoredMedia),
    Document(media::StoredMedia),
    Sticker(media::StoredMedia),
    Location(location::StoredLocation),
    Contacts(contacts::StoredContacts),
    Template(template::StoredTemplate),
    /// The flat form that `parse` also accepts, so that `from_body` can read it back.
    Interactive {
        interactive: Value,
    },
    Reaction(reaction::StoredReaction),
}

impl StoredBody {
    fn into_input(self) -> ContentInput {
        match self {
            Self::Text(text) => text.into_input(),
            Self::Image(media) => media.into_input(MediaKind::Image),
            Self::Video(media) => media.into_input(MediaKind::Video),
            Self::Audio(media) => media.into_input(MediaKind::Audio),
            Self::Document(media) => media.into_input(MediaKind::Document),
            Self::Sticker(media) => media.into_input(MediaKind::Sticker),
            Self::Location(location) => location.into_input(),
            Self::Contacts(contacts) => contacts.into_input(),
            Self::Template(template) => template.into_input(),
            Self::Interactive { interactive } => ContentInput {
                interactive: Some(interactive),
                ..ContentInput::typed("interactive")
            },
            Self::Reaction(reaction) => reaction.into_input(),
        }
    }
}

/// What Meta is sent for a message: its `type` with the object named after it,
/// `{"type": "text", "text": {…}}` and so on, in Meta's spelling. The Cloud API client puts
/// it in its envelope.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Payload {
    Text { text: TextObject },
    Image { image: MediaObject },
    Video { video: MediaObject },
    Audio { audio: MediaObject },
    Document { document: MediaObject },
    Sticker { sticker: MediaObject },
    Location { location: LocationObject },
    Contacts { contacts: Vec<Value> },
    Template { template: TemplateObject },
    Interactive { interactive: InteractiveObject },
    Reaction { reaction: ReactionObject },
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

/// A string member, lowercased; `None` when absent or not a string.
fn lowercase_member(object: &Map<String, Value>, key: &str) -> Option<String> {
    object
        .get(key)
        .and_then(Value::as_str)
        .map(str::to_ascii_lowercase)
}
