//! The REST send body (both shapes) from any bytes: parsed as the handlers parse it, validated
//! into message content, and, when accepted, stored and read back unchanged and turned into a
//! Cloud API request. Nothing may panic on the way.
#![no_main]

use libfuzzer_sys::fuzz_target;
use parley::{
    domain::{MessageContent, Phone},
    rest::messages::SendBody,
    whatsapp::request::MessageRequest,
};

fuzz_target!(|data: &[u8]| {
    let Ok(body) = serde_json::from_slice::<SendBody>(data) else {
        return;
    };
    let _ = Phone::parse(&body.to);
    let (input, _reply_to, _contact_name) = body.content();
    let Ok(content) = MessageContent::parse(input) else {
        return;
    };
    let stored = content.to_body();
    let read_back = MessageContent::from_body(&stored)
        .unwrap_or_else(|error| panic!("{stored} was accepted but does not read back: {error}"));
    assert_eq!(read_back, content, "{stored}");
    let _ = content.message_type();
    let _ = content.preview_text();
    let reaction = content.reaction_target().map(|_| "wamid.REACTED");
    let request = MessageRequest::new(&content, "15550001234", Some("wamid.REPLY"), reaction);
    let _ = request.map(|request| serde_json::to_vec(&request));
});
