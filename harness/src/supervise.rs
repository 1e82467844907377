//! The one home of process control: signals to a pid (stop, continue, terminate, kill), whether it
//! is alive, waiting until it is gone, and [`Supervised`], a child process the suite started,
//! with its ready line, log and restart.
//!
//! Servers and workers of the timeline experiments run as supervised `paybench serve` children,
//! so that an event acts on a real process (SIGSTOP freezes its every thread, SIGKILL ends it as a
//! crash would). The managed brokers (`crate::brokers`) are detached processes that outlive the
//! command that started them; they use the signal functions here, never a `kill` command.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::{Error, Result};

/// What a signal asks of a process.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Signal {
    /// SIGSTOP: frozen, every thread, until [`Signal::Continue`]; its sockets stay open.
    Stop,
    /// SIGCONT.
    Continue,
    /// SIGTERM: asked to stop gracefully.
    Terminate,
    /// SIGKILL: ended at once, as a crash would; the kernel closes its sockets.
    Kill,
}

impl Signal {
    fn number(self) -> libc::c_int {
        match self {
            Signal::Stop => libc::SIGSTOP,
            Signal::Continue => libc::SIGCONT,
            Signal::Terminate => libc::SIGTERM,
            Signal::Kill => libc::SIGKILL,
        }
    }
}

/// Sends `signal` to `pid`; `false` when no such process could be signalled.
pub fn send(pid: u32, signal: Signal) -> bool {
    let Ok(pid) = libc::pid_t::try_from(pid) else { return false };
    // SAFETY: kill(2) has no memory effects on this process; callers pass a pid they started.
    unsafe { libc::kill(pid, signal.number()) == 0 }
}

/// Sends `signal` to every process of the process group `pgid` (a detached broker's launcher
/// and the broker it started); `false` when none could be signalled.
pub fn send_group(pgid: u32, signal: Signal) -> bool {
    let Ok(pgid) = libc::pid_t::try_from(pgid) else { return false };
    // SAFETY: killpg(2) has no memory effects on this process; callers pass a group they started.
    unsafe { libc::killpg(pgid, signal.number()) == 0 }
}

/// Whether any process of the process group `pgid` still runs. A killed group's members die one
/// by one, and a multi-threaded process (RabbitMQ's beam.smp, a JVM) shows its main thread as a
/// zombie while its other threads still tear down and still hold its sockets: a process counts
/// as gone only when none of its threads runs.
pub fn group_alive(pgid: u32) -> bool {
    let Ok(entries) = std::fs::read_dir("/proc") else { return false };
    entries.flatten().any(|e| {
        if !e.file_name().to_str().is_some_and(|n| n.bytes().all(|b| b.is_ascii_digit())) {
            return false;
        }
        let Ok(tasks) = std::fs::read_dir(e.path().join("task")) else { return false };
        tasks.flatten().any(|task| {
            let Ok(stat) = std::fs::read_to_string(task.path().join("stat")) else { return false };
            // `tid (comm) state ppid pgrp ...`: comm may contain spaces, so split after the last ')'.
            let Some((_, tail)) = stat.rsplit_once(')') else { return false };
            let mut fields = tail.split_whitespace();
            let state = fields.next().unwrap_or("Z");
            let pgrp = fields.nth(1).and_then(|f| f.parse::<u32>().ok());
            pgrp == Some(pgid) && state != "Z" && state != "X"
        })
    })
}

/// The scheduler state letter of `/proc/<pid>/stat` (`R`, `S`, `T` stopped, `Z` zombie, ...).
pub fn state(pid: u32) -> Option<char> {
    std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .ok()
        .and_then(|stat| stat.rsplit_once(')').and_then(|(_, rest)| rest.trim_start().chars().next()))
}

/// Whether `pid` is a running process: it exists and is not a zombie (a child that died while its
/// parent still runs stays a zombie until it is reaped).
pub fn alive(pid: u32) -> bool {
    state(pid).is_some_and(|s| s != 'Z' && s != 'X')
}

/// Whether `pid` is stopped by a signal (state `T`).
pub fn stopped(pid: u32) -> bool {
    state(pid) == Some('T')
}

