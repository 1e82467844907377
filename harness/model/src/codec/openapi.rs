//! The REST contract as an OpenAPI 3 document, served at `GET /openapi.json` by `paybench serve
//! rest` and committed at `docs/openapi.json` (`harness/tests/json_contract.rs` keeps the copy equal
//! to this code; `PAYBENCH_BLESS=1` rewrites it).
//!
//! The message schemas are derived on the prost types (`utoipa::ToSchema`, with attributes chosen
//! in `build.rs` from the proto's descriptors, next to the serde attributes they describe), so they
//! follow the proto without a second copy of it. This file adds only what the proto does not say:
//! the content types, the status codes and the error body that `transport::rest` answers with.
//! The route comes in as an argument, so that `codec` does not depend on `transport` (which
//! depends on `codec`).

use utoipa::openapi::path::{HttpMethod, OperationBuilder, PathItem, PathsBuilder};
use utoipa::openapi::request_body::RequestBodyBuilder;
use utoipa::openapi::schema::{ComponentsBuilder, KnownFormat, ObjectBuilder, SchemaFormat, Type};
use utoipa::openapi::{ContentBuilder, InfoBuilder, OpenApi, OpenApiBuilder, Ref, Required, ResponseBuilder};
use utoipa::openapi::{RefOr, Schema};
use utoipa::ToSchema;

use crate::codec::Codec;
use crate::pb::{PaymentRequest, PaymentResponse};
use crate::{CallError, Result};

/// Where `paybench serve rest` serves this document.
pub const PATH: &str = "/openapi.json";

/// The stable codes of the business function's refusals (422), as `DomainError::code` spells them.
pub const DOMAIN_ERROR_CODES: [&str; 5] =
    ["invalid_amount", "unknown_currency", "missing_field", "amount_mismatch", "invalid_field"];

/// The name of the error body's schema.
const ERROR_BODY: &str = "ErrorBody";

/// The document for a server that authorizes payments at `authorize_path`, as the server serves it
/// and `docs/openapi.json` holds it: pretty-printed JSON with a final newline.
pub fn document_json(authorize_path: &str) -> Result<String> {
    let mut text = document(authorize_path)
        .to_pretty_json()
        .map_err(|e| CallError::Codec { codec: "json", message: format!("openapi: {e}") })?;
    text.push('\n');
    Ok(text)
}

/// The OpenAPI 3 document of the REST arms, which authorize payments at `authorize_path`.
pub fn document(authorize_path: &str) -> OpenApi {
    let info = InfoBuilder::new()
        .title("paybench REST API")
        .version(env!("CARGO_PKG_VERSION"))
        .description(Some(
            "One payment call, as the `rest`, `rest-h2` and `rest-proto` arms of paybench carry it. \
             The messages are those of proto/payment/v1/payment.proto. Requests may also be canonical \
             proto3 JSON (64-bit integers as strings, enums by proto name, snake_case keys); every field \
             may be left out or null, meaning its proto3 default; unknown keys are ignored. See \
             docs/rest-api.md.",
        ))
        .build();
    let paths = PathsBuilder::new()
        .path(authorize_path, PathItem::new(HttpMethod::Post, authorize()))
        .path(PATH, PathItem::new(HttpMethod::Get, this_document()));
    let mut schemas = Vec::new();
    <PaymentRequest as ToSchema>::schemas(&mut schemas);
    <PaymentResponse as ToSchema>::schemas(&mut schemas);
    let components = ComponentsBuilder::new()
        .schema_from::<PaymentRequest>()
        .schema_from::<PaymentResponse>()
        .schemas_from_iter(schemas)
        .schema(ERROR_BODY, error_body())
        .build();
    OpenApiBuilder::new().info(info).paths(paths).components(Some(components)).build()
}

