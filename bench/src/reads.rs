//! The `reads` scenarios, on SQLite and on Postgres, each against a bare axum handler
//! ([`crate::read_baseline`]) in alternating rounds:
//!
//! - **Trivial query** (scenario 3): `{ __typename }` with a member's token, so the request
//!   passes through all of Parley's per-request work (authentication included) and GraphQL's
//!   parse, validate and execute, with nothing to resolve; the baseline parses the same body and
//!   answers the same JSON. Target ≥ 0.6×.
//! - **Inbox** (scenario 4): the first page of `conversations` (50, with each one's contact and
//!   last message) of a workspace seeded with [`CONVERSATIONS`] conversations and [`MESSAGES`]
//!   messages; the baseline reads the same page of the same database with one hand-written SQL
//!   query. Target ≥ 0.5×.

use std::sync::Arc;

use anyhow::Context;
use serde_json::{Value, json};
use uuid::Uuid;

use crate::{
    RunArgs,
    backend::{self, Site},
    baseline::BareServer,
    load::{self, Load, Target},
    parley_server::{ParleyServer, graphql, server_config, sign_up, text},
    read_baseline::{self, ReadBaseline},
    report::{Report, Row},
};

const TRIVIAL: &str = "trivial GraphQL query";
const TRIVIAL_TARGET: f64 = 0.6;
const INBOX: &str = "inbox (50 conversations)";
const INBOX_TARGET: f64 = 0.5;
/// The seeded workspace: conversations (one per contact) and messages spread over them.
pub const CONVERSATIONS: u64 = 500;
pub const MESSAGES: u64 = 5_000;
/// Trivial queries per round, as a multiple of `--requests`: each costs a fraction of a send, and
/// a round should last long enough to be measured.
pub const TRIVIAL_SCALE: u32 = 4;
/// Inbox pages per round, as a fraction of `--requests`: each costs more than a send.
pub const INBOX_DIVISOR: u32 = 2;

const TRIVIAL_QUERY: &str = "{ __typename }";
const INBOX_QUERY: &str = "query Inbox { conversations(first: 50) { \
    nodes { id status unreadCount lastMessageAt contact { id name phone } \
            lastMessage { id direction type status text createdAt } } \
    pageInfo { hasNextPage endCursor } } }";

pub async fn run(args: &RunArgs, report: &mut Report) -> anyhow::Result<()> {
    let client = load::client(args.concurrency)?;
    for mut site in backend::sites("reads", &args.postgres_url, report).await? {
        let measured = measure(&mut site, &client, args).await;
        let backend = site.backend;
        site.clean_up().await;
        report
            .rows
            .extend(measured.with_context(|| format!("reads on {backend}"))?);
    }
    Ok(())
}

async fn measure(
    site: &mut Site,
    client: &reqwest::Client,
    args: &RunArgs,
) -> anyhow::Result<Vec<Row>> {
    let backend = site.backend;
    let url = site.fresh_database().await?;
    let parley = ParleyServer::start(&url).await?;
    let (token, workspace_id) = seed(client, &parley, &url)
        .await
        .context("seeding the inbox")?;
    let baseline = ReadBaseline::start(&url, workspace_id).await?;
    check_same_inbox(client, &parley, &baseline, &token).await?;

    // The baseline ignores the token; sending it keeps the client's work the same for both.
    let pair = |query: &str, path: &str| {
        let body: Arc<str> = json!({ "query": query }).to_string().into();
        let target = |url: String| Target {
            url,
            bearer: token.clone(),
            load: Load::Fixed { body: body.clone() },
        };
        [
            ("Parley", target(format!("http://{}/graphql", parley.addr))),
            (
                "baseline",
                target(format!("http://{}{path}", baseline.addr)),
            ),
        ]
    };
    let [trivial, trivial_baseline] = load::alternate(
        client,
        &format!("trivial query on {backend}"),
        &pair(TRIVIAL_QUERY, "/trivial"),
        args.rounds,
        u64::from(args.requests * TRIVIAL_SCALE),
        args.concurrency,
    )
    .await?;
    let [inbox, inbox_baseline] = load::alternate(
        client,
        &format!("inbox on {backend}"),
        &pair(INBOX_QUERY, "/inbox"),
        args.rounds,
        u64::from((args.requests / INBOX_DIVISOR).max(1)),
        args.concurrency,
    )
    .await?;
    parley.stop().await?;
    baseline.stop().await?;
    Ok(vec![
        Row {
            scenario: TRIVIAL,
            backend,
            target_ratio: TRIVIAL_TARGET,
            parley: trivial,
            baseline: trivial_baseline,
        },
        Row {
            scenario: INBOX,
            backend,
            target_ratio: INBOX_TARGET,
            parley: inbox,
            baseline: inbox_baseline,
        },
    ])
}

/// Signs up, connects a sandbox sender and fills the workspace with `parley::seed` (what
/// `parley seed` runs). Returns the owner's token and the workspace's id.
async fn seed(
    client: &reqwest::Client,
    parley: &ParleyServer,
    database_url: &str,
) -> anyhow::Result<(String, Uuid)> {
    let token = sign_up(client, parley.addr).await?;
    let sender = graphql(
        client,
        parley.addr,
        Some(token.clone()),
        "mutation($input: ConnectSenderInput!) { connectSender(input: $input) { id } }",
        json!({"input": {"kind": "SANDBOX", "phoneNumber": "+15550000001", "name": "Bench"}}),
    )
    .await?;
    let sender_id = Uuid::parse_str(&text(&sender, "/connectSender/id")?)?;
    let viewer = graphql(
        client,
        parley.addr,
        Some(token.clone()),
        "{ viewer { workspace { id } } }",
        json!({}),
    )
    .await?;
    let workspace_id = Uuid::parse_str(&text(&viewer, "/viewer/workspace/id")?)?;
    let db = parley::db::connect(&server_config(database_url)).await?;
    parley::seed::seed(&db, workspace_id, sender_id, CONVERSATIONS, MESSAGES).await?;
    db.close().await?;
    Ok((token, workspace_id))
}

/// Both servers must answer the same page: the same 50 conversations in the same order, each
/// with a contact and a last message.
async fn check_same_inbox(
    client: &reqwest::Client,
    parley: &ParleyServer,
    baseline: &BareServer,
    token: &str,
) -> anyhow::Result<()> {
    let parley_page = graphql(
        client,
        parley.addr,
        Some(token.to_owned()),
        INBOX_QUERY,
        json!({}),
    )
    .await?;
    let baseline_page: Value = client
        .post(format!("http://{}/inbox", baseline.addr))
        .json(&json!({ "query": INBOX_QUERY }))
        .send()
        .await?
        .error_for_status()?
        .json()
        .await?;
    let ids = |page: &Value| -> Vec<String> {
        page.pointer("/conversations/nodes")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .filter(|node| {
                node["contact"]["id"].is_string() && node["lastMessage"]["id"].is_string()
            })
            .filter_map(|node| node["id"].as_str().map(str::to_lowercase))
            .collect()
    };
    let (parley_ids, baseline_ids) = (ids(&parley_page), ids(&baseline_page["data"]));
    anyhow::ensure!(
        parley_ids.len() == read_baseline::PAGE && parley_ids == baseline_ids,
        "Parley and the baseline answer different inboxes: {} and {} conversations with a \
         contact and a last message",
        parley_ids.len(),
        baseline_ids.len()
    );
    Ok(())
}
