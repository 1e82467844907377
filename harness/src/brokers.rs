//! The brokers behind the `amqp` and `kafka` arms: where they are, starting and stopping local
//! ones, probing them, and naming them in results.
//!
//! With no URL in the environment the suite runs its own brokers, as child processes of whoever
//! called [`start`] (the `paybench brokers up` command, `harness/scripts/test.sh`, the tests):
//!
//! | broker | binary | endpoint | data and logs |
//! |---|---|---|---|
//! | RabbitMQ | Debian's `rabbitmq-server`, node `paybench@localhost` | `amqp://guest:guest@127.0.0.1:5673/%2f` | `target/brokers/rabbitmq/` |
//! | Tansu (Kafka protocol) | `~/.cargo/bin/tansu`, memory storage | `127.0.0.1:9092` | `target/brokers/tansu/` |
//!
//! The RabbitMQ node always gets its own node name, AMQP port (5673) and distribution port
//! (25673), its own Erlang cookie (`HOME` is its data directory) and its own Mnesia and log
//! directories, so a system `rabbitmq-server` that Debian's package may have started on 5672 is
//! neither reused nor disturbed. `AMQP_URL` and `KAFKA_BROKERS` point the suite at external
//! brokers instead; those are probed, never started or stopped.
//!
//! [`BrokerInfo`] names the implementation, version and (redacted) endpoint of each broker, for
//! results and reports. [`bench_endpoint`] is what criterion benches call before a broker arm.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream, ToSocketAddrs};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::transport::TransportKind;
use crate::{Error, Result};

/// Environment variable naming an external AMQP broker (`amqp://user:pass@host:port/vhost`).
pub const AMQP_URL_ENV: &str = "AMQP_URL";
/// Environment variable naming external Kafka bootstrap servers (`host:port[,host:port]`).
pub const KAFKA_BROKERS_ENV: &str = "KAFKA_BROKERS";
/// AMQP port of the managed RabbitMQ node: not 5672, so a system broker there does not clash.
pub const LOCAL_AMQP_PORT: u16 = 5673;
/// Erlang distribution port of the managed RabbitMQ node (the system default is 25672).
pub const LOCAL_RABBITMQ_DIST_PORT: u16 = 25673;
/// Port of the managed Tansu broker.
pub const LOCAL_KAFKA_PORT: u16 = 9092;
/// Erlang node name of the managed RabbitMQ node.
pub const LOCAL_RABBITMQ_NODE: &str = "paybench@localhost";
/// How long [`start`] waits for a broker by default: RabbitMQ boots in 5-10 s on 2 cores.
pub const DEFAULT_START_DEADLINE: Duration = Duration::from_secs(90);
/// How long one reachability probe may take.
const PROBE_TIMEOUT: Duration = Duration::from_secs(2);
/// Pause between readiness probes.
const POLL_INTERVAL: Duration = Duration::from_millis(200);

/// The two broker families the suite talks to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Broker {
    /// An AMQP 0-9-1 broker (RabbitMQ).
    RabbitMq,
    /// A Kafka-protocol broker (Tansu locally, Apache Kafka or any compatible one externally).
    Kafka,
}

impl Broker {
    /// Both brokers.
    pub const ALL: [Broker; 2] = [Broker::RabbitMq, Broker::Kafka];

    /// Short name: `rabbitmq` or `kafka`.
    pub fn name(self) -> &'static str {
        match self {
            Broker::RabbitMq => "rabbitmq",
            Broker::Kafka => "kafka",
        }
    }

    /// The broker a transport arm needs, if any.
    pub fn of(kind: TransportKind) -> Option<Broker> {
        match kind {
            TransportKind::Amqp | TransportKind::AmqpJson => Some(Broker::RabbitMq),
            TransportKind::Kafka | TransportKind::KafkaJson => Some(Broker::Kafka),
            _ => None,
        }
    }

    fn env_var(self) -> &'static str {
        match self {
            Broker::RabbitMq => AMQP_URL_ENV,
            Broker::Kafka => KAFKA_BROKERS_ENV,
        }
    }

    /// The endpoint from the environment, if one is set (an external broker).
    pub fn external_endpoint(self) -> Option<String> {
        std::env::var(self.env_var()).ok().filter(|v| !v.trim().is_empty())
    }

    /// The managed local broker's endpoint.
    pub fn local_endpoint(self) -> String {
        match self {
            Broker::RabbitMq => format!("amqp://guest:guest@127.0.0.1:{LOCAL_AMQP_PORT}/%2f"),
            Broker::Kafka => format!("127.0.0.1:{LOCAL_KAFKA_PORT}"),
        }
    }

    /// The endpoint the suite uses: the environment's, else the managed local broker's.
    pub fn endpoint(self) -> String {
        self.external_endpoint().unwrap_or_else(|| self.local_endpoint())
    }
}

