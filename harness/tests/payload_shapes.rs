//! Known answers for the payload shapes: `numeric` is where JSON costs most over protobuf and is
//! made of numbers rather than text; `nested` has the depth it was built with, at about the size
//! of `typical`. Ratios are compared with each other, never with typed figures.

use paybench::codec::Codec;
use paybench::payload::{generate, Profile, DEFAULT_SEED, NESTED_BUNDLES, NESTED_DEPTH_LEVELS};
use paybench::pb::{Address, BundleItem, Card, Customer, LineItem, PaymentRequest, UsageCharge};

const SEEDS: [u64; 3] = [DEFAULT_SEED, 1, 2];

fn request_bytes(profile: Profile, seed: u64) -> (usize, usize) {
    let req = generate(profile, seed, 0);
    let protobuf = Codec::Protobuf.encode_request(&req).expect("encodes");
    let json = Codec::Json.encode_request(&req).expect("encodes");
    (protobuf.len(), json.len())
}

fn json_over_protobuf(profile: Profile, seed: u64) -> f64 {
    let (protobuf_bytes, json_bytes) = request_bytes(profile, seed);
    json_bytes as f64 / protobuf_bytes as f64
}

#[test]
fn numeric_widens_the_json_over_protobuf_ratio_beyond_every_size() {
    for seed in SEEDS {
        let sizes: Vec<f64> = Profile::SIZES.iter().map(|p| json_over_protobuf(*p, seed)).collect();
        let (lowest, highest) = sizes.iter().fold((f64::MAX, f64::MIN), |(lo, hi), r| (lo.min(*r), hi.max(*r)));
        let numeric = json_over_protobuf(Profile::Numeric, seed);
        let typical = json_over_protobuf(Profile::Typical, seed);
        assert!(numeric > highest, "seed {seed}: numeric {numeric:.2}x is not above every size ({sizes:?})");
        // "Clearly": the step from typical to numeric is larger than the whole spread that size
        // alone produces.
        assert!(
            numeric - typical > highest - lowest,
            "seed {seed}: numeric {numeric:.2}x vs typical {typical:.2}x, sizes spread {lowest:.2}x..{highest:.2}x"
        );
    }
}

/// Bytes of every proto `string` value in the request (map keys included), at every depth. Each
/// message is destructured without `..`: a field added to the proto stops this from compiling
/// until someone decides whether it is text.
fn text_bytes(req: &PaymentRequest) -> usize {
    let PaymentRequest {
        payment_id,
        order_id,
        idempotency_key,
        amount_minor: _,
        currency,
        customer,
        card,
        line_items,
        metadata,
        created_at: _,
        usage_charges,
        bundles,
    } = req;
    let customer = customer.as_ref().map_or(0, |c| {
        let Customer { id, email, name, address } = c;
        let address = address.as_ref().map_or(0, |a| {
            let Address { line1, line2, city, postal_code, country } = a;
            line1.len() + line2.len() + city.len() + postal_code.len() + country.len()
        });
        id.len() + email.len() + name.len() + address
    });
    let card = card.as_ref().map_or(0, |c| {
        let Card { token, last4, brand: _, exp_month: _, exp_year: _ } = c;
        token.len() + last4.len()
    });
    let charges: usize = usage_charges
        .iter()
        .map(|c| {
            let UsageCharge {
                meter_id: _,
                unit: _,
                quantity_milli: _,
                unit_price_minor: _,
                net_minor: _,
                tax_rate_basis_points: _,
                tax_minor: _,
                tariff: _,
                period_start: _,
                period_end: _,
            } = c;
            0
        })
        .sum();
    payment_id.len()
        + order_id.len()
        + idempotency_key.len()
        + currency.len()
        + customer
        + card
        + items_text_bytes(line_items)
        + bundles_text_bytes(bundles)
        + metadata.iter().map(|(k, v)| k.len() + v.len()).sum::<usize>()
        + charges
}

fn items_text_bytes(items: &[LineItem]) -> usize {
    items
        .iter()
        .map(|item| {
            let LineItem { sku, name, quantity: _, unit_price_minor: _ } = item;
            sku.len() + name.len()
        })
        .sum()
}

