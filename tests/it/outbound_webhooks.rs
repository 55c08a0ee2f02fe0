//! Outbound webhooks: a receiving endpoint on 127.0.0.1 (allowed by the test-only switch) checks
//! signatures and answers as scripted; deliveries retry with growing gaps under one event id,
//! disabled endpoints get nothing, redelivery works, URLs follow the media-URL rules, and an
//! endpoint failing for too long is disabled with its reason.

use std::{
    collections::VecDeque,
    net::SocketAddr,
    sync::{Arc, Mutex},
    time::{Duration, Instant},
};

use axum::{Router, body::Bytes, extract::State, http::HeaderMap, http::StatusCode, routing::post};
use hmac::{Hmac, Mac};
use serde_json::{Value, json};
use sha2::Sha256;
use uuid::Uuid;

use crate::{
    helpers::{Session, TestApp, error_code, eventually},
    webhooks::{deliver, fixture},
};

/// One request the receiver got.
#[derive(Clone, Debug)]
struct Received {
    at: Instant,
    event_id: String,
    signature: String,
    body: String,
}

impl Received {
    fn json(&self) -> Value {
        serde_json::from_str(&self.body).unwrap()
    }
}

#[derive(Clone, Default)]
struct Receiver {
    received: Arc<Mutex<Vec<Received>>>,
    /// Statuses to answer with, in order; 200 once empty.
    script: Arc<Mutex<VecDeque<u16>>>,
}

impl Receiver {
    /// Listens on 127.0.0.1; returns the receiver and its URL.
    async fn start(script: &[u16]) -> (Receiver, String) {
        let receiver = Receiver::default();
        receiver.script.lock().unwrap().extend(script);
        let app = Router::new()
            .route("/hook", post(receive))
            .route("/redirect", post(redirect))
            .route("/slow", post(slow))
            .with_state(receiver.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr: SocketAddr = listener.local_addr().unwrap();
        tokio::spawn(async move { axum::serve(listener, app).await.ok() });
        (receiver, format!("http://{addr}/hook"))
    }

    fn all(&self) -> Vec<Received> {
        self.received.lock().unwrap().clone()
    }

    async fn wait_for(&self, count: usize) -> Vec<Received> {
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            let all = self.all();
            if all.len() >= count {
                return all;
            }
            let bodies: Vec<&str> = all.iter().map(|r| r.body.as_str()).collect();
            assert!(
                Instant::now() < deadline,
                "{count} requests expected, got {bodies:#?}"
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
}

async fn receive(State(receiver): State<Receiver>, headers: HeaderMap, body: Bytes) -> StatusCode {
    let header = |name: &str| {
        headers
            .get(name)
            .and_then(|value| value.to_str().ok())
            .unwrap_or_default()
            .to_owned()
    };
    receiver.received.lock().unwrap().push(Received {
        at: Instant::now(),
        event_id: header("parley-event-id"),
        signature: header("parley-signature"),
        body: String::from_utf8(body.to_vec()).unwrap(),
    });
    let code = receiver.script.lock().unwrap().pop_front().unwrap_or(200);
    StatusCode::from_u16(code).unwrap()
}

/// Sends the client on to `/hook` of the same receiver: a client following redirects would
/// deliver there.
async fn redirect(
    State(receiver): State<Receiver>,
    headers: HeaderMap,
    body: Bytes,
) -> (StatusCode, [(&'static str, String); 1]) {
    let host = headers["host"].to_str().unwrap().to_owned();
    receive(State(receiver), headers, body).await;
    (
        StatusCode::TEMPORARY_REDIRECT,
        [("location", format!("http://{host}/hook"))],
    )
}

/// Answers after longer than the tests' delivery timeout.
async fn slow() -> StatusCode {
    tokio::time::sleep(Duration::from_secs(3)).await;
    StatusCode::OK
}

/// Checks `Parley-Signature` the way a receiver would: HMAC-SHA256(secret, "<t>.<body>"), with a
/// timestamp within five minutes.
fn verify(received: &Received, secret: &str) {
    let (t, v1) = received
        .signature
        .split_once(',')
        .unwrap_or_else(|| panic!("signature header: {:?}", received.signature));
    let t = t.strip_prefix("t=").unwrap();
    let v1 = v1.strip_prefix("v1=").unwrap();
    let timestamp: i64 = t.parse().unwrap();
    assert!((chrono::Utc::now().timestamp() - timestamp).abs() < 300);
    let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).unwrap();
    mac.update(format!("{t}.{}", received.body).as_bytes());
    mac.verify_slice(&hex::decode(v1).unwrap())
        .expect("the signature verifies with the endpoint's secret");
}

async fn hooks_app() -> TestApp {
    TestApp::spawn_with(|config| {
        config.app_secret = Some(crate::webhooks::APP_SECRET.into());
        let hooks = &mut config.outbound_webhooks;
        hooks.enabled = true;
        hooks.allow_loopback = true;
        hooks.poll_ms = 50;
        hooks.timeout_ms = 2_000;
        hooks.retry_base_ms = 300;
        hooks.retry_max_delay_ms = 5_000;
        hooks.max_attempts = 8;
    })
    .await
}

const CREATE: &str = "mutation($input: CreateWebhookEndpointInput!) {
    createWebhookEndpoint(input: $input) { secret endpoint { id url events enabled } } }";

/// Registers an endpoint; returns (id, secret).
async fn create_endpoint(
    app: &TestApp,
    owner: &Session,
    url: &str,
    events: &[&str],
) -> (String, String) {
    let response = app
        .graphql_as(
            &owner.token,
            CREATE,
            json!({"input": {"url": url, "events": events}}),
        )
        .await;
    let payload = &response["data"]["createWebhookEndpoint"];
    assert!(payload.is_object(), "{response}");
    (
        payload["endpoint"]["id"].as_str().unwrap().to_owned(),
        payload["secret"].as_str().unwrap().to_owned(),
    )
}

async fn deliveries(app: &TestApp, owner: &Session, endpoint: &str) -> Vec<Value> {
    let response = app
        .graphql_as(
            &owner.token,
            "query($id: ID!) { webhookDeliveries(endpointId: $id) { edges { node {
                id eventId eventType status attempts lastResponseCode lastError nextAttemptAt
                deliveredAt payload } } } }",
            json!({"id": endpoint}),
        )
        .await;
    response["data"]["webhookDeliveries"]["edges"]
        .as_array()
        .unwrap_or_else(|| panic!("{response}"))
        .iter()
        .map(|edge| edge["node"].clone())
        .collect()
}

