//! The Cloud API client: sends one [`MessageRequest`] with `POST /{version}/{phone_number_id}/messages`
//! and says what became of it — accepted (a wamid), refused by Meta, or one of the two ways of not
//! knowing: certainly not sent, or perhaps sent.
//!
//! The line between [`SendFailure::NotSent`] and [`SendFailure::Unknown`] is what keeps a message
//! from reaching a customer twice: only a failure to connect proves Meta never saw the request.
//! Everything after the first byte was written may have been acted on.
//!
//! What a failure means for the send attempt (retry, give up, disconnect the sender) is decided
//! in [`crate::whatsapp::errors`], not here.

use std::time::Duration;

use anyhow::{Context as _, bail};
use reqwest::{StatusCode, redirect};
use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;
use url::Url;

use crate::whatsapp::request::MessageRequest;

/// Meta's answers are a few hundred bytes; a body larger than this is not one of them, and
/// reading it whole would let a misbehaving proxy make the dispatcher buffer without bound.
const BODY_LIMIT: usize = 64 * 1024;
/// A page of message templates holds up to 100 templates with their components.
const TEMPLATE_PAGE_LIMIT: usize = 4 * 1024 * 1024;
/// Templates asked for per page (Meta's own maximum is larger; this keeps pages small).
const TEMPLATES_PER_PAGE: u32 = 100;
/// How much of an unreadable answer is kept in an error message.
const EXCERPT_CHARS: usize = 200;
/// A TCP or TLS handshake that takes longer than this will not succeed in time anyway.
const CONNECT_TIMEOUT_MAX: Duration = Duration::from_secs(10);

/// A client for one Graph API (Meta's, or a fake in tests), shared by every sender: the access
/// token is per call, so one connection pool serves all of them.
#[derive(Debug, Clone)]
pub struct CloudApiClient {
    http: reqwest::Client,
    base_url: Url,
    version: String,
}

/// Meta took the message: it will report on it by webhook, under `wamid`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Accepted {
    /// The WhatsApp message id (`messages[0].id`).
    pub wamid: String,
    /// The recipient's WhatsApp id (`contacts[0].wa_id`), which may differ from the number sent to.
    pub wa_id: Option<String>,
}

/// Why a send did not end with a wamid.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SendFailure {
    /// The request certainly never reached Meta (connection refused, DNS, TLS before sending):
    /// safe to retry.
    NotSent(String),
    /// It may have reached Meta but no usable answer came back (timeout after sending,
    /// connection closed mid-response, unparseable 2xx body): must never be re-sent automatically.
    Unknown(String),
    /// Meta answered with an error.
    Meta(MetaError),
}

/// Meta's error object (`{"error": {"message", "type", "code", "error_subcode",
/// "error_data": {"details"}, "fbtrace_id"}}`) with the HTTP status it came with.
///
/// An error answer whose body is not that shape keeps `code: 0` and a short excerpt of the body
/// as `message`: Meta (or something in front of it) did answer, so the request was not lost.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MetaError {
    pub http_status: u16,
    pub code: i64,
    /// Deprecated by Meta since v16.0 and often absent; kept for the log.
    pub subcode: Option<i64>,
    pub message: String,
    /// `error_data.details`: Meta's explanation of the likely cause.
    pub details: Option<String>,
    /// Meta's trace id, for a support ticket.
    pub fbtrace_id: Option<String>,
}

