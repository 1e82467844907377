//! The JSON contract of docs/rest-api.md, checked from outside paybench's code:
//! - a Python client (standard library only, `json_contract_client.py`) against a real `rest`
//!   server: optional fields left out or null, canonical proto3 JSON, a malformed body, the
//!   OpenAPI document;
//! - hand-written JSON bodies through raw gRPC frames against a real `grpc-json` server;
//! - the committed `docs/openapi.json` against what the code generates. After a deliberate change
//!   of the contract, rewrite it with
//!   `PAYBENCH_BLESS=1 cargo test -p paybench --test json_contract committed_openapi`.

mod common;

use std::path::PathBuf;
use std::time::Duration;

use paybench::codec::openapi;
use paybench::codec::Codec;
use paybench::payment::process;
use paybench::pb::{Address, Card, CardBrand, Customer, LineItem, PaymentRequest, PaymentStatus};
use paybench::transport::{grpc, rest, ServerConfig};
use serde_json::{json, Value};

/// The Python client sends six requests with a 5 s timeout each; this bounds the whole run.
const CLIENT_DEADLINE: Duration = Duration::from_secs(60);

/// 2026-01-01T10:00:00Z, the `createdAt` of the client's payment, in seconds since the epoch.
const CREATED_AT_UNIX_S: i64 = 1_767_261_600;

/// The payment the Python client sends (`PAYMENT` there), built here independently of any JSON.
fn payment(payment_id: &str) -> PaymentRequest {
    PaymentRequest {
        payment_id: payment_id.into(),
        order_id: "ord_1".into(),
        idempotency_key: "idem_1".into(),
        amount_minor: 4998,
        currency: "EUR".into(),
        customer: Some(Customer {
            id: "cus_1".into(),
            email: "ada@example.com".into(),
            name: "Ada Lovelace".into(),
            address: Some(Address {
                line1: "1 Main St".into(),
                line2: String::new(),
                city: "Berlin".into(),
                postal_code: "10115".into(),
                country: "DE".into(),
            }),
        }),
        card: Some(Card {
            token: "tok_visa_4242".into(),
            last4: "4242".into(),
            brand: CardBrand::Visa as i32,
            exp_month: 12,
            exp_year: 2030,
        }),
        line_items: vec![LineItem { sku: "sku_1".into(), name: "Widget".into(), quantity: 2, unit_price_minor: 2499 }],
        metadata: [("channel".to_owned(), "web".to_owned())].into(),
        created_at: Some(prost_types::Timestamp { seconds: CREATED_AT_UNIX_S, nanos: 0 }),
        usage_charges: Vec::new(),
        bundles: Vec::new(),
    }
}

/// The same payment without `createdAt` and `card.brand`.
fn without_optional_fields(payment_id: &str) -> PaymentRequest {
    let mut req = payment(payment_id);
    req.created_at = None;
    req.card.as_mut().expect("card").brand = CardBrand::Unspecified as i32;
    req
}

/// Asserts that `body` is the decision the business function makes for `req`, in the documented
/// output shape. The brand and the creation time feed the risk score and the expiry check, so a
/// field the server misread shows up as a different decision.
fn assert_decision(case: &str, status: u64, body: &Value, req: &PaymentRequest) {
    assert_eq!(status, 200, "{case}: {body}");
    let expected = process(req).expect("the test payments are valid");
    let status_word = match PaymentStatus::try_from(expected.status) {
        Ok(PaymentStatus::Approved) => "approved",
        Ok(PaymentStatus::Declined) => "declined",
        other => panic!("{case}: unexpected status {other:?}"),
    };
    assert_eq!(body["paymentId"], req.payment_id.as_str(), "{case}: {body}");
    assert_eq!(body["status"], status_word, "{case}: {body}");
    assert_eq!(body["feeMinor"], expected.fee_minor, "{case}: {body}");
    assert_eq!(body["riskScore"], expected.risk_score, "{case}: {body}");
    assert_eq!(body["transactionId"], expected.transaction_id.as_str(), "{case}: {body}");
    match expected.authorization_code.as_str() {
        "" => assert!(body.get("authorizationCode").is_none(), "{case}: {body}"),
        code => assert_eq!(body["authorizationCode"], code, "{case}: {body}"),
    }
    let processed_at = body["processedAt"].as_str().unwrap_or_else(|| panic!("{case}: no processedAt: {body}"));
    assert!(processed_at.ends_with('Z') && processed_at.contains('T'), "{case}: {processed_at}");
}

fn case<'a>(results: &'a Value, name: &str) -> (u64, &'a Value) {
    let result = &results[name];
    let status = result["status"].as_u64().unwrap_or_else(|| panic!("{name}: no status in {results}"));
    (status, &result["body"])
}

async fn run_python_client(endpoint: &str) -> Value {
    let script = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/json_contract_client.py");
    let child = tokio::process::Command::new("python3").arg(&script).arg(endpoint).kill_on_drop(true).output();
    let output = tokio::time::timeout(CLIENT_DEADLINE, child)
        .await
        .unwrap_or_else(|_| panic!("python3 {} did not finish within {CLIENT_DEADLINE:?}", script.display()))
        .unwrap_or_else(|e| panic!("cannot run python3 {} (is python3 installed?): {e}", script.display()));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "python3 {} failed ({}): {stderr}", script.display(), output.status);
    serde_json::from_slice(&output.stdout).unwrap_or_else(|e| {
        panic!("the client's output is not JSON ({e}): {}", String::from_utf8_lossy(&output.stdout))
    })
}

