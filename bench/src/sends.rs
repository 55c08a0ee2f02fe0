//! The `sends` scenarios: accepted sends per second through shape A (`POST /api/v1/messages/send`
//! with an API key; target ≥ 0.5×) and through the GraphQL `sendMessage` mutation with the same
//! key (target ≥ 0.4×), each against the baseline that writes the same rows, on SQLite and on
//! Postgres. The three take turns within each round; both rows share the baseline's rounds.

use anyhow::Context;
use sea_orm::{ConnectionTrait, Statement};

use crate::{
    RunArgs,
    backend::{self, Backend, Site},
    baseline::BaselineServer,
    load::{self, Load, Target},
    parley_server::{self, ParleyServer},
    report::{Report, Row},
};

/// Scenario 1, which `dispatch` and `intake` are compared with.
pub const SCENARIO: &str = "sends (REST shape A)";
const TARGET_RATIO: f64 = 0.5;
/// Scenario 2: the same sends through GraphQL, against the same baseline rounds.
const GRAPHQL_SCENARIO: &str = "sends (GraphQL sendMessage)";
const GRAPHQL_TARGET_RATIO: f64 = 0.4;

/// Measures on SQLite, then on Postgres unless its server is unreachable (then says so).
pub async fn run(args: &RunArgs, report: &mut Report) -> anyhow::Result<()> {
    let client = load::client(args.concurrency)?;
    for site in backend::sites("sends", &args.postgres_url, report).await? {
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
    let (rows, environment) = measured.with_context(|| format!("sends on {backend}"))?;
    report.rows.extend(rows);
    report.environment.push(environment);
    Ok(())
}

async fn measure(
    site: &mut Site,
    client: &reqwest::Client,
    args: &RunArgs,
) -> anyhow::Result<(Vec<Row>, String)> {
    let backend = site.backend;
    let parley = ParleyServer::start(&site.fresh_database().await?).await?;
    let key = parley
        .provision(client)
        .await
        .context("provisioning Parley")?;
    let baseline_url = site.fresh_database().await?;
    let baseline = BaselineServer::start(&baseline_url).await?;
    let environment = describe(backend, &baseline_url).await?;
    // The baseline ignores the key; sending it keeps the client's work the same for both. The
    // GraphQL sends use the same key, so that the two APIs differ in nothing else.
    let recipients = load::RECIPIENTS;
    let target = |addr, path: &str, load| Target {
        url: format!("http://{addr}{path}"),
        bearer: key.clone(),
        load,
    };
    let targets = [
        (
            "Parley REST",
            target(
                parley.addr,
                "/api/v1/messages/send",
                Load::Sends { recipients },
            ),
        ),
        (
            "Parley GraphQL",
            target(parley.addr, "/graphql", Load::GraphQlSends { recipients }),
        ),
        (
            "baseline",
            target(
                baseline.addr,
                "/api/v1/messages/send",
                Load::Sends { recipients },
            ),
        ),
    ];
    let [rest, graphql, bare] = load::alternate(
        client,
        &format!("sends on {backend}"),
        &targets,
        args.rounds,
        u64::from(args.requests),
        args.concurrency,
    )
    .await?;
    parley.stop().await?;
    baseline.stop().await?;
    let rows = vec![
        Row {
            scenario: SCENARIO,
            backend,
            target_ratio: TARGET_RATIO,
            parley: rest,
            baseline: bare.clone(),
        },
        Row {
            scenario: GRAPHQL_SCENARIO,
            backend,
            target_ratio: GRAPHQL_TARGET_RATIO,
            parley: graphql,
            baseline: bare,
        },
    ];
    Ok((rows, environment))
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
