//! The HTTP client port on reqwest, against raw sockets on loopback.

use bytes::Bytes;
use confab_core::ports::{Guarded, HttpClient, HttpError};
use confab_native::ReqwestClient;
use futures::StreamExt;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

fn client() -> ReqwestClient {
    ReqwestClient::new(Duration::from_secs(2)).unwrap()
}

fn get(url: String) -> http::Request<Bytes> {
    http::Request::get(url).body(Bytes::new()).unwrap()
}

/// Serves one connection: reads the request head, then writes `parts` with a pause
/// between them, so the client sees the body arrive in pieces.
async fn serve_once(parts: Vec<&'static str>) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        let (mut socket, _) = listener.accept().await.unwrap();
        let mut buf = [0u8; 4096];
        let _ = socket.read(&mut buf).await;
        for part in parts {
            socket.write_all(part.as_bytes()).await.unwrap();
            socket.flush().await.unwrap();
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    });
    format!("http://{addr}/")
}

#[tokio::test]
async fn streams_the_body_as_it_arrives() {
    let url = serve_once(vec![
        "HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\ntransfer-encoding: chunked\r\n\r\n",
        "6\r\nfirst \r\n",
        "6\r\nsecond\r\n0\r\n\r\n",
    ])
    .await;
    let resp = client().send(get(url)).await.unwrap();
    assert_eq!(resp.status, 200);
    assert_eq!(resp.headers["content-type"], "text/event-stream");
    let chunks: Vec<Bytes> = resp.body.map(Result::unwrap).collect().await;
    assert!(chunks.len() >= 2, "the body arrived in one piece: {chunks:?}");
    assert_eq!(chunks.concat(), b"first second");
}

#[tokio::test]
async fn refused_connection_is_a_connect_error() {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    drop(listener);
    let err = client().send(get(format!("http://{addr}/"))).await.err().unwrap();
    assert!(matches!(err, HttpError::Connect(_)), "{err:?}");
}

#[tokio::test]
async fn a_connection_cut_mid_body_is_a_transport_error() {
    let url = serve_once(vec!["HTTP/1.1 200 OK\r\ncontent-length: 100\r\n\r\n", "only part"]).await;
    let resp = client().send(get(url)).await.unwrap();
    let results: Vec<_> = resp.body.collect().await;
    assert!(matches!(results.last(), Some(Err(HttpError::Transport(_)))), "{results:?}");
}

/// A guarded request to a name connects only to the public addresses it resolves to,
/// the ones checked (no second lookup to rebind): `localhost` has none, so nothing
/// reaches the server listening there; exempt (allowlisted) requests do reach it.
#[tokio::test]
async fn a_public_only_request_never_connects_to_a_name_resolving_to_loopback() {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let guarded = |public_only| {
        let mut request = get(format!("http://localhost:{port}/"));
        request.extensions_mut().insert(Guarded { public_only });
        request
    };
    let err = client().send(guarded(true)).await.err().unwrap();
    assert!(matches!(err, HttpError::Connect(_)), "{err:?}");
    tokio::spawn(async move {
        let (mut socket, _) = listener.accept().await.unwrap();
        let mut buf = [0u8; 4096];
        let _ = socket.read(&mut buf).await;
        socket.write_all(b"HTTP/1.1 204 No Content\r\n\r\n").await.unwrap();
    });
    let resp = client().send(guarded(false)).await.unwrap();
    assert_eq!(resp.status, 204, "the first connection the server saw is the exempt one");
}
