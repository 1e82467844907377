//! The replay client (`paybench run --client replay`) against real servers on 127.0.0.1: every
//! direct wire carries concurrent calls and its sampled replies decode to the business function's
//! answer; a rejection, a reply of the wrong length, an unreachable server and a family without a
//! replay path are each reported as what they are. Every test is bounded in time.

use std::time::Duration;

use futures::future::join_all;
use paybench::load::replay::{self, SAMPLE_EVERY};
use paybench::payload::{generate, Profile};
use paybench::payment::process;
use paybench::pb::{PaymentRequest, PaymentResponse};
use paybench::transport::{self, Arm, ClientConfig, ServerConfig, Transport};
use paybench::CallError;

/// The direct arms replay speaks, one per wire and codec.
const REPLAY_ARMS: [&str; 6] = ["rest", "rest-proto", "rest-h2", "grpc", "grpc-json", "tcp"];
/// Every test's bound: generous for a loaded 2-core machine, far below a hang.
const TEST_BOUND: Duration = Duration::from_secs(30);

fn arm(name: &str) -> Arm {
    Arm::parse(name).expect("a known arm")
}

fn pool(profile: Profile, calls: u64) -> Vec<PaymentRequest> {
    (0..calls).map(|i| generate(profile, 42, i)).collect()
}

async fn bounded<T>(what: &str, fut: impl std::future::Future<Output = T>) -> T {
    tokio::time::timeout(TEST_BOUND, fut).await.unwrap_or_else(|_| panic!("{what}: not done within {TEST_BOUND:?}"))
}

/// 200 concurrent calls over a 64-request pool: all ok, and every sampled (decoded) reply is
/// exactly what `payment::process` answers for its request, `processed_at` aside.
async fn concurrent_calls_are_ok_and_samples_decode(name: &str) {
    let arm = arm(name);
    let server = transport::serve(&arm, &ServerConfig::default()).await.expect("server starts");
    let requests = pool(Profile::Typical, 64);
    let client = replay::connect(&arm, server.endpoint(), &requests, &ClientConfig::default())
        .await
        .unwrap_or_else(|e| panic!("{name}: replay connects: {e}"));
    assert_eq!(client.name(), name);
    let calls: Vec<&PaymentRequest> = (0..200).map(|i| &requests[i % requests.len()]).collect();
    let replies = join_all(calls.iter().map(|req| client.call((*req).clone()))).await;
    let mut decoded = 0;
    for (req, reply) in calls.iter().zip(replies) {
        let resp = reply.unwrap_or_else(|e| panic!("{name}: call {} failed: {e}", req.payment_id));
        if resp == PaymentResponse::default() {
            continue;
        }
        let mut expected = process(req).expect("generated requests are valid");
        assert!(resp.processed_at.is_some(), "{name}: no processed_at");
        expected.processed_at = resp.processed_at;
        assert_eq!(resp, expected, "{name}: sampled reply to {}", req.payment_id);
        decoded += 1;
    }
    assert_eq!(decoded, 200_u64.div_ceil(SAMPLE_EVERY), "{name}: one call in {SAMPLE_EVERY} is decoded");
    drop(client);
    server.shutdown().await;
}

macro_rules! per_arm {
    ($($test:ident => $arm:literal),* $(,)?) => {$(
        #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
        async fn $test() {
            bounded($arm, concurrent_calls_are_ok_and_samples_decode($arm)).await;
        }
    )*};
}

per_arm! {
    rest_replays_200_concurrent_calls => "rest",
    rest_proto_replays_200_concurrent_calls => "rest-proto",
    rest_h2_replays_200_concurrent_calls => "rest-h2",
    grpc_replays_200_concurrent_calls => "grpc",
    grpc_json_replays_200_concurrent_calls => "grpc-json",
    tcp_replays_200_concurrent_calls => "tcp",
}

#[tokio::test]
async fn a_request_the_server_refuses_is_rejected_on_every_wire() {
    bounded("rejections", async {
        let mut invalid = generate(Profile::Small, 42, 0);
        invalid.currency = "XXX".to_owned();
        for name in REPLAY_ARMS {
            let arm = arm(name);
            let server = transport::serve(&arm, &ServerConfig::default()).await.expect("server starts");
            let client =
                replay::connect(&arm, server.endpoint(), std::slice::from_ref(&invalid), &ClientConfig::default())
                    .await
                    .expect("replay connects");
            let e = client.call(invalid.clone()).await.expect_err("the server must refuse an unknown currency");
            assert_eq!(e.kind(), "rejected", "{name}: {e}");
            assert!(matches!(&e, CallError::Rejected { message, .. } if message.contains("XXX")), "{name}: {e}");
            // A request outside the pool has no bytes: an error, never an encode on the hot path.
            let e = client.call(generate(Profile::Small, 42, 1)).await.expect_err("not in the pool");
            assert!(e.to_string().contains("not in the pool"), "{name}: {e}");
            drop(client);
            server.shutdown().await;
        }
    })
    .await;
}

/// A REST server that answers every request with 200 and a valid but foreign JSON reply: the
/// length check must catch it on every call, sampled or not.
#[tokio::test]
async fn a_reply_of_the_wrong_length_is_a_codec_error() {
    bounded("length mismatch", async {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let endpoint = listener.local_addr().expect("local addr").to_string();
        let wrong = axum::Router::new().route(
            transport::rest::PATH,
            axum::routing::post(|| async { ([("content-type", "application/json")], r#"{"paymentId":"p"}"#) }),
        );
        let server = tokio::spawn(async move { axum::serve(listener, wrong).await });
        let requests = pool(Profile::Small, 4);
        let client =
            replay::connect(&arm("rest"), &endpoint, &requests, &ClientConfig::default()).await.expect("connects");
        for req in &requests {
            let e = client.call(req.clone()).await.expect_err("a short reply must fail");
            assert_eq!(e.kind(), "codec", "{e}");
            assert!(e.to_string().contains(&req.payment_id) && e.to_string().contains("bytes"), "{e}");
        }
        server.abort();
    })
    .await;
}

#[tokio::test]
async fn an_unreachable_server_is_a_connect_error_naming_it() {
    bounded("unreachable", async {
        // A port that was just free: nothing listens there.
        let endpoint = {
            let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
            listener.local_addr().expect("local addr").to_string()
        };
        let config = ClientConfig { timeout: Duration::from_secs(2), ..ClientConfig::default() };
        for name in REPLAY_ARMS {
            let e = replay::connect(&arm(name), &endpoint, &pool(Profile::Small, 2), &config)
                .await
                .expect_err("nothing listens there");
            assert_eq!(e.kind(), "connect", "{name}: {e}");
            assert!(e.to_string().contains(&endpoint), "{name}: {e}");
        }
    })
    .await;
}

#[tokio::test]
async fn families_without_a_replay_path_are_refused_by_name() {
    bounded("unsupported", async {
        for name in ["inproc", "amqp", "kafka", "nats-json"] {
            let e = replay::connect(&arm(name), "127.0.0.1:1", &pool(Profile::Small, 2), &ClientConfig::default())
                .await
                .expect_err("no replay path");
            let text = e.to_string();
            assert_eq!(e.kind(), "config", "{name}: {text}");
            assert!(text.contains(name) && text.contains("`tcp`, `grpc`, `http`"), "{name}: {text}");
        }
    })
    .await;
}