async fn upsert_contact(app: &TestApp, owner: &Session, phone: &str) {
    let response = app
        .graphql_as(
            &owner.token,
            "mutation($phone: String!) { upsertContact(input: {phone: $phone, name: \"Ada\"}) { contact { id } } }",
            json!({"phone": phone}),
        )
        .await;
    assert!(response["errors"].is_null(), "{response}");
}

#[tokio::test]
async fn deliveries_are_signed_and_retried_with_growing_gaps_under_one_event_id() {
    let app = hooks_app().await;
    let owner = app.sign_up("Acme", "ada@acme.example").await;
    let (receiver, url) = Receiver::start(&[500, 500, 500]).await;
    let (endpoint, secret) = create_endpoint(&app, &owner, &url, &["CONTACT_CREATED"]).await;

    upsert_contact(&app, &owner, "+447700900123").await;
    let received = receiver.wait_for(4).await;
    for attempt in &received {
        verify(attempt, &secret);
    }
    let event_id = &received[0].event_id;
    assert!(Uuid::parse_str(event_id).is_ok(), "{event_id}");
    assert!(
        received.iter().all(|r| &r.event_id == event_id),
        "{received:?}"
    );
    assert!(
        received.iter().all(|r| r.body == received[0].body),
        "the same bytes every time"
    );
    let body = received[0].json();
    assert_eq!(body["id"], *event_id);
    assert_eq!(body["type"], "contact.created");
    assert_eq!(body["workspaceId"], owner.workspace_id);
    assert_eq!(body["data"]["contact"]["phone"], "+447700900123");
    assert!(body["createdAt"].is_string());

    // Backoff: ~300, ~600, ~1200 ms (+ up to 25% jitter each); every gap longer than the last.
    let gaps: Vec<Duration> = received.windows(2).map(|w| w[1].at - w[0].at).collect();
    assert!(gaps[0] >= Duration::from_millis(280), "{gaps:?}");
    assert!(gaps[1] > gaps[0] && gaps[2] > gaps[1], "{gaps:?}");
    assert!(gaps[2] >= Duration::from_millis(1150), "{gaps:?}");

    let logged = eventually(Duration::from_secs(10), || async {
        let logged = deliveries(&app, &owner, &endpoint).await;
        (logged.len() == 1 && logged[0]["status"] == "DELIVERED").then_some(logged)
    })
    .await;
    let delivery = &logged[0];
    assert_eq!(delivery["attempts"], 4);
    assert_eq!(delivery["lastResponseCode"], 200);
    assert_eq!(delivery["eventId"], *event_id);
    assert_eq!(delivery["eventType"], "CONTACT_CREATED");
    assert_eq!(delivery["nextAttemptAt"], Value::Null);
    assert_eq!(delivery["payload"], body);

    // Redelivery sends the same event again.
    let redelivered = app
        .graphql_as(
            &owner.token,
            "mutation($id: ID!) { redeliverWebhook(id: $id) { id status } }",
            json!({"id": delivery["id"]}),
        )
        .await;
    assert!(redelivered["errors"].is_null(), "{redelivered}");
    let received = receiver.wait_for(5).await;
    assert_eq!(received[4].event_id, *event_id);
    assert_eq!(received[4].body, received[0].body);
    verify(&received[4], &secret);

    // A rotated secret signs from then on.
    let rotated = app
        .graphql_as(
            &owner.token,
            "mutation($id: ID!) { rotateWebhookSecret(id: $id) { secret endpoint { id } } }",
            json!({"id": endpoint}),
        )
        .await;
    let new_secret = rotated["data"]["rotateWebhookSecret"]["secret"]
        .as_str()
        .unwrap();
    assert_ne!(new_secret, secret);
    upsert_contact(&app, &owner, "+447700900124").await;
    let received = receiver.wait_for(6).await;
    verify(&received[5], new_secret);
    assert_ne!(received[5].event_id, *event_id, "a new event has a new id");
}

