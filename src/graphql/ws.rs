//! The `graphql-transport-ws` protocol (the graphql-ws library's), served by Parley itself rather
//! than by async-graphql, whose server leaves out the protocol's close codes:
//!
//! | close | when |
//! |---|---|
//! | 4400 | a message that is not valid JSON of the protocol, or binary |
//! | 4401 | `subscribe` before the connection was acknowledged |
//! | 4403 | `connection_init` with a credential that is refused |
//! | 4408 | no `connection_init` within the configured wait |
//! | 4409 | `subscribe` with the id of a running subscription |
//! | 4429 | a second `connection_init` |
//! | 1013 | the client does not read what it is sent: dropped so that it holds nothing up |
//!
//! One task per connection polls all of its subscriptions; identical subscriptions share one
//! execution (see [`super::shared`]). Writes are bounded in size and in time, and a subscriber
//! that falls behind its execution's backlog is dropped, so a slow client holds nothing up.
//!
//! "Does not read" has to be seen by the server, whatever the host's TCP tuning: the kernel's
//! send buffer grows to `net.ipv4.tcp_wmem` (4 MB by default, tens of MB on tuned hosts) and
//! would take in everything a stalled client is sent, so no write would ever wait. Every accepted
//! socket therefore keeps at most [`UNSENT_BYTES`] that the client's window has no room for (see
//! [`bound_unsent`]); beyond that a write waits, and after [`WRITE_TIMEOUT`] the client is dropped.

use std::time::Duration;

use async_graphql::Request;
use axum::extract::ws::{CloseFrame, Message, Utf8Bytes, WebSocket};
use futures_util::StreamExt;
use serde::{Deserialize, Serialize};
use tokio::net::TcpStream;
use tokio_stream::StreamMap;

use super::GraphqlState;
use super::shared::{Step, Steps};
use crate::{auth, auth::Principal, error::AppError};

/// Subscriptions one connection may run at once.
const MAX_SUBSCRIPTIONS: usize = 100;
/// How long one message may take to reach the client's socket before the client counts as slow.
const WRITE_TIMEOUT: Duration = Duration::from_secs(5);
/// Bytes the kernel may hold for a connection beyond what the client's receive window takes
/// (`TCP_NOTSENT_LOWAT`). Unlike a small `SO_SNDBUF` it leaves bytes in flight to the kernel's
/// autotuning, so it costs a fast client on a long link no throughput.
const UNSENT_BYTES: u32 = 128 * 1024;

/// The websocket settings for `graphql-transport-ws`: small buffers (an idle subscriber should
/// cost little) and bounded messages.
pub const READ_BUFFER_BYTES: usize = 512;
pub const WRITE_BUFFER_BYTES: usize = 4 * 1024;
pub const MAX_WRITE_BUFFER_BYTES: usize = 256 * 1024;
pub const MAX_MESSAGE_BYTES: usize = 64 * 1024;

#[derive(Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
enum ClientMessage {
    ConnectionInit {
        #[serde(default)]
        payload: Option<serde_json::Value>,
    },
    Ping {
        #[serde(default)]
        payload: Option<serde_json::Value>,
    },
    Pong {},
    Subscribe {
        id: String,
        payload: Box<Request>,
    },
    Complete {
        id: String,
    },
}

#[derive(Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
enum ServerMessage<'a> {
    ConnectionAck,
    Pong {
        #[serde(skip_serializing_if = "Option::is_none")]
        payload: Option<serde_json::Value>,
    },
    Error {
        id: &'a str,
        payload: &'a [async_graphql::ServerError],
    },
    Complete {
        id: &'a str,
    },
}

/// Why the server closes a connection.
struct Close(u16, String);

impl Close {
    fn new(code: u16, reason: impl Into<String>) -> Self {
        Self(code, reason.into())
    }

    /// A client that does not read what it is sent.
    fn slow() -> Self {
        Self::new(1013, "the client does not read its messages")
    }
}

