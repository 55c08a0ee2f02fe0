//! Identity: sign-up, login, roles, API keys and scopes, and every authentication failure code
//! over GraphQL and REST.

use chrono::Utc;
use jsonwebtoken::{EncodingKey, Header};
use serde_json::{Value, json};

use crate::helpers::{TestApp, error_code};

const VIEWER: &str = "{ viewer { member { id email role } workspace { id name } } }";
const CONNECT_SANDBOX: &str = "mutation($input: ConnectSenderInput!) {
    connectSender(input: $input) { id kind phoneNumber } }";
const JWT_SECRET: &str = "a-test-jwt-secret-of-at-least-32-bytes";

fn sandbox(number: &str) -> Value {
    json!({"input": {"kind": "SANDBOX", "phoneNumber": number, "name": "Sales"}})
}

fn expired_token(member_id: &str, workspace_id: &str) -> String {
    let now = Utc::now().timestamp();
    let claims =
        json!({"sub": member_id, "ws": workspace_id, "iat": now - 7200, "exp": now - 3600});
    jsonwebtoken::encode(
        &Header::default(),
        &claims,
        &EncodingKey::from_secret(JWT_SECRET.as_bytes()),
    )
    .unwrap()
}

#[tokio::test]
async fn sign_up_and_login_issue_working_tokens() {
    let app = TestApp::spawn().await;
    let owner = app.sign_up("Acme", "Ada@Example.com").await;
    let viewer = app.graphql_as(&owner.token, VIEWER, json!({})).await;
    assert_eq!(
        viewer["data"]["viewer"]["member"]["email"],
        "ada@example.com"
    );
    assert_eq!(viewer["data"]["viewer"]["member"]["role"], "OWNER");
    assert_eq!(viewer["data"]["viewer"]["workspace"]["name"], "Acme");

    let login = "mutation($input: LoginInput!) { login(input: $input) { token } }";
    let ok = app
        .graphql(
            login,
            json!({"input": {"email": "ada@example.com", "password": "correct horse battery"}}),
        )
        .await;
    let token = ok["data"]["login"]["token"].as_str().expect("a token");
    let viewer = app.graphql_as(token, VIEWER, json!({})).await;
    assert_eq!(
        viewer["data"]["viewer"]["member"]["id"],
        owner.member_id.as_str()
    );

    for (email, password) in [
        ("ada@example.com", "wrong password"),
        ("nobody@example.com", "correct horse battery"),
    ] {
        let denied = app
            .graphql(
                login,
                json!({"input": {"email": email, "password": password}}),
            )
            .await;
        assert_eq!(error_code(&denied), Some("invalid_credentials"), "{denied}");
    }

    let taken = app
        .graphql(
            "mutation($input: SignUpInput!) { signUp(input: $input) { token } }",
            json!({"input": {"workspaceName": "Again", "name": "Ada", "email": "ADA@example.com",
                              "password": "another password"}}),
        )
        .await;
    assert_eq!(error_code(&taken), Some("invalid_request"), "{taken}");
}

#[tokio::test]
async fn bad_sign_up_input_is_refused_clearly() {
    let app = TestApp::spawn().await;
    let sign_up = "mutation($input: SignUpInput!) { signUp(input: $input) { token } }";
    for (email, password, workspace) in [
        ("not-an-email", "long enough", "Acme"),
        ("ada@example.com", "short", "Acme"),
        ("ada@example.com", "long enough", "   "),
        ("ada@example.com", &"x".repeat(300), "Acme"),
    ] {
        let response = app
            .graphql(
                sign_up,
                json!({"input": {"workspaceName": workspace, "name": "Ada", "email": email,
                                  "password": password}}),
            )
            .await;
        assert_eq!(error_code(&response), Some("invalid_request"), "{response}");
    }
}

#[tokio::test]
async fn sign_up_can_be_closed() {
    let app =
        TestApp::spawn_with(|config| config.signup = parley::config::SignupMode::Closed).await;
    let response = app
        .graphql(
            "mutation($input: SignUpInput!) { signUp(input: $input) { token } }",
            json!({"input": {"workspaceName": "Acme", "name": "Ada", "email": "ada@example.com",
                              "password": "correct horse battery"}}),
        )
        .await;
    assert_eq!(error_code(&response), Some("signup_closed"), "{response}");
}

