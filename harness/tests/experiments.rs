//! The timed experiments against real servers and the real RabbitMQ (harness/scripts/test.sh
//! starts it), with answers known before they run. Outage:
//!
//! - a server frozen for 1 s under a steady open-loop load answers every call, the slowest about
//!   1 s late (the calls intended as it froze wait the whole outage);
//! - a killed direct server fails the calls sent while it is down, and the caller is told;
//! - a durable RabbitMQ worker killed and restarted loses nothing: every request is answered
//!   exactly once (idempotency-key accounting on the client);
//! - a transient (auto-ack) worker killed with requests in hand loses them, and the accounting
//!   sees it (so a ledger that always said 0 would fail here).
//!
//!
//! Burst: a durable RabbitMQ worker of known capacity (one request at a time, 10 ms each) holds
//! a peak of 300/s in the broker's queue, and the queue's depth and drain follow from the rates.
//!
//! One experiment at a time (each owns the machine's two cores while it runs).

use std::path::PathBuf;
use std::sync::Mutex;

use paybench::experiment::{self, spec::ExperimentSpec, ExperimentContext, Progress};
use paybench::results::experiment::{ArmTimeline, OutageSummary};
use paybench::results::ArmStatus;
use paybench::transport::Arm;

static MACHINE: Mutex<()> = Mutex::new(());

struct Print;

impl Progress for Print {
    fn line(&self, text: &str) {
        eprintln!("{text}");
    }
}

/// Runs one outage on one arm: `events` in the scenario's TOML syntax, 200 calls/s, a 4 s
/// timeline, the worker's simulated service time `service_time_us`.
fn outage(
    arm: &str,
    namespace: &str,
    events: &str,
    timeout_ms: u64,
    service_time_us: u64,
) -> (ArmTimeline, OutageSummary) {
    outage_with_load(arm, namespace, events, timeout_ms, service_time_us, "load = { rate_per_s = 200 }\n")
}

/// [`outage`] with its load given in the scenario's TOML syntax (`load` and `[[phases]]`), which
/// must offer 800 calls over the 4 s.
fn outage_with_load(
    arm: &str,
    namespace: &str,
    events: &str,
    timeout_ms: u64,
    service_time_us: u64,
    load: &str,
) -> (ArmTimeline, OutageSummary) {
    let body = format!("duration_ms = 4000\nevents = {events}\n{load}");
    let timeline = experiment("outage", arm, namespace, &body, timeout_ms, service_time_us);
    assert_eq!(timeline.accounting.sent, 800, "200/s for 4 s");
    let summary = timeline.outage.clone().unwrap();
    eprintln!("{summary:?}");
    (timeline, summary)
}

/// Runs one experiment of `kind` on one arm, its `body` in the scenario's TOML syntax (duration,
/// load, phases, events), with the workers' simulated service time `service_time_us`. Checks
/// what every experiment must show: the arm ran, each event took effect on time, and every call
/// is accounted for.
fn experiment(
    kind: &str,
    arm: &str,
    namespace: &str,
    body: &str,
    timeout_ms: u64,
    service_time_us: u64,
) -> ArmTimeline {
    let _machine = MACHINE.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
    let arm = Arm::parse(arm).unwrap();
    let spec: ExperimentSpec = toml::from_str(&format!(
        "kind = \"{kind}\"\nname = \"{namespace}\"\narms = [\"{arm}\"]\nprofile = \"small\"\nwarmup_ms = 500\ntimeout_ms = {timeout_ms}\n{body}"
    ))
    .unwrap();
    spec.validate(std::path::Path::new("test"), 0, &[arm.name().to_owned()]).unwrap();
    experiment::check(&spec, std::path::Path::new("test"), 0).unwrap();
    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(1).enable_all().build().unwrap();
    let ctx = ExperimentContext {
        client: rt.handle().clone(),
        serve_program: PathBuf::from(env!("CARGO_BIN_EXE_paybench")),
        serve_args: Vec::new(),
        service_time_us,
        service_busy_us: 0,
        brokers: paybench::brokers::endpoints(|var| std::env::var(var).ok()),
        namespace: namespace.to_owned(),
        log_dir: std::env::temp_dir().join(format!("paybench-experiment-test-{}", std::process::id())),
        scenario_timeout_ms: timeout_ms,
        seed: paybench::payload::DEFAULT_SEED,
    };
    let result = experiment::run(&ctx, "test", &spec, std::slice::from_ref(&arm), &Print).unwrap();
    let timeline = result.arms.into_iter().next().unwrap();
    assert_eq!(timeline.status, ArmStatus::Ran, "{:?}", timeline.status);
    for event in &timeline.events {
        assert!(event.took_effect, "{event:?}");
        let late_ms = event.actual_ms.unwrap() - event.at_ms as f64;
        assert!((0.0..200.0).contains(&late_ms), "event carried out {late_ms} ms late: {event:?}");
    }
    assert!(timeline.accounting.balances(), "{:?}", timeline.accounting);
    timeline
}

