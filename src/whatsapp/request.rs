//! The body of `POST /{version}/{phone_number_id}/messages`, one type per message type, spelled
//! as Meta's Cloud API documentation spells it (snake_case keys, `link` for hosted media, the
//! message's own object under a key named after its `type`).
//!
//! These types only carry values: the rules (lengths, counts, URL safety) are checked once, by
//! [`crate::domain::MessageContent::parse`], before anything here is built.
//! Optional fields are left out of the JSON rather than sent as `null`, as Meta's examples do.

use serde::{Deserialize, Serialize};

/// One outbound message, as Meta expects it:
/// `{"messaging_product": "whatsapp", "recipient_type": "individual", "to", "type", "<type>": {…},
/// "context": {"message_id"}?, "biz_opaque_callback_data"?}`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MessageRequest {
    pub messaging_product: MessagingProduct,
    pub recipient_type: RecipientType,
    /// The recipient's phone number or WhatsApp id.
    pub to: String,
    /// Makes the message a contextual reply that quotes an earlier one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub context: Option<Context>,
    /// Meta does not read this string; it hands it back in every status webhook of the message,
    /// which lets a status be matched to its send attempt even when the send's answer was lost.
    /// At most 512 characters. Set by [`crate::whatsapp::client::CloudApiClient::send_message`].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub biz_opaque_callback_data: Option<String>,
    /// `type` and the object named after it.
    #[serde(flatten)]
    pub payload: Payload,
}

impl MessageRequest {
    /// A message to one WhatsApp user.
    pub fn individual(to: impl Into<String>, payload: Payload, context: Option<Context>) -> Self {
        Self {
            messaging_product: MessagingProduct::Whatsapp,
            recipient_type: RecipientType::Individual,
            to: to.into(),
            context,
            biz_opaque_callback_data: None,
            payload,
        }
    }
}

/// Always `"whatsapp"`: the same Graph API also serves other products.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MessagingProduct {
    Whatsapp,
}

/// Parley only sends to individuals.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RecipientType {
    Individual,
}

/// `{"message_id": "<wamid>"}` of the message replied to.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Context {
    pub message_id: String,
}

/// The message's `type` with its object: `{"type": "text", "text": {…}}` and so on.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Payload {
    Text { text: Text },
    Image { image: Media },
    Video { video: Media },
    Audio { audio: Media },
    Document { document: Media },
    Sticker { sticker: Media },
    Location { location: Location },
    Contacts { contacts: Vec<serde_json::Value> },
    Template { template: Template },
    Interactive { interactive: Interactive },
    Reaction { reaction: Reaction },
}

/// `{"preview_url"?, "body"}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Text {
    /// Left out when false, which is Meta's default.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub preview_url: bool,
    pub body: String,
}

/// Hosted media: `{"link", "caption"?, "filename"?}`. Meta takes a caption on image, video and
/// document only, and a filename on document only.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Media {
    pub link: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub caption: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub filename: Option<String>,
}

/// `{"latitude", "longitude", "name"?, "address"?}`. The coordinates are sent as JSON numbers,
/// the decimal degrees of Meta's parameter table (its request syntax quotes every placeholder).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Location {
    pub latitude: f64,
    pub longitude: f64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub address: Option<String>,
}

/// `{"name", "language": {"code"}, "components"?}`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Template {
    pub name: String,
    pub language: Language,
    /// Left out when empty: a template without variables needs none.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub components: Vec<serde_json::Value>,
}

/// `{"code": "en_US"}`; Meta's only `policy`, `deterministic`, is its default.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Language {
    pub code: String,
}

/// `{"type": "button" | "list", "header"?, "body", "footer"?, "action"}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Interactive {
    Button {
        #[serde(default, skip_serializing_if = "Option::is_none")]
        header: Option<Header>,
        body: TextObject,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        footer: Option<TextObject>,
        action: ButtonAction,
    },
    List {
        #[serde(default, skip_serializing_if = "Option::is_none")]
        header: Option<Header>,
        body: TextObject,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        footer: Option<TextObject>,
        action: ListAction,
    },
}

/// `{"type": "text", "text"}`; Parley sends text headers only.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Header {
    Text { text: String },
}

/// `{"text"}`, as `body` and `footer` are spelled.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TextObject {
    pub text: String,
}

/// `{"buttons": [{"type": "reply", "reply": {"id", "title"}}]}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ButtonAction {
    pub buttons: Vec<Button>,
}

/// A reply button; the only button kind of a `button` interactive message.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Button {
    Reply { reply: Reply },
}

/// `{"id", "title"}`: the id comes back in the webhook when the user taps the button.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Reply {
    pub id: String,
    pub title: String,
}

/// `{"button", "sections"}`: the label of the button that opens the list, and the list.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ListAction {
    pub button: String,
    pub sections: Vec<Section>,
}

/// `{"title"?, "rows"}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Section {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub title: Option<String>,
    pub rows: Vec<Row>,
}

/// `{"id", "title", "description"?}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Row {
    pub id: String,
    pub title: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
}

/// `{"message_id": "<wamid>", "emoji"}`; an empty emoji removes an earlier reaction.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Reaction {
    pub message_id: String,
    pub emoji: String,
}
