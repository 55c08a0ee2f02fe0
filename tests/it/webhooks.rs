//! Meta's webhooks: the verification handshake, signatures, and real delivery shapes (fixtures
//! written from Meta's documented examples) for every status and inbound type, duplicated and out
//! of order.

use chrono::Utc;
use entity::{
    contact, conversation,
    message::{self, MessageDirection, MessageStatus, MessageType},
    send_attempt::{self, SendAttemptState},
    webhook_event,
};
use hmac::{Hmac, Mac};
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, EntityTrait, PaginatorTrait, QueryFilter,
    QueryOrder,
};
use serde_json::json;
use sha2::Sha256;
use uuid::Uuid;

use crate::helpers::{Session, TestApp};

pub(crate) const APP_SECRET: &str = "test-app-secret";
const PHONE_NUMBER_ID: &str = "106540352242922";

pub(crate) fn fixture(name: &str) -> String {
    let path = format!(
        "{}/tests/fixtures/webhooks/{name}.json",
        env!("CARGO_MANIFEST_DIR")
    );
    std::fs::read_to_string(&path).unwrap_or_else(|_| panic!("fixture {path}"))
}

pub(crate) fn sign(body: &str, secret: &str) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).unwrap();
    mac.update(body.as_bytes());
    format!("sha256={}", hex::encode(mac.finalize().into_bytes()))
}

pub(crate) async fn webhook_app() -> TestApp {
    TestApp::spawn_with(|config| {
        config.app_secret = Some(APP_SECRET.into());
        config.webhook_verify_token = Some("verify-me".into());
    })
    .await
}

async fn post(app: &TestApp, body: &str, signature: Option<String>) -> u16 {
    let mut request = app
        .client
        .post(app.url("/webhooks/whatsapp"))
        .header("content-type", "application/json")
        .body(body.to_owned());
    if let Some(signature) = signature {
        request = request.header("x-hub-signature-256", signature);
    }
    request.send().await.unwrap().status().as_u16()
}

pub(crate) async fn deliver(app: &TestApp, body: &str) {
    assert_eq!(
        post(app, body, Some(sign(body, APP_SECRET))).await,
        200,
        "{body}"
    );
}

/// A workspace whose Cloud API sender is the fixtures' number.
pub(crate) async fn workspace(app: &TestApp) -> Session {
    let owner = app.sign_up("Acme", "ada@acme.example").await;
    let connected = app
        .graphql_as(&owner.token,
            "mutation($input: ConnectSenderInput!) { connectSender(input: $input) { id } }",
            json!({"input": {"kind": "CLOUD_API", "phoneNumber": "+15550001", "phoneNumberId": PHONE_NUMBER_ID,
                             "accessToken": "EAAG-test-token", "name": "Sales"}}))
        .await;
    assert!(
        connected["data"]["connectSender"].is_object(),
        "{connected}"
    );
    owner
}

/// Queues a message and gives it `wamid`, as if WhatsApp had accepted it.
pub(crate) async fn accepted_message(
    app: &TestApp,
    owner: &Session,
    wamid: &str,
) -> (message::Model, String) {
    let sent = app
        .graphql_as(
            &owner.token,
            "mutation { sendMessage(input: {to: \"+16315551234\", type: TEXT, text: \"hi\"}) {
                message { id } sendAttempt { id } } }",
            json!({}),
        )
        .await;
    let id = Uuid::parse_str(
        sent["data"]["sendMessage"]["message"]["id"]
            .as_str()
            .unwrap(),
    )
    .unwrap();
    let mut accepted: message::ActiveModel = message::Entity::find_by_id(id)
        .one(&app.db)
        .await
        .unwrap()
        .unwrap()
        .into();
    accepted.wamid = Set(Some(wamid.to_owned()));
    let attempt = sent["data"]["sendMessage"]["sendAttempt"]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    (accepted.update(&app.db).await.unwrap(), attempt)
}

async fn reload(app: &TestApp, id: Uuid) -> message::Model {
    message::Entity::find_by_id(id)
        .one(&app.db)
        .await
        .unwrap()
        .unwrap()
}

pub(crate) fn status(name: &str, wamid: &str, callback: &str) -> String {
    fixture(name)
        .replace("wamid.OUTBOUND1", wamid)
        .replace("CALLBACK", callback)
}

