//! Encode and decode time per request body, measured by `paybench run` itself, so that the
//! verdict's codec rows come from the run they are printed with (criterion's figures live in
//! `target/`, from whatever run happened last, and are not part of a result).
//!
//! Method: for each profile, codec and direction, one body is encoded (or decoded) in a tight
//! loop for about [`BATCH_TARGET`]; the time over the iterations is one batch's figure. Batches of
//! every (profile, codec, direction) are interleaved, round after round, so a slow second of the
//! machine hits JSON and protobuf alike, and batch `i` of JSON is paired with batch `i` of
//! protobuf for the ratio's interval (`report::ratio::paired_ratio`).

use std::hint::black_box;
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};

use crate::codec::{Codec, ALL_CODECS};
use crate::payload::{self, Profile};
use crate::Result;

/// How long one batch runs. Long enough that the clock's resolution and the loop are noise
/// (≥ 10^4 iterations for a small body), short enough for many interleaved batches.
pub const BATCH_TARGET: Duration = Duration::from_millis(25);

/// Batches per (profile, codec, direction) by default.
pub const DEFAULT_BATCHES: usize = 10;

/// One (profile, codec, direction): time per operation in each batch.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CodecTiming {
    /// Payload profile.
    pub profile: Profile,
    /// `json` or `protobuf`.
    pub codec: String,
    /// `encode` or `decode`.
    pub operation: String,
    /// Size of the body, bytes.
    pub body_bytes: usize,
    /// Iterations in each batch (fixed by a calibration before the first batch).
    pub iterations_per_batch: u64,
    /// Nanoseconds per operation, one per batch, in the order run.
    pub batches_ns_per_op: Vec<f64>,
}

impl CodecTiming {
    /// The figures in microseconds, one per batch (the verdict pairs them by index).
    pub fn batches_us(&self) -> Vec<Option<f64>> {
        self.batches_ns_per_op.iter().map(|ns| Some(ns / 1_000.0)).collect()
    }
}

/// Iterations of `op` that take about `target`: doubles from 1 until a run lasts `target / 8`.
pub fn calibrate(op: &mut dyn FnMut(), target: Duration) -> u64 {
    let mut n: u64 = 1;
    loop {
        let started = Instant::now();
        for _ in 0..n {
            op();
        }
        let took = started.elapsed();
        if took >= target / 8 || n >= 1 << 30 {
            let per_op = took.as_secs_f64() / n as f64;
            return ((target.as_secs_f64() / per_op.max(1e-12)).ceil() as u64).clamp(1, 1 << 32);
        }
        n *= 2;
    }
}

/// Nanoseconds per call of `op` over `iterations` calls.
pub fn time_batch(op: &mut dyn FnMut(), iterations: u64) -> f64 {
    let started = Instant::now();
    for _ in 0..iterations {
        op();
    }
    started.elapsed().as_nanos() as f64 / iterations as f64
}

