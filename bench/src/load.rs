//! The load: `concurrency` workers share one keep-alive HTTP/1.1 client and pull request numbers
//! from one counter until a round's requests are done, timing each request.

use std::{
    sync::{
        Arc,
        atomic::{AtomicU64, Ordering},
    },
    time::{Duration, Instant},
};

use anyhow::Context;

/// How many distinct recipients the `sends` scenario cycles over: the first pass creates their
/// contacts and conversations, later ones reuse them, as a CRM's traffic does.
pub const RECIPIENTS: u64 = 1_000;

/// Requests sent to each server before its first measured round: connections open, caches and
/// prepared statements warm, and the first contacts created.
pub const WARM_UP: u64 = 200;

/// Error answers kept verbatim per round, to report what went wrong without flooding.
pub const ERROR_SAMPLES: usize = 3;

/// Where a round sends its requests, and what.
#[derive(Clone)]
pub struct Target {
    pub url: String,
    pub bearer: String,
    pub load: Load,
}

/// What a round's requests are.
#[derive(Clone)]
pub enum Load {
    /// Shape A sends, answered 202; send `n` goes to recipient `n % recipients`.
    Sends { recipients: u64 },
    /// The same sends as GraphQL `sendMessage` mutations, answered 200 without `errors`.
    GraphQlSends { recipients: u64 },
    /// The same body every time (a GraphQL query, or what a baseline reads in its place),
    /// answered 200 without `errors`.
    Fixed { body: Arc<str> },
    /// Meta status webhooks for `wamids` (sent, then delivered, then read as the numbers wrap),
    /// signed with `app_secret`, answered 200.
    Statuses {
        app_secret: String,
        phone_number_id: String,
        wamids: Arc<Vec<String>>,
    },
}

impl Load {
    fn expected(&self) -> reqwest::StatusCode {
        match self {
            Load::Sends { .. } => reqwest::StatusCode::ACCEPTED,
            Load::GraphQlSends { .. } | Load::Fixed { .. } | Load::Statuses { .. } => {
                reqwest::StatusCode::OK
            }
        }
    }

    /// The body of request number `n`, and its signature header if it has one.
    fn request(&self, n: u64) -> (String, Option<String>) {
        match self {
            Load::Sends { recipients } => (body(n, *recipients), None),
            Load::GraphQlSends { recipients } => (graphql_send(n, *recipients), None),
            Load::Fixed { body } => (body.to_string(), None),
            Load::Statuses {
                app_secret,
                phone_number_id,
                wamids,
            } => {
                let count = wamids.len().max(1) as u64;
                let wamid = wamids.get((n % count) as usize).map_or("", String::as_str);
                let status = ["sent", "delivered", "read"][((n / count) % 3) as usize];
                let body = status_webhook(phone_number_id, wamid, status, n);
                let signature = parley::webhooks::sign(app_secret.as_bytes(), body.as_bytes());
                (body, Some(signature))
            }
        }
    }
}

/// A status webhook as Meta delivers it (one status, one change, one entry).
pub fn status_webhook(phone_number_id: &str, wamid: &str, status: &str, n: u64) -> String {
    serde_json::json!({
        "object": "whatsapp_business_account",
        "entry": [{
            "id": "102290129340398",
            "changes": [{
                "field": "messages",
                "value": {
                    "messaging_product": "whatsapp",
                    "metadata": {"display_phone_number": "15550783881",
                                 "phone_number_id": phone_number_id},
                    "statuses": [{
                        "id": wamid,
                        "status": status,
                        "timestamp": (1_739_321_100 + n).to_string(),
                        "recipient_id": "447700900001",
                    }],
                },
            }],
        }],
    })
    .to_string()
}

/// The client every round of a scenario shares: keep-alive connections for every worker.
pub fn client(concurrency: u32) -> anyhow::Result<reqwest::Client> {
    reqwest::Client::builder()
        .pool_max_idle_per_host(concurrency as usize)
        .build()
        .context("HTTP client")
}

/// What one round measured.
#[derive(Debug, Default)]
pub struct Round {
    /// Requests answered as expected (202 for sends, 200 for webhooks).
    pub accepted: u64,
    /// Wall time from the first request sent to the last answer read.
    pub elapsed: Duration,
    /// Latency of every request, answered 202 or not.
    pub latencies: Vec<Duration>,
    /// Requests answered otherwise, or not answered.
    pub errors: u64,
    pub error_samples: Vec<String>,
}

impl Round {
    /// Accepted sends per second.
    pub fn rate(&self) -> f64 {
        self.accepted as f64 / self.elapsed.as_secs_f64()
    }
}

/// The body of send number `n` to one of `recipients` (at most 100 000) numbers.
fn body(n: u64, recipients: u64) -> String {
    serde_json::json!({
        "to": format!("+4477009{:05}", n % recipients),
        "type": "text",
        "text": format!("Benchmark message {n}"),
    })
    .to_string()
}

