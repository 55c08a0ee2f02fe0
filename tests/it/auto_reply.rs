//! Auto-replies through the webhook: a customer's message outside the active hours gets the
//! default message (spintax, `[name]`) as a real send through the dispatcher to the (fake) Graph
//! API, once per inbound message however often Meta delivers it, and not for reactions, inside
//! the reply-once window or outside the configured mode. The time rules themselves (time zones,
//! days, windows across midnight) are unit-tested with fixed instants in `auto_reply::rules`.

use std::time::Duration;

use entity::{
    auto_reply,
    message::{self, MessageDirection},
    send_attempt,
};
use sea_orm::{ColumnTrait, EntityTrait, PaginatorTrait, QueryFilter};
use serde_json::{Value, json};

use crate::{
    fake_graph::FakeGraph,
    helpers::{Session, TestApp, error_code, eventually},
    webhooks::{APP_SECRET, deliver},
};

const PHONE_NUMBER_ID: &str = "106540352242922";
const CUSTOMER: &str = "16315551234";
const UPDATE: &str =
    "mutation($id: ID!, $input: AutoReplyInput!) { updateAutoReply(senderId: $id, input: $input) {
    enabled botName timezone language defaultMessage activeDays activeHours { from to } mode
    replyUnreadOnly replyOncePerHours } }";

/// A customer's message as Meta delivers it; `time` only changes the envelope.
fn inbound(wamid: &str, kind: &str, time: i64) -> String {
    let content = match kind {
        "reaction" => {
            json!({"type": "reaction", "reaction": {"message_id": "wamid.OTHER", "emoji": "👍"}})
        }
        _ => json!({"type": "text", "text": {"body": "Hi, is my order on its way?"}}),
    };
    let mut message = json!({"from": CUSTOMER, "id": wamid, "timestamp": "1739321025"});
    message
        .as_object_mut()
        .unwrap()
        .extend(content.as_object().unwrap().clone());
    json!({"object": "whatsapp_business_account", "entry": [{"id": "102290129340398", "time": time,
        "changes": [{"field": "messages", "value": {
            "messaging_product": "whatsapp",
            "metadata": {"display_phone_number": "15550783881", "phone_number_id": PHONE_NUMBER_ID},
            "contacts": [{"profile": {"name": "Sheena Nelson"}, "wa_id": CUSTOMER}],
            "messages": [message]}}]}]})
    .to_string()
}

async fn setup(fake: &FakeGraph) -> (TestApp, Session, String) {
    let url = fake.base_url();
    let app = TestApp::spawn_with(move |config| {
        config.graph_api_url = url;
        config.app_secret = Some(APP_SECRET.into());
        config.dispatch_enabled = true;
        config.pair_spacing_ms = 0;
    })
    .await;
    let owner = app.sign_up("Acme", "ada@acme.example").await;
    let connected = app
        .graphql_as(
            &owner.token,
            "mutation($input: ConnectSenderInput!) { connectSender(input: $input) { id } }",
            json!({"input": {"kind": "CLOUD_API", "phoneNumber": "+15550001",
                             "phoneNumberId": PHONE_NUMBER_ID, "wabaId": "102290129340398",
                             "accessToken": "EAAG-test-token", "name": "Sales"}}),
        )
        .await;
    let sender_id = connected["data"]["connectSender"]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    (app, owner, sender_id)
}

async fn update(app: &TestApp, token: &str, sender_id: &str, input: Value) -> Value {
    app.graphql_as(token, UPDATE, json!({"id": sender_id, "input": input}))
        .await
}

async fn replies(app: &TestApp) -> u64 {
    send_attempt::Entity::find().count(&app.db).await.unwrap()
}