#[tokio::test]
async fn sends_and_inbound_messages_produce_their_events() {
    let app = TestApp::spawn_with(|config| {
        config.app_secret = Some(crate::webhooks::APP_SECRET.into());
        config.dispatch_enabled = true;
        config.outbound_webhooks.enabled = true;
        config.outbound_webhooks.allow_loopback = true;
        config.outbound_webhooks.poll_ms = 50;
    })
    .await;
    let owner = crate::webhooks::workspace(&app).await;
    let (receiver, url) = Receiver::start(&[]).await;
    let all = [
        "MESSAGE_RECEIVED",
        "MESSAGE_STATUS_UPDATED",
        "SEND_ATTEMPT_UPDATED",
        "CONVERSATION_CREATED",
        "CONTACT_CREATED",
    ];
    let (_, secret) = create_endpoint(&app, &owner, &url, &all).await;
    // Only contacts: hears nothing else.
    let (contacts_receiver, contacts_url) = Receiver::start(&[]).await;
    create_endpoint(&app, &owner, &contacts_url, &["CONTACT_CREATED"]).await;

    // An inbound message from a new number: contact, conversation, message.
    deliver(&app, &fixture("text")).await;
    let received = receiver.wait_for(3).await;
    // Deliveries run concurrently: no order is promised between events.
    let mut types: Vec<String> = received
        .iter()
        .map(|r| r.json()["type"].as_str().unwrap().to_owned())
        .collect();
    types.sort();
    assert_eq!(
        types,
        [
            "contact.created",
            "conversation.created",
            "message.received"
        ]
    );
    let message = received
        .iter()
        .map(Received::json)
        .find(|body| body["type"] == "message.received")
        .unwrap();
    assert_eq!(message["data"]["message"]["direction"], "INBOUND");
    assert!(message["data"]["contact"]["phone"].is_string(), "{message}");

    // A send from the sandbox sender to a new number: its contact and conversation, the attempt
    // settled, and the statuses the sandbox reports.
    let sandbox = app.sandbox_sender(&owner, "+15550002").await;
    let sent = app
        .graphql_as(
            &owner.token,
            "mutation($sender: ID!) { sendMessage(input: {to: \"+447700900555\", type: TEXT,
                text: \"hi\", senderId: $sender}) { message { id } sendAttempt { id } } }",
            json!({"sender": sandbox}),
        )
        .await;
    let message_id = sent["data"]["sendMessage"]["message"]["id"]
        .as_str()
        .unwrap_or_else(|| panic!("{sent}"));
    let attempt_id = sent["data"]["sendMessage"]["sendAttempt"]["id"]
        .as_str()
        .unwrap();
    let received = eventually(Duration::from_secs(20), || async {
        let all = receiver.all();
        let read = all.iter().any(|r| r.json()["data"]["status"] == "READ");
        read.then_some(all)
    })
    .await;
    let bodies: Vec<Value> = received[3..].iter().map(Received::json).collect();
    let of_type = |kind: &str| {
        bodies
            .iter()
            .filter(|b| b["type"] == kind)
            .cloned()
            .collect::<Vec<_>>()
    };
    assert_eq!(
        of_type("contact.created")[0]["data"]["contact"]["phone"],
        "+447700900555"
    );
    assert_eq!(of_type("conversation.created").len(), 1, "{bodies:#?}");
    let settled = of_type("send_attempt.updated");
    assert_eq!(settled[0]["data"]["sendAttempt"]["id"], attempt_id);
    assert_eq!(settled[0]["data"]["sendAttempt"]["status"], "ACCEPTED");
    // Deliveries run concurrently, so they may arrive in any order: the events' own times
    // (RFC 3339, milliseconds, UTC) say the order in which the statuses happened.
    let mut status_events: Vec<&Value> = bodies
        .iter()
        .filter(|b| b["type"] == "message.status_updated")
        .inspect(|b| assert_eq!(b["data"]["message"]["id"], message_id))
        .collect();
    status_events.sort_by_key(|b| b["createdAt"].as_str().unwrap_or_default().to_owned());
    let statuses: Vec<&str> = status_events
        .iter()
        .map(|b| b["data"]["status"].as_str().unwrap())
        .collect();
    assert_eq!(statuses, ["SENT", "DELIVERED", "READ"]);
    for attempt in &received {
        verify(attempt, &secret);
    }
    let ids: std::collections::HashSet<_> = received.iter().map(|r| r.event_id.clone()).collect();
    assert_eq!(ids.len(), received.len(), "every event has its own id");

    let contacts = contacts_receiver.wait_for(2).await;
    assert!(
        contacts
            .iter()
            .all(|r| r.json()["type"] == "contact.created"),
        "{contacts:?}"
    );
}

