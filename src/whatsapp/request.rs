//! The body of `POST /{version}/{phone_number_id}/messages`, spelled as Meta's Cloud API
//! documentation spells it: the envelope every message shares (recipient, reply context,
//! callback data) around the message's `type` and its object.
//!
//! The object is the content's own ([`crate::domain::content::Payload`], one type per message
//! type, owned by the kind it belongs to); this module only wraps it. Its rules (lengths, counts,
//! URL safety) are checked once, by [`crate::domain::MessageContent::parse`], before anything
//! here is built. Optional fields are left out of the JSON rather than sent as `null`, as Meta's
//! examples do.

use serde::{Deserialize, Serialize};

use crate::domain::{ContentError, MessageContent, content::Payload};

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
    /// The request that sends `content` to `to`, as a contextual reply to `reply_to_wamid` if
    /// given. `reaction_wamid` is the wamid of the message a reaction points at; the caller
    /// resolves it from [`MessageContent::reaction_target`].
    ///
    /// Fails only for a reaction without a wamid: the message reacted to never reached WhatsApp.
    /// A reaction is never sent as a reply, which Meta refuses; it already names its message.
    pub fn new(
        content: &MessageContent,
        to: &str,
        reply_to_wamid: Option<&str>,
        reaction_wamid: Option<&str>,
    ) -> Result<Self, ContentError> {
        let payload = content.to_payload(reaction_wamid)?;
        let context = reply_to_wamid
            .filter(|_| content.can_be_a_reply())
            .map(|wamid| Context {
                message_id: wamid.to_owned(),
            });
        Ok(Self {
            messaging_product: MessagingProduct::Whatsapp,
            recipient_type: RecipientType::Individual,
            to: to.to_owned(),
            context,
            biz_opaque_callback_data: None,
            payload,
        })
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

#[cfg(test)]
mod tests {
    use serde_json::Value;
    use uuid::Uuid;

    use super::*;
    use crate::domain::{
        ContentErrorKind,
        content::tests::{MESSAGE_ID, TARGET_WAMID, TO, accepted, reaction, text},
    };

    /// The request as the JSON body that is posted.
    fn to_cloud_api(
        content: &MessageContent,
        to: &str,
        reply_to_wamid: Option<&str>,
        reaction_wamid: Option<&str>,
    ) -> Result<Value, ContentError> {
        let request = MessageRequest::new(content, to, reply_to_wamid, reaction_wamid)?;
        Ok(serde_json::to_value(request).expect("a Cloud API request has only string keys"))
    }

    #[test]
    fn accepted_content_becomes_meta_requests() {
        for case in accepted() {
            let name = case.name;
            let content = MessageContent::parse(case.input)
                .unwrap_or_else(|e| panic!("{name}: rejected: {e}"));
            let request = to_cloud_api(&content, TO, case.reply_to, Some(TARGET_WAMID))
                .unwrap_or_else(|e| panic!("{name}: no request: {e}"));
            assert_eq!(request, case.cloud, "{name}: Cloud API request");
        }
    }

    #[test]
    fn typed_requests_match_their_json() {
        for case in accepted() {
            let content = MessageContent::parse(case.input).unwrap();
            let request =
                MessageRequest::new(&content, TO, case.reply_to, Some(TARGET_WAMID)).unwrap();
            let read: MessageRequest = serde_json::from_value(case.cloud).unwrap();
            assert_eq!(read, request, "{}", case.name);
        }
    }

    #[test]
    fn a_reaction_points_at_its_message_and_needs_its_wamid() {
        let content = MessageContent::parse(reaction(MESSAGE_ID, "❤️")).unwrap();
        let target = Uuid::parse_str(MESSAGE_ID).unwrap();
        assert_eq!(content.reaction_target(), Some(target));
        for missing in [None, Some("")] {
            let error = to_cloud_api(&content, TO, None, missing).unwrap_err();
            assert_eq!(error.kind, ContentErrorKind::InvalidRequest);
            assert!(error.message.contains("no WhatsApp message id"), "{error}");
        }
        let text = MessageContent::parse(text("hi")).unwrap();
        assert_eq!(text.reaction_target(), None);
        // Other types ignore a reaction wamid.
        assert_eq!(
            to_cloud_api(&text, TO, None, None).unwrap(),
            to_cloud_api(&text, TO, None, Some(TARGET_WAMID)).unwrap()
        );
    }
}
