//! Deterministic request payloads in five profiles: the same checkout in three sizes (`small`,
//! `typical`, `large`) and two other shapes (`numeric`, `nested`).
//!
//! The sizes are string-heavy (SKUs, product names, addresses, metadata), which holds protobuf's
//! size advantage over JSON near 2x: a string costs the same bytes in both. The shapes vary what
//! the message is made of instead of how much of it there is:
//! - `numeric` pays a usage-based bill: tens of metered charges whose fields are integers, enums
//!   and timestamps, where protobuf's varints and JSON's digits, keys and quotes differ most;
//! - `nested` is the typical checkout whose basket holds bundles several levels deep instead of
//!   flat line items, where protobuf must compute every enclosing message's length before writing
//!   it.
//!
//! A payload is a pure function of `(profile, seed, index)`: ChaCha8 (whose output is fixed by its
//! specification, unlike `StdRng`) drives every choice, so every transport, machine and run sends
//! the same values. `index` makes ids unique within a run without changing the payload's shape.

use std::collections::HashMap;
use std::fmt;
use std::str::FromStr;

use rand::{seq::IndexedRandom, Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

use crate::payment::{usage_net_minor, usage_tax_minor};
use crate::pb::{
    Address, BundleItem, Card, CardBrand, Customer, LineItem, PaymentRequest, Tariff, UsageCharge, UsageUnit,
};

/// The size class or shape of a request.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Profile {
    /// One line item, no metadata: a few hundred bytes.
    Small,
    /// Ten line items and a handful of metadata entries: the everyday checkout.
    Typical,
    /// Hundreds of line items: at least 50 KB as JSON (a B2B order).
    Large,
    /// A usage-based bill (cloud, telecom, energy): [`USAGE_CHARGES`] metered charges of numbers,
    /// enums and timestamps, no line items, no metadata, no address. Text only where a payment
    /// needs it: ids, currency, email, card token.
    Numeric,
    /// The `typical` checkout (same customer, card and metadata) whose basket is
    /// [`NESTED_BUNDLES`] bundles instead of line items, each a bill of materials
    /// [`NESTED_DEPTH_LEVELS`] levels deep.
    Nested,
}

impl Profile {
    /// Every profile: the sizes smallest first, then the shapes.
    pub const ALL: [Profile; 5] = [Profile::Small, Profile::Typical, Profile::Large, Profile::Numeric, Profile::Nested];

    /// The sizes of the one checkout shape, smallest first. Benches that time every arm once per
    /// profile (`benches/latency.rs`, `benches/throughput.rs`) iterate these only, so a
    /// `cargo bench` does not grow by two thirds; the shapes are measured where the encoding is
    /// what differs (`benches/codec.rs`, the instruction counts, `paybench sizes`), and under load
    /// by `paybench run` with a scenario that lists them.
    pub const SIZES: [Profile; 3] = [Profile::Small, Profile::Typical, Profile::Large];

    /// The profiles that vary what a request is made of rather than its size.
    pub const SHAPES: [Profile; 2] = [Profile::Numeric, Profile::Nested];

    /// The profile's stable name, as used in bench ids and results.
    pub fn name(self) -> &'static str {
        match self {
            Profile::Small => "small",
            Profile::Typical => "typical",
            Profile::Large => "large",
            Profile::Numeric => "numeric",
            Profile::Nested => "nested",
        }
    }

    /// Number of line items in every request of this profile.
    pub fn line_items(self) -> usize {
        match self {
            Profile::Small => 1,
            Profile::Typical => 10,
            Profile::Large => 600,
            Profile::Numeric | Profile::Nested => 0,
        }
    }

    /// Number of bundles (as sold, each with its bill of materials) in every request of this profile.
    pub fn bundles(self) -> usize {
        match self {
            Profile::Nested => NESTED_BUNDLES,
            _ => 0,
        }
    }

    /// Number of usage charges in every request of this profile.
    pub fn usage_charges(self) -> usize {
        match self {
            Profile::Numeric => USAGE_CHARGES,
            _ => 0,
        }
    }

    /// Levels of every bundle, the bundle as sold included; 0 without bundles.
    pub fn bundle_depth_levels(self) -> usize {
        match self {
            Profile::Nested => NESTED_DEPTH_LEVELS,
            _ => 0,
        }
    }

    /// Number of metadata entries in every request of this profile.
    pub fn metadata_entries(self) -> usize {
        match self {
            Profile::Small | Profile::Numeric => 0,
            Profile::Typical | Profile::Nested => 6,
            Profile::Large => 24,
        }
    }
}

impl fmt::Display for Profile {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for Profile {
    type Err = crate::Error;