impl CloudApiClient {
    /// A client for the Graph API at `base_url` (e.g. `https://graph.facebook.com`) and `version`
    /// (e.g. `v23.0`). `timeout` bounds each request from connecting to the last byte of the
    /// answer.
    pub fn new(base_url: &str, version: &str, timeout: Duration) -> anyhow::Result<Self> {
        let base_url = Url::parse(base_url)
            .with_context(|| format!("Graph API URL {base_url:?} is not a URL"))?;
        if !matches!(base_url.scheme(), "http" | "https") || base_url.cannot_be_a_base() {
            bail!("Graph API URL {base_url} must be an http(s) URL");
        }
        if version.is_empty() || version.contains(['/', '?', '#']) || version.trim() != version {
            bail!("Graph API version {version:?} must be one path segment such as v23.0");
        }
        if timeout.is_zero() {
            bail!("the Graph API timeout must be positive");
        }
        let http = reqwest::Client::builder()
            .use_rustls_tls()
            // A redirect would re-send the message, with its token, somewhere Meta did not name.
            .redirect(redirect::Policy::none())
            .timeout(timeout)
            // Shorter than the whole timeout so that a slow handshake ends as a connect error,
            // which proves nothing was sent, rather than as a timeout, which proves nothing.
            .connect_timeout((timeout / 2).min(CONNECT_TIMEOUT_MAX))
            .user_agent(concat!("parley/", env!("CARGO_PKG_VERSION")))
            .build()
            .context("building the Graph API HTTP client")?;
        Ok(Self {
            http,
            base_url,
            version: version.to_owned(),
        })
    }

    /// POST {base}/{version}/{phone_number_id}/messages with `Authorization: Bearer {token}`.
    /// `biz_opaque_callback_data` is set to `callback_data` (the dispatcher passes the send
    /// attempt id), so that status webhooks name the attempt even when this answer is lost.
    pub async fn send_message(
        &self,
        phone_number_id: &str,
        access_token: &SecretString,
        request: &MessageRequest,
        callback_data: &str,
    ) -> Result<Accepted, SendFailure> {
        let url = self.messages_url(phone_number_id)?;
        let body = MessageRequest {
            biz_opaque_callback_data: Some(callback_data.to_owned()),
            ..request.clone()
        };
        let sent = self
            .http
            .post(url)
            .bearer_auth(access_token.expose_secret())
            .json(&body)
            .send()
            .await;
        let mut response = match sent {
            Ok(response) => response,
            Err(error) => return Err(classify_send_error(error)),
        };
        let status = response.status();
        let (bytes, complete) = match read_limited(&mut response, BODY_LIMIT).await {
            Ok(read) => read,
            // The status line arrived, so the request did too; the rest of the answer did not.
            Err(error) => {
                return Err(SendFailure::Unknown(format!(
                    "the Graph API answered HTTP {} but its body could not be read: {}",
                    status.as_u16(),
                    describe(error)
                )));
            }
        };
        let outcome = interpret(status, &bytes, complete);
        match &outcome {
            Ok(accepted) => {
                tracing::debug!(phone_number_id, wamid = %accepted.wamid, "Cloud API accepted");
            }
            Err(failure) => {
                tracing::debug!(phone_number_id, failure = ?failure, "Cloud API send failed");
            }
        }
        outcome
    }

    /// One page of a Business Account's message templates:
    /// `GET {base}/{version}/{waba_id}/message_templates?limit=…[&after=cursor]`. Reading is
    /// always safe to repeat, so every failure is simply an error here.
    pub async fn list_message_templates(
        &self,
        waba_id: &str,
        access_token: &SecretString,
        after: Option<&str>,
    ) -> Result<TemplatePage, SendFailure> {
        let mut url = self.graph_url(waba_id, "message_templates")?;
        url.query_pairs_mut()
            .append_pair("limit", &TEMPLATES_PER_PAGE.to_string());
        if let Some(after) = after {
            url.query_pairs_mut().append_pair("after", after);
        }
        let mut response = self
            .http
            .get(url)
            .bearer_auth(access_token.expose_secret())
            .send()
            .await
            .map_err(classify_send_error)?;
        let status = response.status();
        let (bytes, complete) = read_limited(&mut response, TEMPLATE_PAGE_LIMIT)
            .await
            .map_err(|error| SendFailure::Unknown(describe(error)))?;
        if !status.is_success() {
            return match interpret(status, &bytes, complete) {
                Err(failure) => Err(failure),
                Ok(_) => Err(SendFailure::Unknown(
                    "an error status with a message id".into(),
                )),
            };
        }
        if !complete {
            return Err(SendFailure::Unknown(format!(
                "a page of templates larger than {} MiB",
                TEMPLATE_PAGE_LIMIT / (1024 * 1024)
            )));
        }
        serde_json::from_slice::<TemplatePage>(&bytes).map_err(|error| {
            SendFailure::Unknown(format!(
                "the Graph API answered with something that is not a page of templates: {error}: {}",
                excerpt(&bytes)
            ))
        })
    }

