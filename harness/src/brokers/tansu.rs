//! The Kafka-protocol broker: Tansu from crates.io locally (memory storage), or any Kafka cluster
//! through `KAFKA_BROKERS`. Name Tansu next to every Kafka number: it is not Apache Kafka.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use rdkafka::consumer::{BaseConsumer, Consumer};

use super::Broker;
use crate::{CallError, Result};

/// Port of the managed Tansu broker.
pub const LOCAL_KAFKA_PORT: u16 = 9092;

/// The Kafka entry of [`super::BROKERS`].
pub static BROKER: Broker = Broker {
    name: "kafka",
    env_var: "KAFKA_BROKERS",
    default_port: 9092,
    local_endpoint: "127.0.0.1:9092",
    process_comm: "tansu",
    identify,
    local_command,
    local_stop: None,
};

/// A metadata request that must be answered within `timeout`. The Kafka protocol has no "server
/// version" field: the managed broker is named from its binary, an external one stays unnamed.
fn identify(endpoint: &str, timeout: Duration) -> Result<(String, String)> {
    let fail =
        |why: String| CallError::Connect { transport: "kafka", endpoint: endpoint.to_owned(), source: why.into() };
    let consumer: BaseConsumer = rdkafka::ClientConfig::new()
        .set("bootstrap.servers", endpoint)
        .set("socket.nagle.disable", "true")
        .create()
        .map_err(|e| fail(e.to_string()))?;
    consumer.fetch_metadata(None, timeout).map_err(|e| fail(format!("no metadata within {timeout:?}: {e}")))?;
    if BROKER.is_local(endpoint) && BROKER.local_pid().is_some() {
        Ok(("Tansu".to_owned(), tansu_version().unwrap_or_else(|| "unknown".to_owned())))
    } else {
        Ok(("kafka-protocol broker".to_owned(), "unknown".to_owned()))
    }
}

/// The `tansu` binary: `$TANSU_BIN`, else cargo's bin directory, else `PATH`.
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

fn local_command(_dir: &Path) -> Result<Command> {
    let listener = format!("tcp://127.0.0.1:{LOCAL_KAFKA_PORT}");
    let mut command = Command::new(tansu_bin());
    command
        .args(["broker", "--storage-engine", "memory://tansu/", "--listener-url", &listener])
        .args(["--advertised-listener-url", &listener]);
    Ok(command)
}
