//! The send path: the contract's examples verbatim, every message type, every rejection code,
//! idempotency, find-or-create under concurrency, the daily cap, pacing, and waiting for
//! WhatsApp's answer.

use std::{collections::HashSet, time::Duration};

use chrono::Utc;
use entity::{contact, conversation, message, send_attempt, sender};
use futures_util::future::join_all;
use parley::events::Event;
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, EntityTrait, PaginatorTrait, QueryFilter,
    QueryOrder,
};
use serde_json::{Value, json};
use uuid::Uuid;

use crate::helpers::{Session, TestApp, error_code, eventually};

const SEND_A: &str = "/api/v1/messages/send";
const SEND_B: &str = "/api/v1/messages";
const SEND_MESSAGE: &str = "mutation($input: SendMessageInput!) { sendMessage(input: $input) {
    sendAttempt { id status attempts } message { id type text status direction }
    contact { id phone name } conversation { id } contactCreated } }";

/// A workspace whose owner has a sandbox sender on +917000000001.
async fn workspace(app: &TestApp) -> (Session, String) {
    let owner = app.sign_up("Acme", "ada@acme.example").await;
    let sender = app.sandbox_sender(&owner, "+917000000001").await;
    (owner, sender)
}

#[tokio::test]
async fn shape_a_examples_work_verbatim() {
    let app = TestApp::spawn().await;
    let (owner, _) = workspace(&app).await;
    let (status, body) = app
        .rest_post(
            SEND_A,
            &owner.token,
            &[],
            &json!({"from": "+917000000001", "to": "+917999709798", "type": "text",
                    "text": "Your invoice is ready."}),
        )
        .await;
    assert_eq!(status, 202, "{body}");
    let id = body["sendAttemptId"].as_str().unwrap();
    assert_eq!(
        body,
        json!({"accepted": true, "sendAttemptId": id, "messageId": null, "remoteJid": null,
               "from": "+917000000001", "to": "+917999709798",
               "normalizedPhone": "917999709798", "status": "queued"})
    );
    for example in [
        json!({"to": "+917999709798", "type": "image",
               "image": {"url": "https://cdn.example.com/a.jpg", "caption": "Your photo"}}),
        json!({"to": "+917999709798", "type": "document",
               "document": {"url": "https://cdn.example.com/q.pdf", "fileName": "q.pdf",
                            "mimetype": "application/pdf", "caption": "Quote"}}),
        json!({"to": "+917999709798", "type": "location",
               "location": {"latitude": 19.07, "longitude": 72.87, "name": "Office",
                            "address": "Mumbai"}}),
        json!({"to": "+917999709798", "type": "template",
               "template": {"name": "invoice_ready", "language": {"code": "en_US"},
                            "components": [{"type": "body", "parameters": [{"type": "text", "text": "42"}]}]}}),
    ] {
        let (status, body) = app.rest_post(SEND_A, &owner.token, &[], &example).await;
        assert_eq!(status, 202, "{example}: {body}");
        assert_eq!(body["status"], "queued");
    }

    let (status, polled) = app
        .rest_get(&format!("/api/v1/messages/{id}"), Some(&owner.token))
        .await;
    assert_eq!(status, 200);
    assert_eq!(polled["status"], "queued");
    assert_eq!(polled["deliveryStatus"], "pending");
    assert_eq!(polled["messageId"], Value::Null);
}