fn bundles_text_bytes(items: &[BundleItem]) -> usize {
    items
        .iter()
        .map(|item| {
            let BundleItem { sku, name, quantity: _, unit_price_minor: _, components } = item;
            sku.len() + name.len() + bundles_text_bytes(components)
        })
        .sum()
}

/// The share of a request's JSON body that is the text of its string fields.
fn text_share_of_json(profile: Profile, seed: u64) -> f64 {
    let req = generate(profile, seed, 0);
    text_bytes(&req) as f64 / Codec::Json.encode_request(&req).expect("encodes").len() as f64
}

#[test]
fn numeric_json_is_mostly_numbers_enums_and_timestamps() {
    for seed in SEEDS {
        let numeric = text_share_of_json(Profile::Numeric, seed);
        for size in Profile::SIZES {
            let share = text_share_of_json(size, seed);
            // A string costs its bytes in both codecs, so the less text, the wider the ratio:
            // numeric's text share is a small fraction of any size profile's.
            assert!(numeric < share / 4.0, "seed {seed}: numeric text share {numeric:.3}, {size} {share:.3}");
        }
        assert!(numeric < 0.1, "seed {seed}: {numeric:.3} of numeric's JSON is string values");
    }
}

/// Levels of bundle items under (and including) `items`: 0 for none.
fn depth_levels(items: &[BundleItem]) -> usize {
    items.iter().map(|item| 1 + depth_levels(&item.components)).max().unwrap_or(0)
}

/// Bundle items at every level.
fn item_count(items: &[BundleItem]) -> usize {
    items.iter().map(|item| 1 + item_count(&item.components)).sum()
}

#[test]
fn bundles_have_the_depth_each_profile_is_built_with() {
    for profile in Profile::ALL {
        for seed in SEEDS {
            let req = generate(profile, seed, 3);
            assert_eq!(depth_levels(&req.bundles), profile.bundle_depth_levels(), "{profile} seed {seed}");
        }
    }
    let req = generate(Profile::Nested, DEFAULT_SEED, 0);
    assert_eq!(req.bundles.len(), NESTED_BUNDLES);
    for bundle in &req.bundles {
        assert_eq!(depth_levels(std::slice::from_ref(bundle)), NESTED_DEPTH_LEVELS, "{}", bundle.name);
        // Deep, not wide: each level above the parts holds one sub-assembly and one part.
        assert_eq!(item_count(std::slice::from_ref(bundle)), 2 * NESTED_DEPTH_LEVELS - 1, "{}", bundle.name);
    }
}

#[test]
fn nested_walks_down_to_the_parts_in_json_too() {
    let req = generate(Profile::Nested, DEFAULT_SEED, 0);
    let json: serde_json::Value =
        serde_json::from_slice(&Codec::Json.encode_request(&req).expect("encodes")).expect("is JSON");
    let mut node = &json["bundles"][0];
    for level in 1..NESTED_DEPTH_LEVELS {
        assert!(node["components"].is_array(), "level {level} is a bundle or sub-assembly: {node}");
        node = &node["components"][0];
    }
    // A part has no components, and an empty list is left out of the JSON.
    assert!(node.get("components").is_none(), "{node}");
    assert!(node["sku"].as_str().is_some_and(|sku| sku.starts_with("PRT-")), "{node}");
}

#[test]
fn nested_is_about_the_size_of_typical() {
    for seed in SEEDS {
        let (typical_protobuf, typical_json) = request_bytes(Profile::Typical, seed);
        let (nested_protobuf, nested_json) = request_bytes(Profile::Nested, seed);
        assert!(
            (typical_json..2 * typical_json).contains(&nested_json)
                && (typical_protobuf..2 * typical_protobuf).contains(&nested_protobuf),
            "seed {seed}: nested {nested_protobuf} B protobuf / {nested_json} B JSON, typical {typical_protobuf} / {typical_json}"
        );
    }
}

#[test]
fn shapes_round_trip_through_both_codecs_for_many_payloads() {
    for profile in Profile::SHAPES {
        for index in 0..50 {
            let req = generate(profile, 9, index);
            for codec in [Codec::Protobuf, Codec::Json] {
                let bytes = codec.encode_request(&req).expect("encodes");
                assert_eq!(codec.decode_request(&bytes).expect("decodes"), req, "{codec} {profile} {index}");
            }
        }
    }
}