fn authorize() -> OperationBuilder {
    let json = Codec::Json.content_type();
    let protobuf = Codec::Protobuf.content_type();
    let request = RequestBodyBuilder::new()
        .required(Some(Required::True))
        .description(Some(
            "The payment to authorize. The response is in the request's codec: JSON for a JSON request, \
             protobuf for a protobuf one.",
        ))
        .content(json, ContentBuilder::new().schema(Some(Ref::from_schema_name(PaymentRequest::name()))).build())
        .content(protobuf, protobuf_body("payment.v1.PaymentRequest"))
        .build();
    let approved_or_declined = ResponseBuilder::new()
        .description("The decision: approved or declined (a decline is a valid answer, not an error).")
        .content(json, ContentBuilder::new().schema(Some(Ref::from_schema_name(PaymentResponse::name()))).build())
        .content(protobuf, protobuf_body("payment.v1.PaymentResponse"))
        .build();
    OperationBuilder::new()
        .operation_id(Some("authorize"))
        .summary(Some("Authorize one payment"))
        .request_body(Some(request))
        .response("200", approved_or_declined)
        .response("400", error_response("malformed_body: the body does not parse as the content type says"))
        .response("413", error_response("body_too_large: the body is over the server's limit (4 MiB by default)"))
        .response("415", error_response("unsupported_media_type: Content-Type is neither JSON nor protobuf"))
        .response(
            "422",
            error_response(&format!(
                "The body parses but is not a valid payment; code is one of {}",
                DOMAIN_ERROR_CODES.join(", ")
            )),
        )
        .response("500", error_response("encode_failed: the server could not encode its answer"))
}

fn this_document() -> OperationBuilder {
    OperationBuilder::new().operation_id(Some("openapi")).summary(Some("This OpenAPI document")).response(
        "200",
        ResponseBuilder::new()
            .description("The OpenAPI document, as committed at docs/openapi.json.")
            .content(Codec::Json.content_type(), ContentBuilder::new().build())
            .build(),
    )
}

fn protobuf_body(message: &str) -> utoipa::openapi::Content {
    let schema = ObjectBuilder::new()
        .schema_type(Type::String)
        .format(Some(SchemaFormat::KnownFormat(KnownFormat::Binary)))
        .description(Some(format!("{message}, protobuf binary encoding (the rest-proto arm)")));
    ContentBuilder::new().schema(Some(schema)).build()
}

fn error_response(description: &str) -> utoipa::openapi::Response {
    ResponseBuilder::new()
        .description(description)
        .content(
            Codec::Json.content_type(),
            ContentBuilder::new().schema(Some(Ref::from_schema_name(ERROR_BODY))).build(),
        )
        .build()
}

/// [`ErrorBody`]'s schema, written out by hand; `error_body_schema_matches_what_the_server_writes`
/// checks it against a serialized one.
fn error_body() -> RefOr<Schema> {
    let detail = ObjectBuilder::new()
        .description(Some("What went wrong, machine- and human-readable."))
        .property(
            "code",
            ObjectBuilder::new()
                .schema_type(Type::String)
                .description(Some("Stable code, e.g. malformed_body or a domain code such as unknown_currency.")),
        )
        .required("code")
        .property(
            "message",
            ObjectBuilder::new().schema_type(Type::String).description(Some("Explanation naming the offending part.")),
        )
        .required("message");
    ObjectBuilder::new()
        .description(Some("The body of every REST error response."))
        .property("error", detail)
        .required("error")
        .into()
}

/// The REST arms' one route.
pub const AUTHORIZE_PATH: &str = "/v1/payments/authorize";

/// The JSON error body every REST error response carries.
#[derive(Debug, serde::Serialize, serde::Deserialize)]
pub struct ErrorBody {
    /// The error.
    pub error: ErrorDetail,
}

/// What went wrong, machine- and human-readable.
#[derive(Debug, serde::Serialize, serde::Deserialize)]
pub struct ErrorDetail {
    /// Stable code: `malformed_body`, `body_too_large`, `unsupported_media_type`, or a domain code.
    pub code: String,
    /// Explanation naming the offending part.
    pub message: String,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::payment::DomainError;

    fn json() -> serde_json::Value {
        serde_json::from_str(&document_json(AUTHORIZE_PATH).expect("document serializes")).expect("document is JSON")
    }

    fn keys(value: &serde_json::Value) -> Vec<&str> {
        let mut keys: Vec<&str> = value.as_object().expect("object").keys().map(String::as_str).collect();
        keys.sort_unstable();
        keys
    }

    #[test]
    fn error_body_schema_matches_what_the_server_writes() {
        let body = ErrorBody { error: ErrorDetail { code: "c".into(), message: "m".into() } };
        let written = serde_json::to_value(&body).expect("serializes");
        let schema = &json()["components"]["schemas"]["ErrorBody"];
        assert_eq!(keys(&schema["properties"]), keys(&written));
        assert_eq!(keys(&schema["properties"]["error"]["properties"]), keys(&written["error"]));
    }