/// Which broker a result was measured against. Attach it to every broker-arm result.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct BrokerInfo {
    /// The product, e.g. `RabbitMQ`, `Tansu`, or `kafka-protocol broker` when it cannot be told.
    pub implementation: String,
    /// Its version as the broker or its binary reports it, or `unknown`.
    pub version: String,
    /// Where it was reached, credentials redacted.
    pub endpoint: String,
}

impl std::fmt::Display for BrokerInfo {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} {} at {}", self.implementation, self.version, self.endpoint)
    }
}

/// Replaces the password of a URL (`amqp://user:secret@host/`) with `***`.
pub fn redact(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_owned();
    };
    let (authority, path) = rest.split_once('/').map_or((rest, None), |(a, p)| (a, Some(p)));
    let Some((userinfo, host)) = authority.rsplit_once('@') else {
        return url.to_owned();
    };
    let user = userinfo.split_once(':').map_or(userinfo, |(u, _)| u);
    let path = path.map(|p| format!("/{p}")).unwrap_or_default();
    format!("{scheme}://{user}:***@{host}{path}")
}

/// The `host:port` socket addresses of an endpoint (AMQP URL or Kafka bootstrap list).
fn socket_addrs(broker: Broker, endpoint: &str) -> Result<Vec<SocketAddr>> {
    let bad = |why: &str| Error::Config(format!("{}: bad endpoint {}: {why}", broker.name(), redact(endpoint)));
    let hosts: Vec<String> = match broker {
        Broker::RabbitMq => {
            let rest = endpoint.split_once("://").map_or(endpoint, |(_, r)| r);
            let authority = rest.split('/').next().unwrap_or("");
            let host = authority.rsplit_once('@').map_or(authority, |(_, h)| h);
            let default_port = if endpoint.starts_with("amqps://") { 5671 } else { 5672 };
            vec![if host.contains(':') { host.to_owned() } else { format!("{host}:{default_port}") }]
        }
        Broker::Kafka => endpoint.split(',').map(|h| h.trim().to_owned()).collect(),
    };
    let mut addrs = Vec::new();
    for host in hosts.iter().filter(|h| !h.is_empty()) {
        addrs.extend(host.to_socket_addrs().map_err(|e| bad(&e.to_string()))?);
    }
    if addrs.is_empty() {
        return Err(bad("no host:port in it"));
    }
    Ok(addrs)
}

/// Whether a TCP connection to the endpoint opens within `timeout` (not a protocol check).
pub fn tcp_reachable(broker: Broker, endpoint: &str, timeout: Duration) -> bool {
    socket_addrs(broker, endpoint)
        .is_ok_and(|addrs| addrs.iter().any(|a| TcpStream::connect_timeout(a, timeout).is_ok()))
}

