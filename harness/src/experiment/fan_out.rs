//! `fan-out`: one "payment authorized" event consumed by N services, N = each of the experiment's
//! `consumers` (`[1, 3, 5]`). It tests the claim "one event processed by several services" for
//! what it costs per event: the producer's time, the time until the last service had it, and the
//! CPU of every process involved.
//!
//! The event moves through the family's [`crate::transport::pubsub`] seam: Kafka consumer groups,
//! a RabbitMQ fanout exchange, NATS subscribers, or (a direct arm) the producer calling N servers.
//! Subscribers are added between steps, each subscribed before the next (a Kafka group assigned
//! its partition). Before a step is measured the producer publishes marked events every
//! [`PROBE_EVERY`] until every subscriber has received one: the proof that all N receive,
//! whatever their start offsets. Then it publishes at `load.rate_per_s` for `duration_ms`, open
//! loop: each publish starts at its time whatever earlier ones do (concurrently, so a slow
//! hand-off delays no later event), and both latencies count from the publish call.
//!
//! With a service time (`service_time_us`), each service waits that long per event before it
//! counts the event as processed, concurrently with the next events: the known answer that the
//! time to the last service grows by exactly that wait.
//!
//! Each event carries its step, number and publish time ([`Header`]); a subscriber's receipt is
//! recorded against the experiment's one monotonic clock (everything runs in this process). After
//! the last publish, receipts are awaited up to [`DRAIN_WITHIN`]; an (event, subscriber) pair
//! still missing is counted missing, a second receipt a duplicate. CPU per event is this
//! process's CPU plus the local broker's over the step, divided by the events published; the
//! same processes' CPU over [`IDLE_WINDOW`] with nothing published, just before, gives the part
//! of it that N idle subscribers cost anyway (a Kafka consumer polls its broker all the time).

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use futures::stream::FuturesUnordered;
use futures::StreamExt;
use hdrhistogram::Histogram;

use super::spec::ExperimentSpec;
use super::{arm_namespace, arm_record, broker_endpoint, empty_timeline, ExperimentContext, Kind, Measures};
use crate::measure::cpu::process_total_cpu_ns;
use crate::results::experiment::{ArmTimeline, FanOutStep, FanOutSummary};
use crate::results::ArmStatus;
use crate::transport::arm::{Bus, Deliver};
use crate::transport::pubsub::{Header, SENTINEL_STEP};
use crate::transport::Arm;
use crate::{brokers, payload, Error, Result};

/// The `fan-out` row of [`super::KINDS`].
pub const KIND: Kind = Kind {
    name: "fan-out",
    about: "one event published to N services (N = each of `consumers`): producer time, time to the last service, CPU per event",
    check,
    measures: Measures::Own(run),
};

/// How often a readiness probe is published until every subscriber has one.
pub const PROBE_EVERY: Duration = Duration::from_millis(100);
/// How long every subscriber may take to receive a probe.
pub const READY_WITHIN: Duration = Duration::from_secs(30);
/// How long the subscribers' idle CPU is read before each step (nothing published).
pub const IDLE_WINDOW: Duration = Duration::from_secs(1);
/// After the last publish: how long receipts are still awaited.
pub const DRAIN_WITHIN: Duration = Duration::from_secs(5);

fn check(spec: &ExperimentSpec) -> std::result::Result<(), (&'static str, String)> {
    if spec.consumers.is_empty() {
        return Err(("consumers", "at least one subscriber count for a fan-out, e.g. [1, 3, 5]".to_owned()));
    }
    if spec.load.rate_per_s.is_none() || !spec.phases.is_empty() {
        return Err(("load", "a fixed `rate_per_s` of events, no phases (a fan-out has no capacity probe)".to_owned()));
    }
    if !spec.events.is_empty() {
        return Err(("events", "none: a fan-out publishes events, it has no timed events".to_owned()));
    }
    Ok(())
}

/// Every subscriber's receipts of the step being measured.
struct Receipts {
    epoch: Instant,
    state: Mutex<StepState>,
}

#[derive(Default)]
struct StepState {
    step: u64,
    events: usize,
    consumers: usize,
    /// Receipt time (ns from the epoch) per event and subscriber, `seq * consumers + index`.
    received_ns: Vec<Option<u64>>,
    /// Intended publish time per event (ns from the epoch), as its header carries it.
    sent_ns: Vec<u64>,
    delivered: u64,
    duplicates: u64,
    /// Which subscribers have received a readiness probe since the last reset.
    probed: Vec<bool>,
}

