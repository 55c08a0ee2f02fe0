//! Delivery: the dispatcher against the sandbox and against a fake Graph API — exact requests,
//! retries and terminal failures, at-most-once when the answer is lost, the sender's rate, and
//! the spacing of sends to one recipient.

use std::time::Duration;

use futures_util::StreamExt;

use entity::{
    message::{self, MessageStatus},
    send_attempt::{self, SendAttemptState},
    sender,
};
use sea_orm::{ColumnTrait, EntityTrait, PaginatorTrait, QueryFilter};
use serde_json::{Value, json};
use uuid::Uuid;

use crate::{
    fake_graph::{FakeGraph, Reply},
    helpers::{Session, TestApp, eventually},
};

const SEND_MESSAGE: &str = "mutation($input: SendMessageInput!) { sendMessage(input: $input) {
    sendAttempt { id } message { id } } }";

async fn delivering_app(configure: impl FnOnce(&mut parley::config::Config)) -> TestApp {
    TestApp::spawn_with(|config| {
        config.dispatch_enabled = true;
        config.send_wait_secs = 15;
        // Meta's 6 s pair spacing is the pair-rate tests' subject; elsewhere it would only slow
        // down the tests that send to one number more than once.
        config.pair_spacing_ms = 0;
        configure(config);
    })
    .await
}

/// Waits until `count` attempts are ACCEPTED.
async fn until_accepted(app: &TestApp, count: usize) {
    eventually(Duration::from_secs(20), || async {
        let accepted = send_attempt::Entity::find()
            .filter(send_attempt::Column::State.eq(SendAttemptState::Accepted))
            .count(&app.db)
            .await
            .unwrap();
        (accepted == count as u64).then_some(())
    })
    .await;
}

/// The attempt once it is ACCEPTED or FAILED.
async fn settled(app: &TestApp, attempt_id: &str) -> send_attempt::Model {
    let id = Uuid::parse_str(attempt_id).unwrap();
    eventually(Duration::from_secs(20), || async {
        send_attempt::Entity::find_by_id(id)
            .one(&app.db)
            .await
            .unwrap()
            .filter(|attempt| {
                matches!(
                    attempt.state,
                    SendAttemptState::Accepted | SendAttemptState::Failed
                )
            })
    })
    .await
}

#[tokio::test]
async fn the_sandbox_accepts_then_reports_sent_delivered_read() {
    let app = delivering_app(|_| {}).await;
    let owner = app.sign_up("Acme", "ada@acme.example").await;
    app.sandbox_sender(&owner, "+15550001").await;
    let (status, sent) = app
        .rest_post(
            "/api/v1/messages",
            &owner.token,
            &[],
            &json!({"to": "+14155550123", "type": "text", "text": "Hello from the sandbox"}),
        )
        .await;
    assert_eq!(status, 201, "{sent}");
    assert!(
        sent["whatsapp_message_id"]
            .as_str()
            .unwrap()
            .starts_with("wamid.SANDBOX")
    );
    let message_id = Uuid::parse_str(sent["message_id"].as_str().unwrap()).unwrap();
    let read = eventually(Duration::from_secs(10), || async {
        message::Entity::find_by_id(message_id)
            .one(&app.db)
            .await
            .unwrap()
            .filter(|message| message.status == MessageStatus::Read)
    })
    .await;
    assert!(read.sent_at.is_some() && read.delivered_at.is_some() && read.read_at.is_some());
    let (_, polled) = app
        .rest_get(
            &format!(
                "/api/v1/messages/{}",
                sent["send_attempt_id"].as_str().unwrap()
            ),
            Some(&owner.token),
        )
        .await;
    assert_eq!(polled["status"], "accepted");
    assert_eq!(polled["deliveryStatus"], "read");
    assert_eq!(polled["remoteJid"], "14155550123@s.whatsapp.net");
}

