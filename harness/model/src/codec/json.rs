//! serde adapters for the JSON mapping of the prost types, shared by every JSON arm (`rest`,
//! `rest-h2`, `grpc-json`, `amqp-json`, `kafka-json`). `build.rs` attaches them field by field from
//! the proto's descriptors; `docs/rest-api.md` is the contract they implement.
//!
//! Output is the hand-written REST shape: timestamps as RFC 3339 strings, enums as lowercase words,
//! integers as numbers. Input is that shape or canonical proto3 JSON (what grpc-gateway, Connect
//! and protobuf's own JSON printers send): integers also as decimal strings, enums also by proto
//! name or number, and `null` for any field meaning its default, as proto3 JSON specifies.

use std::fmt;
use std::marker::PhantomData;

use serde::de::{self, Deserialize, Deserializer, Visitor};

/// Reads a field that may be `null` (proto3 JSON: "null is the default value of the field type").
///
/// For booleans, repeated fields and maps; absence is handled by each field's `#[serde(default)]`.
pub fn null_as_default<'de, D: Deserializer<'de>, T: Deserialize<'de> + Default>(d: D) -> Result<T, D::Error> {
    Option::<T>::deserialize(d).map(Option::unwrap_or_default)
}

/// Reads a string field that may be `null` (the empty string).
///
/// One visitor over the value rather than [`null_as_default`]'s `Option<String>`, which looks at
/// the value twice: strings are most of a request's fields, and with this the lenient decode costs
/// no more instructions than the strict one did (`harness/scripts/regression-gate.sh`).
pub fn string<'de, D: Deserializer<'de>>(d: D) -> Result<String, D::Error> {
    struct StringVisitor;
    impl<'de> Visitor<'de> for StringVisitor {
        type Value = String;
        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("a string")
        }
        fn visit_str<E: de::Error>(self, v: &str) -> Result<String, E> {
            Ok(v.to_owned())
        }
        fn visit_string<E: de::Error>(self, v: String) -> Result<String, E> {
            Ok(v)
        }
        fn visit_unit<E: de::Error>(self) -> Result<String, E> {
            Ok(String::new())
        }
    }
    d.deserialize_any(StringVisitor)
}

/// Reads an integer field from a JSON number, a decimal string (proto3 JSON writes 64-bit integers
/// as strings, because JavaScript numbers lose precision above 2^53), or `null` (zero).
pub fn integer<'de, D, T>(d: D) -> Result<T, D::Error>
where
    D: Deserializer<'de>,
    T: TryFrom<i64> + TryFrom<u64> + std::str::FromStr + Default,
{
    d.deserialize_any(IntegerVisitor(PhantomData))
}

struct IntegerVisitor<T>(PhantomData<T>);

impl<T> IntegerVisitor<T> {
    fn out_of_range<E: de::Error>(value: impl fmt::Display) -> E {
        E::custom(format_args!("integer {value} is out of range for {}", std::any::type_name::<T>()))
    }
}

impl<'de, T> Visitor<'de> for IntegerVisitor<T>
where
    T: TryFrom<i64> + TryFrom<u64> + std::str::FromStr + Default,
{
    type Value = T;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("an integer, as a number or a decimal string")
    }

    fn visit_i64<E: de::Error>(self, v: i64) -> Result<T, E> {
        T::try_from(v).map_err(|_| Self::out_of_range(v))
    }

    fn visit_u64<E: de::Error>(self, v: u64) -> Result<T, E> {
        T::try_from(v).map_err(|_| Self::out_of_range(v))
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<T, E> {
        v.parse().map_err(|_| E::custom(format_args!("{v:?} is not a decimal integer")))
    }

    fn visit_unit<E: de::Error>(self) -> Result<T, E> {
        Ok(T::default())
    }
}

/// `Option<prost_types::Timestamp>` as an RFC 3339 string (`"2026-01-01T00:00:00Z"`), or `null`.
pub mod timestamp {
    use serde::{de::Error as _, Deserialize, Deserializer, Serializer};
    use time::{format_description::well_known::Rfc3339, OffsetDateTime};

