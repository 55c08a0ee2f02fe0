//! Meta's webhook delivery (`POST /webhooks/whatsapp`), as a typed model read once from its
//! bytes: the envelope (`entry[].changes[]`), a `messages` change's value (the receiving number,
//! the customers' profiles, their messages, the statuses of ours, errors) and a
//! `message_template_status_update` change's value.
//!
//! Reading is lenient, because a signed delivery must never be refused for its shape: every JSON
//! value reads. A field that is missing, null or of another JSON type than Meta's is `None` (an
//! empty list, an empty object); unknown fields are ignored; strings are kept whole (what Parley
//! keeps of them is cut where it is stored). Where Meta's type varies in practice, both forms
//! read: timestamps come as text or as numbers, ids as text or numbers, coordinates as numbers or
//! text. Only bytes that are not JSON fail to read. (JSON is read in one pass into the model, so
//! what Parley never reads is only skipped: a number out of `f64`'s range, a lone surrogate or
//! bytes that are not UTF-8 inside a field Parley ignores no longer make a delivery "not JSON".)
//!
//! This module says what Meta sent, not what it means for Parley: it must not depend on
//! `webhooks`, `events` or anything that stores.

use std::{fmt, marker::PhantomData};

use serde::{
    Deserialize, Deserializer,
    de::{IgnoredAny, MapAccess, SeqAccess, Visitor, value::MapAccessDeserializer},
};
use serde_json::Value;

/// One delivery: what Meta POSTs.
#[derive(Debug, Default, Deserialize)]
pub struct Delivery {
    /// `whatsapp_business_account`.
    #[serde(default, deserialize_with = "text")]
    pub object: Option<String>,
    #[serde(default, deserialize_with = "list")]
    pub entry: Vec<Entry>,
}

impl Delivery {
    /// Reads a delivery's bytes; fails only when they are not JSON (the error says why).
    pub fn parse(body: &[u8]) -> Result<Self, serde_json::Error> {
        match serde_json::from_slice::<Lenient<Self>>(body) {
            Ok(Lenient(delivery)) => Ok(delivery),
            // A key given twice fails a struct but not a `Value`, which keeps the last: read such
            // JSON through one. Anything else that fails here is not JSON, and says why.
            Err(_) => Ok(Self::from_value(&serde_json::from_slice(body)?)),
        }
    }

    /// Reads a delivery already parsed as JSON.
    pub fn from_value(value: &Value) -> Self {
        // A `Value`'s objects have no repeated keys, the one thing lenient reading refuses.
        Lenient::<Self>::deserialize(value)
            .map(|Lenient(delivery)| delivery)
            .unwrap_or_default()
    }

    /// Every change of every entry, with its entry.
    pub fn changes(&self) -> impl Iterator<Item = (&Entry, &Change)> {
        self.entry
            .iter()
            .flat_map(|entry| entry.changes.iter().map(move |change| (entry, change)))
    }

    /// The number the first change is for (`entry[0].changes[0].value.metadata`).
    pub fn phone_number_id(&self) -> Option<&str> {
        let change = self.entry.first()?.changes.first()?;
        change.value.metadata.phone_number_id.as_deref()
    }
}

/// One entry: the changes of one WhatsApp Business Account.
#[derive(Debug, Default, Deserialize)]
pub struct Entry {
    /// The Business Account (WABA) id.
    #[serde(default, deserialize_with = "text")]
    pub id: Option<String>,
    #[serde(default, deserialize_with = "list")]
    pub changes: Vec<Change>,
}

/// One change: what `field` it is and its value.
#[derive(Debug, Default, Deserialize)]
pub struct Change {
    /// `messages` or `message_template_status_update` (others are not read).
    #[serde(default, deserialize_with = "text")]
    pub field: Option<String>,
    #[serde(default, deserialize_with = "object")]
    pub value: ChangeValue,
}

