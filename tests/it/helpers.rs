//! The test harness: fresh databases, a running server, and deadline-bound polling.

use std::{future::Future, net::SocketAddr, time::Duration};

use parley::{app::Application, config::Config};
use reqwest::Url;
use sea_orm::{ConnectionTrait, Database, DatabaseConnection};
use serde_json::{Value, json};
use tempfile::TempDir;
use tokio::{sync::oneshot, task::JoinHandle};

/// A database of its own for one test: a temporary SQLite file, or a new Postgres database on the
/// server named by `PARLEY_TEST_DATABASE_URL`.
pub struct TestDb {
    pub url: String,
    _dir: Option<TempDir>,
}

impl TestDb {
    pub async fn new() -> Self {
        match std::env::var("PARLEY_TEST_DATABASE_URL") {
            Ok(base) if base.starts_with("postgres") => {
                let name = format!("parley_it_{}", uuid::Uuid::now_v7().simple());
                let admin = Database::connect(&base)
                    .await
                    .expect("PARLEY_TEST_DATABASE_URL is reachable");
                admin
                    .execute_unprepared(&format!("CREATE DATABASE {name}"))
                    .await
                    .expect("can create a test database");
                admin.close().await.ok();
                let mut url = Url::parse(&base).expect("PARLEY_TEST_DATABASE_URL is a URL");
                url.set_path(&name);
                Self {
                    url: url.to_string(),
                    _dir: None,
                }
            }
            _ => {
                let dir = tempfile::tempdir().expect("temporary directory");
                Self {
                    url: format!("sqlite://{}/parley.db?mode=rwc", dir.path().display()),
                    _dir: Some(dir),
                }
            }
        }
    }

    pub fn config(&self) -> Config {
        Config {
            database_url: self.url.clone(),
            listen: SocketAddr::from(([127, 0, 0, 1], 0)),
            database_max_connections: 5,
            shutdown_grace_secs: 5,
            // Nothing delivers in most tests (the dispatch tests turn it on): answer "still queued"
            // at once instead of after 30 s.
            send_wait_secs: 0,
            dispatch_enabled: false,
            dispatch_poll_ms: 50,
            sandbox_status_delay_ms: 20,
            // Off like the dispatcher (its polling would show in statement counts); the outbound
            // webhook tests turn it on.
            outbound_webhooks: parley::config::OutboundWebhooks {
                enabled: false,
                ..Default::default()
            },
            ..Config::default()
        }
    }

    /// A database the test set up itself (a private server, a file of its choosing).
    pub fn at(url: String) -> TestDb {
        TestDb { url, _dir: None }
    }

    /// The same database for a second server (the first keeps it alive).
    pub fn share(&self) -> TestDb {
        TestDb {
            url: self.url.clone(),
            _dir: None,
        }
    }

    pub fn is_postgres(&self) -> bool {
        self.url.starts_with("postgres")
    }

    pub async fn connect(&self) -> DatabaseConnection {
        parley::db::connect(&self.config())
            .await
            .expect("test database reachable")
    }
}

/// A running Parley server and a client for it.
pub struct TestApp {
    pub addr: SocketAddr,
    pub client: reqwest::Client,
    pub db: DatabaseConnection,
    /// The server's event bus, to play the part of components that are not running.
    pub events: parley::events::EventBus,
    /// Statements the server has run on its database so far.
    pub statements: parley::db::StatementCounter,
    /// The server's running subscription executions.
    pub subscriptions: parley::graphql::SharedSubscriptions,
    /// The server's services, to run its maintenance by hand.
    pub services: parley::services::Services,
    pub test_db: TestDb,
    stop: Option<oneshot::Sender<()>>,
    server: Option<JoinHandle<std::io::Result<()>>>,
}

impl TestApp {
    pub async fn spawn() -> Self {
        Self::spawn_with(|_| {}).await
    }

    /// Starts a server on a fresh database, with `configure` applied to the test configuration.
    pub async fn spawn_with(configure: impl FnOnce(&mut Config)) -> Self {
        let test_db = TestDb::new().await;
        Self::spawn_on(test_db, configure).await
    }

