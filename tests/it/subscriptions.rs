//! Subscriptions over graphql-transport-ws, spoken by a client written from the protocol: live
//! statuses, inbound messages and send attempts per workspace, the protocol's close codes, catch-up
//! after a reconnect, and events crossing processes on one Postgres.

use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use serde_json::{Value, json};
use tokio::net::TcpStream;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream, tungstenite::Message};

use crate::{
    helpers::{Session, TestApp, eventually},
    webhooks::{APP_SECRET, accepted_message, deliver, fixture, status, webhook_app, workspace},
};

/// How long an event may take to arrive.
const WITHIN: Duration = Duration::from_secs(1);
/// How long a subscriber waits to be sure that nothing comes.
const QUIET: Duration = Duration::from_millis(400);

/// A graphql-transport-ws client.
struct Client {
    socket: WebSocketStream<MaybeTlsStream<TcpStream>>,
}

impl Client {
    async fn open(app: &TestApp) -> Self {
        Self {
            socket: app.websocket().await,
        }
    }

    /// Opens, sends `connection_init` with the session's token and waits for the ack.
    async fn signed_in(app: &TestApp, session: &Session) -> Self {
        Self::open(app).await.init(session).await
    }

    async fn init(mut self, session: &Session) -> Self {
        let client = &mut self;
        client
            .send(json!({"type": "connection_init",
                         "payload": {"authorization": format!("Bearer {}", session.token)}}))
            .await;
        let ack = client.receive(WITHIN).await.expect("connection_ack");
        assert_eq!(ack["type"], "connection_ack", "{ack}");
        self
    }

    async fn send(&mut self, message: Value) {
        self.socket
            .send(Message::text(message.to_string()))
            .await
            .unwrap();
    }

    async fn subscribe(&mut self, id: &str, query: &str, variables: Value) {
        self.send(json!({"id": id, "type": "subscribe",
                         "payload": {"query": query, "variables": variables}}))
            .await;
    }

    /// The next protocol message within `wait`, or `None`. Panics on a close.
    async fn receive(&mut self, wait: Duration) -> Option<Value> {
        loop {
            let message = match tokio::time::timeout(wait, self.socket.next()).await {
                Err(_elapsed) => return None,
                Ok(message) => message.expect("socket open").expect("socket readable"),
            };
            match message {
                Message::Text(text) => return Some(serde_json::from_str(&text).unwrap()),
                Message::Ping(_) | Message::Pong(_) => {}
                other => panic!("expected a message, got {other:?}"),
            }
        }
    }

    /// The payload of the next `next` message for `id`, within a second.
    async fn next_for(&mut self, id: &str) -> Value {
        let message = self
            .receive(WITHIN)
            .await
            .expect("an event within a second");
        assert_eq!(message["type"], "next", "{message}");
        assert_eq!(message["id"], id, "{message}");
        message["payload"].clone()
    }

    /// The close frame the server ends the connection with.
    async fn closed(&mut self) -> (u16, String) {
        loop {
            let message = tokio::time::timeout(Duration::from_secs(5), self.socket.next())
                .await
                .expect("the server closes within 5 s");
            match message {
                Some(Ok(Message::Close(Some(frame)))) => {
                    return (u16::from(frame.code), frame.reason.to_string());
                }
                Some(Ok(Message::Close(None))) | None => panic!("closed without a code"),
                Some(Ok(Message::Ping(_) | Message::Pong(_))) => {}
                other => panic!("expected a close, got {other:?}"),
            }
        }
    }
}

const STATUS_CHANGED: &str = "subscription($conversationId: ID, $messageId: ID) {
    messageStatusChanged(conversationId: $conversationId, messageId: $messageId) {
        status previousStatus occurredAt sequence message { id status } } }";

