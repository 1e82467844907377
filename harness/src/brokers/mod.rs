//! The brokers behind the broker arms: where they are, starting and stopping the suite's own
//! local ones, probing them, and naming them in results. One file per broker; [`BROKERS`] lists
//! them. Nothing here knows transports: a transport family names its broker (`rabbitmq`, `kafka`,
//! `nats`) in the registry, and the load generator looks it up here.
//!
//! With no external endpoint the suite runs its own brokers, as detached child processes of
//! whoever called [`start`] (`paybench brokers up`, `harness/scripts/test.sh`, the tests), on
//! ports of their own so that a system broker that a Debian package started is neither reused nor
//! disturbed, with data, logs and pid files under `target/brokers/<name>/`:
//!
//! | broker | binary | endpoint | external endpoint from |
//! |---|---|---|---|
//! | `rabbitmq` | Debian's `rabbitmq-server`, node `paybench@localhost` | `amqp://guest:guest@127.0.0.1:5673/%2f` | `AMQP_URL` |
//! | `kafka` | Apache Kafka 4.4.0 from Maven (`target/brokers/kafka/lib`), one KRaft node on the machine's JDK | `127.0.0.1:19092` | `KAFKA_BROKERS` |
//! | `nats` | Debian's `nats-server` | `nats://127.0.0.1:4223` | `NATS_URL` |
//!
//! An external endpoint is probed, never started or stopped.

pub mod kafka;
pub mod nats;
pub mod rabbitmq;

use std::collections::BTreeMap;
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::endpoint::{redact, socket_addrs};
use crate::supervise::{self, Signal};
use crate::{CallError, Error, Result};

/// One broker the suite can talk to, and how to run a local one.
#[derive(Debug)]
pub struct Broker {
    /// Short name, the key of endpoint maps (`--broker NAME=URL`) and of `target/brokers/NAME`.
    pub name: &'static str,
    /// Environment variable naming an external endpoint (read by the binaries only).
    pub env_var: &'static str,
    /// Port assumed when an endpoint names none (the protocol's registered port).
    pub default_port: u16,
    /// Endpoint of the managed local broker.
    pub local_endpoint: &'static str,
    /// `comm` of the process whose CPU is the broker's (the launcher may be a shell script).
    pub process_comm: &'static str,
    /// A protocol-level exchange that proves the broker answers, returning its implementation and
    /// version. Blocking, bounded by the timeout; run off the async threads.
    pub identify: fn(&str, Duration) -> Result<(String, String)>,
    /// The command that runs the managed broker in its directory.
    pub local_command: fn(&Path) -> Result<Command>,
    /// A graceful stop other than SIGTERM (RabbitMQ's `rabbitmqctl stop`); `true` if it worked.
    pub local_stop: Option<fn(&Path) -> bool>,
}

/// Every broker, in listing order.
pub static BROKERS: &[&Broker] = &[&rabbitmq::BROKER, &kafka::BROKER, &nats::BROKER];

/// How long [`start`] waits for a broker by default: RabbitMQ boots in 5-10 s on 2 cores.
pub const DEFAULT_START_DEADLINE: Duration = Duration::from_secs(90);
/// How long one reachability probe may take.
pub const PROBE_TIMEOUT: Duration = Duration::from_secs(2);
/// Pause between readiness probes.
const POLL_INTERVAL: Duration = Duration::from_millis(200);

/// Broker name → endpoint.
pub type Endpoints = BTreeMap<String, String>;

/// The broker called `name`.
pub fn get(name: &str) -> Result<&'static Broker> {
    BROKERS.iter().copied().find(|b| b.name == name).ok_or_else(|| {
        let names: Vec<_> = BROKERS.iter().map(|b| b.name).collect();
        Error::Config(format!("unknown broker {name:?}; brokers: {}", names.join(", ")))
    })
}

/// Every broker's endpoint: `lookup(env_var)` when it gives one (the binaries pass the process
/// environment), else the managed local broker's.
pub fn endpoints(lookup: impl Fn(&str) -> Option<String>) -> Endpoints {
    BROKERS
        .iter()
        .map(|b| {
            let endpoint = lookup(b.env_var).filter(|v| !v.trim().is_empty());
            (b.name.to_owned(), endpoint.unwrap_or_else(|| b.local_endpoint.to_owned()))
        })
        .collect()
}

/// `NAME=ENDPOINT` (a `--broker` flag) split and checked.
pub fn parse_assignment(text: &str) -> Result<(String, String)> {
    let (name, endpoint) = text.split_once('=').ok_or_else(|| {
        Error::Config(format!("--broker {text:?}: expected NAME=ENDPOINT, e.g. nats=nats://host:4222"))
    })?;
    get(name)?;
    Ok((name.to_owned(), endpoint.to_owned()))
}

