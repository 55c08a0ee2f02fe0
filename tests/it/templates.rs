//! Message templates: `syncTemplates` reads every page of the Business Account's templates from
//! the (fake) Graph API, `templates` lists them, template sends on every surface are checked
//! against them, and Meta's `message_template_status_update` webhook changes the stored status.

use serde_json::{Value, json};

use crate::{
    fake_graph::FakeGraph,
    helpers::{Session, TestApp, error_code},
    webhooks::{APP_SECRET, deliver},
};

const WABA_ID: &str = "102290129340398";
const PHONE_NUMBER_ID: &str = "106540352242922";
const TOKEN: &str = "EAAG-template-token";
const SEND_A: &str = "/api/v1/messages/send";
const SEND_B: &str = "/api/v1/messages";

/// Meta's template objects, as `GET /{waba_id}/message_templates` returns them.
fn meta_templates() -> Vec<Value> {
    vec![
        json!({"name": "order_update", "language": "en_US", "status": "APPROVED",
               "category": "UTILITY", "id": "1001",
               "components": [
                   {"type": "HEADER", "format": "IMAGE",
                    "example": {"header_handle": ["https://scontent.example/h.jpg"]}},
                   {"type": "BODY", "text": "Order {{1}} ships {{2}}.",
                    "example": {"body_text": [["A1", "today"]]}},
                   {"type": "BUTTONS", "buttons": [
                       {"type": "URL", "text": "Track", "url": "https://shop.example/t/{{1}}",
                        "example": ["https://shop.example/t/A1"]},
                       {"type": "QUICK_REPLY", "text": "Stop"}]}]}),
        json!({"name": "order_update", "language": "de", "status": "APPROVED",
               "category": "UTILITY", "id": "1002", "parameter_format": "NAMED",
               "components": [
                   {"type": "HEADER", "format": "TEXT", "text": "Hallo {{first_name}}",
                    "example": {"header_text_named_params": [{"param_name": "first_name", "example": "Ada"}]}},
                   {"type": "BODY", "text": "Bestellung {{order_id}} ist unterwegs.",
                    "example": {"body_text_named_params": [{"param_name": "order_id", "example": "7"}]}}]}),
        json!({"name": "invoice", "language": "en_US", "status": "APPROVED",
               "category": "UTILITY", "id": "1003",
               "components": [
                   {"type": "HEADER", "format": "DOCUMENT"},
                   {"type": "BODY", "text": "Your invoice is attached."}]}),
        json!({"name": "promo", "language": "en_US", "status": "PAUSED",
               "category": "MARKETING", "id": "1004",
               "components": [{"type": "BODY", "text": "20% off"}]}),
        json!({"name": "hello_world", "language": "en_US", "status": "APPROVED",
               "category": "UTILITY", "id": "1005",
               "components": [{"type": "BODY", "text": "Hello World"}]}),
    ]
}

async fn app_with(fake: &FakeGraph) -> TestApp {
    let url = fake.base_url();
    TestApp::spawn_with(move |config| {
        config.graph_api_url = url;
        config.app_secret = Some(APP_SECRET.into());
    })
    .await
}

/// An owner with a Cloud API sender on the fake's Business Account; returns the sender id.
async fn cloud_sender(app: &TestApp, owner: &Session) -> String {
    let connected = app
        .graphql_as(
            &owner.token,
            "mutation($input: ConnectSenderInput!) { connectSender(input: $input) { id } }",
            json!({"input": {"kind": "CLOUD_API", "phoneNumber": "+15550001",
                             "phoneNumberId": PHONE_NUMBER_ID, "wabaId": WABA_ID,
                             "accessToken": TOKEN, "name": "Sales"}}),
        )
        .await;
    connected["data"]["connectSender"]["id"]
        .as_str()
        .unwrap_or_else(|| panic!("{connected}"))
        .to_owned()
}

const SYNC: &str = "mutation($id: ID!) { syncTemplates(senderId: $id) { name language status statusReason category components } }";
const LIST: &str =
    "query($id: ID!) { templates(senderId: $id) { name language status statusReason } }";

fn template(name: &str, language: &str, components: Value) -> Value {
    json!({"name": name, "language": {"code": language}, "components": components})
}

