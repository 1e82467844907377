//! Where the client and the server run: named, optionally pinned tokio runtimes for `run`,
//! `serve` and the known-answer tests, the default placement (disjoint halves of the allowed
//! CPUs), and a one-line description of it (recorded in results so core sharing is never
//! unannounced).

use std::str::FromStr;

/// A CPU list as `taskset` takes it: `0`, `0,1` or `0-1`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CpuList(pub Vec<usize>);

impl FromStr for CpuList {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        let mut cpus = Vec::new();
        for part in s.split(',') {
            let bad = || format!("invalid CPU list {s:?}: expected e.g. 0, 0,1 or 0-1");
            match part.split_once('-') {
                Some((a, b)) => {
                    let (a, b): (usize, usize) = (a.parse().map_err(|_| bad())?, b.parse().map_err(|_| bad())?);
                    cpus.extend(a..=b);
                }
                None => cpus.push(part.parse().map_err(|_| bad())?),
            }
        }
        Ok(CpuList(cpus))
    }
}

fn pin_current_thread(cpus: &[usize]) {
    // SAFETY: a zeroed cpu_set_t is valid; CPU_SET writes within it; sched_setaffinity(0, ...)
    // only affects the calling thread.
    unsafe {
        let mut set: libc::cpu_set_t = std::mem::zeroed();
        for &cpu in cpus {
            libc::CPU_SET(cpu, &mut set);
        }
        if libc::sched_setaffinity(0, std::mem::size_of::<libc::cpu_set_t>(), &set) != 0 {
            tracing::warn!("could not pin thread to CPUs {cpus:?}");
        }
    }
}

/// A multi-threaded runtime whose threads are named `prefix` (so /proc can attribute their CPU)
/// and, with `cpus`, pinned.
pub fn runtime(prefix: &str, threads: usize, cpus: Option<CpuList>) -> crate::Result<tokio::runtime::Runtime> {
    let mut builder = tokio::runtime::Builder::new_multi_thread();
    builder.worker_threads(threads.max(1)).thread_name(prefix).enable_all();
    if let Some(CpuList(cpus)) = cpus.filter(|c| !c.0.is_empty()) {
        builder.on_thread_start(move || pin_current_thread(&cpus));
    }
    builder.build().map_err(|e| crate::Error::io(format!("start the {prefix} runtime"), e))
}

/// One line stating where client and server ran.
pub fn describe(
    external: bool,
    client: &[usize],
    server: &[usize],
    client_threads: usize,
    server_threads: usize,
) -> String {
    let cores = std::thread::available_parallelism().map_or(0, |n| n.get());
    let side =
        |cpus: &[usize]| if cpus.is_empty() { "unpinned".to_owned() } else { format!("pinned to CPUs {cpus:?}") };
    if external {
        format!("client {client_threads} thread(s) {}; server external (--target)", side(client))
    } else {
        format!(
            "same host, {cores} cores: client {client_threads} thread(s) {}, server {server_threads} thread(s) {}; {}",
            side(client),
            side(server),
            if !client.is_empty() && !server.is_empty() && client.iter().all(|c| !server.contains(c)) {
                "no shared cores"
            } else {
                "client and server may share cores"
            }
        )
    }
}

/// The default placement: client and in-process server on disjoint halves of `allowed`, so neither
/// steals the other's core and busy shares have a fixed denominator. `None` with an external
/// server or a single CPU.
pub fn default_pinning(allowed: &[usize], external: bool) -> Option<(CpuList, CpuList)> {
    if external || allowed.len() < 2 {
        return None;
    }
    let (client, server) = allowed.split_at(allowed.len() / 2);
    Some((CpuList(client.to_vec()), CpuList(server.to_vec())))
}

/// The CPUs this process may run on.
pub fn allowed_cpus() -> Vec<usize> {
    // SAFETY: a zeroed cpu_set_t is valid; sched_getaffinity(0, ...) fills it for this thread.
    unsafe {
        let mut set: libc::cpu_set_t = std::mem::zeroed();
        if libc::sched_getaffinity(0, std::mem::size_of::<libc::cpu_set_t>(), &mut set) != 0 {
            return (0..std::thread::available_parallelism().map_or(1, |n| n.get())).collect();
        }
        (0..libc::CPU_SETSIZE as usize).filter(|&cpu| libc::CPU_ISSET(cpu, &set)).collect()
    }
}
