//! The verdict on "is gRPC 5x faster than JSON?": paired ratios per dimension, the decomposition
//! into format, HTTP version and framing, and the conclusion sentences generated from them.
//!
//! A ratio always reads "how many times better gRPC (protobuf) is": the REST/JSON figure over the
//! gRPC figure for lower-is-better dimensions (time, bytes, CPU), inverted for throughput.
//! Repetition `i` of one arm is paired with repetition `i` of the other (same scenario, profile
//! and load), the ratio is taken per pair, and min / median / max of those ratios are reported.

use crate::load::scenario::LoadSpec;
use crate::payload::Profile;
use crate::results::{ArmResult, ArmStatus, Measurement, PointResult};
use crate::transport::registry::claim;

/// The factor the claim names.
pub const CLAIM_FACTOR: f64 = 5.0;

/// Which way a dimension improves.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Direction {
    /// Time, bytes, CPU.
    LowerIsBetter,
    /// Throughput.
    HigherIsBetter,
}

/// Where a ratio's interval comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SpreadSource {
    /// Paired repetitions of a load run: a 95 % t-interval on the mean of the log-ratios.
    Repetitions,
    /// criterion's 95 % confidence intervals of the two medians (one bench run per arm).
    ConfidenceInterval,
    /// A deterministic count (body bytes): no spread.
    Exact,
}

/// A ratio "times better for gRPC": a point estimate with its 95 % confidence interval.
///
/// For paired repetitions the estimate is the **geometric mean** of the per-pair ratios (exp of
/// the mean log-ratio) and the interval is a Student t-interval on the log-ratios, mapped back.
/// Log-ratios add along a chain of arms, so the geometric means of the decomposition's factors
/// multiply to the total's exactly (over the same pairs), which medians do not. `f64::INFINITY`
/// means the worse arm scored zero while the better one did not.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Ratio {
    /// Point estimate: geometric mean of the paired ratios (criterion: ratio of medians).
    pub estimate: f64,
    /// Lower end of the 95 % confidence interval (0 when there is a single pair).
    pub low: f64,
    /// Upper end of the 95 % confidence interval (∞ when there is a single pair).
    pub high: f64,
    /// Smallest paired ratio.
    pub min: f64,
    /// Largest paired ratio.
    pub max: f64,
    /// Pairs the ratio was taken over.
    pub pairs: usize,
    /// Where the interval comes from.
    pub source: SpreadSource,
}

/// Whether a ratio reaches the claimed factor, judged on its confidence interval.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reach {
    /// The whole interval is at or above the factor.
    Yes,
    /// The interval straddles the factor: the data cannot tell.
    Possibly,
    /// The whole interval is below the factor.
    No,
}

impl Reach {
    /// Short label for tables.
    pub fn label(self) -> &'static str {
        match self {
            Reach::Yes => "yes",
            Reach::Possibly => "possibly (interval straddles it)",
            Reach::No => "no",
        }
    }
}

/// Confidence level of every interval in the verdict.
pub const CONFIDENCE: f64 = 0.95;

impl Ratio {
    /// A single exact ratio.
    pub fn exact(value: f64) -> Self {
        Self { estimate: value, low: value, high: value, min: value, max: value, pairs: 1, source: SpreadSource::Exact }
    }

    /// Whether the ratio reaches `factor`: by the interval's lower end, not its estimate.
    pub fn reaches(&self, factor: f64) -> Reach {
        if self.low >= factor {
            Reach::Yes
        } else if self.high >= factor {
            Reach::Possibly
        } else {
            Reach::No
        }
    }

    /// Whether the interval contains 1: no measurable difference between the two arms.
    pub fn no_measurable_difference(&self) -> bool {
        self.low <= 1.0 && self.high >= 1.0
    }

    /// Whether the two intervals share no value.
    pub fn separated_from(&self, other: &Ratio) -> bool {
        self.low > other.high || other.low > self.high
    }
}

/// The mean of `log_ratios` with its two-sided [`CONFIDENCE`] t-interval, on the log scale.
fn t_interval(log_ratios: &[f64]) -> (f64, f64, f64) {
    use statrs::distribution::{ContinuousCDF, StudentsT};
    let n = log_ratios.len() as f64;
    let mean = log_ratios.iter().sum::<f64>() / n;
    if log_ratios.len() < 2 {
        return (mean, f64::NEG_INFINITY, f64::INFINITY);
    }
    let variance = log_ratios.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / (n - 1.0);
    let t = StudentsT::new(0.0, 1.0, n - 1.0).map_or(f64::INFINITY, |d| d.inverse_cdf(0.5 + CONFIDENCE / 2.0));
    let half = t * (variance / n).sqrt();
    (mean, mean - half, mean + half)
}