/// The endpoint a bench should use for a broker arm, or `None` after printing one line that says
/// why the arm is skipped and how to enable it.
pub fn bench_endpoint(kind: TransportKind) -> Option<String> {
    let broker = Broker::of(kind)?;
    let endpoint = broker.endpoint();
    if tcp_reachable(broker, &endpoint, PROBE_TIMEOUT) {
        return Some(endpoint);
    }
    eprintln!(
        "paybench: skipping {kind}: no {} broker at {}; run harness/scripts/bench.sh (starts the local brokers), \
         `cargo run -p paybench -- brokers up`, or set {} to a reachable broker",
        broker.name(),
        redact(&endpoint),
        broker.env_var(),
    );
    None
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

/// Makes sure `broker` answers, starting the managed local one if no external endpoint is set and
/// nothing answers yet; waits at most `deadline`. Idempotent: a running broker is reused.
pub async fn start(broker: Broker, deadline: Duration) -> Result<BrokerInfo> {
    let endpoint = broker.endpoint();
    if broker.external_endpoint().is_none() && !tcp_reachable(broker, &endpoint, PROBE_TIMEOUT) {
        let spawn = tokio::task::spawn_blocking(move || spawn_local(broker));
        spawn.await.map_err(|e| Error::Config(format!("{}: start task failed: {e}", broker.name())))??;
    }
    wait_ready(broker, &endpoint, deadline).await?;
    info(broker).await
}

/// Starts every broker the suite needs (see [`start`]).
pub async fn start_all(deadline: Duration) -> Result<Vec<BrokerInfo>> {
    let (rabbit, kafka) = tokio::join!(start(Broker::RabbitMq, deadline), start(Broker::Kafka, deadline));
    Ok(vec![rabbit?, kafka?])
}

/// Polls until the broker speaks its protocol, or fails naming the endpoint after `deadline`.
async fn wait_ready(broker: Broker, endpoint: &str, deadline: Duration) -> Result<()> {
    let started = Instant::now();
    loop {
        // TCP first: a handshake attempted on a port that is not open yet only makes noise.
        let last_error = match tcp_probe_then(broker, endpoint).await {
            Ok(()) => return Ok(()),
            Err(e) => e,
        };
        if started.elapsed() >= deadline {
            return Err(Error::Connect {
                transport: broker.name(),
                endpoint: redact(endpoint),
                source: format!(
                    "not ready within {deadline:?} (logs in {}): {last_error}",
                    brokers_dir().join(broker.name()).display()
                )
                .into(),
            });
        }
        tokio::time::sleep(POLL_INTERVAL).await;
    }
}

async fn tcp_probe_then(broker: Broker, endpoint: &str) -> Result<()> {
    if !tcp_reachable(broker, endpoint, PROBE_TIMEOUT) {
        return Err(Error::Config(format!("nothing listens at {}", redact(endpoint))));
    }
    probe(broker, endpoint).await
}

/// One protocol-level readiness check: an AMQP handshake or a Kafka metadata request.
async fn probe(broker: Broker, endpoint: &str) -> Result<()> {
    match broker {
        Broker::RabbitMq => crate::transport::amqp::probe(endpoint, PROBE_TIMEOUT).await,
        Broker::Kafka => crate::transport::kafka::probe(endpoint, PROBE_TIMEOUT).await,
    }
}

/// Names the broker now answering at its endpoint.
pub async fn info(broker: Broker) -> Result<BrokerInfo> {
    info_at(broker, &broker.endpoint()).await
}

/// Names the broker answering at `endpoint`.
pub async fn info_at(broker: Broker, endpoint: &str) -> Result<BrokerInfo> {
    let endpoint = endpoint.to_owned();
    let redacted = redact(&endpoint);
    let (implementation, version) = match broker {
        Broker::RabbitMq => {
            let ep = endpoint.clone();
            tokio::task::spawn_blocking(move || amqp_server_properties(&ep))
                .await
                .map_err(|e| Error::Config(format!("rabbitmq: probe task failed: {e}")))??
        }
        Broker::Kafka if endpoint == broker.local_endpoint() && local_pid(broker).is_some() => {
            ("Tansu".to_owned(), tansu_version().unwrap_or_else(|| "unknown".to_owned()))
        }
        // The Kafka protocol has no "server version" field; an external cluster is named by the
        // operator through PAYBENCH_KAFKA_IMPLEMENTATION / PAYBENCH_KAFKA_VERSION.
        Broker::Kafka => (
            std::env::var("PAYBENCH_KAFKA_IMPLEMENTATION").unwrap_or_else(|_| "kafka-protocol broker".to_owned()),
            std::env::var("PAYBENCH_KAFKA_VERSION").unwrap_or_else(|_| "unknown".to_owned()),
        ),
    };
    Ok(BrokerInfo { implementation, version, endpoint: redacted })
}

/// Reads `product` and `version` from the server-properties of an AMQP `connection.start`, the
/// first thing a broker sends after the protocol header. Works for any AMQP 0-9-1 broker.
fn amqp_server_properties(endpoint: &str) -> Result<(String, String)> {
    let fail = |why: String| Error::Connect { transport: "amqp", endpoint: redact(endpoint), source: why.into() };
    let addrs = socket_addrs(Broker::RabbitMq, endpoint)?;
    let mut stream = TcpStream::connect_timeout(&addrs[0], PROBE_TIMEOUT).map_err(|e| fail(e.to_string()))?;
    stream.set_read_timeout(Some(PROBE_TIMEOUT)).map_err(|e| fail(e.to_string()))?;
    stream.write_all(b"AMQP\x00\x00\x09\x01").map_err(|e| fail(e.to_string()))?;
    let mut header = [0u8; 7];
    stream.read_exact(&mut header).map_err(|e| fail(e.to_string()))?;
    let size = u32::from_be_bytes([header[3], header[4], header[5], header[6]]) as usize;
    let mut payload = vec![0u8; size.min(1 << 20)];
    stream.read_exact(&mut payload).map_err(|e| fail(e.to_string()))?;
    let parsed =
        lapin::protocol::parse_class(&payload[..]).map_err(|e| fail(format!("bad connection.start: {e:?}")))?;
    let lapin::protocol::AMQPClass::Connection(lapin::protocol::connection::AMQPMethod::Start(start)) = parsed.1 else {
        return Err(fail("first frame is not connection.start".to_owned()));
    };
    let text =
        |key: &str| start.server_properties.inner().get(key).and_then(|v| v.as_long_string()).map(|s| s.to_string());
    Ok((
        text("product").unwrap_or_else(|| "amqp broker".to_owned()),
        text("version").unwrap_or_else(|| "unknown".to_owned()),
    ))
}

fn tansu_bin() -> PathBuf {
    if let Ok(bin) = std::env::var("TANSU_BIN") {
        return PathBuf::from(bin);
    }
    let cargo_home = std::env::var("CARGO_HOME")
        .map(PathBuf::from)
        .unwrap_or_else(|_| PathBuf::from(std::env::var("HOME").unwrap_or_default()).join(".cargo"));
    let bin = cargo_home.join("bin").join("tansu");
    if bin.exists() {
        bin
    } else {
        PathBuf::from("tansu")
    }
}

fn tansu_version() -> Option<String> {
    let out = Command::new(tansu_bin()).arg("--version").output().ok()?;
    let text = String::from_utf8_lossy(&out.stdout);
    text.split_whitespace().nth(1).map(str::to_owned)
}

const RABBITMQ_BIN_DIR: &str = "/usr/lib/rabbitmq/bin";

/// Environment of the managed RabbitMQ node and of the `rabbitmqctl` that talks to it.
fn rabbitmq_env(dir: &Path) -> Vec<(&'static str, String)> {
    let d = |name: &str| dir.join(name).display().to_string();
    vec![
        // The Erlang cookie lives in $HOME: a private one keeps the node apart from a system node.
        ("HOME", dir.display().to_string()),
        ("RABBITMQ_NODENAME", LOCAL_RABBITMQ_NODE.to_owned()),
        ("RABBITMQ_NODE_IP_ADDRESS", "127.0.0.1".to_owned()),
        ("RABBITMQ_NODE_PORT", LOCAL_AMQP_PORT.to_string()),
        ("RABBITMQ_DIST_PORT", LOCAL_RABBITMQ_DIST_PORT.to_string()),
        ("RABBITMQ_MNESIA_BASE", d("mnesia")),
        ("RABBITMQ_LOG_BASE", d("log")),
        ("RABBITMQ_PID_FILE", d("rabbitmq.pid")),
        ("RABBITMQ_ENABLED_PLUGINS_FILE", d("enabled_plugins")),
        ("RABBITMQ_CONFIG_FILE", d("rabbitmq")),
        ("RABBITMQ_CONF_ENV_FILE", d("rabbitmq-env.conf")),
    ]
}

/// Spawns the managed broker as a detached process (its own process group, so it outlives the
/// command that started it and ignores that command's Ctrl-C), logging to its directory.
fn spawn_local(broker: Broker) -> Result<()> {
    let dir = brokers_dir().join(broker.name());
    std::fs::create_dir_all(&dir).map_err(|e| Error::io(format!("create {}", dir.display()), e))?;
    let log_path = dir.join("stdout.log");
    let log = std::fs::File::create(&log_path).map_err(|e| Error::io(format!("create {}", log_path.display()), e))?;
    let log_err = log.try_clone().map_err(|e| Error::io(format!("open {}", log_path.display()), e))?;
    let mut command = match broker {
        Broker::RabbitMq => {
            for (file, text) in [("enabled_plugins", "[].\n"), ("rabbitmq.conf", ""), ("rabbitmq-env.conf", "")] {
                let path = dir.join(file);
                std::fs::write(&path, text).map_err(|e| Error::io(format!("write {}", path.display()), e))?;
            }
            let mut c = Command::new(Path::new(RABBITMQ_BIN_DIR).join("rabbitmq-server"));
            c.envs(rabbitmq_env(&dir));
            c
        }
        Broker::Kafka => {
            let listener = format!("tcp://127.0.0.1:{LOCAL_KAFKA_PORT}");
            let mut c = Command::new(tansu_bin());
            c.args(["broker", "--storage-engine", "memory://tansu/", "--listener-url", &listener])
                .args(["--advertised-listener-url", &listener]);
            c
        }
    };
    use std::os::unix::process::CommandExt;
    let child = command
        .current_dir(&dir)
        .stdin(Stdio::null())
        .stdout(log)
        .stderr(log_err)
        .process_group(0)
        .spawn()
        .map_err(|e| {
            Error::io(
                format!("{}: start {:?} (run harness/scripts/install-deps.sh)", broker.name(), command.get_program()),
                e,
            )
        })?;
    let pid_path = dir.join("paybench.pid");
    std::fs::write(&pid_path, child.id().to_string()).map_err(|e| Error::io(format!("write {}", pid_path.display()), e))
}

/// The pid of the managed broker, if its pid file names a live process.
pub fn local_pid(broker: Broker) -> Option<u32> {
    let path = brokers_dir().join(broker.name()).join("paybench.pid");
    let pid: u32 = std::fs::read_to_string(path).ok()?.trim().parse().ok()?;
    Path::new(&format!("/proc/{pid}")).exists().then_some(pid)
}

/// Stops the managed broker (never an external one), waiting at most `deadline`. Returns whether
/// one was running.
pub async fn stop(broker: Broker, deadline: Duration) -> Result<bool> {
    let Some(pid) = local_pid(broker) else {
        return Ok(false);
    };
    if broker == Broker::RabbitMq {
        let dir = brokers_dir().join(broker.name());
        let ctl = Command::new(Path::new(RABBITMQ_BIN_DIR).join("rabbitmqctl"))
            .envs(rabbitmq_env(&dir))
            .args(["-n", LOCAL_RABBITMQ_NODE, "stop"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status();
        if !ctl.is_ok_and(|s| s.success()) {
            signal(pid, "TERM");
        }
    } else {
        signal(pid, "TERM");
    }
    let started = Instant::now();
    while Path::new(&format!("/proc/{pid}")).exists() {
        if started.elapsed() >= deadline {
            signal(pid, "KILL");
            break;
        }
        tokio::time::sleep(POLL_INTERVAL).await;
    }
    let _ = std::fs::remove_file(brokers_dir().join(broker.name()).join("paybench.pid"));
    Ok(true)
}

fn signal(pid: u32, name: &str) {
    let _ = Command::new("kill").arg(format!("-{name}")).arg(pid.to_string()).status();
}

/// The calls a broker-arm client is waiting on, by correlation id: one client multiplexes many
/// in-flight calls over one reply stream. Replies whose id is unknown (a duplicate after a
/// redelivery, or one arriving after its call timed out) are counted, never delivered twice.
#[derive(Debug, Default)]
pub(crate) struct ReplyWaiters {
    next_id: std::sync::atomic::AtomicU64,
    waiting: std::sync::Mutex<
        std::collections::HashMap<u64, tokio::sync::oneshot::Sender<Result<crate::pb::PaymentResponse>>>,
    >,
    unmatched: std::sync::atomic::AtomicU64,
}

impl ReplyWaiters {
    /// Replies that matched no waiting call so far.
    pub(crate) fn unmatched(&self) -> u64 {
        self.unmatched.load(std::sync::atomic::Ordering::Relaxed)
    }

    /// Hands a reply to the call waiting for `correlation_id` (a decimal id this client issued).
    pub(crate) fn complete(&self, correlation_id: Option<&str>, reply: Result<crate::pb::PaymentResponse>) {
        let waiter = correlation_id
            .and_then(|id| id.parse::<u64>().ok())
            .and_then(|id| self.waiting.lock().ok().and_then(|mut w| w.remove(&id)));
        match waiter {
            Some(tx) => {
                let _ = tx.send(reply);
            }
            None => {
                self.unmatched.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            }
        }
    }

    /// Fails every waiting call now (the reply stream is gone), instead of at its timeout.
    pub(crate) fn fail_all(&self, error: impl Fn() -> Error) {
        let waiters: Vec<_> = self.waiting.lock().map(|mut w| w.drain().collect()).unwrap_or_default();
        for (_, tx) in waiters {
            let _ = tx.send(Err(error()));
        }
    }

    /// Registers a new call, runs `send(correlation_id)`, and waits for the matching reply until
    /// `timeout`. The waiter is removed on every exit path.
    pub(crate) async fn call<F, Fut>(
        &self,
        transport: &'static str,
        endpoint: &str,
        timeout: Duration,
        send: F,
    ) -> Result<crate::pb::PaymentResponse>
    where
        F: FnOnce(String) -> Fut,
        Fut: std::future::Future<Output = Result<()>>,
    {
        let id = self.next_id.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let (tx, rx) = tokio::sync::oneshot::channel();
        let closed =
            || Error::Call { transport, endpoint: endpoint.to_owned(), message: "reply stream closed".to_owned() };
        self.waiting.lock().map_err(|_| closed())?.insert(id, tx);
        let outcome = crate::transport::with_deadline(transport, endpoint, timeout, async {
            send(id.to_string()).await?;
            rx.await.map_err(|_| closed())?
        })
        .await;
        if outcome.is_err() {
            if let Ok(mut waiting) = self.waiting.lock() {
                waiting.remove(&id);
            }
        }
        outcome
    }
}

/// How a worker reports a refused request in an error reply body: `code: message`.
pub(crate) fn error_body(error: &Error) -> Vec<u8> {
    let code = match error {
        Error::Domain(e) => e.code(),
        Error::Codec { .. } => "invalid_argument",
        other => other.kind(),
    };
    let message = match error {
        Error::Domain(e) => e.to_string().split_once(": ").map_or(e.to_string(), |(_, m)| m.to_owned()),
        other => other.to_string(),
    };
    format!("{code}: {message}").into_bytes()
}

/// The client's view of an error reply body written by [`error_body`].
pub(crate) fn rejected(transport: &'static str, body: &[u8]) -> Error {
    let text = String::from_utf8_lossy(body);
    let (status, message) = text.split_once(": ").unwrap_or(("error", &text));
    Error::Rejected { transport, status: status.to_owned(), message: message.to_owned() }
}

/// What every broker worker does with one request body: decode it with `codec`, run the shared
/// business function, encode the reply. `Err` holds an error-reply body.
pub(crate) async fn handle_request(
    service: &crate::payment::PaymentService,
    codec: crate::codec::Codec,
    body: &[u8],
) -> std::result::Result<Vec<u8>, Vec<u8>> {
    let outcome = async {
        let req = codec.decode_request(body)?;
        let resp = service.authorize(&req).await?;
        codec.encode_response(&resp)
    }
    .await;
    outcome.map_err(|e| error_body(&e))
}

/// A non-empty environment variable.
pub(crate) fn env(key: &str) -> Option<String> {
    std::env::var(key).ok().filter(|v| !v.trim().is_empty())
}

/// Parses a boolean setting from the environment.
pub(crate) fn parse_flag(key: &str, value: &str) -> Result<bool> {
    match value.trim() {
        "1" | "true" | "yes" | "on" => Ok(true),
        "0" | "false" | "no" | "off" => Ok(false),
        _ => Err(Error::Config(format!("{key}={value:?}: expected 1 or 0"))),
    }
}

/// Parses a numeric setting from the environment.
pub(crate) fn parse_env<T: std::str::FromStr>(key: &str, value: &str) -> Result<T> {
    value.trim().parse().map_err(|_| Error::Config(format!("{key}={value:?} is not a valid number")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn redacts_the_password_only() {
        assert_eq!(redact("amqp://guest:secret@10.0.0.1:5672/%2f"), "amqp://guest:***@10.0.0.1:5672/%2f");
        assert_eq!(redact("amqp://127.0.0.1:5673"), "amqp://127.0.0.1:5673");
        assert_eq!(redact("127.0.0.1:9092"), "127.0.0.1:9092");
    }

    #[test]
    fn socket_addresses_default_the_amqp_port() {
        let addrs = socket_addrs(Broker::RabbitMq, "amqp://u:p@127.0.0.1/%2f").unwrap();
        assert_eq!(addrs[0].port(), 5672);
        let addrs = socket_addrs(Broker::Kafka, "127.0.0.1:9092, 127.0.0.1:9093").unwrap();
        assert_eq!(addrs.len(), 2);
    }
}
