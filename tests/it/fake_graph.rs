//! A fake of Meta's Graph API on 127.0.0.1 for the delivery tests. It checks each request against
//! Meta's documented shape (it must deserialise into Parley's typed `MessageRequest`, with a bearer
//! token), records it, and answers as scripted per recipient: accept (Meta's success body), a
//! Meta error, or hang without answering; optionally after a fixed latency.

use std::{
    collections::{HashMap, VecDeque},
    sync::{Arc, Mutex},
    time::{Duration, Instant},
};

use axum::{
    Json, Router,
    extract::{Path, State},
    http::{HeaderMap, StatusCode},
    response::{IntoResponse, Response},
    routing::post,
};
use parley::whatsapp::request::MessageRequest;
use serde_json::{Value, json};

/// How the fake answers one request.
#[derive(Clone, Debug)]
pub enum Reply {
    Accept,
    Error {
        status: u16,
        code: i64,
        message: String,
    },
    /// Reads the request and never answers.
    Hang,
}

impl Reply {
    pub fn error(status: u16, code: i64, message: &str) -> Self {
        Self::Error {
            status,
            code,
            message: message.to_owned(),
        }
    }
}

/// One request the fake received.
#[derive(Clone, Debug)]
pub struct Recorded {
    pub version: String,
    pub phone_number_id: String,
    pub token: String,
    pub body: Value,
    pub at: Instant,
}

#[derive(Default)]
struct Inner {
    requests: Vec<Recorded>,
    invalid: Vec<Value>,
    scripts: HashMap<String, VecDeque<Reply>>,
    latency: Duration,
    next_wamid: u64,
}

#[derive(Clone)]
pub struct FakeGraph {
    inner: Arc<Mutex<Inner>>,
    addr: std::net::SocketAddr,
}

impl FakeGraph {
    pub async fn start() -> Self {
        let inner = Arc::new(Mutex::new(Inner::default()));
        let app = Router::new()
            .route("/{version}/{phone_number_id}/messages", post(messages))
            .with_state(inner.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move { axum::serve(listener, app).await });
        Self { inner, addr }
    }

    pub fn base_url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Answers the next requests to `to` (digits) with `replies`, then accepts.
    pub fn script(&self, to: &str, replies: Vec<Reply>) {
        self.inner
            .lock()
            .unwrap()
            .scripts
            .insert(to.to_owned(), replies.into());
    }

    /// Waits this long before answering any request.
    pub fn set_latency(&self, latency: Duration) {
        self.inner.lock().unwrap().latency = latency;
    }

    pub fn requests(&self) -> Vec<Recorded> {
        self.inner.lock().unwrap().requests.clone()
    }

    /// Bodies that did not have Meta's shape.
    pub fn invalid_requests(&self) -> Vec<Value> {
        self.inner.lock().unwrap().invalid.clone()
    }

    /// How many requests carried `biz_opaque_callback_data` = `callback` (a send attempt id).
    pub fn calls_for(&self, callback: &str) -> usize {
        self.inner
            .lock()
            .unwrap()
            .requests
            .iter()
            .filter(|request| request.body["biz_opaque_callback_data"] == callback)
            .count()
    }
}

fn meta_error(status: u16, code: i64, message: &str) -> Response {
    let body = json!({"error": {"message": message, "type": "OAuthException", "code": code,
                                "error_data": {"messaging_product": "whatsapp", "details": message},
                                "fbtrace_id": "AbCdEfGh"}});
    (StatusCode::from_u16(status).unwrap(), Json(body)).into_response()
}

async fn messages(
    State(inner): State<Arc<Mutex<Inner>>>,
    Path((version, phone_number_id)): Path<(String, String)>,
    headers: HeaderMap,
    Json(body): Json<Value>,
) -> Response {
    let token = headers
        .get("authorization")
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.strip_prefix("Bearer "))
        .map(str::to_owned);
    let Some(token) = token else {
        return meta_error(401, 190, "An active access token must be used");
    };
    let valid = serde_json::from_value::<MessageRequest>(body.clone()).is_ok()
        && body["messaging_product"] == "whatsapp"
        && body["to"].is_string();
    let to = body["to"].as_str().unwrap_or_default().to_owned();
    let (reply, latency, wamid) = {
        let mut inner = inner.lock().unwrap();
        if !valid {
            inner.invalid.push(body);
            return meta_error(400, 100, "Invalid parameter");
        }
        inner.requests.push(Recorded {
            version,
            phone_number_id,
            token,
            body,
            at: Instant::now(),
        });
        inner.next_wamid += 1;
        let reply = inner
            .scripts
            .get_mut(&to)
            .and_then(VecDeque::pop_front)
            .unwrap_or(Reply::Accept);
        (
            reply,
            inner.latency,
            format!("wamid.FAKE{:08}", inner.next_wamid),
        )
    };
    tokio::time::sleep(latency).await;
    match reply {
        Reply::Accept => Json(json!({
            "messaging_product": "whatsapp",
            "contacts": [{"input": to, "wa_id": to.trim_start_matches('+')}],
            "messages": [{"id": wamid}]
        }))
        .into_response(),
        Reply::Error {
            status,
            code,
            message,
        } => meta_error(status, code, &message),
        Reply::Hang => std::future::pending().await,
    }
}
