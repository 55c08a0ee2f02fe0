//! A fake Graph API on 127.0.0.1 for the tests: `POST /{version}/{phone_number_id}/messages`,
//! answering like Meta, recording every request, and holding Parley to Meta's request shape.
//!
//! A body is valid when it deserialises into [`MessageRequest`] and serialises back to the same
//! JSON, so a misspelt or extra key is caught too, not only a missing one. An invalid body is
//! answered as Meta would (HTTP 400, code 100) and kept in [`FakeGraph::invalid`].
//!
//! `GET /{version}/{waba_id}/message_templates` lists the templates set with
//! [`FakeGraph::set_templates`], paged like Meta (`paging.cursors.after`, `paging.next` only when
//! there is more), `page_size` at a time.
//!
//! Replies are scripted per recipient (`to`, exactly as sent), consumed one per request, with
//! [`FakeGraph::set_default`] (acceptance unless changed) for everything unscripted.

use std::{
    collections::{HashMap, VecDeque},
    net::SocketAddr,
    sync::{Arc, Mutex, MutexGuard},
    time::{Duration, Instant},
};

use axum::{
    Router,
    body::Bytes,
    extract::{Path, Query, State},
    http::{HeaderMap, StatusCode, header},
    response::{IntoResponse, Response},
    routing::{get, post},
};
use parley::whatsapp::request::MessageRequest;
use serde_json::{Value, json};
use tokio::task::JoinHandle;

/// How the fake answers one request.
#[derive(Debug, Clone)]
pub enum Reply {
    /// Meta's success body with a fresh wamid.
    Accept,
    /// Meta's error body: `message` is the title, sent as `"(#code) message"` with the title
    /// again as `error_data.details`.
    Error {
        status: u16,
        code: i64,
        message: String,
    },
    /// Waits this long, then accepts.
    Delay(Duration),
    /// Reads the request and never answers: the request reached "Meta", the answer never comes.
    Hang,
    /// Any status with any body, for answers that are not Meta's shape.
    Raw { status: u16, body: String },
    /// This status and the start of this body, announced longer than it is: the connection
    /// closes mid-body.
    Truncated { status: u16, body: String },
}

impl Reply {
    /// Meta's error answer with this HTTP status and error code.
    pub fn error(status: u16, code: i64, message: &str) -> Self {
        Self::Error {
            status,
            code,
            message: message.to_owned(),
        }
    }
}

/// One request as the fake received it.
#[derive(Debug, Clone)]
pub struct Recorded {
    pub version: String,
    pub phone_number_id: String,
    /// The bearer token, empty when there was none.
    pub token: String,
    /// The JSON body, or the raw text as a JSON string when it was not JSON.
    pub body: Value,
    pub at: Instant,
}

/// A request whose body or credentials were not what Meta accepts, and why.
#[derive(Debug, Clone)]
pub struct Invalid {
    pub request: Recorded,
    pub reason: String,
}

/// A message the fake accepted.
#[derive(Debug, Clone)]
pub struct Acceptance {
    pub to: String,
    pub wa_id: String,
    pub wamid: String,
    pub callback_data: Option<String>,
}

#[derive(Default)]
struct Fake {
    requests: Vec<Recorded>,
    invalid: Vec<Invalid>,
    accepted: Vec<Acceptance>,
    scripts: HashMap<String, VecDeque<Reply>>,
    default: Option<Reply>,
    latency: Duration,
    callbacks: HashMap<String, usize>,
    next_id: u64,
    in_flight: usize,
    max_in_flight: usize,
    /// Per Business Account: its templates and how many a page holds.
    templates: HashMap<String, (Vec<Value>, usize)>,
    /// Every template listing request: (waba id, bearer token, `after` cursor).
    template_requests: Vec<(String, String, Option<String>)>,
}

type Shared = Arc<Mutex<Fake>>;

/// A running fake Graph API; it stops when dropped.
pub struct FakeGraph {
    addr: SocketAddr,
    fake: Shared,
    server: JoinHandle<()>,
}

impl FakeGraph {
    /// Starts the fake on a free port of 127.0.0.1.
    pub async fn start() -> Self {
        let fake = Shared::default();
        let app = Router::new()
            .route("/{version}/{phone_number_id}/messages", post(messages))
            .route(
                "/{version}/{phone_number_id}/message_templates",
                get(message_templates),
            )
            .with_state(fake.clone());
        let listener = tokio::net::TcpListener::bind(("127.0.0.1", 0))
            .await
            .expect("the fake Graph API binds a port");
        let addr = listener.local_addr().expect("bound address");
        let server = tokio::spawn(async move {
            axum::serve(listener, app).await.ok();
        });
        Self { addr, fake, server }
    }

    /// `http://127.0.0.1:PORT`, to configure as the Graph API URL.
    pub fn base_url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Queues `replies` for the next requests to `to` (digits as sent), after any still queued.
    pub fn script(&self, to: &str, replies: Vec<Reply>) {
        self.lock()
            .scripts
            .entry(to.to_owned())
            .or_default()
            .extend(replies);
    }

