//! The one business function every server and worker calls: [`process`].
//!
//! It is deterministic and does the work a real authorizer does before it talks to a card network:
//! validation, fee calculation, a risk score and an approve/decline decision. No transport gets a
//! shortcut and no response is cached, so each arm pays the same CPU per call for the business part.

use std::time::{Duration, SystemTime};

use crate::pb::{Card, CardBrand, PaymentRequest, PaymentResponse, PaymentStatus};

/// Currencies the authorizer accepts, with their minor-unit fixed fee (the "+30 cents" part).
const CURRENCIES: &[(&str, i64)] = &[("EUR", 25), ("USD", 30), ("GBP", 20), ("CHF", 30), ("SEK", 250), ("JPY", 40)];

/// Percentage part of the fee, in basis points (2.9 %).
pub const FEE_BASIS_POINTS: i64 = 290;
/// Largest single authorization, in minor units; above it the payment is declined, not rejected.
pub const MAX_AMOUNT_MINOR: i64 = 5_000_000;
/// Risk score at or above which a payment is declined (scale 0..=1000).
pub const RISK_DECLINE_THRESHOLD: u32 = 800;

/// Why a request is not a valid payment at all (as opposed to a valid payment that is declined).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum DomainError {
    /// `amount_minor` is zero or negative.
    #[error("invalid_amount: amount_minor must be positive, got {0}")]
    NonPositiveAmount(i64),
    /// The currency is not one the authorizer accepts.
    #[error("unknown_currency: {0:?} is not an accepted ISO 4217 code")]
    UnknownCurrency(String),
    /// A required field is empty or absent.
    #[error("missing_field: {0} is required")]
    MissingField(&'static str),
    /// The line items do not add up to the amount.
    #[error("amount_mismatch: line items sum to {items_minor}, amount_minor is {amount_minor}")]
    AmountMismatch {
        /// Sum of quantity x unit price.
        items_minor: i64,
        /// The request's amount.
        amount_minor: i64,
    },
    /// A field has an impossible value.
    #[error("invalid_field: {field}: {reason}")]
    InvalidField {
        /// Field path, e.g. `card.last4`.
        field: &'static str,
        /// What is wrong with it.
        reason: String,
    },
}

impl DomainError {
    /// The stable machine-readable code (the part before the colon in the message).
    pub fn code(&self) -> &'static str {
        match self {
            DomainError::NonPositiveAmount(_) => "invalid_amount",
            DomainError::UnknownCurrency(_) => "unknown_currency",
            DomainError::MissingField(_) => "missing_field",
            DomainError::AmountMismatch { .. } => "amount_mismatch",
            DomainError::InvalidField { .. } => "invalid_field",
        }
    }
}

/// The fee the authorizer charges for `amount_minor` in `currency`, or `None` for an unknown currency.
///
/// Public so tests can recompute every response's fee independently of the server.
pub fn fee_minor(amount_minor: i64, currency: &str) -> Option<i64> {
    let fixed = CURRENCIES.iter().find(|(code, _)| *code == currency)?.1;
    // Round half up on the percentage part, as card processors do.
    Some((amount_minor * FEE_BASIS_POINTS + 5_000) / 10_000 + fixed)
}

/// Authorizes one payment, stamping `processed_at` with the wall clock.
pub fn process(req: &PaymentRequest) -> Result<PaymentResponse, DomainError> {
    process_at(req, SystemTime::now())
}

/// Authorizes one payment as of `now`; fully deterministic for a given request and `now`.
pub fn process_at(req: &PaymentRequest, now: SystemTime) -> Result<PaymentResponse, DomainError> {
    let card = validate(req)?;
    let fee =
        fee_minor(req.amount_minor, &req.currency).ok_or_else(|| DomainError::UnknownCurrency(req.currency.clone()))?;
    let risk_score = risk_score(req, card);
    let decline_reason = if card_expired(card, req) {
        Some("card_expired")
    } else if req.amount_minor > MAX_AMOUNT_MINOR {
        Some("amount_over_limit")
    } else if risk_score >= RISK_DECLINE_THRESHOLD {
        Some("risk_too_high")
    } else {
        None
    };
    let digest = fnv1a64(req.payment_id.as_bytes()) ^ fnv1a64(req.idempotency_key.as_bytes());
    let (status, authorization_code, decline_reason) = match decline_reason {
        None => (PaymentStatus::Approved, format!("{:06X}", digest % 0x100_0000), String::new()),
        Some(reason) => (PaymentStatus::Declined, String::new(), reason.to_owned()),
    };
    Ok(PaymentResponse {
        payment_id: req.payment_id.clone(),
        status: status as i32,
        authorization_code,
        transaction_id: format!("txn_{digest:016x}"),
        fee_minor: fee,
        risk_score,
        decline_reason,
        processed_at: Some(prost_types::Timestamp::from(now)),
    })
}

