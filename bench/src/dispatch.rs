//! The `dispatch` scenario: how fast the dispatcher brings queued sends to ACCEPTED against a fake
//! Graph API on 127.0.0.1, on SQLite and on Postgres.
//!
//! - Without latency the database is the limit; the rate is compared with Parley's accepted-sends
//!   rate measured by `sends` in the same run (target: at least half of it, so that the
//!   dispatcher keeps up with what the API takes in).
//! - With 200 ms latency the sends in flight are the limit: the rate should be within 10% of
//!   dispatch concurrency ÷ 0.2 s (the sender's throughput is raised so that it is not the cap).
//!
//! Each round queues its sends through shape A on a Parley with dispatch off, then starts a
//! second Parley on the same database with dispatch on and times it from its start until the
//! last send is ACCEPTED (the latest `updated_at`, so that polling adds nothing).

use std::time::Duration;

use anyhow::Context;
use chrono::{DateTime, Utc};
use entity::send_attempt::{self, SendAttemptState};
use sea_orm::{
    ColumnTrait, DatabaseConnection, EntityTrait, PaginatorTrait, QueryFilter, QueryOrder,
    QuerySelect,
};
use serde_json::json;

use crate::{
    RunArgs,
    backend::{self, Site},
    fake_graph::FakeGraph,
    load::{self, Load, Target},
    parley_server::{self, ParleyServer},
    report::{DispatchReference, DispatchRow, Measured, Report},
};

/// Rounds per backend and latency: each queues and drains its own sends.
pub const ROUNDS: u32 = 3;
/// The sender's throughput for the run: Meta's highest tier, above what concurrency allows.
pub const MESSAGES_PER_SECOND: u32 = 1000;
const LATENCIES: [Duration; 2] = [Duration::ZERO, Duration::from_millis(200)];
const TARGET_RATIO: f64 = 0.5;
const TOLERANCE: f64 = 0.1;
/// Distinct recipients: more than a run sends, so that every send goes to its own number and the
/// pair spacing never holds one back.
const RECIPIENTS: u64 = 100_000;

/// Measures on SQLite, then on Postgres unless its server is unreachable (then says so).
pub async fn run(args: &RunArgs, report: &mut Report) -> anyhow::Result<()> {
    let client = load::client(args.concurrency)?;
    let sites = backend::sites("dispatch", &args.postgres_url, report).await?;
    for mut site in sites {
        let mut measured = Ok(());
        for latency in LATENCIES {
            measured = measure(&mut site, &client, args, latency)
                .await
                .map(|row| report.dispatch.push(row));
            if measured.is_err() {
                break;
            }
        }
        let backend = site.backend;
        site.clean_up().await;
        measured.with_context(|| format!("dispatch on {backend}"))?;
    }
    Ok(())
}

/// The sends per round: all of `--requests` without latency; with it the rate is fixed by the
/// latency, and half as many sends measure it as well in half the time.
fn sends_per_round(args: &RunArgs, latency: Duration) -> u64 {
    match latency.is_zero() {
        true => u64::from(args.requests),
        false => u64::from(args.requests).div_ceil(2),
    }
}

async fn measure(
    site: &mut Site,
    client: &reqwest::Client,
    args: &RunArgs,
    latency: Duration,
) -> anyhow::Result<DispatchRow> {
    let backend = site.backend;
    let sends = sends_per_round(args, latency);
    let url = site.fresh_database().await?;
    let fake = FakeGraph::start(latency).await?;
    let mut config = parley_server::server_config(&url);
    config.graph_api_url = fake.base_url();
    let queueing = ParleyServer::start_with(config.clone()).await?;
    let key = queueing
        .provision_sender(
            client,
            parley_server::cloud_api_sender(),
            json!({"dailyLimit": 1_000_000, "messagesPerSecond": MESSAGES_PER_SECOND}),
        )
        .await
        .context("provisioning Parley")?;
    let target = Target {
        url: format!("http://{}/api/v1/messages/send", queueing.addr),
        bearer: key,
        load: Load::Sends {
            recipients: RECIPIENTS,
        },
    };
    let watcher = parley::db::connect(&parley::config::Config {
        database_max_connections: 2,
        ..config.clone()
    })
    .await?;

    let mut dispatched = Measured::default();
    for number in 0..ROUNDS {
        let queued = load::round(
            client,
            &target,
            u64::from(number) * sends,
            sends,
            args.concurrency,
        )
        .await?;
        if queued.errors > 0 {
            anyhow::bail!(
                "Parley refused sends while queueing: {}",
                queued.error_samples.join("; ")
            );
        }
        let dispatching = ParleyServer::start_with(parley::config::Config {
            dispatch_enabled: true,
            ..config.clone()
        })
        .await?;
        let drained = drain(&watcher, dispatching.serving_since, sends, latency).await;
        dispatching.stop().await?;
        let rate = drained?;
        eprintln!(
            "dispatch on {backend} at {} ms, round {}/{ROUNDS}: {rate:.0} sends/s",
            latency.as_millis(),
            number + 1,
        );
        dispatched.rates.push(rate);
    }
    let answered = fake.answered();
    let expected = u64::from(ROUNDS) * sends;
    if answered != expected {
        dispatched.errors += answered.abs_diff(expected);
        dispatched.error_samples.push(format!(
            "the fake Graph API answered {answered} sends of {expected}"
        ));
    }
    watcher.close().await?;
    queueing.stop().await?;
    fake.stop().await?;
    let config = parley::config::Config::default();
    let reference = match latency.is_zero() {
        true => DispatchReference::AcceptedSends {
            target_ratio: TARGET_RATIO,
        },
        false => DispatchReference::Ceiling {
            concurrency: config.dispatch_concurrency,
            messages_per_second: MESSAGES_PER_SECOND,
            tolerance: TOLERANCE,
        },
    };
    Ok(DispatchRow {
        backend,
        latency,
        sends,
        dispatched,
        reference,
    })
}

/// Waits until nothing is QUEUED or SENDING, then returns the round's rate: `sends` over the time
/// from `since` to the last send's ACCEPTED. Fails on a FAILED send or after a deadline far
/// beyond any plausible round.
async fn drain(
    db: &DatabaseConnection,
    since: DateTime<Utc>,
    sends: u64,
    latency: Duration,
) -> anyhow::Result<f64> {
    let deadline = tokio::time::Instant::now()
        + Duration::from_secs(60)
        + latency.saturating_mul(u32::try_from(sends).unwrap_or(u32::MAX));
    loop {
        let pending = send_attempt::Entity::find()
            .filter(
                send_attempt::Column::State
                    .is_in([SendAttemptState::Queued, SendAttemptState::Sending]),
            )
            .count(db)
            .await?;
        if pending == 0 {
            break;
        }
        anyhow::ensure!(
            tokio::time::Instant::now() < deadline,
            "{pending} sends still undelivered at the deadline"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let failed = send_attempt::Entity::find()
        .filter(send_attempt::Column::State.eq(SendAttemptState::Failed))
        .one(db)
        .await?;
    if let Some(failed) = failed {
        anyhow::bail!(
            "a send FAILED: {:?} {:?}",
            failed.error_code,
            failed.error_message
        );
    }
    let last = send_attempt::Entity::find()
        .filter(send_attempt::Column::State.eq(SendAttemptState::Accepted))
        .order_by_desc(send_attempt::Column::UpdatedAt)
        .limit(1)
        .one(db)
        .await?
        .context("no send was accepted")?;
    let elapsed = (last.updated_at - since)
        .to_std()
        .context("the last send was accepted before dispatch started")?;
    Ok(sends as f64 / elapsed.as_secs_f64())
}