    /// The reply to every request nothing is scripted for; [`Reply::Accept`] until set.
    pub fn set_default(&self, reply: Reply) {
        self.lock().default = Some(reply);
    }

    /// A delay before every answer, on top of any [`Reply::Delay`].
    pub fn set_latency(&self, latency: Duration) {
        self.lock().latency = latency;
    }

    /// The templates `GET /{waba_id}/message_templates` lists, `page_size` per page.
    pub fn set_templates(&self, waba_id: &str, templates: Vec<Value>, page_size: usize) {
        self.lock()
            .templates
            .insert(waba_id.to_owned(), (templates, page_size.max(1)));
    }

    /// Every template listing request: (waba id, bearer token, `after` cursor).
    pub fn template_requests(&self) -> Vec<(String, String, Option<String>)> {
        self.lock().template_requests.clone()
    }

    /// Every request received so far, valid or not, in order of arrival.
    pub fn requests(&self) -> Vec<Recorded> {
        self.lock().requests.clone()
    }

    /// The requests that Meta would have refused as malformed or unauthenticated.
    pub fn invalid(&self) -> Vec<Invalid> {
        self.lock().invalid.clone()
    }

    /// Fails the test, with the reasons, if any request was invalid.
    pub fn assert_all_valid(&self) {
        let invalid = self.invalid();
        assert!(
            invalid.is_empty(),
            "invalid Graph API requests: {invalid:#?}"
        );
    }

    /// The messages accepted so far, in order.
    pub fn accepted(&self) -> Vec<Acceptance> {
        self.lock().accepted.clone()
    }

    /// How many requests carried `biz_opaque_callback_data` = `callback_data`.
    pub fn attempts(&self, callback_data: &str) -> usize {
        self.lock()
            .callbacks
            .get(callback_data)
            .copied()
            .unwrap_or(0)
    }

    /// Requests per `biz_opaque_callback_data`, for "each attempt reached Meta at most once".
    pub fn callback_counts(&self) -> HashMap<String, usize> {
        self.lock().callbacks.clone()
    }

    /// The most requests that were waiting for an answer at one time.
    pub fn max_in_flight(&self) -> usize {
        self.lock().max_in_flight
    }

    fn lock(&self) -> MutexGuard<'_, Fake> {
        self.fake.lock().expect("fake Graph API state")
    }
}

impl Drop for FakeGraph {
    fn drop(&mut self) {
        self.server.abort();
    }
}

async fn messages(
    State(fake): State<Shared>,
    path: Path<(String, String)>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let _in_flight = InFlight::enter(&fake);
    answer(fake.clone(), path, headers, body).await
}

/// Counts a request as waiting for its answer until dropped.
struct InFlight(Shared);

impl InFlight {
    fn enter(fake: &Shared) -> Self {
        let mut state = fake.lock().expect("fake Graph API state");
        state.in_flight += 1;
        state.max_in_flight = state.max_in_flight.max(state.in_flight);
        Self(fake.clone())
    }
}

impl Drop for InFlight {
    fn drop(&mut self) {
        self.0.lock().expect("fake Graph API state").in_flight -= 1;
    }
}

async fn answer(
    fake: Shared,
    Path((version, phone_number_id)): Path<(String, String)>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let token = headers
        .get(header::AUTHORIZATION)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.strip_prefix("Bearer "))
        .unwrap_or_default()
        .to_owned();
    let json: Option<Value> = serde_json::from_slice(&body).ok();
    let recorded = Recorded {
        version,
        phone_number_id,
        token: token.clone(),
        body: json
            .clone()
            .unwrap_or_else(|| Value::String(String::from_utf8_lossy(&body).into_owned())),
        at: Instant::now(),
    };
    let callback_data = recorded.body["biz_opaque_callback_data"]
        .as_str()
        .map(str::to_owned);
    let (reply, latency) = {
        let mut fake = fake.lock().expect("fake Graph API state");
        fake.requests.push(recorded.clone());
        if let Some(callback_data) = &callback_data {
            *fake.callbacks.entry(callback_data.clone()).or_default() += 1;
        }
        if token.trim().is_empty() {
            fake.invalid.push(Invalid {
                request: recorded,
                reason: "no bearer token".into(),
            });
            return meta_error(
                StatusCode::UNAUTHORIZED,
                190,
                "Invalid OAuth access token - Cannot parse access token",
            );
        }
        let to = match check_body(&headers, json) {
            Ok(request) => request.to,
            Err(reason) => {
                let response = meta_error(StatusCode::BAD_REQUEST, 100, "Invalid parameter");
                fake.invalid.push(Invalid {
                    request: recorded,
                    reason,
                });
                return response;
            }
        };
        let reply = fake
            .scripts
            .get_mut(&to)
            .and_then(VecDeque::pop_front)
            .or_else(|| fake.default.clone())
            .unwrap_or(Reply::Accept);
        let reply = match reply {
            Reply::Accept | Reply::Delay(_) => {
                fake.next_id += 1;
                let wamid = format!(
                    "wamid.FAKE{:08}{}",
                    fake.next_id,
                    uuid::Uuid::now_v7().simple()
                );
                let wa_id: String = to.chars().filter(char::is_ascii_digit).collect();
                fake.accepted.push(Acceptance {
                    to: to.clone(),
                    wa_id: wa_id.clone(),
                    wamid: wamid.clone(),
                    callback_data,
                });
                let delay = match reply {
                    Reply::Delay(delay) => delay,
                    _ => Duration::ZERO,
                };
                Answer::Accept {
                    delay,
                    body: json!({
                        "messaging_product": "whatsapp",
                        "contacts": [{"input": to, "wa_id": wa_id}],
                        "messages": [{"id": wamid}],
                    }),
                }
            }
            Reply::Error {
                status,
                code,
                message,
            } => Answer::Now(meta_error(status_code(status), code, &message)),
            Reply::Raw { status, body } => Answer::Now((status_code(status), body).into_response()),
            Reply::Truncated { status, body } => {
                let announced = (body.len() * 2 + 16).to_string();
                Answer::Now(
                    (
                        status_code(status),
                        [(header::CONTENT_LENGTH, announced)],
                        body,
                    )
                        .into_response(),
                )
            }
            Reply::Hang => Answer::Hang,
        };
        (reply, fake.latency)
    };
    tokio::time::sleep(latency).await;
    match reply {
        Answer::Accept { delay, body } => {
            tokio::time::sleep(delay).await;
            (StatusCode::OK, axum::Json(body)).into_response()
        }
        Answer::Now(response) => response,
        Answer::Hang => std::future::pending().await,
    }
}

