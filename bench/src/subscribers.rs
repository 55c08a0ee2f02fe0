//! The `subscribers` scenario: what subscriptions cost Parley. Parley runs in a child process of
//! its own (this program, re-run as `serve-child`) so that its resident memory is its own:
//!
//! - **Idle subscribers:** 10,000 websockets, each authenticated and holding one subscription that
//!   nothing matches; the child's RSS with them open (target ≤ 160 MB).
//! - **Fan-out:** 1,000 subscribers of `messageStatusChanged`; a signed status webhook is posted
//!   and the time from posting to each subscriber's `next` message is measured (target p99 ≤
//!   50 ms). The baseline is a bare axum websocket server (`broadcast-child`) that relays each
//!   posted body to its sockets through one `tokio::sync::broadcast` channel, measured the same
//!   way (target: Parley's p99 ≤ 3× the baseline's).
//!
//! SQLite only: subscribers cost the same whatever stores the events.

use std::{
    net::SocketAddr,
    process::Stdio,
    sync::Arc,
    time::{Duration, Instant},
};

use anyhow::Context;
use axum::{
    Router,
    body::Bytes,
    extract::{State, WebSocketUpgrade, ws::Message as ServerMessage},
    routing::{get, post},
};
use futures_util::{SinkExt, StreamExt, stream};
use serde_json::{Value, json};
use tokio::{
    io::{AsyncBufReadExt, BufReader},
    net::TcpStream,
    process::{Child, Command},
    sync::{broadcast, mpsc},
};
use tokio_tungstenite::{
    MaybeTlsStream, WebSocketStream,
    tungstenite::{
        Message, client::IntoClientRequest, http::HeaderValue, protocol::WebSocketConfig,
    },
};

use crate::{
    backend::Site,
    parley_server::{
        APP_SECRET, PHONE_NUMBER_ID, cloud_api_sender, graphql, server_config, sign_up,
    },
    report::{Check, Report},
};

const IDLE: usize = 10_000;
const FAN_OUT: usize = 1_000;
const EVENTS: usize = 20;
/// Websockets opened at once while connecting the subscribers.
const CONNECTING: usize = 64;

type Socket = WebSocketStream<MaybeTlsStream<TcpStream>>;

pub async fn run(report: &mut Report) -> anyhow::Result<()> {
    let mut site = Site::sqlite()?;
    let measured = measure(&mut site, report).await;
    site.clean_up().await;
    measured
}