#[tokio::test]
async fn an_inbound_message_outside_hours_gets_one_reply_however_often_it_is_delivered() {
    let fake = FakeGraph::start().await;
    let (app, owner, sender_id) = setup(&fake).await;
    // No active day at all: every moment is outside the active hours.
    let set = update(
        &app,
        &owner.token,
        &sender_id,
        json!({
        "enabled": true, "botName": "Acme bot", "timezone": "America/New_York",
        "defaultMessage": "{Hi|Hello} [name], {we are closed|nobody is in} right now.",
        "activeDays": [], "activeHours": {"from": "09:00", "to": "17:00"},
        "mode": "OUTSIDE_ACTIVE_HOURS", "replyOncePerHours": null}),
    )
    .await;
    assert_eq!(set["data"]["updateAutoReply"]["enabled"], true, "{set}");

    deliver(&app, &inbound("wamid.FIRST", "text", 1)).await;
    // The reply is queued before the webhook is answered, and delivered by the dispatcher.
    assert_eq!(replies(&app).await, 1);
    let accepted = eventually(Duration::from_secs(15), || async {
        let accepted = fake.accepted();
        (!accepted.is_empty()).then_some(accepted)
    })
    .await;
    assert_eq!(accepted[0].to, CUSTOMER);
    let sent = fake
        .requests()
        .into_iter()
        .find(|r| r.body["type"] == "text")
        .unwrap();
    let text = sent.body["text"]["body"].as_str().unwrap().to_owned();
    assert!(
        [
            "Hi Sheena Nelson, we are closed right now.",
            "Hello Sheena Nelson, we are closed right now.",
            "Hi Sheena Nelson, nobody is in right now.",
            "Hello Sheena Nelson, nobody is in right now.",
        ]
        .contains(&text.as_str()),
        "{text:?}"
    );

    // Meta delivers it again, as the same body and inside another envelope: no second reply.
    deliver(&app, &inbound("wamid.FIRST", "text", 1)).await;
    deliver(&app, &inbound("wamid.FIRST", "text", 2)).await;
    // A reaction is not someone waiting for an answer.
    deliver(&app, &inbound("wamid.REACTION", "reaction", 3)).await;
    assert_eq!(replies(&app).await, 1);

    // The reply is a real outbound message of the conversation, recorded as the bot's.
    let reply = message::Entity::find()
        .filter(message::Column::Direction.eq(MessageDirection::Outbound))
        .one(&app.db)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(reply.text.as_deref(), Some(text.as_str()));
    let logged = auto_reply::Entity::find().all(&app.db).await.unwrap();
    assert_eq!(logged.len(), 1);
    assert_eq!(logged[0].message_id, reply.id);
    assert_eq!(logged[0].conversation_id, reply.conversation_id);
    let attempt = send_attempt::Entity::find()
        .one(&app.db)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        (attempt.member_id, attempt.api_key_id),
        (None, None),
        "sent by nobody but the bot"
    );

    // Once per 24 hours per conversation: the next message gets no reply.
    update(
        &app,
        &owner.token,
        &sender_id,
        json!({"replyOncePerHours": 24}),
    )
    .await;
    deliver(&app, &inbound("wamid.SECOND", "text", 4)).await;
    assert_eq!(replies(&app).await, 1);
    // Only during the active hours (never, with no active day): no reply either.
    update(
        &app,
        &owner.token,
        &sender_id,
        json!({"replyOncePerHours": null, "mode": "DURING_ACTIVE_HOURS"}),
    )
    .await;
    deliver(&app, &inbound("wamid.THIRD", "text", 5)).await;
    assert_eq!(replies(&app).await, 1);
    // Always: a reply. Turned off: none.
    update(&app, &owner.token, &sender_id, json!({"mode": "ALWAYS"})).await;
    deliver(&app, &inbound("wamid.FOURTH", "text", 6)).await;
    assert_eq!(replies(&app).await, 2);
    update(&app, &owner.token, &sender_id, json!({"enabled": false})).await;
    deliver(&app, &inbound("wamid.FIFTH", "text", 7)).await;
    assert_eq!(replies(&app).await, 2);
    eventually(Duration::from_secs(15), || async {
        (fake.accepted().len() == 2).then_some(())
    })
    .await;
    fake.assert_all_valid();
}