#[tokio::test]
async fn status_events_reach_their_workspace_only_within_a_second() {
    let app = webhook_app().await;
    let owner = workspace(&app).await;
    let stranger = app.sign_up("Globex", "hank@globex.example").await;
    let (message, _) = accepted_message(&app, &owner, "wamid.SUB1").await;

    let mut ours = Client::signed_in(&app, &owner).await;
    ours.subscribe("all", STATUS_CHANGED, json!({})).await;
    ours.subscribe(
        "this-message",
        STATUS_CHANGED,
        json!({"messageId": message.id.to_string()}),
    )
    .await;
    ours.subscribe(
        "other-message",
        STATUS_CHANGED,
        json!({"messageId": uuid::Uuid::now_v7().to_string()}),
    )
    .await;
    let mut theirs = Client::signed_in(&app, &stranger).await;
    theirs.subscribe("all", STATUS_CHANGED, json!({})).await;
    // Subscribing is asynchronous: let both reach the bus before the event.
    tokio::time::sleep(Duration::from_millis(100)).await;

    deliver(&app, &status("status_sent", "wamid.SUB1", "")).await;
    let mut received = Vec::new();
    for _ in 0..2 {
        let message = ours
            .receive(WITHIN)
            .await
            .expect("an event within a second");
        assert_eq!(message["type"], "next", "{message}");
        received.push(message);
    }
    for next in &received {
        let event = &next["payload"]["data"]["messageStatusChanged"];
        assert_eq!(event["status"], "SENT", "{next}");
        assert_eq!(event["previousStatus"], "PENDING", "{next}");
        assert_eq!(event["message"]["id"], message.id.to_string(), "{next}");
        assert!(event["sequence"].as_i64().unwrap() >= 1, "{next}");
    }
    let mut ids: Vec<&str> = received
        .iter()
        .map(|next| next["id"].as_str().unwrap())
        .collect();
    ids.sort_unstable();
    assert_eq!(ids, ["all", "this-message"]);

    // A duplicate changes nothing and tells nobody; the other workspace heard nothing at all.
    deliver(&app, &status("status_sent", "wamid.SUB1", "")).await;
    assert_eq!(ours.receive(QUIET).await, None);
    assert_eq!(theirs.receive(QUIET).await, None);
}

#[tokio::test]
async fn identical_subscriptions_share_one_execution_and_each_gets_every_event() {
    let app = webhook_app().await;
    let owner = workspace(&app).await;
    let teammate = app.add_member(&owner, "bo@acme.example", "MEMBER").await;
    let (message, _) = accepted_message(&app, &owner, "wamid.SHARED").await;

    // The owner in two tabs, one of them subscribed twice; a teammate with the same query.
    let mut first_tab = Client::signed_in(&app, &owner).await;
    first_tab.subscribe("a", STATUS_CHANGED, json!({})).await;
    first_tab.subscribe("b", STATUS_CHANGED, json!({})).await;
    let mut second_tab = Client::signed_in(&app, &owner).await;
    second_tab.subscribe("c", STATUS_CHANGED, json!({})).await;
    let mut teammate_tab = Client::signed_in(&app, &teammate).await;
    teammate_tab.subscribe("d", STATUS_CHANGED, json!({})).await;
    // The owner's three share one execution; the teammate, another principal, has its own.
    eventually(WITHIN, || async {
        (app.subscriptions.running() == 2).then_some(())
    })
    .await;
    // Subscribing is asynchronous: let both executions reach the bus before the event.
    tokio::time::sleep(Duration::from_millis(200)).await;

    deliver(&app, &status("status_sent", "wamid.SHARED", "")).await;
    let mut heard = Vec::new();
    for (client, count) in [
        (&mut first_tab, 2),
        (&mut second_tab, 1),
        (&mut teammate_tab, 1),
    ] {
        for _ in 0..count {
            let next = client
                .receive(WITHIN)
                .await
                .expect("an event within a second");
            assert_eq!(next["type"], "next", "{next}");
            let event = &next["payload"]["data"]["messageStatusChanged"];
            assert_eq!(event["status"], "SENT", "{next}");
            assert_eq!(event["message"]["id"], message.id.to_string(), "{next}");
            heard.push(next["id"].as_str().unwrap().to_owned());
        }
    }
    heard.sort();
    assert_eq!(heard, ["a", "b", "c", "d"]);

    // One tab closing leaves the others subscribed; when every subscriber has gone, so have the
    // executions.
    drop(first_tab);
    deliver(&app, &status("status_delivered", "wamid.SHARED", "")).await;
    let payload = second_tab.next_for("c").await;
    assert_eq!(
        payload["data"]["messageStatusChanged"]["status"], "DELIVERED",
        "{payload}"
    );
    drop(second_tab);
    drop(teammate_tab);
    eventually(Duration::from_secs(5), || async {
        (app.subscriptions.running() == 0).then_some(())
    })
    .await;

    // Identical subscriptions that cannot start both hear why.
    let mut tab = Client::signed_in(&app, &owner).await;
    let invalid = "subscription { messageStatusChanged { noSuchField } }";
    tab.subscribe("x", invalid, json!({})).await;
    tab.subscribe("y", invalid, json!({})).await;
    let mut refused = Vec::new();
    for _ in 0..2 {
        let error = tab.receive(WITHIN).await.expect("an error within a second");
        assert_eq!(error["type"], "error", "{error}");
        refused.push(error["id"].as_str().unwrap().to_owned());
    }
    refused.sort();
    assert_eq!(refused, ["x", "y"]);
}

