//! Secrets never reach the logs: a real `parley serve` at debug level is driven through sign-up,
//! login, key creation and use, and sender connection, and its whole output is searched.

use std::{process::Stdio, time::Duration};

use serde_json::{Value, json};
use tokio::{
    io::{AsyncBufReadExt, BufReader},
    process::Command,
};

use crate::helpers::TestDb;

#[tokio::test]
async fn secrets_never_appear_in_the_logs() {
    const JWT_SECRET: &str = "jwt-secret-that-must-never-be-logged-0001";
    const SECRET_KEY: &str = "sealing-key-that-must-never-be-logged-0002";
    const APP_SECRET: &str = "meta-app-secret-never-logged-0003";
    const PASSWORD: &str = "password-never-logged-0004";
    const ACCESS_TOKEN: &str = "EAAGmetaaccesstokenneverlogged0005";
    let db = TestDb::new().await;
    let mut child = Command::new(env!("CARGO_BIN_EXE_parley"))
        .arg("serve")
        .env("PARLEY_DATABASE_URL", &db.url)
        .env("PARLEY_LISTEN", "127.0.0.1:0")
        .env("PARLEY_JWT_SECRET", JWT_SECRET)
        .env("PARLEY_SECRET_KEY", SECRET_KEY)
        .env("PARLEY_APP_SECRET", APP_SECRET)
        .env("RUST_LOG", "debug")
        .env("NO_COLOR", "1")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let (log_tx, mut log_rx) = tokio::sync::mpsc::unbounded_channel::<String>();
    for stream in [
        Box::new(child.stdout.take().unwrap()) as Box<dyn tokio::io::AsyncRead + Unpin + Send>,
        Box::new(child.stderr.take().unwrap()),
    ] {
        let log_tx = log_tx.clone();
        tokio::spawn(async move {
            let mut lines = BufReader::new(stream).lines();
            while let Ok(Some(line)) = lines.next_line().await {
                log_tx.send(line).ok();
            }
        });
    }
    drop(log_tx);
    let mut log = Vec::new();
    let addr = tokio::time::timeout(Duration::from_secs(30), async {
        while let Some(line) = log_rx.recv().await {
            log.push(line.clone());
            if let Some(rest) = line.split("listening on http://").nth(1) {
                return rest.split_whitespace().next().unwrap().to_owned();
            }
        }
        panic!("parley exited before listening: {log:?}");
    })
    .await
    .unwrap();

    let client = reqwest::Client::new();
    let graphql = |token: Option<String>, query: &'static str, variables: Value| {
        let mut request = client.post(format!("http://{addr}/graphql"));
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        async move {
            request
                .json(&json!({"query": query, "variables": variables}))
                .send()
                .await
                .unwrap()
                .json::<Value>()
                .await
                .unwrap()
        }
    };
    let signed_up = graphql(
        None,
        "mutation($i: SignUpInput!) { signUp(input: $i) { token } }",
        json!({"i": {"workspaceName": "Acme", "name": "Ada", "email": "ada@example.com", "password": PASSWORD}}),
    )
    .await;
    let token = signed_up["data"]["signUp"]["token"]
        .as_str()
        .unwrap()
        .to_owned();
    graphql(
        None,
        "mutation($i: LoginInput!) { login(input: $i) { token } }",
        json!({"i": {"email": "ada@example.com", "password": "a wrong password"}}),
    )
    .await;
    let key = graphql(
        Some(token.clone()),
        "mutation { createApiKey(input: {name: \"zap\", scopes: [SENDERS_MANAGE]}) { secret } }",
        json!({}),
    )
    .await;
    let key = key["data"]["createApiKey"]["secret"]
        .as_str()
        .unwrap()
        .to_owned();
    let connected = graphql(
        Some(key.clone()),
        "mutation($i: ConnectSenderInput!) { connectSender(input: $i) { id } }",
        json!({"i": {"kind": "CLOUD_API", "phoneNumber": "+15550001", "phoneNumberId": "1234",
                      "accessToken": ACCESS_TOKEN, "name": "Sales"}}),
    )
    .await;
    assert!(
        connected["data"]["connectSender"].is_object(),
        "{connected}"
    );
    graphql(
        Some(format!("{key}x")),
        "{ viewer { member { id } } }",
        json!({}),
    )
    .await;

    // Let the last request's log lines arrive, then stop the server and drain its output.
    let pid = child.id().unwrap().to_string();
    std::process::Command::new("kill")
        .args(["-TERM", &pid])
        .status()
        .unwrap();
    tokio::time::timeout(Duration::from_secs(10), child.wait())
        .await
        .expect("parley stops on SIGTERM")
        .unwrap();
    while let Some(line) = log_rx.recv().await {
        log.push(line);
    }
    let log = log.join("\n");
    assert!(log.contains("/graphql"), "the run was logged at all: {log}");
    for secret in [
        JWT_SECRET,
        SECRET_KEY,
        APP_SECRET,
        PASSWORD,
        ACCESS_TOKEN,
        &token,
        &key,
        &key[3..],
    ] {
        assert!(!log.contains(secret), "a secret reached the logs: {secret}");
    }
}