const STOP_1S: &str =
    "[{ at_ms = 1000, action = \"stop\", target = \"server\" }, { at_ms = 2000, action = \"continue\", target = \"server\" }]";
const KILL_1S: &str =
    "[{ at_ms = 1000, action = \"kill\", target = \"server\" }, { at_ms = 2000, action = \"restart\", target = \"server\" }]";

#[test]
fn a_frozen_server_answers_every_call_the_slowest_one_outage_late() {
    let (t, o) = outage("grpc", "outage-test-stop", STOP_1S, 10_000, 0);
    assert_eq!((o.failed, o.timed_out), (0, 0));
    assert_eq!(t.accounting.ok, 800);
    // The known answer: the call intended as the server froze waited the whole second.
    let max_ms = o.max_latency_us.unwrap() / 1e3;
    assert!((900.0..=1300.0).contains(&max_ms), "slowest answer {max_ms} ms, expected about 1000 ms");
    assert!(o.recovered_after_ms.is_some_and(|ms| ms < 1500.0), "{o:?}");
}

#[test]
fn a_killed_direct_server_fails_the_calls_sent_while_it_was_down() {
    let (t, o) = outage("grpc", "outage-test-kill", KILL_1S, 10_000, 0);
    // 1 s down at 200/s: about 200 calls failed, each told to the caller at once.
    assert!((150..=260).contains(&o.failed), "{o:?}");
    assert_eq!(o.timed_out, 0);
    assert_eq!(t.accounting.ok + o.failed, 800);
    assert!(o.max_latency_us.unwrap() < 500_000.0, "a refused connection fails fast: {o:?}");
}

#[test]
fn a_killed_durable_worker_loses_nothing() {
    let (t, o) = outage("amqp-durable", "outage-test-durable", KILL_1S, 10_000, 0);
    assert!(o.promises_durability);
    assert_eq!((o.lost, o.failed, o.timed_out), (0, 0, 0), "{o:?}");
    assert_eq!(t.accounting.ok, 800, "every request answered");
    assert_eq!(t.unanswered, Some(0));
    // The requests sent while no worker ran waited in the queue: about 1 s.
    let max_ms = o.max_latency_us.unwrap() / 1e3;
    assert!(max_ms >= 800.0, "slowest answer {max_ms} ms: the outage did not hold requests");
    // Known answer of the backlog, read from RabbitMQ: 1 s without a worker at 200/s leaves about
    // 200 requests in the queue; before the kill the workers keep it near 0.
    assert!(t.backlog_source.as_deref().is_some_and(|s| s.starts_with("RabbitMQ: messages ready")), "{t:?}");
    let backlog = &t.timeline.backlog;
    assert_eq!(backlog.len(), t.timeline.len());
    let peak = t.timeline.peak_backlog().unwrap();
    assert!((150..=260).contains(&peak), "peak backlog {peak}: {backlog:?}");
    let before: u64 = backlog[..9].iter().flatten().copied().max().unwrap();
    assert!(before <= 20, "backlog before the kill {before}: {backlog:?}");
}

