//! `schema.graphql` and `openapi.json` describe the API the server runs.

#[test]
fn schema_graphql_is_in_sync() {
    let checked_in =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/schema.graphql"))
            .expect("schema.graphql exists");
    assert!(
        checked_in == parley::graphql::sdl(),
        "schema.graphql is stale: run `cargo run -- schema > schema.graphql`"
    );
}

#[test]
fn openapi_json_is_in_sync() {
    let checked_in = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/openapi.json"))
        .expect("openapi.json exists");
    assert!(
        checked_in == parley::rest::openapi_text(),
        "openapi.json is stale: run `cargo run -- openapi > openapi.json`"
    );
}

#[tokio::test]
async fn the_served_openapi_document_covers_every_api_route() {
    let app = crate::helpers::TestApp::spawn().await;
    let served: serde_json::Value = app
        .client
        .get(app.url("/openapi.json"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(served["openapi"], "3.1.0");
    let paths: Vec<&String> = served["paths"].as_object().unwrap().keys().collect();
    for route in [
        "/api/v1/messages/send",
        "/api/v1/messages",
        "/api/v1/messages/{send_attempt_id}",
    ] {
        assert!(
            paths.iter().any(|path| *path == route),
            "{route} in {paths:?}"
        );
    }
}