struct Connection {
    socket: WebSocket,
    state: GraphqlState,
    /// `None` until `connection_init`; then the principal, if the payload carried a credential.
    acknowledged: Option<Option<Principal>>,
    subscriptions: StreamMap<String, Steps>,
}

/// Bounds what the kernel buffers for an accepted connection to [`UNSENT_BYTES`] not yet sent,
/// so that a client that stops reading makes the server's writes wait (and so be timed out)
/// on any host. Set on every accepted socket: a connection becomes a websocket only after its
/// HTTP upgrade, when its socket is no longer in reach.
pub fn bound_unsent(stream: &mut TcpStream) {
    #[cfg(any(target_os = "linux", target_os = "android"))]
    if let Err(error) = socket2::SockRef::from(&*stream).set_tcp_notsent_lowat(UNSENT_BYTES) {
        tracing::warn!(%error, "cannot bound the unsent bytes of a connection");
    }
    #[cfg(not(any(target_os = "linux", target_os = "android")))]
    let _ = stream;
}

/// Serves one `graphql-transport-ws` connection until either side closes it.
pub async fn serve(socket: WebSocket, state: GraphqlState) {
    let wait = state.services.config.websocket_init_timeout();
    let mut connection = Connection {
        socket,
        state,
        acknowledged: None,
        subscriptions: StreamMap::new(),
    };
    let close = connection.run(wait).await;
    // The close frame may wait out WRITE_TIMEOUT on a slow client's full socket; the executions
    // that the client held need not.
    connection.subscriptions.clear();
    if let Some(Close(code, reason)) = close {
        let frame = CloseFrame {
            code,
            reason: Utf8Bytes::from(truncate(reason, 123)),
        };
        let _ = tokio::time::timeout(
            WRITE_TIMEOUT,
            connection.socket.send(Message::Close(Some(frame))),
        )
        .await;
    }
}

impl Connection {
    /// Runs until the client leaves (`None`) or the server closes (`Some`).
    async fn run(&mut self, wait: Duration) -> Option<Close> {
        let init_deadline = tokio::time::sleep(wait);
        tokio::pin!(init_deadline);
        loop {
            tokio::select! {
                () = &mut init_deadline, if self.acknowledged.is_none() => {
                    return Some(Close::new(4408, "Connection initialisation timeout"));
                }
                received = self.socket.recv() => {
                    let text = match received {
                        None | Some(Err(_)) | Some(Ok(Message::Close(_))) => return None,
                        Some(Ok(Message::Text(text))) => text,
                        Some(Ok(Message::Binary(_))) => {
                            return Some(Close::new(4400, "binary messages are not part of graphql-transport-ws"));
                        }
                        Some(Ok(Message::Ping(_) | Message::Pong(_))) => continue,
                    };
                    // Boxed, like `forward`: an idle connection rests in `select!` and should not
                    // carry the state of authenticating or sending.
                    if let Err(close) = Box::pin(self.handle(&text)).await {
                        return Some(close);
                    }
                }
                Some((id, step)) = self.subscriptions.next(), if !self.subscriptions.is_empty() => {
                    if let Err(close) = Box::pin(self.forward(&id, step)).await {
                        return close;
                    }
                }
            }
        }
    }