/// Pause between an async caller's checks of a process's state.
const POLL_INTERVAL: Duration = Duration::from_millis(20);
/// Pause between a blocking caller's checks: a /proc read or a `waitpid`, cheap enough that an
/// event's effect is seen within a millisecond.
const POLL_BLOCKING: Duration = Duration::from_millis(1);

/// Checks `done` until it holds, at most `within`; whether it held. The one polling loop of the
/// blocking callers (an event waiting for its effect, a shutdown waiting for the exit).
pub fn wait_until(within: Duration, mut done: impl FnMut() -> bool) -> bool {
    let started = Instant::now();
    while !done() {
        if started.elapsed() >= within {
            return false;
        }
        std::thread::sleep(POLL_BLOCKING);
    }
    true
}

/// Waits until `pid` has exited (or is a zombie), at most `deadline`; whether it is gone.
pub async fn wait_gone(pid: u32, deadline: Duration) -> bool {
    wait_while(deadline, || alive(pid)).await
}

/// Waits until no process of group `pgid` runs, at most `deadline`; whether none does.
pub async fn wait_group_gone(pgid: u32, deadline: Duration) -> bool {
    wait_while(deadline, || group_alive(pgid)).await
}

/// The async callers' polling loop: checks `running` until it stops holding, at most
/// `deadline`; whether it stopped.
async fn wait_while(deadline: Duration, running: impl Fn() -> bool) -> bool {
    let started = Instant::now();
    while running() && started.elapsed() < deadline {
        tokio::time::sleep(POLL_INTERVAL).await;
    }
    !running()
}

/// How a supervised process shows it is ready.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Ready {
    /// It prints a line on stdout that starts with this (`paybench serve`'s `serving ...`).
    Line(String),
    /// It accepts a TCP connection at this address (a proxy that prints nothing).
    Accepts(String),
}

/// How to run one supervised process.
#[derive(Debug, Clone)]
pub struct ProcessSpec {
    /// Names the process in errors and logs (`grpc server`).
    pub name: String,
    /// The program and its arguments.
    pub program: PathBuf,
    /// Arguments.
    pub args: Vec<String>,
    /// How it shows it is ready.
    pub ready: Ready,
    /// How long it may take to get ready.
    pub ready_within: Duration,
    /// Where its stderr goes (appended across restarts).
    pub log: PathBuf,
}

/// A child process the suite started and controls: its pid, its ready line, its log.
#[derive(Debug)]
pub struct Supervised {
    spec: ProcessSpec,
    child: Child,
    ready_line: String,
    started: u32,
}

/// How long [`Supervised::shutdown`] waits after SIGTERM before SIGKILL.
pub const TERMINATE_GRACE: Duration = Duration::from_secs(5);

impl Supervised {
    /// Starts the process and waits for its ready line; on failure it is killed and the error
    /// quotes the end of its log.
    pub fn spawn(spec: ProcessSpec) -> Result<Self> {
        let (child, ready_line) = start(&spec)?;
        Ok(Self { spec, child, ready_line, started: 1 })
    }

    /// The line that said it was ready (`serving grpc on 127.0.0.1:4711 pid 123`), or
    /// `accepting on ADDRESS` for [`Ready::Accepts`].
    pub fn ready_line(&self) -> &str {
        &self.ready_line
    }

    /// The current process's pid.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Its log file.
    pub fn log(&self) -> &Path {
        &self.spec.log
    }

    /// How many times it was started (1 + restarts).
    pub fn starts(&self) -> u32 {
        self.started
    }