/// A subscriber that stops reading fills what the server buffers for it; the server then drops
/// it (1013, when the client can still hear that) instead of holding up the execution it hangs
/// on, while a subscriber beside it hears every event within a second throughout. The server
/// bounds that buffer itself, so this holds however large the host's TCP buffers are.
#[tokio::test]
async fn a_client_that_stops_reading_is_dropped_and_holds_nobody_up() {
    /// Events posted between two looks at whether the slow client is gone.
    const ROUND: usize = 20;
    /// The text of each event.
    const EVENT_BYTES: usize = 16_000;
    /// What the slow client may be sent before the server's writes to it wait, twice over: its
    /// own receive buffer (8 KB as the kernel counts the 4 KB asked for), the 128 KB the
    /// server's kernel may keep unsent plus a segment (64 KB on loopback), and the message
    /// being written.
    const BUFFERED_AT_MOST: usize = 512 * 1024;
    /// The server drops the client 5 s after its writes start to wait; the rest is room for a
    /// slow host to post the events that fill the buffers.
    const DROPPED_WITHIN: Duration = Duration::from_secs(60);
    let app = webhook_app().await;
    let owner = workspace(&app).await;
    let socket = tokio::net::TcpSocket::new_v4().unwrap();
    socket.set_recv_buffer_size(4096).unwrap();
    let stream = socket.connect(app.addr).await.unwrap();
    let slow = Client {
        socket: app.websocket_over(stream).await,
    };
    let mut slow = slow.init(&owner).await;
    slow.subscribe(
        "slow",
        "subscription { messageReceived { text } }",
        json!({}),
    )
    .await;
    let mut fast = Client::signed_in(&app, &owner).await;
    fast.subscribe(
        "fast",
        "subscription { messageReceived { id text } }",
        json!({}),
    )
    .await;
    let app = &app;
    let inbound = |label: &str, number: usize, text: &str| {
        fixture("text")
            .replace("Hi, is my order on its way?", &format!("{number} {text}"))
            .replace("wamid.HBgL", &format!("wamid.{label}{number}."))
    };

    // Each execution follows the event bus once it has started: a subscriber that hears an
    // event shows that its own has. Until then both clients read.
    let until = tokio::time::Instant::now() + DROPPED_WITHIN;
    let (mut slow_started, mut fast_started) = (false, false);
    let mut warm_ups = 0;
    while !(slow_started && fast_started) {
        assert!(
            tokio::time::Instant::now() < until,
            "the subscriptions never started"
        );
        deliver(app, &inbound("WARM", warm_ups, "warm-up")).await;
        warm_ups += 1;
        slow_started |= slow.receive(WITHIN).await.is_some();
        fast_started |= fast.receive(WITHIN).await.is_some();
    }
    assert_eq!(app.subscriptions.running(), 2);

    let text = "x".repeat(EVENT_BYTES);
    let until = tokio::time::Instant::now() + DROPPED_WITHIN;
    let mut posted = 0;
    while app.subscriptions.running() == 2 {
        assert!(
            tokio::time::Instant::now() < until,
            "the slow client was not dropped within {DROPPED_WITHIN:?} ({posted} events posted)"
        );
        let round = (posted..posted + ROUND).map(|number| {
            let body = inbound("SLOW", number, &text);
            async move { deliver(app, &body).await }
        });
        futures_util::future::join_all(round).await;
        let mut heard = Vec::new();
        while heard.len() < ROUND {
            let payload = fast.next_for("fast").await;
            let text = payload["data"]["messageReceived"]["text"].as_str().unwrap();
            let (number, text) = text.split_once(' ').unwrap();
            // A warm-up that arrived after its wait ended.
            if text != "warm-up" {
                heard.push(number.parse::<usize>().unwrap());
            }
        }
        heard.sort_unstable();
        assert!(heard.into_iter().eq(posted..posted + ROUND));
        posted += ROUND;
    }

    // What the slow client was sent before it was dropped, then the end of the connection.
    let (mut heard, mut heard_bytes) = (0, 0);
    loop {
        let message = tokio::time::timeout(Duration::from_secs(5), slow.socket.next())
            .await
            .expect("the connection ends");
        match message {
            Some(Ok(Message::Text(text))) => {
                heard += 1;
                heard_bytes += text.len();
            }
            Some(Ok(Message::Close(Some(frame)))) => {
                assert_eq!(u16::from(frame.code), 1013, "{frame:?}");
                break;
            }
            Some(Ok(Message::Ping(_) | Message::Pong(_))) => {}
            Some(Ok(other)) => panic!("unexpected {other:?}"),
            None | Some(Err(_)) => break,
        }
    }
    assert!(heard < posted, "the slow client heard all {posted} events");
    assert!(
        heard_bytes <= BUFFERED_AT_MOST,
        "the server buffered {heard_bytes} bytes ({heard} messages) for a client that did not read"
    );
}