    /// Starts a server on an existing test database.
    pub async fn spawn_on(test_db: TestDb, configure: impl FnOnce(&mut Config)) -> Self {
        let mut config = test_db.config();
        configure(&mut config);
        let app = Application::build(config)
            .await
            .expect("application builds");
        let addr = app.addr();
        let db = app.state().services.db.clone();
        let events = app.state().services.events.clone();
        let statements = app.state().statements.clone();
        let subscriptions = app.state().graphql.subscriptions.clone();
        let services = app.state().services.clone();
        let (stop, stopped) = oneshot::channel::<()>();
        let server = tokio::spawn(app.run_until_stopped(async {
            stopped.await.ok();
        }));
        Self {
            addr,
            client: reqwest::Client::new(),
            db,
            events,
            statements,
            subscriptions,
            services,
            test_db,
            stop: Some(stop),
            server: Some(server),
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://{}{}", self.addr, path)
    }

    /// POSTs a GraphQL document without credentials and returns the whole JSON response.
    pub async fn graphql(&self, query: &str, variables: Value) -> Value {
        self.graphql_with(None, query, variables).await
    }

    /// POSTs a GraphQL document with `Authorization: Bearer <token>`.
    pub async fn graphql_as(&self, token: &str, query: &str, variables: Value) -> Value {
        self.graphql_with(Some(token), query, variables).await
    }

    async fn graphql_with(&self, token: Option<&str>, query: &str, variables: Value) -> Value {
        graphql_at(&self.addr.to_string(), token, query, variables).await
    }

    /// GETs a REST path, with a bearer token when given; returns the status and the JSON body
    /// (null when the body is not JSON).
    pub async fn rest_get(&self, path: &str, token: Option<&str>) -> (u16, Value) {
        let mut request = self.client.get(self.url(path));
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        let response = request.send().await.expect("REST request");
        let status = response.status().as_u16();
        (status, response.json().await.unwrap_or(Value::Null))
    }

    /// Opens a websocket on `/graphql` speaking graphql-transport-ws.
    pub async fn websocket(
        &self,
    ) -> tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>
    {
        let stream = tokio::net::TcpStream::connect(self.addr).await.unwrap();
        self.websocket_over(stream).await
    }

    /// A graphql-transport-ws connection over `stream`, a connection to the server made as the
    /// test needs it (with a small receive buffer, say).
    pub async fn websocket_over(
        &self,
        stream: tokio::net::TcpStream,
    ) -> tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>
    {
        use tokio_tungstenite::tungstenite::{client::IntoClientRequest, http::HeaderValue};
        let mut request = format!("ws://{}/graphql", self.addr)
            .into_client_request()
            .unwrap();
        request.headers_mut().insert(
            "sec-websocket-protocol",
            HeaderValue::from_static("graphql-transport-ws"),
        );
        let stream = tokio_tungstenite::MaybeTlsStream::Plain(stream);
        let (socket, response) = tokio_tungstenite::client_async(request, stream)
            .await
            .expect("websocket upgrade");
        assert_eq!(
            response.headers()["sec-websocket-protocol"],
            "graphql-transport-ws"
        );
        socket
    }

    /// Stops the server gracefully and hands back its database, for a restart.
    pub async fn stop(mut self) -> TestDb {
        if let Some(stop) = self.stop.take() {
            stop.send(()).ok();
        }
        if let Some(server) = self.server.take() {
            server
                .await
                .expect("server task")
                .expect("server stops cleanly");
        }
        self.db.clone().close().await.ok();
        self.test_db
    }
}

/// Polls `check` until it yields a value or `deadline` passes.
pub async fn eventually<T, F, Fut>(deadline: Duration, mut check: F) -> T
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Option<T>>,
{
    let until = tokio::time::Instant::now() + deadline;
    loop {
        if let Some(value) = check().await {
            return value;
        }
        assert!(
            tokio::time::Instant::now() < until,
            "condition not met within {deadline:?}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// POSTs a GraphQL document to the server at `addr` and returns the whole JSON response.
pub async fn graphql_at(addr: &str, token: Option<&str>, query: &str, variables: Value) -> Value {
    let mut request = reqwest::Client::new().post(format!("http://{addr}/graphql"));
    if let Some(token) = token {
        request = request.bearer_auth(token);
    }
    request
        .json(&json!({"query": query, "variables": variables}))
        .send()
        .await
        .expect("graphql request")
        .json()
        .await
        .expect("graphql response is JSON")
}

/// A signed-in member.
#[derive(Clone, Debug)]
pub struct Session {
    pub token: String,
    pub member_id: String,
    pub workspace_id: String,
}

/// The `extensions.code` of a GraphQL response's first error.
pub fn error_code(response: &Value) -> Option<&str> {
    response["errors"][0]["extensions"]["code"].as_str()
}

impl TestApp {
    /// Signs up a new workspace owned by `email`.
    pub async fn sign_up(&self, workspace: &str, email: &str) -> Session {
        let response = self
            .graphql(
                "mutation($input: SignUpInput!) { signUp(input: $input) {
                    token member { id } workspace { id } } }",
                json!({"input": {"workspaceName": workspace, "name": "Owner", "email": email,
                                  "password": "correct horse battery"}}),
            )
            .await;
        let payload = &response["data"]["signUp"];
        assert!(payload.is_object(), "signUp failed: {response}");
        Session {
            token: payload["token"].as_str().unwrap().to_owned(),
            member_id: payload["member"]["id"].as_str().unwrap().to_owned(),
            workspace_id: payload["workspace"]["id"].as_str().unwrap().to_owned(),
        }
    }

    /// Adds a member with `role` to the session's workspace and signs them in.
    pub async fn add_member(&self, owner: &Session, email: &str, role: &str) -> Session {
        let added = self
            .graphql_as(
                &owner.token,
                "mutation($input: AddMemberInput!) { addMember(input: $input) { id } }",
                json!({"input": {"email": email, "name": "Teammate", "role": role,
                                  "password": "teammate password"}}),
            )
            .await;
        assert!(added["data"]["addMember"].is_object(), "{added}");
        let login = self
            .graphql(
                "mutation($input: LoginInput!) { login(input: $input) {
                    token member { id } workspace { id } } }",
                json!({"input": {"email": email, "password": "teammate password"}}),
            )
            .await;
        let payload = &login["data"]["login"];
        assert!(payload.is_object(), "{login}");
        Session {
            token: payload["token"].as_str().unwrap().to_owned(),
            member_id: payload["member"]["id"].as_str().unwrap().to_owned(),
            workspace_id: payload["workspace"]["id"].as_str().unwrap().to_owned(),
        }
    }

