//! A bounded soak test, ignored by default: mixed sends, inbound webhooks and live subscriptions
//! against one server for `PARLEY_SOAK_SECS` (default 120), on 127.0.0.1 only. It checks that no
//! request fails, that memory stays flat once warm, and that every accepted send has ended
//! ACCEPTED or FAILED when the load stops.
//!
//! ```sh
//! PARLEY_SOAK_SECS=300 cargo test --release --test it -- --ignored --nocapture soak
//! ```

use std::{
    sync::{
        Arc,
        atomic::{AtomicUsize, Ordering},
    },
    time::Duration,
};

use entity::send_attempt::{self, SendAttemptState};
use futures_util::{SinkExt, StreamExt};
use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, PaginatorTrait, QueryFilter};
use serde_json::{Value, json};
use tokio::time::Instant;
use tokio_tungstenite::tungstenite::Message;

use crate::{
    helpers::{TestApp, eventually},
    webhooks::{APP_SECRET, deliver},
};

const SEND: &str = "mutation($input: SendMessageInput!) { sendMessage(input: $input) {
    sendAttempt { id } } }";
/// Concurrent clients sending, each also delivering an inbound message every few sends.
const CLIENTS: usize = 4;
const PHONE_NUMBER_ID: &str = "1001";

/// The resident set of this process (the server runs in it), in KiB.
fn resident_kib() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|line| line.strip_prefix("VmRSS:"))
        .and_then(|rest| rest.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or(0)
}

fn inbound(from: &str, wamid: &str) -> String {
    json!({"object": "whatsapp_business_account", "entry": [{"id": "WABA", "changes": [{
    "field": "messages",
    "value": {
        "messaging_product": "whatsapp",
        "metadata": {"display_phone_number": "15550001000", "phone_number_id": PHONE_NUMBER_ID},
        "contacts": [{"profile": {"name": "Soak"}, "wa_id": from}],
        "messages": [{"from": from, "id": wamid, "timestamp": "1700000000",
                      "type": "text", "text": {"body": "hello"}}]
    }}]}]})
    .to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "minutes long: PARLEY_SOAK_SECS=120 cargo test --release --test it -- --ignored soak"]
async fn soak_mixed_load_keeps_memory_flat_and_settles_every_send() {
    let seconds: u64 = std::env::var("PARLEY_SOAK_SECS")
        .ok()
        .and_then(|value| value.parse().ok())
        .unwrap_or(120);
    let app = Arc::new(
        TestApp::spawn_with(|config| {
            config.app_secret = Some(APP_SECRET.into());
            config.dispatch_enabled = true;
            config.pair_spacing_ms = 0;
            config.default_daily_limit = 10_000_000;
            config.sandbox_status_delay_ms = 20;
        })
        .await,
    );
    let owner = app.sign_up("Soak", "soak@acme.example").await;
    app.sandbox_sender(&owner, "+15550001000").await;
    // Inbound webhooks are routed by phone_number_id, which a sandbox sender does not have.
    app.db
        .execute_unprepared(&format!(
            "UPDATE senders SET phone_number_id = '{PHONE_NUMBER_ID}'"
        ))
        .await
        .unwrap();

    // A subscriber for the whole run, counting what it is pushed.
    let mut socket = app.websocket().await;
    let init = json!({"type": "connection_init",
                      "payload": {"authorization": format!("Bearer {}", owner.token)}});
    socket.send(Message::text(init.to_string())).await.unwrap();
    for (id, query) in [
        (
            "attempts",
            "subscription { sendAttemptUpdated { id status } }",
        ),
        ("inbound", "subscription { messageReceived { id } }"),
    ] {
        let subscribe = json!({"id": id, "type": "subscribe", "payload": {"query": query}});
        socket
            .send(Message::text(subscribe.to_string()))
            .await
            .unwrap();
    }
    let pushed = Arc::new(AtomicUsize::new(0));
    let subscriber = {
        let pushed = pushed.clone();
        tokio::spawn(async move {
            while let Some(Ok(message)) = socket.next().await {
                if let Message::Text(text) = message {
                    let message: Value = serde_json::from_str(&text).unwrap();
                    match message["type"].as_str() {
                        Some("next") => {
                            pushed.fetch_add(1, Ordering::Relaxed);
                        }
                        Some("connection_ack") => {}
                        _ => panic!("the subscriber was sent {message}"),
                    }
                }
            }
        })
    };

    let deadline = Instant::now() + Duration::from_secs(seconds);
    let sends = Arc::new(AtomicUsize::new(0));
    let webhooks = Arc::new(AtomicUsize::new(0));
    let mut clients = Vec::new();
    for client in 0..CLIENTS {
        let (app, token, sends, webhooks) = (
            app.clone(),
            owner.token.clone(),
            sends.clone(),
            webhooks.clone(),
        );
        clients.push(tokio::spawn(async move {
            let mut i = 0u64;
            while Instant::now() < deadline {
                i += 1;
                let to = format!("+1555{client}{:06}", i % 500 + 1);
                let response = app
                    .graphql_as(
                        &token,
                        SEND,
                        json!({"input": {"to": to, "type": "TEXT", "text": format!("soak {i}")}}),
                    )
                    .await;
                assert!(response["errors"].is_null(), "{response}");
                sends.fetch_add(1, Ordering::Relaxed);
                if i.is_multiple_of(3) {
                    let from = format!("1666{client}{:06}", i % 200 + 1);
                    deliver(&app, &inbound(&from, &format!("wamid.SOAK{client}x{i}"))).await;
                    webhooks.fetch_add(1, Ordering::Relaxed);
                }
            }
        }));
    }

    // Memory, sampled through the run; the first quarter is warm-up.
    let mut samples = Vec::new();
    while Instant::now() < deadline {
        samples.push(resident_kib());
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
    for client in clients {
        client.await.expect("a client ran without errors");
    }
    samples.push(resident_kib());

    eventually(Duration::from_secs(60), || async {
        let open = send_attempt::Entity::find()
            .filter(
                send_attempt::Column::State
                    .is_in([SendAttemptState::Queued, SendAttemptState::Sending]),
            )
            .count(&app.db)
            .await
            .unwrap();
        (open == 0).then_some(())
    })
    .await;
    let total = send_attempt::Entity::find().count(&app.db).await.unwrap();
    let sent = sends.load(Ordering::Relaxed) as u64;
    assert_eq!(total, sent, "every accepted send has its attempt");

    let quarter = samples.len() / 4;
    let warm = samples[quarter..2 * quarter.max(1)]
        .iter()
        .copied()
        .max()
        .unwrap_or(0);
    let last = samples[samples.len() - quarter.max(1)..]
        .iter()
        .copied()
        .max()
        .unwrap_or(0);
    println!(
        "soak: {seconds}s, {sent} sends ({:.0}/s), {} webhooks, {} events pushed; \
         resident {} MiB warm, {} MiB at the end",
        sent as f64 / seconds as f64,
        webhooks.load(Ordering::Relaxed),
        pushed.load(Ordering::Relaxed),
        warm / 1024,
        last / 1024
    );
    assert!(
        pushed.load(Ordering::Relaxed) > 0,
        "the subscriber saw events"
    );
    // Flat: caches and the SQLite page cache settle early; a leak grows with the load.
    assert!(
        last <= warm + warm / 4 + 16 * 1024,
        "memory grew from {warm} KiB to {last} KiB"
    );
    subscriber.abort();
}