#[tokio::test]
async fn inbound_messages_and_send_attempts_are_pushed() {
    let app = webhook_app().await;
    let owner = workspace(&app).await;
    let mut client = Client::signed_in(&app, &owner).await;
    client
        .subscribe(
            "received",
            "subscription { messageReceived { id direction type text contact { phone name } } }",
            json!({}),
        )
        .await;
    client
        .subscribe(
            "attempts",
            "subscription { sendAttemptUpdated { id status } }",
            json!({}),
        )
        .await;
    tokio::time::sleep(Duration::from_millis(100)).await;

    deliver(&app, &fixture("text")).await;
    let received = client.next_for("received").await;
    let message = &received["data"]["messageReceived"];
    assert_eq!(message["direction"], "INBOUND", "{received}");
    assert_eq!(message["type"], "TEXT");
    assert_eq!(message["text"], "Hi, is my order on its way?");
    assert_eq!(message["contact"]["phone"], "+16315551234");

    let sent = app
        .graphql_as(
            &owner.token,
            "mutation { sendMessage(input: {to: \"+16315551234\", type: TEXT, text: \"On its way\"}) {
                sendAttempt { id } } }",
            json!({}),
        )
        .await;
    let attempt = sent["data"]["sendMessage"]["sendAttempt"]["id"].clone();
    let updated = client.next_for("attempts").await;
    assert_eq!(
        updated["data"]["sendAttemptUpdated"]["id"], attempt,
        "{updated}"
    );
    assert_eq!(updated["data"]["sendAttemptUpdated"]["status"], "QUEUED");
}