    async fn handle(&mut self, text: &str) -> Result<(), Close> {
        let message: ClientMessage = serde_json::from_str(text)
            .map_err(|error| Close::new(4400, format!("invalid message: {error}")))?;
        match message {
            ClientMessage::ConnectionInit { payload } => {
                if self.acknowledged.is_some() {
                    return Err(Close::new(4429, "Too many initialisation requests"));
                }
                let principal = authenticate(&self.state, payload).await.map_err(|error| {
                    let code = match error {
                        AppError::Client { .. } => 4403,
                        AppError::Unavailable(_) | AppError::Internal(_) => 4500,
                    };
                    Close::new(code, format!("Forbidden: {}", error.public_message()))
                })?;
                self.acknowledged = Some(principal);
                self.send(&ServerMessage::ConnectionAck)
                    .await
                    .map_err(|_| Close::slow())?;
            }
            ClientMessage::Ping { payload } => {
                self.send(&ServerMessage::Pong { payload })
                    .await
                    .map_err(|_| Close::slow())?;
            }
            ClientMessage::Pong { .. } => {}
            ClientMessage::Subscribe { id, payload } => {
                let Some(principal) = &self.acknowledged else {
                    return Err(Close::new(4401, "Unauthorized"));
                };
                if self.subscriptions.contains_key(&id) {
                    return Err(Close::new(
                        4409,
                        format!("Subscriber for {id} already exists"),
                    ));
                }
                if self.subscriptions.len() >= MAX_SUBSCRIPTIONS {
                    let error = async_graphql::ServerError::new(
                        format!("a connection runs at most {MAX_SUBSCRIPTIONS} subscriptions"),
                        None,
                    );
                    return self
                        .send(&ServerMessage::Error {
                            id: &id,
                            payload: &[error],
                        })
                        .await
                        .map_err(|_| Close::slow());
                }
                let steps = self.state.subscriptions.subscribe(
                    &self.state.schema,
                    principal.as_ref(),
                    *payload,
                );
                self.subscriptions.insert(id, steps);
            }
            ClientMessage::Complete { id } => {
                self.subscriptions.remove(&id);
            }
        }
        Ok(())
    }

    /// Sends one subscription's step to the client. `Err(None)` when the client is gone.
    async fn forward(&mut self, id: &str, step: Step) -> Result<(), Option<Close>> {
        let quoted = serde_json::to_string(id).map_err(|_| None)?;
        let sent = match step {
            Step::Next(payload) => {
                self.send_text(format!(
                    r#"{{"type":"next","id":{quoted},"payload":{payload}}}"#
                ))
                .await
            }
            Step::Error(errors) => {
                self.subscriptions.remove(id);
                self.send_text(format!(
                    r#"{{"type":"error","id":{quoted},"payload":{errors}}}"#
                ))
                .await
            }
            Step::Done => self.send(&ServerMessage::Complete { id }).await,
            Step::Lagged => Err(true),
        };
        sent.map_err(|slow| slow.then(Close::slow))
    }

    /// Writes a message within the time limit. `Err(true)` for a slow client, `Err(false)` for
    /// one that is gone.
    async fn send(&mut self, message: &ServerMessage<'_>) -> Result<(), bool> {
        let text = serde_json::to_string(message).map_err(|_| false)?;
        self.send_text(text).await
    }

    async fn send_text(&mut self, text: String) -> Result<(), bool> {
        match tokio::time::timeout(WRITE_TIMEOUT, self.socket.send(Message::text(text))).await {
            Ok(Ok(())) => Ok(()),
            Ok(Err(_)) => Err(false),
            Err(_elapsed) => Err(true),
        }
    }
}

/// The principal named by the `connection_init` payload `{"authorization": "Bearer …"}`;
/// none without one (fields that need one then refuse). Both websocket protocols use it.
pub(super) async fn authenticate(
    state: &GraphqlState,
    payload: Option<serde_json::Value>,
) -> Result<Option<Principal>, AppError> {
    let payload = payload.unwrap_or_default();
    let header = payload
        .get("authorization")
        .or_else(|| payload.get("Authorization"))
        .and_then(|value| value.as_str());
    match auth::bearer_token(header)? {
        Some(token) => Ok(Some(
            auth::authenticate(
                &state.services.db,
                &state.services.secrets.jwt_secret,
                token,
            )
            .await?,
        )),
        None => Ok(None),
    }
}

fn truncate(mut text: String, bytes: usize) -> String {
    if text.len() > bytes {
        let mut end = bytes;
        while !text.is_char_boundary(end) {
            end -= 1;
        }
        text.truncate(end);
    }
    text
}
