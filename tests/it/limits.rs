//! The body-size limit covers `/graphql`, and refuses oversized bodies without reading them.

use std::time::Duration;

use tokio::{
    io::{AsyncReadExt, AsyncWriteExt},
    net::TcpStream,
};

use crate::helpers::TestApp;

const TEN_MB: usize = 10 * 1024 * 1024;

/// Reads until the status line of the response has arrived.
async fn status_line(stream: &mut TcpStream) -> String {
    let mut received = Vec::new();
    let mut buffer = [0u8; 1024];
    tokio::time::timeout(Duration::from_secs(10), async {
        while !received.windows(2).any(|w| w == b"\r\n") {
            let read = stream.read(&mut buffer).await.expect("server answers");
            assert!(read > 0, "connection closed without a response");
            received.extend_from_slice(&buffer[..read]);
        }
    })
    .await
    .expect("a response within 10 s");
    let text = String::from_utf8_lossy(&received);
    text.lines().next().unwrap_or_default().to_owned()
}

#[tokio::test]
async fn a_10_mb_graphql_post_is_refused_with_413_before_it_is_sent() {
    let app = TestApp::spawn().await;
    let mut stream = TcpStream::connect(app.addr).await.unwrap();
    let head = format!(
        "POST /graphql HTTP/1.1\r\nhost: parley\r\ncontent-type: application/json\r\n\
         content-length: {TEN_MB}\r\n\r\n"
    );
    stream.write_all(head.as_bytes()).await.unwrap();
    // Only a sliver of the announced 10 MB is ever sent: the answer must not wait for the rest.
    stream.write_all(&[b' '; 4096]).await.unwrap();
    assert_eq!(
        status_line(&mut stream).await,
        "HTTP/1.1 413 Payload Too Large"
    );
}

#[tokio::test]
async fn a_streamed_body_is_cut_off_at_the_limit() {
    let app = TestApp::spawn().await;
    let stream = TcpStream::connect(app.addr).await.unwrap();
    let (mut reader, mut writer) = stream.into_split();
    let head = "POST /graphql HTTP/1.1\r\nhost: parley\r\ncontent-type: application/json\r\n\
                transfer-encoding: chunked\r\n\r\n";
    writer.write_all(head.as_bytes()).await.unwrap();
    // 10 MB in 64 KB chunks; the server may stop reading (and the writes fail) once over 1 MB.
    let upload = tokio::spawn(async move {
        let chunk = vec![b' '; 64 * 1024];
        for _ in 0..(TEN_MB / chunk.len()) {
            let frame = format!("{:x}\r\n", chunk.len());
            if writer.write_all(frame.as_bytes()).await.is_err()
                || writer.write_all(&chunk).await.is_err()
                || writer.write_all(b"\r\n").await.is_err()
            {
                return;
            }
        }
    });
    let mut received = Vec::new();
    let mut buffer = [0u8; 1024];
    tokio::time::timeout(Duration::from_secs(10), async {
        while !received.windows(2).any(|w| w == b"\r\n") {
            let read = reader.read(&mut buffer).await.expect("server answers");
            assert!(read > 0, "connection closed without a response");
            received.extend_from_slice(&buffer[..read]);
        }
    })
    .await
    .expect("a response within 10 s");
    upload.abort();
    let status = String::from_utf8_lossy(&received);
    assert!(
        status.starts_with("HTTP/1.1 413"),
        "expected 413, got {status}"
    );
}

#[tokio::test]
async fn bodies_under_the_limit_are_served() {
    let app = TestApp::spawn().await;
    let padding = " ".repeat(512 * 1024);
    let body = format!(r#"{{"query": "{{ __typename }}"{padding}}}"#);
    let response = app
        .client
        .post(app.url("/graphql"))
        .header("content-type", "application/json")
        .body(body)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
}