#[tokio::test]
async fn subscriptions_need_the_scope_and_report_errors_on_their_id() {
    let app = webhook_app().await;
    let owner = workspace(&app).await;
    let (_, secret) = app.create_key(&owner, &["messages:send"], None).await;
    let key = Session {
        token: secret,
        ..owner.clone()
    };
    let mut client = Client::signed_in(&app, &key).await;
    client
        .subscribe("statuses", STATUS_CHANGED, json!({}))
        .await;
    let refused = client.receive(WITHIN).await.unwrap();
    assert_eq!(refused["type"], "error", "{refused}");
    assert_eq!(refused["id"], "statuses");
    assert_eq!(
        refused["payload"][0]["extensions"]["code"],
        "insufficient_scope"
    );

    client
        .subscribe("broken", "subscription { noSuchField }", json!({}))
        .await;
    let invalid = client.receive(WITHIN).await.unwrap();
    assert_eq!(invalid["type"], "error", "{invalid}");
    assert_eq!(invalid["id"], "broken");

    // A query over the socket answers once and completes; messages far larger than the
    // server's read buffer arrive whole.
    let padded = format!("{{ viewer {{ member {{ id }} }} }}{}", " ".repeat(20_000));
    client.subscribe("query", &padded, json!({})).await;
    let answer = client.next_for("query").await;
    assert!(
        answer["data"]["viewer"]["member"]["id"].is_string(),
        "{answer}"
    );
    let complete = client.receive(WITHIN).await.unwrap();
    assert_eq!(complete, json!({"type": "complete", "id": "query"}));
}

#[tokio::test]
async fn the_protocol_close_codes() {
    let app = TestApp::spawn_with(|config| config.websocket_init_timeout_ms = 300).await;
    let owner = app.sign_up("Acme", "ada@acme.example").await;
    let init = json!({"type": "connection_init",
                      "payload": {"authorization": format!("Bearer {}", owner.token)}});

    // 4408: no connection_init in time.
    let mut client = Client::open(&app).await;
    assert_eq!(client.closed().await.0, 4408);

    // 4401: subscribe before the ack.
    let mut client = Client::open(&app).await;
    client
        .subscribe("1", "subscription { messageReceived { id } }", json!({}))
        .await;
    assert_eq!(client.closed().await.0, 4401);

    // 4403: a refused credential.
    let mut client = Client::open(&app).await;
    client
        .send(json!({"type": "connection_init", "payload": {"authorization": "Bearer pk_unknown"}}))
        .await;
    let (code, reason) = client.closed().await;
    assert_eq!(code, 4403);
    assert!(reason.contains("bearer token"), "{reason}");

    // 4409: a second subscription with a running one's id.
    let mut client = Client::signed_in(&app, &owner).await;
    client
        .subscribe("same", "subscription { messageReceived { id } }", json!({}))
        .await;
    client
        .subscribe("same", "subscription { messageReceived { id } }", json!({}))
        .await;
    let (code, reason) = client.closed().await;
    assert_eq!(
        (code, reason.as_str()),
        (4409, "Subscriber for same already exists")
    );

    // 4429: a second connection_init.
    let mut client = Client::signed_in(&app, &owner).await;
    client.send(init.clone()).await;
    assert_eq!(client.closed().await.0, 4429);

    // 4400: messages that are not the protocol's.
    for invalid in [
        Message::text("{not json"),
        Message::text(json!({"type": "start", "id": "1"}).to_string()),
        Message::text(json!({"type": "subscribe", "id": "1"}).to_string()),
        Message::binary(vec![1, 2, 3]),
    ] {
        let mut client = Client::signed_in(&app, &owner).await;
        client.socket.send(invalid).await.unwrap();
        assert_eq!(client.closed().await.0, 4400);
    }

    // ping → pong, and the connection stays usable.
    let mut client = Client::signed_in(&app, &owner).await;
    client.send(json!({"type": "ping"})).await;
    assert_eq!(client.receive(WITHIN).await, Some(json!({"type": "pong"})));
    client
        .send(json!({"type": "complete", "id": "unknown"}))
        .await;
    client.send(json!({"type": "ping"})).await;
    assert_eq!(client.receive(WITHIN).await, Some(json!({"type": "pong"})));
}