#[tokio::test]
async fn shape_b_examples_work_verbatim() {
    let app = TestApp::spawn().await;
    let (owner, sender_id) = workspace(&app).await;
    let (status, first) = app
        .rest_post(
            SEND_B,
            &owner.token,
            &[],
            &json!({"to": "+14155550123", "type": "text", "text": "Hi", "contact_name": "Ada"}),
        )
        .await;
    assert_eq!(status, 202, "still queued when nothing delivers: {first}");
    assert_eq!(first["contact_created"], true);
    assert_eq!(first["whatsapp_message_id"], Value::Null);
    assert_eq!(first["status"], "queued");
    for field in [
        "message_id",
        "conversation_id",
        "contact_id",
        "send_attempt_id",
    ] {
        assert!(first[field].is_string(), "{field}: {first}");
    }
    let contact = contact::Entity::find_by_id(
        Uuid::parse_str(first["contact_id"].as_str().unwrap()).unwrap(),
    )
    .one(&app.db)
    .await
    .unwrap()
    .unwrap();
    assert_eq!(contact.name.as_deref(), Some("Ada"));

    for example in [
        json!({"to": "+14155550123", "type": "document", "media_url": "https://cdn.example.com/invoice.pdf",
               "filename": "invoice.pdf", "text": "caption"}),
        json!({"to": "+14155550123", "type": "template",
               "template": {"name": "order_update", "language": {"code": "en_US"}, "components": []}}),
        json!({"to": "+14155550123", "type": "text", "text": "Following up",
               "reply_to": first["message_id"], "channel_id": sender_id}),
        json!({"to": "+14155550123", "type": "text", "text": "Renamed?", "contact_name": "Someone else"}),
    ] {
        let (status, body) = app.rest_post(SEND_B, &owner.token, &[], &example).await;
        assert_eq!(status, 202, "{example}: {body}");
        assert_eq!(body["contact_created"], false);
        assert_eq!(
            body["conversation_id"], first["conversation_id"],
            "same open conversation"
        );
    }
    let contact = contact::Entity::find_by_id(contact.id)
        .one(&app.db)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        contact.name.as_deref(),
        Some("Ada"),
        "contact_name names only a new contact"
    );
}

#[tokio::test]
async fn every_message_type_is_accepted_through_graphql() {
    let app = TestApp::spawn().await;
    let (owner, _) = workspace(&app).await;
    let first = app
        .graphql_as(
            &owner.token,
            SEND_MESSAGE,
            json!({"input": {"to": "+447700900123", "type": "TEXT", "text": "See https://example.com",
                             "contactName": "Grace"}}),
        )
        .await;
    let payload = &first["data"]["sendMessage"];
    assert_eq!(payload["contactCreated"], true, "{first}");
    assert_eq!(payload["contact"]["name"], "Grace");
    assert_eq!(payload["contact"]["phone"], "+447700900123");
    assert_eq!(payload["sendAttempt"]["status"], "QUEUED");
    assert_eq!(payload["message"]["status"], "PENDING");
    assert_eq!(payload["message"]["direction"], "OUTBOUND");
    let first_message = payload["message"]["id"].clone();

    let media = |kind: &str, extra: Value| {
        let mut input = json!({"to": "+447700900123", "type": kind,
                               "media": {"url": format!("https://cdn.example.com/file.{}", kind.to_lowercase())}});
        if let Value::Object(extra) = extra {
            input["media"].as_object_mut().unwrap().extend(extra);
        }
        input
    };
    let buttons = json!({"type": "button", "body": {"text": "Pick one"},
        "action": {"buttons": [{"type": "reply", "reply": {"id": "yes", "title": "Yes"}},
                               {"type": "reply", "reply": {"id": "no", "title": "No"}}]}});
    let list = json!({"type": "list", "body": {"text": "Menu"}, "action": {"button": "Choose",
        "sections": [{"title": "Mains", "rows": [{"id": "r1", "title": "Rice", "description": "Plain"}]}]}});
    for (expected_type, input) in [
        ("IMAGE", media("IMAGE", json!({"caption": "a photo"}))),
        ("VIDEO", media("VIDEO", json!({"caption": "a clip"}))),
        ("AUDIO", media("AUDIO", json!({}))),
        (
            "DOCUMENT",
            media(
                "DOCUMENT",
                json!({"fileName": "q.pdf", "mimeType": "application/pdf"}),
            ),
        ),
        ("STICKER", media("STICKER", json!({}))),
        (
            "LOCATION",
            json!({"to": "+447700900123", "type": "LOCATION",
                            "location": {"latitude": 51.5, "longitude": -0.12, "name": "HQ"}}),
        ),
        (
            "CONTACTS",
            json!({"to": "+447700900123", "type": "CONTACTS",
                            "contacts": [{"name": {"formatted_name": "Ada Lovelace", "first_name": "Ada"},
                                          "phones": [{"phone": "+447700900999", "type": "CELL"}]}]}),
        ),
        (
            "TEMPLATE",
            json!({"to": "+447700900123", "type": "TEMPLATE",
                            "template": {"name": "hello_world", "languageCode": "en_US"}}),
        ),
        (
            "INTERACTIVE",
            json!({"to": "+447700900123", "type": "INTERACTIVE", "interactive": buttons}),
        ),
        (
            "INTERACTIVE",
            json!({"to": "+447700900123", "type": "INTERACTIVE", "interactive": list}),
        ),
        (
            "REACTION",
            json!({"to": "+447700900123", "type": "REACTION",
                            "reaction": {"messageId": first_message, "emoji": "👍"}}),
        ),
        (
            "TEXT",
            json!({"to": "+447700900123", "type": "TEXT", "text": "a reply",
                        "replyToMessageId": first_message}),
        ),
    ] {
        let response = app
            .graphql_as(&owner.token, SEND_MESSAGE, json!({"input": input}))
            .await;
        let message = &response["data"]["sendMessage"]["message"];
        assert_eq!(message["type"], expected_type, "{input}: {response}");
    }
    let stored = message::Entity::find()
        .filter(message::Column::ReplyToMessageId.is_not_null())
        .count(&app.db)
        .await
        .unwrap();
    assert_eq!(stored, 1, "the reply records what it replies to");
}

