//! When an open loop's calls are intended: one rate, or load in phases (a timeline's burst: 50 %
//! of capacity, then 3x, then 50 % again).
//!
//! The schedule is a list of segments, each a run of calls at one rate. Call `i` of a segment
//! that starts at `start` with interval `1 / rate` is intended at `start + i * interval`. With one
//! rate, this is exactly [`super::generator::run_open`]'s schedule of old, bit for bit. The
//! warm-up runs at the first rate, straight into the recorded window. Each later phase starts at
//! its own offset into the window, whatever the rounding of the phase before it.

use std::time::Duration;

use crate::{Error, Result};

/// The arrival rates of an open loop: `rate_per_s` from the start, then each change, at its
/// offset into the recorded window (after the warm-up).
#[derive(Debug, Clone, PartialEq)]
pub struct Arrivals {
    first_rate_per_s: f64,
    /// (offset into the recorded window, rate from then on), in increasing offsets.
    changes: Vec<(Duration, f64)>,
}

/// A run of calls at one rate.
#[derive(Debug, Clone, Copy, PartialEq)]
struct Segment {
    /// Index of its first call, counting the warm-up's.
    first_call: u64,
    /// Intended time of its first call, from the schedule's start.
    start: Duration,
    /// Between two of its calls.
    interval: Duration,
    /// Its calls.
    calls: u64,
}

/// An open loop's schedule over a warm-up and a window: what the pacer follows.
#[derive(Debug, Clone, PartialEq)]
pub struct Schedule {
    segments: Vec<Segment>,
    /// Calls before the recorded window.
    pub warmup_calls: u64,
    /// Calls in the recorded window (at least 1).
    pub measured_calls: u64,
}

impl Arrivals {
    /// One rate throughout.
    pub fn constant(rate_per_s: f64) -> Self {
        Self { first_rate_per_s: rate_per_s, changes: Vec::new() }
    }

    /// `first_rate_per_s`, then each `(offset into the window, rate)`; offsets must increase and
    /// every rate be positive and finite.
    pub fn phased(first_rate_per_s: f64, changes: Vec<(Duration, f64)>) -> Result<Self> {
        let rates = std::iter::once(first_rate_per_s).chain(changes.iter().map(|c| c.1));
        if let Some(bad) = rates.into_iter().find(|r| !(r.is_finite() && *r > 0.0)) {
            return Err(Error::Config(format!("open loop: rate {bad} calls/s; allowed: a positive number")));
        }
        if changes.windows(2).any(|w| w[1].0 <= w[0].0) || changes.first().is_some_and(|c| c.0.is_zero()) {
            return Err(Error::Config(format!(
                "open loop: phase changes at {:?}; allowed: increasing offsets after 0",
                changes.iter().map(|c| c.0).collect::<Vec<_>>()
            )));
        }
        Ok(Self { first_rate_per_s, changes })
    }

    /// The rate the window starts at (and the warm-up runs at).
    pub fn first_rate_per_s(&self) -> f64 {
        self.first_rate_per_s
    }

    /// Whether the rate changes within the window.
    pub fn is_phased(&self) -> bool {
        !self.changes.is_empty()
    }

    /// The schedule over `warmup` and then `duration`. A phase that starts past `duration` is
    /// left out; each phase's calls are its length times its rate, rounded.
    pub fn schedule(&self, warmup: Duration, duration: Duration) -> Schedule {
        let interval = |rate: f64| Duration::from_secs_f64(1.0 / rate);
        let calls = |length: Duration, rate: f64| (length.as_secs_f64() * rate).round() as u64;
        let warmup_calls = calls(warmup, self.first_rate_per_s);
        let first_interval = interval(self.first_rate_per_s);
        let window_start = first_interval.mul_f64(warmup_calls as f64);
        let mut bounds: Vec<(Duration, f64)> = vec![(Duration::ZERO, self.first_rate_per_s)];
        bounds.extend(self.changes.iter().copied().filter(|(at, _)| *at < duration));
        let mut segments = Vec::with_capacity(bounds.len());
        let mut next_call = 0;
        for (i, &(at, rate)) in bounds.iter().enumerate() {
            let end = bounds.get(i + 1).map_or(duration, |b| b.0);
            let mut n = calls(end - at, rate);
            // The first segment also holds the warm-up, at its rate, so that one rate is the
            // schedule it always was: call i at start + i * interval.
            let start = if i == 0 {
                n += warmup_calls;
                Duration::ZERO
            } else {
                window_start + at
            };
            segments.push(Segment { first_call: next_call, start, interval: interval(rate), calls: n });
            next_call += n;
        }
        let total = next_call;
        let measured_calls = total.saturating_sub(warmup_calls);
        if measured_calls == 0 {
            // The window always has a call (a rate so low that none falls in it still sends one).
            segments.last_mut().expect("one segment at least").calls += 1;
        }
        Schedule { segments, warmup_calls, measured_calls: measured_calls.max(1) }
    }
}