#[tokio::test]
async fn the_verification_handshake_echoes_the_challenge_for_our_token_only() {
    let app = webhook_app().await;
    let ok = app
        .client
        .get(app.url("/webhooks/whatsapp?hub.mode=subscribe&hub.verify_token=verify-me&hub.challenge=1158201444"))
        .send()
        .await
        .unwrap();
    assert_eq!(ok.status(), 200);
    assert!(
        ok.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/plain")
    );
    assert_eq!(ok.text().await.unwrap(), "1158201444");
    for query in [
        "hub.mode=subscribe&hub.verify_token=wrong&hub.challenge=1",
        "hub.mode=unsubscribe&hub.verify_token=verify-me&hub.challenge=1",
        "hub.mode=subscribe&hub.challenge=1",
        "",
    ] {
        let refused = app
            .client
            .get(app.url(&format!("/webhooks/whatsapp?{query}")))
            .send()
            .await
            .unwrap();
        assert_eq!(refused.status(), 403, "{query}");
    }
}

#[tokio::test]
async fn bad_signatures_are_401_and_change_nothing() {
    let app = webhook_app().await;
    let owner = workspace(&app).await;
    let (message, _) = accepted_message(&app, &owner, "wamid.SIGNED").await;
    let body = status("status_read", "wamid.SIGNED", "none");
    let mut flipped = body.clone().into_bytes();
    let at = flipped.iter().position(|byte| *byte == b'r').unwrap();
    flipped[at] = b's';
    let flipped = String::from_utf8(flipped).unwrap();
    for (body, signature) in [
        (body.as_str(), None),
        (body.as_str(), Some("sha256=deadbeef".to_owned())),
        (body.as_str(), Some(sign(&body, "not-the-app-secret"))),
        (
            body.as_str(),
            Some(sign(&body, APP_SECRET).replace("sha256=", "")),
        ),
        (flipped.as_str(), Some(sign(&body, APP_SECRET))),
    ] {
        assert_eq!(
            post(&app, body, signature.clone()).await,
            401,
            "{signature:?}"
        );
    }
    assert_eq!(
        webhook_event::Entity::find().count(&app.db).await.unwrap(),
        0
    );
    assert_eq!(
        reload(&app, message.id).await.status,
        MessageStatus::Pending
    );
}

#[tokio::test]
async fn statuses_apply_forward_only_whatever_their_order() {
    let app = webhook_app().await;
    let owner = workspace(&app).await;
    let (message, _) = accepted_message(&app, &owner, "wamid.OUT-A").await;

    deliver(&app, &status("status_sent", "wamid.OUT-A", "x")).await;
    assert_eq!(reload(&app, message.id).await.status, MessageStatus::Sent);
    // read before delivered, then the late delivered, then duplicates of both.
    deliver(&app, &status("status_read", "wamid.OUT-A", "x")).await;
    deliver(&app, &status("status_delivered", "wamid.OUT-A", "x")).await;
    deliver(&app, &status("status_read", "wamid.OUT-A", "x")).await;
    deliver(&app, &status("status_sent", "wamid.OUT-A", "x")).await;
    let read = reload(&app, message.id).await;
    assert_eq!(read.status, MessageStatus::Read);
    assert!(read.sent_at.is_some() && read.delivered_at.is_some() && read.read_at.is_some());
    // A failure cannot take back a read message.
    deliver(&app, &status("status_failed", "wamid.OUT-A", "x")).await;
    assert_eq!(reload(&app, message.id).await.status, MessageStatus::Read);

    let (other, _) = accepted_message(&app, &owner, "wamid.OUT-B").await;
    deliver(&app, &status("status_failed", "wamid.OUT-B", "x")).await;
    let failed = reload(&app, other.id).await;
    assert_eq!(failed.status, MessageStatus::Failed);
    assert_eq!(failed.error_code.as_deref(), Some("recipient_not_found"));
    assert!(failed.failed_at.is_some());
    deliver(&app, &status("status_delivered", "wamid.OUT-B", "x")).await;
    assert_eq!(reload(&app, other.id).await.status, MessageStatus::Failed);

    // Unknown wamids and unknown numbers are acknowledged and kept.
    deliver(&app, &status("status_read", "wamid.NOBODY", "x")).await;
    deliver(
        &app,
        &status("status_read", "wamid.OUT-A", "x").replace(PHONE_NUMBER_ID, "999"),
    )
    .await;
    let kept = webhook_event::Entity::find()
        .filter(webhook_event::Column::ProcessError.is_not_null())
        .count(&app.db)
        .await
        .unwrap();
    assert!(kept >= 2);
}

