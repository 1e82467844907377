//! Small text helpers shared by the verdict, the tables and the charts: microseconds, an arm's
//! label, a capacity reading.

use crate::results::{ArmResult, CapacityReading};

/// Formats microseconds for an axis: `850 µs`, `1.2 ms`.
pub fn fmt_us(us: f64) -> String {
    if us >= 1_000.0 {
        format!("{} ms", trim(us / 1_000.0))
    } else {
        format!("{} µs", trim(us))
    }
}

/// `v` with 0, 1 or 2 decimals (from 100, from 10, below 10), trailing zeros cut: `850`, `12.5`, `1.25`.
pub(super) fn trim(v: f64) -> String {
    let s = if v >= 100.0 {
        format!("{v:.0}")
    } else if v >= 10.0 {
        format!("{v:.1}")
    } else {
        format!("{v:.2}")
    };
    if s.contains('.') {
        s.trim_end_matches('0').trim_end_matches('.').to_string()
    } else {
        s
    }
}

/// The label of an arm in legends: the transport, and for brokers the implementation and version.
pub fn arm_label(arm: &ArmResult) -> String {
    match &arm.broker {
        Some(b) => format!("{} ({} {})", arm.transport, b.implementation, b.version),
        None => arm.transport.to_string(),
    }
}

/// A capacity reading without the search around it: `71744/s`, `≥ 52000/s (lower bound: the
/// server was 71 % busy: not server-bound)`, `none`.
pub fn reading_cell(reading: &CapacityReading) -> String {
    match reading {
        CapacityReading::Server { rate_per_s, by } => format!("{rate_per_s:.0}/s ({by}-bound)"),
        CapacityReading::EndToEnd { rate_per_s, client_share } => {
            format!("≥ {rate_per_s:.0}/s end-to-end (client {:.0} % busy)", client_share * 100.0)
        }
        CapacityReading::LowerBound { rate_per_s, why } => format!("≥ {rate_per_s:.0}/s (lower bound: {why})"),
        CapacityReading::Nothing => "none".into(),
    }
}
