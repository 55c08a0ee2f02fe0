//! SIGTERM stops the real `parley` process gracefully: in-flight requests finish.

use std::time::Duration;

use tokio::{
    io::{AsyncReadExt, AsyncWriteExt},
    net::TcpStream,
};

use crate::helpers::{ParleyProcess, TestDb, eventually};

#[tokio::test]
async fn sigterm_lets_an_in_flight_request_finish() {
    let db = TestDb::new().await;
    let parley = ParleyProcess::start(&db, &["serve"], &[]).await;
    let addr = parley.addr.clone();

    // A slow client: the request is in flight while its body trickles in.
    let body = br#"{"query": "{ __typename }"}"#;
    let mut stream = TcpStream::connect(&addr).await.unwrap();
    let head = format!(
        "POST /graphql HTTP/1.1\r\nhost: parley\r\ncontent-type: application/json\r\n\
         content-length: {}\r\nconnection: close\r\n\r\n",
        body.len()
    );
    stream.write_all(head.as_bytes()).await.unwrap();
    stream.write_all(&body[..10]).await.unwrap();
    stream.flush().await.unwrap();
    tokio::time::sleep(Duration::from_millis(300)).await;

    parley.sigterm();
    // Shutdown has begun once new connections are refused.
    eventually(Duration::from_secs(10), || async {
        TcpStream::connect(&addr).await.is_err().then_some(())
    })
    .await;

    stream.write_all(&body[10..]).await.unwrap();
    let mut response = String::new();
    tokio::time::timeout(
        Duration::from_secs(10),
        stream.read_to_string(&mut response),
    )
    .await
    .expect("the in-flight request is answered")
    .unwrap();
    assert!(response.starts_with("HTTP/1.1 200"), "{response}");
    assert!(
        response.contains(r#"{"data":{"__typename":"Query"}}"#),
        "{response}"
    );

    let (status, _) = parley.stop_after_signal().await;
    assert!(status.success(), "{status}");
}
