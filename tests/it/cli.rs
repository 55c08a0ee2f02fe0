//! The `parley` command line: migrate, schema --check, bootstrap, serve --demo.

use std::process::Command;

use migration::{Migrator, MigratorTrait};
use serde_json::{Value, json};

use crate::helpers::{ParleyProcess, TestApp, TestDb, graphql_at};

fn parley() -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_parley"));
    command.current_dir(env!("CARGO_MANIFEST_DIR"));
    command
}

#[tokio::test]
async fn migrate_prepares_an_empty_database() {
    let db = TestDb::new().await;
    for _ in 0..2 {
        let output = parley()
            .arg("migrate")
            .env("PARLEY_DATABASE_URL", &db.url)
            .output()
            .unwrap();
        assert!(output.status.success(), "{output:?}");
    }
    let connection = db.connect().await;
    assert!(
        Migrator::get_pending_migrations_read_only(&connection)
            .await
            .unwrap()
            .is_empty()
    );
}

#[test]
fn schema_check_passes_on_the_checked_in_file_and_fails_on_a_stale_one() {
    let ok = parley().args(["schema", "--check"]).output().unwrap();
    assert!(ok.status.success(), "{ok:?}");

    let stale = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(stale.path(), "type Query { old: Int }\n").unwrap();
    let failed = parley()
        .args(["schema", "--check", "--file"])
        .arg(stale.path())
        .output()
        .unwrap();
    assert!(!failed.status.success());
}

#[test]
fn invalid_configuration_is_a_clear_error() {
    let output = parley()
        .arg("migrate")
        .env("PARLEY_DATABASE_URL", "mysql://nope")
        .output()
        .unwrap();
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("PARLEY_DATABASE_URL"), "{stderr}");
}

fn bootstrap(db: &TestDb, password: &str) -> std::process::Output {
    parley()
        .args([
            "bootstrap",
            "--workspace",
            "Acme",
            "--email",
            "ops@acme.example",
        ])
        .args([
            "--password",
            password,
            "--sandbox-sender",
            "+1 555 000 0002",
        ])
        .env("PARLEY_DATABASE_URL", &db.url)
        .output()
        .unwrap()
}

#[tokio::test]
async fn bootstrap_prints_working_credentials_and_is_rerunnable() {
    let db = TestDb::new().await;
    let first = bootstrap(&db, "bootstrap password");
    assert!(first.status.success(), "{first:?}");
    let first: Value = serde_json::from_slice(&first.stdout).expect("one JSON object");
    for field in ["workspaceId", "memberId", "token", "apiKey", "senderId"] {
        assert!(first[field].is_string(), "{field} in {first}");
    }

    let again = bootstrap(&db, "bootstrap password");
    assert!(again.status.success(), "{again:?}");
    let again: Value = serde_json::from_slice(&again.stdout).unwrap();
    for same in ["workspaceId", "memberId", "senderId"] {
        assert_eq!(again[same], first[same], "{same} is reused");
    }
    assert_ne!(again["apiKey"], first["apiKey"], "a fresh key each run");
    let wrong = bootstrap(&db, "not the password");
    assert!(!wrong.status.success());

    let app = TestApp::spawn_on(db, |_| {}).await;
    let query =
        "{ viewer { workspace { id } } senders { edges { node { id kind phoneNumber } } } }";
    for credential in [&first["token"], &first["apiKey"], &again["apiKey"]] {
        let response = app
            .graphql_as(credential.as_str().unwrap(), query, json!({}))
            .await;
        assert_eq!(
            response["data"]["viewer"]["workspace"]["id"],
            first["workspaceId"]
        );
        let sender = &response["data"]["senders"]["edges"][0]["node"];
        assert_eq!(sender["id"], first["senderId"]);
        assert_eq!(sender["kind"], "SANDBOX");
        assert_eq!(sender["phoneNumber"], "+15550000002");
    }
}

/// The value printed after `label` on the demo banner.
fn banner_value(printed: &str, label: &str) -> String {
    printed
        .lines()
        .find_map(|line| line.trim().strip_prefix(label))
        .unwrap_or_else(|| panic!("no {label:?} in {printed}"))
        .trim()
        .to_owned()
}

async fn demo_run(db: &TestDb) -> (String, String, String) {
    let mut parley = ParleyProcess::start(db, &["serve", "--demo"], &[]).await;
    // The banner's last line: the curl command continues onto it.
    parley.wait_for_line("-d '").await;
    let printed = parley.printed.join("\n");
    let api_key = banner_value(&printed, "API key");
    let login = banner_value(&printed, "login");
    let (email, password) = login.split_once(" / ").unwrap();
    assert!(
        printed.contains(&format!("Bearer {api_key}")),
        "the curl line uses the key"
    );

    let viewer = graphql_at(
        &parley.addr,
        Some(&api_key),
        "{ viewer { workspace { id name } } }",
        json!({}),
    )
    .await;
    assert_eq!(
        viewer["data"]["viewer"]["workspace"]["name"],
        "Demo workspace"
    );
    let login = graphql_at(
        &parley.addr,
        None,
        "mutation($i: LoginInput!) { login(input: $i) { token } }",
        json!({"i": {"email": email, "password": password}}),
    )
    .await;
    assert!(login["data"]["login"]["token"].is_string(), "{login}");

    // The printed curl line works as pasted: the sandbox accepts the message.
    let url = printed
        .split("curl -s ")
        .nth(1)
        .and_then(|rest| rest.split_whitespace().next())
        .expect("a URL after curl -s");
    let body = printed
        .split("-d '")
        .nth(1)
        .and_then(|rest| rest.split('\'').next())
        .expect("a body after -d");
    let response = reqwest::Client::new()
        .post(url)
        .bearer_auth(&api_key)
        .header("content-type", "application/json")
        .body(body.to_owned())
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 201);
    let sent: Value = response.json().await.unwrap();
    assert!(
        sent["whatsapp_message_id"]
            .as_str()
            .is_some_and(|wamid| wamid.starts_with("wamid.SANDBOX")),
        "{sent}"
    );
    let workspace_id = viewer["data"]["viewer"]["workspace"]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let (status, _) = parley.stop().await;
    assert!(status.success());
    (workspace_id, api_key, password.to_owned())
}

#[tokio::test]
async fn serve_demo_creates_the_demo_once_and_prints_working_credentials() {
    let db = TestDb::new().await;
    let (workspace, old_key, _) = demo_run(&db).await;
    let (same_workspace, new_key, _) = demo_run(&db).await;
    assert_eq!(
        workspace, same_workspace,
        "the demo workspace is created once"
    );
    assert_ne!(old_key, new_key);

    let app = TestApp::spawn_on(db, |_| {}).await;
    let stale = app
        .graphql_as(&old_key, "{ viewer { member { id } } }", json!({}))
        .await;
    assert_eq!(
        stale["errors"][0]["extensions"]["code"],
        "invalid_bearer_token"
    );
    let senders = app
        .graphql_as(
            &new_key,
            "{ senders { edges { node { kind } } } }",
            json!({}),
        )
        .await;
    assert_eq!(
        senders["data"]["senders"]["edges"]
            .as_array()
            .unwrap()
            .len(),
        1
    );
}
