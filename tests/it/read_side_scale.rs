//! The read side at scale: the first and a deep page of `conversations`, `contacts` and a
//! conversation's `messages` on a database holding 1,000,000 messages and 100,000 contacts (seeded
//! by `parley::seed`, as `parley seed` does) stay within 2× of their latency on a near-empty one.
//!
//! Minutes of seeding, so ignored by default; run it in release for numbers worth reporting:
//! `cargo test --release --test it -- --ignored read_side_scale --nocapture`
//! (`PARLEY_SCALE_CONTACTS` / `PARLEY_SCALE_MESSAGES` change the size).

use std::time::{Duration, Instant};

use serde_json::{Value, json};
use uuid::Uuid;

use crate::helpers::{Session, TestApp};

const PAGE: i32 = 50;
const RUNS: usize = 25;

const CONVERSATIONS: &str =
    "query($first: Int, $after: String) { conversations(first: $first, after: $after) {
    edges { cursor node { id status unreadCount lastMessageAt windowExpiresAt
        contact { id name phone } lastMessage { id text status } } }
    pageInfo { hasNextPage endCursor } } }";
const CONTACTS: &str =
    "query($first: Int, $after: String) { contacts(first: $first, after: $after) {
    edges { cursor node { id name phone tags lastMessageAt } }
    pageInfo { hasNextPage endCursor } } }";
const MESSAGES: &str = "query($id: ID!, $last: Int, $before: String) { conversation(id: $id) {
    messages(last: $last, before: $before) {
        edges { cursor node { id direction type text status createdAt } }
        pageInfo { hasPreviousPage startCursor } } } }";

struct Loaded {
    app: TestApp,
    owner: Session,
    long_conversation: Uuid,
}

async fn loaded(contacts: u64, messages: u64) -> Loaded {
    let app = TestApp::spawn().await;
    let owner = app.sign_up("Scale", "owner@scale.example").await;
    let sender = app.sandbox_sender(&owner, "+15550100000").await;
    let started = Instant::now();
    let seeded = parley::seed::seed(
        &app.db,
        Uuid::parse_str(&owner.workspace_id).unwrap(),
        Uuid::parse_str(&sender).unwrap(),
        contacts,
        messages,
    )
    .await
    .unwrap();
    eprintln!(
        "seeded {contacts} contacts and {messages} messages in {:.1?}",
        started.elapsed()
    );
    Loaded {
        app,
        owner,
        long_conversation: seeded.long_conversation_id,
    }
}

/// The median latency of a query, after a few unmeasured runs.
async fn median(loaded: &Loaded, query: &str, variables: &Value) -> Duration {
    let mut times = Vec::with_capacity(RUNS);
    for run in 0..RUNS + 5 {
        let started = Instant::now();
        let response = loaded
            .app
            .graphql_as(&loaded.owner.token, query, variables.clone())
            .await;
        let elapsed = started.elapsed();
        assert!(response["errors"].is_null(), "{response}");
        if run >= 5 {
            times.push(elapsed);
        }
    }
    times.sort();
    times[RUNS / 2]
}

/// The cursor `depth` rows into a list, reached by walking it 100 at a time.
async fn cursor_at(loaded: &Loaded, list: &str, depth: u64) -> Option<String> {
    let (query, field) = match list {
        "conversations" => (CONVERSATIONS, "conversations"),
        _ => (CONTACTS, "contacts"),
    };
    let mut after: Option<String> = None;
    let mut walked = 0;
    while walked < depth {
        let response = loaded
            .app
            .graphql_as(
                &loaded.owner.token,
                query,
                json!({"first": 100.min(depth - walked), "after": after}),
            )
            .await;
        let page = &response["data"][field];
        walked += page["edges"].as_array().unwrap().len() as u64;
        after = page["pageInfo"]["endCursor"].as_str().map(str::to_owned);
        if page["pageInfo"]["hasNextPage"] == false {
            break;
        }
    }
    after
}

