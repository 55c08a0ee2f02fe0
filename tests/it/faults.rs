//! Faults of the database itself: Postgres restarted under load, and storage that fills up. Both
//! must end in clean 503s — never a 500, a hang or a panic — and in a server that recovers by
//! itself without losing anything it accepted.
//!
//! Each test brings its own database (a private Postgres cluster, SQLite on a small tmpfs), so it
//! runs the same in the SQLite and the Postgres pass, and never disturbs the shared server. They
//! need root: to run Postgres as `postgres` and to mount tmpfs.

use std::{
    collections::HashSet,
    io::Write,
    os::unix::fs::MetadataExt,
    path::{Path, PathBuf},
    sync::{
        Arc, Mutex,
        atomic::{AtomicBool, Ordering},
    },
    time::Duration,
};

use entity::send_attempt::{self, SendAttemptState};
use sea_orm::{ConnectionTrait, EntityTrait};
use serde_json::{Value, json};
use tempfile::TempDir;
use tokio::{process::Command, task::JoinHandle, time::Instant};

use crate::{
    fake_graph::FakeGraph,
    helpers::{Session, TestApp, TestDb, error_code},
};

const SEND: &str = "/api/v1/messages/send";
/// Longest a request may take, outage or not; with a 1 s pool acquire timeout a request that
/// finds the database gone answers well within it.
const REQUEST_BOUND: Duration = Duration::from_secs(5);

