//! CPU time by role, read from /proc.
//!
//! Client and in-process server run on separate tokio runtimes whose threads are named
//! [`CLIENT_THREAD_PREFIX`] and [`SERVER_THREAD_PREFIX`]; summing `/proc/self/task/*/schedstat`
//! (nanoseconds on CPU, user + system, per thread) by name prefix splits one process's CPU by role
//! with nanosecond resolution, where `stat`'s utime/stime only count 10 ms ticks. A server in
//! another process (`--server-pid`) and a broker (beam.smp, Kafka's java) are read the same way over
//! `/proc/<pid>/task/*`. Threads that exit inside a window take their time with them; tokio's
//! worker threads live as long as the runtime, so this loses at most short-lived blocking threads.

use std::fs;
use std::path::Path;

/// Name prefix of the load generator's threads (the client runtime's workers, which also pace the
/// open loop).
pub const CLIENT_THREAD_PREFIX: &str = "pb-client";
/// Name prefix of the in-process server runtime's threads.
pub const SERVER_THREAD_PREFIX: &str = "pb-server";

fn task_cpu_ns(task: &Path) -> Option<u64> {
    if let Ok(text) = fs::read_to_string(task.join("schedstat")) {
        return text.split_whitespace().next()?.parse().ok();
    }
    // Kernels without CONFIG_SCHED_INFO: fall back to utime + stime in clock ticks.
    stat_cpu_ns(task)
}

/// utime + stime of `dir/stat` (a task's, or a whole process's: then with its exited threads'),
/// ns, at the clock tick's resolution (10 ms).
fn stat_cpu_ns(dir: &Path) -> Option<u64> {
    let stat = fs::read_to_string(dir.join("stat")).ok()?;
    let after_comm = &stat[stat.rfind(')')? + 2..];
    let fields: Vec<&str> = after_comm.split_whitespace().collect();
    let ticks: u64 = fields.get(11)?.parse::<u64>().ok()? + fields.get(12)?.parse::<u64>().ok()?;
    Some(ticks * 1_000_000_000 / clock_ticks_per_s())
}

pub(crate) fn clock_ticks_per_s() -> u64 {
    // SAFETY: sysconf has no preconditions.
    let ticks = unsafe { libc::sysconf(libc::_SC_CLK_TCK) };
    if ticks > 0 {
        ticks as u64
    } else {
        100
    }
}

fn sum_tasks(proc_dir: &Path, keep: impl Fn(&str) -> bool) -> Option<u64> {
    sum_over_tasks(proc_dir, keep, task_cpu_ns)
}

/// The thread directories of `proc_dir`. Listing `task/` while other threads of the process exit
/// can skip live ones (the kernel resumes a listing by position), which read as a counter running
/// backwards; a listing shorter than the thread count in `status` is therefore taken again.
fn task_dirs(proc_dir: &Path) -> Option<Vec<std::path::PathBuf>> {
    let threads = || {
        let status = fs::read_to_string(proc_dir.join("status")).ok()?;
        status.lines().find_map(|l| l.strip_prefix("Threads:")?.trim().parse::<usize>().ok())
    };
    let mut listed = Vec::new();
    for _ in 0..5 {
        let expected = threads();
        listed = fs::read_dir(proc_dir.join("task")).ok()?.flatten().map(|t| t.path()).collect();
        if expected.is_none_or(|n| listed.len() >= n) {
            break;
        }
    }
    Some(listed)
}

/// Sums `read` over the threads of `proc_dir` whose name `keep` accepts.
fn sum_over_tasks(proc_dir: &Path, keep: impl Fn(&str) -> bool, read: impl Fn(&Path) -> Option<u64>) -> Option<u64> {
    let mut total = 0;
    for path in task_dirs(proc_dir)? {
        let comm = fs::read_to_string(path.join("comm")).unwrap_or_default();
        if keep(comm.trim_end()) {
            total += read(&path).unwrap_or(0);
        }
    }
    Some(total)
}

/// CPU nanoseconds of this process's threads whose name starts with `prefix`.
pub fn own_threads_cpu_ns(prefix: &str) -> u64 {
    sum_tasks(Path::new("/proc/self"), |name| name.starts_with(prefix)).unwrap_or(0)
}

/// Context switches (voluntary and not) of this process's threads whose name starts with
/// `prefix`. A thread that sleeps between calls and wakes for each is switched in once per call;
/// a hand-off between two threads per call costs two.
pub fn own_threads_context_switches(prefix: &str) -> u64 {
    let switches = |task: &Path| {
        let status = fs::read_to_string(task.join("status")).ok()?;
        let field =
            |name: &str| status.lines().find_map(|l| l.strip_prefix(name)?.trim().parse::<u64>().ok()).unwrap_or(0);
        Some(field("voluntary_ctxt_switches:") + field("nonvoluntary_ctxt_switches:"))
    };
    sum_over_tasks(Path::new("/proc/self"), |name| name.starts_with(prefix), switches).unwrap_or(0)
}