const WORKSPACE_EVENTS: &str = "subscription($after: Int) {
    workspaceEvents(after: $after) { sequence kind status message { id } } }";

#[tokio::test]
async fn a_reconnecting_client_catches_up_from_its_last_sequence() {
    let app = webhook_app().await;
    let owner = workspace(&app).await;
    let (message, _) = accepted_message(&app, &owner, "wamid.SUB2").await;

    let mut client = Client::signed_in(&app, &owner).await;
    client
        .subscribe("events", WORKSPACE_EVENTS, json!({}))
        .await;
    tokio::time::sleep(Duration::from_millis(100)).await;
    deliver(&app, &status("status_sent", "wamid.SUB2", "")).await;
    let first = client.next_for("events").await;
    let seen = first["data"]["workspaceEvents"]["sequence"]
        .as_i64()
        .unwrap();
    assert_eq!(first["data"]["workspaceEvents"]["status"], "SENT");
    drop(client);

    // While disconnected: delivered, read, and an inbound message.
    deliver(&app, &status("status_delivered", "wamid.SUB2", "")).await;
    deliver(&app, &status("status_read", "wamid.SUB2", "")).await;
    deliver(&app, &fixture("text")).await;

    let mut client = Client::signed_in(&app, &owner).await;
    client
        .subscribe("events", WORKSPACE_EVENTS, json!({"after": seen}))
        .await;
    let mut caught_up = Vec::new();
    for _ in 0..3 {
        let event = client.next_for("events").await["data"]["workspaceEvents"].clone();
        caught_up.push(event);
    }
    let sequences: Vec<i64> = caught_up
        .iter()
        .map(|event| event["sequence"].as_i64().unwrap())
        .collect();
    assert_eq!(sequences, [seen + 1, seen + 2, seen + 3]);
    assert_eq!(caught_up[0]["status"], "DELIVERED");
    assert_eq!(caught_up[0]["message"]["id"], message.id.to_string());
    assert_eq!(caught_up[1]["status"], "READ");
    assert_eq!(caught_up[2]["kind"], "MESSAGE_RECEIVED");

    // Then live, without repeats.
    deliver(&app, &status("status_failed", "wamid.SUB2", "")).await;
    deliver(&app, &fixture("image")).await;
    let live = client.next_for("events").await["data"]["workspaceEvents"].clone();
    assert_eq!(live["sequence"].as_i64().unwrap(), seen + 4, "{live}");
    assert_eq!(client.receive(QUIET).await, None);
}

#[tokio::test]
async fn an_event_applied_by_one_process_reaches_a_subscriber_of_another() {
    let first = webhook_app().await;
    if !first.test_db.is_postgres() {
        // One SQLite file serves one process; processes meet through Postgres LISTEN/NOTIFY.
        eprintln!("not applicable on SQLite: several processes share Postgres only");
        return;
    }
    let second = TestApp::spawn_on(first.test_db.share(), |config| {
        config.app_secret = Some(APP_SECRET.into());
    })
    .await;
    let owner = workspace(&first).await;
    let (message, _) = accepted_message(&first, &owner, "wamid.SUB3").await;

    let mut client = Client::signed_in(&first, &owner).await;
    client
        .subscribe("statuses", STATUS_CHANGED, json!({}))
        .await;
    client
        .subscribe(
            "received",
            "subscription { messageReceived { text } }",
            json!({}),
        )
        .await;
    tokio::time::sleep(Duration::from_millis(200)).await;

    deliver(&second, &status("status_delivered", "wamid.SUB3", "")).await;
    let event = client.next_for("statuses").await;
    let changed = &event["data"]["messageStatusChanged"];
    assert_eq!(changed["status"], "DELIVERED", "{event}");
    assert_eq!(changed["message"]["id"], message.id.to_string());
    deliver(&second, &fixture("text")).await;
    let received = client.next_for("received").await;
    assert_eq!(
        received["data"]["messageReceived"]["text"],
        "Hi, is my order on its way?"
    );
}