impl Schedule {
    /// Every call's count, warm-up included.
    pub fn total_calls(&self) -> u64 {
        self.warmup_calls + self.measured_calls
    }

    /// The intended time of call `i`, from the schedule's start.
    pub fn offset(&self, i: u64) -> Duration {
        let s = self.segment_of(i);
        s.start + s.interval.mul_f64((i - s.first_call) as f64)
    }

    /// The first measured call's offset: where the recorded window starts.
    pub fn window_start(&self) -> Duration {
        self.offset(self.warmup_calls)
    }

    /// The recorded window's span of intended send times: each segment's calls times its interval,
    /// the warm-up's left out.
    pub fn span(&self) -> Duration {
        self.segments
            .iter()
            .enumerate()
            .map(|(i, s)| {
                let measured = if i == 0 { s.calls.saturating_sub(self.warmup_calls) } else { s.calls };
                s.interval.mul_f64(measured as f64)
            })
            .sum()
    }

    /// The shortest interval between two calls (the pacer's spin is a share of it).
    pub fn shortest_interval(&self) -> Duration {
        self.segments.iter().map(|s| s.interval).min().unwrap_or(Duration::MAX)
    }

    /// The offered rate over the window: its calls over its span, calls/s.
    pub fn offered_rate_per_s(&self) -> f64 {
        self.measured_calls as f64 / self.span().as_secs_f64().max(f64::MIN_POSITIVE)
    }

    fn segment_of(&self, i: u64) -> &Segment {
        let after = self.segments.partition_point(|s| s.first_call <= i);
        &self.segments[after.saturating_sub(1)]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MS: fn(u64) -> Duration = Duration::from_millis;

    #[test]
    fn one_rate_is_the_schedule_it_always_was() {
        let rate = 3_000.0;
        let s = Arrivals::constant(rate).schedule(MS(500), MS(2_000));
        let interval = Duration::from_secs_f64(1.0 / rate);
        assert_eq!((s.warmup_calls, s.measured_calls), (1_500, 6_000));
        for i in [0, 1, 1_499, 1_500, 7_499] {
            assert_eq!(s.offset(i), interval.mul_f64(i as f64), "call {i}");
        }
        assert_eq!(s.span(), interval.mul_f64(6_000.0));
        assert_eq!(s.window_start(), interval.mul_f64(1_500.0));
        assert_eq!(s.shortest_interval(), interval);
    }

    /// The burst of issue 19: 100/s for 1 s, 300/s for 0.5 s, 100/s for 1.5 s. Known answer: 100,
    /// 150 and 150 calls, each phase starting at its own offset into the window.
    #[test]
    fn phases_give_each_its_rate_and_start() {
        let arrivals = Arrivals::phased(100.0, vec![(MS(1_000), 300.0), (MS(1_500), 100.0)]).unwrap();
        let s = arrivals.schedule(MS(200), MS(3_000));
        assert_eq!((s.warmup_calls, s.measured_calls), (20, 400));
        let w = s.window_start();
        assert_eq!(w, MS(200));
        // First call of each phase, and the one before it.
        assert_eq!(s.offset(20 + 99), w + MS(990));
        assert_eq!(s.offset(20 + 100), w + MS(1_000));
        assert_eq!(s.offset(20 + 100 + 149) - (w + MS(1_000)), Duration::from_secs_f64(1.0 / 300.0).mul_f64(149.0));
        assert_eq!(s.offset(20 + 250), w + MS(1_500));
        assert_eq!(s.offset(419), w + MS(1_500) + MS(10).mul_f64(149.0));
        let span = s.span();
        assert!(span.abs_diff(MS(3_000)) < Duration::from_micros(1), "{span:?}");
        assert!((s.offered_rate_per_s() - 400.0 / 3.0).abs() < 0.01, "{}", s.offered_rate_per_s());
        assert_eq!(s.shortest_interval(), Duration::from_secs_f64(1.0 / 300.0));
        // Intended times never go back.
        assert!((1..s.total_calls()).all(|i| s.offset(i) >= s.offset(i - 1)));
    }

    #[test]
    fn a_phase_past_the_window_is_left_out_and_bad_phases_are_named() {
        let s = Arrivals::phased(100.0, vec![(MS(5_000), 1_000.0)]).unwrap().schedule(MS(0), MS(1_000));
        assert_eq!((s.warmup_calls, s.measured_calls), (0, 100));
        let e = Arrivals::phased(100.0, vec![(MS(500), 10.0), (MS(500), 20.0)]).unwrap_err().to_string();
        assert!(e.contains("increasing offsets"), "{e}");
        let e = Arrivals::phased(100.0, vec![(MS(500), 0.0)]).unwrap_err().to_string();
        assert!(e.contains("rate 0 calls/s"), "{e}");
        let e = Arrivals::phased(100.0, vec![(MS(0), 5.0)]).unwrap_err().to_string();
        assert!(e.contains("after 0"), "{e}");
    }
}
