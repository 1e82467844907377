//! The environment a result was produced in: git commit (embedded at build time), toolchain, CPU,
//! kernel. Every probe
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

/// The commit the binary was built from, embedded at compile time by `build.rs` (`+dirty` when its
/// sources differed from that commit): the code that measured, not the tree at the end of a run.
pub const GIT_COMMIT: &str = match option_env!("PAYBENCH_GIT_COMMIT") {
    Some(commit) => commit,
    None => "unknown",
};

fn cpu_model() -> Option<String> {
    let info = std::fs::read_to_string("/proc/cpuinfo").ok()?;
    info.lines().find(|l| l.starts_with("model name")).and_then(|l| l.split_once(':')).map(|(_, v)| v.trim().to_owned())
}

/// Collects the environment; `brokers` come from the arms that connected to one.
pub fn collect(brokers: Vec<BrokerMeta>) -> Environment {
    let read = |p: &str| std::fs::read_to_string(p).ok().map(|s| s.trim().to_owned());
    Environment {
        git_commit: GIT_COMMIT.to_owned(),
        rustc_version: unknown(command_line("rustc", &["-V"])),
        paybench_version: env!("CARGO_PKG_VERSION").to_owned(),
        cpu_model: unknown(cpu_model()),
        cpu_cores: std::thread::available_parallelism().map_or(0, |n| n.get()),
        kernel: unknown(read("/proc/sys/kernel/osrelease")),
        hostname: unknown(read("/proc/sys/kernel/hostname")),
        brokers,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_embedded_commit_is_the_checkout_it_was_built_from() {
        let (commit, dirty) = GIT_COMMIT.split_once('+').map_or((GIT_COMMIT, None), |(c, d)| (c, Some(d)));
        assert!(dirty.is_none_or(|d| d == "dirty"), "{GIT_COMMIT}");
        match command_line("git", &["rev-parse", "HEAD"]) {
            // Built and tested in the same checkout: a commit made since would have rebuilt it.
            Some(head) => assert_eq!(commit, head, "embedded {GIT_COMMIT}"),
            None => assert_eq!(GIT_COMMIT, "unknown"),
        }
    }
}
