//! The `startup` scenario (8): Parley's `serve` path in a child process, on a fresh database each
//! round, as an operator starts it (`PARLEY_DATABASE_URL` and `PARLEY_LISTEN`, Parley's defaults
//! otherwise, dispatcher included).
//!
//! - **Cold start:** from spawning the process to the first 200 from `GET /readyz`, migrations of
//!   the empty database included; the median over [`ROUNDS`] rounds. Target ≤ 1 s on SQLite.
//! - **Idle RSS:** [`SETTLE`] after `/readyz` answered, with nothing connected, the process's
//!   `VmRSS` (median over rounds) and `VmHWM` (its peak, the largest over rounds) from `/proc`.
//!   Target ≤ 40 MB.
//!
//! The child is this program re-run as `serve-like-parley` ([`serve`]): what `parley serve` runs
//! (`Config::load`, `Application::build`, serve until SIGTERM) without the `parley` binary's
//! log subscriber. Building the `parley` binary from here resolves the workspace's features
//! differently from this program and rebuilt Parley and half its dependencies in the run.

use std::{
    net::{SocketAddr, TcpListener},
    path::Path,
    process::Stdio,
    time::{Duration, Instant},
};

use anyhow::Context;
use tokio::process::{Child, Command};

use crate::{
    RunArgs,
    backend::{self, Backend, Site},
    report::{Check, Report},
};

/// Starts per backend.
pub const ROUNDS: usize = 5;
/// How long the server idles after `/readyz` before its memory is read.
pub const SETTLE: Duration = Duration::from_secs(2);
const COLD_START_TARGET: Duration = Duration::from_secs(1);
const IDLE_RSS_TARGET_MB: f64 = 40.0;
/// How often `/readyz` is asked while the server starts.
const POLL: Duration = Duration::from_millis(2);

pub async fn run(args: &RunArgs, report: &mut Report) -> anyhow::Result<()> {
    let binary = std::env::current_exe()?;
    for mut site in backend::sites("startup", &args.postgres_url, report).await? {
        let measured = measure(&mut site, &binary).await;
        let backend = site.backend;
        site.clean_up().await;
        let starts = measured.with_context(|| format!("startup on {backend}"))?;
        report.checks.extend(checks(backend, &starts));
    }
    Ok(())
}

/// What one start measured.
struct Start {
    ready: Duration,
    rss_kib: u64,
    hwm_kib: u64,
}

async fn measure(site: &mut Site, binary: &Path) -> anyhow::Result<Vec<Start>> {
    // Its own working directory: no `parley.toml` but the one Parley would not find.
    let dir = std::env::temp_dir().join(format!("parley-bench-serve-{}", uuid::Uuid::now_v7()));
    std::fs::create_dir_all(&dir).with_context(|| format!("cannot create {}", dir.display()))?;
    let mut starts = Vec::with_capacity(ROUNDS);
    let mut outcome = Ok(());
    for round in 1..=ROUNDS {
        let database_url = site.fresh_database().await?;
        match start_once(binary, &database_url, &dir).await {
            Ok(start) => {
                eprintln!(
                    "startup on {}, round {round}/{ROUNDS}: ready in {} ms, VmRSS {:.1} MB, \
                     VmHWM {:.1} MB",
                    site.backend,
                    start.ready.as_millis(),
                    mb(start.rss_kib),
                    mb(start.hwm_kib)
                );
                starts.push(start);
            }
            Err(error) => {
                outcome = Err(error);
                break;
            }
        }
    }
    std::fs::remove_dir_all(&dir).ok();
    outcome.map(|()| starts)
}

async fn start_once(binary: &Path, database_url: &str, dir: &Path) -> anyhow::Result<Start> {
    let addr = free_address()?;
    let log_path = dir.join("parley-serve.log");
    let log = std::fs::File::create(&log_path)?;
    let mut command = Command::new(binary);
    command
        .arg("serve-like-parley")
        .current_dir(dir)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(log)
        .kill_on_drop(true);
    // Only what this scenario sets: nothing from the caller's environment configures Parley.
    for (name, _) in std::env::vars_os() {
        if name.to_string_lossy().starts_with("PARLEY_") {
            command.env_remove(name);
        }
    }
    command
        .env("PARLEY_DATABASE_URL", database_url)
        .env("PARLEY_LISTEN", addr.to_string());
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(1))
        .build()?;
    let readyz = format!("http://{addr}/readyz");

    let spawned = Instant::now();
    let mut child = command.spawn().context("cannot start Parley")?;
    let ready = loop {
        if let Some(status) = child.try_wait()? {
            let log = std::fs::read_to_string(&log_path).unwrap_or_default();
            anyhow::bail!("Parley exited ({status}) before /readyz answered: {log}");
        }
        if spawned.elapsed() > Duration::from_secs(30) {
            anyhow::bail!("Parley did not answer /readyz within 30 s");
        }
        match client.get(&readyz).send().await {
            Ok(response) if response.status() == reqwest::StatusCode::OK => {
                break spawned.elapsed();
            }
            _ => tokio::time::sleep(POLL).await,
        }
    };
    drop(client);
    tokio::time::sleep(SETTLE).await;
    let memory = memory(&child);
    stop(child).await;
    let (rss_kib, hwm_kib) = memory?;
    Ok(Start {
        ready,
        rss_kib,
        hwm_kib,
    })
}

