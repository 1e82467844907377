//! The one business function every server and worker calls: [`process`].
//!
//! It is deterministic and does the work a real authorizer does before it talks to a card network:
//! validation, fee calculation, a risk score and an approve/decline decision. No transport gets a
//! shortcut and no response is cached, so each arm pays the same CPU per call for the business part.

use std::time::SystemTime;

use crate::pb::{BundleItem, Card, CardBrand, PaymentRequest, PaymentResponse, PaymentStatus, UsageCharge, UsageUnit};

/// Currencies the authorizer accepts, with their minor-unit fixed fee (the "+30 cents" part).
const CURRENCIES: &[(&str, i64)] = &[("EUR", 25), ("USD", 30), ("GBP", 20), ("CHF", 30), ("SEK", 250), ("JPY", 40)];

/// Percentage part of the fee, in basis points (2.9 %).
pub const FEE_BASIS_POINTS: i64 = 290;
/// Largest single authorization, in minor units; above it the payment is declined, not rejected.
pub const MAX_AMOUNT_MINOR: i64 = 5_000_000;
/// Risk score at or above which a payment is declined (scale 0..=1000).
pub const RISK_DECLINE_THRESHOLD: u32 = 800;
/// Deepest bundle accepted, in levels of bundle items, the bundle as sold included. A real
/// catalogue's bills of materials are a few levels deep, and an authorizer states its bound
/// rather than inheriting the decoders' (prost and serde_json stop at about a hundred levels).
pub const MAX_BUNDLE_DEPTH_LEVELS: usize = 8;

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

/// A usage charge before tax: `quantity_milli` thousandths of a unit at `unit_price_minor` per
/// unit, rounded half up to the minor unit, as billing systems do (`i64::MAX` if it overflows).
pub fn usage_net_minor(quantity_milli: u64, unit_price_minor: i64) -> i64 {
    let net = (i128::from(quantity_milli) * i128::from(unit_price_minor) + 500).div_euclid(1_000);
    i64::try_from(net).unwrap_or(i64::MAX)
}

/// The tax on `net_minor` at `rate_basis_points`, rounded half up to the minor unit.
pub fn usage_tax_minor(net_minor: i64, rate_basis_points: u32) -> i64 {
    let tax = (i128::from(net_minor) * i128::from(rate_basis_points) + 5_000).div_euclid(10_000);
    i64::try_from(tax).unwrap_or(i64::MAX)
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
    if req.line_items.is_empty() && req.bundles.is_empty() && req.usage_charges.is_empty() {
        return Err(DomainError::MissingField("line_items, bundles or usage_charges"));
    }
    let mut items_minor: i64 = 0;
    for item in &req.line_items {
        items_minor =
            items_minor.saturating_add(priced_minor("line_items", &item.sku, item.quantity, item.unit_price_minor)?);
    }
    let items_minor = items_minor
        .saturating_add(bundles_minor(&req.bundles)?)
        .saturating_add(usage_charges_minor(&req.usage_charges)?);
    if items_minor != req.amount_minor {
        return Err(DomainError::AmountMismatch { items_minor, amount_minor: req.amount_minor });
    }
    Ok(card)
}

/// The bundles' total, after checking every bundle's price allocation at every level. A work
/// list rather than recursion: the walk's memory is on the heap whatever a caller builds.
fn bundles_minor(bundles: &[BundleItem]) -> Result<i64, DomainError> {
    let mut total_minor: i64 = 0;
    // (bundle or sub-assembly, level: 1 for a bundle as sold)
    let mut pending: Vec<(&BundleItem, usize)> = Vec::new();
    for bundle in bundles {
        total_minor =
            total_minor.saturating_add(priced_minor("bundles", &bundle.sku, bundle.quantity, bundle.unit_price_minor)?);
        pending.push((bundle, 1));
    }
    while let Some((item, level)) = pending.pop() {
        if item.components.is_empty() {
            continue;
        }
        let invalid = |reason: String| DomainError::InvalidField { field: "bundles", reason };
        if level >= MAX_BUNDLE_DEPTH_LEVELS {
            return Err(invalid(format!("bundle {:?} nests deeper than {MAX_BUNDLE_DEPTH_LEVELS} levels", item.sku)));
        }
        let mut components_minor: i64 = 0;
        for c in &item.components {
            components_minor =
                components_minor.saturating_add(priced_minor("bundles", &c.sku, c.quantity, c.unit_price_minor)?);
            pending.push((c, level + 1));
        }
        if components_minor != item.unit_price_minor {
            let reason = format!(
                "bundle {:?} costs {} but its components add up to {components_minor}",
                item.sku, item.unit_price_minor
            );
            return Err(invalid(reason));
        }
    }
    Ok(total_minor)
}

/// Quantity x unit price of a line item or bundle item (in `field`), which must have a quantity
/// and no negative price.
fn priced_minor(field: &'static str, sku: &str, quantity: u32, unit_price_minor: i64) -> Result<i64, DomainError> {
    if quantity == 0 || unit_price_minor < 0 {
        return Err(DomainError::InvalidField {
            field,
            reason: format!("item {sku:?} has quantity 0 or a negative price"),
        });
    }
    Ok(unit_price_minor.saturating_mul(quantity.into()))
}

