//! The binary's edge: the only place that reads broker endpoints and arm tuning from the
//! environment (`AMQP_URL`, `KAFKA_BROKERS`, `NATS_URL`, `PAYBENCH_<FAMILY>_<OPTION>`) and from
//! flags, and hands them to the library as data.

use std::path::PathBuf;

use paybench::brokers::{self, Endpoints};
use paybench::transport::Settings;

/// Broker endpoints and per-family option defaults, shared by `run`, `serve` and `brokers`.
#[derive(Debug, Clone, clap::Args)]
pub(crate) struct ArmEnv {
    /// A broker's endpoint as NAME=ENDPOINT (repeatable), e.g. `nats=nats://10.0.0.5:4222`.
    /// Brokers: rabbitmq, kafka, nats. Default: AMQP_URL, KAFKA_BROKERS, NATS_URL, else the
    /// suite's own local brokers (`paybench brokers up`).
    #[arg(long = "broker", value_name = "NAME=ENDPOINT")]
    brokers: Vec<String>,
    /// Per-family option defaults, a TOML file with one table per family (`[kafka]
    /// fetch_wait_max_ms = 1`). PAYBENCH_<FAMILY>_<OPTION> variables override it.
    #[arg(long, value_name = "FILE")]
    settings: Option<PathBuf>,
    /// Prefix of every queue, topic, subject and consumer-group name of the broker arms
    /// (`NS.payments.authorize`), so that runs and other clients sharing a broker never take each
    /// other's requests. Letters, digits, `-` and `_`. Default: PAYBENCH_NAMESPACE, else none.
    #[arg(long, value_name = "NS")]
    namespace: Option<String>,
}

impl ArmEnv {
    /// Every broker's endpoint: `--broker`, else its environment variable, else the local one.
    pub(crate) fn endpoints(&self) -> anyhow::Result<Endpoints> {
        let mut endpoints = brokers::endpoints(|var| std::env::var(var).ok());
        for assignment in &self.brokers {
            let (name, endpoint) = brokers::parse_assignment(assignment)?;
            endpoints.insert(name, endpoint);
        }
        Ok(endpoints)
    }

    /// The broker namespace (`--namespace`, else `PAYBENCH_NAMESPACE`), checked; empty for none.
    pub(crate) fn namespace(&self) -> anyhow::Result<String> {
        let namespace = self.namespace.clone().or_else(|| std::env::var("PAYBENCH_NAMESPACE").ok());
        match namespace.filter(|ns| !ns.is_empty()) {
            Some(ns) => {
                paybench::transport::check_namespace(&ns)?;
                Ok(ns)
            }
            None => Ok(String::new()),
        }
    }

    /// The same `--broker` flags and settings file, and the run's checked `namespace`, as flags of
    /// a `paybench serve` child (which inherits the environment: AMQP_URL and friends reach it
    /// that way).
    pub(crate) fn serve_args(&self, namespace: &str) -> Vec<String> {
        let mut args: Vec<String> = self.brokers.iter().flat_map(|b| ["--broker".to_owned(), b.clone()]).collect();
        if let Some(path) = &self.settings {
            args.extend(["--settings".to_owned(), path.display().to_string()]);
        }
        if !namespace.is_empty() {
            args.extend(["--namespace".to_owned(), namespace.to_owned()]);
        }
        args
    }

    /// The settings file (if any) with the environment's overrides applied.
    pub(crate) fn settings(&self) -> anyhow::Result<Settings> {
        let base = match &self.settings {
            Some(path) => Settings::load(path)?,
            None => Settings::default(),
        };
        Ok(base.with_env_overrides(std::env::vars())?)
    }
}
