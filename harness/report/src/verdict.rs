//! The verdict on "is gRPC 5x faster than JSON?": paired ratios per dimension, the decomposition
//! into format, HTTP version and framing, and the conclusion sentences generated from them.
//!
//! A ratio always reads "how many times better gRPC (protobuf) is": the REST/JSON figure over the
//! gRPC figure for lower-is-better dimensions (time, bytes, CPU), inverted for throughput.
//! Repetition `i` of one arm is paired with repetition `i` of the other (same scenario, profile
//! and load), the ratio is taken per pair, and min / median / max of those ratios are reported.

use super::format::{fmt_us, reading_cell};
use super::ratio::{paired_ratio, Direction, Ratio, Reach};
use crate::claim;
use crate::payload::Profile;
use crate::results::{ArmResult, ArmStatus, Measurement, OperatingPlan, OperatingPoint, PointResult};
use crate::scenario::LoadSpec;

/// The factor the claim names.
pub const CLAIM_FACTOR: f64 = 5.0;

/// A measured dimension of a load run, read per repetition from one arm.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Dimension {
    /// Median latency at a load point.
    P50(LoadSpec),
    /// 99th percentile latency at a load point (corrected in open loop).
    P99(LoadSpec),
    /// 99.9th percentile latency at a load point (only offered where every window recorded at
    /// least [`crate::results::stats::P999_MIN_COUNT`] calls).
    P999(LoadSpec),
    /// Wire bytes per call, all hops and both directions, at a load point.
    WireBytes(LoadSpec),
    /// CPU µs per call, every role (client, server, broker, unattributed), at a load point.
    Cpu(LoadSpec),
    /// The server's CPU µs per call alone (the generator and client library apart), at a load
    /// point.
    ServerCpu(LoadSpec),
    /// Highest offered rate of the sweep whose step met the SLO.
    MaxThroughput,
}

impl Dimension {
    /// Which way it improves.
    pub fn direction(self) -> Direction {
        match self {
            Dimension::MaxThroughput => Direction::HigherIsBetter,
            _ => Direction::LowerIsBetter,
        }
    }

    /// The quantile of a tail row (p99, p99.9), whose ratio pools the windows; `None` otherwise.
    pub fn tail_quantile(self) -> Option<f64> {
        match self {
            Dimension::P99(_) => Some(0.99),
            Dimension::P999(_) => Some(0.999),
            _ => None,
        }
    }

    /// The load point it is read at (`None` for the sweep).
    pub fn load(self) -> Option<LoadSpec> {
        match self {
            Dimension::P50(l)
            | Dimension::P99(l)
            | Dimension::P999(l)
            | Dimension::WireBytes(l)
            | Dimension::Cpu(l)
            | Dimension::ServerCpu(l) => Some(l),
            Dimension::MaxThroughput => None,
        }
    }

    /// Unit of the raw figures.
    pub fn unit(self) -> &'static str {
        match self {
            Dimension::P50(_)
            | Dimension::P99(_)
            | Dimension::P999(_)
            | Dimension::Cpu(_)
            | Dimension::ServerCpu(_) => "µs",
            Dimension::WireBytes(_) => "B/call",
            Dimension::MaxThroughput => "calls/s",
        }
    }

    /// Human name, with the load it was read at.
    pub fn name(self) -> String {
        self.name_at(|l| l.label())
    }

    /// What is measured, without the load: `p99 latency`.
    pub fn metric(self) -> &'static str {
        match self {
            Dimension::P50(_) => "p50 latency",
            Dimension::P99(_) => "p99 latency",
            Dimension::P999(_) => "p99.9 latency",
            Dimension::WireBytes(_) => "wire bytes per call",
            Dimension::Cpu(_) => "CPU per call, all roles",
            Dimension::ServerCpu(_) => "CPU per call, server only",
            Dimension::MaxThroughput => "server capacity (replay client, closed loop, server ≥ 90 % busy)",
        }
    }

    /// Human name with the load described by `describe`.
    pub fn name_at(self, describe: impl Fn(&LoadSpec) -> String) -> String {
        match self.load() {
            Some(l) => format!("{} ({})", self.metric(), describe(&l)),
            None => self.metric().to_owned(),
        }
    }

    /// The results.json field the figure comes from, for traceability.
    pub fn field(self) -> &'static str {
        match self {
            Dimension::P50(_) => "points[].repetitions[].latency.p50_us",
            Dimension::P99(_) => "points[].repetitions[].latency.p99_us",
            Dimension::P999(_) => "points[].repetitions[].latency.p999_us",
            Dimension::WireBytes(_) => "points[].repetitions[].wire.hops[].{sent,received}_bytes_per_call",
            Dimension::Cpu(_) => "points[].repetitions[].cpu.*_us_per_call",
            Dimension::ServerCpu(_) => "points[].repetitions[].cpu.server_us_per_call",
            Dimension::MaxThroughput => "server_capacity[].points[].repetitions[].achieved_rate_per_s",
        }
    }

    /// The figure per repetition (index = repetition), `None` where not measured; `None` overall
    /// when the arm did not run or lacks the point.
    pub fn samples(self, arm: &ArmResult) -> Option<Vec<Option<f64>>> {
        if arm.status != ArmStatus::Ran {
            return None;
        }
        match self {
            Dimension::MaxThroughput => {
                // `arm` is a `[server_capacity]` arm (replay client, closed loop). Only a window
                // whose server was at least 90 % busy is the server's capacity; the others are
                // lower bounds, and none of them becomes a number here.
                let windows = arm.points.iter().flat_map(|p| &p.repetitions);
                Some(windows.map(|m| crate::results::server_capacity_of(m).server_rate()).collect())
            }
            Dimension::P50(l)
            | Dimension::P99(l)
            | Dimension::P999(l)
            | Dimension::WireBytes(l)
            | Dimension::Cpu(l)
            | Dimension::ServerCpu(l) => {
                // A flagged window measured something other than the arm (the generator, a
                // neighbour, a queue that outgrew the window): it never stands in a row.
                let windows = windows_at(arm, &l)?;
                Some(windows.iter().map(|m| self.flag(m).is_none().then(|| self.of_measurement(m)).flatten()).collect())
            }
        }
    }

    fn of_measurement(self, m: &Measurement) -> Option<f64> {
        let answered = m.accounting.ok > 0;
        match self {
            Dimension::P50(_) => answered.then_some(m.latency.p50_us),
            Dimension::P99(_) => answered.then_some(m.latency.p99_us),
            Dimension::P999(_) => (answered && !m.latency.p999_low_count).then_some(m.latency.p999_us),
            Dimension::WireBytes(_) => {
                m.wire.as_ref().map(|w| w.hops.iter().map(|h| h.sent_bytes_per_call + h.received_bytes_per_call).sum())
            }
            Dimension::Cpu(_) => cpu_total_us_per_call(m),
            Dimension::ServerCpu(_) => m.cpu.server_us_per_call,
            Dimension::MaxThroughput => None,
        }
    }

    /// Why window `m` cannot stand in this row, if it cannot ([`window_flag`]). CPU and wire bytes
    /// per call are properties of each call, which a saturated client or a queue does not change:
    /// only foreign CPU removes a window from them.
    pub fn flag(self, m: &Measurement) -> Option<&'static str> {
        match self {
            Dimension::Cpu(_) | Dimension::ServerCpu(_) | Dimension::WireBytes(_) => {
                m.contaminated.then_some("contaminated")
            }
            _ => window_flag(m),
        }
    }

    /// The windows behind the figure that were left out, counted by flag (`generator-bound 2,
    /// contaminated 1`), with how many windows there were; `None` when none was left out.
    pub fn left_out(self, arm: &ArmResult) -> Option<String> {
        let windows = windows_at(arm, &self.load()?)?;
        let mut counts: Vec<(&str, usize)> = Vec::new();
        for flag in windows.iter().filter_map(|m| self.flag(m)) {
            match counts.iter_mut().find(|(f, _)| *f == flag) {
                Some((_, n)) => *n += 1,
                None => counts.push((flag, 1)),
            }
        }
        let total: usize = counts.iter().map(|(_, n)| n).sum();
        (total > 0).then(|| {
            let by: Vec<String> = counts.iter().map(|(f, n)| format!("{f} {n}")).collect();
            format!("{total} of {} windows left out ({})", windows.len(), by.join(", "))
        })
    }
}

