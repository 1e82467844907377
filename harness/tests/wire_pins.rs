//! The `small`, `typical` and `large` requests and their replies are pinned byte for byte, in
//! protobuf and in JSON, as they were encoded before the `numeric` and `nested` shapes were added
//! (commit 1d84376): a field added to the proto must stay off the wire when it is empty, in both
//! codecs, or every figure recorded for these profiles stops being comparable.
//!
//! `metadata` is a `HashMap`, whose iteration order (hence its order on the wire, in both codecs)
//! changes from process to process, so each case pins the encoded lengths with metadata and the
//! exact bytes (as an FNV-1a hash) without it; the replies carry no map and are pinned exactly.

use std::time::{Duration, SystemTime};

use paybench::codec::Codec;
use paybench::payload::{generate, Profile, DEFAULT_SEED};
use paybench::payment::process_at;

/// One pinned request: which payload, its encoded lengths, and the hashes of its bytes.
struct Pin {
    profile: Profile,
    seed: u64,
    index: u64,
    protobuf_bytes: usize,
    json_bytes: usize,
    /// FNV-1a 64 of the request's protobuf bytes with `metadata` emptied.
    protobuf_hash_without_metadata: u64,
    json_hash_without_metadata: u64,
    /// FNV-1a 64 of the reply's bytes (business function at [`FIXED_CLOCK_UNIX_S`]).
    response_protobuf_hash: u64,
    response_json_hash: u64,
}

/// The clock of every pinned reply, 2026-01-01T00:00:00Z, as `paybench sizes` uses it.
const FIXED_CLOCK_UNIX_S: u64 = 1_767_225_600;

/// Printed by this file's first version from the encoders of commit 1d84376, before the proto grew.
#[rustfmt::skip]
const PINS: [Pin; 6] = [
    pin(Profile::Small, DEFAULT_SEED, 0, 296, 608, 0x1fcb625202d35e0b, 0x8a9c1fdb73eaff42, 0x1675083477b4f5fb, 0x7c7170ffe2c7d640),
    pin(Profile::Small, 1, 7, 288, 592, 0x8bbd186c188aefc2, 0x02ff1967f8ec4869, 0xe044eeb99b5bf5f2, 0x58776b68f6e7ec81),
    pin(Profile::Typical, DEFAULT_SEED, 0, 957, 1688, 0x023e09fdf4d5abc8, 0xd833962dc1804a04, 0x3da39f72e4d14b29, 0x8c79f94e41611406),
    pin(Profile::Typical, 1, 7, 968, 1707, 0xee9fb189ae431d3e, 0x70552d678d895c4f, 0x36bb3ac78974173f, 0xf7eaed0833a9c75b),
    pin(Profile::Large, DEFAULT_SEED, 0, 32939, 60393, 0xa436120eec1c9c9d, 0xbebba85afd79bafc, 0xa92898855bf15b44, 0x754fd020570a318d),
    pin(Profile::Large, 1, 7, 32988, 60450, 0x1680210b6c4a1041, 0xe004b9a6aac90911, 0xf0471566a302f998, 0xfab3c005294cfacd),
];

#[allow(clippy::too_many_arguments)]
const fn pin(
    profile: Profile,
    seed: u64,
    index: u64,
    protobuf_bytes: usize,
    json_bytes: usize,
    protobuf_hash_without_metadata: u64,
    json_hash_without_metadata: u64,
    response_protobuf_hash: u64,
    response_json_hash: u64,
) -> Pin {
    Pin {
        profile,
        seed,
        index,
        protobuf_bytes,
        json_bytes,
        protobuf_hash_without_metadata,
        json_hash_without_metadata,
        response_protobuf_hash,
        response_json_hash,
    }
}

/// FNV-1a, 64 bit: stable across Rust releases, unlike `DefaultHasher`.
fn fnv1a64(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |hash, b| (hash ^ u64::from(*b)).wrapping_mul(0x0000_0100_0000_01b3))
}

#[test]
fn size_profiles_encode_exactly_as_before_the_shapes_were_added() {
    let now = SystemTime::UNIX_EPOCH + Duration::from_secs(FIXED_CLOCK_UNIX_S);
    for pin in &PINS {
        let case = format!("{} seed {:#x} index {}", pin.profile, pin.seed, pin.index);
        let req = generate(pin.profile, pin.seed, pin.index);
        let resp = process_at(&req, now).unwrap_or_else(|e| panic!("{case}: {e}"));
        let mut without_metadata = req.clone();
        without_metadata.metadata.clear();
        let encode = |codec: Codec, message: &paybench::pb::PaymentRequest| codec.encode(message).expect("encodes");
        let actual = (
            encode(Codec::Protobuf, &req).len(),
            encode(Codec::Json, &req).len(),
            fnv1a64(&encode(Codec::Protobuf, &without_metadata)),
            fnv1a64(&encode(Codec::Json, &without_metadata)),
            fnv1a64(&Codec::Protobuf.encode(&resp).expect("encodes")),
            fnv1a64(&Codec::Json.encode(&resp).expect("encodes")),
        );
        let expected = (
            pin.protobuf_bytes,
            pin.json_bytes,
            pin.protobuf_hash_without_metadata,
            pin.json_hash_without_metadata,
            pin.response_protobuf_hash,
            pin.response_json_hash,
        );
        assert_eq!(actual, expected, "{case}: (protobuf B, JSON B, request hashes, response hashes)");
    }
}
