//! The one list of transport families, and the only code that knows them by name.
//!
//! Each family is one module under `transport/` with the same parts in the same order (options,
//! client, server or worker, tests) and one line below. Everything else in paybench handles arms
//! as data ([`Arm`]): a family, a codec and options. Adding a family is one new module plus one
//! line here: see `docs/adding-a-transport.md`.

use futures::future::BoxFuture;

use super::arm::{Arm, OptionSpec};
use super::{amqp, grpc, inproc, kafka, nats, rest, sim, tcp};
use super::{AnyClient, ClientConfig, ServerConfig, ServerHandle};
use crate::codec::Codec;
use crate::Result;

/// Starts a family's server (direct arms) or worker pool (broker arms) for an arm.
pub type ServeFn = fn(&Arm, &ServerConfig) -> BoxFuture<'static, Result<ServerHandle>>;
/// Connects a family's client for an arm to an endpoint (`host:port` or a broker URL).
pub type ConnectFn = fn(&Arm, &str, &ClientConfig) -> BoxFuture<'static, Result<AnyClient>>;
/// The client-library settings an arm's options resolve to, in a namespace, by name (recorded in
/// results next to the broker).
pub type SettingsFn = fn(&Arm, &str) -> Result<Vec<(&'static str, String)>>;

/// A transport family: what the registry knows about one module.
#[derive(Debug)]
pub struct Family {
    /// The family's name in scenario tables and settings files (`grpc`, `http`, `amqp`).
    pub name: &'static str,
    /// The first token of its arms' canonical names (`rest` for `http`, so `rest-h2` stays).
    pub stem: &'static str,
    /// The module that implements it, for docs and messages.
    pub module: &'static str,
    /// The body codec its arms use unless told otherwise.
    pub default_codec: Codec,
    /// The broker it goes through, by the name `brokers/` knows it (`rabbitmq`, `kafka`, `nats`).
    pub broker: Option<&'static str>,
    /// The options it accepts, in canonical-name order.
    pub options: &'static [OptionSpec],
    /// Its standard arms by canonical name: what benches and tests run when not told otherwise.
    pub standard: &'static [&'static str],
    /// How its server or workers start.
    pub serve: ServeFn,
    /// How its client connects.
    pub connect: ConnectFn,
    /// The library settings behind its figures, where its options do not name them one to one.
    pub settings: Option<SettingsFn>,
}

/// Every family, direct ones first (the order of `paybench` listings).
#[rustfmt::skip] // one line per family: the registry reads as a table
pub static FAMILIES: &[Family] = &[
    Family { name: "inproc", stem: "inproc", module: "transport::inproc", default_codec: Codec::Protobuf, broker: None, options: inproc::OPTIONS, standard: &["inproc"], serve: inproc::serve_arm, connect: inproc::connect_arm, settings: None },
    Family { name: "sim", stem: "sim", module: "transport::sim", default_codec: Codec::Protobuf, broker: None, options: sim::OPTIONS, standard: &["sim"], serve: sim::serve_arm, connect: sim::connect_arm, settings: None },
    Family { name: "tcp", stem: "tcp", module: "transport::tcp", default_codec: Codec::Protobuf, broker: None, options: tcp::OPTIONS, standard: &["tcp"], serve: tcp::serve_arm, connect: tcp::connect_arm, settings: None },
    Family { name: "grpc", stem: "grpc", module: "transport::grpc", default_codec: Codec::Protobuf, broker: None, options: grpc::OPTIONS, standard: &["grpc", "grpc-json"], serve: grpc::serve_arm, connect: grpc::connect_arm, settings: None },
    Family { name: "http", stem: "rest", module: "transport::rest", default_codec: Codec::Json, broker: None, options: rest::OPTIONS, standard: &["rest", "rest-h2", "rest-proto"], serve: rest::serve_arm, connect: rest::connect_arm, settings: None },
    Family { name: "amqp", stem: "amqp", module: "transport::amqp", default_codec: Codec::Protobuf, broker: Some("rabbitmq"), options: amqp::OPTIONS, standard: &["amqp", "amqp-json"], serve: amqp::serve_arm, connect: amqp::connect_arm, settings: None },
    Family { name: "kafka", stem: "kafka", module: "transport::kafka", default_codec: Codec::Protobuf, broker: Some("kafka"), options: kafka::OPTIONS, standard: &["kafka", "kafka-json"], serve: kafka::serve_arm, connect: kafka::connect_arm, settings: Some(kafka::settings_arm) },
    Family { name: "nats", stem: "nats", module: "transport::nats", default_codec: Codec::Protobuf, broker: Some("nats"), options: nats::OPTIONS, standard: &["nats", "nats-json"], serve: nats::serve_arm, connect: nats::connect_arm, settings: None },
];