/// TCP segments per call on the arm's client hop at `load`, out (client to server) and in: the
/// median over its windows; `None` without wire counters there.
pub fn segments_per_call(arm: &ArmResult, load: &LoadSpec) -> Option<(f64, f64)> {
    let hops: Vec<(f64, f64)> = windows_at(arm, load)?
        .into_iter()
        .filter_map(|m| {
            let w = m.wire.as_ref().filter(|w| w.calls > 0)?;
            let h = w.hops.iter().find(|h| h.hop == "client")?;
            Some((h.sent_segments_total as f64 / w.calls as f64, h.received_segments_total as f64 / w.calls as f64))
        })
        .collect();
    (!hops.is_empty()).then(|| {
        let median = |f: fn(&(f64, f64)) -> f64| crate::results::Spread::of(hops.iter().map(f)).median;
        (median(|h| h.0), median(|h| h.1))
    })
}

/// A sentence when the claim pair's unloaded calls cross the client's socket in different numbers
/// of TCP segments (half a segment or more apart): each segment is a write on one side and a
/// wake-up on the other, which an unloaded latency pays in full.
pub fn segments_sentence(section: &Section<'_>) -> Option<String> {
    let load = unloaded(&section.loads)?;
    let (rest, grpc) =
        (segments_per_call(section.arm(claim::REST)?, &load)?, segments_per_call(section.arm(claim::GRPC)?, &load)?);
    ((rest.0 + rest.1 - grpc.0 - grpc.1).abs() >= 0.5).then(|| {
        format!(
            "Unloaded ({}), a gRPC call crosses the client's socket in {:.1} TCP segments out and {:.1} in, a REST/JSON call in {:.1} and {:.1} (pure ACKs included): each extra segment is one more write on the sender and one more wake-up of the receiver. `harness/scripts/syscalls-per-call.sh` counts the syscalls behind them.",
            load.label(),
            grpc.0,
            grpc.1,
            rest.0,
            rest.1
        )
    })
}

/// The unflagged windows of `arm` behind a tail row, as cumulative counts; `None` when the arm has
/// no point there or a window lacks its histogram (a file written before histograms were kept:
/// the row then falls back to pairing the windows' own quantiles).
pub fn pooled_windows(arm: &ArmResult, dim: Dimension) -> Option<Vec<super::tails::WindowCounts>> {
    windows_at(arm, &dim.load()?)?
        .into_iter()
        .filter(|m| dim.flag(m).is_none())
        .map(|m| m.latency.histogram().ok().map(|h| super::tails::WindowCounts::of(&h)))
        .collect()
}

/// Why a window cannot stand in a verdict row, if it cannot: foreign CPU ran beside it
/// (`contaminated`), the client or its schedule set the figure (`generator-bound`), or its calls
/// completed long after its send window (`backlogged`: its latencies grow with the window's length).
pub fn window_flag(m: &Measurement) -> Option<&'static str> {
    if m.contaminated {
        Some("contaminated")
    } else if m.generator_bound {
        Some("generator-bound")
    } else if m.backlogged {
        Some("backlogged")
    } else {
        None
    }
}

/// Every window of the arm at `load`, in file order: the fixed point's, then an operating point's
/// that fell on the same load (both measure the same arm at the same load, so they are pooled; the
/// claim pair has the same points, so repetition pairs stay aligned). `None` when the arm has no
/// point at `load`.
pub fn windows_at<'a>(arm: &'a ArmResult, load: &LoadSpec) -> Option<Vec<&'a Measurement>> {
    let mut points = arm.points.iter().filter(|p| p.load == *load).peekable();
    points.peek()?;
    Some(points.flat_map(|p| &p.repetitions).collect())
}