    /// Serializes the timestamp as an RFC 3339 string.
    pub fn serialize<S: Serializer>(value: &Option<prost_types::Timestamp>, s: S) -> Result<S::Ok, S::Error> {
        match value {
            None => s.serialize_none(),
            Some(ts) => {
                let nanos = i128::from(ts.seconds) * 1_000_000_000 + i128::from(ts.nanos);
                let dt = OffsetDateTime::from_unix_timestamp_nanos(nanos).map_err(serde::ser::Error::custom)?;
                // Formatted on the stack: no allocation per timestamp (an RFC 3339 time with
                // nanoseconds and an offset is at most 35 bytes).
                let mut buf = [0u8; 64];
                let mut rest = &mut buf[..];
                dt.format_into(&mut rest, &Rfc3339).map_err(serde::ser::Error::custom)?;
                let len = 64 - rest.len();
                s.serialize_str(std::str::from_utf8(&buf[..len]).map_err(serde::ser::Error::custom)?)
            }
        }
    }

    /// Parses an RFC 3339 string (or `null`).
    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<prost_types::Timestamp>, D::Error> {
        let Some(text) = Option::<std::borrow::Cow<'de, str>>::deserialize(d)? else {
            return Ok(None);
        };
        let dt = OffsetDateTime::parse(&text, &Rfc3339)
            .map_err(|e| D::Error::custom(format!("timestamp {text:?} is not RFC 3339: {e}")))?;
        Ok(Some(prost_types::Timestamp { seconds: dt.unix_timestamp(), nanos: dt.nanosecond() as i32 }))
    }
}

/// Generates the serde adapter for a prost enum field (`i32`): written as its lowercase short
/// name, read from that word (any case), the proto name, the number, or `null` (the zero value).
/// `build.rs` names the module after the enum (`CardBrand` -> `card_brand`).
macro_rules! enum_as_word {
    ($module:ident, $enum:ty, $prefix:literal) => {
        #[doc = concat!("`", stringify!($enum), "` as a lowercase word without the `", $prefix, "` prefix.")]
        pub mod $module {
            use std::fmt;

            use serde::de::{self, Deserializer, Visitor};
            use serde::Serializer;

            /// Writes the enum's lowercase name, lowercased on the stack (no allocation per value,
            /// as a `#[derive(Serialize)]` enum with `rename_all` would not allocate either).
            pub fn serialize<S: Serializer>(value: &i32, s: S) -> Result<S::Ok, S::Error> {
                let name = <$enum>::try_from(*value)
                    .map(|v| v.as_str_name())
                    .map_err(|_| serde::ser::Error::custom(format_args!("unknown enum value {value}")))?;
                let short = name.trim_start_matches($prefix).as_bytes();
                let mut buf = [0u8; super::WORD_MAX];
                let word = buf
                    .get_mut(..short.len())
                    .ok_or_else(|| serde::ser::Error::custom(format_args!("enum name {name} is too long")))?;
                word.copy_from_slice(short);
                word.make_ascii_lowercase();
                s.serialize_str(std::str::from_utf8(word).map_err(serde::ser::Error::custom)?)
            }

            /// Reads the enum's lowercase name, its proto name, its number or `null`.
            pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<i32, D::Error> {
                d.deserialize_any(EnumVisitor)
            }

            struct EnumVisitor;

            impl<'de> Visitor<'de> for EnumVisitor {
                type Value = i32;

                fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                    write!(f, "a {} as a lowercase word, a proto name or a number", stringify!($module))
                }

                fn visit_str<E: de::Error>(self, word: &str) -> Result<i32, E> {
                    // The proto name as it is (`CARD_BRAND_VISA`), or the short word (`visa`), in
                    // any case: uppercased into a stack buffer, prefixed where it lacks the prefix.
                    let unknown = || E::custom(format_args!("unknown {} {word:?}", stringify!($module)));
                    let (prefix, bytes) = ($prefix.as_bytes(), word.as_bytes());
                    let prefixed = bytes.len() >= prefix.len() && bytes[..prefix.len()].eq_ignore_ascii_case(prefix);
                    let head: &[u8] = if prefixed { b"" } else { prefix };
                    let mut buf = [0u8; super::WORD_MAX];
                    let name = buf.get_mut(..head.len() + bytes.len()).ok_or_else(unknown)?;
                    name[..head.len()].copy_from_slice(head);
                    name[head.len()..].copy_from_slice(bytes);
                    name.make_ascii_uppercase();
                    let name = std::str::from_utf8(name).map_err(|_| unknown())?;
                    <$enum>::from_str_name(name).map(|v| v as i32).ok_or_else(unknown)
                }

                // Numbers as the protobuf arms take them: any i32, named or not (proto3 enums are open).
                fn visit_i64<E: de::Error>(self, v: i64) -> Result<i32, E> {
                    i32::try_from(v).map_err(|_| E::custom(format_args!("enum number {v} is out of range")))
                }

                fn visit_u64<E: de::Error>(self, v: u64) -> Result<i32, E> {
                    i32::try_from(v).map_err(|_| E::custom(format_args!("enum number {v} is out of range")))
                }

                fn visit_unit<E: de::Error>(self) -> Result<i32, E> {
                    Ok(0)
                }
            }
        }
    };
}

