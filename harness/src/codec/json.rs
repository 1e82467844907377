//! serde adapters that make the prost types look like a hand-written REST API's JSON:
//! timestamps as RFC 3339 strings, enums as lowercase words. `build.rs` attaches them by field.

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
                s.serialize_str(&dt.format(&Rfc3339).map_err(serde::ser::Error::custom)?)
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

/// Generates a serde adapter for a prost enum field (`i32`) as its lowercase short name.
macro_rules! enum_as_word {
    ($module:ident, $enum:ty, $prefix:literal) => {
        #[doc = concat!("`", stringify!($enum), "` as a lowercase word without the `", $prefix, "` prefix.")]
        pub mod $module {
            use serde::{de::Error as _, Deserialize, Deserializer, Serializer};

            /// Writes the enum's lowercase name.
            pub fn serialize<S: Serializer>(value: &i32, s: S) -> Result<S::Ok, S::Error> {
                let name = <$enum>::try_from(*value)
                    .map(|v| v.as_str_name())
                    .map_err(|_| serde::ser::Error::custom(format!("unknown enum value {value}")))?;
                s.serialize_str(&name.trim_start_matches($prefix).to_ascii_lowercase())
            }

            /// Reads the enum's lowercase name.
            pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<i32, D::Error> {
                let word = std::borrow::Cow::<'de, str>::deserialize(d)?;
                let name = format!("{}{}", $prefix, word.to_ascii_uppercase());
                <$enum>::from_str_name(&name)
                    .map(|v| v as i32)
                    .ok_or_else(|| D::Error::custom(format!("unknown value {word:?}")))
            }
        }
    };
}

enum_as_word!(card_brand, crate::pb::CardBrand, "CARD_BRAND_");
enum_as_word!(payment_status, crate::pb::PaymentStatus, "PAYMENT_STATUS_");