    /// Creates an API key for the session's member with scopes in their REST spelling
    /// (`messages:send`); returns (key id, secret).
    pub async fn create_key(
        &self,
        session: &Session,
        scopes: &[&str],
        rate_limit_per_minute: Option<i32>,
    ) -> (String, String) {
        let scopes: Vec<String> = scopes
            .iter()
            .map(|scope| scope.replace(':', "_").to_uppercase())
            .collect();
        let response = self
            .graphql_as(
                &session.token,
                "mutation($input: CreateApiKeyInput!) { createApiKey(input: $input) {
                    apiKey { id } secret } }",
                json!({"input": {"name": "automation", "scopes": scopes,
                                  "rateLimitPerMinute": rate_limit_per_minute}}),
            )
            .await;
        let payload = &response["data"]["createApiKey"];
        assert!(payload.is_object(), "createApiKey failed: {response}");
        (
            payload["apiKey"]["id"].as_str().unwrap().to_owned(),
            payload["secret"].as_str().unwrap().to_owned(),
        )
    }
}

/// A real `parley` process, with its standard output and error merged into `lines`.
pub struct ParleyProcess {
    pub child: tokio::process::Child,
    pub addr: String,
    /// Every line printed so far, up to and including the "listening" line.
    pub printed: Vec<String>,
    pub lines: tokio::sync::mpsc::UnboundedReceiver<String>,
}