/// Load in phases: 100/s, then 300/s from 1 s, then 100/s from 3 s, on a server frozen from 1 s
/// to 2 s. Known answer: each 100 ms bucket is offered 10, 30 and 10 calls in turn (the schedule
/// is by intended time, whatever the server does), 800 in all.
#[test]
fn load_in_phases_offers_each_rate_in_its_buckets() {
    let load = "load = { rate_per_s = 100 }\n[[phases]]\nfrom_ms = 1000\nload = { rate_per_s = 300 }\n[[phases]]\nfrom_ms = 3000\nload = { rate_per_s = 100 }\n";
    let (t, o) = outage_with_load("grpc", "outage-test-phases", STOP_1S, 10_000, 0, load);
    assert_eq!((o.failed, o.timed_out), (0, 0));
    let rates: Vec<(u64, f64)> = t.offered_phases.iter().map(|p| (p.from_ms, p.rate_per_s)).collect();
    assert_eq!(rates, [(0, 100.0), (1000, 300.0), (3000, 100.0)]);
    let offered = &t.timeline.offered;
    assert_eq!(offered.len(), 40);
    let sum = |r: std::ops::Range<usize>| offered[r].iter().sum::<u64>();
    assert_eq!((sum(0..10), sum(10..30), sum(30..40)), (100, 600, 100), "{offered:?}");
    for (i, n) in offered.iter().enumerate() {
        let expected = if (10..30).contains(&i) { 30 } else { 10 };
        assert!(n.abs_diff(expected) <= 1, "bucket {i}: {n} offered, expected {expected}: {offered:?}");
    }
    assert!(t.timeline.backlog.is_empty() && t.backlog_source.is_none(), "a direct arm has no broker backlog");
}

#[test]
fn a_killed_transient_worker_loses_the_requests_it_held_and_the_ledger_sees_them() {
    // 50 ms of service time at 200/s: about 10 requests in the workers' hands when it dies,
    // taken off the queue with auto-ack, so gone. A 3 s deadline bounds the wait for them.
    let (t, o) = outage("amqp", "outage-test-transient", KILL_1S, 3000, 50_000);
    assert!(!o.promises_durability);
    assert!((1..=128).contains(&o.lost), "lost {}: {o:?}", o.lost);
    assert_eq!(t.unanswered, Some(o.lost));
    assert_eq!(o.timed_out, o.lost, "each lost request timed out, none was answered late");
    assert_eq!(t.accounting.ok + o.failed + o.timed_out, 800);
}

/// A queue group of two durable worker processes: both killed for 1 s, both restarted, then the
/// group scaled to three. Known answer: nothing lost, and each event acts on every process.
#[test]
fn a_queue_group_is_killed_restarted_and_scaled_as_one() {
    let events = "[{ at_ms = 1000, action = \"kill\", target = \"server\" }, { at_ms = 2000, action = \"restart\", target = \"server\" }, { at_ms = 3000, action = \"scale\", target = \"server\", to = 3 }]";
    let load = "processes = 2\nload = { rate_per_s = 200 }\n";
    let (t, o) = outage_with_load("amqp-durable", "outage-test-group", events, 10_000, 0, load);
    assert_eq!((o.lost, o.failed, o.timed_out), (0, 0, 0), "{o:?}");
    assert!(t.server.contains("2 process(es)"), "{}", t.server);
    let pids_in =
        |detail: &str| detail.split_once('[').map_or(0, |(_, rest)| rest.split(']').next().unwrap().split(',').count());
    assert_eq!(pids_in(&t.events[0].detail), 2, "the kill reached both: {:?}", t.events[0]);
    assert!(t.events[1].detail.contains("replaced by pids"), "{:?}", t.events[1]);
    assert!(t.events[2].detail.starts_with("2 to 3 processes"), "{:?}", t.events[2]);
    assert_eq!(t.events[2].detail.rsplit_once('[').unwrap().1.split(',').count(), 3, "{:?}", t.events[2]);
}

