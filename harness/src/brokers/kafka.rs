//! Apache Kafka: the suite's own single KRaft node (broker and controller in one JVM), run from the
//! jars that `harness/scripts/install-deps.sh` resolves with Maven, or any Kafka cluster through
//! `KAFKA_BROKERS`. Every Kafka figure names [`DEPLOYMENT`] next to the version.
//!
//! Starting the local node:
//! 1. checks that `java` runs, that the jars of [`KAFKA_VERSION`] are in [`lib_dir`], and that
//!    the controller port is free (the broker port is checked by [`super::start`]);
//! 2. writes `server.properties` and `log4j2.properties` into `target/brokers/kafka/`;
//! 3. formats the storage directory once (Kafka's storage tool, bounded by [`FORMAT_DEADLINE`]);
//! 4. runs `kafka.Kafka server.properties` on a bounded heap ([`HEAP`]).
//!
//! Each failure says which step and why. The data directory survives `brokers down` and a kill,
//! so a restarted node recovers its log, as a production broker does.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use base64::Engine;
use rdkafka::consumer::{BaseConsumer, Consumer};

use super::Broker;
use crate::{CallError, Error, Result};

/// The pinned Apache Kafka release (also in `harness/brokers/kafka-pom.xml`).
pub const KAFKA_VERSION: &str = "4.4.0";
/// How the suite's node is deployed, named next to every Kafka figure.
pub const DEPLOYMENT: &str = "KRaft, 1 node";
/// Port of the managed node's client listener: not Kafka's registered 9092, so that a Kafka the
/// machine already runs is neither reused nor disturbed.
pub const LOCAL_KAFKA_PORT: u16 = 19092;
/// Port of the managed node's controller listener (KRaft quorum, one voter).
pub const LOCAL_CONTROLLER_PORT: u16 = 19093;
/// JVM heap of the managed node: fixed, so that its memory does not grow with the run and a
/// 2-core machine is not paging. Kafka's own start script uses 1 GiB.
pub const HEAP: &str = "512m";
/// Bound on formatting the storage directory (one JVM start, about 2 s here).
pub const FORMAT_DEADLINE: Duration = Duration::from_secs(60);

/// The Kafka entry of [`super::BROKERS`].
pub static BROKER: Broker = Broker {
    name: "kafka",
    env_var: "KAFKA_BROKERS",
    default_port: 9092,
    local_endpoint: "127.0.0.1:19092",
    process_comm: "java",
    identify,
    local_command,
    local_stop: None,
};

/// A metadata request that must be answered within `timeout`. The Kafka protocol has no "server
/// version" field: the managed node is named from its jars, an external cluster by its node count.
fn identify(endpoint: &str, timeout: Duration) -> Result<(String, String)> {
    let fail =
        |why: String| CallError::Connect { transport: "kafka", endpoint: endpoint.to_owned(), source: why.into() };
    let consumer: BaseConsumer = rdkafka::ClientConfig::new()
        .set("bootstrap.servers", endpoint)
        .set("socket.nagle.disable", "true")
        .create()
        .map_err(|e| fail(e.to_string()))?;
    let metadata =
        consumer.fetch_metadata(None, timeout).map_err(|e| fail(format!("no metadata within {timeout:?}: {e}")))?;
    if BROKER.is_local(endpoint) && BROKER.local_pid().is_some() {
        Ok((
            "Apache Kafka".to_owned(),
            format!("{} ({DEPLOYMENT})", installed_version().unwrap_or_else(|| "unknown".to_owned())),
        ))
    } else {
        let nodes = metadata.brokers().len();
        Ok(("Kafka-protocol broker".to_owned(), format!("unknown ({nodes} node(s))")))
    }
}

/// Where the Kafka jars are: `$PAYBENCH_KAFKA_LIB`, else `lib/` in the broker's directory (where
/// `install-deps.sh` puts them).
pub fn lib_dir() -> PathBuf {
    std::env::var("PAYBENCH_KAFKA_LIB").map(PathBuf::from).unwrap_or_else(|_| BROKER.dir().join("lib"))
}