/// Sends `input` through GraphQL and returns the error code.
async fn graphql_code(app: &TestApp, token: &str, input: Value) -> String {
    let response = app
        .graphql_as(token, SEND_MESSAGE, json!({"input": input}))
        .await;
    error_code(&response)
        .unwrap_or_else(|| panic!("expected an error for {input}: {response}"))
        .to_owned()
}

#[tokio::test]
async fn each_rejection_has_its_code() {
    let app = TestApp::spawn().await;
    let (owner, sender_id) = workspace(&app).await;
    let member = app.add_member(&owner, "bob@acme.example", "MEMBER").await;
    let (_, read_only) = app.create_key(&owner, &["messages:read"], None).await;
    let other = app.sign_up("Globex", "hank@globex.example").await;
    let other_sender = app.sandbox_sender(&other, "+15550009999").await;
    let other_message = app
        .graphql_as(
            &other.token,
            SEND_MESSAGE,
            json!({"input": {"to": "+447700900123", "type": "TEXT", "text": "hi"}}),
        )
        .await["data"]["sendMessage"]["message"]["id"]
        .clone();
    let text = |extra: Value| {
        let mut input = json!({"to": "+447700900123", "type": "TEXT", "text": "hi"});
        input
            .as_object_mut()
            .unwrap()
            .extend(extra.as_object().unwrap().clone());
        input
    };

    let cases = [
        (
            "invalid_phone_number",
            &owner.token,
            text(json!({"to": "12"})),
        ),
        (
            "invalid_phone_number",
            &owner.token,
            text(json!({"to": "+44 abc 7700"})),
        ),
        (
            "invalid_media_url",
            &owner.token,
            json!({"to": "+447700900123", "type": "IMAGE", "media": {"url": "http://example.com/a.jpg"}}),
        ),
        (
            "invalid_media_url",
            &owner.token,
            json!({"to": "+447700900123", "type": "IMAGE", "media": {"url": "https://127.0.0.1/a.jpg"}}),
        ),
        (
            "template_malformed",
            &owner.token,
            json!({"to": "+447700900123", "type": "TEMPLATE",
                   "template": {"name": "Bad Name!", "languageCode": "en_US"}}),
        ),
        (
            "template_malformed",
            &owner.token,
            json!({"to": "+447700900123", "type": "TEMPLATE",
                   "template": {"name": "ok", "languageCode": "en_US", "components": [{"type": "button"}]}}),
        ),
        (
            "invalid_request",
            &owner.token,
            text(json!({"text": "x".repeat(4097)})),
        ),
        ("invalid_request", &owner.token, text(json!({"text": null}))),
        (
            "invalid_request",
            &owner.token,
            text(json!({"replyToMessageId": other_message})),
        ),
        (
            "invalid_request",
            &owner.token,
            json!({"to": "+447700900123", "type": "INTERACTIVE", "interactive": {"type": "button",
                   "body": {"text": "?"}, "action": {"buttons": [
                   {"type": "reply", "reply": {"id": "1", "title": "a"}}, {"type": "reply", "reply": {"id": "2", "title": "b"}},
                   {"type": "reply", "reply": {"id": "3", "title": "c"}}, {"type": "reply", "reply": {"id": "4", "title": "d"}}]}}}),
        ),
        ("whatsapp_not_configured", &member.token, text(json!({}))),
        (
            "sender_selection_forbidden",
            &member.token,
            text(json!({"from": "+917000000001"})),
        ),
        (
            "sender_selection_forbidden",
            &member.token,
            text(json!({"senderId": sender_id})),
        ),
        (
            "sender_not_allowed",
            &owner.token,
            text(json!({"from": "+15550009999"})),
        ),
        (
            "sender_not_allowed",
            &owner.token,
            text(json!({"senderId": other_sender})),
        ),
        ("insufficient_scope", &read_only, text(json!({}))),
    ];
    for (expected, token, input) in cases {
        assert_eq!(
            graphql_code(&app, token, input.clone()).await,
            expected,
            "{input}"
        );
    }

    // The same over REST, with the envelope and status.
    for (expected, status, token, body) in [
        (
            "invalid_phone_number",
            400,
            &owner.token,
            json!({"to": "+1", "type": "text", "text": "hi"}),
        ),
        (
            "invalid_media_url",
            400,
            &owner.token,
            json!({"to": "+447700900123", "type": "image", "image": {"url": "https://localhost/a.jpg"}}),
        ),
        (
            "template_malformed",
            400,
            &owner.token,
            json!({"to": "+447700900123", "type": "template", "template": {"name": "x", "language": {"code": "english!"}}}),
        ),
        (
            "invalid_request",
            400,
            &owner.token,
            json!({"to": "+447700900123", "type": "carrier_pigeon"}),
        ),
        (
            "invalid_request",
            400,
            &owner.token,
            json!({"type": "text"}),
        ),
        (
            "whatsapp_not_configured",
            400,
            &member.token,
            json!({"to": "+447700900123", "type": "text", "text": "hi"}),
        ),
        (
            "sender_selection_forbidden",
            403,
            &member.token,
            json!({"from": "+917000000001", "to": "+447700900123", "type": "text", "text": "hi"}),
        ),
        (
            "sender_not_allowed",
            403,
            &owner.token,
            json!({"from": "+15550009999", "to": "+447700900123", "type": "text", "text": "hi"}),
        ),
        (
            "insufficient_scope",
            403,
            &read_only,
            json!({"to": "+447700900123", "type": "text", "text": "hi"}),
        ),
    ] {
        let (got, response) = app.rest_post(SEND_A, token, &[], &body).await;
        assert_eq!(
            (got, response["error"]["code"].as_str()),
            (status, Some(expected)),
            "{body}: {response}"
        );
        assert_eq!(response["error"]["status"], status);
    }
    let (status, response) = app
        .rest_post(SEND_B, &owner.token, &[],
            &json!({"to": "+447700900123", "type": "text", "text": "hi", "reply_to": Uuid::now_v7()}))
        .await;
    assert_eq!(
        (status, response["error"]["code"].as_str()),
        (400, Some("invalid_request"))
    );

    // A disconnected sender refuses sends.
    let mut disconnected: sender::ActiveModel =
        sender::Entity::find_by_id(Uuid::parse_str(&sender_id).unwrap())
            .one(&app.db)
            .await
            .unwrap()
            .unwrap()
            .into();
    disconnected.status = Set(sender::SenderStatus::Disconnected);
    disconnected.update(&app.db).await.unwrap();
    let (status, response) = app
        .rest_post(
            SEND_A,
            &owner.token,
            &[],
            &json!({"to": "+447700900123", "type": "text", "text": "hi"}),
        )
        .await;
    assert_eq!(
        (status, response["error"]["code"].as_str()),
        (409, Some("whatsapp_not_connected"))
    );
}