#[tokio::test]
async fn the_sandbox_refuses_numbers_ending_in_0000() {
    let app = delivering_app(|_| {}).await;
    let owner = app.sign_up("Acme", "ada@acme.example").await;
    app.sandbox_sender(&owner, "+15550001").await;
    let (status, body) = app
        .rest_post(
            "/api/v1/messages/send?wait=true",
            &owner.token,
            &[],
            &json!({"to": "+14155550000", "type": "text", "text": "Anyone?"}),
        )
        .await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (404, Some("recipient_not_found"))
    );
    let failed = message::Entity::find().one(&app.db).await.unwrap().unwrap();
    assert_eq!(failed.status, MessageStatus::Failed);
    assert_eq!(failed.error_code.as_deref(), Some("recipient_not_found"));
}

/// A workspace with a Cloud API sender whose Graph API is `fake`.
async fn cloud_workspace(app: &TestApp) -> Session {
    cloud_sender(app).await.0
}

/// [`cloud_workspace`] and its sender's id.
pub(crate) async fn cloud_sender(app: &TestApp) -> (Session, Value) {
    let owner = app.sign_up("Acme", "ada@acme.example").await;
    let connected = app
        .graphql_as(&owner.token,
            "mutation($input: ConnectSenderInput!) { connectSender(input: $input) { id } }",
            json!({"input": {"kind": "CLOUD_API", "phoneNumber": "+15550001", "phoneNumberId": "106540352242922",
                             "wabaId": "102290129340398", "accessToken": "EAAG-test-token", "name": "Sales"}}))
        .await;
    let sender = &connected["data"]["connectSender"];
    assert!(sender.is_object(), "{connected}");
    (owner, sender["id"].clone())
}

async fn send(app: &TestApp, owner: &Session, input: Value) -> (String, String) {
    let response = app
        .graphql_as(&owner.token, SEND_MESSAGE, json!({"input": input}))
        .await;
    let payload = &response["data"]["sendMessage"];
    assert!(payload.is_object(), "{input}: {response}");
    (
        payload["sendAttempt"]["id"].as_str().unwrap().to_owned(),
        payload["message"]["id"].as_str().unwrap().to_owned(),
    )
}