/// The paired ratio of `rest_side[i]` over `grpc_side[i]` (inverted for higher-is-better): its
/// geometric mean and 95 % interval over the pairs where both sides were measured (pairs where
/// both are zero are skipped); `None` when no pair is left.
pub fn paired_ratio(direction: Direction, rest_side: &[Option<f64>], grpc_side: &[Option<f64>]) -> Option<Ratio> {
    let ratios: Vec<f64> = rest_side
        .iter()
        .zip(grpc_side)
        .filter_map(|(r, g)| {
            let (r, g) = ((*r)?, (*g)?);
            let (num, den) = match direction {
                Direction::LowerIsBetter => (r, g),
                Direction::HigherIsBetter => (g, r),
            };
            match (num, den) {
                (n, d) if d > 0.0 => Some(n / d),
                (n, _) if n > 0.0 => Some(f64::INFINITY),
                _ => None,
            }
        })
        .collect();
    if ratios.is_empty() {
        return None;
    }
    let min = ratios.iter().copied().fold(f64::INFINITY, f64::min);
    let max = ratios.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    let pairs = ratios.len();
    let source = SpreadSource::Repetitions;
    if max.is_infinite() || min <= 0.0 {
        // An unbounded (or zero) pair has no logarithm: say so rather than average it away.
        return Some(Ratio { estimate: max, low: min, high: f64::INFINITY, min, max, pairs, source });
    }
    let logs: Vec<f64> = ratios.iter().map(|r| r.ln()).collect();
    let (mean, low, high) = t_interval(&logs);
    Some(Ratio { estimate: mean.exp(), low: low.exp(), high: high.exp(), min, max, pairs, source })
}

/// A ratio from two criterion estimates (median and its 95 % interval), REST side over gRPC side
/// (both lower-is-better times): the interval is the widest ratio the two intervals allow.
pub fn interval_ratio(
    rest_side: crate::criterion_data::Estimate,
    grpc_side: crate::criterion_data::Estimate,
) -> Option<Ratio> {
    if grpc_side.median_ns <= 0.0 || grpc_side.median_lower_ns <= 0.0 {
        return None;
    }
    let (low, high) =
        (rest_side.median_lower_ns / grpc_side.median_upper_ns, rest_side.median_upper_ns / grpc_side.median_lower_ns);
    Some(Ratio {
        estimate: rest_side.median_ns / grpc_side.median_ns,
        low,
        high,
        min: low,
        max: high,
        pairs: 1,
        source: SpreadSource::ConfidenceInterval,
    })
}