#[tokio::test]
async fn a_status_settles_a_delivery_unknown_send() {
    let app = webhook_app().await;
    let owner = workspace(&app).await;
    let (message, attempt_id) = accepted_message(&app, &owner, "wamid.UNUSED").await;
    let mut unknown: message::ActiveModel = message.clone().into();
    unknown.wamid = Set(None);
    unknown.update(&app.db).await.unwrap();
    let attempt = send_attempt::Entity::find_by_id(Uuid::parse_str(&attempt_id).unwrap())
        .one(&app.db)
        .await
        .unwrap()
        .unwrap();
    let mut failed: send_attempt::ActiveModel = attempt.into();
    failed.state = Set(SendAttemptState::Failed);
    failed.error_code = Set(Some("delivery_unknown".into()));
    failed.update(&app.db).await.unwrap();

    deliver(
        &app,
        &status("status_delivered", "wamid.RESOLVED", &attempt_id),
    )
    .await;
    let attempt = send_attempt::Entity::find_by_id(Uuid::parse_str(&attempt_id).unwrap())
        .one(&app.db)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(attempt.state, SendAttemptState::Accepted);
    assert_eq!(attempt.wamid.as_deref(), Some("wamid.RESOLVED"));
    let delivered = reload(&app, message.id).await;
    assert_eq!(delivered.wamid.as_deref(), Some("wamid.RESOLVED"));
    assert_eq!(delivered.status, MessageStatus::Delivered);
}

