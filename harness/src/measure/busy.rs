//! Busy shares by role, and the one rule that names a window's bottleneck.
//!
//! A role (the client, the in-process server, the broker) is **busy** for the time its threads
//! run on a CPU *plus* the time they wait on a run queue for one: `/proc/<pid>/task/*/schedstat`
//! fields 1 and 2, in nanoseconds. Counting the wait matters on a small machine: a thread that is
//! ready but not running is as stuck as one that runs, and CPU time alone misses it (the first
//! wave's generator-bound test read CPU only and never fired).
//!
//! Over a window of `elapsed` seconds, a role's **busy share** is the larger of
//! - its busy time over `elapsed × cores`, `cores` being the CPUs it may run on (its pinned set,
//!   or every core when unpinned): the role has used the cores it has; and
//! - its busiest thread's busy time over `elapsed`: one thread at 100 % is a serial stage (the
//!   client runtime's one worker, a single-threaded server loop, `sim`'s one worker) that limits
//!   the role however many cores are free.
//!
//! **The rule** ([`bottleneck`]): the role with the highest share, if that share is at least
//! [`SATURATED_SHARE`], is the bottleneck (`client`, `server` or `broker`); otherwise `machine`
//! when the whole machine's CPUs (from `/proc/stat`, every process, steal included) were at least
//! [`SATURATED_SHARE`] busy; otherwise `none`: no resource this suite can see was saturated, and
//! what limited the window was latency itself (batching, a timer, a lock), not capacity.
//!
//! **Foreign CPU**: the machine's busy cores minus the on-CPU time of everything the suite knows
//! (the roles, this process's other threads, the suite's other processes such as idle local
//! brokers) and minus interrupt time (the kernel's work for the window's own sockets). The
//! machine's busy cores are its CPUs minus their **idle** time from `/proc/stat`, which a tickless
//! kernel measures exactly when a CPU goes idle. Not the busy fields (`user`, `system`): those are
//! sampled at the timer tick, and a load paced at 1000 calls/s runs in phase with a 1 kHz tick,
//! so they read up to 0.6 cores too busy or too idle depending on the phase. Not the sum of every
//! thread's counter either: a thread that exits inside the window takes its time with it, and a
//! neighbour that forks short-lived processes would go unseen. A window with more than
//! [`FOREIGN_CORES_LIMIT`] is **contaminated**: something else ran beside it, and on two cores
//! that moves tails and capacities without any role looking busy. The runner re-runs such a
//! window (`load::runner`).

use std::collections::HashMap;
use std::fs;
use std::path::Path;

use std::time::Instant;

use super::cpu::{CpuSources, CLIENT_THREAD_PREFIX, SERVER_THREAD_PREFIX};
/// The window's busy shares, as results record them (plain records in the model crate).
pub use paybench_model::results::busy::{BusyShares, FOREIGN_CORES_LIMIT, SATURATED_SHARE};

/// Per-thread busy time of one role at one instant: thread id → (on-CPU ns, run-queue wait ns).
#[derive(Debug, Clone, Default)]
pub struct ThreadTimes(HashMap<u32, (u64, u64)>);

impl ThreadTimes {
    /// Threads of process `proc_dir` (`/proc/self`, `/proc/<pid>`) whose name `keep` accepts.
    pub fn read(proc_dir: &Path, keep: impl Fn(&str) -> bool) -> Self {
        let mut times = HashMap::new();
        let Ok(tasks) = fs::read_dir(proc_dir.join("task")) else { return Self(times) };
        for task in tasks.flatten() {
            let path = task.path();
            let comm = fs::read_to_string(path.join("comm")).unwrap_or_default();
            if !keep(comm.trim_end()) {
                continue;
            }
            let Some(tid) = task.file_name().to_str().and_then(|t| t.parse().ok()) else { continue };
            if let Some(pair) = fs::read_to_string(path.join("schedstat")).ok().and_then(|s| parse_schedstat(&s)) {
                times.insert(tid, pair);
            }
        }
        Self(times)
    }

