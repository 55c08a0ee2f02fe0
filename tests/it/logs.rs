//! Secrets never reach the logs: a real `parley serve` at debug level is driven through sign-up,
//! login, key creation and use, and sender connection, and its whole output is searched.

use serde_json::{Value, json};

use crate::helpers::{ParleyProcess, TestDb, graphql_at};

#[tokio::test]
async fn secrets_never_appear_in_the_logs() {
    const JWT_SECRET: &str = "jwt-secret-that-must-never-be-logged-0001";
    const SECRET_KEY: &str = "sealing-key-that-must-never-be-logged-0002";
    const APP_SECRET: &str = "meta-app-secret-never-logged-0003";
    const PASSWORD: &str = "password-never-logged-0004";
    const ACCESS_TOKEN: &str = "EAAGmetaaccesstokenneverlogged0005";
    let db = TestDb::new().await;
    let env = [
        ("PARLEY_JWT_SECRET", JWT_SECRET),
        ("PARLEY_SECRET_KEY", SECRET_KEY),
        ("PARLEY_APP_SECRET", APP_SECRET),
        ("RUST_LOG", "debug"),
    ];
    let parley = ParleyProcess::start(&db, &["serve"], &env).await;
    let addr = parley.addr.clone();

    let graphql = |token: Option<String>, query: &'static str, variables: Value| {
        let addr = addr.clone();
        async move { graphql_at(&addr, token.as_deref(), query, variables).await }
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

    let (_, log) = parley.stop().await;
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