#[tokio::test]
async fn settings_are_validated_and_read_back_on_the_sender() {
    let fake = FakeGraph::start().await;
    let (app, owner, sender_id) = setup(&fake).await;
    let read = "{ senders { edges { node { id autoReply { enabled timezone defaultMessage activeDays activeHours { from to } mode replyUnreadOnly replyOncePerHours botName language } } } } }";
    let defaults = app.graphql_as(&owner.token, read, json!({})).await;
    let settings = &defaults["data"]["senders"]["edges"][0]["node"]["autoReply"];
    assert_eq!(settings["enabled"], false, "{defaults}");
    assert_eq!(settings["timezone"], "UTC");
    assert_eq!(settings["mode"], "OUTSIDE_ACTIVE_HOURS");
    assert_eq!(settings["activeHours"], Value::Null);
    assert_eq!(settings["activeDays"].as_array().unwrap().len(), 7);

    let set = update(
        &app,
        &owner.token,
        &sender_id,
        json!({
        "enabled": true, "botName": "Night owl", "timezone": "Asia/Kolkata", "language": "en",
        "defaultMessage": "{Hi|Hello} [name]", "activeDays": ["FRIDAY", "MONDAY"],
        "activeHours": {"from": "22:00", "to": "6:00"}, "mode": "ALWAYS",
        "replyUnreadOnly": true, "replyOncePerHours": 12}),
    )
    .await;
    let expected = json!({"enabled": true, "botName": "Night owl", "timezone": "Asia/Kolkata",
        "language": "en", "defaultMessage": "{Hi|Hello} [name]", "activeDays": ["MONDAY", "FRIDAY"],
        "activeHours": {"from": "22:00", "to": "06:00"}, "mode": "ALWAYS",
        "replyUnreadOnly": true, "replyOncePerHours": 12});
    assert_eq!(set["data"]["updateAutoReply"], expected, "{set}");
    let again = app.graphql_as(&owner.token, read, json!({})).await;
    assert_eq!(
        again["data"]["senders"]["edges"][0]["node"]["autoReply"],
        expected
    );
    // `always`, like null, means all day.
    let always = update(
        &app,
        &owner.token,
        &sender_id,
        json!({"activeHours": {"from": "always", "to": "always"}}),
    )
    .await;
    assert_eq!(
        always["data"]["updateAutoReply"]["activeHours"],
        Value::Null,
        "{always}"
    );

    for (input, problem) in [
        (
            json!({"timezone": "Mars/Olympus"}),
            "is not an IANA time zone",
        ),
        (json!({"timezone": "+1"}), "is not an IANA time zone"),
        (
            json!({"defaultMessage": "{Hi|Hello [name]"}),
            "without its `}`",
        ),
        (json!({"defaultMessage": ""}), "must not be empty"),
        (
            json!({"defaultMessage": "x".repeat(2001)}),
            "at most 2000 characters",
        ),
        (
            json!({"activeHours": {"from": "25:00", "to": "06:00"}}),
            "activeHours.from must be a time of day",
        ),
        (
            json!({"replyOncePerHours": 0}),
            "replyOncePerHours must be between 1 and 8760",
        ),
    ] {
        let refused = update(&app, &owner.token, &sender_id, input.clone()).await;
        assert_eq!(
            error_code(&refused),
            Some("invalid_request"),
            "{input}: {refused}"
        );
        let message = refused["errors"][0]["message"].as_str().unwrap();
        assert!(
            message.contains(problem),
            "{message:?} should say {problem:?}"
        );
    }
    let unchanged = app.graphql_as(&owner.token, read, json!({})).await;
    assert_eq!(
        unchanged["data"]["senders"]["edges"][0]["node"]["autoReply"]["timezone"],
        "Asia/Kolkata"
    );

    let member = app.add_member(&owner, "bob@acme.example", "MEMBER").await;
    let refused = update(&app, &member.token, &sender_id, json!({"enabled": false})).await;
    assert_eq!(
        error_code(&refused),
        Some("insufficient_scope"),
        "{refused}"
    );
}
