//! Reading one inbound message of Meta's `messages` webhook: [`parse_inbound`] turns one message
//! of a delivery's model (`entry[].changes[].value.messages`, see [`crate::whatsapp::webhook`])
//! into an [`InboundMessage`], with the body in Parley's stored form. The caller walks the
//! envelope and owns persistence.
//!
//! An inbound message must never be lost, so parsing is lenient where Meta's payload varies:
//! strings longer than Parley keeps are cut (65 536 characters for a text body, 4 096 for any
//! other string, counted in characters as Meta does), and a message whose content Parley does not
//! model, or whose content is malformed, is kept as `UNSUPPORTED` rather than refused. Only a
//! message without `id`, `from`, `timestamp` or `type` is an error: without them there is nothing
//! to store it under.
//!
//! # The stored body
//! Parley's own keys are camelCase; objects that are Meta's (contact cards, errors) keep Meta's
//! spelling and are kept as given, bounded. Absent optional keys are left out. One line per type:
//! ```json
//! {"type": "text", "body": "Hi"}
//! {"type": "image", "mediaId": "1003383421387256", "mimeType": "image/jpeg", "sha256": "…", "caption": "Box"}
//! {"type": "video", "mediaId": "…", "mimeType": "video/mp4", "sha256": "…", "caption": "…"}
//! {"type": "audio", "mediaId": "…", "mimeType": "audio/ogg; codecs=opus", "sha256": "…", "voice": true}
//! {"type": "document", "mediaId": "…", "mimeType": "application/pdf", "sha256": "…", "caption": "…", "filename": "q.pdf"}
//! {"type": "sticker", "mediaId": "…", "mimeType": "image/webp", "sha256": "…", "animated": false}
//! {"type": "location", "latitude": 37.48, "longitude": -122.14, "name": "Main Office", "address": "1 Hacker Way"}
//! {"type": "contacts", "contacts": [{"name": {"formatted_name": "Barbara J. Johnson"}, "phones": […]}]}
//! {"type": "interactive", "reply": {"kind": "button", "id": "cancel-button", "title": "Cancel"}}
//! {"type": "interactive", "reply": {"kind": "list", "id": "express", "title": "Express", "description": "1–2 days"}}
//! {"type": "interactive", "reply": {"kind": "quick_reply", "payload": "unsubscribe", "text": "Unsubscribe"}}
//! {"type": "reaction", "messageWamid": "wamid.…", "emoji": "👍"}
//! {"type": "unsupported", "metaType": "poll_update", "errors": [{"code": 131051, …}]}
//! ```
//! - Media bodies keep Meta's media id (`mediaId`): the file itself is fetched separately. A media
//!   message without an id is kept as unsupported.
//! - A tap on a template's quick-reply button arrives as Meta's `button` type; it is stored as an
//!   `INTERACTIVE` reply of kind `quick_reply`, beside button and list replies.
//! - A reaction's `emoji` is `""` when the customer removed an earlier reaction (Meta then omits
//!   the field). The reacted-to message is `messageWamid`, not `context`.
//! - `metaType` says what Meta called the message: `unsupported.type` for Meta's own unsupported
//!   messages, the interactive subtype for interactive replies Parley does not model (such as
//!   `nfm_reply`), and the message's `type` otherwise. `errors` is Meta's array, when it sent one.
//!
//! # The preview
//! [`InboundMessage::text`] is what a conversation list shows: the text, the caption (or a
//! document's file name), the tapped button's or row's title, the reaction's emoji,
//! `📍 <name>` (or address, or coordinates) for a location, `👤 <name>` for contact cards
//! (`👤 <name> +2` for three). Media without a caption, removed reactions and unsupported messages
//! have none.

use chrono::{DateTime, Utc};
use entity::message::MessageType;
use serde_json::{Map, Value, json};

use crate::whatsapp::webhook::{
    Button, Interactive, Location, Media, Message, Reaction, Timestamp,
};