/// The longest enum name the adapters handle on the stack (the longest proto name is 30 bytes);
/// a longer word is no enum name and reads as unknown.
const WORD_MAX: usize = 64;

enum_as_word!(card_brand, crate::pb::CardBrand, "CARD_BRAND_");
enum_as_word!(payment_status, crate::pb::PaymentStatus, "PAYMENT_STATUS_");
enum_as_word!(usage_unit, crate::pb::UsageUnit, "USAGE_UNIT_");
enum_as_word!(tariff, crate::pb::Tariff, "TARIFF_");

#[cfg(test)]
mod tests {
    use crate::codec::Codec;
    use crate::payload::{generate, Profile};
    use crate::pb::{CardBrand, PaymentRequest, PaymentResponse, PaymentStatus, Tariff, UsageUnit};

    /// What `harness/tests/json_contract.rs` sends over HTTP, here at the codec level: every JSON
    /// arm (`grpc-json`'s tonic codec included) decodes with these same serde impls.
    fn decode(json: &str) -> PaymentRequest {
        Codec::Json.decode_request(json.as_bytes()).unwrap_or_else(|e| panic!("{e}: {json}"))
    }

    fn typical_json() -> serde_json::Value {
        let req = generate(Profile::Typical, 3, 9);
        serde_json::from_slice(&Codec::Json.encode_request(&req).expect("encodes")).expect("is JSON")
    }

    #[test]
    fn optional_fields_may_be_absent() {
        let mut json = typical_json();
        json.as_object_mut().expect("object").remove("createdAt");
        json["card"].as_object_mut().expect("object").remove("brand");
        let req = decode(&json.to_string());
        assert_eq!(req.created_at, None);
        assert_eq!(req.card.expect("card").brand, CardBrand::Unspecified as i32);
    }

    #[test]
    fn every_field_may_be_absent_as_in_protobuf() {
        assert_eq!(decode("{}"), PaymentRequest::default());
        let expected = PaymentRequest {
            card: Some(Default::default()),
            customer: Some(crate::pb::Customer { address: Some(Default::default()), ..Default::default() }),
            line_items: vec![Default::default()],
            ..Default::default()
        };
        assert_eq!(decode(r#"{"card":{},"customer":{"address":{}},"lineItems":[{}]}"#), expected);
        let resp: PaymentResponse = Codec::Json.decode_response(b"{}").expect("empty response decodes");
        assert_eq!(resp, PaymentResponse::default());
    }

    #[test]
    fn null_is_the_default_for_every_field_type() {
        let req = decode(
            r#"{"paymentId":null,"amountMinor":null,"createdAt":null,"customer":null,"lineItems":null,
                "metadata":null,"card":{"brand":null,"expMonth":null,"token":null}}"#,
        );
        let expected = PaymentRequest { card: Some(Default::default()), ..Default::default() };
        assert_eq!(req, expected);
    }

    #[test]
    fn canonical_proto3_json_is_accepted() {
        let req = decode(
            r#"{"payment_id":"pay_1","amount_minor":"4998","created_at":"2026-01-01T10:00:20.021Z",
                "card":{"brand":"CARD_BRAND_VISA","exp_month":"12","exp_year":2030,"last4":"4242"},
                "line_items":[{"sku":"a","unit_price_minor":"-5","quantity":"2"}],
                "customer":{"address":{"postal_code":"10115"}},"someFutureField":{"nested":[1,2]}}"#,
        );
        assert_eq!(req.payment_id, "pay_1");
        assert_eq!(req.amount_minor, 4998);
        let created_at = req.created_at.expect("created_at");
        assert_eq!((created_at.seconds, created_at.nanos), (1_767_261_620, 21_000_000));
        let card = req.card.expect("card");
        assert_eq!((card.brand, card.exp_month, card.exp_year), (CardBrand::Visa as i32, 12, 2030));
        assert_eq!((req.line_items[0].unit_price_minor, req.line_items[0].quantity), (-5, 2));
        assert_eq!(req.customer.and_then(|c| c.address).expect("address").postal_code, "10115");
    }