#[tokio::test]
async fn every_message_type_reaches_the_graph_api_exactly_as_meta_documents() {
    let fake = FakeGraph::start().await;
    let app = delivering_app(|config| config.graph_api_url = fake.base_url()).await;
    let owner = cloud_workspace(&app).await;
    let (first_attempt, first_message) = send(
        &app,
        &owner,
        json!({"to": "+447700900123", "type": "TEXT", "text": "Hi there"}),
    )
    .await;
    let first = settled(&app, &first_attempt).await;
    let first_wamid = first.wamid.clone().expect("accepted with a wamid");

    let cases = [
        (
            json!({"to": "+447700900123", "type": "TEXT", "text": "See https://example.com",
                "replyToMessageId": first_message}),
            json!({"type": "text", "text": {"preview_url": true, "body": "See https://example.com"},
                "context": {"message_id": first_wamid}}),
        ),
        (
            json!({"to": "+447700900123", "type": "IMAGE", "media": {"url": "https://cdn.example.com/a.jpg", "caption": "A photo"}}),
            json!({"type": "image", "image": {"link": "https://cdn.example.com/a.jpg", "caption": "A photo"}}),
        ),
        (
            json!({"to": "+447700900123", "type": "VIDEO", "media": {"url": "https://cdn.example.com/a.mp4"}}),
            json!({"type": "video", "video": {"link": "https://cdn.example.com/a.mp4"}}),
        ),
        (
            json!({"to": "+447700900123", "type": "AUDIO", "media": {"url": "https://cdn.example.com/a.ogg"}}),
            json!({"type": "audio", "audio": {"link": "https://cdn.example.com/a.ogg"}}),
        ),
        (
            json!({"to": "+447700900123", "type": "DOCUMENT",
                "media": {"url": "https://cdn.example.com/q.pdf", "caption": "Quote", "fileName": "q.pdf"}}),
            json!({"type": "document", "document": {"link": "https://cdn.example.com/q.pdf", "caption": "Quote", "filename": "q.pdf"}}),
        ),
        (
            json!({"to": "+447700900123", "type": "STICKER", "media": {"url": "https://cdn.example.com/s.webp"}}),
            json!({"type": "sticker", "sticker": {"link": "https://cdn.example.com/s.webp"}}),
        ),
        (
            json!({"to": "+447700900123", "type": "LOCATION",
                "location": {"latitude": 51.5, "longitude": -0.12, "name": "HQ", "address": "1 Main St"}}),
            json!({"type": "location", "location": {"latitude": 51.5, "longitude": -0.12, "name": "HQ", "address": "1 Main St"}}),
        ),
        (
            json!({"to": "+447700900123", "type": "CONTACTS",
                "contacts": [{"name": {"formatted_name": "Ada Lovelace", "first_name": "Ada"},
                              "phones": [{"phone": "+447700900999", "type": "CELL"}]}]}),
            json!({"type": "contacts", "contacts": [{"name": {"formatted_name": "Ada Lovelace", "first_name": "Ada"},
                                                   "phones": [{"phone": "+447700900999", "type": "CELL"}]}]}),
        ),
        (
            json!({"to": "+447700900123", "type": "TEMPLATE", "template": {"name": "order_update", "languageCode": "en_US",
                "components": [{"type": "body", "parameters": [{"type": "text", "text": "42"}]}]}}),
            json!({"type": "template", "template": {"name": "order_update", "language": {"code": "en_US"},
                "components": [{"type": "body", "parameters": [{"type": "text", "text": "42"}]}]}}),
        ),
        (
            json!({"to": "+447700900123", "type": "INTERACTIVE", "interactive": {"type": "button", "body": {"text": "Pick one"},
                "action": {"buttons": [{"type": "reply", "reply": {"id": "yes", "title": "Yes"}}]}}}),
            json!({"type": "interactive", "interactive": {"type": "button", "body": {"text": "Pick one"},
                "action": {"buttons": [{"type": "reply", "reply": {"id": "yes", "title": "Yes"}}]}}}),
        ),
        (
            json!({"to": "+447700900123", "type": "INTERACTIVE", "interactive": {"type": "list", "body": {"text": "Menu"},
                "action": {"button": "Choose", "sections": [{"title": "Mains", "rows": [{"id": "r1", "title": "Rice"}]}]}}}),
            json!({"type": "interactive", "interactive": {"type": "list", "body": {"text": "Menu"},
                "action": {"button": "Choose", "sections": [{"title": "Mains", "rows": [{"id": "r1", "title": "Rice"}]}]}}}),
        ),
        (
            json!({"to": "+447700900123", "type": "REACTION", "reaction": {"messageId": first_message, "emoji": "👍"}}),
            json!({"type": "reaction", "reaction": {"message_id": first_wamid, "emoji": "👍"}}),
        ),
    ];
    for (input, expected) in cases {
        let (attempt_id, _) = send(&app, &owner, input.clone()).await;
        let attempt = settled(&app, &attempt_id).await;
        assert_eq!(
            attempt.state,
            SendAttemptState::Accepted,
            "{input}: {attempt:?}"
        );
        let received = fake
            .requests()
            .into_iter()
            .find(|request| request.body["biz_opaque_callback_data"] == attempt_id.as_str())
            .expect("the fake received the attempt");
        assert_eq!(received.version, "v23.0");
        assert_eq!(received.phone_number_id, "106540352242922");
        assert_eq!(received.token, "EAAG-test-token");
        let mut want = json!({"messaging_product": "whatsapp", "recipient_type": "individual",
                              "to": "447700900123", "biz_opaque_callback_data": attempt_id});
        want.as_object_mut()
            .unwrap()
            .extend(expected.as_object().unwrap().clone());
        assert_eq!(received.body, want, "{input}");
    }
    fake.assert_all_valid();
}