#[tokio::test]
async fn every_auth_failure_has_its_code_over_graphql_and_rest() {
    let app = TestApp::spawn_with(|config| config.jwt_secret = Some(JWT_SECRET.into())).await;
    let owner = app.sign_up("Acme", "ada@example.com").await;
    let (key_id, revoked_key) = app.create_key(&owner, &["messages:read"], None).await;
    app.graphql_as(
        &owner.token,
        "mutation($id: ID!) { revokeApiKey(id: $id) { revokedAt } }",
        json!({"id": key_id}),
    )
    .await;
    let (_, contacts_only) = app.create_key(&owner, &["contacts:read"], None).await;
    let rest_path = "/api/v1/messages/0190f2a0-0000-7000-8000-000000000000";

    // Missing token.
    let response = app.graphql(VIEWER, json!({})).await;
    assert_eq!(error_code(&response), Some("missing_bearer_token"));
    let (status, body) = app.rest_get(rest_path, None).await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (401, Some("missing_bearer_token"))
    );

    // Unknown, malformed, expired or revoked.
    let expired = expired_token(&owner.member_id, &owner.workspace_id);
    let forged = {
        let mut parts: Vec<&str> = owner.token.split('.').collect();
        parts[2] = "c2lnbmF0dXJl";
        parts.join(".")
    };
    let unknown_key = format!("pk_{}", "0".repeat(64));
    for token in [
        unknown_key.as_str(),
        "not-a-token",
        forged.as_str(),
        expired.as_str(),
        revoked_key.as_str(),
    ] {
        let response = app
            .client
            .post(app.url("/graphql"))
            .bearer_auth(token)
            .json(&json!({"query": VIEWER}))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 401, "{token}");
        let body: Value = response.json().await.unwrap();
        assert_eq!(
            error_code(&body),
            Some("invalid_bearer_token"),
            "{token}: {body}"
        );
        let (status, body) = app.rest_get(rest_path, Some(token)).await;
        assert_eq!(
            (status, body["error"]["code"].as_str()),
            (401, Some("invalid_bearer_token")),
            "{token}"
        );
    }
    for header in ["Basic YWRhOnB3", "Bearer", "Token abc"] {
        let response = app
            .client
            .get(app.url(rest_path))
            .header("authorization", header)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 401, "{header}");
        let body: Value = response.json().await.unwrap();
        assert_eq!(body["error"]["code"], "invalid_bearer_token");
    }

    // Lacking scope.
    let response = app
        .graphql_as(&contacts_only, CONNECT_SANDBOX, sandbox("+15550001"))
        .await;
    assert_eq!(
        error_code(&response),
        Some("insufficient_scope"),
        "{response}"
    );
    let (status, body) = app.rest_get(rest_path, Some(&contacts_only)).await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (403, Some("insufficient_scope"))
    );
    assert_eq!(body["error"]["status"], 403);
}

#[tokio::test]
async fn a_revoked_key_is_refused_on_its_next_request() {
    let app = TestApp::spawn().await;
    let owner = app.sign_up("Acme", "ada@example.com").await;
    let (key_id, key) = app.create_key(&owner, &["messages:read"], None).await;
    let path = "/api/v1/messages/0190f2a0-0000-7000-8000-000000000000";
    let (status, _) = app.rest_get(path, Some(&key)).await;
    assert_eq!(status, 404, "the key works before it is revoked");

    let revoked = app
        .graphql_as(
            &owner.token,
            "mutation($id: ID!) { revokeApiKey(id: $id) { id revokedAt } }",
            json!({"id": key_id}),
        )
        .await;
    assert!(
        revoked["data"]["revokeApiKey"]["revokedAt"].is_string(),
        "{revoked}"
    );
    let (status, body) = app.rest_get(path, Some(&key)).await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (401, Some("invalid_bearer_token"))
    );
}

