//! What runs where for one arm of an experiment:
//!
//! - a direct server: one `paybench serve` process;
//! - N direct backends: N `paybench serve` processes behind an L4 load balancer ([`Balancer`],
//!   HAProxy in TCP mode, round robin per connection);
//! - a broker arm's queue group of W worker processes, each with its arm's `workers` connections.
//!
//! Every process is supervised ([`Supervised`]); events act on all the servers or workers (never
//! on the balancer), and `scale` starts or stops workers until the group has its new size. A
//! direct arm scales the way a deployment behind an L4 balancer does: every backend it will have
//! is started (idle) with the balancer, those past `processes` out of rotation, and `scale` puts
//! them in rotation through HAProxy's runtime API ([`BalancerControl`]), as a new instance
//! passing its readiness check would be.
//!
//! The hops a call crosses follow from it ([`Hops`]): client → server; client → balancer → one
//! backend; client → broker → one worker of the group → broker → client.

use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::supervise::{ProcessSpec, Ready, Signal, Supervised};
use crate::{Error, Result};

/// The hops a call crosses, for the wire probe and the record.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Hops {
    /// Client → server.
    Direct,
    /// Client → L4 balancer → one of N backends.
    Balanced,
    /// Client → broker → one worker of the group → broker → client.
    Broker,
}

impl Hops {
    /// The hops in words.
    pub fn describe(self) -> &'static str {
        match self {
            Hops::Direct => "client → server",
            Hops::Balanced => "client → L4 balancer → one backend",
            Hops::Broker => "client → broker → one worker → broker → client",
        }
    }
}

/// The endpoint a `paybench serve` ready line names (`serving ARM on ENDPOINT pid N`).
pub fn served_endpoint(ready_line: &str) -> Option<String> {
    ready_line
        .split_once(" on ")
        .and_then(|(_, rest)| rest.split_once(" pid "))
        .map(|(endpoint, _)| endpoint.to_owned())
}

/// The supervised server processes of one arm.
#[derive(Debug)]
pub struct Servers {
    template: ProcessSpec,
    members: Vec<Supervised>,
    /// Processes started so far, for distinct log files.
    started: usize,
}

impl Servers {
    /// Starts `processes` copies of `template`, one after the other, each ready before the next.
    pub fn start(template: ProcessSpec, processes: usize) -> Result<Self> {
        let mut servers = Self { template, members: Vec::new(), started: 0 };
        servers.scale(processes.max(1))?;
        Ok(servers)
    }

    /// The first process (a direct server's only one).
    pub fn first(&self) -> &Supervised {
        &self.members[0]
    }

    /// Every process's pid, in start order.
    pub fn pids(&self) -> Vec<u32> {
        self.members.iter().map(Supervised::pid).collect()
    }

    /// How many processes the group has.
    pub fn len(&self) -> usize {
        self.members.len()
    }

    /// Whether it has none (never after a successful start).
    pub fn is_empty(&self) -> bool {
        self.members.is_empty()
    }

    /// Arguments for every later start and restart (a direct server rebinds its first address).
    pub fn set_args(&mut self, args: Vec<String>) {
        for member in &mut self.members {
            member.set_args(args.clone());
        }
        self.template.args = args;
    }

    /// Each process's endpoint, from its ready line (direct servers).
    pub fn endpoints(&self) -> Result<Vec<String>> {
        self.members
            .iter()
            .map(|m| {
                served_endpoint(m.ready_line()).ok_or_else(|| {
                    Error::Internal(format!(
                        "{}: cannot read the endpoint from {:?}",
                        self.template.name,
                        m.ready_line()
                    ))
                })
            })
            .collect()
    }

    /// Arguments for the later restarts of process `i` alone (a backend rebinds its own address).
    pub fn set_member_args(&mut self, i: usize, args: Vec<String>) {
        if let Some(member) = self.members.get_mut(i) {
            member.set_args(args);
        }
    }

    /// Sends `signal` to every process; whether each was running to receive it.
    pub fn signal_all(&mut self, signal: Signal) -> bool {
        // Every process gets the signal, even after one that was not running.
        let sent: Vec<bool> = self.members.iter_mut().map(|m| m.signal(signal)).collect();
        sent.into_iter().all(|s| s)
    }

