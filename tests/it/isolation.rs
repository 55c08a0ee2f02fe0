//! Workspace isolation. Workspace B's credentials, given workspace A's ids, must get exactly what
//! an id that does not exist gets — and change nothing.
//!
//! The matrix is built from the API itself: every GraphQL query or mutation that takes an `ID`
//! (directly or inside an input object) and every REST path with a parameter must have a case
//! here, so a new resolver or route without one fails this test.

use std::collections::{BTreeSet, HashMap};

use entity::{contact, conversation, conversation::ConversationStatus, member, message, sender};
use sea_orm::{EntityTrait, PaginatorTrait};
use serde_json::{Value, json};
use uuid::Uuid;

use crate::{
    fixtures::{a_contact, a_conversation, a_message, a_send_attempt, a_sender},
    helpers::{Session, TestApp, error_code},
};

/// Workspace A's ids, and the credentials of both workspaces.
struct World {
    a: Session,
    a_key: String,
    a_key_id: String,
    a_member: Session,
    a_sender_id: String,
    a_contact_id: String,
    a_conversation_id: String,
    a_message_id: String,
    a_send_attempt_id: String,
    b: Session,
    b_key: String,
}

async fn world(app: &TestApp) -> World {
    let a = app.sign_up("Acme", "ada@acme.example").await;
    let a_member = app.add_member(&a, "bob@acme.example", "MEMBER").await;
    let (a_key_id, a_key) = app
        .create_key(&a, &["messages:read", "senders:manage"], None)
        .await;
    let connected = app
        .graphql_as(
            &a.token,
            "mutation { connectSender(input: {kind: SANDBOX, phoneNumber: \"+15550001\",
                name: \"Sales\"}) { id } }",
            json!({}),
        )
        .await;
    let a_sender_id = connected["data"]["connectSender"]["id"]
        .as_str()
        .unwrap()
        .to_owned();

    let workspace_id = Uuid::parse_str(&a.workspace_id).unwrap();
    let sender = sender::Entity::find_by_id(Uuid::parse_str(&a_sender_id).unwrap())
        .one(&app.db)
        .await
        .unwrap()
        .unwrap();
    let contact = a_contact(&app.db, workspace_id, "447700900123")
        .await
        .unwrap();
    let conversation = a_conversation(&app.db, &contact, &sender, ConversationStatus::Open)
        .await
        .unwrap();
    let message = a_message(&app.db, &conversation, None).await.unwrap();
    let attempt = a_send_attempt(&app.db, &message, None).await.unwrap();

    let b = app.sign_up("Globex", "hank@globex.example").await;
    let all_scopes: Vec<&str> = vec![
        "messages:send",
        "messages:read",
        "contacts:read",
        "contacts:write",
        "conversations:read",
        "conversations:write",
        "senders:manage",
        "webhooks:manage",
    ];
    let (_, b_key) = app.create_key(&b, &all_scopes, None).await;
    World {
        a,
        a_key,
        a_key_id,
        a_member,
        a_sender_id,
        a_contact_id: contact.id.to_string(),
        a_conversation_id: conversation.id.to_string(),
        a_message_id: message.id.to_string(),
        a_send_attempt_id: attempt.id.to_string(),
        b,
        b_key,
    }
}

const INTROSPECTION: &str = "{ __schema {
    queryType { name } mutationType { name }
    types { name kind
        fields { name args { name type { ...T } } }
        inputFields { name type { ...T } } } } }
    fragment T on __Type { kind name ofType { kind name ofType { kind name ofType { kind name } } } }";

/// The named type under NON_NULL / LIST wrappers.
fn base_type(mut ty: &Value) -> &str {
    while ty["name"].is_null() {
        ty = &ty["ofType"];
    }
    ty["name"].as_str().unwrap()
}