#[tokio::test]
async fn a_disabled_endpoint_receives_nothing() {
    let app = hooks_app().await;
    let owner = app.sign_up("Acme", "ada@acme.example").await;
    let (on, on_url) = Receiver::start(&[]).await;
    let (off, off_url) = Receiver::start(&[]).await;
    create_endpoint(&app, &owner, &on_url, &["CONTACT_CREATED"]).await;
    let (off_id, _) = create_endpoint(&app, &owner, &off_url, &["CONTACT_CREATED"]).await;
    let disabled = app
        .graphql_as(
            &owner.token,
            "mutation($id: ID!) { disableWebhookEndpoint(id: $id) { enabled disabledReason disabledAt } }",
            json!({"id": off_id}),
        )
        .await;
    let endpoint = &disabled["data"]["disableWebhookEndpoint"];
    assert_eq!(endpoint["enabled"], false, "{disabled}");
    assert!(endpoint["disabledReason"].is_string() && endpoint["disabledAt"].is_string());

    upsert_contact(&app, &owner, "+447700900123").await;
    on.wait_for(1).await;
    // Nothing was even queued for it: deliveries are written with the change that causes them.
    assert!(deliveries(&app, &owner, &off_id).await.is_empty());
    assert!(off.all().is_empty());

    let enabled = app
        .graphql_as(
            &owner.token,
            "mutation($id: ID!) { enableWebhookEndpoint(id: $id) { enabled disabledReason } }",
            json!({"id": off_id}),
        )
        .await;
    assert_eq!(
        enabled["data"]["enableWebhookEndpoint"],
        json!({"enabled": true, "disabledReason": null})
    );
    upsert_contact(&app, &owner, "+447700900124").await;
    off.wait_for(1).await;
}