    /// `{base}/{version}/{phone_number_id}/messages`, with the id as one percent-encoded path
    /// segment so that no stored value can point the request at another path.
    fn messages_url(&self, phone_number_id: &str) -> Result<Url, SendFailure> {
        self.graph_url(phone_number_id, "messages")
    }

    /// `{base}/{version}/{node_id}/{edge}`, the id one percent-encoded path segment.
    fn graph_url(&self, node_id: &str, edge: &str) -> Result<Url, SendFailure> {
        // The URL crate drops `.` and `..` segments, which would leave a shorter, wrong path.
        if matches!(node_id.trim(), "" | "." | "..") {
            return Err(SendFailure::NotSent(format!(
                "{node_id:?} is not a Graph API id"
            )));
        }
        let mut url = self.base_url.clone();
        url.path_segments_mut()
            .map_err(|()| SendFailure::NotSent("the Graph API URL cannot take a path".into()))?
            .pop_if_empty()
            .extend([self.version.as_str(), node_id, edge]);
        Ok(url)
    }
}

/// Sorts a failed `send()`: nothing but a failure to connect (or to build the request at all)
/// proves that no byte of the request reached Meta.
fn classify_send_error(error: reqwest::Error) -> SendFailure {
    if error.is_connect() || error.is_builder() {
        SendFailure::NotSent(describe(error))
    } else if error.is_timeout() {
        SendFailure::Unknown(format!(
            "no answer from the Graph API in time: {}",
            describe(error)
        ))
    } else {
        SendFailure::Unknown(describe(error))
    }
}

/// The body, up to [`BODY_LIMIT`] bytes; `false` when it was cut there.
async fn read_limited(
    response: &mut reqwest::Response,
    limit: usize,
) -> Result<(Vec<u8>, bool), reqwest::Error> {
    let mut bytes = Vec::new();
    while let Some(chunk) = response.chunk().await? {
        let room = limit - bytes.len();
        if chunk.len() > room {
            bytes.extend_from_slice(&chunk[..room]);
            return Ok((bytes, false));
        }
        bytes.extend_from_slice(&chunk);
    }
    Ok((bytes, true))
}

/// What an answer means: a 2xx must name the accepted message, anything else is Meta's error.
fn interpret(status: StatusCode, bytes: &[u8], complete: bool) -> Result<Accepted, SendFailure> {
    if status.is_success() {
        return parse_accepted(bytes, complete).ok_or_else(|| {
            SendFailure::Unknown(format!(
                "the Graph API answered HTTP {} without a message id: {}",
                status.as_u16(),
                excerpt(bytes)
            ))
        });
    }
    let parsed = complete
        .then(|| serde_json::from_slice::<ErrorEnvelope>(bytes).ok())
        .flatten();
    Err(SendFailure::Meta(match parsed {
        Some(ErrorEnvelope { error }) => MetaError {
            http_status: status.as_u16(),
            code: error.code,
            subcode: error.error_subcode,
            message: error.message,
            details: error
                .error_data
                .and_then(|data| data.details)
                .filter(|details| !details.trim().is_empty()),
            fbtrace_id: error.fbtrace_id,
        },
        None => MetaError {
            http_status: status.as_u16(),
            code: 0,
            subcode: None,
            message: format!(
                "HTTP {} from the Graph API: {}",
                status.as_u16(),
                excerpt(bytes)
            ),
            details: None,
            fbtrace_id: None,
        },
    }))
}