async fn measure(site: &mut Site, report: &mut Report) -> anyhow::Result<()> {
    let url = site.fresh_database().await?;
    let parley = ChildServer::start(&["serve-child", &url]).await?;
    let client = reqwest::Client::new();
    let (token, wamids) = provision(&client, parley.addr, &url).await?;
    let started_rss = parley.rss()?;

    eprintln!("subscribers: opening {IDLE} idle subscriptions");
    let idle = connect_parley(parley.addr, &token, IDLE, Some(uuid::Uuid::now_v7())).await?;
    tokio::time::sleep(Duration::from_secs(1)).await;
    let idle_rss = parley.rss()?;
    drop(idle);
    report.checks.push(Check {
        name: format!("RSS of `parley serve` with {IDLE} idle subscribers (SQLite)"),
        parley: format!("{:.0} MB", mib(idle_rss)),
        baseline: format!("{:.0} MB with none", mib(started_rss)),
        target: "≤ 160 MB".into(),
        met: Some(mib(idle_rss) <= 160.0),
    });

    eprintln!("subscribers: fan-out to {FAN_OUT} Parley subscribers");
    tokio::time::sleep(Duration::from_secs(1)).await;
    let sockets = connect_parley(parley.addr, &token, FAN_OUT, None).await?;
    let webhook = format!("http://{}/webhooks/whatsapp", parley.addr);
    let parley_latencies = fan_out(sockets, |event| {
        let body =
            crate::load::status_webhook(PHONE_NUMBER_ID, &wamids[event], "sent", event as u64);
        let signature = parley::webhooks::sign(APP_SECRET.as_bytes(), body.as_bytes());
        client
            .post(&webhook)
            .header("content-type", "application/json")
            .header("x-hub-signature-256", signature)
            .body(body)
            .send()
    })
    .await?;
    parley.stop().await;

    eprintln!("subscribers: fan-out to {FAN_OUT} baseline subscribers");
    let baseline = ChildServer::start(&["broadcast-child"]).await?;
    let sockets = connect_baseline(baseline.addr, FAN_OUT).await?;
    let publish = format!("http://{}/publish", baseline.addr);
    let baseline_latencies = fan_out(sockets, |event| {
        client
            .post(&publish)
            .body(json!({"event": event, "status": "SENT"}).to_string())
            .send()
    })
    .await?;
    baseline.stop().await;

    let (p50, p99) = (
        percentile(&parley_latencies, 50.0),
        percentile(&parley_latencies, 99.0),
    );
    let (base50, base99) = (
        percentile(&baseline_latencies, 50.0),
        percentile(&baseline_latencies, 99.0),
    );
    report.checks.push(Check {
        name: format!("fan-out of one status webhook to {FAN_OUT} subscribers, p50 / p99"),
        parley: format!("{p50:.1} / {p99:.1} ms"),
        baseline: format!("{base50:.1} / {base99:.1} ms"),
        target: "p99 ≤ 50 ms".into(),
        met: Some(p99 <= 50.0),
    });
    report.checks.push(Check {
        name: "fan-out p99, Parley ÷ broadcast baseline".into(),
        parley: format!("{:.1}×", p99 / base99),
        baseline: "1×".into(),
        target: "≤ 3×".into(),
        met: Some(p99 <= 3.0 * base99),
    });
    report.notes.push(format!(
        "subscribers: fan-out latencies are from posting the webhook (or the baseline's publish) \
         to each subscriber reading its message, over {EVENTS} events × {FAN_OUT} subscribers on \
         one client process; idle subscribers each sent connection_init with a member token and \
         subscribed to messageStatusChanged(messageId) for a message that gets no status."
    ));
    Ok(())
}

/// Signs up, connects a Cloud API sender with the webhooks' number, queues one message per event
/// and gives each a wamid, as if WhatsApp had accepted it. Returns the owner's token and wamids.
async fn provision(
    client: &reqwest::Client,
    addr: SocketAddr,
    database_url: &str,
) -> anyhow::Result<(String, Vec<String>)> {
    let token = sign_up(client, addr).await?;
    graphql(
        client,
        addr,
        Some(token.clone()),
        "mutation($input: ConnectSenderInput!) { connectSender(input: $input) { id } }",
        json!({"input": cloud_api_sender()}),
    )
    .await?;
    for event in 0..EVENTS {
        graphql(
            client,
            addr,
            Some(token.clone()),
            "mutation($input: SendMessageInput!) { sendMessage(input: $input) { message { id } } }",
            json!({"input": {"to": format!("+4477009{event:05}"), "type": "TEXT",
                              "text": "fan-out"}}),
        )
        .await?;
    }
    let db = parley::db::connect(&server_config(database_url)).await?;
    let wamids = crate::intake::accepted_wamids(&db).await?;
    db.close().await?;
    anyhow::ensure!(wamids.len() == EVENTS, "expected {EVENTS} messages");
    Ok((token, wamids.to_vec()))
}

