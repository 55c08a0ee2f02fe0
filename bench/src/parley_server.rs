//! The real Parley server, started in-process on a fresh database, and provisioned for sending
//! the way a CRM integration would be: through GraphQL, ending with an API key.

use std::net::SocketAddr;

use anyhow::Context;
use chrono::{DateTime, Utc};
use parley::{app::Application, config::Config};
use serde_json::{Value, json};
use tokio::{sync::oneshot, task::JoinHandle};

/// The Meta app secret the benchmarks' Parley checks webhook signatures with.
pub const APP_SECRET: &str = "bench-app-secret";
/// The Cloud API number the benchmarks connect, and their webhooks name.
pub const PHONE_NUMBER_ID: &str = "106540352242922";

/// `connectSender` input for the benchmarks' Cloud API sender.
pub fn cloud_api_sender() -> Value {
    json!({"kind": "CLOUD_API", "phoneNumber": "+15550783881", "phoneNumberId": PHONE_NUMBER_ID,
           "accessToken": "EAAG-bench", "name": "Bench"})
}

/// A running Parley.
pub struct ParleyServer {
    pub addr: SocketAddr,
    /// When it began to serve (and, with dispatch enabled, to dispatch).
    pub serving_since: DateTime<Utc>,
    stop: oneshot::Sender<()>,
    task: JoinHandle<std::io::Result<()>>,
}

impl ParleyServer {
    /// Builds the application exactly as `parley serve` does (migrations included), on port 0.
    pub async fn start(database_url: &str) -> anyhow::Result<Self> {
        Self::start_with(server_config(database_url)).await
    }

    /// [`ParleyServer::start`] with a configuration of the caller's.
    pub async fn start_with(config: Config) -> anyhow::Result<Self> {
        let app = Application::build(config)
            .await
            .context("Parley does not start")?;
        let addr = app.addr();
        let (stop, stopped) = oneshot::channel::<()>();
        let serving_since = Utc::now();
        let task = tokio::spawn(app.run_until_stopped(async {
            stopped.await.ok();
        }));
        Ok(Self {
            addr,
            serving_since,
            stop,
            task,
        })
    }

    /// Signs up a workspace, connects a sandbox sender, lifts its daily cap above what the run
    /// sends, and returns an API key with scope MESSAGES_SEND and a rate limit the run stays under.
    pub async fn provision(&self, client: &reqwest::Client) -> anyhow::Result<String> {
        self.provision_sender(
            client,
            json!({"kind": "SANDBOX", "phoneNumber": "+15550000001", "name": "Bench"}),
            json!({"dailyLimit": 1_000_000}),
        )
        .await
    }

    /// [`ParleyServer::provision`] with `sender` as the `connectSender` input and `settings` as
    /// its `updateSender` input.
    pub async fn provision_sender(
        &self,
        client: &reqwest::Client,
        sender: Value,
        settings: Value,
    ) -> anyhow::Result<String> {
        let ask = |token: Option<String>, query: &'static str, variables: Value| {
            graphql(client, self.addr, token, query, variables)
        };
        let token = sign_up(client, self.addr).await?;
        let sender = ask(
            Some(token.clone()),
            "mutation($input: ConnectSenderInput!) { connectSender(input: $input) { id } }",
            json!({ "input": sender }),
        )
        .await?;
        let sender_id = text(&sender, "/connectSender/id")?;
        ask(
            Some(token.clone()),
            "mutation($id: ID!, $input: UpdateSenderInput!) {
                updateSender(id: $id, input: $input) { id } }",
            json!({"id": sender_id, "input": settings}),
        )
        .await?;
        let key = ask(
            Some(token),
            "mutation($input: CreateApiKeyInput!) { createApiKey(input: $input) { secret } }",
            json!({"input": {"name": "bench", "scopes": ["MESSAGES_SEND"],
                              "rateLimitPerMinute": 100_000}}),
        )
        .await?;
        text(&key, "/createApiKey/secret")
    }

    /// Stops serving and waits until the server has let go of its connections.
    pub async fn stop(self) -> anyhow::Result<()> {
        self.stop.send(()).ok();
        self.task
            .await
            .context("Parley's server task")?
            .context("Parley stops cleanly")
    }
}

/// Parley's defaults (pool size included) except where it listens and what it stores in.
/// `send_wait_secs` does not matter: shape A without `?wait` answers once the send is queued.
pub fn server_config(database_url: &str) -> Config {
    Config {
        database_url: database_url.to_owned(),
        listen: SocketAddr::from(([127, 0, 0, 1], 0)),
        send_wait_secs: 0,
        // Accepted sends are measured on their own; delivery is a scenario of its own.
        dispatch_enabled: false,
        ..Config::default()
    }
}

/// Signs up the bench's workspace on the Parley at `addr`; returns the owner's token.
pub async fn sign_up(client: &reqwest::Client, addr: SocketAddr) -> anyhow::Result<String> {
    let signed_up = graphql(
        client,
        addr,
        None,
        "mutation($input: SignUpInput!) { signUp(input: $input) { token } }",
        json!({"input": {"workspaceName": "Bench", "name": "Bench Owner",
                          "email": "bench@parley.example", "password": "benchmark password"}}),
    )
    .await?;
    text(&signed_up, "/signUp/token")
}

/// POSTs a GraphQL document and returns its `data`; any error in the answer fails setup.
pub async fn graphql(
    client: &reqwest::Client,
    addr: SocketAddr,
    token: Option<String>,
    query: &str,
    variables: Value,
) -> anyhow::Result<Value> {
    let mut request = client
        .post(format!("http://{addr}/graphql"))
        .json(&json!({"query": query, "variables": variables}));
    if let Some(token) = token {
        request = request.bearer_auth(token);
    }
    let response: Value = request
        .send()
        .await
        .context("GraphQL request")?
        .json()
        .await
        .context("GraphQL answer is not JSON")?;
    if response.get("errors").is_some() {
        anyhow::bail!("GraphQL refused provisioning: {response}");
    }
    Ok(response["data"].clone())
}

pub fn text(data: &Value, pointer: &str) -> anyhow::Result<String> {
    data.pointer(pointer)
        .and_then(Value::as_str)
        .map(str::to_owned)
        .with_context(|| format!("no {pointer} in {data}"))
}