/// The Kafka version whose broker jar is in [`lib_dir`].
fn installed_version() -> Option<String> {
    std::fs::read_dir(lib_dir()).ok()?.flatten().find_map(|entry| {
        let name = entry.file_name().into_string().ok()?;
        name.strip_prefix("kafka_2.13-")?.strip_suffix(".jar").map(str::to_owned)
    })
}

/// `server.properties` of the managed node. Each line that shapes a figure says why.
fn server_properties(data_dir: &Path) -> String {
    format!(
        "# Written by paybench (harness/src/brokers/kafka.rs) at every start; edits are overwritten.\n\
         process.roles=broker,controller\n\
         node.id=1\n\
         controller.quorum.voters=1@127.0.0.1:{LOCAL_CONTROLLER_PORT}\n\
         listeners=PLAINTEXT://127.0.0.1:{LOCAL_KAFKA_PORT},CONTROLLER://127.0.0.1:{LOCAL_CONTROLLER_PORT}\n\
         advertised.listeners=PLAINTEXT://127.0.0.1:{LOCAL_KAFKA_PORT}\n\
         controller.listener.names=CONTROLLER\n\
         listener.security.protocol.map=PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT\n\
         inter.broker.listener.name=PLAINTEXT\n\
         log.dirs={data}\n\
         # One node: every topic has one replica, and an in-sync set of one. acks=all then waits\n\
         # for this node's write only (see docs/brokers.md, durability).\n\
         default.replication.factor=1\n\
         min.insync.replicas=1\n\
         offsets.topic.replication.factor=1\n\
         transaction.state.log.replication.factor=1\n\
         transaction.state.log.min.isr=1\n\
         share.coordinator.state.topic.replication.factor=1\n\
         share.coordinator.state.topic.min.isr=1\n\
         # Flush policy: Kafka's default, left as it is. Writes reach the OS page cache and are\n\
         # flushed by the OS, so a killed broker process loses nothing acknowledged, a machine crash can.\n\
         # A group's first join is not held back waiting for more members (default 3 s).\n\
         group.initial.rebalance.delay.ms=0\n\
         # Topics are created by the suite; a late reply to a deleted reply topic must not recreate it.\n\
         auto.create.topics.enable=false\n\
         delete.topic.enable=true\n",
        data = data_dir.display()
    )
}

/// Logging of the managed node: warnings, plus the line that says it started.
const LOG4J2_PROPERTIES: &str = "\
rootLogger.level = WARN
rootLogger.appenderRef.stdout.ref = STDOUT
appender.stdout.type = Console
appender.stdout.name = STDOUT
appender.stdout.layout.type = PatternLayout
appender.stdout.layout.pattern = [%d] %p %m (%c)%n
logger.started.name = kafka.server.KafkaRaftServer
logger.started.level = INFO
";

/// Checks the prerequisites, writes the configuration, formats storage once, and returns the
/// command that runs the node in `dir`.
fn local_command(dir: &Path) -> Result<Command> {
    let fail = |what: &str, why: String| Error::Config(format!("kafka: {what}: {why}"));
    let java = Command::new("java").arg("-version").stdout(Stdio::null()).stderr(Stdio::null()).status();
    if !java.is_ok_and(|s| s.success()) {
        return Err(fail("no java", "`java -version` did not run; install OpenJDK 17 or set KAFKA_BROKERS".into()));
    }
    let lib = lib_dir();
    match installed_version() {
        Some(v) if v == KAFKA_VERSION => {}
        found => {
            return Err(fail(
                "jars missing",
                format!(
                    "no kafka_2.13-{KAFKA_VERSION}.jar in {} (found {found:?}); run harness/scripts/install-deps.sh",
                    lib.display()
                ),
            ))
        }
    }
    if std::net::TcpListener::bind(("127.0.0.1", LOCAL_CONTROLLER_PORT)).is_err() {
        return Err(fail("port taken", format!("127.0.0.1:{LOCAL_CONTROLLER_PORT} (controller) is in use")));
    }
    let data = dir.join("data");
    let properties = dir.join("server.properties");
    let write = |path: &Path, text: &str| {
        std::fs::write(path, text).map_err(|e| Error::io(format!("kafka: write {}", path.display()), e))
    };
    write(&properties, &server_properties(&data))?;
    write(&dir.join("log4j2.properties"), LOG4J2_PROPERTIES)?;
    if !data.join("meta.properties").exists() {
        format_storage(dir, &lib)?;
    }
    let mut command = java_command(dir, &lib);
    command.arg("kafka.Kafka").arg(&properties);
    Ok(command)
}