#[tokio::test]
async fn an_endpoint_failing_for_too_long_is_disabled_with_its_reason() {
    let app = TestApp::spawn_with(|config| {
        let hooks = &mut config.outbound_webhooks;
        hooks.enabled = true;
        hooks.allow_loopback = true;
        hooks.poll_ms = 50;
        hooks.retry_base_ms = 100;
        hooks.retry_max_delay_ms = 200;
        hooks.disable_after_secs = 1;
    })
    .await;
    let owner = app.sign_up("Acme", "ada@acme.example").await;
    let (receiver, url) = Receiver::start(&[503; 100]).await;
    let (endpoint, _) = create_endpoint(&app, &owner, &url, &["CONTACT_CREATED"]).await;
    upsert_contact(&app, &owner, "+447700900123").await;
    let listed = eventually(Duration::from_secs(15), || async {
        let response = app
            .graphql_as(
                &owner.token,
                "{ webhookEndpoints { edges { node { id enabled disabledReason disabledAt failingSince } } } }",
                json!({}),
            )
            .await;
        let node = response["data"]["webhookEndpoints"]["edges"][0]["node"].clone();
        (node["enabled"] == false).then_some(node)
    })
    .await;
    assert_eq!(listed["id"], endpoint);
    let reason = listed["disabledReason"].as_str().unwrap();
    assert!(reason.contains("HTTP 503"), "{reason}");
    assert!(listed["disabledAt"].is_string());
    // Once disabled, nothing more is tried.
    let tried = receiver.all().len();
    assert!(tried >= 2, "{tried}");
    let logged = deliveries(&app, &owner, &endpoint).await;
    assert_eq!(logged[0]["lastResponseCode"], 503);
    assert_eq!(logged[0]["status"], "PENDING");
}

#[tokio::test]
async fn endpoint_urls_follow_the_media_url_rules() {
    // The switch is off, as in production.
    let app = TestApp::spawn().await;
    let owner = app.sign_up("Acme", "ada@acme.example").await;
    for url in [
        // The vectors of the media-URL tests (tests/it/sending.rs and src/domain/media_url.rs).
        "http://example.com/a.jpg",
        "https://127.0.0.1/a.jpg",
        "https://localhost/a.jpg",
        "https://2130706433/",
        "https://0x7f.0.0.1/",
        "https://[::1]/",
        "https://[::ffff:127.0.0.1]/",
        "https://10.0.0.1/",
        "https://192.168.1.1/",
        "https://169.254.169.254/latest/meta-data",
        "https://100.64.0.1/",
        "https://[fe80::1]/",
        "https://[fc00::1]/",
        "https://0.0.0.0/",
        "https://metadata.google.internal/",
        "https://printer.local/",
        "https://ｌｏｃａｌｈｏｓｔ/",
        "https://user:pw@example.com/",
        "ftp://example.com/",
        "not a url",
        "http://127.0.0.1:9/hook",
    ] {
        let response = app
            .graphql_as(
                &owner.token,
                CREATE,
                json!({"input": {"url": url, "events": ["CONTACT_CREATED"]}}),
            )
            .await;
        assert_eq!(
            error_code(&response),
            Some("invalid_request"),
            "{url}: {response}"
        );
        let message = response["errors"][0]["message"].as_str().unwrap();
        assert!(message.starts_with("webhook URL "), "{url}: {message}");
    }
    let (id, secret) = create_endpoint(
        &app,
        &owner,
        "https://crm.example.com/hooks",
        &["CONTACT_CREATED"],
    )
    .await;
    assert!(secret.starts_with("whsec_"));
    // Updates are held to the same rules.
    let response = app
        .graphql_as(
            &owner.token,
            "mutation($id: ID!) { updateWebhookEndpoint(id: $id, input: {url: \"https://10.1.2.3/\"}) { id } }",
            json!({"id": id}),
        )
        .await;
    assert_eq!(error_code(&response), Some("invalid_request"), "{response}");
    let response = app
        .graphql_as(
            &owner.token,
            CREATE,
            json!({"input": {"url": "https://crm.example.com/", "events": []}}),
        )
        .await;
    assert_eq!(error_code(&response), Some("invalid_request"), "{response}");

    // Members (and keys without the scope) cannot manage endpoints.
    let member = app.add_member(&owner, "bob@acme.example", "MEMBER").await;
    let response = app
        .graphql_as(
            &member.token,
            "{ webhookEndpoints { edges { node { id } } } }",
            json!({}),
        )
        .await;
    assert_eq!(
        error_code(&response),
        Some("insufficient_scope"),
        "{response}"
    );
}