impl Receipts {
    /// The step's state; a subscriber that panicked while holding it leaves it as it was.
    fn state(&self) -> std::sync::MutexGuard<'_, StepState> {
        self.state.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    fn record(&self, index: usize, event: &[u8]) {
        let now_ns = self.epoch.elapsed().as_nanos() as u64;
        let Some(header) = Header::decode(event) else { return };
        let mut s = self.state();
        if header.step == SENTINEL_STEP {
            if let Some(seen) = s.probed.get_mut(index) {
                *seen = true;
            }
            return;
        }
        let (seq, n) = (header.seq as usize, s.consumers);
        if header.step != s.step || seq >= s.events || index >= n {
            return; // an earlier step's straggler
        }
        s.sent_ns[seq] = header.sent_ns;
        match &mut s.received_ns[seq * n + index] {
            Some(_) => s.duplicates += 1,
            slot => {
                *slot = Some(now_ns);
                s.delivered += 1;
            }
        }
    }

    fn start(&self, step: u64, events: usize, consumers: usize) {
        let mut s = self.state();
        *s = StepState {
            step,
            events,
            consumers,
            received_ns: vec![None; events * consumers],
            sent_ns: vec![0; events],
            probed: vec![false; consumers],
            ..StepState::default()
        };
    }

    fn all_probed(&self) -> bool {
        self.state().probed.iter().all(|&p| p)
    }

    fn delivered(&self) -> u64 {
        self.state().delivered
    }
}

fn run(ctx: &ExperimentContext, spec: &ExperimentSpec, arm: &Arm) -> Result<ArmTimeline> {
    let pubsub = arm.family().pubsub.ok_or_else(|| {
        Error::Config(format!("{arm}: the {} family has no publish/subscribe seam", arm.family().name))
    })?;
    let endpoint = broker_endpoint(ctx, arm)?.unwrap_or_default();
    // The local broker, whose process's CPU counts; none for an external broker or a direct arm.
    let local_broker = match arm.broker() {
        Some(name) => Some(brokers::get(name)?).filter(|b| b.is_local(&endpoint)),
        None => None,
    };
    let namespace = arm_namespace(&ctx.namespace);
    let rate = spec.load.rate_per_s.unwrap_or(1.0);
    let events = ((rate * spec.duration_ms as f64 / 1000.0).round() as usize).max(1);
    let payments: Vec<_> = (0..64).map(|i| payload::generate(spec.profile, ctx.seed, i)).collect();
    let receipts = Arc::new(Receipts { epoch: Instant::now(), state: Mutex::new(StepState::default()) });
    // Each service's work per event before it counts the event as processed: a simulated wait. A
    // direct server waits before it answers (the producer waits with it); a broker's subscriber
    // waits here, in a task of its own so that it takes the next event meanwhile.
    let work = Duration::from_micros(spec.service_time_us.unwrap_or(ctx.service_time_us));
    let deliver: Deliver = {
        let receipts = receipts.clone();
        if work.is_zero() || arm.broker().is_none() {
            Arc::new(move |index, event| receipts.record(index, event))
        } else {
            Arc::new(move |index, event| {
                let (receipts, event) = (receipts.clone(), event.to_vec());
                tokio::spawn(async move {
                    tokio::time::sleep(work).await;
                    receipts.record(index, &event);
                });
            })
        }
    };
    // Null when a process could not be read (an external broker's is not on this machine).
    let cpu_now = move || -> Option<u64> {
        let own = process_total_cpu_ns(std::process::id())?;
        match (arm.broker(), local_broker) {
            (None, _) => Some(own),
            (Some(_), Some(broker)) => Some(own + process_total_cpu_ns(broker.local_process()?)?),
            (Some(_), None) => None,
        }
    };
    let steps = ctx.client.block_on(async {
        let bus = (pubsub.open)(arm, &endpoint, &namespace, work).await?;
        let mut steps = Vec::new();
        let mut subscribed = 0;
        let result = async {
            for (step, &n) in spec.consumers.iter().enumerate() {
                while subscribed < n as usize {
                    bus.subscribe(subscribed, deliver.clone()).await?;
                    subscribed += 1;
                }
                receipts.start(step as u64, events, n as usize);
                prove_ready(&*bus, &receipts, &payments[0], n).await?;
                let idle_before = cpu_now();
                tokio::time::sleep(IDLE_WINDOW).await;
                let idle_ns_per_s =
                    idle_before.zip(cpu_now()).map(|(b, a)| a.saturating_sub(b) as f64 / IDLE_WINDOW.as_secs_f64());
                let cpu_before = cpu_now();
                let published = publish_step(&*bus, &receipts, step as u64, rate, events, &payments).await;
                let expected = (events - published.failed as usize) as u64 * u64::from(n);
                let until = Instant::now() + DRAIN_WITHIN;
                while receipts.delivered() < expected && Instant::now() < until {
                    tokio::time::sleep(Duration::from_millis(20)).await;
                }
                let cpu = cpu_before.zip(cpu_now()).map(|(b, a)| a.saturating_sub(b));
                let mut summary = summarize(&receipts, &published, n, rate, cpu);
                let step_s = spec.duration_ms as f64 / 1000.0;
                summary.idle_cpu_us_per_event = idle_ns_per_s.map(|ns| ns * step_s / 1000.0 / events as f64);
                steps.push(summary);
            }
            Ok::<_, Error>(())
        }
        .await;
        let (handed_off, received_at) = (bus.handed_off(), bus.received_at().to_owned());
        bus.close().await;
        result.map(|()| FanOutSummary { handed_off, received_at, steps })
    })?;
    let mut timeline = empty_timeline(arm_record(arm), ArmStatus::Ran);
    timeline.server =
        format!("in-process publisher and subscribers through {}", arm.broker().unwrap_or("N direct servers"));
    timeline.offered_rate_per_s = rate;
    timeline.fan_out = Some(steps);
    Ok(timeline)
}

