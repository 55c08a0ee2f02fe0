//! The results: one [`Row`] per scenario and backend measured against a baseline server, and one
//! [`DispatchRow`] per backend and Graph API latency measured against a reference rate, printed as
//! two tables and written into the generated section of `BENCHMARKS.md`.

use std::{fmt::Write as _, path::Path, time::Duration};

use anyhow::Context;

use crate::{RunArgs, backend::Backend, load};

/// Opens the part of BENCHMARKS.md this program rewrites; everything outside it is kept.
const BEGIN: &str = "<!-- parley-bench results: begin (generated; edit outside these markers) -->";
const END: &str = "<!-- parley-bench results: end -->";

/// What one server did over all rounds of one scenario on one backend.
#[derive(Clone, Debug, Default)]
pub struct Measured {
    /// Accepted requests per second, per round.
    pub rates: Vec<f64>,
    pub latencies: Vec<Duration>,
    pub errors: u64,
    pub error_samples: Vec<String>,
}

impl Measured {
    /// Adds one round's numbers.
    pub fn add(&mut self, round: load::Round) {
        self.rates.push(round.rate());
        self.latencies.extend(round.latencies);
        self.errors += round.errors;
        self.error_samples.extend(round.error_samples);
        self.error_samples.truncate(load::ERROR_SAMPLES);
    }

    /// The median over rounds of requests per second: a slow or fast outlier round moves it less
    /// than it would move a mean.
    pub fn median_rate(&self) -> f64 {
        let mut rates = self.rates.clone();
        rates.sort_by(f64::total_cmp);
        match rates.len() {
            0 => 0.0,
            n if n % 2 == 1 => rates[n / 2],
            n => (rates[n / 2 - 1] + rates[n / 2]) / 2.0,
        }
    }

    /// The `p`th percentile (0–100, nearest rank) of all measured latencies, in milliseconds.
    pub fn percentile_ms(&self, p: f64) -> f64 {
        let mut latencies = self.latencies.clone();
        latencies.sort();
        if latencies.is_empty() {
            return 0.0;
        }
        let rank = ((p / 100.0) * latencies.len() as f64).ceil() as usize;
        latencies[rank.clamp(1, latencies.len()) - 1].as_secs_f64() * 1000.0
    }

    fn latency_cell(&self) -> String {
        format!(
            "{:.1} / {:.1}",
            self.percentile_ms(50.0),
            self.percentile_ms(99.0)
        )
    }

    fn rounds_cell(&self) -> String {
        let rates: Vec<String> = self.rates.iter().map(|rate| format!("{rate:.0}")).collect();
        rates.join(", ")
    }
}

/// One scenario on one backend: Parley next to its baseline.
#[derive(Debug)]
pub struct Row {
    pub scenario: &'static str,
    pub backend: Backend,
    /// Parley must reach at least this fraction of the baseline's median rate.
    pub target_ratio: f64,
    pub parley: Measured,
    pub baseline: Measured,
}

impl Row {
    /// Parley's median rate over the baseline's.
    pub fn ratio(&self) -> f64 {
        self.parley.median_rate() / self.baseline.median_rate()
    }

    /// At least the target ratio, and every Parley request accepted: a fast error is no send.
    pub fn meets_target(&self) -> bool {
        self.ratio() >= self.target_ratio && self.parley.errors == 0
    }
}

/// A measurement that is not a rate: memory, latency, with its target.
#[derive(Debug)]
pub struct Check {
    pub name: String,
    pub parley: String,
    pub baseline: String,
    pub target: String,
    /// `None` when the measurement is reported without a target of its own.
    pub met: Option<bool>,
}

/// What a dispatch rate is compared with.
#[derive(Debug, Clone, Copy)]
pub enum DispatchReference {
    /// Parley's accepted-sends rate on the same backend, measured by `sends` in the same run:
    /// the dispatcher should keep up with at least this fraction of what the API takes in.
    AcceptedSends { target_ratio: f64 },
    /// What `concurrency` sends in flight allow when each takes `latency`, or the sender's
    /// `messages_per_second` if that is lower: the rate should be within `tolerance` of it.
    Ceiling {
        concurrency: usize,
        messages_per_second: u32,
        tolerance: f64,
    },
}

