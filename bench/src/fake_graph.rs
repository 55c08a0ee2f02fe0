//! A fake Graph API for the `dispatch` scenario, on 127.0.0.1 in the bench process: every
//! `POST /{version}/{phone_number_id}/messages` is answered with Meta's success shape after a
//! fixed latency, and counted. It checks nothing beyond `to`: the integration tests hold Parley
//! to Meta's request shapes; here only the time matters.

use std::{
    net::SocketAddr,
    sync::{
        Arc,
        atomic::{AtomicU64, Ordering},
    },
    time::Duration,
};

use anyhow::Context;
use axum::{
    Json, Router,
    extract::State,
    http::StatusCode,
    response::{IntoResponse, Response},
    routing::post,
};
use serde_json::{Value, json};
use tokio::{net::TcpListener, sync::oneshot, task::JoinHandle};

/// A running fake Graph API.
pub struct FakeGraph {
    addr: SocketAddr,
    fake: Arc<Fake>,
    stop: oneshot::Sender<()>,
    task: JoinHandle<std::io::Result<()>>,
}

struct Fake {
    latency: Duration,
    answered: AtomicU64,
}

impl FakeGraph {
    /// Starts answering on a free port of 127.0.0.1, each answer `latency` after its request.
    pub async fn start(latency: Duration) -> anyhow::Result<Self> {
        let fake = Arc::new(Fake {
            latency,
            answered: AtomicU64::new(0),
        });
        let router = Router::new()
            .route("/{version}/{phone_number_id}/messages", post(messages))
            .with_state(fake.clone());
        let listener = TcpListener::bind(("127.0.0.1", 0))
            .await
            .context("the fake Graph API binds a port")?;
        let addr = listener.local_addr()?;
        let (stop, stopped) = oneshot::channel::<()>();
        let task = tokio::spawn(async move {
            axum::serve(listener, router)
                .with_graceful_shutdown(async {
                    stopped.await.ok();
                })
                .await
        });
        Ok(Self {
            addr,
            fake,
            stop,
            task,
        })
    }

    /// `http://127.0.0.1:PORT`, for `graph_api_url`.
    pub fn base_url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Messages accepted so far.
    pub fn answered(&self) -> u64 {
        self.fake.answered.load(Ordering::Relaxed)
    }

    pub async fn stop(self) -> anyhow::Result<()> {
        self.stop.send(()).ok();
        self.task
            .await
            .context("the fake Graph API's task")?
            .context("the fake Graph API stops cleanly")
    }
}

async fn messages(State(fake): State<Arc<Fake>>, Json(body): Json<Value>) -> Response {
    let Some(to) = body["to"].as_str().map(str::to_owned) else {
        let error = json!({"error": {"message": "(#100) The parameter to is required.",
                                     "type": "OAuthException", "code": 100}});
        return (StatusCode::BAD_REQUEST, Json(error)).into_response();
    };
    tokio::time::sleep(fake.latency).await;
    let n = fake.answered.fetch_add(1, Ordering::Relaxed) + 1;
    Json(json!({
        "messaging_product": "whatsapp",
        "contacts": [{"input": to, "wa_id": to}],
        "messages": [{"id": format!("wamid.BENCH{n:012}")}],
    }))
    .into_response()
}