    /// Whether the process runs (stopped counts as running).
    pub fn running(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(None))
    }

    /// Sends `signal`; whether the process took it (it existed).
    pub fn signal(&mut self, signal: Signal) -> bool {
        self.running() && send(self.pid(), signal)
    }

    /// Kills the process if it still runs, reaps it, and starts it again with the same spec
    /// (arguments may be changed first with [`Supervised::set_args`]).
    pub fn restart(&mut self) -> Result<()> {
        self.kill_and_reap();
        let (child, ready_line) = start(&self.spec)?;
        (self.child, self.ready_line) = (child, ready_line);
        self.started += 1;
        Ok(())
    }

    /// Replaces the arguments used by the next [`Supervised::restart`] (e.g. to bind the port the
    /// first start picked).
    pub fn set_args(&mut self, args: Vec<String>) {
        self.spec.args = args;
    }

    /// SIGCONT (a stopped process cannot act on SIGTERM), SIGTERM, then SIGKILL after
    /// [`TERMINATE_GRACE`]; reaps it.
    pub fn shutdown(mut self) {
        if self.running() {
            send(self.pid(), Signal::Continue);
            send(self.pid(), Signal::Terminate);
            wait_until(TERMINATE_GRACE, || !self.running());
        }
        self.kill_and_reap();
    }

    fn kill_and_reap(&mut self) {
        if self.running() {
            let _ = self.child.kill();
        }
        let _ = self.child.wait();
    }
}

impl Drop for Supervised {
    fn drop(&mut self) {
        // Never leave a child behind (a panic, an early return): it would hold its port.
        self.kill_and_reap();
    }
}

/// The last `lines` lines of a log file, joined by " | ", for error messages.
pub(crate) fn log_tail(path: &Path, lines: usize) -> String {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    let tail: Vec<&str> = text.lines().filter(|l| !l.trim().is_empty()).collect();
    let tail = &tail[tail.len().saturating_sub(lines)..];
    if tail.is_empty() {
        "(empty log)".to_owned()
    } else {
        tail.join(" | ")
    }
}