/// "Query.field" and "Mutation.field" of every root field that takes an ID somewhere.
async fn fields_taking_ids(app: &TestApp) -> BTreeSet<String> {
    let schema = app.graphql(INTROSPECTION, json!({})).await;
    let types: HashMap<&str, &Value> = schema["data"]["__schema"]["types"]
        .as_array()
        .unwrap()
        .iter()
        .map(|ty| (ty["name"].as_str().unwrap(), ty))
        .collect();
    fn holds_id(types: &HashMap<&str, &Value>, name: &str, seen: &mut Vec<String>) -> bool {
        if name == "ID" {
            return true;
        }
        if seen.iter().any(|s| s == name) {
            return false;
        }
        seen.push(name.to_owned());
        types[name]["inputFields"]
            .as_array()
            .into_iter()
            .flatten()
            .any(|field| holds_id(types, base_type(&field["type"]), seen))
    }
    let mut found = BTreeSet::new();
    for root in ["queryType", "mutationType"] {
        let root_name = schema["data"]["__schema"][root]["name"].as_str().unwrap();
        for field in types[root_name]["fields"].as_array().unwrap() {
            let takes_id = field["args"]
                .as_array()
                .unwrap()
                .iter()
                .any(|arg| holds_id(&types, base_type(&arg["type"]), &mut Vec::new()));
            if takes_id {
                found.insert(format!("{root_name}.{}", field["name"].as_str().unwrap()));
            }
        }
    }
    found
}

