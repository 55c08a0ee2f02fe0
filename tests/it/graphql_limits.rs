//! The GraphQL limits: depth, complexity (aliases count), directives, batch size, query size, the
//! per-request timeout, and introspection and suggestions turned off — each refused with a clear
//! `extensions.code`, never a 500, over POST and over the websocket alike.

use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use serde_json::{Value, json};
use tokio_tungstenite::tungstenite::Message;

use crate::helpers::{TestApp, error_code};

/// POSTs a raw JSON body to `/graphql` and returns the status and the JSON response.
async fn post(app: &TestApp, token: Option<&str>, body: Value) -> (u16, Value) {
    let mut request = app.client.post(app.url("/graphql")).json(&body);
    if let Some(token) = token {
        request = request.bearer_auth(token);
    }
    let response = request.send().await.expect("graphql request");
    let status = response.status().as_u16();
    (status, response.json().await.expect("a JSON response"))
}

async fn query(app: &TestApp, token: Option<&str>, query: &str) -> (u16, Value) {
    post(app, token, json!({"query": query})).await
}

/// `message { conversation { lastMessage { conversation { … } } } }`, `levels` selections deep.
fn nested(levels: usize) -> String {
    let mut query = String::from("{ message(id: \"x\") { ");
    for level in 0..levels {
        query.push_str(if level % 2 == 0 {
            "conversation { "
        } else {
            "lastMessage { "
        });
    }
    query.push_str("id ");
    query.push_str(&"} ".repeat(levels + 2));
    query
}

/// `count` aliases of `viewer { member { id } }` (each counts 3 towards the complexity).
fn aliased_viewers(count: usize) -> String {
    let fields: String = (0..count)
        .map(|i| format!("v{i}: viewer {{ member {{ id }} }} "))
        .collect();
    format!("{{ {fields}}}")
}

#[tokio::test]
async fn a_query_nested_deeper_than_the_limit_is_refused() {
    let app = TestApp::spawn().await;
    let (status, response) = query(&app, None, &nested(20)).await;
    assert_eq!(status, 200, "{response}");
    assert_eq!(error_code(&response), Some("query_too_deep"), "{response}");
    assert!(response["data"].is_null(), "{response}");

    // Within the limit it is validated and run (and refused for want of a token, not its depth).
    let (_, response) = query(&app, None, &nested(8)).await;
    assert_ne!(error_code(&response), Some("query_too_deep"), "{response}");
}

#[tokio::test]
async fn nesting_past_the_parser_is_refused_and_the_server_stays_up() {
    let app = TestApp::spawn().await;
    // Well within the size limit, but far deeper than anything the parser descends into.
    let braces = 10_000;
    let document = format!("{}{}", "{a".repeat(braces), "}".repeat(braces));
    let (status, response) = query(&app, None, &document).await;
    assert_eq!(status, 200, "{response}");
    assert_eq!(error_code(&response), Some("query_too_deep"), "{response}");
    // Deep list values in arguments, too.
    let document = format!(
        "{{ contacts(search: {}1{}) {{ edges {{ cursor }} }} }}",
        "[".repeat(10_000),
        "]".repeat(10_000)
    );
    let (status, response) = query(&app, None, &document).await;
    assert_eq!(status, 200, "{response}");
    assert!(error_code(&response).is_some(), "{response}");
    let (_, response) = query(&app, None, "{ __typename }").await;
    assert_eq!(response["data"]["__typename"], "Query");
}

#[tokio::test]
async fn aliases_count_towards_the_complexity() {
    let app = TestApp::spawn_with(|config| config.graphql_max_complexity = 30).await;
    let owner = app.sign_up("Acme", "owner@acme.test").await;
    // 10 aliased viewers are 30: at the limit, they run.
    let (_, response) = query(&app, Some(&owner.token), &aliased_viewers(10)).await;
    assert!(response["errors"].is_null(), "{response}");
    assert_eq!(response["data"]["v9"]["member"]["id"], owner.member_id);
    // One more alias of the same field goes over it.
    let (status, response) = query(&app, Some(&owner.token), &aliased_viewers(11)).await;
    assert_eq!(status, 200);
    assert_eq!(
        error_code(&response),
        Some("query_too_complex"),
        "{response}"
    );
    assert!(response["data"].is_null(), "{response}");
}

#[tokio::test]
async fn a_list_counts_by_its_page_size() {
    let app = TestApp::spawn().await;
    let owner = app.sign_up("Acme", "owner@acme.test").await;
    // 100 contacts × (edges, node, id, phone, name, tags, ...) goes over 5000 by aliasing a few.
    let page =
        "contacts(first: 100) { edges { node { id phone name tags waId lastMessageAt } cursor } }";
    let document = format!("{{ a: {page} b: {page} c: {page} d: {page} e: {page} f: {page} }}");
    let (_, response) = query(&app, Some(&owner.token), &document).await;
    assert_eq!(
        error_code(&response),
        Some("query_too_complex"),
        "{response}"
    );
    let (_, response) = query(&app, Some(&owner.token), &format!("{{ {page} }}")).await;
    assert!(response["errors"].is_null(), "{response}");
}

