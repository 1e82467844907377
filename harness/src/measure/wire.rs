//! Bytes on the wire, from the kernel's per-socket TCP counters.
//!
//! Method: `ss -tinpH state established '( dport = :PORT )'` (iproute2, which reads the kernel's
//! `TCP_INFO` through sock_diag netlink) lists every connected socket whose peer is the server or
//! broker port, i.e. the connecting side of each connection: the client's, and for brokers also
//! the worker's. Per socket it gives `bytes_acked` (payload sent and acknowledged), `bytes_received`
//! (payload received), `segs_out` and `segs_in` (segments, pure ACKs included). A snapshot at the
//! start and at the end of a measured window, differenced per socket, gives exactly what crossed
//! the wire in that window: framing, HTTP headers, gRPC prefixes and TLS (none here) are inside
//! the payload counts; IP and TCP headers are added per segment (20 + 20 bytes, + 12 for the
//! timestamp option when on, which Linux uses on every segment). Link-layer framing is excluded
//! because it depends on the medium (loopback has none).
//!
//! Why this method: it needs no capture privileges or network namespace, works against a remote
//! `--target` (the client's sockets are local), and separates hops by socket, which interface
//! counters cannot do when client, worker and broker share one host. The test
//! `harness/tests/load_wire.rs` cross-checks it against the kernel's interface counters inside a
//! network namespace it creates.
//!
//! Caveat: a worker connection opened after the client connected (e.g. a Kafka consumer that
//! reaches its group coordinator lazily) counts as client hop; broker arms should open their worker
//! connections before `serve` returns.
//!
//! Caveat: loopback's MTU is 64 KiB, so a large body travels in fewer, larger segments than on an
//! Ethernet link (MTU 1500); header bytes are counted as on the measured link.

use std::collections::{HashMap, HashSet};
use std::process::Command;

use crate::results::{HopBytes, WireBytes};
use crate::{Error, Result};

/// Kernel counters of one socket.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SocketCounters {
    /// Payload bytes sent and acknowledged.
    pub bytes_acked: u64,
    /// Payload bytes received.
    pub bytes_received: u64,
    /// Segments sent.
    pub segs_out: u64,
    /// Segments received.
    pub segs_in: u64,
    /// IP + TCP header bytes per segment on this socket.
    pub header_bytes: u64,
    /// The process that owns the socket, when `ss -p` could tell.
    pub owner_pid: Option<u32>,
}

/// Every connecting-side socket to one port, keyed by `local peer` address pair.
#[derive(Debug, Clone, Default)]
pub struct PortSnapshot {
    /// Counters per socket.
    pub sockets: HashMap<String, SocketCounters>,
}

fn timestamps_enabled() -> bool {
    std::fs::read_to_string("/proc/sys/net/ipv4/tcp_timestamps").map(|s| s.trim() != "0").unwrap_or(true)
}

/// Reads the counters of every established socket whose peer port is `port`.
pub fn snapshot(port: u16) -> Result<PortSnapshot> {
    let output = Command::new("ss")
        .args(["-tinpH", "state", "established", &format!("( dport = :{port} )")])
        .output()
        .map_err(|e| Error::io("run `ss` (iproute2) to read TCP counters", e))?;
    if !output.status.success() {
        return Err(Error::Config(format!("ss failed: {}", String::from_utf8_lossy(&output.stderr).trim())));
    }
    Ok(parse(&String::from_utf8_lossy(&output.stdout), timestamps_enabled()))
}

/// Parses `ss -tinH state established` output.
pub fn parse(text: &str, timestamps: bool) -> PortSnapshot {
    let mut sockets = HashMap::new();
    let mut key: Option<(String, Option<u32>)> = None;
    for line in text.lines() {
        if !line.starts_with(char::is_whitespace) {
            // `Recv-Q Send-Q Local Peer [users:(("name",pid=N,fd=M))]`
            let fields: Vec<&str> = line.split_whitespace().collect();
            key = (fields.len() >= 4).then(|| (format!("{} {}", fields[2], fields[3]), owner_pid(line)));
            continue;
        }
        let Some((k, owner_pid)) = key.take() else { continue };
        let ipv6 = k.starts_with('[');
        let ts = timestamps || line.split_whitespace().any(|t| t == "ts");
        let mut c = SocketCounters {
            header_bytes: if ipv6 { 40 } else { 20 } + 20 + if ts { 12 } else { 0 },
            owner_pid,
            ..Default::default()
        };
        for token in line.split_whitespace() {
            let Some((name, value)) = token.split_once(':') else { continue };
            let Ok(v) = value.parse::<u64>() else { continue };
            match name {
                "bytes_acked" => c.bytes_acked = v,
                "bytes_received" => c.bytes_received = v,
                "segs_out" => c.segs_out = v,
                "segs_in" => c.segs_in = v,
                _ => {}
            }
        }
        sockets.insert(k, c);
    }
    PortSnapshot { sockets }
}

fn owner_pid(line: &str) -> Option<u32> {
    let rest = &line[line.find("pid=")? + 4..];
    rest[..rest.find(|c: char| !c.is_ascii_digit())?].parse().ok()
}