#[tokio::test]
async fn postgres_restarted_mid_load_answers_503_loses_nothing_and_recovers() {
    let cluster = Cluster::create().await;
    let fake = FakeGraph::start().await;
    let app = TestApp::spawn_on(TestDb::at(cluster.url()), |config| {
        config.dispatch_enabled = true;
        config.graph_api_url = fake.base_url();
        config.pair_spacing_ms = 0;
        config.database_acquire_timeout_ms = 1_000;
    })
    .await;
    let owner = cloud_workspace(&app).await;
    let load = Load::start(&app, &owner.token, 4);
    load.until("sends are queued", |answers| {
        accepted(answers).count() >= 20
    })
    .await;

    // A fast stop rolls back what is open and disconnects everyone; an immediate one is a crash,
    // recovered from on the next start.
    for mode in ["fast", "immediate"] {
        cluster.stop(mode).await;
        let down = Instant::now();
        load.until("sends answer during the outage", |answers| {
            answers
                .iter()
                .filter(|answer| answer.started >= down)
                .count()
                >= 8
        })
        .await;
        let (status, _) = app.rest_get("/readyz", None).await;
        assert_eq!(status, 503, "not ready while Postgres is {mode}-stopped");
        let listed = app
            .graphql_as(&owner.token, "{ senders { nodes { id } } }", json!({}))
            .await;
        assert_eq!(error_code(&listed), Some("service_unavailable"), "{listed}");
        let restarting = Instant::now();
        cluster.start().await;
        let up = Instant::now();
        load.until("sends are queued again after the restart", |answers| {
            accepted(answers).any(|answer| answer.started >= up)
        })
        .await;
        let answers = load.answers();
        let during: Vec<_> = answers
            .iter()
            .filter(|answer| answer.started >= down && answer.finished <= restarting)
            .collect();
        assert!(!during.is_empty(), "no send answered during the outage");
        for answer in during {
            assert_eq!(answer.status, 503, "during the outage: {answer:?}");
            assert_eq!(answer.body["error"]["code"], "service_unavailable");
        }
    }
    let answers = load.stop().await;
    let (status, _) = app.rest_get("/readyz", None).await;
    assert_eq!(status, 200);
    for answer in &answers {
        let clean = answer.status == 202
            || (answer.status == 503 && answer.body["error"]["code"] == "service_unavailable");
        assert!(clean, "neither queued nor a clean 503: {answer:?}");
        assert!(answer.finished - answer.started < REQUEST_BOUND);
    }

    // Nothing accepted is lost, and the dispatcher, alive after both outages, delivers every
    // send exactly once: the ones answered 202 and any whose answer was lost with the connection.
    let queued: HashSet<String> = accepted(&answers)
        .map(|answer| answer.body["sendAttemptId"].as_str().unwrap().to_owned())
        .collect();
    let deadline = Instant::now() + Duration::from_secs(20);
    let stored = loop {
        let attempts = send_attempt::Entity::find().all(&app.db).await.unwrap();
        let pending: Vec<_> = attempts
            .iter()
            .filter(|attempt| attempt.state != SendAttemptState::Accepted)
            .map(|attempt| (attempt.id, attempt.state, attempt.error_code.clone()))
            .collect();
        if pending.is_empty() {
            break attempts;
        }
        assert!(
            Instant::now() < deadline,
            "not delivered within 20 s: {pending:?}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    let stored: HashSet<String> = stored
        .iter()
        .map(|attempt| attempt.id.to_string())
        .collect();
    let missing: Vec<_> = queued.difference(&stored).collect();
    assert!(
        missing.is_empty(),
        "answered 202 but not stored: {missing:?}"
    );
    let sent = fake.callback_counts();
    for id in &stored {
        assert_eq!(
            sent.get(id),
            Some(&1),
            "attempt {id} reached the Graph API once"
        );
    }
    fake.assert_all_valid();
}

#[tokio::test]
async fn sqlite_out_of_disk_space_answers_503_and_recovers_when_space_is_freed() {
    let disk = Tmpfs::mount("16m");
    let url = format!("sqlite://{}/parley.db?mode=rwc", disk.path().display());
    let app = TestApp::spawn_on(TestDb::at(url), |_| {}).await;
    let owner = app.sign_up("Acme", "ada@acme.example").await;
    app.sandbox_sender(&owner, "+917000000001").await;
    assert_refused_while_full_then_recovers(&app, &owner, &disk).await;
}

#[tokio::test]
async fn postgres_out_of_disk_space_answers_503_and_recovers_when_space_is_freed() {
    // The tablespace's disk must outlive the cluster: declared first, dropped last.
    let disk = Tmpfs::mount("16m");
    let cluster = Cluster::create().await;
    let app = TestApp::spawn_on(TestDb::at(cluster.url()), |_| {}).await;
    let owner = app.sign_up("Acme", "ada@acme.example").await;
    app.sandbox_sender(&owner, "+917000000001").await;
    // Only the tables a send grows live on the small disk: Postgres's own files and its WAL stay
    // where they are, as on a server whose data volume fills up.
    let location = disk.path().join("tablespace");
    std::fs::create_dir(&location).unwrap();
    chown_to_postgres(&location).await;
    // As the cluster's superuser: Parley's own pool runs as a role that may not do this.
    let admin = sea_orm::Database::connect(cluster.url()).await.unwrap();
    for statement in [
        format!("CREATE TABLESPACE small LOCATION '{}'", location.display()),
        "ALTER TABLE messages SET TABLESPACE small".into(),
        "ALTER TABLE contacts SET TABLESPACE small".into(),
    ] {
        admin.execute_unprepared(&statement).await.unwrap();
    }
    admin.close().await.unwrap();
    assert_refused_while_full_then_recovers(&app, &owner, &disk).await;
    // An ERROR for the statement, not a PANIC that restarts every session.
    let log = cluster.log();
    assert!(log.contains("could not extend file"), "{log}");
    assert!(!log.contains("PANIC"), "{log}");
}

/// Fills `disk`, sends until one is refused, checks the refusal and that the server lives on, then
/// frees the space and checks that sends are queued again.
async fn assert_refused_while_full_then_recovers(app: &TestApp, owner: &Session, disk: &Tmpfs) {
    let (status, first) = send_text(app, &owner.token, 0).await;
    assert_eq!(status, 202, "{first}");
    let filler = disk.fill();

    // Pages with room left take a few more sends before the database needs a new one.
    let mut refused = None;
    for i in 1..=500 {
        let (status, body) = send_text(app, &owner.token, i).await;
        if status != 202 {
            refused = Some((status, body));
            break;
        }
    }
    let (status, body) = refused.expect("500 sends were queued on a full disk");
    assert_eq!(status, 503, "{body}");
    assert_eq!(body["error"]["code"], "service_unavailable", "{body}");
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("cannot store data"),
        "{body}"
    );

    // The server is still up and still reads.
    let (status, _) = app.rest_get("/healthz", None).await;
    assert_eq!(status, 200);
    let path = format!(
        "/api/v1/messages/{}",
        first["sendAttemptId"].as_str().unwrap()
    );
    let (status, polled) = app.rest_get(&path, Some(&owner.token)).await;
    assert_eq!(status, 200, "{polled}");

    std::fs::remove_file(filler).unwrap();
    let (status, body) = send_text(app, &owner.token, 1_000).await;
    assert_eq!(status, 202, "once space is freed: {body}");
}

/// Sends a text of 4000 random characters (so that it does not compress) to a number of its own.
async fn send_text(app: &TestApp, token: &str, i: u32) -> (u16, Value) {
    let text: String = (0..125)
        .map(|_| uuid::Uuid::new_v4().simple().to_string())
        .collect();
    app.rest_post(
        SEND,
        token,
        &[],
        &json!({"to": format!("+14155{i:06}"), "type": "text", "text": text}),
    )
    .await
}

/// A workspace with a Cloud API sender that may send as fast and as much as the test wants.
async fn cloud_workspace(app: &TestApp) -> Session {
    let (owner, id) = crate::dispatch::cloud_sender(app).await;
    let updated = app
        .graphql_as(&owner.token,
            "mutation($id: ID!) { updateSender(id: $id, input: {dailyLimit: 100000, messagesPerSecond: 1000}) { id } }",
            json!({"id": id}))
        .await;
    assert!(updated["data"]["updateSender"].is_object(), "{updated}");
    owner
}

/// One send as its client saw it; `status` 0 when no answer came.
#[derive(Debug, Clone)]
struct Answer {
    started: Instant,
    finished: Instant,
    status: u16,
    body: Value,
}

fn accepted(answers: &[Answer]) -> impl Iterator<Item = &Answer> {
    answers.iter().filter(|answer| answer.status == 202)
}

/// Clients sending over REST, each one request at a time, until stopped.
struct Load {
    answers: Arc<Mutex<Vec<Answer>>>,
    stop: Arc<AtomicBool>,
    clients: Vec<JoinHandle<()>>,
}

impl Load {
    fn start(app: &TestApp, token: &str, clients: u32) -> Self {
        let answers = Arc::new(Mutex::new(Vec::new()));
        let stop = Arc::new(AtomicBool::new(false));
        let clients = (0..clients)
            .map(|client| {
                let (answers, stop) = (answers.clone(), stop.clone());
                let (url, token) = (app.url(SEND), token.to_owned());
                tokio::spawn(async move {
                    let http = reqwest::Client::new();
                    for i in 0.. {
                        if stop.load(Ordering::Relaxed) {
                            break;
                        }
                        let started = Instant::now();
                        let body = json!({"to": format!("+1415{client}{i:06}"), "type": "text",
                                          "text": format!("client {client}, send {i}")});
                        let sent = http
                            .post(&url)
                            .bearer_auth(&token)
                            .timeout(REQUEST_BOUND)
                            .json(&body)
                            .send()
                            .await;
                        let (status, body) = match sent {
                            Ok(response) => (
                                response.status().as_u16(),
                                response.json().await.unwrap_or(Value::Null),
                            ),
                            Err(error) => (0, Value::String(error.to_string())),
                        };
                        let finished = Instant::now();
                        answers.lock().unwrap().push(Answer {
                            started,
                            finished,
                            status,
                            body,
                        });
                        // A steady load rather than as many sends as the machine can take.
                        tokio::time::sleep(Duration::from_millis(20)).await;
                    }
                })
            })
            .collect();
        Self {
            answers,
            stop,
            clients,
        }
    }

    fn answers(&self) -> Vec<Answer> {
        self.answers.lock().unwrap().clone()
    }

    /// Waits until the answers so far satisfy `done`.
    async fn until(&self, what: &str, done: impl Fn(&[Answer]) -> bool) {
        let deadline = Instant::now() + Duration::from_secs(10);
        while !done(&self.answers()) {
            assert!(Instant::now() < deadline, "{what}: not within 10 s");
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    async fn stop(self) -> Vec<Answer> {
        self.stop.store(true, Ordering::Relaxed);
        let answers = self.answers.clone();
        for client in self.clients {
            client.await.unwrap();
        }
        answers.lock().unwrap().clone()
    }
}

/// A Postgres cluster of the test's own, on a free port; stopped when dropped.
struct Cluster {
    dir: TempDir,
    bin: PathBuf,
    port: u16,
}

impl Cluster {
    /// Creates a cluster and starts it.
    async fn create() -> Self {
        require_root();
        let dir = tempfile::tempdir().unwrap();
        chown_to_postgres(dir.path()).await;
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let cluster = Self {
            dir,
            bin: postgres_bin_dir(),
            port,
        };
        let data = cluster.data().display().to_string();
        cluster
            .pg(
                "initdb",
                &["-D", &data, "-U", "postgres", "-A", "trust", "--no-sync"],
            )
            .await;
        cluster.start().await;
        cluster
    }

    fn url(&self) -> String {
        format!("postgres://postgres@127.0.0.1:{}/postgres", self.port)
    }

    fn data(&self) -> PathBuf {
        self.dir.path().join("data")
    }

    /// What the server has logged so far.
    fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("log")).unwrap_or_default()
    }

    /// Starts the cluster (again, on the same port) and waits until it takes connections.
    async fn start(&self) {
        let options = format!(
            "-p {} -k {} -c listen_addresses=127.0.0.1 -c fsync=off",
            self.port,
            self.dir.path().display()
        );
        let log = self.dir.path().join("log").display().to_string();
        let data = self.data().display().to_string();
        self.pg(
            "pg_ctl",
            &["-D", &data, "-l", &log, "-o", &options, "-w", "start"],
        )
        .await;
    }

    /// Stops the cluster: `fast` rolls back open transactions, `immediate` is a crash.
    async fn stop(&self, mode: &str) {
        let data = self.data().display().to_string();
        self.pg("pg_ctl", &["-D", &data, "-m", mode, "-w", "stop"])
            .await;
    }

    /// Runs one of Postgres's programs as `postgres`; fails with its output and the server log.
    async fn pg(&self, program: &str, args: &[&str]) {
        let output = Command::new("runuser")
            .args(["-u", "postgres", "--"])
            .arg(self.bin.join(program))
            .args(args)
            .stdin(std::process::Stdio::null())
            .output()
            .await
            .expect("runuser runs");
        let log = self.log();
        assert!(
            output.status.success(),
            "{program} {args:?} failed: {}{}\nserver log:\n{log}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr),
        );
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        let _ = std::process::Command::new("runuser")
            .args(["-u", "postgres", "--"])
            .arg(self.bin.join("pg_ctl"))
            .args(["-D", &self.data().display().to_string(), "-m", "immediate"])
            .args(["stop"])
            .output();
    }
}

/// A small tmpfs of the test's own; unmounted when dropped.
struct Tmpfs {
    dir: TempDir,
}

impl Tmpfs {
    fn mount(size: &str) -> Self {
        require_root();
        let dir = tempfile::tempdir().unwrap();
        let mounted = std::process::Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={size}"), "tmpfs"])
            .arg(dir.path())
            .output()
            .unwrap();
        assert!(
            mounted.status.success(),
            "mount tmpfs: {}",
            String::from_utf8_lossy(&mounted.stderr)
        );
        Self { dir }
    }

    fn path(&self) -> &Path {
        self.dir.path()
    }

    /// Writes a file until the disk is full; returns its path, to delete to free the space.
    fn fill(&self) -> PathBuf {
        let path = self.path().join("filler");
        let mut file = std::fs::File::create(&path).unwrap();
        let chunk = vec![0xA5u8; 64 * 1024];
        loop {
            match file.write(&chunk) {
                Ok(0) => break,
                Ok(_) => {}
                Err(error) if error.kind() == std::io::ErrorKind::StorageFull => break,
                Err(error) => panic!("filling the disk: {error}"),
            }
        }
        path
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        // Lazily: a server the test did not stop may still hold files open in it.
        let _ = std::process::Command::new("umount")
            .arg("--lazy")
            .arg(self.dir.path())
            .output();
    }
}

/// Fails, saying why, unless the tests run as root (CI does).
fn require_root() {
    // `/proc/self` belongs to the process's effective user.
    let uid = std::fs::metadata("/proc/self").unwrap().uid();
    assert_eq!(
        uid, 0,
        "the fault tests need root, to mount tmpfs and to run Postgres as the postgres user"
    );
}

async fn chown_to_postgres(path: &Path) {
    let status = Command::new("chown")
        .arg("postgres")
        .arg(path)
        .status()
        .await
        .unwrap();
    assert!(status.success(), "chown postgres {}", path.display());
}

/// The newest installed Postgres's `bin` directory (Debian's layout).
fn postgres_bin_dir() -> PathBuf {
    std::fs::read_dir("/usr/lib/postgresql")
        .expect("the fault tests need Postgres installed under /usr/lib/postgresql")
        .filter_map(|entry| entry.ok())
        .filter(|entry| entry.path().join("bin/pg_ctl").exists())
        .max_by_key(|entry| entry.file_name().to_str()?.parse::<u32>().ok())
        .expect("no Postgres under /usr/lib/postgresql")
        .path()
        .join("bin")
}
