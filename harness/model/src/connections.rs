//! How each family's client holds connections, and the HTTP/2 settings its server announces: the
//! report's fairness table, read from an arm's recorded family and options. The only place that
//! knows which families pool and which multiplex.

use std::collections::BTreeMap;

/// HTTP/2 `SETTINGS_MAX_CONCURRENT_STREAMS` every HTTP/2 server of the `paybench` crate announces.
/// axum's `serve` takes hyper's server default (200), which it does not let callers change; tonic
/// would announce no limit, so it is set to this value, and both servers offer a client the same
/// streams per connection (`direct_transports` reads the SETTINGS frame of each to check).
pub const HTTP2_MAX_CONCURRENT_STREAMS: u32 = 200;

/// The connections of an arm of `family` with `options`, and its server's HTTP/2 settings, for a
/// run whose points keep at most `max_in_flight` calls outstanding.
pub fn connection_policy(family: &str, options: &BTreeMap<String, String>, max_in_flight: usize) -> (String, String) {
    let h2 = || {
        format!("max concurrent streams {HTTP2_MAX_CONCURRENT_STREAMS} (server), flow-control windows hyper's defaults")
    };
    let option = |key: &str| options.get(key).map(String::as_str);
    match family {
        "http" if option("http") == Some("2") => ("1 h2c connection, calls multiplexed".into(), h2()),
        "http" => {
            (format!("pool of at most {max_in_flight} HTTP/1.1 connections (one per call in flight)"), "—".into())
        }
        "grpc" => {
            let n = option("channels").unwrap_or("1");
            (format!("{n} HTTP/2 connection(s), calls multiplexed round-robin"), h2())
        }
        "tcp" => ("1 TCP connection, calls multiplexed by id".into(), "—".into()),
        "inproc" | "sim" => ("none (in-process)".into(), "—".into()),
        _ => ("1 connection to the broker per client".into(), "—".into()),
    }
}
