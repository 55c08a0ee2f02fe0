//! The database-backed rate limiter: one atomic count per subject and minute, on both backends.

use chrono::{DateTime, Utc};
use entity::rate_limit_window;
use parley::ratelimit::{self, RateLimitDecision};
use sea_orm::{ActiveModelTrait, ActiveValue::Set, DatabaseConnection, EntityTrait, QueryOrder};
use uuid::Uuid;

use crate::helpers::TestDb;

/// 2026-11-21T12:00:00Z, the start of a minute.
const MINUTE: i64 = 1_795_262_400;

fn at(unix_secs: i64) -> DateTime<Utc> {
    DateTime::from_timestamp(unix_secs, 0).unwrap()
}

async fn migrated(test_db: &TestDb) -> DatabaseConnection {
    let db = test_db.connect().await;
    parley::db::migrate(&db).await.unwrap();
    db
}

async fn hits(
    db: &DatabaseConnection,
    subject: Uuid,
    limit: u32,
    now: i64,
    n: usize,
) -> Vec<RateLimitDecision> {
    let mut decisions = Vec::new();
    for _ in 0..n {
        decisions.push(ratelimit::hit(db, subject, limit, at(now)).await.unwrap());
    }
    decisions
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_hits_admit_exactly_the_limit() {
    let test_db = TestDb::new().await;
    let db = migrated(&test_db).await;
    let subject = Uuid::now_v7();
    let tasks: Vec<_> = (0..50)
        .map(|_| {
            let db = db.clone();
            tokio::spawn(async move { ratelimit::hit(&db, subject, 7, at(MINUTE + 30)).await })
        })
        .collect();
    let mut decisions = Vec::new();
    for task in tasks {
        decisions.push(task.await.unwrap().unwrap());
    }

    let mut counts: Vec<u32> = decisions.iter().map(|d| d.count).collect();
    counts.sort_unstable();
    assert_eq!(counts, (1..=50).collect::<Vec<_>>());
    assert_eq!(decisions.iter().filter(|d| d.allowed).count(), 7);
    assert!(decisions.iter().all(|d| d.allowed == (d.count <= 7)));
}

#[tokio::test]
async fn a_new_minute_starts_a_fresh_window() {
    let test_db = TestDb::new().await;
    let db = migrated(&test_db).await;
    let subject = Uuid::now_v7();

    let first_minute = hits(&db, subject, 2, MINUTE + 10, 3).await;
    assert_eq!(
        first_minute.iter().map(|d| d.allowed).collect::<Vec<_>>(),
        [true, true, false]
    );
    let last_second = ratelimit::hit(&db, subject, 2, at(MINUTE + 59))
        .await
        .unwrap();
    assert!(!last_second.allowed, "the window lasts the whole minute");

    let next_minute = ratelimit::hit(&db, subject, 2, at(MINUTE + 60))
        .await
        .unwrap();
    assert!(next_minute.allowed);
    assert_eq!(next_minute.count, 1);
    assert_eq!(next_minute.reset_at, MINUTE + 120);
}

#[tokio::test]
async fn subjects_do_not_share_a_count() {
    let test_db = TestDb::new().await;
    let db = migrated(&test_db).await;
    let (key, member) = (Uuid::now_v7(), Uuid::now_v7());

    hits(&db, key, 1, MINUTE, 3).await;
    let other = ratelimit::hit(&db, member, 1, at(MINUTE)).await.unwrap();
    assert!(other.allowed);
    assert_eq!(other.count, 1);
}

#[tokio::test]
async fn remaining_reset_and_retry_after_are_reported() {
    let test_db = TestDb::new().await;
    let db = migrated(&test_db).await;
    let now = MINUTE + 45;

    let decisions = hits(&db, Uuid::now_v7(), 3, now, 5).await;
    assert_eq!(
        decisions
            .iter()
            .map(|d| (d.allowed, d.remaining, d.count))
            .collect::<Vec<_>>(),
        [
            (true, 2, 1),
            (true, 1, 2),
            (true, 0, 3),
            (false, 0, 4),
            (false, 0, 5)
        ]
    );
    for decision in &decisions {
        assert_eq!(decision.limit, 3);
        assert_eq!(decision.reset_at, MINUTE + 60);
    }
    assert_eq!(decisions[4].retry_after_secs(now), 15);
    assert_eq!(decisions[4].retry_after_secs(MINUTE + 61), 0);
}

#[tokio::test]
async fn hit_counts_on_from_a_window_the_entity_wrote() {
    let test_db = TestDb::new().await;
    let db = migrated(&test_db).await;
    let subject = Uuid::now_v7();
    rate_limit_window::ActiveModel {
        subject_id: Set(subject),
        window_start: Set(MINUTE),
        count: Set(5),
    }
    .insert(&db)
    .await
    .unwrap();

    // Only when the upsert binds the id as the entity stores it does it meet the existing row.
    let decision = ratelimit::hit(&db, subject, 10, at(MINUTE + 1))
        .await
        .unwrap();
    assert_eq!(decision.count, 6);
    let stored = rate_limit_window::Entity::find_by_id((subject, MINUTE))
        .one(&db)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(stored.count, 6);
}

#[tokio::test]
async fn prune_deletes_only_old_windows() {
    let test_db = TestDb::new().await;
    let db = migrated(&test_db).await;
    let subject = Uuid::now_v7();
    let now = MINUTE + 30;
    for window in [MINUTE - 180, MINUTE - 120, MINUTE - 60, MINUTE] {
        ratelimit::hit(&db, subject, 10, at(window)).await.unwrap();
    }

    assert_eq!(ratelimit::prune(&db, at(now)).await.unwrap(), 2);
    let kept: Vec<i64> = rate_limit_window::Entity::find()
        .order_by_asc(rate_limit_window::Column::WindowStart)
        .all(&db)
        .await
        .unwrap()
        .into_iter()
        .map(|w| w.window_start)
        .collect();
    assert_eq!(kept, [MINUTE - 60, MINUTE]);
    assert_eq!(ratelimit::prune(&db, at(now)).await.unwrap(), 0);
}
