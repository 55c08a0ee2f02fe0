//! The `parley` command line: migrate, schema --check.

use std::process::Command;

use migration::{Migrator, MigratorTrait};

use crate::helpers::TestDb;

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
        Migrator::get_pending_migrations(&connection)
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
