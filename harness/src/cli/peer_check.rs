//! The `peer-check` section of `paybench docs`: `harness/scripts/validate-peers.sh`'s committed
//! figures, paybench beside the tool each community trusts (ghz, h2load, `nats bench`, Kafka's
//! end-to-end latency tool, RabbitMQ PerfTest), with the ratio and a sentence per family.

use anyhow::Context;
use paybench::report::{markdown, tables};

/// Where `harness/scripts/validate-peers.sh` writes its figures.
pub(crate) const PEERS_FILE: &str = "results/validate-peers.json";
/// A ratio within this factor of 1 reads "agrees"; outside it the sentence says which side is
/// higher. 15 %: about the spread of best-of rounds of one tool against itself on this machine.
const AGREES_WITHIN: f64 = 1.15;

/// `results/validate-peers.json`, as the script writes it.
#[derive(Debug, serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct PeerCheck {
    command: String,
    measured_at: String,
    git_commit: String,
    cpu_model: String,
    duration_s: f64,
    concurrency: u32,
    brokers: Vec<String>,
    rows: Vec<PeerRow>,
    missing: Vec<Missing>,
}

/// One comparison: a peer's figure and paybench's for the same measure.
#[derive(Debug, serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct PeerRow {
    family: String,
    arm: String,
    peer: String,
    measure: String,
    unit: String,
    peer_value: f64,
    paybench_client: String,
    paybench_value: f64,
    /// How many of the peer's units one paybench call spans: 2 where the peer times one hop and
    /// paybench's call is a round trip through the broker.
    peer_hops_per_call: u32,
}

/// A peer that did not run, and why.
#[derive(Debug, serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct Missing {
    family: String,
    peer: String,
    why: String,
}

impl PeerRow {
    /// paybench's figure over the peer's (scaled to a whole call).
    fn ratio(&self) -> f64 {
        self.paybench_value / (self.peer_value * f64::from(self.peer_hops_per_call))
    }

    fn peer_side(&self) -> String {
        match self.peer_hops_per_call {
            1 => format!("`{}`", self.peer),
            n => format!("{n} x `{}` (one hop each)", self.peer),
        }
    }

    /// One generated sentence: whether paybench agrees with the peer, and if not, which way.
    fn sentence(&self) -> String {
        let ratio = self.ratio();
        let what = format!(
            "{} ({}), paybench {} against {}",
            self.measure,
            self.family,
            self.paybench_client,
            self.peer_side()
        );
        let throughput = self.unit == "calls/s";
        let verdict = if (1.0 / AGREES_WITHIN..=AGREES_WITHIN).contains(&ratio) {
            "agrees (within 15 %)".to_owned()
        } else if throughput && ratio > 1.0 {
            "the same server sustained more calls/s under paybench, so this peer's figure is its own limit, not the server's: it bounds the server from below and does not check paybench's".to_owned()
        } else if throughput {
            "paybench reaches fewer calls/s than the peer".to_owned()
        } else if ratio > 1.0 {
            "paybench measures the longer time".to_owned()
        } else {
            "paybench measures the shorter time".to_owned()
        };
        format!("{what}: {ratio:.2}x; {verdict}.")
    }
}

fn number(value: f64, unit: &str) -> String {
    if unit == "calls/s" {
        format!("{value:.0}/s")
    } else {
        format!("{value:.0} {unit}")
    }
}

/// The section's text, or a line saying how to make it when nothing is committed.
pub(crate) fn section(root: &std::path::Path, links: &str) -> anyhow::Result<String> {
    let path = PEERS_FILE;
    let Ok(text) = std::fs::read_to_string(root.join(path)) else {
        return Ok(format!(
            "No peer check is committed: `flock /tmp/paybench-measure.lock harness/scripts/validate-peers.sh` writes [`{path}`]({links}{path})."
        ));
    };
    let check: PeerCheck = serde_json::from_str(&text).with_context(|| format!("read {path}"))?;
    let mut table = tables::Table {
        header: ["family", "peer", "measure", "peer", "paybench client", "paybench", "paybench / peer"]
            .map(String::from)
            .to_vec(),
        rows: Vec::new(),
    };
    for r in &check.rows {
        table.rows.push(vec![
            format!("{} (`{}`)", r.family, r.arm),
            r.peer_side(),
            r.measure.clone(),
            number(r.peer_value, &r.unit),
            r.paybench_client.clone(),
            number(r.paybench_value, &r.unit),
            format!("{:.2}x", r.ratio()),
        ]);
    }
    let mut sentences: Vec<String> = check.rows.iter().map(PeerRow::sentence).collect();
    sentences.extend(check.missing.iter().map(|m| format!("{} ({}): not run: {}.", m.peer, m.family, m.why)));
    Ok(format!(
        "Measured by `{}` ({}, commit `{}`, {}; [`{path}`]({links}{path})): {} s per run, closed loop at 1 or {} calls in flight, each peer alone on CPU 0, the server or worker alone on CPU 1, `small` request bytes; brokers: {}.\n\n{}\n{}",
        check.command,
        check.measured_at,
        check.git_commit,
        check.cpu_model,
        check.duration_s,
        check.concurrency,
        check.brokers.join("; "),
        markdown::table(&table),
        sentences.iter().map(|s| format!("- {s}\n")).collect::<String>(),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(unit: &str, peer: f64, paybench: f64, hops: u32) -> PeerRow {
        PeerRow {
            family: "kafka".into(),
            arm: "kafka".into(),
            peer: "EndToEndLatency".into(),
            measure: "mean, 1 in flight".into(),
            unit: unit.into(),
            peer_value: peer,
            paybench_client: "full-stack".into(),
            paybench_value: paybench,
            peer_hops_per_call: hops,
        }
    }

    #[test]
    fn a_round_trip_is_compared_with_two_hops() {
        let r = row("µs", 500.0, 1100.0, 2);
        assert!((r.ratio() - 1.1).abs() < 1e-9);
        assert!(r.sentence().contains("1.10x; agrees"), "{}", r.sentence());
        assert!(r.peer_side().starts_with("2 x"));
    }

    #[test]
    fn sentences_say_which_side_is_higher() {
        assert!(row("µs", 1000.0, 400.0, 2).sentence().contains("0.20x; paybench measures the shorter time"));
        assert!(row("calls/s", 15000.0, 65000.0, 1).sentence().contains("does not check paybench's"));
        assert!(row("calls/s", 70000.0, 50000.0, 1).sentence().contains("fewer calls/s"));
    }
}