/// Meta allows 4 096 characters in a text message; Parley keeps more in case that grows.
const TEXT_MAX: usize = 65_536;
/// Every other string: captions, ids, titles, file names, and the strings inside Meta's objects.
const STRING_MAX: usize = 4_096;
/// Arrays and objects kept as Meta gave them are cut to this many elements (Meta allows 257
/// contact cards in one message).
const ELEMENTS_MAX: usize = 257;
/// Deeper nesting than Meta's contact cards or errors ever use is dropped.
const DEPTH_MAX: usize = 8;
/// A WhatsApp user id is a phone number's digits; E.164 allows 15.
const WA_ID_MAX: usize = 32;

/// One message a customer sent, as Parley stores it.
#[derive(Debug, Clone, PartialEq)]
pub struct InboundMessage {
    /// Meta's message id (`messages[].id`).
    pub wamid: String,
    /// The customer's WhatsApp id: digits, without a leading `+`.
    pub from: String,
    /// When the customer sent it (for reactions: when they reacted).
    pub timestamp: DateTime<Utc>,
    pub message_type: MessageType,
    /// Parley's stored form; see the module docs.
    pub body: Value,
    /// Preview for conversation lists and search; see the module docs.
    pub text: Option<String>,
    /// The wamid of the message this one replies to (`context.id`).
    pub context_wamid: Option<String>,
}

/// Reads one message of a webhook's `value.messages`. Fails only when `id`, `from`,
/// `timestamp` or `type` is missing or unreadable; the error is a short reason for the log.
pub fn parse_inbound(message: &Message) -> Result<InboundMessage, String> {
    let wamid = kept(message.id.as_deref(), STRING_MAX).ok_or("message has no id")?;
    let from = parse_from(message.from.as_deref())?;
    let timestamp = parse_timestamp(message.timestamp.as_ref())?;
    let meta_type = kept(message.kind.as_deref(), STRING_MAX).ok_or("message has no type")?;
    let context_wamid = kept(message.context.id.as_deref(), STRING_MAX);
    let content = content(message, &meta_type).unwrap_or_else(|| unsupported(message, &meta_type));
    Ok(InboundMessage {
        wamid,
        from,
        timestamp,
        message_type: content.message_type,
        body: content.body,
        text: content.text,
        context_wamid,
    })
}

struct Content {
    message_type: MessageType,
    body: Value,
    text: Option<String>,
}

/// The content of a type Parley models; `None` for any other type or malformed content.
fn content(message: &Message, meta_type: &str) -> Option<Content> {
    match meta_type {
        "text" => {
            let body = kept(message.text.body.as_deref(), TEXT_MAX)?;
            Some(Content {
                message_type: MessageType::Text,
                body: json!({"type": "text", "body": body}),
                text: Some(body),
            })
        }
        "image" => media(MessageType::Image, meta_type, &message.image),
        "video" => media(MessageType::Video, meta_type, &message.video),
        "audio" => media(MessageType::Audio, meta_type, &message.audio),
        "document" => media(MessageType::Document, meta_type, &message.document),
        "sticker" => media(MessageType::Sticker, meta_type, &message.sticker),
        "location" => location(&message.location),
        "contacts" => contacts(message.contacts.as_deref()?),
        "interactive" => interactive(&message.interactive),
        "button" => quick_reply(&message.button),
        "reaction" => reaction(&message.reaction),
        _ => None,
    }
}

fn media(message_type: MessageType, meta_type: &str, media: &Media) -> Option<Content> {
    let mut body = Map::new();
    body.insert("type".into(), meta_type.into());
    body.insert(
        "mediaId".into(),
        kept(media.id.as_deref(), STRING_MAX)?.into(),
    );
    insert_string(&mut body, "mimeType", media.mime_type.as_deref());
    insert_string(&mut body, "sha256", media.sha256.as_deref());
    let caption = kept(media.caption.as_deref(), STRING_MAX);
    if let Some(caption) = &caption {
        body.insert("caption".into(), caption.as_str().into());
    }
    let mut filename = None;
    match message_type {
        MessageType::Document => {
            filename = kept(media.filename.as_deref(), STRING_MAX);
            if let Some(filename) = &filename {
                body.insert("filename".into(), filename.as_str().into());
            }
        }
        MessageType::Sticker => insert_bool(&mut body, "animated", media.animated),
        MessageType::Audio => insert_bool(&mut body, "voice", media.voice),
        _ => {}
    }
    Some(Content {
        message_type,
        body: body.into(),
        text: caption.or(filename),
    })
}

