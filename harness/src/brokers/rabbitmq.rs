//! RabbitMQ: Debian's `rabbitmq-server` as the suite's own node `paybench@localhost`.
//!
//! The node gets its own AMQP port (5673), distribution port (25673), Erlang cookie (`HOME` is its
//! data directory) and Mnesia and log directories, so a system node on 5672 is left alone.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

use super::Broker;
use crate::endpoint::{redact, socket_addrs};
use crate::{CallError, Error, Result};

/// AMQP port of the managed node: not 5672, so a system broker there does not clash.
pub const LOCAL_AMQP_PORT: u16 = 5673;
/// Erlang distribution port of the managed node (the system default is 25672).
pub const LOCAL_DIST_PORT: u16 = 25673;
/// Erlang node name of the managed node.
pub const LOCAL_NODE: &str = "paybench@localhost";
const BIN_DIR: &str = "/usr/lib/rabbitmq/bin";

/// The RabbitMQ entry of [`super::BROKERS`].
pub static BROKER: Broker = Broker {
    name: "rabbitmq",
    env_var: "AMQP_URL",
    default_port: 5672,
    local_endpoint: "amqp://guest:guest@127.0.0.1:5673/%2f",
    // The pid file names the `rabbitmq-server` shell launcher; the broker is its beam.smp child.
    process_comm: "beam.smp",
    identify,
    local_command,
    local_stop: Some(rabbitmqctl_stop),
};

/// Reads `product` and `version` from the server-properties of an AMQP `connection.start`, the
/// first thing a broker sends after the protocol header. Works for any AMQP 0-9-1 broker.
fn identify(endpoint: &str, timeout: Duration) -> Result<(String, String)> {
    let fail =
        |why: String| CallError::Connect { transport: "rabbitmq", endpoint: redact(endpoint), source: why.into() };
    let addrs = socket_addrs(endpoint, BROKER.default_port)?;
    let mut stream = TcpStream::connect_timeout(&addrs[0], timeout).map_err(|e| fail(e.to_string()))?;
    stream.set_read_timeout(Some(timeout)).map_err(|e| fail(e.to_string()))?;
    stream.write_all(b"AMQP\x00\x00\x09\x01").map_err(|e| fail(e.to_string()))?;
    let mut header = [0u8; 7];
    stream.read_exact(&mut header).map_err(|e| fail(e.to_string()))?;
    let size = u32::from_be_bytes([header[3], header[4], header[5], header[6]]) as usize;
    let mut payload = vec![0u8; size.min(1 << 20)];
    stream.read_exact(&mut payload).map_err(|e| fail(e.to_string()))?;
    let parsed =
        lapin::protocol::parse_class(&payload[..]).map_err(|e| fail(format!("bad connection.start: {e:?}")))?;
    let lapin::protocol::AMQPClass::Connection(lapin::protocol::connection::AMQPMethod::Start(start)) = parsed.1 else {
        return Err(fail("first frame is not connection.start".to_owned()).into());
    };
    let text =
        |key: &str| start.server_properties.inner().get(key).and_then(|v| v.as_long_string()).map(|s| s.to_string());
    Ok((
        text("product").unwrap_or_else(|| "amqp broker".to_owned()),
        text("version").unwrap_or_else(|| "unknown".to_owned()),
    ))
}

/// Environment of the managed node and of the `rabbitmqctl` that talks to it.
fn node_env(dir: &Path) -> Vec<(&'static str, String)> {
    let d = |name: &str| dir.join(name).display().to_string();
    vec![
        // The Erlang cookie lives in $HOME: a private one keeps the node apart from a system node.
        ("HOME", dir.display().to_string()),
        ("RABBITMQ_NODENAME", LOCAL_NODE.to_owned()),
        ("RABBITMQ_NODE_IP_ADDRESS", "127.0.0.1".to_owned()),
        ("RABBITMQ_NODE_PORT", LOCAL_AMQP_PORT.to_string()),
        ("RABBITMQ_DIST_PORT", LOCAL_DIST_PORT.to_string()),
        ("RABBITMQ_MNESIA_BASE", d("mnesia")),
        ("RABBITMQ_LOG_BASE", d("log")),
        ("RABBITMQ_PID_FILE", d("rabbitmq.pid")),
        ("RABBITMQ_ENABLED_PLUGINS_FILE", d("enabled_plugins")),
        ("RABBITMQ_CONFIG_FILE", d("rabbitmq")),
        ("RABBITMQ_CONF_ENV_FILE", d("rabbitmq-env.conf")),
        // Erlang's schedulers busy-wait for work by default before they sleep: on a 2-core machine
        // an idle broker would then take CPU from every direct arm measured beside it. RabbitMQ's
        // own scripts pass `none` already; set here too, so that no packaging's other default can
        // bring busy-waiting back (checked in `ps`: beam.smp runs with `-sbwt none`).
        ("RABBITMQ_SERVER_ADDITIONAL_ERL_ARGS", "+sbwt none +sbwtdcpu none +sbwtdio none".to_owned()),
    ]
}

fn local_command(dir: &Path) -> Result<Command> {
    for (file, text) in [("enabled_plugins", "[].\n"), ("rabbitmq.conf", ""), ("rabbitmq-env.conf", "")] {
        let path = dir.join(file);
        std::fs::write(&path, text).map_err(|e| Error::io(format!("write {}", path.display()), e))?;
    }
    let mut command = Command::new(Path::new(BIN_DIR).join("rabbitmq-server"));
    command.envs(node_env(dir));
    Ok(command)
}

fn rabbitmqctl_stop(dir: &Path) -> bool {
    Command::new(Path::new(BIN_DIR).join("rabbitmqctl"))
        .envs(node_env(dir))
        .args(["-n", LOCAL_NODE, "stop"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}
