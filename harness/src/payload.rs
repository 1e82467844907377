//! Deterministic request payloads: the `small`, `typical` and `large` profiles.
//!
//! A payload is a pure function of `(profile, seed, index)`: ChaCha8 (whose output is fixed by its
//! specification, unlike `StdRng`) drives every choice, so every transport, machine and run sends
//! the same values. `index` makes ids unique within a run without changing the payload's shape.

use std::collections::HashMap;
use std::fmt;
use std::str::FromStr;

use rand::{seq::IndexedRandom, Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

use crate::pb::{Address, Card, CardBrand, Customer, LineItem, PaymentRequest};

/// The size class of a request.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Profile {
    /// One line item, no metadata: a few hundred bytes.
    Small,
    /// Ten line items and a handful of metadata entries: the everyday checkout.
    Typical,
    /// Hundreds of line items: at least 50 KB as JSON (a B2B order).
    Large,
}

impl Profile {
    /// All profiles, smallest first.
    pub const ALL: [Profile; 3] = [Profile::Small, Profile::Typical, Profile::Large];

    /// The profile's stable name, as used in bench ids and results.
    pub fn name(self) -> &'static str {
        match self {
            Profile::Small => "small",
            Profile::Typical => "typical",
            Profile::Large => "large",
        }
    }

    /// Number of line items in every request of this profile.
    pub fn line_items(self) -> usize {
        match self {
            Profile::Small => 1,
            Profile::Typical => 10,
            Profile::Large => 600,
        }
    }

    fn metadata_entries(self) -> usize {
        match self {
            Profile::Small => 0,
            Profile::Typical => 6,
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
            crate::Error::Config(format!("unknown profile {s:?}; expected one of small, typical, large"))
        })
    }
}

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

/// 2026-01-01T00:00:00Z: requests are stamped from here on, so expiries are stable.
const EPOCH_SECONDS: i64 = 1_767_225_600;

/// Builds request number `index` of `profile` from `seed`.
pub fn generate(profile: Profile, seed: u64, index: u64) -> PaymentRequest {
    let mut rng = ChaCha8Rng::seed_from_u64(seed ^ index.wrapping_mul(0x9e37_79b9_7f4a_7c15));
    let first = *FIRST.choose(&mut rng).unwrap_or(&"Ada");
    let last = *LAST.choose(&mut rng).unwrap_or(&"Lovelace");
    let (city, postal, country) = *CITIES.choose(&mut rng).unwrap_or(&CITIES[0]);
    let currency = *CURRENCIES.choose(&mut rng).unwrap_or(&"EUR");

    let line_items: Vec<LineItem> = (0..profile.line_items())
        .map(|i| LineItem {
            sku: format!("SKU-{:06}", rng.random_range(0..1_000_000)),
            name: PRODUCTS[(i + rng.random_range(0..PRODUCTS.len())) % PRODUCTS.len()].to_owned(),
            quantity: rng.random_range(1..=4),
            unit_price_minor: rng.random_range(199..=19_999),
            components: Vec::new(),
        })
        .collect();
    let amount_minor = line_items.iter().map(|item| item.unit_price_minor * i64::from(item.quantity)).sum();

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
        card: Some(Card {
            token: format!("tok_{:024x}", rng.random::<u128>() >> 32),
            last4: format!("{:04}", rng.random_range(0..10_000)),
            brand: *[CardBrand::Visa, CardBrand::Mastercard, CardBrand::Amex]
                .choose(&mut rng)
                .unwrap_or(&CardBrand::Visa) as i32,
            exp_month: rng.random_range(1..=12),
            exp_year: rng.random_range(2027..=2031),
        }),
        line_items,
        metadata,
        created_at: Some(prost_types::Timestamp { seconds: EPOCH_SECONDS + index as i64, nanos: 0 }),
        usage_charges: Vec::new(),
    }
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
            assert_eq!(generate(profile, 1, 5).line_items.len(), profile.line_items());
        }
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
        assert!(err.contains("huge") && err.contains("typical"), "{err}");
    }
}