impl Change {
    /// The template status update, when this change is one.
    pub fn template_status_update(&self) -> Option<&TemplateStatusUpdate> {
        (self.field.as_deref() == Some("message_template_status_update"))
            .then_some(&self.value.template)
    }
}

/// A change's value. A `messages` change fills the number, contacts, messages, statuses and
/// errors; a `message_template_status_update` change fills [`template`](Self::template).
#[derive(Debug, Default, Deserialize)]
#[serde(from = "RawChangeValue")]
pub struct ChangeValue {
    pub metadata: Metadata,
    pub contacts: Vec<Contact>,
    pub messages: Vec<Message>,
    pub statuses: Vec<Status>,
    pub errors: Vec<WebhookError>,
    pub template: TemplateStatusUpdate,
}

/// Both kinds of value, as one JSON object: which keys a value has does not depend on its
/// change's `field`, which may come after it.
#[derive(Default, Deserialize)]
struct RawChangeValue {
    #[serde(default, deserialize_with = "object")]
    metadata: Metadata,
    #[serde(default, deserialize_with = "list")]
    contacts: Vec<Contact>,
    #[serde(default, deserialize_with = "list")]
    messages: Vec<Message>,
    #[serde(default, deserialize_with = "list")]
    statuses: Vec<Status>,
    #[serde(default, deserialize_with = "list")]
    errors: Vec<WebhookError>,
    #[serde(default, deserialize_with = "text")]
    event: Option<String>,
    #[serde(default, deserialize_with = "id")]
    message_template_id: Option<String>,
    #[serde(default, deserialize_with = "text")]
    message_template_name: Option<String>,
    #[serde(default, deserialize_with = "text")]
    message_template_language: Option<String>,
    #[serde(default, deserialize_with = "text")]
    reason: Option<String>,
}

impl From<RawChangeValue> for ChangeValue {
    fn from(raw: RawChangeValue) -> Self {
        Self {
            metadata: raw.metadata,
            contacts: raw.contacts,
            messages: raw.messages,
            statuses: raw.statuses,
            errors: raw.errors,
            template: TemplateStatusUpdate {
                event: raw.event,
                message_template_id: raw.message_template_id,
                message_template_name: raw.message_template_name,
                message_template_language: raw.message_template_language,
                reason: raw.reason,
            },
        }
    }
}

/// The business number a `messages` change is for.
#[derive(Debug, Default, Deserialize)]
pub struct Metadata {
    #[serde(default, deserialize_with = "text")]
    pub phone_number_id: Option<String>,
    #[serde(default, deserialize_with = "text")]
    pub display_phone_number: Option<String>,
}