/// Every REST path with a parameter, as "METHOD path".
async fn rest_routes_taking_ids(app: &TestApp) -> BTreeSet<String> {
    let document: Value = app
        .client
        .get(app.url("/openapi.json"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let mut found = BTreeSet::new();
    for (path, operations) in document["paths"].as_object().unwrap() {
        if path.contains('{') {
            for method in operations.as_object().unwrap().keys() {
                found.insert(format!("{} {path}", method.to_uppercase()));
            }
        }
    }
    found
}

fn assert_not_found(response: &Value, case: &str) {
    assert_eq!(
        error_code(response),
        Some("not_found"),
        "{case}: {response}"
    );
}

/// Runs the case for `field` and checks nothing changed; `false` when there is no such case.
async fn graphql_case(app: &TestApp, w: &World, field: &str) -> bool {
    match field {
        "Mutation.changeMemberRole" => {
            for credential in [&w.b.token, &w.b_key] {
                let response = app
                    .graphql_as(
                        credential,
                        "mutation($id: ID!) { changeMemberRole(id: $id, role: ADMIN) { id } }",
                        json!({"id": w.a_member.member_id}),
                    )
                    .await;
                assert_not_found_or_forbidden_key(&response, credential == &w.b_key, field);
            }
            let bob = member::Entity::find_by_id(Uuid::parse_str(&w.a_member.member_id).unwrap())
                .one(&app.db)
                .await
                .unwrap()
                .unwrap();
            assert_eq!(bob.role, member::Role::Member, "{field} changed A's member");
        }
        "Mutation.removeMember" => {
            for credential in [&w.b.token, &w.b_key] {
                let response = app
                    .graphql_as(
                        credential,
                        "mutation($id: ID!) { removeMember(id: $id) { id } }",
                        json!({"id": w.a_member.member_id}),
                    )
                    .await;
                assert_not_found_or_forbidden_key(&response, credential == &w.b_key, field);
            }
            let viewer = app
                .graphql_as(&w.a_member.token, "{ viewer { member { id } } }", json!({}))
                .await;
            assert!(
                viewer["data"]["viewer"].is_object(),
                "{field} removed A's member"
            );
        }
        "Mutation.revokeApiKey" => {
            for credential in [&w.b.token, &w.b_key] {
                let response = app
                    .graphql_as(
                        credential,
                        "mutation($id: ID!) { revokeApiKey(id: $id) { id } }",
                        json!({"id": w.a_key_id}),
                    )
                    .await;
                assert_not_found_or_forbidden_key(&response, credential == &w.b_key, field);
            }
            let still_works = app
                .graphql_as(&w.a_key, "{ viewer { member { id } } }", json!({}))
                .await;
            assert!(
                still_works["data"]["viewer"].is_object(),
                "{field} revoked A's key"
            );
        }
        "Query.contact" => {
            for credential in [&w.b.token, &w.b_key] {
                for variables in [
                    json!({"id": w.a_contact_id}),
                    json!({"phone": "+447700900123"}),
                ] {
                    let response = app
                        .graphql_as(
                            credential,
                            "query($id: ID, $phone: String) { contact(id: $id, phone: $phone) { id } }",
                            variables,
                        )
                        .await;
                    assert_not_found(&response, field);
                }
            }
        }
        "Query.conversation" | "Query.message" => {
            let (name, id) = match field {
                "Query.conversation" => ("conversation", &w.a_conversation_id),
                _ => ("message", &w.a_message_id),
            };
            for credential in [&w.b.token, &w.b_key] {
                let response = app
                    .graphql_as(
                        credential,
                        &format!("query($id: ID!) {{ {name}(id: $id) {{ id }} }}"),
                        json!({"id": id}),
                    )
                    .await;
                assert_not_found(&response, field);
            }
        }
        "Query.conversations" => {
            // A filter on another workspace's sender finds what a missing sender finds: nothing.
            for credential in [&w.b.token, &w.b_key] {
                for sender_id in [w.a_sender_id.clone(), Uuid::now_v7().to_string()] {
                    let response = app
                        .graphql_as(
                            credential,
                            "query($id: ID) { conversations(senderId: $id) { edges { node { id } } } }",
                            json!({"id": sender_id}),
                        )
                        .await;
                    assert_eq!(
                        response["data"]["conversations"]["edges"],
                        json!([]),
                        "{field}: {response}"
                    );
                }
            }
        }
        "Mutation.tagContact" | "Mutation.untagContact" => {
            let name = field.trim_start_matches("Mutation.");
            for credential in [&w.b.token, &w.b_key] {
                let response = app
                    .graphql_as(
                        credential,
                        &format!(
                            "mutation($id: ID!) {{ {name}(id: $id, tags: [\"x\"]) {{ id }} }}"
                        ),
                        json!({"id": w.a_contact_id}),
                    )
                    .await;
                assert_not_found(&response, field);
            }
            let contact = contact::Entity::find_by_id(Uuid::parse_str(&w.a_contact_id).unwrap())
                .one(&app.db)
                .await
                .unwrap()
                .unwrap();
            assert_eq!(contact.tags, json!([]), "{field} changed A's contact");
        }
        "Mutation.markConversationRead"
        | "Mutation.closeConversation"
        | "Mutation.reopenConversation"
        | "Mutation.assignConversation" => {
            let name = field.trim_start_matches("Mutation.");
            for credential in [&w.b.token, &w.b_key] {
                let response = app
                    .graphql_as(
                        credential,
                        &format!("mutation($id: ID!) {{ {name}(id: $id) {{ id }} }}"),
                        json!({"id": w.a_conversation_id}),
                    )
                    .await;
                assert_not_found(&response, field);
            }
            if field == "Mutation.assignConversation" {
                // B's own conversation cannot be given to A's member either.
                let b_workspace = Uuid::parse_str(&w.b.workspace_id).unwrap();
                let b_sender = a_sender(&app.db, b_workspace, "15550003", "b-isolation")
                    .await
                    .unwrap();
                let b_contact = a_contact(&app.db, b_workspace, "447700900999")
                    .await
                    .unwrap();
                let b_conversation =
                    a_conversation(&app.db, &b_contact, &b_sender, ConversationStatus::Open)
                        .await
                        .unwrap();
                for credential in [&w.b.token, &w.b_key] {
                    let response = app
                        .graphql_as(
                            credential,
                            "mutation($id: ID!, $member: ID) {
                                assignConversation(id: $id, memberId: $member) { id } }",
                            json!({"id": b_conversation.id, "member": w.a_member.member_id}),
                        )
                        .await;
                    assert_not_found(&response, field);
                }
            }
            let conversation =
                conversation::Entity::find_by_id(Uuid::parse_str(&w.a_conversation_id).unwrap())
                    .one(&app.db)
                    .await
                    .unwrap()
                    .unwrap();
            assert_eq!(conversation.status, ConversationStatus::Open, "{field}");
            assert_eq!(conversation.assigned_member_id, None, "{field}");
        }
        "Query.sendAttempt" => {
            for credential in [&w.b.token, &w.b_key] {
                let response = app
                    .graphql_as(
                        credential,
                        "query($id: ID!) { sendAttempt(id: $id) { id } }",
                        json!({"id": w.a_send_attempt_id}),
                    )
                    .await;
                assert_not_found(&response, field);
            }
        }
        "Mutation.updateSender" => {
            for credential in [&w.b.token, &w.b_key] {
                let response = app
                    .graphql_as(
                        credential,
                        "mutation($id: ID!) { updateSender(id: $id, input: {dailyLimit: 1}) { id } }",
                        json!({"id": w.a_sender_id}),
                    )
                    .await;
                assert_not_found(&response, field);
            }
            let sender = sender::Entity::find_by_id(Uuid::parse_str(&w.a_sender_id).unwrap())
                .one(&app.db)
                .await
                .unwrap()
                .unwrap();
            assert_eq!(sender.daily_limit, None, "{field} changed A's sender");
        }
        "Query.templates" | "Mutation.syncTemplates" => {
            // A's sandbox sender has its sample template; B sees and syncs nothing of A's.
            let sync = "mutation($id: ID!) { syncTemplates(senderId: $id) { name } }";
            let synced = app
                .graphql_as(&w.a.token, sync, json!({"id": w.a_sender_id}))
                .await;
            assert_eq!(
                synced["data"]["syncTemplates"][0]["name"], "hello_world",
                "{synced}"
            );
            let list = "query($id: ID!) { templates(senderId: $id) { name } }";
            for credential in [&w.b.token, &w.b_key] {
                for document in [list, sync] {
                    let response = app
                        .graphql_as(credential, document, json!({"id": w.a_sender_id}))
                        .await;
                    assert_not_found(&response, field);
                }
            }
            let mine = app
                .graphql_as(&w.a.token, list, json!({"id": w.a_sender_id}))
                .await;
            assert_eq!(
                mine["data"]["templates"],
                json!([{"name": "hello_world"}]),
                "{field}"
            );
        }
        "Mutation.updateAutoReply" => {
            let update = "mutation($id: ID!, $input: AutoReplyInput!) {
                updateAutoReply(senderId: $id, input: $input) { enabled botName } }";
            for credential in [&w.b.token, &w.b_key] {
                let response = app
                    .graphql_as(
                        credential,
                        update,
                        json!({"id": w.a_sender_id, "input": {"enabled": true, "botName": "B"}}),
                    )
                    .await;
                assert_not_found(&response, field);
            }
            let settings = app
                .graphql_as(
                    &w.a.token,
                    "{ senders { edges { node { autoReply { enabled botName } } } } }",
                    json!({}),
                )
                .await;
            assert_eq!(
                settings["data"]["senders"]["edges"][0]["node"]["autoReply"],
                json!({"enabled": false, "botName": null}),
                "{field} changed A's auto-reply"
            );
        }
        "Mutation.sendMessage" => {
            let before = message::Entity::find().count(&app.db).await.unwrap();
            let send = "mutation($input: SendMessageInput!) { sendMessage(input: $input) { message { id } } }";
            app.sandbox_sender(&w.b, "+15550002").await;
            for (input, expected) in [
                (
                    json!({"to": "+447700900123", "type": "TEXT", "text": "hi", "senderId": w.a_sender_id}),
                    "sender_not_allowed",
                ),
                (
                    json!({"to": "+447700900123", "type": "TEXT", "text": "hi", "from": "+15550001"}),
                    "sender_not_allowed",
                ),
                (
                    json!({"to": "+447700900123", "type": "TEXT", "text": "hi",
                        "replyToMessageId": w.a_message_id}),
                    "invalid_request",
                ),
                (
                    json!({"to": "+447700900123", "type": "REACTION",
                        "reaction": {"messageId": w.a_message_id, "emoji": "👍"}}),
                    "invalid_request",
                ),
            ] {
                for credential in [&w.b.token, &w.b_key] {
                    let response = app
                        .graphql_as(credential, send, json!({"input": input}))
                        .await;
                    assert_eq!(
                        error_code(&response),
                        Some(expected),
                        "{field} {input}: {response}"
                    );
                }
            }
            assert_eq!(
                message::Entity::find().count(&app.db).await.unwrap(),
                before
            );
        }
        field if field.to_lowercase().contains("webhook") => {
            return crate::outbound_webhooks::isolation_case(app, &w.a, &w.b, &w.b_key, field)
                .await;
        }
        _ => return false,
    }
    true
}