/// Total CPU µs per call over every role that was measured; `None` when none was.
pub fn cpu_total_us_per_call(m: &Measurement) -> Option<f64> {
    let c = &m.cpu;
    let parts = [c.client_us_per_call, c.server_us_per_call, c.broker_us_per_call, c.unattributed_us_per_call];
    parts.iter().any(Option::is_some).then(|| parts.iter().flatten().sum())
}

/// The arm's point with load `load`.
pub fn point_at<'a>(arm: &'a ArmResult, load: &LoadSpec) -> Option<&'a PointResult> {
    arm.points.iter().find(|p| p.load == *load)
}

/// The lowest load of a scenario's points: the closed point with the fewest callers, else the
/// open point with the lowest rate.
pub fn unloaded(loads: &[LoadSpec]) -> Option<LoadSpec> {
    let closed = loads.iter().filter_map(|l| l.concurrency().map(|c| (c, *l))).min_by_key(|(c, _)| *c);
    closed.map(|(_, l)| l).or_else(|| open_loads(loads).into_iter().next())
}

/// The open-loop points, lowest rate first.
pub fn open_loads(loads: &[LoadSpec]) -> Vec<LoadSpec> {
    let mut open: Vec<LoadSpec> = loads.iter().filter(|l| matches!(l, LoadSpec::Open { .. })).copied().collect();
    open.sort_by(|a, b| rate(a).total_cmp(&rate(b)));
    open
}

fn rate(l: &LoadSpec) -> f64 {
    match l {
        LoadSpec::Open { rate_per_s, .. } => *rate_per_s,
        LoadSpec::Closed { .. } => 0.0,
    }
}

/// The arms of one scenario and profile: the unit a verdict is given for.
#[derive(Debug, Clone)]
pub struct Section<'a> {
    /// Scenario name.
    pub scenario: &'a str,
    /// Payload profile.
    pub profile: Profile,
    /// The scenario's load points, in file order.
    pub loads: Vec<LoadSpec>,
    /// Its arms, in run order.
    pub arms: Vec<&'a ArmResult>,
    /// Where the run placed the operating points of this scenario × profile, if it did.
    pub plan: Option<&'a OperatingPlan>,
    /// Its `[server_capacity]` arms (replay client), which the throughput row reads.
    pub capacity: Vec<&'a ArmResult>,
}

impl<'a> Section<'a> {
    /// The arm called `name`, if the run had it.
    pub fn arm(&self, name: &str) -> Option<&'a ArmResult> {
        self.arms.iter().copied().find(|a| a.transport.as_str() == name)
    }

    /// The arm called `name` that `dim` reads: its `[server_capacity]` arm for the throughput
    /// row, else [`Section::arm`].
    pub fn arm_for(&self, dim: Dimension, name: &str) -> Option<&'a ArmResult> {
        match dim {
            Dimension::MaxThroughput => self.capacity.iter().copied().find(|a| a.transport.as_str() == name),
            _ => self.arm(name),
        }
    }

    /// The ratio `rest_side` over `grpc_side` for `dim` (see [`paired_ratio`]).
    pub fn ratio(&self, dim: Dimension, rest_side: &str, grpc_side: &str) -> Option<Ratio> {
        if let Some(q) = dim.tail_quantile() {
            let (r, g) = (pooled_windows(self.arm(rest_side)?, dim), pooled_windows(self.arm(grpc_side)?, dim));
            if let (Some(r), Some(g)) = (r, g) {
                return super::tails::tail_ratio(&r, &g, q);
            }
        }
        let r = dim.samples(self.arm_for(dim, rest_side)?)?;
        let g = dim.samples(self.arm_for(dim, grpc_side)?)?;
        paired_ratio(dim.direction(), &r, &g)
    }

    /// Whether the operating points are fractions of an end-to-end capacity (the client limited
    /// the basis arm's searches), not of a server-bound one.
    pub fn end_to_end_basis(&self) -> bool {
        self.plan.is_some_and(|p| p.basis_client_bound)
    }

    /// The median server busy share over the claim pair's operating-point windows at `load`: how
    /// loaded the server really was at a point named as a fraction of capacity.
    pub fn server_share_at(&self, load: &LoadSpec) -> Option<f64> {
        let shares: Vec<f64> = [claim::REST, claim::GRPC]
            .iter()
            .filter_map(|name| self.arm(name))
            .flat_map(|a| &a.points)
            .filter(|p| p.load == *load && p.operating_point.is_some())
            .flat_map(|p| &p.repetitions)
            .filter_map(|m| m.busy.as_ref()?.server)
            .collect();
        (!shares.is_empty()).then(|| crate::results::Spread::of(shares).median)
    }

    /// The operating points measured, lowest rate first, with their loads.
    pub fn operating_points(&self) -> Vec<(&'a OperatingPoint, LoadSpec)> {
        let Some(plan) = self.plan else { return Vec::new() };
        plan.points
            .iter()
            .filter_map(|p| {
                let load = self
                    .arms
                    .iter()
                    .flat_map(|a| &a.points)
                    .find(|x| x.operating_point.as_ref() == Some(&p.name))?
                    .load;
                Some((p, load))
            })
            .collect()
    }

    /// How the report names a load: `unloaded, closed c=1`, `50 % of capacity, 3216/s`,
    /// `fixed open 1000/s`.
    pub fn describe(&self, load: &LoadSpec) -> String {
        if let Some((p, _)) = self.operating_points().into_iter().find(|(_, l)| l == load) {
            let share = self.server_share_at(load);
            let at = |what: &str| match share {
                Some(share) => format!("{what}, {:.0}/s, server {:.0} % busy", p.rate_per_s, share * 100.0),
                None => format!("{what}, {:.0}/s", p.rate_per_s),
            };
            let basis = if self.end_to_end_basis() { "end-to-end capacity" } else { "capacity" };
            return if p.name == crate::operating::AT_CAPACITY || p.name == crate::operating::AT_END_TO_END_CAPACITY {
                // Nothing is called "at capacity" unless the server was that busy there.
                match share {
                    Some(share) if !self.end_to_end_basis() && share < crate::results::SERVER_BOUND_SHARE => {
                        format!(
                            "at the basis rate, {:.0}/s, server {:.0} % busy: not at capacity",
                            p.rate_per_s,
                            share * 100.0
                        )
                    }
                    _ => at(&format!("at {basis}")),
                }
            } else {
                at(&format!("{} of {basis}", p.name))
            };
        }
        if unloaded(&self.loads).as_ref() == Some(load) {
            return format!("unloaded, {}", load.label());
        }
        format!("fixed {}", load.label())
    }

    /// Whether every repetition of the claim pair at `load` recorded enough calls for a p99.9.
    fn p999_measurable(&self, load: &LoadSpec) -> bool {
        [claim::REST, claim::GRPC].iter().all(|name| {
            self.arm(name)
                .and_then(|a| windows_at(a, load))
                .is_some_and(|w| !w.is_empty() && w.iter().all(|m| m.accounting.ok > 0 && !m.latency.p999_low_count))
        })
    }

    /// Latency dimensions at `load`: p50, p99, and p99.9 when the counts allow it.
    fn latency_at(&self, load: LoadSpec) -> Vec<Dimension> {
        let mut dims = vec![Dimension::P50(load), Dimension::P99(load)];
        if self.p999_measurable(&load) {
            dims.push(Dimension::P999(load));
        }
        dims
    }

    /// The load-run dimensions of the verdict, by operating point: latency unloaded, at each
    /// operating point (fractions of the lower capacity, then the capacity itself) and p99 at each
    /// fixed open rate; wire bytes (unloaded point), CPU (the closed point with the most callers,
    /// else the first fixed open point, else unloaded), sweep throughput.
    pub fn dimensions(&self) -> Vec<Dimension> {
        let mut dims = Vec::new();
        let base = unloaded(&self.loads);
        if let Some(l) = base {
            dims.extend(self.latency_at(l));
        }
        for (_, load) in self.operating_points() {
            dims.extend(self.latency_at(load));
        }
        let open = open_loads(&self.loads);
        // A fixed rate that an operating point fell on is already a row (its windows pooled there).
        let operating: Vec<LoadSpec> = self.operating_points().into_iter().map(|(_, l)| l).collect();
        dims.extend(open.iter().filter(|l| Some(**l) != base && !operating.contains(l)).map(|l| Dimension::P99(*l)));
        if let Some(l) = base {
            dims.push(Dimension::WireBytes(l));
        }
        // CPU per call where it means something: at saturation (the closed point with the most
        // callers), not at a low open rate, where idle wake-ups and the generator's pacing dominate
        // (inproc alone spends tens of µs per call at 1000/s against 2 µs closed).
        let saturated = self
            .loads
            .iter()
            .filter_map(|l| l.concurrency().filter(|c| *c > 1).map(|c| (c, *l)))
            .max_by_key(|(c, _)| *c);
        if let Some(l) = saturated.map(|(_, l)| l).or(open.first().copied()).or(base) {
            // Beside every role's CPU, the server's alone: the all-roles figure carries the
            // generator and the client library, which are the harness's, not the transport's.
            dims.extend([Dimension::Cpu(l), Dimension::ServerCpu(l)]);
        }
        dims.push(Dimension::MaxThroughput);
        dims
    }
}