/// `count` authenticated sockets, each subscribed to status changes (of `message` only, when
/// given: an id no status names keeps them idle).
async fn connect_parley(
    addr: SocketAddr,
    token: &str,
    count: usize,
    message: Option<uuid::Uuid>,
) -> anyhow::Result<Vec<Socket>> {
    let init = json!({"type": "connection_init",
                      "payload": {"authorization": format!("Bearer {token}")}})
    .to_string();
    let subscribe = json!({"id": "1", "type": "subscribe", "payload": {
        "query": "subscription($messageId: ID) { messageStatusChanged(messageId: $messageId) {
                      status previousStatus occurredAt message { id status } } }",
        "variables": {"messageId": message.map(|id| id.to_string())}}})
    .to_string();
    stream::iter(0..count)
        .map(|_| {
            let (init, subscribe) = (init.clone(), subscribe.clone());
            async move {
                let mut socket = open(addr, "/graphql", Some("graphql-transport-ws")).await?;
                socket.send(Message::text(init)).await?;
                let ack = socket.next().await.context("closed before the ack")??;
                let ack: Value = serde_json::from_str(ack.to_text()?)?;
                anyhow::ensure!(ack["type"] == "connection_ack", "no ack: {ack}");
                socket.send(Message::text(subscribe)).await?;
                Ok(socket)
            }
        })
        .buffer_unordered(CONNECTING)
        .collect::<Vec<anyhow::Result<Socket>>>()
        .await
        .into_iter()
        .collect()
}

async fn connect_baseline(addr: SocketAddr, count: usize) -> anyhow::Result<Vec<Socket>> {
    stream::iter(0..count)
        .map(|_| open(addr, "/ws", None))
        .buffer_unordered(CONNECTING)
        .collect::<Vec<anyhow::Result<Socket>>>()
        .await
        .into_iter()
        .collect()
}

async fn open(addr: SocketAddr, path: &str, protocol: Option<&str>) -> anyhow::Result<Socket> {
    let mut request = format!("ws://{addr}{path}").into_client_request()?;
    if let Some(protocol) = protocol {
        request
            .headers_mut()
            .insert("sec-websocket-protocol", HeaderValue::from_str(protocol)?);
    }
    let config = WebSocketConfig::default()
        .read_buffer_size(4096)
        .write_buffer_size(0);
    let (socket, _) =
        tokio_tungstenite::connect_async_with_config(request, Some(config), true).await?;
    Ok(socket)
}

