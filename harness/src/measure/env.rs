//! The environment a result was produced in: git commit, toolchain, CPU, kernel. Every probe
//! degrades to `unknown` rather than failing the run.

use std::process::Command;

use crate::results::{BrokerMeta, Environment};

fn command_line(program: &str, args: &[&str]) -> Option<String> {
    let out = Command::new(program).args(args).output().ok()?;
    out.status.success().then(|| String::from_utf8_lossy(&out.stdout).trim().to_owned())
}

fn unknown(v: Option<String>) -> String {
    v.filter(|s| !s.is_empty()).unwrap_or_else(|| "unknown".to_owned())
}

fn git_commit() -> String {
    let Some(commit) = command_line("git", &["rev-parse", "HEAD"]) else {
        return "unknown".to_owned();
    };
    let dirty = command_line("git", &["status", "--porcelain", "--untracked-files=no"]).is_some_and(|s| !s.is_empty());
    if dirty {
        format!("{commit}+dirty")
    } else {
        commit
    }
}

fn cpu_model() -> Option<String> {
    let info = std::fs::read_to_string("/proc/cpuinfo").ok()?;
    info.lines().find(|l| l.starts_with("model name")).and_then(|l| l.split_once(':')).map(|(_, v)| v.trim().to_owned())
}

/// Collects the environment; `brokers` come from the arms that connected to one.
pub fn collect(brokers: Vec<BrokerMeta>) -> Environment {
    let read = |p: &str| std::fs::read_to_string(p).ok().map(|s| s.trim().to_owned());
    Environment {
        git_commit: git_commit(),
        rustc_version: unknown(command_line("rustc", &["-V"])),
        paybench_version: env!("CARGO_PKG_VERSION").to_owned(),
        cpu_model: unknown(cpu_model()),
        cpu_cores: std::thread::available_parallelism().map_or(0, |n| n.get()),
        kernel: unknown(read("/proc/sys/kernel/osrelease")),
        hostname: unknown(read("/proc/sys/kernel/hostname")),
        brokers,
    }
}