/// A factor of the decomposition: `numerator` over `denominator`, each pair differing in one thing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Factor {
    /// What changes between the two arms.
    pub name: &'static str,
    /// The arm expected to be worse, by canonical name.
    pub numerator: &'static str,
    /// The arm expected to be better.
    pub denominator: &'static str,
    /// Short name for sentences.
    pub short: &'static str,
}

/// The chain rest → rest-h2 → grpc-json → grpc: its three ratios multiply (per repetition) to
/// rest/grpc. Listed first to last along the chain.
pub const CHAIN: [Factor; 3] = [
    Factor {
        name: "hyper HTTP/1.1 → hyper HTTP/2 (REST, JSON): rest / rest-h2",
        numerator: claim::REST,
        denominator: claim::REST_H2,
        short: "the HTTP stack (hyper's HTTP/1.1 vs its HTTP/2)",
    },
    Factor {
        name: "axum + reqwest → tonic on HTTP/2 (JSON): rest-h2 / grpc-json",
        numerator: claim::REST_H2,
        denominator: claim::GRPC_JSON,
        short: "the RPC stack (axum + reqwest vs tonic, gRPC framing)",
    },
    Factor {
        name: "serde_json → prost under tonic: grpc-json / grpc",
        numerator: claim::GRPC_JSON,
        denominator: claim::GRPC,
        short: "the body codec (serde_json vs prost)",
    },
];

/// The cross-check of the format effect on the other transport.
pub const FORMAT_UNDER_HTTP1: Factor = Factor {
    name: "serde_json → prost under axum + reqwest, HTTP/1.1: rest / rest-proto",
    numerator: claim::REST,
    denominator: claim::REST_PROTO,
    short: "the body codec under HTTP/1.1",
};

/// The whole claim: REST/JSON over gRPC/protobuf.
pub const TOTAL: Factor =
    Factor { name: "total: rest / grpc", numerator: claim::REST, denominator: claim::GRPC, short: "REST/JSON vs gRPC" };

/// What a verdict row measures.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum RowKind {
    /// Codec time per call: request and response, encoded and decoded (the run's own timing).
    Codec,
    /// Body bytes, uncompressed or gzip (computed).
    BodyBytes,
    /// A load-run dimension.
    Load(Dimension),
}