#[tokio::test]
async fn idempotency_keys_replay_conflict_and_expire() {
    let app = TestApp::spawn().await;
    let (owner, _) = workspace(&app).await;
    let body = json!({"to": "+447700900123", "type": "text", "text": "Exactly once"});
    let requests = (0..50).map(|i| {
        // Quoted and unquoted spellings name the same key.
        let key = if i % 2 == 0 {
            "order-42"
        } else {
            "\"order-42\""
        };
        let (app, token, body) = (&app, owner.token.clone(), body.clone());
        async move {
            app.rest_post(SEND_A, &token, &[("idempotency-key", key)], &body)
                .await
        }
    });
    let responses = join_all(requests).await;
    let first = &responses[0];
    assert_eq!(first.0, 202, "{first:?}");
    for response in &responses {
        assert_eq!(response, first, "every retry gets the same answer");
    }
    assert_eq!(
        send_attempt::Entity::find().count(&app.db).await.unwrap(),
        1
    );
    assert_eq!(message::Entity::find().count(&app.db).await.unwrap(), 1);

    let (status, conflict) = app
        .rest_post(
            SEND_A,
            &owner.token,
            &[("idempotency-key", "order-42")],
            &json!({"to": "+447700900123", "type": "text", "text": "Something else"}),
        )
        .await;
    assert_eq!(
        (status, conflict["error"]["code"].as_str()),
        (409, Some("idempotency_conflict"))
    );

    // After the retention window (24 h by default) the key names a new send.
    let attempt = send_attempt::Entity::find()
        .one(&app.db)
        .await
        .unwrap()
        .unwrap();
    let mut aged: send_attempt::ActiveModel = attempt.into();
    aged.created_at = Set(Utc::now() - chrono::Duration::hours(25));
    aged.update(&app.db).await.unwrap();
    let (status, fresh) = app
        .rest_post(
            SEND_A,
            &owner.token,
            &[("idempotency-key", "order-42")],
            &body,
        )
        .await;
    assert_eq!(status, 202);
    assert_ne!(fresh["sendAttemptId"], first.1["sendAttemptId"]);
    assert_eq!(
        send_attempt::Entity::find().count(&app.db).await.unwrap(),
        2
    );
}