/// Times each of `ops` in `batches` interleaved rounds of about `target` each; returns, per op,
/// the iterations per batch and the ns per call of every batch.
pub fn interleaved(ops: &mut [Box<dyn FnMut() + '_>], batches: usize, target: Duration) -> Vec<(u64, Vec<f64>)> {
    let iterations: Vec<u64> = ops.iter_mut().map(|op| calibrate(op.as_mut(), target)).collect();
    let mut out: Vec<(u64, Vec<f64>)> = iterations.iter().map(|&n| (n, Vec::with_capacity(batches))).collect();
    for _ in 0..batches {
        for (op, (n, times)) in ops.iter_mut().zip(out.iter_mut()) {
            times.push(time_batch(op.as_mut(), *n));
        }
    }
    out
}

/// The operation that times a whole call's codec work: the request encoded (client) and decoded
/// (server), the response encoded (server) and decoded (client).
pub const CALL: &str = "call";

/// Encode and decode of each profile's request (`payload::generate(profile, seed, 0)`, the body
/// criterion's codec bench uses), and a whole call's codec work ([`CALL`], with the business
/// function's response to it), with every codec, `batches` interleaved batches each.
pub fn measure(profiles: &[Profile], seed: u64, batches: usize) -> Result<Vec<CodecTiming>> {
    struct Case {
        profile: Profile,
        codec: Codec,
        operation: &'static str,
        body: Vec<u8>,
        request: crate::pb::PaymentRequest,
        response: crate::pb::PaymentResponse,
        response_body: Vec<u8>,
    }
    let mut cases = Vec::new();
    for &profile in profiles {
        let request = payload::generate(profile, seed, 0);
        let response = crate::payment::process(&request)
            .map_err(|e| crate::Error::Internal(format!("the {profile} request is refused: {e:?}")))?;
        for codec in ALL_CODECS {
            let body = codec.encode_request(&request)?;
            let response_body = codec.encode_response(&response)?;
            if codec.decode_request(&body)? != request || codec.decode_response(&response_body)? != response {
                return Err(crate::Error::Internal(format!("{codec} does not round-trip the {profile} call")));
            }
            for operation in ["encode", "decode", CALL] {
                cases.push(Case {
                    profile,
                    codec,
                    operation,
                    body: body.clone(),
                    request: request.clone(),
                    response: response.clone(),
                    response_body: response_body.clone(),
                });
            }
        }
    }
    let mut ops: Vec<Box<dyn FnMut() + '_>> = cases
        .iter()
        .map(|c| -> Box<dyn FnMut() + '_> {
            match c.operation {
                "encode" => Box::new(move || {
                    let _ = black_box(c.codec.encode_request(black_box(&c.request)));
                }),
                "decode" => Box::new(move || {
                    let _ = black_box(c.codec.decode_request(black_box(&c.body)));
                }),
                _ => Box::new(move || {
                    let _ = black_box(c.codec.encode_request(black_box(&c.request)));
                    let _ = black_box(c.codec.decode_request(black_box(&c.body)));
                    let _ = black_box(c.codec.encode_response(black_box(&c.response)));
                    let _ = black_box(c.codec.decode_response(black_box(&c.response_body)));
                }),
            }
        })
        .collect();
    let timed = interleaved(&mut ops, batches, BATCH_TARGET);
    drop(ops);
    Ok(cases
        .iter()
        .zip(timed)
        .map(|(c, (iterations, times))| CodecTiming {
            profile: c.profile,
            codec: c.codec.name().to_owned(),
            operation: c.operation.to_owned(),
            body_bytes: c.body.len(),
            iterations_per_batch: iterations,
            batches_ns_per_op: times,
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Busy-waits `d`: a known cost per call.
    fn spin(d: Duration) {
        let started = Instant::now();
        while started.elapsed() < d {
            std::hint::spin_loop();
        }
    }

    fn median(mut v: Vec<f64>) -> f64 {
        v.sort_by(f64::total_cmp);
        v[v.len() / 2]
    }

    /// Known answer: an operation that costs 40 µs and one that costs 200 µs are measured at
    /// those costs (a busy wait cannot finish early, so the lower bound is tight; preemption on a
    /// busy machine can only add, hence the wider upper tolerance), and their ratio is 5.
    #[test]
    fn recovers_known_costs_and_their_ratio() {
        let (short, long) = (Duration::from_micros(40), Duration::from_micros(200));
        let mut ops: Vec<Box<dyn FnMut()>> = vec![Box::new(move || spin(short)), Box::new(move || spin(long))];
        let timed = interleaved(&mut ops, 5, Duration::from_millis(10));
        let short_ns = median(timed[0].1.clone());
        let long_ns = median(timed[1].1.clone());
        assert!((40_000.0..40_000.0 * 1.25).contains(&short_ns), "40 µs measured as {short_ns} ns");
        assert!((200_000.0..200_000.0 * 1.25).contains(&long_ns), "200 µs measured as {long_ns} ns");
        let ratio = long_ns / short_ns;
        assert!((ratio - 5.0).abs() < 0.5, "ratio {ratio}, expected 5");
        // The calibration only sizes the batches (a preempted calibration makes them shorter, not
        // wrong): at most the 250 iterations 10 ms of 40 µs calls take.
        assert!((1..=260).contains(&timed[0].0), "iterations {}", timed[0].0);
        assert_eq!(timed[0].1.len(), 5);
    }

    #[test]
    fn measures_every_profile_codec_and_direction_with_the_real_bodies() {
        let t = measure(&[Profile::Small], payload::DEFAULT_SEED, 2).unwrap();
        assert_eq!(t.len(), ALL_CODECS.len() * 3);
        for c in &t {
            assert_eq!(c.batches_ns_per_op.len(), 2);
            assert!(c.batches_ns_per_op.iter().all(|ns| *ns > 0.0), "{c:?}");
            let codec = ALL_CODECS.into_iter().find(|k| k.name() == c.codec).unwrap();
            let body = codec.encode_request(&payload::generate(Profile::Small, payload::DEFAULT_SEED, 0)).unwrap();
            assert_eq!(c.body_bytes, body.len(), "the request's size, for every operation");
        }
    }
}