/// Two `grpc` backends behind the L4 balancer (HAProxy, TCP, round robin per connection), both
/// frozen for 1 s. Known answers: the gRPC client multiplexes every call over one HTTP/2
/// connection, so the balancer sends all of them to one backend (the claim "an L4 load balancer
/// pins gRPC to one backend"): one backend does the work and the other's CPU stays near zero.
/// And the freeze reaches both (events act on every backend, never on the balancer), so every
/// call is still answered, the slowest about 1 s late.
#[test]
fn an_l4_balancer_pins_a_grpc_connection_to_one_backend() {
    let load = "processes = 2\nload = { rate_per_s = 200 }\n";
    let (t, o) = outage_with_load("grpc", "outage-test-balanced", STOP_1S, 10_000, 0, load);
    assert_eq!((o.failed, o.timed_out), (0, 0), "{o:?}");
    assert_eq!(t.accounting.ok, 800);
    assert!(t.server.contains("behind HAProxy") && t.server.contains("L4 balancer"), "{}", t.server);
    let cpu: Vec<f64> = t.backend_cpu_ms.iter().map(|c| c.expect("no backend restarted")).collect();
    eprintln!("backend CPU over the timeline, ms: {cpu:?}; {}", t.server);
    assert_eq!(cpu.len(), 2, "{:?}", t.backend_cpu_ms);
    let (busy, idle) = (cpu[0].max(cpu[1]), cpu[0].min(cpu[1]));
    assert!(busy >= 10.0, "the busy backend used {busy} ms of CPU for 800 calls: {cpu:?}");
    assert!(idle <= 0.1 * busy, "both backends worked ({cpu:?} ms): the connection was not pinned");
    let max_ms = o.max_latency_us.unwrap() / 1e3;
    assert!((900.0..=1300.0).contains(&max_ms), "slowest answer {max_ms} ms, expected about 1000 ms");
}

/// A burst on a durable RabbitMQ worker that serves one request at a time (one worker
/// connection, prefetch 1) for 10 ms each: a capacity C of at most 100/s, about 85/s with the
/// confirm and ack round trips. 20/s for 1 s, 300/s for 1 s, then 10/s for 4.5 s. Known answers:
/// the queue grows by 300 − C a second through the burst, so it peaks near 200–230 (read from
/// RabbitMQ); it drains at C − 10 a second, in about 2.2–3.8 s; the burst's last calls wait that
/// queue out (p99 during 1.5–4 s, before it the service time); with a 10 s deadline every call is
/// answered and none is lost.
#[test]
fn a_broker_queue_holds_a_burst_and_drains_it_at_the_workers_pace() {
    let arm = Arm::parse("amqp-durable-w1-prefetch1").unwrap();
    let body = "duration_ms = 6500\nload = { rate_per_s = 20 }\n[[phases]]\nfrom_ms = 1000\nload = { rate_per_s = 300 }\n[[phases]]\nfrom_ms = 2000\nload = { rate_per_s = 10 }\n";
    let t = experiment("burst", arm.name(), "burst-test-amqp", body, 10_000, 10_000);
    let b = t.burst.clone().unwrap();
    eprintln!("{b:?}");
    assert_eq!((b.burst_from_ms, b.burst_to_ms), (1000, 2000));
    assert_eq!(b.sent, 20 + 300 + 45, "20/s for 1 s, 300/s for 1 s, 10/s for 4.5 s");
    assert_eq!((b.answered, b.failed, b.timed_out), (b.sent, 0, 0), "{b:?}");
    assert_eq!(t.unanswered, Some(0));
    let before = b.backlog_before.unwrap();
    assert!(before <= 3, "backlog before the burst {before}: {:?}", t.timeline.backlog);
    let peak = b.peak_backlog.unwrap();
    assert!((170..=240).contains(&peak), "peak backlog {peak}: {:?}", t.timeline.backlog);
    let drained_s = b.drained_after_ms.unwrap() / 1e3;
    assert!((1.8..=4.2).contains(&drained_s), "drained {drained_s} s after the burst: {:?}", t.timeline.backlog);
    let during_s = b.p99_during_us.unwrap() / 1e6;
    assert!((1.5..=4.0).contains(&during_s), "p99 during the burst {during_s} s");
    let before_ms = b.p99_before_us.unwrap() / 1e3;
    assert!((9.0..=60.0).contains(&before_ms), "p99 before the burst {before_ms} ms");
}