fn start(spec: &ProcessSpec) -> Result<(Child, String)> {
    let io = |what: &str, e| Error::io(format!("{}: {what} {}", spec.name, spec.log.display()), e);
    if let Some(dir) = spec.log.parent() {
        std::fs::create_dir_all(dir).map_err(|e| io("create the folder of", e))?;
    }
    let log = std::fs::OpenOptions::new().create(true).append(true).open(&spec.log).map_err(|e| io("open", e))?;
    let mut child = Command::new(&spec.program)
        .args(&spec.args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(log)
        .spawn()
        .map_err(|e| Error::io(format!("{}: start {}", spec.name, spec.program.display()), e))?;
    let stdout = child.stdout.take().ok_or_else(|| Error::Internal(format!("{}: no stdout pipe", spec.name)))?;
    // The ready line is read on a thread of its own, so that the wait is bounded even when the
    // child prints nothing; the thread then drains stdout until the child exits.
    let (tx, rx) = std::sync::mpsc::channel();
    let prefix = match &spec.ready {
        Ready::Line(prefix) => Some(prefix.clone()),
        Ready::Accepts(_) => None,
    };
    std::thread::spawn(move || {
        let mut tx = Some(tx);
        for line in BufReader::new(stdout).lines().map_while(std::io::Result::ok) {
            if prefix.as_ref().is_some_and(|p| line.starts_with(p.as_str())) {
                if let Some(tx) = tx.take() {
                    let _ = tx.send(line);
                }
            }
        }
    });
    let ready = match &spec.ready {
        Ready::Line(_) => rx.recv_timeout(spec.ready_within).ok(),
        Ready::Accepts(address) => {
            let accepts = wait_until(spec.ready_within, || accepts(address) || !matches!(child.try_wait(), Ok(None)))
                && matches!(child.try_wait(), Ok(None));
            accepts.then(|| format!("accepting on {address}"))
        }
    };
    match ready {
        Some(line) => Ok((child, line)),
        None => {
            let _ = child.kill();
            let status = child.wait().map(|s| s.to_string()).unwrap_or_default();
            let tail = log_tail(&spec.log, 5);
            let awaited = match &spec.ready {
                Ready::Line(prefix) => format!("no line starting {prefix:?}"),
                Ready::Accepts(address) => format!("no connection accepted at {address}"),
            };
            Err(Error::Internal(format!(
                "{}: {awaited} within {:?} ({status}); log {}: {tail}",
                spec.name,
                spec.ready_within,
                spec.log.display()
            )))
        }
    }
}

/// Whether something accepts a TCP connection at `address` (within 100 ms).
fn accepts(address: &str) -> bool {
    use std::net::ToSocketAddrs;
    let Some(addr) = address.to_socket_addrs().ok().and_then(|mut a| a.next()) else { return false };
    std::net::TcpStream::connect_timeout(&addr, Duration::from_millis(100)).is_ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scratch(name: &str) -> PathBuf {
        std::env::temp_dir().join(format!("paybench-supervise-{name}-{}", std::process::id()))
    }

    fn shell(script: &str, dir: &Path) -> ProcessSpec {
        ProcessSpec {
            name: "test child".to_owned(),
            program: PathBuf::from("/bin/sh"),
            args: vec!["-c".to_owned(), script.to_owned()],
            ready: Ready::Line("ready".to_owned()),
            ready_within: Duration::from_secs(5),
            log: dir.join("child.log"),
        }
    }

    #[test]
    fn a_killed_group_is_gone_only_when_its_last_member_is() {
        use std::os::unix::process::CommandExt;
        // A launcher whose child outlives it, as RabbitMQ's shell script and its beam.smp.
        let mut launcher = std::process::Command::new("sh")
            .args(["-c", "sleep 30 & wait"])
            .process_group(0)
            .spawn()
            .expect("spawn sh");
        let pgid = launcher.id();
        assert!(wait_until(Duration::from_secs(5), || crate::measure::cpu::find_child(pgid, &["sleep"]).is_some()));
        let child = crate::measure::cpu::find_child(pgid, &["sleep"]).expect("the launcher's child");
        assert!(group_alive(pgid));
        // The launcher alone gone: the group still runs.
        assert!(send(pgid, Signal::Kill));
        let _ = launcher.wait();
        assert!(alive(child) && group_alive(pgid), "the child outlives its launcher");
        assert!(send_group(pgid, Signal::Kill));
        assert!(wait_until(Duration::from_secs(5), || !group_alive(pgid)), "the whole group is gone");
    }

    #[test]
    fn a_child_is_stopped_continued_killed_and_restarted() {
        let dir = scratch("restart");
        let mut child = Supervised::spawn(shell("echo ready $$; exec sleep 30", &dir)).unwrap();
        let first = child.pid();
        assert!(child.ready_line().starts_with("ready"));
        assert!(child.signal(Signal::Stop));
        assert!(wait_until(Duration::from_secs(5), || stopped(first)), "SIGSTOP took effect");
        assert!(child.signal(Signal::Continue));
        assert!(child.signal(Signal::Kill));
        assert!(wait_until(Duration::from_secs(5), || !child.running()), "SIGKILL took effect");
        assert!(!child.signal(Signal::Stop), "a dead child takes no signal");
        child.restart().unwrap();
        assert_ne!(child.pid(), first);
        assert_eq!(child.starts(), 2);
        let second = child.pid();
        child.shutdown();
        assert!(!alive(second));
    }

    #[test]
    fn a_child_that_accepts_connections_is_ready_and_one_that_never_does_is_named() {
        let dir = scratch("accepts");
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let address = listener.local_addr().unwrap().to_string();
        // The listener stands for the child's socket: the child is ready once it accepts.
        let mut spec = shell("exec sleep 30", &dir);
        spec.ready = Ready::Accepts(address.clone());
        let child = Supervised::spawn(spec.clone()).unwrap();
        assert_eq!(child.ready_line(), format!("accepting on {address}"));
        child.shutdown();
        drop(listener);
        spec.ready_within = Duration::from_millis(500);
        let e = Supervised::spawn(spec).unwrap_err().to_string();
        assert!(e.contains("no connection accepted at") && e.contains(&address), "{e}");
    }

    #[test]
    fn a_child_that_never_gets_ready_is_named_with_its_log() {
        let dir = scratch("never-ready");
        let mut spec = shell("echo 'bad flag --x' >&2; exit 3", &dir);
        spec.ready_within = Duration::from_secs(2);
        let e = Supervised::spawn(spec).unwrap_err().to_string();
        assert!(e.contains("test child") && e.contains("bad flag --x"), "{e}");
    }
}