/// The usage charges' total (net plus tax), after checking that each one's figures follow from
/// its quantity, price and rate, and that it covers a period.
fn usage_charges_minor(charges: &[UsageCharge]) -> Result<i64, DomainError> {
    let mut total_minor: i64 = 0;
    for charge in charges {
        let invalid = |field, reason: String| DomainError::InvalidField { field, reason };
        let meter = charge.meter_id;
        if charge.unit == UsageUnit::Unspecified as i32 {
            return Err(invalid("usage_charges.unit", format!("meter {meter} has no unit")));
        }
        if charge.unit_price_minor < 0 {
            return Err(invalid("usage_charges.unit_price_minor", format!("meter {meter} has a negative price")));
        }
        let net_minor = usage_net_minor(charge.quantity_milli, charge.unit_price_minor);
        if charge.net_minor != net_minor {
            let reason = format!("meter {meter}: {} should be {net_minor}", charge.net_minor);
            return Err(invalid("usage_charges.net_minor", reason));
        }
        let tax_minor = usage_tax_minor(net_minor, charge.tax_rate_basis_points);
        if charge.tax_minor != tax_minor {
            let reason = format!("meter {meter}: {} should be {tax_minor}", charge.tax_minor);
            return Err(invalid("usage_charges.tax_minor", reason));
        }
        let start = charge.period_start.as_ref().ok_or(DomainError::MissingField("usage_charges.period_start"))?;
        let end = charge.period_end.as_ref().ok_or(DomainError::MissingField("usage_charges.period_end"))?;
        if (end.seconds, end.nanos) <= (start.seconds, start.nanos) {
            return Err(invalid(
                "usage_charges.period_end",
                format!("meter {meter}: the period does not end after it starts"),
            ));
        }
        total_minor = total_minor.saturating_add(net_minor).saturating_add(tax_minor);
    }
    Ok(total_minor)
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::payload::{generate, Profile};
    use std::time::Duration;

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
    fn usage_figures_round_half_up() {
        // 1.5 units at 33 = 49.5 -> 50; 1.499 units = 49.467 -> 49.
        assert_eq!((usage_net_minor(1_500, 33), usage_net_minor(1_499, 33)), (50, 49));
        assert_eq!(usage_net_minor(0, 60), 0);
        // 19 % of 1000 = 190; of 5 = 0.95 -> 1; 25 % of 2 = 0.5 -> 1; of 1 = 0.25 -> 0.
        let taxes = [(1_000, 1_900), (5, 1_900), (2, 2_500), (1, 2_500)].map(|(net, rate)| usage_tax_minor(net, rate));
        assert_eq!(taxes, [190, 1, 1, 0]);
        assert_eq!(usage_net_minor(u64::MAX, i64::MAX), i64::MAX, "overflow saturates, so the check refuses it");
    }

    /// The first error of `req`, which must be refused.
    fn refusal(req: &PaymentRequest) -> DomainError {
        process(req).expect_err("must be refused")
    }

    #[test]
    fn usage_charges_must_follow_from_their_quantity_price_and_rate() {
        let valid = generate(Profile::Numeric, 1, 0);
        assert!(valid.line_items.is_empty(), "usage charges alone make a payment");
        type BreakIt = fn(&mut UsageCharge);
        let cases: [(BreakIt, &str); 6] = [
            (|c| c.net_minor += 1, "usage_charges.net_minor"),
            (|c| c.tax_minor += 1, "usage_charges.tax_minor"),
            (|c| c.unit = UsageUnit::Unspecified as i32, "usage_charges.unit"),
            (|c| c.unit_price_minor = -1, "usage_charges.unit_price_minor"),
            (|c| c.period_end = c.period_start, "usage_charges.period_end"),
            (|c| c.period_start = None, "usage_charges.period_start"),
        ];
        for (break_it, field) in cases {
            let mut req = valid.clone();
            break_it(&mut req.usage_charges[7]);
            let err = refusal(&req).to_string();
            assert!(err.contains(field), "{field}: {err}");
        }
        let mut req = valid.clone();
        req.amount_minor += 1;
        assert_eq!(refusal(&req).code(), "amount_mismatch");
        let mut req = valid;
        req.usage_charges.clear();
        assert_eq!(refusal(&req), DomainError::MissingField("line_items, bundles or usage_charges"));
    }

    #[test]
    fn a_bundle_must_cost_what_its_components_add_up_to_at_every_level() {
        let valid = generate(Profile::Nested, 1, 0);
        let mut req = valid.clone();
        // The deepest part of the first bundle: the top-level price still adds up to the amount.
        let mut part = &mut req.bundles[0];
        while !part.components.is_empty() {
            part = &mut part.components[0];
        }
        part.unit_price_minor += 1;
        let err = refusal(&req);
        assert_eq!(err.code(), "invalid_field");
        assert!(err.to_string().contains("components add up to"), "{err}");

        let mut req = valid;
        req.bundles[1].components[0].components[1].quantity = 0;
        let err = refusal(&req).to_string();
        assert!(err.contains("bundles") && err.contains("quantity 0"), "{err}");
    }

    #[test]
    fn bundles_nest_at_most_max_depth_levels() {
        // A bundle over `levels - 1` levels of sub-assemblies and parts, one of each, 100 each.
        let chain = |levels: usize| {
            let mut item = BundleItem { sku: "part".into(), quantity: 1, unit_price_minor: 100, ..Default::default() };
            for _ in 1..levels {
                item = BundleItem {
                    sku: "kit".into(),
                    quantity: 1,
                    unit_price_minor: 100,
                    components: vec![item],
                    ..Default::default()
                };
            }
            item
        };
        let mut req = generate(Profile::Small, 1, 0);
        req.amount_minor = 100;
        req.line_items.clear();
        req.bundles = vec![chain(MAX_BUNDLE_DEPTH_LEVELS)];
        assert!(process(&req).is_ok(), "{MAX_BUNDLE_DEPTH_LEVELS} levels are accepted");
        req.bundles = vec![chain(MAX_BUNDLE_DEPTH_LEVELS + 1)];
        let err = refusal(&req).to_string();
        assert!(err.contains(&format!("nests deeper than {MAX_BUNDLE_DEPTH_LEVELS} levels")), "{err}");
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
