//! Every kind through the rules, the stored form and back; the table of accepted content is
//! shared with the Cloud API request's tests (`crate::whatsapp::request`).

use serde_json::json;

use super::*;
use crate::domain::MediaUrl;

pub(crate) const TO: &str = "917999709798";
pub(crate) const WAMID: &str = "wamid.HBgLMTY0NjcwNDM1OTUVAgASGBQzQTdCNTg5RjY1MEMyRjlGMjRGNgA=";
pub(crate) const TARGET_WAMID: &str = "wamid.HBgLMTY0NjcwNDM1OTUVAgARGBI5QTNDQTVCM0Q0Q0Q2RTY3RTcA";
pub(crate) const MESSAGE_ID: &str = "0191f0c2-6d2e-7c3a-9a4b-1f2e3d4c5b6a";

pub(crate) fn typed(message_type: &str) -> ContentInput {
    ContentInput {
        message_type: Some(message_type.into()),
        ..ContentInput::default()
    }
}

pub(crate) fn text(body: &str) -> ContentInput {
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

pub(crate) fn reaction(message_id: &str, emoji: &str) -> ContentInput {
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

pub(crate) struct Accepted {
    pub(crate) name: &'static str,
    pub(crate) input: ContentInput,
    pub(crate) reply_to: Option<&'static str>,
    /// What the Cloud API request must be, written from Meta's request syntax.
    pub(crate) cloud: Value,
    /// What `to_body` must produce: the stored format.
    pub(crate) body: Value,
    pub(crate) message_type: MessageType,
    pub(crate) preview: Option<&'static str>,
}

pub(crate) fn accepted() -> Vec<Accepted> {
    // The normalized components of the template case: what Meta is sent and what is stored.
    let template_components = json!([
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
    ]);
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
                    "components": template_components.clone(),
                }),
            ),
            body: json!({
                "type": "template",
                "name": "order_update",
                "language": "en_US",
                "components": template_components,
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
fn accepted_content_becomes_stored_bodies() {
    for case in accepted() {
        let name = case.name;
        let content =
            MessageContent::parse(case.input).unwrap_or_else(|e| panic!("{name}: rejected: {e}"));
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
        let content =
            MessageContent::parse(case.input).unwrap_or_else(|e| panic!("{name}: rejected: {e}"));
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
        MessageContent::Media(Media {
            kind: MediaKind::Document,
            url: MediaUrl::parse("https://files.example.com/q.pdf").unwrap(),
            caption: None,
            filename: Some("q.pdf".into()),
            mime_type: Some("application/pdf".into()),
        })
    );
    let plain = MessageContent::parse(text("no link here: example.com")).unwrap();
    assert_eq!(
        plain,
        MessageContent::Text(Text {
            body: "no link here: example.com".into(),
            preview_url: false,
        })
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
    interactive(json!({"type": "list", "body": "Choose", "button": "Open", "sections": sections}))
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
    #[rustfmt::skip]
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
        MessageContent::Text(Text {
            body: "see https://a.example".into(),
            preview_url: true,
        })
    );
}