#[tokio::test]
async fn transient_errors_are_retried_and_terminal_ones_fail_at_once() {
    let fake = FakeGraph::start().await;
    let app = delivering_app(|config| config.graph_api_url = fake.base_url()).await;
    let owner = cloud_workspace(&app).await;
    fake.script(
        "447700900001",
        vec![
            Reply::Error {
                status: 500,
                code: 0,
                message: "Internal".into(),
            },
            Reply::Accept,
        ],
    );
    fake.script(
        "447700900002",
        vec![
            Reply::Error {
                status: 400,
                code: 130429,
                message: "Rate limit hit".into(),
            },
            Reply::Accept,
        ],
    );
    fake.script(
        "447700900003",
        vec![Reply::Error {
            status: 400,
            code: 131026,
            message: "Message undeliverable".into(),
        }],
    );
    fake.script(
        "447700900005",
        vec![Reply::error(
            400,
            132000,
            "Number of parameters does not match",
        )],
    );
    for (to, state, code, calls) in [
        ("447700900001", SendAttemptState::Accepted, None, 2),
        ("447700900002", SendAttemptState::Accepted, None, 2),
        (
            "447700900003",
            SendAttemptState::Failed,
            Some("recipient_not_found"),
            1,
        ),
        (
            "447700900005",
            SendAttemptState::Failed,
            Some("template_malformed"),
            1,
        ),
    ] {
        let (attempt_id, _) = send(
            &app,
            &owner,
            json!({"to": format!("+{to}"), "type": "TEXT", "text": "hi"}),
        )
        .await;
        let attempt = settled(&app, &attempt_id).await;
        assert_eq!(
            (attempt.state, attempt.error_code.as_deref()),
            (state, code),
            "{to}"
        );
        assert_eq!(fake.attempts(&attempt_id), calls, "{to}");
    }

    // A rejected token fails the send and disconnects the sender.
    fake.script(
        "447700900004",
        vec![Reply::Error {
            status: 401,
            code: 190,
            message: "Error validating access token".into(),
        }],
    );
    let (attempt_id, _) = send(
        &app,
        &owner,
        json!({"to": "+447700900004", "type": "TEXT", "text": "hi"}),
    )
    .await;
    let attempt = settled(&app, &attempt_id).await;
    assert_eq!(
        attempt.error_code.as_deref(),
        Some("whatsapp_not_connected")
    );
    let sender = sender::Entity::find().one(&app.db).await.unwrap().unwrap();
    assert_eq!(sender.status, sender::SenderStatus::Disconnected);
    let (status, body) = app
        .rest_post(
            "/api/v1/messages/send",
            &owner.token,
            &[],
            &json!({"to": "+447700900009", "type": "text", "text": "hi"}),
        )
        .await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (409, Some("whatsapp_not_connected"))
    );
}