/// A customer the change names, with their WhatsApp profile.
#[derive(Debug, Default, Deserialize)]
pub struct Contact {
    #[serde(default, deserialize_with = "object")]
    pub profile: Profile,
    #[serde(default, deserialize_with = "text")]
    pub wa_id: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
pub struct Profile {
    #[serde(default, deserialize_with = "text")]
    pub name: Option<String>,
}

/// The status of a message we sent.
#[derive(Debug, Default, Deserialize)]
pub struct Status {
    /// The message's wamid.
    #[serde(default, deserialize_with = "text")]
    pub id: Option<String>,
    /// `sent`, `delivered`, `read`, `failed` (or another Meta adds).
    #[serde(default, deserialize_with = "text")]
    pub status: Option<String>,
    #[serde(default, deserialize_with = "timestamp")]
    pub timestamp: Option<Timestamp>,
    #[serde(default, deserialize_with = "text")]
    pub recipient_id: Option<String>,
    /// What the send put in `biz_opaque_callback_data`.
    #[serde(default, deserialize_with = "text")]
    pub biz_opaque_callback_data: Option<String>,
    /// Why a `failed` message failed.
    #[serde(default, deserialize_with = "list")]
    pub errors: Vec<WebhookError>,
    #[serde(default, deserialize_with = "optional_object")]
    pub conversation: Option<Conversation>,
    #[serde(default, deserialize_with = "optional_object")]
    pub pricing: Option<Pricing>,
}

/// The conversation a billed status opened or continued.
#[derive(Debug, Default, Deserialize)]
pub struct Conversation {
    #[serde(default, deserialize_with = "text")]
    pub id: Option<String>,
    #[serde(default, deserialize_with = "object")]
    pub origin: ConversationOrigin,
    #[serde(default, deserialize_with = "timestamp")]
    pub expiration_timestamp: Option<Timestamp>,
}

#[derive(Debug, Default, Deserialize)]
pub struct ConversationOrigin {
    #[serde(default, rename = "type", deserialize_with = "text")]
    pub kind: Option<String>,
}

/// How a status is billed.
#[derive(Debug, Default, Deserialize)]
pub struct Pricing {
    #[serde(default, deserialize_with = "boolean")]
    pub billable: Option<bool>,
    #[serde(default, deserialize_with = "text")]
    pub pricing_model: Option<String>,
    #[serde(default, deserialize_with = "text")]
    pub category: Option<String>,
}

/// One of Meta's errors in a delivery: on a failed status, on a change, on a message.
#[derive(Debug, Default, Deserialize)]
pub struct WebhookError {
    #[serde(default, deserialize_with = "integer")]
    pub code: Option<i64>,
    #[serde(default, deserialize_with = "text")]
    pub title: Option<String>,
    #[serde(default, deserialize_with = "text")]
    pub message: Option<String>,
    #[serde(default, deserialize_with = "object")]
    pub error_data: ErrorData,
}

#[derive(Debug, Default, Deserialize)]
pub struct ErrorData {
    #[serde(default, deserialize_with = "text")]
    pub details: Option<String>,
}

/// A `message_template_status_update` change's value.
#[derive(Debug, Default)]
pub struct TemplateStatusUpdate {
    /// `APPROVED`, `REJECTED`, `PAUSED`, `REINSTATED`…
    pub event: Option<String>,
    /// Meta's id of the template, as text (Meta sends a number).
    pub message_template_id: Option<String>,
    pub message_template_name: Option<String>,
    pub message_template_language: Option<String>,
    pub reason: Option<String>,
}

/// A message a customer sent. Its content is in the field named by its `type`.
#[derive(Debug, Default, Deserialize)]
pub struct Message {
    /// The message's wamid.
    #[serde(default, deserialize_with = "text")]
    pub id: Option<String>,
    /// The customer's WhatsApp id.
    #[serde(default, deserialize_with = "text")]
    pub from: Option<String>,
    #[serde(default, deserialize_with = "timestamp")]
    pub timestamp: Option<Timestamp>,
    #[serde(default, rename = "type", deserialize_with = "text")]
    pub kind: Option<String>,
    /// The message this one replies to.
    #[serde(default, deserialize_with = "object")]
    pub context: Context,
    #[serde(default, deserialize_with = "object")]
    pub text: Text,
    #[serde(default, deserialize_with = "object")]
    pub image: Media,
    #[serde(default, deserialize_with = "object")]
    pub video: Media,
    #[serde(default, deserialize_with = "object")]
    pub audio: Media,
    #[serde(default, deserialize_with = "object")]
    pub document: Media,
    #[serde(default, deserialize_with = "object")]
    pub sticker: Media,
    #[serde(default, deserialize_with = "object")]
    pub location: Location,
    /// Contact cards, as Meta gives them (when an array).
    #[serde(default, deserialize_with = "array")]
    pub contacts: Option<Vec<Value>>,
    #[serde(default, deserialize_with = "object")]
    pub interactive: Interactive,
    /// A tap on a template's quick-reply button.
    #[serde(default, deserialize_with = "object")]
    pub button: Button,
    #[serde(default, deserialize_with = "object")]
    pub reaction: Reaction,
    /// What Meta calls a message it does not support.
    #[serde(default, deserialize_with = "object")]
    pub unsupported: Unsupported,
    /// Meta's errors on the message, as given (when an array).
    #[serde(default, deserialize_with = "array")]
    pub errors: Option<Vec<Value>>,
}

#[derive(Debug, Default, Deserialize)]
pub struct Context {
    #[serde(default, deserialize_with = "text")]
    pub id: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
pub struct Text {
    #[serde(default, deserialize_with = "text")]
    pub body: Option<String>,
}

/// An image, video, audio, document or sticker: Meta's media id and what describes it.
#[derive(Debug, Default, Deserialize)]
pub struct Media {
    #[serde(default, deserialize_with = "text")]
    pub id: Option<String>,
    #[serde(default, deserialize_with = "text")]
    pub mime_type: Option<String>,
    #[serde(default, deserialize_with = "text")]
    pub sha256: Option<String>,
    #[serde(default, deserialize_with = "text")]
    pub caption: Option<String>,
    /// Documents only.
    #[serde(default, deserialize_with = "text")]
    pub filename: Option<String>,
    /// Stickers only.
    #[serde(default, deserialize_with = "boolean")]
    pub animated: Option<bool>,
    /// Audio only: a voice note.
    #[serde(default, deserialize_with = "boolean")]
    pub voice: Option<bool>,
}

#[derive(Debug, Default, Deserialize)]
pub struct Location {
    /// Finite degrees (Meta sends numbers; some relays send them as text).
    #[serde(default, deserialize_with = "coordinate")]
    pub latitude: Option<f64>,
    #[serde(default, deserialize_with = "coordinate")]
    pub longitude: Option<f64>,
    #[serde(default, deserialize_with = "text")]
    pub name: Option<String>,
    #[serde(default, deserialize_with = "text")]
    pub address: Option<String>,
}

/// An interactive reply: its `type` names the field that holds it.
#[derive(Debug, Default, Deserialize)]
pub struct Interactive {
    #[serde(default, rename = "type", deserialize_with = "text")]
    pub kind: Option<String>,
    #[serde(default, deserialize_with = "object")]
    pub button_reply: Reply,
    #[serde(default, deserialize_with = "object")]
    pub list_reply: Reply,
}

/// The button or list row a customer chose.
#[derive(Debug, Default, Deserialize)]
pub struct Reply {
    #[serde(default, deserialize_with = "text")]
    pub id: Option<String>,
    #[serde(default, deserialize_with = "text")]
    pub title: Option<String>,
    /// List rows only.
    #[serde(default, deserialize_with = "text")]
    pub description: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
pub struct Button {
    #[serde(default, deserialize_with = "text")]
    pub text: Option<String>,
    #[serde(default, deserialize_with = "text")]
    pub payload: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
pub struct Reaction {
    /// The wamid of the message reacted to.
    #[serde(default, deserialize_with = "text")]
    pub message_id: Option<String>,
    /// Absent when the customer removed their reaction.
    #[serde(default, deserialize_with = "text")]
    pub emoji: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
pub struct Unsupported {
    #[serde(default, rename = "type", deserialize_with = "text")]
    pub kind: Option<String>,
}

/// Unix seconds as Meta sent them: text (Meta's form) or a number.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Timestamp {
    Text(String),
    Seconds(i64),
    /// Any other JSON value (null, a fraction, a number beyond `i64`).
    Unreadable,
}

/// Any JSON value, reduced to what a field of the model can take from it.
enum Scalar {
    Text(String),
    Signed(i64),
    Unsigned(u64),
    Float(f64),
    Bool(bool),
    /// null, an array or an object.
    Other,
}

impl Scalar {
    /// The integer a JSON number is, when it is one that fits `i64`.
    fn integer(&self) -> Option<i64> {
        match *self {
            Scalar::Signed(number) => Some(number),
            Scalar::Unsigned(number) => i64::try_from(number).ok(),
            _ => None,
        }
    }
}

impl<'de> Deserialize<'de> for Scalar {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct ScalarVisitor;
        impl<'de> Visitor<'de> for ScalarVisitor {
            type Value = Scalar;
            fn expecting(&self, formatter: &mut fmt::Formatter) -> fmt::Result {
                formatter.write_str("any JSON value")
            }
            fn visit_bool<E>(self, value: bool) -> Result<Scalar, E> {
                Ok(Scalar::Bool(value))
            }
            fn visit_i64<E>(self, value: i64) -> Result<Scalar, E> {
                Ok(Scalar::Signed(value))
            }
            fn visit_u64<E>(self, value: u64) -> Result<Scalar, E> {
                Ok(Scalar::Unsigned(value))
            }
            fn visit_f64<E>(self, value: f64) -> Result<Scalar, E> {
                Ok(Scalar::Float(value))
            }
            fn visit_str<E>(self, value: &str) -> Result<Scalar, E> {
                Ok(Scalar::Text(value.to_owned()))
            }
            fn visit_string<E>(self, value: String) -> Result<Scalar, E> {
                Ok(Scalar::Text(value))
            }
            fn visit_unit<E>(self) -> Result<Scalar, E> {
                Ok(Scalar::Other)
            }
            fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> Result<Scalar, A::Error> {
                skip_seq(seq).map(|()| Scalar::Other)
            }
            fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Scalar, A::Error> {
                skip_map(map).map(|()| Scalar::Other)
            }
        }
        deserializer.deserialize_any(ScalarVisitor)
    }
}

/// A visitor's methods for null, booleans, numbers and strings: each reads as the default value.
macro_rules! scalars_read_as_default {
    () => {
        fn visit_bool<E>(self, _: bool) -> Result<Self::Value, E> {
            Ok(Self::Value::default())
        }
        fn visit_i64<E>(self, _: i64) -> Result<Self::Value, E> {
            Ok(Self::Value::default())
        }
        fn visit_u64<E>(self, _: u64) -> Result<Self::Value, E> {
            Ok(Self::Value::default())
        }
        fn visit_f64<E>(self, _: f64) -> Result<Self::Value, E> {
            Ok(Self::Value::default())
        }
        fn visit_str<E>(self, _: &str) -> Result<Self::Value, E> {
            Ok(Self::Value::default())
        }
        fn visit_unit<E>(self) -> Result<Self::Value, E> {
            Ok(Self::Value::default())
        }
    };
}

/// `T` read from a JSON object; `T::default()` from any other JSON value.
struct Lenient<T>(T);

impl<'de, T: Deserialize<'de> + Default> Deserialize<'de> for Lenient<T> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct ObjectVisitor<T>(PhantomData<T>);
        impl<'de, T: Deserialize<'de> + Default> Visitor<'de> for ObjectVisitor<T> {
            type Value = T;
            fn expecting(&self, formatter: &mut fmt::Formatter) -> fmt::Result {
                formatter.write_str("any JSON value")
            }
            fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<T, A::Error> {
                T::deserialize(MapAccessDeserializer::new(map))
            }
            scalars_read_as_default!();
            fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> Result<T, A::Error> {
                skip_seq(seq).map(|()| T::default())
            }
        }
        deserializer
            .deserialize_any(ObjectVisitor(PhantomData))
            .map(Lenient)
    }
}