#[tokio::test]
async fn a_members_key_cannot_exceed_the_members_role() {
    let app = TestApp::spawn().await;
    let owner = app.sign_up("Acme", "ada@example.com").await;
    let member = app.add_member(&owner, "bob@example.com", "MEMBER").await;
    let admin = app.add_member(&owner, "cy@example.com", "ADMIN").await;

    let (_, member_key) = app.create_key(&member, &["senders:manage"], None).await;
    let refused = app
        .graphql_as(&member_key, CONNECT_SANDBOX, sandbox("+15550001"))
        .await;
    assert_eq!(
        error_code(&refused),
        Some("insufficient_scope"),
        "{refused}"
    );
    let refused = app
        .graphql_as(&member.token, CONNECT_SANDBOX, sandbox("+15550001"))
        .await;
    assert_eq!(
        error_code(&refused),
        Some("insufficient_scope"),
        "{refused}"
    );

    let (_, admin_key) = app.create_key(&admin, &["senders:manage"], None).await;
    let connected = app
        .graphql_as(&admin_key, CONNECT_SANDBOX, sandbox("+15550001"))
        .await;
    assert_eq!(
        connected["data"]["connectSender"]["kind"], "SANDBOX",
        "{connected}"
    );
    assert_eq!(
        connected["data"]["connectSender"]["phoneNumber"],
        "+15550001"
    );

    // Demoting the admin takes the scope away from the key they already hold.
    let demoted = app
        .graphql_as(
            &owner.token,
            "mutation($id: ID!) { changeMemberRole(id: $id, role: MEMBER) { role } }",
            json!({"id": admin.member_id}),
        )
        .await;
    assert_eq!(
        demoted["data"]["changeMemberRole"]["role"], "MEMBER",
        "{demoted}"
    );
    let refused = app
        .graphql_as(&admin_key, CONNECT_SANDBOX, sandbox("+15550002"))
        .await;
    assert_eq!(
        error_code(&refused),
        Some("insufficient_scope"),
        "{refused}"
    );
}

#[tokio::test]
async fn keys_cannot_manage_keys_or_members() {
    let app = TestApp::spawn().await;
    let owner = app.sign_up("Acme", "ada@example.com").await;
    let (_, key) = app
        .create_key(&owner, &["senders:manage", "messages:send"], None)
        .await;
    let minted = app
        .graphql_as(
            &key,
            "mutation { createApiKey(input: {name: \"x\", scopes: [SENDERS_MANAGE]}) { secret } }",
            json!({}),
        )
        .await;
    assert_eq!(error_code(&minted), Some("forbidden"), "{minted}");
    let added = app
        .graphql_as(
            &key,
            "mutation { addMember(input: {email: \"e@example.com\", name: \"E\", role: OWNER,
                password: \"long enough\"}) { id } }",
            json!({}),
        )
        .await;
    assert_eq!(error_code(&added), Some("forbidden"), "{added}");
}