/// The arms the claim under test and its decomposition are about, by canonical name. The report
/// refers to them only through these constants.
pub mod claim {
    /// The claim's "JSON": REST, JSON, HTTP/1.1.
    pub const REST: &str = "rest";
    /// REST with JSON over HTTP/2: the HTTP version changed, the format held.
    pub const REST_H2: &str = "rest-h2";
    /// REST with a protobuf body over HTTP/1.1: the format changed, the HTTP version held.
    pub const REST_PROTO: &str = "rest-proto";
    /// gRPC framing with a JSON body: the format changed under gRPC.
    pub const GRPC_JSON: &str = "grpc-json";
    /// The claim's "gRPC".
    pub const GRPC: &str = "grpc";
    /// The network floor every arm is compared with: bare frames on one TCP connection.
    pub const NETWORK_FLOOR: &str = "tcp";
    /// The generator's floor: the in-process arm's latency at a load point is what the generator
    /// and the business function cost with no transport, shown beside every other arm's.
    pub const GENERATOR_FLOOR: &str = "inproc";
    /// The arms of the decomposition, REST/JSON first: measured at the operating points by default.
    pub const CHAIN_ARMS: [&str; 5] = [REST, REST_H2, REST_PROTO, GRPC_JSON, GRPC];
}

/// How the arm's client holds connections, and the HTTP/2 settings its server announces, for a
/// run whose points keep at most `max_in_flight` calls outstanding (the report's fairness table).
/// The only place that knows which families pool and which multiplex.
pub fn connection_policy(arm: &Arm, max_in_flight: usize) -> (String, String) {
    let h2 = || {
        format!(
            "max concurrent streams {} (server), flow-control windows hyper's defaults",
            super::HTTP2_MAX_CONCURRENT_STREAMS
        )
    };
    match arm.family().name {
        "http" if arm.option("http").ok() == Some("2") => ("1 h2c connection, calls multiplexed".into(), h2()),
        "http" => {
            (format!("pool of at most {max_in_flight} HTTP/1.1 connections (one per call in flight)"), "—".into())
        }
        "grpc" => {
            let n = arm.option("channels").unwrap_or("1");
            (format!("{n} HTTP/2 connection(s), calls multiplexed round-robin"), h2())
        }
        "tcp" => ("1 TCP connection, calls multiplexed by id".into(), "—".into()),
        "inproc" | "sim" => ("none (in-process)".into(), "—".into()),
        _ => ("1 connection to the broker per client".into(), "—".into()),
    }
}

/// The family called `name`.
pub fn family(name: &str) -> Option<&'static Family> {
    FAMILIES.iter().find(|f| f.name == name)
}

/// The family whose canonical names start with `stem`.
pub fn family_by_stem(stem: &str) -> Option<&'static Family> {
    FAMILIES.iter().find(|f| f.stem == stem)
}

/// The family names, comma-separated, for messages.
pub fn family_names() -> String {
    FAMILIES.iter().map(|f| f.name).collect::<Vec<_>>().join(", ")
}

/// The standard arms, in listing order: every family's [`Family::standard`] names. `cargo bench`,
/// `paybench bench-table` and the tests run these.
pub fn standard_arms() -> Vec<Arm> {
    FAMILIES.iter().flat_map(|f| f.standard).filter_map(|name| Arm::parse(name).ok()).collect()
}

/// The standard arms that need no broker.
pub fn direct_arms() -> Vec<Arm> {
    standard_arms().into_iter().filter(|a| a.broker().is_none()).collect()
}

/// Starts the server or workers for `arm` on the current tokio runtime.
pub async fn serve(arm: &Arm, config: &ServerConfig) -> Result<ServerHandle> {
    (arm.family().serve)(arm, config).await
}

/// The library settings behind `arm`'s figures in `namespace` (empty for families without any).
pub fn client_settings(arm: &Arm, namespace: &str) -> Result<Vec<(&'static str, String)>> {
    arm.family().settings.map_or(Ok(Vec::new()), |settings| settings(arm, namespace))
}

/// Connects a client for `arm` to `endpoint` (a `host:port` or a broker URL).
pub async fn connect(arm: &Arm, endpoint: &str, config: &ClientConfig) -> Result<AnyClient> {
    (arm.family().connect)(arm, endpoint, config).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_and_stems_are_unique() {
        for (i, a) in FAMILIES.iter().enumerate() {
            for b in &FAMILIES[i + 1..] {
                assert_ne!(a.name, b.name);
                assert_ne!(a.stem, b.stem);
            }
        }
    }

    #[test]
    fn standard_arms_are_todays_arms_plus_sim_and_nats() {
        let names: Vec<String> = standard_arms().iter().map(|a| a.name().to_owned()).collect();
        assert_eq!(
            names,
            [
                "inproc",
                "sim",
                "tcp",
                "grpc",
                "grpc-json",
                "rest",
                "rest-h2",
                "rest-proto",
                "amqp",
                "amqp-json",
                "kafka",
                "kafka-json",
                "nats",
                "nats-json"
            ]
        );
    }
}