fn skip_seq<'de, A: SeqAccess<'de>>(mut seq: A) -> Result<(), A::Error> {
    while seq.next_element::<IgnoredAny>()?.is_some() {}
    Ok(())
}

fn skip_map<'de, A: MapAccess<'de>>(mut map: A) -> Result<(), A::Error> {
    while map.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
    Ok(())
}

fn text<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Option<String>, D::Error> {
    Ok(match Scalar::deserialize(deserializer)? {
        Scalar::Text(text) => Some(text),
        _ => None,
    })
}

/// An id Meta sends as a number (or as text), as text.
fn id<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Option<String>, D::Error> {
    Ok(match Scalar::deserialize(deserializer)? {
        Scalar::Text(text) => Some(text),
        Scalar::Signed(number) => Some(number.to_string()),
        Scalar::Unsigned(number) => Some(number.to_string()),
        // Written as serde_json writes the number.
        Scalar::Float(number) => serde_json::Number::from_f64(number).map(|n| n.to_string()),
        Scalar::Bool(_) | Scalar::Other => None,
    })
}

fn integer<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Option<i64>, D::Error> {
    Ok(Scalar::deserialize(deserializer)?.integer())
}

fn boolean<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Option<bool>, D::Error> {
    Ok(match Scalar::deserialize(deserializer)? {
        Scalar::Bool(flag) => Some(flag),
        _ => None,
    })
}