/// `GET /{version}/{waba_id}/message_templates?limit=&after=`, in Meta's paged shape.
async fn message_templates(
    State(fake): State<Shared>,
    Path((_version, waba_id)): Path<(String, String)>,
    Query(query): Query<HashMap<String, String>>,
    headers: HeaderMap,
) -> Response {
    let token = headers
        .get(header::AUTHORIZATION)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.strip_prefix("Bearer "))
        .unwrap_or_default()
        .to_owned();
    let after = query.get("after").cloned();
    let mut fake = fake.lock().expect("fake Graph API state");
    fake.template_requests
        .push((waba_id.clone(), token.clone(), after.clone()));
    if token.trim().is_empty() {
        return meta_error(StatusCode::UNAUTHORIZED, 190, "Invalid OAuth access token");
    }
    let Some((templates, page_size)) = fake.templates.get(&waba_id) else {
        return meta_error(
            StatusCode::BAD_REQUEST,
            100,
            "Unsupported get request. Object does not exist",
        );
    };
    let limit = query
        .get("limit")
        .and_then(|limit| limit.parse::<usize>().ok())
        .unwrap_or(25)
        .min(*page_size);
    let start = after
        .as_deref()
        .and_then(|cursor| cursor.strip_prefix("cursor-"))
        .and_then(|n| n.parse::<usize>().ok())
        .unwrap_or(0)
        .min(templates.len());
    let end = (start + limit).min(templates.len());
    let mut paging =
        json!({"cursors": {"before": format!("cursor-{start}"), "after": format!("cursor-{end}")}});
    if end < templates.len() {
        paging["next"] = json!(format!(
            "https://graph.facebook.com/v23.0/{waba_id}/message_templates?limit={limit}&after=cursor-{end}"
        ));
    }
    axum::Json(json!({"data": templates[start..end], "paging": paging})).into_response()
}

/// A reply resolved while holding the lock, carried out after releasing it.
enum Answer {
    Accept { delay: Duration, body: Value },
    Now(Response),
    Hang,
}

/// Meta's checks, as far as the shape goes: a JSON body of Meta's message request, exactly.
fn check_body(headers: &HeaderMap, json: Option<Value>) -> Result<MessageRequest, String> {
    let content_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|value| value.to_str().ok())
        .unwrap_or_default();
    if !content_type.starts_with("application/json") {
        return Err(format!("content type {content_type:?} is not JSON"));
    }
    let json = json.ok_or("the body is not JSON")?;
    let request: MessageRequest = serde_json::from_value(json.clone())
        .map_err(|error| format!("not a Cloud API message request: {error}"))?;
    let again = serde_json::to_value(&request).map_err(|error| error.to_string())?;
    if again != json {
        return Err(format!(
            "keys Meta does not know, or values not in its spelling: sent {json}, understood {again}"
        ));
    }
    if request.to.trim().is_empty() {
        return Err("`to` is empty".into());
    }
    Ok(request)
}

fn status_code(status: u16) -> StatusCode {
    StatusCode::from_u16(status).expect("a scripted status is an HTTP status")
}

/// Meta's error shape.
fn meta_error(status: StatusCode, code: i64, title: &str) -> Response {
    let body = json!({
        "error": {
            "message": format!("(#{code}) {title}"),
            "type": "OAuthException",
            "code": code,
            "error_data": {"messaging_product": "whatsapp", "details": title},
            "fbtrace_id": format!("FAKE{}", uuid::Uuid::now_v7().simple()),
        }
    });
    (status, axum::Json(body)).into_response()
}