/// Sends `template` on all three surfaces; returns each answer's error code and message (or
/// `None` when it was queued).
async fn send_everywhere(
    app: &TestApp,
    owner: &Session,
    template: &Value,
) -> Vec<Option<(String, String)>> {
    let mut outcomes = Vec::new();
    let shape_a = json!({"to": "+14155550123", "type": "template", "template": template});
    let shape_b = json!({"to": "+14155550123", "type": "template", "template": template});
    for (path, body) in [(SEND_A, shape_a), (SEND_B, shape_b)] {
        let (status, answer) = app.rest_post(path, &owner.token, &[], &body).await;
        outcomes.push(if status < 300 {
            None
        } else {
            Some((
                answer["error"]["code"]
                    .as_str()
                    .unwrap_or_default()
                    .to_owned(),
                answer["error"]["message"]
                    .as_str()
                    .unwrap_or_default()
                    .to_owned(),
            ))
        });
    }
    let input = json!({"to": "+14155550123", "type": "TEMPLATE", "template": {
        "name": template["name"], "languageCode": template["language"]["code"],
        "components": template["components"]}});
    let response = app
        .graphql_as(
            &owner.token,
            "mutation($input: SendMessageInput!) { sendMessage(input: $input) { sendAttempt { id } } }",
            json!({"input": input}),
        )
        .await;
    outcomes.push(error_code(&response).map(|code| {
        (
            code.to_owned(),
            response["errors"][0]["message"]
                .as_str()
                .unwrap_or_default()
                .to_owned(),
        )
    }));
    outcomes
}

async fn assert_refused(app: &TestApp, owner: &Session, template: &Value, problem: &str) {
    for outcome in send_everywhere(app, owner, template).await {
        let (code, message) = outcome.unwrap_or_else(|| panic!("{template} was queued"));
        assert_eq!(code, "template_malformed", "{template}: {message}");
        assert!(
            message.contains(problem),
            "{message:?} should name {problem:?}"
        );
    }
}

async fn assert_queued(app: &TestApp, owner: &Session, template: &Value) {
    for outcome in send_everywhere(app, owner, template).await {
        assert_eq!(outcome, None, "{template}");
    }
}

