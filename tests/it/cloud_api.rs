//! The Cloud API client against the fake Graph API: the exact requests it sends, how it reads
//! Meta's answers, and what each failure decides. No database or server is needed.

use std::time::{Duration, Instant};

use parley::{
    domain::{
        ContentInput, MessageContent,
        content::{MediaInput, TemplateInput},
    },
    error::ErrorCode,
    whatsapp::{
        client::{Accepted, CloudApiClient, MetaError, SendFailure},
        errors::{Decision, decide},
        request::MessageRequest,
    },
};
use secrecy::SecretString;
use serde_json::json;

use crate::fake_graph::{FakeGraph, Reply};

const VERSION: &str = "v23.0";
const PHONE_NUMBER_ID: &str = "106540352242922";
const TOKEN: &str = "EAAtest-token-that-must-not-leak";
const TO: &str = "14155550123";

fn client(fake: &FakeGraph, timeout: Duration) -> CloudApiClient {
    CloudApiClient::new(&fake.base_url(), VERSION, timeout).expect("client builds")
}

fn token() -> SecretString {
    SecretString::from(TOKEN.to_owned())
}

fn text(to: &str, body: &str, reply_to: Option<&str>) -> MessageRequest {
    let content = MessageContent::parse(ContentInput {
        message_type: Some("text".into()),
        text: Some(body.into()),
        ..ContentInput::default()
    })
    .expect("valid text");
    MessageRequest::new(&content, to, reply_to, None).expect("a text message has a request")
}

async fn send(
    fake: &FakeGraph,
    request: &MessageRequest,
    attempt: &str,
) -> Result<Accepted, SendFailure> {
    client(fake, Duration::from_secs(5))
        .send_message(PHONE_NUMBER_ID, &token(), request, attempt)
        .await
}

fn meta_error(failure: Result<Accepted, SendFailure>) -> MetaError {
    match failure {
        Err(SendFailure::Meta(error)) => error,
        other => panic!("expected Meta's error, got {other:?}"),
    }
}

fn failed_with(decision: Decision) -> (ErrorCode, String, bool) {
    match decision {
        Decision::Fail {
            code,
            message,
            disconnect_sender,
        } => (code, message, disconnect_sender),
        retry => panic!("expected a failure, got {retry:?}"),
    }
}

#[tokio::test]
async fn a_text_reply_is_sent_in_metas_shape_and_its_acceptance_read() {
    let fake = FakeGraph::start().await;
    let request = text(TO, "Your invoice is ready.", Some("wamid.EARLIER"));

    let accepted = send(&fake, &request, "attempt-1").await.expect("accepted");

    let given = fake.accepted();
    assert_eq!(given.len(), 1);
    assert!(accepted.wamid.starts_with("wamid."), "{accepted:?}");
    assert_eq!(accepted.wamid, given[0].wamid);
    assert_eq!(accepted.wa_id.as_deref(), Some(TO));
    assert_eq!((given[0].to.as_str(), given[0].wa_id.as_str()), (TO, TO));
    assert_eq!(given[0].callback_data.as_deref(), Some("attempt-1"));
    let requests = fake.requests();
    assert_eq!(requests.len(), 1);
    assert_eq!(requests[0].version, VERSION);
    assert_eq!(requests[0].phone_number_id, PHONE_NUMBER_ID);
    assert_eq!(requests[0].token, TOKEN);
    assert_eq!(
        requests[0].body,
        json!({
            "messaging_product": "whatsapp",
            "recipient_type": "individual",
            "to": TO,
            "context": {"message_id": "wamid.EARLIER"},
            "biz_opaque_callback_data": "attempt-1",
            "type": "text",
            "text": {"body": "Your invoice is ready."},
        })
    );
    fake.assert_all_valid();
}