/// A measured dimension of a load run, read per repetition from one arm.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Dimension {
    /// Median latency at a load point.
    P50(LoadSpec),
    /// 99th percentile latency at a load point (corrected in open loop).
    P99(LoadSpec),
    /// Wire bytes per call, all hops and both directions, at a load point.
    WireBytes(LoadSpec),
    /// CPU µs per call, every role (client, server, broker, unattributed), at a load point.
    Cpu(LoadSpec),
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

    /// The load point it is read at (`None` for the sweep).
    pub fn load(self) -> Option<LoadSpec> {
        match self {
            Dimension::P50(l) | Dimension::P99(l) | Dimension::WireBytes(l) | Dimension::Cpu(l) => Some(l),
            Dimension::MaxThroughput => None,
        }
    }

    /// Unit of the raw figures.
    pub fn unit(self) -> &'static str {
        match self {
            Dimension::P50(_) | Dimension::P99(_) | Dimension::Cpu(_) => "µs",
            Dimension::WireBytes(_) => "B/call",
            Dimension::MaxThroughput => "calls/s",
        }
    }

    /// Human name, with the load it was read at.
    pub fn name(self) -> String {
        match self {
            Dimension::P50(l) => format!("p50 latency ({})", l.label()),
            Dimension::P99(l) => format!("p99 latency ({})", l.label()),
            Dimension::WireBytes(l) => format!("wire bytes per call ({})", l.label()),
            Dimension::Cpu(l) => format!("CPU per call, all roles ({})", l.label()),
            Dimension::MaxThroughput => "max throughput under the p99 SLO (sweep)".into(),
        }
    }

    /// The results.json field the figure comes from, for traceability.
    pub fn field(self) -> &'static str {
        match self {
            Dimension::P50(_) => "points[].repetitions[].latency.p50_us",
            Dimension::P99(_) => "points[].repetitions[].latency.p99_us",
            Dimension::WireBytes(_) => "points[].repetitions[].wire.hops[].{sent,received}_bytes_per_call",
            Dimension::Cpu(_) => "points[].repetitions[].cpu.*_us_per_call",
            Dimension::MaxThroughput => "sweep.repetitions[].max_sustainable_rate_per_s",
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
                // A capacity the client limited is the generator's, not the transport's, and a
                // search that found none has no figure: neither becomes a number here.
                let sweep = arm.sweep.as_ref()?;
                Some(
                    sweep
                        .repetitions
                        .iter()
                        .map(|r| r.max_sustainable_rate_per_s.filter(|_| r.bottleneck.as_deref() != Some("client")))
                        .collect(),
                )
            }
            Dimension::P50(l) | Dimension::P99(l) | Dimension::WireBytes(l) | Dimension::Cpu(l) => {
                let point = point_at(arm, &l)?;
                Some(point.repetitions.iter().map(|m| self.of_measurement(m)).collect())
            }
        }
    }

    fn of_measurement(self, m: &Measurement) -> Option<f64> {
        let answered = m.accounting.ok > 0;
        match self {
            Dimension::P50(_) => answered.then_some(m.latency.p50_us),
            Dimension::P99(_) => answered.then_some(m.latency.p99_us),
            Dimension::WireBytes(_) => {
                m.wire.as_ref().map(|w| w.hops.iter().map(|h| h.sent_bytes_per_call + h.received_bytes_per_call).sum())
            }
            Dimension::Cpu(_) => cpu_total_us_per_call(m),
            Dimension::MaxThroughput => None,
        }
    }

    /// Whether any repetition behind the figure was flagged generator-bound (for a capacity: the
    /// client was its bottleneck).
    pub fn generator_bound(self, arm: &ArmResult) -> bool {
        match self {
            Dimension::MaxThroughput => arm
                .sweep
                .as_ref()
                .is_some_and(|s| s.repetitions.iter().any(|r| r.bottleneck.as_deref() == Some("client"))),
            Dimension::P50(l) | Dimension::P99(l) | Dimension::WireBytes(l) | Dimension::Cpu(l) => {
                point_at(arm, &l).is_some_and(|p| p.repetitions.iter().any(|m| m.generator_bound))
            }
        }
    }
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
}

impl<'a> Section<'a> {
    /// The arm called `name`, if the run had it.
    pub fn arm(&self, name: &str) -> Option<&'a ArmResult> {
        self.arms.iter().copied().find(|a| a.transport.name() == name)
    }

    /// The ratio `rest_side` over `grpc_side` for `dim` (see [`paired_ratio`]).
    pub fn ratio(&self, dim: Dimension, rest_side: &str, grpc_side: &str) -> Option<Ratio> {
        let r = dim.samples(self.arm(rest_side)?)?;
        let g = dim.samples(self.arm(grpc_side)?)?;
        paired_ratio(dim.direction(), &r, &g)
    }

    /// The load-run dimensions of the verdict: unloaded p50 and p99, p99 at each common open
    /// rate, wire bytes (unloaded point), CPU (first open point, else unloaded), sweep throughput.
    pub fn dimensions(&self) -> Vec<Dimension> {
        let mut dims = Vec::new();
        let base = unloaded(&self.loads);
        if let Some(l) = base {
            dims.extend([Dimension::P50(l), Dimension::P99(l)]);
        }
        let open = open_loads(&self.loads);
        dims.extend(open.iter().filter(|l| Some(**l) != base).map(|l| Dimension::P99(*l)));
        if let Some(l) = base {
            dims.push(Dimension::WireBytes(l));
        }
        if let Some(l) = open.first().copied().or(base) {
            dims.push(Dimension::Cpu(l));
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
        name: "HTTP/1.1 → HTTP/2 (REST, JSON): rest / rest-h2",
        numerator: claim::REST,
        denominator: claim::REST_H2,
        short: "the HTTP version (1.1 vs 2)",
    },
    Factor {
        name: "plain HTTP/2 → gRPC framing (JSON): rest-h2 / grpc-json",
        numerator: claim::REST_H2,
        denominator: claim::GRPC_JSON,
        short: "gRPC framing over plain HTTP/2",
    },
    Factor {
        name: "JSON → protobuf under gRPC: grpc-json / grpc",
        numerator: claim::GRPC_JSON,
        denominator: claim::GRPC,
        short: "the body format (JSON vs protobuf)",
    },
];