/// CPU nanoseconds of every thread of process `pid`, or `None` if it is gone.
pub fn process_cpu_ns(pid: u32) -> Option<u64> {
    sum_tasks(&Path::new("/proc").join(pid.to_string()), |_| true)
}

/// The whole process's CPU since it started, ns, the threads that have exited included: where
/// threads come and go within a window (a runtime's blocking pool, a broker's helpers), summing
/// the live ones ([`process_cpu_ns`]) loses the exited ones' time and can run backwards. This
/// process: `getrusage` (µs); another: `/proc/<pid>/stat` (10 ms ticks).
pub fn process_total_cpu_ns(pid: u32) -> Option<u64> {
    if pid == std::process::id() {
        // SAFETY: getrusage writes one rusage into the zeroed struct it is given.
        let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
        if unsafe { libc::getrusage(libc::RUSAGE_SELF, &mut usage) } != 0 {
            return None;
        }
        let ns = |t: libc::timeval| t.tv_sec as u64 * 1_000_000_000 + t.tv_usec as u64 * 1000;
        return Some(ns(usage.ru_utime) + ns(usage.ru_stime));
    }
    stat_cpu_ns(&Path::new("/proc").join(pid.to_string()))
}

/// The pid of a child of `parent` whose name is one of `names`, if any. A launcher script (such
/// as `rabbitmq-server`) keeps its own pid while the broker's work happens in a child
/// (`beam.smp`), so CPU must be read from the child.
pub fn find_child(parent: u32, names: &[&str]) -> Option<u32> {
    let entries = fs::read_dir("/proc").ok()?;
    entries.flatten().find_map(|e| {
        let pid: u32 = e.file_name().to_str()?.parse().ok()?;
        let stat = fs::read_to_string(e.path().join("stat")).ok()?;
        // `pid (comm) state ppid ...`: comm may contain spaces, so split after the last ')'.
        let (head, tail) = stat.rsplit_once(')')?;
        let comm = head.split_once('(')?.1;
        let ppid: u32 = tail.split_whitespace().nth(1)?.parse().ok()?;
        (ppid == parent && names.contains(&comm)).then_some(pid)
    })
}

/// The `comm` (executable name, as the kernel truncates it) of process `pid`.
pub fn comm(pid: u32) -> Option<String> {
    fs::read_to_string(format!("/proc/{pid}/comm")).ok().map(|c| c.trim_end().to_owned())
}

/// CPU nanoseconds of this process's threads named neither `pb-client*` nor `pb-server*`: the
/// main thread and threads that client libraries start themselves (librdkafka's `rdk:*`, lapin's
/// I/O threads), which cannot be attributed to client or worker when both live in this process.
pub fn other_threads_cpu_ns() -> u64 {
    sum_tasks(Path::new("/proc/self"), |name| {
        !name.starts_with(CLIENT_THREAD_PREFIX) && !name.starts_with(SERVER_THREAD_PREFIX)
    })
    .unwrap_or(0)
}

/// CPU nanoseconds by role at one instant.
#[derive(Debug, Clone, Copy, Default)]
pub struct CpuSnapshot {
    /// Client threads.
    pub client_ns: u64,
    /// This process's other threads (see [`other_threads_cpu_ns`]).
    pub other_ns: u64,
    /// Server: in-process threads, or the `--server-pid` process.
    pub server_ns: Option<u64>,
    /// Broker process.
    pub broker_ns: Option<u64>,
}

/// Which CPU to read for the server and broker roles.
#[derive(Debug, Clone, Default)]
pub struct CpuSources {
    /// Read the server from this process's `pb-server` threads.
    pub server_in_process: bool,
    /// Read the server from this pid instead.
    pub server_pid: Option<u32>,
    /// Broker pid, for broker arms.
    pub broker_pid: Option<u32>,
    /// Other processes of the suite's own that run beside the window without being one of its
    /// roles (the local brokers a direct arm does not use): their CPU is known, not foreign.
    pub suite_pids: Vec<u32>,
}