#[tokio::test]
async fn a_document_is_sent_with_its_link_caption_and_filename() {
    let fake = FakeGraph::start().await;
    let content = MessageContent::parse(ContentInput {
        message_type: Some("document".into()),
        media: Some(MediaInput {
            url: "https://example.com/q.pdf".into(),
            caption: Some("Quote".into()),
            file_name: Some("q.pdf".into()),
            mime_type: Some("application/pdf".into()),
        }),
        ..ContentInput::default()
    })
    .expect("valid document");
    let request = MessageRequest::new(&content, TO, None, None).expect("a document has a request");

    send(&fake, &request, "attempt-doc")
        .await
        .expect("accepted");

    assert_eq!(
        fake.requests()[0].body,
        json!({
            "messaging_product": "whatsapp",
            "recipient_type": "individual",
            "to": TO,
            "biz_opaque_callback_data": "attempt-doc",
            "type": "document",
            "document": {"link": "https://example.com/q.pdf", "caption": "Quote", "filename": "q.pdf"},
        })
    );
    fake.assert_all_valid();
}

#[tokio::test]
async fn a_server_error_is_retried_and_the_script_moves_on() {
    let fake = FakeGraph::start().await;
    fake.script(
        TO,
        vec![
            Reply::Error {
                status: 500,
                code: 0,
                message: "Internal error".into(),
            },
            Reply::Accept,
        ],
    );
    let request = text(TO, "Hi", None);

    let error = meta_error(send(&fake, &request, "attempt-1").await);
    assert_eq!((error.http_status, error.code), (500, 0));
    assert_eq!(error.message, "(#0) Internal error");
    assert_eq!(error.details.as_deref(), Some("Internal error"));
    assert!(error.fbtrace_id.is_some());
    assert_eq!(
        decide(&SendFailure::Meta(error)),
        Decision::Retry {
            recipient_only: false
        }
    );
    send(&fake, &request, "attempt-1")
        .await
        .expect("accepted on the second try");
    assert_eq!(fake.attempts("attempt-1"), 2);
}

#[tokio::test]
async fn metas_terminal_codes_decide_the_contract_error() {
    let fake = FakeGraph::start().await;
    let cases = [
        (
            "15550000001",
            400,
            131026,
            "Message undeliverable",
            ErrorCode::RecipientNotFound,
            false,
        ),
        (
            "15550000002",
            401,
            190,
            "Access token has expired",
            ErrorCode::WhatsappNotConnected,
            true,
        ),
        (
            "15550000003",
            400,
            132000,
            "Number of parameters does not match",
            ErrorCode::TemplateMalformed,
            false,
        ),
        (
            "15550000004",
            400,
            131047,
            "Re-engagement message",
            ErrorCode::CustomerServiceWindowClosed,
            false,
        ),
        (
            "15550000005",
            400,
            131009,
            "Parameter value is not valid",
            ErrorCode::MetaError,
            false,
        ),
    ];
    for (to, status, code, title, _, _) in &cases {
        fake.script(
            to,
            vec![Reply::Error {
                status: *status,
                code: *code,
                message: (*title).into(),
            }],
        );
    }
    let template = MessageContent::parse(ContentInput {
        message_type: Some("template".into()),
        template: Some(TemplateInput {
            name: "order_update".into(),
            language_code: "en_US".into(),
            components: None,
        }),
        ..ContentInput::default()
    })
    .expect("valid template");

    for (to, status, code, title, expected, disconnect) in cases {
        let request = MessageRequest::new(&template, to, None, None).expect("template request");
        let failure = send(&fake, &request, to).await;
        let error = meta_error(failure.clone());
        assert_eq!((error.http_status, error.code), (status, code));
        let (got, message, disconnects) = failed_with(decide(&SendFailure::Meta(error)));
        assert_eq!((got, disconnects), (expected, disconnect), "code {code}");
        assert_eq!(message, format!("(#{code}) {title}"));
    }
    fake.assert_all_valid();
}