/// Member and key management refuse API keys before looking anything up (`forbidden`); with a
/// member's session, another workspace's id is `not_found`.
fn assert_not_found_or_forbidden_key(response: &Value, is_key: bool, case: &str) {
    if is_key {
        assert_eq!(
            error_code(response),
            Some("forbidden"),
            "{case}: {response}"
        );
    } else {
        assert_not_found(response, case);
    }
}

async fn rest_case(app: &TestApp, w: &World, route: &str) -> bool {
    match route {
        "GET /api/v1/contacts/{phone}" | "GET /api/v1/contacts/{phone}/messages" => {
            let suffix = match route {
                "GET /api/v1/contacts/{phone}" => "",
                _ => "/messages",
            };
            let theirs = format!("/api/v1/contacts/+447700900123{suffix}");
            let (status, body) = app.rest_get(&theirs, Some(&w.b_key)).await;
            assert_eq!(status, 404, "{route}: {body}");
            assert_eq!(body["error"]["code"], "not_found");
            let missing = format!("/api/v1/contacts/+447700900124{suffix}");
            let (_, missing) = app.rest_get(&missing, Some(&w.b_key)).await;
            assert_eq!(
                missing["error"]["code"], body["error"]["code"],
                "{route}: same as a missing number"
            );
            let (status, _) = app.rest_get(&theirs, Some(&w.a.token)).await;
            assert_eq!(status, 200, "{route}: A still sees its own");
        }
        "GET /api/v1/messages/{send_attempt_id}" => {
            let path = format!("/api/v1/messages/{}", w.a_send_attempt_id);
            let theirs = app
                .client
                .get(app.url(&path))
                .bearer_auth(&w.b_key)
                .send()
                .await
                .unwrap();
            assert_eq!(theirs.status(), 404, "{route}");
            let body: Value = theirs.json().await.unwrap();
            assert_eq!(body["error"]["code"], "not_found");
            let missing = format!("/api/v1/messages/{}", Uuid::now_v7());
            let missing = app
                .client
                .get(app.url(&missing))
                .bearer_auth(&w.b_key)
                .send()
                .await
                .unwrap();
            assert_eq!(
                missing.json::<Value>().await.unwrap(),
                body,
                "{route}: same as a missing id"
            );
            let own = app
                .client
                .get(app.url(&path))
                .bearer_auth(&w.a_key)
                .send()
                .await
                .unwrap();
            assert_eq!(own.status(), 200, "{route}: A still sees its own");
        }
        _ => return false,
    }
    true
}