async fn message_cursor_at(loaded: &Loaded, depth: u64) -> Option<String> {
    let mut before: Option<String> = None;
    let mut walked = 0;
    while walked < depth {
        let response = loaded
            .app
            .graphql_as(
                &loaded.owner.token,
                MESSAGES,
                json!({"id": loaded.long_conversation, "last": 100.min(depth - walked),
                       "before": before}),
            )
            .await;
        let page = &response["data"]["conversation"]["messages"];
        walked += page["edges"].as_array().unwrap().len() as u64;
        before = page["pageInfo"]["startCursor"].as_str().map(str::to_owned);
        if page["pageInfo"]["hasPreviousPage"] == false {
            break;
        }
    }
    before
}

/// (first page, deep page) latencies of the three lists.
async fn measure(loaded: &Loaded, contacts: u64, long_messages: u64) -> Vec<(Duration, Duration)> {
    let deep = contacts / 2;
    let conversations_deep = cursor_at(loaded, "conversations", deep).await;
    let contacts_deep = cursor_at(loaded, "contacts", deep).await;
    let messages_deep = message_cursor_at(loaded, long_messages / 2).await;
    vec![
        (
            median(loaded, CONVERSATIONS, &json!({"first": PAGE})).await,
            median(
                loaded,
                CONVERSATIONS,
                &json!({"first": PAGE, "after": conversations_deep}),
            )
            .await,
        ),
        (
            median(loaded, CONTACTS, &json!({"first": PAGE})).await,
            median(
                loaded,
                CONTACTS,
                &json!({"first": PAGE, "after": contacts_deep}),
            )
            .await,
        ),
        (
            median(
                loaded,
                MESSAGES,
                &json!({"id": loaded.long_conversation, "last": PAGE}),
            )
            .await,
            median(
                loaded,
                MESSAGES,
                &json!({"id": loaded.long_conversation, "last": PAGE, "before": messages_deep}),
            )
            .await,
        ),
    ]
}

fn size(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|value| value.parse().ok())
        .unwrap_or(default)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "seeds a million messages: run with --release --ignored read_side_scale"]
async fn read_side_pages_stay_within_twice_their_near_empty_latency_at_scale() {
    let (contacts, messages) = (
        size("PARLEY_SCALE_CONTACTS", 100_000),
        size("PARLEY_SCALE_MESSAGES", 1_000_000),
    );
    let (small_contacts, small_messages) = (200, 2_000);
    let small = loaded(small_contacts, small_messages).await;
    let baseline = measure(&small, small_contacts, small_messages / 10).await;
    small.app.stop().await;
    let large = loaded(contacts, messages).await;
    let at_scale = measure(&large, contacts, (messages / 10).min(20_000)).await;

    let backend = if large.app.test_db.is_postgres() {
        "Postgres"
    } else {
        "SQLite"
    };
    println!(
        "\n{backend}: {contacts} contacts, {messages} messages; median of {RUNS} requests, \
         {PAGE} rows a page (near-empty: {small_contacts} contacts, {small_messages} messages)\n"
    );
    println!("| list | page | near-empty | loaded | × |");
    println!("|---|---|---|---|---|");
    let ms = |latency: Duration| format!("{:.2} ms", latency.as_secs_f64() * 1e3);
    let mut worst: f64 = 0.0;
    for (name, (base_first, base_deep), (first, deep)) in [
        (
            "conversations (with contact and last message)",
            baseline[0],
            at_scale[0],
        ),
        ("contacts", baseline[1], at_scale[1]),
        (
            "a conversation's messages (newest first)",
            baseline[2],
            at_scale[2],
        ),
    ] {
        for (page, base, loaded) in [("first", base_first, first), ("deep", base_deep, deep)] {
            let ratio = loaded.as_secs_f64() / base.as_secs_f64();
            worst = worst.max(ratio);
            println!(
                "| {name} | {page} | {} | {} | {ratio:.2} |",
                ms(base),
                ms(loaded)
            );
        }
    }
    assert!(worst <= 2.0, "a page is {worst:.2}× its near-empty latency");
}