#[tokio::test]
async fn members_and_roles_are_managed_by_owners_and_admins() {
    let app = TestApp::spawn().await;
    let owner = app.sign_up("Acme", "ada@example.com").await;
    let admin = app.add_member(&owner, "cy@example.com", "ADMIN").await;
    let member = app.add_member(&admin, "bob@example.com", "MEMBER").await;

    // A member sees the workspace but manages nobody.
    let listed = app
        .graphql_as(
            &member.token,
            "{ members { edges { node { email role } } } }",
            json!({}),
        )
        .await;
    assert_eq!(
        listed["data"]["members"]["edges"].as_array().unwrap().len(),
        3
    );
    let add = "mutation($input: AddMemberInput!) { addMember(input: $input) { id } }";
    let refused = app
        .graphql_as(
            &member.token,
            add,
            json!({"input": {"email": "d@example.com", "name": "D", "role": "MEMBER",
                              "password": "long enough"}}),
        )
        .await;
    assert_eq!(error_code(&refused), Some("forbidden"), "{refused}");

    // Admins cannot create or touch owners; owners can.
    let refused = app
        .graphql_as(
            &admin.token,
            add,
            json!({"input": {"email": "d@example.com", "name": "D", "role": "OWNER",
                              "password": "long enough"}}),
        )
        .await;
    assert_eq!(error_code(&refused), Some("forbidden"), "{refused}");
    let change =
        "mutation($id: ID!, $role: Role!) { changeMemberRole(id: $id, role: $role) { role } }";
    let refused = app
        .graphql_as(
            &admin.token,
            change,
            json!({"id": owner.member_id, "role": "MEMBER"}),
        )
        .await;
    assert_eq!(error_code(&refused), Some("forbidden"), "{refused}");

    // The last owner stays an owner.
    let refused = app
        .graphql_as(
            &owner.token,
            change,
            json!({"id": owner.member_id, "role": "ADMIN"}),
        )
        .await;
    assert_eq!(error_code(&refused), Some("invalid_request"), "{refused}");

    // Removing a member ends their sessions.
    let removed = app
        .graphql_as(
            &admin.token,
            "mutation($id: ID!) { removeMember(id: $id) { email } }",
            json!({"id": member.member_id}),
        )
        .await;
    assert_eq!(
        removed["data"]["removeMember"]["email"], "bob@example.com",
        "{removed}"
    );
    let gone = app
        .client
        .post(app.url("/graphql"))
        .bearer_auth(&member.token)
        .json(&json!({"query": VIEWER}))
        .send()
        .await
        .unwrap();
    assert_eq!(gone.status(), 401);
}

#[tokio::test]
async fn members_see_only_their_own_keys_and_secrets_are_shown_once() {
    let app = TestApp::spawn().await;
    let owner = app.sign_up("Acme", "ada@example.com").await;
    let member = app.add_member(&owner, "bob@example.com", "MEMBER").await;
    let (owner_key, owner_secret) = app.create_key(&owner, &["messages:send"], None).await;
    let (member_key, _) = app.create_key(&member, &["messages:send"], None).await;

    let list = "{ apiKeys { edges { node { id prefix scopes revokedAt } } } }";
    let ids = |response: &Value| -> Vec<String> {
        response["data"]["apiKeys"]["edges"]
            .as_array()
            .unwrap()
            .iter()
            .map(|edge| edge["node"]["id"].as_str().unwrap().to_owned())
            .collect()
    };
    let owners_view = app.graphql_as(&owner.token, list, json!({})).await;
    assert_eq!(
        ids(&owners_view),
        vec![owner_key.clone(), member_key.clone()]
    );
    assert!(!owners_view.to_string().contains(&owner_secret[3..]));
    assert_eq!(
        owners_view["data"]["apiKeys"]["edges"][0]["node"]["scopes"],
        json!(["MESSAGES_SEND"])
    );
    let members_view = app.graphql_as(&member.token, list, json!({})).await;
    assert_eq!(ids(&members_view), vec![member_key]);

    let refused = app
        .graphql_as(
            &member.token,
            "mutation($id: ID!) { revokeApiKey(id: $id) { id } }",
            json!({"id": owner_key}),
        )
        .await;
    assert_eq!(error_code(&refused), Some("not_found"), "{refused}");
}

#[tokio::test]
async fn fifty_parallel_requests_against_a_limit_of_n_admit_exactly_n() {
    const LIMIT: usize = 7;
    let app = TestApp::spawn().await;
    let owner = app.sign_up("Acme", "ada@example.com").await;
    let (_, key) = app
        .create_key(&owner, &["messages:read"], Some(LIMIT as i32))
        .await;
    let path = app.url("/api/v1/messages/0190f2a0-0000-7000-8000-000000000000");
    let requests = (0..50).map(|_| {
        let (client, path, key) = (app.client.clone(), path.clone(), key.clone());
        tokio::spawn(async move { client.get(path).bearer_auth(key).send().await.unwrap() })
    });
    let responses = futures_util::future::join_all(requests).await;
    let mut admitted = 0;
    for response in responses {
        let response = response.unwrap();
        let headers = response.headers().clone();
        assert_eq!(headers["x-ratelimit-limit"], LIMIT.to_string());
        let reset: i64 = headers["x-ratelimit-reset"]
            .to_str()
            .unwrap()
            .parse()
            .unwrap();
        assert!(reset > Utc::now().timestamp() - 1 && reset <= Utc::now().timestamp() + 60);
        match response.status().as_u16() {
            404 => admitted += 1,
            429 => {
                let retry_after: u64 = headers["retry-after"].to_str().unwrap().parse().unwrap();
                assert!(retry_after <= 60);
                assert_eq!(headers["x-ratelimit-remaining"], "0");
                let body: Value = response.json().await.unwrap();
                assert_eq!(body["error"]["code"], "rate_limited");
            }
            other => panic!("unexpected status {other}"),
        }
    }
    assert_eq!(admitted, LIMIT);
}

