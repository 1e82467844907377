//! Carries out an experiment's events on the real process, at their times from the timeline's
//! start, on a thread of its own (never the client's runtime, whose timing is being measured).
//! Each event is recorded with its intended and actual time and whether it took effect.

use std::net::TcpStream;
use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use super::spec::{Action, EventSpec};
use super::topology::Servers;
use crate::load::generator::WindowProbe;
use crate::results::experiment::EventRecord;
use crate::supervise::{self, Signal};

/// How long a signal may take to show (state `T`, running again, gone).
const EFFECT_WITHIN: Duration = Duration::from_secs(2);

/// The events of one timeline, started when the window opens ([`WindowProbe::start`]).
#[derive(Debug)]
pub struct Schedule {
    origin: Option<mpsc::Sender<Instant>>,
    worker: Option<JoinHandle<Vec<EventRecord>>>,
}

impl Schedule {
    /// A thread that waits for the timeline's start, then acts on `servers` at each event's time.
    /// `bind` is a direct server's address, checked after a restart.
    pub fn start(servers: Arc<Mutex<Servers>>, events: Vec<EventSpec>, bind: Option<String>) -> Self {
        let (tx, rx) = mpsc::channel::<Instant>();
        let worker = std::thread::Builder::new()
            .name("pb-events".to_owned())
            .spawn(move || {
                let Ok(origin) = rx.recv() else {
                    return events.iter().map(|e| not_run(e, "the timeline never started")).collect();
                };
                events.iter().map(|event| carry_out(&servers, event, origin, bind.as_deref())).collect()
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
        target: "server".to_owned(),
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

fn carry_out(servers: &Mutex<Servers>, event: &EventSpec, origin: Instant, bind: Option<&str>) -> EventRecord {
    let due = origin + Duration::from_millis(event.at_ms);
    if let Some(wait) = due.checked_duration_since(Instant::now()) {
        std::thread::sleep(wait);
    }
    let actual_ms = origin.elapsed().as_secs_f64() * 1e3;
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