#[tokio::test]
async fn a_lost_answer_is_delivery_unknown_and_never_sent_again() {
    let fake = FakeGraph::start().await;
    let app = delivering_app(|config| {
        config.graph_api_url = fake.base_url();
        config.graph_api_timeout_ms = 300;
        config.dispatch_lease_ms = 1_000;
    })
    .await;
    let owner = cloud_workspace(&app).await;
    fake.script("447700900001", vec![Reply::Hang]);
    let (attempt_id, message_id) = send(
        &app,
        &owner,
        json!({"to": "+447700900001", "type": "TEXT", "text": "hi"}),
    )
    .await;
    let attempt = settled(&app, &attempt_id).await;
    assert_eq!(attempt.state, SendAttemptState::Failed);
    assert_eq!(attempt.error_code.as_deref(), Some("delivery_unknown"));
    // Well past any retry delay and lease, it has still reached Meta exactly once.
    tokio::time::sleep(Duration::from_millis(2_500)).await;
    assert_eq!(fake.attempts(&attempt_id), 1);
    let message = message::Entity::find_by_id(Uuid::parse_str(&message_id).unwrap())
        .one(&app.db)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        message.status,
        MessageStatus::Pending,
        "Meta may have it: not failed"
    );

    // What Meta later says about it settles it.
    let mut uow = parley::events::UnitOfWork::begin(&app.db, &app.events)
        .await
        .unwrap();
    let resolved = parley::send_queue::settle_unknown(&mut uow, attempt.id, "wamid.LATE")
        .await
        .unwrap();
    uow.commit().await.unwrap();
    assert!(resolved);
    let attempt = send_attempt::Entity::find_by_id(attempt.id)
        .one(&app.db)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        (attempt.state, attempt.wamid.as_deref()),
        (SendAttemptState::Accepted, Some("wamid.LATE"))
    );
}

#[tokio::test]
async fn no_more_requests_are_in_flight_than_the_dispatch_concurrency() {
    const CONCURRENCY: usize = 3;
    const SENDS: usize = 12;
    let fake = FakeGraph::start().await;
    fake.set_latency(Duration::from_millis(300));
    let app = delivering_app(|config| {
        config.graph_api_url = fake.base_url();
        config.dispatch_concurrency = CONCURRENCY;
    })
    .await;
    let owner = cloud_workspace(&app).await;
    for i in 0..SENDS {
        send(
            &app,
            &owner,
            json!({"to": format!("+4477009003{i:02}"), "type": "TEXT", "text": "hi"}),
        )
        .await;
    }
    until_accepted(&app, SENDS).await;
    // Attempts are claimed and prepared ahead, but only `CONCURRENCY` wait on WhatsApp at once,
    // and that many do.
    assert_eq!(fake.max_in_flight(), CONCURRENCY);
    assert_eq!(fake.requests().len(), SENDS);
}

#[tokio::test]
async fn the_token_bucket_holds_a_sender_to_its_rate() {
    const RATE: i32 = 2;
    const SENDS: usize = 8;
    let fake = FakeGraph::start().await;
    let app = delivering_app(|config| config.graph_api_url = fake.base_url()).await;
    let owner = cloud_workspace(&app).await;
    let sender_id = app
        .graphql_as(
            &owner.token,
            "{ senders { edges { node { id } } } }",
            json!({}),
        )
        .await["data"]["senders"]["edges"][0]["node"]["id"]
        .clone();
    let updated = app
        .graphql_as(&owner.token,
            "mutation($id: ID!) { updateSender(id: $id, input: {messagesPerSecond: 2}) { messagesPerSecond } }",
            json!({"id": sender_id}))
        .await;
    assert_eq!(
        updated["data"]["updateSender"]["messagesPerSecond"], RATE,
        "{updated}"
    );
    for i in 0..SENDS {
        send(
            &app,
            &owner,
            json!({"to": format!("+4477009002{i:02}"), "type": "TEXT", "text": "hi"}),
        )
        .await;
    }
    until_accepted(&app, SENDS).await;
    let times: Vec<_> = fake
        .requests()
        .into_iter()
        .map(|request| request.at)
        .collect();
    assert_eq!(times.len(), SENDS);
    let mut times = times;
    times.sort();
    let span = *times.last().unwrap() - times[0];
    // The limit counts whole (wall-clock) seconds at the server, and the fake sees arrivals a
    // little later, with jitter: 8 sends at 2 a second span four windows (more than two seconds
    // first to last, give or take that jitter), where unthrottled they would all go at once.
    assert!(span >= Duration::from_millis(1_500), "sent in {span:?}");
    assert!(span <= Duration::from_secs(8), "too slow: {span:?}");
    // No second-long stretch holds more than two windows' worth, plus one send of jitter.
    for (index, first) in times.iter().enumerate() {
        let within = times[index..]
            .iter()
            .filter(|at| **at - *first < Duration::from_secs(1))
            .count();
        assert!(
            within <= 2 * RATE as usize + 1,
            "{within} sends within a second"
        );
    }
}