#[tokio::test]
async fn member_sessions_are_not_rate_limited_but_keys_are_on_graphql_too() {
    let app = TestApp::spawn().await;
    let owner = app.sign_up("Acme", "ada@example.com").await;
    let (_, key) = app.create_key(&owner, &["messages:read"], Some(2)).await;
    for _ in 0..2 {
        let response = app.graphql_as(&key, VIEWER, json!({})).await;
        assert!(response["data"]["viewer"].is_object(), "{response}");
    }
    let limited = app
        .client
        .post(app.url("/graphql"))
        .bearer_auth(&key)
        .json(&json!({"query": VIEWER}))
        .send()
        .await
        .unwrap();
    assert_eq!(limited.status(), 429);
    assert!(limited.headers().contains_key("retry-after"));
    let body: Value = limited.json().await.unwrap();
    assert_eq!(error_code(&body), Some("rate_limited"));
    for _ in 0..5 {
        let response = app.graphql_as(&owner.token, VIEWER, json!({})).await;
        assert!(response["data"]["viewer"].is_object(), "{response}");
    }
}

#[tokio::test]
async fn bad_api_key_settings_are_refused() {
    let app = TestApp::spawn().await;
    let owner = app.sign_up("Acme", "ada@example.com").await;
    let create = "mutation($input: CreateApiKeyInput!) { createApiKey(input: $input) { secret } }";
    for input in [
        json!({"name": "x", "scopes": []}),
        json!({"name": "", "scopes": ["MESSAGES_SEND"]}),
        json!({"name": "x", "scopes": ["MESSAGES_SEND"], "rateLimitPerMinute": 0}),
    ] {
        let response = app
            .graphql_as(&owner.token, create, json!({"input": input}))
            .await;
        assert_eq!(error_code(&response), Some("invalid_request"), "{response}");
    }
}

async fn websocket_init(app: &TestApp, payload: Value) -> tokio_tungstenite::tungstenite::Message {
    use futures_util::{SinkExt, StreamExt};
    let mut socket = app.websocket().await;
    let init = json!({"type": "connection_init", "payload": payload});
    socket
        .send(tokio_tungstenite::tungstenite::Message::text(
            init.to_string(),
        ))
        .await
        .unwrap();
    socket.next().await.unwrap().unwrap()
}

#[tokio::test]
async fn websockets_authenticate_from_the_connection_init_payload() {
    use tokio_tungstenite::tungstenite::{Message, protocol::frame::coding::CloseCode};
    let app = TestApp::spawn().await;
    let owner = app.sign_up("Acme", "ada@example.com").await;

    let accepted = websocket_init(
        &app,
        json!({"authorization": format!("Bearer {}", owner.token)}),
    )
    .await;
    let accepted: Value = serde_json::from_str(accepted.to_text().unwrap()).unwrap();
    assert_eq!(accepted["type"], "connection_ack");

    let refused = websocket_init(&app, json!({"authorization": "Bearer pk_unknown"})).await;
    match refused {
        Message::Close(Some(frame)) => {
            assert_eq!(frame.code, CloseCode::from(4403));
            assert!(frame.reason.contains("bearer token"), "{}", frame.reason);
        }
        other => panic!("expected the socket to close, got {other:?}"),
    }
}
