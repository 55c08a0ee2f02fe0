//! `parley-bench`: measures Parley against a bare baseline doing the same database work, both in
//! the same run on the same machine, so that the ratio between them means something on any host.
//! Each scenario is a subcommand; `all` runs every scenario. `--write-markdown` rewrites the
//! results section of `BENCHMARKS.md`.

mod backend;
mod baseline;
mod dispatch;
mod fake_graph;
mod intake;
mod load;
mod parley_server;
mod read_baseline;
mod reads;
mod report;
mod sends;
mod startup;
mod subscribers;

use std::path::PathBuf;

use anyhow::Context;
use clap::{Args, Parser, Subcommand};

use crate::report::Report;

#[derive(Parser)]
#[command(
    name = "parley-bench",
    about = "Parley against a bare baseline, measured in one run"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Accepted sends per second through `POST /api/v1/messages/send` (shape A, API key) and
    /// through GraphQL `sendMessage` (same key) against a bare axum handler that writes the same
    /// rows in one transaction.
    Sends(RunArgs),
    /// A trivial GraphQL query against a bare axum JSON handler, and the inbox's first page (50
    /// conversations with contact and last message) against one hand-written SQL query.
    Reads(RunArgs),
    /// Cold start of Parley's `serve` to `/readyz` on a fresh database, and its idle RSS.
    Startup(RunArgs),
    /// Signed status webhooks per second (verified, stored, applied) against Parley's accepted
    /// sends per second on the same server.
    Intake(RunArgs),
    /// 10,000 idle subscribers' memory, and fan-out latency to 1,000 subscribers against a bare
    /// tokio broadcast websocket server.
    Subscribers(RunArgs),
    /// Queued sends brought to ACCEPTED per second by the dispatcher, against a fake Graph API
    /// answering at once (compared with `sends`, when run by `all`) and after 200 ms (compared
    /// with dispatch concurrency ÷ 0.2 s).
    Dispatch(RunArgs),
    /// Every scenario.
    All(RunArgs),
    /// Parley in a child process, for the subscribers scenario (internal).
    #[command(hide = true)]
    ServeChild { database_url: String },
    /// What `parley serve` runs, in a child process, for the startup scenario (internal).
    #[command(hide = true)]
    ServeLikeParley,
    /// The broadcast baseline in a child process, for the subscribers scenario (internal).
    #[command(hide = true)]
    BroadcastChild,
}

/// What can be measured; `all` runs them in this order.
#[derive(Clone, Copy, Debug)]
enum Scenario {
    Sends,
    Reads,
    Dispatch,
    Intake,
    Subscribers,
    Startup,
}

impl Scenario {
    /// `sends` first: `dispatch` and `intake` are compared with its rate.
    const ALL: &[Scenario] = &[
        Scenario::Sends,
        Scenario::Reads,
        Scenario::Dispatch,
        Scenario::Intake,
        Scenario::Subscribers,
        Scenario::Startup,
    ];
}

/// Options shared by every scenario.
#[derive(Args, Clone, Debug)]
pub struct RunArgs {
    /// Measured rounds per server in `sends`, `intake` and `reads` (Parley and baseline rounds
    /// alternate); `dispatch` runs three per backend and latency, `startup` five per backend.
    #[arg(long, default_value_t = 5, value_parser = clap::value_parser!(u32).range(1..))]
    pub rounds: u32,
    /// Requests per round (trivial queries: four times as many; inbox pages: half as many).
    #[arg(long, default_value_t = 1200, value_parser = clap::value_parser!(u32).range(1..))]
    pub requests: u32,
    /// Concurrent client workers.
    #[arg(long, default_value_t = 16, value_parser = clap::value_parser!(u32).range(1..=1024))]
    pub concurrency: u32,
    /// A Postgres server on which fresh databases may be created; skipped when unreachable.
    #[arg(long, default_value = "postgres://postgres@127.0.0.1:5432/postgres")]
    pub postgres_url: String,
    /// Rewrite the results section of BENCHMARKS.md at the workspace root.
    #[arg(long)]
    pub write_markdown: bool,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    let (args, scenarios) = match &cli.command {
        Command::Sends(args) => (args, &[Scenario::Sends][..]),
        Command::Reads(args) => (args, &[Scenario::Reads][..]),
        Command::Startup(args) => (args, &[Scenario::Startup][..]),
        Command::Intake(args) => (args, &[Scenario::Intake][..]),
        Command::Subscribers(args) => (args, &[Scenario::Subscribers][..]),
        Command::Dispatch(args) => (args, &[Scenario::Dispatch][..]),
        Command::All(args) => (args, Scenario::ALL),
        Command::ServeChild { database_url } => {
            return subscribers::serve_child(database_url).await;
        }
        Command::BroadcastChild => return subscribers::broadcast_child().await,
        Command::ServeLikeParley => return startup::serve().await,
    };
    let mut report = Report::new();
    let started = std::time::Instant::now();
    for scenario in scenarios {
        let scenario_started = std::time::Instant::now();
        match scenario {
            Scenario::Sends => sends::run(args, &mut report).await?,
            Scenario::Reads => reads::run(args, &mut report).await?,
            Scenario::Startup => startup::run(args, &mut report).await?,
            Scenario::Intake => intake::run(args, &mut report).await?,
            Scenario::Subscribers => subscribers::run(&mut report).await?,
            Scenario::Dispatch => dispatch::run(args, &mut report).await?,
        }
        let took = scenario_started.elapsed();
        eprintln!("{scenario:?} took {:.0} s", took.as_secs_f64());
        report
            .wall_times
            .push((format!("{scenario:?}").to_lowercase(), took));
    }
    report.wall_time = started.elapsed();
    println!("{}", report.tables());
    for note in &report.notes {
        println!("note: {note}");
    }
    if args.write_markdown {
        let path = benchmarks_md();
        report
            .write_markdown(&path, &command_line(), args)
            .with_context(|| format!("cannot write {}", path.display()))?;
        println!("wrote {}", path.display());
    }
    Ok(())
}

/// `BENCHMARKS.md` at the workspace root, wherever the program is started from.
fn benchmarks_md() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .map_or_else(
            || PathBuf::from("BENCHMARKS.md"),
            |root| root.join("BENCHMARKS.md"),
        )
}

/// The command as it was given, for the report; passwords in URLs are masked.
fn command_line() -> String {
    let args: Vec<String> = std::env::args()
        .skip(1)
        .map(|arg| mask_password(&arg))
        .collect();
    format!("cargo run --release -p parley-bench -- {}", args.join(" "))
}

fn mask_password(arg: &str) -> String {
    match reqwest::Url::parse(arg) {
        Ok(mut url) if url.password().is_some() => {
            // Only fails for URLs that cannot carry a password, which this one just did.
            let _ = url.set_password(Some("***"));
            url.to_string()
        }
        _ => arg.to_owned(),
    }
}