/// A different recipient for every send.
fn distinct(i: usize) -> String {
    format!("+4477009{i:05}")
}

/// Signs up through `addr`, connects a Cloud API sender with room for `sends`, and queues them,
/// send `i` to `to(i)`; returns the attempt ids.
async fn queue_sends(addr: &str, sends: usize, to: fn(usize) -> String) -> Vec<String> {
    use crate::helpers::graphql_at;
    let signed_up = graphql_at(addr, None,
        "mutation($i: SignUpInput!) { signUp(input: $i) { token } }",
        json!({"i": {"workspaceName": "Acme", "name": "Ada", "email": "ada@acme.example", "password": "long enough"}}))
        .await;
    let token = signed_up["data"]["signUp"]["token"]
        .as_str()
        .unwrap()
        .to_owned();
    let sender = graphql_at(addr, Some(&token),
        "mutation($input: ConnectSenderInput!) { connectSender(input: $input) { id } }",
        json!({"input": {"kind": "CLOUD_API", "phoneNumber": "+15550001", "phoneNumberId": "106540352242922",
                         "accessToken": "EAAG-test-token", "name": "Sales"}}))
        .await;
    let sender_id = sender["data"]["connectSender"]["id"].clone();
    let updated = graphql_at(addr, Some(&token),
        "mutation($id: ID!) { updateSender(id: $id, input: {dailyLimit: 100000, messagesPerSecond: 1000}) { id } }",
        json!({"id": sender_id}))
        .await;
    assert!(updated["data"]["updateSender"].is_object(), "{updated}");
    let client = reqwest::Client::new();
    let url = format!("http://{addr}/api/v1/messages/send");
    futures_util::stream::iter(0..sends)
        .map(|i| {
            let (client, url, token) = (client.clone(), url.clone(), token.clone());
            async move {
                let response: Value = client
                    .post(url)
                    .bearer_auth(token)
                    .json(&json!({"to": to(i), "type": "text", "text": format!("n{i}")}))
                    .send()
                    .await
                    .unwrap()
                    .json()
                    .await
                    .unwrap();
                response["sendAttemptId"]
                    .as_str()
                    .unwrap_or_else(|| panic!("{response}"))
                    .to_owned()
            }
        })
        .buffer_unordered(16)
        .collect::<Vec<_>>()
        .await
}

/// Every attempt once none is QUEUED or SENDING.
async fn all_settled(
    db: &sea_orm::DatabaseConnection,
    expected: usize,
    within: Duration,
) -> Vec<send_attempt::Model> {
    eventually(within, || async {
        let attempts = send_attempt::Entity::find().all(db).await.unwrap();
        let done = attempts.len() == expected
            && attempts.iter().all(|attempt| {
                matches!(
                    attempt.state,
                    SendAttemptState::Accepted | SendAttemptState::Failed
                )
            });
        done.then_some(attempts)
    })
    .await
}