/// A queue group of durable RabbitMQ workers that each serve one request at a time for 10 ms
/// (about 77/s each, as the burst test reads), offered 150/s: with one process a backlog grows by
/// about 70/s; at 3 s the group is scaled to four. Known answers: the rate served before is one
/// worker's (60–95/s); after, up to four times it (2.5–4.5x, the workers wait on the service time,
/// not on the cores); the 250 or so requests waiting at the scale (3.5 s of 70/s, the warm-up's
/// included) are gone in 0.5–3 s; nothing is lost.
#[test]
fn a_queue_group_scaled_from_one_to_four_workers_serves_about_four_times_the_rate() {
    let arm = Arm::parse("amqp-durable-w1-prefetch1").unwrap();
    let body = "duration_ms = 7000\nload = { rate_per_s = 150 }\nevents = [{ at_ms = 3000, action = \"scale\", target = \"server\", to = 4 }]\n";
    let t = experiment("scale-workers", arm.name(), "scale-test-amqp", body, 10_000, 10_000);
    let s = t.scale.clone().unwrap();
    eprintln!("{s:?}; backlog {:?}", t.timeline.backlog);
    assert_eq!((s.processes_before, s.processes_after), (1, 4));
    assert_eq!(s.lost, Some(0));
    let depth = s.backlog_at_scale.unwrap();
    assert!((180..=330).contains(&depth), "backlog at the scale {depth}");
    let before = s.served_before_per_s.unwrap();
    assert!((60.0..=95.0).contains(&before), "served before {before}/s");
    let after = s.served_after_per_s.unwrap();
    assert!((2.5..=4.5).contains(&(after / before)), "served after {after}/s, before {before}/s");
    let emptied_s = s.emptied_after_ms.unwrap() / 1e3;
    assert!((0.5..=3.0).contains(&emptied_s), "emptied {emptied_s} s after the scale");
}

/// One "payment authorized" event to 1, then 3 services, on every family's publish/subscribe seam,
/// 100 events/s for 1 s, each service waiting 20 ms per event before it counts it processed.
/// Known answers: every service receives every event once (100 × N deliveries, none missing or
/// twice); the time to the last service is the 20 ms wait plus the path (20–45 ms at p50); a
/// broker's producer hands off without waiting for it (below 20 ms at p50), a direct producer
/// waits for its N answers (at least 20 ms); the CPU per event is read.
#[test]
fn a_fan_out_reaches_every_service_once_and_times_the_last_one() {
    for arm in ["nats", "amqp", "amqp-durable", "kafka", "grpc"] {
        let body = "duration_ms = 1000\nload = { rate_per_s = 100 }\nconsumers = [1, 3]\n";
        let t = experiment("fan-out", arm, &format!("fan-out-test-{arm}"), body, 10_000, 20_000);
        let f = t.fan_out.clone().unwrap();
        eprintln!("{arm}: {f:?}");
        assert_eq!(f.steps.iter().map(|s| s.consumers).collect::<Vec<_>>(), [1, 3], "{arm}");
        for s in &f.steps {
            let n = u64::from(s.consumers);
            assert_eq!((s.events, s.publish_failed), (100, 0), "{arm}: {s:?}");
            assert_eq!((s.delivered, s.missing, s.duplicates), (100 * n, 0, 0), "{arm}: {s:?}");
            let last_ms = s.last_consumer_p50_us.unwrap() / 1e3;
            assert!((20.0..45.0).contains(&last_ms), "{arm}: N={n}: last service p50 {last_ms} ms");
            let producer_ms = s.producer_p50_us.unwrap() / 1e3;
            if t.arm.broker.is_some() {
                assert!(producer_ms < 20.0, "{arm}: a broker's producer hands off: p50 {producer_ms} ms");
            } else {
                assert!(producer_ms >= 20.0, "{arm}: a direct producer waits for the answers: {producer_ms} ms");
            }
            assert!(s.cpu_us_per_event.is_some_and(|us| us > 0.0), "{arm}: {s:?}");
        }
    }
}

