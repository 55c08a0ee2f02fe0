//! The `sends` scenario: accepted sends per second through shape A (`POST /api/v1/messages/send`
//! with an API key) against the baseline that writes the same rows, on SQLite and on Postgres.
//! Target: Parley reaches at least half of the baseline's rate.

use anyhow::Context;
use sea_orm::{ConnectionTrait, Statement};

use crate::{
    RunArgs,
    backend::{self, Backend, Site},
    baseline::BaselineServer,
    load::{self, Target, WARM_UP},
    parley_server::{self, ParleyServer},
    report::{Measured, Report, Row},
};

const SCENARIO: &str = "sends";
const TARGET_RATIO: f64 = 0.5;

/// Measures on SQLite, then on Postgres unless its server is unreachable (then says so).
pub async fn run(args: &RunArgs, report: &mut Report) -> anyhow::Result<()> {
    let client = load::client(args.concurrency)?;
    for site in backend::sites(SCENARIO, &args.postgres_url, report).await? {
        measure_on(site, &client, args, report).await?;
    }
    Ok(())
}

/// Measures on one site and removes its databases, whether the measurement worked or not.
async fn measure_on(
    mut site: Site,
    client: &reqwest::Client,
    args: &RunArgs,
    report: &mut Report,
) -> anyhow::Result<()> {
    let measured = measure(&mut site, client, args).await;
    let backend = site.backend;
    site.clean_up().await;
    let (row, environment) = measured.with_context(|| format!("{SCENARIO} on {backend}"))?;
    report.rows.push(row);
    report.environment.push(environment);
    Ok(())
}

async fn measure(
    site: &mut Site,
    client: &reqwest::Client,
    args: &RunArgs,
) -> anyhow::Result<(Row, String)> {
    let backend = site.backend;
    let parley = ParleyServer::start(&site.fresh_database().await?).await?;
    let key = parley
        .provision(client)
        .await
        .context("provisioning Parley")?;
    let baseline_url = site.fresh_database().await?;
    let baseline = BaselineServer::start(&baseline_url).await?;
    let environment = describe(backend, &baseline_url).await?;
    // The baseline ignores the key; sending it keeps the client's work the same for both.
    let targets = [("Parley", parley.addr), ("baseline", baseline.addr)].map(|(name, addr)| {
        let url = format!("http://{addr}/api/v1/messages/send");
        (
            name,
            Target {
                url,
                bearer: key.clone(),
                load: load::Load::Sends {
                    recipients: load::RECIPIENTS,
                },
            },
        )
    });

    for (name, target) in &targets {
        let warm = load::round(client, target, 0, WARM_UP, args.concurrency).await?;
        if warm.errors > 0 {
            anyhow::bail!(
                "{name} refused warm-up requests: {}",
                warm.error_samples.join("; ")
            );
        }
    }
    let (requests, mut first) = (u64::from(args.requests), WARM_UP);
    let mut measured = [Measured::default(), Measured::default()];
    for number in 1..=args.rounds {
        // Alternating rounds, with the same request bodies, so that drift (WAL growth, caches,
        // the machine's other load) reaches both servers alike.
        for ((name, target), measured) in targets.iter().zip(&mut measured) {
            let round = load::round(client, target, first, requests, args.concurrency).await?;
            eprintln!(
                "{SCENARIO} on {backend}, round {number}/{}: {name} {:.0} req/s ({} errors)",
                args.rounds,
                round.rate(),
                round.errors
            );
            measured.add(round);
        }
        first += requests;
    }
    parley.stop().await?;
    baseline.stop().await?;
    let [parley, baseline] = measured;
    let row = Row {
        scenario: SCENARIO,
        backend,
        target_ratio: TARGET_RATIO,
        parley,
        baseline,
    };
    Ok((row, environment))
}

/// The database's version and durability settings, which the numbers depend on.
async fn describe(backend: Backend, url: &str) -> anyhow::Result<String> {
    let db = parley::db::connect(&parley_server::server_config(url)).await?;
    let sql = match backend {
        Backend::Sqlite => "SELECT 'SQLite ' || sqlite_version()",
        Backend::Postgres => {
            "SELECT split_part(version(), ' on ', 1) || ', fsync ' || current_setting('fsync') \
             || ', synchronous_commit ' || current_setting('synchronous_commit')"
        }
    };
    let row = db
        .query_one_raw(Statement::from_string(db.get_database_backend(), sql))
        .await?
        .context("no version row")?;
    let version: String = row.try_get_by_index(0)?;
    db.close().await?;
    let settings = match backend {
        Backend::Sqlite => "WAL, synchronous=NORMAL",
        Backend::Postgres => "server defaults otherwise",
    };
    Ok(format!(
        "{backend}: {version}, {settings}; both servers on Parley's pool of {} connections",
        parley::config::Config::default().database_max_connections
    ))
}