    /// Whether any process still runs.
    pub fn any_running(&mut self) -> bool {
        self.members.iter_mut().any(Supervised::running)
    }

    /// Starts every process again (after a kill).
    pub fn restart_all(&mut self) -> Result<()> {
        self.members.iter_mut().try_for_each(Supervised::restart)
    }

    /// Starts processes (each ready before the next) or stops the newest ones (SIGTERM, then
    /// SIGKILL after a grace) until there are `to`.
    pub fn scale(&mut self, to: usize) -> Result<()> {
        if to == 0 {
            return Err(Error::Config(format!("{}: a group needs at least one process", self.template.name)));
        }
        while self.members.len() < to {
            let mut spec = self.template.clone();
            spec.log = member_log(&self.template.log, self.started);
            spec.name = format!("{} #{}", self.template.name, self.started + 1);
            self.members.push(Supervised::spawn(spec)?);
            self.started += 1;
        }
        while self.members.len() > to {
            if let Some(member) = self.members.pop() {
                member.shutdown();
            }
        }
        Ok(())
    }

    /// Stops every process (SIGTERM, then SIGKILL after a grace).
    pub fn shutdown(self) {
        for member in self.members {
            member.shutdown();
        }
    }
}

/// An L4 (TCP) load balancer in front of a direct arm's backends: HAProxy in `mode tcp` with
/// `balance roundrobin`, so each new connection goes to the next backend. It forwards bytes, not
/// calls: a client that multiplexes its calls over one connection (gRPC over HTTP/2) reaches one
/// backend for as long as that connection lives, and a client with a pool of connections spreads
/// over as many backends as it has connections. No health checks: a connection sent to a backend
/// that is down fails, and the caller is told.
#[derive(Debug)]
pub struct Balancer {
    proxy: Supervised,
    endpoint: String,
    version: String,
    control: BalancerControl,
}

/// Puts a running balancer's backends in rotation: HAProxy's runtime API on a UNIX socket
/// (`enable server`), shared with the events thread.
#[derive(Debug, Clone)]
pub struct BalancerControl {
    socket: PathBuf,
    backends: usize,
    in_rotation: std::sync::Arc<std::sync::atomic::AtomicUsize>,
}

/// How long one runtime API command may take.
const CONTROL_WITHIN: Duration = Duration::from_secs(2);

impl BalancerControl {
    /// Backends in rotation now.
    pub fn in_rotation(&self) -> usize {
        self.in_rotation.load(std::sync::atomic::Ordering::Relaxed)
    }

    /// Puts backends in rotation until `to` are (never more than it has; never fewer than now).
    pub fn scale(&self, to: usize) -> Result<()> {
        if to > self.backends {
            return Err(Error::Config(format!(
                "the balancer has {} backends, and {to} were asked to be in rotation",
                self.backends
            )));
        }
        for i in self.in_rotation()..to {
            self.command(&format!("enable server paybench/backend{}", i + 1))?;
            self.in_rotation.store(i + 1, std::sync::atomic::Ordering::Relaxed);
        }
        Ok(())
    }

    /// Sends one command; HAProxy answers an empty line when it did it, else the reason.
    fn command(&self, command: &str) -> Result<()> {
        use std::io::{Read, Write};
        let fail =
            |e: std::io::Error| Error::io(format!("haproxy runtime API {}: {command}", self.socket.display()), e);
        let mut stream = std::os::unix::net::UnixStream::connect(&self.socket).map_err(fail)?;
        stream.set_read_timeout(Some(CONTROL_WITHIN)).map_err(fail)?;
        stream.write_all(format!("{command}\n").as_bytes()).map_err(fail)?;
        let mut answer = String::new();
        stream.read_to_string(&mut answer).map_err(fail)?;
        if answer.trim().is_empty() {
            Ok(())
        } else {
            Err(Error::Config(format!("haproxy runtime API: `{command}`: {}", answer.trim())))
        }
    }
}