fn location(location: &Location) -> Option<Content> {
    let latitude = location.latitude?;
    let longitude = location.longitude?;
    let name = kept(location.name.as_deref(), STRING_MAX);
    let address = kept(location.address.as_deref(), STRING_MAX);
    let mut body = Map::new();
    body.insert("type".into(), "location".into());
    body.insert("latitude".into(), latitude.into());
    body.insert("longitude".into(), longitude.into());
    if let Some(name) = &name {
        body.insert("name".into(), name.as_str().into());
    }
    if let Some(address) = &address {
        body.insert("address".into(), address.as_str().into());
    }
    let place = name
        .or(address)
        .unwrap_or_else(|| format!("{latitude}, {longitude}"));
    Some(Content {
        message_type: MessageType::Location,
        body: body.into(),
        text: Some(format!("📍 {place}")),
    })
}

fn contacts(cards: &[Value]) -> Option<Content> {
    if cards.is_empty() {
        return None;
    }
    let kept_cards: Vec<Value> = cards
        .iter()
        .take(ELEMENTS_MAX)
        .map(|card| bounded(card, 0))
        .collect();
    // The cards are Meta's objects, kept as given: read back from what is stored.
    let text = kept_cards
        .first()
        .and_then(|card| card.get("name"))
        .and_then(|name| kept(name.get("formatted_name")?.as_str(), STRING_MAX))
        .map(|name| match kept_cards.len() {
            1 => format!("👤 {name}"),
            n => format!("👤 {name} +{}", n - 1),
        });
    Some(Content {
        message_type: MessageType::Contacts,
        body: json!({"type": "contacts", "contacts": kept_cards}),
        text,
    })
}

fn interactive(interactive: &Interactive) -> Option<Content> {
    let (kind, reply) = match interactive.kind.as_deref()? {
        "button_reply" => ("button", &interactive.button_reply),
        "list_reply" => ("list", &interactive.list_reply),
        _ => return None,
    };
    let title = kept(reply.title.as_deref(), STRING_MAX)?;
    let mut body = Map::new();
    body.insert("kind".into(), kind.into());
    body.insert("id".into(), kept(reply.id.as_deref(), STRING_MAX)?.into());
    body.insert("title".into(), title.as_str().into());
    if kind == "list" {
        insert_string(&mut body, "description", reply.description.as_deref());
    }
    Some(Content {
        message_type: MessageType::Interactive,
        body: json!({"type": "interactive", "reply": body}),
        text: Some(title),
    })
}

/// A tap on a template's quick-reply button (Meta's `button` type).
fn quick_reply(button: &Button) -> Option<Content> {
    let text = kept(button.text.as_deref(), STRING_MAX)?;
    let payload = kept(button.payload.as_deref(), STRING_MAX).unwrap_or_default();
    Some(Content {
        message_type: MessageType::Interactive,
        body: json!({"type": "interactive",
            "reply": {"kind": "quick_reply", "payload": payload, "text": text}}),
        text: Some(text),
    })
}

fn reaction(reaction: &Reaction) -> Option<Content> {
    let message_wamid = kept(reaction.message_id.as_deref(), STRING_MAX)?;
    // Meta omits the emoji when the customer removes a reaction.
    let emoji = kept(reaction.emoji.as_deref(), STRING_MAX);
    Some(Content {
        message_type: MessageType::Reaction,
        body: json!({"type": "reaction", "messageWamid": message_wamid,
            "emoji": emoji.clone().unwrap_or_default()}),
        text: emoji,
    })
}