    /// Whether any thread was read.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

/// `schedstat`'s first two fields: time on CPU and time waiting on a run queue, nanoseconds.
fn parse_schedstat(text: &str) -> Option<(u64, u64)> {
    let mut fields = text.split_whitespace();
    Some((fields.next()?.parse().ok()?, fields.next()?.parse().ok()?))
}

/// A role's busy share between two readings `elapsed_s` apart on `cores` CPUs (see the module
/// docs): `(share, busy cores)`. Threads that appeared in between count from zero; threads that
/// exited in between are lost (tokio's workers live as long as their runtime).
pub fn share(before: &ThreadTimes, after: &ThreadTimes, elapsed_s: f64, cores: usize) -> (f64, f64) {
    let elapsed_ns = (elapsed_s * 1e9).max(1.0);
    let mut total_ns = 0.0;
    let mut busiest_ns: f64 = 0.0;
    for (tid, &(cpu, wait)) in &after.0 {
        let (cpu0, wait0) = before.0.get(tid).copied().unwrap_or((0, 0));
        let busy = cpu.saturating_sub(cpu0) as f64 + wait.saturating_sub(wait0) as f64;
        total_ns += busy;
        busiest_ns = busiest_ns.max(busy);
    }
    let busy_cores = total_ns / elapsed_ns;
    let share = (busy_cores / cores.max(1) as f64).max(busiest_ns / elapsed_ns);
    (share, busy_cores)
}

/// On-CPU time of the threads in `after` since `before`, in cores over `elapsed_s` (run-queue
/// waits left out: `/proc/stat` counts only time on a CPU).
pub fn cpu_cores(before: &ThreadTimes, after: &ThreadTimes, elapsed_s: f64) -> f64 {
    let on_cpu_ns: u64 =
        after.0.iter().map(|(tid, &(cpu, _))| cpu.saturating_sub(before.0.get(tid).map_or(0, |&(cpu0, _)| cpu0))).sum();
    on_cpu_ns as f64 / 1e9 / elapsed_s.max(1e-9)
}

/// The machine's CPU counters from `/proc/stat` (all CPUs, clock ticks).
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct MachineTimes {
    /// Every tick.
    pub total: u64,
    /// Ticks not idle and not waiting for I/O.
    pub busy: u64,
    /// Ticks stolen by the hypervisor.
    pub steal: u64,
    /// Ticks idle or waiting for I/O (exact on a tickless kernel: see the module docs).
    pub idle: u64,
    /// Ticks in hard and soft interrupts.
    pub interrupts: u64,
    /// CPUs counted (the `cpuN` lines).
    pub cpus: usize,
}

impl MachineTimes {
    /// Reads `/proc/stat` (zeros if unreadable).
    pub fn read() -> Self {
        fs::read_to_string("/proc/stat").ok().and_then(|s| Self::parse(&s)).unwrap_or_default()
    }

    /// Parses the `cpu` line: user nice system idle iowait irq softirq steal.
    pub fn parse(stat: &str) -> Option<Self> {
        let line = stat.lines().find(|l| l.starts_with("cpu "))?;
        let v: Vec<u64> = line.split_whitespace().skip(1).filter_map(|f| f.parse().ok()).collect();
        let get = |i: usize| v.get(i).copied().unwrap_or(0);
        // guest and guest_nice (8, 9) are already inside user and nice.
        let total: u64 = v.iter().take(8).sum();
        let cpus =
            stat.lines().filter(|l| l.len() > 3 && l.starts_with("cpu") && l.as_bytes()[3].is_ascii_digit()).count();
        let idle = get(3) + get(4);
        Some(Self { total, busy: total - idle, steal: get(7), idle, interrupts: get(5) + get(6), cpus: cpus.max(1) })
    }

    /// Cores busy between `self` and `later`, `elapsed_s` apart, from idle time (not interrupts).
    pub fn busy_cores_until(&self, later: &Self, elapsed_s: f64) -> f64 {
        let ticks_per_s = super::cpu::clock_ticks_per_s() as f64 * elapsed_s.max(1e-9);
        let idle = later.idle.saturating_sub(self.idle) as f64 / ticks_per_s;
        let interrupts = later.interrupts.saturating_sub(self.interrupts) as f64 / ticks_per_s;
        later.cpus as f64 - idle - interrupts
    }