impl ParleyProcess {
    /// Runs `parley <args>` on `db` (listening on a free port) and waits until it listens.
    pub async fn start(db: &TestDb, args: &[&str], env: &[(&str, &str)]) -> Self {
        use tokio::io::{AsyncBufReadExt, AsyncRead, BufReader};
        let mut child = tokio::process::Command::new(env!("CARGO_BIN_EXE_parley"))
            .args(args)
            .env("PARLEY_DATABASE_URL", &db.url)
            .env("PARLEY_LISTEN", "127.0.0.1:0")
            .env("RUST_LOG", "info")
            .env("NO_COLOR", "1")
            .envs(env.iter().copied())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .expect("parley binary starts");
        let (sender, mut lines) = tokio::sync::mpsc::unbounded_channel::<String>();
        let outputs: [Box<dyn AsyncRead + Unpin + Send>; 2] = [
            Box::new(child.stdout.take().unwrap()),
            Box::new(child.stderr.take().unwrap()),
        ];
        for output in outputs {
            let sender = sender.clone();
            tokio::spawn(async move {
                let mut output = BufReader::new(output).lines();
                while let Ok(Some(line)) = output.next_line().await {
                    sender.send(line).ok();
                }
            });
        }
        let mut printed = Vec::new();
        let addr = tokio::time::timeout(Duration::from_secs(30), async {
            while let Some(line) = lines.recv().await {
                printed.push(line.clone());
                if let Some(rest) = line.split("listening on http://").nth(1) {
                    return rest.split_whitespace().next().unwrap().to_owned();
                }
            }
            panic!("parley exited before listening: {printed:#?}");
        })
        .await
        .expect("parley listens within 30 s");
        Self {
            child,
            addr,
            printed,
            lines,
        }
    }

    /// Waits for the next printed line containing `needle`, keeping what it reads.
    pub async fn wait_for_line(&mut self, needle: &str) -> String {
        tokio::time::timeout(Duration::from_secs(30), async {
            while let Some(line) = self.lines.recv().await {
                self.printed.push(line.clone());
                if line.contains(needle) {
                    return line;
                }
            }
            panic!("parley never printed {needle:?}");
        })
        .await
        .expect("the line arrives within 30 s")
    }

    /// SIGKILL: the process dies where it stands, as in a crash.
    pub async fn kill(mut self) {
        self.child.start_kill().expect("parley can be killed");
        tokio::time::timeout(Duration::from_secs(10), self.child.wait())
            .await
            .expect("parley dies")
            .unwrap();
    }

    pub fn sigterm(&self) {
        let pid = self.child.id().expect("still running").to_string();
        let sent = std::process::Command::new("kill")
            .args(["-TERM", &pid])
            .status()
            .unwrap();
        assert!(sent.success());
    }

    /// Sends SIGTERM, waits for the exit, and returns everything the process printed.
    pub async fn stop(self) -> (std::process::ExitStatus, String) {
        self.sigterm();
        self.stop_after_signal().await
    }

    /// Waits for the exit of a process already signalled.
    pub async fn stop_after_signal(mut self) -> (std::process::ExitStatus, String) {
        let status = tokio::time::timeout(Duration::from_secs(15), self.child.wait())
            .await
            .expect("parley exits after SIGTERM")
            .unwrap();
        while let Some(line) = self.lines.recv().await {
            self.printed.push(line);
        }
        (status, self.printed.join("\n"))
    }
}

impl TestApp {
    /// POSTs a JSON body to a REST path with a bearer token and extra headers; returns the status
    /// and the JSON body.
    pub async fn rest_post(
        &self,
        path: &str,
        token: &str,
        headers: &[(&str, &str)],
        body: &Value,
    ) -> (u16, Value) {
        let mut request = self
            .client
            .post(self.url(path))
            .bearer_auth(token)
            .json(body);
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        let response = request.send().await.expect("REST request");
        let status = response.status().as_u16();
        (status, response.json().await.unwrap_or(Value::Null))
    }

    /// Connects a sandbox sender owned by the session's member; returns its id.
    pub async fn sandbox_sender(&self, session: &Session, number: &str) -> String {
        let response = self
            .graphql_as(
                &session.token,
                "mutation($input: ConnectSenderInput!) { connectSender(input: $input) { id } }",
                json!({"input": {"kind": "SANDBOX", "phoneNumber": number, "name": "Sandbox"}}),
            )
            .await;
        response["data"]["connectSender"]["id"]
            .as_str()
            .unwrap_or_else(|| panic!("connectSender failed: {response}"))
            .to_owned()
    }
}