/// The dispatcher on one backend against a fake Graph API answering after `latency`.
#[derive(Debug)]
pub struct DispatchRow {
    pub backend: Backend,
    pub latency: Duration,
    /// Sends queued, then dispatched, per round.
    pub sends: u64,
    /// Sends brought to ACCEPTED per second, per round (in `rates`).
    pub dispatched: Measured,
    pub reference: DispatchReference,
}

impl DispatchRow {
    /// The rate the dispatcher is compared with, when it is known in this run.
    fn reference_rate(&self, rows: &[Row]) -> Option<f64> {
        match self.reference {
            DispatchReference::AcceptedSends { .. } => rows
                .iter()
                .find(|row| row.scenario == crate::sends::SCENARIO && row.backend == self.backend)
                .map(|row| row.parley.median_rate()),
            DispatchReference::Ceiling {
                concurrency,
                messages_per_second,
                ..
            } => Some(
                (concurrency as f64 / self.latency.as_secs_f64())
                    .min(f64::from(messages_per_second)),
            ),
        }
    }

    fn reference_cell(&self) -> String {
        match self.reference {
            DispatchReference::AcceptedSends { .. } => "accepted sends (`sends`)".into(),
            DispatchReference::Ceiling {
                concurrency,
                messages_per_second,
                ..
            } => format!(
                "min({concurrency} in flight ÷ {} s, sender {messages_per_second}/s)",
                self.latency.as_secs_f64()
            ),
        }
    }

    /// The ratio, the target and whether it is met; `None` when the reference was not measured.
    fn judged(&self, rows: &[Row]) -> (Option<f64>, String, Option<bool>) {
        let ratio = self
            .reference_rate(rows)
            .map(|reference| self.dispatched.median_rate() / reference);
        let failed = self.dispatched.errors > 0;
        match self.reference {
            DispatchReference::AcceptedSends { target_ratio } => (
                ratio,
                format!("≥ {target_ratio}×"),
                ratio.map(|ratio| ratio >= target_ratio && !failed),
            ),
            DispatchReference::Ceiling { tolerance, .. } => (
                ratio,
                format!("within {:.0}%", tolerance * 100.0),
                ratio.map(|ratio| (ratio - 1.0).abs() <= tolerance && !failed),
            ),
        }
    }
}

/// Everything measured in this run.
#[derive(Debug)]
pub struct Report {
    /// The machine's 1-minute load average before the run: other work moves every number.
    load_before: String,
    pub rows: Vec<Row>,
    pub checks: Vec<Check>,
    pub dispatch: Vec<DispatchRow>,
    /// What the numbers were measured on, beyond the machine: database versions and settings.
    pub environment: Vec<String>,
    /// Backends skipped and other things a reader must know.
    pub notes: Vec<String>,
    /// How long each scenario took, and the whole run.
    pub wall_times: Vec<(String, Duration)>,
    pub wall_time: Duration,
}

impl Report {
    /// An empty report; call before measuring, so that it notes how busy the machine was.
    pub fn new() -> Self {
        Self {
            load_before: load_average(),
            rows: Vec::new(),
            checks: Vec::new(),
            dispatch: Vec::new(),
            environment: Vec::new(),
            notes: Vec::new(),
            wall_times: Vec::new(),
            wall_time: Duration::ZERO,
        }
    }

    /// The results tables, in Markdown (they read as well on a terminal).
    pub fn tables(&self) -> String {
        let mut tables = String::new();
        if !self.rows.is_empty() {
            tables.push_str(&self.table());
        }
        if !self.dispatch.is_empty() {
            if !tables.is_empty() {
                tables.push('\n');
            }
            tables.push_str(&self.dispatch_table());
        }
        if !self.checks.is_empty() {
            if !tables.is_empty() {
                tables.push('\n');
            }
            tables.push_str(&self.checks_table());
        }
        tables
    }