/// Posts `EVENTS` events with `trigger` and returns, for each event and socket, the time from
/// posting to the socket reading its message.
async fn fan_out<F, Fut>(sockets: Vec<Socket>, trigger: F) -> anyhow::Result<Vec<Duration>>
where
    F: Fn(usize) -> Fut,
    Fut: Future<Output = reqwest::Result<reqwest::Response>>,
{
    let expected = sockets.len();
    let (arrived, mut arrivals) = mpsc::unbounded_channel::<Instant>();
    let readers: Vec<_> = sockets
        .into_iter()
        .map(|mut socket| {
            let arrived = arrived.clone();
            tokio::spawn(async move {
                while let Some(Ok(message)) = socket.next().await {
                    if matches!(message, Message::Text(_)) && arrived.send(Instant::now()).is_err()
                    {
                        return;
                    }
                }
            })
        })
        .collect();
    // Let every subscription reach the server's bus before the first event.
    tokio::time::sleep(Duration::from_secs(1)).await;
    let mut latencies = Vec::with_capacity(EVENTS * expected);
    for event in 0..EVENTS {
        let posted = Instant::now();
        let answer = trigger(event).await.context("posting the event")?;
        anyhow::ensure!(
            answer.status().is_success(),
            "the event was refused: {}",
            answer.status()
        );
        for _ in 0..expected {
            let at = tokio::time::timeout(Duration::from_secs(10), arrivals.recv())
                .await
                .context("a subscriber did not hear the event within 10 s")?
                .context("the readers stopped")?;
            latencies.push(at.saturating_duration_since(posted));
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    for reader in readers {
        reader.abort();
    }
    Ok(latencies)
}

fn percentile(latencies: &[Duration], p: f64) -> f64 {
    let mut sorted = latencies.to_vec();
    sorted.sort();
    if sorted.is_empty() {
        return 0.0;
    }
    let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1].as_secs_f64() * 1000.0
}

fn mib(bytes: u64) -> f64 {
    bytes as f64 / (1024.0 * 1024.0)
}

/// A server in a child process (this program, re-run), which prints `listening <addr>` when
/// ready and stops when its standard input closes.
struct ChildServer {
    child: Child,
    addr: SocketAddr,
}

impl ChildServer {
    async fn start(args: &[&str]) -> anyhow::Result<Self> {
        let mut child = Command::new(std::env::current_exe()?)
            .args(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .context("starting the child server")?;
        let stdout = child.stdout.take().context("child stdout")?;
        let mut lines = BufReader::new(stdout).lines();
        let addr = loop {
            let line = tokio::time::timeout(Duration::from_secs(30), lines.next_line())
                .await
                .context("the child server did not start within 30 s")??
                .context("the child server exited")?;
            if let Some(addr) = line.strip_prefix("listening ") {
                break addr.parse()?;
            }
        };
        Ok(Self { child, addr })
    }

    /// Resident set size, in bytes.
    fn rss(&self) -> anyhow::Result<u64> {
        let pid = self.child.id().context("the child has exited")?;
        let status = std::fs::read_to_string(format!("/proc/{pid}/status"))?;
        let kib: u64 = status
            .lines()
            .find_map(|line| line.strip_prefix("VmRSS:"))
            .and_then(|value| value.split_whitespace().next())
            .context("no VmRSS")?
            .parse()?;
        Ok(kib * 1024)
    }

    async fn stop(mut self) {
        drop(self.child.stdin.take());
        if tokio::time::timeout(Duration::from_secs(10), self.child.wait())
            .await
            .is_err()
        {
            let _ = self.child.kill().await;
        }
    }
}

/// `serve-child <database-url>`: Parley as `parley serve` runs it, with the webhook secret the
/// scenario signs with and no dispatcher.
pub async fn serve_child(database_url: &str) -> anyhow::Result<()> {
    let mut config = server_config(database_url);
    config.app_secret = Some(APP_SECRET.into());
    let app = parley::app::Application::build(config).await?;
    println!("listening {}", app.addr());
    app.run_until_stopped(stdin_closed()).await?;
    Ok(())
}

/// `broadcast-child`: the fan-out baseline. `POST /publish` sends its body to every socket on
/// `/ws` through one broadcast channel.
pub async fn broadcast_child() -> anyhow::Result<()> {
    let (sender, _) = broadcast::channel::<Bytes>(1024);
    let sender = Arc::new(sender);
    let router =
        Router::new()
            .route(
                "/ws",
                get(
                    |State(sender): State<Arc<broadcast::Sender<Bytes>>>,
                     upgrade: WebSocketUpgrade| async move {
                        upgrade
                        .read_buffer_size(4096)
                        .write_buffer_size(4096)
                        .on_upgrade(move |mut socket| async move {
                            let mut events = sender.subscribe();
                            loop {
                                tokio::select! {
                                    event = events.recv() => {
                                        let Ok(event) = event else { return };
                                        let text = String::from_utf8_lossy(&event).into_owned();
                                        if socket.send(ServerMessage::text(text)).await.is_err() {
                                            return;
                                        }
                                    }
                                    received = socket.recv() => {
                                        if !matches!(received, Some(Ok(_))) {
                                            return;
                                        }
                                    }
                                }
                            }
                        })
                    },
                ),
            )
            .route(
                "/publish",
                post(
                    |State(sender): State<Arc<broadcast::Sender<Bytes>>>, body: Bytes| async move {
                        let _ = sender.send(body);
                    },
                ),
            )
            .with_state(sender);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    println!("listening {}", listener.local_addr()?);
    axum::serve(listener, router)
        .with_graceful_shutdown(stdin_closed())
        .await?;
    Ok(())
}

async fn stdin_closed() {
    let mut lines = BufReader::new(tokio::io::stdin()).lines();
    while let Ok(Some(_)) = lines.next_line().await {}
}