/// `java` with the bounded heap, the logging configuration and the jars on the class path.
fn java_command(dir: &Path, lib: &Path) -> Command {
    let mut command = Command::new("java");
    command
        .arg(format!("-Xms{HEAP}"))
        .arg(format!("-Xmx{HEAP}"))
        .arg("-XX:+ExitOnOutOfMemoryError")
        .arg(format!("-Dlog4j2.configurationFile={}", dir.join("log4j2.properties").display()))
        .arg("-cp")
        .arg(format!("{}/*", lib.display()));
    command
}

/// Formats the data directory with a fresh cluster id (Kafka's storage tool), within
/// [`FORMAT_DEADLINE`]; the tool's output is kept in `format.log`.
fn format_storage(dir: &Path, lib: &Path) -> Result<()> {
    // A cluster id is 16 random bytes in URL-safe base64 without padding (what `random-uuid` prints).
    let cluster_id = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(uuid::Uuid::new_v4().as_bytes());
    let log_path = dir.join("format.log");
    let log = std::fs::File::create(&log_path).map_err(|e| Error::io(format!("create {}", log_path.display()), e))?;
    let log_err = log.try_clone().map_err(|e| Error::io(format!("open {}", log_path.display()), e))?;
    let mut child = java_command(dir, lib)
        .args(["kafka.tools.StorageTool", "format", "--ignore-formatted", "-t", &cluster_id, "-c"])
        .arg(dir.join("server.properties"))
        .stdin(Stdio::null())
        .stdout(log)
        .stderr(log_err)
        .spawn()
        .map_err(|e| Error::io("kafka: run the storage tool (java)", e))?;
    let started = Instant::now();
    let status = loop {
        match child.try_wait().map_err(|e| Error::io("kafka: wait for the storage tool", e))? {
            Some(status) => break status,
            None if started.elapsed() > FORMAT_DEADLINE => {
                let _ = child.kill();
                let _ = child.wait();
                return Err(Error::Config(format!(
                    "kafka: format failed: the storage tool did not finish within {FORMAT_DEADLINE:?} (log: {})",
                    log_path.display()
                )));
            }
            None => std::thread::sleep(Duration::from_millis(50)),
        }
    };
    if !status.success() {
        let tail = crate::supervise::log_tail(&log_path, 5);
        return Err(Error::Config(format!("kafka: format failed ({status}): {tail} (log: {})", log_path.display())));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_node_listens_on_loopback_only_and_holds_one_replica() {
        let text = server_properties(Path::new("/tmp/kafka-data"));
        assert!(text.contains(&format!("listeners=PLAINTEXT://127.0.0.1:{LOCAL_KAFKA_PORT},")));
        assert!(text.contains("log.dirs=/tmp/kafka-data\n"));
        assert!(text.contains("min.insync.replicas=1\n") && text.contains("default.replication.factor=1\n"));
        assert_eq!(BROKER.local_endpoint, format!("127.0.0.1:{LOCAL_KAFKA_PORT}"));
    }

    #[test]
    fn missing_jars_are_named_with_the_command_that_installs_them() {
        let empty = std::env::temp_dir().join(format!("paybench-kafka-nolib-{}", std::process::id()));
        std::fs::create_dir_all(&empty).unwrap();
        // Only this test reads PAYBENCH_KAFKA_LIB in this process.
        std::env::set_var("PAYBENCH_KAFKA_LIB", &empty);
        let result = local_command(&empty);
        std::env::remove_var("PAYBENCH_KAFKA_LIB");
        let e = result.expect_err("no jars, no command").to_string();
        // Without java the first check names that instead; both point at what to install.
        assert!(
            (e.contains("jars missing") && e.contains("install-deps.sh") && e.contains(KAFKA_VERSION))
                || e.contains("no java"),
            "{e}"
        );
    }
}