fn parse_accepted(bytes: &[u8], complete: bool) -> Option<Accepted> {
    if !complete {
        return None;
    }
    let body: SuccessBody = serde_json::from_slice(bytes).ok()?;
    let wamid = body.messages.into_iter().next()?.id;
    if wamid.trim().is_empty() {
        return None;
    }
    let wa_id = body
        .contacts
        .into_iter()
        .next()
        .and_then(|contact| contact.wa_id)
        .filter(|wa_id| !wa_id.is_empty());
    Some(Accepted { wamid, wa_id })
}

/// The start of a body, on one line, for an error message.
fn excerpt(bytes: &[u8]) -> String {
    let text = String::from_utf8_lossy(bytes);
    let text = text.split_whitespace().collect::<Vec<_>>().join(" ");
    if text.is_empty() {
        return "(empty body)".into();
    }
    match text.char_indices().nth(EXCERPT_CHARS) {
        Some((cut, _)) => format!("{}…", &text[..cut]),
        None => text,
    }
}

/// A reqwest error with its causes, without the URL (kept short; the caller knows it).
fn describe(error: reqwest::Error) -> String {
    let error = error.without_url();
    let mut text = error.to_string();
    let mut source = std::error::Error::source(&error);
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

/// `{"messaging_product": "whatsapp", "contacts": [{"input", "wa_id"}],
/// "messages": [{"id", "message_status"?}]}`; only what Parley uses is read.
#[derive(Deserialize)]
struct SuccessBody {
    #[serde(default)]
    contacts: Vec<SuccessContact>,
    messages: Vec<SuccessMessage>,
}

#[derive(Deserialize)]
struct SuccessContact {
    wa_id: Option<String>,
}

#[derive(Deserialize)]
struct SuccessMessage {
    id: String,
}

/// One page of `GET /{waba_id}/message_templates`: `{"data": [...], "paging": {"cursors":
/// {"before", "after"}, "next"}}`. Templates are kept as Meta's JSON; `next` is present only when
/// there is a further page.
#[derive(Debug, Clone, Deserialize)]
pub struct TemplatePage {
    #[serde(default)]
    pub data: Vec<serde_json::Value>,
    #[serde(default)]
    pub paging: Option<Paging>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct Paging {
    #[serde(default)]
    pub cursors: Option<Cursors>,
    #[serde(default)]
    pub next: Option<String>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct Cursors {
    #[serde(default)]
    pub after: Option<String>,
}

impl TemplatePage {
    /// The cursor of the next page, when Meta says there is one.
    pub fn next_cursor(&self) -> Option<&str> {
        let paging = self.paging.as_ref()?;
        paging.next.as_ref()?;
        paging
            .cursors
            .as_ref()?
            .after
            .as_deref()
            .filter(|after| !after.is_empty())
    }
}

#[derive(Deserialize)]
struct ErrorEnvelope {
    error: ErrorBody,
}

#[derive(Deserialize)]
struct ErrorBody {
    #[serde(default)]
    message: String,
    code: i64,
    error_subcode: Option<i64>,
    error_data: Option<ErrorData>,
    fbtrace_id: Option<String>,
}

#[derive(Deserialize)]
struct ErrorData {
    details: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_template_page_names_its_next_cursor_only_when_meta_says_there_is_more() {
        let page = |body: &str| serde_json::from_str::<TemplatePage>(body).unwrap();
        let more = page(
            r#"{"data": [{"name": "a"}], "paging": {"cursors": {"before": "B", "after": "QVFI"},
            "next": "https://graph.facebook.com/v23.0/1/message_templates?after=QVFI"}}"#,
        );
        assert_eq!(more.next_cursor(), Some("QVFI"));
        assert_eq!(more.data.len(), 1);
        let last = page(r#"{"data": [], "paging": {"cursors": {"before": "B", "after": "QVFI"}}}"#);
        assert_eq!(last.next_cursor(), None);
        assert_eq!(page(r#"{"data": []}"#).next_cursor(), None);
        let empty_cursor =
            page(r#"{"data": [], "paging": {"cursors": {"after": ""}, "next": "x"}}"#);
        assert_eq!(empty_cursor.next_cursor(), None);
    }

    #[test]
    fn a_success_names_the_wamid_and_wa_id() {
        let body = br#"{"messaging_product":"whatsapp",
            "contacts":[{"input":"+1 415 555 0123","wa_id":"14155550123"}],
            "messages":[{"id":"wamid.HBgL","message_status":"accepted"}]}"#;
        assert_eq!(
            interpret(StatusCode::OK, body, true),
            Ok(Accepted {
                wamid: "wamid.HBgL".into(),
                wa_id: Some("14155550123".into()),
            })
        );
    }

    #[test]
    fn a_success_without_a_message_id_is_unknown() {
        for body in [
            &b"{}"[..],
            b"not json",
            br#"{"messages":[]}"#,
            br#"{"messages":[{"id":""}]}"#,
        ] {
            assert!(matches!(
                interpret(StatusCode::OK, body, true),
                Err(SendFailure::Unknown(_))
            ));
        }
        let cut = br#"{"messages":[{"id":"wamid.x"}]}"#;
        assert!(matches!(
            interpret(StatusCode::OK, cut, false),
            Err(SendFailure::Unknown(_))
        ));
    }

    #[test]
    fn metas_error_object_is_read_field_by_field() {
        let body = br#"{"error":{"message":"(#130429) Rate limit hit","type":"OAuthException",
            "code":130429,"error_data":{"messaging_product":"whatsapp","details":"Too many"},
            "error_subcode":2494055,"fbtrace_id":"Az8or2yhqkZfEZ"}}"#;
        assert_eq!(
            interpret(StatusCode::BAD_REQUEST, body, true),
            Err(SendFailure::Meta(MetaError {
                http_status: 400,
                code: 130429,
                subcode: Some(2494055),
                message: "(#130429) Rate limit hit".into(),
                details: Some("Too many".into()),
                fbtrace_id: Some("Az8or2yhqkZfEZ".into()),
            }))
        );
    }

    #[test]
    fn an_unreadable_error_answer_is_still_metas_answer() {
        let failure = interpret(
            StatusCode::BAD_GATEWAY,
            b"<html>\n  Bad gateway </html>",
            true,
        );
        let Err(SendFailure::Meta(error)) = failure else {
            panic!("{failure:?}");
        };
        assert_eq!((error.http_status, error.code), (502, 0));
        assert_eq!(
            error.message,
            "HTTP 502 from the Graph API: <html> Bad gateway </html>"
        );
    }

    #[test]
    fn excerpts_are_short_and_cut_on_a_character() {
        let long = "é".repeat(500);
        let cut = excerpt(long.as_bytes());
        assert_eq!(cut.chars().count(), EXCERPT_CHARS + 1);
        assert_eq!(excerpt(b""), "(empty body)");
    }

    #[test]
    fn the_url_keeps_the_base_path_and_encodes_the_id() {
        let client =
            CloudApiClient::new("http://127.0.0.1:9/graph/", "v23.0", Duration::from_secs(1))
                .unwrap();
        assert_eq!(
            client.messages_url("123").unwrap().as_str(),
            "http://127.0.0.1:9/graph/v23.0/123/messages"
        );
        assert_eq!(
            client.messages_url("1/../x?y").unwrap().as_str(),
            "http://127.0.0.1:9/graph/v23.0/1%2F..%2Fx%3Fy/messages"
        );
        assert!(matches!(
            client.messages_url(".."),
            Err(SendFailure::NotSent(_))
        ));
    }

    #[test]
    fn bad_settings_are_refused() {
        let second = Duration::from_secs(1);
        assert!(CloudApiClient::new("graph.facebook.com", "v23.0", second).is_err());
        assert!(CloudApiClient::new("ftp://graph.facebook.com", "v23.0", second).is_err());
        assert!(CloudApiClient::new("https://graph.facebook.com", "v23/x", second).is_err());
        assert!(CloudApiClient::new("https://graph.facebook.com", "", second).is_err());
        assert!(
            CloudApiClient::new("https://graph.facebook.com", "v23.0", Duration::ZERO).is_err()
        );
    }
}
