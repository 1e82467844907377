//! Carries out an experiment's events on the real process, at their times from the timeline's
//! start, on a thread of its own (never the client's runtime, whose timing is being measured).
//! Each event is recorded with its intended and actual time and whether it took effect.
//!
//! An event targets the arm's server or worker processes, or the broker a broker arm runs
//! through: the suite's own local one only ([`BrokerTarget`]), killed with SIGKILL like a crash
//! and restarted from its data directory through [`crate::brokers`].

use std::net::TcpStream;
use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use super::spec::{Action, EventSpec, Target};
use super::topology::{BalancerControl, Servers};
use crate::brokers::{self, Broker};
use crate::load::generator::WindowProbe;
use crate::results::experiment::EventRecord;
use crate::supervise::{self, Signal};

/// How long a signal may take to show (state `T`, running again, gone).
const EFFECT_WITHIN: Duration = Duration::from_secs(2);
/// How long a restarted broker may take to answer its protocol again (RabbitMQ boots in 5-10 s on
/// 2 cores, and Kafka replays its log).
const BROKER_BACK_WITHIN: Duration = Duration::from_secs(60);

/// The broker an arm's `target = "broker"` events act on: the suite's own local one.
#[derive(Debug, Clone)]
pub struct BrokerTarget {
    /// Which broker.
    pub broker: &'static Broker,
    /// Its endpoint (the managed local one).
    pub endpoint: String,
}

/// The events of one timeline, started when the window opens ([`WindowProbe::start`]).
#[derive(Debug)]
pub struct Schedule {
    origin: Option<mpsc::Sender<Instant>>,
    worker: Option<JoinHandle<Vec<EventRecord>>>,
}

impl Schedule {
    /// A thread that waits for the timeline's start, then acts on `servers` at each event's time.
    /// `bind` is a direct server's address, checked after a restart; `balancer` puts a direct
    /// arm's held-out backends in rotation at a `scale`.
    pub fn start(
        servers: Arc<Mutex<Servers>>,
        events: Vec<EventSpec>,
        bind: Option<String>,
        broker: Option<BrokerTarget>,
        balancer: Option<BalancerControl>,
    ) -> Self {
        let (tx, rx) = mpsc::channel::<Instant>();
        let worker = std::thread::Builder::new()
            .name("pb-events".to_owned())
            .spawn(move || {
                let Ok(origin) = rx.recv() else {
                    return events.iter().map(|e| not_run(e, "the timeline never started")).collect();
                };
                events
                    .iter()
                    .map(|event| match event.target {
                        Target::Server => carry_out(&servers, event, origin, bind.as_deref(), balancer.as_ref()),
                        Target::Broker => on_broker(broker.as_ref(), event, origin),
                    })
                    .collect()
            })
            .ok();
        Self { origin: Some(tx), worker }
    }

    /// The events as carried out (waits for any still due).
    pub fn finish(mut self) -> Vec<EventRecord> {
        self.origin.take();
        self.worker.take().and_then(|w| w.join().ok()).unwrap_or_default()
    }
}

impl WindowProbe for Schedule {
    fn start(&mut self) {
        if let Some(tx) = self.origin.take() {
            let _ = tx.send(Instant::now());
        }
    }

    fn end(&mut self) {}
}

fn not_run(event: &EventSpec, why: &str) -> EventRecord {
    EventRecord {
        at_ms: event.at_ms,
        actual_ms: None,
        action: name(event.action).to_owned(),
        target: target_name(event.target).to_owned(),
        took_effect: false,
        detail: why.to_owned(),
    }
}

/// The action as a scenario file writes it.
pub fn name(action: Action) -> &'static str {
    match action {
        Action::Stop => "stop",
        Action::Continue => "continue",
        Action::Kill => "kill",
        Action::Restart => "restart",
        Action::Scale => "scale",
    }
}

/// The target as a scenario file writes it.
pub fn target_name(target: Target) -> &'static str {
    match target {
        Target::Server => "server",
        Target::Broker => "broker",
    }
}

/// Sleeps until the event is due; returns its actual time, ms from the timeline's start.
fn wait_for(event: &EventSpec, origin: Instant) -> f64 {
    let due = origin + Duration::from_millis(event.at_ms);
    if let Some(wait) = due.checked_duration_since(Instant::now()) {
        std::thread::sleep(wait);
    }
    origin.elapsed().as_secs_f64() * 1e3
}