#[tokio::test]
async fn loopback_is_refused_at_delivery_time_without_the_switch() {
    // One server (with the switch) registers a loopback endpoint in the shared database; the
    // delivering server (without it) must refuse to connect, whatever the row says. (A *name*
    // resolving to 127.0.0.1 goes through the same address check in the client's resolver:
    // src/outbound/address.rs tests it on `localhost`, and that the client never connects.)
    let registering = TestApp::spawn_with(|config| {
        config.outbound_webhooks.allow_loopback = true;
    })
    .await;
    let owner = registering.sign_up("Acme", "ada@acme.example").await;
    let (receiver, url) = Receiver::start(&[]).await;
    let (endpoint, _) = create_endpoint(&registering, &owner, &url, &["CONTACT_CREATED"]).await;
    let delivering = TestApp::spawn_on(registering.test_db.share(), |config| {
        config.outbound_webhooks.enabled = true;
        config.outbound_webhooks.poll_ms = 50;
        config.outbound_webhooks.retry_base_ms = 60_000;
        config.outbound_webhooks.retry_max_delay_ms = 60_000;
    })
    .await;
    upsert_contact(&delivering, &owner, "+447700900123").await;
    let logged = eventually(Duration::from_secs(10), || async {
        let logged = deliveries(&delivering, &owner, &endpoint).await;
        (logged.len() == 1 && logged[0]["attempts"] == 1 && logged[0]["status"] == "PENDING")
            .then_some(logged)
    })
    .await;
    let error = logged[0]["lastError"].as_str().unwrap();
    assert_eq!(error, "webhook URL must use https");
    assert_eq!(logged[0]["lastResponseCode"], Value::Null);
    assert!(receiver.all().is_empty());
}

/// Workspace A's endpoint and a pending delivery of it (nothing delivers in the isolation tests).
async fn an_endpoint_with_a_delivery(app: &TestApp, a: &Session) -> (String, String) {
    let (endpoint, _) =
        create_endpoint(app, a, "https://crm.example.com/hook", &["CONTACT_CREATED"]).await;
    upsert_contact(
        app,
        a,
        &format!("+4477009{:06}", Uuid::now_v7().as_u128() % 1_000_000),
    )
    .await;
    let delivery = deliveries(app, a, &endpoint).await[0]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    (endpoint, delivery)
}

/// The endpoint and delivery as A sees them, to check that B changed nothing.
async fn snapshot(app: &TestApp, a: &Session, endpoint: &str) -> (Value, Vec<Value>) {
    let response = app
        .graphql_as(
            &a.token,
            "{ webhookEndpoints { edges { node { id url events enabled description updatedAt } } } }",
            json!({}),
        )
        .await;
    let node = response["data"]["webhookEndpoints"]["edges"]
        .as_array()
        .unwrap()
        .iter()
        .map(|edge| edge["node"].clone())
        .find(|node| node["id"] == endpoint)
        .unwrap_or(Value::Null);
    (node, deliveries(app, a, endpoint).await)
}

