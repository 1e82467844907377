//! What every broker worker and multiplexing client shares: how a refused request travels back
//! (`code: message` in an error reply body) and the one request handler workers run.

use crate::codec::Codec;
use crate::payment::PaymentService;
use crate::CallError;

/// How a worker reports a refused request in an error reply body: `code: message`.
pub(crate) fn error_body(error: &CallError) -> Vec<u8> {
    let code = match error {
        CallError::Domain(e) => e.code(),
        CallError::Codec { .. } => "invalid_argument",
        other => other.kind(),
    };
    let message = match error {
        CallError::Domain(e) => e.to_string().split_once(": ").map_or(e.to_string(), |(_, m)| m.to_owned()),
        other => other.to_string(),
    };
    format!("{code}: {message}").into_bytes()
}

/// The client's view of an error reply body written by [`error_body`].
pub(crate) fn rejected(transport: &'static str, body: &[u8]) -> CallError {
    let text = String::from_utf8_lossy(body);
    let (status, message) = text.split_once(": ").unwrap_or(("error", &text));
    CallError::Rejected { transport, status: status.to_owned(), message: message.to_owned() }
}

/// What every worker does with one request body: decode it with `codec`, run the shared business
/// function, encode the reply. `Err` holds an error-reply body.
pub(crate) async fn handle_request(service: &PaymentService, codec: Codec, body: &[u8]) -> Result<Vec<u8>, Vec<u8>> {
    let outcome = async {
        let req = codec.decode_request(body)?;
        let resp = service.authorize(&req).await?;
        codec.encode_response(&resp)
    }
    .await;
    outcome.map_err(|e| error_body(&e))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_malformed_body_comes_back_as_a_rejection() {
        let body = handle_request(&PaymentService::default(), Codec::Json, b"{not json").await.unwrap_err();
        let e = rejected("t", &body);
        assert!(matches!(&e, CallError::Rejected { status, .. } if status == "invalid_argument"), "{e}");
    }
}