/// One line of the verdict table.
#[derive(Debug, Clone)]
pub struct VerdictRow {
    /// What it measures.
    pub kind: RowKind,
    /// What is compared.
    pub dimension: String,
    /// Where the figures come from (results.json field, criterion bench, computed sizes).
    pub basis: String,
    /// Unit of `rest` and `grpc`.
    pub unit: &'static str,
    /// Median REST/JSON figure.
    pub rest: Option<f64>,
    /// Median gRPC figure.
    pub grpc: Option<f64>,
    /// REST ÷ gRPC as "times better for gRPC".
    pub ratio: Option<Ratio>,
    /// Warnings that qualify the row (generator-bound, fallback source).
    pub flags: Vec<String>,
    /// Where the row was read: the load as [`Section::describe`] names it (`None` for codec,
    /// body-size and throughput rows).
    pub point: Option<String>,
    /// Offered rate of the load the row was read at (open loop), calls per second.
    pub offered_per_s: Option<f64>,
    /// Median achieved rate of REST/JSON and of gRPC at that load, calls per second.
    pub achieved_per_s: (Option<f64>, Option<f64>),
    /// Why the row has no ratio although its arms ran (every pair had a flagged window, no
    /// search was server-bound); `None` when it has one, or when nothing was run.
    pub not_measured: Option<String>,
}

impl VerdictRow {
    /// Whether the row reaches the claim, `None` when not measured.
    pub fn reach(&self) -> Option<Reach> {
        self.ratio.map(|r| r.reaches(CLAIM_FACTOR))
    }
}

/// The median of a dimension's figures for one arm.
pub fn median_of(dim: Dimension, arm: Option<&ArmResult>) -> Option<f64> {
    let v: Vec<f64> = dim.samples(arm?)?.into_iter().flatten().collect();
    (!v.is_empty()).then(|| crate::results::Spread::of(v).median)
}

/// The verdict row of a load-run dimension in `section`.
pub fn load_row(section: &Section<'_>, dim: Dimension) -> VerdictRow {
    let (rest, grpc) = (section.arm_for(dim, claim::REST), section.arm_for(dim, claim::GRPC));
    let mut flags = Vec::new();
    for arm in [rest, grpc].into_iter().flatten() {
        if let Some(left_out) = dim.left_out(arm) {
            flags.push(format!("{}: {left_out}", arm.transport));
        }
    }
    let ratio = section.ratio(dim, claim::REST, claim::GRPC);
    let ran = rest.is_some_and(|a| dim.samples(a).is_some()) && grpc.is_some_and(|a| dim.samples(a).is_some());
    let not_measured = (ratio.is_none() && ran).then(|| match dim {
        Dimension::MaxThroughput => "not measured: no server-bound capacity window on both arms".to_owned(),
        _ => "not measured: every pair had a flagged window".to_owned(),
    });
    if dim == Dimension::MaxThroughput {
        for arm in [rest, grpc].into_iter().flatten() {
            let missing = dim.samples(arm).map_or(0, |v| v.iter().filter(|x| x.is_none()).count());
            if missing > 0 {
                let not_server_bound: Vec<String> = arm
                    .points
                    .iter()
                    .flat_map(|p| &p.repetitions)
                    .map(crate::results::server_capacity_of)
                    .filter(|r| r.server_rate().is_none())
                    .map(|r| reading_cell(&r))
                    .collect();
                flags.push(format!(
                    "{}: {missing} window(s) without a server-bound capacity left out: {}",
                    arm.transport,
                    not_server_bound.join("; ")
                ));
            }
        }
    }
    let field = dim.field();
    let field = match dim.load() {
        Some(l) => field.replacen("points[]", &format!("points[load={}]", l.label()), 1),
        None => field.to_string(),
    };
    // A tail row shows each arm's pooled quantile, the figure its ratio is taken from.
    // A tail row's pooled windows, decoded once per arm: its figures, exceedance and count.
    let pools =
        [rest, grpc].map(|arm| arm.filter(|_| dim.tail_quantile().is_some()).and_then(|a| pooled_windows(a, dim)));
    // A tail row shows each arm's pooled quantile, the figure its ratio is taken from.
    let figure = |side: usize, arm: Option<&ArmResult>| {
        let pooled = dim.tail_quantile().zip(pools[side].as_ref()).and_then(|(q, w)| super::tails::pooled(w, q));
        pooled.map(|ns| ns as f64 / 1_000.0).or_else(|| median_of(dim, arm))
    };
    // Exceedance, P(latency > SLO), beside each p99: the share of calls a latency objective
    // would have failed, read from the same pooled windows.
    let slo_us = [rest, grpc].into_iter().flatten().find_map(|a| a.sweep.as_ref()).map(|s| s.slo_p99_us);
    if let (Dimension::P99(_), Some(slo_us)) = (dim, slo_us) {
        let share = |side: usize| super::tails::exceedance(pools[side].as_ref()?, (slo_us * 1_000.0) as u64);
        let pct = |x: Option<f64>| x.map_or("—".to_owned(), |x| format!("{:.2} %", x * 100.0));
        flags.push(format!("P(latency > {} SLO): REST/JSON {}, gRPC {}", fmt_us(slo_us), pct(share(0)), pct(share(1))));
    }
    for (arm, pool) in [rest, grpc].into_iter().zip(&pools) {
        let (Some(arm), Some(pool)) = (arm, pool) else { continue };
        let calls: u64 = pool.iter().map(super::tails::WindowCounts::total).sum();
        if calls > 0 && calls < crate::results::stats::P999_MIN_COUNT {
            flags.push(format!(
                "{}: low count, {calls} calls pooled (< {})",
                arm.transport,
                crate::results::stats::P999_MIN_COUNT
            ));
        }
    }
    let achieved = |arm: Option<&ArmResult>| {
        let windows = windows_at(arm?, &dim.load()?)?;
        let v: Vec<f64> = windows.iter().map(|m| m.achieved_rate_per_s).collect();
        (!v.is_empty()).then(|| crate::results::Spread::of(v).median)
    };
    VerdictRow {
        kind: RowKind::Load(dim),
        dimension: dim.name_at(|l| section.describe(l)),
        point: dim.load().map(|l| section.describe(&l)),
        offered_per_s: match dim.load() {
            Some(LoadSpec::Open { rate_per_s, .. }) => Some(rate_per_s),
            _ => None,
        },
        achieved_per_s: (achieved(rest), achieved(grpc)),
        not_measured,
        basis: format!("results.json arms {}/{{rest,grpc}}/{}: {field}", section.scenario, section.profile),
        unit: dim.unit(),
        rest: figure(0, rest),
        grpc: figure(1, grpc),
        ratio,
        flags,
    }
}