#[tokio::test]
async fn every_inbound_type_is_stored_once_in_its_conversation() {
    let app = webhook_app().await;
    let owner = workspace(&app).await;
    let before = Utc::now();
    let cases = [
        ("text", MessageType::Text),
        ("image", MessageType::Image),
        ("video", MessageType::Video),
        ("audio", MessageType::Audio),
        ("document", MessageType::Document),
        ("sticker", MessageType::Sticker),
        ("location", MessageType::Location),
        ("contacts", MessageType::Contacts),
        ("interactive_button_reply", MessageType::Interactive),
        ("interactive_list_reply", MessageType::Interactive),
        ("template_quick_reply", MessageType::Interactive),
        ("reaction", MessageType::Reaction),
        ("reply_with_context", MessageType::Text),
        ("unsupported", MessageType::Unsupported),
    ];
    for (name, _) in cases {
        let body = fixture(name);
        deliver(&app, &body).await;
        // Meta retries: the same delivery again changes nothing.
        deliver(&app, &body).await;
    }
    let inbound = message::Entity::find()
        .filter(message::Column::Direction.eq(MessageDirection::Inbound))
        .all(&app.db)
        .await
        .unwrap();
    assert_eq!(inbound.len(), cases.len(), "one row per inbound message");
    for (name, kind) in cases {
        let wamid = serde_json::from_str::<serde_json::Value>(&fixture(name)).unwrap()["entry"][0]
            ["changes"][0]["value"]["messages"][0]["id"]
            .as_str()
            .unwrap()
            .to_owned();
        let stored = inbound
            .iter()
            .find(|m| m.wamid.as_deref() == Some(wamid.as_str()))
            .unwrap_or_else(|| panic!("{name}"));
        assert_eq!(stored.r#type, kind, "{name}");
    }
    let contacts = contact::Entity::find().all(&app.db).await.unwrap();
    assert_eq!(contacts.len(), 1, "one customer");
    assert_eq!(contacts[0].phone, "16315551234");
    assert!(contacts[0].name.is_some(), "named from the profile");
    let conversations = conversation::Entity::find().all(&app.db).await.unwrap();
    assert_eq!(conversations.len(), 1);
    assert_eq!(conversations[0].unread_count, cases.len() as i32);
    assert!(conversations[0].last_inbound_at.is_some());
    let _ = (owner, before);

    // The same message inside another delivery (another body) is still stored once.
    let text = fixture("text");
    let wrapped = text.replacen("\"object\"", "\"unrelated\": 1, \"object\"", 1);
    deliver(&app, &wrapped).await;
    assert_eq!(
        message::Entity::find()
            .filter(message::Column::Direction.eq(MessageDirection::Inbound))
            .count(&app.db)
            .await
            .unwrap(),
        cases.len() as u64
    );
}

/// Deliveries that arrive together are written together (one transaction per batch): every one
/// is stored once and applied, duplicates and reorderings included, one not even JSON among
/// them, and the workspace's event log numbers the status changes without a gap.
#[tokio::test]
async fn concurrent_deliveries_are_each_stored_once_and_applied() {
    const MESSAGES: usize = 12;
    let app = webhook_app().await;
    let owner = workspace(&app).await;
    let mut ids = Vec::new();
    let mut bodies = Vec::new();
    for number in 0..MESSAGES {
        let wamid = format!("wamid.BATCH{number}");
        ids.push(accepted_message(&app, &owner, &wamid).await.0.id);
        // Read first, then the older statuses late; every one of them twice.
        for name in ["status_read", "status_sent", "status_delivered"] {
            bodies.push(status(name, &wamid, ""));
            bodies.push(status(name, &wamid, ""));
        }
    }
    bodies.push("not json, yet signed".to_owned());
    let app = &app;
    futures_util::future::join_all(bodies.iter().map(|body| deliver(app, body))).await;

    for id in ids {
        let message = reload(app, id).await;
        assert_eq!(message.status, MessageStatus::Read);
        assert!(message.sent_at.is_some() && message.delivered_at.is_some());
    }
    let stored = webhook_event::Entity::find().all(&app.db).await.unwrap();
    assert_eq!(stored.len(), MESSAGES * 3 + 1, "each distinct body once");
    assert!(stored.iter().all(|event| event.processed_at.is_some()));
    let numbers: Vec<i64> = entity::workspace_event::Entity::find()
        .order_by_asc(entity::workspace_event::Column::Sequence)
        .all(&app.db)
        .await
        .unwrap()
        .into_iter()
        .map(|event| event.sequence)
        .collect();
    // One to three status changes per message, as the statuses happened to be applied.
    assert!(
        (MESSAGES..=MESSAGES * 3).contains(&numbers.len()),
        "{numbers:?}"
    );
    assert!(
        numbers.iter().copied().eq(1..=numbers.len() as i64),
        "numbered without a gap: {numbers:?}"
    );
}

#[tokio::test]
async fn a_delivery_of_several_statuses_and_messages_applies_every_one() {
    let app = webhook_app().await;
    let owner = workspace(&app).await;
    let (first, _) = accepted_message(&app, &owner, "wamid.OUT-M1").await;
    let (second, _) = accepted_message(&app, &owner, "wamid.OUT-M2").await;
    let status_of = |name: &str, wamid: &str| {
        let delivery: serde_json::Value =
            serde_json::from_str(&status(name, wamid, "not-an-attempt")).unwrap();
        delivery["entry"][0]["changes"][0]["value"]["statuses"][0].clone()
    };
    let inbound: serde_json::Value = serde_json::from_str(&fixture("text")).unwrap();
    // Meta batches: one change with three statuses of two messages, and a customer's message.
    let mut batch: serde_json::Value = serde_json::from_str(&fixture("status_sent")).unwrap();
    let value = &mut batch["entry"][0]["changes"][0]["value"];
    value["statuses"] = json!([
        status_of("status_sent", "wamid.OUT-M1"),
        status_of("status_read", "wamid.OUT-M2"),
        status_of("status_delivered", "wamid.OUT-M1"),
    ]);
    value["contacts"] = inbound["entry"][0]["changes"][0]["value"]["contacts"].clone();
    value["messages"] = inbound["entry"][0]["changes"][0]["value"]["messages"].clone();
    deliver(&app, &batch.to_string()).await;

    assert_eq!(
        reload(&app, first.id).await.status,
        MessageStatus::Delivered
    );
    assert_eq!(reload(&app, second.id).await.status, MessageStatus::Read);
    let received = message::Entity::find()
        .filter(message::Column::Direction.eq(MessageDirection::Inbound))
        .count(&app.db)
        .await
        .unwrap();
    assert_eq!(received, 1);
    let stored = webhook_event::Entity::find().all(&app.db).await.unwrap();
    assert_eq!(stored.len(), 1);
    assert!(stored[0].processed_at.is_some(), "{:?}", stored[0]);
    assert_eq!(stored[0].process_attempts, 1);
}

#[tokio::test]
async fn a_stored_delivery_that_was_never_applied_is_applied_later() {
    let app = webhook_app().await;
    let owner = workspace(&app).await;
    let (message, _) = accepted_message(&app, &owner, "wamid.OUT-LATE").await;
    // What a crash between storing a delivery and applying it leaves behind.
    let body = status("status_delivered", "wamid.OUT-LATE", "x");
    let stored = webhook_event::ActiveModel {
        id: Set(entity::new_id()),
        workspace_id: Set(Some(Uuid::parse_str(&owner.workspace_id).unwrap())),
        phone_number_id: Set(Some(PHONE_NUMBER_ID.into())),
        payload_hash: Set("a-crashed-delivery".into()),
        payload: Set(body),
        received_at: Set(Utc::now() - chrono::Duration::minutes(1)),
        processed_at: Set(None),
        process_attempts: Set(0),
        process_error: Set(None),
    }
    .insert(&app.db)
    .await
    .unwrap();
    assert_eq!(
        reload(&app, message.id).await.status,
        MessageStatus::Pending
    );

    parley::webhooks::intake::process_pending(&app.services)
        .await
        .unwrap();
    assert_eq!(
        reload(&app, message.id).await.status,
        MessageStatus::Delivered
    );
    let applied = webhook_event::Entity::find_by_id(stored.id)
        .one(&app.db)
        .await
        .unwrap()
        .unwrap();
    assert!(applied.processed_at.is_some());
    assert_eq!(applied.process_attempts, 1);
}