#[tokio::test]
async fn no_answer_after_sending_is_unknown_and_never_retried() {
    let fake = FakeGraph::start().await;
    fake.script(TO, vec![Reply::Hang]);
    let client = client(&fake, Duration::from_millis(300));

    let started = Instant::now();
    let failure = client
        .send_message(
            PHONE_NUMBER_ID,
            &token(),
            &text(TO, "Hi", None),
            "attempt-hang",
        )
        .await;

    assert!(started.elapsed() < Duration::from_secs(3));
    let Err(failure @ SendFailure::Unknown(_)) = failure else {
        panic!("expected an unknown outcome, got {failure:?}");
    };
    assert!(!format!("{failure:?}").contains(TOKEN));
    let (code, _, disconnect) = failed_with(decide(&failure));
    assert_eq!((code, disconnect), (ErrorCode::DeliveryUnknown, false));
    assert_eq!(
        fake.attempts("attempt-hang"),
        1,
        "the request did reach the fake"
    );
}

/// Meta answered 200 but what it said cannot be read (garbage, or a body cut off mid-way): the
/// message may be on its way, so the outcome is unknown and the send is never repeated.
#[tokio::test]
async fn an_unreadable_acceptance_is_unknown_and_never_retried() {
    let fake = FakeGraph::start().await;
    let accepted = r#"{"messaging_product":"whatsapp","contacts":[{"input":"14155550123","wa_id":"14155550123"}],"messages":[{"id":"wamid.CUT"}]}"#;
    let replies = [
        Reply::Raw {
            status: 200,
            body: "\u{0}\u{1f}garbage, not JSON".into(),
        },
        Reply::Raw {
            status: 200,
            body: "[1, 2, 3]".into(),
        },
        Reply::Truncated {
            status: 200,
            body: accepted[..40].into(),
        },
    ];
    for (index, reply) in replies.into_iter().enumerate() {
        fake.script(TO, vec![reply.clone()]);
        let attempt = format!("attempt-unreadable-{index}");
        let failure = send(&fake, &text(TO, "Hi", None), &attempt).await;
        let Err(failure @ SendFailure::Unknown(_)) = failure else {
            panic!("{reply:?}: expected an unknown outcome, got {failure:?}");
        };
        assert!(!format!("{failure:?}").contains(TOKEN));
        let (code, _, disconnect) = failed_with(decide(&failure));
        assert_eq!((code, disconnect), (ErrorCode::DeliveryUnknown, false));
        assert_eq!(fake.attempts(&attempt), 1, "{reply:?}");
    }
    // An error status with a cut-off body is still Meta refusing: safe to decide on the status.
    fake.script(
        TO,
        vec![Reply::Truncated {
            status: 500,
            body: r#"{"error":{"message":"Internal"#.into(),
        }],
    );
    let failure = send(&fake, &text(TO, "Hi", None), "attempt-cut-500").await;
    assert!(
        matches!(&failure, Err(SendFailure::Meta(error)) if error.http_status == 500)
            || matches!(&failure, Err(SendFailure::Unknown(_))),
        "{failure:?}"
    );
}

#[tokio::test]
async fn a_refused_connection_is_not_sent_and_retried() {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .expect("a free port")
        .local_addr()
        .expect("its address")
        .port();
    let client = CloudApiClient::new(
        &format!("http://127.0.0.1:{port}"),
        VERSION,
        Duration::from_secs(2),
    )
    .expect("client builds");

    let failure = client
        .send_message(
            PHONE_NUMBER_ID,
            &token(),
            &text(TO, "Hi", None),
            "attempt-refused",
        )
        .await;

    let Err(failure @ SendFailure::NotSent(_)) = failure else {
        panic!("expected not sent, got {failure:?}");
    };
    assert!(!format!("{failure:?}").contains(TOKEN));
    assert_eq!(
        decide(&failure),
        Decision::Retry {
            recipient_only: false
        }
    );
}

