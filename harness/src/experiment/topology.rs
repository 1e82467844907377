//! What runs where for one arm of an experiment: a direct server (one `paybench serve` process),
//! or a broker arm's queue group of W worker processes, each with its arm's `workers`
//! connections. Every process is supervised ([`Supervised`]); events act on all of them, and
//! `scale` starts or stops processes until the group has its new size.
//!
//! The hops a call crosses follow from it: client → server for a direct arm; client → broker →
//! one worker of the group → broker → client for a broker arm. N direct backends would need a
//! load balancer in front (an L4 proxy pins a gRPC connection to one backend): not built yet, so
//! a direct arm has one server and cannot scale.

use std::path::PathBuf;

use crate::supervise::{ProcessSpec, Signal, Supervised};
use crate::{Error, Result};

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
            ready_prefix: "serving ".to_owned(),
            ready_within: Duration::from_secs(5),
            log: dir.join("sleeper.log"),
        }
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
