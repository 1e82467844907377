//! `payment.v1.PaymentService/AuthorizeStream` against a real `grpc` server on 127.0.0.1: replies
//! come one per request, in request order, while the stream is open; the first invalid request
//! ends the call with INVALID_ARGUMENT after the earlier replies (the proto's comment on the
//! method says so, and docs/rest-api.md).

use std::time::Duration;

use futures::SinkExt;
use paybench::codec::Codec;
use paybench::payload::{generate, Profile};
use paybench::payment::process;
use paybench::pb::payment_service_client::PaymentServiceClient;
use paybench::pb::{PaymentRequest, PaymentResponse};
use paybench::transport::{grpc, ServerConfig, ServerHandle};
use tonic::transport::Channel;

/// Bounds every wait on the stream, so a missing reply fails the test instead of hanging it.
const REPLY_DEADLINE: Duration = Duration::from_secs(10);

async fn start() -> (ServerHandle, PaymentServiceClient<Channel>) {
    let server = grpc::serve(Codec::Protobuf, &ServerConfig::default()).await.expect("grpc server starts");
    let client = PaymentServiceClient::connect(format!("http://{}", server.endpoint())).await.expect("client connects");
    (server, client)
}

/// The reply must be what the business function computes for that request (`processed_at` aside).
fn assert_answers(req: &PaymentRequest, resp: &PaymentResponse) {
    let mut expected = process(req).expect("generated requests are valid");
    expected.processed_at = resp.processed_at;
    assert_eq!(resp, &expected, "reply does not answer {}", req.payment_id);
}

async fn next_reply(replies: &mut tonic::Streaming<PaymentResponse>) -> Option<Result<PaymentResponse, tonic::Status>> {
    tokio::time::timeout(REPLY_DEADLINE, replies.message())
        .await
        .unwrap_or_else(|_| panic!("no reply within {REPLY_DEADLINE:?}"))
        .transpose()
}

#[tokio::test]
async fn each_request_is_answered_in_order_while_the_stream_stays_open() {
    let (server, mut client) = start().await;
    let (mut requests, outbound) = futures::channel::mpsc::channel::<PaymentRequest>(1);
    let mut replies = client.authorize_stream(outbound).await.expect("stream opens").into_inner();
    // Ping-pong: the next request goes out only after the previous reply came back, so the replies
    // are not produced by the end of the request stream.
    for i in 0..8u64 {
        let req = generate(if i % 2 == 0 { Profile::Small } else { Profile::Typical }, 5, i);
        requests.send(req.clone()).await.expect("request sent");
        let resp = next_reply(&mut replies).await.expect("a reply").expect("an answer, not an error");
        assert_answers(&req, &resp);
    }
    drop(requests);
    assert!(next_reply(&mut replies).await.is_none(), "the call ends cleanly when the client closes its side");
    server.shutdown().await;
}

#[tokio::test]
async fn a_batch_is_answered_in_request_order() {
    let (server, mut client) = start().await;
    let batch: Vec<PaymentRequest> = (0..50u64).map(|i| generate(Profile::Typical, 6, i)).collect();
    let mut replies =
        client.authorize_stream(futures::stream::iter(batch.clone())).await.expect("stream opens").into_inner();
    for req in &batch {
        let resp = next_reply(&mut replies).await.expect("a reply").expect("an answer, not an error");
        assert_answers(req, &resp);
    }
    assert!(next_reply(&mut replies).await.is_none(), "one reply per request, no more");
    server.shutdown().await;
}

#[tokio::test]
async fn an_invalid_request_ends_the_call_after_the_earlier_replies() {
    let (server, mut client) = start().await;
    let valid: Vec<PaymentRequest> = (0..3u64).map(|i| generate(Profile::Small, 7, i)).collect();
    let mut invalid = generate(Profile::Small, 7, 3);
    invalid.amount_minor = -100;
    let after = generate(Profile::Small, 7, 4);
    let sent: Vec<PaymentRequest> = valid.iter().cloned().chain([invalid, after]).collect();
    let mut replies = client.authorize_stream(futures::stream::iter(sent)).await.expect("stream opens").into_inner();

    for req in &valid {
        let resp = next_reply(&mut replies).await.expect("a reply").expect("earlier requests are answered");
        assert_answers(req, &resp);
    }
    let status = next_reply(&mut replies).await.expect("the error ends the call").expect_err("not an answer");
    assert_eq!(status.code(), tonic::Code::InvalidArgument, "{status:?}");
    assert_eq!(status.message(), "invalid_amount: amount_minor must be positive, got -100");
    assert!(next_reply(&mut replies).await.is_none(), "nothing after the error: the request after it is not answered");

    // The server goes on serving new calls.
    let req = generate(Profile::Typical, 7, 5);
    let resp = client.authorize(req.clone()).await.expect("still serving").into_inner();
    assert_answers(&req, &resp);
    server.shutdown().await;
}
