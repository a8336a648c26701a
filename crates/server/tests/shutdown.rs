//! Graceful shutdown: requests in flight finish, new connections are refused, and
//! idle keep-alive connections do not hold shutdown up.

mod common;

use std::time::{Duration, Instant};

use axum::Router;
use axum::routing::get;
use common::{TestEnv, read_response};
use tokio::io::AsyncWriteExt;
use tokio::net::TcpStream;

#[tokio::test]
async fn in_flight_requests_complete_and_new_connections_are_refused() {
    let env = TestEnv::new("");
    let slow = Router::new().route(
        "/test/slow",
        get(|| async {
            tokio::time::sleep(Duration::from_millis(600)).await;
            "finished"
        }),
    );
    let server = wk_server::Server::start_with_routes(env.options(), slow).await.unwrap();
    let addr = server.local_addr();

    // An idle keep-alive connection must not delay shutdown.
    let _idle = TcpStream::connect(addr).await.unwrap();
    let mut in_flight = TcpStream::connect(addr).await.unwrap();
    in_flight.write_all(b"GET /test/slow HTTP/1.1\r\nHost: x\r\n\r\n").await.unwrap();
    tokio::time::sleep(Duration::from_millis(100)).await;

    let started = Instant::now();
    let stopping = tokio::spawn(server.shutdown());
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert!(TcpStream::connect(addr).await.is_err(), "listener must be closed once shutdown begins");

    let response = read_response(&mut in_flight).await;
    assert_eq!(response.status, 200);
    assert!(response.body.ends_with("finished"), "{response:?}");
    stopping.await.unwrap().expect("clean shutdown");
    let took = started.elapsed();
    assert!(took >= Duration::from_millis(400), "shutdown returned before the request finished: {took:?}");
    assert!(took < Duration::from_secs(5), "idle connection held shutdown up: {took:?}");
}