/// Publishes readiness probes every [`PROBE_EVERY`] until each of the `n` subscribers has one.
async fn prove_ready(bus: &dyn Bus, receipts: &Receipts, payment: &crate::pb::PaymentRequest, n: u32) -> Result<()> {
    let started = Instant::now();
    let mut probe = 0;
    while !receipts.all_probed() {
        if started.elapsed() > READY_WITHIN {
            return Err(Error::Config(format!(
                "fan-out: not every one of {n} subscribers received a probe event within {READY_WITHIN:?}"
            )));
        }
        // A failed probe is retried: the point is the first one that reaches everyone.
        let _ = bus.publish(Header { step: SENTINEL_STEP, seq: probe, sent_ns: 0 }.encode(payment)).await;
        probe += 1;
        tokio::time::sleep(PROBE_EVERY).await;
    }
    Ok(())
}

/// What the producer saw of one step.
struct Published {
    /// From the publish call to the hand-off, µs.
    producer_us: Histogram<u64>,
    failed: u64,
}

/// Publishes `events` at `rate`, open loop: each at its time, however long earlier ones take.
async fn publish_step(
    bus: &dyn Bus,
    receipts: &Receipts,
    step: u64,
    rate: f64,
    events: usize,
    payments: &[crate::pb::PaymentRequest],
) -> Published {
    let mut producer_us = Histogram::<u64>::new(3).expect("3 significant figures is valid");
    let mut failed = 0;
    let start = tokio::time::Instant::now();
    let mut in_flight = FuturesUnordered::new();
    let mut next = 0;
    while next < events || !in_flight.is_empty() {
        let due = start + Duration::from_secs_f64(next as f64 / rate);
        tokio::select! {
            _ = tokio::time::sleep_until(due), if next < events => {
                let (seq, payment) = (next as u64, &payments[next % payments.len()]);
                in_flight.push(async move {
                    // Timed from the publish call itself (its first poll), not from the tick:
                    // the timer's lateness is the runtime's, not the transport's.
                    let sent = Instant::now();
                    let sent_ns = (sent - receipts.epoch).as_nanos() as u64;
                    let result = bus.publish(Header { step, seq, sent_ns }.encode(payment)).await;
                    (result, sent.elapsed())
                });
                next += 1;
            }
            Some((result, took)) = in_flight.next(), if !in_flight.is_empty() => {
                match result {
                    Ok(()) => { let _ = producer_us.record((took.as_micros() as u64).max(1)); }
                    Err(e) => {
                        failed += 1;
                        tracing::warn!("fan-out publish: {e}");
                    }
                }
            }
        }
    }
    Published { producer_us, failed }
}

fn summarize(receipts: &Receipts, published: &Published, n: u32, rate: f64, cpu_ns: Option<u64>) -> FanOutStep {
    let s = receipts.state();
    let n_usize = n as usize;
    let mut last_us = Histogram::<u64>::new(3).expect("3 significant figures is valid");
    let mut missing = 0;
    for (seq, row) in s.received_ns.chunks(n_usize).enumerate() {
        missing += row.iter().filter(|r| r.is_none()).count() as u64;
        // Only events every subscriber received have a "last" receipt.
        if let Some(last) = row.iter().copied().collect::<Option<Vec<u64>>>().and_then(|r| r.into_iter().max()) {
            let _ = last_us.record((last.saturating_sub(s.sent_ns[seq]) / 1000).max(1));
        }
    }
    let events = s.events as u64;
    let quantile = |h: &Histogram<u64>, q: f64| (!h.is_empty()).then(|| h.value_at_quantile(q) as f64);
    FanOutStep {
        consumers: n,
        events,
        rate_per_s: rate,
        publish_failed: published.failed,
        delivered: s.delivered,
        duplicates: s.duplicates,
        missing,
        producer_p50_us: quantile(&published.producer_us, 0.5),
        producer_p99_us: quantile(&published.producer_us, 0.99),
        last_consumer_p50_us: quantile(&last_us, 0.5),
        last_consumer_p99_us: quantile(&last_us, 0.99),
        cpu_us_per_event: cpu_ns.map(|ns| ns as f64 / 1000.0 / events.max(1) as f64),
        idle_cpu_us_per_event: None,
    }
}