/// One row of the decomposition table: a dimension and its factor ratios.
#[derive(Debug, Clone)]
pub struct DecompositionRow {
    /// The dimension.
    pub dimension: Dimension,
    /// The chain factors ([`CHAIN`]), then [`FORMAT_UNDER_HTTP1`], then [`TOTAL`].
    pub factors: Vec<(Factor, Option<Ratio>)>,
}

/// Every factor of the decomposition, in column order.
pub fn factors() -> Vec<Factor> {
    CHAIN.iter().copied().chain([FORMAT_UNDER_HTTP1, TOTAL]).collect()
}

/// The decomposition of every load-run dimension of `section`.
pub fn decomposition(section: &Section<'_>) -> Vec<DecompositionRow> {
    section
        .dimensions()
        .into_iter()
        .map(|dim| DecompositionRow {
            dimension: dim,
            factors: factors().into_iter().map(|f| (f, section.ratio(dim, f.numerator, f.denominator))).collect(),
        })
        .collect()
}

/// Formats a ratio's median as `3.2x` (`∞` when unbounded).
pub fn fmt_x(x: f64) -> String {
    if x.is_infinite() {
        "∞".into()
    } else if x >= 10.0 {
        format!("{x:.0}x")
    } else {
        format!("{x:.2}x")
    }
}

/// `1.23x (95 % CI 1.10x–1.40x)`.
pub fn fmt_ci(r: &Ratio) -> String {
    format!("{} (95 % CI {}–{})", fmt_x(r.estimate), fmt_x(r.low), fmt_x(r.high))
}

/// The conclusion, one sentence per line, generated from the rows and the decomposition. Every
/// claim of a difference rests on a 95 % confidence interval: "reaches 5x" needs the interval's
/// lower end at 5x or above, and an interval that contains 1x reads "no measurable difference"
/// when it lies within 0.5x–2x and "inconclusive" when it is wider.
pub fn conclusion(profile: Profile, rows: &[VerdictRow], decomposition: &[DecompositionRow]) -> Vec<String> {
    let pick = |keep: &dyn Fn(&Ratio) -> bool| -> Vec<String> {
        rows.iter()
            .filter_map(|r| r.ratio.filter(|x| keep(x)).map(|x| format!("{} ({})", r.dimension, fmt_ci(&x))))
            .collect()
    };
    let yes = pick(&|x| x.reaches(CLAIM_FACTOR) == Reach::Yes);
    let possibly = pick(&|x| x.reaches(CLAIM_FACTOR) == Reach::Possibly);
    let below = pick(&|x| x.reaches(CLAIM_FACTOR) == Reach::No && x.low > 1.0);
    let same = pick(&|x| x.reaches(CLAIM_FACTOR) == Reach::No && x.no_measurable_difference());
    let inconclusive = pick(&|x| x.reaches(CLAIM_FACTOR) == Reach::No && x.inconclusive());
    let rest_better = pick(&|x| x.high < 1.0);
    let missing: Vec<String> = rows.iter().filter(|r| r.ratio.is_none()).map(|r| r.dimension.clone()).collect();
    let list = |v: &[String]| if v.is_empty() { "none".to_string() } else { v.join("; ") };
    let mut out = vec![format!(
        "Profile `{profile}`: gRPC is {CLAIM_FACTOR}x or more better than REST/JSON (95 % interval entirely at or above {CLAIM_FACTOR}x) on: {}.",
        list(&yes)
    )];
    let mut add = |text: &str, v: &[String]| {
        if !v.is_empty() {
            out.push(format!("{text}: {}.", v.join("; ")));
        }
    };
    add(&format!("The data cannot tell whether it reaches {CLAIM_FACTOR}x (the interval straddles it) on"), &possibly);
    add(&format!("gRPC is measurably better, but by less than {CLAIM_FACTOR}x, on"), &below);
    add("No measurable difference (the interval contains 1x and lies within 0.5x–2x) on", &same);
    add("Inconclusive (the interval contains 1x but is wider than 0.5x–2x: more windows are needed) on", &inconclusive);
    add("REST/JSON is measurably better (the interval lies below 1x) on", &rest_better);
    add("Not measured in this run", &missing);
    out.extend(codec_share(rows));
    out.extend(decomposition.iter().filter_map(explain_gap));
    out
}

/// How much of REST/JSON's unloaded p50 the JSON codec's work per call takes (request and
/// response, encoded and decoded, as the client and server do them once each per call).
fn codec_share(rows: &[VerdictRow]) -> Option<String> {
    let find = |kind: fn(&RowKind) -> bool| rows.iter().find(|r| kind(&r.kind));
    let codec = find(|k| *k == RowKind::Codec)?;
    let p50 = find(|k| matches!(k, RowKind::Load(Dimension::P50(_))))?;
    let (json_us, protobuf_us) = (codec.rest?, codec.grpc?);
    let (rest_p50_us, grpc_p50_us) = (p50.rest?, p50.grpc?);
    Some(format!(
        "The codec's work per call (serde_json vs prost, this schema: request and response, each encoded and decoded once) takes {json_us:.2} µs with JSON and {protobuf_us:.2} µs with protobuf: {:.1} % of REST/JSON's {} of {:.0} µs and {:.1} % of gRPC's {:.0} µs.",
        100.0 * json_us / rest_p50_us,
        p50.dimension,
        rest_p50_us,
        100.0 * protobuf_us / grpc_p50_us,
        grpc_p50_us
    ))
}

/// "gRPC is 2.1x better than REST/JSON (95 % CI ...)", the reverse below 1x, or "no measurable
/// difference" when the interval contains 1x.
fn who_wins(ratio: &Ratio) -> String {
    if ratio.inconclusive() {
        format!("the data cannot tell gRPC and REST/JSON apart (ratio {}: inconclusive)", fmt_ci(ratio))
    } else if ratio.no_measurable_difference() {
        format!("there is no measurable difference between gRPC and REST/JSON (ratio {})", fmt_ci(ratio))
    } else if ratio.estimate >= 1.0 {
        format!("gRPC is better than REST/JSON by {}", fmt_ci(ratio))
    } else {
        format!("REST/JSON is better than gRPC by {} (ratio {})", fmt_x(1.0 / ratio.estimate), fmt_ci(ratio))
    }
}