    /// Share of the machine's CPU time busy between `self` and `later`, and the share stolen.
    pub fn shares_until(&self, later: &Self) -> (f64, f64) {
        let total = later.total.saturating_sub(self.total).max(1) as f64;
        (later.busy.saturating_sub(self.busy) as f64 / total, later.steal.saturating_sub(self.steal) as f64 / total)
    }
}

/// The CPUs each role may run on (its pinned set, or every core).
#[derive(Debug, Clone, Copy)]
pub struct RoleCores {
    /// The client's.
    pub client: usize,
    /// The server's.
    pub server: usize,
    /// The broker's (never pinned by the suite: every core).
    pub broker: usize,
}

/// Per-thread busy times of every visible role, and the machine's, at one instant.
#[derive(Debug, Clone)]
pub struct BusySnapshot {
    at: Instant,
    client: ThreadTimes,
    server: Option<ThreadTimes>,
    broker: Option<ThreadTimes>,
    /// This process's threads outside the roles, and the suite's other processes.
    suite: ThreadTimes,

    machine: MachineTimes,
    load_average_1m: Option<f64>,
}

/// The 1-minute load average, if `/proc/loadavg` is readable.
pub fn load_average_1m() -> Option<f64> {
    fs::read_to_string("/proc/loadavg").ok()?.split_whitespace().next()?.parse().ok()
}

impl BusySnapshot {
    /// Reads the roles that `sources` names.
    pub fn take(sources: &CpuSources) -> Self {
        let own = Path::new("/proc/self");
        let pid_dir = |pid: u32| Path::new("/proc").join(pid.to_string());
        let server = match (sources.server_pid, sources.server_in_process) {
            (Some(pid), _) => Some(ThreadTimes::read(&pid_dir(pid), |_| true)),
            (None, true) => Some(ThreadTimes::read(own, |n| n.starts_with(SERVER_THREAD_PREFIX))),
            (None, false) => None,
        };
        Self {
            at: Instant::now(),
            client: ThreadTimes::read(own, |n| n.starts_with(CLIENT_THREAD_PREFIX)),
            server,
            broker: sources.broker_pid.map(|pid| ThreadTimes::read(&pid_dir(pid), |_| true)),
            suite: {
                let mut suite = ThreadTimes::read(own, |n| {
                    !n.starts_with(CLIENT_THREAD_PREFIX) && !n.starts_with(SERVER_THREAD_PREFIX)
                });
                for &pid in &sources.suite_pids {
                    suite.0.extend(ThreadTimes::read(&pid_dir(pid), |_| true).0);
                }
                suite
            },
            machine: MachineTimes::read(),
            load_average_1m: load_average_1m(),
        }
    }