fn coordinate<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Option<f64>, D::Error> {
    // As serde_json reads a number as f64.
    let number = match Scalar::deserialize(deserializer)? {
        Scalar::Float(number) => Some(number),
        Scalar::Signed(number) => Some(number as f64),
        Scalar::Unsigned(number) => Some(number as f64),
        Scalar::Text(text) => text.trim().parse().ok(),
        Scalar::Bool(_) | Scalar::Other => None,
    };
    Ok(number.filter(|number: &f64| number.is_finite()))
}

/// Called only for a timestamp that is there: a null one is [`Timestamp::Unreadable`].
fn timestamp<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Option<Timestamp>, D::Error> {
    let scalar = Scalar::deserialize(deserializer)?;
    Ok(Some(match scalar {
        Scalar::Text(text) => Timestamp::Text(text),
        _ => scalar
            .integer()
            .map_or(Timestamp::Unreadable, Timestamp::Seconds),
    }))
}

fn object<'de, D: Deserializer<'de>, T: Deserialize<'de> + Default>(
    deserializer: D,
) -> Result<T, D::Error> {
    Lenient::deserialize(deserializer).map(|Lenient(value)| value)
}

/// An object that is there (any JSON value but null) as `Some`.
fn optional_object<'de, D: Deserializer<'de>, T: Deserialize<'de> + Default>(
    deserializer: D,
) -> Result<Option<T>, D::Error> {
    Option::<Lenient<T>>::deserialize(deserializer).map(|value| value.map(|Lenient(value)| value))
}