#[tokio::test]
async fn a_client_written_from_the_docs_gets_through() {
    let server = rest::serve(&ServerConfig::default()).await.expect("rest server starts");
    let results = run_python_client(server.endpoint()).await;

    let (status, body) = case(&results, "without_optional_fields");
    assert_decision("without_optional_fields", status, body, &without_optional_fields("pay_contract_without_optional"));

    let (status, body) = case(&results, "created_at_null");
    let mut req = payment("pay_contract_created_at_null");
    req.created_at = None;
    assert_decision("created_at_null", status, body, &req);

    let (status, body) = case(&results, "canonical_proto3");
    assert_decision("canonical_proto3", status, body, &payment("pay_contract_canonical"));

    let (status, body) = case(&results, "malformed");
    assert_eq!(status, 400, "{body}");
    assert_eq!(body["error"]["code"], "malformed_body", "{body}");
    let message = body["error"]["message"].as_str().unwrap_or_default();
    assert!(message.starts_with("json: malformed json body: EOF while parsing"), "{body}");

    let (status, body) = case(&results, "after_malformed");
    assert_decision("after_malformed", status, body, &payment("pay_contract_base"));

    let (status, body) = case(&results, "openapi");
    assert_eq!(status, 200, "{body}");
    let generated: Value = serde_json::from_str(&openapi::document_json(rest::PATH).expect("document")).expect("JSON");
    assert_eq!(body, &generated, "GET /openapi.json serves the generated document");
    assert!(body["openapi"].as_str().is_some_and(|v| v.starts_with("3.")), "{}", body["openapi"]);
    assert!(body["paths"]["/v1/payments/authorize"]["post"].is_object());

    server.shutdown().await;
}

#[test]
fn committed_openapi_document_is_current() {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../docs/openapi.json");
    let generated = openapi::document_json(rest::PATH).expect("document serializes");
    if std::env::var_os("PAYBENCH_BLESS").is_some_and(|v| v == "1") {
        std::fs::write(&path, &generated).unwrap_or_else(|e| panic!("cannot write {}: {e}", path.display()));
        return;
    }
    let committed = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
    assert!(
        committed == generated,
        "{} is stale: the code now generates a different document. If the change is intended, run \
         PAYBENCH_BLESS=1 cargo test -p paybench --test json_contract committed_openapi and commit it.",
        path.display()
    );
}

async fn grpc_json_call(endpoint: &str, body: &Value) -> Result<Value, tonic::Status> {
    let reply = common::raw_grpc::authorize(endpoint, body.to_string()).await?;
    Ok(serde_json::from_slice(&reply).expect("grpc-json replies in JSON"))
}

#[tokio::test]
async fn grpc_json_takes_the_same_lenient_json() {
    // The grpc-json arm is the gRPC server with the JSON codec.
    let server = grpc::serve(Codec::Json, &ServerConfig::default()).await.expect("grpc-json server starts");
    let endpoint = server.endpoint().to_owned();

    let mut body = json!({
        "paymentId": "pay_grpc_without_optional", "orderId": "ord_1", "idempotencyKey": "idem_1",
        "amountMinor": 4998, "currency": "EUR",
        "customer": {"id": "cus_1", "email": "ada@example.com", "name": "Ada Lovelace",
                     "address": {"line1": "1 Main St", "city": "Berlin", "postalCode": "10115", "country": "DE"}},
        "card": {"token": "tok_visa_4242", "last4": "4242", "expMonth": 12, "expYear": 2030},
        "lineItems": [{"sku": "sku_1", "name": "Widget", "quantity": 2, "unitPriceMinor": 2499}],
        "metadata": {"channel": "web"}
    });
    let reply = grpc_json_call(&endpoint, &body).await.expect("optional fields left out");
    assert_decision(
        "grpc-json without optional fields",
        200,
        &reply,
        &without_optional_fields("pay_grpc_without_optional"),
    );

    body["paymentId"] = json!("pay_grpc_canonical");
    body["amountMinor"] = json!("4998");
    body["card"]["brand"] = json!("CARD_BRAND_VISA");
    body["createdAt"] = json!("2026-01-01T10:00:00Z");
    body["line_items"] = body.as_object_mut().and_then(|o| o.remove("lineItems")).expect("lineItems");
    body["unknownKey"] = json!([1, 2, 3]);
    let reply = grpc_json_call(&endpoint, &body).await.expect("canonical proto3 JSON");
    assert_decision("grpc-json canonical proto3", 200, &reply, &payment("pay_grpc_canonical"));

    body["amountMinor"] = json!("49.98");
    let status = grpc_json_call(&endpoint, &body).await.expect_err("a fractional amount");
    assert_eq!(status.code(), tonic::Code::InvalidArgument, "{status:?}");
    assert!(status.message().contains(r#""49.98" is not a decimal integer"#), "{status:?}");

    server.shutdown().await;
}