/// An event on the arm's broker: SIGSTOP, SIGCONT or SIGKILL to its process, or a restart from
/// its data directory, waiting until it answers its protocol again.
fn on_broker(target: Option<&BrokerTarget>, event: &EventSpec, origin: Instant) -> EventRecord {
    let Some(BrokerTarget { broker, endpoint }) = target else {
        return not_run(event, "this arm runs through no broker of the suite's own (a direct arm, or an external broker, which is never signalled)");
    };
    let actual_ms = wait_for(event, origin);
    // The broker's working process (RabbitMQ's beam.smp under its shell launcher); signals go
    // to the launcher's whole process group.
    let pid = broker.local_process();
    let signal = |signal: Signal, seen: &dyn Fn(u32) -> bool, pid: u32| {
        let sent = broker.signal_local(signal).is_some();
        (
            sent && supervise::wait_until(EFFECT_WITHIN, || seen(pid)),
            format!("{signal:?} to {} pid {pid} (its process group)", broker.name),
        )
    };
    let (took_effect, detail) = match (event.action, pid) {
        (Action::Stop, Some(pid)) => signal(Signal::Stop, &supervise::stopped, pid),
        (Action::Continue, Some(pid)) => signal(Signal::Continue, &|p| !supervise::stopped(p), pid),
        // The same kill as `brokers`' own: gone when no thread of its process group runs.
        (Action::Kill, Some(pid)) => match block_on(broker.kill_local(EFFECT_WITHIN)) {
            Ok(killed) => (killed, format!("SIGKILL to {} pid {pid} (its process group)", broker.name)),
            Err(e) => (false, format!("SIGKILL to {} pid {pid}: {e}", broker.name)),
        },
        (Action::Restart, None) => {
            let started = Instant::now();
            match block_on(brokers::start(broker, endpoint, BROKER_BACK_WITHIN)) {
                Ok(info) => (
                    true,
                    format!(
                        "{} restarted from its data directory: pid {:?}, {} {} answering after {:.1} s",
                        broker.name,
                        broker.local_pid(),
                        info.implementation,
                        info.version,
                        started.elapsed().as_secs_f64()
                    ),
                ),
                Err(e) => (false, format!("{} restart failed: {e}", broker.name)),
            }
        }
        (Action::Restart, Some(pid)) => {
            (false, format!("{} is still running (pid {pid}): restart follows a kill", broker.name))
        }
        (Action::Scale, _) => (false, "a broker does not scale (the spec check refuses this)".to_owned()),
        (_, None) => (false, format!("{} is not running (no live pid in {})", broker.name, broker.dir().display())),
    };
    EventRecord {
        at_ms: event.at_ms,
        actual_ms: Some(actual_ms),
        action: name(event.action).to_owned(),
        target: target_name(event.target).to_owned(),
        took_effect,
        detail,
    }
}

/// Runs a broker operation to its end on this (events) thread, never on the client's runtime.
fn block_on<T>(operation: impl std::future::Future<Output = crate::Result<T>>) -> crate::Result<T> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| crate::Error::io("start a runtime for a broker event", e))?
        .block_on(operation)
}

fn carry_out(
    servers: &Mutex<Servers>,
    event: &EventSpec,
    origin: Instant,
    bind: Option<&str>,
    balancer: Option<&BalancerControl>,
) -> EventRecord {
    let actual_ms = wait_for(event, origin);
    let mut servers = servers.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
    let pids = servers.pids();
    let (took_effect, detail) = match event.action {
        Action::Stop => signal_and_see(&mut servers, Signal::Stop, |pids| pids.iter().all(|p| supervise::stopped(*p))),
        Action::Continue => {
            signal_and_see(&mut servers, Signal::Continue, |pids| pids.iter().all(|p| !supervise::stopped(*p)))
        }
        Action::Kill => {
            let sent = servers.signal_all(Signal::Kill);
            (
                sent && supervise::wait_until(EFFECT_WITHIN, || !servers.any_running()),
                format!("SIGKILL to pids {pids:?}"),
            )
        }
        Action::Restart => match servers.restart_all() {
            Ok(()) => {
                let answers = bind.is_none_or(|addr| {
                    addr.parse().is_ok_and(|a| TcpStream::connect_timeout(&a, EFFECT_WITHIN).is_ok())
                });
                let ready = servers.first().ready_line().to_owned();
                (answers, format!("pids {pids:?} replaced by pids {:?}, ready: {ready}", servers.pids()))
            }
            Err(e) => (false, format!("restart failed: {e}")),
        },
        Action::Scale if balancer.is_some() => {
            let (to, balancer) = (event.to.unwrap_or(1) as usize, balancer.expect("checked by the guard"));
            let from = balancer.in_rotation();
            match balancer.scale(to) {
                Ok(()) => (
                    balancer.in_rotation() == to,
                    format!("backends {}..={to} of pids {pids:?} put in rotation (HAProxy runtime API)", from + 1),
                ),
                Err(e) => (false, format!("rotation from {from} to {to} backends failed: {e}")),
            }
        }
        Action::Scale => {
            let to = event.to.unwrap_or(1) as usize;
            match servers.scale(to) {
                Ok(()) => {
                    (servers.len() == to, format!("{} to {} processes: pids {:?}", pids.len(), to, servers.pids()))
                }
                Err(e) => (false, format!("scale from {} to {to} failed: {e}", pids.len())),
            }
        }
    };
    EventRecord {
        at_ms: event.at_ms,
        actual_ms: Some(actual_ms),
        action: name(event.action).to_owned(),
        target: "server".to_owned(),
        took_effect,
        detail,
    }
}

fn signal_and_see(servers: &mut Servers, signal: Signal, seen: impl Fn(&[u32]) -> bool) -> (bool, String) {
    let pids = servers.pids();
    if !servers.signal_all(signal) {
        return (false, format!("not every one of pids {pids:?} is running"));
    }
    (supervise::wait_until(EFFECT_WITHIN, || seen(&pids)), format!("{signal:?} to pids {pids:?}"))
}