/// A JSON array of `T`, each element read leniently; empty from any other value.
fn list<'de, D: Deserializer<'de>, T: Deserialize<'de> + Default>(
    deserializer: D,
) -> Result<Vec<T>, D::Error> {
    struct ListVisitor<T>(PhantomData<T>);
    impl<'de, T: Deserialize<'de> + Default> Visitor<'de> for ListVisitor<T> {
        type Value = Vec<T>;
        fn expecting(&self, formatter: &mut fmt::Formatter) -> fmt::Result {
            formatter.write_str("any JSON value")
        }
        fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Vec<T>, A::Error> {
            let mut items = Vec::new();
            while let Some(Lenient(item)) = seq.next_element()? {
                items.push(item);
            }
            Ok(items)
        }
        fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Vec<T>, A::Error> {
            skip_map(map).map(|()| Vec::new())
        }
        scalars_read_as_default!();
    }
    deserializer.deserialize_any(ListVisitor(PhantomData))
}

/// A JSON array kept as given; `None` from any other value.
fn array<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Option<Vec<Value>>, D::Error> {
    Ok(match Value::deserialize(deserializer)? {
        Value::Array(items) => Some(items),
        _ => None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn read(value: Value) -> Delivery {
        let body = serde_json::to_vec(&value).unwrap();
        Delivery::parse(&body).expect("JSON reads")
    }

    /// The value of the first change of `value`'s first entry.
    fn first_value(delivery: &Delivery) -> &ChangeValue {
        &delivery.entry[0].changes[0].value
    }

    #[test]
    fn metas_fields_are_read() {
        let body = include_str!("../../tests/fixtures/webhooks/status_sent.json");
        let delivery = Delivery::parse(body.as_bytes()).unwrap();
        assert_eq!(
            delivery.object.as_deref(),
            Some("whatsapp_business_account")
        );
        assert_eq!(delivery.entry[0].id.as_deref(), Some("102290129340398"));
        assert_eq!(delivery.phone_number_id(), Some("106540352242922"));
        let change = &delivery.entry[0].changes[0];
        assert_eq!(change.field.as_deref(), Some("messages"));
        assert!(change.template_status_update().is_none());
        let value = &change.value;
        assert_eq!(
            value.metadata.display_phone_number.as_deref(),
            Some("15550783881")
        );
        let status = &value.statuses[0];
        assert_eq!(status.id.as_deref(), Some("wamid.OUTBOUND1"));
        assert_eq!(status.status.as_deref(), Some("sent"));
        assert_eq!(status.timestamp, Some(Timestamp::Text("1739321100".into())));
        assert_eq!(status.recipient_id.as_deref(), Some("16315551234"));
        assert_eq!(status.biz_opaque_callback_data.as_deref(), Some("CALLBACK"));
        let conversation = status.conversation.as_ref().unwrap();
        assert_eq!(conversation.origin.kind.as_deref(), Some("utility"));
        assert_eq!(status.pricing.as_ref().unwrap().billable, Some(true));

        let body = include_str!("../../tests/fixtures/webhooks/status_failed.json");
        let delivery = Delivery::parse(body.as_bytes()).unwrap();
        let error = &first_value(&delivery).statuses[0].errors[0];
        assert_eq!(error.code, Some(131_026));
        assert!(error.title.is_some() && error.error_data.details.is_some());

        let body = include_str!("../../tests/fixtures/webhooks/text.json");
        let delivery = Delivery::parse(body.as_bytes()).unwrap();
        let value = first_value(&delivery);
        assert_eq!(value.contacts[0].wa_id.as_deref(), Some("16315551234"));
        assert!(value.contacts[0].profile.name.is_some());
        let message = &value.messages[0];
        assert_eq!(message.kind.as_deref(), Some("text"));
        assert_eq!(message.from.as_deref(), Some("16315551234"));
        assert!(message.text.body.is_some());
    }

    #[test]
    fn template_status_updates_are_read_with_their_id_as_text() {
        let delivery = read(json!({"entry": [{"id": "102290129340398", "changes": [{
            "value": {"event": "APPROVED", "message_template_id": 1_689_556_908_129_832_u64,
                "message_template_name": "order_confirmation",
                "message_template_language": "en_US", "reason": "NONE"},
            "field": "message_template_status_update"}]}]}));
        let update = delivery.entry[0].changes[0]
            .template_status_update()
            .unwrap();
        assert_eq!(update.event.as_deref(), Some("APPROVED"));
        assert_eq!(
            update.message_template_id.as_deref(),
            Some("1689556908129832")
        );
        assert_eq!(
            update.message_template_name.as_deref(),
            Some("order_confirmation")
        );
        assert_eq!(update.message_template_language.as_deref(), Some("en_US"));
        assert_eq!(update.reason.as_deref(), Some("NONE"));
        let by_text =
            read(json!({"entry": [{"changes": [{"value": {"message_template_id": "9"}}]}]}));
        let value = first_value(&by_text);
        assert_eq!(value.template.message_template_id.as_deref(), Some("9"));
    }

    #[test]
    fn every_json_value_reads_and_only_other_bytes_fail() {
        for body in [
            "[1]",
            "\"x\"",
            "null",
            "7",
            "{}",
            r#"{"entry": 5}"#,
            r#"{"entry": {}}"#,
        ] {
            let delivery = Delivery::parse(body.as_bytes()).expect(body);
            assert_eq!(delivery.changes().count(), 0, "{body}");
        }
        for body in ["", "{", "{\"entry\": [}", "not json"] {
            let error = Delivery::parse(body.as_bytes()).unwrap_err();
            let as_value = serde_json::from_slice::<Value>(body.as_bytes()).unwrap_err();
            assert_eq!(error.to_string(), as_value.to_string(), "{body}");
        }
    }

    #[test]
    fn fields_of_another_type_are_none_and_elements_keep_their_place() {
        let delivery = read(json!({"entry": [7, {"id": 12, "changes": [[], {
            "field": ["messages"],
            "value": {"metadata": "106540352242922", "contacts": {"wa_id": "1"},
                "statuses": [5, {"id": 9, "status": null, "timestamp": 1_739_321_100,
                    "errors": [{"code": "131026", "title": 1}], "conversation": 3,
                    "pricing": null}],
                "messages": [{"id": "wamid.1", "from": 16_315_551_234_u64, "timestamp": null,
                    "type": "location", "location": {"latitude": "37.5", "longitude": "x"},
                    "contacts": {"name": "?"}, "errors": "none", "text": "Hi"}]}}]}]}));
        assert_eq!(delivery.entry.len(), 2);
        assert!(delivery.entry[0].changes.is_empty());
        let entry = &delivery.entry[1];
        assert_eq!(entry.id, None);
        assert_eq!(entry.changes.len(), 2);
        let change = &entry.changes[1];
        assert_eq!(change.field, None);
        assert_eq!(change.value.metadata.phone_number_id, None);
        assert!(change.value.contacts.is_empty());
        let [unreadable, status] = &change.value.statuses[..] else {
            panic!("two statuses");
        };
        assert_eq!(unreadable.id, None);
        assert_eq!((&status.id, &status.status), (&None, &None));
        assert_eq!(status.timestamp, Some(Timestamp::Seconds(1_739_321_100)));
        assert_eq!(
            (status.errors[0].code, &status.errors[0].title),
            (None, &None)
        );
        assert!(status.conversation.is_some() && status.pricing.is_none());
        let message = &change.value.messages[0];
        assert_eq!(message.from, None);
        assert_eq!(message.timestamp, Some(Timestamp::Unreadable));
        assert_eq!(message.location.latitude, Some(37.5));
        assert_eq!(message.location.longitude, None);
        assert_eq!((&message.contacts, &message.errors), (&None, &None));
        assert_eq!(message.text.body, None);
    }

    #[test]
    fn a_key_given_twice_reads_as_its_last_value() {
        let body = br#"{"entry": [{"id": "first", "id": "last", "changes": []}]}"#;
        let delivery = Delivery::parse(body).unwrap();
        assert_eq!(delivery.entry[0].id.as_deref(), Some("last"));
    }

    #[test]
    fn timestamps_read_as_text_or_whole_seconds() {
        let timestamp = |value: Value| {
            let delivery = read(json!({"entry": [{"changes": [{"value": {
                "statuses": [{"timestamp": value}]}}]}]}));
            first_value(&delivery).statuses[0].timestamp.clone()
        };
        assert_eq!(
            timestamp(json!(" 17 ")),
            Some(Timestamp::Text(" 17 ".into()))
        );
        assert_eq!(timestamp(json!(-17)), Some(Timestamp::Seconds(-17)));
        assert_eq!(timestamp(json!(1.5)), Some(Timestamp::Unreadable));
        assert_eq!(timestamp(json!(u64::MAX)), Some(Timestamp::Unreadable));
        assert_eq!(timestamp(json!({})), Some(Timestamp::Unreadable));
        let delivery = read(json!({"entry": [{"changes": [{"value": {"statuses": [{}]}}]}]}));
        assert_eq!(first_value(&delivery).statuses[0].timestamp, None);
    }
}