/// Which broker a result was measured against. Attach it to every broker-arm result.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct BrokerInfo {
    /// The broker's short name (`rabbitmq`, `kafka`, `nats`).
    pub broker: String,
    /// The product, e.g. `RabbitMQ`, `Apache Kafka`, `nats-server`.
    pub implementation: String,
    /// Its version as the broker or its binary reports it, or `unknown`.
    pub version: String,
    /// Where it was reached, credentials redacted.
    pub endpoint: String,
}

impl std::fmt::Display for BrokerInfo {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {} {} at {}", self.broker, self.implementation, self.version, self.endpoint)
    }
}

impl Broker {
    /// Whether `endpoint` is this broker's managed local one.
    pub fn is_local(&self, endpoint: &str) -> bool {
        endpoint == self.local_endpoint
    }

    /// Whether a TCP connection to the endpoint opens within `timeout` (not a protocol check).
    pub fn tcp_reachable(&self, endpoint: &str, timeout: Duration) -> bool {
        socket_addrs(endpoint, self.default_port)
            .is_ok_and(|addrs| addrs.iter().any(|a| TcpStream::connect_timeout(a, timeout).is_ok()))
    }

    /// Names the broker answering at `endpoint` (a protocol exchange, so also a readiness check).
    pub async fn info(&'static self, endpoint: &str) -> Result<BrokerInfo> {
        let owned = endpoint.to_owned();
        let identify = self.identify;
        let (implementation, version) =
            tokio::task::spawn_blocking(move || identify(&owned, PROBE_TIMEOUT))
                .await
                .map_err(|e| Error::Internal(format!("{}: probe task failed: {e}", self.name)))??;
        Ok(BrokerInfo { broker: self.name.to_owned(), implementation, version, endpoint: redact(endpoint) })
    }

    /// The directory of the managed broker's data, logs and pid file.
    pub fn dir(&self) -> PathBuf {
        brokers_dir().join(self.name)
    }

    /// The pid of the managed broker's process (the one named [`Broker::process_comm`]), if its
    /// pid file names a live process.
    pub fn local_pid(&self) -> Option<u32> {
        let pid: u32 = std::fs::read_to_string(self.dir().join("paybench.pid")).ok()?.trim().parse().ok()?;
        supervise::alive(pid).then_some(pid)
    }

    /// The process that does the managed broker's work: the launcher itself, or its child named
    /// [`Broker::process_comm`] (RabbitMQ's pid file names its shell launcher; the broker is the
    /// `beam.smp` child).
    pub fn local_process(&self) -> Option<u32> {
        let pid = self.local_pid()?;
        if crate::measure::cpu::comm(pid).as_deref() == Some(self.process_comm) {
            return Some(pid);
        }
        crate::measure::cpu::find_child(pid, &[self.process_comm])
    }

    /// Sends `signal` to the managed broker's whole process group (the launcher was started as
    /// its own group: a signal to a shell launcher alone would leave the broker running). Returns
    /// the group's id, `None` when no managed broker runs or none could be signalled.
    pub fn signal_local(&self, signal: Signal) -> Option<u32> {
        let pgid = self.local_pid()?;
        supervise::send_group(pgid, signal).then_some(pgid)
    }

    /// Kills the managed broker at once (SIGKILL to its process group), as a crash would, and
    /// waits until it is gone. Returns whether one was running. Its data directory stays, so
    /// [`start`] recovers from it.
    pub async fn kill_local(&self, deadline: Duration) -> Result<bool> {
        let Some(pgid) = self.signal_local(Signal::Kill) else { return Ok(false) };
        if !supervise::wait_group_gone(pgid, deadline).await {
            return Err(Error::Internal(format!(
                "{}: process group {pgid} still alive {deadline:?} after SIGKILL",
                self.name
            )));
        }
        Ok(true)
    }
}

