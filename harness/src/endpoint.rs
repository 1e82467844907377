//! Endpoints as text: `host:port`, a bootstrap list `host:port,host:port`, or a URL
//! (`amqp://user:pass@host:port/vhost`, `nats://host:port`). Shared by transports, brokers and
//! the load generator, so each parses them one way.

use std::net::{SocketAddr, ToSocketAddrs};

use crate::{Error, Result};

/// Replaces the password of a URL (`amqp://user:secret@host/`) with `***`.
pub fn redact(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_owned();
    };
    let (authority, path) = rest.split_once('/').map_or((rest, None), |(a, p)| (a, Some(p)));
    let Some((userinfo, host)) = authority.rsplit_once('@') else {
        return url.to_owned();
    };
    let user = userinfo.split_once(':').map_or(userinfo, |(u, _)| u);
    let path = path.map(|p| format!("/{p}")).unwrap_or_default();
    format!("{scheme}://{user}:***@{host}{path}")
}

/// The `host[:port]` parts of an endpoint, without scheme, credentials or path.
fn authorities(endpoint: &str) -> Vec<&str> {
    let rest = endpoint.split_once("://").map_or(endpoint, |(_, r)| r);
    rest.split(',')
        .map(|part| {
            let part = part.trim();
            let authority = part.split('/').next().unwrap_or(part);
            authority.rsplit_once('@').map_or(authority, |(_, host)| host)
        })
        .filter(|a| !a.is_empty())
        .collect()
}

/// The port of the endpoint's first host, or `default_port` when it names none.
pub fn port(endpoint: &str, default_port: Option<u16>) -> Result<u16> {
    let first = authorities(endpoint).into_iter().next().unwrap_or_default();
    match first.rsplit_once(':').map(|(_, p)| p.parse::<u16>()) {
        Some(Ok(port)) => Ok(port),
        Some(Err(_)) => Err(Error::Config(format!("endpoint {}: bad port", redact(endpoint)))),
        None => default_port
            .ok_or_else(|| Error::Config(format!("endpoint {} names no port and has no default", redact(endpoint)))),
    }
}

/// Every socket address of the endpoint's hosts, ports defaulting to `default_port`.
pub fn socket_addrs(endpoint: &str, default_port: u16) -> Result<Vec<SocketAddr>> {
    let bad = |why: &str| Error::Config(format!("bad endpoint {}: {why}", redact(endpoint)));
    let mut addrs = Vec::new();
    for host in authorities(endpoint) {
        let host = if host.contains(':') { host.to_owned() } else { format!("{host}:{default_port}") };
        addrs.extend(host.to_socket_addrs().map_err(|e| bad(&e.to_string()))?);
    }
    if addrs.is_empty() {
        return Err(bad("no host:port in it"));
    }
    Ok(addrs)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn redacts_the_password_only() {
        assert_eq!(redact("amqp://guest:secret@10.0.0.1:5672/%2f"), "amqp://guest:***@10.0.0.1:5672/%2f");
        assert_eq!(redact("amqp://127.0.0.1:5673"), "amqp://127.0.0.1:5673");
        assert_eq!(redact("127.0.0.1:9092"), "127.0.0.1:9092");
    }

    #[test]
    fn ports_come_from_the_endpoint_or_the_given_default_never_a_guess() {
        assert_eq!(port("127.0.0.1:50051", None).unwrap(), 50051);
        assert_eq!(port("amqp://u:p@127.0.0.1:5673/%2f", Some(5672)).unwrap(), 5673);
        assert_eq!(port("amqp://localhost", Some(5672)).unwrap(), 5672);
        assert_eq!(port("127.0.0.1:9092,127.0.0.1:9093", None).unwrap(), 9092);
        assert_eq!(port("nats://127.0.0.1:4223", Some(4222)).unwrap(), 4223);
        let e = port("nats://somewhere", None).unwrap_err().to_string();
        assert!(e.contains("somewhere") && e.contains("no port"), "{e}");
    }

    #[test]
    fn socket_addresses_default_the_port() {
        let addrs = socket_addrs("amqp://u:p@127.0.0.1/%2f", 5672).unwrap();
        assert_eq!(addrs[0].port(), 5672);
        let addrs = socket_addrs("127.0.0.1:9092, 127.0.0.1:9093", 9092).unwrap();
        assert_eq!(addrs.len(), 2);
    }
}