#[tokio::test]
async fn sync_reads_every_page_and_template_sends_are_checked_against_it() {
    let fake = FakeGraph::start().await;
    fake.set_templates(WABA_ID, meta_templates(), 2);
    let app = app_with(&fake).await;
    let owner = app.sign_up("Acme", "ada@acme.example").await;
    let sender_id = cloud_sender(&app, &owner).await;

    // Never synced: Meta stays the authority, anything well-formed is queued.
    assert_queued(
        &app,
        &owner,
        &template("not_synced_yet", "en_US", json!([])),
    )
    .await;

    let synced = app
        .graphql_as(&owner.token, SYNC, json!({"id": sender_id}))
        .await;
    let list = synced["data"]["syncTemplates"]
        .as_array()
        .unwrap_or_else(|| panic!("{synced}"));
    assert_eq!(list.len(), 5, "{synced}");
    let requests = fake.template_requests();
    assert_eq!(
        requests
            .iter()
            .map(|(waba, token, after)| (waba.as_str(), token.as_str(), after.as_deref()))
            .collect::<Vec<_>>(),
        vec![
            (WABA_ID, TOKEN, None),
            (WABA_ID, TOKEN, Some("cursor-2")),
            (WABA_ID, TOKEN, Some("cursor-4"))
        ],
        "three pages, each with the sender's token"
    );
    let listed = app
        .graphql_as(&owner.token, LIST, json!({"id": sender_id}))
        .await;
    let names: Vec<String> = listed["data"]["templates"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| {
            format!(
                "{} {} {}",
                t["name"].as_str().unwrap(),
                t["language"].as_str().unwrap(),
                t["status"].as_str().unwrap()
            )
        })
        .collect();
    assert_eq!(
        names,
        [
            "hello_world en_US APPROVED",
            "invoice en_US APPROVED",
            "order_update de APPROVED",
            "order_update en_US APPROVED",
            "promo en_US PAUSED"
        ]
    );

    let image = json!({"type": "header", "parameters": [{"type": "image", "image": {"link": "https://cdn.example.com/a.jpg"}}]});
    let body = |values: &[&str]| json!({"type": "body", "parameters": values.iter().map(|v| json!({"type": "text", "text": v})).collect::<Vec<_>>()});
    let url_button = json!({"type": "button", "sub_type": "url", "index": 0, "parameters": [{"type": "text", "text": "A1"}]});
    let named =
        |name: &str, value: &str| json!({"type": "text", "text": value, "parameter_name": name});

    // Good sends: positional with media header and URL button, named, document header, none.
    assert_queued(
        &app,
        &owner,
        &template(
            "order_update",
            "en_US",
            json!([image, body(&["A1", "today"]), url_button]),
        ),
    )
    .await;
    assert_queued(
        &app,
        &owner,
        &template(
            "order_update",
            "de",
            json!([
        {"type": "header", "parameters": [named("first_name", "Ada")]},
        {"type": "body", "parameters": [named("order_id", "7")]}]),
        ),
    )
    .await;
    assert_queued(&app, &owner, &template("invoice", "en_US", json!([
        {"type": "header", "parameters": [{"type": "document", "document": {"link": "https://cdn.example.com/i.pdf", "filename": "i.pdf"}}]}]))).await;
    assert_queued(&app, &owner, &template("hello_world", "en_US", json!([]))).await;

    // Each refusal names its problem.
    for (send, problem) in [
        (
            template("not_synced_yet", "en_US", json!([])),
            "template `not_synced_yet` is not among this sender's synced templates",
        ),
        (
            template("order_update", "fr", json!([])),
            "has no `fr` translation; it exists in",
        ),
        (
            template("promo", "en_US", json!([])),
            "template `promo` (en_US) is PAUSED, not APPROVED",
        ),
        (
            template(
                "order_update",
                "en_US",
                json!([image, body(&["A1"]), url_button]),
            ),
            "the body has 2 placeholder(s) ({{1}} to {{2}}), but the send gives 1 parameter(s)",
        ),
        (
            template(
                "order_update",
                "en_US",
                json!([image, body(&["A1", "today"])]),
            ),
            "the button 0 (URL) has 1 placeholder(s)",
        ),
        (
            template(
                "order_update",
                "en_US",
                json!([body(&["A1", "today"]), url_button]),
            ),
            "the header is IMAGE, so the send needs a header component with one image parameter (it gives none)",
        ),
        (
            template("invoice", "en_US", json!([image])),
            "the header is DOCUMENT, so the send needs a header component with one document parameter (it gives one image parameter)",
        ),
        (
            template(
                "order_update",
                "de",
                json!([
            {"type": "header", "parameters": [named("first_name", "Ada")]},
            {"type": "body", "parameters": [named("order_number", "7")]}]),
            ),
            "the body has no placeholder `order_number` (it has `order_id`)",
        ),
        (
            template(
                "order_update",
                "de",
                json!([
            {"type": "header", "parameters": [named("first_name", "Ada")]}]),
            ),
            "the body is missing parameter(s) `order_id`",
        ),
        (
            template(
                "order_update",
                "de",
                json!([
            {"type": "header", "parameters": [{"type": "text", "text": "Ada"}]},
            {"type": "body", "parameters": [named("order_id", "7")]}]),
            ),
            "the header uses named placeholders, so every parameter needs `parameter_name`",
        ),
        (
            template("hello_world", "en_US", json!([body(&["x"])])),
            "the body has no placeholders, but the send gives 1 parameter(s)",
        ),
    ] {
        assert_refused(&app, &owner, &send, problem).await;
    }

    // Meta dropped `promo` and approved a new one: a sync follows.
    let mut changed = meta_templates();
    changed.retain(|t| t["name"] != "promo");
    changed.push(
        json!({"name": "welcome", "language": "en_US", "status": "APPROVED",
                        "components": [{"type": "BODY", "text": "Welcome!"}]}),
    );
    fake.set_templates(WABA_ID, changed, 100);
    let synced = app
        .graphql_as(&owner.token, SYNC, json!({"id": sender_id}))
        .await;
    let names: Vec<&str> = synced["data"]["syncTemplates"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["name"].as_str().unwrap())
        .collect();
    assert_eq!(
        names,
        [
            "hello_world",
            "invoice",
            "order_update",
            "order_update",
            "welcome"
        ]
    );
    assert_queued(&app, &owner, &template("welcome", "en_US", json!([]))).await;
    assert_refused(
        &app,
        &owner,
        &template("promo", "en_US", json!([])),
        "template `promo` is not among",
    )
    .await;
    fake.assert_all_valid();
}

