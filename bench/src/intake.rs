//! The `intake` scenario: Meta status webhooks per second (signature verified, delivery stored,
//! status applied, event recorded) against Parley's own accepted sends per second on the same
//! server, in alternating rounds. Meta advises sizing intake at 3× outgoing traffic (each message
//! brings sent, delivered and read), so the target is a ratio of at least 3.

use std::sync::Arc;

use anyhow::Context;
use parley::config::Config;
use sea_orm::{ConnectionTrait, Statement};
use serde_json::json;

use crate::{
    RunArgs,
    backend::{self, Site},
    load::{self, Load, Target, WARM_UP},
    parley_server::{self, APP_SECRET, PHONE_NUMBER_ID, ParleyServer, cloud_api_sender},
    report::{Measured, Report, Row},
};

const SCENARIO: &str = "webhook intake (baseline: Parley's sends)";
const TARGET_RATIO: f64 = 3.0;

pub async fn run(args: &RunArgs, report: &mut Report) -> anyhow::Result<()> {
    let client = load::client(args.concurrency)?;
    let sites = backend::sites(SCENARIO, &args.postgres_url, report).await?;
    for mut site in sites {
        let measured = measure(&mut site, &client, args).await;
        let backend = site.backend;
        site.clean_up().await;
        report
            .rows
            .push(measured.with_context(|| format!("{SCENARIO} on {backend}"))?);
    }
    Ok(())
}

async fn measure(site: &mut Site, client: &reqwest::Client, args: &RunArgs) -> anyhow::Result<Row> {
    let backend = site.backend;
    let url = site.fresh_database().await?;
    let parley = ParleyServer::start_with(Config {
        app_secret: Some(APP_SECRET.into()),
        ..parley_server::server_config(&url)
    })
    .await?;
    // A Cloud API sender with the number the webhooks name; nothing dispatches its sends.
    let key = parley
        .provision_sender(client, cloud_api_sender(), json!({"dailyLimit": 1_000_000}))
        .await
        .context("provisioning Parley")?;
    let db = parley::db::connect(&parley_server::server_config(&url)).await?;

    let sends = Target {
        url: format!("http://{}/api/v1/messages/send", parley.addr),
        bearer: key.clone(),
        load: Load::Sends {
            recipients: load::RECIPIENTS,
        },
    };
    let warm = load::round(client, &sends, 0, WARM_UP, args.concurrency).await?;
    anyhow::ensure!(
        warm.errors == 0,
        "warm-up sends refused: {:?}",
        warm.error_samples
    );
    let statuses = |wamids| Target {
        url: format!("http://{}/webhooks/whatsapp", parley.addr),
        bearer: String::new(),
        load: Load::Statuses {
            app_secret: APP_SECRET.into(),
            phone_number_id: PHONE_NUMBER_ID.into(),
            wamids,
        },
    };
    let warm = load::round(
        client,
        &statuses(accepted_wamids(&db).await?),
        0,
        WARM_UP,
        args.concurrency,
    )
    .await?;
    anyhow::ensure!(
        warm.errors == 0,
        "warm-up webhooks refused: {:?}",
        warm.error_samples
    );

    let requests = u64::from(args.requests);
    let (mut first, mut webhook_first) = (WARM_UP, WARM_UP);
    let (mut intake, mut sent) = (Measured::default(), Measured::default());
    for number in 1..=args.rounds {
        let round = load::round(client, &sends, first, requests, args.concurrency).await?;
        eprintln!(
            "{SCENARIO} on {backend}, round {number}/{}: sends {:.0} req/s ({} errors)",
            args.rounds,
            round.rate(),
            round.errors
        );
        sent.add(round);
        first += requests;
        let target = statuses(accepted_wamids(&db).await?);
        let round = load::round(client, &target, webhook_first, requests, args.concurrency).await?;
        eprintln!(
            "{SCENARIO} on {backend}, round {number}/{}: webhooks {:.0} req/s ({} errors)",
            args.rounds,
            round.rate(),
            round.errors
        );
        intake.add(round);
        webhook_first += requests;
    }
    let unapplied = db
        .query_one_raw(Statement::from_string(
            db.get_database_backend(),
            "SELECT COUNT(*) FROM webhook_events WHERE processed_at IS NULL",
        ))
        .await?
        .context("no count")?
        .try_get_by_index::<i64>(0)?;
    anyhow::ensure!(
        unapplied == 0,
        "{unapplied} webhooks were stored but not applied"
    );
    db.close().await?;
    parley.stop().await?;
    Ok(Row {
        scenario: SCENARIO,
        backend,
        target_ratio: TARGET_RATIO,
        parley: intake,
        baseline: sent,
    })
}

/// Gives every queued message a wamid, as if WhatsApp had accepted it, and returns them all.
pub async fn accepted_wamids(db: &sea_orm::DatabaseConnection) -> anyhow::Result<Arc<Vec<String>>> {
    let backend = db.get_database_backend();
    let id_text = match backend {
        sea_orm::DatabaseBackend::Postgres => "id::text",
        _ => "hex(id)",
    };
    db.execute_unprepared(&format!(
        "UPDATE messages SET wamid = 'wamid.BENCH' || {id_text} WHERE wamid IS NULL"
    ))
    .await?;
    let rows = db
        .query_all_raw(Statement::from_string(
            backend,
            "SELECT wamid FROM messages ORDER BY id",
        ))
        .await?;
    let wamids = rows
        .iter()
        .map(|row| row.try_get_by_index::<String>(0))
        .collect::<Result<Vec<_>, _>>()?;
    Ok(Arc::new(wamids))
}