fn validate(req: &PaymentRequest) -> Result<&Card, DomainError> {
    if req.payment_id.is_empty() {
        return Err(DomainError::MissingField("payment_id"));
    }
    if req.idempotency_key.is_empty() {
        return Err(DomainError::MissingField("idempotency_key"));
    }
    if req.amount_minor <= 0 {
        return Err(DomainError::NonPositiveAmount(req.amount_minor));
    }
    if fee_minor(0, &req.currency).is_none() {
        return Err(DomainError::UnknownCurrency(req.currency.clone()));
    }
    let customer = req.customer.as_ref().ok_or(DomainError::MissingField("customer"))?;
    if !customer.email.contains('@') {
        return Err(DomainError::InvalidField {
            field: "customer.email",
            reason: format!("{:?} is not an email address", customer.email),
        });
    }
    let card = req.card.as_ref().ok_or(DomainError::MissingField("card"))?;
    if card.last4.len() != 4 || !card.last4.bytes().all(|b| b.is_ascii_digit()) {
        return Err(DomainError::InvalidField {
            field: "card.last4",
            reason: format!("{:?} is not four digits", card.last4),
        });
    }
    if !(1..=12).contains(&card.exp_month) {
        return Err(DomainError::InvalidField {
            field: "card.exp_month",
            reason: format!("{} is not a month", card.exp_month),
        });
    }
    if req.line_items.is_empty() {
        return Err(DomainError::MissingField("line_items"));
    }
    let mut items_minor: i64 = 0;
    for item in &req.line_items {
        if item.quantity == 0 || item.unit_price_minor < 0 {
            return Err(DomainError::InvalidField {
                field: "line_items",
                reason: format!("item {:?} has quantity 0 or a negative price", item.sku),
            });
        }
        items_minor = items_minor.saturating_add(item.unit_price_minor.saturating_mul(item.quantity.into()));
    }
    if items_minor != req.amount_minor {
        return Err(DomainError::AmountMismatch { items_minor, amount_minor: req.amount_minor });
    }
    Ok(card)
}

/// The card is expired if its last valid month is before the month the request was created in.
fn card_expired(card: &Card, req: &PaymentRequest) -> bool {
    let created = req.created_at.as_ref().map_or(0, |t| t.seconds);
    let created_date = time::OffsetDateTime::from_unix_timestamp(created).unwrap_or(time::OffsetDateTime::UNIX_EPOCH);
    let created_months = created_date.year() as i64 * 12 + created_date.month() as i64;
    let card_months = card.exp_year as i64 * 12 + card.exp_month as i64;
    card_months < created_months
}

/// A deterministic score on 0..=1000 from signals an authorizer really uses.
fn risk_score(req: &PaymentRequest, card: &Card) -> u32 {
    let mut score: u32 = 0;
    // Larger tickets are riskier: up to 300 points on a log scale of the amount.
    let magnitude = 64 - (req.amount_minor.max(1) as u64).leading_zeros();
    score += (magnitude * 10).min(300);
    // Many distinct items in one basket: up to 150 points.
    score += (req.line_items.len() as u32 * 3).min(150);
    // Shipping country that does not match the currency's home region.
    let country = req.customer.as_ref().and_then(|c| c.address.as_ref()).map_or("", |a| a.country.as_str());
    let home = matches!(
        (req.currency.as_str(), country),
        ("EUR", "DE" | "FR" | "NL" | "ES" | "IT")
            | ("USD", "US")
            | ("GBP", "GB")
            | ("CHF", "CH")
            | ("SEK", "SE")
            | ("JPY", "JP")
    );
    if !home {
        score += 150;
    }
    if card.brand == CardBrand::Unspecified as i32 {
        score += 100;
    }
    // Device/velocity signal stand-in: a stable per-token component so scores spread out.
    score += (fnv1a64(card.token.as_bytes()) % 300) as u32;
    score.min(1000)
}