/// How long HAProxy may take to accept its first connection.
const BALANCER_READY_WITHIN: Duration = Duration::from_secs(10);

impl Balancer {
    /// Starts HAProxy on a free loopback port in front of `backends` (`host:port` each), the first
    /// `in_rotation` of them in rotation and the others held out until [`BalancerControl::scale`];
    /// its configuration and log go to `log_dir`, named after `name`, its runtime API socket to
    /// the temporary directory.
    pub fn start(name: &str, backends: &[String], in_rotation: usize, log_dir: &Path) -> Result<Self> {
        let program = haproxy()?;
        let version = haproxy_version(&program);
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .map_err(|e| Error::io("bind 127.0.0.1:0 for the balancer's port", e))?
            .port();
        let endpoint = format!("127.0.0.1:{port}");
        let stem: String = name.chars().map(|c| if c.is_ascii_alphanumeric() || c == '-' { c } else { '_' }).collect();
        let config = log_dir.join(format!("{stem}-haproxy.cfg"));
        std::fs::create_dir_all(log_dir).map_err(|e| Error::io(format!("create {}", log_dir.display()), e))?;
        // HAProxy reads a socket path that does not start with `/` as an address, and a UNIX
        // socket's path has at most 107 bytes: a short absolute one in the temporary directory.
        let socket = std::env::temp_dir().join(format!("paybench-haproxy-{}-{port}.sock", std::process::id()));
        let in_rotation = in_rotation.clamp(1, backends.len());
        std::fs::write(&config, haproxy_config(&endpoint, backends, in_rotation, &socket))
            .map_err(|e| Error::io(format!("write {}", config.display()), e))?;
        let proxy = Supervised::spawn(ProcessSpec {
            name: format!("{name} balancer"),
            program,
            args: vec!["-f".to_owned(), config.display().to_string(), "-db".to_owned()],
            ready: Ready::Accepts(endpoint.clone()),
            ready_within: BALANCER_READY_WITHIN,
            log: log_dir.join(format!("{stem}-haproxy.log")),
        })?;
        let control = BalancerControl {
            socket,
            backends: backends.len(),
            in_rotation: std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(in_rotation)),
        };
        Ok(Self { proxy, endpoint, version, control })
    }

    /// What puts its backends in rotation.
    pub fn control(&self) -> BalancerControl {
        self.control.clone()
    }

    /// Where clients connect.
    pub fn endpoint(&self) -> &str {
        &self.endpoint
    }

    /// The balancer in words, for the record.
    pub fn describe(&self) -> String {
        format!(
            "HAProxy {} (TCP, round robin per connection) at {}, pid {}",
            self.version,
            self.endpoint,
            self.proxy.pid()
        )
    }

    /// Stops it.
    pub fn shutdown(self) {
        self.proxy.shutdown();
        let _ = std::fs::remove_file(&self.control.socket);
    }
}

/// The configuration of a TCP round-robin balancer listening on `endpoint`, the backends past the
/// first `in_rotation` held out (`disabled`: maintenance), its runtime API on `socket`.
fn haproxy_config(endpoint: &str, backends: &[String], in_rotation: usize, socket: &Path) -> String {
    let servers: String = backends
        .iter()
        .enumerate()
        .map(|(i, b)| format!("    server backend{} {b}{}\n", i + 1, if i < in_rotation { "" } else { " disabled" }))
        .collect();
    let socket = socket.display();
    // Timeouts long enough for any experiment; the calls' own deadlines are the client's.
    format!(
        "global\n    maxconn 4096\n    stats socket {socket} mode 600 level admin\n\ndefaults\n    mode tcp\n    timeout connect 2s\n    timeout client 1h\n    timeout server 1h\n\nlisten paybench\n    bind {endpoint}\n    balance roundrobin\n{servers}"
    )
}

/// HAProxy's binary: on the `PATH`, or where Debian installs it.
fn haproxy() -> Result<PathBuf> {
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .chain(["/usr/sbin", "/usr/local/sbin"].map(PathBuf::from))
        .map(|dir| dir.join("haproxy"))
        .find(|p| p.is_file())
        .ok_or_else(|| {
            Error::Config(
                "haproxy not found on the PATH or in /usr/sbin: N direct backends need it as their L4 balancer; `harness/scripts/install-deps.sh` installs it (Debian package haproxy)".to_owned(),
            )
        })
}