#[tokio::test]
async fn concurrent_first_sends_to_a_new_number_share_one_contact_and_conversation() {
    let app = TestApp::spawn().await;
    let (owner, _) = workspace(&app).await;
    let sends = (0..50).map(|i| {
        let (app, token) = (&app, owner.token.clone());
        async move {
            app.rest_post(
                SEND_B,
                &token,
                &[],
                &json!({"to": "+447700900555", "type": "text", "text": format!("message {i}")}),
            )
            .await
        }
    });
    let responses = join_all(sends).await;
    assert!(
        responses.iter().all(|(status, _)| *status == 202),
        "{responses:?}"
    );
    let created = responses
        .iter()
        .filter(|(_, body)| body["contact_created"] == true)
        .count();
    assert_eq!(created, 1, "exactly one send created the contact");
    assert_eq!(contact::Entity::find().count(&app.db).await.unwrap(), 1);
    assert_eq!(
        conversation::Entity::find().count(&app.db).await.unwrap(),
        1
    );
    assert_eq!(message::Entity::find().count(&app.db).await.unwrap(), 50);
}

async fn update_sender(app: &TestApp, owner: &Session, sender_id: &str, input: Value) -> Value {
    let response = app
        .graphql_as(
            &owner.token,
            "mutation($id: ID!, $input: UpdateSenderInput!) { updateSender(id: $id, input: $input) {
                dailyLimit pacingEnabled pacingMinSecs pacingMaxSecs } }",
            json!({"id": sender_id, "input": input}),
        )
        .await;
    assert!(response["data"]["updateSender"].is_object(), "{response}");
    response["data"]["updateSender"].clone()
}