    /// The shares between `self` and `later`, and the bottleneck they name.
    pub fn shares_until(&self, later: &Self, cores: RoleCores) -> BusyShares {
        let elapsed_s = (later.at - self.at).as_secs_f64();
        let role = |a: &Option<ThreadTimes>, b: &Option<ThreadTimes>, n: usize| match (a, b) {
            (Some(a), Some(b)) if !b.is_empty() => Some(share(a, b, elapsed_s, n).0),
            _ => None,
        };
        let client = share(&self.client, &later.client, elapsed_s, cores.client).0;
        let server = role(&self.server, &later.server, cores.server);
        let broker = role(&self.broker, &later.broker, cores.broker);
        let (machine, steal) = self.machine.shares_until(&later.machine);
        // A server in another process (`--server-pid`) is read as a whole process; in this
        // process its threads are `pb-server*`. Either way each thread counts once.
        let known_cores = cpu_cores(&self.client, &later.client, elapsed_s)
            + [(&self.server, &later.server), (&self.broker, &later.broker)]
                .iter()
                .filter_map(|(a, b)| Some(cpu_cores(a.as_ref()?, b.as_ref()?, elapsed_s)))
                .sum::<f64>()
            + cpu_cores(&self.suite, &later.suite, elapsed_s);
        let foreign_cores = (self.machine.busy_cores_until(&later.machine, elapsed_s) - known_cores).max(0.0);
        BusyShares {
            client,
            server,
            broker,
            machine,
            steal,
            load_average_1m: self.load_average_1m,
            foreign_cores: Some(foreign_cores),
            bottleneck: bottleneck(client, server, broker, machine).into(),
        }
    }
}

/// The one rule (module docs): which resource limited a window with these shares.
pub fn bottleneck(client: f64, server: Option<f64>, broker: Option<f64>, machine: f64) -> &'static str {
    let roles = [("client", Some(client)), ("server", server), ("broker", broker)];
    let top = roles.iter().filter_map(|(name, s)| Some((*name, (*s)?))).max_by(|a, b| a.1.total_cmp(&b.1));
    match top {
        Some((name, share)) if share >= SATURATED_SHARE => name,
        _ if machine >= SATURATED_SHARE => "machine",
        _ => "none",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn times(pairs: &[(u32, u64, u64)]) -> ThreadTimes {
        ThreadTimes(pairs.iter().map(|&(t, c, w)| (t, (c, w))).collect())
    }

    #[test]
    fn share_counts_wait_and_the_busiest_thread() {
        let before = times(&[(1, 0, 0), (2, 0, 0)]);
        // 1 s window on 2 cores: thread 1 ran 0.5 s and waited 0.45 s; thread 2 ran 0.1 s.
        let after = times(&[(1, 500_000_000, 450_000_000), (2, 100_000_000, 0)]);
        let (share, cores) = share(&before, &after, 1.0, 2);
        assert!((cores - 1.05).abs() < 1e-9, "{cores}");
        assert!((share - 0.95).abs() < 1e-9, "the busiest thread sets it: {share}");
        // CPU alone would have said 0.5: the wait is what shows the thread was stuck.
        let cpu_only = times(&[(1, 500_000_000, 0), (2, 100_000_000, 0)]);
        assert!(super::share(&before, &cpu_only, 1.0, 2).0 < SATURATED_SHARE);
        // A thread born inside the window counts from zero.
        let born = times(&[(1, 0, 0), (2, 0, 0), (3, 950_000_000, 0)]);
        assert!(super::share(&before, &born, 1.0, 2).0 >= 0.95);
    }

    #[test]
    fn share_of_all_cores_without_a_hot_thread() {
        let before = times(&[(1, 0, 0), (2, 0, 0), (3, 0, 0)]);
        let after = times(&[(1, 620_000_000, 0), (2, 620_000_000, 0), (3, 620_000_000, 0)]);
        let (share, _) = share(&before, &after, 1.0, 2);
        assert!((share - 0.93).abs() < 1e-9, "{share}");
    }

    #[test]
    fn the_rule() {
        assert_eq!(bottleneck(0.95, Some(0.5), None, 0.8), "client");
        assert_eq!(bottleneck(0.3, Some(0.97), Some(0.99), 0.99), "broker");
        assert_eq!(bottleneck(0.3, Some(0.92), None, 0.99), "server");
        assert_eq!(bottleneck(0.6, Some(0.6), None, 0.95), "machine");
        assert_eq!(bottleneck(0.2, None, None, 0.3), "none");
    }

    #[test]
    fn machine_times_from_proc_stat() {
        let stat = "cpu  100 0 50 800 50 0 0 0 0 0\ncpu0 1 2 3 4 5 6 7 8 0 0\n";
        let a = MachineTimes::parse(stat).unwrap();
        assert_eq!(a, MachineTimes { total: 1000, busy: 150, steal: 0, idle: 850, interrupts: 0, cpus: 1 });
        let b = MachineTimes::parse("cpu  300 0 150 900 50 0 0 100 0 0\n").unwrap();
        let (busy, steal) = a.shares_until(&b);
        assert!((busy - 400.0 / 500.0).abs() < 1e-9 && (steal - 0.2).abs() < 1e-9, "{busy} {steal}");
        assert!(MachineTimes::parse("intr 1 2 3").is_none());
        let here = MachineTimes::read();
        assert!(here.total > 0 && here.busy <= here.total, "{here:?}");
    }
}