/// "For X, gRPC is better by ...; along the chain: a × b × c = total; the largest factor is Y",
/// when the chain was measured. The factors are geometric means over the same pairs as the
/// total, so their product is the total's estimate; a factor is named the largest only when its
/// interval is separated from every other factor's.
fn explain_gap(row: &DecompositionRow) -> Option<String> {
    let total = row.factors.iter().find(|(f, _)| *f == TOTAL)?.1?;
    let chain: Vec<(Factor, Ratio)> =
        row.factors.iter().filter(|(f, _)| CHAIN.contains(f)).filter_map(|(f, r)| r.map(|r| (*f, r))).collect();
    if chain.len() < CHAIN.len() {
        return Some(format!(
            "For {}, {}; the run lacks an arm of the chain rest → rest-h2 → grpc-json → grpc, so the gap is not decomposed.",
            row.dimension.name(),
            who_wins(&total)
        ));
    }
    let parts: Vec<String> = chain.iter().map(|(f, r)| format!("{} {}", f.short, fmt_ci(r))).collect();
    let product: f64 = chain.iter().map(|(_, r)| r.estimate).product();
    // The factor that moves the figure most, in either direction (0.5x matters as much as 2x)...
    let (largest, ratio) = chain.iter().max_by(|a, b| a.1.estimate.ln().abs().total_cmp(&b.1.estimate.ln().abs()))?;
    // ...named only if its interval stands apart from every other factor's.
    let stands_out = chain.iter().filter(|(f, _)| f != largest).all(|(_, r)| ratio.separated_from(r))
        && !ratio.no_measurable_difference();
    let verdict = if stands_out {
        format!("the largest factor is {} ({})", largest.short, fmt_x(ratio.estimate))
    } else {
        "no factor stands apart from the others at 95 % confidence".to_owned()
    };
    Some(format!(
        "For {}, {} (geometric mean of {} paired repetitions); along the chain rest → rest-h2 → grpc-json → grpc: {}; the factors multiply to {}; {verdict}.",
        row.dimension.name(),
        who_wins(&total),
        total.pairs,
        parts.join(", "),
        fmt_x(product),
    ))
}

/// Whether `row` is a latency row (p50, p99 or p99.9 at a load point).
pub fn is_latency(row: &VerdictRow) -> bool {
    matches!(row.kind, RowKind::Load(Dimension::P50(_) | Dimension::P99(_) | Dimension::P999(_)))
}

/// Which way a ratio points, judged on its interval.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lean {
    /// The interval lies above 1x.
    Grpc,
    /// The interval contains 1x and lies within 0.5x–2x.
    Neither,
    /// The interval contains 1x but is wider than 0.5x–2x.
    Inconclusive,
    /// The interval lies below 1x.
    Rest,
}

impl Lean {
    /// The lean of `r`.
    pub fn of(r: &Ratio) -> Self {
        if r.inconclusive() {
            Lean::Inconclusive
        } else if r.no_measurable_difference() {
            Lean::Neither
        } else if r.estimate > 1.0 {
            Lean::Grpc
        } else {
            Lean::Rest
        }
    }

    fn phrase(self) -> &'static str {
        match self {
            Lean::Grpc => "gRPC measurably better",
            Lean::Neither => "no measurable difference",
            Lean::Inconclusive => "inconclusive",
            Lean::Rest => "REST/JSON measurably better",
        }
    }
}

/// One profile's verdict, as the headline reads it.
pub struct ProfileVerdict<'a> {
    /// The profile.
    pub profile: Profile,
    /// Its verdict rows.
    pub rows: &'a [VerdictRow],
    /// Its decomposition.
    pub decomposition: &'a [DecompositionRow],
}