/// tests/it/isolation.rs's case for every webhook field: B's member and B's key (with
/// `webhooks:manage`), given A's ids, get `not_found` and change nothing.
pub async fn isolation_case(
    app: &TestApp,
    a: &Session,
    b: &Session,
    b_key: &str,
    field: &str,
) -> bool {
    let (endpoint, delivery) = an_endpoint_with_a_delivery(app, a).await;
    let (document, id) = match field {
        "Query.webhookDeliveries" => (
            "query($id: ID!) { webhookDeliveries(endpointId: $id) { edges { node { id } } } }",
            &endpoint,
        ),
        "Mutation.updateWebhookEndpoint" => (
            "mutation($id: ID!) { updateWebhookEndpoint(id: $id,
                input: {url: \"https://evil.example.com/\", events: [MESSAGE_RECEIVED]}) { id } }",
            &endpoint,
        ),
        "Mutation.disableWebhookEndpoint" => (
            "mutation($id: ID!) { disableWebhookEndpoint(id: $id) { id } }",
            &endpoint,
        ),
        "Mutation.enableWebhookEndpoint" => (
            "mutation($id: ID!) { enableWebhookEndpoint(id: $id) { id } }",
            &endpoint,
        ),
        "Mutation.deleteWebhookEndpoint" => (
            "mutation($id: ID!) { deleteWebhookEndpoint(id: $id) { id } }",
            &endpoint,
        ),
        "Mutation.rotateWebhookSecret" => (
            "mutation($id: ID!) { rotateWebhookSecret(id: $id) { secret } }",
            &endpoint,
        ),
        "Mutation.redeliverWebhook" => (
            "mutation($id: ID!) { redeliverWebhook(id: $id) { id } }",
            &delivery,
        ),
        _ => return false,
    };
    let before = snapshot(app, a, &endpoint).await;
    let secret_before = secret_of(app, &endpoint).await;
    for credential in [b.token.as_str(), b_key] {
        for id in [id.clone(), Uuid::now_v7().to_string()] {
            let response = app
                .graphql_as(credential, document, json!({"id": id}))
                .await;
            assert_eq!(
                error_code(&response),
                Some("not_found"),
                "{field}: {response}"
            );
        }
    }
    assert_eq!(
        snapshot(app, a, &endpoint).await,
        before,
        "{field} changed A's endpoint"
    );
    assert_eq!(secret_of(app, &endpoint).await, secret_before, "{field}");
    true
}

async fn secret_of(app: &TestApp, endpoint: &str) -> Vec<u8> {
    use sea_orm::EntityTrait;
    entity::webhook_endpoint::Entity::find_by_id(Uuid::parse_str(endpoint).unwrap())
        .one(&app.db)
        .await
        .unwrap()
        .unwrap()
        .secret_encrypted
}

/// B's `webhookEndpoints` never lists A's endpoints.
pub async fn lists_isolation(app: &TestApp, a: &Session, others: &[&str]) {
    let (endpoint, _) = an_endpoint_with_a_delivery(app, a).await;
    let query = "{ webhookEndpoints { edges { node { id } } } }";
    for credential in others {
        let response = app.graphql_as(credential, query, json!({})).await;
        let edges = response["data"]["webhookEndpoints"]["edges"]
            .as_array()
            .unwrap_or_else(|| panic!("{response}"));
        assert!(
            edges.iter().all(|edge| edge["node"]["id"] != endpoint),
            "{response}"
        );
    }
    let own = app.graphql_as(&a.token, query, json!({})).await;
    assert!(own.to_string().contains(&endpoint), "A sees its own");
}

#[tokio::test]
async fn redirects_are_not_followed_and_slow_endpoints_time_out() {
    let app = TestApp::spawn_with(|config| {
        let hooks = &mut config.outbound_webhooks;
        hooks.enabled = true;
        hooks.allow_loopback = true;
        hooks.poll_ms = 50;
        hooks.timeout_ms = 500;
        hooks.retry_base_ms = 60_000;
        hooks.retry_max_delay_ms = 60_000;
    })
    .await;
    let owner = app.sign_up("Acme", "ada@acme.example").await;
    let (receiver, url) = Receiver::start(&[]).await;
    let (redirecting, _) = create_endpoint(
        &app,
        &owner,
        &url.replace("/hook", "/redirect"),
        &["CONTACT_CREATED"],
    )
    .await;
    let (slow, _) = create_endpoint(
        &app,
        &owner,
        &url.replace("/hook", "/slow"),
        &["CONTACT_CREATED"],
    )
    .await;
    upsert_contact(&app, &owner, "+447700900123").await;
    for (endpoint, expected_code, expected_error) in [
        (
            &redirecting,
            json!(307),
            "HTTP 307: redirects are not followed",
        ),
        (&slow, Value::Null, "timed out after 500 ms"),
    ] {
        let logged = eventually(Duration::from_secs(10), || async {
            let logged = deliveries(&app, &owner, endpoint).await;
            (logged.len() == 1 && logged[0]["attempts"] == 1 && logged[0]["status"] == "PENDING")
                .then_some(logged)
        })
        .await;
        assert_eq!(logged[0]["lastResponseCode"], expected_code, "{logged:?}");
        assert_eq!(logged[0]["lastError"], expected_error, "{logged:?}");
        assert!(logged[0]["nextAttemptAt"].is_string());
    }
    // Only the redirecting route was reached, once: the client did not follow to /hook.
    assert_eq!(receiver.all().len(), 1);
}