#[tokio::test]
async fn too_many_directives_are_refused_wherever_they_stand() {
    let app = TestApp::spawn_with(|config| config.graphql_max_directives = 5).await;
    let five = "@include(if: true) ".repeat(5);
    let (_, response) = query(&app, None, &format!("{{ __typename {five} }}")).await;
    assert!(response["errors"].is_null(), "{response}");
    assert_eq!(response["data"]["__typename"], "Query");

    let six = "@include(if: true) ".repeat(6);
    let (status, response) = query(&app, None, &format!("{{ __typename {six} }}")).await;
    assert_eq!(status, 200);
    assert_eq!(
        error_code(&response),
        Some("too_many_directives"),
        "{response}"
    );
    // Spread over fragments and their spreads: async-graphql's own per-field limit misses these.
    let document = format!(
        "{{ ...F {five} ... on Query {five} {{ __typename }} }} fragment F on Query {{ __typename }}"
    );
    let (_, response) = query(&app, None, &document).await;
    assert_eq!(
        error_code(&response),
        Some("too_many_directives"),
        "{response}"
    );
}

#[tokio::test]
async fn a_batch_larger_than_the_cap_is_refused_whole() {
    let app = TestApp::spawn_with(|config| config.graphql_max_batch = 3).await;
    let operation = json!({"query": "{ __typename }"});
    let (status, response) = post(&app, None, json!([operation, operation, operation])).await;
    assert_eq!(status, 200, "{response}");
    let answers = response.as_array().expect("a batch answers with an array");
    assert_eq!(answers.len(), 3);
    assert!(answers.iter().all(|a| a["data"]["__typename"] == "Query"));

    let (status, response) = post(&app, None, Value::Array(vec![operation; 4])).await;
    assert_eq!(status, 400, "{response}");
    assert_eq!(error_code(&response), Some("batch_too_large"), "{response}");
    // An empty batch is no operation.
    let (status, response) = post(&app, None, json!([])).await;
    assert!(status < 500, "{response}");
    assert!(error_code(&response).is_some(), "{response}");
}

#[tokio::test]
async fn every_operation_of_a_batch_is_held_to_the_limits() {
    let app = TestApp::spawn().await;
    let (_, response) = post(
        &app,
        None,
        json!([{"query": "{ __typename }"}, {"query": nested(20)}]),
    )
    .await;
    assert_eq!(response[0]["data"]["__typename"], "Query", "{response}");
    assert_eq!(
        response[1]["errors"][0]["extensions"]["code"],
        "query_too_deep"
    );
}

#[tokio::test]
async fn a_query_longer_than_the_limit_is_refused_before_it_is_parsed() {
    let app = TestApp::spawn_with(|config| config.graphql_max_query_bytes = 1024).await;
    let padded = format!("{{ __typename }} # {}", "x".repeat(1100));
    let (status, response) = query(&app, None, &padded).await;
    assert_eq!(status, 200);
    assert_eq!(error_code(&response), Some("query_too_large"), "{response}");
    let (_, response) = query(&app, None, "{ __typename }").await;
    assert_eq!(response["data"]["__typename"], "Query");
}

#[tokio::test]
async fn an_operation_that_runs_past_the_timeout_is_cut_off() {
    // Password checks take tens of milliseconds: a login cannot finish within one.
    let app = TestApp::spawn_with(|config| config.graphql_timeout_ms = 1).await;
    let (status, response) = query(
        &app,
        None,
        r#"mutation { login(input: {email: "nobody@acme.test", password: "wrong password"}) { token } }"#,
    )
    .await;
    assert_eq!(status, 200, "{response}");
    assert_eq!(error_code(&response), Some("timeout"), "{response}");
    assert!(response["data"].is_null(), "{response}");
    // The server goes on answering.
    let (_, response) = query(&app, None, "{ __typename }").await;
    assert_eq!(response["data"]["__typename"], "Query");
}

#[tokio::test]
async fn introspection_and_suggestions_are_on_by_default_for_graphiql() {
    let app = TestApp::spawn().await;
    let (_, response) = query(&app, None, "{ __schema { queryType { name } } }").await;
    assert_eq!(response["data"]["__schema"]["queryType"]["name"], "Query");
    let (_, response) = query(&app, None, "{ viewr { id } }").await;
    assert_eq!(error_code(&response), Some("graphql_validation_failed"));
    let message = response["errors"][0]["message"].as_str().unwrap();
    assert!(message.contains("Did you mean"), "{message}");
}