/// Where the managed brokers keep data, logs and pid files: `$PAYBENCH_BROKERS_DIR`, else
/// `target/brokers/` in the workspace.
pub fn brokers_dir() -> PathBuf {
    if let Ok(dir) = std::env::var("PAYBENCH_BROKERS_DIR") {
        return PathBuf::from(dir);
    }
    let target = std::env::var("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|_| Path::new(env!("CARGO_MANIFEST_DIR")).join("..").join("target"));
    target.join("brokers")
}

/// Makes sure `broker` answers at `endpoint`, starting the managed local one when `endpoint` is
/// its local endpoint and nothing answers yet; waits at most `deadline`. Idempotent.
pub async fn start(broker: &'static Broker, endpoint: &str, deadline: Duration) -> Result<BrokerInfo> {
    let mut spawned = false;
    if broker.is_local(endpoint) && !broker.tcp_reachable(endpoint, PROBE_TIMEOUT) {
        tokio::task::spawn_blocking(move || spawn_local(broker))
            .await
            .map_err(|e| Error::Internal(format!("{}: start task failed: {e}", broker.name)))??;
        spawned = true;
    }
    wait_ready(broker, endpoint, deadline, spawned).await
}

/// Starts (or finds) every broker in `endpoints`, concurrently.
pub async fn start_all(endpoints: &Endpoints, deadline: Duration) -> Result<Vec<BrokerInfo>> {
    let starts = BROKERS.iter().filter_map(|b| endpoints.get(b.name).map(|e| start(b, e, deadline)));
    futures::future::join_all(starts).await.into_iter().collect()
}

/// Polls until the broker speaks its protocol, or fails naming the endpoint after `deadline`, or
/// at once when the process it `spawned` has exited (quoting the end of its log).
async fn wait_ready(broker: &'static Broker, endpoint: &str, deadline: Duration, spawned: bool) -> Result<BrokerInfo> {
    let not_ready =
        |why: String| CallError::Connect { transport: broker.name, endpoint: redact(endpoint), source: why.into() };
    let started = Instant::now();
    loop {
        if spawned && broker.local_pid().is_none() {
            let log = broker.dir().join("stdout.log");
            let tail = supervise::log_tail(&log, 5);
            return Err(not_ready(format!(
                "the broker process exited while starting: {tail} (log: {})",
                log.display()
            ))
            .into());
        }
        // TCP first: a handshake attempted on a port that is not open yet only makes noise.
        let last_error = if broker.tcp_reachable(endpoint, PROBE_TIMEOUT) {
            match broker.info(endpoint).await {
                Ok(info) => return Ok(info),
                Err(e) => e.to_string(),
            }
        } else {
            format!("nothing listens at {}", redact(endpoint))
        };
        if started.elapsed() >= deadline {
            let logs = broker.dir();
            return Err(
                not_ready(format!("not ready within {deadline:?} (logs in {}): {last_error}", logs.display())).into()
            );
        }
        tokio::time::sleep(POLL_INTERVAL).await;
    }
}

/// Spawns the managed broker as a detached process (its own process group, so it outlives the
/// command that started it and ignores that command's Ctrl-C), logging to its directory.
fn spawn_local(broker: &Broker) -> Result<()> {
    let dir = broker.dir();
    std::fs::create_dir_all(&dir).map_err(|e| Error::io(format!("create {}", dir.display()), e))?;
    let log_path = dir.join("stdout.log");
    let log = std::fs::File::create(&log_path).map_err(|e| Error::io(format!("create {}", log_path.display()), e))?;
    let log_err = log.try_clone().map_err(|e| Error::io(format!("open {}", log_path.display()), e))?;
    let mut command = (broker.local_command)(&dir)?;
    use std::os::unix::process::CommandExt;
    let child =
        command.current_dir(&dir).stdin(Stdio::null()).stdout(log).stderr(log_err).process_group(0).spawn().map_err(
            |e| {
                Error::io(
                    format!("{}: start {:?} (run harness/scripts/install-deps.sh)", broker.name, command.get_program()),
                    e,
                )
            },
        )?;
    let pid_path = dir.join("paybench.pid");
    std::fs::write(&pid_path, child.id().to_string()).map_err(|e| Error::io(format!("write {}", pid_path.display()), e))
}

/// Stops the managed broker (never an external one), waiting at most `deadline`. Returns whether
/// one was running.
pub async fn stop(broker: &Broker, deadline: Duration) -> Result<bool> {
    let Some(pid) = broker.local_pid() else {
        return Ok(false);
    };
    if !broker.local_stop.is_some_and(|graceful| graceful(&broker.dir())) {
        supervise::send(pid, Signal::Terminate);
    }
    supervise::wait_gone(pid, deadline).await;
    if supervise::alive(pid) {
        supervise::send(pid, Signal::Kill);
        supervise::wait_gone(pid, deadline).await;
    }
    let _ = std::fs::remove_file(broker.dir().join("paybench.pid"));
    Ok(true)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn endpoints_come_from_the_lookup_else_the_local_broker() {
        let eps = endpoints(|var| (var == "NATS_URL").then(|| "nats://10.0.0.9:4222".to_owned()));
        assert_eq!(eps["nats"], "nats://10.0.0.9:4222");
        assert_eq!(eps["rabbitmq"], rabbitmq::BROKER.local_endpoint);
        assert_eq!(eps.len(), BROKERS.len());
    }

    #[test]
    fn broker_assignments_are_checked() {
        assert_eq!(parse_assignment("kafka=10.0.0.1:9092").unwrap(), ("kafka".into(), "10.0.0.1:9092".into()));
        let e = parse_assignment("mqtt=x").unwrap_err().to_string();
        assert!(e.contains("mqtt") && e.contains("rabbitmq"), "{e}");
        assert!(parse_assignment("kafka").unwrap_err().to_string().contains("NAME=ENDPOINT"));
    }
}