/// FNV-1a, 64 bit: a stable hash (unlike `DefaultHasher`, it is the same on every Rust release),
/// so authorization codes and scores are reproducible across machines.
fn fnv1a64(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |hash, b| (hash ^ u64::from(*b)).wrapping_mul(0x0000_0100_0000_01b3))
}

/// The business function as servers call it: [`process`] plus an optional simulated service time
/// (for example a card-network round trip). Zero by default, so benches measure transport cost.
#[derive(Debug, Clone, Copy, Default)]
pub struct PaymentService {
    /// Time added to every call before it is processed; `Duration::ZERO` adds nothing.
    /// Non-zero values go through tokio's timer, whose resolution is 1 ms.
    pub service_time: Duration,
    /// CPU work added to every call: the server's thread busy-spins this long (wall time), so a
    /// server with `n` threads has a known capacity of about `n / busy_time` (the known-answer
    /// tests use it). A sleep cannot do that: sleeping calls overlap without limit.
    pub busy_time: Duration,
}

impl PaymentService {
    /// A service with the given simulated service time.
    pub fn with_service_time(service_time: Duration) -> Self {
        Self { service_time, busy_time: Duration::ZERO }
    }

    /// The same service with `busy_time` of CPU work per call.
    pub fn with_busy_time(self, busy_time: Duration) -> Self {
        Self { busy_time, ..self }
    }

    /// Waits the simulated service time (if any), then runs [`process`].
    pub async fn authorize(&self, req: &PaymentRequest) -> Result<PaymentResponse, DomainError> {
        if !self.service_time.is_zero() {
            tokio::time::sleep(self.service_time).await;
        }
        let done_at = std::time::Instant::now() + self.busy_time;
        let outcome = process(req);
        while std::time::Instant::now() < done_at {
            std::hint::spin_loop();
        }
        outcome
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::payload::{generate, Profile};

    #[test]
    fn every_profile_is_a_valid_payment_with_the_expected_fee() {
        for profile in Profile::ALL {
            let req = generate(profile, 7, 0);
            let resp = process(&req).expect("generated payloads are valid");
            assert_eq!(resp.payment_id, req.payment_id);
            assert_eq!(
                resp.fee_minor,
                (req.amount_minor * 290 + 5_000) / 10_000 + fee_minor(0, &req.currency).unwrap()
            );
            assert!(resp.risk_score <= 1000);
        }
    }

    #[test]
    fn process_is_deterministic_for_a_fixed_clock() {
        let req = generate(Profile::Typical, 1, 3);
        let now = SystemTime::UNIX_EPOCH + Duration::from_secs(1_700_000_000);
        assert_eq!(process_at(&req, now), process_at(&req, now));
    }

    #[test]
    fn validation_names_the_problem() {
        let mut req = generate(Profile::Small, 1, 0);
        req.amount_minor = -5;
        assert_eq!(process(&req).unwrap_err(), DomainError::NonPositiveAmount(-5));

        let mut req = generate(Profile::Small, 1, 0);
        req.currency = "XXX".into();
        let err = process(&req).unwrap_err();
        assert_eq!(err.code(), "unknown_currency");
        assert!(err.to_string().contains("XXX"), "{err}");

        let mut req = generate(Profile::Small, 1, 0);
        req.amount_minor += 1;
        assert_eq!(process(&req).unwrap_err().code(), "amount_mismatch");
    }

    #[test]
    fn expired_card_is_declined_not_rejected() {
        let mut req = generate(Profile::Small, 1, 0);
        req.card.as_mut().unwrap().exp_year = 2001;
        let resp = process(&req).unwrap();
        assert_eq!(resp.status, PaymentStatus::Declined as i32);
        assert_eq!(resp.decline_reason, "card_expired");
        assert!(resp.authorization_code.is_empty());
    }
}