/// The sockets of one hop between two snapshots, summed.
fn hop_delta(
    name: &str,
    port: u16,
    before: &PortSnapshot,
    after: &PortSnapshot,
    keep: impl Fn(&str) -> bool,
) -> HopBytes {
    let mut h = HopBytes {
        hop: name.to_owned(),
        port,
        sockets: 0,
        sent_bytes_total: 0,
        received_bytes_total: 0,
        sent_payload_bytes_total: 0,
        received_payload_bytes_total: 0,
        sent_segments_total: 0,
        received_segments_total: 0,
        sent_bytes_per_call: 0.0,
        received_bytes_per_call: 0.0,
        segments_per_call: 0.0,
    };
    for (key, end) in after.sockets.iter().filter(|(k, _)| keep(k)) {
        let start = before.sockets.get(key).copied().unwrap_or_default();
        let sent = end.bytes_acked.saturating_sub(start.bytes_acked);
        let received = end.bytes_received.saturating_sub(start.bytes_received);
        let segs_out = end.segs_out.saturating_sub(start.segs_out);
        let segs_in = end.segs_in.saturating_sub(start.segs_in);
        h.sockets += 1;
        h.sent_payload_bytes_total += sent;
        h.received_payload_bytes_total += received;
        h.sent_segments_total += segs_out;
        h.received_segments_total += segs_in;
        h.sent_bytes_total += sent + segs_out * end.header_bytes;
        h.received_bytes_total += received + segs_in * end.header_bytes;
    }
    h
}

/// Splits a port's sockets into hops and turns a window's deltas into [`WireBytes`].
///
/// A broker's port is shared by every program that talks to the broker, so only sockets owned by
/// `pids` (this process, and an external worker's `--server-pid`) are counted.
#[derive(Debug, Clone)]
pub struct WireProbe {
    /// The listening port (server or broker).
    pub port: u16,
    /// Processes whose sockets count; empty counts every socket.
    pub pids: Vec<u32>,
    /// Sockets that existed before the client connected: a broker worker's connections.
    pub worker_sockets: HashSet<String>,
}

impl WireProbe {
    /// A probe for `port`; call after the server or worker started and before the client
    /// connected, so that sockets already open to the port count as the worker hop.
    pub fn before_client(port: u16, pids: Vec<u32>) -> Result<Self> {
        let mut probe = Self { port, pids, worker_sockets: HashSet::new() };
        probe.worker_sockets = probe.snapshot()?.sockets.into_keys().collect();
        Ok(probe)
    }

    /// Takes a snapshot of the port's sockets owned by `pids`.
    pub fn snapshot(&self) -> Result<PortSnapshot> {
        let mut snap = snapshot(self.port)?;
        // A socket whose owner `ss` could not name (no privileges) is kept rather than dropped.
        snap.sockets.retain(|_, c| self.pids.is_empty() || c.owner_pid.is_none_or(|pid| self.pids.contains(&pid)));
        Ok(snap)
    }

    /// Bytes per call between `before` and `after` over `calls` calls.
    pub fn measure(&self, before: &PortSnapshot, after: &PortSnapshot, calls: u64) -> WireBytes {
        let mut hops = vec![hop_delta("client", self.port, before, after, |k| !self.worker_sockets.contains(k))];
        if !self.worker_sockets.is_empty() {
            hops.push(hop_delta("worker", self.port, before, after, |k| self.worker_sockets.contains(k)));
        }
        let per_call = calls.max(1) as f64;
        for h in &mut hops {
            h.sent_bytes_per_call = h.sent_bytes_total as f64 / per_call;
            h.received_bytes_per_call = h.received_bytes_total as f64 / per_call;
            h.segments_per_call = (h.sent_segments_total + h.received_segments_total) as f64 / per_call;
        }
        WireBytes { calls, hops }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SS: &str = "0      0      127.0.0.1:49916 127.0.0.1:59627 users:((\"paybench\",pid=4242,fd=9))\n\t bbr wscale:10,10 rto:204 bytes_sent:100 bytes_acked:101 bytes_received:50 segs_out:3 segs_in:2 data_segs_out:1\n";

    #[test]
    fn parses_ss_counters() {
        let snap = parse(SS, true);
        let c = snap.sockets["127.0.0.1:49916 127.0.0.1:59627"];
        assert_eq!((c.bytes_acked, c.bytes_received, c.segs_out, c.segs_in, c.header_bytes), (101, 50, 3, 2, 52));
        assert_eq!(c.owner_pid, Some(4242));
    }

    #[test]
    fn splits_hops_and_divides_by_calls() {
        let before = parse(SS, false);
        let after = parse(&SS.replace("bytes_acked:101", "bytes_acked:301").replace("segs_out:3", "segs_out:5"), false);
        let probe = WireProbe { port: 59627, pids: Vec::new(), worker_sockets: HashSet::new() };
        let w = probe.measure(&before, &after, 2);
        assert_eq!(w.hops.len(), 1);
        assert_eq!(w.hops[0].sent_bytes_total, 200 + 2 * 40);
        assert_eq!(w.hops[0].sent_bytes_per_call, 140.0);
    }
}