    /// The dispatch rows: sends brought to ACCEPTED per second next to what they are held to.
    fn dispatch_table(&self) -> String {
        let mut table = String::from(
            "| scenario | backend | Graph API latency | dispatched/s | compared with | reference/s | \
             ratio | target |\n\
             |---|---|---:|---:|---|---:|---:|---|\n",
        );
        for row in &self.dispatch {
            let (ratio, target, met) = row.judged(&self.rows);
            let _ = writeln!(
                table,
                "| dispatch | {} | {} ms | {:.0} | {} | {} | {} | {target} {} |",
                row.backend,
                row.latency.as_millis(),
                row.dispatched.median_rate(),
                row.reference_cell(),
                row.reference_rate(&self.rows)
                    .map_or_else(|| "—".into(), |rate| format!("{rate:.0}")),
                ratio.map_or_else(|| "—".into(), |ratio| format!("{ratio:.2}×")),
                match met {
                    Some(true) => "✅",
                    Some(false) => "❌",
                    None => "(run `all`)",
                },
            );
        }
        table
    }

    /// The sends table: Parley next to its baseline.
    fn table(&self) -> String {
        let mut table = String::from(
            "| scenario | backend | Parley req/s | baseline req/s | ratio | target | \
             Parley p50/p99 ms | baseline p50/p99 ms |\n\
             |---|---|---:|---:|---:|---|---:|---:|\n",
        );
        for row in &self.rows {
            let _ = writeln!(
                table,
                "| {} | {} | {:.0} | {:.0} | {:.2}× | ≥ {}× {} | {} | {} |",
                row.scenario,
                row.backend,
                row.parley.median_rate(),
                row.baseline.median_rate(),
                row.ratio(),
                row.target_ratio,
                if row.meets_target() { "✅" } else { "❌" },
                row.parley.latency_cell(),
                row.baseline.latency_cell(),
            );
        }
        table
    }

    /// Measurements that are not rates: memory and latency against their targets.
    fn checks_table(&self) -> String {
        let mut table =
            String::from("| measurement | Parley | baseline | target |\n|---|---:|---:|---|\n");
        for check in &self.checks {
            let _ = writeln!(
                table,
                "| {} | {} | {} | {} {} |",
                check.name,
                check.parley,
                check.baseline,
                check.target,
                match check.met {
                    Some(true) => "✅",
                    Some(false) => "❌",
                    None => "",
                },
            );
        }
        table
    }

    /// Per-round rates and errors, under the table.
    fn details(&self) -> String {
        let mut details = String::new();
        for row in &self.rows {
            let _ = writeln!(
                details,
                "- {} on {}: Parley {} req/s; baseline {} req/s per round.",
                row.scenario,
                row.backend,
                row.parley.rounds_cell(),
                row.baseline.rounds_cell()
            );
            for (server, measured) in [("Parley", &row.parley), ("baseline", &row.baseline)] {
                if measured.errors > 0 {
                    let _ = writeln!(
                        details,
                        "  - {server}: {} errors, e.g. `{}`",
                        measured.errors,
                        measured.error_samples.join("`, `")
                    );
                }
            }
        }
        if !self.rows.is_empty()
            && self
                .rows
                .iter()
                .all(|row| row.parley.errors == 0 && row.baseline.errors == 0)
        {
            details.push_str(
                "- Every measured request was answered as expected (202 for REST sends, 200 \
                 without `errors` for GraphQL).\n",
            );
        }
        for row in &self.dispatch {
            let _ = writeln!(
                details,
                "- dispatch on {} at {} ms: {} sends/s per round.",
                row.backend,
                row.latency.as_millis(),
                row.dispatched.rounds_cell()
            );
            if row.dispatched.errors > 0 {
                let _ = writeln!(
                    details,
                    "  - {} sends not ACCEPTED, e.g. `{}`",
                    row.dispatched.errors,
                    row.dispatched.error_samples.join("`, `")
                );
            }
        }
        for note in &self.notes {
            let _ = writeln!(details, "- {note}");
        }
        details
    }