fn unsupported(message: &Message, meta_type: &str) -> Content {
    let named = match meta_type {
        "unsupported" => message.unsupported.kind.as_deref(),
        "interactive" => message.interactive.kind.as_deref(),
        _ => None,
    };
    let meta_type = kept(named, STRING_MAX).unwrap_or_else(|| meta_type.to_owned());
    let mut body = Map::new();
    body.insert("type".into(), "unsupported".into());
    body.insert("metaType".into(), meta_type.into());
    if let Some(errors) = &message.errors {
        // As `bounded` keeps an array: the errors are its elements, one level down.
        let errors = errors.iter().take(ELEMENTS_MAX);
        body.insert(
            "errors".into(),
            errors.map(|error| bounded(error, 1)).collect(),
        );
    }
    Content {
        message_type: MessageType::Unsupported,
        body: body.into(),
        text: None,
    }
}

/// The customer's WhatsApp id. Meta sends digits; a leading `+` is dropped so the id matches
/// `contacts[].wa_id`.
fn parse_from(from: Option<&str>) -> Result<String, String> {
    let from = from
        .map(str::trim)
        .filter(|from| !from.is_empty())
        .ok_or("message has no from")?;
    let digits = from.strip_prefix('+').unwrap_or(from);
    if digits.is_empty()
        || digits.len() > WA_ID_MAX
        || !digits.bytes().all(|byte| byte.is_ascii_digit())
    {
        return Err("message's from is not a WhatsApp id".into());
    }
    Ok(digits.to_owned())
}

/// Unix seconds; Meta sends them as a string.
fn parse_timestamp(timestamp: Option<&Timestamp>) -> Result<DateTime<Utc>, String> {
    let seconds = match timestamp {
        Some(Timestamp::Text(text)) => text.trim().parse::<i64>().ok(),
        Some(Timestamp::Seconds(seconds)) => Some(*seconds),
        Some(Timestamp::Unreadable) => None,
        None => return Err("message has no timestamp".into()),
    };
    seconds
        .and_then(|seconds| DateTime::from_timestamp(seconds, 0))
        .ok_or_else(|| "message's timestamp is not unix seconds".into())
}

/// `text` cut to `max` characters; `None` when absent or blank.
fn kept(text: Option<&str>, max: usize) -> Option<String> {
    text.filter(|text| !text.trim().is_empty())
        .map(|text| truncate(text, max))
}

fn insert_string(body: &mut Map<String, Value>, key: &str, text: Option<&str>) {
    if let Some(text) = kept(text, STRING_MAX) {
        body.insert(key.into(), text.into());
    }
}

fn insert_bool(body: &mut Map<String, Value>, key: &str, flag: Option<bool>) {
    if let Some(flag) = flag {
        body.insert(key.into(), flag.into());
    }
}

fn truncate(text: &str, max: usize) -> String {
    match text.char_indices().nth(max) {
        Some((end, _)) => text[..end].to_owned(),
        None => text.to_owned(),
    }
}