/// `2.6.12-1+deb12u1` from `haproxy -v`'s first line, or `unknown version`.
fn haproxy_version(program: &Path) -> String {
    std::process::Command::new(program)
        .arg("-v")
        .output()
        .ok()
        .and_then(|o| {
            let text = String::from_utf8_lossy(&o.stdout).into_owned();
            let first = text.lines().next()?.to_owned();
            first.split_whitespace().skip_while(|w| *w != "version").nth(1).map(str::to_owned)
        })
        .unwrap_or_else(|| "unknown version".to_owned())
}

/// The log of the `n`-th process started (from 0): the template's for the first, then `-p2`, ...
fn member_log(log: &std::path::Path, n: usize) -> PathBuf {
    if n == 0 {
        return log.to_path_buf();
    }
    let stem = log.file_stem().map(|s| s.to_string_lossy().into_owned()).unwrap_or_default();
    log.with_file_name(format!("{stem}-p{}.log", n + 1))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    /// A shell that prints a ready line and waits: stands in for `paybench serve`.
    fn sleeper(dir: &std::path::Path) -> ProcessSpec {
        ProcessSpec {
            name: "sleeper".to_owned(),
            program: PathBuf::from("/bin/sh"),
            args: ["-c", "echo \"serving sleeper pid $$\"; exec sleep 30"].map(str::to_owned).to_vec(),
            ready: Ready::Line("serving ".to_owned()),
            ready_within: Duration::from_secs(5),
            log: dir.join("sleeper.log"),
        }
    }

    #[test]
    fn the_endpoint_is_read_from_a_ready_line_and_the_balancer_config_lists_every_backend() {
        assert_eq!(served_endpoint("serving grpc on 127.0.0.1:4711 pid 12").as_deref(), Some("127.0.0.1:4711"));
        assert_eq!(served_endpoint("serving grpc"), None);
        let backends = ["127.0.0.1:1".to_owned(), "127.0.0.1:2".to_owned()];
        let config = haproxy_config("127.0.0.1:9", &backends, 2, Path::new("/tmp/b.sock"));
        assert!(
            config.contains("mode tcp") && config.contains("balance roundrobin") && config.contains("bind 127.0.0.1:9")
        );
        assert!(
            config.contains("server backend1 127.0.0.1:1\n") && config.contains("server backend2 127.0.0.1:2\n"),
            "{config}"
        );
        assert!(config.contains("stats socket /tmp/b.sock mode 600 level admin"), "{config}");
        let held = haproxy_config("127.0.0.1:9", &backends, 1, Path::new("/tmp/b.sock"));
        assert!(held.contains("server backend2 127.0.0.1:2 disabled\n"), "{held}");
    }

    #[test]
    fn a_group_scales_up_and_down_and_every_process_gets_the_signal() {
        let dir = std::env::temp_dir().join(format!("paybench-topology-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let mut group = Servers::start(sleeper(&dir), 1).unwrap();
        assert_eq!(group.len(), 1);
        group.scale(3).unwrap();
        let pids = group.pids();
        assert_eq!(pids.len(), 3);
        assert!(pids.iter().all(|p| crate::supervise::alive(*p)), "{pids:?}");
        assert!(group.signal_all(Signal::Stop));
        assert!(crate::supervise::wait_until(Duration::from_secs(2), || pids
            .iter()
            .all(|p| crate::supervise::stopped(*p))));
        assert!(group.signal_all(Signal::Continue));
        group.scale(1).unwrap();
        assert_eq!(group.pids(), pids[..1]);
        assert!(crate::supervise::wait_until(Duration::from_secs(6), || !crate::supervise::alive(pids[2])));
        assert!(group.scale(0).unwrap_err().to_string().contains("at least one"));
        assert_eq!(member_log(&dir.join("a.log"), 2), dir.join("a-p3.log"));
        group.shutdown();
        let _ = std::fs::remove_dir_all(&dir);
    }
}