#[tokio::test]
async fn a_crash_while_sending_loses_nothing_and_sends_nothing_twice() {
    const SENDS: usize = 12;
    let fake = FakeGraph::start().await;
    fake.set_latency(Duration::from_millis(1_500));
    let test_db = crate::helpers::TestDb::new().await;
    let base = fake.base_url();
    let env = [
        ("PARLEY_GRAPH_API_URL", base.as_str()),
        ("PARLEY_GRAPH_API_TIMEOUT_MS", "4000"),
        ("PARLEY_DISPATCH_LEASE_MS", "5000"),
        ("PARLEY_DISPATCH_POLL_MS", "50"),
        ("PARLEY_DISPATCH_CONCURRENCY", "4"),
    ];
    let first = crate::helpers::ParleyProcess::start(&test_db, &["serve"], &env).await;
    let attempts = queue_sends(&first.addr, SENDS, distinct).await;
    // Some requests are at the slow fake, their attempts SENDING: kill the server there.
    eventually(Duration::from_secs(20), || async {
        (fake.requests().len() >= 2).then_some(())
    })
    .await;
    first.kill().await;

    let second = crate::helpers::ParleyProcess::start(&test_db, &["serve"], &env).await;
    let db = test_db.connect().await;
    let settled = all_settled(&db, SENDS, Duration::from_secs(60)).await;
    for attempt_id in &attempts {
        assert!(
            fake.attempts(attempt_id) <= 1,
            "{attempt_id} reached Meta {} times",
            fake.attempts(attempt_id)
        );
    }
    for attempt in &settled {
        match attempt.state {
            SendAttemptState::Accepted => assert_eq!(fake.attempts(&attempt.id.to_string()), 1),
            _ => assert_eq!(
                attempt.error_code.as_deref(),
                Some("delivery_unknown"),
                "{attempt:?}"
            ),
        }
    }
    assert!(
        settled
            .iter()
            .any(|attempt| attempt.error_code.as_deref() == Some("delivery_unknown")),
        "the killed sends end delivery_unknown"
    );
    second.stop().await;
}

#[tokio::test]
async fn two_processes_deliver_each_of_1000_attempts_exactly_once() {
    const SENDS: usize = 1000;
    let fake = FakeGraph::start().await;
    let test_db = crate::helpers::TestDb::new().await;
    let base = fake.base_url();
    let queueing = [
        ("PARLEY_GRAPH_API_URL", base.as_str()),
        ("PARLEY_DISPATCH_ENABLED", "false"),
    ];
    let queuer = crate::helpers::ParleyProcess::start(&test_db, &["serve"], &queueing).await;
    let attempts = queue_sends(&queuer.addr, SENDS, distinct).await;
    queuer.stop().await;

    let delivering = [
        ("PARLEY_GRAPH_API_URL", base.as_str()),
        ("PARLEY_DISPATCH_POLL_MS", "50"),
    ];
    let one = crate::helpers::ParleyProcess::start(&test_db, &["serve"], &delivering).await;
    let two = crate::helpers::ParleyProcess::start(&test_db, &["serve"], &delivering).await;
    let db = test_db.connect().await;
    let settled = all_settled(&db, SENDS, Duration::from_secs(120)).await;
    assert!(
        settled
            .iter()
            .all(|attempt| attempt.state == SendAttemptState::Accepted)
    );
    for attempt_id in &attempts {
        assert_eq!(fake.attempts(attempt_id), 1, "{attempt_id}");
    }
    assert_eq!(fake.requests().len(), SENDS);
    one.stop().await;
    two.stop().await;
}

/// How much closer than the gap two arrivals at the fake may be: the dispatcher spaces its
/// decisions to send, and each request reaches the fake some milliseconds after its decision,
/// not always the same (the first to a fresh connection opens it; on a loaded machine a request
/// can wait for a core, or for another in flight). The gaps are a second, so "spaced" stays
/// unmistakable: unspaced sends arrive within milliseconds of each other.
const ARRIVAL_JITTER: Duration = Duration::from_millis(250);

/// When the fake received each request to `to` (digits as sent), in order.
fn arrivals_to(fake: &FakeGraph, to: &str) -> Vec<std::time::Instant> {
    let mut times: Vec<_> = fake
        .requests()
        .into_iter()
        .filter(|request| request.body["to"] == to)
        .map(|request| request.at)
        .collect();
    times.sort();
    times
}

fn assert_spaced(times: &[std::time::Instant], gap: Duration) {
    for pair in times.windows(2) {
        let apart = pair[1] - pair[0];
        assert!(
            apart + ARRIVAL_JITTER >= gap,
            "two sends to one recipient {apart:?} apart, under the {gap:?} pair spacing"
        );
    }
}