#[tokio::test]
async fn sender_settings_are_validated() {
    let app = TestApp::spawn().await;
    let (owner, sender_id) = workspace(&app).await;
    let updated = update_sender(
        &app,
        &owner,
        &sender_id,
        json!({"dailyLimit": 10, "pacingMinSecs": 60}),
    )
    .await;
    assert_eq!(
        updated,
        json!({"dailyLimit": 10, "pacingEnabled": false, "pacingMinSecs": 60, "pacingMaxSecs": 300})
    );
    for input in [
        json!({"dailyLimit": 0}),
        json!({"pacingMinSecs": 400}),
        json!({"pacingMaxSecs": -1}),
    ] {
        let response = app
            .graphql_as(&owner.token,
                "mutation($id: ID!, $input: UpdateSenderInput!) { updateSender(id: $id, input: $input) { id } }",
                json!({"id": sender_id, "input": input}))
            .await;
        assert_eq!(
            error_code(&response),
            Some("invalid_request"),
            "{input}: {response}"
        );
    }
}

#[tokio::test]
async fn the_daily_cap_admits_exactly_n_of_concurrent_sends() {
    const CAP: usize = 5;
    let app = TestApp::spawn().await;
    let (owner, sender_id) = workspace(&app).await;
    update_sender(&app, &owner, &sender_id, json!({"dailyLimit": CAP})).await;
    let sends = (0..CAP + 10).map(|i| {
        let (app, token) = (&app, owner.token.clone());
        async move {
            app.rest_post(
                SEND_A,
                &token,
                &[],
                &json!({"to": format!("+4477009001{i:02}"), "type": "text", "text": "hi"}),
            )
            .await
        }
    });
    let responses = join_all(sends).await;
    let accepted = responses
        .iter()
        .filter(|(status, _)| *status == 202)
        .count();
    assert_eq!(accepted, CAP, "{responses:?}");
    for (status, body) in responses.iter().filter(|(status, _)| *status != 202) {
        assert_eq!(
            (*status, body["error"]["code"].as_str()),
            (429, Some("rate_limited"))
        );
    }
    assert_eq!(
        send_attempt::Entity::find().count(&app.db).await.unwrap(),
        CAP as u64
    );
}

#[tokio::test]
async fn a_paced_sender_spaces_its_sends_by_two_to_five_minutes() {
    let app = TestApp::spawn().await;
    let (owner, sender_id) = workspace(&app).await;
    update_sender(&app, &owner, &sender_id, json!({"pacingEnabled": true})).await;
    let before = Utc::now();
    for i in 0..3 {
        let (status, body) = app
            .rest_post(
                SEND_A,
                &owner.token,
                &[],
                &json!({"to": format!("+44770090020{i}"), "type": "text", "text": "hi"}),
            )
            .await;
        assert_eq!(status, 202, "{body}");
    }
    let slots: Vec<_> = send_attempt::Entity::find()
        .order_by_asc(send_attempt::Column::CreatedAt)
        .all(&app.db)
        .await
        .unwrap()
        .into_iter()
        .map(|attempt| attempt.next_attempt_at)
        .collect();
    assert!(slots[0] >= before - chrono::Duration::seconds(1) && slots[0] <= Utc::now());
    for pair in slots.windows(2) {
        let gap = (pair[1] - pair[0]).num_seconds();
        assert!((120..=300).contains(&gap), "gap of {gap} s");
    }
}

/// Plays the dispatcher: once the attempt for `to` is queued, marks it accepted by WhatsApp.
async fn accept_when_queued(app: &TestApp) {
    let attempt = eventually(Duration::from_secs(10), || async {
        send_attempt::Entity::find().one(&app.db).await.unwrap()
    })
    .await;
    let mut accepted: send_attempt::ActiveModel = attempt.clone().into();
    accepted.state = Set(send_attempt::SendAttemptState::Accepted);
    accepted.wamid = Set(Some("wamid.HBgLMTQxNTU1NTAxMjM".into()));
    accepted.wa_id = Set(Some("14155550123".into()));
    accepted.update(&app.db).await.unwrap();
    app.events.publish(Event::SendAttemptUpdated {
        workspace_id: attempt.workspace_id,
        send_attempt_id: attempt.id,
        state: send_attempt::SendAttemptState::Accepted,
    });
}