#[tokio::test]
async fn introspection_and_suggestions_can_be_turned_off() {
    let app = TestApp::spawn_with(|config| {
        config.graphql_introspection = false;
        config.graphql_suggestions = false;
    })
    .await;
    for document in [
        "{ __schema { queryType { name } } }",
        "{ __type(name: \"Query\") { name } }",
        "query { ...F } fragment F on Query { __schema { types { name } } }",
    ] {
        let (status, response) = query(&app, None, document).await;
        assert_eq!(status, 200);
        assert_eq!(
            error_code(&response),
            Some("introspection_disabled"),
            "{document}: {response}"
        );
        assert!(response["data"].is_null(), "{response}");
    }
    // `__typename` is not introspection: clients rely on it.
    let (_, response) = query(&app, None, "{ __typename }").await;
    assert_eq!(response["data"]["__typename"], "Query");
    let (_, response) = query(&app, None, "{ viewr { id } }").await;
    assert_eq!(error_code(&response), Some("graphql_validation_failed"));
    let message = response["errors"][0]["message"].as_str().unwrap();
    assert!(!message.contains("Did you mean"), "{message}");
    assert!(!message.contains("viewer"), "{message}");
}

#[tokio::test]
async fn malformed_documents_get_a_code_not_a_500() {
    let app = TestApp::spawn().await;
    for (document, code) in [
        ("{ viewer { id ", "graphql_parse_failed"),
        ("", "graphql_parse_failed"),
        (
            "query A { __typename } query A { __typename }",
            "graphql_parse_failed",
        ),
        ("{ viewer }", "graphql_validation_failed"),
        ("{ viewer(nope: 1) { id } }", "graphql_validation_failed"),
    ] {
        let (status, response) = query(&app, None, document).await;
        assert_eq!(status, 200, "{document}: {response}");
        assert_eq!(error_code(&response), Some(code), "{document}: {response}");
    }
    for body in [json!({"query": 5}), json!("text"), json!(7)] {
        let (status, response) = post(&app, None, body.clone()).await;
        assert_eq!(status, 400, "{body}: {response}");
        assert_eq!(error_code(&response), Some("invalid_request"), "{response}");
    }
}

type Socket =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

/// The next text message, within 5 s.
async fn next_text(socket: &mut Socket) -> Value {
    loop {
        let message = tokio::time::timeout(Duration::from_secs(5), socket.next())
            .await
            .expect("an answer within 5 s")
            .expect("socket open")
            .expect("socket readable");
        if let Message::Text(text) = message {
            return serde_json::from_str(&text).unwrap();
        }
    }
}

/// Opens a graphql-transport-ws connection, subscribes with `document` and returns the first
/// message for it.
async fn over_websocket(app: &TestApp, document: &str) -> Value {
    let mut socket = app.websocket().await;
    let init = json!({"type": "connection_init"});
    socket.send(Message::text(init.to_string())).await.unwrap();
    assert_eq!(next_text(&mut socket).await["type"], "connection_ack");
    let subscribe = json!({"id": "1", "type": "subscribe", "payload": {"query": document}});
    socket
        .send(Message::text(subscribe.to_string()))
        .await
        .unwrap();
    next_text(&mut socket).await
}

#[tokio::test]
async fn subscriptions_over_the_websocket_are_held_to_the_same_limits() {
    let app = TestApp::spawn_with(|config| {
        config.graphql_max_complexity = 20;
        config.graphql_max_directives = 2;
        config.graphql_max_query_bytes = 2048;
        config.graphql_introspection = false;
    })
    .await;
    let subscription = "messageReceived { id conversation { id contact { id name phone } } }";
    let cases = [
        (
            "subscription { a: messageReceived { id } }".to_owned(),
            None,
        ),
        (
            format!(
                "subscription {{ {} }}",
                (0..12)
                    .map(|i| format!("m{i}: {subscription} "))
                    .collect::<String>()
            ),
            Some("query_too_complex"),
        ),
        (
            "subscription { messageReceived @include(if: true) @include(if: true) @skip(if: false) { id } }"
                .to_owned(),
            Some("too_many_directives"),
        ),
        (
            format!("subscription {{ messageReceived {{ id }} }} # {}", "x".repeat(2048)),
            Some("query_too_large"),
        ),
        (
            "{ __schema { types { name } } }".to_owned(),
            Some("introspection_disabled"),
        ),
        (nested(15), Some("query_too_deep")),
    ];
    for (document, code) in cases {
        let message = over_websocket(&app, &document).await;
        match code {
            Some(code) => {
                assert_eq!(message["type"], "error", "{document}: {message}");
                assert_eq!(
                    message["payload"][0]["extensions"]["code"], code,
                    "{message}"
                );
            }
            // Within the limits the subscription starts: an anonymous one is refused by the
            // resolver, not by a limit.
            None => {
                let code = message["payload"][0]["extensions"]["code"]
                    .as_str()
                    .or(message["payload"]["errors"][0]["extensions"]["code"].as_str());
                assert_eq!(code, Some("missing_bearer_token"), "{message}");
            }
        }
    }
}