#[tokio::test]
async fn sends_to_one_recipient_are_spaced_and_others_are_not_delayed() {
    const GAP: Duration = Duration::from_millis(1_000);
    let fake = FakeGraph::start().await;
    // Everything is queued before anything delivers, so that all six sends are due at once.
    let app = TestApp::spawn_with(|config| config.graph_api_url = fake.base_url()).await;
    let owner = cloud_workspace(&app).await;
    let others = ["447700900101", "447700900102", "447700900103"];
    for to in ["447700900100"; 3].into_iter().chain(others) {
        send(
            &app,
            &owner,
            json!({"to": format!("+{to}"), "type": "TEXT", "text": "hi"}),
        )
        .await;
    }
    let test_db = app.stop().await;
    let app = TestApp::spawn_on(test_db, |config| {
        config.graph_api_url = fake.base_url();
        config.dispatch_enabled = true;
        config.pair_spacing_ms = GAP.as_millis() as u64;
    })
    .await;

    let settled = all_settled(&app.db, 6, Duration::from_secs(20)).await;
    assert!(
        settled
            .iter()
            .all(|attempt| attempt.state == SendAttemptState::Accepted && attempt.attempts == 1),
        "{settled:#?}"
    );
    let same = arrivals_to(&fake, "447700900100");
    assert_eq!(same.len(), 3);
    assert_spaced(&same, GAP);
    // The other recipients went at once, before the busy recipient's second send.
    let first = fake
        .requests()
        .iter()
        .map(|request| request.at)
        .min()
        .unwrap();
    for to in others {
        let times = arrivals_to(&fake, to);
        assert_eq!(times.len(), 1, "{to}");
        assert!(
            times[0] < same[1] && times[0] - first < GAP,
            "{to} waited {:?} for another recipient's spacing",
            times[0] - first
        );
    }
    fake.assert_all_valid();
}

#[tokio::test]
async fn two_processes_keep_the_pair_spacing_between_them() {
    const SENDS: usize = 8;
    const GAP: Duration = Duration::from_millis(1_000);
    let fake = FakeGraph::start().await;
    let test_db = crate::helpers::TestDb::new().await;
    let base = fake.base_url();
    let queueing = [
        ("PARLEY_GRAPH_API_URL", base.as_str()),
        ("PARLEY_DISPATCH_ENABLED", "false"),
    ];
    let queuer = crate::helpers::ParleyProcess::start(&test_db, &["serve"], &queueing).await;
    // Half of the sends to one recipient, the rest each to another.
    let attempts = queue_sends(&queuer.addr, SENDS, |i| {
        if i % 2 == 0 {
            "+447700900100".into()
        } else {
            distinct(i)
        }
    })
    .await;
    queuer.stop().await;

    let delivering = [
        ("PARLEY_GRAPH_API_URL", base.as_str()),
        ("PARLEY_DISPATCH_POLL_MS", "20"),
        ("PARLEY_PAIR_SPACING_MS", "1000"),
    ];
    let one = crate::helpers::ParleyProcess::start(&test_db, &["serve"], &delivering).await;
    let two = crate::helpers::ParleyProcess::start(&test_db, &["serve"], &delivering).await;
    let db = test_db.connect().await;
    let settled = all_settled(&db, SENDS, Duration::from_secs(30)).await;
    assert!(
        settled
            .iter()
            .all(|attempt| attempt.state == SendAttemptState::Accepted)
    );
    for attempt_id in &attempts {
        assert_eq!(fake.attempts(attempt_id), 1, "{attempt_id}");
    }
    let same = arrivals_to(&fake, "447700900100");
    assert_eq!(same.len(), SENDS / 2);
    assert_spaced(&same, GAP);
    one.stop().await;
    two.stop().await;
}