/// Meta's object as given, with every string, array and object cut to Parley's bounds.
fn bounded(value: &Value, depth: usize) -> Value {
    if depth >= DEPTH_MAX {
        return Value::Null;
    }
    match value {
        Value::String(text) => truncate(text, STRING_MAX).into(),
        Value::Array(items) => items
            .iter()
            .take(ELEMENTS_MAX)
            .map(|item| bounded(item, depth + 1))
            .collect(),
        Value::Object(fields) => fields
            .iter()
            .take(ELEMENTS_MAX)
            .map(|(key, field)| (truncate(key, STRING_MAX), bounded(field, depth + 1)))
            .collect::<Map<_, _>>()
            .into(),
        other => other.clone(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::whatsapp::webhook::Delivery;

    const CUSTOMER: &str = "16315551234";
    /// The business message the fixtures' replies and reaction point at.
    const OUTBOUND: &str = "wamid.HBgLMTYzMTU1NTEyMzQVAgARGBI5QTNDQTVCM0Q0Q0Q2RTY3RTcA";

    const MESSAGE_FIXTURES: [(&str, &str); 14] = [
        (
            "text",
            include_str!("../../tests/fixtures/webhooks/text.json"),
        ),
        (
            "image",
            include_str!("../../tests/fixtures/webhooks/image.json"),
        ),
        (
            "video",
            include_str!("../../tests/fixtures/webhooks/video.json"),
        ),
        (
            "audio",
            include_str!("../../tests/fixtures/webhooks/audio.json"),
        ),
        (
            "document",
            include_str!("../../tests/fixtures/webhooks/document.json"),
        ),
        (
            "sticker",
            include_str!("../../tests/fixtures/webhooks/sticker.json"),
        ),
        (
            "location",
            include_str!("../../tests/fixtures/webhooks/location.json"),
        ),
        (
            "contacts",
            include_str!("../../tests/fixtures/webhooks/contacts.json"),
        ),
        (
            "interactive_button_reply",
            include_str!("../../tests/fixtures/webhooks/interactive_button_reply.json"),
        ),
        (
            "interactive_list_reply",
            include_str!("../../tests/fixtures/webhooks/interactive_list_reply.json"),
        ),
        (
            "template_quick_reply",
            include_str!("../../tests/fixtures/webhooks/template_quick_reply.json"),
        ),
        (
            "reaction",
            include_str!("../../tests/fixtures/webhooks/reaction.json"),
        ),
        (
            "reply_with_context",
            include_str!("../../tests/fixtures/webhooks/reply_with_context.json"),
        ),
        (
            "unsupported",
            include_str!("../../tests/fixtures/webhooks/unsupported.json"),
        ),
    ];

    const STATUS_FIXTURES: [(&str, &str); 4] = [
        (
            "sent",
            include_str!("../../tests/fixtures/webhooks/status_sent.json"),
        ),
        (
            "delivered",
            include_str!("../../tests/fixtures/webhooks/status_delivered.json"),
        ),
        (
            "read",
            include_str!("../../tests/fixtures/webhooks/status_read.json"),
        ),
        (
            "failed",
            include_str!("../../tests/fixtures/webhooks/status_failed.json"),
        ),
    ];

    fn value(delivery: &str) -> Value {
        let delivery: Value = serde_json::from_str(delivery).expect("fixture is JSON");
        delivery["entry"][0]["changes"][0]["value"].clone()
    }

    fn fixture(name: &str) -> Value {
        let (_, delivery) = MESSAGE_FIXTURES
            .iter()
            .find(|(fixture, _)| *fixture == name)
            .expect("fixture exists");
        value(delivery)["messages"][0].clone()
    }

    fn wamid(n: u32) -> String {
        format!("wamid.HBgLMTYzMTU1NTEyMzQVAgASGBQzQUFERjg0NDEzNDdFODU3MUMx{n:02}AA=")
    }

    /// The fixtures' messages were sent at 1739321024 + n.
    fn sent(n: i64) -> DateTime<Utc> {
        DateTime::from_timestamp(1_739_321_024 + n, 0).unwrap()
    }

    fn expected(
        n: u32,
        message_type: MessageType,
        body: Value,
        text: Option<&str>,
        context_wamid: Option<&str>,
    ) -> InboundMessage {
        InboundMessage {
            wamid: wamid(n),
            from: CUSTOMER.into(),
            timestamp: sent(n.into()),
            message_type,
            body,
            text: text.map(Into::into),
            context_wamid: context_wamid.map(Into::into),
        }
    }

    /// The model of `message`, read as it is from a delivery.
    fn read(message: &Value) -> Message {
        let delivery = json!({"entry": [{"changes": [{"value": {"messages": [message]}}]}]});
        let mut delivery = Delivery::from_value(&delivery);
        delivery
            .entry
            .remove(0)
            .changes
            .remove(0)
            .value
            .messages
            .remove(0)
    }

    fn parse_inbound(message: &Value) -> Result<InboundMessage, String> {
        super::parse_inbound(&read(message))
    }

    fn parse(name: &str) -> InboundMessage {
        parse_inbound(&fixture(name)).expect("fixture parses")
    }

    #[test]
    fn text() {
        assert_eq!(
            parse("text"),
            expected(
                1,
                MessageType::Text,
                json!({"type": "text", "body": "Hi, is my order on its way?"}),
                Some("Hi, is my order on its way?"),
                None,
            )
        );
    }

    #[test]
    fn image() {
        assert_eq!(
            parse("image"),
            expected(
                2,
                MessageType::Image,
                json!({"type": "image", "mediaId": "1003383421387256", "mimeType": "image/jpeg",
                    "sha256": "6b1d2a3c6e6f7c3a2a2e8d2d1f1b7c2f0a4d3e2b1c0f9e8d7c6b5a4f3e2d1c0b",
                    "caption": "Damaged box"}),
                Some("Damaged box"),
                None,
            )
        );
    }

    #[test]
    fn video() {
        assert_eq!(
            parse("video"),
            expected(
                3,
                MessageType::Video,
                json!({"type": "video", "mediaId": "1166846181421424", "mimeType": "video/mp4",
                    "sha256": "a1b2c3d4e5f60718293a4b5c6d7e8f90a1b2c3d4e5f60718293a4b5c6d7e8f90",
                    "caption": "Unboxing"}),
                Some("Unboxing"),
                None,
            )
        );
    }

    #[test]
    fn audio() {
        assert_eq!(
            parse("audio"),
            expected(
                4,
                MessageType::Audio,
                json!({"type": "audio", "mediaId": "1013859600285441",
                    "mimeType": "audio/ogg; codecs=opus",
                    "sha256": "0f1e2d3c4b5a69788796a5b4c3d2e1f00f1e2d3c4b5a69788796a5b4c3d2e1f0",
                    "voice": true}),
                None,
                None,
            )
        );
    }

    #[test]
    fn document() {
        assert_eq!(
            parse("document"),
            expected(
                5,
                MessageType::Document,
                json!({"type": "document", "mediaId": "1376223850470843",
                    "mimeType": "application/pdf",
                    "sha256": "1c2b3a4d5e6f7a8b9c0d1e2f3a4b5c6d7e8f9a0b1c2d3e4f5a6b7c8d9e0f1a2b",
                    "caption": "Invoice", "filename": "lucky-shrub-invoice.pdf"}),
                Some("Invoice"),
                None,
            )
        );
    }

    #[test]
    fn document_without_caption_previews_its_file_name() {
        let mut message = fixture("document");
        message["document"]
            .as_object_mut()
            .unwrap()
            .remove("caption");
        let parsed = parse_inbound(&message).unwrap();
        assert_eq!(parsed.text.as_deref(), Some("lucky-shrub-invoice.pdf"));
        assert_eq!(parsed.body.get("caption"), None);
    }

    #[test]
    fn sticker() {
        assert_eq!(
            parse("sticker"),
            expected(
                6,
                MessageType::Sticker,
                json!({"type": "sticker", "mediaId": "1061581862282284", "mimeType": "image/webp",
                    "sha256": "9e8d7c6b5a4f3e2d1c0b9a8f7e6d5c4b3a2f1e0d9c8b7a6f5e4d3c2b1a0f9e8d",
                    "animated": false}),
                None,
                None,
            )
        );
    }

    #[test]
    fn location() {
        assert_eq!(
            parse("location"),
            expected(
                7,
                MessageType::Location,
                json!({"type": "location", "latitude": 37.483307, "longitude": -122.148981,
                    "name": "Main Office", "address": "1 Hacker Way, Menlo Park, CA 94025"}),
                Some("📍 Main Office"),
                None,
            )
        );
    }

    #[test]
    fn location_without_name_or_address_previews_its_coordinates() {
        let mut message = fixture("location");
        let location = message["location"].as_object_mut().unwrap();
        location.remove("name");
        location.remove("address");
        let parsed = parse_inbound(&message).unwrap();
        assert_eq!(parsed.text.as_deref(), Some("📍 37.483307, -122.148981"));
    }

    #[test]
    fn contacts() {
        let cards = fixture("contacts")["contacts"].clone();
        assert_eq!(
            parse("contacts"),
            expected(
                8,
                MessageType::Contacts,
                json!({"type": "contacts", "contacts": cards}),
                Some("👤 Barbara J. Johnson"),
                None,
            )
        );
    }

    #[test]
    fn interactive_button_reply() {
        assert_eq!(
            parse("interactive_button_reply"),
            expected(
                9,
                MessageType::Interactive,
                json!({"type": "interactive",
                    "reply": {"kind": "button", "id": "cancel-button", "title": "Cancel"}}),
                Some("Cancel"),
                Some(OUTBOUND),
            )
        );
    }

    #[test]
    fn interactive_list_reply() {
        assert_eq!(
            parse("interactive_list_reply"),
            expected(
                10,
                MessageType::Interactive,
                json!({"type": "interactive", "reply": {"kind": "list", "id": "priority_express",
                    "title": "Express Shipping", "description": "Next Day to 2 Days"}}),
                Some("Express Shipping"),
                Some(OUTBOUND),
            )
        );
    }

    #[test]
    fn template_quick_reply() {
        assert_eq!(
            parse("template_quick_reply"),
            expected(
                11,
                MessageType::Interactive,
                json!({"type": "interactive", "reply": {"kind": "quick_reply",
                    "payload": "Unsubscribe from Promos", "text": "Unsubscribe"}}),
                Some("Unsubscribe"),
                Some(OUTBOUND),
            )
        );
    }

    #[test]
    fn reaction() {
        assert_eq!(
            parse("reaction"),
            expected(
                12,
                MessageType::Reaction,
                json!({"type": "reaction", "messageWamid": OUTBOUND, "emoji": "👍"}),
                Some("👍"),
                None,
            )
        );
    }

    #[test]
    fn removed_reaction_has_an_empty_emoji() {
        let mut message = fixture("reaction");
        message["reaction"].as_object_mut().unwrap().remove("emoji");
        assert_eq!(
            parse_inbound(&message).unwrap(),
            expected(
                12,
                MessageType::Reaction,
                json!({"type": "reaction", "messageWamid": OUTBOUND, "emoji": ""}),
                None,
                None,
            )
        );
    }

    #[test]
    fn reply_with_context() {
        assert_eq!(
            parse("reply_with_context"),
            expected(
                13,
                MessageType::Text,
                json!({"type": "text", "body": "Yes, that works for me."}),
                Some("Yes, that works for me."),
                Some(OUTBOUND),
            )
        );
    }

    #[test]
    fn unsupported() {
        assert_eq!(
            parse("unsupported"),
            expected(
                14,
                MessageType::Unsupported,
                json!({"type": "unsupported", "metaType": "poll_update", "errors": [{
                    "code": 131051, "title": "Message type unknown",
                    "message": "Message type unknown",
                    "error_data": {"details": "Message type is currently not supported."}}]}),
                None,
                None,
            )
        );
    }

    #[test]
    fn unknown_types_and_malformed_content_are_kept_as_unsupported() {
        let mut order = fixture("text");
        order["type"] = "order".into();
        let mut no_text = fixture("text");
        no_text.as_object_mut().unwrap().remove("text");
        let mut no_media_id = fixture("image");
        no_media_id["image"].as_object_mut().unwrap().remove("id");
        let mut flow = fixture("interactive_button_reply");
        flow["interactive"] = json!({"type": "nfm_reply",
            "nfm_reply": {"name": "flow", "body": "Sent", "response_json": "{}"}});
        for (message, meta_type) in [
            (order, "order"),
            (no_text, "text"),
            (no_media_id, "image"),
            (flow, "nfm_reply"),
        ] {
            let parsed = parse_inbound(&message).unwrap();
            assert_eq!(parsed.message_type, MessageType::Unsupported);
            assert_eq!(
                parsed.body,
                json!({"type": "unsupported", "metaType": meta_type})
            );
            assert_eq!(parsed.text, None);
        }
    }

    #[test]
    fn long_strings_are_cut_not_refused() {
        let mut text = fixture("text");
        text["text"]["body"] = "é".repeat(TEXT_MAX + 10).into();
        let parsed = parse_inbound(&text).unwrap();
        let body = parsed.body["body"].as_str().unwrap();
        assert_eq!(body.chars().count(), TEXT_MAX);
        assert_eq!(parsed.text.as_deref(), Some(body));

        let mut image = fixture("image");
        image["image"]["caption"] = "x".repeat(STRING_MAX + 1).into();
        let parsed = parse_inbound(&image).unwrap();
        assert_eq!(parsed.body["caption"].as_str().unwrap().len(), STRING_MAX);

        let mut contacts = fixture("contacts");
        contacts["contacts"][0]["name"]["formatted_name"] = "y".repeat(STRING_MAX * 2).into();
        let parsed = parse_inbound(&contacts).unwrap();
        let name = &parsed.body["contacts"][0]["name"]["formatted_name"];
        assert_eq!(name.as_str().unwrap().len(), STRING_MAX);
    }

    #[test]
    fn missing_required_fields_are_errors() {
        for field in ["id", "from", "timestamp", "type"] {
            let mut message = fixture("text");
            message.as_object_mut().unwrap().remove(field);
            let error = parse_inbound(&message).unwrap_err();
            assert!(error.contains(field), "{field}: {error}");
        }
        let mut message = fixture("text");
        message["timestamp"] = "yesterday".into();
        assert!(parse_inbound(&message).is_err());
        message = fixture("text");
        message["from"] = "not-a-number".into();
        assert!(parse_inbound(&message).is_err());
    }

    #[test]
    fn from_with_a_plus_is_the_wa_id() {
        let mut message = fixture("text");
        message["from"] = "+16315551234".into();
        assert_eq!(parse_inbound(&message).unwrap().from, CUSTOMER);
    }

    #[test]
    fn message_fixtures_are_meta_deliveries_for_one_sender_and_customer() {
        let mut wamids: Vec<String> = Vec::new();
        for (name, delivery) in MESSAGE_FIXTURES {
            let value = value(delivery);
            assert_eq!(
                value["metadata"]["phone_number_id"], "106540352242922",
                "{name}"
            );
            assert_eq!(value["contacts"][0]["wa_id"], CUSTOMER, "{name}");
            assert_eq!(value["messages"].as_array().unwrap().len(), 1, "{name}");
            wamids.push(value["messages"][0]["id"].as_str().unwrap().to_owned());
        }
        wamids.sort();
        wamids.dedup();
        assert_eq!(wamids.len(), MESSAGE_FIXTURES.len());
    }

    #[test]
    fn status_fixtures_carry_the_placeholders_the_tests_replace() {
        for (status, delivery) in STATUS_FIXTURES {
            let value = value(delivery);
            assert_eq!(value["metadata"]["phone_number_id"], "106540352242922");
            let reported = &value["statuses"][0];
            assert_eq!(reported["status"], status);
            assert_eq!(reported["id"], "wamid.OUTBOUND1");
            assert_eq!(reported["recipient_id"], CUSTOMER);
            assert_eq!(reported["biz_opaque_callback_data"], "CALLBACK");
            let billed = matches!(status, "sent" | "delivered");
            assert_eq!(reported.get("pricing").is_some(), billed, "{status}");
            assert_eq!(reported.get("conversation").is_some(), billed, "{status}");
        }
        let failed = value(STATUS_FIXTURES[3].1);
        assert_eq!(failed["statuses"][0]["errors"][0]["code"], 131026);
    }
}