/// A port nothing listens on now: the operating system's pick, released for the child to take.
fn free_address() -> anyhow::Result<SocketAddr> {
    let listener = TcpListener::bind("127.0.0.1:0")?;
    Ok(listener.local_addr()?)
}

/// `VmRSS` and `VmHWM` of the child, in KiB.
fn memory(child: &Child) -> anyhow::Result<(u64, u64)> {
    let pid = child.id().context("Parley has exited")?;
    let status = std::fs::read_to_string(format!("/proc/{pid}/status"))?;
    let field = |name: &str| -> anyhow::Result<u64> {
        status
            .lines()
            .find_map(|line| line.strip_prefix(name))
            .and_then(|value| value.split_whitespace().next())
            .with_context(|| format!("no {name} in /proc/{pid}/status"))?
            .parse()
            .with_context(|| format!("{name} is not a number"))
    };
    Ok((field("VmRSS:")?, field("VmHWM:")?))
}

/// SIGTERM, as an operator stops it; killed if it has not exited within 10 s.
async fn stop(mut child: Child) {
    if let Some(pid) = child.id() {
        let _ = std::process::Command::new("kill")
            .args(["-TERM", &pid.to_string()])
            .status();
    }
    if tokio::time::timeout(Duration::from_secs(10), child.wait())
        .await
        .is_err()
    {
        let _ = child.kill().await;
    }
}

/// `serve-like-parley`: what `parley serve` runs, until SIGTERM or SIGINT.
pub async fn serve() -> anyhow::Result<()> {
    let config = parley::config::Config::load(Path::new("parley.toml"))?;
    let app = parley::app::Application::build(config).await?;
    let mut terminate = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())?;
    app.run_until_stopped(async move {
        tokio::select! {
            _ = tokio::signal::ctrl_c() => {}
            _ = terminate.recv() => {}
        }
    })
    .await?;
    Ok(())
}

fn checks(backend: Backend, starts: &[Start]) -> Vec<Check> {
    let mut ready: Vec<Duration> = starts.iter().map(|start| start.ready).collect();
    ready.sort();
    let mut rss: Vec<u64> = starts.iter().map(|start| start.rss_kib).collect();
    rss.sort_unstable();
    let hwm = starts.iter().map(|start| start.hwm_kib).max().unwrap_or(0);
    let median_ready = median(&ready).unwrap_or_default();
    let median_rss = median(&rss).unwrap_or_default();
    let rounds: Vec<String> = starts
        .iter()
        .map(|start| start.ready.as_millis().to_string())
        .collect();
    let (start_target, start_met) = match backend {
        Backend::Sqlite => ("≤ 1 s".to_owned(), Some(median_ready <= COLD_START_TARGET)),
        Backend::Postgres => ("(target is on SQLite)".to_owned(), None),
    };
    vec![
        Check {
            name: format!(
                "cold start of Parley's `serve` to /readyz 200, fresh database and migrations \
                 ({backend}), median of {} (per round: {} ms)",
                starts.len(),
                rounds.join(", ")
            ),
            parley: format!("{} ms", median_ready.as_millis()),
            baseline: "—".into(),
            target: start_target,
            met: start_met,
        },
        Check {
            name: format!(
                "idle RSS of Parley's `serve` {} s after /readyz ({backend}): VmRSS median / \
                 VmHWM peak",
                SETTLE.as_secs()
            ),
            parley: format!("{:.1} / {:.1} MB", mb(median_rss), mb(hwm)),
            baseline: "—".into(),
            target: format!("≤ {IDLE_RSS_TARGET_MB:.0} MB"),
            met: Some(mb(median_rss) <= IDLE_RSS_TARGET_MB),
        },
    ]
}

/// The middle value of sorted `values` (the lower one of the two middle ones).
fn median<T: Copy>(values: &[T]) -> Option<T> {
    values.get(values.len().saturating_sub(1) / 2).copied()
}

/// KiB to MB (MiB, as the rest of the report).
fn mb(kib: u64) -> f64 {
    kib as f64 / 1024.0
}