#[tokio::test]
async fn template_status_webhooks_change_the_stored_status() {
    let fake = FakeGraph::start().await;
    fake.set_templates(WABA_ID, meta_templates(), 100);
    let app = app_with(&fake).await;
    let owner = app.sign_up("Acme", "ada@acme.example").await;
    let sender_id = cloud_sender(&app, &owner).await;
    let synced = app
        .graphql_as(&owner.token, SYNC, json!({"id": sender_id}))
        .await;
    assert!(synced["data"]["syncTemplates"].is_array(), "{synced}");

    let update = |event: &str, id: Value, name: &str, reason: &str| {
        json!({"object": "whatsapp_business_account", "entry": [{"id": WABA_ID, "time": 1739321025,
            "changes": [{"field": "message_template_status_update", "value": {
                "event": event, "message_template_id": id, "message_template_name": name,
                "message_template_language": "en_US", "reason": reason}}]}]})
        .to_string()
    };
    let status_of = |listed: &Value, name: &str| -> (String, Value) {
        let t = listed["data"]["templates"]
            .as_array()
            .unwrap()
            .iter()
            .find(|t| t["name"] == name && t["language"] == "en_US")
            .unwrap()
            .clone();
        (
            t["status"].as_str().unwrap().to_owned(),
            t["statusReason"].clone(),
        )
    };
    let hello = template("hello_world", "en_US", json!([]));

    deliver(
        &app,
        &update("PAUSED", json!(1005), "hello_world", "Low quality"),
    )
    .await;
    let listed = app
        .graphql_as(&owner.token, LIST, json!({"id": sender_id}))
        .await;
    assert_eq!(
        status_of(&listed, "hello_world"),
        ("PAUSED".into(), json!("Low quality"))
    );
    assert_refused(
        &app,
        &owner,
        &hello,
        "template `hello_world` (en_US) is PAUSED, not APPROVED",
    )
    .await;

    // Meta's id is a number here and a string there; the name and language find it as well.
    deliver(
        &app,
        &update("REINSTATED", json!("9999"), "hello_world", "NONE"),
    )
    .await;
    let listed = app
        .graphql_as(&owner.token, LIST, json!({"id": sender_id}))
        .await;
    assert_eq!(
        status_of(&listed, "hello_world"),
        ("APPROVED".into(), Value::Null)
    );
    assert_queued(&app, &owner, &hello).await;

    deliver(
        &app,
        &update("REJECTED", json!(1004), "promo", "INVALID_FORMAT"),
    )
    .await;
    let listed = app
        .graphql_as(&owner.token, LIST, json!({"id": sender_id}))
        .await;
    assert_eq!(
        status_of(&listed, "promo"),
        ("REJECTED".into(), json!("INVALID_FORMAT"))
    );

    // A template Parley never synced is acknowledged and changes nothing.
    deliver(&app, &update("APPROVED", json!(4242), "brand_new", "NONE")).await;
    let after = app
        .graphql_as(&owner.token, LIST, json!({"id": sender_id}))
        .await;
    assert_eq!(after, listed);
}

#[tokio::test]
async fn sandbox_senders_sync_the_sample_template_and_sync_errors_are_clear() {
    let fake = FakeGraph::start().await;
    let app = app_with(&fake).await;
    let owner = app.sign_up("Acme", "ada@acme.example").await;
    let sandbox = app.sandbox_sender(&owner, "+917000000001").await;
    let synced = app
        .graphql_as(&owner.token, SYNC, json!({"id": sandbox}))
        .await;
    assert_eq!(
        synced["data"]["syncTemplates"][0]["name"], "hello_world",
        "{synced}"
    );
    assert_queued(&app, &owner, &template("hello_world", "en_US", json!([]))).await;
    assert_refused(
        &app,
        &owner,
        &template("order_update", "en_US", json!([])),
        "not among this sender's synced templates",
    )
    .await;

    // A Business Account the Graph API does not know: Meta's refusal, named.
    let cloud = cloud_sender(&app, &owner).await;
    let failed = app
        .graphql_as(&owner.token, SYNC, json!({"id": cloud}))
        .await;
    assert_eq!(error_code(&failed), Some("meta_error"), "{failed}");
    assert!(
        failed["errors"][0]["message"]
            .as_str()
            .unwrap()
            .contains("Meta refused to list the templates"),
        "{failed}"
    );
    let listed = app
        .graphql_as(&owner.token, LIST, json!({"id": cloud}))
        .await;
    assert_eq!(listed["data"]["templates"], json!([]));

    // Members cannot sync; an unknown sender is not found.
    let member = app.add_member(&owner, "bob@acme.example", "MEMBER").await;
    let refused = app
        .graphql_as(&member.token, SYNC, json!({"id": sandbox}))
        .await;
    assert_eq!(
        error_code(&refused),
        Some("insufficient_scope"),
        "{refused}"
    );
    let missing = app
        .graphql_as(&owner.token, SYNC, json!({"id": uuid::Uuid::now_v7()}))
        .await;
    assert_eq!(error_code(&missing), Some("not_found"), "{missing}");
}