    #[test]
    fn every_domain_error_code_is_documented() {
        let errors = [
            DomainError::NonPositiveAmount(0),
            DomainError::UnknownCurrency(String::new()),
            DomainError::MissingField("x"),
            DomainError::AmountMismatch { items_minor: 0, amount_minor: 1 },
            DomainError::InvalidField { field: "x", reason: String::new() },
        ];
        let mut codes: Vec<&str> = errors.iter().map(DomainError::code).collect();
        codes.sort_unstable();
        let mut documented = DOMAIN_ERROR_CODES.to_vec();
        documented.sort_unstable();
        assert_eq!(codes, documented);
    }

    #[test]
    fn schemas_describe_the_json_the_codec_writes() {
        let doc = json();
        let schemas = &doc["components"]["schemas"];
        assert_eq!(
            keys(schemas),
            [
                "Address",
                "BundleItem",
                "Card",
                "CardBrand",
                "Customer",
                "ErrorBody",
                "LineItem",
                "PaymentRequest",
                "PaymentResponse",
                "PaymentStatus",
                "Tariff",
                "UsageCharge",
                "UsageUnit"
            ]
        );
        let request = &schemas["PaymentRequest"]["properties"];
        assert_eq!(request["amountMinor"]["type"], "integer");
        assert_eq!(request["amountMinor"]["format"], "int64");
        assert_eq!(request["createdAt"]["format"], "date-time");
        assert_eq!(request["card"]["oneOf"][0]["$ref"], "#/components/schemas/Card");
        assert!(schemas["PaymentRequest"].get("required").is_none(), "every request field may be absent");
        // The enum words the schema lists are the ones the codec writes, value by value.
        let words = |write: fn(&i32, serde_json::value::Serializer) -> serde_json::Result<serde_json::Value>| {
            (0..64).map_while(|v| write(&v, serde_json::value::Serializer).ok()).collect::<Vec<_>>()
        };
        assert_eq!(schemas["CardBrand"]["enum"], serde_json::json!(["unspecified", "visa", "mastercard", "amex"]));
        assert_eq!(
            schemas["CardBrand"]["enum"],
            serde_json::Value::from(words(crate::codec::json::card_brand::serialize))
        );
        assert_eq!(schemas["PaymentStatus"]["enum"], serde_json::json!(["unspecified", "approved", "declined"]));
        assert_eq!(
            schemas["PaymentStatus"]["enum"],
            serde_json::Value::from(words(crate::codec::json::payment_status::serialize))
        );
        for (schema, write) in [
            ("UsageUnit", crate::codec::json::usage_unit::serialize as fn(&i32, _) -> _),
            ("Tariff", crate::codec::json::tariff::serialize),
        ] {
            assert_eq!(schemas[schema]["enum"], serde_json::Value::from(words(write)), "{schema}");
        }
        assert_eq!(schemas["Tariff"]["enum"], serde_json::json!(["unspecified", "peak", "off_peak"]));
        // The recursive field refers to its own type by name (the schema walk stops there).
        let components = &schemas["BundleItem"]["properties"]["components"];
        assert_eq!(components["items"]["$ref"], "#/components/schemas/BundleItem", "{components}");
        let required = schemas["PaymentResponse"]["required"].as_array().expect("required list");
        for always in ["paymentId", "status", "transactionId", "feeMinor", "riskScore", "processedAt"] {
            assert!(required.iter().any(|r| r == always), "{always} is always written: {required:?}");
        }
        for omitted in ["authorizationCode", "declineReason"] {
            assert!(!required.iter().any(|r| r == omitted), "{omitted} is left out when empty");
        }
        let path = &doc["paths"][AUTHORIZE_PATH]["post"];
        assert!(path["requestBody"]["content"]["application/json"].is_object(), "{path}");
        assert!(path["requestBody"]["content"]["application/x-protobuf"].is_object(), "{path}");
        for status in ["200", "400", "413", "415", "422", "500"] {
            assert!(path["responses"][status].is_object(), "{status} missing: {path}");
        }
    }
}