    fn section(&self, command: &str, args: &RunArgs) -> String {
        let mut section = format!("{BEGIN}\n## Results\n\n```sh\n{command}\n```\n\n");
        let _ = writeln!(
            section,
            "- Machine: {}; 1-minute load average {} before the run.",
            machine(),
            self.load_before
        );
        let scenarios: Vec<String> = self
            .wall_times
            .iter()
            .map(|(scenario, took)| format!("{scenario} {:.0} s", took.as_secs_f64()))
            .collect();
        let _ = writeln!(
            section,
            "- Wall time: {:.1} min ({}), setup and teardown included.",
            self.wall_time.as_secs_f64() / 60.0,
            scenarios.join(", ")
        );
        for line in &self.environment {
            let _ = writeln!(section, "- {line}.");
        }
        if !self.rows.is_empty() {
            let _ = writeln!(
                section,
                "- Load: {} rounds of {} requests per server ({} for the trivial query, {} for the \
                 inbox), Parley \
                 and baseline rounds alternating, {} concurrent workers on one keep-alive \
                 HTTP/1.1 client in the same process, after {} warm-up requests per server. req/s \
                 is the median over rounds; latencies are over every measured request. The inbox \
                 is read from a workspace seeded with {} conversations and {} messages.",
                args.rounds,
                args.requests,
                args.requests * crate::reads::TRIVIAL_SCALE,
                (args.requests / crate::reads::INBOX_DIVISOR).max(1),
                args.concurrency,
                load::WARM_UP,
                crate::reads::CONVERSATIONS,
                crate::reads::MESSAGES,
            );
        }
        if let Some(row) = self.dispatch.first() {
            let _ = writeln!(
                section,
                "- Dispatch: {} rounds per backend and latency; each queues its sends (each to \
                 its own recipient) through shape A with dispatch off, then starts a dispatching \
                 Parley on the same database and times it from its start to the last send \
                 ACCEPTED ({} sends a round without latency, {} with). Parley's defaults \
                 (dispatch concurrency {}, pair spacing {} ms); the sender's throughput is raised \
                 to {}/s so that concurrency is the cap. dispatched/s is the median over rounds.",
                crate::dispatch::ROUNDS,
                self.dispatch
                    .iter()
                    .find(|row| row.latency.is_zero())
                    .map_or(row.sends, |row| row.sends),
                self.dispatch
                    .iter()
                    .find(|row| !row.latency.is_zero())
                    .map_or(row.sends, |row| row.sends),
                parley::config::Config::default().dispatch_concurrency,
                parley::config::Config::default().pair_spacing_ms,
                crate::dispatch::MESSAGES_PER_SECOND,
            );
        }
        section.push('\n');
        section.push_str(&self.tables());
        section.push('\n');
        section.push_str(&self.details());
        section.push_str(END);
        section
    }

    /// Replaces the generated section of the file at `path`, keeping the text around it; creates
    /// the file with a title and an empty reading when it does not exist.
    pub fn write_markdown(&self, path: &Path, command: &str, args: &RunArgs) -> anyhow::Result<()> {
        let section = self.section(command, args);
        let current = match std::fs::read_to_string(path) {
            Ok(current) => current,
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => String::new(),
            Err(error) => return Err(error).context("cannot read the current file"),
        };
        let updated = match (current.find(BEGIN), current.find(END)) {
            (Some(begin), Some(end)) if begin < end => format!(
                "{}{section}{}",
                &current[..begin],
                &current[end + END.len()..]
            ),
            _ if current.trim().is_empty() => {
                format!("# Benchmarks\n\n{section}\n\n## Reading\n\n(to be written)\n")
            }
            _ => anyhow::bail!("it has no generated section between {BEGIN} and {END}"),
        };
        std::fs::write(path, updated)?;
        Ok(())
    }
}

/// CPU model, cores, kernel and date: enough to tell runs on different hosts apart.
fn machine() -> String {
    let model = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|cpuinfo| {
            cpuinfo
                .lines()
                .find(|line| line.starts_with("model name"))
                .and_then(|line| line.split_once(':'))
                .map(|(_, model)| model.trim().to_owned())
        })
        .unwrap_or_else(|| "unknown CPU".into());
    let cores = std::thread::available_parallelism().map_or(0, usize::from);
    let kernel = std::process::Command::new("uname")
        .arg("-sr")
        .output()
        .ok()
        .map(|output| String::from_utf8_lossy(&output.stdout).trim().to_owned())
        .unwrap_or_else(|| "unknown kernel".into());
    let date = chrono::Utc::now().format("%Y-%m-%d %H:%M UTC");
    format!("{model}, {cores} cores, {kernel}, {date}")
}

fn load_average() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .ok()
        .and_then(|loadavg| loadavg.split_whitespace().next().map(str::to_owned))
        .unwrap_or_else(|| "unknown".into())
}