/// The cross-check of the format effect on the other transport.
pub const FORMAT_UNDER_HTTP1: Factor = Factor {
    name: "JSON → protobuf under HTTP/1.1: rest / rest-proto",
    numerator: claim::REST,
    denominator: claim::REST_PROTO,
    short: "the body format under HTTP/1.1",
};

/// The whole claim: REST/JSON over gRPC/protobuf.
pub const TOTAL: Factor =
    Factor { name: "total: rest / grpc", numerator: claim::REST, denominator: claim::GRPC, short: "REST/JSON vs gRPC" };

/// What a verdict row measures.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum RowKind {
    /// Codec encode time (criterion).
    Encode,
    /// Codec decode time (criterion).
    Decode,
    /// Body bytes, uncompressed or gzip (computed).
    BodyBytes,
    /// A load-run dimension.
    Load(Dimension),
    /// criterion's unloaded latency, when the run has no load point.
    CriterionLatency,
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
    let (rest, grpc) = (section.arm(claim::REST), section.arm(claim::GRPC));
    let mut flags = Vec::new();
    for arm in [rest, grpc].into_iter().flatten() {
        if dim.generator_bound(arm) {
            flags.push(format!("{} generator-bound in some repetition", arm.transport));
        }
    }
    let ratio = section.ratio(dim, claim::REST, claim::GRPC);
    if dim == Dimension::MaxThroughput {
        for arm in [rest, grpc].into_iter().flatten() {
            let missing = dim.samples(arm).map_or(0, |v| v.iter().filter(|x| x.is_none()).count());
            if missing > 0 {
                flags.push(format!(
                    "{}: {missing} search(es) without a transport capacity (client-bound, or no rate met the SLO) left out",
                    arm.transport
                ));
            }
        }
    }
    let field = dim.field();
    let field = match dim.load() {
        Some(l) => field.replacen("points[]", &format!("points[load={}]", l.label()), 1),
        None => field.to_string(),
    };
    VerdictRow {
        kind: RowKind::Load(dim),
        dimension: dim.name(),
        basis: format!("results.json arms {}/{{rest,grpc}}/{}: {field}", section.scenario, section.profile),
        unit: dim.unit(),
        rest: median_of(dim, rest),
        grpc: median_of(dim, grpc),
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
/// lower end at 5x or above, and an interval that contains 1x reads "no measurable difference".
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
    add("No measurable difference (the interval contains 1x) on", &same);
    add("REST/JSON is measurably better (the interval lies below 1x) on", &rest_better);
    add("Not measured in this run", &missing);
    out.extend(codec_share(rows));
    out.extend(decomposition.iter().filter_map(explain_gap));
    out
}

/// How much of REST/JSON's unloaded p50 the JSON codec itself takes: the most a faster codec
/// could save.
fn codec_share(rows: &[VerdictRow]) -> Option<String> {
    let find = |kind: fn(&RowKind) -> bool| rows.iter().find(|r| kind(&r.kind));
    let encode = find(|k| *k == RowKind::Encode)?;
    let decode = find(|k| *k == RowKind::Decode)?;
    let p50 = find(|k| matches!(k, RowKind::Load(Dimension::P50(_))))?;
    let json_us = encode.rest? + decode.rest?;
    let protobuf_us = encode.grpc? + decode.grpc?;
    let rest_p50_us = p50.rest?;
    Some(format!(
        "The codec alone (encode + decode of the request body) takes {json_us:.2} µs with JSON and {protobuf_us:.2} µs with protobuf: {:.1} % of REST/JSON's {} of {:.0} µs, so a faster codec can save at most that share of a call.",
        100.0 * json_us / rest_p50_us,
        p50.dimension,
        rest_p50_us
    ))
}

/// "gRPC is 2.1x better than REST/JSON (95 % CI ...)", the reverse below 1x, or "no measurable
/// difference" when the interval contains 1x.
fn who_wins(ratio: &Ratio) -> String {
    if ratio.no_measurable_difference() {
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