/// The profile the headline chart shows: `typical` (the everyday checkout the claim is usually
/// made about) when the run has it, else the first.
pub fn headline_profile(verdicts: &[ProfileVerdict<'_>]) -> Option<usize> {
    verdicts.iter().position(|v| v.profile == Profile::Typical).or((!verdicts.is_empty()).then_some(0))
}

/// At most [`HEADLINE_SENTENCES`] sentences for the top of the report, generated from the rows:
/// where the claim holds, how the latency answer moves with load, where gRPC is most and least
/// ahead, how it depends on the payload's shape, and what the gap is made of.
pub fn headline(verdicts: &[ProfileVerdict<'_>]) -> Vec<String> {
    let mut out = Vec::new();
    let all = || verdicts.iter().flat_map(|v| v.rows.iter().map(move |r| (v.profile, r)));
    let measured = || all().filter_map(|(p, r)| r.ratio.map(|x| (p, r, x)));
    let name = |p: Profile, r: &VerdictRow| format!("{} for `{p}`", r.dimension);
    // End-to-end rows first (latency, throughput, CPU per call, wire bytes: what a caller feels),
    // then the component rows (codec time, body bytes), each family with its own Bonferroni
    // correction, so that "reaches 5x on k of n" is a statement about the whole family.
    let family = |end_to_end: bool| -> Vec<(Profile, &VerdictRow, Ratio)> {
        measured().filter(|(_, r, _)| matches!(r.kind, RowKind::Load(_)) == end_to_end).collect()
    };
    let tally = |rows: &[(Profile, &VerdictRow, Ratio)]| -> (Vec<String>, usize) {
        let n = rows.len();
        let corrected: Vec<(Profile, &VerdictRow, Ratio)> =
            rows.iter().map(|(p, r, x)| (*p, *r, x.bonferroni(n))).collect();
        let yes = corrected
            .iter()
            .filter(|(_, _, x)| x.reaches(CLAIM_FACTOR) == Reach::Yes)
            .map(|(p, r, x)| format!("{} ({})", name(*p, r), fmt_ci(x)))
            .collect();
        let possibly = corrected.iter().filter(|(_, _, x)| x.reaches(CLAIM_FACTOR) == Reach::Possibly).count();
        (yes, possibly)
    };
    let reach_phrase = |rows: &[(Profile, &VerdictRow, Ratio)]| {
        let (yes, possibly) = tally(rows);
        let straddle = if possibly > 0 {
            format!("; on {possibly} the interval straddles {CLAIM_FACTOR}x")
        } else {
            String::new()
        };
        if rows.is_empty() {
            "on no measured row (none in this run)".to_owned()
        } else if yes.is_empty() {
            format!("on none of {} measured rows{straddle}", rows.len())
        } else {
            format!("on {} of {} measured rows: {}{straddle}", yes.len(), rows.len(), yes.join("; "))
        }
    };
    let (end_to_end, components) = (family(true), family(false));
    out.push(format!(
        "End to end (latency, throughput, CPU and wire bytes per call), gRPC/protobuf reaches {CLAIM_FACTOR}x over REST/JSON {}; of the components (codec time, body bytes), {} (each family's intervals Bonferroni-corrected to 95 % over its rows).",
        reach_phrase(&end_to_end),
        reach_phrase(&components)
    ));
    if let Some(v) = headline_profile(verdicts).map(|i| &verdicts[i]) {
        let p99: Vec<(&VerdictRow, Ratio)> = v
            .rows
            .iter()
            .filter(|r| matches!(r.kind, RowKind::Load(Dimension::P99(_))))
            .filter_map(|r| r.ratio.map(|x| (r, x)))
            .collect();
        if p99.len() > 1 {
            let steps: Vec<String> = p99
                .iter()
                .map(|(r, x)| format!("{} ({})", fmt_x(x.estimate), r.point.as_deref().unwrap_or("?")))
                .collect();
            // A change of answer is read only between loads whose intervals can tell.
            let conclusive: Vec<&(&VerdictRow, Ratio)> =
                p99.iter().filter(|(_, x)| Lean::of(x) != Lean::Inconclusive).collect();
            let unclear = p99.len() - conclusive.len();
            let mut changes = Vec::new();
            for w in conclusive.windows(2) {
                let (a, b) = (Lean::of(&w[0].1), Lean::of(&w[1].1));
                if a != b {
                    changes.push(format!(
                        "from {} ({}) to {} ({})",
                        a.phrase(),
                        w[0].0.point.as_deref().unwrap_or("?"),
                        b.phrase(),
                        w[1].0.point.as_deref().unwrap_or("?")
                    ));
                }
            }
            let answer = if conclusive.is_empty() {
                "the data cannot tell whether the answer changes with load (every p99 interval is wider than 0.5x–2x: inconclusive)".to_owned()
            } else if changes.is_empty() && unclear == 0 {
                format!("the answer does not change with load ({} throughout)", Lean::of(&conclusive[0].1).phrase())
            } else if changes.is_empty() {
                format!(
                    "the answer does not change where the data can tell ({} at {} of {} loads; inconclusive at the others)",
                    Lean::of(&conclusive[0].1).phrase(),
                    conclusive.len(),
                    p99.len()
                )
            } else {
                format!("the answer changes {}", changes.join(", then "))
            };
            out.push(format!("Profile `{}`, p99 latency by load: {}; {answer}.", v.profile, steps.join(", ")));
        }
    }
    let latency: Vec<(Profile, &VerdictRow, Ratio)> = measured().filter(|(_, r, _)| is_latency(r)).collect();
    // Picked by what the intervals guarantee, never by point estimate (over ~50 rows the largest
    // estimate is mostly the noisiest): the highest lower end, and the lowest upper end.
    let most = latency.iter().max_by(|a, b| a.2.low.total_cmp(&b.2.low));
    let least = latency.iter().min_by(|a, b| a.2.high.total_cmp(&b.2.high));
    if let (Some(m), Some(l)) = (most, least) {
        out.push(format!(
            "Over every latency row, the strongest evidence of gRPC ahead (highest interval lower end) is {} ({}), and of REST/JSON ahead (lowest upper end) {} ({}).",
            name(m.0, m.1),
            fmt_ci(&m.2),
            name(l.0, l.1),
            fmt_ci(&l.2)
        ));
    }
    if verdicts.len() > 1 {
        let body: Vec<(Profile, f64)> = verdicts
            .iter()
            .filter_map(|v| {
                let r = v.rows.iter().find(|r| r.kind == RowKind::BodyBytes)?;
                Some((v.profile, r.ratio?.estimate))
            })
            .collect();
        let unloaded_p50: Vec<(Profile, Ratio)> = verdicts
            .iter()
            .filter_map(|v| {
                let r = v.rows.iter().find(|r| matches!(r.kind, RowKind::Load(Dimension::P50(_))))?;
                Some((v.profile, r.ratio?))
            })
            .collect();
        let extreme =
            |v: &[(Profile, f64)], max: bool| v.iter().copied().reduce(|a, b| if (b.1 > a.1) == max { b } else { a });
        if let (Some(hi), Some(lo)) = (extreme(&body, true), extreme(&body, false)) {
            let p50 =
                unloaded_p50.iter().map(|(p, x)| format!("`{p}` {}", fmt_x(x.estimate))).collect::<Vec<_>>().join(", ");
            out.push(format!(
                "By payload shape: protobuf bodies are {} smaller than JSON for `{}` and {} for `{}`; the unloaded p50 ratio by profile is {}.",
                fmt_x(hi.1), hi.0, fmt_x(lo.1), lo.0, if p50.is_empty() { "not measured".into() } else { p50 }
            ));
        }
    }
    if let Some(v) = headline_profile(verdicts).map(|i| &verdicts[i]) {
        if let Some(line) = v.decomposition.first().and_then(explain_gap) {
            out.push(line);
        }
    }
    out.truncate(HEADLINE_SENTENCES);
    out
}

/// The most sentences the headline holds.
pub const HEADLINE_SENTENCES: usize = 5;