#[tokio::test]
async fn answers_that_are_not_metas_shape() {
    let fake = FakeGraph::start().await;
    let request = text(TO, "Hi", None);

    fake.script(
        TO,
        vec![Reply::Raw {
            status: 503,
            body: "<html>upstream unavailable</html>".into(),
        }],
    );
    let error = meta_error(send(&fake, &request, "a").await);
    assert_eq!((error.http_status, error.code), (503, 0));
    assert!(error.message.contains("upstream unavailable"), "{error:?}");
    assert_eq!(
        decide(&SendFailure::Meta(error)),
        Decision::Retry {
            recipient_only: false
        }
    );

    fake.script(
        TO,
        vec![Reply::Raw {
            status: 400,
            body: "bad request".into(),
        }],
    );
    let error = meta_error(send(&fake, &request, "b").await);
    assert_eq!((error.http_status, error.code), (400, 0));
    let (code, message, _) = failed_with(decide(&SendFailure::Meta(error)));
    assert_eq!(code, ErrorCode::MetaError);
    assert!(message.contains("bad request"), "{message}");

    // Meta said yes but not to what: the message may be on its way, so it must not be re-sent.
    fake.script(
        TO,
        vec![Reply::Raw {
            status: 200,
            body: r#"{"messaging_product":"whatsapp"}"#.into(),
        }],
    );
    let failure = send(&fake, &request, "c").await;
    assert!(
        matches!(failure, Err(SendFailure::Unknown(_))),
        "{failure:?}"
    );
}

#[tokio::test]
async fn the_pair_rate_limit_and_the_default_reply() {
    let fake = FakeGraph::start().await;
    fake.set_default(Reply::Error {
        status: 400,
        code: 131056,
        message: "(Business Account, Consumer Account) pair rate limit hit".into(),
    });

    let failure = send(&fake, &text(TO, "Hi", None), "attempt-pair").await;

    assert_eq!(
        decide(&failure.expect_err("throttled")),
        Decision::Retry {
            recipient_only: true
        }
    );
}

#[tokio::test]
async fn delays_and_latency_hold_the_answer_back() {
    let fake = FakeGraph::start().await;
    fake.set_latency(Duration::from_millis(150));
    fake.script(TO, vec![Reply::Delay(Duration::from_millis(100))]);

    let started = Instant::now();
    send(&fake, &text(TO, "Hi", None), "attempt-slow")
        .await
        .expect("accepted after the delay");

    assert!(started.elapsed() >= Duration::from_millis(250));
    assert!(fake.requests()[0].at >= started);
}

#[tokio::test]
async fn the_fake_refuses_what_meta_would_refuse_and_counts_attempts() {
    let fake = FakeGraph::start().await;
    let url = format!("{}/{VERSION}/{PHONE_NUMBER_ID}/messages", fake.base_url());
    let http = reqwest::Client::new();

    let misspelt = http
        .post(&url)
        .bearer_auth(TOKEN)
        .json(&json!({"messaging_product": "whatsapp", "recipient_type": "individual",
                      "to": TO, "type": "text", "text": {"body": "Hi"}, "biz_opaque_callback_data": "x",
                      "reply_to": "wamid.1"}))
        .send()
        .await
        .expect("the fake answers");
    assert_eq!(misspelt.status(), 400);
    let body: serde_json::Value = misspelt.json().await.expect("JSON error");
    assert_eq!(body["error"]["code"], 100);
    let anonymous = http
        .post(&url)
        .json(&json!({}))
        .send()
        .await
        .expect("the fake answers");
    assert_eq!(anonymous.status(), 401);

    let invalid = fake.invalid();
    assert_eq!(invalid.len(), 2, "{invalid:#?}");
    assert!(
        invalid[0].reason.contains("reply_to"),
        "{}",
        invalid[0].reason
    );
    assert_eq!(invalid[1].request.token, "");

    send(&fake, &text(TO, "Hi", None), "y")
        .await
        .expect("accepted");
    send(&fake, &text(TO, "Hi", None), "z")
        .await
        .expect("accepted");
    let counts = fake.callback_counts();
    assert_eq!(counts.len(), 3);
    assert!(counts.values().all(|&count| count == 1), "{counts:?}");
    assert_eq!(fake.requests().len(), 4);
}