impl CpuSources {
    /// Takes a snapshot.
    pub fn snapshot(&self) -> CpuSnapshot {
        let server_ns = match (self.server_pid, self.server_in_process) {
            (Some(pid), _) => process_cpu_ns(pid),
            (None, true) => Some(own_threads_cpu_ns(SERVER_THREAD_PREFIX)),
            (None, false) => None,
        };
        CpuSnapshot {
            client_ns: own_threads_cpu_ns(CLIENT_THREAD_PREFIX),
            other_ns: other_threads_cpu_ns(),
            server_ns,
            broker_ns: self.broker_pid.and_then(process_cpu_ns),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::{Duration, Instant};

    /// Known answer: a thread that spins 100 ms and exits leaves its time in the process's total
    /// (getrusage), and `/proc/self/stat` reads the same total at its 10 ms ticks.
    #[test]
    fn a_process_total_keeps_the_time_of_threads_that_exited() {
        let me = std::process::id();
        let before = process_total_cpu_ns(me).unwrap();
        std::thread::spawn(|| {
            let started = Instant::now();
            while started.elapsed() < Duration::from_millis(100) {
                std::hint::spin_loop();
            }
        })
        .join()
        .unwrap();
        let after = process_total_cpu_ns(me).unwrap();
        assert!(after - before >= 80_000_000, "{} ms", (after - before) / 1_000_000);
        let ticks = stat_cpu_ns(Path::new("/proc/self")).unwrap();
        let now = process_total_cpu_ns(me).unwrap();
        assert!(ticks.abs_diff(now) < 30_000_000, "stat {ticks} ns, getrusage {now} ns");
    }

    /// The calling thread's CPU time as the kernel's per-thread clock gives it: the known answer
    /// the /proc counters must agree with.
    fn own_clock_ns() -> u64 {
        let mut ts = libc::timespec { tv_sec: 0, tv_nsec: 0 };
        // SAFETY: ts is a valid out-pointer; CLOCK_THREAD_CPUTIME_ID needs nothing else.
        unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut ts) };
        ts.tv_sec as u64 * 1_000_000_000 + ts.tv_nsec as u64
    }

    /// Runs `work` on a thread named `name`, reading [`own_threads_cpu_ns`] from outside around
    /// it; returns (counter ns, the thread's own clock ns, wall s).
    fn measure(name: &'static str, work: fn(Duration), span: Duration) -> (u64, u64, f64) {
        let (ready_tx, ready_rx) = std::sync::mpsc::channel();
        let (go_tx, go_rx) = std::sync::mpsc::channel::<()>();
        let worker = std::thread::Builder::new()
            .name(name.to_owned())
            .spawn(move || {
                ready_tx.send(()).unwrap();
                go_rx.recv().unwrap();
                let start = own_clock_ns();
                work(span);
                own_clock_ns() - start
            })
            .unwrap();
        ready_rx.recv().unwrap();
        let before = own_threads_cpu_ns(name);
        let started = Instant::now();
        go_tx.send(()).unwrap();
        // Read while the thread still runs (a counter that only moves when a thread sleeps or
        // exits would read low here), just before it ends.
        std::thread::sleep(span.saturating_sub(Duration::from_millis(20)));
        let during = own_threads_cpu_ns(name) - before;
        let wall = started.elapsed().as_secs_f64();
        let own = worker.join().unwrap();
        (during, own, wall)
    }

    fn spin(span: Duration) {
        let t = Instant::now();
        while t.elapsed() < span {
            std::hint::spin_loop();
        }
    }

    fn half_busy(span: Duration) {
        let t = Instant::now();
        while t.elapsed() < span {
            spin(Duration::from_millis(1));
            std::thread::sleep(Duration::from_millis(1));
        }
    }

    /// A spinning thread reads one core, and a thread busy 1 ms in every 2 reads half of one: each
    /// against the thread's own CPU clock within 5 % (the core figures also depend on what else
    /// the machine runs, so they are printed, and bounded loosely).
    #[test]
    fn cpu_counters_read_a_spinning_and_a_half_busy_thread() {
        let span = Duration::from_millis(600);
        for (name, work, cores_expected) in
            [("pb-kat-spin", spin as fn(Duration), 1.0), ("pb-kat-half", half_busy as fn(Duration), 0.5)]
        {
            let (counter_ns, own_ns, wall_s) = measure(name, work, span);
            // The counter was read 20 ms before the end; the own clock covers the whole span.
            let own_until_read = own_ns as f64 * (wall_s / (wall_s + 0.02)).min(1.0);
            let cores = counter_ns as f64 / 1e9 / wall_s;
            eprintln!("{name}: counter {counter_ns} ns, own clock {own_ns} ns, {cores:.3} cores over {wall_s:.3} s");
            assert!(
                (counter_ns as f64 - own_until_read).abs() <= 0.05 * own_until_read + 2e6,
                "{name}: /proc counter {counter_ns} ns vs the thread's own clock {own_until_read:.0} ns"
            );
            assert!(cores <= cores_expected * 1.05 + 0.02, "{name}: {cores:.3} cores, more than it can use");
            assert!(cores >= cores_expected * 0.5, "{name}: {cores:.3} cores, far below {cores_expected}");
        }
    }
}