#[tokio::test]
async fn another_workspaces_ids_behave_as_missing_everywhere() {
    let app = TestApp::spawn().await;
    let w = world(&app).await;

    let mut uncovered = Vec::new();
    let fields = fields_taking_ids(&app).await;
    assert!(
        !fields.is_empty(),
        "introspection found the id-taking fields"
    );
    for field in &fields {
        if !graphql_case(&app, &w, field).await {
            uncovered.push(field.clone());
        }
    }
    for route in rest_routes_taking_ids(&app).await {
        if !rest_case(&app, &w, &route).await {
            uncovered.push(route);
        }
    }
    assert!(
        uncovered.is_empty(),
        "add an isolation case for each of: {uncovered:?}"
    );
}

#[tokio::test]
async fn lists_show_only_the_callers_workspace() {
    let app = TestApp::spawn().await;
    let w = world(&app).await;
    for (list, a_id) in [
        ("contacts", w.a_contact_id.as_str()),
        ("conversations", w.a_conversation_id.as_str()),
        ("members", w.a.member_id.as_str()),
        ("senders", w.a_sender_id.as_str()),
        ("apiKeys", w.a_key_id.as_str()),
    ] {
        let query = format!("{{ {list} {{ edges {{ node {{ id }} }} }} }}");
        for credential in [&w.b.token, &w.b_key] {
            let response = app.graphql_as(credential, &query, json!({})).await;
            let edges = response["data"][list]["edges"]
                .as_array()
                .unwrap_or_else(|| {
                    panic!("{list}: {response}");
                });
            assert!(
                edges.iter().all(|edge| edge["node"]["id"] != a_id),
                "{list} leaked A's row: {response}"
            );
        }
        let own = app.graphql_as(&w.a.token, &query, json!({})).await;
        assert!(own.to_string().contains(a_id), "{list}: A sees its own");
    }
    crate::outbound_webhooks::lists_isolation(&app, &w.a, &[&w.b.token, &w.b_key]).await;
}