    fn from_str(s: &str) -> crate::Result<Self> {
        Profile::ALL.into_iter().find(|p| p.name() == s).ok_or_else(|| {
            let names: Vec<&str> = Profile::ALL.iter().map(|p| p.name()).collect();
            crate::Error::Config(format!("unknown profile {s:?}; expected one of {}", names.join(", ")))
        })
    }
}

/// Charges on a `numeric` bill: one meter a day over a month's billing period, "tens of items"
/// like a typical basket rather than a bulk order.
pub const USAGE_CHARGES: usize = 30;

/// Bundles in a `nested` request: with [`NESTED_DEPTH_LEVELS`], a request of about the `typical`
/// one's size (`paybench sizes` prints both).
pub const NESTED_BUNDLES: usize = 2;

/// Levels of a `nested` bundle, the bundle as sold included. Each level above the last holds one
/// sub-assembly and one part, so a bundle has `2 x levels - 1` items: deep rather than wide.
pub const NESTED_DEPTH_LEVELS: usize = 5;

/// The seed used when none is given: benches and runs agree on it so their payloads match.
pub const DEFAULT_SEED: u64 = 0x5eed_0001;

const PRODUCTS: &[&str] = &[
    "Organic cotton t-shirt, navy, size M",
    "Stainless steel water bottle 750 ml",
    "Wireless noise-cancelling headphones",
    "Espresso beans, single origin, 1 kg",
    "USB-C charging cable, braided, 2 m",
    "Running shoes, trail, EU 42",
    "Hardcover notebook, dotted, A5",
    "LED desk lamp with dimmer",
];
const CITIES: &[(&str, &str, &str)] = &[
    ("Berlin", "10115", "DE"),
    ("Paris", "75001", "FR"),
    ("Amsterdam", "1011", "NL"),
    ("Austin", "73301", "US"),
    ("London", "EC1A 1BB", "GB"),
    ("Stockholm", "111 22", "SE"),
];
const CURRENCIES: &[&str] = &["EUR", "EUR", "EUR", "USD", "GBP", "SEK"];
const FIRST: &[&str] = &["Ada", "Grace", "Linus", "Barbara", "Ken", "Margaret", "Dennis"];
const LAST: &[&str] = &["Lovelace", "Hopper", "Torvalds", "Liskov", "Thompson", "Hamilton"];

/// The `nested` bundles, each named level by level: the bundle as sold, then the sub-assembly at
/// each level down to the one above the parts.
const BUNDLES: &[[&str; NESTED_DEPTH_LEVELS - 1]] = &[
    ["Home office desk setup", "Monitor arm", "Arm joint", "Joint hinge"],
    ["Espresso bar starter kit", "Grinder", "Burr assembly", "Burr carrier"],
    ["Commuter bike build", "Wheel set", "Rear hub", "Freehub body"],
];
const PARTS: &[&str] = &["M4 screw set", "Bearing 608", "Spring clip", "Gasket", "Cable ties", "Hex key 4 mm"];

/// Units and tax rates (basis points) a `numeric` bill's meters use.
const USAGE_UNITS: &[UsageUnit] =
    &[UsageUnit::KilowattHour, UsageUnit::Gigabyte, UsageUnit::Minute, UsageUnit::ThousandRequests];
const TAX_RATES_BASIS_POINTS: &[u32] = &[0, 700, 1900, 2000, 2500];

/// 2026-01-01T00:00:00Z: requests are stamped from here on, so expiries are stable.
const EPOCH_SECONDS: i64 = 1_767_225_600;
const DAY_SECONDS: i64 = 86_400;

/// Builds request number `index` of `profile` from `seed`.
pub fn generate(profile: Profile, seed: u64, index: u64) -> PaymentRequest {
    let mut rng = ChaCha8Rng::seed_from_u64(seed ^ index.wrapping_mul(0x9e37_79b9_7f4a_7c15));
    match profile {
        Profile::Numeric => usage_bill(&mut rng, seed, index),
        _ => checkout(profile, &mut rng, seed, index),
    }
}

/// A checkout: `small`, `typical` and `large` with line items, `nested` with bundles. The
/// random draws of the sizes are in the order they had before the shapes existed, so their
/// payloads did not change (`harness/tests/wire_pins.rs`).
fn checkout(profile: Profile, rng: &mut ChaCha8Rng, seed: u64, index: u64) -> PaymentRequest {
    let first = *FIRST.choose(rng).unwrap_or(&"Ada");
    let last = *LAST.choose(rng).unwrap_or(&"Lovelace");
    let (city, postal, country) = *CITIES.choose(rng).unwrap_or(&CITIES[0]);
    let currency = *CURRENCIES.choose(rng).unwrap_or(&"EUR");

    let line_items: Vec<LineItem> = (0..profile.line_items())
        .map(|i| LineItem {
            sku: format!("SKU-{:06}", rng.random_range(0..1_000_000)),
            name: PRODUCTS[(i + rng.random_range(0..PRODUCTS.len())) % PRODUCTS.len()].to_owned(),
            quantity: rng.random_range(1..=4),
            unit_price_minor: rng.random_range(199..=19_999),
        })
        .collect();
    // No draws at all for the sizes (no bundles), so their random sequence is unchanged.
    let bundles: Vec<BundleItem> =
        (0..profile.bundles()).map(|i| bundle_item(rng, &BUNDLES[i % BUNDLES.len()], 1)).collect();
    let amount_minor = line_items.iter().map(|item| item.unit_price_minor * i64::from(item.quantity)).sum::<i64>()
        + bundles.iter().map(|bundle| bundle.unit_price_minor * i64::from(bundle.quantity)).sum::<i64>();

    let metadata: HashMap<String, String> = (0..profile.metadata_entries())
        .map(|i| {
            let key =
                ["channel", "campaign", "device", "locale", "referrer", "session", "ab_bucket", "ip_country"][i % 8];
            (format!("{key}_{i}"), format!("{:x}", rng.random::<u64>()))
        })
        .collect();

    PaymentRequest {
        payment_id: format!("pay_{seed:x}_{index:010}"),
        order_id: format!("ord_{:012}", rng.random_range(0..1_000_000_000_000u64)),
        idempotency_key: format!("{:032x}", rng.random::<u128>()),
        amount_minor,
        currency: currency.to_owned(),
        customer: Some(Customer {
            id: format!("cus_{:010}", rng.random_range(0..10_000_000_000u64)),
            email: format!("{}.{}@example.com", first.to_lowercase(), last.to_lowercase()),
            name: format!("{first} {last}"),
            address: Some(Address {
                line1: format!("{} Example Street", rng.random_range(1..300)),
                line2: if rng.random_bool(0.3) { "Apartment 4B".to_owned() } else { String::new() },
                city: city.to_owned(),
                postal_code: postal.to_owned(),
                country: country.to_owned(),
            }),
        }),
        card: Some(card(rng)),
        line_items,
        metadata,
        created_at: Some(created_at(index)),
        usage_charges: Vec::new(),
        bundles,
    }
}

/// A bundle item at `level` (1 = the bundle as sold) down to [`NESTED_DEPTH_LEVELS`]: one
/// sub-assembly (a part at the last level) and one part, priced at the sum of its components, as
/// `payment::process` checks.
fn bundle_item(rng: &mut ChaCha8Rng, names: &[&str; NESTED_DEPTH_LEVELS - 1], level: usize) -> BundleItem {
    let components = if level + 1 < NESTED_DEPTH_LEVELS {
        vec![bundle_item(rng, names, level + 1), part(rng)]
    } else {
        vec![part(rng), part(rng)]
    };
    BundleItem {
        sku: format!("SKU-{:06}", rng.random_range(0..1_000_000)),
        name: names[level - 1].to_owned(),
        // One of each sub-assembly per parent; a customer may order a bundle twice.
        quantity: if level == 1 { rng.random_range(1..=2) } else { 1 },
        unit_price_minor: components.iter().map(|c| c.unit_price_minor * i64::from(c.quantity)).sum(),
        components,
    }
}

/// A part: a leaf of a bundle, a few of them per parent unit.
fn part(rng: &mut ChaCha8Rng) -> BundleItem {
    BundleItem {
        sku: format!("PRT-{:06}", rng.random_range(0..1_000_000)),
        name: (*PARTS.choose(rng).unwrap_or(&PARTS[0])).to_owned(),
        quantity: rng.random_range(1..=4),
        unit_price_minor: rng.random_range(49..=1_999),
        components: Vec::new(),
    }
}

/// A usage-based bill: [`USAGE_CHARGES`] metered charges, a stored customer (id and email) and a
/// card; no line items, no metadata, no address.
fn usage_bill(rng: &mut ChaCha8Rng, seed: u64, index: u64) -> PaymentRequest {
    let first = *FIRST.choose(rng).unwrap_or(&"Ada");
    let last = *LAST.choose(rng).unwrap_or(&"Lovelace");
    let currency = *CURRENCIES.choose(rng).unwrap_or(&"EUR");
    let usage_charges: Vec<UsageCharge> =
        (0..Profile::Numeric.usage_charges()).map(|day| usage_charge(rng, day)).collect();
    let amount_minor = usage_charges.iter().map(|c| c.net_minor + c.tax_minor).sum();
    PaymentRequest {
        payment_id: format!("pay_{seed:x}_{index:010}"),
        order_id: format!("inv_{:010}", rng.random_range(0..10_000_000_000u64)),
        idempotency_key: format!("{:032x}", rng.random::<u128>()),
        amount_minor,
        currency: currency.to_owned(),
        customer: Some(Customer {
            id: format!("cus_{:010}", rng.random_range(0..10_000_000_000u64)),
            email: format!("{}.{}@example.com", first.to_lowercase(), last.to_lowercase()),
            ..Customer::default()
        }),
        card: Some(card(rng)),
        created_at: Some(created_at(index)),
        usage_charges,
        ..PaymentRequest::default()
    }
}

/// One meter's charge for day `day` of the [`USAGE_CHARGES`] days before 2026-01-01.
fn usage_charge(rng: &mut ChaCha8Rng, day: usize) -> UsageCharge {
    let quantity_milli = rng.random_range(0..=250_000);
    let unit_price_minor = rng.random_range(1..=60);
    let tax_rate_basis_points = *TAX_RATES_BASIS_POINTS.choose(rng).unwrap_or(&0);
    let net_minor = usage_net_minor(quantity_milli, unit_price_minor);
    let period_start = EPOCH_SECONDS - (USAGE_CHARGES - day) as i64 * DAY_SECONDS;
    UsageCharge {
        meter_id: rng.random_range(100_000_000..1_000_000_000),
        unit: *USAGE_UNITS.choose(rng).unwrap_or(&UsageUnit::KilowattHour) as i32,
        quantity_milli,
        unit_price_minor,
        net_minor,
        tax_rate_basis_points,
        tax_minor: usage_tax_minor(net_minor, tax_rate_basis_points),
        tariff: *[Tariff::Unspecified, Tariff::Peak, Tariff::OffPeak].choose(rng).unwrap_or(&Tariff::Unspecified)
            as i32,
        period_start: Some(prost_types::Timestamp { seconds: period_start, nanos: 0 }),
        period_end: Some(prost_types::Timestamp { seconds: period_start + DAY_SECONDS, nanos: 0 }),
    }
}

fn card(rng: &mut ChaCha8Rng) -> Card {
    Card {
        token: format!("tok_{:024x}", rng.random::<u128>() >> 32),
        last4: format!("{:04}", rng.random_range(0..10_000)),
        brand: *[CardBrand::Visa, CardBrand::Mastercard, CardBrand::Amex].choose(rng).unwrap_or(&CardBrand::Visa)
            as i32,
        exp_month: rng.random_range(1..=12),
        exp_year: rng.random_range(2027..=2031),
    }
}

/// Request `index` is stamped `index` seconds after [`EPOCH_SECONDS`].
fn created_at(index: u64) -> prost_types::Timestamp {
    prost_types::Timestamp { seconds: EPOCH_SECONDS + index as i64, nanos: 0 }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::codec::Codec;

    #[test]
    fn generation_is_deterministic_and_ids_are_unique() {
        for profile in Profile::ALL {
            assert_eq!(generate(profile, 1, 5), generate(profile, 1, 5));
            assert_ne!(generate(profile, 1, 5).payment_id, generate(profile, 1, 6).payment_id);
            assert_ne!(generate(profile, 1, 5), generate(profile, 2, 5), "{profile}: the seed changes the values");
            assert_eq!(generate(profile, 1, 5).line_items.len(), profile.line_items());
            assert_eq!(generate(profile, 1, 5).bundles.len(), profile.bundles());
            assert_eq!(generate(profile, 1, 5).usage_charges.len(), profile.usage_charges());
        }
    }

    #[test]
    fn every_profile_is_a_size_or_a_shape() {
        let split: Vec<Profile> = Profile::SIZES.into_iter().chain(Profile::SHAPES).collect();
        assert_eq!(split, Profile::ALL);
    }

    #[test]
    fn large_is_at_least_50_kb_as_json() {
        let json = Codec::Json.encode_request(&generate(Profile::Large, DEFAULT_SEED, 0)).unwrap();
        assert!(json.len() >= 50_000, "large is only {} bytes of JSON", json.len());
    }

    #[test]
    fn profile_names_round_trip_and_unknown_is_an_error() {
        for profile in Profile::ALL {
            assert_eq!(profile.name().parse::<Profile>().unwrap(), profile);
        }
        let err = "huge".parse::<Profile>().unwrap_err().to_string();
        assert!(err.contains("huge"), "{err}");
        assert!(err.ends_with("expected one of small, typical, large, numeric, nested"), "{err}");
    }
}