/// Known answers: Kafka keeps the history, so a new group reads exactly the last 2000 of 4000
/// events, in order; RabbitMQ's classic queues do not, and the record says so with nothing read.
#[test]
fn a_kafka_replay_reads_exactly_the_last_m_events_and_rabbitmq_says_it_cannot() {
    let body = "duration_ms = 1000\nload = { rate_per_s = 1 }\nreplay_events = 2000\n";
    let t = experiment("replay", "kafka", "replay-test-kafka", body, 10_000, 0);
    let r = t.replay.clone().unwrap();
    eprintln!("{r:?}");
    assert!(r.supported && r.in_order, "{r:?}");
    assert_eq!((r.published, r.events, r.read), (4000, 2000, 2000));
    assert!(r.rate_per_s.is_some_and(|rate| rate > 0.0), "{r:?}");
    let t = experiment("replay", "amqp", "replay-test-amqp", body, 10_000, 0);
    let r = t.replay.clone().unwrap();
    assert!(!r.supported && r.how.contains("classic queues"), "{r:?}");
    assert_eq!((r.read, r.rate_per_s), (0, None));
}

/// The direct equivalent of scaling workers: one grpc backend doing 1 ms of CPU work per call
/// (about 1000 calls/s on its one thread), offered 1500/s behind the L4 balancer, with three more
/// backends started idle and put in rotation at 3 s. Known answer: gRPC's one HTTP/2 connection
/// stays on the first backend, so the new backends use next to none of the backends' CPU (under
/// 5 %); the scale took effect through HAProxy; a direct arm reads no served rate.
#[test]
fn a_grpc_client_behind_an_l4_balancer_stays_on_its_backend_when_backends_are_added() {
    let body = "duration_ms = 7000\nload = { rate_per_s = 1500 }\nprocesses = 1\nservice_busy_us = 1000\nevents = [{ at_ms = 3000, action = \"scale\", target = \"server\", to = 4 }]\n";
    let t = experiment("scale-workers", "grpc", "scale-test-grpc", body, 5_000, 0);
    let s = t.scale.clone().unwrap();
    eprintln!("{s:?}; backends' CPU {:?}; {}", t.backend_cpu_ms, t.events[0].detail);
    assert_eq!((s.processes_before, s.processes_after, s.backlog_at_scale), (1, 4, None));
    assert!(t.events[0].detail.contains("put in rotation"), "{:?}", t.events[0]);
    let cpu: Vec<f64> = t.backend_cpu_ms.iter().map(|c| c.unwrap()).collect();
    assert_eq!(cpu.len(), 4, "{cpu:?}");
    let new_share = cpu[1..].iter().sum::<f64>() / cpu.iter().sum::<f64>();
    assert!(new_share < 0.05, "the new backends used {:.1} % of the CPU: {cpu:?}", new_share * 100.0);
    assert_eq!((s.served_before_per_s, s.served_after_per_s, s.emptied_after_ms), (None, None, None));
}