/// Send number `n` as a GraphQL `sendMessage`, with the recipient and text of [`body`]; it asks
/// for what shape A answers (the send attempt's id and status).
fn graphql_send(n: u64, recipients: u64) -> String {
    serde_json::json!({
        "query": "mutation($input: SendMessageInput!) { \
                  sendMessage(input: $input) { sendAttempt { id status } } }",
        "variables": {"input": {
            "to": format!("+4477009{:05}", n % recipients),
            "type": "TEXT",
            "text": format!("Benchmark message {n}"),
        }},
    })
    .to_string()
}

/// Sends requests numbered `first..first + requests` to `target` from `concurrency` workers.
pub async fn round(
    client: &reqwest::Client,
    target: &Target,
    first: u64,
    requests: u64,
    concurrency: u32,
) -> anyhow::Result<Round> {
    let next = Arc::new(AtomicU64::new(first));
    let end = first + requests;
    let started = Instant::now();
    let workers: Vec<_> = (0..concurrency)
        .map(|_| {
            let (client, target, next) = (client.clone(), target.clone(), next.clone());
            tokio::spawn(async move {
                let mut round = Round::default();
                loop {
                    let n = next.fetch_add(1, Ordering::Relaxed);
                    if n >= end {
                        break;
                    }
                    let (body, signature) = target.load.request(n);
                    let sent = Instant::now();
                    let answer = send(&client, &target, body, signature).await;
                    round.latencies.push(sent.elapsed());
                    match answer {
                        Ok(()) => round.accepted += 1,
                        Err(error) => {
                            round.errors += 1;
                            if round.error_samples.len() < ERROR_SAMPLES {
                                round.error_samples.push(error);
                            }
                        }
                    }
                }
                round
            })
        })
        .collect();
    let mut total = Round::default();
    for worker in workers {
        let round = worker.await.context("load worker panicked")?;
        total.accepted += round.accepted;
        total.errors += round.errors;
        total.latencies.extend(round.latencies);
        for sample in round.error_samples {
            if total.error_samples.len() < ERROR_SAMPLES {
                total.error_samples.push(sample);
            }
        }
    }
    total.elapsed = started.elapsed();
    Ok(total)
}

/// One request; an answer other than the expected one is an error, described by its status and
/// body.
async fn send(
    client: &reqwest::Client,
    target: &Target,
    body: String,
    signature: Option<String>,
) -> Result<(), String> {
    let mut request = client
        .post(&target.url)
        .bearer_auth(&target.bearer)
        .header("content-type", "application/json")
        .body(body);
    if let Some(signature) = signature {
        request = request.header("x-hub-signature-256", signature);
    }
    let response = request
        .send()
        .await
        .map_err(|error| format!("no answer: {error}"))?;
    let status = response.status();
    // Read the whole answer: it is part of the request, and the connection is reused after it.
    let answer = response
        .bytes()
        .await
        .map_err(|error| format!("{status}, body unreadable: {error}"))?;
    // GraphQL refuses with 200 and `errors`; no answer that succeeds names that key.
    if status != target.load.expected() || answer.windows(8).any(|key| key == b"\"errors\"") {
        return Err(format!("{status}: {}", String::from_utf8_lossy(&answer)));
    }
    Ok(())
}

/// Warms each target up with [`WARM_UP`] requests, then measures `rounds` rounds of `requests`
/// requests per target. Within a round the targets take turns with the same request numbers, so
/// that drift (WAL growth, caches, the machine's other load) reaches them alike. `label` names the
/// scenario and backend in the progress lines.
pub async fn alternate<const N: usize>(
    client: &reqwest::Client,
    label: &str,
    targets: &[(&str, Target); N],
    rounds: u32,
    requests: u64,
    concurrency: u32,
) -> anyhow::Result<[crate::report::Measured; N]> {
    for (name, target) in targets {
        let warm = round(client, target, 0, WARM_UP, concurrency).await?;
        anyhow::ensure!(
            warm.errors == 0,
            "{name} refused warm-up requests: {}",
            warm.error_samples.join("; ")
        );
    }
    let mut measured = std::array::from_fn(|_| crate::report::Measured::default());
    let mut first = WARM_UP;
    for number in 1..=rounds {
        let mut line = format!("{label}, round {number}/{rounds}:");
        for ((name, target), measured) in targets.iter().zip(&mut measured) {
            let round = round(client, target, first, requests, concurrency).await?;
            line.push_str(&format!(
                " {name} {:.0} req/s ({} errors);",
                round.rate(),
                round.errors
            ));
            measured.add(round);
        }
        eprintln!("{}", line.trim_end_matches(';'));
        first += requests;
    }
    Ok(measured)
}