#[tokio::test]
async fn wait_true_and_shape_b_answer_once_whatsapp_accepts() {
    let app = TestApp::spawn_with(|config| config.send_wait_secs = 20).await;
    let (owner, _) = workspace(&app).await;
    let body = json!({"to": "+14155550123", "type": "text", "text": "Hi"});
    let waiting = format!("{SEND_A}?wait=true");
    let (sent, ()) = tokio::join!(
        app.rest_post(&waiting, &owner.token, &[], &body),
        accept_when_queued(&app),
    );
    assert_eq!(sent.0, 200, "{:?}", sent.1);
    assert_eq!(sent.1["status"], "accepted");
    assert_eq!(sent.1["messageId"], "wamid.HBgLMTQxNTU1NTAxMjM");
    assert_eq!(sent.1["remoteJid"], "14155550123@s.whatsapp.net");

    send_attempt::Entity::delete_many()
        .exec(&app.db)
        .await
        .unwrap();
    let (sent, ()) = tokio::join!(
        app.rest_post(SEND_B, &owner.token, &[], &body),
        accept_when_queued(&app),
    );
    assert_eq!(sent.0, 201, "{:?}", sent.1);
    assert_eq!(sent.1["whatsapp_message_id"], "wamid.HBgLMTQxNTU1NTAxMjM");
    assert_eq!(sent.1["status"], "accepted");
}

#[tokio::test]
async fn a_refused_send_answers_with_its_error_when_waiting() {
    let app = TestApp::spawn_with(|config| config.send_wait_secs = 20).await;
    let (owner, _) = workspace(&app).await;
    let refuse = async {
        let attempt = eventually(Duration::from_secs(10), || async {
            send_attempt::Entity::find().one(&app.db).await.unwrap()
        })
        .await;
        let mut failed: send_attempt::ActiveModel = attempt.clone().into();
        failed.state = Set(send_attempt::SendAttemptState::Failed);
        failed.error_code = Set(Some("recipient_not_found".into()));
        failed.error_message = Set(Some("the number is not on WhatsApp".into()));
        failed.update(&app.db).await.unwrap();
        app.events.publish(Event::SendAttemptUpdated {
            workspace_id: attempt.workspace_id,
            send_attempt_id: attempt.id,
            state: send_attempt::SendAttemptState::Failed,
        });
    };
    let waiting = format!("{SEND_A}?wait=true");
    let body = json!({"to": "+14155550123", "type": "text", "text": "Hi"});
    let (sent, ()) = tokio::join!(app.rest_post(&waiting, &owner.token, &[], &body), refuse);
    assert_eq!(
        (sent.0, sent.1["error"]["code"].as_str()),
        (404, Some("recipient_not_found"))
    );
}

#[tokio::test]
async fn send_attempts_are_readable_by_id_through_graphql() {
    let app = TestApp::spawn().await;
    let (owner, _) = workspace(&app).await;
    let sent = app
        .graphql_as(
            &owner.token,
            SEND_MESSAGE,
            json!({"input": {"to": "+447700900123", "type": "TEXT", "text": "hi"}}),
        )
        .await;
    let id = sent["data"]["sendMessage"]["sendAttempt"]["id"].clone();
    let read = app
        .graphql_as(
            &owner.token,
            "query($id: ID!) { sendAttempt(id: $id) { id status wamid errorCode attempts
                message { id text status contact { phone } conversation { id } } } }",
            json!({"id": id}),
        )
        .await;
    let attempt = &read["data"]["sendAttempt"];
    assert_eq!(attempt["status"], "QUEUED", "{read}");
    assert_eq!(attempt["message"]["text"], "hi");
    assert_eq!(attempt["message"]["status"], "PENDING");
    assert_eq!(attempt["message"]["contact"]["phone"], "+447700900123");
    let ids: HashSet<_> = [attempt["id"].clone()].into_iter().collect();
    assert!(ids.contains(&id));
}