    #[test]
    fn the_shapes_fields_read_canonical_proto3_json_too() {
        let req = decode(
            r#"{"usage_charges":[{"meter_id":"123456789","unit":"USAGE_UNIT_GIGABYTE","quantity_milli":"1500",
                "unit_price_minor":"33","net_minor":50,"tariff":2,"period_start":"2025-12-01T00:00:00Z",
                "periodEnd":null}],
                "bundles":[{"sku":"kit","components":[{"sku":"part","unit_price_minor":"5","components":null}]}]}"#,
        );
        let charge = &req.usage_charges[0];
        assert_eq!((charge.meter_id, charge.quantity_milli, charge.unit_price_minor), (123_456_789, 1_500, 33));
        assert_eq!((charge.unit, charge.tariff), (UsageUnit::Gigabyte as i32, Tariff::OffPeak as i32));
        assert_eq!(charge.period_start.map(|t| t.seconds), Some(1_764_547_200));
        assert_eq!(charge.period_end, None);
        let part = &req.bundles[0].components[0];
        assert_eq!((part.sku.as_str(), part.unit_price_minor), ("part", 5));
        assert!(part.components.is_empty());
    }

    #[test]
    fn the_shapes_enums_are_written_as_words() {
        let json = serde_json::to_value(generate(Profile::Numeric, 3, 9)).expect("serializes");
        let charge = &json["usageCharges"][0];
        assert!(
            ["kilowatt_hour", "gigabyte", "minute", "thousand_requests"]
                .contains(&charge["unit"].as_str().expect("unit")),
            "{charge}"
        );
        assert!(["unspecified", "peak", "off_peak"].contains(&charge["tariff"].as_str().expect("tariff")), "{charge}");
        assert!(charge["periodStart"].as_str().expect("periodStart").ends_with("T00:00:00Z"), "{charge}");
        assert!(charge["meterId"].is_u64() && charge["netMinor"].is_i64(), "{charge}");
    }

    #[test]
    fn enums_are_read_as_words_proto_names_or_numbers() {
        for (brand, expected) in [
            (r#""visa""#, CardBrand::Visa),
            (r#""MASTERCARD""#, CardBrand::Mastercard),
            (r#""CARD_BRAND_AMEX""#, CardBrand::Amex),
            ("3", CardBrand::Amex),
            (r#""unspecified""#, CardBrand::Unspecified),
        ] {
            let req = decode(&format!(r#"{{"card":{{"brand":{brand}}}}}"#));
            assert_eq!(req.card.expect("card").brand, expected as i32, "{brand}");
        }
        let resp: PaymentResponse =
            Codec::Json.decode_response(br#"{"status":"PAYMENT_STATUS_DECLINED"}"#).expect("proto name");
        assert_eq!(resp.status, PaymentStatus::Declined as i32);
    }

    #[test]
    fn bad_values_are_named_errors() {
        let cases = [
            (r#"{"card":{"brand":"diners"}}"#, r#"unknown card_brand "diners""#),
            (r#"{"amountMinor":"12.5"}"#, r#""12.5" is not a decimal integer"#),
            (r#"{"amountMinor":1.5}"#, "expected an integer"),
            (r#"{"card":{"expMonth":-1}}"#, "integer -1 is out of range for u32"),
            (r#"{"createdAt":"yesterday"}"#, r#"timestamp "yesterday" is not RFC 3339"#),
            (r#"{"paymentId":7}"#, "expected a string"),
        ];
        for (json, expected) in cases {
            let err = Codec::Json.decode_request(json.as_bytes()).expect_err(json).to_string();
            assert!(err.starts_with("json: malformed json body") && err.contains(expected), "{json}: {err}");
        }
    }

    #[test]
    fn output_keeps_the_hand_written_shape() {
        let req = generate(Profile::Small, 3, 9);
        let json = typical_json();
        assert!(json["amountMinor"].is_i64(), "{json}");
        assert!(json["lineItems"][0]["unitPriceMinor"].is_i64(), "{json}");
        assert!(json.get("amount_minor").is_none(), "{json}");
        let resp = crate::payment::process(&req).expect("valid");
        let out: serde_json::Value =
            serde_json::from_slice(&Codec::Json.encode_response(&resp).expect("encodes")).expect("JSON");
        assert!(["approved", "declined"].contains(&out["status"].as_str().expect("status")), "{out}");
        assert!(out["feeMinor"].is_i64() && out["riskScore"].is_u64(), "{out}");
        assert!(out["processedAt"].as_str().expect("processedAt").ends_with('Z'), "{out}");
    }
}
