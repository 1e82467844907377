//! NATS: Debian's `nats-server`, as the suite's own server on port 4223 (not 4222, so a system
//! server is left alone), or any server through `NATS_URL`.

use std::io::{BufRead, BufReader, Read};
use std::net::TcpStream;
use std::path::Path;
use std::process::Command;
use std::time::Duration;

use super::Broker;
use crate::endpoint::{redact, socket_addrs};
use crate::{CallError, Error, Result};

/// Port of the managed server.
pub const LOCAL_NATS_PORT: u16 = 4223;
/// Where Debian installs the server.
const BIN: &str = "/usr/sbin/nats-server";

/// The NATS entry of [`super::BROKERS`].
pub static BROKER: Broker = Broker {
    name: "nats",
    env_var: "NATS_URL",
    default_port: 4222,
    local_endpoint: "nats://127.0.0.1:4223",
    process_comm: "nats-server",
    identify,
    local_command,
    local_stop: None,
};

/// A NATS server greets every connection with `INFO {json}`; its `version` names the server.
fn identify(endpoint: &str, timeout: Duration) -> Result<(String, String)> {
    let fail = |why: String| CallError::Connect { transport: "nats", endpoint: redact(endpoint), source: why.into() };
    let addrs = socket_addrs(endpoint, BROKER.default_port)?;
    let stream = TcpStream::connect_timeout(&addrs[0], timeout).map_err(|e| fail(e.to_string()))?;
    stream.set_read_timeout(Some(timeout)).map_err(|e| fail(e.to_string()))?;
    let mut line = String::new();
    // One line, at most 64 KiB (an INFO line is a few hundred bytes).
    BufReader::new(stream.take(64 * 1024)).read_line(&mut line).map_err(|e| fail(format!("no INFO greeting: {e}")))?;
    let info = line.strip_prefix("INFO ").ok_or_else(|| fail(format!("not a NATS greeting: {:.60}", line.trim())))?;
    let info: serde_json::Value = serde_json::from_str(info).map_err(|e| fail(format!("bad INFO: {e}")))?;
    let version = info.get("version").and_then(|v| v.as_str()).unwrap_or("unknown").to_owned();
    Ok(("nats-server".to_owned(), version))
}

fn local_command(dir: &Path) -> Result<Command> {
    if !Path::new(BIN).exists() {
        return Err(Error::Config(format!("nats: {BIN} is missing; run harness/scripts/install-deps.sh")));
    }
    let mut command = Command::new(BIN);
    command
        .args(["--addr", "127.0.0.1", "--port", &LOCAL_NATS_PORT.to_string()])
        .arg("--pid")
        .arg(dir.join("nats-server.pid"))
        .arg("--log")
        .arg(dir.join("nats-server.log"));
    Ok(command)
}
